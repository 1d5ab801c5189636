/*
 * core_version.c: S3 versioning on the object index (core.h; docs/architecture.md, "Versioning").
 *
 * "o.<bucket>" holds the current version of each key, so GET and listings of a versioned bucket
 * cost what they cost before, and a bucket never versioned writes nothing more. Once versioning
 * is set, a write stores the version in "v.<bucket>" first and the index second:
 *  - the version record is keyed key + CORE_VER_SEP + sort id (~ts, ~tiebreak in hex), so a key's
 *    versions sort newest first and a listing of the table is ListObjectVersions' order;
 *  - the index record is written at the version's own ts with tiebreak 0, cluster_rec_put's
 *    conditional write: it loses to a newer version already indexed, so of two racing writers
 *    the index always ends on the newer version, whatever order their writes land in;
 *  - a crash between the two leaves a version the index does not show yet (the write was not
 *    acknowledged; the index still names the previous version, which the version table holds
 *    too), never an index naming a version that is missing: the index record is a full copy,
 *    so GET of the current version never needs the version table.
 * A delete marker is a version record with CORE_VER_MARKER and a tombstone in the index.
 */
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core.h"

#define VER_PAGE 64 /* versions of one key asked for per listing call */
/* A version record's key: object key, separator, sort id. */
#define VKEY_CAP (OG_KEY_MAX + 1 + CORE_VID_LEN + 1)

/* ---------------------------------------------------------------- bucket state */

/* "Enabled[;mode;days;years]" into *c. */
static void lock_conf_parse(og_str_t v, core_lock_conf_t *c)
{
    char buf[64];
    unsigned mode = 0, days = 0, years = 0;
    snprintf(buf, sizeof(buf), "%.*s", (int)v.len, v.base);
    c->enabled = 1;
    if (sscanf(buf, "Enabled;%u;%u;%u", &mode, &days, &years) == 3 && mode <= CORE_LOCK_COMPLIANCE)
        c->mode = (uint8_t)mode, c->days = days, c->years = years;
}

int core_versioning_get(cluster_t *cl, const char *bucket, core_versioning_t *out, core_lock_conf_t *lock)
{
    core_bucket_t b;
    core_lock_conf_t conf = {0};
    *out = CORE_VER_OFF;
    if (lock != NULL)
        *lock = conf;
    /* A bucket with an id of its own ("Namespaces") is never versioned: a write knows only the id,
     * which does not lead to the record (CORE_EIDVER for the setters). */
    if (strlen(bucket) == CORE_BID_LEN)
        return 0;
    int rc = core_bucket_get(cl, bucket, &b);
    if (rc != 0)
        return rc;
    for (size_t i = 0; i < b.num_meta; i++) {
        if (og_str_eq(b.meta[i].name, CORE_VER_BUCKET_HDR))
            *out = og_str_eq(b.meta[i].value, "Enabled") ? CORE_VER_ENABLED : CORE_VER_SUSPENDED;
        else if (og_str_eq(b.meta[i].name, CORE_LOCK_BUCKET_HDR))
            lock_conf_parse(b.meta[i].value, &conf);
    }
    if (lock != NULL)
        *lock = conf;
    core_bucket_free(&b);
    return 0;
}

/* Rewrites bucket's record with the n entries of set in its metadata (replacing those of the same
 * names). 0, OG_ENOTFOUND, or an error. */
static int bucket_meta_set(cluster_t *cl, const char *bucket, const og_header_t *set, size_t n)
{
    core_bucket_t b;
    og_header_t *meta;
    size_t k = 0;
    if (strlen(bucket) == CORE_BID_LEN)
        return CORE_EIDVER; /* see core_versioning_get */
    int rc = core_bucket_get(cl, bucket, &b);
    if (rc != 0)
        return rc;
    if ((meta = malloc((b.num_meta + n) * sizeof(*meta))) == NULL) {
        rc = -ENOMEM;
        goto out_free_bucket;
    }
    for (size_t i = 0; i < b.num_meta; i++) {
        int replaced = 0;
        for (size_t j = 0; j < n; j++)
            replaced |= og_str_cmp(b.meta[i].name, set[j].name) == 0;
        if (!replaced)
            meta[k++] = b.meta[i];
    }
    memcpy(meta + k, set, n * sizeof(*set));
    core_bucket_t nb = b;
    nb.meta = meta, nb.num_meta = k + n;
    rc = core_bucket_put(cl, bucket, &nb);
    free(meta);
out_free_bucket:
    core_bucket_free(&b);
    return rc;
}

