/*
 * DeleteObjects (POST /bucket?delete) and CopyObject (PUT with x-amz-copy-source).
 *
 * The router (s3_route.c) has authenticated the caller and checked that the request's bucket
 * exists and is theirs; a copy's source bucket is checked here.
 *
 * A delete writes a tombstone per key. A copy writes a new record that lists the source's
 * chunks (content-addressed, so no data moves) with the same size and ETag and a new mtime. A
 * Swift large object (SLO manifest, or DLO with X-Object-Manifest) is copied as s3api copies it:
 * its segments' bytes are read through the Swift readers and written as a new plain object, so
 * the copy owns its data (deleting the segments later does not break it) and its ETag is the
 * MD5 of those bytes. UploadPartCopy (s3_multipart.c) copies from large objects the same way.
 */
#include <errno.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <strings.h>
#include <time.h>

#include <openssl/crypto.h>
#include <openssl/evp.h>

#include "core/core.h"
#include "s3_checksum.h"
#include "s3_int.h"
#include "s3_xml.h"

#define DELETE_BODY_MAX (1u << 20)
#define DELETE_THREADS 8   /* quorum writes in flight per DeleteObjects request */
#define COPY_MAX_SIZE (5ull << 30) /* the largest copy source whose bytes S3 copies in one request */


/* ---------------------------------------------------------------- body integrity */

/* Digest of body by name ("md5", "sha1", "sha256", "crc32", "crc32c") into out. Its length. */
static size_t body_digest(const char *alg, const void *body, size_t len, unsigned char out[EVP_MAX_MD_SIZE])
{
    const EVP_MD *md = strcmp(alg, "md5") == 0 ? EVP_md5() : strcmp(alg, "sha1") == 0 ? EVP_sha1()
                                                      : strcmp(alg, "sha256") == 0 ? EVP_sha256()
                                                                                   : NULL;
    unsigned int n = 0;
    if (md != NULL)
        return EVP_Digest(body, len, out, &n, md, NULL) == 1 ? n : 0;
    uint32_t crc = strcmp(alg, "crc32") == 0 ? s3_crc32(0, body, len) : s3_crc32c(0, body, len);
    out[0] = (unsigned char)(crc >> 24), out[1] = (unsigned char)(crc >> 16), out[2] = (unsigned char)(crc >> 8),
    out[3] = (unsigned char)crc;
    return 4;
}

/* The integrity headers a DeleteObjects body may carry, and the BadDigest message of each. */
static const struct {
    const char *header, *alg, *mismatch;
} body_sums[] = {
    {"content-md5", "md5", NULL},
    {"x-amz-checksum-crc32", "crc32", "The CRC32 you specified did not match the calculated checksum."},
    {"x-amz-checksum-crc32c", "crc32c", "The CRC32C you specified did not match the calculated checksum."},
    {"x-amz-checksum-sha1", "sha1", "The SHA1 you specified did not match the calculated checksum."},
    {"x-amz-checksum-sha256", "sha256", "The SHA256 you specified did not match the calculated checksum."},
};

/* Checks every integrity statement the client made about the body: the signed
 * x-amz-content-sha256, Content-MD5 and x-amz-checksum-*. 0, S3_ESHA256, or for body_sums[*which]
 * OG_EINVAL (not a digest of that algorithm) or OG_EBADDIGEST (another digest). */
static int check_body(s3_req_t *r, const char *body, size_t len, size_t *which)
{
    unsigned char got[EVP_MAX_MD_SIZE], want[EVP_MAX_MD_SIZE];
    int rc = s3_payload_verify(r, body, len);
    for (size_t i = 0; i < sizeof(body_sums) / sizeof(body_sums[0]) && rc == 0; i++) {
        og_str_t v = http_req_header(r->http, body_sums[i].header);
        if (v.base == NULL)
            continue;
        size_t n = body_digest(body_sums[i].alg, body, len, got);
        long wn = og_b64_decode(v, want, sizeof(want));
        *which = i;
        if (wn != (long)n)
            rc = OG_EINVAL;
        else if (n == 0 || memcmp(got, want, n) != 0)
            rc = OG_EBADDIGEST;
    }
    return rc;
}

/* Answers a failed check_body: the S3 error names the header (Content-MD5 or which checksum). */
static void check_body_error(s3_req_t *r, int rc, size_t which)
{
    if (rc == OG_EINVAL && which == 0)
        s3_error(r, 400, "InvalidDigest", NULL, NULL);
    else if (rc == OG_EINVAL)
        s3_error(r, 400, "InvalidRequest", "Value for the x-amz-checksum header is invalid.", NULL);
    else if (rc == OG_EBADDIGEST)
        s3_error(r, 400, "BadDigest", body_sums[which].mismatch, NULL);
    else
        s3_error_rc(r, rc);
}

/* ---------------------------------------------------------------- DeleteObjects */

/* The delete marker one object's deletion wrote or removed. */
typedef struct {
    int marker;
    char marker_vid[CORE_VID_LEN + 1]; /* a new marker's id (without a VersionId) */
} s3_delver_t;

