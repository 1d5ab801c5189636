/*
 * core/core_sse.c: object keys of SSE-C objects (core.h, "encryption keys").
 */
#include "core.h"

#include <errno.h>
#include <string.h>

#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>
#include <openssl/rand.h>

#define SSE_C_SALT 16

/* HMAC-SHA256(customer_key, label | salt) into out. 0 or OG_EINVAL. */
static int sse_c_prf(const uint8_t customer_key[32], const char *label, const uint8_t salt[SSE_C_SALT],
                     uint8_t out[32])
{
    unsigned char msg[32 + SSE_C_SALT];
    size_t ll = strlen(label);
    unsigned int olen = 0;
    memcpy(msg, label, ll);
    memcpy(msg + ll, salt, SSE_C_SALT);
    return HMAC(EVP_sha256(), customer_key, 32, msg, ll + SSE_C_SALT, out, &olen) != NULL && olen == 32 ? 0
                                                                                                        : OG_EINVAL;
}

int core_sse_c_new(const uint8_t customer_key[32], uint8_t sse[CORE_SSE_C_LEN], uint8_t key[CORE_SSE_KEY])
{
    if (RAND_bytes(sse, SSE_C_SALT) != 1 || sse_c_prf(customer_key, "onggi-sse-c check", sse, sse + SSE_C_SALT) != 0 ||
        sse_c_prf(customer_key, "onggi-sse-c key", sse, key) != 0)
        return OG_EINVAL;
    return 0;
}

int core_sse_c_open(const uint8_t customer_key[32], og_str_t sse, uint8_t key[CORE_SSE_KEY])
{
    uint8_t check[32];
    const uint8_t *salt = (const uint8_t *)sse.base;
    int rc = 0;
    if (sse.len != CORE_SSE_C_LEN)
        return OG_ECORRUPT;
    if (sse_c_prf(customer_key, "onggi-sse-c check", salt, check) != 0)
        return OG_EINVAL;
    if (CRYPTO_memcmp(check, salt + SSE_C_SALT, 32) != 0)
        rc = -EACCES;
    else
        rc = sse_c_prf(customer_key, "onggi-sse-c key", salt, key);
    OPENSSL_cleanse(check, sizeof(check));
    return rc;
}
