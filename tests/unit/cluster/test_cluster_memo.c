/*
 * test_cluster_memo.c: the counters cache (cluster_memo_*). A value is filled once per TTL and
 * carries this gateway's adds; a forget makes the next get fill; concurrent callers share one fill;
 * what is added while a fill runs stays on top of its value; TTL 0 fills every time. Real nodes for
 * the handle (cluster_fixture.h), ports 17720+.
 */
#include "cluster/cluster.h"

#include <criterion/criterion.h>
#include <pthread.h>
#include <stdatomic.h>
#include <string.h>
#include <unistd.h>

#define TC_NODES 3
#define TC_TMPDIR "/tmp/og_memo_XXXXXX"
#include "../cluster/cluster_fixture.h"

#define ME_THREADS 8

static void me_fini(void) { tc_stop(); }
TestSuite(cluster_memo, .fini = me_fini, .timeout = 120);

typedef struct {
    atomic_int fills, arrived, release;
    uint64_t value[CLUSTER_MEMO_VALS];
} me_state_t;

static me_state_t st;

/* Counts itself, waits until the test releases it, answers st.value. */
static int me_fill(void *ctx, uint64_t v[CLUSTER_MEMO_VALS])
{
    (void)ctx;
    atomic_fetch_add(&st.fills, 1);
    while (!atomic_load(&st.release))
        usleep(1000);
    memcpy(v, st.value, sizeof(st.value));
    return 0;
}

static void me_reset(uint64_t objects, uint64_t bytes, int release)
{
    atomic_store(&st.fills, 0);
    atomic_store(&st.arrived, 0);
    atomic_store(&st.release, release);
    st.value[0] = objects, st.value[1] = bytes;
}

static void *me_thread(void *arg)
{
    uint64_t *v = arg;
    atomic_fetch_add(&st.arrived, 1);
    cr_assert_eq(cluster_memo_get(tc.cl, OG_STR_LIT("u/shared"), me_fill, NULL, v), 0);
    return NULL;
}

Test(cluster_memo, kept_for_the_ttl_with_the_adds_until_forgotten)
{
    uint64_t v[2];
    const uint64_t add[2] = {1, 50};
    tc_start(17720);
    cluster_set_memo_ttl(tc.cl, 60000);
    me_reset(1, 100, 1);
    cr_assert_eq(cluster_memo_get(tc.cl, OG_STR_LIT("u/a"), me_fill, NULL, v), 0);
    cr_assert(v[0] == 1 && v[1] == 100);
    cluster_memo_add(tc.cl, OG_STR_LIT("u/a"), add);
    cluster_memo_add(tc.cl, OG_STR_LIT("u/not-kept"), add); /* a no-op */
    st.value[1] = 999;                                      /* the cluster changed: not read again yet */
    cr_assert_eq(cluster_memo_get(tc.cl, OG_STR_LIT("u/a"), me_fill, NULL, v), 0);
    cr_assert(v[0] == 2 && v[1] == 150, "%lu %lu", (unsigned long)v[0], (unsigned long)v[1]);
    cr_assert_eq(atomic_load(&st.fills), 1);
    cluster_memo_forget(tc.cl, OG_STR_LIT("u/a"));
    cr_assert_eq(cluster_memo_get(tc.cl, OG_STR_LIT("u/a"), me_fill, NULL, v), 0);
    cr_assert(v[0] == 1 && v[1] == 999 && atomic_load(&st.fills) == 2); /* the adds went with the value */
    /* TTL 0: every get reads */
    cluster_set_memo_ttl(tc.cl, 0);
    cr_assert_eq(cluster_memo_get(tc.cl, OG_STR_LIT("u/a"), me_fill, NULL, v), 0);
    cr_assert_eq(cluster_memo_get(tc.cl, OG_STR_LIT("u/a"), me_fill, NULL, v), 0);
    cr_assert_eq(atomic_load(&st.fills), 4);
}

Test(cluster_memo, concurrent_callers_share_one_fill_and_adds_during_it_stay)
{
    uint64_t res[ME_THREADS][2], v[2];
    const uint64_t add[2] = {0, 10};
    pthread_t th[ME_THREADS];
    tc_start(17730);
    cluster_set_memo_ttl(tc.cl, 60000);
    me_reset(3, 300, 0);
    for (int i = 0; i < ME_THREADS; i++)
        cr_assert_eq(pthread_create(&th[i], NULL, me_thread, res[i]), 0);
    while (atomic_load(&st.arrived) < ME_THREADS || atomic_load(&st.fills) < 1)
        usleep(1000);
    usleep(200 * 1000);
    cluster_memo_add(tc.cl, OG_STR_LIT("u/shared"), add); /* a write let through while the fill runs */
    atomic_store(&st.release, 1);
    for (int i = 0; i < ME_THREADS; i++)
        pthread_join(th[i], NULL);
    /* one fill (a caller the scheduler kept away for the whole 200 ms could start a second) */
    cr_assert_lt(atomic_load(&st.fills), ME_THREADS / 2, "%d fills", atomic_load(&st.fills));
    for (int i = 0; i < ME_THREADS; i++)
        cr_assert(res[i][0] == 3 && res[i][1] == 310, "caller %d: %lu", i, (unsigned long)res[i][1]);
    cr_assert_eq(cluster_memo_get(tc.cl, OG_STR_LIT("u/shared"), me_fill, NULL, v), 0);
    cr_assert(v[1] == 310);
}

Test(cluster_memo, a_stale_value_answers_while_one_caller_refreshes)
{
    uint64_t v[2], first[2];
    pthread_t th;
    tc_start(17740);
    cluster_set_memo_ttl(tc.cl, 50);
    me_reset(1, 10, 1);
    cr_assert_eq(cluster_memo_get(tc.cl, OG_STR_LIT("u/shared"), me_fill, NULL, v), 0);
    usleep(100 * 1000); /* stale now */
    me_reset(2, 20, 0);
    cr_assert_eq(pthread_create(&th, NULL, me_thread, first), 0);
    while (atomic_load(&st.fills) < 1) /* the refresh is running (held by me_fill) */
        usleep(1000);
    cr_assert_eq(cluster_memo_get(tc.cl, OG_STR_LIT("u/shared"), me_fill, NULL, v), 0);
    cr_assert(v[0] == 1 && v[1] == 10 && atomic_load(&st.fills) == 1); /* the old value, no second read */
    atomic_store(&st.release, 1);
    pthread_join(th, NULL);
    cr_assert(first[0] == 2 && first[1] == 20);
}
