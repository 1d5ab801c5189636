/* Unit tests for the pure parts of swift_tempurl.c: signature parsing (hex and
 * "<digest>:<base64>"), the HMACs against Python's hmac (the values Swift's get_hmac gives), the
 * IP-range test, Content-Disposition quoting, and which metadata names are the owner-only keys. */
#include <criterion/criterion.h>

#include "../../../gateway/swift/swift_tempurl.c"

/* hmac.new(b"k1", b"GET\n1796327220\n/v1/AUTH_dev/c/o", <digest>).hexdigest() */
#define MSG "GET\n1796327220\n/v1/AUTH_dev/c/o"

Test(tempurl, hmac_matches_python)
{
    char hex[129];
    size_t n = swift_hmac_hex("sha256", OG_STR_LIT("k1"), OG_STR_LIT(MSG), hex);
    cr_assert_eq(n, 64);
    cr_assert_str_eq(hex, "950f90214ecd330b9ae10878f59d87db41d99ef4a5ec621f5b27fe27e5ff292e");
    cr_assert_eq(swift_hmac_hex("sha1", OG_STR_LIT("k1"), OG_STR_LIT(MSG), hex), 40);
    cr_assert_str_eq(hex, "706a09d74e29498b8acbff4bc8f1c212328f56a0");
    cr_assert_eq(swift_hmac_hex("sha512", OG_STR_LIT("k1"), OG_STR_LIT(MSG), hex), 128);
    cr_assert_str_eq(hex, "b8efcd30baaf58dfd8a3a30e19e5a3d8ca4828ce0be774400283199e6079927d"
                          "07eaa7cfa8a759e3ca92beb3530564e952b7f5205ef716a7fec6a33cab561bbf");
    cr_assert_eq(swift_hmac_hex("md5", OG_STR_LIT("k1"), OG_STR_LIT(MSG), hex), 0);
}

Test(tempurl, sig_forms)
{
    char out[129];
    const char *d;
    char hex40[41], hex64[65], hex128[129];
    memset(hex40, 'a', 40), hex40[40] = '\0';
    memset(hex64, 'b', 64), hex64[64] = '\0';
    memset(hex128, 'c', 128), hex128[128] = '\0';
    cr_assert_eq(swift_sig_parse(og_str(hex40), &d, out), 0);
    cr_assert_str_eq(d, "sha1");
    cr_assert_eq(swift_sig_parse(og_str(hex64), &d, out), 0);
    cr_assert_str_eq(d, "sha256");
    cr_assert_eq(swift_sig_parse(og_str(hex128), &d, out), 0);
    cr_assert_str_eq(d, "sha512");
    cr_assert_str_eq(out, hex128);
    cr_assert_eq(swift_sig_parse(OG_STR_LIT("abcd"), &d, out), OG_EINVAL); /* no digest has that length */
    hex40[3] = 'x';
    cr_assert_eq(swift_sig_parse(og_str(hex40), &d, out), OG_EINVAL); /* not hex */
    /* base64 of 0x00 0x01 ... 0x1f, standard and URL-safe alphabets, padding optional */
    cr_assert_eq(swift_sig_parse(OG_STR_LIT("sha256:AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8="), &d, out), 0);
    cr_assert_str_eq(d, "sha256");
    cr_assert_str_eq(out, "000102030405060708090a0b0c0d0e0f101112131415161718191a1b1c1d1e1f");
    cr_assert_eq(swift_sig_parse(OG_STR_LIT("sha256:AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8"), &d, out), 0);
    cr_assert_eq(swift_sig_parse(OG_STR_LIT("sha256:-_-_"), &d, out), 0);
    cr_assert_str_eq(out, "fbffbf");
    cr_assert_eq(swift_sig_parse(OG_STR_LIT("md5:AAEC"), &d, out), OG_EINVAL);
    cr_assert_eq(swift_sig_parse(OG_STR_LIT("sha1:!!"), &d, out), OG_EINVAL);
}

Test(tempurl, ct_eq)
{
    cr_assert(swift_str_ct_eq(OG_STR_LIT("abc"), OG_STR_LIT("abc")));
    cr_assert(!swift_str_ct_eq(OG_STR_LIT("abc"), OG_STR_LIT("abd")));
    cr_assert(!swift_str_ct_eq(OG_STR_LIT("abc"), OG_STR_LIT("ab")));
}

Test(tempurl, ip_ranges)
{
    cr_assert(ip_in_range("127.0.0.1:5000", "127.0.0.1"));
    cr_assert(ip_in_range("127.0.0.1:5000", "127.0.0.0/8"));
    cr_assert(ip_in_range("10.1.2.3:1", "10.0.0.0/8"));
    cr_assert(!ip_in_range("11.1.2.3:1", "10.0.0.0/8"));
    cr_assert(!ip_in_range("10.1.2.3:1", "10.1.2.3/8")); /* host bits set: Python refuses the network */
    cr_assert(ip_in_range("10.1.2.3:1", "0.0.0.0/0"));
    cr_assert(ip_in_range("[::1]:80", "::1"));
    cr_assert(ip_in_range("[2001:db8::5]:80", "2001:db8::/32"));
    cr_assert(!ip_in_range("[2001:db9::5]:80", "2001:db8::/32"));
    cr_assert(!ip_in_range("127.0.0.1:80", "::1"));  /* another family */
    cr_assert(!ip_in_range("127.0.0.1:80", "127.0.0.0/33"));
    cr_assert(!ip_in_range("127.0.0.1:80", "127.0.0.0/x"));
    cr_assert(!ip_in_range("127.0.0.1:80", "not-an-ip"));
}

Test(tempurl, quoting_as_python)
{
    og_buf_t b = {0};
    quote(&b, "a b\"c/é~.txt", " /");
    og_buf_put(&b, "", 1);
    cr_assert_str_eq(b.buf, "a b%22c/%C3%A9~.txt");
    og_buf_free(&b);
    b = (og_buf_t){0};
    quote(&b, "a b", "/");
    og_buf_put(&b, "", 1);
    cr_assert_str_eq(b.buf, "a%20b");
    og_buf_free(&b);
}

Test(tempurl, owner_only_names)
{
    cr_assert(swift_tempurl_key_name(OG_STR_LIT("x-container-meta-temp-url-key")));
    cr_assert(swift_tempurl_key_name(OG_STR_LIT("X-Account-Meta-Temp-URL-Key-2")));
    cr_assert(!swift_tempurl_key_name(OG_STR_LIT("x-container-meta-temp-url-key-3")));
    cr_assert(!swift_tempurl_key_name(OG_STR_LIT("x-container-meta-color")));
}
