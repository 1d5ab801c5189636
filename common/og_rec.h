/*
 * og_rec.h: the replicated record, the unit of metadata every storage node keeps.
 *
 * A record lives in a table ("buckets", "users", "o.<bucket>", ...) under a key.
 * Replicas resolve concurrent writes by last-writer-wins on (ts, tiebreak): the
 * greater pair wins on every replica, so all replicas converge to the same answer.
 * A delete is a record with OG_REC_TOMBSTONE set (it must win over older puts).
 * `summary` is what listings return (small: size, etag, mtime ...); `detail`
 * holds the rest (chunk list, user metadata). Nodes never interpret either; they only
 * read `size`, the bytes a live record stands for (an object's length), to keep per-table
 * usage counters (docs/node-api.md, GET /<dev>/usage/<table>).
 *
 * Wire and disk encoding, all integers big-endian:
 *   version 2 (written): u8 2 | u8 flags | u64 ts | u64 tiebreak | u64 size | u32 slen | summary |
 *                        u32 dlen | detail
 *   version 1 (still read, size 0): u8 1 | u8 flags | u64 ts | u64 tiebreak | u32 slen | summary |
 *                        u32 dlen | detail
 */
#ifndef OG_REC_H
#define OG_REC_H

#include "og.h"

#define OG_REC_TOMBSTONE 0x01
#define OG_REC_VERSION 2
#define OG_REC_HDR_LEN 30    /* fixed bytes before the summary (version 2), incl. its length */
#define OG_REC_HDR_LEN_V1 22 /* the same for version 1 records */
/* The longest record key (object name) the cluster accepts, in bytes: S3's and Swift's limit. */
#define OG_KEY_MAX 1024
#define OG_REC_MAX_LEN (16u << 20)

typedef struct {
    uint8_t flags;
    uint64_t ts;       /* nanoseconds since the epoch, from the writing gateway */
    uint64_t tiebreak; /* random per write; orders writes with equal ts */
    og_str_t summary;  /* slices into the decoded buffer, or owned by the caller on encode */
    og_str_t detail;
    uint64_t size;     /* bytes the record accounts for (object length); 0 for tombstones and v1 */
} og_rec_t;

/* Bytes og_rec_encode() writes for `r`. */
size_t og_rec_encoded_len(const og_rec_t *r);
/* Encodes into out (capacity cap), always as version 2. Returns the length or OG_ETOOBIG. */
long og_rec_encode(const og_rec_t *r, void *out, size_t cap);
/* Decodes buf (version 1 or 2); the slices in *r point into buf. 0 or OG_EPROTO. */
int og_rec_decode(const void *buf, size_t len, og_rec_t *r);
/* Length of the encoded record that starts buf, read from its header and length fields only
 * (for walking records laid back to back); avail is how many bytes buf holds. The length, or
 * OG_EPROTO when the version is unknown or the record does not fit in avail. */
long og_rec_frame_len(const void *buf, size_t avail);
/* >0 when a is newer than b, <0 when older, 0 when the same write. */
int og_rec_cmp(const og_rec_t *a, const og_rec_t *b);

/* ---- listing groups (S3 delimiters; docs/node-api.md, GET /<dev>/list) ----
 *
 * A listing with prefix P and delimiter D rolls a key up into its common prefix: the key through
 * the first D after P. The gateway's walk and the nodes' grouped scans use this one definition. */

/* Length of the common prefix key rolls up into (through the first delim after prefix, and before
 * the first key_end when key_end is not 0), or 0 when it holds no delim there or delim is empty.
 * The key starts with prefix. */
size_t og_key_group_len(og_str_t key, og_str_t prefix, og_str_t delim, char key_end);

/* In a grouped list answer, set in an entry's key length: the node read no further keys of this
 * key's common prefix (it holds a live record there; the rest of the group was skipped). */
#define OG_LIST_GROUP_CUT 0x80000000u

#endif
