/*
 * gw_users.c: S3 credentials as records of table "users" (see gw_users.h).
 *
 * Every signed request looks its access key up, so positive answers are cached per cluster handle
 * for a few seconds: a changed secret or a new user reaches other gateways within that time, and
 * this gateway at once (gw_users_put refreshes its own cache). Misses are never cached, so a user
 * created a moment ago is never refused.
 */
#include "gw_cluster_int.h"
#include "gw_users.h"

#include <errno.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <xxhash.h>

#define USERS_TABLE "users"
#define USERS_CACHE_SLOTS 64 /* direct-mapped: a collision only costs a quorum read */
#define USERS_CACHE_TTL_MS 5000
#define USERS_PAGE 1000
#define USERS_KEY_MAX 1024 /* longest record key the cluster accepts */

struct st_gw_users_cache_t {
    pthread_mutex_t mu;
    struct {
        uint64_t expires_ms; /* og_mono_ms() deadline; 0 = empty */
        gw_user_t user;
    } slot[USERS_CACHE_SLOTS];
};

/* Makes an empty cache for a new cluster handle. NULL on allocation failure. */
gw_users_cache_t *gw_users_cache_new(void)
{
    gw_users_cache_t *c = calloc(1, sizeof(*c));
    if (c && pthread_mutex_init(&c->mu, NULL) != 0) {
        free(c);
        c = NULL;
    }
    return c;
}

void gw_users_cache_free(gw_users_cache_t *c)
{
    if (!c)
        return;
    pthread_mutex_destroy(&c->mu);
    free(c);
}

static size_t users_slot(og_str_t key)
{
    return (size_t)(XXH3_64bits(key.base, key.len) % USERS_CACHE_SLOTS);
}

static int users_cache_get(gw_users_cache_t *c, og_str_t key, gw_user_t *out)
{
    size_t i = users_slot(key);
    int hit = 0;
    pthread_mutex_lock(&c->mu);
    if (c->slot[i].expires_ms > og_mono_ms() && og_str_eq(key, c->slot[i].user.access_key)) {
        *out = c->slot[i].user;
        hit = 1;
    }
    pthread_mutex_unlock(&c->mu);
    return hit;
}

static void users_cache_put(gw_users_cache_t *c, const gw_user_t *u)
{
    size_t i = users_slot(og_str(u->access_key));
    pthread_mutex_lock(&c->mu);
    c->slot[i].user = *u;
    c->slot[i].expires_ms = og_mono_ms() + USERS_CACHE_TTL_MS;
    pthread_mutex_unlock(&c->mu);
}

/* Length of a NUL-terminated field of capacity cap, or -1 when it is not terminated within it. */
static long users_field_len(const char *s, size_t cap)
{
    size_t n = strnlen(s, cap);
    return n == cap ? -1 : (long)n;
}

static unsigned char *users_put_field(unsigned char *p, const char *s, size_t n)
{
    p[0] = (unsigned char)(n >> 8);
    p[1] = (unsigned char)n;
    memcpy(p + 2, s, n);
    return p + 2 + n;
}

/* Reads one u16-length field of the summary into dst (capacity cap, NUL-terminated). */
static int users_get_field(og_str_t *in, char *dst, size_t cap)
{
    if (in->len < 2)
        return OG_EPROTO;
    const unsigned char *p = (const unsigned char *)in->base;
    size_t n = (size_t)p[0] << 8 | p[1];
    if (n > in->len - 2 || n >= cap || memchr(p + 2, '\0', n))
        return OG_EPROTO;
    memcpy(dst, p + 2, n);
    dst[n] = '\0';
    in->base += 2 + n;
    in->len -= 2 + n;
    return 0;
}

/* Fills u from a record's key and summary. 0 or OG_EPROTO. */
static int users_decode(og_str_t key, const og_rec_t *rec, gw_user_t *u)
{
    og_str_t in = rec->summary;
    int rc;
    if (key.len == 0 || key.len >= sizeof(u->access_key))
        return OG_EPROTO;
    memcpy(u->access_key, key.base, key.len);
    u->access_key[key.len] = '\0';
    if ((rc = users_get_field(&in, u->secret, sizeof(u->secret))) != 0 ||
        (rc = users_get_field(&in, u->account, sizeof(u->account))) != 0 ||
        (rc = users_get_field(&in, u->display_name, sizeof(u->display_name))) != 0)
        return rc;
    return in.len == 0 ? 0 : OG_EPROTO;
}

int gw_users_put(gw_cluster_t *cl, const gw_user_t *u)
{
    unsigned char summary[3 * 2 + sizeof(u->secret) + sizeof(u->account) + sizeof(u->display_name)], *p = summary;
    long klen = users_field_len(u->access_key, sizeof(u->access_key));
    long slen = users_field_len(u->secret, sizeof(u->secret));
    long alen = users_field_len(u->account, sizeof(u->account));
    long dlen = users_field_len(u->display_name, sizeof(u->display_name));
    int rc;

    /* The display name is optional in S3 answers; the rest identify and authenticate. */
    if (klen <= 0 || slen <= 0 || alen <= 0 || dlen < 0)
        return OG_EINVAL;
    p = users_put_field(p, u->secret, (size_t)slen);
    p = users_put_field(p, u->account, (size_t)alen);
    p = users_put_field(p, u->display_name, (size_t)dlen);
    og_rec_t rec = {.summary = {(const char *)summary, (size_t)(p - summary)}};
    gw_cluster_stamp(cl, &rec.ts, &rec.tiebreak);
    if ((rc = gw_cluster_rec_put(cl, USERS_TABLE, (og_str_t){u->access_key, (size_t)klen}, &rec)) == 0)
        users_cache_put(gw_cluster_users_cache(cl), u);
    return rc;
}

int gw_users_get(gw_cluster_t *cl, og_str_t access_key, gw_user_t *out)
{
    gw_users_cache_t *cache = gw_cluster_users_cache(cl);
    og_rec_t rec;
    char *buf;
    int rc;

    if (access_key.len == 0 || access_key.len >= sizeof(out->access_key))
        return OG_ENOTFOUND; /* no such key can have been stored */
    if (users_cache_get(cache, access_key, out))
        return 0;
    if ((rc = gw_cluster_rec_get(cl, USERS_TABLE, access_key, &rec, &buf)) != 0)
        return rc;
    if (rec.flags & OG_REC_TOMBSTONE)
        rc = OG_ENOTFOUND;
    else if ((rc = users_decode(access_key, &rec, out)) == 0)
        users_cache_put(cache, out);
    free(buf);
    return rc;
}

int gw_users_each(gw_cluster_t *cl, int (*fn)(void *ctx, const gw_user_t *u), void *ctx)
{
    char after[USERS_KEY_MAX];
    size_t after_len = 0;
    gw_list_t page;
    gw_user_t u;
    int rc;

    for (;;) {
        if ((rc = gw_cluster_list(cl, USERS_TABLE, (og_str_t){NULL, 0}, (og_str_t){after, after_len}, USERS_PAGE,
                                  &page)) != 0)
            return rc;
        for (size_t i = 0; i < page.n && rc == 0; i++) {
            /* A record that does not decode is skipped: one bad record must not hide every other
             * user from the administrator. */
            if (users_decode(page.entries[i].key, &page.entries[i].rec, &u) == 0)
                rc = fn(ctx, &u);
        }
        int more = page.truncated && page.next_after.len <= sizeof(after);
        if (more) {
            memcpy(after, page.next_after.base, page.next_after.len);
            after_len = page.next_after.len;
        }
        gw_list_free(&page);
        if (rc != 0 || !more)
            return rc;
    }
}