typedef struct {
    cluster_t *cluster;
    const char *bucket;
    const s3_delete_t *d;
    int *results;  /* per object: 0 deleted, or an error code */
    s3_delver_t *versions; /* per object: the delete marker written or removed */
    int bypass;            /* x-amz-bypass-governance-retention */
    size_t stride; /* threads: thread t handles the keys that hash to t */
} delete_job_t;

typedef struct {
    delete_job_t *job;
    size_t first;
    pthread_t thread;
} delete_worker_t;

/* Deletes one object as DeleteObject does: the version named (for good), else the key (a delete
 * marker in a versioned bucket). */
static int delete_one(delete_job_t *job, const s3_delobj_t *o, s3_delver_t *v)
{
    if (o->key.len > OG_KEY_MAX)
        return OG_ETOOBIG;
    if (o->version_id.base != NULL)
        return core_ver_delete(job->cluster, job->bucket, o->key, o->version_id, job->bypass, &v->marker);
    int rc = core_obj_delete(job->cluster, job->bucket, o->key, v->marker_vid);
    v->marker = rc == 0 && v->marker_vid[0] != '\0';
    return rc;
}

/* Thread t takes the objects whose key hashes to t, so the versions of one key go one after the
 * other, in the request's order (each may change which one is current). */
static void *delete_worker(void *arg)
{
    delete_worker_t *w = arg;
    for (size_t i = 0; i < w->job->d->n; i++) {
        og_str_t k = w->job->d->objects[i].key;
        uint64_t h = 1469598103934665603ull;
        for (size_t j = 0; j < k.len; j++)
            h = (h ^ (unsigned char)k.base[j]) * 1099511628211ull;
        if (h % w->job->stride == w->first)
            w->job->results[i] = delete_one(w->job, &w->job->d->objects[i], &w->job->versions[i]);
    }
    return NULL;
}

/* Deletes every object, DELETE_THREADS at a time (each one is a quorum round trip). A thread
 * that cannot be started leaves its share to the calling thread. */
static void delete_all(delete_job_t *job)
{
    delete_worker_t workers[DELETE_THREADS];
    size_t nthreads = job->d->n < DELETE_THREADS ? job->d->n : DELETE_THREADS;
    int started[DELETE_THREADS] = {0};

    job->stride = nthreads;
    for (size_t t = 1; t < nthreads; t++) {
        workers[t] = (delete_worker_t){job, t, 0};
        started[t] = pthread_create(&workers[t].thread, NULL, delete_worker, &workers[t]) == 0;
    }
    workers[0] = (delete_worker_t){job, 0, 0};
    delete_worker(&workers[0]);
    for (size_t t = 1; t < nthreads; t++) {
        if (started[t])
            pthread_join(workers[t].thread, NULL);
        else
            delete_worker(&workers[t]);
    }
}

static void delete_error_info(int rc, const char **code, const char **msg)
{
    switch (rc) {
    case OG_ETOOBIG: *code = "KeyTooLongError", *msg = "Your key is too long."; break;
    case OG_EINVAL: *code = "InvalidArgument", *msg = "Invalid version id specified"; break;
    case CORE_ELOCKED: *code = "AccessDenied", *msg = "Access Denied because object protected by object lock."; break;
    case OG_EQUORUM:
    case OG_ETIMEOUT:
        *code = "ServiceUnavailable", *msg = "Not enough storage replicas are reachable to serve this request.";
        break;
    default: *code = "InternalError", *msg = "We encountered an internal error. Please try again."; break;
    }
}

static void delete_render(og_buf_t *b, const s3_delete_t *d, const int *results, const s3_delver_t *versions)
{
    og_buf_puts(b, "<DeleteResult xmlns=\"" S3_XMLNS "\">");
    for (size_t i = 0; i < d->n; i++) {
        const s3_delobj_t *o = &d->objects[i];
        const char *code, *msg;
        if (results[i] == 0 && d->quiet)
            continue; /* quiet mode reports only failures */
        og_buf_puts(b, results[i] == 0 ? "<Deleted>" : "<Error>");
        og_buf_elem(b, "Key", o->key.base, o->key.len);
        if (o->version_id.base != NULL)
            og_buf_elem(b, "VersionId", o->version_id.base, o->version_id.len);
        if (results[i] == 0) {
            if (versions[i].marker) {
                og_buf_puts(b, "<DeleteMarker>true</DeleteMarker>");
                if (o->version_id.base != NULL)
                    og_buf_elem(b, "DeleteMarkerVersionId", o->version_id.base, o->version_id.len);
                else
                    og_buf_elem(b, "DeleteMarkerVersionId", versions[i].marker_vid, strlen(versions[i].marker_vid));
            }
            og_buf_puts(b, "</Deleted>");
            continue;
        }
        delete_error_info(results[i], &code, &msg);
        og_buf_elem(b, "Code", code, strlen(code));
        og_buf_elem(b, "Message", msg, strlen(msg));
        og_buf_puts(b, "</Error>");
    }
    og_buf_puts(b, "</DeleteResult>");
}

