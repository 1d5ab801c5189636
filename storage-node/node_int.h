/*
 * node_int.h: the storage node's internals, shared by the daemon (node_main.c), the HTTP
 * server (node_server.c), the per-device store (node_store.c) and their unit tests.
 * Nothing outside storage-node/ includes this; the gateway only sees node_client.h.
 */
#ifndef NODE_INT_H
#define NODE_INT_H

#include "og.h"
#include "og_buf.h"
#include "og_keys.h"

#include <stdatomic.h>
#include <stddef.h>
#include <stdint.h>

enum {
    NODE_EPOISONED = -10310, /* the device had an fsync/RocksDB write error: no more writes */
    NODE_ECOND = -10311      /* a conditional record put whose condition does not hold */
};

#define NODE_ID_LEN 32                /* a chunk id is the SHA-256 of its bytes */
#define NODE_CHUNK_MAX (16u << 20)    /* largest chunk a node stores */
#define NODE_LIST_DEFAULT 1000
#define NODE_LIST_MAX 10000
#define NODE_BATCH_MAX 1024           /* chunks per batch write or touch */

/* ---- store: one device (directory) ---- */

typedef struct st_node_store_t node_store_t;

/* Device state (node_stat_t.state), ordered by severity. */
enum {
    NODE_DEV_OK = 0,
    NODE_DEV_FULL = 1,  /* the last chunk write ran out of space; writes are still tried */
    NODE_DEV_FAILED = 2 /* poisoned (NODE_EPOISONED): no more writes until a restart */
};

typedef struct {
    uint64_t chunks;
    uint64_t chunk_bytes;
    uint64_t records;
    uint64_t volume_bytes;    /* apparent size of the volumes (holes included) */
    uint64_t allocated_bytes; /* blocks the volumes occupy on disk (st_blocks * 512) */
    uint64_t dead_bytes;      /* deleted or never-indexed chunk bytes this process could not punch out */
    int state;                /* NODE_DEV_* */
    int last_errno;           /* errno of the last failed write since open, 0 when none */
    uint64_t last_error_ns;   /* when it happened (ns since the epoch), 0 when none */
    uint64_t free_bytes;      /* statvfs of the volumes' file system: available to the node */
    uint64_t total_bytes;
    uint64_t quarantined;     /* corrupt chunk copies taken out of service since open */
    uint64_t dedup_hits;      /* chunk writes that found the chunk already stored, since open */
    uint64_t dedup_bytes;     /* ... their bytes: not written again (dedup savings) */
} node_stat_t;

/* Opens (creating if missing) the device stored in directory `dir`: dir/vol/ and dir/db.
 * part_power (<= 32) is the ring's: items are indexed by partition for it (built by one scan when
 * the device was last opened with another, or before partition summaries existed).
 * 0 and *out (close with node_store_close), OG_EINVAL, or -errno / -EIO (RocksDB refused to open). */
int node_store_open(const char *dir, uint32_t part_power, node_store_t **out);
/* Closes volumes and RocksDB. The caller guarantees no call is in flight. NULL is a no-op. */
void node_store_close(node_store_t *s);

/* Stores a chunk durably (volume fdatasync'd, then a synced index write).
 * 0 stored, OG_EEXIST already present and verified good (no data written; its reference time,
 * which garbage collection's sweep checks, is refreshed; a corrupt stored copy is quarantined and
 * replaced, answering 0), OG_EBADDIGEST when XXH3_64(buf) != xxh3 (nothing written), OG_ETOOBIG
 * above NODE_CHUNK_MAX, -ENOSPC / -EDQUOT / -EFBIG when the disk is full (nothing stored, the
 * device is not poisoned), NODE_EPOISONED when the device failed a sync (now or earlier), or -errno. */
int node_store_chunk_put(node_store_t *s, const uint8_t id[NODE_ID_LEN], const void *buf, size_t len, uint64_t xxh3);
/* Size and xxh3 of a stored chunk from the index alone (no read, no verify).
 * 0, OG_ENOTFOUND, or -EIO. */
