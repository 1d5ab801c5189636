/*
 * gw_swift.h (private to gateway/): the OpenStack Swift API (v1, TempAuth-style auth) beside S3,
 * over the same buckets and objects (docs/swift-compat.md).
 *
 * One namespace: a Swift account is an Onggi account (gw_users.h), a container is the bucket of
 * the same name (table "buckets", global names as in S3), an object is the record of
 * table "o.<container>" written through gw_obj.h, so either API reads what the other wrote.
 *
 * Requests: gw_main sends /auth/v1.0, /auth/v1, /v1/... and unsigned /info here
 * (gw_swift_wants). gw_swift_handle gives each a transaction id, splits
 * /v1/AUTH_<account>/<container>/<object>, checks the token (X-Auth-Token: stateless, an HMAC
 * over account, user, flags and expiry with a cluster-wide secret, so any gateway validates any
 * token without a lookup) and the ACLs, then runs one handler per operation (gw_swift_*.c).
 */
#ifndef GW_SWIFT_H
#define GW_SWIFT_H

#include <pthread.h>

#include "gw_obj.h"
#include "gw_s3.h"

enum {
    GW_EQUOTA = -10420 /* the write would exceed a quota (Swift 413, S3 QuotaExceeded-style 403) */
};

/* Swift limits, as advertised by GET /info (Swift's defaults where Onggi has no reason to differ). */
#define GW_SWIFT_MAX_FILE_SIZE 5368709122ull
#define GW_SWIFT_MAX_META_NAME 128
#define GW_SWIFT_MAX_META_VALUE 256
#define GW_SWIFT_MAX_META_COUNT 90
#define GW_SWIFT_MAX_META_OVERALL 4096
#define GW_SWIFT_LISTING_LIMIT 10000
#define GW_SWIFT_MAX_OBJECT_NAME 1024
#define GW_SWIFT_MAX_CONTAINER_NAME 63 /* the bucket table's limit (S3: 63), not Swift's 256 */
#define GW_SWIFT_TOKEN_LIFE 86400      /* seconds, TempAuth's default */

/* The process-wide Swift context (read-only after start except the lazily loaded secret). */
typedef struct {
    gw_ctx_t *gw;
    uint32_t token_life; /* seconds */
    pthread_mutex_t mu;  /* guards the two fields below */
    int have_secret;
    uint8_t secret[32];  /* the cluster's token key (table "cluster", key "swift-token-key") */
} gw_swift_t;

/* Sets up sw for gw (token_life 0 = GW_SWIFT_TOKEN_LIFE). 0 or -errno. */
int gw_swift_init(gw_swift_t *sw, gw_ctx_t *gw, uint32_t token_life);
void gw_swift_destroy(gw_swift_t *sw);

/* Does this request belong to the Swift API? /auth/v1.0 and /auth/v1 (exact paths), /v1 and
 * everything under /v1/, and GET/HEAD /info that carries no S3 signature (Authorization header
 * or a presigned query). */
int gw_swift_wants(const gw_reqinfo_t *info);
/* The gw_http handler; ctx is a gw_swift_t. */
void gw_swift_handle(gw_req_t *http, void *ctx);

/* ---- bucket records with container metadata (implemented in gw_s3_bucket.c) ---- */

typedef struct {
    char owner[64];
    uint64_t created_ns;
    og_header_t *meta; /* lowercase names: x-container-meta-*, x-container-read/write */
    size_t num_meta;
    char *_buf;        /* the record buffer (gw_bucket_get) */
} gw_bucket_t;

/* Decodes a bucket record (version 1 or 2); meta slices point into rec's buffer. 0 (release with
 * gw_bucket_free) or OG_EPROTO / -ENOMEM. */
int gw_bucket_parse(const og_rec_t *rec, gw_bucket_t *out);
/* Reads a live bucket: 0 with *out (gw_bucket_free), OG_ENOTFOUND, OG_EQUORUM, OG_EPROTO. */
int gw_bucket_get(gw_cluster_t *cl, const char *bucket, gw_bucket_t *out);
/* Writes a bucket record (version 2: with its metadata) with a fresh stamp. 0, OG_EINVAL,
 * OG_EQUORUM, -ENOMEM. */
int gw_bucket_put(gw_cluster_t *cl, const char *bucket, const gw_bucket_t *b);
void gw_bucket_free(gw_bucket_t *b);

/* ---- usage and quotas (gw_swift_quota.c) ---- */

