/*
 * test_cluster_detect.c: a frozen node and clocks that disagree.
 *  - failure detection: with one node stopped (SIGSTOP: it accepts connections and never answers),
 *    writes return at a quorum and reads pay the node's timeout once, then skip it while it is in
 *    back-off (probes have a short timeout): at most one operation takes anywhere near a timeout;
 *  - ordering that survives clock skew: a version stamped ahead of this gateway's clock (another
 *    gateway's clock runs fast) does not make an overwrite or a delete through this one a silent
 *    no-op: the node says it kept a newer record (X-Onggi-Newer), the gateway's hybrid clock moves
 *    past it and writes again;
 *  - the device status view (cluster_devs_status): a frozen node is reported down, then skipped.
 * Real onggi-node processes from this build tree (cluster_fixture.h), ports 17500+.
 */
#include "cluster/cluster.h"
#include "node_client.h"

#include <criterion/criterion.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include <xxhash.h>

#define TC_NODES 3
#define TC_TMPDIR "/tmp/og_detect_XXXXXX"
#include "../cluster/cluster_fixture.h"

/* The node timeout of the handle under test, and what counts as having waited for one. */
#define DT_TIMEOUT_MS 10000
#define DT_SLOW_MS 2000
#define DT_TABLE "o.detect"

static void dt_fini(void)
{
    for (int i = 0; i < TC_NODES; i++)
        if (tc.pid[i] > 0)
            kill(tc.pid[i], SIGCONT);
    tc_stop();
}

TestSuite(cluster_detect, .fini = dt_fini, .timeout = 180);

static uint64_t dt_ms(void)
{
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return (uint64_t)t.tv_sec * 1000 + (uint64_t)t.tv_nsec / 1000000;
}

/* Writes a record whose summary is val through cl, stamped by cl (or at ts when nonzero). */
static int dt_put(cluster_t *cl, const char *key, const char *val, uint8_t flags, uint64_t ts)
{
    og_rec_t r = {.flags = flags, .summary = og_str(val)};
    cluster_stamp(cl, &r.ts, &r.tiebreak);
    if (ts)
        r.ts = ts;
    return cluster_rec_put(cl, DT_TABLE, og_str(key), &r);
}

/* The newest version's summary into out and its flags; rec_get's code. */
static int dt_get(cluster_t *cl, const char *key, char *out, size_t cap, uint8_t *flags)
{
    og_rec_t r;
    char *buf;
    int rc = cluster_rec_get(cl, DT_TABLE, og_str(key), &r, &buf);
    if (rc == 0) {
        snprintf(out, cap, "%.*s", (int)r.summary.len, r.summary.base);
        *flags = r.flags;
        free(buf);
    }
    return rc;
}

/* Chunks of the frozen-node test, and the room a batch write's header takes in front of them. */
#define DT_CHUNK 4096
static char dt_batch[CLUSTER_BATCH_HDR_MAX + 3 * DT_CHUNK];

/* One round of the frozen-node test: a record write, a chunk write, a batch write of two chunks and
 * a record read, each of which must succeed. Counts in *slow the ones that took over DT_SLOW_MS. */
static void dt_round(cluster_t *cl, int i, int *slow, uint64_t *worst)
{
    char key[32], val[32], got[64] = "";
    uint8_t flags, id[32];
    char *data = dt_batch + CLUSTER_BATCH_HDR_MAX;
    cluster_chunk_hdr_t h[2];
    snprintf(key, sizeof(key), "k%d", i);
    snprintf(val, sizeof(val), "v%d", i);
    fill_random((uint8_t *)data, 3 * DT_CHUNK, (uint64_t)i + 1);
    for (int k = 0; k < 2; k++) {
        sha256(data + k * DT_CHUNK, DT_CHUNK, h[k].id);
        h[k].xxh3 = XXH3_64bits(data + k * DT_CHUNK, DT_CHUNK);
        h[k].len = DT_CHUNK;
    }
    sha256(data + 2 * DT_CHUNK, DT_CHUNK, id);
    for (int op = 0; op < 4; op++) {
        uint64_t t0 = dt_ms();
        int rc = op == 0   ? dt_put(cl, key, val, 0, 0)
                 : op == 1 ? cluster_chunk_put(cl, id, data + 2 * DT_CHUNK, DT_CHUNK)
                 : op == 2 ? cluster_chunk_put_many(cl, h, 2, data)
                           : dt_get(cl, key, got, sizeof(got), &flags);
        uint64_t took = dt_ms() - t0;
        cr_assert_eq(rc, 0, "round %d, operation %d failed: %d", i, op, rc);
        *slow += took > DT_SLOW_MS;
        *worst = took > *worst ? took : *worst;
    }
    cr_assert_str_eq(got, val);
}