int node_store_chunk_stat(node_store_t *s, const uint8_t id[NODE_ID_LEN], uint32_t *len, uint64_t *xxh3);
/* Where a stored chunk lies: found by node_store_chunk_locate, read by node_store_chunk_read_located. */
typedef struct {
    int rc;        /* 0 found (then read's outcome), OG_ENOTFOUND, or an index error */
    uint32_t len;  /* the chunk's length when found, else 0 */
    uint32_t vol;  /* volume and offset of its on-disk header */
    uint64_t off;
    uint64_t xxh3;
} node_chunk_loc_t;
/* Looks chunks ids[0..n) (NODE_ID_LEN bytes each) up in the index, one look-up each, into
 * locs[0..n), and asks the kernel to start reading every run of back-to-back chunks, so the
 * reads that follow find them in memory instead of waiting one after another. */
void node_store_chunk_locate(node_store_t *s, const uint8_t *ids, size_t n, node_chunk_loc_t *locs);
/* Reads every located chunk i (locs[i].rc 0 and dst[i] not NULL) into dst[i] (locs[i].len bytes),
 * a run of chunks that lie back to back with one read, and verifies it like node_store_chunk_get.
 * locs[i].rc becomes what node_store_chunk_get would answer: 0, OG_ENOTFOUND (deleted since the
 * look-up), OG_ECORRUPT (quarantined; dst[i] must not be used) or -errno. */
void node_store_chunk_read_located(node_store_t *s, const uint8_t *ids, node_chunk_loc_t *locs, void *const *dst,
                                   size_t n);
/* Reads the whole chunk into buf (capacity cap, NODE_CHUNK_MAX is always enough) and verifies
 * it against its checksum and on-disk header. 0 with *len and *xxh3, OG_ENOTFOUND, OG_ECORRUPT
 * (the bytes in buf must not be used; the copy is quarantined, so later calls answer
 * OG_ENOTFOUND), OG_ETOOBIG with *len = the chunk's length when cap is too small, or -errno. */
int node_store_chunk_get(node_store_t *s, const uint8_t id[NODE_ID_LEN], void *buf, size_t cap, uint32_t *len,
                         uint64_t *xxh3);
/* Removes the index entry (synced), then punches the chunk's volume range out of the file once no
 * read that found the entry is still reading it (a failed punch counts as dead_bytes). A read that
 * races the delete returns the chunk or OG_ENOTFOUND, never OG_ECORRUPT.
 * 0, OG_ENOTFOUND, NODE_EPOISONED or -EIO. */
int node_store_chunk_delete(node_store_t *s, const uint8_t id[NODE_ID_LEN]);
/* Outcome of one chunk of node_store_chunk_put_many / node_store_chunk_touch_many. */
enum {
    NODE_PUT_STORED = 'S',  /* written now (durable) */
    NODE_PUT_EXISTED = 'E', /* already there (or earlier in the same batch); its reference time refreshed */
    NODE_PUT_BADDIGEST = 'X', /* xxh3 of the bytes differs from the one given: nothing written */
    NODE_PUT_ABSENT = 'N',  /* touch only: the device does not hold the chunk */
    NODE_PUT_FAILED = 'F'   /* not stored (too big, I/O error, poisoned) */
};

/* One chunk of a batch write: id, xxh3-64 and bytes (not owned). */
typedef struct {
    const uint8_t *id; /* NODE_ID_LEN bytes */
    uint64_t xxh3;
    const void *buf;
    size_t len;
} node_chunk_in_t;

/* Stores up to NODE_BATCH_MAX chunks with one volume sync and one synced index write, so a batch
 * of small chunks costs what one big chunk does. res[i] gets a NODE_PUT_* code per chunk. Either
 * the whole batch's index entries are written or none: 0 (see res), NODE_EPOISONED or a space
 * error (-ENOSPC ...; res all NODE_PUT_FAILED), OG_EINVAL (n > NODE_BATCH_MAX), -ENOMEM or -errno.
 * A chunk that already exists is verified and gets its reference time refreshed like
 * node_store_chunk_put does (a corrupt copy is quarantined and stored again: NODE_PUT_STORED). */
int node_store_chunk_put_many(node_store_t *s, const node_chunk_in_t *in, size_t n, char *res);
/* Refreshes the reference time of each of ids[0..n) (NODE_ID_LEN bytes each, contiguous) that the
 * device holds: res[i] = NODE_PUT_EXISTED, or NODE_PUT_ABSENT when it does not hold it. A writer
 * that references chunks without writing them (a copy) calls this before committing, so garbage
 * collection treats them as freshly referenced. 0, OG_EINVAL (n > NODE_BATCH_MAX),
 * NODE_EPOISONED or -EIO. */
