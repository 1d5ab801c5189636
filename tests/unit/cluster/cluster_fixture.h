/*
 * cluster_fixture.h: a real cluster for one unit test file, shared by the tests that need
 * storage nodes (test_gw_cluster.c, test_gw_cluster_perf.c, test_gw_cluster_handoff.c,
 * test_obj.c).
 *
 * tc_start() builds a ring with onggi-ring (TC_NODES devices, one zone each, R = 3) and starts
 * one onggi-node per device in a temporary directory, on loopback ports the test chooses, so
 * Criterion's parallel jobs never share a cluster. The binaries are taken from the build tree the
 * test lives in (build/<mode>/bin); a test fails when they are not built.
 *
 * Configure before including:
 *   TC_NODES       number of devices/nodes (required)
 *   TC_TMPDIR      mkdtemp template for the cluster's directory (required)
 *   TC_PART_POWER  onggi-ring partition power, as a string (default "8")
 *   TC_REPL_INTERVAL  the nodes' --repl-interval, as a string (default: theirs; "0": no
 *                  anti-entropy, for tests that need replicas to stay as they wrote them)
 *
 * Everything here is static: each test binary includes this header once and gets its own copy.
 */
#ifndef OG_TESTS_CLUSTER_FIXTURE_H
#define OG_TESTS_CLUSTER_FIXTURE_H

#include "cluster/cluster.h"
#include "node_client.h"

#include <criterion/criterion.h>
#include <dirent.h>
#include <ftw.h>
#include <limits.h>
#include <openssl/evp.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/wait.h>
#include <unistd.h>

#ifndef TC_NODES
#error "define TC_NODES before including cluster_fixture.h"
#endif
#ifndef TC_TMPDIR
#error "define TC_TMPDIR before including cluster_fixture.h"
#endif
#ifndef TC_PART_POWER
#define TC_PART_POWER "8"
#endif

/* One test's cluster: Criterion's fini hook takes no argument, so this is the fixture's state. */
typedef struct {
    char bin[PATH_MAX + 8];
    char dir[64];
    char ring[128];
    int port[TC_NODES];
    pid_t pid[TC_NODES];
    cluster_t *cl;
    cluster_t *other; /* a second gateway's handle, for tests that open one; tc_stop closes it */
} tc_t;

static tc_t tc;

static int tc_rm(const char *path, const struct stat *sb, int flag, struct FTW *ftw)
{
    (void)sb, (void)flag, (void)ftw;
    return remove(path);
}

/* Runs argv (argv[0] a file name in tc.bin) to completion with output in the test dir's log.
 * Returns its exit status, or -1. */
