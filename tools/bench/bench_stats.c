/*
 * bench_stats.c: latency histogram, counter merging and the final report of onggi-bench.
 */
#include <inttypes.h>

#include "bench.h"

static const char *const op_names[BENCH_OP_COUNT] = {"get", "put", "stat", "delete", "list", "mkbucket"};
static const char *const wl_names[] = {"put", "get", "delete", "stat", "list", "mixed"};
static const char *const err_names[BENCH_ERR_KINDS] = {"connect", "timeout", "io", "protocol", "verify"};

const char *bench_op_name(bench_op_t op) { return op_names[op]; }
const char *bench_workload_name(bench_workload_t wl) { return wl_names[wl]; }
const char *bench_err_name(bench_err_t e) { return err_names[e]; }

/* Values below 2^(SUB_BITS+1) map to themselves; above, the top SUB_BITS+1 bits of the value
 * pick the bucket within its power of two. */
static size_t hist_index(uint64_t v)
{
    const uint64_t lin = 1u << (BENCH_HIST_SUB_BITS + 1);
    if (v < lin)
        return (size_t)v;
    unsigned shift = (unsigned)(63 - __builtin_clzll(v)) - BENCH_HIST_SUB_BITS;
    size_t idx = ((size_t)(shift + 1) << BENCH_HIST_SUB_BITS) + (size_t)((v >> shift) - (lin >> 1));
    return idx < BENCH_HIST_BUCKETS ? idx : BENCH_HIST_BUCKETS - 1;
}

/* Midpoint of the values bucket idx holds. */
static uint64_t hist_value(size_t idx)
{
    const size_t lin = (size_t)1 << (BENCH_HIST_SUB_BITS + 1);
    if (idx < lin)
        return idx;
    unsigned shift = (unsigned)(idx >> BENCH_HIST_SUB_BITS) - 1;
    uint64_t low = (uint64_t)((idx & ((1u << BENCH_HIST_SUB_BITS) - 1)) + (lin >> 1)) << shift;
    return low + ((1ull << shift) >> 1);
}

void bench_hist_add(bench_hist_t *h, uint64_t us)
{
    h->counts[hist_index(us)]++;
    h->total++;
    h->sum_us += us;
    if (us > h->max_us)
        h->max_us = us;
}

void bench_hist_merge(bench_hist_t *dst, const bench_hist_t *src)
{
    for (size_t i = 0; i < BENCH_HIST_BUCKETS; i++)
        dst->counts[i] += src->counts[i];
    dst->total += src->total;
    dst->sum_us += src->sum_us;
    if (src->max_us > dst->max_us)
        dst->max_us = src->max_us;
}

uint64_t bench_hist_quantile(const bench_hist_t *h, double q)
{
    if (h->total == 0)
        return 0;
    uint64_t rank = (uint64_t)(q * (double)h->total + 0.5);
    if (rank < 1)
        rank = 1;
    uint64_t seen = 0;
    for (size_t i = 0; i < BENCH_HIST_BUCKETS; i++) {
        seen += h->counts[i];
        if (seen >= rank) {
            uint64_t v = hist_value(i);
            return v < h->max_us ? v : h->max_us;
        }
    }
    return h->max_us;
}

void bench_opstats_merge(bench_opstats_t *dst, const bench_opstats_t *src)
{
    dst->ok += src->ok;
    dst->failed += src->failed;
    dst->bytes += src->bytes;
    dst->keys += src->keys;
    bench_hist_merge(&dst->lat, &src->lat);
    for (size_t i = 0; i < BENCH_STATUS_MAX; i++)
        dst->status[i] += src->status[i];
    for (size_t i = 0; i < BENCH_ERR_KINDS; i++)
        dst->errs[i] += src->errs[i];
}

static double ms(uint64_t us) { return (double)us / 1000.0; }

/* Writes `"http_503":2,"timeout":1` style pairs (text: `http 503: 2, timeout: 1`). */
static void print_errors(FILE *f, const bench_opstats_t *s, int json)
{
    int first = 1;
    for (size_t i = 0; i < BENCH_STATUS_MAX; i++) {
        if (!s->status[i] || (i >= 200 && i < 300))
            continue;
        fprintf(f, json ? "%s\"http_%zu\":%" PRIu64 : "%shttp %zu: %" PRIu64, first ? "" : ", ", i, s->status[i]);
        first = 0;
    }
    for (size_t i = 0; i < BENCH_ERR_KINDS; i++) {
        if (!s->errs[i])
            continue;
        fprintf(f, json ? "%s\"%s\":%" PRIu64 : "%s%s: %" PRIu64, first ? "" : ", ", err_names[i], s->errs[i]);
        first = 0;
    }
    if (first && !json)
        fputs("none", f);
}

