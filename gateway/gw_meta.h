/*
 * gw_meta.h: the object metadata record (what an og_rec_t in table "o.<bucket>" holds).
 *
 * An object = summary (what listings need) + detail (what GET needs):
 *   summary: u8 version(=1) | u64 size | u8 md5[16] | u32 parts | u64 mtime_ns |
 *            u16 len + content type | u16 len + owner account
 *            version 2 appends: u64 delete_at (Unix seconds; written only when non-zero, so
 *            every object without an expiry keeps the version 1 bytes)
 *            version 3 appends to version 2 (delete_at then always present, maybe 0):
 *            u8 flags (GW_META_SLO) | u64 slo_size | u8 slo_etag[16]; written only for a Swift
 *            static large object manifest, so every other object keeps its version 1/2 bytes
 *   detail:  u16 nheaders, each (u16 len name, u16 len value)   -- stored response headers
 *            u32 nchunks, each (u8 id[32], u32 len, u64 xxh3)   -- chunk references, in order
 *            u32 len + inline data                              -- small objects, no chunks
 * Big-endian integers. The ETag is hex(md5), or hex(md5)-parts for multipart (parts > 0).
 * Chunk references are what garbage collection will trace (dedup issue): an object keeps
 * every chunk it lists alive. Small objects (<= GW_INLINE_MAX) keep their bytes inline in the
 * detail, which saves the chunk write and its fsync round on every replica.
 */
#ifndef GW_META_H
#define GW_META_H

#include "og.h"
#include "og_rec.h"

#define GW_INLINE_MAX 8192

/* gw_meta_t.flags */
#define GW_META_SLO 0x01u

typedef struct {
    uint8_t id[32]; /* SHA-256 of the chunk's bytes */
    uint32_t len;
    uint64_t xxh3;  /* xxh3-64 of the chunk's bytes (end-to-end check on reads) */
} gw_chunk_ref_t;

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
    /* Swift static large object (gw_swift_slo.c): the object's own bytes are the manifest JSON;
       flags has GW_META_SLO, slo_size is the sum of the segments' bytes and slo_etag the MD5 of
       their ETags (Swift's SLO ETag). In the summary so that listings show both without
       reading the manifest. All zero for every other object. */
    uint8_t flags;
    uint64_t slo_size;
    uint8_t slo_etag[16];
    /* detail (zero/empty when decoded from a listing entry) */
    const og_header_t *headers; size_t num_headers; /* x-amz-meta-*, cache-control, content-disposition,
                                                       content-encoding, content-language, expires */
    const gw_chunk_ref_t *chunks; size_t num_chunks;
    og_str_t inline_data;
    void *_mem; /* owned by decode */
} gw_meta_t;

/* Encodes m into freshly malloc'd *summary and *detail buffers (the caller frees both).
 * 0, -ENOMEM or OG_ETOOBIG (record over OG_REC_MAX_LEN). */
int gw_meta_encode(const gw_meta_t *m, char **summary, size_t *slen, char **detail, size_t *dlen);
/* Decodes a record's summary and (when present) detail. Slices point into the record's buffer,
 * which must outlive *m; arrays are allocated: release with gw_meta_free. 0 or OG_EPROTO. */
int gw_meta_decode(const og_rec_t *rec, gw_meta_t *m);
void gw_meta_free(gw_meta_t *m);
/* The quoted ETag ("\"<hex>\"" or "\"<hex>-N\"") into out (at least 48 bytes). Returns its length. */
size_t gw_meta_etag(const gw_meta_t *m, char *out);
/* 1 when the object has an expiry (delete_at) at or before now_s (Unix seconds), else 0. */
int gw_meta_expired(const gw_meta_t *m, uint64_t now_s);

/* A list of header pairs as stored in account and container records (and object details):
 *   u16 count, each (u16 len name, u16 len value), big-endian.
 * gw_hdrs_encoded_len: the bytes gw_hdrs_encode writes, or 0 when a field or the count does not
 * fit in 16 bits. gw_hdrs_encode writes into out (at least that many bytes) and returns the end. */
size_t gw_hdrs_encoded_len(const og_header_t *h, size_t n);
unsigned char *gw_hdrs_encode(const og_header_t *h, size_t n, unsigned char *out);
/* Decodes a list at the start of in: 0 with *out (malloc'd array, the caller frees; slices point
 * into in, which must outlive them; NULL when n is 0), *n and *used (bytes consumed), OG_EPROTO
 * or -ENOMEM. */
int gw_hdrs_decode(og_str_t in, og_header_t **out, size_t *n, size_t *used);

#endif
