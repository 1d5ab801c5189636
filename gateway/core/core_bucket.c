/*
 * core_bucket.c: bucket (= Swift container) records, one type for both APIs (core.h).
 *
 * A bucket is a record in table "buckets" keyed by its name. Summary encoding (big-endian):
 *   u8 version(=1) | u64 created_ns | u16 len + owner account
 *   version 2 (written by Swift, which also calls a bucket a container) appends the container's
 *   metadata as a header list (core_hdrs_encode): x-container-meta-* (quotas included),
 *   x-container-read, x-container-write, lowercase names. S3 writes version 1 and reads both.
 *   version 3 (a bucket with an id of its own, in its owner's table "b.<account>") puts the 32
 *   bytes of the id between the owner and the metadata (docs/architecture.md, "Namespaces").
 * The detail is empty. Deleting a bucket writes a tombstone, so a later create of the same
 * name wins by timestamp on every replica.
 *
 *
 * Bucket records are read on every request (owner check, Swift container ACLs and quotas), so
 * core_bucket_lookup and core_bucket_get answer from the cluster handle's record cache when this
 * gateway read the live record less than BUCKET_CACHE_MS ago (cluster_rec_get_cached). Without
 * it a 4 KiB GET cost two quorum reads instead of one. What that allows, and why it is acceptable:
 *  - this gateway's own CreateBucket / DeleteBucket / container writes drop the entry at once, so
 *    it always sees its own changes;
 *  - a bucket deleted through ANOTHER gateway may still accept requests here for up to
 *    BUCKET_CACHE_MS (a PUT then lands in a deleted bucket and stays invisible, exactly as with a
 *    PUT racing the delete, see s3_delete_bucket); an owner or ACL change made elsewhere takes
 *    as long to apply here. AWS documents bucket operations as eventually consistent ("a deleted
 *    bucket might still appear ... for a short time"), and Swift proxies cache container info for
 *    60 s by default;
 *  - only live records are cached: a bucket created elsewhere is visible here at once, and a
 *    NoSuchBucket is never served from memory. CreateBucket reads without the cache, so it never
 *    mistakes a bucket deleted elsewhere for an existing one.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>

#include "core.h"

#define BUCKET_REC_VERSION 1
#define BUCKET_REC_VERSION_META 2
/* Version 2 with the 32-byte bucket id between owner and metadata: a record of an account's own
 * table "b.<account>" (docs/architecture.md, "Namespaces"). */
#define BUCKET_REC_VERSION_ID 3
#define BUCKET_ID_BYTES (CORE_BID_LEN / 2)
/* How long a live bucket record read by this gateway may be reused (see the note at the top). */
#define BUCKET_CACHE_MS 1000

static int bucket_encode(const char *owner, uint64_t created_ns, char *out, size_t cap, size_t *len)
{
    size_t olen = strlen(owner);
    unsigned char *p = (unsigned char *)out;
    if (olen > 0xffff || 1 + 8 + 2 + olen > cap)
        return OG_ETOOBIG;
    *p++ = BUCKET_REC_VERSION;
    for (int i = 7; i >= 0; i--)
        *p++ = (unsigned char)(created_ns >> (8 * i));
    *p++ = (unsigned char)(olen >> 8);
    *p++ = (unsigned char)olen;
    memcpy(p, owner, olen);
    *len = 1 + 8 + 2 + olen;
    return 0;
}

int core_bucket_decode(const og_rec_t *rec, char *owner, size_t cap, uint64_t *created_ns)
{
    const unsigned char *p = (const unsigned char *)rec->summary.base;
    size_t len = rec->summary.len, olen;
    uint64_t ts = 0;
    if (len < 11 || p[0] < BUCKET_REC_VERSION || p[0] > BUCKET_REC_VERSION_ID)
        return OG_EPROTO;
    for (int i = 1; i <= 8; i++)
        ts = ts << 8 | p[i];
    olen = (size_t)p[9] << 8 | p[10];
    if (11 + olen > len || (p[0] == BUCKET_REC_VERSION && 11 + olen != len) || olen + 1 > cap)
        return OG_EPROTO;
    memcpy(owner, p + 11, olen);
    owner[olen] = '\0';
    if (created_ns != NULL)
        *created_ns = ts;
    return 0;
}

