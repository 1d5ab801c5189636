/*
 * node_repl.c: anti-entropy. One thread per node walks, every interval, every partition each of
 * its devices is a primary of or holds items of, and makes the partition's primaries hold what
 * this device holds (docs/architecture.md, "Anti-entropy").
 *
 * Compare: each device keeps per partition a count and a sum of item hashes (node_store.c), so a
 * pass first fetches every other device's summaries (GET /<dev>/summaries, one call per peer)
 * and compares them in memory. Only a partition whose summaries differ costs more: the peer's
 * item hashes (GET /<dev>/part/<n>/list, paged) are fetched, and the local items the peer lacks
 * are pushed with the ordinary writes (PUT chunk, PUT rec with the record's own stamp, which
 * the peer keeps by last-writer-wins). Push only: each replica's own pass pushes what the others
 * lack, so two passes make a partition whole whichever side missed writes.
 *
 * Sharing the pushes: when a partition's primaries first disagree, each primary that holds items a
 * peer lacks pushes only its share of them (item hash mod the number of the other primaries), so a
 * node that missed writes gets each item once instead of from every other replica; a partition
 * that still differs at the next pass (a sharer was missing items itself, or failed) gets every
 * item pushed by every primary, as before. Likewise after a ring change: while a device that is
 * no longer a primary holds at least as many of the partition's items as this one (it pushes
 * them all, as a handoff), the primaries leave the new primary to it for one pass.
 *
 * Handoffs: a device holding items of a partition it is not a primary of pushes them to every
 * primary and drops its copy only once every primary holds the item (in its list, or its push
 * answered 2xx: "stored" or "as new or newer"). A replaced empty disk is refilled the same way:
 * its peers see its empty summary and push.
 *
 * Tombstones older than the reclaim age are dropped by a primary once every other primary holds
 * them, or holds no version of the key at all (GET rec 404: nothing there a tombstone must
 * shadow; this is what lets the replicas that purge later stop re-sending it to those that purged
 * first). A reclaimable tombstone is not pushed to a peer without the key, for the same reason.
 *
 * Garbage collection: a push carries X-Onggi-Replica, and a device whose gc sweep deleted the
 * chunk within the last hour refuses it (409, counted as held): otherwise a device not swept yet
 * would push every garbage chunk back to the devices swept before it.
 *
 * Ring changes: each round of passes pins the ring in use (ring_box_t) and works on it alone; a
 * ring installed meanwhile (PUT /ring, node_ring.c) is taken at the next round. A partition this
 * device stopped being a primary of is then a handoff like any other: pushed to its new primaries
 * and dropped once they all hold it; its remaining items and chunk bytes are the device's
 * "to move" figures (repl_handoff_items / repl_handoff_bytes), what it pushed and dropped from
 * such partitions its "moved" ones. A new primary gets its share from the others' passes, which
 * see its summary differ.
 *
 * Rates: items examined (local and listed) and bytes pushed are paced to items_rate/bytes_rate
 * per pass. A peer that fails is skipped, with exponential backoff (1 s doubling to 1 min), and
 * the pass goes on with the others. Nothing is remembered across restarts: the work is
 * recomputed from the summaries.
 */
#include "node_client.h"
#include "node_int.h"
#include "og_rec.h"
#include "ring.h"

#include <errno.h>
#include <inttypes.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#define REPL_TIMEOUT_MS 10000
#define REPL_BACKOFF_MIN_NS 1000000000ull
#define REPL_BACKOFF_MAX_NS 60000000000ull
#define REPL_PAGE 256            /* local items read per index walk step */
#define REPL_LIST_LIMIT 5000     /* peer items per list call */
#define REPL_RECLAIM_WALK_S 3600 /* in-sync partitions are walked for old tombstones this often */
#define SUM_LEN 20               /* u32 part | u64 count | u64 digest */
/* Longest item handled: 'r' + table + NUL + key, a key being at most a node request head. */
#define REPL_ITEM_MAX (2 + 255 + 16384)
#define NS 1000000000ull

typedef struct {
    uint32_t part;
    uint64_t count, digest;
} part_sum_t;

typedef struct {
    uint64_t retry_at_ns, backoff_ns;
    int ok;          /* its summaries were fetched for the current device pass */
    part_sum_t *sums; /* sorted by part */
    size_t nsums;
} peer_t;

