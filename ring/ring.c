/*
 * ring.c: the lookup side of the ring (partition of a key, primaries, handoffs) and the ring
 * file (load/save). The builder lives in ring_build.c.
 *
 * File layout, all integers big-endian:
 *   "ONGGIRNG" | u32 version (2) | u64 epoch | u32 part_power | u32 replicas | u32 min_part_hours |
 *   u32 next_id | u32 ndev | ndev x device | nparts*replicas x u32 dev id (RING_NONE = empty) |
 *   nparts x i64 last_moved | u64 xxh3_64 of every byte before it
 *   device = u32 id | u32 zone | u8 flags (bit 0: removed) | u64 weight (IEEE-754 bits) |
 *            u8 addr_len | addr | u8 name_len | name
 * Version 1 files (before epochs) have no epoch field and load with epoch 0.
 */
#include "ring_int.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/stat.h>
#include <unistd.h>
#include <xxhash.h>

#define RING_MAGIC "ONGGIRNG"
#define RING_MAGIC_LEN 8
#define RING_FILE_VERSION 2u
#define RING_FILE_VERSION_NO_EPOCH 1u
#define RING_FLAG_REMOVED 1u

int ring_alloc(uint32_t part_power, uint32_t replicas, uint32_t min_part_hours, ring_t **out)
{
    int rc = 0;
    ring_t *ring = NULL;

    if (part_power < 1 || part_power > RING_PART_POWER_MAX || replicas < 1 || replicas > RING_MAX_REPLICAS)
        return OG_EINVAL;
    if ((ring = calloc(1, sizeof(*ring))) == NULL)
        return -ENOMEM;
    ring->part_power = part_power;
    ring->replicas = replicas;
    ring->min_part_hours = min_part_hours;
    ring->nparts = 1u << part_power;
    ring->table = malloc((size_t)ring->nparts * replicas * sizeof(*ring->table));
    ring->last_moved = malloc((size_t)ring->nparts * sizeof(*ring->last_moved));
    if (ring->table == NULL || ring->last_moved == NULL) {
        rc = -ENOMEM;
        goto out_free_ring;
    }
    for (size_t i = 0; i < (size_t)ring->nparts * replicas; i++)
        ring->table[i] = RING_NONE;
    for (uint32_t p = 0; p < ring->nparts; p++)
        ring->last_moved[p] = RING_NEVER;
    *out = ring;
    return 0;

out_free_ring:
    ring_free(ring);
    return rc;
}

void ring_free(ring_t *ring)
{
    if (ring == NULL)
        return;
    free(ring->devs);
    free(ring->id2idx);
    free(ring->table);
    free(ring->last_moved);
    free(ring);
}

void ring_reindex(ring_t *ring, int recount)
{
    for (uint32_t id = 0; id < ring->next_id; id++)
        ring->id2idx[id] = RING_NONE;
    for (size_t i = 0; i < ring->ndev; i++) {
        ring->id2idx[ring->devs[i].pub.id] = (uint32_t)i;
        if (recount)
            ring->devs[i].assigned = 0;
    }
    if (!recount)
        return;
    for (size_t i = 0; i < (size_t)ring->nparts * ring->replicas; i++) {
        ring_devrec_t *rec = ring_rec_of(ring, ring->table[i]);
        if (rec != NULL)
            rec->assigned++;
    }
}

/* ---- lookup ---- */

uint64_t ring_epoch(const ring_t *ring)
{
    return ring->epoch;
}

uint32_t ring_part_power(const ring_t *ring)
{
    return ring->part_power;
}

uint32_t ring_replica_count(const ring_t *ring)
{
    return ring->replicas;
}

uint32_t ring_part(const ring_t *ring, const void *key, size_t len)
{
    return (uint32_t)(XXH3_64bits(key, len) >> (64 - ring->part_power));
}

size_t ring_primaries(const ring_t *ring, uint32_t part, const ring_dev_t **devs, size_t cap)
{
    size_t n = 0;

    if (part >= ring->nparts)
        return 0;
    const uint32_t *slot = &ring->table[(size_t)part * ring->replicas];
    for (uint32_t r = 0; r < ring->replicas && n < cap; r++) {
        const ring_devrec_t *rec = ring_rec_of(ring, slot[r]);
        if (rec != NULL)
            devs[n++] = &rec->pub;
    }
    return n;
}

