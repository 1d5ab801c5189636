/*
 * cluster_chunk.c: chunk I/O (contract: cluster.h). Single chunks go through cl_op_t with its
 * handoffs; batches send one request per device for many chunks and leave what they could not
 * place or read to the single-chunk path.
 */
#include "cluster_int.h"

#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <xxhash.h>

static void cl_xxh3_hex(uint64_t h, char out[17])
{
    snprintf(out, 17, "%016" PRIx64, h);
}

int cluster_chunk_put(cluster_t *cl, const uint8_t id[32], const void *data, size_t len)
{
    char suffix[sizeof("/chunk/") + 64], xx[17];
    cl_op_t op;
    int rc;

    if (len > CL_CHUNK_MAX || (!data && len))
        return OG_EINVAL;
    memcpy(suffix, "/chunk/", 7);
    og_hex(id, 32, suffix + 7);
    cl_xxh3_hex(XXH3_64bits(data, len), xx);
    og_header_t hdr = {OG_STR_LIT("X-Onggi-Xxh3"), {xx, 16}};
    node_call_t tmpl = {.method = "PUT", .headers = &hdr, .num_headers = 1, .body = data, .body_len = len};
    if ((rc = cl_op_begin(cl, &op, id, 32, suffix, 7 + 64, &tmpl, 0)) != 0)
        goto out_end;
    cl_op_run(&op, cl_count_stored);
    rc = cl_count_stored(&op) >= cl->quorum ? 0 : OG_EQUORUM;
out_end:
    cl_op_end(&op);
    return rc;
}

/* The devices a chunk read tries, in order, into devs (3 * RING_MAX_REPLICAS): the primaries, as
 * many handoffs (they hold the chunk when a primary was down during its write), then the previous
 * ring's primaries not among those (data still moving after a ring change). Returns the count. */
static size_t cl_chunk_read_devs(const ring_view_t *v, const uint8_t id[32], const ring_dev_t **devs)
{
    uint32_t part = ring_part(v->ring, id, 32);
    size_t n = ring_primaries(v->ring, part, devs, RING_MAX_REPLICAS), np = n;
    for (size_t i = 0; n < 2 * np; i++, n++)
        if (!(devs[n] = ring_handoff(v->ring, part, i)))
            break;
    const ring_dev_t *was[RING_MAX_REPLICAS];
    size_t nw = v->prev ? ring_primaries(v->prev, ring_part(v->prev, id, 32), was, RING_MAX_REPLICAS) : 0, listed = n;
    for (size_t i = 0; i < nw; i++) {
        size_t j = 0;
        while (j < listed && !cl_dev_same(was[i], devs[j]))
            j++;
        if (j == listed)
            devs[n++] = was[i];
    }
    return n;
}

/* Reads the chunk from devs[0..n) in turn into buf (see cluster_chunk_get). */
static int cl_chunk_read_from(cluster_t *cl, const ring_dev_t *const *devs, size_t n, const char *hex, uint64_t xxh3,
                              size_t chunk_len, size_t off, size_t len, void *buf)
{
    char path[1 + RING_NAME_MAX + sizeof("/chunk/") + 64], range[64];
    int missing = 0, corrupt = 0;
    int full = off == 0 && len == chunk_len;
    og_header_t hdr = {OG_STR_LIT("Range"), OG_STR_LIT("")};
    hdr.value.base = range;
    hdr.value.len = (size_t)snprintf(range, sizeof(range), "bytes=%zu-%zu", off, off + len - 1);

    /* resp_buf only ever receives a 2xx body (the node client drops error bodies itself). */
    char *dst = buf;
    size_t cap = len;
    for (size_t i = 0; i < n; i++) {
        snprintf(path, sizeof(path), "/%s/chunk/%s", devs[i]->name, hex);
        node_call_t c = {.addr = devs[i]->addr,
                         .method = "GET",
                         .path = path,
                         .headers = full ? NULL : &hdr,
                         .num_headers = full ? 0 : 1,
                         .resp_buf = dst,
                         .resp_cap = cap};
        cl_call_many(cl, &c, 1, NULL, 0, NULL, NULL);
        if (c.rc != 0)
            continue; /* unreachable, or an answer that does not fit what was asked */
        if (c.status == 404) {
            missing = 1;
        } else if (c.status == 500) {
            corrupt = 1; /* the node found its copy corrupt and refused to serve it */
        } else if (c.status == 200 || c.status == 206) {
            /* A full read is checked end to end here; a partial one by the whole chunk's xxh3 the
             * node verified and reports. */
            int good = c.resp_len == len &&
                       (full ? XXH3_64bits(dst, len) == xxh3 : (!c.xxh3[0] || strtoull(c.xxh3, NULL, 16) == xxh3));
            if (good)
                return 0;
            corrupt = 1;
        }
    }
    return corrupt ? OG_ECORRUPT : missing ? OG_ENOTFOUND : OG_EQUORUM;
}

