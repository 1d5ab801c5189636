/*
 * core_bucket.c: bucket (= Swift container) records, one type for both APIs (core.h).
 *
 * A bucket is a record in table "buckets" keyed by its name. Summary encoding (big-endian):
 *   u8 version(=1) | u64 created_ns | u16 len + owner account
 *   version 2 (written by Swift, which also calls a bucket a container) appends the container's
 *   metadata as a header list (core_hdrs_encode): x-container-meta-* (quotas included),
 *   x-container-read, x-container-write, lowercase names. S3 writes version 1 and reads both.
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

#include "core.h"

#define BUCKET_REC_VERSION 1
#define BUCKET_REC_VERSION_META 2
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
    if (len < 11 || (p[0] != BUCKET_REC_VERSION && p[0] != BUCKET_REC_VERSION_META))
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
    og_str_t rest = {rec->summary.base + off, rec->summary.len - off};
    if ((rc = core_hdrs_decode(rest, &out->meta, &out->num_meta, &used)) != 0)
        return rc;
    if (used != rest.len) {
        core_bucket_free(out);
        return OG_EPROTO;
    }
    return 0;
}

int core_bucket_get(cluster_t *cl, const char *bucket, core_bucket_t *out)
{
    og_rec_t rec;
    char *buf = NULL;
    int rc = cluster_rec_get_cached(cl, CORE_BUCKETS_TABLE, og_str(bucket), BUCKET_CACHE_MS, &rec, &buf);
    memset(out, 0, sizeof(*out));
    if (rc != 0)
        return rc;
    if (rec.flags & OG_REC_TOMBSTONE)
        rc = OG_ENOTFOUND;
    else if ((rc = core_bucket_parse(&rec, out)) == 0)
        out->_buf = buf, buf = NULL;
    free(buf);
    return rc;
}

int core_bucket_put(cluster_t *cl, const char *bucket, const core_bucket_t *b)
{
    size_t olen = strlen(b->owner), hlen = core_hdrs_encoded_len(b->meta, b->num_meta);
    og_rec_t rec = {0};
    unsigned char *s, *p;
    int rc;
    if (olen == 0 || olen > 0xffff || hlen == 0)
        return OG_EINVAL;
    if ((s = malloc(11 + olen + hlen)) == NULL)
        return -ENOMEM;
    p = s;
    *p++ = BUCKET_REC_VERSION_META;
    for (int i = 7; i >= 0; i--)
        *p++ = (unsigned char)(b->created_ns >> (8 * i));
    *p++ = (unsigned char)(olen >> 8);
    *p++ = (unsigned char)olen;
    memcpy(p, b->owner, olen);
    p = core_hdrs_encode(b->meta, b->num_meta, p + olen);
    rec.summary = (og_str_t){(const char *)s, (size_t)(p - s)};
    cluster_stamp(cl, &rec.ts, &rec.tiebreak);
    rc = cluster_rec_put(cl, CORE_BUCKETS_TABLE, og_str(bucket), &rec);
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
    char cur[64];
    int rc = bucket_lookup(cl, bucket, 0, cur, sizeof(cur), NULL);
    if (rc == 0)
        return strcmp(cur, owner) == 0 ? OG_EEXIST : -EACCES;
    if (rc != OG_ENOTFOUND)
        return rc;
    /* Two accounts racing for one new name both succeed here and the later timestamp owns
     * the bucket: the ring has no consensus round to make creation exclusive. */
    cluster_stamp(cl, &rec.ts, &rec.tiebreak);
    if ((rc = bucket_encode(owner, rec.ts, summary, sizeof(summary), &slen)) != 0)
        return OG_EINVAL;
    rec.summary = (og_str_t){summary, slen};
    return cluster_rec_put(cl, CORE_BUCKETS_TABLE, og_str(bucket), &rec);
}

int core_bucket_delete(cluster_t *cl, const char *bucket)
{
    og_rec_t rec = {.flags = OG_REC_TOMBSTONE};
    cluster_stamp(cl, &rec.ts, &rec.tiebreak);
    return cluster_rec_put(cl, CORE_BUCKETS_TABLE, og_str(bucket), &rec);
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

int core_cache_dflt_get(cluster_t *cl, const char *bucket, core_cache_dflt_t *out)
{
    core_bucket_t b;
    int rc = core_bucket_get(cl, bucket, &b);
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
