/*
 * auth_sigv4.c: AWS Signature Version 4 for S3: the Authorization header form, presigned
 * URLs, and signing for Onggi's own clients. All three build the canonical request with
 * the same code, so what we sign is exactly what we verify.
 */
#include "auth_int.h"

#include <errno.h>
#include <openssl/crypto.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define V4_ALGORITHM "AWS4-HMAC-SHA256"
#define V4_TERMINATOR "aws4_request"
#define V4_SERVICE "s3"
/* Longest decoded X-Amz-Credential / X-Amz-SignedHeaders we accept in a presigned URL. */
#define V4_CRED_MAX 512
#define V4_SIGNED_HEADERS_MAX 4096

/* What a SigV4 request states about itself, as slices into the request or caller buffers. */
typedef struct {
    og_str_t access_key, date, region, service; /* the parts of Credential */
    og_str_t signed_headers;                    /* "host;range;x-amz-date" */
    og_str_t signature;                         /* 64 hex digits */
    og_str_t payload_hash;                      /* the last line of the canonical request */
    const char *exclude_param;                  /* query parameter not signed (X-Amz-Signature) */
    int malformed;                              /* the code for a malformed request of this form */
    int64_t time;                               /* the signed time */
    char amz_date[17];                          /* it, formatted */
} v4_parts_t;

/* Splits "AKID/20130524/us-east-1/s3/aws4_request" from the right, so the access key is
 * whatever precedes the last four parts. */
static int parse_credential(og_str_t cred, v4_parts_t *p)
{
    og_str_t part[4];
    size_t end = cred.len;
    for (int i = 3; i >= 0; i--) {
        size_t slash = end;
        while (slash > 0 && cred.base[slash - 1] != '/')
            slash--;
        if (slash == 0)
            return p->malformed;
        part[i] = (og_str_t){cred.base + slash, end - slash};
        end = slash - 1;
    }
    p->access_key = (og_str_t){cred.base, end};
    p->date = part[0];
    p->region = part[1];
    p->service = part[2];
    if (p->access_key.len == 0 || p->date.len != 8 || p->region.len == 0 || !og_str_eq(p->service, V4_SERVICE) ||
        !og_str_eq(part[3], V4_TERMINATOR))
        return p->malformed;
    for (size_t i = 0; i < 8; i++)
        if (p->date.base[i] < '0' || p->date.base[i] > '9')
            return p->malformed;
    return 0;
}

/* Checks the fields every SigV4 form shares once they are parsed. */
static int check_parts(const v4_parts_t *p)
{
    int has_host = 0;
    if (p->signature.len != 64)
        return p->malformed;
    for (size_t i = 0; i < 64; i++) {
        char c = p->signature.base[i];
        if (!((c >= '0' && c <= '9') || (c >= 'a' && c <= 'f')))
            return p->malformed;
    }
    /* Host must be signed (S3 rejects SigV4 without it), and names may not be empty. */
    const char *s = p->signed_headers.base, *end = s + p->signed_headers.len;
    if (p->signed_headers.len == 0)
        return p->malformed;
    while (s <= end) {
        const char *semi = memchr(s, ';', (size_t)(end - s));
        const char *stop = semi ? semi : end;
        og_str_t name = {s, (size_t)(stop - s)};
        if (name.len == 0)
            return p->malformed;
        has_host |= og_str_ieq(name, "host");
        if (stop == end)
            break;
        s = stop + 1;
    }
    return has_host ? 0 : p->malformed;
}

/* Appends one canonical header value: every header named name, trimmed, inner runs of
 * whitespace collapsed to one space, joined with ','. */
static void put_header_value(auth_buf_t *b, const og_header_t *hdrs, size_t n, og_str_t name)
{
    int first = 1;
    for (size_t i = 0; i < n; i++) {
        if (!auth_str_ieq(hdrs[i].name, name))
            continue;
        if (!first)
            auth_buf_putc(b, ',');
        first = 0;
        og_str_t v = auth_trim(hdrs[i].value);
        int in_space = 0;
        for (size_t j = 0; j < v.len; j++) {
            char c = v.base[j];
            if (c == ' ' || c == '\t') {
                in_space = 1;
                continue;
            }
            if (in_space)
                auth_buf_putc(b, ' ');
            in_space = 0;
            auth_buf_putc(b, c);
        }
    }
}

