/*
 * test_obj.c: the object layer (gateway/core/core_obj.c) against real storage nodes: content-defined
 * chunks written in batches and read back by range, inline bodies, size checks, record commit /
 * lookup / delete, an edit in the middle of a large body changing only the chunks around it,
 * and the garbage-collection guards (a touched or re-written chunk survives a sweep).
 *
 * The cluster helpers are the pattern of test_gw_cluster.c (three onggi-node processes from this
 * build tree on their own loopback ports; the tests skip when the binaries are not built).
 */
#include "cluster/cluster.h"
#include "core/core.h"
#include "node_client.h"
#include "og_crypt.h"

#include <criterion/criterion.h>
#include <dirent.h>
#include <errno.h>
#include <ftw.h>
#include <limits.h>
#include <openssl/evp.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/prctl.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>
#include <xxhash.h>

#define TC_NODES 3
#define TC_QUORUM 2 /* write quorum of TC_NODES replicas */
#define TC_TMPDIR "/tmp/og_obj_XXXXXX"
#include "../cluster/cluster_fixture.h"

/* ---- a body in memory as a gw_obj source, handed out in pieces of a chosen size ---- */

typedef struct {
    const uint8_t *p;
    size_t len, off, piece;
    ssize_t fail_at_end; /* returned instead of 0 at the end when non-zero */
} mem_src_t;

static ssize_t mem_read(void *ctx, void *buf, size_t cap)
{
    mem_src_t *m = ctx;
    size_t n = m->len - m->off;
    if (n == 0)
        return m->fail_at_end;
    if (n > cap)
        n = cap;
    if (n > m->piece)
        n = m->piece;
    memcpy(buf, m->p + m->off, n);
    m->off += n;
    return (ssize_t)n;
}

static int write_mem(const uint8_t *p, size_t len, size_t piece, core_obj_data_t *out)
{
    mem_src_t m = {p, len, 0, piece, 0};
    core_obj_put_opts_t o = {.max_size = 1ull << 33, .expect_size = (int64_t)len, .digests = CORE_OBJ_SHA256};
    return core_obj_write(tc.cl, &o, (core_obj_src_t){mem_read, &m}, out);
}

typedef struct {
    uint8_t *buf;
    size_t len, cap;
} mem_sink_t;

static int mem_sink(void *ctx, const void *buf, size_t len)
{
    mem_sink_t *s = ctx;
    cr_assert_leq(s->len + len, s->cap);
    memcpy(s->buf + s->len, buf, len);
    s->len += len;
    return 0;
}

static core_meta_t meta_of(const core_obj_data_t *d)
{
    core_meta_t m = {.size = d->size, .chunks = d->chunks, .num_chunks = d->num_chunks,
                   .inline_data = {d->inline_data, d->inline_len}};
    return m;
}

/* Reads [first, last] of d and compares with want[first..last]. */
static void check_range(const core_obj_data_t *d, const uint8_t *want, uint64_t first, uint64_t last)
{
    core_meta_t m = meta_of(d);
    mem_sink_t s = {malloc(last - first + 1), 0, last - first + 1};
    cr_assert(s.buf);
    cr_assert_eq(core_obj_read(tc.cl, &m, first, last, mem_sink, &s), 0);
    cr_assert_eq(s.len, last - first + 1);
    cr_assert_eq(memcmp(s.buf, want + first, s.len), 0);
    free(s.buf);
}

static int ref_in(const core_chunk_ref_t *r, const core_obj_data_t *d)
{
    for (size_t i = 0; i < d->num_chunks; i++)
        if (memcmp(d->chunks[i].id, r->id, 32) == 0)
            return 1;
    return 0;
}

