/*
 * test_gw_cluster_perf.c: the gateway's fast paths must keep the cluster's guarantees:
 *  - record reads that ask a quorum of primaries first still return the newest version whichever
 *    primaries are asked, widen when one misses the key or is down, and read-repair;
 *  - the record cache (cluster_rec_get_cached) serves this handle's own writes at once, other
 *    writers' within its max age, and never caches tombstones or misses;
 *  - reads of many chunks into the caller's scratch buffer, too small or none at all.
 *
 * The cluster helpers are the pattern of test_gw_cluster.c (three onggi-node processes from this
 * build tree on their own loopback ports; the tests skip when the binaries are not built).
 */
#include "cluster/cluster.h"
#include "node_client.h"

#include <criterion/criterion.h>
#include <ftw.h>
#include <limits.h>
#include <openssl/evp.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/wait.h>
#include <unistd.h>
#include <xxhash.h>

#define TC_NODES 3
#define TC_TMPDIR "/tmp/og_clperf_XXXXXX"
#include "../cluster/cluster_fixture.h"

/* The cluster and a second gateway's handle on it (tc.other), as every test here needs. */
static void clperf_start(int base)
{
    tc_start(base);
    cr_assert_eq(cluster_open(tc.ring, NULL, 2000, &tc.other), 0);
}

/* Writes a record whose summary is val through handle cl. */
static int put_val(cluster_t *cl, const char *table, const char *key, const char *val, uint8_t flags)
{
    og_rec_t r = {.flags = flags, .summary = og_str(val)};
    cluster_stamp(cl, &r.ts, &r.tiebreak);
    return cluster_rec_put(cl, table, og_str(key), &r);
}

/* The summary (or "<tombstone>") through handle cl, cached for max_age ms when max_age != 0. */
static int get_val(cluster_t *cl, const char *table, const char *key, uint32_t max_age, char *out, size_t cap)
{
    og_rec_t r;
    char *buf;
    int rc = max_age ? cluster_rec_get_cached(cl, table, og_str(key), max_age, &r, &buf)
                     : cluster_rec_get(cl, table, og_str(key), &r, &buf);
    if (rc == 0) {
        if (r.flags & OG_REC_TOMBSTONE)
            snprintf(out, cap, "<tombstone>");
        else
            snprintf(out, cap, "%.*s", (int)r.summary.len, r.summary.base);
        free(buf);
    }
    return rc;
}

TestSuite(cluster_perf, .fini = tc_stop, .timeout = 120);

Test(cluster_perf, quorum_first_reads_find_the_newest)
{
    char v[64];

    clperf_start(17210);
    cr_assert_eq(get_val(tc.cl, "t", "k", 0, v, sizeof(v)), OG_ENOTFOUND);
    cr_assert_eq(put_val(tc.cl, "t", "k", "v1", 0), 0);
    /* Reads rotate over the primaries: enough of them try every pair. */
    for (int i = 0; i < 6; i++) {
        cr_assert_eq(get_val(tc.cl, "t", "k", 0, v, sizeof(v)), 0);
        cr_assert_str_eq(v, "v1");
    }
    /* Each node misses one write in turn: any two primaries still hold the newest. */
    for (int down = 0; down < TC_NODES; down++) {
        char want[16];
        snprintf(want, sizeof(want), "v%d", down + 2);
        tc_node_kill(down);
        cr_assert_eq(put_val(tc.cl, "t", "k", want, 0), 0);
        cr_assert_eq(put_val(tc.cl, "t", "only-two", want, 0), 0);
        for (int i = 0; i < 3; i++) {
            cr_assert_eq(get_val(tc.cl, "t", "k", 0, v, sizeof(v)), 0, "with node %d down", down);
            cr_assert_str_eq(v, want);
        }
        tc_node_start(down);
        for (int i = 0; i < 6; i++) {
            cr_assert_eq(get_val(tc.cl, "t", "k", 0, v, sizeof(v)), 0);
            cr_assert_str_eq(v, want, "node %d is back with an old copy", down);
            cr_assert_eq(get_val(tc.cl, "t", "only-two", 0, v, sizeof(v)), 0);
            cr_assert_str_eq(v, want);
        }
    }
    /* The reads repaired every stale copy: each node holds the newest version itself. */
    node_client_t *c = tc_client_new(2000, 1);
    cr_assert(c);
    for (int i = 0; i < TC_NODES; i++) {
        char addr[32], path[64];
        og_rec_t r;
        snprintf(addr, sizeof(addr), "127.0.0.1:%d", tc.port[i]);
        snprintf(path, sizeof(path), "/d%d/rec/t/k", i + 1);
        node_call_t call = {.addr = addr, .method = "GET", .path = path};
        cr_assert_eq(node_call(c, &call), 0);
        cr_assert_eq(call.status, 200);
        cr_assert_eq(og_rec_decode(call.resp_body, call.resp_len, &r), 0);
        cr_assert(r.summary.len == 2 && memcmp(r.summary.base, "v4", 2) == 0, "node %d not repaired", i + 1);
        free(call.resp_body);
    }
    node_client_free(c);

    tc_node_kill(1);
    tc_node_kill(2);
    cr_assert_eq(get_val(tc.cl, "t", "k", 0, v, sizeof(v)), OG_EQUORUM, "one answer is not a read quorum");
}

