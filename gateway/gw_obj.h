/*
 * gw_obj.h: the protocol-neutral object layer. S3 (PutObject, UploadPart, CopyObject) and
 * Swift (object PUT, SLO/DLO segments) store and read object data only through here, so
 * chunking, dedup, checksums and the data path's speed are one piece of code.
 *
 * Writing: gw_obj_write() pulls the body from a source callback (the HTTP body, or a decoder
 * wrapped around it such as aws-chunked), cuts it into content-defined chunks (FastCDC,
 * common/og_cdc.h), hashes every byte once per digest while it is in cache (MD5 for the ETag,
 * SHA-256 per chunk for its id, xxh3 per chunk, and any whole-body digests asked for), and
 * stores each chunk at quorum. Small bodies (<= GW_INLINE_MAX) are returned inline instead.
 * Nothing becomes visible until the caller commits a record that references the chunks
 * (gw_obj_commit); a failed or abandoned write leaves only unreferenced chunks, which garbage
 * collection reclaims after a grace period.
 *
 * Reading: gw_obj_read() streams bytes [first, last] of an object to a sink callback, reading
 * only the chunks that overlap the range, with bounded memory.
 */
#ifndef GW_OBJ_H
#define GW_OBJ_H

#include <sys/types.h>

#include "gw_cluster.h"
#include "gw_meta.h"

/* Where body bytes come from: >0 bytes read into buf, 0 at the end, < 0 an error code that
 * gw_obj_write returns unchanged (so the caller can tell a client abort from a bad body). */
typedef struct {
    ssize_t (*read)(void *ctx, void *buf, size_t cap);
    void *ctx;
} gw_obj_src_t;

/* Whole-body digests the caller may ask for (bit flags). */
enum {
    GW_OBJ_SHA256 = 1u << 0 /* SHA-256 of the body (x-amz-content-sha256) */
    /* x-amz-checksum-* (CRC32, SHA-1 ...) are computed by the body source (gw_body.h), not here */
};

typedef struct {
    uint64_t max_size;    /* a body larger than this fails with OG_ETOOBIG (nothing referenced) */
    int64_t expect_size;  /* -1 unknown; else a body of another length fails with OG_EPROTO */
    uint32_t digests;     /* GW_OBJ_* */
} gw_obj_put_opts_t;

typedef struct {
    uint64_t size;
    uint8_t md5[16];
    uint8_t sha256[32];       /* when GW_OBJ_SHA256 was asked for */
    gw_chunk_ref_t *chunks;   /* in order; malloc'd, released by gw_obj_data_free */
    size_t num_chunks;
    char *inline_data;        /* the body when size <= GW_INLINE_MAX (then num_chunks == 0) */
    size_t inline_len;
} gw_obj_data_t;

/* Streams src into chunks stored at a write quorum. 0 and *out filled (release with
 * gw_obj_data_free), or: the source's own negative code, OG_ETOOBIG, OG_EPROTO (length differs
 * from expect_size), OG_EQUORUM (a chunk could not be stored), -ENOMEM. Memory: one batch buffer
 * of 4 MiB (at least twice the chunker's maximum chunk size; expect_size + 1 for a smaller body)
 * that the body is read into and the chunks are sent from, whatever the body size. */
int gw_obj_write(gw_cluster_t *cl, const gw_obj_put_opts_t *opts, gw_obj_src_t src, gw_obj_data_t *out);
void gw_obj_data_free(gw_obj_data_t *d);

/* Receives object bytes in order: 0 to go on, < 0 to stop (returned by gw_obj_read). */
typedef int (*gw_obj_sink_fn)(void *ctx, const void *buf, size_t len);

/* Streams bytes [first, last] (inclusive, last < m->size) of object m to sink. 0, the sink's
 * code, or a gw_cluster_chunk_get error (OG_ENOTFOUND, OG_ECORRUPT, OG_EQUORUM). When it fails
 * after some bytes went to the sink, the caller must abort the response (never send wrong bytes). */
int gw_obj_read(gw_cluster_t *cl, const gw_meta_t *m, uint64_t first, uint64_t last, gw_obj_sink_fn sink, void *ctx);

/* The record table of a bucket/container's objects: "o.<bucket>" into out (cap >= 3 + 64). */
void gw_obj_table(const char *bucket, char *out, size_t cap);
/* Encodes m and writes it as the record of (bucket, key) with a fresh stamp; m->mtime_ns is set
 * to the stamp's ts. 0, OG_EQUORUM, OG_ETOOBIG, -ENOMEM. */
int gw_obj_commit(gw_cluster_t *cl, const char *bucket, og_str_t key, gw_meta_t *m);
/* Reads and decodes the live record of (bucket, key): 0 with *m (gw_meta_free) and *buf (free;
 * m's slices point into it), OG_ENOTFOUND for absent or deleted, OG_EQUORUM, OG_EPROTO. */
int gw_obj_lookup(gw_cluster_t *cl, const char *bucket, og_str_t key, gw_meta_t *m, char **buf);
/* Writes a tombstone for (bucket, key). 0 or OG_EQUORUM. */
int gw_obj_delete(gw_cluster_t *cl, const char *bucket, og_str_t key);

#endif
