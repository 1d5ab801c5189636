/*
 * Multipart upload: CreateMultipartUpload, UploadPart, UploadPartCopy, CompleteMultipartUpload,
 * AbortMultipartUpload, ListParts, ListMultipartUploads, and the part ranges behind
 * GET/HEAD ?partNumber.
 *
 * Records (design and reasons in docs/architecture.md, "Multipart uploads"):
 *   table "u.<bucket>", key "<key>\x01<uploadId>"             the upload: a core_meta_t with no data
 *                                                            (content type, stored headers, owner,
 *                                                            initiated = mtime)
 *   table "u.<bucket>", key "<key>\x01<uploadId>\x01%05u"     one part: a core_meta_t with the part's
 *                                                            chunk refs (or inline bytes), size, MD5
 *   table "p.<bucket>", key "<key>"                          part sizes of the multipart object
 *                                                            whose ETag is md5-N (see part_sizes_*)
 * \x01 sorts below every other byte a key may hold (nodes refuse NUL), so one key's uploads list
 * right after it and before any longer key; keys holding \x01 cannot be uploaded in parts.
 * Garbage collection treats every "u.*" record as live, so a part's chunks survive until the
 * upload completes (the object references them) or is aborted (tombstones; chunks left to GC).
 * An upload record keeps the creation stamp of the bucket it was made in (CORE_UPLOAD_BUCKET_HDR): a
 * bucket cannot be deleted while it has uploads (core_upload_exists), but a CreateMultipartUpload
 * already past its bucket check can still land after the delete, and such a leftover must not
 * become part of a bucket later created under the same name (by any account).
 */
#include <errno.h>
#include <inttypes.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/random.h>

#include <libxml/parser.h>
#include <libxml/tree.h>
#include <openssl/evp.h>
#include <xxhash.h>

#include "s3_body.h"
#include "s3_int.h"
#include "s3_xml.h"

#define MP_MAX_PARTS 10000
#define MP_MIN_PART (5ull << 20)       /* every part but the last */
#define MP_MAX_PART (5ull << 30)
#define MP_COMPLETE_MAX (4u << 20)     /* CompleteMultipartUpload body: 10,000 parts fit easily */
#define MP_LIST_PAGE 1000
/* u.<bucket> keys: key, \x01, id, \x01, 5 digits; the node's key limit is OG_KEY_MAX */
#define MP_KEY_MAX (OG_KEY_MAX - 1 - CORE_UPLOAD_ID_LEN - 1 - 5)
typedef struct {
    char id[CORE_UPLOAD_ID_LEN + 1];
    char table[CORE_TABLE_CAP]; /* core_table('u', bucket) */
    char ukey[OG_KEY_MAX + 1];     /* "<key>\x01<id>" and room for the part suffix */
    size_t ulen;
} mp_upload_t;

/* ---------------------------------------------------------------- records */

static og_str_t part_key(mp_upload_t *u, uint32_t part)
{
    int n = snprintf(u->ukey + u->ulen, sizeof(u->ukey) - u->ulen, "%c%05u", CORE_UPLOAD_SEP, part);
    return (og_str_t){u->ukey, u->ulen + (size_t)n};
}

static og_str_t upload_key(const mp_upload_t *u) { return (og_str_t){u->ukey, u->ulen}; }