void s3_delete_objects(s3_req_t *r)
{
    char *body = NULL;
    size_t len = 0, which = 0;
    s3_delete_t d;
    og_buf_t b = {0};
    int rc;

    if (r->auth.payload == AUTH_PAYLOAD_STREAMING) {
        s3_error(r, 501, "NotImplemented", "aws-chunked request bodies are not supported for DeleteObjects.",
                    NULL);
        return;
    }
    if ((rc = s3_read_body(r, DELETE_BODY_MAX, &body, &len)) != 0) {
        if (rc == HTTP_EABORTED)
            return; /* the client is gone: nobody to answer */
        if (rc == OG_ETOOBIG)
            s3_error(r, 400, "MalformedXML", "The DeleteObjects request body is larger than 1 MiB.", NULL);
        else if (rc == HTTP_EBODY)
            s3_error(r, 400, "IncompleteBody", NULL, NULL);
        else
            s3_error_rc(r, rc);
        return;
    }
    if ((rc = check_body(r, body, len, &which)) != 0) {
        check_body_error(r, rc, which);
        goto out_free_body;
    }
    if ((rc = s3_delete_parse(body, len, &d)) != 0) {
        if (rc == OG_EPROTO)
            s3_error(r, 400, "MalformedXML", NULL, NULL);
        else
            s3_error_rc(r, rc);
        goto out_free_body;
    }
    int *results = calloc(d.n, sizeof(int));
    s3_delver_t *versions = calloc(d.n, sizeof(*versions));
    if (results == NULL || versions == NULL) {
        s3_error_rc(r, -ENOMEM);
        goto out_free_results;
    }
    delete_job_t job = {r->gw->cluster, r->bid, &d, results, versions, s3_lock_bypass(r), 0};
    delete_all(&job);
    delete_render(&b, &d, results, versions);
    if (b.oom)
        s3_error_rc(r, -ENOMEM);
    else
        s3_send_xml(r, 200, NULL, 0, b.buf, b.len);
    og_buf_free(&b);
out_free_results:
    free(versions);
    free(results);
    s3_delete_free(&d);
out_free_body:
    free(body);
}

/* ---------------------------------------------------------------- large-object copy sources */

/* A DLO's X-Object-Manifest (base NULL when m is not one). */
static og_str_t large_manifest(const core_meta_t *m)
{
    return og_header_find(m->headers, m->num_headers, "x-object-manifest");
}

/* Is m (a decoded source record) a Swift large object? 1 with the size its bytes have and the
 * quoted ETag S3 GET shows for it (an SLO's "<slo etag>-N", a DLO's MD5 of its segments' ETags,
 * summed over a listing) in etag (48 bytes), 0 for a plain object (with its own size and ETag),
 * or the DLO listing's error (OG_EQUORUM ...). */
int s3_large_stat(s3_req_t *r, const core_meta_t *m, uint64_t *size, char *etag, size_t *elen)
{
    og_str_t manifest = large_manifest(m);
    core_lo_t lo;
    core_meta_t view = {0};
    int rc;

    if (m->flags & CORE_META_SLO) {
        *size = m->slo_size;
        *elen = core_slo_s3_etag(m, etag);
        return 1;
    }
    if (manifest.base == NULL) {
        *size = m->size;
        *elen = core_meta_etag(m, etag);
        return 0;
    }
    s3_lo(r, og_time_ns() / 1000000000u, &lo);
    if ((rc = core_dlo_stat(&lo, manifest, size, view.md5)) != 0)
        return rc;
    *elen = core_meta_etag(&view, etag);
    return 1;
}

/* The copy of a large object has to write its bytes, which only the SLO/DLO readers produce:
 * they push them into a sink callback (recursing through nested manifests and listing pages),
 * while core_obj_write pulls its body from a source callback. Neither side turns around without
 * being rewritten, and calling the reader once per pull with a sub-range would re-read the
 * manifest (or re-list the DLO) every few MiB. So the reader runs once, on a thread of its own,
 * and hands each piece over in a rendezvous: the sink publishes the (buf, len) it was given and
 * waits until the source's reads (on the request's thread, inside core_obj_write) have copied all
 * of it into the write's batch buffer. Nothing is buffered in between, so a copy of any size
 * costs the reader's memory (one chunk batch, a parsed manifest) plus the writer's batch. Either
 * side stopping wakes the other: a reader error ends the source with that code, a writer error
 * sets `stop`, which makes the sink return -ECANCELED and the reader return. */
typedef struct {
    core_lo_t lo; /* the readers' view of the caller (s3_lo) */
    const core_meta_t *m;
    og_str_t manifest; /* a DLO's X-Object-Manifest */
    const uint8_t *key; /* a plain object's object key (NULL: not encrypted) */
    uint64_t first, last;
    pthread_mutex_t mu;
    pthread_cond_t cv;  /* signalled on every change of the fields below */
    const char *piece;  /* the reader's current piece (valid while its sink waits) */
    size_t left;        /* bytes of it not yet taken by the writer */
    int done, rc;       /* the reader returned rc */
    int stop;           /* the writer returned: nothing more will be taken */
} large_pipe_t;

