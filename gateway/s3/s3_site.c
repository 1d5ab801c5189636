/*
 * The S3 website endpoint, as AWS documents it (docs/s3-compat.md "Website endpoint"): a request
 * whose Host is "<bucket>.<--website-domain>", or a custom domain (a Host outside the S3 and
 * website domains that equals the name of a bucket with a website configuration: AWS's CNAME
 * rule), is served from the bucket's WebsiteConfiguration (s3_website.c stores it):
 *  - GET and HEAD only (else 405), always anonymous: credentials are ignored, and an object is
 *    served only when the ACLs or the bucket policy let anyone read it (else 403);
 *  - RedirectAllRequestsTo answers every request 301 to the same path on its host;
 *  - "" and ".../" serve ".../<IndexDocument Suffix>"; a missing "dir" whose "dir/<Suffix>"
 *    exists answers 302 to "/dir/";
 *  - RoutingRules: the first rule whose condition holds (KeyPrefixEquals on the key asked for,
 *    HttpErrorCodeReturnedEquals on the error it got) answers its Redirect;
 *  - an object stored with x-amz-website-redirect-location answers 301 to it;
 *  - a 403 or 404 serves the ErrorDocument (whole) with that status; every other error, or one
 *    whose ErrorDocument cannot be read, is an HTML page in AWS's website error format.
 * Answers are shareable by caches (nothing private is ever served). Serving reuses the REST
 * GetObject (s3_get_object) with r->site set: s3_error then comes here, so every error of the
 * object path is answered the website way.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include <libxml/tree.h>

#include "s3_int.h"
#include "s3_xml.h"

struct s3_site {
    xmlDocPtr doc; /* the bucket's WebsiteConfiguration (stored form) */
    xmlNode *root;
    http_reqinfo_t info; /* r's request without its query: a website ignores ?versionId and the like */
    char *asked;         /* the key the path names (before the index document), NUL-terminated */
    size_t asked_len;
    int status;           /* serving the ErrorDocument: the error's status, else 0 */
    int in_error;         /* an error is being answered: further errors are only noted */
    const char *doc_code; /* the error the ErrorDocument got, if any */
    char doc_msg[160];
};

int s3_redirect_ok(og_str_t v)
{
    return (v.len >= 1 && v.base[0] == '/') || (v.len >= 7 && strncasecmp(v.base, "http://", 7) == 0) ||
           (v.len >= 8 && strncasecmp(v.base, "https://", 8) == 0);
}

static int is(const xmlNode *n, const char *name)
{
    return n != NULL && n->type == XML_ELEMENT_NODE && xmlStrcmp(n->name, (const xmlChar *)name) == 0;
}

static xmlNode *child(const xmlNode *e, const char *name)
{
    for (xmlNode *c = e ? e->children : NULL; c; c = c->next)
        if (is(c, name))
            return c;
    return NULL;
}

/* The text of e's child `name` (xmlFree it), NULL when absent. */
static char *text(const xmlNode *e, const char *name)
{
    xmlNode *c = child(e, name);
    return c ? (char *)xmlNodeGetContent(c) : NULL;
}

/* ---------------------------------------------------------------- which requests */

/* Is host (no port) an IP address literal? Those name the gateway itself, never a bucket. */
static int is_ip(og_str_t host)
{
    if (host.len > 0 && host.base[0] == '[')
        return 1;
    for (size_t i = 0; i < host.len; i++)
        if ((host.base[i] < '0' || host.base[i] > '9') && host.base[i] != '.')
            return 0;
    return 1;
}

/* Is host d itself or under d ("x.d")? */
static int under(og_str_t host, const char *d)
{
    size_t dl = d ? strlen(d) : 0;
    if (dl == 0 || host.len < dl || strncasecmp(host.base + host.len - dl, d, dl) != 0)
        return 0;
    return host.len == dl || host.base[host.len - dl - 1] == '.';
}

