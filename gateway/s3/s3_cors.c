/*
 * s3_cors.c: S3 bucket CORS. Put/Get/DeleteBucketCors (`?cors`), the preflight `OPTIONS` on a
 * bucket or object, and the Access-Control-* headers on actual requests that carry an Origin.
 *
 * The configuration is kept compact in the bucket record's metadata (S3CORS_HEADER): one rule per
 * line, its fields separated by tabs: allowed origins, allowed methods, allowed headers, expose
 * headers (each a comma-separated list), MaxAgeSeconds ("" when absent) and ID. A value holding a
 * comma, tab or newline is refused (MalformedXML) so the form never misparses; no origin, method
 * or header name holds one. Rules are tried in order and the first that matches answers, as S3.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <strings.h>

#include <libxml/parser.h>
#include <libxml/tree.h>

#include "s3_int.h"
#include "s3_xml.h"

#define S3CORS_HEADER "x-onggi-s3-cors"
#define CORS_BODY_MAX (64u << 10)
#define CORS_RULES_MAX 100
enum { F_ORIGIN, F_METHOD, F_HEADER, F_EXPOSE, F_MAXAGE, F_ID, F_COUNT };

static const char *const rule_elems[F_COUNT] = {"AllowedOrigin", "AllowedMethod", "AllowedHeader",
                                                 "ExposeHeader",  "MaxAgeSeconds", "ID"};

/* The next `sep`-separated piece of *s, advancing it (the last piece runs to the end). */
static og_str_t next_piece(og_str_t *s, char sep)
{
    const char *p = s->len ? memchr(s->base, sep, s->len) : NULL;
    og_str_t out = {s->base, p ? (size_t)(p - s->base) : s->len};
    s->base += out.len + (p ? 1 : 0);
    s->len -= out.len + (p ? 1 : 0);
    return out;
}

/* ---------------------------------------------------------------- PUT ?cors */

/* S3_ECORSRULE, with why (cap bytes) saying why as S3 does. */
static int refuse(char *why, size_t cap, const char *fmt, const char *v)
{
    snprintf(why, cap, fmt, v);
    return S3_ECORSRULE;
}

/* Appends one CORSRule in the compact form. 0, S3_EMALFORMED, or S3_ECORSRULE with *why. */
static int rule_encode(const xmlNode *rule, og_buf_t *out, char *why, size_t cap)
{
    og_buf_t f[F_COUNT] = {{0}};
    int rc = 0;
    for (const xmlNode *c = rule->children; c != NULL && rc == 0; c = c->next) {
        if (c->type != XML_ELEMENT_NODE)
            continue;
        size_t i = 0;
        while (i < F_COUNT && strcmp((const char *)c->name, rule_elems[i]) != 0)
            i++;
        xmlChar *t = xmlNodeGetContent(c);
        const char *v = t ? (const char *)t : "";
        if (i == F_COUNT || strpbrk(v, ",\t\n") != NULL || ((i == F_MAXAGE || i == F_ID) && f[i].len > 0))
            rc = S3_EMALFORMED;
        else if (i == F_METHOD && strcmp(v, "GET") && strcmp(v, "PUT") && strcmp(v, "HEAD") && strcmp(v, "POST") &&
                 strcmp(v, "DELETE"))
            rc = refuse(why, cap, "Found unsupported HTTP method in CORS config. Unsupported method is %s", v);
        else if (i == F_ORIGIN && strchr(v, '*') != NULL && strchr(v, '*') != strrchr(v, '*'))
            rc = refuse(why, cap, "AllowedOrigin \"%s\" can not have more than one wildcard.", v);
        else if (i == F_MAXAGE && (v[0] == '\0' || strspn(v, "0123456789") != strlen(v)))
            rc = S3_EMALFORMED;
        else
            og_buf_printf(&f[i], "%s%s", f[i].len > 0 ? "," : "", v);
        xmlFree(t);
    }
    if (rc == 0 && (f[F_ORIGIN].len == 0 || f[F_METHOD].len == 0))
        rc = S3_EMALFORMED;
    for (size_t i = 0; i < F_COUNT; i++) {
        if (rc == 0) {
            og_buf_put(out, i == 0 ? (out->len > 0 ? "\n" : "") : "\t", i == 0 ? (out->len > 0) : 1);
            og_buf_put(out, f[i].buf ? f[i].buf : "", f[i].len);
        }
        og_buf_free(&f[i]);
    }
    return rc != 0 ? rc : out->oom ? -ENOMEM : 0;
}

