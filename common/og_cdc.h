/*
 * og_cdc.h: content-defined chunking (FastCDC, Xia et al., USENIX ATC 2016) for dedup.
 *
 * An object body is cut where a gear rolling hash of the last bytes matches a mask, so a
 * cut depends only on the bytes near it: an edit in the middle of a large object changes
 * only the chunk(s) around the edit and every other chunk keeps its SHA-256 id.
 *
 * The chunker is a pure streaming state machine with no heap: feed it the body in pieces of
 * any size, as they come off the socket; the cuts do not depend on how the body was split.
 *
 * ON-DISK CONTRACT: the cut points are part of the dedup format. Changing the gear table,
 * the hash step, the mask layout, the rule for which byte ends a chunk or the default sizes
 * below makes new uploads stop sharing chunks with everything stored before. Do not change
 * any of them; a new chunking scheme needs a new version tag in the object's chunk list.
 *
 * OG_CDC_MIN / _AVG / _MAX below (256 KiB / 1 MiB / 4 MiB, mean chunk about 1.15 MiB on random
 * data) are this module's reference sizes, used by its tests and measurements only. The gateway
 * does NOT use them: it chunks object data with CLUSTER_CDC_MIN / _AVG / _MAX from gateway/cluster/cluster.h,
 * 8 / 32 / 128 KiB (its --chunk-size sets the average), chosen by the dedup benchmark in
 * docs/architecture.md ("Deduplication"); those sizes are the ones the on-disk contract above
 * binds for stored data. Measured on the dev VM (2-core AMD EPYC 2.6 GHz, Debian 12, gcc 12 -O2, one core):
 *
 * Speed of og_cdc_scan(), 256 MiB of random bytes fed in 1 MiB pieces (tests/unit/test_cdc.c,
 * test cdc::throughput_print), min = avg/4, max = 4*avg:
 *   avg 256 KiB: 4.5-5.3 GB/s    avg 1 MiB: 3.7-4.4 GB/s    avg 2 MiB: 4.1-4.3 GB/s
 *
 * Dedup on a backup-like stream: v1 = tar --sort=name of a snapshot of /usr/share/doc
 * (127 MiB, 5988 files); v2 = the same after changing 1 % of the files (59: a line inserted
 * mid-file, 4 KiB rewritten in place, or the whole file replaced by new bytes, in turn);
 * v3 = the same with 0.1 % (5 files). Share of v2/v3 bytes in chunks already stored for v1:
 *
 *   chunking          chunks  1 % changed  0.1 % changed
 *   cdc avg  64 KiB     1733       95.7 %         99.7 %
 *   cdc avg 128 KiB      835       92.0 %         99.3 %
 *   cdc avg 256 KiB      410       84.5 %         98.5 %
 *   cdc avg 512 KiB      197       72.8 %         96.4 %
 *   cdc avg   1 MiB      101       62.0 %         92.9 %
 *   cdc avg   2 MiB       50       40.0 %         86.6 %
 *   cdc avg   4 MiB       24       17.6 %         75.7 %
 *   fixed 1, 2, 4 MiB  128..32      0.0 %          0.0 %   (an early insert shifts all blocks)
 *
 * Why the gateway went below 1 MiB after all: a storage node makes every chunk durable with
 * two syncs (volume fdatasync, then the index), ~0.4 ms fixed here (dd oflag=dsync: 443 MB/s at
 * 256 KiB writes, 902 MB/s at 1 MiB, 1.7 GB/s at 4 MiB), which made small chunks slow while
 * each chunk was its own write. The gateway now sends chunks in batches that a node stores with
 * one volume sync and one index sync (PUT /<dev>/chunks, up to 4 MiB), so that cost is per
 * batch, not per chunk, and the table above favours small chunks (avg 32 KiB met the dedup
 * targets; docs/architecture.md has the numbers). What small chunks still cost: 44 bytes of
 * object record and one node index entry per chunk.
 */
#ifndef OG_CDC_H
#define OG_CDC_H

#include "og.h"

#define OG_CDC_MIN (256u << 10)
#define OG_CDC_AVG (1u << 20)
#define OG_CDC_MAX (4u << 20)

/* Chunker state. Plain data: copy, embed or put it on the stack; fields are private. */
typedef struct {
    uint64_t _hash;   /* gear hash since the chunk's first hashed byte */
    uint64_t _mask_s; /* strict mask, below _avg: fewer early cuts */
    uint64_t _mask_l; /* loose mask, from _avg on: fewer late (max-forced) cuts */
    uint32_t _min, _avg, _max;
    uint32_t _len; /* bytes of the current chunk seen so far */
} og_cdc_t;

/* Prepares *c for a new stream with chunk sizes in [min+1, max] (but the last chunk, which
 * is whatever remains). avg is the normalization point, a power of two in [2^8, 2^30]; on
 * random data the mean chunk is about 1.14 * avg when min = avg / 4. Needs min < avg < max.
 * Returns 0, or OG_EINVAL for sizes outside these rules (then *c is unusable). */
int og_cdc_init(og_cdc_t *c, uint32_t min, uint32_t avg, uint32_t max);

/* Scans data[0..len), the next bytes of the stream. Returns how many bytes it consumed and
 * sets *boundary: 1 when those bytes end the current chunk (the return value may then be
 * anything in [1, len], len included), 0 when all len bytes belong to a chunk that goes on.
 * After a boundary the chunker has already started the next chunk: call again with the
 * rest of the piece. The caller keeps the chunk bytes itself; at end of stream whatever it
 * holds is the last chunk. Cannot fail; len may be 0 (returns 0, no boundary). */
size_t og_cdc_scan(og_cdc_t *c, const void *data, size_t len, int *boundary);

/* Forgets the chunk in progress, keeping the sizes: the next byte starts a new chunk (a new
 * object, or a stream abandoned half-way). Cannot fail. */
void og_cdc_reset(og_cdc_t *c);

#endif
