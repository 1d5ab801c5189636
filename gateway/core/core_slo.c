/*
 * core_slo.c: static large objects (core.h "large objects"): an SLO is a JSON manifest that
 * names its segments.
 *
 * Segments are ordinary objects, so an SLO GET is a sequence of segment reads through
 * core_obj_read: never more than one read batch of segment data is held. Each segment is checked
 * against what the manifest promised before its bytes go out, so a segment overwritten since is
 * never served as part of the large object.
 *
 * The manifest is parsed with jansson (flat objects in one list is all Swift's manifest formats
 * use); nested values are never interpreted. A manifest PUT is checked
 * and turned into the stored form here; the front end only reads the body and words the answer.
 */
#include <errno.h>
#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <strings.h>
#include <time.h>

#include <jansson.h>
#include <openssl/evp.h>

#include "core.h"

/* Values (',' '[' '{') a manifest may have: 1001 entries of 256 keys, a parsed tree of ~12 MiB at
 * most, whatever the body (8 MiB of "1," would be four million nodes). */
#define SLO_VALUES_MAX (256u * (CORE_SLO_MAX_SEGMENTS + 1))
/* A stored manifest is the PUT body plus, per segment, a content type and a date: never more
 * than this, so anything larger is not one of ours. */
#define STORED_MANIFEST_MAX (4u * CORE_SLO_MAX_MANIFEST)
/* A bad manifest PUT lists its problems, but never more than this many bytes of them: the answer
 * (and what the gateway holds for it) stays small whatever the body is. */
#define ERRS_MAX 65536
#define ERR_LINE_MAX 1024

/* ---------------------------------------------------------------- JSON */

enum { JV_STR, JV_NUM, JV_NULL, JV_BOOL, JV_OTHER };

/* One value of a manifest entry, as entry_key needs it; strings are copied into the manifest's
 * arena (the parsed tree is freed right after the parse, the manifest may be cached). */
typedef struct {
    int kind;
    size_t off, len; /* JV_STR: in the arena */
    int64_t num;
    int num_ok; /* JV_NUM: an integer that fits (jansson refuses integers past long long) */
    int truth;  /* JV_BOOL */
} jv_t;

static void jv_from(const json_t *x, og_buf_t *arena, jv_t *v)
{
    memset(v, 0, sizeof(*v));
    switch (json_typeof(x)) {
    case JSON_STRING:
        v->kind = JV_STR;
        v->off = arena->len;
        v->len = json_string_length(x);
        og_buf_put(arena, json_string_value(x), v->len);
        og_buf_put(arena, "", 1); /* NUL, so names can be used as C strings */
        break;
    case JSON_INTEGER:
        /* INT64_MIN counts as out of range: -x must stay representable, and no size is negative */
        v->kind = JV_NUM, v->num_ok = json_integer_value(x) != INT64_MIN;
        v->num = v->num_ok ? (int64_t)json_integer_value(x) : 0;
        break;
    case JSON_REAL:
        v->kind = JV_NUM;
        break;
    case JSON_NULL:
        v->kind = JV_NULL;
        break;
    case JSON_TRUE:
    case JSON_FALSE:
        v->kind = JV_BOOL, v->truth = json_is_true(x);
        break;
    default:
        v->kind = JV_OTHER;
    }
}

/* Whether body has at most max values (counted by the ',', '[' and '{' outside strings): jansson
 * builds the whole tree before we see it, so its size is bounded here, before the parse. */
static int json_small_enough(og_str_t body, size_t max)
{
    size_t n = 0;
    int in_str = 0;
    for (size_t i = 0; i < body.len; i++) {
        char c = body.base[i];
        if (in_str) {
            if (c == '\\')
                i++;
            else if (c == '"')
                in_str = 0;
        } else if (c == '"') {
            in_str = 1;
        } else if ((c == ',' || c == '[' || c == '{') && ++n > max) {
            return 0;
        }
    }
    return 1;
}

/* ---------------------------------------------------------------- manifests */

/* One segment, from a PUT body or a stored manifest. Strings are arena offsets. */
typedef struct {
    size_t path, path_len; /* "path" (PUT) or "name" (stored): "/container/object" */
    size_t etag, etag_len; /* "etag" / "hash" */
    int has_etag;
    int64_t size; /* "size_bytes" / "bytes" */
    int has_size;
    size_t range, range_len; /* "range" as written */
    int has_range;
    int sub_slo;
    int bad; /* PUT: this entry already produced an error */
} seg_t;

typedef struct {
    og_buf_t arena;
    seg_t *segs;
    size_t n, cap;
} manifest_t;

static void manifest_free(manifest_t *mf)
{
    og_buf_free(&mf->arena);
    free(mf->segs);
}

static const char *ms(const manifest_t *mf, size_t off)
{
    return mf->arena.buf + off;
}

/* Accepts "M-N", "M-" or "-N" (one range). For a segment of `size` bytes: 1 with [*a, *b], 0 when
 * unsatisfiable, -1 when malformed. size UINT64_MAX checks the syntax only. */
static int seg_range(const char *s, size_t len, uint64_t size, uint64_t *a, uint64_t *b)
{
    const char *dash = memchr(s, '-', len);
    uint64_t x = 0, y = 0;
    int hx = 0, hy = 0;
    if (dash == NULL || memchr(s, ',', len) != NULL)
        return -1;
    for (const char *p = s; p < dash; p++, hx = 1) {
        if (*p < '0' || *p > '9' || x > UINT64_MAX / 10 - 10)
            return -1;
        x = x * 10 + (uint64_t)(*p - '0');
    }
    for (const char *p = dash + 1; p < s + len; p++, hy = 1) {
        if (*p < '0' || *p > '9' || y > UINT64_MAX / 10 - 10)
            return -1;
        y = y * 10 + (uint64_t)(*p - '0');
    }
    if (!hx && !hy)
        return -1;
    if (hx && hy && y < x)
        return -1;
    if (!hx) { /* suffix */
        if (y == 0 || size == 0)
            return 0;
        *a = y >= size ? 0 : size - y, *b = size - 1;
        return 1;
    }
    if (x >= size)
        return 0;
    *a = x, *b = hy && y < size ? y : size - 1;
    return 1;
}

