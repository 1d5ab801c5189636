/*
 * admin_gc.c: `onggi-admin gc` (garbage collection of unreferenced chunks) and `onggi-admin
 * stats` (logical vs physical bytes). The design and its races are in docs/architecture.md,
 * "Garbage collection"; in short:
 *
 *   mark:  T0 = now. Every device of the ring must answer: its table names (GET /<dev>/tables),
 *          then, for every table holding chunk references (o.* objects and manifests, v.* versions,
 *          u.* multipart uploads), every record the device holds (its own copy, not a quorum view:
 *          a record only one replica has may still become visible through read repair), and the
 *          chunk list of each non-tombstone record joins the live set. Any failure aborts the run
 *          before anything is deleted.
 *   sweep: per device, every chunk it indexes that is not in the live set is deleted with
 *          DELETE ...?older_than=T0-grace: the node refuses (409) when the chunk was written,
 *          written again or touched since then, which covers uploads and copies that commit
 *          after their table was marked. A device that fails during the sweep is reported and
 *          skipped; it keeps its chunks until the next run.
 *
 * Both run from this process alone, in the background of normal traffic; nothing is locked.
 */
#include "admin.h"

#include "cluster/cluster.h"
#include "core/core.h"
#include "node_client.h"
#include "ring.h"

#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define GC_PAGE 1000     /* keys or chunks per listing request */
#define GC_PARALLEL 32   /* record reads or deletes in flight per device */
#define GC_TABLE_MAX 255

/* Tables whose records are core_meta_t with chunk references: objects (S3 and Swift, manifests
 * included), every version of a versioned bucket's objects, and in-progress multipart uploads. A new kind of table that references chunks must
 * be added here, or its chunks will be collected. */
static const char *const gc_ref_prefixes[] = {"o.", "u.", "v."};

static int gc_refs_table(const char *t)
{
    for (size_t i = 0; i < sizeof(gc_ref_prefixes) / sizeof(gc_ref_prefixes[0]); i++)
        if (strncmp(t, gc_ref_prefixes[i], 2) == 0)
            return 1;
    return 0;
}

/* ---- a set of chunk ids (open addressing; ids are SHA-256, so their first bytes hash well) ---- */

typedef struct {
    uint8_t id[32];
    uint32_t len;
    uint8_t used;
} idset_slot_t;

typedef struct {
    idset_slot_t *s;
    size_t cap, n;
} idset_t;

static uint64_t idset_hash(const uint8_t *id)
{
    uint64_t h;
    memcpy(&h, id, sizeof(h));
    return h;
}

static int idset_grow(idset_t *set)
{
    size_t ncap = set->cap ? set->cap * 2 : 4096;
    idset_slot_t *ns = calloc(ncap, sizeof(*ns));
    if (!ns)
        return -ENOMEM;
    for (size_t i = 0; i < set->cap; i++) {
        if (!set->s[i].used)
            continue;
        size_t j = idset_hash(set->s[i].id) & (ncap - 1);
        while (ns[j].used)
            j = (j + 1) & (ncap - 1);
        ns[j] = set->s[i];
    }
    free(set->s);
    set->s = ns;
    set->cap = ncap;
    return 0;
}

/* 1 added, 0 already there, -ENOMEM. */
static int idset_add(idset_t *set, const uint8_t *id, uint32_t len)
{
    if (2 * (set->n + 1) > set->cap && idset_grow(set) != 0)
        return -ENOMEM;
    size_t j = idset_hash(id) & (set->cap - 1);
    while (set->s[j].used) {
        if (memcmp(set->s[j].id, id, 32) == 0)
            return 0;
        j = (j + 1) & (set->cap - 1);
    }
    memcpy(set->s[j].id, id, 32);
    set->s[j].len = len;
    set->s[j].used = 1;
    set->n++;
    return 1;
}

static int idset_has(const idset_t *set, const uint8_t *id)
{
    if (set->cap == 0)
        return 0;
    size_t j = idset_hash(id) & (set->cap - 1);
    while (set->s[j].used) {
        if (memcmp(set->s[j].id, id, 32) == 0)
            return 1;
        j = (j + 1) & (set->cap - 1);
    }
    return 0;
}

static void idset_free(idset_t *set)
{
    free(set->s);
    memset(set, 0, sizeof(*set));
}

