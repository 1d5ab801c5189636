/*
 * Swift object operations: PUT (with ETag check, X-Copy-From, expiry, quotas), GET/HEAD (Range,
 * conditionals), DELETE, POST (replaces metadata), COPY (Destination), and the entry points of
 * large objects (swift_slo.c): PUT/GET/DELETE ?multipart-manifest=..., SLO and DLO GET/HEAD.
 * In a container with a legacy versioning mode, writes and DELETE go by swift_legacy.c first.
 *
 * Objects are the same records S3 writes (core/core.h): user metadata is stored under the S3 name
 * (X-Object-Meta-Foo as x-amz-meta-foo), the ETag is the body's MD5, so both APIs read the
 * same object identically. Expired objects (X-Delete-At in the past) answer 404 and are
 * reclaimed on access.
 */
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <strings.h>

#include "core/core.h"
#include "http/http.h"
#include "swift_int.h"

#define META_PREFIX "x-object-meta-"
#define STORED_PREFIX "x-amz-meta-"

/* The headers an object keeps besides user metadata (as S3 stores them), and a DLO's manifest. */
static const char *const stored_standard[] = {"Cache-Control",    "Content-Disposition", "Content-Encoding",
                                              "Content-Language", "Expires",             "X-Object-Manifest"};

/* Swift guesses a missing Content-Type from the object name (Python's mimetypes); the common
 * extensions are enough for clients (swiftclient sends none on upload). */
static og_str_t guess_type(og_str_t name)
{
    static const struct {
        const char *ext, *type;
    } types[] = {
        {"txt", "text/plain"},        {"html", "text/html"},       {"htm", "text/html"},
        {"css", "text/css"},          {"csv", "text/csv"},         {"js", "application/javascript"},
        {"json", "application/json"}, {"xml", "text/xml"},         {"png", "image/png"},
        {"jpg", "image/jpeg"},        {"jpeg", "image/jpeg"},      {"gif", "image/gif"},
        {"svg", "image/svg+xml"},     {"pdf", "application/pdf"},  {"zip", "application/zip"},
        {"tar", "application/x-tar"}, {"mp4", "video/mp4"},        {"mp3", "audio/mpeg"},
        {"py", "text/x-python"},      {"sh", "application/x-sh"},  {"md", "text/markdown"},
    };
    const char *dot = NULL;
    for (size_t i = name.len; i > 0 && name.base[i - 1] != '/'; i--)
        if (name.base[i - 1] == '.') {
            dot = name.base + i;
            break;
        }
    if (dot != NULL) {
        og_str_t ext = {dot, (size_t)(name.base + name.len - dot)};
        for (size_t i = 0; i < sizeof(types) / sizeof(types[0]); i++)
            if (og_str_ieq(ext, types[i].ext))
                return og_str(types[i].type);
    }
    return OG_STR_LIT("application/octet-stream");
}

/* A 400 with Swift's reason as a text/plain body (SWIFT_EREFUSED). */
static int invalid(swift_req_t *r, const char *why) { return swift_refuse(r, 400, "text/plain", "%s", why); }

int swift_container_access(swift_req_t *r, const char *container, int mode, char id[CORE_BID_CAP])
{
    core_bucket_t b;
    int rc = core_bucket_find(r->cl, r->account, container, &b), got = rc == 0;
    r->public_grant = 0;
    if (rc == 0)
        memcpy(id, b.id, CORE_BID_CAP);
    /* A TempURL grants its object's container (container key) or the whole account (account
     * key, so an SLO's segments elsewhere in the account read too), as Swift's tempurl. */
    int tu = r->tu.scope == SWIFT_TU_ACCOUNT || (r->tu.scope == SWIFT_TU_CONTAINER && !strcmp(container, r->container));
    if (rc == 0 && !r->is_owner && !r->acct_grant && !tu) {
        og_str_t referer = http_req_header(r->http, "referer");
        if (!iam_bucket_allows(&b, r->has_id ? &r->id : NULL, referer, mode))
            rc = -EACCES;
        else /* shareable only when anyone may read it, whatever the Referer (swift_acl_public) */
            r->public_grant = !r->has_id && mode != IAM_ACL_WRITE &&
                              iam_bucket_allows(&b, NULL, (og_str_t){"", 0}, mode);
    }
    if (got)
        core_bucket_free(&b);
    if (rc == OG_ENOTFOUND && !r->is_owner && !r->acct_grant && !tu)
        rc = -EACCES; /* never tell a stranger whether a container exists */
    return rc;
}

/* ---------------------------------------------------------------- metadata */

typedef struct {
    og_header_t *hdrs;
    size_t n;
    char *names; /* lowercased stored names */
    og_str_t ctype;
    int has_ctype;
    uint64_t delete_at;
    int has_delete_at;
} obj_meta_t;

static void obj_meta_free(obj_meta_t *om)
{
    free(om->hdrs);
    free(om->names);
}

/* Collects the request's object metadata (X-Object-Meta-* as x-amz-meta-*, the stored standard
 * headers, Content-Type, X-Delete-At/-After) and checks Swift's limits. Slices point into the
 * request. 0, SWIFT_EREFUSED (400 with Swift's reason) or -ENOMEM. */
