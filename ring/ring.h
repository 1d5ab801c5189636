/*
 * ring.h: Onggi's consistent-hash ring (in the spirit of swift-ring-builder).
 *
 * The key space is cut into 2^part_power partitions: part = xxh3_64(key) >> (64 - part_power).
 * Each partition has `replicas` primary devices, chosen so that replicas sit on distinct
 * devices, on distinct zones while there are at least `replicas` zones, then on distinct
 * nodes (addresses). A device belongs to a storage node (addr "ip:port") and has a name
 * ("d1") unique on that node, a zone and a weight. The ring file is versioned and
 * checksummed; every process loads the same file and gets identical lookups.
 *
 * Lookup side (gateway, nodes, tools): ring_load, ring_part, ring_primaries, ring_handoff.
 * Builder side (onggi-ring CLI): ring_create, ring_dev_add, ring_dev_remove, ring_dev_set_weight,
 * ring_rebalance, ring_save.
 * Live side (running processes, ring_box.c): a ring_box_t holds the ring in use and takes a newer
 * one without a restart. Every builder change bumps the ring's epoch; a box only ever moves to a
 * higher epoch, so an older ring (a late push, a stale file) never replaces a newer one.
 */
#ifndef RING_H
#define RING_H

#include "og.h"

#define RING_MAX_REPLICAS 8
#define RING_ADDR_MAX 64
#define RING_NAME_MAX 32

enum {
    RING_EBADFILE = -10100, /* magic, version or checksum wrong */
    RING_ENODEV = -10101,   /* no such device id */
    RING_ETOOFEW = -10102,  /* fewer devices with weight > 0 than replicas */
    RING_EDUPDEV = -10103,  /* same addr + name already in the ring */
    RING_ESTALE = -10104,   /* ring_box_offer: the ring's epoch is below the one in use */
    RING_ECONFLICT = -10105 /* ring_box_offer: same epoch as the one in use, different content */
};

typedef struct st_ring_t ring_t;

typedef struct {
    uint32_t id;                /* stable, never reused */
    uint32_t zone;
    char addr[RING_ADDR_MAX];   /* storage node "ip:port" */
    char name[RING_NAME_MAX];   /* device name on that node */
    double weight;              /* 0 = drain: holds no partitions after a rebalance */
} ring_dev_t;

/* Loads a ring file. 0 and *out (free with ring_free), or RING_EBADFILE / -errno. */
int ring_load(const char *path, ring_t **out);
/* Parses the bytes of a ring file (what ring_to_bytes or a ring file holds). Same results as
 * ring_load; bytes are not kept. */
int ring_from_bytes(const void *bytes, size_t len, ring_t **out);
/* Encodes the ring as its file's bytes into *out (malloc'd, caller frees) and *len. 0 or -ENOMEM. */
int ring_to_bytes(const ring_t *ring, uint8_t **out, size_t *len);
void ring_free(ring_t *ring);

/* The ring's epoch: 0 for a new ring, + 1 for every ring_dev_add / ring_dev_remove /
 * ring_dev_set_weight / ring_rebalance. Kept in the file. */
uint64_t ring_epoch(const ring_t *ring);

uint32_t ring_part_power(const ring_t *ring);
uint32_t ring_replica_count(const ring_t *ring);
/* Partition of a key. Pure function of the key and part_power. */
uint32_t ring_part(const ring_t *ring, const void *key, size_t len);
/* Fills devs[0..n) with the primaries of `part` in replica order; returns n
 * (ring_replica_count, or fewer when cap is smaller). Pointers live as long as the ring. */
size_t ring_primaries(const ring_t *ring, uint32_t part, const ring_dev_t **devs, size_t cap);
/* The i-th handoff device for `part` (0-based): a deterministic order of the devices that
 * are not primaries of part, preferring zones the primaries do not use. NULL when exhausted. */
const ring_dev_t *ring_handoff(const ring_t *ring, uint32_t part, size_t i);
/* All devices (including weight-0 ones still in the ring). */
size_t ring_dev_count(const ring_t *ring);
const ring_dev_t *ring_dev_at(const ring_t *ring, size_t i);

/* ---- builder ---- */

/* A new empty ring. min_part_hours: a partition moved in a rebalance is not moved again
 * for that many hours (except when its device is removed). 0 or -errno/OG_EINVAL. */
int ring_create(uint32_t part_power, uint32_t replicas, uint32_t min_part_hours, ring_t **out);
/* Adds a device; its id is returned in *id. RING_EDUPDEV when addr+name already present. */
int ring_dev_add(ring_t *ring, uint32_t zone, const char *addr, const char *name, double weight, uint32_t *id);
/* Removes a device: its partitions are reassigned by the next rebalance. */
int ring_dev_remove(ring_t *ring, uint32_t id);
int ring_dev_set_weight(ring_t *ring, uint32_t id, double weight);
/* Reassigns partitions to match weights, moving as few partition-replicas as possible and
 * respecting min_part_hours. `now` is Unix seconds (tests pass their own). *moved, when
 * not NULL, gets the number of partition-replicas that changed device. */
int ring_rebalance(ring_t *ring, int64_t now, size_t *moved);
/* Forgets when partitions last moved, so the next rebalance may move any of them (swift-ring-builder's
 * pretend_min_part_hours_passed: for a ring whose data has settled sooner, or a test). */
void ring_pretend_min_part_hours_passed(ring_t *ring);
/* Writes the ring atomically (temp file + fsync + rename). 0 or -errno. */
int ring_save(const ring_t *ring, const char *path);
/* Partitions assigned to device id (counting each replica), and the ideal share by weight. */
int ring_dev_parts(const ring_t *ring, uint32_t id, size_t *assigned, double *ideal);

/* ---- live ring (ring_box.c) ---- */

typedef struct st_ring_box_t ring_box_t;

/* What a reader pins: the ring in use and the one it replaced (NULL before the first change).
 * Both stay valid until ring_box_put, whatever is offered meanwhile. */
typedef struct {
    const ring_t *ring;
    const ring_t *prev;
    void *_gen;
} ring_view_t;

/* A box holding ring (which it now owns, also on failure). 0 and *out, or -ENOMEM / -errno. */
int ring_box_new(ring_t *ring, ring_box_t **out);
/* Frees the box and its rings. No view may be pinned. NULL is a no-op. */
void ring_box_free(ring_box_t *box);
/* Pins the current ring and its predecessor into *v. Cannot fail; pair with ring_box_put. */
void ring_box_get(ring_box_t *box, ring_view_t *v);
void ring_box_put(ring_box_t *box, ring_view_t *v);
/* Epoch of the ring in use. */
uint64_t ring_box_epoch(ring_box_t *box);
/* Offers a ring: installed when its epoch is above the current one (0; the box owns it and the
 * replaced ring becomes `prev`). Otherwise the caller keeps ring and gets OG_EEXIST (same epoch,
 * same bytes: nothing to do), RING_ECONFLICT (same epoch, other bytes), RING_ESTALE (older), or
 * -ENOMEM. Readers holding a view keep their rings. */
int ring_box_offer(ring_box_t *box, ring_t *ring);

#endif
