/* libFuzzer target: S3 request authentication (auth/): SigV4 and SigV2, header and presigned
 * forms, their canonical URI, query and headers, and the date parsers.
 *
 * Input: a request in fuzz.h's text form, verified at a fixed server time (2013-05-24T00:00:00Z,
 * the date of AWS's documented examples, so their requests are seeds) against one known key (the
 * AWS documentation's example key). Pseudo-headers: X-Fuzz-Host-Bucket stands for the bucket a
 * virtual-host Host names, X-Fuzz-Now (Unix seconds) moves the server time (SigV2's published
 * examples are from 2007). Properties checked besides the sanitizers:
 *  - auth_verify answers one of its documented codes and fills the key it verified;
 *  - the canonical URI and query strings are fixed points (canonicalising them again changes
 *    nothing), so what a client signs and what the server rebuilds cannot drift apart;
 *  - an ISO 8601 time that parses formats back to itself;
 *  - what auth_sigv4_sign signs, auth_verify accepts: an unsigned request with host, x-amz-date and
 *    x-amz-content-sha256 is signed over all its headers and must then verify;
 *  - what the request's headers say about its body (s3_body_conf_parse, given the verified
 *    signature as the S3 front end gives it): a streaming mode only with a SigV4 streaming
 *    signature, and every checksum declared or announced is also computed. */
#include "auth.h"
#include "auth_int.h"
#include "fuzz.h"
#include "s3/s3_body.h"

#define NOW 1369353600 /* 20130524T000000Z */
#define REGION "us-east-1"
#define ACCESS_KEY "AKIAIOSFODNN7EXAMPLE"
#define SECRET_KEY "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY"

static int lookup(void *ctx, og_str_t key, char *secret, size_t cap)
{
    if (!og_str_eq(key, ACCESS_KEY))
        return OG_ENOTFOUND;
    snprintf(secret, cap, "%s", SECRET_KEY);
    return 0;
}

static int known_code(int rc)
{
    return rc == 0 || rc == OG_ENOTFOUND || rc == -ENOMEM || (rc <= AUTH_EANONYMOUS && rc >= AUTH_EREGION);
}

/* canon(canon(x)) == canon(x) for the URI and the query. */
static void check_canonical(og_str_t path, og_str_t query)
{
    auth_buf_t a = {0}, b = {0};
    if (auth_put_canonical_uri(&a, path) == 0 && a.len > 0) {
        FUZZ_CHECK(auth_put_canonical_uri(&b, (og_str_t){a.base, a.len}) == 0);
        FUZZ_CHECK(a.len == b.len && memcmp(a.base, b.base, a.len) == 0);
    }
    auth_buf_free(&a);
    auth_buf_free(&b);
    if (auth_put_canonical_query(&a, query, NULL) == 0 && a.len > 0) {
        FUZZ_CHECK(auth_put_canonical_query(&b, (og_str_t){a.base, a.len}, NULL) == 0);
        FUZZ_CHECK(a.len == b.len && memcmp(a.base, b.base, a.len) == 0);
    }
    auth_buf_free(&a);
    auth_buf_free(&b);
}

static void check_dates(const fuzz_req_t *r)
{
    og_str_t v = auth_trim(og_header_find(r->hdrs, r->nhdrs, "x-amz-date"));
    int64_t t, again;
    char text[17];
    if (v.base != NULL && auth_parse_iso8601(v, &t) == 0 && t >= 0 && t < 253402300800LL) {
        auth_format_iso8601(t, text);
        FUZZ_CHECK(auth_parse_iso8601((og_str_t){text, 16}, &again) == 0 && again == t);
    }
    v = auth_trim(og_header_find(r->hdrs, r->nhdrs, "date"));
    if (v.base != NULL)
        (void)auth_parse_http_date(v, &t);
}

/* Header names auth_sigv4_sign can list in SignedHeaders: tokens without ';', ',', '=' or blanks. */
static int signable(const fuzz_req_t *r)
{
    if (r->nhdrs == 0 || r->nhdrs == FUZZ_MAX_HEADERS)
        return 0;
    for (size_t i = 0; i < r->nhdrs; i++) {
        og_str_t n = r->hdrs[i].name;
        if (n.len == 0 || og_str_ieq(n, "authorization"))
            return 0;
        for (size_t j = 0; j < n.len; j++) {
            char c = n.base[j];
            if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '-' || c == '_'))
                return 0;
        }
    }
    return og_header_find(r->hdrs, r->nhdrs, "host").base != NULL;
}

