/*
 * Swift staticweb: a container served as a web site, as Swift's staticweb middleware (checked
 * against the Swift anchor, whose proxy pipeline has staticweb). It applies to GET and HEAD
 * without a token, or with a token and X-Web-Mode: true, of a container whose metadata names
 * X-Container-Meta-Web-Index or Web-Listings:
 *  - a path without its trailing "/" that is a directory (the container, an index object under
 *    it, or any object under it) answers 301 to the path with "/";
 *  - ".../" serves ".../<Web-Index>", else an HTML listing when Web-Listings is true (styled by
 *    Web-Listings-CSS), else 404;
 *  - a 401 or 404 serves the object "<status><Web-Error>" with that status, when it exists;
 *  - objects of content type Web-Directory-Type (default application/directory) of at most one
 *    byte are directory markers: not found.
 * Every object it serves is read as the caller (anonymous: the container needs .r:*; listings
 * need .rlistings), so staticweb never shows what the ACLs keep private.
 */
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <strings.h>
#include <time.h>

#include "swift_int.h"

#define WEB_LISTING_MAX SWIFT_LISTING_LIMIT

typedef struct {
    og_str_t index, error, css, dir_type; /* slices of the container record's metadata */
    int listings;
} web_conf_t;

/* Swift's config_true_value. */
static int truthy(og_str_t v)
{
    static const char *const yes[] = {"true", "1", "yes", "on", "t", "y"};
    for (size_t i = 0; i < sizeof(yes) / sizeof(yes[0]); i++)
        if (og_str_ieq(v, yes[i]))
            return 1;
    return 0;
}

static og_str_t meta(const core_bucket_t *b, const char *name)
{
    for (size_t i = 0; i < b->num_meta; i++)
        if (og_str_eq(b->meta[i].name, name))
            return b->meta[i].value;
    return (og_str_t){NULL, 0};
}

/* Does staticweb look at r at all (method, caller)? */
static int web_applies(const swift_req_t *r)
{
    if (!swift_is_method(r, "GET") && !swift_is_method(r, "HEAD"))
        return 0;
    if (r->tu.scope != SWIFT_TU_NONE)
        return 0;
    return !r->has_id || truthy(http_req_header(r->http, "x-web-mode"));
}

static void web_conf(const core_bucket_t *b, web_conf_t *c)
{
    c->index = meta(b, "x-container-meta-web-index");
    c->error = meta(b, "x-container-meta-web-error");
    c->css = meta(b, "x-container-meta-web-listings-css");
    c->dir_type = meta(b, "x-container-meta-web-directory-type");
    if (c->dir_type.base == NULL)
        c->dir_type = OG_STR_LIT("application/directory");
    c->listings = truthy(meta(b, "x-container-meta-web-listings"));
}

/* Makes name (len bytes) r's object. 0 or -ENOMEM. */
static int set_object(swift_req_t *r, const char *a, size_t alen, og_str_t b)
{
    char *o = malloc(alen + b.len + 1);
    if (o == NULL)
        return -ENOMEM;
    memcpy(o, a, alen);
    memcpy(o + alen, b.base, b.len);
    o[alen + b.len] = '\0';
    free(r->object);
    r->object = o;
    r->object_len = alen + b.len;
    return 0;
}

static int ends_with_slash(const swift_req_t *r)
{
    og_str_t p = r->info->path;
    return p.len > 0 && p.base[p.len - 1] == '/';
}

/* 301 to the request's path with "/" added, absolute on the request's Host as Swift's swob. */
static void redirect_slash(swift_req_t *r)
{
    og_str_t host = http_req_header(r->http, "host"), p = r->info->path;
    size_t cap = host.len + p.len + 16;
    char *loc = malloc(cap);
    if (loc == NULL) {
        swift_error_rc(r, -ENOMEM);
        return;
    }
    int n = snprintf(loc, cap, "http://%.*s%.*s/", (int)host.len, host.base, (int)p.len, p.base);
    og_header_t h = {OG_STR_LIT("Location"), {loc, (size_t)n}};
    static const char body[] = "<html><h1>Moved Permanently</h1><p>The resource has moved permanently.</p></html>";
    swift_send(r, 301, &h, 1, NULL, body, sizeof(body) - 1);
    free(loc);
}

