/*
 * cluster_memo.c: counters read at most once per TTL per key, plus what this gateway added since
 * (contract: cluster.h, "Cached counters"; why: docs/architecture.md, "Quotas").
 *
 * Direct-mapped slots like the record cache: a collision costs only a fill. Single flight: one
 * caller of a key fills while the others answer from the value the slot still holds (stale by at
 * most the fill's duration, plus their own adds), or wait when it holds none. What callers add
 * while a fill runs is kept on top of the fill's value: the fill may not have seen it, and
 * counting it twice for a moment errs on the side a quota wants. A forget during a fill bumps the
 * slot's generation, so the fill's value (which may predate what made the caller forget) is
 * handed to its caller but not kept.
 */
#include "cluster_int.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include <xxhash.h>

int cl_memo_init(cluster_t *cl)
{
    int rc;
    if (!(cl->memo = calloc(1, sizeof(*cl->memo))))
        return -ENOMEM;
    cl->memo->ttl_ms = CLUSTER_MEMO_TTL_MS;
    if ((rc = pthread_mutex_init(&cl->memo->mu, NULL)) != 0)
        goto out_free;
    if ((rc = pthread_cond_init(&cl->memo->cv, NULL)) != 0)
        goto out_destroy_mu;
    return 0;

out_destroy_mu:
    pthread_mutex_destroy(&cl->memo->mu);
out_free:
    free(cl->memo);
    cl->memo = NULL;
    return -rc;
}

void cl_memo_free(cluster_t *cl)
{
    pthread_cond_destroy(&cl->memo->cv);
    pthread_mutex_destroy(&cl->memo->mu);
    free(cl->memo);
}

void cluster_set_memo_ttl(cluster_t *cl, uint32_t ttl_ms)
{
    cl->memo->ttl_ms = ttl_ms;
}

uint32_t cluster_memo_ttl(const cluster_t *cl)
{
    return cl->memo->ttl_ms;
}

/* key's slot, or NULL when the key is too long to keep. */
static cl_memo_slot_t *memo_slot(cluster_t *cl, og_str_t key)
{
    if (key.len == 0 || key.len > CL_MEMO_KEY_MAX)
        return NULL;
    return &cl->memo->slot[XXH3_64bits(key.base, key.len) % CL_MEMO_SLOTS];
}

static int memo_is(const cl_memo_slot_t *e, og_str_t key)
{
    return e->key_len == key.len && memcmp(e->key, key.base, key.len) == 0;
}

/* The slot's value with this gateway's adds. */
static void memo_value(const cl_memo_slot_t *e, uint64_t v[CLUSTER_MEMO_VALS])
{
    for (size_t i = 0; i < CLUSTER_MEMO_VALS; i++)
        v[i] = e->base[i] + e->added[i];
}

/* Keeps a fill's value v in e (which the fill claimed, generation gen) unless it was forgotten
 * meanwhile; what was added during the fill stays on top. Under the lock. */
static void memo_store(cl_memo_slot_t *e, og_str_t key, uint32_t gen, uint64_t at_ms, const uint64_t *v)
{
    if (e->gen != gen || !memo_is(e, key))
        return;
    for (size_t i = 0; i < CLUSTER_MEMO_VALS; i++) {
        e->base[i] = v[i];
        e->added[i] -= e->added_at_fill[i];
    }
    e->at_ms = at_ms;
    e->has_value = 1;
}

int cluster_memo_get(cluster_t *cl, og_str_t key, cluster_memo_fill_fn fill, void *ctx, uint64_t v[CLUSTER_MEMO_VALS])
{
    cl_memo_t *m = cl->memo;
    cl_memo_slot_t *e = memo_slot(cl, key);
    uint32_t gen;
    uint64_t at_ms;
    int rc;

    if (e == NULL || m->ttl_ms == 0)
        return fill(ctx, v);
    pthread_mutex_lock(&m->mu);
    for (;;) {
        if (!memo_is(e, key))
            break; /* another key's (or none): taken over below unless it is being filled */
        if (e->has_value && og_mono_ms() - e->at_ms < m->ttl_ms)
            goto out_cached;
        if (!e->filling)
            break;
        if (e->has_value)
            goto out_cached; /* stale while one caller refreshes it */
        pthread_cond_wait(&m->cv, &m->mu);
    }
    if (e->filling) { /* another key's fill holds the slot: this caller reads on its own */
        pthread_mutex_unlock(&m->mu);
        return fill(ctx, v);
    }
    if (!memo_is(e, key)) {
        *e = (cl_memo_slot_t){.gen = e->gen + 1, .key_len = (uint16_t)key.len};
        memcpy(e->key, key.base, key.len);
    }
    e->filling = 1;
    memcpy(e->added_at_fill, e->added, sizeof(e->added));
    gen = e->gen;
    pthread_mutex_unlock(&m->mu);

    at_ms = og_mono_ms(); /* the value is as old as the fill's start */
    rc = fill(ctx, v);
    pthread_mutex_lock(&m->mu);
    if (memo_is(e, key)) {
        e->filling = 0;
        if (rc == 0) {
            memo_store(e, key, gen, at_ms, v);
            if (e->gen == gen)
                memo_value(e, v);
        }
    }
    pthread_cond_broadcast(&m->cv);
    pthread_mutex_unlock(&m->mu);
    return rc;

out_cached:
    memo_value(e, v);
    pthread_mutex_unlock(&m->mu);
    return 0;
}

void cluster_memo_add(cluster_t *cl, og_str_t key, const uint64_t add[CLUSTER_MEMO_VALS])
{
    cl_memo_slot_t *e = memo_slot(cl, key);
    if (e == NULL)
        return;
    pthread_mutex_lock(&cl->memo->mu);
    if (memo_is(e, key)) {
        for (size_t i = 0; i < CLUSTER_MEMO_VALS; i++)
            e->added[i] += add[i];
    }
    pthread_mutex_unlock(&cl->memo->mu);
}

void cluster_memo_forget(cluster_t *cl, og_str_t key)
{
    cl_memo_slot_t *e = memo_slot(cl, key);
    if (e == NULL)
        return;
    pthread_mutex_lock(&cl->memo->mu);
    if (memo_is(e, key)) {
        e->gen++;
        e->has_value = 0;
        memset(e->added, 0, sizeof(e->added));
        memset(e->added_at_fill, 0, sizeof(e->added_at_fill));
    }
    pthread_mutex_unlock(&cl->memo->mu);
}