Test(obj, roundtrip_ranges_and_digests)
{
    tc_start(17100);
    size_t len = (9u << 20) + 12345; /* more than two 4 MiB batches */
    uint8_t *data = malloc(len), md5[16], sha[32];
    unsigned int n;
    cr_assert(data);
    fill_random(data, len, 7);
    core_obj_data_t d, d2;
    cr_assert_eq(write_mem(data, len, 7777, &d), 0);
    cr_assert_eq(d.size, len);
    cr_assert(EVP_Digest(data, len, md5, &n, EVP_md5(), NULL));
    cr_assert(EVP_Digest(data, len, sha, &n, EVP_sha256(), NULL));
    cr_assert_eq(memcmp(d.md5, md5, 16), 0);
    cr_assert_eq(memcmp(d.sha256, sha, 32), 0);
    cr_assert_null(d.inline_data);
    /* content-defined chunks within the configured bounds, ids = SHA-256 of their bytes */
    uint64_t off = 0;
    for (size_t i = 0; i < d.num_chunks; i++) {
        uint8_t id[32];
        if (i + 1 < d.num_chunks) {
            cr_assert_gt(d.chunks[i].len, CLUSTER_CDC_MIN);
            cr_assert_leq(d.chunks[i].len, CLUSTER_CDC_MAX);
        }
        sha256(data + off, d.chunks[i].len, id);
        cr_assert_eq(memcmp(id, d.chunks[i].id, 32), 0);
        cr_assert_eq(d.chunks[i].xxh3, XXH3_64bits(data + off, d.chunks[i].len));
        off += d.chunks[i].len;
    }
    cr_assert_eq(off, len);
    cr_assert_gt(d.num_chunks, len / (4 * CLUSTER_CDC_AVG));
    /* the cuts do not depend on how the body arrived */
    cr_assert_eq(write_mem(data, len, 1u << 20, &d2), 0);
    cr_assert_eq(d2.num_chunks, d.num_chunks);
    cr_assert_eq(memcmp(d2.chunks, d.chunks, d.num_chunks * sizeof(*d.chunks)), 0);
    core_obj_data_free(&d2);

    check_range(&d, data, 0, len - 1);
    check_range(&d, data, 0, 0);
    check_range(&d, data, len - 1, len - 1);
    check_range(&d, data, d.chunks[0].len - 5, d.chunks[0].len + 5);
    check_range(&d, data, 3u << 20, (7u << 20) + 3);
    check_range(&d, data, 100, 100 + 300); /* tiny reads take the single-chunk path */
    core_obj_data_free(&d);
    free(data);
    tc_stop();
}

/* Is a thread named name (core_obj's helpers: "og-body" for the whole-body digests, "og-flush"
 * for the batch stores) running in this process? */
static bool thread_running(const char *name)
{
    DIR *d = opendir("/proc/self/task");
    struct dirent *e;
    bool found = false;
    cr_assert(d);
    while (!found && (e = readdir(d)) != NULL) {
        char path[300], comm[32] = "";
        snprintf(path, sizeof(path), "/proc/self/task/%s/comm", e->d_name);
        FILE *f = fopen(path, "r");
        if (f == NULL)
            continue;
        found = fgets(comm, sizeof(comm), f) != NULL && strncmp(comm, name, strlen(name)) == 0 &&
                comm[strlen(name)] == '\n';
        fclose(f);
    }
    closedir(d);
    return found;
}

/* A mem_src_t that waits sleep_ms before each piece, notes which helper threads ran, and kills
 * nodes 2 and 3 once kill_at bytes were handed out (0: never). */
typedef struct {
    mem_src_t m;
    unsigned sleep_ms;
    size_t kill_at;
    bool saw_body, saw_flush;
} paced_src_t;

static ssize_t paced_read(void *ctx, void *buf, size_t cap)
{
    paced_src_t *p = ctx;
    if (p->sleep_ms > 0)
        usleep(p->sleep_ms * 1000);
    p->saw_body |= thread_running("og-body");
    p->saw_flush |= thread_running("og-flush");
    if (p->kill_at > 0 && p->m.off >= p->kill_at) {
        tc_node_kill(1);
        tc_node_kill(2);
        p->kill_at = 0;
    }
    return mem_read(&p->m, buf, cap);
}

/* Writes data[0, len) of unknown size (as a chunked body) from p's source (1 MiB pieces) into d.
 * Returns core_obj_write's code; on success checks the digests. */
