/*
 * auth_sigv2.c: AWS Signature Version 2 for S3 (HMAC-SHA1), the Authorization header form
 * ("AWS AKID:signature") and the query form (AWSAccessKeyId, Expires, Signature), as the
 * S3 "Signing and Authenticating REST Requests" page describes them.
 */
#include "auth_int.h"

#include <errno.h>
#include <openssl/crypto.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

/* Query parameters that name an S3 sub-resource and so are part of the canonical resource:
 * the documented list plus what botocore and s3cmd sign, so either client's signature
 * matches whatever it sends. */
static const char *const v2_subresources[] = {
    "accelerate",
    "acl",
    "analytics",
    "cors",
    "defaultObjectAcl",
    "delete",
    "inventory",
    "lifecycle",
    "location",
    "logging",
    "metrics",
    "notification",
    "object-lock",
    "partNumber",
    "policy",
    "replication",
    "requestPayment",
    "response-cache-control",
    "response-content-disposition",
    "response-content-encoding",
    "response-content-language",
    "response-content-type",
    "response-expires",
    "restore",
    "select",
    "select-type",
    "storageClass",
    "tagging",
    "torrent",
    "uploadId",
    "uploads",
    "versionId",
    "versioning",
    "versions",
    "website",
};

static int is_subresource(og_str_t name)
{
    for (size_t i = 0; i < sizeof(v2_subresources) / sizeof(v2_subresources[0]); i++)
        if (og_str_eq(name, v2_subresources[i]))
            return 1;
    return 0;
}

/* One sub-resource parameter: its raw name and raw value (has_value: an '=' was present). */
typedef struct {
    og_str_t name, value;
    int has_value;
} v2_subres_t;

static int subres_cmp(const void *pa, const void *pb)
{
    const v2_subres_t *a = pa, *b = pb;
    size_t n = a->name.len < b->name.len ? a->name.len : b->name.len;
    int c = memcmp(a->name.base, b->name.base, n);
    if (c)
        return c;
    if (a->name.len != b->name.len)
        return a->name.len < b->name.len ? -1 : 1;
    /* Same name: keep the order received (the base pointers follow the query). */
    return a->name.base < b->name.base ? -1 : a->name.base > b->name.base;
}

/* CanonicalizedResource: "/bucket" for a virtual-host request, the path as received (plus a
 * '/' when bucket_slash), then the sub-resources sorted by name with their values decoded
 * ("you do not encode these values"). 0, OG_EINVAL (bad escape) or -ENOMEM. */
static int put_canonical_resource(auth_buf_t *b, const auth_request_t *req, int bucket_slash)
{
    int rc = 0;
    size_t count = 1, used = 0;
    v2_subres_t *subs = NULL;
    char *tmp = NULL;

    if (req->host_bucket.len) {
        auth_buf_putc(b, '/');
        auth_buf_putstr(b, req->host_bucket);
    }
    if (req->path.len)
        auth_buf_putstr(b, req->path);
    else
        auth_buf_putc(b, '/');
    if (bucket_slash)
        auth_buf_putc(b, '/');
    if (req->query.len == 0)
        return b->err;

    for (size_t i = 0; i < req->query.len; i++)
        count += req->query.base[i] == '&';
    subs = calloc(count, sizeof(*subs));
    tmp = malloc(req->query.len);
    if (!subs || !tmp) {
        rc = -ENOMEM;
        goto out_free;
    }
    const char *p = req->query.base, *end = req->query.base + req->query.len;
    while (p < end) {
        const char *amp = memchr(p, '&', (size_t)(end - p));
        const char *stop = amp ? amp : end;
        const char *eq = memchr(p, '=', (size_t)(stop - p));
        og_str_t name = {p, (size_t)((eq ? eq : stop) - p)};
        if (is_subresource(name)) {
            v2_subres_t *s = &subs[used++];
            s->name = name;
            s->has_value = eq != NULL;
            if (eq)
                s->value = (og_str_t){eq + 1, (size_t)(stop - eq - 1)};
        }
        if (stop == end)
            break;
        p = stop + 1;
    }
    qsort(subs, used, sizeof(*subs), subres_cmp);
    for (size_t i = 0; i < used; i++) {
        auth_buf_putc(b, i ? '&' : '?');
        auth_buf_putstr(b, subs[i].name);
        if (!subs[i].has_value)
            continue;
        long n = og_urldecode(subs[i].value.base, subs[i].value.len, tmp, req->query.len, 0);
        if (n < 0) {
            rc = OG_EINVAL;
            goto out_free;
        }
        auth_buf_putc(b, '=');
        auth_buf_put(b, tmp, (size_t)n);
    }
    rc = b->err;
out_free:
    free(tmp);
    free(subs);
    return rc;
}

