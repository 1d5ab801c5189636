/*
 * s3_int.h (private to gateway/s3/): the S3 front end's shared pieces.
 *
 * s3_handle() (s3.h) is the HTTP handler: it assigns a request id, splits bucket and key
 * (path style, or virtual-host style under the configured domain), authenticates, and routes
 * to one handler per S3 operation. Handlers live in s3_*.c and answer through the helpers
 * here, so every response carries x-amz-request-id and errors are S3 XML
 * (Code, Message, Resource, RequestId).
 */
#ifndef S3_INT_H
#define S3_INT_H

#include "auth.h"
#include "core/core.h"
#include "http/http.h"
#include "iam/iam.h"
#include "s3.h"


typedef struct s3_site s3_site_t; /* a website request's state (s3_site.c) */

typedef struct {
    http_req_t *http;
    const http_reqinfo_t *info;
    s3_ctx_t *gw;
    char request_id[17];
    char bucket[64];         /* "" for service-level requests; the name without its account */
    char tenant[64];         /* the account of an "account:bucket" path, "" for none (s3_bucket_load) */
    int vhost;               /* the bucket came from the Host name (s3_bucket_load) */
    char bid[CORE_BID_CAP];  /* r's bucket's id, naming its tables (core_table), once s3_authorize found it */
    char *key;               /* decoded object key, NUL-terminated, NULL for bucket/service requests */
    size_t key_len;
    og_str_t resource;       /* raw path, for error bodies */
    int authenticated;
    auth_result_t auth;
    iam_user_t user;          /* the caller (when authenticated) */
    char bucket_owner[64];    /* r's bucket's owner, once s3_authorize found it */
    iam_s3ctl_t ctl;          /* r's bucket's PublicAccessBlock and ObjectOwnership (s3_authorize) */
    int shareable;            /* anonymous, admitted by ACLs of a bucket without a policy (s3_authorize) */
    int referer_grant;        /* admitted by a Swift referrer ACL entry only (s3_authorize) */
    int bucket_owns;          /* an object r writes is owned by the bucket owner (ObjectOwnership) */
    og_buf_t acl;             /* the ACL a write asks for (x-amz-acl, x-amz-grant-*): empty for none */
    og_header_t cors[4];      /* Access-Control-* and Vary for an Origin a CORS rule admits (s3_cors.c) */
    size_t num_cors;
    char cors_buf[1024];      /* their values */
    int responded;
    int status;              /* HTTP status sent, for the access log */
    /* the version this request wrote, removed or found (s3_version.c): sent with its answer,
       error or not, as x-amz-version-id ("" for none) and x-amz-delete-marker: true */
    char version_id[CORE_VID_LEN + 1];
    int delete_marker;
    s3_site_t *site;          /* a website endpoint request (s3_site.c), NULL for the REST API */
} s3_req_t;



/* The operation r asks for (an index into s3_http_api's list; the last is "Unknown"), from its
 * method, bucket, key, sub-resource and copy source (s3_op.c). Cannot fail. */
size_t s3_op_classify(const s3_req_t *r);
/* The name of operation op of s3_op_classify. */
const char *s3_op_name(size_t op);

/* Sends an S3 error document with the given HTTP status and S3 code (message may be NULL for the
 * standard one). extra_xml, if not NULL, is inserted verbatim inside <Error> (e.g.
 * <RequestTime>..</RequestTime>). Marks the request answered. */
