/*
 * swift_handle: the Swift front door. For each request: a transaction id, the path split into
 * account / container / object, the token check, /info and /auth, and dispatch to the account,
 * container and object handlers (swift_acct.c, swift_obj.c). Also the shared answer helpers
 * (Swift's status bodies and transaction headers) and the metadata merge.
 */
#include <ctype.h>
#include <errno.h>
#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <strings.h>

#include "swift_int.h"

void swift_init(swift_t *sw, cluster_t *cl, iam_t *iam, uint32_t token_life, int access_log)
{
    *sw = (swift_t){cl, iam, token_life ? token_life : SWIFT_TOKEN_LIFE, access_log, 0};
}

static int path_is(og_str_t path, const char *p)
{
    size_t n = strlen(p);
    return path.len >= n && memcmp(path.base, p, n) == 0 && (path.len == n || path.base[n] == '/');
}

int swift_wants(const http_reqinfo_t *info)
{
    og_str_t path = info->path;
    if (og_str_eq(path, "/auth/v1.0") || og_str_eq(path, "/auth/v1") || path_is(path, "/v1") ||
        path_is(path, CORE_PIN_PREFIX))
        return 1;
    if (!og_str_eq(path, "/info") && !og_str_eq(path, "/info/"))
        return 0;
    /* An S3 client reaching a bucket named "info" always signs. */
    if (og_header_find(info->headers, info->num_headers, "authorization").base != NULL)
        return 0;
    return !og_query_get(info->query, "X-Amz-Signature", NULL) && !og_query_get(info->query, "Signature", NULL);
}

/* ---------------------------------------------------------------- answers */

static const struct {
    int status;
    const char *body;
} std_bodies[] = {
    {202, "<html><h1>Accepted</h1><p>The request is accepted for processing.</p></html>"},
    {400, "<html><h1>Bad Request</h1><p>The server could not comply with the request since it is either "
          "malformed or otherwise incorrect.</p></html>"},
    {401, "<html><h1>Unauthorized</h1><p>This server could not verify that you are authorized to access the "
          "document you requested.</p></html>"},
    {403, "<html><h1>Forbidden</h1><p>Access was denied to this resource.</p></html>"},
    {404, "<html><h1>Not Found</h1><p>The resource could not be found.</p></html>"},
    {405, "<html><h1>Method Not Allowed</h1><p>The method is not allowed for this resource.</p></html>"},
    {409, "<html><h1>Conflict</h1><p>There was a conflict when trying to complete your request.</p></html>"},
    {411, "<html><h1>Length Required</h1><p>Length Required</p></html>"},
    {412, "<html><h1>Precondition Failed</h1><p>A precondition for this request was not met.</p></html>"},
    {413, "<html><h1>Request Entity Too Large</h1><p>The body of your request was too large for this "
          "server.</p></html>"},
    {416, "<html><h1>Requested Range Not Satisfiable</h1><p>The Range requested is not available.</p></html>"},
    {422, "<html><h1>Unprocessable Entity</h1><p>Unable to process the contained instructions</p></html>"},
    {500, "<html><h1>Internal Error</h1><p>The server has either erred or is incapable of performing the "
          "requested operation.</p></html>"},
    {501, "<html><h1>Not Implemented</h1><p>The requested method is not implemented by this server.</p></html>"},
    {503, "<html><h1>Service Unavailable</h1><p>The server is currently unavailable. Please try again at a "
          "later time.</p></html>"},
};

size_t swift_final_headers(swift_req_t *r, int status, og_header_t *h, size_t n)
{
    if (r->tu.scope != SWIFT_TU_NONE)
        n = swift_tempurl_headers(r, status, h, n);
    if (r->cors.allowed)
        n = swift_cors_headers(r, h, n);
    h[n++] = (og_header_t){OG_STR_LIT("X-Trans-Id"), og_str(r->trans_id)};
    h[n++] = (og_header_t){OG_STR_LIT("X-Openstack-Request-Id"), og_str(r->trans_id)};
    return n;
}

