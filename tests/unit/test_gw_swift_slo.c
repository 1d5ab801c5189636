/* Unit tests for the pure parts of Swift large objects: the SLO fields of the object summary
 * (gw_meta.c, version 3) and the manifest reader and segment ranges of gw_swift_slo.c, which is
 * included to reach its static functions (h2o's t/00unit style). */
#include <criterion/criterion.h>
#include <stdio.h>
#include <stdlib.h>

#include "../../gateway/gw_swift_slo.c"

static int roundtrip(const gw_meta_t *in, gw_meta_t *out, char **s, char **d)
{
    size_t sl, dl;
    int rc = gw_meta_encode(in, s, &sl, d, &dl);
    if (rc != 0)
        return rc;
    og_rec_t rec = {.summary = {*s, sl}, .detail = {*d, dl}};
    return gw_meta_decode(&rec, out);
}

Test(slo_meta, version3_round_trip_and_older_versions_unchanged)
{
    gw_meta_t m = {.size = 362,
                   .content_type = OG_STR_LIT("application/json"),
                   .owner = OG_STR_LIT("a"),
                   .flags = GW_META_SLO,
                   .slo_size = 5ull << 30},
              out;
    char *s, *d;
    memset(m.slo_etag, 0xab, 16);
    cr_assert_eq(roundtrip(&m, &out, &s, &d), 0);
    cr_assert_eq(s[0], 3);
    cr_assert_eq(out.flags, GW_META_SLO);
    cr_assert_eq(out.slo_size, 5ull << 30);
    cr_assert_eq(out.slo_etag[15], 0xab);
    cr_assert_eq(out.delete_at, 0);
    gw_meta_free(&out);
    free(s), free(d);
    /* A plain object keeps the version 1 bytes, one with an expiry version 2. */
    m.flags = 0, m.slo_size = 0;
    cr_assert_eq(roundtrip(&m, &out, &s, &d), 0);
    cr_assert_eq(s[0], 1);
    cr_assert_eq(out.flags, 0);
    gw_meta_free(&out);
    free(s), free(d);
    m.delete_at = 1700000000;
    cr_assert_eq(roundtrip(&m, &out, &s, &d), 0);
    cr_assert_eq(s[0], 2);
    cr_assert_eq(out.delete_at, 1700000000);
    gw_meta_free(&out);
    free(s), free(d);
}

static int parse(const char *json, int stored, manifest_t *mf, gw_xbuf_t *errs)
{
    return manifest_parse(og_str(json), stored, mf, errs);
}

Test(slo_manifest, put_body)
{
    manifest_t mf;
    gw_xbuf_t errs = {0};
    cr_assert_eq(parse("[{\"path\": \"/c/o\\u00e9\", \"etag\": null, \"size_bytes\": \"12\"},"
                       " {\"path\": \"c/p\", \"etag\": \"abc\", \"size_bytes\": 3, \"range\": \"-2\"}]",
                       0, &mf, &errs),
                 0);
    cr_assert_eq(errs.len, 0);
    cr_assert_eq(mf.n, 2);
    cr_assert_str_eq(ms(&mf, mf.segs[0].path), "/c/o\xc3\xa9");
    cr_assert(!mf.segs[0].has_etag);
    cr_assert_eq(mf.segs[0].size, 12);
    cr_assert_str_eq(ms(&mf, mf.segs[1].etag), "abc");
    cr_assert_str_eq(ms(&mf, mf.segs[1].range), "-2");
    manifest_free(&mf);

    cr_assert_eq(parse("{nope", 0, &mf, &errs), OG_EPROTO);
    manifest_free(&mf);
    cr_assert_eq(parse("{}", 0, &mf, &errs), OG_EINVAL);
    manifest_free(&mf);
    cr_assert_eq(parse("[1, {\"etag\": \"x\"}, {\"path\": 3}, {\"path\": \"/a/b\", \"x\": [1, {}]}]", 0, &mf, &errs),
                 0);
    gw_xbuf_put(&errs, "", 1);
    cr_assert_str_eq(errs.buf, "Index 0: not a JSON object\n"
                               "Index 1: expected keys to include one of 'path' or 'data'\n"
                               "Index 2: \"path\" must be a string\n"
                               "Index 3: extraneous keys \"x\"\n");
    cr_assert(mf.segs[0].bad && mf.segs[3].bad);
    manifest_free(&mf);
    gw_xbuf_free(&errs);
}

Test(slo_manifest, stored_form_is_strict)
{
    manifest_t mf;
    gw_xbuf_t errs = {0};
    cr_assert_eq(parse("[{\"name\": \"/c/o\", \"bytes\": 5, \"hash\": \"h\", \"content_type\": \"t\", "
                       "\"last_modified\": \"2026-01-01T00:00:00.000000\", \"range\": \"1-2\", \"sub_slo\": true}]",
                       1, &mf, &errs),
                 0);
    cr_assert(mf.segs[0].sub_slo && mf.segs[0].has_range && mf.segs[0].size == 5);
    manifest_free(&mf);
    cr_assert_eq(parse("[{\"path\": \"/c/o\"}]", 1, &mf, &errs), OG_ECORRUPT);
    manifest_free(&mf);
    cr_assert_eq(parse("[{\"name\": \"/c/o\", \"bytes\": \"5\"}]", 1, &mf, &errs), OG_ECORRUPT);
    manifest_free(&mf);
    cr_assert_eq(parse("[{\"name\": \"/c/o\"", 1, &mf, &errs), OG_ECORRUPT);
    manifest_free(&mf);
    gw_xbuf_free(&errs);
}

Test(slo_manifest, segment_ranges)
{
    uint64_t a, b;
    cr_assert_eq(seg_range("1-3", 3, 10, &a, &b), 1);
    cr_assert(a == 1 && b == 3);
    cr_assert_eq(seg_range("5-", 2, 10, &a, &b), 1);
    cr_assert(a == 5 && b == 9);
    cr_assert_eq(seg_range("-4", 2, 10, &a, &b), 1);
    cr_assert(a == 6 && b == 9);
    cr_assert_eq(seg_range("-40", 3, 10, &a, &b), 1);
    cr_assert(a == 0 && b == 9);
    cr_assert_eq(seg_range("2-100", 5, 10, &a, &b), 1);
    cr_assert(b == 9);
    cr_assert_eq(seg_range("10-20", 5, 10, &a, &b), 0);
    cr_assert_eq(seg_range("-0", 2, 10, &a, &b), 0);
    cr_assert_eq(seg_range("3-1", 3, 10, &a, &b), -1);
    cr_assert_eq(seg_range("1-2,4-5", 7, 10, &a, &b), -1);
    cr_assert_eq(seg_range("x", 1, 10, &a, &b), -1);
    cr_assert_eq(seg_range("-", 1, 10, &a, &b), -1);
}

Test(slo_manifest, dlo_header)
{
    cr_assert(gw_swift_dlo_valid(OG_STR_LIT("c/p")));
    cr_assert(!gw_swift_dlo_valid(OG_STR_LIT("c/")));
    cr_assert(!gw_swift_dlo_valid(OG_STR_LIT("/p")));
    cr_assert(!gw_swift_dlo_valid(OG_STR_LIT("c//p")));
    cr_assert(!gw_swift_dlo_valid(OG_STR_LIT("c/p?x")));
    cr_assert(!gw_swift_dlo_valid(OG_STR_LIT("noslash")));
}