/* ---- talking to one device ---- */

typedef struct {
    ring_t *ring;
    node_client_t *client;
} gc_ctx_t;

/* GET a device path; 0 with c->resp_body (caller frees) on 200, else an error code. */
static int gc_get(gc_ctx_t *g, const ring_dev_t *d, const char *path, node_call_t *c)
{
    *c = (node_call_t){.addr = d->addr, .method = "GET", .path = path};
    node_call(g->client, c);
    if (c->rc != 0)
        return c->rc;
    if (c->status != 200) {
        free(c->resp_body);
        c->resp_body = NULL;
        return NODE_ESTATUS;
    }
    return 0;
}

/* Table names over all devices, sorted and unique, into *out (array of malloc'd strings).
 * Every device must answer. 0, or an error with *bad the device that failed. */
static int gc_tables(gc_ctx_t *g, char ***out, size_t *n, const ring_dev_t **bad)
{
    char path[1 + RING_NAME_MAX + 16];
    char **t = NULL;
    size_t nt = 0, cap = 0;
    int rc = 0;
    for (size_t i = 0; i < ring_dev_count(g->ring) && rc == 0; i++) {
        const ring_dev_t *d = ring_dev_at(g->ring, i);
        node_call_t c;
        snprintf(path, sizeof(path), "/%s/tables", d->name);
        if ((rc = gc_get(g, d, path, &c)) != 0) {
            *bad = d;
            break;
        }
        for (char *p = c.resp_body, *end = c.resp_body + c.resp_len; p < end && rc == 0;) {
            char *nl = memchr(p, '\n', (size_t)(end - p));
            size_t len = nl ? (size_t)(nl - p) : (size_t)(end - p);
            size_t k;
            for (k = 0; k < nt && !(strlen(t[k]) == len && memcmp(t[k], p, len) == 0); k++)
                ;
            if (k == nt && len > 0) {
                if (nt == cap) {
                    char **nn = realloc(t, (cap = cap ? 2 * cap : 64) * sizeof(*nn));
                    if (!nn) {
                        rc = -ENOMEM;
                        break;
                    }
                    t = nn;
                }
                if (!(t[nt] = strndup(p, len))) {
                    rc = -ENOMEM;
                    break;
                }
                nt++;
            }
            p += len + 1;
        }
        free(c.resp_body);
    }
    if (rc != 0) {
        for (size_t k = 0; k < nt; k++)
            free(t[k]);
        free(t);
        return rc;
    }
    *out = t;
    *n = nt;
    return 0;
}

static void gc_tables_free(char **t, size_t n)
{
    for (size_t k = 0; k < n; k++)
        free(t[k]);
    free(t);
}

/* Adds the chunk references of a record body to live (tombstones and inline objects add none).
 * 0, OG_EPROTO (not a core_meta_t record: its references cannot be known) or -ENOMEM. */
static int gc_mark_record(idset_t *live, const char *body, size_t len)
{
    og_rec_t rec;
    core_meta_t m;
    int rc;
    if (og_rec_decode(body, len, &rec) != 0)
        return OG_EPROTO;
    if (rec.flags & OG_REC_TOMBSTONE)
        return 0;
    if (core_meta_decode(&rec, &m) != 0)
        return OG_EPROTO;
    rc = 0;
    for (size_t i = 0; i < m.num_chunks && rc >= 0; i++)
        rc = idset_add(live, m.chunks[i].id, m.chunks[i].len);
    core_meta_free(&m);
    return rc < 0 ? rc : 0;
}