typedef struct {
    uint64_t objects;
    uint64_t bytes;
} gw_usage_t;

/* Live objects and bytes of a bucket, from the nodes' per-table usage counters (updated with
 * every record write, so exact after overwrites and deletes; O(1), no listing). An object past
 * its X-Delete-At counts until its tombstone is written (on access or by onggi-admin expire),
 * as in Swift. 0 or an error. */
int gw_usage_bucket(gw_cluster_t *cl, const char *bucket, uint64_t now_s, gw_usage_t *out);
/* An account's buckets (count), objects and bytes. 0 or an error. */
int gw_usage_account(gw_cluster_t *cl, const char *account, uint64_t now_s, uint64_t *buckets, gw_usage_t *out);
/* May a write of add_bytes (and, with new_object, one more object) go into `bucket` of `account`?
 * Checks the container's x-container-meta-quota-bytes / -quota-count and the account's
 * x-account-meta-quota-bytes, as Swift's container_quotas and account_quotas do (an overwrite
 * counts its full size). Call it before accepting a body whose length is known, and again with
 * the final size before committing one that was not (chunked). 0, GW_EQUOTA, or an error
 * (OG_EQUORUM ...). */
int gw_quota_check(gw_cluster_t *cl, const char *bucket, const char *account, uint64_t add_bytes, int new_object);

/* ---- tokens and ACLs (gw_swift_auth.c; pure functions, unit-tested) ---- */

#define GW_SWIFT_TOKEN_MAX 512

typedef struct {
    char account[64];
    char user[128];
    uint8_t flags;    /* GW_SWIFT_ADMIN, GW_SWIFT_RESELLER */
    uint64_t expires; /* Unix seconds */
} gw_swift_ident_t;

/* Mints "AUTH_tk<hex payload><hex mac>" for id into out (GW_SWIFT_TOKEN_MAX bytes). Returns its
 * length or OG_EINVAL (fields too long). */
long gw_swift_token_mint(const uint8_t key[32], const gw_swift_ident_t *id, char *out, size_t cap);
/* Verifies a token minted with key and not expired at now_s: 0 with *id, OG_EINVAL (malformed or
 * forged) or OG_ENOTFOUND (expired). Constant-time MAC comparison. */
int gw_swift_token_verify(const uint8_t key[32], og_str_t token, uint64_t now_s, gw_swift_ident_t *id);

enum { GW_ACL_READ = 0, GW_ACL_LISTING = 1, GW_ACL_WRITE = 2 };
/* Does an ACL (X-Container-Read / -Write value: comma-separated ".r:*", ".r:-x", ".rlistings",
 * "account", "account:user", "*:user", "account:*") grant access of kind `mode` (GW_ACL_*) to
 * identity id (NULL for an anonymous request)? A referrer grant (".r:*") allows reading objects,
 * listings only together with ".rlistings", and never writes. 1 or 0. */
int gw_swift_acl_allows(og_str_t acl, const gw_swift_ident_t *id, int mode);

/* Reclaims an expired object (m decoded from its record): a tombstone stamped at its expiry (or
 * just after its own write), so a newer write of the same key always wins over it. 0 or an error. */
int gw_swift_expire(gw_cluster_t *cl, const char *bucket, og_str_t key, const gw_meta_t *m);

/* ---- one request ---- */

typedef struct {
    gw_req_t *http;
    const gw_reqinfo_t *info;
    gw_swift_t *sw;
    gw_cluster_t *cl;
    char trans_id[40];
    char account[64];        /* from AUTH_<account>; "" for /info and /auth */
    char container[GW_SWIFT_MAX_CONTAINER_NAME + 1];
    char *object;            /* decoded, NUL-terminated, malloc'd; NULL below object level */
    size_t object_len;
    int has_container;
    gw_swift_ident_t id;     /* the caller, when has_id */
    int has_id;
    int is_owner;            /* admin of this account or reseller admin: full control */
    int responded;
    int status;
    uint64_t now_s;
} gw_swift_req_t;

/* Answers with status and a small body (NULL: Swift's standard HTML body for that status, empty
 * for HEAD), adding X-Trans-Id, X-Openstack-Request-Id and Content-Type. */
void gw_swift_send(gw_swift_req_t *r, int status, const og_header_t *extra, size_t n, const char *ctype,
                   const void *body, size_t len);
