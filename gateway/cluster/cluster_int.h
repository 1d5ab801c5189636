/*
 * cluster_int.h: what the files of the cluster room share (not part of cluster.h).
 *
 * cluster.c holds the handle and cl_op_t, the one shape of a replicated request (see its top
 * comment); cluster_chunk.c, cluster_rec.c and cluster_list.c build chunk, record and listing
 * operations on it; cluster_health.c keeps the nodes' health and sends every call (cl_call_many).
 */
#ifndef CLUSTER_INT_H
#define CLUSTER_INT_H

#include "cluster.h"

#include "node_client.h"
#include "og_keys.h"
#include "og_pool.h"
#include "ring.h"

#include <pthread.h>
#include <stdatomic.h>

/* Limits of what this layer sends to a node: the node API's table syntax, S3's key length and
 * the node's chunk size limit. */
#define CL_TABLE_MAX 255
#define CL_CHUNK_MAX (16u << 20)
#define CL_LIST_DEFAULT 1000
#define CL_LIST_MAX 10000
/* "/rec/<table>/<key percent-encoded>": the longest path suffix of a record operation. */
#define CL_REC_SUFFIX_MAX (sizeof("/rec//") + CL_TABLE_MAX + 3 * OG_KEY_MAX + 1)
/* "/list/<table>?prefix=<enc>&after=<enc>&limit=<n>" */
#define CL_LIST_SUFFIX_MAX (sizeof("/list/?prefix=&after=&delimiter=&limit=") + CL_TABLE_MAX + 9 * OG_KEY_MAX + 24)
/* Record cache (cluster_rec_get_cached): direct-mapped slots; a collision only costs a quorum
 * read. Records and "table\0key" names longer than these limits are not cached. */
#define CL_RC_SLOTS 256
#define CL_RC_NAME_MAX 320
#define CL_RC_REC_MAX 512

/* A call not sent because its node is in a failure back-off (cluster_health.c); a record write
 * that met a newer record on some replica (cluster_rec.c, never returned from cluster_rec_put). */
enum {
    CL_ESKIPPED = -10480,
    CL_ENEWER = -10481,
    CL_EBIGREC = -10482,      /* cluster_rec_get_shared only */
    CL_ENOTCOMBINED = -10483, /* cl_combine_put: the batch is for sending alone */
};
/* Fresh stamps cluster_rec_put tries after the first one met a newer record. */
#define CL_REC_RESTAMPS 3

/* What this handle knows of one node address (cluster_health.c). */
typedef struct {
    char addr[RING_ADDR_MAX];
    uint32_t fails;        /* consecutive failures of any kind; 0 = healthy */
    uint32_t timeouts;     /* ... of those, the ones that cost a timeout: > 0 = failing, skipped for
                              a back-off from the last failure, then probed */
    uint64_t last_fail_ms; /* og_mono_ms() of the last failure */
    uint32_t latency_us;   /* moving average of successful calls */
    int probing;           /* a probe is out: every other call still skips the node */
    uint64_t calls_total, errors_total, timeouts_total, skipped_total; /* since start, for the metrics */
    uint32_t watch_misses; /* consecutive watcher rounds the node did not answer (cluster_health.c) */
} cl_health_t;

/* A read shared by concurrent callers (cluster_coalesce.c). */
typedef struct st_cl_flight_t cl_flight_t;

typedef struct {
    uint64_t at_ms; /* og_mono_ms() when read from the cluster; 0 = empty */
    uint32_t gen;   /* bumped by every invalidation of this slot (see cl_rc_forget) */
    uint16_t name_len, rec_len;
    char name[CL_RC_NAME_MAX]; /* table, NUL, key */
    char rec[CL_RC_REC_MAX];   /* the encoded record */
} cl_rc_slot_t;

typedef struct {
    pthread_mutex_t mu; /* guards slot[] */
    cl_rc_slot_t slot[CL_RC_SLOTS];
} cl_rcache_t;

