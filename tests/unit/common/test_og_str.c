/* Unit tests for the string helpers of common/og.h that the gateway's parsers share. */
#include <criterion/criterion.h>

#include "og.h"

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
