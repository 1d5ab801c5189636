/*
 * console_api.c: the JSON endpoints of /_console/api/ (docs/operations.md, "Web console"):
 *   GET config   no auth: {"region"} the browser signs S3 requests for;
 *   GET usage    SigV4-signed by an S3 key: its account's buckets, objects and bytes against the
 *                account quota (X-Account-Meta-Quota-Bytes, set with Swift), what Swift users
 *                read from their account's HEAD;
 *   GET cluster  X-Auth-Token of a Swift reseller admin: every device of the ring as its node
 *                answers now (cluster_devs_status).
 * Each answers only GET (and HEAD) without a body; anything else is refused, never ignored.
 */
#include "console_int.h"

#include <inttypes.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "auth.h"
#include "core/core.h"
#include "og_buf.h"

/* Sends b as a JSON answer (500 when building it ran out of memory), then frees it. */
static void send_json(console_req_t *r, og_buf_t *b)
{
    if (b->oom)
        console_error(r, 500, "out of memory");
    else
        console_send(r, 200, "application/json", "no-store", b->buf, b->len);
    og_buf_free(b);
}

/* Maps a cluster-side error to an answer. */
static void cluster_error(console_req_t *r, int rc)
{
    console_error(r, rc == OG_EQUORUM || rc == OG_ETIMEOUT ? 503 : 500, og_strerror(rc));
}

static void api_config(console_req_t *r)
{
    og_buf_t b = {0};
    og_buf_puts(&b, "{\"region\":");
    og_buf_json_str(&b, og_str(r->con->region));
    og_buf_puts(&b, "}");
    send_json(r, &b);
}

/* auth_lookup_fn over IAM; keeps the user (its account) in ctx. */
static int lookup_secret(void *ctx, og_str_t access_key, char *secret, size_t cap)
{
    void **c = ctx;
    iam_user_t *u = c[1];
    int rc = iam_user_get(c[0], access_key, u);
    if (rc != 0)
        return rc;
    size_t len = strlen(u->secret);
    if (len + 1 > cap)
        return OG_ETOOBIG;
    memcpy(secret, u->secret, len + 1);
    return 0;
}

/* The S3 user who signed the request (header or presigned SigV4/V2). 0 with *u, or after
 * answering 401/403/400 with the reason. */
static int s3_caller(console_req_t *r, iam_user_t *u)
{
    const http_reqinfo_t *info = r->info;
    auth_request_t ar = {.method = info->method, .path = info->path, .query = info->query,
                         .headers = info->headers, .num_headers = info->num_headers,
                         .now = (int64_t)time(NULL), .region = r->con->region};
    auth_result_t res;
    void *ctx[2] = {r->con->iam, u};
    int rc = auth_verify(&ar, lookup_secret, ctx, &res);
    if (rc == 0)
        return 0;
    if (rc == AUTH_EANONYMOUS) {
        console_error(r, 401, "sign the request with an S3 key");
    } else if (rc <= AUTH_EANONYMOUS && rc >= AUTH_EREGION) {
        int status;
        const char *code, *msg;
        auth_error_info(rc, &status, &code, &msg);
        console_error(r, status, code);
    } else {
        console_error(r, rc == OG_ENOTFOUND ? 403 : 503, rc == OG_ENOTFOUND ? "InvalidAccessKeyId" : og_strerror(rc));
    }
    return 1;
}

/* The account's quota in bytes from its record, or -1 when it has none (or no record). */
static int account_quota(cluster_t *cl, const char *account, int64_t *quota)
{
    core_account_t a;
    uint64_t v;
    *quota = -1;
    int rc = core_account_get(cl, account, &a);
    if (rc == OG_ENOTFOUND)
        return 0;
    if (rc != 0)
        return rc;
    og_str_t q = og_header_find(a.meta, a.num_meta, "x-account-meta-quota-bytes");
    if (q.base != NULL && og_parse_dec(q, 19, &v) == 0)
        *quota = (int64_t)v;
    core_account_free(&a);
    return 0;
}

