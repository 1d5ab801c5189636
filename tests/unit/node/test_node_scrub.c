/* Unit tests for the store's answers to a full disk and to corrupt copies (quarantine, rewrite on
 * PUT) and for the scrubber (storage-node/node_scrub.c). */
#include "node_int.h"
#include "og_rec.h"

#include <criterion/criterion.h>
#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <openssl/evp.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <unistd.h>
#include <xxhash.h>

static char g_dir[64];

static int rm_one(const char *path, const struct stat *st, int flag, struct FTW *ftw)
{
    return remove(path);
}

static void setup(void)
{
    strcpy(g_dir, "/tmp/og_scrub_XXXXXX");
    cr_assert_not_null(mkdtemp(g_dir));
}

static void teardown(void)
{
    nftw(g_dir, rm_one, 16, FTW_DEPTH | FTW_PHYS);
}

TestSuite(node_scrub, .init = setup, .fini = teardown);

static node_store_t *open_store(void)
{
    char path[128];
    node_store_t *s = NULL;
    snprintf(path, sizeof(path), "%s/d1", g_dir);
    cr_assert_eq(node_store_open(path, 10, &s), 0);
    return s;
}

static void fill(void *buf, size_t len, unsigned seed)
{
    unsigned char *p = buf;
    for (size_t i = 0; i < len; i++) {
        seed = seed * 1103515245u + 12345u;
        p[i] = (unsigned char)(seed >> 16);
    }
}

/* A real chunk id: the SHA-256 of the bytes (the scrubber checks it). */
static void chunk_id(const void *buf, size_t len, uint8_t id[NODE_ID_LEN])
{
    unsigned int n = 0;
    cr_assert_eq(EVP_Digest(buf, len, id, &n, EVP_sha256(), NULL), 1);
}

/* Flips one bit of the byte at off in volume 0. */
static void flip_at(off_t off)
{
    char path[160];
    unsigned char b;
    snprintf(path, sizeof(path), "%s/d1/vol/00000000.vol", g_dir);
    int fd = open(path, O_RDWR);
    cr_assert_geq(fd, 0);
    cr_assert_eq(pread(fd, &b, 1, off), 1);
    b ^= 0x08;
    cr_assert_eq(pwrite(fd, &b, 1, off), 1);
    close(fd);
}

static void put_ok(node_store_t *s, const void *buf, size_t len, uint8_t id[NODE_ID_LEN])
{
    chunk_id(buf, len, id);
    cr_assert_eq(node_store_chunk_put(s, id, buf, len, XXH3_64bits(buf, len)), 0);
}

Test(node_scrub, read_quarantines_corrupt_copy)
{
    node_store_t *s = open_store();
    char data[6000], back[6000];
    uint8_t id[NODE_ID_LEN];
    uint32_t len;
    uint64_t h;
    node_stat_t st;
    fill(data, sizeof(data), 3);
    put_ok(s, data, sizeof(data), id);
    flip_at(48 + 4000);
    cr_assert_eq(node_store_chunk_get(s, id, back, sizeof(back), &len, &h), OG_ECORRUPT);
    /* Out of service: absent from now on (a replica refills it), never "corrupt" again. */
    cr_assert_eq(node_store_chunk_get(s, id, back, sizeof(back), &len, &h), OG_ENOTFOUND);
    cr_assert_eq(node_store_chunk_stat(s, id, &len, &h), OG_ENOTFOUND);
    node_store_stat(s, &st);
    cr_assert_eq(st.chunks, 0);
    cr_assert_eq(st.chunk_bytes, 0);
    cr_assert_eq(st.quarantined, 1);
    node_store_close(s);
}