static int write_paced(paced_src_t *p, const uint8_t *data, size_t len, core_obj_data_t *d)
{
    p->m = (mem_src_t){data, len, 0, 1u << 20, p->m.fail_at_end};
    core_obj_put_opts_t o = {.max_size = 1ull << 33, .expect_size = -1, .digests = CORE_OBJ_SHA256};
    uint8_t md5[16], sha[32];
    unsigned int n;
    int rc = core_obj_write(tc.cl, &o, (core_obj_src_t){paced_read, p}, d);
    if (rc != 0)
        return rc;
    cr_assert(EVP_Digest(data, len, md5, &n, EVP_md5(), NULL));
    cr_assert(EVP_Digest(data, len, sha, &n, EVP_sha256(), NULL));
    cr_assert_eq(memcmp(d->md5, md5, 16), 0);
    cr_assert_eq(memcmp(d->sha256, sha, 32), 0);
    return 0;
}

/* A fast body of 28 MiB (several batches past the 8 MiB at which the helpers start) of
 * seeded random bytes; the caller frees it. */
static uint8_t *fast_body(uint64_t seed, size_t *len)
{
    *len = 28u << 20;
    uint8_t *data = malloc(*len);
    cr_assert(data);
    fill_random(data, *len, seed);
    return data;
}

Test(obj, helper_threads_only_for_a_big_fast_body)
{
    /* Fast (the source never waits): the whole-body digests and the batch stores move to helper
     * threads once 8 MiB are in, the digests still cover every byte and the body reads back
     * whole, in order (batches stored while the next ones were read). Slow (100 ms per MiB,
     * 10 MiB/s, as a camera's upload is slow): no helper, ever, for the same body. */
    tc_start(17170);
    size_t len;
    uint8_t *data = fast_body(5, &len);
    paced_src_t fast = {.sleep_ms = 0}, slow = {.sleep_ms = 100};
    core_obj_data_t d;
    cr_assert_eq(write_paced(&fast, data, len, &d), 0);
    cr_assert(fast.saw_body, "a fast 28 MiB body got no digest thread");
    cr_assert(fast.saw_flush, "a fast 28 MiB body got no flush thread");
    check_range(&d, data, 0, len - 1);
    core_obj_data_free(&d);
    cr_assert_eq(write_paced(&slow, data, 12u << 20, &d), 0);
    cr_assert_not(slow.saw_body || slow.saw_flush, "a 10 MiB/s body got a helper thread");
    core_obj_data_free(&d);
    free(data);
    tc_stop();
}

Test(obj, batch_failed_on_the_flush_thread_fails_the_write)
{
    /* Two of three nodes die in the middle of a fast body, while its batches are stored on the
     * flush thread: the write must fail with the quorum error, not end as if stored. */
    tc_start(17180);
    size_t len;
    uint8_t *data = fast_body(6, &len);
    paced_src_t p = {.kill_at = 16u << 20};
    core_obj_data_t d;
    cr_assert_eq(write_paced(&p, data, len, &d), OG_EQUORUM);
    cr_assert(p.saw_flush, "the batches were not stored on the flush thread");
    free(data);
    tc_stop();
}

Test(obj, client_failing_while_a_batch_is_in_flight_fails_the_write)
{
    /* The body's source fails at its end, with the flush thread running (and maybe storing the
     * last full batch): the write returns the source's error, not a stored object, and frees
     * everything (ASan: no leak). Whether the thread is stopped before its buffers go back to
     * the pool this does not see: pooled buffers are not freed, and the batch may be done. */
    tc_start(17190);
    size_t len;
    uint8_t *data = fast_body(7, &len);
    paced_src_t p = {.m = {.fail_at_end = OG_ECLOSED}};
    core_obj_data_t d;
    cr_assert_eq(write_paced(&p, data, len, &d), OG_ECLOSED);
    cr_assert(p.saw_flush, "the batches were not stored on the flush thread");
    free(data);
    tc_stop();
}

