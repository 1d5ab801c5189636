/*
 * swift_int.h (private to gateway/swift/): the OpenStack Swift API (v1, TempAuth-style auth) beside S3,
 * over the same buckets and objects (docs/swift-compat.md).
 *
 * One namespace: a Swift account is an Onggi account (iam/iam.h), a container is the bucket of
 * the same name (table "buckets", global names as in S3), an object is the record of
 * table "o.<container>" written through core/core.h, so either API reads what the other wrote.
 *
 * Requests: main.c sends /auth/v1.0, /auth/v1, /v1/... and unsigned /info here
 * (swift_wants). swift_handle gives each a transaction id, splits
 * /v1/AUTH_<account>/<container>/<object>, checks the token (X-Auth-Token: an HMAC over account,
 * user, flags, expiry and the user's generation with a cluster-wide secret, so any gateway
 * validates any token; iam_token_check also refuses it once the user is deleted or changed) and
 * the ACLs, then runs one handler per operation (swift_*.c).
 */
#ifndef SWIFT_INT_H
#define SWIFT_INT_H

#include "core/core.h"
#include "http/http.h"
#include "iam/iam.h"
#include "swift.h"


/* A check refused the request with Swift's own wording: r->refusal says how to answer. Never
 * leaves the swift room. */
enum { SWIFT_EREFUSED = -10460 };

/* Swift limits, as advertised by GET /info (Swift's defaults where Onggi has no reason to differ). */
#define SWIFT_MAX_FILE_SIZE 5368709122ull
#define SWIFT_MAX_META_NAME 128
#define SWIFT_MAX_META_VALUE 256
#define SWIFT_MAX_META_COUNT 90
#define SWIFT_MAX_META_OVERALL 4096
#define SWIFT_LISTING_LIMIT 10000
#define SWIFT_MAX_CONTAINER_NAME CORE_BUCKET_MAX /* the bucket table's limit (S3: 63), not Swift's 256 */




/* ---- one request ---- */

enum { SWIFT_TU_NONE, SWIFT_TU_ACCOUNT, SWIFT_TU_CONTAINER };

/* What a valid TempURL grants (Swift's tempurl middleware): the request's object path in its
 * container (container key) or in any container of the account (account key). */
typedef struct {
    int scope;         /* SWIFT_TU_* */
    uint64_t expires;  /* Unix seconds: the Expires header of GET/HEAD answers */
    int inline_disp;   /* ?inline */
    char *filename;    /* ?filename, decoded (malloc'd), or NULL */
} swift_tempurl_t;

/* An allowed CORS request: the Origin header and the container's rule (strings malloc'd). */
typedef struct {
    int allowed;
    char *allow_origin, *expose, *max_age; /* the container's X-Container-Meta-Access-Control-* */
} swift_cors_t;

/* Headers swift_final_headers may add to an answer: room the senders leave. */
#define SWIFT_FINAL_MAX 8

typedef struct {
    http_req_t *http;
    const http_reqinfo_t *info;
    swift_t *sw;
    cluster_t *cl;
    char trans_id[40];
    char account[64];        /* from AUTH_<account>; "" for /info and /auth */
    char container[SWIFT_MAX_CONTAINER_NAME + 1];
    char cid[CORE_BID_CAP];  /* the container's bucket id (names its tables), once
                                swift_container_access of r->container succeeded */
    char *object;            /* decoded, NUL-terminated, malloc'd; NULL below object level */
    size_t object_len;
    int has_container;
    iam_ident_t id;     /* the caller, when has_id */
    int has_id;
    int is_owner;            /* admin of this account or reseller admin: full control */
    int acct_grant;          /* the account's ACL allows this request (swift_account_acl) */
    int public_grant;        /* the last swift_container_access granted what any anonymous client gets */
    int responded;
    int status;
    uint64_t now_s;
    struct {
        int status;
        const char *ctype;
        char body[128];
    } refusal; /* how swift_error_rc answers SWIFT_EREFUSED (swift_refuse) */
    swift_tempurl_t tu;      /* a valid TempURL's grant (swift_tempurl.c) */
    swift_cors_t cors;       /* the container's CORS rule for this request's Origin (swift_cors.c) */
    char *final[2];          /* strings of the headers swift_final_headers adds (TempURL, CORS) */
    int web_status;          /* staticweb: the status an error page is served with (swift_web.c); 0 */
    char pin[33];            /* an immutable URL's ETag (/_v/<etag>/AUTH_...); "" for /v1 */
} swift_req_t;

