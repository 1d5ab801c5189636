/*
 * cluster_list.c: listings and table usage (contract: cluster.h): each asks a quorum of
 * primaries and merges or votes on their answers.
 */
#include "cluster_int.h"

#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* ---- listing ---- */

typedef struct {
    size_t nbodies;
    char *bodies[RING_MAX_REPLICAS]; /* the replicas' answers, which entries point into */
    cluster_list_entry_t entries[];
} cl_list_mem_t;

/* One replica's answer, parsed. */
typedef struct {
    cluster_list_entry_t *e; /* group_cut here: this replica skipped the rest of the key's prefix */
    size_t n, pos;
    int truncated;
    int cut; /* grouped merge: this replica skipped the rest of the common prefix being merged */
} cl_list_src_t;

/* Parses a list answer (u32 keylen with OG_LIST_GROUP_CUT, key, record with empty detail)*.
 * Entries are malloc'd into src->e (the caller frees) and point into body. 0, OG_EPROTO or
 * -ENOMEM. */
static int cl_list_parse(const char *body, size_t len, cl_list_src_t *src)
{
    const unsigned char *p = (const unsigned char *)body, *end = p + len;
    size_t cap = 0;
    src->e = NULL;
    src->n = src->pos = 0;
    src->cut = 0;
    while (p < end) {
        if (end - p < 4)
            return OG_EPROTO;
        uint32_t word = og_be32_get(p);
        size_t klen = word & ~OG_LIST_GROUP_CUT;
        p += 4;
        if ((size_t)(end - p) < klen)
            return OG_EPROTO;
        const unsigned char *key = p, *r = p + klen;
        long flen = og_rec_frame_len(r, (size_t)(end - r));
        if (flen < 0)
            return OG_EPROTO;
        size_t rlen = (size_t)flen;
        if (src->n == cap) {
            size_t ncap = cap ? 2 * cap : 256;
            cluster_list_entry_t *ne = realloc(src->e, ncap * sizeof(*ne));
            if (!ne)
                return -ENOMEM;
            src->e = ne;
            cap = ncap;
        }
        cluster_list_entry_t *e = &src->e[src->n];
        e->key = (og_str_t){(const char *)key, klen};
        e->group_cut = (word & OG_LIST_GROUP_CUT) != 0;
        if (og_rec_decode(r, rlen, &e->rec) != 0)
            return OG_EPROTO;
        /* Keys must ascend, or the merge below would be wrong. */
        if (src->n > 0 && og_str_cmp(src->e[src->n - 1].key, e->key) >= 0)
            return OG_EPROTO;
        src->n++;
        p = r + rlen;
    }
    return 0;
}

/* "/list/<table>?..." into out (CL_LIST_SUFFIX_MAX bytes). Returns the length or OG_EINVAL. */
static long cl_list_suffix(const char *table, og_str_t prefix, og_str_t delim, og_str_t after, size_t limit,
                           char *out)
{
    const struct {
        const char *name;
        og_str_t v;
    } part[] = {{"&prefix=", prefix}, {"&after=", after}, {"&delimiter=", delim}};
    if (!cl_table_valid(table))
        return OG_EINVAL;
    size_t n = (size_t)snprintf(out, CL_LIST_SUFFIX_MAX, "/list/%s?limit=%zu", table, limit);
    for (size_t i = 0; i < sizeof(part) / sizeof(part[0]); i++) {
        if (part[i].v.len == 0)
            continue;
        if (part[i].v.len > OG_KEY_MAX)
            return OG_EINVAL;
        n += (size_t)snprintf(out + n, CL_LIST_SUFFIX_MAX - n, "%s", part[i].name);
        long k = og_urlencode(part[i].v.base, part[i].v.len, out + n, CL_LIST_SUFFIX_MAX - n, 0);
        if (k < 0)
            return k;
        n += (size_t)k;
    }
    return (long)n;
}

/* A grouped merge's view of the common prefix that its last raw key is in. */
typedef struct {
    og_str_t prefix, delim; /* the listing's; delim empty: an ungrouped merge */
    og_str_t name;          /* the common prefix, empty when the last key is in none */
    int cut;                /* a replica skipped the rest of it */
    size_t live;            /* entries the page gives of it */
} cl_group_t;

/* Moves g to key's common prefix when key is in another. Returns 1, leaving g as it is, when the
 * prefix being left is undecided: a replica skipped part of it and the page gives no live key of
 * it (the one the replica held live is deleted on a newer replica), so a live key may hide in the
 * skipped part and the page must end before key. */
