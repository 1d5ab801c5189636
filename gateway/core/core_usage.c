/*
 * core_usage.c: usage (objects, bytes) of buckets and accounts, and the quota check both APIs call before
 * committing a write.
 *
 * A bucket's usage is its object table's aggregate that every storage node keeps next to the
 * records (live records and the sum of their sizes, updated in the same synced write as each
 * record: docs/node-api.md, GET /<dev>/usage/<table>), read from a quorum of primaries by
 * cluster_table_usage. So it is exact after overwrites and deletes (each key counts once, with
 * its newest size; tombstones count nothing) and costs one small read per node whatever the bucket
 * holds. An object past its X-Delete-At counts until it is expired (a read of it, or
 * `onggi-admin expire`, writes its tombstone), as in Swift where the expirer removes it.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>

#include "core.h"

#define USAGE_PAGE 1000

int core_usage_bucket(cluster_t *cl, const char *bucket, uint64_t now_s, core_usage_t *out)
{
    char table[CORE_TABLE_CAP];
    cluster_table_usage_t u;
    memset(out, 0, sizeof(*out));
    core_table('o', bucket, table);
    int rc = cluster_table_usage(cl, table, &u);
    if (rc == 0) {
        out->objects = u.records;
        out->bytes = u.bytes;
    }
    return rc;
}

/* Adds the usage of the buckets listed in `table` to *buckets and *out: every record of the
 * account's own table, or (global table) those whose owner is `account`. */
static int usage_table(cluster_t *cl, const char *table, const char *account, uint64_t now_s, uint64_t *buckets,
                       core_usage_t *out)
{
    char after[CORE_BUCKET_MAX + 1];
    size_t after_len = 0;
    int rc = 0, global = strcmp(table, CORE_BUCKETS_TABLE) == 0;
    for (;;) {
        cluster_list_t l;
        if ((rc = cluster_list(cl, table, (og_str_t){NULL, 0}, (og_str_t){after, after_len}, USAGE_PAGE, &l)) != 0)
            return rc;
        for (size_t i = 0; i < l.n && rc == 0; i++) {
            core_bucket_t b;
            core_usage_t u;
            og_str_t key = l.entries[i].key;
            if (key.len > CORE_BUCKET_MAX || core_bucket_parse(&l.entries[i].rec, &b) != 0) {
                out->skipped++;
                continue;
            }
            if (!global || strcmp(b.owner, account) == 0) {
                if (b.id[0] == '\0')
                    memcpy(b.id, key.base, key.len), b.id[key.len] = '\0';
                if ((rc = core_usage_bucket(cl, b.id, now_s, &u)) == 0) {
                    (*buckets)++;
                    out->objects += u.objects;
                    out->bytes += u.bytes;
                }
            }
            core_bucket_free(&b);
        }
        int more = rc == 0 && l.truncated && l.next_after.len > 0 && l.next_after.len <= sizeof(after);
        if (more) {
            memcpy(after, l.next_after.base, l.next_after.len);
            after_len = l.next_after.len;
        }
        cluster_list_free(&l);
        if (rc != 0 || !more)
            return rc;
    }
}

int core_usage_account(cluster_t *cl, const char *account, uint64_t now_s, uint64_t *buckets, core_usage_t *out)
{
    char own[CORE_TABLE_CAP];
    int rc;
    memset(out, 0, sizeof(*out));
    *buckets = 0;
    core_table('b', account, own);
    if ((rc = usage_table(cl, CORE_BUCKETS_TABLE, account, now_s, buckets, out)) != 0)
        return rc;
    return usage_table(cl, own, account, now_s, buckets, out);
}

/* The decimal value of metadata `name` in list h, or 0 (absent or not a number: Swift ignores
 * a quota it cannot parse, and refuses to store one at POST time). 1 when set. */
static int quota_value(const og_header_t *h, size_t n, const char *name, uint64_t *out)
{
    for (size_t i = 0; i < n; i++) {
        if (!og_str_eq(h[i].name, name))
            continue;
        return og_parse_dec(h[i].value, 19, out) == 0;
    }
    return 0;
}

/* ---- the quota check (docs/architecture.md, "Quotas") ----
 * Every write consults it, so what it reads comes from the cluster handle's counters cache
 * (cluster_memo_get): the bucket record from the record cache as everywhere, and at most once per
 * TTL per key the account's quota, a bucket's usage and an account's usage, plus what this gateway
 * let through since. A PUT to a bucket without quotas, in an account without one, then costs no
 * node round trip here. */

