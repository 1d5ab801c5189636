/*
 * Swift's legacy versioned writes (the versioned_writes middleware with allow_versioned_writes,
 * swift/common/middleware/versioned_writes/legacy.py): a container's X-Versions-Location (stack
 * mode) or X-History-Location (history mode) names an archive container of the same account.
 *  - a PUT, X-Copy-From or COPY over a live object first copies it into the archive as
 *    "<3 hex digits: name length><name>/<its X-Timestamp>";
 *  - DELETE in stack mode restores the newest archived copy (and removes it from the archive),
 *    or deletes when there is none; in history mode it archives the object, then writes a
 *    zero-byte delete marker (SWIFT_LEGACY_MARKER) into the archive, then deletes.
 * Copies are records that reference the same chunks (core_obj_touch first, as every copy), so an
 * archived version costs a record, not its bytes. The archive is written on the caller's behalf
 * (Swift's pre-authorized subrequests): write access to the versioned container is what counts.
 * The setting is one stored bucket entry, SWIFT_LEGACY_META = "<stack|history>/<location as
 * sent>", hidden from metadata listings (x-onggi-*). S3 writes do not archive (docs/swift-compat.md).
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <strings.h>

#include "swift_int.h"

#define SWIFT_LEGACY_META "x-onggi-swift-versions"
#define SWIFT_LEGACY_MARKER "application/x-deleted;swift_versions_deleted=1"
#define LIST_PAGE 1000

static og_str_t legacy_entry(const core_bucket_t *b)
{
    return og_header_find(b->meta, b->num_meta, SWIFT_LEGACY_META);
}

/* ---------------------------------------------------------------- container settings */

int swift_legacy_parse(swift_req_t *r, const core_bucket_t *b, core_versioning_t want, swift_legacy_conf_t *out)
{
    og_str_t vl = http_req_header(r->http, "x-versions-location"), hl = http_req_header(r->http, "x-history-location");
    *out = (swift_legacy_conf_t){SWIFT_LEGACY_KEEP, NULL};
    if (vl.base != NULL && hl.base != NULL) { /* legacy.py: an empty one gives way to the other */
        if (hl.len == 0)
            hl.base = NULL;
        else if (vl.len > 0)
            return swift_refuse(r, 400, "text/plain",
                                "Only one of x-versions-location or x-history-location may be specified");
        else
            vl.base = NULL;
    }
    og_str_t val = vl.base != NULL ? vl : hl;
    if (val.base != NULL && val.len > 0) {
        if (memchr(val.base, '/', val.len) != NULL)
            return swift_refuse(r, 412, NULL, "Container name cannot contain slashes");
        const char *mode = vl.base != NULL ? "stack/" : "history/";
        if ((out->value = malloc(strlen(mode) + val.len + 1)) == NULL)
            return -ENOMEM;
        snprintf(out->value, strlen(mode) + val.len + 1, "%s%.*s", mode, (int)val.len, val.base);
        out->change = SWIFT_LEGACY_SET;
    } else if (val.base != NULL || http_req_header(r->http, "x-remove-versions-location").len > 0 ||
               http_req_header(r->http, "x-remove-history-location").len > 0) {
        out->change = SWIFT_LEGACY_REMOVE;
    }
    int had = b != NULL && legacy_entry(b).base != NULL;
    /* object_versioning's refusal; the other way round Swift 2.30 accepts both and then fails
     * overwrites (412): Onggi refuses instead (docs/swift-compat.md) */
    if (want != CORE_VER_OFF && (had || out->change == SWIFT_LEGACY_SET))
        return swift_refuse(r, 400, NULL, "Cannot enable object versioning on a container that is already "
                                          "using the legacy versioned writes feature.");
    if (out->change == SWIFT_LEGACY_SET && b != NULL && og_header_find(b->meta, b->num_meta, CORE_VER_BUCKET_HDR).base)
        return swift_refuse(r, 400, NULL, "Cannot use the legacy versioned writes feature on a container "
                                          "that uses object versioning.");
    return 0;
}

void swift_legacy_conf_free(swift_legacy_conf_t *c)
{
    free(c->value);
    c->value = NULL;
}

