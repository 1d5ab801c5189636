/*
 * s3_handle: the S3 front door. For each request: a random request id, bucket and key
 * from the Host header (virtual-host style) or the path, authentication, the bucket owner
 * check, and dispatch to one handler per operation (s3_*.c).
 *
 * Access model: a request is signed (its account is the caller) or anonymous. A bucket's owner
 * may do everything to it and its objects; anyone else only what the bucket policy or the bucket's
 * or the object's ACL grants them, as the bucket's PublicAccessBlock and ObjectOwnership allow
 * (s3_authorize, s3_acl.c, iam_pab.c); the rest get 403 AccessDenied.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <strings.h>
#include <time.h>

#include "s3_int.h"


/* Sub-resources S3 defines that this gateway does not implement: such requests get 501
 * instead of being mistaken for plain object or bucket operations. */
static const char *const unimplemented_subresources[] = {
    "accelerate", "analytics", "intelligent-tiering", "inventory",
    "lifecycle", "logging", "metrics", "notification", "replication", "requestPayment", "restore",
    "select", "torrent",
};

/* Request headers that promise protection or placement this gateway does not provide. Accepting
 * them would store an object unencrypted or unlocked, so each is refused with the error AWS gives
 * where it lacks the feature: SSE headers on a bucket request (default encryption is
 * PutBucketEncryption's body), S3 bucket keys, Object Lock on a bucket created without it.
 * `harmless` values ask for what the gateway does anyway (the one storage class) and are sent by
 * default by some clients. A name ending in '-' is a prefix. */
typedef enum { ON_ANY, ON_BUCKET, ON_KEY } refused_on_t;
typedef struct {
    const char *name;
    refused_on_t on;          /* which requests: all, bucket-level (CreateBucket ...), object-level */
    const char *harmless[2];  /* values accepted (case-insensitive) */
    int status;
    const char *code, *message; /* message NULL: "The <header> header is not implemented." */
} refused_header_t;

static const refused_header_t refused_headers[] = {
    /* SSE and SSE-C are taken by the object requests that store or read bytes (s3_sse.c) */
    {"x-amz-server-side-encryption", ON_BUCKET, {NULL}, 501, "NotImplemented", NULL},
    {"x-amz-server-side-encryption-", ON_BUCKET, {NULL}, 501, "NotImplemented", NULL},
    {"x-amz-copy-source-server-side-encryption-", ON_BUCKET, {NULL}, 501, "NotImplemented", NULL},
    {"x-amz-server-side-encryption-context", ON_ANY, {NULL}, 501, "NotImplemented", NULL},
    {"x-amz-server-side-encryption-bucket-key-enabled", ON_ANY, {"false"}, 501, "NotImplemented", NULL},
    /* object requests other than PutObject / CopyObject (refuse_lock_headers) */
    {"x-amz-bucket-object-lock-enabled", ON_KEY, {"false"}, 400, "InvalidRequest", NULL},
    {"x-amz-storage-class", ON_ANY, {"STANDARD"}, 400, "InvalidStorageClass",
     "The storage class you specified is not valid"},
};

/* Does header h match row t (name, scope) with a value t does not call harmless? */
static int header_refused(const s3_req_t *r, const refused_header_t *t, const og_header_t *h)
{
    size_t len = strlen(t->name);
    int named = t->name[len - 1] == '-' ? h->name.len > len && strncasecmp(h->name.base, t->name, len) == 0
                                        : og_str_ieq(h->name, t->name);
    if (!named)
        return 0;
    if ((t->on == ON_KEY && r->key == NULL) || (t->on == ON_BUCKET && r->key != NULL))
        return 0;
    for (size_t i = 0; i < sizeof(t->harmless) / sizeof(t->harmless[0]) && t->harmless[i] != NULL; i++)
        if (og_str_ieq(h->value, t->harmless[i]))
            return 0;
    return 1;
}