static void check_body_conf(const fuzz_req_t *r, int rc, const auth_result_t *res)
{
    s3_body_conf_t conf;
    const auth_result_t *auth = rc == 0 && (res->kind == AUTH_V4_HEADER || res->kind == AUTH_V4_QUERY) ? res : NULL;
    int crc = s3_body_conf_parse(r->hdrs, r->nhdrs, auth, &conf);
    FUZZ_CHECK(crc == 0 || crc == OG_EINVAL);
    if (crc != 0)
        return;
    FUZZ_CHECK(conf.mode == S3_BODY_PLAIN || (auth != NULL && auth->payload == AUTH_PAYLOAD_STREAMING));
    FUZZ_CHECK(((conf.expect | conf.trailer) & ~conf.compute) == 0 && conf.compute < (1u << S3_CK_COUNT));
}

/* Signs r as Onggi's own clients do and verifies the result. */
static void check_sign_verify(fuzz_req_t *r, og_str_t host_bucket)
{
    char authz[8192];
    auth_result_t res;
    int64_t t;
    og_str_t date = auth_trim(og_header_find(r->hdrs, r->nhdrs, "x-amz-date"));
    og_str_t sha = auth_trim(og_header_find(r->hdrs, r->nhdrs, "x-amz-content-sha256"));
    if (!signable(r) || date.base == NULL || sha.base == NULL || auth_parse_iso8601(date, &t) != 0)
        return;
    if (auth_sigv4_sign(r->method, r->path, r->query, r->hdrs, r->nhdrs, sha, ACCESS_KEY, SECRET_KEY, REGION, authz,
                        sizeof(authz)) != 0)
        return;
    r->hdrs[r->nhdrs++] = (og_header_t){OG_STR_LIT("Authorization"), og_str(authz)};
    auth_request_t req = {r->method, r->path, r->query, host_bucket, r->hdrs, r->nhdrs, t, REGION, NULL};
    int rc = auth_verify(&req, lookup, NULL, &res);
    /* a request the verifier refuses for what it is (not for its signature) was not one to sign */
    if (rc == AUTH_EBADSHA || rc == AUTH_EUNSUPPORTED || rc == AUTH_EMALFORMED)
        return;
    if (rc != 0)
        fprintf(stderr, "signed request refused: %d\nAuthorization: %s\n", rc, authz);
    FUZZ_CHECK(rc == 0 && strcmp(res.access_key, ACCESS_KEY) == 0 && res.kind == AUTH_V4_HEADER);
    check_body_conf(r, rc, &res);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    fuzz_req_t r;
    auth_result_t res;
    int status;
    const char *code, *msg;

    fuzz_req_parse(data, size, &r);
    og_str_t host_bucket = og_header_find(r.hdrs, r.nhdrs, "x-fuzz-host-bucket");
    if (host_bucket.base == NULL)
        host_bucket = (og_str_t){"", 0};
    uint64_t now = NOW;
    og_str_t now_h = og_header_find(r.hdrs, r.nhdrs, "x-fuzz-now");
    if (now_h.base != NULL && og_parse_dec(now_h, 11, &now) != 0)
        now = NOW;
    auth_request_t req = {r.method, r.path, r.query, host_bucket, r.hdrs, r.nhdrs, (int64_t)now, REGION, NULL};
    int rc = auth_verify(&req, lookup, NULL, &res);
    FUZZ_CHECK(known_code(rc));
    if (rc == 0)
        FUZZ_CHECK(strcmp(res.access_key, ACCESS_KEY) == 0);
    auth_error_info(rc, &status, &code, &msg);
    FUZZ_CHECK(status >= 400 && code != NULL && msg != NULL);

    check_body_conf(&r, rc, &res);
    check_canonical(r.path, r.query);
    check_dates(&r);
    check_sign_verify(&r, host_bucket);
    return 0;
}