Test(obj, edit_in_middle_changes_only_nearby_chunks)
{
    tc_start(17110);
    size_t len = 16u << 20, ins = 1000, at = len / 2;
    uint8_t *a = malloc(len), *b = malloc(len + ins);
    cr_assert(a && b);
    fill_random(a, len, 11);
    memcpy(b, a, at);
    fill_random(b + at, ins, 99);
    memcpy(b + at + ins, a + at, len - at);
    core_obj_data_t da, db;
    cr_assert_eq(write_mem(a, len, 65536, &da), 0);
    cr_assert_eq(write_mem(b, len + ins, 65536, &db), 0);
    size_t fresh = 0;
    uint64_t fresh_bytes = 0;
    for (size_t i = 0; i < db.num_chunks; i++)
        if (!ref_in(&db.chunks[i], &da)) {
            fresh++;
            fresh_bytes += db.chunks[i].len;
        }
    /* The insert touches the chunk it falls in and at most the next (a cut that moved); all
     * other chunks of the 16 MiB (about 250 of them) keep their ids. */
    cr_assert_geq(fresh, 1);
    cr_assert_leq(fresh, 3);
    cr_assert_leq(fresh_bytes, 3 * CLUSTER_CDC_MAX);
    cr_assert_gt(db.num_chunks, 100);
    check_range(&db, b, 0, len + ins - 1);
    core_obj_data_free(&da);
    core_obj_data_free(&db);
    free(a);
    free(b);
    tc_stop();
}

Test(obj, inline_and_size_checks)
{
    tc_start(17120);
    uint8_t small[CORE_INLINE_MAX], big[100000];
    fill_random(small, sizeof(small), 3);
    fill_random(big, sizeof(big), 4);
    core_obj_data_t d;
    cr_assert_eq(write_mem(small, sizeof(small), 1000, &d), 0);
    cr_assert_eq(d.num_chunks, 0);
    cr_assert_eq(d.inline_len, sizeof(small));
    cr_assert_eq(memcmp(d.inline_data, small, sizeof(small)), 0);
    check_range(&d, small, 10, 20);
    core_obj_data_free(&d);
    cr_assert_eq(write_mem(small, 0, 1000, &d), 0);
    cr_assert_eq(d.size, 0);
    cr_assert_eq(d.num_chunks, 0);
    core_obj_data_free(&d);

    /* shorter than announced, longer than announced, over the limit, a failing source */
    mem_src_t m = {big, sizeof(big), 0, 4096, 0};
    core_obj_put_opts_t o = {.max_size = 1u << 20, .expect_size = sizeof(big) + 1};
    cr_assert_eq(core_obj_write(tc.cl, &o, (core_obj_src_t){mem_read, &m}, &d), OG_EPROTO);
    m.off = 0;
    o.expect_size = sizeof(big) - 1;
    cr_assert_eq(core_obj_write(tc.cl, &o, (core_obj_src_t){mem_read, &m}, &d), OG_EPROTO);
    m.off = 0;
    o.expect_size = -1;
    o.max_size = 50000;
    cr_assert_eq(core_obj_write(tc.cl, &o, (core_obj_src_t){mem_read, &m}, &d), OG_ETOOBIG);
    m.off = 0;
    m.fail_at_end = -EIO;
    o.max_size = 1u << 20;
    cr_assert_eq(core_obj_write(tc.cl, &o, (core_obj_src_t){mem_read, &m}, &d), -EIO);
    cr_assert_null(d.chunks);
    tc_stop();
}

Test(obj, body_of_a_known_size_is_one_batch_request)
{
    tc_start(17840);
    size_t len = 1u << 20;
    uint8_t *data = malloc(len);
    cr_assert(data);
    fill_random(data, len, 11);
    core_obj_data_t d;
    /* Pieces of 64 KiB, as a client's body arrives: the buffer sized for the body never runs short
     * of room, so its chunks go in one batch, one request per node (3 nodes), not two. */
    uint64_t calls0 = tc_node_calls();
    cr_assert_eq(write_mem(data, len, 64u << 10, &d), 0);
    cr_assert_eq(tc_node_calls() - calls0, 3);
    check_range(&d, data, 0, len - 1);
    core_obj_data_free(&d);
    free(data);
    tc_stop();
}

/* A slow body's source: 256 KiB at once, then 4 KiB after 2.1 s (past OBJ_FLUSH_AGE_MS, so the
 * writer flushes and trims before its next read), then 4 KiB more and the end. At that third read
 * it notes the pages of the buffer it is asked to fill (what the HTTP loop would receive into). */