static int obj_meta_read(swift_req_t *r, obj_meta_t *om)
{
    const http_reqinfo_t *info = r->info;
    size_t names_len = 0, count = 0, overall = 0;
    const size_t mp = sizeof(META_PREFIX) - 1, sp = sizeof(STORED_PREFIX) - 1;
    memset(om, 0, sizeof(*om));
    for (size_t i = 0; i < info->num_headers; i++)
        names_len += info->headers[i].name.len;
    om->hdrs = malloc((info->num_headers + 1) * sizeof(*om->hdrs));
    char *p = om->names = malloc(names_len + 1);
    if (om->hdrs == NULL || om->names == NULL)
        return -ENOMEM;
    for (size_t i = 0; i < info->num_headers; i++) {
        og_str_t name = info->headers[i].name, value = info->headers[i].value;
        if (name.len > mp && strncasecmp(name.base, META_PREFIX, mp) == 0) {
            size_t sl = name.len - mp;
            if (sl > SWIFT_MAX_META_NAME)
                return invalid(r, "Metadata name too long; max 128");
            if (value.len > SWIFT_MAX_META_VALUE)
                return invalid(r, "Metadata value longer than 256");
            count++;
            overall += sl + value.len;
            memcpy(p, STORED_PREFIX, sp);
            for (size_t j = 0; j < sl; j++) {
                char c = name.base[mp + j];
                p[sp + j] = (char)(c >= 'A' && c <= 'Z' ? c + 32 : c);
            }
            om->hdrs[om->n++] = (og_header_t){{p, sp + sl}, value};
            p += sp + sl;
            continue;
        }
        if (og_str_ieq(name, "content-type")) {
            om->ctype = value, om->has_ctype = value.len > 0;
            continue;
        }
        if (og_str_ieq(name, "x-delete-at") || og_str_ieq(name, "x-delete-after")) {
            uint64_t v;
            if (og_parse_dec(value, 19, &v) != 0)
                return invalid(r, og_str_ieq(name, "x-delete-at") ? "Non-integer X-Delete-At"
                                                                  : "Non-integer X-Delete-After");
            if (og_str_ieq(name, "x-delete-after"))
                v += r->now_s;
            if (v <= r->now_s)
                return invalid(r, "X-Delete-At in past");
            om->delete_at = v, om->has_delete_at = 1;
            continue;
        }
        if (og_str_ieq(name, "x-object-manifest") && !core_dlo_valid(value))
            return swift_refuse(r, 400, NULL, "X-Object-Manifest must be in the format container/prefix");
        for (size_t j = 0; j < sizeof(stored_standard) / sizeof(stored_standard[0]); j++)
            if (og_str_ieq(name, stored_standard[j]))
                om->hdrs[om->n++] = (og_header_t){og_str(stored_standard[j]), value};
    }
    if (count > SWIFT_MAX_META_COUNT)
        return invalid(r, "Too many metadata items; max 90");
    if (overall > SWIFT_MAX_META_OVERALL)
        return invalid(r, "Total metadata too large; max 4096");
    return 0;
}

/* ---------------------------------------------------------------- shared answers */

/* Swift's Etag: bare hex for a plain object, quoted "hex-N" for a multipart one, quoted for a
 * large object (quoted set). */
static size_t swift_etag(const core_meta_t *m, int quoted, char out[48])
{
    size_t n = core_meta_etag(m, out);
    if (m->parts > 0 || quoted)
        return n;
    memmove(out, out + 1, n - 2);
    out[n - 2] = '\0';
    return n - 2;
}

/* Reads the live, unexpired object (bucket, key). 0 with *m and *buf, OG_ENOTFOUND (absent, or
 * expired and then reclaimed) or an error. */
static int lookup(swift_req_t *r, const char *bucket, og_str_t key, core_meta_t *m, char **buf)
{
    int rc = core_obj_lookup(r->cl, bucket, key, m, buf);
    if (rc == 0 && core_meta_expired(m, r->now_s)) {
        /* Best effort: a failed reclaim is retried by the next access or `onggi-admin expire`. */
        core_obj_expire(r->cl, bucket, key, m);
        core_meta_free(m);
        free(*buf);
        *buf = NULL;
        rc = OG_ENOTFOUND;
    }
    return rc;
}

/* ---------------------------------------------------------------- PUT */

static ssize_t body_read(void *ctx, void *buf, size_t cap)
{
    swift_req_t *r = ctx;
    return http_req_read(r->http, buf, cap);
}

/* A body held in memory (an SLO manifest) as a core_obj_src_t. */
typedef struct {
    const char *p;
    size_t left;
} mem_src_t;

static ssize_t mem_read(void *ctx, void *buf, size_t cap)
{
    mem_src_t *m = ctx;
    size_t n = m->left < cap ? m->left : cap;
    memcpy(buf, m->p, n);
    m->p += n, m->left -= n;
    return (ssize_t)n;
}

/* Is the query's multipart-manifest parameter `what` ("put", "get", "delete")? */
static int multipart_manifest(const swift_req_t *r, const char *what)
{
    og_str_t v;
    return og_query_get(r->info->query, "multipart-manifest", &v) && og_str_eq(v, what);
}

/* Strips quotes from a client's ETag header. */
static og_str_t unquote(og_str_t v)
{
    if (v.len >= 2 && v.base[0] == '"' && v.base[v.len - 1] == '"')
        v.base++, v.len -= 2;
    return v;
}

/* An object's response headers (GET, HEAD, conditional and range failures, COPY): built once,
 * strings in the struct or the record. */
typedef struct {
    char etag[48], lm[32], ts[32], dat[24], crange[80], expires[32];
    char pin_url[CORE_PIN_URL_CAP]; /* X-Onggi-Immutable-Url */
    char (*names)[160]; /* X-Object-Meta-* spellings */
    og_header_t *h;
    size_t n;
} obj_hdrs_t;

static void obj_hdrs_free(obj_hdrs_t *oh)
{
    free(oh->names);
    free(oh->h);
}

/* Content-Type, Etag (quoted: a large object's), Last-Modified, X-Timestamp, Accept-Ranges,
 * X-Delete-At, the stored headers (user metadata as X-Object-Meta-*), with room for 8 more and
 * swift_final_headers'. 0 or -ENOMEM. */