struct st_node_repl_t {
    ring_box_t *box;
    const char *self;
    ring_view_t view;     /* pinned for one round of passes */
    const ring_t *ring;   /* view.ring */
    uint64_t peers_epoch; /* the ring epoch peers[] is laid out for */
    size_t npeers;
    const node_dev_t *devs;
    const ring_dev_t **rdevs; /* ring device of devs[i] in `ring`, NULL when it has none */
    node_repl_stat_t *stats;
    size_t ndevs;
    node_repl_opts_t o;
    node_client_t *client;
    peer_t *peers;   /* per ring device (ring_dev_at order) */
    char *chunk_buf; /* NODE_CHUNK_MAX: a chunk being pushed */
    uint64_t pace_start_ns, pace_items, pace_bytes;
    uint64_t next_reclaim_walk_ns;
    uint8_t *differed; /* [ndevs << part power]: the partition differed from a peer at the last pass */
    int reclaim_walk; /* this pass also walks in-sync partitions for old tombstones */

    pthread_t th;
    pthread_mutex_t mu;
    pthread_cond_t cv;
    int stopping; /* under mu */
};

/* One partition of one local device being made whole. */
typedef struct {
    node_repl_t *r;
    size_t di;
    uint32_t part;
    int isprim;
    size_t npeers;                    /* the other primaries */
    size_t peer[RING_MAX_REPLICAS];   /* their ring indexes */
    int equal[RING_MAX_REPLICAS];     /* its summary equals ours: it holds every item we hold */
    int listed[RING_MAX_REPLICAS];    /* else whether its item list was fetched (0: unreachable) */
    uint64_t *set[RING_MAX_REPLICAS]; /* its item hashes, sorted */
    size_t nset[RING_MAX_REPLICAS];
    uint64_t now_ns;
    uint64_t left_items, left_bytes;    /* handoff: items (chunk bytes) still held after the walk */
    uint8_t share_k[RING_MAX_REPLICAS]; /* push to peer j only items with hash % share_k == share_rank;
                                           0: none this pass */
    uint8_t share_rank[RING_MAX_REPLICAS];
    uint8_t peer_before_self[RING_MAX_REPLICAS]; /* peer j comes before this device in the primaries */
} part_job_t;

/* ---- time, pacing, stop ---- */

static uint64_t mono_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * NS + (uint64_t)ts.tv_nsec;
}

/* Sleeps ns unless stop begins first. 1 when stopping, else 0. */
static int repl_sleep(node_repl_t *r, uint64_t ns)
{
    struct timespec until;
    clock_gettime(CLOCK_REALTIME, &until);
    uint64_t t = (uint64_t)until.tv_nsec + ns;
    until.tv_sec += (time_t)(t / NS);
    until.tv_nsec = (long)(t % NS);
    pthread_mutex_lock(&r->mu);
    while (!r->stopping && pthread_cond_timedwait(&r->cv, &r->mu, &until) == 0)
        ;
    int stopping = r->stopping;
    pthread_mutex_unlock(&r->mu);
    return stopping;
}

static int repl_stopping(node_repl_t *r)
{
    pthread_mutex_lock(&r->mu);
    int stopping = r->stopping;
    pthread_mutex_unlock(&r->mu);
    return stopping;
}

/* Counts work and sleeps as long as the pass is ahead of its rates. 1 when stopping, else 0. */
static int repl_pace(node_repl_t *r, uint64_t items, uint64_t bytes)
{
    r->pace_items += items;
    r->pace_bytes += bytes;
    double due_i = (double)r->pace_items / (double)r->o.items_rate,
           due_b = (double)r->pace_bytes / (double)r->o.bytes_rate;
    uint64_t due = (uint64_t)((due_i > due_b ? due_i : due_b) * 1e9);
    uint64_t spent = mono_ns() - r->pace_start_ns;
    return due > spent ? repl_sleep(r, due - spent) : repl_stopping(r);
}

/* ---- peers ---- */

static size_t ring_index(const node_repl_t *r, const ring_dev_t *d)
{
    size_t i = 0;
    while (ring_dev_at(r->ring, i) != d)
        i++;
    return i;
}

static void peer_failed(node_repl_t *r, size_t di, size_t pi)
{
    peer_t *p = &r->peers[pi];
    p->backoff_ns = p->backoff_ns ? p->backoff_ns * 2 : REPL_BACKOFF_MIN_NS;
    if (p->backoff_ns > REPL_BACKOFF_MAX_NS)
        p->backoff_ns = REPL_BACKOFF_MAX_NS;
    p->retry_at_ns = mono_ns() + p->backoff_ns;
    p->ok = 0;
    atomic_fetch_add(&r->stats[di].errors, 1);
}

