/*
 * core_lc.c: S3 lifecycle rules (core.h): their stored line form, and one pass over a bucket that
 * expires due objects, removes due noncurrent versions and lone delete markers (never a locked
 * version) and aborts old multipart uploads (docs/architecture.md, "Lifecycle").
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "core.h"

#define LC_FIELDS_V1 11 /* a version 1 line's fields */
#define LC_FIELDS 14    /* a version 2 line's: the versioned actions' three more */
#define LC_TAGS_HDR "x-amz-tagging" /* S3's stored tag header (s3_tagging.c) */

/* ---- line form ---- */

static void put_num(og_buf_t *b, int has, uint64_t v)
{
    if (has)
        og_buf_printf(b, " %llu", (unsigned long long)v);
    else
        og_buf_puts(b, " -");
}

static void put_enc(og_buf_t *b, og_str_t s)
{
    char *enc = malloc(3 * s.len + 1);
    if (!enc) {
        b->oom = 1;
        return;
    }
    long n = og_urlencode(s.base, s.len, enc, 3 * s.len + 1, 0);
    og_buf_puts(b, " ");
    og_buf_put(b, enc, n > 0 ? (size_t)n : 0);
    free(enc);
}

int core_lc_encode(const core_lc_rule_t *rules, size_t n, og_buf_t *out)
{
    for (size_t i = 0; i < n; i++) {
        const core_lc_rule_t *r = &rules[i];
        int v2 = r->ncv_days != 0 || r->edm != 0;
        og_buf_printf(out, "%c %c %c", v2 ? '2' : '1', r->enabled ? 'E' : 'D', r->legacy ? 'L' : 'F');
        put_enc(out, r->id);
        put_enc(out, r->prefix);
        og_buf_puts(out, " ");
        og_buf_put(out, r->tags.base, r->tags.len);
        put_num(out, r->has_gt, r->size_gt);
        put_num(out, r->has_lt, r->size_lt);
        put_num(out, r->exp_days != 0, r->exp_days);
        put_num(out, r->exp_date != 0, r->exp_date);
        put_num(out, r->abort_days != 0, r->abort_days);
        if (v2) {
            put_num(out, r->ncv_days != 0, r->ncv_days);
            put_num(out, r->ncv_newer != 0, r->ncv_newer);
            og_buf_puts(out, r->edm ? " T" : " -");
        }
        og_buf_puts(out, "\n");
    }
    return out->oom ? -ENOMEM : 0;
}

/* A number field: "-" (absent: *has 0) or decimal. 0 or OG_EPROTO. */
static int get_num(og_str_t f, int *has, uint64_t *v)
{
    *has = !(f.len == 1 && f.base[0] == '-');
    *v = 0;
    return *has && og_parse_dec(f, 20, v) != 0 ? OG_EPROTO : 0;
}

/* Decodes a percent-encoded field into dst (room for f.len + 1 bytes). */
static int get_enc(og_str_t f, char *dst, og_str_t *out)
{
    long n = og_urldecode(f.base, f.len, dst, f.len + 1, 0);
    if (n < 0)
        return OG_EPROTO;
    *out = (og_str_t){dst, (size_t)n};
    return 0;
}

/* The versioned actions of a version 2 line (fields f[LC_FIELDS_V1..LC_FIELDS)) into r. 0 or OG_EPROTO. */
static int rule_decode_v2(const og_str_t *f, core_lc_rule_t *r)
{
    uint64_t days, newer;
    int has, rc = get_num(f[0], &has, &days) | get_num(f[1], &has, &newer);
    if (rc != 0 || days > UINT32_MAX || newer > UINT32_MAX || f[2].len != 1)
        return OG_EPROTO;
    r->ncv_days = (uint32_t)days, r->ncv_newer = (uint32_t)newer;
    r->edm = f[2].base[0] == 'T';
    return r->edm || f[2].base[0] == '-' ? 0 : OG_EPROTO;
}

