/*
 * cluster_health.c: failure detection, and the one way this room talks to nodes (cl_call_many).
 *
 * The handle keeps, per node address of the ring, its consecutive failures (connections refused,
 * reset, not made in time, answers not given in time), when it last failed and an estimate of its
 * latency. A node whose failure cost a timeout (a frozen process, a cut link, a hung disk) is
 * skipped for a back-off period (CL_BACKOFF_MIN_MS, doubling up to CL_BACKOFF_MAX_MS while it
 * keeps timing out): its calls fail at once with CL_ESKIPPED, so a write goes straight to a handoff
 * and a read to the other replicas. When the period ends ONE call is let through as a probe, with
 * a short timeout (CL_PROBE_TIMEOUT_MS); every other call keeps skipping the node until the probe's
 * outcome is known. A success of any call resets the node. So a frozen or unreachable node costs
 * each gateway one operation timeout when it stops, then at most one probe timeout per back-off
 * period, instead of a timeout per request.
 * A refused or reset connection fails within a round trip: skipping that node would save nothing
 * (its slot goes to the handoff either way) and would only keep a restarted node out of quorums it
 * is needed for until the back-off ends. Such failures are counted, but start no back-off.
 *
 * A call abandoned by a quorum return (NODE_EABANDONED) says nothing either way: the node was
 * only slower than the quorum, so it neither fails nor resets the node.
 */
#include "cluster_int.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#define CL_BACKOFF_MIN_MS 2000u
#define CL_BACKOFF_MAX_MS 30000u
#define CL_PROBE_TIMEOUT_MS 1000
/* The watcher's period, how long a node has to answer it, and how many rounds in a row it must
 * miss: a frozen node is skipped within about CL_WATCH_MISSES * (CL_WATCH_MS +
 * CL_WATCH_TIMEOUT_MS), 3 s. A healthy node answers /health in well under a millisecond; one slow
 * answer on a loaded machine must not take it out of every quorum. */
#define CL_WATCH_MS 500
#define CL_WATCH_TIMEOUT_MS 1000
#define CL_WATCH_MISSES 2
/* Grace for the calls still running after a quorum: twice the node's usual latency, within these
 * bounds (a replica a little slower than the others still gets its copy written). */
#define CL_GRACE_MIN_MS 10u
#define CL_GRACE_MAX_MS 250u

/* Admission of one call: sent as usual, sent as the probe of a failing node, or skipped. */
enum { CL_SEND, CL_PROBE, CL_SKIP };

/* The health entry of addr, NULL for an address no ring of this handle had. Under health_mu. */
static cl_health_t *cl_health_find(cluster_t *cl, const char *addr)
{
    for (size_t i = 0; i < cl->nhealth; i++)
        if (strcmp(cl->health[i].addr, addr) == 0)
            return &cl->health[i];
    return NULL;
}

int cl_health_add_ring(cluster_t *cl, const ring_t *ring)
{
    int rc = 0;
    pthread_mutex_lock(&cl->health_mu);
    for (size_t i = 0; i < ring_dev_count(ring) && rc == 0; i++) {
        const char *addr = ring_dev_at(ring, i)->addr;
        if (cl_health_find(cl, addr))
            continue;
        if (cl->nhealth == cl->health_cap) {
            size_t cap = cl->health_cap ? 2 * cl->health_cap : 16;
            cl_health_t *v = realloc(cl->health, cap * sizeof(*v));
            if (!v) {
                rc = -ENOMEM;
                break;
            }
            cl->health = v;
            cl->health_cap = cap;
        }
        cl->health[cl->nhealth] = (cl_health_t){0};
        strcpy(cl->health[cl->nhealth++].addr, addr);
    }
    pthread_mutex_unlock(&cl->health_mu);
    return rc;
}

int cl_health_init(cluster_t *cl, const ring_t *ring)
{
    pthread_condattr_t ca;
    int rc = pthread_mutex_init(&cl->health_mu, NULL);
    if (rc != 0)
        return -rc;
    if ((rc = pthread_mutex_init(&cl->ready_mu, NULL)) != 0) {
        pthread_mutex_destroy(&cl->health_mu);
        return -rc;
    }
    pthread_condattr_init(&ca);
    pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
    rc = pthread_cond_init(&cl->watch_cv, &ca);
    pthread_condattr_destroy(&ca);
    if (rc != 0) {
        pthread_mutex_destroy(&cl->ready_mu);
        pthread_mutex_destroy(&cl->health_mu);
        return -rc;
    }
    if ((rc = cl_health_add_ring(cl, ring)) != 0)
        cl_health_free(cl);
    return rc;
}

