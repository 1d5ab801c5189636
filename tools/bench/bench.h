/*
 * bench.h: private header of onggi-bench, an S3 load generator (warp/hsbench style).
 *
 * Layout: bench_main.c parses options, runs a phase and prints the report; bench_run.c is the
 * engine (one h2o_evloop_t per thread driving keep-alive connections, SigV4 UNSIGNED-PAYLOAD
 * requests, picohttpparser responses); bench_stats.c holds the latency histogram and the
 * per-operation counters. Nothing here is used outside tools/bench.
 */
#ifndef BENCH_H
#define BENCH_H

#include <netinet/in.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdio.h>
#include <sys/socket.h>

#include "og.h"

/* What one request does. BENCH_OP_MKBUCKET only runs in the set-up phase. */
typedef enum {
    BENCH_OP_GET = 0,
    BENCH_OP_PUT,
    BENCH_OP_STAT,
    BENCH_OP_DELETE,
    BENCH_OP_LIST,
    BENCH_OP_MKBUCKET,
    BENCH_OP_COUNT
} bench_op_t;

typedef enum {
    BENCH_WL_PUT = 0,
    BENCH_WL_GET,
    BENCH_WL_DELETE,
    BENCH_WL_STAT,
    BENCH_WL_LIST,
    BENCH_WL_MIXED
} bench_workload_t;

/* Failure kinds besides HTTP statuses (which are counted per status code). */
typedef enum {
    BENCH_ERR_CONNECT = 0, /* TCP connect failed */
    BENCH_ERR_TIMEOUT,     /* no complete answer within --timeout */
    BENCH_ERR_IO,          /* connection reset or closed mid-request */
    BENCH_ERR_PROTO,       /* response could not be parsed */
    BENCH_ERR_VERIFY,      /* GET body length differs from --size (with --verify) */
    BENCH_ERR_KINDS
} bench_err_t;

#define BENCH_STATUS_MAX 600
/* Log-linear histogram of microseconds: 64 linear sub-buckets per power of two gives
 * under 1.6% relative error, like HdrHistogram with 2 significant digits, in 20 KiB. */
#define BENCH_HIST_SUB_BITS 6
#define BENCH_HIST_BUCKETS ((42 - BENCH_HIST_SUB_BITS) << BENCH_HIST_SUB_BITS)

typedef struct {
    uint64_t counts[BENCH_HIST_BUCKETS];
    uint64_t total;
    uint64_t sum_us;
    uint64_t max_us;
} bench_hist_t;

/* Counters of one operation type, owned by one thread until merged. */
typedef struct {
    uint64_t ok;
    uint64_t failed;
    uint64_t bytes; /* payload bytes sent (PUT) or received (GET) by successful ops */
    uint64_t keys;  /* LIST: keys + common prefixes seen */
    bench_hist_t lat; /* successful ops only */
    uint64_t status[BENCH_STATUS_MAX];
    uint64_t errs[BENCH_ERR_KINDS];
} bench_opstats_t;

typedef struct {
    bench_opstats_t op[BENCH_OP_COUNT];
} bench_stats_t;

/* Source addresses --bind may list: a server caps connections per client address (Onggi at
 * 1024), so thousands of connections from one machine come from several loopback addresses. */
#define BENCH_BIND_MAX 64
/* With --rate-per-conn a PUT body goes out in slices this often (10 per second), each the bytes
 * due by then, as a camera's encoder hands over its stream. */
#define BENCH_PACE_MS 100

