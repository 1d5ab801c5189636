/*
 * core_account.c: account records (table "accounts"): creation time and account metadata
 * (x-account-meta-*, Swift quotas), shared by both APIs (core.h).
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "core.h"

/* ---------------------------------------------------------------- accounts */

#define ACCOUNTS_TABLE "accounts"
#define ACCOUNT_VERSION 1

static int account_name_ok(const char *name)
{
    size_t n = strnlen(name, 64);
    return n > 0 && n < 64 && strpbrk(name, ":/") == NULL;
}

static int account_decode(const og_rec_t *rec, core_account_t *a)
{
    const unsigned char *p = (const unsigned char *)rec->summary.base;
    size_t used;
    if (rec->summary.len < 9 || p[0] != ACCOUNT_VERSION)
        return OG_EPROTO;
    a->created_ns = og_be64_get(p + 1);
    og_str_t rest = {rec->summary.base + 9, rec->summary.len - 9};
    int rc = core_hdrs_decode(rest, &a->meta, &a->num_meta, &used);
    if (rc == 0 && used != rest.len) {
        free(a->meta);
        a->meta = NULL;
        rc = OG_EPROTO;
    }
    return rc;
}

int core_account_get(cluster_t *cl, const char *name, core_account_t *out)
{
    og_rec_t rec;
    char *buf = NULL;
    int rc;
    memset(out, 0, sizeof(*out));
    if (!account_name_ok(name))
        return OG_ENOTFOUND;
    if ((rc = cluster_rec_get(cl, ACCOUNTS_TABLE, og_str(name), &rec, &buf)) != 0)
        return rc;
    if (rec.flags & OG_REC_TOMBSTONE)
        rc = OG_ENOTFOUND;
    else if ((rc = account_decode(&rec, out)) == 0)
        out->_buf = buf, buf = NULL;
    free(buf);
    return rc;
}

int core_account_put(cluster_t *cl, const char *name, const core_account_t *a)
{
    size_t hlen = core_hdrs_encoded_len(a->meta, a->num_meta);
    unsigned char *s, *p;
    og_rec_t rec = {0};
    int rc;
    if (!account_name_ok(name) || hlen == 0)
        return OG_EINVAL;
    if ((s = malloc(9 + hlen)) == NULL)
        return -ENOMEM;
    p = s;
    *p++ = ACCOUNT_VERSION;
    og_be64_put(p, a->created_ns);
    p += 8;
    p = core_hdrs_encode(a->meta, a->num_meta, p);
    rec.summary = (og_str_t){(const char *)s, (size_t)(p - s)};
    cluster_stamp(cl, &rec.ts, &rec.tiebreak);
    if ((rc = cluster_rec_put(cl, ACCOUNTS_TABLE, og_str(name), &rec)) == 0)
        core_quota_forget(cl, NULL, name);
    free(s);
    return rc;
}

void core_account_free(core_account_t *a)
{
    free(a->meta);
    free(a->_buf);
    memset(a, 0, sizeof(*a));
}

typedef struct {
    int (*fn)(void *ctx, const char *name);
    void *ctx;
} account_each_t;

static int account_each_one(void *ctx, og_str_t key, const og_rec_t *rec)
{
    account_each_t *e = ctx;
    char name[64];
    if (key.len == 0 || key.len >= sizeof(name))
        return 0;
    memcpy(name, key.base, key.len);
    name[key.len] = '\0';
    return e->fn(e->ctx, name);
}

int core_account_each(cluster_t *cl, int (*fn)(void *ctx, const char *name), void *ctx)
{
    account_each_t e = {fn, ctx};
    return cluster_table_each(cl, ACCOUNTS_TABLE, account_each_one, &e);
}