int core_versioning_put(cluster_t *cl, const char *bucket, core_versioning_t state)
{
    og_header_t h = {OG_STR_LIT(CORE_VER_BUCKET_HDR),
                     state == CORE_VER_ENABLED ? OG_STR_LIT("Enabled") : OG_STR_LIT("Suspended")};
    return bucket_meta_set(cl, bucket, &h, 1);
}

int core_lock_conf_put(cluster_t *cl, const char *bucket, const core_lock_conf_t *conf)
{
    char v[64];
    og_header_t h[2] = {{OG_STR_LIT(CORE_VER_BUCKET_HDR), OG_STR_LIT("Enabled")},
                        {OG_STR_LIT(CORE_LOCK_BUCKET_HDR), {v, 0}}};
    if (conf->mode == CORE_LOCK_NONE)
        h[1].value.len = (size_t)snprintf(v, sizeof(v), "Enabled");
    else
        h[1].value.len = (size_t)snprintf(v, sizeof(v), "Enabled;%u;%u;%u", conf->mode, conf->days, conf->years);
    return bucket_meta_set(cl, bucket, h, 2);
}

int core_lock_holds(const core_lock_t *l, uint64_t now_ms, int bypass)
{
    if (l->hold == CORE_HOLD_ON)
        return 1;
    if (l->mode == CORE_LOCK_NONE || l->until_ms <= now_ms)
        return 0;
    return l->mode == CORE_LOCK_COMPLIANCE || !bypass;
}

int core_ver_any(cluster_t *cl, const char *bucket)
{
    char vtable[CORE_TABLE_CAP];
    cluster_table_usage_t u;
    core_table('v', bucket, vtable);
    int rc = cluster_table_usage(cl, vtable, &u);
    return rc != 0 ? rc : u.records > 0;
}

/* ---------------------------------------------------------------- ids and keys */

const char *core_ver_id(const core_meta_t *m)
{
    return m->vid[0] == '\0' || (m->vflags & CORE_VER_NULL) ? "null" : m->vid;
}

static void vid_make(uint64_t ts, uint64_t tiebreak, char out[CORE_VID_LEN + 1])
{
    snprintf(out, CORE_VID_LEN + 1, "%016" PRIx64 "%016" PRIx64, ~ts, ~tiebreak);
}

/* Is v a sort id vid_make makes (32 lowercase hex digits)? */
static int vid_valid(og_str_t v)
{
    if (v.len != CORE_VID_LEN)
        return 0;
    for (size_t i = 0; i < v.len; i++)
        if (!((v.base[i] >= '0' && v.base[i] <= '9') || (v.base[i] >= 'a' && v.base[i] <= 'f')))
            return 0;
    return 1;
}

/* key + CORE_VER_SEP + vid into out (VKEY_CAP bytes). Its length, or 0 when the key is too long. */
static size_t vkey(og_str_t key, const char *vid, char *out)
{
    size_t vlen = strlen(vid);
    if (key.len > OG_KEY_MAX)
        return 0;
    memcpy(out, key.base, key.len);
    out[key.len] = CORE_VER_SEP;
    memcpy(out + key.len + 1, vid, vlen);
    return key.len + 1 + vlen;
}

/* ---------------------------------------------------------------- records */

/* Writes m (or, with tomb, a tombstone) as record (table, key) stamped exactly (ts, tiebreak):
 * with tiebreak 0, a write that loses to a newer record (cluster_rec_put). 0 or an error. */
static int ver_put(cluster_t *cl, const char *table, og_str_t key, const core_meta_t *m, uint64_t ts,
                   uint64_t tiebreak, int tomb)
{
    og_rec_t rec = {.ts = ts, .tiebreak = tiebreak, .flags = OG_REC_TOMBSTONE};
    return tomb ? cluster_rec_put(cl, table, key, &rec) : core_rec_put(cl, table, key, m, ts, tiebreak);
}

