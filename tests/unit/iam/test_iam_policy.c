/* Unit tests for S3 bucket policies (iam_policy.c): the checked subset, explicit Deny first,
 * principals, wildcards, NotAction/NotResource and the condition operators. */
#include <criterion/criterion.h>
#include <stdio.h>

#include "iam/iam.h"

static int check(const char *doc)
{
    char why[256];
    return iam_policy_check(og_str(doc), "bkt", why, sizeof(why));
}

static int eval(const char *doc, const char *account, const char *action, const char *resource, const char *ip)
{
    iam_policy_ctx_t c = {account, action, resource, ip ? ip : "10.1.2.3", 0, NULL, NULL};
    cr_assert_eq(check(doc), 0, "%s", doc);
    return iam_policy_eval(og_str(doc), &c);
}

#define PUBLIC_READ                                                                                                    \
    "{\"Version\":\"2012-10-17\",\"Statement\":[{\"Sid\":\"pub\",\"Effect\":\"Allow\",\"Principal\":\"*\","         \
    "\"Action\":\"s3:GetObject\",\"Resource\":\"arn:aws:s3:::bkt/*\"}]}"

Test(policy, public_read)
{
    cr_assert_eq(eval(PUBLIC_READ, NULL, "s3:GetObject", "arn:aws:s3:::bkt/a/b", NULL), IAM_POLICY_ALLOW);
    cr_assert_eq(eval(PUBLIC_READ, NULL, "s3:PutObject", "arn:aws:s3:::bkt/a", NULL), IAM_POLICY_NONE);
    cr_assert_eq(eval(PUBLIC_READ, NULL, "s3:ListBucket", "arn:aws:s3:::bkt", NULL), IAM_POLICY_NONE);
    cr_assert(iam_policy_public(OG_STR_LIT(PUBLIC_READ)));
}

Test(policy, deny_wins)
{
    const char *doc = "{\"Statement\":[{\"Effect\":\"Allow\",\"Principal\":\"*\",\"Action\":\"s3:*\","
                      "\"Resource\":[\"arn:aws:s3:::bkt\",\"arn:aws:s3:::bkt/*\"]},"
                      "{\"Effect\":\"Deny\",\"Principal\":{\"AWS\":\"*\"},\"Action\":\"s3:*\","
                      "\"Resource\":\"arn:aws:s3:::bkt/*\",\"Condition\":{\"NotIpAddress\":{\"aws:SourceIp\":\"10.0.0.0/8\"}}}]}";
    cr_assert_eq(eval(doc, "alice", "s3:GetObject", "arn:aws:s3:::bkt/k", "10.9.9.9"), IAM_POLICY_ALLOW);
    cr_assert_eq(eval(doc, "alice", "s3:GetObject", "arn:aws:s3:::bkt/k", "192.168.1.1"), IAM_POLICY_DENY);
    cr_assert_eq(eval(doc, NULL, "s3:ListBucket", "arn:aws:s3:::bkt", "192.168.1.1"), IAM_POLICY_ALLOW);
}

Test(policy, principals)
{
    const char *doc = "{\"Statement\":{\"Effect\":\"Allow\",\"Principal\":{\"AWS\":[\"arn:aws:iam::bob:root\","
                      "\"carol\",\"arn:aws:iam::dave:user/x\"]},\"Action\":\"s3:List*\",\"Resource\":\"arn:aws:s3:::bkt\"}}";
    cr_assert_eq(eval(doc, "bob", "s3:ListBucket", "arn:aws:s3:::bkt", NULL), IAM_POLICY_ALLOW);
    cr_assert_eq(eval(doc, "carol", "s3:listbucketmultipartuploads", "arn:aws:s3:::bkt", NULL), IAM_POLICY_ALLOW);
    cr_assert_eq(eval(doc, "dave", "s3:ListBucket", "arn:aws:s3:::bkt", NULL), IAM_POLICY_ALLOW);
    cr_assert_eq(eval(doc, "eve", "s3:ListBucket", "arn:aws:s3:::bkt", NULL), IAM_POLICY_NONE);
    cr_assert_eq(eval(doc, NULL, "s3:ListBucket", "arn:aws:s3:::bkt", NULL), IAM_POLICY_NONE);
    cr_assert(!iam_policy_public(og_str(doc)));
}

