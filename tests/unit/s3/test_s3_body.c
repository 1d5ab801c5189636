/*
 * test_body.c: body sources (gateway/gw_body.c): aws-chunked decoding with the AWS SigV4
 * streaming examples (chunk signatures, signed trailer with CRC32C), unsigned trailers,
 * the checksum tap, and every way a body can be refused. Raw bodies are fed in pieces of
 * several sizes so that every framing boundary falls inside and across reads.
 */
#include <criterion/criterion.h>
#include <stdio.h>
#include <stdlib.h>

#include "s3/s3_body.h"

#define AKID "AKIAIOSFODNN7EXAMPLE"
#define SECRET "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY"
#define HDR(n, v) {OG_STR_LIT(n), OG_STR_LIT(v)}
#define NH(a) (sizeof(a) / sizeof((a)[0]))

#define SIG1 "ad80c730a21e5b8d04586a2213dd63b9a0e99e0e2307b0ade35a65485a288648"
#define SIG2 "0055627c9e194cb4542bae2aa5492e3c1575bbb81b612b7d234b86a503ef5497"
#define SIG3 "b6c6ea8a5354eaf15b3cb7646744f4275b71ea724fed81ceb9323e279d449df9"
#define TSEED "106e2a8a18243abcf37539882f36619c00e2dfc72633413f02d3b74544bfeb8e"
#define TSIG1 "b474d8862b1487a5145d686f57f013e54db672cee1c953b3010fb58501ef5aa2"
#define TSIG2 "1c1344b170168f8e65b41376b44b20fe354e373826ccbbe2c1d40a8cae51e5c7"
#define TSIG3 "2ca2aba2005185cf7159c6277faf83795951dd77a3a99e6e65d5c9f85863f992"
#define TRSIG "d81f82fc3505edab99d459891051a732e8730629a2e4a59689829ca17fe2e435"

/* A raw body served from memory, at most `piece` bytes per read. */
typedef struct {
    const char *p;
    size_t len, pos, piece;
} mem_src_t;

static ssize_t mem_read(void *ctx, void *buf, size_t cap)
{
    mem_src_t *m = ctx;
    size_t n = m->len - m->pos;
    if (n > cap)
        n = cap;
    if (n > m->piece)
        n = m->piece;
    memcpy(buf, m->p + m->pos, n);
    m->pos += n;
    return (ssize_t)n;
}

static int lookup(void *ctx, og_str_t key, char *secret, size_t cap)
{
    snprintf(secret, cap, "%s", SECRET);
    return og_str_eq(key, AKID) ? 0 : OG_ENOTFOUND;
}

/* The auth result of the documented streaming request head (seed 4f232c43...). */
static auth_result_t example_auth(void)
{
    og_header_t h[] = {
        HDR("Host", "s3.amazonaws.com"), HDR("x-amz-date", "20130524T000000Z"),
        HDR("x-amz-storage-class", "REDUCED_REDUNDANCY"),
        HDR("Authorization", "AWS4-HMAC-SHA256 Credential=AKIAIOSFODNN7EXAMPLE/20130524/us-east-1/s3/aws4_request,"
                             "SignedHeaders=content-encoding;content-length;host;x-amz-content-sha256;x-amz-date;"
                             "x-amz-decoded-content-length;x-amz-storage-class,"
                             "Signature=4f232c4386841ef735655705268965c44a0e4690baa4adea153f7db9fa80a0a9"),
        HDR("x-amz-content-sha256", "STREAMING-AWS4-HMAC-SHA256-PAYLOAD"), HDR("Content-Encoding", "aws-chunked"),
        HDR("x-amz-decoded-content-length", "66560"), HDR("Content-Length", "66824"),
    };
    auth_request_t req = {OG_STR_LIT("PUT"), OG_STR_LIT("/examplebucket/chunkObject.txt"), OG_STR_LIT(""),
                          OG_STR_LIT(""), h, NH(h), 1369353600, "us-east-1", NULL};
    auth_result_t res;
    cr_assert_eq(auth_verify(&req, lookup, NULL, &res), 0);
    return res;
}