/* Calls fn(ctx, m) with the summary of each version of key, newest first, until it returns
 * non-zero: returns that (a positive value only stops), else 0 or a listing error. A version
 * whose summary does not decode is OG_ECORRUPT. */
static int ver_each(cluster_t *cl, const char *vtable, og_str_t key, int (*fn)(void *ctx, const core_meta_t *m),
                    void *ctx)
{
    char prefix[VKEY_CAP], after[VKEY_CAP];
    size_t plen = vkey(key, "", prefix), alen = 0;
    int rc = 0, more = 1;
    if (plen == 0)
        return OG_ENOTFOUND;
    while (more && rc == 0) {
        cluster_list_t l;
        if ((rc = cluster_list(cl, vtable, (og_str_t){prefix, plen}, (og_str_t){after, alen}, VER_PAGE, &l)) != 0)
            return rc;
        for (size_t i = 0; i < l.n && rc == 0; i++) {
            core_meta_t m;
            if ((rc = core_meta_decode(&l.entries[i].rec, &m)) != 0)
                rc = OG_ECORRUPT;
            else
                rc = fn(ctx, &m);
            core_meta_free(&m);
        }
        more = l.truncated && l.next_after.len < sizeof(after);
        if (more)
            memcpy(after, l.next_after.base, alen = l.next_after.len);
        cluster_list_free(&l);
    }
    return rc;
}

/* ver_each callback: the first version (other than `skip`, and only null ones with `null`). */
typedef struct {
    const char *skip;
    int null;
    char vid[CORE_VID_LEN + 1];
} ver_find_t;

static int find_fn(void *ctx, const core_meta_t *m)
{
    ver_find_t *f = ctx;
    if ((f->skip != NULL && strcmp(m->vid, f->skip) == 0) || (f->null && !(m->vflags & CORE_VER_NULL)))
        return 0;
    memcpy(f->vid, m->vid, sizeof(f->vid));
    return 1;
}

/* The sort id of the first version of key that f asks for into f->vid: 0, OG_ENOTFOUND, or an error. */
static int ver_find(cluster_t *cl, const char *vtable, og_str_t key, ver_find_t *f)
{
    int rc = ver_each(cl, vtable, key, find_fn, f);
    return rc == 1 ? 0 : rc == 0 ? OG_ENOTFOUND : rc;
}

/* Reads version record (key, vid) whole. As core_rec_lookup. */
static int ver_get(cluster_t *cl, const char *vtable, og_str_t key, const char *vid, core_meta_t *m, char **buf)
{
    char k[VKEY_CAP];
    size_t klen = vkey(key, vid, k);
    *buf = NULL;
    if (klen == 0)
        return OG_ENOTFOUND;
    return core_rec_lookup(cl, vtable, (og_str_t){k, klen}, m, buf);
}

/* ---------------------------------------------------------------- writing */

/* Before a versioned write replaces an index record written while the bucket was not versioned,
 * that record becomes the key's null version in the version table (at its own stamp, so doing it
 * twice writes the same record). 0 or an error. */
static int keep_unversioned(cluster_t *cl, const char *otable, const char *vtable, og_str_t key)
{
    core_meta_t cur;
    char *buf = NULL, k[VKEY_CAP];
    int rc = core_rec_lookup(cl, otable, key, &cur, &buf);
    if (rc == OG_ENOTFOUND)
        return 0;
    if (rc != 0)
        return rc;
    if (cur.vid[0] == '\0') {
        vid_make(cur.mtime_ns, 0, cur.vid);
        cur.vflags = CORE_VER_NULL;
        rc = ver_put(cl, vtable, (og_str_t){k, vkey(key, cur.vid, k)}, &cur, cur.mtime_ns, 0, 0);
    }
    core_meta_free(&cur);
    free(buf);
    return rc;
}

/* ver_each callback: removes null versions other than the one named by ctx. */
typedef struct {
    cluster_t *cl;
    const char *vtable, *keep;
    og_str_t key;
} drop_nulls_t;

