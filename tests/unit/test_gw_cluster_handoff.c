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
#include "gw_cluster.h"
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

#define HC_NODES 5
#define HC_TABLE "o.handoff"

/* The fixture's state (Criterion's fini hook takes no argument). */
typedef struct {
    char bin[PATH_MAX + 8];
    char dir[64];
    char ring[128];
    int port[HC_NODES];
    pid_t pid[HC_NODES];
    gw_cluster_t *cl;
} hc_t;

static hc_t hc;

static int hc_rm(const char *path, const struct stat *sb, int flag, struct FTW *ftw)
{
    (void)sb, (void)flag, (void)ftw;
    return remove(path);
}

/* Runs argv (argv[0] a file name in hc.bin) to completion, output in the test dir's log.
 * Returns its exit status, or -1. */
static int hc_run(char *const argv[])
{
    char exe[PATH_MAX + 64], log[160];
    snprintf(exe, sizeof(exe), "%s/%s", hc.bin, argv[0]);
    snprintf(log, sizeof(log), "%s/tools.log", hc.dir);
    pid_t pid = fork();
    if (pid == 0) {
        if (!freopen(log, "a", stdout) || !freopen(log, "a", stderr))
            _exit(127);
        execv(exe, argv);
        _exit(127);
    }
    int st;
    if (pid < 0 || waitpid(pid, &st, 0) != pid)
        return -1;
    return WIFEXITED(st) ? WEXITSTATUS(st) : -1;
}

static void hc_node_start(int i)
{
    char exe[PATH_MAX + 64], listen[32], dir[96], log[96];
    snprintf(exe, sizeof(exe), "%s/onggi-node", hc.bin);
    snprintf(listen, sizeof(listen), "127.0.0.1:%d", hc.port[i]);
    snprintf(dir, sizeof(dir), "%s/node%d", hc.dir, i + 1);
    snprintf(log, sizeof(log), "%s/node%d.log", hc.dir, i + 1);
    pid_t pid = fork();
    cr_assert(pid >= 0);
    if (pid == 0) {
        prctl(PR_SET_PDEATHSIG, SIGKILL); /* never outlive a crashed test */
        if (!freopen(log, "a", stdout) || !freopen(log, "a", stderr))
            _exit(127);
        execl(exe, "onggi-node", "--ring", hc.ring, "--listen", listen, "--dir", dir, (char *)NULL);
        _exit(127);
    }
    hc.pid[i] = pid;
    node_client_t *c = node_client_new(500, 1);
    cr_assert(c);
    int up = 0;
    for (int tries = 0; tries < 100 && !up; tries++) {
        node_call_t call = {.addr = listen, .method = "GET", .path = "/health"};
        up = node_call(c, &call) == 0 && call.status == 200;
        free(call.resp_body);
        if (!up)
            usleep(50 * 1000);
    }
    node_client_free(c);
    cr_assert(up, "onggi-node on %s did not come up (see %s)", listen, log);
}

static void hc_node_kill(int i)
{
    if (hc.pid[i] <= 0)
        return;
    kill(hc.pid[i], SIGKILL);
    waitpid(hc.pid[i], NULL, 0);
    hc.pid[i] = 0;
}

/* Builds a 5-device, 5-zone, R=3 ring and starts the nodes on ports base+1..base+5. Skips when
 * the binaries are not built. */
static void hc_start(int base)
{
    char self[PATH_MAX], exe[PATH_MAX + 64];
    ssize_t n = readlink("/proc/self/exe", self, sizeof(self) - 1);
    cr_assert(n > 0);
    self[n] = '\0';
    /* build/<mode>/tests/test_gw_cluster_handoff -> build/<mode>/bin */
    *strrchr(self, '/') = '\0';
    *strrchr(self, '/') = '\0';
    snprintf(hc.bin, sizeof(hc.bin), "%s/bin", self);
    snprintf(exe, sizeof(exe), "%s/onggi-node", hc.bin);
    if (access(exe, X_OK) != 0)
        cr_skip_test("%s not built", exe);
    snprintf(exe, sizeof(exe), "%s/onggi-ring", hc.bin);
    if (access(exe, X_OK) != 0)
        cr_skip_test("%s not built", exe);

    snprintf(hc.dir, sizeof(hc.dir), "/tmp/og_handoff_XXXXXX");
    cr_assert(mkdtemp(hc.dir));
    snprintf(hc.ring, sizeof(hc.ring), "%s/ring.bin", hc.dir);
    char *create[] = {"onggi-ring", "create", hc.ring, "6", "3", "0", NULL};
    cr_assert_eq(hc_run(create), 0, "onggi-ring create failed");
    for (int i = 0; i < HC_NODES; i++) {
        char zone[16], addr[32], name[16];
        hc.port[i] = base + 1 + i;
        snprintf(zone, sizeof(zone), "%d", i + 1);
        snprintf(addr, sizeof(addr), "127.0.0.1:%d", hc.port[i]);
        snprintf(name, sizeof(name), "d%d", i + 1);
        char *add[] = {"onggi-ring", "add",    hc.ring, "--zone",   zone, "--addr",
                       addr,         "--name", name,    "--weight", "1",  NULL};
        cr_assert_eq(hc_run(add), 0, "onggi-ring add failed");
    }
    char *rebalance[] = {"onggi-ring", "rebalance", hc.ring, NULL};
    cr_assert_eq(hc_run(rebalance), 0, "onggi-ring rebalance failed");
    for (int i = 0; i < HC_NODES; i++)
        hc_node_start(i);
    cr_assert_eq(gw_cluster_open(hc.ring, 2000, &hc.cl), 0);
}

