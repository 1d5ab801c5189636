/* Unit tests for the pure parts of iam/: tokens (iam_token.c) and ACL evaluation and checking,
 * referrers included (iam_acl.c). */
#include <criterion/criterion.h>
#include <stdio.h>
#include <stdlib.h>

#include "iam/iam.h"

#define NO_REF OG_STR_LIT("")

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
    id.gen = 0x0123456789abcdefull;
    char tok[IAM_TOKEN_MAX];
    long n = iam_token_mint(key, &id, tok, sizeof(tok));
    cr_assert_gt(n, 0);
    cr_assert_eq(strncmp(tok, "AUTH_tk", 7), 0);
    cr_assert_eq(iam_token_verify(key, (og_str_t){tok, (size_t)n}, 1000, &out), 0);
    cr_assert_str_eq(out.account, "acct");
    cr_assert_str_eq(out.user, "alice");
    cr_assert_eq(out.flags, IAM_SWIFT_ADMIN);
    cr_assert_eq(out.expires, 2000);
    cr_assert_eq(out.gen, 0x0123456789abcdefull);
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
    tok[7 + 2 * 17 + 1] = tok[7 + 2 * 17 + 1] == '1' ? '0' : '1';
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
    cr_assert(iam_acl_allows(OG_STR_LIT(".r:*"), NULL, NO_REF, IAM_ACL_READ));
    cr_assert(!iam_acl_allows(OG_STR_LIT(".r:*"), NULL, NO_REF, IAM_ACL_LISTING));
    cr_assert(iam_acl_allows(OG_STR_LIT(".r:*, .rlistings"), NULL, NO_REF, IAM_ACL_LISTING));
    cr_assert(!iam_acl_allows(OG_STR_LIT(".r:*,.rlistings"), NULL, NO_REF, IAM_ACL_WRITE));
    cr_assert(!iam_acl_allows(OG_STR_LIT(".r:-evil.com"), NULL, NO_REF, IAM_ACL_READ));
    cr_assert(iam_acl_allows(OG_STR_LIT("a1:alice"), &alice, NO_REF, IAM_ACL_WRITE));
    cr_assert(!iam_acl_allows(OG_STR_LIT("a1:alice"), &bob, NO_REF, IAM_ACL_READ));
    cr_assert(iam_acl_allows(OG_STR_LIT("x, b2"), &bob, NO_REF, IAM_ACL_LISTING));
    cr_assert(iam_acl_allows(OG_STR_LIT("*:bob"), &bob, NO_REF, IAM_ACL_READ));
    cr_assert(iam_acl_allows(OG_STR_LIT("a1:*"), &alice, NO_REF, IAM_ACL_READ));
    cr_assert(!iam_acl_allows(OG_STR_LIT("a1:*"), NULL, NO_REF, IAM_ACL_READ));
    cr_assert(!iam_acl_allows(OG_STR_LIT(""), &alice, NO_REF, IAM_ACL_READ));
    cr_assert(!iam_acl_allows(OG_STR_LIT(",,"), &alice, NO_REF, IAM_ACL_READ));
}

/* Swift's referrer_allowed: entries in order, the last match decides; hosts from the Referer URL. */
static int ref_reads(const char *acl, const char *referer)
{
    return iam_acl_allows(og_str(acl), NULL, og_str(referer), IAM_ACL_READ);
}

Test(swift_acl, referrers)
{
    cr_assert(ref_reads(".r:*", ""));
    cr_assert(ref_reads(".r:*", "http://evil.com/x"));
    cr_assert(!ref_reads(".r:*,.r:-evil.com", "http://evil.com/page"));
    cr_assert(!ref_reads(".r:*,.r:-evil.com", "https://user@EVIL.com:8443/page?q#f"));
    cr_assert(ref_reads(".r:*,.r:-evil.com", "http://good.com/"));
    cr_assert(ref_reads(".r:*,.r:-evil.com", "http://sub.evil.com/")); /* a host, not a domain */
    cr_assert(ref_reads(".r:*,.r:-evil.com", ""));                     /* no Referer: "unknown" */
    cr_assert(ref_reads(".r:-evil.com,.r:*", "http://evil.com/")); /* order matters: the later "*" wins */
    cr_assert(!ref_reads(".r:-evil.com", "http://good.com/"));          /* a deny grants nothing */
    cr_assert(ref_reads(".r:.example.com", "http://www.example.com/"));
    cr_assert(!ref_reads(".r:.example.com", "http://example.com/"));
    cr_assert(!ref_reads(".r:.example.com", "http://badexample.com/"));
    cr_assert(ref_reads(".r:*.example.com", "http://a.b.example.com/"));
    cr_assert(!ref_reads(".r:.example.com,.r:-thief.example.com", "http://thief.example.com/"));
    cr_assert(ref_reads(".r:.example.com,.r:-thief.example.com", "http://honest.example.com/"));
    cr_assert(!ref_reads(".r:*,.r:-.thief.com", "http://a.thief.com/"));
    cr_assert(ref_reads(".r:www.example.com", "http://www.example.com:8080/a"));
    cr_assert(!ref_reads(".r:www.example.com", "www.example.com")); /* no "//": no host */
    cr_assert(ref_reads(".referrer : *", "http://x/"));
    cr_assert(ref_reads(".ref:::1", "http://[::1]:80/"));
    cr_assert(!ref_reads(".r:*,.r:-*", "http://x/")); /* deliberate: "-*" denies everyone */
    cr_assert(ref_reads(".r:*,.r:-*,.r:x", "http://x/"));
    iam_ident_t alice = ident("a1", "alice", 0, 0);
    /* a named grant is not taken away by a denied referrer */
    cr_assert(iam_acl_allows(OG_STR_LIT(".r:*,.r:-evil.com,a1"), &alice, OG_STR_LIT("http://evil.com/"),
                             IAM_ACL_LISTING));
    cr_assert(!iam_acl_allows(OG_STR_LIT(".r:*,.rlistings,.r:-evil.com"), NULL, OG_STR_LIT("http://evil.com/"),
                              IAM_ACL_LISTING));
    cr_assert(iam_acl_allows(OG_STR_LIT(".r:*,.rlistings,.r:-evil.com"), NULL, OG_STR_LIT("http://ok.com/"),
                             IAM_ACL_LISTING));
}

/* Swift's clean_acl rules: what a container PUT/POST refuses with 400. */
Test(swift_acl, check)
{
    const char *why = NULL;
    cr_assert_eq(iam_acl_check(OG_STR_LIT(".r:*,.r:-evil.com,.rlistings,a1,a1:bob,*:x"), 0, &why), 0);
    cr_assert_eq(iam_acl_check(OG_STR_LIT("a1,a2:bob"), 1, &why), 0);
    cr_assert_eq(iam_acl_check(OG_STR_LIT(".r:*"), 1, &why), OG_EINVAL);
    cr_assert_str_eq(why, "Referrers not allowed in write ACL");
    cr_assert_eq(iam_acl_check(OG_STR_LIT(".r:"), 0, &why), OG_EINVAL);
    cr_assert_str_eq(why, "No host/domain value after referrer designation in ACL");
    cr_assert_eq(iam_acl_check(OG_STR_LIT(".r:-"), 0, &why), OG_EINVAL);
    cr_assert_eq(iam_acl_check(OG_STR_LIT(".r:*."), 0, &why), OG_EINVAL);
    cr_assert_eq(iam_acl_check(OG_STR_LIT(".x:foo"), 0, &why), OG_EINVAL);
    cr_assert_str_eq(why, "Unknown designator in ACL");
}
