/*
 * s3/s3_checksum.h: the S3 "flexible checksums" (x-amz-checksum-crc32, -crc32c, -crc64nvme, -sha1,
 * -sha256) as streaming digests, plus the CRC algebra that multipart needs.
 *
 * The CRCs are the reflected forms S3 uses: CRC-32 (ISO-HDLC, poly 0x04c11db7), CRC-32C
 * (Castagnoli, 0x1edc6f41) and CRC-64/NVME (0xad93d23594c93659, reflected 0x9a6c9329ac4bc9b5),
 * each with init and final xor of all ones; computed with slicing-by-8 tables built once
 * (pthread_once), so no mutable global state leaks past start-up. SHA-1/SHA-256 use OpenSSL.
 * S3 sends and expects every value as base64 of the big-endian digest bytes.
 */
#ifndef S3_CHECKSUM_H
#define S3_CHECKSUM_H

#include "og.h"

typedef enum {
    S3_CK_CRC32 = 0,
    S3_CK_CRC32C,
    S3_CK_CRC64NVME,
    S3_CK_SHA1,
    S3_CK_SHA256,
    S3_CK_COUNT
} s3_ck_alg_t;

#define S3_CK_MAX_DIGEST 32 /* SHA-256 */
#define S3_CK_B64_MAX 48    /* base64 of the largest digest plus "-10000" and the NUL */

/* One-shot CRCs. Pass the previous return value as crc to continue a stream (0 to start):
 * s3_crc32(s3_crc32(0, a, n), b, m) == s3_crc32(0, ab, n + m). Cannot fail. */
uint32_t s3_crc32(uint32_t crc, const void *data, size_t len);
uint32_t s3_crc32c(uint32_t crc, const void *data, size_t len);
uint64_t s3_crc64nvme(uint64_t crc, const void *data, size_t len);

/* CRC of A||B from crc(A), crc(B) and len(B), for the CRC algorithms only (alg < S3_CK_SHA1):
 * what S3's FULL_OBJECT checksum of a multipart upload is, without rereading the parts.
 * Cannot fail; O(log len2). */
uint64_t s3_crc_combine(s3_ck_alg_t alg, uint64_t crc1, uint64_t crc2, uint64_t len2);

/* A streaming digest of one algorithm. Plain data apart from the OpenSSL context: release
 * with s3_ck_free (also after a failed init). */
typedef struct {
    s3_ck_alg_t alg;
    uint64_t crc;
    void *_md; /* EVP_MD_CTX for SHA-1/SHA-256 */
} s3_ck_t;

/* 0, -ENOMEM, or OG_EINVAL for an unknown alg. */
int s3_ck_init(s3_ck_t *c, s3_ck_alg_t alg);
/* 0 or -ENOMEM (OpenSSL refused). */
int s3_ck_update(s3_ck_t *c, const void *data, size_t len);
/* Writes the digest (big-endian for CRCs) into out and returns its length (4, 8, 20, 32), or
 * -ENOMEM. The context must be re-initialised before reuse. */
int s3_ck_final(s3_ck_t *c, uint8_t out[S3_CK_MAX_DIGEST]);
void s3_ck_free(s3_ck_t *c);

/* Digest length of an algorithm in bytes. */
size_t s3_ck_len(s3_ck_alg_t alg);
/* "crc32", "crc32c", "crc64nvme", "sha1", "sha256" (static strings). */
const char *s3_ck_name(s3_ck_alg_t alg);
/* "x-amz-checksum-crc32" ... (static strings). */
const char *s3_ck_header(s3_ck_alg_t alg);
/* "CRC32", "CRC32C", "CRC64NVME", "SHA1", "SHA256": the spelling of x-amz-checksum-algorithm
 * and of XML <ChecksumAlgorithm> (static strings). */
const char *s3_ck_upper(s3_ck_alg_t alg);
/* The algorithm named by s, case-insensitively, either bare ("crc32", "CRC32") or as its
 * header name ("x-amz-checksum-crc32"). The alg, or OG_EINVAL. */
int s3_ck_parse(og_str_t s);

/* base64 of a digest into out (S3_CK_B64_MAX bytes, NUL-terminated). Returns the length. */
size_t s3_ck_b64(const uint8_t *digest, size_t len, char out[S3_CK_B64_MAX]);
/* Decodes a header value for alg: exactly s3_ck_len(alg) bytes in base64. 0 or OG_EINVAL. */
int s3_ck_unb64(s3_ck_alg_t alg, og_str_t value, uint8_t out[S3_CK_MAX_DIGEST]);

#endif