static int cl_group_enter(cl_group_t *g, og_str_t key, cl_list_src_t *src, size_t nsrc)
{
    size_t len = og_key_group_len(key, g->prefix, g->delim, 0);
    if (len && len == g->name.len && memcmp(key.base, g->name.base, len) == 0)
        return 0;
    if (g->cut && g->live == 0)
        return 1;
    g->name = (og_str_t){key.base, len};
    g->cut = 0;
    g->live = 0;
    for (size_t s = 0; s < nsrc; s++)
        src[s].cut = 0;
    return 0;
}

/* Is the key being merged (in g's prefix) in a part of it that a replica skipped? Keys ascend, so
 * every key of the prefix after a replica's cut entry is. */
static int cl_group_skipped(const cl_group_t *g, const cl_list_src_t *src, size_t nsrc)
{
    for (size_t s = 0; g->cut && s < nsrc; s++)
        if (src[s].cut)
            return 1;
    return 0;
}

/* The newest record of key (the smallest key not yet merged) over the replicas, which all move
 * past it. A replica that skipped the rest of key's prefix after it marks the group cut. */
static const cluster_list_entry_t *cl_list_take(cl_list_src_t *src, size_t nsrc, og_str_t key, cl_group_t *g)
{
    const cluster_list_entry_t *best = NULL;
    for (size_t s = 0; s < nsrc; s++) {
        if (src[s].pos == src[s].n)
            continue;
        const cluster_list_entry_t *e = &src[s].e[src[s].pos];
        if (og_str_cmp(e->key, key) != 0)
            continue;
        if (best == NULL || og_rec_cmp(&e->rec, &best->rec) > 0)
            best = e;
        if (g->delim.len && g->name.len && e->group_cut)
            src[s].cut = g->cut = 1;
        src[s].pos++;
    }
    return best;
}

/* Merges the replicas' answers into out. A truncated answer only speaks for keys up to its last
 * one: a key beyond it that another replica lacks might still exist there, so the merged page ends
 * at the smallest such last key. Grouped (g->delim), a replica's answer says nothing of the keys of
 * a prefix after its cut entry: those are left out, and the page ends early at a prefix it cannot
 * decide (cl_group_enter). */
static int cl_list_merge(cl_list_src_t *src, size_t nsrc, size_t limit, cl_group_t *g, cl_list_mem_t *mem,
                         cluster_list_t *out)
{
    og_str_t bound = {NULL, 0}, last = {NULL, 0};
    int bounded = 0, more = 0, undecided = 0;
    size_t raw = 0;

    for (size_t s = 0; s < nsrc; s++) {
        if (!src[s].truncated)
            continue;
        og_str_t k = src[s].e[src[s].n - 1].key;
        if (!bounded || og_str_cmp(k, bound) < 0)
            bound = k;
        bounded = 1;
    }
    out->n = 0;
    for (;;) {
        const cluster_list_entry_t *min = NULL;
        for (size_t s = 0; s < nsrc; s++)
            if (src[s].pos < src[s].n && (!min || og_str_cmp(src[s].e[src[s].pos].key, min->key) < 0))
                min = &src[s].e[src[s].pos];
        if (!min || (bounded && og_str_cmp(min->key, bound) > 0))
            break;
        if (raw == limit) {
            more = 1;
            break;
        }
        og_str_t key = min->key;
        int skipped = 0;
        if (g->delim.len) {
            if ((undecided = cl_group_enter(g, key, src, nsrc)) != 0)
                break;
            /* Nothing of the prefix given yet, and the rest unknown: undecided. */
            if ((skipped = cl_group_skipped(g, src, nsrc)) != 0 && g->live == 0) {
                undecided = 1;
                break;
            }
        }
        const cluster_list_entry_t *best = cl_list_take(src, nsrc, key, g);
        raw++;
        last = key;
        if (!skipped && !(best->rec.flags & OG_REC_TOMBSTONE)) {
            mem->entries[out->n] = *best;
            mem->entries[out->n].group_cut = 0;
            out->n++;
            g->live += g->name.len != 0;
        }
        /* The prefix's entries are the last ones given: mark the last of a prefix cut short. */
        if (g->cut && g->live)
            mem->entries[out->n - 1].group_cut = 1;
    }
    /* All answers read to their end: the last prefix closes here, and must be decided too. */
    if (!bounded && !more && !undecided)
        undecided = g->cut && g->live == 0;
    out->entries = mem->entries;
    out->truncated = bounded || more || undecided;
    out->next_after = out->truncated ? last : (og_str_t){NULL, 0};
    return 0;
}