/* One call to device pi. 0 with call->status 2xx or also_ok (0: none), else the failure is
 * counted against the peer (backoff) and NODE_EDOWN / NODE_ESTATUS / ... returned. */
static int peer_call(node_repl_t *r, size_t di, size_t pi, node_call_t *call, int also_ok)
{
    call->addr = ring_dev_at(r->ring, pi)->addr;
    int rc = node_call(r->client, call);
    if (rc == 0 && !(call->status / 100 == 2 || (also_ok && call->status == also_ok)))
        rc = NODE_ESTATUS;
    if (rc != 0)
        peer_failed(r, di, pi);
    return rc;
}

static int sum_cmp(const void *a, const void *b)
{
    uint32_t x = ((const part_sum_t *)a)->part, y = ((const part_sum_t *)b)->part;
    return x < y ? -1 : x > y;
}

/* Fetches every partition summary of device pi into its peer_t (p->ok). Skipped while its
 * backoff runs. */
static void peer_sums_fetch(node_repl_t *r, size_t di, size_t pi)
{
    peer_t *p = &r->peers[pi];
    char path[RING_NAME_MAX + 16];
    p->ok = 0;
    if (mono_ns() < p->retry_at_ns)
        return;
    snprintf(path, sizeof(path), "/%s/summaries", ring_dev_at(r->ring, pi)->name);
    node_call_t call = {.method = "GET", .path = path};
    if (peer_call(r, di, pi, &call, 0) != 0)
        goto out_free;
    size_t n = call.resp_len / SUM_LEN;
    part_sum_t *v = realloc(p->sums, (n ? n : 1) * sizeof(*v));
    if (!v) {
        atomic_fetch_add(&r->stats[di].errors, 1);
        goto out_free;
    }
    for (size_t i = 0; i < n; i++) {
        const unsigned char *e = (const unsigned char *)call.resp_body + i * SUM_LEN;
        v[i] = (part_sum_t){og_be32_get(e), og_be64_get(e + 4), og_be64_get(e + 12)};
    }
    p->sums = v;
    p->nsums = n;
    p->ok = 1;
    p->backoff_ns = 0;
out_free:
    free(call.resp_body);
}

/* The summary of part in sums[0..n) (sorted); 0/0 when absent. */
static part_sum_t sums_find(const part_sum_t *sums, size_t n, uint32_t part)
{
    part_sum_t key = {part, 0, 0}, *f = n ? bsearch(&key, sums, n, sizeof(*sums), sum_cmp) : NULL;
    return f ? *f : key;
}

static int u64_cmp(const void *a, const void *b)
{
    uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;
    return x < y ? -1 : x > y;
}

/* Appends the item hashes of one list page (u16 len | item | u64 hash entries) to *set; sets
 * *last / *llen to the last item. 0, OG_EPROTO or -ENOMEM. */
static int set_add_page(const char *body, size_t len, uint64_t **set, size_t *n, size_t *cap, const char **last,
                        size_t *llen)
{
    size_t off = 0;
    while (off < len) {
        if (len - off < 2)
            return OG_EPROTO;
        size_t il = og_be16_get((const unsigned char *)body + off);
        if (len - off < 2 + il + 8 || il == 0)
            return OG_EPROTO;
        if (*n == *cap) {
            size_t ncap = *cap ? *cap * 2 : 1024;
            uint64_t *v = realloc(*set, ncap * sizeof(*v));
            if (!v)
                return -ENOMEM;
            *set = v;
            *cap = ncap;
        }
        (*set)[(*n)++] = og_be64_get((const unsigned char *)body + off + 2 + il);
        *last = body + off + 2;
        *llen = il;
        off += 2 + il + 8;
    }
    return 0;
}

/* Fetches the sorted item hashes of partition part on peer pi (all pages) into job->set[j] and
 * sets job->listed[j]. 0, or an error (the peer is then backed off). */
