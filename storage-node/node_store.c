/*
 * node_store.c: one device of a storage node: chunk volumes + a RocksDB index and records.
 *
 * On-disk layout of device directory DIR/NAME/
 * ---------------------------------------------
 *   vol/NNNNNNNN.vol  append-only volume files (8 decimal digits, from 00000000). The highest
 *                     number is the one being appended to; a new one is started when the next
 *                     chunk would take the current one past 1 GiB. Each chunk is stored as
 *                       header (48 bytes, big-endian):
 *                         u32 magic "OGCK" | u8[32] id (SHA-256) | u32 len | u64 xxh3-64 of the bytes
 *                       followed by the len chunk bytes,
 *                     so a volume can be scanned front to back to rebuild the index (a zero
 *                     magic is padding up to the next 4 KiB boundary, see "Direct batch writes"
 *                     below). A deleted
 *                     chunk's range (header included) is given back to the file system with
 *                     fallocate(PUNCH_HOLE | KEEP_SIZE): the volume keeps its size and offsets,
 *                     its allocated blocks shrink. Ranges are never reused (appends only), so
 *                     compaction is not needed where punching works. Bytes that cannot be
 *                     punched (EOPNOTSUPP, a crash between the index delete and the punch, a
 *                     crash between data sync and index write) stay as dead space.
 *   db/               RocksDB (synced writes: the WAL is fsync'd before a write returns):
 *                       'c' + id[32]                  -> u32 volume | u64 offset of the header |
 *                                                        u32 len | u64 xxh3 | u64 ref_ns
 *                                                        (32 bytes, big-endian; 24-byte entries from
 *                                                        before ref_ns read as ref_ns = 0)
 *                       'r' + table + '\0' + key      -> record encoded as in common/og_rec.h
 *                       'u' + table                   -> usage of the table: i64 live records |
 *                                                        i64 their sizes (16 bytes, big-endian),
 *                                                        kept with a merge operator (below)
 *                       'P' + u32 part + item         -> u64 item hash: the partition index, item =
 *                                                        'c' + id or 'r' + table + '\0' + key
 *                       'S' + u32 part                -> partition summary: i64 items | u64 sum of
 *                                                        their item hashes (merge operator below)
 *                       'M' + name                    -> the node's own small values
 *                                                        (node_store_meta_put): "partpow" = u32 part
 *                                                        power the two above were built for;
 *                                                        "scrub" = the scrubber's position
 *                                                        (node_scrub.c)
 *                       'g' + id[32]                  -> u64 ns: garbage collection's sweep deleted
 *                                                        the chunk then (a sweep mark, see below)
 *                     Tables never contain NUL, so one table's keys form one contiguous range.
 *
 * Partition summaries (anti-entropy, node_repl.c): every chunk and record belongs to one ring
 * partition (a chunk by its id, a record by its table, as ring_part computes it). Each write or
 * delete of an item changes its 'P' entry and adds (+-1, +-hash) to its partition's 'S' key in the
 * SAME WriteBatch as the item, so the summary always equals the items: two replicas compare a
 * partition in O(1) (equal count and hash sum), and enumerate one partition without a full scan.
 * The item hash covers identity and version (a chunk: its id; a record: its key, ts, tiebreak
 * and flags), so a newer record on one replica shows as a difference. A store opened without
 * them, or with another part power, builds them by one scan (part_rebuild).
 *
 * Sweep marks: a sweep deletes a garbage chunk device by device, and a replicator whose own copy is
 * not swept yet would see the swept device lack it and push it back (with a fresh reference time,
 * for good: the chunk would then come back on every device). So a sweep's delete leaves a mark in
 * the same batch, a replica push (not a client write) of a chunk marked recently is refused, a
 * new write of the chunk clears the mark, and the replicator expires old marks. Marks are rare (a
 * sweep's, for an hour), so the store counts those that may exist and a chunk write deletes the
 * mark only while that count is not 0: otherwise each new chunk added a tombstone, one of its four
 * memtable inserts, for a mark that was almost never there.
 *
 * Table usage: every record write adds (new - old) to 'u' + table in the SAME synced WriteBatch as
 * the record, computed under the record's stripe lock (a live record counts (1, size), a tombstone
 * or an undecodable record (0, 0)), so the aggregate always equals the sum over the stored records.
 * The add is a RocksDB merge operand, not a read-modify-write: concurrent writes of different keys
 * of one table never wait for each other. Tables written before aggregates existed get theirs from
 * one scan at open (usage_rebuild); from then on a table without a 'u' key holds no record.
 *
 * Reclaim vs readers: a chunk read holds its stripe's read guard (a writer-preferring rwlock,
 * separate from the stripe mutex so reads never wait for a write's fdatasync) from the index
 * look-up to the end of its preads; a delete punches only after the synced index delete and under
 * the guard's write side. So a read that found the entry finishes before the bytes go, and one
 * that starts later finds no entry (404): a legitimately deleted chunk never reads as zeros.
 * Reads in runs (a /read of many chunks, node_store_chunk_read_located) read without the guard
 * and check what they read: a chunk that fails its checks is read again under the guard, which
 * tells a chunk deleted meanwhile (404) from a damaged one (quarantined).
 * Blocks a deleted chunk shares with deleted neighbours are freed when they read as all zeros,
 * under the append guard (no reserved range unwritten), see chunk_reclaim.
 *
 * Reference time (ref_ns, this node's clock): when the chunk was written, or last written again
 * ("already present") or touched by a copy. Garbage collection deletes a chunk only when no live
 * record references it AND ref_ns is older than its cutoff (mark start - grace), checked under
 * the chunk's stripe lock, so an upload that re-uses the chunk while a sweep decides about it
 * either refreshes ref_ns first (the delete is refused) or finds it gone and writes it anew.
 * A refresh is a non-synced index write (in the WAL, so it survives a node process crash; a
 * machine crash can lose it, which only matters if a sweep races an upload in that window) and
 * is skipped when ref_ns is less than REF_SLACK_NS old (a grace period is minutes to days).
 *
 * Durability order of a chunk PUT: bytes pwrite'n at a reserved offset -> fdatasync of the
 * volume (group commit, below) -> synced index write -> 201. A crash before the index write
 * leaves only dead bytes; the index never points at bytes that were not synced.
 * A new volume file is made durable (fsync of vol/) before anything is appended to it.
 *
 * Direct batch writes: a batch of new chunks of at least DIRECT_MIN bytes (256 KiB) is laid out (headers
 * and bytes back to back, zero-padded to DIRECT_ALIGN) in an aligned buffer and written with one
 * O_DIRECT pwrite at a DIRECT_ALIGN-aligned offset of the append volume (the gap before it is dead
 * space). Through the page cache, a large write cost each node about 1 CPU-s per GiB more: the
 * kernel's copy into fresh pages (46 % of a node's samples during 256 MiB PUTs), zeroing of
 * partial pages and writeback (docs/benchmarks.md, "Direct batch writes"). Reads stay buffered: a
 * direct write drops any cached page of its range, so they see the new bytes (and a GET right
 * after the PUT reads them from the disk). Small batches (an object under 256 KiB, a slow upload's
 * flush sent alone, a replica push) and file systems that refuse O_DIRECT (tmpfs
 * before Linux 6.6) use the page cache: laid out the same way (without the padding) by one
 * gathered pwritev of every header and body into one reservation, one space check for the batch
 * (until 2026-12-07 a reservation, a space check and a pwritev per chunk: ~64 system calls for a
 * 1 MiB object's ~32 chunks). The sync below is the same for both.
 *
 * Group commit: concurrent writers share one fdatasync. pwrites can finish out of order, so
 * "synced up to offset E" is tracked as sync generations: a writer that finished its pwrite
 * waits for a sync that *started* after that point (generation sync_started + 1 at the time it
 * registers); one writer at a time runs that sync for every volume written since the previous
 * sync started, and everyone registered for it is released together.
 *
 * Failure policy: a failed fdatasync/fsync or RocksDB write poisons the device: every later
 * write fails with NODE_EPOISONED (the page cache may have dropped the dirty pages, so a
 * retried fsync could succeed without the data being on disk). Reads keep working.
 * Running out of space is not a failure of the disk. Chunk and record writes stop short of it
 * (dev_room: DB_RESERVE_* bytes stay free for RocksDB), and ENOSPC, EDQUOT or EFBIG from a pwrite, from
 * creating a volume or from a RocksDB write (no sync involved) marks the device "full" and fails
 * that write with the -errno, but does not poison: the next write tries again, and the first chunk
 * write that succeeds ends the episode (state "ok"). A space error from fsync/fdatasync still
 * poisons. Any other pwrite error (EIO) poisons too: that disk is failing. A reservation whose
 * pwrite failed is given back when it is still the tail of the volume (truncated away), else it
 * counts as dead_bytes, so volume_bytes never grows for bytes that were not stored. (RocksDB
 * itself stops writing after a failed WAL write until the process restarts; the device then
 * stays "full" and answers 507 for records and chunks alike.)
 *
 * Corruption: a read or a scrub that finds a copy whose header or checksum is wrong quarantines it
 * (chunk_quarantine_locked): the index entry goes through the same path as a garbage-collection
 * delete (chunk_unindex) and the range is punched like a deleted chunk's, so the chunk reads as
 * absent (404, and a replica can refill it) instead of corrupt forever. A PUT of a chunk whose
 * index entry exists verifies the stored copy first (chunk_check) and, when it is bad, quarantines
 * it and stores the PUT's bytes: "already present" is only ever said of a good copy.
 */
#include "node_int.h"
#include "og_pool.h"
#include "og_rec.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <limits.h>
#include <pthread.h>
#include <rocksdb/c.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <openssl/evp.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/statvfs.h>
#include <sys/types.h>
#include <sys/uio.h>
#include <unistd.h>
#include <xxhash.h>

#define VOL_MAX_BYTES (1ull << 30)
/* Direct batch writes (see the note at the top): offset, length and buffer alignment, ... */
#define DIRECT_ALIGN 4096u
/* ... the smallest batch written so: the smallest a gateway sends alone (larger batches skip its
 * combining), so a 1 MiB object and a combined request of slow uploads' flushes go direct too:
 * through the page cache they cost the nodes ~25 % more CPU per GiB (1 MiB PUTs at 16
 * connections: +13-41 % MiB/s direct; 2,000 slow uploads: nodes' CPU -20 to -35 %). Below it a
 * batch is mostly one small object, which a later GET finds in the page cache ... */
#define DIRECT_MIN (256u << 10)
/* ... the largest (a bounce buffer's size: a gateway batch is 4 MiB plus headers) ... */
#define BOUNCE_CAP (8u << 20)
/* ... and how many idle bounce buffers a device keeps (each keeps the pages it touched). */
#define BOUNCE_IDLE_MAX 4
#define CHDR_LEN 48
/* Chunks read with one preadv (node_store_chunk_read_located): 3 iovecs each (padding, header,
 * bytes) stay under IOV_MAX (1024); 256 chunks are 8 MiB at the 32 KiB average. */
#define RUN_CHUNKS_MAX 256
#define CHDR_MAGIC 0x4F47434Bu /* "OGCK" */
#define IDX_KEY_LEN (1 + NODE_ID_LEN)
#define IDX_VAL_LEN 32
#define IDX_VAL_LEN_V1 24 /* entries written before ref_ns existed */
#define REF_SLACK_NS 1000000000ull
#define NSTRIPES 1024 /* per-key mutexes: enough that unrelated keys rarely share one */
#define RKEY_STACK 1024
#define UKEY_MAX (1 + 255) /* 'u' + table */
#define USAGE_LEN 16
#define PKEY_HDR 5 /* 'P' + u32 part */
#define PKEY_STACK (PKEY_HDR + RKEY_STACK)
#define SKEY_LEN 5 /* 'S' + u32 part */
#define GKEY_LEN (1 + NODE_ID_LEN) /* 'g' + id: sweep mark */
#define PART_REBUILD_BATCH 4096 /* index entries per write while rebuilding at open */
/* File-system block size assumed when freeing the blocks a deleted chunk shared with deleted
 * neighbours (ext4/xfs default). Another size only frees less; correctness does not depend on it. */
#define RECLAIM_BLOCK 4096
/* RocksDB block cache per device: the index of a few million chunks and records stays in memory
 * without letting a node's RSS grow past what the gateway budget allows. */
#define DB_BLOCK_CACHE_BYTES (32u << 20)
/* Bloom filter bits per key: ~1 % false positives, so a lookup of an absent key (a new chunk's
 * existence check, a new object's record) rarely reads a data block. */
#define DB_BLOOM_BITS 10
/* Read size of chunk_check: a verification streams the copy instead of buffering 16 MiB. */
#define CHECK_PIECE (64u << 10)
/* Free space kept for RocksDB: chunk writes stop (ENOSPC) when the file system would have less
 * than DB_RESERVE_CHUNK left, record writes at DB_RESERVE_REC, so RocksDB never runs out first:
 * a memtable flush (up to 64 MiB) and the next preallocated WAL (~70 MiB) must still fit. A
 * RocksDB that met ENOSPC stops writing, deletes included (so garbage collection could not free
 * anything), until the process restarts; built with assertions it may abort instead. */
#define DB_RESERVE_CHUNK (256ull << 20)
#define DB_RESERVE_REC (160ull << 20)
/* A new full/failed episode is reported (node_store_error_news) at most this often. */
#define NEWS_INTERVAL_NS (60ull * 1000000000ull)

/* Records where corruption was found (SQLite's CORRUPT_BKPT): the store never logs, the
 * server reports the line. */
#define NODE_CORRUPT_BKPT(s) node_corrupt_bkpt((s), __LINE__)

struct st_node_store_t {
    rocksdb_t *db;
    rocksdb_options_t *opts;
    rocksdb_block_based_table_options_t *topts;
    rocksdb_cache_t *cache;
    rocksdb_writeoptions_t *wsync;
    rocksdb_writeoptions_t *wnosync; /* reference-time refreshes (see the note at the top) */
    rocksdb_readoptions_t *ropts;
    int vol_dirfd;

    /* vol_fds[v] is volume v's fd (-1 if the file is missing), vol_dfds[v] the same file opened
     * with O_DIRECT for batch appends (-1 unless it was the append target here, or when the file
     * system refuses O_DIRECT); guarded by vols_lock because rolling to a new volume grows the
     * arrays while readers look fds up. */
    pthread_rwlock_t vols_lock;
    int *vol_fds, *vol_dfds;
    uint32_t nvols, vols_cap;

    /* Whether the append volume has an O_DIRECT descriptor (its file system takes them, and no
     * direct write to it was refused): batches skip the direct path at once when not. */
    atomic_int direct;
    og_pool_t bounce; /* bounce buffers of direct batch writes, BOUNCE_CAP bytes each */