int swift_acl_public(const swift_req_t *r, og_str_t acl, int mode)
{
    return !r->has_id && mode != IAM_ACL_WRITE && iam_acl_allows(acl, NULL, (og_str_t){"", 0}, mode);
}

void swift_send(swift_req_t *r, int status, const og_header_t *extra, size_t n, const char *ctype,
                   const void *body, size_t len)
{
    og_header_t stack[16 + SWIFT_FINAL_MAX], *hdrs = stack;
    size_t k = 0;
    if (n + 1 + SWIFT_FINAL_MAX > sizeof(stack) / sizeof(stack[0]) &&
        (hdrs = malloc((n + 1 + SWIFT_FINAL_MAX) * sizeof(*hdrs))) == NULL) {
        hdrs = stack, n = 0; /* answer without the extras rather than not at all */
    }
    if (body == NULL && status >= 400) {
        for (size_t i = 0; i < sizeof(std_bodies) / sizeof(std_bodies[0]); i++)
            if (std_bodies[i].status == status)
                body = std_bodies[i].body, len = strlen(body);
    }
    if (body == NULL && status == 202)
        body = std_bodies[0].body, len = strlen(body);
    if (ctype == NULL || ctype[0] != '\0') /* "": no Content-Type (a CORS preflight's answer) */
        hdrs[k++] = (og_header_t){OG_STR_LIT("Content-Type"), og_str(ctype ? ctype : "text/html; charset=UTF-8")};
    for (size_t i = 0; i < n; i++)
        hdrs[k++] = extra[i];
    k = swift_final_headers(r, status, hdrs, k);
    r->responded = 1;
    r->status = status;
    http_resp_send(r->http, status, hdrs, k, status == 204 ? NULL : body, status == 204 ? 0 : len);
    if (hdrs != stack)
        free(hdrs);
}

void swift_error(swift_req_t *r, int status)
{
    if (status == 401) {
        char realm[96];
        int n = r->account[0] ? snprintf(realm, sizeof(realm), "Swift realm=\"AUTH_%s\"", r->account)
                              : snprintf(realm, sizeof(realm), "Swift realm=\"unknown\"");
        og_header_t h = {OG_STR_LIT("Www-Authenticate"), {realm, (size_t)n}};
        swift_send(r, 401, &h, 1, NULL, NULL, 0);
        return;
    }
    if (status == 405) {
        og_header_t h = {OG_STR_LIT("Allow"), OG_STR_LIT("POST, OPTIONS, GET, PUT, DELETE, HEAD")};
        swift_send(r, 405, &h, 1, NULL, NULL, 0);
        return;
    }
    swift_send(r, status, NULL, 0, NULL, NULL, 0);
}

void swift_error_rc(swift_req_t *r, int rc)
{
    switch (rc) {
    case OG_ENOTFOUND:
        swift_error(r, 404);
        break;
    case OG_EQUORUM:
    case OG_ETIMEOUT:
        swift_error(r, 503);
        break;
    case CORE_EQUOTA:
        swift_send(r, 413, NULL, 0, NULL, "Upload exceeds quota.", 21);
        break;
    case CORE_EIDVER: /* X-Versions-Enabled on a container whose name another account holds */
        swift_error(r, 501);
        break;
    case OG_ETOOBIG:
        swift_error(r, 413);
        break;
    case OG_EINVAL:
    case HTTP_EBODY:
        swift_error(r, 400);
        break;
    case SWIFT_EREFUSED: {
        /* Swift's middlewares (tempurl, formpost) refuse with a 401 made without the request:
         * its realm is "unknown". */
        og_header_t h = {OG_STR_LIT("Www-Authenticate"), OG_STR_LIT("Swift realm=\"unknown\"")};
        swift_send(r, r->refusal.status, &h, r->refusal.status == 401, r->refusal.ctype, r->refusal.body,
                   strlen(r->refusal.body));
        break;
    }
    case CORE_EPRECOND:
        swift_error(r, 412);
        break;
    case OG_EBADDIGEST:
        swift_error(r, 422);
        break;
    case OG_EBADNAME:
        swift_send(r, 412, NULL, 0, NULL, "Invalid UTF8 or contains NULL", 29);
        break;
    case -EACCES:
        swift_error(r, r->has_id ? 403 : 401);
        break;
    case HTTP_EABORTED:
        r->responded = 1; /* the client is gone: nobody to answer */
        r->status = 499;
        break;
    default:
        swift_error(r, 500);
        break;
    }
}