/* A listing answer that counts toward the quorum (parsed later; a malformed one widens nothing, as
 * before: it simply does not count). */
static int cl_list_answered(const node_call_t *c)
{
    return c->rc == 0 && c->status == 200;
}

int cluster_list(cluster_t *cl, const char *table, og_str_t prefix, og_str_t after, size_t limit, cluster_list_t *out)
{
    return cluster_list_grouped(cl, table, prefix, (og_str_t){NULL, 0}, after, limit, out);
}

int cluster_list_grouped(cluster_t *cl, const char *table, og_str_t prefix, og_str_t delim, og_str_t after,
                         size_t limit, cluster_list_t *out)
{
    char suffix[CL_LIST_SUFFIX_MAX];
    /* No key (at most OG_KEY_MAX bytes) holds a longer delimiter: nothing to group. */
    cl_group_t group = {.prefix = prefix, .delim = delim.len > OG_KEY_MAX ? (og_str_t){NULL, 0} : delim};
    cl_list_src_t src[RING_MAX_REPLICAS];
    size_t nsrc = 0, nprimary = 0, total = 0;
    uint64_t newest_ts = 0; /* the hybrid clock moves past every stamp seen */
    cl_list_mem_t *mem = NULL;
    cl_op_t op;
    long rc;

    memset(out, 0, sizeof(*out));
    cl_op_clear(&op);
    if (limit == 0)
        limit = CL_LIST_DEFAULT;
    if (limit > CL_LIST_MAX)
        limit = CL_LIST_MAX;
    if ((rc = cl_list_suffix(table, prefix, group.delim, after, limit, suffix)) < 0)
        goto out_end;
    node_call_t tmpl = {.method = "GET"};
    if ((rc = cl_op_begin(cl, &op, table, strlen(table), suffix, (size_t)rc, &tmpl, 1)) != 0)
        goto out_end;
    cl_op_run_read(&op, cl_list_answered);
    for (size_t i = 0; i < op.n; i++) {
        node_call_t *c = &op.call[i];
        if (c->rc != 0 || c->status != 200)
            continue;
        rc = cl_list_parse(c->resp_body, c->resp_len, &src[nsrc]);
        /* A malformed answer, or one claiming more without giving any, does not count. */
        if (rc != 0 || (c->truncated && src[nsrc].n == 0)) {
            free(src[nsrc].e);
            if (rc == -ENOMEM)
                goto out_free_src;
            continue;
        }
        src[nsrc].truncated = c->truncated;
        for (size_t k = 0; k < src[nsrc].n; k++)
            newest_ts = src[nsrc].e[k].rec.ts > newest_ts ? src[nsrc].e[k].rec.ts : newest_ts;
        total += src[nsrc].n;
        nsrc++;
        /* As for records: a handoff's answer is merged (the writes it took) but is no evidence
         * that a key is absent, so only primaries make the quorum. */
        nprimary += !op.handoff[i];
    }
    cl_stamp_observe(cl, newest_ts);
    if (nprimary < cl->quorum) {
        rc = OG_EQUORUM;
        goto out_free_src;
    }
    if (!(mem = malloc(sizeof(*mem) + (total < limit ? total : limit) * sizeof(cluster_list_entry_t)))) {
        rc = -ENOMEM;
        goto out_free_src;
    }
    /* The entries point into the answers: they move to mem, which the list owns from here. */
    mem->nbodies = 0;
    for (size_t i = 0; i < op.n; i++) {
        if (op.call[i].rc == 0 && op.call[i].status == 200 && op.call[i].resp_body) {
            mem->bodies[mem->nbodies++] = op.call[i].resp_body;
            op.call[i].resp_body = NULL;
        }
    }
    out->_mem = mem;
    rc = cl_list_merge(src, nsrc, limit, &group, mem, out);
out_free_src:
    for (size_t s = 0; s < nsrc; s++)
        free(src[s].e);
out_end:
    cl_op_end(&op);
    return (int)rc;
}

/* ---- table usage ---- */

/* One primary's GET /<dev>/usage/<table> answer. 1 parsed, 0 not an answer. */
static int cl_usage_parse(const node_call_t *c, cluster_table_usage_t *u)
{
    char json[128];
    if (c->rc != 0 || c->status != 200 || !c->resp_body || c->resp_len >= sizeof(json))
        return 0;
    memcpy(json, c->resp_body, c->resp_len);
    json[c->resp_len] = '\0';
    return sscanf(json, "{\"records\":%" SCNu64 ",\"bytes\":%" SCNu64 "}", &u->records, &u->bytes) == 2;
}