/* Builds the canonical request. 0, OG_EINVAL (bad percent-encoding) or -ENOMEM. */
static int put_canonical_request(auth_buf_t *b, og_str_t method, og_str_t path, og_str_t query, const char *exclude,
                                 const og_header_t *hdrs, size_t n, og_str_t signed_headers, og_str_t payload_hash)
{
    int rc;
    auth_buf_putstr(b, method);
    auth_buf_putc(b, '\n');
    if ((rc = auth_put_canonical_uri(b, path)) != 0)
        return rc;
    auth_buf_putc(b, '\n');
    if ((rc = auth_put_canonical_query(b, query, exclude)) != 0)
        return rc;
    auth_buf_putc(b, '\n');
    const char *s = signed_headers.base, *end = s + signed_headers.len;
    while (s < end) {
        const char *semi = memchr(s, ';', (size_t)(end - s));
        const char *stop = semi ? semi : end;
        og_str_t name = {s, (size_t)(stop - s)};
        auth_buf_put_lower(b, name);
        auth_buf_putc(b, ':');
        put_header_value(b, hdrs, n, name);
        auth_buf_putc(b, '\n');
        if (stop == end)
            break;
        s = stop + 1;
    }
    auth_buf_putc(b, '\n');
    auth_buf_put_lower(b, signed_headers);
    auth_buf_putc(b, '\n');
    auth_buf_putstr(b, payload_hash);
    return b->err;
}

/* HMAC chain from the secret to the signing key for date/region/service. */
static int derive_signing_key(const char *secret, og_str_t date, og_str_t region, og_str_t service, uint8_t key[32])
{
    int rc = OG_EINVAL;
    char ksecret[4 + AUTH_SECRET_MAX];
    uint8_t k1[32], k2[32];
    size_t slen = strlen(secret);
    if (slen >= AUTH_SECRET_MAX)
        goto out_cleanse;
    memcpy(ksecret, "AWS4", 4);
    memcpy(ksecret + 4, secret, slen);
    if (auth_hmac_sha256(ksecret, 4 + slen, date.base, date.len, k1) ||
        auth_hmac_sha256(k1, 32, region.base, region.len, k2) ||
        auth_hmac_sha256(k2, 32, service.base, service.len, k1) ||
        auth_hmac_sha256(k1, 32, V4_TERMINATOR, strlen(V4_TERMINATOR), key))
        goto out_cleanse;
    rc = 0;
out_cleanse:
    OPENSSL_cleanse(ksecret, sizeof(ksecret));
    OPENSSL_cleanse(k1, sizeof(k1));
    OPENSSL_cleanse(k2, sizeof(k2));
    return rc;
}

/* The signing key for p's scope under secret: the cached one when keys holds a key derived from
 * this very secret (*fresh 0), else derived (*fresh 1; with keys, secret_sha is then set for
 * auth_keycache_put). 0 or OG_EINVAL. */
static int signing_key(auth_keycache_t *keys, const char *secret, const v4_parts_t *p, og_str_t scope,
                       uint8_t secret_sha[32], uint8_t key[32], int *fresh)
{
    *fresh = 1;
    if (keys != NULL) {
        if (auth_sha256(secret, strlen(secret), secret_sha))
            return OG_EINVAL;
        if (auth_keycache_get(keys, p->access_key, scope, secret_sha, key)) {
            *fresh = 0;
            return 0;
        }
    }
    return derive_signing_key(secret, p->date, p->region, p->service, key);
}

/* The string to sign's scope line ("20130524/us-east-1/s3/aws4_request") into scope.
 * 0 or OG_ETOOBIG. */
static int format_scope(og_str_t date, og_str_t region, og_str_t service, char *scope, size_t cap)
{
    int n = snprintf(scope, cap, "%.*s/%.*s/%.*s/" V4_TERMINATOR, (int)date.len, date.base, (int)region.len,
                     region.base, (int)service.len, service.base);
    return n < 0 || (size_t)n >= cap ? OG_ETOOBIG : 0;
}

/* Signature (hex) of a canonical request under key. */
static int sign_canonical(const uint8_t key[32], const char *amz_date, const char *scope, const auth_buf_t *canon,
                          char hex[65])
{
    uint8_t hash[32], mac[32];
    char hash_hex[65], sts[256];
    if (auth_sha256(canon->base, canon->len, hash))
        return OG_EINVAL;
    og_hex(hash, 32, hash_hex);
    int n = snprintf(sts, sizeof(sts), V4_ALGORITHM "\n%s\n%s\n%s", amz_date, scope, hash_hex);
    if (n < 0 || (size_t)n >= sizeof(sts))
        return OG_ETOOBIG;
    if (auth_hmac_sha256(key, 32, sts, (size_t)n, mac))
        return OG_EINVAL;
    og_hex(mac, 32, hex);
    return 0;
}

