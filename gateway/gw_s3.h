/*
 * gw_s3.h (private to gateway/): the S3 protocol layer's shared pieces.
 *
 * gw_s3_handle() is the gw_http handler: it assigns a request id, splits bucket and key
 * (path style, or virtual-host style under the configured domain), authenticates, and routes
 * to one handler per S3 operation. Handlers live in gw_s3_*.c and answer through the helpers
 * here, so every response carries x-amz-request-id and errors are S3 XML
 * (Code, Message, Resource, RequestId).
 */
#ifndef GW_S3_H
#define GW_S3_H

#include "auth.h"
#include "gw_cluster.h"
#include "gw_http.h"
#include "gw_meta.h"
#include "gw_obj.h"
#include "gw_users.h"

/* Process-wide, read-only after start (no mutable globals: this is the context). */
typedef struct {
    gw_cluster_t *cluster;
    const char *domain;   /* virtual-host domain ("s3.example.com") or NULL */
    const char *region;   /* "us-east-1" */
    int access_log;       /* log every request (else only 5xx answers) */
} gw_ctx_t;

typedef struct {
    gw_req_t *http;
    const gw_reqinfo_t *info;
    gw_ctx_t *gw;
    char request_id[17];
    char bucket[64];         /* "" for service-level requests */
    char *key;               /* decoded object key, NUL-terminated, NULL for bucket/service requests */
    size_t key_len;
    og_str_t resource;       /* raw path, for error bodies */
    int authenticated;
    auth_result_t auth;
    gw_user_t user;          /* the caller (when authenticated) */
    int responded;
    int status;              /* HTTP status sent, for the access log */
} gw_s3_req_t;

/* A growable text buffer for XML and listings. Functions return 0 or -ENOMEM; after a
 * failure the buffer stays valid and further appends are no-ops returning -ENOMEM. */
