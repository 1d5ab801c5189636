/*
 * test_auth_chunk.c: aws-chunked chunk and trailer signatures (auth/auth_chunk.c) against the
 * AWS SigV4 documentation's examples: "Transferring Payload in Multiple Chunks" (66560 bytes of
 * 'a' in chunks of 65536, 1024 and 0 bytes) and "Signature Calculations for Trailing Headers"
 * (the same body with an x-amz-checksum-crc32c trailer).
 */
#include "auth.h"
#include "auth_int.h"

#include <criterion/criterion.h>
#include <stdio.h>
#include <string.h>

#define AKID "AKIAIOSFODNN7EXAMPLE"
#define SECRET "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY"
#define T_20130524 1369353600
#define SCOPE "20130524/us-east-1/s3/aws4_request"
#define AMZ_DATE "20130524T000000Z"
#define HDR(n, v) {OG_STR_LIT(n), OG_STR_LIT(v)}

static int lookup(void *ctx, og_str_t key, char *secret, size_t cap)
{
    if (!og_str_eq(key, AKID))
        return OG_ENOTFOUND;
    snprintf(secret, cap, "%s", SECRET);
    return 0;
}

/* The documented request head; auth_verify yields the seed signature and the signing key (from
 * keys when it holds one for this secret, or NULL). */
static void verify_example_head_with(auth_keycache_t *keys, auth_result_t *res)
{
    og_header_t h[] = {
        HDR("Host", "s3.amazonaws.com"),
        HDR("x-amz-date", AMZ_DATE),
        HDR("x-amz-storage-class", "REDUCED_REDUNDANCY"),
        HDR("Authorization", "AWS4-HMAC-SHA256 Credential=AKIAIOSFODNN7EXAMPLE/" SCOPE ","
                             "SignedHeaders=content-encoding;content-length;host;x-amz-content-sha256;x-amz-date;"
                             "x-amz-decoded-content-length;x-amz-storage-class,"
                             "Signature=4f232c4386841ef735655705268965c44a0e4690baa4adea153f7db9fa80a0a9"),
        HDR("x-amz-content-sha256", "STREAMING-AWS4-HMAC-SHA256-PAYLOAD"),
        HDR("Content-Encoding", "aws-chunked"),
        HDR("x-amz-decoded-content-length", "66560"),
        HDR("Content-Length", "66824"),
    };
    auth_request_t req = {OG_STR_LIT("PUT"), OG_STR_LIT("/examplebucket/chunkObject.txt"), OG_STR_LIT(""),
                          OG_STR_LIT(""), h, sizeof(h) / sizeof(h[0]), T_20130524, "us-east-1", keys};
    cr_assert_eq(auth_verify(&req, lookup, NULL, res), 0);
    cr_assert_eq(res->payload, AUTH_PAYLOAD_STREAMING);
    cr_assert_str_eq(res->seed_signature, "4f232c4386841ef735655705268965c44a0e4690baa4adea153f7db9fa80a0a9");
    cr_assert_str_eq(res->scope, SCOPE);
    cr_assert_str_eq(res->amz_date, AMZ_DATE);
}

static void verify_example_head(auth_result_t *res)
{
    verify_example_head_with(NULL, res);
}

static void sha_of_a(size_t n, uint8_t out[32])
{
    static char a[65536];
    memset(a, 'a', sizeof(a));
    cr_assert_eq(auth_sha256(a, n, out), 0);
}

/* Chains the three chunks (65536, 1024, 0 bytes of 'a') from seed; checks each signature. */
static void check_chain(const auth_result_t *res, const char *seed, const char *const want[3], char last[65])
{
    size_t sizes[3] = {65536, 1024, 0};
    char prev[65], sig[65];
    snprintf(prev, sizeof(prev), "%s", seed);
    for (int i = 0; i < 3; i++) {
        uint8_t h[32];
        sha_of_a(sizes[i], h);
        cr_assert_eq(auth_chunk_sign(res->signing_key, res->amz_date, res->scope, prev, h, sig), 0);
        cr_assert_str_eq(sig, want[i], "chunk %d", i);
        memcpy(prev, sig, sizeof(prev));
    }
    memcpy(last, prev, 65);
}