/* Memo keys: 'q' an account's quota, 'a' its usage, 'u' a bucket's usage (by its id). */
static og_str_t quota_key(char kind, const char *name, char *out, size_t cap)
{
    int n = snprintf(out, cap, "%c/%s", kind, name);
    return (og_str_t){out, n > 0 && (size_t)n < cap ? (size_t)n : 0};
}

typedef struct {
    cluster_t *cl;
    const char *name; /* bucket id or account */
} quota_fill_t;

static int fill_bucket_usage(void *ctx, uint64_t v[CLUSTER_MEMO_VALS])
{
    quota_fill_t *f = ctx;
    core_usage_t u;
    int rc = core_usage_bucket(f->cl, f->name, 0, &u);
    v[0] = u.objects, v[1] = u.bytes;
    return rc;
}

static int fill_account_usage(void *ctx, uint64_t v[CLUSTER_MEMO_VALS])
{
    quota_fill_t *f = ctx;
    core_usage_t u;
    uint64_t nb;
    int rc = core_usage_account(f->cl, f->name, 0, &nb, &u);
    v[0] = u.objects, v[1] = u.bytes;
    return rc;
}

/* v[0] 1 when the account has a byte quota, v[1] the quota. */
static int fill_account_quota(void *ctx, uint64_t v[CLUSTER_MEMO_VALS])
{
    quota_fill_t *f = ctx;
    core_account_t a;
    int rc = core_account_get(f->cl, f->name, &a);
    v[0] = v[1] = 0;
    if (rc == OG_ENOTFOUND)
        return 0;
    if (rc != 0)
        return rc;
    v[0] = (uint64_t)quota_value(a.meta, a.num_meta, "x-account-meta-quota-bytes", &v[1]);
    core_account_free(&a);
    return 0;
}

/* key's counters through the cache, filled by fill from name (a bucket id or an account). */
static int quota_read(cluster_t *cl, og_str_t key, cluster_memo_fill_fn fill, const char *name, uint64_t u[2])
{
    quota_fill_t f = {cl, name};
    return cluster_memo_get(cl, key, fill, &f, u);
}

/* The bucket's own quotas: 0, CORE_EQUOTA or an error; *limited when it has one. */
static int quota_bucket(cluster_t *cl, const core_bucket_t *b, og_str_t key, uint64_t add_bytes, int new_object,
                        int *limited)
{
    uint64_t qbytes = 0, qcount = 0, u[2];
    int has_bytes = quota_value(b->meta, b->num_meta, "x-container-meta-quota-bytes", &qbytes);
    int has_count = quota_value(b->meta, b->num_meta, "x-container-meta-quota-count", &qcount), rc;
    *limited = has_bytes || has_count;
    if (!*limited)
        return 0;
    if ((rc = quota_read(cl, key, fill_bucket_usage, b->id, u)) != 0)
        return rc;
    if ((has_bytes && u[1] + add_bytes > qbytes) || (has_count && new_object && u[0] + 1 > qcount))
        return CORE_EQUOTA;
    return 0;
}

int core_quota_check(cluster_t *cl, const char *bucket, const char *account, uint64_t add_bytes, int new_object)
{
    char bkey[CORE_BID_CAP + 3], qkey[80], akey[80];
    og_str_t bk, qk = quota_key('q', account, qkey, sizeof(qkey)), ak = quota_key('a', account, akey, sizeof(akey));
    uint64_t q[2], u[2];
    core_bucket_t b;
    int rc, limited;

    if ((rc = core_bucket_find(cl, account, bucket, &b)) != 0)
        return rc;
    bk = quota_key('u', b.id, bkey, sizeof(bkey));
    rc = quota_bucket(cl, &b, bk, add_bytes, new_object, &limited);
    core_bucket_free(&b);
    if (rc != 0)
        return rc;
    if ((rc = quota_read(cl, qk, fill_account_quota, account, q)) != 0)
        return rc;
    if (q[0] && (rc = quota_read(cl, ak, fill_account_usage, account, u)) != 0)
        return rc;
    if (q[0] && u[1] + add_bytes > q[1])
        return CORE_EQUOTA;
    /* let through: counted until the next read of the usage, which then holds it */
    const uint64_t add[CLUSTER_MEMO_VALS] = {new_object ? 1 : 0, add_bytes};
    if (limited)
        cluster_memo_add(cl, bk, add);
    if (q[0])
        cluster_memo_add(cl, ak, add);
    return 0;
}

void core_quota_forget(cluster_t *cl, const char *bucket_id, const char *account)
{
    char key[CORE_BID_CAP + 80];
    if (bucket_id != NULL)
        cluster_memo_forget(cl, quota_key('u', bucket_id, key, sizeof(key)));
    if (account != NULL)
        cluster_memo_forget(cl, quota_key('q', account, key, sizeof(key)));
}