typedef struct {
    uint8_t *data;
    size_t off;
    int step;
    size_t room_resident, room_pages; /* pages of the read's first 96 KiB: resident / all */
    bool beyond_resident;             /* a page 96 KiB + 2 pages past the read's start resident */
} trim_src_t;

static ssize_t trim_read(void *ctx, void *buf, size_t cap)
{
    trim_src_t *t = ctx;
    size_t page = (size_t)sysconf(_SC_PAGESIZE), n = t->step == 0 ? 256u << 10 : 4096;
    if (t->step == 1)
        usleep(2100 * 1000);
    if (t->step == 2) {
        uintptr_t lo = (uintptr_t)buf / page * page;
        unsigned char vec[28];
        cr_assert_geq(cap, sizeof(vec) * page); /* mincore's range lies inside the buffer */
        cr_assert_eq(mincore((void *)lo, sizeof(vec) * page, vec), 0);
        t->room_pages = ((uintptr_t)buf + (96u << 10) - lo + page - 1) / page;
        for (size_t i = 0; i < t->room_pages; i++)
            t->room_resident += vec[i] & 1;
        t->beyond_resident = vec[t->room_pages + 1] & 1;
    }
    if (t->step++ >= 3)
        return 0;
    memcpy(buf, t->data + t->off, n);
    t->off += n;
    return (ssize_t)n;
}

Test(obj, aged_flush_keeps_the_next_reads_room_resident)
{
    /* After the 2 s flush the writer gives back the pages it no longer needs, but not the room of
     * its next read (96 KiB: 64 and what a read brings beyond): the HTTP loop receives the body into
     * it, and a page given back there is a page fault on the loop thread. The pages past that room
     * are given back (the memory still follows the data), and the body stores whole. */
    tc_start(17850);
    trim_src_t t = {.data = malloc(264u << 10)};
    cr_assert(t.data);
    fill_random(t.data, 264u << 10, 12);
    core_obj_put_opts_t o = {.max_size = 1ull << 33, .expect_size = -1, .digests = CORE_OBJ_SHA256};
    core_obj_data_t d;
    cr_assert_eq(core_obj_write(tc.cl, &o, (core_obj_src_t){trim_read, &t}, &d), 0);
    cr_assert_eq(t.step, 4);
    cr_assert_eq(t.room_resident, t.room_pages, "%zu of the next read's %zu pages were given back",
                 t.room_pages - t.room_resident, t.room_pages);
    cr_assert_not(t.beyond_resident, "the pages past the next read's room were kept");
    check_range(&d, t.data, 0, t.off - 1);
    core_obj_data_free(&d);
    free(t.data);
    tc_stop();
}

Test(obj, commit_lookup_delete)
{
    tc_start(17130);
    uint8_t data[300000];
    fill_random(data, sizeof(data), 5);
    core_obj_data_t d;
    cr_assert_eq(write_mem(data, sizeof(data), 10000, &d), 0);
    core_meta_t m = meta_of(&d), got;
    memcpy(m.md5, d.md5, 16);
    m.content_type = OG_STR_LIT("text/plain");
    m.owner = OG_STR_LIT("acct");
    char *buf;
    cr_assert_eq(core_obj_commit(tc.cl, "bkt", OG_STR_LIT("a/key"), &m), 0);
    cr_assert_neq(m.mtime_ns, 0);
    cr_assert_eq(core_obj_lookup(tc.cl, "bkt", OG_STR_LIT("a/key"), &got, &buf), 0);
    cr_assert_eq(got.size, sizeof(data));
    cr_assert_eq(got.num_chunks, d.num_chunks);
    cr_assert(og_str_eq(got.owner, "acct"));
    mem_sink_t s = {malloc(sizeof(data)), 0, sizeof(data)};
    cr_assert_eq(core_obj_read(tc.cl, &got, 0, sizeof(data) - 1, mem_sink, &s), 0);
    cr_assert_eq(memcmp(s.buf, data, sizeof(data)), 0);
    free(s.buf);
    core_meta_free(&got);
    free(buf);
    cr_assert_eq(core_obj_delete(tc.cl, "bkt", OG_STR_LIT("a/key"), NULL), 0);
    cr_assert_eq(core_obj_lookup(tc.cl, "bkt", OG_STR_LIT("a/key"), &got, &buf), OG_ENOTFOUND);
    cr_assert_eq(core_obj_lookup(tc.cl, "bkt", OG_STR_LIT("never"), &got, &buf), OG_ENOTFOUND);
    char table[CORE_TABLE_CAP];
    core_table('o', "bkt", table);
    cr_assert_str_eq(table, "o.bkt");
    core_obj_data_free(&d);
    tc_stop();
}

