/*
 * iam_int.h (private to gateway/iam/): the IAM context, shared by iam_users.c (users cache),
 * iam_swift_users.c, iam_token.c (token key), iam_seal.c (sealing) and iam_migrate.c.
 */
#ifndef IAM_INT_H
#define IAM_INT_H

#include <pthread.h>

#include "iam.h"
#include "og_crypt.h"

#define IAM_USERS_TABLE "users"             /* S3 key pairs */
#define IAM_SWIFT_USERS_TABLE "swift_users" /* Swift users */
#define IAM_CACHE_SLOTS 128 /* direct-mapped: a collision only costs a quorum read */
#define IAM_CACHE_KEY_MAX (1 + 64 + 1 + 128) /* kind byte + "account:user" or an access key */
/* Negative cache: names (S3 access keys, Swift "account:user") the cluster did not know, so that
 * repeating an unknown name does not cost a quorum read per request. Its own direct-mapped table
 * (by a 64-bit hash; 4096 x 16 bytes), so a spray of unknown names never evicts known users; each
 * entry lives IAM_NEG_TTL_MS. A name this gateway stores is dropped at once; one stored through
 * another gateway works here within the TTL. */
#define IAM_NEG_SLOTS 4096
#define IAM_NEG_TTL_MS 2000

/* What a cache slot holds: an S3 key pair, or what a Swift token is checked against. */
enum { IAM_CACHE_S3 = 's', IAM_CACHE_SWIFT = 'w' };
typedef union {
    iam_user_t s3;
    struct {
        uint64_t gen;
        uint8_t flags;
    } swift;
} iam_cached_t;

struct st_iam_t {
    cluster_t *cl;
    og_key_t secrets[OG_KEYS_MAX]; /* [0] seals; any of them unseals (by id) */
    size_t num_secrets;
    og_key_t sse[OG_KEYS_MAX]; /* [0] seals SSE-S3 data keys; any of them unseals (by id) */
    size_t num_sse;
    pthread_mutex_t cache_mu; /* guards cache[] */
    struct {
        uint64_t expires_ms; /* og_mono_ms() deadline; 0 = empty */
        char key[IAM_CACHE_KEY_MAX];
        size_t key_len;
        iam_cached_t val;
    } cache[IAM_CACHE_SLOTS];
    struct {
        uint64_t hash;       /* of the kind byte and the name */
        uint64_t expires_ms; /* og_mono_ms() deadline; 0 = empty */
    } neg[IAM_NEG_SLOTS];    /* guarded by cache_mu */
    pthread_mutex_t key_mu; /* guards the two fields below */
    int have_secret;        /* SECRET_NONE, SECRET_UNSETTLED, SECRET_FINAL (iam_token.c) */
    uint8_t secret[32];
};

/* ---- the users cache (iam_users.c) ---- */

/* Copies the unexpired entry (kind, key) into *out: 1, or 0 when absent. */
int iam_cache_get(iam_t *iam, int kind, og_str_t key, iam_cached_t *out);
/* Whether (kind, name) was recently unknown to the cluster (negative cache). */
int iam_neg_has(iam_t *iam, int kind, og_str_t name);
/* Remembers (unknown) or forgets (!unknown) that (kind, name) is unknown. */
void iam_neg_set(iam_t *iam, int kind, og_str_t name, int unknown);
/* Stores (kind, key) -> v for IAM_CACHE_TTL_MS. */
void iam_cache_put(iam_t *iam, int kind, og_str_t key, const iam_cached_t *v);
/* Forgets (kind, key) (this gateway stops using it at once). */
void iam_cache_drop(iam_t *iam, int kind, og_str_t key);

/* ---- S3 ACL evaluation (iam_s3acl.c) ---- */

/* iam_s3acl_allows, with no_groups: grants to AllUsers and AuthenticatedUsers count for nothing
 * (IgnorePublicAcls, iam_pab.c). */
int iam_s3acl_allows_in(og_str_t acl, const char *owner, const char *account, unsigned perm, int no_groups);

/* ---- u16-length fields of record summaries (iam_users.c) ---- */

/* Length of a NUL-terminated field of capacity cap, or -1 when it is not terminated within it. */
long iam_field_len(const char *s, size_t cap);
/* Writes u16 n + s at p; returns the end. */
unsigned char *iam_field_put(unsigned char *p, const void *s, size_t n);
/* Takes one u16-length field off *in as a slice. 0 or OG_EPROTO. */
int iam_field_take(og_str_t *in, og_str_t *out);

/* ---- sealing (iam_seal.c): AES-256-GCM under the cluster's `secrets` keys ----
 *
 * A sealed value is u8 id length | key id | 12 bytes nonce | ciphertext | 16 bytes tag; aad (the
 * record's table and key) is authenticated, so a sealed value copied into another record does
 * not open. */

#define IAM_SEAL_OVERHEAD (1 + OG_KEY_ID_MAX + OG_GCM_NONCE + OG_GCM_TAG)

/* Seals n bytes with the current key into out (cap bytes). Its length, or OG_ETOOBIG / OG_EINVAL
 * (the random source or the cipher failed). */
long iam_seal(const iam_t *iam, og_str_t aad, const void *plain, size_t n, void *out, size_t cap);
/* Opens a sealed value into out (cap bytes). Its length, with *stale = 1 when it was sealed with
 * a key other than the current one (worth resealing); OG_EPROTO when malformed, sealed with an
 * unknown key, or tampered with; OG_ETOOBIG when out is too small. */
long iam_unseal(const iam_t *iam, og_str_t aad, og_str_t sealed, void *out, size_t cap, int *stale);

/* ---- migration (record forms; iam_users.c, iam_swift_users.c, iam_token.c) ---- */

/* Decodes an S3 user record; *stale = 1 when it is not in the current form (plain text or sealed
 * with an older key). 0 or OG_EPROTO. */
int iam_user_decode(const iam_t *iam, og_str_t key, const og_rec_t *rec, iam_user_t *u, int *stale);
/* Writes u sealed: a fresh stamp (old_ts 0), or as the rewrite of a record stamped old_ts
 * (iam_rewrite_stamp). 0, OG_EINVAL or a cluster error. */
int iam_user_store(iam_t *iam, const iam_user_t *u, uint64_t old_ts);
/* Rewrites a version-1 (plain key) Swift user record hashed, keeping its flags. 0 (also when it is
 * already hashed) or an error. */
int iam_swift_user_upgrade(iam_t *iam, og_str_t key, const og_rec_t *rec, int *rewritten);
/* The current generation of Swift user account:user (from the cache when at most
 * IAM_CACHE_TTL_MS old). 0, OG_ENOTFOUND (deleted), OG_EPROTO or a cluster error. */
int iam_swift_user_gen(iam_t *iam, const char *account, const char *user, uint64_t *gen);
/* Rewrites the token key record sealed under the current key when it is not. */
int iam_token_key_upgrade(iam_t *iam, int *rewritten);

/* Stamps rec as the rewrite, in a new form, of a record stamped old_ts: old_ts + 1 and tiebreak
 * 0, which cluster_rec_put writes as a condition. It is newer than the record it replaces (so
 * replicas converge on it) and older than any write made since: an administrator's change made
 * meanwhile wins over the rewrite instead of being undone by it. */
static inline void iam_rewrite_stamp(uint64_t old_ts, og_rec_t *rec)
{
    rec->ts = old_ts + 1;
    rec->tiebreak = 0;
}

#endif