/* Marks every record of table that device d holds. 0 or an error (the mark is then incomplete). */
static int gc_mark_device_table(gc_ctx_t *g, const ring_dev_t *d, const char *table, idset_t *live, size_t *nrec)
{
    enum { PATH_MAX_LEN = 1 + RING_NAME_MAX + 16 + GC_TABLE_MAX + 3 * 1024 + 64 };
    char *after = NULL, (*paths)[PATH_MAX_LEN] = calloc(GC_PARALLEL + 1, sizeof(*paths));
    size_t after_len = 0;
    node_call_t calls[GC_PARALLEL];
    int rc = 0, truncated = 1;

    if (!paths)
        return -ENOMEM;
    while (truncated && rc == 0) {
        node_call_t lc;
        char *lp = paths[GC_PARALLEL];
        int n = snprintf(lp, PATH_MAX_LEN, "/%s/list/%s?limit=%d", d->name, table, GC_PAGE);
        if (after) {
            n += snprintf(lp + n, PATH_MAX_LEN - (size_t)n, "&after=");
            og_urlencode(after, after_len, lp + n, PATH_MAX_LEN - (size_t)n, 0);
        }
        if ((rc = gc_get(g, d, lp, &lc)) != 0)
            break;
        truncated = lc.truncated;
        const unsigned char *p = (const unsigned char *)lc.resp_body, *end = p + lc.resp_len;
        size_t ncalls = 0;
        while (rc == 0 && (p < end || ncalls > 0)) {
            if (p < end) {
                /* entry: u32 keylen | key | record (common/og_rec.h) */
                if (end - p < 4 || (size_t)(end - p) - 4 < og_be32_get(p)) {
                    rc = OG_EPROTO;
                    break;
                }
                size_t klen = og_be32_get(p);
                const unsigned char *key = p + 4, *r = key + klen;
                long rlen = og_rec_frame_len(r, (size_t)(end - r));
                if (rlen < 0) {
                    rc = OG_EPROTO;
                    break;
                }
                p = r + rlen;
                free(after);
                if (!(after = malloc(klen ? klen : 1))) {
                    rc = -ENOMEM;
                    break;
                }
                memcpy(after, key, klen);
                after_len = klen;
                if (r[1] & OG_REC_TOMBSTONE)
                    continue; /* deleted: references nothing */
                int m = snprintf(paths[ncalls], PATH_MAX_LEN, "/%s/rec/%s/", d->name, table);
                if (og_urlencode((const char *)key, klen, paths[ncalls] + m, PATH_MAX_LEN - (size_t)m, 0) < 0) {
                    rc = OG_EPROTO;
                    break;
                }
                calls[ncalls] = (node_call_t){.addr = d->addr, .method = "GET", .path = paths[ncalls],
                                              .resp_cap = OG_REC_MAX_LEN};
                ncalls++;
                if (ncalls < GC_PARALLEL && p < end)
                    continue;
            }
            node_call_many(g->client, calls, ncalls);
            for (size_t i = 0; i < ncalls; i++) {
                if (rc == 0) {
                    if (calls[i].rc != 0)
                        rc = calls[i].rc;
                    else if (calls[i].status == 200)
                        rc = gc_mark_record(live, calls[i].resp_body, calls[i].resp_len);
                    else if (calls[i].status != 404)
                        rc = NODE_ESTATUS;
                    *nrec += rc == 0;
                }
                free(calls[i].resp_body);
            }
            ncalls = 0;
        }
        free(lc.resp_body);
    }
    free(after);
    free(paths);
    return rc;
}

typedef struct {
    size_t seen, deleted, recent, failed;
    uint64_t freed_bytes;
} gc_sweep_t;

/* Deletes the chunks of device d not in live and not referenced since cutoff_ns. 0, or an
 * error when the device stopped answering (what was done is in *st). */