void cl_health_free(cluster_t *cl)
{
    if (cl->watching) {
        pthread_mutex_lock(&cl->health_mu);
        cl->watch_stop = 1;
        pthread_cond_signal(&cl->watch_cv);
        pthread_mutex_unlock(&cl->health_mu);
        pthread_join(cl->watch_thr, NULL);
        cl->watching = 0;
    }
    pthread_cond_destroy(&cl->watch_cv);
    pthread_mutex_destroy(&cl->health_mu);
    pthread_mutex_destroy(&cl->ready_mu);
    free(cl->health);
    cl->health = NULL;
    cl->nhealth = cl->health_cap = 0;
}

/* How long a node that timed out `timeouts` times in a row is skipped, from its last failure. */
static uint64_t cl_backoff_ms(uint32_t timeouts)
{
    uint64_t ms = (uint64_t)CL_BACKOFF_MIN_MS << (timeouts < 6 ? timeouts - 1 : 5);
    return ms < CL_BACKOFF_MAX_MS ? ms : CL_BACKOFF_MAX_MS;
}

int cl_node_failing(cluster_t *cl, const char *addr)
{
    pthread_mutex_lock(&cl->health_mu);
    cl_health_t *h = cl_health_find(cl, addr);
    int failing = h && h->timeouts > 0;
    pthread_mutex_unlock(&cl->health_mu);
    return failing;
}

/* ---- the watcher (cluster_watch_start) ---- */

/* Takes a watcher round's answer (answered 1, or silent 0) into the node's health. Silent for
 * CL_WATCH_MISSES rounds in a row: failing from now (one timeout's worth, so its back-off stays at
 * the minimum however long it stays silent and it is probed soon after it wakes up). An answer
 * only restarts the count: it never ends a back-off, which a node that answers /health but hangs
 * on data (a stuck disk) must keep; the back-off's probes end it. */
static void cl_health_watched(cluster_t *cl, const char *addr, int answered, uint64_t now)
{
    pthread_mutex_lock(&cl->health_mu);
    cl_health_t *h = cl_health_find(cl, addr);
    if (h && answered) {
        h->watch_misses = 0;
    } else if (h && ++h->watch_misses >= CL_WATCH_MISSES) {
        h->fails++;
        h->timeouts = h->timeouts ? h->timeouts : 1;
        h->last_fail_ms = now;
    }
    pthread_mutex_unlock(&cl->health_mu);
}

/* One round: GET /health to every node of the table at once. Only silence counts against a node:
 * a refused connection says nothing new (it fails fast for requests too). */
static void cl_watch_round(cluster_t *cl)
{
    char (*addrs)[RING_ADDR_MAX];
    pthread_mutex_lock(&cl->health_mu);
    size_t n = cl->nhealth;
    addrs = malloc((n ? n : 1) * sizeof(*addrs));
    for (size_t i = 0; addrs && i < n; i++)
        memcpy(addrs[i], cl->health[i].addr, RING_ADDR_MAX);
    pthread_mutex_unlock(&cl->health_mu);
    node_call_t *calls = addrs ? calloc(n ? n : 1, sizeof(*calls)) : NULL;
    if (!calls)
        goto out_free;
    for (size_t i = 0; i < n; i++)
        calls[i] = (node_call_t){.addr = addrs[i], .method = "GET", .path = "/health", .resp_cap = 4096,
                                 .timeout_ms = CL_WATCH_TIMEOUT_MS};
    node_call_many(cl->client, calls, n);
    uint64_t now = og_mono_ms();
    for (size_t i = 0; i < n; i++) {
        if (calls[i].rc == 0 || calls[i].rc == OG_ETIMEOUT)
            cl_health_watched(cl, addrs[i], calls[i].rc == 0, now);
        free(calls[i].resp_body);
    }
out_free:
    free(calls);
    free(addrs);
}

