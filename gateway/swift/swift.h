/*
 * swift.h: the OpenStack Swift v1 front end (TempAuth-style auth, accounts, containers,
 * objects, SLO/DLO) over core/ and iam/, in one namespace with S3 (docs/swift-compat.md).
 */
#ifndef SWIFT_H
#define SWIFT_H

#include "cluster/cluster.h"
#include "http/http.h"
#include "iam/iam.h"

#define SWIFT_TOKEN_LIFE 86400 /* seconds, TempAuth's default */

/* The process-wide Swift context (read-only after start). */
typedef struct {
    cluster_t *cl;
    iam_t *iam;          /* users and the token key */
    uint32_t token_life; /* seconds */
    int access_log;      /* log every request (else only 5xx answers) */
    unsigned api_index;  /* this API's index in the server's http_metrics_t (http_req_set_op) */
} swift_t;

/* The Swift operations, for http_metrics_new (label api="swift", op="GET object" ...). */
extern const http_api_t swift_http_api;

/* Sets up sw (token_life 0 = SWIFT_TOKEN_LIFE). Cannot fail. */
void swift_init(swift_t *sw, cluster_t *cl, iam_t *iam, uint32_t token_life, int access_log);

/* Does this request belong to the Swift API? /auth/v1.0 and /auth/v1 (exact paths), /v1 and
 * everything under /v1/, and GET/HEAD /info that carries no S3 signature (Authorization header
 * or a presigned query). */
int swift_wants(const http_reqinfo_t *info);
/* http_busy_fn for Swift requests: Swift's 503 text. Cannot fail. */
og_str_t swift_busy_body(const http_reqinfo_t *info, void *ctx, const char **content_type);

/* The HTTP handler (http_handler_fn); ctx is a swift_t. */
void swift_handle(http_req_t *http, void *ctx);

#endif
