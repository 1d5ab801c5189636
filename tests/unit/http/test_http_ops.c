/* Unit tests for http/http_ops.c: which requests the operator endpoints take from S3 and Swift. */
#include <criterion/criterion.h>

#include "http/http.h"

static http_reqinfo_t info_of(const char *method, const char *target, const og_header_t *h, size_t nh)
{
    http_reqinfo_t i = {.method = og_str(method), .target = og_str(target), .headers = h, .num_headers = nh};
    const char *q = strchr(target, '?');
    i.path = (og_str_t){target, q ? (size_t)(q - target) : strlen(target)};
    i.query = q ? og_str(q + 1) : (og_str_t){target + strlen(target), 0};
    return i;
}

Test(http_ops, takes_only_anonymous_gets_of_the_exact_paths)
{
    http_ops_t ops = {.metrics_here = 1};
    og_header_t auth = {OG_STR_LIT("Authorization"), OG_STR_LIT("AWS4-HMAC-SHA256 Credential=...")};
    http_reqinfo_t i = info_of("GET", "/metrics", NULL, 0);
    cr_assert(http_ops_wants(&ops, &i));
    i = info_of("HEAD", "/health/ready", NULL, 0);
    cr_assert(http_ops_wants(&ops, &i));
    i = info_of("GET", "/health/live", NULL, 0);
    cr_assert(http_ops_wants(&ops, &i));
    /* S3's: signed, presigned or listing requests for buckets named so, and other methods */
    i = info_of("GET", "/metrics", &auth, 1);
    cr_assert(!http_ops_wants(&ops, &i));
    i = info_of("GET", "/metrics?list-type=2", NULL, 0);
    cr_assert(!http_ops_wants(&ops, &i));
    i = info_of("GET", "/health?X-Amz-Signature=x", NULL, 0);
    cr_assert(!http_ops_wants(&ops, &i));
    i = info_of("GET", "/metrics?", NULL, 0);
    cr_assert(!http_ops_wants(&ops, &i), "an empty query is a query");
    i = info_of("PUT", "/metrics", NULL, 0);
    cr_assert(!http_ops_wants(&ops, &i));
    i = info_of("GET", "/health/live/x", NULL, 0);
    cr_assert(!http_ops_wants(&ops, &i));
    i = info_of("GET", "/health", NULL, 0);
    cr_assert(!http_ops_wants(&ops, &i));
    /* with --metrics-listen, /metrics on the main port is S3's again; health stays */
    ops.metrics_here = 0;
    i = info_of("GET", "/metrics", NULL, 0);
    cr_assert(!http_ops_wants(&ops, &i));
    i = info_of("GET", "/health/live", NULL, 0);
    cr_assert(http_ops_wants(&ops, &i));
}

static int never_ready(void *ctx, og_buf_t *why)
{
    (void)ctx;
    og_buf_puts(why, "1 of 3 replicas");
    return 0;
}

Test(http_ops, answers_health_and_metrics)
{
    http_ops_t ops = {.ready = never_ready};
    og_buf_t b = {0};
    const char *ct;
    cr_assert_eq(http_ops_answer(&ops, "/health/live", 0, &b, &ct), 200);
    cr_assert_str_eq(b.buf, "ok\n");
    b.len = 0;
    cr_assert_eq(http_ops_answer(&ops, "/health/ready", 0, &b, &ct), 503);
    cr_assert_str_eq(b.buf, "not ready: 1 of 3 replicas\n");
    b.len = 0;
    cr_assert_eq(http_ops_answer(&ops, "/metrics", 0, &b, &ct), 404, "metrics not served here");
    b.len = 0;
    cr_assert_eq(http_ops_answer(&ops, "/metrics", 1, &b, &ct), 200);
    cr_assert_str_eq(ct, "text/plain; version=0.0.4; charset=utf-8");
    og_buf_free(&b);
}