/* One line of nf fields (f[0..nf)) into r; decoded strings go to mem. 0 or OG_EPROTO. */
static int rule_decode(const og_str_t *f, size_t nf, char *mem, core_lc_rule_t *r)
{
    uint64_t days, date, abort;
    int has, rc = 0;
    if (!(og_str_eq(f[0], "1") ? nf == LC_FIELDS_V1 : og_str_eq(f[0], "2") && nf == LC_FIELDS) || f[1].len != 1 ||
        f[2].len != 1)
        return OG_EPROTO;
    r->enabled = f[1].base[0] == 'E';
    r->legacy = f[2].base[0] == 'L';
    r->tags = f[5];
    rc |= get_enc(f[3], mem, &r->id);
    rc |= get_enc(f[4], mem + f[3].len + 1, &r->prefix);
    rc |= get_num(f[6], &r->has_gt, &r->size_gt);
    rc |= get_num(f[7], &r->has_lt, &r->size_lt);
    rc |= get_num(f[8], &has, &days);
    rc |= get_num(f[9], &has, &date);
    rc |= get_num(f[10], &has, &abort);
    if (rc != 0 || days > UINT32_MAX || abort > UINT32_MAX)
        return OG_EPROTO;
    r->exp_days = (uint32_t)days, r->exp_date = date, r->abort_days = (uint32_t)abort;
    return nf == LC_FIELDS ? rule_decode_v2(f + LC_FIELDS_V1, r) : 0;
}

int core_lc_decode(og_str_t s, core_lc_t *out)
{
    size_t n = 0;
    int rc = 0;
    for (size_t i = 0; i < s.len; i++)
        n += s.base[i] == '\n';
    *out = (core_lc_t){0};
    out->rules = calloc(n ? n : 1, sizeof(*out->rules));
    out->_mem = malloc(2 * s.len + 2);
    if (!out->rules || !out->_mem) {
        core_lc_free(out);
        return -ENOMEM;
    }
    memcpy(out->_mem, s.base, s.len); /* tags slice into this copy; decoded strings after it */
    const char *p = out->_mem, *end = out->_mem + s.len;
    char *mem = out->_mem + s.len;
    while (rc == 0 && p < end) {
        const char *nl = memchr(p, '\n', (size_t)(end - p));
        og_str_t f[LC_FIELDS];
        size_t k = 0;
        if (!nl)
            break;
        /* the fields, the tags' (which hold no space) among them; a version 1 line ends sooner */
        for (const char *q = p; k < LC_FIELDS && q <= nl; k++) {
            const char *sp = memchr(q, ' ', (size_t)(nl - q));
            const char *e = sp && k + 1 < LC_FIELDS ? sp : nl;
            f[k] = (og_str_t){q, (size_t)(e - q)};
            q = e + 1;
        }
        rc = k >= LC_FIELDS_V1 ? rule_decode(f, k, mem, &out->rules[out->n]) : OG_EPROTO;
        mem += f[3].len + f[4].len + 2;
        out->n++;
        p = nl + 1;
    }
    if (rc != 0 || p != end)
        core_lc_free(out);
    return rc != 0 ? rc : p != end ? OG_EPROTO : 0;
}

void core_lc_free(core_lc_t *lc)
{
    free(lc->rules);
    free(lc->_mem);
    *lc = (core_lc_t){0};
}

/* ---- matching ---- */

static int has_prefix(og_str_t key, og_str_t prefix)
{
    return key.len >= prefix.len && memcmp(key.base, prefix.base, prefix.len) == 0;
}

/* Does the tag form `form` hold the tag (k, v) (both decoded)? Forms decode with '+' as space. */
static int form_has(og_str_t form, const char *k, size_t kl, const char *v, size_t vl, char *scratch)
{
    const char *p = form.base, *end = form.base + form.len;
    while (p < end) {
        const char *amp = memchr(p, '&', (size_t)(end - p)), *e = amp ? amp : end;
        const char *eq = memchr(p, '=', (size_t)(e - p)), *ke = eq ? eq : e;
        long n = og_urldecode(p, (size_t)(ke - p), scratch, form.len + 1, 1);
        long m = eq ? og_urldecode(eq + 1, (size_t)(e - eq - 1), scratch + form.len + 1, form.len + 1, 1) : 0;
        if (n == (long)kl && m == (long)vl && memcmp(scratch, k, kl) == 0 &&
            memcmp(scratch + form.len + 1, v, vl) == 0)
            return 1;
        p = amp ? amp + 1 : end;
    }
    return 0;
}