int core_bucket_parse(const og_rec_t *rec, core_bucket_t *out)
{
    const unsigned char *p = (const unsigned char *)rec->summary.base;
    size_t used = 0;
    int rc;
    memset(out, 0, sizeof(*out));
    if ((rc = core_bucket_decode(rec, out->owner, sizeof(out->owner), &out->created_ns)) != 0)
        return rc;
    if (p[0] == BUCKET_REC_VERSION)
        return 0;
    size_t off = 11 + strlen(out->owner);
    if (p[0] == BUCKET_REC_VERSION_ID) {
        if (off + BUCKET_ID_BYTES > rec->summary.len)
            return OG_EPROTO;
        og_hex(p + off, BUCKET_ID_BYTES, out->id);
        off += BUCKET_ID_BYTES;
    }
    og_str_t rest = {rec->summary.base + off, rec->summary.len - off};
    if ((rc = core_hdrs_decode(rest, &out->meta, &out->num_meta, &used)) != 0)
        return rc;
    if (used != rest.len) {
        core_bucket_free(out);
        return OG_EPROTO;
    }
    return 0;
}

/* Reads the live bucket record `bucket` of table (cached): core_bucket_get's contract. A record of
 * the global table is a bucket whose id is its name. */
static int bucket_get(cluster_t *cl, const char *table, const char *bucket, core_bucket_t *out)
{
    og_rec_t rec;
    char *buf = NULL;
    int rc = cluster_rec_get_cached(cl, table, og_str(bucket), BUCKET_CACHE_MS, &rec, &buf);
    memset(out, 0, sizeof(*out));
    if (rc != 0)
        return rc;
    if (rec.flags & OG_REC_TOMBSTONE)
        rc = OG_ENOTFOUND;
    else if ((rc = core_bucket_parse(&rec, out)) == 0)
        out->_buf = buf, buf = NULL;
    if (rc == 0 && out->id[0] == '\0' && strlen(bucket) < sizeof(out->id))
        memcpy(out->id, bucket, strlen(bucket) + 1);
    free(buf);
    return rc;
}

int core_bucket_get(cluster_t *cl, const char *bucket, core_bucket_t *out)
{
    return bucket_get(cl, CORE_BUCKETS_TABLE, bucket, out);
}

int core_bucket_find(cluster_t *cl, const char *account, const char *name, core_bucket_t *out)
{
    char table[CORE_TABLE_CAP];
    int rc = bucket_get(cl, CORE_BUCKETS_TABLE, name, out);
    if (rc == 0 && strcmp(out->owner, account) == 0)
        return 0;
    if (rc == 0)
        core_bucket_free(out);
    else if (rc != OG_ENOTFOUND)
        return rc;
    core_table('b', account, table);
    return bucket_get(cl, table, name, out);
}

int core_bucket_new_id(cluster_t *cl, core_bucket_t *b)
{
    unsigned char rnd[BUCKET_ID_BYTES];
    og_rec_t rec = {.summary = {"", 0}};
    if (getrandom(rnd, sizeof(rnd), 0) != (ssize_t)sizeof(rnd))
        return -EIO;
    og_hex(rnd, sizeof(rnd), b->id);
    cluster_stamp(cl, &rec.ts, &rec.tiebreak);
    return cluster_rec_put(cl, CORE_NS_TABLE, og_str(b->owner), &rec);
}

/* core_bucket_each's walk state: the caller's callback, and the table being walked. */
typedef struct {
    cluster_t *cl;
    int (*fn)(void *ctx, const char *name, const core_bucket_t *b);
    void *ctx;
    int global;
} each_t;

/* cluster_table_each callback over bucket records: fn with the bucket's name and record (its id
 * set). A record that does not decode is skipped (usage and listings report it). */
static int each_bucket(void *ctx, og_str_t key, const og_rec_t *rec)
{
    each_t *e = ctx;
    core_bucket_t b;
    char name[CORE_BUCKET_MAX + 1];
    int rc;
    if (key.len > CORE_BUCKET_MAX || core_bucket_parse(rec, &b) != 0)
        return 0;
    memcpy(name, key.base, key.len);
    name[key.len] = '\0';
    if (e->global)
        memcpy(b.id, name, key.len + 1);
    rc = b.id[0] != '\0' ? e->fn(e->ctx, name, &b) : 0;
    core_bucket_free(&b);
    return rc;
}

