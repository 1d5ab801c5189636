/*
 * test_cluster_combine.c: small batch writes of concurrent callers share node requests
 * (cluster_combine.c, behind cluster_chunk_put_many).
 *  - many threads writing small batches at once, one combined request in flight: fewer requests
 *    than batches, every chunk readable byte for byte, and each caller told exactly what its own
 *    chunks got (one chunk the nodes refuse is re-sent alone by its caller, no other chunk is);
 *  - a combined request with a node down still places every chunk at quorum; with two down every
 *    caller gets OG_EQUORUM;
 *  - combining off, and batches above the small size, are sent alone.
 * Real onggi-node processes from this build tree (cluster_fixture.h), ports 17800+.
 */
#include "cluster/cluster.h"

#include <criterion/criterion.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <xxhash.h>

#define TC_NODES 3
#define TC_TMPDIR "/tmp/og_combine_XXXXXX"
#include "../cluster/cluster_fixture.h"

TestSuite(cluster_combine, .fini = tc_stop, .timeout = 180);

#define CB_THREADS 16
#define CB_ROUNDS 8
#define CB_CHUNKS 3
#define CB_CHUNK_MAX (12u << 10)

/* One thread's writes: CB_ROUNDS batches of CB_CHUNKS chunks, each batch in its own buffer. */
typedef struct {
    int t;
    pthread_barrier_t *go;
    int rc[CB_ROUNDS];
    cluster_chunk_hdr_t hdrs[CB_ROUNDS][CB_CHUNKS];
    char *buf[CB_ROUNDS]; /* CLUSTER_BATCH_HDR_MAX room, then the chunks */
} cb_writer_t;

/* Chunk c of round r of thread t: its length and seed. Chunk 0 of every batch is the same bytes
 * (one id in many batches of one combined request, as runs of equal content give). */
static size_t cb_len(int t, int r, int c)
{
    return c == 0 ? 1000 : 1 + (size_t)((t * 7919 + r * 104729 + c * 1299709) % CB_CHUNK_MAX);
}

static uint64_t cb_seed(int t, int r, int c)
{
    return c == 0 ? 42 : (uint64_t)(t * 1000 + r * 10 + c);
}

/* The one chunk whose header carries a wrong xxh3: the nodes refuse it ('X'), its caller alone
 * must see that and send it again by itself (cluster_chunk_put hashes the bytes anew). */
#define CB_BAD(t, r, c) ((t) == 3 && (r) == 2 && (c) == 1)

static void cb_make(cb_writer_t *w)
{
    for (int r = 0; r < CB_ROUNDS; r++) {
        size_t total = 0;
        for (int c = 0; c < CB_CHUNKS; c++)
            total += cb_len(w->t, r, c);
        cr_assert_not_null(w->buf[r] = malloc(CLUSTER_BATCH_HDR_MAX + total));
        char *p = w->buf[r] + CLUSTER_BATCH_HDR_MAX;
        for (int c = 0; c < CB_CHUNKS; c++) {
            size_t len = cb_len(w->t, r, c);
            fill_random((uint8_t *)p, len, cb_seed(w->t, r, c));
            sha256(p, len, w->hdrs[r][c].id);
            w->hdrs[r][c].xxh3 = XXH3_64bits(p, len) ^ CB_BAD(w->t, r, c);
            w->hdrs[r][c].len = (uint32_t)len;
            p += len;
        }
    }
}

static void *cb_write(void *arg)
{
    cb_writer_t *w = arg;
    pthread_barrier_wait(w->go);
    for (int r = 0; r < CB_ROUNDS; r++)
        w->rc[r] = cluster_chunk_put_many(tc.cl, w->hdrs[r], CB_CHUNKS, w->buf[r] + CLUSTER_BATCH_HDR_MAX);
    return NULL;
}

/* Runs CB_THREADS writers at once; every batch's result must be want. */
static void cb_run(cb_writer_t *w, int want)
{
    pthread_t thr[CB_THREADS];
    pthread_barrier_t go;
    pthread_barrier_init(&go, NULL, CB_THREADS);
    for (int t = 0; t < CB_THREADS; t++) {
        w[t] = (cb_writer_t){.t = t, .go = &go};
        cb_make(&w[t]);
    }
    for (int t = 0; t < CB_THREADS; t++)
        cr_assert_eq(pthread_create(&thr[t], NULL, cb_write, &w[t]), 0);
    for (int t = 0; t < CB_THREADS; t++)
        pthread_join(thr[t], NULL);
    pthread_barrier_destroy(&go);
    for (int t = 0; t < CB_THREADS; t++)
        for (int r = 0; r < CB_ROUNDS; r++)
            cr_assert_eq(w[t].rc[r], want, "thread %d batch %d: %d, want %d", t, r, w[t].rc[r], want);
}

