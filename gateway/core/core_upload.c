/*
 * core_upload.c: multipart upload records shared by both APIs (core.h): whether a bucket has
 * uploads in progress (DeleteBucket, Swift container DELETE), and the part sizes of completed
 * multipart objects ("p.<bucket>", for ?partNumber reads and their copies).
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>

#include "core.h"

#define LIST_PAGE 1000

/* Does upload record up belong to the bucket created at created_ns (not to an earlier bucket of
 * the same name)? A record written before uploads kept the stamp answers by its own time. */
int core_upload_in_bucket(const core_meta_t *up, uint64_t created_ns)
{
    og_str_t v = og_header_find(up->headers, up->num_headers, CORE_UPLOAD_BUCKET_HDR);
    uint64_t n;
    if (v.base == NULL)
        return up->mtime_ns >= created_ns;
    return og_parse_dec(v, 20, &n) == 0 && n == created_ns;
}

int core_part_sizes_put(cluster_t *cl, const char *bucket, og_str_t key, const uint8_t md5[16],
                          const uint64_t *sizes, uint32_t n)
{
    char table[CORE_TABLE_CAP];
    size_t len = 1 + 16 + 4 + (size_t)n * 8;
    unsigned char *d = malloc(len), *p = d;
    og_rec_t rec = {0};
    if (d == NULL)
        return -ENOMEM;
    *p++ = 1;
    memcpy(p, md5, 16), p += 16;
    og_be32_put(p, n), p += 4;
    for (uint32_t k = 0; k < n; k++)
        og_be64_put(p, sizes[k]), p += 8;
    core_table('p', bucket, table);
    cluster_stamp(cl, &rec.ts, &rec.tiebreak);
    rec.detail = (og_str_t){(const char *)d, len};
    int rc = cluster_rec_put(cl, table, key, &rec);
    free(d);
    return rc;
}

/* Is rec a live part-sizes record of multipart object m (its ETag's MD5 and part count)? */
static int part_sizes_match(const og_rec_t *rec, const core_meta_t *m)
{
    const unsigned char *p = (const unsigned char *)rec->detail.base;
    size_t len = rec->detail.len;
    if ((rec->flags & OG_REC_TOMBSTONE) || len < 21 || p[0] != 1 || memcmp(p + 1, m->md5, 16) != 0)
        return 0;
    uint32_t n = og_be32_get(p + 17);
    return n == m->parts && len == 21 + (size_t)n * 8;
}

int core_part_sizes_copy(cluster_t *cl, const char *src_bucket, og_str_t src_key, const char *dst_bucket,
                          og_str_t dst_key, const core_meta_t *m)
{
    char table[CORE_TABLE_CAP], *buf = NULL;
    og_rec_t rec, out = {0};
    int rc;
    if (m->parts == 0)
        return 0;
    core_table('p', src_bucket, table);
    if ((rc = cluster_rec_get(cl, table, src_key, &rec, &buf)) != 0)
        return rc == OG_ENOTFOUND ? 0 : rc;
    if (part_sizes_match(&rec, m)) {
        core_table('p', dst_bucket, table);
        cluster_stamp(cl, &out.ts, &out.tiebreak);
        out.detail = rec.detail;
        rc = cluster_rec_put(cl, table, dst_key, &out);
    }
    free(buf);
    return rc;
}

int core_part_range(cluster_t *cl, const char *bucket, og_str_t key, const core_meta_t *m, uint32_t part, uint64_t *first, uint64_t *last)
{
    char table[CORE_TABLE_CAP], *buf = NULL;
    og_rec_t rec;
    uint32_t nparts = m->parts ? m->parts : 1;
    int rc;
    if (part < 1 || part > nparts)
        return OG_EINVAL;
    if (m->parts == 0) {
        if (m->size == 0)
            return OG_EINVAL;
        *first = 0, *last = m->size - 1;
        return 0;
    }
    core_table('p', bucket, table);
    if ((rc = cluster_rec_get(cl, table, key, &rec, &buf)) != 0)
        return rc == OG_ENOTFOUND ? OG_ECORRUPT : rc;
    const unsigned char *p = (const unsigned char *)rec.detail.base;
    uint32_t n = m->parts;
    rc = OG_ECORRUPT;
    if (!part_sizes_match(&rec, m))
        goto out_free;
    uint64_t off = 0, size = 0;
    for (uint32_t k = 0; k < n; k++) {
        uint64_t s = og_be64_get(p + 21 + (size_t)k * 8);
        if (k + 1 < part)
            off += s;
        else if (k + 1 == part)
            size = s;
    }
    if (size == 0 || off + size > m->size)
        goto out_free;
    *first = off, *last = off + size - 1;
    rc = 0;
out_free:
    free(buf);
    return rc;
}

int core_upload_exists(cluster_t *cl, const char *bucket, uint64_t created_ns)
{
    char table[CORE_TABLE_CAP], from[OG_KEY_MAX + 2];
    og_str_t next = {from, 0};
    int rc = 0, found = 0;
    core_table('u', bucket, table);
    for (;;) {
        cluster_list_t l;
        int jumped = 0;
        if ((rc = cluster_list(cl, table, (og_str_t){"", 0}, next, LIST_PAGE, &l)) != 0)
            return rc;
        for (size_t i = 0; i < l.n && !found && !jumped && rc == 0; i++) {
            og_str_t k = l.entries[i].key;
            const char *sep = memchr(k.base, CORE_UPLOAD_SEP, k.len);
            core_meta_t m;
            if (sep == NULL)
                continue;
            size_t klen = (size_t)(sep - k.base), rest = k.len - klen - 1;
            if (rest > CORE_UPLOAD_ID_LEN && klen + 1 + CORE_UPLOAD_ID_LEN + 1 < sizeof(from)) {
                /* A part: its upload record sorts first and was judged already, or is gone (a
                 * dropped upload's leftover). Skip the rest of that upload's parts in one jump. */
                memcpy(from, k.base, klen + 1 + CORE_UPLOAD_ID_LEN);
                next.len = klen + 1 + CORE_UPLOAD_ID_LEN;
                from[next.len++] = CORE_UPLOAD_SEP + 1;
                jumped = 1;
            } else if (rest == CORE_UPLOAD_ID_LEN) {
                if (core_meta_decode(&l.entries[i].rec, &m) != 0) {
                    rc = OG_ECORRUPT;
                } else {
                    found = core_upload_in_bucket(&m, created_ns);
                    core_meta_free(&m);
                }
            }
        }
        int more = l.truncated && l.next_after.len > 0;
        if (!jumped && more && l.next_after.len < sizeof(from)) {
            memcpy(from, l.next_after.base, l.next_after.len);
            next.len = l.next_after.len;
        } else if (!jumped && more && rc == 0) {
            rc = OG_EPROTO; /* a key longer than any upload's: not ours to judge, refuse the delete */
        }
        cluster_list_free(&l);
        if (rc != 0 || found)
            return rc != 0 ? rc : 1;
        if (!jumped && !more)
            return 0;
    }
}

typedef struct {
    cluster_t *cl;
    const char *table;
} drop_all_t;

static int drop_one(void *ctx, og_str_t key, const og_rec_t *rec)
{
    const drop_all_t *d = ctx;
    (void)rec;
    return core_rec_delete(d->cl, d->table, key);
}

int core_upload_drop_all(cluster_t *cl, const char *bucket)
{
    char table[CORE_TABLE_CAP];
    core_table('u', bucket, table);
    drop_all_t d = {cl, table};
    return cluster_table_each(cl, table, drop_one, &d);
}
