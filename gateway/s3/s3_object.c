/*
 * Object operations: PutObject, GetObject/HeadObject, DeleteObject.
 *
 * Data path: the protocol-neutral object layer (core/core.h). PUT streams the body through a
 * s3_body_t (s3_body.h: aws-chunked decoding with chunk signatures, x-amz-checksum-* computed on
 * the way) into core_obj_write (content-defined chunks, stored in batches at quorum; MD5 for the
 * ETag and the payload SHA-256 when the signature covers it, computed in the same pass) and
 * commits the record last, after every check passed (signatures, checksums, Content-MD5, quota),
 * so a failed or cut-off upload commits nothing (its chunks are unreferenced and left to garbage
 * collection). GET streams the requested range (or ?partNumber) with core_obj_read, which reads
 * only the chunks that overlap it, with bounded memory. Objects past a Swift X-Delete-At are
 * absent here as in Swift. A Swift large object (SLO manifest, or DLO with X-Object-Manifest) is
 * served as s3api serves it: its segments' bytes, total size and ETag, streamed by the Swift
 * readers (swift_slo.c), which check every segment before its bytes go out. SSE-C and SSE-S3
 * (s3_sse.c): PUT writes under the object key, GET/HEAD first check the request's key against the
 * record and read with core_obj_read_key.
 *
 * s3_handle has checked that the bucket exists and belongs to the caller.
 */
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <strings.h>

#include <openssl/evp.h>

#include "s3_body.h"
#include "core/core.h"
#include "http/http.h"
#include "s3_int.h"

/* The largest single PUT S3 accepts; bigger objects need multipart upload. */
#define PUT_MAX_SIZE (5ull << 30)
/* S3's limit on user metadata: names and values of x-amz-meta-* together. */
#define USER_META_MAX 2048

/* ---------------------------------------------------------------- PUT */

/* The headers an object keeps and replays on GET, besides Content-Type and x-amz-meta-*. */
static const char *const stored_standard[] = {"Cache-Control", "Content-Disposition", "Content-Encoding",
                                              "Content-Language", "Expires"};

int s3_stored_headers(s3_req_t *r, size_t extra, og_header_t **out, size_t *n, char **names, og_str_t *ctype,
                         char *enc, size_t enc_cap)
{
    const http_reqinfo_t *info = r->info;
    size_t names_len = 0, k = 0, meta_bytes = 0;
    *out = NULL, *names = NULL;
    *ctype = OG_STR_LIT("binary/octet-stream");
    /* names, then room for decoded metadata values (never longer than their encoding) */
    for (size_t i = 0; i < info->num_headers; i++)
        names_len += info->headers[i].name.len + info->headers[i].value.len;
    og_header_t *hdrs = malloc((info->num_headers + extra + 1) * sizeof(*hdrs));
    char *nb = malloc(names_len + 1), *np = nb;
    if (hdrs == NULL || nb == NULL) {
        free(hdrs);
        free(nb);
        return -ENOMEM;
    }
    for (size_t i = 0; i < info->num_headers; i++) {
        og_str_t name = info->headers[i].name, value = info->headers[i].value;
        if (name.len > 11 && strncasecmp(name.base, "x-amz-meta-", 11) == 0) {
            for (size_t j = 0; j < name.len; j++)
                np[j] = (char)((name.base[j] >= 'A' && name.base[j] <= 'Z') ? name.base[j] + 32 : name.base[j]);
            og_str_t stored = value;
            long dl = s3_meta_decode(value, np + name.len);
            if (dl >= 0)
                stored = (og_str_t){np + name.len, (size_t)dl};
            hdrs[k++] = (og_header_t){{np, name.len}, stored};
            np += name.len + (dl >= 0 ? (size_t)dl : 0);
            meta_bytes += name.len - 11 + value.len;
            continue;
        }
        if (og_str_ieq(name, S3_TAGS_HDR)) {
            int rc = s3_tags_check(value);
            if (rc != 0) {
                free(hdrs);
                free(nb);
                return rc;
            }
            if (value.len > 0)
                hdrs[k++] = (og_header_t){OG_STR_LIT(S3_TAGS_HDR), value};
            continue;
        }
        if (og_str_ieq(name, S3_REDIRECT_HDR)) {
            if (!s3_redirect_ok(value)) {
                free(hdrs);
                free(nb);
                return S3_EREDIRECT;
            }
            hdrs[k++] = (og_header_t){OG_STR_LIT(S3_REDIRECT_HDR), value};
            continue;
        }
        if (og_str_ieq(name, "content-type")) {
            if (value.len > 0)
                *ctype = value;
            continue;
        }
        /* without enc, Content-Encoding is one of stored_standard: kept as sent */
        if (enc != NULL && og_str_ieq(name, "content-encoding")) {
            og_str_t v = s3_body_stored_encoding(value, enc, enc_cap);
            if (v.len > 0)
                hdrs[k++] = (og_header_t){OG_STR_LIT("Content-Encoding"), v};
            continue;
        }
        for (size_t j = 0; j < sizeof(stored_standard) / sizeof(stored_standard[0]); j++)
            if (og_str_ieq(name, stored_standard[j])) {
                hdrs[k++] = (og_header_t){og_str(stored_standard[j]), value};
                break;
            }
    }
    if (r->acl.len > 0) /* the ACL the request asked for (s3_acl_request) */
        hdrs[k++] = (og_header_t){OG_STR_LIT(IAM_S3ACL_HEADER), {r->acl.buf, r->acl.len}};
    if (meta_bytes > USER_META_MAX) {
        free(hdrs);
        free(nb);
        return OG_ETOOBIG;
    }
    *out = hdrs, *n = k, *names = nb;
    return 0;
}

