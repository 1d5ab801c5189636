/*
 * test_cdc.c: the FastCDC chunker of common/og_cdc.h: the committed gear table and a golden
 * cut list (the on-disk contract), cuts independent of how the stream is split, chunk size
 * bounds and mean, locality of edits, and a throughput print (no timed assertion).
 *
 * Includes the .c (h2o style) to compare the static gear table with its generator; the
 * archive copy of og_cdc.o is then never pulled in, so nothing is defined twice.
 */
#include "og_cdc.c"

#include <criterion/criterion.h>
#include <stdio.h>
#include <stdlib.h>
#include <time.h>
#include <xxhash.h>

#define MiB (1u << 20)
#define KiB (1u << 10)

static uint64_t splitmix64(uint64_t *s)
{
    uint64_t z = (*s += 0x9e3779b97f4a7c15ull);
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
    return z ^ (z >> 31);
}

/* n pseudo-random bytes from seed, in a buffer the caller frees. */
static uint8_t *random_buf(size_t n, uint64_t seed)
{
    uint8_t *b = malloc(n);
    cr_assert_not_null(b);
    for (size_t i = 0; i < n; i += 8) {
        uint64_t v = splitmix64(&seed);
        memcpy(b + i, &v, n - i < 8 ? n - i : 8);
    }
    return b;
}

/* How the stream is cut into pieces for og_cdc_scan(): whole = one piece of everything. */
typedef struct {
    int whole;
    uint64_t rng;
} pieces_t;

static size_t next_piece(pieces_t *p, size_t left)
{
    size_t n;
    if (p->whole)
        return left;
    /* Mostly socket-like reads up to 1 MiB, but also empty and tiny pieces, so that pieces
     * end inside the skipped prefix, inside either mask region and right at a cut. */
    switch (splitmix64(&p->rng) % 4) {
    case 0:
        n = splitmix64(&p->rng) % 3;
        break;
    case 1:
        n = splitmix64(&p->rng) % 4096;
        break;
    default:
        n = 1 + splitmix64(&p->rng) % MiB;
        break;
    }
    return n < left ? n : left;
}

/* Chunks b[0..n) and stores each chunk's end offset in cuts (the last one is n when n > 0).
 * Returns the number of chunks. */
static size_t chunk_all(uint32_t min, uint32_t avg, uint32_t max, const uint8_t *b, size_t n, pieces_t *how,
                        size_t *cuts, size_t cap)
{
    og_cdc_t c;
    size_t off = 0, nc = 0;
    cr_assert_eq(og_cdc_init(&c, min, avg, max), 0);
    while (off < n) {
        size_t piece = next_piece(how, n - off), done = 0;
        int boundary = -1;
        if (piece == 0) {
            cr_assert_eq(og_cdc_scan(&c, b + off, 0, &boundary), 0);
            cr_assert_eq(boundary, 0);
        }
        while (done < piece) {
            size_t r = og_cdc_scan(&c, b + off + done, piece - done, &boundary);
            cr_assert(r >= 1 && r <= piece - done);
            cr_assert(boundary == 0 || boundary == 1);
            cr_assert(boundary || r == piece - done, "no boundary but only %zu of %zu consumed", r, piece - done);
            done += r;
            if (boundary) {
                cr_assert_lt(nc, cap);
                cuts[nc++] = off + done;
            }
        }
        off += piece;
    }
    if (n > 0 && (nc == 0 || cuts[nc - 1] != n)) {
        cr_assert_lt(nc, cap);
        cuts[nc++] = n;
    }
    return nc;
}

Test(cdc, gear_table_is_splitmix64_of_fixed_seed)
{
    uint64_t s = 0x4f6e676769434443ull;
    for (size_t i = 0; i < 256; i++)
        cr_assert_eq(og_cdc_gear[i], splitmix64(&s), "gear[%zu] drifted", i);
}

/* The on-disk contract: these cuts (count, first three, XXH3-64 of all end offsets as
 * little-endian u64) were recorded when the chunker was written and agree with an
 * independent, non-streaming Python FastCDC. If this test fails, stored objects stop
 * deduplicating against new uploads: fix the code, not the test. */