static int valid_id(og_str_t s)
{
    if (s.len != CORE_UPLOAD_ID_LEN)
        return 0;
    for (size_t i = 0; i < s.len; i++) {
        char c = s.base[i];
        if (!((c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '-' || c == '_'))
            return 0;
    }
    return 1;
}

static void upload_init(mp_upload_t *u, const s3_req_t *r, og_str_t id)
{
    memcpy(u->id, id.base, CORE_UPLOAD_ID_LEN);
    u->id[CORE_UPLOAD_ID_LEN] = '\0';
    core_table('u', r->bid, u->table);
    memcpy(u->ukey, r->key, r->key_len);
    u->ukey[r->key_len] = CORE_UPLOAD_SEP;
    memcpy(u->ukey + r->key_len + 1, id.base, CORE_UPLOAD_ID_LEN);
    u->ulen = r->key_len + 1 + CORE_UPLOAD_ID_LEN;
}

/* The creation stamp of r's bucket (which s3_handle found live). 0, OG_ENOTFOUND (deleted
 * since), OG_EQUORUM, OG_EPROTO. */
static int bucket_created(s3_req_t *r, uint64_t *created_ns)
{
    core_bucket_t b;
    int rc = s3_bucket_load(r, &b);
    if (rc == 0)
        *created_ns = b.created_ns;
    core_bucket_free(&b);
    return rc;
}

/* The request's ?uploadId and its upload record: 0 with *m / *buf (caller frees), OG_ENOTFOUND
 * (no such upload, also for an upload of an earlier bucket of this name: answer with
 * S3_ON_UPLOAD), OG_EQUORUM ... */
static int upload_open(s3_req_t *r, mp_upload_t *u, core_meta_t *m, char **buf)
{
    og_str_t raw;
    char id[CORE_UPLOAD_ID_LEN + 1];
    uint64_t created = 0;
    long n = -1;
    if (og_query_get(r->info->query, "uploadId", &raw) && raw.len <= 3 * CORE_UPLOAD_ID_LEN)
        n = og_urldecode(raw.base, raw.len, id, sizeof(id), 1);
    if (n < 0 || !valid_id((og_str_t){id, (size_t)n}) || r->key_len > MP_KEY_MAX ||
        memchr(r->key, CORE_UPLOAD_SEP, r->key_len) != NULL)
        return OG_ENOTFOUND;
    upload_init(u, r, (og_str_t){id, CORE_UPLOAD_ID_LEN});
    int rc = core_rec_lookup(r->gw->cluster, u->table, upload_key(u), m, buf);
    if (rc != 0)
        return rc;
    if ((rc = bucket_created(r, &created)) == 0 && !core_upload_in_bucket(m, created))
        rc = OG_ENOTFOUND;
    if (rc != 0) {
        core_meta_free(m);
        free(*buf);
        *buf = NULL;
    }
    return rc;
}

/* A stored header of m by name, or {NULL,0}. */
static og_str_t meta_header(const core_meta_t *m, const char *name)
{
    return og_header_find(m->headers, m->num_headers, name);
}

/* ---------------------------------------------------------------- create */

/* The headers an upload keeps for its object: s3_stored_headers' (the object gets them in the
 * same order), then the checksum algorithm/type the parts will carry and the bucket's creation
 * stamp (CORE_UPLOAD_BUCKET_HDR = bucket_stamp), which Complete drops again. Sets m->headers,
 * m->num_headers, m->content_type; *hdrs and *names are malloc'd for the caller. 0, -ENOMEM,
 * OG_ETOOBIG (user metadata), OG_EINVAL (bad checksum algorithm or type). */
static int create_headers(s3_req_t *r, og_str_t bucket_stamp, core_meta_t *m, og_header_t **hdrs, char **names,
                          char *enc_buf, size_t enc_cap)
{
    og_str_t alg = http_req_header(r->http, "x-amz-checksum-algorithm");
    og_str_t type = http_req_header(r->http, "x-amz-checksum-type");
    int a = alg.base != NULL ? s3_ck_parse(alg) : 0;
    if (a < 0 || (type.base != NULL && !og_str_ieq(type, "COMPOSITE") && !og_str_ieq(type, "FULL_OBJECT")))
        return OG_EINVAL;
    size_t k;
    int rc = s3_stored_headers(r, 3, hdrs, &k, names, &m->content_type, enc_buf, enc_cap);
    if (rc != 0)
        return rc;
    og_header_t *h = *hdrs;
    if (alg.base != NULL)
        h[k++] = (og_header_t){OG_STR_LIT("x-amz-checksum-algorithm"), og_str(s3_ck_upper(a))};
    if (type.base != NULL)
        h[k++] = (og_header_t){OG_STR_LIT("x-amz-checksum-type"),
                               og_str_ieq(type, "COMPOSITE") ? OG_STR_LIT("COMPOSITE") : OG_STR_LIT("FULL_OBJECT")};
    h[k++] = (og_header_t){OG_STR_LIT(CORE_UPLOAD_BUCKET_HDR), bucket_stamp};
    m->headers = h, m->num_headers = k;
    return 0;
}

/* The upload's checksum algorithm (or -1) and whether it is FULL_OBJECT (CRC64NVME only knows
 * FULL_OBJECT; the others default to COMPOSITE, as in S3). OG_EINVAL for a combination S3
 * refuses (FULL_OBJECT of a SHA). */
static int upload_checksum(const core_meta_t *up, int *full_object)
{
    og_str_t a = meta_header(up, "x-amz-checksum-algorithm"), t = meta_header(up, "x-amz-checksum-type");
    int alg = a.base ? s3_ck_parse(a) : -1;
    *full_object = t.base ? og_str_eq(t, "FULL_OBJECT") : alg == S3_CK_CRC64NVME;
    if (alg < 0)
        return -1;
    if ((*full_object && alg >= S3_CK_SHA1) || (!*full_object && alg == S3_CK_CRC64NVME))
        return OG_EINVAL;
    return alg;
}

/* Answers a CreateMultipartUpload of upload u (record m, encrypted as sse says). */
static void create_answer(s3_req_t *r, const mp_upload_t *u, const core_meta_t *m, const s3_sse_t *sse)
{
    og_buf_t b = {0};
    og_buf_puts(&b, "<InitiateMultipartUploadResult xmlns=\"" S3_XMLNS "\">");
    og_buf_elem(&b, "Bucket", r->bucket, strlen(r->bucket));
    og_buf_elem(&b, "Key", r->key, r->key_len);
    og_buf_elem(&b, "UploadId", u->id, CORE_UPLOAD_ID_LEN);
    og_buf_puts(&b, "</InitiateMultipartUploadResult>");
    if (b.oom) {
        s3_error_rc(r, -ENOMEM);
    } else {
        og_header_t extra[4];
        size_t ne = s3_sse_headers(sse, extra);
        og_str_t a = meta_header(m, "x-amz-checksum-algorithm"), t = meta_header(m, "x-amz-checksum-type");
        if (a.base)
            extra[ne++] = (og_header_t){OG_STR_LIT("x-amz-checksum-algorithm"), a};
        if (t.base)
            extra[ne++] = (og_header_t){OG_STR_LIT("x-amz-checksum-type"), t};
        s3_send_xml(r, 200, extra, ne, b.buf, b.len);
    }
    og_buf_free(&b);
}

/* CreateMultipartUpload: the upload record keeps the object's headers, checksum settings, bucket
 * stamp and encryption (an SSE-C upload's salt and key check, an SSE-S3 upload's sealed data key:
 * every part is written under that key and the object keeps it). */
void s3_create_multipart(s3_req_t *r)
{
    uint8_t rnd[16];
    char id[CORE_UPLOAD_ID_LEN + 8], *names = NULL, enc[256], stamp[24];
    og_header_t *hdrs = NULL;
    core_meta_t m = {0};
    mp_upload_t u;
    s3_sse_t sse;
    uint64_t created = 0;
    size_t stamp_len;
    int rc, full;

    if (r->key_len > MP_KEY_MAX || memchr(r->key, CORE_UPLOAD_SEP, r->key_len) != NULL) {
        s3_error(r, 400, "KeyTooLongError", "Keys of multipart uploads are limited to 995 bytes without \\x01.",
                    NULL);
        return;
    }
    if (s3_sse_parse(r, 0, &sse) != 0)
        return;
    if (s3_lock_write(r, &m.lock) != 0) {
        s3_sse_wipe(&sse);
        return;
    }
    if ((rc = bucket_created(r, &created)) != 0 || (rc = s3_sse_new(r, &sse)) != 0) {
        s3_error_on(r, rc, S3_ON_BUCKET);
        s3_sse_wipe(&sse);
        return;
    }
    stamp_len = (size_t)snprintf(stamp, sizeof(stamp), "%" PRIu64, created);
    rc = create_headers(r, (og_str_t){stamp, stamp_len}, &m, &hdrs, &names, enc, sizeof(enc));
    if (rc == 0 && upload_checksum(&m, &full) == OG_EINVAL)
        rc = OG_EINVAL;
    if (rc == OG_ETOOBIG) {
        s3_error(r, 400, "MetadataTooLarge", "Your metadata headers exceed the maximum allowed metadata size.", NULL);
        goto out_free;
    }
    if (rc == OG_EINVAL) {
        s3_error(r, 400, "InvalidRequest", "Invalid x-amz-checksum-algorithm or x-amz-checksum-type.", NULL);
        goto out_free;
    }
    if (rc != 0) {
        s3_error_rc(r, rc);
        goto out_free;
    }
    /* unreserved characters only: s3cmd and botocore encode anything else differently */
    if (getrandom(rnd, sizeof(rnd), 0) != (ssize_t)sizeof(rnd) || og_b64_encode(rnd, sizeof(rnd), id, sizeof(id), 1) != CORE_UPLOAD_ID_LEN) {
        s3_error_rc(r, -EIO);
        goto out_free;
    }
    upload_init(&u, r, (og_str_t){id, CORE_UPLOAD_ID_LEN});
    m.owner = s3_new_owner(r);
    s3_sse_apply(&sse, &m);
    if ((rc = core_rec_commit(r->gw->cluster, u.table, upload_key(&u), &m)) != 0) {
        s3_error_rc(r, rc);
        goto out_free;
    }
    create_answer(r, &u, &m, &sse);
out_free:
    free(hdrs);
    free(names);
    s3_sse_wipe(&sse);
}

/* ---------------------------------------------------------------- upload part */

/* Answers r with the XML document in b (200, no extra headers), or with -ENOMEM when b or a
 * buffer it was built from (other_oom) ran out of memory. Frees nothing. */
static void send_xml_result(s3_req_t *r, const og_buf_t *b, int other_oom)
{
    if (b->oom || other_oom)
        s3_error_rc(r, -ENOMEM);
    else
        s3_send_xml(r, 200, NULL, 0, b->buf, b->len);
}

/* Content-MD5: base64 of 16 bytes. 0 or OG_EINVAL. */
static int parse_md5(og_str_t v, uint8_t out[16])
{
    uint8_t tmp[18];
    if (og_b64_decode(v, tmp, sizeof(tmp)) != 16)
        return OG_EINVAL;
    memcpy(out, tmp, 16);
    return 0;
}

/* Stores one part's record (encrypted as the upload, sse) and answers with its ETag (and checksum,
 * and encryption headers). 0, or the record write's code (OG_EQUORUM ...), unanswered. */
static int part_commit(s3_req_t *r, mp_upload_t *u, uint32_t part, core_obj_data_t *d, const s3_body_sums_t *sums,
                        const s3_sse_t *sse, int copy)
{
    og_header_t ck[S3_CK_COUNT], eh[2];
    char vals[S3_CK_COUNT][S3_CK_B64_MAX], etag[48], mtime[32];
    core_meta_t m = {.size = d->size, .chunks = d->chunks, .num_chunks = d->num_chunks,
                   .inline_data = {d->inline_data, d->inline_len}};
    memcpy(m.md5, d->md5, 16);
    m.owner = og_str(r->user.account);
    m.headers = ck;
    m.num_headers = s3_body_sums_headers(sums, ck, vals);
    s3_sse_apply(sse, &m);
    int rc = core_rec_commit(r->gw->cluster, u->table, part_key(u, part), &m);
    if (rc != 0)
        return rc;
    size_t elen = core_meta_etag(&m, etag), ne = s3_sse_headers(sse, eh);
    if (!copy) {
        og_header_t h[3 + S3_CK_COUNT];
        h[0] = (og_header_t){OG_STR_LIT("ETag"), {etag, elen}};
        memcpy(h + 1, ck, m.num_headers * sizeof(ck[0]));
        memcpy(h + 1 + m.num_headers, eh, ne * sizeof(eh[0]));
        s3_send(r, 200, h, 1 + m.num_headers + ne, NULL, 0);
        return 0;
    }
    og_buf_t b = {0};
    http_iso8601_format(m.mtime_ns, mtime);
    og_buf_puts(&b, "<CopyPartResult xmlns=\"" S3_XMLNS "\">");
    og_buf_elem(&b, "LastModified", mtime, strlen(mtime));
    og_buf_elem(&b, "ETag", etag, elen);
    /* As S3: the part's checksum (the upload's algorithm) in <ChecksumCRC32> ... */
    for (int i = 0; i < S3_CK_COUNT; i++) {
        if (!(sums->have & (1u << i)))
            continue;
        char name[24], val[S3_CK_B64_MAX];
        size_t vlen = s3_ck_b64(sums->value[i], s3_ck_len((s3_ck_alg_t)i), val);
        snprintf(name, sizeof(name), "Checksum%s", s3_ck_upper((s3_ck_alg_t)i));
        og_buf_elem(&b, name, val, vlen);
    }
    og_buf_puts(&b, "</CopyPartResult>");
    if (b.oom)
        s3_error_rc(r, -ENOMEM);
    else
        s3_send_xml(r, 200, eh, ne, b.buf, b.len);
    og_buf_free(&b);
    return 0;
}

/* The object keys of an UploadPartCopy: the source's (NULL when plain) and the upload's (NULL when
 * plain; to_mode its CORE_META_SSE_* flag). */
typedef struct {
    const uint8_t *from, *to;
    uint8_t to_mode;
} part_keys_t;

/* A pull source over bytes [pos, last] of a stored object: each read fetches exactly the bytes
 * asked for with core_obj_read, so a copied range is rewritten with the memory of one read. With
 * ck, the bytes are also folded into that checksum (the upload's algorithm) on the way. */
typedef struct {
    cluster_t *cl;
    const core_meta_t *m;
    const uint8_t *key; /* m's object key (NULL: not encrypted) */
    uint64_t pos, last;
    char *dst;
    size_t fill;
    s3_ck_t *ck;
} copy_src_t;

static int copy_sink(void *ctx, const void *buf, size_t len)
{
    copy_src_t *c = ctx;
    memcpy(c->dst + c->fill, buf, len);
    c->fill += len;
    return 0;
}

static ssize_t copy_read(void *ctx, void *buf, size_t cap)
{
    copy_src_t *c = ctx;
    if (c->pos > c->last)
        return 0;
    uint64_t n = c->last - c->pos + 1 < cap ? c->last - c->pos + 1 : cap;
    if (c->m->num_chunks == 0 && c->key == NULL) {
        if (c->m->inline_data.len < c->last + 1)
            return OG_ECORRUPT;
        memcpy(buf, c->m->inline_data.base + c->pos, (size_t)n);
    } else {
        c->dst = buf, c->fill = 0;
        int rc = core_obj_read_key(c->cl, c->m, c->key, c->pos, c->pos + n - 1, copy_sink, c);
        if (rc != 0)
            return rc;
        if (c->fill != n)
            return OG_ECORRUPT;
    }
    if (c->ck != NULL) {
        int rc = s3_ck_update(c->ck, buf, (size_t)n);
        if (rc != 0)
            return rc;
    }
    c->pos += n;
    return (ssize_t)n;
}

static int ck_sink(void *ctx, const void *buf, size_t len)
{
    return s3_ck_update(ctx, buf, len);
}

/* Ends ck into sums as the only checksum of a part (algorithm alg). 0 or -ENOMEM. */
static int ck_to_sums(s3_ck_t *ck, int alg, s3_body_sums_t *sums)
{
    if (s3_ck_final(ck, sums->value[alg]) < 0)
        return -ENOMEM;
    sums->have = 1u << alg;
    return 0;
}

/* The checksum of algorithm alg over all bytes of m (its object key: key, NULL when plain) into
 * sums, read through core_obj_read_key (memory bounded). 0, a core_obj_read_key code, -ENOMEM. */
static int copy_checksum_read(cluster_t *cl, int alg, const core_meta_t *m, const uint8_t *key, s3_body_sums_t *sums)
{
    s3_ck_t ck;
    int rc = s3_ck_init(&ck, (s3_ck_alg_t)alg);
    if (rc == 0 && m->size > 0)
        rc = core_obj_read_key(cl, m, key, 0, m->size - 1, ck_sink, &ck);
    if (rc == 0)
        rc = ck_to_sums(&ck, alg, sums);
    s3_ck_free(&ck);
    return rc;
}

/* "bytes=a-b" of x-amz-copy-source-range within size. 0 or OG_EINVAL. */
static int parse_copy_range(og_str_t v, uint64_t size, uint64_t *first, uint64_t *last)
{
    unsigned long long a, b;
    int used = 0;
    char tmp[64];
    if (v.len >= sizeof(tmp))
        return OG_EINVAL;
    memcpy(tmp, v.base, v.len);
    tmp[v.len] = '\0';
    if (sscanf(tmp, "bytes=%llu-%llu%n", &a, &b, &used) != 2 || (size_t)used != v.len || a > b || b >= size)
        return OG_EINVAL;
    *first = a, *last = b;
    return 0;
}

/* A whole single-part source, referenced: the same chunks, no data moves; the checksum of alg
 * (>= 0) from the source's stored one (verified when it was stored), else read back. 0 with *d
 * (borrowing src's buffers: not to be freed), or a code to answer with *on. */
static int part_copy_ref(s3_req_t *r, const core_meta_t *src, int alg, core_obj_data_t *d, s3_body_sums_t *sums,
                         s3_on_t *on)
{
    /* The chunks are touched first, as CopyObject does: a garbage-collection sweep that marked
     * before this part record exists must not delete them once the source is gone. */
    int rc = core_obj_touch(r->gw->cluster, src);
    *on = S3_ON_TARGET;
    if (rc != 0)
        return rc;
    *on = S3_ON_STORED;
    d->size = src->size;
    memcpy(d->md5, src->md5, 16);
    d->chunks = (core_chunk_ref_t *)src->chunks;
    d->num_chunks = src->num_chunks;
    d->inline_data = (char *)src->inline_data.base;
    d->inline_len = src->inline_data.len;
    if (alg < 0)
        return 0;
    og_str_t v = meta_header(src, s3_ck_header((s3_ck_alg_t)alg));
    if (v.base != NULL && s3_ck_unb64(alg, v, sums->value[alg]) == 0) {
        sums->have = 1u << alg;
        return 0;
    }
    return copy_checksum_read(r->gw->cluster, alg, src, NULL, sums);
}

/* Bytes [first, last] (len of them) of a plain source written again (a range, a multipart source
 * whose MD5 is not of its bytes, or a change of encryption: read with keys->from, written with
 * keys->to), with alg's checksum (>= 0) computed on the way. 0 with
 * *d (core_obj_data_free), or a code to answer with S3_ON_STORED. */
static int part_copy_rewrite(s3_req_t *r, const core_meta_t *src, const part_keys_t *keys, int alg, uint64_t first,
                             uint64_t last, uint64_t len, core_obj_data_t *d, s3_body_sums_t *sums)
{
    s3_ck_t ck;
    int rc;
    if (alg >= 0 && (rc = s3_ck_init(&ck, (s3_ck_alg_t)alg)) != 0)
        return rc;
    copy_src_t cs = {r->gw->cluster, src, keys->from, first, last, NULL, 0, alg >= 0 ? &ck : NULL};
    core_obj_put_opts_t opts = {.key = keys->to, .max_size = MP_MAX_PART, .expect_size = (int64_t)len};
    if ((rc = core_obj_write(r->gw->cluster, &opts, (core_obj_src_t){copy_read, &cs}, d)) == 0 && alg >= 0 &&
        (rc = ck_to_sums(&ck, alg, sums)) != 0)
        core_obj_data_free(d);
    if (alg >= 0)
        s3_ck_free(&ck);
    return rc;
}

/* A large source's bytes [first, first + len), written through the Swift readers, with alg's
 * checksum (>= 0) read back. 0 with *d (core_obj_data_free), or a code to answer with *on. */
static int part_copy_large(s3_req_t *r, const core_meta_t *src, const part_keys_t *keys, int alg, uint64_t first,
                           uint64_t len, core_obj_data_t *d, s3_body_sums_t *sums, s3_on_t *on)
{
    int rc;
    *on = S3_ON_SEGMENTS;
    if ((rc = s3_copy_rewrite(r, src, NULL, keys->to, first, len, d)) != 0)
        return rc;
    core_meta_t dm = {.size = d->size, .chunks = d->chunks, .num_chunks = d->num_chunks,
                    .inline_data = {d->inline_data, d->inline_len}, .flags = keys->to_mode};
    *on = S3_ON_STORED;
    if (alg >= 0 && (rc = copy_checksum_read(r->gw->cluster, alg, &dm, keys->to, sums)) != 0)
        core_obj_data_free(d);
    return rc;
}

/* What of source src an UploadPartCopy copies: *large (s3_large_stat), and bytes [*first, *last]
 * (*len of them; none of an empty source) of what S3 GET serves for it. 0, or -1 answered. */
static int part_copy_span(s3_req_t *r, const core_meta_t *src, int *large, uint64_t *first, uint64_t *last,
                          uint64_t *len)
{
    char setag[48];
    size_t selen;
    uint64_t ssize = 0;
    /* a large object's range is of the bytes S3 GET serves for it */
    if ((*large = s3_large_stat(r, src, &ssize, setag, &selen)) < 0) {
        s3_error_rc(r, *large);
        return -1;
    }
    if (!*large)
        ssize = src->size;
    if (!s3_copy_preconditions_hold(r, setag, selen, src->mtime_ns)) {
        s3_error(r, 412, "PreconditionFailed", NULL, NULL);
        return -1;
    }
    og_str_t range = http_req_header(r->http, "x-amz-copy-source-range");
    if (range.base != NULL && parse_copy_range(range, ssize, first, last) != 0) {
        s3_error(r, 400, "InvalidRange", "The x-amz-copy-source-range value must be bytes=first-last within the source.",
                    NULL);
        return -1;
    }
    if (range.base == NULL && ssize > 0)
        *last = ssize - 1;
    *len = ssize > 0 ? *last - *first + 1 : 0;
    if (*len > MP_MAX_PART) {
        s3_error(r, 400, "InvalidRequest", "The specified copy source is larger than the maximum part size.", NULL);
        return -1;
    }
    return 0;
}

/* UploadPartCopy: a whole single-part source is referenced by its chunk list (its MD5 is the
 * part's) when neither it nor the upload is encrypted; a Swift large object's range is read from
 * its segments (as s3api does, never from the manifest's own bytes) and anything else (a range, a
 * multipart source whose MD5 is not of its bytes, a change of encryption) from the source's
 * chunks, and written again through core_obj_write under the upload's key (to).
 * With alg >= 0 (the upload's x-amz-checksum-algorithm) the part gets that checksum of its bytes,
 * as an uploaded part does, or Complete could never accept it. */
static void upload_part_copy(s3_req_t *r, mp_upload_t *u, uint32_t part, int alg, const s3_sse_t *to)
{
    char *sbuf = NULL;
    s3_copy_src_t cs = {0};
    core_meta_t src = {0};
    core_obj_data_t d = {0};
    s3_body_sums_t sums = {0};
    s3_sse_t from;
    uint64_t first = 0, last = 0, len = 0;
    s3_on_t on = S3_ON_STORED;
    int large, owned = 1, rc;

    if (s3_sse_parse(r, 1, &from) != 0)
        return;
    /* the source (or the version its versionId names) is read as CopyObject reads it */
    if ((rc = s3_copy_src_parse(http_req_header(r->http, "x-amz-copy-source"), &cs)) != 0) {
        if (rc == OG_EINVAL)
            s3_error(r, 400, "InvalidArgument", "Copy Source must mention the source bucket and key.", NULL);
        else
            s3_error_rc(r, rc);
        goto out_free_src;
    }
    if ((rc = s3_copy_src_read(r, &cs, &src, &sbuf, &on)) != 0) {
        s3_copy_src_error(r, &cs, rc, on);
        src = (core_meta_t){0}, sbuf = NULL; /* nothing of a failed read is left to free */
        goto out_free_src;
    }
    if (s3_sse_open(r, &src, &from) != 0 || part_copy_span(r, &src, &large, &first, &last, &len) != 0)
        goto out_free_src;
    part_keys_t keys = {from.mode ? from.key : NULL, to->mode ? to->key : NULL, to->mode};
    if (large) {
        rc = part_copy_large(r, &src, &keys, alg, first, len, &d, &sums, &on);
    } else if (first == 0 && last + 1 >= src.size && src.parts == 0 && !keys.from && !keys.to) {
        owned = 0;
        rc = part_copy_ref(r, &src, alg, &d, &sums, &on);
    } else {
        rc = part_copy_rewrite(r, &src, &keys, alg, first, last, len, &d, &sums);
    }
    if (rc != 0) {
        s3_error_on(r, rc, on);
        goto out_free_src;
    }
    if ((rc = part_commit(r, u, part, &d, &sums, to, 1)) != 0)
        s3_error_rc(r, rc);
    if (owned)
        core_obj_data_free(&d);
out_free_src:
    core_meta_free(&src);
    free(sbuf);
    free(cs.key);
    s3_sse_wipe(&from);
}

/* The part number and upload an UploadPart writes to, and the upload's key (from the request's
 * SSE headers, which must match the upload's). 0 with *u, *up (core_meta_free), *upbuf (free) and
 * *sse (s3_sse_wipe), or -1 answered with nothing to release. */
static int part_open(s3_req_t *r, uint32_t *part, mp_upload_t *u, core_meta_t *up, char **upbuf, s3_sse_t *sse)
{
    int rc;
    if (s3_part_number(r, part) != 0 || *part == 0) {
        s3_error(r, 400, "InvalidArgument", "Part number must be an integer between 1 and 10000, inclusive.", NULL);
        return -1;
    }
    if (s3_sse_parse(r, 0, sse) != 0)
        return -1;
    if ((rc = upload_open(r, u, up, upbuf)) != 0) {
        s3_error_on(r, rc, S3_ON_UPLOAD);
        s3_sse_wipe(sse);
        return -1;
    }
    if (s3_sse_open(r, up, sse) != 0) {
        core_meta_free(up);
        free(*upbuf);
        s3_sse_wipe(sse);
        return -1;
    }
    return 0;
}

void s3_upload_part(s3_req_t *r)
{
    mp_upload_t u;
    core_meta_t up = {0};
    char *upbuf = NULL;
    uint32_t part = 0;
    s3_body_t *body = NULL;
    core_obj_data_t d = {0};
    s3_body_sums_t sums;
    s3_sse_t sse;
    int64_t expect;
    uint8_t want_md5[16];
    int rc, full;

    if (part_open(r, &part, &u, &up, &upbuf, &sse) != 0)
        return;
    int alg = upload_checksum(&up, &full);
    if (http_req_header(r->http, "x-amz-copy-source").base != NULL) {
        upload_part_copy(r, &u, part, alg, &sse);
        goto out_free_upload;
    }
    og_str_t cmd5 = http_req_header(r->http, "content-md5");
    if (cmd5.base != NULL && parse_md5(cmd5, want_md5) != 0) {
        s3_error(r, 400, "InvalidDigest", NULL, NULL);
        goto out_free_upload;
    }
    if (!r->info->chunked && http_req_header(r->http, "content-length").base == NULL) {
        s3_error(r, 411, "MissingContentLength", NULL, NULL);
        goto out_free_upload;
    }
    if ((rc = s3_body_open(r, &body, &expect, alg >= 0 ? 1u << alg : 0)) != 0) {
        s3_error_on(r, rc, S3_ON_BODY);
        goto out_free_upload;
    }
    core_obj_put_opts_t opts = {.key = sse.mode ? sse.key : NULL, .max_size = MP_MAX_PART, .expect_size = expect,
                              .digests = r->auth.payload == AUTH_PAYLOAD_SHA256 ? CORE_OBJ_SHA256 : 0};
    if ((rc = core_obj_write(r->gw->cluster, &opts, s3_body_src(body), &d)) != 0 ||
        (rc = s3_body_finish(body, &sums)) != 0) {
        s3_error_on(r, rc, S3_ON_BODY);
        goto out_free_body;
    }
    if (cmd5.base != NULL && memcmp(d.md5, want_md5, 16) != 0) {
        s3_error(r, 400, "BadDigest", "The Content-MD5 you specified did not match what we received.", NULL);
        goto out_free_data;
    }
    if (opts.digests && memcmp(d.sha256, r->auth.payload_sha256, 32) != 0) {
        s3_error(r, 400, "XAmzContentSHA256Mismatch", NULL, NULL);
        goto out_free_data;
    }
    if ((rc = part_commit(r, &u, part, &d, &sums, &sse, 0)) != 0)
        s3_error_rc(r, rc);
out_free_data:
    core_obj_data_free(&d);
out_free_body:
    s3_body_free(body);
out_free_upload:
    core_meta_free(&up);
    free(upbuf);
    s3_sse_wipe(&sse);
}

/* ---------------------------------------------------------------- listing an upload's parts */

/* Calls fn for each live part record of upload u with number > after, in order, until fn
 * returns non-zero (returned) or max parts were seen (then *more tells whether another
 * follows). 0, fn's code, OG_EQUORUM. */
typedef int (*part_fn)(void *ctx, uint32_t part, const og_rec_t *rec);

static int parts_each(cluster_t *cl, mp_upload_t *u, uint32_t after, size_t max, part_fn fn, void *ctx, int *more)
{
    char prefix[sizeof(u->ukey)], from[sizeof(u->ukey)];
    size_t plen = u->ulen + 1, seen = 0;
    og_str_t next;
    int rc = 0;
    memcpy(prefix, u->ukey, u->ulen);
    prefix[u->ulen] = CORE_UPLOAD_SEP;
    next = after ? part_key(u, after) : (og_str_t){NULL, 0};
    memcpy(from, next.base ? next.base : "", next.len);
    next.base = from;
    *more = 0;
    for (;;) {
        cluster_list_t l;
        if ((rc = cluster_list(cl, u->table, (og_str_t){prefix, plen}, next, MP_LIST_PAGE, &l)) != 0)
            return rc;
        for (size_t i = 0; i < l.n && rc == 0; i++) {
            og_str_t k = l.entries[i].key;
            uint32_t num = 0;
            if (k.len != plen + 5)
                continue; /* not a part of this upload */
            for (size_t j = plen; j < k.len; j++)
                num = num * 10 + (uint32_t)(k.base[j] - '0');
            if (seen == max) {
                *more = 1;
                rc = 1;
                break;
            }
            seen++;
            rc = fn(ctx, num, &l.entries[i].rec);
        }
        int truncated = l.truncated;
        if (truncated && l.next_after.len <= sizeof(from)) {
            memcpy(from, l.next_after.base, l.next_after.len);
            next.len = l.next_after.len;
        }
        cluster_list_free(&l);
        if (rc != 0)
            return rc == 1 && *more ? 0 : rc;
        if (!truncated)
            return 0;
    }
}

typedef struct {
    og_buf_t *b;
    uint32_t last;
} list_parts_ctx_t;

static int list_parts_one(void *ctx, uint32_t part, const og_rec_t *rec)
{
    list_parts_ctx_t *c = ctx;
    core_meta_t m;
    char etag[48], mtime[32];
    if (core_meta_decode(rec, &m) != 0)
        return OG_ECORRUPT;
    http_iso8601_format(m.mtime_ns, mtime);
    og_buf_printf(c->b, "<Part><PartNumber>%u</PartNumber>", part);
    og_buf_elem(c->b, "LastModified", mtime, strlen(mtime));
    og_buf_elem(c->b, "ETag", etag, core_meta_etag(&m, etag));
    og_buf_printf(c->b, "<Size>%" PRIu64 "</Size></Part>", m.size);
    core_meta_free(&m);
    c->last = part;
    return 0;
}

/* A non-negative integer query parameter, clamped to max; def when absent. OG_EINVAL if bad. */
static int query_uint(s3_req_t *r, const char *name, uint64_t def, uint64_t max, uint64_t *out)
{
    og_str_t v;
    uint64_t n;
    *out = def;
    if (!og_query_get(r->info->query, name, &v))
        return 0;
    if (og_parse_dec(v, 12, &n) != 0)
        return OG_EINVAL;
    *out = n > max ? max : n;
    return 0;
}

static void put_owner(og_buf_t *b, const char *elem, og_str_t owner)
{
    og_buf_printf(b, "<%s>", elem);
    og_buf_elem(b, "ID", owner.base, owner.len);
    og_buf_elem(b, "DisplayName", owner.base, owner.len);
    og_buf_printf(b, "</%s>", elem);
}

void s3_list_parts(s3_req_t *r)
{
    mp_upload_t u;
    core_meta_t up = {0};
    char *upbuf = NULL;
    uint64_t max_parts, marker;
    og_buf_t b = {0}, parts = {0};
    int more = 0, rc;

    if (query_uint(r, "max-parts", 1000, 1000, &max_parts) != 0 ||
        query_uint(r, "part-number-marker", 0, MP_MAX_PARTS, &marker) != 0) {
        s3_error(r, 400, "InvalidArgument", "max-parts and part-number-marker must be integers.", NULL);
        return;
    }
    if ((rc = upload_open(r, &u, &up, &upbuf)) != 0) {
        s3_error_on(r, rc, S3_ON_UPLOAD);
        return;
    }
    list_parts_ctx_t c = {&parts, 0};
    if (max_parts > 0 &&
        (rc = parts_each(r->gw->cluster, &u, (uint32_t)marker, (size_t)max_parts, list_parts_one, &c, &more)) != 0) {
        s3_error_rc(r, rc);
        goto out_free;
    }
    og_buf_puts(&b, "<ListPartsResult xmlns=\"" S3_XMLNS "\">");
    og_buf_elem(&b, "Bucket", r->bucket, strlen(r->bucket));
    og_buf_elem(&b, "Key", r->key, r->key_len);
    og_buf_elem(&b, "UploadId", u.id, CORE_UPLOAD_ID_LEN);
    put_owner(&b, "Initiator", up.owner);
    put_owner(&b, "Owner", up.owner);
    og_buf_puts(&b, "<StorageClass>STANDARD</StorageClass>");
    og_buf_printf(&b, "<PartNumberMarker>%" PRIu64 "</PartNumberMarker>", marker);
    og_buf_printf(&b, "<NextPartNumberMarker>%u</NextPartNumberMarker>", c.last ? c.last : (uint32_t)marker);
    og_buf_printf(&b, "<MaxParts>%" PRIu64 "</MaxParts><IsTruncated>%s</IsTruncated>", max_parts,
                   more ? "true" : "false");
    og_str_t alg = meta_header(&up, "x-amz-checksum-algorithm");
    if (alg.base != NULL)
        og_buf_elem(&b, "ChecksumAlgorithm", alg.base, alg.len);
    if (parts.len)
        og_buf_put(&b, parts.buf, parts.len);
    og_buf_puts(&b, "</ListPartsResult>");
    send_xml_result(r, &b, parts.oom);
out_free:
    og_buf_free(&b);
    og_buf_free(&parts);
    core_meta_free(&up);
    free(upbuf);
}

/* ---------------------------------------------------------------- abort */

typedef struct {
    cluster_t *cl;
    mp_upload_t *u;
} drop_ctx_t;

static int drop_part(void *ctx, uint32_t part, const og_rec_t *rec)
{
    drop_ctx_t *c = ctx;
    return core_rec_delete(c->cl, c->u->table, part_key(c->u, part));
}

/* Tombstones every part record and then the upload record (in that order, so a failure half-way
 * leaves an upload that can be aborted again). 0 or OG_EQUORUM. */
static int upload_drop(cluster_t *cl, mp_upload_t *u)
{
    drop_ctx_t c = {cl, u};
    int more;
    int rc = parts_each(cl, u, 0, SIZE_MAX, drop_part, &c, &more);
    return rc != 0 ? rc : core_rec_delete(cl, u->table, upload_key(u));
}

void s3_abort_multipart(s3_req_t *r)
{
    mp_upload_t u;
    core_meta_t up = {0};
    char *upbuf = NULL;
    int rc;
    if ((rc = upload_open(r, &u, &up, &upbuf)) != 0) {
        s3_error_on(r, rc, S3_ON_UPLOAD);
        return;
    }
    if ((rc = upload_drop(r->gw->cluster, &u)) != 0)
        s3_error_rc(r, rc);
    else
        s3_send(r, 204, NULL, 0, NULL, 0);
    core_meta_free(&up);
    free(upbuf);
}

/* ---------------------------------------------------------------- complete */

typedef struct {
    uint32_t number;
    uint8_t md5[16];
    int has_ck;
    uint8_t ck[S3_CK_MAX_DIGEST];
} mp_req_part_t;

/* What the listing says about every part (index = part number). */
typedef struct {
    uint64_t size;
    uint8_t md5[16];
    uint8_t present;
} mp_have_t;

static int xml_name_is(const xmlNode *n, const char *name) { return strcmp((const char *)n->name, name) == 0; }

/* The text of an element, trimmed and without surrounding quotes (ETags), into out (cap). */
static int xml_text(const xmlNode *e, char *out, size_t cap)
{
    xmlChar *t = xmlNodeGetContent(e);
    if (t == NULL)
        return OG_EPROTO;
    const char *s = (const char *)t;
    size_t n = strlen(s);
    while (n && (s[0] == ' ' || s[0] == '\n' || s[0] == '\t' || s[0] == '\r' || s[0] == '"'))
        s++, n--;
    while (n && (s[n - 1] == ' ' || s[n - 1] == '\n' || s[n - 1] == '\t' || s[n - 1] == '\r' || s[n - 1] == '"'))
        n--;
    int rc = n < cap ? 0 : OG_EPROTO;
    if (rc == 0) {
        memcpy(out, s, n);
        out[n] = '\0';
    }
    xmlFree(t);
    return rc;
}

/* Parses <CompleteMultipartUpload><Part><PartNumber/><ETag/>[<ChecksumX/>]</Part>...; alg is the
 * upload's checksum algorithm (or -1). 0 with *parts (malloc'd) and *n, OG_EPROTO (MalformedXML),
 * S3_EPARTMISSING (an ETag or checksum that cannot be one), -ENOMEM. */
static int complete_parse(const char *xml, size_t len, int alg, mp_req_part_t **parts, size_t *n)
{
    int rc = OG_EPROTO;
    size_t count = 0;
    *parts = NULL, *n = 0;
    xmlDocPtr doc = s3_xml_read(xml, len);
    if (doc == NULL)
        return OG_EPROTO;
    const xmlNode *root = xmlDocGetRootElement(doc);
    if (root == NULL || !xml_name_is(root, "CompleteMultipartUpload"))
        goto out_free_doc;
    for (const xmlNode *c = root->children; c != NULL; c = c->next)
        if (c->type == XML_ELEMENT_NODE && xml_name_is(c, "Part"))
            count++;
    if (count == 0 || count > MP_MAX_PARTS)
        goto out_free_doc;
    mp_req_part_t *p = calloc(count, sizeof(*p));
    if (p == NULL) {
        rc = -ENOMEM;
        goto out_free_doc;
    }
    size_t i = 0;
    for (const xmlNode *c = root->children; c != NULL; c = c->next) {
        if (c->type != XML_ELEMENT_NODE || !xml_name_is(c, "Part"))
            continue;
        int have_num = 0, have_etag = 0;
        for (const xmlNode *f = c->children; f != NULL; f = f->next) {
            char text[128];
            if (f->type != XML_ELEMENT_NODE)
                continue;
            if (xml_text(f, text, sizeof(text)) != 0)
                goto out_free_parts;
            if (xml_name_is(f, "PartNumber")) {
                char *end;
                unsigned long v = strtoul(text, &end, 10);
                if (*end != '\0' || text[0] == '\0' || v < 1 || v > MP_MAX_PARTS)
                    goto out_free_parts;
                p[i].number = (uint32_t)v, have_num = 1;
            } else if (xml_name_is(f, "ETag")) {
                /* "<hex32>" of the part's MD5 */
                if (og_unhex(text, strlen(text), p[i].md5, 16) != 0) {
                    rc = S3_EPARTMISSING;
                    goto out_free_parts;
                }
                have_etag = 1;
            } else if (alg >= 0 && strncmp((const char *)f->name, "Checksum", 8) == 0 &&
                       s3_ck_parse(og_str((const char *)f->name + 8)) == alg) {
                if (s3_ck_unb64(alg, og_str(text), p[i].ck) != 0) {
                    rc = S3_EPARTMISSING;
                    goto out_free_parts;
                }
                p[i].has_ck = 1;
            }
        }
        if (!have_num || !have_etag)
            goto out_free_parts;
        i++;
    }
    *parts = p, *n = count;
    rc = 0;
    goto out_free_doc;
out_free_parts:
    free(p);
out_free_doc:
    xmlFreeDoc(doc);
    return rc;
}

static int have_one(void *ctx, uint32_t part, const og_rec_t *rec)
{
    mp_have_t *h = ctx;
    core_meta_t m;
    if (core_meta_decode(rec, &m) != 0)
        return OG_ECORRUPT;
    h[part].size = m.size;
    memcpy(h[part].md5, m.md5, 16);
    h[part].present = 1;
    core_meta_free(&m);
    return 0;
}

/* Appends refs to the growing chunk list *all (cap in *cap). 0 or -ENOMEM. */
static int refs_add(core_chunk_ref_t **all, size_t *n, size_t *cap, const core_chunk_ref_t *refs, size_t k)
{
    if (*n + k > *cap) {
        size_t nc = *cap ? *cap : 1024;
        while (nc < *n + k)
            nc *= 2;
        core_chunk_ref_t *na = realloc(*all, nc * sizeof(*na));
        if (na == NULL)
            return -ENOMEM;
        *all = na, *cap = nc;
    }
    memcpy(*all + *n, refs, k * sizeof(*refs));
    *n += k;
    return 0;
}

/* A part kept inline (<= CORE_INLINE_MAX bytes) becomes one chunk of the object. 0, OG_EQUORUM,
 * -ENOMEM. */
static int inline_to_chunk(cluster_t *cl, og_str_t data, core_chunk_ref_t *ref)
{
    unsigned int hl = 0;
    if (!EVP_Digest(data.base, data.len, ref->id, &hl, EVP_sha256(), NULL))
        return -ENOMEM;
    ref->len = (uint32_t)data.len;
    ref->xxh3 = XXH3_64bits(data.base, data.len);
    return cluster_chunk_put(cl, ref->id, data.base, data.len);
}

/* ---- part sizes of a multipart object: table "p.<bucket>", key = object key.
 * Record detail: u8 version(=1) | u8 md5[16] (the object's ETag MD5) | u32 n | n x u64 size.
 * It is written before the object, and read only when its MD5 and count match the object's
 * record, so a stale one (the key overwritten or deleted since) is never believed. */

/* The object's checksum from its parts': COMPOSITE = the algorithm over the concatenated part
 * checksums ("<b64>-N"), FULL_OBJECT = the CRCs combined as if computed over the whole object. */
static int object_checksum(int alg, int full, const mp_req_part_t *parts, const uint64_t *sizes, size_t n,
                           uint8_t out[S3_CK_MAX_DIGEST])
{
    size_t dl = s3_ck_len((s3_ck_alg_t)alg);
    if (full) {
        uint64_t crc = 0;
        for (size_t i = 0; i < n; i++) {
            uint64_t c = 0;
            for (size_t j = 0; j < dl; j++)
                c = c << 8 | parts[i].ck[j];
            crc = i == 0 ? c : s3_crc_combine((s3_ck_alg_t)alg, crc, c, sizes[i]);
        }
        for (size_t j = 0; j < dl; j++)
            out[j] = (uint8_t)(crc >> (8 * (dl - 1 - j)));
        return 0;
    }
    s3_ck_t c;
    int rc = s3_ck_init(&c, (s3_ck_alg_t)alg);
    for (size_t i = 0; i < n && rc == 0; i++)
        rc = s3_ck_update(&c, parts[i].ck, dl);
    if (rc == 0 && s3_ck_final(&c, out) < 0)
        rc = -ENOMEM;
    s3_ck_free(&c);
    return rc;
}

/* Fetches each listed part's record and builds the object's chunk list; fills parts[i].ck from
 * the stored part checksums when alg >= 0. Each record must still be the part that was validated
 * (sizes[i] and the listed MD5): one re-uploaded since would otherwise put its chunks under the
 * validated size and ETag. 0, S3_EPARTCHANGED, OG_EQUORUM, -ENOMEM ... */
static int complete_gather(s3_req_t *r, mp_upload_t *u, int alg, mp_req_part_t *parts, const uint64_t *sizes,
                           size_t n, core_chunk_ref_t **all, size_t *nall)
{
    size_t cap = 0;
    int rc = 0;
    for (size_t i = 0; i < n && rc == 0; i++) {
        core_meta_t pm;
        char *pbuf = NULL;
        if ((rc = core_rec_lookup(r->gw->cluster, u->table, part_key(u, parts[i].number), &pm, &pbuf)) != 0)
            return rc == OG_ENOTFOUND ? S3_EPARTCHANGED : rc;
        if (pm.size != sizes[i] || memcmp(pm.md5, parts[i].md5, 16) != 0)
            rc = S3_EPARTCHANGED;
        if (rc == 0 && alg >= 0) {
            og_str_t v = meta_header(&pm, s3_ck_header((s3_ck_alg_t)alg));
            uint8_t stored[S3_CK_MAX_DIGEST];
            if (v.base == NULL || s3_ck_unb64(alg, v, stored) != 0 ||
                (parts[i].has_ck && memcmp(stored, parts[i].ck, s3_ck_len((s3_ck_alg_t)alg)) != 0))
                rc = S3_EPARTCHANGED;
            else
                memcpy(parts[i].ck, stored, sizeof(stored));
        }
        if (rc == 0 && pm.num_chunks > 0) {
            rc = refs_add(all, nall, &cap, pm.chunks, pm.num_chunks);
        } else if (rc == 0 && pm.inline_data.len > 0) {
            core_chunk_ref_t ref;
            if ((rc = inline_to_chunk(r->gw->cluster, pm.inline_data, &ref)) == 0)
                rc = refs_add(all, nall, &cap, &ref, 1);
        }
        core_meta_free(&pm);
        free(pbuf);
    }
    return rc;
}

/* Checks the request's part list against the upload's stored parts: ascending numbers, each
 * present with the listed ETag, all but the last at least MP_MIN_PART. Fills sizes[i] (n of
 * them), *total and the object's ETag MD5 (the MD5 of the parts' MD5s). 0, S3_EPARTORDER,
 * S3_EPARTMISSING, S3_EPARTSMALL, OG_EQUORUM, -ENOMEM. */
static int complete_check(cluster_t *cl, mp_upload_t *u, const mp_req_part_t *parts, size_t n, uint64_t *sizes,
                          uint64_t *total, uint8_t md5[16])
{
    mp_have_t *have = calloc(MP_MAX_PARTS + 1, sizeof(*have));
    EVP_MD_CTX *md = EVP_MD_CTX_new();
    unsigned int hl = 0;
    int rc = -ENOMEM, more;

    if (have == NULL || md == NULL || !EVP_DigestInit_ex(md, EVP_md5(), NULL))
        goto out_free;
    if ((rc = parts_each(cl, u, 0, SIZE_MAX, have_one, have, &more)) != 0)
        goto out_free;
    for (size_t i = 1; i < n && rc == 0; i++)
        if (parts[i].number <= parts[i - 1].number)
            rc = S3_EPARTORDER;
    *total = 0;
    for (size_t i = 0; i < n && rc == 0; i++) {
        const mp_have_t *h = &have[parts[i].number];
        if (!h->present || memcmp(h->md5, parts[i].md5, 16) != 0)
            rc = S3_EPARTMISSING;
        else if (i + 1 < n && h->size < MP_MIN_PART)
            rc = S3_EPARTSMALL;
        sizes[i] = h->size;
        *total += h->size;
        EVP_DigestUpdate(md, h->md5, 16);
    }
    if (rc == 0 && !EVP_DigestFinal_ex(md, md5, &hl))
        rc = -ENOMEM;
out_free:
    EVP_MD_CTX_free(md);
    free(have);
    return rc;
}

/* The object's headers: the upload's (less the checksum settings and the bucket stamp), then its
 * checksum (ckval, S3_CK_B64_MAX + 8 bytes: "<b64>" or "<b64>-N") and type when alg >= 0. *out is
 * malloc'd for the caller. 0, OG_EBADDIGEST (the request's x-amz-checksum-* differs), -ENOMEM. */
static int complete_headers(s3_req_t *r, const core_meta_t *up, int alg, int full, const mp_req_part_t *parts,
                            const uint64_t *sizes, size_t n, char *ckval, og_header_t **out, size_t *nh)
{
    og_header_t *hdrs = malloc((up->num_headers + 2) * sizeof(*hdrs));
    uint8_t d[S3_CK_MAX_DIGEST];
    size_t k = 0;
    int rc;
    if ((*out = hdrs) == NULL)
        return -ENOMEM;
    for (size_t i = 0; i < up->num_headers; i++)
        if (!og_str_ieq(up->headers[i].name, "x-amz-checksum-algorithm") &&
            !og_str_ieq(up->headers[i].name, "x-amz-checksum-type") &&
            !og_str_ieq(up->headers[i].name, CORE_UPLOAD_BUCKET_HDR))
            hdrs[k++] = up->headers[i];
    *nh = k;
    if (alg < 0)
        return 0;
    if ((rc = object_checksum(alg, full, parts, sizes, n, d)) != 0)
        return rc;
    size_t cl = s3_ck_b64(d, s3_ck_len((s3_ck_alg_t)alg), ckval);
    if (!full)
        cl += (size_t)snprintf(ckval + cl, S3_CK_B64_MAX + 8 - cl, "-%zu", n);
    og_str_t want = http_req_header(r->http, s3_ck_header((s3_ck_alg_t)alg));
    if (want.base != NULL && !(want.len == cl && memcmp(want.base, ckval, cl) == 0))
        return OG_EBADDIGEST;
    hdrs[k++] = (og_header_t){og_str(s3_ck_header((s3_ck_alg_t)alg)), {ckval, cl}};
    hdrs[k++] = (og_header_t){OG_STR_LIT("x-amz-checksum-type"),
                              full ? OG_STR_LIT("FULL_OBJECT") : OG_STR_LIT("COMPOSITE")};
    *nh = k;
    return 0;
}

/* Commits object m (its part sizes first) and drops the upload. 0 or an error code: then
 * nothing is committed, or only part sizes no object record matches. */
static int complete_commit(s3_req_t *r, const s3_cond_t *cond, mp_upload_t *u, core_meta_t *m,
                           const uint64_t *sizes)
{
    og_str_t key = {r->key, r->key_len};
    int rc;
    /* The parts' chunks may be older than the GC grace, and a mark that reads this bucket's "o."
     * table before the commit and its "u." table after the upload is dropped sees neither
     * record: refresh them first, as a copy does (docs/architecture.md, "Garbage collection"). */
    if ((rc = core_obj_touch(r->gw->cluster, m)) != 0 ||
        (rc = core_part_sizes_put(r->gw->cluster, r->bid, key, m->md5, sizes, m->parts)) != 0 ||
        (rc = s3_cond_commit(r, cond, m)) != 0)
        return rc;
    s3_version_answer(r, m, 0);
    /* The object is committed: failing to drop the upload now only leaves records an abort or
     * a lifecycle sweep removes; the client's upload did succeed. */
    upload_drop(r->gw->cluster, u);
    return 0;
}

/* Answers 200 with the CompleteMultipartUploadResult of committed object m. */
static void complete_answer(s3_req_t *r, const core_meta_t *m, int alg, int full, const char *ckval)
{
    char etag[48];
    og_buf_t b = {0};
    size_t elen = core_meta_etag(m, etag);
    og_buf_puts(&b, "<CompleteMultipartUploadResult xmlns=\"" S3_XMLNS "\"><Location>");
    og_buf_printf(&b, "/%s/", r->bucket);
    og_buf_escape(&b, r->key, r->key_len);
    og_buf_puts(&b, "</Location>");
    og_buf_elem(&b, "Bucket", r->bucket, strlen(r->bucket));
    og_buf_elem(&b, "Key", r->key, r->key_len);
    og_buf_elem(&b, "ETag", etag, elen);
    if (alg >= 0) {
        og_buf_printf(&b, "<Checksum%s>%s</Checksum%s>", s3_ck_upper((s3_ck_alg_t)alg), ckval,
                       s3_ck_upper((s3_ck_alg_t)alg));
        og_buf_printf(&b, "<ChecksumType>%s</ChecksumType>", full ? "FULL_OBJECT" : "COMPOSITE");
    }
    og_buf_puts(&b, "</CompleteMultipartUploadResult>");
    /* SSE-S3 says so; SSE-C needs no key here and its key's MD5 is not known */
    og_header_t sse_hdr = {OG_STR_LIT("x-amz-server-side-encryption"), OG_STR_LIT("AES256")};
    if (b.oom)
        s3_error_rc(r, -ENOMEM);
    else
        s3_send_xml(r, 200, &sse_hdr, (m->flags & CORE_META_SSE_S3) ? 1 : 0, b.buf, b.len);
    og_buf_free(&b);
}

/* Reads and parses the CompleteMultipartUpload body. 0 with *parts / *n; S3_ESHA256,
 * S3_EMALFORMED, S3_EPARTMISSING, -ENOMEM, or an s3_read_body code (OG_ETOOBIG: too large). */
static int complete_request(s3_req_t *r, int alg, mp_req_part_t **parts, size_t *n)
{
    char *body = NULL;
    size_t blen = 0;
    int rc;
    if ((rc = s3_read_body(r, MP_COMPLETE_MAX, &body, &blen)) == 0 && (rc = s3_payload_verify(r, body, blen)) == 0 &&
        (rc = complete_parse(body, blen, alg, parts, n)) == OG_EPROTO)
        rc = S3_EMALFORMED;
    free(body);
    return rc;
}

void s3_complete_multipart(s3_req_t *r)
{
    mp_upload_t u;
    core_meta_t up = {0}, m = {0};
    char *upbuf = NULL, ckval[S3_CK_B64_MAX + 8];
    size_t n = 0, nall = 0, nh = 0;
    mp_req_part_t *parts = NULL;
    uint64_t *sizes = NULL, total = 0;
    core_chunk_ref_t *all = NULL;
    og_header_t *hdrs = NULL;
    s3_cond_t cond;
    int rc, full = 0;

    if (s3_cond_parse(r, 1, &cond) != 0) {
        s3_cond_refuse(r);
        return;
    }
    if ((rc = upload_open(r, &u, &up, &upbuf)) != 0) {
        s3_error_on(r, rc, S3_ON_UPLOAD);
        return;
    }
    int alg = upload_checksum(&up, &full);
    if ((rc = complete_request(r, alg, &parts, &n)) != 0) {
        if (rc == OG_ETOOBIG)
            s3_error(r, 400, "MalformedXML", "The CompleteMultipartUpload document is too large.", NULL);
        else
            s3_error_on(r, rc, S3_ON_BODY);
        goto out_free;
    }
    if ((sizes = calloc(n, sizeof(*sizes))) == NULL)
        rc = -ENOMEM;
    else
        rc = complete_check(r->gw->cluster, &u, parts, n, sizes, &total, m.md5);
    if (rc != 0) {
        s3_error_rc(r, rc);
        goto out_free;
    }
    /* parts are not counted against quotas while the upload is open; the object is */
    if ((rc = s3_quota_check(r, total)) != 0) {
        s3_error_on(r, rc, S3_ON_BUCKET);
        goto out_free;
    }
    if ((rc = complete_gather(r, &u, alg, parts, sizes, n, &all, &nall)) != 0 ||
        (rc = complete_headers(r, &up, alg, full, parts, sizes, n, ckval, &hdrs, &nh)) != 0) {
        if (rc == OG_EBADDIGEST)
            s3_error(r, 400, "BadDigest", "The checksum of the object does not match the one you specified.", NULL);
        else
            s3_error_rc(r, rc);
        goto out_free;
    }
    m.size = total;
    m.parts = (uint32_t)n;
    m.content_type = up.content_type;
    m.owner = up.owner;
    m.headers = hdrs, m.num_headers = nh;
    m.chunks = all, m.num_chunks = nall;
    /* the parts were written under the upload's key: the object keeps its key material */
    m.flags = up.flags & CORE_META_SSE;
    m.sse = up.sse;
    m.lock = up.lock; /* CreateMultipartUpload's x-amz-object-lock-* (else the bucket's default) */
    if ((rc = complete_commit(r, &cond, &u, &m, sizes)) != 0)
        s3_error_rc(r, rc);
    else
        complete_answer(r, &m, alg, full, ckval);
out_free:
    free(hdrs);
    free(all);
    free(sizes);
    free(parts);
    core_meta_free(&up);
    free(upbuf);
}

/* ---------------------------------------------------------------- list uploads */

/* The length of the common prefix a key rolls up into under (prefix of pl bytes, delimiter): up to
 * and including the first delimiter after the prefix; 0 when the key does not roll up. */
static size_t mp_common_prefix(const char *key, size_t klen, size_t pl, const char *delim, size_t dl)
{
    if (dl == 0 || klen <= pl)
        return 0;
    const char *d = memmem(key + pl, klen - pl, delim, dl);
    return d ? (size_t)(d - key) + dl : 0;
}

/* Sets from[0..*len) to the smallest string above every key that starts with cp[0..cpl): cp with
 * its trailing 0xff bytes dropped and the last byte left incremented. A listing "after" it resumes
 * past everything under cp (no record key is that string itself: upload keys all hold \x01 after
 * the key). 0, or OG_ENOTFOUND when no string is above them (cp is all 0xff). */
static int mp_prefix_end(const char *cp, size_t cpl, char *from, size_t *len)
{
    while (cpl > 0 && (unsigned char)cp[cpl - 1] == 0xff)
        cpl--;
    if (cpl == 0)
        return OG_ENOTFOUND;
    memmove(from, cp, cpl);
    from[cpl - 1] = (char)((unsigned char)from[cpl - 1] + 1);
    *len = cpl;
    return 0;
}

/* ListMultipartUploads' parameters and the state of its walk over "u.<bucket>". */
typedef struct {
    char prefix[OG_KEY_MAX + 1], delim[64], keym[OG_KEY_MAX + 1], idm[CORE_UPLOAD_ID_LEN + 1];
    long pl, dl, kml, iml;
    uint64_t max, created;            /* max-uploads; the bucket's creation stamp */
    char from[OG_KEY_MAX + 2];        /* the record key the next page starts after */
    og_str_t next;                    /* {from, length} */
    char lastcp[OG_KEY_MAX + 1];      /* the common prefix listed last */
    size_t lastcp_len;                /* SIZE_MAX before any */
    og_buf_t items;                   /* <Upload> and <CommonPrefixes> entries */
    size_t count;
    int truncated, exhausted;
    char nk[OG_KEY_MAX + 1], ni[CORE_UPLOAD_ID_LEN + 1];
    og_str_t next_key, next_id;       /* NextKeyMarker, NextUploadIdMarker */
} uploads_walk_t;

/* Decodes max-uploads, prefix, delimiter, key-marker and upload-id-marker. 0 or OG_EINVAL (also
 * for a NUL in one: no key holds one and the nodes refuse one as a listing bound, as ListObjects). */
static int uploads_params(s3_req_t *r, uploads_walk_t *w)
{
    og_str_t v;
    og_str_t q = r->info->query;
    if (query_uint(r, "max-uploads", 1000, 1000, &w->max) != 0 ||
        (og_query_get(q, "prefix", &v) && (w->pl = og_urldecode(v.base, v.len, w->prefix, OG_KEY_MAX, 1)) < 0) ||
        (og_query_get(q, "delimiter", &v) && (w->dl = og_urldecode(v.base, v.len, w->delim, 63, 1)) < 0) ||
        (og_query_get(q, "key-marker", &v) && (w->kml = og_urldecode(v.base, v.len, w->keym, OG_KEY_MAX, 1)) < 0) ||
        (og_query_get(q, "upload-id-marker", &v) &&
         (w->iml = og_urldecode(v.base, v.len, w->idm, CORE_UPLOAD_ID_LEN, 1)) < 0))
        return OG_EINVAL;
    if (memchr(w->prefix, '\0', (size_t)w->pl) || memchr(w->delim, '\0', (size_t)w->dl) ||
        memchr(w->keym, '\0', (size_t)w->kml) || memchr(w->idm, '\0', (size_t)w->iml))
        return OG_EINVAL;
    return 0;
}

/* Where the walk starts: after the key-marker (and upload-id-marker). */
static void uploads_start(uploads_walk_t *w)
{
    w->next = (og_str_t){w->from, 0};
    w->lastcp_len = SIZE_MAX;
    if (w->kml > 0 && (size_t)w->kml == mp_common_prefix(w->keym, (size_t)w->kml, (size_t)w->pl, w->delim, (size_t)w->dl) &&
        memcmp(w->keym, w->prefix, (size_t)w->pl) == 0) {
        /* A key-marker that is a common prefix (our NextKeyMarker after a CommonPrefixes entry,
         * as S3's): that prefix was listed, so resume after every key under it. */
        w->exhausted = mp_prefix_end(w->keym, (size_t)w->kml, w->from, &w->next.len) != 0;
    } else if (w->kml > 0) {
        /* after every upload of key-marker, or after one upload of it and its parts */
        memcpy(w->from, w->keym, (size_t)w->kml);
        w->next.len = (size_t)w->kml;
        if (w->iml > 0) {
            w->from[w->next.len++] = CORE_UPLOAD_SEP;
            memcpy(w->from + w->next.len, w->idm, (size_t)w->iml);
            w->next.len += (size_t)w->iml;
        }
        w->from[w->next.len++] = CORE_UPLOAD_SEP + 1;
    }
}

/* Adds one upload record (key k of klen bytes; sep points at its \x01) to the listing, as an
 * <Upload> or rolled up into its common prefix (cpl bytes, 0 for none). */
static void uploads_add(uploads_walk_t *w, og_str_t k, size_t klen, const char *sep, size_t cpl, const core_meta_t *m)
{
    char when[32];
    if (cpl) {
        og_buf_puts(&w->items, "<CommonPrefixes>");
        og_buf_elem(&w->items, "Prefix", k.base, cpl);
        og_buf_puts(&w->items, "</CommonPrefixes>");
        memcpy(w->lastcp, k.base, cpl);
        w->lastcp_len = cpl;
        /* As S3: the prefix is the marker a next page resumes after (see key-marker). */
        memcpy(w->nk, k.base, cpl);
        w->next_key = (og_str_t){w->nk, cpl};
        w->next_id = (og_str_t){NULL, 0};
        w->count++;
        return;
    }
    http_iso8601_format(m->mtime_ns, when);
    og_buf_puts(&w->items, "<Upload>");
    og_buf_elem(&w->items, "Key", k.base, klen);
    og_buf_elem(&w->items, "UploadId", sep + 1, CORE_UPLOAD_ID_LEN);
    put_owner(&w->items, "Initiator", m->owner);
    put_owner(&w->items, "Owner", m->owner);
    og_buf_puts(&w->items, "<StorageClass>STANDARD</StorageClass>");
    og_buf_elem(&w->items, "Initiated", when, strlen(when));
    og_buf_puts(&w->items, "</Upload>");
    memcpy(w->nk, k.base, klen);
    memcpy(w->ni, sep + 1, CORE_UPLOAD_ID_LEN);
    w->next_key = (og_str_t){w->nk, klen};
    w->next_id = (og_str_t){w->ni, CORE_UPLOAD_ID_LEN};
    w->count++;
}

/* Takes one page's records into the listing. Parts, and uploads under a common prefix already
 * listed, are skipped by jumping past them: 1 when the page was left for such a jump (w->next
 * set to resume after it), else 0. */
static int uploads_page(uploads_walk_t *w, const cluster_list_t *l)
{
    for (size_t i = 0; i < l->n; i++) {
        og_str_t k = l->entries[i].key;
        const char *sep = memchr(k.base, CORE_UPLOAD_SEP, k.len);
        if (sep == NULL)
            continue;
        size_t klen = (size_t)(sep - k.base), rest = k.len - klen - 1;
        size_t cpl = mp_common_prefix(k.base, klen, (size_t)w->pl, w->delim, (size_t)w->dl);
        if (cpl && cpl == w->lastcp_len && memcmp(w->lastcp, k.base, cpl) == 0) {
            if (rest == CORE_UPLOAD_ID_LEN)
                continue; /* another upload under the prefix just listed */
            /* A part: what follows under this prefix adds nothing, skip it all in one jump. */
            w->exhausted = mp_prefix_end(w->lastcp, w->lastcp_len, w->from, &w->next.len) != 0;
            return 1;
        }
        if (rest != CORE_UPLOAD_ID_LEN) {
            /* a part: skip the rest of this upload's parts in one jump */
            memcpy(w->from, k.base, klen + 1 + CORE_UPLOAD_ID_LEN);
            w->next.len = klen + 1 + CORE_UPLOAD_ID_LEN;
            w->from[w->next.len++] = CORE_UPLOAD_SEP + 1;
            return 1;
        }
        core_meta_t m;
        if (core_meta_decode(&l->entries[i].rec, &m) != 0)
            continue;
        if (!core_upload_in_bucket(&m, w->created)) {
            core_meta_free(&m); /* left in an earlier bucket of this name */
            continue;
        }
        if (w->count == w->max) {
            core_meta_free(&m);
            w->truncated = 1;
            return 0;
        }
        uploads_add(w, k, klen, sep, cpl, &m);
        core_meta_free(&m);
    }
    return 0;
}

/* Walks "u.<bucket>" page by page until max-uploads entries are listed or none are left.
 * 0 or a cluster_list code. */
static int uploads_walk(cluster_t *cl, const char *table, uploads_walk_t *w)
{
    int rc = 0;
    while (w->count < w->max && rc == 0 && !w->exhausted) {
        cluster_list_t l;
        if ((rc = cluster_list(cl, table, (og_str_t){w->prefix, (size_t)w->pl}, w->next, MP_LIST_PAGE, &l)) != 0)
            break;
        int jumped = uploads_page(w, &l), more = l.truncated;
        if (!jumped && more && l.next_after.len < sizeof(w->from)) {
            memcpy(w->from, l.next_after.base, l.next_after.len);
            w->next.len = l.next_after.len;
        }
        cluster_list_free(&l);
        if (w->truncated || w->exhausted || (!jumped && !more))
            break;
        if (w->count == w->max)
            w->truncated = 1; /* possibly more: a further page would tell, the marker resumes either way */
    }
    return rc;
}

void s3_list_multipart_uploads(s3_req_t *r)
{
    char table[CORE_TABLE_CAP];
    og_buf_t b = {0};
    int rc;
    uploads_walk_t *w = calloc(1, sizeof(*w));

    if (w == NULL) {
        s3_error_rc(r, -ENOMEM);
        return;
    }
    if (uploads_params(r, w) != 0) {
        s3_error(r, 400, "InvalidArgument", "Invalid listing parameter.", NULL);
        goto out_free_walk;
    }
    if ((rc = bucket_created(r, &w->created)) != 0) {
        s3_error_on(r, rc, S3_ON_BUCKET);
        goto out_free_walk;
    }
    core_table('u', r->bid, table);
    uploads_start(w);
    if ((rc = uploads_walk(r->gw->cluster, table, w)) != 0) {
        s3_error_rc(r, rc);
        goto out_free_walk;
    }
    og_buf_puts(&b, "<ListMultipartUploadsResult xmlns=\"" S3_XMLNS "\">");
    og_buf_elem(&b, "Bucket", r->bucket, strlen(r->bucket));
    og_buf_elem(&b, "KeyMarker", w->keym, (size_t)w->kml);
    og_buf_elem(&b, "UploadIdMarker", w->idm, (size_t)w->iml);
    if (w->truncated) {
        og_buf_elem(&b, "NextKeyMarker", w->next_key.base, w->next_key.len);
        og_buf_elem(&b, "NextUploadIdMarker", w->next_id.base, w->next_id.len);
    }
    og_buf_elem(&b, "Prefix", w->prefix, (size_t)w->pl);
    if (w->dl > 0)
        og_buf_elem(&b, "Delimiter", w->delim, (size_t)w->dl);
    og_buf_printf(&b, "<MaxUploads>%" PRIu64 "</MaxUploads><IsTruncated>%s</IsTruncated>", w->max,
                   w->truncated ? "true" : "false");
    if (w->items.len)
        og_buf_put(&b, w->items.buf, w->items.len);
    og_buf_puts(&b, "</ListMultipartUploadsResult>");
    send_xml_result(r, &b, w->items.oom);
    og_buf_free(&b);
out_free_walk:
    og_buf_free(&w->items);
    free(w);
}