/* Content-MD5: base64 of exactly 16 bytes. 0 or OG_EINVAL. */
static int parse_content_md5(og_str_t v, uint8_t out[16])
{
    unsigned char tmp[18];
    if (v.len != 24 || v.base[22] != '=' || v.base[23] != '=')
        return OG_EINVAL;
    /* EVP_DecodeBlock decodes the padding as zero bytes: 24 characters always give 18. */
    if (EVP_DecodeBlock(tmp, (const unsigned char *)v.base, 24) != 18)
        return OG_EINVAL;
    memcpy(out, tmp, 16);
    return 0;
}

/* Streams the body into new chunks (core_obj_write), encrypted as sse says, and ends it (its
 * checksums into *sums, checked against any it declared). 0 with *d (core_obj_data_free), or a code to answer with S3_ON_BODY;
 * nothing is committed either way. */
static int put_write(s3_req_t *r, s3_body_t *body, int64_t expect, const s3_sse_t *sse, core_obj_data_t *d,
                     s3_body_sums_t *sums)
{
    core_obj_put_opts_t opts = {.key = sse->mode ? sse->key : NULL, .max_size = PUT_MAX_SIZE, .expect_size = expect,
                              .digests = r->auth.payload == AUTH_PAYLOAD_SHA256 ? CORE_OBJ_SHA256 : 0};
    int rc = core_obj_write(r->gw->cluster, &opts, s3_body_src(body), d);
    if (rc == 0 && (rc = s3_body_finish(body, sums)) != 0)
        core_obj_data_free(d);
    return rc;
}

/* X-Onggi-Immutable-Url of the current version m of r's object into *h, with its text in url
 * (CORE_PIN_URL_CAP bytes): 1, or 0 when a version was asked for (an immutable URL names what the
 * object's URL serves) or it does not fit. The account is the bucket owner's (s3_authorize), else
 * the caller's. */
static size_t pin_header(const s3_req_t *r, const core_meta_t *m, char *url, og_header_t *h)
{
    size_t ul;
    if (og_query_get(r->info->query, "versionId", NULL) ||
        (ul = core_pin_url(r->bucket_owner[0] ? r->bucket_owner : r->user.account, r->bucket, (og_str_t){r->key, r->key_len}, m->md5, url)) == 0)
        return 0;
    *h = (og_header_t){OG_STR_LIT("X-Onggi-Immutable-Url"), {url, ul}};
    return 1;
}

/* Commits the object's record (hdrs has room for S3_CK_COUNT more after nhdrs: the checksums,
 * stored with the object; sse marks it encrypted; lock its retention) under the request's
 * conditions and answers 200 with its ETag, checksums and encryption headers. 0 or a
 * core_obj_commit code, unanswered. */
static int put_commit(s3_req_t *r, const s3_cond_t *cond, og_header_t *hdrs, size_t nhdrs, og_str_t ctype,
                      const core_obj_data_t *d, const s3_body_sums_t *sums, const s3_sse_t *sse,
                      const core_lock_t *lock)
{
    og_header_t reply[4 + S3_CK_COUNT];
    char etag[48], ckv[S3_CK_COUNT][S3_CK_B64_MAX], pin[CORE_PIN_URL_CAP];
    size_t nck = s3_body_sums_headers(sums, reply + 1, ckv);
    core_meta_t m = {.size = d->size, .content_type = ctype, .owner = s3_new_owner(r)};
    int rc;

    memcpy(hdrs + nhdrs, reply + 1, nck * sizeof(*hdrs));
    memcpy(m.md5, d->md5, 16);
    m.lock = *lock;
    m.headers = hdrs, m.num_headers = nhdrs + nck;
    m.chunks = d->chunks, m.num_chunks = d->num_chunks;
    m.inline_data = (og_str_t){d->inline_data, d->inline_len};
    s3_sse_apply(sse, &m);
    if ((rc = s3_cond_commit(r, cond, &m)) != 0)
        return rc;
    s3_version_answer(r, &m, 0);
    reply[0] = (og_header_t){OG_STR_LIT("ETag"), {etag, core_meta_etag(&m, etag)}};
    nck += s3_sse_headers(sse, reply + 1 + nck);
    nck += pin_header(r, &m, pin, reply + 1 + nck);
    s3_send(r, 200, reply, 1 + nck, NULL, 0);
    return 0;
}

/* PutObject: every check (signatures, checksums, Content-MD5, quota) passes before the record is
 * committed, so a refused or cut-off upload leaves only unreferenced chunks. */
