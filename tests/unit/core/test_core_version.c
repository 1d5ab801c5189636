/*
 * Versions (core_version.c) on a real 3-node cluster: the record encoding of a version, version
 * ids sorting newest first, the index following the newest version, permanent deletion promoting
 * the next one, delete markers, the null version, and locks refusing removal.
 */
#include "cluster/cluster.h"
#include "core/core.h"
#include "node_client.h"

#include <criterion/criterion.h>
#include <errno.h>
#include <ftw.h>
#include <limits.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#define TC_NODES 3
#define TC_TMPDIR "/tmp/og_ver_XXXXXX"
#include "../cluster/cluster_fixture.h"

Test(ver_meta, version_fields_round_trip_and_old_bytes_kept)
{
    core_meta_t m = {.size = 5, .content_type = OG_STR_LIT("t"), .owner = OG_STR_LIT("a")};
    char *s, *d;
    size_t sl, dl, plain;
    cr_assert_eq(core_meta_encode(&m, &s, &sl, &d, &dl), 0);
    cr_assert_eq(s[0], 1); /* an unversioned object keeps the version 1 bytes */
    plain = sl;
    free(s), free(d);
    snprintf(m.vid, sizeof(m.vid), "%s", "00000000000000ffffffffffffffff01");
    m.vflags = CORE_VER_NULL;
    m.lock = (core_lock_t){CORE_LOCK_COMPLIANCE, 1234567890123ull, CORE_HOLD_ON};
    cr_assert_eq(core_meta_encode(&m, &s, &sl, &d, &dl), 0);
    cr_assert_eq(s[0], 4);
    cr_assert_eq(sl, plain + 8 + 1 + 8 + 16 + 2 + CORE_VID_LEN + 10);
    og_rec_t rec = {.summary = {s, sl}, .detail = {d, dl}};
    core_meta_t back;
    cr_assert_eq(core_meta_decode(&rec, &back), 0);
    cr_assert_str_eq(back.vid, m.vid);
    cr_assert_eq(back.vflags, CORE_VER_NULL);
    cr_assert_eq(back.lock.mode, CORE_LOCK_COMPLIANCE);
    cr_assert_eq(back.lock.until_ms, 1234567890123ull);
    cr_assert_eq(back.lock.hold, 1);
    cr_assert_str_eq(core_ver_id(&back), "null");
    core_meta_free(&back);
    /* a summary cut anywhere in the version fields is refused */
    for (size_t cut = plain; cut < sl; cut++) {
        og_rec_t bad = {.summary = {s, cut}};
        cr_assert_eq(core_meta_decode(&bad, &back), OG_EPROTO, "cut at %zu", cut);
    }
    free(s), free(d);
}

Test(ver_lock, holds)
{
    core_lock_t none = {0}, gov = {CORE_LOCK_GOVERNANCE, 2000, 0}, comp = {CORE_LOCK_COMPLIANCE, 2000, 0},
                hold = {CORE_LOCK_NONE, 0, CORE_HOLD_ON}, off = {CORE_LOCK_NONE, 0, CORE_HOLD_OFF};
    cr_assert(!core_lock_holds(&none, 1000, 0));
    cr_assert(core_lock_holds(&gov, 1000, 0));
    cr_assert(!core_lock_holds(&gov, 1000, 1));
    cr_assert(!core_lock_holds(&gov, 2000, 0)); /* retention over */
    cr_assert(core_lock_holds(&comp, 1000, 1));
    cr_assert(core_lock_holds(&hold, 1000, 1));
    cr_assert(!core_lock_holds(&off, 1000, 0));
}

/* Commits a small inline object of body under key in bucket. Returns its id. */
static void put(const char *bucket, const char *key, const char *body, core_meta_t *m)
{
    *m = (core_meta_t){.size = strlen(body), .content_type = OG_STR_LIT("t"), .owner = OG_STR_LIT("a"),
                       .inline_data = og_str(body)};
    cr_assert_eq(core_obj_commit(tc.cl, bucket, og_str(key), m), 0);
}

