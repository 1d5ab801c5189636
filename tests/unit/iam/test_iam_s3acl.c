/* Unit tests for S3 ACLs (iam_s3acl.c): canned ACLs, grant headers, evaluation for owners, other
 * accounts, groups and anonymous callers, and the bucket view Swift shares. */
#include <criterion/criterion.h>
#include <stdio.h>
#include <stdlib.h>

#include "iam/iam.h"

#define ALL "http://acs.amazonaws.com/groups/global/AllUsers"
#define AUTH "http://acs.amazonaws.com/groups/global/AuthenticatedUsers"

static og_str_t S(const og_buf_t *b) { return (og_str_t){b->buf, b->len}; }

Test(s3acl, canned_public_read)
{
    og_buf_t b = {0};
    cr_assert_eq(iam_s3acl_canned(OG_STR_LIT("public-read"), "alice", NULL, &b), 0);
    cr_assert(iam_s3acl_allows(S(&b), "alice", "alice", IAM_S3_FULL));
    cr_assert(iam_s3acl_allows(S(&b), "alice", NULL, IAM_S3_READ));
    cr_assert(iam_s3acl_allows(S(&b), "alice", "bob", IAM_S3_READ));
    cr_assert(!iam_s3acl_allows(S(&b), "alice", NULL, IAM_S3_WRITE));
    cr_assert(!iam_s3acl_allows(S(&b), "alice", "bob", IAM_S3_READ_ACP));
    cr_assert(iam_s3acl_public(S(&b), IAM_S3_READ));
    og_buf_free(&b);
}

Test(s3acl, canned_names)
{
    static const char *const ok[] = {"private", "public-read", "public-read-write", "authenticated-read",
                                     "bucket-owner-read", "bucket-owner-full-control"};
    for (size_t i = 0; i < sizeof(ok) / sizeof(ok[0]); i++) {
        og_buf_t b = {0};
        cr_assert_eq(iam_s3acl_canned(og_str(ok[i]), "a", "a", &b), 0, "%s", ok[i]);
        og_buf_free(&b);
    }
    og_buf_t b = {0};
    cr_assert_eq(iam_s3acl_canned(OG_STR_LIT("aws-exec-read"), "a", NULL, &b), OG_EINVAL);
    cr_assert_eq(iam_s3acl_canned(OG_STR_LIT("Public-Read"), "a", NULL, &b), OG_EINVAL);
    og_buf_free(&b);
}

Test(s3acl, authenticated_read_excludes_anonymous)
{
    og_buf_t b = {0};
    cr_assert_eq(iam_s3acl_canned(OG_STR_LIT("authenticated-read"), "alice", NULL, &b), 0);
    cr_assert(iam_s3acl_allows(S(&b), "alice", "bob", IAM_S3_READ));
    cr_assert(!iam_s3acl_allows(S(&b), "alice", NULL, IAM_S3_READ));
    cr_assert(!iam_s3acl_public(S(&b), IAM_S3_READ));
    og_buf_free(&b);
}

Test(s3acl, bucket_owner_full_control)
{
    og_buf_t b = {0};
    cr_assert_eq(iam_s3acl_canned(OG_STR_LIT("bucket-owner-full-control"), "writer", "owner", &b), 0);
    cr_assert(iam_s3acl_allows(S(&b), "writer", "owner", IAM_S3_FULL));
    cr_assert(!iam_s3acl_allows(S(&b), "writer", "third", IAM_S3_READ));
    og_buf_free(&b);
    cr_assert_eq(iam_s3acl_canned(OG_STR_LIT("bucket-owner-read"), "writer", "owner", &b), 0);
    cr_assert(iam_s3acl_allows(S(&b), "writer", "owner", IAM_S3_READ));
    cr_assert(!iam_s3acl_allows(S(&b), "writer", "owner", IAM_S3_WRITE_ACP));
    og_buf_free(&b);
}

Test(s3acl, private_and_empty)
{
    cr_assert(iam_s3acl_allows(OG_STR_LIT(""), "alice", "alice", IAM_S3_FULL));
    cr_assert(!iam_s3acl_allows(OG_STR_LIT(""), "alice", "bob", IAM_S3_READ));
    cr_assert(!iam_s3acl_allows(OG_STR_LIT(""), "alice", NULL, IAM_S3_READ));
}

Test(s3acl, grant_headers)
{
    og_buf_t b = {0};
    cr_assert_eq(iam_s3acl_grant_header(&b, IAM_S3_READ, OG_STR_LIT("id=\"bob\", uri=\"" AUTH "\"")), 0);
    cr_assert_eq(iam_s3acl_grant_header(&b, IAM_S3_WRITE, OG_STR_LIT("id=carol")), 0);
    cr_assert(iam_s3acl_allows(S(&b), "alice", "bob", IAM_S3_READ));
    cr_assert(iam_s3acl_allows(S(&b), "alice", "dave", IAM_S3_READ)); /* AuthenticatedUsers */
    cr_assert(!iam_s3acl_allows(S(&b), "alice", NULL, IAM_S3_READ));
    cr_assert(iam_s3acl_allows(S(&b), "alice", "carol", IAM_S3_WRITE));
    cr_assert(!iam_s3acl_allows(S(&b), "alice", "bob", IAM_S3_WRITE));
    og_str_t it = S(&b);
    iam_s3grant_t g;
    int n = 0;
    while (iam_s3acl_next(&it, &g))
        n++;
    cr_assert_eq(n, 3);
    og_buf_free(&b);
}