/* Does bucket name (lowercase) exist with a website configuration? */
static int has_site(s3_ctx_t *gw, const char *name)
{
    core_bucket_t b;
    if (core_bucket_get(gw->cluster, name, &b) != 0)
        return 0;
    int yes = og_header_find(b.meta, b.num_meta, S3_WEBSITE_META).base != NULL;
    core_bucket_free(&b);
    return yes;
}

/* Only with a website domain. A custom domain costs one bucket lookup (cached when the bucket
 * exists), only for a Host with a dot that is neither an IP address nor the S3 or website domain
 * or under them (docs/operations.md: set --domain to the gateway's own name). */
int s3_website_wants(s3_ctx_t *gw, const http_req_t *http)
{
    og_str_t host = http_host_without_port(http_req_header(http, "host"));
    const char *wd = gw->website_domain;
    size_t wl = wd ? strlen(wd) : 0;
    char name[64];
    if (wl == 0) /* custom domains come with the website endpoint */
        return 0;
    if (host.len > wl + 1 && under(host, wd))
        return 1;
    if (host.len == 0 || host.len >= sizeof(name) || memchr(host.base, '.', host.len) == NULL || is_ip(host) ||
        under(host, gw->domain) || under(host, wd))
        return 0;
    for (size_t i = 0; i < host.len; i++)
        name[i] = (char)(host.base[i] >= 'A' && host.base[i] <= 'Z' ? host.base[i] + 32 : host.base[i]);
    name[host.len] = '\0';
    return has_site(gw, name);
}

og_str_t s3_site_bucket(const s3_req_t *r)
{
    og_str_t host = http_host_without_port(http_req_header(r->http, "host"));
    const char *wd = r->gw->website_domain;
    size_t wl = wd ? strlen(wd) : 0;
    if (host.len > wl + 1 && under(host, wd))
        host.len -= wl + 1;
    return host;
}

/* ---------------------------------------------------------------- answers */

/* Appends <li>label: value</li> (value HTML-escaped). */
static void li(og_buf_t *b, const char *label, const char *v, size_t len)
{
    og_buf_printf(b, "<li>%s: ", label);
    og_buf_escape(b, v, len);
    og_buf_puts(b, "</li>\n");
}

/* Answers an HTML error page in AWS's website format; with r->site->doc_code, the ErrorDocument's
 * own failure follows, as AWS shows it. */
static void error_page(s3_req_t *r, int status, const char *code, const char *message)
{
    const og_header_t h[3] = {{OG_STR_LIT("Content-Type"), OG_STR_LIT("text/html; charset=utf-8")},
                              {OG_STR_LIT("x-amz-error-code"), og_str(code)},
                              {OG_STR_LIT("x-amz-error-message"), og_str(message)}};
    const s3_site_t *s = r->site;
    og_buf_t b = {0};
    const char *reason = http_status_reason(status);
    og_buf_printf(&b, "<html>\n<head><title>%d %s</title></head>\n<body>\n<h1>%d %s</h1>\n<ul>\n", status, reason,
                  status, reason);
    li(&b, "Code", code, strlen(code));
    li(&b, "Message", message, strlen(message));
    if (strcmp(code, "NoSuchBucket") == 0 || strcmp(code, "NoSuchWebsiteConfiguration") == 0)
        li(&b, "BucketName", r->bucket, strlen(r->bucket));
    else if (r->key != NULL && og_utf8_valid(r->key, r->key_len, 0))
        li(&b, "Key", r->key, r->key_len);
    li(&b, "RequestId", r->request_id, strlen(r->request_id));
    li(&b, "HostId", r->request_id, strlen(r->request_id));
    og_buf_puts(&b, "</ul>\n");
    if (s != NULL && s->doc_code != NULL) {
        og_buf_puts(&b, "<h3>An Error Occurred While Attempting to Retrieve a Custom Error Document</h3>\n<ul>\n");
        li(&b, "Code", s->doc_code, strlen(s->doc_code));
        li(&b, "Message", s->doc_msg, strlen(s->doc_msg));
        og_buf_puts(&b, "</ul>\n");
    }
    og_buf_puts(&b, "<hr/>\n</body>\n</html>\n");
    if (b.oom)
        s3_send(r, 500, NULL, 0, NULL, 0);
    else
        s3_send(r, status, h, 3, b.buf, b.len);
    og_buf_free(&b);
}

