/*
 * test_gw_cluster.c: the replication/quorum layer against real storage nodes.
 *
 * Each test builds a 3-device, 3-zone ring with onggi-ring and starts three onggi-node processes
 * (one device each) in a temporary directory, on its own loopback ports so Criterion's parallel
 * jobs never share a cluster. The binaries are taken from the build tree this test lives in
 * (build/<mode>/bin); the tests skip when they are not built yet.
 */
#include "cluster/cluster.h"
#include "node_client.h"

#include <criterion/criterion.h>
#include <errno.h>
#include <ftw.h>
#include <limits.h>
#include <openssl/evp.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>
#include <xxhash.h>

#define TC_NODES 3
#define TC_TMPDIR "/tmp/og_cluster_XXXXXX"
#include "../cluster/cluster_fixture.h"

/* Writes a record whose summary is `val` with a fresh stamp (or the given one when ts != 0). */
static int put_val(const char *table, const char *key, const char *val, uint8_t flags, uint64_t ts)
{
    og_rec_t r = {.flags = flags, .summary = og_str(val)};
    cluster_stamp(tc.cl, &r.ts, &r.tiebreak);
    if (ts)
        r.ts = ts;
    return cluster_rec_put(tc.cl, table, og_str(key), &r);
}

/* The summary of the newest version, as a string, into out; returns rec_get's code. */
static int get_val(const char *table, const char *key, char *out, size_t cap, uint8_t *flags)
{
    og_rec_t r;
    char *buf;
    int rc = cluster_rec_get(tc.cl, table, og_str(key), &r, &buf);
    if (rc == 0) {
        snprintf(out, cap, "%.*s", (int)r.summary.len, r.summary.base);
        if (flags)
            *flags = r.flags;
        free(buf);
    }
    return rc;
}

TestSuite(gw_cluster, .fini = tc_stop, .timeout = 120);

Test(gw_cluster, chunk_round_trip_and_locate)
{
    enum { LEN = 300 * 1000 };
    uint8_t *data = malloc(LEN), *back = malloc(LEN), id[32], other[32];
    char where[8][96];

    tc_start(17000);
    fill_random(data, LEN, 1);
    sha256(data, LEN, id);
    uint64_t xx = XXH3_64bits(data, LEN);
    cr_assert_eq(cluster_chunk_put(tc.cl, id, data, LEN), 0);
    cr_assert_eq(cluster_chunk_put(tc.cl, id, data, LEN), 0, "a second put of the same chunk is fine");
    cr_assert_eq(cluster_chunk_get(tc.cl, id, xx, LEN, 0, LEN, back), 0);
    cr_assert(memcmp(data, back, LEN) == 0);
    memset(back, 0, LEN);
    cr_assert_eq(cluster_chunk_get(tc.cl, id, xx, LEN, 12345, 5000, back), 0);
    cr_assert(memcmp(data + 12345, back, 5000) == 0, "range read");
    cr_assert_eq(cluster_chunk_get(tc.cl, id, xx ^ 1, LEN, 0, LEN, back), OG_ECORRUPT,
                 "a full read that fails the expected xxh3 is never returned");

    sha256("nope", 4, other);
    int grc = cluster_chunk_get(tc.cl, other, 0, 10, 0, 10, back);
    cr_assert_eq(grc, OG_ENOTFOUND, "got %d", grc);

    int n = cluster_chunk_locate(tc.cl, id, where, 8);
    cr_assert_eq(n, 3);
    cr_assert(strcmp(where[0], where[1]) && strcmp(where[0], where[2]) && strcmp(where[1], where[2]));
    cr_assert_eq(cluster_chunk_locate(tc.cl, other, where, 8), 0);
    free(data);
    free(back);
}

Test(gw_cluster, quorum_with_nodes_down)
{
    uint8_t data[4096], id[32], id2[32], back[4096];
    char v[64];

    tc_start(17010);
    fill_random(data, sizeof(data), 2);
    sha256(data, sizeof(data), id);
    cr_assert_eq(cluster_chunk_put(tc.cl, id, data, sizeof(data)), 0);
    cr_assert_eq(put_val("t", "k", "v1", 0, 0), 0);

    tc_node_kill(1);
    data[0] ^= 0xff;
    sha256(data, sizeof(data), id2);
    cr_assert_eq(cluster_chunk_put(tc.cl, id2, data, sizeof(data)), 0, "2 of 3 is a quorum");
    cr_assert_eq(cluster_chunk_get(tc.cl, id2, XXH3_64bits(data, sizeof(data)), sizeof(data), 0, sizeof(data), back),
                 0);
    cr_assert_eq(put_val("t", "k", "v2", 0, 0), 0);
    cr_assert_eq(get_val("t", "k", v, sizeof(v), NULL), 0);
    cr_assert_str_eq(v, "v2");

    tc_node_kill(2);
    data[1] ^= 0xff;
    sha256(data, sizeof(data), id2);
    cr_assert_eq(cluster_chunk_put(tc.cl, id2, data, sizeof(data)), OG_EQUORUM, "1 of 3 is not");
    cr_assert_eq(put_val("t", "k", "v3", 0, 0), OG_EQUORUM);
    cr_assert_eq(get_val("t", "k", v, sizeof(v), NULL), OG_EQUORUM, "one answer is not a read quorum");
    data[0] ^= 0xff, data[1] ^= 0xff;
    cr_assert_eq(cluster_chunk_get(tc.cl, id, XXH3_64bits(data, sizeof(data)), sizeof(data), 0, sizeof(data), back),
                 0, "a chunk read needs just one good copy");
    cr_assert(memcmp(back, data, sizeof(data)) == 0);

    tc_node_kill(0);
    cr_assert_eq(cluster_chunk_get(tc.cl, id, 0, sizeof(data), 0, sizeof(data), back), OG_EQUORUM,
                 "nothing reachable");
}

