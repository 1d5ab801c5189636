/*
 * gw_cluster.c: replication and quorum (see gw_cluster.h for the contract).
 *
 * Every replicated operation follows one shape, cl_op_t: find the partition of a placement key,
 * send the same request to all of its primaries in one node_call_many(), and give each primary
 * that could not be reached (connection failure or 5xx) one chance on the next handoff device in
 * a second round. The caller then counts the answers it accepts against the quorum.
 *
 * Reads (records and listings) ask only a quorum of primaries first, a different one in turn, and
 * the rest only when one of those failed or, for records, lacks the key: with W + R > N any two
 * primaries overlap every acknowledged write made to primaries, so a read that found the record
 * on both needs no third answer. That saves a third of the nodes' read work and of the gateway's
 * round trips on every GET. Only primaries' answers count toward a read's quorum: a handoff holds
 * just the writes made while its primary was down, so its "not found" is no evidence. A record
 * found on a handoff is still a candidate for the newest version.
 *
 * A small cache of live records (cluster_rec_get_cached; bucket records) sits in front of the
 * quorum read for callers that accept a bounded staleness; this handle's own writes drop entries.
 */
#include "cluster.h"

#include "node_client.h"
#include "ring.h"

#include <errno.h>
#include <inttypes.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/random.h>
#include <unistd.h>
#include <xxhash.h>

/* Limits of what this layer sends to a node: the node API's table syntax, S3's key length and
 * the node's chunk size limit. */
#define CL_TABLE_MAX 255
#define CL_CHUNK_MAX (16u << 20)
#define CL_LIST_DEFAULT 1000
#define CL_LIST_MAX 10000
/* "/rec/<table>/<key percent-encoded>": the longest path suffix of a record operation. */
#define CL_REC_SUFFIX_MAX (sizeof("/rec//") + CL_TABLE_MAX + 3 * OG_KEY_MAX + 1)
/* "/list/<table>?prefix=<enc>&after=<enc>&limit=<n>" */
#define CL_LIST_SUFFIX_MAX (sizeof("/list/?prefix=&after=&limit=") + CL_TABLE_MAX + 6 * OG_KEY_MAX + 24)
/* Keep-alive connections pooled per node. */
#define CL_IDLE_PER_NODE 32
/* Record cache (cluster_rec_get_cached): direct-mapped slots; a collision only costs a quorum
 * read. Records and "table\0key" names longer than these limits are not cached. */
#define CL_RC_SLOTS 256
#define CL_RC_NAME_MAX 320
#define CL_RC_REC_MAX 512

typedef struct {
    uint64_t at_ms; /* og_mono_ms() when read from the cluster; 0 = empty */
    uint32_t gen;   /* bumped by every invalidation of this slot (see cl_rc_store) */
    uint16_t name_len, rec_len;
    char name[CL_RC_NAME_MAX]; /* table, NUL, key */
    char rec[CL_RC_REC_MAX];   /* the encoded record */
} cl_rc_slot_t;

typedef struct {
    pthread_mutex_t mu; /* guards slot[] */
    cl_rc_slot_t slot[CL_RC_SLOTS];
} cl_rcache_t;

/* Buffer pool (cluster_buf_get): one size class that holds a 4 MiB batch with its header room
 * and a read batch's scratch (4 MiB + two partial 128 KiB chunks + 5 bytes a chunk); larger
 * requests are mapped and unmapped on their own. At most CL_BUF_IDLE buffers stay idle. */
#define CL_BUF_CLASS ((size_t)(4u << 20) + (512u << 10))
#define CL_BUF_IDLE 4


struct st_cluster_t {
    ring_t *ring;
    node_client_t *client;
    size_t replicas; /* R, at most RING_MAX_REPLICAS */
    size_t quorum;   /* R/2 + 1, for writes and for reads */
    pthread_mutex_t stamp_mu; /* guards the two fields below */
    uint64_t stamp_last;
    uint64_t stamp_rng; /* xorshift64* state, seeded from getrandom() */
    uint32_t cdc_min, cdc_avg, cdc_max; /* content-defined chunk sizes (cluster_set_chunking) */
    atomic_uint read_turn; /* rotates which primaries a read asks first */
    cl_rcache_t *rcache;
    pthread_mutex_t buf_mu; /* guards the two fields below */
    void *buf_idle[CL_BUF_IDLE];
    size_t nbuf_idle;
};

int cluster_open(const char *ring_path, int timeout_ms, cluster_t **out)
{
    int rc;
    cluster_t *cl = calloc(1, sizeof(*cl));
    if (!cl)
        return -ENOMEM;
    if ((rc = ring_load(ring_path, &cl->ring)) != 0)
        goto out_free_cl;
    cl->replicas = ring_replica_count(cl->ring);
    if (cl->replicas == 0 || cl->replicas > RING_MAX_REPLICAS) {
        rc = OG_EINVAL;
        goto out_free_ring;
    }
    cl->quorum = cl->replicas / 2 + 1;
    cl->cdc_min = CLUSTER_CDC_MIN, cl->cdc_avg = CLUSTER_CDC_AVG, cl->cdc_max = CLUSTER_CDC_MAX;
    if (!(cl->client = node_client_new(timeout_ms, CL_IDLE_PER_NODE))) {
        rc = -ENOMEM;
        goto out_free_ring;
    }
    if (!(cl->rcache = calloc(1, sizeof(*cl->rcache)))) {
        rc = -ENOMEM;
        goto out_free_client;
    }
    if ((rc = pthread_mutex_init(&cl->rcache->mu, NULL)) != 0) {
        rc = -rc;
        goto out_free_rcache;
    }
    if ((rc = pthread_mutex_init(&cl->buf_mu, NULL)) != 0) {
        rc = -rc;
        goto out_destroy_rcache;
    }
    if ((rc = pthread_mutex_init(&cl->stamp_mu, NULL)) != 0) {
        rc = -rc;
        goto out_destroy_buf;
    }
    /* Tiebreaks only need to differ between gateways writing in the same nanosecond; when the
     * kernel has no entropy to give, pid and time still separate processes. */
    if (getrandom(&cl->stamp_rng, sizeof(cl->stamp_rng), GRND_NONBLOCK) != (ssize_t)sizeof(cl->stamp_rng))
        cl->stamp_rng = og_time_ns() ^ ((uint64_t)getpid() << 32);
    if (cl->stamp_rng == 0)
        cl->stamp_rng = 0x9e3779b97f4a7c15ull; /* xorshift must not start at 0 */
    *out = cl;
    return 0;

out_destroy_buf:
    pthread_mutex_destroy(&cl->buf_mu);
out_destroy_rcache:
    pthread_mutex_destroy(&cl->rcache->mu);
out_free_rcache:
    free(cl->rcache);
out_free_client:
    node_client_free(cl->client);
out_free_ring:
    ring_free(cl->ring);
out_free_cl:
    free(cl);
    return rc;
}

