/*
 * iam_seal.c: secrets kept in records, sealed with AES-256-GCM under the cluster's `secrets`
 * keys (og_keys.h; format in iam_int.h). A fresh random 96-bit nonce per seal: secrets are
 * written rarely (a few per administrator command), far below GCM's 2^32 random-nonce bound.
 */
#include "iam_int.h"

#include <string.h>

#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/rand.h>

#define SEAL_NONCE 12
#define SEAL_TAG 16

/* One AES-256-GCM pass: encrypt (enc 1) or decrypt-and-verify (enc 0) n bytes of in into out,
 * with the tag written (enc) or checked (dec). 0, or OG_EPROTO (tag mismatch, cipher failure). */
static int seal_gcm(int enc, const uint8_t key[OG_KEY_BYTES], const uint8_t nonce[SEAL_NONCE], og_str_t aad,
                    const unsigned char *in, size_t n, unsigned char *out, unsigned char tag[SEAL_TAG])
{
    EVP_CIPHER_CTX *c = EVP_CIPHER_CTX_new();
    int len = 0, rc = OG_EPROTO;
    if (c == NULL || n > INT32_MAX || aad.len > INT32_MAX)
        goto out_free;
    if (EVP_CipherInit_ex(c, EVP_aes_256_gcm(), NULL, key, nonce, enc) != 1 ||
        (aad.len && EVP_CipherUpdate(c, NULL, &len, (const unsigned char *)aad.base, (int)aad.len) != 1) ||
        EVP_CipherUpdate(c, out, &len, in, (int)n) != 1)
        goto out_free;
    if (!enc && EVP_CIPHER_CTX_ctrl(c, EVP_CTRL_GCM_SET_TAG, SEAL_TAG, tag) != 1)
        goto out_free;
    if (EVP_CipherFinal_ex(c, out + len, &len) != 1)
        goto out_free; /* decrypting: the tag did not verify */
    if (enc && EVP_CIPHER_CTX_ctrl(c, EVP_CTRL_GCM_GET_TAG, SEAL_TAG, tag) != 1)
        goto out_free;
    rc = 0;
out_free:
    EVP_CIPHER_CTX_free(c);
    return rc;
}

long iam_seal(const iam_t *iam, og_str_t aad, const void *plain, size_t n, void *out, size_t cap)
{
    const og_key_t *k = &iam->secrets[0];
    size_t il = strlen(k->id), need = 1 + il + SEAL_NONCE + n + SEAL_TAG;
    unsigned char *p = out;
    if (need > cap)
        return OG_ETOOBIG;
    p[0] = (unsigned char)il;
    memcpy(p + 1, k->id, il);
    unsigned char *nonce = p + 1 + il, *ct = nonce + SEAL_NONCE;
    if (RAND_bytes(nonce, SEAL_NONCE) != 1)
        return OG_EINVAL;
    if (seal_gcm(1, k->key, nonce, aad, plain, n, ct, ct + n) != 0)
        return OG_EINVAL;
    return (long)need;
}

long iam_unseal(const iam_t *iam, og_str_t aad, og_str_t sealed, void *out, size_t cap, int *stale)
{
    const unsigned char *p = (const unsigned char *)sealed.base;
    if (sealed.len < 1 || sealed.len < 1 + (size_t)p[0] + SEAL_NONCE + SEAL_TAG)
        return OG_EPROTO;
    og_str_t id = {sealed.base + 1, p[0]};
    const og_key_t *k = og_keys_find(iam->secrets, iam->num_secrets, id);
    size_t n = sealed.len - 1 - id.len - SEAL_NONCE - SEAL_TAG;
    if (k == NULL)
        return OG_EPROTO;
    if (n > cap)
        return OG_ETOOBIG;
    const unsigned char *nonce = p + 1 + id.len, *ct = nonce + SEAL_NONCE;
    unsigned char tag[SEAL_TAG];
    memcpy(tag, ct + n, SEAL_TAG);
    if (seal_gcm(0, k->key, nonce, aad, ct, n, out, tag) != 0) {
        OPENSSL_cleanse(out, n); /* GCM decrypts before it verifies */
        return OG_EPROTO;
    }
    *stale = k != &iam->secrets[0];
    return (long)n;
}