Test(gw_cluster, records_newest_wins)
{
    char v[64];
    uint8_t flags;

    tc_start(17020);
    cr_assert_eq(get_val("buckets", "b1", v, sizeof(v), NULL), OG_ENOTFOUND);
    cr_assert_eq(put_val("buckets", "b1", "one", 0, 0), 0);
    cr_assert_eq(put_val("buckets", "b1", "two", 0, 0), 0);
    cr_assert_eq(get_val("buckets", "b1", v, sizeof(v), NULL), 0);
    cr_assert_str_eq(v, "two");
    /* A write at a fixed old stamp (tiebreak 0: a conditional write like an expiry) loses. */
    og_rec_t cond = {.ts = 1000, .tiebreak = 0, .summary = og_str("cond")};
    cr_assert_eq(cluster_rec_put(tc.cl, "buckets", og_str("b1"), &cond), 0, "durable-as-new, not applied");
    cr_assert_eq(get_val("buckets", "b1", v, sizeof(v), NULL), 0);
    cr_assert_str_eq(v, "two");
    /* Any other write stamped in the past (a lagging clock) is stamped again and wins. */
    cr_assert_eq(put_val("buckets", "b1", "old", 0, 1000), 0);
    cr_assert_eq(get_val("buckets", "b1", v, sizeof(v), NULL), 0);
    cr_assert_str_eq(v, "old");

    /* A replica that missed a write must lose to the two that have it. */
    tc_node_kill(2);
    cr_assert_eq(put_val("buckets", "b1", "three", 0, 0), 0);
    cr_assert_eq(put_val("buckets", "key with/odd %chars", "x", 0, 0), 0);
    tc_node_start(2);
    tc_node_kill(0);
    cr_assert_eq(get_val("buckets", "b1", v, sizeof(v), NULL), 0);
    cr_assert_str_eq(v, "three");
    cr_assert_eq(get_val("buckets", "key with/odd %chars", v, sizeof(v), NULL), 0);
    cr_assert_str_eq(v, "x");
    tc_node_start(0);

    cr_assert_eq(put_val("buckets", "b1", "", OG_REC_TOMBSTONE, 0), 0);
    cr_assert_eq(get_val("buckets", "b1", v, sizeof(v), &flags), 0, "tombstones are returned");
    cr_assert(flags & OG_REC_TOMBSTONE);
}

typedef struct {
    int from, to;
    int rc;
} writer_t;

static void *write_keys(void *arg)
{
    writer_t *w = arg;
    char key[32];
    for (int i = w->from; i < w->to && w->rc == 0; i++) {
        snprintf(key, sizeof(key), "k%05d", i);
        w->rc = put_val("o.listing", key, key, 0, 0);
    }
    return NULL;
}

/* All live keys of a listing, page by page; returns the page count. */
static int list_all(const char *prefix, size_t limit, char (*keys)[32], size_t cap, size_t *n)
{
    char after[64] = "";
    int pages = 0;
    *n = 0;
    for (;;) {
        cluster_list_t l;
        cr_assert_eq(cluster_list(tc.cl, "o.listing", og_str(prefix), og_str(after), limit, &l), 0);
        pages++;
        for (size_t i = 0; i < l.n; i++) {
            cr_assert_lt(*n, cap);
            cr_assert_lt(l.entries[i].key.len, 32);
            snprintf(keys[(*n)++], 32, "%.*s", (int)l.entries[i].key.len, l.entries[i].key.base);
            cr_assert_eq(l.entries[i].rec.summary.len, l.entries[i].key.len, "summary rides along");
        }
        int more = l.truncated;
        if (more)
            snprintf(after, sizeof(after), "%.*s", (int)l.next_after.len, l.next_after.base);
        cluster_list_free(&l);
        if (!more)
            return pages;
        cr_assert_lt(pages, 100);
    }
}

