/* Unit tests for the pure parts of large objects: the SLO fields of the object summary
 * (core_meta.c, version 3), the manifest reader, segment ranges and sub-manifest cache of
 * core_slo.c, which is included to reach its static functions (h2o's t/00unit style), and the
 * X-Object-Manifest check of core_dlo.c. */
#include <criterion/criterion.h>
#include <stdio.h>
#include <stdlib.h>

#include "../../../gateway/core/core_slo.c"

static int roundtrip(const core_meta_t *in, core_meta_t *out, char **s, char **d)
{
    size_t sl, dl;
    int rc = core_meta_encode(in, s, &sl, d, &dl);
    if (rc != 0)
        return rc;
    og_rec_t rec = {.summary = {*s, sl}, .detail = {*d, dl}};
    return core_meta_decode(&rec, out);
}

Test(slo_meta, version3_round_trip_and_older_versions_unchanged)
{
    core_meta_t m = {.size = 362,
                   .content_type = OG_STR_LIT("application/json"),
                   .owner = OG_STR_LIT("a"),
                   .flags = CORE_META_SLO,
                   .slo_size = 5ull << 30},
              out;
    char *s, *d;
    memset(m.slo_etag, 0xab, 16);
    cr_assert_eq(roundtrip(&m, &out, &s, &d), 0);
    cr_assert_eq(s[0], 3);
    cr_assert_eq(out.flags, CORE_META_SLO);
    cr_assert_eq(out.slo_size, 5ull << 30);
    cr_assert_eq(out.slo_etag[15], 0xab);
    cr_assert_eq(out.delete_at, 0);
    core_meta_free(&out);
    free(s), free(d);
    /* A plain object keeps the version 1 bytes, one with an expiry version 2. */
    m.flags = 0, m.slo_size = 0;
    cr_assert_eq(roundtrip(&m, &out, &s, &d), 0);
    cr_assert_eq(s[0], 1);
    cr_assert_eq(out.flags, 0);
    core_meta_free(&out);
    free(s), free(d);
    m.delete_at = 1700000000;
    cr_assert_eq(roundtrip(&m, &out, &s, &d), 0);
    cr_assert_eq(s[0], 2);
    cr_assert_eq(out.delete_at, 1700000000);
    core_meta_free(&out);
    free(s), free(d);
}

static int parse(const char *json, int stored, manifest_t *mf, og_buf_t *errs)
{
    return manifest_parse(og_str(json), stored, mf, errs);
}

Test(slo_manifest, put_body)
{
    manifest_t mf;
    og_buf_t errs = {0};
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
    og_buf_put(&errs, "", 1);
    cr_assert_str_eq(errs.buf, "Index 0: not a JSON object\n"
                               "Index 1: expected keys to include one of 'path' or 'data'\n"
                               "Index 2: \"path\" must be a string\n"
                               "Index 3: extraneous keys \"x\"\n");
    cr_assert(mf.segs[0].bad && mf.segs[3].bad);
    manifest_free(&mf);
    og_buf_free(&errs);
}

Test(slo_manifest, stored_form_is_strict)
{
    manifest_t mf;
    og_buf_t errs = {0};
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
    og_buf_free(&errs);
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
    cr_assert(core_dlo_valid(OG_STR_LIT("c/p")));
    cr_assert(!core_dlo_valid(OG_STR_LIT("c/")));
    cr_assert(!core_dlo_valid(OG_STR_LIT("/p")));
    cr_assert(!core_dlo_valid(OG_STR_LIT("c//p")));
    cr_assert(!core_dlo_valid(OG_STR_LIT("c/p?x")));
    cr_assert(!core_dlo_valid(OG_STR_LIT("noslash")));
}

/* A hostile PUT body of 8 MiB of "1," used to cost an entry and an error line per element (~0.5 GiB):
 * the parse now stops at the first entry past the segment limit, and the error lines are capped. */