Test(cdc, golden_cuts)
{
    enum { N = 8 * MiB, CAP = 2048 };
    uint8_t *b = random_buf(N, 42);
    size_t cuts[CAP];
    pieces_t whole = {1, 0};
    size_t nc = chunk_all(16 * KiB, 64 * KiB, 256 * KiB, b, N, &whole, cuts, CAP);
    uint64_t list[CAP];
    for (size_t i = 0; i < nc; i++)
        list[i] = cuts[i];
    cr_assert_eq(nc, 109);
    cr_assert_eq(cuts[0], 70167);
    cr_assert_eq(cuts[1], 153108);
    cr_assert_eq(cuts[2], 240757);
    cr_assert_eq(XXH3_64bits(list, nc * sizeof list[0]), 0x1d4531a8d5f57fadull);
    free(b);
}

Test(cdc, init_rejects_bad_sizes)
{
    og_cdc_t c;
    cr_assert_eq(og_cdc_init(&c, 1000, 3000, 9000), OG_EINVAL);             /* avg not a power of two */
    cr_assert_eq(og_cdc_init(&c, 10, 128, 512), OG_EINVAL);                 /* avg too small */
    cr_assert_eq(og_cdc_init(&c, 1, 1u << 31, UINT32_MAX), OG_EINVAL);      /* avg too large */
    cr_assert_eq(og_cdc_init(&c, 64 * KiB, 64 * KiB, MiB), OG_EINVAL);      /* min == avg */
    cr_assert_eq(og_cdc_init(&c, 16 * KiB, 64 * KiB, 64 * KiB), OG_EINVAL); /* max == avg */
    cr_assert_eq(og_cdc_init(&c, OG_CDC_MIN, OG_CDC_AVG, OG_CDC_MAX), 0);
    cr_assert_eq(og_cdc_init(&c, 0, 256, 257), 0);
}

Test(cdc, cuts_do_not_depend_on_piece_sizes)
{
    enum { N = 16 * MiB, CAP = 4096 };
    static const uint32_t sizes[][3] = {{4 * KiB, 16 * KiB, 64 * KiB}, {OG_CDC_MIN, OG_CDC_AVG, OG_CDC_MAX}};
    uint8_t *b = random_buf(N, 7);
    static size_t ref[CAP], got[CAP];
    for (size_t s = 0; s < 2; s++) {
        pieces_t whole = {1, 0};
        size_t nref = chunk_all(sizes[s][0], sizes[s][1], sizes[s][2], b, N, &whole, ref, CAP);
        cr_assert_gt(nref, 4);
        for (uint64_t seed = 1; seed <= 4; seed++) {
            pieces_t rnd = {0, seed};
            size_t ngot = chunk_all(sizes[s][0], sizes[s][1], sizes[s][2], b, N, &rnd, got, CAP);
            cr_assert_eq(ngot, nref, "avg %u seed %llu", sizes[s][1], (unsigned long long)seed);
            cr_assert_arr_eq(got, ref, nref * sizeof ref[0], "avg %u seed %llu", sizes[s][1], (unsigned long long)seed);
        }
    }
    free(b);
}

Test(cdc, boundary_at_the_end_of_a_piece_and_reset)
{
    enum { N = 4 * MiB, CAP = 256 };
    uint8_t *b = random_buf(N, 9);
    size_t cuts[CAP];
    og_cdc_t c;
    int boundary;
    pieces_t whole = {1, 0};
    cr_assert_gt(chunk_all(16 * KiB, 64 * KiB, 256 * KiB, b, N, &whole, cuts, CAP), 2);
    /* A piece that ends exactly at a cut is consumed whole and still reports the boundary. */
    cr_assert_eq(og_cdc_init(&c, 16 * KiB, 64 * KiB, 256 * KiB), 0);
    cr_assert_eq(og_cdc_scan(&c, b, cuts[0], &boundary), cuts[0]);
    cr_assert_eq(boundary, 1);
    cr_assert_eq(og_cdc_scan(&c, b + cuts[0], 0, &boundary), 0);
    cr_assert_eq(boundary, 0);
    cr_assert_eq(og_cdc_scan(&c, b + cuts[0], N - cuts[0], &boundary), cuts[1] - cuts[0]);
    cr_assert_eq(boundary, 1);
    /* Abandoning a chunk half-way: after reset the stream restarts from scratch. */
    cr_assert_eq(og_cdc_scan(&c, b + cuts[1], 100, &boundary), 100);
    cr_assert_eq(boundary, 0);
    og_cdc_reset(&c);
    cr_assert_eq(og_cdc_scan(&c, b, N, &boundary), cuts[0]);
    cr_assert_eq(boundary, 1);
    free(b);
}

