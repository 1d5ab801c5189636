/*
 * og_crypt.h: AES-256-GCM, the one cipher Onggi uses (OpenSSL's EVP), in the three shapes its
 * users need:
 *  - og_gcm: one encrypt or decrypt-and-verify pass with a caller's nonce;
 *  - og_seal / og_unseal: a small value sealed under one of a cluster key file's keys (og_keys.h),
 *    found again by its key id: u8 id length | key id | 12 bytes nonce | ciphertext | 16 bytes tag.
 *    Used for secrets in records (iam) and for SSE-S3 data keys;
 *  - og_box / og_box_open: bytes under a raw 256-bit key with a fresh random nonce,
 *    nonce | ciphertext | tag (OG_BOX_OVERHEAD more bytes than the plaintext). Used for the chunks
 *    and inline bodies of encrypted objects (core, docs/architecture.md "Encryption").
 * A random 96-bit nonce per message keeps GCM's bound (2^32 messages per key) far away for every
 * use: a key seals a few administrator secrets, or the chunks of one object.
 * It also holds og_hmac_sha256, the HMAC every request signature uses (SigV4, node requests), and
 * og_sha256 for SigV4's per-request digests.
 */
#ifndef OG_CRYPT_H
#define OG_CRYPT_H

#include "og_keys.h"

#include <stddef.h>
#include <stdint.h>

#define OG_GCM_NONCE 12
#define OG_GCM_TAG 16
#define OG_BOX_OVERHEAD (OG_GCM_NONCE + OG_GCM_TAG)

/* One AES-256-GCM pass over n bytes of in into out (out == in is allowed): encrypt (enc 1,
 * the tag written) or decrypt and verify (enc 0, the tag checked; out then holds unverified bytes
 * on failure: the caller wipes or discards them). aad is authenticated, not encrypted.
 * 0, or OG_EPROTO (tag mismatch, cipher failure). */
int og_gcm(int enc, const uint8_t key[OG_KEY_BYTES], const uint8_t nonce[OG_GCM_NONCE], og_str_t aad,
           const void *in, size_t n, void *out, uint8_t tag[OG_GCM_TAG]);

/* Seals n bytes of plain under key k (format above) into out (cap bytes). Its length,
 * OG_ETOOBIG (cap too small) or OG_EINVAL (random source or cipher failure). */
long og_seal(const og_key_t *k, og_str_t aad, const void *plain, size_t n, void *out, size_t cap);
/* Opens a sealed value with the key of keys[0..nkeys) named in it, into out (cap bytes). Its
 * length, with *used the key that opened it; OG_EPROTO when malformed, sealed with a key not in
 * keys, or altered (aad included); OG_ETOOBIG when cap is too small. Nothing of an altered value
 * is left in out. */
long og_unseal(const og_key_t *keys, size_t nkeys, og_str_t aad, og_str_t sealed, void *out, size_t cap,
               const og_key_t **used);

/* Encrypts n bytes of plain into out (n + OG_BOX_OVERHEAD bytes; out may not overlap plain) under
 * key with a fresh random nonce; aad is authenticated. 0 or OG_EINVAL. */
int og_box(const uint8_t key[OG_KEY_BYTES], og_str_t aad, const void *plain, size_t n, void *out);
/* Opens a box of n bytes (n >= OG_BOX_OVERHEAD) into out (n - OG_BOX_OVERHEAD bytes; out may be
 * box itself: the plaintext is then written from its start). 0, or OG_EPROTO (too short, wrong key,
 * altered bytes or aad) with out wiped. */
int og_box_open(const uint8_t key[OG_KEY_BYTES], og_str_t aad, void *box, size_t n, void *out);

/* HMAC-SHA256 of msg[0, n) under key[0, klen) into out. Same bytes as OpenSSL's HMAC(), without
 * its per-call algorithm fetches (two thirds of its cost for a short message under OpenSSL 3):
 * SHA-256 is fetched once per process. 0, or -ENOMEM. */
int og_hmac_sha256(const void *key, size_t klen, const void *msg, size_t n, uint8_t out[32]);
/* An HMAC-SHA256 key with its two padded blocks hashed once (RFC 2104's inner and outer states),
 * for a key that signs many messages (the node key): each MAC then hashes only the message and
 * the inner digest, two SHA-256 blocks and two digest set-ups fewer than og_hmac_sha256.
 * Not changed after og_hmac_key_new, so any number of threads may use one at once.
 * og_hmac_key_new: 0 and *out (release with og_hmac_key_free), or -ENOMEM.
 * og_hmac_sha256_key: the same bytes as og_hmac_sha256 with that key. 0, or -ENOMEM. */
typedef struct st_og_hmac_key_t og_hmac_key_t;
int og_hmac_key_new(const void *key, size_t klen, og_hmac_key_t **out);
void og_hmac_key_free(og_hmac_key_t *k);
int og_hmac_sha256_key(const og_hmac_key_t *k, const void *msg, size_t n, uint8_t out[32]);

/* SHA-256 of msg[0, n) into out, with the SHA-256 fetched once (EVP_sha256() in EVP_Digest fetches
 * it on every call under OpenSSL 3). 0, or -ENOMEM. */
int og_sha256(const void *msg, size_t n, uint8_t out[32]);

#endif
