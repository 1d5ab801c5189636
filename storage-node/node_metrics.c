/*
 * node_metrics.c: the node's /metrics and /health/live and /health/ready on its operator port (--metrics-listen),
 * served by og_opsd (og_metrics.h). The node API itself wants HMAC-signed requests, which
 * Prometheus and load balancers cannot make, and it belongs to the cluster network; this port is
 * read-only and says nothing a metrics reader should not see (no keys, tables or object names).
 * The figures are the ones GET /<dev>/stat serves as JSON, under Prometheus names.
 */
#include "node_int.h"

#include <stddef.h>
#include <stdlib.h>
#include <string.h>

#include "og_metrics.h"

/* One device's figures, as metric values (a snapshot). */
typedef struct {
    double total, free, used, allocated, dead, chunks, chunk_bytes, records, writable, state;
    double dedup_hits, dedup_bytes, quarantined, last_error_ts;
    double repl_passes, repl_checked, repl_in_sync, repl_out_of_sync, repl_handoff_items, repl_handoff_bytes;
    double repl_items_pushed, repl_bytes_pushed, repl_moved_items, repl_moved_bytes, repl_removed, repl_errors;
    double repl_last_end_ts, ring_epoch;
    double scrub_running, scrub_progress, scrub_passes, scrub_chunks, scrub_bytes, scrub_corrupt, scrub_records,
        scrub_records_bad, scrub_last_end_ts;
} node_fig_t;

typedef struct {
    const char *name, *type, *help;
    size_t off;   /* the value in node_fig_t */
    int repl;     /* only for devices with a replicator */
} node_fam_t;