static int pipe_sink(void *ctx, const void *buf, size_t len)
{
    large_pipe_t *p = ctx;
    int rc;
    pthread_mutex_lock(&p->mu);
    p->piece = buf, p->left = len;
    pthread_cond_broadcast(&p->cv);
    while (p->left > 0 && !p->stop)
        pthread_cond_wait(&p->cv, &p->mu);
    rc = p->stop ? -ECANCELED : 0;
    pthread_mutex_unlock(&p->mu);
    return rc;
}

static void *pipe_reader(void *arg)
{
    large_pipe_t *p = arg;
    int rc;
    if (p->m->flags & CORE_META_SLO)
        rc = core_slo_read(&p->lo, p->m, p->first, p->last, pipe_sink, p);
    else if (p->manifest.base != NULL)
        rc = core_dlo_read(&p->lo, p->manifest, p->first, p->last, pipe_sink, p);
    else
        rc = core_obj_read_key(p->lo.cl, p->m, p->key, p->first, p->last, pipe_sink, p);
    pthread_mutex_lock(&p->mu);
    p->done = 1, p->rc = rc;
    pthread_cond_broadcast(&p->cv);
    pthread_mutex_unlock(&p->mu);
    return NULL;
}

/* core_obj_write's source: the reader's bytes in order, then its result (0: the end). */
static ssize_t pipe_read(void *ctx, void *buf, size_t cap)
{
    large_pipe_t *p = ctx;
    ssize_t n;
    pthread_mutex_lock(&p->mu);
    while (p->left == 0 && !p->done)
        pthread_cond_wait(&p->cv, &p->mu);
    if (p->left > 0) {
        size_t k = p->left < cap ? p->left : cap;
        memcpy(buf, p->piece, k);
        p->piece += k, p->left -= k;
        if (p->left == 0)
            pthread_cond_broadcast(&p->cv);
        n = (ssize_t)k;
    } else {
        n = p->rc;
    }
    pthread_mutex_unlock(&p->mu);
    return n;
}

/* s3_int.h. Memory stays bounded whatever len (large_pipe_t). */
int s3_copy_rewrite(s3_req_t *r, const core_meta_t *m, const uint8_t *src_key, const uint8_t *dst_key, uint64_t first,
                    uint64_t len, core_obj_data_t *out)
{
    large_pipe_t p = {.m = m, .manifest = large_manifest(m), .key = src_key, .first = first, .last = first + len - 1,
                      .mu = PTHREAD_MUTEX_INITIALIZER, .cv = PTHREAD_COND_INITIALIZER, .done = len == 0};
    core_obj_put_opts_t opts = {.key = dst_key, .max_size = len, .expect_size = (int64_t)len};
    pthread_t reader;
    int rc;

    memset(out, 0, sizeof(*out));
    s3_lo(r, og_time_ns() / 1000000000u, &p.lo);
    /* An empty range has nothing to read (the readers take an inclusive, non-empty one). */
    if (len > 0 && (rc = pthread_create(&reader, NULL, pipe_reader, &p)) != 0) {
        rc = -rc;
        goto out_destroy;
    }
    rc = core_obj_write(r->gw->cluster, &opts, (core_obj_src_t){pipe_read, &p}, out);
    if (len > 0) {
        pthread_mutex_lock(&p.mu);
        p.stop = 1;
        pthread_cond_broadcast(&p.cv);
        pthread_mutex_unlock(&p.mu);
        pthread_join(reader, NULL);
    }
out_destroy:
    pthread_cond_destroy(&p.cv);
    pthread_mutex_destroy(&p.mu);
    return rc;
}

/* The headers a COPY-directive copy of m keeps: m's own less its ACL (a copy gets the ACL its
 * request asks for, acl, or none: private, as S3) and its website redirect (AWS never copies it:
 * the copy has the request's, redirect, when base is not NULL), and for a large m (`large`) less
 * X-Object-Manifest (the copy is a plain object) and any stored x-amz-checksum-* (of the
 * manifest's bytes, not the copy's). *out (slices into m, acl and redirect) is malloc'd for the
 * caller to free. 0 or -ENOMEM. */
static int kept_headers(const core_meta_t *m, int large, og_str_t acl, og_str_t redirect, og_header_t **out,
                        size_t *n)
{
    size_t k = 0;
    og_header_t *h = malloc((m->num_headers + 2) * sizeof(*h));
    if (h == NULL)
        return -ENOMEM;
    if (redirect.base != NULL)
        h[k++] = (og_header_t){OG_STR_LIT(S3_REDIRECT_HDR), redirect};
    for (size_t i = 0; i < m->num_headers; i++) {
        og_str_t name = m->headers[i].name;
        if (og_str_ieq(name, IAM_S3ACL_HEADER) || og_str_ieq(name, S3_REDIRECT_HDR) ||
            (large && (og_str_ieq(name, "x-object-manifest") ||
                       (name.len > 15 && strncasecmp(name.base, "x-amz-checksum-", 15) == 0))))
            continue;
        h[k++] = m->headers[i];
    }
    if (acl.len > 0)
        h[k++] = (og_header_t){OG_STR_LIT(IAM_S3ACL_HEADER), acl};
    *out = h, *n = k;
    return 0;
}