static int is_amz_header(og_str_t name)
{
    return name.len > 6 && strncasecmp(name.base, "x-amz-", 6) == 0;
}

/* CanonicalizedAmzHeaders: x-amz-* names lowercased and sorted, values trimmed, equal names
 * joined with ',', one "name:value\n" line each. 0 or -ENOMEM. */
static int put_amz_headers(auth_buf_t *b, const auth_request_t *req)
{
    size_t used = 0;
    auth_header_ref_t *refs = malloc((req->num_headers ? req->num_headers : 1) * sizeof(*refs));
    if (!refs)
        return -ENOMEM;
    for (size_t i = 0; i < req->num_headers; i++)
        if (is_amz_header(req->headers[i].name))
            refs[used++] = (auth_header_ref_t){&req->headers[i], i};
    qsort(refs, used, sizeof(*refs), auth_header_ref_cmp);
    for (size_t i = 0; i < used && !b->err; i++) {
        if (i && auth_str_ieq(refs[i].h->name, refs[i - 1].h->name)) {
            b->len--; /* continue the previous line: drop its '\n' */
            auth_buf_putc(b, ',');
        } else {
            auth_buf_put_lower(b, refs[i].h->name);
            auth_buf_putc(b, ':');
        }
        auth_buf_putstr(b, auth_trim(refs[i].h->value));
        auth_buf_putc(b, '\n');
    }
    free(refs);
    return b->err;
}

/* A path-style bucket request ("/bucket", no key): botocore's SigV2 signs it as "/bucket/"
 * while sending "/bucket", so both spellings of the resource are accepted for it. */
static int is_bare_bucket_path(const auth_request_t *req)
{
    return req->host_bucket.len == 0 && req->path.len > 1 && req->path.base[0] == '/' &&
           memchr(req->path.base + 1, '/', req->path.len - 1) == NULL;
}

static int verify_v2_once(const auth_request_t *req, og_str_t date_slot, og_str_t key, og_str_t sig,
                          auth_lookup_fn lookup, void *ctx, auth_result_t *out, int bucket_slash);

static int verify_v2(const auth_request_t *req, og_str_t date_slot, og_str_t key, og_str_t sig, auth_lookup_fn lookup,
                     void *ctx, auth_result_t *out)
{
    int rc = verify_v2_once(req, date_slot, key, sig, lookup, ctx, out, 0);
    if (rc == AUTH_ESIGNATURE && is_bare_bucket_path(req))
        rc = verify_v2_once(req, date_slot, key, sig, lookup, ctx, out, 1);
    return rc;
}

/* Builds the string to sign with date_slot in the Date position, signs it with the secret
 * of key, compares with the base64 signature sig and fills out. */
static int verify_v2_once(const auth_request_t *req, og_str_t date_slot, og_str_t key, og_str_t sig,
                          auth_lookup_fn lookup, void *ctx, auth_result_t *out, int bucket_slash)
{
    int rc;
    auth_buf_t sts = {0};
    char secret[AUTH_SECRET_MAX], mine[32];
    uint8_t mac[20];

    auth_buf_putstr(&sts, req->method);
    auth_buf_putc(&sts, '\n');
    auth_buf_putstr(&sts, auth_trim(og_header_find(req->headers, req->num_headers, "content-md5")));
    auth_buf_putc(&sts, '\n');
    auth_buf_putstr(&sts, auth_trim(og_header_find(req->headers, req->num_headers, "content-type")));
    auth_buf_putc(&sts, '\n');
    auth_buf_putstr(&sts, date_slot);
    auth_buf_putc(&sts, '\n');
    if ((rc = put_amz_headers(&sts, req)) != 0)
        goto out_free;
    if ((rc = put_canonical_resource(&sts, req, bucket_slash)) != 0) {
        if (rc == OG_EINVAL)
            rc = AUTH_ESIGNATURE;
        goto out_free;
    }
    if ((rc = auth_lookup_secret(lookup, ctx, key, secret)) != 0)
        goto out_cleanse;
    if ((rc = auth_hmac_sha1(secret, strlen(secret), sts.base, sts.len, mac)) != 0)
        goto out_cleanse;
    /* Cannot fail: mine holds the 28 characters of a 20-byte MAC. */
    long n = og_b64_encode(mac, sizeof(mac), mine, sizeof(mine), 0);
    if (n < 0 || sig.len != (size_t)n || !auth_ct_equal(mine, sig.base, (size_t)n)) {
        rc = AUTH_ESIGNATURE;
        goto out_cleanse;
    }
    auth_result_set_key(out, key);
out_cleanse:
    OPENSSL_cleanse(secret, sizeof(secret));
out_free:
    auth_buf_free(&sts);
    return rc;
}