int cluster_chunk_get(cluster_t *cl, const uint8_t id[32], uint64_t xxh3, size_t chunk_len, size_t off, size_t len,
                      void *buf)
{
    const ring_dev_t *devs[3 * RING_MAX_REPLICAS];
    char hex[65];
    ring_view_t v;

    if (off > chunk_len || len > chunk_len - off || (!buf && len))
        return OG_EINVAL;
    if (len == 0)
        return 0;
    og_hex(id, 32, hex);
    ring_box_get(cl->box, &v);
    size_t n = cl_chunk_read_devs(&v, id, devs);
    int rc = cl_chunk_read_from(cl, devs, n, hex, xxh3, chunk_len, off, len, buf);
    ring_box_put(cl->box, &v);
    return rc;
}

/* ---- batches: one request per device for many chunks ---- */

/* The devices that are primaries of at least one of a batch's chunks, and which chunks each takes. */
typedef struct {
    const ring_dev_t *dev;
    size_t k;
    uint16_t *idx; /* k chunk indices, ascending */
    char path[1 + RING_NAME_MAX + 16];
} cl_group_t;

typedef struct {
    cl_group_t *g;
    size_t n;
    uint16_t *mem;
    cluster_t *cl;
    ring_view_t view; /* the ring the groups were made with: g[].dev point into it */
} cl_groups_t;

/* Groups chunks ids[0..n) by primary device. 0 or -ENOMEM; release with cl_groups_free either way
 * (gs zeroed by the caller). */
static int cl_groups_make(cluster_t *cl, const uint8_t *const *ids, size_t n, const char *suffix, cl_groups_t *gs)
{
    gs->cl = cl;
    ring_box_get(cl->box, &gs->view);
    const ring_t *ring = gs->view.ring;
    size_t ndev = ring_dev_count(ring);
    gs->n = 0;
    gs->g = calloc(ndev ? ndev : 1, sizeof(*gs->g));
    gs->mem = malloc((ndev ? ndev : 1) * (n ? n : 1) * sizeof(*gs->mem));
    if (!gs->g || !gs->mem)
        return -ENOMEM;
    for (size_t i = 0; i < n; i++) {
        const ring_dev_t *devs[RING_MAX_REPLICAS];
        size_t np = ring_primaries(ring, ring_part(ring, ids[i], 32), devs, RING_MAX_REPLICAS);
        for (size_t r = 0; r < np; r++) {
            size_t j;
            for (j = 0; j < gs->n && gs->g[j].dev != devs[r]; j++)
                ;
            if (j == gs->n) {
                if (gs->n == ndev)
                    continue; /* cannot happen: primaries are ring devices */
                gs->g[j].dev = devs[r];
                gs->g[j].idx = gs->mem + j * n;
                snprintf(gs->g[j].path, sizeof(gs->g[j].path), "/%s%s", devs[r]->name, suffix);
                gs->n++;
            }
            gs->g[j].idx[gs->g[j].k++] = (uint16_t)i;
        }
    }
    return 0;
}