static int drop_fn(void *ctx, const core_meta_t *m)
{
    drop_nulls_t *d = ctx;
    char k[VKEY_CAP];
    if (!(m->vflags & CORE_VER_NULL) || strcmp(m->vid, d->keep) == 0)
        return 0;
    return core_rec_delete(d->cl, d->vtable, (og_str_t){k, vkey(d->key, m->vid, k)});
}

/* A new version of key (m; a delete marker when m->vflags has CORE_VER_MARKER): the version record,
 * then the index. While versioning is suspended it is the null version and replaces the previous
 * one, which is removed last (a crash before leaves two; the newest is the one read). */
static int ver_commit(cluster_t *cl, const char *bucket, og_str_t key, core_meta_t *m, core_versioning_t st,
                      const core_lock_conf_t *conf)
{
    char otable[CORE_TABLE_CAP], vtable[CORE_TABLE_CAP], k[VKEY_CAP];
    uint64_t ts, tiebreak;
    int rc;
    /* a key holding the separator would mix with another key's versions (as in multipart uploads) */
    if (key.len == 0 || key.len > OG_KEY_MAX || memchr(key.base, CORE_VER_SEP, key.len) != NULL)
        return OG_EINVAL;
    core_table('o', bucket, otable);
    core_table('v', bucket, vtable);
    if (st == CORE_VER_ENABLED && (rc = keep_unversioned(cl, otable, vtable, key)) != 0)
        return rc;
    cluster_stamp(cl, &ts, &tiebreak);
    m->mtime_ns = ts;
    vid_make(ts, tiebreak, m->vid);
    if (conf->enabled && conf->mode != CORE_LOCK_NONE && m->lock.mode == CORE_LOCK_NONE &&
        !(m->vflags & CORE_VER_MARKER)) {
        /* the bucket's default retention, counted from the write (a year as 365 days, as S3) */
        m->lock.mode = conf->mode;
        m->lock.until_ms = ts / 1000000u + ((uint64_t)conf->days + 365u * (uint64_t)conf->years) * 86400000u;
    }
    m->vflags = (uint8_t)((m->vflags & CORE_VER_MARKER) | (st == CORE_VER_SUSPENDED ? CORE_VER_NULL : 0));
    if ((rc = ver_put(cl, vtable, (og_str_t){k, vkey(key, m->vid, k)}, m, ts, tiebreak, 0)) != 0 ||
        (rc = ver_put(cl, otable, key, m, ts, 0, (m->vflags & CORE_VER_MARKER) != 0)) != 0)
        return rc;
    if (st == CORE_VER_SUSPENDED) {
        drop_nulls_t d = {cl, vtable, m->vid, key};
        rc = ver_each(cl, vtable, key, drop_fn, &d);
    }
    return rc;
}

/* The versioning state and lock configuration a write into bucket follows: 0 or an error. A bucket
 * deleted meanwhile is unversioned: the record lands in its table, invisible (s3_delete_bucket). */
static int write_state(cluster_t *cl, const char *bucket, core_versioning_t *st, core_lock_conf_t *conf)
{
    int rc = core_versioning_get(cl, bucket, st, conf);
    return rc == OG_ENOTFOUND ? 0 : rc;
}

int core_obj_commit(cluster_t *cl, const char *bucket, og_str_t key, core_meta_t *m)
{
    char table[CORE_TABLE_CAP];
    core_versioning_t st;
    core_lock_conf_t conf;
    int rc = write_state(cl, bucket, &st, &conf);
    if (rc != 0)
        return rc;
    m->vflags = 0;
    m->vid[0] = '\0';
    if (st != CORE_VER_OFF) {
        rc = ver_commit(cl, bucket, key, m, st, &conf);
    } else {
        m->lock = (core_lock_t){0};
        core_table('o', bucket, table);
        rc = core_rec_commit(cl, table, key, m);
    }
    if (rc == 0) /* caches in front of the gateway may hold the previous bytes */
        cluster_changed(cl, CLUSTER_CHANGE_PUT, bucket, key, core_ver_id(m));
    return rc;
}