Test(policy, not_action_not_resource)
{
    const char *doc = "{\"Statement\":[{\"Effect\":\"Deny\",\"Principal\":\"*\",\"NotAction\":\"s3:Get*\","
                      "\"NotResource\":\"arn:aws:s3:::bkt/public/*\"}]}";
    cr_assert_eq(eval(doc, "a", "s3:PutObject", "arn:aws:s3:::bkt/x", NULL), IAM_POLICY_DENY);
    cr_assert_eq(eval(doc, "a", "s3:PutObject", "arn:aws:s3:::bkt/public/x", NULL), IAM_POLICY_NONE);
    cr_assert_eq(eval(doc, "a", "s3:GetObject", "arn:aws:s3:::bkt/x", NULL), IAM_POLICY_NONE);
}

Test(policy, conditions)
{
    const char *doc = "{\"Statement\":[{\"Effect\":\"Allow\",\"Principal\":\"*\",\"Action\":\"s3:ListBucket\","
                      "\"Resource\":\"arn:aws:s3:::bkt\",\"Condition\":{\"StringLike\":{\"s3:prefix\":[\"home/*\",\"\"]},"
                      "\"Bool\":{\"aws:SecureTransport\":\"false\"}}}]}";
    iam_policy_ctx_t c = {NULL, "s3:ListBucket", "arn:aws:s3:::bkt", "1.2.3.4", 0, NULL, "home/x"};
    cr_assert_eq(check(doc), 0);
    cr_assert_eq(iam_policy_eval(og_str(doc), &c), IAM_POLICY_ALLOW);
    c.prefix = "etc/";
    cr_assert_eq(iam_policy_eval(og_str(doc), &c), IAM_POLICY_NONE);
    c.prefix = "home/y";
    c.secure = 1;
    cr_assert_eq(iam_policy_eval(og_str(doc), &c), IAM_POLICY_NONE);
    const char *ref = "{\"Statement\":[{\"Effect\":\"Allow\",\"Principal\":\"*\",\"Action\":\"s3:GetObject\","
                      "\"Resource\":\"arn:aws:s3:::bkt/*\",\"Condition\":{\"StringLike\":{\"aws:Referer\":\"https://ex.com/*\"}}}]}";
    iam_policy_ctx_t d = {NULL, "s3:GetObject", "arn:aws:s3:::bkt/k", "1.2.3.4", 0, NULL, NULL};
    cr_assert_eq(check(ref), 0);
    cr_assert_eq(iam_policy_eval(og_str(ref), &d), IAM_POLICY_NONE); /* no Referer */
    d.referer = "https://ex.com/page";
    cr_assert_eq(iam_policy_eval(og_str(ref), &d), IAM_POLICY_ALLOW);
}

Test(policy, ipv6_cidr)
{
    const char *doc = "{\"Statement\":[{\"Effect\":\"Deny\",\"Principal\":\"*\",\"Action\":\"*\","
                      "\"Resource\":\"arn:aws:s3:::bkt/*\",\"Condition\":{\"IpAddress\":{\"aws:SourceIp\":[\"2001:db8::/32\",\"127.0.0.1\"]}}}]}";
    cr_assert_eq(eval(doc, "a", "s3:GetObject", "arn:aws:s3:::bkt/k", "2001:db8::1"), IAM_POLICY_DENY);
    cr_assert_eq(eval(doc, "a", "s3:GetObject", "arn:aws:s3:::bkt/k", "127.0.0.1"), IAM_POLICY_DENY);
    cr_assert_eq(eval(doc, "a", "s3:GetObject", "arn:aws:s3:::bkt/k", "127.0.0.2"), IAM_POLICY_NONE);
}

