/*
 * core_walk.c: one page of a listing with prefix/delimiter grouping over a sorted key source, with
 * exact truncation (core.h). I/O-free: the source is a callback, so unit tests drive it without a
 * cluster.
 */
#include <errno.h>
#include <limits.h>
#include <stdlib.h>

#include "core.h"

#define WALK_PAGE 1000 /* raw keys asked of the source per fetch */
/* With a delimiter, a fetch that yields at most one item per WALK_SPARSE raw keys means the
 * common prefixes are large: most of each fetch is read only to be skipped, and reading WALK_SMALL
 * keys per fetch (the first key of the next prefix, then a jump past it) costs a round trip per
 * item instead of WALK_SPARSE or more keys per item. Two or more items from a small fetch mean the
 * prefixes got small again (under WALK_SMALL / 2 keys): full fetches. The gap between the two
 * thresholds keeps a walk from switching back and forth. A source that groups on the nodes
 * (core_obj_source) returns about one raw key per prefix, so its fetches stay full: this is for
 * the sources that do not (version listings). */
#define WALK_SPARSE 64
#define WALK_SMALL 16

/* ---- byte buffers ---- */

typedef struct {
    char *p;
    size_t len, cap;
} bytes_t;

static int bytes_reserve(bytes_t *b, size_t need)
{
    if (need <= b->cap)
        return 0;
    size_t cap = b->cap ? b->cap : 256;
    while (cap < need)
        cap *= 2;
    char *np = realloc(b->p, cap);
    if (np == NULL)
        return -ENOMEM;
    b->p = np, b->cap = cap;
    return 0;
}

static int bytes_add(bytes_t *b, const char *s, size_t n)
{
    if (bytes_reserve(b, b->len + n) != 0)
        return -ENOMEM;
    if (n)
        memcpy(b->p + b->len, s, n);
    b->len += n;
    return 0;
}

static int bytes_set(bytes_t *b, const char *s, size_t n)
{
    b->len = 0;
    return bytes_add(b, s, n);
}

static int has_prefix(og_str_t s, const char *p, size_t n) { return s.len >= n && (n == 0 || memcmp(s.base, p, n) == 0); }

/* ---- listing walk ---- */

/* An item as offsets into the arena, which moves while it grows. */
typedef struct {
    size_t koff, klen, soff, slen;
    int is_prefix;
} slot_t;

typedef struct {
    const core_walk_source_t *src;
    og_str_t prefix, delim;
    size_t max_keys, count;
    size_t fetch_limit; /* raw keys per fetch with a delimiter: WALK_PAGE or WALK_SMALL */
    bytes_t resume; /* the `after` of the next fetch */
    bytes_t skip;   /* the last common prefix: keys under it are already counted */
    bytes_t arena;
    slot_t *slots;
    size_t nslots, slots_cap;
    core_walk_t *out;
} walk_t;

static int walk_add(walk_t *w, og_str_t key, og_str_t summary, int is_prefix)
{
    if (w->nslots == w->slots_cap) {
        size_t cap = w->slots_cap ? 2 * w->slots_cap : 64;
        slot_t *ns = realloc(w->slots, cap * sizeof(*ns));
        if (ns == NULL)
            return -ENOMEM;
        w->slots = ns, w->slots_cap = cap;
    }
    slot_t *s = &w->slots[w->nslots];
    s->koff = w->arena.len, s->klen = key.len;
    if (bytes_add(&w->arena, key.base, key.len) != 0)
        return -ENOMEM;
    s->soff = w->arena.len, s->slen = summary.len;
    if (bytes_add(&w->arena, summary.base, summary.len) != 0)
        return -ENOMEM;
    s->is_prefix = is_prefix;
    w->nslots++;
    return 0;
}

/* Takes one page's entries. Sets *done when the page is full (and then truncated is exact: an
 * item that would not fit was seen). 0 or -ENOMEM. */
static int walk_page(walk_t *w, const cluster_list_t *page, int *done)
{
    for (size_t i = 0; i < page->n; i++) {
        og_str_t key = page->entries[i].key;
        if (w->skip.len && has_prefix(key, w->skip.p, w->skip.len))
            continue;
        size_t cplen = w->delim.len ? og_key_group_len(key, w->prefix, w->delim, w->src->key_end) : 0;
        if (w->count == w->max_keys) {
            w->out->truncated = 1;
            *done = 1;
            return 0;
        }
        int rc;
        if (cplen) {
            og_str_t cp = {key.base, cplen};
            if ((rc = walk_add(w, cp, (og_str_t){NULL, 0}, 1)) != 0 || (rc = bytes_set(&w->skip, cp.base, cp.len)) != 0)
                return rc;
            w->out->nprefixes++;
        } else {
            if ((rc = walk_add(w, key, page->entries[i].rec.summary, 0)) != 0)
                return rc;
            w->out->ncontents++;
        }
        w->count++;
    }
    return 0;
}

