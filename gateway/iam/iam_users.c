/*
 * iam_users.c: the IAM context, its users cache, and S3 key pairs (table "users", see iam.h).
 *
 * Every signed request looks its access key up, so positive answers are cached per IAM context
 * for IAM_CACHE_TTL_MS: a changed secret, a deleted key or a new user reaches other gateways
 * within that time, and this gateway at once (its own writes refresh or drop its entry). Misses
 * are never cached, so a user created a moment ago is never refused. The same cache holds what
 * Swift tokens are checked against (iam_swift_users.c).
 */
#include "iam_int.h"

#include <errno.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <xxhash.h>

#include <openssl/crypto.h>

#define USERS_VERSION 2 /* version 1 has no version byte: its first byte is the secret length's high byte, 0 */

int iam_open(cluster_t *cl, const og_keys_t *keys, iam_t **out)
{
    int rc;
    if (keys->num_secrets == 0)
        return OG_EINVAL;
    iam_t *iam = calloc(1, sizeof(*iam));
    if (!iam)
        return -ENOMEM;
    iam->cl = cl;
    memcpy(iam->secrets, keys->secrets, sizeof(iam->secrets));
    iam->num_secrets = keys->num_secrets;
    memcpy(iam->sse, keys->sse, sizeof(iam->sse));
    iam->num_sse = keys->num_sse;
    if ((rc = pthread_mutex_init(&iam->cache_mu, NULL)) != 0)
        goto out_free;
    if ((rc = pthread_mutex_init(&iam->key_mu, NULL)) != 0)
        goto out_destroy_cache;
    *out = iam;
    return 0;

out_destroy_cache:
    pthread_mutex_destroy(&iam->cache_mu);
out_free:
    OPENSSL_cleanse(iam, sizeof(*iam));
    free(iam);
    return -rc;
}

void iam_close(iam_t *iam)
{
    if (!iam)
        return;
    pthread_mutex_destroy(&iam->key_mu);
    pthread_mutex_destroy(&iam->cache_mu);
    OPENSSL_cleanse(iam, sizeof(*iam)); /* keys, token key and cached secrets */
    free(iam);
}

/* ---------------------------------------------------------------- the cache */

enum { CACHE_GET, CACHE_PUT, CACHE_DROP };

/* One operation on the slot of (kind, key), under the lock. CACHE_GET copies an unexpired entry
 * into *v (1 when found), CACHE_PUT stores *v for IAM_CACHE_TTL_MS, CACHE_DROP expires the entry.
 * A key too long for a slot is never cached. */
static int cache_op(iam_t *iam, int op, int kind, og_str_t key, iam_cached_t *v)
{
    char k[IAM_CACHE_KEY_MAX];
    int hit = 0;
    if (key.len + 1 > IAM_CACHE_KEY_MAX)
        return 0;
    k[0] = (char)kind;
    memcpy(k + 1, key.base, key.len);
    size_t len = key.len + 1, i = (size_t)(XXH3_64bits(k, len) % IAM_CACHE_SLOTS);
    pthread_mutex_lock(&iam->cache_mu);
    int same = iam->cache[i].key_len == len && memcmp(iam->cache[i].key, k, len) == 0;
    if (op == CACHE_GET && same && iam->cache[i].expires_ms > og_mono_ms()) {
        *v = iam->cache[i].val;
        hit = 1;
    } else if (op == CACHE_PUT) {
        memcpy(iam->cache[i].key, k, len);
        iam->cache[i].key_len = len;
        iam->cache[i].val = *v;
        iam->cache[i].expires_ms = og_mono_ms() + IAM_CACHE_TTL_MS;
    } else if (op == CACHE_DROP && same) {
        iam->cache[i].expires_ms = 0;
    }
    pthread_mutex_unlock(&iam->cache_mu);
    return hit;
}

int iam_cache_get(iam_t *iam, int kind, og_str_t key, iam_cached_t *out)
{
    return cache_op(iam, CACHE_GET, kind, key, out);
}

void iam_cache_put(iam_t *iam, int kind, og_str_t key, const iam_cached_t *v)
{
    iam_cached_t copy = *v;
    cache_op(iam, CACHE_PUT, kind, key, &copy);
    OPENSSL_cleanse(&copy, sizeof(copy));
}

void iam_cache_drop(iam_t *iam, int kind, og_str_t key)
{
    cache_op(iam, CACHE_DROP, kind, key, NULL);
}

static size_t neg_slot(int kind, og_str_t name, uint64_t *h)
{
    *h = XXH3_64bits_withSeed(name.base, name.len, (uint64_t)kind);
    return (size_t)(*h % IAM_NEG_SLOTS);
}