int node_store_chunk_touch_many(node_store_t *s, const uint8_t *ids, size_t n, char *res);
/* Deletes a chunk only when its reference time (last write, duplicate write or touch) is before
 * cutoff_ns, atomically with respect to concurrent writes of the same chunk: this is what makes a
 * garbage-collection sweep safe against an upload that re-uses the chunk meanwhile. Its space is
 * reclaimed as by node_store_chunk_delete.
 * 0 deleted, OG_EEXIST kept (referenced at or after cutoff_ns), OG_ENOTFOUND, NODE_EPOISONED
 * or -EIO. */
int node_store_chunk_delete_older(node_store_t *s, const uint8_t id[NODE_ID_LEN], uint64_t cutoff_ns);
/* Sweep marks (node_store.c): node_store_chunk_delete_older leaves one, a new write of the chunk
 * clears it. *swept = 1 when the chunk has a mark made at or after since_ns. 0 or -EIO. */
int node_store_chunk_swept(node_store_t *s, const uint8_t id[NODE_ID_LEN], uint64_t since_ns, int *swept);
/* Deletes the sweep marks made before before_ns (and malformed ones), and counts the rest as the
 * marks that may exist (the store's count, which decides whether a new chunk write deletes a mark).
 * One pass at a time per store (open's, then the replicator's). 0, NODE_EPOISONED or -EIO. */
int node_store_sweep_marks_expire(node_store_t *s, uint64_t before_ns);
/* How long a sweep mark refuses replica pushes: longer than one gc sweep of the whole cluster. */
#define NODE_SWEEP_MARK_S 3600u

/* Reference time (ns since the epoch, node clock) of a stored chunk. 0, OG_ENOTFOUND or -EIO. */
int node_store_chunk_ref_time(node_store_t *s, const uint8_t id[NODE_ID_LEN], uint64_t *ref_ns);
/* Calls fn(arg, id, len) for up to `limit` chunks in id order with id > after (all when after
 * is NULL). *truncated = 1 when more follow. 0 or -EIO; a non-zero return of fn stops the
 * walk and is returned. */
int node_store_chunk_list(node_store_t *s, const uint8_t *after, size_t limit,
                          int (*fn)(void *arg, const uint8_t id[NODE_ID_LEN], uint32_t len), void *arg,
                          int *truncated);

/* Applies an encoded record (og_rec.h) under table/key when it is newer (og_rec_cmp) than the
 * stored one; the compare and write are atomic per key, and the table's usage (see
 * node_store_table_usage) changes in the same synced write. table: 1..255 bytes, no NUL.
 * 0 applied, OG_EEXIST ignored (stored is as new or newer), OG_EPROTO malformed record,
 * OG_EINVAL bad table, a space error (-ENOSPC ...), NODE_EPOISONED, or -EIO. */
int node_store_rec_put(node_store_t *s, og_str_t table, og_str_t key, const void *rec, size_t len);
/* A condition on the stored record of a conditional put (docs/node-api.md): absent = no record or a
 * tombstone; else the stored record's stamp is exactly (ts, tiebreak). */
typedef struct {
    int absent;
    uint64_t ts, tiebreak;
} node_rec_cond_t;
/* node_store_rec_put applied only when the stored record satisfies cond (NULL: always), checked
 * atomically with the write. Same results, plus NODE_ECOND (the condition does not hold: nothing
 * written). */
int node_store_rec_put_if(node_store_t *s, og_str_t table, og_str_t key, const void *rec, size_t len,
                          const node_rec_cond_t *cond);
/* Usage of a table on this device: live (non-tombstone) records and the sum of their sizes
 * (og_rec_t.size), read from one aggregate key, so O(1) whatever the table holds. A table never
 * written reads as 0/0. 0, OG_EINVAL (bad table), OG_ECORRUPT or -EIO. */
int node_store_table_usage(node_store_t *s, og_str_t table, uint64_t *records, uint64_t *bytes);
/* The stored encoded record: 0 and *out (malloc'd, caller frees with free()) + *len,
 * OG_ENOTFOUND, or -EIO. */
int node_store_rec_get(node_store_t *s, og_str_t table, og_str_t key, char **out, size_t *len);
/* A record listing: keys of table that start with prefix and are > after (when has_after), up to
 * limit entries. With a delimiter, grouped: after a live record whose key rolls up into a common
 * prefix (og_key_group_len), the rest of that prefix is skipped and the entry carries
 * OG_LIST_GROUP_CUT. */
