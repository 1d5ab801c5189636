/*
 * http/http.h: the gateway's client-facing HTTP/1.1 server.
 *
 * Built on libh2o-evloop's sockets and the exported picohttpparser, not on h2o's server
 * layer (which buffers whole bodies, times out whole requests and answers 100-continue
 * before auth; see shared notes on h2o 2.2.5). One event-loop thread owns every socket:
 * it accepts, parses request heads (picohttpparser), decodes chunked bodies (http_chunked.c:
 * picohttpparser's decoder is lax about chunk sizes), moves body bytes and response bytes, and enforces
 * idle and per-progress timeouts and a minimum body rate. Each parsed request is handed to a
 * worker thread from an elastic pool, which runs the handler in plain blocking style:
 *
 *   handler(req) -> http_req_read() ... -> http_resp_start() -> http_resp_write() ... -> http_resp_end()
 *
 * The pool keeps a core of `workers` threads; when a request is queued and no worker is idle, the
 * loop starts one more (up to `workers_max`, with a small explicit stack), and a thread beyond the
 * core that finds no request for 10 s exits. A handler blocked on a slow client's body therefore
 * costs one parked thread (its touched stack, a futex wait), never another request's turn: a GET
 * arriving among 2,000 slow uploads gets a thread at once. The kernel schedules the threads; the
 * loop thread stays one of them, and parked waiters take no CPU from it.
 *
 * Body bytes go straight into the buffer a handler passes to http_req_read while it waits: a
 * plain-text Content-Length body is received from the socket into it (the kernel's copy is the
 * only one); over TLS or chunked the bytes pass through the socket's input buffer (decryption,
 * decoding; at most 64 KiB ahead). While the handler is busy the loop reads nothing: the
 * body waits in the kernel, and thousands of uploads whose handlers lag leave their backlog there,
 * slowing their clients through TCP. Backpressure both ways: the loop stops reading a socket while
 * its handler has no buffer posted, and http_resp_write() blocks until the loop has written the
 * bytes.
 *
 * No body byte is read from the socket before the handler first calls http_req_read(), i.e.
 * before it has checked auth: Expect: 100-continue is answered then, and a body sent without
 * it waits in the kernel (only what came in with the head, at most HTTP_MAX_HEAD_BYTES per
 * connection, is in memory). A handler that answers without reading the body makes the
 * server close the connection after the response (the unread body is never drained), unless the
 * whole body had come in with the head: such a body (up to 64 KiB) goes with the request, and
 * http_req_read hands it out without a round trip through the loop.
 */
#ifndef HTTP_H
#define HTTP_H

#include <signal.h>
#include <sys/types.h>

#include "og.h"
#include "og_buf.h"

#define HTTP_MAX_HEADERS 100
#define HTTP_MAX_HEAD_BYTES (64u << 10)

/* The largest request body, and chunk of one, the server takes: the largest Content-Length it
 * parses (18 decimal digits). */
#define HTTP_BODY_MAX 999999999999999999ull

enum {
    HTTP_EBODY = -10400,    /* malformed body framing (bad chunked encoding) */
    HTTP_EABORTED = -10401, /* client went away, stopped making progress or sends too slowly */
    HTTP_EBUSY = -10402,    /* the caller's share of the workers is taken (http_req_claim) */
    HTTP_ETLS = -10408      /* a TLS certificate or key file is unusable */
};

typedef struct st_http_server_t http_server_t;
typedef struct st_http_req_t http_req_t;
typedef struct st_http_tls_t http_tls_t;
typedef struct st_http_reqinfo_t http_reqinfo_t;
typedef struct st_http_metrics_t http_metrics_t;

/* Runs on a worker thread. It must answer exactly once (http_resp_send, or http_resp_start ...
 * http_resp_end) unless an http_* call failed with HTTP_EABORTED, in which case it just returns. */
typedef void (*http_handler_fn)(http_req_t *req, void *ctx);

/* Runs on the loop thread when a request cannot be queued for a worker (the queue is full): the
 * body of the 503 the server then sends with Retry-After and Connection: close, in the request's
 * protocol (S3 SlowDown XML, Swift text). *content_type is set. Must not block or allocate. */
typedef og_str_t (*http_busy_fn)(const http_reqinfo_t *info, void *ctx, const char **content_type);