Test(cdc, chunk_sizes_within_bounds)
{
    enum { N = 32 * MiB, CAP = 8192 };
    static const uint32_t sizes[][3] = {
        {4 * KiB, 16 * KiB, 64 * KiB}, {1 * KiB, 64 * KiB, 80 * KiB}, {OG_CDC_MIN, OG_CDC_AVG, OG_CDC_MAX}};
    uint8_t *b = random_buf(N - 12345, 11); /* an odd length: the last chunk is short */
    static size_t cuts[CAP];
    size_t nmax = 0;
    for (size_t s = 0; s < 3; s++) {
        pieces_t rnd = {0, s + 100};
        size_t nc = chunk_all(sizes[s][0], sizes[s][1], sizes[s][2], b, N - 12345, &rnd, cuts, CAP);
        for (size_t i = 0; i + 1 < nc; i++) {
            size_t len = cuts[i] - (i ? cuts[i - 1] : 0);
            cr_assert(len > sizes[s][0] && len <= sizes[s][2], "chunk %zu of %zu bytes, avg %u", i, len, sizes[s][1]);
            nmax += len == sizes[s][2];
        }
        cr_assert_leq(cuts[nc - 1] - (nc > 1 ? cuts[nc - 2] : 0), sizes[s][2]);
    }
    /* avg 64 KiB with max 80 KiB forces many cuts at max: the forced path is exercised. */
    cr_assert_gt(nmax, 10);
    free(b);
}

Test(cdc, constant_data_cuts_at_max)
{
    enum { N = 20 * MiB + 5, CAP = 64 };
    uint8_t *b = calloc(1, N);
    size_t cuts[CAP];
    pieces_t rnd = {0, 5};
    cr_assert_not_null(b);
    size_t nc = chunk_all(OG_CDC_MIN, OG_CDC_AVG, OG_CDC_MAX, b, N, &rnd, cuts, CAP);
    cr_assert_eq(nc, N / OG_CDC_MAX + 1);
    for (size_t i = 0; i + 1 < nc; i++)
        cr_assert_eq(cuts[i], (i + 1) * (size_t)OG_CDC_MAX);
    free(b);
}

Test(cdc, mean_chunk_size_near_avg)
{
    enum { N = 128 * MiB, CAP = 8192 };
    static const uint32_t avgs[] = {64 * KiB, 256 * KiB, MiB, 2 * MiB};
    uint8_t *b = random_buf(N, 13);
    static size_t cuts[CAP];
    for (size_t s = 0; s < sizeof avgs / sizeof avgs[0]; s++) {
        pieces_t whole = {1, 0};
        size_t nc = chunk_all(avgs[s] / 4, avgs[s], avgs[s] * 4, b, N, &whole, cuts, CAP);
        /* The last, partial chunk would bias small counts: average over whole chunks. */
        double mean = (double)cuts[nc - 2] / (double)(nc - 1);
        cr_log_info("avg %u: %zu chunks, mean %.0f (%.3f x avg)", avgs[s], nc, mean, mean / avgs[s]);
        cr_assert(mean > 0.75 * avgs[s] && mean < 1.25 * avgs[s], "avg %u: mean %.0f", avgs[s], mean);
    }
    free(b);
}

