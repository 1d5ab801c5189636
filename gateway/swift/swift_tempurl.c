/*
 * swift_tempurl.c: Swift's tempurl middleware (swift/common/middleware/tempurl.py, 2.30).
 *
 * A request to an object with ?temp_url_sig=..&temp_url_expires=.. is allowed without a token
 * when the signature is the HMAC, under one of the account's or the container's Temp-URL keys
 * (X-Account-Meta-Temp-URL-Key[-2], X-Container-Meta-Temp-URL-Key[-2]), of
 *     [ip=<temp_url_ip_range>\n]<METHOD>\n<expires>\n</v1/AUTH_a/c/o | prefix:/v1/AUTH_a/c/<prefix>>
 * with SHA-1, SHA-256 or SHA-512 (hex, whose length names the digest, or "<digest>:<base64>").
 * A HEAD is also allowed by a GET, PUT or POST signature. Anything wrong (expired, another
 * method, no key, a bad signature, the client outside the IP range) is one answer: 401
 * "401 Unauthorized: Temp URL invalid". Keys are compared in constant time.
 * The grant covers the request's container (container key) or account (account key). Answers
 * to GET and HEAD carry Content-Disposition (attachment with the object's name, or ?filename,
 * or inline with ?inline) and Expires; X-Object-Meta-* headers other than
 * X-Object-Meta-Public-* are not shown (Swift's outgoing_remove_headers defaults). Writes may
 * not send X-Object-Manifest, X-Symlink-Target or X-Copy-From (400). Swift's incoming default
 * removes X-Timestamp, which Onggi never reads from a request anyway.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <strings.h>
#include <time.h>

#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>

#include "swift_int.h"

static const char *const key_names[] = {"temp-url-key", "temp-url-key-2"};

int swift_tempurl_key_name(og_str_t name)
{
    static const char *const full[] = {"x-account-meta-temp-url-key", "x-account-meta-temp-url-key-2",
                                       "x-container-meta-temp-url-key", "x-container-meta-temp-url-key-2"};
    for (size_t i = 0; i < 4; i++)
        if (og_str_ieq(name, full[i]))
            return 1;
    return 0;
}

size_t swift_hmac_hex(const char *digest, og_str_t key, og_str_t msg, char *out)
{
    const EVP_MD *md = !strcmp(digest, "sha1")     ? EVP_sha1()
                       : !strcmp(digest, "sha256") ? EVP_sha256()
                       : !strcmp(digest, "sha512") ? EVP_sha512()
                                                   : NULL;
    unsigned char mac[EVP_MAX_MD_SIZE];
    unsigned int len = 0;
    if (md == NULL || HMAC(md, key.base, (int)key.len, (const unsigned char *)msg.base, msg.len, mac, &len) == NULL)
        return 0;
    og_hex(mac, len, out);
    return 2 * (size_t)len;
}

int swift_sig_parse(og_str_t sig, const char **digest, char *out)
{
    const char *colon = memchr(sig.base, ':', sig.len);
    unsigned char raw[64];
    if (colon == NULL) {
        *digest = sig.len == 40 ? "sha1" : sig.len == 64 ? "sha256" : sig.len == 128 ? "sha512" : NULL;
        if (*digest == NULL || og_unhex(sig.base, sig.len, raw, sig.len / 2) != 0)
            return OG_EINVAL;
        memcpy(out, sig.base, sig.len); /* compared as given, as Swift does */
        out[sig.len] = '\0';
        return 0;
    }
    og_str_t algo = {sig.base, (size_t)(colon - sig.base)}, b64 = {colon + 1, sig.len - algo.len - 1};
    *digest = og_str_eq(algo, "sha1") ? "sha1" : og_str_eq(algo, "sha256") ? "sha256"
              : og_str_eq(algo, "sha512")                                  ? "sha512"
                                                                           : NULL;
    long n = og_b64_decode(b64, raw, sizeof(raw));
    if (*digest == NULL || n <= 0)
        return OG_EINVAL;
    og_hex(raw, (size_t)n, out);
    return 0;
}