/* Answers rc (-EACCES, OG_ENOTFOUND, ...) as staticweb: a 401 or 404 serves the object
 * "<status><Web-Error>" with that status when the caller may read it, else Swift's own page. */
static void error_page(swift_req_t *r, const web_conf_t *c, int rc)
{
    int status = rc == OG_ENOTFOUND ? 404 : rc == -EACCES && !r->has_id ? 401 : 0;
    if (status == 0 || c->error.len == 0) {
        swift_error_rc(r, rc);
        return;
    }
    char code[4];
    snprintf(code, sizeof(code), "%d", status);
    if ((rc = set_object(r, code, 3, c->error)) == 0) {
        r->web_status = status;
        rc = swift_obj_get(r, (og_str_t){NULL, 0});
        r->web_status = 0;
    }
    if (rc == 0)
        return;
    if (rc == OG_ENOTFOUND || rc == -EACCES)
        swift_error(r, status);
    else
        swift_error_rc(r, rc);
}

/* Swift's human_readable: 1023, 1Ki, 5Mi ... */
static void human_size(uint64_t v, char out[24])
{
    static const char suffixes[] = "KMGTPEZY";
    double d = (double)v;
    int i = -1;
    while (d >= 1024 && i + 1 < 8)
        i++, d = (double)(uint64_t)(d / 1024 + 0.5);
    if (i < 0)
        snprintf(out, 24, "%" PRIu64, v);
    else
        snprintf(out, 24, "%.0f%ci", d, suffixes[i]);
}

/* Appends name (after the listed prefix) as an href: percent-encoded, "/" kept. */
static void put_href(og_buf_t *b, og_str_t name)
{
    char *enc = malloc(name.len * 3 + 1);
    long n = enc != NULL ? og_urlencode(name.base, name.len, enc, name.len * 3 + 1, 1) : -1;
    if (n >= 0)
        og_buf_put(b, enc, (size_t)n);
    else
        b->oom = 1;
    free(enc);
}

static void listing_head(swift_req_t *r, const web_conf_t *c, og_str_t prefix, og_buf_t *b)
{
    og_buf_t label = {0};
    og_buf_printf(&label, "/v1/AUTH_%s/%s/%.*s", r->account, r->container, (int)prefix.len, prefix.base);
    og_buf_puts(b, "<!DOCTYPE HTML PUBLIC \"-//W3C//DTD HTML 4.01 Transitional//EN\" "
                   "\"http://www.w3.org/TR/html4/loose.dtd\">\n<html>\n <head>\n  <title>Listing of ");
    og_buf_escape(b, label.buf, label.len);
    og_buf_puts(b, "</title>\n");
    if (c->css.len > 0) {
        og_buf_puts(b, "  <link rel=\"stylesheet\" type=\"text/css\" href=\"");
        int absolute = c->css.base[0] == '/' || (c->css.len > 7 && !strncmp(c->css.base, "http://", 7)) ||
                       (c->css.len > 8 && !strncmp(c->css.base, "https://", 8));
        for (size_t i = 0; !absolute && i < prefix.len; i++)
            if (prefix.base[i] == '/')
                og_buf_puts(b, "../");
        put_href(b, c->css);
        og_buf_puts(b, "\" />\n");
    } else {
        og_buf_puts(b, "  <style type=\"text/css\">\n   h1 {font-size: 1em; font-weight: bold;}\n"
                       "   th {text-align: left; padding: 0px 1em 0px 1em;}\n"
                       "   td {padding: 0px 1em 0px 1em;}\n   a {text-decoration: none;}\n  </style>\n");
    }
    og_buf_puts(b, " </head>\n <body>\n  <h1 id=\"title\">Listing of ");
    og_buf_escape(b, label.buf, label.len);
    og_buf_puts(b, "</h1>\n  <table id=\"listing\">\n   <tr id=\"heading\">\n    <th class=\"colname\">Name</th>\n"
                   "    <th class=\"colsize\">Size</th>\n    <th class=\"coldate\">Date</th>\n   </tr>\n");
    if (prefix.len > 0)
        og_buf_puts(b, "   <tr id=\"parent\" class=\"item\">\n    <td class=\"colname\"><a href=\"../\">../</a></td>\n"
                       "    <td class=\"colsize\">&nbsp;</td>\n    <td class=\"coldate\">&nbsp;</td>\n   </tr>\n");
    og_buf_free(&label);
}

