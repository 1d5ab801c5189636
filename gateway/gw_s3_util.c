/* Shared pieces of the S3 layer: text buffers, XML escaping, dates, and the response helpers
 * that put x-amz-request-id on every answer and format errors as S3 XML. */
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <time.h>

#include "gw_s3.h"
#include "gw_swift.h"

static int xbuf_reserve(gw_xbuf_t *b, size_t more)
{
    if (b->oom)
        return -ENOMEM;
    if (b->len + more + 1 <= b->cap)
        return 0;
    size_t cap = b->cap ? b->cap : 1024;
    while (cap < b->len + more + 1)
        cap *= 2;
    char *nb = realloc(b->buf, cap);
    if (nb == NULL) {
        b->oom = 1;
        return -ENOMEM;
    }
    b->buf = nb, b->cap = cap;
    return 0;
}

int gw_xbuf_put(gw_xbuf_t *b, const char *s, size_t n)
{
    if (xbuf_reserve(b, n) != 0)
        return -ENOMEM;
    if (n)
        memcpy(b->buf + b->len, s, n);
    b->len += n;
    b->buf[b->len] = '\0';
    return 0;
}

int gw_xbuf_puts(gw_xbuf_t *b, const char *s) { return gw_xbuf_put(b, s, strlen(s)); }

int gw_xbuf_printf(gw_xbuf_t *b, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(NULL, 0, fmt, ap);
    va_end(ap);
    if (n < 0 || xbuf_reserve(b, (size_t)n) != 0)
        return -ENOMEM;
    va_start(ap, fmt);
    vsnprintf(b->buf + b->len, (size_t)n + 1, fmt, ap);
    va_end(ap);
    b->len += (size_t)n;
    return 0;
}

int gw_xbuf_escape(gw_xbuf_t *b, const char *s, size_t n)
{
    size_t run = 0; /* bytes that need no escaping, appended in one go */
    for (size_t i = 0; i < n; i++) {
        unsigned char c = (unsigned char)s[i];
        const char *rep = NULL;
        char num[16];
        switch (c) {
        case '&': rep = "&amp;"; break;
        case '<': rep = "&lt;"; break;
        case '>': rep = "&gt;"; break;
        case '"': rep = "&quot;"; break;
        case '\'': rep = "&apos;"; break;
        default:
            if (c < 0x20 || c == 0x7f) {
                snprintf(num, sizeof(num), "&#x%X;", c);
                rep = num;
            }
        }
        if (rep == NULL) {
            run++;
            continue;
        }
        if (gw_xbuf_put(b, s + i - run, run) != 0 || gw_xbuf_puts(b, rep) != 0)
            return -ENOMEM;
        run = 0;
    }
    return gw_xbuf_put(b, s + n - run, run);
}

int gw_xbuf_elem(gw_xbuf_t *b, const char *name, const char *s, size_t n)
{
    gw_xbuf_printf(b, "<%s>", name);
    gw_xbuf_escape(b, s, n);
    return gw_xbuf_printf(b, "</%s>", name);
}

void gw_xbuf_free(gw_xbuf_t *b)
{
    free(b->buf);
    memset(b, 0, sizeof(*b));
}

int gw_query_decode(og_str_t query, const char *name, gw_xbuf_t *b)
{
    og_str_t raw;
    if (!og_query_get(query, name, &raw))
        return 0;
    if (gw_xbuf_put(b, raw.base, raw.len) != 0)
        return -ENOMEM;
    long n = og_urldecode(b->buf, b->len, b->buf, b->len, 1);
    if (n < 0)
        return OG_EINVAL;
    b->len = (size_t)n;
    b->buf[n] = '\0';
    return 1;
}

void gw_fmt_iso8601(uint64_t ns, char out[32])
{
    time_t t = (time_t)(ns / 1000000000u);
    struct tm tm;
    gmtime_r(&t, &tm);
    size_t n = strftime(out, 32, "%Y-%m-%dT%H:%M:%S", &tm);
    snprintf(out + n, 32 - n, ".%03uZ", (unsigned)(ns / 1000000u % 1000u));
}

