/*
 * cluster.c: the handle and the one shape of a replicated request (contract: cluster.h).
 *
 * Every replicated operation follows one shape, cl_op_t: find the partition of a placement key,
 * send the same request to all of its primaries in one fan-out (cl_call_many), and give each primary
 * that could not be reached (connection failure, 5xx, or skipped because its node is in a failure
 * back-off, see cluster_health.c) one chance on the next handoff device in a second round. A write
 * returns as soon as a quorum acknowledged it: a replica slower than that gets a short grace and is
 * then abandoned (anti-entropy brings it up to date), so one slow or frozen node does not hold up
 * every write. The caller then counts the answers it accepts against the quorum.
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
 * Counters read on every write (quota usage) are cached the same way with what this gateway added
 * since (cluster_memo.c).
 *
 * The operations themselves live by concern: chunks in cluster_chunk.c, records and their cache
 * in cluster_rec.c, listings and usage in cluster_list.c (shared declarations: cluster_int.h).
 */
#include "cluster_int.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

/* Keep-alive connections pooled per node. Thousands of slow uploads flush to the nodes every
 * 2 s each, many calls in flight per node: with 32 pooled, about a third of the calls opened (and
 * then closed) a connection of their own. 2,000 uploads: 17.8k connects, 606 node-call timeouts
 * and 395 uploads answered 503; with 256: 12.0k, 211 and 153 (docs/benchmarks.md "Slow uploads";
 * which part of a timed-out call the churn slowed was not measured). The nodes keep idle
 * connections cheaply on their event loop. */
#define CL_IDLE_PER_NODE 256