int swift_str_ct_eq(og_str_t a, og_str_t b)
{
    return a.len == b.len && CRYPTO_memcmp(a.base, b.base, a.len) == 0;
}

/* Copies the temp-url keys among meta (names prefix + key_names) into keys[*n..]. */
static void keys_from(const og_header_t *meta, size_t n, const char *prefix, og_str_t keys[4], int *k,
                      og_buf_t *mem, size_t offs[4])
{
    char name[64];
    for (size_t j = 0; j < 2; j++) {
        snprintf(name, sizeof(name), "%s%s", prefix, key_names[j]);
        og_str_t v = og_header_find(meta, n, name);
        if (v.len > 0 && *k < 4) {
            offs[*k] = mem->len;
            keys[(*k)++].len = v.len;
            og_buf_put(mem, v.base, v.len);
        }
    }
}

int swift_tempurl_keys(swift_req_t *r, const char *container, og_str_t keys[4], int *nacct, char **mem)
{
    core_account_t a;
    core_bucket_t b;
    og_buf_t buf = {0};
    size_t offs[4];
    int k = 0, rc = core_account_get(r->cl, r->account, &a);
    *nacct = 0;
    if (rc == 0) {
        keys_from(a.meta, a.num_meta, "x-account-meta-", keys, &k, &buf, offs);
        core_account_free(&a);
        *nacct = k;
    } else if (rc != OG_ENOTFOUND) {
        return rc;
    }
    if ((rc = core_bucket_find(r->cl, r->account, container, &b)) == 0) {
        if (strcmp(b.owner, r->account) == 0)
            keys_from(b.meta, b.num_meta, "x-container-meta-", keys, &k, &buf, offs);
        core_bucket_free(&b);
    } else if (rc != OG_ENOTFOUND) {
        og_buf_free(&buf);
        return rc == OG_EPROTO ? OG_ECORRUPT : rc;
    }
    if (buf.oom) {
        og_buf_free(&buf);
        return -ENOMEM;
    }
    for (int i = 0; i < k; i++)
        keys[i].base = buf.buf + offs[i];
    *mem = buf.buf;
    return k;
}

/* ---------------------------------------------------------------- the query */

typedef struct {
    char *sig, *expires, *prefix, *filename, *ip_range; /* decoded, malloc'd; NULL when absent */
    int has_inline;
} tu_query_t;

static void tu_query_free(tu_query_t *q)
{
    free(q->sig), free(q->expires), free(q->prefix), free(q->filename), free(q->ip_range);
}

/* The decoded value of query parameter name (form encoding, as Python's parse_qs), or NULL. */
static char *qparam(og_str_t query, const char *name, int *oom)
{
    og_str_t raw;
    if (!og_query_get(query, name, &raw))
        return NULL;
    char *v = malloc(raw.len + 1);
    long n = v ? og_urldecode(raw.base, raw.len, v, raw.len + 1, 1) : -ENOMEM;
    if (n < 0) {
        free(v);
        *oom |= n == -ENOMEM;
        return NULL;
    }
    v[n] = '\0';
    return v;
}

/* Unix seconds from temp_url_expires: an integer or "%Y-%m-%dT%H:%M:%SZ"; 0 when neither. */
static uint64_t parse_expires(const char *s)
{
    uint64_t v;
    if (og_parse_dec(og_str(s), 19, &v) == 0)
        return v;
    struct tm tm = {0};
    const char *end = strptime(s, "%Y-%m-%dT%H:%M:%SZ", &tm);
    if (end == NULL || *end != '\0')
        return 0;
    time_t t = timegm(&tm);
    return t > 0 ? (uint64_t)t : 0;
}

/* Is the client (remote "ip:port" or "[ip6]:port") inside range ("addr" or "addr/len", with no
 * host bits set: Python's ip_network)? 1, or 0 (outside, or a malformed range). */