static int peer_set_fetch(part_job_t *job, size_t j)
{
    node_repl_t *r = job->r;
    size_t pi = job->peer[j], n = 0, cap = 0, alen = 0;
    uint64_t *set = NULL;
    char *path = NULL;
    int rc = -ENOMEM, truncated = 1;
    /* The 'after' item is hex in the path. */
    size_t pcap = RING_NAME_MAX + 96 + 2 * REPL_ITEM_MAX;
    if (!(path = malloc(pcap)))
        goto out_fail;
    int plen = snprintf(path, pcap, "/%s/part/%" PRIu32 "/list?limit=%u", ring_dev_at(r->ring, pi)->name, job->part,
                        REPL_LIST_LIMIT);
    while (truncated) {
        node_call_t call = {.method = "GET", .path = path};
        if ((rc = peer_call(r, job->di, pi, &call, 0)) != 0)
            goto out_fail;
        const char *last = NULL;
        size_t llen = 0;
        rc = set_add_page(call.resp_body, call.resp_len, &set, &n, &cap, &last, &llen);
        truncated = call.truncated && last && 2 * llen + (size_t)plen + 8 < pcap;
        if (rc == 0 && truncated) {
            alen = (size_t)snprintf(path + plen, pcap - (size_t)plen, "&after=");
            og_hex(last, llen, path + plen + alen);
        }
        free(call.resp_body);
        if (rc != 0 || repl_pace(r, call.resp_len / 16, 0))
            goto out_fail;
    }
    if (n)
        qsort(set, n, sizeof(*set), u64_cmp);
    job->listed[j] = 1;
    job->set[j] = set;
    job->nset[j] = n;
    free(path);
    return 0;

out_fail:
    free(set);
    free(path);
    return rc;
}

/* ---- items ---- */

/* Splits a record item 'r' + table + '\0' + key. 0 or OG_EPROTO. */
static int rec_item_split(const char *item, size_t len, og_str_t *table, og_str_t *key)
{
    const char *nul = memchr(item + 1, '\0', len - 1);
    if (item[0] != 'r' || !nul || nul == item + 1 || nul + 1 == item + len)
        return OG_EPROTO;
    *table = (og_str_t){item + 1, (size_t)(nul - item - 1)};
    *key = (og_str_t){nul + 1, len - (size_t)(nul + 1 - item)};
    return 0;
}

/* PUTs body to path on peer j (a push). 0 when the peer holds it, or something newer, now; also
 * on 409, a chunk its gc sweep just deleted (garbage: nothing to hold). */
static int peer_put(part_job_t *job, size_t j, const char *path, const og_header_t *h, size_t nh, const void *body,
                    size_t blen)
{
    node_repl_t *r = job->r;
    node_call_t call = {.method = "PUT", .path = path, .headers = h, .num_headers = nh, .body = body,
                        .body_len = blen, .resp_cap = 4096};
    int rc = peer_call(r, job->di, job->peer[j], &call, 409);
    free(call.resp_body);
    if (rc == 0 && call.status != 409) {
        atomic_fetch_add(&r->stats[job->di].items_pushed, 1);
        atomic_fetch_add(&r->stats[job->di].bytes_pushed, blen);
        repl_pace(r, 0, blen); /* a stop shows at the walk's next page */
    }
    return rc;
}

/* Pushes the local chunk 'c' + id to peer j. 0 when the peer holds it, OG_ENOTFOUND when it is
 * gone here meanwhile, or an error (a corrupt local copy is never sent). */
static int chunk_push(part_job_t *job, size_t j, const uint8_t *id)
{
    node_repl_t *r = job->r;
    uint32_t len;
    uint64_t xxh3;
    char path[RING_NAME_MAX + 16 + 2 * NODE_ID_LEN], xx[17];
    int rc = node_store_chunk_get(r->devs[job->di].store, id, r->chunk_buf, NODE_CHUNK_MAX, &len, &xxh3);
    if (rc != 0) {
        if (rc != OG_ENOTFOUND)
            atomic_fetch_add(&r->stats[job->di].errors, 1);
        return rc;
    }
    int n = snprintf(path, sizeof(path), "/%s/chunk/", ring_dev_at(r->ring, job->peer[j])->name);
    og_hex(id, NODE_ID_LEN, path + n);
    snprintf(xx, sizeof(xx), "%016" PRIx64, xxh3);
    og_header_t h[2] = {{OG_STR_LIT("X-Onggi-Xxh3"), {xx, 16}}, {OG_STR_LIT("X-Onggi-Replica"), OG_STR_LIT("1")}};
    return peer_put(job, j, path, h, 2, r->chunk_buf, len);
}