/* One row: a subdir (m NULL) or an object. */
static void listing_row(og_buf_t *b, og_str_t name, const core_meta_t *m)
{
    og_buf_puts(b, "   <tr class=\"item");
    if (m == NULL) {
        og_buf_puts(b, " subdir");
    } else {
        og_str_t ct = m->content_type;
        size_t end = 0;
        while (end < ct.len && ct.base[end] != ';')
            end++;
        for (size_t i = 0; i < end;) { /* "text/html" -> " type-text type-html" */
            size_t j = i;
            while (j < end && ct.base[j] != '/')
                j++;
            og_buf_puts(b, " type-");
            for (size_t k = i; k < j; k++) {
                char ch = (char)(ct.base[k] >= 'A' && ct.base[k] <= 'Z' ? ct.base[k] + 32 : ct.base[k]);
                og_buf_escape(b, &ch, 1);
            }
            i = j + 1;
        }
    }
    og_buf_puts(b, "\">\n    <td class=\"colname\"><a href=\"");
    put_href(b, name);
    og_buf_puts(b, "\">");
    og_buf_escape(b, name.base, name.len);
    if (m == NULL) {
        og_buf_puts(b, "</a></td>\n    <td class=\"colsize\">&nbsp;</td>\n    <td class=\"coldate\">&nbsp;</td>\n");
    } else {
        char size[24], when[24];
        time_t t = (time_t)(m->mtime_ns / 1000000000u);
        struct tm tm;
        gmtime_r(&t, &tm);
        strftime(when, sizeof(when), "%Y-%m-%d %H:%M:%S", &tm);
        human_size(m->size, size);
        og_buf_printf(b, "</a></td>\n    <td class=\"colsize\">%s</td>\n    <td class=\"coldate\">%s</td>\n", size,
                      when);
    }
    og_buf_puts(b, "   </tr>\n");
}

/* The HTML listing of r's container under prefix (subdirs first, then objects, as Swift), or the
 * error page: 404 without Web-Listings or for an empty directory, 401 without .rlistings. */
static void listing(swift_req_t *r, const web_conf_t *c, og_str_t prefix)
{
    core_walk_t w = {0};
    og_buf_t body = {0};
    int rc;
    if (!c->listings) {
        error_page(r, c, OG_ENOTFOUND);
        return;
    }
    if ((rc = swift_container_access(r, r->container, IAM_ACL_LISTING, r->cid)) != 0 ||
        (rc = swift_list_walk(r, prefix, WEB_LISTING_MAX, &w)) != 0 || (w.n == 0 && prefix.len > 0)) {
        error_page(r, c, rc != 0 ? rc : OG_ENOTFOUND);
        goto out_free;
    }
    http_req_cache_private(r->http, !r->public_grant);
    listing_head(r, c, prefix, &body);
    for (int pass = 0; pass < 2; pass++)
        for (size_t i = 0; i < w.n; i++) {
            const core_walk_item_t *it = &w.items[i];
            og_str_t name = {it->key.base + prefix.len, it->key.len - prefix.len};
            core_meta_t m;
            og_rec_t rec = {.summary = it->summary};
            if (pass == 0 && it->is_prefix) {
                listing_row(&body, name, NULL);
            } else if (pass == 1 && !it->is_prefix && core_meta_decode(&rec, &m) == 0) {
                listing_row(&body, name, &m);
                core_meta_free(&m);
            }
        }
    og_buf_puts(&body, "  </table>\n </body>\n</html>\n");
    if (body.oom)
        swift_error_rc(r, -ENOMEM);
    else
        swift_send(r, 200, NULL, 0, "text/html; charset=UTF-8", body.buf, body.len);
out_free:
    og_buf_free(&body);
    core_walk_free(&w);
}

