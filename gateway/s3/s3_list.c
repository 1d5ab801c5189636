/*
 * S3 listings: ListBuckets, ListObjects (v1) and ListObjectsV2. Grouping and pagination are
 * core_walk() (s3_xml.c); this file reads the query, runs the walk over the bucket's
 * record table and writes the XML. The router (s3_route.c) has already authenticated the caller
 * and, for object listings, checked that the bucket exists and is theirs. A Swift SLO lists with
 * its total size and s3api's ETag for it (both in the record's summary); a DLO lists as its
 * manifest object, as in s3api (whose listing is Swift's container listing).
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>

#include "s3_int.h"
#include "s3_xml.h"

#define S3_XMLNS "http://s3.amazonaws.com/doc/2006-03-01/"

/* ---------------------------------------------------------------- ListBuckets */

void s3_list_buckets(s3_req_t *r)
{
    og_buf_t b = {0}, after = {0};
    const char *account = r->user.account;
    int rc = 0, more = 1;

    og_buf_puts(&b, "<ListAllMyBucketsResult xmlns=\"" S3_XMLNS "\"><Owner>");
    og_buf_elem(&b, "ID", account, strlen(account));
    og_buf_elem(&b, "DisplayName", r->user.display_name, strlen(r->user.display_name));
    og_buf_puts(&b, "</Owner><Buckets>");
    /* Bucket names are the keys of table "buckets": the listing comes out sorted by name. */
    while (more && rc == 0) {
        cluster_list_t l;
        if ((rc = cluster_list(r->gw->cluster, "buckets", (og_str_t){NULL, 0}, (og_str_t){after.buf, after.len},
                                  S3_PAGE_LIMIT, &l)) != 0)
            break;
        for (size_t i = 0; i < l.n && rc == 0; i++) {
            char owner[sizeof(r->user.account)], created[32];
            uint64_t created_ns;
            if (core_bucket_decode(&l.entries[i].rec, owner, sizeof(owner), &created_ns) != 0) {
                /* Its owner is unknown: left out (and logged) rather than failing every account's
                 * listing on one bad record of the global table. */
                http_log_skip(r->request_id, "bucket", l.entries[i].key, "its record does not decode");
                continue;
            }
            if (strcmp(owner, account) != 0)
                continue;
            http_iso8601_format(created_ns, created);
            og_buf_puts(&b, "<Bucket>");
            og_buf_elem(&b, "Name", l.entries[i].key.base, l.entries[i].key.len);
            og_buf_elem(&b, "CreationDate", created, strlen(created));
            og_buf_puts(&b, "</Bucket>");
        }
        more = l.truncated;
        after.len = 0;
        if (more)
            og_buf_put(&after, l.next_after.base, l.next_after.len);
        cluster_list_free(&l);
    }
    og_buf_puts(&b, "</Buckets></ListAllMyBucketsResult>");
    if (rc == 0 && (b.oom || after.oom))
        rc = -ENOMEM;
    if (rc != 0)
        s3_error_rc(r, rc);
    else
        s3_send_xml(r, 200, NULL, 0, b.buf, b.len);
    og_buf_free(&after);
    og_buf_free(&b);
}

/* ---------------------------------------------------------------- ListObjects (v1, v2) */

typedef struct {
    og_buf_t prefix, delimiter, marker, token, start_after, max_keys, encoding, fetch_owner;
    int has_marker, has_token, has_start_after, has_max_keys, has_encoding, has_fetch_owner;
} list_query_t;

static void list_query_free(list_query_t *q)
{
    og_buf_free(&q->prefix);
    og_buf_free(&q->delimiter);
    og_buf_free(&q->marker);
    og_buf_free(&q->token);
    og_buf_free(&q->start_after);
    og_buf_free(&q->max_keys);
    og_buf_free(&q->encoding);
    og_buf_free(&q->fetch_owner);
}

static og_str_t xstr(const og_buf_t *b) { return (og_str_t){b->buf, b->len}; }