/* "/<peer dev>/rec/<table>/<percent-encoded key>" into a malloc'd string (caller frees), or NULL. */
static char *rec_path(const part_job_t *job, size_t j, og_str_t table, og_str_t key)
{
    size_t cap = RING_NAME_MAX + 8 + table.len + 3 * key.len + 1;
    char *p = malloc(cap);
    if (!p)
        return NULL;
    int n = snprintf(p, cap, "/%s/rec/%.*s/", ring_dev_at(job->r->ring, job->peer[j])->name, (int)table.len,
                     table.base);
    if (og_urlencode(key.base, key.len, p + n, cap - (size_t)n, 0) < 0) {
        free(p);
        return NULL;
    }
    return p;
}

/* Makes peer j hold record rec (rlen bytes) of table/key, or something newer. A reclaimable
 * tombstone is not sent to a peer without the key (see the note at the top): that peer counts as
 * holding it. 0 when the peer holds it (or may go without), or an error. */
static int rec_push(part_job_t *job, size_t j, og_str_t table, og_str_t key, const char *rec, size_t rlen,
                    int reclaimable)
{
    char *path = rec_path(job, j, table, key);
    int rc = -ENOMEM;
    if (!path)
        return rc;
    if (reclaimable) {
        node_call_t call = {.method = "GET", .path = path, .resp_cap = OG_REC_MAX_LEN};
        rc = peer_call(job->r, job->di, job->peer[j], &call, 404);
        free(call.resp_body);
        if (rc != 0 || call.status == 404)
            goto out_free;
    }
    rc = peer_put(job, j, path, NULL, 0, rec, rlen);
out_free:
    free(path);
    return rc;
}

static int set_has(const uint64_t *set, size_t n, uint64_t h)
{
    return set && n && bsearch(&h, set, n, sizeof(h), u64_cmp) != NULL;
}

/* 1 when rec is a tombstone older than the reclaim age. */
static int rec_reclaimable(const part_job_t *job, const char *rec, size_t rlen)
{
    og_rec_t r;
    uint64_t age = job->r->o.reclaim_age_s * NS;
    return og_rec_decode(rec, rlen, &r) == 0 && (r.flags & OG_REC_TOMBSTONE) && r.ts + age < job->now_ns;
}

/* Drops the local copy of item once every primary holds it. */
static void item_drop(part_job_t *job, const char *item, size_t len, uint64_t hash, og_str_t table, og_str_t key)
{
    node_store_t *st = job->r->devs[job->di].store;
    uint32_t clen = 0;
    uint64_t xxh3;
    if (item[0] == 'c' && node_store_chunk_stat(st, (const uint8_t *)item + 1, &clen, &xxh3) != 0)
        clen = 0;
    int rc = item[0] == 'c' ? node_store_chunk_delete(st, (const uint8_t *)item + 1)
                            : node_store_rec_drop(st, table, key, hash);
    if (rc == 0)
        atomic_fetch_add(&job->r->stats[job->di].items_removed, 1);
    if (rc == 0 && !job->isprim) {
        atomic_fetch_add(&job->r->stats[job->di].moved_items, 1);
        atomic_fetch_add(&job->r->stats[job->di].moved_bytes, clen);
    } else if (rc != OG_ENOTFOUND && rc != OG_EEXIST)
        atomic_fetch_add(&job->r->stats[job->di].errors, 1);
}

/* Counts a handoff item still held after item_sync into the partition's "to move" figures. */
static void handoff_left(part_job_t *job, const char *item, size_t len)
{
    uint32_t clen = 0;
    uint64_t xxh3;
    job->left_items++;
    if (item[0] == 'c' && len == 1 + NODE_ID_LEN &&
        node_store_chunk_stat(job->r->devs[job->di].store, (const uint8_t *)item + 1, &clen, &xxh3) == 0)
        job->left_bytes += clen;
}

/* Makes every other primary hold item (hash): peers whose summary or list shows it are left
 * alone, the others get it pushed. Then drops the local copy when this device is a handoff, or
 * the item a reclaimable tombstone, and every primary holds it. */