/* Every chunk of every writer reads back byte for byte. */
static void cb_read_back(cb_writer_t *w)
{
    static char got[CB_CHUNK_MAX];
    for (int t = 0; t < CB_THREADS; t++)
        for (int r = 0; r < CB_ROUNDS; r++) {
            const char *p = w[t].buf[r] + CLUSTER_BATCH_HDR_MAX;
            for (int c = 0; c < CB_CHUNKS; c++) {
                const cluster_chunk_hdr_t *h = &w[t].hdrs[r][c];
                uint64_t xxh3 = h->xxh3 ^ CB_BAD(t, r, c);
                cr_assert_eq(cluster_chunk_get(tc.cl, h->id, xxh3, h->len, 0, h->len, got), 0);
                cr_assert_eq(memcmp(got, p, h->len), 0, "thread %d batch %d chunk %d differs", t, r, c);
                p += h->len;
            }
        }
}

static void cb_free(cb_writer_t *w)
{
    for (int t = 0; t < CB_THREADS; t++)
        for (int r = 0; r < CB_ROUNDS; r++)
            free(w[t].buf[r]);
}

Test(cluster_combine, small_batches_of_many_callers_share_requests)
{
    static cb_writer_t w[CB_THREADS];
    uint64_t batches, sends;
    tc_start(17800);
    cluster_set_batch_combine(tc.cl, 1);
    uint64_t calls0 = tc_node_calls();
    cb_run(w, 0);
    cluster_combine_counts(tc.cl, &batches, &sends);
    cr_assert_eq(batches, CB_THREADS * CB_ROUNDS);
    /* One request in flight while 16 threads keep writing: the others wait and go together. */
    cr_assert_lt(sends, batches / 2, "%llu requests for %llu batches", (unsigned long long)sends,
                 (unsigned long long)batches);
    /* Each combined request is one call per node (3 devices, R = 3), and only the refused chunk
     * went out again alone (3 calls): every caller was given its own chunks' counts. */
    cr_assert_eq(tc_node_calls() - calls0, 3 * sends + 3);
    cb_read_back(w);
    cb_free(w);
}

Test(cluster_combine, quorum_with_one_node_down_and_failure_with_two)
{
    static cb_writer_t w[CB_THREADS];
    uint64_t batches, sends;
    tc_start(17810); /* with the default two requests in flight */
    tc_node_kill(2);
    cb_run(w, 0);
    cb_read_back(w);
    cb_free(w);
    tc_node_kill(1);
    cb_run(w, OG_EQUORUM);
    cluster_combine_counts(tc.cl, &batches, &sends);
    cr_assert_eq(batches, 2 * CB_THREADS * CB_ROUNDS);
    cb_free(w);
}

Test(cluster_combine, off_or_large_batches_go_alone)
{
    static cb_writer_t w[CB_THREADS];
    uint64_t batches, sends;
    tc_start(17820);
    cluster_set_batch_combine(tc.cl, 0);
    cb_run(w, 0);
    cluster_combine_counts(tc.cl, &batches, &sends);
    cr_assert_eq(batches, 0);
    cr_assert_eq(sends, 0);
    cb_read_back(w);
    cb_free(w);

    /* Combining on, one batch just above the small size: sent alone. */
    cluster_set_batch_combine(tc.cl, 2);
    size_t len = (256u << 10) + 1;
    char *buf = malloc(CLUSTER_BATCH_HDR_MAX + len);
    cr_assert_not_null(buf);
    char *data = buf + CLUSTER_BATCH_HDR_MAX;
    fill_random((uint8_t *)data, len, 7);
    cluster_chunk_hdr_t h = {.xxh3 = XXH3_64bits(data, len), .len = (uint32_t)len};
    sha256(data, len, h.id);
    cr_assert_eq(cluster_chunk_put_many(tc.cl, &h, 1, data), 0);
    cluster_combine_counts(tc.cl, &batches, &sends);
    cr_assert_eq(batches, 0);
    free(buf);
}
