/*
 * Object operations: PutObject, GetObject/HeadObject, DeleteObject.
 *
 * Data path. PUT streams the body through ONE buffer of gw_ctx_t.chunk_size bytes: every piece
 * read updates the object's MD5 (the ETag), the chunk's SHA-256 (its id) and xxh3 (end-to-end
 * check), and the payload SHA-256 when the signature covers it, so each byte is touched once
 * while still in cache. A full buffer becomes one chunk written at quorum; objects that fit in
 * GW_INLINE_MAX are kept inside the record instead. The record is written last, after every
 * check passed, so a failed or cut-off upload commits nothing (its chunks are unreferenced and
 * left to garbage collection). GET reads only the chunks that overlap the requested range into
 * one buffer no larger than the largest overlap, so memory is bounded whatever the size.
 *
 * gw_s3_handle has checked that the bucket exists and belongs to the caller.
 */
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <strings.h>

#include <openssl/evp.h>
#include <xxhash.h>

#include "gw_range.h"
#include "gw_s3.h"

/* The largest single PUT S3 accepts; bigger objects need multipart upload. */
#define PUT_MAX_SIZE (5ull << 30)
/* S3's limit on user metadata: names and values of x-amz-meta-* together. */
#define USER_META_MAX 2048

static void table_name(const gw_s3_req_t *r, char out[3 + 64])
{
    snprintf(out, 3 + 64, "o.%s", r->bucket);
}

/* ---------------------------------------------------------------- PUT */

typedef struct {
    EVP_MD_CTX *md5;       /* whole object: the ETag */
    EVP_MD_CTX *sha_chunk; /* current chunk: its id */
    EVP_MD_CTX *sha_body;  /* whole body, only when the signature states its hash */
    XXH3_state_t *xxh;     /* current chunk */
    gw_chunk_ref_t *refs;
    size_t nrefs, cap_refs;
} put_hash_t;

static void put_hash_free(put_hash_t *h)
{
    EVP_MD_CTX_free(h->md5);
    EVP_MD_CTX_free(h->sha_chunk);
    EVP_MD_CTX_free(h->sha_body);
    if (h->xxh != NULL)
        XXH3_freeState(h->xxh);
    free(h->refs);
}

static int put_hash_init(put_hash_t *h, int body_sha)
{
    memset(h, 0, sizeof(*h));
    if ((h->md5 = EVP_MD_CTX_new()) == NULL || (h->sha_chunk = EVP_MD_CTX_new()) == NULL ||
        (body_sha && (h->sha_body = EVP_MD_CTX_new()) == NULL) || (h->xxh = XXH3_createState()) == NULL)
        return -ENOMEM;
    if (!EVP_DigestInit_ex(h->md5, EVP_md5(), NULL) || !EVP_DigestInit_ex(h->sha_chunk, EVP_sha256(), NULL) ||
        (body_sha && !EVP_DigestInit_ex(h->sha_body, EVP_sha256(), NULL)) || XXH3_64bits_reset(h->xxh) != XXH_OK)
        return -ENOMEM;
    return 0;
}

static int put_hash_update(put_hash_t *h, const void *p, size_t n)
{
    if (!EVP_DigestUpdate(h->md5, p, n) || !EVP_DigestUpdate(h->sha_chunk, p, n) ||
        (h->sha_body != NULL && !EVP_DigestUpdate(h->sha_body, p, n)) || XXH3_64bits_update(h->xxh, p, n) != XXH_OK)
        return -ENOMEM;
    return 0;
}

/* Turns the buffered bytes into a chunk: finishes its hashes, stores it at quorum, records the
 * reference and restarts the per-chunk hashes. 0, OG_EQUORUM, -ENOMEM or OG_EINVAL. */