static int ip_in_range(const char *remote, const char *range)
{
    char host[64], net[64];
    unsigned char ra[16], na[16];
    const char *slash = strchr(range, '/');
    size_t hl = slash ? (size_t)(slash - range) : strlen(range);
    if (remote[0] == '[') {
        const char *end = strchr(remote, ']');
        snprintf(host, sizeof(host), "%.*s", end ? (int)(end - remote - 1) : 0, remote + 1);
    } else {
        const char *colon = strrchr(remote, ':');
        snprintf(host, sizeof(host), "%.*s", colon ? (int)(colon - remote) : (int)strlen(remote), remote);
    }
    if (hl >= sizeof(net))
        return 0;
    memcpy(net, range, hl), net[hl] = '\0';
    int fam = strchr(net, ':') ? AF_INET6 : AF_INET, bytes = fam == AF_INET6 ? 16 : 4;
    uint64_t plen = (uint64_t)bytes * 8;
    if (inet_pton(fam, net, na) != 1 || inet_pton(fam, host, ra) != 1 ||
        (slash && (og_parse_dec(og_str(slash + 1), 3, &plen) != 0 || plen > (uint64_t)bytes * 8)))
        return 0;
    for (int i = 0; i < bytes; i++) {
        int bits = (int)plen - 8 * i;
        unsigned char mask = bits >= 8 ? 0xff : bits <= 0 ? 0 : (unsigned char)(0xff << (8 - bits));
        if (na[i] & ~mask)
            return 0; /* host bits set: ip_network refuses the range */
        if ((ra[i] & mask) != na[i])
            return 0;
    }
    return 1;
}

/* ---------------------------------------------------------------- the check */

/* 401 for an invalid TempURL, as tempurl's _invalid (no body for HEAD). */
static int tu_invalid(swift_req_t *r)
{
    return swift_refuse(r, 401, NULL, "%s", r->info->is_head ? "" : "401 Unauthorized: Temp URL invalid\n");
}

/* Does sig (hex) match one of keys for method over path (with ip)? Sets *scope for the key. */
static int tu_match(const char *digest, const char *sig, const char *method, uint64_t expires, og_str_t path,
                    const char *ip, const og_str_t *keys, int nacct, int n, int *scope)
{
    og_buf_t msg = {0};
    char hex[129];
    int ok = 0;
    if (ip != NULL)
        og_buf_printf(&msg, "ip=%s\n", ip);
    og_buf_printf(&msg, "%s\n%llu\n%.*s", method, (unsigned long long)expires, (int)path.len, path.base);
    for (int i = 0; i < n && !msg.oom; i++) {
        size_t hl = swift_hmac_hex(digest, keys[i], (og_str_t){msg.buf, msg.len}, hex);
        if (swift_str_ct_eq(og_str(sig), (og_str_t){hex, hl}) && !ok) {
            ok = 1;
            *scope = i < nacct ? SWIFT_TU_ACCOUNT : SWIFT_TU_CONTAINER;
        }
    }
    og_buf_free(&msg);
    return ok;
}

/* The signed path: "/v1/AUTH_a/c/o" or "prefix:/v1/AUTH_a/c/<prefix>". 0 or -ENOMEM. */
static int tu_path(swift_req_t *r, const char *prefix, og_buf_t *out)
{
    og_buf_printf(out, "%s/v1/AUTH_%s/%s/", prefix ? "prefix:" : "", r->account, r->container);
    if (prefix)
        og_buf_puts(out, prefix);
    else
        og_buf_put(out, r->object, r->object_len);
    return out->oom ? -ENOMEM : 0;
}

/* Is the signature valid for r (any of the methods a HEAD may use)? 1 (r->tu.scope set), 0, or
 * a negative error. */