static void expect_current(const char *bucket, const char *key, const char *body)
{
    core_meta_t m;
    char *buf;
    int rc = core_obj_lookup(tc.cl, bucket, og_str(key), &m, &buf);
    if (body == NULL) {
        cr_assert_eq(rc, OG_ENOTFOUND);
        return;
    }
    cr_assert_eq(rc, 0);
    cr_assert(og_str_eq(m.inline_data, body), "current is %.*s, not %s", (int)m.inline_data.len,
              m.inline_data.base, body);
    core_meta_free(&m);
    free(buf);
}

Test(ver, ids_order_index_promotion_markers_locks)
{
    tc_start(17700);
    core_meta_t a, b, c, mk;
    char marker[CORE_VID_LEN + 1], *buf;
    int was;
    cr_assert_eq(core_bucket_create(tc.cl, "vb", "a"), 0);
    put("vb", "k", "before", &a);
    cr_assert_str_eq(core_ver_id(&a), "null");
    cr_assert_eq(core_versioning_put(tc.cl, "vb", CORE_VER_ENABLED), 0);
    put("vb", "k", "one", &b);
    put("vb", "k", "two", &c);
    /* newer versions sort first */
    cr_assert_eq(strlen(b.vid), CORE_VID_LEN);
    cr_assert_lt(strcmp(c.vid, b.vid), 0);
    expect_current("vb", "k", "two");
    /* the unversioned object became the null version */
    cr_assert_eq(core_ver_lookup(tc.cl, "vb", og_str("k"), OG_STR_LIT("null"), &mk, &buf), 0);
    cr_assert(og_str_eq(mk.inline_data, "before"));
    core_meta_free(&mk), free(buf);
    cr_assert_eq(core_ver_lookup(tc.cl, "vb", og_str("k"), OG_STR_LIT("xyz"), &mk, &buf), OG_EINVAL);
    /* a delete marker hides the key; removing it brings the newest back */
    cr_assert_eq(core_obj_delete(tc.cl, "vb", og_str("k"), marker), 0);
    expect_current("vb", "k", NULL);
    cr_assert_eq(core_ver_newest(tc.cl, "vb", og_str("k"), &mk, &buf), 0);
    cr_assert(mk.vflags & CORE_VER_MARKER);
    cr_assert_str_eq(mk.vid, marker);
    core_meta_free(&mk), free(buf);
    cr_assert_eq(core_ver_delete(tc.cl, "vb", og_str("k"), og_str(marker), 0, &was), 0);
    cr_assert(was);
    expect_current("vb", "k", "two");
    /* removing the current version promotes the next; a locked one stays */
    core_lock_t lock = {CORE_LOCK_COMPLIANCE, og_time_ns() / 1000000u + 3600000u, 0};
    cr_assert_eq(core_ver_set_lock(tc.cl, "vb", og_str("k"), og_str(b.vid), &lock), 0);
    cr_assert_eq(core_ver_delete(tc.cl, "vb", og_str("k"), og_str(c.vid), 0, &was), 0);
    expect_current("vb", "k", "one");
    cr_assert_eq(core_ver_delete(tc.cl, "vb", og_str("k"), og_str(b.vid), 1, &was), CORE_ELOCKED);
    expect_current("vb", "k", "one");
    cr_assert_eq(core_ver_lookup(tc.cl, "vb", og_str("k"), og_str(b.vid), &mk, &buf), 0);
    cr_assert_eq(mk.lock.mode, CORE_LOCK_COMPLIANCE);
    core_meta_free(&mk), free(buf);
    /* suspended: writes are the null version and replace it */
    cr_assert_eq(core_versioning_put(tc.cl, "vb", CORE_VER_SUSPENDED), 0);
    put("vb", "k", "s1", &a);
    put("vb", "k", "s2", &a);
    cr_assert_eq(core_ver_lookup(tc.cl, "vb", og_str("k"), OG_STR_LIT("null"), &mk, &buf), 0);
    cr_assert(og_str_eq(mk.inline_data, "s2"));
    core_meta_free(&mk), free(buf);
    expect_current("vb", "k", "s2");
    tc_stop();
}
