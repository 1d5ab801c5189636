/*
 * auth.h: S3 request authentication (AWS Signature V4 and V2, header and presigned/query
 * forms) and SigV4 signing for Onggi's own clients (bench, tests).
 *
 * No I/O, no globals: the one state, the SigV4 signing-key cache, is a context the caller creates
 * and names in each request (auth_keycache_new). The caller supplies the request as received and a
 * callback that turns an access key into its secret. Comparisons of signatures are
 * constant-time. The payload itself is not read here: auth_verify says how the body must be
 * checked (auth_result_t.payload) and the gateway checks it while streaming.
 */
#ifndef AUTH_H
#define AUTH_H

#include "og.h"

#define AUTH_KEY_MAX 128
#define AUTH_SKEW_SECONDS (15 * 60)
#define AUTH_PRESIGN_MAX_SECONDS (7 * 24 * 3600)
#define AUTH_SCOPE_MAX 128 /* a SigV4 credential scope with its NUL */

/* Error codes; auth_error_info() maps each to the S3 error code and HTTP status. */
enum {
    AUTH_EANONYMOUS = -10200,   /* no credentials at all in the request */
    AUTH_ENOKEY = -10201,       /* InvalidAccessKeyId (403) */
    AUTH_ESIGNATURE = -10202,   /* SignatureDoesNotMatch (403) */
    AUTH_ESKEW = -10203,        /* RequestTimeTooSkewed (403) */
    AUTH_EEXPIRED = -10204,     /* AccessDenied "Request has expired" (403) */
    AUTH_EMALFORMED = -10205,   /* AuthorizationHeaderMalformed (400) */
    AUTH_EQUERYPARAMS = -10206, /* AuthorizationQueryParametersError (400) */
    AUTH_ENODATE = -10207,      /* AccessDenied: missing x-amz-date / Date (403) */
    AUTH_EBADSHA = -10208,      /* x-amz-content-sha256 is neither a hash nor a known mode: InvalidArgument (400) */
    AUTH_EUNSUPPORTED = -10209, /* e.g. an algorithm other than AWS4-HMAC-SHA256: InvalidArgument (400) */
    AUTH_EREGION = -10210       /* SigV4 scope of another region than the server's (400 AuthorizationHeaderMalformed,
                                   or AuthorizationQueryParametersError for a presigned URL, with the region expected) */
};

typedef enum {
    AUTH_PAYLOAD_NONE = 0,  /* no signed statement about the body (V2, presigned, UNSIGNED-PAYLOAD) */
    AUTH_PAYLOAD_SHA256,    /* body must hash to result.payload_sha256, else XAmzContentSHA256Mismatch */
    AUTH_PAYLOAD_STREAMING  /* STREAMING-* aws-chunked body (large-object issue); seed in result */
} auth_payload_t;

/* SigV4 signing keys kept between requests (auth_keycache.c): an opaque, thread-safe, bounded
 * table a process creates once and names in every auth_request_t. */
typedef struct st_auth_keycache_t auth_keycache_t;

typedef enum { AUTH_V4_HEADER = 1, AUTH_V4_QUERY, AUTH_V2_HEADER, AUTH_V2_QUERY } auth_kind_t;

typedef struct {
    og_str_t method;
    og_str_t path;        /* raw request path as received, percent-encoded, without the query */
    og_str_t query;       /* raw query string without '?' (may be empty) */
    og_str_t host_bucket; /* bucket taken from the Host header (virtual-host style), else empty;
                             V2 puts it in front of the path in the string to sign */
    const og_header_t *headers;
    size_t num_headers;
    int64_t now;          /* server time, Unix seconds */
    const char *region;   /* the server's region: a SigV4 scope naming another is AUTH_EREGION; NULL: any */
    auth_keycache_t *keys; /* SigV4 signing keys derived before (served only for the same secret), or
                              NULL: derive one per request */
} auth_request_t;