Test(slo_manifest, too_many_entries_stop_the_parse)
{
    size_t n = CORE_SLO_MAX_MANIFEST / 2 - 1;
    char *body = malloc(2 * n + 2);
    manifest_t mf;
    og_buf_t errs = {0};
    cr_assert_not_null(body);
    body[0] = '[';
    for (size_t i = 0; i < n; i++)
        memcpy(body + 1 + 2 * i, "1,", 2);
    body[2 * n] = ']';
    body[2 * n + 1] = '\0';
    cr_assert_eq(manifest_parse((og_str_t){body, 2 * n + 1}, 0, &mf, &errs), OG_ETOOBIG);
    cr_assert_leq(mf.n, CORE_SLO_MAX_SEGMENTS);
    cr_assert_leq(mf.cap, 2 * CORE_SLO_MAX_SEGMENTS);
    cr_assert_leq(errs.len, ERRS_MAX + ERR_LINE_MAX);
    manifest_free(&mf);
    og_buf_free(&errs);
    /* A stored manifest that long is not one of ours. */
    cr_assert_eq(manifest_parse((og_str_t){body, 2 * n + 1}, 1, &mf, &errs), OG_ECORRUPT);
    manifest_free(&mf);
    og_buf_free(&errs);
    /* Exactly the limit parses (each entry reported), still with bounded error text. */
    body[2 * CORE_SLO_MAX_SEGMENTS] = ']';
    cr_assert_eq(manifest_parse((og_str_t){body, 2 * CORE_SLO_MAX_SEGMENTS + 1}, 0, &mf, &errs), 0);
    cr_assert_eq(mf.n, CORE_SLO_MAX_SEGMENTS);
    cr_assert_gt(errs.len, 0);
    cr_assert_leq(errs.len, ERRS_MAX + ERR_LINE_MAX);
    manifest_free(&mf);
    og_buf_free(&errs);
    free(body);
}

Test(slo_manifest, error_text_is_capped)
{
    /* 1000 entries, each with 200 extraneous keys: every line is cut, and the whole text too. */
    og_buf_t b = {0}, errs = {0};
    manifest_t mf;
    og_buf_puts(&b, "[");
    for (int i = 0; i < CORE_SLO_MAX_SEGMENTS; i++) {
        og_buf_puts(&b, i ? ", {\"path\": \"/c/o\"" : "{\"path\": \"/c/o\"");
        for (int k = 0; k < 200; k++)
            og_buf_printf(&b, ", \"extra-key-%03d\": 1", k);
        og_buf_puts(&b, "}");
    }
    og_buf_puts(&b, "]");
    cr_assert(!b.oom);
    cr_assert_eq(manifest_parse((og_str_t){b.buf, b.len}, 0, &mf, &errs), 0);
    cr_assert_leq(errs.len, ERRS_MAX + ERR_LINE_MAX);
    cr_assert_eq(memcmp(errs.buf, "Index 0: extraneous keys \"extra-key-000\", ", 42), 0);
    cr_assert_eq(errs.buf[errs.len - 1], '\n');
    manifest_free(&mf);
    og_buf_free(&errs);
    og_buf_free(&b);
}

/* The value a manifest entry gets from JSON text s. jansson refuses integers past long long (the
 * whole manifest is then not valid JSON): such a text is a refused number here, never a wrapped
 * small one. */
static jv_t number(const char *s)
{
    og_buf_t arena = {0};
    jv_t v = {.kind = JV_NUM};
    json_t *x = json_loads(s, JSON_DECODE_ANY, NULL);
    if (x != NULL) {
        jv_from(x, &arena, &v);
        json_decref(x);
    }
    og_buf_free(&arena);
    return v;
}

Test(slo_manifest, numbers_out_of_range)
{
    cr_assert(!number("20000000000000000000").num_ok); /* used to wrap to a small value */
    cr_assert(!number("18446744073709551616").num_ok);
    cr_assert(!number("-9223372036854775808").num_ok); /* negating it was UB (UBSan aborts) */
    cr_assert(!number("-99999999999999999999999").num_ok);
    jv_t v = number("9223372036854775807");
    cr_assert(v.num_ok && v.num == INT64_MAX);
    v = number("-9223372036854775807");
    cr_assert(v.num_ok && v.num == -INT64_MAX);
    v = number("1000");
    cr_assert(v.num_ok && v.num == 1000);
    cr_assert(!number("1.5").num_ok);
    cr_assert(!number("1e3").num_ok);
}

