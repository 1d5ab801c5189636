/*
 * cluster/cluster.h: replication and quorum on top of the ring and the node client.
 *
 * Everything the S3 (and later Swift) layer stores goes through here:
 *  - chunks: content-addressed by SHA-256, placed by the 32-byte id, written to all
 *    replicas in parallel, acknowledged at a write quorum (replicas/2 + 1) of durable copies;
 *  - records (common/og_rec.h): placed by their table name (so one bucket's object index is
 *    one partition's replica set and a listing is a range scan on each replica), written at
 *    a write quorum, read from a read quorum with the newest (ts, tiebreak) winning, so that
 *    R + W > N gives read-after-write.
 * When a primary cannot be reached, the next handoff device takes its place (writes and reads);
 * a handoff's copy of a chunk counts toward the chunk's quorum, but a record write needs a quorum
 * of PRIMARIES (record reads settle on primaries, so only that keeps R + W > N).
 * A write returns once its quorum answered; replicas slower than that are abandoned after a short
 * grace (anti-entropy brings them up to date). A node that timed out is skipped for a back-off
 * period (probed once when it ends), so a frozen node costs one timeout, not one per request.
 * A call never reports success without a quorum: OG_EQUORUM means "not stored / not known".
 * Thread-safe: called concurrently from gateway worker threads.
 */
#ifndef CLUSTER_H
#define CLUSTER_H

#include "og.h"
#include "og_buf.h"
#include "og_rec.h"

typedef struct st_cluster_t cluster_t;

/* Loads the ring and the cluster key file (keys_path, or NULL for ring_path + ".keys": see
 * og_keys_load_for) and makes a node client that signs every request with the file's first
 * `node` key. 0 and *out, or an error from ring_load or og_keys_load_for. */
int cluster_open(const char *ring_path, const char *keys_path, int timeout_ms, cluster_t **out);
void cluster_close(cluster_t *cl);

/* Starts a thread that asks every node for GET /health every 500 ms (cluster_health.c): a
 * node that twice in a row does not answer within 1 s (frozen, cut off) enters the failure
 * back-off at once, before any request has waited for it, so while no replica can answer,
 * requests fail at once with OG_EQUORUM instead of each waiting for the operation timeout.
 * Recovery is left to the back-off's own probes. Stopped by cluster_close. 0 or -errno. */
int cluster_watch_start(cluster_t *cl);

/* Purge on change (cluster_purge.c, docs/operations.md "Behind a CDN"). */
enum { CLUSTER_CHANGE_PUT, CLUSTER_CHANGE_DELETE };
#define CLUSTER_PURGE_QUEUE 4096 /* events waiting for the purge thread, by default */
/* Whether bucket's objects are public (a shared cache may hold them): 1 with its owner's account
 * in account (cap bytes), else 0. Called on the purge thread. */
typedef int (*cluster_public_fn)(void *ctx, const char *bucket, char *account, size_t cap);
typedef struct {
    const char *const *urls; /* "http://HOST[:PORT][/PREFIX]": PURGE requests */
    size_t nurls;
    const char *const *hooks; /* "http://HOST[:PORT]/PATH": POSTed JSON events */
    size_t nhooks;
    size_t queue; /* 0: CLUSTER_PURGE_QUEUE */
    cluster_public_fn is_public;
    void *ctx;
} cluster_purge_conf_t;
/* Starts the purge thread: from now on every cluster_changed event of a public bucket is sent to
 * every target, off the request path (bounded queue, oldest dropped when full, retries). Stopped
 * by cluster_close. 0, OG_EINVAL (a URL that is not http://HOST[:PORT][/PATH]) or -errno. */
int cluster_purge_start(cluster_t *cl, const cluster_purge_conf_t *conf);
/* Says that (bucket, key) was written or deleted (CLUSTER_CHANGE_*; vid its version id or NULL).
 * Only queues; a no-op without cluster_purge_start. Any thread. */
void cluster_changed(cluster_t *cl, int event, const char *bucket, og_str_t key, const char *vid);

