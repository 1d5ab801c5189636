/*
 * core_lc.c: S3 lifecycle rules (core.h): their stored line form, and one pass over a bucket that
 * expires due objects and aborts old multipart uploads (docs/architecture.md, "Lifecycle").
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "core.h"

#define LC_FIELDS 11
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
        og_buf_printf(out, "1 %c %c", r->enabled ? 'E' : 'D', r->legacy ? 'L' : 'F');
        put_enc(out, r->id);
        put_enc(out, r->prefix);
        og_buf_puts(out, " ");
        og_buf_put(out, r->tags.base, r->tags.len);
        put_num(out, r->has_gt, r->size_gt);
        put_num(out, r->has_lt, r->size_lt);
        put_num(out, r->exp_days != 0, r->exp_days);
        put_num(out, r->exp_date != 0, r->exp_date);
        put_num(out, r->abort_days != 0, r->abort_days);
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

/* One line (fields f[0..LC_FIELDS)) into r; decoded strings go to mem. 0 or OG_EPROTO. */
static int rule_decode(const og_str_t *f, char *mem, core_lc_rule_t *r)
{
    uint64_t days, date, abort;
    int has, rc = 0;
    if (!og_str_eq(f[0], "1") || f[1].len != 1 || f[2].len != 1)
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
    return 0;
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
        for (const char *q = p; k < LC_FIELDS && q <= nl; k++) {
            const char *sp = memchr(q, ' ', (size_t)(nl - q));
            const char *e = sp && k + 1 < LC_FIELDS ? sp : nl;
            f[k] = (og_str_t){q, (size_t)(e - q)};
            q = e + 1;
        }
        rc = k == LC_FIELDS ? rule_decode(f, mem, &out->rules[out->n]) : OG_EPROTO;
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

/* The time (Unix seconds) at which rule r makes an object written at mtime_s and of `size` bytes
 * due, or UINT64_MAX when r does not expire it (disabled, no Expiration, filtered out by prefix
 * or size; tags are the caller's). AWS counts Days from the write and rounds up to the next
 * midnight UTC; a shortened test day is not rounded. */
static uint64_t rule_due(const core_lc_rule_t *r, og_str_t key, uint64_t mtime_s, uint64_t size,
                         const core_lc_opts_t *o)
{
    if (!r->enabled || (r->exp_days == 0 && r->exp_date == 0) || !has_prefix(key, r->prefix) ||
        (r->has_gt && size <= r->size_gt) || (r->has_lt && size >= r->size_lt))
        return UINT64_MAX;
    if (r->exp_date != 0)
        return r->exp_date;
    uint64_t due = mtime_s + (uint64_t)r->exp_days * o->day_s;
    if (o->day_s == CORE_LC_DAY_S)
        due = (due + CORE_LC_DAY_S - 1) / CORE_LC_DAY_S * CORE_LC_DAY_S;
    return due;
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
} lc_walk_t;

/* Counts one action's outcome, tells the reporter, and paces the pass: 1 when it must stop
 * (max_actions reached), else 0. */
static int lc_done(lc_walk_t *w, const char *what, og_str_t key, og_str_t rule, int rc)
{
    const core_lc_opts_t *o = w->o;
    if (rc != 0)
        w->st->failed++;
    else if (what[0] == 'e')
        w->st->expired++;
    else
        w->st->aborted++;
    if (o->report)
        o->report(o->ctx, what, w->bucket, key, rule, rc);
    if (o->rate && !o->dry_run) {
        uint64_t ns = 1000000000u / o->rate;
        struct timespec ts = {(time_t)(ns / 1000000000u), (long)(ns % 1000000000u)};
        nanosleep(&ts, NULL);
    }
    if (o->max_actions && w->st->expired + w->st->aborted + w->st->failed >= o->max_actions) {
        w->st->bounded = 1;
        return 1;
    }
    return 0;
}

/* The earliest due time any rule gives object (key, m), reading its tags (the record's detail)
 * only when a rule filters by them. *rule: the rule's ID. UINT64_MAX when none; an error as is. */
static int obj_due(lc_walk_t *w, og_str_t key, const core_meta_t *m, uint64_t *due, og_str_t *rule)
{
    core_meta_t full;
    char *buf = NULL;
    int rc = 0, have = 0;
    *due = UINT64_MAX;
    for (size_t i = 0; i < w->lc->n && rc == 0; i++) {
        const core_lc_rule_t *r = &w->lc->rules[i];
        uint64_t d = rule_due(r, key, m->mtime_ns / 1000000000u, m->size, w->o);
        if (d >= *due)
            continue;
        if (r->tags.len && !have) {
            if ((rc = core_obj_lookup(w->cl, w->bucket, key, &full, &buf)) != 0)
                break;
            have = 1;
        }
        int ok = 1;
        if (r->tags.len && (full.mtime_ns != m->mtime_ns ||
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
    rc = obj_due(w, key, &m, &due, &rule);
    if (rc == 0 && due <= w->o->now_s && !(m.vflags & CORE_VER_MARKER)) {
        rc = w->o->dry_run ? 0 : obj_expire(w, key, &m, due);
        rc = rc == CORE_EPRECOND ? 0 : lc_done(w, "expire", key, rule, rc) ? 1 : 0;
    } else if (rc != 0) {
        rc = lc_done(w, "expire", key, rule, rc) ? 1 : 0;
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
    return lc_done(w, "abort", key, w->pending_rule, rc);
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

static int any_rule(const core_lc_t *lc, int uploads)
{
    for (size_t i = 0; i < lc->n; i++)
        if (lc->rules[i].enabled && (uploads ? lc->rules[i].abort_days != 0
                                             : lc->rules[i].exp_days != 0 || lc->rules[i].exp_date != 0))
            return 1;
    return 0;
}

int core_lc_bucket(cluster_t *cl, const char *bucket, const core_lc_t *lc, const core_lc_opts_t *o,
                   core_lc_stats_t *st)
{
    lc_walk_t w = {.cl = cl, .bucket = bucket, .lc = lc, .o = o, .st = st};
    core_versioning_t state = CORE_VER_OFF;
    int rc = 0;
    st->buckets++;
    if (any_rule(lc, 0) && (rc = core_versioning_get(cl, bucket, &state, NULL)) == 0) {
        w.versioned = state != CORE_VER_OFF;
        core_table('o', bucket, w.table);
        rc = cluster_table_each(cl, w.table, lc_object, &w);
    }
    if (rc == 0 && !st->bounded && any_rule(lc, 1)) {
        core_table('u', bucket, w.table);
        rc = cluster_table_each(cl, w.table, lc_upload, &w);
        if (rc == 0)
            rc = upload_finish(&w);
    }
    return rc == 1 ? 0 : rc;
}
