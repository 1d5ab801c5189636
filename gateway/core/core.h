/*
 * core.h: the protocol-neutral object model both front ends (s3/, swift/) share. Its functions
 * take plain arguments (account, bucket, key, options) and return error codes (og.h); no
 * protocol type crosses into it, and it answers no request.
 *
 *  - objects (core_obj.c, core_meta.c): chunked writing and reading with dedup, object records,
 *    expiry;
 *  - buckets (= Swift containers, core_bucket.c) and accounts (core_account.c): one record type
 *    each for both APIs;
 *  - usage and quotas (core_usage.c), listing walks (core_walk.c), multipart upload records
 *    (core_upload.c).
 *
 * Object records:
 * An object = summary (what listings need) + detail (what GET needs):
 *   summary: u8 version(=1) | u64 size | u8 md5[16] | u32 parts | u64 mtime_ns |
 *            u16 len + content type | u16 len + owner account
 *            version 2 appends: u64 delete_at (Unix seconds; written only when non-zero, so
 *            every object without an expiry keeps the version 1 bytes)
 *            version 3 appends to version 2 (delete_at then always present, maybe 0):
 *            u8 flags (CORE_META_SLO, CORE_META_SSE_*) | u64 slo_size | u8 slo_etag[16]; written
 *            only for a Swift static large object manifest or an encrypted object, so every other
 *            object keeps its version 1/2 bytes
 *   detail:  u16 nheaders, each (u16 len name, u16 len value)   -- stored response headers
 *            u32 nchunks, each (u8 id[32], u32 len, u64 xxh3)   -- chunk references, in order
 *            u32 len + inline data                              -- small objects, no chunks
 *            u16 len + sse                                      -- only with a CORE_META_SSE_* flag
 * Big-endian integers. The ETag is hex(md5), or hex(md5)-parts for multipart (parts > 0).
 * Chunk references are what garbage collection will trace (dedup issue): an object keeps
 * every chunk it lists alive. Small objects (<= CORE_INLINE_MAX) keep their bytes inline in the
 * detail, which saves the chunk write and its fsync round on every replica.
 *
 * Object data:
 * Writing: core_obj_write() pulls the body from a source callback (the HTTP body, or a decoder
 * wrapped around it such as aws-chunked), cuts it into content-defined chunks (FastCDC,
 * common/og_cdc.h), hashes every byte once per digest while it is in cache (MD5 for the ETag,
 * SHA-256 per chunk for its id, xxh3 per chunk, and any whole-body digests asked for), and
 * stores each chunk at quorum. Small bodies (<= CORE_INLINE_MAX) are returned inline instead.
 * Nothing becomes visible until the caller commits a record that references the chunks
 * (core_obj_commit); a failed or abandoned write leaves only unreferenced chunks, which garbage
 * collection reclaims after a grace period.
 *
 * Reading: core_obj_read() streams bytes [first, last] of an object to a sink callback, reading
 * only the chunks that overlap the range, with bounded memory.
 *
 * Encryption (docs/architecture.md "Encryption"): with an object key (core_obj_put_opts_t.key),
 * every chunk and an inline body is stored as an AES-256-GCM box (og_crypt.h: random nonce |
 * ciphertext | tag, OG_BOX_OVERHEAD bytes more than its plaintext): the chunk's id is the SHA-256
 * of the box, so encrypted chunks are never shared with other objects' chunks, and chunk references
 * count stored (box) bytes. The record says so with a CORE_META_SSE_* flag and keeps in `sse` what
 * lets the front end find the object key again (never the key itself). Such an object is read
 * only with core_obj_read_key; core_obj_read refuses it (-EACCES), so no path serves ciphertext
 * or plaintext without the key.
 */
#ifndef CORE_H
#define CORE_H

#include <sys/types.h>

#include "cluster/cluster.h"
#include "og_buf.h"

enum {
    CORE_EQUOTA = -10420,    /* the write would exceed a quota (Swift 413, S3 QuotaExceeded-style 403) */
    CORE_EPRECOND = -10421,  /* a conditional write's condition does not hold (S3 412) */
    CORE_ECONFLICT = -10422  /* a conditional write met a concurrent one on the same key (S3 409) */
};

/* Longest bucket (container) name, in bytes: the bucket table's limit (S3's 63). */
#define CORE_BUCKET_MAX 63
/* A bucket id (docs/architecture.md, "Namespaces"): what names a bucket's tables. A bucket of the
 * global table (claimed, or written before namespaces) has its name as id; a container whose name
 * another account holds has 64 hex digits of its own, longer than any name, so the two never meet. */
#define CORE_BID_LEN 64
#define CORE_BID_CAP (CORE_BID_LEN + 1)
#define CORE_BUCKETS_TABLE "buckets"
/* Accounts that have a table of their own bucket records ("b.<account>"), key = account. */
#define CORE_NS_TABLE "bucket_accounts"

/* ---- object records (core_meta.c) ---- */

#define CORE_INLINE_MAX 8192

/* core_meta_t.flags */
#define CORE_META_SLO 0x01u
#define CORE_META_SSE_C 0x02u  /* encrypted with a customer-provided key (S3 SSE-C) */
#define CORE_META_SSE_S3 0x04u /* encrypted with a data key sealed under the cluster's `sse` key */
#define CORE_META_SSE (CORE_META_SSE_C | CORE_META_SSE_S3)

/* core_meta_t.vid: 16 hex digits of ~ts then 16 of ~tiebreak (the version's stamp), so that a key's
 * versions sort newest first in the version table. */
#define CORE_VID_LEN 32
/* core_meta_t.vflags */
#define CORE_VER_NULL 0x01u   /* the key's "null" version (written while versioning was suspended) */
#define CORE_VER_MARKER 0x02u /* a delete marker: no data */

/* S3 Object Lock of one version (core_version.c): retention until until_ms (Unix ms) in mode, and
 * a legal hold. While either holds, the version cannot be removed (core_ver_delete). */
enum { CORE_LOCK_NONE, CORE_LOCK_GOVERNANCE, CORE_LOCK_COMPLIANCE };
typedef struct {
    uint8_t mode;      /* CORE_LOCK_* */
    uint64_t until_ms; /* retain until (with mode) */
    uint8_t hold;      /* legal hold: CORE_HOLD_ON, CORE_HOLD_OFF (set off), 0 (never set) */
} core_lock_t;
#define CORE_HOLD_ON 1
#define CORE_HOLD_OFF 2

typedef struct {
    uint8_t id[32]; /* SHA-256 of the chunk's bytes */
    uint32_t len;
    uint64_t xxh3;  /* xxh3-64 of the chunk's bytes (end-to-end check on reads) */
} core_chunk_ref_t;

