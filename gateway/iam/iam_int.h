/*
 * iam_int.h (private to gateway/iam/): the IAM context, shared by iam_users.c (users cache) and
 * iam_token.c (token key).
 */
#ifndef IAM_INT_H
#define IAM_INT_H

#include <pthread.h>

#include "iam.h"

#define IAM_USERS_CACHE_SLOTS 64 /* direct-mapped: a collision only costs a quorum read */

struct st_iam_t {
    cluster_t *cl;
    pthread_mutex_t users_mu; /* guards users[] */
    struct {
        uint64_t expires_ms; /* og_mono_ms() deadline; 0 = empty */
        iam_user_t user;
    } users[IAM_USERS_CACHE_SLOTS];
    pthread_mutex_t key_mu; /* guards the two fields below */
    int have_secret;        /* SECRET_NONE, SECRET_UNSETTLED, SECRET_FINAL (iam_token.c) */
    uint8_t secret[32];
};

#endif