/* Every CL_WATCH_MS: a watch round, and the pages of long-idle pooled buffers given back. */
static void *cl_watch_main(void *arg)
{
    cluster_t *cl = arg;
    pthread_mutex_lock(&cl->health_mu);
    while (!cl->watch_stop) {
        pthread_mutex_unlock(&cl->health_mu);
        cl_watch_round(cl);
        og_pool_trim(&cl->bufs, CL_BUF_TRIM_MS);
        struct timespec until;
        clock_gettime(CLOCK_MONOTONIC, &until);
        until.tv_nsec += (long)CL_WATCH_MS * 1000000L;
        until.tv_sec += until.tv_nsec / 1000000000L;
        until.tv_nsec %= 1000000000L;
        pthread_mutex_lock(&cl->health_mu);
        while (!cl->watch_stop && pthread_cond_timedwait(&cl->watch_cv, &cl->health_mu, &until) == 0)
            ;
    }
    pthread_mutex_unlock(&cl->health_mu);
    return NULL;
}

int cluster_watch_start(cluster_t *cl)
{
    if (cl->watching)
        return 0;
    int rc = pthread_create(&cl->watch_thr, NULL, cl_watch_main, cl);
    if (rc != 0)
        return -rc;
    cl->watching = 1;
    return 0;
}

/* Decides how call c goes out (CL_SEND, CL_PROBE, CL_SKIP) and sets its grace (and, for a probe,
 * its short timeout). */
static int cl_health_admit(cluster_t *cl, node_call_t *c, uint64_t now)
{
    int how = CL_SEND;
    pthread_mutex_lock(&cl->health_mu);
    cl_health_t *h = cl_health_find(cl, c->addr);
    if (!h) {
        pthread_mutex_unlock(&cl->health_mu);
        return how;
    }
    if (h->timeouts > 0)
        how = now < h->last_fail_ms + cl_backoff_ms(h->timeouts) || h->probing ? CL_SKIP : CL_PROBE;
    if (how == CL_PROBE)
        h->probing = 1;
    h->skipped_total += how == CL_SKIP;
    uint32_t grace = 2 * h->latency_us / 1000;
    pthread_mutex_unlock(&cl->health_mu);
    c->grace_ms = (int)(grace < CL_GRACE_MIN_MS ? CL_GRACE_MIN_MS : grace > CL_GRACE_MAX_MS ? CL_GRACE_MAX_MS : grace);
    if (how == CL_PROBE && (c->timeout_ms == 0 || c->timeout_ms > CL_PROBE_TIMEOUT_MS))
        c->timeout_ms = CL_PROBE_TIMEOUT_MS;
    return how;
}

/* Takes a sent call's outcome into its node's health. */
static void cl_health_note(cluster_t *cl, const node_call_t *c, int how, uint64_t now)
{
    int failed = c->rc == NODE_EDOWN || c->rc == OG_ETIMEOUT || c->rc == OG_ECLOSED;
    int slow = c->rc == OG_ETIMEOUT; /* connecting or answering took all the time there was */
    pthread_mutex_lock(&cl->health_mu);
    cl_health_t *h = cl_health_find(cl, c->addr);
    if (!h) {
        pthread_mutex_unlock(&cl->health_mu);
        return;
    }
    if (how == CL_PROBE)
        h->probing = 0;
    h->calls_total++;
    if (c->rc == 0) {
        h->fails = h->timeouts = 0;
        /* 1/8 new sample: follows a lasting change within a few calls, ignores a single outlier. */
        h->latency_us = h->latency_us ? h->latency_us - h->latency_us / 8 + c->elapsed_us / 8 : c->elapsed_us;
    } else if (failed) {
        /* Calls that were under way when the node last failed saw the same outage: with many
         * workers waiting on one frozen node, they must not double the back-off once each. */
        int same = h->timeouts > 0 && now - c->elapsed_us / 1000 < h->last_fail_ms;
        h->fails++;
        h->errors_total++;
        h->timeouts_total += slow;
        h->timeouts += slow && !same;
        h->last_fail_ms = now;
    }
    pthread_mutex_unlock(&cl->health_mu);
}

/* The node client's view of a cl_call_many: the calls it sends, and where each came from. */
typedef struct {
    node_call_t *calls; /* the caller's array */
    size_t n;
    const size_t *from; /* the node client's call k is calls[from[k]] */
    int (*enough)(void *ctx, const node_call_t *calls, size_t n);
    void *ctx;
} cl_fanout_t;

