/* Unit tests for the per-partition index and summaries of the store (storage-node/node_store.c):
 * every write, overwrite and delete keeps each partition's summary equal to one recomputed from
 * the items the device holds, and a rebuild at open gives the same. */
#include "node_int.h"
#include "og_rec.h"

#include <criterion/criterion.h>
#include <ftw.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/stat.h>
#include <xxhash.h>

#define PP 4 /* 16 partitions: several items share one */

static char g_dir[64];

static int rm_one(const char *path, const struct stat *st, int flag, struct FTW *ftw) { return remove(path); }

static void setup(void)
{
    strcpy(g_dir, "/tmp/og_part_XXXXXX");
    cr_assert_not_null(mkdtemp(g_dir));
}

static void teardown(void) { nftw(g_dir, rm_one, 16, FTW_DEPTH | FTW_PHYS); }

static node_store_t *open_store(uint32_t pp)
{
    char path[128];
    node_store_t *s = NULL;
    snprintf(path, sizeof(path), "%s/d1", g_dir);
    cr_assert_eq(node_store_open(path, pp, &s), 0);
    return s;
}

static uint32_t part_of(const void *key, size_t len, uint32_t pp) { return (uint32_t)(XXH3_64bits(key, len) >> (64 - pp)); }

/* The specified item hashes (node_int.h): a chunk's 'c' + id; a record's key and version. */
static uint64_t chunk_hash(const uint8_t id[NODE_ID_LEN])
{
    char k[1 + NODE_ID_LEN] = {'c'};
    memcpy(k + 1, id, NODE_ID_LEN);
    return XXH3_64bits(k, sizeof(k));
}

static uint64_t rec_hash(const char *table, const char *key, const og_rec_t *r)
{
    char k[512];
    unsigned char ver[17];
    size_t tl = strlen(table), kl = strlen(key);
    k[0] = 'r';
    memcpy(k + 1, table, tl);
    k[1 + tl] = '\0';
    memcpy(k + 2 + tl, key, kl);
    og_be64_put(ver, r->ts);
    og_be64_put(ver + 8, r->tiebreak);
    ver[16] = r->flags;
    return XXH3_64bits_withSeed(ver, sizeof(ver), XXH3_64bits(k, 2 + tl + kl));
}

typedef struct {
    uint64_t count[1 << PP], digest[1 << PP];
} expect_t;

static void put_chunk(node_store_t *s, expect_t *e, unsigned n)
{
    uint8_t id[NODE_ID_LEN], buf[64];
    memset(buf, (int)n, sizeof(buf));
    memset(id, 0, sizeof(id));
    id[0] = (uint8_t)n;
    id[1] = (uint8_t)(n >> 8);
    cr_assert_eq(node_store_chunk_put(s, id, buf, sizeof(buf), XXH3_64bits(buf, sizeof(buf))), 0);
    uint32_t p = part_of(id, NODE_ID_LEN, PP);
    e->count[p]++;
    e->digest[p] += chunk_hash(id);
}

static void del_chunk(node_store_t *s, expect_t *e, unsigned n)
{
    uint8_t id[NODE_ID_LEN];
    memset(id, 0, sizeof(id));
    id[0] = (uint8_t)n;
    id[1] = (uint8_t)(n >> 8);
    cr_assert_eq(node_store_chunk_delete(s, id), 0);
    uint32_t p = part_of(id, NODE_ID_LEN, PP);
    e->count[p]--;
    e->digest[p] -= chunk_hash(id);
}

/* Writes table/key at version ts; old is the version it replaces (ts 0: none). */
static void put_rec(node_store_t *s, expect_t *e, const char *table, const char *key, uint64_t ts, uint64_t old_ts,
                    uint8_t flags)
{
    unsigned char buf[128];
    og_rec_t r = {.flags = flags, .ts = ts, .tiebreak = 7, .summary = {"s", 1}, .size = 10};
    long n = og_rec_encode(&r, buf, sizeof(buf));
    cr_assert_eq(node_store_rec_put(s, (og_str_t){table, strlen(table)}, (og_str_t){key, strlen(key)}, buf, (size_t)n),
                 0);
    uint32_t p = part_of(table, strlen(table), PP);
    if (old_ts) {
        og_rec_t o = {.ts = old_ts, .tiebreak = 7};
        e->count[p]--;
        e->digest[p] -= rec_hash(table, key, &o);
    }
    e->count[p]++;
    e->digest[p] += rec_hash(table, key, &r);
}