size_t swift_legacy_meta(const swift_legacy_conf_t *c, og_header_t *meta, size_t n)
{
    if (c->change == SWIFT_LEGACY_KEEP)
        return n;
    for (size_t i = 0; i < n; i++)
        if (og_str_eq(meta[i].name, SWIFT_LEGACY_META))
            meta[i--] = meta[--n];
    if (c->change == SWIFT_LEGACY_SET)
        meta[n++] = (og_header_t){OG_STR_LIT(SWIFT_LEGACY_META), og_str(c->value)};
    return n;
}

size_t swift_legacy_header(const core_bucket_t *b, og_header_t *out)
{
    og_str_t v = legacy_entry(b);
    const char *slash = v.base != NULL ? memchr(v.base, '/', v.len) : NULL;
    if (slash == NULL)
        return 0;
    og_str_t loc = {slash + 1, v.len - (size_t)(slash + 1 - v.base)};
    int history = (size_t)(slash - v.base) == 7 && memcmp(v.base, "history", 7) == 0;
    *out = (og_header_t){history ? OG_STR_LIT("X-History-Location") : OG_STR_LIT("X-Versions-Location"), loc};
    return 1;
}

/* ---------------------------------------------------------------- objects */

/* A container's legacy mode, resolved for a write. */
typedef struct {
    int on, history;
    char bid[CORE_BID_CAP];     /* the versioned container's bucket id */
    char archive[CORE_BID_CAP]; /* the archive's bucket id; "" when it does not exist */
} legacy_t;

/* Reads the legacy mode of `container` into *lg (lg->on 0: none). 0 or an error. */
static int legacy_get(swift_req_t *r, const char *container, legacy_t *lg)
{
    core_bucket_t b, ab;
    char name[SWIFT_MAX_CONTAINER_NAME + 1];
    int rc = core_bucket_find(r->cl, r->account, container, &b);
    memset(lg, 0, sizeof(*lg));
    if (rc != 0)
        return rc;
    og_str_t v = legacy_entry(&b);
    const char *slash = v.base != NULL ? memchr(v.base, '/', v.len) : NULL;
    if (slash == NULL)
        goto out_free;
    lg->on = 1;
    lg->history = slash - v.base == 7;
    memcpy(lg->bid, b.id, CORE_BID_CAP);
    /* the stored value is percent-decoded and cut at a '/' (legacy.py's object_request) */
    size_t ll = v.len - (size_t)(slash + 1 - v.base);
    char *dec = malloc(ll + 1);
    long n = dec == NULL ? -ENOMEM : og_urldecode(slash + 1, ll, dec, ll, 0);
    if (n >= 0) {
        const char *cut = memchr(dec, '/', (size_t)n);
        n = cut != NULL ? cut - dec : n;
    }
    if (n < 0 || n > SWIFT_MAX_CONTAINER_NAME || n == 0) {
        rc = n == -ENOMEM ? -ENOMEM : 0; /* no container has that name */
        free(dec);
        goto out_free;
    }
    memcpy(name, dec, (size_t)n);
    name[n] = '\0';
    free(dec);
    if ((rc = core_bucket_find(r->cl, r->account, name, &ab)) == 0) {
        memcpy(lg->archive, ab.id, CORE_BID_CAP);
        core_bucket_free(&ab);
    } else if (rc == OG_ENOTFOUND) {
        rc = 0;
    }
out_free:
    core_bucket_free(&b);
    return rc;
}

/* "<%03x name length><name>/<timestamp of ns>" into out: its length, or 0 when longer than an
 * object name may be (Swift's archive PUT fails: 412). */
static size_t archive_name(og_str_t key, uint64_t ns, char out[OG_KEY_MAX + 1])
{
    char ts[32];
    size_t tl = swift_timestamp(ns, ts);
    if (key.len > 0xfff || key.len + tl + 4 > OG_KEY_MAX)
        return 0;
    snprintf(out, OG_KEY_MAX + 1, "%03zx%.*s/%s", key.len, (int)key.len, key.base, ts);
    return key.len + tl + 4;
}

/* Commits a copy of record m as (dst, dkey): same chunks (refreshed first), metadata and expiry,
 * no S3 version or lock of its own. 0 or an error. */