typedef struct {
    const char *host;           /* listen address, e.g. "127.0.0.1" or "0.0.0.0" */
    uint16_t port;
    size_t workers;             /* core of worker threads, always running (HTTP_DEFAULT_WORKERS when 0) */
    /* Most worker threads (default HTTP_DEFAULT_WORKERS_MAX when 0, at least workers): when a
     * request is queued and no worker is idle, one more thread starts; one beyond the core that
     * stays idle for 10 s exits. */
    size_t workers_max;
    uint32_t idle_timeout_ms;   /* keep-alive idle and header read (default 60000) */
    uint32_t io_timeout_ms;     /* no progress on body or response (default 60000) */
    /* Slow-body guard. Progress alone re-arms io_timeout_ms, so a client sending one byte per
     * minute would hold a worker forever. While the server waits for a request body's bytes, the
     * time is cut into windows of body_rate_window_ms; a connection that received fewer than
     * body_min_rate bytes/s on average over a whole window is closed (the handler's http_req_read
     * fails with HTTP_EABORTED). The first window is the grace period; time the server itself is
     * not reading (the handler busy, 100-continue not yet sent) never counts against the client.
     * Defaults when 0: 1024 bytes/s and 60000 ms (see docs/operations.md). */
    uint32_t body_min_rate;
    uint32_t body_rate_window_ms;
    /* Connection caps (http_limits.c). At max_conns open connections the server stops accepting
     * (new ones wait in the kernel's backlog) until one closes; a client address holding
     * max_conns_per_ip connections has further ones closed at once (RST). Defaults when 0:
     * HTTP_DEFAULT_MAX_CONNS and HTTP_DEFAULT_MAX_CONNS_PER_IP. */
    size_t max_conns;
    size_t max_conns_per_ip;
    /* Fair share: at most account_workers workers run requests of one claimant at once
     * (http_req_claim); default workers_max / 2. At most max_queue requests wait for a worker; a
     * request beyond that gets a 503 whose body comes from busy (default HTTP_DEFAULT_MAX_QUEUE). */
    size_t account_workers;
    size_t max_queue;
    http_busy_fn busy;
    http_handler_fn handler;
    void *ctx;
    /* HTTPS: with tls set, a second listener on tls_host:tls_port (port 0: any) serves the same
     * handler over TLS (http_tls.c). tls stays the caller's and must outlive the server. */
    const char *tls_host;
    uint16_t tls_port;
    http_tls_t *tls;
    /* Request metrics (http_metrics_new): every request a handler labelled with http_req_set_op
     * is counted there when its handler returns. NULL: none kept. Stays the caller's. */
    http_metrics_t *metrics;
} http_server_conf_t;

#define HTTP_DEFAULT_MAX_CONNS 16384
#define HTTP_DEFAULT_MAX_CONNS_PER_IP 1024
#define HTTP_DEFAULT_MAX_QUEUE 1024
#define HTTP_DEFAULT_WORKERS 128
#define HTTP_DEFAULT_WORKERS_MAX 4096
/* Longest claimant name http_req_claim tells apart (longer ones are cut: still one claimant). */
#define HTTP_CLAIM_MAX 160

/* Binds and listens. 0 and *out, or -errno (EADDRINUSE ...). */
int http_server_new(const http_server_conf_t *conf, http_server_t **out);
/* Serves until http_server_stop(); then finishes in-flight requests, closes and returns 0.
 * With TLS, h2o leaves a small per-thread cache (its memory-pool chunks, up to 64 KiB) on the
 * calling thread that nothing can release: call it from a thread that lives as long as the
 * process (main.c: the main thread). */
int http_server_run(http_server_t *srv);
/* Async-signal-safe: asks http_server_run to return. */
void http_server_stop(http_server_t *srv);
void http_server_free(http_server_t *srv);
/* The bound port (useful with port 0). */
uint16_t http_server_port(const http_server_t *srv);
/* The bound TLS port, 0 without TLS. */
uint16_t http_server_tls_port(const http_server_t *srv);

/* ---- TLS certificates (http_tls.c) ---- */

/* Loads n certificate chains (PEM: the leaf first, then its intermediates) and their private
 * keys (PEM), pairwise: certs[i] goes with keys[i]. The first pair is the default; a client whose
 * SNI server name is covered by another pair's certificate (subjectAltName DNS names, or the
 * subject CN without them; "*.DOMAIN" covers one label) gets that one. Policy: TLS 1.2 and 1.3
 * only, ECDHE key exchange with AEAD ciphers, ALPN http/1.1 (docs/operations.md, TLS). The file
 * names are kept for http_tls_reload. 0 and *out (free with http_tls_free after the server), or
 * HTTP_ETLS / OG_EINVAL / -ENOMEM with a message naming the file and the reason in err. */