static int obj_hdrs_build(const core_meta_t *m, int quoted, obj_hdrs_t *oh)
{
    const size_t sp = sizeof(STORED_PREFIX) - 1;
    size_t k = 0;
    oh->h = malloc((14 + SWIFT_FINAL_MAX + m->num_headers) * sizeof(*oh->h));
    oh->names = malloc((m->num_headers + 1) * sizeof(*oh->names));
    if (oh->h == NULL || oh->names == NULL)
        return -ENOMEM;
    http_date_format(m->mtime_ns, oh->lm);
    oh->h[k++] = (og_header_t){OG_STR_LIT("Content-Type"), m->content_type};
    oh->h[k++] = (og_header_t){OG_STR_LIT("Etag"), {oh->etag, swift_etag(m, quoted, oh->etag)}};
    oh->h[k++] = (og_header_t){OG_STR_LIT("Last-Modified"), og_str(oh->lm)};
    oh->h[k++] = (og_header_t){OG_STR_LIT("X-Timestamp"), {oh->ts, swift_timestamp(m->mtime_ns, oh->ts)}};
    oh->h[k++] = (og_header_t){OG_STR_LIT("Accept-Ranges"), OG_STR_LIT("bytes")};
    if (m->delete_at)
        oh->h[k++] = (og_header_t){OG_STR_LIT("X-Delete-At"),
                                   {oh->dat, (size_t)snprintf(oh->dat, sizeof(oh->dat), "%" PRIu64, m->delete_at)}};
    for (size_t i = 0; i < m->num_headers; i++) {
        og_str_t name = m->headers[i].name;
        if (name.len > sp && strncasecmp(name.base, STORED_PREFIX, sp) == 0) {
            size_t l = swift_title("X-Object-Meta-", (og_str_t){name.base + sp, name.len - sp}, oh->names[i],
                                      sizeof(oh->names[i]));
            oh->h[k++] = (og_header_t){{oh->names[i], l}, m->headers[i].value};
        } else if (!og_str_ieq(name, IAM_S3ACL_HEADER)) { /* S3's ACL is no header */
            oh->h[k++] = m->headers[i];
        }
    }
    oh->n = k;
    return 0;
}

/* Sends oh's headers (Content-Type first, replaced by ctype when not NULL) plus the transaction
 * headers, with a body held in memory. */
static void obj_hdrs_send(swift_req_t *r, obj_hdrs_t *oh, int status, const char *ctype, const void *body,
                          size_t len)
{
    if (ctype != NULL)
        oh->h[0].value = og_str(ctype);
    oh->n = swift_final_headers(r, status, oh->h, oh->n);
    r->responded = 1;
    r->status = status;
    http_resp_send(r->http, status, oh->h, oh->n, body, len);
}

/* 201 for PUT and copies: Etag and Last-Modified; a copy also reports its source and the new
 * object's metadata, as Swift's copy middleware. */
static void send_created(swift_req_t *r, const core_meta_t *m, const og_header_t *extra, size_t n)
{
    obj_hdrs_t oh;
    og_header_t h[8];
    size_t k = 0;
    core_meta_t view = *m; /* an SLO answers with its own ETag, quoted */
    if (m->flags & CORE_META_SLO)
        memcpy(view.md5, m->slo_etag, 16), view.parts = 0;
    if (obj_hdrs_build(&view, (m->flags & CORE_META_SLO) != 0, &oh) != 0) {
        swift_error_rc(r, -ENOMEM);
        goto out_free;
    }
    h[k++] = oh.h[1];
    h[k++] = oh.h[2];
    k += swift_version_header(r, m, h + k);
    size_t ul = swift_pin_url(r, view.md5, oh.pin_url);
    if (ul > 0)
        h[k++] = (og_header_t){OG_STR_LIT("X-Onggi-Immutable-Url"), {oh.pin_url, ul}};
    for (size_t i = 0; i < n && k < 8; i++)
        h[k++] = extra[i];
    if (n == 0) {
        swift_send(r, 201, h, k, NULL, NULL, 0);
        goto out_free;
    }
    /* copies: the metadata headers follow the fixed ones in oh (index 5 on) */
    og_header_t *all = malloc((k + oh.n) * sizeof(*all));
    if (all == NULL) {
        swift_error_rc(r, -ENOMEM);
        goto out_free;
    }
    memcpy(all, h, k * sizeof(*h));
    for (size_t i = 5; i < oh.n; i++)
        if (oh.h[i].name.len > 14 && strncasecmp(oh.h[i].name.base, "X-Object-Meta-", 14) == 0)
            all[k++] = oh.h[i];
    swift_send(r, 201, all, k, NULL, NULL, 0);
    free(all);
out_free:
    obj_hdrs_free(&oh);
}

static void object_copy(swift_req_t *r, const char *src_c, og_str_t src_o, const char *dst_c, og_str_t dst_o);

/* "/container/object" or "container/object" (percent-encoded) into a container and a malloc'd
 * object name. 0, OG_EINVAL, OG_EBADNAME when the decoded names are not UTF-8 or hold a NUL
 * (the door's rule for the request path, swift.c), or OG_ETOOBIG for an object name longer than
 * OG_KEY_MAX (*olen set). */
static int split_copy_path(og_str_t v, char container[SWIFT_MAX_CONTAINER_NAME + 1], char **obj, size_t *olen)
{
    char *tmp = malloc(v.len + 1);
    long n;
    if (tmp == NULL)
        return -ENOMEM;
    n = og_urldecode(v.base, v.len, tmp, v.len, 0);
    if (n < 0 || !og_utf8_valid(tmp, (size_t)n, 0)) {
        free(tmp);
        return n < 0 ? OG_EINVAL : OG_EBADNAME;
    }
    char *s = tmp, *end = tmp + n;
    if (s < end && *s == '/')
        s++;
    char *slash = memchr(s, '/', (size_t)(end - s));
    if (slash == NULL || slash == s || slash - s > SWIFT_MAX_CONTAINER_NAME || slash + 1 == end) {
        free(tmp);
        return OG_EINVAL;
    }
    memcpy(container, s, (size_t)(slash - s));
    container[slash - s] = '\0';
    *olen = (size_t)(end - slash - 1);
    memmove(tmp, slash + 1, *olen);
    tmp[*olen] = '\0';
    *obj = tmp;
    return *olen > OG_KEY_MAX ? OG_ETOOBIG : 0;
}

/* X-Copy-From: a PUT that copies (Swift's copy middleware). Always answers. */
static void put_copy(swift_req_t *r, og_str_t copy_from)
{
    char sc[SWIFT_MAX_CONTAINER_NAME + 1], *so = NULL;
    size_t solen = 0;
    if (http_req_header(r->http, "content-length").base != NULL && r->info->content_length != 0) {
        swift_error_rc(r, invalid(r, "Copy requests require a zero byte body"));
        return;
    }
    int rc = split_copy_path(copy_from, sc, &so, &solen);
    if (rc == OG_EBADNAME || rc == OG_ETOOBIG) {
        swift_error_rc(r, rc == OG_ETOOBIG ? OG_ENOTFOUND : rc); /* no source has so long a name */
        free(so);
        return;
    }
    if (rc != 0) {
        static const char msg[] = "X-Copy-From header must be of the form <container name>/<object name>";
        swift_send(r, 412, NULL, 0, "text/html; charset=UTF-8", msg, sizeof(msg) - 1);
        return;
    }
    object_copy(r, sc, (og_str_t){so, solen}, r->container, (og_str_t){r->object, r->object_len});
    free(so);
}

