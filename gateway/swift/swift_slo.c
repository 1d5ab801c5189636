/*
 * Swift large objects (swift_int.h "large objects"): the HTTP side of the SLO manifest PUT and the
 * multipart-manifest DELETE, and the large-object readers' view of a request. Checking manifests,
 * storing and walking them, and reading SLOs and DLOs are core's (core_slo.c, core_dlo.c); this
 * file reads the body and words the answers as Swift's slo and bulk middlewares do.
 */
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <strings.h>

#include "swift_int.h"

static int wants_json(swift_req_t *r)
{
    og_str_t acc = http_req_header(r->http, "accept");
    return acc.len && memmem(acc.base, acc.len, "application/json", 16) != NULL;
}

/* A problem's reason as Swift words it: the status of the failed read or delete, or the text. */
static const char *problem_reason(const swift_req_t *r, const core_lo_problem_t *p)
{
    if (p->rc == 0)
        return p->why;
    switch (p->rc) {
    case -EACCES:
        return r->has_id ? "403 Forbidden" : "401 Unauthorized";
    case OG_ENOTFOUND:
        return "404 Not Found";
    case OG_EQUORUM:
    case OG_ETIMEOUT:
        return "503 Service Unavailable";
    default:
        return "500 Internal Error";
    }
}

/* The problems in both of Swift's formats: text lines "<quoted path>, <reason>\n" and the JSON
 * pairs ["<quoted path>", "<reason>"] separated by ", ". */
static void problems_render(const swift_req_t *r, const core_lo_problems_t *p, og_buf_t *text, og_buf_t *json)
{
    for (size_t i = 0; i < p->n; i++) {
        og_str_t path = core_lo_problem_path(p, i);
        const char *why = problem_reason(r, &p->v[i]);
        char *q = malloc(3 * path.len + 2);
        long n = q ? og_urlencode(path.base, path.len, q, 3 * path.len + 2, 1) : -ENOMEM;
        og_str_t qp = n >= 0 ? (og_str_t){q, (size_t)n} : path;
        og_buf_put(text, qp.base, qp.len);
        og_buf_printf(text, ", %s\n", why);
        og_buf_puts(json, i ? ", [" : "[");
        og_buf_json_str(json, qp);
        og_buf_puts(json, ", ");
        og_buf_json_str(json, og_str(why));
        og_buf_puts(json, "]");
        free(q);
    }
}

/* ---------------------------------------------------------------- SLO PUT */

/* Reads the whole request body (at most max bytes) into b. 0, OG_ETOOBIG or a read error. */
static int read_body(swift_req_t *r, size_t max, og_buf_t *b)
{
    char piece[64 << 10];
    for (;;) {
        ssize_t got = http_req_read(r->http, piece, sizeof(piece));
        if (got < 0)
            return (int)got;
        if (got == 0)
            return b->oom ? -ENOMEM : 0;
        if (b->len + (size_t)got > max)
            return OG_ETOOBIG;
        og_buf_put(b, piece, (size_t)got);
    }
}

int swift_slo_build(swift_req_t *r, core_slo_put_t *out)
{
    core_lo_t lo;
    og_buf_t body = {0};
    char hex[33];
    int rc;
    memset(out, 0, sizeof(*out));
    if (!r->info->chunked && (uint64_t)r->info->content_length > CORE_SLO_MAX_MANIFEST)
        return OG_ETOOBIG;
    if ((rc = read_body(r, CORE_SLO_MAX_MANIFEST, &body)) != 0)
        goto out_free;
    swift_lo(r, &lo);
    rc = core_slo_build(&lo, (og_str_t){body.buf, body.len}, r->container, (og_str_t){r->object, r->object_len},
                        out);
    if (rc != 0)
        goto out_free;
    og_str_t ce = http_req_header(r->http, "etag");
    if (ce.len >= 2 && ce.base[0] == '"' && ce.base[ce.len - 1] == '"')
        ce.base++, ce.len -= 2;
    og_hex(out->etag, 16, hex);
    if (ce.len && (ce.len != 32 || strncasecmp(ce.base, hex, 32) != 0))
        rc = OG_EBADDIGEST;
out_free:
    og_buf_free(&body);
    return rc;
}