static void cl_groups_free(cl_groups_t *gs)
{
    free(gs->g);
    free(gs->mem);
    if (gs->view._gen)
        ring_box_put(gs->cl->box, &gs->view);
}

/* Writes the batch header (u32 n | n x (id, u32 len, u64 xxh3)) for chunks idx[0..k) into out;
 * returns its length, CLUSTER_BATCH_HDR_LEN(k). */
static size_t cl_batch_hdr(const cluster_chunk_hdr_t *hdrs, const uint16_t *idx, size_t k, unsigned char *out)
{
    og_be32_put(out, (uint32_t)k);
    unsigned char *p = out + 4;
    for (size_t j = 0; j < k; j++, p += 44) {
        const cluster_chunk_hdr_t *h = &hdrs[idx[j]];
        memcpy(p, h->id, 32);
        og_be32_put(p + 32, h->len);
        og_be64_put(p + 36, h->xxh3);
    }
    return CLUSTER_BATCH_HDR_LEN(k);
}

/* One cluster_chunk_put_many: the caller's chunks and where each starts in data. */
typedef struct {
    const cluster_chunk_hdr_t *hdrs;
    size_t n;
    char *data;
    size_t off[CLUSTER_BATCH_MAX_CHUNKS + 1]; /* chunk i is data[off[i], off[i + 1]) */
    size_t full_hdr; /* length of the header written in front of data; 0 = not yet */
} cl_put_batch_t;

/* Fills b and ids (the chunks were checked by cluster_chunk_put_many). */
static void cl_put_batch_init(cl_put_batch_t *b, const cluster_chunk_hdr_t *hdrs, size_t n, char *data,
                              const uint8_t **ids)
{
    b->hdrs = hdrs, b->n = n, b->data = data, b->full_hdr = 0;
    b->off[0] = 0;
    for (size_t i = 0; i < n; i++) {
        ids[i] = hdrs[i].id;
        b->off[i + 1] = b->off[i] + hdrs[i].len;
    }
}

/* The request body for group g. A device that takes the whole batch (every device, on a cluster of R
 * devices) is sent the caller's buffer with the header just in front of it; others get their own
 * copy in *copy, which the caller frees. 0 or -ENOMEM. */
static int cl_put_batch_body(cl_put_batch_t *b, const cl_group_t *g, char **copy, const char **body, size_t *blen)
{
    if (g->k == b->n) {
        /* Written in place (its length is known before): an 11 KiB buffer on the stack pushed the
         * node calls below it 11 KiB deeper, two more pages in every worker's stack. */
        if (!b->full_hdr) {
            unsigned char *hdr = (unsigned char *)b->data - CLUSTER_BATCH_HDR_LEN(b->n);
            b->full_hdr = cl_batch_hdr(b->hdrs, g->idx, b->n, hdr);
        }
        *body = b->data - b->full_hdr;
        *blen = b->full_hdr + b->off[b->n];
        return 0;
    }
    size_t dlen = 0;
    for (size_t q = 0; q < g->k; q++)
        dlen += b->hdrs[g->idx[q]].len;
    if (!(*copy = malloc(CLUSTER_BATCH_HDR_LEN(g->k) + dlen)))
        return -ENOMEM;
    size_t p = cl_batch_hdr(b->hdrs, g->idx, g->k, (unsigned char *)*copy);
    for (size_t q = 0; q < g->k; q++) {
        memcpy(*copy + p, b->data + b->off[g->idx[q]], b->hdrs[g->idx[q]].len);
        p += b->hdrs[g->idx[q]].len;
    }
    *body = *copy;
    *blen = p;
    return 0;
}

