/* http_util.c: query decoding, HTTP/ISO dates and the access log (http.h). */
#include <errno.h>
#include <stdbool.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>
#include <time.h>

#include "http.h"

og_str_t http_host_without_port(og_str_t host)
{
    if (host.len > 0 && host.base[0] == '[') {
        const char *close = memchr(host.base, ']', host.len);
        if (close != NULL)
            host.len = (size_t)(close - host.base) + 1;
        return host;
    }
    const char *colon = host.len ? memchr(host.base, ':', host.len) : NULL;
    if (colon != NULL)
        host.len = (size_t)(colon - host.base);
    return host;
}

int http_query_decode(og_str_t query, const char *name, og_buf_t *b)
{
    og_str_t raw;
    if (!og_query_get(query, name, &raw))
        return 0;
    if (og_buf_put(b, raw.base, raw.len) != 0)
        return -ENOMEM;
    long n = og_urldecode(b->buf, b->len, b->buf, b->len, 1);
    if (n < 0)
        return OG_EINVAL;
    b->len = (size_t)n;
    b->buf[n] = '\0';
    return 1;
}

void http_iso8601_format(uint64_t ns, char out[32])
{
    time_t t = (time_t)(ns / 1000000000u);
    struct tm tm;
    gmtime_r(&t, &tm);
    size_t n = strftime(out, 32, "%Y-%m-%dT%H:%M:%S", &tm);
    snprintf(out + n, 32 - n, ".%03uZ", (unsigned)(ns / 1000000u % 1000u));
}

void http_date_format(uint64_t ns, char out[32])
{
    time_t t = (time_t)(ns / 1000000000u);
    struct tm tm;
    gmtime_r(&t, &tm);
    strftime(out, 32, "%a, %d %b %Y %H:%M:%S GMT", &tm);
}

/* Query parameters whose values let a reader of the log replay or forge requests: presigned
 * SigV4 and SigV2 signatures, STS session tokens and Swift temp URL signatures. The access key id
 * and scope (X-Amz-Credential, AWSAccessKeyId) are not secret and stay, for auditing. */
static const char *const http_log_secrets[] = {"X-Amz-Signature", "Signature", "X-Amz-Security-Token", "temp_url_sig"};

/* Is the query parameter name[0..len) one of http_log_secrets? Compared percent-decoded and
 * case-insensitively, so a spelling the server would not act on is still redacted. */
static bool log_param_is_secret(const char *name, size_t len)
{
    char dec[96];
    long n = og_urldecode(name, len, dec, sizeof(dec) - 1, 1);
    if (n < 0)
        return n != OG_ETOOBIG; /* a name that does not decode: redact its value */
    dec[n] = '\0';
    for (size_t i = 0; i < sizeof(http_log_secrets) / sizeof(http_log_secrets[0]); i++)
        if (strcasecmp(dec, http_log_secrets[i]) == 0)
            return true;
    return false;
}

int http_log_redact(og_str_t what, og_buf_t *b)
{
    const char *q = memchr(what.base, '?', what.len), *end = what.base + what.len;
    og_buf_put(b, what.base, q != NULL ? (size_t)(q + 1 - what.base) : what.len);
    for (const char *p = q != NULL ? q + 1 : end; p < end;) {
        const char *amp = memchr(p, '&', (size_t)(end - p));
        const char *stop = amp != NULL ? amp : end;
        const char *eq = memchr(p, '=', (size_t)(stop - p));
        if (eq != NULL && log_param_is_secret(p, (size_t)(eq - p))) {
            og_buf_put(b, p, (size_t)(eq + 1 - p));
            og_buf_puts(b, "REDACTED");
        } else {
            og_buf_put(b, p, (size_t)(stop - p));
        }
        if (amp != NULL)
            og_buf_put(b, "&", 1);
        p = stop + 1;
    }
    return b->oom ? -ENOMEM : 0;
}

/* Appends s percent-encoded (slashes kept), or "-" when empty. */
static void log_field(og_buf_t *b, og_str_t s)
{
    char esc[3 * 1024 + 1];
    long n = s.len > 0 && s.len <= 1024 ? og_urlencode(s.base, s.len, esc, sizeof(esc), 1) : -1;
    og_buf_puts(b, s.len == 0 ? "-" : n < 0 ? "?" : esc);
    og_buf_put(b, " ", 1);
}