/* Keys cannot hold a NUL (the nodes refuse one in a listing bound), so a prefix, delimiter or
 * start key with one is the caller's error, not an unreachable cluster's. */
static int has_nul(const og_buf_t *b) { return b->len > 0 && memchr(b->buf, '\0', b->len) != NULL; }

/* Reads every listing parameter. 0, OG_EINVAL (not correctly percent-encoded), or an
 * http_query_decode code. */
static int list_query_read(s3_req_t *r, list_query_t *q)
{
    struct {
        const char *name;
        og_buf_t *buf;
        int *present;
    } params[] = {
        {"prefix", &q->prefix, NULL},
        {"delimiter", &q->delimiter, NULL},
        {"marker", &q->marker, &q->has_marker},
        {"continuation-token", &q->token, &q->has_token},
        {"start-after", &q->start_after, &q->has_start_after},
        {"max-keys", &q->max_keys, &q->has_max_keys},
        {"encoding-type", &q->encoding, &q->has_encoding},
        {"fetch-owner", &q->fetch_owner, &q->has_fetch_owner},
    };
    for (size_t i = 0; i < sizeof(params) / sizeof(params[0]); i++) {
        int rc = http_query_decode(r->info->query, params[i].name, params[i].buf);
        if (rc < 0)
            return rc;
        if (params[i].present != NULL)
            *params[i].present = rc;
    }
    return 0;
}

/* max-keys: a non-negative decimal; values over the cap mean the cap (as S3 does). */
static int parse_max_keys(og_str_t v, size_t *out)
{
    size_t n = 0;
    if (v.len == 0)
        return OG_EINVAL;
    for (size_t i = 0; i < v.len; i++) {
        if (v.base[i] < '0' || v.base[i] > '9')
            return OG_EINVAL;
        n = n * 10 + (size_t)(v.base[i] - '0');
        if (n > S3_LIST_MAX)
            n = S3_LIST_MAX; /* saturate: later digits only make it bigger */
    }
    *out = n;
    return 0;
}

/* core_walk_source_t over one bucket's record table, without the objects past their Swift
 * X-Delete-At at now_s (as Swift listings; the expiry is in the summary, so no extra read). */
typedef struct {
    cluster_t *cluster;
    const char *table;
    uint64_t now_s;
} table_source_t;

static int table_fetch(void *ctx, og_str_t prefix, og_str_t after, size_t limit, cluster_list_t *out)
{
    table_source_t *t = ctx;
    size_t k = 0;
    int rc = cluster_list(t->cluster, t->table, prefix, after, limit, out);
    if (rc != 0)
        return rc;
    /* Compacting in place is safe: the entries array belongs to the list, and next_after (the
     * raw resume point the walk continues from) is untouched. An entry that does not decode is
     * kept so that rendering reports it as corrupt instead of hiding it. */
    for (size_t i = 0; i < out->n; i++) {
        core_meta_t m;
        int keep = core_meta_decode(&out->entries[i].rec, &m) != 0 || !core_meta_expired(&m, t->now_s);
        core_meta_free(&m);
        if (keep)
            out->entries[k++] = out->entries[i];
    }
    out->n = k;
    return 0;
}

static void table_release(void *ctx, cluster_list_t *l) { cluster_list_free(l); }

/* Writing one listing document. */
typedef struct {
    s3_req_t *r;
    og_buf_t *b;
    int url;     /* encoding-type=url */
    char *tmp;   /* scratch for URL-encoded values */
    size_t tmpcap;
} render_t;

/* <name>value</name>, URL-encoded first when the client asked for encoding-type=url. */
static void put_value(render_t *x, const char *name, og_str_t v)
{
    if (!x->url) {
        og_buf_elem(x->b, name, v.base, v.len);
        return;
    }
    size_t need = 3 * v.len + 1; /* every byte may become %XX */
    if (need > x->tmpcap) {
        char *nt = realloc(x->tmp, need);
        if (nt == NULL) {
            x->b->oom = 1;
            return;
        }
        x->tmp = nt, x->tmpcap = need;
    }
    long n = og_urlencode(v.base, v.len, x->tmp, x->tmpcap, 1);
    if (n < 0) {
        x->b->oom = 1;
        return;
    }
    og_buf_elem(x->b, name, x->tmp, (size_t)n);
}