void s3_error(s3_req_t *r, int status, const char *code, const char *message, const char *extra_xml);
/* Gateway-local codes (og.h's gateway range), named by og_strerror. */
enum {
    S3_EDENIED = -10430,      /* the bucket belongs to another account (403 AccessDenied) */
    S3_EBODYCONF = -10431,    /* bad x-amz-checksum-*, x-amz-trailer, decoded length or streaming mode */
    S3_ESHA256 = -10432,      /* the body differs from the signed x-amz-content-sha256 */
    S3_EMALFORMED = -10433,   /* a request document is not the XML it must be (MalformedXML) */
    S3_EPARTORDER = -10434,   /* CompleteMultipartUpload: parts not in ascending order */
    S3_EPARTMISSING = -10435, /* CompleteMultipartUpload: a listed part (or its ETag) is not stored */
    S3_EPARTCHANGED = -10436, /* CompleteMultipartUpload: a part changed or went away while completing */
    S3_EPARTSMALL = -10437,   /* CompleteMultipartUpload: a part but the last under the minimum size */
    S3_EINVALIDTAG = -10438,  /* a tag set over S3's limits or with a bad character (400 InvalidTag) */
    S3_ECOPYMARKER = -10439,  /* CopyObject: the source's versionId names a delete marker */
    S3_EACLBOTH = -10444,     /* both x-amz-acl and x-amz-grant-* (InvalidRequest) */
    S3_ECORSRULE = -10445,    /* a CORSRule S3 refuses with InvalidRequest (unsupported method ...) */
    S3_EREDIRECT = -10540     /* x-amz-website-redirect-location not "/...", "http://..." or "https://..." */
};

/* What a failed step was acting on. The S3 error some codes answer as depends on it: OG_ENOTFOUND
 * above all (NoSuchKey, NoSuchBucket, NoSuchUpload, each with its message). */
typedef enum {
    S3_ON_TARGET,        /* r's key, or r's bucket for a bucket request */
    S3_ON_BUCKET,        /* r's bucket even in an object request (it went away meanwhile) */
    S3_ON_UPLOAD,        /* the ?uploadId upload */
    S3_ON_SOURCE_BUCKET, /* x-amz-copy-source's bucket (CopyObject) */
    S3_ON_SOURCE_KEY,    /* x-amz-copy-source's object (a missing bucket reads as a missing key) */
    S3_ON_STORED,        /* bytes of a record just read: absent or undecodable means corrupt (500) */
    S3_ON_SEGMENTS,      /* a Swift large object's segments: missing or changed is 409 BrokenMPU */
    S3_ON_BODY,          /* the request body (s3_body_t, s3_body_open, s3_read_body) */
} s3_on_t;

/* The one mapping of error codes (OG_E*, -errno, HTTP_E*, AUTH_E*, CORE_EQUOTA, S3_E*) to S3
 * answers: OG_EQUORUM -> 503 ServiceUnavailable, OG_ENOTFOUND -> 404 by `on`,
 * OG_ECORRUPT -> 500 InternalError, ... For HTTP_EABORTED on a body nobody is left to answer: the
 * request is only marked answered. */
void s3_error_on(s3_req_t *r, int rc, s3_on_t on);
/* s3_error_on(r, rc, S3_ON_TARGET). */
void s3_error_rc(s3_req_t *r, int rc);
/* Sends 200 with an XML body (prepends the <?xml ...?> declaration), x-amz-request-id and
 * Content-Type: application/xml, plus extra headers. */
void s3_send_xml(s3_req_t *r, int status, const og_header_t *extra, size_t n, const char *xml, size_t len);
/* Sends a body-less (or small body) response with x-amz-request-id added. */
void s3_send(s3_req_t *r, int status, const og_header_t *extra, size_t n, const void *body, size_t len);
/* Reads the whole (small, non-streaming) request body into *out (malloc'd with one spare byte,
 * the caller frees; never NULL on success, *len may be 0). A Content-Length above max fails
 * before reading. 0, OG_ETOOBIG (more than max bytes), -ENOMEM, or a http_req_read error
 * (HTTP_EBODY, HTTP_EABORTED). */
int s3_read_body(s3_req_t *r, size_t max, char **out, size_t *len);
/* Does a body read whole match the signed x-amz-content-sha256 (when the request signed one)?
 * 0 or S3_ESHA256. */
int s3_payload_verify(const s3_req_t *r, const void *body, size_t len);



/* (s3_route.c) Bucket names (docs/architecture.md "Namespaces").
 * s3_bucket_ref: splits a bucket reference, "account:bucket" (RGW's tenant syntax; ':' is in no
 * S3 bucket name nor account name) or "bucket", into tenant ("" for none; S3_GLOBAL_TENANT for
 * ":bucket", RGW's empty tenant: the global S3 name) and name. 0 or OG_EINVAL (an empty name, a
 * part longer than 63 bytes).
 * s3_bucket_find: the bucket `name` as r's caller reaches it: with a tenant, that account's
 * (core_bucket_find; S3_GLOBAL_TENANT: the global S3 name); else for an authenticated caller its
 * own account's first, then the global S3 name (another account's: ACLs and policy decide); for
 * an anonymous caller the global name only. core_bucket_get's contract (release *out with
 * core_bucket_free).
 * s3_bucket_load: s3_bucket_find of r's bucket (r->tenant, r->bucket); a virtual-host request
 * names the global S3 name only (a host name carries no account). */