Test(cluster_perf, record_cache)
{
    char v[64];

    clperf_start(17220);
    cr_assert_eq(get_val(tc.cl, "buckets", "b", 60000, v, sizeof(v)), OG_ENOTFOUND, "misses are not cached");
    cr_assert_eq(put_val(tc.other, "buckets", "b", "one", 0), 0);
    cr_assert_eq(get_val(tc.cl, "buckets", "b", 60000, v, sizeof(v)), 0, "created elsewhere: seen at once");
    cr_assert_str_eq(v, "one");

    /* Another gateway's change is seen once the cached copy is older than the caller allows. */
    cr_assert_eq(put_val(tc.other, "buckets", "b", "two", 0), 0);
    cr_assert_eq(get_val(tc.cl, "buckets", "b", 60000, v, sizeof(v)), 0);
    cr_assert_str_eq(v, "one", "served from the cache");
    cr_assert_eq(get_val(tc.cl, "buckets", "b", 0, v, sizeof(v)), 0);
    cr_assert_str_eq(v, "two", "the uncached read is current");
    usleep(60 * 1000);
    cr_assert_eq(get_val(tc.cl, "buckets", "b", 50, v, sizeof(v)), 0);
    cr_assert_str_eq(v, "two", "older than max_age: read again");

    /* This handle's own writes drop its entry at once. */
    cr_assert_eq(put_val(tc.cl, "buckets", "b", "three", 0), 0);
    cr_assert_eq(get_val(tc.cl, "buckets", "b", 60000, v, sizeof(v)), 0);
    cr_assert_str_eq(v, "three");
    cr_assert_eq(put_val(tc.cl, "buckets", "b", "", OG_REC_TOMBSTONE), 0);
    cr_assert_eq(get_val(tc.cl, "buckets", "b", 60000, v, sizeof(v)), 0);
    cr_assert_str_eq(v, "<tombstone>", "a local delete is seen at once");
    cr_assert_eq(put_val(tc.other, "buckets", "b", "four", 0), 0);
    cr_assert_eq(get_val(tc.cl, "buckets", "b", 60000, v, sizeof(v)), 0);
    cr_assert_str_eq(v, "four", "tombstones are never cached");

    /* Keys are told apart, including one that is too long to cache. */
    char longkey[600];
    memset(longkey, 'x', sizeof(longkey) - 1);
    longkey[sizeof(longkey) - 1] = '\0';
    cr_assert_eq(put_val(tc.cl, "buckets", longkey, "long", 0), 0);
    cr_assert_eq(put_val(tc.cl, "users", "b", "user", 0), 0);
    cr_assert_eq(get_val(tc.cl, "buckets", longkey, 60000, v, sizeof(v)), 0);
    cr_assert_str_eq(v, "long");
    cr_assert_eq(get_val(tc.cl, "users", "b", 60000, v, sizeof(v)), 0);
    cr_assert_str_eq(v, "user");
    cr_assert_eq(get_val(tc.cl, "buckets", "b", 60000, v, sizeof(v)), 0);
    cr_assert_str_eq(v, "four");
}

Test(cluster_perf, chunk_reads_into_scratch)
{
    enum { N = 40, LEN = 20000 };
    static uint8_t data[N][LEN], back[N][LEN];
    uint8_t ids[N][32];
    cluster_chunk_read_t rd[N];
    unsigned int dl = 32;

    clperf_start(17230);
    for (int i = 0; i < N; i++) {
        for (int j = 0; j < LEN; j++)
            data[i][j] = (uint8_t)(i * 31 + j * 7 + (j >> 8));
        cr_assert(EVP_Digest(data[i], LEN, ids[i], &dl, EVP_sha256(), NULL));
        cr_assert_eq(cluster_chunk_put(tc.cl, ids[i], data[i], LEN), 0);
    }
    size_t need = CLUSTER_READ_SCRATCH(N, (size_t)N * LEN);
    char *scratch = malloc(need);
    cr_assert(scratch);
    /* Enough scratch, too little (the rest is malloc'd), none; whole chunks and ranges. */
    size_t caps[] = {need, need / 2, 0};
    for (size_t c = 0; c < sizeof(caps) / sizeof(caps[0]); c++) {
        memset(back, 0, sizeof(back));
        for (int i = 0; i < N; i++) {
            size_t off = i % 3 == 0 ? 0 : (size_t)i * 100, len = i % 3 == 0 ? LEN : LEN - off - 7;
            rd[i] = (cluster_chunk_read_t){.id = ids[i], .xxh3 = XXH3_64bits(data[i], LEN), .chunk_len = LEN, .off = off,
                                      .len = len, .buf = back[i]};
        }
        cr_assert_eq(cluster_chunk_get_many(tc.cl, rd, N, caps[c] ? scratch : NULL, caps[c]), 0);
        for (int i = 0; i < N; i++)
            cr_assert(memcmp(back[i], data[i] + rd[i].off, rd[i].len) == 0, "chunk %d with scratch %zu", i, caps[c]);
    }
    free(scratch);
}