void cluster_close(cluster_t *cl)
{
    if (!cl)
        return;
    pthread_mutex_destroy(&cl->stamp_mu);
    for (size_t i = 0; i < cl->nbuf_idle; i++)
        munmap(cl->buf_idle[i], CL_BUF_CLASS);
    pthread_mutex_destroy(&cl->buf_mu);
    pthread_mutex_destroy(&cl->rcache->mu);
    free(cl->rcache);
    node_client_free(cl->client);
    ring_free(cl->ring);
    free(cl);
}

int cluster_set_chunking(cluster_t *cl, uint32_t avg)
{
    if (avg < (16u << 10) || avg > (4u << 20) || (avg & (avg - 1)) != 0)
        return OG_EINVAL;
    cl->cdc_min = avg / 4, cl->cdc_avg = avg, cl->cdc_max = avg * 4;
    return 0;
}

void cluster_chunking(const cluster_t *cl, uint32_t *min, uint32_t *avg, uint32_t *max)
{
    *min = cl->cdc_min, *avg = cl->cdc_avg, *max = cl->cdc_max;
}

void *cluster_buf_get(cluster_t *cl, size_t len)
{
    void *p = NULL;
    if (len <= CL_BUF_CLASS) {
        pthread_mutex_lock(&cl->buf_mu);
        if (cl->nbuf_idle)
            p = cl->buf_idle[--cl->nbuf_idle];
        pthread_mutex_unlock(&cl->buf_mu);
        if (p)
            return p;
        len = CL_BUF_CLASS;
    }
    p = mmap(NULL, len, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    return p == MAP_FAILED ? NULL : p;
}

void cluster_buf_put(cluster_t *cl, void *p, size_t len)
{
    if (!p)
        return;
    if (len <= CL_BUF_CLASS) {
        len = CL_BUF_CLASS;
        pthread_mutex_lock(&cl->buf_mu);
        if (cl->nbuf_idle < CL_BUF_IDLE) {
            cl->buf_idle[cl->nbuf_idle++] = p;
            p = NULL;
        }
        pthread_mutex_unlock(&cl->buf_mu);
    }
    if (p)
        munmap(p, len);
}

void cluster_stamp(cluster_t *cl, uint64_t *ts, uint64_t *tiebreak)
{
    uint64_t now = og_time_ns();
    pthread_mutex_lock(&cl->stamp_mu);
    /* Strictly increasing even when the clock steps back or two writes share a nanosecond,
     * so a second write from this process always wins over its first. */
    if (now <= cl->stamp_last)
        now = cl->stamp_last + 1;
    cl->stamp_last = now;
    uint64_t x = cl->stamp_rng;
    x ^= x >> 12;
    x ^= x << 25;
    x ^= x >> 27;
    cl->stamp_rng = x;
    pthread_mutex_unlock(&cl->stamp_mu);
    *ts = now;
    *tiebreak = x * 0x2545f4914f6cdd1dull;
}

/* ---- one replicated request ---- */

typedef struct {
    cluster_t *cl;
    uint32_t part;
    size_t n; /* replicas addressed (slots in use) */
    size_t handoff_next;
    const ring_dev_t *dev[RING_MAX_REPLICAS];
    node_call_t call[RING_MAX_REPLICAS];
    node_call_t tmpl;   /* the request, without addr and path */
    const char *suffix; /* path after "/<dev>", same for every device */
    size_t suffix_len;
    size_t stride;    /* bytes per path in paths[] */
    char *paths;      /* 2n paths: slot i uses i (primary) and n + i (its handoff) */
    unsigned char handoff[RING_MAX_REPLICAS]; /* slot i was re-sent to a handoff device */
    char *paths_heap; /* paths when they do not fit paths_stack */
    char paths_stack[8192];
} cl_op_t;

/* A primary that did not answer usefully, so its handoff should be asked instead. */
static int cl_unreachable(const node_call_t *c)
{
    return c->rc != 0 || c->status >= 500;
}

static void cl_call_release(node_call_t *c)
{
    if (!c->resp_buf)
        free(c->resp_body);
    c->resp_body = NULL;
    c->resp_len = 0;
}

static void cl_op_path(cl_op_t *op, size_t i, size_t pathidx)
{
    char *p = op->paths + pathidx * op->stride;
    size_t nl = strlen(op->dev[i]->name);
    p[0] = '/';
    memcpy(p + 1, op->dev[i]->name, nl);
    memcpy(p + 1 + nl, op->suffix, op->suffix_len);
    p[1 + nl + op->suffix_len] = '\0';
    op->call[i].addr = op->dev[i]->addr;
    op->call[i].path = p;
}

/* Prepares the request `tmpl` (method, headers, body, response buffer) for every primary of the
 * placement key. With `rotate`, the primaries' order is rotated by a turn counter, so reads that
 * ask the first few slots spread over all of them. 0 or -ENOMEM; release with cl_op_end either way. */
static int cl_op_begin(cluster_t *cl, cl_op_t *op, const void *pkey, size_t pklen, const char *suffix,
                       size_t suffix_len, const node_call_t *tmpl, int rotate)
{
    op->cl = cl;
    op->part = ring_part(cl->ring, pkey, pklen);
    op->n = ring_primaries(cl->ring, op->part, op->dev, RING_MAX_REPLICAS);
    if (rotate && op->n > 1) {
        const ring_dev_t *d[RING_MAX_REPLICAS];
        size_t r = atomic_fetch_add_explicit(&cl->read_turn, 1, memory_order_relaxed) % op->n;
        for (size_t i = 0; i < op->n; i++)
            d[i] = op->dev[(i + r) % op->n];
        memcpy(op->dev, d, op->n * sizeof(d[0]));
    }
    op->handoff_next = 0;
    op->tmpl = *tmpl;
    op->suffix = suffix;
    op->suffix_len = suffix_len;
    op->stride = 1 + RING_NAME_MAX + suffix_len + 1;
    op->paths_heap = NULL;
    op->paths = op->paths_stack;
    if (2 * op->n * op->stride > sizeof(op->paths_stack)) {
        if (!(op->paths_heap = malloc(2 * op->n * op->stride))) {
            op->n = 0;
            return -ENOMEM;
        }
        op->paths = op->paths_heap;
    }
    for (size_t i = 0; i < op->n; i++) {
        op->call[i] = op->tmpl;
        op->handoff[i] = 0;
        cl_op_path(op, i, i);
    }
    return 0;
}

/* The next handoff not on a node already known down in this operation, or NULL. */
static const ring_dev_t *cl_op_next_handoff(cl_op_t *op)
{
    const ring_dev_t *d;
    while ((d = ring_handoff(op->cl->ring, op->part, op->handoff_next)) != NULL) {
        op->handoff_next++;
        int down = 0;
        for (size_t i = 0; i < op->n && !down; i++)
            down = op->call[i].rc != 0 && strcmp(op->call[i].addr, d->addr) == 0;
        if (!down)
            return d;
    }
    return NULL;
}

/* Sends to the primaries of slots [from, n) (the ones before were asked already), then once more
 * to a handoff for each unreachable primary of any slot. The outcome of slot i is in op->call[i]
 * (the handoff's, when one was asked). */
static void cl_op_run_from(cl_op_t *op, size_t from)
{
    node_call_t retry[RING_MAX_REPLICAS];
    const ring_dev_t *hdev[RING_MAX_REPLICAS];
    size_t slot[RING_MAX_REPLICAS], nretry = 0;

    if (from < op->n)
        node_call_many(op->cl->client, op->call + from, op->n - from);
    /* Choose every handoff before replacing any primary: the choice skips nodes found down in
     * this round, which needs the primaries' outcomes intact. */
    for (size_t i = 0; i < op->n; i++) {
        if (!cl_unreachable(&op->call[i]))
            continue;
        if (!(hdev[nretry] = cl_op_next_handoff(op)))
            break;
        slot[nretry++] = i;
    }
    if (nretry == 0)
        return;
    for (size_t k = 0; k < nretry; k++) {
        size_t i = slot[k];
        cl_call_release(&op->call[i]);
        op->call[i] = op->tmpl;
        op->dev[i] = hdev[k];
        op->handoff[i] = 1;
        cl_op_path(op, i, op->n + i);
        retry[k] = op->call[i];
    }
    node_call_many(op->cl->client, retry, nretry);
    for (size_t k = 0; k < nretry; k++)
        op->call[slot[k]] = retry[k];
}

/* Sends to every primary (and handoffs for unreachable ones): writes. */
static void cl_op_run(cl_op_t *op)
{
    cl_op_run_from(op, 0);
}

/* Read in two steps: the first quorum slots, then (cl_op_run_from) the rest only when `enough` says
 * the first answers do not settle the read. Slots never asked keep rc 0 and status 0. */
static void cl_op_run_read(cl_op_t *op, int (*enough)(const node_call_t *c))
{
    size_t q = op->cl->quorum < op->n ? op->cl->quorum : op->n, ok = 0;
    node_call_many(op->cl->client, op->call, q);
    for (size_t i = 0; i < q; i++)
        ok += enough(&op->call[i]);
    if (ok < q || q < op->cl->quorum)
        cl_op_run_from(op, q);
}

/* Frees response bodies still held by the calls and the paths. */
static void cl_op_end(cl_op_t *op)
{
    for (size_t i = 0; i < op->n; i++)
        cl_call_release(&op->call[i]);
    free(op->paths_heap);
}

/* Slots whose device acknowledged a write as durable (201 stored, 200 already as new). */
static size_t cl_count_stored(const cl_op_t *op)
{
    size_t ok = 0;
    for (size_t i = 0; i < op->n; i++)
        ok += op->call[i].rc == 0 && (op->call[i].status == 201 || op->call[i].status == 200);
    return ok;
}

/* Like cl_count_stored, but only primaries count. Record reads settle on a quorum of primaries,
 * so a record write must reach a quorum of primaries too (R + W > N among the primaries): a
 * write acknowledged by one primary and two handoffs could otherwise be missed by a read of the
 * two other primaries once they return. Handoff copies still add durability. Chunks are
 * immutable and searched on handoffs too, so they count every copy. */
static size_t cl_count_stored_primary(const cl_op_t *op)
{
    size_t ok = 0;
    for (size_t i = 0; i < op->n; i++)
        ok += !op->handoff[i] && op->call[i].rc == 0 && (op->call[i].status == 201 || op->call[i].status == 200);
    return ok;
}

static int cl_table_valid(const char *table)
{
    size_t n = strlen(table);
    if (n == 0 || n > CL_TABLE_MAX)
        return 0;
    for (size_t i = 0; i < n; i++) {
        char c = table[i];
        if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '.' || c == '_' ||
              c == '-'))
            return 0;
    }
    return 1;
}