#define F(field) offsetof(node_fig_t, field)
static const node_fam_t node_fams[] = {
    {"onggi_node_device_total_bytes", "gauge", "Size of the device's file system.", F(total), 0},
    {"onggi_node_device_free_bytes", "gauge", "Bytes of the file system available to the node.", F(free), 0},
    {"onggi_node_device_used_bytes", "gauge", "Total minus free bytes of the file system.", F(used), 0},
    {"onggi_node_device_allocated_bytes", "gauge", "Blocks the chunk volumes occupy.", F(allocated), 0},
    {"onggi_node_device_dead_bytes", "gauge", "Deleted chunk bytes that could not be punched out.", F(dead), 0},
    {"onggi_node_device_writable", "gauge", "1 when the device state is ok, 0 when full or failed.", F(writable), 0},
    {"onggi_node_device_state", "gauge", "Device state: 0 ok, 1 full, 2 failed.", F(state), 0},
    {"onggi_node_device_last_error_timestamp_seconds", "gauge", "Unix time of the last failed write (0: none).",
     F(last_error_ts), 0},
    {"onggi_node_chunks", "gauge", "Chunks stored on the device.", F(chunks), 0},
    {"onggi_node_chunk_bytes", "gauge", "Bytes of the chunks stored on the device.", F(chunk_bytes), 0},
    {"onggi_node_records", "gauge", "Records stored on the device (tombstones included).", F(records), 0},
    {"onggi_node_dedup_hits_total", "counter", "Chunk writes that found the chunk already stored.", F(dedup_hits), 0},
    {"onggi_node_dedup_saved_bytes_total", "counter", "Bytes not written because the chunk was already stored.",
     F(dedup_bytes), 0},
    {"onggi_node_quarantined_total", "counter", "Corrupt chunk copies taken out of service.", F(quarantined), 0},
    {"onggi_node_repl_passes_total", "counter", "Complete replication passes.", F(repl_passes), 1},
    {"onggi_node_repl_partitions_checked", "gauge", "Partitions the last pass compared.", F(repl_checked), 1},
    {"onggi_node_repl_partitions_in_sync", "gauge", "... whose other primaries answered the same summary.",
     F(repl_in_sync), 1},
    {"onggi_node_repl_partitions_out_of_sync", "gauge",
     "Partitions the last pass found under-replicated or differing (checked - in sync).", F(repl_out_of_sync), 1},
    {"onggi_node_repl_handoff_items", "gauge", "Items held for partitions this device is not a primary of.",
     F(repl_handoff_items), 1},
    {"onggi_node_repl_handoff_bytes", "gauge", "Chunk bytes among the handoff items.", F(repl_handoff_bytes), 1},
    {"onggi_node_repl_items_pushed_total", "counter", "Items a peer lacked, sent to it (repairs).",
     F(repl_items_pushed), 1},
    {"onggi_node_repl_bytes_pushed_total", "counter", "Bytes of those items.", F(repl_bytes_pushed), 1},
    {"onggi_node_repl_moved_items_total", "counter", "Handoff items dropped once every primary held them.",
     F(repl_moved_items), 1},
    {"onggi_node_repl_moved_bytes_total", "counter", "Chunk bytes of those items.", F(repl_moved_bytes), 1},
    {"onggi_node_repl_items_removed_total", "counter", "Handoff copies and reclaimed tombstones dropped.",
     F(repl_removed), 1},
    {"onggi_node_repl_errors_total", "counter", "Failed peer calls and local read/write errors of the replicator.",
     F(repl_errors), 1},
    {"onggi_node_repl_last_pass_end_timestamp_seconds", "gauge", "Unix time the last complete pass ended.",
     F(repl_last_end_ts), 1},
    {"onggi_node_ring_epoch", "gauge", "Epoch of the ring the last replication pass used.", F(ring_epoch), 1},
    {"onggi_node_scrub_running", "gauge", "1 when the scrubber is enabled.", F(scrub_running), 0},
    {"onggi_node_scrub_chunk_progress_ratio", "gauge", "Share of the chunk id space the current pass covered.",
     F(scrub_progress), 0},
    {"onggi_node_scrub_passes_total", "counter", "Complete scrub passes.", F(scrub_passes), 0},
    {"onggi_node_scrub_chunks_verified_total", "counter", "Chunks the scrubber verified.", F(scrub_chunks), 0},
    {"onggi_node_scrub_bytes_verified_total", "counter", "Bytes the scrubber verified.", F(scrub_bytes), 0},
    {"onggi_node_scrub_corrupt_found_total", "counter", "Corrupt chunks the scrubber found.", F(scrub_corrupt), 0},
    {"onggi_node_scrub_records_verified_total", "counter", "Records the scrubber verified.", F(scrub_records), 0},
    {"onggi_node_scrub_records_bad_total", "counter", "Records the scrubber found undecodable.",
     F(scrub_records_bad), 0},
    {"onggi_node_scrub_last_pass_end_timestamp_seconds", "gauge", "Unix time the last complete scrub pass ended.",
     F(scrub_last_end_ts), 0},
};
#undef F

/* The replicator's counters of d into f. */
static void node_fig_repl(const node_repl_stat_t *p, node_fig_t *f)
{
    f->repl_passes = (double)atomic_load(&p->passes);
    f->repl_checked = (double)atomic_load(&p->parts_checked);
    f->repl_in_sync = (double)atomic_load(&p->parts_in_sync);
    f->repl_out_of_sync = f->repl_checked - f->repl_in_sync;
    f->repl_handoff_items = (double)atomic_load(&p->handoff_items);
    f->repl_handoff_bytes = (double)atomic_load(&p->handoff_bytes);
    f->repl_items_pushed = (double)atomic_load(&p->items_pushed);
    f->repl_bytes_pushed = (double)atomic_load(&p->bytes_pushed);
    f->repl_moved_items = (double)atomic_load(&p->moved_items);
    f->repl_moved_bytes = (double)atomic_load(&p->moved_bytes);
    f->repl_removed = (double)atomic_load(&p->items_removed);
    f->repl_errors = (double)atomic_load(&p->errors);
    f->repl_last_end_ts = (double)atomic_load(&p->last_end_ms) / 1e3;
    f->ring_epoch = (double)atomic_load(&p->ring_epoch);
}