/* ---------------------------------------------------------------- CopyObject */

int s3_copy_src_parse(og_str_t v, s3_copy_src_t *s)
{
    memset(s, 0, sizeof(*s));
    const char *q = memchr(v.base, '?', v.len);
    og_str_t path = {v.base, q ? (size_t)(q - v.base) : v.len};
    if (q != NULL) {
        og_str_t query = {q + 1, v.len - path.len - 1};
        if (!og_query_get(query, "versionId", &s->version_id))
            return OG_EINVAL;
    }
    char *dec = malloc(path.len + 1);
    if (dec == NULL)
        return -ENOMEM;
    long n = og_urldecode(path.base, path.len, dec, path.len, 0);
    if (n < 0) {
        free(dec);
        return OG_EINVAL;
    }
    const char *p = dec, *end = dec + n;
    if (p < end && *p == '/')
        p++;
    const char *slash = memchr(p, '/', (size_t)(end - p));
    char ref[2 * 64];
    if (slash == NULL || slash == p || (size_t)(slash - p) >= sizeof(ref) || slash + 1 == end ||
        (size_t)(end - slash - 1) > OG_KEY_MAX) {
        free(dec);
        return OG_EINVAL;
    }
    memcpy(ref, p, (size_t)(slash - p));
    ref[slash - p] = '\0';
    if (s3_bucket_ref(ref, s->tenant, s->bucket) != 0) {
        free(dec);
        return OG_EINVAL;
    }
    /* The key moves to the front of the buffer, which then belongs to s. */
    s->key_len = (size_t)(end - slash - 1);
    memmove(dec, slash + 1, s->key_len);
    dec[s->key_len] = '\0';
    s->key = dec;
    return 0;
}

/* An HTTP date (RFC 1123, or ISO 8601 as some clients send) in Unix seconds. 0 or OG_EINVAL. */
static int parse_http_date(og_str_t v, int64_t *out)
{
    char buf[64];
    struct tm tm;
    const char *end;
    if (v.len == 0 || v.len >= sizeof(buf))
        return OG_EINVAL;
    memcpy(buf, v.base, v.len);
    buf[v.len] = '\0';
    memset(&tm, 0, sizeof(tm));
    if ((end = strptime(buf, "%a, %d %b %Y %H:%M:%S GMT", &tm)) == NULL || *end != '\0') {
        memset(&tm, 0, sizeof(tm));
        if ((end = strptime(buf, "%Y-%m-%dT%H:%M:%S", &tm)) == NULL)
            return OG_EINVAL;
    }
    *out = (int64_t)timegm(&tm);
    return 0;
}

/* x-amz-copy-source-if-* against the source. 1 when the copy may go ahead. As S3 does, a
 * matching if-match overrides a failing if-unmodified-since, a present if-none-match overrides
 * if-modified-since, and an unparsable date is ignored. */
int s3_copy_preconditions_hold(s3_req_t *r, const char *etag, size_t elen, uint64_t mtime_ns)
{
    og_str_t im = http_req_header(r->http, "x-amz-copy-source-if-match");
    og_str_t inm = http_req_header(r->http, "x-amz-copy-source-if-none-match");
    og_str_t ims = http_req_header(r->http, "x-amz-copy-source-if-modified-since");
    og_str_t ius = http_req_header(r->http, "x-amz-copy-source-if-unmodified-since");
    int64_t mtime = (int64_t)(mtime_ns / 1000000000u), t;

    if (im.base != NULL) {
        if (!s3_etag_listed(im, etag, elen))
            return 0;
    } else if (ius.base != NULL && parse_http_date(ius, &t) == 0 && mtime > t) {
        return 0;
    }
    if (inm.base != NULL) {
        if (s3_etag_listed(inm, etag, elen))
            return 0;
    } else if (ims.base != NULL && parse_http_date(ims, &t) == 0 && mtime <= t) {
        return 0;
    }
    return 1;
}

void s3_copy_src_error(s3_req_t *r, const s3_copy_src_t *src, int rc, s3_on_t on)
{
    if (rc == OG_EINVAL)
        s3_error(r, 400, "InvalidArgument", "Invalid version id specified", NULL);
    else if (rc == S3_ECOPYMARKER)
        s3_error(r, 400, "InvalidRequest",
                 "The source of a copy request may not specifically refer to a delete marker by version id.", NULL);
    else if (rc == OG_ENOTFOUND && src->version_id.base != NULL && on == S3_ON_SOURCE_KEY)
        s3_error(r, 404, "NoSuchVersion", "The specified version does not exist.", NULL);
    else
        s3_error_on(r, rc, on);
}

