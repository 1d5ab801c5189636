/*
 * Body sources: aws-chunked decoding with chunk-signature verification and trailers, and the
 * flexible-checksum tap. The decoder is a small state machine over one framing buffer; data
 * bytes go straight from the raw source into the caller's buffer whenever the framing buffer
 * is empty, so the common large-chunk case copies nothing twice.
 *
 * Wire format (S3 SigV4 streaming), one aws-chunk:
 *   <hex size>[;chunk-signature=<64 hex>]\r\n<size bytes>\r\n
 * ended by a chunk of size 0, then (trailer modes) "name:value\r\n" lines, then "\r\n".
 */
#include "s3_body.h"

#include <errno.h>
#include <stdlib.h>
#include <strings.h>

#include <openssl/evp.h>

#define BODY_BUF (64u << 10)  /* framing buffer: the longest line a header or trailer may be */
#define SIG_EXT "chunk-signature="

typedef enum { ST_HEAD, ST_DATA, ST_DATA_CRLF, ST_TRAILER, ST_END } body_state_t;

struct st_s3_body_t {
    s3_body_conf_t conf;
    core_obj_src_t raw;
    body_state_t state;
    int err;                 /* sticky source error, 0 while all is well */
    int ended;               /* every end-of-body check passed */
    uint64_t decoded;        /* data bytes handed out */
    uint64_t left;           /* data bytes left in the current aws-chunk */
    char *in;                /* framing buffer: bytes [pos, len) not consumed yet */
    size_t pos, len;
    int raw_eof;
    /* signed modes */
    EVP_MD_CTX *chunk_sha;   /* SHA-256 of the current chunk's data */
    char prev_sig[65];       /* the chain so far */
    char chunk_sig[65];      /* the signature the current chunk claims */
    EVP_MD_CTX *trailer_sha; /* SHA-256 of the canonical trailer lines */
    char trailer_sig[65];
    int have_trailer_sig;
    uint32_t trailer_got;    /* checksums that came in the trailer */
    s3_ck_t ck[S3_CK_COUNT];
    s3_body_sums_t sums;
};

static int is_signed(const s3_body_t *b)
{
    return b->conf.mode == S3_BODY_SIGNED || b->conf.mode == S3_BODY_SIGNED_TRAILER;
}

/* ---------------------------------------------------------------- configuration */


static int parse_u63(og_str_t s, int64_t *out)
{
    uint64_t v;
    if (og_parse_dec(og_str_trim(s), 18, &v) != 0)
        return OG_EINVAL;
    *out = (int64_t)v;
    return 0;
}