int core_obj_delete(cluster_t *cl, const char *bucket, og_str_t key, char marker_vid[CORE_VID_LEN + 1])
{
    char table[CORE_TABLE_CAP];
    core_versioning_t st;
    core_lock_conf_t conf;
    int rc = write_state(cl, bucket, &st, &conf);
    if (rc != 0)
        return rc;
    if (marker_vid != NULL)
        marker_vid[0] = '\0';
    if (st != CORE_VER_OFF) {
        core_meta_t marker = {.vflags = CORE_VER_MARKER, .content_type = OG_STR_LIT("")};
        if ((rc = ver_commit(cl, bucket, key, &marker, st, &conf)) == 0 && marker_vid != NULL)
            snprintf(marker_vid, CORE_VID_LEN + 1, "%s", core_ver_id(&marker));
    } else {
        core_table('o', bucket, table);
        rc = core_rec_delete(cl, table, key);
    }
    if (rc == 0) {
        core_quota_forget(cl, bucket, NULL);
        cluster_changed(cl, CLUSTER_CHANGE_DELETE, bucket, key, NULL);
    }
    return rc;
}

/* ---------------------------------------------------------------- reading */

int core_ver_lookup(cluster_t *cl, const char *bucket, og_str_t key, og_str_t vid, core_meta_t *m, char **buf)
{
    char otable[CORE_TABLE_CAP], vtable[CORE_TABLE_CAP];
    ver_find_t f = {.null = 1};
    int rc;
    *buf = NULL;
    memset(m, 0, sizeof(*m));
    core_table('o', bucket, otable);
    core_table('v', bucket, vtable);
    if (!og_str_eq(vid, "null")) {
        if (!vid_valid(vid))
            return OG_EINVAL;
        memcpy(f.vid, vid.base, CORE_VID_LEN);
        f.vid[CORE_VID_LEN] = '\0';
        return ver_get(cl, vtable, key, f.vid, m, buf);
    }
    /* the null version: an index record from before versioning, else a null one in the table */
    if ((rc = core_rec_lookup(cl, otable, key, m, buf)) == 0 && m->vid[0] == '\0')
        return 0;
    if (rc == 0) {
        core_meta_free(m);
        free(*buf);
        *buf = NULL;
    } else if (rc != OG_ENOTFOUND) {
        return rc;
    }
    if ((rc = ver_find(cl, vtable, key, &f)) != 0)
        return rc;
    return ver_get(cl, vtable, key, f.vid, m, buf);
}

int core_ver_newest(cluster_t *cl, const char *bucket, og_str_t key, core_meta_t *m, char **buf)
{
    char vtable[CORE_TABLE_CAP];
    ver_find_t f = {0};
    int rc;
    *buf = NULL;
    memset(m, 0, sizeof(*m));
    core_table('v', bucket, vtable);
    if ((rc = ver_find(cl, vtable, key, &f)) != 0)
        return rc;
    return ver_get(cl, vtable, key, f.vid, m, buf);
}

/* ver_each callback: the first version (not a delete marker) whose ETag is f->etag. */
typedef struct {
    const uint8_t *etag;
    char vid[CORE_VID_LEN + 1];
} ver_etag_t;

static int etag_fn(void *ctx, const core_meta_t *m)
{
    ver_etag_t *f = ctx;
    const uint8_t *etag = m->flags & CORE_META_SLO ? m->slo_etag : m->md5;
    if ((m->vflags & CORE_VER_MARKER) || memcmp(etag, f->etag, 16) != 0)
        return 0;
    memcpy(f->vid, m->vid, sizeof(f->vid));
    return 1;
}

int core_ver_etag(cluster_t *cl, const char *bucket, og_str_t key, const uint8_t etag[16], core_meta_t *m, char **buf)
{
    char vtable[CORE_TABLE_CAP];
    ver_etag_t f = {etag, {0}};
    *buf = NULL;
    memset(m, 0, sizeof(*m));
    core_table('v', bucket, vtable);
    int rc = ver_each(cl, vtable, key, etag_fn, &f);
    if (rc != 1)
        return rc == 0 ? OG_ENOTFOUND : rc;
    return ver_get(cl, vtable, key, f.vid, m, buf);
}

/* ---------------------------------------------------------------- permanent deletion */

