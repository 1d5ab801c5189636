/* Range, conditional-header and HTTP-date parsing for GET/HEAD (see http/http.h). */
#include "http.h"

#include <strings.h>


/* Parses a run of decimal digits at *p (advancing it). 0, or OG_EINVAL when there is no
 * digit or the value overflows 64 bits (such a range cannot be satisfied or meant). */
static int parse_u64(const char **p, const char *end, uint64_t *out)
{
    uint64_t v = 0;
    const char *s = *p;
    if (s == end || *s < '0' || *s > '9')
        return OG_EINVAL;
    for (; s < end && *s >= '0' && *s <= '9'; s++) {
        uint64_t d = (uint64_t)(*s - '0');
        if (v > (UINT64_MAX - d) / 10)
            return OG_EINVAL;
        v = v * 10 + d;
    }
    *p = s;
    *out = v;
    return 0;
}

int http_range_parse(og_str_t hdr, uint64_t size, uint64_t *first, uint64_t *last)
{
    og_str_t s = og_str_trim(hdr);
    uint64_t a = 0, b = 0;
    int has_a, has_b;

    if (s.len < 6 || strncasecmp(s.base, "bytes=", 6) != 0)
        return HTTP_RANGE_NONE;
    s = og_str_trim((og_str_t){s.base + 6, s.len - 6});
    if (memchr(s.base, ',', s.len) != NULL)
        return HTTP_RANGE_NONE; /* several ranges: S3 ignores the header */
    const char *p = s.base, *end = s.base + s.len;
    has_a = parse_u64(&p, end, &a) == 0;
    if (p == end || *p != '-')
        return HTTP_RANGE_NONE;
    p++;
    has_b = parse_u64(&p, end, &b) == 0;
    if (p != end || (!has_a && !has_b))
        return HTTP_RANGE_NONE;

    if (!has_a) {
        /* suffix range: the last b bytes */
        if (b == 0 || size == 0)
            return HTTP_RANGE_UNSATISFIABLE;
        *first = b >= size ? 0 : size - b;
        *last = size - 1;
        return HTTP_RANGE_OK;
    }
    if (has_b && b < a)
        return HTTP_RANGE_NONE; /* syntactically invalid, so ignored (RFC 7233 2.1) */
    if (a >= size)
        return HTTP_RANGE_UNSATISFIABLE;
    *first = a;
    *last = has_b && b < size - 1 ? b : size - 1;
    return HTTP_RANGE_OK;
}

/* ---- dates ---- */

static int month_index(const char *m)
{
    static const char names[] = "JanFebMarAprMayJunJulAugSepOctNovDec";
    for (int i = 0; i < 12; i++)
        if (strncmp(names + 3 * i, m, 3) == 0)
            return i;
    return -1;
}

/* Reads exactly n digits. */
static int digits(const char **p, const char *end, int n, int *out)
{
    int v = 0;
    if (end - *p < n)
        return OG_EINVAL;
    for (int i = 0; i < n; i++) {
        char c = (*p)[i];
        if (c < '0' || c > '9')
            return OG_EINVAL;
        v = v * 10 + (c - '0');
    }
    *p += n;
    *out = v;
    return 0;
}

static int expect(const char **p, const char *end, const char *lit)
{
    size_t n = strlen(lit);
    if ((size_t)(end - *p) < n || memcmp(*p, lit, n) != 0)
        return OG_EINVAL;
    *p += n;
    return 0;
}

/* "HH:MM:SS" */
static int parse_hms(const char **p, const char *end, int *h, int *m, int *s)
{
    if (digits(p, end, 2, h) || expect(p, end, ":") || digits(p, end, 2, m) || expect(p, end, ":") ||
        digits(p, end, 2, s))
        return OG_EINVAL;
    return *h > 23 || *m > 59 || *s > 60 ? OG_EINVAL : 0;
}

/* Days from 1970-01-01 to y-m-d in the proleptic Gregorian calendar (m 1..12), without
 * timegm's dependence on the process time zone machinery. */
static int64_t days_from_civil(int64_t y, int m, int d)
{
    y -= m <= 2;
    int64_t era = (y >= 0 ? y : y - 399) / 400;
    int64_t yoe = y - era * 400;
    int64_t doy = (153 * (m + (m > 2 ? -3 : 9)) + 2) / 5 + d - 1;
    int64_t doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    return era * 146097 + doe - 719468;
}

static int make_time(int year, int mon, int day, int h, int m, int s, int64_t *out)
{
    static const int mdays[] = {31, 29, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31};
    if (mon < 0 || day < 1 || day > mdays[mon])
        return OG_EINVAL;
    *out = days_from_civil(year, mon + 1, day) * 86400 + h * 3600 + m * 60 + s;
    return 0;
}