/* Puts the sent calls' state back into the caller's array (a running one has status 0, which no
 * caller accepts), then asks the caller's predicate over the whole array. */
static int cl_fanout_enough(void *ctx, const node_call_t *sent, size_t nsent)
{
    cl_fanout_t *f = ctx;
    for (size_t k = 0; k < nsent; k++)
        f->calls[f->from[k]] = sent[k];
    return f->enough(f->ctx, f->calls, f->n);
}

/* Ends call c without sending it. */
static void cl_call_fail(node_call_t *c, int rc)
{
    c->rc = rc;
    c->status = 0;
    c->resp_body = NULL;
    c->resp_len = 0;
    c->xxh3[0] = '\0';
    c->truncated = c->newer = 0;
    c->elapsed_us = 0;
}

void cl_call_many(cluster_t *cl, node_call_t *calls, size_t n, const size_t *which, size_t nwhich,
                  int (*enough)(void *ctx, const node_call_t *calls, size_t n), void *ctx)
{
    node_call_t sent_st[2 * RING_MAX_REPLICAS], *sent = sent_st;
    size_t from_st[2 * RING_MAX_REPLICAS], *from = from_st;
    unsigned char how_st[2 * RING_MAX_REPLICAS], *how = how_st;
    size_t m = which ? nwhich : n, nsent = 0;
    uint64_t now = og_mono_ms();

    if (m > 2 * RING_MAX_REPLICAS) {
        sent = malloc(m * sizeof(*sent));
        from = malloc(m * sizeof(*from));
        how = malloc(m);
        if (!sent || !from || !how) {
            for (size_t k = 0; k < m; k++)
                cl_call_fail(&calls[which ? which[k] : k], -ENOMEM);
            goto out_free;
        }
    }
    for (size_t k = 0; k < m; k++) {
        node_call_t *c = &calls[which ? which[k] : k];
        int h = cl_health_admit(cl, c, now);
        if (h == CL_SKIP) {
            cl_call_fail(c, CL_ESKIPPED);
            continue;
        }
        how[nsent] = (unsigned char)h;
        from[nsent] = which ? which[k] : k;
        sent[nsent++] = *c;
    }
    cl_fanout_t f = {calls, n, from, enough, ctx};
    node_call_until(cl->client, sent, nsent, enough ? cl_fanout_enough : NULL, &f);
    now = og_mono_ms();
    for (size_t k = 0; k < nsent; k++) {
        cl_health_note(cl, &sent[k], how[k], now);
        calls[from[k]] = sent[k];
    }
out_free:
    if (sent != sent_st) {
        free(sent);
        free(from);
        free(how);
    }
}

/* One readiness probe: the buckets table's primaries asked for their device state at once. */
static int cl_ready_probe(cluster_t *cl, char *why, size_t cap)
{
    static const char ok_state[] = "\"state\":\"ok\"";
    node_call_t tmpl = {.method = "GET", .timeout_ms = CLUSTER_READY_TIMEOUT_MS};
    cl_op_t op;
    size_t ok = 0;
    if (cl_op_begin(cl, &op, "buckets", 7, "/stat", 5, &tmpl, 0) == 0) {
        cl_call_many(cl, op.call, op.n, NULL, 0, NULL, NULL);
        for (size_t i = 0; i < op.n; i++) {
            const node_call_t *c = &op.call[i];
            ok += c->rc == 0 && c->status == 200 && c->resp_body != NULL &&
                  memmem(c->resp_body, c->resp_len, ok_state, sizeof(ok_state) - 1) != NULL;
        }
    }
    snprintf(why, cap, "%zu of %zu replicas of the buckets table writable, %zu needed", ok, op.n, cl->quorum);
    cl_op_end(&op);
    return ok >= cl->quorum;
}

int cluster_ready(cluster_t *cl, char *why, size_t cap)
{
    pthread_mutex_lock(&cl->ready_mu);
    if (cl->ready_at_ms == 0 || og_mono_ms() - cl->ready_at_ms >= CLUSTER_READY_CACHE_MS) {
        cl->ready = cl_ready_probe(cl, cl->ready_why, sizeof(cl->ready_why));
        cl->ready_at_ms = og_mono_ms();
    }
    int ready = cl->ready;
    snprintf(why, cap, "%s", cl->ready_why);
    pthread_mutex_unlock(&cl->ready_mu);
    return ready;
}
