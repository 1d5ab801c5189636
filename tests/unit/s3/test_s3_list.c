/* Unit tests for gateway/s3_xml.c: listing walk (prefix/delimiter grouping, exact truncation,
 * resume points), continuation tokens, base64, and the DeleteObjects parser against hostile XML. */
#include <criterion/criterion.h>
#include <stdio.h>
#include <stdlib.h>

#include "core/core.h"
#include "s3/s3_xml.h"

/* ---- a fake key source with cluster_list's contract ---- */

typedef struct {
    char **keys; /* sorted */
    int *tomb;   /* tombstones count toward limit but are not returned */
    size_t n;
    size_t calls;
    size_t raw;  /* keys read over all fetches, tombstones included */
    int stuck;   /* answer truncated without advancing */
    int fail;    /* error to return from fetch */
    int grouped; /* as a node asked with a delimiter: past a live key, the rest of its common prefix
                    is skipped (not read, not counted) */
} fake_t;

static int key_less(const char *a, size_t al, const char *b, size_t bl)
{
    size_t n = al < bl ? al : bl;
    int c = n ? memcmp(a, b, n) : 0;
    return c < 0 || (c == 0 && al < bl);
}

static int fake_fetch(void *ctx, og_str_t prefix, og_str_t delim, og_str_t after, size_t limit, cluster_list_t *out)
{
    fake_t *f = ctx;
    f->calls++;
    memset(out, 0, sizeof(*out));
    if (f->fail)
        return f->fail;
    cluster_list_entry_t *e = calloc(limit + 1, sizeof(*e));
    cr_assert_not_null(e);
    out->entries = e;
    out->_mem = e;
    size_t raw = 0;
    og_str_t cut = {NULL, 0}; /* grouped: the common prefix being skipped */
    for (size_t i = 0; i < f->n; i++) {
        og_str_t k = og_str(f->keys[i]);
        if (!key_less(after.base, after.len, k.base, k.len))
            continue;
        if (k.len < prefix.len || (prefix.len && memcmp(k.base, prefix.base, prefix.len) != 0))
            continue;
        if (cut.len && k.len >= cut.len && memcmp(k.base, cut.base, cut.len) == 0)
            continue;
        if (raw == limit) {
            out->truncated = 1;
            break;
        }
        raw++;
        f->raw++;
        out->next_after = k;
        if (!f->tomb || !f->tomb[i]) {
            e[out->n].key = k;
            e[out->n].rec.summary = OG_STR_LIT("sum");
            out->n++;
            if (f->grouped && delim.len)
                cut = (og_str_t){k.base, og_key_group_len(k, prefix, delim, 0)};
        }
    }
    if (f->stuck) {
        out->truncated = 1;
        out->next_after = after;
    }
    return 0;
}

static void fake_release(void *ctx, cluster_list_t *l) { free(l->_mem); }

static int cmp_str(const void *a, const void *b)
{
    const char *x = *(char *const *)a, *y = *(char *const *)b;
    return key_less(x, strlen(x), y, strlen(y)) ? -1 : strcmp(x, y) != 0;
}

static void fake_init(fake_t *f, char **keys, size_t n)
{
    memset(f, 0, sizeof(*f));
    qsort(keys, n, sizeof(*keys), cmp_str);
    f->keys = keys;
    f->n = n;
}

static void free_keys(char **keys, size_t n)
{
    for (size_t i = 0; i < n; i++)
        free(keys[i]);
    free(keys);
}

static char **make_keys(size_t n, const char *fmt)
{
    char **k = calloc(n, sizeof(*k));
    for (size_t i = 0; i < n; i++) {
        char buf[64];
        snprintf(buf, sizeof(buf), fmt, i);
        k[i] = strdup(buf);
    }
    return k;
}

static core_walk_source_t src_of(fake_t *f) { return (core_walk_source_t){fake_fetch, fake_release, f, 0, f->grouped}; }

static int item_is(const core_walk_item_t *it, const char *s, int is_prefix)
{
    return og_str_eq(it->key, s) && it->is_prefix == is_prefix;
}

/* ---- walk ---- */