Test(cluster_detect, a_frozen_node_costs_one_timeout)
{
    enum { ROUNDS = 40 };
    int slow = 0;
    uint64_t worst = 0, t0;

    tc_start(17500);
    /* The gateway's own node timeout, so "slow" below can only mean "waited for a timeout". */
    cr_assert_eq(cluster_open(tc.ring, NULL, DT_TIMEOUT_MS, &tc.other), 0);
    for (int i = 0; i < 3; i++)
        dt_round(tc.other, i, &slow, &worst); /* warm: pooled connections to every node */
    cr_assert_eq(slow, 0);

    tc_node_freeze(1);
    t0 = dt_ms();
    for (int i = 0; i < ROUNDS; i++) {
        /* Halfway, let the back-off (2 s) end: the node gets one probe, with a short timeout. */
        if (i == ROUNDS / 2)
            usleep(2500 * 1000);
        dt_round(tc.other, 100 + i, &slow, &worst);
    }
    uint64_t total = dt_ms() - t0 - 2500;
    cr_log_info("frozen node: %d of %d operations over %d ms, slowest %llu ms, all %llu ms", slow, 4 * ROUNDS,
                DT_SLOW_MS, (unsigned long long)worst, (unsigned long long)total);
    cr_assert_leq(slow, 1, "%d operations waited for the frozen node", slow);
    cr_assert_eq(kill(tc.pid[1], SIGCONT), 0);

    /* Back: its probe succeeds within the back-off's bound and everything still works. */
    for (int i = 0; i < 3; i++)
        dt_round(tc.other, 200 + i, &slow, &worst);
}

/* Writes rec for key straight to every node, as a gateway whose clock is far ahead would. */
static void dt_put_direct(const char *key, const og_rec_t *rec)
{
    char body[256], path[128];
    long len = og_rec_encode(rec, body, sizeof(body));
    cr_assert_gt(len, 0);
    node_client_t *c = tc_client_new(2000, 1);
    cr_assert(c);
    for (int i = 0; i < TC_NODES; i++) {
        char addr[32];
        snprintf(addr, sizeof(addr), "127.0.0.1:%d", tc.port[i]);
        snprintf(path, sizeof(path), "/d%d/rec/%s/%s", i + 1, DT_TABLE, key);
        node_call_t call = {.addr = addr, .method = "PUT", .path = path, .body = body, .body_len = (size_t)len};
        cr_assert_eq(node_call(c, &call), 0);
        cr_assert(call.status == 201 || call.status == 200);
        free(call.resp_body);
    }
    node_client_free(c);
}

