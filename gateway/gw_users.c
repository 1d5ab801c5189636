/*
 * gw_users.c: S3 credentials as records of table "users" (see gw_users.h).
 *
 * Every signed request looks its access key up, so positive answers are cached per cluster handle
 * for a few seconds: a changed secret or a new user reaches other gateways within that time, and
 * this gateway at once (gw_users_put refreshes its own cache). Misses are never cached, so a user
 * created a moment ago is never refused.
 */
#include "gw_cluster_int.h"
#include "gw_users.h"
#include "gw_meta.h"

#include <errno.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <xxhash.h>

#define USERS_TABLE "users"
#define USERS_CACHE_SLOTS 64 /* direct-mapped: a collision only costs a quorum read */
#define USERS_CACHE_TTL_MS 5000
#define USERS_PAGE 1000
#define USERS_KEY_MAX 1024 /* longest record key the cluster accepts */

struct st_gw_users_cache_t {
    pthread_mutex_t mu;
    struct {
        uint64_t expires_ms; /* og_mono_ms() deadline; 0 = empty */
        gw_user_t user;
    } slot[USERS_CACHE_SLOTS];
};

/* Makes an empty cache for a new cluster handle. NULL on allocation failure. */
gw_users_cache_t *gw_users_cache_new(void)
{
    gw_users_cache_t *c = calloc(1, sizeof(*c));
    if (c && pthread_mutex_init(&c->mu, NULL) != 0) {
        free(c);
        c = NULL;
    }
    return c;
}

void gw_users_cache_free(gw_users_cache_t *c)
{
    if (!c)
        return;
    pthread_mutex_destroy(&c->mu);
    free(c);
}

static size_t users_slot(og_str_t key)
{
    return (size_t)(XXH3_64bits(key.base, key.len) % USERS_CACHE_SLOTS);
}

static int users_cache_get(gw_users_cache_t *c, og_str_t key, gw_user_t *out)
{
    size_t i = users_slot(key);
    int hit = 0;
    pthread_mutex_lock(&c->mu);
    if (c->slot[i].expires_ms > og_mono_ms() && og_str_eq(key, c->slot[i].user.access_key)) {
        *out = c->slot[i].user;
        hit = 1;
    }
    pthread_mutex_unlock(&c->mu);
    return hit;
}

static void users_cache_put(gw_users_cache_t *c, const gw_user_t *u)
{
    size_t i = users_slot(og_str(u->access_key));
    pthread_mutex_lock(&c->mu);
    c->slot[i].user = *u;
    c->slot[i].expires_ms = og_mono_ms() + USERS_CACHE_TTL_MS;
    pthread_mutex_unlock(&c->mu);
}

/* Length of a NUL-terminated field of capacity cap, or -1 when it is not terminated within it. */
static long users_field_len(const char *s, size_t cap)
{
    size_t n = strnlen(s, cap);
    return n == cap ? -1 : (long)n;
}

static unsigned char *users_put_field(unsigned char *p, const char *s, size_t n)
{
    p[0] = (unsigned char)(n >> 8);
    p[1] = (unsigned char)n;
    memcpy(p + 2, s, n);
    return p + 2 + n;
}

/* Reads one u16-length field of the summary into dst (capacity cap, NUL-terminated). */
static int users_get_field(og_str_t *in, char *dst, size_t cap)
{
    if (in->len < 2)
        return OG_EPROTO;
    const unsigned char *p = (const unsigned char *)in->base;
    size_t n = (size_t)p[0] << 8 | p[1];
    if (n > in->len - 2 || n >= cap || memchr(p + 2, '\0', n))
        return OG_EPROTO;
    memcpy(dst, p + 2, n);
    dst[n] = '\0';
    in->base += 2 + n;
    in->len -= 2 + n;
    return 0;
}

/* Fills u from a record's key and summary. 0 or OG_EPROTO. */
static int users_decode(og_str_t key, const og_rec_t *rec, gw_user_t *u)
{
    og_str_t in = rec->summary;
    int rc;
    if (key.len == 0 || key.len >= sizeof(u->access_key))
        return OG_EPROTO;
    memcpy(u->access_key, key.base, key.len);
    u->access_key[key.len] = '\0';
    if ((rc = users_get_field(&in, u->secret, sizeof(u->secret))) != 0 ||
        (rc = users_get_field(&in, u->account, sizeof(u->account))) != 0 ||
        (rc = users_get_field(&in, u->display_name, sizeof(u->display_name))) != 0)
        return rc;
    return in.len == 0 ? 0 : OG_EPROTO;
}