/* Adds to stored[i] every device that answered chunk i with 'S' (stored) or 'E' (existed). */
static void cl_put_batch_count(const cl_groups_t *gs, const node_call_t *calls, size_t *stored)
{
    for (size_t j = 0; j < gs->n; j++) {
        const node_call_t *c = &calls[j];
        if (c->rc != 0 || c->status != 200 || c->resp_len != gs->g[j].k)
            continue;
        for (size_t q = 0; q < gs->g[j].k; q++)
            stored[gs->g[j].idx[q]] += c->resp_body[q] == 'S' || c->resp_body[q] == 'E';
    }
}

/* What cl_put_batch_enough needs: the groups, and the batch's chunk count and quorum. */
typedef struct {
    const cl_groups_t *gs;
    size_t n, quorum;
} cl_put_quorum_t;

/* cl_call_many's predicate for a batch write: every chunk stored on a quorum of devices. */
static int cl_put_batch_enough(void *ctx, const node_call_t *calls, size_t ncalls)
{
    const cl_put_quorum_t *q = ctx;
    size_t stored[CLUSTER_BATCH_MAX_CHUNKS];
    memset(stored, 0, q->n * sizeof(*stored)); /* not all 2 KiB: see cluster_chunk_put_many */
    (void)ncalls; /* one per group */
    cl_put_batch_count(q->gs, calls, stored);
    for (size_t i = 0; i < q->n; i++)
        if (stored[i] < q->quorum)
            return 0;
    return 1;
}

int cl_chunk_put_send(cluster_t *cl, const cluster_chunk_hdr_t *hdrs, size_t n, char *data, size_t *stored)
{
    const uint8_t *ids[CLUSTER_BATCH_MAX_CHUNKS];
    cl_put_batch_t b;
    cl_groups_t gs = {0};
    node_call_t *calls = NULL;
    char *res = NULL, **copies = NULL;
    int rc;

    cl_put_batch_init(&b, hdrs, n, data, ids);
    if ((rc = cl_groups_make(cl, ids, n, "/chunks", &gs)) != 0)
        goto out_free;
    calls = calloc(gs.n, sizeof(*calls));
    copies = calloc(gs.n, sizeof(*copies));
    res = malloc(gs.n * n);
    if (!calls || !copies || !res) {
        rc = -ENOMEM;
        goto out_free;
    }
    for (size_t j = 0; j < gs.n; j++) {
        const char *body;
        size_t blen;
        if ((rc = cl_put_batch_body(&b, &gs.g[j], &copies[j], &body, &blen)) != 0)
            goto out_free;
        calls[j] = (node_call_t){.addr = gs.g[j].dev->addr, .method = "PUT", .path = gs.g[j].path, .body = body,
                                 .body_len = blen, .resp_buf = res + j * n, .resp_cap = gs.g[j].k};
    }
    cl_put_quorum_t q = {&gs, n, cl->quorum};
    cl_call_many(cl, calls, gs.n, NULL, 0, cl_put_batch_enough, &q);
    cl_put_batch_count(&gs, calls, stored);
out_free:
    for (size_t j = 0; copies && j < gs.n; j++)
        free(copies[j]);
    free(copies);
    free(res);
    free(calls);
    cl_groups_free(&gs);
    return rc;
}

int cluster_chunk_put_many(cluster_t *cl, const cluster_chunk_hdr_t *hdrs, size_t n, char *data)
{
    size_t stored[CLUSTER_BATCH_MAX_CHUNKS]; /* n zeroed: a page a worker's stack keeps otherwise */
    size_t bytes = 0;
    int rc;

    if (n == 0)
        return 0;
    if (n > CLUSTER_BATCH_MAX_CHUNKS || !data)
        return OG_EINVAL;
    for (size_t i = 0; i < n; i++) {
        if (hdrs[i].len > CL_CHUNK_MAX)
            return OG_EINVAL;
        bytes += hdrs[i].len;
    }
    memset(stored, 0, n * sizeof(*stored));
    if ((rc = cl_combine_put(cl, hdrs, n, data, bytes, stored)) == CL_ENOTCOMBINED)
        rc = cl_chunk_put_send(cl, hdrs, n, data, stored);
    /* What the batch could not place at quorum goes the single-chunk way, with handoffs. */
    size_t off = 0;
    for (size_t i = 0; i < n && rc == 0; off += hdrs[i].len, i++)
        if (stored[i] < cl->quorum)
            rc = cluster_chunk_put(cl, hdrs[i].id, data + off, hdrs[i].len);
    return rc;
}