void s3_put_object(s3_req_t *r)
{
    const http_reqinfo_t *info = r->info;
    og_str_t cmd5 = http_req_header(r->http, "content-md5");
    uint8_t want_md5[16];
    og_header_t *hdrs = NULL;
    size_t nhdrs = 0;
    char *names = NULL, enc[256];
    og_str_t ctype;
    s3_body_t *body = NULL;
    s3_body_sums_t sums;
    core_obj_data_t d;
    s3_cond_t cond;
    s3_sse_t sse;
    core_lock_t lock;
    int64_t expect;
    int rc;
    /* the size was not known before the body came: chunked, or aws-chunked (whose declared
     * decoded length is only a claim until the body ends) */
    int size_late = info->chunked || r->auth.payload == AUTH_PAYLOAD_STREAMING;

    if (!info->chunked && http_req_header(r->http, "content-length").base == NULL) {
        s3_error(r, 411, "MissingContentLength", NULL, NULL);
        return;
    }
    if (cmd5.base != NULL && parse_content_md5(cmd5, want_md5) != 0) {
        s3_error(r, 400, "InvalidDigest", NULL, NULL);
        return;
    }
    if (s3_lock_write(r, &lock) != 0)
        return;
    if (s3_sse_parse(r, 0, &sse) != 0)
        return;
    if (s3_cond_parse(r, 1, &cond) != 0) {
        s3_cond_refuse(r);
        goto out_wipe;
    }
    if ((rc = s3_sse_new(r, &sse)) != 0) {
        s3_error_rc(r, rc);
        goto out_wipe;
    }
    /* room for S3_CK_COUNT more: the checksums */
    if ((rc = s3_stored_headers(r, S3_CK_COUNT, &hdrs, &nhdrs, &names, &ctype, enc, sizeof(enc))) != 0) {
        if (rc == OG_ETOOBIG)
            s3_error(r, 400, "MetadataTooLarge", "Your metadata headers exceed the maximum allowed metadata size.",
                        NULL);
        else
            s3_error_rc(r, rc);
        goto out_wipe;
    }
    if ((rc = s3_body_open(r, &body, &expect, 0)) != 0) {
        s3_error_on(r, rc, S3_ON_BODY);
        goto out_free_headers;
    }
    /* expect is the decoded size (aws-chunked) or Content-Length; nothing of the body is read
     * yet, so a refusal here costs the client no upload */
    if (expect > (int64_t)PUT_MAX_SIZE)
        rc = OG_ETOOBIG;
    else if (expect >= 0)
        rc = s3_quota_check(r, (uint64_t)expect);
    if (rc != 0) {
        s3_error_on(r, rc, S3_ON_BUCKET);
        goto out_free_body;
    }
    if ((rc = put_write(r, body, expect, &sse, &d, &sums)) != 0) {
        s3_error_on(r, rc, S3_ON_BODY);
        goto out_free_body;
    }
    if (cmd5.base != NULL && memcmp(d.md5, want_md5, 16) != 0)
        s3_error(r, 400, "BadDigest", NULL, NULL);
    else if (r->auth.payload == AUTH_PAYLOAD_SHA256 && memcmp(d.sha256, r->auth.payload_sha256, 32) != 0)
        s3_error(r, 400, "XAmzContentSHA256Mismatch", NULL, NULL);
    else if (size_late && (rc = s3_quota_check(r, d.size)) != 0)
        s3_error_on(r, rc, S3_ON_BUCKET);
    else if ((rc = put_commit(r, &cond, hdrs, nhdrs, ctype, &d, &sums, &sse, &lock)) != 0)
        s3_error_rc(r, rc);
    core_obj_data_free(&d);
out_free_body:
    s3_body_free(body);
out_free_headers:
    free(hdrs);
    free(names);
out_wipe:
    s3_sse_wipe(&sse);
}

/* ---------------------------------------------------------------- GET / HEAD */

/* Query parameters that override a response header on GET (authenticated requests only). */
static const struct {
    const char *param, *header;
} overrides[] = {
    {"response-content-type", "Content-Type"},         {"response-content-language", "Content-Language"},
    {"response-expires", "Expires"},                   {"response-cache-control", "Cache-Control"},
    {"response-content-disposition", "Content-Disposition"}, {"response-content-encoding", "Content-Encoding"},
};
#define NUM_OVERRIDES (sizeof(overrides) / sizeof(overrides[0]))

/* Decodes the response-* parameters into one block *mem (caller frees) sized by the query.
 * vals[i] is set for each present one. 0, -ENOMEM, or OG_EINVAL for a bad escape or a value
 * with control characters (it would break the response head). */