static void item_sync(part_job_t *job, const char *item, size_t len, uint64_t hash)
{
    node_store_t *st = job->r->devs[job->di].store;
    og_str_t table = {NULL, 0}, key = {NULL, 0};
    char *rec = NULL;
    size_t rlen = 0, held = 0;
    int reclaimable = 0;
    if (item[0] == 'r') {
        if (rec_item_split(item, len, &table, &key) != 0 || node_store_rec_get(st, table, key, &rec, &rlen) != 0)
            return; /* gone meanwhile, or not an item this code wrote */
        reclaimable = rec_reclaimable(job, rec, rlen);
    } else if (item[0] != 'c' || len != 1 + NODE_ID_LEN) {
        return;
    }
    for (size_t j = 0; j < job->npeers; j++) {
        if (job->equal[j] || set_has(job->set[j], job->nset[j], hash))
            held++;
        else if (job->share_k[j] == 0 || hash % job->share_k[j] != job->share_rank[j])
            continue; /* a handoff's or another primary's share */
        else if (job->listed[j] && mono_ns() >= job->r->peers[job->peer[j]].retry_at_ns)
            held += (item[0] == 'c' ? chunk_push(job, j, (const uint8_t *)item + 1)
                                    : rec_push(job, j, table, key, rec, rlen, reclaimable)) == 0;
    }
    if (held == job->npeers && (!job->isprim || reclaimable))
        item_drop(job, item, len, hash, table, key);
    else if (!job->isprim)
        handoff_left(job, item, len);
    free(rec);
}

/* ---- partitions ---- */

typedef struct {
    char *buf; /* entries u16 len | item | u64 hash, as the list endpoint sends them */
    size_t used, cap;
} page_t;

static int page_add(void *arg, const char *item, size_t len, uint64_t hash)
{
    page_t *pg = arg;
    int rc = node_buf_grow(&pg->buf, &pg->cap, pg->used + 2 + len + 8);
    if (rc != 0)
        return rc;
    unsigned char *p = (unsigned char *)pg->buf + pg->used;
    og_be16_put(p, (uint16_t)len);
    memcpy(p + 2, item, len);
    og_be64_put(p + 2 + len, hash);
    pg->used += 2 + len + 8;
    return 0;
}

/* Runs item_sync over the partition's local items, a page at a time (the index is not held
 * while pushing); records_only starts after the chunks ('c' < 'r'). */
static void part_walk(part_job_t *job, int records_only)
{
    node_repl_t *r = job->r;
    page_t pg = {0};
    char last[REPL_ITEM_MAX];
    size_t alen = records_only;
    int truncated = 1, rc = 0;
    last[0] = 'r';
    while (truncated && rc == 0) {
        pg.used = 0;
        rc = node_store_part_list(r->devs[job->di].store, job->part, alen ? last : NULL, alen, REPL_PAGE, page_add,
                                  &pg, &truncated);
        if (rc != 0) {
            atomic_fetch_add(&r->stats[job->di].errors, 1);
            break;
        }
        size_t off = 0, n = 0;
        while (off < pg.used) {
            size_t il = og_be16_get((const unsigned char *)pg.buf + off);
            const char *item = pg.buf + off + 2;
            item_sync(job, item, il, og_be64_get((const unsigned char *)item + il));
            if (il <= sizeof(last)) {
                memcpy(last, item, il);
                alen = il;
            }
            off += 2 + il + 8;
            n++;
        }
        rc = repl_pace(r, n, 0);
    }
    free(pg.buf);
}

/* 1 when a reachable device that is not a primary of the partition holds at least `count` of its
 * items (a handoff that pushes them all to the primaries). */
static int handoff_holds(const part_job_t *job, uint64_t count)
{
    const node_repl_t *r = job->r;
    for (size_t pi = 0; pi < r->npeers; pi++) {
        int prim = ring_dev_at(r->ring, pi) == r->rdevs[job->di];
        for (size_t j = 0; j < job->npeers && !prim; j++)
            prim = job->peer[j] == pi;
        if (!prim && r->peers[pi].ok && sums_find(r->peers[pi].sums, r->peers[pi].nsums, job->part).count >= count)
            return 1;
    }
    return 0;
}

/* Sets each peer's push share (see the top comment): this device's rank among the primaries other
 * than the peer, when it is a primary, the partition did not differ at the last pass and every
 * other sharer answered its summaries; none at all (share_k 0) when a handoff holds as much as
 * this device; else share_k 1 (push everything). */
static void part_shares(part_job_t *job, int differed, uint64_t count)
{
    int defer = job->isprim && !differed && count > 0 && handoff_holds(job, count);
    for (size_t j = 0; j < job->npeers; j++) {
        job->share_k[j] = defer ? 0 : 1;
        job->share_rank[j] = 0;
        if (!job->isprim || differed || defer)
            continue;
        size_t rank = 0, k;
        int ok = 1;
        for (k = 0; k < job->npeers; k++) {
            if (k == j)
                continue;
            ok &= job->r->peers[job->peer[k]].ok;
            rank += job->peer_before_self[k];
        }
        if (ok) {
            job->share_k[j] = (uint8_t)job->npeers; /* the other peers and this device */
            job->share_rank[j] = (uint8_t)rank;
        }
    }
}

