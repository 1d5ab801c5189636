/*
 * swift_cors.c: Swift's container CORS (swift/proxy/controllers/base.py: cors_validation and
 * OPTIONS, strict_cors_mode on, no operator-wide origins).
 *
 * A container's rule is its metadata X-Container-Meta-Access-Control-Allow-Origin (origins
 * separated by spaces, or "*"), -Max-Age and -Expose-Headers (names separated by spaces).
 *  - OPTIONS (no credentials needed): 200 with Allow; with an Origin (a preflight) to a container
 *    or object, 200 with Access-Control-Allow-Origin / -Methods / -Headers (the requested ones) /
 *    -Max-Age when the origin is allowed and Access-Control-Request-Method is a method of the
 *    resource, else 401.
 *  - Any other request with an allowed Origin to a container or object: its answer (errors too)
 *    carries Access-Control-Allow-Origin ("*" for a "*" rule, else the origin, with Vary: Origin)
 *    and Access-Control-Expose-Headers (the simple response headers, Etag, X-Timestamp,
 *    X-Trans-Id, X-Openstack-Request-Id, the answer's X-Container-Meta-* / X-Object-Meta-*, and
 *    the rule's names). A request from an origin the rule does not allow gets no CORS headers.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <strings.h>

#include "swift_int.h"

/* A copy of stored metadata `name` of b, or NULL when absent (*oom set when a copy failed). */
static char *meta_dup(const core_bucket_t *b, const char *name, int *oom)
{
    og_str_t v = og_header_find(b->meta, b->num_meta, name);
    char *s = v.base ? strndup(v.base, v.len) : NULL;
    *oom |= v.base != NULL && s == NULL;
    return s;
}

/* Is origin in the space-separated list allow (or is "*" in it)? */
static int origin_allowed(const char *allow, og_str_t origin)
{
    og_str_t rest = og_str(allow);
    while (rest.len > 0) {
        const char *sp = memchr(rest.base, ' ', rest.len);
        og_str_t el = {rest.base, sp ? (size_t)(sp - rest.base) : rest.len};
        rest = sp ? (og_str_t){sp + 1, rest.len - el.len - 1} : (og_str_t){NULL, 0};
        el = og_str_trim(el);
        if (el.len > 0 && (og_str_eq(el, "*") || (el.len == origin.len && memcmp(el.base, origin.base, el.len) == 0)))
            return 1;
    }
    return 0;
}

int swift_cors_load(swift_req_t *r)
{
    og_str_t origin = http_req_header(r->http, "origin");
    core_bucket_t b;
    int oom = 0;
    if (origin.len == 0 || !r->has_container)
        return 0;
    int rc = core_bucket_find(r->cl, r->account, r->container, &b);
    if (rc == OG_ENOTFOUND)
        return 0;
    if (rc != 0)
        return rc == OG_EPROTO ? OG_ECORRUPT : rc;
    if (strcmp(b.owner, r->account) == 0) {
        r->cors.allow_origin = meta_dup(&b, "x-container-meta-access-control-allow-origin", &oom);
        r->cors.expose = meta_dup(&b, "x-container-meta-access-control-expose-headers", &oom);
        r->cors.max_age = meta_dup(&b, "x-container-meta-access-control-max-age", &oom);
    }
    core_bucket_free(&b);
    r->cors.allowed = r->cors.allow_origin != NULL && origin_allowed(r->cors.allow_origin, origin);
    return oom ? -ENOMEM : 0;
}

/* Is the rule exactly "*" (then the answer says "*" rather than the origin)? */
static int allow_any(const swift_req_t *r)
{
    return og_str_eq(og_str_trim(og_str(r->cors.allow_origin)), "*");
}

/* Appends s lowercased. */
static void put_lower(og_buf_t *b, og_str_t s)
{
    for (size_t i = 0; i < s.len; i++) {
        char c = s.base[i] >= 'A' && s.base[i] <= 'Z' ? (char)(s.base[i] + 32) : s.base[i];
        og_buf_put(b, &c, 1);
    }
}

/* Appends the space-separated names of list to b, lowercased, each after ", ". */
static void put_names(og_buf_t *b, const char *list)
{
    og_str_t rest = og_str(list);
    while (rest.len > 0) {
        const char *sp = memchr(rest.base, ' ', rest.len);
        og_str_t el = og_str_trim((og_str_t){rest.base, sp ? (size_t)(sp - rest.base) : rest.len});
        rest = sp ? (og_str_t){sp + 1, rest.len - (size_t)(sp + 1 - rest.base)} : (og_str_t){NULL, 0};
        if (el.len == 0)
            continue;
        og_buf_puts(b, ", ");
        put_lower(b, el);
    }
}