/* A well-mixed 64-bit value from (part, id) so every partition gets its own handoff order
 * (murmur3's finalizer: fixed constants, so every process computes the same order). */
static uint64_t ring_mix(uint32_t part, uint32_t id)
{
    uint64_t x = ((uint64_t)part << 32) | id;
    x ^= x >> 33;
    x *= 0xff51afd7ed558ccdULL;
    x ^= x >> 33;
    x *= 0xc4ceb9fe1a85ec53ULL;
    x ^= x >> 33;
    return x;
}

/* Handoff rank of a device for a partition whose primaries are prim[0..np): tier 0 = zone no
 * primary uses, 1 = zone used but node (addr) not, 2 = node used too; 3 = not a handoff at all
 * (a primary, or weight 0: draining devices should not collect new data). */
static unsigned ring_handoff_tier(const ring_dev_t *dev, const ring_dev_t *const *prim, size_t np)
{
    unsigned tier = 0;

    if (!(dev->weight > 0))
        return 3;
    for (size_t i = 0; i < np; i++) {
        if (prim[i] == dev)
            return 3;
        if (strcmp(prim[i]->addr, dev->addr) == 0)
            tier = 2;
        else if (prim[i]->zone == dev->zone && tier < 1)
            tier = 1;
    }
    return tier;
}

const ring_dev_t *ring_handoff(const ring_t *ring, uint32_t part, size_t i)
{
    const ring_dev_t *prim[RING_MAX_REPLICAS];
    size_t np;
    /* Order = (tier, mix(part, id)); keys are unique because mix is a bijection of (part, id).
     * The i-th is found by i+1 selection passes, without allocating: callers walk only the
     * first few handoffs, and only when a primary failed. */
    unsigned prev_tier = 0;
    uint64_t prev_mix = 0;
    int have_prev = 0;
    const ring_dev_t *found = NULL;

    if (part >= ring->nparts)
        return NULL;
    np = ring_primaries(ring, part, prim, RING_MAX_REPLICAS);
    for (size_t step = 0; step <= i; step++) {
        unsigned best_tier = 3;
        uint64_t best_mix = 0;
        found = NULL;
        for (size_t d = 0; d < ring->ndev; d++) {
            const ring_dev_t *dev = &ring->devs[d].pub;
            unsigned tier = ring_handoff_tier(dev, prim, np);
            uint64_t mix = ring_mix(part, dev->id);
            if (tier == 3)
                continue;
            if (have_prev && (tier < prev_tier || (tier == prev_tier && mix <= prev_mix)))
                continue;
            if (found == NULL || tier < best_tier || (tier == best_tier && mix < best_mix)) {
                found = dev;
                best_tier = tier;
                best_mix = mix;
            }
        }
        if (found == NULL)
            return NULL;
        prev_tier = best_tier;
        prev_mix = best_mix;
        have_prev = 1;
    }
    return found;
}

size_t ring_dev_count(const ring_t *ring)
{
    return ring->ndev;
}

const ring_dev_t *ring_dev_at(const ring_t *ring, size_t i)
{
    return i < ring->ndev ? &ring->devs[i].pub : NULL;
}

/* ---- file ---- */

typedef struct {
    uint8_t *buf;
    size_t len;
} ring_wbuf_t;

static void ring_put_u8(ring_wbuf_t *w, uint8_t v)
{
    w->buf[w->len++] = v;
}

static void ring_put_u32(ring_wbuf_t *w, uint32_t v)
{
    for (int s = 24; s >= 0; s -= 8)
        w->buf[w->len++] = (uint8_t)(v >> s);
}

static void ring_put_u64(ring_wbuf_t *w, uint64_t v)
{
    for (int s = 56; s >= 0; s -= 8)
        w->buf[w->len++] = (uint8_t)(v >> s);
}

static void ring_put_bytes(ring_wbuf_t *w, const void *p, size_t n)
{
    memcpy(w->buf + w->len, p, n);
    w->len += n;
}