static int decode_overrides(s3_req_t *r, og_str_t vals[NUM_OVERRIDES], char **mem)
{
    og_str_t q = r->info->query;
    char *p;
    *mem = NULL;
    memset(vals, 0, NUM_OVERRIDES * sizeof(vals[0]));
    if (q.len == 0 || memmem(q.base, q.len, "response-", 9) == NULL)
        return 0;
    if ((*mem = p = malloc(q.len)) == NULL)
        return -ENOMEM;
    for (size_t i = 0; i < NUM_OVERRIDES; i++) {
        og_str_t raw;
        if (!og_query_get(q, overrides[i].param, &raw))
            continue;
        long n = og_urldecode(raw.base, raw.len, p, raw.len, 0);
        if (n < 0)
            return OG_EINVAL;
        for (long j = 0; j < n; j++)
            if ((unsigned char)p[j] < 0x20 || p[j] == 0x7f)
                return OG_EINVAL;
        vals[i] = (og_str_t){p, (size_t)n};
        p += n;
    }
    return 0;
}

/* 416 with Content-Range: bytes * /size and the S3 error body (s3_error has no way to add
 * a header, so the document is built here in the same shape). */
static void send_invalid_range(s3_req_t *r, og_str_t range, uint64_t size)
{
    char cr[48];
    og_buf_t b = {0};
    og_header_t hdr = {OG_STR_LIT("Content-Range"), {cr, (size_t)snprintf(cr, sizeof(cr), "bytes */%" PRIu64, size)}};
    static const char msg[] = "The requested range is not satisfiable";
    if (r->info->is_head) {
        s3_send(r, 416, &hdr, 1, NULL, 0);
        return;
    }
    og_buf_puts(&b, "<Error><Code>InvalidRange</Code>");
    og_buf_elem(&b, "Message", msg, sizeof(msg) - 1);
    og_buf_elem(&b, "BucketName", r->bucket, strlen(r->bucket));
    og_buf_elem(&b, "Key", r->key, r->key_len);
    og_buf_elem(&b, "RangeRequested", range.base, range.len);
    og_buf_printf(&b, "<ActualObjectSize>%" PRIu64 "</ActualObjectSize>", size);
    og_buf_elem(&b, "Resource", r->resource.base, r->resource.len);
    og_buf_elem(&b, "RequestId", r->request_id, strlen(r->request_id));
    og_buf_puts(&b, "</Error>");
    if (b.oom)
        s3_error(r, 500, "InternalError", NULL, NULL);
    else
        s3_send_xml(r, 416, &hdr, 1, b.buf, b.len);
    og_buf_free(&b);
}

/* The response as a core_obj_read sink: the status line and headers go out with the first bytes, so
 * a failure before any chunk was read is still a clean error response. */
typedef struct {
    s3_req_t *r;
    int status;
    const og_header_t *hdrs;
    size_t nhdrs;
    uint64_t length, sent;
    int started;
} get_sink_t;

static int get_sink(void *ctx, const void *buf, size_t len)
{
    get_sink_t *gs = ctx;
    int rc;
    if (!gs->started) {
        gs->r->responded = 1;
        gs->r->status = gs->status;
        if ((rc = http_resp_start(gs->r->http, gs->status, gs->hdrs, gs->nhdrs, (int64_t)gs->length)) != 0)
            return rc;
        gs->started = 1;
    }
    if ((rc = http_resp_write(gs->r->http, buf, len)) != 0)
        return rc;
    gs->sent += len;
    return 0;
}

/* What a GET serves: the record's own bytes, or a Swift large object's segments. */
enum { LARGE_NONE, LARGE_SLO, LARGE_DLO };

typedef struct {
    int kind;          /* LARGE_* */
    og_str_t manifest; /* LARGE_DLO: the stored X-Object-Manifest (a slice of the record) */
    core_lo_t lo; /* the large-object readers' view of the caller (s3_lo) */
} large_t;

/* Streams bytes [first, last] of a chunked (or encrypted, key set) object or a large object's
 * segments. A failure after
 * the head went out ends the response short, which makes the connection close (the client sees a
 * truncated body, never wrong bytes). */
static void send_streamed_body(s3_req_t *r, const core_meta_t *m, const uint8_t *key, large_t *lg, uint64_t first,
                               uint64_t last, int status, const og_header_t *hdrs, size_t nhdrs)
{
    get_sink_t gs = {.r = r, .status = status, .hdrs = hdrs, .nhdrs = nhdrs, .length = last - first + 1};
    int rc;
    if (lg->kind == LARGE_SLO)
        rc = core_slo_read(&lg->lo, m, first, last, get_sink, &gs);
    else if (lg->kind == LARGE_DLO)
        rc = core_dlo_read(&lg->lo, lg->manifest, first, last, get_sink, &gs);
    else
        rc = core_obj_read_key(r->gw->cluster, m, key, first, last, get_sink, &gs);
    if (rc == HTTP_EABORTED)
        return;
    if (!gs.started) {
        /* Nothing was sent. A segment deleted or changed since the manifest was written (or,
         * for a DLO, since the listing that sized it) is s3api's 409 BrokenMPU; a missing chunk
         * of a live object is damage, not an absent key. */
        if (lg->kind != LARGE_NONE && (rc == 0 || rc == OG_ENOTFOUND || rc == OG_ECORRUPT || rc == -EACCES))
            s3_error(r, 409, "BrokenMPU", "Multipart upload has broken segment data.", NULL);
        else
            s3_error_rc(r, rc == OG_ENOTFOUND || rc == 0 ? OG_ECORRUPT : rc);
        return;
    }
    if (rc != 0 || gs.sent != gs.length) {
        /* The status line is out, so the client only sees a cut connection: say why here. */
        fprintf(stderr, "onggi-gateway: request %s: GET /%s/%.*s: read failed after %" PRIu64
                        " bytes (%s); connection closed\n",
                r->request_id, r->bucket, (int)r->key_len, r->key, gs.sent,
                rc != 0 ? og_strerror(rc) : "a large object's segments ended early");
    }
    http_resp_end(r->http); /* short of Content-Length after a failure: the http room closes the connection */
}