/* Fills buf (cap bytes) and sets *len; 0 or an error. */
typedef int (*cluster_fill_fn)(void *ctx, char *buf, size_t cap, size_t *len);
/* Request coalescing (cluster_coalesce.c): concurrent callers with the same key (which must name
 * the bytes exactly, e.g. from content addresses) share one fill: the first runs it into a
 * buffer of cap bytes, the others wait for it. Never a cache: a caller arriving after the fill
 * ended starts a new one. With fresh, the caller shares only a fill that starts after it arrived
 * (read-after-write for what may change under the key, such as a record). 0 with *out the bytes,
 * valid until cluster_coalesce_done(cl, *ticket); fill's error (nothing to release); or 1 when
 * coalescing is not possible now (the flights' memory budget is spent, or no memory): the caller
 * reads on its own. */
int cluster_coalesce(cluster_t *cl, og_str_t key, size_t cap, int fresh, cluster_fill_fn fill, void *ctx,
                     og_str_t *out, void **ticket);
/* Releases a caller's share of cluster_coalesce's bytes. */
void cluster_coalesce_done(cluster_t *cl, void *ticket);

/* Loads the ring file again and uses it when its epoch is above the one in use (ring.h): requests
 * that start afterwards are placed by it, those in flight finish on theirs. The replaced ring is
 * kept so that a read that misses in the new placement asks the old one while data moves
 * (docs/architecture.md, "Ring changes"). 0 installed, OG_EEXIST same ring, RING_ESTALE older,
 * RING_ECONFLICT (same epoch, other content), OG_EINVAL (another part power or replica count:
 * needs a restart), or ring_load's error. Thread-safe. */
int cluster_ring_reload(cluster_t *cl, const char *path);
/* Epoch of the ring in use. */
uint64_t cluster_ring_epoch(cluster_t *cl);

/* Stores one chunk (id = SHA-256 of data, computed by the caller) on a write quorum.
 * 0, OG_EQUORUM, or OG_EINVAL. Idempotent: identical chunks are stored once per device. */
int cluster_chunk_put(cluster_t *cl, const uint8_t id[32], const void *data, size_t len);
/* Reads bytes [off, off+len) of a chunk whose full size is chunk_len and xxh3-64 is xxh3
 * (from the object's chunk list) into buf, trying replicas in order until one serves it.
 * A full-chunk read is verified against xxh3 here too. 0, OG_ENOTFOUND (no replica has it),
 * OG_ECORRUPT (every copy that answered was corrupt), OG_EQUORUM (none reachable). */
int cluster_chunk_get(cluster_t *cl, const uint8_t id[32], uint64_t xxh3, size_t chunk_len, size_t off,
                         size_t len, void *buf);

/* Content-defined chunk sizes for object data (common/og_cdc.h): every writer of one cluster must
 * use the same sizes or equal data written through two of them stops sharing chunks (nothing
 * breaks, only dedup). Defaults: CLUSTER_CDC_MIN / CLUSTER_CDC_AVG / CLUSTER_CDC_MAX (docs/architecture.md says
 * why). cluster_set_chunking takes an average (power of two, 16 KiB..4 MiB) and sets min =
 * avg/4, max = 4*avg; 0 or OG_EINVAL. Call it before the handle is shared between threads. */
#define CLUSTER_CDC_MIN (8u << 10)
#define CLUSTER_CDC_AVG (32u << 10)
#define CLUSTER_CDC_MAX (128u << 10)
int cluster_set_chunking(cluster_t *cl, uint32_t avg);
void cluster_chunking(const cluster_t *cl, uint32_t *min, uint32_t *avg, uint32_t *max);

/* Batch writes: the most chunks and bytes one cluster_chunk_put_many sends per node request,
 * and the header bytes a caller reserves in front of the data (see below). */