/* Does the object's tag form hold every tag of the rule's form? 1, 0, or -ENOMEM. */
static int tags_match(og_str_t rule, og_str_t obj)
{
    size_t cap = rule.len + obj.len + 2;
    char *mem = malloc(2 * cap + 2 * (obj.len + 1)), *scratch = mem + 2 * cap;
    int ok = 1;
    const char *p = rule.base, *end = rule.base + rule.len;
    if (!mem)
        return -ENOMEM;
    while (ok && p < end) {
        const char *amp = memchr(p, '&', (size_t)(end - p)), *e = amp ? amp : end;
        const char *eq = memchr(p, '=', (size_t)(e - p)), *ke = eq ? eq : e;
        long n = og_urldecode(p, (size_t)(ke - p), mem, cap, 1);
        long m = eq ? og_urldecode(eq + 1, (size_t)(e - eq - 1), mem + cap, cap, 1) : 0;
        ok = n >= 0 && m >= 0 && form_has(obj, mem, (size_t)n, mem + cap, (size_t)m, scratch);
        p = amp ? amp + 1 : end;
    }
    free(mem);
    return ok;
}

/* What a rule is asked about: the current version of a key (its index record), a noncurrent
 * version (a version table record under a newer one), a delete marker that is the only version
 * of its key left, or a multipart upload. */
typedef enum { LC_CURRENT, LC_NONCURRENT, LC_MARKER, LC_UPLOAD } lc_kind_t;

typedef struct {
    lc_kind_t kind;
    og_str_t key;
    const core_meta_t *m; /* the version's summary (a delete marker: size 0, no tags) */
    uint64_t since_s;     /* LC_NONCURRENT: when the next newer version was written */
    uint32_t newer;       /* LC_NONCURRENT: how many noncurrent versions are newer than it */
} lc_cand_t;

/* `days` days after base_s: AWS rounds up to the next midnight UTC; a shortened test day is not
 * rounded. */
static uint64_t days_after(uint64_t base_s, uint32_t days, const core_lc_opts_t *o)
{
    uint64_t due = base_s + (uint64_t)days * o->day_s;
    if (o->day_s == CORE_LC_DAY_S)
        due = (due + CORE_LC_DAY_S - 1) / CORE_LC_DAY_S * CORE_LC_DAY_S;
    return due;
}

/* The time (Unix seconds) at which rule r makes candidate c due, or UINT64_MAX when r does not
 * act on it (disabled, no action for its kind, filtered out by prefix or size; tags are the
 * caller's). Current versions: Expiration Days from the write, or Date. Noncurrent ones:
 * NoncurrentDays from when they became noncurrent, beyond the NewerNoncurrentVersions newest. A
 * lone delete marker: at once with ExpiredObjectDeleteMarker, and, as AWS documents, Expiration
 * Days after it was written. */
static uint64_t rule_due(const core_lc_rule_t *r, const lc_cand_t *c, const core_lc_opts_t *o)
{
    uint64_t mtime_s = c->m->mtime_ns / 1000000000u, size = c->m->size;
    if (!r->enabled || !has_prefix(c->key, r->prefix) || (r->has_gt && size <= r->size_gt) ||
        (r->has_lt && size >= r->size_lt))
        return UINT64_MAX;
    switch (c->kind) {
    case LC_CURRENT:
        return r->exp_date ? r->exp_date : r->exp_days ? days_after(mtime_s, r->exp_days, o) : UINT64_MAX;
    case LC_NONCURRENT:
        return r->ncv_days && c->newer >= r->ncv_newer ? days_after(c->since_s, r->ncv_days, o) : UINT64_MAX;
    case LC_MARKER:
        return r->edm ? 0 : r->exp_days ? days_after(mtime_s, r->exp_days, o) : UINT64_MAX;
    case LC_UPLOAD: /* upload_due's */
        break;
    }
    return UINT64_MAX;
}