Test(node_scrub, put_rewrites_corrupt_copy)
{
    node_store_t *s = open_store();
    char data[6000], back[6000];
    uint8_t id[NODE_ID_LEN];
    uint32_t len;
    uint64_t h, x;
    fill(data, sizeof(data), 4);
    x = XXH3_64bits(data, sizeof(data));
    put_ok(s, data, sizeof(data), id);
    /* A good copy: "already present". */
    cr_assert_eq(node_store_chunk_put(s, id, data, sizeof(data), x), OG_EEXIST);
    flip_at(48 + 10);
    /* A bad one is never vouched for: quarantined and stored again from the PUT's bytes. */
    cr_assert_eq(node_store_chunk_put(s, id, data, sizeof(data), x), 0);
    cr_assert_eq(node_store_chunk_get(s, id, back, sizeof(back), &len, &h), 0);
    cr_assert_eq(memcmp(back, data, sizeof(data)), 0);

    /* The batch path: the rewritten copy sits at 6048; damage its header, then put it in a batch. */
    flip_at(6048 + 40);
    node_chunk_in_t in = {id, x, data, sizeof(data)};
    char res;
    cr_assert_eq(node_store_chunk_put_many(s, &in, 1, &res), 0);
    cr_assert_eq(res, NODE_PUT_STORED);
    cr_assert_eq(node_store_chunk_get(s, id, back, sizeof(back), &len, &h), 0);
    cr_assert_eq(memcmp(back, data, sizeof(data)), 0);
    cr_assert_eq(node_store_chunk_put_many(s, &in, 1, &res), 0);
    cr_assert_eq(res, NODE_PUT_EXISTED);
    node_stat_t st;
    node_store_stat(s, &st);
    cr_assert_eq(st.chunks, 1);
    cr_assert_eq(st.chunk_bytes, sizeof(data));
    cr_assert_eq(st.quarantined, 2);
    node_store_close(s);
}

/* A file-size limit (SIGXFSZ ignored: EFBIG) stands in for a full disk: no loop device needed. */
static void limit_file_size(rlim_t max)
{
    struct rlimit rl;
    cr_assert_eq(getrlimit(RLIMIT_FSIZE, &rl), 0);
    rl.rlim_cur = max;
    cr_assert_eq(setrlimit(RLIMIT_FSIZE, &rl), 0);
}

Test(node_scrub, full_disk_refused_then_recovers)
{
    signal(SIGXFSZ, SIG_IGN);
    node_store_t *s = open_store();
    static char big[200000], back[200000];
    char small[100];
    uint8_t id[NODE_ID_LEN], sid[NODE_ID_LEN];
    uint32_t len;
    uint64_t h, x;
    node_stat_t before, st;
    fill(small, sizeof(small), 5);
    fill(big, sizeof(big), 6);
    put_ok(s, small, sizeof(small), sid);
    node_store_stat(s, &before);
    cr_assert_eq(before.state, NODE_DEV_OK);
    cr_assert_gt(before.total_bytes, 0);

    limit_file_size(64 << 10);
    chunk_id(big, sizeof(big), id);
    x = XXH3_64bits(big, sizeof(big));
    cr_assert_eq(node_store_chunk_put(s, id, big, sizeof(big), x), -EFBIG);
    node_store_stat(s, &st);
    cr_assert_eq(st.state, NODE_DEV_FULL);
    cr_assert_eq(st.last_errno, EFBIG);
    /* Nothing was stored, and nothing is reported as grown. */
    cr_assert_eq(st.volume_bytes, before.volume_bytes);
    cr_assert_eq(st.chunks, 1);
    cr_assert_eq(node_store_error_news(s, &st), 1);
    cr_assert_eq(node_store_error_news(s, &st), 0); /* once per episode */
    node_chunk_in_t in = {id, x, big, sizeof(big)};
    char res;
    cr_assert_eq(node_store_chunk_put_many(s, &in, 1, &res), -EFBIG);
    cr_assert_eq(res, NODE_PUT_FAILED);
    cr_assert_eq(node_store_chunk_stat(s, id, &len, &h), OG_ENOTFOUND);
    /* Not poisoned: records (small) still go through. */
    og_rec_t r = {.ts = 1, .size = 1};
    char rec[256];
    size_t rlen = (size_t)og_rec_encode(&r, rec, sizeof(rec));
    cr_assert_eq(node_store_rec_put(s, OG_STR_LIT("t"), OG_STR_LIT("k"), rec, rlen), 0);

    /* Space freed: writes work again and the episode ends. */
    limit_file_size(RLIM_INFINITY);
    cr_assert_eq(node_store_chunk_put(s, id, big, sizeof(big), x), 0);
    cr_assert_eq(node_store_chunk_get(s, id, back, sizeof(back), &len, &h), 0);
    cr_assert_eq(memcmp(back, big, sizeof(big)), 0);
    cr_assert_eq(node_store_chunk_get(s, sid, back, sizeof(back), &len, &h), 0);
    node_store_stat(s, &st);
    cr_assert_eq(st.state, NODE_DEV_OK);
    cr_assert_eq(st.volume_bytes, before.volume_bytes + 48 + sizeof(big));
    node_store_close(s);
}