/* Answers `code` (301, 302 ...) with Location "<proto>://<host>/<key, percent-encoded>". */
static void redirect_to(s3_req_t *r, int code, og_str_t proto, og_str_t host, og_str_t key)
{
    og_buf_t loc = {0};
    char *enc = malloc(key.len * 3 + 1);
    if (enc != NULL && og_urlencode(key.base ? key.base : "", key.len, enc, key.len * 3 + 1, 1) >= 0)
        og_buf_printf(&loc, "%.*s://%.*s/%s", (int)proto.len, proto.base, (int)host.len, host.base, enc);
    if (enc == NULL || loc.oom || loc.len == 0) {
        error_page(r, 500, "InternalError", "We encountered an internal error. Please try again.");
    } else {
        og_header_t h = {OG_STR_LIT("Location"), {loc.buf, loc.len}};
        s3_send(r, code, &h, 1, NULL, 0);
    }
    free(enc);
    og_buf_free(&loc);
}

/* The request's own scheme. */
static og_str_t own_proto(const s3_req_t *r)
{
    return r->info->tls ? OG_STR_LIT("https") : OG_STR_LIT("http");
}

/* Answers a rule's <Redirect> (or RedirectAllRequestsTo) e for the key asked, whose matched
 * KeyPrefixEquals is prefix_len bytes long: the key is ReplaceKeyWith, or the asked key with
 * that prefix replaced by ReplaceKeyPrefixWith, or the asked key. */
static void redirect_rule(s3_req_t *r, const xmlNode *e, size_t prefix_len)
{
    char *proto = text(e, "Protocol"), *host = text(e, "HostName"), *code = text(e, "HttpRedirectCode");
    char *with = text(e, "ReplaceKeyWith"), *pre = text(e, "ReplaceKeyPrefixWith");
    og_str_t h = host && host[0] ? og_str(host) : http_req_header(r->http, "host");
    og_str_t asked = {r->site->asked, r->site->asked_len};
    og_buf_t key = {0};
    if (with != NULL) {
        og_buf_puts(&key, with);
    } else if (pre != NULL) {
        og_buf_puts(&key, pre);
        og_buf_put(&key, asked.base + prefix_len, asked.len - prefix_len);
    } else {
        og_buf_put(&key, asked.base, asked.len);
    }
    if (key.oom)
        error_page(r, 500, "InternalError", "We encountered an internal error. Please try again.");
    else
        redirect_to(r, code ? atoi(code) : 301, proto ? og_str(proto) : own_proto(r), h, (og_str_t){key.buf, key.len});
    og_buf_free(&key);
    xmlFree(proto), xmlFree(host), xmlFree(code), xmlFree(with), xmlFree(pre);
}

/* The first RoutingRule whose Condition holds for the key asked and the error status (0: before
 * any error, when only rules without HttpErrorCodeReturnedEquals apply): its Redirect (with the
 * length of the KeyPrefixEquals it matched), or NULL. */