/* Everything the command line sets; read-only once a phase starts. */
typedef struct {
    char host[256]; /* Host header value: "127.0.0.1:9000" */
    struct sockaddr_storage addr;
    socklen_t addrlen;
    const char *access_key;
    const char *secret_key;
    const char *region;
    const char *bucket;
    const char *prefix;
    bench_workload_t workload;
    uint64_t size;
    unsigned conns;
    unsigned threads;
    uint64_t count;    /* 0 = unbounded (then --duration bounds the run) */
    uint64_t objects;  /* key space for get/stat/delete/mixed: obj-0 .. obj-(objects-1) */
    uint64_t first;    /* number of the first key (--first): a fill can go on where the last stopped */
    unsigned dirs;     /* 0: keys PREFIX obj-%08d; else PREFIX dir%04u/obj%09u, key k in dir k % dirs */
    const char *delimiter;   /* list: the delimiter ("" for none) */
    const char *start_after; /* list: where each listing starts ("" for the first key) */
    uint64_t pages;          /* list: pages per connection (0: one whole listing each) */
    double duration;   /* seconds; 0 = unbounded */
    unsigned timeout_ms;
    int random_keys;
    int verify;
    int json;
    unsigned mixed[4]; /* percentages: get, put, stat, delete */
    uint64_t rate;     /* --rate-per-conn: body bytes/s of each PUT (0 = as fast as the socket takes) */
    int chunked;       /* --chunked: PUT bodies with Transfer-Encoding: chunked, a chunk per piece */
    double ramp;       /* --ramp: seconds over which the connections start (0 = all at once) */
    struct sockaddr_storage bind_addr[BENCH_BIND_MAX]; /* --bind: connection i binds to [i % nbind] */
    socklen_t bind_len[BENCH_BIND_MAX];
    unsigned nbind;
} bench_config_t;

/* One run: the configuration, the shared body buffer and the counters threads share. */
typedef struct {
    const bench_config_t *cfg;
    const char *body;    /* random bytes every PUT body is cut from (read-only) */
    size_t body_len;
    uint8_t *present;    /* mixed: 1 byte per key, 1 when the object should exist */
    uint64_t t_start_ms; /* og_mono_ms() at start */
    atomic_uint_least64_t issued;     /* tickets handed out (for --count and seq keys) */
    atomic_uint_least64_t done_ok;    /* for the progress line */
    atomic_uint_least64_t done_err;
    atomic_uint_least64_t done_bytes;
    atomic_uint_least64_t done_keys;
    atomic_int stop;                  /* set at --duration: no new requests */
    uint64_t seed;
} bench_run_t;

/* Bytes of the shared random body buffer: PUT bodies are cut from it at varying offsets. */
#define BENCH_BODY_BUF (16u << 20)
/* Largest piece of a body handed to one socket write; the next piece is written only
 * after the previous completed, so a 1 GiB PUT never holds more than this in flight. */
#define BENCH_PIECE (1u << 20)
/* Bytes of a PUT body between two unique stamps (see bench_run.c: next_piece). Below Onggi's
 * smallest content-defined chunk (8 KiB), so every chunk holds a stamp: with a stamp every
 * 64 KiB, chunks cut between two stamps repeated wherever the random buffer did and were
 * deduplicated (write amplification 1.95 instead of 3). */
#define BENCH_STAMP_EVERY (4u << 10)

/* Runs one phase of cfg->workload (or a bucket creation when mkbucket) with cfg->conns
 * connections over cfg->threads event loops until --count or --duration is reached.
 * Fills *out (zeroed here) and *elapsed_s. Prints a progress line on stderr once a second
 * unless quiet. 0, or -errno when threads or event loops could not be created. */
int bench_run(const bench_config_t *cfg, int mkbucket, int quiet, bench_stats_t *out, double *elapsed_s);

/* Records one latency in microseconds. Cannot fail. */
void bench_hist_add(bench_hist_t *h, uint64_t us);
/* Adds src into dst. Cannot fail. */
void bench_hist_merge(bench_hist_t *dst, const bench_hist_t *src);
/* The latency at quantile q (0..1) in microseconds (bucket midpoint, at most max); 0 when empty. */
uint64_t bench_hist_quantile(const bench_hist_t *h, double q);
/* Adds every counter of src into dst. Cannot fail. */
void bench_opstats_merge(bench_opstats_t *dst, const bench_opstats_t *src);

/* Prints the human report (text) or one JSON object (cfg->json) for a finished run to f. */
void bench_report(FILE *f, const bench_config_t *cfg, const bench_stats_t *st, double elapsed_s);

/* Name of an op / workload / error kind, static. */
const char *bench_op_name(bench_op_t op);
const char *bench_workload_name(bench_workload_t wl);
const char *bench_err_name(bench_err_t e);

#endif
