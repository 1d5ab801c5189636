/* libFuzzer target: Swift static large object manifests (gateway/core/core_slo.c), the JSON a
 * client PUTs with ?multipart-manifest=put and the stored form the gateway reads back on every
 * GET. core_slo.c is included to reach its static reader (as the unit tests do).
 *
 * Input: a manifest. It is parsed as a PUT body for the object photos/manifest with every check
 * that needs no lookup (build_parse: what core_slo_build runs before reading any segment), and as
 * a stored manifest. Properties checked: a parse answers a documented code; at most
 * CORE_SLO_MAX_SEGMENTS entries are kept; the problem list stays within its cap; a body refused
 * says why (refused set); every range an accepted segment names lies inside it. */
#include "fuzz.h"

#include "../../gateway/core/core_slo.c"

static void check_ranges(const manifest_t *mf)
{
    for (size_t i = 0; i < mf->n; i++) {
        const seg_t *sg = &mf->segs[i];
        uint64_t a = 0, b = 0;
        if (!sg->has_range)
            continue;
        uint64_t size = sg->has_size && sg->size >= 0 ? (uint64_t)sg->size : UINT64_MAX;
        if (seg_range(ms(mf, sg->range), sg->range_len, size, &a, &b) == 1)
            FUZZ_CHECK(a <= b && b < size);
    }
}

static void check_put(og_str_t body)
{
    core_slo_put_t out = {0};
    build_t bd = {.out = &out};
    int rc = build_parse(&bd, body, "photos", OG_STR_LIT("manifest"));
    FUZZ_CHECK(rc == 0 || rc == CORE_EMANIFEST || rc == -ENOMEM);
    FUZZ_CHECK((rc == CORE_EMANIFEST) == (out.refused != 0));
    FUZZ_CHECK(bd.mf.n <= CORE_SLO_MAX_SEGMENTS);
    FUZZ_CHECK(out.entry_errs.len <= ERRS_MAX + ERR_LINE_MAX);
    if (out.refused == CORE_SLO_BAD_ENTRIES)
        FUZZ_CHECK(out.entry_errs.len > 0);
    if (rc == 0)
        check_ranges(&bd.mf);
    manifest_free(&bd.mf);
    core_slo_put_free(&out);
}

static void check_stored(og_str_t body)
{
    manifest_t mf;
    og_buf_t errs = {0};
    int rc = manifest_parse(body, 1, &mf, &errs);
    FUZZ_CHECK(rc == 0 || rc == OG_ECORRUPT || rc == -ENOMEM);
    FUZZ_CHECK(errs.len == 0 && mf.n <= CORE_SLO_MAX_SEGMENTS);
    if (rc == 0)
        check_ranges(&mf);
    manifest_free(&mf);
    og_buf_free(&errs);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    og_str_t body = {(const char *)data, size};
    check_put(body);
    check_stored(body);
    return 0;
}