/* Compares partition part (local summary own) with its other primaries and makes them hold what
 * this device holds; counts the partition in *checked / *in_sync / *handoff. */
static void part_check(node_repl_t *r, size_t di, uint32_t part, part_sum_t own, uint64_t *checked, uint64_t *in_sync,
                       uint64_t *handoff, uint64_t *handoff_bytes)
{
    const ring_dev_t *prims[RING_MAX_REPLICAS];
    size_t np = ring_primaries(r->ring, part, prims, RING_MAX_REPLICAS);
    part_job_t job = {.r = r, .di = di, .part = part, .now_ns = og_time_ns()};
    for (size_t i = 0; i < np; i++) {
        if (prims[i] == r->rdevs[di]) {
            job.isprim = 1;
        } else {
            job.peer_before_self[job.npeers] = !job.isprim;
            job.peer[job.npeers++] = ring_index(r, prims[i]);
        }
    }
    if (!job.isprim && own.count == 0)
        return;
    (*checked)++;
    int sync = 1, differ = 0;
    for (size_t j = 0; j < job.npeers; j++) {
        const peer_t *p = &r->peers[job.peer[j]];
        part_sum_t s = sums_find(p->sums, p->nsums, part);
        job.equal[j] = p->ok && s.count == own.count && s.digest == own.digest;
        sync &= job.equal[j];
        if (p->ok && !job.equal[j] && own.count > 0)
            differ |= peer_set_fetch(&job, j) == 0;
    }
    *in_sync += sync;
    uint8_t *was = &r->differed[(di << ring_part_power(r->ring)) + part];
    part_shares(&job, *was, own.count);
    *was = (uint8_t)differ;
    if (differ || (!job.isprim && own.count > 0))
        part_walk(&job, 0);
    else if (r->reclaim_walk && own.count > 0)
        part_walk(&job, 1);
    *handoff += job.left_items;
    *handoff_bytes += job.left_bytes;
    for (size_t j = 0; j < job.npeers; j++)
        free(job.set[j]);
}

typedef struct {
    part_sum_t *v;
    size_t n, cap;
} sums_t;

static int own_sum_add(void *arg, uint32_t part, uint64_t count, uint64_t digest)
{
    sums_t *s = arg;
    if (s->n == s->cap) {
        size_t ncap = s->cap ? s->cap * 2 : 256;
        part_sum_t *v = realloc(s->v, ncap * sizeof(*v));
        if (!v)
            return -ENOMEM;
        s->v = v;
        s->cap = ncap;
    }
    s->v[s->n++] = (part_sum_t){part, count, digest};
    return 0;
}

/* One pass over every partition of local device di; its counters are published only when the
 * pass completes. */
static void dev_pass(node_repl_t *r, size_t di)
{
    node_repl_stat_t *st = &r->stats[di];
    uint64_t start_ms = og_time_ns() / 1000000, checked = 0, in_sync = 0, handoff = 0, handoff_bytes = 0;
    sums_t own = {0};
    for (size_t pi = 0; pi < ring_dev_count(r->ring); pi++)
        if (ring_dev_at(r->ring, pi) != r->rdevs[di])
            peer_sums_fetch(r, di, pi);
    if (node_store_sweep_marks_expire(r->devs[di].store, og_time_ns() - NODE_SWEEP_MARK_S * NS) != 0 ||
        node_store_part_summaries(r->devs[di].store, own_sum_add, &own) != 0) {
        atomic_fetch_add(&st->errors, 1);
        goto out_free;
    }
    uint64_t nparts = 1ull << ring_part_power(r->ring);
    for (uint64_t part = 0; part < nparts; part++) {
        part_check(r, di, (uint32_t)part, sums_find(own.v, own.n, (uint32_t)part), &checked, &in_sync, &handoff,
                   &handoff_bytes);
        if (repl_stopping(r))
            goto out_free;
    }
    atomic_store(&st->last_start_ms, start_ms);
    atomic_store(&st->last_end_ms, og_time_ns() / 1000000);
    atomic_store(&st->parts_checked, checked);
    atomic_store(&st->parts_in_sync, in_sync);
    atomic_store(&st->handoff_items, handoff);
    atomic_store(&st->handoff_bytes, handoff_bytes);
    atomic_store(&st->ring_epoch, ring_epoch(r->ring));
    atomic_fetch_add(&st->passes, 1);
out_free:
    free(own.v);
}