/* Content ids of the chunks of b[0..n) (xxh3-128 stands in for SHA-256 here). */
static size_t chunk_ids(const uint8_t *b, size_t n, uint32_t avg, XXH128_hash_t *ids, size_t cap)
{
    static size_t cuts[4096];
    pieces_t rnd = {0, n};
    size_t nc = chunk_all(avg / 4, avg, avg * 4, b, n, &rnd, cuts, cap < 4096 ? cap : 4096);
    for (size_t i = 0; i < nc; i++) {
        size_t start = i ? cuts[i - 1] : 0;
        ids[i] = XXH3_128bits(b + start, cuts[i] - start);
    }
    return nc;
}

/* How many of a[0..na) are not in b[0..nb). */
static size_t count_missing(const XXH128_hash_t *a, size_t na, const XXH128_hash_t *b, size_t nb)
{
    size_t missing = 0;
    for (size_t i = 0; i < na; i++) {
        size_t j = 0;
        while (j < nb && !XXH128_isEqual(a[i], b[j]))
            j++;
        missing += j == nb;
    }
    return missing;
}

Test(cdc, edit_in_the_middle_changes_at_most_3_chunks)
{
    enum { N = 64 * MiB, CAP = 4096 };
    static const uint32_t avgs[] = {64 * KiB, OG_CDC_AVG};
    uint8_t *orig = random_buf(N, 17);
    uint8_t *edit = malloc(N + 1);
    static XXH128_hash_t before[CAP], after[CAP];
    cr_assert_not_null(edit);
    for (size_t s = 0; s < 2; s++) {
        size_t nb = chunk_ids(orig, N, avgs[s], before, CAP), mid = N / 2 + 777;
        for (int kind = 0; kind < 3; kind++) {
            size_t n = N;
            const char *what;
            memcpy(edit, orig, N);
            if (kind == 0) { /* insert one byte */
                memmove(edit + mid + 1, edit + mid, N - mid);
                edit[mid] = 0x5a;
                n = N + 1;
                what = "insert 1 byte";
            } else if (kind == 1) { /* delete 100 bytes */
                memmove(edit + mid, edit + mid + 100, N - mid - 100);
                n = N - 100;
                what = "delete 100 bytes";
            } else { /* overwrite 4 KiB */
                for (size_t i = 0; i < 4 * KiB; i++)
                    edit[mid + i] ^= 0xff;
                what = "overwrite 4 KiB";
            }
            size_t na = chunk_ids(edit, n, avgs[s], after, CAP);
            size_t added = count_missing(after, na, before, nb), lost = count_missing(before, nb, after, na);
            cr_log_info("avg %u, %s: %zu chunks, %zu new, %zu gone", avgs[s], what, na, added, lost);
            cr_assert(added >= 1 && added <= 3, "avg %u, %s: %zu new chunks", avgs[s], what, added);
            cr_assert(lost >= 1 && lost <= 3, "avg %u, %s: %zu chunks gone", avgs[s], what, lost);
        }
    }
    free(edit);
    free(orig);
}

/* Prints MB/s of og_cdc_scan() fed 1 MiB pieces; meaningful only in a -O2 build (see the
 * header for the numbers measured there), so nothing is asserted. */
Test(cdc, throughput_print)
{
    enum { N = 256 * MiB };
    static const uint32_t avgs[] = {256 * KiB, MiB, 2 * MiB};
    uint8_t *b = random_buf(N, 23);
    for (size_t s = 0; s < 3; s++) {
        og_cdc_t c;
        struct timespec t0, t1;
        size_t off = 0, nc = 0;
        cr_assert_eq(og_cdc_init(&c, avgs[s] / 4, avgs[s], avgs[s] * 4), 0);
        clock_gettime(CLOCK_MONOTONIC, &t0);
        while (off < N) {
            int boundary;
            off += og_cdc_scan(&c, b + off, N - off < MiB ? N - off : MiB, &boundary);
            nc += (size_t)boundary;
        }
        clock_gettime(CLOCK_MONOTONIC, &t1);
        double secs = (double)(t1.tv_sec - t0.tv_sec) + (double)(t1.tv_nsec - t0.tv_nsec) / 1e9;
        printf("cdc throughput avg %4u KiB: %6.0f MB/s (%zu chunks)\n", avgs[s] / KiB, N / secs / 1e6, nc);
    }
    free(b);
}
