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
    cr_assert_eq(core_lc_decode(OG_STR_LIT("3 E F a p  - - 1 - -\n"), &lc), OG_EPROTO);
    cr_assert_eq(core_lc_decode(OG_STR_LIT("2 E F a p  - - 1 - -\n"), &lc), OG_EPROTO);       /* v2 is longer */
    cr_assert_eq(core_lc_decode(OG_STR_LIT("1 E F a p  - - 1 - - 1 - T\n"), &lc), OG_EPROTO); /* v1 is not */
    cr_assert_eq(core_lc_decode(OG_STR_LIT("2 E F a p  - - - - - 1 - X\n"), &lc), OG_EPROTO);
    cr_assert_eq(core_lc_decode(OG_STR_LIT("1 E F a p  - - x - -\n"), &lc), OG_EPROTO);
    cr_assert_eq(core_lc_decode(OG_STR_LIT("1 E F a p\n"), &lc), OG_EPROTO);
    cr_assert_eq(core_lc_decode(OG_STR_LIT("1 E F a p  - - 1 - -"), &lc), OG_EPROTO); /* no newline */
    cr_assert_eq(core_lc_decode(OG_STR_LIT(""), &lc), 0);
    cr_assert_eq(lc.n, 0);
    core_lc_free(&lc);
}

/* The version 1 lines gateways wrote before the versioned actions read as they did. */
Test(core_lc, reads_version_1_lines)
{
    core_lc_t lc;
    cr_assert_eq(core_lc_decode(OG_STR_LIT("1 E F logs logs%2F k=v - 99 30 - 7\n"), &lc), 0);
    cr_assert_eq(lc.n, 1);
    cr_assert(og_str_eq(lc.rules[0].id, "logs") && og_str_eq(lc.rules[0].prefix, "logs/"));
    cr_assert(og_str_eq(lc.rules[0].tags, "k=v") && lc.rules[0].has_lt && lc.rules[0].size_lt == 99);
    cr_assert(lc.rules[0].exp_days == 30 && lc.rules[0].abort_days == 7);
    cr_assert(lc.rules[0].ncv_days == 0 && lc.rules[0].ncv_newer == 0 && lc.rules[0].edm == 0);
    core_lc_free(&lc);
}

/* A rule with a versioned action is a version 2 line; one without stays a version 1 line. */
Test(core_lc, versioned_actions_round_trip)
{
    core_lc_rule_t in[3] = {
        {.id = OG_STR_LIT("nc"), .prefix = OG_STR_LIT("p/"), .enabled = 1, .ncv_days = 5, .ncv_newer = 2},
        {.id = OG_STR_LIT("dm"), .prefix = OG_STR_LIT(""), .enabled = 1, .edm = 1},
        {.id = OG_STR_LIT("plain"), .prefix = OG_STR_LIT(""), .exp_days = 1, .edm = 0},
    };
    og_buf_t b = {0};
    core_lc_t lc;
    cr_assert_eq(core_lc_encode(in, 3, &b), 0);
    const char *head = "2 E F nc p%2F  - - - - - 5 2 -\n2 E F dm   - - - - - - - T\n";
    cr_assert_eq(strncmp(b.buf, head, strlen(head)), 0, "%.*s", (int)b.len, b.buf);
    cr_assert(strstr(b.buf, "\n1 D F plain  ") != NULL);
    cr_assert_eq(core_lc_decode((og_str_t){b.buf, b.len}, &lc), 0);
    cr_assert_eq(lc.n, 3);
    cr_assert(lc.rules[0].ncv_days == 5 && lc.rules[0].ncv_newer == 2 && lc.rules[0].edm == 0);
    cr_assert(lc.rules[1].ncv_days == 0 && lc.rules[1].edm == 1);
    cr_assert(lc.rules[2].exp_days == 1 && lc.rules[2].edm == 0);
    core_lc_free(&lc);
    og_buf_free(&b);
}

static uint64_t due_of(const core_lc_rule_t *r, lc_kind_t kind, const char *key, uint64_t written_s, uint64_t size,
                       uint64_t since_s, uint32_t newer, const core_lc_opts_t *o)
{
    core_meta_t m = {.mtime_ns = written_s * 1000000000u, .size = size};
    lc_cand_t c = {kind, og_str(key), &m, since_s, newer};
    return rule_due(r, &c, o);
}

