/*
 * og_crypt.c: AES-256-GCM and HMAC-SHA256 through OpenSSL's EVP (og_crypt.h).
 */
#include "og_crypt.h"

#include <errno.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/rand.h>

int og_gcm(int enc, const uint8_t key[OG_KEY_BYTES], const uint8_t nonce[OG_GCM_NONCE], og_str_t aad,
           const void *in, size_t n, void *out, uint8_t tag[OG_GCM_TAG])
{
    EVP_CIPHER_CTX *c = EVP_CIPHER_CTX_new();
    unsigned char *o = out;
    int len = 0, rc = OG_EPROTO;
    if (c == NULL || n > INT32_MAX || aad.len > INT32_MAX)
        goto out_free;
    if (EVP_CipherInit_ex(c, EVP_aes_256_gcm(), NULL, key, nonce, enc) != 1 ||
        (aad.len && EVP_CipherUpdate(c, NULL, &len, (const unsigned char *)aad.base, (int)aad.len) != 1) ||
        EVP_CipherUpdate(c, o, &len, in, (int)n) != 1)
        goto out_free;
    if (!enc && EVP_CIPHER_CTX_ctrl(c, EVP_CTRL_GCM_SET_TAG, OG_GCM_TAG, tag) != 1)
        goto out_free;
    if (EVP_CipherFinal_ex(c, o + len, &len) != 1)
        goto out_free; /* decrypting: the tag did not verify */
    if (enc && EVP_CIPHER_CTX_ctrl(c, EVP_CTRL_GCM_GET_TAG, OG_GCM_TAG, tag) != 1)
        goto out_free;
    rc = 0;
out_free:
    EVP_CIPHER_CTX_free(c);
    return rc;
}

long og_seal(const og_key_t *k, og_str_t aad, const void *plain, size_t n, void *out, size_t cap)
{
    size_t il = strlen(k->id), need = 1 + il + OG_GCM_NONCE + n + OG_GCM_TAG;
    unsigned char *p = out;
    if (need > cap)
        return OG_ETOOBIG;
    p[0] = (unsigned char)il;
    memcpy(p + 1, k->id, il);
    unsigned char *nonce = p + 1 + il, *ct = nonce + OG_GCM_NONCE;
    if (RAND_bytes(nonce, OG_GCM_NONCE) != 1)
        return OG_EINVAL;
    if (og_gcm(1, k->key, nonce, aad, plain, n, ct, ct + n) != 0)
        return OG_EINVAL;
    return (long)need;
}

long og_unseal(const og_key_t *keys, size_t nkeys, og_str_t aad, og_str_t sealed, void *out, size_t cap,
               const og_key_t **used)
{
    const unsigned char *p = (const unsigned char *)sealed.base;
    if (sealed.len < 1 || sealed.len < 1 + (size_t)p[0] + OG_GCM_NONCE + OG_GCM_TAG)
        return OG_EPROTO;
    og_str_t id = {sealed.base + 1, p[0]};
    const og_key_t *k = og_keys_find(keys, nkeys, id);
    size_t n = sealed.len - 1 - id.len - OG_GCM_NONCE - OG_GCM_TAG;
    if (k == NULL)
        return OG_EPROTO;
    if (n > cap)
        return OG_ETOOBIG;
    const unsigned char *nonce = p + 1 + id.len, *ct = nonce + OG_GCM_NONCE;
    uint8_t tag[OG_GCM_TAG];
    memcpy(tag, ct + n, OG_GCM_TAG);
    if (og_gcm(0, k->key, nonce, aad, ct, n, out, tag) != 0) {
        OPENSSL_cleanse(out, n); /* GCM decrypts before it verifies */
        return OG_EPROTO;
    }
    *used = k;
    return (long)n;
}

int og_box(const uint8_t key[OG_KEY_BYTES], og_str_t aad, const void *plain, size_t n, void *out)
{
    unsigned char *nonce = out, *ct = nonce + OG_GCM_NONCE;
    if (RAND_bytes(nonce, OG_GCM_NONCE) != 1)
        return OG_EINVAL;
    return og_gcm(1, key, nonce, aad, plain, n, ct, ct + n) != 0 ? OG_EINVAL : 0;
}

int og_box_open(const uint8_t key[OG_KEY_BYTES], og_str_t aad, void *box, size_t n, void *out)
{
    uint8_t nonce[OG_GCM_NONCE], tag[OG_GCM_TAG];
    unsigned char *b = box;
    if (n < OG_BOX_OVERHEAD)
        return OG_EPROTO;
    n -= OG_BOX_OVERHEAD;
    /* copied first: out may be box, and the plaintext overwrites the nonce */
    memcpy(nonce, b, OG_GCM_NONCE);
    memcpy(tag, b + OG_GCM_NONCE + n, OG_GCM_TAG);
    if (out == box)
        memmove(b, b + OG_GCM_NONCE, n);
    const void *ct = out == box ? (const void *)b : (const void *)(b + OG_GCM_NONCE);
    if (og_gcm(0, key, nonce, aad, ct, n, out, tag) != 0) {
        OPENSSL_cleanse(out, n);
        return OG_EPROTO;
    }
    return 0;
}