/* Answers r and returns 1 when it carries a header of refused_headers; 0 otherwise. */
static int refuse_headers(s3_req_t *r)
{
    for (size_t i = 0; i < r->info->num_headers; i++) {
        const og_header_t *h = &r->info->headers[i];
        for (size_t j = 0; j < sizeof(refused_headers) / sizeof(refused_headers[0]); j++) {
            const refused_header_t *t = &refused_headers[j];
            if (!header_refused(r, t, h))
                continue;
            char msg[160];
            snprintf(msg, sizeof(msg), "The %.*s header is not implemented.", (int)h->name.len, h->name.base);
            s3_error(r, t->status, t->code, t->message != NULL ? t->message : msg, NULL);
            return 1;
        }
    }
    return 0;
}

/* The "<bucket>" of a Host "<bucket>.<domain>[:port]", or an empty slice (path style). */
static og_str_t vhost_bucket(const s3_req_t *r)
{
    og_str_t host = http_host_without_port(http_req_header(r->http, "host"));
    const char *domain = r->gw->domain;
    size_t dlen = domain ? strlen(domain) : 0;
    if (dlen == 0 || host.len <= dlen + 1)
        return (og_str_t){NULL, 0};
    const char *suffix = host.base + host.len - dlen;
    if (suffix[-1] != '.' || strncasecmp(suffix, domain, dlen) != 0)
        return (og_str_t){NULL, 0};
    return (og_str_t){host.base, host.len - dlen - 1};
}

/* Fills r->bucket and r->key (malloc'd, freed by s3_handle) from the host and path. 0,
 * OG_EINVAL (not a path, a bad escape, or a bucket or key that is not UTF-8 or holds a NUL:
 * InvalidURI, as s3api), OG_ETOOBIG (the bucket name, r->key still NULL: InvalidBucketName; or the
 * key, r->key set: KeyTooLongError), -ENOMEM. A DELETE may name a key that is not UTF-8, so one
 * stored before the check can still be removed. */
static int split_target(s3_req_t *r, og_str_t host_bucket)
{
    og_str_t path = r->info->path, bucket, key;
    if (path.len == 0 || path.base[0] != '/')
        return OG_EINVAL;
    path.base++, path.len--;
    if (host_bucket.len > 0) {
        bucket = host_bucket;
        key = path;
    } else {
        const char *slash = memchr(path.base, '/', path.len);
        bucket = (og_str_t){path.base, slash ? (size_t)(slash - path.base) : path.len};
        key = slash ? (og_str_t){slash + 1, path.len - bucket.len - 1} : (og_str_t){NULL, 0};
    }

    char ref[2 * 64];
    long n = og_urldecode(bucket.base, bucket.len, ref, sizeof(ref) - 1, 0);
    if (n < 0)
        return n == OG_ETOOBIG ? OG_ETOOBIG : OG_EINVAL;
    ref[n] = '\0';
    if (!og_utf8_valid(ref, (size_t)n, 0) || memchr(ref, '\0', (size_t)n) != NULL)
        return OG_EINVAL;
    r->vhost = host_bucket.len > 0;
    if (n > 0 && !r->vhost && s3_bucket_ref(ref, r->tenant, r->bucket) != 0)
        return OG_ETOOBIG;
    if (r->vhost || n == 0) {
        if ((size_t)n >= sizeof(r->bucket))
            return OG_ETOOBIG;
        memcpy(r->bucket, ref, (size_t)n + 1);
    }
    n = (long)strlen(r->bucket);
    if (host_bucket.len > 0) {
        /* host names are case-insensitive; bucket names are lowercase */
        for (long i = 0; i < n; i++)
            if (r->bucket[i] >= 'A' && r->bucket[i] <= 'Z')
                r->bucket[i] = (char)(r->bucket[i] + 32);
    }
    if (key.len == 0)
        return 0;

    char *k = malloc(key.len + 1);
    if (k == NULL)
        return -ENOMEM;
    n = og_urldecode(key.base, key.len, k, key.len, 0);
    if (n < 0) {
        free(k);
        return OG_EINVAL;
    }
    k[n] = '\0';
    r->key = k;
    r->key_len = (size_t)n;
    if (memchr(k, '\0', (size_t)n) != NULL ||
        (!og_str_eq(r->info->method, "DELETE") && !og_utf8_valid(k, (size_t)n, 0)))
        return OG_EINVAL;
    return n > OG_KEY_MAX ? OG_ETOOBIG : 0;
}

