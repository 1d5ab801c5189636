/*
 * iam_int.h (private to gateway/iam/): the IAM context, shared by iam_users.c (users cache) and
 * iam_token.c (token key).
 */
#ifndef IAM_INT_H
#define IAM_INT_H

#include <pthread.h>

#include "iam.h"

#define IAM_USERS_CACHE_SLOTS 64 /* direct-mapped: a collision only costs a quorum read */
/* Negative cache: names (S3 access keys, Swift "account:user") the cluster did not know, so that
 * repeating an unknown name does not cost a quorum read per request. Direct-mapped by a 64-bit
 * hash (bounded: 4096 x 16 bytes), each entry for IAM_NEG_TTL_MS; a name this gateway stores
 * is dropped at once, one stored through another gateway works here within the TTL. */
#define IAM_NEG_SLOTS 4096
#define IAM_NEG_TTL_MS 2000

struct st_iam_t {
    cluster_t *cl;
    pthread_mutex_t users_mu; /* guards users[] */
    struct {
        uint64_t expires_ms; /* og_mono_ms() deadline; 0 = empty */
        iam_user_t user;
    } users[IAM_USERS_CACHE_SLOTS];
    struct {
        uint64_t hash;       /* iam_neg_hash of the name */
        uint64_t expires_ms; /* og_mono_ms() deadline; 0 = empty */
    } neg[IAM_NEG_SLOTS];    /* guarded by users_mu */
    pthread_mutex_t key_mu; /* guards the two fields below */
    int have_secret;        /* SECRET_NONE, SECRET_UNSETTLED, SECRET_FINAL (iam_token.c) */
    uint8_t secret[32];
};

#endif
