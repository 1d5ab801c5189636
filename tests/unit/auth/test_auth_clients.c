/*
 * test_auth_clients.c: requests signed by the real clients we must serve, captured once
 * (botocore 1.29.27 S3SigV4Auth / S3SigV4QueryAuth / HmacV1Auth and s3cmd 2.3.0
 * sign_request_v2, Debian 12 packages, AWS example key) and replayed through auth_verify at
 * the time they were signed. They pin what the AWS examples do not exercise: escaped
 * reserved characters in keys, '+' in keys, whitespace in header values, ports in Host,
 * response-* overrides with spaces, sub-resources in V2, and V2 with x-amz-date.
 */
#include "auth.h"

#include <criterion/criterion.h>
#include <stdio.h>

#define AKID "AKIAIOSFODNN7EXAMPLE"
#define SECRET "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY"
#define HDR(n, v)                                                                                                      \
    {                                                                                                                  \
        OG_STR_LIT(n), OG_STR_LIT(v)                                                                                   \
    }
#define NHDR(a) (sizeof(a) / sizeof((a)[0]))
#define T_BOTO 1795295383  /* 20261121T210943Z */
#define T_S3CMD 1795295385 /* Sat, 21 Nov 2026 21:09:45 +0000 */

static int lookup(void *ctx, og_str_t key, char *secret, size_t cap)
{
    if (!og_str_eq(key, AKID))
        return OG_ENOTFOUND;
    snprintf(secret, cap, "%s", SECRET);
    return 0;
}

static int verify(const char *method, const char *path, const char *query, const char *bucket, const og_header_t *h,
                  size_t n, int64_t now, auth_result_t *r)
{
    auth_request_t req = {og_str(method), og_str(path), og_str(query), og_str(bucket), h, n, now, NULL, NULL};
    return auth_verify(&req, lookup, NULL, r);
}

Test(auth_clients, botocore_v4_header_escaped_key_and_upload_part)
{
    og_header_t h[] = {
        HDR("Host", "bucket.localhost:8080"),
        HDR("Content-Type", "text/plain"),
        HDR("x-amz-meta-Note", "  a   b "),
        HDR("X-Amz-Date", "20261121T210943Z"),
        HDR("X-Amz-Content-SHA256", "5891b5b522d5df086d0ff0b110fbd9d21bb4fc7163af34d08286a2e846f6be03"),
        HDR("Authorization", "AWS4-HMAC-SHA256 Credential=AKIAIOSFODNN7EXAMPLE/20261121/us-east-1/s3/aws4_request, "
                             "SignedHeaders=content-type;host;x-amz-content-sha256;x-amz-date;x-amz-meta-note, "
                             "Signature=7570c53baadf0da291696c7883cbf66760cbccdf29578c652c0304615642ac37"),
    };
    auth_result_t r;
    cr_assert_eq(verify("PUT", "/dir/a%20b%2Bc/%E2%82%AC.txt", "partNumber=2&uploadId=abc~XYZ", "bucket", h, NHDR(h),
                        T_BOTO, &r),
                 0);
    cr_assert_eq(r.payload, AUTH_PAYLOAD_SHA256);
}

Test(auth_clients, botocore_v4_presigned_with_response_override)
{
    og_header_t h[] = {HDR("Host", "localhost:8080")};
    auth_result_t r;
    const char *q = "response-content-disposition=attachment%3B%20filename%3D%22x%20y.txt%22&X-Amz-Algorithm=AWS4-"
                    "HMAC-SHA256&X-Amz-Credential=AKIAIOSFODNN7EXAMPLE%2F20261121%2Fus-east-1%2Fs3%2Faws4_request&X-"
                    "Amz-Date=20261121T210943Z&X-Amz-Expires=3600&X-Amz-SignedHeaders=host&X-Amz-Signature="
                    "4a1457554a6d5399d443c4fac034b1bf018eff3703cae4a8b848ea29b0d4f429";
    cr_assert_eq(verify("GET", "/bucket/my%20key%2B1.txt", q, "", h, NHDR(h), T_BOTO + 3600, &r), 0);
    cr_assert_eq(verify("GET", "/bucket/my%20key%2B1.txt", q, "", h, NHDR(h), T_BOTO + 3601, &r), AUTH_EEXPIRED);
}

Test(auth_clients, botocore_v2_with_subresources)
{
    og_header_t h[] = {
        HDR("Host", "localhost:8080"),
        HDR("Content-Type", "application/octet-stream"),
        HDR("x-amz-meta-a", "1"),
        HDR("Date", "Sat, 21 Nov 2026 21:09:43 GMT"),
        HDR("Authorization", "AWS AKIAIOSFODNN7EXAMPLE:CgxRpu+vOUlYLhWTHPXXPP61wSU="),
    };
    auth_result_t r;
    cr_assert_eq(verify("PUT", "/bucket/k%20x", "partNumber=1&uploadId=u-1", "", h, NHDR(h), T_BOTO, &r), 0);
    /* The sub-resources are signed: another part number does not verify. */
    cr_assert_eq(verify("PUT", "/bucket/k%20x", "partNumber=2&uploadId=u-1", "", h, NHDR(h), T_BOTO, &r),
                 AUTH_ESIGNATURE);
}

Test(auth_clients, s3cmd_v2_with_x_amz_date)
{
    og_header_t h[] = {
        HDR("Host", "localhost:8080"),
        HDR("x-amz-date", "Sat, 21 Nov 2026 21:09:45 +0000"),
        HDR("content-type", "text/plain"),
        HDR("x-amz-meta-s3cmd-attrs", "uid:0/gname:root"),
        HDR("Authorization", "AWS AKIAIOSFODNN7EXAMPLE:6ho5HxBfeoj4076Jn8A+he4NWk0="),
    };
    auth_result_t r;
    cr_assert_eq(verify("PUT", "/bucket/dir/a%20b.txt", "uploadId=u-1&partNumber=3", "", h, NHDR(h), T_S3CMD, &r), 0);
    cr_assert_eq(r.kind, AUTH_V2_HEADER);
    cr_assert_eq(r.request_time, T_S3CMD);
}

Test(auth_clients, s3cmd_v4_header_bare_subresource)
{
    og_header_t h[] = {
        HDR("Host", "localhost:8080"),
        HDR("content-type", "text/plain"),
        HDR("x-amz-meta-s3cmd-attrs", "uid:0/gname:root"),
        HDR("x-amz-date", "20261121T210958Z"),
        HDR("x-amz-content-sha256", "8f434346648f6b96df89dda901c5176b10a6d83961dd3c1ac88b59b2dc327aa4"),
        HDR("Authorization", "AWS4-HMAC-SHA256 Credential=AKIAIOSFODNN7EXAMPLE/20261121/us-east-1/s3/aws4_request,"
                             "SignedHeaders=content-type;host;x-amz-content-sha256;x-amz-date;x-amz-meta-s3cmd-attrs,"
                             "Signature=71735ce6b630919b0ab6b34665ef6bdbdcf68e82b3a953085e0277990cfe0237"),
    };
    auth_result_t r;
    /* s3cmd sends the bare "uploads" and signs it as "uploads=". */
    cr_assert_eq(verify("PUT", "/bucket/dir/a%20b%2Bc.txt", "prefix=x%20y&uploads", "", h, NHDR(h), 1795295398, &r), 0);
}