/* Serves "<dir><Web-Index>" (dir is r->object's value before, "" for the container). 0 answered,
 * else the unanswered reason. */
static int serve_index(swift_req_t *r, const web_conf_t *c, const char *dir, size_t len)
{
    int rc = set_object(r, dir, len, c->index);
    return rc != 0 ? rc : swift_obj_get(r, c->dir_type);
}

int swift_web_container(swift_req_t *r, const core_bucket_t *b)
{
    web_conf_t c;
    if (!web_applies(r))
        return 0;
    web_conf(b, &c);
    if (c.index.len == 0 && !c.listings) {
        if (!truthy(http_req_header(r->http, "x-web-mode")))
            return 0;
        swift_error(r, 404);
        return 1;
    }
    int rc = OG_ENOTFOUND;
    if (!ends_with_slash(r))
        redirect_slash(r);
    else if (c.index.len > 0 && (rc = serve_index(r, &c, "", 0)) == OG_ENOTFOUND)
        listing(r, &c, (og_str_t){"", 0});
    else if (c.index.len == 0)
        listing(r, &c, (og_str_t){"", 0});
    else if (rc != 0)
        error_page(r, &c, rc);
    return 1;
}

/* Is there any object under "<dir>/" (a directory without a marker)? */
static int has_children(swift_req_t *r, og_str_t dir)
{
    core_walk_t w = {0};
    int any = swift_list_walk(r, dir, 1, &w) == 0 && w.n > 0;
    core_walk_free(&w);
    return any;
}

/* Does r->object exist? */
static int object_exists(swift_req_t *r)
{
    core_meta_t m;
    char *buf = NULL;
    if (core_obj_lookup(r->cl, r->cid, (og_str_t){r->object, r->object_len}, &m, &buf) != 0)
        return 0;
    core_meta_free(&m);
    free(buf);
    return 1;
}

/* The object r->object is absent (or a directory marker): index, redirect, listing or 404. */
static void object_missing(swift_req_t *r, const web_conf_t *c)
{
    size_t len = r->object_len;
    char *dir = malloc(len + 2);
    int rc = -ENOMEM;
    if (dir == NULL)
        goto out_answer;
    memcpy(dir, r->object, len);
    if (!ends_with_slash(r))
        dir[len++] = '/';
    dir[len] = '\0';
    rc = OG_ENOTFOUND;
    if (c->index.len > 0) {
        if (!ends_with_slash(r)) {
            if (set_object(r, dir, len, c->index) == 0 && object_exists(r)) {
                redirect_slash(r);
                goto out_free;
            }
        } else if ((rc = serve_index(r, c, dir, len)) != OG_ENOTFOUND) {
            goto out_answer;
        }
    }
    if (!ends_with_slash(r)) {
        if (has_children(r, (og_str_t){dir, len}))
            redirect_slash(r);
        else
            error_page(r, c, OG_ENOTFOUND);
        goto out_free;
    }
    listing(r, c, (og_str_t){dir, len});
    goto out_free;
out_answer:
    if (rc != 0)
        error_page(r, c, rc);
out_free:
    free(dir);
}

int swift_web_object(swift_req_t *r)
{
    core_bucket_t b;
    web_conf_t c;
    if (!web_applies(r) || core_bucket_find(r->cl, r->account, r->container, &b) != 0)
        return 0; /* an absent container: the ordinary answer */
    web_conf(&b, &c);
    int handled = strcmp(b.owner, r->account) == 0 && (c.index.len > 0 || c.listings);
    if (handled) {
        int rc = swift_obj_get(r, c.dir_type);
        if (rc == OG_ENOTFOUND)
            object_missing(r, &c);
        else if (rc != 0)
            swift_error_rc(r, rc); /* Swift keeps its own pages for errors but 404 here */
    }
    core_bucket_free(&b);
    return handled;
}
