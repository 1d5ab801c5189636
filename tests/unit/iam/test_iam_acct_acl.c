/* Unit tests for Swift account ACLs (iam_acct_acl.c): TempAuth's checks and canonical form, and
 * what each level grants. */
#include <criterion/criterion.h>

#include "iam/iam.h"

static og_str_t S(const og_buf_t *b) { return (og_str_t){b->buf, b->len}; }

static int parse(const char *v, og_buf_t *canon, char *why)
{
    return iam_account_acl_parse(og_str(v), canon, why, 128);
}

Test(acct_acl, canonical_form)
{
    og_buf_t c = {0};
    char why[128];
    cr_assert_eq(parse("{ \"read-only\" : [\"b:u\"], \"admin\": [] }", &c, why), 0);
    cr_assert(og_str_eq(S(&c), "{\"admin\":[],\"read-only\":[\"b:u\"]}"));
    og_buf_free(&c);
    cr_assert_eq(parse("", &c, why), 0); /* removal */
    cr_assert_eq(c.len, 0);
    cr_assert_eq(parse("{}", &c, why), 0);
    cr_assert_eq(c.len, 0);
}

Test(acct_acl, tempauth_reasons)
{
    og_buf_t c = {0};
    char why[128];
    cr_assert_eq(parse("{bad", &c, why), OG_EINVAL);
    cr_assert_str_eq(why, "Syntax error in input ('{bad')");
    cr_assert_eq(parse("{'a'", &c, why), OG_EINVAL); /* Python's repr, as the anchor answers */
    cr_assert_str_eq(why, "Syntax error in input (\"{'a'\")");
    cr_assert_eq(parse("{'a\"", &c, why), OG_EINVAL);
    cr_assert_str_eq(why, "Syntax error in input ('{\\'a\"')");
    cr_assert_eq(parse("a\\b", &c, why), OG_EINVAL);
    cr_assert_str_eq(why, "Syntax error in input ('a\\\\b')");
    cr_assert_eq(parse("[]", &c, why), OG_EINVAL);
    cr_assert_eq(parse("{\"foo\":[]}", &c, why), OG_EINVAL);
    cr_assert_str_eq(why, "Key \"foo\" not recognized");
    cr_assert_eq(parse("{\"admin\":\"x\"}", &c, why), OG_EINVAL);
    cr_assert_str_eq(why, "Value for key \"admin\" must be a list");
    cr_assert_eq(parse("{\"read-write\":[1]}", &c, why), OG_EINVAL);
    cr_assert_str_eq(why, "Elements of \"read-write\" list must be strings");
    cr_assert_eq(c.len, 0);
}

Test(acct_acl, levels)
{
    og_str_t acl = OG_STR_LIT("{\"admin\":[\"b:adm\"],\"read-only\":[\"b:ro\"],\"read-write\":[\"c\"]}");
    iam_ident_t adm = {.account = "b", .user = "adm"}, ro = {.account = "b", .user = "ro"},
                rw = {.account = "c", .user = "any"}, none = {.account = "b", .user = "other"};
    cr_assert_eq(iam_account_allows(acl, &adm, 0, 0), IAM_ACCT_OWNER);
    cr_assert_eq(iam_account_allows(acl, &ro, 1, 1), 1);
    cr_assert_eq(iam_account_allows(acl, &ro, 0, 1), 1);
    cr_assert_eq(iam_account_allows(acl, &ro, 1, 0), 0);
    cr_assert_eq(iam_account_allows(acl, &rw, 1, 0), 1);  /* a whole account named */
    cr_assert_eq(iam_account_allows(acl, &rw, 0, 1), 1);
    cr_assert_eq(iam_account_allows(acl, &rw, 0, 0), 0);  /* not the account's POST */
    cr_assert_eq(iam_account_allows(acl, &none, 1, 1), 0);
    cr_assert_eq(iam_account_allows(acl, NULL, 1, 1), 0);
    cr_assert_eq(iam_account_allows((og_str_t){NULL, 0}, &adm, 1, 1), 0);
    iam_ident_t prefix = {.account = "b", .user = "ad"}; /* "b:adm" names no "b:ad" */
    cr_assert_eq(iam_account_allows(acl, &prefix, 1, 1), 0);
}