static int gc_sweep_device(gc_ctx_t *g, const ring_dev_t *d, const idset_t *live, uint64_t cutoff_ns, int dry_run,
                           gc_sweep_t *st)
{
    enum { DPATH = 1 + RING_NAME_MAX + 8 + 64 + 40 };
    char lp[1 + RING_NAME_MAX + 128], after[65] = "", (*paths)[DPATH] = calloc(GC_PARALLEL, sizeof(*paths));
    uint32_t lens[GC_PARALLEL];
    node_call_t calls[GC_PARALLEL];
    int rc = 0, truncated = 1;

    if (!paths)
        return -ENOMEM;
    while (truncated && rc == 0) {
        node_call_t lc;
        snprintf(lp, sizeof(lp), "/%s/chunks?limit=%d%s%s", d->name, GC_PAGE, after[0] ? "&after=" : "", after);
        if ((rc = gc_get(g, d, lp, &lc)) != 0)
            break;
        truncated = lc.truncated;
        size_t ncalls = 0;
        char *p = lc.resp_body, *end = p + lc.resp_len;
        while (rc == 0 && (p < end || ncalls > 0)) {
            if (p < end) {
                uint8_t id[32];
                char *nl = memchr(p, '\n', (size_t)(end - p));
                if (!nl || nl - p < 66 || p[64] != ' ' || og_unhex(p, 64, id, 32) != 0) {
                    rc = OG_EPROTO;
                    break;
                }
                uint32_t len = (uint32_t)strtoul(p + 65, NULL, 10);
                memcpy(after, p, 64);
                after[64] = '\0';
                p = nl + 1;
                st->seen++;
                if (idset_has(live, id))
                    continue;
                if (dry_run) {
                    st->deleted++;
                    st->freed_bytes += len;
                    continue;
                }
                snprintf(paths[ncalls], DPATH, "/%s/chunk/%.64s?older_than=%" PRIu64, d->name, after, cutoff_ns);
                calls[ncalls] = (node_call_t){.addr = d->addr, .method = "DELETE", .path = paths[ncalls]};
                lens[ncalls++] = len;
                if (ncalls < GC_PARALLEL && p < end)
                    continue;
            }
            node_call_many(g->client, calls, ncalls);
            for (size_t i = 0; i < ncalls; i++) {
                if (calls[i].rc == 0 && calls[i].status == 204) {
                    st->deleted++;
                    st->freed_bytes += lens[i];
                } else if (calls[i].rc == 0 && calls[i].status == 409) {
                    st->recent++;
                } else if (calls[i].rc == 0 && calls[i].status == 404) {
                    /* deleted meanwhile (another gc run): nothing to do */
                } else {
                    st->failed++;
                    if (calls[i].rc != 0)
                        rc = calls[i].rc;
                }
                free(calls[i].resp_body);
            }
            ncalls = 0;
        }
        free(lc.resp_body);
    }
    free(paths);
    return rc;
}

static int gc_open(const char *ring_path, const char *keys_path, gc_ctx_t *g)
{
    int rc;
    memset(g, 0, sizeof(*g));
    if ((rc = ring_load(ring_path, &g->ring)) != 0)
        return rc;
    if (!(g->client = admin_client_new(ring_path, keys_path, GC_PARALLEL))) {
        ring_free(g->ring);
        return OG_EINVAL;
    }
    return 0;
}

static void gc_close(gc_ctx_t *g)
{
    node_client_free(g->client);
    ring_free(g->ring);
}

int admin_gc(const admin_opts_t *a, int argc, char **argv)
{
    uint64_t grace_s = GC_DEFAULT_GRACE_S;
    int dry_run = 0, ret = 1, rc;
    gc_ctx_t g;
    char **tables = NULL;
    size_t ntables = 0, nrec = 0;
    idset_t live = {0};
    const ring_dev_t *bad = NULL;

    for (int i = 0; i < argc; i++) {
        char *end;
        if (strcmp(argv[i], "--dry-run") == 0) {
            dry_run = 1;
        } else if (strcmp(argv[i], "--grace") == 0 && i + 1 < argc) {
            grace_s = strtoull(argv[++i], &end, 10);
            if (*end != '\0' || argv[i][0] == '-' || argv[i][0] == '\0')
                return admin_usage();
        } else {
            return admin_usage();
        }
    }
    if ((rc = gc_open(a->ring, a->keys, &g)) != 0)
        return admin_fail(a->ring, rc);
    /* The cutoff is taken BEFORE the mark reads anything: whatever commits after its table was
     * read wrote or touched its chunks after this instant, so the sweep leaves them alone. */
    uint64_t t0 = og_time_ns(), cutoff = t0 - grace_s * 1000000000ull;
    if (grace_s * 1000000000ull > t0)
        cutoff = 0;

    if ((rc = gc_tables(&g, &tables, &ntables, &bad)) != 0) {
        fprintf(stderr, "onggi-admin: gc: device %s/%s: %s; nothing deleted\n", bad ? bad->addr : "?",
                bad ? bad->name : "?", admin_strerror(rc));
        goto out_close;
    }
    for (size_t i = 0; i < ring_dev_count(g.ring); i++) {
        const ring_dev_t *d = ring_dev_at(g.ring, i);
        for (size_t t = 0; t < ntables; t++) {
            admin_progress(a, "gc mark ", i * ntables + t, ring_dev_count(g.ring) * ntables);
            if (!gc_refs_table(tables[t]))
                continue;
            if ((rc = gc_mark_device_table(&g, d, tables[t], &live, &nrec)) != 0) {
                admin_progress_end(a);
                fprintf(stderr, "onggi-admin: gc: mark of table %s on %s/%s failed: %s; nothing deleted\n",
                        tables[t], d->addr, d->name, admin_strerror(rc));
                goto out_free;
            }
        }
    }
    admin_progress_end(a);
    printf("mark: %zu record copies, %zu live chunks\n", nrec, live.n);
    ret = 0;
    for (size_t i = 0; i < ring_dev_count(g.ring); i++) {
        const ring_dev_t *d = ring_dev_at(g.ring, i);
        gc_sweep_t st = {0};
        admin_progress(a, "gc sweep", i, ring_dev_count(g.ring));
        rc = gc_sweep_device(&g, d, &live, cutoff, dry_run, &st);
        admin_progress_end(a);
        printf("sweep %s/%s: %zu chunks, %s %zu (%" PRIu64 " bytes), kept %zu referenced since the cutoff, "
               "%zu failed%s%s\n",
               d->addr, d->name, st.seen, dry_run ? "would delete" : "deleted", st.deleted, st.freed_bytes,
               st.recent, st.failed, rc ? ": " : "", rc ? admin_strerror(rc) : "");
        if (rc != 0 || st.failed)
            ret = 1; /* that device keeps its garbage until the next run */
    }
out_free:
    idset_free(&live);
    gc_tables_free(tables, ntables);
out_close:
    gc_close(&g);
    return ret;
}