#define S3_GLOBAL_TENANT ":"
int s3_bucket_ref(const char *ref, char tenant[64], char name[64]);
int s3_bucket_find(s3_req_t *r, const char *tenant, const char *name, core_bucket_t *out);
int s3_bucket_load(s3_req_t *r, core_bucket_t *out);
/* (s3_route.c) May a write of add_bytes (one object, new or overwritten) go into r's bucket?
 * core_quota_check against the Swift container and account quotas, which S3 writes obey too.
 * 0, CORE_EQUOTA, OG_ENOTFOUND (the bucket was deleted meanwhile: answer with S3_ON_BUCKET),
 * OG_EQUORUM ... Call it before reading a body of known size, and with the final size before
 * committing one whose size was not known in advance. */
int s3_quota_check(s3_req_t *r, uint64_t add_bytes);
/* (s3_multi.c) Copy sources whose bytes must be rewritten (CopyObject, UploadPartCopy): Swift
 * large objects, and objects encrypted on either side of the copy.
 * s3_large_stat: 1 when m is an SLO or DLO, with its size and S3 ETag (48 bytes); 0 for a
 * plain object (with its own size and ETag); or a negative code (the DLO listing failed: OG_EQUORUM ...). s3_copy_rewrite:
 * writes len bytes from offset first of such a large object, or of a plain object m opened with
 * src_key (its object key, NULL when not encrypted), with core_obj_write, encrypted under dst_key
 * when not NULL (read through the Swift readers or core_obj_read_key, memory bounded): 0 with *out
 * (core_obj_data_free), or an error code to answer with S3_ON_SEGMENTS for a large object (a
 * segment missing or changed since the manifest), S3_ON_STORED for another. Nothing is committed
 * by either. */
int s3_large_stat(s3_req_t *r, const core_meta_t *m, uint64_t *size, char *etag, size_t *elen);
int s3_copy_rewrite(s3_req_t *r, const core_meta_t *m, const uint8_t *src_key, const uint8_t *dst_key, uint64_t first,
                    uint64_t len, core_obj_data_t *out);

/* (s3_cond.c) Conditional writes. */
typedef struct {
    og_str_t if_match; /* If-Match as sent (base NULL when absent) */
    int none_match;    /* If-None-Match: * */
    int any;           /* either is there */
} s3_cond_t;
/* r's If-None-Match / If-Match into *c. creating: a write that may create the object (PUT,
 * CompleteMultipartUpload, CopyObject), where If-None-Match: * is allowed; DeleteObject takes only
 * If-Match. 0, or OG_EINVAL for a condition S3 does not implement (answer with s3_cond_refuse). */
int s3_cond_parse(s3_req_t *r, int creating, s3_cond_t *c);
/* Answers 501 NotImplemented, as S3 does for an If-None-Match other than "*". */
void s3_cond_refuse(s3_req_t *r);
/* Commits m as r's object when c holds (c NULL or without a condition: plain core_obj_commit);
 * deletes it (s3_cond_delete: a delete marker in a versioned bucket, its id into marker_vid). 0, CORE_EPRECOND (412), OG_ENOTFOUND (If-Match without an object:
 * 404), CORE_ECONFLICT (409), or a commit error: unanswered, for s3_error_rc. */
int s3_cond_commit(s3_req_t *r, const s3_cond_t *c, core_meta_t *m);
int s3_cond_delete(s3_req_t *r, const s3_cond_t *c, char marker_vid[CORE_VID_LEN + 1]);
/* Does an If-Match style list ("*", or comma-separated, optionally weak, quoted ETags) name
 * etag (quoted, elen >= 2 bytes)? 1 or 0. */
int s3_etag_listed(og_str_t list, const char *etag, size_t elen);