Test(walk, paginates_2500_keys_without_delimiter)
{
    char **keys = make_keys(2500, "k%05zu");
    fake_t f;
    fake_init(&f, keys, 2500);
    core_walk_source_t src = src_of(&f);
    char after[64] = "";
    size_t total = 0, pages = 0;
    for (;;) {
        core_walk_t w;
        cr_assert_eq(core_walk(&src, OG_STR_LIT(""), OG_STR_LIT(""), og_str(after), 1000, &w), 0);
        pages++;
        cr_assert_eq(w.n, pages < 3 ? 1000 : 500);
        cr_assert_eq(w.truncated, pages < 3);
        cr_assert_leq(w.fetches, 2);
        for (size_t i = 0; i < w.n; i++) {
            char want[16];
            snprintf(want, sizeof(want), "k%05zu", total + i);
            cr_assert(item_is(&w.items[i], want, 0));
            cr_assert(og_str_eq(w.items[i].summary, "sum"));
        }
        total += w.n;
        int more = w.truncated;
        memcpy(after, w.items[w.n - 1].key.base, w.items[w.n - 1].key.len);
        after[w.items[w.n - 1].key.len] = '\0';
        core_walk_free(&w);
        if (!more)
            break;
    }
    cr_assert_eq(total, 2500);
    free_keys(keys, 2500);
}

Test(walk, truncation_is_exact_at_page_boundary)
{
    char **keys = make_keys(1000, "k%04zu");
    fake_t f;
    fake_init(&f, keys, 1000);
    core_walk_source_t src = src_of(&f);
    core_walk_t w;
    cr_assert_eq(core_walk(&src, OG_STR_LIT(""), OG_STR_LIT(""), OG_STR_LIT(""), 1000, &w), 0);
    cr_assert_eq(w.n, 1000);
    cr_assert_eq(w.truncated, 0);
    core_walk_free(&w);
    cr_assert_eq(core_walk(&src, OG_STR_LIT(""), OG_STR_LIT(""), OG_STR_LIT(""), 999, &w), 0);
    cr_assert_eq(w.n, 999);
    cr_assert_eq(w.truncated, 1);
    core_walk_free(&w);
    free_keys(keys, 1000);
}

Test(walk, max_keys_zero_reads_nothing)
{
    char **keys = make_keys(3, "k%zu");
    fake_t f;
    fake_init(&f, keys, 3);
    core_walk_source_t src = src_of(&f);
    core_walk_t w;
    cr_assert_eq(core_walk(&src, OG_STR_LIT(""), OG_STR_LIT("/"), OG_STR_LIT(""), 0, &w), 0);
    cr_assert_eq(w.n, 0);
    cr_assert_eq(w.truncated, 0);
    cr_assert_eq(f.calls, 0);
    core_walk_free(&w);
    free_keys(keys, 3);
}

Test(walk, delimiter_rolls_up_and_skips_big_prefix)
{
    size_t n = 3003;
    char **keys = make_keys(n, "a/%05zu");
    free(keys[3000]), keys[3000] = strdup("b");
    free(keys[3001]), keys[3001] = strdup("c/x/y");
    free(keys[3002]), keys[3002] = strdup("d");
    fake_t f;
    fake_init(&f, keys, n);
    core_walk_source_t src = src_of(&f);
    core_walk_t w;
    cr_assert_eq(core_walk(&src, OG_STR_LIT(""), OG_STR_LIT("/"), OG_STR_LIT(""), 1000, &w), 0);
    cr_assert_eq(w.n, 4);
    cr_assert(item_is(&w.items[0], "a/", 1));
    cr_assert(item_is(&w.items[1], "b", 0));
    cr_assert(item_is(&w.items[2], "c/", 1));
    cr_assert(item_is(&w.items[3], "d", 0));
    cr_assert_eq(w.ncontents, 2);
    cr_assert_eq(w.nprefixes, 2);
    cr_assert_eq(w.truncated, 0);
    /* The 3000 keys under a/ cost one page, not three: the walk jumps past the prefix. */
    cr_assert_eq(w.fetches, 2);
    core_walk_free(&w);
    free_keys(keys, n);
}

/* Large common prefixes (a root listing of 50 directories of 200 keys): the walk switches to small
 * fetches and reads about the first keys of each directory, not all 10,000 (issue 16: a delimiter
 * page's cost must not grow with the keys under each prefix). Small prefixes after them (3,000
 * plain keys) switch it back to full fetches. */