int s3_body_conf_parse(const og_header_t *hdrs, size_t n, const auth_result_t *auth, s3_body_conf_t *out)
{
    memset(out, 0, sizeof(*out));
    out->decoded_length = -1;
    og_str_t sha = og_header_find(hdrs, n, "x-amz-content-sha256");
    if (auth != NULL && auth->payload == AUTH_PAYLOAD_STREAMING) {
        if (og_str_eq(sha, "STREAMING-AWS4-HMAC-SHA256-PAYLOAD"))
            out->mode = S3_BODY_SIGNED;
        else if (og_str_eq(sha, "STREAMING-AWS4-HMAC-SHA256-PAYLOAD-TRAILER"))
            out->mode = S3_BODY_SIGNED_TRAILER;
        else if (og_str_eq(sha, "STREAMING-UNSIGNED-PAYLOAD-TRAILER"))
            out->mode = S3_BODY_UNSIGNED_TRAILER;
        else
            return OG_EINVAL;
        memcpy(out->signing_key, auth->signing_key, 32);
        memcpy(out->seed_signature, auth->seed_signature, sizeof(out->seed_signature));
        memcpy(out->scope, auth->scope, sizeof(out->scope));
        memcpy(out->amz_date, auth->amz_date, sizeof(out->amz_date));
        if (out->mode != S3_BODY_UNSIGNED_TRAILER && out->seed_signature[0] == '\0')
            return OG_EINVAL; /* a presigned URL cannot carry a chunk chain */
        og_str_t dl = og_header_find(hdrs, n, "x-amz-decoded-content-length");
        if (dl.base != NULL && parse_u63(dl, &out->decoded_length) != 0)
            return OG_EINVAL;
    } else if (sha.len > 10 && strncmp(sha.base, "STREAMING-", 10) == 0) {
        return OG_EINVAL; /* a streaming body the signature did not vouch for */
    }

    int values = 0;
    for (size_t i = 0; i < n; i++) {
        og_str_t name = hdrs[i].name;
        if (og_str_ieq(name, "x-amz-checksum-algorithm") || og_str_ieq(name, "x-amz-checksum-type") ||
            og_str_ieq(name, "x-amz-checksum-mode") || name.len <= 15 ||
            strncasecmp(name.base, "x-amz-checksum-", 15) != 0)
            continue;
        int alg = s3_ck_parse(name);
        if (alg < 0 || values++ > 0 || s3_ck_unb64(alg, og_str_trim(hdrs[i].value), out->expected[alg]) != 0)
            return OG_EINVAL;
        out->expect |= 1u << alg;
    }
    og_str_t sdk = og_header_find(hdrs, n, "x-amz-sdk-checksum-algorithm");
    if (sdk.base != NULL) {
        int alg = s3_ck_parse(og_str_trim(sdk));
        if (alg < 0)
            return OG_EINVAL;
        out->compute |= 1u << alg;
    }
    og_str_t tr = og_header_find(hdrs, n, "x-amz-trailer");
    if (tr.base != NULL) {
        if (out->mode != S3_BODY_SIGNED_TRAILER && out->mode != S3_BODY_UNSIGNED_TRAILER)
            return OG_EINVAL;
        /* a comma-separated list of trailing header names; only checksums are understood */
        while (tr.len > 0) {
            const char *comma = memchr(tr.base, ',', tr.len);
            og_str_t item = og_str_trim((og_str_t){tr.base, comma ? (size_t)(comma - tr.base) : tr.len});
            int alg = s3_ck_parse(item);
            if (item.len > 0 && (alg < 0 || item.len <= 15))
                return OG_EINVAL;
            if (item.len > 0)
                out->trailer |= 1u << alg;
            if (comma == NULL)
                break;
            tr.len -= (size_t)(comma - tr.base) + 1;
            tr.base = comma + 1;
        }
    }
    out->compute |= out->expect | out->trailer;
    return 0;
}

/* ---------------------------------------------------------------- life cycle */

int s3_body_new(const s3_body_conf_t *conf, core_obj_src_t raw, s3_body_t **out)
{
    s3_body_t *b = calloc(1, sizeof(*b));
    int rc = -ENOMEM;
    if (b == NULL)
        return -ENOMEM;
    b->conf = *conf;
    b->raw = raw;
    b->state = ST_HEAD;
    for (int i = 0; i < S3_CK_COUNT; i++)
        b->ck[i].alg = (s3_ck_alg_t)i; /* so s3_body_free may free every slot */
    if (conf->mode != S3_BODY_PLAIN && (b->in = malloc(BODY_BUF)) == NULL)
        goto out_free;
    if (is_signed(b)) {
        if ((b->chunk_sha = EVP_MD_CTX_new()) == NULL || (b->trailer_sha = EVP_MD_CTX_new()) == NULL ||
            !EVP_DigestInit_ex(b->trailer_sha, EVP_sha256(), NULL))
            goto out_free;
        memcpy(b->prev_sig, conf->seed_signature, sizeof(b->prev_sig));
    }
    for (int i = 0; i < S3_CK_COUNT; i++)
        if ((conf->compute & (1u << i)) && (rc = s3_ck_init(&b->ck[i], (s3_ck_alg_t)i)) != 0)
            goto out_free;
    *out = b;
    return 0;

out_free:
    s3_body_free(b);
    return rc == 0 ? -ENOMEM : rc;
}