static int put_flush_chunk(gw_s3_req_t *r, put_hash_t *h, const char *buf, size_t len)
{
    gw_chunk_ref_t ref = {.len = (uint32_t)len};
    unsigned int dlen = 0;
    if (!EVP_DigestFinal_ex(h->sha_chunk, ref.id, &dlen) || !EVP_DigestInit_ex(h->sha_chunk, EVP_sha256(), NULL))
        return -ENOMEM;
    ref.xxh3 = XXH3_64bits_digest(h->xxh);
    if (XXH3_64bits_reset(h->xxh) != XXH_OK)
        return -ENOMEM;
    if (h->nrefs == h->cap_refs) {
        size_t cap = h->cap_refs ? h->cap_refs * 2 : 16;
        gw_chunk_ref_t *nr = realloc(h->refs, cap * sizeof(*nr));
        if (nr == NULL)
            return -ENOMEM;
        h->refs = nr, h->cap_refs = cap;
    }
    int rc = gw_cluster_chunk_put(r->gw->cluster, ref.id, buf, len);
    if (rc != 0)
        return rc;
    h->refs[h->nrefs++] = ref;
    return 0;
}

/* The headers an object keeps and replays on GET, besides Content-Type. */
static const char *const stored_standard[] = {"Cache-Control", "Content-Disposition", "Content-Encoding",
                                              "Content-Language", "Expires"};

/* Picks the headers to store from the request. *out (array) and *names (lowercased
 * x-amz-meta-* names) are malloc'd for the caller to free; values point into the request.
 * 0, -ENOMEM, or OG_ETOOBIG when user metadata exceeds USER_META_MAX. */
static int collect_headers(gw_s3_req_t *r, og_header_t **out, size_t *n, char **names, og_str_t *ctype)
{
    const gw_reqinfo_t *info = r->info;
    size_t names_len = 0, k = 0, meta_bytes = 0;
    *out = NULL, *names = NULL, *n = 0;
    *ctype = OG_STR_LIT("binary/octet-stream");
    for (size_t i = 0; i < info->num_headers; i++)
        names_len += info->headers[i].name.len;
    og_header_t *hdrs = malloc((info->num_headers + 1) * sizeof(*hdrs));
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
            hdrs[k++] = (og_header_t){{np, name.len}, value};
            np += name.len;
            meta_bytes += name.len - 11 + value.len;
            continue;
        }
        if (og_str_ieq(name, "content-type")) {
            if (value.len > 0)
                *ctype = value;
            continue;
        }
        for (size_t j = 0; j < sizeof(stored_standard) / sizeof(stored_standard[0]); j++)
            if (og_str_ieq(name, stored_standard[j])) {
                hdrs[k++] = (og_header_t){og_str(stored_standard[j]), value};
                break;
            }
    }
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

/* Reads the body into buf (cap bytes), flushing each full buffer as a chunk. On success
 * *total is the body size and buf[0, *tail) holds the bytes not yet flushed. The error is
 * answered here (IncompleteBody, EntityTooLarge, 503 ...) and a negative code returned. */
static int put_read_body(gw_s3_req_t *r, put_hash_t *h, char *buf, size_t cap, uint64_t *total, size_t *tail)
{
    size_t fill = 0;
    uint64_t n = 0;
    int rc;
    for (;;) {
        ssize_t got = gw_req_read(r->http, buf + fill, cap - fill);
        if (got == GW_EABORTED) {
            r->responded = 1; /* the client is gone: there is nobody to answer */
            return GW_EABORTED;
        }
        if (got < 0) {
            gw_s3_error(r, 400, "IncompleteBody", NULL, NULL);
            return (int)got;
        }
        if (got == 0)
            break;
        if ((rc = put_hash_update(h, buf + fill, (size_t)got)) != 0) {
            gw_s3_error_rc(r, rc);
            return rc;
        }
        fill += (size_t)got;
        n += (size_t)got;
        if (n > PUT_MAX_SIZE) {
            gw_s3_error(r, 400, "EntityTooLarge", NULL, NULL);
            return OG_ETOOBIG;
        }
        if (fill == cap) {
            if ((rc = put_flush_chunk(r, h, buf, fill)) != 0) {
                gw_s3_error_rc(r, rc);
                return rc;
            }
            fill = 0;
        }
    }
    if (!r->info->chunked && n != (uint64_t)r->info->content_length) {
        gw_s3_error(r, 400, "IncompleteBody", NULL, NULL);
        return OG_EINVAL;
    }
    *total = n;
    *tail = fill;
    return 0;
}