/* A stored manifest of one segment whose name is name_len bytes long. */
static void small_manifest(manifest_t *mf, size_t name_len)
{
    og_buf_t b = {0}, errs = {0};
    og_buf_puts(&b, "[{\"name\": \"/c/");
    for (size_t i = 0; i < name_len; i++)
        og_buf_put(&b, "x", 1);
    og_buf_puts(&b, "\", \"bytes\": 1, \"hash\": \"h\"}]");
    cr_assert_eq(manifest_parse((og_str_t){b.buf, b.len}, 1, mf, &errs), 0);
    og_buf_free(&b);
    og_buf_free(&errs);
}

/* The per-request sub-manifest cache: a repeated sub-SLO is parsed once; pinned entries (the frames
 * of a nested read) survive; the unpinned rest stays within its slot and byte bounds. */
Test(slo_cache, hits_pins_and_bounds)
{
    mcache_t mc = {0};
    uint8_t id[16] = {0};
    manifest_t mf;
    mc_ent_t *pinned[CORE_SLO_MAX_DEPTH];
    /* What a read of 1000 entries naming the same sub-SLO does: one load, then hits. */
    small_manifest(&mf, 10);
    mc_ent_t *e = mc_insert(&mc, id, &mf);
    cr_assert_not_null(e);
    mc_unpin(e);
    for (int i = 0; i < 1000; i++) {
        mc_ent_t *hit = mc_find(&mc, id);
        cr_assert_eq(hit, e);
        mc_unpin(hit);
    }
    /* Nested frames pin up to the depth limit; 40 more manifests come and go around them. */
    for (int d = 0; d < CORE_SLO_MAX_DEPTH; d++) {
        id[0] = (uint8_t)(100 + d);
        small_manifest(&mf, 10);
        cr_assert_not_null(pinned[d] = mc_insert(&mc, id, &mf));
    }
    for (int i = 0; i < 40; i++) {
        id[0] = (uint8_t)(200 + i);
        small_manifest(&mf, 1u << 20); /* ~1 MiB each: the byte bound evicts */
        cr_assert_not_null(e = mc_insert(&mc, id, &mf));
        mc_unpin(e);
        cr_assert_leq(mc.bytes, MCACHE_BYTES);
    }
    for (int d = 0; d < CORE_SLO_MAX_DEPTH; d++) {
        id[0] = (uint8_t)(100 + d);
        cr_assert_eq(mc_find(&mc, id), pinned[d]);
        mc_unpin(pinned[d]);
        mc_unpin(pinned[d]);
    }
    id[0] = 0;
    cr_assert_null(mc_find(&mc, id)); /* the unpinned first one was evicted by then */
    mc_free(&mc);
}

/* The checks of a manifest PUT that need no lookups, with Swift's messages, in entry order. */
Test(slo_put, lookup_free_checks)
{
    manifest_t mf;
    og_buf_t errs = {0};
    cr_assert_eq(parse("[{\"path\": \"noslash\"}, {\"path\": \"/c/a\", \"size_bytes\": 0}, {\"path\": \"/c/self\"},"
                       " {\"path\": \"/c/r\", \"range\": \"1-2,3-4\"}, {\"path\": \"/c/r\", \"range\": \"x\"},"
                       " {\"path\": \"/c/r\", \"size_bytes\": 2, \"range\": \"5-\"},"
                       " {\"path\": \"c/ok\", \"range\": \"-3\"},"
                       " {\"path\": \"/c/last\", \"size_bytes\": 0}]",
                       0, &mf, &errs),
                 0);
    for (size_t i = 0; i < mf.n; i++)
        entry_check(&mf, i, "c", OG_STR_LIT("self"), &errs);
    og_buf_put(&errs, "", 1);
    cr_assert_str_eq(errs.buf, "Index 0: path does not refer to an object. Path must be of the form "
                               "/container/object.\n"
                               "Index 1: too small; each segment must be at least 1 byte.\n"
                               "Index 2: manifest must not include itself as a segment\n"
                               "Index 3: multiple ranges (only one allowed)\n"
                               "Index 4: invalid range\n"
                               "Index 5: unsatisfiable range\n");
    cr_assert(!mf.segs[6].bad && !mf.segs[7].bad);
    manifest_free(&mf);
    og_buf_free(&errs);
}

