/* libFuzzer target: the aws-chunked body decoder (gateway/s3/s3_body.c) with its chunk-signature
 * chain (auth/auth_chunk.c), trailing headers, trailer signature and checksums.
 *
 * Input: 4 bytes of configuration, then the raw body (as http/ hands it over, already
 * de-chunked from the transfer coding):
 *   byte 0: bits 0-1 the mode (plain, signed, signed with trailer, unsigned with trailer),
 *           bit 2 whether x-amz-decoded-content-length is byte 3, bits 3-7 the raw read size - 1
 *           (the source returns 1..32 bytes per call, so every line and chunk boundary can fall
 *           anywhere in a read);
 *   byte 1: the checksums to compute (bit per S3_CK_*); byte 2: those x-amz-trailer announces.
 * Signed modes verify against a fixed signing key, scope and seed signature. Properties checked:
 * the decoder returns no more bytes than it was asked for and no more than the body held; once it
 * reports the end, s3_body_finish agrees that every check passed.
 *
 * Valid signed bodies cannot be found by mutation; run the binary with FUZZ_WRITE_SEEDS=<dir> to
 * write ones signed by the code (tests/fuzz/corpus/aws_chunked holds its output). */
#include <openssl/evp.h>

#include "fuzz.h"
#include "og_buf.h"
#include "s3/s3_body.h"

#define AMZ_DATE "20130524T000000Z"
#define SCOPE "20130524/us-east-1/s3/aws4_request"
#define SEED_SIG "4f232c4386841ef735655705268965c44a0e4690baa4adea153f7db9fa80a0a9"
#define CONF_LEN 4

static const uint8_t signing_key[32] = {1,  2,  3,  4,  5,  6,  7,  8,  9,  10, 11, 12, 13, 14, 15, 16,
                                        17, 18, 19, 20, 21, 22, 23, 24, 25, 26, 27, 28, 29, 30, 31, 32};

typedef struct {
    const uint8_t *p;
    size_t left, step;
} raw_t;

static ssize_t raw_read(void *ctx, void *buf, size_t cap)
{
    raw_t *r = ctx;
    size_t n = r->left < r->step ? r->left : r->step;
    n = n < cap ? n : cap;
    memcpy(buf, r->p, n);
    r->p += n, r->left -= n;
    return (ssize_t)n;
}

static void conf_from(const uint8_t *c, s3_body_conf_t *conf)
{
    uint32_t all = (1u << S3_CK_COUNT) - 1;
    memset(conf, 0, sizeof(*conf));
    conf->mode = (s3_body_mode_t)(c[0] & 3);
    conf->decoded_length = c[0] & 4 ? c[3] : -1;
    conf->compute = c[1] & all;
    if (conf->mode == S3_BODY_SIGNED_TRAILER || conf->mode == S3_BODY_UNSIGNED_TRAILER)
        conf->trailer = c[2] & all, conf->compute |= conf->trailer;
    memcpy(conf->signing_key, signing_key, 32);
    memcpy(conf->seed_signature, SEED_SIG, 65);
    memcpy(conf->scope, SCOPE, sizeof(SCOPE));
    memcpy(conf->amz_date, AMZ_DATE, sizeof(AMZ_DATE));
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    s3_body_conf_t conf;
    s3_body_t *b;
    s3_body_sums_t sums;
    char buf[64];
    if (size < CONF_LEN)
        return 0;
    conf_from(data, &conf);
    raw_t raw = {data + CONF_LEN, size - CONF_LEN, (size_t)(data[0] >> 3) + 1};
    if (s3_body_new(&conf, (core_obj_src_t){raw_read, &raw}, &b) != 0)
        return 0;
    core_obj_src_t src = s3_body_src(b);
    size_t total = 0, cap = raw.step * 2 < sizeof(buf) ? raw.step * 2 : sizeof(buf);
    ssize_t n;
    while ((n = src.read(src.ctx, buf, cap)) > 0) {
        FUZZ_CHECK((size_t)n <= cap);
        total += (size_t)n;
        FUZZ_CHECK(total <= size - CONF_LEN && total == s3_body_count(b));
    }
    int rc = s3_body_finish(b, &sums);
    FUZZ_CHECK(n == 0 ? rc == 0 : rc == (int)n);
    if (rc == 0)
        FUZZ_CHECK((sums.have & conf.compute) == conf.compute);
    s3_body_free(b);
    return 0;
}

/* ---- seeds signed by the code ---- */

static void put(og_buf_t *o, const char *s, size_t n) { og_buf_put(o, s, n); }