/* ---- one pass ---- */

typedef struct {
    cluster_t *cl;
    const char *bucket;
    const core_lc_t *lc;
    const core_lc_opts_t *o;
    core_lc_stats_t *st;
    char table[CORE_TABLE_CAP];
    int versioned; /* the bucket's versioning was set: expiry writes a delete marker */
    /* the upload walk: the due upload whose parts are being dropped (its key), and whether
       every part went */
    char pending[OG_KEY_MAX + 1];
    size_t pending_len;
    int pending_ok;
    og_str_t pending_rule;
    /* the version walk: the key whose versions come (newest first) and what they showed so far */
    char vkey[OG_KEY_MAX + 1];
    size_t vkey_len;
    uint32_t vseen;      /* versions of the key seen */
    uint32_t vleft;      /* of them, those that stay */
    uint64_t vnewer_ns;  /* the write time of the version seen last: when the next became noncurrent */
    core_meta_t vmarker; /* the key's newest version when it is a delete marker (vid, mtime), else vid "" */
} lc_walk_t;

/* Counts one action's outcome (a version Object Lock kept: skipped_locked), tells the reporter,
 * and paces the pass: 1 when it must stop (max_actions reached), else 0. */
static int lc_done(lc_walk_t *w, const char *what, og_str_t key, og_str_t vid, og_str_t rule, int rc)
{
    const core_lc_opts_t *o = w->o;
    core_lc_stats_t *st = w->st;
    uint64_t *count = rc == CORE_ELOCKED ? &st->skipped_locked
                      : rc != 0          ? &st->failed
                      : what[0] == 'e'   ? &st->expired
                      : what[0] == 'a'   ? &st->aborted
                      : what[0] == 'n'   ? &st->noncurrent
                                         : &st->markers;
    (*count)++;
    if (o->report)
        o->report(o->ctx, what, w->bucket, key, vid, rule, rc);
    if (rc == CORE_ELOCKED) /* nothing was done: neither paced nor counted against max_actions */
        return 0;
    if (o->rate && !o->dry_run) {
        uint64_t ns = 1000000000u / o->rate;
        struct timespec ts = {(time_t)(ns / 1000000000u), (long)(ns % 1000000000u)};
        nanosleep(&ts, NULL);
    }
    if (o->max_actions &&
        st->expired + st->aborted + st->noncurrent + st->markers + st->failed >= o->max_actions) {
        st->bounded = 1;
        return 1;
    }
    return 0;
}

/* The earliest due time any rule gives candidate c, reading the version's tags (its record's
 * detail: the index's for a current one, the version table's otherwise) only when a rule filters
 * by them. *rule: the rule's ID. UINT64_MAX when none; an error as is. */
static int cand_due(lc_walk_t *w, const lc_cand_t *c, uint64_t *due, og_str_t *rule)
{
    core_meta_t full;
    char *buf = NULL;
    int rc = 0, have = 0;
    *due = UINT64_MAX;
    for (size_t i = 0; i < w->lc->n && rc == 0; i++) {
        const core_lc_rule_t *r = &w->lc->rules[i];
        uint64_t d = rule_due(r, c, w->o);
        if (d >= *due)
            continue;
        if (r->tags.len && !have) {
            rc = c->kind == LC_CURRENT ? core_obj_lookup(w->cl, w->bucket, c->key, &full, &buf)
                                       : core_ver_lookup(w->cl, w->bucket, c->key, og_str(c->m->vid), &full, &buf);
            if (rc != 0)
                break;
            have = 1;
        }
        int ok = 1;
        if (r->tags.len && (full.mtime_ns != c->m->mtime_ns ||
                            (ok = tags_match(r->tags, og_header_find(full.headers, full.num_headers, LC_TAGS_HDR))) <= 0))
            rc = ok < 0 ? ok : 0;
        else
            *due = d, *rule = r->id;
    }
    if (have)
        core_meta_free(&full);
    free(buf);
    return rc == OG_ENOTFOUND ? 0 : rc;
}