/* Is version t (just read) the key's current one? The index holds it (an unversioned record), or
 * it is the newest in the version table while the index holds no unversioned record. 1, 0, or an
 * error; *index_ts: the index record's stamp (0 when it has none). */
static int ver_is_current(cluster_t *cl, const char *otable, const char *vtable, og_str_t key, const core_meta_t *t,
                          uint64_t *index_ts)
{
    og_rec_t rec;
    core_meta_t cur = {0};
    char *buf = NULL;
    ver_find_t f = {0};
    int unversioned = 0, rc = cluster_rec_get(cl, otable, key, &rec, &buf);
    *index_ts = 0;
    if (rc == 0) {
        *index_ts = rec.ts;
        if (!(rec.flags & OG_REC_TOMBSTONE) && core_meta_decode(&rec, &cur) == 0)
            unversioned = cur.vid[0] == '\0';
        core_meta_free(&cur);
        free(buf);
    } else if (rc != OG_ENOTFOUND) {
        return rc;
    }
    if (t->vid[0] == '\0' || unversioned)
        return t->vid[0] == '\0';
    if ((rc = ver_find(cl, vtable, key, &f)) != 0)
        return rc == OG_ENOTFOUND ? 0 : rc;
    return strcmp(f.vid, t->vid) == 0;
}

/* The current version t goes: the next newest version becomes the index record (or the index a
 * tombstone when there is none or it is a delete marker), stamped one nanosecond after the index
 * record it replaces (at index_ts) with tiebreak 0, so that it loses to any version written since. */
static int ver_promote(cluster_t *cl, const char *otable, const char *vtable, og_str_t key, const core_meta_t *t,
                       uint64_t index_ts)
{
    ver_find_t f = {.skip = t->vid};
    core_meta_t next;
    char *buf = NULL;
    uint64_t ts = (index_ts > t->mtime_ns ? index_ts : t->mtime_ns) + 1;
    int rc = ver_find(cl, vtable, key, &f);
    if (rc == OG_ENOTFOUND)
        return ver_put(cl, otable, key, NULL, ts, 0, 1);
    if (rc != 0 || (rc = ver_get(cl, vtable, key, f.vid, &next, &buf)) != 0)
        return rc;
    rc = ver_put(cl, otable, key, &next, ts, 0, (next.vflags & CORE_VER_MARKER) != 0);
    core_meta_free(&next);
    free(buf);
    return rc;
}

/* After a version went: a version removed at the same time as the current one may have been
 * promoted into the index meanwhile. When the index names a version the table no longer holds,
 * the next newest takes its place. 0 or an error. */
static int ver_settle(cluster_t *cl, const char *otable, const char *vtable, og_str_t key)
{
    og_rec_t rec;
    core_meta_t cur = {0}, gone;
    char *buf = NULL, *vbuf = NULL;
    int rc = cluster_rec_get(cl, otable, key, &rec, &buf);
    if (rc != 0)
        return rc == OG_ENOTFOUND ? 0 : rc;
    if (!(rec.flags & OG_REC_TOMBSTONE) && core_meta_decode(&rec, &cur) == 0 && cur.vid[0] != '\0') {
        if ((rc = ver_get(cl, vtable, key, cur.vid, &gone, &vbuf)) == 0)
            core_meta_free(&gone);
        else if (rc == OG_ENOTFOUND)
            rc = ver_promote(cl, otable, vtable, key, &cur, rec.ts);
        free(vbuf);
    }
    core_meta_free(&cur);
    free(buf);
    return rc;
}

