/*
 * core_dlo.c: dynamic large objects (core.h "large objects"): a DLO is every object under a prefix
 * (X-Object-Manifest: container/prefix), in listing order, read one listing page at a time.
 * Each segment is checked against the listing (and so against the size and ETag already sent)
 * before its bytes go out.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/evp.h>

#include "core.h"

#define LIST_PAGE 1000

int core_dlo_valid(og_str_t v)
{
    const char *slash = memchr(v.base, '/', v.len);
    if (slash == NULL || slash == v.base || slash + 1 == v.base + v.len || slash[1] == '/')
        return 0;
    return memchr(v.base, '?', v.len) == NULL && memchr(v.base, '&', v.len) == NULL;
}

/* X-Object-Manifest into a container and a prefix (both percent-decoded, as Swift unquotes them).
 * 0 or OG_EINVAL. */
static int dlo_split(og_str_t v, char container[CORE_BUCKET_MAX + 1], og_buf_t *prefix)
{
    if (!core_dlo_valid(v))
        return OG_EINVAL;
    const char *slash = memchr(v.base, '/', v.len);
    char cb[3 * CORE_BUCKET_MAX + 1];
    size_t cl = (size_t)(slash - v.base);
    long n = cl < sizeof(cb) ? og_urldecode(v.base, cl, cb, sizeof(cb) - 1, 0) : -1;
    if (n <= 0 || n > CORE_BUCKET_MAX || memchr(cb, '/', (size_t)n) || memchr(cb, '\0', (size_t)n))
        return OG_EINVAL;
    memcpy(container, cb, (size_t)n);
    container[n] = '\0';
    if (og_buf_put(prefix, slash + 1, v.len - cl - 1) != 0)
        return -ENOMEM;
    n = og_urldecode(prefix->buf, prefix->len, prefix->buf, prefix->len, 0);
    if (n <= 0)
        return OG_EINVAL;
    prefix->len = (size_t)n;
    return 0;
}

/* Calls fn for every live, unexpired object under the DLO's prefix, in key order, one listing
 * page at a time, after resolving the segment container's bucket id into id (before fn's first
 * call). 0, fn's code, -EACCES, OG_EINVAL or a cluster error. */
typedef int (*dlo_fn)(void *ctx, og_str_t key, const core_meta_t *summary);

static int dlo_walk(core_lo_t *lo, og_str_t v, dlo_fn fn, void *ctx, char id[CORE_BID_CAP])
{
    char container[CORE_BUCKET_MAX + 1], table[CORE_TABLE_CAP];
    og_buf_t prefix = {0}, after = {0};
    int rc, more = 1;
    if ((rc = dlo_split(v, container, &prefix)) != 0)
        goto out_free;
    rc = lo->access(lo->ctx, container, CORE_LO_LIST, id);
    if (rc == OG_ENOTFOUND) {
        rc = 0; /* no segments yet: an empty object, as Swift */
        goto out_free;
    }
    if (rc != 0)
        goto out_free;
    core_table('o', id, table);
    while (more && rc == 0) {
        cluster_list_t l;
        if ((rc = cluster_list(lo->cl, table, (og_str_t){prefix.buf, prefix.len}, (og_str_t){after.buf, after.len},
                                  LIST_PAGE, &l)) != 0)
            break;
        for (size_t i = 0; i < l.n && rc == 0; i++) {
            core_meta_t m;
            if (core_meta_decode(&l.entries[i].rec, &m) != 0) {
                rc = OG_ECORRUPT;
                break;
            }
            if (!core_meta_expired(&m, lo->now_s))
                rc = fn(ctx, l.entries[i].key, &m);
            core_meta_free(&m);
        }
        more = l.truncated;
        after.len = 0;
        if (rc == 0 && more && og_buf_put(&after, l.next_after.base, l.next_after.len) != 0)
            rc = -ENOMEM;
        cluster_list_free(&l);
    }
    if (rc == 0 && after.oom)
        rc = -ENOMEM;
out_free:
    og_buf_free(&prefix);
    og_buf_free(&after);
    return rc;
}

typedef struct {
    uint64_t size;
    EVP_MD_CTX *md5;
} dlo_stat_t;

static int dlo_stat_one(void *ctx, og_str_t key, const core_meta_t *m)
{
    dlo_stat_t *s = ctx;
    char et[48];
    size_t n = core_lo_etag(m, et);
    (void)key;
    s->size += m->size;
    return EVP_DigestUpdate(s->md5, et, n) ? 0 : -ENOMEM;
}

int core_dlo_stat(core_lo_t *lo, og_str_t v, uint64_t *size, uint8_t md5[16])
{
    dlo_stat_t s = {0, EVP_MD_CTX_new()};
    unsigned dlen;
    int rc;
    if (s.md5 == NULL || !EVP_DigestInit_ex(s.md5, EVP_md5(), NULL)) {
        rc = -ENOMEM;
        goto out_free;
    }
    char id[CORE_BID_CAP] = "";
    if ((rc = dlo_walk(lo, v, dlo_stat_one, &s, id)) != 0)
        goto out_free;
    if (!EVP_DigestFinal_ex(s.md5, md5, &dlen)) {
        rc = -ENOMEM;
        goto out_free;
    }
    *size = s.size;
out_free:
    EVP_MD_CTX_free(s.md5);
    return rc;
}

typedef struct {
    core_lo_t *lo;
    char container[CORE_BID_CAP]; /* the segment container's bucket id (dlo_walk) */
    uint64_t off, first, last;
    core_obj_sink_fn sink;
    void *ctx;
} dlo_read_t;

static int dlo_read_one(void *ctx, og_str_t key, const core_meta_t *listed)
{
    dlo_read_t *d = ctx;
    uint64_t off = d->off;
    core_meta_t m;
    char *buf = NULL;
    int rc;
    d->off += listed->size;
    if (listed->size == 0 || off + listed->size <= d->first || off > d->last)
        return 0;
    uint64_t lo = d->first > off ? d->first - off : 0;
    uint64_t hi = d->last - off < listed->size - 1 ? d->last - off : listed->size - 1;
    if ((rc = core_obj_lookup(d->lo->cl, d->container, key, &m, &buf)) != 0)
        return rc == OG_ENOTFOUND ? OG_ECORRUPT : rc;
    /* The segment must be the version the listing (and so the size and ETag sent) saw. */
    if (m.size != listed->size || memcmp(m.md5, listed->md5, 16) != 0 || m.parts != listed->parts)
        rc = OG_ECORRUPT;
    else
        rc = core_obj_read(d->lo->cl, &m, lo, hi, d->sink, d->ctx);
    core_meta_free(&m);
    free(buf);
    return rc;
}

int core_dlo_read(core_lo_t *lo, og_str_t v, uint64_t first, uint64_t last, core_obj_sink_fn sink, void *ctx)
{
    dlo_read_t d = {.lo = lo, .first = first, .last = last, .sink = sink, .ctx = ctx};
    return dlo_walk(lo, v, dlo_read_one, &d, d.container);
}