/* cluster_table_each callback over CORE_NS_TABLE: walks one account's own table. */
static int each_account(void *ctx, og_str_t key, const og_rec_t *rec)
{
    each_t *e = ctx;
    char account[64], table[CORE_TABLE_CAP];
    (void)rec;
    if (key.len >= sizeof(account))
        return 0;
    memcpy(account, key.base, key.len);
    account[key.len] = '\0';
    core_table('b', account, table);
    return cluster_table_each(e->cl, table, each_bucket, e);
}

int core_bucket_each(cluster_t *cl, int (*fn)(void *ctx, const char *name, const core_bucket_t *b), void *ctx)
{
    each_t e = {cl, fn, ctx, 1};
    int rc = cluster_table_each(cl, CORE_BUCKETS_TABLE, each_bucket, &e);
    if (rc != 0)
        return rc;
    e.global = 0;
    return cluster_table_each(cl, CORE_NS_TABLE, each_account, &e);
}

/* Where the record of bucket `name` lives: its owner's table "b.<owner>" for a bucket with an id
 * of its own, else the global table. */
static void bucket_home(const char *name, const core_bucket_t *b, char table[CORE_TABLE_CAP])
{
    if (b != NULL && strlen(b->id) == CORE_BID_LEN && strcmp(b->id, name) != 0)
        core_table('b', b->owner, table);
    else
        snprintf(table, CORE_TABLE_CAP, "%s", CORE_BUCKETS_TABLE);
}

int core_bucket_put(cluster_t *cl, const char *bucket, const core_bucket_t *b)
{
    size_t olen = strlen(b->owner), hlen = core_hdrs_encoded_len(b->meta, b->num_meta);
    og_rec_t rec = {0};
    unsigned char *s, *p;
    char table[CORE_TABLE_CAP];
    int rc;
    bucket_home(bucket, b, table);
    int own = strcmp(table, CORE_BUCKETS_TABLE) != 0;
    if (olen == 0 || olen > 0xffff || hlen == 0)
        return OG_EINVAL;
    if ((s = malloc(11 + olen + BUCKET_ID_BYTES + hlen)) == NULL)
        return -ENOMEM;
    p = s;
    *p++ = own ? BUCKET_REC_VERSION_ID : BUCKET_REC_VERSION_META;
    for (int i = 7; i >= 0; i--)
        *p++ = (unsigned char)(b->created_ns >> (8 * i));
    *p++ = (unsigned char)(olen >> 8);
    *p++ = (unsigned char)olen;
    memcpy(p, b->owner, olen);
    p += olen;
    if (own && og_unhex(b->id, CORE_BID_LEN, p, BUCKET_ID_BYTES) != 0) {
        free(s);
        return OG_EINVAL;
    }
    p = core_hdrs_encode(b->meta, b->num_meta, p + (own ? BUCKET_ID_BYTES : 0));
    rec.summary = (og_str_t){(const char *)s, (size_t)(p - s)};
    cluster_stamp(cl, &rec.ts, &rec.tiebreak);
    rc = cluster_rec_put(cl, table, og_str(bucket), &rec);
    free(s);
    return rc;
}

void core_bucket_free(core_bucket_t *b)
{
    free(b->meta);
    free(b->_buf);
    b->meta = NULL, b->num_meta = 0, b->_buf = NULL;
}

/* core_bucket_lookup, from the cache (max_age_ms > 0) or always from the cluster (0). */
static int bucket_lookup(cluster_t *cl, const char *bucket, uint32_t max_age_ms, char *owner, size_t cap,
                         uint64_t *created_ns)
{
    og_rec_t rec;
    char *buf = NULL;
    int rc = max_age_ms ? cluster_rec_get_cached(cl, CORE_BUCKETS_TABLE, og_str(bucket), max_age_ms, &rec, &buf)
                        : cluster_rec_get(cl, CORE_BUCKETS_TABLE, og_str(bucket), &rec, &buf);
    if (rc != 0)
        return rc;
    if (rec.flags & OG_REC_TOMBSTONE)
        rc = OG_ENOTFOUND;
    else
        rc = core_bucket_decode(&rec, owner, cap, created_ns);
    free(buf);
    return rc;
}

int core_bucket_lookup(cluster_t *cl, const char *bucket, char *owner, size_t cap, uint64_t *created_ns)
{
    return bucket_lookup(cl, bucket, BUCKET_CACHE_MS, owner, cap, created_ns);
}