/* Cached counters (cluster_memo.c): direct-mapped slots; a collision only costs a fill. Keys
 * longer than CL_MEMO_KEY_MAX are never kept. */
#define CL_MEMO_SLOTS 1024
#define CL_MEMO_KEY_MAX 272

typedef struct {
    uint64_t at_ms; /* og_mono_ms() when the kept value's fill started */
    uint32_t gen;   /* bumped by every forget: a fill that began before it keeps nothing */
    int has_value, filling;
    uint64_t base[CLUSTER_MEMO_VALS];          /* the last fill's value */
    uint64_t added[CLUSTER_MEMO_VALS];         /* this gateway's adds since that fill started ... */
    uint64_t added_at_fill[CLUSTER_MEMO_VALS]; /* ... and what they were when the running one started */
    uint16_t key_len;
    char key[CL_MEMO_KEY_MAX];
} cl_memo_slot_t;

typedef struct {
    pthread_mutex_t mu; /* guards slot[] */
    pthread_cond_t cv;  /* a fill ended */
    uint32_t ttl_ms;    /* cluster_set_memo_ttl */
    cl_memo_slot_t slot[CL_MEMO_SLOTS];
} cl_memo_t;
/* Sets up and tears down the counters' cache. 0 or -errno. */
int cl_memo_init(cluster_t *cl);
void cl_memo_free(cluster_t *cl);

/* Buffer pool (cluster_buf_get): one size class that holds a 4 MiB batch with its header room
 * and a read batch's scratch (4 MiB + two partial 128 KiB chunks + 5 bytes a chunk); larger
 * requests are mapped and unmapped on their own. At most CL_BUF_IDLE buffers stay idle: enough
 * for 16 concurrent GETs (two buffers each) to find theirs with pages in (with 4, 1 MiB GETs at 16
 * connections spent most of the gateway's CPU faulting fresh mappings in: 301 vs 792-1008 MiB/s);
 * the watcher gives back the pages of buffers idle for CL_BUF_TRIM_MS (og_pool_trim). */
#define CL_BUF_CLASS ((size_t)(4u << 20) + (512u << 10))
#define CL_BUF_IDLE 32
#define CL_BUF_TRIM_MS 1000

/* Small batch writes combined into shared node requests (cluster_combine.c). */
typedef struct st_cl_combo_t cl_combo_t;
typedef struct {
    pthread_mutex_t mu;            /* guards the queue, running and leaders */
    cl_combo_t *head, *tail;       /* batches waiting, oldest first ... */
    size_t queued_n, queued_bytes; /* ... their chunks and bytes */
    unsigned running;              /* combined requests in flight */
    unsigned leaders;              /* in flight at most while the queue is short; 0 = combining off */
    atomic_uint_fast64_t batches_total, sends_total; /* for the metrics */
} cl_combine_t;
/* Sets up and tears down the queue. 0 or -errno. */
int cl_combine_init(cluster_t *cl);
void cl_combine_free(cluster_t *cl);
/* Stores chunks hdrs[0..n) (bytes back to back in data, bytes in all) in a batch request shared
 * with other callers' small batches, and adds to stored[i] the devices that stored chunk i, as
 * cl_chunk_put_send does. CL_ENOTCOMBINED when the batch is too large for combining or combining
 * is off (the caller sends it alone); else what the shared request's cl_chunk_put_send returned. */
int cl_combine_put(cluster_t *cl, const cluster_chunk_hdr_t *hdrs, size_t n, char *data, size_t bytes, size_t *stored);
/* One batch request per device for chunks hdrs[0..n) (checked; bytes back to back in data, with
 * CLUSTER_BATCH_HDR_MAX writable bytes in front), in parallel until each chunk is at a quorum;
 * adds to stored[i] the devices that stored chunk i. 0 or -ENOMEM (then nothing was sent). */
int cl_chunk_put_send(cluster_t *cl, const cluster_chunk_hdr_t *hdrs, size_t n, char *data, size_t *stored);

