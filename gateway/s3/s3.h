/*
 * s3.h: the Amazon S3 front end (path- and virtual-host-style requests, SigV4/SigV2 auth,
 * S3 XML answers and error codes) over core/ and iam/. docs/s3-compat.md lists what it speaks.
 */
#ifndef S3_H
#define S3_H

#include "auth.h"
#include "cluster/cluster.h"
#include "http/http.h"
#include "iam/iam.h"

/* Process-wide, read-only after start (no mutable globals: this is the context; sigv4_keys locks
 * its own state). */
typedef struct {
    cluster_t *cluster;
    iam_t *iam;
    const char *domain; /* virtual-host domain ("s3.example.com") or NULL */
    const char *website_domain; /* website endpoint domain ("s3-website.example.com") or NULL */
    const char *region; /* "us-east-1" */
    int access_log;     /* log every request (else only 5xx answers) */
    unsigned api_index; /* this API's index in the server's http_metrics_t (http_req_set_op) */
    int sse_c_plain_http; /* take SSE-C keys over plain HTTP too (a TLS proxy in front); else TLS only */
    auth_keycache_t *sigv4_keys; /* SigV4 signing keys kept between requests (thread-safe), or NULL */
} s3_ctx_t;

/* The S3 operations, for http_metrics_new (label api="s3", op="GetObject" ...). */
extern const http_api_t s3_http_api;

/* http_busy_fn for S3 requests: the SlowDown error document. Cannot fail. */
og_str_t s3_busy_body(const http_reqinfo_t *info, void *ctx, const char **content_type);

/* Is the request a website endpoint request (its Host under gw's website domain, or a custom
 * domain: the name of a bucket with a website configuration, one bucket lookup)? 1 or 0; such a
 * request goes to s3_website_handle whatever its path (docs/s3-compat.md "Website endpoint"). */
int s3_website_wants(s3_ctx_t *gw, const http_req_t *http);

/* The HTTP handlers (http_handler_fn); ctx is an s3_ctx_t. Always answer. s3_handle: the REST API;
 * s3_website_handle: a request s3_website_wants admitted. */
void s3_handle(http_req_t *http, void *ctx);
void s3_website_handle(http_req_t *http, void *ctx);

#endif