void gw_s3_put_object(gw_s3_req_t *r)
{
    const gw_reqinfo_t *info = r->info;
    og_str_t cmd5 = gw_req_header(r->http, "content-md5");
    uint8_t want_md5[16], md5[16], body_sha[32];
    og_header_t *hdrs = NULL;
    size_t nhdrs = 0, tail = 0, slen, dlen, cap;
    char *names = NULL, *buf = NULL, *summary = NULL, *detail = NULL, etag[48], table[3 + 64];
    og_str_t ctype;
    put_hash_t h;
    uint64_t total = 0;
    og_rec_t rec = {0};
    gw_meta_t m = {0};
    unsigned int hlen;
    int rc, check_sha = r->auth.payload == AUTH_PAYLOAD_SHA256;

    if (r->auth.payload == AUTH_PAYLOAD_STREAMING) {
        gw_s3_error(r, 501, "NotImplemented", "aws-chunked (STREAMING-*) uploads are not supported yet.", NULL);
        return;
    }
    if (!info->chunked && gw_req_header(r->http, "content-length").base == NULL) {
        gw_s3_error(r, 411, "MissingContentLength", NULL, NULL);
        return;
    }
    if (!info->chunked && (uint64_t)info->content_length > PUT_MAX_SIZE) {
        gw_s3_error(r, 400, "EntityTooLarge", NULL, NULL);
        return;
    }
    if (cmd5.base != NULL && parse_content_md5(cmd5, want_md5) != 0) {
        gw_s3_error(r, 400, "InvalidDigest", NULL, NULL);
        return;
    }
    rc = collect_headers(r, &hdrs, &nhdrs, &names, &ctype);
    if (rc == OG_ETOOBIG) {
        gw_s3_error(r, 400, "MetadataTooLarge", "Your metadata headers exceed the maximum allowed metadata size.",
                    NULL);
        return;
    }
    if (rc != 0) {
        gw_s3_error_rc(r, rc);
        return;
    }
    if ((rc = put_hash_init(&h, check_sha)) != 0) {
        gw_s3_error_rc(r, rc);
        goto out_free_hash;
    }
    /* A body of known length smaller than a chunk needs no chunk-sized buffer; one spare byte
     * keeps the buffer from ever being "full", so such a body is never flushed early and
     * small objects stay inline. */
    cap = r->gw->chunk_size;
    if (!info->chunked && (uint64_t)info->content_length < cap)
        cap = (size_t)info->content_length + 1;
    if ((buf = malloc(cap)) == NULL) {
        gw_s3_error_rc(r, -ENOMEM);
        goto out_free_hash;
    }
    if (put_read_body(r, &h, buf, cap, &total, &tail) != 0)
        goto out_free_buf;

    if (!EVP_DigestFinal_ex(h.md5, md5, &hlen) || (check_sha && !EVP_DigestFinal_ex(h.sha_body, body_sha, &hlen))) {
        gw_s3_error_rc(r, -ENOMEM);
        goto out_free_buf;
    }
    if (cmd5.base != NULL && memcmp(md5, want_md5, 16) != 0) {
        gw_s3_error(r, 400, "BadDigest", NULL, NULL);
        goto out_free_buf;
    }
    if (check_sha && memcmp(body_sha, r->auth.payload_sha256, 32) != 0) {
        gw_s3_error(r, 400, "XAmzContentSHA256Mismatch", NULL, NULL);
        goto out_free_buf;
    }
    if (total > GW_INLINE_MAX && tail > 0 && (rc = put_flush_chunk(r, &h, buf, tail)) != 0) {
        gw_s3_error_rc(r, rc);
        goto out_free_buf;
    }

    gw_cluster_stamp(r->gw->cluster, &rec.ts, &rec.tiebreak);
    m.size = total;
    memcpy(m.md5, md5, 16);
    m.mtime_ns = rec.ts;
    m.content_type = ctype;
    m.owner = og_str(r->user.account);
    m.headers = hdrs, m.num_headers = nhdrs;
    m.chunks = h.refs, m.num_chunks = h.nrefs;
    if (total <= GW_INLINE_MAX)
        m.inline_data = (og_str_t){buf, (size_t)total};
    if ((rc = gw_meta_encode(&m, &summary, &slen, &detail, &dlen)) != 0) {
        gw_s3_error_rc(r, rc);
        goto out_free_buf;
    }
    rec.summary = (og_str_t){summary, slen};
    rec.detail = (og_str_t){detail, dlen};
    table_name(r, table);
    if ((rc = gw_cluster_rec_put(r->gw->cluster, table, (og_str_t){r->key, r->key_len}, &rec)) != 0) {
        gw_s3_error_rc(r, rc);
        goto out_free_record;
    }
    og_header_t etag_hdr = {OG_STR_LIT("ETag"), {etag, gw_meta_etag(&m, etag)}};
    gw_s3_send(r, 200, &etag_hdr, 1, NULL, 0);

out_free_record:
    free(summary);
    free(detail);
out_free_buf:
    free(buf);
out_free_hash:
    put_hash_free(&h);
    free(hdrs);
    free(names);
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
static int decode_overrides(gw_s3_req_t *r, og_str_t vals[NUM_OVERRIDES], char **mem)
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

/* 416 with Content-Range: bytes * /size and the S3 error body (gw_s3_error has no way to add
 * a header, so the document is built here in the same shape). */
static void send_invalid_range(gw_s3_req_t *r, og_str_t range, uint64_t size)
{
    char cr[48];
    gw_xbuf_t b = {0};
    og_header_t hdr = {OG_STR_LIT("Content-Range"), {cr, (size_t)snprintf(cr, sizeof(cr), "bytes */%" PRIu64, size)}};
    static const char msg[] = "The requested range is not satisfiable";
    if (r->info->is_head) {
        gw_s3_send(r, 416, &hdr, 1, NULL, 0);
        return;
    }
    gw_xbuf_puts(&b, "<Error><Code>InvalidRange</Code>");
    gw_xbuf_elem(&b, "Message", msg, sizeof(msg) - 1);
    gw_xbuf_elem(&b, "BucketName", r->bucket, strlen(r->bucket));
    gw_xbuf_elem(&b, "Key", r->key, r->key_len);
    gw_xbuf_elem(&b, "RangeRequested", range.base, range.len);
    gw_xbuf_printf(&b, "<ActualObjectSize>%" PRIu64 "</ActualObjectSize>", size);
    gw_xbuf_elem(&b, "Resource", r->resource.base, r->resource.len);
    gw_xbuf_elem(&b, "RequestId", r->request_id, strlen(r->request_id));
    gw_xbuf_puts(&b, "</Error>");
    if (b.oom)
        gw_s3_error(r, 500, "InternalError", NULL, NULL);
    else
        gw_s3_send_xml(r, 416, &hdr, 1, b.buf, b.len);
    gw_xbuf_free(&b);
}

/* Plans the body: for bytes [first, last] of the object, the largest piece any one chunk
 * contributes (the buffer size GET needs). */
static size_t max_overlap(const gw_meta_t *m, uint64_t first, uint64_t last)
{
    uint64_t off = 0, best = 0;
    for (size_t i = 0; i < m->num_chunks && off <= last; off += m->chunks[i].len, i++) {
        uint64_t lo = first > off ? first : off, end = off + m->chunks[i].len; /* chunk is [off, end) */
        uint64_t hi = last + 1 < end ? last + 1 : end;
        if (hi > lo && hi - lo > best)
            best = hi - lo;
    }
    return (size_t)best;
}

/* Streams bytes [first, last] of a chunked object. The first piece is read before the
 * response starts, so a failure there is still a clean error; a failure after the head went
 * out ends the response short, which makes the connection close (the client sees a truncated
 * body, never wrong bytes). */
static void send_chunked_body(gw_s3_req_t *r, const gw_meta_t *m, uint64_t first, uint64_t last, int status,
                              const og_header_t *hdrs, size_t nhdrs)
{
    size_t cap = max_overlap(m, first, last);
    uint64_t off = 0, sum = 0;
    int started = 0, rc = 0;
    char *buf;
    for (size_t i = 0; i < m->num_chunks; i++)
        sum += m->chunks[i].len;
    if (sum != m->size) {
        gw_s3_error_rc(r, OG_ECORRUPT); /* the chunk list cannot produce the promised bytes */
        return;
    }
    if ((buf = malloc(cap ? cap : 1)) == NULL) {
        gw_s3_error_rc(r, -ENOMEM);
        return;
    }
    for (size_t i = 0; i < m->num_chunks && off <= last; off += m->chunks[i].len, i++) {
        const gw_chunk_ref_t *c = &m->chunks[i];
        uint64_t lo = first > off ? first : off, end = off + c->len;
        uint64_t hi = last + 1 < end ? last + 1 : end;
        if (hi <= lo)
            continue;
        rc = gw_cluster_chunk_get(r->gw->cluster, c->id, c->xxh3, c->len, (size_t)(lo - off), (size_t)(hi - lo), buf);
        if (rc != 0)
            break;
        if (!started) {
            r->responded = 1;
            r->status = status;
            if ((rc = gw_resp_start(r->http, status, hdrs, nhdrs, (int64_t)(last - first + 1))) != 0)
                goto out_free_buf;
            started = 1;
        }
        if ((rc = gw_resp_write(r->http, buf, (size_t)(hi - lo))) != 0)
            goto out_free_buf;
    }
    if (!started) {
        /* Nothing was sent: a missing chunk of a live object is damage, not an absent key. */
        gw_s3_error_rc(r, rc == OG_ENOTFOUND || rc == 0 ? OG_ECORRUPT : rc);
        goto out_free_buf;
    }
    if (rc != 0) {
        /* The status line is out, so the client only sees a cut connection: say why here. */
        fprintf(stderr, "onggi-gateway: request %s: GET /%s/%.*s: chunk read failed after %" PRIu64
                        " bytes (%s); connection closed\n",
                r->request_id, r->bucket, (int)r->key_len, r->key, off > first ? off - first : 0, og_strerror(rc));
    }
    gw_resp_end(r->http); /* short of Content-Length after a failure: gw_http closes the connection */

out_free_buf:
    free(buf);
}

void gw_s3_get_object(gw_s3_req_t *r)
{
    char table[3 + 64], *recbuf = NULL, *ovr_mem = NULL, etag[48], lastmod[32], crange[80];
    og_str_t ovr[NUM_OVERRIDES];
    og_rec_t rec;
    gw_meta_t m = {0};
    og_header_t *hdrs = NULL;
    size_t n = 0;
    uint64_t first = 0, last = 0;
    int rc, status = 200;

    table_name(r, table);
    rc = gw_cluster_rec_get(r->gw->cluster, table, (og_str_t){r->key, r->key_len}, &rec, &recbuf);
    if (rc == 0 && (rec.flags & OG_REC_TOMBSTONE))
        rc = OG_ENOTFOUND;
    if (rc != 0) {
        gw_s3_error_rc(r, rc);
        goto out_free_rec;
    }
    if ((rc = gw_meta_decode(&rec, &m)) != 0) {
        gw_s3_error_rc(r, rc == OG_EPROTO ? OG_ECORRUPT : rc);
        goto out_free_rec;
    }
    og_str_t etag_s = {etag, gw_meta_etag(&m, etag)};
    gw_fmt_http_date(m.mtime_ns, lastmod);

    gw_cond_t cond = {
        .if_match = gw_req_header(r->http, "if-match"),
        .if_none_match = gw_req_header(r->http, "if-none-match"),
        .if_modified_since = gw_req_header(r->http, "if-modified-since"),
        .if_unmodified_since = gw_req_header(r->http, "if-unmodified-since"),
    };
    int cond_status = gw_cond_eval(&cond, etag_s, (int64_t)(m.mtime_ns / 1000000000u));
    if (cond_status == 412) {
        gw_s3_error(r, 412, "PreconditionFailed", NULL, NULL);
        goto out_free_meta;
    }
    if (cond_status == 304) {
        og_header_t h304[] = {{OG_STR_LIT("ETag"), etag_s}, {OG_STR_LIT("Last-Modified"), og_str(lastmod)}};
        gw_s3_send(r, 304, h304, 2, NULL, 0);
        goto out_free_meta;
    }

    og_str_t range_hdr = gw_req_header(r->http, "range");
    if (range_hdr.base != NULL) {
        switch (gw_range_parse(range_hdr, m.size, &first, &last)) {
        case GW_RANGE_UNSATISFIABLE:
            send_invalid_range(r, range_hdr, m.size);
            goto out_free_meta;
        case GW_RANGE_OK:
            status = 206;
            break;
        default:
            break;
        }
    }
    if (status == 200) {
        first = 0;
        last = m.size ? m.size - 1 : 0;
    }

    if ((rc = decode_overrides(r, ovr, &ovr_mem)) != 0) {
        if (rc == OG_EINVAL)
            gw_s3_error(r, 400, "InvalidArgument", "Invalid response-* header override value.", NULL);
        else
            gw_s3_error_rc(r, rc);
        goto out_free_meta;
    }

    /* request id, ETag, Last-Modified, Accept-Ranges, Content-Type, Content-Range, the
     * overrides, and the stored headers */
    if ((hdrs = malloc((6 + NUM_OVERRIDES + m.num_headers) * sizeof(*hdrs))) == NULL) {
        gw_s3_error_rc(r, -ENOMEM);
        goto out_free_meta;
    }
    hdrs[n++] = (og_header_t){OG_STR_LIT("x-amz-request-id"), og_str(r->request_id)};
    hdrs[n++] = (og_header_t){OG_STR_LIT("ETag"), etag_s};
    hdrs[n++] = (og_header_t){OG_STR_LIT("Last-Modified"), og_str(lastmod)};
    hdrs[n++] = (og_header_t){OG_STR_LIT("Accept-Ranges"), OG_STR_LIT("bytes")};
    if (ovr[0].base == NULL) /* overrides[0] is response-content-type */
        hdrs[n++] = (og_header_t){OG_STR_LIT("Content-Type"), m.content_type};
    if (status == 206) {
        size_t cl = (size_t)snprintf(crange, sizeof(crange), "bytes %" PRIu64 "-%" PRIu64 "/%" PRIu64, first, last,
                                     m.size);
        hdrs[n++] = (og_header_t){OG_STR_LIT("Content-Range"), {crange, cl}};
    }
    for (size_t i = 0; i < NUM_OVERRIDES; i++)
        if (ovr[i].base != NULL)
            hdrs[n++] = (og_header_t){og_str(overrides[i].header), ovr[i]};
    for (size_t i = 0; i < m.num_headers; i++) {
        int overridden = 0;
        for (size_t j = 0; j < NUM_OVERRIDES; j++)
            overridden |= ovr[j].base != NULL && og_str_ieq(m.headers[i].name, overrides[j].header);
        if (!overridden)
            hdrs[n++] = m.headers[i];
    }

    uint64_t length = m.size ? last - first + 1 : 0;
    if (r->info->is_head) {
        r->responded = 1;
        r->status = status;
        if (gw_resp_start(r->http, status, hdrs, n, (int64_t)length) == 0)
            gw_resp_end(r->http);
    } else if (m.num_chunks == 0) {
        /* inline (and empty) objects: the bytes came with the record */
        if (m.inline_data.len != m.size) {
            gw_s3_error_rc(r, OG_ECORRUPT);
        } else {
            r->responded = 1;
            gw_resp_send(r->http, status, hdrs, n, length ? m.inline_data.base + first : NULL, (size_t)length);
        }
    } else {
        send_chunked_body(r, &m, first, last, status, hdrs, n);
    }

    free(hdrs);
out_free_meta:
    free(ovr_mem);
    gw_meta_free(&m);
out_free_rec:
    free(recbuf);
}

/* ---------------------------------------------------------------- DELETE */

void gw_s3_delete_object(gw_s3_req_t *r)
{
    char table[3 + 64];
    og_rec_t rec = {.flags = OG_REC_TOMBSTONE};
    int rc;
    /* S3 answers 204 whether or not the key existed, so no read comes first: the tombstone
     * is written unconditionally and wins over every older version by timestamp. */
    table_name(r, table);
    gw_cluster_stamp(r->gw->cluster, &rec.ts, &rec.tiebreak);
    rc = gw_cluster_rec_put(r->gw->cluster, table, (og_str_t){r->key, r->key_len}, &rec);
    if (rc != 0) {
        gw_s3_error_rc(r, rc);
        return;
    }
    gw_s3_send(r, 204, NULL, 0, NULL, 0);
}