/* The purge queue and thread (cluster_purge.c). */
typedef struct st_cl_purge_t cl_purge_t;
#define CL_PURGE_BUCKET_CAP 257 /* a Swift container name, NUL */
#define CL_PURGE_VID_CAP 64
/* Stops the purge thread and frees its queue (cluster_close). */
void cl_purge_stop(cluster_t *cl);
/* The purge counters, when purging is on. */
void cl_purge_metrics(cluster_t *cl, og_buf_t *b);

struct st_cluster_t {
    ring_box_t *box; /* the ring in use and the one before it (cluster_ring_reload) */
    node_client_t *client;
    size_t replicas;     /* R, at most RING_MAX_REPLICAS; every ring of the handle has it */
    uint32_t part_power; /* ... and this part power */
    size_t quorum;   /* R/2 + 1, for writes and for reads */
    pthread_mutex_t stamp_mu; /* guards the two fields below */
    uint64_t stamp_last;      /* hybrid logical clock: the greatest ts made or seen */
    uint64_t stamp_rng; /* og_rng_next's state */
    uint32_t cdc_min, cdc_avg, cdc_max; /* content-defined chunk sizes (cluster_set_chunking) */
    atomic_uint read_turn; /* rotates which primaries a read asks first */
    cl_rcache_t *rcache;
    cl_memo_t *memo; /* cached counters (cluster_memo.c) */
    og_pool_t bufs; /* cluster_buf_get's size class */
    pthread_mutex_t health_mu; /* guards the table and its entries, and watch_stop */
    cl_health_t *health;       /* one per node address of every ring this handle used */
    size_t nhealth, health_cap;
    pthread_mutex_t ready_mu; /* one readiness probe at a time; guards the three below */
    uint64_t ready_at_ms;     /* og_mono_ms() of the last probe, 0 = none */
    int ready;
    char ready_why[160];
    pthread_mutex_t flight_mu; /* guards the flights (cluster_coalesce.c) */
    pthread_cond_t flight_cv;  /* a flight is done */
    cl_flight_t *flights;
    size_t flight_bytes;       /* the flights' buffers, for CL_FLIGHT_BUDGET */
    pthread_cond_t watch_cv;   /* wakes the watcher to stop (cluster_watch_start) */
    pthread_t watch_thr;
    int watching, watch_stop;
    cl_purge_t *purge; /* NULL without cluster_purge_start */
    cl_combine_t combine;
};

/* ---- one replicated request (cluster.c) ---- */

typedef struct st_cl_op_t cl_op_t;
struct st_cl_op_t {
    cluster_t *cl;
    ring_view_t view;   /* pinned by cl_op_begin, released by cl_op_end */
    const ring_t *ring; /* the ring it is placed by: view.ring, or view.prev (cl_op_begin_prev) */
    uint32_t part;
    size_t n; /* replicas addressed (slots in use) */
    size_t handoff_next;
    const ring_dev_t *dev[RING_MAX_REPLICAS];
    node_call_t call[RING_MAX_REPLICAS];
    node_call_t tmpl;   /* the request, without addr and path */
    const char *suffix; /* path after "/<dev>", same for every device */
    size_t suffix_len;
    size_t stride;    /* bytes per path in paths[] */
    char *paths;      /* 2n paths: slot i uses i (primary) and n + i (its handoff) */
    unsigned char handoff[RING_MAX_REPLICAS]; /* slot i was re-sent to a handoff device */
    size_t (*count)(const cl_op_t *op); /* cl_op_run: what counts toward the quorum */
    char *paths_heap; /* paths when they do not fit paths_stack */
    char paths_stack[2048]; /* 6 paths of up to 341 bytes: a key of ~100 bytes, percent-encoded */
};


/* ---- request coalescing (cluster_coalesce.c) ---- */

/* Sets up and tears down the flight table. 0 or -errno. */
int cl_flight_init(cluster_t *cl);
void cl_flight_free(cluster_t *cl);