static int record_copy(swift_req_t *r, const char *src, og_str_t skey, const core_meta_t *m, const char *dst,
                       og_str_t dkey)
{
    core_meta_t c = *m;
    int rc;
    c._mem = NULL;
    c.vid[0] = '\0';
    c.vflags = 0;
    memset(&c.lock, 0, sizeof(c.lock));
    if ((rc = core_obj_touch(r->cl, &c)) != 0 || (rc = core_part_sizes_copy(r->cl, src, skey, dst, dkey, &c)) != 0)
        return rc;
    return core_obj_commit(r->cl, dst, dkey, &c);
}

/* Copies the live object (lg->bid, key), if any, into the archive. 0, CORE_EPRECOND (no archive
 * to write into, or the archived name is too long: Swift's 412) or an error. */
static int archive_current(swift_req_t *r, const legacy_t *lg, og_str_t key)
{
    core_meta_t m;
    char *buf = NULL, aname[OG_KEY_MAX + 1];
    int rc = core_obj_lookup_live(r->cl, lg->bid, key, r->now_s, &m, &buf);
    if (rc == OG_ENOTFOUND)
        return 0;
    if (rc != 0)
        return rc;
    size_t an = archive_name(key, m.mtime_ns, aname);
    rc = an == 0 || lg->archive[0] == '\0' ? CORE_EPRECOND : record_copy(r, lg->bid, key, &m, lg->archive, (og_str_t){aname, an});
    core_meta_free(&m);
    free(buf);
    return rc;
}

int swift_legacy_put(swift_req_t *r, const char *container, og_str_t key)
{
    legacy_t lg;
    int rc = legacy_get(r, container, &lg);
    return rc != 0 || !lg.on ? rc : archive_current(r, &lg, key);
}

/* The archive's keys under one object's prefix, in key (= time) order. */
typedef struct {
    char **k;
    size_t *len;
    size_t n, cap;
} keys_t;

static void keys_free(keys_t *ks)
{
    for (size_t i = 0; i < ks->n; i++)
        free(ks->k[i]);
    free(ks->k);
    free(ks->len);
}

static int keys_add(keys_t *ks, og_str_t key)
{
    if (ks->n == ks->cap) {
        size_t cap = ks->cap ? 2 * ks->cap : 16;
        char **k = realloc(ks->k, cap * sizeof(*k));
        if (k != NULL)
            ks->k = k;
        size_t *len = k != NULL ? realloc(ks->len, cap * sizeof(*len)) : NULL;
        if (len == NULL)
            return -ENOMEM;
        ks->len = len, ks->cap = cap;
    }
    if ((ks->k[ks->n] = malloc(key.len + 1)) == NULL)
        return -ENOMEM;
    memcpy(ks->k[ks->n], key.base, key.len);
    ks->k[ks->n][key.len] = '\0';
    ks->len[ks->n++] = key.len;
    return 0;
}

/* Every archived key of `key` (Swift lists them newest first; this reads them all, in pages, and
 * the caller walks back: an object has few versions). 0 with *ks (keys_free) or an error. */
static int archive_keys(swift_req_t *r, const legacy_t *lg, og_str_t key, keys_t *ks)
{
    char table[CORE_TABLE_CAP], prefix[OG_KEY_MAX + 1], after[OG_KEY_MAX + 1];
    og_str_t a = {after, 0};
    int rc = 0, more = 1;
    memset(ks, 0, sizeof(*ks));
    if (key.len + 4 > OG_KEY_MAX)
        return 0; /* nothing can have been archived */
    int pl = snprintf(prefix, sizeof(prefix), "%03zx%.*s/", key.len, (int)key.len, key.base);
    core_table('o', lg->archive, table);
    while (rc == 0 && more) {
        cluster_list_t l;
        if ((rc = cluster_list(r->cl, table, (og_str_t){prefix, (size_t)pl}, a, LIST_PAGE, &l)) != 0)
            break;
        for (size_t i = 0; i < l.n && rc == 0; i++)
            rc = keys_add(ks, l.entries[i].key);
        more = l.truncated && l.next_after.len > 0 && l.next_after.len <= OG_KEY_MAX;
        if (more)
            memcpy(after, l.next_after.base, l.next_after.len), a.len = l.next_after.len;
        cluster_list_free(&l);
    }
    if (rc != 0)
        keys_free(ks);
    return rc;
}

/* Reads archived key i: 0 with *m and *buf, OG_ENOTFOUND (gone or expired meanwhile) or an error. */
static int archived(swift_req_t *r, const legacy_t *lg, const keys_t *ks, size_t i, core_meta_t *m, char **buf)
{
    return core_obj_lookup_live(r->cl, lg->archive, (og_str_t){ks->k[i], ks->len[i]}, r->now_s, m, buf);
}