int s3_copy_src_read(s3_req_t *r, s3_copy_src_t *src, core_meta_t *m, char **recbuf, s3_on_t *on)
{
    int rc = 0;
    /* The caller must be able to read the source (its bucket's owner, or an ACL grant); a
     * missing bucket (OG_ENOTFOUND) is NoSuchBucket, a missing key the lookup's NoSuchKey. */
    *on = S3_ON_SOURCE_BUCKET;
    rc = s3_may_read(r, src->tenant, src->bucket, (og_str_t){src->key, src->key_len}, src->bid);
    if (rc == OG_ENOTFOUND && src->bid[0] != '\0') /* the bucket is there: NoSuchKey below */
        rc = 0;
    if (rc != 0)
        return rc;
    *on = S3_ON_SOURCE_KEY;
    if (src->version_id.base != NULL) {
        rc = core_ver_lookup(r->gw->cluster, src->bid, (og_str_t){src->key, src->key_len}, src->version_id, m,
                             recbuf);
        if (rc == 0 && (m->vflags & CORE_VER_MARKER)) {
            core_meta_free(m);
            free(*recbuf);
            rc = S3_ECOPYMARKER;
        }
        return rc;
    }
    /* past its Swift X-Delete-At it is gone (reclaimed by Swift reads or the admin) */
    return core_obj_lookup_live(r->gw->cluster, src->bid, (og_str_t){src->key, src->key_len},
                                og_time_ns() / 1000000000u, m, recbuf);
}

/* The copy's stored headers: the request's (REPLACE, taken like a PUT's, Content-Encoding kept
 * as sent) or the source's (kept_headers). Sets m->headers / m->num_headers to *hdrs (malloc'd,
 * with *names, for the caller).
 * 0, OG_ETOOBIG (user metadata), S3_EREDIRECT (x-amz-website-redirect-location), -ENOMEM. */
static int copy_headers(s3_req_t *r, core_meta_t *m, int replace, int large, og_header_t **hdrs, char **names)
{
    og_str_t redirect = http_req_header(r->http, S3_REDIRECT_HDR);
    int rc = 0;
    if (replace)
        rc = s3_stored_headers(r, 1, hdrs, &m->num_headers, names, &m->content_type, NULL, 0);
    else if (redirect.base != NULL && !s3_redirect_ok(redirect))
        rc = S3_EREDIRECT;
    else
        rc = kept_headers(m, large, (og_str_t){r->acl.buf, r->acl.len}, redirect, hdrs, &m->num_headers);
    if (rc == 0 && *hdrs != NULL)
        m->headers = *hdrs;
    return rc;
}

/* x-amz-tagging-directive on a copy: COPY (the default) gives the copy the source's tags
 * (src_tags), REPLACE the request's x-amz-tagging (none without it). Rebuilds m's header list
 * into *out (malloc'd, the caller frees). 0, S3_EINVALIDTAG, -ENOMEM, or OG_EINVAL for an
 * x-amz-tagging that COPY would ignore (AWS drops it silently; here it is refused). */
static int copy_tags(s3_req_t *r, int replace_tags, og_str_t src_tags, core_meta_t *m, og_header_t **out)
{
    og_str_t sent = http_req_header(r->http, S3_TAGS_HDR), want = replace_tags ? sent : src_tags;
    og_header_t *h = malloc((m->num_headers + 1) * sizeof(*h));
    size_t n = 0;
    int rc;
    if ((*out = h) == NULL)
        return -ENOMEM;
    if (sent.base != NULL && (rc = s3_tags_check(sent)) != 0)
        return rc;
    if (sent.base != NULL && sent.len > 0 && !replace_tags)
        return OG_EINVAL;
    for (size_t i = 0; i < m->num_headers; i++)
        if (!og_str_ieq(m->headers[i].name, S3_TAGS_HDR))
            h[n++] = m->headers[i];
    if (want.base != NULL && want.len > 0)
        h[n++] = (og_header_t){OG_STR_LIT(S3_TAGS_HDR), want};
    m->headers = h, m->num_headers = n;
    return 0;
}

/* The copy's encryption: the source's (opened with the x-amz-copy-source-...-customer-* key) and
 * the destination's (the request's SSE headers). */
typedef struct {
    s3_sse_t from, to;
} copy_sse_t;

/* Can the copy list the source's chunks as they are? Only when both sides are plain, or
 * encrypted the same way under the same key: the copy then keeps the source's key material. */
static int copy_sse_same(const copy_sse_t *cs)
{
    if (cs->from.mode != cs->to.mode)
        return 0;
    return cs->from.mode != CORE_META_SSE_C || CRYPTO_memcmp(cs->from.customer, cs->to.customer, 32) == 0;
}

/* New chunks for the copy: a large source's bytes, or an encrypted source's (or destination's)
 * bytes decrypted and encrypted again as cs says. m becomes their record (a plain single-part
 * object, its ETag the MD5 of the bytes, into etag). 0, or a code to answer with *on. */