/* A CORSConfiguration body into its compact form. */
static int cors_parse(const char *xml, size_t len, og_buf_t *out, char *why, size_t cap)
{
    xmlDocPtr doc = s3_xml_read(xml, len);
    const xmlNode *root = doc ? xmlDocGetRootElement(doc) : NULL;
    size_t n = 0;
    int rc = root && strcmp((const char *)root->name, "CORSConfiguration") == 0 ? 0 : S3_EMALFORMED;
    for (const xmlNode *c = root ? root->children : NULL; c != NULL && rc == 0; c = c->next) {
        if (c->type != XML_ELEMENT_NODE)
            continue;
        if (strcmp((const char *)c->name, "CORSRule") != 0 || ++n > CORS_RULES_MAX)
            rc = S3_EMALFORMED;
        else
            rc = rule_encode(c, out, why, cap);
    }
    if (rc == 0 && n == 0)
        rc = S3_EMALFORMED;
    if (doc != NULL)
        xmlFreeDoc(doc);
    return rc;
}

static void put_cors(s3_req_t *r, const core_bucket_t *b)
{
    char *body = NULL, why[200] = "";
    size_t len = 0;
    og_buf_t cfg = {0};
    int rc = s3_read_body(r, CORS_BODY_MAX, &body, &len);
    if (rc == 0)
        rc = s3_payload_verify(r, body, len);
    if (rc == 0)
        rc = cors_parse(body, len, &cfg, why, sizeof(why));
    if (rc == 0)
        rc = s3_bucket_meta_set(r, b, S3CORS_HEADER, (og_str_t){cfg.buf, cfg.len});
    if (rc == S3_ECORSRULE)
        s3_error(r, 400, "InvalidRequest", why, NULL);
    else if (rc == S3_EMALFORMED || rc == OG_ETOOBIG)
        s3_error(r, 400, "MalformedXML", NULL, NULL);
    else if (rc != 0)
        s3_error_on(r, rc, S3_ON_BODY);
    else
        s3_send(r, 200, NULL, 0, NULL, 0);
    og_buf_free(&cfg);
    free(body);
}

/* ---------------------------------------------------------------- GET ?cors */

static void get_cors(s3_req_t *r, og_str_t cfg)
{
    og_buf_t b = {0};
    og_buf_puts(&b, "<CORSConfiguration xmlns=\"http://s3.amazonaws.com/doc/2006-03-01/\">");
    while (cfg.len > 0) {
        og_str_t rule = next_piece(&cfg, '\n');
        og_buf_puts(&b, "<CORSRule>");
        for (size_t i = 0; i < F_COUNT; i++) {
            og_str_t field = next_piece(&rule, '\t');
            while (field.len > 0) {
                og_str_t v = next_piece(&field, ',');
                og_buf_printf(&b, "<%s>", rule_elems[i]);
                og_buf_escape(&b, v.base, v.len);
                og_buf_printf(&b, "</%s>", rule_elems[i]);
            }
        }
        og_buf_puts(&b, "</CORSRule>");
    }
    og_buf_puts(&b, "</CORSConfiguration>");
    if (b.oom)
        s3_error_rc(r, -ENOMEM);
    else
        s3_send_xml(r, 200, NULL, 0, b.buf, b.len);
    og_buf_free(&b);
}

void s3_bucket_cors(s3_req_t *r)
{
    core_bucket_t b;
    og_str_t m = r->info->method, cfg;
    if (!og_str_eq(m, "GET") && !og_str_eq(m, "PUT") && !og_str_eq(m, "DELETE")) {
        s3_error(r, 405, "MethodNotAllowed", NULL, NULL);
        return;
    }
    if (!s3_bucket_sub_open(r, S3CORS_HEADER, &b, &cfg))
        return;
    if (og_str_eq(m, "PUT"))
        put_cors(r, &b);
    else if (cfg.base == NULL)
        s3_error(r, 404, "NoSuchCORSConfiguration", "The CORS configuration does not exist", NULL);
    else
        get_cors(r, cfg);
    core_bucket_free(&b);
}

/* ---------------------------------------------------------------- matching */

/* Does one of list's comma-separated patterns match s? */
static int list_match(og_str_t list, og_str_t s, int icase)
{
    char pat[256], str[256];
    if (s.len >= sizeof(str))
        return 0;
    snprintf(str, sizeof(str), "%.*s", (int)s.len, s.base);
    while (list.len > 0) {
        og_str_t p = next_piece(&list, ',');
        snprintf(pat, sizeof(pat), "%.*s", (int)p.len, p.base);
        if (iam_wild(pat, str, icase))
            return 1;
    }
    return 0;
}