/* ---- stats ---- */

typedef struct {
    char account[64];
    uint64_t objects, logical;
    idset_t chunks; /* distinct chunks this account's objects reference */
    uint64_t chunk_bytes, inline_bytes;
} acct_stat_t;

typedef struct {
    acct_stat_t *a;
    size_t n, cap;
} acct_list_t;

static acct_stat_t *acct_find(acct_list_t *l, og_str_t owner)
{
    for (size_t i = 0; i < l->n; i++)
        if (og_str_eq(owner, l->a[i].account))
            return &l->a[i];
    if (l->n == l->cap) {
        size_t ncap = l->cap ? 2 * l->cap : 16;
        acct_stat_t *na = realloc(l->a, ncap * sizeof(*na));
        if (!na)
            return NULL;
        l->a = na;
        l->cap = ncap;
    }
    acct_stat_t *s = &l->a[l->n++];
    memset(s, 0, sizeof(*s));
    snprintf(s->account, sizeof(s->account), "%.*s", (int)owner.len, owner.base);
    return s;
}

/* Adds m's chunks to set, adding the bytes of chunks new to it to *bytes. 0 or -ENOMEM. */
static int stats_add_chunks(idset_t *set, const core_meta_t *m, uint64_t *bytes)
{
    for (size_t i = 0; i < m->num_chunks; i++) {
        int rc = idset_add(set, m->chunks[i].id, m->chunks[i].len);
        if (rc < 0)
            return rc;
        if (rc == 1)
            *bytes += m->chunks[i].len;
    }
    return 0;
}

/* Walks the live records of one table (quorum view) into the totals. */
static int stats_table(cluster_t *cl, const char *table, int is_object, acct_list_t *accts, idset_t *all,
                       uint64_t *all_bytes, uint64_t *upload_refs)
{
    og_str_t after = {NULL, 0};
    char *after_buf = NULL;
    int rc = 0, more = 1;
    while (more && rc == 0) {
        cluster_list_t l;
        if ((rc = cluster_list(cl, table, (og_str_t){NULL, 0}, after, GC_PAGE, &l)) != 0)
            break;
        for (size_t i = 0; i < l.n && rc == 0; i++) {
            og_rec_t rec;
            core_meta_t m;
            char *buf;
            rc = cluster_rec_get(cl, table, l.entries[i].key, &rec, &buf);
            if (rc == OG_ENOTFOUND) {
                rc = 0;
                continue;
            }
            if (rc != 0)
                break;
            if (!(rec.flags & OG_REC_TOMBSTONE) && (rc = core_meta_decode(&rec, &m)) == 0) {
                if ((rc = stats_add_chunks(all, &m, all_bytes)) == 0 && is_object) {
                    acct_stat_t *a = acct_find(accts, m.owner);
                    if (!a) {
                        rc = -ENOMEM;
                    } else {
                        a->objects++;
                        a->logical += m.size;
                        a->inline_bytes += m.inline_data.len;
                        rc = stats_add_chunks(&a->chunks, &m, &a->chunk_bytes);
                    }
                } else if (rc == 0) {
                    *upload_refs += m.num_chunks;
                }
                core_meta_free(&m);
            }
            free(buf);
        }
        more = l.truncated;
        if (more) {
            char *nb = malloc(l.next_after.len ? l.next_after.len : 1);
            if (!nb) {
                rc = -ENOMEM;
            } else {
                memcpy(nb, l.next_after.base, l.next_after.len);
                free(after_buf);
                after_buf = nb;
                after = (og_str_t){nb, l.next_after.len};
            }
        }
        cluster_list_free(&l);
    }
    free(after_buf);
    return rc;
}

