/* The access log's redaction of secret-bearing query parameters (gateway/http/http_util.c). */
#include <criterion/criterion.h>
#include <string.h>

#include "http/http.h"

/* what, redacted, as a NUL-terminated string (static buffer, one call at a time). */
static const char *redact(const char *what)
{
    static char out[1024];
    og_buf_t b = {0};
    cr_assert_eq(http_log_redact(og_str(what), &b), 0);
    cr_assert(b.len < sizeof(out));
    memcpy(out, b.buf, b.len);
    out[b.len] = '\0';
    og_buf_free(&b);
    return out;
}

Test(log_redact, presigned_sigv4_keeps_the_key_id)
{
    cr_assert_str_eq(redact("/b/k?X-Amz-Algorithm=AWS4-HMAC-SHA256&X-Amz-Credential=AKID%2F20260101%2Fus-east-1%2Fs3"
                            "%2Faws4_request&X-Amz-Date=20260101T000000Z&X-Amz-Expires=60&X-Amz-SignedHeaders=host"
                            "&X-Amz-Signature=0123abcd&X-Amz-Security-Token=tok%2Bx"),
                     "/b/k?X-Amz-Algorithm=AWS4-HMAC-SHA256&X-Amz-Credential=AKID%2F20260101%2Fus-east-1%2Fs3"
                     "%2Faws4_request&X-Amz-Date=20260101T000000Z&X-Amz-Expires=60&X-Amz-SignedHeaders=host"
                     "&X-Amz-Signature=REDACTED&X-Amz-Security-Token=REDACTED");
}

Test(log_redact, sigv2_swift_and_odd_spellings)
{
    cr_assert_str_eq(redact("/b/k?AWSAccessKeyId=AKID&Expires=99&Signature=abc%2Bdef%3D"),
                     "/b/k?AWSAccessKeyId=AKID&Expires=99&Signature=REDACTED");
    cr_assert_str_eq(redact("/v1/AUTH_a/c/o?temp_url_sig=ff00&temp_url_expires=1"),
                     "/v1/AUTH_a/c/o?temp_url_sig=REDACTED&temp_url_expires=1");
    /* Names are compared percent-decoded and case-insensitively; a value with '=' is cut whole. */
    cr_assert_str_eq(redact("/k?x-amz-signature=a&X%2DAmz-Signature=b=c&signature=&uploads"),
                     "/k?x-amz-signature=REDACTED&X%2DAmz-Signature=REDACTED&signature=REDACTED&uploads");
    /* A name that does not decode hides its value too. */
    cr_assert_str_eq(redact("/k?Sig%zz=secret&a=1"), "/k?Sig%zz=REDACTED&a=1");
}

Test(log_redact, nothing_to_redact)
{
    cr_assert_str_eq(redact("/b/k"), "/b/k");
    cr_assert_str_eq(redact("/b?list-type=2&prefix=Signature"), "/b?list-type=2&prefix=Signature");
    cr_assert_str_eq(redact("/b?"), "/b?");
    cr_assert_str_eq(redact("/b?&&a=1&"), "/b?&&a=1&");
    cr_assert_str_eq(redact("/v1/AUTH_a/c/Signature=x"), "/v1/AUTH_a/c/Signature=x");
}