int core_ver_delete(cluster_t *cl, const char *bucket, og_str_t key, og_str_t vid, int bypass, int *was_marker)
{
    char otable[CORE_TABLE_CAP], vtable[CORE_TABLE_CAP], k[VKEY_CAP];
    core_meta_t t;
    char *buf = NULL;
    uint64_t index_ts;
    int rc = core_ver_lookup(cl, bucket, key, vid, &t, &buf), current;
    if (was_marker != NULL)
        *was_marker = 0;
    if (rc == OG_ENOTFOUND)
        return 0;
    if (rc != 0)
        return rc;
    if (was_marker != NULL)
        *was_marker = (t.vflags & CORE_VER_MARKER) != 0;
    if (core_lock_holds(&t.lock, og_time_ns() / 1000000u, bypass)) {
        rc = CORE_ELOCKED;
        goto out_free_version;
    }
    core_table('o', bucket, otable);
    core_table('v', bucket, vtable);
    /* the index first: a crash before the version record goes leaves it listed, not the index
     * naming a version that is gone */
    if ((current = ver_is_current(cl, otable, vtable, key, &t, &index_ts)) < 0)
        rc = current;
    else if (current)
        rc = ver_promote(cl, otable, vtable, key, &t, index_ts);
    if (rc == 0 && t.vid[0] != '\0' && (rc = core_rec_delete(cl, vtable, (og_str_t){k, vkey(key, t.vid, k)})) == 0)
        rc = ver_settle(cl, otable, vtable, key);
    if (rc == 0)
        core_quota_forget(cl, bucket, NULL);
    if (rc == 0 && current == 1) /* what the object's URL serves changed */
        cluster_changed(cl, CLUSTER_CHANGE_DELETE, bucket, key, core_ver_id(&t));
out_free_version:
    core_meta_free(&t);
    free(buf);
    return rc;
}

int core_ver_set_lock(cluster_t *cl, const char *bucket, og_str_t key, og_str_t vid, const core_lock_t *lock)
{
    char otable[CORE_TABLE_CAP], vtable[CORE_TABLE_CAP], k[VKEY_CAP];
    core_meta_t t;
    char *buf = NULL;
    uint64_t index_ts, ts, tiebreak;
    int rc = core_ver_lookup(cl, bucket, key, vid, &t, &buf), current;
    if (rc != 0)
        return rc;
    if (t.vflags & CORE_VER_MARKER) {
        rc = OG_ENOTFOUND;
        goto out_free_version;
    }
    core_table('o', bucket, otable);
    core_table('v', bucket, vtable);
    t.lock = *lock;
    /* the version record first (a crash before the index follows leaves the index's copy with the
     * old lock, which only ever asks less than the version record holds) */
    cluster_stamp(cl, &ts, &tiebreak);
    if (t.vid[0] != '\0' && (rc = ver_put(cl, vtable, (og_str_t){k, vkey(key, t.vid, k)}, &t, ts, tiebreak, 0)) != 0)
        goto out_free_version;
    if ((current = ver_is_current(cl, otable, vtable, key, &t, &index_ts)) < 0)
        rc = current;
    else if (current)
        rc = ver_put(cl, otable, key, &t, index_ts + 1, 0, 0);
out_free_version:
    core_meta_free(&t);
    free(buf);
    return rc;
}

/* ---------------------------------------------------------------- listing */

typedef struct {
    cluster_t *cl;
    char otable[CORE_TABLE_CAP], vtable[CORE_TABLE_CAP];
} ver_src_t;

/* What one fetch holds: both tables' pages, the merged entries, and the keys made for index
 * records (key + CORE_VER_SEP). */
typedef struct {
    cluster_list_t v, o;
    cluster_list_entry_t *entries, *unversioned;
    char *arena;
} ver_page_t;

static void ver_release(void *ctx, cluster_list_t *l)
{
    ver_page_t *pg = l->_mem;
    (void)ctx;
    if (pg == NULL)
        return;
    cluster_list_free(&pg->v);
    cluster_list_free(&pg->o);
    free(pg->entries);
    free(pg->unversioned);
    free(pg->arena);
    free(pg);
    memset(l, 0, sizeof(*l));
}

/* The index page's records written while the bucket was not versioned (the null versions only it
 * holds), keyed key + CORE_VER_SEP, those after `after`, into pg->unversioned. Returns how many,
 * and the key that bounds what the index page covers into *bound (when it is truncated). */
