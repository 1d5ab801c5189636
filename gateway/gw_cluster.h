/*
 * gw_cluster.h: replication and quorum on top of the ring and the node client.
 *
 * Everything the S3 (and later Swift) layer stores goes through here:
 *  - chunks: content-addressed by SHA-256, placed by the 32-byte id, written to all
 *    replicas in parallel, acknowledged at a write quorum (replicas/2 + 1) of durable copies;
 *  - records (common/og_rec.h): placed by their table name (so one bucket's object index is
 *    one partition's replica set and a listing is a range scan on each replica), written at
 *    a write quorum, read from a read quorum with the newest (ts, tiebreak) winning, so that
 *    R + W > N gives read-after-write.
 * When a primary cannot be reached, the next handoff device takes its place (writes and reads).
 * A call never reports success without a quorum: OG_EQUORUM means "not stored / not known".
 * Thread-safe: called concurrently from gateway worker threads.
 */
#ifndef GW_CLUSTER_H
#define GW_CLUSTER_H

#include "og.h"
#include "og_rec.h"

typedef struct st_gw_cluster_t gw_cluster_t;

/* Loads the ring and makes a node client. 0 and *out, or an error from ring_load. */
int gw_cluster_open(const char *ring_path, int timeout_ms, gw_cluster_t **out);
void gw_cluster_close(gw_cluster_t *cl);

/* Stores one chunk (id = SHA-256 of data, computed by the caller) on a write quorum.
 * 0, OG_EQUORUM, or OG_EINVAL. Idempotent: identical chunks are stored once per device. */
int gw_cluster_chunk_put(gw_cluster_t *cl, const uint8_t id[32], const void *data, size_t len);
/* Reads bytes [off, off+len) of a chunk whose full size is chunk_len and xxh3-64 is xxh3
 * (from the object's chunk list) into buf, trying replicas in order until one serves it.
 * A full-chunk read is verified against xxh3 here too. 0, OG_ENOTFOUND (no replica has it),
 * OG_ECORRUPT (every copy that answered was corrupt), OG_EQUORUM (none reachable). */
int gw_cluster_chunk_get(gw_cluster_t *cl, const uint8_t id[32], uint64_t xxh3, size_t chunk_len, size_t off,
                         size_t len, void *buf);

/* Writes a record (put or tombstone) at a write quorum. 0 or OG_EQUORUM. */
int gw_cluster_rec_put(gw_cluster_t *cl, const char *table, og_str_t key, const og_rec_t *rec);
/* Reads the newest version of a record from a read quorum. 0 with *rec and *buf (the caller
 * frees *buf; rec's slices point into it, tombstones included), OG_ENOTFOUND when no replica
 * has ever seen the key, OG_EQUORUM when too few replicas answered. */
int gw_cluster_rec_get(gw_cluster_t *cl, const char *table, og_str_t key, og_rec_t *rec, char **buf);

/* One listing entry: key plus the record with an empty detail. */
typedef struct {
    og_str_t key;
    og_rec_t rec;
} gw_list_entry_t;

typedef struct {
    gw_list_entry_t *entries; /* sorted by key, newest version per key, tombstones REMOVED */
    size_t n;
    int truncated;            /* more keys may follow after the last raw key below */
    og_str_t next_after;      /* resume point: pass as `after` to continue (valid until freed) */
    void *_mem;
} gw_list_t;

/* Lists live records of `table` whose key starts with prefix and sorts after `after` (empty =
 * from the start), merging a read quorum of replicas. Up to `limit` raw keys are considered per
 * call (tombstones count toward it, so n may be < limit while truncated is set). 0 or OG_EQUORUM. */
int gw_cluster_list(gw_cluster_t *cl, const char *table, og_str_t prefix, og_str_t after, size_t limit,
                    gw_list_t *out);
void gw_list_free(gw_list_t *l);

/* Where a chunk lives: for each device of the ring that holds it (HEAD), its address and
 * name. For inspection tools and tests. Returns the count found, or an error. */
int gw_cluster_chunk_locate(gw_cluster_t *cl, const uint8_t id[32], char (*addrs)[96], size_t cap);

/* A fresh (ts, tiebreak) for a write: ts is wall-clock ns, made strictly increasing within
 * this process; tiebreak is random. */
void gw_cluster_stamp(gw_cluster_t *cl, uint64_t *ts, uint64_t *tiebreak);

#endif
