/* http_util.c: query decoding, HTTP/ISO dates and the access log (http.h). */
#include <errno.h>
#include <stdio.h>
#include <time.h>

#include "http.h"

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

void http_access_log(const http_reqinfo_t *info, const char *request_id, og_str_t what, int status, uint64_t start_ms,
                     int all)
{
    if (!all && status < 500)
        return;
    char when[32];
    http_iso8601_format(og_time_ns(), when);
    fprintf(stderr, "%s %s %s %.*s %.*s %d %llums\n", when, info->remote, request_id, (int)info->method.len,
            info->method.base, (int)what.len, what.base, status, (unsigned long long)(og_mono_ms() - start_ms));
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
