/*
 * auth_util.c: the primitives both signature versions build on: a growable buffer, OpenSSL
 * one-shot digests, AWS URI encoding and canonical URI/query, and date parsing.
 */
#include "auth_int.h"

#include "og_crypt.h"

#include <errno.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

void auth_buf_put(auth_buf_t *b, const void *p, size_t n)
{
    if (b->err)
        return;
    if (b->len + n + 1 > b->cap) {
        size_t cap = b->cap ? b->cap : 256;
        while (cap < b->len + n + 1)
            cap *= 2;
        char *nb = realloc(b->base, cap);
        if (!nb) {
            b->err = -ENOMEM;
            return;
        }
        b->base = nb;
        b->cap = cap;
    }
    if (n)
        memcpy(b->base + b->len, p, n);
    b->len += n;
    b->base[b->len] = '\0';
}

void auth_buf_putc(auth_buf_t *b, char c)
{
    auth_buf_put(b, &c, 1);
}

void auth_buf_put_lower(auth_buf_t *b, og_str_t s)
{
    for (size_t i = 0; i < s.len; i++) {
        char c = s.base[i];
        auth_buf_putc(b, c >= 'A' && c <= 'Z' ? (char)(c - 'A' + 'a') : c);
    }
}

static int is_unreserved(unsigned char c)
{
    return (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '-' || c == '_' ||
           c == '.' || c == '~';
}

void auth_buf_put_uriencoded(auth_buf_t *b, const char *p, size_t n, int keep_slash)
{
    static const char digits[] = "0123456789ABCDEF";
    for (size_t i = 0; i < n; i++) {
        unsigned char c = (unsigned char)p[i];
        if (is_unreserved(c) || (keep_slash && c == '/')) {
            auth_buf_putc(b, (char)c);
        } else {
            char esc[3] = {'%', digits[c >> 4], digits[c & 15]};
            auth_buf_put(b, esc, 3);
        }
    }
}

void auth_buf_free(auth_buf_t *b)
{
    free(b->base);
    *b = (auth_buf_t){0};
}

int auth_sha256(const void *p, size_t n, uint8_t out[32])
{
    return og_sha256(p, n, out) == 0 ? 0 : OG_EINVAL;
}

int auth_hmac_sha256(const void *key, size_t klen, const void *msg, size_t n, uint8_t out[32])
{
    return og_hmac_sha256(key, klen, msg, n, out) == 0 ? 0 : OG_EINVAL;
}

int auth_hmac_sha1(const void *key, size_t klen, const void *msg, size_t n, uint8_t out[20])
{
    unsigned int len = 0;
    return HMAC(EVP_sha1(), key, (int)klen, msg, n, out, &len) && len == 20 ? 0 : OG_EINVAL;
}

og_str_t auth_trim(og_str_t s)
{
    while (s.len && (s.base[0] == ' ' || s.base[0] == '\t')) {
        s.base++;
        s.len--;
    }
    while (s.len && (s.base[s.len - 1] == ' ' || s.base[s.len - 1] == '\t'))
        s.len--;
    return s;
}

int auth_put_canonical_uri(auth_buf_t *b, og_str_t path)
{
    if (path.len == 0) {
        auth_buf_putc(b, '/');
        return b->err;
    }
    char *tmp = malloc(path.len);
    if (!tmp)
        return -ENOMEM;
    long n = og_urldecode(path.base, path.len, tmp, path.len, 0);
    if (n >= 0)
        auth_buf_put_uriencoded(b, tmp, (size_t)n, 1);
    free(tmp);
    return n < 0 ? OG_EINVAL : b->err;
}

/* One query parameter while the canonical query is built: offsets into the arena buffer
 * first (it may move while growing), pointers once it is complete. */
typedef struct {
    size_t noff, nlen, voff, vlen;
    const char *name, *value;
} query_param_t;

static int query_param_cmp(const void *pa, const void *pb)
{
    const query_param_t *a = pa, *b = pb;
    size_t n = a->nlen < b->nlen ? a->nlen : b->nlen;
    int c = memcmp(a->name, b->name, n);
    if (c || a->nlen != b->nlen)
        return c ? c : (a->nlen < b->nlen ? -1 : 1);
    n = a->vlen < b->vlen ? a->vlen : b->vlen;
    c = memcmp(a->value, b->value, n);
    if (c || a->vlen != b->vlen)
        return c ? c : (a->vlen < b->vlen ? -1 : 1);
    return 0;
}

/* Decodes raw (form rules: '+' is a space) and appends it URI-encoded to arena. */
static int put_reencoded(auth_buf_t *arena, char *tmp, const char *raw, size_t len)
{
    long n = og_urldecode(raw, len, tmp, len, 1);
    if (n < 0)
        return OG_EINVAL;
    auth_buf_put_uriencoded(arena, tmp, (size_t)n, 0);
    return arena->err;
}

int auth_put_canonical_query(auth_buf_t *b, og_str_t query, const char *exclude)
{
    int rc = 0;
    size_t count = 1, used = 0;
    auth_buf_t arena = {0};
    query_param_t *params = NULL;
    char *tmp = NULL;

    if (query.len == 0)
        return 0;
    for (size_t i = 0; i < query.len; i++)
        count += query.base[i] == '&';
    params = calloc(count, sizeof(*params));
    tmp = malloc(query.len);
    if (!params || !tmp) {
        rc = -ENOMEM;
        goto out_free;
    }
    size_t exclude_len = exclude ? strlen(exclude) : 0;
    const char *p = query.base, *end = query.base + query.len;
    while (p < end) {
        const char *amp = memchr(p, '&', (size_t)(end - p));
        const char *stop = amp ? amp : end;
        const char *eq = memchr(p, '=', (size_t)(stop - p));
        const char *kend = eq ? eq : stop;
        /* "a=1&&b=2" and a trailing '&' carry no parameter. */
        if (stop > p && !(exclude && (size_t)(kend - p) == exclude_len && memcmp(p, exclude, exclude_len) == 0)) {
            query_param_t *q = &params[used++];
            q->noff = arena.len;
            if ((rc = put_reencoded(&arena, tmp, p, (size_t)(kend - p))) != 0)
                goto out_free;
            q->nlen = arena.len - q->noff;
            q->voff = arena.len;
            if (eq && (rc = put_reencoded(&arena, tmp, eq + 1, (size_t)(stop - eq - 1))) != 0)
                goto out_free;
            q->vlen = arena.len - q->voff;
        }
        if (stop == end)
            break;
        p = stop + 1;
    }
    /* Parameters that are all empty ("=", "=&=") appended nothing, so the arena has no buffer. */
    const char *base = arena.base ? arena.base : "";
    for (size_t i = 0; i < used; i++) {
        params[i].name = base + params[i].noff;
        params[i].value = base + params[i].voff;
    }
    qsort(params, used, sizeof(*params), query_param_cmp);
    for (size_t i = 0; i < used; i++) {
        if (i)
            auth_buf_putc(b, '&');
        auth_buf_put(b, params[i].name, params[i].nlen);
        auth_buf_putc(b, '=');
        auth_buf_put(b, params[i].value, params[i].vlen);
    }
    rc = b->err;
out_free:
    free(tmp);
    free(params);
    auth_buf_free(&arena);
    return rc;
}

/* Days since 1970-01-01 of a proleptic Gregorian date (H. Hinnant's days_from_civil). */
static int64_t days_from_civil(int64_t y, unsigned m, unsigned d)
{
    y -= m <= 2;
    int64_t era = (y >= 0 ? y : y - 399) / 400;
    unsigned yoe = (unsigned)(y - era * 400);
    unsigned doy = (153 * (m > 2 ? m - 3 : m + 9) + 2) / 5 + d - 1;
    unsigned doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    return era * 146097 + (int64_t)doe - 719468;
}

static int parse_digits(const char *p, size_t n, int *out)
{
    int v = 0;
    for (size_t i = 0; i < n; i++) {
        if (p[i] < '0' || p[i] > '9')
            return OG_EINVAL;
        v = v * 10 + (p[i] - '0');
    }
    *out = v;
    return 0;
}

static int make_time(int y, int mon, int d, int h, int mi, int s, int64_t *out)
{
    if (mon < 1 || mon > 12 || d < 1 || d > 31 || h > 23 || mi > 59 || s > 60)
        return OG_EINVAL;
    *out = days_from_civil(y, (unsigned)mon, (unsigned)d) * 86400 + h * 3600 + mi * 60 + s;
    return 0;
}

int auth_parse_iso8601(og_str_t s, int64_t *out)
{
    int y, mon, d, h, mi, sec;
    if (s.len != 16 || s.base[8] != 'T' || s.base[15] != 'Z')
        return OG_EINVAL;
    if (parse_digits(s.base, 4, &y) || parse_digits(s.base + 4, 2, &mon) || parse_digits(s.base + 6, 2, &d) ||
        parse_digits(s.base + 9, 2, &h) || parse_digits(s.base + 11, 2, &mi) || parse_digits(s.base + 13, 2, &sec))
        return OG_EINVAL;
    /* Only a time written the one way it formats back to: a client signs the x-amz-date it sent
     * ("...T000060Z", February 31), the verifier would sign the normalised time. */
    char back[17];
    if (make_time(y, mon, d, h, mi, sec, out) != 0)
        return OG_EINVAL;
    auth_format_iso8601(*out, back);
    return memcmp(back, s.base, 16) == 0 ? 0 : OG_EINVAL;
}

/* The next run of non-space bytes from *p (advancing past it and the spaces after it). */
static og_str_t next_token(const char **p, const char *end)
{
    while (*p < end && **p == ' ')
        (*p)++;
    const char *start = *p;
    while (*p < end && **p != ' ')
        (*p)++;
    og_str_t tok = {start, (size_t)(*p - start)};
    while (*p < end && **p == ' ')
        (*p)++;
    return tok;
}

int auth_parse_http_date(og_str_t s, int64_t *out)
{
    static const char months[] = "JanFebMarAprMayJunJulAugSepOctNovDec";
    const char *p = s.base, *end = s.base + s.len;
    int d, y, h, mi, sec, mon = 0, off = 0;

    const char *comma = s.len ? memchr(s.base, ',', s.len) : NULL;
    if (comma)
        p = comma + 1;
    og_str_t tday = next_token(&p, end), tmon = next_token(&p, end), tyear = next_token(&p, end);
    og_str_t ttime = next_token(&p, end), tzone = next_token(&p, end);
    if (p != end || tday.len < 1 || tday.len > 2 || tmon.len != 3 || tyear.len != 4 || ttime.len != 8 ||
        ttime.base[2] != ':' || ttime.base[5] != ':')
        return OG_EINVAL;
    for (int i = 0; i < 12; i++)
        if (strncasecmp(tmon.base, months + 3 * i, 3) == 0)
            mon = i + 1;
    if (!mon || parse_digits(tday.base, tday.len, &d) || parse_digits(tyear.base, 4, &y) ||
        parse_digits(ttime.base, 2, &h) || parse_digits(ttime.base + 3, 2, &mi) ||
        parse_digits(ttime.base + 6, 2, &sec))
        return OG_EINVAL;
    if (og_str_ieq(tzone, "GMT") || og_str_ieq(tzone, "UTC") || og_str_eq(tzone, "Z")) {
        off = 0;
    } else if (tzone.len == 5 && (tzone.base[0] == '+' || tzone.base[0] == '-')) {
        int zh, zm;
        if (parse_digits(tzone.base + 1, 2, &zh) || parse_digits(tzone.base + 3, 2, &zm))
            return OG_EINVAL;
        off = (zh * 3600 + zm * 60) * (tzone.base[0] == '-' ? -1 : 1);
    } else {
        return OG_EINVAL;
    }
    int rc = make_time(y, mon, d, h, mi, sec, out);
    if (rc == 0)
        *out -= off;
    return rc;
}

void auth_format_iso8601(int64_t t, char out[17])
{
    /* civil_from_days, the inverse of days_from_civil above. */
    int64_t days = t >= 0 ? t / 86400 : (t - 86399) / 86400;
    int64_t secs = t - days * 86400;
    int64_t z = days + 719468;
    int64_t era = (z >= 0 ? z : z - 146096) / 146097;
    unsigned doe = (unsigned)(z - era * 146097);
    unsigned yoe = (doe - doe / 1460 + doe / 36524 - doe / 146096) / 365;
    unsigned doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    unsigned mp = (5 * doy + 2) / 153;
    unsigned d = doy - (153 * mp + 2) / 5 + 1;
    unsigned m = mp < 10 ? mp + 3 : mp - 9;
    int64_t y = (int64_t)yoe + era * 400 + (m <= 2);
    /* Years outside 0..9999 cannot be written in this format; clamp rather than overflow. */
    if (y < 0)
        y = 0;
    if (y > 9999)
        y = 9999;
    unsigned hh = (unsigned)(secs / 3600), mm = (unsigned)(secs / 60 % 60), ss = (unsigned)(secs % 60);
    char *o = out;
    unsigned vals[] = {(unsigned)y / 100, (unsigned)y % 100, m, d, hh, mm, ss};
    for (size_t i = 0; i < sizeof(vals) / sizeof(vals[0]); i++) {
        if (i == 4)
            *o++ = 'T';
        *o++ = (char)('0' + vals[i] / 10);
        *o++ = (char)('0' + vals[i] % 10);
    }
    *o++ = 'Z';
    *o = '\0';
}

int auth_header_ref_cmp(const void *pa, const void *pb)
{
    const auth_header_ref_t *a = pa, *b = pb;
    size_t n = a->h->name.len < b->h->name.len ? a->h->name.len : b->h->name.len;
    int c = strncasecmp(a->h->name.base, b->h->name.base, n);
    if (c)
        return c;
    if (a->h->name.len != b->h->name.len)
        return a->h->name.len < b->h->name.len ? -1 : 1;
    return a->idx < b->idx ? -1 : a->idx > b->idx;
}

int auth_str_ieq(og_str_t a, og_str_t b)
{
    return a.len == b.len && strncasecmp(a.base, b.base, a.len) == 0;
}

int auth_lookup_secret(auth_lookup_fn lookup, void *ctx, og_str_t key, char *secret)
{
    if (key.len == 0 || key.len >= AUTH_KEY_MAX)
        return AUTH_ENOKEY;
    secret[0] = '\0';
    int rc = lookup(ctx, key, secret, AUTH_SECRET_MAX);
    return rc == OG_ENOTFOUND ? AUTH_ENOKEY : rc;
}

void auth_result_set_key(auth_result_t *out, og_str_t key)
{
    memcpy(out->access_key, key.base, key.len);
    out->access_key[key.len] = '\0';
}