/* SHA-256 fetched once: OpenSSL 3 looks an algorithm up in its provider store (locks, property
 * matching) on every HMAC() and on every EVP_DigestInit_ex with EVP_sha256(); a fetched EVP_MD
 * skips that. Set once by pthread_once and never changed (it lives as long as the process), like
 * OpenSSL's own algorithm tables. */
static pthread_once_t sha256_once = PTHREAD_ONCE_INIT;
static EVP_MD *sha256_md;

static void sha256_fetch(void) { sha256_md = EVP_MD_fetch(NULL, "SHA256", NULL); }

/* Starts c as H(k ^ pad | ...): RFC 2104's inner (0x36) or outer (0x5c) state. */
static int pad_init(EVP_MD_CTX *c, const uint8_t k[64], uint8_t pad)
{
    uint8_t p[64];
    for (size_t i = 0; i < 64; i++)
        p[i] = k[i] ^ pad;
    int ok = EVP_DigestInit_ex(c, sha256_md, NULL) && EVP_DigestUpdate(c, p, 64);
    OPENSSL_cleanse(p, sizeof(p));
    return ok;
}

/* Hashes a[0, an) into c and finishes it into out. */
static int finish(EVP_MD_CTX *c, const void *a, size_t an, uint8_t out[32])
{
    unsigned int len = 0;
    return EVP_DigestUpdate(c, a, an) && EVP_DigestFinal_ex(c, out, &len) && len == 32;
}

/* One HMAC pass: H(key ^ pad | a). */
static int hmac_pass(EVP_MD_CTX *c, const uint8_t k[64], uint8_t pad, const void *a, size_t an, uint8_t out[32])
{
    return pad_init(c, k, pad) && finish(c, a, an, out);
}

/* The key as RFC 2104's 64-byte block: zero-padded, or hashed first when longer. 1 or 0. */
static int key_block(const void *key, size_t klen, uint8_t k[64])
{
    unsigned int len = 0;
    memset(k, 0, 64);
    if (klen > 64)
        return EVP_Digest(key, klen, k, &len, sha256_md, NULL);
    if (klen > 0)
        memcpy(k, key, klen);
    return 1;
}

int og_sha256(const void *msg, size_t n, uint8_t out[32])
{
    unsigned int len = 0;
    if (pthread_once(&sha256_once, sha256_fetch) != 0 || sha256_md == NULL)
        return -ENOMEM;
    return EVP_Digest(msg, n, out, &len, sha256_md, NULL) && len == 32 ? 0 : -ENOMEM;
}

int og_hmac_sha256(const void *key, size_t klen, const void *msg, size_t n, uint8_t out[32])
{
    uint8_t k[64], inner[32];
    int rc = -ENOMEM;
    if (pthread_once(&sha256_once, sha256_fetch) != 0 || sha256_md == NULL)
        return -ENOMEM;
    EVP_MD_CTX *c = EVP_MD_CTX_new();
    if (c == NULL)
        return -ENOMEM;
    if (key_block(key, klen, k) && hmac_pass(c, k, 0x36, msg, n, inner) &&
        hmac_pass(c, k, 0x5c, inner, sizeof(inner), out))
        rc = 0;
    OPENSSL_cleanse(k, sizeof(k));
    OPENSSL_cleanse(inner, sizeof(inner));
    EVP_MD_CTX_free(c);
    return rc;
}

struct st_og_hmac_key_t {
    EVP_MD_CTX *inner, *outer; /* the states after the key's padded blocks; only copied from */
};

int og_hmac_key_new(const void *key, size_t klen, og_hmac_key_t **out)
{
    uint8_t k[64];
    int rc = -ENOMEM;
    if (pthread_once(&sha256_once, sha256_fetch) != 0 || sha256_md == NULL)
        return -ENOMEM;
    og_hmac_key_t *hk = calloc(1, sizeof(*hk));
    if (hk == NULL)
        return -ENOMEM;
    hk->inner = EVP_MD_CTX_new();
    hk->outer = EVP_MD_CTX_new();
    if (hk->inner != NULL && hk->outer != NULL && key_block(key, klen, k) && pad_init(hk->inner, k, 0x36) &&
        pad_init(hk->outer, k, 0x5c)) {
        *out = hk;
        hk = NULL;
        rc = 0;
    }
    OPENSSL_cleanse(k, sizeof(k));
    og_hmac_key_free(hk);
    return rc;
}

void og_hmac_key_free(og_hmac_key_t *k)
{
    if (k == NULL)
        return;
    EVP_MD_CTX_free(k->inner); /* frees (and wipes) the digest state */
    EVP_MD_CTX_free(k->outer);
    free(k);
}

int og_hmac_sha256_key(const og_hmac_key_t *k, const void *msg, size_t n, uint8_t out[32])
{
    uint8_t inner[32];
    EVP_MD_CTX *c = EVP_MD_CTX_new();
    if (c == NULL)
        return -ENOMEM;
    int ok = EVP_MD_CTX_copy_ex(c, k->inner) && finish(c, msg, n, inner) && EVP_MD_CTX_copy_ex(c, k->outer) &&
             finish(c, inner, sizeof(inner), out);
    OPENSSL_cleanse(inner, sizeof(inner));
    EVP_MD_CTX_free(c);
    return ok ? 0 : -ENOMEM;
}