/* Are all of the comma-separated request headers allowed by rule field `allowed`? */
static int headers_allowed(og_str_t allowed, og_str_t requested)
{
    while (requested.len > 0) {
        og_str_t h = og_str_trim(next_piece(&requested, ','));
        if (h.len > 0 && !list_match(allowed, h, 1))
            return 0;
    }
    return 1;
}

/* The first rule of cfg matching origin, method and requested headers, as its F_COUNT fields. */
static int rule_find(og_str_t cfg, og_str_t origin, og_str_t method, og_str_t req_headers, og_str_t f[F_COUNT])
{
    while (cfg.len > 0) {
        og_str_t rule = next_piece(&cfg, '\n');
        for (size_t i = 0; i < F_COUNT; i++)
            f[i] = next_piece(&rule, '\t');
        if (list_match(f[F_ORIGIN], origin, 0) && list_match(f[F_METHOD], method, 0) &&
            headers_allowed(f[F_HEADER], req_headers))
            return 1;
    }
    return 0;
}

/* The bucket's CORS configuration into *b (core_bucket_free) and *cfg. 0 or a lookup error. */
static int load_cfg(s3_req_t *r, core_bucket_t *b, og_str_t *cfg)
{
    int rc = s3_bucket_load(r, b);
    if (rc == 0)
        *cfg = og_header_find(b->meta, b->num_meta, S3CORS_HEADER);
    return rc;
}

/* Fills r->cors with the response headers of matching rule f for origin. */
static void set_cors(s3_req_t *r, const og_str_t f[F_COUNT], og_str_t origin, int preflight)
{
    size_t n = 0;
    char *p = r->cors_buf, *end = r->cors_buf + sizeof(r->cors_buf);
    /* one "*" origin answers "*", as S3; any other the request's origin */
    og_str_t allow = og_str_eq(f[F_ORIGIN], "*") ? OG_STR_LIT("*") : origin;
    og_str_t vals[4] = {allow, f[F_METHOD], preflight ? f[F_MAXAGE] : f[F_EXPOSE], OG_STR_LIT("Origin")};
    const char *names[4] = {"Access-Control-Allow-Origin", "Access-Control-Allow-Methods",
                            preflight ? "Access-Control-Max-Age" : "Access-Control-Expose-Headers", "Vary"};
    for (size_t i = 0; i < 4; i++) {
        if (vals[i].len == 0 || vals[i].len > (size_t)(end - p))
            continue;
        memcpy(p, vals[i].base, vals[i].len);
        r->cors[n++] = (og_header_t){og_str(names[i]), {p, vals[i].len}};
        p += vals[i].len;
    }
    r->num_cors = n;
}

void s3_cors_actual(s3_req_t *r)
{
    core_bucket_t b;
    og_str_t cfg = {NULL, 0}, f[F_COUNT], origin = http_req_header(r->http, "origin");
    if (origin.base == NULL || r->bucket[0] == '\0' || load_cfg(r, &b, &cfg) != 0)
        return;
    if (cfg.base != NULL && rule_find(cfg, origin, r->info->method, (og_str_t){NULL, 0}, f))
        set_cors(r, f, origin, 0);
    core_bucket_free(&b);
}

void s3_cors_preflight(s3_req_t *r)
{
    core_bucket_t b;
    og_str_t cfg = {NULL, 0}, f[F_COUNT], origin = http_req_header(r->http, "origin");
    og_str_t method = http_req_header(r->http, "access-control-request-method");
    og_str_t req_headers = http_req_header(r->http, "access-control-request-headers");
    int rc;
    if (origin.base == NULL || method.base == NULL) {
        s3_error(r, 400, "BadRequest", "Insufficient information. Origin request header needed.", NULL);
        return;
    }
    if ((rc = load_cfg(r, &b, &cfg)) != 0) {
        s3_error_on(r, rc, S3_ON_BUCKET);
        return;
    }
    if (cfg.base == NULL || !rule_find(cfg, origin, method, req_headers, f)) {
        s3_error(r, 403, "AccessForbidden", "CORSResponse: This CORS request is not allowed. This is usually because "
                 "the evalution of Origin, request method / Access-Control-Request-Method or "
                 "Access-Control-Request-Headers are not whitelisted by the resource's CORS spec.", NULL);
    } else {
        set_cors(r, f, origin, 1);
        og_header_t h = {OG_STR_LIT("Access-Control-Allow-Headers"), req_headers};
        s3_send(r, 200, &h, req_headers.len > 0, NULL, 0);
    }
    core_bucket_free(&b);
}
