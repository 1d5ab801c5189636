/* Shared pieces of the S3 layer: the response helpers that put x-amz-request-id on every
 * answer and format errors as S3 XML, the one mapping of error codes to S3 errors
 * (s3_error_on), and the small-body reader. */
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <time.h>

#include <openssl/evp.h>

#include "s3_int.h"


/* Copies x-amz-request-id, the version headers, r's CORS headers and extra into one array for http_resp_* (leaving
 * room for one more: Content-Type). */
#define MAX_EXTRA 64
static size_t with_request_id(s3_req_t *r, og_header_t *out, const og_header_t *extra, size_t n)
{
    size_t k = 0;
    out[k++] = (og_header_t){OG_STR_LIT("x-amz-request-id"), og_str(r->request_id)};
    if (r->version_id[0] != '\0')
        out[k++] = (og_header_t){OG_STR_LIT("x-amz-version-id"), og_str(r->version_id)};
    if (r->delete_marker)
        out[k++] = (og_header_t){OG_STR_LIT("x-amz-delete-marker"), OG_STR_LIT("true")};
    for (size_t i = 0; i < r->num_cors; i++)
        out[k++] = r->cors[i];
    for (size_t i = 0; i < n && k < MAX_EXTRA - 1; i++)
        out[k++] = extra[i];
    return k;
}

void s3_send(s3_req_t *r, int status, const og_header_t *extra, size_t n, const void *body, size_t len)
{
    og_header_t hdrs[MAX_EXTRA];
    size_t k = with_request_id(r, hdrs, extra, n);
    r->responded = 1;
    r->status = status;
    http_resp_send(r->http, status, hdrs, k, body, len);
}

int s3_read_body(s3_req_t *r, size_t max, char **out, size_t *len)
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
        ssize_t got = http_req_read(r->http, buf + n, cap - n);
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

int s3_payload_verify(const s3_req_t *r, const void *body, size_t len)
{
    uint8_t h[32];
    unsigned int hl = 0;
    if (r->auth.payload != AUTH_PAYLOAD_SHA256)
        return 0;
    if (!EVP_Digest(body, len, h, &hl, EVP_sha256(), NULL) || memcmp(h, r->auth.payload_sha256, 32) != 0)
        return S3_ESHA256;
    return 0;
}

void s3_send_xml(s3_req_t *r, int status, const og_header_t *extra, size_t n, const char *xml, size_t len)
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
        http_resp_send(r->http, 500, hdrs, k - 1, NULL, 0);
        return;
    }
    memcpy(buf, decl, sizeof(decl) - 1);
    memcpy(buf + sizeof(decl) - 1, xml, len);
    http_resp_send(r->http, status, hdrs, k, buf, sizeof(decl) - 1 + len);
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
        {"SlowDown", "Please reduce your request rate."},
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

/* Can s be XML 1.0 character data once escaped? UTF-8, and no control character but tab, LF, CR. */
static int xml_text_ok(const char *s, size_t len)
{
    for (size_t i = 0; i < len; i++)
        if ((unsigned char)s[i] < 0x20 && s[i] != '\t' && s[i] != '\n' && s[i] != '\r')
            return 0;
    return og_utf8_valid(s, len, 0);
}

void s3_error(s3_req_t *r, int status, const char *code, const char *message, const char *extra_xml)
{
    og_buf_t b = {0};
    if (message == NULL)
        message = default_message(code);
    if (r->site != NULL) { /* a website request: its error documents and HTML pages */
        s3_site_error(r, status, code, message);
        return;
    }
    og_buf_puts(&b, "<Error>");
    og_buf_elem(&b, "Code", code, strlen(code));
    og_buf_elem(&b, "Message", message, strlen(message));
    /* The names are echoed only when the document stays well-formed: an error about a name with a
     * control character or bytes that are not UTF-8 must still parse (the Code is what counts). */
    if (r->bucket[0] && xml_text_ok(r->bucket, strlen(r->bucket)))
        og_buf_elem(&b, "BucketName", r->bucket, strlen(r->bucket));
    if (r->key != NULL && xml_text_ok(r->key, r->key_len))
        og_buf_elem(&b, "Key", r->key, r->key_len);
    if (xml_text_ok(r->resource.base, r->resource.len))
        og_buf_elem(&b, "Resource", r->resource.base, r->resource.len);
    og_buf_elem(&b, "RequestId", r->request_id, strlen(r->request_id));
    if (extra_xml != NULL)
        og_buf_puts(&b, extra_xml);
    og_buf_puts(&b, "</Error>");
    /* A HEAD error keeps the document's Content-Type (as S3) and loses its body in http_resp_send. */
    if (b.oom)
        s3_send(r, 500, NULL, 0, NULL, 0);
    else
        s3_send_xml(r, status, NULL, 0, b.buf, b.len);
    og_buf_free(&b);
}