    /* Append position and group-commit state, under append_mu. */
    pthread_mutex_t append_mu;
    pthread_cond_t sync_cv;
    uint32_t cur_vol;
    uint64_t cur_off;
    uint64_t sync_started, sync_done;
    int sync_running;
    uint32_t pend_lo, pend_hi; /* volumes written since the last sync started (lo > hi: none) */

    uint32_t part_power; /* of the ring the partition index is built for */

    atomic_int poisoned;
    atomic_int corrupt_line;
    /* Device state (NODE_DEV_*) and the last write error, see the failure policy at the top.
     * episodes counts entries into full/failed; news_episode/news_ns what was last reported. */
    atomic_int state, last_errno;
    _Atomic uint64_t last_error_ns, episodes, news_episode, news_ns, quarantined;
    _Atomic uint64_t chunks, chunk_bytes, records, volume_bytes;
    _Atomic uint64_t dead_bytes; /* deleted chunk bytes that could not be punched, since open */
    _Atomic uint64_t dedup_hits, dedup_bytes; /* chunk writes found already stored, since open */
    /* Sweep marks that may exist: never fewer than there are (see "Sweep marks" above). A new
     * chunk's write deletes its mark only while this is not 0, so a device that no sweep has
     * touched writes no tombstone per chunk. Counted at open, one more after each mark's synced
     * write, set back to what the expiry pass kept. */
    _Atomic uint64_t sweep_marks;

    pthread_mutex_t stripes[NSTRIPES];
    pthread_rwlock_t rguard[NSTRIPES]; /* chunk read guards (see "Reclaim vs readers" above) */
    pthread_rwlock_t append_guard;     /* read: a reservation not yet written; write: none is */
};

static int node_corrupt_bkpt(node_store_t *s, int line)
{
    atomic_store(&s->corrupt_line, line);
    return OG_ECORRUPT;
}

static size_t stripe_idx(const void *key, size_t len) { return XXH3_64bits(key, len) & (NSTRIPES - 1); }

static pthread_mutex_t *stripe_for(node_store_t *s, const void *key, size_t len)
{
    return &s->stripes[stripe_idx(key, len)];
}

static int is_space_error(int rc) { return rc == -ENOSPC || rc == -EDQUOT || rc == -EFBIG; }

/* Records a failed write (rc = -errno; `synced`: it was an fsync/fdatasync or a synced write that
 * may have half-happened). A space error of an unsynced write marks the device full and is
 * returned as is; a media error (EIO, EROFS) or any failed sync poisons the device and returns
 * NODE_EPOISONED; other errors (EMFILE, ENOMEM ...) say nothing about the disk and are returned. */
static int dev_failed(node_store_t *s, int rc, int synced)
{
    if (rc == NODE_EPOISONED || (!synced && !is_space_error(rc) && rc != -EIO && rc != -EROFS))
        return rc;
    int space = !synced && is_space_error(rc), next = space ? NODE_DEV_FULL : NODE_DEV_FAILED;
    atomic_store(&s->last_errno, -rc);
    atomic_store(&s->last_error_ns, og_time_ns());
    if (!space)
        atomic_store(&s->poisoned, 1);
    int cur = atomic_load(&s->state);
    while (cur < next && !atomic_compare_exchange_weak(&s->state, &cur, next))
        ;
    if (cur < next)
        atomic_fetch_add(&s->episodes, 1);
    return space ? rc : NODE_EPOISONED;
}

/* Refuses a write of len bytes (-ENOSPC, the device marked full) when it would leave the file
 * system with less than `reserve` bytes free. A failed statvfs refuses nothing: the write itself
 * will tell. */
static int dev_room(node_store_t *s, uint64_t len, uint64_t reserve)
{
    struct statvfs vfs;
    if (fstatvfs(s->vol_dirfd, &vfs) != 0 || (uint64_t)vfs.f_bavail * vfs.f_frsize >= len + reserve)
        return 0;
    return dev_failed(s, -ENOSPC, 0);
}

/* A chunk write went through: a full device has room again. */
static void dev_wrote(node_store_t *s)
{
    int full = NODE_DEV_FULL;
    atomic_compare_exchange_strong(&s->state, &full, NODE_DEV_OK);
}

/* ---- volumes ---- */

/* Volume v's descriptor (`direct`: its O_DIRECT one), -1 when there is none. */
static int vol_fd_of(node_store_t *s, uint32_t v, int direct)
{
    int fd = -1;
    pthread_rwlock_rdlock(&s->vols_lock);
    if (v < s->nvols)
        fd = direct ? s->vol_dfds[v] : s->vol_fds[v];
    pthread_rwlock_unlock(&s->vols_lock);
    return fd;
}

static int vol_fd(node_store_t *s, uint32_t v) { return vol_fd_of(s, v, 0); }

/* Volume `name`'s O_DIRECT descriptor for batch appends, or -1 when the file system refuses one. */
static int vol_open_direct(node_store_t *s, const char *name)
{
    return openat(s->vol_dirfd, name, O_WRONLY | O_DIRECT | O_CLOEXEC);
}

/* Registers fd (and dfd, or -1) as volume v (v >= nvols; gaps become -1). 0 or -ENOMEM. */
static int vol_table_add(node_store_t *s, uint32_t v, int fd, int dfd)
{
    int rc = 0;
    pthread_rwlock_wrlock(&s->vols_lock);
    if (v >= s->vols_cap) {
        uint32_t ncap = s->vols_cap ? s->vols_cap : 16;
        while (ncap <= v)
            ncap *= 2;
        int *n = realloc(s->vol_fds, ncap * sizeof(*n));
        if (n)
            s->vol_fds = n;
        int *d = n ? realloc(s->vol_dfds, ncap * sizeof(*d)) : NULL;
        if (!d) {
            rc = -ENOMEM;
            goto out_unlock;
        }
        s->vol_dfds = d;
        s->vols_cap = ncap;
    }
    while (s->nvols < v) {
        s->vol_dfds[s->nvols] = -1;
        s->vol_fds[s->nvols++] = -1;
    }
    s->vol_dfds[s->nvols] = dfd;
    s->vol_fds[s->nvols++] = fd;
out_unlock:
    pthread_rwlock_unlock(&s->vols_lock);
    return rc;
}

/* Creates volume v durably (file + directory entry synced) and registers it. 0 or -errno. */
static int vol_create(node_store_t *s, uint32_t v)
{
    char name[32];
    snprintf(name, sizeof(name), "%08" PRIu32 ".vol", v);
    int fd = openat(s->vol_dirfd, name, O_RDWR | O_CREAT | O_CLOEXEC, 0644);
    if (fd < 0)
        return -errno;
    int rc = 0, dfd = -1;
    if (fsync(fd) != 0 || fsync(s->vol_dirfd) != 0) {
        /* A new volume whose directory entry may not be durable cannot be used. */
        rc = dev_failed(s, -errno, 1);
        goto out_close;
    }
    dfd = vol_open_direct(s, name);
    atomic_store(&s->direct, dfd >= 0);
    rc = vol_table_add(s, v, fd, dfd);
    if (rc == 0)
        return 0;
out_close:
    if (dfd >= 0)
        close(dfd);
    close(fd);
    return rc;
}

/* Opens every existing volume; the highest becomes the append target (created when none). */
static int vols_open(node_store_t *s)
{
    int rc = 0;
    int dfd = dup(s->vol_dirfd);
    if (dfd < 0)
        return -errno;
    DIR *d = fdopendir(dfd);
    if (!d) {
        close(dfd);
        return -errno;
    }
    /* Volumes are numbered densely from 0; find the highest, then open 0..max in order. */
    long max = -1;
    struct dirent *e;
    while ((e = readdir(d)) != NULL) {
        unsigned v;
        char tail[8];
        if (strlen(e->d_name) == 12 && sscanf(e->d_name, "%8u%5s", &v, tail) == 2 && strcmp(tail, ".vol") == 0 &&
            (long)v > max)
            max = (long)v;
    }
    closedir(d);
    if (max < 0) {
        rc = vol_create(s, 0);
        s->cur_vol = 0;
        s->cur_off = 0;
        return rc;
    }
    for (long v = 0; v <= max; v++) {
        char name[32];
        snprintf(name, sizeof(name), "%08ld.vol", v);
        int fd = openat(s->vol_dirfd, name, O_RDWR | O_CLOEXEC);
        if (fd < 0 && errno != ENOENT)
            return -errno;
        struct stat st;
        if (fd >= 0) {
            if (fstat(fd, &st) != 0) {
                rc = -errno;
                close(fd);
                return rc;
            }
            atomic_fetch_add(&s->volume_bytes, (uint64_t)st.st_size);
            /* A torn tail from a crash is dead space: appending after it is safe. */
            if (v == max)
                s->cur_off = (uint64_t)st.st_size;
        }
        int direct = fd >= 0 && v == max ? vol_open_direct(s, name) : -1;
        if (v == max)
            atomic_store(&s->direct, direct >= 0);
        if ((rc = vol_table_add(s, (uint32_t)v, fd, direct)) != 0) {
            if (direct >= 0)
                close(direct);
            if (fd >= 0)
                close(fd);
            return rc;
        }
    }
    s->cur_vol = (uint32_t)max;
    if (vol_fd(s, s->cur_vol) < 0)
        return -ENOENT;
    return 0;
}

/* Moves iov[0..*n) past `done` bytes, dropping the iovecs fully done. */
static struct iovec *iov_advance(struct iovec *iov, int *n, size_t done)
{
    while (*n > 0 && done >= iov->iov_len) {
        done -= iov->iov_len;
        iov++, (*n)--;
    }
    if (*n > 0) {
        iov->iov_base = (char *)iov->iov_base + done;
        iov->iov_len -= done;
    }
    return iov;
}

/* Writes iov[0..n) (changed on a short write) at off in one pwritev when it can (IOV_MAX pieces a
 * call): a chunk's header and bytes go in one system call, one page-cache walk. 0 or -errno. */
static int pwritev_all(int fd, struct iovec *iov, int n, uint64_t off)
{
    while (n > 0) {
        ssize_t w = pwritev(fd, iov, n < IOV_MAX ? n : IOV_MAX, (off_t)off);
        if (w < 0) {
            if (errno == EINTR)
                continue;
            return -errno;
        }
        off += (uint64_t)w;
        iov = iov_advance(iov, &n, (size_t)w);
    }
    return 0;
}

/* Reads iov[0..n) (changed on a short read) from off, like pwritev_all. 0, -errno, or 1 when the
 * file ends first (the caller decides what that means). */
static int preadv_all(int fd, struct iovec *iov, int n, uint64_t off)
{
    while (n > 0) {
        ssize_t r = preadv(fd, iov, n, (off_t)off);
        if (r < 0) {
            if (errno == EINTR)
                continue;
            return -errno;
        }
        if (r == 0)
            return 1;
        off += (uint64_t)r;
        iov = iov_advance(iov, &n, (size_t)r);
    }
    return 0;
}

/* preadv_all of one buffer. */
static int pread_all(int fd, void *buf, size_t len, uint64_t off)
{
    struct iovec iov = {buf, len};
    return preadv_all(fd, &iov, 1, off);
}

/* Reserves need bytes at a multiple of align (1: anywhere) of the append volume, rolling to a new
 * volume when they would not fit. 0 with *vol, *off and *pad (bytes skipped to reach the
 * alignment, dead space), or -errno / NODE_EPOISONED. */
static int vol_reserve_at(node_store_t *s, uint64_t need, uint64_t align, uint32_t *vol, uint64_t *off,
                          uint64_t *pad)
{
    int rc = 0;
    pthread_mutex_lock(&s->append_mu);
    uint64_t start = (s->cur_off + align - 1) / align * align;
    if (s->cur_off > 0 && start + need > VOL_MAX_BYTES) {
        if ((rc = vol_create(s, s->cur_vol + 1)) != 0) {
            rc = dev_failed(s, rc, 0);
            goto out_unlock;
        }
        s->cur_vol++;
        s->cur_off = start = 0;
    }
    *vol = s->cur_vol;
    *off = start;
    *pad = start - s->cur_off;
    s->cur_off = start + need;
    atomic_fetch_add(&s->volume_bytes, need + *pad);
out_unlock:
    pthread_mutex_unlock(&s->append_mu);
    return rc;
}

/* Returns once everything this thread wrote to volume `vol` is fdatasync'd (see the group
 * commit note at the top). 0 or NODE_EPOISONED. */
static int vol_sync_wait(node_store_t *s, uint32_t vol)
{
    pthread_mutex_lock(&s->append_mu);
    uint64_t target = s->sync_started + 1;
    if (vol < s->pend_lo)
        s->pend_lo = vol;
    if (vol > s->pend_hi)
        s->pend_hi = vol;
    while (s->sync_done < target && !atomic_load(&s->poisoned)) {
        if (s->sync_running) {
            pthread_cond_wait(&s->sync_cv, &s->append_mu);
            continue;
        }
        s->sync_running = 1;
        uint64_t gen = ++s->sync_started;
        uint32_t lo = s->pend_lo, hi = s->pend_hi;
        s->pend_lo = UINT32_MAX;
        s->pend_hi = 0;
        pthread_mutex_unlock(&s->append_mu);

        int failed = 0;
        for (uint32_t v = lo; v <= hi && !failed; v++) {
            int fd = vol_fd(s, v);
            if (fd >= 0 && fdatasync(fd) != 0)
                failed = -errno;
        }
        if (failed)
            dev_failed(s, failed, 1); /* never retried: see the failure policy at the top */

        pthread_mutex_lock(&s->append_mu);
        s->sync_running = 0;
        if (!failed)
            s->sync_done = gen;
        pthread_cond_broadcast(&s->sync_cv);
    }
    int rc = s->sync_done >= target ? 0 : NODE_EPOISONED;
    pthread_mutex_unlock(&s->append_mu);
    return rc;
}

/* ---- RocksDB helpers ---- */

/* Turns a RocksDB write error (err, freed here) into the device's state: out of space (RocksDB says
 * so with strerror's text) marks it full and gives -errno, anything else poisons it. */
static int db_failed(node_store_t *s, char *err)
{
    static const int space[] = {ENOSPC, EDQUOT, EFBIG};
    int rc = -EIO;
    for (size_t i = 0; i < sizeof(space) / sizeof(space[0]); i++)
        if (strstr(err, strerror(space[i])))
            rc = -space[i];
    rocksdb_free(err);
    return dev_failed(s, rc, rc == -EIO);
}

/* Synced put (value != NULL) or delete. 0, -ENOSPC (-EDQUOT, -EFBIG) when the disk is full, or
 * NODE_EPOISONED after poisoning the device. */
static int db_write(node_store_t *s, const char *key, size_t klen, const void *val, size_t vlen)
{
    char *err = NULL;
    if (val)
        rocksdb_put(s->db, s->wsync, key, klen, val, vlen, &err);
    else
        rocksdb_delete(s->db, s->wsync, key, klen, &err);
    return err ? db_failed(s, err) : 0;
}