/* auth_lookup_fn: the caller's secret, keeping the whole user record for the owner checks. */
static int lookup_secret(void *ctx, og_str_t access_key, char *secret, size_t cap)
{
    s3_req_t *r = ctx;
    int rc = iam_user_get(r->gw->iam, access_key, &r->user);
    if (rc != 0)
        return rc;
    size_t len = strlen(r->user.secret);
    if (len + 1 > cap)
        return OG_ETOOBIG;
    memcpy(secret, r->user.secret, len + 1);
    return 0;
}

/* Authenticates the request: 0 (signed: r->authenticated, or anonymous), an AUTH_E* code, or the
 * user lookup's (OG_EQUORUM ...). */
static int authenticate(s3_req_t *r, og_str_t host_bucket)
{
    const http_reqinfo_t *info = r->info;
    auth_request_t ar = {
        .method = info->method,
        .path = info->path,
        .query = info->query,
        .host_bucket = host_bucket,
        .headers = info->headers,
        .num_headers = info->num_headers,
        .now = (int64_t)time(NULL),
        .region = r->gw->region,
        .keys = r->gw->sigv4_keys,
    };
    int rc = auth_verify(&ar, lookup_secret, r, &r->auth);
    r->authenticated = rc == 0;
    /* an unsigned request goes on as anonymous: ACLs decide (s3_authorize) */
    return rc == AUTH_EANONYMOUS ? 0 : rc;
}

/* Answers a failed split_target. */
static void target_error(s3_req_t *r, int rc)
{
    if (rc == OG_EINVAL)
        s3_error(r, 400, "InvalidURI", "Couldn't parse the specified URI.", NULL);
    else if (rc == OG_ETOOBIG)
        s3_error(r, 400, r->key != NULL ? "KeyTooLongError" : "InvalidBucketName", NULL, NULL);
    else
        s3_error_rc(r, rc);
}

/* core_lo_t.access for S3: a large object's segments live in containers of its bucket's account
 * (core_bucket_find, as Swift resolves them). Only that account's own users read them (no ACL
 * applies to segments); for anyone else they read as absent. */
static int lo_access(void *ctx, const char *container, int write, char id[CORE_BID_CAP])
{
    s3_req_t *r = ctx;
    core_bucket_t b;
    int own = r->authenticated && strcmp(r->bucket_owner, r->user.account) == 0;
    int rc = own ? core_bucket_find(r->gw->cluster, r->user.account, container, &b) : OG_ENOTFOUND;
    (void)write;
    if (rc == 0) {
        memcpy(id, b.id, CORE_BID_CAP);
        core_bucket_free(&b);
    }
    return rc;
}

int s3_bucket_ref(const char *ref, char tenant[64], char name[64])
{
    const char *colon = strchr(ref, ':');
    size_t tlen = colon != NULL ? (size_t)(colon - ref) : 0;
    const char *n = colon != NULL ? colon + 1 : ref;
    if (strlen(n) >= 64 || tlen >= 64 || *n == '\0')
        return OG_EINVAL;
    if (colon != NULL && tlen == 0)
        memcpy(tenant, S3_GLOBAL_TENANT, sizeof(S3_GLOBAL_TENANT));
    else
        memcpy(tenant, ref, tlen), tenant[tlen] = '\0';
    memcpy(name, n, strlen(n) + 1);
    return 0;
}

