/*
 * iam_users.c: S3 key pairs (table "users") and Swift users (table "swift_users"), see iam.h.
 *
 * Every signed request looks its access key up, so positive answers are cached per IAM context
 * for a few seconds: a changed secret or a new user reaches other gateways within that time, and
 * this gateway at once (iam_user_put refreshes its own cache). Names the cluster does not know
 * are remembered for IAM_NEG_TTL_MS (iam_int.h), so a client repeating a wrong key does not cost a
 * quorum read per request; storing a name drops it from that cache on this gateway at once.
 */
#include "iam_int.h"

#include <errno.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <xxhash.h>

#include <openssl/crypto.h>

#define USERS_TABLE "users"
#define USERS_CACHE_TTL_MS 5000

int iam_open(cluster_t *cl, iam_t **out)
{
    int rc;
    iam_t *iam = calloc(1, sizeof(*iam));
    if (!iam)
        return -ENOMEM;
    iam->cl = cl;
    if ((rc = pthread_mutex_init(&iam->users_mu, NULL)) != 0)
        goto out_free;
    if ((rc = pthread_mutex_init(&iam->key_mu, NULL)) != 0)
        goto out_destroy_users;
    *out = iam;
    return 0;

out_destroy_users:
    pthread_mutex_destroy(&iam->users_mu);
out_free:
    free(iam);
    return -rc;
}

void iam_close(iam_t *iam)
{
    if (!iam)
        return;
    pthread_mutex_destroy(&iam->key_mu);
    pthread_mutex_destroy(&iam->users_mu);
    OPENSSL_cleanse(iam->secret, sizeof(iam->secret));
    free(iam);
}

static size_t users_slot(og_str_t key)
{
    return (size_t)(XXH3_64bits(key.base, key.len) % IAM_USERS_CACHE_SLOTS);
}

static int users_cache_get(iam_t *c, og_str_t key, iam_user_t *out)
{
    size_t i = users_slot(key);
    int hit = 0;
    pthread_mutex_lock(&c->users_mu);
    if (c->users[i].expires_ms > og_mono_ms() && og_str_eq(key, c->users[i].user.access_key)) {
        *out = c->users[i].user;
        hit = 1;
    }
    pthread_mutex_unlock(&c->users_mu);
    return hit;
}

static void users_cache_put(iam_t *c, const iam_user_t *u)
{
    size_t i = users_slot(og_str(u->access_key));
    pthread_mutex_lock(&c->users_mu);
    c->users[i].user = *u;
    c->users[i].expires_ms = og_mono_ms() + USERS_CACHE_TTL_MS;
    pthread_mutex_unlock(&c->users_mu);
}

/* The negative cache's hash of a name of one table (the table is the seed's source). */
static uint64_t neg_hash(const char *table, og_str_t name)
{
    return XXH3_64bits_withSeed(name.base, name.len, XXH3_64bits(table, strlen(table)));
}

/* Was the name recently unknown to the cluster? */
static int neg_has(iam_t *c, uint64_t h)
{
    size_t i = (size_t)(h % IAM_NEG_SLOTS);
    pthread_mutex_lock(&c->users_mu);
    int hit = c->neg[i].hash == h && c->neg[i].expires_ms > og_mono_ms();
    pthread_mutex_unlock(&c->users_mu);
    return hit;
}

/* Remembers (unknown) or forgets (!unknown) a name. */
static void neg_set(iam_t *c, uint64_t h, int unknown)
{
    size_t i = (size_t)(h % IAM_NEG_SLOTS);
    pthread_mutex_lock(&c->users_mu);
    if (unknown) {
        c->neg[i].hash = h;
        c->neg[i].expires_ms = og_mono_ms() + IAM_NEG_TTL_MS;
    } else if (c->neg[i].hash == h) {
        c->neg[i].expires_ms = 0;
    }
    pthread_mutex_unlock(&c->users_mu);
}

/* Length of a NUL-terminated field of capacity cap, or -1 when it is not terminated within it. */
static long users_field_len(const char *s, size_t cap)
{
    size_t n = strnlen(s, cap);
    return n == cap ? -1 : (long)n;
}

static unsigned char *users_put_field(unsigned char *p, const char *s, size_t n)
{
    og_be16_put(p, (uint16_t)n);
    memcpy(p + 2, s, n);
    return p + 2 + n;
}

/* Reads one u16-length field of the summary into dst (capacity cap, NUL-terminated). */
static int users_get_field(og_str_t *in, char *dst, size_t cap)
{
    if (in->len < 2)
        return OG_EPROTO;
    const unsigned char *p = (const unsigned char *)in->base;
    size_t n = og_be16_get(p);
    if (n > in->len - 2 || n >= cap || memchr(p + 2, '\0', n))
        return OG_EPROTO;
    memcpy(dst, p + 2, n);
    dst[n] = '\0';
    in->base += 2 + n;
    in->len -= 2 + n;
    return 0;
}

/* Fills u from a record's key and summary. 0 or OG_EPROTO. */
static int users_decode(og_str_t key, const og_rec_t *rec, iam_user_t *u)
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

int iam_user_put(iam_t *iam, const iam_user_t *u)
{
    cluster_t *cl = iam->cl;
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
    cluster_stamp(cl, &rec.ts, &rec.tiebreak);
    if ((rc = cluster_rec_put(cl, USERS_TABLE, (og_str_t){u->access_key, (size_t)klen}, &rec)) == 0) {
        users_cache_put(iam, u);
        neg_set(iam, neg_hash(USERS_TABLE, (og_str_t){u->access_key, (size_t)klen}), 0);
    }
    return rc;
}