Test(walk, delimiter_reads_little_of_large_prefixes)
{
    size_t n = 50 * 200 + 3000;
    char **keys = calloc(n, sizeof(*keys));
    for (size_t i = 0; i < n; i++) {
        char buf[32];
        if (i < 50 * 200)
            snprintf(buf, sizeof(buf), "d%02zu/%03zu", i / 200, i % 200);
        else
            snprintf(buf, sizeof(buf), "z%04zu", i - 50 * 200);
        keys[i] = strdup(buf);
    }
    fake_t f;
    fake_init(&f, keys, n);
    core_walk_source_t src = src_of(&f);
    core_walk_t w;
    cr_assert_eq(core_walk(&src, OG_STR_LIT(""), OG_STR_LIT("/"), OG_STR_LIT(""), 1000, &w), 0);
    cr_assert_eq(w.n, 1000);
    cr_assert_eq(w.nprefixes, 50);
    cr_assert(item_is(&w.items[0], "d00/", 1));
    cr_assert(item_is(&w.items[49], "d49/", 1));
    cr_assert(item_is(&w.items[50], "z0000", 0));
    cr_assert(item_is(&w.items[999], "z0949", 0));
    cr_assert_eq(w.truncated, 1);
    /* One full fetch finds the prefixes large, then 16 keys per directory; the plain keys bring
     * full fetches back: 1000 + 45 x 16 + a few fetches of plain keys. */
    cr_assert_leq(f.raw, 1000 + 45 * 16 + 16 + 2 * 1000, "read %zu keys", f.raw);
    cr_assert_leq(w.fetches, 1 + 45 + 1 + 2, "%zu fetches", w.fetches);
    core_walk_free(&w);
    free_keys(keys, n);
}

/* A source that groups on its own (the nodes, core_obj_source) is asked for only the items the
 * page still needs: a one-item page of a delimiter listing reads two keys, not a thousand, and a
 * full page one key per directory. */
Test(walk, grouped_source_is_asked_for_what_the_page_needs)
{
    size_t n = 50 * 200;
    char **keys = make_keys(n, "d%05zu");
    for (size_t i = 0; i < n; i++)
        snprintf(keys[i], 8, "%02zu/%03zu", i / 200, i % 200);
    fake_t f;
    fake_init(&f, keys, n);
    f.grouped = 1;
    core_walk_source_t src = src_of(&f);
    core_walk_t w;
    cr_assert_eq(core_walk(&src, OG_STR_LIT(""), OG_STR_LIT("/"), OG_STR_LIT(""), 1, &w), 0);
    cr_assert_eq(w.n, 1);
    cr_assert(item_is(&w.items[0], "00/", 1));
    cr_assert(w.truncated);
    cr_assert_eq(w.fetches, 1);
    cr_assert_leq(f.raw, 2, "read %zu keys", f.raw);
    core_walk_free(&w);
    f.raw = 0;
    cr_assert_eq(core_walk(&src, OG_STR_LIT(""), OG_STR_LIT("/"), OG_STR_LIT(""), 1000, &w), 0);
    cr_assert_eq(w.nprefixes, 50);
    cr_assert(!w.truncated);
    cr_assert_eq(w.fetches, 1);
    cr_assert_eq(f.raw, 50);
    core_walk_free(&w);
    free_keys(keys, n);
}

Test(walk, common_prefix_counts_once_and_resumes_after_it)
{
    char *init[] = {"a/1", "a/2", "a/3", "b", "c/1", "c/2", "d"};
    size_t n = sizeof(init) / sizeof(init[0]);
    char **keys = calloc(n, sizeof(*keys));
    for (size_t i = 0; i < n; i++)
        keys[i] = strdup(init[i]);
    fake_t f;
    fake_init(&f, keys, n);
    core_walk_source_t src = src_of(&f);
    const char *want[] = {"a/", "b", "c/", "d"};
    char after[16] = "";
    for (size_t page = 0; page < 4; page++) {
        core_walk_t w;
        cr_assert_eq(core_walk(&src, OG_STR_LIT(""), OG_STR_LIT("/"), og_str(after), 1, &w), 0);
        cr_assert_eq(w.n, 1);
        cr_assert(og_str_eq(w.items[0].key, want[page]), "page %zu", page);
        cr_assert_eq(w.truncated, page < 3, "page %zu", page);
        memcpy(after, w.items[0].key.base, w.items[0].key.len);
        after[w.items[0].key.len] = '\0';
        core_walk_free(&w);
    }
    free_keys(keys, n);
}