/* 0 with *val (malloc'd, free()) / *vlen, OG_ENOTFOUND, or -EIO. */
static int db_get(node_store_t *s, const char *key, size_t klen, char **val, size_t *vlen)
{
    char *err = NULL;
    *val = rocksdb_get(s->db, s->ropts, key, klen, vlen, &err);
    if (err) {
        rocksdb_free(err);
        return -EIO;
    }
    return *val ? 0 : OG_ENOTFOUND;
}

/* Writes a whole batch with wopts. 0, a space error or NODE_EPOISONED as db_write. */
static int db_write_batch(node_store_t *s, rocksdb_writebatch_t *wb, rocksdb_writeoptions_t *wopts)
{
    char *err = NULL;
    rocksdb_write(s->db, wopts, wb, &err);
    return err ? db_failed(s, err) : 0;
}

typedef struct {
    uint32_t vol;
    uint64_t off;
    uint32_t len;
    uint64_t xxh3;
    uint64_t ref_ns;
} idx_ent_t;

static void idx_key(char key[IDX_KEY_LEN], const uint8_t id[NODE_ID_LEN])
{
    key[0] = 'c';
    memcpy(key + 1, id, NODE_ID_LEN);
}

static int idx_decode(node_store_t *s, const char *v, size_t vlen, idx_ent_t *e)
{
    const unsigned char *p = (const unsigned char *)v;
    if (vlen != IDX_VAL_LEN && vlen != IDX_VAL_LEN_V1)
        return NODE_CORRUPT_BKPT(s);
    e->vol = og_be32_get(p);
    e->off = og_be64_get(p + 4);
    e->len = og_be32_get(p + 12);
    e->xxh3 = og_be64_get(p + 16);
    e->ref_ns = vlen == IDX_VAL_LEN ? og_be64_get(p + 24) : 0;
    return 0;
}

static void idx_encode(const idx_ent_t *e, unsigned char val[IDX_VAL_LEN])
{
    og_be32_put(val, e->vol);
    og_be64_put(val + 4, e->off);
    og_be32_put(val + 12, e->len);
    og_be64_put(val + 16, e->xxh3);
    og_be64_put(val + 24, e->ref_ns);
}

static int idx_get(node_store_t *s, const uint8_t id[NODE_ID_LEN], idx_ent_t *e)
{
    char key[IDX_KEY_LEN], *val;
    size_t vlen;
    idx_key(key, id);
    int rc = db_get(s, key, sizeof(key), &val, &vlen);
    if (rc != 0)
        return rc;
    rc = idx_decode(s, val, vlen, e);
    rocksdb_free(val);
    return rc;
}

/* ---- table usage ---- */

static int iter_status(rocksdb_iterator_t *it);
static void iter_seek(rocksdb_iterator_t *it, const char *from, size_t flen, int exclusive);
static char *rkey_build(char *stack, char **heap, og_str_t table, og_str_t key, size_t *klen);

/* 'u' + table into key (UKEY_MAX bytes). Returns the key length, 0 when the table is too long. */
static size_t ukey_build(char key[UKEY_MAX], og_str_t table)
{
    if (table.len == 0 || table.len > UKEY_MAX - 1)
        return 0;
    key[0] = 'u';
    memcpy(key + 1, table.base, table.len);
    return 1 + table.len;
}

/* What a stored record adds to its table's usage: a live one (1, size), a tombstone nothing. */
static void usage_add(const og_rec_t *r, int sign, uint64_t *n, uint64_t *bytes)
{
    if (r->flags & OG_REC_TOMBSTONE)
        return;
    *n += sign > 0 ? 1 : (uint64_t)-1;
    *bytes += sign > 0 ? r->size : (uint64_t)0 - r->size;
}

/* Sums usage operands (two's complement in uint64_t, so a negative delta is just an add).
 * 0, or -1 when one has the wrong length. */
static int usage_sum(const char *const *ops, const size_t *lens, int nops, uint64_t *n, uint64_t *bytes)
{
    for (int i = 0; i < nops; i++) {
        if (lens[i] != USAGE_LEN)
            return -1;
        *n += og_be64_get((const unsigned char *)ops[i]);
        *bytes += og_be64_get((const unsigned char *)ops[i] + 8);
    }
    return 0;
}

/* A malloc'd 16-byte value (RocksDB hands it back to usage_free); *success says whether it is
 * the merge's result. */
static char *usage_value(uint64_t n, uint64_t bytes, int ok, unsigned char *success, size_t *len)
{
    unsigned char *v = malloc(USAGE_LEN);
    *success = (unsigned char)(ok && v);
    *len = v ? USAGE_LEN : 0;
    if (v) {
        og_be64_put(v, n);
        og_be64_put(v + 8, bytes);
    }
    return (char *)v;
}

static char *usage_full_merge(void *state, const char *key, size_t klen, const char *old, size_t olen,
                              const char *const *ops, const size_t *lens, int nops, unsigned char *success,
                              size_t *len)
{
    uint64_t n = 0, bytes = 0;
    int ok = !old || olen == USAGE_LEN;
    if (ok && old) {
        n = og_be64_get((const unsigned char *)old);
        bytes = og_be64_get((const unsigned char *)old + 8);
    }
    ok = ok && usage_sum(ops, lens, nops, &n, &bytes) == 0;
    return usage_value(n, bytes, ok, success, len);
}

static char *usage_partial_merge(void *state, const char *key, size_t klen, const char *const *ops,
                                 const size_t *lens, int nops, unsigned char *success, size_t *len)
{
    uint64_t n = 0, bytes = 0;
    int ok = usage_sum(ops, lens, nops, &n, &bytes) == 0;
    return usage_value(n, bytes, ok, success, len);
}

static void usage_free(void *state, const char *v, size_t len) { free((void *)v); }

/* The wrapper calls a destructor unconditionally; the operator has no state. */
static void usage_state_free(void *state) {}

static const char *usage_merge_name(void *state) { return "onggi.usage.v1"; }

/* Live records and their sizes in table, by a scan of its records. 0 or -EIO. */
static int usage_scan(node_store_t *s, og_str_t table, uint64_t *n, uint64_t *bytes)
{
    char stack[RKEY_STACK], *heap;
    size_t plen;
    int rc;
    char *pk = rkey_build(stack, &heap, table, (og_str_t){NULL, 0}, &plen);
    if (!pk)
        return -ENOMEM;
    *n = *bytes = 0;
    rocksdb_iterator_t *it = rocksdb_create_iterator(s->db, s->ropts);
    for (rocksdb_iter_seek(it, pk, plen); rocksdb_iter_valid(it); rocksdb_iter_next(it)) {
        size_t klen, vlen;
        const char *k = rocksdb_iter_key(it, &klen);
        if (klen < plen || memcmp(k, pk, plen) != 0)
            break;
        og_rec_t r;
        const char *v = rocksdb_iter_value(it, &vlen);
        if (og_rec_decode(v, vlen, &r) == 0)
            usage_add(&r, 1, n, bytes);
    }
    rc = iter_status(it);
    rocksdb_iter_destroy(it);
    free(heap);
    return rc;
}

/* node_store_table_list callback: writes the usage of a table that has none yet (records from
 * before usage existed). */
static int usage_rebuild_one(void *arg, og_str_t table)
{
    node_store_t *s = arg;
    char ukey[UKEY_MAX], *val;
    unsigned char u[USAGE_LEN];
    size_t ulen = ukey_build(ukey, table), vlen;
    uint64_t n, bytes;
    int rc = db_get(s, ukey, ulen, &val, &vlen);
    if (rc == 0)
        rocksdb_free(val);
    if (rc != OG_ENOTFOUND)
        return rc;
    if ((rc = usage_scan(s, table, &n, &bytes)) != 0)
        return rc;
    og_be64_put(u, n);
    og_be64_put(u + 8, bytes);
    return db_write(s, ukey, ulen, u, sizeof(u));
}

/* Counts chunks, their bytes and records so /stat costs nothing per request. */
static int counters_load(node_store_t *s)
{
    int rc = 0;
    rocksdb_iterator_t *it = rocksdb_create_iterator(s->db, s->ropts);
    for (rocksdb_iter_seek_to_first(it); rocksdb_iter_valid(it); rocksdb_iter_next(it)) {
        size_t klen, vlen;
        const char *k = rocksdb_iter_key(it, &klen);
        if (klen == IDX_KEY_LEN && k[0] == 'c') {
            const char *v = rocksdb_iter_value(it, &vlen);
            idx_ent_t e;
            if (idx_decode(s, v, vlen, &e) == 0) {
                s->chunks++;
                s->chunk_bytes += e.len;
            }
        } else if (klen > 0 && k[0] == 'r') {
            s->records++;
        }
    }
    char *err = NULL;
    rocksdb_iter_get_error(it, &err);
    if (err) {
        rocksdb_free(err);
        rc = -EIO;
    }
    rocksdb_iter_destroy(it);
    return rc;
}

/* ---- partition index and summaries (see the note at the top) ---- */

/* Partition of a key, as ring_part computes it for this store's part power. */
static uint32_t part_of(const node_store_t *s, const void *key, size_t len)
{
    return s->part_power ? (uint32_t)(XXH3_64bits(key, len) >> (64 - s->part_power)) : 0;
}

/* Partition of an item ('c' + id, or 'r' + table + '\0' + key): a chunk's id, a record's table. */
static uint32_t item_part(const node_store_t *s, const char *item, size_t len)
{
    if (item[0] == 'c')
        return part_of(s, item + 1, len - 1);
    const char *nul = memchr(item + 1, '\0', len - 1);
    return part_of(s, item + 1, nul ? (size_t)(nul - item - 1) : len - 1);
}

/* Item hash of the record rec stored under rkey: its key and version (ts, tiebreak, flags), so
 * replicas holding different versions differ. An undecodable record hashes its bytes. */
static uint64_t rec_item_hash(const char *rkey, size_t klen, const void *rec, size_t len)
{
    og_rec_t r;
    unsigned char ver[17];
    uint64_t seed = XXH3_64bits(rkey, klen);
    if (og_rec_decode(rec, len, &r) != 0)
        return XXH3_64bits_withSeed(rec, len, seed);
    og_be64_put(ver, r.ts);
    og_be64_put(ver + 8, r.tiebreak);
    ver[16] = r.flags;
    return XXH3_64bits_withSeed(ver, sizeof(ver), seed);
}

/* Is table a lease table ("l.<bucket>": the conditional-write leases, docs/architecture.md
 * "Conditional writes")? Its records change only by conditional puts and are never replicated. */
static int lease_table(const char *table, size_t len) { return len > 2 && table[0] == 'l' && table[1] == '.'; }

/* Adds to wb the index entry and summary change of item (hash h) entering (sign > 0) or leaving
 * (sign < 0) its partition. 0 or -ENOMEM. A lease record has neither: anti-entropy must never
 * copy one (a copy is an unconditional last-writer-wins put, which could replace a lease another
 * gateway holds). */
static int part_add(node_store_t *s, rocksdb_writebatch_t *wb, const char *item, size_t len, uint64_t h, int sign)
{
    if (item[0] == 'r' && lease_table(item + 1, len - 1))
        return 0;
    char stack[PKEY_STACK], *k = stack, skey[SKEY_LEN];
    unsigned char delta[USAGE_LEN], hv[8];
    uint32_t part = item_part(s, item, len);
    if (PKEY_HDR + len > sizeof(stack) && !(k = malloc(PKEY_HDR + len)))
        return -ENOMEM;
    k[0] = 'P';
    og_be32_put((unsigned char *)k + 1, part);
    memcpy(k + PKEY_HDR, item, len);
    skey[0] = 'S';
    og_be32_put((unsigned char *)skey + 1, part);
    /* The summary is (items, sum of hashes) mod 2^64: the usage merge operator's arithmetic. */
    og_be64_put(delta, sign > 0 ? 1 : (uint64_t)-1);
    og_be64_put(delta + 8, sign > 0 ? h : (uint64_t)0 - h);
    og_be64_put(hv, h);
    if (sign > 0)
        rocksdb_writebatch_put(wb, k, PKEY_HDR + len, (const char *)hv, sizeof(hv));
    else
        rocksdb_writebatch_delete(wb, k, PKEY_HDR + len);
    rocksdb_writebatch_merge(wb, skey, SKEY_LEN, (const char *)delta, sizeof(delta));
    if (k != stack)
        free(k);
    return 0;
}

/* The sweep-mark key of chunk id: 'g' + id. */
static void gkey_of(char gkey[GKEY_LEN], const uint8_t id[NODE_ID_LEN])
{
    gkey[0] = 'g';
    memcpy(gkey + 1, id, NODE_ID_LEN);
}

/* Adds to wb the delete of the sweep mark of the chunk whose index key is key, while the store
 * counts a mark that may exist (s->sweep_marks): a new write of a swept chunk clears its mark. */
static void mark_clear(node_store_t *s, rocksdb_writebatch_t *wb, const char key[IDX_KEY_LEN])
{
    char gkey[GKEY_LEN];
    if (atomic_load(&s->sweep_marks) == 0)
        return;
    gkey_of(gkey, (const uint8_t *)key + 1);
    rocksdb_writebatch_delete(wb, gkey, sizeof(gkey));
}

/* Synced write of chunk index entry key = val (a new chunk, clearing any sweep mark), or its
 * delete (val NULL; swept_ns != 0 leaves a sweep mark of that time), with its partition index and
 * summary. The caller holds the chunk's stripe lock. 0, -ENOMEM or NODE_EPOISONED. */
static int idx_write(node_store_t *s, const char key[IDX_KEY_LEN], const unsigned char *val, uint64_t swept_ns)
{
    rocksdb_writebatch_t *wb = rocksdb_writebatch_create();
    if (val) {
        rocksdb_writebatch_put(wb, key, IDX_KEY_LEN, (const char *)val, IDX_VAL_LEN);
        mark_clear(s, wb, key);
    } else {
        rocksdb_writebatch_delete(wb, key, IDX_KEY_LEN);
    }
    if (swept_ns) {
        char gkey[GKEY_LEN];
        unsigned char at[8];
        gkey_of(gkey, (const uint8_t *)key + 1);
        og_be64_put(at, swept_ns);
        rocksdb_writebatch_put(wb, gkey, sizeof(gkey), (const char *)at, sizeof(at));
    }
    int rc = part_add(s, wb, key, IDX_KEY_LEN, XXH3_64bits(key, IDX_KEY_LEN), val ? 1 : -1);
    if (rc == 0)
        rc = db_write_batch(s, wb, s->wsync);
    /* After the write, under the stripe lock: a later write of this chunk sees the count, and an
     * expiry pass that read the count before it began sees the mark (node_store_sweep_marks_expire). */
    if (rc == 0 && swept_ns)
        atomic_fetch_add(&s->sweep_marks, 1);
    rocksdb_writebatch_destroy(wb);
    return rc;
}