/* (s3_tagging.c) Tagging. An object's tags: the stored header S3_TAGS_HDR in x-amz-tagging form. */
#define S3_XMLNS "http://s3.amazonaws.com/doc/2006-03-01/"
#define S3_TAGS_HDR "x-amz-tagging"
/* Is form (x-amz-tagging: "k1=v1&k2=v2", URL-encoded) a tag set S3 takes for an object? 0,
 * S3_EINVALIDTAG or -ENOMEM. */
int s3_tags_check(og_str_t form);
/* Tags in a stored (checked) form: what x-amz-tagging-count says. */
size_t s3_tags_count(og_str_t form);
/* ?tagging on an object (GetObjectTagging, PutObjectTagging with put, DeleteObjectTagging with
 * del) and on a bucket (the Bucket variants; GetBucketTagging of an untagged bucket: 404
 * NoSuchTagSet). */
void s3_object_tagging(s3_req_t *r, int put, int del);
void s3_bucket_tagging(s3_req_t *r, int put, int del);
/* (s3_website.c) ?website on a bucket: GetBucketWebsite (404 NoSuchWebsiteConfiguration when
 * none), PutBucketWebsite with put (MalformedXML / InvalidArgument as AWS), DeleteBucketWebsite
 * with del. Always answers. */
void s3_bucket_website(s3_req_t *r, int put, int del);
/* The bucket metadata entry holding its WebsiteConfiguration (stored form), and the object
 * header holding x-amz-website-redirect-location. */
#define S3_WEBSITE_META "x-amz-bucket-website"
#define S3_REDIRECT_HDR "x-amz-website-redirect-location"
/* (s3_site.c) The website endpoint (docs/s3-compat.md "Website endpoint").
 * s3_redirect_ok: may v be an x-amz-website-redirect-location ("/...", "http://...",
 * "https://...")? 1 or 0.
 * s3_site_bucket: the bucket of a website request (s3_website_wants said so): the Host without
 * its port and without ".<website domain>" (none for a custom domain), a slice of the header.
 * s3_site_serve: answers website request r (bucket and key split from the path): GET/HEAD of
 * public objects, index and error documents, redirects; errors as HTML pages. Always answers.
 * s3_site_error: s3_error's answer while r->site is set (routing rules on the error, the
 * ErrorDocument, the HTML page).
 * s3_site_status: the status GetObject answers a 200 with (the error's while serving the
 * ErrorDocument).
 * s3_site_object_redirect: for a website request, answers 301 to object m's stored redirect
 * location and returns 1; else 0. */
int s3_redirect_ok(og_str_t v);
og_str_t s3_site_bucket(const s3_req_t *r);
void s3_site_serve(s3_req_t *r);
void s3_site_error(s3_req_t *r, int status, const char *code, const char *message);
int s3_site_status(const s3_req_t *r, int status);
int s3_site_object_redirect(s3_req_t *r, const core_meta_t *m);
/* Get/Put/DeleteBucketEncryption (s3_sse.c): the bucket's default encryption (SSE-S3 only). */
void s3_bucket_encryption(s3_req_t *r, int put, int del);
/* Appends tag (k, v) to an x-amz-tagging form (with '&' when out is not empty). 0 or -ENOMEM. */
int s3_tags_form_add(og_buf_t *out, og_str_t k, og_str_t v);
/* 1 when the form holds a tag with key k, else 0 (also for a form that does not decode). */
int s3_tags_form_has_key(og_str_t form, og_str_t k);
/* Appends each tag of the form as <Tag><Key/><Value/></Tag>. 0, S3_EINVALIDTAG, -ENOMEM. */
int s3_tags_form_xml(og_buf_t *b, og_str_t form);
/* A document kept as one entry of the bucket record's metadata (tags, lifecycle): its entry name;
 * read turns a PUT body into the stored form (0, 1 when it answered already, or a code to answer
 * with S3_ON_BODY); send answers a GET with the stored form; the error a GET gets when there is
 * none (404). */
typedef struct {
    const char *meta;
    int (*read)(s3_req_t *r, og_buf_t *out);
    void (*send)(s3_req_t *r, og_str_t stored);
    const char *missing_code, *missing_msg;
} s3_bucket_doc_t;
/* GET (send), PUT with put (read, then stored), DELETE with del (the entry removed: 204) of the
 * document d of r's bucket. */
