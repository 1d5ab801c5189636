/*
 * cluster_rec.c: record I/O (contract: cluster.h): quorum writes, quorum reads that repair the
 * replicas they found stale, and the small cache of live records in front of the reads.
 */
#include "cluster_int.h"

#include <errno.h>
#include <inttypes.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <xxhash.h>

/* "/rec/<table>/<key>" into out (CL_REC_SUFFIX_MAX bytes). Returns its length or OG_EINVAL. */
static long cl_rec_suffix(const char *table, og_str_t key, char *out)
{
    if (!cl_table_valid(table) || key.len == 0 || key.len > OG_KEY_MAX || memchr(key.base, '\0', key.len))
        return OG_EINVAL;
    int n = snprintf(out, CL_REC_SUFFIX_MAX, "/rec/%s/", table);
    /* '/' is encoded too: the node takes everything after the table as the key. */
    long k = og_urlencode(key.base, key.len, out + n, CL_REC_SUFFIX_MAX - (size_t)n, 0);
    return k < 0 ? k : n + k;
}

/* ---- record cache ---- */

/* The slot of table/key and its name ("table\0key") in name; 0 when the name is too long to cache. */
static size_t cl_rc_name(const char *table, og_str_t key, char name[CL_RC_NAME_MAX], size_t *slot)
{
    size_t tl = strlen(table);
    if (tl + 1 + key.len > CL_RC_NAME_MAX)
        return 0;
    memcpy(name, table, tl + 1);
    memcpy(name + tl + 1, key.base, key.len);
    *slot = (size_t)(XXH3_64bits(name, tl + 1 + key.len) % CL_RC_SLOTS);
    return tl + 1 + key.len;
}

/* Drops a cached copy of table/key and bumps its slot's generation, so a read that began before
 * this point cannot store what it read (it may predate the write that called this). */
static void cl_rc_forget(cluster_t *cl, const char *table, og_str_t key)
{
    char name[CL_RC_NAME_MAX];
    size_t slot, nl = cl_rc_name(table, key, name, &slot);
    if (nl == 0)
        return;
    cl_rcache_t *c = cl->rcache;
    pthread_mutex_lock(&c->mu);
    cl_rc_slot_t *e = &c->slot[slot];
    e->gen++;
    if (e->name_len == nl && memcmp(e->name, name, nl) == 0)
        e->at_ms = 0;
    pthread_mutex_unlock(&c->mu);
}

int cluster_rec_get_cached(cluster_t *cl, const char *table, og_str_t key, uint32_t max_age_ms, og_rec_t *rec,
                              char **buf)
{
    char name[CL_RC_NAME_MAX];
    size_t slot, nl = cl_rc_name(table, key, name, &slot);
    cl_rcache_t *c = cl->rcache;
    uint32_t gen = 0;
    char *copy = NULL;
    size_t len = 0;
    int rc;

    if (nl == 0)
        return cluster_rec_get(cl, table, key, rec, buf);
    pthread_mutex_lock(&c->mu);
    cl_rc_slot_t *e = &c->slot[slot];
    uint64_t now = og_mono_ms();
    if (e->at_ms && now - e->at_ms < max_age_ms && e->name_len == nl && memcmp(e->name, name, nl) == 0) {
        len = e->rec_len;
        if ((copy = malloc(len)) != NULL)
            memcpy(copy, e->rec, len);
    }
    gen = e->gen;
    pthread_mutex_unlock(&c->mu);
    if (copy) {
        if (og_rec_decode(copy, len, rec) == 0) {
            *buf = copy;
            return 0;
        }
        free(copy); /* cannot happen: only decodable records are stored */
    }

    if ((rc = cluster_rec_get(cl, table, key, rec, buf)) != 0 || (rec->flags & OG_REC_TOMBSTONE))
        return rc;
    len = og_rec_encoded_len(rec);
    if (len > CL_RC_REC_MAX)
        return 0;
    /* rec's slices point into *buf, which holds exactly the encoded record the node sent. */
    pthread_mutex_lock(&c->mu);
    if (e->gen == gen) {
        e->at_ms = og_mono_ms();
        e->name_len = (uint16_t)nl;
        e->rec_len = (uint16_t)len;
        memcpy(e->name, name, nl);
        og_rec_encode(rec, e->rec, sizeof(e->rec));
    }
    pthread_mutex_unlock(&c->mu);
    return 0;
}