/* If-None-Match (only "*" is supported): 0 when no live object has the key, OG_EEXIST when one
 * does (412), SWIFT_EREFUSED (400) for another value. */
static int put_if_none_match(swift_req_t *r, og_str_t key)
{
    og_str_t inm = http_req_header(r->http, "if-none-match");
    core_meta_t m;
    char *buf = NULL;
    if (inm.base == NULL)
        return 0;
    if (!og_str_eq(inm, "*"))
        return invalid(r, "If-None-Match only supports *");
    int rc = core_obj_lookup(r->cl, r->cid, key, &m, &buf), live = 0;
    if (rc == 0) {
        live = !core_meta_expired(&m, r->now_s);
        core_meta_free(&m);
    }
    free(buf);
    return live ? OG_EEXIST : 0;
}

/* The record of a written object: its data d, the request's metadata om, and for an SLO (man not
 * NULL) its size and ETag. Slices point into om, d and r. */
static void put_record(swift_req_t *r, const obj_meta_t *om, const core_slo_put_t *man, const core_obj_data_t *d,
                       core_meta_t *m)
{
    m->size = d->size;
    memcpy(m->md5, d->md5, 16);
    m->content_type = om->has_ctype ? om->ctype : guess_type((og_str_t){r->object, r->object_len});
    m->owner = og_str(r->account);
    m->delete_at = om->delete_at;
    m->headers = om->hdrs, m->num_headers = om->n;
    m->chunks = d->chunks, m->num_chunks = d->num_chunks;
    m->inline_data = (og_str_t){d->inline_data, d->inline_len};
    if (man != NULL) {
        m->flags = CORE_META_SLO;
        m->slo_size = man->size;
        memcpy(m->slo_etag, man->etag, 16);
    }
}

/* Writes src (at most opts->max_size bytes, opts->expect_size if known) under the container's
 * quota, checks a client ETag (check_etag), commits the record of om (and man, an SLO) as
 * r->object and answers 201 when `answer`. 0, or an error, nothing answered (OG_EBADDIGEST for an
 * ETag that differs). */
static int put_write(swift_req_t *r, const obj_meta_t *om, const core_slo_put_t *man, core_obj_src_t src,
                     const core_obj_put_opts_t *opts, int check_etag, int answer)
{
    og_str_t want = unquote(http_req_header(r->http, "etag"));
    core_obj_data_t d = {0};
    core_meta_t m = {0};
    char hex[33];
    int rc;
    if (opts->expect_size >= 0 &&
        (rc = core_quota_check(r->cl, r->container, r->account, (uint64_t)opts->expect_size, 1)) != 0)
        return rc;
    if ((rc = core_obj_write(r->cl, opts, src, &d)) != 0) {
        /* A short or malformed body is the client's fault (499 when it went away). */
        rc = rc == OG_EPROTO ? OG_EINVAL : rc;
        goto out_free;
    }
    og_hex(d.md5, 16, hex);
    if (check_etag && want.base != NULL && (want.len != 32 || strncasecmp(want.base, hex, 32) != 0)) {
        rc = OG_EBADDIGEST;
        goto out_free;
    }
    /* nothing committed yet: over the quota, the chunks are garbage */
    if (opts->expect_size < 0 && (rc = core_quota_check(r->cl, r->container, r->account, d.size, 1)) != 0)
        goto out_free;
    put_record(r, om, man, &d, &m);
    if ((rc = swift_legacy_put(r, r->container, (og_str_t){r->object, r->object_len})) == 0 &&
        (rc = core_obj_commit(r->cl, r->cid, (og_str_t){r->object, r->object_len}, &m)) == 0 && answer)
        send_created(r, &m, NULL, 0);
out_free:
    core_obj_data_free(&d);
    return rc;
}

/* Writes the request's body (or, for an SLO, the stored manifest man) and answers 201 (put_write). */
static int put_store(swift_req_t *r, const obj_meta_t *om, const core_slo_put_t *man)
{
    const http_reqinfo_t *info = r->info;
    mem_src_t ms = {man ? man->json.buf : NULL, man ? man->json.len : 0};
    core_obj_put_opts_t opts = {.max_size = SWIFT_MAX_FILE_SIZE,
                                .expect_size = man ? (int64_t)man->json.len
                                               : info->chunked ? -1
                                                               : info->content_length};
    return put_write(r, om, man, man ? (core_obj_src_t){mem_read, &ms} : (core_obj_src_t){body_read, r}, &opts,
                     man == NULL, 1);
}

int swift_obj_put_src(swift_req_t *r, core_obj_src_t src, og_str_t ctype, og_str_t cenc, uint64_t delete_at,
                      uint64_t max_size)
{
    og_header_t enc = {og_str("Content-Encoding"), cenc};
    obj_meta_t om = {.hdrs = &enc, .n = cenc.len > 0, .ctype = ctype, .has_ctype = ctype.len > 0,
                     .delete_at = delete_at, .has_delete_at = delete_at != 0};
    core_obj_put_opts_t opts = {.max_size = max_size < SWIFT_MAX_FILE_SIZE ? max_size : SWIFT_MAX_FILE_SIZE,
                                .expect_size = -1};
    return put_write(r, &om, NULL, src, &opts, 0, 0);
}