int iam_user_get(iam_t *iam, og_str_t access_key, iam_user_t *out)
{
    cluster_t *cl = iam->cl;
    og_rec_t rec;
    char *buf;
    int rc;

    if (access_key.len == 0 || access_key.len >= sizeof(out->access_key))
        return OG_ENOTFOUND; /* no such key can have been stored */
    if (users_cache_get(iam, access_key, out))
        return 0;
    uint64_t nh = neg_hash(USERS_TABLE, access_key);
    if (neg_has(iam, nh))
        return OG_ENOTFOUND;
    if ((rc = cluster_rec_get(cl, USERS_TABLE, access_key, &rec, &buf)) != 0)
        goto out_unknown;
    if (rec.flags & OG_REC_TOMBSTONE)
        rc = OG_ENOTFOUND;
    else if ((rc = users_decode(access_key, &rec, out)) == 0)
        users_cache_put(iam, out);
    free(buf);
out_unknown:
    if (rc == OG_ENOTFOUND)
        neg_set(iam, nh, 1);
    return rc;
}

typedef struct {
    int (*fn)(void *ctx, const iam_user_t *u);
    void *ctx;
} users_each_t;

static int users_each_one(void *ctx, og_str_t key, const og_rec_t *rec)
{
    users_each_t *e = ctx;
    iam_user_t u;
    /* A record that does not decode is skipped: one bad record must not hide every other user
     * from the administrator. */
    return users_decode(key, rec, &u) == 0 ? e->fn(e->ctx, &u) : 0;
}

int iam_user_each(iam_t *iam, int (*fn)(void *ctx, const iam_user_t *u), void *ctx)
{
    cluster_t *cl = iam->cl;
    users_each_t e = {fn, ctx};
    return cluster_table_each(cl, USERS_TABLE, users_each_one, &e);
}

int iam_user_delete(iam_t *iam, const char *access_key)
{
    cluster_t *cl = iam->cl;
    og_rec_t rec = {.flags = OG_REC_TOMBSTONE};
    size_t i = users_slot(og_str(access_key));
    cluster_stamp(cl, &rec.ts, &rec.tiebreak);
    int rc = cluster_rec_put(cl, USERS_TABLE, og_str(access_key), &rec);
    /* This gateway stops accepting the key at once; others within the cache TTL. */
    pthread_mutex_lock(&iam->users_mu);
    if (og_str_eq(og_str(access_key), iam->users[i].user.access_key))
        iam->users[i].expires_ms = 0;
    pthread_mutex_unlock(&iam->users_mu);
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

static int swift_user_decode(og_str_t key, const og_rec_t *rec, iam_swift_user_t *u)
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

int iam_swift_user_put(iam_t *iam, const iam_swift_user_t *u)
{
    cluster_t *cl = iam->cl;
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
    cluster_stamp(cl, &rec.ts, &rec.tiebreak);
    int rc = cluster_rec_put(cl, SWIFT_USERS_TABLE, (og_str_t){key, (size_t)klen}, &rec);
    if (rc == 0)
        neg_set(iam, neg_hash(SWIFT_USERS_TABLE, (og_str_t){key, (size_t)klen}), 0);
    return rc;
}

int iam_swift_user_get(iam_t *iam, const char *account, const char *user, iam_swift_user_t *out)
{
    cluster_t *cl = iam->cl;
    char key[64 + 128], *buf;
    og_rec_t rec;
    long klen = swift_user_key(account, user, key, sizeof(key));
    int rc;
    if (klen < 0)
        return OG_ENOTFOUND; /* no such user can have been stored */
    uint64_t nh = neg_hash(SWIFT_USERS_TABLE, (og_str_t){key, (size_t)klen});
    if (neg_has(iam, nh))
        return OG_ENOTFOUND;
    if ((rc = cluster_rec_get(cl, SWIFT_USERS_TABLE, (og_str_t){key, (size_t)klen}, &rec, &buf)) != 0)
        goto out_unknown;
    if (rec.flags & OG_REC_TOMBSTONE)
        rc = OG_ENOTFOUND;
    else
        rc = swift_user_decode((og_str_t){key, (size_t)klen}, &rec, out);
    free(buf);
out_unknown:
    if (rc == OG_ENOTFOUND)
        neg_set(iam, nh, 1);
    return rc;
}

int iam_swift_user_delete(iam_t *iam, const char *account, const char *user)
{
    cluster_t *cl = iam->cl;
    char key[64 + 128];
    long klen = swift_user_key(account, user, key, sizeof(key));
    og_rec_t rec = {.flags = OG_REC_TOMBSTONE};
    if (klen < 0)
        return OG_EINVAL;
    cluster_stamp(cl, &rec.ts, &rec.tiebreak);
    return cluster_rec_put(cl, SWIFT_USERS_TABLE, (og_str_t){key, (size_t)klen}, &rec);
}

typedef struct {
    int (*fn)(void *ctx, const iam_swift_user_t *u);
    void *ctx;
} swift_each_t;

static int swift_each_one(void *ctx, og_str_t key, const og_rec_t *rec)
{
    swift_each_t *e = ctx;
    iam_swift_user_t u;
    /* One record that does not decode must not hide every other user from the administrator. */
    return swift_user_decode(key, rec, &u) == 0 ? e->fn(e->ctx, &u) : 0;
}

int iam_swift_user_each(iam_t *iam, int (*fn)(void *ctx, const iam_swift_user_t *u), void *ctx)
{
    cluster_t *cl = iam->cl;
    swift_each_t e = {fn, ctx};
    return cluster_table_each(cl, SWIFT_USERS_TABLE, swift_each_one, &e);
}