/* A JSON number field of a /stat answer (0 when absent). */
static uint64_t stats_field(const char *json, const char *name)
{
    char pat[40];
    snprintf(pat, sizeof(pat), "\"%s\":", name);
    const char *p = strstr(json, pat);
    return p ? strtoull(p + strlen(pat), NULL, 10) : 0;
}

/* Chunk bytes indexed on every device (all replicas), and the blocks their volumes occupy on disk,
 * from GET /<dev>/stat. */
static int stats_physical(gc_ctx_t *g, uint64_t *bytes, uint64_t *chunks, uint64_t *allocated, uint64_t *dead)
{
    char path[1 + RING_NAME_MAX + 8];
    *bytes = *chunks = *allocated = *dead = 0;
    for (size_t i = 0; i < ring_dev_count(g->ring); i++) {
        const ring_dev_t *d = ring_dev_at(g->ring, i);
        node_call_t c;
        int rc;
        snprintf(path, sizeof(path), "/%s/stat", d->name);
        if ((rc = gc_get(g, d, path, &c)) != 0)
            return rc;
        /* The body is not NUL-terminated: parse a bounded copy of the (short) JSON. */
        char json[512];
        size_t n = c.resp_len < sizeof(json) - 1 ? c.resp_len : sizeof(json) - 1;
        memcpy(json, c.resp_body ? c.resp_body : "", n);
        json[n] = '\0';
        *bytes += stats_field(json, "chunk_bytes");
        *chunks += stats_field(json, "chunks");
        *allocated += stats_field(json, "allocated_bytes");
        *dead += stats_field(json, "dead_bytes");
        free(c.resp_body);
    }
    return 0;
}

typedef struct {
    uint64_t referenced_bytes, referenced_chunks, upload_refs; /* of the objects and uploads walked */
    uint64_t chunk_bytes, chunks, allocated, dead;             /* on the devices (every replica) */
} stats_phys_t;

static double ratio(uint64_t a, uint64_t b, double if_zero)
{
    return b ? (double)a / (double)b : if_zero;
}

/* The figures of every account (or only `only`) and, without `only`, the totals, as JSON. */
static json_t *stats_json(const ring_t *ring, const acct_list_t *accts, const char *only, const stats_phys_t *p)
{
    uint64_t objects = 0, logical = 0, inl = 0, r = ring_replica_count(ring);
    json_t *list = json_array(), *j;
    for (size_t i = 0; list && i < accts->n; i++) {
        const acct_stat_t *a = &accts->a[i];
        objects += a->objects, logical += a->logical, inl += a->inline_bytes;
        if (only && strcmp(only, a->account) != 0)
            continue;
        uint64_t stored = a->chunk_bytes + a->inline_bytes;
        json_array_append_new(list, json_pack("{s:s, s:I, s:I, s:I, s:f}", "account", a->account, "objects",
                                              (json_int_t)a->objects, "logical_bytes", (json_int_t)a->logical,
                                              "unique_bytes", (json_int_t)stored, "dedup_ratio",
                                              ratio(a->logical, stored, 1.0)));
    }
    if (only != NULL)
        return json_pack("{s:o}", "accounts", list);
    uint64_t unique = p->referenced_bytes + inl, needed = p->referenced_bytes * r;
    j = json_pack("{s:o, s:{s:I, s:I, s:I, s:I, s:f}}", "accounts", list, "total", "objects", (json_int_t)objects,
                  "logical_bytes", (json_int_t)logical, "unique_bytes", (json_int_t)unique, "inline_bytes",
                  (json_int_t)inl, "dedup_ratio", ratio(logical, unique, 1.0));
    json_object_set_new(j, "physical",
                        json_pack("{s:I, s:I, s:I, s:I, s:I, s:I, s:f}", "chunk_bytes", (json_int_t)p->chunk_bytes,
                                  "chunks", (json_int_t)p->chunks, "replicas", (json_int_t)r, "referenced_chunk_bytes",
                                  (json_int_t)p->referenced_bytes, "referenced_chunks",
                                  (json_int_t)p->referenced_chunks, "upload_chunk_refs", (json_int_t)p->upload_refs,
                                  "physical_over_needed", ratio(p->chunk_bytes, needed, p->chunk_bytes ? 0.0 : 1.0)));
    /* Disk blocks the volumes hold (deleted chunks are punched out: docs/architecture.md). */
    json_object_set_new(j, "disk", json_pack("{s:I, s:I, s:f}", "allocated_bytes", (json_int_t)p->allocated,
                                             "dead_bytes", (json_int_t)p->dead, "allocated_over_needed",
                                             ratio(p->allocated, needed, 0.0)));
    return j;
}