/* Appends one aws-chunk of n 'a's (with ";chunk-signature=sig" when sig is not NULL). */
static size_t put_chunk(char *out, size_t n, const char *sig)
{
    size_t k = (size_t)sprintf(out, "%zx", n);
    if (sig)
        k += (size_t)sprintf(out + k, ";chunk-signature=%s", sig);
    k += (size_t)sprintf(out + k, "\r\n");
    memset(out + k, 'a', n);
    k += n;
    if (n > 0)
        k += (size_t)sprintf(out + k, "\r\n");
    return k;
}

/* The documented body: 65536 + 1024 'a's and the final chunk, then `tail`. */
static char *doc_body(const char *const sigs[3], const char *tail, size_t *len)
{
    char *b = malloc(70000 + strlen(tail));
    size_t k = put_chunk(b, 65536, sigs[0]);
    k += put_chunk(b + k, 1024, sigs[1]);
    k += put_chunk(b + k, 0, sigs[2]);
    memcpy(b + k, tail, strlen(tail));
    *len = k + strlen(tail);
    return b;
}

/* Runs a body through a source with conf, read buffer rcap and raw pieces of `piece` bytes.
 * Returns the first error, or 0 with the decoded bytes counted (checked to be body bytes) and the
 * sums in *sums. */
static int run(const s3_body_conf_t *conf, const char *raw, size_t len, size_t piece, size_t rcap,
               uint64_t *decoded, s3_body_sums_t *sums)
{
    mem_src_t m = {raw, len, 0, piece};
    s3_body_t *b;
    char *buf = malloc(rcap);
    ssize_t n;
    cr_assert_eq(s3_body_new(conf, (core_obj_src_t){mem_read, &m}, &b), 0);
    core_obj_src_t src = s3_body_src(b);
    *decoded = 0;
    while ((n = src.read(src.ctx, buf, rcap)) > 0) {
        for (ssize_t i = 0; i < n; i++)
            cr_assert(buf[i] == 'a' || buf[i] == 'b', "only body bytes, never framing");
        *decoded += (uint64_t)n;
    }
    int rc = (int)n;
    if (rc == 0) {
        cr_assert_eq(src.read(src.ctx, buf, rcap), 0, "the end stays the end");
        rc = s3_body_finish(b, sums);
        cr_assert_eq(s3_body_count(b), *decoded);
    } else {
        cr_assert_eq(src.read(src.ctx, buf, rcap), rc, "errors are sticky");
        cr_assert_eq(s3_body_finish(b, sums), rc);
    }
    s3_body_free(b);
    free(buf);
    return rc;
}

static const size_t pieces[] = {1, 7, 86, 1000, 65536, 1 << 20};

static s3_body_conf_t signed_conf(const char *sha_mode, const char *trailer)
{
    auth_result_t a = example_auth();
    og_header_t h[] = {HDR("x-amz-content-sha256", ""), HDR("x-amz-decoded-content-length", "66560"),
                       HDR("x-amz-trailer", "")};
    h[0].value = og_str(sha_mode);
    h[2].value = og_str(trailer ? trailer : "");
    s3_body_conf_t c;
    cr_assert_eq(s3_body_conf_parse(h, trailer ? 3 : 2, &a, &c), 0);
    return c;
}

