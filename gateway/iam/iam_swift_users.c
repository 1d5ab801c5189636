/*
 * iam_swift_users.c: Swift users (table "swift_users", see iam.h).
 *
 * TempAuth only ever compares a presented key with the stored one, and nothing else in Onggi
 * needs a Swift key back (S3 has key pairs of its own), so only a salted slow hash is stored:
 * PBKDF2-HMAC-SHA256, 16 random bytes of salt, SWIFT_PBKDF2_ITER iterations (the count is kept in
 * each record, so raising it later leaves existing users working). A hash costs ~25 ms of one core
 * and is paid once per /auth request (a token then serves for a day).
 *
 * Each put draws a new 64-bit generation that tokens carry (iam_token.c): re-keying, demoting or
 * deleting a user changes or removes it, and iam_swift_user_gen answers the current one from the
 * users cache (at most IAM_CACHE_TTL_MS old), so older tokens stop working within that time.
 */
#include "iam_int.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>
#include <openssl/rand.h>

#define SWIFT_V1 1 /* plain key: read, and rewritten as SWIFT_V2 */
#define SWIFT_V2 2
#define SWIFT_PBKDF2_ITER 100000u
#define SWIFT_PBKDF2_ITER_MAX 10000000u /* refuse records that would stall a worker for minutes */
#define SWIFT_SALT 16
#define SWIFT_HASH 32
#define SWIFT_V2_LEN (2 + 8 + 4 + SWIFT_SALT + SWIFT_HASH)

/* A decoded record. */
typedef struct {
    int version;
    uint8_t flags;
    uint64_t gen;
    uint32_t iter;
    uint8_t salt[SWIFT_SALT], hash[SWIFT_HASH];
    og_str_t plain; /* SWIFT_V1: the key (points into the record) */
} swift_rec_t;

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

static int swift_rec_decode(const og_rec_t *rec, swift_rec_t *d)
{
    const unsigned char *p = (const unsigned char *)rec->summary.base;
    size_t n = rec->summary.len;
    memset(d, 0, sizeof(*d));
    if (n < 2)
        return OG_EPROTO;
    d->version = p[0];
    d->flags = p[1];
    if (d->version == SWIFT_V1) {
        og_str_t in = {rec->summary.base + 2, n - 2};
        if (iam_field_take(&in, &d->plain) != 0 || in.len != 0 || d->plain.len == 0)
            return OG_EPROTO;
        return 0;
    }
    if (d->version != SWIFT_V2 || n != SWIFT_V2_LEN)
        return OG_EPROTO;
    d->gen = og_be64_get(p + 2);
    d->iter = og_be32_get(p + 10);
    memcpy(d->salt, p + 14, SWIFT_SALT);
    memcpy(d->hash, p + 14 + SWIFT_SALT, SWIFT_HASH);
    return d->iter == 0 || d->iter > SWIFT_PBKDF2_ITER_MAX ? OG_EPROTO : 0;
}

static int swift_hash(og_str_t key, const uint8_t salt[SWIFT_SALT], uint32_t iter, uint8_t out[SWIFT_HASH])
{
    return PKCS5_PBKDF2_HMAC(key.base, (int)key.len, salt, SWIFT_SALT, (int)iter, EVP_sha256(), SWIFT_HASH, out) == 1
               ? 0
               : OG_EINVAL;
}

/* Writes user `key` (account:user) as SWIFT_V2 with d's flags, gen and salt and the hash of
 * plain, stamped fresh (old_ts 0) or as a rewrite (iam_rewrite_stamp). Drops the cache entry. */