/* OG_ENOTFOUND, answered by what was not found. */
static void not_found(s3_req_t *r, s3_on_t on)
{
    switch (on) {
    case S3_ON_BUCKET:
        s3_error(r, 404, "NoSuchBucket", NULL, NULL);
        break;
    case S3_ON_UPLOAD:
        s3_error(r, 404, "NoSuchUpload", "The specified upload does not exist.", NULL);
        break;
    case S3_ON_SOURCE_BUCKET:
        s3_error(r, 404, "NoSuchBucket", "The specified source bucket does not exist.", NULL);
        break;
    case S3_ON_SOURCE_KEY:
        s3_error(r, 404, "NoSuchKey", "The specified source key does not exist.", NULL);
        break;
    default:
        s3_error(r, 404, r->key ? "NoSuchKey" : "NoSuchBucket", NULL, NULL);
        break;
    }
}

/* The errors of a request body (s3_body.h's source errors). 1 when rc was one and is answered. */
static int body_error(s3_req_t *r, int rc)
{
    switch (rc) {
    case HTTP_EABORTED:
        r->responded = 1; /* the client is gone: there is nobody to answer */
        return 1;
    case AUTH_ESIGNATURE:
        s3_error(r, 403, "SignatureDoesNotMatch",
                    "The chunk or trailer signature we calculated does not match the signature you provided.", NULL);
        return 1;
    case HTTP_EBODY:
    case OG_EPROTO:
        s3_error(r, 400, "IncompleteBody", "The request body is malformed or does not have the declared size.",
                    NULL);
        return 1;
    case OG_EBADDIGEST:
        s3_error(r, 400, "BadDigest", "The checksum you specified did not match the calculated checksum.", NULL);
        return 1;
    case OG_EINVAL:
        s3_error(r, 400, "InvalidRequest", "A checksum announced in x-amz-trailer is missing or malformed.",
                    NULL);
        return 1;
    case S3_EBODYCONF:
        s3_error(r, 400, "InvalidArgument",
                    "Invalid x-amz-checksum-*, x-amz-trailer, x-amz-decoded-content-length or streaming mode.",
                    NULL);
        return 1;
    default:
        return 0;
    }
}

/* AUTH_EREGION in AWS's words: the region signed for and the one expected, also as <Region>. */
static void region_error(s3_req_t *r)
{
    int query = r->auth.kind == AUTH_V4_QUERY;
    char msg[256], extra[128];
    snprintf(msg, sizeof(msg), "%s; the region '%s' is wrong; expecting '%s'",
             query ? "Error parsing the X-Amz-Credential parameter" : "The authorization header is malformed",
             r->auth.region, r->gw->region);
    snprintf(extra, sizeof(extra), "<Region>%s</Region>", r->gw->region);
    s3_error(r, 400, query ? "AuthorizationQueryParametersError" : "AuthorizationHeaderMalformed", msg, extra);
}

/* A failed authentication (AUTH_E*), as auth_error_info names it; a skewed clock also says
 * both times and the allowed skew. */
static void auth_error(s3_req_t *r, int rc)
{
    int status;
    const char *code, *msg;
    char extra[256], req_time[32], srv_time[32];
    if (rc == AUTH_EANONYMOUS) {
        s3_error(r, 403, "AccessDenied", NULL, NULL);
        return;
    }
    if (rc == AUTH_EREGION) {
        region_error(r);
        return;
    }
    auth_error_info(rc, &status, &code, &msg);
    if (rc == AUTH_ESKEW) {
        http_iso8601_format((uint64_t)r->auth.request_time * 1000000000u, req_time);
        http_iso8601_format(og_time_ns(), srv_time);
        snprintf(extra, sizeof(extra),
                 "<RequestTime>%s</RequestTime><ServerTime>%s</ServerTime>"
                 "<MaxAllowedSkewMilliseconds>%d</MaxAllowedSkewMilliseconds>",
                 req_time, srv_time, AUTH_SKEW_SECONDS * 1000);
    }
    s3_error(r, status, code, msg, rc == AUTH_ESKEW ? extra : NULL);
}