Test(walk, prefix_and_multichar_delimiter)
{
    char *init[] = {"p/x--1--a", "p/x--1--b", "p/x--2", "p/y", "q--1"};
    size_t n = sizeof(init) / sizeof(init[0]);
    char **keys = calloc(n, sizeof(*keys));
    for (size_t i = 0; i < n; i++)
        keys[i] = strdup(init[i]);
    fake_t f;
    fake_init(&f, keys, n);
    core_walk_source_t src = src_of(&f);
    core_walk_t w;
    cr_assert_eq(core_walk(&src, OG_STR_LIT("p/x--"), OG_STR_LIT("--"), OG_STR_LIT(""), 10, &w), 0);
    cr_assert_eq(w.n, 2);
    cr_assert(item_is(&w.items[0], "p/x--1--", 1));
    cr_assert(item_is(&w.items[1], "p/x--2", 0));
    core_walk_free(&w);
    free_keys(keys, n);
}

Test(walk, tombstones_shrink_pages_but_not_results)
{
    size_t n = 2600;
    char **keys = make_keys(n, "k%05zu");
    fake_t f;
    fake_init(&f, keys, n);
    int *tomb = calloc(n, sizeof(int));
    for (size_t i = 0; i < 2000; i++)
        tomb[i] = 1; /* the first 2000 keys are deleted */
    f.tomb = tomb;
    core_walk_source_t src = src_of(&f);
    core_walk_t w;
    cr_assert_eq(core_walk(&src, OG_STR_LIT(""), OG_STR_LIT(""), OG_STR_LIT(""), 600, &w), 0);
    cr_assert_eq(w.n, 600);
    cr_assert(item_is(&w.items[0], "k02000", 0));
    cr_assert_eq(w.truncated, 0);
    core_walk_free(&w);
    free(tomb);
    free_keys(keys, n);
}

Test(walk, source_errors_and_stalls)
{
    char **keys = make_keys(3, "k%zu");
    fake_t f;
    fake_init(&f, keys, 3);
    core_walk_source_t src = src_of(&f);
    core_walk_t w;
    f.fail = OG_EQUORUM;
    cr_assert_eq(core_walk(&src, OG_STR_LIT(""), OG_STR_LIT(""), OG_STR_LIT(""), 10, &w), OG_EQUORUM);
    cr_assert_eq(w.n, 0);
    f.fail = 0;
    f.stuck = 1;
    cr_assert_eq(core_walk(&src, OG_STR_LIT(""), OG_STR_LIT(""), OG_STR_LIT("k9"), 10, &w), OG_EPROTO);
    cr_assert_null(w.items);
    free_keys(keys, 3);
}

/* Every page of a random listing, concatenated, equals the listing computed the naive way. */
static size_t reference(fake_t *f, const char *prefix, const char *delim, char **out)
{
    size_t n = 0, pl = strlen(prefix), dl = strlen(delim);
    for (size_t i = 0; i < f->n; i++) {
        const char *k = f->keys[i];
        if (strncmp(k, prefix, pl) != 0)
            continue;
        const char *d = dl ? strstr(k + pl, delim) : NULL;
        char *item = d ? strndup(k, (size_t)(d - k) + dl) : strdup(k);
        if (n && strcmp(out[n - 1], item) == 0) {
            free(item);
            continue;
        }
        out[n++] = item;
    }
    return n;
}