size_t swift_cors_headers(swift_req_t *r, og_header_t *h, size_t n)
{
    og_buf_t b = {0};
    og_str_t origin = http_req_header(r->http, "origin"), vary = {NULL, 0};
    size_t expose_end = 0, vary_at = SIZE_MAX; /* no Vary yet */
    int has_expose = og_header_find(h, n, "access-control-expose-headers").base != NULL,
        has_allow = og_header_find(h, n, "access-control-allow-origin").base != NULL;
    if (!has_expose) {
        og_buf_puts(&b, "cache-control, content-language, content-type, expires, last-modified, pragma, etag, "
                        "x-timestamp, x-trans-id, x-openstack-request-id");
        for (size_t i = 0; i < n; i++)
            if ((h[i].name.len > 16 && strncmp(h[i].name.base, "X-Container-Meta", 16) == 0) ||
                (h[i].name.len > 13 && strncmp(h[i].name.base, "X-Object-Meta", 13) == 0)) {
                og_buf_puts(&b, ", ");
                put_lower(&b, h[i].name);
            }
        if (r->cors.expose)
            put_names(&b, r->cors.expose);
        expose_end = b.len;
    }
    if (!has_allow && !allow_any(r)) {
        for (size_t i = 0; i < n; i++)
            if (og_str_ieq(h[i].name, "vary"))
                vary = h[i].value, vary_at = i;
        if (vary.base)
            og_buf_put(&b, vary.base, vary.len), og_buf_puts(&b, ", ");
        og_buf_puts(&b, "Origin");
    }
    free(r->final[1]); /* an earlier attempt's (an error answer after a failed start) */
    r->final[1] = b.buf;
    if (b.oom)
        return n;
    if (!has_expose)
        h[n++] = (og_header_t){OG_STR_LIT("Access-Control-Expose-Headers"), {b.buf, expose_end}};
    if (!has_allow && allow_any(r)) {
        h[n++] = (og_header_t){OG_STR_LIT("Access-Control-Allow-Origin"), OG_STR_LIT("*")};
    } else if (!has_allow) {
        h[n++] = (og_header_t){OG_STR_LIT("Access-Control-Allow-Origin"), origin};
        og_header_t v = {OG_STR_LIT("Vary"), {b.buf + expose_end, b.len - expose_end}};
        if (vary_at != SIZE_MAX)
            h[vary_at] = v;
        else
            h[n++] = v;
    }
    return n;
}

/* ---------------------------------------------------------------- OPTIONS */

/* Appends the requested headers (comma-separated), trimmed, without repeats, joined by ", ". */
static void put_requested(og_buf_t *b, og_str_t req)
{
    size_t start = b->len;
    while (req.len > 0) {
        const char *comma = memchr(req.base, ',', req.len);
        og_str_t el = og_str_trim((og_str_t){req.base, comma ? (size_t)(comma - req.base) : req.len});
        req = comma ? (og_str_t){comma + 1, req.len - (size_t)(comma + 1 - req.base)} : (og_str_t){NULL, 0};
        if (el.len == 0 || (b->buf && memmem(b->buf + start, b->len - start, el.base, el.len)))
            continue;
        if (b->len > start)
            og_buf_puts(b, ", ");
        og_buf_put(b, el.base, el.len);
    }
}

void swift_options(swift_req_t *r)
{
    static const char methods[] = "GET, HEAD, PUT, POST, DELETE, OPTIONS";
    og_str_t origin = http_req_header(r->http, "origin"), want = http_req_header(r->http, "access-control-request-method");
    og_str_t allow = r->object ? OG_STR_LIT("GET, HEAD, PUT, POST, DELETE, OPTIONS, COPY") : OG_STR_LIT(methods);
    og_header_t h[8];
    og_buf_t b = {0};
    size_t k = 0;
    int rc;
    if (!r->has_container)
        allow = OG_STR_LIT("GET, HEAD, POST, OPTIONS");
    h[k++] = (og_header_t){OG_STR_LIT("Allow"), allow};
    if (origin.len == 0 || !r->has_container) {
        swift_send(r, 200, h, k, NULL, NULL, 0);
        return;
    }
    if ((rc = swift_cors_load(r)) != 0) {
        swift_error_rc(r, rc);
        return;
    }
    int method_ok = og_str_eq(want, "GET") || og_str_eq(want, "HEAD") || og_str_eq(want, "PUT") ||
                    og_str_eq(want, "POST") || og_str_eq(want, "DELETE") || og_str_eq(want, "OPTIONS");
    if (!r->cors.allowed || !method_ok) {
        h[0].value = OG_STR_LIT(methods); /* Swift's copy middleware adds COPY to successes only */
        r->cors.allowed = 0;
        swift_send(r, 401, h, k, NULL, NULL, 0);
        return;
    }
    r->cors.allowed = 0; /* a preflight's answer carries its own Access-Control-* headers */
    og_str_t req_hdrs = http_req_header(r->http, "access-control-request-headers");
    put_requested(&b, req_hdrs);
    int any = allow_any(r), has_req = b.len > 0;
    h[k++] = (og_header_t){OG_STR_LIT("Access-Control-Allow-Origin"), any ? OG_STR_LIT("*") : origin};
    if (!any || has_req)
        h[k++] = (og_header_t){OG_STR_LIT("Vary"), !any && has_req ? OG_STR_LIT("Origin, Access-Control-Request-Headers")
                                                   : has_req          ? OG_STR_LIT("Access-Control-Request-Headers")
                                                                      : OG_STR_LIT("Origin")};
    if (r->cors.max_age)
        h[k++] = (og_header_t){OG_STR_LIT("Access-Control-Max-Age"), og_str(r->cors.max_age)};
    h[k++] = (og_header_t){OG_STR_LIT("Access-Control-Allow-Methods"), allow};
    if (has_req)
        h[k++] = (og_header_t){OG_STR_LIT("Access-Control-Allow-Headers"), {b.buf, b.len}};
    if (b.oom)
        swift_error_rc(r, -ENOMEM);
    else
        swift_send(r, 200, h, k, "", NULL, 0);
    og_buf_free(&b);
}