void gw_fmt_http_date(uint64_t ns, char out[32])
{
    time_t t = (time_t)(ns / 1000000000u);
    struct tm tm;
    gmtime_r(&t, &tm);
    strftime(out, 32, "%a, %d %b %Y %H:%M:%S GMT", &tm);
}

/* Copies extra headers after x-amz-request-id into one array for gw_resp_*. */
#define MAX_EXTRA 64
static size_t with_request_id(gw_s3_req_t *r, og_header_t *out, const og_header_t *extra, size_t n)
{
    size_t k = 0;
    out[k++] = (og_header_t){OG_STR_LIT("x-amz-request-id"), og_str(r->request_id)};
    for (size_t i = 0; i < n && k < MAX_EXTRA; i++)
        out[k++] = extra[i];
    return k;
}

void gw_s3_send(gw_s3_req_t *r, int status, const og_header_t *extra, size_t n, const void *body, size_t len)
{
    og_header_t hdrs[MAX_EXTRA];
    size_t k = with_request_id(r, hdrs, extra, n);
    r->responded = 1;
    r->status = status;
    gw_resp_send(r->http, status, hdrs, k, body, len);
}

int gw_s3_read_body(gw_s3_req_t *r, size_t max, char **out, size_t *len)
{
    int64_t clen = r->info->content_length;
    size_t cap = clen > 0 && (uint64_t)clen <= max ? (size_t)clen : 16384, n = 0;
    char *buf = NULL;
    int rc = 0;

    if (clen > 0 && (uint64_t)clen > max)
        return OG_ETOOBIG;
    if ((buf = malloc(cap + 1)) == NULL)
        return -ENOMEM;
    for (;;) {
        if (n == cap) {
            /* One byte past max proves the body too big without reading it all. */
            if (cap > max) {
                rc = OG_ETOOBIG;
                goto out_free_buf;
            }
            cap = cap * 2 > max ? max + 1 : cap * 2;
            char *nb = realloc(buf, cap + 1);
            if (nb == NULL) {
                rc = -ENOMEM;
                goto out_free_buf;
            }
            buf = nb;
        }
        ssize_t got = gw_req_read(r->http, buf + n, cap - n);
        if (got < 0) {
            rc = (int)got;
            goto out_free_buf;
        }
        if (got == 0)
            break;
        n += (size_t)got;
    }
    if (n > max) {
        rc = OG_ETOOBIG;
        goto out_free_buf;
    }
    *out = buf;
    *len = n;
    return 0;

out_free_buf:
    free(buf);
    return rc;
}

void gw_s3_send_xml(gw_s3_req_t *r, int status, const og_header_t *extra, size_t n, const char *xml, size_t len)
{
    static const char decl[] = "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n";
    og_header_t hdrs[MAX_EXTRA];
    size_t k = with_request_id(r, hdrs, extra, n);
    if (k < MAX_EXTRA)
        hdrs[k++] = (og_header_t){OG_STR_LIT("Content-Type"), OG_STR_LIT("application/xml")};
    r->responded = 1;
    r->status = status;
    /* Declaration and body go out as one response: copy into one buffer (error and listing
     * documents are small compared with object data). */
    char *buf = malloc(sizeof(decl) - 1 + len);
    if (buf == NULL) {
        gw_resp_send(r->http, 500, hdrs, k - 1, NULL, 0);
        return;
    }
    memcpy(buf, decl, sizeof(decl) - 1);
    memcpy(buf + sizeof(decl) - 1, xml, len);
    gw_resp_send(r->http, status, hdrs, k, buf, sizeof(decl) - 1 + len);
    free(buf);
}