Test(core_lc, due_times)
{
    core_lc_opts_t day = {.day_s = CORE_LC_DAY_S}, short_day = {.day_s = 2};
    core_lc_rule_t r = {.prefix = OG_STR_LIT("p/"), .enabled = 1, .exp_days = 3};
    uint64_t written = 1389781800; /* 2014-01-15 10:30 UTC */
    /* AWS's example: 3 days after 2014-01-15 10:30 is rounded up to 2014-01-19 00:00 UTC */
    cr_assert_eq(due_of(&r, LC_CURRENT, "p/k", written, 1, 0, 0, &day), 1390089600u);
    cr_assert_eq(due_of(&r, LC_CURRENT, "p/k", written, 1, 0, 0, &short_day), written + 6);
    cr_assert_eq(due_of(&r, LC_CURRENT, "q/k", written, 1, 0, 0, &day), UINT64_MAX);
    r.has_gt = 1, r.size_gt = 10;
    cr_assert_eq(due_of(&r, LC_CURRENT, "p/k", written, 10, 0, 0, &day), UINT64_MAX); /* strictly greater */
    cr_assert_neq(due_of(&r, LC_CURRENT, "p/k", written, 11, 0, 0, &day), UINT64_MAX);
    r.has_lt = 1, r.size_lt = 12;
    cr_assert_eq(due_of(&r, LC_CURRENT, "p/k", written, 12, 0, 0, &day), UINT64_MAX); /* strictly less */
    r.enabled = 0;
    cr_assert_eq(due_of(&r, LC_CURRENT, "p/k", written, 11, 0, 0, &day), UINT64_MAX);
}

Test(core_lc, versioned_due_times)
{
    core_lc_opts_t day = {.day_s = CORE_LC_DAY_S}, short_day = {.day_s = 2};
    core_lc_rule_t nc = {.prefix = OG_STR_LIT(""), .enabled = 1, .ncv_days = 1, .ncv_newer = 2};
    uint64_t written = 1389781800, since = written + 100;
    /* counted from when it became noncurrent, not from its own write */
    cr_assert_eq(due_of(&nc, LC_NONCURRENT, "k", written, 1, since, 2, &short_day), since + 2);
    cr_assert_eq(due_of(&nc, LC_NONCURRENT, "k", written, 1, since, 2, &day), 1389916800u);
    /* the NewerNoncurrentVersions newest noncurrent versions stay */
    cr_assert_eq(due_of(&nc, LC_NONCURRENT, "k", written, 1, since, 1, &short_day), UINT64_MAX);
    /* nor does it touch current versions or markers */
    cr_assert_eq(due_of(&nc, LC_CURRENT, "k", written, 1, 0, 0, &short_day), UINT64_MAX);
    cr_assert_eq(due_of(&nc, LC_MARKER, "k", written, 0, 0, 0, &short_day), UINT64_MAX);
    core_lc_rule_t dm = {.prefix = OG_STR_LIT(""), .enabled = 1, .edm = 1};
    cr_assert_eq(due_of(&dm, LC_MARKER, "k", written, 0, 0, 0, &day), 0);
    cr_assert_eq(due_of(&dm, LC_NONCURRENT, "k", written, 0, since, 5, &day), UINT64_MAX);
    dm.edm = 0;
    cr_assert_eq(due_of(&dm, LC_MARKER, "k", written, 0, 0, 0, &day), UINT64_MAX);
    /* Expiration Days also removes a lone marker once it is that old */
    core_lc_rule_t days = {.prefix = OG_STR_LIT(""), .enabled = 1, .exp_days = 3};
    cr_assert_eq(due_of(&days, LC_MARKER, "k", written, 0, 0, 0, &short_day), written + 6);
}

Test(core_lc, tags_match_decoded)
{
    cr_assert_eq(tags_match(OG_STR_LIT("a=1&b=x%20y"), OG_STR_LIT("b=x+y&a=1&c=3")), 1);
    cr_assert_eq(tags_match(OG_STR_LIT("a=1&b=x%20y"), OG_STR_LIT("a=1")), 0);
    cr_assert_eq(tags_match(OG_STR_LIT("a=1"), OG_STR_LIT("a=2")), 0);
    cr_assert_eq(tags_match(OG_STR_LIT("a=1"), OG_STR_LIT("")), 0);
    cr_assert_eq(tags_match(OG_STR_LIT("a="), OG_STR_LIT("a")), 1); /* an empty value either way */
}
