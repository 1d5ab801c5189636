/* Range, HTTP-date, entity-tag and conditional evaluation (gateway/gw_range.c). */
#include <criterion/criterion.h>

#include "http/http.h"

static int range(const char *h, uint64_t size, uint64_t *a, uint64_t *b)
{
    return http_range_parse(og_str(h), size, a, b);
}

Test(range, closed_open_and_suffix)
{
    uint64_t a = 99, b = 99;
    cr_assert_eq(range("bytes=0-0", 10, &a, &b), HTTP_RANGE_OK);
    cr_assert(a == 0 && b == 0);
    cr_assert_eq(range("bytes=2-5", 10, &a, &b), HTTP_RANGE_OK);
    cr_assert(a == 2 && b == 5);
    cr_assert_eq(range("bytes=3-", 10, &a, &b), HTTP_RANGE_OK);
    cr_assert(a == 3 && b == 9);
    cr_assert_eq(range("bytes=-4", 10, &a, &b), HTTP_RANGE_OK);
    cr_assert(a == 6 && b == 9);
    cr_assert_eq(range(" Bytes=1-2 ", 10, &a, &b), HTTP_RANGE_OK);
    cr_assert(a == 1 && b == 2);
}

Test(range, clamps_end_and_suffix_longer_than_object)
{
    uint64_t a, b;
    cr_assert_eq(range("bytes=5-1000", 10, &a, &b), HTTP_RANGE_OK);
    cr_assert(a == 5 && b == 9);
    cr_assert_eq(range("bytes=-1000", 10, &a, &b), HTTP_RANGE_OK);
    cr_assert(a == 0 && b == 9);
    cr_assert_eq(range("bytes=0-18446744073709551615", 10, &a, &b), HTTP_RANGE_OK);
    cr_assert(a == 0 && b == 9);
}

Test(range, unsatisfiable)
{
    uint64_t a, b;
    cr_assert_eq(range("bytes=10-", 10, &a, &b), HTTP_RANGE_UNSATISFIABLE);
    cr_assert_eq(range("bytes=10-20", 10, &a, &b), HTTP_RANGE_UNSATISFIABLE);
    cr_assert_eq(range("bytes=-0", 10, &a, &b), HTTP_RANGE_UNSATISFIABLE);
    cr_assert_eq(range("bytes=0-", 0, &a, &b), HTTP_RANGE_UNSATISFIABLE);
    cr_assert_eq(range("bytes=-5", 0, &a, &b), HTTP_RANGE_UNSATISFIABLE);
}

Test(range, ignored_when_malformed_or_multiple)
{
    uint64_t a, b;
    const char *bad[] = {"",         "bytes",       "bytes=",        "bytes=-",       "items=0-1",
                         "bytes=a-b", "bytes=5-2",  "bytes=0-1,3-4", "bytes=1-2x",   "bytes=--1",
                         "bytes=1",  "bytes=0x1-2", "bytes=99999999999999999999-", "bytes = 1-2"};
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
        cr_assert_eq(range(bad[i], 10, &a, &b), HTTP_RANGE_NONE, "%s", bad[i]);
}

Test(date, three_formats)
{
    int64_t t;
    cr_assert_eq(http_date_parse(og_str("Sun, 06 Nov 1994 08:49:37 GMT"), &t), 0);
    cr_assert_eq(t, 784111777);
    cr_assert_eq(http_date_parse(og_str("Sunday, 06-Nov-94 08:49:37 GMT"), &t), 0);
    cr_assert_eq(t, 784111777);
    cr_assert_eq(http_date_parse(og_str("Sun Nov  6 08:49:37 1994"), &t), 0);
    cr_assert_eq(t, 784111777);
    cr_assert_eq(http_date_parse(og_str("Thu, 01 Jan 1970 00:00:00 GMT"), &t), 0);
    cr_assert_eq(t, 0);
    cr_assert_eq(http_date_parse(og_str("Tue, 29 Feb 2028 23:59:59 GMT"), &t), 0);
    cr_assert_eq(t, 1835481599);
}

Test(date, rejects_garbage)
{
    int64_t t;
    const char *bad[] = {"",
                         "yesterday",
                         "Sun, 06 Nov 1994 08:49:37 UTC",
                         "Sun, 06 Foo 1994 08:49:37 GMT",
                         "Sun, 32 Nov 1994 08:49:37 GMT",
                         "Sun, 06 Nov 1994 25:49:37 GMT",
                         "Sun, 06 Nov 1994 08:49:37 GMTx",
                         "Sun, 6 Nov 1994 08:49:37 GMT",
                         "2006-02-03T16:45:09.000Z"};
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
        cr_assert_eq(http_date_parse(og_str(bad[i]), &t), OG_EINVAL, "%s", bad[i]);
}

Test(etag, list_matching)
{
    og_str_t e = og_str("\"abc\"");
    cr_assert(http_etag_list_match(og_str("\"abc\""), e));
    cr_assert(http_etag_list_match(og_str("abc"), e));
    cr_assert(http_etag_list_match(og_str("*"), e));
    cr_assert(http_etag_list_match(og_str("\"x\", \"abc\""), e));
    cr_assert(http_etag_list_match(og_str("W/\"abc\""), e));
    cr_assert(http_etag_list_match(og_str("\"abc\""), og_str("abc")));
    cr_assert(!http_etag_list_match(og_str("\"abd\""), e));
    cr_assert(!http_etag_list_match(og_str(""), e));
    cr_assert(!http_etag_list_match(og_str("\"\""), e));
    cr_assert(!http_etag_list_match(og_str("\"ab\", x"), e));
}

#define DATE_BEFORE "Sat, 05 Nov 1994 08:49:37 GMT"
#define DATE_AT "Sun, 06 Nov 1994 08:49:37 GMT"

