/* core_lc.c: the stored line form of lifecycle rules and the rule arithmetic (due times, tag
 * matching), without a cluster. The .c is included to reach its statics. */
#include <criterion/criterion.h>

#include "../../../gateway/core/core_lc.c"

Test(core_lc, round_trip)
{
    core_lc_rule_t in[2] = {
        {.id = OG_STR_LIT("a rule\nwith %"), .prefix = OG_STR_LIT("logs/ x"), .tags = OG_STR_LIT("k=v&a%20b=c"),
         .enabled = 1, .has_gt = 1, .size_gt = 0, .exp_days = 3},
        {.id = OG_STR_LIT("old"), .prefix = OG_STR_LIT(""), .legacy = 1, .has_lt = 1, .size_lt = 99,
         .exp_date = 1893456000u, .abort_days = 7},
    };
    og_buf_t b = {0};
    core_lc_t lc;
    cr_assert_eq(core_lc_encode(in, 2, &b), 0);
    cr_assert_eq(core_lc_decode((og_str_t){b.buf, b.len}, &lc), 0);
    cr_assert_eq(lc.n, 2);
    cr_assert(og_str_eq(lc.rules[0].id, "a rule\nwith %"));
    cr_assert(og_str_eq(lc.rules[0].prefix, "logs/ x"));
    cr_assert(og_str_eq(lc.rules[0].tags, "k=v&a%20b=c"));
    cr_assert(lc.rules[0].enabled && !lc.rules[0].legacy && lc.rules[0].has_gt && !lc.rules[0].has_lt);
    cr_assert_eq(lc.rules[0].exp_days, 3);
    cr_assert(og_str_eq(lc.rules[1].id, "old") && lc.rules[1].prefix.len == 0 && lc.rules[1].legacy);
    cr_assert(!lc.rules[1].enabled && lc.rules[1].has_lt && lc.rules[1].size_lt == 99);
    cr_assert_eq(lc.rules[1].exp_date, 1893456000u);
    cr_assert_eq(lc.rules[1].abort_days, 7);
    core_lc_free(&lc);
    og_buf_free(&b);
}

Test(core_lc, refuses_what_it_did_not_write)
{
    core_lc_t lc;
    cr_assert_eq(core_lc_decode(OG_STR_LIT("2 E F a p  - - 1 - -\n"), &lc), OG_EPROTO);
    cr_assert_eq(core_lc_decode(OG_STR_LIT("1 E F a p  - - x - -\n"), &lc), OG_EPROTO);
    cr_assert_eq(core_lc_decode(OG_STR_LIT("1 E F a p\n"), &lc), OG_EPROTO);
    cr_assert_eq(core_lc_decode(OG_STR_LIT("1 E F a p  - - 1 - -"), &lc), OG_EPROTO); /* no newline */
    cr_assert_eq(core_lc_decode(OG_STR_LIT(""), &lc), 0);
    cr_assert_eq(lc.n, 0);
    core_lc_free(&lc);
}

Test(core_lc, due_times)
{
    core_lc_opts_t day = {.day_s = CORE_LC_DAY_S}, short_day = {.day_s = 2};
    core_lc_rule_t r = {.prefix = OG_STR_LIT("p/"), .enabled = 1, .exp_days = 3};
    uint64_t written = 1389781800; /* 2014-01-15 10:30 UTC */
    /* AWS's example: 3 days after 2014-01-15 10:30 is rounded up to 2014-01-19 00:00 UTC */
    cr_assert_eq(rule_due(&r, OG_STR_LIT("p/k"), written, 1, &day), 1390089600u);
    cr_assert_eq(rule_due(&r, OG_STR_LIT("p/k"), written, 1, &short_day), written + 6);
    cr_assert_eq(rule_due(&r, OG_STR_LIT("q/k"), written, 1, &day), UINT64_MAX);
    r.has_gt = 1, r.size_gt = 10;
    cr_assert_eq(rule_due(&r, OG_STR_LIT("p/k"), written, 10, &day), UINT64_MAX); /* strictly greater */
    cr_assert_neq(rule_due(&r, OG_STR_LIT("p/k"), written, 11, &day), UINT64_MAX);
    r.has_lt = 1, r.size_lt = 12;
    cr_assert_eq(rule_due(&r, OG_STR_LIT("p/k"), written, 12, &day), UINT64_MAX); /* strictly less */
    r.enabled = 0;
    cr_assert_eq(rule_due(&r, OG_STR_LIT("p/k"), written, 11, &day), UINT64_MAX);
}

Test(core_lc, tags_match_decoded)
{
    cr_assert_eq(tags_match(OG_STR_LIT("a=1&b=x%20y"), OG_STR_LIT("b=x+y&a=1&c=3")), 1);
    cr_assert_eq(tags_match(OG_STR_LIT("a=1&b=x%20y"), OG_STR_LIT("a=1")), 0);
    cr_assert_eq(tags_match(OG_STR_LIT("a=1"), OG_STR_LIT("a=2")), 0);
    cr_assert_eq(tags_match(OG_STR_LIT("a=1"), OG_STR_LIT("")), 0);
    cr_assert_eq(tags_match(OG_STR_LIT("a="), OG_STR_LIT("a")), 1); /* an empty value either way */
}
