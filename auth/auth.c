/*
 * auth.c: picks the signature scheme a request uses and maps AUTH_E* codes to S3 errors.
 */
#include "auth_int.h"

#include <openssl/crypto.h>
#include <string.h>

static int has_prefix(og_str_t s, const char *prefix)
{
    size_t n = strlen(prefix);
    return s.len >= n && memcmp(s.base, prefix, n) == 0;
}

int auth_verify(const auth_request_t *req, auth_lookup_fn lookup, void *ctx, auth_result_t *out)
{
    memset(out, 0, sizeof(*out));
    og_str_t authz = og_header_find(req->headers, req->num_headers, "authorization");
    int v4_query = og_query_get(req->query, "X-Amz-Algorithm", NULL) ||
                   og_query_get(req->query, "X-Amz-Credential", NULL) ||
                   og_query_get(req->query, "X-Amz-Signature", NULL);
    int v2_query = og_query_get(req->query, "AWSAccessKeyId", NULL) || og_query_get(req->query, "Signature", NULL);

    if (authz.base) {
        /* S3 refuses a request that carries two signatures rather than guess which one counts. */
        if (v4_query || v2_query)
            return AUTH_EUNSUPPORTED;
        authz = auth_trim(authz);
        if (has_prefix(authz, "AWS4-HMAC-SHA256 "))
            return auth_sigv4_verify_header(req, authz, lookup, ctx, out);
        if (has_prefix(authz, "AWS "))
            return auth_sigv2_verify_header(req, authz, lookup, ctx, out);
        return AUTH_EUNSUPPORTED;
    }
    if (v4_query)
        return auth_sigv4_verify_query(req, lookup, ctx, out);
    if (v2_query)
        return auth_sigv2_verify_query(req, lookup, ctx, out);
    return AUTH_EANONYMOUS;
}

void auth_error_info(int rc, int *http_status, const char **s3_code, const char **message)
{
    int status = 403;
    const char *code = "AccessDenied", *msg = "Access Denied";
    switch (rc) {
    case AUTH_EANONYMOUS:
        break;
    case AUTH_ENOKEY:
        code = "InvalidAccessKeyId";
        msg = "The AWS Access Key Id you provided does not exist in our records.";
        break;
    case AUTH_ESIGNATURE:
        code = "SignatureDoesNotMatch";
        msg = "The request signature we calculated does not match the signature you provided. "
              "Check your key and signing method.";
        break;
    case AUTH_ESKEW:
        code = "RequestTimeTooSkewed";
        msg = "The difference between the request time and the current time is too large.";
        break;
    case AUTH_EEXPIRED:
        msg = "Request has expired";
        break;
    case AUTH_EMALFORMED:
        status = 400;
        code = "AuthorizationHeaderMalformed";
        msg = "The authorization header is malformed.";
        break;
    case AUTH_EQUERYPARAMS:
        status = 400;
        code = "AuthorizationQueryParametersError";
        msg = "Query-string authentication parameters are missing or invalid "
              "(X-Amz-Expires must be between 1 and 604800 seconds).";
        break;
    case AUTH_ENODATE:
        msg = "AWS authentication requires a valid Date or x-amz-date header";
        break;
    case AUTH_EBADSHA:
        /* Also used when SigV4 header auth lacks x-amz-content-sha256, which AWS answers
         * with 400 InvalidRequest "Missing required header for this request:
         * x-amz-content-sha256"; one code keeps auth.h unchanged and the status is the same. */
        status = 400;
        code = "InvalidArgument";
        msg = "x-amz-content-sha256 must be present and be UNSIGNED-PAYLOAD, a STREAMING-* mode, "
              "or a valid sha256 value.";
        break;
    case AUTH_EREGION:
        status = 400;
        code = "AuthorizationHeaderMalformed";
        msg = "The authorization header is malformed; the region is wrong.";
        break;
    case AUTH_EUNSUPPORTED:
        status = 400;
        code = "InvalidArgument";
        msg = "Unsupported Authorization Type; only AWS4-HMAC-SHA256 and AWS (v2) signatures, "
              "one per request, are accepted.";
        break;
    default:
        status = 500;
        code = "InternalError";
        msg = "We encountered an internal error. Please try again.";
        break;
    }
    if (http_status)
        *http_status = status;
    if (s3_code)
        *s3_code = code;
    if (message)
        *message = msg;
}

int auth_ct_equal(const void *a, const void *b, size_t len)
{
    return CRYPTO_memcmp(a, b, len) == 0;
}