int http_tls_new(const char *const *certs, const char *const *keys, size_t n, http_tls_t **out, char *err,
                 size_t errcap);
/* Reads the same files again (any thread, e.g. on SIGHUP). Handshakes that start afterwards use
 * the new certificates; connections already up are untouched. When any pair fails to load,
 * nothing changes: the old certificates stay in use and the error is returned as in
 * http_tls_new. */
int http_tls_reload(http_tls_t *tls, char *err, size_t errcap);
void http_tls_free(http_tls_t *tls);

/* The request head. All slices stay valid until the response has ended. */
struct st_http_reqinfo_t {
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
    int tls;                  /* came over TLS (the https listener) */
    char remote[64];          /* "ip:port" of the client */
};

const http_reqinfo_t *http_req_info(const http_req_t *req);
/* First header by name, case-insensitive; {NULL,0} when absent. */
og_str_t http_req_header(const http_req_t *req, const char *name);

/* A fresh id for req (worker thread): 16 hex digits and a NUL from its worker's og_rng sequence,
 * seeded from the kernel's randomness when the thread started (no syscall per request). Cannot
 * fail. */
void http_request_id(http_req_t *req, char out[17]);

/* Claims a worker slot for `who` (an account, or a client address for anonymous requests) for
 * the rest of this request: the server releases it when the response ends (http_resp_end) or
 * the handler returns. 0, or HTTP_EBUSY
 * when `who` already holds account_workers workers (answer 503 SlowDown). A second claim of the
 * same request replaces the first. Call it after authentication and before reading the body. */
int http_req_claim(http_req_t *req, og_str_t who);
/* http_req_claim for an anonymous request: the claimant is the client's address ("ip:" and the
 * address without its port), so one client cannot take every worker. 0 or HTTP_EBUSY. */
int http_req_claim_remote(http_req_t *req);

/* Marks the response private to its caller (on = 1: an authenticated request, or anything not
 * known to be public) or shareable (on = 0). A private response goes out with Cache-Control made
 * private (http_cache_control_private of the handler's own value, or plain "private") and
 * "Vary: Authorization, X-Auth-Token", so no shared cache (a CDN, Varnish, nginx proxy_cache)
 * stores it and a private cache keys it by credentials; a HEAD keeps a handler's own
 * Cache-Control as is (stored metadata; caches store GETs). Takes effect at http_resp_start; call
 * it before. Cannot fail. */
void http_req_cache_private(http_req_t *req, int on);

/* Reads up to cap body bytes (de-chunked), blocking. The first read has "100 Continue" sent
 * when the client expects it and the response has not started (ahead of anything the handler
 * writes after it, also when the body came with the head). It waits while the loop writes into buf (see the
 * top) and returns once buf holds min(cap, 64 KiB) or the body has ended: >0 bytes read, 0 at the
 * end of the body, HTTP_EBODY or HTTP_EABORTED on failure (then the connection will be closed). */
ssize_t http_req_read(http_req_t *req, void *buf, size_t cap);

/* Starts the response. content_length -1 = chunked transfer encoding. The server adds
 * Date, Content-Length/Transfer-Encoding and Connection; the handler adds the rest.
 * The header slices are copied. 0 or HTTP_EABORTED. */
int http_resp_start(http_req_t *req, int status, const og_header_t *hdrs, size_t n, int64_t content_length);
/* Writes body bytes, blocking until the loop has written them to the socket (so buf may be
 * reused on return); the last bytes of a small Content-Length body are copied instead and go out
 * with http_resp_end. For HEAD requests the bytes are discarded. 0 or HTTP_EABORTED. */
int http_resp_write(http_req_t *req, const void *buf, size_t len);
/* Ends the response (terminal chunk when chunked). After it the handler must not touch req.
 * 0 or HTTP_EABORTED. */
int http_resp_end(http_req_t *req);
/* start + write + end for a response held in memory. */
int http_resp_send(http_req_t *req, int status, const og_header_t *hdrs, size_t n, const void *body, size_t len);

/* What a request cost so far: body bytes read by the handler and written (headers not counted;
 * none for HEAD), nanoseconds from its head being parsed to now and to the start of its
 * response (0 before), and the response status (0 before). Worker thread; cannot fail. */