static void check(node_store_t *s, const expect_t *e)
{
    for (uint32_t p = 0; p < (1u << PP); p++) {
        uint64_t c, d;
        cr_assert_eq(node_store_part_summary(s, p, &c, &d), 0);
        cr_assert_eq(c, e->count[p], "partition %u: count %lu, expected %lu", p, (unsigned long)c,
                     (unsigned long)e->count[p]);
        cr_assert_eq(d, e->digest[p], "partition %u: digest differs", p);
    }
}

typedef struct {
    uint64_t count, digest;
    char last[512];
    size_t llen;
} sum_t;

static int sum_item(void *arg, const char *item, size_t len, uint64_t hash)
{
    sum_t *t = arg;
    t->count++;
    t->digest += hash;
    memcpy(t->last, item, len);
    t->llen = len;
    return 0;
}

/* Each partition's index, listed in pages of 3, adds up to its summary. */
static void check_lists(node_store_t *s, const expect_t *e)
{
    for (uint32_t p = 0; p < (1u << PP); p++) {
        sum_t t = {0};
        int truncated;
        do {
            char after[512];
            size_t alen = t.llen;
            memcpy(after, t.last, alen);
            cr_assert_eq(node_store_part_list(s, p, alen ? after : NULL, alen, 3, sum_item, &t, &truncated), 0);
        } while (truncated);
        cr_assert_eq(t.count, e->count[p]);
        cr_assert_eq(t.digest, e->digest[p]);
    }
}

/* Writes, overwrites, tombstones and deletes across tables and chunks. */
static void workload(node_store_t *s, expect_t *e)
{
    for (unsigned i = 1; i <= 40; i++)
        put_chunk(s, e, i);
    for (unsigned i = 1; i <= 40; i += 3)
        del_chunk(s, e, i);
    static const char *const tables[] = {"buckets", "o.b1", "o.b2", "u.b1"};
    for (unsigned t = 0; t < 4; t++) {
        for (unsigned k = 0; k < 10; k++) {
            char key[16];
            snprintf(key, sizeof(key), "k%u", k);
            put_rec(s, e, tables[t], key, 100, 0, 0);
            if (k % 2)
                put_rec(s, e, tables[t], key, 200, 100, 0);
            if (k % 3 == 0)
                put_rec(s, e, tables[t], key, 300, k % 2 ? 200 : 100, OG_REC_TOMBSTONE);
        }
    }
}

TestSuite(node_part, .init = setup, .fini = teardown);

Test(node_part, summaries_follow_writes_and_deletes)
{
    expect_t e;
    memset(&e, 0, sizeof(e));
    node_store_t *s = open_store(PP);
    check(s, &e);
    workload(s, &e);
    check(s, &e);
    check_lists(s, &e);
    node_store_close(s);
}

Test(node_part, older_record_changes_nothing)
{
    expect_t e;
    memset(&e, 0, sizeof(e));
    node_store_t *s = open_store(PP);
    put_rec(s, &e, "o.b", "k", 500, 0, 0);
    unsigned char buf[128];
    og_rec_t old = {.ts = 400, .tiebreak = 7};
    long n = og_rec_encode(&old, buf, sizeof(buf));
    cr_assert_eq(node_store_rec_put(s, (og_str_t){"o.b", 3}, (og_str_t){"k", 1}, buf, (size_t)n), OG_EEXIST);
    check(s, &e);
    node_store_close(s);
}

Test(node_part, drop_removes_from_summary)
{
    expect_t e;
    memset(&e, 0, sizeof(e));
    node_store_t *s = open_store(PP);
    put_rec(s, &e, "o.b", "k", 500, 0, 0);
    og_rec_t r = {.ts = 500, .tiebreak = 7};
    uint64_t h = rec_hash("o.b", "k", &r);
    cr_assert_eq(node_store_rec_drop(s, (og_str_t){"o.b", 3}, (og_str_t){"k", 1}, h + 1), OG_EEXIST);
    cr_assert_eq(node_store_rec_drop(s, (og_str_t){"o.b", 3}, (og_str_t){"k", 1}, h), 0);
    uint32_t p = part_of("o.b", 3, PP);
    e.count[p]--;
    e.digest[p] -= h;
    check(s, &e);
    uint64_t recs, bytes;
    cr_assert_eq(node_store_table_usage(s, (og_str_t){"o.b", 3}, &recs, &bytes), 0);
    cr_assert_eq(recs, 0);
    cr_assert_eq(bytes, 0);
    node_store_close(s);
}