void s3_body_free(s3_body_t *b)
{
    if (b == NULL)
        return;
    for (int i = 0; i < S3_CK_COUNT; i++)
        s3_ck_free(&b->ck[i]);
    EVP_MD_CTX_free(b->chunk_sha);
    EVP_MD_CTX_free(b->trailer_sha);
    free(b->in);
    free(b);
}

uint64_t s3_body_count(const s3_body_t *b) { return b->decoded; }

/* ---------------------------------------------------------------- decoding */

/* Feeds decoded bytes to the checksums (and the chunk hash in signed modes). */
static int tap(s3_body_t *b, const void *p, size_t n)
{
    if (b->chunk_sha != NULL && !EVP_DigestUpdate(b->chunk_sha, p, n))
        return -ENOMEM;
    for (int i = 0; i < S3_CK_COUNT; i++)
        if ((b->conf.compute & (1u << i)) && s3_ck_update(&b->ck[i], p, n) != 0)
            return -ENOMEM;
    b->decoded += n;
    return 0;
}

/* Reads more raw bytes behind [pos, len), compacting first. 0 (maybe raw_eof set), HTTP_EBODY
 * when the buffer is full (a line longer than BODY_BUF), or the raw source's error. */
static int refill(s3_body_t *b)
{
    if (b->pos > 0) {
        memmove(b->in, b->in + b->pos, b->len - b->pos);
        b->len -= b->pos, b->pos = 0;
    }
    if (b->len == BODY_BUF)
        return HTTP_EBODY;
    ssize_t got = b->raw.read(b->raw.ctx, b->in + b->len, BODY_BUF - b->len);
    if (got < 0)
        return (int)got;
    if (got == 0)
        b->raw_eof = 1;
    b->len += (size_t)got;
    return 0;
}

/* The next line without its CRLF (a bare LF is tolerated). 0 and *line (valid until the next
 * refill), 1 at the end of the raw body with no line pending, or an error (a partial line at
 * the end is HTTP_EBODY). */
static int next_line(s3_body_t *b, og_str_t *line)
{
    for (;;) {
        const char *start = b->in + b->pos, *nl = memchr(start, '\n', b->len - b->pos);
        if (nl != NULL) {
            size_t n = (size_t)(nl - start);
            b->pos += n + 1;
            if (n > 0 && start[n - 1] == '\r')
                n--;
            *line = (og_str_t){start, n};
            return 0;
        }
        if (b->raw_eof)
            return b->pos == b->len ? 1 : HTTP_EBODY;
        int rc = refill(b);
        if (rc != 0)
            return rc;
    }
}

/* Checks the signature the current chunk claimed against the chain, then advances it. */
static int verify_chunk(s3_body_t *b)
{
    uint8_t h[32];
    char want[65];
    unsigned int hl = 0;
    if (!EVP_DigestFinal_ex(b->chunk_sha, h, &hl))
        return -ENOMEM;
    if (auth_chunk_sign(b->conf.signing_key, b->conf.amz_date, b->conf.scope, b->prev_sig, h, want) != 0)
        return AUTH_ESIGNATURE;
    if (!auth_ct_equal(want, b->chunk_sig, 64))
        return AUTH_ESIGNATURE;
    memcpy(b->prev_sig, want, sizeof(want));
    return 0;
}

