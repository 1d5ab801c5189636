/*
 * gw_http.h: the gateway's client-facing HTTP/1.1 server.
 *
 * Built on libh2o-evloop's sockets and the exported picohttpparser, not on h2o's server
 * layer (which buffers whole bodies, times out whole requests and answers 100-continue
 * before auth; see shared notes on h2o 2.2.5). One event-loop thread owns every socket:
 * it accepts, parses request heads, moves body bytes and response bytes, and enforces
 * idle and per-progress timeouts and a minimum body rate. Each parsed request is handed to a
 * worker thread from a fixed pool, which runs the handler in plain blocking style:
 *
 *   handler(req) -> gw_req_read() ... -> gw_resp_start() -> gw_resp_write() ... -> gw_resp_end()
 *
 * Backpressure both ways: the loop stops reading a socket while the request's body window
 * is full (the handler has not consumed it), and gw_resp_write() blocks until the loop has
 * written the bytes. Memory per request is bounded by the window (GW_BODY_WINDOW) plus what
 * the handler holds.
 *
 * Expect: 100-continue is answered only when the handler first calls gw_req_read(), i.e.
 * after it has checked auth; a handler that answers without reading the body makes the
 * server close the connection after the response (the unread body is never drained).
 */
#ifndef GW_HTTP_H
#define GW_HTTP_H

#include <signal.h>
#include <sys/types.h>

#include "og.h"

#define GW_BODY_WINDOW (1u << 20)
#define GW_MAX_HEADERS 100
#define GW_MAX_HEAD_BYTES (64u << 10)

enum {
    GW_EBODY = -10400,    /* malformed body framing (bad chunked encoding) */
    GW_EABORTED = -10401  /* client went away, stopped making progress or sends too slowly */
};

typedef struct st_gw_server_t gw_server_t;
typedef struct st_gw_req_t gw_req_t;

/* Runs on a worker thread. It must answer exactly once (gw_resp_send, or gw_resp_start ...
 * gw_resp_end) unless a gw_* call failed with GW_EABORTED, in which case it just returns. */
typedef void (*gw_handler_fn)(gw_req_t *req, void *ctx);

typedef struct {
    const char *host;           /* listen address, e.g. "127.0.0.1" or "0.0.0.0" */
    uint16_t port;
    size_t workers;             /* worker threads (default 128 when 0) */
    uint32_t idle_timeout_ms;   /* keep-alive idle and header read (default 60000) */
    uint32_t io_timeout_ms;     /* no progress on body or response (default 60000) */
    /* Slow-body guard. Progress alone re-arms io_timeout_ms, so a client sending one byte per
     * minute would hold a worker forever. While the server waits for a request body's bytes, the
     * time is cut into windows of body_rate_window_ms; a connection that received fewer than
     * body_min_rate bytes/s on average over a whole window is closed (the handler's gw_req_read
     * fails with GW_EABORTED). The first window is the grace period; time the server itself is
     * not reading (body window full, 100-continue not yet sent) never counts against the client.
     * Defaults when 0: 1024 bytes/s and 60000 ms (see docs/operations.md). */
    uint32_t body_min_rate;
    uint32_t body_rate_window_ms;
    gw_handler_fn handler;
    void *ctx;
} gw_server_conf_t;

/* Binds and listens. 0 and *out, or -errno (EADDRINUSE ...). */
int gw_server_new(const gw_server_conf_t *conf, gw_server_t **out);
/* Serves until gw_server_stop(); then finishes in-flight requests, closes and returns 0. */
int gw_server_run(gw_server_t *srv);
/* Async-signal-safe: asks gw_server_run to return. */
void gw_server_stop(gw_server_t *srv);
void gw_server_free(gw_server_t *srv);
/* The bound port (useful with port 0). */
uint16_t gw_server_port(const gw_server_t *srv);

/* The request head. All slices stay valid until the response has ended. */
typedef struct {
    og_str_t method;
    og_str_t target;          /* raw request target as received */
    og_str_t path;            /* raw path (percent-encoded), target before '?' */
    og_str_t query;           /* raw query after '?', empty if none */
    const og_header_t *headers;
    size_t num_headers;
    int minor_version;        /* 0 or 1 */
    int64_t content_length;   /* -1 when chunked (or no body framing: then 0) */
    int chunked;
    int expect_continue;
    int is_head;              /* HEAD: responses carry headers only */
    char remote[64];          /* "ip:port" of the client */
} gw_reqinfo_t;

const gw_reqinfo_t *gw_req_info(const gw_req_t *req);
/* First header by name, case-insensitive; {NULL,0} when absent. */
og_str_t gw_req_header(const gw_req_t *req, const char *name);

/* Reads up to cap body bytes (de-chunked), blocking. Sends "100 Continue" first if the
 * client expects it and it has not been sent. >0 bytes read, 0 at the end of the body,
 * GW_EBODY or GW_EABORTED on failure (then the connection will be closed). */
ssize_t gw_req_read(gw_req_t *req, void *buf, size_t cap);

/* Starts the response. content_length -1 = chunked transfer encoding. The server adds
 * Date, Content-Length/Transfer-Encoding and Connection; the handler adds the rest.
 * The header slices are copied. 0 or GW_EABORTED. */
int gw_resp_start(gw_req_t *req, int status, const og_header_t *hdrs, size_t n, int64_t content_length);
/* Writes body bytes, blocking until the loop has written them to the socket (so buf may be
 * reused on return). For HEAD requests the bytes are discarded. 0 or GW_EABORTED. */
int gw_resp_write(gw_req_t *req, const void *buf, size_t len);
/* Ends the response (terminal chunk when chunked). After it the handler must not touch req.
 * 0 or GW_EABORTED. */
int gw_resp_end(gw_req_t *req);
/* start + write + end for a response held in memory. */
int gw_resp_send(gw_req_t *req, int status, const og_header_t *hdrs, size_t n, const void *body, size_t len);

#endif