int s3_part_number(const s3_req_t *r, uint32_t *out)
{
    og_str_t v;
    uint64_t n;
    *out = 0;
    if (!og_query_get(r->info->query, "partNumber", &v))
        return 0;
    if (og_parse_dec(v, 5, &n) != 0 || n < 1 || n > 10000)
        return OG_EINVAL;
    *out = (uint32_t)n;
    return 0;
}

/* x-amz-checksum-mode: ENABLED asks for the stored x-amz-checksum-* headers (S3 sends them only
 * then, so clients that do not validate them are not charged for them). */
static int checksum_mode(const s3_req_t *r)
{
    return og_str_ieq(http_req_header(r->http, "x-amz-checksum-mode"), "ENABLED");
}

static int is_checksum_header(og_str_t name)
{
    return name.len > 15 && strncasecmp(name.base, "x-amz-checksum-", 15) == 0;
}

/* Is m a Swift large object? Sets lg (the readers' view of r) and *view: the size and, for a DLO,
 * the MD5 this GET serves (a DLO's are summed over a listing of its segments). 0, or an error
 * of that listing (OG_EQUORUM ...). */
static int large_open(s3_req_t *r, const core_meta_t *m, uint64_t now_s, large_t *lg, core_meta_t *view)
{
    *view = *m;
    lg->kind = LARGE_NONE;
    lg->manifest = og_header_find(m->headers, m->num_headers, "x-object-manifest");
    if (m->flags & CORE_META_SLO)
        lg->kind = LARGE_SLO;
    else if (lg->manifest.base != NULL)
        lg->kind = LARGE_DLO;
    else
        return 0;
    s3_lo(r, now_s, &lg->lo);
    view->parts = 0;
    if (lg->kind == LARGE_SLO) {
        view->size = m->slo_size;
        return 0;
    }
    return core_dlo_stat(&lg->lo, lg->manifest, &view->size, view->md5);
}

/* What one GET/HEAD serves, filled step by step by the get_* helpers. */
typedef struct {
    core_meta_t m;    /* the record */
    core_meta_t view; /* the size, MD5 and part count served: a large object's, not its manifest's */
    char *recbuf;     /* owns m's bytes */
    large_t lg;
    char etag[48], lastmod[32], crange[80], nparts[16], ntags[24], lockdate[32];
    og_str_t etag_s;
    uint32_t part;    /* ?partNumber, 0 without */
    int status;       /* 200, or 206 for a range or part */
    uint64_t first, last;
    og_str_t ovr[NUM_OVERRIDES];
    char *ovr_mem;    /* owns the ovr values */
    char *meta_mem;   /* RFC 2047 forms of metadata values that are not ASCII (get_headers) */
    s3_sse_t sse;     /* the object's encryption and key (s3_sse_open) */
    core_cache_dflt_t dflt; /* the bucket's caching defaults */
    char expires[32];
    char pin_url[CORE_PIN_URL_CAP]; /* X-Onggi-Immutable-Url */
} get_plan_t;

/* Reads r's object, or the version ?versionId names (an expired current one is reclaimed and
 * absent; a key whose current version is a delete marker is absent with the marker named in the
 * answer), and what it serves. 0 (g->m may be a delete marker when named), OG_ENOTFOUND,
 * OG_EINVAL (a malformed version id), a core_obj_lookup or large_open code. */
static int get_open(s3_req_t *r, uint64_t now_s, get_plan_t *g)
{
    og_str_t key = {r->key, r->key_len}, vid;
    int named = s3_version_param(r, &vid);
    int rc = named ? core_ver_lookup(r->gw->cluster, r->bid, key, vid, &g->m, &g->recbuf)
                   : core_obj_lookup(r->gw->cluster, r->bid, key, &g->m, &g->recbuf);
    if (rc == 0 && !named && core_meta_expired(&g->m, now_s)) {
        /* past its Swift X-Delete-At: absent, and reclaimed now as a Swift read would (best
         * effort: a failed reclaim is retried by the next read or `onggi-admin expire`) */
        core_obj_expire(r->gw->cluster, r->bid, key, &g->m);
        rc = OG_ENOTFOUND;
    }
    if (rc == OG_ENOTFOUND && !named)
        s3_version_marker(r);
    if (rc != 0)
        return rc;
    s3_version_answer(r, &g->m, named);
    if (g->m.vflags & CORE_VER_MARKER)
        return 0;
    if ((rc = large_open(r, &g->m, now_s, &g->lg, &g->view)) != 0)
        return rc;
    g->etag_s = (og_str_t){g->etag, g->lg.kind == LARGE_SLO ? core_slo_s3_etag(&g->m, g->etag)
                                                            : core_meta_etag(&g->view, g->etag)};
    http_date_format(g->m.mtime_ns, g->lastmod);
    return 0;
}

