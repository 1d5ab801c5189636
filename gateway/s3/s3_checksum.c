/* Flexible-checksum algorithms: CRC32/CRC32C by ISA-L, CRC64NVME by table, SHA via OpenSSL, base64. */
#include "s3_checksum.h"

#include <errno.h>
#include <pthread.h>
#include <strings.h>

#include <isa-l/crc.h>
#include <openssl/evp.h>

#include "s3_xml.h"

#define POLY_CRC32 0xedb88320u             /* 0x04c11db7 reflected */
#define POLY_CRC32C 0x82f63b78u            /* 0x1edc6f41 reflected */
#define POLY_CRC64NVME 0x9a6c9329ac4bc9b5ull /* 0xad93d23594c93659 reflected */

/* CRC32 and CRC32C come from ISA-L (libisal: PCLMUL/SSE4.2 folding chosen at run time, several
 * times faster than a table). ISA-L 2.30 (Debian 12) has no NVMe polynomial (crc64_rocksoft
 * arrives in 2.31), so CRC64NVME keeps a slicing-by-8 table: crc64[k][b] advances crc64[k-1][b]
 * by one zero byte. Written once under pthread_once and read-only afterwards. */
typedef struct {
    uint64_t crc64[8][256];
} crc_tables_t;

static crc_tables_t tables;
static pthread_once_t tables_once = PTHREAD_ONCE_INIT;

static void tables_build(void)
{
    for (uint32_t b = 0; b < 256; b++) {
        uint64_t d = b;
        for (int i = 0; i < 8; i++)
            d = (d >> 1) ^ (POLY_CRC64NVME & (0ull - (d & 1)));
        tables.crc64[0][b] = d;
    }
    for (int k = 1; k < 8; k++)
        for (uint32_t b = 0; b < 256; b++) {
            uint64_t d = tables.crc64[k - 1][b];
            tables.crc64[k][b] = (d >> 8) ^ tables.crc64[0][d & 0xff];
        }
}

uint32_t s3_crc32(uint32_t crc, const void *data, size_t len)
{
    return crc32_gzip_refl(crc, data, len); /* zlib convention: pre- and post-inverted */
}

uint32_t s3_crc32c(uint32_t crc, const void *data, size_t len)
{
    /* crc32_iscsi is the raw register (no inversion) and takes an int length. */
    const unsigned char *p = data;
    uint32_t reg = ~crc;
    while (len > 0) {
        int n = len > (1u << 30) ? 1 << 30 : (int)len;
        reg = crc32_iscsi((unsigned char *)p, n, reg);
        p += n, len -= (size_t)n;
    }
    return ~reg;
}

uint64_t s3_crc64nvme(uint64_t crc, const void *data, size_t len)
{
    const unsigned char *p = data;
    const uint64_t(*t)[256] = tables.crc64;
    pthread_once(&tables_once, tables_build);
    crc = ~crc;
    while (len >= 8) {
        uint64_t v = 0;
        for (int i = 7; i >= 0; i--)
            v = v << 8 | p[i];
        v ^= crc;
        crc = t[7][v & 0xff] ^ t[6][(v >> 8) & 0xff] ^ t[5][(v >> 16) & 0xff] ^ t[4][(v >> 24) & 0xff] ^
              t[3][(v >> 32) & 0xff] ^ t[2][(v >> 40) & 0xff] ^ t[1][(v >> 48) & 0xff] ^ t[0][v >> 56];
        p += 8, len -= 8;
    }
    while (len--)
        crc = (crc >> 8) ^ t[0][(crc ^ *p++) & 0xff];
    return ~crc;
}

/* a * b modulo the CRC polynomial, in the reflected representation of a `width`-bit CRC (the
 * top bit is x^0). The method of zlib's crc32_combine. */
static uint64_t gf2_mulmod(uint64_t a, uint64_t b, uint64_t poly, int width)
{
    uint64_t m = 1ull << (width - 1), p = 0;
    for (;;) {
        if (a & m) {
            p ^= b;
            if ((a & (m - 1)) == 0)
                break;
        }
        m >>= 1;
        b = (b & 1) ? (b >> 1) ^ poly : b >> 1;
    }
    return p;
}

uint64_t s3_crc_combine(s3_ck_alg_t alg, uint64_t crc1, uint64_t crc2, uint64_t len2)
{
    uint64_t poly = alg == S3_CK_CRC32 ? POLY_CRC32 : alg == S3_CK_CRC32C ? POLY_CRC32C : POLY_CRC64NVME;
    int width = alg == S3_CK_CRC64NVME ? 64 : 32;
    /* crc(A||B) = crc(A) * x^(8*len2) + crc(B) (the all-ones init and xor cancel out). */
    uint64_t sq = 1ull << (width - 2); /* x^1 */
    uint64_t xn = 1ull << (width - 1); /* x^0 */
    for (int i = 0; i < 3; i++)
        sq = gf2_mulmod(sq, sq, poly, width); /* x^8: one byte */
    for (; len2 != 0; len2 >>= 1) {
        if (len2 & 1)
            xn = gf2_mulmod(sq, xn, poly, width);
        sq = gf2_mulmod(sq, sq, poly, width);
    }
    return gf2_mulmod(xn, crc1, poly, width) ^ crc2;
}