int cluster_table_usage(cluster_t *cl, const char *table, cluster_table_usage_t *out)
{
    char suffix[sizeof("/usage/") + CL_TABLE_MAX];
    cluster_table_usage_t got[RING_MAX_REPLICAS];
    size_t n = 0, best = 0, best_votes = 0, tie = 0;
    cl_op_t op;
    int rc;

    memset(out, 0, sizeof(*out));
    cl_op_clear(&op);
    if (!cl_table_valid(table))
        return OG_EINVAL;
    int slen = snprintf(suffix, sizeof(suffix), "/usage/%s", table);
    node_call_t tmpl = {.method = "GET", .resp_cap = 4096};
    if ((rc = cl_op_begin(cl, &op, table, strlen(table), suffix, (size_t)slen, &tmpl, 1)) != 0)
        goto out_end;
    /* Primaries only: a handoff's aggregate counts only the writes it took while a primary was
     * down, which is no answer about the table. A quorum first; all primaries when it disagrees. */
    size_t q = cl->quorum < op.n ? cl->quorum : op.n;
    cl_call_many(cl, op.call, q, NULL, 0, NULL, NULL);
    for (size_t i = 0; i < q; i++)
        n += cl_usage_parse(&op.call[i], &got[n]);
    int agree = n == q;
    for (size_t i = 1; i < n && agree; i++)
        agree = got[i].records == got[0].records && got[i].bytes == got[0].bytes;
    if (!agree && op.n > q) {
        cl_call_many(cl, op.call + q, op.n - q, NULL, 0, NULL, NULL);
        for (size_t i = q; i < op.n; i++)
            n += cl_usage_parse(&op.call[i], &got[n]);
    }
    if (n < cl->quorum) {
        rc = OG_EQUORUM;
        goto out_end;
    }
    /* Replicas differ only when one missed writes (down, or a write acknowledged without it). The
     * value most primaries report is the state a quorum holds, as for a record read. Without a
     * majority (all differ), the largest: for a quota that refuses a write rather than letting one
     * past the limit, and for "is the container empty" it says no rather than yes. */
    for (size_t i = 0; i < n; i++) {
        size_t votes = 0;
        for (size_t j = 0; j < n; j++)
            votes += got[j].records == got[i].records && got[j].bytes == got[i].bytes;
        if (votes > best_votes)
            best = i, best_votes = votes, tie = 0;
        else if (votes == best_votes && (got[i].records != got[best].records || got[i].bytes != got[best].bytes))
            tie = 1;
    }
    if (tie) {
        for (size_t i = 0; i < n; i++) {
            out->records = got[i].records > out->records ? got[i].records : out->records;
            out->bytes = got[i].bytes > out->bytes ? got[i].bytes : out->bytes;
        }
    } else {
        *out = got[best];
    }
out_end:
    cl_op_end(&op);
    return rc;
}

void cluster_list_free(cluster_list_t *l)
{
    cl_list_mem_t *mem = l->_mem;
    if (mem) {
        for (size_t i = 0; i < mem->nbodies; i++)
            free(mem->bodies[i]);
        free(mem);
    }
    memset(l, 0, sizeof(*l));
}

#define TABLE_EACH_PAGE 1000

/* Calls fn(ctx, key, rec) for every live record of table, page by page. */
int cluster_table_each(cluster_t *cl, const char *table,
                       int (*fn)(void *ctx, og_str_t key, const og_rec_t *rec), void *ctx)
{
    char after[OG_KEY_MAX];
    size_t after_len = 0;
    cluster_list_t page;
    int rc;
    for (;;) {
        if ((rc = cluster_list(cl, table, (og_str_t){NULL, 0}, (og_str_t){after, after_len}, TABLE_EACH_PAGE,
                                  &page)) != 0)
            return rc;
        for (size_t i = 0; i < page.n && rc == 0; i++)
            rc = fn(ctx, page.entries[i].key, &page.entries[i].rec);
        int more = page.truncated && page.next_after.len <= sizeof(after);
        if (more) {
            memcpy(after, page.next_after.base, page.next_after.len);
            after_len = page.next_after.len;
        }
        cluster_list_free(&page);
        if (rc != 0 || !more)
            return rc;
    }
}