/* Prints the figures as JSON or as the text lines. 0, or 1 when memory ran out. */
static int stats_print(const admin_opts_t *o, const ring_t *ring, const acct_list_t *accts, const char *only,
                       const stats_phys_t *p)
{
    json_t *j = stats_json(ring, accts, only, p), *acct;
    size_t i;
    if (j == NULL)
        return admin_fail("stats", -ENOMEM);
    if (o->json)
        return admin_json_print(j);
    json_array_foreach(json_object_get(j, "accounts"), i, acct)
    {
        printf("account %s", json_string_value(json_object_get(acct, "account")));
        admin_print_fields(acct, " ", 1);
    }
    if (only == NULL) {
        printf("total"), admin_print_fields(json_object_get(j, "total"), " ", 0);
        printf("physical"), admin_print_fields(json_object_get(j, "physical"), " ", 0);
        printf("disk"), admin_print_fields(json_object_get(j, "disk"), " ", 0);
    }
    json_decref(j);
    return 0;
}

int admin_stats(const admin_opts_t *o, int argc, char **argv)
{
    const char *only = NULL;
    gc_ctx_t g;
    cluster_t *cl = NULL;
    char **tables = NULL;
    size_t ntables = 0;
    const ring_dev_t *bad = NULL;
    acct_list_t accts = {0};
    idset_t all = {0};
    uint64_t all_bytes = 0, upload_refs = 0, phys = 0, phys_chunks = 0, allocated = 0, dead = 0;
    int rc, ret = 1;

    if (argc == 2 && strcmp(argv[0], "--account") == 0)
        only = argv[1];
    else if (argc != 0)
        return admin_usage();
    if ((rc = gc_open(o->ring, o->keys, &g)) != 0)
        return admin_fail(o->ring, rc);
    if ((rc = cluster_open(o->ring, o->keys, ADMIN_TIMEOUT_MS, &cl)) != 0) {
        admin_fail(o->ring, rc);
        goto out_close;
    }
    if ((rc = gc_tables(&g, &tables, &ntables, &bad)) != 0) {
        fprintf(stderr, "onggi-admin: stats: device %s/%s: %s\n", bad ? bad->addr : "?", bad ? bad->name : "?",
                admin_strerror(rc));
        goto out_close;
    }
    for (size_t t = 0; t < ntables; t++) {
        if (!gc_refs_table(tables[t]))
            continue;
        if ((rc = stats_table(cl, tables[t], tables[t][0] == 'o', &accts, &all, &all_bytes, &upload_refs)) != 0) {
            admin_fail(tables[t], rc);
            goto out_free;
        }
    }
    if ((rc = stats_physical(&g, &phys, &phys_chunks, &allocated, &dead)) != 0) {
        admin_fail("stats: device stat", rc);
        goto out_free;
    }
    ret = stats_print(o, g.ring, &accts, only, &(stats_phys_t){all_bytes, all.n, upload_refs, phys, phys_chunks,
                                                              allocated, dead});
out_free:
    for (size_t i = 0; i < accts.n; i++)
        idset_free(&accts.a[i].chunks);
    free(accts.a);
    idset_free(&all);
    gc_tables_free(tables, ntables);
out_close:
    cluster_close(cl);
    gc_close(&g);
    return ret;
}