typedef struct {
    og_str_t table, prefix, delim, after;
    int has_after;
    size_t limit;
} node_list_q_t;

/* Appends q's entries to *buf (malloc'd/realloc'd, capacity *cap, used *used; caller frees), in
 * key order. Entry = u32 keylen (big-endian; OG_LIST_GROUP_CUT or'ed in), key, record re-encoded
 * with an empty detail. *truncated = 1 when more matching keys follow. 0, -ENOMEM or -EIO. */
int node_store_rec_list(node_store_t *s, const node_list_q_t *q, char **buf, size_t *cap, size_t *used,
                        int *truncated);

/* Removes the record under table/key when its item hash (see node_store_part_list) is still
 * `hash`, with its usage, partition index and summary in one synced write. Anti-entropy uses it
 * to drop a handoff copy or a reclaimed tombstone once every primary holds it.
 * 0, OG_ENOTFOUND, OG_EEXIST (another version is stored now), OG_EINVAL, NODE_EPOISONED or -EIO. */
int node_store_rec_drop(node_store_t *s, og_str_t table, og_str_t key, uint64_t hash);

/* ---- partitions (anti-entropy): every chunk (by id) and record (by table) is in one ring
 * partition; an item is 'c' + id[32] or 'r' + table + '\0' + key, and its item hash covers its
 * identity and version (a record's ts, tiebreak and flags). ---- */

/* Summary of partition part on this device: item count and the sum (mod 2^64) of the item
 * hashes, O(1); two devices holding the same items have equal summaries. 0 (0/0 when it holds
 * nothing), OG_ECORRUPT or -EIO. */
int node_store_part_summary(node_store_t *s, uint32_t part, uint64_t *count, uint64_t *digest);
/* Calls fn(arg, part, count, digest) for every partition holding at least one item, in partition
 * order. 0, OG_ECORRUPT or -EIO; a non-zero return of fn stops the walk and is returned. */
int node_store_part_summaries(node_store_t *s, int (*fn)(void *arg, uint32_t part, uint64_t count, uint64_t digest),
                              void *arg);
/* Calls fn(arg, item, len, hash) for up to `limit` items of partition part in item order, those
 * after item `after` (alen bytes; all when after is NULL). *truncated = 1 when more follow.
 * 0, -ENOMEM, OG_ECORRUPT or -EIO; a non-zero return of fn stops the walk and is returned. */
int node_store_part_list(node_store_t *s, uint32_t part, const char *after, size_t alen, size_t limit,
                         int (*fn)(void *arg, const char *item, size_t len, uint64_t hash), void *arg,
                         int *truncated);

/* Calls fn(arg, table) once per table holding at least one record (tombstones count), in
 * order. 0 or -EIO; a non-zero return of fn stops the walk and is returned. Garbage collection
 * uses it to find every object and upload table. */
int node_store_table_list(node_store_t *s, int (*fn)(void *arg, og_str_t table), void *arg);

/* Counters kept in memory (computed by a scan of the index at open). Cannot fail. */
void node_store_stat(node_store_t *s, node_stat_t *st);
/* Source line in node_store.c where the last corruption was detected, 0 when none (for logs). */
int node_store_corrupt_line(node_store_t *s);
/* 1 once per episode of the device becoming full or failed (and at most once a minute), for the
 * caller to log it with *st filled as by node_store_stat; 0 when there is nothing new to say. The
 * store itself never logs. Cannot fail. */
int node_store_error_news(node_store_t *s, node_stat_t *st);

/* Scrubs one chunk: reads the whole stored copy and checks its header, its xxh3 and that its
 * SHA-256 is its id. A bad copy is quarantined (unindexed like a delete, its range punched).
 * 0 good (*len = its size), OG_ECORRUPT (quarantined), OG_ENOTFOUND, or -errno. */
int node_store_chunk_scrub(node_store_t *s, const uint8_t id[NODE_ID_LEN], uint32_t *len);
/* Calls fn(arg, key, klen, rec, rlen) for up to `limit` stored records in index order, starting
 * after the opaque position key (all when klen 0); a record's key is the position to resume
 * from. *done = 1 when no record follows. 0 or -EIO; a non-zero return of fn stops the walk and
 * is returned. */
int node_store_rec_walk(node_store_t *s, const char *after, size_t alen, size_t limit,
                        int (*fn)(void *arg, const char *key, size_t klen, const char *rec, size_t rlen), void *arg,
                        int *done);