/* core_pin_url for r's object: /_v/<etag>/ followed by what follows /v1/ in its URL. */
size_t swift_pin_url(const swift_req_t *r, const unsigned char md5[16], char *out);

/* The operation of r (an index into swift_http_api's list), from its path and method once routed
 * (swift_op.c). Cannot fail. */
size_t swift_op_classify(const swift_req_t *r);
/* The name of operation op of swift_op_classify. */
const char *swift_op_name(size_t op);

/* Is r's method m ("GET", ...)? */
static inline int swift_is_method(const swift_req_t *r, const char *m) { return og_str_eq(r->info->method, m); }

/* Answers with status and a small body (NULL: Swift's standard HTML body for that status, empty
 * for HEAD), adding X-Trans-Id, X-Openstack-Request-Id and Content-Type. */
void swift_send(swift_req_t *r, int status, const og_header_t *extra, size_t n, const char *ctype,
                   const void *body, size_t len);
/* Standard error answer for a status. */
void swift_error(swift_req_t *r, int status);
/* Maps an internal code to an answer: OG_ENOTFOUND 404, OG_EQUORUM/OG_ETIMEOUT 503, CORE_EQUOTA 413,
 * OG_ETOOBIG 413, OG_EINVAL/HTTP_EBODY 400, CORE_EPRECOND 412, OG_EBADDIGEST 422, OG_EBADNAME 412 (Swift's "Invalid UTF8
 * or contains NULL"), -EACCES 403 (401 for a caller
 * without a token), SWIFT_EREFUSED r->refusal, HTTP_EABORTED none (499 logged), else 500. */
void swift_error_rc(swift_req_t *r, int rc);
/* Records the answer to a refused request (status, content type or NULL for text/html, body from
 * fmt, cut at 127 bytes) for swift_error_rc; returns SWIFT_EREFUSED. */
int swift_refuse(swift_req_t *r, int status, const char *ctype, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));
/* Refuses an object name of len bytes, longer than OG_KEY_MAX, as Swift: 400 "Object name length of
 * N longer than 1024". Returns SWIFT_EREFUSED. */
int swift_long_object_name(swift_req_t *r, size_t len);
/* Completes an answer's headers h[0..n) with status: drops what a TempURL answer must not show
 * (X-Object-Meta-* but X-Object-Meta-Public-*) and adds its Content-Disposition and Expires, adds
 * the CORS headers of an allowed Origin, and the transaction headers. h has room for
 * n + SWIFT_FINAL_MAX entries; strings live in r->final. Returns the new count. */
size_t swift_final_headers(swift_req_t *r, int status, og_header_t *h, size_t n);

/* Swift's X-Timestamp of a time in nanoseconds ("1795296570.95896": seconds and 10 µs units) into
 * out. Returns its length. */
size_t swift_timestamp(uint64_t ns, char out[32]);

/* "<prefix>Foo-Bar" from a lowercase stored name's suffix "foo-bar" into out (cap bytes):
 * Swift's title-cased header spelling. Returns the length (truncated to cap - 1). */
size_t swift_title(const char *prefix, og_str_t suffix, char *out, size_t cap);

/* Metadata from request headers with the given prefix ("x-container-meta-", ...): merges
 * them into *cur (old list, may be replaced), removing entries set to "" or named by
 * X-Remove-<Type>-Meta-*; extra_names (NULL-terminated, lowercase) are kept the same way.
 * All strings are copied into *mem (the caller frees, after the list is no longer used).
 * 0, OG_ETOOBIG (Swift's metadata limits: 400) or -ENOMEM. */
int swift_meta_merge(swift_req_t *r, const char *prefix, const char *remove_prefix,
                        const char *const *extra_names, og_header_t **cur, size_t *n, char **mem);

/* ---- TempURL, FormPost, CORS (swift_tempurl.c, swift_formpost.c, swift_cors.c) ---- */