typedef struct {
    char *buf;
    size_t len, cap;
    int oom;
} gw_xbuf_t;
int gw_xbuf_put(gw_xbuf_t *b, const char *s, size_t n);
int gw_xbuf_puts(gw_xbuf_t *b, const char *s);
int gw_xbuf_printf(gw_xbuf_t *b, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
/* Appends s with XML escaping (& < > " ' and control characters as &#xN;). */
int gw_xbuf_escape(gw_xbuf_t *b, const char *s, size_t n);
/* <name>escaped value</name> */
int gw_xbuf_elem(gw_xbuf_t *b, const char *name, const char *s, size_t n);
void gw_xbuf_free(gw_xbuf_t *b);
/* Decodes query parameter `name` of the raw query string (form encoding: '+' is a space) into
 * b, NUL-terminated. 1 when present, 0 when absent, OG_EINVAL on a bad escape, -ENOMEM. */
int gw_query_decode(og_str_t query, const char *name, gw_xbuf_t *b);

/* The gw_http handler; ctx is a gw_ctx_t. */
void gw_s3_handle(gw_req_t *http, void *ctx);

/* Sends an S3 error document with the given HTTP status and S3 code (message may be NULL for the
 * standard one). extra_xml, if not NULL, is inserted verbatim inside <Error> (e.g.
 * <RequestTime>..</RequestTime>). Marks the request answered. */
void gw_s3_error(gw_s3_req_t *r, int status, const char *code, const char *message, const char *extra_xml);
/* Maps an internal error code (OG_E*, -errno) to an S3 error response (OG_EQUORUM -> 503
 * ServiceUnavailable, OG_ENOTFOUND -> 404 NoSuchKey, OG_ECORRUPT -> 500 InternalError, ...). */
void gw_s3_error_rc(gw_s3_req_t *r, int rc);
/* Sends 200 with an XML body (prepends the <?xml ...?> declaration), x-amz-request-id and
 * Content-Type: application/xml, plus extra headers. */
void gw_s3_send_xml(gw_s3_req_t *r, int status, const og_header_t *extra, size_t n, const char *xml, size_t len);
/* Sends a body-less (or small body) response with x-amz-request-id added. */
void gw_s3_send(gw_s3_req_t *r, int status, const og_header_t *extra, size_t n, const void *body, size_t len);
/* Reads the whole (small, non-streaming) request body into *out (malloc'd with one spare byte,
 * the caller frees; never NULL on success, *len may be 0). A Content-Length above max fails
 * before reading. 0, OG_ETOOBIG (more than max bytes), -ENOMEM, or a gw_req_read error
 * (GW_EBODY, GW_EABORTED). */
int gw_s3_read_body(gw_s3_req_t *r, size_t max, char **out, size_t *len);

/* ISO 8601 "2006-02-03T16:45:09.000Z" (25 bytes incl. NUL) and RFC 1123
 * "Fri, 03 Feb 2006 16:45:09 GMT" (30 bytes incl. NUL) from nanoseconds since the epoch. */
void gw_fmt_iso8601(uint64_t ns, char out[32]);
void gw_fmt_http_date(uint64_t ns, char out[32]);

/* Reads a bucket record (table "buckets"). 0 and owner account into owner (cap bytes),
 * OG_ENOTFOUND (absent or deleted), or an error. */
int gw_bucket_lookup(gw_ctx_t *gw, const char *bucket, char *owner, size_t cap, uint64_t *created_ns);
/* Decodes a bucket record's summary (from a listing of table "buckets"). 0 or OG_EPROTO. */
int gw_bucket_decode(const og_rec_t *rec, char *owner, size_t cap, uint64_t *created_ns);

/* (gw_s3.c) May a write of add_bytes (one object, new or overwritten) go into r's bucket?
 * gw_quota_check (gw_swift.h) against the Swift container and account quotas, which S3 writes
 * obey too. 0, or -1 with the error answered: 403 QuotaExceeded, 404 NoSuchBucket (deleted
 * meanwhile), 503 ... Call it before reading a body of known size, and with the final size
 * before committing one whose size was not known in advance. */
int gw_s3_quota_check(gw_s3_req_t *r, uint64_t add_bytes);
/* (gw_s3_multi.c) Refreshes the reference time of every chunk m lists on a quorum of its
 * replicas, so that a garbage-collection sweep already under way cannot delete them: anything
 * that commits a record referencing existing chunks without writing them (CopyObject,
 * UploadPartCopy, CompleteMultipartUpload, Swift COPY) calls this first (docs/architecture.md,
 * "Garbage collection"). 0, OG_EQUORUM (do not commit) or -ENOMEM. */
int gw_s3_touch_chunks(gw_cluster_t *cl, const gw_meta_t *m);
/* (gw_s3_multi.c) Swift large objects as copy sources (CopyObject, UploadPartCopy).
 * gw_s3_large_stat: 1 when m is an SLO or DLO, with its size and S3 ETag (48 bytes); 0 for a
 * plain object; -1 with the error answered. gw_s3_large_copy: writes len bytes from offset
 * first of such an object (read through the Swift readers, memory bounded) with gw_obj_write:
 * 0 with *out (gw_obj_data_free), or -1 with the error answered (409 BrokenMPU for a segment
 * missing or changed since the manifest). Nothing is committed by either. */
int gw_s3_large_stat(gw_s3_req_t *r, const gw_meta_t *m, uint64_t *size, char *etag, size_t *elen);
int gw_s3_large_copy(gw_s3_req_t *r, const gw_meta_t *m, uint64_t first, uint64_t len, gw_obj_data_t *out);

/* (gw_s3.c) Checks that bucket exists and belongs to the caller: 0, or -1 with the error answered
 * (404 NoSuchBucket with notfound_msg, or the standard message when NULL; 403 AccessDenied). */
int gw_s3_check_bucket_owner(gw_s3_req_t *r, const char *bucket, const char *notfound_msg);

/* ---- handlers (one per S3 operation) ---- */
/* gw_s3_object.c / gw_s3_bucket.c */
/* Picks the headers an object stores from r's request (PUT, and CopyObject with
 * x-amz-metadata-directive REPLACE): x-amz-meta-* (names lowercased into *names), Cache-Control,
 * Content-Disposition, Content-Encoding, Content-Language, Expires; *ctype from Content-Type
 * (binary/octet-stream without one). *out has room for `extra` more headers after its *n. With
 * enc, Content-Encoding is kept without "aws-chunked" (the transfer framing, rebuilt into enc of
 * enc_cap bytes when needed) and dropped when nothing else remains; with enc NULL it is kept as
 * sent. *out and *names are malloc'd for the caller to free; values point into the request or
 * enc. 0; -ENOMEM or OG_ETOOBIG (user metadata over S3's 2048 bytes) with *out and *names NULL
 * and *n untouched. */
int gw_s3_stored_headers(gw_s3_req_t *r, size_t extra, og_header_t **out, size_t *n, char **names, og_str_t *ctype,
                         char *enc, size_t enc_cap);
void gw_s3_put_object(gw_s3_req_t *r);
void gw_s3_get_object(gw_s3_req_t *r); /* GET and HEAD */
void gw_s3_delete_object(gw_s3_req_t *r);
void gw_s3_create_bucket(gw_s3_req_t *r);
void gw_s3_head_bucket(gw_s3_req_t *r);
void gw_s3_delete_bucket(gw_s3_req_t *r);
void gw_s3_get_bucket_location(gw_s3_req_t *r);
/* gw_s3_list.c */
void gw_s3_list_buckets(gw_s3_req_t *r);
void gw_s3_list_objects(gw_s3_req_t *r, int v2);
/* gw_s3_multi.c */
void gw_s3_delete_objects(gw_s3_req_t *r);
void gw_s3_copy_object(gw_s3_req_t *r);
/* gw_s3_multipart.c: POST ?uploads, PUT ?partNumber&uploadId (UploadPart and, with
 * x-amz-copy-source, UploadPartCopy), POST ?uploadId, DELETE ?uploadId, GET ?uploadId, and the
 * bucket's GET ?uploads. */
void gw_s3_create_multipart(gw_s3_req_t *r);
void gw_s3_upload_part(gw_s3_req_t *r);
void gw_s3_complete_multipart(gw_s3_req_t *r);
void gw_s3_abort_multipart(gw_s3_req_t *r);
void gw_s3_list_parts(gw_s3_req_t *r);
void gw_s3_list_multipart_uploads(gw_s3_req_t *r);
/* Bytes [*first, *last] of part `part` (1-based) of object m (bucket/key of r), for GET/HEAD
 * ?partNumber: a single-part object has one part (the whole, non-empty object); a multipart
 * object's part sizes come from its "p.<bucket>" record, believed only when it matches m's ETag.
 * 0, OG_EINVAL (no such part: 416 InvalidPartNumber), OG_ECORRUPT (sizes missing or not
 * matching), OG_EQUORUM. */
int gw_s3_part_range(gw_s3_req_t *r, const gw_meta_t *m, uint32_t part, uint64_t *first, uint64_t *last);
/* For a copy of multipart object m (parts > 0) from (src_bucket, src_key) to (dst_bucket,
 * dst_key), S3 CopyObject or Swift COPY: copies the source's part sizes so that ?partNumber works
 * on the copy too. Call before committing the copy's record. 0 (also when m is not multipart, or
 * the source's sizes are missing or no longer m's: the copy then answers ?partNumber as the
 * source does), OG_EQUORUM. */
int gw_s3_part_sizes_copy(gw_cluster_t *cl, const char *src_bucket, og_str_t src_key, const char *dst_bucket,
                          og_str_t dst_key, const gw_meta_t *m);
/* 1 when bucket (the one created at created_ns) has an in-progress multipart upload, 0 when none
 * (uploads left in an earlier bucket of the same name do not count), or OG_EQUORUM, OG_ECORRUPT
 * (an upload record that does not decode), OG_EPROTO. DeleteBucket and Swift's container DELETE
 * refuse (409) while there is one: a re-created bucket must never inherit them. */
int gw_s3_has_uploads(gw_cluster_t *cl, const char *bucket, uint64_t created_ns);

#endif