/* Appends one problem line ("Index N: ...\n") to errs, each cut at ERR_LINE_MAX bytes and none once
 * errs holds ERRS_MAX bytes. */
static void errs_add(og_buf_t *errs, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void errs_add(og_buf_t *errs, const char *fmt, ...)
{
    char line[ERR_LINE_MAX];
    va_list ap;
    if (errs->len >= ERRS_MAX)
        return;
    va_start(ap, fmt);
    int n = vsnprintf(line, sizeof(line), fmt, ap);
    va_end(ap);
    if (n < 0)
        return;
    if ((size_t)n >= sizeof(line)) {
        n = (int)sizeof(line) - 1;
        line[n - 1] = '\n';
    }
    og_buf_put(errs, line, (size_t)n);
}

/* Records a problem of entry idx of a PUT body (the first one only: Swift reports one per entry). */
static void entry_error(seg_t *sg, og_buf_t *errs, size_t idx, const char *what)
{
    if (!sg->bad)
        errs_add(errs, "Index %zu: %s\n", idx, what);
    sg->bad = 1;
}

/* One key of a manifest entry with its value. 0, or OG_ECORRUPT for a stored manifest whose entry
 * is not what this file writes (a PUT body's problems go to errs instead). */
static int entry_key(manifest_t *mf, og_str_t k, const jv_t *v, int stored, size_t idx, seg_t *sg, og_buf_t *errs,
                     og_buf_t *extra)
{
    if (og_str_eq(k, stored ? "name" : "path")) {
        if (v->kind != JV_STR)
            goto bad;
        sg->path = v->off, sg->path_len = v->len;
    } else if (og_str_eq(k, stored ? "hash" : "etag")) {
        if (v->kind == JV_STR)
            sg->etag = v->off, sg->etag_len = v->len, sg->has_etag = 1;
        else if (v->kind != JV_NULL || stored)
            goto bad;
    } else if (og_str_eq(k, stored ? "bytes" : "size_bytes")) {
        /* size_bytes may be a number or a string of one, as Swift's int() takes */
        if (v->kind == JV_NUM && v->num_ok)
            sg->size = v->num, sg->has_size = 1;
        else if (v->kind == JV_STR && !stored && v->len > 0 && v->len < 19 &&
                 strspn(mf->arena.buf + v->off, "0123456789") == v->len)
            sg->size = strtoll(mf->arena.buf + v->off, NULL, 10), sg->has_size = 1;
        else if (v->kind != JV_NULL || stored)
            goto bad;
    } else if (og_str_eq(k, "range")) {
        if (v->kind == JV_STR && v->len > 0)
            sg->range = v->off, sg->range_len = v->len, sg->has_range = 1;
        else if (v->kind != JV_NULL && v->kind != JV_STR)
            goto bad;
    } else if (stored) {
        if (og_str_eq(k, "sub_slo"))
            sg->sub_slo = v->kind == JV_BOOL && v->truth;
        /* content_type, last_modified: informational */
    } else if (extra->len < ERR_LINE_MAX) { /* the line is cut there anyway */
        og_buf_printf(extra, "%s\"%.*s\"", extra->len ? ", " : "", (int)k.len, k.base);
    }
    return 0;
bad:
    if (stored)
        return OG_ECORRUPT;
    entry_error(sg, errs, idx,
                og_str_eq(k, "path")         ? "\"path\" must be a string"
                : og_str_eq(k, "etag")       ? "\"etag\" must be a string or null (if provided)"
                : og_str_eq(k, "size_bytes") ? "invalid size_bytes"
                                             : "invalid range");
    return 0;
}

/* One entry (a JSON object): its keys into *sg. 0, or OG_ECORRUPT (stored). */
static int entry_parse(const json_t *entry, manifest_t *mf, int stored, size_t idx, seg_t *sg, og_buf_t *errs)
{
    og_buf_t extra = {0};
    int rc = 0, has_path = 0, has_data = 0;
    const char *key;
    const json_t *val;
    json_object_foreach((json_t *)entry, key, val) {
        jv_t v;
        jv_from(val, &mf->arena, &v);
        og_str_t k = og_str(key); /* jansson refuses NUL in keys unless asked: none here */
        has_path |= og_str_eq(k, stored ? "name" : "path");
        has_data |= og_str_eq(k, "data");
        if (entry_key(mf, k, &v, stored, idx, sg, errs, &extra) != 0) {
            rc = OG_ECORRUPT;
            goto out_free;
        }
    }
    if (!has_path && stored)
        rc = OG_ECORRUPT;
    else if (!has_path)
        entry_error(sg, errs, idx,
                    has_data ? "inline data segments are not supported"
                             : "expected keys to include one of 'path' or 'data'");
    else if (extra.len && !sg->bad)
        errs_add(errs, "Index %zu: extraneous keys %.*s\n", idx, (int)extra.len, extra.buf), sg->bad = 1;
out_free:
    og_buf_free(&extra);
    return rc;
}

/* The entries of a parsed manifest list into mf. Same contract as manifest_parse. */
static int manifest_entries(const json_t *list, int stored, manifest_t *mf, og_buf_t *errs)
{
    size_t n = json_array_size(list);
    if (n > CORE_SLO_MAX_SEGMENTS)
        return stored ? OG_ECORRUPT : OG_ETOOBIG;
    if (n > 0 && (mf->segs = calloc(n, sizeof(*mf->segs))) == NULL)
        return -ENOMEM;
    for (size_t idx = 0; idx < n; idx++) {
        const json_t *entry = json_array_get(list, idx);
        seg_t *sg = &mf->segs[mf->n++];
        if (json_is_object(entry)) {
            if (entry_parse(entry, mf, stored, idx, sg, errs) != 0)
                return OG_ECORRUPT;
        } else if (stored) {
            return OG_ECORRUPT;
        } else {
            entry_error(sg, errs, idx, "not a JSON object");
        }
    }
    return mf->arena.oom || errs->oom ? -ENOMEM : 0;
}

/* Parses a manifest (with jansson: Debian's libjansson, a maintained, fuzzed JSON parser). stored:
 * Swift's stored format (any problem is OG_ECORRUPT); else a PUT body, whose per-entry problems
 * are appended to errs as "Index N: ...\n" lines (entries marked bad; at most ERRS_MAX bytes of
 * them). More than CORE_SLO_MAX_SEGMENTS entries are OG_ETOOBIG for a PUT body (OG_ECORRUPT
 * stored), and so is a body of more than SLO_VALUES_MAX values: the parsed tree stays bounded by
 * that, not by the body. 0, OG_EPROTO (not JSON: bad syntax or invalid
 * UTF-8, as Swift's json.loads), OG_EINVAL (not a list), OG_ETOOBIG, OG_ECORRUPT, -ENOMEM. */
static int manifest_parse(og_str_t body, int stored, manifest_t *mf, og_buf_t *errs)
{
    json_error_t err;
    memset(mf, 0, sizeof(*mf));
    if (!json_small_enough(body, SLO_VALUES_MAX))
        return stored ? OG_ECORRUPT : OG_ETOOBIG;
    json_t *root = json_loadb(body.base, body.len, JSON_DECODE_ANY | JSON_ALLOW_NUL, &err);
    if (root == NULL)
        return stored ? OG_ECORRUPT : OG_EPROTO;
    int rc = !json_is_array(root) ? (stored ? OG_ECORRUPT : OG_EINVAL) : manifest_entries(root, stored, mf, errs);
    json_decref(root);
    return rc;
}

/* "/container/object" (leading slashes ignored) into container (NUL-terminated) and the object
 * name (a slice of path). 0 or OG_EINVAL. */
static int split_seg_path(const char *path, size_t len, char container[CORE_BUCKET_MAX + 1], og_str_t *obj)
{
    while (len > 0 && *path == '/')
        path++, len--;
    const char *slash = memchr(path, '/', len);
    if (slash == NULL || slash == path || slash - path > CORE_BUCKET_MAX || slash + 1 == path + len ||
        memchr(path, '\0', len) != NULL)
        return OG_EINVAL;
    memcpy(container, path, (size_t)(slash - path));
    container[slash - path] = '\0';
    *obj = (og_str_t){slash + 1, len - (size_t)(slash - path) - 1};
    return 0;
}

/* The last container a request checked, so a manifest of 1000 segments in one container costs
 * one bucket read. */
typedef struct {
    char name[CORE_BUCKET_MAX + 1];
    char id[CORE_BID_CAP]; /* the container's bucket id, when rc is 0 */
    int write, rc, valid;
} access_cache_t;

static int access_cached(core_lo_t *lo, access_cache_t *c, const char *container, int write)
{
    if (!c->valid || c->write != write || strcmp(c->name, container) != 0) {
        snprintf(c->name, sizeof(c->name), "%s", container);
        c->write = write;
        c->id[0] = '\0';
        c->rc = lo->access(lo->ctx, container, write, c->id);
        c->valid = 1;
    }
    return c->rc;
}

size_t core_lo_etag(const core_meta_t *m, char out[48])
{
    if (m->flags & CORE_META_SLO) {
        og_hex(m->slo_etag, 16, out);
        return 32;
    }
    size_t n = core_meta_etag(m, out);
    memmove(out, out + 1, n - 2);
    out[n - 2] = '\0';
    return n - 2;
}

/* Reads the live, unexpired object (container, obj) that lo's caller may read. 0 with *m and *buf,
 * OG_ENOTFOUND, -EACCES or an error. */
static int seg_lookup(core_lo_t *lo, access_cache_t *ac, const char *container, og_str_t obj, core_meta_t *m,
                      char **buf)
{
    int rc = access_cached(lo, ac, container, 0);
    if (rc != 0)
        return rc;
    if ((rc = core_obj_lookup(lo->cl, ac->id, obj, m, buf)) != 0)
        return rc;
    if (core_meta_expired(m, lo->now_s)) {
        core_meta_free(m);
        free(*buf);
        *buf = NULL;
        return OG_ENOTFOUND;
    }
    return 0;
}

static int collect_sink(void *ctx, const void *buf, size_t len)
{
    return og_buf_put(ctx, buf, len);
}

/* Reads and parses the stored manifest of SLO record m. 0 or an error (OG_ECORRUPT ...). */
static int manifest_load(core_lo_t *lo, const core_meta_t *m, manifest_t *mf)
{
    og_buf_t raw = {0}, errs = {0};
    int rc;
    memset(mf, 0, sizeof(*mf));
    if (!(m->flags & CORE_META_SLO) || m->size > STORED_MANIFEST_MAX)
        return OG_ECORRUPT;
    if (m->size > 0 && (rc = core_obj_read(lo->cl, m, 0, m->size - 1, collect_sink, &raw)) != 0)
        goto out_free;
    rc = manifest_parse((og_str_t){raw.buf, raw.len}, 1, mf, &errs);
    if (rc == OG_EPROTO || rc == OG_EINVAL)
        rc = OG_ECORRUPT;
out_free:
    og_buf_free(&raw);
    og_buf_free(&errs);
    return rc;
}

/* ---------------------------------------------------------------- sub-manifests of one request */

/* The parsed sub-manifests one request has read, so an SLO whose 1000 entries each name a range of
 * the same 1000-entry sub-SLO parses that sub-manifest once, not 1000 times (~250 MB of manifest
 * reads for one GET otherwise). Entries are keyed by the sub-manifest's identity (container,
 * object and its record's MD5, size and mtime: a rewrite is a new entry). A frame reading a
 * sub-manifest pins it; at most CORE_SLO_MAX_DEPTH are pinned at once, fewer than the slots,
 * and unpinned ones are dropped, least recently used first, beyond MCACHE_BYTES. */
#define MCACHE_SLOTS 16
#define MCACHE_BYTES (8u << 20)

typedef struct {
    uint8_t id[16];
    manifest_t mf;
    size_t bytes;
    unsigned pins;
    uint64_t used;
    int valid;
} mc_ent_t;

typedef struct {
    mc_ent_t ent[MCACHE_SLOTS];
    size_t bytes;  /* of the valid entries */
    uint64_t clock;
    unsigned loads; /* sub-manifests read from the cluster */
} mcache_t;

_Static_assert(MCACHE_SLOTS > CORE_SLO_MAX_DEPTH, "every frame of a nested read must find a slot");

static void mc_free(mcache_t *mc)
{
    for (size_t i = 0; i < MCACHE_SLOTS; i++)
        if (mc->ent[i].valid)
            manifest_free(&mc->ent[i].mf);
    memset(mc, 0, sizeof(*mc));
}

/* The identity of the sub-manifest record m of container/obj. 0 or -ENOMEM. */
static int mc_ident(const char *container, og_str_t obj, const core_meta_t *m, uint8_t id[16])
{
    uint8_t tail[16 + 8 + 8];
    unsigned dlen;
    EVP_MD_CTX *md5 = EVP_MD_CTX_new();
    int rc = -ENOMEM;
    memcpy(tail, m->md5, 16);
    memcpy(tail + 16, &m->size, 8);
    memcpy(tail + 24, &m->mtime_ns, 8);
    if (md5 != NULL && EVP_DigestInit_ex(md5, EVP_md5(), NULL) &&
        EVP_DigestUpdate(md5, container, strlen(container) + 1) && EVP_DigestUpdate(md5, obj.base, obj.len) &&
        EVP_DigestUpdate(md5, tail, sizeof(tail)) && EVP_DigestFinal_ex(md5, id, &dlen))
        rc = 0;
    EVP_MD_CTX_free(md5);
    return rc;
}

/* The cached manifest with this identity, pinned (release with mc_unpin), or NULL. */
static mc_ent_t *mc_find(mcache_t *mc, const uint8_t id[16])
{
    for (size_t i = 0; i < MCACHE_SLOTS; i++) {
        mc_ent_t *e = &mc->ent[i];
        if (e->valid && memcmp(e->id, id, 16) == 0) {
            e->pins++;
            e->used = ++mc->clock;
            return e;
        }
    }
    return NULL;
}

static void mc_unpin(mc_ent_t *e)
{
    e->pins--;
}

/* Adds *mf (taken over: the cache frees it) under id, pinned, making room first. The new entry,
 * or NULL when every slot is pinned (mf freed). */
static mc_ent_t *mc_insert(mcache_t *mc, const uint8_t id[16], manifest_t *mf)
{
    size_t bytes = mf->arena.cap + mf->cap * sizeof(seg_t);
    mc_ent_t *slot = NULL;
    for (;;) {
        mc_ent_t *victim = NULL;
        slot = NULL;
        for (size_t i = 0; i < MCACHE_SLOTS; i++) {
            mc_ent_t *e = &mc->ent[i];
            if (!e->valid)
                slot = slot ? slot : e;
            else if (e->pins == 0 && (victim == NULL || e->used < victim->used))
                victim = e;
        }
        if (victim == NULL || (slot != NULL && mc->bytes + bytes <= MCACHE_BYTES))
            break;
        manifest_free(&victim->mf);
        mc->bytes -= victim->bytes;
        victim->valid = 0;
    }
    if (slot == NULL) {
        manifest_free(mf);
        return NULL;
    }
    memcpy(slot->id, id, 16);
    slot->mf = *mf;
    slot->bytes = bytes;
    slot->pins = 1;
    slot->used = ++mc->clock;
    slot->valid = 1;
    mc->bytes += bytes;
    return slot;
}

/* The parsed manifest of SLO record m (container/obj), from the cache or read and added to it,
 * pinned: 0 with *out (mc_unpin it), or an error as manifest_load. */
static int mc_get(core_lo_t *lo, mcache_t *mc, const char *container, og_str_t obj, const core_meta_t *m,
                  mc_ent_t **out)
{
    uint8_t id[16];
    manifest_t mf;
    int rc = mc_ident(container, obj, m, id);
    if (rc != 0)
        return rc;
    if ((*out = mc_find(mc, id)) != NULL)
        return 0;
    mc->loads++;
    if ((rc = manifest_load(lo, m, &mf)) != 0) {
        manifest_free(&mf);
        return rc;
    }
    *out = mc_insert(mc, id, &mf);
    return *out ? 0 : -ENOMEM;
}

/* ---------------------------------------------------------------- nesting depth at PUT */

/* Swift only notices an SLO nested deeper than CORE_SLO_MAX_DEPTH when a GET reaches the
 * bottom, so such an SLO can be stored but never read. A manifest PUT measures the height of each
 * sub-SLO segment instead (1: no sub-SLOs below it) and refuses the manifest when reading it would
 * pass the limit. Heights are remembered per sub-manifest identity, so a shared sub-SLO is walked
 * once; the walk reads at most HEIGHT_LOADS sub-manifests (Swift's own bound for what a
 * multipart delete may buffer: ten times the segment limit), so its cost never exceeds what a
 * GET of the same data would spend. */
#define HEIGHT_LOADS (10u * CORE_SLO_MAX_SEGMENTS)
#define HEIGHT_MEMO 16384u /* slots, a power of two; filled to 3/4 at most */

typedef struct {
    uint8_t id[16];
    uint8_t h;     /* the height, or a lower bound when !exact */
    uint8_t exact;
    uint8_t used;
} hm_ent_t;

typedef struct {
    mcache_t *mc;
    hm_ent_t *memo; /* HEIGHT_MEMO entries, NULL until the first sub-SLO */
    size_t nmemo;
} height_t;

static hm_ent_t *hm_slot(height_t *ht, const uint8_t id[16])
{
    size_t i;
    memcpy(&i, id, sizeof(i)); /* an MD5 is as good a hash as any */
    for (i &= HEIGHT_MEMO - 1; ht->memo[i].used && memcmp(ht->memo[i].id, id, 16) != 0; i = (i + 1) & (HEIGHT_MEMO - 1))
        ;
    return &ht->memo[i];
}

/* min(height of SLO record m of container/obj, cap), cap >= 1. Sub-SLOs that are absent or
 * expired add nothing (a GET fails on them anyway). The height or OG_ETOOBIG (the walk passed
 * HEIGHT_LOADS), -ENOMEM or a cluster error. */
static int slo_height(core_lo_t *lo, height_t *ht, const char *container, og_str_t obj, const core_meta_t *m,
                      int cap)
{
    uint8_t id[16];
    mc_ent_t *e;
    hm_ent_t *hm;
    int rc, h = 1;
    if (cap <= 1)
        return cap; /* every SLO is at least 1 high: nothing to read */
    if (ht->memo == NULL && (ht->memo = calloc(HEIGHT_MEMO, sizeof(*ht->memo))) == NULL)
        return -ENOMEM;
    if ((rc = mc_ident(container, obj, m, id)) != 0)
        return rc;
    hm = hm_slot(ht, id);
    if (hm->used && (hm->exact || hm->h >= cap))
        return hm->h < cap ? hm->h : cap;
    if (ht->mc->loads >= HEIGHT_LOADS)
        return OG_ETOOBIG;
    if ((rc = mc_get(lo, ht->mc, container, obj, m, &e)) != 0)
        return rc;
    for (size_t i = 0; i < e->mf.n && h < cap; i++) {
        const seg_t *sg = &e->mf.segs[i];
        char c[CORE_BUCKET_MAX + 1], cid[CORE_BID_CAP] = "", *buf = NULL;
        og_str_t o;
        core_meta_t sub;
        if (!sg->sub_slo || split_seg_path(ms(&e->mf, sg->path), sg->path_len, c, &o) != 0)
            continue;
        /* A sub-SLO the caller cannot read counts as absent, like a missing one: the PUT's
         * segment check already refused it. */
        if ((rc = lo->access(lo->ctx, c, CORE_LO_READ, cid)) == -EACCES)
            rc = OG_ENOTFOUND;
        if (rc == 0)
            rc = core_obj_lookup(lo->cl, cid, o, &sub, &buf);
        if (rc == OG_ENOTFOUND) {
            rc = 0;
            continue;
        }
        if (rc != 0)
            break;
        if ((sub.flags & CORE_META_SLO) && !core_meta_expired(&sub, lo->now_s)) {
            rc = slo_height(lo, ht, c, o, &sub, cap - 1);
            if (rc > 0 && rc + 1 > h)
                h = rc + 1;
        }
        core_meta_free(&sub);
        free(buf);
        if (rc < 0)
            break;
        rc = 0;
    }
    mc_unpin(e);
    if (rc < 0)
        return rc;
    /* The slot may have been taken meanwhile by a deeper call: look it up again. */
    hm = hm_slot(ht, id);
    if (hm->used || ht->nmemo < HEIGHT_MEMO / 4 * 3) {
        ht->nmemo += !hm->used;
        memcpy(hm->id, id, 16);
        hm->h = (uint8_t)h, hm->exact = h < cap, hm->used = 1;
    }
    return h;
}

/* ---------------------------------------------------------------- problem lists */

static void problems_add(core_lo_problems_t *p, og_str_t path, int rc, const char *why)
{
    if (p->oom)
        return;
    if (p->n == p->cap) {
        size_t nc = p->cap ? 2 * p->cap : 16;
        core_lo_problem_t *nv = realloc(p->v, nc * sizeof(*nv));
        if (nv == NULL) {
            p->oom = 1;
            return;
        }
        p->v = nv, p->cap = nc;
    }
    p->v[p->n] = (core_lo_problem_t){p->arena.len, path.len, rc, why};
    if (og_buf_put(&p->arena, path.base, path.len) != 0)
        p->oom = 1;
    else
        p->n++;
}

static void problems_free(core_lo_problems_t *p)
{
    og_buf_free(&p->arena);
    free(p->v);
    memset(p, 0, sizeof(*p));
}

/* ---------------------------------------------------------------- SLO PUT */

/* One manifest PUT being checked. */
typedef struct {
    core_lo_t *lo;
    manifest_t mf;
    access_cache_t ac;
    mcache_t mc;
    height_t ht;
    EVP_MD_CTX *md5;
    core_slo_put_t *out;
} build_t;

/* The checks of entry i of a PUT body that need no lookups, with Swift's messages. */
static void entry_check(manifest_t *mf, size_t i, const char *container, og_str_t object, og_buf_t *errs)
{
    seg_t *sg = &mf->segs[i];
    char c[CORE_BUCKET_MAX + 1];
    og_str_t o;
    uint64_t a, b;
    const char *why = NULL;
    if (sg->bad)
        return;
    if (split_seg_path(ms(mf, sg->path), sg->path_len, c, &o) != 0) {
        why = "path does not refer to an object. Path must be of the form /container/object.";
    } else if (sg->has_size && sg->size < 1 && i + 1 != mf->n) {
        why = "too small; each segment must be at least 1 byte.";
    } else if (strcmp(c, container) == 0 && o.len == object.len && memcmp(o.base, object.base, o.len) == 0) {
        why = "manifest must not include itself as a segment";
    } else if (sg->has_range) {
        int rr = seg_range(ms(mf, sg->range), sg->range_len, UINT64_MAX, &a, &b);
        if (rr < 0)
            why = memchr(ms(mf, sg->range), ',', sg->range_len) ? "multiple ranges (only one allowed)"
                                                                  : "invalid range";
        else if (sg->has_size && seg_range(ms(mf, sg->range), sg->range_len, (uint64_t)sg->size, &a, &b) != 1)
            why = "unsatisfiable range";
    }
    if (why != NULL)
        entry_error(sg, errs, i, why);
}

/* A segment as found: its size (an SLO's total), ETag, and the part of it the manifest uses. */
typedef struct {
    uint64_t size, a, b, len;
    char etag[48];
    size_t etag_len;
    int ranged;
} seg_found_t;

/* Compares segment i of the body with the object m it names: range, size, ETag, nesting height.
 * Fills *f; mismatches become problems. 0 or -ENOMEM. */
static int seg_check(build_t *bd, size_t i, const char *c, og_str_t o, const core_meta_t *m, seg_found_t *f)
{
    const seg_t *sg = &bd->mf.segs[i];
    core_lo_problems_t *p = &bd->out->problems;
    og_str_t path = {ms(&bd->mf, sg->path), sg->path_len};
    f->size = (m->flags & CORE_META_SLO) ? m->slo_size : m->size;
    f->etag_len = core_lo_etag(m, f->etag);
    f->len = f->size, f->a = f->b = 0, f->ranged = 0;
    if (sg->has_range) {
        if (seg_range(ms(&bd->mf, sg->range), sg->range_len, f->size, &f->a, &f->b) != 1) {
            problems_add(p, path, 0, "Unsatisfiable Range");
        } else if (!(f->a == 0 && f->b + 1 == f->size)) {
            f->ranged = 1; /* a range covering the whole object is dropped, as Swift does */
            f->len = f->b - f->a + 1;
        }
    }
    if (f->len < 1 && i + 1 != bd->mf.n)
        problems_add(p, path, 0, "Too small; each segment must be at least 1 byte.");
    if (sg->has_size && (uint64_t)sg->size != f->size)
        problems_add(p, path, 0, "Size Mismatch");
    og_str_t want = {ms(&bd->mf, sg->etag), sg->etag_len};
    if (want.len >= 2 && want.base[0] == '"' && want.base[want.len - 1] == '"')
        want.base++, want.len -= 2;
    if (sg->has_etag && !(want.len == f->etag_len && strncasecmp(want.base, f->etag, f->etag_len) == 0))
        problems_add(p, path, 0, "Etag Mismatch");
    if (m->flags & CORE_META_SLO) {
        /* A GET of this manifest descends into the sub-SLO: refuse what it could not read. */
        int h = slo_height(bd->lo, &bd->ht, c, o, m, CORE_SLO_MAX_DEPTH);
        if (h == CORE_SLO_MAX_DEPTH || h == OG_ETOOBIG)
            problems_add(p, path, 0, h == OG_ETOOBIG ? "Too many nested segments" : "Max recursion depth exceeded");
        else if (h < 0)
            problems_add(p, path, h == OG_EPROTO ? OG_ECORRUPT : h, NULL);
    }
    return p->oom ? -ENOMEM : 0;
}

/* Appends segment i's stored form (what Swift's slo middleware writes: json.dumps of these keys)
 * to the manifest and its part of the SLO ETag to the digest. 0 or -ENOMEM. */
static int seg_store(build_t *bd, size_t i, const core_meta_t *m, const seg_found_t *f)
{
    const seg_t *sg = &bd->mf.segs[i];
    og_buf_t *json = &bd->out->json;
    og_str_t path = {ms(&bd->mf, sg->path), sg->path_len};
    char when[32], range[48];
    time_t t = (time_t)(m->mtime_ns / 1000000000u);
    struct tm tm;
    gmtime_r(&t, &tm);
    strftime(when, sizeof(when), "%Y-%m-%dT%H:%M:%S.000000", &tm);
    og_buf_puts(json, i ? ", {\"name\": " : "{\"name\": ");
    char *slashed = malloc(path.len + 2);
    if (slashed == NULL)
        return -ENOMEM;
    size_t skip = 0;
    while (skip < path.len && path.base[skip] == '/')
        skip++;
    slashed[0] = '/';
    memcpy(slashed + 1, path.base + skip, path.len - skip);
    og_buf_json_str(json, (og_str_t){slashed, path.len - skip + 1});
    free(slashed);
    og_buf_printf(json, ", \"bytes\": %" PRIu64 ", \"hash\": \"%s\", \"content_type\": ", f->size, f->etag);
    og_buf_json_str(json, m->content_type);
    og_buf_printf(json, ", \"last_modified\": \"%s\"", when);
    int ok = EVP_DigestUpdate(bd->md5, f->etag, f->etag_len);
    if (f->ranged) {
        int rl = snprintf(range, sizeof(range), "%" PRIu64 "-%" PRIu64, f->a, f->b);
        og_buf_printf(json, ", \"range\": \"%s\"", range);
        ok = ok && EVP_DigestUpdate(bd->md5, ":", 1) && EVP_DigestUpdate(bd->md5, range, (size_t)rl) &&
             EVP_DigestUpdate(bd->md5, ";", 1);
    }
    if (m->flags & CORE_META_SLO)
        og_buf_puts(json, ", \"sub_slo\": true");
    og_buf_puts(json, "}");
    bd->out->size += f->len;
    return ok ? 0 : -ENOMEM;
}

/* Looks up, checks and stores segment i (a valid entry). 0 (problems recorded) or -ENOMEM. */
static int seg_build(build_t *bd, size_t i)
{
    const seg_t *sg = &bd->mf.segs[i];
    char c[CORE_BUCKET_MAX + 1], *buf = NULL;
    og_str_t o, path = {ms(&bd->mf, sg->path), sg->path_len};
    core_meta_t m;
    seg_found_t f;
    split_seg_path(path.base, path.len, c, &o);
    int rc = seg_lookup(bd->lo, &bd->ac, c, o, &m, &buf);
    if (rc != 0) {
        problems_add(&bd->out->problems, path, rc == OG_EPROTO ? OG_ECORRUPT : rc, NULL);
        return bd->out->problems.oom ? -ENOMEM : 0;
    }
    if ((rc = seg_check(bd, i, c, o, &m, &f)) == 0)
        rc = seg_store(bd, i, &m, &f);
    core_meta_free(&m);
    free(buf);
    return rc;
}

/* The body's syntax and the lookup-free checks. 0, or CORE_EMANIFEST / -ENOMEM as core_slo_build. */
static int build_parse(build_t *bd, og_str_t body, const char *container, og_str_t object)
{
    core_slo_put_t *out = bd->out;
    int rc = manifest_parse(body, 0, &bd->mf, &out->entry_errs);
    /* Swift counts after parsing and reports syntax problems first; the parse stops at entry 1001
     * so a hostile body costs no more than a legal one. */
    out->refused = rc == OG_EPROTO ? CORE_SLO_NOT_JSON
                   : rc == OG_EINVAL ? CORE_SLO_NOT_LIST
                   : rc == OG_ETOOBIG ? CORE_SLO_TOO_MANY
                                      : 0;
    if (out->refused)
        return CORE_EMANIFEST;
    if (rc != 0)
        return rc;
    for (size_t i = 0; i < bd->mf.n; i++)
        entry_check(&bd->mf, i, container, object, &out->entry_errs);
    if (out->entry_errs.oom)
        return -ENOMEM;
    if (out->entry_errs.len) {
        out->refused = CORE_SLO_BAD_ENTRIES;
        return CORE_EMANIFEST;
    }
    return 0;
}

int core_slo_build(core_lo_t *lo, og_str_t body, const char *container, og_str_t object, core_slo_put_t *out)
{
    build_t bd = {.lo = lo, .out = out};
    unsigned dlen;
    int rc;
    memset(out, 0, sizeof(*out));
    bd.ht.mc = &bd.mc;
    if ((rc = build_parse(&bd, body, container, object)) != 0)
        goto out_free;
    if ((bd.md5 = EVP_MD_CTX_new()) == NULL || !EVP_DigestInit_ex(bd.md5, EVP_md5(), NULL)) {
        rc = -ENOMEM;
        goto out_free;
    }
    og_buf_puts(&out->json, "[");
    for (size_t i = 0; i < bd.mf.n && rc == 0; i++)
        rc = seg_build(&bd, i);
    og_buf_puts(&out->json, "]");
    if (rc != 0)
        goto out_free;
    if (out->problems.n) {
        out->refused = CORE_SLO_BAD_SEGMENTS;
        rc = CORE_EMANIFEST;
    } else if (out->json.oom || !EVP_DigestFinal_ex(bd.md5, out->etag, &dlen)) {
        rc = -ENOMEM;
    }
out_free:
    EVP_MD_CTX_free(bd.md5);
    manifest_free(&bd.mf);
    mc_free(&bd.mc);
    free(bd.ht.memo);
    return rc;
}

void core_slo_put_free(core_slo_put_t *p)
{
    og_buf_free(&p->json);
    og_buf_free(&p->entry_errs);
    problems_free(&p->problems);
    memset(p, 0, sizeof(*p));
}

/* ---------------------------------------------------------------- SLO GET */

/* Streams bytes [first, last] of the SLO whose parsed manifest is mf (depth: how many manifests
 * enclose it). Sub-manifests come through mc. */
static int slo_read(core_lo_t *lo, access_cache_t *ac, mcache_t *mc, const manifest_t *mf, uint64_t first,
                    uint64_t last, core_obj_sink_fn sink, void *ctx, int depth)
{
    uint64_t off = 0;
    int rc = 0;
    for (size_t i = 0; i < mf->n && off <= last; i++) {
        const seg_t *sg = &mf->segs[i];
        char c[CORE_BUCKET_MAX + 1], et[48], *buf = NULL;
        og_str_t o;
        core_meta_t seg;
        mc_ent_t *sub;
        uint64_t base = 0, len = (uint64_t)sg->size, a, b;
        if (!sg->has_size || sg->size < 0 || split_seg_path(ms(mf, sg->path), sg->path_len, c, &o) != 0)
            return OG_ECORRUPT;
        if (sg->has_range) {
            if (seg_range(ms(mf, sg->range), sg->range_len, (uint64_t)sg->size, &a, &b) != 1)
                return OG_ECORRUPT;
            base = a, len = b - a + 1;
        }
        if (len == 0 || off + len <= first) {
            off += len;
            continue;
        }
        uint64_t from = first > off ? first - off : 0, to = last - off < len - 1 ? last - off : len - 1;
        if ((rc = seg_lookup(lo, ac, c, o, &seg, &buf)) != 0)
            return rc;
        /* The segment must still be what the manifest was made of. */
        size_t elen = core_lo_etag(&seg, et);
        uint64_t ssize = (seg.flags & CORE_META_SLO) ? seg.slo_size : seg.size;
        if (!sg->has_etag || sg->etag_len != elen || strncasecmp(ms(mf, sg->etag), et, elen) != 0 ||
            ssize != (uint64_t)sg->size || !!(seg.flags & CORE_META_SLO) != !!sg->sub_slo) {
            rc = OG_ECORRUPT;
        } else if (seg.flags & CORE_META_SLO) {
            if (depth + 1 >= CORE_SLO_MAX_DEPTH)
                rc = OG_ECORRUPT;
            else if ((rc = mc_get(lo, mc, c, o, &seg, &sub)) == 0) {
                rc = slo_read(lo, ac, mc, &sub->mf, base + from, base + to, sink, ctx, depth + 1);
                mc_unpin(sub);
            }
        } else {
            rc = core_obj_read(lo->cl, &seg, base + from, base + to, sink, ctx);
        }
        core_meta_free(&seg);
        free(buf);
        if (rc != 0)
            return rc;
        off += len;
    }
    return 0;
}

int core_slo_read(core_lo_t *lo, const core_meta_t *m, uint64_t first, uint64_t last, core_obj_sink_fn sink,
                      void *ctx)
{
    access_cache_t ac = {0};
    mcache_t mc = {0};
    manifest_t mf;
    int rc;
    if (first > last || last >= m->slo_size)
        return OG_EINVAL;
    if ((rc = manifest_load(lo, m, &mf)) == 0)
        rc = slo_read(lo, &ac, &mc, &mf, first, last, sink, ctx, 0);
    manifest_free(&mf);
    mc_free(&mc);
    return rc;
}

/* ---------------------------------------------------------------- SLO DELETE */

typedef struct {
    core_lo_t *lo;
    access_cache_t ac;
    core_slo_del_t *out;
} del_t;

/* Deletes one object (a segment or the manifest): counts it or records the problem. */
static void del_one(del_t *d, const char *c, og_str_t o, og_str_t shown)
{
    int rc = access_cached(d->lo, &d->ac, c, 1);
    core_meta_t m;
    char *buf = NULL;
    if (rc == 0 && (rc = core_obj_lookup(d->lo->cl, d->ac.id, o, &m, &buf)) == 0) {
        int expired = core_meta_expired(&m, d->lo->now_s);
        core_meta_free(&m);
        free(buf);
        rc = core_obj_delete(d->lo->cl, d->ac.id, o, NULL);
        if (rc == 0 && expired)
            rc = OG_ENOTFOUND;
    }
    if (rc == 0)
        d->out->deleted++;
    else if (rc == OG_ENOTFOUND)
        d->out->not_found++;
    else
        problems_add(&d->out->problems, shown, rc, NULL);
}

/* Deletes the segments of SLO m (a nested SLO's segments before the nested manifest). */
static int del_segments(del_t *d, const core_meta_t *m, int depth)
{
    manifest_t mf;
    int rc;
    if (depth >= CORE_SLO_MAX_DEPTH)
        return OG_ECORRUPT;
    if ((rc = manifest_load(d->lo, m, &mf)) != 0)
        goto out_free;
    for (size_t i = 0; i < mf.n; i++) {
        char c[CORE_BUCKET_MAX + 1], *buf = NULL;
        og_str_t o, path = {ms(&mf, mf.segs[i].path), mf.segs[i].path_len};
        core_meta_t sub;
        if (split_seg_path(path.base, path.len, c, &o) != 0) {
            rc = OG_ECORRUPT;
            goto out_free;
        }
        if (mf.segs[i].sub_slo && access_cached(d->lo, &d->ac, c, 0) == 0 &&
            core_obj_lookup(d->lo->cl, d->ac.id, o, &sub, &buf) == 0) {
            if (sub.flags & CORE_META_SLO)
                rc = del_segments(d, &sub, depth + 1);
            core_meta_free(&sub);
            free(buf);
            if (rc != 0)
                goto out_free;
        }
        del_one(d, c, o, path);
    }
out_free:
    manifest_free(&mf);
    return rc;
}

/* Reads the live, unexpired record of the manifest. 0, OG_ENOTFOUND or an error. */
static int del_lookup(core_lo_t *lo, const char *container, og_str_t object, core_meta_t *m, char **buf)
{
    int rc = core_obj_lookup(lo->cl, container, object, m, buf);
    if (rc == 0 && core_meta_expired(m, lo->now_s)) {
        core_meta_free(m);
        free(*buf);
        *buf = NULL;
        rc = OG_ENOTFOUND;
    }
    return rc;
}

int core_slo_delete(core_lo_t *lo, const char *container, og_str_t object, core_slo_del_t *out)
{
    del_t d = {.lo = lo, .out = out};
    og_buf_t shown = {0};
    core_meta_t m;
    char *buf = NULL;
    char id[CORE_BID_CAP] = "";
    int rc = lo->access(lo->ctx, container, 1, id);
    memset(out, 0, sizeof(*out));
    if (rc == -EACCES)
        return rc;
    og_buf_printf(&shown, "/%s/", container);
    og_buf_put(&shown, object.base, object.len);
    og_str_t path = {shown.buf, shown.len};
    if (rc == 0)
        rc = del_lookup(lo, id, object, &m, &buf);
    if (rc == OG_ENOTFOUND) {
        out->not_found++;
        rc = 0;
        goto out_free;
    }
    if (rc != 0)
        goto out_free;
    if (!(m.flags & CORE_META_SLO))
        problems_add(&out->problems, path, 0, "Not an SLO manifest");
    else if ((rc = del_segments(&d, &m, 0)) == OG_ECORRUPT)
        problems_add(&out->problems, path, 0, "Unreadable manifest");
    else if (rc != 0)
        problems_add(&out->problems, path, rc, NULL);
    else
        del_one(&d, container, object, path);
    core_meta_free(&m);
    free(buf);
    rc = out->problems.oom || shown.oom ? -ENOMEM : 0;
out_free:
    og_buf_free(&shown);
    return rc;
}

void core_slo_del_free(core_slo_del_t *d)
{
    problems_free(&d->problems);
    memset(d, 0, sizeof(*d));
}

size_t core_slo_s3_etag(const core_meta_t *m, char *out)
{
    char hex[33];
    og_hex(m->slo_etag, 16, hex);
    return (size_t)sprintf(out, "\"%s-N\"", hex);
}
