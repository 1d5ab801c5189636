/*
 * auth_int.h: what the auth/ sources share with each other and nothing else includes:
 * a growable string buffer, the crypto and encoding primitives, time parsing, and the
 * per-scheme verifiers that auth_verify() dispatches to.
 */
#ifndef AUTH_INT_H
#define AUTH_INT_H

#include "auth.h"

#include <stdint.h>

/* Room for a secret returned by the lookup callback (AUTH_KEY_MAX is the access key). */
#define AUTH_SECRET_MAX 256

/* A growable byte buffer with a sticky error, so a caller can append a whole canonical
 * string and check err once at the end (appends after a failure do nothing). base is
 * owned by the buffer and NUL-terminated whenever len > 0 and err == 0; release it with
 * auth_buf_free. A zeroed struct is an empty buffer. */
typedef struct {
    char *base;
    size_t len;
    size_t cap;
    int err; /* 0 or -ENOMEM */
} auth_buf_t;

void auth_buf_put(auth_buf_t *b, const void *p, size_t n);
void auth_buf_putc(auth_buf_t *b, char c);
static inline void auth_buf_putstr(auth_buf_t *b, og_str_t s)
{
    auth_buf_put(b, s.base, s.len);
}
/* Appends s with ASCII letters lowercased (header names). */
void auth_buf_put_lower(auth_buf_t *b, og_str_t s);
/* Appends bytes URI-encoded the AWS way: everything but A-Z a-z 0-9 - _ . ~ (and '/' when
 * keep_slash) becomes %XX with uppercase hex; a space is %20, never '+'. */
void auth_buf_put_uriencoded(auth_buf_t *b, const char *p, size_t n, int keep_slash);
/* Frees the storage and leaves an empty buffer. */
void auth_buf_free(auth_buf_t *b);

/* SHA-256 of n bytes. Cannot fail on supported OpenSSL builds; returns 0 or OG_EINVAL. */
int auth_sha256(const void *p, size_t n, uint8_t out[32]);
/* HMAC-SHA256 / HMAC-SHA1 of msg under key. 0 or OG_EINVAL (OpenSSL refused). */
int auth_hmac_sha256(const void *key, size_t klen, const void *msg, size_t n, uint8_t out[32]);
int auth_hmac_sha1(const void *key, size_t klen, const void *msg, size_t n, uint8_t out[20]);

/* Leading and trailing spaces and tabs removed. */
og_str_t auth_trim(og_str_t s);

/* Canonical URI of a raw request path for SigV4: decoded once, then every byte URI-encoded
 * except unreserved characters and '/'; an empty path becomes "/". 0, OG_EINVAL (bad
 * percent escape) or -ENOMEM (also left in b->err). */
int auth_put_canonical_uri(auth_buf_t *b, og_str_t path);
/* Canonical query string for SigV4: every parameter decoded ('+' is a space) and
 * re-encoded, "name=value" (value empty for a bare name), sorted by encoded name then value,
 * joined with '&'. A parameter named exclude (may be NULL) is left out. 0, OG_EINVAL or
 * -ENOMEM. */
int auth_put_canonical_query(auth_buf_t *b, og_str_t query, const char *exclude);

/* Parses "YYYYMMDD'T'HHMMSS'Z'" into Unix seconds. 0 or OG_EINVAL. */
int auth_parse_iso8601(og_str_t s, int64_t *out);
/* Parses an RFC 1123 HTTP date ("Tue, 27 Mar 2007 19:36:42 GMT"; the zone may also be
 * UTC, Z or +hhmm/-hhmm, the weekday is optional) into Unix seconds. 0 or OG_EINVAL. */
int auth_parse_http_date(og_str_t s, int64_t *out);
/* Formats Unix seconds as "YYYYMMDD'T'HHMMSS'Z'" (17 bytes with the NUL). */
void auth_format_iso8601(int64_t t, char out[17]);

/* A reference to one request header, with its position so that sorting by name keeps
 * headers of the same name in the order received. */
typedef struct {
    const og_header_t *h;
    size_t idx;
} auth_header_ref_t;
/* qsort comparator: ASCII case-insensitive name, then position. */
int auth_header_ref_cmp(const void *a, const void *b);
/* ASCII case-insensitive equality of two slices. */
int auth_str_ieq(og_str_t a, og_str_t b);

/* Calls lookup for key into secret (AUTH_SECRET_MAX bytes) and maps OG_ENOTFOUND to
 * AUTH_ENOKEY; other lookup errors pass through. A key longer than AUTH_KEY_MAX - 1 is
 * AUTH_ENOKEY without asking (no such key can exist in an auth_result_t). */
int auth_lookup_secret(auth_lookup_fn lookup, void *ctx, og_str_t key, char *secret);
/* Copies the access key into out->access_key (the caller checked its length). */
void auth_result_set_key(auth_result_t *out, og_str_t key);

/* The signing-key cache (auth_keycache.c). get: 1 with key when c holds a key for access key ak
 * and scope that was derived from a secret whose SHA-256 is secret_sha, else 0. put: stores key
 * (its signature verified) for them, evicting whatever held its slot. Names too long for a slot are
 * never cached. Thread-safe. */
int auth_keycache_get(auth_keycache_t *c, og_str_t ak, og_str_t scope, const uint8_t secret_sha[32], uint8_t key[32]);
void auth_keycache_put(auth_keycache_t *c, og_str_t ak, og_str_t scope, const uint8_t secret_sha[32],
                       const uint8_t key[32]);

/* The per-scheme verifiers; same contract as auth_verify for a request of that kind.
 * authz is the Authorization header value. */
int auth_sigv4_verify_header(const auth_request_t *req, og_str_t authz, auth_lookup_fn lookup, void *ctx,
                             auth_result_t *out);
int auth_sigv4_verify_query(const auth_request_t *req, auth_lookup_fn lookup, void *ctx, auth_result_t *out);
int auth_sigv2_verify_header(const auth_request_t *req, og_str_t authz, auth_lookup_fn lookup, void *ctx,
                             auth_result_t *out);
int auth_sigv2_verify_query(const auth_request_t *req, auth_lookup_fn lookup, void *ctx, auth_result_t *out);

#endif
