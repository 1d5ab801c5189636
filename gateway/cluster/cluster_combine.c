/*
 * cluster_combine.c: small batch writes of many callers combined into shared node requests
 * (cl_combine_put, behind cluster_chunk_put_many; docs/architecture.md "Gateway data path (PUT)").
 *
 * Why: a slow upload (a camera at 256 kbit/s) sends its completed chunks every 2 s, ~64 KB; alone,
 * each such batch is one request per device, and each costs its node a request, a space check, a
 * write, a volume sync and an index sync (~0.5 ms of node CPU on the 2-core VM of
 * docs/benchmarks.md), so 1,000 uploads kept a node busy with ~500 tiny batches a second. Bytes
 * bound for one device do not need to come from one upload: queued small batches go out together,
 * one request per device for all of them, and the node pays its fixed costs once.
 *
 * How: group commit without a timer. A caller queues its batch; while fewer than `leaders`
 * combined requests are in flight, or when the queue holds a whole request's worth, it becomes a
 * leader: it takes the queue's oldest batches (up to CLUSTER_BATCH_MAX_CHUNKS chunks and
 * CL_COMBINE_BYTES_MAX bytes), sends them as one batch and hands every caller its chunks' counts.
 * A caller alone, on a quiet gateway, leads its own batch at once, with no copy and no wait; only
 * batches that arrive while `leaders` requests are out wait, for about one request, not for a
 * timer. Each caller then places what did not reach a quorum itself (cluster_chunk_put_many:
 * single chunks, with handoffs), so one caller's trouble is its own. A leader whose own batch was
 * queued behind others leads again until it is sent.
 */
#include "cluster_int.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

/* A batch this small may wait to share a request: a slow upload's flush is ~64 KB, an object of up
 * to this size is one final batch. Larger batches already pay their node's fixed costs over many
 * bytes (a 1 MiB object, a large object's 4 MiB batches) and are sent alone. */
#define CL_COMBINE_ONE_MAX (256u << 10)
/* The most bytes one combined request carries (its copy is one pooled buffer). 2 MiB requests,
 * many at once under 2,000 uploads, each cost a node a fresh bounce-buffer mapping for its direct
 * write (a device keeps 4 idle), and 10 s node timeouts followed. */
#define CL_COMBINE_BYTES_MAX (1u << 20)
/* Combined requests in flight at once by default, beyond those of full requests (a queue that
 * fills one is sent at once): two keep a request going while the other's answers are counted. */
#define CL_COMBINE_LEADERS 2
/* ... and the most in flight when queues keep filling whole requests: the load is then beyond
 * what 2 carry, but each one more adds to the nodes' load too. */
#define CL_COMBINE_FULL_MAX 8

/* One caller's batch in the queue. */
struct st_cl_combo_t {
    cl_combo_t *next;
    const cluster_chunk_hdr_t *hdrs;
    size_t n, bytes;
    char *data;
    size_t *stored; /* the caller's n counts */
    int rc, done;
    pthread_cond_t cv; /* its caller waits here: its batch is done, or it is to lead */
};

int cl_combine_init(cluster_t *cl)
{
    cl_combine_t *cb = &cl->combine;
    int rc = pthread_mutex_init(&cb->mu, NULL);
    if (rc != 0)
        return -rc;
    cb->leaders = CL_COMBINE_LEADERS;
    return 0;
}

void cl_combine_free(cluster_t *cl)
{
    pthread_mutex_destroy(&cl->combine.mu);
}

void cluster_set_batch_combine(cluster_t *cl, unsigned leaders)
{
    pthread_mutex_lock(&cl->combine.mu);
    cl->combine.leaders = leaders;
    pthread_mutex_unlock(&cl->combine.mu);
}

void cluster_combine_counts(cluster_t *cl, uint64_t *batches, uint64_t *sends)
{
    *batches = atomic_load(&cl->combine.batches_total);
    *sends = atomic_load(&cl->combine.sends_total);
}

/* Whether a waiting caller should send the queue's head now: a request slot is free, or the queue
 * fills a whole request and fewer than CL_COMBINE_FULL_MAX are out. Waiting for a slot then only
 * adds latency, and a flush that waits longer leaves its upload more bytes to read and buffer
 * afterwards (with a fixed 2, one run of 2,000 slow uploads peaked at 555 MiB, against 254-350
 * without combining). cb->mu held. */
static int cl_combine_lead(const cl_combine_t *cb)
{
    int full = cb->queued_n >= CLUSTER_BATCH_MAX_CHUNKS || cb->queued_bytes >= CL_COMBINE_BYTES_MAX;
    return cb->head && (cb->running < cb->leaders || (full && cb->running < CL_COMBINE_FULL_MAX));
}