typedef struct {
    /* summary */
    uint64_t size;
    uint8_t md5[16];
    uint32_t parts;
    uint64_t mtime_ns;
    og_str_t content_type;
    og_str_t owner;
    uint64_t delete_at; /* Swift X-Delete-At, Unix seconds; 0 = never. In the summary so that
                           listings can hide expired objects without reading details. */
    /* Swift static large object (swift_slo.c): the object's own bytes are the manifest JSON;
       flags has CORE_META_SLO, slo_size is the sum of the segments' bytes and slo_etag the MD5 of
       their ETags (Swift's SLO ETag). In the summary so that listings show both without
       reading the manifest. All zero for every other object. */
    uint8_t flags;
    uint64_t slo_size;
    uint8_t slo_etag[16];
    /* S3 versioning (core_version.c): the version's sort id (CORE_VID_LEN hex digits, newest
       sorts first) and CORE_VER_* flags. Both empty for an object written while its bucket was
       never versioned: that object is the key's "null" version. In the summary (listings of
       versions need them). */
    char vid[CORE_VID_LEN + 1];
    uint8_t vflags;
    core_lock_t lock; /* S3 Object Lock of this version (zero: none) */
    /* detail (zero/empty when decoded from a listing entry) */
    const og_header_t *headers; size_t num_headers; /* x-amz-meta-*, cache-control, content-disposition,
                                                       content-encoding, content-language, expires,
                                                       x-amz-tagging (S3 tags, s3_tagging.c) */
    const core_chunk_ref_t *chunks; size_t num_chunks;
    og_str_t inline_data;
    og_str_t sse;  /* with a CORE_META_SSE_* flag: the front end's key material (core_sse.c: SSE-C
                      salt and key check; SSE-S3 sealed data key); at most 0xffff bytes */
    void *_mem; /* owned by decode */
} core_meta_t;

/* Encodes m into freshly malloc'd *summary and *detail buffers (the caller frees both).
 * 0, -ENOMEM or OG_ETOOBIG (record over OG_REC_MAX_LEN). */
int core_meta_encode(const core_meta_t *m, char **summary, size_t *slen, char **detail, size_t *dlen);
/* Decodes a record's summary and (when present) detail. Slices point into the record's buffer,
 * which must outlive *m; arrays are allocated: release with core_meta_free. 0 or OG_EPROTO. */
int core_meta_decode(const og_rec_t *rec, core_meta_t *m);
void core_meta_free(core_meta_t *m);
/* The quoted ETag ("\"<hex>\"" or "\"<hex>-N\"") into out (at least 48 bytes). Returns its length. */
size_t core_meta_etag(const core_meta_t *m, char *out);
/* 1 when the object has an expiry (delete_at) at or before now_s (Unix seconds), else 0. */
int core_meta_expired(const core_meta_t *m, uint64_t now_s);

/* A list of header pairs as stored in account and container records (and object details):
 *   u16 count, each (u16 len name, u16 len value), big-endian.
 * core_hdrs_encoded_len: the bytes core_hdrs_encode writes, or 0 when a field or the count does not
 * fit in 16 bits. core_hdrs_encode writes into out (at least that many bytes) and returns the end. */
size_t core_hdrs_encoded_len(const og_header_t *h, size_t n);
unsigned char *core_hdrs_encode(const og_header_t *h, size_t n, unsigned char *out);
/* Decodes a list at the start of in: 0 with *out (malloc'd array, the caller frees; slices point
 * into in, which must outlive them; NULL when n is 0), *n and *used (bytes consumed), OG_EPROTO
 * or -ENOMEM. */
int core_hdrs_decode(og_str_t in, og_header_t **out, size_t *n, size_t *used);


/* ---- object data (core_obj.c) ---- */

/* Where body bytes come from: >0 bytes read into buf, 0 at the end, < 0 an error code that
 * core_obj_write returns unchanged (so the caller can tell a client abort from a bad body). */
typedef struct {
    ssize_t (*read)(void *ctx, void *buf, size_t cap);
    void *ctx;
} core_obj_src_t;

/* Whole-body digests the caller may ask for (bit flags). */
enum {
    CORE_OBJ_SHA256 = 1u << 0 /* SHA-256 of the body (x-amz-content-sha256) */
    /* x-amz-checksum-* (CRC32, SHA-1 ...) are computed by the body source (s3/s3_body.h), not here */
};

typedef struct {
    const uint8_t *key;   /* NULL, or a CORE_SSE_KEY-byte object key: every chunk (and an inline
                             body) is stored encrypted (see "Encryption" above) */
    uint64_t max_size;    /* a body larger than this fails with OG_ETOOBIG (nothing referenced) */
    int64_t expect_size;  /* -1 unknown; else a body of another length fails with OG_EPROTO */
    uint32_t digests;     /* CORE_OBJ_* */
} core_obj_put_opts_t;

typedef struct {
    uint64_t size;
    uint8_t md5[16];
    uint8_t sha256[32];       /* when CORE_OBJ_SHA256 was asked for */
    core_chunk_ref_t *chunks;   /* in order; malloc'd, released by core_obj_data_free */
    size_t num_chunks;
    char *inline_data;        /* the body when size <= CORE_INLINE_MAX (then num_chunks == 0); with a
                                 key, its box (inline_len = size + OG_BOX_OVERHEAD) */
    size_t inline_len;
} core_obj_data_t;

/* Streams src into chunks stored at a write quorum. 0 and *out filled (release with
 * core_obj_data_free), or: the source's own negative code, OG_ETOOBIG, OG_EPROTO (length differs
 * from expect_size), OG_EQUORUM (a chunk could not be stored), -ENOMEM. Memory: one batch buffer
 * of 4 MiB (at least twice the chunker's maximum chunk size; expect_size + 1 for a smaller body)
 * that the body is read into and the chunks are sent from, whatever the body size; with a key a
 * second one as large, which the boxes are sent from. */
int core_obj_write(cluster_t *cl, const core_obj_put_opts_t *opts, core_obj_src_t src, core_obj_data_t *out);
void core_obj_data_free(core_obj_data_t *d);

/* Receives object bytes in order: 0 to go on, < 0 to stop (returned by core_obj_read). */
typedef int (*core_obj_sink_fn)(void *ctx, const void *buf, size_t len);

/* Streams bytes [first, last] (inclusive, last < m->size) of object m to sink. 0, the sink's
 * code, or a cluster_chunk_get error (OG_ENOTFOUND, OG_ECORRUPT, OG_EQUORUM). When it fails
 * after some bytes went to the sink, the caller must abort the response (never send wrong bytes). */
int core_obj_read(cluster_t *cl, const core_meta_t *m, uint64_t first, uint64_t last, core_obj_sink_fn sink, void *ctx);
/* core_obj_read of an object that may be encrypted: key is its object key (CORE_SSE_KEY bytes;
 * NULL for a plain object). Only the boxes of the chunks overlapping the range are read, each
 * whole (a box opens whole). As core_obj_read, plus -EACCES (an encrypted object without a key)
 * and OG_ECORRUPT (a box that does not open: altered, or another key). */