/* After a fetch ending inside the skipped common prefix, resume past all of it at once:
 * skip + 0xFF sorts after every UTF-8 key under skip (0xFF never occurs in UTF-8). Other keys
 * under skip, if any, are still filtered out by walk_page, so this is only a shortcut. */
static int walk_skip_ahead(walk_t *w)
{
    og_str_t resume = {w->resume.p, w->resume.len};
    if (w->skip.len == 0 || !has_prefix(resume, w->skip.p, w->skip.len))
        return 0;
    if (resume.len > w->skip.len && (unsigned char)resume.base[w->skip.len] == 0xff)
        return 0;
    if (bytes_set(&w->resume, w->skip.p, w->skip.len) != 0)
        return -ENOMEM;
    return bytes_add(&w->resume, "\xff", 1);
}

/* The next fetch's size with a delimiter, from the last fetch's (limit raw keys gave got items). */
static size_t walk_next_limit(size_t limit, size_t got)
{
    if (got * WALK_SPARSE <= limit)
        return WALK_SMALL;
    return got >= 2 ? WALK_PAGE : limit;
}

static int walk_finish(walk_t *w)
{
    core_walk_t *out = w->out;
    if (w->nslots == 0)
        return 0;
    out->items = malloc(w->nslots * sizeof(*out->items));
    if (out->items == NULL)
        return -ENOMEM;
    for (size_t i = 0; i < w->nslots; i++) {
        const slot_t *s = &w->slots[i];
        out->items[i] = (core_walk_item_t){{w->arena.p + s->koff, s->klen}, {w->arena.p + s->soff, s->slen}, s->is_prefix};
    }
    out->n = w->nslots;
    out->_arena = w->arena.p;
    w->arena.p = NULL;
    return 0;
}

int core_walk(const core_walk_source_t *src, og_str_t prefix, og_str_t delimiter, og_str_t after, size_t max_keys,
               core_walk_t *out)
{
    walk_t w = {.src = src, .prefix = prefix, .delim = delimiter, .max_keys = max_keys, .fetch_limit = WALK_PAGE,
                .out = out};
    int rc = 0;

    memset(out, 0, sizeof(*out));
    if (max_keys == 0)
        return 0;
    if ((rc = bytes_set(&w.resume, after.base, after.len)) != 0)
        goto out_free;
    /* Resuming after a common prefix (the last item of the previous page) skips its keys. */
    if (delimiter.len && has_prefix(after, prefix.base, prefix.len) &&
        og_key_group_len(after, prefix, delimiter, src->key_end) == after.len) {
        if ((rc = bytes_set(&w.skip, after.base, after.len)) != 0 || (rc = walk_skip_ahead(&w)) != 0)
            goto out_free;
    }
    for (;;) {
        /* Without a delimiter every key is an item: ask for what is missing plus one, which
         * tells whether the page is truncated. Common prefixes may hide any number of keys,
         * unless the source groups them itself (a page of one prefix then costs one seek per
         * replica, not a thousand). */
        size_t limit = delimiter.len && !src->grouped ? w.fetch_limit : max_keys - w.count + 1, before = w.count;
        cluster_list_t page;
        int done = 0;
        if (limit > WALK_PAGE)
            limit = WALK_PAGE;
        memset(&page, 0, sizeof(page));
        if ((rc = src->fetch(src->ctx, prefix, delimiter, (og_str_t){w.resume.p, w.resume.len}, limit, &page)) != 0)
            goto out_free;
        out->fetches++;
        rc = walk_page(&w, &page, &done);
        w.fetch_limit = walk_next_limit(limit, w.count - before);
        if (rc == 0 && !done && page.truncated) {
            /* A source that does not move forward would loop forever. */
            /* byte-wise order, a proper prefix first: the order the nodes keep keys in */
            if (og_str_cmp(page.next_after, (og_str_t){w.resume.p, w.resume.len}) <= 0)
                rc = OG_EPROTO;
            else if ((rc = bytes_set(&w.resume, page.next_after.base, page.next_after.len)) == 0)
                rc = walk_skip_ahead(&w);
        }
        int more = !done && page.truncated;
        src->release(src->ctx, &page);
        if (rc != 0)
            goto out_free;
        if (!more)
            break;
    }
    rc = walk_finish(&w);
out_free:
    free(w.arena.p);
    free(w.slots);
    free(w.skip.p);
    free(w.resume.p);
    if (rc != 0)
        core_walk_free(out);
    return rc;
}

void core_walk_free(core_walk_t *w)
{
    free(w->items);
    free(w->_arena);
    memset(w, 0, sizeof(*w));
}

