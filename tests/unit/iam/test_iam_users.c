/*
 * test_iam_users.c: S3 users stored in the cluster (iam_users.c) against real storage nodes
 * (the cluster fixture: three onggi-node processes on loopback).
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

Test(iam, users)
{
    iam_user_t u = {.access_key = "AK1", .secret = "s3cret", .account = "acct", .display_name = "Alice"}, got;
    iam_t *iam;

    tc_start(17040);
    cr_assert_eq(iam_open(tc.cl, &iam), 0);
    cr_assert_eq(iam_user_get(iam, og_str("AK1"), &got), OG_ENOTFOUND);
    cr_assert_eq(iam_user_put(iam, &u), 0);
    cr_assert_eq(iam_user_get(iam, og_str("AK1"), &got), 0);
    cr_assert_str_eq(got.secret, "s3cret");
    cr_assert_str_eq(got.account, "acct");
    cr_assert_str_eq(got.display_name, "Alice");
    u.secret[0] = '\0';
    cr_assert_eq(iam_user_put(iam, &u), OG_EINVAL);
    iam_close(iam);
}

Test(iam, unknown_names_are_cached_briefly)
{
    iam_user_t got;
    iam_swift_user_t sgot;
    iam_t *iam;

    tc_start(17050);
    cr_assert_eq(iam_open(tc.cl, &iam), 0);
    cr_assert_eq(iam_user_get(iam, og_str("NOPE"), &got), OG_ENOTFOUND);
    cr_assert_eq(iam_swift_user_get(iam, "acct", "nobody", &sgot), OG_ENOTFOUND);
    /* With every node gone, the names just found unknown are still answered (from the negative
     * cache, without a quorum read); a name never asked for needs the nodes. */
    for (int i = 0; i < TC_NODES; i++)
        tc_node_kill(i);
    cr_assert_eq(iam_user_get(iam, og_str("NOPE"), &got), OG_ENOTFOUND);
    cr_assert_eq(iam_swift_user_get(iam, "acct", "nobody", &sgot), OG_ENOTFOUND);
    cr_assert_neq(iam_user_get(iam, og_str("OTHER"), &got), OG_ENOTFOUND);
    /* The entries expire (IAM_NEG_TTL_MS, 2 s): then the nodes are asked again. */
    usleep(2500 * 1000);
    cr_assert_neq(iam_user_get(iam, og_str("NOPE"), &got), OG_ENOTFOUND);
    cr_assert_neq(iam_swift_user_get(iam, "acct", "nobody", &sgot), OG_ENOTFOUND);
    iam_close(iam);
}