Test(auth_chunk, documented_chunk_signatures)
{
    auth_result_t res;
    char last[65];
    static const char *const want[3] = {"ad80c730a21e5b8d04586a2213dd63b9a0e99e0e2307b0ade35a65485a288648",
                                        "0055627c9e194cb4542bae2aa5492e3c1575bbb81b612b7d234b86a503ef5497",
                                        "b6c6ea8a5354eaf15b3cb7646744f4275b71ea724fed81ceb9323e279d449df9"};
    verify_example_head(&res);
    check_chain(&res, res.seed_signature, want, last);
}

Test(auth_chunk, documented_chunk_signatures_with_a_cached_signing_key)
{
    auth_keycache_t *keys;
    auth_result_t res;
    char last[65];
    static const char *const want[3] = {"ad80c730a21e5b8d04586a2213dd63b9a0e99e0e2307b0ade35a65485a288648",
                                        "0055627c9e194cb4542bae2aa5492e3c1575bbb81b612b7d234b86a503ef5497",
                                        "b6c6ea8a5354eaf15b3cb7646744f4275b71ea724fed81ceb9323e279d449df9"};
    cr_assert_eq(auth_keycache_new(4, &keys), 0);
    verify_example_head_with(keys, &res); /* derives and keeps the key */
    memset(&res, 0, sizeof(res));
    verify_example_head_with(keys, &res); /* the kept key */
    check_chain(&res, res.seed_signature, want, last);
    auth_keycache_free(keys);
}

Test(auth_chunk, documented_trailer_signature)
{
    auth_result_t res;
    char last[65], sig[65];
    uint8_t h[32];
    static const char *const want[3] = {"b474d8862b1487a5145d686f57f013e54db672cee1c953b3010fb58501ef5aa2",
                                        "1c1344b170168f8e65b41376b44b20fe354e373826ccbbe2c1d40a8cae51e5c7",
                                        "2ca2aba2005185cf7159c6277faf83795951dd77a3a99e6e65d5c9f85863f992"};
    /* Same credentials, date and region: the signing key of the first example serves. */
    verify_example_head(&res);
    check_chain(&res, "106e2a8a18243abcf37539882f36619c00e2dfc72633413f02d3b74544bfeb8e", want, last);
    static const char trailer[] = "x-amz-checksum-crc32c:sOO8/Q==\n";
    cr_assert_eq(auth_sha256(trailer, sizeof(trailer) - 1, h), 0);
    cr_assert_eq(auth_trailer_sign(res.signing_key, res.amz_date, res.scope, last, h, sig), 0);
    cr_assert_str_eq(sig, "d81f82fc3505edab99d459891051a732e8730629a2e4a59689829ca17fe2e435");
}

Test(auth_chunk, any_change_breaks_the_chain)
{
    auth_result_t res;
    uint8_t h[32];
    char sig[65];
    verify_example_head(&res);
    sha_of_a(65535, h); /* one byte short */
    cr_assert_eq(auth_chunk_sign(res.signing_key, res.amz_date, res.scope, res.seed_signature, h, sig), 0);
    cr_assert_str_neq(sig, "ad80c730a21e5b8d04586a2213dd63b9a0e99e0e2307b0ade35a65485a288648");
    sha_of_a(65536, h);
    cr_assert_eq(auth_chunk_sign(res.signing_key, res.amz_date, res.scope,
                                 "0055627c9e194cb4542bae2aa5492e3c1575bbb81b612b7d234b86a503ef5497", h, sig),
                 0); /* right bytes, wrong place in the chain */
    cr_assert_str_neq(sig, "ad80c730a21e5b8d04586a2213dd63b9a0e99e0e2307b0ade35a65485a288648");
    char huge[600];
    memset(huge, 'x', sizeof(huge) - 1);
    huge[sizeof(huge) - 1] = '\0';
    cr_assert_eq(auth_chunk_sign(res.signing_key, res.amz_date, huge, res.seed_signature, h, sig), OG_EINVAL);
}