int core_obj_read_key(cluster_t *cl, const core_meta_t *m, const uint8_t *key, uint64_t first, uint64_t last,
                      core_obj_sink_fn sink, void *ctx);

/* ---- encryption keys (core_sse.c) ----
 * SSE-C: the object key is HMAC-SHA256(customer key, "onggi-sse-c key" | salt) with a random
 * 16-byte salt per object; sse = salt | HMAC-SHA256(customer key, "onggi-sse-c check" | salt),
 * which tells a wrong customer key from the right one without storing it (S3 keeps a salted HMAC
 * of it too). The two HMACs are independent PRF outputs: the check reveals nothing of the key. */
#define CORE_SSE_KEY 32
#define CORE_SSE_C_LEN (16 + 32)
/* A new SSE-C object: a fresh salt; sse (CORE_SSE_C_LEN bytes) and key out. 0 or OG_EINVAL
 * (random source). */
int core_sse_c_new(const uint8_t customer_key[32], uint8_t sse[CORE_SSE_C_LEN], uint8_t key[CORE_SSE_KEY]);
/* The object key of an SSE-C object with stored sse, when customer_key is its key: 0 with key,
 * -EACCES (another key), OG_ECORRUPT (sse malformed). */
int core_sse_c_open(const uint8_t customer_key[32], og_str_t sse, uint8_t key[CORE_SSE_KEY]);

/* Room for a table name from core_table: the kind, '.', a name or its 128-character form, NUL. */
#define CORE_TABLE_CAP (2 + 128 + 1)
/* The record table of one kind of a bucket's records ('o' objects, 'u' multipart uploads and parts,
 * 'p' part sizes) into out: "<kind>.<bucket>" when the name is all [A-Za-z0-9._-] (what a table
 * name may hold on the node API: every S3 bucket name is), else "<kind>." and the name's hex padded
 * with '-' to 128 characters, which no bucket name is (CORE_BUCKET_MAX), so the two forms never
 * meet. A Swift container named "a b" or "été" thus gets a table like any other. `bucket` is a
 * bucket id (core_bucket_t.id: the name, or 64 hex digits) or an account name ('b': the account's
 * own bucket records). A string longer than CORE_BID_LEN gives "", which every cluster call
 * refuses (OG_EINVAL). */
void core_table(char kind, const char *bucket, char out[CORE_TABLE_CAP]);
/* Encodes m and writes it as the record of (bucket, key) with a fresh stamp; m->mtime_ns is set
 * to the stamp's ts. In a bucket whose versioning was set, it is a new version (core_version.c):
 * m->vid and m->vflags are set too, and in an Object Lock bucket m->lock gets the bucket's default
 * retention when it has no mode. 0, OG_EQUORUM, OG_ETOOBIG, -ENOMEM. */
int core_obj_commit(cluster_t *cl, const char *bucket, og_str_t key, core_meta_t *m);
/* Reads and decodes the live record of (bucket, key): 0 with *m (core_meta_free) and *buf (free;
 * m's slices point into it), OG_ENOTFOUND for absent or deleted, OG_EQUORUM, OG_EPROTO. */
int core_obj_lookup(cluster_t *cl, const char *bucket, og_str_t key, core_meta_t *m, char **buf);
/* core_obj_lookup, and an object past its X-Delete-At at now_s (Unix seconds) is OG_ENOTFOUND
 * too: absent for every API. Nothing is reclaimed (core_obj_expire does that). */
int core_obj_lookup_live(cluster_t *cl, const char *bucket, og_str_t key, uint64_t now_s, core_meta_t *m, char **buf);
/* Deletes (bucket, key): a tombstone, or in a versioned bucket a delete marker (core_version.c) whose
 * client-visible id goes to marker_vid when not NULL ("" when no marker was written). 0 or
 * OG_EQUORUM. */
int core_obj_delete(cluster_t *cl, const char *bucket, og_str_t key, char marker_vid[CORE_VID_LEN + 1]);
/* The same three on any table of core_meta_t records (core_obj_* use "o.<bucket>"; multipart
 * upload and part records live in "u.<bucket>"), with the same contracts. */
int core_rec_commit(cluster_t *cl, const char *table, og_str_t key, core_meta_t *m);
/* Writes m as record (table, key) stamped exactly (ts, tiebreak), m->mtime_ns as it is: with
 * tiebreak 0 a conditional write that loses to a newer record (cluster_rec_put). Same results. */
int core_rec_put(cluster_t *cl, const char *table, og_str_t key, const core_meta_t *m, uint64_t ts, uint64_t tiebreak);
int core_rec_lookup(cluster_t *cl, const char *table, og_str_t key, core_meta_t *m, char **buf);
int core_rec_delete(cluster_t *cl, const char *table, og_str_t key);

/* Conditional writes (core_cond.c): check(ctx, cur) gets the live object (NULL when absent) and
 * returns 0 to let the write go on, or CORE_EPRECOND (or another code) to refuse it. */
typedef int (*core_cond_fn)(void *ctx, const core_meta_t *cur);
/* core_obj_commit when check approves the live object of (bucket, key) at now_s (Unix seconds),
 * decided and written while holding the key's lease, so among conditional writers of one key
 * (through any gateways) each sees the previous one's outcome: of concurrent creators
 * (If-None-Match: *) exactly one commits (docs/architecture.md, "Conditional writes"). Writers
 * without a condition do not take the lease and are not ordered with these. check NULL: plain
 * core_obj_commit. 0, check's code, CORE_ECONFLICT (the lease stayed busy or contended, or
 * holding it took too long: nothing written), or a core_obj_commit / cluster error. */
int core_obj_commit_if(cluster_t *cl, const char *bucket, og_str_t key, core_meta_t *m, core_cond_fn check,
                       void *ctx, uint64_t now_s);
/* The same for a delete (core_obj_delete when check approves: a tombstone, or in a versioned
 * bucket a delete marker whose version id goes into marker_vid as core_obj_delete says;
 * marker_vid[0] is '\0' when nothing was written). */
int core_obj_delete_if(cluster_t *cl, const char *bucket, og_str_t key, core_cond_fn check, void *ctx,
                       uint64_t now_s, char marker_vid[CORE_VID_LEN + 1]);

/* Refreshes the reference time of every chunk m lists on a quorum of its
 * replicas, so that a garbage-collection sweep already under way cannot delete them: anything
 * that commits a record referencing existing chunks without writing them (CopyObject,
 * UploadPartCopy, CompleteMultipartUpload, Swift COPY) calls this first (docs/architecture.md,
 * "Garbage collection"). 0, OG_EQUORUM (do not commit) or -ENOMEM. */
int core_obj_touch(cluster_t *cl, const core_meta_t *m);

/* Reclaims an expired object (m decoded from its record): a tombstone stamped at its expiry (or
 * just after its own write), so a newer write of the same key always wins over it. 0 or an error. */
int core_obj_expire(cluster_t *cl, const char *bucket, og_str_t key, const core_meta_t *m);