int core_bucket_create(cluster_t *cl, const char *bucket, const char *owner)
{
    char summary[1 + 8 + 2 + 64];
    size_t slen;
    og_rec_t rec = {0};
    char cur[64], table[CORE_TABLE_CAP];
    core_bucket_t own;
    int rc = bucket_lookup(cl, bucket, 0, cur, sizeof(cur), NULL), held = rc == 0;
    if (held && strcmp(cur, owner) == 0)
        return OG_EEXIST;
    if (!held && rc != OG_ENOTFOUND)
        return rc;
    /* the owner's own container of that name is its S3 bucket too (S3 resolves there first) */
    core_table('b', owner, table);
    if ((rc = bucket_get(cl, table, bucket, &own)) == 0)
        core_bucket_free(&own);
    if (rc != OG_ENOTFOUND)
        return rc == 0 ? OG_EEXIST : rc;
    if (held)
        return -EACCES;
    /* Two accounts racing for one new name both succeed here and the later timestamp owns
     * the bucket: the ring has no consensus round to make creation exclusive. */
    cluster_stamp(cl, &rec.ts, &rec.tiebreak);
    if ((rc = bucket_encode(owner, rec.ts, summary, sizeof(summary), &slen)) != 0)
        return OG_EINVAL;
    rec.summary = (og_str_t){summary, slen};
    return cluster_rec_put(cl, CORE_BUCKETS_TABLE, og_str(bucket), &rec);
}

int core_bucket_delete(cluster_t *cl, const char *bucket, const core_bucket_t *b)
{
    og_rec_t rec = {.flags = OG_REC_TOMBSTONE};
    char table[CORE_TABLE_CAP];
    bucket_home(bucket, b, table);
    cluster_stamp(cl, &rec.ts, &rec.tiebreak);
    return cluster_rec_put(cl, table, og_str(bucket), &rec);
}

/* ---- caching defaults ---- */

/* A whole non-negative decimal number of seconds (at most 10 digits: 317 years), or -1. */
static int64_t parse_seconds(og_str_t v)
{
    int64_t n = 0;
    v = og_str_trim(v);
    if (v.len == 0 || v.len > 10)
        return -1;
    for (size_t i = 0; i < v.len; i++) {
        if (v.base[i] < '0' || v.base[i] > '9')
            return -1;
        n = n * 10 + (v.base[i] - '0');
    }
    return n;
}

int core_cache_dflt_get(cluster_t *cl, const char *account, const char *bucket, core_cache_dflt_t *out)
{
    core_bucket_t b;
    int rc = account != NULL ? core_bucket_find(cl, account, bucket, &b) : core_bucket_get(cl, bucket, &b);
    out->cache_control[0] = '\0';
    out->expires_after_s = -1;
    if (rc != 0)
        return rc;
    og_str_t cc = og_str_trim(og_header_find(b.meta, b.num_meta, "x-container-meta-default-cache-control"));
    og_str_t exp = og_header_find(b.meta, b.num_meta, "x-container-meta-default-expires");
    if (cc.len > 0 && cc.len <= CORE_CACHE_DFLT_MAX) {
        memcpy(out->cache_control, cc.base, cc.len);
        out->cache_control[cc.len] = '\0';
    }
    if (exp.base != NULL)
        out->expires_after_s = parse_seconds(exp);
    core_bucket_free(&b);
    return 0;
}

size_t core_pin_url(const char *account, const char *bucket, og_str_t key, const unsigned char md5[16], char *out)
{
    char hex[33];
    og_hex(md5, 16, hex);
    size_t n = (size_t)snprintf(out, CORE_PIN_URL_CAP, CORE_PIN_PREFIX "/%s/AUTH_", hex);
    long k;
    if ((k = og_urlencode(account, strlen(account), out + n, CORE_PIN_URL_CAP - n, 0)) < 0)
        return 0;
    n += (size_t)k;
    out[n++] = '/';
    if ((k = og_urlencode(bucket, strlen(bucket), out + n, CORE_PIN_URL_CAP - n, 0)) < 0)
        return 0;
    n += (size_t)k;
    out[n++] = '/';
    if ((k = og_urlencode(key.base, key.len, out + n, CORE_PIN_URL_CAP - n, 1)) < 0)
        return 0;
    return n + (size_t)k;
}