Test(s3acl, grant_header_errors)
{
    og_buf_t b = {0};
    cr_assert_eq(iam_s3acl_grant_header(&b, IAM_S3_READ, OG_STR_LIT("emailAddress=\"x@example.com\"")),
                 IAM_EUNRESOLVABLE);
    cr_assert_eq(iam_s3acl_grant_header(&b, IAM_S3_READ, OG_STR_LIT("uri=\"http://acs.amazonaws.com/x\"")),
                 OG_EINVAL);
    cr_assert_eq(iam_s3acl_grant_header(&b, IAM_S3_READ, OG_STR_LIT("nonsense")), OG_EINVAL);
    cr_assert_eq(iam_s3acl_grant_header(&b, IAM_S3_READ, OG_STR_LIT("")), OG_EINVAL);
    cr_assert_eq(iam_s3acl_grant_header(&b, IAM_S3_READ, OG_STR_LIT("id=\"unterminated")), OG_EINVAL);
    cr_assert_eq(iam_s3acl_grant_header(&b, IAM_S3_READ, OG_STR_LIT("id=\"a\" id=\"b\"")), OG_EINVAL);
    og_buf_free(&b);
}

Test(s3acl, full_control_implies_all)
{
    og_buf_t b = {0};
    cr_assert_eq(iam_s3acl_grant(&b, IAM_S3_FULL, "id", OG_STR_LIT("bob")), 0);
    cr_assert(iam_s3acl_allows(S(&b), "alice", "bob", IAM_S3_WRITE_ACP));
    og_str_t it = S(&b);
    iam_s3grant_t g;
    cr_assert(iam_s3acl_next(&it, &g));
    cr_assert_str_eq(g.perm_name, "FULL_CONTROL");
    og_buf_free(&b);
}

Test(s3acl, bucket_view_for_swift)
{
    og_buf_t b = {0};
    cr_assert_eq(iam_s3acl_canned(OG_STR_LIT("public-read"), "alice", NULL, &b), 0);
    core_bucket_t bk = {.owner = "alice"};
    og_header_t meta[1] = {{OG_STR_LIT(IAM_S3ACL_HEADER), S(&b)}};
    bk.meta = meta, bk.num_meta = 1;
    cr_assert(iam_bucket_allows(&bk, NULL, OG_STR_LIT(""), IAM_ACL_READ));
    cr_assert(iam_bucket_allows(&bk, NULL, OG_STR_LIT(""), IAM_ACL_LISTING));
    cr_assert(!iam_bucket_allows(&bk, NULL, OG_STR_LIT(""), IAM_ACL_WRITE));
    bk.num_meta = 0;
    cr_assert(!iam_bucket_allows(&bk, NULL, OG_STR_LIT(""), IAM_ACL_READ));
    og_header_t swift[1] = {{OG_STR_LIT("x-container-read"), OG_STR_LIT(".r:*")}};
    bk.meta = swift, bk.num_meta = 1;
    cr_assert(iam_bucket_allows(&bk, NULL, OG_STR_LIT(""), IAM_ACL_READ));
    cr_assert(!iam_bucket_allows(&bk, NULL, OG_STR_LIT(""), IAM_ACL_LISTING));
    og_buf_free(&b);
}

/* The S3 rules an anonymous immutable-URL read is judged by (iam_s3_anon_read): policy Deny wins,
 * Allow admits privately, the object's public-read admits shareably, IgnorePublicAcls turns it off. */
Test(s3acl, anonymous_read_by_s3_rules)
{
    static const char policy[] =
        "{\"Version\":\"2012-10-17\",\"Statement\":["
        "{\"Effect\":\"Allow\",\"Principal\":\"*\",\"Action\":\"s3:GetObject\",\"Resource\":\"arn:aws:s3:::b/pub/*\"},"
        "{\"Effect\":\"Deny\",\"Principal\":\"*\",\"Action\":\"s3:GetObject\",\"Resource\":\"arn:aws:s3:::b/pub/no\"}]}";
    og_buf_t acl = {0};
    cr_assert_eq(iam_s3acl_canned(OG_STR_LIT("public-read"), "alice", NULL, &acl), 0);
    og_header_t obj[1] = {{OG_STR_LIT(IAM_S3ACL_HEADER), S(&acl)}};
    og_header_t meta[2] = {{OG_STR_LIT(IAM_S3POLICY_HEADER), OG_STR_LIT(policy)},
                           {OG_STR_LIT(IAM_S3PAB_HEADER), OG_STR_LIT("0100")}};
    core_bucket_t bk = {.owner = "alice", .meta = meta, .num_meta = 1};
    iam_caller_t who = {NULL, "127.0.0.1:5000", 0, {NULL, 0}};
    int sh = -1;
    cr_assert_eq(iam_s3_anon_read(&bk, "b", OG_STR_LIT("pub/a"), NULL, 0, &who, &sh), 1);
    cr_assert_eq(sh, 0); /* a policy judged this client */
    cr_assert_eq(iam_s3_anon_read(&bk, "b", OG_STR_LIT("pub/no"), obj, 1, &who, &sh), -1);
    cr_assert_eq(iam_s3_anon_read(&bk, "b", OG_STR_LIT("other"), NULL, 0, &who, &sh), 0);
    cr_assert_eq(iam_s3_anon_read(&bk, "b", OG_STR_LIT("other"), obj, 1, &who, &sh), 1);
    cr_assert_eq(sh, 0); /* the ACL admits, but a policy exists */
    bk.meta = meta + 1, bk.num_meta = 0;
    cr_assert_eq(iam_s3_anon_read(&bk, "b", OG_STR_LIT("other"), obj, 1, &who, &sh), 1);
    cr_assert_eq(sh, 1);
    bk.num_meta = 1; /* IgnorePublicAcls */
    cr_assert_eq(iam_s3_anon_read(&bk, "b", OG_STR_LIT("other"), obj, 1, &who, &sh), 0);
    og_buf_free(&acl);
}