static xmlNode *rule_for(const s3_site_t *s, int status, size_t *prefix_len)
{
    for (xmlNode *rule = child(child(s->root, "RoutingRules"), "RoutingRule"); rule; rule = rule->next) {
        if (!is(rule, "RoutingRule"))
            continue;
        xmlNode *cond = child(rule, "Condition");
        char *kp = text(cond, "KeyPrefixEquals"), *ec = text(cond, "HttpErrorCodeReturnedEquals");
        int ok = ec == NULL ? status == 0 : status != 0 && atoi(ec) == status;
        if (kp != NULL)
            ok = ok && strncmp(s->asked, kp, strlen(kp)) == 0;
        *prefix_len = kp ? strlen(kp) : 0;
        xmlFree(kp), xmlFree(ec);
        if (ok)
            return child(rule, "Redirect");
    }
    return NULL;
}

/* Makes a + b r's key (the old one freed). 0 or -ENOMEM. */
static int set_key(s3_req_t *r, og_str_t a, const char *b)
{
    size_t bl = strlen(b);
    char *k = malloc(a.len + bl + 1);
    if (k == NULL)
        return -ENOMEM;
    if (a.len > 0)
        memcpy(k, a.base, a.len);
    memcpy(k + a.len, b, bl + 1);
    free(r->key);
    r->key = k, r->key_len = a.len + bl;
    return 0;
}

/* ---------------------------------------------------------------- errors */

/* A missing "dir" whose "dir/<Suffix>" anyone may read: 302 to "/dir/" (answered: 1), else 0. */
static int dir_redirect(s3_req_t *r)
{
    s3_site_t *s = r->site;
    char *suffix = text(child(s->root, "IndexDocument"), "Suffix");
    int done = 0;
    if (suffix != NULL && s->asked_len > 0 && s->asked[s->asked_len - 1] != '/') {
        og_buf_t k = {0}, loc = {0};
        og_buf_printf(&k, "%s/%s", s->asked, suffix);
        char *enc = malloc(s->asked_len * 3 + 1);
        char bid[CORE_BID_CAP];
        if (!k.oom && enc != NULL && s3_may_read(r, r->tenant, r->bucket, (og_str_t){k.buf, k.len}, bid) == 0 &&
            og_urlencode(s->asked, s->asked_len, enc, s->asked_len * 3 + 1, 1) >= 0 &&
            og_buf_printf(&loc, "/%s/", enc) == 0 && !loc.oom) {
            og_header_t h = {OG_STR_LIT("Location"), {loc.buf, loc.len}};
            s3_send(r, 302, &h, 1, NULL, 0);
            done = 1;
        }
        free(enc);
        og_buf_free(&k);
        og_buf_free(&loc);
    }
    xmlFree(suffix);
    return done;
}

/* Serves the ErrorDocument (key doc) with status: 1 when answered, else 0 with s->doc_code saying
 * why it could not be (the caller shows the original error). */
static int error_document(s3_req_t *r, const char *doc, int status)
{
    s3_site_t *s = r->site;
    char *orig = r->key;
    size_t orig_len = r->key_len;
    r->key = NULL;
    if (set_key(r, (og_str_t){NULL, 0}, doc) != 0) {
        r->key = orig;
        return 0;
    }
    int rc = s3_authorize(r);
    s->status = status;
    if (rc != 0)
        s3_error_on(r, rc, S3_ON_TARGET); /* only noted: s->in_error */
    else
        s3_get_object(r);
    s->status = 0;
    free(r->key);
    r->key = orig, r->key_len = orig_len;
    return r->responded;
}

void s3_site_error(s3_req_t *r, int status, const char *code, const char *message)
{
    s3_site_t *s = r->site;
    size_t prefix;
    xmlNode *redir;
    if (s->in_error) { /* the ErrorDocument's own failure */
        s->doc_code = code;
        snprintf(s->doc_msg, sizeof(s->doc_msg), "%s", message);
        return;
    }
    s->in_error = 1;
    if (s->root == NULL || (status != 404 && status != 403)) {
        error_page(r, status, code, message);
        return;
    }
    if (dir_redirect(r))
        return;
    if ((redir = rule_for(s, status, &prefix)) != NULL) {
        redirect_rule(r, redir, prefix);
        return;
    }
    char *doc = text(child(s->root, "ErrorDocument"), "Key");
    if (doc == NULL || !error_document(r, doc, status))
        error_page(r, status, code, message);
    xmlFree(doc);
}

