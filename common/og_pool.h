/*
 * og_pool.h: a pool of equal-size anonymous mappings for large per-request buffers (a gateway's
 * 4 MiB batches, a node's direct-write bounce buffers). A mapping is page-aligned and faulted in
 * lazily, so a buffer costs the pages it was filled to; the pool keeps at most idle_max returned
 * ones (the most recently returned is taken first) and unmaps the rest. An idle buffer keeps its
 * pages, so a busy pool hands out buffers that need no page faults (a fresh mapping of a 1 MiB
 * GET's buffers faulted ~600 pages in, most of the gateway's CPU on this VM); og_pool_trim gives
 * back the pages of buffers idle for a while, so memory is kept only while the pool is busy.
 * Thread-safe.
 */
#ifndef OG_POOL_H
#define OG_POOL_H

#include <pthread.h>
#include <stddef.h>
#include <stdint.h>

#define OG_POOL_IDLE_MAX 32

typedef struct {
    pthread_mutex_t mu;
    size_t len;
    unsigned idle_max, nidle; /* idle_max <= OG_POOL_IDLE_MAX */
    void *idle[OG_POOL_IDLE_MAX];
    uint64_t since[OG_POOL_IDLE_MAX]; /* when idle[i] came back (og_mono_ms), 0 once trimmed */
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
/* Gives the pages of every buffer idle for idle_ms or more back to the kernel (MADV_DONTNEED: it
 * stays mapped and in the pool, and reads as zeros until written again). Call it periodically. */
void og_pool_trim(og_pool_t *p, uint64_t idle_ms);

#endif
