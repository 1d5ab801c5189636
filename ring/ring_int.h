/*
 * ring_int.h: the layout of ring_t, shared by the lookup/file side (ring.c) and the builder
 * (ring_build.c). Nothing outside ring/ includes this.
 */
#ifndef RING_INT_H
#define RING_INT_H

#include "ring.h"

/* Marks an empty replica slot in the table and an unused entry of id2idx. */
#define RING_NONE UINT32_MAX
/* last_moved value of a partition that has never been assigned. */
#define RING_NEVER INT64_MIN
/* Beyond 2^24 partitions the table alone would reach hundreds of megabytes per process. */
#define RING_PART_POWER_MAX 24

typedef struct {
    ring_dev_t pub; /* what callers see; ring_primaries hands out &pub */
    /* ring_dev_remove'd while still holding partitions: it keeps serving them (the table
     * still names it) until the next rebalance moves them and drops the device. */
    int removed;
    size_t assigned; /* partition-replicas naming this device in the table */
} ring_devrec_t;

struct st_ring_t {
    uint64_t epoch; /* bumped by every builder change (ring_epoch) */
    uint32_t part_power;
    uint32_t replicas;
    uint32_t min_part_hours;
    uint32_t nparts;     /* 1 << part_power */
    uint32_t next_id;    /* ids are never reused, so this only grows */
    ring_devrec_t *devs; /* sorted by id (ids are handed out in increasing order) */
    size_t ndev;
    size_t devcap;
    uint32_t *id2idx; /* [next_id]: index into devs, or RING_NONE for a dropped id */
    /* [nparts * replicas]: device id of replica r of partition p at p * replicas + r, so one
     * lookup reads one cache line. RING_NONE before the first rebalance. */
    uint32_t *table;
    int64_t *last_moved; /* [nparts]: Unix seconds of the last rebalance that moved p, or RING_NEVER */
};

/* Device record for an id present in the table, or NULL for RING_NONE / a dropped id. */
static inline ring_devrec_t *ring_rec_of(const ring_t *ring, uint32_t id)
{
    if (id >= ring->next_id || ring->id2idx[id] == RING_NONE)
        return NULL;
    return &ring->devs[ring->id2idx[id]];
}

/* Rebuilds id2idx from devs (after devs changed) and, when recount, each device's assigned
 * count from the table. Cannot fail: id2idx already has next_id entries. */
void ring_reindex(ring_t *ring, int recount);

/* Allocates an empty ring (no devices, table all RING_NONE). 0, OG_EINVAL or -ENOMEM. */
int ring_alloc(uint32_t part_power, uint32_t replicas, uint32_t min_part_hours, ring_t **out);

#endif