/* s3_bucket_find's rule, with own: whether the caller's own account comes first. */
static int bucket_find(s3_req_t *r, const char *tenant, const char *name, int own, core_bucket_t *out)
{
    int rc;
    if (tenant[0] != '\0' && strcmp(tenant, S3_GLOBAL_TENANT) != 0)
        return core_bucket_find(r->gw->cluster, tenant, name, out);
    if (!own || !r->authenticated || tenant[0] != '\0')
        return core_bucket_get(r->gw->cluster, name, out);
    rc = core_bucket_find(r->gw->cluster, r->user.account, name, out);
    return rc == OG_ENOTFOUND ? core_bucket_get(r->gw->cluster, name, out) : rc;
}

int s3_bucket_find(s3_req_t *r, const char *tenant, const char *name, core_bucket_t *out)
{
    return bucket_find(r, tenant, name, 1, out);
}

int s3_bucket_load(s3_req_t *r, core_bucket_t *out)
{
    return bucket_find(r, r->tenant, r->bucket, !r->vhost, out);
}

void s3_lo(s3_req_t *r, uint64_t now_s, core_lo_t *out)
{
    *out = (core_lo_t){r->gw->cluster, now_s, lo_access, r};
}

static int has_param(const s3_req_t *r, const char *name) { return og_query_get(r->info->query, name, NULL); }

static int list_v2(const s3_req_t *r)
{
    og_str_t v;
    return og_query_get(r->info->query, "list-type", &v) && og_str_eq(v, "2");
}

/* The request's method, one flag each. */
typedef struct {
    int get, head, put, del, post;
} verbs_t;

/* Requests on the bucket itself (no key). */
static void route_bucket(s3_req_t *r, verbs_t v)
{
    if (has_param(r, "tagging") && (v.get || v.put || v.del))
        s3_bucket_tagging(r, v.put, v.del);
    else if (has_param(r, "website") && (v.get || v.put || v.del))
        s3_bucket_website(r, v.put, v.del);
    else if (has_param(r, "encryption") && (v.get || v.put || v.del))
        s3_bucket_encryption(r, v.put, v.del);
    else if (has_param(r, "lifecycle") && (v.get || v.put || v.del))
        s3_bucket_lifecycle(r, v.put, v.del);
    else if (v.get && has_param(r, "location"))
        s3_get_bucket_location(r);
    else if (v.get && has_param(r, "versioning"))
        s3_get_bucket_versioning(r);
    else if (v.put && has_param(r, "versioning"))
        s3_put_bucket_versioning(r);
    else if (v.get && has_param(r, "versions"))
        s3_list_object_versions(r);
    else if (v.get && has_param(r, "object-lock"))
        s3_get_object_lock_config(r);
    else if (v.put && has_param(r, "object-lock"))
        s3_put_object_lock_config(r);
    else if (v.get && has_param(r, "uploads"))
        s3_list_multipart_uploads(r);
    else if (v.get)
        s3_list_objects(r, list_v2(r));
    else if (v.head)
        s3_head_bucket(r);
    else if (v.del)
        s3_delete_bucket(r);
    else if (v.post && has_param(r, "delete"))
        s3_delete_objects(r);
    else
        s3_error(r, 405, "MethodNotAllowed", NULL, NULL);
}