void s3_bucket_doc(s3_req_t *r, int put, int del, const s3_bucket_doc_t *d);
/* (s3_lifecycle.c) ?lifecycle on a bucket: Get (404 NoSuchLifecycleConfiguration when none), Put
 * with put, Delete with del (docs/s3-compat.md, "Lifecycle"). */
void s3_bucket_lifecycle(s3_req_t *r, int put, int del);
/* (s3_meta.c) User metadata outside US-ASCII (RFC 2047), as S3 handles it.
 * s3_meta_decode: v made only of UTF-8 encoded-words ("=?UTF-8?B?..?=", "=?UTF-8?Q?..?=", case-
 * insensitive, whitespace between words dropped) decoded into out (at least v.len bytes): the
 * length, or -1 when v is anything else or decodes to bytes that are not printable UTF-8 (then
 * the value is kept as sent). s3_meta_encoded_len: 0 when v is ASCII (sent as stored), else the
 * bytes s3_meta_encode writes into out: "=?UTF-8?B?<base64>?=". */
long s3_meta_decode(og_str_t v, char *out);
size_t s3_meta_encoded_len(og_str_t v);
size_t s3_meta_encode(og_str_t v, char *out);
/* (s3_attrs.c) GetObjectAttributes: GET ?attributes. */
void s3_get_object_attributes(s3_req_t *r);

/* ---- ACLs (s3_acl.c) ---- */
/* The ACL r's headers ask for (x-amz-acl or x-amz-grant-*, for a resource of owner in a bucket of
 * bucket_owner, NULL for a bucket) appended to out; *given 0 when r names none. 0, S3_EACLBOTH,
 * IAM_EUNRESOLVABLE, OG_EINVAL, -ENOMEM: answer those with s3_acl_error. */
int s3_acl_request(s3_req_t *r, const char *owner, const char *bucket_owner, og_buf_t *out, int *given);
void s3_acl_error(s3_req_t *r, int rc);
/* The stored ACL among a record's headers or a bucket's metadata (empty: private). */
og_str_t s3_acl_of(const og_header_t *h, size_t n);
/* May r's caller (anonymous when not authenticated) do r's operation on r's bucket
 * (s3_bucket_load)? Sets r->bucket_owner and r->bid. 0, S3_EDENIED, OG_ENOTFOUND (no bucket, or
 * no key for a caller who may list), OG_EQUORUM, OG_EPROTO. */
int s3_authorize(s3_req_t *r);
/* May r's caller read object key of bucket `name` of tenant ("" for none: s3_bucket_find), a copy
 * source? Its id into bid ("" when there is no such bucket). 0, S3_EDENIED, OG_ENOTFOUND ... */
int s3_may_read(s3_req_t *r, const char *tenant, const char *name, og_str_t key, char bid[CORE_BID_CAP]);
/* Stores acl (compact form) as r's bucket's ACL (CreateBucket with x-amz-acl). 0 or an error. */
int s3_acl_set_bucket(s3_req_t *r, og_str_t acl);
/* An object of r's bucket is about to get acl (compact form): when that is public, marks the bucket
 * (IAM_PUBLIC_OBJECTS_HEADER, once) so that purge on change covers its objects. 0 or an error. */
int s3_acl_note_public_object(s3_req_t *r, og_str_t acl);
/* Rewrites bucket record b (r's bucket) with its metadata entry `name` set to value (removed when
 * value.base is NULL). 0 or a core_bucket_put error. */
int s3_bucket_meta_set(s3_req_t *r, const core_bucket_t *b, const char *name, og_str_t value);
/* The first steps of a bucket sub-resource kept as metadata entry `name` (?policy, ?cors): loads
 * r's bucket into *b and the entry into *value (base NULL: none). Answers a failed lookup, and a
 * DELETE (removes the entry: 204) itself. 1 when the caller goes on (and releases *b with
 * core_bucket_free), 0 when r is answered. */