int http_date_parse(og_str_t str, int64_t *out)
{
    og_str_t t = og_str_trim(str);
    const char *p = t.base, *end = t.base + t.len;
    const char *comma = t.len ? memchr(p, ',', t.len) : NULL;
    int day, year, h, m, s, mon;

    if (t.len < 24)
        return OG_EINVAL;
    if (comma == p + 3) {
        /* IMF-fixdate: "Sun, 06 Nov 1994 08:49:37 GMT" */
        p += 4;
        if (expect(&p, end, " ") || digits(&p, end, 2, &day) || expect(&p, end, " ") || end - p < 4 ||
            (mon = month_index(p)) < 0)
            return OG_EINVAL;
        p += 3;
        if (expect(&p, end, " ") || digits(&p, end, 4, &year) || expect(&p, end, " ") ||
            parse_hms(&p, end, &h, &m, &s) || expect(&p, end, " GMT") || p != end)
            return OG_EINVAL;
    } else if (comma != NULL) {
        /* RFC 850: "Sunday, 06-Nov-94 08:49:37 GMT"; two-digit years are taken as 19xx/20xx
         * with the 50-year pivot of RFC 7231 7.1.1.1 approximated by 70 (the Unix epoch). */
        p = comma + 1;
        if (expect(&p, end, " ") || digits(&p, end, 2, &day) || expect(&p, end, "-") || end - p < 4 ||
            (mon = month_index(p)) < 0)
            return OG_EINVAL;
        p += 3;
        if (expect(&p, end, "-") || digits(&p, end, 2, &year) || expect(&p, end, " ") ||
            parse_hms(&p, end, &h, &m, &s) || expect(&p, end, " GMT") || p != end)
            return OG_EINVAL;
        year += year < 70 ? 2000 : 1900;
    } else {
        /* asctime: "Sun Nov  6 08:49:37 1994" (day padded with a space) */
        p += 3;
        if (expect(&p, end, " ") || end - p < 4 || (mon = month_index(p)) < 0)
            return OG_EINVAL;
        p += 3;
        if (expect(&p, end, " "))
            return OG_EINVAL;
        if (*p == ' ') {
            p++;
            if (digits(&p, end, 1, &day))
                return OG_EINVAL;
        } else if (digits(&p, end, 2, &day)) {
            return OG_EINVAL;
        }
        if (expect(&p, end, " ") || parse_hms(&p, end, &h, &m, &s) || expect(&p, end, " ") ||
            digits(&p, end, 4, &year) || p != end)
            return OG_EINVAL;
    }
    return make_time(year, mon, day, h, m, s, out);
}

/* ---- entity tags ---- */

/* The opaque part of a tag: without W/ and without its quotes (unquoted tags pass as is). */
static og_str_t etag_opaque(og_str_t t)
{
    t = og_str_trim(t);
    if (t.len >= 2 && t.base[0] == 'W' && t.base[1] == '/')
        t.base += 2, t.len -= 2;
    if (t.len >= 2 && t.base[0] == '"' && t.base[t.len - 1] == '"')
        t.base++, t.len -= 2;
    return t;
}

int http_etag_list_match(og_str_t list, og_str_t etag)
{
    og_str_t want = etag_opaque(etag);
    const char *p = list.base, *end = list.base + list.len;
    if (list.len == 0)
        return 0;
    while (p < end) {
        const char *comma = memchr(p, ',', (size_t)(end - p));
        const char *stop = comma ? comma : end;
        og_str_t item = og_str_trim((og_str_t){p, (size_t)(stop - p)});
        if (item.len == 1 && item.base[0] == '*')
            return 1;
        og_str_t got = etag_opaque(item);
        if (got.len > 0 && got.len == want.len && memcmp(got.base, want.base, got.len) == 0)
            return 1;
        p = comma ? comma + 1 : end;
    }
    return 0;
}

og_str_t http_range_header(const http_req_t *req, og_str_t etag, int64_t mtime_s)
{
    og_str_t range = http_req_header(req, "range"), ir = og_str_trim(http_req_header(req, "if-range"));
    int64_t t;
    if (range.base == NULL || ir.base == NULL)
        return range;
    if (http_date_parse(ir, &t) == 0)
        return t == mtime_s ? range : (og_str_t){NULL, 0};
    /* an entity tag; unquoted ones too, as Swift sends its ETags unquoted */
    og_str_t want = etag_opaque(etag), got = etag_opaque(ir);
    int weak = ir.len >= 2 && ir.base[0] == 'W' && ir.base[1] == '/';
    if (!weak && got.len > 0 && got.len == want.len && memcmp(got.base, want.base, got.len) == 0)
        return range;
    return (og_str_t){NULL, 0};
}

http_cond_t http_cond_from_req(const http_req_t *req)
{
    return (http_cond_t){
        .if_match = http_req_header(req, "if-match"),
        .if_none_match = http_req_header(req, "if-none-match"),
        .if_modified_since = http_req_header(req, "if-modified-since"),
        .if_unmodified_since = http_req_header(req, "if-unmodified-since"),
    };
}

int http_cond_eval(const http_cond_t *c, og_str_t etag, int64_t mtime_s)
{
    int64_t t;
    if (c->if_match.base != NULL) {
        if (!http_etag_list_match(c->if_match, etag))
            return 412;
    } else if (c->if_unmodified_since.base != NULL && http_date_parse(c->if_unmodified_since, &t) == 0 &&
               mtime_s > t) {
        return 412;
    }
    if (c->if_none_match.base != NULL) {
        if (http_etag_list_match(c->if_none_match, etag))
            return 304;
    } else if (c->if_modified_since.base != NULL && http_date_parse(c->if_modified_since, &t) == 0 &&
               mtime_s <= t) {
        return 304;
    }
    return 200;
}
