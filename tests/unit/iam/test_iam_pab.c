/* Unit tests for S3 Block Public Access and Object Ownership (iam_pab.c): the stored forms, which
 * ACLs and policies may be stored, and how the controls change authorization. */
#include <criterion/criterion.h>

#include "iam/iam.h"

static og_str_t S(const og_buf_t *b) { return (og_str_t){b->buf, b->len}; }

static const char public_doc[] = "{\"Statement\":{\"Effect\":\"Allow\",\"Principal\":\"*\",\"Action\":\"s3:GetObject\","
                                 "\"Resource\":\"arn:aws:s3:::b/*\"}}";
static const char account_doc[] = "{\"Statement\":{\"Effect\":\"Allow\",\"Principal\":{\"AWS\":\"bob\"},"
                                  "\"Action\":\"s3:GetObject\",\"Resource\":\"arn:aws:s3:::b/*\"}}";

Test(pab, stored_forms)
{
    char form[IAM_PAB_FLAGS + 1];
    iam_pab_format(IAM_PAB_BLOCK_ACLS | IAM_PAB_RESTRICT, form);
    cr_assert_str_eq(form, "1001");
    og_header_t meta[] = {{OG_STR_LIT(IAM_S3PAB_HEADER), og_str(form)},
                          {OG_STR_LIT(IAM_S3OWNERSHIP_HEADER), OG_STR_LIT("BucketOwnerPreferred")}};
    iam_s3ctl_t c = iam_s3ctl_of(meta, 2);
    cr_assert_eq(c.pab, IAM_PAB_BLOCK_ACLS | IAM_PAB_RESTRICT);
    cr_assert_eq(c.ownership, IAM_OWN_PREFERRED);
    c = iam_s3ctl_of(NULL, 0); /* none: nothing blocked, ObjectWriter */
    cr_assert_eq(c.pab, 0);
    cr_assert_eq(c.ownership, IAM_OWN_WRITER);
    cr_assert_eq(iam_ownership_parse(OG_STR_LIT("BucketOwnerEnforced")), IAM_OWN_ENFORCED);
    cr_assert_eq(iam_ownership_parse(OG_STR_LIT("bucketownerenforced")), OG_EINVAL);
    cr_assert_str_eq(iam_ownership_name(IAM_OWN_WRITER), "ObjectWriter");
}

Test(pab, block_public_acls)
{
    og_buf_t pub = {0}, auth = {0}, priv = {0};
    iam_s3ctl_t c = {IAM_PAB_BLOCK_ACLS, IAM_OWN_WRITER};
    cr_assert_eq(iam_s3acl_canned(OG_STR_LIT("public-read"), "alice", NULL, &pub), 0);
    cr_assert_eq(iam_s3acl_canned(OG_STR_LIT("authenticated-read"), "alice", NULL, &auth), 0);
    cr_assert_eq(iam_s3acl_grant_header(&priv, IAM_S3_READ, OG_STR_LIT("id=bob")), 0);
    cr_assert_eq(iam_s3ctl_acl_admit(c, S(&pub), "alice"), IAM_EPUBLICACL);
    cr_assert_eq(iam_s3ctl_acl_admit(c, S(&auth), "alice"), IAM_EPUBLICACL);
    cr_assert_eq(iam_s3ctl_acl_admit(c, S(&priv), "alice"), 0);
    c.pab = 0;
    cr_assert_eq(iam_s3ctl_acl_admit(c, S(&pub), "alice"), 0);
    og_buf_free(&pub);
    og_buf_free(&auth);
    og_buf_free(&priv);
}

Test(pab, ignore_public_acls)
{
    og_buf_t b = {0};
    iam_s3ctl_t c = {IAM_PAB_IGNORE_ACLS, IAM_OWN_WRITER};
    cr_assert_eq(iam_s3acl_canned(OG_STR_LIT("public-read"), "alice", NULL, &b), 0);
    cr_assert_eq(iam_s3acl_grant_header(&b, IAM_S3_WRITE, OG_STR_LIT("id=bob")), 0);
    cr_assert(!iam_s3ctl_acl_allows(c, S(&b), "alice", NULL, IAM_S3_READ));
    cr_assert(!iam_s3ctl_acl_allows(c, S(&b), "alice", "carol", IAM_S3_READ));
    cr_assert(iam_s3ctl_acl_allows(c, S(&b), "alice", "bob", IAM_S3_WRITE));
    cr_assert(iam_s3ctl_acl_allows(c, S(&b), "alice", "alice", IAM_S3_FULL));
    c.pab = 0;
    cr_assert(iam_s3ctl_acl_allows(c, S(&b), "alice", NULL, IAM_S3_READ));
    og_buf_free(&b);
}