static void hc_stop(void)
{
    gw_cluster_close(hc.cl);
    hc.cl = NULL;
    for (int i = 0; i < HC_NODES; i++)
        hc_node_kill(i);
    if (hc.dir[0])
        nftw(hc.dir, hc_rm, 16, FTW_DEPTH | FTW_PHYS);
}

/* The index (0 .. HC_NODES-1) of the node serving device d. */
static int hc_node_of(const ring_dev_t *d)
{
    for (int i = 0; i < HC_NODES; i++) {
        char addr[32];
        snprintf(addr, sizeof(addr), "127.0.0.1:%d", hc.port[i]);
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
    cr_assert_eq(ring_load(hc.ring, &ring), 0);
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
    gw_cluster_stamp(hc.cl, &r.ts, &r.tiebreak);
    return gw_cluster_rec_put(hc.cl, HC_TABLE, og_str(key), &r);
}

/* The newest version's summary into out; returns rec_get's code. */
static int hc_get(const char *key, char *out, size_t cap)
{
    og_rec_t r;
    char *buf;
    out[0] = '\0';
    int rc = gw_cluster_rec_get(hc.cl, HC_TABLE, og_str(key), &r, &buf);
    if (rc == 0) {
        snprintf(out, cap, "%.*s", (int)r.summary.len, r.summary.base);
        free(buf);
    }
    return rc;
}

/* Lists HC_TABLE in one page; returns list's code and the live key count in *n. */
static int hc_list(size_t *n)
{
    gw_list_t l;
    int rc = gw_cluster_list(hc.cl, HC_TABLE, og_str(""), og_str(""), 100, &l);
    *n = 0;
    if (rc == 0) {
        cr_assert(!l.truncated);
        *n = l.n;
        gw_list_free(&l);
    }
    return rc;
}

TestSuite(gw_cluster_handoff, .fini = hc_stop, .timeout = 120);

Test(gw_cluster_handoff, handoff_answers_never_make_a_read_quorum)
{
    int prim[3], hand[2];
    char v[64];
    size_t n;

    hc_start(17300);
    hc_placement(prim, hand);

    cr_assert_eq(hc_put("k", "v1"), 0);
    /* One primary down: the write lands on the two others (and a handoff); reads find it. */
    hc_node_kill(prim[2]);
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
    hc_node_kill(hand[0]);
    hc_node_start(prim[2]);
    hc_node_kill(prim[0]);
    hc_node_kill(prim[1]);
    for (int i = 0; i < 3; i++) {
        int rc = hc_get("k", v, sizeof(v));
        cr_assert_eq(rc, OG_EQUORUM, "two primaries down: got %d (%s)", rc, v);
        rc = hc_get("n", v, sizeof(v));
        cr_assert_eq(rc, OG_EQUORUM, "two primaries down: got %d (%s)", rc, v);
        cr_assert_eq(hc_list(&n), OG_EQUORUM, "a listing needs a quorum of primaries too");
    }

    /* One primary with the newest version back: a quorum of primaries again, newest wins. */
    hc_node_start(prim[0]);
    for (int i = 0; i < 3; i++) {
        cr_assert_eq(hc_get("k", v, sizeof(v)), 0);
        cr_assert_str_eq(v, "v2");
        cr_assert_eq(hc_get("n", v, sizeof(v)), 0);
        cr_assert_str_eq(v, "new");
        cr_assert_eq(hc_list(&n), 0);
        cr_assert_eq(n, 2);
    }
}