/* core_cond_fn: the current object is still the one the pass judged (same write, same bytes). */
static int same_object(void *ctx, const core_meta_t *cur)
{
    const core_meta_t *m = ctx;
    return cur && cur->mtime_ns == m->mtime_ns && memcmp(cur->md5, m->md5, 16) == 0 ? 0 : CORE_EPRECOND;
}

/* Expires current object m of key: in a bucket that was never versioned a tombstone stamped at the
 * due time (a later write wins); in a versioned one a delete marker on top, written under the key's
 * lease only while m is still current, so no version is removed (locked ones neither).
 * 0, CORE_EPRECOND (m was replaced meanwhile: nothing to do) or an error. */
static int obj_expire(lc_walk_t *w, og_str_t key, core_meta_t *m, uint64_t due)
{
    char vid[CORE_VID_LEN + 1];
    if (!w->versioned) {
        m->delete_at = due;
        return core_obj_expire(w->cl, w->bucket, key, m);
    }
    return core_obj_delete_if(w->cl, w->bucket, key, same_object, m, w->o->now_s, vid);
}

/* cluster_table_each callback over "o.<bucket>": expires the object when due. */
static int lc_object(void *ctx, og_str_t key, const og_rec_t *rec)
{
    lc_walk_t *w = ctx;
    core_meta_t m;
    uint64_t due;
    og_str_t rule = {0};
    int rc;
    if (core_meta_decode(rec, &m) != 0)
        return 0; /* not an object record this pass can judge: left alone */
    w->st->scanned++;
    lc_cand_t c = {LC_CURRENT, key, &m, 0, 0};
    rc = cand_due(w, &c, &due, &rule);
    if (rc == 0 && due <= w->o->now_s && !(m.vflags & CORE_VER_MARKER)) {
        rc = w->o->dry_run ? 0 : obj_expire(w, key, &m, due);
        rc = rc == CORE_EPRECOND ? 0 : lc_done(w, "expire", key, OG_STR_LIT(""), rule, rc) ? 1 : 0;
    } else if (rc != 0) {
        rc = lc_done(w, "expire", key, OG_STR_LIT(""), rule, rc) ? 1 : 0;
    }
    core_meta_free(&m);
    return rc;
}

/* Ends the pending upload: its upload record goes when every part went. 1 to stop, else 0. */
static int upload_finish(lc_walk_t *w)
{
    og_str_t key = {w->pending, w->pending_len};
    int rc = w->pending_ok ? 0 : OG_EQUORUM;
    if (w->pending_len == 0)
        return 0;
    w->pending_len = 0;
    if (rc == 0 && !w->o->dry_run)
        rc = core_rec_delete(w->cl, w->table, key);
    return lc_done(w, "abort", key, OG_STR_LIT(""), w->pending_rule, rc);
}

/* The ID of the first enabled rule that aborts an upload of key started at start_s. */
static int upload_due(const lc_walk_t *w, og_str_t key, uint64_t start_s, og_str_t *rule)
{
    for (size_t i = 0; i < w->lc->n; i++) {
        const core_lc_rule_t *r = &w->lc->rules[i];
        if (r->enabled && r->abort_days && has_prefix(key, r->prefix) &&
            start_s + (uint64_t)r->abort_days * w->o->day_s <= w->o->now_s) {
            *rule = r->id;
            return 1;
        }
    }
    return 0;
}

/* cluster_table_each callback over "u.<bucket>" (an upload's record "key SEP id", then its parts
 * "key SEP id SEP nnnnn"): a due upload's parts are tombstoned, then the upload. */