/* The bytes served: the part, the Range, or all. 0, -ERANGE (Range not satisfiable), or a
 * core_part_range code (OG_EINVAL: no such part). */
static int get_range(s3_req_t *r, get_plan_t *g)
{
    og_str_t range_hdr = s3_site_status(r, 200) != 200 /* an ErrorDocument: whole */
                             ? (og_str_t){NULL, 0}
                             : http_range_header(r->http, g->etag_s, (int64_t)(g->m.mtime_ns / 1000000000u));
    int rc;
    g->status = 200;
    if (g->part != 0) {
        if ((rc = core_part_range(r->gw->cluster, r->bid, (og_str_t){r->key, r->key_len}, &g->view, g->part,
                                  &g->first, &g->last)) != 0)
            return rc;
        g->status = 206;
    } else if (range_hdr.base != NULL) {
        switch (http_range_parse(range_hdr, g->view.size, &g->first, &g->last)) {
        case HTTP_RANGE_UNSATISFIABLE:
            return -ERANGE;
        case HTTP_RANGE_OK:
            g->status = 206;
            break;
        default:
            break;
        }
    }
    if (g->status == 200) {
        g->first = 0;
        g->last = g->view.size ? g->view.size - 1 : 0;
    }
    return 0;
}

/* Replaces every x-amz-meta-* value of hdrs[0..n) that is not ASCII by its RFC 2047 form (as S3
 * returns such values), written into g->meta_mem. 0 or -ENOMEM. */
static int get_meta_encode(get_plan_t *g, og_header_t *hdrs, size_t n)
{
    size_t total = 0, at = 0;
    for (size_t i = 0; i < n; i++)
        if (hdrs[i].name.len > 11 && strncasecmp(hdrs[i].name.base, "x-amz-meta-", 11) == 0)
            total += s3_meta_encoded_len(hdrs[i].value);
    if (total == 0)
        return 0;
    if ((g->meta_mem = malloc(total)) == NULL)
        return -ENOMEM;
    for (size_t i = 0; i < n; i++) {
        if (hdrs[i].name.len <= 11 || strncasecmp(hdrs[i].name.base, "x-amz-meta-", 11) != 0 ||
            s3_meta_encoded_len(hdrs[i].value) == 0)
            continue;
        size_t l = s3_meta_encode(hdrs[i].value, g->meta_mem + at);
        hdrs[i].value = (og_str_t){g->meta_mem + at, l};
        at += l;
    }
    return 0;
}

/* Appends to hdrs (n of them so far) the bucket's default Cache-Control and Expires they lack. */
static size_t cache_dflt(s3_req_t *r, get_plan_t *g, og_header_t *hdrs, size_t n)
{
    return http_cache_dflt(hdrs, n, og_str(g->dflt.cache_control), g->dflt.expires_after_s,
                           og_time_ns() / 1000000000u, g->expires, hdrs + n);
}

/* 304 Not Modified with what RFC 9110 15.4.5 asks a 304 to repeat of the 200: ETag,
 * Last-Modified, Cache-Control and Expires (the object's own, else the bucket's defaults). */
static void send_not_modified(s3_req_t *r, get_plan_t *g)
{
    og_header_t h[6] = {{OG_STR_LIT("ETag"), g->etag_s}, {OG_STR_LIT("Last-Modified"), og_str(g->lastmod)}};
    size_t n = 2;
    static const char *const kept[] = {"Cache-Control", "Expires"};
    for (size_t i = 0; i < 2; i++) {
        og_str_t v = og_header_find(g->m.headers, g->m.num_headers, kept[i]);
        if (v.base != NULL)
            h[n++] = (og_header_t){og_str(kept[i]), v};
    }
    n += cache_dflt(r, g, h, n);
    s3_send(r, 304, h, n, NULL, 0);
}

/* The response headers: encryption, request id, CORS (s3_cors_actual), ETag, Last-Modified, Accept-Ranges, Content-Type,
 * Content-Range, x-amz-mp-parts-count, the overrides, and the stored headers. *out is malloc'd
 * for the caller (values point into g and r). 0 or -ENOMEM. */
