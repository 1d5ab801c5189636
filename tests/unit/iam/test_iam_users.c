/*
 * test_iam_users.c: S3 users, Swift users and the token key stored in the cluster (iam_users.c,
 * iam_swift_users.c, iam_token.c, iam_migrate.c) against real storage nodes (the cluster fixture:
 * three onggi-node processes on loopback): secrets sealed or hashed, old plain-text records read
 * and rewritten, key rotation, token revocation.
 */
#include "iam/iam.h"
#include "node_client.h"

#include <criterion/criterion.h>
#include <errno.h>
#include <ftw.h>
#include <limits.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#define TC_NODES 3
#define TC_TMPDIR "/tmp/og_iam_XXXXXX"
#include "../cluster/cluster_fixture.h"

TestSuite(iam, .fini = tc_stop, .timeout = 120);

static iam_t *open_iam(void)
{
    og_keys_t keys;
    iam_t *iam;
    cr_assert_eq(og_keys_load_for(NULL, tc.ring, &keys), 0);
    cr_assert_eq(iam_open(tc.cl, &keys, &iam), 0);
    return iam;
}

/* The raw summary of table/key as stored (a copy the caller frees), and whether it holds needle. */
static char *raw_summary(const char *table, const char *key, size_t *len, const char *needle, int *found)
{
    og_rec_t rec;
    char *buf;
    cr_assert_eq(cluster_rec_get(tc.cl, table, og_str(key), &rec, &buf), 0);
    char *out = malloc(rec.summary.len + 1);
    memcpy(out, rec.summary.base, rec.summary.len);
    *len = rec.summary.len;
    *found = needle && memmem(rec.summary.base, rec.summary.len, needle, strlen(needle)) != NULL;
    free(buf);
    return out;
}

static void put_raw(const char *table, const char *key, const void *summary, size_t n)
{
    og_rec_t rec = {.summary = {summary, n}};
    cluster_stamp(tc.cl, &rec.ts, &rec.tiebreak);
    cr_assert_eq(cluster_rec_put(tc.cl, table, og_str(key), &rec), 0);
}

Test(iam, users_sealed)
{
    iam_user_t u = {.access_key = "AK1", .secret = "s3cret-sealed", .account = "acct", .display_name = "Alice"}, got;
    iam_t *iam;
    size_t n;
    int found;

    tc_start(17040);
    iam = open_iam();
    cr_assert_eq(iam_user_get(iam, og_str("AK1"), &got), OG_ENOTFOUND);
    cr_assert_eq(iam_user_put(iam, &u), 0);
    cr_assert_eq(iam_user_get(iam, og_str("AK1"), &got), 0);
    cr_assert_str_eq(got.secret, "s3cret-sealed");
    cr_assert_str_eq(got.account, "acct");
    cr_assert_str_eq(got.display_name, "Alice");
    free(raw_summary("users", "AK1", &n, "s3cret-sealed", &found));
    cr_assert(!found, "the secret is stored in plain text");
    u.secret[0] = '\0';
    cr_assert_eq(iam_user_put(iam, &u), OG_EINVAL);
    cr_assert_eq(iam_user_delete(iam, "AK1"), 0);
    cr_assert_eq(iam_user_get(iam, og_str("AK1"), &got), OG_ENOTFOUND);
    iam_close(iam);
}