Test(core_obj, table_names_keep_safe_names_and_encode_the_rest)
{
    char t[CORE_TABLE_CAP];
    core_table('u', "My_Bucket-1.x", t);
    cr_assert_str_eq(t, "u.My_Bucket-1.x", "names the node API takes keep their table");
    core_table('o', "a b", t);
    cr_assert_eq(strlen(t), 130);
    cr_assert(strncmp(t, "o.612062--", 10) == 0, "%s", t);
    core_table('o', "\xc3\xa9t\xc3\xa9", t);
    cr_assert(strncmp(t, "o.c3a974c3a9-", 13) == 0, "%s", t);
    char longest[CORE_BUCKET_MAX + 1];
    memset(longest, 0xff, CORE_BUCKET_MAX);
    longest[CORE_BUCKET_MAX] = '\0';
    core_table('p', longest, t);
    cr_assert_eq(strlen(t), 2 + 2 * CORE_BUCKET_MAX + 2, "always longer than any bucket name");
    /* a bucket id (64 hex digits, longer than any name) keeps its plain form */
    char id[CORE_BID_CAP];
    memset(id, 'f', CORE_BID_LEN);
    id[CORE_BID_LEN] = '\0';
    core_table('o', id, t);
    cr_assert(strlen(t) == 2 + CORE_BID_LEN && strcmp(t + 2, id) == 0, "%s", t);
    char toolong[CORE_BID_LEN + 2];
    memset(toolong, 'a', CORE_BID_LEN + 1);
    toolong[CORE_BID_LEN + 1] = '\0';
    core_table('o', toolong, t);
    cr_assert_str_eq(t, "", "no table for a string longer than any bucket id");
}

/* DELETE /<dev>/chunk/<id>?older_than=cutoff on every device; returns how many answered 204 and
 * sets *kept to how many answered 409 (referenced since the cutoff). A write or touch returns at
 * its quorum, so a third replica slower than the grace may lack the chunk (404) or the touch. */
static int sweep_chunk(const uint8_t id[32], uint64_t cutoff, int *kept)
{
    node_client_t *c = tc_client_new(2000, 1);
    char hex[65], path[160], addr[32];
    int deleted = 0;
    og_hex(id, 32, hex);
    *kept = 0;
    for (int i = 0; i < TC_NODES; i++) {
        snprintf(addr, sizeof(addr), "127.0.0.1:%d", tc.port[i]);
        snprintf(path, sizeof(path), "/d%d/chunk/%s?older_than=%llu", i + 1, hex, (unsigned long long)cutoff);
        node_call_t call = {.addr = addr, .method = "DELETE", .path = path};
        cr_assert_eq(node_call(c, &call), 0);
        deleted += call.status == 204;
        *kept += call.status == 409;
        free(call.resp_body);
    }
    node_client_free(c);
    return deleted;
}