static int get_headers(s3_req_t *r, get_plan_t *g, og_header_t **out, size_t *count)
{
    const core_meta_t *m = &g->m;
    size_t n = 0;
    og_header_t *hdrs = malloc((14 + NUM_OVERRIDES + m->num_headers + r->num_cors) * sizeof(*hdrs));
    if (hdrs == NULL)
        return -ENOMEM;
    n += s3_sse_headers(&g->sse, hdrs);
    hdrs[n++] = (og_header_t){OG_STR_LIT("x-amz-request-id"), og_str(r->request_id)};
    if (r->version_id[0] != '\0')
        hdrs[n++] = (og_header_t){OG_STR_LIT("x-amz-version-id"), og_str(r->version_id)};
    n += s3_lock_headers(m, hdrs + n, g->lockdate);
    for (size_t i = 0; i < r->num_cors; i++)
        hdrs[n++] = r->cors[i];
    hdrs[n++] = (og_header_t){OG_STR_LIT("ETag"), g->etag_s};
    hdrs[n++] = (og_header_t){OG_STR_LIT("Last-Modified"), og_str(g->lastmod)};
    hdrs[n++] = (og_header_t){OG_STR_LIT("Accept-Ranges"), OG_STR_LIT("bytes")};
    n += pin_header(r, &g->view, g->pin_url, hdrs + n);
    if (g->ovr[0].base == NULL) /* overrides[0] is response-content-type */
        hdrs[n++] = (og_header_t){OG_STR_LIT("Content-Type"), m->content_type};
    if (g->status == 206) {
        size_t cl = (size_t)snprintf(g->crange, sizeof(g->crange), "bytes %" PRIu64 "-%" PRIu64 "/%" PRIu64,
                                     g->first, g->last, g->view.size);
        hdrs[n++] = (og_header_t){OG_STR_LIT("Content-Range"), {g->crange, cl}};
    }
    if (g->part != 0 && g->view.parts > 0)
        hdrs[n++] = (og_header_t){OG_STR_LIT("x-amz-mp-parts-count"),
                                  {g->nparts, (size_t)snprintf(g->nparts, sizeof(g->nparts), "%" PRIu32, g->view.parts)}};
    for (size_t i = 0; i < NUM_OVERRIDES; i++)
        if (g->ovr[i].base != NULL)
            hdrs[n++] = (og_header_t){og_str(overrides[i].header), g->ovr[i]};
    /* A signed response-cache-control is the signer's explicit choice for this answer: sent as
     * asked, as S3 does, instead of made private (docs/architecture.md "CDN origin"). */
    if (g->ovr[3].base != NULL) /* overrides[3] is response-cache-control */
        http_req_cache_private(r->http, 0);
    /* A stored checksum is of the whole object: sent only when asked for and when the body is the
     * whole object (a client that validates it would reject a range, or a part, against it), and
     * never for a large object (it would be the manifest's). */
    int send_checksums = checksum_mode(r) && g->lg.kind == LARGE_NONE && g->first == 0 &&
                         (m->size == 0 || g->last + 1 == m->size);
    og_str_t tags = og_header_find(m->headers, m->num_headers, S3_TAGS_HDR);
    if (tags.base != NULL) /* in the slot of the stored header it stands for */
        hdrs[n++] = (og_header_t){OG_STR_LIT("x-amz-tagging-count"),
                                  {g->ntags, (size_t)snprintf(g->ntags, sizeof(g->ntags), "%zu", s3_tags_count(tags))}};
    for (size_t i = 0; i < m->num_headers; i++) {
        int overridden = og_str_ieq(m->headers[i].name, S3_TAGS_HDR);
        for (size_t j = 0; j < NUM_OVERRIDES; j++)
            overridden |= g->ovr[j].base != NULL && og_str_ieq(m->headers[i].name, overrides[j].header);
        /* X-Object-Manifest is Swift's own (s3api does not show it either) */
        if (!overridden && (send_checksums || !is_checksum_header(m->headers[i].name)) &&
            !og_str_ieq(m->headers[i].name, "x-object-manifest") && !og_str_ieq(m->headers[i].name, IAM_S3ACL_HEADER))
            hdrs[n++] = m->headers[i];
    }
    if (get_meta_encode(g, hdrs, n) != 0) {
        free(hdrs);
        return -ENOMEM;
    }
    n += cache_dflt(r, g, hdrs, n);
    *out = hdrs, *count = n;
    return 0;
}

/* Sends the head and the bytes: none for HEAD, the record's own when inline and plain, else
 * streamed (and decrypted). */
static void get_send(s3_req_t *r, get_plan_t *g, const og_header_t *hdrs, size_t n)
{
    const core_meta_t *m = &g->m;
    uint64_t length = g->view.size ? g->last - g->first + 1 : 0;
    if (r->info->is_head || length == 0) {
        r->responded = 1;
        r->status = g->status;
        if (http_resp_start(r->http, g->status, hdrs, n, (int64_t)length) == 0)
            http_resp_end(r->http);
    } else if (g->lg.kind == LARGE_NONE && m->num_chunks == 0 && g->sse.mode == 0) {
        /* inline (and empty) objects: the bytes came with the record */
        if (m->inline_data.len != m->size) {
            s3_error_rc(r, OG_ECORRUPT);
        } else {
            r->responded = 1;
            http_resp_send(r->http, g->status, hdrs, n, length ? m->inline_data.base + g->first : NULL,
                           (size_t)length);
        }
    } else {
        send_streamed_body(r, m, g->sse.mode ? g->sse.key : NULL, &g->lg, g->first, g->last, g->status, hdrs, n);
    }
}