int node_store_chunk_swept(node_store_t *s, const uint8_t id[NODE_ID_LEN], uint64_t since_ns, int *swept)
{
    char gkey[GKEY_LEN], *val;
    size_t vlen;
    gkey_of(gkey, id);
    *swept = 0;
    int rc = db_get(s, gkey, sizeof(gkey), &val, &vlen);
    if (rc == OG_ENOTFOUND)
        return 0;
    if (rc != 0)
        return rc;
    *swept = vlen == 8 && og_be64_get((const unsigned char *)val) >= since_ns;
    rocksdb_free(val);
    return 0;
}

int node_store_sweep_marks_expire(node_store_t *s, uint64_t before_ns)
{
    /* Read before the iterator exists: every mark counted here was written before it, so the pass
     * sees it or a new write deleted it, and those the pass keeps are all that remain of them. */
    uint64_t counted = atomic_load(&s->sweep_marks), kept = 0;
    rocksdb_writebatch_t *wb = rocksdb_writebatch_create();
    rocksdb_iterator_t *it = rocksdb_create_iterator(s->db, s->ropts);
    for (rocksdb_iter_seek(it, "g", 1); rocksdb_iter_valid(it); rocksdb_iter_next(it)) {
        size_t klen, vlen;
        const char *k = rocksdb_iter_key(it, &klen);
        const char *v = rocksdb_iter_value(it, &vlen);
        if (klen == 0 || k[0] != 'g')
            break;
        if (vlen != 8 || og_be64_get((const unsigned char *)v) < before_ns)
            rocksdb_writebatch_delete(wb, k, klen);
        else
            kept++;
    }
    int rc = iter_status(it);
    rocksdb_iter_destroy(it);
    /* A mark is a hint: losing the delete in a crash only keeps it until the next pass. */
    if (rc == 0 && rocksdb_writebatch_count(wb) > 0)
        rc = db_write_batch(s, wb, s->wnosync);
    /* Marks counted since the pass began stay counted (kept - counted, modulo 2^64). */
    if (rc == 0)
        atomic_fetch_add(&s->sweep_marks, kept - counted);
    rocksdb_writebatch_destroy(wb);
    return rc;
}

/* Adds the index entry and summary share of the item the iterator is on (a chunk or a record;
 * other keys are skipped) to wb. 0 or -ENOMEM. */
static int part_rebuild_one(node_store_t *s, rocksdb_writebatch_t *wb, rocksdb_iterator_t *it)
{
    size_t klen, vlen;
    const char *k = rocksdb_iter_key(it, &klen);
    if (klen == IDX_KEY_LEN && k[0] == 'c')
        return part_add(s, wb, k, klen, XXH3_64bits(k, klen), 1);
    if (klen < 3 || k[0] != 'r')
        return 0;
    const char *v = rocksdb_iter_value(it, &vlen);
    return part_add(s, wb, k, klen, rec_item_hash(k, klen, v, vlen), 1);
}

/* Builds the partition index and summaries from the chunks and records when they were not built
 * for this part power (a device from before they existed, or a new ring). The meta key is written
 * last, synced: a crash in between only makes the next open start over. 0, -ENOMEM or
 * NODE_EPOISONED / -EIO. */
static int part_rebuild(node_store_t *s)
{
    static const char meta[] = "Mpartpow";
    unsigned char pp[4];
    char *val;
    size_t vlen;
    int rc = db_get(s, meta, sizeof(meta) - 1, &val, &vlen);
    if (rc == 0) {
        int same = vlen == sizeof(pp) && og_be32_get((const unsigned char *)val) == s->part_power;
        rocksdb_free(val);
        if (same)
            return 0;
    } else if (rc != OG_ENOTFOUND) {
        return rc;
    }
    rocksdb_writebatch_t *wb = rocksdb_writebatch_create();
    rocksdb_writebatch_delete_range(wb, "P", 1, "Q", 1);
    rocksdb_writebatch_delete_range(wb, "S", 1, "T", 1);
    if ((rc = db_write_batch(s, wb, s->wnosync)) != 0)
        goto out_batch;
    rocksdb_writebatch_clear(wb);
    rocksdb_iterator_t *it = rocksdb_create_iterator(s->db, s->ropts);
    for (rocksdb_iter_seek_to_first(it); rc == 0 && rocksdb_iter_valid(it); rocksdb_iter_next(it)) {
        if ((rc = part_rebuild_one(s, wb, it)) != 0 || rocksdb_writebatch_count(wb) < PART_REBUILD_BATCH)
            continue;
        rc = db_write_batch(s, wb, s->wnosync);
        rocksdb_writebatch_clear(wb);
    }
    if (rc == 0)
        rc = iter_status(it);
    rocksdb_iter_destroy(it);
    og_be32_put(pp, s->part_power);
    rocksdb_writebatch_put(wb, meta, sizeof(meta) - 1, (const char *)pp, sizeof(pp));
    if (rc == 0)
        rc = db_write_batch(s, wb, s->wsync);
out_batch:
    rocksdb_writebatch_destroy(wb);
    return rc;
}

/* The (u64, u64) counter pair stored under key (a partition summary, a table's usage) into *a, *b;
 * (0, 0) when the key was never written. 0, OG_ECORRUPT for a value of another length, or the
 * read's error. */
static int db_get_pair(node_store_t *s, const char *key, size_t klen, uint64_t *a, uint64_t *b)
{
    char *val;
    size_t vlen;
    *a = *b = 0;
    int rc = db_get(s, key, klen, &val, &vlen);
    if (rc == OG_ENOTFOUND)
        return 0;
    if (rc != 0)
        return rc;
    if (vlen == USAGE_LEN) {
        *a = og_be64_get((const unsigned char *)val);
        *b = og_be64_get((const unsigned char *)val + 8);
    } else {
        rc = NODE_CORRUPT_BKPT(s);
    }
    rocksdb_free(val);
    return rc;
}

int node_store_part_summary(node_store_t *s, uint32_t part, uint64_t *count, uint64_t *digest)
{
    char skey[SKEY_LEN] = {'S'};
    og_be32_put((unsigned char *)skey + 1, part);
    return db_get_pair(s, skey, sizeof(skey), count, digest);
}

int node_store_part_summaries(node_store_t *s, int (*fn)(void *arg, uint32_t part, uint64_t count, uint64_t digest),
                              void *arg)
{
    int rc = 0;
    rocksdb_iterator_t *it = rocksdb_create_iterator(s->db, s->ropts);
    for (rocksdb_iter_seek(it, "S", 1); rocksdb_iter_valid(it); rocksdb_iter_next(it)) {
        size_t klen, vlen;
        const unsigned char *k = (const unsigned char *)rocksdb_iter_key(it, &klen);
        const unsigned char *v = (const unsigned char *)rocksdb_iter_value(it, &vlen);
        if (klen == 0 || k[0] != 'S')
            break;
        if (klen != SKEY_LEN || vlen != USAGE_LEN) {
            rc = NODE_CORRUPT_BKPT(s);
            goto out_iter;
        }
        /* A partition whose items all left keeps a (0, 0) key: nothing to report. */
        if (og_be64_get(v) != 0 && (rc = fn(arg, og_be32_get(k + 1), og_be64_get(v), og_be64_get(v + 8))) != 0)
            goto out_iter;
    }
    rc = iter_status(it);
out_iter:
    rocksdb_iter_destroy(it);
    return rc;
}

int node_store_part_list(node_store_t *s, uint32_t part, const char *after, size_t alen, size_t limit,
                         int (*fn)(void *arg, const char *item, size_t len, uint64_t hash), void *arg,
                         int *truncated)
{
    int rc = 0;
    size_t n = 0;
    char *from = malloc(PKEY_HDR + alen);
    if (!from)
        return -ENOMEM;
    from[0] = 'P';
    og_be32_put((unsigned char *)from + 1, part);
    if (after)
        memcpy(from + PKEY_HDR, after, alen);
    *truncated = 0;
    rocksdb_iterator_t *it = rocksdb_create_iterator(s->db, s->ropts);
    for (iter_seek(it, from, PKEY_HDR + (after ? alen : 0), after != NULL); rocksdb_iter_valid(it);
         rocksdb_iter_next(it)) {
        size_t klen, vlen;
        const char *k = rocksdb_iter_key(it, &klen);
        const char *v = rocksdb_iter_value(it, &vlen);
        if (klen <= PKEY_HDR || memcmp(k, from, PKEY_HDR) != 0)
            break;
        if (n == limit) {
            *truncated = 1;
            break;
        }
        if (vlen != 8) {
            rc = NODE_CORRUPT_BKPT(s);
            goto out_iter;
        }
        if ((rc = fn(arg, k + PKEY_HDR, klen - PKEY_HDR, og_be64_get((const unsigned char *)v))) != 0)
            goto out_iter;
        n++;
    }
    rc = iter_status(it);
out_iter:
    rocksdb_iter_destroy(it);
    free(from);
    return rc;
}

/* ---- open / close ---- */

static int mkdir_if_missing(const char *path)
{
    if (mkdir(path, 0755) != 0 && errno != EEXIST)
        return -errno;
    return 0;
}

/* The store's locks (s zeroed before). Cannot fail: default-attribute pthread inits do not. */
static void store_locks_init(node_store_t *s)
{
    pthread_rwlock_init(&s->vols_lock, NULL);
    pthread_mutex_init(&s->append_mu, NULL);
    pthread_cond_init(&s->sync_cv, NULL);
    og_pool_init(&s->bounce, BOUNCE_CAP, BOUNCE_IDLE_MAX);
    pthread_rwlockattr_t ga;
    pthread_rwlockattr_init(&ga);
    /* A delete waiting for the readers of its stripe must not starve behind a stream of new ones. */
    pthread_rwlockattr_setkind_np(&ga, PTHREAD_RWLOCK_PREFER_WRITER_NONRECURSIVE_NP);
    for (size_t i = 0; i < NSTRIPES; i++) {
        pthread_mutex_init(&s->stripes[i], NULL);
        pthread_rwlock_init(&s->rguard[i], &ga);
    }
    pthread_rwlock_init(&s->append_guard, &ga);
    pthread_rwlockattr_destroy(&ga);
}

/* Creates dir and dir/vol where missing and opens the volume files. 0 or an error; what was
 * opened is released by node_store_close. */
