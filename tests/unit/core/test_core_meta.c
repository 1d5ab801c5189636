#include <criterion/criterion.h>
#include <stdio.h>
#include <stdlib.h>

#include "core/core.h"

Test(core_hdrs, codec)
{
    og_header_t in[] = {{OG_STR_LIT("x-container-meta-a"), OG_STR_LIT("1")}, {OG_STR_LIT("x-container-read"),
                                                                              OG_STR_LIT(".r:*")}};
    size_t len = core_hdrs_encoded_len(in, 2), n, used;
    unsigned char buf[128];
    og_header_t *out;
    cr_assert_eq(core_hdrs_encode(in, 2, buf) - buf, (long)len);
    cr_assert_eq(core_hdrs_decode((og_str_t){(char *)buf, len}, &out, &n, &used), 0);
    cr_assert_eq(n, 2);
    cr_assert_eq(used, len);
    cr_assert(og_str_eq(out[1].value, ".r:*"));
    free(out);
    /* truncated input and an impossible count */
    cr_assert_eq(core_hdrs_decode((og_str_t){(char *)buf, len - 1}, &out, &n, &used), OG_EPROTO);
    unsigned char huge[2] = {0xff, 0xff};
    cr_assert_eq(core_hdrs_decode((og_str_t){(char *)huge, 2}, &out, &n, &used), OG_EPROTO);
}

Test(core_meta, delete_at_round_trip)
{
    core_meta_t m = {.size = 3, .content_type = OG_STR_LIT("text/plain"), .owner = OG_STR_LIT("a"), .delete_at = 77};
    char *s, *d;
    size_t sl, dl;
    cr_assert_eq(core_meta_encode(&m, &s, &sl, &d, &dl), 0);
    og_rec_t rec = {.summary = {s, sl}};
    core_meta_t back;
    cr_assert_eq(core_meta_decode(&rec, &back), 0);
    cr_assert_eq(back.delete_at, 77);
    cr_assert(core_meta_expired(&back, 77));
    cr_assert(!core_meta_expired(&back, 76));
    core_meta_free(&back);
    free(s);
    free(d);
    /* without an expiry the summary keeps version 1 (what S3 always wrote) */
    m.delete_at = 0;
    cr_assert_eq(core_meta_encode(&m, &s, &sl, &d, &dl), 0);
    cr_assert_eq(s[0], 1);
    rec.summary = (og_str_t){s, sl};
    cr_assert_eq(core_meta_decode(&rec, &back), 0);
    cr_assert(!core_meta_expired(&back, UINT64_MAX));
    core_meta_free(&back);
    free(s);
    free(d);
}

Test(core_meta, encrypted_round_trip_and_old_records)
{
    core_chunk_ref_t ch = {.id = {1}, .len = 100, .xxh3 = 5};
    core_meta_t m = {.size = 72, .content_type = OG_STR_LIT("a/b"), .owner = OG_STR_LIT("o"), .chunks = &ch,
                     .num_chunks = 1, .flags = CORE_META_SSE_C, .sse = OG_STR_LIT("salt-and-check")};
    char *s, *d;
    size_t sl, dl;
    cr_assert_eq(core_meta_encode(&m, &s, &sl, &d, &dl), 0);
    cr_assert_eq(s[0], 3);
    og_rec_t rec = {.summary = {s, sl}, .detail = {d, dl}};
    core_meta_t back;
    cr_assert_eq(core_meta_decode(&rec, &back), 0);
    cr_assert_eq(back.flags, CORE_META_SSE_C);
    cr_assert(og_str_eq(back.sse, "salt-and-check"));
    cr_assert_eq(back.num_chunks, 1);
    cr_assert_eq(back.chunks[0].len, 100);
    core_meta_free(&back);
    /* a detail cut before its key material does not decode */
    rec.detail.len--;
    cr_assert_eq(core_meta_decode(&rec, &back), OG_EPROTO);
    free(s);
    free(d);
    /* without a flag nothing is appended: a record as every earlier one */
    m.flags = 0;
    cr_assert_eq(core_meta_encode(&m, &s, &sl, &d, &dl), 0);
    cr_assert_eq(s[0], 1);
    cr_assert_eq(dl, 2 + 4 + 44 + 4);
    rec = (og_rec_t){.summary = {s, sl}, .detail = {d, dl}};
    cr_assert_eq(core_meta_decode(&rec, &back), 0);
    cr_assert_eq(back.sse.len, 0);
    core_meta_free(&back);
    free(s);
    free(d);
}