/* Records written before secrets were sealed: read, and rewritten in the current form. */
Test(iam, legacy_records_upgraded)
{
    static const char s3_v1[] = "\0\x0b" "old-secret1" "\0\x04" "acct" "\0\x03" "Bob";
    static const char swift_v1[] = "\x01\x01\0\x0b" "old-swiftk1";
    char tok_v1[33] = {1, 7, 7, 7};
    iam_user_t got;
    iam_ident_t id;
    iam_migrate_stats_t st;
    size_t n;
    int found;

    tc_start(17050);
    put_raw("users", "OLDKEY", s3_v1, sizeof(s3_v1) - 1);
    put_raw("users", "OLDKEY2", s3_v1, sizeof(s3_v1) - 1);
    put_raw("swift_users", "acct:old", swift_v1, sizeof(swift_v1) - 1);
    put_raw("swift_users", "acct:old2", swift_v1, sizeof(swift_v1) - 1);
    put_raw("cluster", "swift-token-key", tok_v1, sizeof(tok_v1));
    iam_t *iam = open_iam();

    /* On first use. */
    cr_assert_eq(iam_user_get(iam, og_str("OLDKEY"), &got), 0);
    cr_assert_str_eq(got.secret, "old-secret1");
    cr_assert_str_eq(got.display_name, "Bob");
    char *raw = raw_summary("users", "OLDKEY", &n, "old-secret1", &found);
    cr_assert(!found && n > 0 && raw[0] == 2, "OLDKEY was not rewritten sealed");
    free(raw);
    cr_assert_eq(iam_swift_user_auth(iam, "acct", "old", OG_STR_LIT("wrong"), &id), -EACCES);
    cr_assert_eq(iam_swift_user_auth(iam, "acct", "old", OG_STR_LIT("old-swiftk1"), &id), 0);
    cr_assert_eq(id.flags, IAM_SWIFT_ADMIN);
    free(raw_summary("swift_users", "acct:old", &n, "old-swiftk1", &found));
    cr_assert(!found);
    uint8_t k[32];
    cr_assert_eq(iam_token_key(iam, k), 0);
    cr_assert_eq(k[0], 7);
    raw = raw_summary("cluster", "swift-token-key", &n, NULL, &found);
    cr_assert(n > 0 && raw[0] == 2, "the token key was not rewritten sealed");
    free(raw);

    /* The rest by the migration, which is idempotent. */
    cr_assert_eq(iam_migrate(iam, &st), 0);
    cr_assert_eq(st.s3_rewritten, 1);
    cr_assert_eq(st.s3_current, 1);
    cr_assert_eq(st.swift_rewritten, 1);
    cr_assert_eq(st.swift_current, 1);
    cr_assert_eq(st.failed, 0);
    free(raw_summary("users", "OLDKEY2", &n, "old-secret1", &found));
    cr_assert(!found);
    free(raw_summary("swift_users", "acct:old2", &n, "old-swiftk1", &found));
    cr_assert(!found);
    cr_assert_eq(iam_swift_user_auth(iam, "acct", "old2", OG_STR_LIT("old-swiftk1"), &id), 0);
    cr_assert_eq(iam_migrate(iam, &st), 0);
    cr_assert_eq(st.s3_rewritten + st.swift_rewritten + (uint64_t)st.token_key_rewritten, 0);
    iam_close(iam);
}

/* A new `secrets` key first in the file: old records still open, and are resealed under it. */
Test(iam, secrets_key_rotation)
{
    iam_user_t u = {.access_key = "AKR", .secret = "rotate-me", .account = "acct"}, got;
    iam_migrate_stats_t st;
    og_keys_t keys;
    iam_t *old_iam, *both, *only_new;

    tc_start(17060);
    old_iam = open_iam();
    cr_assert_eq(iam_user_put(old_iam, &u), 0);
    uint8_t k1[32], k2[32];
    cr_assert_eq(iam_token_key(old_iam, k1), 0);
    cr_assert_eq(og_keys_load_for(NULL, tc.ring, &keys), 0);
    keys.secrets[1] = keys.secrets[0];
    memset(keys.secrets[0].key, 0x5a, OG_KEY_BYTES);
    strcpy(keys.secrets[0].id, "s2");
    keys.num_secrets = 2;
    cr_assert_eq(iam_open(tc.cl, &keys, &both), 0);
    cr_assert_eq(iam_migrate(both, &st), 0);
    cr_assert_eq(st.s3_rewritten, 1);
    cr_assert_eq(st.token_key_rewritten, 1);
    keys.num_secrets = 1; /* the old key dropped */
    cr_assert_eq(iam_open(tc.cl, &keys, &only_new), 0);
    cr_assert_eq(iam_user_get(only_new, og_str("AKR"), &got), 0);
    cr_assert_str_eq(got.secret, "rotate-me");
    cr_assert_eq(iam_token_key(only_new, k2), 0);
    cr_assert_eq(memcmp(k1, k2, 32), 0, "rotation must keep the token key");
    iam_close(only_new);
    iam_close(both);
    iam_close(old_iam);
}