static int swift_rec_store(iam_t *iam, og_str_t key, swift_rec_t *d, og_str_t plain, uint64_t old_ts)
{
    unsigned char summary[SWIFT_V2_LEN];
    int rc;
    d->iter = SWIFT_PBKDF2_ITER;
    if (plain.len == 0 || plain.len > INT32_MAX || (rc = swift_hash(plain, d->salt, d->iter, d->hash)) != 0)
        return OG_EINVAL;
    summary[0] = SWIFT_V2;
    summary[1] = d->flags;
    og_be64_put(summary + 2, d->gen);
    og_be32_put(summary + 10, d->iter);
    memcpy(summary + 14, d->salt, SWIFT_SALT);
    memcpy(summary + 14 + SWIFT_SALT, d->hash, SWIFT_HASH);
    og_rec_t rec = {.summary = {(const char *)summary, sizeof(summary)}};
    if (old_ts)
        iam_rewrite_stamp(old_ts, &rec);
    else
        cluster_stamp(iam->cl, &rec.ts, &rec.tiebreak);
    rc = cluster_rec_put(iam->cl, IAM_SWIFT_USERS_TABLE, key, &rec);
    iam_cache_drop(iam, IAM_CACHE_SWIFT, key);
    if (rc == 0)
        iam_neg_set(iam, IAM_CACHE_SWIFT, key, 0);
    return rc;
}

int iam_swift_user_put(iam_t *iam, const iam_swift_user_t *u)
{
    char key[64 + 128];
    swift_rec_t d = {.version = SWIFT_V2, .flags = u->flags};
    long klen = swift_user_key(u->account, u->user, key, sizeof(key));
    long slen = iam_field_len(u->key, sizeof(u->key));
    if (klen < 0 || slen <= 0)
        return OG_EINVAL;
    if (RAND_bytes(d.salt, SWIFT_SALT) != 1 || RAND_bytes((unsigned char *)&d.gen, sizeof(d.gen)) != 1)
        return OG_EINVAL;
    return swift_rec_store(iam, (og_str_t){key, (size_t)klen}, &d, (og_str_t){u->key, (size_t)slen}, 0);
}

/* Rewrites a decoded SWIFT_V1 record (d, stamped old_ts) as SWIFT_V2 in place. Salt and
 * generation come from a MAC of the record under the secrets key, so gateways upgrading the same
 * record at once write the same bytes (tokens never see two generations of one version). */
static int swift_rec_upgrade(iam_t *iam, og_str_t key, swift_rec_t *d, uint64_t old_ts)
{
    uint8_t mac[EVP_MAX_MD_SIZE], msg[64 + 128 + 8 + 128];
    unsigned int maclen = 0;
    og_str_t plain = d->plain;
    if (key.len + 8 + plain.len > sizeof(msg))
        return OG_EINVAL;
    memcpy(msg, key.base, key.len);
    og_be64_put(msg + key.len, old_ts);
    memcpy(msg + key.len + 8, plain.base, plain.len);
    int ok = HMAC(EVP_sha256(), iam->secrets[0].key, OG_KEY_BYTES, msg, key.len + 8 + plain.len, mac, &maclen) != NULL;
    OPENSSL_cleanse(msg, sizeof(msg));
    if (!ok)
        return OG_EINVAL;
    memcpy(d->salt, mac, SWIFT_SALT);
    memcpy(&d->gen, mac + SWIFT_SALT, sizeof(d->gen));
    d->version = SWIFT_V2;
    d->plain = (og_str_t){NULL, 0};
    return swift_rec_store(iam, key, d, plain, old_ts);
}

/* The live record of `key`, upgraded to SWIFT_V2 when it was SWIFT_V1. 0 with *d, OG_ENOTFOUND,
 * OG_EPROTO or a cluster error. */
static int swift_rec_read(iam_t *iam, og_str_t key, swift_rec_t *d)
{
    og_rec_t rec;
    char *buf;
    if (iam_neg_has(iam, IAM_CACHE_SWIFT, key))
        return OG_ENOTFOUND;
    int rc = cluster_rec_get(iam->cl, IAM_SWIFT_USERS_TABLE, key, &rec, &buf);
    if (rc == OG_ENOTFOUND)
        iam_neg_set(iam, IAM_CACHE_SWIFT, key, 1);
    if (rc != 0)
        return rc;
    if (rec.flags & OG_REC_TOMBSTONE) {
        rc = OG_ENOTFOUND;
        iam_neg_set(iam, IAM_CACHE_SWIFT, key, 1);
    }
    else if ((rc = swift_rec_decode(&rec, d)) == 0 && d->version == SWIFT_V1)
        rc = swift_rec_upgrade(iam, key, d, rec.ts);
    if (rec.summary.len > 0) /* a version-1 record holds a plain key */
        OPENSSL_cleanse(buf + (rec.summary.base - buf), rec.summary.len);
    free(buf);
    return rc;
}