static void object_put(swift_req_t *r)
{
    const http_reqinfo_t *info = r->info;
    og_str_t copy_from = http_req_header(r->http, "x-copy-from");
    int has_len = http_req_header(r->http, "content-length").base != NULL, slo = multipart_manifest(r, "put");
    core_slo_put_t man = {0};
    obj_meta_t om;
    int rc;

    if (copy_from.base != NULL && slo) {
        static const char msg[] = "Multipart Manifest PUTs cannot be COPY requests";
        swift_send(r, 405, NULL, 0, NULL, msg, sizeof(msg) - 1);
        return;
    }
    if (copy_from.base != NULL) {
        put_copy(r, copy_from);
        return;
    }
    if (!info->chunked && !has_len) {
        swift_send(r, 411, NULL, 0, "text/plain", "Missing Content-Length header.", 30);
        return;
    }
    if (!slo && !info->chunked && (uint64_t)info->content_length > SWIFT_MAX_FILE_SIZE) {
        swift_error(r, 413);
        return;
    }
    if ((rc = obj_meta_read(r, &om)) != 0 || (rc = swift_container_access(r, r->container, IAM_ACL_WRITE, r->cid)) != 0 ||
        (rc = put_if_none_match(r, (og_str_t){r->object, r->object_len})) != 0)
        goto out_answer;
    /* An SLO manifest is read and checked whole (at most CORE_SLO_MAX_MANIFEST bytes); what
     * gets stored is Swift's stored form of it, which the quota counts (as Swift does). */
    if (slo && (rc = swift_slo_build(r, &man)) != 0) {
        swift_slo_error(r, rc, &man);
        goto out_free;
    }
    rc = put_store(r, &om, slo ? &man : NULL);
out_answer:
    if (rc == OG_EEXIST)
        swift_error(r, 412);
    else if (rc != 0)
        swift_error_rc(r, rc);
out_free:
    core_slo_put_free(&man);
    obj_meta_free(&om);
}

/* ---------------------------------------------------------------- COPY */

static void object_copy(swift_req_t *r, const char *src_c, og_str_t src_o, const char *dst_c, og_str_t dst_o)
{
    core_meta_t src, m;
    obj_meta_t om;
    char src_id[CORE_BID_CAP], dst_id[CORE_BID_CAP], *buf = NULL, cf[3 * (SWIFT_MAX_CONTAINER_NAME + OG_KEY_MAX) + 8], lm[32];
    og_header_t *hdrs = NULL;
    size_t k = 0;
    int rc, fresh;

    if ((rc = obj_meta_read(r, &om)) != 0 || (rc = swift_container_access(r, src_c, IAM_ACL_READ, src_id)) != 0 ||
        (rc = swift_container_access(r, dst_c, IAM_ACL_WRITE, dst_id)) != 0 ||
        (rc = lookup(r, src_id, src_o, &src, &buf)) != 0)
        goto out_free_meta;
    if ((rc = core_quota_check(r->cl, dst_c, r->account, src.size, 1)) != 0)
        goto out_free_src;
    /* Metadata: the source's, overridden by the request's (all of it replaced with
     * X-Fresh-Metadata: true), as Swift's copy middleware. */
    og_str_t fm = http_req_header(r->http, "x-fresh-metadata");
    fresh = og_str_ieq(fm, "true") || og_str_eq(fm, "1") || og_str_ieq(fm, "yes") || og_str_ieq(fm, "t");
    if ((hdrs = malloc((src.num_headers + om.n + 1) * sizeof(*hdrs))) == NULL) {
        rc = -ENOMEM;
        goto out_free_src;
    }
    for (size_t i = 0; i < src.num_headers && !fresh; i++) {
        int replaced = 0;
        for (size_t j = 0; j < om.n && !replaced; j++)
            replaced = om.hdrs[j].name.len == src.headers[i].name.len &&
                       strncasecmp(om.hdrs[j].name.base, src.headers[i].name.base, om.hdrs[j].name.len) == 0;
        if (!replaced)
            hdrs[k++] = src.headers[i];
    }
    for (size_t j = 0; j < om.n; j++)
        hdrs[k++] = om.hdrs[j];
    m = src;
    m._mem = NULL;
    m.headers = hdrs, m.num_headers = k;
    if (om.has_ctype)
        m.content_type = om.ctype;
    m.owner = og_str(r->account);
    m.delete_at = om.delete_at;
    /* The copy references the source's chunks without writing them: refresh them first (503 if
     * a quorum missed), or a GC sweep that marked before this record exists could delete them
     * once the source is gone. A multipart (S3) source's part sizes go along for ?partNumber.
     * docs/architecture.md, "Garbage collection" and "Multipart uploads". */
    if ((rc = core_obj_touch(r->cl, &m)) != 0 ||
        (rc = core_part_sizes_copy(r->cl, src_id, src_o, dst_id, dst_o, &m)) != 0 ||
        (rc = swift_legacy_put(r, dst_c, dst_o)) != 0 || (rc = core_obj_commit(r->cl, dst_id, dst_o, &m)) != 0)
        goto out_free_hdrs;
    int n = snprintf(cf, sizeof(cf), "%s/", src_c);
    long el = og_urlencode(src_o.base, src_o.len, cf + n, sizeof(cf) - (size_t)n, 1);
    http_date_format(src.mtime_ns, lm);
    char acct[5 + sizeof(r->account)];
    snprintf(acct, sizeof(acct), "AUTH_%s", r->account);
    og_header_t extra[] = {{OG_STR_LIT("X-Copied-From-Account"), og_str(acct)},
                           {OG_STR_LIT("X-Copied-From"), {cf, el < 0 ? 0 : (size_t)n + (size_t)el}},
                           {OG_STR_LIT("X-Copied-From-Last-Modified"), og_str(lm)}};
    send_created(r, &m, extra, 3);
out_free_hdrs:
    free(hdrs);
out_free_src:
    core_meta_free(&src);
    free(buf);
out_free_meta:
    obj_meta_free(&om);
    if (rc != 0)
        swift_error_rc(r, rc);
}

static void object_copy_verb(swift_req_t *r)
{
    og_str_t dest = http_req_header(r->http, "destination");
    char dc[SWIFT_MAX_CONTAINER_NAME + 1], *dobj = NULL;
    size_t dlen = 0;
    og_str_t dacct = http_req_header(r->http, "destination-account");
    if (dacct.base != NULL && !(dacct.len == 5 + strlen(r->account) && memcmp(dacct.base, "AUTH_", 5) == 0 &&
                                memcmp(dacct.base + 5, r->account, dacct.len - 5) == 0)) {
        swift_error(r, 403); /* copies stay within one account */
        return;
    }
    int rc = dest.base == NULL ? OG_EINVAL : split_copy_path(dest, dc, &dobj, &dlen);
    if (rc == OG_EBADNAME || rc == OG_ETOOBIG) {
        swift_error_rc(r, rc == OG_ETOOBIG ? swift_long_object_name(r, dlen) : rc);
        free(dobj);
        return;
    }
    if (rc != 0) {
        static const char msg[] = "Destination header must be of the form <container name>/<object name>";
        swift_send(r, 412, NULL, 0, "text/html; charset=UTF-8", msg, sizeof(msg) - 1);
        return;
    }
    object_copy(r, r->container, (og_str_t){r->object, r->object_len}, dc, (og_str_t){dobj, dlen});
    free(dobj);
}

