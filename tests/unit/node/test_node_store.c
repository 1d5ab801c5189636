/* Unit tests for the per-device store (storage-node/node_store.c). */
#include "node_int.h"
#include "og_rec.h"

#include <criterion/criterion.h>
#include <rocksdb/c.h>
#include <stdatomic.h>
#include <fcntl.h>
#include <ftw.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/mman.h>
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
    strcpy(g_dir, "/tmp/og_store_XXXXXX");
    cr_assert_not_null(mkdtemp(g_dir));
}

static void teardown(void) { nftw(g_dir, rm_one, 16, FTW_DEPTH | FTW_PHYS); }

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

static void make_id(uint8_t id[NODE_ID_LEN], unsigned n)
{
    memset(id, 0, NODE_ID_LEN);
    id[0] = (uint8_t)(n >> 8);
    id[1] = (uint8_t)n;
    id[31] = 0xab;
}

/* Runs fn on 4 threads at once, thread t with args + t * size, and waits for them. */
static void run_4_threads(void *(*fn)(void *), void *args, size_t size)
{
    pthread_t th[4];
    for (int t = 0; t < 4; t++)
        cr_assert_eq(pthread_create(&th[t], NULL, fn, (char *)args + (size_t)t * size), 0);
    for (int t = 0; t < 4; t++)
        pthread_join(th[t], NULL);
}

TestSuite(node_store, .init = setup, .fini = teardown);

Test(node_store, put_get_verify)
{
    node_store_t *s = open_store();
    size_t len = 100000;
    char *data = malloc(len), *back = malloc(NODE_CHUNK_MAX);
    uint8_t id[NODE_ID_LEN];
    fill(data, len, 1);
    make_id(id, 1);
    uint64_t h = XXH3_64bits(data, len);
    cr_assert_eq(node_store_chunk_put(s, id, data, len, h), 0);
    uint32_t glen;
    uint64_t gh;
    cr_assert_eq(node_store_chunk_get(s, id, back, NODE_CHUNK_MAX, &glen, &gh), 0);
    cr_assert_eq(glen, len);
    cr_assert_eq(gh, h);
    cr_assert_eq(memcmp(back, data, len), 0);
    cr_assert_eq(node_store_chunk_stat(s, id, &glen, &gh), 0);
    cr_assert_eq(glen, len);

    /* A wrong digest stores nothing. */
    uint8_t id2[NODE_ID_LEN];
    make_id(id2, 2);
    cr_assert_eq(node_store_chunk_put(s, id2, data, len, h ^ 1), OG_EBADDIGEST);
    cr_assert_eq(node_store_chunk_stat(s, id2, &glen, &gh), OG_ENOTFOUND);
    cr_assert_eq(node_store_chunk_get(s, id2, back, NODE_CHUNK_MAX, &glen, &gh), OG_ENOTFOUND);
    glen = 0;
    cr_assert_eq(node_store_chunk_get(s, id, back, 10, &glen, &gh), OG_ETOOBIG);
    cr_assert_eq(glen, len); /* the size to grow to (the node's /read asks again with it) */

    /* Empty chunk works too. */
    cr_assert_eq(node_store_chunk_put(s, id2, data, 0, XXH3_64bits(data, 0)), 0);
    cr_assert_eq(node_store_chunk_get(s, id2, back, NODE_CHUNK_MAX, &glen, &gh), 0);
    cr_assert_eq(glen, 0);

    node_stat_t st;
    node_store_stat(s, &st);
    cr_assert_eq(st.chunks, 2);
    cr_assert_eq(st.chunk_bytes, len);
    cr_assert_eq(st.volume_bytes, len + 2 * 48);

    cr_assert_eq(node_store_chunk_delete(s, id), 0);
    cr_assert_eq(node_store_chunk_delete(s, id), OG_ENOTFOUND);
    cr_assert_eq(node_store_chunk_get(s, id, back, NODE_CHUNK_MAX, &glen, &gh), OG_ENOTFOUND);
    node_store_stat(s, &st);
    cr_assert_eq(st.chunks, 1);
    cr_assert_eq(st.chunk_bytes, 0);
    node_store_close(s);
    free(data);
    free(back);
}

static void corrupt_at(off_t off)
{
    char path[160];
    snprintf(path, sizeof(path), "%s/d1/vol/00000000.vol", g_dir);
    int fd = open(path, O_RDWR);
    cr_assert_geq(fd, 0);
    unsigned char b;
    cr_assert_eq(pread(fd, &b, 1, off), 1);
    b ^= 0x40;
    cr_assert_eq(pwrite(fd, &b, 1, off), 1);
    close(fd);
}

Test(node_store, corruption_detected)
{
    node_store_t *s = open_store();
    char data[5000], back[5000];
    uint8_t a[NODE_ID_LEN], b[NODE_ID_LEN];
    fill(data, sizeof(data), 7);
    make_id(a, 1);
    make_id(b, 2);
    cr_assert_eq(node_store_chunk_put(s, a, data, sizeof(data), XXH3_64bits(data, sizeof(data))), 0);
    cr_assert_eq(node_store_chunk_put(s, b, data, 100, XXH3_64bits(data, 100)), 0);
    uint32_t len;
    uint64_t h;
    corrupt_at(48 + 1234); /* inside a's bytes */
    memset(back, 0, sizeof(back));
    cr_assert_eq(node_store_chunk_get(s, a, back, sizeof(back), &len, &h), OG_ECORRUPT);
    cr_assert_neq(node_store_corrupt_line(s), 0);
    /* The neighbour is untouched and still served. */
    cr_assert_eq(node_store_chunk_get(s, b, back, sizeof(back), &len, &h), 0);
    cr_assert_eq(memcmp(back, data, 100), 0);
    /* A damaged header (the id in b's header) is caught too. */
    corrupt_at(48 + 5000 + 4 + 3);
    cr_assert_eq(node_store_chunk_get(s, b, back, sizeof(back), &len, &h), OG_ECORRUPT);
    node_store_close(s);
}

typedef struct {
    node_store_t *s;
    const void *data;
    size_t len;
    unsigned id;
    int rc;
} put_arg_t;

static void *put_thread(void *p)
{
    put_arg_t *a = p;
    uint8_t id[NODE_ID_LEN];
    make_id(id, a->id);
    a->rc = node_store_chunk_put(a->s, id, a->data, a->len, XXH3_64bits(a->data, a->len));
    return NULL;
}

Test(node_store, duplicate_stored_once)
{
    node_store_t *s = open_store();
    static char data[200000];
    fill(data, sizeof(data), 3);
    put_arg_t args[6];
    pthread_t th[6];
    for (int i = 0; i < 6; i++) {
        args[i] = (put_arg_t){s, data, sizeof(data), 42, -1};
        pthread_create(&th[i], NULL, put_thread, &args[i]);
    }
    int stored = 0, dup = 0;
    for (int i = 0; i < 6; i++) {
        pthread_join(th[i], NULL);
        stored += args[i].rc == 0;
        dup += args[i].rc == OG_EEXIST;
    }
    cr_assert_eq(stored, 1);
    cr_assert_eq(dup, 5);
    node_stat_t st;
    node_store_stat(s, &st);
    cr_assert_eq(st.chunks, 1);
    cr_assert_eq(st.volume_bytes, sizeof(data) + 48);
    node_store_close(s);
}

