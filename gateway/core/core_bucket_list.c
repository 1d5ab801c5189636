/*
 * core_bucket_list.c: listing sources over the cluster (core.h): an account's buckets, for Swift's
 * account listing and S3 ListBuckets alike, and a bucket's objects.
 *
 * An account's buckets are the records of the global table "buckets" it owns (a range scan
 * filtered by owner, O(all buckets) until step 4 of docs/architecture.md "Namespaces") and the
 * records of its own table "b.<account>" (containers whose name another account holds). The
 * source merges the two in key order; what one fetch returned stays in its holder until release.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "core.h"

typedef struct {
    cluster_t *cl;
    char account[64];
    char own[CORE_TABLE_CAP];
} acct_src_t;

/* One fetch's two lists and the merged entries handed out (slices of both). */
typedef struct {
    cluster_list_t l[2];
    cluster_list_entry_t *v;
} merged_t;

/* cluster_list of the global table, keeping the records account owns and those that do not
 * decode (whose owner is unknown: the listing's reader skips and reports them). Compacted in
 * place: the entries belong to the list, and next_after, the raw resume point, is untouched. */
static int global_fetch(acct_src_t *a, og_str_t prefix, og_str_t after, size_t limit, cluster_list_t *out)
{
    int rc = cluster_list(a->cl, CORE_BUCKETS_TABLE, prefix, after, limit, out);
    size_t k = 0;
    if (rc != 0)
        return rc;
    for (size_t i = 0; i < out->n; i++) {
        char owner[64];
        if (core_bucket_decode(&out->entries[i].rec, owner, sizeof(owner), NULL) != 0 ||
            strcmp(owner, a->account) == 0)
            out->entries[k++] = out->entries[i];
    }
    out->n = k;
    return 0;
}

/* The entries of both lists up to the lower resume point of a truncated one, at most limit (in
 * the nodes' key order: og_str_cmp). */
static void merge_lists(merged_t *m, size_t limit, cluster_list_t *out)
{
    size_t i = 0, j = 0, n = 0;
    og_str_t bound = {NULL, 0};
    int bounded = 0;
    for (int k = 0; k < 2; k++)
        if (m->l[k].truncated && (!bounded || og_str_cmp(m->l[k].next_after, bound) < 0))
            bound = m->l[k].next_after, bounded = 1;
    while (n < limit && (i < m->l[0].n || j < m->l[1].n)) {
        int c = i == m->l[0].n ? 1 : j == m->l[1].n ? -1 : og_str_cmp(m->l[0].entries[i].key, m->l[1].entries[j].key);
        cluster_list_entry_t *e = c <= 0 ? &m->l[0].entries[i] : &m->l[1].entries[j];
        if (bounded && og_str_cmp(e->key, bound) > 0)
            break;
        m->v[n++] = *e;
        i += c <= 0, j += c >= 0; /* one name in both tables: the global record (never written so) */
    }
    out->entries = m->v, out->n = n, out->_mem = m;
    out->truncated = bounded || i < m->l[0].n || j < m->l[1].n;
    out->next_after = n > 0 && (n == limit || !bounded) ? m->v[n - 1].key : bound;
}

static int acct_fetch(void *ctx, og_str_t prefix, og_str_t delim, og_str_t after, size_t limit, cluster_list_t *out)
{
    acct_src_t *a = ctx;
    merged_t *m = calloc(1, sizeof(*m));
    int rc = m == NULL ? -ENOMEM : global_fetch(a, prefix, after, limit, &m->l[0]);
    if (rc == 0 && (rc = cluster_list(a->cl, a->own, prefix, after, limit, &m->l[1])) != 0)
        cluster_list_free(&m->l[0]);
    if (rc == 0 && (m->v = malloc((m->l[0].n + m->l[1].n + 1) * sizeof(*m->v))) == NULL) {
        cluster_list_free(&m->l[0]);
        cluster_list_free(&m->l[1]);
        rc = -ENOMEM;
    }
    if (rc != 0) {
        free(m);
        return rc;
    }
    memset(out, 0, sizeof(*out));
    merge_lists(m, limit, out);
    return 0;
}

static void acct_release(void *ctx, cluster_list_t *l)
{
    merged_t *m = l->_mem;
    (void)ctx;
    cluster_list_free(&m->l[0]);
    cluster_list_free(&m->l[1]);
    free(m->v);
    free(m);
}

int core_bucket_source(cluster_t *cl, const char *account, core_walk_source_t *out)
{
    acct_src_t *a = calloc(1, sizeof(*a));
    if (a == NULL)
        return -ENOMEM;
    if (strlen(account) >= sizeof(a->account)) {
        free(a);
        return OG_EINVAL;
    }
    a->cl = cl;
    memcpy(a->account, account, strlen(account) + 1);
    core_table('b', account, a->own);
    *out = (core_walk_source_t){acct_fetch, acct_release, a, 0, 0};
    return 0;
}

void core_bucket_source_free(core_walk_source_t *src)
{
    free(src->ctx);
    src->ctx = NULL;
}

/* ---- a bucket's objects ---- */

static int obj_fetch(void *ctx, og_str_t prefix, og_str_t delim, og_str_t after, size_t limit, cluster_list_t *out)
{
    core_obj_source_t *s = ctx;
    size_t k = 0;
    int rc = cluster_list_grouped(s->cl, s->table, prefix, delim, after, limit, out);
    if (rc != 0)
        return rc;
    /* Compacting in place is safe: the entries array belongs to the list. */
    for (size_t i = 0; i < out->n; i++) {
        cluster_list_entry_t *e = &out->entries[i];
        core_meta_t m;
        int keep = core_meta_decode(&e->rec, &m) != 0 || !core_meta_expired(&m, s->now_s);
        core_meta_free(&m);
        if (keep) {
            out->entries[k++] = *e;
        } else if (e->group_cut) {
            /* The replicas skipped the rest of this entry's common prefix, where a live key may
             * be: the page ends here, and the walk reads on right after it. */
            out->truncated = 1;
            out->next_after = e->key;
            break;
        }
    }
    out->n = k;
    return 0;
}

static void obj_release(void *ctx, cluster_list_t *l) { cluster_list_free(l); }

core_walk_source_t core_obj_source(core_obj_source_t *s, cluster_t *cl, const char *bucket_id, uint64_t now_s)
{
    s->cl = cl;
    s->now_s = now_s;
    core_table('o', bucket_id, s->table);
    return (core_walk_source_t){obj_fetch, obj_release, s, 0, 1};
}
