/*
 * test_cluster_ring.c: a gateway handle changing rings without a restart (cluster_ring_reload) and
 * reading through a data move.
 *
 * Six nodes. Ring A (pushed to the nodes with PUT /ring, then reloaded by the handle) places
 * everything on d1..d3; ring B (reloaded by the handle only, so the nodes' replicators keep the
 * data where A put it) drains d1..d3 and places everything on d4..d6, so the new placement holds
 * nothing of what was written: every read must find it through the previous ring. The reload
 * rules (only a higher epoch, same part power and replicas) are checked on the way.
 */
#include "cluster/cluster.h"
#include "node_client.h"
#include "ring.h"

#include <errno.h>
#include <xxhash.h>

#define TC_NODES 6
#define TC_TMPDIR "/tmp/og_ringchg_XXXXXX"
#define TC_PART_POWER "6"
#include "../cluster/cluster_fixture.h"

#define RC_TABLE "o.ringchg"
#define RC_N 24

/* Writes to path the ring at src with weight 1 on the three devices from id first_active (0 or
 * 3) and 0 on the others, rebalanced (its epoch is above src's). */
static void rc_ring(const char *src, const char *path, int first_active)
{
    ring_t *ring;
    cr_assert_eq(ring_load(src, &ring), 0);
    for (uint32_t id = 0; id < TC_NODES; id++)
        cr_assert_eq(ring_dev_set_weight(ring, id, (int)id / 3 == first_active / 3 ? 1 : 0), 0);
    cr_assert_eq(ring_rebalance(ring, 1700000000, NULL), 0);
    cr_assert_eq(ring_save(ring, path), 0);
    ring_free(ring);
}

/* PUTs the ring file at path to every node; each must install it. */
static void rc_push(const char *path)
{
    uint8_t *bytes;
    size_t len;
    ring_t *ring;
    cr_assert_eq(ring_load(path, &ring), 0);
    cr_assert_eq(ring_to_bytes(ring, &bytes, &len), 0);
    node_client_t *c = tc_client_new(2000, 1);
    for (int i = 0; i < TC_NODES; i++) {
        char addr[32];
        snprintf(addr, sizeof(addr), "127.0.0.1:%d", tc.port[i]);
        node_call_t call = {.addr = addr, .method = "PUT", .path = "/ring", .body = bytes, .body_len = len};
        cr_assert_eq(node_call(c, &call), 0);
        cr_assert_eq(call.status, 201, "node %d installs the ring (answer %d: %.*s)", i + 1, call.status,
                     (int)call.resp_len, call.resp_body ? call.resp_body : "");
        free(call.resp_body);
    }
    node_client_free(c);
    free(bytes);
    ring_free(ring);
}

TestSuite(cluster_ring, .fini = tc_stop, .timeout = 180);

Test(cluster_ring, reload_takes_only_a_newer_ring_of_the_same_shape)
{
    char a[160], other[160];
    tc_start(17600);
    uint64_t e0 = cluster_ring_epoch(tc.cl);
    cr_assert_eq(cluster_ring_reload(tc.cl, tc.ring), OG_EEXIST, "the same ring: nothing to do");
    snprintf(a, sizeof(a), "%s/a.bin", tc.dir);
    rc_ring(tc.ring, a, 0);
    cr_assert_eq(cluster_ring_reload(tc.cl, a), 0);
    cr_assert_gt(cluster_ring_epoch(tc.cl), e0);
    cr_assert_eq(cluster_ring_reload(tc.cl, tc.ring), RING_ESTALE, "an older ring never comes back");
    cr_assert_gt(cluster_ring_epoch(tc.cl), e0);
    /* Another part power, with an epoch far above: needs a restart, refused. */
    ring_t *r;
    uint32_t id;
    cr_assert_eq(ring_create(7, 3, 0, &r), 0);
    for (int i = 0; i < 40; i++) {
        char addr[32];
        snprintf(addr, sizeof(addr), "127.0.0.1:%d", 1000 + i);
        cr_assert_eq(ring_dev_add(r, (uint32_t)i, addr, "x", 1, &id), 0);
    }
    cr_assert_eq(ring_rebalance(r, 1700000000, NULL), 0);
    snprintf(other, sizeof(other), "%s/other.bin", tc.dir);
    cr_assert_eq(ring_save(r, other), 0);
    ring_free(r);
    cr_assert_eq(cluster_ring_reload(tc.cl, other), OG_EINVAL);
    cr_assert_eq(cluster_ring_reload(tc.cl, "/nonexistent/ring.bin"), -ENOENT);
}

Test(cluster_ring, reads_find_data_on_the_previous_placement)
{
    char a[160], b[160], key[32], val[32];
    static uint8_t data[RC_N][3000];
    uint8_t id[RC_N][32];
    uint64_t xx[RC_N];
    tc_start(17620);
    snprintf(a, sizeof(a), "%s/a.bin", tc.dir);
    snprintf(b, sizeof(b), "%s/b.bin", tc.dir);
    rc_ring(tc.ring, a, 0);
    rc_push(a);
    cr_assert_eq(cluster_ring_reload(tc.cl, a), 0);
    for (int i = 0; i < RC_N; i++) {
        fill_random(data[i], sizeof(data[i]), (uint64_t)i + 1);
        sha256(data[i], sizeof(data[i]), id[i]);
        xx[i] = XXH3_64bits(data[i], sizeof(data[i]));
        cr_assert_eq(cluster_chunk_put(tc.cl, id[i], data[i], sizeof(data[i])), 0);
        snprintf(key, sizeof(key), "k%d", i);
        snprintf(val, sizeof(val), "v%d", i);
        og_rec_t r = {.summary = og_str(val)};
        cluster_stamp(tc.cl, &r.ts, &r.tiebreak);
        cr_assert_eq(cluster_rec_put(tc.cl, RC_TABLE, og_str(key), &r), 0);
    }
    /* Ring B moves every replica to d4..d6, which hold nothing: only the fallback finds data. */
    rc_ring(a, b, 3);
    cr_assert_eq(cluster_ring_reload(tc.cl, b), 0);
    for (int i = 0; i < RC_N; i++) {
        uint8_t got[3000];
        og_rec_t r;
        char *buf;
        cr_assert_eq(cluster_chunk_get(tc.cl, id[i], xx[i], sizeof(got), 0, sizeof(got), got), 0, "chunk %d", i);
        cr_assert_eq(memcmp(got, data[i], sizeof(got)), 0);
        snprintf(key, sizeof(key), "k%d", i);
        snprintf(val, sizeof(val), "v%d", i);
        cr_assert_eq(cluster_rec_get(tc.cl, RC_TABLE, og_str(key), &r, &buf), 0, "record %d", i);
        cr_assert_eq(r.summary.len, strlen(val));
        cr_assert_eq(memcmp(r.summary.base, val, r.summary.len), 0);
        free(buf);
    }
    og_rec_t r;
    char *buf;
    cr_assert_eq(cluster_rec_get(tc.cl, RC_TABLE, og_str("never"), &r, &buf), OG_ENOTFOUND);
    /* New writes go to the new placement and read back. */
    og_rec_t w = {.summary = og_str("new")};
    cluster_stamp(tc.cl, &w.ts, &w.tiebreak);
    cr_assert_eq(cluster_rec_put(tc.cl, RC_TABLE, og_str("after"), &w), 0);
    cr_assert_eq(cluster_rec_get(tc.cl, RC_TABLE, og_str("after"), &r, &buf), 0);
    free(buf);
}
