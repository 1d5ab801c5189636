/*
 * http_ops.c: the operator endpoints on the gateway's own port (http.h): /health/live,
 * /health/ready and /metrics, for load balancers and Prometheus, which neither sign requests.
 *
 * Why this cannot take a real bucket away: S3 clients always sign a request for a bucket named
 * "health" or "metrics" (an Authorization header, or a presigned query string), and ListObjects
 * (V1 or V2) of a bucket carries a query or at least a signature; only an anonymous GET or HEAD of
 * exactly these paths without a query lands here, and S3 would refuse that anyway (Onggi has no
 * public buckets: owner-only ACLs). Same rule as Swift's unsigned GET /info.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "http.h"
#include "og_metrics.h"

int http_ops_wants(const http_ops_t *ops, const http_reqinfo_t *info)
{
    if (!og_str_eq(info->method, "GET") && !og_str_eq(info->method, "HEAD"))
        return 0;
    if (info->query.len != 0 || memchr(info->target.base, '?', info->target.len) != NULL)
        return 0;
    if (og_header_find(info->headers, info->num_headers, "Authorization").base != NULL)
        return 0;
    return og_str_eq(info->path, "/health/live") || og_str_eq(info->path, "/health/ready") ||
           (ops->metrics_here && og_str_eq(info->path, "/metrics"));
}

int http_ops_answer(const http_ops_t *ops, const char *path, int with_metrics, og_buf_t *body,
                    const char **content_type)
{
    *content_type = "text/plain; charset=utf-8";
    if (strcmp(path, "/health/live") == 0) {
        og_buf_puts(body, "ok\n");
        return 200;
    }
    if (strcmp(path, "/health/ready") == 0) {
        og_buf_t why = {0};
        int ready = ops->ready == NULL || ops->ready(ops->ctx, &why);
        og_buf_printf(body, "%s%s%.*s\n", ready ? "ready" : "not ready", why.len ? ": " : "", (int)why.len,
                      why.buf ? why.buf : "");
        og_buf_free(&why);
        return ready ? 200 : 503;
    }
    if (with_metrics && strcmp(path, "/metrics") == 0) {
        *content_type = "text/plain; version=0.0.4; charset=utf-8";
        http_metrics_format(ops->metrics, ops->srv, body);
        if (ops->more != NULL)
            ops->more(ops->ctx, body);
        return 200;
    }
    og_buf_puts(body, "not found\n");
    return 404;
}

void http_ops_handle(http_req_t *req, const http_ops_t *ops)
{
    const http_reqinfo_t *info = http_req_info(req);
    char path[32];
    og_buf_t body = {0};
    const char *ctype;
    snprintf(path, sizeof(path), "%.*s", (int)info->path.len, info->path.base);
    int status = http_ops_answer(ops, path, ops->metrics_here, &body, &ctype);
    if (body.oom)
        status = 500, body.len = 0;
    og_header_t h[2] = {{OG_STR_LIT("Content-Type"), og_str(ctype)}, {OG_STR_LIT("Cache-Control"), OG_STR_LIT("no-store")}};
    http_resp_send(req, status, h, 2, body.buf, body.len);
    og_buf_free(&body);
}

struct st_http_ops_listener_t {
    og_opsd_t *d;
};

/* og_opsd_fn: every endpoint, /metrics included. */
static int ops_listener_answer(void *ctx, const char *path, og_buf_t *body, const char **content_type)
{
    return http_ops_answer(ctx, path, 1, body, content_type);
}

int http_ops_listen(const char *addr, const http_ops_t *ops, http_ops_listener_t **out)
{
    http_ops_listener_t *l = malloc(sizeof(*l));
    if (l == NULL)
        return -ENOMEM;
    int rc = og_opsd_start(addr, ops_listener_answer, (void *)ops, &l->d);
    if (rc != 0) {
        free(l);
        return rc;
    }
    *out = l;
    return 0;
}

uint16_t http_ops_port(const http_ops_listener_t *l) { return og_opsd_port(l->d); }

void http_ops_close(http_ops_listener_t *l)
{
    if (l == NULL)
        return;
    og_opsd_stop(l->d);
    free(l);
}