/* Bytes of the whole encoded ring, checksum included. */
static size_t ring_encoded_size(const ring_t *ring)
{
    size_t n = RING_MAGIC_LEN + 6 * 4 + 8;
    for (size_t i = 0; i < ring->ndev; i++)
        n += 4 + 4 + 1 + 8 + 1 + strlen(ring->devs[i].pub.addr) + 1 + strlen(ring->devs[i].pub.name);
    n += (size_t)ring->nparts * ring->replicas * 4 + (size_t)ring->nparts * 8;
    return n + 8;
}

static void ring_encode(const ring_t *ring, ring_wbuf_t *w)
{
    ring_put_bytes(w, RING_MAGIC, RING_MAGIC_LEN);
    ring_put_u32(w, RING_FILE_VERSION);
    ring_put_u64(w, ring->epoch);
    ring_put_u32(w, ring->part_power);
    ring_put_u32(w, ring->replicas);
    ring_put_u32(w, ring->min_part_hours);
    ring_put_u32(w, ring->next_id);
    ring_put_u32(w, (uint32_t)ring->ndev);
    for (size_t i = 0; i < ring->ndev; i++) {
        const ring_devrec_t *rec = &ring->devs[i];
        uint64_t wbits;
        size_t alen = strlen(rec->pub.addr), nlen = strlen(rec->pub.name);
        memcpy(&wbits, &rec->pub.weight, sizeof(wbits));
        ring_put_u32(w, rec->pub.id);
        ring_put_u32(w, rec->pub.zone);
        ring_put_u8(w, rec->removed ? RING_FLAG_REMOVED : 0);
        ring_put_u64(w, wbits);
        ring_put_u8(w, (uint8_t)alen);
        ring_put_bytes(w, rec->pub.addr, alen);
        ring_put_u8(w, (uint8_t)nlen);
        ring_put_bytes(w, rec->pub.name, nlen);
    }
    for (size_t i = 0; i < (size_t)ring->nparts * ring->replicas; i++)
        ring_put_u32(w, ring->table[i]);
    for (uint32_t p = 0; p < ring->nparts; p++)
        ring_put_u64(w, (uint64_t)ring->last_moved[p]);
    ring_put_u64(w, XXH3_64bits(w->buf, w->len));
}

/* Writes all of buf, retrying short writes and EINTR. 0 or -errno. */
static int ring_write_all(int fd, const uint8_t *buf, size_t len)
{
    while (len > 0) {
        ssize_t n = write(fd, buf, len);
        if (n < 0) {
            if (errno == EINTR)
                continue;
            return -errno;
        }
        buf += n;
        len -= (size_t)n;
    }
    return 0;
}

/* fsyncs the directory holding path, so a rename into it survives power loss. */
static int ring_fsync_dir(const char *path)
{
    int rc = 0, fd;
    char dir[PATH_MAX];
    const char *slash = strrchr(path, '/');

    if (slash == NULL) {
        strcpy(dir, ".");
    } else if (slash == path) {
        strcpy(dir, "/");
    } else {
        if ((size_t)(slash - path) >= sizeof(dir))
            return -ENAMETOOLONG;
        memcpy(dir, path, (size_t)(slash - path));
        dir[slash - path] = '\0';
    }
    if ((fd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC)) < 0)
        return -errno;
    if (fsync(fd) != 0)
        rc = -errno;
    close(fd);
    return rc;
}

int ring_to_bytes(const ring_t *ring, uint8_t **out, size_t *len)
{
    ring_wbuf_t w = {malloc(ring_encoded_size(ring)), 0};

    if (w.buf == NULL)
        return -ENOMEM;
    ring_encode(ring, &w);
    *out = w.buf;
    *len = w.len;
    return 0;
}

