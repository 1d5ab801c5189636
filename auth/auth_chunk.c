/*
 * aws-chunked streaming signatures (SigV4 "Transferring Payload in Multiple Chunks" and
 * "Signature Calculations for Trailing Headers"). Each chunk's signature chains to the one
 * before it, starting at the seed signature of the request head, so a chunk can be neither
 * altered, dropped, reordered nor moved to another request. The caller hashes the chunk bytes
 * while streaming them; only the fixed-size string to sign is built here.
 */
#include "auth.h"
#include "auth_int.h"

#include <stdio.h>

/* SHA-256 of the empty string: the "hash of the chunk's headers" slot, always empty for S3. */
#define EMPTY_SHA256_HEX "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"

/* HMAC of "<algo>\n<date>\n<scope>\n<prev>\n[<empty-hash>\n]<hex(hash)>" into out as hex. */
static int sign_link(const uint8_t key[32], const char *algo, const char *amz_date, const char *scope,
                     const char *prev_sig, int with_empty, const uint8_t hash[32], char out[65])
{
    char sts[512], hex[65];
    uint8_t mac[32];
    og_hex(hash, 32, hex);
    int n = snprintf(sts, sizeof(sts), "%s\n%s\n%s\n%s\n%s%s", algo, amz_date, scope, prev_sig,
                     with_empty ? EMPTY_SHA256_HEX "\n" : "", hex);
    if (n < 0 || (size_t)n >= sizeof(sts))
        return OG_EINVAL;
    if (auth_hmac_sha256(key, 32, sts, (size_t)n, mac) != 0)
        return OG_EINVAL;
    og_hex(mac, 32, out);
    return 0;
}

int auth_chunk_sign(const uint8_t signing_key[32], const char *amz_date, const char *scope, const char *prev_sig,
                    const uint8_t chunk_sha256[32], char out[65])
{
    return sign_link(signing_key, "AWS4-HMAC-SHA256-PAYLOAD", amz_date, scope, prev_sig, 1, chunk_sha256, out);
}

int auth_trailer_sign(const uint8_t signing_key[32], const char *amz_date, const char *scope, const char *prev_sig,
                      const uint8_t trailer_sha256[32], char out[65])
{
    return sign_link(signing_key, "AWS4-HMAC-SHA256-TRAILER", amz_date, scope, prev_sig, 0, trailer_sha256, out);
}