/* Unlinks the oldest queued batches that fit one request (the oldest always) and says how many
 * chunks and bytes they hold; cb->mu held. */
static cl_combo_t *cl_combine_take(cl_combine_t *cb, size_t *n_out, size_t *bytes_out)
{
    cl_combo_t *first = cb->head, *last = first;
    size_t n = first->n, bytes = first->bytes;
    while (last->next && n + last->next->n <= CLUSTER_BATCH_MAX_CHUNKS &&
           bytes + last->next->bytes <= CL_COMBINE_BYTES_MAX) {
        last = last->next;
        n += last->n, bytes += last->bytes;
    }
    cb->queued_n -= n, cb->queued_bytes -= bytes;
    *n_out = n, *bytes_out = bytes;
    cb->head = last->next;
    if (!cb->head)
        cb->tail = NULL;
    last->next = NULL;
    return first;
}

/* Sends the batches of list (n chunks, bytes in all) as one (a single one from its caller's buffer,
 * several copied back to back into a pooled one) and adds each caller's counts. 0 or -ENOMEM. */
static int cl_combine_send(cluster_t *cl, cl_combo_t *list, size_t n, size_t bytes)
{
    if (!list->next)
        return cl_chunk_put_send(cl, list->hdrs, list->n, list->data, list->stored);
    size_t cap = CLUSTER_BATCH_HDR_MAX + bytes;
    char *buf = cluster_buf_get(cl, cap);
    cluster_chunk_hdr_t *hdrs = malloc(n * sizeof(*hdrs));
    size_t *stored = calloc(n, sizeof(*stored));
    int rc = -ENOMEM;
    if (!buf || !hdrs || !stored)
        goto out_free;
    char *data = buf + CLUSTER_BATCH_HDR_MAX, *p = data;
    size_t k = 0;
    for (const cl_combo_t *c = list; c; p += c->bytes, k += c->n, c = c->next) {
        memcpy(hdrs + k, c->hdrs, c->n * sizeof(*hdrs));
        memcpy(p, c->data, c->bytes);
    }
    rc = cl_chunk_put_send(cl, hdrs, n, data, stored);
    k = 0;
    for (cl_combo_t *c = list; c; k += c->n, c = c->next)
        for (size_t i = 0; i < c->n; i++)
            c->stored[i] += stored[k + i];
out_free:
    free(stored);
    free(hdrs);
    if (buf)
        cluster_buf_put(cl, buf, cap);
    return rc;
}

int cl_combine_put(cluster_t *cl, const cluster_chunk_hdr_t *hdrs, size_t n, char *data, size_t bytes, size_t *stored)
{
    cl_combine_t *cb = &cl->combine;
    cl_combo_t me = {.hdrs = hdrs, .n = n, .bytes = bytes, .data = data, .stored = stored};
    int rc;
    if (bytes > CL_COMBINE_ONE_MAX)
        return CL_ENOTCOMBINED;
    if ((rc = pthread_cond_init(&me.cv, NULL)) != 0)
        return -rc;
    pthread_mutex_lock(&cb->mu);
    if (cb->leaders == 0) {
        rc = CL_ENOTCOMBINED;
        goto out_unlock;
    }
    if (cb->tail)
        cb->tail->next = &me;
    else
        cb->head = &me;
    cb->tail = &me;
    cb->queued_n += n, cb->queued_bytes += bytes;
    atomic_fetch_add(&cb->batches_total, 1);
    while (!me.done) {
        /* (An empty queue: this batch went with a request still in flight.) */
        if (!cl_combine_lead(cb)) {
            pthread_cond_wait(&me.cv, &cb->mu);
            continue;
        }
        cb->running++;
        size_t ln, lbytes;
        cl_combo_t *list = cl_combine_take(cb, &ln, &lbytes);
        pthread_mutex_unlock(&cb->mu);
        atomic_fetch_add(&cb->sends_total, 1);
        rc = cl_combine_send(cl, list, ln, lbytes);
        pthread_mutex_lock(&cb->mu);
        for (cl_combo_t *c = list; c; c = c->next) {
            c->rc = rc, c->done = 1;
            pthread_cond_signal(&c->cv); /* its caller returns once we let go of mu */
        }
        cb->running--;
        /* Only the oldest waiter is woken to lead next (a broadcast woke every waiting upload, on
         * a host where each wake-up costs). One whose own batch is still queued leads itself. */
        if (me.done && cl_combine_lead(cb))
            pthread_cond_signal(&cb->head->cv);
    }
    rc = me.rc;
out_unlock:
    pthread_mutex_unlock(&cb->mu);
    pthread_cond_destroy(&me.cv);
    return rc;
}