static void peers_free(node_repl_t *r)
{
    for (size_t i = 0; r->peers && i < r->npeers; i++)
        free(r->peers[i].sums);
    free(r->peers);
    r->peers = NULL;
    r->npeers = 0;
}

/* Pins the ring in use for one round: finds the ring device of each local device, and lays
 * peers[] out again when the ring changed (their backoffs start over). 0 or -ENOMEM (the round
 * is skipped; the view is pinned either way). */
static int repl_ring_pin(node_repl_t *r)
{
    ring_box_get(r->box, &r->view);
    r->ring = r->view.ring;
    if (!r->differed &&
        !(r->differed = calloc(r->ndevs ? r->ndevs << ring_part_power(r->ring) : 1, sizeof(*r->differed))))
        return -ENOMEM;
    if (!r->peers || r->peers_epoch != ring_epoch(r->ring)) {
        peers_free(r);
        if (!(r->peers = calloc(ring_dev_count(r->ring) + 1, sizeof(*r->peers))))
            return -ENOMEM;
        r->npeers = ring_dev_count(r->ring);
        r->peers_epoch = ring_epoch(r->ring);
    }
    for (size_t i = 0; i < r->ndevs; i++) {
        r->rdevs[i] = NULL;
        for (size_t k = 0; k < ring_dev_count(r->ring); k++) {
            const ring_dev_t *d = ring_dev_at(r->ring, k);
            if (strcmp(d->addr, r->self) == 0 && strcmp(d->name, r->devs[i].name) == 0)
                r->rdevs[i] = d;
        }
    }
    return 0;
}

static void *repl_main(void *arg)
{
    node_repl_t *r = arg;
    do {
        uint64_t now = mono_ns(), walk_s = r->o.reclaim_age_s < REPL_RECLAIM_WALK_S ? r->o.reclaim_age_s
                                                                                      : REPL_RECLAIM_WALK_S;
        r->pace_start_ns = now;
        r->pace_items = r->pace_bytes = 0;
        r->reclaim_walk = now >= r->next_reclaim_walk_ns;
        if (r->reclaim_walk)
            r->next_reclaim_walk_ns = now + walk_s * NS;
        if (repl_ring_pin(r) == 0)
            for (size_t di = 0; di < r->ndevs && !repl_stopping(r); di++)
                dev_pass(r, di);
        ring_box_put(r->box, &r->view);
        r->ring = NULL;
    } while (!repl_sleep(r, (uint64_t)(r->o.interval_s * 1e9)));
    return NULL;
}

/* ---- start / stop ---- */

static void repl_free(node_repl_t *r)
{
    peers_free(r);
    free(r->differed);
    free(r->rdevs);
    free(r->chunk_buf);
    node_client_free(r->client);
    pthread_cond_destroy(&r->cv);
    pthread_mutex_destroy(&r->mu);
    free(r);
}

int node_repl_start(ring_box_t *box, const og_keys_t *keys, const char *self, const node_dev_t *devs, size_t ndevs,
                    node_repl_stat_t *stats, const node_repl_opts_t *opts, node_repl_t **out)
{
    node_repl_t *r = calloc(1, sizeof(*r));
    if (!r)
        return -ENOMEM;
    *r = (node_repl_t){.box = box, .self = self, .devs = devs, .ndevs = ndevs, .stats = stats, .o = *opts};
    pthread_mutex_init(&r->mu, NULL);
    pthread_cond_init(&r->cv, NULL);
    r->client = node_client_new(keys, REPL_TIMEOUT_MS, 2);
    r->rdevs = calloc(ndevs + 1, sizeof(*r->rdevs));
    r->chunk_buf = malloc(NODE_CHUNK_MAX);
    if (!r->client || !r->rdevs || !r->chunk_buf) {
        repl_free(r);
        return -ENOMEM;
    }
    int rc = pthread_create(&r->th, NULL, repl_main, r);
    if (rc != 0) {
        repl_free(r);
        return -rc;
    }
    *out = r;
    return 0;
}

void node_repl_stop(node_repl_t *r)
{
    if (!r)
        return;
    pthread_mutex_lock(&r->mu);
    r->stopping = 1;
    pthread_cond_broadcast(&r->cv);
    pthread_mutex_unlock(&r->mu);
    pthread_join(r->th, NULL);
    repl_free(r);
}
