/* og_metrics.c: Prometheus text exposition and fixed-bucket histograms (og_metrics.h). */
#include <inttypes.h>
#include <stdio.h>

#include "og_metrics.h"

/* Spans a local 4 KiB GET (about a millisecond) to a large object's transfer; fixed so every
 * gateway's histograms can be summed. */
const double og_hist_bounds[OG_HIST_NBOUNDS] = {0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05,
                                                0.1,    0.25,  0.5,    1,     2.5,  5,     10};

void og_hist_observe(og_hist_t *h, uint64_t ns)
{
    double s = (double)ns / 1e9;
    size_t i = 0;
    while (i < OG_HIST_NBOUNDS && s > og_hist_bounds[i])
        i++;
    atomic_fetch_add_explicit(&h->bucket[i], 1, memory_order_relaxed);
    atomic_fetch_add_explicit(&h->sum_ns, ns, memory_order_relaxed);
}

void og_metrics_family(og_buf_t *b, const char *name, const char *type, const char *help)
{
    og_buf_printf(b, "# HELP %s %s\n# TYPE %s %s\n", name, help, name, type);
}

/* A label value as the text format wants it: backslash, double quote and newline escaped. */
static void put_label_value(og_buf_t *b, const char *v)
{
    for (const char *p = v; *p; p++) {
        if (*p == '\\')
            og_buf_put(b, "\\\\", 2);
        else if (*p == '"')
            og_buf_put(b, "\\\"", 2);
        else if (*p == '\n')
            og_buf_put(b, "\\n", 2);
        else
            og_buf_put(b, p, 1);
    }
}

/* name{l1="v1",...,extra="xv"} followed by a space; extra may be NULL. */
static void put_series(og_buf_t *b, const char *name, const char *suffix, const og_label_t *labels, size_t n,
                       const og_label_t *extra)
{
    og_buf_puts(b, name);
    og_buf_puts(b, suffix);
    if (n > 0 || extra != NULL) {
        og_buf_put(b, "{", 1);
        for (size_t i = 0; i < n + (extra != NULL); i++) {
            const og_label_t *l = i < n ? &labels[i] : extra;
            og_buf_printf(b, "%s%s=\"", i > 0 ? "," : "", l->name);
            put_label_value(b, l->value);
            og_buf_put(b, "\"", 1);
        }
        og_buf_put(b, "}", 1);
    }
    og_buf_put(b, " ", 1);
}

void og_metrics_u64(og_buf_t *b, const char *name, const og_label_t *labels, size_t n, uint64_t v)
{
    put_series(b, name, "", labels, n, NULL);
    og_buf_printf(b, "%" PRIu64 "\n", v);
}

void og_metrics_f64(og_buf_t *b, const char *name, const og_label_t *labels, size_t n, double v)
{
    put_series(b, name, "", labels, n, NULL);
    og_buf_printf(b, "%.17g\n", v);
}

void og_metrics_hist(og_buf_t *b, const char *name, const og_label_t *labels, size_t n, const og_hist_t *h)
{
    uint64_t snap[OG_HIST_NBOUNDS + 1], cum = 0;
    for (size_t i = 0; i <= OG_HIST_NBOUNDS; i++)
        snap[i] = atomic_load_explicit(&h->bucket[i], memory_order_relaxed);
    uint64_t sum_ns = atomic_load_explicit(&h->sum_ns, memory_order_relaxed);
    for (size_t i = 0; i <= OG_HIST_NBOUNDS; i++) {
        char le[32];
        if (i < OG_HIST_NBOUNDS)
            snprintf(le, sizeof(le), "%g", og_hist_bounds[i]);
        else
            snprintf(le, sizeof(le), "+Inf");
        cum += snap[i];
        put_series(b, name, "_bucket", labels, n, &(og_label_t){"le", le});
        og_buf_printf(b, "%" PRIu64 "\n", cum);
    }
    put_series(b, name, "_sum", labels, n, NULL);
    og_buf_printf(b, "%.9f\n", (double)sum_ns / 1e9);
    put_series(b, name, "_count", labels, n, NULL);
    og_buf_printf(b, "%" PRIu64 "\n", cum);
}