Test(gw_cluster, list_merge_tombstones_pagination)
{
    enum { NKEYS = 2500, NW = 4 };
    static char keys[NKEYS + 100][32];
    pthread_t th[NW];
    writer_t w[NW];
    char key[32];
    size_t n;

    tc_start(17030);
    for (int t = 0; t < NW; t++) {
        w[t] = (writer_t){t * NKEYS / NW, (t + 1) * NKEYS / NW, 0};
        cr_assert_eq(pthread_create(&th[t], NULL, write_keys, &w[t]), 0);
    }
    for (int t = 0; t < NW; t++) {
        pthread_join(th[t], NULL);
        cr_assert_eq(w[t].rc, 0);
    }
    /* Every 10th key deleted. */
    for (int i = 0; i < NKEYS; i += 10) {
        snprintf(key, sizeof(key), "k%05d", i);
        cr_assert_eq(put_val("o.listing", key, "", OG_REC_TOMBSTONE, 0), 0);
    }
    int pages = list_all("", 1000, keys, NKEYS + 100, &n);
    cr_assert_eq(n, NKEYS - NKEYS / 10);
    cr_assert_eq(pages, 3);
    for (size_t i = 0, k = 0; i < n; i++, k++) {
        if (k % 10 == 0)
            k++;
        snprintf(key, sizeof(key), "k%05zu", k);
        cr_assert_str_eq(keys[i], key);
    }
    list_all("k012", 1000, keys, NKEYS + 100, &n);
    cr_assert_eq(n, 90);
    cr_assert_str_eq(keys[0], "k01201");

    /* Replicas that disagree: a key written and one deleted while a node was down. */
    tc_node_kill(1);
    cr_assert_eq(put_val("o.listing", "k00005", "", OG_REC_TOMBSTONE, 0), 0);
    cr_assert_eq(put_val("o.listing", "k99999", "k99999", 0, 0), 0);
    cr_assert_eq(put_val("o.listing", "k00003a", "k00003a", 0, 0), 0);
    tc_node_start(1);
    list_all("k0000", 3, keys, NKEYS + 100, &n); /* small pages: truncation on every replica */
    cr_assert_eq(n, 9, "k00000 and k00005 deleted, k00003a added, got %zu", n);
    cr_assert_str_eq(keys[2], "k00003");
    cr_assert_str_eq(keys[3], "k00003a");
    cr_assert_str_eq(keys[4], "k00004");
    cr_assert_str_eq(keys[5], "k00006");
    list_all("k9", 1000, keys, NKEYS + 100, &n);
    cr_assert_eq(n, 1);
}


/* Conditional puts (the leases of conditional writes): applied on a replica only when its record
 * is absent/a tombstone or has exactly the expected stamp; held at a quorum of primaries; lease
 * tables ("l.*") refuse plain puts, so read repair cannot overwrite a lease. */
Test(gw_cluster, conditional_put)
{
    char v[64];
    og_rec_t a = {.summary = og_str("A")}, b = {.summary = og_str("B")}, tomb = {.flags = OG_REC_TOMBSTONE};
    cluster_rec_cond_t absent = {.absent = 1};

    tc_start(17160);
    cluster_stamp(tc.cl, &a.ts, &a.tiebreak);
    cr_assert_eq(cluster_rec_put_if(tc.cl, "l.cond", og_str("k"), &a, &absent), 0);
    cluster_stamp(tc.cl, &b.ts, &b.tiebreak);
    cr_assert_eq(cluster_rec_put_if(tc.cl, "l.cond", og_str("k"), &b, &absent), OG_EEXIST, "A holds it");
    cluster_rec_cond_t wrong = {.ts = b.ts, .tiebreak = b.tiebreak};
    cr_assert_eq(cluster_rec_put_if(tc.cl, "l.cond", og_str("k"), &b, &wrong), OG_EEXIST);
    cr_assert_eq(get_val("l.cond", "k", v, sizeof(v), NULL), 0);
    cr_assert_str_eq(v, "A");
    /* a plain put (what read repair sends) is refused on every replica */
    cr_assert_eq(put_val("l.cond", "k", "plain", 0, 0), OG_EQUORUM);
    cr_assert_eq(get_val("l.cond", "k", v, sizeof(v), NULL), 0);
    cr_assert_str_eq(v, "A");
    /* the holder's release: a tombstone on its own stamp; then the key is free again */
    cluster_rec_cond_t mine = {.ts = a.ts, .tiebreak = a.tiebreak};
    cluster_stamp(tc.cl, &tomb.ts, &tomb.tiebreak);
    cr_assert_eq(cluster_rec_put_if(tc.cl, "l.cond", og_str("k"), &tomb, &mine), 0);
    cluster_stamp(tc.cl, &b.ts, &b.tiebreak);
    cr_assert_eq(cluster_rec_put_if(tc.cl, "l.cond", og_str("k"), &b, &absent), 0);
    /* with one node down a quorum still decides; with two down nothing is held */
    tc_node_kill(0);
    cluster_rec_cond_t held = {.ts = b.ts, .tiebreak = b.tiebreak};
    cluster_stamp(tc.cl, &a.ts, &a.tiebreak);
    cr_assert_eq(cluster_rec_put_if(tc.cl, "l.cond", og_str("k"), &a, &held), 0);
    tc_node_kill(1);
    og_rec_t c = {.summary = og_str("C")};
    cluster_stamp(tc.cl, &c.ts, &c.tiebreak);
    cr_assert_neq(cluster_rec_put_if(tc.cl, "l.cond", og_str("k2"), &c, &absent), 0);
    tc_node_start(0);
    tc_node_start(1);
}
