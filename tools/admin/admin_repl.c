/*
 * admin_repl.c: onggi-admin replication, how far the cluster is from three copies of everything
 * (docs/architecture.md, "Anti-entropy"). Reads every device's partition summaries
 * (GET /<dev>/summaries: item count and hash sum per partition) in one parallel round and
 * compares each partition's primaries. The estimate of under-replicated items is, per partition,
 * the largest primary count minus the smallest, plus every item a device holds for a partition
 * it is not a primary of (a handoff copy not yet home). 0 means every primary of every partition
 * holds the same items and no handoff copy is left.
 */
#include "admin.h"
#include "node_client.h"
#include "ring.h"

#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define SUM_LEN 20 /* u32 part | u64 count | u64 digest, sorted by part */


/* The summary of part in a device's answer (entries sorted by part): 1 with *count / *digest, or
 * 0 when the device holds nothing of it. */
static int sum_find(const node_call_t *c, uint32_t part, uint64_t *count, uint64_t *digest)
{
    size_t lo = 0, hi = c->resp_len / SUM_LEN;
    *count = *digest = 0;
    while (lo < hi) {
        size_t mid = (lo + hi) / 2;
        const unsigned char *e = (const unsigned char *)c->resp_body + mid * SUM_LEN;
        uint32_t p = og_be32_get(e);
        if (p == part) {
            *count = og_be64_get(e + 4);
            *digest = og_be64_get(e + 12);
            return 1;
        }
        if (p < part)
            lo = mid + 1;
        else
            hi = mid;
    }
    return 0;
}

/* Compares partition part's primaries (ring indexes via ring_dev_at) and adds to the tallies.
 * Returns the partition's max - min primary count; *disagree = 1 when the summaries differ.
 * A partition with an unreachable primary is skipped (*unknown = 1). */
static uint64_t part_tally(const ring_t *ring, const node_call_t *calls, uint32_t part, admin_dev_tally_t *t,
                           int *disagree, int *unknown)
{
    const ring_dev_t *prims[RING_MAX_REPLICAS];
    size_t np = ring_primaries(ring, part, prims, RING_MAX_REPLICAS), idx[RING_MAX_REPLICAS];
    uint64_t cnt[RING_MAX_REPLICAS], dig[RING_MAX_REPLICAS], max = 0, min = UINT64_MAX;
    *disagree = *unknown = 0;
    for (size_t i = 0; i < np; i++) {
        for (idx[i] = 0; ring_dev_at(ring, idx[i]) != prims[i]; idx[i]++)
            ;
        const node_call_t *c = &calls[idx[i]];
        if (c->rc != 0 || c->status != 200) {
            *unknown = 1;
            return 0;
        }
        sum_find(c, part, &cnt[i], &dig[i]);
        max = cnt[i] > max ? cnt[i] : max;
        min = cnt[i] < min ? cnt[i] : min;
        *disagree |= cnt[i] != cnt[0] || dig[i] != dig[0];
    }
    for (size_t i = 0; i < np; i++) {
        t[idx[i]].disagree += (uint64_t)*disagree;
        t[idx[i]].missing += max - cnt[i];
    }
    return np ? max - min : 0;
}

/* Items devices hold for partitions they are not primaries of, added to each device's tally. */
static uint64_t handoff_tally(const ring_t *ring, const node_call_t *calls, size_t n, admin_dev_tally_t *t)
{
    uint64_t total = 0;
    for (size_t d = 0; d < n; d++) {
        if (calls[d].rc != 0 || calls[d].status != 200)
            continue;
        for (size_t off = 0; off + SUM_LEN <= calls[d].resp_len; off += SUM_LEN) {
            const unsigned char *e = (const unsigned char *)calls[d].resp_body + off;
            const ring_dev_t *prims[RING_MAX_REPLICAS];
            size_t np = ring_primaries(ring, og_be32_get(e), prims, RING_MAX_REPLICAS), i = 0;
            while (i < np && prims[i] != ring_dev_at(ring, d))
                i++;
            if (i == np) {
                t[d].handoff += og_be64_get(e + 4);
                total += og_be64_get(e + 4);
            }
        }
    }
    return total;
}

void admin_repl_tally(const ring_t *ring, const node_call_t *calls, size_t n, admin_dev_tally_t *t,
                      admin_repl_total_t *tot)
{
    int dis, unk;
    *tot = (admin_repl_total_t){.parts = 1ull << ring_part_power(ring)};
    for (uint64_t p = 0; p < tot->parts; p++) {
        tot->under += part_tally(ring, calls, (uint32_t)p, t, &dis, &unk);
        tot->disagree += (uint64_t)dis;
        tot->unknown += (uint64_t)unk;
    }
    tot->under += handoff_tally(ring, calls, n, t);
}