/* Small named values the node keeps for itself (the scrubber's position), not part of any table.
 * name: 1..64 bytes. Put: unsynced write (a crash may lose the last one). 0, OG_EINVAL, a space
 * error, NODE_EPOISONED. Get: 0 with *val (free()) / *len, OG_ENOTFOUND, OG_EINVAL or -EIO. */
int node_store_meta_put(node_store_t *s, const char *name, const void *val, size_t len);
int node_store_meta_get(node_store_t *s, const char *name, char **val, size_t *len);

/* ---- scrubber: one background thread per device (node_scrub.c) ---- */

typedef struct st_node_scrub_t node_scrub_t;

typedef struct {
    uint64_t bytes_rate;  /* bytes verified per second at most; 0 disables the scrubber */
    uint64_t interval_ns; /* a pass starts at most this long after the previous one started */
} node_scrub_opts_t;

typedef struct {
    int running;            /* 0 when disabled */
    int phase;              /* 'c' chunks, 'r' records, 'w' waiting for the next pass */
    uint64_t pass_start_ns; /* start of the current (or last) pass */
    uint64_t last_pass_ns;  /* end of the last complete pass, 0 when none */
    uint64_t passes;        /* complete passes since the node started */
    double chunk_progress;  /* share of the chunk id space the current pass has covered (0..1) */
    uint64_t chunks_verified, bytes_verified, corrupt_found; /* since the node started */
    uint64_t records_verified, records_bad;
} node_scrub_stat_t;

/* Starts the scrubber of store `s` (which must outlive it), resuming the pass position kept in the
 * store. With bytes_rate 0 nothing starts and *out is a stopped scrubber that only reports.
 * 0 and *out (node_scrub_stop), -ENOMEM or -errno (thread). */
int node_scrub_start(node_store_t *s, const char *dev, const node_scrub_opts_t *o, node_scrub_t **out);
/* Its counters. Cannot fail. */
void node_scrub_stat(node_scrub_t *sc, node_scrub_stat_t *st);
/* Stops the thread (waits for the chunk being verified), saves the position, frees. NULL: no-op. */
void node_scrub_stop(node_scrub_t *sc);

/* Grows the malloc'd *buf (capacity *cap) to hold at least need bytes, doubling from 4 KiB; the
 * bytes in it stay. 0 or -ENOMEM (*buf unchanged). */
int node_buf_grow(char **buf, size_t *cap, size_t need);

/* ---- anti-entropy counters (node_repl.c), served by GET /<dev>/stat ---- */

/* Per device; written by the replicator thread, read by the server. */
typedef struct {
    /* the last complete pass */
    _Atomic uint64_t passes;        /* complete passes since the node started */
    _Atomic uint64_t last_start_ms, last_end_ms; /* Unix ms; 0 before the first pass ends */
    _Atomic uint64_t parts_checked; /* partitions this device is a primary of or holds items of */
    _Atomic uint64_t parts_in_sync; /* ... whose every other primary answered the same summary */
    _Atomic uint64_t handoff_items; /* items held for partitions this device is not a primary of: to move */
    _Atomic uint64_t handoff_bytes; /* ... the chunk bytes among them */
    _Atomic uint64_t ring_epoch;    /* epoch of the ring the pass used */
    /* since the node started */
    _Atomic uint64_t items_pushed, bytes_pushed; /* items a peer lacked, sent to it */
    _Atomic uint64_t items_removed; /* handoff copies and reclaimed tombstones dropped locally */
    _Atomic uint64_t moved_items, moved_bytes; /* handoff items (chunk bytes) dropped once every
                                                  primary held them: moved away */
    _Atomic uint64_t errors;        /* failed peer calls and local read/write errors */
} node_repl_stat_t;

/* ---- HTTP server (docs/node-api.md) ---- */

typedef struct st_node_server_t node_server_t;
typedef struct st_node_ring_t node_ring_t; /* the live ring, see node_ring_new below */

typedef struct {
    const char *name;    /* device name as it appears in paths; not copied */
    node_store_t *store; /* not owned */
    const node_repl_stat_t *repl; /* not owned; NULL: /stat has no replication fields */
    node_scrub_t *scrub; /* not owned; NULL: no scrubber (reported as not running) */
} node_dev_t;