int s3_bucket_sub_open(s3_req_t *r, const char *name, core_bucket_t *b, og_str_t *value);
void s3_get_acl(s3_req_t *r); /* GET ?acl, bucket or object */
/* (s3_cors.c) PUT/GET/DELETE ?cors on r's bucket (its account's). */
void s3_bucket_cors(s3_req_t *r);
/* OPTIONS on a bucket or object: the preflight, answered from the bucket's CORS rules (200 with
 * Access-Control-*, 403 AccessForbidden when none matches, 400 without Origin or method). */
void s3_cors_preflight(s3_req_t *r);
/* With an Origin header that one of r's bucket's CORS rules admits for r's method, sets r->cors
 * (every response of r then carries them). */
void s3_cors_actual(s3_req_t *r);
/* (s3_policy.c) PUT/GET/DELETE ?policy and GET ?policyStatus on r's bucket (its account's). */
void s3_bucket_policy(s3_req_t *r);
void s3_put_acl(s3_req_t *r); /* PUT ?acl, bucket or object */
/* The owner of an object r writes: the bucket owner when r->bucket_owns, else the caller. */
og_str_t s3_new_owner(const s3_req_t *r);
/* (s3_pab.c) ?publicAccessBlock (Get 404 NoSuchPublicAccessBlockConfiguration when none) and
 * ?ownershipControls (404 OwnershipControlsNotFoundError) on r's bucket: Put with put, Delete with
 * del. Always answer. */
void s3_bucket_pab(s3_req_t *r, int put, int del);
void s3_bucket_ownership(s3_req_t *r, int put, int del);
/* CreateBucket's x-amz-object-ownership into r->ctl.ownership (ObjectWriter without it): 1, or 0
 * after answering 400 InvalidArgument for another value. */
int s3_ownership_header(s3_req_t *r);
/* Stores the x-amz-object-ownership of a CreateBucket that made r's bucket (nothing without one).
 * 0 or a bucket read / write error. */
int s3_ownership_create(s3_req_t *r);

/* ---- server-side encryption (s3_sse.c) ---- */

/* An object's encryption as a request asks for it (s3_sse_parse) and as it is then used: the
 * object key for core_obj_write / core_obj_read_key and the record's sse bytes. Holds keys: wipe
 * it (s3_sse_wipe) when done. */
typedef struct {
    uint8_t mode;                 /* 0, CORE_META_SSE_C or CORE_META_SSE_S3 */
    uint8_t customer[32];         /* SSE-C: the customer's key */
    char key_md5[32];             /* SSE-C: its MD5 as the client sent it (base64), echoed back */
    uint8_t key[CORE_SSE_KEY];    /* the object key (after s3_sse_new or s3_sse_open) */
    uint8_t blob[IAM_SSE_SEALED_MAX > CORE_SSE_C_LEN ? IAM_SSE_SEALED_MAX : CORE_SSE_C_LEN];
    size_t blob_len;              /* the record's sse bytes */
} s3_sse_t;

/* The encryption r asks for: SSE-C headers (copy_source: the x-amz-copy-source-... ones, which
 * name the key of CopyObject's source) or x-amz-server-side-encryption. 0 with *s (mode 0 when
 * none), or -1 after answering the S3 error (bad algorithm, key or MD5, plain HTTP, aws:kms...). */
int s3_sse_parse(s3_req_t *r, int copy_source, s3_sse_t *s);
/* A new object's key and sse bytes for the mode s was parsed with; mode 0 in a bucket with
 * default encryption (PutBucketEncryption) becomes SSE-S3 (nothing for mode 0 otherwise). 0,
 * OG_EINVAL (random source or cipher failure), or the bucket lookup's error. */
int s3_sse_new(s3_req_t *r, s3_sse_t *s);
/* Mode 0 (no SSE headers) in r's bucket with default encryption becomes SSE-S3 (s3_sse_new does
 * it; CopyObject earlier, to choose between sharing and rewriting chunks). 0 or the bucket
 * lookup's error. */
int s3_sse_default(s3_req_t *r, s3_sse_t *s);
/* The key of stored object m from what the request gave (s from s3_sse_parse): SSE-C needs the
 * right customer key, SSE-S3 objects open with the cluster key, plain objects with no SSE-C
 * headers. 0 with s->mode (m's), key and blob set, or -1 after answering: 400 InvalidRequest (no
 * key for an SSE-C object, or a key for another kind), 403 AccessDenied (a wrong key), 500. */