int swift_refuse(swift_req_t *r, int status, const char *ctype, const char *fmt, ...)
{
    va_list ap;
    r->refusal.status = status;
    r->refusal.ctype = ctype;
    va_start(ap, fmt);
    vsnprintf(r->refusal.body, sizeof(r->refusal.body), fmt, ap);
    va_end(ap);
    return SWIFT_EREFUSED;
}

size_t swift_timestamp(uint64_t ns, char out[32])
{
    return (size_t)snprintf(out, 32, "%" PRIu64 ".%05" PRIu64, ns / 1000000000u, ns % 1000000000u / 10000u);
}

size_t swift_title(const char *prefix, og_str_t suffix, char *out, size_t cap)
{
    size_t n = (size_t)snprintf(out, cap, "%s", prefix);
    int up = 1;
    if (n >= cap)
        return cap - 1;
    for (size_t i = 0; i < suffix.len && n + 1 < cap; i++) {
        char c = suffix.base[i];
        if (up && c >= 'a' && c <= 'z')
            c = (char)(c - 32);
        up = c == '-';
        out[n++] = c;
    }
    out[n] = '\0';
    return n;
}

/* ---------------------------------------------------------------- metadata */

static int lower_eq_prefix(og_str_t name, const char *prefix)
{
    size_t n = strlen(prefix);
    return name.len > n && strncasecmp(name.base, prefix, n) == 0;
}

int swift_meta_merge(swift_req_t *r, const char *prefix, const char *remove_prefix,
                        const char *const *extra_names, og_header_t **cur, size_t *n, char **mem)
{
    const http_reqinfo_t *info = r->info;
    size_t cap = *n + info->num_headers, k = 0, bytes = 0, plen = strlen(prefix), rplen = strlen(remove_prefix);
    og_header_t *out = malloc((cap ? cap : 1) * sizeof(*out));
    char *m, *p;
    for (size_t i = 0; i < info->num_headers; i++)
        bytes += info->headers[i].name.len;
    if (out == NULL || (m = p = malloc(bytes + 1)) == NULL) {
        free(out);
        return -ENOMEM;
    }
    for (size_t i = 0; i < *n; i++)
        out[k++] = (*cur)[i];
    for (size_t i = 0; i < info->num_headers; i++) {
        og_str_t name = info->headers[i].name, value = info->headers[i].value;
        int remove = 0, keep = 0;
        if (lower_eq_prefix(name, remove_prefix)) {
            /* X-Remove-Container-Meta-Foo -> x-container-meta-foo */
            remove = 1;
            name = (og_str_t){name.base + rplen, name.len - rplen};
            memcpy(p, prefix, plen);
            for (size_t j = 0; j < name.len; j++)
                p[plen + j] = (char)(name.base[j] >= 'A' && name.base[j] <= 'Z' ? name.base[j] + 32 : name.base[j]);
            name = (og_str_t){p, plen + name.len};
        } else if (lower_eq_prefix(name, prefix)) {
            keep = 1;
        } else {
            for (size_t j = 0; extra_names && extra_names[j]; j++) {
                /* x-remove-container-read removes x-container-read */
                if (og_str_ieq(name, extra_names[j]))
                    keep = 1;
                else if (name.len > 9 && strncasecmp(name.base, "x-remove-", 9) == 0 &&
                         og_str_ieq((og_str_t){name.base + 9, name.len - 9}, extra_names[j] + 2))
                    remove = 1, name = og_str(extra_names[j]);
            }
        }
        if (!remove && !keep)
            continue;
        if (!remove) {
            for (size_t j = 0; j < name.len; j++)
                p[j] = (char)(name.base[j] >= 'A' && name.base[j] <= 'Z' ? name.base[j] + 32 : name.base[j]);
            name = (og_str_t){p, name.len};
        }
        if (name.base == p)
            p += name.len;
        /* Drop any earlier value of this name, then add the new one unless it is a removal. */
        for (size_t j = 0; j < k; j++)
            if (out[j].name.len == name.len && strncasecmp(out[j].name.base, name.base, name.len) == 0) {
                out[j] = out[--k];
                j--;
            }
        if (!remove && value.len > 0)
            out[k++] = (og_header_t){name, value};
    }
    /* Swift's limits, on the metadata that will be stored (the part after the prefix is the name). */
    size_t overall = 0, count = 0;
    for (size_t i = 0; i < k; i++) {
        if (out[i].name.len <= plen || strncmp(out[i].name.base, prefix, plen) != 0)
            continue; /* ACLs are not metadata: only the header size bounds them */
        size_t nl = out[i].name.len - plen;
        if (nl > SWIFT_MAX_META_NAME || out[i].value.len > SWIFT_MAX_META_VALUE)
            goto too_big;
        overall += nl + out[i].value.len;
        count++;
    }
    if (count > SWIFT_MAX_META_COUNT || overall > SWIFT_MAX_META_OVERALL)
        goto too_big;
    *cur = out, *n = k, *mem = m;
    return 0;
too_big:
    free(out);
    free(m);
    return OG_ETOOBIG;
}

