/* Flexible-checksum algorithms (gateway/gw_checksum.c) against published check values. */
#include <criterion/criterion.h>
#include <stdlib.h>

#include "s3/s3_checksum.h"

static const char check[] = "123456789"; /* the CRC catalogue's check input */

Test(checksum, crc_check_values)
{
    cr_assert_eq(s3_crc32(0, check, 9), 0xcbf43926u);
    cr_assert_eq(s3_crc32c(0, check, 9), 0xe3069283u);
    cr_assert_eq(s3_crc64nvme(0, check, 9), 0xae8b14860a799888ull);
    cr_assert_eq(s3_crc32(0, "", 0), 0u);
    cr_assert_eq(s3_crc64nvme(0, "", 0), 0u);
}

Test(checksum, streaming_equals_one_shot_at_every_split)
{
    unsigned char buf[301];
    for (size_t i = 0; i < sizeof(buf); i++)
        buf[i] = (unsigned char)(i * 7 + 3);
    uint32_t a = s3_crc32(0, buf, sizeof(buf)), c = s3_crc32c(0, buf, sizeof(buf));
    uint64_t d = s3_crc64nvme(0, buf, sizeof(buf));
    for (size_t k = 0; k <= sizeof(buf); k++) {
        cr_assert_eq(s3_crc32(s3_crc32(0, buf, k), buf + k, sizeof(buf) - k), a);
        cr_assert_eq(s3_crc32c(s3_crc32c(0, buf, k), buf + k, sizeof(buf) - k), c);
        cr_assert_eq(s3_crc64nvme(s3_crc64nvme(0, buf, k), buf + k, sizeof(buf) - k), d);
    }
}

Test(checksum, combine_matches_concatenation)
{
    size_t n = 100000;
    unsigned char *buf = malloc(n);
    cr_assert_not_null(buf);
    for (size_t i = 0; i < n; i++)
        buf[i] = (unsigned char)(i * 131 + (i >> 9));
    size_t cuts[] = {0, 1, 7, 8, 4096, 65536, 99999, 100000};
    for (size_t i = 0; i < sizeof(cuts) / sizeof(cuts[0]); i++) {
        size_t k = cuts[i];
        cr_assert_eq(s3_crc_combine(S3_CK_CRC32, s3_crc32(0, buf, k), s3_crc32(0, buf + k, n - k), n - k),
                     s3_crc32(0, buf, n), "cut %zu", k);
        cr_assert_eq(s3_crc_combine(S3_CK_CRC32C, s3_crc32c(0, buf, k), s3_crc32c(0, buf + k, n - k), n - k),
                     s3_crc32c(0, buf, n), "cut %zu", k);
        cr_assert_eq(
            s3_crc_combine(S3_CK_CRC64NVME, s3_crc64nvme(0, buf, k), s3_crc64nvme(0, buf + k, n - k), n - k),
            s3_crc64nvme(0, buf, n), "cut %zu", k);
    }
    free(buf);
}

static void b64_of(s3_ck_alg_t alg, const void *data, size_t len, char out[S3_CK_B64_MAX])
{
    s3_ck_t c;
    uint8_t d[S3_CK_MAX_DIGEST];
    cr_assert_eq(s3_ck_init(&c, alg), 0);
    cr_assert_eq(s3_ck_update(&c, data, len), 0);
    int n = s3_ck_final(&c, d);
    cr_assert_eq((size_t)n, s3_ck_len(alg));
    s3_ck_free(&c);
    s3_ck_b64(d, (size_t)n, out);
}

Test(checksum, header_values_as_s3_sends_them)
{
    char v[S3_CK_B64_MAX];
    b64_of(S3_CK_CRC32, check, 9, v);
    cr_assert_str_eq(v, "y/Q5Jg==");
    b64_of(S3_CK_SHA256, "", 0, v);
    cr_assert_str_eq(v, "47DEQpj8HBSa+/TImW+5JCeuQeRkm5NMpJWZG3hSuFU=");
    b64_of(S3_CK_SHA1, "abc", 3, v);
    cr_assert_str_eq(v, "qZk+NkcGgWq6PiVxeFDCbJzQ2J0=");
    /* The AWS SigV4 trailer example: 66560 bytes of 'a' have CRC32C sOO8/Q==. */
    char *a = malloc(66560);
    cr_assert_not_null(a);
    memset(a, 'a', 66560);
    b64_of(S3_CK_CRC32C, a, 66560, v);
    cr_assert_str_eq(v, "sOO8/Q==");
    free(a);
    b64_of(S3_CK_CRC64NVME, check, 9, v);
    uint8_t d[S3_CK_MAX_DIGEST];
    cr_assert_eq(s3_ck_unb64(S3_CK_CRC64NVME, og_str(v), d), 0);
    cr_assert(d[0] == 0xae && d[7] == 0x88);
    cr_assert_eq(s3_ck_unb64(S3_CK_CRC32, og_str(v), d), OG_EINVAL); /* 8 bytes are not a CRC32 */
    cr_assert_eq(s3_ck_unb64(S3_CK_CRC32, og_str("y/Q5Jg"), d), 0);  /* padding optional */
    cr_assert_eq(s3_ck_unb64(S3_CK_CRC32, og_str("y/Q5J!=="), d), OG_EINVAL);
}

Test(checksum, names)
{
    cr_assert_eq(s3_ck_parse(og_str("CRC32")), S3_CK_CRC32);
    cr_assert_eq(s3_ck_parse(og_str("crc64nvme")), S3_CK_CRC64NVME);
    cr_assert_eq(s3_ck_parse(og_str("x-amz-checksum-sha256")), S3_CK_SHA256);
    cr_assert_eq(s3_ck_parse(og_str("X-Amz-Checksum-CRC32C")), S3_CK_CRC32C);
    cr_assert_eq(s3_ck_parse(og_str("md5")), OG_EINVAL);
    cr_assert_eq(s3_ck_parse(og_str("x-amz-checksum-")), OG_EINVAL);
    cr_assert_str_eq(s3_ck_header(S3_CK_SHA1), "x-amz-checksum-sha1");
    cr_assert_str_eq(s3_ck_upper(S3_CK_CRC64NVME), "CRC64NVME");
    s3_ck_t c;
    cr_assert_eq(s3_ck_init(&c, S3_CK_COUNT), OG_EINVAL);
    s3_ck_free(&c);
}