/* ---- buckets (core_bucket.c) ---- */

typedef struct {
    char owner[64];
    char id[CORE_BID_CAP]; /* names the bucket's tables (core_table): pass it, not the name, to the
                              object, usage, upload and listing functions */
    uint64_t created_ns;
    og_header_t *meta; /* lowercase names: x-container-meta-*, x-container-read/write */
    size_t num_meta;
    char *_buf;        /* the record buffer (core_bucket_get) */
} core_bucket_t;

/* Decodes a bucket record (version 1 or 2); meta slices point into rec's buffer. 0 (release with
 * core_bucket_free) or OG_EPROTO / -ENOMEM. */
int core_bucket_parse(const og_rec_t *rec, core_bucket_t *out);
/* Reads a live bucket of the global table (S3 names; out->id is the name): 0 with *out
 * (core_bucket_free), OG_ENOTFOUND, OG_EQUORUM, OG_EPROTO. */
int core_bucket_get(cluster_t *cl, const char *bucket, core_bucket_t *out);
/* The bucket `name` of `account` (Swift's per-account names): the global record when this account
 * holds the name, else the account's own record "b.<account>/<name>" (a container whose name
 * another account holds). core_bucket_get's contract; out->id names its tables. */
int core_bucket_find(cluster_t *cl, const char *account, const char *name, core_bucket_t *out);
/* Draws a fresh random id into b->id for a new container of b->owner whose name another account
 * holds, and lists b->owner in table CORE_NS_TABLE (so walks over every bucket find its own
 * table). 0, -EIO or a cluster error. */
int core_bucket_new_id(cluster_t *cl, core_bucket_t *b);
/* Calls fn(ctx, name, b) with the name and record of every live bucket (b->id set: what names its
 * tables): those of the global table, then those of every account listed in CORE_NS_TABLE. Stops
 * at fn's first nonzero return and returns it; else 0 or a cluster error. */
int core_bucket_each(cluster_t *cl, int (*fn)(void *ctx, const char *name, const core_bucket_t *b), void *ctx);
/* Writes bucket record `bucket` (version 2 with its metadata, or 3 with its id into b->owner's
 * table when b->id is an id of its own) with a fresh stamp. 0, OG_EINVAL, OG_EQUORUM, -ENOMEM. */
int core_bucket_put(cluster_t *cl, const char *bucket, const core_bucket_t *b);
void core_bucket_free(core_bucket_t *b);

/* ---- caching defaults (core_bucket.c; docs/architecture.md "CDN origin") ---- */

/* Longest default Cache-Control kept (Swift's metadata value limit). */
#define CORE_CACHE_DFLT_MAX 256

/* What a bucket (= container) asks caches to do with objects that carry no Cache-Control or
 * Expires of their own. There is no S3 API for this, so both APIs read the container metadata
 * Swift can set: X-Container-Meta-Default-Cache-Control (a Cache-Control value, sent as is) and
 * X-Container-Meta-Default-Expires (seconds: Expires is the response's time plus that). */
typedef struct {
    char cache_control[CORE_CACHE_DFLT_MAX + 1]; /* NUL-terminated; "" when none */
    int64_t expires_after_s;                     /* -1 when none or not a number */
} core_cache_dflt_t;

/* The immutable URL of one object (docs/architecture.md "Immutable URLs"):
 * /_v/<etag hex>/AUTH_<account>/<bucket>/<key>, path segments percent-encoded. It names the object
 * with exactly these bytes (md5: its ETag's digest), so a cache may keep it forever. "/_v/" is no
 * S3 bucket (names have 3 characters or more) and no Swift path (/v1, /auth, /info). */
#define CORE_PIN_PREFIX "/_v"
#define CORE_PIN_CACHE_CONTROL "public, max-age=31536000, immutable"
#define CORE_PIN_URL_CAP (sizeof(CORE_PIN_PREFIX "//AUTH_//") + 32 + 3 * (64 + 256 + OG_KEY_MAX))
/* Writes that URL into out (CORE_PIN_URL_CAP bytes): its length, or 0 when it does not fit. */
size_t core_pin_url(const char *account, const char *bucket, og_str_t key, const unsigned char md5[16], char *out);

/* Reads the caching defaults of bucket (of account, core_bucket_find; NULL: the global table's,
 * core_bucket_get; both from the bucket record cache) into *out. 0, OG_ENOTFOUND, OG_EQUORUM,
 * OG_EPROTO, -ENOMEM. */
int core_cache_dflt_get(cluster_t *cl, const char *account, const char *bucket, core_cache_dflt_t *out);

/* Decodes a bucket record's summary (from a listing of table "buckets"). 0 or OG_EPROTO. */
int core_bucket_decode(const og_rec_t *rec, char *owner, size_t cap, uint64_t *created_ns);
/* Reads a bucket record (table "buckets"). 0 and owner account into owner (cap bytes),
 * OG_ENOTFOUND (absent or deleted), or an error. */
int core_bucket_lookup(cluster_t *cl, const char *bucket, char *owner, size_t cap, uint64_t *created_ns);
/* Creates bucket for owner (a version 1 record stamped now). 0, OG_EEXIST (it exists and is
 * owner's, also as a container of owner's own table, whoever holds the name), -EACCES (another
 * account's, and owner has no container of that name), or a cluster error. */
int core_bucket_create(cluster_t *cl, const char *bucket, const char *owner);
/* Writes the tombstone of bucket record `bucket` where b (NULL: the global record) lives
 * (emptiness is the caller's check). 0 or OG_EQUORUM. */
int core_bucket_delete(cluster_t *cl, const char *bucket, const core_bucket_t *b);

/* ---- S3 lifecycle rules and their execution (core_lc.c) ----
 *
 * A bucket's lifecycle configuration is one entry of its record's metadata (CORE_LC_META), in a
 * line form both the S3 front end (which parses and renders the XML) and the lifecycle pass
 * (onggi-admin lifecycle) read: one rule a line,
 *   "1 <E|D> <L|F> <id> <prefix> <tags> <gt> <lt> <days> <date> <abort>"
 * id and prefix percent-encoded, tags in the x-amz-tagging form, numbers decimal or "-" when
 * absent (date: Unix seconds). A rule with a versioned action is a version 2 line, the same
 * fields and three more: "2 ... <abort> <noncurrent days> <newer noncurrent> <T|->" (the last
 * ExpiredObjectDeleteMarker true, or not); a rule without one stays a version 1 line, so
 * a gateway that knows only version 1 still reads every configuration that does not use them. */

#define CORE_LC_META "x-amz-bucket-lifecycle"
#define CORE_LC_DAY_S 86400u