/* "<hex>[;ext...]": the size and, in signed modes, the chunk-signature extension. */
static int parse_chunk_head(s3_body_t *b, og_str_t line)
{
    size_t i = 0;
    uint64_t size = 0;
    for (; i < line.len && i < 16; i++) {
        char c = line.base[i];
        int d = c >= '0' && c <= '9' ? c - '0' : c >= 'a' && c <= 'f' ? c - 'a' + 10 : c >= 'A' && c <= 'F' ? c - 'A' + 10 : -1;
        if (d < 0)
            break;
        size = size << 4 | (uint64_t)d;
    }
    if (i == 0 || (i < line.len && line.base[i] != ';'))
        return HTTP_EBODY;
    og_str_t ext = {line.base + i, line.len - i};
    b->chunk_sig[0] = '\0';
    while (ext.len > 0 && ext.base[0] == ';') {
        ext.base++, ext.len--;
        const char *semi = memchr(ext.base, ';', ext.len);
        og_str_t item = {ext.base, semi ? (size_t)(semi - ext.base) : ext.len};
        if (item.len == sizeof(SIG_EXT) - 1 + 64 && memcmp(item.base, SIG_EXT, sizeof(SIG_EXT) - 1) == 0) {
            memcpy(b->chunk_sig, item.base + sizeof(SIG_EXT) - 1, 64);
            b->chunk_sig[64] = '\0';
        }
        ext.base += item.len, ext.len -= item.len;
    }
    if (is_signed(b)) {
        if (b->chunk_sig[0] == '\0')
            return AUTH_ESIGNATURE;
        if (!EVP_DigestInit_ex(b->chunk_sha, EVP_sha256(), NULL))
            return -ENOMEM;
    }
    b->left = size;
    if (size > 0) {
        b->state = ST_DATA;
        return 0;
    }
    /* the final, empty chunk: signed like the others */
    int rc = is_signed(b) ? verify_chunk(b) : 0;
    if (rc == 0)
        b->state = b->conf.mode == S3_BODY_SIGNED ? ST_END : ST_TRAILER;
    return rc;
}

/* One trailing header "name:value": hashed for the trailer signature, checksums kept. */
static int parse_trailer_line(s3_body_t *b, og_str_t line)
{
    const char *colon = memchr(line.base, ':', line.len);
    if (colon == NULL)
        return HTTP_EBODY;
    og_str_t name = og_str_trim((og_str_t){line.base, (size_t)(colon - line.base)});
    og_str_t value = og_str_trim((og_str_t){colon + 1, line.len - (size_t)(colon - line.base) - 1});
    if (og_str_ieq(name, "x-amz-trailer-signature")) {
        if (value.len != 64)
            return AUTH_ESIGNATURE;
        memcpy(b->trailer_sig, value.base, 64);
        b->trailer_sig[64] = '\0';
        b->have_trailer_sig = 1;
        return 0;
    }
    if (b->trailer_sha != NULL) {
        /* canonical form: lowercase name ':' trimmed value '\n' */
        for (size_t i = 0; i < name.len; i++) {
            char c = name.base[i] >= 'A' && name.base[i] <= 'Z' ? (char)(name.base[i] + 32) : name.base[i];
            if (!EVP_DigestUpdate(b->trailer_sha, &c, 1))
                return -ENOMEM;
        }
        if (!EVP_DigestUpdate(b->trailer_sha, ":", 1) || !EVP_DigestUpdate(b->trailer_sha, value.base, value.len) ||
            !EVP_DigestUpdate(b->trailer_sha, "\n", 1))
            return -ENOMEM;
    }
    int alg = s3_ck_parse(name);
    if (alg < 0 || name.len <= 15)
        return 0; /* a trailing header we do not use */
    if (!(b->conf.trailer & (1u << alg)) || s3_ck_unb64(alg, value, b->conf.expected[alg]) != 0)
        return OG_EINVAL;
    b->conf.expect |= 1u << alg;
    b->trailer_got |= 1u << alg;
    return 0;
}