int gw_users_put(gw_cluster_t *cl, const gw_user_t *u)
{
    unsigned char summary[3 * 2 + sizeof(u->secret) + sizeof(u->account) + sizeof(u->display_name)], *p = summary;
    long klen = users_field_len(u->access_key, sizeof(u->access_key));
    long slen = users_field_len(u->secret, sizeof(u->secret));
    long alen = users_field_len(u->account, sizeof(u->account));
    long dlen = users_field_len(u->display_name, sizeof(u->display_name));
    int rc;

    /* The display name is optional in S3 answers; the rest identify and authenticate. */
    if (klen <= 0 || slen <= 0 || alen <= 0 || dlen < 0)
        return OG_EINVAL;
    p = users_put_field(p, u->secret, (size_t)slen);
    p = users_put_field(p, u->account, (size_t)alen);
    p = users_put_field(p, u->display_name, (size_t)dlen);
    og_rec_t rec = {.summary = {(const char *)summary, (size_t)(p - summary)}};
    gw_cluster_stamp(cl, &rec.ts, &rec.tiebreak);
    if ((rc = gw_cluster_rec_put(cl, USERS_TABLE, (og_str_t){u->access_key, (size_t)klen}, &rec)) == 0)
        users_cache_put(gw_cluster_users_cache(cl), u);
    return rc;
}

int gw_users_get(gw_cluster_t *cl, og_str_t access_key, gw_user_t *out)
{
    gw_users_cache_t *cache = gw_cluster_users_cache(cl);
    og_rec_t rec;
    char *buf;
    int rc;

    if (access_key.len == 0 || access_key.len >= sizeof(out->access_key))
        return OG_ENOTFOUND; /* no such key can have been stored */
    if (users_cache_get(cache, access_key, out))
        return 0;
    if ((rc = gw_cluster_rec_get(cl, USERS_TABLE, access_key, &rec, &buf)) != 0)
        return rc;
    if (rec.flags & OG_REC_TOMBSTONE)
        rc = OG_ENOTFOUND;
    else if ((rc = users_decode(access_key, &rec, out)) == 0)
        users_cache_put(cache, out);
    free(buf);
    return rc;
}

/* Calls fn(ctx, key, rec) for every live record of table, page by page. */
static int users_table_each(gw_cluster_t *cl, const char *table,
                            int (*fn)(void *ctx, og_str_t key, const og_rec_t *rec), void *ctx)
{
    char after[USERS_KEY_MAX];
    size_t after_len = 0;
    gw_list_t page;
    int rc;
    for (;;) {
        if ((rc = gw_cluster_list(cl, table, (og_str_t){NULL, 0}, (og_str_t){after, after_len}, USERS_PAGE,
                                  &page)) != 0)
            return rc;
        for (size_t i = 0; i < page.n && rc == 0; i++)
            rc = fn(ctx, page.entries[i].key, &page.entries[i].rec);
        int more = page.truncated && page.next_after.len <= sizeof(after);
        if (more) {
            memcpy(after, page.next_after.base, page.next_after.len);
            after_len = page.next_after.len;
        }
        gw_list_free(&page);
        if (rc != 0 || !more)
            return rc;
    }
}

typedef struct {
    int (*fn)(void *ctx, const gw_user_t *u);
    void *ctx;
} users_each_t;

static int users_each_one(void *ctx, og_str_t key, const og_rec_t *rec)
{
    users_each_t *e = ctx;
    gw_user_t u;
    /* A record that does not decode is skipped: one bad record must not hide every other user
     * from the administrator. */
    return users_decode(key, rec, &u) == 0 ? e->fn(e->ctx, &u) : 0;
}

int gw_users_each(gw_cluster_t *cl, int (*fn)(void *ctx, const gw_user_t *u), void *ctx)
{
    users_each_t e = {fn, ctx};
    return users_table_each(cl, USERS_TABLE, users_each_one, &e);
}