int cluster_open(const char *ring_path, const char *keys_path, int timeout_ms, cluster_t **out)
{
    int rc;
    ring_t *ring = NULL;
    og_keys_t keys;
    cluster_t *cl = calloc(1, sizeof(*cl));
    if (!cl)
        return -ENOMEM;
    if ((rc = og_keys_load_for(keys_path, ring_path, &keys)) != 0)
        goto out_free_cl;
    if ((rc = ring_load(ring_path, &ring)) != 0)
        goto out_free_cl;
    cl->replicas = ring_replica_count(ring);
    cl->part_power = ring_part_power(ring);
    if (cl->replicas == 0 || cl->replicas > RING_MAX_REPLICAS) {
        ring_free(ring);
        rc = OG_EINVAL;
        goto out_free_cl;
    }
    if ((rc = cl_health_init(cl, ring)) != 0) {
        ring_free(ring);
        goto out_free_cl;
    }
    if ((rc = ring_box_new(ring, &cl->box)) != 0) /* owns ring from here on */
        goto out_free_health;
    cl->quorum = cl->replicas / 2 + 1;
    cl->cdc_min = CLUSTER_CDC_MIN, cl->cdc_avg = CLUSTER_CDC_AVG, cl->cdc_max = CLUSTER_CDC_MAX;
    if (!(cl->client = node_client_new(&keys, timeout_ms, CL_IDLE_PER_NODE))) {
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
    if ((rc = og_pool_init(&cl->bufs, CL_BUF_CLASS, CL_BUF_IDLE)) != 0)
        goto out_destroy_rcache;
    if ((rc = pthread_mutex_init(&cl->stamp_mu, NULL)) != 0) {
        rc = -rc;
        goto out_destroy_buf;
    }
    if ((rc = cl_flight_init(cl)) != 0)
        goto out_destroy_stamp;
    if ((rc = cl_memo_init(cl)) != 0)
        goto out_free_flight;
    if ((rc = cl_combine_init(cl)) != 0) {
        cl_memo_free(cl);
        goto out_free_flight;
    }
    /* Tiebreaks only need to differ between gateways writing in the same nanosecond. */
    cl->stamp_rng = og_rng_seed();
    og_keys_wipe(&keys);
    *out = cl;
    return 0;

out_free_flight:
    cl_flight_free(cl);
out_destroy_stamp:
    pthread_mutex_destroy(&cl->stamp_mu);
out_destroy_buf:
    og_pool_destroy(&cl->bufs);
out_destroy_rcache:
    pthread_mutex_destroy(&cl->rcache->mu);
out_free_rcache:
    free(cl->rcache);
out_free_client:
    node_client_free(cl->client);
out_free_ring:
    ring_box_free(cl->box);
out_free_health:
    cl_health_free(cl);
out_free_cl:
    og_keys_wipe(&keys);
    free(cl);
    return rc;
}

void cluster_close(cluster_t *cl)
{
    if (!cl)
        return;
    cl_purge_stop(cl); /* its thread reads buckets through cl */
    cl_health_free(cl);
    cl_flight_free(cl);
    cl_memo_free(cl);
    cl_combine_free(cl);
    pthread_mutex_destroy(&cl->stamp_mu);
    og_pool_destroy(&cl->bufs);
    pthread_mutex_destroy(&cl->rcache->mu);
    free(cl->rcache);
    node_client_free(cl->client);
    ring_box_free(cl->box);
    free(cl);
}

int cluster_ring_reload(cluster_t *cl, const char *path)
{
    ring_t *ring = NULL;
    int rc = ring_load(path, &ring);
    if (rc != 0)
        return rc;
    /* Placement keys are hashed to partitions with the part power, and quorums follow the replica
     * count: both are fixed for a handle's life. */
    if (ring_part_power(ring) != cl->part_power || ring_replica_count(ring) != cl->replicas)
        rc = OG_EINVAL;
    else if ((rc = cl_health_add_ring(cl, ring)) == 0)
        rc = ring_box_offer(cl->box, ring);
    if (rc != 0)
        ring_free(ring);
    return rc;
}

uint64_t cluster_ring_epoch(cluster_t *cl)
{
    return ring_box_epoch(cl->box);
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
    if (len <= CL_BUF_CLASS)
        return og_pool_get(&cl->bufs);
    void *p = mmap(NULL, len, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    return p == MAP_FAILED ? NULL : p;
}

void cluster_buf_put(cluster_t *cl, void *p, size_t len)
{
    if (len <= CL_BUF_CLASS)
        og_pool_put(&cl->bufs, p);
    else if (p)
        munmap(p, len);
}

void cluster_buf_trim(void *p, size_t len, size_t keep)
{
    size_t page = (size_t)sysconf(_SC_PAGESIZE);
    size_t from = (keep + page - 1) / page * page;
    if (len <= CL_BUF_CLASS)
        len = CL_BUF_CLASS; /* what cluster_buf_get mapped */
    if (p != NULL && from < len)
        madvise((char *)p + from, len - from, MADV_DONTNEED); /* advice: ignoring a failure is safe */
}

void cluster_stamp(cluster_t *cl, uint64_t *ts, uint64_t *tiebreak)
{
    uint64_t now = og_time_ns();
    pthread_mutex_lock(&cl->stamp_mu);
    /* A hybrid logical clock: strictly increasing even when the clock steps back or two writes
     * share a nanosecond, so a second write from this process always wins over its first, and
     * above every stamp this handle has seen (cl_stamp_observe), so a write made after reading
     * a version, or after a node reported a newer one, orders after it whatever the clocks say. */
    if (now <= cl->stamp_last)
        now = cl->stamp_last + 1;
    cl->stamp_last = now;
    *tiebreak = og_rng_next(&cl->stamp_rng);
    pthread_mutex_unlock(&cl->stamp_mu);
    *ts = now;
}

void cl_stamp_observe(cluster_t *cl, uint64_t ts)
{
    pthread_mutex_lock(&cl->stamp_mu);
    if (ts > cl->stamp_last)
        cl->stamp_last = ts;
    pthread_mutex_unlock(&cl->stamp_mu);
}

/* ---- one replicated request ---- */

/* A primary that did not answer usefully, so its handoff should be asked instead. One abandoned
 * after a quorum answered is not: the write is done, and the slow replica gets it later. */
static int cl_unreachable(const node_call_t *c)
{
    return (c->rc != 0 && c->rc != NODE_EABANDONED) || c->status >= 500;
}

void cl_call_release(node_call_t *c)
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
int cl_dev_same(const ring_dev_t *a, const ring_dev_t *b)
{
    return a == b || (strcmp(a->addr, b->addr) == 0 && strcmp(a->name, b->name) == 0);
}

/* cl_op_begin on op->ring (pinned by the caller in op->view). */
static int cl_op_begin_on(cl_op_t *op, const void *pkey, size_t pklen, const char *suffix, size_t suffix_len,
                          const node_call_t *tmpl, int rotate)
{
    cluster_t *cl = op->cl;
    op->part = ring_part(op->ring, pkey, pklen);
    op->n = ring_primaries(op->ring, op->part, op->dev, RING_MAX_REPLICAS);
    if (rotate && op->n > 1) {
        const ring_dev_t *d[RING_MAX_REPLICAS];
        size_t r = atomic_fetch_add_explicit(&cl->read_turn, 1, memory_order_relaxed) % op->n;
        size_t k = 0;
        /* Nodes seen failing go last: the quorum asked first is then one that can answer. */
        for (int failing = 0; failing < 2; failing++)
            for (size_t i = 0; i < op->n; i++)
                if (cl_node_failing(cl, op->dev[(i + r) % op->n]->addr) == failing)
                    d[k++] = op->dev[(i + r) % op->n];
        memcpy(op->dev, d, op->n * sizeof(d[0]));
    }
    op->handoff_next = 0;
    op->count = NULL;
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

int cl_op_begin(cluster_t *cl, cl_op_t *op, const void *pkey, size_t pklen, const char *suffix, size_t suffix_len,
                const node_call_t *tmpl, int rotate)
{
    op->cl = cl;
    ring_box_get(cl->box, &op->view);
    op->ring = op->view.ring;
    return cl_op_begin_on(op, pkey, pklen, suffix, suffix_len, tmpl, rotate);
}

int cl_op_begin_prev(cluster_t *cl, cl_op_t *op, const void *pkey, size_t pklen, const char *suffix, size_t suffix_len,
                     const node_call_t *tmpl)
{
    const ring_dev_t *now[RING_MAX_REPLICAS], *was[RING_MAX_REPLICAS];
    op->cl = cl;
    op->n = 0;
    op->paths_heap = NULL;
    ring_box_get(cl->box, &op->view);
    if (!(op->ring = op->view.prev))
        return OG_ENOTFOUND;
    uint32_t part = ring_part(op->ring, pkey, pklen);
    size_t nn = ring_primaries(op->view.ring, part, now, RING_MAX_REPLICAS);
    size_t nw = ring_primaries(op->ring, part, was, RING_MAX_REPLICAS), same = 0;
    for (size_t i = 0; i < nw; i++)
        for (size_t j = 0; j < nn; j++)
            same += cl_dev_same(was[i], now[j]);
    if (same == nw)
        return OG_ENOTFOUND;
    return cl_op_begin_on(op, pkey, pklen, suffix, suffix_len, tmpl, 1);
}

/* The next handoff not on a node already known down in this operation or failing, or NULL. */
static const ring_dev_t *cl_op_next_handoff(cl_op_t *op)
{
    const ring_dev_t *d;
    while ((d = ring_handoff(op->ring, op->part, op->handoff_next)) != NULL) {
        op->handoff_next++;
        int down = cl_node_failing(op->cl, d->addr);
        for (size_t i = 0; i < op->n && !down; i++)
            down = op->call[i].rc != 0 && strcmp(op->call[i].addr, d->addr) == 0;
        if (!down)
            return d;
    }
    return NULL;
}

/* cl_call_many's predicate for a write: a quorum counted by op->count. */
static int cl_op_enough(void *ctx, const node_call_t *calls, size_t n)
{
    const cl_op_t *op = ctx;
    (void)calls, (void)n; /* they are op->call */
    return op->count(op) >= op->cl->quorum;
}

/* Sends to the primaries of slots [from, n) (the ones before were asked already), then once more
 * to a handoff for each unreachable primary of any slot. The outcome of slot i is in op->call[i]
 * (the handoff's, when one was asked). With op->count set, each round ends at a quorum. */
static void cl_op_run_from(cl_op_t *op, size_t from)
{
    const ring_dev_t *hdev[RING_MAX_REPLICAS];
    size_t slot[RING_MAX_REPLICAS], nretry = 0;
    int (*enough)(void *, const node_call_t *, size_t) = op->count ? cl_op_enough : NULL;

    for (size_t i = from; i < op->n; i++)
        slot[i - from] = i;
    if (from < op->n)
        cl_call_many(op->cl, op->call, op->n, slot, op->n - from, enough, op);
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
    }
    /* A quorum may be there already (a primary answered 5xx after the others stored): then the
     * handoffs only get the grace, like any straggler. */
    cl_call_many(op->cl, op->call, op->n, slot, nretry, enough, op);
}

/* Sends to every primary (and handoffs for unreachable ones): writes. */
void cl_op_run(cl_op_t *op, size_t (*count)(const cl_op_t *op))
{
    op->count = count;
    cl_op_run_from(op, 0);
}

/* Read in two steps: the first quorum slots, then (cl_op_run_from) the rest only when `enough` says
 * the first answers do not settle the read. Slots never asked keep rc 0 and status 0. */
void cl_op_run_read(cl_op_t *op, int (*enough)(const node_call_t *c))
{
    size_t q = op->cl->quorum < op->n ? op->cl->quorum : op->n, ok = 0;
    cl_call_many(op->cl, op->call, q, NULL, 0, NULL, NULL);
    for (size_t i = 0; i < q; i++)
        ok += enough(&op->call[i]);
    if (ok < q || q < op->cl->quorum)
        cl_op_run_from(op, q);
}

/* Frees response bodies still held by the calls and the paths. */
void cl_op_end(cl_op_t *op)
{
    for (size_t i = 0; i < op->n; i++)
        cl_call_release(&op->call[i]);
    free(op->paths_heap);
    if (op->view._gen) /* else cleared (cl_op_clear) and never begun */
        ring_box_put(op->cl->box, &op->view);
}

/* Slots whose device acknowledged a write as durable (201 stored, 200 already as new). */
size_t cl_count_stored(const cl_op_t *op)
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
size_t cl_count_stored_primary(const cl_op_t *op)
{
    size_t ok = 0;
    for (size_t i = 0; i < op->n; i++)
        ok += !op->handoff[i] && op->call[i].rc == 0 && (op->call[i].status == 201 || op->call[i].status == 200);
    return ok;
}

int cl_table_valid(const char *table)
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

