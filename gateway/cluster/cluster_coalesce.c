/*
 * cluster_coalesce.c: request coalescing ("single flight") for reads many requests want at once
 * (cluster.h, cluster_coalesce; docs/architecture.md "CDN origin").
 *
 * A flight is one read in progress under a key (what the bytes are, exactly: the caller builds
 * it from content addresses, so equal keys mean equal bytes). The first caller (the leader) fills
 * the flight's buffer; callers that arrive while it runs wait and then share the bytes. The flight
 * leaves the table the moment the leader is done, so nothing is ever served from memory to a
 * request that started after the read ended: this is not a cache, and an overwrite is seen by the
 * next request as without coalescing.
 *
 * A caller that needs read-after-write (a record lookup: a write acknowledged before the caller
 * arrived must be seen) asks for a fresh flight: it never joins a read that had already started,
 * only one that starts after it arrived. Such a flight waits, pending, for the running one of its
 * key to end and then starts; the fresh callers arriving meanwhile join it. So a hot key has at
 * most one read running and one pending, whatever the number of callers.
 *
 * Memory stays bounded: a flight holds at most its cap (the caller's, e.g. a whole object of up to
 * 4 MiB), and flights together at most CL_FLIGHT_BUDGET bytes; past that a caller reads on its own
 * (answer 1), as it would without coalescing. The buffer is freed when the last sharer is done.
 */
#include "cluster_int.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

/* Bytes all flights of a handle may hold at once. */
#define CL_FLIGHT_BUDGET (64u << 20)

struct st_cl_flight_t {
    cl_flight_t *next;
    char *key;
    size_t key_len;
    char *buf;
    size_t cap, len;
    int rc, started, done;
    unsigned refs; /* the leader and every waiter not yet done with the bytes */
};

/* Flight buffers below this size come from malloc, bigger ones from the buffer pool. */
#define CL_FLIGHT_POOL_MIN (256u << 10)

int cl_flight_init(cluster_t *cl)
{
    int rc = pthread_mutex_init(&cl->flight_mu, NULL);
    if (rc != 0)
        return -rc;
    if ((rc = pthread_cond_init(&cl->flight_cv, NULL)) != 0) {
        pthread_mutex_destroy(&cl->flight_mu);
        return -rc;
    }
    return 0;
}

void cl_flight_free(cluster_t *cl)
{
    pthread_cond_destroy(&cl->flight_cv);
    pthread_mutex_destroy(&cl->flight_mu);
}

/* The flight under key that is running (started 1), pending (0) or either (-1), other than
 * `not`; NULL when none. Under flight_mu. */
static cl_flight_t *cl_flight_find(cluster_t *cl, og_str_t key, int started, const cl_flight_t *not)
{
    for (cl_flight_t *f = cl->flights; f; f = f->next)
        if (f != not && f->key_len == key.len && memcmp(f->key, key.base, key.len) == 0 &&
            (started < 0 || f->started == started))
            return f;
    return NULL;
}

static char *cl_flight_buf_get(cluster_t *cl, size_t cap)
{
    return cap < CL_FLIGHT_POOL_MIN ? malloc(cap ? cap : 1) : cluster_buf_get(cl, cap);
}

static void cl_flight_buf_put(cluster_t *cl, char *buf, size_t cap)
{
    if (cap < CL_FLIGHT_POOL_MIN)
        free(buf);
    else
        cluster_buf_put(cl, buf, cap);
}

/* A new flight of cap bytes in the table, or NULL (budget spent, or no memory). Under flight_mu. */
static cl_flight_t *cl_flight_new(cluster_t *cl, og_str_t key, size_t cap)
{
    if (cl->flight_bytes + cap > CL_FLIGHT_BUDGET)
        return NULL;
    cl_flight_t *f = calloc(1, sizeof(*f));
    if (!f)
        return NULL;
    f->key = malloc(key.len ? key.len : 1);
    f->buf = cl_flight_buf_get(cl, cap);
    if (!f->key || !f->buf) {
        free(f->key);
        if (f->buf)
            cl_flight_buf_put(cl, f->buf, cap);
        free(f);
        return NULL;
    }
    memcpy(f->key, key.base, key.len);
    f->key_len = key.len;
    f->cap = cap;
    f->refs = 1;
    f->next = cl->flights;
    cl->flights = f;
    cl->flight_bytes += cap;
    return f;
}

/* Takes f out of the table (its bytes stay for the sharers). Under flight_mu. */
static void cl_flight_unlink(cluster_t *cl, cl_flight_t *f)
{
    for (cl_flight_t **p = &cl->flights; *p; p = &(*p)->next)
        if (*p == f) {
            *p = f->next;
            return;
        }
}

int cluster_coalesce(cluster_t *cl, og_str_t key, size_t cap, int fresh, cluster_fill_fn fill, void *ctx,
                     og_str_t *out, void **ticket)
{
    pthread_mutex_lock(&cl->flight_mu);
    cl_flight_t *f = cl_flight_find(cl, key, fresh ? 0 : -1, NULL);
    if (f) {
        f->refs++;
        while (!f->done)
            pthread_cond_wait(&cl->flight_cv, &cl->flight_mu);
    } else if ((f = cl_flight_new(cl, key, cap)) != NULL) {
        /* pending until the running read of the key (one that started before this caller) ends */
        while (fresh && cl_flight_find(cl, key, 1, f))
            pthread_cond_wait(&cl->flight_cv, &cl->flight_mu);
        f->started = 1;
        pthread_mutex_unlock(&cl->flight_mu);
        size_t len = 0;
        int rc = fill(ctx, f->buf, cap, &len);
        pthread_mutex_lock(&cl->flight_mu);
        f->rc = rc;
        f->len = rc == 0 ? len : 0;
        f->done = 1;
        cl_flight_unlink(cl, f);
        pthread_cond_broadcast(&cl->flight_cv);
    }
    pthread_mutex_unlock(&cl->flight_mu);
    if (!f)
        return 1;
    int rc = f->rc; /* final once done, and f is held by this caller's reference */
    if (rc != 0) {
        cluster_coalesce_done(cl, f);
        return rc;
    }
    *ticket = f;
    *out = (og_str_t){f->buf, f->len};
    return 0;
}

void cluster_coalesce_done(cluster_t *cl, void *ticket)
{
    cl_flight_t *f = ticket;
    if (!f)
        return;
    pthread_mutex_lock(&cl->flight_mu);
    int last = --f->refs == 0;
    if (last)
        cl->flight_bytes -= f->cap;
    pthread_mutex_unlock(&cl->flight_mu);
    if (last) {
        cl_flight_buf_put(cl, f->buf, f->cap);
        free(f->key);
        free(f);
    }
}