static size_t ver_unversioned(ver_page_t *pg, og_str_t after, og_str_t *bound)
{
    char *p = pg->arena;
    size_t n = 0;
    for (size_t i = 0; i < pg->o.n; i++) {
        cluster_list_entry_t *e = &pg->o.entries[i];
        core_meta_t m;
        /* one that does not decode is listed, and reported where it is rendered */
        int versioned = core_meta_decode(&e->rec, &m) == 0 && m.vid[0] != '\0';
        core_meta_free(&m);
        og_str_t k = {p, e->key.len + 1};
        memcpy(p, e->key.base, e->key.len);
        p[e->key.len] = CORE_VER_SEP;
        if (versioned || og_str_cmp(k, after) <= 0)
            continue;
        pg->unversioned[n++] = (cluster_list_entry_t){k, e->rec, 0};
        p += k.len;
    }
    if (pg->o.next_after.len > 0)
        memcpy(p, pg->o.next_after.base, pg->o.next_after.len);
    p[pg->o.next_after.len] = CORE_VER_SEP;
    *bound = (og_str_t){p, pg->o.next_after.len + 1};
    return n;
}

/* core_walk_source_t.fetch: the version table's page merged with the index's null versions, up to
 * the first point where either page stops. */
static int ver_fetch(void *ctx, og_str_t prefix, og_str_t delim, og_str_t after, size_t limit, cluster_list_t *out)
{
    ver_src_t *s = ctx;
    ver_page_t *pg = calloc(1, sizeof(*pg));
    og_str_t oafter = after, bound = {NULL, 0}, obound;
    const char *sep = after.len ? memchr(after.base, CORE_VER_SEP, after.len) : NULL;
    size_t need = 0, nu, i = 0, j = 0, n = 0;
    int rc;
    if (pg == NULL)
        return -ENOMEM;
    out->_mem = pg;
    /* index keys k list as k + SEP: those after `after` are after its part before the separator */
    if (sep != NULL)
        oafter.len = (size_t)(sep - after.base);
    if ((rc = cluster_list(s->cl, s->vtable, prefix, after, limit, &pg->v)) != 0 ||
        (rc = cluster_list(s->cl, s->otable, prefix, oafter, limit, &pg->o)) != 0)
        goto out_fail;
    for (size_t k = 0; k < pg->o.n; k++)
        need += pg->o.entries[k].key.len + 1;
    pg->arena = malloc(need + pg->o.next_after.len + 1);
    pg->unversioned = malloc((pg->o.n + 1) * sizeof(*pg->unversioned));
    pg->entries = malloc((pg->o.n + pg->v.n + 1) * sizeof(*pg->entries));
    if (pg->arena == NULL || pg->unversioned == NULL || pg->entries == NULL) {
        rc = -ENOMEM;
        goto out_fail;
    }
    nu = ver_unversioned(pg, after, &obound);
    if (pg->v.truncated)
        bound = pg->v.next_after;
    if (pg->o.truncated && (bound.base == NULL || og_str_cmp(obound, bound) < 0))
        bound = obound;
    while (i < pg->v.n || j < nu) {
        int from_v = j == nu || (i < pg->v.n && og_str_cmp(pg->v.entries[i].key, pg->unversioned[j].key) < 0);
        cluster_list_entry_t *e = from_v ? &pg->v.entries[i++] : &pg->unversioned[j++];
        if (bound.base != NULL && og_str_cmp(e->key, bound) > 0)
            break;
        pg->entries[n++] = *e;
    }
    out->entries = pg->entries, out->n = n;
    out->truncated = bound.base != NULL;
    out->next_after = bound;
    return 0;

out_fail:
    ver_release(NULL, out);
    return rc;
}

int core_ver_source(cluster_t *cl, const char *bucket, core_walk_source_t *out)
{
    ver_src_t *s = malloc(sizeof(*s));
    if (s == NULL)
        return -ENOMEM;
    s->cl = cl;
    core_table('o', bucket, s->otable);
    core_table('v', bucket, s->vtable);
    *out = (core_walk_source_t){ver_fetch, ver_release, s, CORE_VER_SEP, 0};
    return 0;
}

void core_ver_source_free(core_walk_source_t *src)
{
    free(src->ctx);
    src->ctx = NULL;
}

og_str_t core_ver_item_key(og_str_t item)
{
    while (item.len > 0 && item.base[item.len - 1] != CORE_VER_SEP)
        item.len--;
    return (og_str_t){item.base, item.len ? item.len - 1 : 0};
}
