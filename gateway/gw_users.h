/*
 * gw_users.h: accounts and their credentials, stored durably in the cluster so every gateway
 * sees the same users and none keeps them only in memory.
 *
 * An account owns buckets (= Swift containers). Its credentials are S3 key pairs and Swift users:
 *  - table "users", key = S3 access key:
 *      summary u16 len + secret | u16 len + account | u16 len + display name;
 *  - table "swift_users", key = "account:user":
 *      summary u8 version(=1) | u8 flags (GW_SWIFT_ADMIN, GW_SWIFT_RESELLER) | u16 len + key;
 *  - table "accounts", key = account name (its metadata; an account with credentials but no
 *    record behaves as an empty one, like Swift's account autocreate):
 *      summary u8 version(=1) | u64 created_ns | header list (gw_hdrs_encode): lowercase
 *      x-account-meta-* (quota, temp-url keys included).
 */
#ifndef GW_USERS_H
#define GW_USERS_H

#include "gw_cluster.h"

typedef struct {
    char access_key[128];
    char secret[128];
    char account[64];       /* the owner of buckets; one account may have several keys */
    char display_name[128];
} gw_user_t;

/* Creates or replaces a user (quorum write). 0, OG_EINVAL (empty/too long field) or OG_EQUORUM. */
int gw_users_put(gw_cluster_t *cl, const gw_user_t *u);
/* Looks a user up by access key. Results are cached per process for a few seconds (a new key
 * works at once: misses are not cached). 0, OG_ENOTFOUND or OG_EQUORUM. Thread-safe. */
int gw_users_get(gw_cluster_t *cl, og_str_t access_key, gw_user_t *out);
/* Calls fn for every user (secrets included: for admin tools only). 0 or an error. */
int gw_users_each(gw_cluster_t *cl, int (*fn)(void *ctx, const gw_user_t *u), void *ctx);
/* Removes an S3 key pair (tombstone; other gateways may accept it for the cache TTL, a few
 * seconds). 0, OG_EQUORUM. */
int gw_users_delete(gw_cluster_t *cl, const char *access_key);

/* ---- Swift users ---- */

#define GW_SWIFT_ADMIN 0x01    /* .admin: full control of its own account */
#define GW_SWIFT_RESELLER 0x02 /* .reseller_admin: every account, and account quotas */

typedef struct {
    char account[64];
    char user[128];
    char key[128];
    uint8_t flags; /* GW_SWIFT_* */
} gw_swift_user_t;

/* Creates or replaces a Swift user "account:user" (quorum write). The account name must not
 * contain ':' or '/'. 0, OG_EINVAL (empty, too long or badly formed field) or OG_EQUORUM. */
int gw_swift_user_put(gw_cluster_t *cl, const gw_swift_user_t *u);
/* Looks "account:user" up (no cache: only auth requests do this, tokens carry the rest).
 * 0, OG_ENOTFOUND, OG_EQUORUM or OG_EPROTO. */
int gw_swift_user_get(gw_cluster_t *cl, const char *account, const char *user, gw_swift_user_t *out);
/* Removes a Swift user; tokens already issued stay valid until they expire. 0 or OG_EQUORUM. */
int gw_swift_user_delete(gw_cluster_t *cl, const char *account, const char *user);
/* Calls fn for every Swift user (keys included: for admin tools only). 0 or an error. */
int gw_swift_user_each(gw_cluster_t *cl, int (*fn)(void *ctx, const gw_swift_user_t *u), void *ctx);

/* ---- accounts ---- */

typedef struct {
    uint64_t created_ns;
    og_header_t *meta;  /* lowercase names; slices into _buf (or the caller's, for put) */
    size_t num_meta;
    char *_buf;         /* owned by gw_account_get */
} gw_account_t;

/* Reads an account's record: 0 with *out (release with gw_account_free), OG_ENOTFOUND (never
 * created or deleted), OG_EQUORUM or OG_EPROTO. */
int gw_account_get(gw_cluster_t *cl, const char *name, gw_account_t *out);
/* Creates or replaces an account's record. 0, OG_EINVAL (bad name or metadata), OG_EQUORUM, -ENOMEM. */
int gw_account_put(gw_cluster_t *cl, const char *name, const gw_account_t *a);
/* Deletes an account's record (its credentials and buckets are the caller's business). */
int gw_account_delete(gw_cluster_t *cl, const char *name);
void gw_account_free(gw_account_t *a);
/* Calls fn with the name of every account that has a record. 0 or an error. */
int gw_account_each(gw_cluster_t *cl, int (*fn)(void *ctx, const char *name), void *ctx);

#endif
