/* libFuzzer target: the record decoders, what every gateway trusts a storage node to send back
 * (common/og_rec.c; gateway/core/core_meta.c object records, core_bucket.c bucket records and
 * core_hdrs_decode header lists).
 *
 * Input: encoded records laid back to back, as a node's list answer holds them, walked with
 * og_rec_frame_len. Each record is decoded as an object, a bucket and a header list. Properties
 * checked: a frame lies inside the input and decodes to slices inside it; an object record that
 * decodes encodes and decodes again to the same fields (the writer and reader agree on every
 * version of the format); a record re-encoded as version 2 decodes to the same record.
 *
 * Seeds are records produced by the code itself: run any fuzz_record binary with
 * FUZZ_WRITE_SEEDS=<dir> to write them (tests/fuzz/corpus/record holds its output). */
#include "core/core.h"
#include "fuzz.h"
#include "og_rec.h"

static int inside(og_str_t s, const uint8_t *data, size_t size)
{
    return s.len == 0 || ((const uint8_t *)s.base >= data && (const uint8_t *)s.base + s.len <= data + size);
}

static int str_same(og_str_t a, og_str_t b) { return a.len == b.len && (a.len == 0 || memcmp(a.base, b.base, a.len) == 0); }

static void check_meta_same(const core_meta_t *a, const core_meta_t *b)
{
    FUZZ_CHECK(a->size == b->size && memcmp(a->md5, b->md5, 16) == 0 && a->parts == b->parts &&
               a->mtime_ns == b->mtime_ns && a->delete_at == b->delete_at && a->flags == b->flags);
    /* Without flags the SLO fields mean nothing (every reader tests CORE_META_SLO) and the writer
     * leaves them out, so only a version 3 summary with flags keeps them. */
    if (a->flags != 0)
        FUZZ_CHECK(a->slo_size == b->slo_size && memcmp(a->slo_etag, b->slo_etag, 16) == 0);
    FUZZ_CHECK(str_same(a->content_type, b->content_type) && str_same(a->owner, b->owner));
    FUZZ_CHECK(a->num_headers == b->num_headers && a->num_chunks == b->num_chunks &&
               str_same(a->inline_data, b->inline_data));
    for (size_t i = 0; i < a->num_headers; i++)
        FUZZ_CHECK(str_same(a->headers[i].name, b->headers[i].name) && str_same(a->headers[i].value, b->headers[i].value));
    for (size_t i = 0; i < a->num_chunks; i++)
        FUZZ_CHECK(memcmp(&a->chunks[i].id, &b->chunks[i].id, 32) == 0 && a->chunks[i].len == b->chunks[i].len &&
                   a->chunks[i].xxh3 == b->chunks[i].xxh3);
}

/* decode(encode(m)) == m for a decoded object record (a summary-only record stays one). */
static void check_meta(const og_rec_t *rec)
{
    core_meta_t m, again;
    char *s, *d;
    size_t sl, dl;
    int rc = core_meta_decode(rec, &m);
    FUZZ_CHECK(rc == 0 || rc == OG_EPROTO || rc == -ENOMEM);
    if (rc != 0)
        return;
    FUZZ_CHECK(inside(m.content_type, (const uint8_t *)rec->summary.base, rec->summary.len));
    if (core_meta_encode(&m, &s, &sl, &d, &dl) == 0) {
        og_rec_t re = {.summary = {s, sl}, .detail = {d, rec->detail.len ? dl : 0}};
        FUZZ_CHECK(core_meta_decode(&re, &again) == 0);
        check_meta_same(&m, &again);
        core_meta_free(&again);
        free(s);
        free(d);
    }
    core_meta_free(&m);
}

static void check_bucket(const og_rec_t *rec)
{
    core_bucket_t b;
    og_header_t *h = NULL;
    size_t n, used;
    if (core_bucket_parse(rec, &b) == 0) {
        FUZZ_CHECK(strlen(b.owner) < sizeof(b.owner));
        core_bucket_free(&b);
    }
    if (core_hdrs_decode(rec->detail, &h, &n, &used) == 0) {
        FUZZ_CHECK(used <= rec->detail.len && (n == 0) == (h == NULL));
        free(h);
    }
}

/* One record: its frame, decode, re-encode as version 2. */
static void check_record(const uint8_t *data, size_t size, const uint8_t *p, size_t len)
{
    og_rec_t rec, again;
    if (og_rec_decode(p, len, &rec) != 0)
        return;
    FUZZ_CHECK(inside(rec.summary, data, size) && inside(rec.detail, data, size));
    char *buf = fuzz_dup(NULL, og_rec_encoded_len(&rec));
    long n = og_rec_encode(&rec, buf, og_rec_encoded_len(&rec));
    FUZZ_CHECK(n == (long)og_rec_encoded_len(&rec) && og_rec_decode(buf, (size_t)n, &again) == 0);
    FUZZ_CHECK(og_rec_cmp(&rec, &again) == 0 && rec.flags == again.flags && str_same(rec.summary, again.summary) &&
               str_same(rec.detail, again.detail) && (p[0] == 1 || rec.size == again.size));
    free(buf);
    check_meta(&rec);
    check_bucket(&rec);
}