#define CLUSTER_BATCH_MAX_CHUNKS 256
/* A batch request's header for k chunks: u32 k, then per chunk its id, u32 len and u64 xxh3. */
#define CLUSTER_BATCH_HDR_LEN(k) (4 + 44 * (size_t)(k))
#define CLUSTER_BATCH_HDR_MAX CLUSTER_BATCH_HDR_LEN(CLUSTER_BATCH_MAX_CHUNKS)

/* One chunk of a batch write. */
typedef struct {
    uint8_t id[32]; /* SHA-256 of the bytes */
    uint64_t xxh3;  /* xxh3-64 of the bytes */
    uint32_t len;
} cluster_chunk_hdr_t;

/* Stores n (<= CLUSTER_BATCH_MAX_CHUNKS) chunks whose bytes lie back to back in data[0, sum of lens),
 * each at a write quorum, with one request per node (the node syncs once per batch; a small batch
 * may share that request with other callers', cluster_set_batch_combine). The caller
 * must leave CLUSTER_BATCH_HDR_MAX writable bytes before data: the request header is built there so the
 * data is sent without a copy when one node takes the whole batch. A chunk that fewer than a
 * quorum of its primaries stored in the batch is written again on its own (primaries and
 * handoffs, cluster_chunk_put). 0, OG_EQUORUM (some chunk is not at quorum), OG_EINVAL,
 * -ENOMEM. Idempotent like cluster_chunk_put. */
int cluster_chunk_put_many(cluster_t *cl, const cluster_chunk_hdr_t *hdrs, size_t n, char *data);

/* Small batches (up to 256 KiB) of concurrent cluster_chunk_put_many callers share node requests:
 * while `leaders` combined requests are in flight, further small batches queue and the next
 * request carries them all (cluster_combine.c says why and how). Default 2; 0 sends every batch
 * alone. Set before the handle is in use. */
void cluster_set_batch_combine(cluster_t *cl, unsigned leaders);
/* Small batches that went through the queue, and the combined requests sent for them (each one
 * request per device), since the handle was opened. */
void cluster_combine_counts(cluster_t *cl, uint64_t *batches, uint64_t *sends);

/* One ranged chunk read of cluster_chunk_get_many: bytes [off, off+len) of a chunk. */
typedef struct {
    const uint8_t *id;
    uint64_t xxh3;
    size_t chunk_len, off, len;
    void *buf; /* len bytes */
} cluster_chunk_read_t;

/* Scratch bytes that let cluster_chunk_get_many take the nodes' answers for n chunks of
 * chunk_bytes in total (whole chunks: a ranged read still fetches its whole chunk) without
 * allocating. */
#define CLUSTER_READ_SCRATCH(n, chunk_bytes) ((chunk_bytes) + 5 * (size_t)(n))

/* Reads n chunks (or parts) with one POST /<dev>/read per node, in parallel, consecutive chunks
 * from different replicas; whole chunks come back and are verified (xxh3) before the wanted range
 * is copied out. A chunk that did not come back good is read alone with cluster_chunk_get (all
 * replicas). The nodes' answers go to scratch (scratch_cap bytes, the caller's, reused across calls
 * so a long read does not churn the allocator; CLUSTER_READ_SCRATCH says how much is enough) and are
 * malloc'd when scratch is NULL or too small. 0 when every read succeeded, else the error of the
 * first one that failed (as cluster_chunk_get). */
int cluster_chunk_get_many(cluster_t *cl, const cluster_chunk_read_t *rd, size_t n, char *scratch,
                              size_t scratch_cap);

/* Refreshes the reference time of n chunks (ids back to back, 32 bytes each) on their replicas, so
 * a garbage-collection sweep running now cannot delete them: a writer that references existing
 * chunks without writing them (CopyObject) calls this before committing its record.
 * 0 when each chunk was touched on a quorum of devices; OG_EQUORUM otherwise (do not commit). */
int cluster_chunk_touch(cluster_t *cl, const uint8_t *ids, size_t n);