static int copy_rewrite(s3_req_t *r, const core_meta_t *source, int large, uint64_t size, copy_sse_t *cs,
                        core_meta_t *m, core_obj_data_t *d, char *etag, size_t *elen, s3_on_t *on)
{
    int rc;
    *on = S3_ON_TARGET;
    if ((rc = s3_sse_new(r, &cs->to)) != 0)
        return rc;
    *on = large ? S3_ON_SEGMENTS : S3_ON_STORED;
    if ((rc = s3_copy_rewrite(r, source, cs->from.mode ? cs->from.key : NULL, cs->to.mode ? cs->to.key : NULL, 0,
                              size, d)) != 0)
        return rc;
    m->size = d->size;
    memcpy(m->md5, d->md5, 16);
    m->parts = 0;
    m->flags = 0;
    m->slo_size = 0;
    memset(m->slo_etag, 0, sizeof(m->slo_etag));
    m->chunks = d->chunks, m->num_chunks = d->num_chunks;
    m->inline_data = (og_str_t){d->inline_data, d->inline_len};
    m->sse = (og_str_t){NULL, 0};
    s3_sse_apply(&cs->to, m);
    *elen = core_meta_etag(m, etag);
    return 0;
}

/* Makes m the record of the copy's data: new chunks (copy_rewrite) for a large source or a change
 * of encryption, else the source's own chunks (and key material), refreshed against garbage
 * collection, with its part sizes copied along. 0, or a code to answer with *on. */
static int copy_data(s3_req_t *r, const s3_copy_src_t *src, const core_meta_t *source, int large, uint64_t size,
                     copy_sse_t *cs, core_meta_t *m, core_obj_data_t *d, char *etag, size_t *elen, s3_on_t *on)
{
    int rc;
    if (large || !copy_sse_same(cs))
        return copy_rewrite(r, source, large, size, cs, m, d, etag, elen, on);
    *on = S3_ON_TARGET;
    /* The copy references the source's chunks without writing them: refresh them first, or a
     * garbage-collection sweep that started before this record exists could delete them once
     * the source is gone (docs/architecture.md, garbage collection). */
    if ((rc = core_obj_touch(r->gw->cluster, m)) != 0)
        return rc;
    /* A multipart source keeps its ETag (md5-N) and part count: its part sizes go along, or
     * ?partNumber on the copy could not answer. */
    return core_part_sizes_copy(r->gw->cluster, src->bid, (og_str_t){src->key, src->key_len}, r->bid,
                                (og_str_t){r->key, r->key_len}, m);
}

/* Commits m as the copy (new owner and mtime) under the request's conditions and answers 200 with
 * its CopyObjectResult and the encryption headers of `to`. 0 or a core_obj_commit code, unanswered. */
static int copy_commit(s3_req_t *r, const s3_cond_t *cond, core_meta_t *m, const char *etag, size_t elen,
                       const s3_sse_t *to)
{
    char mtime[32], src_vid[CORE_VID_LEN + 1];
    og_header_t eh[3]; /* the source's version id, the encryption headers */
    size_t neh = 0;
    og_buf_t b = {0};
    int rc;
    /* the source's version, named in the answer when it has one (m becomes the copy's next) */
    if (m->vid[0] != '\0') {
        size_t l = (size_t)snprintf(src_vid, sizeof(src_vid), "%s", core_ver_id(m));
        eh[neh++] = (og_header_t){OG_STR_LIT("x-amz-copy-source-version-id"), {src_vid, l}};
    }
    m->owner = s3_new_owner(r);
    if ((rc = s3_cond_commit(r, cond, m)) != 0)
        return rc;
    s3_version_answer(r, m, 0);
    http_iso8601_format(m->mtime_ns, mtime);
    og_buf_puts(&b, "<CopyObjectResult xmlns=\"" S3_XMLNS "\">");
    og_buf_elem(&b, "LastModified", mtime, strlen(mtime));
    og_buf_elem(&b, "ETag", etag, elen);
    og_buf_puts(&b, "</CopyObjectResult>");
    if (b.oom)
        s3_error_rc(r, -ENOMEM);
    else
        s3_send_xml(r, 200, eh, neh + s3_sse_headers(to, eh + neh), b.buf, b.len);
    og_buf_free(&b);
    return 0;
}

/* The copy itself, once the request is known to be one: reads the source, checks the
 * x-amz-copy-source-if-* conditions and the quota, and commits a record of the same bytes. */