typedef struct {
    auth_kind_t kind;
    char access_key[AUTH_KEY_MAX];
    auth_payload_t payload;
    uint8_t payload_sha256[32];
    int64_t request_time;      /* the signed time (for RequestTimeTooSkewed bodies) */
    /* SigV4 only, for aws-chunked streaming verification (large-object issue): */
    uint8_t signing_key[32];
    char seed_signature[65];
    char scope[AUTH_SCOPE_MAX]; /* "20130524/us-east-1/s3/aws4_request" */
    char amz_date[17];         /* "20130524T000000Z" */
    char region[64];           /* the scope's region (set also with AUTH_EREGION, for its message) */
} auth_result_t;

/* Looks up the secret for an access key: writes it NUL-terminated into secret (cap bytes)
 * and returns 0, or OG_ENOTFOUND, or another negative code on a lookup failure. */
typedef int (*auth_lookup_fn)(void *ctx, og_str_t access_key, char *secret, size_t cap);

/* Verifies a request's signature. 0 and *out filled; AUTH_EANONYMOUS when the request carries
 * no credentials (the caller decides whether anonymous access is allowed); another AUTH_E*
 * on failure (out->request_time is still set for AUTH_ESKEW); a lookup error as returned. */
int auth_verify(const auth_request_t *req, auth_lookup_fn lookup, void *ctx, auth_result_t *out);

/* A signing-key cache of slots entries (at most that many keys are kept; about 330 bytes each):
 * 0 and *out (release with auth_keycache_free, which wipes the keys), or -ENOMEM. Keys are
 * looked up by access key and scope and served only to a request whose looked-up secret is the
 * one the key was derived from, so a re-keyed or deleted user is never verified with an old key. */
int auth_keycache_new(size_t slots, auth_keycache_t **out);
void auth_keycache_free(auth_keycache_t *c);

/* S3 error code ("SignatureDoesNotMatch"), HTTP status and a message for an AUTH_E* code. */
void auth_error_info(int rc, int *http_status, const char **s3_code, const char **message);

/* Signs a request with SigV4 for Onggi's own clients. headers must include host and
 * x-amz-date (YYYYMMDD'T'HHMMSS'Z') and x-amz-content-sha256; all given headers are signed.
 * Writes the complete Authorization header value into out (cap bytes). 0 or OG_ETOOBIG. */
int auth_sigv4_sign(og_str_t method, og_str_t path, og_str_t query, const og_header_t *headers, size_t n,
                    og_str_t payload_sha256_hex, const char *access_key, const char *secret, const char *region,
                    char *out, size_t cap);

/* aws-chunked streaming uploads (auth_result_t.payload == AUTH_PAYLOAD_STREAMING). The gateway
 * hashes each chunk's bytes while streaming them and asks for the signature that chunk must
 * carry: HMAC-SHA256(signing_key, "AWS4-HMAC-SHA256-PAYLOAD\n" amz_date "\n" scope "\n" prev_sig
 * "\n" hex(sha256("")) "\n" hex(chunk_sha256)) as lowercase hex into out (65 bytes). prev_sig is
 * the seed signature for the first chunk, then the previous chunk's signature. signing_key,
 * amz_date and scope come from the request's auth_result_t. 0, or OG_EINVAL (strings too long or
 * OpenSSL refused). Compare with auth_ct_equal. */
int auth_chunk_sign(const uint8_t signing_key[32], const char *amz_date, const char *scope, const char *prev_sig,
                    const uint8_t chunk_sha256[32], char out[65]);
/* The trailer's signature (STREAMING-AWS4-HMAC-SHA256-PAYLOAD-TRAILER): the same over
 * "AWS4-HMAC-SHA256-TRAILER\n" amz_date "\n" scope "\n" prev_sig "\n" hex(trailer_sha256), where
 * prev_sig is the final (empty) chunk's signature and trailer_sha256 the SHA-256 of the trailing
 * headers other than x-amz-trailer-signature, each as "name:value\n". 0 or OG_EINVAL. */
int auth_trailer_sign(const uint8_t signing_key[32], const char *amz_date, const char *scope, const char *prev_sig,
                      const uint8_t trailer_sha256[32], char out[65]);

/* Constant-time equality of two byte strings of the same length (0 otherwise). */
int auth_ct_equal(const void *a, const void *b, size_t len);

#endif