Test(policy, refused)
{
    static const char *const bad[] = {
        "not json",
        "{}",
        "{\"Statement\":[]}",
        "{\"Version\":\"2020-01-01\",\"Statement\":[{\"Effect\":\"Allow\",\"Principal\":\"*\",\"Action\":\"s3:*\","
        "\"Resource\":\"arn:aws:s3:::bkt\"}]}",
        "{\"Statement\":[{\"Effect\":\"Maybe\",\"Principal\":\"*\",\"Action\":\"s3:*\",\"Resource\":\"arn:aws:s3:::bkt\"}]}",
        "{\"Statement\":[{\"Effect\":\"Allow\",\"Action\":\"s3:*\",\"Resource\":\"arn:aws:s3:::bkt\"}]}",
        "{\"Statement\":[{\"Effect\":\"Allow\",\"Principal\":\"*\",\"Action\":\"s3:*\",\"Resource\":\"arn:aws:s3:::other\"}]}",
        "{\"Statement\":[{\"Effect\":\"Allow\",\"Principal\":\"*\",\"Action\":\"ec2:*\",\"Resource\":\"arn:aws:s3:::bkt\"}]}",
        "{\"Statement\":[{\"Effect\":\"Allow\",\"NotPrincipal\":\"*\",\"Action\":\"s3:*\",\"Resource\":\"arn:aws:s3:::bkt\"}]}",
        "{\"Statement\":[{\"Effect\":\"Allow\",\"Principal\":{\"Service\":\"x\"},\"Action\":\"s3:*\",\"Resource\":\"arn:aws:s3:::bkt\"}]}",
        "{\"Statement\":[{\"Effect\":\"Allow\",\"Principal\":\"*\",\"Action\":\"s3:*\",\"NotAction\":\"s3:Get*\","
        "\"Resource\":\"arn:aws:s3:::bkt\"}]}",
        "{\"Statement\":[{\"Effect\":\"Allow\",\"Principal\":\"*\",\"Action\":\"s3:*\",\"Resource\":\"arn:aws:s3:::bkt\","
        "\"Condition\":{\"DateGreaterThan\":{\"aws:CurrentTime\":\"2020-01-01\"}}}]}",
        "{\"Statement\":[{\"Effect\":\"Allow\",\"Principal\":\"*\",\"Action\":\"s3:*\",\"Resource\":\"arn:aws:s3:::bkt\","
        "\"Condition\":{\"StringEquals\":{\"aws:UserAgent\":\"x\"}}}]}",
        "{\"Statement\":[{\"Effect\":\"Allow\",\"Principal\":\"*\",\"Action\":\"s3:*\",\"Resource\":\"arn:aws:s3:::bkt\","
        "\"Condition\":{\"IpAddress\":{\"aws:SourceIp\":\"10.0.0.0/33\"}}}]}",
        "{\"Statement\":[{\"Effect\":\"Allow\",\"Principal\":\"*\",\"Action\":\"s3:*\",\"Resource\":\"arn:aws:s3:::bkt\","
        "\"Condition\":{\"Bool\":{\"aws:SecureTransport\":\"maybe\"}}}]}",
        "{\"Statement\":[{\"Effect\":\"Allow\",\"Principal\":\"*\",\"Action\":\"s3:*\",\"Resource\":\"arn:aws:s3:::bkt\"}],"
        "\"Extra\":1}",
    };
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
        cr_assert_eq(check(bad[i]), OG_EINVAL, "accepted: %s", bad[i]);
    char why[256];
    iam_policy_check(OG_STR_LIT("{\"Statement\":[{\"Effect\":\"Allow\",\"Principal\":\"*\",\"Action\":\"s3:*\","
                                "\"Resource\":\"arn:aws:s3:::bkt\",\"Condition\":{\"DateGreaterThan\":{\"k\":\"v\"}}}]}"),
                     "bkt", why, sizeof(why));
    cr_assert(strstr(why, "DateGreaterThan") != NULL, "%s", why);
}