static int tu_verify(swift_req_t *r, const tu_query_t *q, uint64_t expires)
{
    static const char *const head_methods[] = {"HEAD", "GET", "POST", "PUT"};
    char sig[129], method[8], *mem = NULL;
    const char *digest;
    og_str_t keys[4];
    og_buf_t path = {0};
    int rc, nacct = 0, n;
    if (swift_sig_parse(og_str(q->sig), &digest, sig) != 0)
        return 0;
    if ((rc = tu_path(r, q->prefix, &path)) != 0 || (n = rc = swift_tempurl_keys(r, r->container, keys, &nacct, &mem)) <= 0)
        goto out_free;
    snprintf(method, sizeof(method), "%.*s", (int)r->info->method.len, r->info->method.base);
    rc = 0;
    for (size_t i = 0; i < (r->info->is_head ? 4u : 1u) && !rc; i++)
        rc = tu_match(digest, sig, r->info->is_head ? head_methods[i] : method, expires,
                      (og_str_t){path.buf, path.len}, q->ip_range, keys, nacct, n, &r->tu.scope);
out_free:
    free(mem);
    og_buf_free(&path);
    return rc;
}

/* Reads the TempURL parameters. 0, or -ENOMEM. */
static int tu_query_read(swift_req_t *r, tu_query_t *q)
{
    og_str_t query = r->info->query;
    int oom = 0;
    q->sig = qparam(query, "temp_url_sig", &oom);
    q->expires = qparam(query, "temp_url_expires", &oom);
    q->prefix = qparam(query, "temp_url_prefix", &oom);
    q->filename = qparam(query, "filename", &oom);
    q->ip_range = qparam(query, "temp_url_ip_range", &oom);
    q->has_inline = og_query_get(query, "inline", NULL);
    if (q->ip_range && q->ip_range[0] == '\0') { /* Swift: an empty range is no range */
        free(q->ip_range);
        q->ip_range = NULL;
    }
    return oom ? -ENOMEM : 0;
}

/* A write through a TempURL may not carry these (tempurl's DISALLOWED_INCOMING_HEADERS). 0 or
 * SWIFT_EREFUSED (400). */
static int tu_disallowed(swift_req_t *r)
{
    static const char *const names[] = {"X-Object-Manifest", "X-Symlink-Target", "X-Copy-From"};
    if (r->info->is_head || swift_is_method(r, "GET"))
        return 0;
    for (size_t i = 0; i < 3; i++)
        if (http_req_header(r->http, names[i]).base != NULL)
            return swift_refuse(r, 400, NULL, "The header '%s' is not allowed in this tempurl", names[i]);
    return 0;
}

int swift_tempurl_check(swift_req_t *r)
{
    static const char *const methods[] = {"GET", "HEAD", "PUT", "POST", "DELETE"};
    tu_query_t q = {0};
    uint64_t expires;
    int rc, method_ok = 0;
    if (!og_query_get(r->info->query, "temp_url_sig", NULL) && !og_query_get(r->info->query, "temp_url_expires", NULL))
        return 0;
    if ((rc = tu_query_read(r, &q)) != 0)
        goto out_free;
    for (size_t i = 0; i < 5; i++)
        method_ok |= swift_is_method(r, methods[i]);
    size_t olen = r->object_len;
    while (olen > 0 && r->object[olen - 1] == '/') /* Swift wants obj.strip('/') non-empty */
        olen--;
    expires = q.expires ? parse_expires(q.expires) : 0;
    rc = tu_invalid(r);
    if (q.sig == NULL || q.sig[0] == '\0' || expires < r->now_s || expires == 0 || !method_ok || r->object == NULL ||
        olen == 0 || (q.prefix && strncmp(r->object, q.prefix, strlen(q.prefix)) != 0) ||
        (q.ip_range && !ip_in_range(r->info->remote, q.ip_range)))
        goto out_free;
    int ok = tu_verify(r, &q, expires);
    if (ok < 0 || (ok == 1 && (rc = tu_disallowed(r)) != 0) || ok == 0) {
        rc = ok < 0 ? ok : ok == 0 ? tu_invalid(r) : rc;
        r->tu.scope = SWIFT_TU_NONE;
        goto out_free;
    }
    /* Valid: the request acts with the grant alone (check_token read no token). */
    r->tu.expires = expires;
    r->tu.inline_disp = q.has_inline;
    r->tu.filename = q.filename, q.filename = NULL;
    rc = 0;
out_free:
    tu_query_free(&q);
    return rc;
}