Test(obj, gc_guards_touch_and_rewrite)
{
    tc_start(17140);
    uint8_t data[200000];
    fill_random(data, sizeof(data), 6);
    core_obj_data_t d;
    cr_assert_eq(write_mem(data, sizeof(data), 50000, &d), 0);
    cr_assert_gt(d.num_chunks, 0);
    const uint8_t *id = d.chunks[0].id;
    int kept;
    /* A sweep that started (cutoff) before the chunk was written keeps it everywhere. */
    uint64_t before = og_time_ns() - 60ull * 1000000000ull;
    cr_assert_eq(sweep_chunk(id, before, &kept), 0);
    cr_assert_geq(kept, TC_QUORUM);
    /* A copy touches the chunks it references: a sweep with a cutoff before the touch keeps them
     * (on the quorum the touch promises; a straggler may still be untouched and lose its copy). */
    usleep(1100 * 1000);
    uint64_t t = og_time_ns();
    uint8_t ids[32];
    memcpy(ids, id, 32);
    cr_assert_eq(cluster_chunk_touch(tc.cl, ids, 1), 0);
    cr_assert_leq(sweep_chunk(id, t, &kept), TC_NODES - TC_QUORUM, "only a copy the touch missed goes");
    cr_assert_geq(kept, TC_QUORUM);
    /* Swept for real; a reader of a record still naming it gets ENOTFOUND, never wrong bytes... */
    int left = kept;
    cr_assert_eq(sweep_chunk(id, og_time_ns() + 1, &kept), left);
    core_meta_t m = meta_of(&d);
    mem_sink_t s = {malloc(sizeof(data)), 0, sizeof(data)};
    cr_assert_eq(core_obj_read(tc.cl, &m, 0, sizeof(data) - 1, mem_sink, &s), OG_ENOTFOUND);
    /* ...touching it now fails (nothing to protect), and writing the content again restores it. */
    cr_assert_eq(cluster_chunk_touch(tc.cl, ids, 1), OG_EQUORUM);
    core_obj_data_t d2;
    cr_assert_eq(write_mem(data, sizeof(data), 50000, &d2), 0);
    s.len = 0;
    cr_assert_eq(core_obj_read(tc.cl, &m, 0, sizeof(data) - 1, mem_sink, &s), 0);
    cr_assert_eq(memcmp(s.buf, data, sizeof(data)), 0);
    free(s.buf);
    core_obj_data_free(&d2);
    core_obj_data_free(&d);
    tc_stop();
}

/* ---- encrypted objects (core.h "Encryption") ---- */

static int write_key(const uint8_t *p, size_t len, const uint8_t *key, core_obj_data_t *out)
{
    mem_src_t m = {p, len, 0, 100000, 0};
    core_obj_put_opts_t o = {.key = key, .max_size = 1ull << 33, .expect_size = (int64_t)len};
    return core_obj_write(tc.cl, &o, (core_obj_src_t){mem_read, &m}, out);
}

/* Reads [first, last] of encrypted d with key: the read's code, and the bytes checked when 0. */
static int read_key(const core_obj_data_t *d, const uint8_t *key, const uint8_t *want, uint64_t first, uint64_t last)
{
    core_meta_t m = meta_of(d);
    m.flags = CORE_META_SSE_S3;
    mem_sink_t s = {malloc(last - first + 1), 0, last - first + 1};
    cr_assert(s.buf);
    int rc = key ? core_obj_read_key(tc.cl, &m, key, first, last, mem_sink, &s)
                 : core_obj_read(tc.cl, &m, first, last, mem_sink, &s);
    if (rc == 0) {
        cr_assert_eq(s.len, last - first + 1);
        cr_assert_eq(memcmp(s.buf, want + first, s.len), 0, "bytes %lu-%lu", (unsigned long)first,
                     (unsigned long)last);
    }
    free(s.buf);
    return rc;
}