static void api_usage(console_req_t *r)
{
    iam_user_t u;
    core_usage_t use;
    uint64_t nbuckets;
    int64_t quota;
    if (s3_caller(r, &u) != 0)
        return;
    int rc = core_usage_account(r->con->cluster, u.account, (uint64_t)time(NULL), &nbuckets, &use);
    if (rc == 0)
        rc = account_quota(r->con->cluster, u.account, &quota);
    if (rc != 0) {
        cluster_error(r, rc);
        return;
    }
    og_buf_t b = {0};
    og_buf_puts(&b, "{\"account\":");
    og_buf_json_str(&b, og_str(u.account));
    og_buf_printf(&b, ",\"buckets\":%" PRIu64 ",\"objects\":%" PRIu64 ",\"bytes\":%" PRIu64, nbuckets, use.objects,
                  use.bytes);
    if (quota >= 0)
        og_buf_printf(&b, ",\"quota_bytes\":%" PRId64 "}", quota);
    else
        og_buf_puts(&b, ",\"quota_bytes\":null}");
    send_json(r, &b);
}

/* Appends one device's status as a JSON object. */
static void dev_json(og_buf_t *b, const cluster_dev_status_t *d)
{
    og_buf_puts(b, "{\"name\":");
    og_buf_json_str(b, og_str(d->name));
    og_buf_puts(b, ",\"addr\":");
    og_buf_json_str(b, og_str(d->addr));
    og_buf_printf(b, ",\"zone\":%" PRIu32 ",\"weight\":%g,\"up\":%s,\"skipped\":%s,\"error\":", d->zone, d->weight,
                  d->up ? "true" : "false", d->skipped ? "true" : "false");
    og_buf_json_str(b, og_str(d->error));
    og_buf_puts(b, ",\"stat\":");
    /* The node's own JSON (signed node API, docs/node-api.md), passed on as it is. */
    if (d->stat != NULL && d->stat_len > 0)
        og_buf_put(b, d->stat, d->stat_len);
    else
        og_buf_puts(b, "null");
    og_buf_puts(b, "}");
}

static void api_cluster(console_req_t *r)
{
    iam_ident_t id;
    cluster_dev_status_t *devs;
    size_t n, up = 0;
    og_str_t token = http_req_header(r->http, "x-auth-token");
    if (token.base == NULL) {
        console_error(r, 401, "send the X-Auth-Token of a Swift reseller admin");
        return;
    }
    int rc = iam_token_check(r->con->iam, token, (uint64_t)time(NULL), &id);
    if (rc == OG_EINVAL || rc == OG_ENOTFOUND) {
        console_error(r, 401, "invalid or expired token");
        return;
    }
    if (rc == 0 && !(id.flags & IAM_SWIFT_RESELLER)) {
        console_error(r, 403, "only a reseller admin sees the cluster");
        return;
    }
    if (rc != 0 || (rc = cluster_devs_status(r->con->cluster, &devs, &n)) != 0) {
        cluster_error(r, rc);
        return;
    }
    og_buf_t b = {0};
    og_buf_printf(&b, "{\"ring_epoch\":%" PRIu64 ",\"devices\":[", cluster_ring_epoch(r->con->cluster));
    for (size_t i = 0; i < n; i++) {
        og_buf_puts(&b, i ? "," : "");
        dev_json(&b, &devs[i]);
        up += devs[i].up != 0;
    }
    og_buf_printf(&b, "],\"up\":%zu,\"total\":%zu}", up, n);
    cluster_devs_status_free(devs, n);
    send_json(r, &b);
}

void console_api(console_req_t *r, og_str_t name)
{
    static const struct {
        const char *name;
        void (*fn)(console_req_t *r);
    } eps[] = {{"config", api_config}, {"usage", api_usage}, {"cluster", api_cluster}};
    for (size_t i = 0; i < sizeof(eps) / sizeof(eps[0]); i++) {
        if (!og_str_eq(name, eps[i].name))
            continue;
        if (!og_str_eq(r->info->method, "GET") && !og_str_eq(r->info->method, "HEAD"))
            console_error(r, 405, "method not allowed");
        else if (r->info->content_length != 0)
            console_error(r, 400, "a request body is not accepted here");
        else
            eps[i].fn(r);
        return;
    }
    console_error(r, 404, "no such console endpoint");
}