Test(body, documented_signed_upload)
{
    static const char *const sigs[3] = {SIG1, SIG2, SIG3};
    size_t len;
    char *raw = doc_body(sigs, "\r\n", &len);
    cr_assert_eq(len, 66824, "the documented Content-Length");
    s3_body_conf_t c = signed_conf("STREAMING-AWS4-HMAC-SHA256-PAYLOAD", NULL);
    cr_assert_eq(c.mode, S3_BODY_SIGNED);
    for (size_t i = 0; i < NH(pieces); i++) {
        uint64_t n;
        s3_body_sums_t s;
        cr_assert_eq(run(&c, raw, len, pieces[i], 100000, &n, &s), 0, "piece %zu", pieces[i]);
        cr_assert_eq(n, 66560);
        cr_assert_eq(run(&c, raw, len, pieces[i], 3, &n, &s), 0, "piece %zu, tiny reads", pieces[i]);
        cr_assert_eq(s.have, 0);
    }
    /* a client that ends right after the final chunk's line */
    uint64_t n;
    s3_body_sums_t s;
    cr_assert_eq(run(&c, raw, len - 2, 1000, 4096, &n, &s), 0);
    free(raw);
}

Test(body, bad_or_missing_chunk_signature_is_refused)
{
    static const char *const sigs[3] = {SIG1, SIG2, SIG3};
    uint64_t n;
    s3_body_sums_t s;
    size_t len;
    char *raw = doc_body(sigs, "\r\n", &len);
    s3_body_conf_t c = signed_conf("STREAMING-AWS4-HMAC-SHA256-PAYLOAD", NULL);
    raw[100] = 'b'; /* one data byte changed in transit */
    cr_assert_eq(run(&c, raw, len, 4096, 65536, &n, &s), AUTH_ESIGNATURE);
    raw[100] = 'a';
    memcpy(strstr(raw, SIG2), SIG1, 64); /* a signature from elsewhere in the chain */
    cr_assert_eq(run(&c, raw, len, 4096, 65536, &n, &s), AUTH_ESIGNATURE);
    free(raw);
    static const char *const nosig[3] = {SIG1, NULL, SIG3};
    raw = doc_body(nosig, "\r\n", &len);
    cr_assert_eq(run(&c, raw, len, 4096, 65536, &n, &s), AUTH_ESIGNATURE);
    free(raw);
    /* a chunk dropped: the final chunk no longer chains */
    char *b = malloc(70000);
    size_t k = put_chunk(b, 65536, SIG1);
    k += put_chunk(b + k, 0, SIG3);
    c.decoded_length = -1;
    cr_assert_eq(run(&c, b, k, 4096, 65536, &n, &s), AUTH_ESIGNATURE);
    free(b);
}

Test(body, documented_signed_trailer)
{
    static const char *const sigs[3] = {TSIG1, TSIG2, TSIG3};
    size_t len;
    char *raw = doc_body(sigs, "x-amz-checksum-crc32c:sOO8/Q==\r\nx-amz-trailer-signature:" TRSIG "\r\n\r\n", &len);
    s3_body_conf_t c = signed_conf("STREAMING-AWS4-HMAC-SHA256-PAYLOAD-TRAILER", "x-amz-checksum-crc32c");
    memcpy(c.seed_signature, TSEED, 65); /* the trailer example's own request head */
    cr_assert_eq(c.mode, S3_BODY_SIGNED_TRAILER);
    cr_assert_eq(c.trailer, 1u << S3_CK_CRC32C);
    for (size_t i = 0; i < NH(pieces); i++) {
        uint64_t n;
        s3_body_sums_t s;
        cr_assert_eq(run(&c, raw, len, pieces[i], 65536, &n, &s), 0, "piece %zu", pieces[i]);
        cr_assert_eq(s.have, 1u << S3_CK_CRC32C);
        char v[S3_CK_B64_MAX];
        s3_ck_b64(s.value[S3_CK_CRC32C], 4, v);
        cr_assert_str_eq(v, "sOO8/Q==");
    }
    free(raw);

    uint64_t n;
    s3_body_sums_t s;
    /* the checksum changed in transit: the trailer signature no longer matches */
    raw = doc_body(sigs, "x-amz-checksum-crc32c:AAAAAA==\r\nx-amz-trailer-signature:" TRSIG "\r\n\r\n", &len);
    cr_assert_eq(run(&c, raw, len, 1000, 65536, &n, &s), AUTH_ESIGNATURE);
    free(raw);
    /* no trailer signature at all */
    raw = doc_body(sigs, "x-amz-checksum-crc32c:sOO8/Q==\r\n\r\n", &len);
    cr_assert_eq(run(&c, raw, len, 1000, 65536, &n, &s), AUTH_ESIGNATURE);
    free(raw);
}