/* ---------------------------------------------------------------- POST */

static void object_post(swift_req_t *r)
{
    core_meta_t m;
    obj_meta_t om;
    char *buf = NULL;
    og_str_t key = {r->object, r->object_len};
    int rc;
    if ((rc = obj_meta_read(r, &om)) != 0 || (rc = swift_container_access(r, r->container, IAM_ACL_WRITE, r->cid)) != 0 ||
        (rc = lookup(r, r->cid, key, &m, &buf)) != 0)
        goto out_free_meta;
    /* POST replaces all metadata (and the expiry); the data and its checksum stay. */
    void *mem = m._mem;
    m.headers = om.hdrs, m.num_headers = om.n;
    if (om.has_ctype)
        m.content_type = om.ctype;
    m.delete_at = om.delete_at;
    if ((rc = core_obj_commit(r->cl, r->cid, key, &m)) == 0)
        swift_send(r, 202, NULL, 0, NULL, NULL, 0);
    m._mem = mem;
    core_meta_free(&m);
    free(buf);
out_free_meta:
    obj_meta_free(&om);
    if (rc != 0)
        swift_error_rc(r, rc);
}

/* ---------------------------------------------------------------- DELETE */

static void object_delete(swift_req_t *r)
{
    core_meta_t m;
    char *buf = NULL, marker[CORE_VID_LEN + 1] = "";
    og_str_t key = {r->object, r->object_len}, vid;
    int rc;
    if ((rc = swift_container_access(r, r->container, IAM_ACL_WRITE, r->cid)) == 0 && swift_version_param(r, &vid)) {
        swift_version_delete(r, vid);
        return;
    }
    if (rc == 0 && (rc = swift_legacy_delete(r)) == 1)
        return; /* stack mode restored an older copy */
    if (rc == 0 && (rc = lookup(r, r->cid, key, &m, &buf)) == 0) {
        core_meta_free(&m);
        free(buf);
        rc = core_obj_delete(r->cl, r->cid, key, marker);
    }
    /* in a versioned container the delete is a marker, whose id Swift answers with */
    og_header_t h = {OG_STR_LIT("X-Object-Version-Id"), og_str(marker)};
    if (rc != 0)
        swift_error_rc(r, rc);
    else
        swift_send(r, 204, &h, marker[0] != '\0', NULL, NULL, 0);
}

/* ---------------------------------------------------------------- GET / HEAD */

typedef struct {
    swift_req_t *r;
    int status;
    const og_header_t *hdrs;
    size_t n;
    int64_t length;
    int started;
} sink_t;

/* core_obj_sink_fn: starts the response with the first bytes, so a failure before any byte was
 * read is still a clean error answer. */
static int sink_write(void *ctx, const void *buf, size_t len)
{
    sink_t *s = ctx;
    int rc;
    if (!s->started) {
        s->r->responded = 1;
        s->r->status = s->status;
        if ((rc = http_resp_start(s->r->http, s->status, s->hdrs, s->n, s->length)) != 0)
            return rc;
        s->started = 1;
    }
    return http_resp_write(s->r->http, buf, len);
}

enum { LARGE_NONE, LARGE_SLO, LARGE_DLO };

/* One GET or HEAD: the record and what it serves. */
typedef struct {
    core_lo_t lo;
    core_meta_t m; /* the object's record (a large object's manifest) */
    char *buf;     /* m's memory */
    /* What is served: a large object's size and ETag are its segments' (unless
     * ?multipart-manifest=get asks for the manifest itself). */
    core_meta_t view;
    int large, raw;
    og_str_t dlo; /* LARGE_DLO: the X-Object-Manifest value */
    char manifest_etag[33];
} get_t;

/* Decides what g serves: the object, an SLO's or a DLO's segments (a DLO's size and ETag come
 * from a pass over its listing). 0 or an error (-EACCES: the segments' container is closed). */
static int get_view(get_t *g)
{
    const core_meta_t *m = &g->m;
    g->view = *m;
    if (g->raw)
        return 0;
    if (m->flags & CORE_META_SLO) {
        g->large = LARGE_SLO;
        g->view.size = m->slo_size;
        memcpy(g->view.md5, m->slo_etag, 16);
        g->view.parts = 0;
    } else if ((g->dlo = og_header_find(m->headers, m->num_headers, "x-object-manifest")).base != NULL) {
        g->large = LARGE_DLO;
        g->view.parts = 0;
        return core_dlo_stat(&g->lo, g->dlo, &g->view.size, g->view.md5);
    }
    return 0;
}

/* The object's headers, and an SLO's X-Static-Large-Object and X-Manifest-Etag (or the manifest's
 * content type for ?multipart-manifest=get). 0 or -ENOMEM. */
static int get_headers(get_t *g, obj_hdrs_t *oh)
{
    if (obj_hdrs_build(&g->view, g->large != LARGE_NONE, oh) != 0)
        return -ENOMEM;
    if (g->m.flags & CORE_META_SLO) {
        oh->h[oh->n++] = (og_header_t){OG_STR_LIT("X-Static-Large-Object"), OG_STR_LIT("True")};
        og_hex(g->m.md5, 16, g->manifest_etag);
        if (g->raw) /* the manifest, as Swift serves it */
            oh->h[0].value = OG_STR_LIT("application/json; charset=utf-8");
        else
            oh->h[oh->n++] = (og_header_t){OG_STR_LIT("X-Manifest-Etag"), {g->manifest_etag, 32}};
    }
    return 0;
}

/* The Range header to honour (http_range_header) against size: 200 with [*first, *last] the
 * whole object, 206 with the range and its Content-Range added to oh, or 416 with the
 * Content-Range Swift sends then. */
