/*
 * iam.h: who may do what. Credentials (S3 key pairs, Swift users), Swift's stateless tokens and
 * the cluster's token key, and container ACL evaluation. Both front ends (s3/, swift/) ask here;
 * everything is stored durably in the cluster, so every gateway sees the same users.
 *
 * Tables:
 *  - "users", key = S3 access key:
 *      summary u16 len + secret | u16 len + account | u16 len + display name;
 *  - "swift_users", key = "account:user":
 *      summary u8 version(=1) | u8 flags (IAM_SWIFT_ADMIN, IAM_SWIFT_RESELLER) | u16 len + key;
 *  - "cluster", key "swift-token-key": u8 version(=1) | 32 random bytes (iam_token.c).
 * Accounts themselves (the owners of buckets) are core's (core.h); a user names its account.
 */
#ifndef IAM_H
#define IAM_H

#include "cluster/cluster.h"

/* The process's IAM context: the cluster handle, the users cache and the token key. */
typedef struct st_iam_t iam_t;

/* 0 and *out (release with iam_close), or -ENOMEM / -errno. */
int iam_open(cluster_t *cl, iam_t **out);
void iam_close(iam_t *iam);

typedef struct {
    char access_key[128];
    char secret[128];
    char account[64];       /* the owner of buckets; one account may have several keys */
    char display_name[128];
} iam_user_t;

/* Creates or replaces a user (quorum write). 0, OG_EINVAL (empty/too long field) or OG_EQUORUM. */
int iam_user_put(iam_t *iam, const iam_user_t *u);
/* Looks a user up by access key. Results are cached per process for a few seconds, and unknown
 * keys for 2 s (IAM_NEG_TTL_MS: a key added through this gateway works here at once, one added
 * through another gateway within that time). 0, OG_ENOTFOUND or OG_EQUORUM. Thread-safe. */
int iam_user_get(iam_t *iam, og_str_t access_key, iam_user_t *out);
/* Calls fn for every user (secrets included: for admin tools only). 0 or an error. */
int iam_user_each(iam_t *iam, int (*fn)(void *ctx, const iam_user_t *u), void *ctx);
/* Removes an S3 key pair (tombstone; other gateways may accept it for the cache TTL, a few
 * seconds). 0, OG_EQUORUM. */
int iam_user_delete(iam_t *iam, const char *access_key);

/* ---- Swift users ---- */

#define IAM_SWIFT_ADMIN 0x01    /* .admin: full control of its own account */
#define IAM_SWIFT_RESELLER 0x02 /* .reseller_admin: every account, and account quotas */

typedef struct {
    char account[64];
    char user[128];
    char key[128];
    uint8_t flags; /* IAM_SWIFT_* */
} iam_swift_user_t;

/* Creates or replaces a Swift user "account:user" (quorum write). The account name must not
 * contain ':' or '/'. 0, OG_EINVAL (empty, too long or badly formed field) or OG_EQUORUM. */
int iam_swift_user_put(iam_t *iam, const iam_swift_user_t *u);
/* Looks "account:user" up (only auth requests do this, tokens carry the rest). Only unknown names
 * are cached, as for iam_user_get. 0, OG_ENOTFOUND, OG_EQUORUM or OG_EPROTO. */
int iam_swift_user_get(iam_t *iam, const char *account, const char *user, iam_swift_user_t *out);
/* Removes a Swift user; tokens already issued stay valid until they expire. 0 or OG_EQUORUM. */
int iam_swift_user_delete(iam_t *iam, const char *account, const char *user);
/* Calls fn for every Swift user (keys included: for admin tools only). 0 or an error. */
int iam_swift_user_each(iam_t *iam, int (*fn)(void *ctx, const iam_swift_user_t *u), void *ctx);

/* ---- tokens and ACLs (swift_auth.c; pure functions, unit-tested) ---- */

#define IAM_TOKEN_MAX 512

typedef struct {
    char account[64];
    char user[128];
    uint8_t flags;    /* IAM_SWIFT_ADMIN, IAM_SWIFT_RESELLER */
    uint64_t expires; /* Unix seconds */
} iam_ident_t;

/* Mints "AUTH_tk<hex payload><hex mac>" for id into out (IAM_TOKEN_MAX bytes). Returns its
 * length or OG_EINVAL (fields too long). */
long iam_token_mint(const uint8_t key[32], const iam_ident_t *id, char *out, size_t cap);
/* Verifies a token minted with key and not expired at now_s: 0 with *id, OG_EINVAL (malformed or
 * forged) or OG_ENOTFOUND (expired). Constant-time MAC comparison. */
int iam_token_verify(const uint8_t key[32], og_str_t token, uint64_t now_s, iam_ident_t *id);

enum { IAM_ACL_READ = 0, IAM_ACL_LISTING = 1, IAM_ACL_WRITE = 2 };
/* Does an ACL (X-Container-Read / -Write value: comma-separated ".r:*", ".r:-x", ".rlistings",
 * "account", "account:user", "*:user", "account:*") grant access of kind `mode` (IAM_ACL_*) to
 * identity id (NULL for an anonymous request)? A referrer grant (".r:*") allows reading objects,
 * listings only together with ".rlistings", and never writes. 1 or 0. */
int iam_acl_allows(og_str_t acl, const iam_ident_t *id, int mode);

/* The cluster's token key, created on first use (racing gateways converge on one within
 * SECRET_SETTLE_NS, iam_token.c). 0 or an error. */
int iam_token_key(iam_t *iam, uint8_t out[32]);

#endif