/* One aws-chunk of data (n bytes) signed after prev (updated), or unsigned when sign is 0. */
static void put_chunk(og_buf_t *o, const char *data, size_t n, int sign, char prev[65])
{
    uint8_t h[32];
    char sig[65];
    og_buf_printf(o, "%zx", n);
    if (sign) {
        EVP_Digest(data, n, h, NULL, EVP_sha256(), NULL);
        auth_chunk_sign(signing_key, AMZ_DATE, SCOPE, prev, h, sig);
        og_buf_printf(o, ";chunk-signature=%s", sig);
        memcpy(prev, sig, 65);
    }
    put(o, "\r\n", 2);
    put(o, data, n);
    if (n)
        put(o, "\r\n", 2);
}

static void write_file(const char *dir, const char *name, const uint8_t conf[CONF_LEN], const og_buf_t *body)
{
    char path[4096];
    snprintf(path, sizeof(path), "%s/%s", dir, name);
    FILE *f = fopen(path, "wb");
    if (f == NULL || fwrite(conf, 1, CONF_LEN, f) != CONF_LEN || fwrite(body->buf, 1, body->len, f) != body->len)
        fprintf(stderr, "fuzz_aws_chunked: cannot write %s\n", path);
    if (f != NULL)
        fclose(f);
}

/* "x-amz-checksum-crc32:<base64>" of data into line. */
static void crc32_line(const char *data, size_t n, char *line, size_t cap)
{
    s3_ck_t ck;
    uint8_t d[S3_CK_MAX_DIGEST];
    char b64[S3_CK_B64_MAX];
    s3_ck_init(&ck, S3_CK_CRC32);
    s3_ck_update(&ck, data, n);
    int len = s3_ck_final(&ck, d);
    s3_ck_free(&ck);
    s3_ck_b64(d, (size_t)len, b64);
    snprintf(line, cap, "x-amz-checksum-crc32:%s", b64);
}

static void write_seeds(const char *dir)
{
    static const char a[] = "Welcome to Amazon S3.", c[] = "!";
    char prev[65], line[128], sig[65];
    uint8_t h[32];
    og_buf_t o = {0};

    memcpy(prev, SEED_SIG, 65); /* signed: two chunks, the final one, the closing blank line */
    put_chunk(&o, a, sizeof(a) - 1, 1, prev);
    put_chunk(&o, c, 1, 1, prev);
    put_chunk(&o, "", 0, 1, prev);
    put(&o, "\r\n", 2);
    write_file(dir, "signed", (const uint8_t[]){S3_BODY_SIGNED | 4 | (7 << 3), 0, 0, sizeof(a)}, &o);
    o.len = 0;

    memcpy(prev, SEED_SIG, 65); /* signed with a CRC32 trailer and the trailer's signature */
    put_chunk(&o, a, sizeof(a) - 1, 1, prev);
    put_chunk(&o, "", 0, 1, prev);
    crc32_line(a, sizeof(a) - 1, line, sizeof(line));
    og_buf_printf(&o, "%s\r\n", line);
    strcat(line, "\n");
    EVP_Digest(line, strlen(line), h, NULL, EVP_sha256(), NULL);
    auth_trailer_sign(signing_key, AMZ_DATE, SCOPE, prev, h, sig);
    og_buf_printf(&o, "x-amz-trailer-signature:%s\r\n\r\n", sig);
    write_file(dir, "signed_trailer", (const uint8_t[]){S3_BODY_SIGNED_TRAILER | (3 << 3), 0, 1, 0}, &o);
    o.len = 0;

    put_chunk(&o, a, sizeof(a) - 1, 0, prev); /* unsigned with a trailer, as the AWS SDKs send */
    put_chunk(&o, "", 0, 0, prev);
    crc32_line(a, sizeof(a) - 1, line, sizeof(line));
    og_buf_printf(&o, "%s\r\n\r\n", line);
    write_file(dir, "unsigned_trailer", (const uint8_t[]){S3_BODY_UNSIGNED_TRAILER | (31 << 3), 0x1f, 1, 0}, &o);
    o.len = 0;

    put(&o, a, sizeof(a) - 1); /* a plain body with every checksum computed */
    write_file(dir, "plain", (const uint8_t[]){S3_BODY_PLAIN | 4, 0x1f, 0, sizeof(a) - 1}, &o);
    og_buf_free(&o);
}

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
    const char *dir = getenv("FUZZ_WRITE_SEEDS");
    if (dir != NULL)
        write_seeds(dir);
    return 0;
}