Test(node_store, concurrent_group_commit)
{
    node_store_t *s = open_store();
    enum { N = 24 };
    static char data[N][3000];
    put_arg_t args[N];
    pthread_t th[N];
    for (int i = 0; i < N; i++) {
        fill(data[i], sizeof(data[i]), (unsigned)i + 100);
        args[i] = (put_arg_t){s, data[i], sizeof(data[i]), (unsigned)i + 1, -1};
        pthread_create(&th[i], NULL, put_thread, &args[i]);
    }
    for (int i = 0; i < N; i++) {
        pthread_join(th[i], NULL);
        cr_assert_eq(args[i].rc, 0);
    }
    char back[3000];
    for (int i = 0; i < N; i++) {
        uint8_t id[NODE_ID_LEN];
        uint32_t len;
        uint64_t h;
        make_id(id, (unsigned)i + 1);
        cr_assert_eq(node_store_chunk_get(s, id, back, sizeof(back), &len, &h), 0);
        cr_assert_eq(memcmp(back, data[i], sizeof(back)), 0);
    }
    node_store_close(s);
}

static int rec_put(node_store_t *s, const char *table, const char *key, uint64_t ts, uint64_t tb, uint8_t flags,
                   const char *summary, const char *detail)
{
    og_rec_t r = {flags, ts, tb, og_str(summary), og_str(detail), 0};
    char buf[1024];
    long n = og_rec_encode(&r, buf, sizeof(buf));
    cr_assert_gt(n, 0);
    return node_store_rec_put(s, og_str(table), og_str(key), buf, (size_t)n);
}

static og_rec_t rec_get(node_store_t *s, const char *table, const char *key, char **owner)
{
    size_t len;
    og_rec_t r;
    cr_assert_eq(node_store_rec_get(s, og_str(table), og_str(key), owner, &len), 0);
    cr_assert_eq(og_rec_decode(*owner, len, &r), 0);
    return r;
}

Test(node_store, records_lww)
{
    node_store_t *s = open_store();
    char *own;
    cr_assert_eq(rec_put(s, "o.b", "k", 100, 5, 0, "s100", "d100"), 0);
    cr_assert_eq(rec_put(s, "o.b", "k", 90, 9, 0, "s90", "d90"), OG_EEXIST); /* older: ignored */
    og_rec_t r = rec_get(s, "o.b", "k", &own);
    cr_assert_eq(r.ts, 100);
    cr_assert(og_str_eq(r.summary, "s100"));
    free(own);
    cr_assert_eq(rec_put(s, "o.b", "k", 100, 5, 0, "s100", "d100"), OG_EEXIST); /* same write */
    cr_assert_eq(rec_put(s, "o.b", "k", 100, 6, 0, "tb6", ""), 0);                /* equal ts, bigger tiebreak */
    cr_assert_eq(rec_put(s, "o.b", "k", 100, 4, 0, "tb4", ""), OG_EEXIST);
    r = rec_get(s, "o.b", "k", &own);
    cr_assert(og_str_eq(r.summary, "tb6"));
    free(own);
    /* A tombstone wins over older puts and stays readable. */
    cr_assert_eq(rec_put(s, "o.b", "k", 200, 1, OG_REC_TOMBSTONE, "", ""), 0);
    cr_assert_eq(rec_put(s, "o.b", "k", 150, 1, 0, "late", ""), OG_EEXIST);
    r = rec_get(s, "o.b", "k", &own);
    cr_assert_eq(r.flags, OG_REC_TOMBSTONE);
    cr_assert_eq(r.ts, 200);
    free(own);
    /* Other tables are separate; a malformed record is refused. */
    size_t len;
    cr_assert_eq(node_store_rec_get(s, og_str("o.c"), og_str("k"), &own, &len), OG_ENOTFOUND);
    cr_assert_eq(node_store_rec_put(s, og_str("o.b"), og_str("x"), "junk", 4), OG_EPROTO);
    node_stat_t st;
    node_store_stat(s, &st);
    cr_assert_eq(st.records, 1);
    node_store_close(s);
}

typedef struct {
    char keys[32][32];
    char sums[32][32];
    int cut[32]; /* OG_LIST_GROUP_CUT was set */
    size_t n;
} listed_t;