static int get_range(og_str_t range, uint64_t size, obj_hdrs_t *oh, uint64_t *first, uint64_t *last)
{
    int n;
    switch (range.base != NULL ? http_range_parse(range, size, first, last) : HTTP_RANGE_NONE) {
    case HTTP_RANGE_UNSATISFIABLE:
        n = snprintf(oh->crange, sizeof(oh->crange), "bytes */%" PRIu64, size);
        oh->h[oh->n++] = (og_header_t){OG_STR_LIT("Content-Range"), {oh->crange, (size_t)n}};
        return 416;
    case HTTP_RANGE_OK:
        n = snprintf(oh->crange, sizeof(oh->crange), "bytes %" PRIu64 "-%" PRIu64 "/%" PRIu64, *first, *last, size);
        oh->h[oh->n++] = (og_header_t){OG_STR_LIT("Content-Range"), {oh->crange, (size_t)n}};
        return 206;
    default:
        *first = 0;
        *last = size ? size - 1 : 0;
        return 200;
    }
}

/* Swift's 409 for a large object whose segments cannot be served (a segment read is a request
 * of the caller's own: a public manifest with segments in a private container answers this to
 * anonymous readers, as Swift does), with the reason in the page rather than Swift's generic one. */
static void send_segment_conflict(swift_req_t *r, int rc)
{
    const char *why = rc == -EACCES ? "a segment is in a container this request may not read"
                      : rc == OG_ENOTFOUND ? "a segment is missing"
                                           : "a segment changed since the manifest was written";
    char body[200];
    int n = snprintf(body, sizeof(body), "<html><h1>Conflict</h1><p>This large object cannot be served: %s.</p></html>",
                     why);
    swift_send(r, 409, NULL, 0, NULL, body, (size_t)n);
}

/* Sends status with oh and bytes [first, last] of what g serves, streamed from the object or the
 * segments. A failure before the first byte is still a clean answer (409 for a large object whose
 * segment is gone or changed, as Swift); after it, the connection is closed short. */
static void get_send(swift_req_t *r, get_t *g, obj_hdrs_t *oh, int status, uint64_t first, uint64_t last)
{
    uint64_t length = g->view.size ? last - first + 1 : 0;
    int rc;
    oh->n = swift_final_headers(r, status, oh->h, oh->n);
    r->responded = 1;
    r->status = status;
    if (r->info->is_head || g->view.size == 0) {
        if (http_resp_start(r->http, status, oh->h, oh->n, (int64_t)length) == 0)
            http_resp_end(r->http);
        return;
    }
    sink_t s = {.r = r, .status = status, .hdrs = oh->h, .n = oh->n, .length = (int64_t)length};
    if (g->large == LARGE_SLO)
        rc = core_slo_read(&g->lo, &g->m, first, last, sink_write, &s);
    else if (g->large == LARGE_DLO)
        rc = core_dlo_read(&g->lo, g->dlo, first, last, sink_write, &s);
    else
        rc = core_obj_read(r->cl, &g->m, first, last, sink_write, &s);
    if (!s.started) {
        r->responded = 0;
        if (g->large != LARGE_NONE && (rc == OG_ENOTFOUND || rc == OG_ECORRUPT || rc == -EACCES || rc == 0))
            send_segment_conflict(r, rc);
        else
            swift_error_rc(r, rc == OG_ENOTFOUND || rc == 0 ? OG_ECORRUPT : rc);
        return;
    }
    if (rc != 0)
        fprintf(stderr, "onggi-gateway: request %s: GET /%s/%s: read failed mid-body (%s); connection closed\n",
                r->trans_id, r->container, r->object, og_strerror(rc));
    http_resp_end(r->http); /* short of Content-Length after a failure: http/ closes the connection */
}

/* Caching: on an immutable URL (r->pin) of the object with that ETag, the object's own
 * Cache-Control and Expires give way to "cache forever" (turned private by http/ when the answer
 * is); on its usual URL, the container's defaults (http_cache_dflt) and X-Onggi-Immutable-Url. 0,
 * or OG_ENOTFOUND: the immutable URL names bytes the object no longer has. The defaults are read
 * into *dflt, which must live until the answer is sent. */
static int cache_headers(swift_req_t *r, get_t *g, obj_hdrs_t *oh, core_cache_dflt_t *dflt)
{
    if (r->pin[0] != '\0') {
        char hex[33];
        og_hex(g->view.md5, 16, hex);
        if (strcmp(hex, r->pin) != 0)
            return OG_ENOTFOUND;
        for (size_t i = oh->n; i-- > 0;)
            if (og_str_ieq(oh->h[i].name, "cache-control") || og_str_ieq(oh->h[i].name, "expires"))
                oh->h[i] = oh->h[--oh->n];
        oh->h[oh->n++] = (og_header_t){OG_STR_LIT("Cache-Control"), OG_STR_LIT(CORE_PIN_CACHE_CONTROL)};
        return 0;
    }
    (void)core_cache_dflt_get(r->cl, r->account, r->container, dflt); /* best effort: else the object's own only */
    oh->n += http_cache_dflt(oh->h, oh->n, og_str(dflt->cache_control), dflt->expires_after_s, r->now_s,
                             oh->expires, oh->h + oh->n);
    size_t ul = swift_pin_url(r, g->view.md5, oh->pin_url);
    if (ul > 0)
        oh->h[oh->n++] = (og_header_t){OG_STR_LIT("X-Onggi-Immutable-Url"), {oh->pin_url, ul}};
    return 0;
}

/* An immutable URL is the object's one public link whichever API published it, so an anonymous
 * reader is judged by S3's rules as well as the container's Swift ACL (iam_s3_anon_read): the
 * bucket policy's Deny wins, its Allow admits (privately: its conditions can tell clients apart),
 * and so does the object's public-read ACL. rc is swift_container_access's answer for the read;
 * returns the final one (0 setting r->cid and r->public_grant, or -EACCES). */
