/* Unit tests for the pure parts of the Swift layer: tokens (swift_auth.c), ACL evaluation, the
 * header-list codec and the object summary's X-Delete-At (gw_meta.c). */
#include <criterion/criterion.h>
#include <stdio.h>
#include <stdlib.h>

#include "iam/iam.h"

static const uint8_t key[32] = {1, 2, 3, 4, 5, 6, 7, 8, 9, 10};

static iam_ident_t ident(const char *account, const char *user, uint8_t flags, uint64_t expires)
{
    iam_ident_t id = {.flags = flags, .expires = expires};
    snprintf(id.account, sizeof(id.account), "%s", account);
    snprintf(id.user, sizeof(id.user), "%s", user);
    return id;
}

Test(swift_token, round_trip)
{
    iam_ident_t id = ident("acct", "alice", IAM_SWIFT_ADMIN, 2000), out;
    char tok[IAM_TOKEN_MAX];
    long n = iam_token_mint(key, &id, tok, sizeof(tok));
    cr_assert_gt(n, 0);
    cr_assert_eq(strncmp(tok, "AUTH_tk", 7), 0);
    cr_assert_eq(iam_token_verify(key, (og_str_t){tok, (size_t)n}, 1000, &out), 0);
    cr_assert_str_eq(out.account, "acct");
    cr_assert_str_eq(out.user, "alice");
    cr_assert_eq(out.flags, IAM_SWIFT_ADMIN);
    cr_assert_eq(out.expires, 2000);
}

Test(swift_token, expired_forged_and_malformed)
{
    iam_ident_t id = ident("acct", "bob", 0, 2000), out;
    char tok[IAM_TOKEN_MAX];
    long n = iam_token_mint(key, &id, tok, sizeof(tok));
    cr_assert_eq(iam_token_verify(key, (og_str_t){tok, (size_t)n}, 2000, &out), OG_ENOTFOUND);
    uint8_t other[32] = {9};
    cr_assert_eq(iam_token_verify(other, (og_str_t){tok, (size_t)n}, 1000, &out), OG_EINVAL);
    /* flip one bit of the payload (the admin flag byte): the MAC no longer matches */
    tok[7 + 2 * 9 + 1] = tok[7 + 2 * 9 + 1] == '1' ? '0' : '1';
    cr_assert_eq(iam_token_verify(key, (og_str_t){tok, (size_t)n}, 1000, &out), OG_EINVAL);
    cr_assert_eq(iam_token_verify(key, OG_STR_LIT("AUTH_tk"), 1000, &out), OG_EINVAL);
    cr_assert_eq(iam_token_verify(key, OG_STR_LIT("AUTH_tkzz"), 1000, &out), OG_EINVAL);
    cr_assert_eq(iam_token_verify(key, OG_STR_LIT(""), 1000, &out), OG_EINVAL);
}

Test(swift_token, too_long_fields)
{
    iam_ident_t id = ident("acct", "u", 0, 1);
    memset(id.user, 'x', sizeof(id.user)); /* not terminated */
    char tok[IAM_TOKEN_MAX];
    cr_assert_eq(iam_token_mint(key, &id, tok, sizeof(tok)), OG_EINVAL);
}

Test(swift_acl, grants)
{
    iam_ident_t alice = ident("a1", "alice", 0, 0), bob = ident("b2", "bob", 0, 0);
    cr_assert(iam_acl_allows(OG_STR_LIT(".r:*"), NULL, IAM_ACL_READ));
    cr_assert(!iam_acl_allows(OG_STR_LIT(".r:*"), NULL, IAM_ACL_LISTING));
    cr_assert(iam_acl_allows(OG_STR_LIT(".r:*, .rlistings"), NULL, IAM_ACL_LISTING));
    cr_assert(!iam_acl_allows(OG_STR_LIT(".r:*,.rlistings"), NULL, IAM_ACL_WRITE));
    cr_assert(!iam_acl_allows(OG_STR_LIT(".r:-evil.com"), NULL, IAM_ACL_READ));
    cr_assert(iam_acl_allows(OG_STR_LIT("a1:alice"), &alice, IAM_ACL_WRITE));
    cr_assert(!iam_acl_allows(OG_STR_LIT("a1:alice"), &bob, IAM_ACL_READ));
    cr_assert(iam_acl_allows(OG_STR_LIT("x, b2"), &bob, IAM_ACL_LISTING));
    cr_assert(iam_acl_allows(OG_STR_LIT("*:bob"), &bob, IAM_ACL_READ));
    cr_assert(iam_acl_allows(OG_STR_LIT("a1:*"), &alice, IAM_ACL_READ));
    cr_assert(!iam_acl_allows(OG_STR_LIT("a1:*"), NULL, IAM_ACL_READ));
    cr_assert(!iam_acl_allows(OG_STR_LIT(""), &alice, IAM_ACL_READ));
    cr_assert(!iam_acl_allows(OG_STR_LIT(",,"), &alice, IAM_ACL_READ));
}
