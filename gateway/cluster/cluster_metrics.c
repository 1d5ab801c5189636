/*
 * cluster_metrics.c: the cluster room's part of the gateway's /metrics (cluster.h): what the
 * failure detection (cluster_health.c) knows of each storage node, the small batches combined
 * (cluster_combine.c), and the ring in use.
 */
#include "cluster_int.h"

#include <stdlib.h>

#include "og_metrics.h"

/* One node's figures, copied under health_mu so the text is written without holding it. */
typedef struct {
    char addr[RING_ADDR_MAX];
    uint64_t calls, errors, timeouts, skipped;
    uint32_t latency_us;
    int failing;
} cl_node_fig_t;

/* The families, one node after the other within each. */
static void cl_node_families(og_buf_t *b, const cl_node_fig_t *f, size_t n)
{
    static const struct {
        const char *name, *type, *help;
    } fams[] = {
        {"onggi_gateway_node_calls_total", "counter",
         "Calls sent to the node (node round trips), failed ones included."},
        {"onggi_gateway_node_errors_total", "counter", "Calls to the node that failed (refused, reset, timed out)."},
        {"onggi_gateway_node_timeouts_total", "counter", "Calls to the node that failed by timing out."},
        {"onggi_gateway_node_skipped_total", "counter", "Calls not sent: the node was in failure back-off."},
        {"onggi_gateway_node_up", "gauge", "0 while the node is in failure back-off, else 1."},
        {"onggi_gateway_node_latency_seconds", "gauge", "Moving average latency of successful calls."},
    };
    for (size_t k = 0; k < sizeof(fams) / sizeof(fams[0]); k++) {
        og_metrics_family(b, fams[k].name, fams[k].type, fams[k].help);
        for (size_t i = 0; i < n; i++) {
            og_label_t l = {"node", f[i].addr};
            if (k == 5)
                og_metrics_f64(b, fams[k].name, &l, 1, f[i].latency_us / 1e6);
            else
                og_metrics_u64(b, fams[k].name, &l, 1,
                               k == 0   ? f[i].calls
                               : k == 1 ? f[i].errors
                               : k == 2 ? f[i].timeouts
                               : k == 3 ? f[i].skipped
                                        : !f[i].failing);
        }
    }
}

void cluster_metrics_format(cluster_t *cl, og_buf_t *b)
{
    pthread_mutex_lock(&cl->health_mu);
    size_t n = cl->nhealth;
    cl_node_fig_t *f = calloc(n ? n : 1, sizeof(*f));
    for (size_t i = 0; f != NULL && i < n; i++) {
        const cl_health_t *h = &cl->health[i];
        f[i] = (cl_node_fig_t){.calls = h->calls_total,
                               .errors = h->errors_total,
                               .timeouts = h->timeouts_total,
                               .skipped = h->skipped_total,
                               .latency_us = h->latency_us,
                               .failing = h->timeouts > 0};
        memcpy(f[i].addr, h->addr, sizeof(f[i].addr));
    }
    pthread_mutex_unlock(&cl->health_mu);
    if (f == NULL) {
        b->oom = 1;
        return;
    }
    cl_node_families(b, f, n);
    free(f);
    uint64_t batches, sends;
    cluster_combine_counts(cl, &batches, &sends);
    og_metrics_family(b, "onggi_gateway_small_batches_total", "counter",
                      "Small chunk batch writes that could share node requests with others.");
    og_metrics_u64(b, "onggi_gateway_small_batches_total", NULL, 0, batches);
    og_metrics_family(b, "onggi_gateway_small_batch_sends_total", "counter",
                      "Batch requests (one per device) sent for them: fewer than the batches when combined.");
    og_metrics_u64(b, "onggi_gateway_small_batch_sends_total", NULL, 0, sends);
    og_metrics_family(b, "onggi_gateway_ring_epoch", "gauge", "Epoch of the ring in use.");
    og_metrics_u64(b, "onggi_gateway_ring_epoch", NULL, 0, cluster_ring_epoch(cl));
    cl_purge_metrics(cl, b);
}