typedef struct {
    uint64_t bytes_in, bytes_out;
    uint64_t elapsed_ns, ttfb_ns;
    int status;
} http_req_stats_t;
void http_req_stats(const http_req_t *req, http_req_stats_t *out);

/* The server's gauges and counters (any thread, a relaxed snapshot). Cannot fail. */
typedef struct {
    uint64_t in_flight;      /* requests a worker is running */
    uint64_t queued;         /* requests waiting for a worker */
    uint64_t conns_open;     /* client connections open (plain and TLS) */
    uint64_t conns_accepted; /* since start */
    uint64_t conns_refused;  /* reset at once: over --max-conns-per-ip, or out of memory */
} http_server_stats_t;
void http_server_stats(const http_server_t *srv, http_server_stats_t *out);

/* ---- request metrics (http_metrics.c, docs/operations.md "Metrics") ---- */

/* One API (label api="name") and its nops operations (label op): the name of operation i is the
 * string pointer at (char *)ops + i * stride, so a front end's table of rules whose first member
 * is the name serves as the list (stride = the rule's size). Everything must outlive the metrics. */
typedef struct {
    const char *name;
    const char *const *ops;
    size_t stride;
    size_t nops;
} http_api_t;

/* Per API x operation: requests by status (100..599), time to the response's start and to the
 * handler's return (og_metrics.h histograms), body bytes in and out. Recording is lock-free
 * (relaxed atomics). 0 and *out (http_metrics_free), or -ENOMEM. apis[] must outlive it. */
int http_metrics_new(const http_api_t *apis, size_t napis, http_metrics_t **out);
void http_metrics_free(http_metrics_t *m);
/* Labels req as operation op of API api (indexes into the http_api_t tables); the server counts
 * it in conf.metrics when the handler returns. Out-of-range indexes are ignored. Worker only. */
void http_req_set_op(http_req_t *req, unsigned api, unsigned op);
/* Appends the onggi_gateway_* families of m and srv (either may be NULL) to b in the text
 * format. Fails only by b running out of memory (b->oom). */
void http_metrics_format(const http_metrics_t *m, const http_server_t *srv, og_buf_t *b);

/* ---- operator endpoints: /health/live, /health/ready, /metrics (http_ops.c) ---- */

typedef struct {
    http_server_t *srv;      /* set once the server exists (NULL: no server gauges) */
    http_metrics_t *metrics;
    int metrics_here;        /* /metrics is served on the main port (else on another listener) */
    /* 1 when the process can serve writes, else 0 with a short reason appended to why. */
    int (*ready)(void *ctx, og_buf_t *why);
    /* Appends more metric families (the cluster's) to b. */
    void (*more)(void *ctx, og_buf_t *b);
    void *ctx;
} http_ops_t;

/* Is this request for an operator endpoint on the main port? Only a GET or HEAD of exactly
 * /health/live, /health/ready or (with metrics_here) /metrics, without a query string and
 * without an Authorization header: any S3 request (signed in a header or presigned in the query)
 * for a bucket named "health" or "metrics" still goes to S3. */
int http_ops_wants(const http_ops_t *ops, const http_reqinfo_t *info);
/* The status and body (*content_type set) of operator path `path` (the path alone): 200/503 for
 * the health checks, 200 for /metrics when with_metrics, else 404. Fails only by running out of
 * memory (body->oom). Usable as the body of an og_opsd_fn. */
int http_ops_answer(const http_ops_t *ops, const char *path, int with_metrics, og_buf_t *body,
                    const char **content_type);
/* Answers req (one of http_ops_wants's) with http_ops_answer. Always answers. */
void http_ops_handle(http_req_t *req, const http_ops_t *ops);

/* A listener of its own for the operator endpoints (--metrics-listen): /metrics and /health/live and /health/ready
 * on addr ("IP:PORT"; port 0 picks one), served by one thread (og_metrics.h, og_opsd). ops must
 * outlive it. 0 and *out, OG_EINVAL (bad address), -errno. */
typedef struct st_http_ops_listener_t http_ops_listener_t;
int http_ops_listen(const char *addr, const http_ops_t *ops, http_ops_listener_t **out);
uint16_t http_ops_port(const http_ops_listener_t *l);
/* Stops and frees l. NULL is a no-op. */
void http_ops_close(http_ops_listener_t *l);

/* ---- the chunked transfer coding (http_chunked.c) ---- */