/* A device opened with another part power (or from before summaries existed) rebuilds them by a
 * scan: the result equals what the writes kept. */
Test(node_part, rebuild_at_open_matches)
{
    expect_t e;
    memset(&e, 0, sizeof(e));
    node_store_t *s = open_store(PP);
    workload(s, &e);
    node_store_close(s);
    s = open_store(PP + 1); /* forces a rebuild for another partitioning ... */
    node_store_close(s);
    s = open_store(PP); /* ... and back: rebuilt from the items alone */
    check(s, &e);
    check_lists(s, &e);
    node_store_close(s);
}

/* A gc sweep's delete leaves a mark that refuses replica pushes; a new write clears it, a plain
 * delete leaves none, and expiry drops old ones. */
Test(node_part, sweep_marks)
{
    expect_t e;
    uint8_t id[NODE_ID_LEN] = {1};
    int swept;
    memset(&e, 0, sizeof(e));
    node_store_t *s = open_store(PP);
    put_chunk(s, &e, 1);
    cr_assert_eq(node_store_chunk_delete_older(s, id, UINT64_MAX), 0);
    e.count[part_of(id, NODE_ID_LEN, PP)]--;
    e.digest[part_of(id, NODE_ID_LEN, PP)] -= chunk_hash(id);
    check(s, &e);
    cr_assert_eq(node_store_chunk_swept(s, id, 0, &swept), 0);
    cr_assert_eq(swept, 1);
    cr_assert_eq(node_store_chunk_swept(s, id, UINT64_MAX, &swept), 0);
    cr_assert_eq(swept, 0, "a mark older than since_ns does not count");
    put_chunk(s, &e, 1);
    cr_assert_eq(node_store_chunk_swept(s, id, 0, &swept), 0);
    cr_assert_eq(swept, 0, "a new write clears the mark");
    cr_assert_eq(node_store_chunk_delete_older(s, id, UINT64_MAX), 0);
    cr_assert_eq(node_store_sweep_marks_expire(s, UINT64_MAX), 0);
    cr_assert_eq(node_store_chunk_swept(s, id, 0, &swept), 0);
    cr_assert_eq(swept, 0, "expired");
    node_store_close(s);
}

/* A chunk write deletes a mark only while the store counts one (no tombstone per chunk on a device
 * no sweep touched), so the count must hold every mark there is: the marks found at open, and one
 * an expiry pass keeps. */
Test(node_part, sweep_marks_counted_at_open_and_kept_by_expiry)
{
    expect_t e;
    uint8_t a[NODE_ID_LEN] = {1}, b[NODE_ID_LEN] = {2};
    int swept;
    memset(&e, 0, sizeof(e));
    node_store_t *s = open_store(PP);
    put_chunk(s, &e, 1);
    put_chunk(s, &e, 2);
    cr_assert_eq(node_store_chunk_delete_older(s, a, UINT64_MAX), 0);
    cr_assert_eq(node_store_chunk_delete_older(s, b, UINT64_MAX), 0);
    node_store_close(s);

    s = open_store(PP); /* the marks were written by an earlier process */
    put_chunk(s, &e, 1);
    cr_assert_eq(node_store_chunk_swept(s, a, 0, &swept), 0);
    cr_assert_eq(swept, 0, "a new write clears a mark found at open");
    cr_assert_eq(node_store_sweep_marks_expire(s, 0), 0); /* keeps b's mark, which is recent */
    uint8_t buf[64];
    memset(buf, 2, sizeof(buf)); /* chunk 2's bytes (put_chunk), through the gateway's batch path */
    node_chunk_in_t in = {b, XXH3_64bits(buf, sizeof(buf)), buf, sizeof(buf)};
    char res;
    cr_assert_eq(node_store_chunk_put_many(s, &in, 1, &res), 0);
    cr_assert_eq(res, NODE_PUT_STORED);
    cr_assert_eq(node_store_chunk_swept(s, b, 0, &swept), 0);
    cr_assert_eq(swept, 0, "a new write clears a mark the expiry pass kept");

    cr_assert_eq(node_store_sweep_marks_expire(s, 0), 0); /* none left: writes add no tombstone */
    cr_assert_eq(node_store_chunk_delete_older(s, a, UINT64_MAX), 0);
    put_chunk(s, &e, 1);
    cr_assert_eq(node_store_chunk_swept(s, a, 0, &swept), 0);
    cr_assert_eq(swept, 0, "a mark made after the pass counted none is cleared too");
    node_store_close(s);
}