/* A request with temp_url_sig or temp_url_expires in its query: checks it as Swift's tempurl
 * middleware (keys X-Account-Meta-Temp-URL-Key[-2] and X-Container-Meta-Temp-URL-Key[-2], HMAC
 * SHA-1/256/512 over [ip=range\n]method\nexpires\npath, prefix and IP-range forms). 0 (none, or
 * valid: r->tu set, the token ignored), SWIFT_EREFUSED (401 "Temp URL invalid", 400 for a header
 * a TempURL may not send), or a cluster error. */
int swift_tempurl_check(swift_req_t *r);
/* Are the stored metadata names the TempURL keys only owners see ("...-meta-temp-url-key[-2]")? */
int swift_tempurl_key_name(og_str_t name);
/* The HMAC hex of msg under key with digest "sha1" / "sha256" / "sha512" into out (129 bytes).
 * Returns the hex length, or 0 for another digest name. */
size_t swift_hmac_hex(const char *digest, og_str_t key, og_str_t msg, char *out);
/* Parses a client signature as Swift's extract_digest_and_algorithm: "<hex>" (its length names
 * the digest) or "<digest>:<base64>". 0 with *digest (static) and the hex in out (129 bytes),
 * or OG_EINVAL. */
int swift_sig_parse(og_str_t sig, const char **digest, char *out);
/* Constant-time equality of two strings (their lengths are not secret). */
int swift_str_ct_eq(og_str_t a, og_str_t b);
/* The temp-url keys of r's account, then of container (absent records have none): up to 4 into
 * keys, *nacct of them the account's (strings in *mem, which the caller frees). Returns the count
 * or a negative error. */
int swift_tempurl_keys(swift_req_t *r, const char *container, og_str_t keys[4], int *nacct, char **mem);

/* POST multipart/form-data to /v1/AUTH_a/c[/prefix]: Swift's formpost. Always answers. */
void swift_formpost(swift_req_t *r);
/* Is r a FormPost (POST with Content-Type multipart/form-data and a boundary)? */
int swift_is_formpost(const swift_req_t *r);

/* The TempURL part of swift_final_headers: filters h[0..n) and adds at most 2 headers. Returns
 * the new count. */
size_t swift_tempurl_headers(swift_req_t *r, int status, og_header_t *h, size_t n);
/* The CORS part of swift_final_headers: adds at most 3 headers (or replaces Vary). Returns the
 * new count. */
size_t swift_cors_headers(swift_req_t *r, og_header_t *h, size_t n);
/* Reads the CORS rule of r's container when the request carries an Origin (r->cors). 0 or a
 * cluster error. */
int swift_cors_load(swift_req_t *r);
/* OPTIONS: Swift's proxy answer (Allow; a preflight with an Origin: 200 with the
 * Access-Control-Allow-* headers or 401). Always answers. */
void swift_options(swift_req_t *r);

/* Writes the body read from src as object r->object of r->container (its bucket id r->cid,
 * resolved by the caller) with content type ctype
 * (guessed from the name when empty), Content-Encoding cenc (when not empty) and delete_at
 * (0: none), at most max_size bytes (OG_ETOOBIG beyond), under the container's quota. No
 * answer: 0 or an error (-EACCES when the caller may not write the container). */
int swift_obj_put_src(swift_req_t *r, core_obj_src_t src, og_str_t ctype, og_str_t cenc, uint64_t delete_at,
                      uint64_t max_size);

/* GET/HEAD of object r->object (access, conditionals, Range, large objects). 0 once answered;
 * without an answer: -EACCES, OG_ENOTFOUND (also a directory marker: an object of content type
 * dir_type, when dir_type.base is not NULL, of at most 1 byte, as staticweb) or a cluster error.
 * With r->web_status set, serves the object whole with that status (a staticweb error page). */
int swift_obj_get(swift_req_t *r, og_str_t dir_type);
/* r's container's live objects (r->cid, set by swift_container_access) under prefix grouped at "/"
 * (core_walk), up to max items.
 * 0 and *out (core_walk_free), or an error. */
int swift_list_walk(swift_req_t *r, og_str_t prefix, size_t max, core_walk_t *out);

/* ---- staticweb (swift_web.c; docs/swift-compat.md "Static websites") ----
 * For GET/HEAD without a token (or with X-Web-Mode: true) of a container whose metadata has
 * Web-Index or Web-Listings, as Swift's staticweb middleware. */

/* Container GET/HEAD of container record b: 1 once answered as staticweb, 0 when staticweb does
 * not apply (the ordinary container answer follows). */