/* Standard error answer for a status. */
void gw_swift_error(gw_swift_req_t *r, int status);
/* Maps an internal code to an answer: OG_ENOTFOUND 404, OG_EQUORUM/OG_ETIMEOUT 503,
 * GW_EQUOTA 413, OG_ETOOBIG 413, OG_EINVAL 400, else 500. */
void gw_swift_error_rc(gw_swift_req_t *r, int rc);
/* The transaction headers every answer carries (2 entries). */
size_t gw_swift_std_headers(gw_swift_req_t *r, og_header_t *out);

/* "<prefix>Foo-Bar" from a lowercase stored name's suffix "foo-bar" into out (cap bytes):
 * Swift's title-cased header spelling. Returns the length (truncated to cap - 1). */
size_t gw_swift_title(const char *prefix, og_str_t suffix, char *out, size_t cap);

/* Metadata from request headers with the given prefix ("x-container-meta-", ...): merges
 * them into *cur (old list, may be replaced), removing entries set to "" or named by
 * X-Remove-<Type>-Meta-*; extra_names (NULL-terminated, lowercase) are kept the same way.
 * All strings are copied into *mem (the caller frees, after the list is no longer used).
 * 0, OG_ETOOBIG (Swift's metadata limits: 400) or -ENOMEM. */
int gw_swift_meta_merge(gw_swift_req_t *r, const char *prefix, const char *remove_prefix,
                        const char *const *extra_names, og_header_t **cur, size_t *n, char **mem);

/* Handlers. */
void gw_swift_auth(gw_swift_req_t *r);            /* GET /auth/v1.0 */
void gw_swift_account(gw_swift_req_t *r);         /* GET/HEAD/POST /v1/AUTH_a */
void gw_swift_container(gw_swift_req_t *r);       /* PUT/DELETE/GET/HEAD/POST /v1/AUTH_a/c */
void gw_swift_object(gw_swift_req_t *r);          /* PUT/GET/HEAD/DELETE/POST/COPY /v1/AUTH_a/c/o */
/* The listing a GET asks for (b: the container's record, or NULL for the account's containers),
 * in text/json/xml, appended to body with its content type in *ctype (static). 0, or -1 with
 * the error answered (400/412 for bad parameters, 503 ...). */
int gw_swift_list_body(gw_swift_req_t *r, const gw_bucket_t *b, gw_xbuf_t *body, const char **ctype);

/* Token key for this cluster, creating it on first use. 0 or an error. */
int gw_swift_secret(gw_swift_t *sw, uint8_t out[32]);

/* May the caller of r access `container` (which must belong to r's account) in `mode`
 * (GW_ACL_READ / GW_ACL_WRITE)? Answers nothing: 0, -EACCES (an ACL denies it, or the container
 * is absent and the caller is not the owner: strangers never learn what exists), OG_ENOTFOUND
 * (absent or another account's, for the owner), OG_EQUORUM, OG_EPROTO. */
int gw_swift_container_access(gw_swift_req_t *r, const char *container, int mode);
/* Appends s to b as a JSON string (quotes, escapes for '"', '\\' and control characters; other
 * bytes as they are, so UTF-8 stays UTF-8). */
void gw_swift_json_str(gw_xbuf_t *b, og_str_t s);

/* ---- large objects (gw_swift_slo.c; docs/swift-compat.md "Large objects") ----
 *
 * SLO: PUT ?multipart-manifest=put stores an object whose bytes are the manifest in Swift's
 * stored JSON format (list of {name, bytes, hash, content_type, last_modified[, range]
 * [, sub_slo]}) and whose record carries GW_META_SLO with the total size and the SLO ETag (MD5 of
 * the segments' ETags, "etag:range;" for a ranged one). GET/HEAD serve the concatenated segments.
 * DLO: an object with a stored X-Object-Manifest: container/prefix header; GET/HEAD serve every
 * object under the prefix in listing order, ETag = MD5 of their ETags.
 * Memory: segment bytes stream through gw_obj_read (its batch buffer); a GET holds at most
 * GW_SWIFT_SLO_MAX_DEPTH parsed manifests plus the per-request sub-manifest cache (at most 16
 * entries; unused ones are dropped beyond 8 MiB), a DLO one listing page. */
#define GW_SWIFT_SLO_MAX_SEGMENTS 1000   /* object-backed segments per manifest (Swift's default) */
#define GW_SWIFT_SLO_MAX_MANIFEST 8388608 /* bytes of a manifest PUT body (Swift's default) */
#define GW_SWIFT_SLO_MAX_DEPTH 10         /* nested SLOs (Swift's max_slo_recursion_depth) */