Test(cluster_detect, a_write_through_a_lagging_clock_still_wins)
{
    char v[64];
    uint8_t flags;
    uint64_t ts, tb, ahead = og_time_ns() + 3600ull * 1000000000ull; /* an hour ahead */

    tc_start(17510);
    og_rec_t future = {.ts = ahead, .tiebreak = 42, .summary = og_str("from the future")};
    dt_put_direct("k", &future);

    /* A node that keeps the newer record says so, with its stamp. */
    node_client_t *c = tc_client_new(2000, 1);
    cr_assert(c);
    og_rec_t older = {.ts = ahead - 1, .tiebreak = 7, .summary = og_str("older")};
    char body[128], addr[32];
    long len = og_rec_encode(&older, body, sizeof(body));
    snprintf(addr, sizeof(addr), "127.0.0.1:%d", tc.port[0]);
    node_call_t call = {.addr = addr, .method = "PUT", .path = "/d1/rec/" DT_TABLE "/k", .body = body,
                        .body_len = (size_t)len};
    cr_assert_eq(node_call(c, &call), 0);
    cr_assert_eq(call.status, 200);
    cr_assert(call.newer);
    cr_assert_eq(call.newer_ts, ahead);
    cr_assert_eq(call.newer_tiebreak, 42);
    free(call.resp_body);
    /* ... and a repeat of the very record it holds is just "as new". */
    len = og_rec_encode(&future, body, sizeof(body));
    call.body_len = (size_t)len;
    cr_assert_eq(node_call(c, &call), 0);
    cr_assert_eq(call.status, 200);
    cr_assert(!call.newer);
    free(call.resp_body);
    node_client_free(c);

    /* An overwrite through this gateway (clock an hour behind) is what readers see afterwards. */
    cr_assert_eq(dt_put(tc.cl, "k", "now", 0, 0), 0);
    cr_assert_eq(dt_get(tc.cl, "k", v, sizeof(v), &flags), 0);
    cr_assert_str_eq(v, "now");
    cluster_stamp(tc.cl, &ts, &tb);
    cr_assert_gt(ts, ahead, "the hybrid clock moved past the newer stamp");

    /* So is a delete. */
    dt_put_direct("d", &future);
    cr_assert_eq(dt_put(tc.cl, "d", "", OG_REC_TOMBSTONE, 0), 0);
    cr_assert_eq(dt_get(tc.cl, "d", v, sizeof(v), &flags), 0);
    cr_assert(flags & OG_REC_TOMBSTONE, "the delete is the newest version");

    /* A gateway that only read a version stamped ahead stamps its next write after it. */
    future.ts = ahead + 1000000000ull;
    dt_put_direct("r", &future);
    cr_assert_eq(cluster_open(tc.ring, NULL, 2000, &tc.other), 0);
    cr_assert_eq(dt_get(tc.other, "r", v, sizeof(v), &flags), 0);
    cluster_stamp(tc.other, &ts, &tb);
    cr_assert_gt(ts, future.ts);
}

/* The number of devices up in st[0..n), and the index of the last one down (-1 when none). */
static size_t dt_devs_up(const cluster_dev_status_t *st, size_t n, int *down)
{
    size_t up = 0;
    *down = -1;
    for (size_t i = 0; i < n; i++) {
        if (st[i].up)
            up++;
        else
            *down = (int)i;
    }
    return up;
}

/* cluster_devs_status (the console's cluster view): every device with its node's /stat; a frozen
 * node is reported down (with why) after the status call's own short bound, not the handle's
 * timeout, and while it is in back-off it is not asked at all. */
Test(cluster_detect, device_status_reports_a_frozen_node_down)
{
    cluster_dev_status_t *st;
    size_t n;
    int down;
    char port[16];

    tc_start(17530);
    cr_assert_eq(cluster_open(tc.ring, NULL, DT_TIMEOUT_MS, &tc.other), 0);
    cr_assert_eq(cluster_devs_status(tc.other, &st, &n), 0);
    cr_assert_eq(n, (size_t)TC_NODES);
    cr_assert_eq(dt_devs_up(st, n, &down), (size_t)TC_NODES);
    for (size_t i = 0; i < n; i++) {
        cr_assert_not_null(st[i].stat);
        cr_assert_not_null(memmem(st[i].stat, st[i].stat_len, "\"state\":\"ok\"", 12), "%.*s", (int)st[i].stat_len,
                           st[i].stat);
        cr_assert_str_eq(st[i].error, "");
    }
    cluster_devs_status_free(st, n);

    tc_node_freeze(1);
    snprintf(port, sizeof(port), ":%d", tc.port[1]);
    for (int round = 0; round < 2; round++) {
        cr_assert_eq(cluster_devs_status(tc.other, &st, &n), 0);
        cr_assert_eq(dt_devs_up(st, n, &down), (size_t)TC_NODES - 1);
        cr_assert_not_null(strstr(st[down].addr, port), "%s", st[down].addr);
        cr_assert_null(st[down].stat);
        cr_assert_str_neq(st[down].error, "");
        /* The first call waited for it (a timeout: back-off begins); the second skipped it. */
        cr_assert_eq(st[down].skipped, round == 1);
        cluster_devs_status_free(st, n);
    }
    cr_assert_eq(kill(tc.pid[1], SIGCONT), 0);
}