int swift_web_container(swift_req_t *r, const core_bucket_t *b);
/* Object GET/HEAD: 1 once answered as staticweb (the object itself, an index, a redirect to the
 * path with "/", a listing or an error page), 0 when staticweb does not apply. */
int swift_web_object(swift_req_t *r);

/* Handlers. */
void swift_auth(swift_req_t *r);            /* GET /auth/v1.0 */
void swift_account(swift_req_t *r);         /* GET/HEAD/POST /v1/AUTH_a */
/* For a token holder who is not the account's admin: applies the account's X-Account-Access-Control
 * (iam_account_allows) to the request, setting r->is_owner (an "admin" grantee) or r->acct_grant.
 * 0 or an error reading the account. */
int swift_account_acl(swift_req_t *r);
void swift_container(swift_req_t *r);       /* PUT/DELETE/GET/HEAD/POST /v1/AUTH_a/c */
void swift_object(swift_req_t *r);          /* PUT/GET/HEAD/DELETE/POST/COPY /v1/AUTH_a/c/o */
/* The listing a GET asks for (b: the container's record, or NULL for the account's containers),
 * in text/json/xml, appended to body with its content type in *ctype (static). Answers nothing:
 * 0, OG_EINVAL or SWIFT_EREFUSED (412) for bad parameters, OG_EQUORUM ... */
int swift_list_body(swift_req_t *r, const core_bucket_t *b, og_buf_t *body, const char **ctype);

/* May the caller of r access `container` of r's account in `mode` (IAM_ACL_READ /
 * IAM_ACL_LISTING / IAM_ACL_WRITE)? Answers nothing: 0 with the container's bucket id in id (what
 * the object functions take: names are per account), -EACCES (an ACL denies it, or the container
 * is absent and the caller is not the owner: strangers never learn what exists), OG_ENOTFOUND
 * (absent, for the owner), OG_EQUORUM, OG_EPROTO. */
int swift_container_access(swift_req_t *r, const char *container, int mode, char id[CORE_BID_CAP]);

/* swift_version.c: a container's X-Versions-Enabled, the bucket's S3 versioning state.
 * swift_versions_parse reads a container PUT/POST's X-Versions-Enabled into *want (CORE_VER_OFF:
 * none given); 0. swift_versions_apply sets *want on r's
 * container; 0, SWIFT_EREFUSED (suspending an Object Lock bucket: 409), or a core error.
 * swift_versions_header writes X-Versions-Enabled of b (versioning ever set) into *out: 1 or 0. */
int swift_versions_parse(swift_req_t *r, core_versioning_t *want);
int swift_versions_apply(swift_req_t *r, core_versioning_t want);
size_t swift_versions_header(const core_bucket_t *b, og_header_t *out);
/* swift_legacy.c: Swift's legacy versioned writes (X-Versions-Location: stack mode,
 * X-History-Location: history mode; docs/swift-compat.md "Legacy versioned writes").
 * swift_legacy_parse reads a container PUT/POST's legacy headers (b: the container's record, NULL
 * for a new one; want: its X-Versions-Enabled, swift_versions_parse) into *out
 * (swift_legacy_conf_free): 0, -ENOMEM or SWIFT_EREFUSED (both given: 400; a '/' in the name: 412;
 * with X-Versions-Enabled, or on a container whose object versioning was ever set: 400).
 * swift_legacy_meta applies *c to the container's metadata meta[0..n) (which has room for one more
 * entry: swift_meta_merge's output while the request carries a legacy header) and returns the
 * new count. swift_legacy_header writes X-Versions-Location or X-History-Location of b into
 * *out: 1, or 0 for none. */