int ring_save(const ring_t *ring, const char *path)
{
    int rc = 0, fd;
    ring_wbuf_t w = {NULL, 0};
    char tmp[PATH_MAX];

    if (snprintf(tmp, sizeof(tmp), "%s.tmp.XXXXXX", path) >= (int)sizeof(tmp))
        return -ENAMETOOLONG;
    if ((rc = ring_to_bytes(ring, &w.buf, &w.len)) != 0)
        return rc;
    /* A reader must see either the old ring or the new one, never a torn file: write a
     * temporary file beside it, make it durable, then rename over the old name. */
    if ((fd = mkostemp(tmp, O_CLOEXEC)) < 0) {
        rc = -errno;
        goto out_free_buf;
    }
    if (fchmod(fd, 0644) != 0 || (rc = ring_write_all(fd, w.buf, w.len)) != 0 || fsync(fd) != 0) {
        rc = rc != 0 ? rc : -errno;
        close(fd);
        goto out_unlink_tmp;
    }
    if (close(fd) != 0) {
        rc = -errno;
        goto out_unlink_tmp;
    }
    if (rename(tmp, path) != 0) {
        rc = -errno;
        goto out_unlink_tmp;
    }
    /* The new ring is in place either way; an error here says it may not survive a crash. */
    rc = ring_fsync_dir(path);
    goto out_free_buf;

out_unlink_tmp:
    unlink(tmp);
out_free_buf:
    free(w.buf);
    return rc;
}

typedef struct {
    const uint8_t *p;
    size_t len;
    size_t off;
    int bad; /* set once a read ran past the end; later reads return 0 */
} ring_rbuf_t;

static const uint8_t *ring_take(ring_rbuf_t *r, size_t n)
{
    const uint8_t *at;
    if (r->bad || r->len - r->off < n) {
        r->bad = 1;
        return NULL;
    }
    at = r->p + r->off;
    r->off += n;
    return at;
}

static uint8_t ring_get_u8(ring_rbuf_t *r)
{
    const uint8_t *b = ring_take(r, 1);
    return b ? b[0] : 0;
}

static uint32_t ring_get_u32(ring_rbuf_t *r)
{
    const uint8_t *b = ring_take(r, 4);
    return b ? (uint32_t)b[0] << 24 | (uint32_t)b[1] << 16 | (uint32_t)b[2] << 8 | b[3] : 0;
}

static uint64_t ring_get_u64(ring_rbuf_t *r)
{
    uint64_t hi = ring_get_u32(r);
    return hi << 32 | ring_get_u32(r);
}

/* Reads a u8-length-prefixed string into dst (capacity cap, NUL-terminated). 0 or RING_EBADFILE. */
static int ring_get_str(ring_rbuf_t *r, char *dst, size_t cap)
{
    size_t n = ring_get_u8(r);
    const uint8_t *b = ring_take(r, n);
    if (b == NULL || n == 0 || n >= cap || memchr(b, '\0', n) != NULL)
        return RING_EBADFILE;
    memcpy(dst, b, n);
    dst[n] = '\0';
    return 0;
}

/* Reads the whole file into *buf (caller frees). 0 or -errno. */
static int ring_read_file(const char *path, uint8_t **buf, size_t *len)
{
    int rc = 0, fd;
    struct stat st;
    uint8_t *data = NULL;
    size_t got = 0;

    if ((fd = open(path, O_RDONLY | O_CLOEXEC)) < 0)
        return -errno;
    if (fstat(fd, &st) != 0) {
        rc = -errno;
        goto out_close_fd;
    }
    /* +1 so an empty file still gets a real allocation. */
    if ((data = malloc((size_t)st.st_size + 1)) == NULL) {
        rc = -ENOMEM;
        goto out_close_fd;
    }
    while (got < (size_t)st.st_size) {
        ssize_t n = read(fd, data + got, (size_t)st.st_size - got);
        if (n < 0 && errno == EINTR)
            continue;
        if (n < 0) {
            rc = -errno;
            goto out_free_data;
        }
        if (n == 0)
            break; /* shrank under us: the checksum will reject what we got */
        got += (size_t)n;
    }
    *buf = data;
    *len = got;
    data = NULL;
out_free_data:
    free(data);
out_close_fd:
    close(fd);
    return rc;
}