/* ---------------------------------------------------------------- /info */

static void send_info(swift_req_t *r)
{
    char body[2048];
    int n = snprintf(body, sizeof(body),
                     "{\"swift\": {\"version\": \"2.30.1\", \"max_file_size\": %llu, \"max_meta_name_length\": %d, "
                     "\"max_meta_value_length\": %d, \"max_meta_count\": %d, \"max_meta_overall_size\": %d, "
                     "\"max_header_size\": 8192, \"max_object_name_length\": %d, \"container_listing_limit\": %d, "
                     "\"account_listing_limit\": %d, \"max_account_name_length\": 63, "
                     "\"max_container_name_length\": %d, \"extra_header_count\": 0, "
                     "\"valid_api_versions\": [\"v1\", \"v1.0\"], \"policies\": [{\"name\": \"Policy-0\", "
                     "\"aliases\": \"Policy-0\", \"default\": true}], \"allow_account_management\": false, "
                     "\"account_autocreate\": true, \"strict_cors_mode\": true}, "
                     "\"tempauth\": {\"account_acls\": true}, \"container_quotas\": {}, \"account_quotas\": {}, "
                     "\"slo\": {\"max_manifest_segments\": %d, \"max_manifest_size\": %d, \"yield_frequency\": 10, "
                     "\"min_segment_size\": 1, \"allow_async_delete\": false}, \"dlo\": {}, \"versioned_writes\": {\"allowed_flags\": [\"x-versions-location\", "
                     "\"x-history-location\"]}, \"object_versioning\": {}, "
                     "\"tempurl\": {\"methods\": [\"GET\", \"HEAD\", \"PUT\", \"POST\", \"DELETE\"], "
                     "\"incoming_remove_headers\": [\"x-timestamp\"], \"incoming_allow_headers\": [], "
                     "\"outgoing_remove_headers\": [\"x-object-meta-*\"], "
                     "\"outgoing_allow_headers\": [\"x-object-meta-public-*\"], "
                     "\"allowed_digests\": [\"sha1\", \"sha256\", \"sha512\"], \"deprecated_digests\": [\"sha1\"]}, "
                     "\"formpost\": {\"allowed_digests\": [\"sha1\", \"sha256\", \"sha512\"], "
                     "\"deprecated_digests\": [\"sha1\"]}}",
                     (unsigned long long)SWIFT_MAX_FILE_SIZE, SWIFT_MAX_META_NAME, SWIFT_MAX_META_VALUE,
                     SWIFT_MAX_META_COUNT, SWIFT_MAX_META_OVERALL, OG_KEY_MAX,
                     SWIFT_LISTING_LIMIT, SWIFT_LISTING_LIMIT, SWIFT_MAX_CONTAINER_NAME,
                     CORE_SLO_MAX_SEGMENTS, CORE_SLO_MAX_MANIFEST);
    if (!og_str_eq(r->info->method, "GET") && !og_str_eq(r->info->method, "HEAD")) {
        swift_error(r, 405);
        return;
    }
    swift_send(r, 200, NULL, 0, "application/json; charset=UTF-8", body, (size_t)n);
}