void http_access_log(const http_req_t *req, const http_log_line_t *l, int all)
{
    http_req_stats_t st;
    http_req_stats(req, &st);
    int status = st.status != 0 ? st.status : l->status; /* what was sent, when a response started */
    if (!all && status < 500)
        return;
    const http_reqinfo_t *info = http_req_info(req);
    char when[32];
    og_buf_t line = {0}, red = {0};
    og_str_t what = l->what;
    http_iso8601_format(og_time_ns(), when);
    if (http_log_redact(what, &red) == 0) {
        what = (og_str_t){red.buf, red.len};
    } else {
        const char *q = memchr(what.base, '?', what.len); /* out of memory: the path alone is safe */
        what.len = q != NULL ? (size_t)(q - what.base) : what.len;
    }
    og_buf_printf(&line, "%s %s %s %s %s.%s ", when, info->remote, l->request_id,
                  l->account != NULL && l->account[0] != '\0' ? l->account : "-", l->api, l->op);
    log_field(&line, l->bucket);
    log_field(&line, l->key);
    og_buf_printf(&line, "%.*s %.*s %d %llu %llu %llums\n", (int)info->method.len, info->method.base, (int)what.len,
                  what.base, status, (unsigned long long)st.bytes_in, (unsigned long long)st.bytes_out,
                  (unsigned long long)(st.elapsed_ns / 1000000u));
    if (!line.oom)
        fwrite(line.buf, 1, line.len, stderr);
    og_buf_free(&line);
    og_buf_free(&red);
}

void http_log_skip(const char *request_id, const char *what, og_str_t name, const char *why)
{
    char esc[3 * 64 + 1];
    size_t n = name.len < 64 ? name.len : 64;
    if (og_urlencode(name.base, n, esc, sizeof(esc), 1) < 0)
        esc[0] = '\0';
    fprintf(stderr, "onggi-gateway: request %s: %s '%s%s' left out: %s\n", request_id, what, esc,
            name.len > 64 ? "..." : "", why);
}

int http_req_claim_remote(http_req_t *req)
{
    const http_reqinfo_t *info = http_req_info(req);
    char who[sizeof(info->remote) + 4] = "ip:";
    const char *colon = strrchr(info->remote, ':');
    size_t n = colon != NULL ? (size_t)(colon - info->remote) : strlen(info->remote);
    memcpy(who + 3, info->remote, n);
    return http_req_claim(req, (og_str_t){who, 3 + n});
}

/* ---- cache control ---- */

/* The end of the directive starting at p (a comma outside quotes, or end). */
static const char *cc_directive_end(const char *p, const char *end)
{
    bool quoted = false;
    for (; p < end; p++) {
        if (*p == '"')
            quoted = !quoted;
        else if (*p == '\\' && quoted && p + 1 < end)
            p++;
        else if (*p == ',' && !quoted)
            break;
    }
    return p;
}

/* Is directive d (trimmed) one a private response must not carry? */
static bool cc_shared_only(og_str_t d)
{
    static const char *const names[] = {"public", "private", "s-maxage", "proxy-revalidate"};
    size_t name_len = 0;
    while (name_len < d.len && d.base[name_len] != '=' && d.base[name_len] != ' ' && d.base[name_len] != '\t')
        name_len++;
    for (size_t i = 0; i < sizeof(names) / sizeof(names[0]); i++)
        if (og_str_ieq((og_str_t){d.base, name_len}, names[i]))
            return true;
    return false;
}

size_t http_cache_control_private(og_str_t v, char *out)
{
    size_t n = 7;
    memcpy(out, "private", 7);
    const char *p = v.base, *end = v.base + v.len;
    while (p < end) {
        const char *stop = cc_directive_end(p, end);
        og_str_t d = og_str_trim((og_str_t){p, (size_t)(stop - p)});
        if (d.len > 0 && !cc_shared_only(d)) {
            memcpy(out + n, ", ", 2);
            memcpy(out + n + 2, d.base, d.len);
            n += 2 + d.len;
        }
        p = stop < end ? stop + 1 : end;
    }
    return n;
}

size_t http_cache_dflt(const og_header_t *hdrs, size_t n, og_str_t dflt_cc, int64_t expires_after_s, uint64_t now_s,
                       char date[32], og_header_t *out)
{
    size_t k = 0;
    if (dflt_cc.len > 0 && og_header_find(hdrs, n, "cache-control").base == NULL)
        out[k++] = (og_header_t){OG_STR_LIT("Cache-Control"), dflt_cc};
    if (expires_after_s >= 0 && og_header_find(hdrs, n, "expires").base == NULL) {
        http_date_format((now_s + (uint64_t)expires_after_s) * 1000000000u, date);
        out[k++] = (og_header_t){OG_STR_LIT("Expires"), og_str(date)};
    }
    return k;
}
