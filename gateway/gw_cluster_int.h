/*
 * gw_cluster_int.h (private to gateway/): what gw_cluster.c and gw_users.c share. The users
 * cache belongs to a cluster handle (one per process, no global state); gw_users.c owns its
 * contents, gw_cluster.c its lifetime.
 */
#ifndef GW_CLUSTER_INT_H
#define GW_CLUSTER_INT_H

#include "gw_cluster.h"

typedef struct st_gw_users_cache_t gw_users_cache_t;

/* An empty cache for a new cluster handle. NULL on allocation failure. */
gw_users_cache_t *gw_users_cache_new(void);
void gw_users_cache_free(gw_users_cache_t *c);
/* The cluster's users cache. Never NULL. */
gw_users_cache_t *gw_cluster_users_cache(gw_cluster_t *cl);

#endif