/* Writes a record (put or tombstone) at a write quorum of primaries. 0 means this version is the
 * one readers now see: when a replica keeps a newer record (stamped by a gateway whose clock runs
 * ahead, or written concurrently), this handle's clock moves past it and the record is written
 * again with a fresh cluster_stamp (a few times at most, then OG_EQUORUM). Exception: a record with
 * tiebreak 0 (cluster_stamp never makes one) is written at exactly its stamp, as a condition: it
 * loses to any newer version and still answers 0 (core_obj_expire's tombstone, which must not
 * delete a version written after the one that expired). 0, OG_EQUORUM, OG_EINVAL, OG_ETOOBIG,
 * -ENOMEM. */
int cluster_rec_put(cluster_t *cl, const char *table, og_str_t key, const og_rec_t *rec);
/* The condition of cluster_rec_put_if: absent = no record or a tombstone; else the stored record's
 * stamp is exactly (ts, tiebreak). */
typedef struct {
    int absent;
    uint64_t ts, tiebreak;
} cluster_rec_cond_t;
/* Writes rec (stamped by the caller; never restamped) on each primary whose stored record
 * satisfies cond there, checked atomically with the write on that replica (docs/node-api.md,
 * "?if="). 0 when a quorum of primaries applied it; OG_EEXIST when fewer did because the condition
 * (or a newer record) kept it out on some: it may still be applied on a minority (and a handoff),
 * which the caller undoes with another conditional put on its own stamp; OG_EQUORUM when too few
 * answered (same caveat); OG_EINVAL, OG_ETOOBIG, -ENOMEM. The building block of the conditional
 * write lease (core_cond.c, docs/architecture.md "Conditional writes"). */
int cluster_rec_put_if(cluster_t *cl, const char *table, og_str_t key, const og_rec_t *rec,
                       const cluster_rec_cond_t *cond);
/* Reads the newest version of a record from a read quorum. 0 with *rec and *buf (the caller
 * frees *buf; rec's slices point into it, tombstones included), OG_ENOTFOUND when no replica
 * has ever seen the key, OG_EQUORUM when too few replicas answered. A quorum of primaries (in
 * turn, to spread the load) is asked first; the other primaries, and handoffs for unreachable
 * ones, only when one of those failed or lacks the key, so a hit costs a quorum of node reads. */
int cluster_rec_get(cluster_t *cl, const char *table, og_str_t key, og_rec_t *rec, char **buf);
/* cluster_rec_get for records many requests read at once (an object's, on GET): concurrent callers
 * share one quorum read that started after each of them arrived (cluster_coalesce, fresh), so a
 * write acknowledged before a caller arrived is always seen. Same answers as cluster_rec_get. */
int cluster_rec_get_shared(cluster_t *cl, const char *table, og_str_t key, og_rec_t *rec, char **buf);

/* Like cluster_rec_get, for small records that are read on every request and rarely written
 * (bucket records): a live record this handle read within the last max_age_ms may be answered from
 * its cache instead of a quorum read. So a change made through ANOTHER gateway can take up to
 * max_age_ms to be seen here, while cluster_rec_put of the same table/key through this handle
 * drops the entry at once (this gateway always sees its own writes). Only live records up to a few
 * hundred bytes are cached: tombstones, misses and errors always come from the cluster. Same
 * results and ownership as cluster_rec_get (*buf is a fresh copy the caller frees). */
int cluster_rec_get_cached(cluster_t *cl, const char *table, og_str_t key, uint32_t max_age_ms, og_rec_t *rec,
                              char **buf);

/* ---- cached counters (cluster_memo.c) ----
 * Small counters that every write consults (a quota's usage, an account's quota) read from the
 * cluster at most once per TTL per key by this gateway, plus what this gateway added since. One
 * caller fills a key at a time: the others answer from the value kept (stale by the fill's
 * duration at most) or, when there is none, wait for the fill. The TTL is the handle's
 * (CLUSTER_MEMO_TTL_MS by default; 0: every get fills, nothing is kept). */