/* Consecutive chunks a read asks from one replica while it holds them all: a node then reads a
 * run of chunks that a batch wrote back to back, which the kernel reads ahead as one stream,
 * rather than every R-th chunk (32 chunks are ~1 MiB at the default chunk size). */
#define CL_READ_RUN 32

/* The replica to ask chunk i (primaries devs[0..np)) for: prev, the one asked for chunk i - 1,
 * while the run is shorter than CL_READ_RUN, it holds the chunk and is not seen failing; else a
 * primary by the run number, passing over those seen failing. *run counts the run. */
static const ring_dev_t *cl_read_pick(cluster_t *cl, const ring_dev_t *const *devs, size_t np, size_t i,
                                      const ring_dev_t *prev, size_t *run)
{
    if (prev && *run < CL_READ_RUN && !cl_node_failing(cl, prev->addr))
        for (size_t r = 0; r < np; r++)
            if (devs[r] == prev) {
                (*run)++;
                return prev;
            }
    size_t base = i / CL_READ_RUN, r = 0;
    while (r + 1 < np && cl_node_failing(cl, devs[(base + r) % np]->addr))
        r++;
    *run = 1;
    return devs[(base + r) % np];
}

/* Leaves in each group of gs only the chunks it is to serve: runs of consecutive chunks from one
 * primary, the runs spread over the replicas (cl_read_pick); a primary seen failing is passed
 * over for the next one. */
static void cl_read_assign(cluster_t *cl, const uint8_t *const *ids, size_t n, cl_groups_t *gs)
{
    const ring_dev_t *prev = NULL;
    size_t run = 0;
    for (size_t j = 0; j < gs->n; j++)
        gs->g[j].k = 0;
    for (size_t i = 0; i < n; i++) {
        const ring_dev_t *devs[RING_MAX_REPLICAS];
        const ring_t *ring = gs->view.ring;
        size_t np = ring_primaries(ring, ring_part(ring, ids[i], 32), devs, RING_MAX_REPLICAS);
        if (np == 0)
            continue;
        prev = cl_read_pick(cl, devs, np, i, prev, &run);
        for (size_t j = 0; j < gs->n; j++)
            if (gs->g[j].dev == prev) {
                gs->g[j].idx[gs->g[j].k++] = (uint16_t)i;
                break;
            }
    }
}

/* One POST /<dev>/read per group with chunks to serve, into calls[] (groups with none are dropped
 * from gs, so gs->g[j] stays calls[j]'s group); bodies holds n ids per group. Answers go into
 * scratch while it has room, else into buffers the node client allocates. Returns the call count. */
static size_t cl_read_calls(cl_groups_t *gs, const cluster_chunk_read_t *rd, size_t n, char *bodies, char *scratch,
                            size_t scratch_cap, node_call_t *calls)
{
    size_t m = 0, sused = 0;
    for (size_t j = 0; j < gs->n; j++) {
        const cl_group_t *g = &gs->g[j];
        if (g->k == 0)
            continue;
        char *b = bodies + j * n * 32;
        size_t want = 0;
        for (size_t q = 0; q < g->k; q++) {
            memcpy(b + q * 32, rd[g->idx[q]].id, 32);
            want += 5 + rd[g->idx[q]].chunk_len;
        }
        char *into = NULL;
        if (scratch && scratch_cap - sused >= want) {
            into = scratch + sused;
            sused += want;
        }
        calls[m] = (node_call_t){.addr = g->dev->addr, .method = "POST", .path = g->path, .body = b,
                                 .body_len = g->k * 32, .resp_buf = into, .resp_cap = want};
        gs->g[m] = *g; /* keep groups and calls aligned */
        m++;
    }
    return m;
}