typedef struct {
    og_str_t id, prefix;  /* decoded */
    og_str_t tags;        /* every tag an object must carry, x-amz-tagging form ("" none) */
    int enabled;
    int legacy;           /* the rule-level <Prefix> of the old schema, not a <Filter> */
    int has_gt, has_lt;
    uint64_t size_gt, size_lt; /* ObjectSizeGreaterThan / LessThan, bytes */
    uint32_t exp_days;    /* Expiration Days (0 none) */
    uint64_t exp_date;    /* Expiration Date, Unix seconds at midnight UTC (0 none) */
    uint32_t abort_days;  /* AbortIncompleteMultipartUpload DaysAfterInitiation (0 none) */
    uint32_t ncv_days;    /* NoncurrentVersionExpiration NoncurrentDays (0 none) */
    uint32_t ncv_newer;   /* its NewerNoncurrentVersions: noncurrent versions always kept (0 none) */
    int edm;              /* Expiration ExpiredObjectDeleteMarker true (false is no action: 0, as absent) */
} core_lc_rule_t;

typedef struct {
    core_lc_rule_t *rules;
    size_t n;
    char *_mem;
} core_lc_t;

/* Appends the line form of rules[0..n) to out. 0 or -ENOMEM. */
int core_lc_encode(const core_lc_rule_t *rules, size_t n, og_buf_t *out);
/* Decodes the line form: 0 and *out (core_lc_free; slices into out's own memory), OG_EPROTO
 * (not ours), -ENOMEM. */
int core_lc_decode(og_str_t s, core_lc_t *out);
void core_lc_free(core_lc_t *lc);

/* How a lifecycle pass runs (onggi-admin lifecycle). */
typedef struct {
    uint64_t now_s;
    uint64_t day_s;       /* CORE_LC_DAY_S; a shorter day is a test knob (then no midnight rounding) */
    uint64_t max_actions; /* expirations + aborts per pass; 0 unbounded */
    uint32_t rate;        /* actions per second at most; 0 unbounded */
    int dry_run;          /* count and report, change nothing */
    /* Told of every action (what: "expire", "abort", "noncurrent" (a noncurrent version removed),
       "marker" (a delete marker removed); vid: the removed version's id, else empty; rc its
       outcome, CORE_ELOCKED for a version Object Lock kept); may be NULL. */
    void (*report)(void *ctx, const char *what, const char *bucket, og_str_t key, og_str_t vid, og_str_t rule,
                   int rc);
    void *ctx;
} core_lc_opts_t;

typedef struct {
    uint64_t buckets, scanned, expired, aborted, failed;
    uint64_t noncurrent, markers; /* noncurrent versions and delete markers removed */
    uint64_t skipped_locked;      /* due versions Object Lock kept (retention or legal hold) */
    int bounded; /* the pass stopped at max_actions: the rest waits for the next pass */
} core_lc_stats_t;

/* Applies lc to bucket once: expires the current objects its enabled rules make due (Expiration
 * Days/Date with their prefix, tag and size filters: a tombstone stamped at the due time, so any
 * write after that time wins; in a versioned bucket a delete marker, put only while the judged
 * object is still current, so no version, locked or not, is removed); in a versioned bucket
 * removes the noncurrent versions NoncurrentVersionExpiration makes due (NoncurrentDays after the
 * next newer version was written, beyond the NewerNoncurrentVersions newest) and the delete
 * markers left as their key's only version (ExpiredObjectDeleteMarker, or Expiration Days after
 * the marker was written), never a version under Object Lock (counted in skipped_locked); and
 * aborts the multipart uploads older than DaysAfterInitiation (parts, then the upload). Counts
 * into st (added to what it holds); stops when st reaches o->max_actions. 0, or the first error
 * walking the bucket (an action that failed is counted, reported and does not stop the pass). */
int core_lc_bucket(cluster_t *cl, const char *bucket, const core_lc_t *lc, const core_lc_opts_t *o,
                   core_lc_stats_t *st);

/* ---- accounts (core_account.c) ---- */

typedef struct {
    uint64_t created_ns;
    og_header_t *meta;  /* lowercase names; slices into _buf (or the caller's, for put) */
    size_t num_meta;
    char *_buf;         /* owned by core_account_get */
} core_account_t;

/* Reads an account's record: 0 with *out (release with core_account_free), OG_ENOTFOUND (never
 * created or deleted), OG_EQUORUM or OG_EPROTO. */
int core_account_get(cluster_t *cl, const char *name, core_account_t *out);
/* Creates or replaces an account's record. 0, OG_EINVAL (bad name or metadata), OG_EQUORUM, -ENOMEM. */
int core_account_put(cluster_t *cl, const char *name, const core_account_t *a);
void core_account_free(core_account_t *a);
/* Calls fn with the name of every account that has a record. 0 or an error. */
int core_account_each(cluster_t *cl, int (*fn)(void *ctx, const char *name), void *ctx);

/* ---- usage and quotas (core_usage.c) ---- */

typedef struct {
    uint64_t objects;
    uint64_t bytes;
    uint64_t skipped; /* core_usage_account: bucket records left out (unreadable), for the caller to log */
} core_usage_t;

/* Live objects and bytes of a bucket, from the nodes' per-table usage counters (updated with
 * every record write, so exact after overwrites and deletes; O(1), no listing). An object past
 * its X-Delete-At counts until its tombstone is written (on access or by onggi-admin expire),
 * as in Swift. 0 or an error. */
int core_usage_bucket(cluster_t *cl, const char *bucket, uint64_t now_s, core_usage_t *out);
/* An account's buckets (count), objects and bytes. A bucket record that does not decode (or whose
 * key is longer than any bucket name) is left out and counted in out->skipped: one bad record of
 * the global table never makes every account unreadable. 0 or the first error reading the cluster. */
int core_usage_account(cluster_t *cl, const char *account, uint64_t now_s, uint64_t *buckets, core_usage_t *out);
/* May a write of add_bytes (and, with new_object, one more object) go into `bucket` of `account`?
 * Checks the container's x-container-meta-quota-bytes / -quota-count and the account's
 * x-account-meta-quota-bytes, as Swift's container_quotas and account_quotas do (an overwrite
 * counts its full size). Call it before accepting a body whose length is known, and again with
 * the final size before committing one that was not (chunked). 0, CORE_EQUOTA, or an error
 * (OG_EQUORUM ...). O(1): the quotas and usages it reads are this gateway's, refreshed at most once
 * per cluster_memo_ttl per key, plus what this gateway let through since (docs/architecture.md,
 * "Quotas": how far several gateways can overshoot, how soon a quota change applies). */
int core_quota_check(cluster_t *cl, const char *bucket, const char *account, uint64_t add_bytes, int new_object);
/* Drops what core_quota_check keeps of a bucket's usage (bucket_id, core_bucket_t.id: after this
 * gateway deleted in it) and of an account's quota (after it wrote the account record), so this
 * gateway's next check reads them again; either may be NULL. */
void core_quota_forget(cluster_t *cl, const char *bucket_id, const char *account);

/* ---- listing walks (core_walk.c) ---- */