int iam_neg_has(iam_t *iam, int kind, og_str_t name)
{
    uint64_t h;
    size_t i = neg_slot(kind, name, &h);
    pthread_mutex_lock(&iam->cache_mu);
    int hit = iam->neg[i].hash == h && iam->neg[i].expires_ms > og_mono_ms();
    pthread_mutex_unlock(&iam->cache_mu);
    return hit;
}

void iam_neg_set(iam_t *iam, int kind, og_str_t name, int unknown)
{
    uint64_t h;
    size_t i = neg_slot(kind, name, &h);
    pthread_mutex_lock(&iam->cache_mu);
    if (unknown) {
        iam->neg[i].hash = h;
        iam->neg[i].expires_ms = og_mono_ms() + IAM_NEG_TTL_MS;
    } else if (iam->neg[i].hash == h) {
        iam->neg[i].expires_ms = 0;
    }
    pthread_mutex_unlock(&iam->cache_mu);
}

/* ---------------------------------------------------------------- summary fields */

long iam_field_len(const char *s, size_t cap)
{
    size_t n = strnlen(s, cap);
    return n == cap ? -1 : (long)n;
}

unsigned char *iam_field_put(unsigned char *p, const void *s, size_t n)
{
    og_be16_put(p, (uint16_t)n);
    memcpy(p + 2, s, n);
    return p + 2 + n;
}

int iam_field_take(og_str_t *in, og_str_t *out)
{
    if (in->len < 2)
        return OG_EPROTO;
    size_t n = og_be16_get((const unsigned char *)in->base);
    if (n > in->len - 2)
        return OG_EPROTO;
    *out = (og_str_t){in->base + 2, n};
    in->base += 2 + n;
    in->len -= 2 + n;
    return 0;
}

/* Copies a text field into dst (capacity cap, NUL-terminated). 0 or OG_EPROTO. */
static int field_copy(og_str_t f, char *dst, size_t cap)
{
    if (f.len >= cap || memchr(f.base, '\0', f.len))
        return OG_EPROTO;
    memcpy(dst, f.base, f.len);
    dst[f.len] = '\0';
    return 0;
}

/* ---------------------------------------------------------------- S3 key pairs */

/* What a sealed secret is bound to: the table, its access key and its account. */
static size_t users_aad(const char *access_key, const char *account, char *out, size_t cap)
{
    int n = snprintf(out, cap, IAM_USERS_TABLE "/%s/%s", access_key, account);
    return n < 0 ? 0 : (size_t)n < cap ? (size_t)n : cap - 1;
}

/* The secret field of the record of u: sealed (version 2) into u->secret, or plain (1). */
static int users_open_secret(const iam_t *iam, og_str_t f, int version, iam_user_t *u, int *stale)
{
    char aad[sizeof(u->access_key) + sizeof(u->account) + 8];
    if (version == 1) {
        *stale = 1;
        return field_copy(f, u->secret, sizeof(u->secret));
    }
    long n = iam_unseal(iam, (og_str_t){aad, users_aad(u->access_key, u->account, aad, sizeof(aad))}, f, u->secret,
                        sizeof(u->secret) - 1, stale);
    if (n <= 0 || memchr(u->secret, '\0', (size_t)n))
        return OG_EPROTO;
    u->secret[n] = '\0';
    return 0;
}

int iam_user_decode(const iam_t *iam, og_str_t key, const og_rec_t *rec, iam_user_t *u, int *stale)
{
    og_str_t in = rec->summary, secret, account, display;
    int version = 1, rc;
    memset(u, 0, sizeof(*u));
    *stale = 0;
    if (in.len > 0 && (unsigned char)in.base[0] == USERS_VERSION) {
        version = USERS_VERSION;
        in.base++, in.len--;
    }
    if ((rc = field_copy(key, u->access_key, sizeof(u->access_key))) != 0 || key.len == 0 ||
        (rc = iam_field_take(&in, &secret)) != 0 || (rc = iam_field_take(&in, &account)) != 0 ||
        (rc = iam_field_take(&in, &display)) != 0 || in.len != 0 ||
        (rc = field_copy(account, u->account, sizeof(u->account))) != 0 ||
        (rc = field_copy(display, u->display_name, sizeof(u->display_name))) != 0 ||
        (rc = users_open_secret(iam, secret, version, u, stale)) != 0)
        return rc ? rc : OG_EPROTO;
    return 0;
}