/* ---- records ---- */

/* One quorum write (cl_op_run) of the encoded record body to its primaries. 0, OG_EQUORUM,
 * -ENOMEM, or CL_ENEWER when some replica keeps a strictly newer record (its ts in *newer_ts, the
 * greatest when several say so) whatever the quorum. */
static int cl_rec_write(cluster_t *cl, const char *table, const char *suffix, size_t slen, const char *body,
                        size_t blen, uint64_t *newer_ts)
{
    node_call_t tmpl = {.method = "PUT", .body = body, .body_len = blen};
    cl_op_t op;
    int rc, newer = 0;

    if ((rc = cl_op_begin(cl, &op, table, strlen(table), suffix, slen, &tmpl, 0)) != 0)
        goto out_end;
    cl_op_run(&op, cl_count_stored_primary);
    rc = cl_count_stored_primary(&op) >= cl->quorum ? 0 : OG_EQUORUM;
    for (size_t i = 0; i < op.n; i++) {
        const node_call_t *c = &op.call[i];
        if (c->rc == 0 && c->newer && (!newer || c->newer_ts > *newer_ts)) {
            *newer_ts = c->newer_ts;
            newer = 1;
        }
    }
    if (newer)
        rc = CL_ENEWER;
out_end:
    cl_op_end(&op);
    return rc;
}

int cluster_rec_put(cluster_t *cl, const char *table, og_str_t key, const og_rec_t *rec)
{
    char suffix[CL_REC_SUFFIX_MAX], small[2048], *body = small;
    og_rec_t r = *rec;
    uint64_t newer_ts = 0; /* set whenever cl_rec_write says CL_ENEWER */
    long rc;

    if ((rc = cl_rec_suffix(table, key, suffix)) < 0)
        return (int)rc;
    size_t slen = (size_t)rc, blen = og_rec_encoded_len(rec);
    if (blen > OG_REC_MAX_LEN)
        return OG_ETOOBIG;
    if (blen > sizeof(small) && !(body = malloc(blen)))
        return -ENOMEM;
    for (int restamps = 0;; restamps++) {
        if ((rc = og_rec_encode(&r, body, blen)) < 0)
            goto out_free_body;
        rc = cl_rec_write(cl, table, suffix, slen, body, blen, &newer_ts);
        if (rc == CL_ENEWER && rec->tiebreak == 0)
            rc = 0; /* a write at a fixed stamp: losing to a newer version is its purpose */
        if (rc != CL_ENEWER)
            break;
        /* A replica keeps a newer version (written through a gateway whose clock runs ahead, or
         * concurrently): acknowledging now would report a change readers never see. Move this
         * handle's clock past that version and write again with a fresh stamp. A key written
         * that busily that this keeps losing fails like any write that did not take. */
        if (restamps == CL_REC_RESTAMPS) {
            rc = OG_EQUORUM;
            break;
        }
        cl_stamp_observe(cl, newer_ts);
        cluster_stamp(cl, &r.ts, &r.tiebreak);
    }
    /* After the write, whatever its outcome (a failed quorum may still have landed somewhere): a
     * cached copy must not outlive this gateway's own change. */
    cl_rc_forget(cl, table, key);
out_free_body:
    if (body != small)
        free(body);
    return (int)rc;
}

/* Slots where a primary applied a conditional put (201; 200 means a newer record kept it out). */
static size_t cl_count_applied_primary(const cl_op_t *op)
{
    size_t ok = 0;
    for (size_t i = 0; i < op->n; i++)
        ok += !op->handoff[i] && op->call[i].rc == 0 && op->call[i].status == 201;
    return ok;
}