static void print_one_json(FILE *f, const char *name, const bench_opstats_t *s, double el)
{
    const bench_hist_t *h = &s->lat;
    double mib = (double)s->bytes / (1024.0 * 1024.0);
    fprintf(f,
            "\"%s\":{\"ops\":%" PRIu64 ",\"errors\":%" PRIu64 ",\"ops_per_s\":%.2f,\"bytes\":%" PRIu64
            ",\"mib_per_s\":%.2f,\"keys\":%" PRIu64 ",\"keys_per_s\":%.1f,"
            "\"lat_ms\":{\"mean\":%.3f,\"p50\":%.3f,\"p90\":%.3f,\"p99\":%.3f,\"max\":%.3f},\"errors_by_type\":{",
            name, s->ok, s->failed, el > 0 ? (double)s->ok / el : 0.0, s->bytes, el > 0 ? mib / el : 0.0, s->keys,
            el > 0 ? (double)s->keys / el : 0.0, h->total ? ms(h->sum_us) / (double)h->total : 0.0,
            ms(bench_hist_quantile(h, 0.50)), ms(bench_hist_quantile(h, 0.90)), ms(bench_hist_quantile(h, 0.99)),
            ms(h->max_us));
    print_errors(f, s, 1);
    fputs("}}", f);
}

static void print_one_text(FILE *f, const char *name, const bench_opstats_t *s, double el, int with_keys)
{
    const bench_hist_t *h = &s->lat;
    double mib = (double)s->bytes / (1024.0 * 1024.0);
    fprintf(f, "%-7s ops %" PRIu64 " (%.1f ops/s), %.2f MiB/s, errors %" PRIu64 "\n", name, s->ok,
            el > 0 ? (double)s->ok / el : 0.0, el > 0 ? mib / el : 0.0, s->failed);
    if (with_keys)
        fprintf(f, "        keys %" PRIu64 " (%.1f keys/s)\n", s->keys, el > 0 ? (double)s->keys / el : 0.0);
    fprintf(f, "        latency ms: mean %.2f p50 %.2f p90 %.2f p99 %.2f max %.2f\n",
            h->total ? ms(h->sum_us) / (double)h->total : 0.0, ms(bench_hist_quantile(h, 0.50)),
            ms(bench_hist_quantile(h, 0.90)), ms(bench_hist_quantile(h, 0.99)), ms(h->max_us));
    fputs("        errors: ", f);
    print_errors(f, s, 0);
    fputc('\n', f);
}

void bench_report(FILE *f, const bench_config_t *cfg, const bench_stats_t *st, double el)
{
    bench_opstats_t total = {0};
    int used[BENCH_OP_COUNT] = {0}, nused = 0;
    for (int i = 0; i < BENCH_OP_COUNT; i++) {
        const bench_opstats_t *s = &st->op[i];
        if (s->ok + s->failed == 0)
            continue;
        used[i] = 1;
        nused++;
        bench_opstats_merge(&total, s);
    }
    if (cfg->json) {
        fprintf(f,
                "{\"workload\":\"%s\",\"endpoint\":\"%s\",\"bucket\":\"%s\",\"size\":%" PRIu64
                ",\"conns\":%u,\"threads\":%u,\"rate_per_conn\":%" PRIu64 ",\"seconds\":%.3f,",
                bench_workload_name(cfg->workload), cfg->host, cfg->bucket, cfg->size, cfg->conns, cfg->threads,
                cfg->rate, el);
        print_one_json(f, "total", &total, el);
        fputs(",\"by_op\":{", f);
        int first = 1;
        for (int i = 0; i < BENCH_OP_COUNT; i++) {
            if (!used[i])
                continue;
            if (!first)
                fputc(',', f);
            first = 0;
            print_one_json(f, op_names[i], &st->op[i], el);
        }
        fputs("}}\n", f);
        return;
    }
    fprintf(f, "workload %s, size %" PRIu64 " B, %u conns, %u threads, %.2f s", bench_workload_name(cfg->workload),
            cfg->size, cfg->conns, cfg->threads, el);
    if (cfg->rate)
        fprintf(f, ", %" PRIu64 " B/s per connection", cfg->rate);
    fputc('\n', f);
    print_one_text(f, "total", &total, el, cfg->workload == BENCH_WL_LIST);
    if (nused > 1)
        for (int i = 0; i < BENCH_OP_COUNT; i++)
            if (used[i])
                print_one_text(f, op_names[i], &st->op[i], el, i == BENCH_OP_LIST);
}