static void copy_object(s3_req_t *r, s3_copy_src_t *src, int replace, int replace_tags, const s3_cond_t *cond,
                        copy_sse_t *cs)
{
    core_meta_t m, source;
    og_header_t *new_hdrs = NULL, *tag_hdrs = NULL;
    char *recbuf = NULL, *names = NULL, etag[48];
    size_t elen = 0;
    uint64_t size = 0;
    core_obj_data_t d = {0};
    s3_on_t on;
    core_lock_t lock;
    int rc, large;

    if (s3_lock_write(r, &lock) != 0)
        return;
    if ((rc = s3_copy_src_read(r, src, &m, &recbuf, &on)) != 0) {
        s3_copy_src_error(r, src, rc, on);
        return;
    }
    /* m becomes the copy's record below; source keeps the source's fields as read (a shallow
     * view: it owns nothing, m's buffers back it) for the large-object reader. */
    source = m;
    if (s3_sse_open(r, &m, &cs->from) != 0)
        goto out_free_meta;
    /* A large object is judged, sized and copied by the bytes and ETag S3 GET serves for it. */
    if ((large = s3_large_stat(r, &m, &size, etag, &elen)) < 0) {
        s3_error_rc(r, large);
        goto out_free_meta;
    }
    if (!s3_copy_preconditions_hold(r, etag, elen, m.mtime_ns)) {
        s3_error(r, 412, "PreconditionFailed", NULL, NULL);
        goto out_free_meta;
    }
    if (large && size > COPY_MAX_SIZE) {
        s3_error(r, 400, "InvalidRequest",
                    "The specified copy source is larger than the maximum allowable size for a copy source: "
                    "5368709120",
                    NULL);
        goto out_free_meta;
    }
    if ((rc = s3_quota_check(r, size)) != 0) {
        s3_error_on(r, rc, S3_ON_BUCKET);
        goto out_free_meta;
    }
    if ((rc = copy_headers(r, &m, replace, large, &new_hdrs, &names)) != 0 ||
        (rc = copy_tags(r, replace_tags, og_header_find(source.headers, source.num_headers, S3_TAGS_HDR), &m,
                        &tag_hdrs)) != 0) {
        if (rc == OG_ETOOBIG)
            s3_error(r, 400, "MetadataTooLarge", "Your metadata headers exceed the maximum allowed metadata size.",
                        NULL);
        else if (rc == OG_EINVAL)
            s3_error(r, 400, "InvalidArgument", "x-amz-tagging on a copy needs x-amz-tagging-directive: REPLACE.",
                     NULL);
        else
            s3_error_rc(r, rc);
        goto out_free_meta;
    }
    m.lock = lock; /* the copy's own (or the bucket's default), never the source's */
    if ((rc = copy_data(r, src, &source, large, size, cs, &m, &d, etag, &elen, &on)) != 0)
        s3_error_on(r, rc, on);
    else if ((rc = copy_commit(r, cond, &m, etag, elen, &cs->to)) != 0)
        s3_error_rc(r, rc);
out_free_meta:
    core_obj_data_free(&d);
    free(tag_hdrs);
    free(new_hdrs);
    free(names);
    core_meta_free(&m);
    free(recbuf);
}

void s3_copy_object(s3_req_t *r)
{
    s3_copy_src_t src;
    s3_cond_t cond;
    copy_sse_t cs;
    int rc, replace = 0, replace_tags = 0;

    if (s3_sse_parse(r, 0, &cs.to) != 0)
        return;
    if (s3_sse_parse(r, 1, &cs.from) != 0)
        goto out_wipe;
    if (s3_cond_parse(r, 1, &cond) != 0) {
        s3_cond_refuse(r);
        goto out_wipe;
    }
    if ((rc = s3_copy_src_parse(http_req_header(r->http, "x-amz-copy-source"), &src)) != 0) {
        if (rc == OG_EINVAL)
            s3_error(r, 400, "InvalidArgument",
                        "Copy Source must mention the source bucket and key: sourcebucket/sourcekey", NULL);
        else
            s3_error_rc(r, rc);
        goto out_wipe;
    }
    og_str_t directive = http_req_header(r->http, "x-amz-metadata-directive");
    og_str_t tagdir = http_req_header(r->http, "x-amz-tagging-directive");
    if (directive.base != NULL)
        replace = og_str_ieq(directive, "REPLACE") ? 1 : og_str_ieq(directive, "COPY") ? 0 : -1;
    if (tagdir.base != NULL)
        replace_tags = og_str_ieq(tagdir, "REPLACE") ? 1 : og_str_ieq(tagdir, "COPY") ? 0 : -1;
    if (replace < 0) {
        s3_error(r, 400, "InvalidArgument", "Unknown metadata directive.", NULL);
    } else if (replace_tags < 0) {
        s3_error(r, 400, "InvalidArgument", "Unknown tagging directive.", NULL);
    } else if (!replace && cs.to.mode == 0 && src.version_id.base == NULL && strcmp(src.bucket, r->bucket) == 0 &&
               strcmp(src.tenant, r->tenant) == 0 && src.key_len == r->key_len &&
               memcmp(src.key, r->key, r->key_len) == 0) {
        s3_error(r, 400, "InvalidRequest",
                    "This copy request is illegal because it is trying to copy an object to itself without changing "
                    "the object's metadata, storage class, website redirect location or encryption attributes.",
                    NULL);
    } else if ((rc = s3_sse_default(r, &cs.to)) != 0) {
        s3_error_on(r, rc, S3_ON_TARGET);
    } else {
        copy_object(r, &src, replace, replace_tags, &cond, &cs);
    }
    free(src.key);
out_wipe:
    s3_sse_wipe(&cs.from);
    s3_sse_wipe(&cs.to);
}