/* Everything that can only be checked once the body is complete. */
static int end_checks(s3_body_t *b)
{
    if (b->conf.mode == S3_BODY_SIGNED_TRAILER) {
        uint8_t h[32];
        char want[65];
        unsigned int hl = 0;
        if (!b->have_trailer_sig)
            return AUTH_ESIGNATURE;
        if (!EVP_DigestFinal_ex(b->trailer_sha, h, &hl))
            return -ENOMEM;
        if (auth_trailer_sign(b->conf.signing_key, b->conf.amz_date, b->conf.scope, b->prev_sig, h, want) != 0 ||
            !auth_ct_equal(want, b->trailer_sig, 64))
            return AUTH_ESIGNATURE;
    }
    if ((b->trailer_got & b->conf.trailer) != b->conf.trailer)
        return OG_EINVAL;
    if (b->conf.mode != S3_BODY_PLAIN) {
        if (b->pos != b->len)
            return HTTP_EBODY; /* bytes after the end of the aws-chunked body */
        if (!b->raw_eof) {
            char extra;
            ssize_t got = b->raw.read(b->raw.ctx, &extra, 1);
            if (got != 0)
                return got < 0 ? (int)got : HTTP_EBODY;
        }
        if (b->conf.decoded_length >= 0 && b->decoded != (uint64_t)b->conf.decoded_length)
            return OG_EPROTO;
    }
    for (int i = 0; i < S3_CK_COUNT; i++) {
        if (!(b->conf.compute & (1u << i)))
            continue;
        int n = s3_ck_final(&b->ck[i], b->sums.value[i]);
        if (n < 0)
            return n;
        if ((b->conf.expect & (1u << i)) && memcmp(b->sums.value[i], b->conf.expected[i], (size_t)n) != 0)
            return OG_EBADDIGEST;
        b->sums.have |= 1u << i;
    }
    b->ended = 1;
    return 0;
}

/* Decodes up to cap bytes of aws-chunked data. >0, 0 at the verified end, or an error. */
static ssize_t read_chunked(s3_body_t *b, char *buf, size_t cap)
{
    og_str_t line;
    int rc;
    for (;;) {
        switch (b->state) {
        case ST_HEAD:
            if ((rc = next_line(b, &line)) != 0)
                return rc == 1 ? HTTP_EBODY : rc;
            if ((rc = parse_chunk_head(b, line)) != 0)
                return rc;
            break;
        case ST_DATA: {
            size_t want = b->left < cap ? (size_t)b->left : cap, got;
            if (b->pos < b->len) {
                got = b->len - b->pos < want ? b->len - b->pos : want;
                memcpy(buf, b->in + b->pos, got);
                b->pos += got;
            } else {
                if (b->raw_eof)
                    return HTTP_EBODY;
                /* the framing buffer is empty: read the data straight into the caller's buffer */
                ssize_t n = b->raw.read(b->raw.ctx, buf, want);
                if (n < 0)
                    return n;
                if (n == 0)
                    return HTTP_EBODY;
                got = (size_t)n;
            }
            if ((rc = tap(b, buf, got)) != 0)
                return rc;
            b->left -= got;
            if (b->left == 0)
                b->state = ST_DATA_CRLF;
            return (ssize_t)got;
        }
        case ST_DATA_CRLF:
            if ((rc = next_line(b, &line)) != 0)
                return rc == 1 ? HTTP_EBODY : rc;
            if (line.len != 0)
                return HTTP_EBODY;
            if (is_signed(b) && (rc = verify_chunk(b)) != 0)
                return rc;
            b->state = ST_HEAD;
            break;
        case ST_TRAILER:
            rc = next_line(b, &line);
            if (rc < 0)
                return rc;
            if (rc == 1 || line.len == 0) { /* the blank line, or a client that omits it */
                b->state = ST_END;
                break;
            }
            if ((rc = parse_trailer_line(b, line)) != 0)
                return rc;
            break;
        case ST_END:
            if (!b->ended) {
                if (b->conf.mode == S3_BODY_SIGNED) {
                    /* after the final chunk: the closing blank line (some clients omit it) */
                    rc = next_line(b, &line);
                    if (rc < 0)
                        return rc;
                    if (rc == 0 && line.len != 0)
                        return HTTP_EBODY;
                }
                if ((rc = end_checks(b)) != 0)
                    return rc;
            }
            return 0;
        }
    }
}