/* Parses the checksum-verified body into a new ring. 0, RING_EBADFILE or -ENOMEM. */
static int ring_decode(ring_rbuf_t *r, ring_t **out)
{
    int rc = 0;
    ring_t *ring = NULL;
    uint32_t part_power, replicas, min_part_hours, next_id, ndev, version;
    uint64_t epoch = 0;

    ring_take(r, RING_MAGIC_LEN);
    version = ring_get_u32(r);
    if (version != RING_FILE_VERSION && version != RING_FILE_VERSION_NO_EPOCH)
        return RING_EBADFILE;
    if (version == RING_FILE_VERSION)
        epoch = ring_get_u64(r);
    part_power = ring_get_u32(r);
    replicas = ring_get_u32(r);
    min_part_hours = ring_get_u32(r);
    next_id = ring_get_u32(r);
    ndev = ring_get_u32(r);
    /* Check the sizes before allocating, so a bogus header cannot make us allocate gigabytes. */
    if (r->bad || ndev > next_id || next_id == RING_NONE || part_power < 1 || part_power > RING_PART_POWER_MAX ||
        replicas < 1 || replicas > RING_MAX_REPLICAS ||
        r->len - r->off < ((size_t)1 << part_power) * (replicas * 4 + 8) + (size_t)ndev * 19)
        return RING_EBADFILE;
    if ((rc = ring_alloc(part_power, replicas, min_part_hours, &ring)) != 0)
        return rc;
    ring->epoch = epoch;
    ring->next_id = next_id;
    ring->devs = calloc(ndev ? ndev : 1, sizeof(*ring->devs));
    ring->id2idx = malloc((next_id ? next_id : 1) * sizeof(*ring->id2idx));
    if (ring->devs == NULL || ring->id2idx == NULL) {
        rc = -ENOMEM;
        goto out_free_ring;
    }
    ring->devcap = ndev;
    for (size_t i = 0; i < ndev; i++) {
        ring_devrec_t *rec = &ring->devs[i];
        uint64_t wbits;
        rec->pub.id = ring_get_u32(r);
        rec->pub.zone = ring_get_u32(r);
        rec->removed = (ring_get_u8(r) & RING_FLAG_REMOVED) != 0;
        wbits = ring_get_u64(r);
        memcpy(&rec->pub.weight, &wbits, sizeof(wbits));
        if (ring_get_str(r, rec->pub.addr, sizeof(rec->pub.addr)) != 0 ||
            ring_get_str(r, rec->pub.name, sizeof(rec->pub.name)) != 0 || r->bad || rec->pub.id >= next_id ||
            (i > 0 && rec->pub.id <= ring->devs[i - 1].pub.id) || !isfinite(rec->pub.weight) || rec->pub.weight < 0) {
            rc = RING_EBADFILE;
            goto out_free_ring;
        }
        ring->ndev++;
    }
    ring_reindex(ring, 0);
    for (size_t i = 0; i < (size_t)ring->nparts * replicas; i++) {
        ring->table[i] = ring_get_u32(r);
        if (ring->table[i] != RING_NONE && ring_rec_of(ring, ring->table[i]) == NULL) {
            rc = RING_EBADFILE;
            goto out_free_ring;
        }
    }
    for (uint32_t p = 0; p < ring->nparts; p++)
        ring->last_moved[p] = (int64_t)ring_get_u64(r);
    if (r->bad || r->off != r->len) {
        rc = RING_EBADFILE;
        goto out_free_ring;
    }
    ring_reindex(ring, 1);
    *out = ring;
    return 0;

out_free_ring:
    ring_free(ring);
    return rc;
}

int ring_from_bytes(const void *bytes, size_t len, ring_t **out)
{
    const uint8_t *buf = bytes;
    ring_rbuf_t r;

    if (len < RING_MAGIC_LEN + 4 + 8 || memcmp(buf, RING_MAGIC, RING_MAGIC_LEN) != 0)
        return RING_EBADFILE;
    r = (ring_rbuf_t){buf + len - 8, 8, 0, 0};
    if (ring_get_u64(&r) != XXH3_64bits(buf, len - 8))
        return RING_EBADFILE;
    r = (ring_rbuf_t){buf, len - 8, 0, 0};
    return ring_decode(&r, out);
}

int ring_load(const char *path, ring_t **out)
{
    int rc;
    uint8_t *buf = NULL;
    size_t len = 0;

    if ((rc = ring_read_file(path, &buf, &len)) != 0)
        return rc;
    rc = ring_from_bytes(buf, len, out);
    free(buf);
    return rc;
}