static int tc_run(char *const argv[])
{
    char exe[PATH_MAX + 64], log[160];
    snprintf(exe, sizeof(exe), "%s/%s", tc.bin, argv[0]);
    snprintf(log, sizeof(log), "%s/tools.log", tc.dir);
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

/* A node client signing with the cluster's key file (tc.ring + ".keys", written by onggi-ring
 * create); fails the test when it cannot be made. */
static node_client_t *tc_client_new(int timeout_ms, size_t max_idle)
{
    og_keys_t keys;
    cr_assert_eq(og_keys_load_for(NULL, tc.ring, &keys), 0, "cannot load %s.keys", tc.ring);
    node_client_t *c = node_client_new(&keys, timeout_ms, max_idle);
    og_keys_wipe(&keys);
    cr_assert(c);
    return c;
}

/* Starts node i (0-based) and waits, bounded, until it answers /health; fails the test if not. */
static void tc_node_start(int i)
{
    char exe[PATH_MAX + 64], listen[32], dir[96], log[96];
    snprintf(exe, sizeof(exe), "%s/onggi-node", tc.bin);
    snprintf(listen, sizeof(listen), "127.0.0.1:%d", tc.port[i]);
    snprintf(dir, sizeof(dir), "%s/node%d", tc.dir, i + 1);
    snprintf(log, sizeof(log), "%s/node%d.log", tc.dir, i + 1);
    pid_t pid = fork();
    cr_assert(pid >= 0);
    if (pid == 0) {
        /* Never outlive a crashed test. */
        prctl(PR_SET_PDEATHSIG, SIGKILL);
        if (!freopen(log, "a", stdout) || !freopen(log, "a", stderr))
            _exit(127);
#ifdef TC_REPL_INTERVAL
        execl(exe, "onggi-node", "--ring", tc.ring, "--listen", listen, "--dir", dir, "--repl-interval",
              TC_REPL_INTERVAL, (char *)NULL);
#else
        execl(exe, "onggi-node", "--ring", tc.ring, "--listen", listen, "--dir", dir, (char *)NULL);
#endif
        _exit(127);
    }
    tc.pid[i] = pid;
    node_client_t *c = tc_client_new(500, 1);
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

/* Kills node i (0-based) and reaps it; a node not running is left alone. */
static void tc_node_kill(int i)
{
    if (tc.pid[i] <= 0)
        return;
    kill(tc.pid[i], SIGKILL);
    waitpid(tc.pid[i], NULL, 0);
    tc.pid[i] = 0;
}

/* Whether every thread of pid is stopped ('T' in /proc/<pid>/task/<tid>/stat). */
static inline int tc_all_threads_stopped(pid_t pid)
{
    char path[sizeof("/proc//task//stat") + 2 * 12 + NAME_MAX], line[256];
    snprintf(path, sizeof(path), "/proc/%d/task", (int)pid);
    DIR *d = opendir(path);
    if (!d)
        return 0;
    int stopped = 1;
    for (struct dirent *e; stopped && (e = readdir(d)) != NULL;) {
        if (e->d_name[0] == '.')
            continue;
        snprintf(path, sizeof(path), "/proc/%d/task/%s/stat", (int)pid, e->d_name);
        FILE *f = fopen(path, "r");
        const char *state = f && fgets(line, sizeof(line), f) ? strrchr(line, ')') : NULL;
        stopped = state != NULL && state[1] == ' ' && state[2] == 'T';
        if (f)
            fclose(f);
    }
    closedir(d);
    return stopped;
}

/* Freezes node i (SIGSTOP: it keeps accepting connections and never answers) and waits, bounded,
 * until every one of its threads has stopped. kill() only queues the signal: a thread busy in a
 * long disk wait on a loaded machine stops later, and the node's event loop could answer a call
 * in between, so a test asserting on a frozen node must not start before the stop took hold. */
static inline void tc_node_freeze(int i)
{
    cr_assert_eq(kill(tc.pid[i], SIGSTOP), 0);
    int stopped = 0;
    for (int tries = 0; tries < 1000 && !(stopped = tc_all_threads_stopped(tc.pid[i])); tries++)
        usleep(10 * 1000);
    cr_assert(stopped, "node %d did not stop within 10 s of SIGSTOP", i + 1);
}

/* Builds the ring, starts the nodes on ports base+1..base+TC_NODES and opens tc.cl. Fails the
 * test when the binaries are not built (make all builds them first). ONGGI_TEST_PORT_SHIFT moves
 * every base, so two checkouts can run their unit tests at the same time. */
static void tc_start(int base)
{
    const char *shift = getenv("ONGGI_TEST_PORT_SHIFT");
    if (shift)
        base += atoi(shift);
    char self[PATH_MAX], exe[PATH_MAX + 64];
    ssize_t n = readlink("/proc/self/exe", self, sizeof(self) - 1);
    cr_assert(n > 0);
    self[n] = '\0';
    /* build/<mode>/tests/<room>/test_x -> build/<mode>/bin */
    for (int up = 0; up < 3; up++)
        *strrchr(self, '/') = '\0';
    snprintf(tc.bin, sizeof(tc.bin), "%s/bin", self);
    snprintf(exe, sizeof(exe), "%s/onggi-node", tc.bin);
    cr_assert(access(exe, X_OK) == 0, "%s not built (make all builds it before the unit tests)", exe);
    snprintf(exe, sizeof(exe), "%s/onggi-ring", tc.bin);
    cr_assert(access(exe, X_OK) == 0, "%s not built (make all builds it before the unit tests)", exe);

    snprintf(tc.dir, sizeof(tc.dir), "%s", TC_TMPDIR);
    cr_assert(mkdtemp(tc.dir));
    snprintf(tc.ring, sizeof(tc.ring), "%s/ring.bin", tc.dir);
    char *create[] = {"onggi-ring", "create", tc.ring, TC_PART_POWER, "3", "0", NULL};
    cr_assert_eq(tc_run(create), 0, "onggi-ring create failed");
    for (int i = 0; i < TC_NODES; i++) {
        char zone[16], addr[32], name[16];
        tc.port[i] = base + 1 + i;
        snprintf(zone, sizeof(zone), "%d", i + 1);
        snprintf(addr, sizeof(addr), "127.0.0.1:%d", tc.port[i]);
        snprintf(name, sizeof(name), "d%d", i + 1);
        char *add[] = {"onggi-ring", "add",    tc.ring, "--zone",   zone, "--addr",
                       addr,         "--name", name,    "--weight", "1",  NULL};
        cr_assert_eq(tc_run(add), 0, "onggi-ring add failed");
    }
    char *rebalance[] = {"onggi-ring", "rebalance", tc.ring, NULL};
    cr_assert_eq(tc_run(rebalance), 0, "onggi-ring rebalance failed");
    for (int i = 0; i < TC_NODES; i++)
        tc_node_start(i);
    cr_assert_eq(cluster_open(tc.ring, NULL, 2000, &tc.cl), 0);
}

/* Closes the handles, kills the nodes and removes the directory; safe to call more than once. */
static void tc_stop(void)
{
    cluster_close(tc.cl);
    cluster_close(tc.other);
    tc.cl = tc.other = NULL;
    for (int i = 0; i < TC_NODES; i++)
        tc_node_kill(i);
    if (tc.dir[0])
        nftw(tc.dir, tc_rm, 16, FTW_DEPTH | FTW_PHYS);
}

/* SHA-256 of data into out (the chunk id the nodes expect); fails the test on an OpenSSL error. */
static inline void sha256(const void *data, size_t len, uint8_t out[32])
{
    unsigned int n = 32;
    cr_assert(EVP_Digest(data, len, out, &n, EVP_sha256(), NULL));
}

/* The node calls tc.cl has sent (requests, not counting the health watcher's), from its metrics. */
static inline uint64_t tc_node_calls(void)
{
    og_buf_t b = {0};
    cluster_metrics_format(tc.cl, &b);
    og_buf_put(&b, "", 1);
    cr_assert(!b.oom);
    uint64_t sum = 0;
    const char *fam = "\nonggi_gateway_node_calls_total{";
    for (const char *p = strstr(b.buf, fam); p; p = strstr(p + 1, fam))
        sum += strtoull(strchr(p, '}') + 1, NULL, 10);
    og_buf_free(&b);
    return sum;
}

/* Fills p with n pseudo-random bytes, the same for the same seed. */
static inline void fill_random(uint8_t *p, size_t n, uint64_t seed)
{
    for (size_t i = 0; i < n; i++) {
        seed = seed * 6364136223846793005ull + 1442695040888963407ull;
        p[i] = (uint8_t)(seed >> 56);
    }
}

#endif