/* The part every SigV4 form shares once its parameters are parsed and its time accepted:
 * rebuild the canonical request, look up the secret, compare, fill out. */
static int verify_parts(const auth_request_t *req, const v4_parts_t *p, auth_lookup_fn lookup, void *ctx,
                        auth_result_t *out)
{
    int rc;
    auth_buf_t canon = {0};
    char secret[AUTH_SECRET_MAX], hex[65], scope[sizeof(out->scope)];
    uint8_t key[32], secret_sha[32];
    int fresh;

    /* The credential's date must be the day of the signed time. */
    if (memcmp(p->date.base, p->amz_date, 8) != 0) {
        rc = p->malformed;
        goto out_free;
    }
    if (format_scope(p->date, p->region, p->service, scope, sizeof(scope))) {
        rc = p->malformed;
        goto out_free;
    }
    /* A key derived for another region is refused before the signature is checked, as AWS does,
     * so the client learns which region to sign for. */
    snprintf(out->region, sizeof(out->region), "%.*s", (int)p->region.len, p->region.base);
    if (req->region != NULL && !og_str_eq(p->region, req->region)) {
        rc = AUTH_EREGION;
        goto out_free;
    }
    rc = put_canonical_request(&canon, req->method, req->path, req->query, p->exclude_param, req->headers,
                               req->num_headers, p->signed_headers, p->payload_hash);
    if (rc == OG_EINVAL)
        rc = p->malformed;
    if (rc)
        goto out_free;
    if ((rc = auth_lookup_secret(lookup, ctx, p->access_key, secret)) != 0)
        goto out_cleanse;
    if ((rc = signing_key(req->keys, secret, p, og_str(scope), secret_sha, key, &fresh)) != 0 ||
        (rc = sign_canonical(key, p->amz_date, scope, &canon, hex)) != 0)
        goto out_cleanse;
    if (!auth_ct_equal(hex, p->signature.base, 64)) {
        rc = AUTH_ESIGNATURE;
        goto out_cleanse;
    }
    if (fresh && req->keys != NULL)
        auth_keycache_put(req->keys, p->access_key, og_str(scope), secret_sha, key);
    auth_result_set_key(out, p->access_key);
    memcpy(out->signing_key, key, 32);
    memcpy(out->seed_signature, hex, 65);
    memcpy(out->scope, scope, sizeof(scope));
    memcpy(out->amz_date, p->amz_date, sizeof(out->amz_date));
out_cleanse:
    OPENSSL_cleanse(secret, sizeof(secret));
    OPENSSL_cleanse(key, sizeof(key));
    OPENSSL_cleanse(secret_sha, sizeof(secret_sha));
out_free:
    auth_buf_free(&canon);
    return rc;
}

/* Finds "name=value" among the comma-separated components after the algorithm. */
static int parse_header_components(og_str_t rest, v4_parts_t *p)
{
    og_str_t cred = {0};
    const char *s = rest.base, *end = rest.base + rest.len;
    while (s < end) {
        const char *comma = memchr(s, ',', (size_t)(end - s));
        const char *stop = comma ? comma : end;
        og_str_t item = auth_trim((og_str_t){s, (size_t)(stop - s)});
        const char *eq = item.len ? memchr(item.base, '=', item.len) : NULL;
        if (!eq)
            return p->malformed;
        og_str_t key = {item.base, (size_t)(eq - item.base)};
        og_str_t val = {eq + 1, item.len - key.len - 1};
        og_str_t *slot = og_str_eq(key, "Credential")      ? &cred
                         : og_str_eq(key, "SignedHeaders") ? &p->signed_headers
                         : og_str_eq(key, "Signature")     ? &p->signature
                                                           : NULL;
        if (!slot || slot->base)
            return p->malformed;
        *slot = val;
        if (stop == end)
            break;
        s = stop + 1;
    }
    if (!cred.base || !p->signed_headers.base || !p->signature.base)
        return p->malformed;
    int rc = parse_credential(cred, p);
    return rc ? rc : check_parts(p);
}