static int lc_upload(void *ctx, og_str_t key, const og_rec_t *rec)
{
    lc_walk_t *w = ctx;
    const char *sep = memchr(key.base, CORE_UPLOAD_SEP, key.len);
    if (w->pending_len && key.len > w->pending_len && memcmp(key.base, w->pending, w->pending_len) == 0) {
        if (!w->o->dry_run && core_rec_delete(w->cl, w->table, key) != 0)
            w->pending_ok = 0;
        return 0;
    }
    if (upload_finish(w))
        return 1;
    if (sep == NULL || key.len - (size_t)(sep - key.base) - 1 != CORE_UPLOAD_ID_LEN || key.len > OG_KEY_MAX)
        return 0;
    og_str_t obj = {key.base, (size_t)(sep - key.base)}, rule;
    if (upload_due(w, obj, rec->ts / 1000000000u, &rule)) {
        memcpy(w->pending, key.base, key.len);
        w->pending_len = key.len, w->pending_ok = 1, w->pending_rule = rule;
    }
    return 0;
}

/* Is noncurrent candidate c still under a newer version (clients may have removed those since the
 * listing)? 1, 0, or an error. */
static int still_noncurrent(lc_walk_t *w, const lc_cand_t *c)
{
    core_meta_t newest;
    char *buf = NULL;
    int rc = core_ver_newest(w->cl, w->bucket, c->key, &newest, &buf);
    if (rc == 0) {
        rc = strcmp(newest.vid, c->m->vid) != 0;
        core_meta_free(&newest);
    }
    free(buf);
    return rc == OG_ENOTFOUND ? 0 : rc;
}

/* Removes version c of the walked key for good, as rule `rule` makes it due, unless Object Lock
 * keeps it (the lifecycle never bypasses a retention) or, noncurrent when judged, it became
 * current again: counted and reported as `what`. *gone: whether it went (or would have, in a
 * dry run). 1 when the pass must stop, else 0. */
static int ver_remove(lc_walk_t *w, const lc_cand_t *c, const char *what, og_str_t rule, int *gone)
{
    og_str_t vid = og_str(c->m->vid);
    int rc = 1; /* 1: go ahead */
    *gone = 0;
    if (core_lock_holds(&c->m->lock, og_time_ns() / 1000000u, 0))
        rc = CORE_ELOCKED;
    else if (c->kind == LC_NONCURRENT && !w->o->dry_run)
        rc = still_noncurrent(w, c);
    if (rc == 0) /* current again: it stays */
        return 0;
    if (rc == 1) /* core_ver_delete checks the lock again, from the record */
        rc = w->o->dry_run ? 0 : core_ver_delete(w->cl, w->bucket, c->key, vid, 0, NULL);
    *gone = rc == 0;
    return lc_done(w, what, c->key, vid, rule, rc);
}

/* The walked key's versions all came: its newest, a delete marker, goes when it is the only one
 * left and a rule makes it due. 1 when the pass must stop, else 0. */
static int ver_key_done(lc_walk_t *w)
{
    og_str_t key = {w->vkey, w->vkey_len}, rule = {0};
    lc_cand_t c = {LC_MARKER, key, &w->vmarker, 0, 0};
    uint64_t due;
    int gone, rc = 0;
    if (w->vkey_len == 0 || w->vmarker.vid[0] == '\0' || w->vleft != 1)
        return 0;
    rc = cand_due(w, &c, &due, &rule);
    if (rc != 0)
        return lc_done(w, "marker", key, og_str(w->vmarker.vid), rule, rc);
    return due <= w->o->now_s ? ver_remove(w, &c, "marker", rule, &gone) : 0;
}

/* Starts the walk of key's versions (the previous key's are done). 1 when the pass must stop. */
static int ver_key_start(lc_walk_t *w, og_str_t key)
{
    if (ver_key_done(w))
        return 1;
    memcpy(w->vkey, key.base, key.len);
    w->vkey_len = key.len, w->vseen = 0, w->vleft = 0, w->vnewer_ns = 0;
    w->vmarker = (core_meta_t){0};
    return 0;
}

