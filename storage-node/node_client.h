/*
 * node_client.h: the blocking client for the storage nodes' internal HTTP/1.1 API
 * (docs/node-api.md), used by gateway worker threads and by tools.
 *
 * Thread-safe: any number of threads share one node_client_t. Keep-alive connections are
 * pooled per node address. node_call_many() runs several calls concurrently (one poll()
 * loop, one connection each) so a write reaches its three replicas in parallel; the caller
 * decides what a quorum is. A node that is down fails fast (connection refused, NODE_EDOWN); one
 * that cannot be reached fails at the connect timeout (NODE_CONNECT_TIMEOUT_MS, never more than
 * the call's) and one that hangs at the call's timeout, both with OG_ETIMEOUT. node_call_until()
 * returns once the caller has enough answers and abandons the stragglers after a short grace.
 * No call ever retries silently.
 */
#ifndef NODE_CLIENT_H
#define NODE_CLIENT_H

#include "og.h"
#include "og_keys.h"
#include "og_rec.h"

enum {
    NODE_EDOWN = -10300,     /* could not connect */
    NODE_ESTATUS = -10301,   /* node answered with an unexpected status (see call.status) */
    NODE_EABANDONED = -10302, /* left unfinished by node_call_until: outcome unknown */
};

/* A connection that is not up after this long fails with OG_ETIMEOUT (a cut link drops SYNs; a
 * live node on a sane network connects in well under a millisecond). */
#define NODE_CONNECT_TIMEOUT_MS 1000

typedef struct st_node_client_t node_client_t;

/* Idle keep-alive connections the pool keeps for all nodes together, whatever
 * max_idle_per_node: the gateway's descriptor budget counts them (gateway/main.c FD_RESERVE). */
#define NODE_IDLE_TOTAL_MAX 768

/* keys: the cluster key file's keys; every request is signed with its first `node` key
 * (docs/node-api.md, "Authentication"; the client keeps a copy). NULL sends requests unsigned,
 * which nodes refuse: only tests of that refusal want it. timeout_ms bounds each call (connect +
 * request + response). max_idle_per_node (and NODE_IDLE_TOTAL_MAX) bound the pool. Returns NULL
 * on allocation failure or when keys holds no `node` key. */
node_client_t *node_client_new(const og_keys_t *keys, int timeout_ms, size_t max_idle_per_node);
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
    int timeout_ms;          /* this call's bound; 0 = the client's timeout */
    int grace_ms;            /* node_call_until: how long it may still run once the caller has enough */
    /* out */
    int rc;                  /* 0 when a complete HTTP response was read (any status), else an error */
    int status;              /* HTTP status; 0 when rc != 0 and while the call is still running */
    char *resp_body;         /* resp_buf, or the malloc'd buffer; NULL when no body */
    size_t resp_len;         /* body bytes; for HEAD, the announced Content-Length (resp_body NULL) */
    char xxh3[17];           /* X-Onggi-Xxh3 response header when present, else "" */
    int truncated;           /* X-Onggi-Truncated: 1 on list responses */
    int newer;               /* X-Onggi-Newer was sent (record PUT kept out by a newer record): */
    uint64_t newer_ts, newer_tiebreak; /* that record's stamp */
    uint32_t elapsed_us;     /* from start to finish (or abandonment) */
} node_call_t;

/* Runs calls[0..n) concurrently and returns when every call has finished or failed (each
 * bounded by the timeout). Always returns 0; the per-call outcome is in calls[i].rc/status. */
int node_call_many(node_client_t *c, node_call_t *calls, size_t n);
/* Like node_call_many, but after each call finishes enough(ctx, calls, n) is asked (a running
 * call has status 0, so it never looks accepted); once it returns nonzero, every call still
 * running gets at most its grace_ms more and then fails with NODE_EABANDONED; whatever it sent may
 * or may not take effect on the node. Its connection is never pooled half-read: when its request
 * went out whole it is parked, and a later call to that node reads the answer off and reuses it
 * once the answer is whole (else it is closed, at the latest at the call's deadline).
 * Returns 1 when enough said so, else 0 (every call finished or failed on its own). */
int node_call_until(node_client_t *c, node_call_t *calls, size_t n,
                    int (*enough)(void *ctx, const node_call_t *calls, size_t n), void *ctx);
/* One call; returns call->rc. */
int node_call(node_client_t *c, node_call_t *call);

#endif