/* Where core_walk() reads keys from. fetch has the contract of cluster_list_grouped() (live
 * entries with prefix that sort after `after`, sorted, up to limit raw keys, truncated/next_after;
 * with a delimiter, maybe only some keys of each common prefix): the walk's delimiter is passed so
 * that a source may skip what the walk would skip, and one that does not simply ignores it.
 * release frees what one fetch returned. Production wraps cluster_list*, cluster_list_free. */
typedef struct {
    int (*fetch)(void *ctx, og_str_t prefix, og_str_t delim, og_str_t after, size_t limit, cluster_list_t *out);
    void (*release)(void *ctx, cluster_list_t *l);
    void *ctx;
    char key_end; /* when not 0, a delimiter counts only before the first key_end of a key (the
                     version listing's CORE_VER_SEP, after which the version's sort id follows) */
    int grouped;  /* fetch applies the delimiter (about one raw key per common prefix), so a walk
                     asks it for only as many keys as it still needs items, as without one */
} core_walk_source_t;

typedef struct {
    og_str_t key;     /* the object key, or the common prefix when is_prefix */
    og_str_t summary; /* the record summary (core_meta); empty for a common prefix */
    int is_prefix;
} core_walk_item_t;

typedef struct {
    core_walk_item_t *items; /* key order, contents and common prefixes interleaved; owned by the walk */
    size_t n, ncontents, nprefixes;
    int truncated;       /* exact: another key or common prefix follows items[n-1] */
    size_t fetches;      /* pages read (lets tests check the cost) */
    char *_arena;
} core_walk_t;

/* One page of an S3 listing: up to max_keys items (keys and common prefixes, each prefix counted
 * once) with `prefix`, after `after`. With a delimiter, a key holding the delimiter after the
 * prefix rolls up into the common prefix ending at that delimiter, and the walk skips every other
 * key under that prefix (also under `after` itself when `after` is exactly such a prefix, so the
 * last item of a page is a valid resume point). max_keys 0 gives an empty, untruncated page
 * without reading. 0 and *out (release with core_walk_free), -ENOMEM, OG_EPROTO when the source
 * stops advancing, or the source's error. */
int core_walk(const core_walk_source_t *src, og_str_t prefix, og_str_t delimiter, og_str_t after, size_t max_keys,
               core_walk_t *out);
void core_walk_free(core_walk_t *w);

/* ---- an account's buckets (core_bucket_list.c) ---- */

/* The listing source of account's buckets (Swift account listing, S3 ListBuckets): the global
 * table's records it owns merged in name order with its own table "b.<account>"; entries are
 * bucket records (core_bucket_decode / core_bucket_parse; one that does not decode is passed on
 * for the reader to skip and report). 0 (release with
 * core_bucket_source_free), OG_EINVAL (an account name too long for one), -ENOMEM. */
int core_bucket_source(cluster_t *cl, const char *account, core_walk_source_t *out);
void core_bucket_source_free(core_walk_source_t *src);

/* The listing source of a bucket's current objects (table "o.<bucket id>"; S3 ListObjects, Swift
 * container listings), without the objects past their Swift X-Delete-At at now_s (as Swift
 * listings; the expiry is in the summary, so no extra read). Grouped by the walk's delimiter on the
 * nodes (cluster_list_grouped). An entry that does not decode is kept, for the reader to report.
 * Fills *s (the source's state, which must outlive the walk) and returns the source. */
typedef struct {
    cluster_t *cl;
    char table[CORE_TABLE_CAP];
    uint64_t now_s;
} core_obj_source_t;
core_walk_source_t core_obj_source(core_obj_source_t *s, cluster_t *cl, const char *bucket_id, uint64_t now_s);

/* ---- versions (core_version.c; docs/architecture.md, "Versioning") ----
 *
 * "o.<bucket>" stays the index of current versions (GET and listings read only it). A bucket whose
 * versioning was ever set also keeps every version in "v.<bucket>", keyed by the object key,
 * CORE_VER_SEP and the version's sort id (newest first), each a core_meta_t with vid and vflags
 * set. An object written before versioning was set has no vid: it is the key's null version, and
 * is copied into the version table before a versioned write replaces it. */

#define CORE_VER_SEP '\x01'
/* Stored bucket metadata (core_bucket_t.meta) naming the versioning state and the Object Lock
 * configuration ("Enabled", or "Enabled;<mode digit>;<days>;<years>" with a default retention). */
#define CORE_VER_BUCKET_HDR "x-onggi-versioning"
#define CORE_LOCK_BUCKET_HDR "x-onggi-object-lock"

typedef enum { CORE_VER_OFF, CORE_VER_ENABLED, CORE_VER_SUSPENDED } core_versioning_t;

/* A bucket's Object Lock configuration: enabled (at creation, which also enables versioning) and
 * its default retention (mode CORE_LOCK_NONE: none; else days or years, one of them non-zero). */
typedef struct {
    int enabled;
    uint8_t mode;
    uint32_t days, years;
} core_lock_conf_t;

enum {
    CORE_ELOCKED = -10423 /* the version is under retention or legal hold (S3 403 AccessDenied) */
};
/* Versioning or Object Lock asked of a bucket with an id of its own ("b.<account>", docs/
 * architecture.md "Namespaces"): its writes cannot read its record, so it stays unversioned
 * until step 4 (S3 501 NotImplemented). */
enum { CORE_EIDVER = -10530 };

/* The versioning state and (lock may be NULL) the Object Lock configuration of bucket (its id;
 * from the cached bucket record; a bucket with an id of its own is unversioned). 0, OG_ENOTFOUND,
 * or an error. */
int core_versioning_get(cluster_t *cl, const char *bucket, core_versioning_t *out, core_lock_conf_t *lock);
/* Sets it (ENABLED or SUSPENDED; a bucket never goes back to OFF). 0, OG_ENOTFOUND, CORE_EIDVER,
 * or an error. */
int core_versioning_put(cluster_t *cl, const char *bucket, core_versioning_t state);
/* Sets bucket's Object Lock configuration (enabled) and enables its versioning, in one record
 * write. 0, OG_ENOTFOUND, CORE_EIDVER, or an error. */
int core_lock_conf_put(cluster_t *cl, const char *bucket, const core_lock_conf_t *conf);
/* Does lock l keep its version at now_ms (a GOVERNANCE retention not when bypass)? 1 or 0. */
int core_lock_holds(const core_lock_t *l, uint64_t now_ms, int bypass);
/* Replaces the lock of version `vid` of (bucket, key) (and of the index when it is current). 0,
 * OG_ENOTFOUND, OG_EINVAL (a malformed id), or an error. A delete marker is OG_ENOTFOUND. */
int core_ver_set_lock(cluster_t *cl, const char *bucket, og_str_t key, og_str_t vid, const core_lock_t *lock);
/* 1 when bucket's version table holds a version or delete marker (from the nodes' usage counters:
 * O(1)), 0 when none, or an error. A bucket with versions must not be deleted. */