int auth_sigv2_verify_header(const auth_request_t *req, og_str_t authz, auth_lookup_fn lookup, void *ctx,
                             auth_result_t *out)
{
    og_str_t rest = {authz.base + 4, authz.len - 4};
    const char *colon = rest.len ? memchr(rest.base, ':', rest.len) : NULL;

    out->kind = AUTH_V2_HEADER;
    out->payload = AUTH_PAYLOAD_NONE;
    if (!colon || colon == rest.base || colon == rest.base + rest.len - 1)
        return AUTH_EMALFORMED;
    og_str_t key = {rest.base, (size_t)(colon - rest.base)};
    og_str_t sig = {colon + 1, rest.len - key.len - 1};

    /* With x-amz-date the Date position is empty: x-amz-date is signed as an amz header. */
    og_str_t amz_date = auth_trim(og_header_find(req->headers, req->num_headers, "x-amz-date"));
    og_str_t date = amz_date.base ? amz_date : auth_trim(og_header_find(req->headers, req->num_headers, "date"));
    if (!date.base || (auth_parse_http_date(date, &out->request_time) && auth_parse_iso8601(date, &out->request_time)))
        return AUTH_ENODATE;
    if (out->request_time > req->now + AUTH_SKEW_SECONDS || out->request_time < req->now - AUTH_SKEW_SECONDS)
        return AUTH_ESKEW;
    return verify_v2(req, amz_date.base ? OG_STR_LIT("") : date, key, sig, lookup, ctx, out);
}

int auth_sigv2_verify_query(const auth_request_t *req, auth_lookup_fn lookup, void *ctx, auth_result_t *out)
{
    og_str_t raw_key, raw_expires, raw_sig;
    char key[AUTH_KEY_MAX], expires[24], sig[64];
    long klen, elen, slen;
    int64_t t = 0;

    out->kind = AUTH_V2_QUERY;
    out->payload = AUTH_PAYLOAD_NONE;
    if (!og_query_get(req->query, "AWSAccessKeyId", &raw_key) || !og_query_get(req->query, "Expires", &raw_expires) ||
        !og_query_get(req->query, "Signature", &raw_sig))
        return AUTH_EQUERYPARAMS;
    /* '+' stays '+': clients that do not escape it in the base64 signature mean the byte. */
    klen = og_urldecode(raw_key.base, raw_key.len, key, sizeof(key) - 1, 0);
    elen = og_urldecode(raw_expires.base, raw_expires.len, expires, sizeof(expires) - 1, 0);
    slen = og_urldecode(raw_sig.base, raw_sig.len, sig, sizeof(sig) - 1, 0);
    if (klen <= 0 || elen <= 0 || elen > 18 || slen <= 0)
        return AUTH_EQUERYPARAMS;
    for (long i = 0; i < elen; i++) {
        if (expires[i] < '0' || expires[i] > '9')
            return AUTH_EQUERYPARAMS;
        t = t * 10 + (expires[i] - '0');
    }
    /* The signed time of a V2 URL is its expiry. */
    out->request_time = t;
    if (req->now > t)
        return AUTH_EEXPIRED;
    return verify_v2(req, (og_str_t){expires, (size_t)elen}, (og_str_t){key, (size_t)klen},
                     (og_str_t){sig, (size_t)slen}, lookup, ctx, out);
}