/* ---------------------------------------------------------------- the front door */

/* Swift's form: "tx", 21 hex digits (two request ids' worth, cut), "-", the time in hex. */
static void make_trans_id(swift_req_t *r)
{
    char hex[2][17];
    http_request_id(r->http, hex[0]);
    http_request_id(r->http, hex[1]);
    snprintf(r->trans_id, sizeof(r->trans_id), "tx%s%.5s-%010llx", hex[0], hex[1], (unsigned long long)r->now_s);
}

int swift_long_object_name(swift_req_t *r, size_t len)
{
    return swift_refuse(r, 400, "text/plain", "Object name length of %zu longer than %d", len, OG_KEY_MAX);
}

/* The "/<etag>" that follows "/_v" in p into r->pin: the rest of p (as after "/v1"), or {NULL, 0}
 * when it is not 32 hex digits followed by an object path. */
static og_str_t pin_split(swift_req_t *r, og_str_t p)
{
    if (p.len < 1 + 32 + 1 || p.base[33] != '/')
        return (og_str_t){NULL, 0};
    for (size_t i = 1; i <= 32; i++)
        if (!isxdigit((unsigned char)p.base[i]))
            return (og_str_t){NULL, 0};
    for (size_t i = 0; i < 32; i++)
        r->pin[i] = (char)tolower((unsigned char)p.base[1 + i]);
    r->pin[32] = '\0';
    return (og_str_t){p.base + 33, p.len - 33};
}

size_t swift_pin_url(const swift_req_t *r, const unsigned char md5[16], char *out)
{
    return core_pin_url(r->account, r->container, (og_str_t){r->object, r->object_len}, md5, out);
}

/* Splits /v1/AUTH_<account>[/<container>[/<object>]]. 0, -EACCES (not an account of this auth
 * system: TempAuth denies it), OG_EINVAL, SWIFT_EREFUSED (a PUT of a name too long),
 * OG_ENOTFOUND (another request naming a container or object too long to exist, 404 as Swift) or
 * -ENOMEM. */