/* One <Contents> entry. A stored summary that does not decode is left out and logged: one bad
 * record must not make the whole bucket unlistable. */
static void put_contents(render_t *x, const core_walk_item_t *it, int with_owner)
{
    og_rec_t rec = {.summary = it->summary};
    core_meta_t m;
    char etag[48], mtime[32];
    if (core_meta_decode(&rec, &m) != 0) {
        http_log_skip(x->r->request_id, "object", it->key, "its record does not decode");
        return;
    }
    int slo = (m.flags & CORE_META_SLO) != 0;
    size_t elen = slo ? core_slo_s3_etag(&m, etag) : core_meta_etag(&m, etag);
    http_iso8601_format(m.mtime_ns, mtime);
    og_buf_puts(x->b, "<Contents>");
    put_value(x, "Key", it->key);
    og_buf_elem(x->b, "LastModified", mtime, strlen(mtime));
    og_buf_elem(x->b, "ETag", etag, elen);
    og_buf_printf(x->b, "<Size>%llu</Size>", (unsigned long long)(slo ? m.slo_size : m.size));
    if (with_owner) {
        const iam_user_t *u = &x->r->user;
        int mine = og_str_eq(m.owner, u->account);
        og_buf_puts(x->b, "<Owner>");
        og_buf_elem(x->b, "ID", m.owner.base, m.owner.len);
        if (mine)
            og_buf_elem(x->b, "DisplayName", u->display_name, strlen(u->display_name));
        else
            og_buf_elem(x->b, "DisplayName", m.owner.base, m.owner.len);
        og_buf_puts(x->b, "</Owner>");
    }
    og_buf_puts(x->b, "<StorageClass>STANDARD</StorageClass></Contents>");
    core_meta_free(&m);
}

/* The whole ListBucketResult document. */
static void render_listing(render_t *x, int v2, const list_query_t *q, size_t max_keys, const core_walk_t *w)
{
    og_buf_t *b = x->b;
    s3_req_t *r = x->r;
    og_str_t last = w->n ? w->items[w->n - 1].key : (og_str_t){NULL, 0};
    int with_owner = !v2 || (q->has_fetch_owner && og_str_eq(xstr(&q->fetch_owner), "true"));

    og_buf_puts(b, "<ListBucketResult xmlns=\"" S3_XMLNS "\">");
    og_buf_elem(b, "Name", r->bucket, strlen(r->bucket));
    put_value(x, "Prefix", xstr(&q->prefix));
    if (!v2) {
        put_value(x, "Marker", xstr(&q->marker));
        /* S3 sends NextMarker only with a delimiter; without one the last Key is the marker. */
        if (w->truncated && q->delimiter.len)
            put_value(x, "NextMarker", last);
    } else {
        if (q->has_token)
            og_buf_elem(b, "ContinuationToken", q->token.buf, q->token.len);
        if (w->truncated) {
            size_t cap = last.len / 3 * 4 + 8;
            char *tok = malloc(cap);
            long n = tok ? s3_token_encode(last, tok, cap) : -ENOMEM;
            if (n < 0)
                b->oom = 1;
            else
                og_buf_elem(b, "NextContinuationToken", tok, (size_t)n);
            free(tok);
        }
        og_buf_printf(b, "<KeyCount>%zu</KeyCount>", w->n);
        if (q->has_start_after)
            put_value(x, "StartAfter", xstr(&q->start_after));
    }
    og_buf_printf(b, "<MaxKeys>%zu</MaxKeys>", max_keys);
    if (q->delimiter.len)
        put_value(x, "Delimiter", xstr(&q->delimiter));
    if (x->url)
        og_buf_puts(b, "<EncodingType>url</EncodingType>");
    og_buf_printf(b, "<IsTruncated>%s</IsTruncated>", w->truncated ? "true" : "false");
    for (size_t i = 0; i < w->n; i++)
        if (!w->items[i].is_prefix)
            put_contents(x, &w->items[i], with_owner);
    for (size_t i = 0; i < w->n; i++) {
        if (!w->items[i].is_prefix)
            continue;
        og_buf_puts(b, "<CommonPrefixes>");
        put_value(x, "Prefix", w->items[i].key);
        og_buf_puts(b, "</CommonPrefixes>");
    }
    og_buf_puts(b, "</ListBucketResult>");
}

