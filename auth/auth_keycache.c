/*
 * auth_keycache.c: SigV4 signing keys kept between requests, as SDKs keep them. Deriving the key
 * is 4 of the 5 HMACs a SigV4 verification computes; a client signs every request of a day with
 * the same key, so a gateway can derive it once per access key, day and region.
 *
 * A direct-mapped table of fixed size under one mutex: a slot is found by a hash of the access
 * key and scope, and a new key evicts whatever held its slot. Each slot remembers the SHA-256 of
 * the secret its key was derived from (not the secret), and a key is only served to a caller
 * that presents the same secret: a re-keyed user's old key is never used, and a deleted user
 * never gets this far (the secret lookup fails first). Only keys whose signature verified are
 * stored, so requests with made-up credentials cannot evict anything.
 */
#include "auth_int.h"

#include <errno.h>
#include <openssl/crypto.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>

typedef struct {
    uint8_t secret_sha[32];     /* SHA-256 of the secret the key was derived from */
    uint8_t key[32];            /* the signing key */
    uint8_t used;               /* 1 once filled */
    uint8_t ak_len;             /* access key length (< AUTH_KEY_MAX) */
    uint8_t scope_len;          /* scope length (< AUTH_SCOPE_MAX) */
    char ak[AUTH_KEY_MAX];      /* the access key */
    char scope[AUTH_SCOPE_MAX]; /* "20130524/us-east-1/s3/aws4_request" */
} slot_t;

struct st_auth_keycache_t {
    pthread_mutex_t lock; /* guards slots */
    size_t n;             /* number of slots */
    slot_t slots[];
};

int auth_keycache_new(size_t slots, auth_keycache_t **out)
{
    auth_keycache_t *c;
    if (slots == 0)
        slots = 1;
    if (!(c = calloc(1, sizeof(*c) + slots * sizeof(slot_t))))
        return -ENOMEM;
    if (pthread_mutex_init(&c->lock, NULL) != 0) {
        free(c);
        return -ENOMEM;
    }
    c->n = slots;
    *out = c;
    return 0;
}

void auth_keycache_free(auth_keycache_t *c)
{
    if (!c)
        return;
    OPENSSL_cleanse(c->slots, c->n * sizeof(slot_t));
    pthread_mutex_destroy(&c->lock);
    free(c);
}

/* FNV-1a over the access key, a separator and the scope: the slot index. */
static size_t slot_of(const auth_keycache_t *c, og_str_t ak, og_str_t scope)
{
    uint64_t h = 0xcbf29ce484222325ull;
    for (size_t i = 0; i < ak.len; i++)
        h = (h ^ (uint8_t)ak.base[i]) * 0x100000001b3ull;
    h = (h ^ 0xff) * 0x100000001b3ull;
    for (size_t i = 0; i < scope.len; i++)
        h = (h ^ (uint8_t)scope.base[i]) * 0x100000001b3ull;
    return (size_t)(h % c->n);
}

static int slot_names(const slot_t *s, og_str_t ak, og_str_t scope)
{
    return s->used && s->ak_len == ak.len && s->scope_len == scope.len && memcmp(s->ak, ak.base, ak.len) == 0 &&
           memcmp(s->scope, scope.base, scope.len) == 0;
}

int auth_keycache_get(auth_keycache_t *c, og_str_t ak, og_str_t scope, const uint8_t secret_sha[32], uint8_t key[32])
{
    int hit = 0;
    if (ak.len >= AUTH_KEY_MAX || scope.len >= AUTH_SCOPE_MAX)
        return 0;
    slot_t *s = &c->slots[slot_of(c, ak, scope)];
    pthread_mutex_lock(&c->lock);
    if (slot_names(s, ak, scope) && CRYPTO_memcmp(s->secret_sha, secret_sha, 32) == 0) {
        memcpy(key, s->key, 32);
        hit = 1;
    }
    pthread_mutex_unlock(&c->lock);
    return hit;
}

void auth_keycache_put(auth_keycache_t *c, og_str_t ak, og_str_t scope, const uint8_t secret_sha[32],
                       const uint8_t key[32])
{
    if (ak.len >= AUTH_KEY_MAX || scope.len >= AUTH_SCOPE_MAX)
        return;
    slot_t *s = &c->slots[slot_of(c, ak, scope)];
    pthread_mutex_lock(&c->lock);
    memcpy(s->secret_sha, secret_sha, 32);
    memcpy(s->key, key, 32);
    memcpy(s->ak, ak.base, ak.len);
    memcpy(s->scope, scope.base, scope.len);
    s->ak_len = (uint8_t)ak.len;
    s->scope_len = (uint8_t)scope.len;
    s->used = 1;
    pthread_mutex_unlock(&c->lock);
}