static int split_path(swift_req_t *r)
{
    og_str_t p = r->info->path;
    p.base += 3, p.len -= 3; /* "/v1", or "/_v" followed by "/<etag>" */
    if (path_is(r->info->path, CORE_PIN_PREFIX) && (p = pin_split(r, p)).base == NULL)
        return OG_ENOTFOUND;
    if (p.len > 0)
        p.base++, p.len--;
    const char *s1 = memchr(p.base, '/', p.len);
    og_str_t acct = {p.base, s1 ? (size_t)(s1 - p.base) : p.len};
    char abuf[80];
    long n = og_urldecode(acct.base, acct.len, abuf, sizeof(abuf) - 1, 0);
    if (n <= 5 || memcmp(abuf, "AUTH_", 5) != 0 || n - 5 >= (long)sizeof(r->account) ||
        memchr(abuf, '\0', (size_t)n) != NULL) {
        return n < 0 ? OG_EINVAL : -EACCES;
    }
    memcpy(r->account, abuf + 5, (size_t)n - 5);
    r->account[n - 5] = '\0';
    if (s1 == NULL)
        return 0;
    p = (og_str_t){s1 + 1, p.len - acct.len - 1};
    const char *s2 = memchr(p.base, '/', p.len);
    og_str_t cont = {p.base, s2 ? (size_t)(s2 - p.base) : p.len};
    if (cont.len == 0)
        return 0; /* "/v1/AUTH_a/" is the account */
    char cbuf[3 * (SWIFT_MAX_CONTAINER_NAME + 1)];
    n = og_urldecode(cont.base, cont.len, cbuf, sizeof(cbuf) - 1, 0);
    if (n == OG_ETOOBIG || n > SWIFT_MAX_CONTAINER_NAME) {
        if (!swift_is_method(r, "PUT") || (s2 != NULL && s2 + 1 != p.base + p.len))
            return OG_ENOTFOUND;
        return swift_refuse(r, 400, "text/html; charset=UTF-8", "Container name length of %zu longer than %d",
                            cont.len, SWIFT_MAX_CONTAINER_NAME);
    }
    if (n <= 0 || memchr(cbuf, '/', (size_t)n) != NULL || memchr(cbuf, '\0', (size_t)n) != NULL)
        return OG_EINVAL;
    memcpy(r->container, cbuf, (size_t)n);
    r->container[n] = '\0';
    r->has_container = 1;
    if (s2 == NULL || s2 + 1 == p.base + p.len)
        return 0;
    og_str_t obj = {s2 + 1, p.len - cont.len - 1};
    if ((r->object = malloc(obj.len + 1)) == NULL)
        return -ENOMEM;
    n = og_urldecode(obj.base, obj.len, r->object, obj.len, 0);
    if (n <= 0 || memchr(r->object, '\0', (size_t)n) != NULL)
        return OG_EINVAL;
    r->object[n] = '\0';
    r->object_len = (size_t)n;
    if (n > OG_KEY_MAX)
        return swift_is_method(r, "PUT") ? swift_long_object_name(r, (size_t)n) : OG_ENOTFOUND;
    return 0;
}

/* Swift's first check, before the token: the decoded path must be UTF-8 without a NUL, or the
 * request is 412 whatever it asks. Names are stored and listed as UTF-8 text (JSON, XML), so one
 * that is not could never be listed again. 0, OG_EBADNAME, OG_EINVAL (a bad escape) or -ENOMEM. */
static int check_path_utf8(swift_req_t *r)
{
    og_str_t p = r->info->path;
    char *buf = malloc(p.len + 1);
    if (buf == NULL)
        return -ENOMEM;
    long n = og_urldecode(p.base, p.len, buf, p.len + 1, 0);
    int ok = n >= 0 && og_utf8_valid(buf, (size_t)n, 0);
    free(buf);
    return n < 0 ? OG_EINVAL : ok ? 0 : OG_EBADNAME;
}

/* Reads X-Auth-Token. 0 (with or without an identity), -EACCES for a token that is forged,
 * expired or revoked (401: the caller has no identity), or an error reading the token key or the
 * token's user. */
static int check_token(swift_req_t *r)
{
    og_str_t tok = http_req_header(r->http, "x-auth-token");
    /* A TempURL request is its signature's alone (Swift's tempurl runs before the auth system):
     * valid, it acts without identity; invalid, it is 401 whatever token came along. */
    if (og_query_get(r->info->query, "temp_url_sig", NULL) || og_query_get(r->info->query, "temp_url_expires", NULL))
        return 0;
    if (tok.base == NULL)
        tok = http_req_header(r->http, "x-storage-token");
    if (tok.base == NULL)
        return 0;
    int rc = iam_token_check(r->sw->iam, tok, r->now_s, &r->id);
    if (rc == OG_EINVAL || rc == OG_ENOTFOUND)
        return -EACCES;
    r->has_id = rc == 0;
    return rc;
}

/* Fair share of the workers (http_req_claim): a token holder counts against its account (the
 * same claimant as the account's S3 keys), an anonymous request against its client address. 0 or
 * HTTP_EBUSY. */