Test(walk, random_listings_match_reference)
{
    unsigned seed = 12345;
    const char alphabet[] = "ab/-";
    for (int round = 0; round < 60; round++) {
        size_t n = 1 + (size_t)rand_r(&seed) % 400;
        char **keys = calloc(n, sizeof(*keys));
        for (size_t i = 0; i < n; i++) {
            char buf[16];
            size_t len = 1 + (size_t)rand_r(&seed) % 8;
            for (size_t j = 0; j < len; j++)
                buf[j] = alphabet[rand_r(&seed) % 4];
            buf[len] = '\0';
            keys[i] = strdup(buf);
        }
        fake_t f;
        fake_init(&f, keys, n);
        size_t u = 0; /* dedupe */
        for (size_t i = 0; i < n; i++) {
            if (u && strcmp(keys[u - 1], keys[i]) == 0)
                free(keys[i]);
            else
                keys[u++] = keys[i];
        }
        f.n = u;
        int *tomb = calloc(u, sizeof(int));
        for (size_t i = 0; i < u; i++)
            tomb[i] = rand_r(&seed) % 5 == 0;
        f.tomb = tomb;
        f.grouped = round % 2; /* every other round, a source that groups on its own */
        /* The reference sees only live keys. */
        fake_t live = f;
        live.keys = calloc(u, sizeof(char *));
        live.n = 0;
        for (size_t i = 0; i < u; i++)
            if (!tomb[i])
                live.keys[live.n++] = keys[i];

        const char *prefixes[] = {"", "a", "a/", "b-"};
        const char *delims[] = {"", "/", "-", "/a"};
        const char *prefix = prefixes[rand_r(&seed) % 4], *delim = delims[rand_r(&seed) % 4];
        size_t max_keys = 1 + (size_t)rand_r(&seed) % 7;
        char **want = calloc(live.n + 1, sizeof(char *));
        size_t nwant = reference(&live, prefix, delim, want);

        core_walk_source_t src = src_of(&f);
        char after[32] = "";
        size_t got = 0;
        for (;;) {
            core_walk_t w;
            cr_assert_eq(core_walk(&src, og_str(prefix), og_str(delim), og_str(after), max_keys, &w), 0);
            size_t expect = nwant - got < max_keys ? nwant - got : max_keys;
            cr_assert_eq(w.n, expect, "round %d page at %zu", round, got);
            for (size_t i = 0; i < w.n; i++, got++)
                cr_assert(og_str_eq(w.items[i].key, want[got]), "round %d item %zu", round, got);
            cr_assert_eq(w.truncated, got < nwant, "round %d", round);
            int more = w.truncated;
            if (w.n) {
                memcpy(after, w.items[w.n - 1].key.base, w.items[w.n - 1].key.len);
                after[w.items[w.n - 1].key.len] = '\0';
            }
            core_walk_free(&w);
            if (!more)
                break;
        }
        cr_assert_eq(got, nwant);
        for (size_t i = 0; i < nwant; i++)
            free(want[i]);
        free(want);
        free(live.keys);
        free(tomb);
        free_keys(keys, u);
    }
}

/* ---- base64 and tokens ---- */

Test(token, round_trips_binary_keys)
{
    char key[OG_KEY_MAX];
    for (size_t i = 0; i < sizeof(key); i++)
        key[i] = (char)(i * 7 + 1);
    for (size_t len = 1; len <= sizeof(key); len += 97) {
        char tok[4 * OG_KEY_MAX / 3 + 8], back[OG_KEY_MAX];
        long t = s3_token_encode((og_str_t){key, len}, tok, sizeof(tok));
        cr_assert_gt(t, 0);
        cr_assert_eq(strspn(tok, "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_"), (size_t)t);
        cr_assert_eq(s3_token_decode((og_str_t){tok, (size_t)t}, back, sizeof(back)), (long)len);
        cr_assert_eq(memcmp(back, key, len), 0);
    }
}

Test(token, rejects_garbage)
{
    char out[64];
    cr_assert_eq(s3_token_decode(OG_STR_LIT(""), out, sizeof(out)), OG_EINVAL);
    cr_assert_eq(s3_token_decode(OG_STR_LIT("a"), out, sizeof(out)), OG_EINVAL);
    cr_assert_eq(s3_token_decode(OG_STR_LIT("ab!d"), out, sizeof(out)), OG_EINVAL);
    cr_assert_eq(s3_token_decode(OG_STR_LIT("ab="), out, sizeof(out)), OG_EINVAL);
    cr_assert_eq(s3_token_decode(OG_STR_LIT("QUJDRA"), out, 2), OG_EINVAL);
}