void s3_get_object(s3_req_t *r)
{
    get_plan_t g = {0};
    og_header_t *hdrs = NULL;
    size_t n = 0;
    int rc;

    if (s3_part_number(r, &g.part) != 0) {
        s3_error(r, 400, "InvalidArgument", "Part number must be an integer between 1 and 10000, inclusive.", NULL);
        return;
    }
    if (g.part != 0 && http_req_header(r->http, "range").base != NULL) {
        s3_error(r, 400, "InvalidRequest", "Cannot specify both Range header and partNumber query parameter.",
                    NULL);
        return;
    }
    if (s3_sse_parse(r, 0, &g.sse) != 0)
        return;
    if ((rc = get_open(r, og_time_ns() / 1000000000u, &g)) != 0) {
        s3_version_error(r, rc);
        goto out_free_plan;
    }
    if (g.m.vflags & CORE_VER_MARKER) {
        /* a delete marker named by ?versionId has no data to serve (S3's 405) */
        s3_error(r, 405, "MethodNotAllowed", "The specified method is not allowed against this resource.", NULL);
        goto out_free_plan;
    }
    if (s3_site_object_redirect(r, &g.m))
        goto out_free_plan;
    if (s3_sse_open(r, &g.m, &g.sse) != 0)
        goto out_free_plan;
    /* what any anonymous client gets may be kept by a shared cache (docs/architecture.md "CDN
     * origin"); not bytes read with a customer key: they are that key holder's */
    if (r->shareable && http_req_header(r->http, "x-amz-server-side-encryption-customer-key").base == NULL)
        http_req_cache_private(r->http, 0);
    /* best effort: without the bucket's defaults the object is served with its own headers */
    (void)core_cache_dflt_get(r->gw->cluster, r->bucket_owner, r->bucket, &g.dflt);
    /* an ErrorDocument answers an error: never 304 or 412 (nor 206: get_range) */
    http_cond_t cond = s3_site_status(r, 200) != 200 ? (http_cond_t){0} : http_cond_from_req(r->http);
    int cond_status = http_cond_eval(&cond, g.etag_s, (int64_t)(g.m.mtime_ns / 1000000000u));
    if (cond_status == 412) {
        s3_error(r, 412, "PreconditionFailed", NULL, NULL);
        goto out_free_plan;
    }
    if (cond_status == 304) {
        send_not_modified(r, &g);
        goto out_free_plan;
    }
    if ((rc = get_range(r, &g)) != 0) {
        if (rc == -ERANGE)
            send_invalid_range(r, http_req_header(r->http, "range"), g.view.size);
        else if (rc == OG_EINVAL)
            s3_error(r, 416, "InvalidPartNumber", "The requested partnumber is not satisfiable", NULL);
        else
            s3_error_rc(r, rc);
        goto out_free_plan;
    }
    g.status = s3_site_status(r, g.status);
    if ((rc = decode_overrides(r, g.ovr, &g.ovr_mem)) != 0) {
        if (rc == OG_EINVAL)
            s3_error(r, 400, "InvalidArgument", "Invalid response-* header override value.", NULL);
        else
            s3_error_rc(r, rc);
        goto out_free_plan;
    }
    if ((rc = get_headers(r, &g, &hdrs, &n)) != 0) {
        s3_error_rc(r, rc);
        goto out_free_plan;
    }
    get_send(r, &g, hdrs, n);
    free(hdrs);
out_free_plan:
    free(g.ovr_mem);
    free(g.meta_mem);
    core_meta_free(&g.m);
    free(g.recbuf);
    s3_sse_wipe(&g.sse);
}

/* ---------------------------------------------------------------- DELETE */

void s3_delete_object(s3_req_t *r)
{
    /* S3 answers 204 whether or not the key (or version) existed, so without If-Match no read
     * comes first: the tombstone (or delete marker) is written unconditionally and wins over every
     * older version by timestamp. ?versionId removes that version for good (core_ver_delete). */
    og_str_t key = {r->key, r->key_len}, vid;
    char marker[CORE_VID_LEN + 1];
    s3_cond_t cond;
    int rc, was_marker = 0;
    if (s3_cond_parse(r, 0, &cond) != 0) {
        s3_cond_refuse(r);
        return;
    }
    if (s3_version_param(r, &vid)) {
        if (cond.any) {
            /* the lease orders writers of the current object, not of one version */
            s3_error(r, 501, "NotImplemented", "If-Match with versionId is not implemented.", NULL);
            return;
        }
        if ((rc = core_ver_delete(r->gw->cluster, r->bid, key, vid, s3_lock_bypass(r), &was_marker)) == 0) {
            snprintf(r->version_id, sizeof(r->version_id), "%.*s", (int)vid.len, vid.base);
            r->delete_marker = was_marker;
        }
    } else if ((rc = s3_cond_delete(r, &cond, marker)) == 0 && marker[0] != '\0') {
        snprintf(r->version_id, sizeof(r->version_id), "%s", marker);
        r->delete_marker = 1;
    }
    if (rc != 0) {
        s3_version_error(r, rc);
        return;
    }
    s3_send(r, 204, NULL, 0, NULL, 0);
}