/* Binds listen_addr ("ip:port", port 0 picks one), then serves devs[0..ndevs) and the live ring nr
 * (GET/PUT /ring; NULL: /ring is 404) with `workers` threads (node_loop.c); only requests signed
 * with a `node` key of keys are served (node_auth.h; the keys are copied). devs, their stores and
 * nr must outlive the server. The ring is set before the first request can be read: a node that
 * answers /health also answers /ring. 0 and *out, OG_EINVAL (bad address, or keys without a
 * `node` key), or -errno. */
int node_server_start(const char *listen_addr, const og_keys_t *keys, const node_dev_t *devs, size_t ndevs,
                      node_ring_t *nr, size_t workers, node_server_t **out);
/* The bound TCP port (useful after binding port 0). */
uint16_t node_server_port(const node_server_t *srv);
/* Stops accepting, lets in-flight requests finish, closes idle connections, joins every
 * thread and frees the server. Stores are untouched (the caller closes them). */
void node_server_stop(node_server_t *srv);

/* ---- replicator (node_repl.c, docs/architecture.md "Anti-entropy") ---- */

typedef struct st_node_repl_t node_repl_t;
typedef struct st_ring_t ring_t;
typedef struct st_ring_box_t ring_box_t;

#define NODE_REPL_INTERVAL_S 30.0
#define NODE_REPL_ITEMS_RATE 2000u          /* items examined or pushed per second */
#define NODE_REPL_BYTES_RATE (50u << 20)    /* bytes pushed per second */
#define NODE_RECLAIM_AGE_S (7u * 24 * 3600) /* tombstones older than this are purged ... */

typedef struct {
    double interval_s;       /* pause between the end of a pass and the next one */
    uint64_t items_rate, bytes_rate;
    uint64_t reclaim_age_s;  /* ... once every primary holds them */
} node_repl_opts_t;

/* Starts the replicator thread for devs[0..ndevs) (the ring devices at addr `self`), signing its
 * calls to peers with keys (copied; see node_auth.h): every
 * interval it compares each partition of each device with the partition's other primaries and
 * pushes what they lack (docs/architecture.md). Each round uses the ring then in `box` (a newer
 * one installed meanwhile is taken at the next round). It fills stats[i] for devs[i] (ndevs
 * entries, zeroed by the caller). box, self, devs and stats must outlive the replicator.
 * 0 and *out, or -ENOMEM / -errno (the thread could not start). */
int node_repl_start(ring_box_t *box, const og_keys_t *keys, const char *self, const node_dev_t *devs, size_t ndevs,
                    node_repl_stat_t *stats, const node_repl_opts_t *opts, node_repl_t **out);
/* Stops the thread (an in-flight peer call ends within its timeout) and frees it. NULL is a no-op. */
void node_repl_stop(node_repl_t *r);

/* ---- live ring (node_ring.c): PUT /ring installs a newer ring without a restart ---- */

/* Takes the box (the ring the node started with) and the --ring path an installed ring is saved
 * to. 0 and *out, or -ENOMEM. */
int node_ring_new(ring_box_t *box, const char *path, node_ring_t **out);
/* Frees nr (not the box). NULL is a no-op. */
void node_ring_free(node_ring_t *nr);
ring_box_t *node_ring_box(node_ring_t *nr);
/* Installs the ring in bytes (a ring file) when its epoch is above the one in use: saved to the
 * path first (a restart keeps it), then used by the replicator's next round. 0 installed,
 * OG_EEXIST already in use, RING_ESTALE / RING_ECONFLICT (ring.h), RING_EBADFILE, OG_EINVAL (its
 * part power or replica count differs from the one in use: the stores are indexed by it), or
 * -errno (not saved: nothing changed). */
int node_ring_install(node_ring_t *nr, const void *bytes, size_t len);

/* ---- metrics and health on --metrics-listen (node_metrics.c) ---- */

/* What the operator's listener reads: the devices (and their replication counters and
 * scrubbers), which must outlive it. */
typedef struct {
    const node_dev_t *devs;
    size_t ndevs;
} node_metrics_t;

/* og_opsd_fn (og_metrics.h) with ctx a node_metrics_t: /metrics (the onggi_node_* families),
 * /health/live (200), /health/ready (200 when every device is writable, else 503 naming the
 * ones that are not), else 404. */
int node_metrics_answer(void *ctx, const char *path, og_buf_t *body, const char **content_type);

#endif