void s3_list_objects(s3_req_t *r, int v2)
{
    list_query_t q = {0};
    og_buf_t b = {0}, after = {0};
    core_walk_t w = {0};
    render_t x = {.r = r, .b = &b};
    size_t max_keys = S3_LIST_MAX;
    char table[CORE_TABLE_CAP];
    int rc;

    if ((rc = list_query_read(r, &q)) != 0) {
        if (rc == OG_EINVAL)
            s3_error(r, 400, "InvalidArgument", "A query parameter is not correctly percent-encoded.", NULL);
        else
            s3_error_rc(r, rc);
        goto out_free;
    }
    if (q.has_max_keys && parse_max_keys(xstr(&q.max_keys), &max_keys) != 0) {
        s3_error(r, 400, "InvalidArgument", "Provided max-keys not an integer or within integer range", NULL);
        goto out_free;
    }
    if (q.has_encoding) {
        if (!og_str_eq(xstr(&q.encoding), "url")) {
            s3_error(r, 400, "InvalidArgument", "Invalid Encoding Method specified in Request", NULL);
            goto out_free;
        }
        x.url = 1;
    }
    /* Where the page starts: v1 after the marker; v2 after the token's key, else start-after. */
    if (!v2) {
        og_buf_put(&after, q.marker.buf, q.marker.len);
    } else if (q.has_token) {
        long n = OG_EINVAL;
        /* The decoded key is shorter than the token: the token's length is room enough. */
        if (q.token.len > 0 && og_buf_put(&after, q.token.buf, q.token.len) == 0)
            n = s3_token_decode(xstr(&q.token), after.buf, after.len);
        if (after.oom) {
            s3_error_rc(r, -ENOMEM);
            goto out_free;
        }
        if (n < 0) {
            s3_error(r, 400, "InvalidArgument", "The continuation token provided is incorrect", NULL);
            goto out_free;
        }
        after.len = (size_t)n;
    } else {
        og_buf_put(&after, q.start_after.buf, q.start_after.len);
    }
    if (after.oom) {
        s3_error_rc(r, -ENOMEM);
        goto out_free;
    }
    if (has_nul(&q.prefix) || has_nul(&q.delimiter) || has_nul(&after)) {
        s3_error(r, 400, "InvalidArgument", "The prefix, delimiter, marker, start-after or continuation token "
                 "holds a NUL byte.", NULL);
        goto out_free;
    }

    core_table('o', r->bucket, table);
    table_source_t ts = {r->gw->cluster, table, og_time_ns() / 1000000000u};
    core_walk_source_t src = {table_fetch, table_release, &ts, 0};
    if ((rc = core_walk(&src, xstr(&q.prefix), xstr(&q.delimiter), xstr(&after), max_keys, &w)) != 0) {
        s3_error_rc(r, rc);
        goto out_free;
    }
    render_listing(&x, v2, &q, max_keys, &w);
    if (b.oom)
        s3_error_rc(r, -ENOMEM);
    else
        s3_send_xml(r, 200, NULL, 0, b.buf, b.len);
out_free:
    core_walk_free(&w);
    free(x.tmp);
    og_buf_free(&after);
    og_buf_free(&b);
    list_query_free(&q);
}