int cluster_rec_put_if(cluster_t *cl, const char *table, og_str_t key, const og_rec_t *rec,
                       const cluster_rec_cond_t *cond)
{
    char suffix[CL_REC_SUFFIX_MAX + 48], small[2048], *body = small;
    cl_op_t op;
    long rc;

    cl_op_clear(&op);
    if ((rc = cl_rec_suffix(table, key, suffix)) < 0)
        return (int)rc;
    size_t slen = (size_t)rc, blen = og_rec_encoded_len(rec);
    if (cond->absent)
        slen += (size_t)snprintf(suffix + slen, 48, "?if=absent");
    else
        slen += (size_t)snprintf(suffix + slen, 48, "?if=%016" PRIx64 "%016" PRIx64, cond->ts, cond->tiebreak);
    if (blen > OG_REC_MAX_LEN)
        return OG_ETOOBIG;
    if (blen > sizeof(small) && !(body = malloc(blen)))
        return -ENOMEM;
    if ((rc = og_rec_encode(rec, body, blen)) < 0)
        goto out_free_body;
    node_call_t tmpl = {.method = "PUT", .body = body, .body_len = blen};
    if ((rc = cl_op_begin(cl, &op, table, strlen(table), suffix, slen, &tmpl, 0)) != 0)
        goto out_end;
    cl_op_run(&op, cl_count_applied_primary);
    size_t refused = 0;
    for (size_t i = 0; i < op.n; i++)
        refused += !op.handoff[i] && op.call[i].rc == 0 && (op.call[i].status == 412 || op.call[i].status == 200);
    if (cl_count_applied_primary(&op) >= cl->quorum)
        rc = 0;
    else
        rc = refused > 0 ? OG_EEXIST : OG_EQUORUM;
out_end:
    cl_op_end(&op);
    cl_rc_forget(cl, table, key);
out_free_body:
    if (body != small)
        free(body);
    return (int)rc;
}

/* A record read that settles its slot: the replica has the key. */
static int cl_has_record(const node_call_t *c)
{
    return c->rc == 0 && c->status == 200;
}

/* Writes the newest record back to the replicas in stale[] that answered with an older version or
 * none. Best effort: the read already has its answer; a failed repair is retried by the next read. */
static void cl_read_repair(cl_op_t *op, const size_t *stale, size_t nstale, const char *body, size_t len)
{
    node_call_t calls[RING_MAX_REPLICAS];
    for (size_t k = 0; k < nstale; k++)
        calls[k] = (node_call_t){.addr = op->call[stale[k]].addr,
                                 .method = "PUT",
                                 .path = op->call[stale[k]].path,
                                 .body = body,
                                 .body_len = len};
    cl_call_many(op->cl, calls, nstale, NULL, 0, NULL, NULL);
    for (size_t k = 0; k < nstale; k++)
        cl_call_release(&calls[k]);
}

/* One quorum read of the record at suffix (see cluster_rec_get), placed by the ring in use or,
 * with prev, by the one before it (cl_op_begin_prev: OG_ENOTFOUND when it has nothing more). */
static int cl_rec_read(cluster_t *cl, int prev, const char *table, const char *suffix, size_t slen, og_rec_t *rec,
                       char **buf)
{
    og_rec_t got[RING_MAX_REPLICAS];
    int state[RING_MAX_REPLICAS]; /* 0 no answer, 1 has the record, 2 never saw the key */
    size_t stale[RING_MAX_REPLICAS], nstale = 0, primary_answers = 0, newest = SIZE_MAX;
    cl_op_t op;
    long rc;

    node_call_t tmpl = {.method = "GET", .resp_cap = OG_REC_MAX_LEN};
    rc = prev ? cl_op_begin_prev(cl, &op, table, strlen(table), suffix, slen, &tmpl)
              : cl_op_begin(cl, &op, table, strlen(table), suffix, slen, &tmpl, 1);
    if (rc != 0)
        goto out_end;
    cl_op_run_read(&op, cl_has_record);
    for (size_t i = 0; i < op.n; i++) {
        const node_call_t *c = &op.call[i];
        state[i] = 0;
        if (c->rc != 0)
            continue;
        if (c->status == 404)
            state[i] = 2;
        else if (c->status == 200 && og_rec_decode(c->resp_body, c->resp_len, &got[i]) == 0)
            state[i] = 1;
        if (state[i] == 0)
            continue;
        /* Only primaries count: writes need a quorum of primaries, so only a quorum of primaries
         * is sure to overlap every acknowledged write. A handoff holds just the writes made while
         * its primary was down; its record is still a candidate, its 404 says nothing. */
        primary_answers += !op.handoff[i];
        if (state[i] == 1 && (newest == SIZE_MAX || og_rec_cmp(&got[i], &got[newest]) > 0))
            newest = i;
    }
    if (primary_answers < cl->quorum) {
        rc = OG_EQUORUM;
        goto out_end;
    }
    if (newest == SIZE_MAX) {
        rc = OG_ENOTFOUND;
        goto out_end;
    }
    /* A handoff that lacks the key is not repaired: the record's home is its primaries, and
     * copying it onto every handoff a read happens to reach would only spread it. */
    for (size_t i = 0; i < op.n; i++)
        if ((state[i] == 2 && !op.handoff[i]) || (state[i] == 1 && og_rec_cmp(&got[i], &got[newest]) < 0))
            stale[nstale++] = i;
    if (nstale)
        cl_read_repair(&op, stale, nstale, op.call[newest].resp_body, op.call[newest].resp_len);
    cl_stamp_observe(cl, got[newest].ts);
    *rec = got[newest];
    *buf = op.call[newest].resp_body;
    op.call[newest].resp_body = NULL; /* now the caller's */
    rc = 0;
out_end:
    cl_op_end(&op);
    return (int)rc;
}

