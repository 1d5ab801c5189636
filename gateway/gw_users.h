/*
 * gw_users.h: S3 credentials, stored durably in the cluster (table "users", key = access key),
 * so every gateway sees the same users and none keeps them only in memory.
 * Record summary: u16 len + secret | u16 len + account | u16 len + display name.
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

#endif