/* Requests on a key: one upload of it (?uploadId, ?uploads), or the object. */
static void route_key(s3_req_t *r, verbs_t v)
{
    if (has_param(r, "uploadId")) {
        if (v.put)
            s3_upload_part(r);
        else if (v.post)
            s3_complete_multipart(r);
        else if (v.get)
            s3_list_parts(r);
        else if (v.del)
            s3_abort_multipart(r);
        else
            s3_error(r, 405, "MethodNotAllowed", NULL, NULL);
    } else if (v.post && has_param(r, "uploads")) {
        s3_create_multipart(r);
    } else if (has_param(r, "uploads")) {
        s3_error(r, 405, "MethodNotAllowed", "Only POST starts a multipart upload.", NULL);
    } else if (v.get && has_param(r, "retention")) {
        s3_get_object_retention(r);
    } else if (v.put && has_param(r, "retention")) {
        s3_put_object_retention(r);
    } else if (v.get && has_param(r, "legal-hold")) {
        s3_get_object_legal_hold(r);
    } else if (v.put && has_param(r, "legal-hold")) {
        s3_put_object_legal_hold(r);
    } else if (has_param(r, "versionId") && !v.get && !v.head && !v.del) {
        s3_error(r, 400, "InvalidArgument", "This operation does not take a versionId.", NULL);
    } else if (has_param(r, "partNumber") && !v.get && !v.head) {
        /* a part is written only into an upload; GET/HEAD ?partNumber read one (s3_get_object) */
        s3_error(r, 400, "InvalidRequest", "A partNumber without an uploadId is only valid on GET and HEAD.", NULL);
    } else if (v.get && has_param(r, "attributes")) {
        s3_get_object_attributes(r);
    } else if (has_param(r, "tagging") && (v.get || v.put || v.del)) {
        s3_object_tagging(r, v.put, v.del);
    } else if (v.put && http_req_header(r->http, "x-amz-copy-source").base != NULL) {
        s3_copy_object(r);
    } else if (v.put) {
        s3_put_object(r);
    } else if (v.get || v.head) {
        s3_get_object(r);
    } else if (v.del) {
        s3_delete_object(r);
    } else {
        s3_error(r, 405, "MethodNotAllowed", NULL, NULL);
    }
}

/* x-amz-object-lock-* belong to PutObject, CopyObject and CreateMultipartUpload (s3_lock_write;
 * an upload keeps them on its record until Complete): answers r and returns 1 when another
 * request carries one, else 0. */
static int refuse_lock_headers(s3_req_t *r, verbs_t v)
{
    int write = r->key != NULL && ((v.put && !has_param(r, "uploadId") && !has_param(r, "retention") &&
                                    !has_param(r, "legal-hold")) ||
                                   (v.post && has_param(r, "uploads")));
    for (size_t i = 0; i < r->info->num_headers && !write; i++) {
        og_str_t n = r->info->headers[i].name;
        if (n.len <= 19 || strncasecmp(n.base, "x-amz-object-lock-", 18) != 0)
            continue;
        s3_error(r, 400, "InvalidRequest", "Bucket is missing Object Lock Configuration", NULL);
        return 1;
    }
    return 0;
}

/* The ACL a write (CreateBucket: bucket_owner NULL, PutObject, CopyObject, CreateMultipartUpload)
 * asks for, into r->acl, and who will own the object (r->bucket_owns), under r->ctl (the bucket's
 * controls; CreateBucket's x-amz-object-ownership). Under BucketOwnerEnforced nothing is stored:
 * ACLs are disabled. 1, or 0 after answering the error. */
static int request_acl(s3_req_t *r, const char *bucket_owner)
{
    const char *writer = r->authenticated ? r->user.account : "";
    r->bucket_owns = bucket_owner != NULL && iam_s3ctl_bucket_owns(r->ctl, http_req_header(r->http, "x-amz-acl"));
    int given, rc = s3_acl_request(r, r->bucket_owns ? bucket_owner : writer, bucket_owner, &r->acl, &given);
    if (rc == 0 && given)
        rc = iam_s3ctl_acl_admit(r->ctl, (og_str_t){r->acl.buf, r->acl.len}, bucket_owner ? bucket_owner : writer);
    if (rc == 0 && r->ctl.ownership == IAM_OWN_ENFORCED)
        r->acl.len = 0;
    if (rc == 0 && given && bucket_owner != NULL) /* an object's: purge on change must know */
        rc = s3_acl_note_public_object(r, (og_str_t){r->acl.buf, r->acl.len});
    if (rc == IAM_EACLDISABLED && bucket_owner == NULL)
        s3_error(r, 400, "InvalidBucketAclWithObjectOwnership",
                 "Bucket cannot have ACLs set with ObjectOwnership's BucketOwnerEnforced setting", NULL);
    else if (rc != 0)
        s3_acl_error(r, rc);
    return rc == 0;
}