/* Takes the chunks of one /read answer, (u8 'S' | u32 len | bytes)* in the order asked, into the
 * callers' buffers and marks them done. */
static void cl_read_take(const node_call_t *c, const cl_group_t *g, const cluster_chunk_read_t *rd, uint8_t *done)
{
    if (c->rc != 0 || c->status != 200)
        return;
    const unsigned char *p = (const unsigned char *)c->resp_body, *end = p + c->resp_len;
    for (size_t q = 0; q < g->k && end - p >= 5; q++) {
        const cluster_chunk_read_t *r = &rd[g->idx[q]];
        size_t len = og_be32_get(p + 1);
        if ((size_t)(end - p) - 5 < len)
            break;
        /* The whole chunk came back: checked end to end, then the wanted range is kept. */
        if (p[0] == 'S' && len == r->chunk_len && r->off <= len && r->len <= len - r->off &&
            XXH3_64bits(p + 5, len) == r->xxh3) {
            memcpy(r->buf, p + 5 + r->off, r->len);
            done[g->idx[q]] = 1;
        }
        p += 5 + len;
    }
}

int cluster_chunk_get_many(cluster_t *cl, const cluster_chunk_read_t *rd, size_t n, char *scratch,
                              size_t scratch_cap)
{
    cl_groups_t gs = {0};
    const uint8_t **ids = malloc((n ? n : 1) * sizeof(*ids));
    uint8_t *done = calloc(n ? n : 1, 1);
    node_call_t *calls = NULL;
    char *bodies = NULL;
    int first_err = 0, rc;

    if (!ids || !done) {
        first_err = -ENOMEM;
        goto out_free;
    }
    for (size_t i = 0; i < n; i++)
        ids[i] = rd[i].id;
    /* One request per device; whatever does not come back is read alone below. */
    if ((rc = cl_groups_make(cl, ids, n, "/read", &gs)) != 0) {
        first_err = rc;
        goto out_free;
    }
    cl_read_assign(cl, ids, n, &gs);
    calls = calloc(gs.n ? gs.n : 1, sizeof(*calls));
    bodies = malloc((gs.n ? gs.n : 1) * (n ? n : 1) * 32);
    if (!calls || !bodies) {
        first_err = -ENOMEM;
        goto out_free;
    }
    size_t m = cl_read_calls(&gs, rd, n, bodies, scratch, scratch_cap, calls);
    cl_call_many(cl, calls, m, NULL, 0, NULL, NULL);
    for (size_t j = 0; j < m; j++)
        cl_read_take(&calls[j], &gs.g[j], rd, done);
    for (size_t i = 0; i < n; i++) {
        if (done[i])
            continue;
        rc = cluster_chunk_get(cl, rd[i].id, rd[i].xxh3, rd[i].chunk_len, rd[i].off, rd[i].len, rd[i].buf);
        if (rc != 0 && first_err == 0)
            first_err = rc;
    }
out_free:
    for (size_t j = 0; calls && j < gs.n; j++)
        cl_call_release(&calls[j]);
    free(bodies);
    free(calls);
    cl_groups_free(&gs);
    free(done);
    free(ids);
    return first_err;
}

