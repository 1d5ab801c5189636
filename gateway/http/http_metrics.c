/*
 * http_metrics.c: the gateway's request metrics (http.h) and their text exposition.
 *
 * Every counter is a relaxed atomic in one allocation per API, indexed by operation (and status),
 * so a worker records a request with a handful of atomic adds and no lock, and labels stay
 * bounded: APIs and operations come from the front ends' fixed tables, statuses are 100..599
 * (0 = no response was started: the client went away), nothing names a bucket, key or account.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>

#include "http_metrics.h"
#include "og_metrics.h"

/* Status slots: 0 for "no response", then 100..599. */
#define HTTP_NSTATUS 501

/* One operation's figures. */
typedef struct {
    _Atomic uint64_t by_status[HTTP_NSTATUS];
    og_hist_t ttfb, duration;
    _Atomic uint64_t bytes_in, bytes_out;
} http_op_metrics_t;

struct st_http_metrics_t {
    const http_api_t *apis;
    size_t napis;
    http_op_metrics_t **ops; /* ops[a][o] */
};

int http_metrics_new(const http_api_t *apis, size_t napis, http_metrics_t **out)
{
    http_metrics_t *m = calloc(1, sizeof(*m));
    if (m == NULL || (m->ops = calloc(napis, sizeof(*m->ops))) == NULL)
        goto out_oom;
    m->apis = apis;
    m->napis = napis;
    for (size_t a = 0; a < napis; a++)
        if ((m->ops[a] = calloc(apis[a].nops ? apis[a].nops : 1, sizeof(http_op_metrics_t))) == NULL)
            goto out_oom;
    *out = m;
    return 0;

out_oom:
    http_metrics_free(m);
    return -ENOMEM;
}

void http_metrics_free(http_metrics_t *m)
{
    if (m == NULL)
        return;
    for (size_t a = 0; m->ops != NULL && a < m->napis; a++)
        free(m->ops[a]);
    free(m->ops);
    free(m);
}

void http_metrics_observe(http_metrics_t *m, const http_req_t *req)
{
    unsigned a, o;
    http_req_stats_t st;
    http_req_op(req, &a, &o);
    if (a >= m->napis || o >= m->apis[a].nops)
        return;
    http_req_stats(req, &st);
    http_op_metrics_t *om = &m->ops[a][o];
    size_t slot = st.status >= 100 && st.status <= 599 ? (size_t)(st.status - 99) : 0;
    atomic_fetch_add_explicit(&om->by_status[slot], 1, memory_order_relaxed);
    if (st.status != 0)
        og_hist_observe(&om->ttfb, st.ttfb_ns);
    og_hist_observe(&om->duration, st.elapsed_ns);
    atomic_fetch_add_explicit(&om->bytes_in, st.bytes_in, memory_order_relaxed);
    atomic_fetch_add_explicit(&om->bytes_out, st.bytes_out, memory_order_relaxed);
}

/* The name of operation o of api. */
static const char *op_name(const http_api_t *api, size_t o)
{
    return *(const char *const *)((const char *)api->ops + o * api->stride);
}

/* What one family shows of an operation. */
enum { FAM_REQUESTS, FAM_TTFB, FAM_DURATION, FAM_BYTES_IN, FAM_BYTES_OUT };

/* The samples of family fam for operation (a, o), labelled api and op. */
static void op_samples(og_buf_t *b, const http_metrics_t *m, int fam, const char *name, size_t a, size_t o)
{
    http_op_metrics_t *om = &m->ops[a][o];
    og_label_t l[3] = {{"api", m->apis[a].name}, {"op", op_name(&m->apis[a], o)}, {"status", NULL}};
    switch (fam) {
    case FAM_REQUESTS:
        for (size_t s = 0; s < HTTP_NSTATUS; s++) {
            uint64_t v = atomic_load_explicit(&om->by_status[s], memory_order_relaxed);
            char code[8];
            if (v == 0)
                continue;
            snprintf(code, sizeof(code), "%zu", s == 0 ? 0 : s + 99);
            l[2].value = code;
            og_metrics_u64(b, name, l, 3, v);
        }
        break;
    case FAM_TTFB:
    case FAM_DURATION:
        og_metrics_hist(b, name, l, 2, fam == FAM_TTFB ? &om->ttfb : &om->duration);
        break;
    default:
        og_metrics_u64(b, name, l, 2,
                       atomic_load_explicit(fam == FAM_BYTES_IN ? &om->bytes_in : &om->bytes_out, memory_order_relaxed));
    }
}

/* 1 when operation (a, o) was ever counted (only those are shown, to keep scrapes small). */
static int op_seen(const http_metrics_t *m, size_t a, size_t o)
{
    return atomic_load_explicit(&m->ops[a][o].duration.sum_ns, memory_order_relaxed) != 0;
}

static void server_families(og_buf_t *b, const http_server_t *srv)
{
    http_server_stats_t st;
    http_server_stats(srv, &st);
    og_metrics_family(b, "onggi_gateway_requests_in_flight", "gauge", "Requests a worker is running now.");
    og_metrics_u64(b, "onggi_gateway_requests_in_flight", NULL, 0, st.in_flight);
    og_metrics_family(b, "onggi_gateway_requests_queued", "gauge", "Requests waiting for a free worker.");
    og_metrics_u64(b, "onggi_gateway_requests_queued", NULL, 0, st.queued);
    og_metrics_family(b, "onggi_gateway_connections_open", "gauge", "Client connections open (http and https).");
    og_metrics_u64(b, "onggi_gateway_connections_open", NULL, 0, st.conns_open);
    og_metrics_family(b, "onggi_gateway_connections_accepted_total", "counter", "Client connections accepted.");
    og_metrics_u64(b, "onggi_gateway_connections_accepted_total", NULL, 0, st.conns_accepted);
    og_metrics_family(b, "onggi_gateway_connections_refused_total", "counter",
                      "Client connections reset at once (per-address cap, out of memory).");
    og_metrics_u64(b, "onggi_gateway_connections_refused_total", NULL, 0, st.conns_refused);
}

void http_metrics_format(const http_metrics_t *m, const http_server_t *srv, og_buf_t *b)
{
    static const struct {
        const char *name, *type, *help;
    } fams[] = {
        {"onggi_gateway_requests_total", "counter", "Requests answered, by API, operation and status."},
        {"onggi_gateway_request_ttfb_seconds", "histogram", "Time from the request head to the response's start."},
        {"onggi_gateway_request_duration_seconds", "histogram", "Time from the request head to the last byte handed over."},
        {"onggi_gateway_received_bytes_total", "counter", "Request body bytes read."},
        {"onggi_gateway_sent_bytes_total", "counter", "Response body bytes written."},
    };
    for (int f = 0; m != NULL && f < (int)(sizeof(fams) / sizeof(fams[0])); f++) {
        og_metrics_family(b, fams[f].name, fams[f].type, fams[f].help);
        for (size_t a = 0; a < m->napis; a++)
            for (size_t o = 0; o < m->apis[a].nops; o++)
                if (op_seen(m, a, o))
                    op_samples(b, m, f, fams[f].name, a, o);
    }
    if (srv != NULL)
        server_families(b, srv);
}