/* Refuses what no handler serves, then hands r to one: the service, CreateBucket, or (once the
 * bucket is known to be the caller's) the bucket's and its keys' operations. */
static void route(s3_req_t *r)
{
    og_str_t m = r->info->method;
    verbs_t v = {og_str_eq(m, "GET"), og_str_eq(m, "HEAD"), og_str_eq(m, "PUT"), og_str_eq(m, "DELETE"),
                 og_str_eq(m, "POST")};
    int rc;

    if (og_str_eq(m, "OPTIONS") && r->bucket[0] != '\0') {
        s3_cors_preflight(r); /* unsigned, as browsers send it */
        return;
    }
    if (!v.get && !v.head && !v.put && !v.del && !v.post) {
        s3_error(r, 405, "MethodNotAllowed", NULL, NULL);
        return;
    }
    if (r->bucket[0] == '\0') {
        if (!r->authenticated)
            s3_error(r, 403, "AccessDenied", NULL, NULL);
        else if (v.get)
            s3_list_buckets(r);
        else
            s3_error(r, 405, "MethodNotAllowed", NULL, NULL);
        return;
    }
    for (size_t i = 0; i < sizeof(unimplemented_subresources) / sizeof(unimplemented_subresources[0]); i++) {
        /* a bucket's ?lifecycle is served (s3_lifecycle.c); an object has none */
        if (r->key == NULL && strcmp(unimplemented_subresources[i], "lifecycle") == 0)
            continue;
        if (has_param(r, unimplemented_subresources[i]) && !r->authenticated) {
            /* no ACL grants what is not implemented: tell a stranger nothing more */
            s3_error(r, 403, "AccessDenied", NULL, NULL);
            return;
        }
        if (has_param(r, unimplemented_subresources[i])) {
            char msg[128];
            snprintf(msg, sizeof(msg), "The ?%s sub-resource is not implemented.", unimplemented_subresources[i]);
            s3_error(r, 501, "NotImplemented", msg, NULL);
            return;
        }
    }
    if (r->key != NULL && (has_param(r, "encryption") || has_param(r, "publicAccessBlock") ||
                           has_param(r, "ownershipControls"))) { /* a bucket's only */
        s3_error(r, 501, "NotImplemented", "This sub-resource is a bucket's: it is not implemented on an object.",
                 NULL);
        return;
    }
    if (refuse_headers(r))
        return;
    if (refuse_lock_headers(r, v))
        return;
    if (r->key == NULL && v.put && !has_param(r, "acl") && !has_param(r, "policy") &&
        !has_param(r, "policyStatus") && !has_param(r, "cors") && !has_param(r, "tagging") &&
        !has_param(r, "versioning") && !has_param(r, "object-lock") &&
        !has_param(r, "website") && !has_param(r, "encryption") &&
        !has_param(r, "lifecycle") && !has_param(r, "publicAccessBlock") && !has_param(r, "ownershipControls")) {
        if (!r->authenticated)
            s3_error(r, 403, "AccessDenied", NULL, NULL);
        else if (s3_ownership_header(r) && request_acl(r, NULL))
            s3_create_bucket(r);
        return;
    }
    s3_cors_actual(r);
    if ((rc = s3_authorize(r)) != 0)
        s3_error_on(r, rc, rc == OG_ENOTFOUND && r->bucket_owner[0] != '\0' ? S3_ON_TARGET : S3_ON_BUCKET);
    else if (r->key == NULL && (has_param(r, "policy") || has_param(r, "policyStatus")))
        s3_bucket_policy(r);
    else if (r->key == NULL && has_param(r, "cors"))
        s3_bucket_cors(r);
    else if (r->key == NULL && has_param(r, "publicAccessBlock") && (v.get || v.put || v.del))
        s3_bucket_pab(r, v.put, v.del);
    else if (r->key == NULL && has_param(r, "ownershipControls") && (v.get || v.put || v.del))
        s3_bucket_ownership(r, v.put, v.del);
    else if (has_param(r, "acl") && v.get)
        s3_get_acl(r);
    else if (has_param(r, "acl") && v.put)
        s3_put_acl(r);
    else if (has_param(r, "acl"))
        s3_error(r, 405, "MethodNotAllowed", NULL, NULL);
    else if (r->key == NULL)
        route_bucket(r, v);
    else if ((!v.put && !(v.post && has_param(r, "uploads"))) || has_param(r, "uploadId") ||
             request_acl(r, r->bucket_owner))
        route_key(r, v);
}