void s3_error_on(s3_req_t *r, int rc, s3_on_t on)
{
    if (on == S3_ON_BODY && body_error(r, rc))
        return;
    if (rc >= AUTH_EREGION && rc <= AUTH_EANONYMOUS) {
        auth_error(r, rc);
        return;
    }
    if (on == S3_ON_SEGMENTS && (rc == OG_ENOTFOUND || rc == OG_ECORRUPT || rc == -EACCES || rc == OG_EPROTO)) {
        /* deleted or changed since the manifest was written (or, for a DLO, since the listing
         * that sized it: the bytes come out shorter or longer, OG_EPROTO), as s3api answers it */
        s3_error(r, 409, "BrokenMPU", "Multipart upload has broken segment data.", NULL);
        return;
    }
    if (on == S3_ON_STORED && (rc == OG_ENOTFOUND || rc == OG_EPROTO))
        rc = OG_ECORRUPT;
    switch (rc) {
    case OG_ENOTFOUND:
        not_found(r, on);
        break;
    case S3_EDENIED:
        s3_error(r, 403, "AccessDenied", NULL, NULL);
        break;
    case S3_ESHA256:
        s3_error(r, 400, "XAmzContentSHA256Mismatch", NULL, NULL);
        break;
    case S3_EMALFORMED:
        s3_error(r, 400, "MalformedXML", NULL, NULL);
        break;
    case S3_EPARTORDER:
        s3_error(r, 400, "InvalidPartOrder", "The list of parts was not in ascending order.", NULL);
        break;
    case S3_EPARTMISSING:
        s3_error(r, 400, "InvalidPart", "One or more of the specified parts could not be found.", NULL);
        break;
    case S3_EPARTCHANGED:
        s3_error(r, 400, "InvalidPart",
                    "A part is missing, was uploaded again meanwhile, or its checksum does not match.", NULL);
        break;
    case S3_EPARTSMALL:
        s3_error(r, 400, "EntityTooSmall", "Your proposed upload is smaller than the minimum allowed size.", NULL);
        break;
    case OG_EQUORUM:
    case OG_ETIMEOUT:
        s3_error(r, 503, "ServiceUnavailable", "Not enough storage replicas are reachable to serve this request.",
                    NULL);
        break;
    case OG_ETOOBIG:
        s3_error(r, 400, "EntityTooLarge", NULL, NULL);
        break;
    case OG_EINVAL:
        s3_error(r, 400, "InvalidArgument", NULL, NULL);
        break;
    case S3_EREDIRECT:
        s3_error(r, 400, "InvalidRedirectLocation",
                 "The website redirect location must have a prefix of 'http://' or 'https://' or '/'.", NULL);
        break;
    case S3_EINVALIDTAG:
        s3_error(r, 400, "InvalidTag", "The tag set is over S3's limits or holds a character tags may not.", NULL);
        break;
    case CORE_EPRECOND:
        s3_error(r, 412, "PreconditionFailed", NULL, NULL);
        break;
    case CORE_ECONFLICT:
        s3_error(r, 409, "ConditionalRequestConflict",
                 "A conflicting operation occurred. If using PutObject you can retry the request. If using "
                 "multipart upload you should initiate another CreateMultipartUpload request and re-upload each "
                 "part.",
                 NULL);
        break;
    case CORE_ELOCKED:
        s3_error(r, 403, "AccessDenied", "Access Denied because object protected by object lock.", NULL);
        break;
    case CORE_EIDVER:
        s3_error(r, 501, "NotImplemented",
                 "Versioning and Object Lock are not implemented for a bucket whose name another account holds.",
                 NULL);
        break;
    case CORE_EQUOTA:
        s3_error(r, 403, "QuotaExceeded", "The write would exceed a quota of the bucket or account.", NULL);
        break;
    case OG_EBADDIGEST:
        s3_error(r, 400, "BadDigest", NULL, NULL);
        break;
    default:
        s3_error(r, 500, "InternalError", NULL, NULL);
        break;
    }
}

void s3_error_rc(s3_req_t *r, int rc) { s3_error_on(r, rc, S3_ON_TARGET); }