static int pin_access(swift_req_t *r, int rc)
{
    core_bucket_t b;
    core_meta_t m;
    char *buf = NULL;
    int got = 0, shareable;
    if (r->pin[0] == '\0' || r->has_id || r->is_owner || r->acct_grant || (rc != 0 && rc != -EACCES) ||
        core_bucket_find(r->cl, r->account, r->container, &b) != 0)
        return rc;
    og_str_t key = {r->object, r->object_len};
    if (rc != 0) /* only a refused reader needs the object's own ACL */
        got = core_obj_lookup(r->cl, b.id, key, &m, &buf) == 0;
    iam_caller_t who = {NULL, r->info->remote, r->info->tls, http_req_header(r->http, "referer")};
    int v = iam_s3_anon_read(&b, r->container, key, got ? m.headers : NULL, got ? m.num_headers : 0, &who, &shareable);
    if (v < 0)
        rc = -EACCES;
    else if (v > 0 && rc != 0)
        rc = 0, r->public_grant = shareable, memcpy(r->cid, b.id, CORE_BID_CAP);
    if (og_header_find(b.meta, b.num_meta, IAM_S3POLICY_HEADER).len > 0)
        r->public_grant = 0; /* the policy judged this client, not every client */
    if (got)
        core_meta_free(&m);
    free(buf);
    core_bucket_free(&b);
    return rc;
}

/* An immutable URL names bytes, not the current version: when the object's current record (rc:
 * the lookup's answer, *g's record when 0) has another ETag, or is gone, the URL is answered from
 * the newest kept version (S3 or Swift versioning) that has its ETag, so a cache that lost the
 * bytes can fetch them again. A DLO's ETag depends on its segments: only its current one is
 * judged (by cache_headers). Returns the lookup's answer for the version now in *g. */
static int pin_version(swift_req_t *r, get_t *g, int rc)
{
    char hex[33];
    uint8_t etag[16];
    if (r->pin[0] == '\0' || (rc != 0 && rc != OG_ENOTFOUND) || g->raw)
        return rc;
    if (rc == 0) {
        og_hex(g->m.flags & CORE_META_SLO ? g->m.slo_etag : g->m.md5, 16, hex);
        if (strcmp(hex, r->pin) == 0 || og_header_find(g->m.headers, g->m.num_headers, "x-object-manifest").base)
            return 0;
        core_meta_free(&g->m);
        free(g->buf);
        g->buf = NULL;
    }
    if (og_unhex(r->pin, 32, etag, sizeof(etag)) != 0)
        return OG_ENOTFOUND;
    return core_ver_etag(r->cl, r->cid, (og_str_t){r->object, r->object_len}, etag, &g->m, &g->buf);
}

int swift_obj_get(swift_req_t *r, og_str_t dir_type)
{
    get_t g = {.raw = multipart_manifest(r, "get")};
    obj_hdrs_t oh = {0};
    uint64_t first = 0, last = 0;
    int rc;

    swift_lo(r, &g.lo);
    if ((rc = pin_access(r, swift_container_access(r, r->container, IAM_ACL_READ, r->cid))) == 0)
        http_req_cache_private(r->http, !r->public_grant); /* even a 404: any stranger gets the same */
    og_str_t vid;
    if (rc == 0)
        rc = swift_version_param(r, &vid) ? swift_version_lookup(r, vid, &g.m, &g.buf)
                                          : lookup(r, r->cid, (og_str_t){r->object, r->object_len}, &g.m, &g.buf);
    if (rc == 1)
        return 0; /* a delete marker, answered */
    if ((rc = pin_version(r, &g, rc)) != 0)
        return rc;
    if (dir_type.base != NULL && g.m.size <= 1 && g.m.content_type.len == dir_type.len &&
        memcmp(g.m.content_type.base, dir_type.base, dir_type.len) == 0) {
        rc = OG_ENOTFOUND; /* staticweb: a directory marker is no page */
        goto out_free;
    }
    if ((rc = get_view(&g)) != 0 || (rc = get_headers(&g, &oh)) != 0) {
        swift_error_rc(r, rc);
        rc = 0;
        goto out_free;
    }
    oh.n += swift_version_header(r, &g.m, oh.h + oh.n);
    core_cache_dflt_t dflt; /* its strings are sent */
    if ((rc = cache_headers(r, &g, &oh, &dflt)) != 0) {
        swift_error_rc(r, rc);
        rc = 0;
        goto out_free;
    }
    char qetag[48];
    og_str_t qet = {qetag, core_meta_etag(&g.view, qetag)};
    int64_t mtime_s = (int64_t)(g.m.mtime_ns / 1000000000u);
    http_cond_t cond = http_cond_from_req(r->http);
    int status = r->web_status ? 200 : http_cond_eval(&cond, qet, mtime_s);
    if (status == 304 || status == 412) {
        /* Swift: 304 keeps the object's headers; 412 carries them (but Accept-Ranges, index 4)
         * with an empty HTML answer. */
        if (status == 412)
            oh.h[4] = oh.h[--oh.n];
        obj_hdrs_send(r, &oh, status, status == 412 ? "text/html; charset=UTF-8" : NULL, NULL, 0);
        goto out_free;
    }
    og_str_t range = r->web_status ? (og_str_t){NULL, 0} : http_range_header(r->http, qet, mtime_s);
    if ((status = get_range(range, g.view.size, &oh, &first, &last)) == 416) {
        static const char body416[] =
            "<html><h1>Requested Range Not Satisfiable</h1><p>The Range requested is not available.</p></html>";
        obj_hdrs_send(r, &oh, 416, NULL, body416, sizeof(body416) - 1);
        goto out_free;
    }
    get_send(r, &g, &oh, r->web_status ? r->web_status : status, first, last);
out_free:
    obj_hdrs_free(&oh);
    core_meta_free(&g.m);
    free(g.buf);
    return rc;
}

static void object_get(swift_req_t *r)
{
    int rc = swift_obj_get(r, (og_str_t){NULL, 0});
    if (rc != 0)
        swift_error_rc(r, rc);
}

void swift_object(swift_req_t *r)
{
    int rc;
    if (swift_is_method(r, "DELETE") && multipart_manifest(r, "delete")) {
        if ((rc = swift_slo_delete(r)) != 0)
            swift_error_rc(r, rc);
    }
    else if ((swift_is_method(r, "GET") || swift_is_method(r, "HEAD")) && !swift_web_object(r))
        object_get(r);
    else if (swift_is_method(r, "PUT"))
        object_put(r);
    else if (swift_is_method(r, "DELETE"))
        object_delete(r);
    else if (swift_is_method(r, "POST"))
        object_post(r);
    else if (swift_is_method(r, "COPY"))
        object_copy_verb(r);
    else
        swift_error(r, 405);
}