int s3_sse_open(s3_req_t *r, const core_meta_t *m, s3_sse_t *s);
/* Marks record m as encrypted the way s says (slices into s, which must outlive m's use). */
void s3_sse_apply(const s3_sse_t *s, core_meta_t *m);
/* The response headers for s into out: x-amz-server-side-encryption, or the SSE-C algorithm and
 * key MD5. Returns the count (0..2). */
size_t s3_sse_headers(const s3_sse_t *s, og_header_t out[2]);
void s3_sse_wipe(s3_sse_t *s);

/* ---- handlers (one per S3 operation) ---- */
/* s3_object.c / s3_bucket.c */
/* Picks the headers an object stores from r's request (PUT, and CopyObject with
 * x-amz-metadata-directive REPLACE): x-amz-meta-* (names lowercased into *names), Cache-Control,
 * Content-Disposition, Content-Encoding, Content-Language, Expires, and r->acl (the ACL asked
 * for, under IAM_S3ACL_HEADER) when set; *ctype from Content-Type
 * (binary/octet-stream without one). *out has room for `extra` more headers after its *n. With
 * enc, Content-Encoding is kept without "aws-chunked" (the transfer framing, rebuilt into enc of
 * enc_cap bytes when needed) and dropped when nothing else remains; with enc NULL it is kept as
 * sent. *out and *names are malloc'd for the caller to free; values point into the request or
 * enc. A valid x-amz-tagging is kept as S3_TAGS_HDR. 0; -ENOMEM, OG_ETOOBIG (user metadata over
 * S3's 2048 bytes), S3_EINVALIDTAG (x-amz-tagging) or S3_EREDIRECT (x-amz-website-redirect-location,
 * s3_redirect_ok) with *out and *names NULL and *n untouched. */
int s3_stored_headers(s3_req_t *r, size_t extra, og_header_t **out, size_t *n, char **names, og_str_t *ctype,
                         char *enc, size_t enc_cap);
/* r's ?partNumber: 0 with *out = 0 when absent, else 1..10000 (GET/HEAD of a part, UploadPart);
 * OG_EINVAL when malformed or out of range. */
int s3_part_number(const s3_req_t *r, uint32_t *out);
void s3_put_object(s3_req_t *r);
void s3_get_object(s3_req_t *r); /* GET and HEAD */
void s3_delete_object(s3_req_t *r);
void s3_create_bucket(s3_req_t *r);
void s3_head_bucket(s3_req_t *r);
void s3_delete_bucket(s3_req_t *r);
void s3_get_bucket_location(s3_req_t *r);
/* s3_version.c: GET/PUT ?versioning, GET ?versions */
void s3_get_bucket_versioning(s3_req_t *r);
void s3_put_bucket_versioning(s3_req_t *r);
void s3_list_object_versions(s3_req_t *r);
/* Names version m in r's answer (x-amz-version-id, x-amz-delete-marker) when it is one (it has a
 * version id), or when the client named a version (then also "null"). */
void s3_version_answer(s3_req_t *r, const core_meta_t *m, int named);
/* r's ?versionId: 1 with *out when present, else 0. */
int s3_version_param(const s3_req_t *r, og_str_t *out);
/* For a GET/HEAD of a key that is absent: when the bucket is versioned and the key's newest
 * version is a delete marker, names it in r's answer (best effort: nothing on an error). */
void s3_version_marker(s3_req_t *r);
/* Answers rc of an operation on r's key or the version it named: OG_EINVAL is a malformed version
 * id, OG_ENOTFOUND with ?versionId NoSuchVersion; else s3_error_rc. */
void s3_version_error(s3_req_t *r, int rc);
/* s3_lock.c: Object Lock. s3_lock_write reads a write's x-amz-object-lock-* headers into *out
 * (zero without any: core_obj_commit applies the bucket's default retention): 0, or 1 after
 * answering the error (no lock configuration, bad mode or date, a date in the past).
 * s3_lock_headers: the lock headers of version m for a GET/HEAD into out (room for 3; date is
 * their storage): how many. s3_lock_create_bucket: applies CreateBucket's
 * x-amz-bucket-object-lock-enabled: 0, or 1 after answering the error. s3_lock_bypass: does r
 * carry x-amz-bypass-governance-retention: true? */