int iam_swift_user_upgrade(iam_t *iam, og_str_t key, const og_rec_t *rec, int *rewritten)
{
    swift_rec_t d;
    int rc = swift_rec_decode(rec, &d);
    *rewritten = 0;
    if (rc != 0 || d.version != SWIFT_V1)
        return rc;
    if ((rc = swift_rec_upgrade(iam, key, &d, rec->ts)) == 0)
        *rewritten = 1;
    return rc;
}

/* Fills id's account, user, flags and gen, and caches what tokens are checked against. */
static void swift_ident(iam_t *iam, og_str_t key, size_t al, const swift_rec_t *d, iam_ident_t *id)
{
    memset(id, 0, sizeof(*id));
    memcpy(id->account, key.base, al);
    memcpy(id->user, key.base + al + 1, key.len - al - 1);
    id->flags = d->flags;
    id->gen = d->gen;
    iam_cached_t c = {.swift = {d->gen, d->flags}};
    iam_cache_put(iam, IAM_CACHE_SWIFT, key, &c);
}

int iam_swift_user_auth(iam_t *iam, const char *account, const char *user, og_str_t key, iam_ident_t *id)
{
    char k[64 + 128];
    uint8_t hash[SWIFT_HASH];
    swift_rec_t d;
    long klen = swift_user_key(account, user, k, sizeof(k));
    int rc;
    if (klen < 0)
        return OG_ENOTFOUND; /* no such user can have been stored */
    og_str_t rk = {k, (size_t)klen};
    if ((rc = swift_rec_read(iam, rk, &d)) != 0)
        return rc;
    if (key.len == 0 || key.len > INT32_MAX || swift_hash(key, d.salt, d.iter, hash) != 0 ||
        CRYPTO_memcmp(hash, d.hash, SWIFT_HASH) != 0)
        return -EACCES;
    swift_ident(iam, rk, strlen(account), &d, id);
    return 0;
}

int iam_swift_user_gen(iam_t *iam, const char *account, const char *user, uint64_t *gen)
{
    char k[64 + 128];
    iam_cached_t c;
    iam_ident_t id;
    swift_rec_t d;
    long klen = swift_user_key(account, user, k, sizeof(k));
    int rc;
    if (klen < 0)
        return OG_ENOTFOUND;
    og_str_t rk = {k, (size_t)klen};
    if (iam_cache_get(iam, IAM_CACHE_SWIFT, rk, &c)) {
        *gen = c.swift.gen;
        return 0;
    }
    if ((rc = swift_rec_read(iam, rk, &d)) != 0)
        return rc;
    swift_ident(iam, rk, strlen(account), &d, &id);
    *gen = d.gen;
    return 0;
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
    int rc = cluster_rec_put(cl, IAM_SWIFT_USERS_TABLE, (og_str_t){key, (size_t)klen}, &rec);
    iam_cache_drop(iam, IAM_CACHE_SWIFT, (og_str_t){key, (size_t)klen});
    return rc;
}

typedef struct {
    int (*fn)(void *ctx, const iam_swift_user_t *u);
    void *ctx;
} swift_each_t;

static int swift_each_one(void *ctx, og_str_t key, const og_rec_t *rec)
{
    swift_each_t *e = ctx;
    iam_swift_user_t u;
    swift_rec_t d;
    const char *colon = key.len ? memchr(key.base, ':', key.len) : NULL;
    /* One record that does not decode must not hide every other user from the administrator. */
    if (colon == NULL || swift_rec_decode(rec, &d) != 0)
        return 0;
    size_t al = (size_t)(colon - key.base), ul = key.len - al - 1;
    if (al == 0 || al >= sizeof(u.account) || ul == 0 || ul >= sizeof(u.user))
        return 0;
    memset(&u, 0, sizeof(u));
    memcpy(u.account, key.base, al);
    memcpy(u.user, colon + 1, ul);
    u.flags = d.flags;
    return e->fn(e->ctx, &u);
}

int iam_swift_user_each(iam_t *iam, int (*fn)(void *ctx, const iam_swift_user_t *u), void *ctx)
{
    swift_each_t e = {fn, ctx};
    return cluster_table_each(iam->cl, IAM_SWIFT_USERS_TABLE, swift_each_one, &e);
}