Test(pab, policies)
{
    iam_s3ctl_t c = {IAM_PAB_BLOCK_POLICY, IAM_OWN_WRITER};
    og_str_t pub = OG_STR_LIT(public_doc), acct = OG_STR_LIT(account_doc);
    cr_assert_eq(iam_s3ctl_policy_admit(c, pub), IAM_EPUBLICPOLICY);
    cr_assert_eq(iam_s3ctl_policy_admit(c, acct), 0);
    cr_assert(iam_s3ctl_policy_public(c, pub)); /* BlockPublicPolicy does not restrict a stored one */
    c.pab = IAM_PAB_RESTRICT;
    cr_assert_eq(iam_s3ctl_policy_admit(c, pub), 0);
    cr_assert(!iam_s3ctl_policy_public(c, pub));
    /* a public policy's Allow admits only the owner's account; Deny is untouched */
    cr_assert_eq(iam_s3ctl_policy_verdict(c, pub, IAM_POLICY_ALLOW, "alice", NULL), IAM_POLICY_NONE);
    cr_assert_eq(iam_s3ctl_policy_verdict(c, pub, IAM_POLICY_ALLOW, "alice", "bob"), IAM_POLICY_NONE);
    cr_assert_eq(iam_s3ctl_policy_verdict(c, pub, IAM_POLICY_ALLOW, "alice", "alice"), IAM_POLICY_ALLOW);
    cr_assert_eq(iam_s3ctl_policy_verdict(c, pub, IAM_POLICY_DENY, "alice", "bob"), IAM_POLICY_DENY);
    /* a policy that is not public keeps its grants to other accounts */
    cr_assert_eq(iam_s3ctl_policy_verdict(c, acct, IAM_POLICY_ALLOW, "alice", "bob"), IAM_POLICY_ALLOW);
}

Test(pab, bucket_owner_enforced)
{
    og_buf_t owner_full = {0}, writer_full = {0}, pub = {0}, empty = {0};
    iam_s3ctl_t c = {0, IAM_OWN_ENFORCED};
    /* private and bucket-owner-full-control of an object the bucket owner owns: admitted */
    cr_assert_eq(iam_s3acl_canned(OG_STR_LIT("bucket-owner-full-control"), "alice", "alice", &owner_full), 0);
    cr_assert_eq(iam_s3ctl_acl_admit(c, S(&owner_full), "alice"), 0);
    /* the writer's own full control is not the bucket owner's */
    cr_assert_eq(iam_s3acl_canned(OG_STR_LIT("bucket-owner-full-control"), "bob", "alice", &writer_full), 0);
    cr_assert_eq(iam_s3ctl_acl_admit(c, S(&writer_full), "alice"), IAM_EACLDISABLED);
    cr_assert_eq(iam_s3acl_canned(OG_STR_LIT("public-read"), "alice", NULL, &pub), 0);
    cr_assert_eq(iam_s3ctl_acl_admit(c, S(&pub), "alice"), IAM_EACLDISABLED);
    cr_assert_eq(iam_s3ctl_acl_admit(c, S(&empty), "alice"), IAM_EACLDISABLED);
    /* ACLs authorize nothing */
    cr_assert(!iam_s3ctl_acl_allows(c, S(&pub), "alice", NULL, IAM_S3_READ));
    cr_assert(iam_s3ctl_bucket_owns(c, (og_str_t){NULL, 0}));
    c.ownership = IAM_OWN_PREFERRED;
    cr_assert(iam_s3ctl_bucket_owns(c, OG_STR_LIT("bucket-owner-full-control")));
    cr_assert(!iam_s3ctl_bucket_owns(c, OG_STR_LIT("private")));
    cr_assert(!iam_s3ctl_bucket_owns(c, (og_str_t){NULL, 0}));
    c.ownership = IAM_OWN_WRITER;
    cr_assert(!iam_s3ctl_bucket_owns(c, OG_STR_LIT("bucket-owner-full-control")));
    og_buf_free(&owner_full);
    og_buf_free(&writer_full);
    og_buf_free(&pub);
}