int s3_lock_write(s3_req_t *r, core_lock_t *out);
size_t s3_lock_headers(const core_meta_t *m, og_header_t *out, char date[32]);
int s3_lock_create_bucket(s3_req_t *r);
int s3_lock_bypass(const s3_req_t *r);
/* Reads r's body (a small configuration document, s3_lock.c) as a document whose root is `root`:
 * the document (xmlFreeDoc) or, after answering the error, NULL. */
struct _xmlDoc *s3_read_doc(s3_req_t *r, const char *root);
void s3_get_object_lock_config(s3_req_t *r);
void s3_put_object_lock_config(s3_req_t *r);
void s3_get_object_retention(s3_req_t *r);
void s3_put_object_retention(s3_req_t *r);
void s3_get_object_legal_hold(s3_req_t *r);
void s3_put_object_legal_hold(s3_req_t *r);
/* s3_list.c */
void s3_list_buckets(s3_req_t *r);
void s3_list_objects(s3_req_t *r, int v2);
/* s3_multi.c */
void s3_delete_objects(s3_req_t *r);
void s3_copy_object(s3_req_t *r);
/* s3_multipart.c: POST ?uploads, PUT ?partNumber&uploadId (UploadPart and, with
 * x-amz-copy-source, UploadPartCopy), POST ?uploadId, DELETE ?uploadId, GET ?uploadId, and the
 * bucket's GET ?uploads. */
void s3_create_multipart(s3_req_t *r);
void s3_upload_part(s3_req_t *r);
void s3_complete_multipart(s3_req_t *r);
void s3_abort_multipart(s3_req_t *r);
void s3_list_parts(s3_req_t *r);
void s3_list_multipart_uploads(s3_req_t *r);

/* (s3_route.c) The large-object readers' view of r's caller (core_lo_t) at now_s (Unix seconds):
 * it acts as the owner of the caller's account. Valid while r lives. */
void s3_lo(s3_req_t *r, uint64_t now_s, core_lo_t *out);

/* An x-amz-copy-source (CopyObject, UploadPartCopy; s3_multi.c). */
typedef struct {
    char tenant[64], bucket[64]; /* "account:bucket" (s3_bucket_ref), tenant "" for none */
    char bid[CORE_BID_CAP];      /* the bucket's id, once s3_copy_src_read found it */
    char *key;                   /* decoded, malloc'd: the caller frees it */
    size_t key_len;
    og_str_t version_id; /* raw, base NULL when absent */
} s3_copy_src_t;

/* Parses x-amz-copy-source: "[/][account:]bucket/key[?versionId=v]", the key percent-encoded.
 * 0, OG_EINVAL or -ENOMEM. */
int s3_copy_src_parse(og_str_t v, s3_copy_src_t *s);
/* Reads the source object's record (or its version x-amz-copy-source names) into *m (decoded;
 * *recbuf owns its bytes: the caller frees both on success). 0; or, with nothing left to free,
 * S3_EDENIED or OG_ENOTFOUND for the source bucket (*on = S3_ON_SOURCE_BUCKET), OG_ENOTFOUND for
 * the key or version, OG_EINVAL (a malformed version id), S3_ECOPYMARKER (*on = S3_ON_SOURCE_KEY),
 * OG_EQUORUM ... */
int s3_copy_src_read(s3_req_t *r, s3_copy_src_t *src, core_meta_t *m, char **recbuf, s3_on_t *on);
/* x-amz-copy-source-if-* against the source (ETag etag, elen bytes; mtime_ns): 1 when the copy
 * (CopyObject, UploadPartCopy) may go ahead, else the caller answers 412 PreconditionFailed. */
int s3_copy_preconditions_hold(s3_req_t *r, const char *etag, size_t elen, uint64_t mtime_ns);
/* Answers s3_copy_src_read's error rc (with its *on) as S3 does (NoSuchVersion, InvalidRequest ...). */
void s3_copy_src_error(s3_req_t *r, const s3_copy_src_t *src, int rc, s3_on_t on);

#endif