/* ---- failure detection (cluster_health.c) ---- */

/* Builds the health table from the ring (every node healthy). 0 or -ENOMEM/-errno. */
int cl_health_init(cluster_t *cl, const ring_t *ring);
/* Adds the node addresses of ring the table does not have yet (healthy). 0 or -ENOMEM. */
int cl_health_add_ring(cluster_t *cl, const ring_t *ring);
void cl_health_free(cluster_t *cl);
/* 1 when the node at addr is in a failure back-off (callers prefer other replicas). */
int cl_node_failing(cluster_t *cl, const char *addr);
/* Sends calls[which[0..nwhich)] (all n when which is NULL) concurrently, like node_call_until:
 * a call to a node in back-off is not sent and fails with CL_ESKIPPED; with `enough`, the fan-out
 * ends once enough(ctx, calls, n) (over the whole array; unfinished calls have status 0) says so,
 * and the stragglers are abandoned after a grace from their node's latency. Every outcome goes
 * into the nodes' health. */
void cl_call_many(cluster_t *cl, node_call_t *calls, size_t n, const size_t *which, size_t nwhich,
                  int (*enough)(void *ctx, const node_call_t *calls, size_t n), void *ctx);

/* Hybrid logical clock (cluster.c): no later stamp of this handle is at or below ts. */
void cl_stamp_observe(cluster_t *cl, uint64_t ts);

/* Frees a call's response body unless it lives in the caller's resp_buf. */
void cl_call_release(node_call_t *c);
/* An op that cl_op_end may release before (or without) cl_op_begin. */
static inline void cl_op_clear(cl_op_t *op)
{
    op->n = 0;
    op->paths_heap = NULL;
    op->view = (ring_view_t){NULL, NULL, NULL};
}

/* Prepares the request `tmpl` (method, headers, body, response buffer) for every primary of the
 * placement key. With `rotate`, the primaries' order is rotated by a turn counter, so reads that
 * ask the first few slots spread over all of them. 0 or -ENOMEM; release with cl_op_end either way. */
int cl_op_begin(cluster_t *cl, cl_op_t *op, const void *pkey, size_t pklen, const char *suffix, size_t suffix_len,
                const node_call_t *tmpl, int rotate);
/* Like cl_op_begin with rotate, on the previous ring's primaries of the placement key (reads that
 * missed while data moves). OG_ENOTFOUND (op->n = 0) when there is no previous ring or it places
 * the key on the same devices: nothing more to ask. */
int cl_op_begin_prev(cluster_t *cl, cl_op_t *op, const void *pkey, size_t pklen, const char *suffix, size_t suffix_len,
                     const node_call_t *tmpl);
/* 1 when devices a and b (possibly of two rings) are the same node device. */
int cl_dev_same(const ring_dev_t *a, const ring_dev_t *b);
/* Sends to every primary (and handoffs for unreachable ones): writes. Returns as soon as
 * count(op) reaches the quorum (cl_count_stored or cl_count_stored_primary); the slower calls get
 * a short grace and are then abandoned (NODE_EABANDONED: no handoff is asked in their place). */
void cl_op_run(cl_op_t *op, size_t (*count)(const cl_op_t *op));
/* Read in two steps: the first quorum slots, then the rest only when `enough` says the first
 * answers do not settle the read. Slots never asked keep rc 0 and status 0. */
void cl_op_run_read(cl_op_t *op, int (*enough)(const node_call_t *c));
/* Frees response bodies still held by the calls and the paths. */
void cl_op_end(cl_op_t *op);
/* Slots whose device acknowledged a write as durable (201 stored, 200 already as new). */
size_t cl_count_stored(const cl_op_t *op);
/* Like cl_count_stored, but only primaries count (record writes; see cluster.c). */
size_t cl_count_stored_primary(const cl_op_t *op);
/* 1 when table is a name the node API accepts ([A-Za-z0-9._-], 1..CL_TABLE_MAX bytes). */
int cl_table_valid(const char *table);

#endif