static s3_body_conf_t unsigned_conf(const char *trailer, const char *extra_name, const char *extra_value)
{
    auth_result_t a = {.payload = AUTH_PAYLOAD_STREAMING};
    og_header_t h[] = {HDR("x-amz-content-sha256", "STREAMING-UNSIGNED-PAYLOAD-TRAILER"),
                       HDR("x-amz-decoded-content-length", "66560"), HDR("x-amz-trailer", ""), HDR("x", "")};
    h[2].value = og_str(trailer);
    h[3] = (og_header_t){og_str(extra_name ? extra_name : "x-other"), og_str(extra_value ? extra_value : "")};
    s3_body_conf_t c;
    cr_assert_eq(s3_body_conf_parse(h, 4, &a, &c), 0);
    return c;
}

Test(body, unsigned_trailer_like_the_js_sdk)
{
    static const char *const nos[3] = {NULL, NULL, NULL};
    size_t len;
    uint64_t n;
    s3_body_sums_t s;
    /* CRC32 of 66560 'a's, computed here so the test states the relation, not a constant */
    char *a = malloc(66560), want[S3_CK_B64_MAX], tail[128];
    memset(a, 'a', 66560);
    uint32_t crc = s3_crc32(0, a, 66560);
    uint8_t be[4] = {(uint8_t)(crc >> 24), (uint8_t)(crc >> 16), (uint8_t)(crc >> 8), (uint8_t)crc};
    s3_ck_b64(be, 4, want);
    free(a);
    snprintf(tail, sizeof(tail), "x-amz-checksum-crc32:%s\r\n\r\n", want);
    char *raw = doc_body(nos, tail, &len);
    s3_body_conf_t c = unsigned_conf("x-amz-checksum-crc32", "x-amz-sdk-checksum-algorithm", "CRC32");
    cr_assert_eq(c.mode, S3_BODY_UNSIGNED_TRAILER);
    for (size_t i = 0; i < NH(pieces); i++) {
        cr_assert_eq(run(&c, raw, len, pieces[i], 8192, &n, &s), 0, "piece %zu", pieces[i]);
        cr_assert_eq(s.have, 1u << S3_CK_CRC32);
    }
    free(raw);
    /* a wrong value: BadDigest */
    raw = doc_body(nos, "x-amz-checksum-crc32:AAAAAA==\r\n\r\n", &len);
    cr_assert_eq(run(&c, raw, len, 1000, 8192, &n, &s), OG_EBADDIGEST);
    free(raw);
    /* the announced trailer never came */
    raw = doc_body(nos, "\r\n", &len);
    cr_assert_eq(run(&c, raw, len, 1000, 8192, &n, &s), OG_EINVAL);
    free(raw);
    /* a trailer value that is not base64 of 4 bytes */
    raw = doc_body(nos, "x-amz-checksum-crc32:AAAAAAAA\r\n\r\n", &len);
    cr_assert_eq(run(&c, raw, len, 1000, 8192, &n, &s), OG_EINVAL);
    free(raw);
}

