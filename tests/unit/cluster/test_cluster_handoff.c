/*
 * test_gw_cluster_handoff.c: read quorums on a ring that has handoff devices.
 *
 * Five devices in five zones, R = 3: every partition has three primaries and two handoffs. The
 * test finds the primaries and handoffs of its table's partition from the ring itself, stops
 * exactly those nodes, and checks that a handoff's answer never stands in for a primary's in a
 * read quorum (a handoff's 404 is no evidence: it only holds writes made while a primary was down).
 * Like test_gw_cluster.c it starts real onggi-node processes from build/<mode>/bin, on its own
 * loopback ports, and skips when they are not built.
 */
#include "cluster/cluster.h"
#include "node_client.h"
#include "ring.h"

#include <criterion/criterion.h>
#include <ftw.h>
#include <limits.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/wait.h>
#include <unistd.h>

#define TC_NODES 5
#define TC_TMPDIR "/tmp/og_handoff_XXXXXX"
#define TC_PART_POWER "6"
#include "../cluster/cluster_fixture.h"

#define HC_TABLE "o.handoff"

/* The index (0 .. TC_NODES-1) of the node serving device d. */
static int hc_node_of(const ring_dev_t *d)
{
    for (int i = 0; i < TC_NODES; i++) {
        char addr[32];
        snprintf(addr, sizeof(addr), "127.0.0.1:%d", tc.port[i]);
        if (strcmp(addr, d->addr) == 0)
            return i;
    }
    cr_assert_fail("device %s at %s is not one of ours", d->name, d->addr);
    return -1;
}

/* Node indexes of HC_TABLE's primaries (prim[0..3)) and handoffs (hand[0..2)), in ring order. */
static void hc_placement(int prim[3], int hand[2])
{
    ring_t *ring;
    const ring_dev_t *dev[3];
    cr_assert_eq(ring_load(tc.ring, &ring), 0);
    uint32_t part = ring_part(ring, HC_TABLE, strlen(HC_TABLE));
    cr_assert_eq(ring_primaries(ring, part, dev, 3), 3);
    for (int i = 0; i < 3; i++)
        prim[i] = hc_node_of(dev[i]);
    for (int i = 0; i < 2; i++) {
        const ring_dev_t *h = ring_handoff(ring, part, (size_t)i);
        cr_assert(h, "5 devices, R=3: two handoffs");
        hand[i] = hc_node_of(h);
    }
    ring_free(ring);
}

static int hc_put(const char *key, const char *val)
{
    og_rec_t r = {.summary = og_str(val)};
    cluster_stamp(tc.cl, &r.ts, &r.tiebreak);
    return cluster_rec_put(tc.cl, HC_TABLE, og_str(key), &r);
}

/* The newest version's summary into out; returns rec_get's code. */
static int hc_get(const char *key, char *out, size_t cap)
{
    og_rec_t r;
    char *buf;
    out[0] = '\0';
    int rc = cluster_rec_get(tc.cl, HC_TABLE, og_str(key), &r, &buf);
    if (rc == 0) {
        snprintf(out, cap, "%.*s", (int)r.summary.len, r.summary.base);
        free(buf);
    }
    return rc;
}

/* Lists HC_TABLE in one page; returns list's code and the live key count in *n. */
static int hc_list(size_t *n)
{
    cluster_list_t l;
    int rc = cluster_list(tc.cl, HC_TABLE, og_str(""), og_str(""), 100, &l);
    *n = 0;
    if (rc == 0) {
        cr_assert(!l.truncated);
        *n = l.n;
        cluster_list_free(&l);
    }
    return rc;
}

TestSuite(cluster_handoff, .fini = tc_stop, .timeout = 120);

Test(cluster_handoff, handoff_answers_never_make_a_read_quorum)
{
    int prim[3], hand[2];
    char v[64];
    size_t n;

    tc_start(17300);
    hc_placement(prim, hand);

    cr_assert_eq(hc_put("k", "v1"), 0);
    /* One primary down: the write lands on the two others (and a handoff); reads find it. */
    tc_node_kill(prim[2]);
    cr_assert_eq(hc_put("k", "v2"), 0);
    cr_assert_eq(hc_put("n", "new"), 0);
    for (int i = 0; i < 3; i++) {
        cr_assert_eq(hc_get("k", v, sizeof(v)), 0, "one primary down reads, try %d", i);
        cr_assert_str_eq(v, "v2");
    }

    /* The stale primary returns, the handoff that took its writes goes, then the two primaries
     * that hold the newest version go. What answers now is the stale primary and the second
     * handoff, which never saw the key: that is no quorum of primaries, so 503, never v1 (stale)
     * or a 404 for "n" (false), and no read repair onto the handoff. */
    tc_node_kill(hand[0]);
    tc_node_start(prim[2]);
    tc_node_kill(prim[0]);
    tc_node_kill(prim[1]);
    for (int i = 0; i < 3; i++) {
        int rc = hc_get("k", v, sizeof(v));
        cr_assert_eq(rc, OG_EQUORUM, "two primaries down: got %d (%s)", rc, v);
        rc = hc_get("n", v, sizeof(v));
        cr_assert_eq(rc, OG_EQUORUM, "two primaries down: got %d (%s)", rc, v);
        cr_assert_eq(hc_list(&n), OG_EQUORUM, "a listing needs a quorum of primaries too");
    }

    /* One primary with the newest version back: a quorum of primaries again, newest wins. */
    tc_node_start(prim[0]);
    for (int i = 0; i < 3; i++) {
        cr_assert_eq(hc_get("k", v, sizeof(v)), 0);
        cr_assert_str_eq(v, "v2");
        cr_assert_eq(hc_get("n", v, sizeof(v)), 0);
        cr_assert_str_eq(v, "new");
        cr_assert_eq(hc_list(&n), 0);
        cr_assert_eq(n, 2);
    }
}
