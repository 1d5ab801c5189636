/*
 * cluster_devs.c: the state of every device of the ring, asked of the nodes now (the web
 * console's admin view, gateway/console).
 */
#include "cluster_int.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* A status page must answer even with a node frozen: each GET /<dev>/stat is bounded by this. */
#define CL_DEV_STAT_TIMEOUT_MS 2000

_Static_assert(sizeof(((cluster_dev_status_t *)0)->name) >= RING_NAME_MAX, "device names fit");
_Static_assert(sizeof(((cluster_dev_status_t *)0)->addr) >= RING_ADDR_MAX, "node addresses fit");

/* Copies device d's identity and call c's outcome into s, taking c's body (a malloc'd response
 * is moved, so cl_call_release no longer frees it). */
static void dev_status_fill(cluster_dev_status_t *s, const ring_dev_t *d, node_call_t *c)
{
    snprintf(s->name, sizeof(s->name), "%s", d->name);
    snprintf(s->addr, sizeof(s->addr), "%s", d->addr);
    s->zone = d->zone;
    s->weight = d->weight;
    s->up = c->rc == 0 && c->status == 200;
    s->skipped = c->rc == CL_ESKIPPED;
    s->error = c->rc != 0 ? og_strerror(c->rc) : c->status != 200 ? "unexpected status" : "";
    if (s->up && c->resp_body != NULL) {
        s->stat = c->resp_body;
        s->stat_len = c->resp_len;
        c->resp_body = NULL;
    }
}

int cluster_devs_status(cluster_t *cl, cluster_dev_status_t **out, size_t *n)
{
    enum { PATH_LEN = 1 + RING_NAME_MAX + sizeof("/stat") };
    ring_view_t v;
    ring_box_get(cl->box, &v);
    size_t nd = ring_dev_count(v.ring);
    int rc = -ENOMEM;

    cluster_dev_status_t *st = calloc(nd ? nd : 1, sizeof(*st));
    node_call_t *calls = calloc(nd ? nd : 1, sizeof(*calls));
    char(*paths)[PATH_LEN] = calloc(nd ? nd : 1, sizeof(*paths));
    if (!st || !calls || !paths)
        goto out_free;
    for (size_t i = 0; i < nd; i++) {
        const ring_dev_t *d = ring_dev_at(v.ring, i);
        snprintf(paths[i], PATH_LEN, "/%s/stat", d->name);
        calls[i] = (node_call_t){.addr = d->addr, .method = "GET", .path = paths[i],
                                 .resp_cap = 1u << 20, .timeout_ms = CL_DEV_STAT_TIMEOUT_MS};
    }
    cl_call_many(cl, calls, nd, NULL, 0, NULL, NULL);
    for (size_t i = 0; i < nd; i++) {
        dev_status_fill(&st[i], ring_dev_at(v.ring, i), &calls[i]);
        cl_call_release(&calls[i]);
    }
    *out = st;
    *n = nd;
    st = NULL;
    rc = 0;
out_free:
    free(st);
    free(paths);
    free(calls);
    ring_box_put(cl->box, &v);
    return rc;
}

void cluster_devs_status_free(cluster_dev_status_t *st, size_t n)
{
    for (size_t i = 0; st != NULL && i < n; i++)
        free(st[i].stat);
    free(st);
}
