/*
 * test_og_crypt.c: AES-256-GCM as Onggi uses it (og_crypt.h): boxes (round trip, in place, wrong
 * key, every altered byte and the aad refused, random nonces) and sealed values (found by key id,
 * rotation, altered or unknown key refused).
 */
#include "og_crypt.h"

#include <criterion/criterion.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>
#include <string.h>

static const uint8_t K1[OG_KEY_BYTES] = {1, 2, 3};
static const uint8_t K2[OG_KEY_BYTES] = {9, 8, 7};

Test(og_box, round_trip_in_place_and_wrong_key)
{
    uint8_t plain[1000], box[1000 + OG_BOX_OVERHEAD], out[1000];
    for (size_t i = 0; i < sizeof(plain); i++)
        plain[i] = (uint8_t)(i * 7);
    for (size_t n = 0; n <= sizeof(plain); n += 333) {
        cr_assert_eq(og_box(K1, (og_str_t){NULL, 0}, plain, n, box), 0);
        cr_assert(n < 16 || memmem(box, n + OG_BOX_OVERHEAD, plain, 16) == NULL, "plaintext in the box");
        cr_assert_eq(og_box_open(K2, (og_str_t){NULL, 0}, box, n + OG_BOX_OVERHEAD, out), OG_EPROTO);
        cr_assert_eq(og_box_open(K1, (og_str_t){NULL, 0}, box, n + OG_BOX_OVERHEAD, out), 0);
        cr_assert_eq(memcmp(out, plain, n), 0);
        /* in place: the plaintext lands at the box's start */
        cr_assert_eq(og_box_open(K1, (og_str_t){NULL, 0}, box, n + OG_BOX_OVERHEAD, box), 0);
        cr_assert_eq(memcmp(box, plain, n), 0);
    }
    cr_assert_eq(og_box_open(K1, (og_str_t){NULL, 0}, box, OG_BOX_OVERHEAD - 1, out), OG_EPROTO);
}

Test(og_box, tamper_and_aad_detected)
{
    uint8_t plain[64], box[64 + OG_BOX_OVERHEAD], copy[sizeof(box)], out[64];
    memset(plain, 'p', sizeof(plain));
    cr_assert_eq(og_box(K1, OG_STR_LIT("ctx"), plain, sizeof(plain), box), 0);
    for (size_t i = 0; i < sizeof(box); i++) {
        memcpy(copy, box, sizeof(box));
        copy[i] ^= 0x01;
        cr_assert_eq(og_box_open(K1, OG_STR_LIT("ctx"), copy, sizeof(copy), out), OG_EPROTO, "byte %zu", i);
        for (size_t j = 0; j < sizeof(out); j++)
            cr_assert_eq(out[j], 0, "unverified bytes left in out");
    }
    cr_assert_eq(og_box_open(K1, OG_STR_LIT("other"), box, sizeof(box), out), OG_EPROTO);
    cr_assert_eq(og_box_open(K1, OG_STR_LIT("ctx"), box, sizeof(box), out), 0);
    /* two boxes of the same bytes differ (random nonce): nothing dedups across encrypted objects */
    cr_assert_eq(og_box(K1, OG_STR_LIT("ctx"), plain, sizeof(plain), copy), 0);
    cr_assert_neq(memcmp(copy, box, sizeof(box)), 0);
}

Test(og_seal, key_ids_rotation_and_tamper)
{
    og_key_t keys[2] = {{.id = "e2"}, {.id = "e1"}};
    memcpy(keys[0].key, K2, OG_KEY_BYTES);
    memcpy(keys[1].key, K1, OG_KEY_BYTES);
    uint8_t secret[32], sealed[128], out[32];
    const og_key_t *used = NULL;
    memset(secret, 's', sizeof(secret));
    /* sealed under the old key (e1), opened after rotation (e2 first) */
    long n = og_seal(&keys[1], OG_STR_LIT("aad"), secret, sizeof(secret), sealed, sizeof(sealed));
    cr_assert_eq(n, 1 + 2 + OG_GCM_NONCE + 32 + OG_GCM_TAG);
    cr_assert_eq(og_unseal(keys, 2, OG_STR_LIT("aad"), (og_str_t){(char *)sealed, (size_t)n}, out, sizeof(out), &used), 32);
    cr_assert_eq(used, &keys[1]);
    cr_assert_eq(memcmp(out, secret, 32), 0);
    /* the key is gone, the aad differs, or a byte changed: refused */
    cr_assert_eq(og_unseal(keys, 1, OG_STR_LIT("aad"), (og_str_t){(char *)sealed, (size_t)n}, out, sizeof(out), &used),
                 OG_EPROTO);
    cr_assert_eq(og_unseal(keys, 2, OG_STR_LIT("bad"), (og_str_t){(char *)sealed, (size_t)n}, out, sizeof(out), &used),
                 OG_EPROTO);
    sealed[n - 1] ^= 1;
    cr_assert_eq(og_unseal(keys, 2, OG_STR_LIT("aad"), (og_str_t){(char *)sealed, (size_t)n}, out, sizeof(out), &used),
                 OG_EPROTO);
    cr_assert_eq(og_seal(&keys[0], OG_STR_LIT("aad"), secret, sizeof(secret), sealed, 10), OG_ETOOBIG);
}