static int claim_worker(swift_req_t *r)
{
    if (r->has_id)
        return http_req_claim(r->http, og_str(r->id.account));
    return http_req_claim_remote(r->http);
}

og_str_t swift_busy_body(const http_reqinfo_t *info, void *ctx, const char **content_type)
{
    (void)info;
    (void)ctx;
    *content_type = "text/html; charset=UTF-8";
    for (size_t i = 0; i < sizeof(std_bodies) / sizeof(std_bodies[0]); i++)
        if (std_bodies[i].status == 503)
            return og_str(std_bodies[i].body);
    return (og_str_t){"", 0};
}

static void route(swift_req_t *r)
{
    og_str_t path = r->info->path;
    if (og_str_eq(path, "/auth/v1.0") || og_str_eq(path, "/auth/v1")) {
        swift_auth(r);
        return;
    }
    if (!path_is(path, "/v1") && !path_is(path, CORE_PIN_PREFIX)) {
        send_info(r);
        return;
    }
    int rc;
    if ((rc = check_path_utf8(r)) != 0 || (rc = check_token(r)) != 0 || (rc = split_path(r)) != 0) {
        swift_error_rc(r, rc);
        return;
    }
    if (r->pin[0] != '\0' && (r->object == NULL || !(swift_is_method(r, "GET") || swift_is_method(r, "HEAD")))) {
        swift_error(r, r->object == NULL ? 404 : 405); /* an immutable URL names an object to read */
        return;
    }
    if (claim_worker(r) != 0) {
        og_header_t h = {OG_STR_LIT("Retry-After"), OG_STR_LIT("1")};
        swift_send(r, 503, &h, 1, NULL, NULL, 0);
        return;
    }
    if (swift_is_method(r, "OPTIONS")) { /* CORS preflights come without credentials */
        swift_options(r);
        return;
    }
    if ((rc = swift_tempurl_check(r)) != 0 || (rc = swift_cors_load(r)) != 0) {
        swift_error_rc(r, rc);
        return;
    }
    r->is_owner = r->has_id && ((strcmp(r->id.account, r->account) == 0 && (r->id.flags & IAM_SWIFT_ADMIN)) ||
                                (r->id.flags & IAM_SWIFT_RESELLER));
    if (!r->is_owner && r->has_id && (rc = swift_account_acl(r)) != 0) {
        swift_error_rc(r, rc);
        return;
    }
    if (r->has_container && swift_is_formpost(r))
        swift_formpost(r);
    else if (!r->has_container)
        swift_account(r);
    else if (r->object == NULL)
        swift_container(r);
    else
        swift_object(r);
}

void swift_handle(http_req_t *http, void *ctx)
{
    swift_t *sw = ctx;
    swift_req_t r = {.http = http, .info = http_req_info(http), .sw = sw, .cl = sw->cl};
    r.now_s = og_time_ns() / 1000000000u;
    make_trans_id(&r);
    /* Private unless a handler knows the answer is public (swift_cache_public). */
    http_req_cache_private(http, 1);
    route(&r);
    if (!r.responded) {
        fprintf(stderr, "onggi-gateway: request %s: %.*s %.*s returned without a response\n", r.trans_id,
                (int)r.info->method.len, r.info->method.base, (int)r.info->path.len, r.info->path.base);
        swift_error(&r, 500);
    }
    size_t op = swift_op_classify(&r);
    http_req_set_op(http, sw->api_index, (unsigned)op);
    http_log_line_t line = {r.trans_id, r.has_id ? r.id.account : NULL, "swift", swift_op_name(op),
                            og_str(r.container), {r.object, r.object != NULL ? r.object_len : 0}, r.info->path,
                            r.status};
    http_access_log(http, &line, sw->access_log);
    free(r.object);
    free(r.tu.filename);
    free(r.cors.allow_origin);
    free(r.cors.expose);
    free(r.cors.max_age);
    free(r.final[0]);
    free(r.final[1]);
}
