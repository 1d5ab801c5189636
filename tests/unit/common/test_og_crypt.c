/*
 * test_og_crypt.c: AES-256-GCM as Onggi uses it (og_crypt.h): boxes (round trip, in place, wrong
 * key, every altered byte and the aad refused, random nonces) and sealed values (found by key id,
 * rotation, altered or unknown key refused).
 */
#include "og_crypt.h"

#include <criterion/criterion.h>
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
