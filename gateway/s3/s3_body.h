/*
 * s3/s3_body.h: request body sources for object data (PutObject, UploadPart): the body as the
 * client meant it, checked while it streams.
 *
 * A s3_body_t wraps the raw HTTP body (already de-chunked by http/) and is itself a
 * core_obj_src_t for core_obj_write(), so the bytes are decoded, verified and hashed in one pass
 * with bounded memory (one 64 KiB framing buffer, whatever the body size):
 *  - Content-Encoding aws-chunked (x-amz-content-sha256 STREAMING-AWS4-HMAC-SHA256-PAYLOAD,
 *    STREAMING-AWS4-HMAC-SHA256-PAYLOAD-TRAILER, STREAMING-UNSIGNED-PAYLOAD-TRAILER): strips the
 *    framing, verifies each chunk's signature against the chain that starts at the request's
 *    seed signature, reads the trailing headers (x-amz-checksum-*, x-amz-trailer-signature),
 *    verifies the trailer's signature and x-amz-decoded-content-length;
 *  - a checksum tap: computes every x-amz-checksum-* the request declares (as a header with a
 *    value, in x-amz-trailer, or via x-amz-sdk-checksum-algorithm) over the decoded bytes.
 * Every check runs before the source reports the end of the body: a failed check is the
 * source's error, so core_obj_write() returns it and the caller commits nothing.
 *
 * Source errors (then sticky): AUTH_ESIGNATURE (a chunk or trailer signature is wrong or
 * missing), HTTP_EBODY (malformed framing, bytes after the end), OG_EPROTO (decoded length differs
 * from x-amz-decoded-content-length), OG_EBADDIGEST (a checksum differs from the one declared),
 * OG_EINVAL (an announced trailer checksum never came or is not base64 of the right size),
 * -ENOMEM, or the raw source's own error (HTTP_EABORTED ...). s3_error_on(r, rc, S3_ON_BODY)
 * answers any of them.
 */
#ifndef S3_BODY_H
#define S3_BODY_H

#include "auth.h"
#include "s3_checksum.h"
#include "core/core.h"
#include "s3_int.h"

typedef enum {
    S3_BODY_PLAIN = 0,          /* the body is the object's bytes */
    S3_BODY_SIGNED,             /* STREAMING-AWS4-HMAC-SHA256-PAYLOAD */
    S3_BODY_SIGNED_TRAILER,     /* STREAMING-AWS4-HMAC-SHA256-PAYLOAD-TRAILER */
    S3_BODY_UNSIGNED_TRAILER    /* STREAMING-UNSIGNED-PAYLOAD-TRAILER */
} s3_body_mode_t;

/* What a request says about its body. Plain data (copied by s3_body_new). */
typedef struct {
    s3_body_mode_t mode;
    int64_t decoded_length;   /* x-amz-decoded-content-length, -1 when absent */
    uint32_t compute;         /* bit (1u << alg) per checksum to compute */
    uint32_t expect;          /* bit per checksum whose value came in a header (in expected[]) */
    uint32_t trailer;         /* bit per checksum x-amz-trailer announces */
    uint8_t expected[S3_CK_COUNT][S3_CK_MAX_DIGEST];
    /* signed modes: the chain's start, from auth_result_t */
    uint8_t signing_key[32];
    char seed_signature[65];
    char scope[128];
    char amz_date[17];
} s3_body_conf_t;

/* Fills *out from the request headers and its verified signature (auth NULL for a request
 * without SigV4). 0, or OG_EINVAL: an x-amz-checksum-* value that is not base64 of its size,
 * more than one checksum value, an unknown algorithm in x-amz-sdk-checksum-algorithm or
 * x-amz-trailer, a trailer without aws-chunked, a streaming mode without a SigV4 signature
 * (signed modes), or an unparsable x-amz-decoded-content-length. */
int s3_body_conf_parse(const og_header_t *hdrs, size_t n, const auth_result_t *auth, s3_body_conf_t *out);

typedef struct st_s3_body_t s3_body_t;

/* A body source decoding `raw` as conf says. 0 and *out (release with s3_body_free), -ENOMEM. */
int s3_body_new(const s3_body_conf_t *conf, core_obj_src_t raw, s3_body_t **out);
/* The decoded body, for core_obj_write (valid while b lives). */
core_obj_src_t s3_body_src(s3_body_t *b);
/* Decoded bytes so far. */
uint64_t s3_body_count(const s3_body_t *b);

/* The checksums computed over the body (bit (1u << alg) in have for each). */
typedef struct {
    uint32_t have;
    uint8_t value[S3_CK_COUNT][S3_CK_MAX_DIGEST];
} s3_body_sums_t;

/* After the source reported the end (read returned 0): every check passed; *out gets the
 * checksums to store. 0, or the source's sticky error, or OG_EINVAL when called before the end. */
int s3_body_finish(s3_body_t *b, s3_body_sums_t *out);
void s3_body_free(s3_body_t *b);

/* ---- S3 glue ---- */

/* The body source for an S3 request that carries object data (PUT, UploadPart): parses the
 * headers (s3_body_conf_parse) and reads the body with http_req_read. 0 and *out, plus
 * *expect_size: the decoded size the body must have (x-amz-decoded-content-length for
 * aws-chunked, else Content-Length; -1 when unknown) for core_obj_put_opts_t.expect_size.
 * extra_compute adds checksums to compute (bit (1u << alg)) beyond those the request declares
 * (UploadPart of an upload created with x-amz-checksum-algorithm). S3_EBODYCONF for headers
 * that do not make a body, or -ENOMEM; answer either with S3_ON_BODY. */
int s3_body_open(s3_req_t *r, s3_body_t **out, int64_t *expect_size, uint32_t extra_compute);
/* The stored-header form of the checksums: for each alg in s->have, {"x-amz-checksum-<alg>",
 * base64} into out[] with the values written to vals[]. Returns the count (<= S3_CK_COUNT). */
size_t s3_body_sums_headers(const s3_body_sums_t *s, og_header_t out[S3_CK_COUNT],
                            char vals[S3_CK_COUNT][S3_CK_B64_MAX]);
/* The Content-Encoding to store for a request: its value without the "aws-chunked" token
 * (S3 does not keep it); an empty slice when nothing else remains. The result points into v
 * when it is a prefix or suffix of it, else into buf (cap bytes). */
og_str_t s3_body_stored_encoding(og_str_t v, char *buf, size_t cap);

#endif
