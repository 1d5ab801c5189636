/*
 * test_cluster_coalesce.c: request coalescing (cluster_coalesce). Concurrent callers with one key
 * share a fill; a caller after the fill ended gets a new one; errors reach every sharer; the
 * budget holds; a fresh caller never joins a read that was already running. Real nodes for the handle (cluster_fixture.h), ports 17660+.
 */
#include "cluster/cluster.h"

#include <criterion/criterion.h>
#include <pthread.h>
#include <stdatomic.h>
#include <string.h>
#include <unistd.h>

#define TC_NODES 3
#define TC_TMPDIR "/tmp/og_coalesce_XXXXXX"
#include "../cluster/cluster_fixture.h"

#define CO_THREADS 8

static void co_fini(void) { tc_stop(); }
TestSuite(cluster_coalesce, .fini = co_fini, .timeout = 120);

typedef struct {
    atomic_int fills, arrived, release;
    int fail, fresh;
} co_state_t;

static co_state_t st;

/* Counts itself, then holds the flight open until the test releases it, so late callers join. */
static int co_fill(void *ctx, char *buf, size_t cap, size_t *len)
{
    (void)ctx;
    atomic_fetch_add(&st.fills, 1);
    while (!atomic_load(&st.release))
        usleep(1000);
    memset(buf, 'x', cap);
    *len = cap;
    return st.fail;
}

typedef struct {
    int rc;
    size_t len;
    int good;
} co_result_t;

static void *co_thread(void *arg)
{
    co_result_t *res = arg;
    og_str_t out;
    void *ticket = NULL;
    atomic_fetch_add(&st.arrived, 1);
    res->rc = cluster_coalesce(tc.cl, OG_STR_LIT("same key"), 4096, st.fresh, co_fill, NULL, &out, &ticket);
    if (res->rc == 0) {
        res->len = out.len;
        res->good = out.len == 4096 && out.base[0] == 'x' && out.base[4095] == 'x';
        cluster_coalesce_done(tc.cl, ticket);
    }
    return NULL;
}

/* CO_THREADS callers at once; the fill is released once all have arrived (and had time to wait). */
static void co_run(co_result_t res[CO_THREADS])
{
    pthread_t th[CO_THREADS];
    atomic_store(&st.fills, 0);
    atomic_store(&st.arrived, 0);
    atomic_store(&st.release, 0);
    for (int i = 0; i < CO_THREADS; i++)
        cr_assert_eq(pthread_create(&th[i], NULL, co_thread, &res[i]), 0);
    while (atomic_load(&st.arrived) < CO_THREADS)
        usleep(1000);
    usleep(200 * 1000);
    atomic_store(&st.release, 1);
    for (int i = 0; i < CO_THREADS; i++)
        pthread_join(th[i], NULL);
}

Test(cluster_coalesce, concurrent_callers_share_one_fill)
{
    co_result_t res[CO_THREADS];
    tc_start(17660);
    co_run(res);
    for (int i = 0; i < CO_THREADS; i++)
        cr_assert(res[i].rc == 0 && res[i].good, "caller %d: rc %d len %zu", i, res[i].rc, res[i].len);
    /* every caller waited in the same flight: one fill (a caller that the scheduler kept away for
     * the whole 200 ms would start a second one, never one per caller) */
    cr_assert_lt(atomic_load(&st.fills), CO_THREADS / 2, "%d fills for %d callers", atomic_load(&st.fills),
                 CO_THREADS);
    /* the flight is gone once done: the next caller fills again */
    int before = atomic_load(&st.fills);
    co_result_t one;
    co_thread(&one);
    cr_assert(one.rc == 0 && one.good);
    cr_assert_eq(atomic_load(&st.fills), before + 1);
}

Test(cluster_coalesce, a_failed_fill_fails_every_sharer)
{
    co_result_t res[CO_THREADS];
    tc_start(17670);
    st.fail = OG_EQUORUM;
    co_run(res);
    st.fail = 0;
    for (int i = 0; i < CO_THREADS; i++)
        cr_assert_eq(res[i].rc, OG_EQUORUM);
}

Test(cluster_coalesce, over_the_budget_the_caller_reads_alone)
{
    og_str_t out;
    void *ticket;
    tc_start(17680);
    atomic_store(&st.release, 1);
    /* one flight may not hold more than the whole budget (64 MiB) */
    cr_assert_eq(cluster_coalesce(tc.cl, OG_STR_LIT("big"), (size_t)65 << 20, 0, co_fill, NULL, &out, &ticket), 1);
    cr_assert_eq(cluster_coalesce(tc.cl, OG_STR_LIT("small"), 16, 0, co_fill, NULL, &out, &ticket), 0);
    cr_assert_eq(out.len, 16);
    cluster_coalesce_done(tc.cl, ticket);
}

Test(cluster_coalesce, fresh_callers_never_join_a_read_already_running)
{
    co_result_t first, res[CO_THREADS];
    pthread_t lead, th[CO_THREADS];
    tc_start(17690);
    st.fresh = 1;
    atomic_store(&st.fills, 0);
    atomic_store(&st.arrived, 0);
    atomic_store(&st.release, 0);
    cr_assert_eq(pthread_create(&lead, NULL, co_thread, &first), 0);
    while (atomic_load(&st.fills) < 1) /* the first read is running (held by co_fill) */
        usleep(1000);
    for (int i = 0; i < CO_THREADS; i++)
        cr_assert_eq(pthread_create(&th[i], NULL, co_thread, &res[i]), 0);
    while (atomic_load(&st.arrived) < CO_THREADS + 1)
        usleep(1000);
    usleep(200 * 1000);
    atomic_store(&st.release, 1);
    pthread_join(lead, NULL);
    for (int i = 0; i < CO_THREADS; i++)
        pthread_join(th[i], NULL);
    st.fresh = 0;
    cr_assert(first.rc == 0 && first.good);
    for (int i = 0; i < CO_THREADS; i++)
        cr_assert(res[i].rc == 0 && res[i].good);
    /* the late callers had their own read (not the running one), shared among them */
    int fills = atomic_load(&st.fills);
    cr_assert(fills >= 2 && fills < CO_THREADS, "%d fills", fills);
}