/* A chunked body's decoding state: zero it before the body. */
typedef struct {
    uint64_t left;  /* bytes left in the chunk, or the size read so far on a chunk-size line */
    uint64_t total; /* bytes of all chunks announced so far */
    size_t line;    /* bytes of blanks, extensions and trailers read on the current line(s) */
    int state, digits;
} http_chunked_t;

/* Decodes the *bufsz bytes at buf in place, continuing where the previous call stopped: the
 * payload moves to the front and *bufsz becomes its length. Returns -2 (the body goes on), -1
 * (malformed: a chunk size that is not 1..16 hex digits, or above HTTP_BODY_MAX together with
 * the chunks before it; bad CRLFs; blanks, extensions or trailers over HTTP_MAX_HEAD_BYTES), or
 * >= 0 when the body ended: that many bytes after the payload (already moved to follow it) are
 * not part of it. Cannot fail otherwise. */
ssize_t http_chunked_decode(http_chunked_t *d, char *buf, size_t *bufsz);

/* ---- request-head parsers (http_range.c): Range (RFC 7233), the four conditionals (RFC 7232)
 * and HTTP dates. No I/O, no allocation, no globals: unit-tested directly and safe to fuzz. */

/* Outcomes of http_range_parse. */
enum {
    HTTP_RANGE_NONE = 0,         /* absent, malformed or multi-range: serve the whole object (200) */
    HTTP_RANGE_OK = 1,           /* one satisfiable range: 206 with [*first, *last] (inclusive) */
    HTTP_RANGE_UNSATISFIABLE = 2 /* one well-formed range outside the object: 416 */
};

/* Parses a Range header value for an object of `size` bytes. Accepts one byte range in the
 * forms "bytes=a-b", "bytes=a-" and "bytes=-n"; b past the end is clamped to size-1. As S3
 * does, several ranges ("bytes=0-1,5-6") and syntax errors make the header ignored
 * (HTTP_RANGE_NONE) rather than rejected. A range that starts at or after `size`, or a suffix of
 * 0 bytes (or any suffix of an empty object), is HTTP_RANGE_UNSATISFIABLE. Never fails otherwise;
 * *first and *last are set only for HTTP_RANGE_OK. */
int http_range_parse(og_str_t hdr, uint64_t size, uint64_t *first, uint64_t *last);

/* Parses an HTTP-date in any of the three RFC 7231 forms (IMF-fixdate "Sun, 06 Nov 1994
 * 08:49:37 GMT", obsolete RFC 850 "Sunday, 06-Nov-94 08:49:37 GMT", asctime "Sun Nov  6
 * 08:49:37 1994") into Unix seconds. 0 or OG_EINVAL for anything else. */
int http_date_parse(og_str_t s, int64_t *out);

/* Does an If-Match / If-None-Match value list the entity tag `etag` (given with or without
 * its quotes)? Handles "*", comma-separated lists, weak "W/" tags (compared weakly: the
 * opaque part only) and unquoted tags, which some clients send. 1 or 0. */
int http_etag_list_match(og_str_t list, og_str_t etag);

/* The Range header of req to honour for a representation with entity tag etag and Last-Modified
 * mtime_s: the header, or an empty slice when there is none or an If-Range names another
 * representation (RFC 9110 13.1.5: an entity tag compared strongly, so W/ never matches; a date
 * equal to Last-Modified). The answer is then the whole object (200). Cannot fail. */
og_str_t http_range_header(const http_req_t *req, og_str_t etag, int64_t mtime_s);

/* The request's conditional headers (empty slices when absent). */
typedef struct {
    og_str_t if_match;
    og_str_t if_none_match;
    og_str_t if_modified_since;
    og_str_t if_unmodified_since;
} http_cond_t;

/* The conditional headers of req, as slices into its header block (valid while req lives). Cannot
 * fail. */
http_cond_t http_cond_from_req(const http_req_t *req);

/* Evaluates the conditionals of a GET/HEAD against an object (etag as stored, mtime in Unix
 * seconds, i.e. the resolution of Last-Modified) in RFC 7232 section 6 order, which also gives
 * the AWS precedence rules: If-Match decides alone when present (so If-Match true +
 * If-Unmodified-Since false -> 200), and If-None-Match decides alone when present (so
 * If-None-Match false + If-Modified-Since true -> 304). A date that does not parse is ignored.
 * Returns 200 (serve), 304 (not modified) or 412 (precondition failed). */