/* Starts a fast scrubber and waits (at most 10 s) until it finished a pass. */
static node_scrub_t *scrub_one_pass(node_store_t *s, node_scrub_stat_t *z)
{
    node_scrub_opts_t o = {.bytes_rate = 1u << 30, .interval_ns = 3600ull * 1000000000ull};
    node_scrub_t *sc;
    cr_assert_eq(node_scrub_start(s, "d1", &o, &sc), 0);
    for (int i = 0; i < 1000; i++) {
        node_scrub_stat(sc, z);
        if (z->passes > 0)
            break;
        usleep(10000);
    }
    cr_assert_eq(z->passes, 1);
    return sc;
}

Test(node_scrub, scrubber_finds_unread_flip)
{
    node_store_t *s = open_store();
    char a[3000], b[5000], c[7000];
    uint8_t ia[NODE_ID_LEN], ib[NODE_ID_LEN], ic[NODE_ID_LEN];
    uint32_t len;
    uint64_t h;
    node_scrub_stat_t z;
    fill(a, sizeof(a), 1), fill(b, sizeof(b), 2), fill(c, sizeof(c), 3);
    put_ok(s, a, sizeof(a), ia);
    put_ok(s, b, sizeof(b), ib);
    put_ok(s, c, sizeof(c), ic);
    og_rec_t r = {.ts = 1, .size = 1};
    char rec[256];
    size_t rlen = (size_t)og_rec_encode(&r, rec, sizeof(rec));
    cr_assert_eq(node_store_rec_put(s, OG_STR_LIT("t"), OG_STR_LIT("k"), rec, rlen), 0);
    flip_at(3048 + 48 + 2500); /* inside b, which nobody reads */

    node_scrub_t *sc = scrub_one_pass(s, &z);
    cr_assert_eq(z.chunks_verified, 2);
    cr_assert_eq(z.corrupt_found, 1);
    cr_assert_eq(z.bytes_verified, sizeof(a) + sizeof(c));
    cr_assert_eq(z.records_verified, 1);
    cr_assert_eq(z.records_bad, 0);
    cr_assert_neq(z.last_pass_ns, 0);
    cr_assert_eq(node_store_chunk_stat(s, ib, &len, &h), OG_ENOTFOUND);
    cr_assert_eq(node_store_chunk_stat(s, ia, &len, &h), 0);
    node_scrub_stop(sc);
    node_store_close(s);
}

Test(node_scrub, scrubber_checks_id_and_resumes)
{
    node_store_t *s = open_store();
    char a[3000];
    uint8_t ids[3][NODE_ID_LEN];
    node_scrub_stat_t z;
    fill(a, sizeof(a), 9);
    /* A copy whose bytes match their xxh3 but not their id is corrupt too. */
    memset(ids[0], 0x11, NODE_ID_LEN);
    cr_assert_eq(node_store_chunk_put(s, ids[0], a, 100, XXH3_64bits(a, 100)), 0);
    put_ok(s, a + 100, 1000, ids[1]);
    put_ok(s, a + 1100, 1000, ids[2]);
    /* A saved position past every chunk (phase 'c', cursor 0xff..): this pass checks records only. */
    unsigned char pos[17 + NODE_ID_LEN] = {'c'};
    og_be64_put(pos + 1, og_time_ns()); /* the pass started now: the next one is an hour away */
    memset(pos + 17, 0xff, NODE_ID_LEN);
    cr_assert_eq(node_store_meta_put(s, "scrub", pos, sizeof(pos)), 0);
    node_scrub_t *sc = scrub_one_pass(s, &z);
    cr_assert_eq(z.chunks_verified, 0);
    node_scrub_stop(sc);
    /* The next pass (position saved as "waiting", interval 0) covers everything. */
    node_scrub_opts_t o = {.bytes_rate = 1u << 30, .interval_ns = 0};
    cr_assert_eq(node_scrub_start(s, "d1", &o, &sc), 0);
    for (int i = 0; i < 1000 && (node_scrub_stat(sc, &z), z.passes == 0); i++)
        usleep(10000);
    node_scrub_stop(sc);
    cr_assert_geq(z.passes, 1);
    cr_assert_geq(z.corrupt_found, 1);
    uint32_t len;
    uint64_t h;
    cr_assert_eq(node_store_chunk_stat(s, ids[0], &len, &h), OG_ENOTFOUND);
    cr_assert_eq(node_store_chunk_stat(s, ids[1], &len, &h), 0);
    node_store_close(s);
}