int s3_quota_check(s3_req_t *r, uint64_t add_bytes)
{
    /* the bucket's quotas and its owner's account quota, whoever writes (an ACL grantee, anyone) */
    const char *owner = r->bucket_owner[0] != '\0' ? r->bucket_owner : r->user.account;
    return core_quota_check(r->gw->cluster, r->bucket, owner, add_bytes, 1);
}

og_str_t s3_busy_body(const http_reqinfo_t *info, void *ctx, const char **content_type)
{
    (void)info;
    (void)ctx;
    *content_type = "application/xml";
    return OG_STR_LIT("<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n"
                      "<Error><Code>SlowDown</Code><Message>Please reduce your request rate.</Message></Error>");
}

/* s3_handle, and with site s3_website_handle: the request's bucket from the Host then as a website
 * request (s3_site_serve). */
static void handle(http_req_t *http, s3_ctx_t *gw, int site)
{
    s3_req_t r = {.http = http, .info = http_req_info(http), .gw = gw};
    http_request_id(http, r.request_id);
    r.resource = r.info->path;
    /* Every S3 answer is the caller's own until public ACLs exist: a shared cache must never
     * store one (docs/architecture.md "CDN origin"). */
    http_req_cache_private(http, 1);

    og_str_t host_bucket = site ? s3_site_bucket(&r) : vhost_bucket(&r);
    int rc = split_target(&r, host_bucket);
    if (rc != 0)
        target_error(&r, rc);
    else if (site && http_req_claim_remote(http) != 0)
        s3_error(&r, 503, "SlowDown", NULL, NULL);
    else if (site)
        s3_site_serve(&r); /* anonymous, whatever credentials came along */
    else if ((rc = authenticate(&r, host_bucket)) != 0)
        s3_error_rc(&r, rc);
    else if ((r.authenticated ? http_req_claim(http, og_str(r.user.account)) : http_req_claim_remote(http)) != 0)
        /* The account (or an anonymous client's address) already holds its share of the
         * workers (docs/operations.md). */
        s3_error(&r, 503, "SlowDown", NULL, NULL);
    else
        route(&r);
    if (!r.responded) {
        /* A handler returned without answering: a bug, but the client must not hang. */
        fprintf(stderr, "onggi-gateway: request %s: %.*s %.*s returned without a response\n", r.request_id,
                (int)r.info->method.len, r.info->method.base, (int)r.info->path.len, r.info->path.base);
        s3_error(&r, 500, "InternalError", NULL, NULL);
    }
    size_t op = s3_op_classify(&r);
    http_req_set_op(http, r.gw->api_index, (unsigned)op);
    /* One line per request: every request with --access-log, else only server errors. */
    http_log_line_t line = {r.request_id, r.authenticated ? r.user.account : NULL, "s3", s3_op_name(op),
                            og_str(r.bucket), {r.key, r.key != NULL ? r.key_len : 0}, r.info->target, r.status};
    http_access_log(http, &line, r.gw->access_log);
    free(r.key);
    og_buf_free(&r.acl);
}

void s3_handle(http_req_t *http, void *ctx) { handle(http, ctx, 0); }

void s3_website_handle(http_req_t *http, void *ctx) { handle(http, ctx, 1); }