Test(b64, content_md5_forms)
{
    unsigned char md5[16];
    /* MD5("") */
    cr_assert_eq(og_b64_decode(OG_STR_LIT("1B2M2Y8AsgTpgAmY7PhCfg=="), md5, sizeof(md5)), 16);
    cr_assert_eq(md5[0], 0xd4);
    cr_assert_eq(md5[15], 0x7e);
    char enc[32];
    cr_assert_eq(og_b64_encode(md5, 16, enc, sizeof(enc), 0), 24);
    cr_assert_str_eq(enc, "1B2M2Y8AsgTpgAmY7PhCfg==");
    cr_assert_eq(og_b64_decode(OG_STR_LIT("1B2M2Y8AsgTpgAmY7PhCfg="), md5, sizeof(md5)), OG_EINVAL);
    cr_assert_eq(og_b64_decode(OG_STR_LIT("1B2M2Y8AsgTpgAmY7PhCfh=="), md5, sizeof(md5)), OG_EINVAL);
    cr_assert_eq(og_b64_decode(OG_STR_LIT("1B2M2Y8AsgTpgAmY7PhCfg=="), md5, 15), OG_ETOOBIG);
    cr_assert_eq(og_b64_encode("a", 1, enc, 4, 0), OG_ETOOBIG);
}

/* ---- DeleteObjects parser ---- */

static int parse(const char *xml, s3_delete_t *d) { return s3_delete_parse(xml, strlen(xml), d); }

Test(delete_parse, basic_quiet_versions_and_escapes)
{
    s3_delete_t d;
    const char *xml = "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n"
                      "<Delete xmlns=\"http://s3.amazonaws.com/doc/2006-03-01/\">\n"
                      "  <Quiet>true</Quiet>\n"
                      "  <Object><Key>a&amp;b &lt;c&gt;</Key></Object>\n"
                      "  <Object><Key><![CDATA[x<y]]></Key><VersionId>null</VersionId></Object>\n"
                      "  <Object><!-- c --><Key> sp </Key><ETag>\"x\"</ETag></Object>\n"
                      "</Delete>";
    cr_assert_eq(parse(xml, &d), 0);
    cr_assert_eq(d.n, 3);
    cr_assert_eq(d.quiet, 1);
    cr_assert(og_str_eq(d.objects[0].key, "a&b <c>"));
    cr_assert_null(d.objects[0].version_id.base);
    cr_assert(og_str_eq(d.objects[1].key, "x<y"));
    cr_assert(og_str_eq(d.objects[1].version_id, "null"));
    cr_assert(og_str_eq(d.objects[2].key, " sp "));
    s3_delete_free(&d);

    cr_assert_eq(parse("<Delete><Object><Key>k</Key></Object><Quiet>false</Quiet></Delete>", &d), 0);
    cr_assert_eq(d.quiet, 0);
    cr_assert_eq(d.n, 1);
    s3_delete_free(&d);
}

Test(delete_parse, utf8_keys_and_ignored_encoding_hint)
{
    s3_delete_t d;
    cr_assert_eq(parse("<?xml version=\"1.0\" encoding=\"ISO-8859-1\"?><Delete><Object><Key>\xed\x95\x9c</Key>"
                       "</Object></Delete>",
                       &d),
                 0);
    cr_assert(og_str_eq(d.objects[0].key, "\xed\x95\x9c"));
    s3_delete_free(&d);
}

Test(delete_parse, rejects_bad_shapes)
{
    s3_delete_t d;
    const char *bad[] = {
        "",
        "<Delete>",
        "<Delete></Delete>",
        "<Remove><Object><Key>k</Key></Object></Remove>",
        "<Delete><Object></Object></Delete>",
        "<Delete><Object><Key></Key></Object></Delete>",
        "<Delete><Object><Key>a</Key><Key>b</Key></Object></Delete>",
        "<Delete><Object><Key>a<b/></Key></Object></Delete>",
        "<Delete><Object><Key>a</Key></Object><Quiet>maybe</Quiet></Delete>",
        "<Delete>text<Object><Key>a</Key></Object></Delete>",
        "<Delete><Object><Key>a&unknown;</Key></Object></Delete>",
        "<Delete><Object><Key>a</Key></Object></Delete><Delete/>",
        "not xml at all",
    };
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        cr_assert_eq(parse(bad[i], &d), OG_EPROTO, "case %zu", i);
        cr_assert_null(d._mem);
    }
    /* An embedded NUL is never valid. */
    cr_assert_eq(s3_delete_parse("<Delete><Object><Key>a\0b</Key></Object></Delete>", 45, &d), OG_EPROTO);
}