int cluster_chunk_touch(cluster_t *cl, const uint8_t *ids, size_t n)
{
    enum { SLICE = 1024 }; /* NODE_BATCH_MAX ids per request */
    const uint8_t **idp = malloc((n < SLICE ? (n ? n : 1) : SLICE) * sizeof(*idp));
    size_t *touched = calloc(n < SLICE ? (n ? n : 1) : SLICE, sizeof(*touched));
    int rc = 0;

    if (!idp || !touched) {
        rc = -ENOMEM;
        goto out_free;
    }
    for (size_t base = 0; base < n && rc == 0; base += SLICE) {
        size_t k = n - base < SLICE ? n - base : SLICE;
        cl_groups_t gs = {0};
        node_call_t *calls = NULL;
        char *bodies = NULL, *res = NULL;
        for (size_t i = 0; i < k; i++) {
            idp[i] = ids + (base + i) * 32;
            touched[i] = 0;
        }
        if ((rc = cl_groups_make(cl, idp, k, "/touch", &gs)) != 0)
            goto out_slice;
        calls = calloc(gs.n, sizeof(*calls));
        bodies = malloc(gs.n * k * 32);
        res = malloc(gs.n * k);
        if (!calls || !bodies || !res) {
            rc = -ENOMEM;
            goto out_slice;
        }
        for (size_t j = 0; j < gs.n; j++) {
            char *b = bodies + j * k * 32;
            for (size_t q = 0; q < gs.g[j].k; q++)
                memcpy(b + q * 32, idp[gs.g[j].idx[q]], 32);
            calls[j] = (node_call_t){.addr = gs.g[j].dev->addr, .method = "POST", .path = gs.g[j].path, .body = b,
                                     .body_len = gs.g[j].k * 32, .resp_buf = res + j * k, .resp_cap = gs.g[j].k};
        }
        cl_call_many(cl, calls, gs.n, NULL, 0, NULL, NULL);
        for (size_t j = 0; j < gs.n; j++) {
            if (calls[j].rc != 0 || calls[j].status != 200 || calls[j].resp_len != gs.g[j].k)
                continue;
            for (size_t q = 0; q < gs.g[j].k; q++)
                touched[gs.g[j].idx[q]] += calls[j].resp_body[q] == 'E';
        }
        for (size_t i = 0; i < k && rc == 0; i++)
            if (touched[i] < cl->quorum)
                rc = OG_EQUORUM;
    out_slice:
        free(res);
        free(bodies);
        free(calls);
        cl_groups_free(&gs);
    }
out_free:
    free(touched);
    free(idp);
    return rc;
}

int cluster_chunk_locate(cluster_t *cl, const uint8_t id[32], char (*addrs)[96], size_t cap)
{
    enum { PATH_LEN = 1 + RING_NAME_MAX + sizeof("/chunk/") + 64 };
    ring_view_t v;
    ring_box_get(cl->box, &v);
    size_t n = ring_dev_count(v.ring), found = 0;
    char hex[65];
    int rc = -ENOMEM;

    node_call_t *calls = calloc(n ? n : 1, sizeof(*calls));
    char(*paths)[PATH_LEN] = calloc(n ? n : 1, sizeof(*paths));
    if (!calls || !paths)
        goto out_free;
    og_hex(id, 32, hex);
    for (size_t i = 0; i < n; i++) {
        const ring_dev_t *d = ring_dev_at(v.ring, i);
        snprintf(paths[i], PATH_LEN, "/%s/chunk/%s", d->name, hex);
        calls[i] = (node_call_t){.addr = d->addr, .method = "HEAD", .path = paths[i]};
    }
    cl_call_many(cl, calls, n, NULL, 0, NULL, NULL);
    for (size_t i = 0; i < n; i++) {
        if (calls[i].rc == 0 && calls[i].status == 200 && found < cap) {
            const ring_dev_t *d = ring_dev_at(v.ring, i);
            snprintf(addrs[found++], 96, "%s/%s", d->addr, d->name);
        }
        cl_call_release(&calls[i]);
    }
    rc = (int)found;
out_free:
    free(paths);
    free(calls);
    ring_box_put(cl->box, &v);
    return rc;
}

