/*
 * og_metrics.h: Prometheus text exposition (format 0.0.4), latency histograms with fixed
 * buckets, and the small read-only listener that serves /metrics and /health/live and /health/ready on an operator's
 * port (og_opsd.c). Shared by onggi-gateway and onggi-node (docs/operations.md, "Metrics").
 *
 * Histograms are lock-free: one relaxed atomic add per bucket hit and one for the sum, so worker
 * threads record on the hot path without a lock; a scrape reads a snapshot that may lag a
 * concurrent observation by one sample (Prometheus tolerates that). The exposition functions
 * append to an og_buf_t and only fail by running out of memory (the buffer's oom flag).
 */
#ifndef OG_METRICS_H
#define OG_METRICS_H

#include <stdatomic.h>
#include <stdint.h>

#include "og.h"
#include "og_buf.h"

/* Upper bounds (seconds) of the latency buckets, then +Inf: 0.5 ms .. 10 s. */
#define OG_HIST_NBOUNDS 14
extern const double og_hist_bounds[OG_HIST_NBOUNDS];

typedef struct {
    _Atomic uint64_t bucket[OG_HIST_NBOUNDS + 1]; /* not cumulative; the last is above every bound */
    _Atomic uint64_t sum_ns;
} og_hist_t;

/* Counts one observation of ns nanoseconds. Cannot fail; any thread. */
void og_hist_observe(og_hist_t *h, uint64_t ns);

/* A label pair; the value is escaped on output (\\, \", newline). */
typedef struct {
    const char *name, *value;
} og_label_t;

/* "# HELP name help\n# TYPE name type\n" (type: counter, gauge, histogram). */
void og_metrics_family(og_buf_t *b, const char *name, const char *type, const char *help);
/* One sample line: name{labels} value. n may be 0 (no braces). */
void og_metrics_u64(og_buf_t *b, const char *name, const og_label_t *labels, size_t n, uint64_t v);
void og_metrics_f64(og_buf_t *b, const char *name, const og_label_t *labels, size_t n, double v);
/* A histogram's samples under labels: name_bucket{...,le="..."} cumulative, le="+Inf",
 * name_sum (seconds) and name_count, from one snapshot of h. */
void og_metrics_hist(og_buf_t *b, const char *name, const og_label_t *labels, size_t n, const og_hist_t *h);

/* ---- the operator's listener (og_opsd.c) ---- */

/* Answers one GET/HEAD: path is the request path without the query (NUL-terminated). Appends
 * the body to *body, sets *content_type, returns the HTTP status (404 for an unknown path). Runs
 * on the listener's thread, one request at a time. */
typedef int (*og_opsd_fn)(void *ctx, const char *path, og_buf_t *body, const char **content_type);

typedef struct st_og_opsd_t og_opsd_t;

/* Listens on addr ("IP:PORT", port 0 picks one) and serves fn from one thread: one request per
 * connection, its head read within OG_OPSD_IO_MS, anything but GET/HEAD answered 405, the
 * answer written within OG_OPSD_IO_MS, then the connection closed. Read-only by construction.
 * 0 and *out, OG_EINVAL (bad address) or -errno. */
#define OG_OPSD_IO_MS 2000
int og_opsd_start(const char *addr, og_opsd_fn fn, void *ctx, og_opsd_t **out);
/* The bound port. */
uint16_t og_opsd_port(const og_opsd_t *d);
/* Stops the thread (after the request in hand), closes and frees. NULL is a no-op. */
void og_opsd_stop(og_opsd_t *d);

#endif