/* Classifies x-amz-content-sha256 into out->payload. 0 or AUTH_EBADSHA. */
static int classify_payload(og_str_t v, auth_result_t *out)
{
    if (v.len == 64 && og_unhex(v.base, 64, out->payload_sha256, 32) == 0) {
        out->payload = AUTH_PAYLOAD_SHA256;
        return 0;
    }
    if (og_str_eq(v, "UNSIGNED-PAYLOAD")) {
        out->payload = AUTH_PAYLOAD_NONE;
        return 0;
    }
    if (og_str_eq(v, "STREAMING-AWS4-HMAC-SHA256-PAYLOAD") ||
        og_str_eq(v, "STREAMING-AWS4-HMAC-SHA256-PAYLOAD-TRAILER") ||
        og_str_eq(v, "STREAMING-UNSIGNED-PAYLOAD-TRAILER")) {
        out->payload = AUTH_PAYLOAD_STREAMING;
        return 0;
    }
    return AUTH_EBADSHA;
}

int auth_sigv4_verify_header(const auth_request_t *req, og_str_t authz, auth_lookup_fn lookup, void *ctx,
                             auth_result_t *out)
{
    int rc;
    v4_parts_t p = {.malformed = AUTH_EMALFORMED};
    og_str_t rest = {authz.base + strlen(V4_ALGORITHM), authz.len - strlen(V4_ALGORITHM)};

    out->kind = AUTH_V4_HEADER;
    if ((rc = parse_header_components(rest, &p)) != 0)
        return rc;

    /* x-amz-date wins over Date; either may carry ISO 8601 basic or an HTTP date. */
    og_str_t date = og_header_find(req->headers, req->num_headers, "x-amz-date");
    if (!date.base)
        date = og_header_find(req->headers, req->num_headers, "date");
    date = auth_trim(date);
    if (!date.base || (auth_parse_iso8601(date, &p.time) && auth_parse_http_date(date, &p.time)))
        return AUTH_ENODATE;
    auth_format_iso8601(p.time, p.amz_date);
    out->request_time = p.time;
    if (p.time > req->now + AUTH_SKEW_SECONDS || p.time < req->now - AUTH_SKEW_SECONDS)
        return AUTH_ESKEW;

    /* S3 requires x-amz-content-sha256 with SigV4 header auth (AWS: 400 InvalidRequest,
     * "Missing required header"); we answer AUTH_EBADSHA, the same status. Its value is also
     * the hashed-payload line of the canonical request. */
    p.payload_hash = og_header_find(req->headers, req->num_headers, "x-amz-content-sha256");
    p.payload_hash = auth_trim(p.payload_hash);
    if (!p.payload_hash.base || (rc = classify_payload(p.payload_hash, out)) != 0)
        return AUTH_EBADSHA;
    return verify_parts(req, &p, lookup, ctx, out);
}

/* Decodes query parameter name into buf (cap bytes, NUL-terminated). 1 found, 0 missing,
 * OG_EINVAL when it does not decode or fit. */
static int query_param(og_str_t query, const char *name, char *buf, size_t cap, og_str_t *val)
{
    og_str_t raw;
    if (!og_query_get(query, name, &raw))
        return 0;
    long n = og_urldecode(raw.base, raw.len, buf, cap - 1, 0);
    if (n < 0)
        return OG_EINVAL;
    buf[n] = '\0';
    *val = (og_str_t){buf, (size_t)n};
    return 1;
}