int gw_users_delete(gw_cluster_t *cl, const char *access_key)
{
    og_rec_t rec = {.flags = OG_REC_TOMBSTONE};
    gw_users_cache_t *c = gw_cluster_users_cache(cl);
    size_t i = users_slot(og_str(access_key));
    gw_cluster_stamp(cl, &rec.ts, &rec.tiebreak);
    int rc = gw_cluster_rec_put(cl, USERS_TABLE, og_str(access_key), &rec);
    /* This gateway stops accepting the key at once; others within the cache TTL. */
    pthread_mutex_lock(&c->mu);
    if (og_str_eq(og_str(access_key), c->slot[i].user.access_key))
        c->slot[i].expires_ms = 0;
    pthread_mutex_unlock(&c->mu);
    return rc;
}

/* ---------------------------------------------------------------- Swift users */

#define SWIFT_USERS_TABLE "swift_users"
#define SWIFT_USER_VERSION 1

/* "account:user" into out (cap bytes). Its length, or OG_EINVAL when a part is empty, too long or
 * the account holds ':' or '/' (it would make the key ambiguous or the storage URL wrong). */
static long swift_user_key(const char *account, const char *user, char *out, size_t cap)
{
    size_t al = strnlen(account, 64), ul = strnlen(user, 128);
    if (al == 0 || al >= 64 || ul == 0 || ul >= 128 || strpbrk(account, ":/") != NULL || al + 1 + ul + 1 > cap)
        return OG_EINVAL;
    memcpy(out, account, al);
    out[al] = ':';
    memcpy(out + al + 1, user, ul + 1);
    return (long)(al + 1 + ul);
}

static int swift_user_decode(og_str_t key, const og_rec_t *rec, gw_swift_user_t *u)
{
    const unsigned char *p = (const unsigned char *)rec->summary.base;
    const char *colon = key.len ? memchr(key.base, ':', key.len) : NULL;
    memset(u, 0, sizeof(*u));
    if (colon == NULL || rec->summary.len < 2 || p[0] != SWIFT_USER_VERSION)
        return OG_EPROTO;
    size_t al = (size_t)(colon - key.base), ul = key.len - al - 1;
    if (al == 0 || al >= sizeof(u->account) || ul == 0 || ul >= sizeof(u->user))
        return OG_EPROTO;
    memcpy(u->account, key.base, al);
    memcpy(u->user, colon + 1, ul);
    u->flags = p[1];
    og_str_t in = {rec->summary.base + 2, rec->summary.len - 2};
    int rc = users_get_field(&in, u->key, sizeof(u->key));
    if (rc == 0 && in.len != 0)
        rc = OG_EPROTO;
    return rc;
}

int gw_swift_user_put(gw_cluster_t *cl, const gw_swift_user_t *u)
{
    char key[64 + 128];
    unsigned char summary[2 + 2 + sizeof(u->key)], *p = summary;
    long klen = swift_user_key(u->account, u->user, key, sizeof(key));
    long slen = users_field_len(u->key, sizeof(u->key));
    if (klen < 0 || slen <= 0)
        return OG_EINVAL;
    *p++ = SWIFT_USER_VERSION;
    *p++ = u->flags;
    p = users_put_field(p, u->key, (size_t)slen);
    og_rec_t rec = {.summary = {(const char *)summary, (size_t)(p - summary)}};
    gw_cluster_stamp(cl, &rec.ts, &rec.tiebreak);
    return gw_cluster_rec_put(cl, SWIFT_USERS_TABLE, (og_str_t){key, (size_t)klen}, &rec);
}

int gw_swift_user_get(gw_cluster_t *cl, const char *account, const char *user, gw_swift_user_t *out)
{
    char key[64 + 128], *buf;
    og_rec_t rec;
    long klen = swift_user_key(account, user, key, sizeof(key));
    int rc;
    if (klen < 0)
        return OG_ENOTFOUND; /* no such user can have been stored */
    if ((rc = gw_cluster_rec_get(cl, SWIFT_USERS_TABLE, (og_str_t){key, (size_t)klen}, &rec, &buf)) != 0)
        return rc;
    if (rec.flags & OG_REC_TOMBSTONE)
        rc = OG_ENOTFOUND;
    else
        rc = swift_user_decode((og_str_t){key, (size_t)klen}, &rec, out);
    free(buf);
    return rc;
}

int gw_swift_user_delete(gw_cluster_t *cl, const char *account, const char *user)
{
    char key[64 + 128];
    long klen = swift_user_key(account, user, key, sizeof(key));
    og_rec_t rec = {.flags = OG_REC_TOMBSTONE};
    if (klen < 0)
        return OG_EINVAL;
    gw_cluster_stamp(cl, &rec.ts, &rec.tiebreak);
    return gw_cluster_rec_put(cl, SWIFT_USERS_TABLE, (og_str_t){key, (size_t)klen}, &rec);
}