/* A validated manifest, ready to be stored. */
typedef struct {
    gw_xbuf_t json;  /* the manifest in Swift's stored format (the object's bytes) */
    uint64_t size;   /* sum of the segments' (ranged) lengths */
    uint8_t etag[16];
} gw_swift_slo_t;

/* Reads a PUT ?multipart-manifest=put body (at most GW_SWIFT_SLO_MAX_MANIFEST bytes), checks its
 * syntax and every segment (exists, readable by the caller, etag/size_bytes/range agree, at least
 * 1 byte but the last) and a client ETag header against the SLO ETag. 0 with *out (release with
 * gw_swift_slo_free), or -1 with the answer sent: 400 listing each problem as Swift does
 * ("Errors:\n<path>, <reason>\n" or JSON with Accept: application/json), 413, 422, 503 ... */
int gw_swift_slo_build(gw_swift_req_t *r, gw_swift_slo_t *out);
void gw_swift_slo_free(gw_swift_slo_t *s);
/* Streams bytes [first, last] of the SLO whose manifest record is m (GW_META_SLO, last <
 * m->slo_size) to sink, segment by segment through gw_obj_read. 0, the sink's code, OG_ENOTFOUND
 * (a segment is gone), OG_ECORRUPT (a segment changed since the PUT, or a bad manifest), -EACCES,
 * or a cluster error. After bytes went to the sink a failure means: abort the response. */
int gw_swift_slo_read(gw_swift_req_t *r, const gw_meta_t *m, uint64_t first, uint64_t last, gw_obj_sink_fn sink,
                      void *ctx);
/* DELETE ?multipart-manifest=delete: deletes an SLO's segments (nested ones too), then the
 * manifest, and answers as Swift's bulk delete (200 with Number Deleted / Number Not Found /
 * Response Status / Errors, text or JSON by Accept). A plain object is not deleted ("Not an SLO
 * manifest"). Always answers. */
void gw_swift_slo_delete(gw_swift_req_t *r);

/* Is v a valid X-Object-Manifest value ("container/prefix", both non-empty, no '?' or '&', the
 * prefix not starting with '/')? 1 or 0. */
int gw_swift_dlo_valid(og_str_t v);
/* Size and ETag (MD5 of the segments' ETags) of the DLO whose X-Object-Manifest is v: one pass
 * over the listing. 0, -EACCES (the caller may not read the segments' container), OG_EINVAL
 * (v malformed), OG_EQUORUM ... A missing segment container is an empty DLO. */
int gw_swift_dlo_stat(gw_swift_req_t *r, og_str_t v, uint64_t *size, uint8_t md5[16]);
/* Streams bytes [first, last] of that DLO (positions as gw_swift_dlo_stat counted them) to
 * sink. 0, the sink's code, OG_ECORRUPT (a segment changed meanwhile), or an error as above. */
int gw_swift_dlo_read(gw_swift_req_t *r, og_str_t v, uint64_t first, uint64_t last, gw_obj_sink_fn sink,
                      void *ctx);

/* ---- large objects read through S3 (gw_s3_object.c, gw_s3_list.c) ----
 * As s3api does, S3 GetObject/HeadObject of an SLO or DLO serve the segments' bytes and total
 * size through the readers above; S3 listings show an SLO's total size and ETag (a DLO lists as
 * its manifest object, as Swift's container listing has it). */

/* A stand-in Swift request, on behalf of S3 request s3, for gw_swift_slo_read, gw_swift_dlo_stat
 * and gw_swift_dlo_read only (it has no gw_swift_t, no object and no token). It acts as the owner
 * of s3's caller's account: gw_s3_handle admits only the bucket's owner, and segments live in
 * containers of the same account, so no container ACL applies; another account's container
 * reads as absent. now_s: Unix seconds, for segment expiry. It borrows s3's fields, so *out must
 * not outlive s3. Cannot fail. */
void gw_swift_req_for_s3(gw_swift_req_t *out, gw_s3_req_t *s3, uint64_t now_s);
/* The quoted ETag s3api shows for an SLO (m has GW_META_SLO) in GET, HEAD and listings:
 * "\"<hex SLO ETag>-N\"". The -N marks it, like a multipart upload's, as not the MD5 of the
 * bytes, so S3 clients do not check the body against it. Into out (at least 48 bytes); returns
 * its length. */
size_t gw_swift_slo_s3_etag(const gw_meta_t *m, char *out);

#endif