int auth_sigv4_verify_query(const auth_request_t *req, auth_lookup_fn lookup, void *ctx, auth_result_t *out)
{
    int rc;
    v4_parts_t p = {.malformed = AUTH_EQUERYPARAMS, .exclude_param = "X-Amz-Signature"};
    char alg[32], cred[V4_CRED_MAX], date[32], expires[32], sig[80];
    char *signed_headers = NULL;
    og_str_t alg_v = {0}, cred_v = {0}, date_v = {0}, expires_v = {0};
    int64_t ttl = 0;

    out->kind = AUTH_V4_QUERY;
    out->payload = AUTH_PAYLOAD_NONE;
    if (!(signed_headers = malloc(V4_SIGNED_HEADERS_MAX)))
        return -ENOMEM;
    rc = AUTH_EQUERYPARAMS;
    if (query_param(req->query, "X-Amz-Algorithm", alg, sizeof(alg), &alg_v) != 1 ||
        query_param(req->query, "X-Amz-Credential", cred, sizeof(cred), &cred_v) != 1 ||
        query_param(req->query, "X-Amz-Date", date, sizeof(date), &date_v) != 1 ||
        query_param(req->query, "X-Amz-Expires", expires, sizeof(expires), &expires_v) != 1 ||
        query_param(req->query, "X-Amz-SignedHeaders", signed_headers, V4_SIGNED_HEADERS_MAX, &p.signed_headers) != 1 ||
        query_param(req->query, "X-Amz-Signature", sig, sizeof(sig), &p.signature) != 1)
        goto out_free;
    if (!og_str_eq(alg_v, V4_ALGORITHM) || auth_parse_iso8601(date_v, &p.time))
        goto out_free;
    if ((rc = parse_credential(cred_v, &p)) != 0 || (rc = check_parts(&p)) != 0)
        goto out_free;
    rc = AUTH_EQUERYPARAMS;
    if (expires_v.len == 0 || expires_v.len > 7)
        goto out_free;
    for (size_t i = 0; i < expires_v.len; i++) {
        if (expires_v.base[i] < '0' || expires_v.base[i] > '9')
            goto out_free;
        ttl = ttl * 10 + (expires_v.base[i] - '0');
    }
    if (ttl < 1 || ttl > AUTH_PRESIGN_MAX_SECONDS)
        goto out_free;

    memcpy(p.amz_date, date_v.base, 16);
    p.amz_date[16] = '\0';
    out->request_time = p.time;
    /* A URL signed for the future is refused like a skewed clock (S3: "not yet valid"). */
    if (p.time > req->now + AUTH_SKEW_SECONDS) {
        rc = AUTH_ESKEW;
        goto out_free;
    }
    if (req->now > p.time + ttl) {
        rc = AUTH_EEXPIRED;
        goto out_free;
    }
    /* Presigned URLs never sign the body. */
    p.payload_hash = OG_STR_LIT("UNSIGNED-PAYLOAD");
    rc = verify_parts(req, &p, lookup, ctx, out);
out_free:
    free(signed_headers);
    return rc;
}

int auth_sigv4_sign(og_str_t method, og_str_t path, og_str_t query, const og_header_t *headers, size_t n,
                    og_str_t payload_sha256_hex, const char *access_key, const char *secret, const char *region,
                    char *out, size_t cap)
{
    int rc;
    auth_buf_t names = {0}, canon = {0};
    auth_header_ref_t *sorted = NULL;
    uint8_t key[32];
    char hex[65], scope[128], amz_date[17];
    int64_t t;

    og_str_t date = auth_trim(og_header_find(headers, n, "x-amz-date"));
    if (!date.base || auth_parse_iso8601(date, &t) || n == 0)
        return OG_EINVAL;
    memcpy(amz_date, date.base, 16);
    amz_date[16] = '\0';
    og_str_t day = {amz_date, 8}, reg = og_str(region), svc = OG_STR_LIT(V4_SERVICE);
    if ((rc = format_scope(day, reg, svc, scope, sizeof(scope))) != 0)
        return rc;

    /* SignedHeaders: every header name, lowercase, sorted, each once. */
    if (!(sorted = malloc(n * sizeof(*sorted))))
        return -ENOMEM;
    for (size_t i = 0; i < n; i++)
        sorted[i] = (auth_header_ref_t){&headers[i], i};
    qsort(sorted, n, sizeof(*sorted), auth_header_ref_cmp);
    for (size_t i = 0; i < n; i++) {
        if (i && auth_str_ieq(sorted[i].h->name, sorted[i - 1].h->name))
            continue;
        if (names.len)
            auth_buf_putc(&names, ';');
        auth_buf_put_lower(&names, sorted[i].h->name);
    }
    if ((rc = names.err) != 0)
        goto out_free;
    og_str_t signed_headers = {names.base, names.len};
    rc = put_canonical_request(&canon, method, path, query, NULL, headers, n, signed_headers, payload_sha256_hex);
    if (rc)
        goto out_free;
    if ((rc = derive_signing_key(secret, day, reg, svc, key)) != 0 ||
        (rc = sign_canonical(key, amz_date, scope, &canon, hex)) != 0)
        goto out_cleanse;
    int len = snprintf(out, cap, V4_ALGORITHM " Credential=%s/%s, SignedHeaders=%s, Signature=%s", access_key, scope,
                       names.base, hex);
    rc = len < 0 || (size_t)len >= cap ? OG_ETOOBIG : 0;
out_cleanse:
    OPENSSL_cleanse(key, sizeof(key));
out_free:
    auth_buf_free(&canon);
    auth_buf_free(&names);
    free(sorted);
    return rc;
}