static int store_vols_open(node_store_t *s, const char *dir)
{
    char path[4096];
    int rc;
    if ((rc = mkdir_if_missing(dir)) != 0)
        return rc;
    if ((size_t)snprintf(path, sizeof(path), "%s/vol", dir) >= sizeof(path))
        return -ENAMETOOLONG;
    if ((rc = mkdir_if_missing(path)) != 0)
        return rc;
    s->vol_dirfd = open(path, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (s->vol_dirfd < 0)
        return -errno;
    return vols_open(s);
}

/* Opens (creating) the index dir/db with its options. 0, -ENOMEM or -EIO; what was made is
 * released by node_store_close. */
static int store_db_open(node_store_t *s, const char *dir)
{
    char path[4096];
    if ((size_t)snprintf(path, sizeof(path), "%s/db", dir) >= sizeof(path))
        return -ENAMETOOLONG;
    s->opts = rocksdb_options_create();
    rocksdb_options_set_create_if_missing(s->opts, 1);
    rocksdb_options_increase_parallelism(s->opts, 2);
    /* Synced writers queue behind one WAL fsync leader (RocksDB's own group commit). With the
     * default adaptive yield they spin for the leader: on a machine with as few cores as ours that
     * burns the CPU the leader and the other processes need, so waiters block instead. */
    rocksdb_options_set_enable_write_thread_adaptive_yield(s->opts, 0);
    s->topts = rocksdb_block_based_options_create();
    s->cache = rocksdb_cache_create_lru(DB_BLOCK_CACHE_BYTES);
    if (!s->topts || !s->cache)
        return -ENOMEM;
    rocksdb_block_based_options_set_block_cache(s->topts, s->cache);
    /* The options take ownership of the policy. */
    rocksdb_block_based_options_set_filter_policy(s->topts, rocksdb_filterpolicy_create_bloom_full(DB_BLOOM_BITS));
    rocksdb_block_based_options_set_whole_key_filtering(s->topts, 1);
    rocksdb_options_set_block_based_table_factory(s->opts, s->topts);
    /* The options (then the DB) own the operator from here. */
    rocksdb_options_set_merge_operator(
        s->opts, rocksdb_mergeoperator_create(NULL, usage_state_free, usage_full_merge, usage_partial_merge,
                                              usage_free, usage_merge_name));
    s->wsync = rocksdb_writeoptions_create();
    rocksdb_writeoptions_set_sync(s->wsync, 1);
    s->wnosync = rocksdb_writeoptions_create();
    s->ropts = rocksdb_readoptions_create();
    char *err = NULL;
    s->db = rocksdb_open(s->opts, path, &err);
    if (err) {
        rocksdb_free(err);
        s->db = NULL;
        return -EIO;
    }
    return 0;
}

int node_store_open(const char *dir, uint32_t part_power, node_store_t **out)
{
    int rc;
    if (part_power > 32)
        return OG_EINVAL;
    node_store_t *s = calloc(1, sizeof(*s));
    if (!s)
        return -ENOMEM;
    s->vol_dirfd = -1;
    s->pend_lo = UINT32_MAX;
    s->part_power = part_power;
    store_locks_init(s);
    if ((rc = store_vols_open(s, dir)) != 0 || (rc = store_db_open(s, dir)) != 0)
        goto out_close_store;
    /* The expiry pass that drops nothing (before 0) counts the sweep marks already stored. */
    if ((rc = counters_load(s)) != 0 || (rc = node_store_table_list(s, usage_rebuild_one, s)) != 0 ||
        (rc = part_rebuild(s)) != 0 || (rc = node_store_sweep_marks_expire(s, 0)) != 0)
        goto out_close_store;
    *out = s;
    return 0;

out_close_store:
    node_store_close(s);
    return rc;
}

void node_store_close(node_store_t *s)
{
    if (!s)
        return;
    if (s->db)
        rocksdb_close(s->db);
    if (s->ropts)
        rocksdb_readoptions_destroy(s->ropts);
    if (s->wsync)
        rocksdb_writeoptions_destroy(s->wsync);
    if (s->wnosync)
        rocksdb_writeoptions_destroy(s->wnosync);
    if (s->opts)
        rocksdb_options_destroy(s->opts);
    if (s->topts)
        rocksdb_block_based_options_destroy(s->topts);
    if (s->cache)
        rocksdb_cache_destroy(s->cache);
    for (uint32_t v = 0; v < s->nvols; v++) {
        if (s->vol_fds[v] >= 0)
            close(s->vol_fds[v]);
        if (s->vol_dfds[v] >= 0)
            close(s->vol_dfds[v]);
    }
    free(s->vol_fds);
    free(s->vol_dfds);
    og_pool_destroy(&s->bounce);
    if (s->vol_dirfd >= 0)
        close(s->vol_dirfd);
    for (size_t i = 0; i < NSTRIPES; i++) {
        pthread_mutex_destroy(&s->stripes[i]);
        pthread_rwlock_destroy(&s->rguard[i]);
    }
    pthread_cond_destroy(&s->sync_cv);
    pthread_mutex_destroy(&s->append_mu);
    pthread_rwlock_destroy(&s->vols_lock);
    pthread_rwlock_destroy(&s->append_guard);
    free(s);
}

/* ---- chunks ---- */

/* Sets e's reference time to now_ns with a non-synced index write, unless it is less than
 * REF_SLACK_NS old. The caller holds the chunk's stripe lock. 0 or NODE_EPOISONED. */
static int ref_refresh(node_store_t *s, const char key[IDX_KEY_LEN], idx_ent_t *e, uint64_t now_ns)
{
    unsigned char val[IDX_VAL_LEN];
    if (e->ref_ns + REF_SLACK_NS > now_ns)
        return 0;
    e->ref_ns = now_ns;
    idx_encode(e, val);
    char *err = NULL;
    rocksdb_put(s->db, s->wnosync, key, IDX_KEY_LEN, (const char *)val, sizeof(val), &err);
    return err ? db_failed(s, err) : 0;
}

/* Gives back the reservation [off, off + need) of volume vol whose pwrite failed: truncated away
 * when it is still the volume's tail (nothing was reserved after it), else left as dead space. */
static void vol_unreserve(node_store_t *s, uint32_t vol, uint64_t off, uint64_t need)
{
    pthread_mutex_lock(&s->append_mu);
    if (s->cur_vol == vol && s->cur_off == off + need) {
        s->cur_off = off;
        atomic_fetch_sub(&s->volume_bytes, need);
        /* A partial pwrite may have grown the file: the next append starts at off again. */
        if (ftruncate(vol_fd(s, vol), (off_t)off) != 0)
            atomic_fetch_add(&s->dead_bytes, need);
    } else {
        atomic_fetch_add(&s->dead_bytes, need);
    }
    pthread_mutex_unlock(&s->append_mu);
}

/* A chunk's on-disk header (see the layout at the top). */
static void chdr_encode(unsigned char hdr[CHDR_LEN], const uint8_t id[NODE_ID_LEN], size_t len, uint64_t xxh3)
{
    og_be32_put(hdr, CHDR_MAGIC);
    memcpy(hdr + 4, id, NODE_ID_LEN);
    og_be32_put(hdr + 36, (uint32_t)len);
    og_be64_put(hdr + 40, xxh3);
}

/* Reserves len bytes at an align boundary and writes iov[0..niov) there (not synced), with the
 * volume's O_DIRECT descriptor when `direct` (then iov is one buffer). Holds the append guard's
 * read side from the reservation to the last pwrite, so chunk_reclaim can wait until no reserved
 * range is still unwritten. 0 with *vol / *start; 1 when direct and the volume has no direct
 * descriptor (nothing written); a space error (-ENOSPC ...: the device is full, the reservation
 * given back) or NODE_EPOISONED (see the failure policy at the top). */
static int append_at(node_store_t *s, struct iovec *iov, int niov, uint64_t len, uint64_t align, int direct,
                     uint32_t *vol, uint64_t *start)
{
    uint64_t pad = 0;
    int fd, rc = dev_room(s, len, DB_RESERVE_CHUNK);
    if (rc != 0)
        return rc;
    pthread_rwlock_rdlock(&s->append_guard);
    if ((rc = vol_reserve_at(s, len, align, vol, start, &pad)) != 0)
        goto out_unlock;
    if ((fd = vol_fd_of(s, *vol, direct)) < 0 && direct) {
        rc = 1;
        goto out_unreserve;
    }
    struct iovec whole = iov[0];
    if ((rc = pwritev_all(fd, iov, niov, *start)) == -EINVAL && direct) {
        /* The device wants another alignment: the same bytes through the page cache, and no
         * more direct writes until the next volume. */
        atomic_store(&s->direct, 0);
        iov[0] = whole;
        rc = pwritev_all(vol_fd(s, *vol), iov, niov, *start);
    }
    if (rc != 0)
        rc = dev_failed(s, rc, 0);
out_unreserve:
    if (rc != 0)
        vol_unreserve(s, *vol, *start - pad, len + pad);
out_unlock:
    pthread_rwlock_unlock(&s->append_guard);
    return rc;
}

/* Appends one chunk, its header and bytes in one pwritev (append_at). 0 with *vol / *off or an
 * error as append_at's. */
static int chunk_append(node_store_t *s, const uint8_t id[NODE_ID_LEN], const void *buf, size_t len, uint64_t xxh3,
                        uint32_t *vol, uint64_t *off)
{
    unsigned char hdr[CHDR_LEN];
    chdr_encode(hdr, id, len, xxh3);
    struct iovec iov[2] = {{hdr, CHDR_LEN}, {(void *)buf, len}};
    return append_at(s, iov, 2, CHDR_LEN + (uint64_t)len, 1, 0, vol, off);
}

/* Appends the new chunks in[at[0..n)] of a batch that does not go direct (below DIRECT_MIN, above
 * a bounce buffer, or a volume without O_DIRECT) back to back through the page cache: one reservation, one space check and one pwritev of every header and body (at most
 * IOV_MAX pieces a call), where one per chunk cost two system calls each (a 1 MiB object is ~32
 * chunks). 0 with *vol and off[i] (each chunk's header offset), -ENOMEM, or an error as append_at's. */
static int chunks_append_gathered(node_store_t *s, const node_chunk_in_t *in, const uint16_t *at, size_t n,
                                  uint32_t *vol, uint64_t *off)
{
    unsigned char *hdrs = malloc(n * (CHDR_LEN + 2 * sizeof(struct iovec)));
    if (!hdrs)
        return -ENOMEM;
    struct iovec *iov = (struct iovec *)(hdrs + n * CHDR_LEN);
    uint64_t total = 0, start;
    for (size_t i = 0; i < n; i++) {
        const node_chunk_in_t *c = &in[at[i]];
        chdr_encode(hdrs + i * CHDR_LEN, c->id, c->len, c->xxh3);
        iov[2 * i] = (struct iovec){hdrs + i * CHDR_LEN, CHDR_LEN};
        iov[2 * i + 1] = (struct iovec){(void *)c->buf, c->len};
        off[i] = total;
        total += CHDR_LEN + (uint64_t)c->len;
    }
    int rc = append_at(s, iov, (int)(2 * n), total, 1, 0, vol, &start);
    for (size_t i = 0; rc == 0 && i < n; i++)
        off[i] += start;
    free(hdrs);
    return rc;
}

/* Lays out chunks in[at[0..n)] back to back (header + bytes) in buf, zero-padded to DIRECT_ALIGN;
 * rel[i] gets each one's offset in buf. Returns the padded length. */
static size_t direct_layout(char *buf, const node_chunk_in_t *in, const uint16_t *at, size_t n, uint32_t *rel)
{
    size_t pos = 0;
    for (size_t i = 0; i < n; i++) {
        const node_chunk_in_t *c = &in[at[i]];
        rel[i] = (uint32_t)pos;
        chdr_encode((unsigned char *)buf + pos, c->id, c->len, c->xxh3);
        memcpy(buf + pos + CHDR_LEN, c->buf, c->len);
        pos += CHDR_LEN + c->len;
    }
    size_t padded = (pos + DIRECT_ALIGN - 1) / DIRECT_ALIGN * DIRECT_ALIGN;
    memset(buf + pos, 0, padded - pos);
    return padded;
}

/* Appends the new chunks in[at[0..n)] of a batch with one O_DIRECT write (see "Direct batch
 * writes" at the top). 0 with *vol and off[i] (each chunk's header offset); 1 when the batch does
 * not go direct (too small or too big, no buffer, or the volume has no direct descriptor: nothing
 * was written, the caller appends through the page cache); or an error as chunk_append's. */
static int chunks_append_direct(node_store_t *s, const node_chunk_in_t *in, const uint16_t *at, size_t n,
                                uint32_t *vol, uint64_t *off)
{
    uint32_t rel[NODE_BATCH_MAX];
    uint64_t total = 0, start;
    for (size_t i = 0; i < n; i++)
        total += CHDR_LEN + (uint64_t)in[at[i]].len;
    if (total < DIRECT_MIN || total > BOUNCE_CAP - DIRECT_ALIGN || !atomic_load(&s->direct))
        return 1;
    char *buf = og_pool_get(&s->bounce);
    if (!buf)
        return 1;
    size_t len = direct_layout(buf, in, at, n, rel);
    struct iovec iov = {buf, len};
    int rc = append_at(s, &iov, 1, len, DIRECT_ALIGN, 1, vol, &start);
    for (size_t i = 0; rc == 0 && i < n; i++)
        off[i] = start + rel[i];
    og_pool_put(&s->bounce, buf);
    return rc;
}

/* Whether hdr is the on-disk header of chunk id with len bytes and checksum xxh3: catches an
 * index entry pointing at the wrong place (or at a punched range). */
static int chdr_matches(const unsigned char hdr[CHDR_LEN], const uint8_t id[NODE_ID_LEN], uint32_t len, uint64_t xxh3)
{
    return og_be32_get(hdr) == CHDR_MAGIC && memcmp(hdr + 4, id, NODE_ID_LEN) == 0 && og_be32_get(hdr + 36) == len &&
           og_be64_get(hdr + 40) == xxh3;
}

/* What a failed pread_all of an indexed copy means: a short file (the indexed bytes are not there)
 * or EIO (a bad sector: the copy cannot be read, now or later) is corruption, so the copy is
 * quarantined and a replica or the next PUT of the chunk replaces it; other errors pass. */
static int unreadable(node_store_t *s, int rc)
{
    return rc > 0 || rc == -EIO ? NODE_CORRUPT_BKPT(s) : rc;
}

/* Streams the stored copy e of id through its checks: header (magic, id, len, xxh3) and xxh3 of the
 * bytes, and with `sha` the SHA-256 of the bytes against the id. The caller keeps the range from
 * being reclaimed meanwhile (stripe mutex or read guard). 0, OG_ECORRUPT, -ENOMEM or -errno. */
static int chunk_check(node_store_t *s, const uint8_t id[NODE_ID_LEN], const idx_ent_t *e, int sha)
{
    unsigned char hdr[CHDR_LEN], piece[CHECK_PIECE], md[EVP_MAX_MD_SIZE];
    int rc, fd = vol_fd(s, e->vol);
    if (fd < 0)
        return NODE_CORRUPT_BKPT(s); /* indexed volume is gone */
    if ((rc = pread_all(fd, hdr, CHDR_LEN, e->off)) != 0)
        return unreadable(s, rc);
    if (!chdr_matches(hdr, id, e->len, e->xxh3))
        return NODE_CORRUPT_BKPT(s);
    XXH3_state_t *xs = XXH3_createState();
    EVP_MD_CTX *mc = sha ? EVP_MD_CTX_new() : NULL;
    if (!xs || (sha && (!mc || EVP_DigestInit_ex(mc, EVP_sha256(), NULL) != 1))) {
        rc = -ENOMEM;
        goto out_free;
    }
    XXH3_64bits_reset(xs);
    for (uint64_t done = 0; done < e->len; done += sizeof(piece)) {
        size_t n = e->len - done < sizeof(piece) ? (size_t)(e->len - done) : sizeof(piece);
        if ((rc = pread_all(fd, piece, n, e->off + CHDR_LEN + done)) != 0) {
            rc = unreadable(s, rc);
            goto out_free;
        }
        XXH3_64bits_update(xs, piece, n);
        if (mc)
            EVP_DigestUpdate(mc, piece, n);
    }
    if (XXH3_64bits_digest(xs) != e->xxh3 || (mc && (EVP_DigestFinal_ex(mc, md, NULL) != 1 ||
                                                       memcmp(md, id, NODE_ID_LEN) != 0)))
        rc = NODE_CORRUPT_BKPT(s);
out_free:
    EVP_MD_CTX_free(mc);
    XXH3_freeState(xs);
    return rc;
}

static int chunk_quarantine_locked(node_store_t *s, const char key[IDX_KEY_LEN], const idx_ent_t *e);
static void chunk_quarantine(node_store_t *s, const uint8_t id[NODE_ID_LEN], const idx_ent_t *bad);

/* Counts a chunk write of len bytes that found the chunk already stored (dedup savings). */
static void dedup_count(node_store_t *s, size_t len)
{
    atomic_fetch_add_explicit(&s->dedup_hits, 1, memory_order_relaxed);
    atomic_fetch_add_explicit(&s->dedup_bytes, len, memory_order_relaxed);
}

/* Looks id up for a write and vouches for the stored copy, so "already present" is never said of a
 * corrupt one: 0 with *e when a good copy is indexed, OG_ENOTFOUND when none is (a bad one is
 * quarantined here), or an error. The caller holds the stripe mutex. */
static int chunk_find_good(node_store_t *s, const char key[IDX_KEY_LEN], const uint8_t id[NODE_ID_LEN], idx_ent_t *e)
{
    int rc = idx_get(s, id, e);
    if (rc == 0 && (rc = chunk_check(s, id, e, 0)) == OG_ECORRUPT && (rc = chunk_quarantine_locked(s, key, e)) == 0)
        rc = OG_ENOTFOUND;
    return rc;
}

int node_store_chunk_put(node_store_t *s, const uint8_t id[NODE_ID_LEN], const void *buf, size_t len, uint64_t xxh3)
{
    int rc;
    char key[IDX_KEY_LEN];
    idx_ent_t e;
    if (len > NODE_CHUNK_MAX)
        return OG_ETOOBIG;
    if (atomic_load(&s->poisoned))
        return NODE_EPOISONED;
    idx_key(key, id);
    /* The stripe lock makes "look up, append, index" atomic per id: two concurrent PUTs of
     * one chunk append it once. */
    pthread_mutex_t *mu = stripe_for(s, key, sizeof(key));
    pthread_mutex_lock(mu);
    rc = chunk_find_good(s, key, id, &e);
    if (rc == 0) {
        if ((rc = ref_refresh(s, key, &e, og_time_ns())) == 0) {
            rc = OG_EEXIST;
            dedup_count(s, len);
        }
        goto out_unlock;
    }
    if (rc != OG_ENOTFOUND)
        goto out_unlock;
    if (XXH3_64bits(buf, len) != xxh3) {
        rc = OG_EBADDIGEST;
        goto out_unlock;
    }

    if ((rc = chunk_append(s, id, buf, len, xxh3, &e.vol, &e.off)) != 0)
        goto out_unlock;
    if ((rc = vol_sync_wait(s, e.vol)) != 0)
        goto out_unlock;

    unsigned char val[IDX_VAL_LEN];
    e.len = (uint32_t)len;
    e.xxh3 = xxh3;
    e.ref_ns = og_time_ns();
    idx_encode(&e, val);
    if ((rc = idx_write(s, key, val, 0)) != 0) {
        atomic_fetch_add(&s->dead_bytes, CHDR_LEN + (uint64_t)len); /* synced but never indexed */
        goto out_unlock;
    }
    atomic_fetch_add(&s->chunks, 1);
    atomic_fetch_add(&s->chunk_bytes, len);
    dev_wrote(s);
out_unlock:
    pthread_mutex_unlock(mu);
    return rc;
}

int node_store_chunk_stat(node_store_t *s, const uint8_t id[NODE_ID_LEN], uint32_t *len, uint64_t *xxh3)
{
    idx_ent_t e;
    int rc = idx_get(s, id, &e);
    if (rc == 0) {
        *len = e.len;
        *xxh3 = e.xxh3;
    }
    return rc;
}

/* Whether chunk b lies right after chunk a in the same volume (up to a direct batch's padding). */
static int loc_follows(const node_chunk_loc_t *a, const node_chunk_loc_t *b)
{
    uint64_t end = a->off + CHDR_LEN + a->len;
    return b->vol == a->vol && b->off >= end && b->off - end < DIRECT_ALIGN;
}

/* End of the run of found chunks that starts at locs[i] (i found): the first index past it. */
static size_t loc_run_end(const node_chunk_loc_t *locs, size_t i, size_t n)
{
    size_t j = i + 1;
    while (j < n && locs[j].rc == 0 && loc_follows(&locs[j - 1], &locs[j]))
        j++;
    return j;
}

void node_store_chunk_locate(node_store_t *s, const uint8_t *ids, size_t n, node_chunk_loc_t *locs)
{
    for (size_t i = 0; i < n; i++) {
        idx_ent_t e = {0};
        locs[i].rc = idx_get(s, ids + i * NODE_ID_LEN, &e);
        locs[i].len = locs[i].rc == 0 ? e.len : 0;
        locs[i].vol = e.vol, locs[i].off = e.off, locs[i].xxh3 = e.xxh3;
    }
    /* Every run, the first too: a read of a run waits for its pages one readahead window after
     * another, while a readahead request queues all of them at once (measured: 256 MiB GETs from
     * disk 480-660 MiB/s without it for the first run, 650-840 with). */
    for (size_t i = 0, j; i < n; i = j) {
        if (locs[i].rc != 0) {
            j = i + 1;
            continue;
        }
        j = loc_run_end(locs, i, n);
        int fd = vol_fd(s, locs[i].vol);
        if (fd >= 0)
            posix_fadvise(fd, (off_t)locs[i].off, (off_t)(locs[j - 1].off + CHDR_LEN + locs[j - 1].len - locs[i].off),
                          POSIX_FADV_WILLNEED);
    }
}

/* Reads the run locs[i..j) (back to back, at most RUN_CHUNKS_MAX) with one preadv: headers into
 * hdrs, bytes into dst, a direct batch's padding into a scratch page. 0, 1 (short file) or -errno. */
static int run_read(node_store_t *s, const node_chunk_loc_t *locs, void *const *dst, size_t i, size_t j,
                    unsigned char *hdrs)
{
    struct iovec iov[3 * RUN_CHUNKS_MAX];
    unsigned char pad[DIRECT_ALIGN];
    int k = 0, fd = vol_fd(s, locs[i].vol);
    if (fd < 0)
        return -EBADF;
    for (size_t c = i; c < j; c++) {
        uint64_t gap = c > i ? locs[c].off - (locs[c - 1].off + CHDR_LEN + locs[c - 1].len) : 0;
        if (gap)
            iov[k++] = (struct iovec){pad, gap};
        iov[k++] = (struct iovec){hdrs + (c - i) * CHDR_LEN, CHDR_LEN};
        iov[k++] = (struct iovec){dst[c], locs[c].len};
    }
    return preadv_all(fd, iov, k, locs[i].off);
}

/* Reads chunk l again the guarded way (node_store_chunk_get) and records its outcome. */
static void loc_reread(node_store_t *s, const uint8_t id[NODE_ID_LEN], node_chunk_loc_t *l, void *dst)
{
    uint32_t len;
    uint64_t xxh3;
    l->rc = node_store_chunk_get(s, id, dst, l->len, &len, &xxh3);
}

/* The runs are read without the read guard (see "Reclaim vs readers"): a delete may punch a
 * range between the look-up and the read, which leaves zeros that fail the header check. So a
 * chunk whose checks fail is read once more through node_store_chunk_get, whose guard covers
 * look-up and read: that answers OG_ENOTFOUND for a chunk deleted meanwhile and quarantines a
 * copy that is really damaged. A punched range is never written again (appends only), so bytes
 * that pass the checks are the chunk's. */
void node_store_chunk_read_located(node_store_t *s, const uint8_t *ids, node_chunk_loc_t *locs, void *const *dst,
                                   size_t n)
{
    unsigned char hdrs[RUN_CHUNKS_MAX * CHDR_LEN];
    for (size_t i = 0, j; i < n; i = j) {
        j = i + 1;
        if (locs[i].rc != 0 || !dst[i])
            continue;
        size_t end = loc_run_end(locs, i, n - i > RUN_CHUNKS_MAX ? i + RUN_CHUNKS_MAX : n);
        while (j < end && dst[j])
            j++;
        int rc = run_read(s, locs, dst, i, j, hdrs);
        for (size_t c = i; c < j; c++) {
            const uint8_t *id = ids + c * NODE_ID_LEN;
            if (rc != 0 || !chdr_matches(hdrs + (c - i) * CHDR_LEN, id, locs[c].len, locs[c].xxh3) ||
                XXH3_64bits(dst[c], locs[c].len) != locs[c].xxh3)
                loc_reread(s, id, &locs[c], dst[c]);
        }
    }
}

int node_store_chunk_get(node_store_t *s, const uint8_t id[NODE_ID_LEN], void *buf, size_t cap, uint32_t *len,
                         uint64_t *xxh3)
{
    char key[IDX_KEY_LEN];
    idx_ent_t e;
    unsigned char hdr[CHDR_LEN];
    idx_key(key, id);
    /* Held from the look-up to the last pread: a delete punches the range only once no read
     * that may have seen the entry is left (chunk_reclaim). */
    pthread_rwlock_t *guard = &s->rguard[stripe_idx(key, sizeof(key))];
    pthread_rwlock_rdlock(guard);
    int rc = idx_get(s, id, &e), found = rc == 0;
    if (rc != 0)
        goto out_unguard;
    if (e.len > cap) {
        *len = e.len; /* the caller may grow its buffer and ask again */
        rc = OG_ETOOBIG;
        goto out_unguard;
    }
    int fd = vol_fd(s, e.vol);
    if (fd < 0) {
        rc = NODE_CORRUPT_BKPT(s); /* indexed volume is gone */
        goto out_unguard;
    }
    struct iovec iov[2] = {{hdr, CHDR_LEN}, {buf, e.len}};
    if ((rc = preadv_all(fd, iov, 2, e.off)) != 0) {
        rc = unreadable(s, rc);
        goto out_unguard;
    }
    /* The header check catches an index entry pointing at the wrong place; the hash catches
     * flipped bits in the data. Both are verified on every read. */
    if (!chdr_matches(hdr, id, e.len, e.xxh3) || XXH3_64bits(buf, e.len) != e.xxh3) {
        rc = NODE_CORRUPT_BKPT(s);
        goto out_unguard;
    }
    *len = e.len;
    *xxh3 = e.xxh3;
out_unguard:
    pthread_rwlock_unlock(guard);
    if (rc == OG_ECORRUPT && found)
        chunk_quarantine(s, id, &e);
    return rc;
}

/* Frees the file-system block at blk of volume fd when it holds only zeros (a short read, past
 * the end of the file, leaves it). */
static void punch_if_zero(int fd, uint64_t blk)
{
    unsigned char b[RECLAIM_BLOCK];
    if (pread_all(fd, b, sizeof(b), blk) == 0 && b[0] == 0 && memcmp(b, b + 1, sizeof(b) - 1) == 0)
        fallocate(fd, FALLOC_FL_PUNCH_HOLE | FALLOC_FL_KEEP_SIZE, (off_t)blk, RECLAIM_BLOCK);
}

/* Gives a deleted chunk's volume range (header included) back to the file system. Called after
 * the synced index delete, without the stripe mutex. Taking the stripe's read guard for writing
 * waits out every read that may have found the entry; reads after that find none, and the range
 * is never written again (appends only), so the punch needs no lock. A failed punch (EOPNOTSUPP
 * on a file system without holes, EIO ...) only costs space: the bytes are counted as dead. */
static void chunk_reclaim(node_store_t *s, const char key[IDX_KEY_LEN], const idx_ent_t *e)
{
    uint64_t len = CHDR_LEN + (uint64_t)e->len, end = e->off + len;
    uint64_t head = e->off & ~(uint64_t)(RECLAIM_BLOCK - 1), tail = (end - 1) & ~(uint64_t)(RECLAIM_BLOCK - 1);
    pthread_rwlock_t *guard = &s->rguard[stripe_idx(key, IDX_KEY_LEN)];
    pthread_rwlock_wrlock(guard);
    pthread_rwlock_unlock(guard);
    int fd = vol_fd(s, e->vol);
    if (fd < 0 || fallocate(fd, FALLOC_FL_PUNCH_HOLE | FALLOC_FL_KEEP_SIZE, (off_t)e->off, (off_t)len) != 0) {
        atomic_fetch_add(&s->dead_bytes, len);
        return;
    }
    /* Chunks are packed back to back, so the punch only zeroed the blocks it shares with its
     * neighbours; once a neighbour is deleted too, such a block is all zeros and is freed here.
     * With no append between reservation and pwrite (the append guard), a zero block is zeros in
     * every byte, live or dead, and punching it changes no byte anyone reads. */
    if (e->off == head && end % RECLAIM_BLOCK == 0)
        return;
    pthread_rwlock_wrlock(&s->append_guard);
    if (e->off != head)
        punch_if_zero(fd, head);
    if (end % RECLAIM_BLOCK != 0 && (tail != head || e->off == head))
        punch_if_zero(fd, tail);
    pthread_rwlock_unlock(&s->append_guard);
}

/* Removes id's index entry e (synced) and takes it out of the counters: the one path every removal
 * of a chunk takes (delete, garbage collection, quarantine). The caller holds the stripe mutex and
 * reclaims the range afterwards. swept_ns: garbage collection's sweep mark (idx_write), 0 for none.
 * 0, a space error or NODE_EPOISONED. */
static int chunk_unindex(node_store_t *s, const char key[IDX_KEY_LEN], const idx_ent_t *e, uint64_t swept_ns)
{
    int rc = idx_write(s, key, NULL, swept_ns);
    if (rc == 0) {
        atomic_fetch_sub(&s->chunks, 1);
        atomic_fetch_sub(&s->chunk_bytes, e->len);
    }
    return rc;
}

/* Takes the bad copy e out of service: unindexed like a delete (the chunk then reads as absent and
 * a replica can refill it), its range reclaimed. The caller holds the stripe mutex; the reclaim
 * waits only for readers, which never take it. 0, a space error or NODE_EPOISONED. */
static int chunk_quarantine_locked(node_store_t *s, const char key[IDX_KEY_LEN], const idx_ent_t *e)
{
    int rc = chunk_unindex(s, key, e, 0); /* no sweep mark: replicas must refill it */
    if (rc == 0) {
        atomic_fetch_add(&s->quarantined, 1);
        chunk_reclaim(s, key, e);
    }
    return rc;
}

/* Quarantines the copy `bad` of id that a reader (holding no lock of id) found corrupt, unless the
 * entry was rewritten or removed meanwhile. A poisoned device keeps the entry (no index writes). */
static void chunk_quarantine(node_store_t *s, const uint8_t id[NODE_ID_LEN], const idx_ent_t *bad)
{
    char key[IDX_KEY_LEN];
    idx_ent_t e;
    idx_key(key, id);
    pthread_mutex_t *mu = stripe_for(s, key, sizeof(key));
    pthread_mutex_lock(mu);
    if (!atomic_load(&s->poisoned) && idx_get(s, id, &e) == 0 && e.vol == bad->vol && e.off == bad->off)
        chunk_quarantine_locked(s, key, &e);
    pthread_mutex_unlock(mu);
}

int node_store_chunk_delete(node_store_t *s, const uint8_t id[NODE_ID_LEN])
{
    char key[IDX_KEY_LEN];
    idx_ent_t e;
    if (atomic_load(&s->poisoned))
        return NODE_EPOISONED;
    idx_key(key, id);
    pthread_mutex_t *mu = stripe_for(s, key, sizeof(key));
    pthread_mutex_lock(mu);
    int rc = idx_get(s, id, &e);
    if (rc == 0)
        rc = chunk_unindex(s, key, &e, 0);
    pthread_mutex_unlock(mu);
    if (rc == 0)
        chunk_reclaim(s, key, &e);
    return rc;
}

/* The distinct stripes of a batch's ids, sorted: locking them in ascending order cannot deadlock
 * with another batch (same order) nor with single-chunk calls (they hold one stripe at a time). */
static size_t stripes_collect(node_store_t *s, const uint8_t *const *ids, size_t n, uint16_t *out)
{
    size_t m = 0;
    for (size_t i = 0; i < n; i++) {
        char key[IDX_KEY_LEN];
        idx_key(key, ids[i]);
        uint16_t st = (uint16_t)(XXH3_64bits(key, sizeof(key)) & (NSTRIPES - 1));
        size_t j = m;
        while (j > 0 && out[j - 1] > st)
            j--;
        if (j > 0 && out[j - 1] == st)
            continue;
        memmove(out + j + 1, out + j, (m - j) * sizeof(*out));
        out[j] = st;
        m++;
    }
    return m;
}

static void stripes_lock(node_store_t *s, const uint16_t *st, size_t m)
{
    for (size_t i = 0; i < m; i++)
        pthread_mutex_lock(&s->stripes[st[i]]);
}

static void stripes_unlock(node_store_t *s, const uint16_t *st, size_t m)
{
    for (size_t i = m; i > 0; i--)
        pthread_mutex_unlock(&s->stripes[st[i - 1]]);
}

/* ref_refresh for a batch: the refreshed entry goes into wb (written by the caller). */
static void ref_refresh_batch(rocksdb_writebatch_t *wb, const char key[IDX_KEY_LEN], idx_ent_t *e, uint64_t now_ns)
{
    unsigned char val[IDX_VAL_LEN];
    if (e->ref_ns + REF_SLACK_NS > now_ns)
        return;
    e->ref_ns = now_ns;
    idx_encode(e, val);
    rocksdb_writebatch_put(wb, key, IDX_KEY_LEN, (const char *)val, sizeof(val));
}

/* Puts stored chunk e's index entry (key from its id), partition index and summary into wb,
 * dropping any sweep mark (as idx_write does for a single write). 0 or an error. */
static int batch_index_new(node_store_t *s, rocksdb_writebatch_t *wb, const uint8_t *id, const idx_ent_t *e)
{
    unsigned char val[IDX_VAL_LEN];
    char key[IDX_KEY_LEN];
    int rc;
    idx_key(key, id);
    idx_encode(e, val);
    rocksdb_writebatch_put(wb, key, IDX_KEY_LEN, (const char *)val, sizeof(val));
    if ((rc = part_add(s, wb, key, IDX_KEY_LEN, XXH3_64bits(key, IDX_KEY_LEN), 1)) != 0)
        return rc;
    mark_clear(s, wb, key);
    return 0;
}

/* Appends the new chunks in[at[0..n)] of a batch (in one direct write when it can, else in one
 * gathered write through the page cache), all in one volume, and indexes them into wb; *vol_lo /
 * *vol_hi widen to that volume, for the batch's sync, and *written counts the chunk bytes and
 * headers appended (dead space if the batch then fails). The caller holds the chunks' stripes.
 * 0 or an error. */
static int batch_add_new(node_store_t *s, rocksdb_writebatch_t *wb, const node_chunk_in_t *in, const uint16_t *at,
                         size_t n, uint64_t now, uint32_t *vol_lo, uint32_t *vol_hi, uint64_t *written)
{
    uint64_t off[NODE_BATCH_MAX];
    uint32_t vol = 0;
    int rc = chunks_append_direct(s, in, at, n, &vol, off);
    if (rc == 1)
        rc = chunks_append_gathered(s, in, at, n, &vol, off);
    if (rc != 0)
        return rc;
    *vol_lo = vol < *vol_lo ? vol : *vol_lo;
    *vol_hi = vol > *vol_hi ? vol : *vol_hi;
    for (size_t i = 0; i < n; i++)
        *written += CHDR_LEN + (uint64_t)in[at[i]].len;
    for (size_t i = 0; i < n; i++) {
        const node_chunk_in_t *c = &in[at[i]];
        idx_ent_t e = {.vol = vol, .off = off[i], .len = (uint32_t)c->len, .xxh3 = c->xxh3, .ref_ns = now};
        if ((rc = batch_index_new(s, wb, c->id, &e)) != 0)
            return rc;
    }
    return 0;
}

int node_store_chunk_put_many(node_store_t *s, const node_chunk_in_t *in, size_t n, char *res)
{
    const uint8_t *ids[NODE_BATCH_MAX];
    uint16_t st[NODE_BATCH_MAX], fresh[NODE_BATCH_MAX];
    uint32_t vol_lo = UINT32_MAX, vol_hi = 0;
    uint64_t now = og_time_ns(), added_bytes = 0, written = 0;
    size_t added = 0;
    int rc = 0;

    if (n > NODE_BATCH_MAX)
        return OG_EINVAL;
    memset(res, NODE_PUT_FAILED, n);
    if (atomic_load(&s->poisoned))
        return NODE_EPOISONED;
    for (size_t i = 0; i < n; i++)
        ids[i] = in[i].id;
    size_t m = stripes_collect(s, ids, n, st);
    rocksdb_writebatch_t *wb = rocksdb_writebatch_create();
    stripes_lock(s, st, m);
    for (size_t i = 0; i < n; i++) {
        char key[IDX_KEY_LEN];
        idx_ent_t e;
        size_t j;
        /* A batch may carry one chunk twice (runs of equal content): the first copy does it. */
        for (j = 0; j < i && memcmp(ids[j], ids[i], NODE_ID_LEN) != 0; j++)
            ;
        if (j < i) {
            res[i] = res[j] == NODE_PUT_STORED ? NODE_PUT_EXISTED : res[j];
            if (res[i] == NODE_PUT_EXISTED)
                dedup_count(s, in[i].len);
            continue;
        }
        if (in[i].len > NODE_CHUNK_MAX)
            continue;
        idx_key(key, ids[i]);
        rc = chunk_find_good(s, key, ids[i], &e);
        if (rc == 0) {
            ref_refresh_batch(wb, key, &e, now);
            res[i] = NODE_PUT_EXISTED;
            dedup_count(s, in[i].len);
            continue;
        }
        if (rc != OG_ENOTFOUND)
            goto out_unlock;
        rc = 0;
        if (XXH3_64bits(in[i].buf, in[i].len) != in[i].xxh3) {
            res[i] = NODE_PUT_BADDIGEST;
            continue;
        }
        res[i] = NODE_PUT_STORED; /* once written below; the whole batch fails otherwise */
        fresh[added++] = (uint16_t)i;
        added_bytes += in[i].len;
    }
    if (added > 0 && (rc = batch_add_new(s, wb, in, fresh, added, now, &vol_lo, &vol_hi, &written)) != 0)
        goto out_unlock;
    /* One sync covers every volume written since it started; a batch that rolled over to a new
     * volume registers both ends of the range. */
    if (added > 0 && (rc = vol_sync_wait(s, vol_lo)) == 0 && vol_hi != vol_lo)
        rc = vol_sync_wait(s, vol_hi);
    if (rc == 0 && rocksdb_writebatch_count(wb) > 0)
        rc = db_write_batch(s, wb, added > 0 ? s->wsync : s->wnosync);
    if (rc == 0) {
        atomic_fetch_add(&s->chunks, added);
        atomic_fetch_add(&s->chunk_bytes, added_bytes);
        if (added > 0)
            dev_wrote(s);
    }
out_unlock:
    if (rc != 0) /* what this batch appended is never indexed */
        atomic_fetch_add(&s->dead_bytes, written);
    stripes_unlock(s, st, m);
    rocksdb_writebatch_destroy(wb);
    if (rc != 0)
        memset(res, NODE_PUT_FAILED, n);
    return rc;
}

int node_store_chunk_touch_many(node_store_t *s, const uint8_t *ids, size_t n, char *res)
{
    const uint8_t *idp[NODE_BATCH_MAX];
    uint16_t st[NODE_BATCH_MAX];
    uint64_t now = og_time_ns();
    int rc = 0;

    if (n > NODE_BATCH_MAX)
        return OG_EINVAL;
    memset(res, NODE_PUT_FAILED, n);
    if (atomic_load(&s->poisoned))
        return NODE_EPOISONED;
    for (size_t i = 0; i < n; i++)
        idp[i] = ids + i * NODE_ID_LEN;
    size_t m = stripes_collect(s, idp, n, st);
    rocksdb_writebatch_t *wb = rocksdb_writebatch_create();
    stripes_lock(s, st, m);
    for (size_t i = 0; i < n && rc == 0; i++) {
        char key[IDX_KEY_LEN];
        idx_ent_t e;
        rc = idx_get(s, idp[i], &e);
        if (rc == OG_ENOTFOUND) {
            res[i] = NODE_PUT_ABSENT;
            rc = 0;
            continue;
        }
        if (rc != 0)
            break;
        idx_key(key, idp[i]);
        ref_refresh_batch(wb, key, &e, now);
        res[i] = NODE_PUT_EXISTED;
    }
    /* A touch must outlast a node crash the way the record it protects will: synced. */
    if (rc == 0 && rocksdb_writebatch_count(wb) > 0)
        rc = db_write_batch(s, wb, s->wsync);
    stripes_unlock(s, st, m);
    rocksdb_writebatch_destroy(wb);
    if (rc != 0)
        memset(res, NODE_PUT_FAILED, n);
    return rc;
}

int node_store_chunk_delete_older(node_store_t *s, const uint8_t id[NODE_ID_LEN], uint64_t cutoff_ns)
{
    char key[IDX_KEY_LEN];
    idx_ent_t e;
    if (atomic_load(&s->poisoned))
        return NODE_EPOISONED;
    idx_key(key, id);
    pthread_mutex_t *mu = stripe_for(s, key, sizeof(key));
    pthread_mutex_lock(mu);
    int rc = idx_get(s, id, &e);
    if (rc == 0 && e.ref_ns >= cutoff_ns)
        rc = OG_EEXIST;
    else if (rc == 0)
        rc = chunk_unindex(s, key, &e, og_time_ns());
    pthread_mutex_unlock(mu);
    if (rc == 0)
        chunk_reclaim(s, key, &e);
    return rc;
}

int node_store_chunk_ref_time(node_store_t *s, const uint8_t id[NODE_ID_LEN], uint64_t *ref_ns)
{
    idx_ent_t e;
    int rc = idx_get(s, id, &e);
    if (rc == 0)
        *ref_ns = e.ref_ns;
    return rc;
}

/* Positions `it` on the first key > `from` (or >= when !exclusive). */
static void iter_seek(rocksdb_iterator_t *it, const char *from, size_t flen, int exclusive)
{
    rocksdb_iter_seek(it, from, flen);
    if (exclusive && rocksdb_iter_valid(it)) {
        size_t klen;
        const char *k = rocksdb_iter_key(it, &klen);
        if (klen == flen && memcmp(k, from, flen) == 0)
            rocksdb_iter_next(it);
    }
}

static int iter_status(rocksdb_iterator_t *it)
{
    char *err = NULL;
    rocksdb_iter_get_error(it, &err);
    if (!err)
        return 0;
    rocksdb_free(err);
    return -EIO;
}

int node_store_chunk_list(node_store_t *s, const uint8_t *after, size_t limit,
                          int (*fn)(void *arg, const uint8_t id[NODE_ID_LEN], uint32_t len), void *arg,
                          int *truncated)
{
    int rc = 0;
    char from[IDX_KEY_LEN] = {'c'};
    size_t n = 0;
    *truncated = 0;
    rocksdb_iterator_t *it = rocksdb_create_iterator(s->db, s->ropts);
    if (after)
        idx_key(from, after);
    iter_seek(it, from, after ? IDX_KEY_LEN : 1, after != NULL);
    for (; rocksdb_iter_valid(it); rocksdb_iter_next(it)) {
        size_t klen, vlen;
        const char *k = rocksdb_iter_key(it, &klen);
        if (klen == 0 || k[0] != 'c')
            break;
        if (klen != IDX_KEY_LEN)
            continue;
        if (n == limit) {
            *truncated = 1;
            break;
        }
        idx_ent_t e;
        const char *v = rocksdb_iter_value(it, &vlen);
        if ((rc = idx_decode(s, v, vlen, &e)) != 0)
            goto out_iter;
        if ((rc = fn(arg, (const uint8_t *)k + 1, e.len)) != 0)
            goto out_iter;
        n++;
    }
    rc = iter_status(it);
out_iter:
    rocksdb_iter_destroy(it);
    return rc;
}

/* ---- records ---- */

/* Builds 'r' + table + '\0' + key into stack (RKEY_STACK bytes) or a malloc'd buffer put in
 * *heap (caller frees). Returns the key or NULL on allocation failure. */
static char *rkey_build(char *stack, char **heap, og_str_t table, og_str_t key, size_t *klen)
{
    size_t n = 2 + table.len + key.len;
    char *k = stack;
    *heap = NULL;
    if (n > RKEY_STACK) {
        if (!(k = *heap = malloc(n)))
            return NULL;
    }
    k[0] = 'r';
    memcpy(k + 1, table.base, table.len);
    k[1 + table.len] = '\0';
    if (key.len)
        memcpy(k + 2 + table.len, key.base, key.len);
    *klen = n;
    return k;
}

/* Does the stored record (cur, curlen; rc is db_get's answer) satisfy cond? 0 or NODE_ECOND. An
 * undecodable stored record satisfies no condition. */
static int rec_cond_holds(const node_rec_cond_t *cond, int rc, const char *cur, size_t curlen)
{
    og_rec_t old;
    if (rc == OG_ENOTFOUND)
        return cond->absent ? 0 : NODE_ECOND;
    if (og_rec_decode(cur, curlen, &old) != 0)
        return NODE_ECOND;
    if (cond->absent)
        return (old.flags & OG_REC_TOMBSTONE) ? 0 : NODE_ECOND;
    return old.ts == cond->ts && old.tiebreak == cond->tiebreak ? 0 : NODE_ECOND;
}

int node_store_rec_put(node_store_t *s, og_str_t table, og_str_t key, const void *rec, size_t len)
{
    return node_store_rec_put_if(s, table, key, rec, len, NULL);
}

int node_store_rec_put_if(node_store_t *s, og_str_t table, og_str_t key, const void *rec, size_t len,
                          const node_rec_cond_t *cond)
{
    int rc;
    og_rec_t nr, old;
    char stack[RKEY_STACK], *heap, *cur = NULL, ukey[UKEY_MAX];
    unsigned char delta[USAGE_LEN];
    size_t klen, curlen, ulen = ukey_build(ukey, table);
    uint64_t dn = 0, dbytes = 0;
    if (ulen == 0)
        return OG_EINVAL;
    if (og_rec_decode(rec, len, &nr) != 0)
        return OG_EPROTO;
    if (!cond && lease_table(table.base, table.len))
        return NODE_ECOND; /* read repair or a stray copy: a lease changes only by compare-and-set */
    if (atomic_load(&s->poisoned))
        return NODE_EPOISONED;
    if ((rc = dev_room(s, len, DB_RESERVE_REC)) != 0)
        return rc;
    char *k = rkey_build(stack, &heap, table, key, &klen);
    if (!k)
        return -ENOMEM;
    pthread_mutex_t *mu = stripe_for(s, k, klen);
    pthread_mutex_lock(mu);
    rc = db_get(s, k, klen, &cur, &curlen);
    /* The condition is checked under the stripe lock, with the compare below: no write of this key
     * can come between them. */
    if (cond && (rc == 0 || rc == OG_ENOTFOUND) && rec_cond_holds(cond, rc, cur, curlen) != 0) {
        rc = NODE_ECOND;
        goto out_unlock;
    }
    if (rc == 0) {
        /* An undecodable stored record cannot be compared (nor counted); the new one replaces it. */
        if (og_rec_decode(cur, curlen, &old) == 0) {
            if (og_rec_cmp(&nr, &old) <= 0) {
                rc = OG_EEXIST;
                goto out_unlock;
            }
            usage_add(&old, -1, &dn, &dbytes);
        }
    } else if (rc != OG_ENOTFOUND) {
        goto out_unlock;
    }
    int existed = rc == 0;
    usage_add(&nr, 1, &dn, &dbytes);
    /* Record and usage delta in one synced batch: the aggregate never disagrees with the records,
     * not even after a crash. The stripe lock makes `old` the record this write replaces. */
    rocksdb_writebatch_t *wb = rocksdb_writebatch_create();
    rocksdb_writebatch_put(wb, k, klen, rec, len);
    /* The old version leaves the partition summary and the new one enters it (the index entry's
     * delete then put, in batch order, leaves the put). */
    if ((existed && (rc = part_add(s, wb, k, klen, rec_item_hash(k, klen, cur, curlen), -1)) != 0) ||
        (rc = part_add(s, wb, k, klen, rec_item_hash(k, klen, rec, len), 1)) != 0)
        goto out_batch;
    if (dn != 0 || dbytes != 0) {
        og_be64_put(delta, dn);
        og_be64_put(delta + 8, dbytes);
        rocksdb_writebatch_merge(wb, ukey, ulen, (const char *)delta, sizeof(delta));
    }
    if ((rc = db_write_batch(s, wb, s->wsync)) == 0 && !existed)
        atomic_fetch_add(&s->records, 1);
out_batch:
    rocksdb_writebatch_destroy(wb);
out_unlock:
    pthread_mutex_unlock(mu);
    rocksdb_free(cur);
    free(heap);
    return rc;
}

int node_store_rec_drop(node_store_t *s, og_str_t table, og_str_t key, uint64_t hash)
{
    int rc;
    og_rec_t old;
    char stack[RKEY_STACK], *heap, *cur = NULL, ukey[UKEY_MAX];
    unsigned char delta[USAGE_LEN];
    size_t klen, curlen, ulen = ukey_build(ukey, table);
    uint64_t dn = 0, dbytes = 0;
    if (ulen == 0)
        return OG_EINVAL;
    if (atomic_load(&s->poisoned))
        return NODE_EPOISONED;
    char *k = rkey_build(stack, &heap, table, key, &klen);
    if (!k)
        return -ENOMEM;
    pthread_mutex_t *mu = stripe_for(s, k, klen);
    pthread_mutex_lock(mu);
    if ((rc = db_get(s, k, klen, &cur, &curlen)) != 0)
        goto out_unlock;
    /* Under the stripe lock: a write that replaced the version the caller checked wins. */
    if (rec_item_hash(k, klen, cur, curlen) != hash) {
        rc = OG_EEXIST;
        goto out_unlock;
    }
    if (og_rec_decode(cur, curlen, &old) == 0)
        usage_add(&old, -1, &dn, &dbytes);
    rocksdb_writebatch_t *wb = rocksdb_writebatch_create();
    rocksdb_writebatch_delete(wb, k, klen);
    if ((rc = part_add(s, wb, k, klen, hash, -1)) != 0)
        goto out_batch;
    if (dn != 0 || dbytes != 0) {
        og_be64_put(delta, dn);
        og_be64_put(delta + 8, dbytes);
        rocksdb_writebatch_merge(wb, ukey, ulen, (const char *)delta, sizeof(delta));
    }
    if ((rc = db_write_batch(s, wb, s->wsync)) == 0)
        atomic_fetch_sub(&s->records, 1);
out_batch:
    rocksdb_writebatch_destroy(wb);
out_unlock:
    pthread_mutex_unlock(mu);
    rocksdb_free(cur);
    free(heap);
    return rc;
}

int node_store_table_usage(node_store_t *s, og_str_t table, uint64_t *records, uint64_t *bytes)
{
    char ukey[UKEY_MAX];
    size_t ulen = ukey_build(ukey, table);
    if (ulen == 0)
        return OG_EINVAL;
    /* never written: usage_rebuild gave every older table its key at open, so (0, 0) is right */
    return db_get_pair(s, ukey, ulen, records, bytes);
}

int node_store_rec_get(node_store_t *s, og_str_t table, og_str_t key, char **out, size_t *len)
{
    char stack[RKEY_STACK], *heap;
    size_t klen;
    char *k = rkey_build(stack, &heap, table, key, &klen);
    if (!k)
        return -ENOMEM;
    int rc = db_get(s, k, klen, out, len);
    free(heap);
    return rc;
}

/* Appends one list entry (u32 keylen | flags, key, record without its detail) for the user key
 * ukey and its decoded record r. 0 or -ENOMEM. */
static int list_emit(og_str_t ukey, og_rec_t *r, uint32_t flags, char **buf, size_t *cap, size_t *used)
{
    r->detail = (og_str_t){NULL, 0};
    size_t rlen = og_rec_encoded_len(r);
    int rc = node_buf_grow(buf, cap, *used + 4 + ukey.len + rlen);
    if (rc != 0)
        return rc;
    unsigned char *p = (unsigned char *)*buf + *used;
    og_be32_put(p, (uint32_t)ukey.len | flags);
    memcpy(p + 4, ukey.base, ukey.len);
    og_rec_encode(r, p + 4 + ukey.len, rlen);
    *used += 4 + ukey.len + rlen;
    return 0;
}

int node_store_rec_list(node_store_t *s, const node_list_q_t *q, char **buf, size_t *cap, size_t *used,
                        int *truncated)
{
    int rc = 0;
    char pstack[RKEY_STACK], astack[RKEY_STACK], *pheap = NULL, *aheap = NULL;
    char *skip = NULL; /* raw key of the group being skipped, then 0xFF: where its keys end */
    size_t plen, alen, n = 0, skip_len = 0, skip_cap = 0;
    *truncated = 0;
    char *pk = rkey_build(pstack, &pheap, q->table, q->prefix, &plen);
    if (!pk)
        return -ENOMEM;
    size_t base_len = 2 + q->table.len; /* 'r' table '\0' */
    rocksdb_iterator_t *it = rocksdb_create_iterator(s->db, s->ropts);
    /* Keys > after that start with prefix: start at whichever of the two is later. */
    if (q->has_after && og_str_cmp(q->after, q->prefix) >= 0) {
        char *ak = rkey_build(astack, &aheap, q->table, q->after, &alen);
        if (!ak) {
            rc = -ENOMEM;
            goto out_iter;
        }
        iter_seek(it, ak, alen, 1);
    } else {
        iter_seek(it, pk, plen, 0);
    }
    while (rocksdb_iter_valid(it)) {
        size_t klen, vlen;
        const char *k = rocksdb_iter_key(it, &klen);
        if (klen < plen || memcmp(k, pk, plen) != 0)
            break;
        /* A key of the skipped group that the seek did not pass (it holds 0xFF after the group). */
        if (skip_len && klen >= skip_len && memcmp(k, skip, skip_len) == 0) {
            rocksdb_iter_next(it);
            continue;
        }
        if (n == q->limit) {
            *truncated = 1;
            break;
        }
        og_rec_t r;
        const char *v = rocksdb_iter_value(it, &vlen);
        og_str_t ukey = {k + base_len, klen - base_len};
        size_t glen = q->delim.len ? og_key_group_len(ukey, q->prefix, q->delim, 0) : 0;
        if (og_rec_decode(v, vlen, &r) != 0) {
            rc = NODE_CORRUPT_BKPT(s);
            goto out_iter;
        }
        if (r.flags & OG_REC_TOMBSTONE)
            glen = 0; /* a deleted key says nothing about its group: read on */
        if ((rc = list_emit(ukey, &r, glen ? OG_LIST_GROUP_CUT : 0, buf, cap, used)) != 0)
            goto out_iter;
        n++;
        if (glen == 0) {
            rocksdb_iter_next(it);
            continue;
        }
        /* The group holds a live key here: jump past all of it (group + 0xFF sorts after every
         * UTF-8 key under it). */
        skip_len = base_len + glen;
        if ((rc = node_buf_grow(&skip, &skip_cap, skip_len + 1)) != 0)
            goto out_iter;
        memcpy(skip, k, skip_len);
        skip[skip_len] = '\xff';
        rocksdb_iter_seek(it, skip, skip_len + 1);
    }
    rc = iter_status(it);
out_iter:
    rocksdb_iter_destroy(it);
    free(skip);
    free(aheap);
    free(pheap);
    return rc;
}

int node_store_table_list(node_store_t *s, int (*fn)(void *arg, og_str_t table), void *arg)
{
    char seek[2 + 256] = {'r'};
    size_t slen = 1;
    int rc = 0;
    rocksdb_iterator_t *it = rocksdb_create_iterator(s->db, s->ropts);
    /* Visits the first key of each table, then seeks past the whole table: 'r' table '\1' sorts
     * after every 'r' table '\0' key. Cost: one seek per table, not one step per record. */
    for (rocksdb_iter_seek(it, seek, slen); rocksdb_iter_valid(it); rocksdb_iter_seek(it, seek, slen)) {
        size_t klen;
        const char *k = rocksdb_iter_key(it, &klen);
        if (klen == 0 || k[0] != 'r')
            break;
        const char *nul = memchr(k + 1, '\0', klen - 1);
        size_t tlen = nul ? (size_t)(nul - k - 1) : 0;
        if (!nul || tlen == 0 || tlen > 255) {
            rc = NODE_CORRUPT_BKPT(s);
            goto out_iter;
        }
        if ((rc = fn(arg, (og_str_t){k + 1, tlen})) != 0)
            goto out_iter;
        memcpy(seek + 1, k + 1, tlen);
        seek[1 + tlen] = '\1';
        slen = 2 + tlen;
    }
    rc = iter_status(it);
out_iter:
    rocksdb_iter_destroy(it);
    return rc;
}

void node_store_stat(node_store_t *s, node_stat_t *st)
{
    st->chunks = atomic_load(&s->chunks);
    st->chunk_bytes = atomic_load(&s->chunk_bytes);
    st->records = atomic_load(&s->records);
    st->volume_bytes = atomic_load(&s->volume_bytes);
    st->dead_bytes = atomic_load(&s->dead_bytes);
    st->state = atomic_load(&s->state);
    st->last_errno = atomic_load(&s->last_errno);
    st->last_error_ns = atomic_load(&s->last_error_ns);
    st->quarantined = atomic_load(&s->quarantined);
    st->dedup_hits = atomic_load(&s->dedup_hits);
    st->dedup_bytes = atomic_load(&s->dedup_bytes);
    struct statvfs vfs;
    st->free_bytes = st->total_bytes = 0;
    if (fstatvfs(s->vol_dirfd, &vfs) == 0) {
        st->free_bytes = (uint64_t)vfs.f_bavail * vfs.f_frsize;
        st->total_bytes = (uint64_t)vfs.f_blocks * vfs.f_frsize;
    }
    st->allocated_bytes = 0;
    /* What the volumes hold on disk after hole punching; one fstat per volume. */
    pthread_rwlock_rdlock(&s->vols_lock);
    for (uint32_t v = 0; v < s->nvols; v++) {
        struct stat fst;
        if (s->vol_fds[v] >= 0 && fstat(s->vol_fds[v], &fst) == 0)
            st->allocated_bytes += (uint64_t)fst.st_blocks * 512u;
    }
    pthread_rwlock_unlock(&s->vols_lock);
}

int node_store_corrupt_line(node_store_t *s) { return atomic_load(&s->corrupt_line); }

int node_store_error_news(node_store_t *s, node_stat_t *st)
{
    uint64_t ep = atomic_load(&s->episodes), told = atomic_load(&s->news_episode), now = og_time_ns();
    uint64_t last = atomic_load(&s->news_ns);
    /* An episode that ended before it could be told is not news any more. */
    if (ep == told || (last != 0 && now - last < NEWS_INTERVAL_NS) || atomic_load(&s->state) == NODE_DEV_OK)
        return 0;
    /* One caller wins the episode; the others stay quiet. */
    if (!atomic_compare_exchange_strong(&s->news_episode, &told, ep))
        return 0;
    atomic_store(&s->news_ns, now);
    node_store_stat(s, st);
    return 1;
}

int node_store_chunk_scrub(node_store_t *s, const uint8_t id[NODE_ID_LEN], uint32_t *len)
{
    char key[IDX_KEY_LEN];
    idx_ent_t e;
    idx_key(key, id);
    /* Like a read: the range cannot be punched under the guard, and a write is not held up. */
    pthread_rwlock_t *guard = &s->rguard[stripe_idx(key, sizeof(key))];
    pthread_rwlock_rdlock(guard);
    int rc = idx_get(s, id, &e), found = rc == 0;
    if (rc == 0)
        rc = chunk_check(s, id, &e, 1);
    pthread_rwlock_unlock(guard);
    if (rc == OG_ECORRUPT && found)
        chunk_quarantine(s, id, &e);
    if (rc == 0)
        *len = e.len;
    return rc;
}

int node_store_rec_walk(node_store_t *s, const char *after, size_t alen, size_t limit,
                        int (*fn)(void *arg, const char *key, size_t klen, const char *rec, size_t rlen), void *arg,
                        int *done)
{
    int rc = 0;
    size_t n = 0;
    *done = 1;
    rocksdb_iterator_t *it = rocksdb_create_iterator(s->db, s->ropts);
    iter_seek(it, alen ? after : "r", alen ? alen : 1, alen != 0);
    for (; rocksdb_iter_valid(it); rocksdb_iter_next(it)) {
        size_t klen, vlen;
        const char *k = rocksdb_iter_key(it, &klen);
        if (klen == 0 || k[0] != 'r')
            break;
        if (n == limit) {
            *done = 0;
            break;
        }
        const char *v = rocksdb_iter_value(it, &vlen);
        if ((rc = fn(arg, k, klen, v, vlen)) != 0)
            goto out_iter;
        n++;
    }
    rc = iter_status(it);
out_iter:
    rocksdb_iter_destroy(it);
    return rc;
}

/* 'M' + name into key (65 bytes). The key length, 0 when name is empty or too long. */
static size_t mkey_build(char key[65], const char *name)
{
    size_t n = strlen(name);
    if (n == 0 || n > 64)
        return 0;
    key[0] = 'M';
    memcpy(key + 1, name, n);
    return 1 + n;
}

int node_store_meta_put(node_store_t *s, const char *name, const void *val, size_t len)
{
    char key[65], *err = NULL;
    size_t klen = mkey_build(key, name);
    if (klen == 0)
        return OG_EINVAL;
    if (atomic_load(&s->poisoned))
        return NODE_EPOISONED;
    rocksdb_put(s->db, s->wnosync, key, klen, val, len, &err);
    return err ? db_failed(s, err) : 0;
}

int node_store_meta_get(node_store_t *s, const char *name, char **val, size_t *len)
{
    char key[65];
    size_t klen = mkey_build(key, name);
    if (klen == 0)
        return OG_EINVAL;
    return db_get(s, key, klen, val, len);
}

int node_buf_grow(char **buf, size_t *cap, size_t need)
{
    if (need <= *cap)
        return 0;
    size_t ncap = *cap ? *cap : 4096;
    while (ncap < need)
        ncap *= 2;
    char *n = realloc(*buf, ncap);
    if (!n)
        return -ENOMEM;
    *buf = n;
    *cap = ncap;
    return 0;
}