Test(obj, encrypted_roundtrip_ranges_wrong_key_tamper)
{
    tc_start(17150);
    size_t len = (5u << 20) + 777;
    uint8_t *data = malloc(len), key[CORE_SSE_KEY], other[CORE_SSE_KEY];
    cr_assert(data);
    fill_random(data, len, 11);
    memset(key, 0x42, sizeof(key));
    memset(other, 0x43, sizeof(other));
    core_obj_data_t d, d2, plain;
    cr_assert_eq(write_key(data, len, key, &d), 0);
    cr_assert_eq(d.size, len);
    /* chunks are boxes: 28 bytes more than their plaintext, ids and xxh3 of the box */
    uint64_t sum = 0;
    for (size_t i = 0; i < d.num_chunks; i++)
        sum += d.chunks[i].len - OG_BOX_OVERHEAD;
    cr_assert_eq(sum, len);
    /* the same bytes again (same and another key), and in plain: no chunk in common (never
     * deduplicated) */
    cr_assert_eq(write_key(data, len, key, &d2), 0);
    for (size_t i = 0; i < d.num_chunks; i++)
        cr_assert(!ref_in(&d.chunks[i], &d2), "chunk %zu shared between two writes under one key", i);
    core_obj_data_free(&d2);
    cr_assert_eq(write_key(data, len, other, &d2), 0);
    cr_assert_eq(write_mem(data, len, 100000, &plain), 0);
    for (size_t i = 0; i < d.num_chunks; i++) {
        cr_assert(!ref_in(&d.chunks[i], &d2), "chunk %zu shared between two encryptions", i);
        cr_assert(!ref_in(&d.chunks[i], &plain), "chunk %zu shared with the plain object", i);
    }
    /* whole and ranges, across box boundaries */
    uint64_t b0 = d.chunks[0].len - OG_BOX_OVERHEAD;
    cr_assert_eq(read_key(&d, key, data, 0, len - 1), 0);
    cr_assert_eq(read_key(&d, key, data, 0, 0), 0);
    cr_assert_eq(read_key(&d, key, data, b0 - 1, b0), 0);
    cr_assert_eq(read_key(&d, key, data, len - 1, len - 1), 0);
    cr_assert_eq(read_key(&d, key, data, 1u << 20, (4u << 20) + 9), 0);
    /* without the key: refused; with another key: corrupt, nothing served */
    cr_assert_eq(read_key(&d, NULL, data, 0, 10), -EACCES);
    cr_assert_eq(read_key(&d, other, data, 0, 10), OG_ECORRUPT);
    /* a chunk list that points at another object's (valid, same length) boxes does not open */
    core_chunk_ref_t saved = d.chunks[1];
    d.chunks[1] = d2.chunks[1];
    cr_assert_eq(read_key(&d, key, data, b0, b0 + 5), OG_ECORRUPT);
    d.chunks[1] = saved;
    cr_assert_eq(read_key(&d, key, data, b0, b0 + 5), 0);
    core_obj_data_free(&d);
    core_obj_data_free(&d2);
    core_obj_data_free(&plain);

    /* inline bodies are boxed too; an altered byte is refused */
    cr_assert_eq(write_key(data, 5000, key, &d), 0);
    cr_assert_eq(d.num_chunks, 0);
    cr_assert_eq(d.inline_len, 5000 + OG_BOX_OVERHEAD);
    cr_assert_null(memmem(d.inline_data, d.inline_len, data + 100, 32));
    cr_assert_eq(read_key(&d, key, data, 0, 4999), 0);
    cr_assert_eq(read_key(&d, key, data, 17, 33), 0);
    d.inline_data[40] ^= 1;
    cr_assert_eq(read_key(&d, key, data, 0, 4999), OG_ECORRUPT);
    core_obj_data_free(&d);
    free(data);
    tc_stop();
}

Test(core_sse, customer_key_check)
{
    uint8_t ck[32], wrong[32], sse[CORE_SSE_C_LEN], k1[CORE_SSE_KEY], k2[CORE_SSE_KEY], sse2[CORE_SSE_C_LEN];
    memset(ck, 7, sizeof(ck));
    memset(wrong, 8, sizeof(wrong));
    cr_assert_eq(core_sse_c_new(ck, sse, k1), 0);
    cr_assert_null(memmem(sse, sizeof(sse), ck, 8), "the customer key is not stored");
    cr_assert_eq(core_sse_c_open(ck, (og_str_t){(char *)sse, sizeof(sse)}, k2), 0);
    cr_assert_eq(memcmp(k1, k2, sizeof(k1)), 0);
    cr_assert_eq(core_sse_c_open(wrong, (og_str_t){(char *)sse, sizeof(sse)}, k2), -EACCES);
    cr_assert_eq(core_sse_c_open(ck, (og_str_t){(char *)sse, 10}, k2), OG_ECORRUPT);
    /* a new object under the same customer key gets another salt, so another object key */
    cr_assert_eq(core_sse_c_new(ck, sse2, k2), 0);
    cr_assert_neq(memcmp(k1, k2, sizeof(k1)), 0);
    cr_assert_neq(memcmp(sse, sse2, sizeof(sse)), 0);
}