Test(body, framing_errors)
{
    static const char *const nos[3] = {NULL, NULL, NULL};
    s3_body_conf_t c = unsigned_conf("", NULL, NULL);
    uint64_t n;
    s3_body_sums_t s;
    size_t len;
    char *raw = doc_body(nos, "\r\n", &len);
    cr_assert_eq(run(&c, raw, len, 999, 8192, &n, &s), 0);
    cr_assert_eq(run(&c, raw, len - 5000, 999, 8192, &n, &s), HTTP_EBODY, "cut inside the data");
    cr_assert_eq(run(&c, raw, 3, 999, 8192, &n, &s), HTTP_EBODY, "cut inside the first line");
    free(raw);
    raw = doc_body(nos, "\r\nextra", &len);
    cr_assert_eq(run(&c, raw, len, 999, 8192, &n, &s), HTTP_EBODY, "bytes after the end");
    free(raw);
    const char *bad[] = {"zz\r\naa\r\n0\r\n\r\n", "2\r\naaa\r\n0\r\n\r\n", "2\r\naa0\r\n\r\n",
                         ";chunk-signature=x\r\n", "\r\n"};
    c.decoded_length = -1;
    for (size_t i = 0; i < NH(bad); i++)
        cr_assert_eq(run(&c, bad[i], strlen(bad[i]), 3, 8192, &n, &s), HTTP_EBODY, "%s", bad[i]);
    /* a header line longer than the framing buffer */
    char *huge = malloc(70000);
    memset(huge, 'f', 70000);
    cr_assert_eq(run(&c, huge, 70000, 65536, 8192, &n, &s), HTTP_EBODY);
    free(huge);
    /* decoded length differs from x-amz-decoded-content-length */
    c.decoded_length = 3;
    cr_assert_eq(run(&c, "2\r\naa\r\n0\r\n\r\n", 12, 5, 8192, &n, &s), OG_EPROTO);
    c.decoded_length = 2;
    cr_assert_eq(run(&c, "2\r\naa\r\n0\r\n\r\n", 12, 5, 8192, &n, &s), 0);
    cr_assert_eq(n, 2);
}

Test(body, plain_body_with_checksum_header)
{
    /* sha256 of "aaa" = 9834876dcfb05cb167a5c24953eba58c4ac89b1adf57f28f2f9d09af107ee8f0 */
    og_header_t h[] = {HDR("x-amz-checksum-sha256", "mDSHbc+wXLFnpcJJU+uljErImxrfV/KPL50JrxB+6PA="),
                       HDR("x-amz-sdk-checksum-algorithm", "crc64nvme")};
    s3_body_conf_t c;
    uint64_t n;
    s3_body_sums_t s;
    cr_assert_eq(s3_body_conf_parse(h, 2, NULL, &c), 0);
    cr_assert_eq(c.mode, S3_BODY_PLAIN);
    cr_assert_eq(c.compute, (1u << S3_CK_SHA256) | (1u << S3_CK_CRC64NVME));
    cr_assert_eq(run(&c, "aaa", 3, 1, 2, &n, &s), 0);
    cr_assert_eq(n, 3);
    cr_assert_eq(s.have, c.compute);
    cr_assert_eq(run(&c, "aab", 3, 1, 2, &n, &s), OG_EBADDIGEST);
    /* nothing declared: a plain pass-through */
    cr_assert_eq(s3_body_conf_parse(h, 0, NULL, &c), 0);
    cr_assert_eq(run(&c, "aaaa", 4, 3, 2, &n, &s), 0);
    cr_assert_eq(s.have, 0);
    cr_assert_eq(n, 4);
}