/* "/rec/<table>/<key>" into out (CL_REC_SUFFIX_MAX bytes). Returns its length or OG_EINVAL. */
static long cl_rec_suffix(const char *table, og_str_t key, char *out)
{
    if (!cl_table_valid(table) || key.len == 0 || key.len > OG_KEY_MAX || memchr(key.base, '\0', key.len))
        return OG_EINVAL;
    int n = snprintf(out, CL_REC_SUFFIX_MAX, "/rec/%s/", table);
    /* '/' is encoded too: the node takes everything after the table as the key. */
    long k = og_urlencode(key.base, key.len, out + n, CL_REC_SUFFIX_MAX - (size_t)n, 0);
    return k < 0 ? k : n + k;
}

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
    cl_op_run(&op);
    rc = cl_count_stored(&op) >= cl->quorum ? 0 : OG_EQUORUM;
out_end:
    cl_op_end(&op);
    return rc;
}

int cluster_chunk_get(cluster_t *cl, const uint8_t id[32], uint64_t xxh3, size_t chunk_len, size_t off,
                         size_t len, void *buf)
{
    const ring_dev_t *devs[2 * RING_MAX_REPLICAS];
    char path[1 + RING_NAME_MAX + sizeof("/chunk/") + 64], hex[65], range[64];
    int missing = 0, corrupt = 0;

    if (off > chunk_len || len > chunk_len - off || (!buf && len))
        return OG_EINVAL;
    if (len == 0)
        return 0;
    int full = off == 0 && len == chunk_len;
    og_hex(id, 32, hex);
    og_header_t hdr = {OG_STR_LIT("Range"), OG_STR_LIT("")};
    hdr.value.base = range;
    hdr.value.len = (size_t)snprintf(range, sizeof(range), "bytes=%zu-%zu", off, off + len - 1);

    /* Primaries first; handoffs hold the chunk when a primary was down during its write. */
    uint32_t part = ring_part(cl->ring, id, 32);
    size_t n = ring_primaries(cl->ring, part, devs, RING_MAX_REPLICAS), np = n;
    for (size_t i = 0; n < 2 * np; i++, n++)
        if (!(devs[n] = ring_handoff(cl->ring, part, i)))
            break;

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
        node_call(cl->client, &c);
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
} cl_groups_t;