Test(delete_parse, rejects_doctype_entities_and_external_dtd)
{
    s3_delete_t d;
    const char *evil[] = {
        /* external entity (XXE) */
        "<?xml version=\"1.0\"?><!DOCTYPE Delete [<!ENTITY x SYSTEM \"file:///etc/passwd\">]>"
        "<Delete><Object><Key>&x;</Key></Object></Delete>",
        /* external DTD over the network */
        "<!DOCTYPE Delete SYSTEM \"http://127.0.0.1:1/evil.dtd\"><Delete><Object><Key>k</Key></Object></Delete>",
        /* billion laughs */
        "<!DOCTYPE d [<!ENTITY a \"aaaaaaaaaa\"><!ENTITY b \"&a;&a;&a;&a;&a;&a;&a;&a;&a;&a;\">"
        "<!ENTITY c \"&b;&b;&b;&b;&b;&b;&b;&b;&b;&b;\"><!ENTITY e \"&c;&c;&c;&c;&c;&c;&c;&c;&c;&c;\">]>"
        "<Delete><Object><Key>&e;&e;&e;&e;&e;&e;&e;&e;</Key></Object></Delete>",
        /* lower-case and parameter-entity variants */
        "<!doctype Delete [<!ENTITY % p SYSTEM \"file:///etc/passwd\"> %p;]><Delete/>",
        /* an UTF-16 hint must not smuggle a DOCTYPE past the byte scan */
        "<?xml version=\"1.0\" encoding=\"UTF-16\"?><!DOCTYPE x><Delete><Object><Key>k</Key></Object></Delete>",
    };
    for (size_t i = 0; i < sizeof(evil) / sizeof(evil[0]); i++)
        cr_assert_eq(parse(evil[i], &d), OG_EPROTO, "case %zu", i);
}

static char *objects_xml(size_t n)
{
    size_t cap = 64 + n * 48;
    char *xml = malloc(cap), *p = xml;
    p += sprintf(p, "<Delete>");
    for (size_t i = 0; i < n; i++)
        p += sprintf(p, "<Object><Key>key-%zu</Key></Object>", i);
    sprintf(p, "</Delete>");
    return xml;
}

Test(delete_parse, object_limit)
{
    s3_delete_t d;
    char *xml = objects_xml(1000);
    cr_assert_eq(parse(xml, &d), 0);
    cr_assert_eq(d.n, 1000);
    cr_assert(og_str_eq(d.objects[999].key, "key-999"));
    s3_delete_free(&d);
    free(xml);
    xml = objects_xml(1001);
    cr_assert_eq(parse(xml, &d), OG_EPROTO);
    free(xml);
}

Test(delete_parse, huge_and_deep_documents_fail_fast)
{
    s3_delete_t d;
    /* 1 MiB key: parses (the handler caps the body), but is one key the handler will refuse. */
    size_t big = 1u << 20;
    char *xml = malloc(big + 64);
    size_t n = (size_t)sprintf(xml, "<Delete><Object><Key>");
    memset(xml + n, 'k', big);
    n += big;
    n += (size_t)sprintf(xml + n, "</Key></Object></Delete>");
    cr_assert_eq(s3_delete_parse(xml, n, &d), 0);
    cr_assert_eq(d.objects[0].key.len, big);
    s3_delete_free(&d);
    free(xml);

    /* 100k nested elements: libxml2's depth limit stops it. */
    size_t depth = 100000;
    xml = malloc(depth * 7 + 64);
    n = (size_t)sprintf(xml, "<Delete><Object><Key>k</Key></Object>");
    for (size_t i = 0; i < depth; i++)
        n += (size_t)sprintf(xml + n, "<a>");
    for (size_t i = 0; i < depth; i++)
        n += (size_t)sprintf(xml + n, "</a>");
    n += (size_t)sprintf(xml + n, "</Delete>");
    cr_assert_eq(s3_delete_parse(xml, n, &d), OG_EPROTO);
    free(xml);
}