int core_ver_any(cluster_t *cl, const char *bucket);
/* The version id a client sees for m: "null" for the null version (or an object of a never
 * versioned bucket), else its sort id. */
const char *core_ver_id(const core_meta_t *m);
/* Reads version `vid` (as a client names it, "null" included) of (bucket, key): 0 with *m
 * (core_meta_free) and *buf (free), OG_ENOTFOUND, OG_EINVAL (not a version id this gateway makes:
 * S3's InvalidArgument), or a cluster error. A delete marker is returned like any version. */
int core_ver_lookup(cluster_t *cl, const char *bucket, og_str_t key, og_str_t vid, core_meta_t *m, char **buf);
/* The newest version of (bucket, key) in the version table: 0 with *m (core_meta_free) and *buf
 * (free), OG_ENOTFOUND (none), or an error. */
int core_ver_newest(cluster_t *cl, const char *bucket, og_str_t key, core_meta_t *m, char **buf);
/* The newest version of (bucket, key) in the version table whose ETag is etag (the md5 of its bytes,
 * a multipart upload's md5 of md5s, or a Swift SLO's ETag; delete markers never match): 0 with *m
 * (core_meta_free) and *buf (free), OG_ENOTFOUND (none), or an error. Lists the key's versions. */
int core_ver_etag(cluster_t *cl, const char *bucket, og_str_t key, const uint8_t etag[16], core_meta_t *m, char **buf);
/* Removes version `vid` of (bucket, key) for good; when it was the current one, the next newest
 * becomes current (or the key goes absent when there is none or it is a delete marker).
 * *was_marker (may be NULL): whether the removed version was a delete marker. 0 (also when there
 * was no such version, as S3 answers), CORE_ELOCKED (core_lock_holds, with bypass: nothing
 * removed), OG_EINVAL (a malformed id), or an error. */
int core_ver_delete(cluster_t *cl, const char *bucket, og_str_t key, og_str_t vid, int bypass, int *was_marker);
/* The version-listing key source (ListObjectVersions): keys are the object key, CORE_VER_SEP, and
 * the sort id (empty for a null version kept only in the index, which sorts first), summaries
 * as stored. Release with core_ver_source_free. 0 or -ENOMEM. */
int core_ver_source(cluster_t *cl, const char *bucket, core_walk_source_t *out);
void core_ver_source_free(core_walk_source_t *src);
/* The object key of a core_ver_source item key: up to its last CORE_VER_SEP (a sort id holds none). */
og_str_t core_ver_item_key(og_str_t item);

/* ---- multipart upload records (core_upload.c) ---- */

#define CORE_UPLOAD_ID_LEN 22 /* base64url of 16 random bytes */
#define CORE_UPLOAD_SEP '\x01'
/* Stored header of an upload record: the created_ns (decimal) of the bucket it belongs to. No
 * client header of that name is ever stored, and Complete does not pass it on to the object. */
#define CORE_UPLOAD_BUCKET_HDR "x-onggi-bucket-created"

/* Does upload record up belong to the bucket created at created_ns (not to an earlier bucket of
 * the same name)? A record written before uploads kept the stamp answers by its own time. 1 or 0. */
int core_upload_in_bucket(const core_meta_t *up, uint64_t created_ns);
/* 1 when bucket (the one created at created_ns) has an in-progress multipart upload, 0 when none
 * (uploads left in an earlier bucket of the same name do not count), or OG_EQUORUM, OG_ECORRUPT
 * (an upload record that does not decode), OG_EPROTO. DeleteBucket and Swift's container DELETE
 * refuse (409) while there is one: a re-created bucket must never inherit them. */
int core_upload_exists(cluster_t *cl, const char *bucket, uint64_t created_ns);
/* Aborts every multipart upload of bucket (S3 DeleteBucket, as S3 does): tombstones each record
 * of its "u.<bucket>" table, an upload before its parts (key order), so the parts' chunks become
 * garbage. 0, or the first error (OG_EQUORUM ...): records already dropped stay dropped, and the
 * caller must not delete the bucket. */
int core_upload_drop_all(cluster_t *cl, const char *bucket);
/* Writes the part sizes of multipart object (bucket, key) whose ETag is md5-n. 0, OG_EQUORUM,
 * -ENOMEM. */
int core_part_sizes_put(cluster_t *cl, const char *bucket, og_str_t key, const uint8_t md5[16],
                        const uint64_t *sizes, uint32_t n);
/* Bytes [*first, *last] of part `part` (1-based) of object m (bucket, key), for GET/HEAD
 * ?partNumber: a single-part object has one part (the whole, non-empty object); a multipart
 * object's part sizes come from its "p.<bucket>" record, believed only when it matches m's ETag.
 * 0, OG_EINVAL (no such part: 416 InvalidPartNumber), OG_ECORRUPT (sizes missing or not
 * matching), OG_EQUORUM. */
int core_part_range(cluster_t *cl, const char *bucket, og_str_t key, const core_meta_t *m, uint32_t part, uint64_t *first, uint64_t *last);
/* For a copy of multipart object m (parts > 0) from (src_bucket, src_key) to (dst_bucket,
 * dst_key), S3 CopyObject or Swift COPY: copies the source's part sizes so that ?partNumber works
 * on the copy too. Call before committing the copy's record. 0 (also when m is not multipart, or
 * the source's sizes are missing or no longer m's: the copy then answers ?partNumber as the
 * source does), OG_EQUORUM. */
int core_part_sizes_copy(cluster_t *cl, const char *src_bucket, og_str_t src_key, const char *dst_bucket,
                          og_str_t dst_key, const core_meta_t *m);

/* ---- large objects: Swift SLO and DLO (core_slo.c, core_dlo.c) ----
 *
 * SLO: an object whose bytes are a manifest in Swift's stored JSON format (list of {name, bytes,
 * hash, content_type, last_modified[, range][, sub_slo]}) and whose record carries CORE_META_SLO
 * with the total size and the SLO ETag (MD5 of the segments' ETags, "etag:range;" for a ranged
 * one). DLO: an object with a stored X-Object-Manifest: container/prefix header; its bytes are
 * every object under the prefix in listing order, ETag = MD5 of their ETags.
 * S3 GetObject/HeadObject/CopyObject of an SLO or DLO serve the segments' bytes through these,
 * as s3api does; S3 listings show an SLO's total size and ETag.
 * Memory: segment bytes stream through core_obj_read (its batch buffer); a read holds at most
 * CORE_SLO_MAX_DEPTH parsed manifests plus a per-call sub-manifest cache (at most 16 entries;
 * unused ones are dropped beyond 8 MiB), a DLO one listing page. */

#define CORE_SLO_MAX_SEGMENTS 1000 /* object-backed segments per manifest (Swift's default) */
#define CORE_SLO_MAX_DEPTH 10      /* nested SLOs (Swift's max_slo_recursion_depth) */
#define CORE_SLO_MAX_MANIFEST 8388608 /* bytes of a manifest PUT body (Swift's default) */