/* Restores archived key i as r's object and removes it from the archive. 0, OG_ENOTFOUND (it is
 * gone: try an older one), 1 (it is a delete marker) or an error. */
static int restore(swift_req_t *r, const legacy_t *lg, const keys_t *ks, size_t i)
{
    core_meta_t m;
    char *buf = NULL;
    og_str_t akey = {ks->k[i], ks->len[i]};
    int rc = archived(r, lg, ks, i, &m, &buf);
    if (rc != 0)
        return rc;
    if (og_str_eq(m.content_type, SWIFT_LEGACY_MARKER))
        rc = 1;
    else if ((rc = record_copy(r, lg->archive, akey, &m, lg->bid, (og_str_t){r->object, r->object_len})) == 0)
        rc = core_obj_delete(r->cl, lg->archive, akey, NULL);
    core_meta_free(&m);
    free(buf);
    return rc;
}

/* Stack mode (legacy.py's handle_obj_versions_delete_pop): the newest archived copy replaces the
 * object. Under a delete marker (left by history mode) the object stays deleted unless it is
 * absent: then the newest copy below the marker comes back and the marker goes. 1 once answered
 * (204), 0 when there is nothing to restore (the caller deletes), or an error. */
static int pop(swift_req_t *r, const legacy_t *lg, const keys_t *ks)
{
    core_meta_t m;
    char *buf = NULL;
    for (size_t i = ks->n; i-- > 0;) {
        int rc = restore(r, lg, ks, i);
        if (rc == OG_ENOTFOUND)
            continue;
        if (rc == 1) { /* a delete marker */
            rc = core_obj_lookup_live(r->cl, lg->bid, (og_str_t){r->object, r->object_len}, r->now_s, &m, &buf);
            if (rc == 0) {
                core_meta_free(&m);
                free(buf);
                return 0;
            }
            for (size_t j = i; rc == OG_ENOTFOUND && j-- > 0;)
                rc = restore(r, lg, ks, j);
            if (rc != 0 && rc != 1 && rc != OG_ENOTFOUND)
                return rc;
            rc = core_obj_delete(r->cl, lg->archive, (og_str_t){ks->k[i], ks->len[i]}, NULL);
        }
        if (rc != 0)
            return rc;
        swift_send(r, 204, NULL, 0, NULL, NULL, 0);
        return 1;
    }
    return 0;
}

/* History mode (handle_obj_versions_delete_push): archives the object, then a delete marker
 * stamped now (also when there is no object, as Swift). 0 or an error. */
static int push(swift_req_t *r, const legacy_t *lg)
{
    static const uint8_t empty_md5[16] = {0xd4, 0x1d, 0x8c, 0xd9, 0x8f, 0x00, 0xb2, 0x04,
                                          0xe9, 0x80, 0x09, 0x98, 0xec, 0xf8, 0x42, 0x7e};
    og_str_t key = {r->object, r->object_len};
    char aname[OG_KEY_MAX + 1];
    int rc = archive_current(r, lg, key);
    if (rc != 0)
        return rc;
    size_t an = archive_name(key, og_time_ns(), aname);
    if (an == 0 || lg->archive[0] == '\0')
        return CORE_EPRECOND;
    core_meta_t mk = {.content_type = OG_STR_LIT(SWIFT_LEGACY_MARKER), .owner = og_str(r->account)};
    memcpy(mk.md5, empty_md5, 16);
    return core_obj_commit(r->cl, lg->archive, (og_str_t){aname, an}, &mk);
}

int swift_legacy_delete(swift_req_t *r)
{
    legacy_t lg;
    keys_t ks;
    int rc = legacy_get(r, r->container, &lg);
    if (rc != 0 || !lg.on)
        return rc;
    if (lg.history)
        return push(r, &lg);
    if (lg.archive[0] == '\0')
        return 0; /* no archive, nothing to restore (legacy.py: a 404 listing is an empty one) */
    if ((rc = archive_keys(r, &lg, (og_str_t){r->object, r->object_len}, &ks)) != 0)
        return rc;
    rc = pop(r, &lg, &ks);
    keys_free(&ks);
    return rc;
}
