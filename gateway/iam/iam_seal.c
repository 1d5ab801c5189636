/*
 * iam_seal.c: values kept in records, sealed with AES-256-GCM (og_crypt.h): secrets under the
 * cluster's `secrets` keys (format in iam_int.h), SSE-S3 data keys under its `sse` keys (iam.h).
 * A fresh random 96-bit nonce per seal: secrets are written rarely (a few per administrator
 * command), far below GCM's 2^32 random-nonce bound; an `sse` key seals one data key per
 * encrypted object, so it is rotated (a new first `sse` line) well before 2^32 objects.
 */
#include "iam_int.h"

long iam_seal(const iam_t *iam, og_str_t aad, const void *plain, size_t n, void *out, size_t cap)
{
    return og_seal(&iam->secrets[0], aad, plain, n, out, cap);
}

long iam_unseal(const iam_t *iam, og_str_t aad, og_str_t sealed, void *out, size_t cap, int *stale)
{
    const og_key_t *used = NULL;
    long n = og_unseal(iam->secrets, iam->num_secrets, aad, sealed, out, cap, &used);
    if (n >= 0)
        *stale = used != &iam->secrets[0];
    return n;
}

int iam_sse_available(const iam_t *iam) { return iam->num_sse > 0; }

long iam_sse_seal(const iam_t *iam, og_str_t aad, const uint8_t key[OG_KEY_BYTES], void *out, size_t cap)
{
    if (iam->num_sse == 0)
        return OG_EINVAL;
    return og_seal(&iam->sse[0], aad, key, OG_KEY_BYTES, out, cap);
}

int iam_sse_unseal(const iam_t *iam, og_str_t aad, og_str_t sealed, uint8_t key[OG_KEY_BYTES])
{
    const og_key_t *used;
    long n = og_unseal(iam->sse, iam->num_sse, aad, sealed, key, OG_KEY_BYTES, &used);
    return n == OG_KEY_BYTES ? 0 : n < 0 ? (int)n : OG_EPROTO;
}