static void write_seed(const char *dir, const char *name, const og_rec_t *rec)
{
    char path[4096], buf[1 << 16];
    long n = og_rec_encode(rec, buf, sizeof(buf));
    snprintf(path, sizeof(path), "%s/%s", dir, name);
    FILE *f = fopen(path, "wb");
    if (n < 0 || f == NULL || fwrite(buf, 1, (size_t)n, f) != (size_t)n)
        fprintf(stderr, "fuzz_record: cannot write %s\n", path);
    if (f != NULL)
        fclose(f);
}

static void write_meta_seed(const char *dir, const char *name, const core_meta_t *m, int with_detail)
{
    char *s, *d;
    size_t sl, dl;
    if (core_meta_encode(m, &s, &sl, &d, &dl) != 0)
        abort();
    og_rec_t rec = {.ts = 1700000000123456789ull, .tiebreak = 42, .size = m->size, .summary = {s, sl},
                    .detail = {d, with_detail ? dl : 0}};
    write_seed(dir, name, &rec);
    free(s);
    free(d);
}

/* The records Onggi writes: objects (inline, chunked, multipart, expiring, SLO), a listing
 * entry (summary only), a tombstone and a Swift container with metadata. */
static void write_seeds(const char *dir)
{
    og_header_t hdrs[] = {{OG_STR_LIT("x-amz-meta-color"), OG_STR_LIT("blue")},
                          {OG_STR_LIT("cache-control"), OG_STR_LIT("max-age=60")}};
    core_chunk_ref_t chunks[2] = {{.len = 1048576, .xxh3 = 0x0123456789abcdefull},
                                  {.len = 4096, .xxh3 = 0xfedcba9876543210ull}};
    memset(chunks[0].id, 0xa5, 32);
    memset(chunks[1].id, 0x5a, 32);
    core_meta_t m = {.size = 5, .mtime_ns = 1700000000123456789ull, .content_type = OG_STR_LIT("text/plain"),
                     .owner = OG_STR_LIT("dev"), .inline_data = OG_STR_LIT("hello")};
    memset(m.md5, 0x5d, 16);
    write_meta_seed(dir, "object_inline", &m, 1);
    write_meta_seed(dir, "listing_entry", &m, 0);
    m.inline_data = (og_str_t){0};
    m.size = 1052672, m.chunks = chunks, m.num_chunks = 2, m.headers = hdrs, m.num_headers = 2, m.parts = 2;
    write_meta_seed(dir, "object_multipart", &m, 1);
    m.parts = 0, m.delete_at = 1800000000;
    write_meta_seed(dir, "object_expiring", &m, 1);
    m.flags = CORE_META_SLO, m.slo_size = 5ull << 30, m.num_chunks = 0, m.num_headers = 0;
    m.inline_data = OG_STR_LIT("[{\"name\": \"/c/o\", \"bytes\": 5, \"hash\": \"h\"}]");
    memset(m.slo_etag, 0xab, 16);
    write_meta_seed(dir, "object_slo", &m, 1);
    og_rec_t tomb = {.flags = OG_REC_TOMBSTONE, .ts = 1700000000999999999ull, .tiebreak = 7};
    write_seed(dir, "tombstone", &tomb);
    unsigned char bucket[256], *p = bucket;
    const uint8_t head[] = {2, 0x17, 0x97, 0x9c, 0xfe, 0x36, 0x2a, 0x00, 0x00, 0, 3, 'd', 'e', 'v'};
    memcpy(p, head, sizeof(head));
    og_header_t meta[] = {{OG_STR_LIT("x-container-read"), OG_STR_LIT(".r:*,.rlistings")},
                          {OG_STR_LIT("x-container-meta-quota-bytes"), OG_STR_LIT("1000000")}};
    p = core_hdrs_encode(meta, 2, p + sizeof(head));
    og_rec_t b = {.ts = 1700000000000000000ull, .tiebreak = 1, .summary = {(char *)bucket, (size_t)(p - bucket)}};
    write_seed(dir, "bucket_swift", &b);
}

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
    const char *dir = getenv("FUZZ_WRITE_SEEDS");
    if (dir != NULL)
        write_seeds(dir);
    return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    size_t off = 0;
    while (off < size) {
        long n = og_rec_frame_len(data + off, size - off);
        if (n < 0) {
            check_record(data, size, data + off, size - off); /* the decoder refuses it too */
            break;
        }
        FUZZ_CHECK(n > 0 && (size_t)n <= size - off);
        check_record(data, size, data + off, (size_t)n);
        off += (size_t)n;
    }
    return 0;
}