#define CLUSTER_MEMO_VALS 2
#define CLUSTER_MEMO_TTL_MS 1000
/* Reads key's counters from the cluster into v: 0 or an error (nothing is kept then). */
typedef int (*cluster_memo_fill_fn)(void *ctx, uint64_t v[CLUSTER_MEMO_VALS]);
/* Sets the TTL in ms; call it before the handle is shared between threads. */
void cluster_set_memo_ttl(cluster_t *cl, uint32_t ttl_ms);
uint32_t cluster_memo_ttl(const cluster_t *cl);
/* key's counters (the kept value plus this gateway's adds since it was read) when younger than the
 * TTL, else fill's (called here, single flight). 0 with v, or fill's error. Thread-safe. */
int cluster_memo_get(cluster_t *cl, og_str_t key, cluster_memo_fill_fn fill, void *ctx, uint64_t v[CLUSTER_MEMO_VALS]);
/* Adds add to key's kept counters until the next fill reads the cluster (which then holds it): a
 * write this gateway is making. A no-op for a key not kept. */
void cluster_memo_add(cluster_t *cl, og_str_t key, const uint64_t add[CLUSTER_MEMO_VALS]);
/* Drops key's counters: the next get fills, and a fill running now keeps nothing (what made the
 * caller forget may postdate its read). */
void cluster_memo_forget(cluster_t *cl, og_str_t key);

/* One listing entry: key plus the record with an empty detail. */
typedef struct {
    og_str_t key;
    og_rec_t rec;
    int group_cut; /* grouped listings: keys of this key's common prefix after it were not read (below) */
} cluster_list_entry_t;

typedef struct {
    cluster_list_entry_t *entries; /* sorted by key, newest version per key, tombstones REMOVED */
    size_t n;
    int truncated;            /* more keys may follow after the last raw key below */
    og_str_t next_after;      /* resume point: pass as `after` to continue (valid until freed) */
    void *_mem;
} cluster_list_t;

/* Lists live records of `table` whose key starts with prefix and sorts after `after` (empty =
 * from the start), merging a read quorum of replicas (asked first; the others only when one of
 * those failed). Up to `limit` raw keys are considered per
 * call (tombstones count toward it, so n may be < limit while truncated is set). 0 or OG_EQUORUM. */
int cluster_list(cluster_t *cl, const char *table, og_str_t prefix, og_str_t after, size_t limit,
                    cluster_list_t *out);
/* cluster_list for a listing with a delimiter (empty: exactly cluster_list). The replicas skip the
 * rest of a common prefix (og_key_group_len) once they hold a live key under it, so a page costs
 * one round trip however many keys each prefix holds. The page gives at least one live key of
 * every common prefix that has one, up to where it ends (it ends early, truncated, rather than pass
 * a prefix whose replicas disagree without a live key decided), and maybe not the others. The
 * last entry it gives of a prefix whose later keys were skipped has group_cut set: a reader that
 * drops that entry (an expired object) and every other of its prefix must continue after it, not
 * past the prefix. Same returns as cluster_list. */
int cluster_list_grouped(cluster_t *cl, const char *table, og_str_t prefix, og_str_t delim, og_str_t after,
                         size_t limit, cluster_list_t *out);
void cluster_list_free(cluster_list_t *l);
/* Calls fn(ctx, key, rec) for every live record of table, page by page (admin walks over users,
 * accounts ...). Stops at fn's first nonzero return and returns it; else 0 or a cluster_list error. */
int cluster_table_each(cluster_t *cl, const char *table, int (*fn)(void *ctx, og_str_t key, const og_rec_t *rec),
                       void *ctx);

/* Usage of one table: its live (non-tombstone) records and the sum of their og_rec_t.size. */
typedef struct {
    uint64_t records;
    uint64_t bytes;
} cluster_table_usage_t;

/* Reads a table's usage from its primaries' aggregates (GET /<dev>/usage/<table>, O(1) per node,
 * exact after overwrites and deletes): a quorum of primaries first, all of them when those
 * disagree; the value most of them report wins, else the largest of each field (a lagging replica
 * must not let a quota be exceeded or a non-empty container look empty). Handoffs are never asked.
 * 0 and *out, OG_EQUORUM (fewer than a quorum of primaries answered), OG_EINVAL (bad table). */