/* Re-keying, demoting or deleting a Swift user revokes its tokens (at once on this gateway). */
Test(iam, swift_token_revocation)
{
    iam_swift_user_t u = {.account = "acct", .user = "carol", .key = "swift-key-1", .flags = IAM_SWIFT_ADMIN};
    iam_ident_t id, got;
    char tok[IAM_TOKEN_MAX];
    uint8_t k[32];
    size_t n;
    int found;

    tc_start(17070);
    iam_t *iam = open_iam();
    cr_assert_eq(iam_swift_user_put(iam, &u), 0);
    free(raw_summary("swift_users", "acct:carol", &n, "swift-key-1", &found));
    cr_assert(!found, "the Swift key is stored in plain text");
    cr_assert_eq(iam_swift_user_auth(iam, "acct", "carol", OG_STR_LIT("swift-key-2"), &id), -EACCES);
    cr_assert_eq(iam_swift_user_auth(iam, "acct", "nobody", OG_STR_LIT("swift-key-1"), &id), OG_ENOTFOUND);
    cr_assert_eq(iam_swift_user_auth(iam, "acct", "carol", OG_STR_LIT("swift-key-1"), &id), 0);
    id.expires = 4000000000u;
    cr_assert_eq(iam_token_key(iam, k), 0);
    long tl = iam_token_mint(k, &id, tok, sizeof(tok));
    cr_assert_gt(tl, 0);
    og_str_t t = {tok, (size_t)tl};
    cr_assert_eq(iam_token_check(iam, t, 1000, &got), 0);
    cr_assert_eq(got.flags, IAM_SWIFT_ADMIN);
    u.flags = 0; /* demoted: the same key, a new generation */
    cr_assert_eq(iam_swift_user_put(iam, &u), 0);
    cr_assert_eq(iam_token_check(iam, t, 1000, &got), OG_ENOTFOUND);
    cr_assert_eq(iam_swift_user_auth(iam, "acct", "carol", OG_STR_LIT("swift-key-1"), &id), 0);
    id.expires = 4000000000u;
    tl = iam_token_mint(k, &id, tok, sizeof(tok));
    t.len = (size_t)tl;
    cr_assert_eq(iam_token_check(iam, t, 1000, &got), 0);
    cr_assert_eq(got.flags, 0);
    cr_assert_eq(iam_swift_user_delete(iam, "acct", "carol"), 0);
    cr_assert_eq(iam_token_check(iam, t, 1000, &got), OG_ENOTFOUND);
    iam_close(iam);
}

Test(iam, unknown_names_are_cached_briefly)
{
    iam_user_t got;
    iam_ident_t id;

    tc_start(17080);
    iam_t *iam = open_iam();
    cr_assert_eq(iam_user_get(iam, og_str("NOPE"), &got), OG_ENOTFOUND);
    cr_assert_eq(iam_swift_user_auth(iam, "acct", "nobody", OG_STR_LIT("k"), &id), OG_ENOTFOUND);
    /* With every node gone, the names just found unknown are still answered (from the negative
     * cache, without a quorum read); a name never asked for needs the nodes. */
    for (int i = 0; i < TC_NODES; i++)
        tc_node_kill(i);
    cr_assert_eq(iam_user_get(iam, og_str("NOPE"), &got), OG_ENOTFOUND);
    cr_assert_eq(iam_swift_user_auth(iam, "acct", "nobody", OG_STR_LIT("k"), &id), OG_ENOTFOUND);
    cr_assert_neq(iam_user_get(iam, og_str("OTHER"), &got), OG_ENOTFOUND);
    /* The entries expire (IAM_NEG_TTL_MS, 2 s): then the nodes are asked again. */
    usleep(2500 * 1000);
    cr_assert_neq(iam_user_get(iam, og_str("NOPE"), &got), OG_ENOTFOUND);
    cr_assert_neq(iam_swift_user_auth(iam, "acct", "nobody", OG_STR_LIT("k"), &id), OG_ENOTFOUND);
    iam_close(iam);
}