enum {
    CORE_EMANIFEST = -10440 /* a manifest PUT body was refused: core_slo_put_t.refused says why */
};

/* What a large-object reader asks of a segment container (core_lo_t.access): read its objects,
 * write (delete) them, or list it (a DLO's segments: Swift needs a listing grant, .rlistings). */
enum { CORE_LO_READ = 0, CORE_LO_WRITE = 1, CORE_LO_LIST = 2 };

/* Who reads a large object: the cluster, the time (segment expiry), and whether the caller may
 * use a segment container: access(ctx, container, mode CORE_LO_*, id) returns 0 with the
 * container's bucket id in id (what names its tables: containers are named per account), -EACCES
 * (denied, or absent for a caller who may not learn that), OG_ENOTFOUND (absent) or an error. */
typedef struct {
    cluster_t *cl;
    uint64_t now_s;
    int (*access)(void *ctx, const char *container, int write, char id[CORE_BID_CAP]);
    void *ctx;
} core_lo_t;

/* Streams bytes [first, last] of the SLO whose manifest record is m (CORE_META_SLO, last <
 * m->slo_size) to sink, segment by segment through core_obj_read. 0, the sink's code, OG_ENOTFOUND
 * (a segment is gone), OG_ECORRUPT (a segment changed since the PUT, or a bad manifest), -EACCES,
 * or a cluster error. After bytes went to the sink a failure means: abort the response. */
int core_slo_read(core_lo_t *lo, const core_meta_t *m, uint64_t first, uint64_t last, core_obj_sink_fn sink,
                      void *ctx);
/* Is v a valid X-Object-Manifest value ("container/prefix", both non-empty, no '?' or '&', the
 * prefix not starting with '/')? 1 or 0. */
int core_dlo_valid(og_str_t v);
/* Size and ETag (MD5 of the segments' ETags) of the DLO whose X-Object-Manifest is v: one pass
 * over the listing. 0, -EACCES (the caller may not read the segments' container), OG_EINVAL
 * (v malformed), OG_EQUORUM ... A missing segment container is an empty DLO. */
int core_dlo_stat(core_lo_t *lo, og_str_t v, uint64_t *size, uint8_t md5[16]);
/* Streams bytes [first, last] of that DLO (positions as core_dlo_stat counted them) to
 * sink. 0, the sink's code, OG_ECORRUPT (a segment changed meanwhile), or an error as above. */
int core_dlo_read(core_lo_t *lo, og_str_t v, uint64_t first, uint64_t last, core_obj_sink_fn sink,
                      void *ctx);
/* The quoted ETag s3api shows for an SLO (m has CORE_META_SLO) in GET, HEAD and listings:
 * "\"<hex SLO ETag>-N\"". The -N marks it, like a multipart upload's, as not the MD5 of the
 * bytes, so S3 clients do not check the body against it. Into out (at least 48 bytes); returns
 * its length. */
size_t core_slo_s3_etag(const core_meta_t *m, char *out);

/* One problem of a manifest PUT or a multipart-manifest DELETE, as Swift lists them: the path of
 * the segment (or manifest) and either the error met reading or deleting it (rc: -EACCES,
 * OG_ENOTFOUND, OG_EQUORUM ..., for the front end to word) or, when rc is 0, why (static text). */
typedef struct {
    size_t path, path_len; /* in the list's arena */
    int rc;
    const char *why;
} core_lo_problem_t;

/* Problems in the order found. After a failed allocation oom is set and nothing more is added. */
typedef struct {
    og_buf_t arena;
    core_lo_problem_t *v;
    size_t n, cap;
    int oom;
} core_lo_problems_t;

/* The path of problem i (a slice of p's arena). */
static inline og_str_t core_lo_problem_path(const core_lo_problems_t *p, size_t i)
{
    return (og_str_t){p->arena.buf + p->v[i].path, p->v[i].path_len};
}

/* Why core_slo_build refused a manifest (with CORE_EMANIFEST). */
enum {
    CORE_SLO_NOT_JSON = 1, /* "Manifest must be valid JSON." */
    CORE_SLO_NOT_LIST,     /* "Manifest must be a list." */
    CORE_SLO_TOO_MANY,     /* more than CORE_SLO_MAX_SEGMENTS entries (the parse stops there) */
    CORE_SLO_BAD_ENTRIES,  /* malformed entries: entry_errs */
    CORE_SLO_BAD_SEGMENTS  /* segments that do not match or cannot be read: problems */
};

/* What a manifest PUT yields. */
typedef struct {
    og_buf_t json;    /* the manifest in Swift's stored format (the object's bytes) */
    uint64_t size;    /* sum of the segments' (ranged) lengths */
    uint8_t etag[16]; /* the SLO ETag */
    int refused;      /* CORE_SLO_*, with CORE_EMANIFEST */
    og_buf_t entry_errs; /* CORE_SLO_BAD_ENTRIES: "Index N: <reason>\n" lines, Swift's wording,
                          * each cut at 1 KiB and none past 64 KiB */
    core_lo_problems_t problems; /* CORE_SLO_BAD_SEGMENTS */
} core_slo_put_t;

/* Checks the manifest PUT body of the SLO container/object: its syntax, then every segment (exists,
 * readable through lo->access(.., 0), not the manifest itself, etag/size_bytes/range agree, at
 * least 1 byte but the last, nesting below CORE_SLO_MAX_DEPTH), and builds what is stored. 0 with
 * out->json, size and etag; CORE_EMANIFEST with out->refused and its details; -ENOMEM or another
 * error. Release *out with core_slo_put_free in every case. */
int core_slo_build(core_lo_t *lo, og_str_t body, const char *container, og_str_t object, core_slo_put_t *out);
void core_slo_put_free(core_slo_put_t *p);

/* What a multipart-manifest DELETE did. */
typedef struct {
    uint64_t deleted, not_found;
    core_lo_problems_t problems; /* a plain object ("Not an SLO manifest"), an unreadable manifest,
                                  * segments that could not be deleted */
} core_slo_del_t;

/* Deletes the SLO container/object: its segments (a nested SLO's segments before the nested
 * manifest), then the manifest, as Swift's bulk delete. lo->access(.., 1) guards every container
 * deleted from. 0 with *out (a missing manifest counts as not found; what could not be deleted is
 * a problem, not a failure), -EACCES (the caller may not write the manifest's container), or an
 * error reading the manifest's record. Release *out with core_slo_del_free in every case. */
int core_slo_delete(core_lo_t *lo, const char *container, og_str_t object, core_slo_del_t *out);
void core_slo_del_free(core_slo_del_t *d);

/* The ETag Swift shows for an object and checks segments against: hex, "hex-N" for S3 multipart,
 * the SLO ETag for an SLO. Unquoted, into out; returns its length. */
size_t core_lo_etag(const core_meta_t *m, char out[48]);

#endif
