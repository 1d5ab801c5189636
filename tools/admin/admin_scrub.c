/*
 * admin_scrub.c: onggi-admin scrub, the scrubbers' progress per device (docs/durability.md,
 * "Scrubbing"), from the "scrub" object of every device's GET /<dev>/stat in one parallel round.
 * Under --watch it redraws a progress line until no scrubber is in a pass (every running
 * scrubber is idle, waiting for its next interval).
 */
#include "admin.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>

/* Device i's entry: addr, name and the node's scrub object, or why there is none. */
static json_t *scrub_dev_json(const ring_dev_t *d, const node_call_t *c)
{
    json_t *stat = c->rc == 0 && c->status == 200 && c->resp_body ? json_loadb(c->resp_body, c->resp_len, 0, NULL)
                                                                    : NULL;
    json_t *scrub = json_object_get(stat, "scrub");
    json_t *e = json_is_object(scrub) ? json_pack("{s:s, s:s, s:O}", "addr", d->addr, "name", d->name, "scrub", scrub)
                                      : json_pack("{s:s, s:s, s:s}", "addr", d->addr, "name", d->name, "error",
                                                  c->rc ? admin_strerror(c->rc) : "no scrub state in the answer");
    json_decref(stat);
    return e;
}

/* Under --watch: 1 (after drawing the progress, 100 per device) while a device does not answer
 * or a running scrubber is in a pass; 0 once the final report is due. */
static int scrub_watch_pending(const admin_opts_t *a, json_t *devs)
{
    size_t i, n = json_array_size(devs);
    uint64_t done = 0;
    int pending = 0;
    json_t *e;
    json_array_foreach(devs, i, e)
    {
        json_t *s = json_object_get(e, "scrub");
        const char *phase = json_string_value(json_object_get(s, "phase"));
        int idle = s != NULL && (!json_is_true(json_object_get(s, "running")) || (phase && !strcmp(phase, "idle")));
        pending |= !idle;
        /* chunks are most of a pass: their share is 90, the records' check the rest */
        done += idle ? 100 : (uint64_t)(json_real_value(json_object_get(s, "chunk_progress")) * 90);
    }
    if (!a->watch || !pending) {
        admin_progress_end(a);
        return 0;
    }
    admin_progress(a, "scrub", done, 100 * n);
    return 1;
}

/* Prints every device's scrub state (text or JSON); the exit code (1 when a device did not answer). */
static int scrub_report(const admin_opts_t *a, const ring_t *ring, const node_call_t *calls, size_t n)
{
    json_t *devs = json_array(), *e;
    size_t i;
    int ret = 0;
    for (i = 0; devs && i < n; i++)
        if (json_array_append_new(devs, scrub_dev_json(ring_dev_at(ring, i), &calls[i])) != 0) {
            json_decref(devs);
            devs = NULL;
        }
    if (devs == NULL)
        return admin_fail("scrub", -ENOMEM);
    if (scrub_watch_pending(a, devs)) {
        json_decref(devs);
        return ADMIN_AGAIN;
    }
    json_array_foreach(devs, i, e) ret |= json_object_get(e, "error") != NULL;
    if (a->json) {
        int rc = admin_json_print(devs);
        return rc ? rc : ret;
    }
    json_array_foreach(devs, i, e)
    {
        json_t *s = json_object_get(e, "scrub");
        printf("%s/%s", json_string_value(json_object_get(e, "addr")), json_string_value(json_object_get(e, "name")));
        admin_print_fields(s ? s : e, "=", s ? 0 : 2);
    }
    json_decref(devs);
    return ret;
}

int admin_scrub(const admin_opts_t *a, int argc, char **argv)
{
    return admin_watch(a, "scrub", "/stat", scrub_report, argc, argv);
}
