/* Unit tests for the string helpers of common/og.h that the gateway's parsers share. */
#include <criterion/criterion.h>

#include "og.h"

#include <inttypes.h>
#include <stdio.h>
#include <string.h>

Test(og_str, trim_drops_spaces_and_tabs_only)
{
    og_str_t t = og_str_trim(og_str(" \t 12 3\t "));
    cr_assert(t.len == 4 && memcmp(t.base, "12 3", 4) == 0);
    cr_assert_eq(og_str_trim(og_str(" \t ")).len, 0);
    t = og_str_trim(og_str("\r1\n"));
    cr_assert_eq(t.len, 3, "CR and LF are not HTTP optional whitespace");
}

Test(og_str, parse_dec_digits_only_bounded)
{
    uint64_t v = 7;
    cr_assert_eq(og_parse_dec(og_str("0"), 1, &v), 0);
    cr_assert_eq(v, 0);
    cr_assert_eq(og_parse_dec(og_str("10000"), 5, &v), 0);
    cr_assert_eq(v, 10000);
    cr_assert_eq(og_parse_dec(og_str("18446744073709551615"), 20, &v), 0);
    cr_assert_eq(v, UINT64_MAX);
    v = 7;
    cr_assert_eq(og_parse_dec(og_str("18446744073709551616"), 20, &v), OG_EINVAL, "past UINT64_MAX");
    cr_assert_eq(og_parse_dec(og_str("123456"), 5, &v), OG_EINVAL, "too many digits");
    cr_assert_eq(og_parse_dec(og_str(""), 5, &v), OG_EINVAL);
    cr_assert_eq(og_parse_dec(og_str("+1"), 5, &v), OG_EINVAL);
    cr_assert_eq(og_parse_dec(og_str("1 "), 5, &v), OG_EINVAL);
    cr_assert_eq(og_parse_dec(og_str("0x5"), 5, &v), OG_EINVAL);
    cr_assert_eq(og_parse_dec(og_str("-1"), 5, &v), OG_EINVAL);
    cr_assert_eq(v, 7, "a failed parse leaves *out alone");
}

#define U8(lit) og_utf8_valid(lit, sizeof(lit) - 1, 0)

Test(og_str, utf8_valid_accepts_rfc3629_only)
{
    cr_assert(U8(""));
    cr_assert(U8("plain ascii /._-"));
    cr_assert(U8("\xc3\xa9t\xc3\xa9"), "é");
    cr_assert(U8("\xe2\x82\xac"), "U+20AC");
    cr_assert(U8("\xf0\x9f\x98\x80"), "U+1F600");
    cr_assert(U8("\xf4\x8f\xbf\xbf"), "U+10FFFF");
    cr_assert(U8("\x01\x7f"), "control characters are valid UTF-8");
    cr_assert_not(U8("a\0b"), "NUL");
    cr_assert(og_utf8_valid("a\0b", 3, 1), "NUL when allowed");
    cr_assert_not(og_utf8_valid("a\0\xff", 3, 1));
    cr_assert_not(U8("\xff"));
    cr_assert_not(U8("\x80x"), "a lone continuation byte");
    cr_assert_not(U8("\xc0\xaf"), "overlong '/'");
    cr_assert_not(U8("\xe0\x80\xaf"), "overlong, 3 bytes");
    cr_assert_not(U8("\xe2\x82"), "truncated");
    cr_assert_not(U8("\xe2\x28\xa1"), "bad continuation");
    cr_assert_not(U8("\xed\xa0\x80"), "a surrogate");
    cr_assert_not(U8("\xf4\x90\x80\x80"), "above U+10FFFF");
    cr_assert_not(U8("\xf5\x80\x80\x80"));
}

Test(og_str, u64_dec_round_trips)
{
    char buf[OG_U64_DEC_MAX], want[32];
    const uint64_t vs[] = {0, 7, 10, 200, 4096, 1234567890123ull, UINT64_MAX};
    for (size_t i = 0; i < sizeof(vs) / sizeof(vs[0]); i++) {
        size_t n = og_u64_dec(vs[i], buf);
        snprintf(want, sizeof(want), "%" PRIu64, vs[i]);
        cr_assert_str_eq(buf, want);
        cr_assert_eq(n, strlen(want));
    }
}

Test(og_rng, xorshift64star_sequence_and_seeds)
{
    /* The reference xorshift64* (Vigna) from state 1; tie-breaks stored by earlier gateways came
     * from the same sequence. */
    uint64_t s = 1;
    cr_assert_eq(og_rng_next(&s), 0x47e4ce4b896cdd1dull);
    cr_assert_eq(og_rng_next(&s), 0xabcfa6a8e079651dull);
    cr_assert_eq(og_rng_next(&s), 0xb9d10d8feb731f57ull);
    /* Seeds are never 0 (the sequence would stay there) and differ between calls. */
    uint64_t a = og_rng_seed(), b = og_rng_seed();
    cr_assert_neq(a, 0);
    cr_assert_neq(b, 0);
    cr_assert_neq(a, b);
}
