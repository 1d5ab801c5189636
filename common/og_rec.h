/*
 * og_rec.h: the replicated record, the unit of metadata every storage node keeps.
 *
 * A record lives in a table ("buckets", "users", "o.<bucket>", ...) under a key.
 * Replicas resolve concurrent writes by last-writer-wins on (ts, tiebreak): the
 * greater pair wins on every replica, so all replicas converge to the same answer.
 * A delete is a record with OG_REC_TOMBSTONE set (it must win over older puts).
 * `summary` is what listings return (small: size, etag, mtime ...); `detail`
 * holds the rest (chunk list, user metadata). Nodes never interpret either.
 *
 * Wire and disk encoding, all integers big-endian:
 *   u8 version(=1) | u8 flags | u64 ts | u64 tiebreak | u32 slen | summary | u32 dlen | detail
 */
#ifndef OG_REC_H
#define OG_REC_H

#include "og.h"

#define OG_REC_TOMBSTONE 0x01
#define OG_REC_HDR_LEN 22 /* fixed bytes before the summary, incl. its length */
#define OG_REC_MAX_LEN (16u << 20)

typedef struct {
    uint8_t flags;
    uint64_t ts;       /* nanoseconds since the epoch, from the writing gateway */
    uint64_t tiebreak; /* random per write; orders writes with equal ts */
    og_str_t summary;  /* slices into the decoded buffer, or owned by the caller on encode */
    og_str_t detail;
} og_rec_t;

/* Bytes og_rec_encode() writes for `r`. */
size_t og_rec_encoded_len(const og_rec_t *r);
/* Encodes into out (capacity cap). Returns the length or OG_ETOOBIG. */
long og_rec_encode(const og_rec_t *r, void *out, size_t cap);
/* Decodes buf; the slices in *r point into buf. 0 or OG_EPROTO. */
int og_rec_decode(const void *buf, size_t len, og_rec_t *r);
/* >0 when a is newer than b, <0 when older, 0 when the same write. */
int og_rec_cmp(const og_rec_t *a, const og_rec_t *b);

#endif
