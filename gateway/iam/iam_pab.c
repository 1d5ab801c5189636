/*
 * iam_pab.c: S3 Block Public Access (PublicAccessBlock) and Object Ownership, the decisions both
 * front ends take through iam.h ("S3 Block Public Access and Object Ownership"), as AWS documents
 * them (docs/s3-compat.md, "Access control"):
 *  - BlockPublicAcls: storing a public ACL (any grant to AllUsers or AuthenticatedUsers) is refused;
 *  - IgnorePublicAcls: such grants count for nothing when authorizing (S3, and Swift's reading of
 *    a bucket's S3 ACL);
 *  - BlockPublicPolicy: storing a public policy (iam_policy_public) is refused;
 *  - RestrictPublicBuckets: a public policy's Allow admits only the bucket owner's account;
 *  - BucketOwnerEnforced: ACLs are disabled (never authorize; only the bucket owner's full control
 *    may be "set"); BucketOwnerPreferred: bucket-owner-full-control makes the bucket owner own
 *    the object.
 */
#include "iam_int.h"

#include <string.h>

const char *const iam_pab_names[IAM_PAB_FLAGS] = {"BlockPublicAcls", "IgnorePublicAcls", "BlockPublicPolicy",
                                                  "RestrictPublicBuckets"};

static const char *const ownership_names[] = {"ObjectWriter", "BucketOwnerPreferred", "BucketOwnerEnforced"};

iam_s3ctl_t iam_s3ctl_of(const og_header_t *meta, size_t n)
{
    iam_s3ctl_t c = {0, IAM_OWN_WRITER};
    og_str_t pab = og_header_find(meta, n, IAM_S3PAB_HEADER);
    int own = iam_ownership_parse(og_header_find(meta, n, IAM_S3OWNERSHIP_HEADER));
    for (size_t i = 0; pab.len == IAM_PAB_FLAGS && i < IAM_PAB_FLAGS; i++)
        if (pab.base[i] == '1')
            c.pab |= 1u << i;
    if (own >= 0)
        c.ownership = own;
    return c;
}

void iam_pab_format(unsigned pab, char out[IAM_PAB_FLAGS + 1])
{
    for (size_t i = 0; i < IAM_PAB_FLAGS; i++)
        out[i] = (pab >> i) & 1 ? '1' : '0';
    out[IAM_PAB_FLAGS] = '\0';
}

int iam_ownership_parse(og_str_t name)
{
    for (size_t i = 0; name.base != NULL && i < sizeof(ownership_names) / sizeof(ownership_names[0]); i++)
        if (og_str_eq(name, ownership_names[i]))
            return (int)i;
    return OG_EINVAL;
}

const char *iam_ownership_name(int mode)
{
    return mode >= 0 && mode <= IAM_OWN_ENFORCED ? ownership_names[mode] : ownership_names[IAM_OWN_WRITER];
}

/* Does acl (compact form) grant anything to AllUsers or AuthenticatedUsers (AWS's "public ACL")? */
static int acl_is_public(og_str_t acl)
{
    iam_s3grant_t g;
    while (iam_s3acl_next(&acl, &g))
        if (g.group && (og_str_eq(g.id, "all") || og_str_eq(g.id, "auth")))
            return 1;
    return 0;
}

/* Does acl grant FULL_CONTROL to bucket_owner and nothing else (AWS's "bucket-owner-full-control
 * or an equivalent")? */
static int owner_full_only(og_str_t acl, const char *bucket_owner)
{
    iam_s3grant_t g;
    int any = 0;
    while (iam_s3acl_next(&acl, &g)) {
        if (g.group || g.perm != IAM_S3_FULL || !og_str_eq(g.id, bucket_owner))
            return 0;
        any = 1;
    }
    return any;
}

int iam_s3ctl_acl_admit(iam_s3ctl_t c, og_str_t acl, const char *bucket_owner)
{
    if (c.ownership == IAM_OWN_ENFORCED && !owner_full_only(acl, bucket_owner))
        return IAM_EACLDISABLED;
    if ((c.pab & IAM_PAB_BLOCK_ACLS) && acl_is_public(acl))
        return IAM_EPUBLICACL;
    return 0;
}

int iam_s3ctl_policy_admit(iam_s3ctl_t c, og_str_t doc)
{
    return (c.pab & IAM_PAB_BLOCK_POLICY) && iam_policy_public(doc) ? IAM_EPUBLICPOLICY : 0;
}

int iam_s3ctl_acl_allows(iam_s3ctl_t c, og_str_t acl, const char *owner, const char *account, unsigned perm)
{
    if (c.ownership == IAM_OWN_ENFORCED)
        return 0;
    return iam_s3acl_allows_in(acl, owner, account, perm, (c.pab & IAM_PAB_IGNORE_ACLS) != 0);
}

int iam_s3ctl_policy_verdict(iam_s3ctl_t c, og_str_t doc, int verdict, const char *bucket_owner, const char *account)
{
    if (verdict != IAM_POLICY_ALLOW || !(c.pab & IAM_PAB_RESTRICT))
        return verdict;
    if (account != NULL && strcmp(account, bucket_owner) == 0)
        return verdict;
    return iam_policy_public(doc) ? IAM_POLICY_NONE : verdict;
}

int iam_s3ctl_policy_public(iam_s3ctl_t c, og_str_t doc)
{
    return !(c.pab & IAM_PAB_RESTRICT) && iam_policy_public(doc);
}

int iam_s3ctl_bucket_owns(iam_s3ctl_t c, og_str_t canned)
{
    return c.ownership == IAM_OWN_ENFORCED ||
           (c.ownership == IAM_OWN_PREFERRED && canned.base != NULL && og_str_eq(canned, "bucket-owner-full-control"));
}