int http_cond_eval(const http_cond_t *c, og_str_t etag, int64_t mtime_s);


/* ---- small shared pieces (http_util.c, http_server.c) ---- */

/* The standard reason phrase of an HTTP status ("Not Found"; "Unknown" for one not listed): the
 * status line's, and the title of an HTML error page. Cannot fail. */
const char *http_status_reason(int status);
/* A Host header's value without its port ("b.example.com:8000" -> "b.example.com", "[::1]:9000"
 * -> "[::1]"). Cannot fail. */
og_str_t http_host_without_port(og_str_t host);

/* ---- query strings and dates (http_util.c) ---- */

/* Decodes query parameter `name` of the raw query string (form encoding: '+' is a space) into
 * b, NUL-terminated. 1 when present, 0 when absent, OG_EINVAL on a bad escape, -ENOMEM. */
int http_query_decode(og_str_t query, const char *name, og_buf_t *b);

/* ISO 8601 "2006-02-03T16:45:09.000Z" (25 bytes incl. NUL) and RFC 1123
 * "Fri, 03 Feb 2006 16:45:09 GMT" (30 bytes incl. NUL) from nanoseconds since the epoch. */
void http_iso8601_format(uint64_t ns, char out[32]);
void http_date_format(uint64_t ns, char out[32]);

/* ---- cache control (http_util.c) ---- */

/* Room http_cache_control_private needs for an input of len bytes (each kept directive gains
 * ", " and "private" leads). */
#define HTTP_CC_PRIVATE_CAP(len) (2 * (len) + 9)
/* A Cache-Control value for a private response from a stored or handler value v: "private",
 * then v's directives except those that speak to shared caches only or would let one store it
 * (public, private, s-maxage, proxy-revalidate): "public, max-age=60" -> "private, max-age=60".
 * The security property wins over the object's own wish. Quoted arguments (no-cache="a,b") stay
 * whole. Writes into out (HTTP_CC_PRIVATE_CAP(v.len) bytes, not NUL-terminated) and
 * returns the length. Cannot fail. */
size_t http_cache_control_private(og_str_t v, char *out);

/* The caching headers a response's headers hdrs (n) lack, from a bucket's defaults: Cache-Control
 * dflt_cc when hdrs have none and dflt_cc is not empty, and Expires (now_s + expires_after_s,
 * formatted into date) when hdrs have none and expires_after_s >= 0. Appends 0, 1 or 2 headers
 * to out (slices into dflt_cc and date) and returns how many. Cannot fail. */
size_t http_cache_dflt(const og_header_t *hdrs, size_t n, og_str_t dflt_cc, int64_t expires_after_s, uint64_t now_s,
                       char date[32], og_header_t *out);

/* ---- access log (http_util.c) ---- */

/* Appends what (a request target) to b with the values of secret-bearing query parameters
 * (X-Amz-Signature, Signature, X-Amz-Security-Token, temp_url_sig; names compared
 * percent-decoded, case-insensitively) replaced by "REDACTED". 0 or -ENOMEM. */
int http_log_redact(og_str_t what, og_buf_t *b);

/* What the front end knows of a finished request for its access-log line. */
typedef struct {
    const char *request_id;
    const char *account; /* NULL or "" when not authenticated: "-" */
    const char *api, *op; /* "s3" / "swift" and the operation (metrics' labels) */
    og_str_t bucket, key; /* empty: "-"; logged percent-encoded */
    og_str_t what;        /* the part of the target logged (S3: the target, Swift: the path) */
    int status;
} http_log_line_t;

/* Writes one line for a finished request to stderr (docs/operations.md, "Access log"):
 *   <ISO 8601 time> <remote ip:port> <request id> <account> <api>.<op> <bucket> <key> <method>
 *   <what> <status> <bytes in> <bytes out> <N>ms
 * `what` redacted by http_log_redact (the query is left out if that runs out of memory); status,
 * bytes and time from http_req_stats (l->status only when no response was started). Every request is logged when `all` is set, else only server
 * errors (status >= 500). Never fails; the line goes out in one write. */
void http_access_log(const http_req_t *req, const http_log_line_t *l, int all);
/* Logs (stderr, one line) that request `request_id` left an entry out of a listing or a usage
 * sum because it could not be read: "<what> '<name, percent-encoded, first 64 bytes>' left out:
 * <why>". Never fails. */
void http_log_skip(const char *request_id, const char *what, og_str_t name, const char *why);

#endif