static ssize_t body_read(void *ctx, void *buf, size_t cap)
{
    s3_body_t *b = ctx;
    ssize_t n;
    if (b->err != 0)
        return b->err;
    if (cap == 0)
        return 0;
    if (b->conf.mode != S3_BODY_PLAIN) {
        n = read_chunked(b, buf, cap);
    } else if (b->ended) {
        n = 0;
    } else {
        n = b->raw.read(b->raw.ctx, buf, cap);
        if (n > 0) {
            int rc = tap(b, buf, (size_t)n);
            if (rc != 0)
                n = rc;
        } else if (n == 0) {
            n = end_checks(b);
        }
    }
    if (n < 0)
        b->err = (int)n;
    return n;
}

core_obj_src_t s3_body_src(s3_body_t *b) { return (core_obj_src_t){body_read, b}; }

int s3_body_finish(s3_body_t *b, s3_body_sums_t *out)
{
    if (b->err != 0)
        return b->err;
    if (!b->ended)
        return OG_EINVAL;
    *out = b->sums;
    return 0;
}

/* ---------------------------------------------------------------- S3 glue */

static ssize_t http_read(void *ctx, void *buf, size_t cap) { return http_req_read(ctx, buf, cap); }

int s3_body_open(s3_req_t *r, s3_body_t **out, int64_t *expect_size, uint32_t extra_compute)
{
    s3_body_conf_t conf;
    const http_reqinfo_t *info = r->info;
    int rc = s3_body_conf_parse(info->headers, info->num_headers, r->authenticated ? &r->auth : NULL, &conf);
    if (rc != 0)
        return S3_EBODYCONF;
    conf.compute |= extra_compute;
    if ((rc = s3_body_new(&conf, (core_obj_src_t){http_read, r->http}, out)) != 0)
        return rc;
    if (conf.mode != S3_BODY_PLAIN)
        *expect_size = conf.decoded_length;
    else
        *expect_size = info->chunked ? -1 : info->content_length;
    return 0;
}

size_t s3_body_sums_headers(const s3_body_sums_t *s, og_header_t out[S3_CK_COUNT],
                            char vals[S3_CK_COUNT][S3_CK_B64_MAX])
{
    size_t k = 0;
    for (int i = 0; i < S3_CK_COUNT; i++) {
        if (!(s->have & (1u << i)))
            continue;
        size_t n = s3_ck_b64(s->value[i], s3_ck_len((s3_ck_alg_t)i), vals[k]);
        out[k] = (og_header_t){og_str(s3_ck_header((s3_ck_alg_t)i)), {vals[k], n}};
        k++;
    }
    return k;
}

og_str_t s3_body_stored_encoding(og_str_t v, char *buf, size_t cap)
{
    size_t k = 0;
    int dropped = 0;
    og_str_t rest = v, only = {NULL, 0};
    int kept = 0;
    while (rest.len > 0) {
        const char *comma = memchr(rest.base, ',', rest.len);
        og_str_t item = og_str_trim((og_str_t){rest.base, comma ? (size_t)(comma - rest.base) : rest.len});
        if (og_str_ieq(item, "aws-chunked")) {
            dropped = 1;
        } else if (item.len > 0) {
            if (kept == 0)
                only = item;
            if (k + item.len + 2 <= cap) {
                if (k > 0)
                    buf[k++] = ',';
                memcpy(buf + k, item.base, item.len);
                k += item.len;
            }
            kept++;
        }
        if (comma == NULL)
            break;
        rest.len -= (size_t)(comma - rest.base) + 1;
        rest.base = comma + 1;
    }
    if (!dropped)
        return v;
    if (kept <= 1)
        return only;
    return (og_str_t){buf, k};
}