/* Problem lists keep their order and copy the paths (the manifest they came from is freed first). */
Test(slo_put, problem_list)
{
    core_lo_problems_t p = {0};
    char path[] = "/c/o1";
    problems_add(&p, og_str(path), OG_ENOTFOUND, NULL);
    path[4] = '2';
    problems_add(&p, og_str(path), 0, "Size Mismatch");
    cr_assert_eq(p.n, 2);
    og_str_t a = core_lo_problem_path(&p, 0), b = core_lo_problem_path(&p, 1);
    cr_assert(a.len == 5 && memcmp(a.base, "/c/o1", 5) == 0);
    cr_assert(b.len == 5 && memcmp(b.base, "/c/o2", 5) == 0);
    cr_assert(p.v[0].rc == OG_ENOTFOUND && p.v[0].why == NULL);
    cr_assert(p.v[1].rc == 0 && strcmp(p.v[1].why, "Size Mismatch") == 0);
    problems_free(&p);
}

/* jansson builds the whole tree: a body of more values than SLO_VALUES_MAX is refused before the
 * parse (as too many segments), one just within it is parsed. */
Test(slo_manifest, value_budget_bounds_the_tree)
{
    og_buf_t b = {0}, errs = {0};
    manifest_t mf;
    og_buf_puts(&b, "[{\"path\": \"/c/o\", \"x\": [");
    for (size_t i = 0; i < SLO_VALUES_MAX; i++) /* with the '[' '{' '[' before: one too many */
        og_buf_puts(&b, "1,");
    og_buf_puts(&b, "1]}]");
    cr_assert(!b.oom);
    cr_assert_eq(manifest_parse((og_str_t){b.buf, b.len}, 0, &mf, &errs), OG_ETOOBIG);
    manifest_free(&mf);
    b.len -= 4 + 2 * 4; /* drop four values: within the budget */
    og_buf_puts(&b, "1]}]");
    cr_assert_eq(manifest_parse((og_str_t){b.buf, b.len}, 0, &mf, &errs), 0);
    cr_assert_eq(mf.n, 1);
    manifest_free(&mf);
    og_buf_free(&errs);
    og_buf_free(&b);
}

/* Invalid UTF-8 is not JSON (Swift's json.loads fails the same way), and commas in strings are
 * not values. */
Test(slo_manifest, invalid_utf8_and_strings)
{
    og_buf_t errs = {0};
    manifest_t mf;
    const char bad[] = "[{\"path\": \"/c/\xff\xfe\"}]";
    cr_assert_eq(manifest_parse(og_str(bad), 0, &mf, &errs), OG_EPROTO);
    manifest_free(&mf);
    const char *ok = "[{\"path\": \"/c/a,b[c{d\\\"e,\", \"size_bytes\": null, \"etag\": null}]";
    cr_assert(json_small_enough(og_str(ok), 4)); /* [ { and the two commas between keys */
    cr_assert(!json_small_enough(og_str(ok), 3));
    cr_assert_eq(manifest_parse(og_str(ok), 0, &mf, &errs), 0);
    cr_assert_eq(mf.n, 1);
    cr_assert_str_eq(ms(&mf, mf.segs[0].path), "/c/a,b[c{d\"e,");
    manifest_free(&mf);
    og_buf_free(&errs);
}