Test(body, header_validation)
{
    s3_body_conf_t c;
    auth_result_t a = {.payload = AUTH_PAYLOAD_STREAMING};
    og_header_t bad_b64[] = {HDR("x-amz-checksum-crc32", "not base64!")};
    og_header_t wrong_len[] = {HDR("x-amz-checksum-crc32", "AAAAAAAAAAA=")};
    og_header_t two[] = {HDR("x-amz-checksum-crc32", "AAAAAA=="), HDR("x-amz-checksum-crc32c", "AAAAAA==")};
    og_header_t unknown_alg[] = {HDR("x-amz-checksum-md5", "AAAAAA==")};
    og_header_t sdk_unknown[] = {HDR("x-amz-sdk-checksum-algorithm", "MD5")};
    og_header_t trailer_plain[] = {HDR("x-amz-trailer", "x-amz-checksum-crc32")};
    og_header_t stream_unsigned[] = {HDR("x-amz-content-sha256", "STREAMING-AWS4-HMAC-SHA256-PAYLOAD")};
    og_header_t bad_len[] = {HDR("x-amz-content-sha256", "STREAMING-UNSIGNED-PAYLOAD-TRAILER"),
                             HDR("x-amz-decoded-content-length", "12x")};
    og_header_t bad_trailer[] = {HDR("x-amz-content-sha256", "STREAMING-UNSIGNED-PAYLOAD-TRAILER"),
                                 HDR("x-amz-trailer", "x-amz-checksum-md5")};
    og_header_t ok_mode[] = {HDR("x-amz-checksum-mode", "ENABLED"), HDR("x-amz-checksum-algorithm", "CRC32")};
    cr_assert_eq(s3_body_conf_parse(bad_b64, 1, NULL, &c), OG_EINVAL);
    cr_assert_eq(s3_body_conf_parse(wrong_len, 1, NULL, &c), OG_EINVAL);
    cr_assert_eq(s3_body_conf_parse(two, 2, NULL, &c), OG_EINVAL);
    cr_assert_eq(s3_body_conf_parse(unknown_alg, 1, NULL, &c), OG_EINVAL);
    cr_assert_eq(s3_body_conf_parse(sdk_unknown, 1, NULL, &c), OG_EINVAL);
    cr_assert_eq(s3_body_conf_parse(trailer_plain, 1, NULL, &c), OG_EINVAL);
    cr_assert_eq(s3_body_conf_parse(stream_unsigned, 1, NULL, &c), OG_EINVAL, "not vouched for by auth");
    cr_assert_eq(s3_body_conf_parse(stream_unsigned, 1, &a, &c), OG_EINVAL, "signed mode without a seed");
    cr_assert_eq(s3_body_conf_parse(bad_len, 2, &a, &c), OG_EINVAL);
    cr_assert_eq(s3_body_conf_parse(bad_trailer, 2, &a, &c), OG_EINVAL);
    cr_assert_eq(s3_body_conf_parse(ok_mode, 2, NULL, &c), 0);
    cr_assert_eq(c.compute, 0);
}

Test(body, stored_encoding_drops_aws_chunked)
{
    char buf[64];
    og_str_t r = s3_body_stored_encoding(og_str("aws-chunked"), buf, sizeof(buf));
    cr_assert_eq(r.len, 0);
    r = s3_body_stored_encoding(og_str("aws-chunked,gzip"), buf, sizeof(buf));
    cr_assert(og_str_eq(r, "gzip"));
    r = s3_body_stored_encoding(og_str("gzip, aws-chunked"), buf, sizeof(buf));
    cr_assert(og_str_eq(r, "gzip"));
    r = s3_body_stored_encoding(og_str("gzip,aws-chunked,br"), buf, sizeof(buf));
    cr_assert(og_str_eq(r, "gzip,br"));
    r = s3_body_stored_encoding(og_str("gzip"), buf, sizeof(buf));
    cr_assert(og_str_eq(r, "gzip"));
}

Test(body, sums_as_headers)
{
    s3_body_sums_t s = {.have = (1u << S3_CK_CRC32) | (1u << S3_CK_SHA1)};
    og_header_t h[S3_CK_COUNT];
    char v[S3_CK_COUNT][S3_CK_B64_MAX];
    cr_assert_eq(s3_body_sums_headers(&s, h, v), 2);
    cr_assert(og_str_eq(h[0].name, "x-amz-checksum-crc32") && og_str_eq(h[0].value, "AAAAAA=="));
    cr_assert(og_str_eq(h[1].name, "x-amz-checksum-sha1"));
}
