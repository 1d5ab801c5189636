/* The strict chunked decoder (gateway/http/http_chunked.c). */
#include <criterion/criterion.h>
#include <string.h>

#include "http/http.h"

/* Decodes s whole in one call: the return value, with the payload in out. */
static ssize_t decode(const char *s, char *out, size_t *outlen)
{
    http_chunked_t d = {0};
    size_t n = strlen(s);
    memcpy(out, s, n);
    ssize_t r = http_chunked_decode(&d, out, &n);
    *outlen = n;
    return r;
}

Test(chunked, plain_body_extension_and_trailers)
{
    char buf[256];
    size_t n;
    cr_assert_eq(decode("5\r\nhello\r\n0\r\n\r\n", buf, &n), 0);
    cr_assert(n == 5 && memcmp(buf, "hello", 5) == 0);
    cr_assert_eq(decode("A;name=v\r\n0123456789\r\n3 \r\nabc\r\n0\r\nX-T: 1\r\n\r\nGET", buf, &n), 3);
    cr_assert(n == 13 && memcmp(buf, "0123456789abcGET", 16) == 0);
}

Test(chunked, byte_by_byte)
{
    const char *s = "3\r\nabc\r\n02\r\nde\r\n0\r\n\r\n";
    char buf[64];
    http_chunked_t d = {0};
    size_t got = 0;
    ssize_t r = -2;
    for (size_t i = 0; s[i] != '\0'; i++) {
        size_t n = 1;
        buf[got] = s[i];
        r = http_chunked_decode(&d, buf + got, &n);
        got += n;
        cr_assert(r == -2 || s[i + 1] == '\0');
    }
    cr_assert_eq(r, 0);
    cr_assert(got == 5 && memcmp(buf, "abcde", 5) == 0);
}

Test(chunked, malformed_sizes)
{
    char buf[256];
    size_t n;
    const char *bad[] = {
        "0x5\r\nhello\r\n0\r\n\r\n", "+5\r\nhello\r\n0\r\n\r\n", "-5\r\n", "\r\nhello", "5 5\r\nhello",
        "ffffffffffffffff\r\n", "00000000000000005\r\nhello\r\n0\r\n\r\n", "de0b6b3a7640000\r\n",
        "5\r\nhelloXX0\r\n\r\n",
    };
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
        cr_assert_eq(decode(bad[i], buf, &n), -1, "%s", bad[i]);
    /* 16 digits with leading zeros are fine */
    cr_assert_eq(decode("0000000000000005\r\nhello\r\n0\r\n\r\n", buf, &n), 0);
}

Test(chunked, size_and_total_bounded)
{
    char buf[64];
    http_chunked_t d = {0};
    size_t n = 17;
    memcpy(buf, "de0b6b3a763ffff\r\n", n); /* HTTP_BODY_MAX itself */
    cr_assert_eq(http_chunked_decode(&d, buf, &n), -2);
    /* after chunks of HTTP_BODY_MAX bytes in all, one more byte is too many */
    d = (http_chunked_t){.total = HTTP_BODY_MAX};
    n = 3;
    memcpy(buf, "1\r\n", n);
    cr_assert_eq(http_chunked_decode(&d, buf, &n), -1);
}