/* cluster_table_each callback over "v.<bucket>" (key, CORE_VER_SEP, sort id: a key's versions
 * newest first): the newest is current (the index walk judged it); each older one is noncurrent
 * since the write of the one above it, and goes when a rule makes it due. */
static int lc_version(void *ctx, og_str_t item, const og_rec_t *rec)
{
    lc_walk_t *w = ctx;
    og_str_t key = core_ver_item_key(item), rule = {0};
    core_meta_t m;
    uint64_t due;
    int gone = 0, rc = 0;
    if (key.len == 0 || key.len > OG_KEY_MAX || core_meta_decode(rec, &m) != 0)
        return 0; /* not a version record this pass can judge: left alone */
    if ((key.len != w->vkey_len || memcmp(key.base, w->vkey, key.len) != 0) && ver_key_start(w, key)) {
        rc = 1;
        goto out_free_meta;
    }
    w->st->scanned++;
    lc_cand_t c = {LC_NONCURRENT, key, &m, w->vnewer_ns / 1000000000u, w->vseen > 0 ? w->vseen - 1 : 0};
    w->vnewer_ns = m.mtime_ns;
    if (w->vseen++ == 0) {
        if (m.vflags & CORE_VER_MARKER)
            memcpy(w->vmarker.vid, m.vid, sizeof(m.vid)), w->vmarker.mtime_ns = m.mtime_ns;
    } else if ((rc = cand_due(w, &c, &due, &rule)) != 0) {
        rc = lc_done(w, "noncurrent", key, og_str(m.vid), rule, rc);
    } else if (due <= w->o->now_s) {
        rc = ver_remove(w, &c, "noncurrent", rule, &gone);
    }
    w->vleft += !gone;
out_free_meta:
    core_meta_free(&m);
    return rc;
}

/* Does lc hold an enabled rule that acts on current objects (LC_CURRENT), on versions
 * (LC_NONCURRENT: noncurrent versions and lone delete markers) or on uploads (LC_UPLOAD)? */
static int any_rule(const core_lc_t *lc, lc_kind_t kind)
{
    for (size_t i = 0; i < lc->n; i++) {
        const core_lc_rule_t *r = &lc->rules[i];
        if (r->enabled && (kind == LC_UPLOAD    ? r->abort_days != 0
                           : kind == LC_CURRENT ? r->exp_days != 0 || r->exp_date != 0
                                                : r->ncv_days != 0 || r->edm || r->exp_days != 0))
            return 1;
    }
    return 0;
}

int core_lc_bucket(cluster_t *cl, const char *bucket, const core_lc_t *lc, const core_lc_opts_t *o,
                   core_lc_stats_t *st)
{
    lc_walk_t w = {.cl = cl, .bucket = bucket, .lc = lc, .o = o, .st = st};
    core_versioning_t state = CORE_VER_OFF;
    int rc = 0;
    st->buckets++;
    if ((any_rule(lc, LC_CURRENT) || any_rule(lc, LC_NONCURRENT)) &&
        (rc = core_versioning_get(cl, bucket, &state, NULL)) == 0)
        w.versioned = state != CORE_VER_OFF;
    if (rc == 0 && any_rule(lc, LC_CURRENT)) {
        core_table('o', bucket, w.table);
        rc = cluster_table_each(cl, w.table, lc_object, &w);
    }
    /* after the objects: a delete marker just put makes its version noncurrent from now on */
    if (rc == 0 && !st->bounded && w.versioned && any_rule(lc, LC_NONCURRENT)) {
        core_table('v', bucket, w.table);
        rc = cluster_table_each(cl, w.table, lc_version, &w);
        if (rc == 0)
            rc = ver_key_done(&w);
    }
    if (rc == 0 && !st->bounded && any_rule(lc, LC_UPLOAD)) {
        core_table('u', bucket, w.table);
        rc = cluster_table_each(cl, w.table, lc_upload, &w);
        if (rc == 0)
            rc = upload_finish(&w);
    }
    return rc == 1 ? 0 : rc;
}
