/*
 * console.c: the console's front door: its static files (compiled in, tools/embed.sh) and the
 * headers every console answer carries.
 *
 * Security headers: the pages run only their own scripts and styles and talk only to this origin
 * (Content-Security-Policy), cannot be framed (clickjacking), never send a Referer (a share link
 * in a page must not leak through it), and are not sniffed as another type. The pages keep the
 * user's credentials in sessionStorage only (docs/operations.md, "Web console").
 */
#include "console_int.h"

#include <string.h>

#include "og_buf.h"

#define CONSOLE_PREFIX "/_console"
#define CONSOLE_CSP                                                                                                    \
    "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:; connect-src 'self'; "            \
    "form-action 'none'; frame-ancestors 'none'; base-uri 'none'"

int console_wants(const http_reqinfo_t *info)
{
    og_str_t p = info->path;
    size_t n = sizeof(CONSOLE_PREFIX) - 1;
    return p.len >= n && memcmp(p.base, CONSOLE_PREFIX, n) == 0 && (p.len == n || p.base[n] == '/');
}

void console_send(console_req_t *r, int status, const char *content_type, const char *cache, const void *body,
                  size_t len)
{
    og_header_t hdrs[] = {
        {OG_STR_LIT("Content-Type"), og_str(content_type)},
        {OG_STR_LIT("Cache-Control"), og_str(cache)},
        {OG_STR_LIT("Content-Security-Policy"), OG_STR_LIT(CONSOLE_CSP)},
        {OG_STR_LIT("X-Frame-Options"), OG_STR_LIT("DENY")},
        {OG_STR_LIT("X-Content-Type-Options"), OG_STR_LIT("nosniff")},
        {OG_STR_LIT("Referrer-Policy"), OG_STR_LIT("no-referrer")},
        {OG_STR_LIT("X-Request-Id"), og_str(r->request_id)},
    };
    r->status = status;
    http_resp_send(r->http, status, hdrs, sizeof(hdrs) / sizeof(hdrs[0]), body, len);
}

void console_error(console_req_t *r, int status, const char *msg)
{
    og_buf_t b = {0};
    og_buf_puts(&b, "{\"error\":");
    og_buf_json_str(&b, og_str(msg));
    og_buf_puts(&b, "}");
    if (b.oom)
        console_send(r, status, "application/json", "no-store", "{}", 2);
    else
        console_send(r, status, "application/json", "no-store", b.buf, b.len);
    og_buf_free(&b);
}

/* The Content-Type of an asset, by its extension. */
static const char *asset_type(const char *name)
{
    static const struct {
        const char *ext, *type;
    } types[] = {{".html", "text/html; charset=utf-8"},
                 {".js", "text/javascript; charset=utf-8"},
                 {".css", "text/css; charset=utf-8"},
                 {".svg", "image/svg+xml"}};
    const char *dot = strrchr(name, '.');
    for (size_t i = 0; dot != NULL && i < sizeof(types) / sizeof(types[0]); i++)
        if (strcmp(dot, types[i].ext) == 0)
            return types[i].type;
    return "application/octet-stream";
}

/* Answers GET/HEAD of one static file (name: the path after "/_console/", "" for the page). */
static void serve_asset(console_req_t *r, og_str_t name)
{
    if (name.len == 0)
        name = OG_STR_LIT("index.html");
    if (!og_str_eq(r->info->method, "GET") && !og_str_eq(r->info->method, "HEAD")) {
        console_error(r, 405, "method not allowed");
        return;
    }
    for (size_t i = 0; i < console_nassets; i++) {
        const console_asset_t *a = &console_assets[i];
        if (og_str_eq(name, a->name)) {
            /* no-cache: revalidated on every load, so a new gateway's console is used at once. */
            console_send(r, 200, asset_type(a->name), "no-cache", a->data, a->len);
            return;
        }
    }
    console_error(r, 404, "no such console page");
}

/* Routes by the path after the prefix. */
static void route(console_req_t *r)
{
    og_str_t rest = {r->info->path.base + sizeof(CONSOLE_PREFIX) - 1, r->info->path.len - sizeof(CONSOLE_PREFIX) + 1};
    if (rest.len == 0) {
        og_header_t loc = {OG_STR_LIT("Location"), OG_STR_LIT(CONSOLE_PREFIX "/")};
        r->status = 301;
        http_resp_send(r->http, 301, &loc, 1, NULL, 0);
        return;
    }
    rest.base++, rest.len--; /* the '/' */
    if (rest.len >= 4 && memcmp(rest.base, "api/", 4) == 0)
        console_api(r, (og_str_t){rest.base + 4, rest.len - 4});
    else
        serve_asset(r, rest);
}

void console_handle(http_req_t *http, void *ctx)
{
    console_req_t r = {.http = http, .info = http_req_info(http), .con = ctx};
    http_request_id(http, r.request_id);
    /* Small answers from memory or a short cluster read: one share of the workers per client
     * address, whoever the caller is. */
    if (http_req_claim_remote(http) != 0)
        console_error(&r, 503, "slow down");
    else
        route(&r);
    http_log_line_t line = {r.request_id, NULL, "console", "console", {NULL, 0}, {NULL, 0}, r.info->path, r.status};
    http_access_log(http, &line, r.con->access_log);
}