int iam_user_store(iam_t *iam, const iam_user_t *u, uint64_t old_ts)
{
    cluster_t *cl = iam->cl;
    unsigned char summary[1 + 3 * 2 + IAM_SEAL_OVERHEAD + sizeof(u->secret) + sizeof(u->account) +
                          sizeof(u->display_name)],
        sealed[IAM_SEAL_OVERHEAD + sizeof(u->secret)], *p = summary;
    char aad[sizeof(u->access_key) + sizeof(u->account) + 8];
    long klen = iam_field_len(u->access_key, sizeof(u->access_key));
    long slen = iam_field_len(u->secret, sizeof(u->secret));
    long alen = iam_field_len(u->account, sizeof(u->account));
    long dlen = iam_field_len(u->display_name, sizeof(u->display_name));
    int rc;

    /* The display name is optional in S3 answers; the rest identify and authenticate. */
    if (klen <= 0 || slen <= 0 || alen <= 0 || dlen < 0)
        return OG_EINVAL;
    long sl = iam_seal(iam, (og_str_t){aad, users_aad(u->access_key, u->account, aad, sizeof(aad))}, u->secret,
                       (size_t)slen, sealed, sizeof(sealed));
    if (sl < 0)
        return (int)sl;
    *p++ = USERS_VERSION;
    p = iam_field_put(p, sealed, (size_t)sl);
    p = iam_field_put(p, u->account, (size_t)alen);
    p = iam_field_put(p, u->display_name, (size_t)dlen);
    og_rec_t rec = {.summary = {(const char *)summary, (size_t)(p - summary)}};
    if (old_ts)
        iam_rewrite_stamp(old_ts, &rec);
    else
        cluster_stamp(cl, &rec.ts, &rec.tiebreak);
    og_str_t key = {u->access_key, (size_t)klen};
    if ((rc = cluster_rec_put(cl, IAM_USERS_TABLE, key, &rec)) == 0 && !old_ts) {
        iam_cached_t c = {.s3 = *u};
        iam_cache_put(iam, IAM_CACHE_S3, key, &c);
        OPENSSL_cleanse(&c, sizeof(c));
        iam_neg_set(iam, IAM_CACHE_S3, key, 0);
    }
    return rc;
}

int iam_user_put(iam_t *iam, const iam_user_t *u)
{
    return iam_user_store(iam, u, 0);
}

int iam_user_get(iam_t *iam, og_str_t access_key, iam_user_t *out)
{
    cluster_t *cl = iam->cl;
    iam_cached_t c;
    og_rec_t rec;
    char *buf;
    int rc, stale = 0;

    if (access_key.len == 0 || access_key.len >= sizeof(out->access_key))
        return OG_ENOTFOUND; /* no such key can have been stored */
    if (iam_cache_get(iam, IAM_CACHE_S3, access_key, &c)) {
        *out = c.s3;
        OPENSSL_cleanse(&c, sizeof(c));
        return 0;
    }
    if (iam_neg_has(iam, IAM_CACHE_S3, access_key))
        return OG_ENOTFOUND;
    if ((rc = cluster_rec_get(cl, IAM_USERS_TABLE, access_key, &rec, &buf)) != 0) {
        if (rc == OG_ENOTFOUND)
            iam_neg_set(iam, IAM_CACHE_S3, access_key, 1);
        return rc;
    }
    if (rec.flags & OG_REC_TOMBSTONE) {
        rc = OG_ENOTFOUND;
        iam_neg_set(iam, IAM_CACHE_S3, access_key, 1);
    } else if ((rc = iam_user_decode(iam, access_key, &rec, out, &stale)) == 0) {
        c.s3 = *out;
        iam_cache_put(iam, IAM_CACHE_S3, access_key, &c);
        OPENSSL_cleanse(&c, sizeof(c));
    }
    /* Best effort: a failed rewrite leaves the old form, retried on the next read. */
    if (rc == 0 && stale)
        iam_user_store(iam, out, rec.ts);
    free(buf);
    return rc;
}

typedef struct {
    iam_t *iam;
    int (*fn)(void *ctx, const iam_user_t *u);
    void *ctx;
} users_each_t;

static int users_each_one(void *ctx, og_str_t key, const og_rec_t *rec)
{
    users_each_t *e = ctx;
    iam_user_t u;
    int stale, rc = 0;
    /* A record that does not decode is skipped: one bad record must not hide every other user
     * from the administrator. */
    if (iam_user_decode(e->iam, key, rec, &u, &stale) == 0)
        rc = e->fn(e->ctx, &u);
    OPENSSL_cleanse(&u, sizeof(u));
    return rc;
}

int iam_user_each(iam_t *iam, int (*fn)(void *ctx, const iam_user_t *u), void *ctx)
{
    users_each_t e = {iam, fn, ctx};
    return cluster_table_each(iam->cl, IAM_USERS_TABLE, users_each_one, &e);
}

int iam_user_delete(iam_t *iam, const char *access_key)
{
    cluster_t *cl = iam->cl;
    og_rec_t rec = {.flags = OG_REC_TOMBSTONE};
    cluster_stamp(cl, &rec.ts, &rec.tiebreak);
    int rc = cluster_rec_put(cl, IAM_USERS_TABLE, og_str(access_key), &rec);
    /* This gateway stops accepting the key at once; others within IAM_CACHE_TTL_MS. */
    iam_cache_drop(iam, IAM_CACHE_S3, og_str(access_key));
    return rc;
}
