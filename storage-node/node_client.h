/*
 * node_client.h: the blocking client for the storage nodes' internal HTTP/1.1 API
 * (docs/node-api.md), used by gateway worker threads and by tools.
 *
 * Thread-safe: any number of threads share one node_client_t. Keep-alive connections are
 * pooled per node address. node_call_many() runs several calls concurrently (one poll()
 * loop, one connection each) so a write reaches its three replicas in parallel; the caller
 * decides what a quorum is. A node that is down fails fast (connection refused); a node
 * that hangs fails at the timeout. No call ever retries silently.
 */
#ifndef NODE_CLIENT_H
#define NODE_CLIENT_H

#include "og.h"
#include "og_rec.h"

enum {
    NODE_EDOWN = -10300,     /* could not connect */
    NODE_ESTATUS = -10301,   /* node answered with an unexpected status (see call.status) */
};

typedef struct st_node_client_t node_client_t;

/* timeout_ms bounds each call (connect + request + response). max_idle_per_node bounds the pool.
 * Returns NULL only on allocation failure. */
node_client_t *node_client_new(int timeout_ms, size_t max_idle_per_node);
void node_client_free(node_client_t *c);

typedef struct {
    /* in */
    const char *addr;        /* "ip:port" of the node */
    const char *method;      /* "GET", "PUT", "HEAD", "DELETE" */
    const char *path;        /* already percent-encoded request target, e.g. "/d1/chunk/<hex>" */
    const og_header_t *headers; size_t num_headers; /* extra request headers */
    const void *body; size_t body_len;              /* request body (Content-Length framing) */
    void *resp_buf; size_t resp_cap; /* response body goes here; when resp_buf is NULL the client
                                        mallocs it (caller frees resp_body) up to resp_cap bytes
                                        (0 = 64 MiB); a larger body fails with OG_ETOOBIG */
    /* out */
    int rc;                  /* 0 when a complete HTTP response was read (any status), else an error */
    int status;              /* HTTP status, 0 when rc != 0 */
    char *resp_body;         /* resp_buf, or the malloc'd buffer; NULL when no body */
    size_t resp_len;         /* body bytes; for HEAD, the announced Content-Length (resp_body NULL) */
    char xxh3[17];           /* X-Onggi-Xxh3 response header when present, else "" */
    int truncated;           /* X-Onggi-Truncated: 1 on list responses */
} node_call_t;

/* Runs calls[0..n) concurrently and returns when every call has finished or failed (each
 * bounded by the timeout). Always returns 0; the per-call outcome is in calls[i].rc/status. */
int node_call_many(node_client_t *c, node_call_t *calls, size_t n);
/* One call; returns call->rc. */
int node_call(node_client_t *c, node_call_t *call);

#endif