Test(cond, single_headers)
{
    og_str_t e = og_str("\"abc\"");
    int64_t mt = 784111777;
    http_cond_t c = {0};
    cr_assert_eq(http_cond_eval(&c, e, mt), 200);

    c = (http_cond_t){.if_match = og_str("\"abc\"")};
    cr_assert_eq(http_cond_eval(&c, e, mt), 200);
    c = (http_cond_t){.if_match = og_str("\"zzz\"")};
    cr_assert_eq(http_cond_eval(&c, e, mt), 412);

    c = (http_cond_t){.if_none_match = og_str("\"abc\"")};
    cr_assert_eq(http_cond_eval(&c, e, mt), 304);
    c = (http_cond_t){.if_none_match = og_str("\"zzz\"")};
    cr_assert_eq(http_cond_eval(&c, e, mt), 200);

    c = (http_cond_t){.if_modified_since = og_str(DATE_AT)};
    cr_assert_eq(http_cond_eval(&c, e, mt), 304);
    c = (http_cond_t){.if_modified_since = og_str(DATE_BEFORE)};
    cr_assert_eq(http_cond_eval(&c, e, mt), 200);
    c = (http_cond_t){.if_modified_since = og_str("not a date")};
    cr_assert_eq(http_cond_eval(&c, e, mt), 200);

    c = (http_cond_t){.if_unmodified_since = og_str(DATE_AT)};
    cr_assert_eq(http_cond_eval(&c, e, mt), 200);
    c = (http_cond_t){.if_unmodified_since = og_str(DATE_BEFORE)};
    cr_assert_eq(http_cond_eval(&c, e, mt), 412);
}

Test(cond, aws_precedence)
{
    og_str_t e = og_str("\"abc\"");
    int64_t mt = 784111777;
    /* If-Match true + If-Unmodified-Since false -> 200 */
    http_cond_t c = {.if_match = og_str("\"abc\""), .if_unmodified_since = og_str(DATE_BEFORE)};
    cr_assert_eq(http_cond_eval(&c, e, mt), 200);
    /* If-None-Match false + If-Modified-Since true -> 304 */
    c = (http_cond_t){.if_none_match = og_str("\"abc\""), .if_modified_since = og_str(DATE_BEFORE)};
    cr_assert_eq(http_cond_eval(&c, e, mt), 304);
    /* If-None-Match true + If-Modified-Since false -> 200 (If-None-Match decides) */
    c = (http_cond_t){.if_none_match = og_str("\"zzz\""), .if_modified_since = og_str(DATE_AT)};
    cr_assert_eq(http_cond_eval(&c, e, mt), 200);
    /* 412 wins over 304 */
    c = (http_cond_t){.if_match = og_str("\"zzz\""), .if_none_match = og_str("\"abc\"")};
    cr_assert_eq(http_cond_eval(&c, e, mt), 412);
}

static void check_private(const char *in, const char *want)
{
    og_str_t v = og_str(in);
    char out[HTTP_CC_PRIVATE_CAP(64)];
    cr_assert(v.len <= 64);
    size_t n = http_cache_control_private(v, out);
    cr_assert(n <= HTTP_CC_PRIVATE_CAP(v.len));
    cr_assert(n == strlen(want) && memcmp(out, want, n) == 0, "%s -> %.*s", in, (int)n, out);
}

Test(cache_control, private_drops_what_speaks_to_shared_caches)
{
    check_private("", "private");
    check_private("max-age=60", "private, max-age=60");
    check_private("public, max-age=60", "private, max-age=60");
    check_private("Public,s-maxage=9,max-age=1,proxy-revalidate", "private, max-age=1");
    check_private("private", "private");
    check_private("no-cache=\"a,public\", immutable", "private, no-cache=\"a,public\", immutable");
    check_private("a,b,c,d,e,f,g,h", "private, a, b, c, d, e, f, g, h"); /* the worst growth */
    check_private(" , ,", "private");
}

Test(cache_control, defaults_fill_only_what_is_missing)
{
    og_header_t out[2], own[] = {{OG_STR_LIT("Cache-Control"), OG_STR_LIT("no-cache")}};
    char date[32];
    cr_assert_eq(http_cache_dflt(NULL, 0, OG_STR_LIT("max-age=5"), 0, 784111777, date, out), 2);
    cr_assert(og_str_eq(out[0].value, "max-age=5"));
    cr_assert(og_str_eq(out[1].name, "Expires") && og_str_eq(out[1].value, "Sun, 06 Nov 1994 08:49:37 GMT"));
    cr_assert_eq(http_cache_dflt(own, 1, OG_STR_LIT("max-age=5"), -1, 0, date, out), 0);
    cr_assert_eq(http_cache_dflt(NULL, 0, OG_STR_LIT(""), -1, 0, date, out), 0);
}

Test(host, without_port)
{
    static const char *const cases[][2] = {
        {"b.example.com:8000", "b.example.com"}, {"b.example.com", "b.example.com"}, {"[::1]:9000", "[::1]"},
        {"[::1]", "[::1]"}, {"127.0.0.1:80", "127.0.0.1"}, {"", ""}, {":80", ""},
    };
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        og_str_t h = http_host_without_port(og_str(cases[i][0]));
        cr_assert(og_str_eq(h, cases[i][1]), "%s -> %.*s", cases[i][0], (int)h.len, h.base);
    }
    cr_assert(http_host_without_port((og_str_t){NULL, 0}).len == 0);
}

Test(status, reason_phrases)
{
    cr_assert_str_eq(http_status_reason(404), "Not Found");
    cr_assert_str_eq(http_status_reason(302), "Found");
    cr_assert_str_eq(http_status_reason(599), "Unknown");
}