typedef struct {
    int (*fn)(void *ctx, const gw_swift_user_t *u);
    void *ctx;
} swift_each_t;

static int swift_each_one(void *ctx, og_str_t key, const og_rec_t *rec)
{
    swift_each_t *e = ctx;
    gw_swift_user_t u;
    /* One record that does not decode must not hide every other user from the administrator. */
    return swift_user_decode(key, rec, &u) == 0 ? e->fn(e->ctx, &u) : 0;
}

int gw_swift_user_each(gw_cluster_t *cl, int (*fn)(void *ctx, const gw_swift_user_t *u), void *ctx)
{
    swift_each_t e = {fn, ctx};
    return users_table_each(cl, SWIFT_USERS_TABLE, swift_each_one, &e);
}

/* ---------------------------------------------------------------- accounts */

#define ACCOUNTS_TABLE "accounts"
#define ACCOUNT_VERSION 1

static int account_name_ok(const char *name)
{
    size_t n = strnlen(name, 64);
    return n > 0 && n < 64 && strpbrk(name, ":/") == NULL;
}

static int account_decode(const og_rec_t *rec, gw_account_t *a)
{
    const unsigned char *p = (const unsigned char *)rec->summary.base;
    size_t used;
    if (rec->summary.len < 9 || p[0] != ACCOUNT_VERSION)
        return OG_EPROTO;
    a->created_ns = 0;
    for (int i = 1; i <= 8; i++)
        a->created_ns = a->created_ns << 8 | p[i];
    og_str_t rest = {rec->summary.base + 9, rec->summary.len - 9};
    int rc = gw_hdrs_decode(rest, &a->meta, &a->num_meta, &used);
    if (rc == 0 && used != rest.len) {
        free(a->meta);
        a->meta = NULL;
        rc = OG_EPROTO;
    }
    return rc;
}

int gw_account_get(gw_cluster_t *cl, const char *name, gw_account_t *out)
{
    og_rec_t rec;
    char *buf = NULL;
    int rc;
    memset(out, 0, sizeof(*out));
    if (!account_name_ok(name))
        return OG_ENOTFOUND;
    if ((rc = gw_cluster_rec_get(cl, ACCOUNTS_TABLE, og_str(name), &rec, &buf)) != 0)
        return rc;
    if (rec.flags & OG_REC_TOMBSTONE)
        rc = OG_ENOTFOUND;
    else if ((rc = account_decode(&rec, out)) == 0)
        out->_buf = buf, buf = NULL;
    free(buf);
    return rc;
}

int gw_account_put(gw_cluster_t *cl, const char *name, const gw_account_t *a)
{
    size_t hlen = gw_hdrs_encoded_len(a->meta, a->num_meta);
    unsigned char *s, *p;
    og_rec_t rec = {0};
    int rc;
    if (!account_name_ok(name) || hlen == 0)
        return OG_EINVAL;
    if ((s = malloc(9 + hlen)) == NULL)
        return -ENOMEM;
    p = s;
    *p++ = ACCOUNT_VERSION;
    for (int i = 7; i >= 0; i--)
        *p++ = (unsigned char)(a->created_ns >> (8 * i));
    p = gw_hdrs_encode(a->meta, a->num_meta, p);
    rec.summary = (og_str_t){(const char *)s, (size_t)(p - s)};
    gw_cluster_stamp(cl, &rec.ts, &rec.tiebreak);
    rc = gw_cluster_rec_put(cl, ACCOUNTS_TABLE, og_str(name), &rec);
    free(s);
    return rc;
}

int gw_account_delete(gw_cluster_t *cl, const char *name)
{
    og_rec_t rec = {.flags = OG_REC_TOMBSTONE};
    if (!account_name_ok(name))
        return OG_EINVAL;
    gw_cluster_stamp(cl, &rec.ts, &rec.tiebreak);
    return gw_cluster_rec_put(cl, ACCOUNTS_TABLE, og_str(name), &rec);
}

void gw_account_free(gw_account_t *a)
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

int gw_account_each(gw_cluster_t *cl, int (*fn)(void *ctx, const char *name), void *ctx)
{
    account_each_t e = {fn, ctx};
    return users_table_each(cl, ACCOUNTS_TABLE, account_each_one, &e);
}