int s3_ck_init(s3_ck_t *c, s3_ck_alg_t alg)
{
    c->alg = alg, c->crc = 0, c->_md = NULL;
    if ((unsigned)alg >= S3_CK_COUNT)
        return OG_EINVAL;
    if (alg < S3_CK_SHA1)
        return 0;
    EVP_MD_CTX *md = EVP_MD_CTX_new();
    if (md == NULL)
        return -ENOMEM;
    c->_md = md;
    if (!EVP_DigestInit_ex(md, alg == S3_CK_SHA1 ? EVP_sha1() : EVP_sha256(), NULL))
        return -ENOMEM;
    return 0;
}

int s3_ck_update(s3_ck_t *c, const void *data, size_t len)
{
    switch (c->alg) {
    case S3_CK_CRC32: c->crc = s3_crc32((uint32_t)c->crc, data, len); return 0;
    case S3_CK_CRC32C: c->crc = s3_crc32c((uint32_t)c->crc, data, len); return 0;
    case S3_CK_CRC64NVME: c->crc = s3_crc64nvme(c->crc, data, len); return 0;
    default: return EVP_DigestUpdate(c->_md, data, len) ? 0 : -ENOMEM;
    }
}

int s3_ck_final(s3_ck_t *c, uint8_t out[S3_CK_MAX_DIGEST])
{
    if (c->alg < S3_CK_SHA1) {
        int n = (int)s3_ck_len(c->alg);
        for (int i = 0; i < n; i++)
            out[i] = (uint8_t)(c->crc >> (8 * (n - 1 - i)));
        return n;
    }
    unsigned int n = 0;
    if (!EVP_DigestFinal_ex(c->_md, out, &n))
        return -ENOMEM;
    return (int)n;
}

void s3_ck_free(s3_ck_t *c)
{
    EVP_MD_CTX_free(c->_md);
    c->_md = NULL;
}

static const struct {
    const char *name, *header, *upper;
    size_t len;
} algs[S3_CK_COUNT] = {
    [S3_CK_CRC32] = {"crc32", "x-amz-checksum-crc32", "CRC32", 4},
    [S3_CK_CRC32C] = {"crc32c", "x-amz-checksum-crc32c", "CRC32C", 4},
    [S3_CK_CRC64NVME] = {"crc64nvme", "x-amz-checksum-crc64nvme", "CRC64NVME", 8},
    [S3_CK_SHA1] = {"sha1", "x-amz-checksum-sha1", "SHA1", 20},
    [S3_CK_SHA256] = {"sha256", "x-amz-checksum-sha256", "SHA256", 32},
};

size_t s3_ck_len(s3_ck_alg_t alg) { return algs[alg].len; }
const char *s3_ck_name(s3_ck_alg_t alg) { return algs[alg].name; }
const char *s3_ck_header(s3_ck_alg_t alg) { return algs[alg].header; }
const char *s3_ck_upper(s3_ck_alg_t alg) { return algs[alg].upper; }

int s3_ck_parse(og_str_t s)
{
    static const char prefix[] = "x-amz-checksum-";
    if (s.len > sizeof(prefix) - 1 && strncasecmp(s.base, prefix, sizeof(prefix) - 1) == 0)
        s.base += sizeof(prefix) - 1, s.len -= sizeof(prefix) - 1;
    for (int i = 0; i < S3_CK_COUNT; i++)
        if (og_str_ieq(s, algs[i].name))
            return i;
    return OG_EINVAL;
}

size_t s3_ck_b64(const uint8_t *digest, size_t len, char out[S3_CK_B64_MAX])
{
    long n = og_b64_encode(digest, len, out, S3_CK_B64_MAX, 0);
    return n < 0 ? 0 : (size_t)n; /* cannot fail: 32 bytes need 45 with the NUL */
}

int s3_ck_unb64(s3_ck_alg_t alg, og_str_t value, uint8_t out[S3_CK_MAX_DIGEST])
{
    uint8_t tmp[S3_CK_MAX_DIGEST + 3];
    long n = og_b64_decode(value, tmp, sizeof(tmp));
    if (n != (long)s3_ck_len(alg))
        return OG_EINVAL;
    memcpy(out, tmp, (size_t)n);
    return 0;
}