int s3_site_status(const s3_req_t *r, int status)
{
    return r->site != NULL && r->site->status != 0 && status == 200 ? r->site->status : status;
}

int s3_site_object_redirect(s3_req_t *r, const core_meta_t *m)
{
    og_str_t loc = og_header_find(m->headers, m->num_headers, S3_REDIRECT_HDR);
    if (r->site == NULL || r->site->status != 0 || loc.base == NULL)
        return 0;
    og_header_t h = {OG_STR_LIT("Location"), loc};
    s3_send(r, 301, &h, 1, NULL, 0);
    return 1;
}

/* ---------------------------------------------------------------- serving */

/* Loads r's bucket's configuration into s. 0, or 1 after answering (no bucket, no website). */
static int site_load(s3_req_t *r, s3_site_t *s)
{
    core_bucket_t b;
    int rc = s3_bucket_load(r, &b);
    if (rc != 0) {
        s3_error_on(r, rc, S3_ON_BUCKET);
        return 1;
    }
    og_str_t conf = og_header_find(b.meta, b.num_meta, S3_WEBSITE_META);
    if (conf.base != NULL && (s->doc = s3_xml_read(conf.base, conf.len)) != NULL)
        s->root = xmlDocGetRootElement(s->doc);
    core_bucket_free(&b);
    if (s->root == NULL) {
        s3_error(r, 404, "NoSuchWebsiteConfiguration", "The specified bucket does not have a website configuration",
                 NULL);
        return 1;
    }
    return 0;
}

/* After the configuration is loaded: the redirects that need no object, the index document, then
 * the object as GetObject serves it to anyone. */
static void site_get(s3_req_t *r, s3_site_t *s)
{
    size_t prefix;
    xmlNode *all = child(s->root, "RedirectAllRequestsTo"), *redir;
    s->asked = strndup(r->key ? r->key : "", r->key ? r->key_len : 0);
    if (s->asked == NULL) {
        error_page(r, 500, "InternalError", "We encountered an internal error. Please try again.");
        return;
    }
    s->asked_len = strlen(s->asked);
    if (all != NULL) {
        redirect_rule(r, all, 0);
        return;
    }
    if ((redir = rule_for(s, 0, &prefix)) != NULL) {
        redirect_rule(r, redir, prefix);
        return;
    }
    char *suffix = text(child(s->root, "IndexDocument"), "Suffix");
    int rc = 0;
    if (suffix != NULL && (s->asked_len == 0 || s->asked[s->asked_len - 1] == '/'))
        rc = set_key(r, (og_str_t){s->asked, s->asked_len}, suffix);
    xmlFree(suffix);
    if (rc == 0)
        rc = s3_authorize(r);
    if (rc != 0)
        s3_error_on(r, rc, S3_ON_TARGET);
    else
        s3_get_object(r);
}

void s3_site_serve(s3_req_t *r)
{
    const http_reqinfo_t *orig = r->info;
    s3_site_t s = {.info = *orig};
    s.info.query = (og_str_t){NULL, 0};
    r->site = &s;
    r->info = &s.info;
    r->authenticated = 0; /* a website is anonymous: credentials sent along are ignored, as AWS */
    /* only what anyone may read is served, so caches may share every answer */
    http_req_cache_private(r->http, 0);
    if (!og_str_eq(r->info->method, "GET") && !og_str_eq(r->info->method, "HEAD")) {
        s.in_error = 1;
        error_page(r, 405, "MethodNotAllowed", "The specified method is not allowed against this resource.");
    } else if (site_load(r, &s) == 0) {
        site_get(r, &s);
    }
    xmlFreeDoc(s.doc);
    free(s.asked);
    r->info = orig;
    r->site = NULL;
}