/* The 400 listing the segments of a refused manifest, as text or JSON by Accept. */
static void send_segment_errors(swift_req_t *r, const core_lo_problems_t *p)
{
    og_buf_t text = {0}, json = {0}, out = {0};
    int as_json = wants_json(r);
    problems_render(r, p, &text, &json);
    if (as_json)
        og_buf_printf(&out, "{\"Errors\": [%.*s]}", (int)json.len, json.buf ? json.buf : "");
    else
        og_buf_printf(&out, "Errors:\n%.*s", (int)text.len, text.buf ? text.buf : "");
    swift_send(r, 400, NULL, 0, as_json ? "application/json" : "text/plain", out.buf, out.len);
    og_buf_free(&text);
    og_buf_free(&json);
    og_buf_free(&out);
}

void swift_slo_error(swift_req_t *r, int rc, const core_slo_put_t *put)
{
    char msg[80];
    int n;
    if (rc == OG_ETOOBIG && !r->info->chunked) { /* Content-Length over the limit: nothing read */
        n = snprintf(msg, sizeof(msg), "Manifest File > %d bytes", CORE_SLO_MAX_MANIFEST);
        swift_send(r, 413, NULL, 0, NULL, msg, (size_t)n);
        return;
    }
    if (rc != CORE_EMANIFEST) {
        swift_error_rc(r, rc);
        return;
    }
    switch (put->refused) {
    case CORE_SLO_NOT_JSON:
        swift_send(r, 400, NULL, 0, NULL, "Manifest must be valid JSON.\n", 29);
        break;
    case CORE_SLO_NOT_LIST:
        swift_send(r, 400, NULL, 0, NULL, "Manifest must be a list.\n", 25);
        break;
    case CORE_SLO_TOO_MANY:
        n = snprintf(msg, sizeof(msg), "Number of object-backed segments must be <= %d", CORE_SLO_MAX_SEGMENTS);
        swift_send(r, 413, NULL, 0, NULL, msg, (size_t)n);
        break;
    case CORE_SLO_BAD_ENTRIES:
        swift_send(r, 400, NULL, 0, "text/plain", put->entry_errs.buf, put->entry_errs.len);
        break;
    default:
        send_segment_errors(r, &put->problems);
        break;
    }
}

/* ---------------------------------------------------------------- SLO DELETE */

int swift_slo_delete(swift_req_t *r)
{
    core_lo_t lo;
    core_slo_del_t d;
    og_buf_t text = {0}, json = {0}, body = {0};
    int as_json = wants_json(r);
    swift_lo(r, &lo);
    int rc = core_slo_delete(&lo, r->container, (og_str_t){r->object, r->object_len}, &d);
    if (rc != 0)
        goto out_free;
    const char *status = d.problems.n ? "400 Bad Request" : "200 OK";
    problems_render(r, &d.problems, &text, &json);
    if (as_json)
        og_buf_printf(&body,
                      "{\"Response Status\": \"%s\", \"Response Body\": \"\", \"Number Deleted\": %" PRIu64
                      ", \"Number Not Found\": %" PRIu64 ", \"Errors\": [%.*s]}",
                      status, d.deleted, d.not_found, (int)json.len, json.buf ? json.buf : "");
    else
        og_buf_printf(&body,
                      "Number Deleted: %" PRIu64 "\nNumber Not Found: %" PRIu64
                      "\nResponse Body: \nResponse Status: %s\nErrors:\n%.*s",
                      d.deleted, d.not_found, status, (int)text.len, text.buf ? text.buf : "");
    if (body.oom)
        rc = -ENOMEM;
    else
        swift_send(r, 200, NULL, 0, as_json ? "application/json" : "text/plain", body.buf, body.len);
out_free:
    core_slo_del_free(&d);
    og_buf_free(&text);
    og_buf_free(&json);
    og_buf_free(&body);
    return rc;
}

/* ---------------------------------------------------------------- readers */

static int lo_access(void *ctx, const char *container, int mode, char id[CORE_BID_CAP])
{
    swift_req_t *r = ctx;
    int rc = swift_container_access(r, container,
                                    mode == CORE_LO_WRITE  ? IAM_ACL_WRITE
                                    : mode == CORE_LO_LIST ? IAM_ACL_LISTING
                                                           : IAM_ACL_READ,
                                    id);
    if (rc == 0 && mode != CORE_LO_WRITE && !r->public_grant)
        http_req_cache_private(r->http, 1); /* a segment not everyone may read: the answer is not public */
    return rc;
}

void swift_lo(swift_req_t *r, core_lo_t *out)
{
    *out = (core_lo_t){r->cl, r->now_s, lo_access, r};
}