/* The same MAC as OpenSSL's HMAC() for keys shorter than, as long as and longer than a SHA-256
 * block (a long key is hashed first), and RFC 4231's test case 2. */
Test(og_hmac, matches_openssl_and_rfc4231_also_precomputed)
{
    uint8_t key[200], msg[300], want[32], got[32];
    unsigned int len;
    for (size_t i = 0; i < sizeof(key); i++)
        key[i] = (uint8_t)(i * 7 + 1);
    memset(msg, 'm', sizeof(msg));
    const size_t klens[] = {0, 1, 32, 63, 64, 65, 200};
    for (size_t i = 0; i < sizeof(klens) / sizeof(klens[0]); i++) {
        og_hmac_key_t *pre;
        cr_assert_eq(og_hmac_key_new(key, klens[i], &pre), 0);
        for (size_t n = 0; n <= sizeof(msg); n += 150) {
            cr_assert_not_null(HMAC(EVP_sha256(), key, (int)klens[i], msg, n, want, &len));
            cr_assert_eq(og_hmac_sha256(key, klens[i], msg, n, got), 0);
            cr_assert_eq(memcmp(got, want, 32), 0, "key length %zu, message length %zu", klens[i], n);
            /* the precomputed key, used twice: its states are only copied from */
            for (int twice = 0; twice < 2; twice++) {
                memset(got, 0, sizeof(got));
                cr_assert_eq(og_hmac_sha256_key(pre, msg, n, got), 0);
                cr_assert_eq(memcmp(got, want, 32), 0, "precomputed, key length %zu, message length %zu", klens[i], n);
            }
        }
        og_hmac_key_free(pre);
    }
    static const uint8_t rfc[32] = {0x5b, 0xdc, 0xc1, 0x46, 0xbf, 0x60, 0x75, 0x4e, 0x6a, 0x04, 0x24,
                                    0x26, 0x08, 0x95, 0x75, 0xc7, 0x5a, 0x00, 0x3f, 0x08, 0x9d, 0x27,
                                    0x39, 0x83, 0x9d, 0xec, 0x58, 0xb9, 0x64, 0xec, 0x38, 0x43};
    cr_assert_eq(og_hmac_sha256("Jefe", 4, "what do ya want for nothing?", 28, got), 0);
    cr_assert_eq(memcmp(got, rfc, 32), 0);
}

Test(og_sha256, matches_openssl_and_fips_vectors)
{
    static const uint8_t abc[32] = {0xba, 0x78, 0x16, 0xbf, 0x8f, 0x01, 0xcf, 0xea, 0x41, 0x41, 0x40,
                                    0xde, 0x5d, 0xae, 0x22, 0x23, 0xb0, 0x03, 0x61, 0xa3, 0x96, 0x17,
                                    0x7a, 0x9c, 0xb4, 0x10, 0xff, 0x61, 0xf2, 0x00, 0x15, 0xad};
    uint8_t got[32], want[32], msg[300];
    unsigned int len;
    cr_assert_eq(og_sha256("abc", 3, got), 0);
    cr_assert_eq(memcmp(got, abc, 32), 0);
    for (size_t i = 0; i < sizeof(msg); i++)
        msg[i] = (uint8_t)(i * 7);
    for (size_t n = 0; n <= sizeof(msg); n += 37) {
        cr_assert_eq(og_sha256(msg, n, got), 0);
        cr_assert(EVP_Digest(msg, n, want, &len, EVP_sha256(), NULL));
        cr_assert_eq(memcmp(got, want, 32), 0, "n=%zu", n);
    }
}