int cluster_table_usage(cluster_t *cl, const char *table, cluster_table_usage_t *out);

/* Where a chunk lives: for each device of the ring that holds it (HEAD), its address and
 * name. For inspection tools and tests. Returns the count found, or an error. */
int cluster_chunk_locate(cluster_t *cl, const uint8_t id[32], char (*addrs)[96], size_t cap);

/* Data-path buffers (object batch, read and scratch buffers) of len bytes, from a small pool of
 * mapped buffers this handle keeps: a freed buffer goes back to the pool (at most a few stay idle,
 * the rest are unmapped), so a busy gateway neither page-faults a fresh mapping per request nor
 * lets malloc's arenas keep every large block it ever freed. NULL on failure. Give the buffer back
 * with cluster_buf_put and the same len. Thread-safe. */
void *cluster_buf_get(cluster_t *cl, size_t len);
void cluster_buf_put(cluster_t *cl, void *p, size_t len);
/* Gives the pages of buffer p (from cluster_buf_get with len) past its first keep bytes back to
 * the kernel; they read as zeros and cost memory again only once written. For a buffer that
 * filled once and now holds little for a long time (a slow upload's batch). Cannot fail. */
void cluster_buf_trim(void *p, size_t len, size_t keep);

/* A fresh (ts, tiebreak) for a write from a hybrid logical clock: ts is wall-clock ns, made
 * strictly increasing within this handle and greater than every stamp the handle has read
 * (cluster_rec_get, cluster_list) or been told of by a node (cluster_rec_put); tiebreak is random
 * and never 0. */
void cluster_stamp(cluster_t *cl, uint64_t *ts, uint64_t *tiebreak);

/* Can this gateway reach a write quorum for the buckets table? Asks the table's primaries for
 * their device state (GET /<dev>/stat, CLUSTER_READY_TIMEOUT_MS at most; a node the failure
 * detection has in back-off counts as unreachable without being asked) and counts the ones
 * answering "ok". One probe at a time per handle; its outcome is reused for
 * CLUSTER_READY_CACHE_MS, so a burst of health checks costs the nodes one probe. 1 ready, 0 not;
 * why (cap bytes) says how many are writable. Thread-safe; answers within about the timeout. */
#define CLUSTER_READY_TIMEOUT_MS 1000
#define CLUSTER_READY_CACHE_MS 1000
int cluster_ready(cluster_t *cl, char *why, size_t cap);

/* Appends the cluster's metric families (Prometheus text, og_metrics.h) to b:
 * per node address errors, timeouts and skipped calls, whether it is in back-off, its latency;
 * the ring epoch. Fails only by b running out of memory. */
void cluster_metrics_format(cluster_t *cl, og_buf_t *b);
/* ---- device status (cluster_devs.c) ---- */

/* One device of the ring as its node answered just now. */
typedef struct {
    char name[32];
    char addr[64];
    uint32_t zone;
    double weight;
    int up;            /* GET /<dev>/stat answered 200 */
    int skipped;       /* not asked: this gateway holds the node in a failure back-off */
    const char *error; /* why not up (static text), "" when up */
    char *stat;        /* the node's /<dev>/stat JSON (docs/node-api.md), NULL when not up */
    size_t stat_len;
} cluster_dev_status_t;

/* Asks every device of the ring in use for its /stat, in parallel, each bounded by a short
 * timeout (a frozen node costs that once, then its back-off skips it). 0 with *out (n entries,
 * ring order; free with cluster_devs_status_free), or -ENOMEM. The outcomes also feed the
 * handle's failure detection, like any other call. */
int cluster_devs_status(cluster_t *cl, cluster_dev_status_t **out, size_t *n);
void cluster_devs_status_free(cluster_dev_status_t *st, size_t n);

#endif