static const char *default_message(const char *code)
{
    static const struct {
        const char *code, *msg;
    } table[] = {
        {"NoSuchKey", "The specified key does not exist."},
        {"NoSuchBucket", "The specified bucket does not exist."},
        {"BucketNotEmpty", "The bucket you tried to delete is not empty."},
        {"BucketAlreadyExists", "The requested bucket name is not available."},
        {"BucketAlreadyOwnedByYou", "Your previous request to create the named bucket succeeded and you already own it."},
        {"InvalidBucketName", "The specified bucket is not valid."},
        {"AccessDenied", "Access Denied"},
        {"BadDigest", "The Content-MD5 you specified did not match what we received."},
        {"InvalidDigest", "The Content-MD5 you specified is not valid."},
        {"InvalidRange", "The requested range is not satisfiable"},
        {"PreconditionFailed", "At least one of the pre-conditions you specified did not hold"},
        {"MalformedXML", "The XML you provided was not well-formed or did not validate against our published schema."},
        {"MethodNotAllowed", "The specified method is not allowed against this resource."},
        {"NotImplemented", "A header you provided implies functionality that is not implemented."},
        {"ServiceUnavailable", "Please reduce your request rate."},
        {"InternalError", "We encountered an internal error. Please try again."},
        {"EntityTooLarge", "Your proposed upload exceeds the maximum allowed object size."},
        {"IncompleteBody", "You did not provide the number of bytes specified by the Content-Length HTTP header."},
        {"MissingContentLength", "You must provide the Content-Length HTTP header."},
        {"XAmzContentSHA256Mismatch", "The provided 'x-amz-content-sha256' header does not match what was computed."},
        {"InvalidArgument", "Invalid Argument"},
        {"KeyTooLongError", "Your key is too long."},
    };
    for (size_t i = 0; i < sizeof(table) / sizeof(table[0]); i++)
        if (strcmp(table[i].code, code) == 0)
            return table[i].msg;
    return code;
}

void gw_s3_error(gw_s3_req_t *r, int status, const char *code, const char *message, const char *extra_xml)
{
    gw_xbuf_t b = {0};
    if (message == NULL)
        message = default_message(code);
    gw_xbuf_puts(&b, "<Error>");
    gw_xbuf_elem(&b, "Code", code, strlen(code));
    gw_xbuf_elem(&b, "Message", message, strlen(message));
    if (r->bucket[0])
        gw_xbuf_elem(&b, "BucketName", r->bucket, strlen(r->bucket));
    if (r->key != NULL)
        gw_xbuf_elem(&b, "Key", r->key, r->key_len);
    gw_xbuf_elem(&b, "Resource", r->resource.base, r->resource.len);
    gw_xbuf_elem(&b, "RequestId", r->request_id, strlen(r->request_id));
    if (extra_xml != NULL)
        gw_xbuf_puts(&b, extra_xml);
    gw_xbuf_puts(&b, "</Error>");
    if (b.oom) {
        gw_s3_send(r, 500, NULL, 0, NULL, 0);
    } else if (r->info->is_head) {
        /* HEAD errors have no body; clients read the status alone. */
        gw_s3_send(r, status, NULL, 0, NULL, 0);
    } else {
        gw_s3_send_xml(r, status, NULL, 0, b.buf, b.len);
    }
    gw_xbuf_free(&b);
}

void gw_s3_error_rc(gw_s3_req_t *r, int rc)
{
    switch (rc) {
    case OG_ENOTFOUND:
        gw_s3_error(r, 404, r->key ? "NoSuchKey" : "NoSuchBucket", NULL, NULL);
        break;
    case OG_EQUORUM:
    case OG_ETIMEOUT:
        gw_s3_error(r, 503, "ServiceUnavailable", "Not enough storage replicas are reachable to serve this request.",
                    NULL);
        break;
    case OG_ETOOBIG:
        gw_s3_error(r, 400, "EntityTooLarge", NULL, NULL);
        break;
    case OG_EINVAL:
        gw_s3_error(r, 400, "InvalidArgument", NULL, NULL);
        break;
    case GW_EQUOTA:
        gw_s3_error(r, 403, "QuotaExceeded", "The write would exceed the container's or account's quota.", NULL);
        break;
    case OG_EBADDIGEST:
        gw_s3_error(r, 400, "BadDigest", NULL, NULL);
        break;
    default:
        gw_s3_error(r, 500, "InternalError", NULL, NULL);
        break;
    }
}