/* ---------------------------------------------------------------- the answer */

/* Python's quote(s, safe): unreserved characters and those in safe as they are, the rest %XX. */
static void quote(og_buf_t *b, const char *s, const char *safe)
{
    for (const unsigned char *p = (const unsigned char *)s; *p; p++) {
        if ((*p >= 'a' && *p <= 'z') || (*p >= 'A' && *p <= 'Z') || (*p >= '0' && *p <= '9') || strchr("_.-~", *p) ||
            strchr(safe, *p))
            og_buf_put(b, (const char *)p, 1);
        else
            og_buf_printf(b, "%%%02X", *p);
    }
}

/* Appends tempurl's Content-Disposition value for r (existing: the object's own, or empty). */
static void disposition(swift_req_t *r, og_str_t existing, og_buf_t *b)
{
    const char *name = r->tu.filename;
    char *base = NULL;
    if (!r->tu.inline_disp && name == NULL && existing.base != NULL) {
        og_buf_put(b, existing.base, existing.len);
        return;
    }
    if (r->tu.inline_disp && name == NULL) {
        og_buf_puts(b, "inline");
        return;
    }
    if (name == NULL) { /* basename of the path without trailing slashes */
        size_t n = r->object_len;
        while (n > 0 && r->object[n - 1] == '/')
            n--;
        size_t s = n;
        while (s > 0 && r->object[s - 1] != '/')
            s--;
        if (n == 0) /* only slashes: the container is the last segment */
            name = r->container;
        else if ((base = strndup(r->object + s, n - s)) != NULL)
            name = base;
        else
            b->oom = 1;
    }
    og_buf_printf(b, "%s; filename=\"", r->tu.inline_disp ? "inline" : "attachment");
    quote(b, name ? name : "", " /");
    og_buf_puts(b, "\"; filename*=UTF-8''");
    quote(b, name ? name : "", "/");
    free(base);
}

size_t swift_tempurl_headers(swift_req_t *r, int status, og_header_t *h, size_t n)
{
    og_str_t existing = {NULL, 0};
    size_t k = 0;
    for (size_t i = 0; i < n; i++) {
        og_str_t name = h[i].name;
        if (name.len > 14 && strncasecmp(name.base, "X-Object-Meta-", 14) == 0 &&
            !(name.len > 21 && strncasecmp(name.base, "X-Object-Meta-Public-", 21) == 0))
            continue;
        if (og_str_ieq(name, "content-disposition") && status / 100 == 2 && (r->info->is_head || swift_is_method(r, "GET"))) {
            existing = h[i].value;
            continue;
        }
        h[k++] = h[i];
    }
    if (status / 100 != 2 || !(r->info->is_head || swift_is_method(r, "GET")))
        return k;
    og_buf_t b = {0};
    char date[32];
    disposition(r, existing, &b);
    size_t dlen = b.len;
    http_date_format(r->tu.expires * 1000000000ull, date);
    og_buf_puts(&b, date);
    free(r->final[0]); /* an earlier attempt's (an error answer after a failed start) */
    r->final[0] = b.buf;
    if (b.oom)
        return k;
    h[k++] = (og_header_t){OG_STR_LIT("Content-Disposition"), {b.buf, dlen}};
    h[k++] = (og_header_t){OG_STR_LIT("Expires"), {b.buf + dlen, b.len - dlen}};
    return k;
}
