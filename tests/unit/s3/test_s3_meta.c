/* RFC 2047 user metadata (s3_meta.c): decoding what clients send, encoding what is returned. */
#include <criterion/criterion.h>
#include <string.h>

#include "s3/s3_int.h"

static long dec(const char *in, char *out)
{
    long n = s3_meta_decode(og_str(in), out);
    if (n >= 0)
        out[n] = '\0';
    return n;
}

Test(s3_meta, decodes_utf8_encoded_words)
{
    char out[128];
    cr_assert_eq(dec("=?UTF-8?B?w6l0w6k=?=", out), 5);
    cr_assert_str_eq(out, "été");
    cr_assert_eq(dec("=?utf-8?q?=C3=A9t=C3=A9_x?=", out), 7);
    cr_assert_str_eq(out, "été x");
    cr_assert_gt(dec("=?UTF-8?B?w6k=?= =?UTF-8?B?w6k=?=", out), 0);
    cr_assert_str_eq(out, "éé");
}

Test(s3_meta, keeps_everything_else)
{
    char out[128];
    const char *kept[] = {"plain", "", "=?ISO-8859-1?Q?caf=E9?=", "=?UTF-8?B?w6l0w6k=?= tail", "=?UTF-8?X?abc?=",
                          "=?UTF-8?B?w6l0w6k?=", "=?UTF-8?Q?=C3?=", "=?UTF-8?Q?=0A?=", "=?UTF-8?Q?=4?=",
                          "=?UTF-8?B?w6l0w6k=", "=?UTF-8?B?/w==?="};
    for (size_t i = 0; i < sizeof(kept) / sizeof(kept[0]); i++)
        cr_assert_lt(dec(kept[i], out), 0, "%s", kept[i]);
}

Test(s3_meta, encodes_non_ascii_only)
{
    char out[64];
    cr_assert_eq(s3_meta_encoded_len(og_str("abc")), 0);
    og_str_t v = og_str("été");
    size_t n = s3_meta_encoded_len(v);
    cr_assert_eq(s3_meta_encode(v, out), n);
    cr_assert(memcmp(out, "=?UTF-8?B?w6l0w6k=?=", n) == 0);
    char back[64];
    out[n] = '\0';
    cr_assert_eq(dec(out, back), 5);
    cr_assert_str_eq(back, "été");
}