static void parse_list(const char *buf, size_t len, listed_t *out)
{
    size_t off = 0;
    out->n = 0;
    while (off < len) {
        const unsigned char *p = (const unsigned char *)buf + off;
        uint32_t kl = (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 | (uint32_t)p[2] << 8 | p[3];
        out->cut[out->n] = (kl & OG_LIST_GROUP_CUT) != 0;
        kl &= ~OG_LIST_GROUP_CUT;
        cr_assert_lt(kl, 32);
        memcpy(out->keys[out->n], p + 4, kl);
        out->keys[out->n][kl] = 0;
        const unsigned char *rp = p + 4 + kl;
        long rl = og_rec_frame_len(rp, len - off - 4 - kl);
        cr_assert_gt(rl, 0);
        og_rec_t r;
        cr_assert_eq(og_rec_decode(rp, rl, &r), 0);
        cr_assert_eq(r.detail.len, 0);
        memcpy(out->sums[out->n], r.summary.base, r.summary.len);
        out->sums[out->n][r.summary.len] = 0;
        out->n++;
        off += 4 + kl + (size_t)rl;
    }
    cr_assert_eq(off, len);
}

static void list_grouped(node_store_t *s, const char *prefix, const char *delim, const char *after, size_t limit,
                         listed_t *out, int *trunc)
{
    char *buf = NULL;
    size_t cap = 0, used = 0;
    node_list_q_t q = {og_str("t"), og_str(prefix), og_str(delim), og_str(after), after != NULL, limit};
    cr_assert_eq(node_store_rec_list(s, &q, &buf, &cap, &used, trunc), 0);
    parse_list(buf, used, out);
    free(buf);
}

static void list(node_store_t *s, const char *prefix, const char *after, size_t limit, listed_t *out, int *trunc)
{
    list_grouped(s, prefix, NULL, after, limit, out, trunc);
}

Test(node_store, records_list)
{
    node_store_t *s = open_store();
    const char *keys[] = {"a/1", "a/2", "a/3", "b", "a", "a/22"};
    for (size_t i = 0; i < 6; i++)
        cr_assert_eq(rec_put(s, "t", keys[i], 10, 1, 0, keys[i], "big detail"), 0);
    cr_assert_eq(rec_put(s, "t2", "a/0", 10, 1, 0, "other table", ""), 0);
    cr_assert_eq(rec_put(s, "t", "a/3", 20, 1, OG_REC_TOMBSTONE, "", ""), 0);
    listed_t l;
    int trunc;
    list(s, "", NULL, 100, &l, &trunc);
    cr_assert_eq(l.n, 6);
    cr_assert_eq(trunc, 0);
    cr_assert_str_eq(l.keys[0], "a");
    cr_assert_str_eq(l.keys[1], "a/1");
    cr_assert_str_eq(l.keys[2], "a/2");
    cr_assert_str_eq(l.keys[3], "a/22");
    cr_assert_str_eq(l.keys[4], "a/3");
    cr_assert_str_eq(l.sums[4], ""); /* the tombstone is listed */
    cr_assert_str_eq(l.keys[5], "b");
    cr_assert_str_eq(l.sums[5], "b");

    list(s, "a/", NULL, 2, &l, &trunc);
    cr_assert_eq(l.n, 2);
    cr_assert_eq(trunc, 1);
    cr_assert_str_eq(l.keys[1], "a/2");
    list(s, "a/", "a/2", 2, &l, &trunc);
    cr_assert_eq(l.n, 2);
    cr_assert_eq(trunc, 0);
    cr_assert_str_eq(l.keys[0], "a/22");
    cr_assert_str_eq(l.keys[1], "a/3");
    list(s, "a/", "a", 10, &l, &trunc); /* after < prefix */
    cr_assert_eq(l.n, 4);
    list(s, "a/", "a/3", 10, &l, &trunc);
    cr_assert_eq(l.n, 0);
    cr_assert_eq(trunc, 0);
    list(s, "a/", "z", 10, &l, &trunc);
    cr_assert_eq(l.n, 0);
    list(s, "c", NULL, 10, &l, &trunc);
    cr_assert_eq(l.n, 0);
    list(s, "", "a/3", 1, &l, &trunc);
    cr_assert_eq(l.n, 1);
    cr_assert_str_eq(l.keys[0], "b");
    cr_assert_eq(trunc, 0);
    node_store_close(s);
}

/* With a delimiter the node gives each common prefix's keys up to its first live one, marks that
 * one and seeks past the prefix: deleted keys before it are listed (the gateway needs them to
 * merge replicas), keys after it are not. */
Test(node_store, records_list_grouped)
{
    node_store_t *s = open_store();
    const char *live[] = {"a/1", "a/2", "b/2", "b/3", "c", "d/1", "d/\xff"};
    for (size_t i = 0; i < 7; i++)
        cr_assert_eq(rec_put(s, "t", live[i], 10, 1, 0, live[i], ""), 0);
    cr_assert_eq(rec_put(s, "t", "b/1", 20, 1, OG_REC_TOMBSTONE, "", ""), 0);
    cr_assert_eq(rec_put(s, "t", "e/1", 20, 1, OG_REC_TOMBSTONE, "", ""), 0);
    listed_t l;
    int trunc;
    list_grouped(s, "", "/", NULL, 100, &l, &trunc);
    const char *want[] = {"a/1", "b/1", "b/2", "c", "d/1", "e/1"};
    const int cut[] = {1, 0, 1, 0, 1, 0};
    cr_assert_eq(l.n, 6, "got %zu entries", l.n);
    for (size_t i = 0; i < 6; i++) {
        cr_assert_str_eq(l.keys[i], want[i]);
        cr_assert_eq(l.cut[i], cut[i], "%s", want[i]);
    }
    cr_assert_eq(trunc, 0);

    list_grouped(s, "", "/", NULL, 2, &l, &trunc); /* the limit counts entries, skipped keys not */
    cr_assert_eq(l.n, 2);
    cr_assert_str_eq(l.keys[1], "b/1");
    cr_assert_eq(trunc, 1);
    list_grouped(s, "", "/", "a/1", 1, &l, &trunc); /* resuming inside a prefix */
    cr_assert_eq(l.n, 1);
    cr_assert_str_eq(l.keys[0], "a/2");
    cr_assert(l.cut[0]);
    cr_assert_eq(trunc, 1);
    list_grouped(s, "b/", "/", NULL, 10, &l, &trunc); /* no delimiter after the prefix: plain keys */
    cr_assert_eq(l.n, 3);
    cr_assert(!l.cut[1] && !l.cut[2]);
    list_grouped(s, "", "d/", NULL, 10, &l, &trunc); /* a multi-byte delimiter */
    cr_assert_eq(l.n, 8, "got %zu", l.n);
    cr_assert_str_eq(l.keys[6], "d/1");
    cr_assert(l.cut[6] && !l.cut[0]);
    cr_assert_str_eq(l.keys[7], "e/1");

    /* A long group with a key the seek past it does not pass (0xFF after the group). */
    char key[16];
    for (int i = 0; i < 20; i++) {
        snprintf(key, sizeof(key), "x/s/%02d", i);
        cr_assert_eq(rec_put(s, "t", key, 10, 1, 0, key, ""), 0);
    }
    cr_assert_eq(rec_put(s, "t", "x/s/\xff", 10, 1, 0, "ff", ""), 0);
    cr_assert_eq(rec_put(s, "t", "x/t", 10, 1, 0, "t", ""), 0);
    list_grouped(s, "x/", "/", NULL, 10, &l, &trunc);
    cr_assert_eq(l.n, 2, "got %zu", l.n);
    cr_assert_str_eq(l.keys[0], "x/s/00");
    cr_assert(l.cut[0]);
    cr_assert_str_eq(l.keys[1], "x/t");
    cr_assert_eq(trunc, 0);
    list_grouped(s, "x/", "/", "x/s/18", 10, &l, &trunc); /* resuming near the end of a group */
    cr_assert_eq(l.n, 2);
    cr_assert_str_eq(l.keys[0], "x/s/19");
    cr_assert_str_eq(l.keys[1], "x/t");
    node_store_close(s);
}

static int count_chunk(void *arg, const uint8_t id[NODE_ID_LEN], uint32_t len)
{
    (*(int *)arg)++;
    return 0;
}

Test(node_store, survives_reopen)
{
    node_store_t *s = open_store();
    char data[777], back[777];
    uint8_t id[NODE_ID_LEN];
    fill(data, sizeof(data), 9);
    for (unsigned i = 1; i <= 5; i++) {
        make_id(id, i);
        cr_assert_eq(node_store_chunk_put(s, id, data, sizeof(data), XXH3_64bits(data, sizeof(data))), 0);
    }
    cr_assert_eq(rec_put(s, "users", "alice", 1, 1, 0, "sum", "secret"), 0);
    node_store_close(s);

    s = open_store();
    node_stat_t st;
    node_store_stat(s, &st);
    cr_assert_eq(st.chunks, 5);
    cr_assert_eq(st.chunk_bytes, 5 * sizeof(data));
    cr_assert_eq(st.records, 1);
    cr_assert_eq(st.volume_bytes, 5 * (sizeof(data) + 48));
    uint32_t len;
    uint64_t h;
    make_id(id, 3);
    cr_assert_eq(node_store_chunk_get(s, id, back, sizeof(back), &len, &h), 0);
    cr_assert_eq(memcmp(back, data, sizeof(data)), 0);
    /* Appends continue after the existing bytes. */
    make_id(id, 6);
    cr_assert_eq(node_store_chunk_put(s, id, data, 10, XXH3_64bits(data, 10)), 0);
    cr_assert_eq(node_store_chunk_get(s, id, back, sizeof(back), &len, &h), 0);
    cr_assert_eq(len, 10);
    char *own;
    og_rec_t r = rec_get(s, "users", "alice", &own);
    cr_assert(og_str_eq(r.detail, "secret"));
    free(own);

    int n = 0, trunc;
    cr_assert_eq(node_store_chunk_list(s, NULL, 100, count_chunk, &n, &trunc), 0);
    cr_assert_eq(n, 6);
    cr_assert_eq(trunc, 0);
    n = 0;
    make_id(id, 2);
    cr_assert_eq(node_store_chunk_list(s, id, 3, count_chunk, &n, &trunc), 0);
    cr_assert_eq(n, 3);
    cr_assert_eq(trunc, 1);
    node_store_close(s);
}

/* ---- garbage-collection support: reference times, conditional delete, batches, tables ---- */

Test(node_store, ref_time_guards_delete)
{
    node_store_t *s = open_store();
    static char data[5000];
    uint8_t id[NODE_ID_LEN];
    uint64_t ref, ref2;
    fill(data, sizeof(data), 9);
    make_id(id, 1);
    uint64_t before = og_time_ns();
    cr_assert_eq(node_store_chunk_put(s, id, data, sizeof(data), XXH3_64bits(data, sizeof(data))), 0);
    cr_assert_eq(node_store_chunk_ref_time(s, id, &ref), 0);
    cr_assert_geq(ref, before);
    /* A sweep whose cutoff is before the write must keep the chunk. */
    cr_assert_eq(node_store_chunk_delete_older(s, id, before), OG_EEXIST);
    /* A second PUT more than the slack later refreshes the time ("already there"). */
    usleep(1100 * 1000);
    uint64_t mid = og_time_ns();
    cr_assert_eq(node_store_chunk_put(s, id, data, sizeof(data), XXH3_64bits(data, sizeof(data))), OG_EEXIST);
    cr_assert_eq(node_store_chunk_ref_time(s, id, &ref2), 0);
    cr_assert_geq(ref2, mid);
    cr_assert_eq(node_store_chunk_delete_older(s, id, mid), OG_EEXIST);
    /* Once older than the cutoff, it goes. */
    cr_assert_eq(node_store_chunk_delete_older(s, id, og_time_ns()), 0);
    cr_assert_eq(node_store_chunk_ref_time(s, id, &ref), OG_ENOTFOUND);
    cr_assert_eq(node_store_chunk_delete_older(s, id, og_time_ns()), OG_ENOTFOUND);
    node_stat_t st;
    node_store_stat(s, &st);
    cr_assert_eq(st.chunks, 0);
    node_store_close(s);
}

Test(node_store, put_many_and_touch)
{
    node_store_t *s = open_store();
    static char data[4][30000];
    uint8_t ids[4][NODE_ID_LEN];
    node_chunk_in_t in[5];
    char res[5];
    for (int i = 0; i < 4; i++) {
        fill(data[i], sizeof(data[i]), 100 + (unsigned)i);
        make_id(ids[i], 10 + (unsigned)i);
    }
    /* chunk 1 exists already; chunk 2 appears twice in the batch; chunk 3 has a bad digest */
    cr_assert_eq(node_store_chunk_put(s, ids[1], data[1], sizeof(data[1]), XXH3_64bits(data[1], sizeof(data[1]))), 0);
    for (int i = 0; i < 4; i++)
        in[i] = (node_chunk_in_t){ids[i], XXH3_64bits(data[i], sizeof(data[i])), data[i], sizeof(data[i])};
    in[3].xxh3 ^= 1;
    in[4] = in[2];
    cr_assert_eq(node_store_chunk_put_many(s, in, 5, res), 0);
    cr_assert_eq(res[0], NODE_PUT_STORED);
    cr_assert_eq(res[1], NODE_PUT_EXISTED);
    cr_assert_eq(res[2], NODE_PUT_STORED);
    cr_assert_eq(res[3], NODE_PUT_BADDIGEST);
    cr_assert_eq(res[4], NODE_PUT_EXISTED);
    static char back[30000];
    uint32_t len;
    uint64_t h;
    for (int i = 0; i < 3; i++) {
        cr_assert_eq(node_store_chunk_get(s, ids[i], back, sizeof(back), &len, &h), 0);
        cr_assert_eq(memcmp(back, data[i], sizeof(back)), 0);
    }
    cr_assert_eq(node_store_chunk_get(s, ids[3], back, sizeof(back), &len, &h), OG_ENOTFOUND);
    node_stat_t st;
    node_store_stat(s, &st);
    cr_assert_eq(st.chunks, 3);
    cr_assert_eq(st.chunk_bytes, 3 * sizeof(data[0]));

    /* touch: held chunks get a fresh reference time, absent ones are reported */
    uint8_t tids[2 * NODE_ID_LEN];
    memcpy(tids, ids[0], NODE_ID_LEN);
    memcpy(tids + NODE_ID_LEN, ids[3], NODE_ID_LEN);
    usleep(1100 * 1000);
    uint64_t t = og_time_ns(), ref;
    cr_assert_eq(node_store_chunk_touch_many(s, tids, 2, res), 0);
    cr_assert_eq(res[0], NODE_PUT_EXISTED);
    cr_assert_eq(res[1], NODE_PUT_ABSENT);
    cr_assert_eq(node_store_chunk_ref_time(s, ids[0], &ref), 0);
    cr_assert_geq(ref, t);
    cr_assert_eq(node_store_chunk_delete_older(s, ids[0], t), OG_EEXIST);
    cr_assert_eq(node_store_chunk_delete_older(s, ids[1], t), 0);
    node_store_close(s);
}

/* Chunks base..base+n-1 (n <= 32) of len bytes, contents seeded by their number, as one batch:
 * every one must be stored. data holds n * len bytes. */
static void put_batch(node_store_t *s, unsigned base, size_t n, size_t len, unsigned char *data)
{
    node_chunk_in_t in[32];
    uint8_t ids[32][NODE_ID_LEN];
    char res[32];
    for (size_t i = 0; i < n; i++) {
        fill(data + i * len, len, base + (unsigned)i);
        make_id(ids[i], base + (unsigned)i);
        in[i] = (node_chunk_in_t){ids[i], XXH3_64bits(data + i * len, len), data + i * len, len};
    }
    cr_assert_eq(node_store_chunk_put_many(s, in, n, res), 0);
    for (size_t i = 0; i < n; i++)
        cr_assert_eq(res[i], NODE_PUT_STORED, "chunk %u", base + (unsigned)i);
}

/* Reads chunks base..base+n-1 back and compares them with what put_batch wrote. */
static void check_batch(node_store_t *s, unsigned base, size_t n, size_t len)
{
    unsigned char *want = malloc(len), *back = malloc(len);
    uint8_t id[NODE_ID_LEN];
    uint32_t got;
    uint64_t h;
    for (size_t i = 0; i < n; i++) {
        fill(want, len, base + (unsigned)i);
        make_id(id, base + (unsigned)i);
        cr_assert_eq(node_store_chunk_get(s, id, back, len, &got, &h), 0, "chunk %u", base + (unsigned)i);
        cr_assert_eq(got, len);
        cr_assert_eq(memcmp(back, want, len), 0, "chunk %u", base + (unsigned)i);
    }
    free(want);
    free(back);
}

static uint64_t vol0_size(void)
{
    char path[160];
    struct stat st;
    snprintf(path, sizeof(path), "%s/d1/vol/00000000.vol", g_dir);
    cr_assert_eq(stat(path, &st), 0);
    return (uint64_t)st.st_size;
}

/* Whether the file system of g_dir takes O_DIRECT (tmpfs before Linux 6.6 does not). */
static int dir_takes_direct(void)
{
    char path[160];
    snprintf(path, sizeof(path), "%s/probe", g_dir);
    int fd = open(path, O_WRONLY | O_CREAT | O_DIRECT, 0644);
    if (fd >= 0)
        close(fd);
    unlink(path);
    return fd >= 0;
}

#define ROUND4K(x) (((x) + 4095u) / 4096u * 4096u)
/* A batch of BIG_N chunks of BIG_LEN bytes is a large object's (2.2 MB); MID_N of MID_LEN bytes
 * (300 KB) is just above the store's 256 KiB direct-write minimum, 2 of 30,000 (60 KB) below it. */
#define BIG_N 32
#define BIG_LEN 70000
#define MID_N 5
#define MID_LEN 60000

/* A batch of at least 256 KiB is written in one direct write at a 4 KiB boundary, padded to the
 * next; smaller batches and single chunks are appended unaligned, as before. All read back, also
 * after a reopen, and appends go on after the padded end. */
Test(node_store, large_batch_written_direct_at_4k_boundaries)
{
    static unsigned char small[1000], batch[BIG_N * BIG_LEN], few[2 * 30000], mid[MID_N * MID_LEN];
    const uint64_t big = BIG_N * (BIG_LEN + 48);
    int direct = dir_takes_direct();
    node_store_t *s = open_store();
    uint8_t id[NODE_ID_LEN];
    fill(small, sizeof(small), 7);
    make_id(id, 7);
    cr_assert_eq(node_store_chunk_put(s, id, small, sizeof(small), XXH3_64bits(small, sizeof(small))), 0);
    put_batch(s, 100, BIG_N, BIG_LEN, batch);
    node_stat_t st;
    node_store_stat(s, &st);
    uint64_t want = direct ? ROUND4K(1048) + ROUND4K(big) : 1048 + big;
    cr_assert_eq(st.volume_bytes, want, "direct %d: %llu", direct, (unsigned long long)st.volume_bytes);
    cr_assert_eq(vol0_size(), want);
    put_batch(s, 200, 2, 30000, few); /* 60 KB: through the page cache, unaligned */
    node_store_stat(s, &st);
    cr_assert_eq(st.volume_bytes, want + 2 * 30048);
    check_batch(s, 100, BIG_N, BIG_LEN);
    check_batch(s, 200, 2, 30000);
    node_store_close(s);

    s = open_store();
    check_batch(s, 100, BIG_N, BIG_LEN);
    put_batch(s, 300, BIG_N, BIG_LEN, batch);
    node_store_stat(s, &st);
    cr_assert_eq(st.volume_bytes, direct ? ROUND4K(want + 2 * 30048) + ROUND4K(big) : want + 2 * 30048 + big);
    uint64_t mid_at = st.volume_bytes;
    put_batch(s, 400, MID_N, MID_LEN, mid);
    node_store_stat(s, &st);
    cr_assert_eq(st.volume_bytes,
                 direct ? ROUND4K(mid_at) + ROUND4K(MID_N * (MID_LEN + 48)) : mid_at + MID_N * (MID_LEN + 48));
    check_batch(s, 100, BIG_N, BIG_LEN);
    check_batch(s, 200, 2, 30000);
    check_batch(s, 300, BIG_N, BIG_LEN);
    check_batch(s, 400, MID_N, MID_LEN);
    cr_assert_eq(node_store_chunk_get(s, id, batch, sizeof(small), &(uint32_t){0}, &(uint64_t){0}), 0);
    cr_assert_eq(memcmp(batch, small, sizeof(small)), 0);
    node_store_close(s);
}

/* A small batch goes through the page cache as one gathered write (node_store.c, "Direct batch
 * writes"): with more pieces than one pwritev takes (IOV_MAX: 600 chunks are 1,200 headers and
 * bodies), the write goes on where the first call stopped; every chunk sits back to back, no gap. */
Test(node_store, small_batch_of_many_chunks_written_back_to_back)
{
    enum { N = 600, LEN = 64 };
    static unsigned char data[N][LEN], back[LEN];
    static uint8_t ids[N][NODE_ID_LEN];
    static node_chunk_in_t in[N];
    static char res[N];
    node_store_t *s = open_store();
    for (unsigned i = 0; i < N; i++) {
        fill(data[i], LEN, 5000 + i);
        make_id(ids[i], 5000 + i);
        in[i] = (node_chunk_in_t){ids[i], XXH3_64bits(data[i], LEN), data[i], LEN};
    }
    cr_assert_eq(node_store_chunk_put_many(s, in, N, res), 0);
    node_stat_t st;
    node_store_stat(s, &st);
    cr_assert_eq(st.volume_bytes, (uint64_t)N * (LEN + 48));
    cr_assert_eq(vol0_size(), (uint64_t)N * (LEN + 48));
    for (unsigned i = 0; i < N; i++) {
        uint32_t got;
        uint64_t h;
        cr_assert_eq(res[i], NODE_PUT_STORED);
        cr_assert_eq(node_store_chunk_get(s, ids[i], back, LEN, &got, &h), 0, "chunk %u", i);
        cr_assert_eq(got, LEN);
        cr_assert_eq(memcmp(back, data[i], LEN), 0, "chunk %u", i);
    }
    node_store_close(s);
}

/* Pages of volume 0 in the page cache. */
static size_t vol0_resident(void)
{
    char path[160];
    snprintf(path, sizeof(path), "%s/d1/vol/00000000.vol", g_dir);
    int fd = open(path, O_RDONLY);
    cr_assert_geq(fd, 0);
    size_t size = (size_t)vol0_size(), pages = (size + 4095) / 4096, n = 0;
    void *m = mmap(NULL, size, PROT_READ, MAP_SHARED, fd, 0);
    cr_assert_neq(m, MAP_FAILED);
    unsigned char *vec = malloc(pages);
    cr_assert_eq(mincore(m, size, vec), 0);
    for (size_t i = 0; i < pages; i++)
        n += vec[i] & 1;
    free(vec);
    munmap(m, size);
    close(fd);
    return n;
}

/* Drops volume 0's (clean) pages from the page cache. */
static void vol0_evict(void)
{
    char path[160];
    snprintf(path, sizeof(path), "%s/d1/vol/00000000.vol", g_dir);
    int fd = open(path, O_RDONLY);
    cr_assert_geq(fd, 0);
    cr_assert_eq(posix_fadvise(fd, 0, 0, POSIX_FADV_DONTNEED), 0);
    close(fd);
}

/* Locating 5 chunks in 3 runs (and an absent one among them) finds them and asks for the pages of
 * every run, without a read: they come into memory. */
Test(node_store, locate_reads_runs_ahead)
{
    static unsigned char batch[20 * 30000];
    uint8_t ids[6 * NODE_ID_LEN];
    node_chunk_loc_t locs[6];
    node_store_t *s = open_store();
    put_batch(s, 500, 20, 30000, batch);
    vol0_evict();
    size_t before = vol0_resident(), want = 5 * 30048 / 4096;
    cr_assert_lt(before, want, "%zu pages resident after the eviction", before);
    make_id(ids, 500); /* run 1: chunk 500 alone */
    make_id(ids + NODE_ID_LEN, 9999); /* absent */
    for (unsigned i = 0; i < 3; i++) /* run 2: chunks 510-512 */
        make_id(ids + (2 + i) * NODE_ID_LEN, 510 + i);
    make_id(ids + 5 * NODE_ID_LEN, 501); /* run 3: chunk 501 */
    node_store_chunk_locate(s, ids, 6, locs);
    cr_assert_eq(locs[1].rc, OG_ENOTFOUND);
    cr_assert_eq(locs[1].len, 0);
    for (int i = 0; i < 6; i++)
        if (i != 1)
            cr_assert(locs[i].rc == 0 && locs[i].len == 30000, "chunk at %d: rc %d len %u", i, locs[i].rc,
                      locs[i].len);
    size_t now = before;
    for (int tries = 0; tries < 200 && (now = vol0_resident()) < before + want; tries++)
        usleep(10 * 1000);
    cr_assert_geq(now, before + want, "%zu pages resident after the look-up (%zu before)", now, before);
    check_batch(s, 500, 20, 30000);
    node_store_close(s);
}

/* Reads located chunks in runs: 20 chunks of one batch and an absent one come back whole; one
 * deleted after the look-up (its range punched) answers OG_ENOTFOUND, not corrupt; one damaged
 * on disk answers OG_ECORRUPT and is quarantined; a chunk without a destination is not read. */
Test(node_store, read_located_serves_runs_and_tells_deleted_from_damaged)
{
    enum { N = 22, LEN = 30000 };
    static unsigned char batch[20 * LEN], back[N][LEN];
    uint8_t ids[N * NODE_ID_LEN];
    node_chunk_loc_t locs[N];
    void *dst[N];
    node_store_t *s = open_store();
    put_batch(s, 700, 20, LEN, batch);
    for (unsigned i = 0; i < 20; i++)
        make_id(ids + i * NODE_ID_LEN, 700 + i);
    make_id(ids + 20 * NODE_ID_LEN, 9999); /* absent */
    make_id(ids + 21 * NODE_ID_LEN, 703);  /* asked twice, the second time without a destination */
    node_store_chunk_locate(s, ids, N, locs);
    for (int i = 0; i < N; i++)
        dst[i] = i == 21 ? NULL : back[i];
    cr_assert_eq(node_store_chunk_delete(s, ids + 5 * NODE_ID_LEN), 0);
    corrupt_at((off_t)locs[12].off + 48 + 777);
    node_store_chunk_read_located(s, ids, locs, dst, N);
    for (int i = 0; i < 20; i++) {
        int want = i == 5 ? OG_ENOTFOUND : i == 12 ? OG_ECORRUPT : 0;
        cr_assert_eq(locs[i].rc, want, "chunk %d: rc %d, want %d", i, locs[i].rc, want);
        if (want == 0)
            cr_assert_eq(memcmp(back[i], batch + i * LEN, LEN), 0, "chunk %d", i);
    }
    cr_assert_eq(locs[20].rc, OG_ENOTFOUND);
    cr_assert_eq(locs[21].rc, 0);
    uint32_t len;
    uint64_t h;
    cr_assert_eq(node_store_chunk_get(s, ids + 12 * NODE_ID_LEN, back[0], LEN, &len, &h), OG_ENOTFOUND,
                 "the damaged copy is quarantined");
    node_store_close(s);
}

typedef struct {
    node_store_t *s;
    unsigned base;
} batch_arg_t;

static void *batch_thread(void *arg)
{
    batch_arg_t *a = arg;
    unsigned char *data = malloc(BIG_N * BIG_LEN);
    for (unsigned b = 0; b < 4; b++)
        put_batch(a->s, a->base + b * BIG_N, BIG_N, BIG_LEN, data);
    free(data);
    return NULL;
}

/* Direct batches from several threads at once land in disjoint ranges: every chunk reads back. */
Test(node_store, concurrent_direct_batches_do_not_overlap)
{
    node_store_t *s = open_store();
    batch_arg_t args[4];
    for (unsigned t = 0; t < 4; t++)
        args[t] = (batch_arg_t){s, 1000 + t * 200};
    run_4_threads(batch_thread, args, sizeof(args[0]));
    for (unsigned t = 0; t < 4; t++)
        check_batch(s, 1000 + t * 200, 4 * BIG_N, BIG_LEN);
    node_stat_t st;
    node_store_stat(s, &st);
    cr_assert_eq(st.chunks, 4 * 4 * BIG_N);
    cr_assert_eq(st.volume_bytes, vol0_size());
    node_store_close(s);
}

static int collect_table(void *arg, og_str_t table)
{
    char *out = arg;
    strncat(out, table.base, table.len);
    strcat(out, ",");
    return 0;
}

Test(node_store, table_list)
{
    node_store_t *s = open_store();
    char buf[256];
    const char *tables[] = {"o.b1", "buckets", "o.b1", "u.b1", "o.b2", "o.b10"};
    for (size_t i = 0; i < sizeof(tables) / sizeof(tables[0]); i++) {
        char key[16];
        snprintf(key, sizeof(key), "k%zu", i);
        og_rec_t r = {0, 100 + i, 1, OG_STR_LIT("s"), OG_STR_LIT("d"), 0};
        long n = og_rec_encode(&r, buf, sizeof(buf));
        cr_assert_eq(node_store_rec_put(s, og_str(tables[i]), og_str(key), buf, (size_t)n), 0);
    }
    char got[256] = "";
    cr_assert_eq(node_store_table_list(s, collect_table, got), 0);
    cr_assert_str_eq(got, "buckets,o.b1,o.b10,o.b2,u.b1,");
    node_store_close(s);
}

/* ---- table usage ---- */

static int rec_put_sized(node_store_t *s, const char *table, const char *key, uint64_t ts, uint8_t flags,
                         uint64_t size)
{
    og_rec_t r = {.flags = flags, .ts = ts, .tiebreak = 1, .summary = OG_STR_LIT("s"), .size = size};
    char buf[256];
    long n = og_rec_encode(&r, buf, sizeof(buf));
    cr_assert_gt(n, 0);
    return node_store_rec_put(s, og_str(table), og_str(key), buf, (size_t)n);
}

#define assert_usage(s, table, records, bytes) assert_usage_at(s, table, records, bytes, __LINE__)
static void assert_usage_at(node_store_t *s, const char *table, uint64_t records, uint64_t bytes, int line)
{
    uint64_t r, b;
    cr_assert_eq(node_store_table_usage(s, og_str(table), &r, &b), 0);
    cr_assert_eq(r, records, "line %d: %s: records %llu, want %llu", line, table, (unsigned long long)r,
                 (unsigned long long)records);
    cr_assert_eq(b, bytes, "line %d: %s: bytes %llu, want %llu", line, table, (unsigned long long)b,
                 (unsigned long long)bytes);
}

Test(node_store, usage_follows_overwrites_and_deletes)
{
    node_store_t *s = open_store();
    assert_usage(s, "o.b", 0, 0);
    cr_assert_eq(rec_put_sized(s, "o.b", "a", 10, 0, 100), 0);
    cr_assert_eq(rec_put_sized(s, "o.b", "b", 10, 0, 50), 0);
    cr_assert_eq(rec_put_sized(s, "o.c", "a", 10, 0, 7), 0);
    assert_usage(s, "o.b", 2, 150);
    cr_assert_eq(rec_put_sized(s, "o.b", "a", 20, 0, 10), 0); /* overwrite */
    assert_usage(s, "o.b", 2, 60);
    cr_assert_eq(rec_put_sized(s, "o.b", "a", 15, 0, 999), OG_EEXIST); /* older: ignored, uncounted */
    assert_usage(s, "o.b", 2, 60);
    cr_assert_eq(rec_put_sized(s, "o.b", "b", 20, OG_REC_TOMBSTONE, 0), 0);
    assert_usage(s, "o.b", 1, 10);
    cr_assert_eq(rec_put_sized(s, "o.b", "b", 30, 0, 5), 0); /* live again after a tombstone */
    cr_assert_eq(rec_put_sized(s, "o.b", "c", 30, OG_REC_TOMBSTONE, 0), 0); /* delete of a missing key */
    assert_usage(s, "o.b", 2, 15);
    /* A version 1 record (written before sizes existed) reads with size 0 and counts once. */
    unsigned char v1[22 + 4] = {1, 0}; /* empty summary and detail */
    v1[9] = 40, v1[17] = 1;
    cr_assert_eq(node_store_rec_put(s, og_str("o.b"), og_str("old"), v1, sizeof(v1)), 0);
    assert_usage(s, "o.b", 3, 15);
    assert_usage(s, "o.c", 1, 7);
    node_store_close(s);
    s = open_store();
    assert_usage(s, "o.b", 3, 15);
    node_store_close(s);
}

/* Writes records straight into a fresh device's RocksDB, as a device written before usage
 * aggregates existed holds them (no 'u' keys). */
static void legacy_device(int nrec)
{
    char path[128], *err = NULL;
    snprintf(path, sizeof(path), "%s/d1", g_dir);
    cr_assert_eq(mkdir(path, 0755), 0);
    strcat(path, "/db");
    rocksdb_options_t *o = rocksdb_options_create();
    rocksdb_options_set_create_if_missing(o, 1);
    rocksdb_t *db = rocksdb_open(o, path, &err);
    cr_assert_null(err);
    rocksdb_writeoptions_t *wo = rocksdb_writeoptions_create();
    for (int i = 0; i < nrec; i++) {
        char key[32], buf[64];
        og_rec_t r = {.flags = i % 5 == 0 ? OG_REC_TOMBSTONE : 0, .ts = 10, .tiebreak = 1, .size = (uint64_t)i};
        int kl = snprintf(key, sizeof(key), "ro.x%ck%02d", 0, i);
        long n = og_rec_encode(&r, buf, sizeof(buf));
        rocksdb_put(db, wo, key, (size_t)kl, buf, (size_t)n, &err);
        cr_assert_null(err);
    }
    char ukey[] = "rusers\0u1";
    unsigned char v1[26] = {1, 0, 0, 0, 0, 0, 0, 0, 0, 10}; /* a version 1 record */
    rocksdb_put(db, wo, ukey, sizeof(ukey) - 1, (const char *)v1, sizeof(v1), &err);
    cr_assert_null(err);
    rocksdb_writeoptions_destroy(wo);
    rocksdb_close(db);
    rocksdb_options_destroy(o);
}

Test(node_store, usage_rebuilt_for_tables_without_aggregate)
{
    legacy_device(50);
    node_store_t *s = open_store();
    uint64_t want = 0;
    for (int i = 0; i < 50; i++)
        want += i % 5 == 0 ? 0 : (uint64_t)i;
    assert_usage(s, "o.x", 40, want);
    assert_usage(s, "users", 1, 0);
    cr_assert_eq(rec_put_sized(s, "o.x", "k01", 20, OG_REC_TOMBSTONE, 0), 0);
    assert_usage(s, "o.x", 39, want - 1);
    node_store_close(s);
    s = open_store(); /* rebuilt once: the aggregate now carries on */
    assert_usage(s, "o.x", 39, want - 1);
    node_store_close(s);
}

typedef struct {
    node_store_t *s;
    int t;
} usage_arg_t;

/* Each thread writes its own keys and overwrites/deletes keys shared with the others. */
static void *usage_writer(void *p)
{
    usage_arg_t *a = p;
    for (int i = 0; i < 200; i++) {
        char key[32];
        snprintf(key, sizeof(key), "own-%d-%d", a->t, i % 50);
        cr_assert_lt(rec_put_sized(a->s, "o.conc", key, (uint64_t)(i + 1), 0, (uint64_t)(i % 7)), 1);
        snprintf(key, sizeof(key), "shared-%d", i % 10);
        rec_put_sized(a->s, "o.conc", key, (uint64_t)(i * 4 + a->t + 1), (i + a->t) % 3 == 0 ? OG_REC_TOMBSTONE : 0,
                      (uint64_t)(a->t * 1000 + i));
    }
    return NULL;
}

Test(node_store, usage_exact_under_concurrent_writes)
{
    node_store_t *s = open_store();
    usage_arg_t args[4];
    for (int t = 0; t < 4; t++)
        args[t] = (usage_arg_t){s, t};
    run_4_threads(usage_writer, args, sizeof(args[0]));
    /* The aggregate must equal a count over what is stored. */
    char *buf = NULL;
    size_t cap = 0, used = 0;
    int truncated;
    node_list_q_t q = {og_str("o.conc"), og_str(""), {NULL, 0}, og_str(""), 0, 10000};
    cr_assert_eq(node_store_rec_list(s, &q, &buf, &cap, &used, &truncated), 0);
    uint64_t n = 0, bytes = 0;
    for (size_t off = 0; off < used;) {
        const unsigned char *p = (const unsigned char *)buf + off;
        uint32_t kl = (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 | (uint32_t)p[2] << 8 | p[3];
        long rl = og_rec_frame_len(p + 4 + kl, used - off - 4 - kl);
        og_rec_t r;
        cr_assert_gt(rl, 0);
        cr_assert_eq(og_rec_decode(p + 4 + kl, (size_t)rl, &r), 0);
        if (!(r.flags & OG_REC_TOMBSTONE))
            n++, bytes += r.size;
        off += 4 + kl + (size_t)rl;
    }
    free(buf);
    cr_assert_geq(n, 200);
    assert_usage(s, "o.conc", n, bytes);
    node_store_close(s);
}

/* ---- space reclaim ---- */

static uint64_t allocated(node_store_t *s)
{
    node_stat_t st;
    node_store_stat(s, &st);
    return st.allocated_bytes;
}

Test(node_store, delete_punches_volume_bytes)
{
    enum { N = 8, LEN = 1 << 20 };
    static unsigned char data[N][LEN], back[LEN];
    node_store_t *s = open_store();
    uint8_t id[NODE_ID_LEN];
    for (unsigned i = 0; i < N; i++) {
        fill(data[i], LEN, i + 1);
        make_id(id, i);
        cr_assert_eq(node_store_chunk_put(s, id, data[i], LEN, XXH3_64bits(data[i], LEN)), 0);
    }
    uint64_t before = allocated(s);
    cr_assert_geq(before, (uint64_t)N * LEN);
    for (unsigned i = 0; i < N; i += 2) {
        make_id(id, i);
        cr_assert_eq(node_store_chunk_delete_older(s, id, UINT64_MAX), 0);
    }
    node_stat_t st;
    node_store_stat(s, &st);
    cr_assert_eq(st.dead_bytes, 0, "this test needs a file system with hole punching (ext4, xfs, tmpfs)");
    cr_assert_leq(st.allocated_bytes, before - (uint64_t)(N / 2) * LEN + 64 * 1024);
    cr_assert_eq(st.volume_bytes, (uint64_t)N * (LEN + 48)); /* offsets keep their meaning */
    for (unsigned i = 0; i < N; i++) {
        uint32_t len;
        uint64_t h;
        make_id(id, i);
        int rc = node_store_chunk_get(s, id, back, sizeof(back), &len, &h);
        if (i % 2 == 0) {
            cr_assert_eq(rc, OG_ENOTFOUND);
        } else {
            cr_assert_eq(rc, 0);
            cr_assert_eq(memcmp(back, data[i], LEN), 0);
        }
    }
    /* Once the neighbours go too, the blocks they shared (chunks are not block-aligned) are freed. */
    for (unsigned i = 1; i < N; i += 2) {
        make_id(id, i);
        cr_assert_eq(node_store_chunk_delete(s, id), 0);
    }
    cr_assert_leq(allocated(s), 8192, "allocated %llu", (unsigned long long)allocated(s));
    /* A deleted chunk written again gets fresh space and reads back. */
    make_id(id, 0);
    cr_assert_eq(node_store_chunk_put(s, id, data[0], LEN, XXH3_64bits(data[0], LEN)), 0);
    uint32_t len;
    uint64_t h;
    cr_assert_eq(node_store_chunk_get(s, id, back, sizeof(back), &len, &h), 0);
    cr_assert_eq(memcmp(back, data[0], LEN), 0);
    node_store_close(s);
}

typedef struct {
    node_store_t *s;
    const unsigned char *data;
    size_t len;
    atomic_int *stop;
    int located; /* read with node_store_chunk_locate + read_located, not node_store_chunk_get */
    int served, absent, bad;
} race_arg_t;

/* One read of chunk id as a race_reader does it: rc and *len like node_store_chunk_get. */
static int race_read(race_arg_t *a, const uint8_t *id, unsigned char *back, uint32_t *len)
{
    uint64_t h;
    if (!a->located)
        return node_store_chunk_get(a->s, id, back, a->len, len, &h);
    node_chunk_loc_t loc;
    void *dst = back;
    node_store_chunk_locate(a->s, id, 1, &loc);
    if (loc.rc == 0 && loc.len != a->len)
        return OG_EINVAL;
    node_store_chunk_read_located(a->s, id, &loc, &dst, 1);
    *len = loc.len;
    return loc.rc;
}

static void *race_reader(void *p)
{
    race_arg_t *a = p;
    unsigned char *back = malloc(a->len);
    uint8_t id[NODE_ID_LEN];
    make_id(id, 7);
    while (!atomic_load(a->stop)) {
        uint32_t len;
        int rc = race_read(a, id, back, &len);
        if (rc == 0 && len == a->len && memcmp(back, a->data, a->len) == 0)
            a->served++;
        else if (rc == OG_ENOTFOUND)
            a->absent++;
        else
            a->bad++;
    }
    free(back);
    return NULL;
}

/* Reads racing deletes and re-writes of one chunk see it whole or not at all: never the zeros of a
 * punched range, never a false corruption; the readers alternate between node_store_chunk_get and
 * the located reads of /read, which read without the guard. */
Test(node_store, read_racing_delete_sees_chunk_or_absent)
{
    enum { LEN = 256 * 1024, ROUNDS = 300, READERS = 3 };
    static unsigned char data[LEN];
    fill(data, LEN, 99);
    uint64_t h = XXH3_64bits(data, LEN);
    node_store_t *s = open_store();
    atomic_int stop = 0;
    race_arg_t args[READERS];
    pthread_t th[READERS];
    uint8_t id[NODE_ID_LEN];
    make_id(id, 7);
    cr_assert_eq(node_store_chunk_put(s, id, data, LEN, h), 0);
    for (int i = 0; i < READERS; i++) {
        args[i] = (race_arg_t){.s = s, .data = data, .len = LEN, .stop = &stop, .located = i % 2};
        pthread_create(&th[i], NULL, race_reader, &args[i]);
    }
    for (int r = 0; r < ROUNDS; r++) {
        cr_assert_eq(node_store_chunk_delete(s, id), 0);
        cr_assert_eq(node_store_chunk_put(s, id, data, LEN, h), 0);
    }
    atomic_store(&stop, 1);
    int served = 0, absent = 0;
    for (int i = 0; i < READERS; i++) {
        pthread_join(th[i], NULL);
        cr_assert_eq(args[i].bad, 0, "reader %d saw %d bad reads", i, args[i].bad);
        served += args[i].served, absent += args[i].absent;
    }
    cr_assert_gt(served, 0);
    cr_assert_gt(args[1].served, 0, "the located reader served the chunk");
    cr_assert_eq(node_store_corrupt_line(s), 0);
    node_store_close(s);
}
