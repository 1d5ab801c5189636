/*
 * core_cond.c: conditional writes (contract: core.h; design: docs/architecture.md "Conditional
 * writes"). A conditional commit or delete runs its check and its write while holding the key's
 * lease: a record in the lease table "l.<bucket>" that changes only by compare-and-set on each
 * replica (cluster_rec_put_if) and is held once a quorum of primaries took it. Two quorums share a
 * primary, which holds one lease record at a time, so two gateways never hold the same key's lease
 * at once while it is unexpired; the holder reads the object at quorum, checks, writes at quorum
 * and releases, so the next holder's read sees that write.
 */
#include <errno.h>
#include <stdlib.h>
#include <time.h>

#include "core.h"

/* A lease older than this (by the reader's wall clock against the lease's stamp) is taken over:
 * a gateway that died holding one blocks that key's conditional writes this long at most. */
#define COND_LEASE_NS (30ull * 1000000000u)
/* A holder writes only this soon after taking the lease, leaving the rest of COND_LEASE_NS for
 * the write itself and for clock skew between gateways. */
#define COND_HOLD_MS 10000u
/* Attempts to take a busy or contended lease (with a short random pause between them) before
 * answering CORE_ECONFLICT. */
#define COND_TRIES 60

static uint64_t cond_now_ns(void)
{
    struct timespec t;
    clock_gettime(CLOCK_REALTIME, &t);
    return (uint64_t)t.tv_sec * 1000000000u + (uint64_t)t.tv_nsec;
}

static uint64_t cond_mono_ms(void)
{
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return (uint64_t)t.tv_sec * 1000u + (uint64_t)t.tv_nsec / 1000000u;
}

/* Sleeps 2..33 ms, picked by rnd, so contenders do not retry in step. */
static void cond_pause(uint64_t rnd)
{
    struct timespec t = {0, (long)(2 + rnd % 32) * 1000000L};
    nanosleep(&t, NULL);
}

/* Gives the lease `mine` up on every replica that holds it (a tombstone, conditional on mine's
 * stamp, so it never removes another holder's lease). Best effort: a replica it misses keeps the
 * lease until it expires. */
static void cond_release(cluster_t *cl, const char *table, og_str_t key, const og_rec_t *mine)
{
    og_rec_t tomb = {.flags = OG_REC_TOMBSTONE};
    cluster_rec_cond_t cond = {.ts = mine->ts, .tiebreak = mine->tiebreak};
    cluster_stamp(cl, &tomb.ts, &tomb.tiebreak);
    (void)cluster_rec_put_if(cl, table, key, &tomb, &cond);
}

/* What one attempt must compare against: the lease record read (none, a tombstone, or an expired
 * lease: *cond says which), or 1 when it is held and unexpired (come back later). 0, 1, or a read
 * error. */
static int cond_read(cluster_t *cl, const char *table, og_str_t key, cluster_rec_cond_t *cond)
{
    og_rec_t cur;
    char *buf = NULL;
    int rc = cluster_rec_get(cl, table, key, &cur, &buf);
    *cond = (cluster_rec_cond_t){.absent = 1};
    if (rc == OG_ENOTFOUND)
        return 0;
    if (rc == 0 && !(cur.flags & OG_REC_TOMBSTONE)) {
        if (cur.ts + COND_LEASE_NS > cond_now_ns())
            rc = 1;
        else
            *cond = (cluster_rec_cond_t){.ts = cur.ts, .tiebreak = cur.tiebreak};
    }
    free(buf);
    return rc;
}

/* Takes the lease of key in table: 0 with *mine (give it back with cond_release), CORE_ECONFLICT
 * (held or contended through every attempt), or a cluster error. */
static int cond_take(cluster_t *cl, const char *table, og_str_t key, og_rec_t *mine)
{
    cluster_rec_cond_t cond;
    for (int i = 0; i < COND_TRIES; i++) {
        int rc = cond_read(cl, table, key, &cond);
        if (rc < 0)
            return rc;
        *mine = (og_rec_t){0};
        cluster_stamp(cl, &mine->ts, &mine->tiebreak);
        if (rc == 0) {
            if ((rc = cluster_rec_put_if(cl, table, key, mine, &cond)) == 0)
                return 0;
            /* Taken on a minority only, or not known: undo it there so it blocks nobody. */
            cond_release(cl, table, key, mine);
            if (rc != OG_EEXIST)
                return rc;
        }
        cond_pause(mine->tiebreak);
    }
    return CORE_ECONFLICT;
}

/* Under the lease of (bucket, key): reads the live object, asks check, then commits m (or, with m
 * NULL, deletes the object). See core_obj_commit_if. */
static int cond_run(cluster_t *cl, const char *bucket, og_str_t key, core_meta_t *m, char *marker_vid,
                    core_cond_fn check, void *ctx, uint64_t now_s)
{
    char table[CORE_TABLE_CAP], *buf = NULL;
    core_meta_t cur;
    og_rec_t mine;
    int rc;

    core_table('l', bucket, table);
    if ((rc = cond_take(cl, table, key, &mine)) != 0)
        return rc;
    uint64_t took = cond_mono_ms();
    rc = core_obj_lookup_live(cl, bucket, key, now_s, &cur, &buf);
    if (rc != 0 && rc != OG_ENOTFOUND)
        goto out_release;
    int found = rc == 0;
    rc = check(ctx, found ? &cur : NULL);
    if (found) {
        core_meta_free(&cur);
        free(buf);
    }
    if (rc != 0)
        goto out_release;
    if (cond_mono_ms() - took > COND_HOLD_MS) {
        rc = CORE_ECONFLICT; /* too slow to be sure the lease is still ours */
        goto out_release;
    }
    rc = m ? core_obj_commit(cl, bucket, key, m) : core_obj_delete(cl, bucket, key, marker_vid);
out_release:
    cond_release(cl, table, key, &mine);
    return rc;
}

int core_obj_commit_if(cluster_t *cl, const char *bucket, og_str_t key, core_meta_t *m, core_cond_fn check,
                       void *ctx, uint64_t now_s)
{
    if (!check)
        return core_obj_commit(cl, bucket, key, m);
    return cond_run(cl, bucket, key, m, NULL, check, ctx, now_s);
}

int core_obj_delete_if(cluster_t *cl, const char *bucket, og_str_t key, core_cond_fn check, void *ctx,
                       uint64_t now_s, char marker_vid[CORE_VID_LEN + 1])
{
    marker_vid[0] = '\0';
    if (!check)
        return core_obj_delete(cl, bucket, key, marker_vid);
    return cond_run(cl, bucket, key, NULL, marker_vid, check, ctx, now_s);
}
