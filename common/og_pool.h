/*
 * og_pool.h: a pool of equal-size anonymous mappings for large per-request buffers (a gateway's
 * 4 MiB batches, a node's direct-write bounce buffers). A mapping is page-aligned and faulted in
 * lazily, so a buffer costs the pages it was filled to; the pool keeps at most idle_max returned
 * ones (the most recently returned is taken first) and unmaps the rest. Thread-safe.
 */
#ifndef OG_POOL_H
#define OG_POOL_H

#include <pthread.h>
#include <stddef.h>

#define OG_POOL_IDLE_MAX 8

typedef struct {
    pthread_mutex_t mu;
    size_t len;
    unsigned idle_max, nidle; /* idle_max <= OG_POOL_IDLE_MAX */
    void *idle[OG_POOL_IDLE_MAX];
} og_pool_t;

/* Sets p up for buffers of len bytes, keeping up to idle_max (clamped to OG_POOL_IDLE_MAX) idle.
 * 0 or -errno (the mutex). */
int og_pool_init(og_pool_t *p, size_t len, unsigned idle_max);
/* Unmaps the idle buffers; buffers still out must be unmapped by their holders first. */
void og_pool_destroy(og_pool_t *p);
/* A buffer of p->len bytes (an idle one first), or NULL when no mapping can be made. */
void *og_pool_get(og_pool_t *p);
/* Returns b (from og_pool_get of p; NULL is ignored): kept idle or unmapped. */
void og_pool_put(og_pool_t *p, void *b);

#endif