/* Groups chunks ids[0..n) by primary device. 0 or -ENOMEM; release with cl_groups_free. */
static int cl_groups_make(cluster_t *cl, const uint8_t *const *ids, size_t n, const char *suffix, cl_groups_t *gs)
{
    size_t ndev = ring_dev_count(cl->ring);
    gs->n = 0;
    gs->g = calloc(ndev ? ndev : 1, sizeof(*gs->g));
    gs->mem = malloc((ndev ? ndev : 1) * (n ? n : 1) * sizeof(*gs->mem));
    if (!gs->g || !gs->mem)
        return -ENOMEM;
    for (size_t i = 0; i < n; i++) {
        const ring_dev_t *devs[RING_MAX_REPLICAS];
        size_t np = ring_primaries(cl->ring, ring_part(cl->ring, ids[i], 32), devs, RING_MAX_REPLICAS);
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
}

static void cl_put_be32(unsigned char *p, uint32_t v)
{
    p[0] = (unsigned char)(v >> 24), p[1] = (unsigned char)(v >> 16), p[2] = (unsigned char)(v >> 8),
    p[3] = (unsigned char)v;
}

/* Writes the batch header (u32 n | n x (id, u32 len, u64 xxh3)) for chunks idx[0..k) into out. */
static size_t cl_batch_hdr(const cluster_chunk_hdr_t *hdrs, const uint16_t *idx, size_t k, unsigned char *out)
{
    cl_put_be32(out, (uint32_t)k);
    unsigned char *p = out + 4;
    for (size_t j = 0; j < k; j++, p += 44) {
        const cluster_chunk_hdr_t *h = &hdrs[idx[j]];
        memcpy(p, h->id, 32);
        cl_put_be32(p + 32, h->len);
        cl_put_be32(p + 36, (uint32_t)(h->xxh3 >> 32));
        cl_put_be32(p + 40, (uint32_t)h->xxh3);
    }
    return 4 + 44 * k;
}

int cluster_chunk_put_many(cluster_t *cl, const cluster_chunk_hdr_t *hdrs, size_t n, char *data)
{
    const uint8_t *ids[CLUSTER_BATCH_MAX_CHUNKS];
    size_t off[CLUSTER_BATCH_MAX_CHUNKS + 1], stored[CLUSTER_BATCH_MAX_CHUNKS] = {0};
    cl_groups_t gs = {0};
    node_call_t *calls = NULL;
    char *res = NULL, **copies = NULL;
    int rc;

    if (n == 0)
        return 0;
    if (n > CLUSTER_BATCH_MAX_CHUNKS || !data)
        return OG_EINVAL;
    off[0] = 0;
    for (size_t i = 0; i < n; i++) {
        if (hdrs[i].len > CL_CHUNK_MAX)
            return OG_EINVAL;
        ids[i] = hdrs[i].id;
        off[i + 1] = off[i] + hdrs[i].len;
    }
    if ((rc = cl_groups_make(cl, ids, n, "/chunks", &gs)) != 0)
        goto out_free;
    calls = calloc(gs.n, sizeof(*calls));
    copies = calloc(gs.n, sizeof(*copies));
    res = malloc(gs.n * n);
    if (!calls || !copies || !res) {
        rc = -ENOMEM;
        goto out_free;
    }
    /* A device that takes the whole batch (every device, on a cluster of R devices) is sent the
     * caller's buffer with the header just in front of it; others get their own copy. */
    size_t full_hdr = 0;
    for (size_t j = 0; j < gs.n; j++) {
        cl_group_t *g = &gs.g[j];
        const char *body;
        size_t blen;
        if (g->k == n) {
            if (!full_hdr) {
                unsigned char tmp[CLUSTER_BATCH_HDR_MAX];
                full_hdr = cl_batch_hdr(hdrs, g->idx, n, tmp);
                memcpy(data - full_hdr, tmp, full_hdr);
            }
            body = data - full_hdr;
            blen = full_hdr + off[n];
        } else {
            size_t dlen = 0;
            for (size_t q = 0; q < g->k; q++)
                dlen += hdrs[g->idx[q]].len;
            if (!(copies[j] = malloc(4 + 44 * g->k + dlen))) {
                rc = -ENOMEM;
                goto out_free;
            }
            size_t h = cl_batch_hdr(hdrs, g->idx, g->k, (unsigned char *)copies[j]), p = h;
            for (size_t q = 0; q < g->k; q++) {
                memcpy(copies[j] + p, data + off[g->idx[q]], hdrs[g->idx[q]].len);
                p += hdrs[g->idx[q]].len;
            }
            body = copies[j];
            blen = p;
        }
        calls[j] = (node_call_t){.addr = g->dev->addr, .method = "PUT", .path = g->path, .body = body,
                                 .body_len = blen, .resp_buf = res + j * n, .resp_cap = g->k};
    }
    node_call_many(cl->client, calls, gs.n);
    for (size_t j = 0; j < gs.n; j++) {
        const node_call_t *c = &calls[j];
        if (c->rc != 0 || c->status != 200 || c->resp_len != gs.g[j].k)
            continue;
        for (size_t q = 0; q < gs.g[j].k; q++)
            stored[gs.g[j].idx[q]] += c->resp_body[q] == 'S' || c->resp_body[q] == 'E';
    }
    /* What the batch could not place at quorum goes the single-chunk way, with handoffs. */
    rc = 0;
    for (size_t i = 0; i < n && rc == 0; i++)
        if (stored[i] < cl->quorum)
            rc = cluster_chunk_put(cl, hdrs[i].id, data + off[i], hdrs[i].len);
out_free:
    for (size_t j = 0; copies && j < gs.n; j++)
        free(copies[j]);
    free(copies);
    free(res);
    free(calls);
    cl_groups_free(&gs);
    return rc;
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
    /* One POST /<dev>/read per device, each chunk asked from one of its primaries in turn, so a
     * long read spreads over the replicas; whatever does not come back is read alone below. */
    if ((rc = cl_groups_make(cl, ids, n, "/read", &gs)) != 0) {
        first_err = rc;
        goto out_free;
    }
    for (size_t j = 0; j < gs.n; j++)
        gs.g[j].k = 0;
    for (size_t i = 0; i < n; i++) {
        const ring_dev_t *devs[RING_MAX_REPLICAS];
        size_t np = ring_primaries(cl->ring, ring_part(cl->ring, ids[i], 32), devs, RING_MAX_REPLICAS);
        if (np == 0)
            continue;
        for (size_t j = 0; j < gs.n; j++)
            if (gs.g[j].dev == devs[i % np]) {
                gs.g[j].idx[gs.g[j].k++] = (uint16_t)i;
                break;
            }
    }
    calls = calloc(gs.n ? gs.n : 1, sizeof(*calls));
    bodies = malloc((gs.n ? gs.n : 1) * (n ? n : 1) * 32);
    if (!calls || !bodies) {
        first_err = -ENOMEM;
        goto out_free;
    }
    size_t m = 0, sused = 0;
    for (size_t j = 0; j < gs.n; j++) {
        if (gs.g[j].k == 0)
            continue;
        char *b = bodies + j * n * 32;
        size_t want = 0;
        for (size_t q = 0; q < gs.g[j].k; q++) {
            memcpy(b + q * 32, ids[gs.g[j].idx[q]], 32);
            want += 5 + rd[gs.g[j].idx[q]].chunk_len;
        }
        char *into = NULL;
        if (scratch && scratch_cap - sused >= want) {
            into = scratch + sused;
            sused += want;
        }
        calls[m] = (node_call_t){.addr = gs.g[j].dev->addr, .method = "POST", .path = gs.g[j].path, .body = b,
                                 .body_len = gs.g[j].k * 32, .resp_buf = into, .resp_cap = want};
        gs.g[m] = gs.g[j]; /* keep groups and calls aligned */
        m++;
    }
    node_call_many(cl->client, calls, m);
    for (size_t j = 0; j < m; j++) {
        const node_call_t *c = &calls[j];
        if (c->rc != 0 || c->status != 200)
            continue;
        const unsigned char *p = (const unsigned char *)c->resp_body, *end = p + c->resp_len;
        for (size_t q = 0; q < gs.g[j].k && end - p >= 5; q++) {
            const cluster_chunk_read_t *r = &rd[gs.g[j].idx[q]];
            size_t len = (size_t)p[1] << 24 | (size_t)p[2] << 16 | (size_t)p[3] << 8 | p[4];
            if ((size_t)(end - p) - 5 < len)
                break;
            /* The whole chunk came back: checked end to end, then the wanted range is kept. */
            if (p[0] == 'S' && len == r->chunk_len && r->off <= len && r->len <= len - r->off &&
                XXH3_64bits(p + 5, len) == r->xxh3) {
                memcpy(r->buf, p + 5 + r->off, r->len);
                done[gs.g[j].idx[q]] = 1;
            }
            p += 5 + len;
        }
    }
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
        node_call_many(cl->client, calls, gs.n);
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

/* ---- record cache ---- */

/* The slot of table/key and its name ("table\0key") in name; 0 when the name is too long to cache. */
static size_t cl_rc_name(const char *table, og_str_t key, char name[CL_RC_NAME_MAX], size_t *slot)
{
    size_t tl = strlen(table);
    if (tl + 1 + key.len > CL_RC_NAME_MAX)
        return 0;
    memcpy(name, table, tl + 1);
    memcpy(name + tl + 1, key.base, key.len);
    *slot = (size_t)(XXH3_64bits(name, tl + 1 + key.len) % CL_RC_SLOTS);
    return tl + 1 + key.len;
}

/* Drops a cached copy of table/key and bumps its slot's generation, so a read that began before
 * this point cannot store what it read (it may predate the write that called this). */
static void cl_rc_forget(cluster_t *cl, const char *table, og_str_t key)
{
    char name[CL_RC_NAME_MAX];
    size_t slot, nl = cl_rc_name(table, key, name, &slot);
    if (nl == 0)
        return;
    cl_rcache_t *c = cl->rcache;
    pthread_mutex_lock(&c->mu);
    cl_rc_slot_t *e = &c->slot[slot];
    e->gen++;
    if (e->name_len == nl && memcmp(e->name, name, nl) == 0)
        e->at_ms = 0;
    pthread_mutex_unlock(&c->mu);
}

int cluster_rec_get_cached(cluster_t *cl, const char *table, og_str_t key, uint32_t max_age_ms, og_rec_t *rec,
                              char **buf)
{
    char name[CL_RC_NAME_MAX];
    size_t slot, nl = cl_rc_name(table, key, name, &slot);
    cl_rcache_t *c = cl->rcache;
    uint32_t gen = 0;
    char *copy = NULL;
    size_t len = 0;
    int rc;

    if (nl == 0)
        return cluster_rec_get(cl, table, key, rec, buf);
    pthread_mutex_lock(&c->mu);
    cl_rc_slot_t *e = &c->slot[slot];
    uint64_t now = og_mono_ms();
    if (e->at_ms && now - e->at_ms < max_age_ms && e->name_len == nl && memcmp(e->name, name, nl) == 0) {
        len = e->rec_len;
        if ((copy = malloc(len)) != NULL)
            memcpy(copy, e->rec, len);
    }
    gen = e->gen;
    pthread_mutex_unlock(&c->mu);
    if (copy) {
        if (og_rec_decode(copy, len, rec) == 0) {
            *buf = copy;
            return 0;
        }
        free(copy); /* cannot happen: only decodable records are stored */
    }

    if ((rc = cluster_rec_get(cl, table, key, rec, buf)) != 0 || (rec->flags & OG_REC_TOMBSTONE))
        return rc;
    len = og_rec_encoded_len(rec);
    if (len > CL_RC_REC_MAX)
        return 0;
    /* rec's slices point into *buf, which holds exactly the encoded record the node sent. */
    pthread_mutex_lock(&c->mu);
    if (e->gen == gen) {
        e->at_ms = og_mono_ms();
        e->name_len = (uint16_t)nl;
        e->rec_len = (uint16_t)len;
        memcpy(e->name, name, nl);
        og_rec_encode(rec, e->rec, sizeof(e->rec));
    }
    pthread_mutex_unlock(&c->mu);
    return 0;
}

/* ---- records ---- */

int cluster_rec_put(cluster_t *cl, const char *table, og_str_t key, const og_rec_t *rec)
{
    char suffix[CL_REC_SUFFIX_MAX], small[2048], *body = small;
    cl_op_t op;
    long rc;

    op.n = 0;
    op.paths_heap = NULL;
    if ((rc = cl_rec_suffix(table, key, suffix)) < 0)
        goto out_end;
    size_t slen = (size_t)rc, blen = og_rec_encoded_len(rec);
    if (blen > OG_REC_MAX_LEN) {
        rc = OG_ETOOBIG;
        goto out_end;
    }
    if (blen > sizeof(small) && !(body = malloc(blen))) {
        rc = -ENOMEM;
        goto out_end;
    }
    if ((rc = og_rec_encode(rec, body, blen)) < 0)
        goto out_free_body;
    node_call_t tmpl = {.method = "PUT", .body = body, .body_len = blen};
    if ((rc = cl_op_begin(cl, &op, table, strlen(table), suffix, slen, &tmpl, 0)) != 0)
        goto out_free_body;
    cl_op_run(&op);
    rc = cl_count_stored_primary(&op) >= cl->quorum ? 0 : OG_EQUORUM;
    /* After the write, whatever its outcome (a failed quorum may still have landed somewhere): a
     * cached copy must not outlive this gateway's own change. */
    cl_rc_forget(cl, table, key);
out_free_body:
    if (body != small)
        free(body);
out_end:
    cl_op_end(&op);
    return (int)rc;
}

/* A record read that settles its slot: the replica has the key. */
static int cl_has_record(const node_call_t *c)
{
    return c->rc == 0 && c->status == 200;
}

/* Writes the newest record back to the replicas in stale[] that answered with an older version or
 * none. Best effort: the read already has its answer; a failed repair is retried by the next read. */
static void cl_read_repair(cl_op_t *op, const size_t *stale, size_t nstale, const char *body, size_t len)
{
    node_call_t calls[RING_MAX_REPLICAS];
    for (size_t k = 0; k < nstale; k++)
        calls[k] = (node_call_t){.addr = op->call[stale[k]].addr,
                                 .method = "PUT",
                                 .path = op->call[stale[k]].path,
                                 .body = body,
                                 .body_len = len};
    node_call_many(op->cl->client, calls, nstale);
    for (size_t k = 0; k < nstale; k++)
        cl_call_release(&calls[k]);
}

int cluster_rec_get(cluster_t *cl, const char *table, og_str_t key, og_rec_t *rec, char **buf)
{
    char suffix[CL_REC_SUFFIX_MAX];
    og_rec_t got[RING_MAX_REPLICAS];
    int state[RING_MAX_REPLICAS]; /* 0 no answer, 1 has the record, 2 never saw the key */
    size_t stale[RING_MAX_REPLICAS], nstale = 0, primary_answers = 0, newest = SIZE_MAX;
    cl_op_t op;
    long rc;

    op.n = 0;
    op.paths_heap = NULL;
    if ((rc = cl_rec_suffix(table, key, suffix)) < 0)
        goto out_end;
    node_call_t tmpl = {.method = "GET", .resp_cap = OG_REC_MAX_LEN};
    if ((rc = cl_op_begin(cl, &op, table, strlen(table), suffix, (size_t)rc, &tmpl, 1)) != 0)
        goto out_end;
    cl_op_run_read(&op, cl_has_record);
    for (size_t i = 0; i < op.n; i++) {
        const node_call_t *c = &op.call[i];
        state[i] = 0;
        if (c->rc != 0)
            continue;
        if (c->status == 404)
            state[i] = 2;
        else if (c->status == 200 && og_rec_decode(c->resp_body, c->resp_len, &got[i]) == 0)
            state[i] = 1;
        if (state[i] == 0)
            continue;
        /* Only primaries count: writes need a quorum of primaries, so only a quorum of primaries
         * is sure to overlap every acknowledged write. A handoff holds just the writes made while
         * its primary was down; its record is still a candidate, its 404 says nothing. */
        primary_answers += !op.handoff[i];
        if (state[i] == 1 && (newest == SIZE_MAX || og_rec_cmp(&got[i], &got[newest]) > 0))
            newest = i;
    }
    if (primary_answers < cl->quorum) {
        rc = OG_EQUORUM;
        goto out_end;
    }
    if (newest == SIZE_MAX) {
        rc = OG_ENOTFOUND;
        goto out_end;
    }
    /* A handoff that lacks the key is not repaired: the record's home is its primaries, and
     * copying it onto every handoff a read happens to reach would only spread it. */
    for (size_t i = 0; i < op.n; i++)
        if ((state[i] == 2 && !op.handoff[i]) || (state[i] == 1 && og_rec_cmp(&got[i], &got[newest]) < 0))
            stale[nstale++] = i;
    if (nstale)
        cl_read_repair(&op, stale, nstale, op.call[newest].resp_body, op.call[newest].resp_len);
    *rec = got[newest];
    *buf = op.call[newest].resp_body;
    op.call[newest].resp_body = NULL; /* now the caller's */
    rc = 0;
out_end:
    cl_op_end(&op);
    return (int)rc;
}

/* ---- listing ---- */

typedef struct {
    size_t nbodies;
    char *bodies[RING_MAX_REPLICAS]; /* the replicas' answers, which entries point into */
    cluster_list_entry_t entries[];
} cl_list_mem_t;

/* One replica's answer, parsed. */
typedef struct {
    cluster_list_entry_t *e;
    size_t n, pos;
    int truncated;
} cl_list_src_t;

/* Parses a list answer (u32 keylen, key, record with empty detail)*. Entries are malloc'd into
 * src->e (the caller frees) and point into body. 0, OG_EPROTO or -ENOMEM. */
static int cl_list_parse(const char *body, size_t len, cl_list_src_t *src)
{
    const unsigned char *p = (const unsigned char *)body, *end = p + len;
    size_t cap = 0;
    src->e = NULL;
    src->n = src->pos = 0;
    while (p < end) {
        if (end - p < 4)
            return OG_EPROTO;
        size_t klen = og_be32_get(p);
        p += 4;
        if ((size_t)(end - p) < klen)
            return OG_EPROTO;
        const unsigned char *key = p, *r = p + klen;
        long flen = og_rec_frame_len(r, (size_t)(end - r));
        if (flen < 0)
            return OG_EPROTO;
        size_t rlen = (size_t)flen;
        if (src->n == cap) {
            size_t ncap = cap ? 2 * cap : 256;
            cluster_list_entry_t *ne = realloc(src->e, ncap * sizeof(*ne));
            if (!ne)
                return -ENOMEM;
            src->e = ne;
            cap = ncap;
        }
        cluster_list_entry_t *e = &src->e[src->n];
        e->key = (og_str_t){(const char *)key, klen};
        if (og_rec_decode(r, rlen, &e->rec) != 0)
            return OG_EPROTO;
        /* Keys must ascend, or the merge below would be wrong. */
        if (src->n > 0) {
            og_str_t prev = src->e[src->n - 1].key;
            size_t m = prev.len < klen ? prev.len : klen;
            int c = memcmp(prev.base, key, m);
            if (c > 0 || (c == 0 && prev.len >= klen))
                return OG_EPROTO;
        }
        src->n++;
        p = r + rlen;
    }
    return 0;
}

static int cl_key_cmp(og_str_t a, og_str_t b)
{
    size_t m = a.len < b.len ? a.len : b.len;
    int c = m ? memcmp(a.base, b.base, m) : 0;
    return c ? c : (a.len > b.len) - (a.len < b.len);
}

/* "/list/<table>?..." into out (CL_LIST_SUFFIX_MAX bytes). Returns the length or OG_EINVAL. */
static long cl_list_suffix(const char *table, og_str_t prefix, og_str_t after, size_t limit, char *out)
{
    if (!cl_table_valid(table) || prefix.len > OG_KEY_MAX || after.len > OG_KEY_MAX)
        return OG_EINVAL;
    size_t n = (size_t)snprintf(out, CL_LIST_SUFFIX_MAX, "/list/%s?limit=%zu", table, limit);
    long k;
    if (prefix.len) {
        n += (size_t)snprintf(out + n, CL_LIST_SUFFIX_MAX - n, "&prefix=");
        if ((k = og_urlencode(prefix.base, prefix.len, out + n, CL_LIST_SUFFIX_MAX - n, 0)) < 0)
            return k;
        n += (size_t)k;
    }
    if (after.len) {
        n += (size_t)snprintf(out + n, CL_LIST_SUFFIX_MAX - n, "&after=");
        if ((k = og_urlencode(after.base, after.len, out + n, CL_LIST_SUFFIX_MAX - n, 0)) < 0)
            return k;
        n += (size_t)k;
    }
    return (long)n;
}

/* Merges the replicas' answers into out. A truncated answer only speaks for keys up to its last
 * one: a key beyond it that another replica lacks might still exist there, so the merged page ends
 * at the smallest such last key. */
static int cl_list_merge(cl_list_src_t *src, size_t nsrc, size_t limit, cl_list_mem_t *mem, cluster_list_t *out)
{
    og_str_t bound = {NULL, 0}, last = {NULL, 0};
    int bounded = 0, more = 0;
    size_t raw = 0;

    for (size_t s = 0; s < nsrc; s++) {
        if (!src[s].truncated)
            continue;
        og_str_t k = src[s].e[src[s].n - 1].key;
        if (!bounded || cl_key_cmp(k, bound) < 0)
            bound = k;
        bounded = 1;
    }
    out->n = 0;
    for (;;) {
        const cluster_list_entry_t *min = NULL;
        for (size_t s = 0; s < nsrc; s++)
            if (src[s].pos < src[s].n && (!min || cl_key_cmp(src[s].e[src[s].pos].key, min->key) < 0))
                min = &src[s].e[src[s].pos];
        if (!min || (bounded && cl_key_cmp(min->key, bound) > 0))
            break;
        if (raw == limit) {
            more = 1;
            break;
        }
        const cluster_list_entry_t *best = min;
        og_str_t key = min->key;
        for (size_t s = 0; s < nsrc; s++) {
            if (src[s].pos < src[s].n && cl_key_cmp(src[s].e[src[s].pos].key, key) == 0) {
                if (og_rec_cmp(&src[s].e[src[s].pos].rec, &best->rec) > 0)
                    best = &src[s].e[src[s].pos];
                src[s].pos++;
            }
        }
        raw++;
        last = key;
        if (!(best->rec.flags & OG_REC_TOMBSTONE))
            mem->entries[out->n++] = *best;
    }
    out->entries = mem->entries;
    out->truncated = bounded || more;
    out->next_after = out->truncated ? last : (og_str_t){NULL, 0};
    return 0;
}

/* A listing answer that counts toward the quorum (parsed later; a malformed one widens nothing, as
 * before: it simply does not count). */
static int cl_list_answered(const node_call_t *c)
{
    return c->rc == 0 && c->status == 200;
}

int cluster_list(cluster_t *cl, const char *table, og_str_t prefix, og_str_t after, size_t limit, cluster_list_t *out)
{
    char suffix[CL_LIST_SUFFIX_MAX];
    cl_list_src_t src[RING_MAX_REPLICAS];
    size_t nsrc = 0, nprimary = 0, total = 0;
    cl_list_mem_t *mem = NULL;
    cl_op_t op;
    long rc;

    memset(out, 0, sizeof(*out));
    op.n = 0;
    op.paths_heap = NULL;
    if (limit == 0)
        limit = CL_LIST_DEFAULT;
    if (limit > CL_LIST_MAX)
        limit = CL_LIST_MAX;
    if ((rc = cl_list_suffix(table, prefix, after, limit, suffix)) < 0)
        goto out_end;
    node_call_t tmpl = {.method = "GET"};
    if ((rc = cl_op_begin(cl, &op, table, strlen(table), suffix, (size_t)rc, &tmpl, 1)) != 0)
        goto out_end;
    cl_op_run_read(&op, cl_list_answered);
    for (size_t i = 0; i < op.n; i++) {
        node_call_t *c = &op.call[i];
        if (c->rc != 0 || c->status != 200)
            continue;
        rc = cl_list_parse(c->resp_body, c->resp_len, &src[nsrc]);
        /* A malformed answer, or one claiming more without giving any, does not count. */
        if (rc != 0 || (c->truncated && src[nsrc].n == 0)) {
            free(src[nsrc].e);
            if (rc == -ENOMEM)
                goto out_free_src;
            continue;
        }
        src[nsrc].truncated = c->truncated;
        total += src[nsrc].n;
        nsrc++;
        /* As for records: a handoff's answer is merged (the writes it took) but is no evidence
         * that a key is absent, so only primaries make the quorum. */
        nprimary += !op.handoff[i];
    }
    if (nprimary < cl->quorum) {
        rc = OG_EQUORUM;
        goto out_free_src;
    }
    if (!(mem = malloc(sizeof(*mem) + (total < limit ? total : limit) * sizeof(cluster_list_entry_t)))) {
        rc = -ENOMEM;
        goto out_free_src;
    }
    /* The entries point into the answers: they move to mem, which the list owns from here. */
    mem->nbodies = 0;
    for (size_t i = 0; i < op.n; i++) {
        if (op.call[i].rc == 0 && op.call[i].status == 200 && op.call[i].resp_body) {
            mem->bodies[mem->nbodies++] = op.call[i].resp_body;
            op.call[i].resp_body = NULL;
        }
    }
    out->_mem = mem;
    rc = cl_list_merge(src, nsrc, limit, mem, out);
out_free_src:
    for (size_t s = 0; s < nsrc; s++)
        free(src[s].e);
out_end:
    cl_op_end(&op);
    return (int)rc;
}

/* ---- table usage ---- */

/* One primary's GET /<dev>/usage/<table> answer. 1 parsed, 0 not an answer. */
static int cl_usage_parse(const node_call_t *c, cluster_table_usage_t *u)
{
    char json[128];
    if (c->rc != 0 || c->status != 200 || !c->resp_body || c->resp_len >= sizeof(json))
        return 0;
    memcpy(json, c->resp_body, c->resp_len);
    json[c->resp_len] = '\0';
    return sscanf(json, "{\"records\":%" SCNu64 ",\"bytes\":%" SCNu64 "}", &u->records, &u->bytes) == 2;
}

int cluster_table_usage(cluster_t *cl, const char *table, cluster_table_usage_t *out)
{
    char suffix[sizeof("/usage/") + CL_TABLE_MAX];
    cluster_table_usage_t got[RING_MAX_REPLICAS];
    size_t n = 0, best = 0, best_votes = 0, tie = 0;
    cl_op_t op;
    int rc;

    memset(out, 0, sizeof(*out));
    op.n = 0;
    op.paths_heap = NULL;
    if (!cl_table_valid(table))
        return OG_EINVAL;
    int slen = snprintf(suffix, sizeof(suffix), "/usage/%s", table);
    node_call_t tmpl = {.method = "GET", .resp_cap = 4096};
    if ((rc = cl_op_begin(cl, &op, table, strlen(table), suffix, (size_t)slen, &tmpl, 1)) != 0)
        goto out_end;
    /* Primaries only: a handoff's aggregate counts only the writes it took while a primary was
     * down, which is no answer about the table. A quorum first; all primaries when it disagrees. */
    size_t q = cl->quorum < op.n ? cl->quorum : op.n;
    node_call_many(cl->client, op.call, q);
    for (size_t i = 0; i < q; i++)
        n += cl_usage_parse(&op.call[i], &got[n]);
    int agree = n == q;
    for (size_t i = 1; i < n && agree; i++)
        agree = got[i].records == got[0].records && got[i].bytes == got[0].bytes;
    if (!agree && op.n > q) {
        node_call_many(cl->client, op.call + q, op.n - q);
        for (size_t i = q; i < op.n; i++)
            n += cl_usage_parse(&op.call[i], &got[n]);
    }
    if (n < cl->quorum) {
        rc = OG_EQUORUM;
        goto out_end;
    }
    /* Replicas differ only when one missed writes (down, or a write acknowledged without it). The
     * value most primaries report is the state a quorum holds, as for a record read. Without a
     * majority (all differ), the largest: for a quota that refuses a write rather than letting one
     * past the limit, and for "is the container empty" it says no rather than yes. */
    for (size_t i = 0; i < n; i++) {
        size_t votes = 0;
        for (size_t j = 0; j < n; j++)
            votes += got[j].records == got[i].records && got[j].bytes == got[i].bytes;
        if (votes > best_votes)
            best = i, best_votes = votes, tie = 0;
        else if (votes == best_votes && (got[i].records != got[best].records || got[i].bytes != got[best].bytes))
            tie = 1;
    }
    if (tie) {
        for (size_t i = 0; i < n; i++) {
            out->records = got[i].records > out->records ? got[i].records : out->records;
            out->bytes = got[i].bytes > out->bytes ? got[i].bytes : out->bytes;
        }
    } else {
        *out = got[best];
    }
out_end:
    cl_op_end(&op);
    return rc;
}

void cluster_list_free(cluster_list_t *l)
{
    cl_list_mem_t *mem = l->_mem;
    if (mem) {
        for (size_t i = 0; i < mem->nbodies; i++)
            free(mem->bodies[i]);
        free(mem);
    }
    memset(l, 0, sizeof(*l));
}

int cluster_chunk_locate(cluster_t *cl, const uint8_t id[32], char (*addrs)[96], size_t cap)
{
    enum { PATH_LEN = 1 + RING_NAME_MAX + sizeof("/chunk/") + 64 };
    size_t n = ring_dev_count(cl->ring), found = 0;
    char hex[65];
    int rc = -ENOMEM;

    node_call_t *calls = calloc(n ? n : 1, sizeof(*calls));
    char(*paths)[PATH_LEN] = calloc(n ? n : 1, sizeof(*paths));
    if (!calls || !paths)
        goto out_free;
    og_hex(id, 32, hex);
    for (size_t i = 0; i < n; i++) {
        const ring_dev_t *d = ring_dev_at(cl->ring, i);
        snprintf(paths[i], PATH_LEN, "/%s/chunk/%s", d->name, hex);
        calls[i] = (node_call_t){.addr = d->addr, .method = "HEAD", .path = paths[i]};
    }
    node_call_many(cl->client, calls, n);
    for (size_t i = 0; i < n; i++) {
        if (calls[i].rc == 0 && calls[i].status == 200 && found < cap) {
            const ring_dev_t *d = ring_dev_at(cl->ring, i);
            snprintf(addrs[found++], 96, "%s/%s", d->addr, d->name);
        }
        cl_call_release(&calls[i]);
    }
    rc = (int)found;
out_free:
    free(paths);
    free(calls);
    return rc;
}

#define TABLE_EACH_PAGE 1000

/* Calls fn(ctx, key, rec) for every live record of table, page by page. */
int cluster_table_each(cluster_t *cl, const char *table,
                       int (*fn)(void *ctx, og_str_t key, const og_rec_t *rec), void *ctx)
{
    char after[OG_KEY_MAX];
    size_t after_len = 0;
    cluster_list_t page;
    int rc;
    for (;;) {
        if ((rc = cluster_list(cl, table, (og_str_t){NULL, 0}, (og_str_t){after, after_len}, TABLE_EACH_PAGE,
                                  &page)) != 0)
            return rc;
        for (size_t i = 0; i < page.n && rc == 0; i++)
            rc = fn(ctx, page.entries[i].key, &page.entries[i].rec);
        int more = page.truncated && page.next_after.len <= sizeof(after);
        if (more) {
            memcpy(after, page.next_after.base, page.next_after.len);
            after_len = page.next_after.len;
        }
        cluster_list_free(&page);
        if (rc != 0 || !more)
            return rc;
    }
}