/* A snapshot of device d. */
static void node_fig(const node_dev_t *d, node_fig_t *f)
{
    node_stat_t s;
    node_scrub_stat_t z = {0};
    node_store_stat(d->store, &s);
    if (d->scrub != NULL)
        node_scrub_stat(d->scrub, &z);
    *f = (node_fig_t){.total = (double)s.total_bytes, .free = (double)s.free_bytes,
                      .used = (double)(s.total_bytes - s.free_bytes), .allocated = (double)s.allocated_bytes,
                      .dead = (double)s.dead_bytes, .chunks = (double)s.chunks, .chunk_bytes = (double)s.chunk_bytes,
                      .records = (double)s.records, .writable = s.state == NODE_DEV_OK, .state = s.state,
                      .dedup_hits = (double)s.dedup_hits, .dedup_bytes = (double)s.dedup_bytes,
                      .quarantined = (double)s.quarantined, .last_error_ts = (double)s.last_error_ns / 1e9,
                      .scrub_running = z.running != 0, .scrub_progress = z.chunk_progress,
                      .scrub_passes = (double)z.passes, .scrub_chunks = (double)z.chunks_verified,
                      .scrub_bytes = (double)z.bytes_verified, .scrub_corrupt = (double)z.corrupt_found,
                      .scrub_records = (double)z.records_verified, .scrub_records_bad = (double)z.records_bad,
                      .scrub_last_end_ts = (double)z.last_pass_ns / 1e9};
    if (d->repl != NULL)
        node_fig_repl(d->repl, f);
}

/* Every family, one device after the other within each. */
static void node_metrics_format(const node_metrics_t *m, og_buf_t *b)
{
    size_t n = m->ndevs;
    node_fig_t *figs = calloc(n ? n : 1, sizeof(*figs));
    if (figs == NULL) {
        b->oom = 1;
        return;
    }
    for (size_t i = 0; i < n; i++)
        node_fig(&m->devs[i], &figs[i]);
    for (size_t k = 0; k < sizeof(node_fams) / sizeof(node_fams[0]); k++) {
        const node_fam_t *fam = &node_fams[k];
        og_metrics_family(b, fam->name, fam->type, fam->help);
        for (size_t i = 0; i < n; i++) {
            if (fam->repl && m->devs[i].repl == NULL)
                continue;
            og_label_t l = {"device", m->devs[i].name};
            og_metrics_f64(b, fam->name, &l, 1, *(const double *)((const char *)&figs[i] + fam->off));
        }
    }
    free(figs);
}

/* /health/ready: every device writable. */
static int node_ready(const node_metrics_t *m, og_buf_t *body)
{
    int ready = 1;
    for (size_t i = 0; i < m->ndevs; i++) {
        node_stat_t s;
        node_store_stat(m->devs[i].store, &s);
        if (s.state == NODE_DEV_OK)
            continue;
        og_buf_printf(body, "%s%s %s\n", ready ? "not ready\n" : "", m->devs[i].name,
                      s.state == NODE_DEV_FULL ? "full" : "failed");
        ready = 0;
    }
    if (ready)
        og_buf_puts(body, "ready\n");
    return ready ? 200 : 503;
}

int node_metrics_answer(void *ctx, const char *path, og_buf_t *body, const char **content_type)
{
    const node_metrics_t *m = ctx;
    *content_type = "text/plain; charset=utf-8";
    if (strcmp(path, "/health/live") == 0) {
        og_buf_puts(body, "ok\n");
        return 200;
    }
    if (strcmp(path, "/health/ready") == 0)
        return node_ready(m, body);
    if (strcmp(path, "/metrics") == 0) {
        *content_type = "text/plain; version=0.0.4; charset=utf-8";
        node_metrics_format(m, body);
        return 200;
    }
    og_buf_puts(body, "not found\n");
    return 404;
}