int cluster_rec_get(cluster_t *cl, const char *table, og_str_t key, og_rec_t *rec, char **buf)
{
    char suffix[CL_REC_SUFFIX_MAX];
    long slen = cl_rec_suffix(table, key, suffix);
    if (slen < 0)
        return (int)slen;
    int rc = cl_rec_read(cl, 0, table, suffix, (size_t)slen, rec, buf);
    /* After a ring change the new primaries fill in the background: a key none of them has yet
     * may still be on the previous placement (a miss costs this second read until the next
     * change). */
    if (rc == OG_ENOTFOUND && cl_rec_read(cl, 1, table, suffix, (size_t)slen, rec, buf) == 0)
        rc = 0;
    return rc;
}

/* ---- shared lookups (cluster_rec_get_shared) ---- */

/* Largest record a shared lookup passes around (an object record with ~1200 chunks); a bigger
 * one is read by each caller on its own. */
#define CL_SHARED_REC_MAX (64u << 10)

typedef struct {
    cluster_t *cl;
    const char *table;
    og_str_t key;
} cl_rec_fill_t;

/* The quorum read of a shared lookup, its record encoded into buf. */
static int cl_rec_fill(void *ctx, char *buf, size_t cap, size_t *len)
{
    cl_rec_fill_t *f = ctx;
    og_rec_t rec;
    char *rbuf = NULL;
    int rc = cluster_rec_get(f->cl, f->table, f->key, &rec, &rbuf);
    *len = 0;
    if (rc == 0) {
        size_t n = og_rec_encoded_len(&rec);
        if (n > cap)
            rc = CL_EBIGREC;
        else if (og_rec_encode(&rec, buf, cap) < 0)
            rc = OG_EPROTO;
        else
            *len = n;
    }
    free(rbuf);
    return rc;
}

int cluster_rec_get_shared(cluster_t *cl, const char *table, og_str_t key, og_rec_t *rec, char **buf)
{
    size_t tl = strlen(table), kl = 2 + tl + key.len;
    char *k = malloc(kl);
    og_str_t bytes;
    void *ticket;
    if (!k)
        return cluster_rec_get(cl, table, key, rec, buf);
    k[0] = 'r'; /* record flights; object bytes start with 'b' (core_obj_read) */
    memcpy(k + 1, table, tl + 1);
    memcpy(k + 2 + tl, key.base, key.len);
    cl_rec_fill_t f = {cl, table, key};
    int rc = cluster_coalesce(cl, (og_str_t){k, kl}, CL_SHARED_REC_MAX, 1, cl_rec_fill, &f, &bytes, &ticket);
    free(k);
    if (rc == 1 || rc == CL_EBIGREC)
        return cluster_rec_get(cl, table, key, rec, buf);
    if (rc != 0)
        return rc;
    /* each caller gets its own copy: rec's slices point into *buf, which the caller frees */
    if ((*buf = malloc(bytes.len ? bytes.len : 1)) == NULL) {
        rc = -ENOMEM;
    } else {
        memcpy(*buf, bytes.base, bytes.len);
        if ((rc = og_rec_decode(*buf, bytes.len, rec)) != 0) {
            free(*buf);
            *buf = NULL;
        }
    }
    cluster_coalesce_done(cl, ticket);
    return rc;
}