/* Device d's tally, or why it has none, as JSON. */
static json_t *repl_dev_json(const ring_dev_t *dev, const node_call_t *c, const admin_dev_tally_t *t)
{
    if (c->rc != 0 || c->status != 200)
        return json_pack("{s:s, s:s, s:b, s:s}", "addr", dev->addr, "name", dev->name, "up", 0, "error",
                         c->rc ? admin_strerror(c->rc) : "unexpected status");
    return json_pack("{s:s, s:s, s:b, s:I, s:I, s:I}", "addr", dev->addr, "name", dev->name, "up", 1,
                     "partitions_disagree", (json_int_t)t->disagree, "missing_items", (json_int_t)t->missing,
                     "handoff_items", (json_int_t)t->handoff);
}

/* Under --watch: 1 (after drawing the share of partitions in sync) while anything is left to
 * repair or a device does not answer; 0 once the final report is due. */
static int repl_watch_pending(const admin_opts_t *a, const node_call_t *calls, size_t n, const admin_repl_total_t *tot)
{
    int all_up = 1;
    for (size_t d = 0; d < n; d++)
        all_up &= calls[d].rc == 0 && calls[d].status == 200;
    if (!a->watch || (all_up && tot->under == 0 && tot->unknown == 0)) {
        admin_progress_end(a);
        return 0;
    }
    admin_progress(a, "repair: partitions in sync", tot->parts - tot->disagree - tot->unknown, tot->parts);
    return 1;
}

/* Prints the tallies (text or JSON); returns the exit code (1 when a device did not answer). */
static int repl_report(const admin_opts_t *a, const ring_t *ring, const node_call_t *calls, size_t n)
{
    admin_dev_tally_t *t = calloc(n ? n : 1, sizeof(*t));
    admin_repl_total_t tot;
    json_t *devs = json_array();
    int ret = 0;
    if (!t || !devs) {
        free(t);
        json_decref(devs);
        return admin_fail("replication", -ENOMEM);
    }
    admin_repl_tally(ring, calls, n, t, &tot);
    if (repl_watch_pending(a, calls, n, &tot)) {
        free(t);
        json_decref(devs);
        return ADMIN_AGAIN;
    }
    for (size_t d = 0; d < n; d++) {
        const ring_dev_t *dev = ring_dev_at(ring, d);
        json_t *j = repl_dev_json(dev, &calls[d], &t[d]);
        int up = json_is_true(json_object_get(j, "up"));
        ret |= !up;
        if (!a->json && !up)
            printf("%s/%s unreachable: %s\n", dev->addr, dev->name, json_string_value(json_object_get(j, "error")));
        else if (!a->json)
            printf("%s/%s partitions_disagree=%" PRIu64 " missing_items=%" PRIu64 " handoff_items=%" PRIu64 "\n",
                   dev->addr, dev->name, t[d].disagree, t[d].missing, t[d].handoff);
        json_array_append_new(devs, j);
    }
    free(t);
    if (a->json) {
        int rc = admin_json_print(json_pack("{s:o, s:{s:I, s:I, s:I, s:I}}", "devices", devs, "total", "partitions",
                                            (json_int_t)tot.parts, "disagree", (json_int_t)tot.disagree, "unknown",
                                            (json_int_t)tot.unknown, "under_replicated", (json_int_t)tot.under));
        return rc ? rc : ret;
    }
    json_decref(devs);
    printf("total partitions=%" PRIu64 " disagree=%" PRIu64 " unknown=%" PRIu64 " under_replicated=%" PRIu64 "\n",
           tot.parts, tot.disagree, tot.unknown, tot.under);
    return ret;
}

int admin_each_dev(const admin_opts_t *a, const char *what, const char *suffix,
                   int (*report)(const admin_opts_t *a, const ring_t *ring, const node_call_t *calls, size_t n))
{
    enum { PATH_LEN = 1 + RING_NAME_MAX + 16 };
    node_client_t *client = NULL;
    node_call_t *calls = NULL;
    char(*paths)[PATH_LEN] = NULL;
    ring_t *ring;
    int rc, ret = 1;

    if (strlen(suffix) >= 16)
        return admin_fail(what, OG_EINVAL);
    if ((rc = ring_load(a->ring, &ring)) != 0)
        return admin_fail(a->ring, rc);
    size_t n = ring_dev_count(ring);
    client = admin_client_new(a->ring, a->keys, 1);
    calls = calloc(n ? n : 1, sizeof(*calls));
    paths = calloc(n ? n : 1, sizeof(*paths));
    if (!client || !calls || !paths) {
        admin_fail(what, -ENOMEM);
        goto out_free;
    }
    for (size_t i = 0; i < n; i++) {
        const ring_dev_t *d = ring_dev_at(ring, i);
        snprintf(paths[i], PATH_LEN, "/%s%s", d->name, suffix);
        calls[i] = (node_call_t){.addr = d->addr, .method = "GET", .path = paths[i]};
    }
    node_call_many(client, calls, n);
    ret = report(a, ring, calls, n);
    for (size_t i = 0; i < n; i++)
        free(calls[i].resp_body);
out_free:
    free(paths);
    free(calls);
    node_client_free(client);
    ring_free(ring);
    return ret;
}

int admin_replication(const admin_opts_t *a, int argc, char **argv)
{
    return admin_watch(a, "replication", "/summaries", repl_report, argc, argv);
}