enum { SWIFT_LEGACY_KEEP, SWIFT_LEGACY_SET, SWIFT_LEGACY_REMOVE };
typedef struct {
    int change;  /* SWIFT_LEGACY_* */
    char *value; /* SET: the stored "<stack|history>/<location>", malloc'd */
} swift_legacy_conf_t;
int swift_legacy_parse(swift_req_t *r, const core_bucket_t *b, core_versioning_t want, swift_legacy_conf_t *out);
void swift_legacy_conf_free(swift_legacy_conf_t *c);
size_t swift_legacy_meta(const swift_legacy_conf_t *c, og_header_t *meta, size_t n);
size_t swift_legacy_header(const core_bucket_t *b, og_header_t *out);
/* Objects (the caller checked write access). swift_legacy_put: before a write (PUT, X-Copy-From,
 * COPY, FormPost) replaces (container, key), copies the live object, if any, into the archive of
 * a container with a legacy mode; 0, CORE_EPRECOND (the archive is missing, or the archived name
 * would be too long: Swift's 412, nothing written) or an error. swift_legacy_delete: a DELETE of
 * r's object (no ?version-id) in r->container; 1 once answered (stack mode restored the newest
 * archived copy: 204), 0 when the caller deletes as usual (no legacy mode, nothing archived in
 * stack mode, or history mode has archived the object and written its delete marker), or an
 * error, nothing answered. */
int swift_legacy_put(swift_req_t *r, const char *container, og_str_t key);
int swift_legacy_delete(swift_req_t *r);
/* Objects: swift_version_param gives r's ?version-id= (1) or 0. swift_version_header writes
 * X-Object-Version-Id of m (in r's container, versioning ever set) into *out: 1, or 0.
 * swift_version_lookup reads version vid of r's object: 0 with *m and *buf as core_ver_lookup,
 * 1 after answering a delete marker (Swift's 404 of type application/x-deleted), SWIFT_EREFUSED
 * (400 "Invalid version parameter"), OG_ENOTFOUND or an error. swift_version_delete answers a
 * DELETE ?version-id= (the caller checked write access): removes that version for good, 204. */
int swift_version_param(const swift_req_t *r, og_str_t *vid);
size_t swift_version_header(swift_req_t *r, const core_meta_t *m, og_header_t *out);
int swift_version_lookup(swift_req_t *r, og_str_t vid, core_meta_t *m, char **buf);
void swift_version_delete(swift_req_t *r, og_str_t vid);
/* Is r anonymous and does acl (X-Container-Read) grant `mode` to every anonymous client, with no
 * Referer needed (".r:*")? Then r's answer is what anyone gets, and shared caches may store it
 * (http_req_cache_private). 1 or 0. */
int swift_acl_public(const swift_req_t *r, og_str_t acl, int mode);

/* ---- large objects (swift_slo.c; docs/swift-compat.md "Large objects"; core.h "large objects") ----
 *
 * SLO: PUT ?multipart-manifest=put stores the manifest core_slo_build made of the body; GET/HEAD
 * serve the concatenated segments (core_slo_read). DLO: an object with a stored
 * X-Object-Manifest: container/prefix header; GET/HEAD serve every object under the prefix
 * (core_dlo_stat, core_dlo_read). */

/* Reads a PUT ?multipart-manifest=put body (at most CORE_SLO_MAX_MANIFEST bytes) and checks it
 * (core_slo_build) and a client ETag header against the SLO ETag. 0 with *out ready to store;
 * else a code for swift_slo_error: OG_ETOOBIG, CORE_EMANIFEST (details in *out), OG_EBADDIGEST
 * (the client's ETag differs), a body read error, OG_EQUORUM ... Release *out with
 * core_slo_put_free in every case. */
int swift_slo_build(swift_req_t *r, core_slo_put_t *out);
/* Answers a failed swift_slo_build as Swift does: 413 "Manifest File > N bytes" (Content-Length),
 * 400 with the parse problem, the "Index N: ..." lines, or each segment's problem ("Errors:\n
 * <path>, <reason>\n" or JSON with Accept: application/json), 413 for too many segments, else
 * swift_error_rc. */
void swift_slo_error(swift_req_t *r, int rc, const core_slo_put_t *put);
/* DELETE ?multipart-manifest=delete: deletes an SLO's segments (nested ones too), then the
 * manifest (core_slo_delete), and answers as Swift's bulk delete (200 with Number Deleted /
 * Number Not Found / Response Status / Errors, text or JSON by Accept; a plain object is not
 * deleted: "Not an SLO manifest"). 0 answered, or a code for swift_error_rc (-EACCES ...),
 * nothing answered. */
int swift_slo_delete(swift_req_t *r);

/* The large-object readers' view of r's caller (core_lo_t): r's cluster and clock, and its
 * container access checks (swift_container_access). Valid while r lives. */
void swift_lo(swift_req_t *r, core_lo_t *out);

#endif
