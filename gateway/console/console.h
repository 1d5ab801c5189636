/*
 * console/console.h: the web console (docs/operations.md, "Web console"): its static pages under
 * /_console/, compiled into the gateway, and the few JSON endpoints under /_console/api/ that the
 * pages need beyond S3 and Swift themselves (the region, an S3 account's usage against its quota,
 * the cluster's devices for a reseller admin). Everything else the console does, the browser
 * does with signed S3 or Swift requests to the same gateway.
 *
 * The prefix is one no S3 bucket can take (bucket names start with a letter or digit) and no
 * Swift path uses (Swift's are /v1/..., /auth/..., /info), so the console never hides a bucket.
 */
#ifndef CONSOLE_H
#define CONSOLE_H

#include "cluster/cluster.h"
#include "http/http.h"
#include "iam/iam.h"

/* Process-wide, read-only after start. */
typedef struct {
    cluster_t *cluster;
    iam_t *iam;
    const char *region; /* the S3 region the browser signs for */
    int access_log;     /* log every request (else only 5xx answers) */
} console_t;

/* Is this request the console's (path /_console or under /_console/)? 1 or 0. */
int console_wants(const http_reqinfo_t *info);

/* The HTTP handler (http_handler_fn) for what console_wants; ctx is a console_t. Always answers. */
void console_handle(http_req_t *http, void *ctx);

#endif
