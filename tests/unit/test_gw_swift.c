/* Unit tests for the pure parts of the Swift layer: tokens (gw_swift_auth.c), ACL evaluation, the
 * header-list codec and the object summary's X-Delete-At (gw_meta.c). */
#include <criterion/criterion.h>
#include <stdio.h>
#include <stdlib.h>

#include "gw_swift.h"

static const uint8_t key[32] = {1, 2, 3, 4, 5, 6, 7, 8, 9, 10};

static gw_swift_ident_t ident(const char *account, const char *user, uint8_t flags, uint64_t expires)
{
    gw_swift_ident_t id = {.flags = flags, .expires = expires};
    snprintf(id.account, sizeof(id.account), "%s", account);
    snprintf(id.user, sizeof(id.user), "%s", user);
    return id;
}

Test(swift_token, round_trip)
{
    gw_swift_ident_t id = ident("acct", "alice", GW_SWIFT_ADMIN, 2000), out;
    char tok[GW_SWIFT_TOKEN_MAX];
    long n = gw_swift_token_mint(key, &id, tok, sizeof(tok));
    cr_assert_gt(n, 0);
    cr_assert_eq(strncmp(tok, "AUTH_tk", 7), 0);
    cr_assert_eq(gw_swift_token_verify(key, (og_str_t){tok, (size_t)n}, 1000, &out), 0);
    cr_assert_str_eq(out.account, "acct");
    cr_assert_str_eq(out.user, "alice");
    cr_assert_eq(out.flags, GW_SWIFT_ADMIN);
    cr_assert_eq(out.expires, 2000);
}

Test(swift_token, expired_forged_and_malformed)
{
    gw_swift_ident_t id = ident("acct", "bob", 0, 2000), out;
    char tok[GW_SWIFT_TOKEN_MAX];
    long n = gw_swift_token_mint(key, &id, tok, sizeof(tok));
    cr_assert_eq(gw_swift_token_verify(key, (og_str_t){tok, (size_t)n}, 2000, &out), OG_ENOTFOUND);
    uint8_t other[32] = {9};
    cr_assert_eq(gw_swift_token_verify(other, (og_str_t){tok, (size_t)n}, 1000, &out), OG_EINVAL);
    /* flip one bit of the payload (the admin flag byte): the MAC no longer matches */
    tok[7 + 2 * 9 + 1] = tok[7 + 2 * 9 + 1] == '1' ? '0' : '1';
    cr_assert_eq(gw_swift_token_verify(key, (og_str_t){tok, (size_t)n}, 1000, &out), OG_EINVAL);
    cr_assert_eq(gw_swift_token_verify(key, OG_STR_LIT("AUTH_tk"), 1000, &out), OG_EINVAL);
    cr_assert_eq(gw_swift_token_verify(key, OG_STR_LIT("AUTH_tkzz"), 1000, &out), OG_EINVAL);
    cr_assert_eq(gw_swift_token_verify(key, OG_STR_LIT(""), 1000, &out), OG_EINVAL);
}

Test(swift_token, too_long_fields)
{
    gw_swift_ident_t id = ident("acct", "u", 0, 1);
    memset(id.user, 'x', sizeof(id.user)); /* not terminated */
    char tok[GW_SWIFT_TOKEN_MAX];
    cr_assert_eq(gw_swift_token_mint(key, &id, tok, sizeof(tok)), OG_EINVAL);
}

Test(swift_acl, grants)
{
    gw_swift_ident_t alice = ident("a1", "alice", 0, 0), bob = ident("b2", "bob", 0, 0);
    cr_assert(gw_swift_acl_allows(OG_STR_LIT(".r:*"), NULL, GW_ACL_READ));
    cr_assert(!gw_swift_acl_allows(OG_STR_LIT(".r:*"), NULL, GW_ACL_LISTING));
    cr_assert(gw_swift_acl_allows(OG_STR_LIT(".r:*, .rlistings"), NULL, GW_ACL_LISTING));
    cr_assert(!gw_swift_acl_allows(OG_STR_LIT(".r:*,.rlistings"), NULL, GW_ACL_WRITE));
    cr_assert(!gw_swift_acl_allows(OG_STR_LIT(".r:-evil.com"), NULL, GW_ACL_READ));
    cr_assert(gw_swift_acl_allows(OG_STR_LIT("a1:alice"), &alice, GW_ACL_WRITE));
    cr_assert(!gw_swift_acl_allows(OG_STR_LIT("a1:alice"), &bob, GW_ACL_READ));
    cr_assert(gw_swift_acl_allows(OG_STR_LIT("x, b2"), &bob, GW_ACL_LISTING));
    cr_assert(gw_swift_acl_allows(OG_STR_LIT("*:bob"), &bob, GW_ACL_READ));
    cr_assert(gw_swift_acl_allows(OG_STR_LIT("a1:*"), &alice, GW_ACL_READ));
    cr_assert(!gw_swift_acl_allows(OG_STR_LIT("a1:*"), NULL, GW_ACL_READ));
    cr_assert(!gw_swift_acl_allows(OG_STR_LIT(""), &alice, GW_ACL_READ));
    cr_assert(!gw_swift_acl_allows(OG_STR_LIT(",,"), &alice, GW_ACL_READ));
}

Test(gw_hdrs, codec)
{
    og_header_t in[] = {{OG_STR_LIT("x-container-meta-a"), OG_STR_LIT("1")}, {OG_STR_LIT("x-container-read"),
                                                                              OG_STR_LIT(".r:*")}};
    size_t len = gw_hdrs_encoded_len(in, 2), n, used;
    unsigned char buf[128];
    og_header_t *out;
    cr_assert_eq(gw_hdrs_encode(in, 2, buf) - buf, (long)len);
    cr_assert_eq(gw_hdrs_decode((og_str_t){(char *)buf, len}, &out, &n, &used), 0);
    cr_assert_eq(n, 2);
    cr_assert_eq(used, len);
    cr_assert(og_str_eq(out[1].value, ".r:*"));
    free(out);
    /* truncated input and an impossible count */
    cr_assert_eq(gw_hdrs_decode((og_str_t){(char *)buf, len - 1}, &out, &n, &used), OG_EPROTO);
    unsigned char huge[2] = {0xff, 0xff};
    cr_assert_eq(gw_hdrs_decode((og_str_t){(char *)huge, 2}, &out, &n, &used), OG_EPROTO);
}

Test(gw_meta, delete_at_round_trip)
{
    gw_meta_t m = {.size = 3, .content_type = OG_STR_LIT("text/plain"), .owner = OG_STR_LIT("a"), .delete_at = 77};
    char *s, *d;
    size_t sl, dl;
    cr_assert_eq(gw_meta_encode(&m, &s, &sl, &d, &dl), 0);
    og_rec_t rec = {.summary = {s, sl}};
    gw_meta_t back;
    cr_assert_eq(gw_meta_decode(&rec, &back), 0);
    cr_assert_eq(back.delete_at, 77);
    cr_assert(gw_meta_expired(&back, 77));
    cr_assert(!gw_meta_expired(&back, 76));
    gw_meta_free(&back);
    free(s);
    free(d);
    /* without an expiry the summary keeps version 1 (what S3 always wrote) */
    m.delete_at = 0;
    cr_assert_eq(gw_meta_encode(&m, &s, &sl, &d, &dl), 0);
    cr_assert_eq(s[0], 1);
    rec.summary = (og_str_t){s, sl};
    cr_assert_eq(gw_meta_decode(&rec, &back), 0);
    cr_assert(!gw_meta_expired(&back, UINT64_MAX));
    gw_meta_free(&back);
    free(s);
    free(d);
}
