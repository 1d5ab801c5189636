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

int core_quota_check(cluster_t *cl, const char *bucket, const char *account, uint64_t add_bytes, int new_object)
{
    uint64_t now_s = og_time_ns() / 1000000000u, qbytes = 0, qcount = 0, nb;
    core_bucket_t b;
    core_account_t a;
    core_usage_t u;
    int rc, has_bytes, has_count;

    if ((rc = core_bucket_find(cl, account, bucket, &b)) != 0)
        return rc;
    has_bytes = quota_value(b.meta, b.num_meta, "x-container-meta-quota-bytes", &qbytes);
    has_count = quota_value(b.meta, b.num_meta, "x-container-meta-quota-count", &qcount);
    rc = has_bytes || has_count ? core_usage_bucket(cl, b.id, now_s, &u) : 0;
    core_bucket_free(&b);
    if (rc != 0)
        return rc;
    if (has_bytes || has_count) {
        if ((has_bytes && u.bytes + add_bytes > qbytes) || (has_count && new_object && u.objects + 1 > qcount))
            return CORE_EQUOTA;
    }
    rc = core_account_get(cl, account, &a);
    if (rc == OG_ENOTFOUND)
        return 0;
    if (rc != 0)
        return rc;
    has_bytes = quota_value(a.meta, a.num_meta, "x-account-meta-quota-bytes", &qbytes);
    core_account_free(&a);
    if (!has_bytes)
        return 0;
    if ((rc = core_usage_account(cl, account, now_s, &nb, &u)) != 0)
        return rc;
    return u.bytes + add_bytes > qbytes ? CORE_EQUOTA : 0;
}
