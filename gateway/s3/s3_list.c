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


/* ---------------------------------------------------------------- ListBuckets */

/* ListBuckets' parameters: max-buckets (1..10000; 0 = all), continuation-token (after: the
 * bucket name it resumes after), prefix. */
typedef struct {
    og_buf_t prefix, token, max, after;
    int has_token, has_max;
    size_t max_buckets;
} buckets_query_t;

#define LIST_BUCKETS_MAX 10000

/* Reads and checks r's ListBuckets parameters. 0, or OG_EINVAL with *why (400 InvalidArgument),
 * or -ENOMEM. */
static int buckets_query_read(s3_req_t *r, buckets_query_t *q, const char **why)
{
    int rc;
    if ((rc = http_query_decode(r->info->query, "prefix", &q->prefix)) < 0 ||
        (rc = q->has_token = http_query_decode(r->info->query, "continuation-token", &q->token)) < 0 ||
        (rc = q->has_max = http_query_decode(r->info->query, "max-buckets", &q->max)) < 0)
        return rc;
    if (q->has_max) {
        q->max_buckets = 0;
        for (size_t i = 0; i < q->max.len && q->max_buckets <= LIST_BUCKETS_MAX; i++)
            q->max_buckets = q->max.buf[i] >= '0' && q->max.buf[i] <= '9'
                                 ? q->max_buckets * 10 + (size_t)(q->max.buf[i] - '0')
                                 : LIST_BUCKETS_MAX + 1;
        if (q->max_buckets < 1 || q->max_buckets > LIST_BUCKETS_MAX) {
            *why = "max-buckets must be an integer from 1 to 10000";
            return OG_EINVAL;
        }
    }
    if (q->has_token) {
        long n = OG_EINVAL;
        if (q->token.len > 0 && og_buf_put(&q->after, q->token.buf, q->token.len) == 0)
            n = s3_token_decode((og_str_t){q->token.buf, q->token.len}, q->after.buf, q->after.len);
        if (n < 0) {
            *why = "The continuation token provided is incorrect";
            return q->after.oom ? -ENOMEM : OG_EINVAL;
        }
        q->after.len = (size_t)n;
    }
    return 0;
}

/* Appends the caller's buckets of one listing page to b; *count counts them. Stops at the first
 * one past max_buckets (then *cut = 1 and *last holds the last name written). 0 or -ENOMEM. */
static int buckets_page(s3_req_t *r, const cluster_list_t *l, const buckets_query_t *q, og_buf_t *b, size_t *count,
                        og_buf_t *last, int *cut)
{
    for (size_t i = 0; i < l->n && !*cut; i++) {
        char owner[sizeof(r->user.account)], created[32];
        uint64_t created_ns;
        if (core_bucket_decode(&l->entries[i].rec, owner, sizeof(owner), &created_ns) != 0) {
            /* Its owner is unknown: left out (and logged) rather than failing every account's
             * listing on one bad record of the global table. */
            http_log_skip(r->request_id, "bucket", l->entries[i].key, "its record does not decode");
            continue;
        }
        if (strcmp(owner, r->user.account) != 0)
            continue;
        if (q->max_buckets && *count == q->max_buckets) {
            *cut = 1;
            break;
        }
        http_iso8601_format(created_ns, created);
        og_buf_puts(b, "<Bucket>");
        og_buf_elem(b, "Name", l->entries[i].key.base, l->entries[i].key.len);
        og_buf_elem(b, "CreationDate", created, strlen(created));
        og_buf_puts(b, "</Bucket>");
        last->len = 0;
        og_buf_put(last, l->entries[i].key.base, l->entries[i].key.len);
        (*count)++;
    }
    return b->oom || last->oom ? -ENOMEM : 0;
}

/* Closes the document: the continuation token after `last` when cut, and the prefix asked for. */
static void buckets_end(og_buf_t *b, const buckets_query_t *q, const og_buf_t *last, int cut)
{
    og_buf_puts(b, "</Buckets>");
    if (cut) {
        char tok[4 * CORE_BUCKET_MAX / 3 + 8];
        long n = s3_token_encode((og_str_t){last->buf, last->len}, tok, sizeof(tok));
        if (n < 0)
            b->oom = 1;
        else
            og_buf_elem(b, "ContinuationToken", tok, (size_t)n);
    }
    if (q->prefix.len)
        og_buf_elem(b, "Prefix", q->prefix.buf, q->prefix.len);
    og_buf_puts(b, "</ListAllMyBucketsResult>");
}

void s3_list_buckets(s3_req_t *r)
{
    og_buf_t b = {0}, last = {0};
    buckets_query_t q = {0};
    const char *account = r->user.account, *why = NULL;
    core_walk_source_t src = {0};
    size_t count = 0;
    int rc, more = 1, cut = 0;

    if ((rc = buckets_query_read(r, &q, &why)) != 0 || (rc = core_bucket_source(r->gw->cluster, account, &src)) != 0) {
        if (rc == OG_EINVAL)
            s3_error(r, 400, "InvalidArgument", why, NULL);
        else
            s3_error_rc(r, rc);
        goto out_free;
    }
    og_buf_puts(&b, "<ListAllMyBucketsResult xmlns=\"" S3_XMLNS "\"><Owner>");
    og_buf_elem(&b, "ID", account, strlen(account));
    og_buf_elem(&b, "DisplayName", r->user.display_name, strlen(r->user.display_name));
    og_buf_puts(&b, "</Owner><Buckets>");
    /* Both tables of the account's buckets (core_bucket_source) come out sorted by name. */
    while (more && !cut && rc == 0) {
        cluster_list_t l;
        if ((rc = src.fetch(src.ctx, (og_str_t){q.prefix.buf, q.prefix.len}, (og_str_t){NULL, 0},
                            (og_str_t){q.after.buf, q.after.len}, S3_PAGE_LIMIT, &l)) != 0)
            break;
        rc = buckets_page(r, &l, &q, &b, &count, &last, &cut);
        more = l.truncated;
        q.after.len = 0;
        if (more)
            og_buf_put(&q.after, l.next_after.base, l.next_after.len);
        src.release(src.ctx, &l);
    }
    buckets_end(&b, &q, &last, cut);
    if (rc == 0 && (b.oom || q.after.oom))
        rc = -ENOMEM;
    if (rc != 0)
        s3_error_rc(r, rc);
    else
        s3_send_xml(r, 200, NULL, 0, b.buf, b.len);
out_free:
    core_bucket_source_free(&src);
    og_buf_free(&q.prefix);
    og_buf_free(&q.token);
    og_buf_free(&q.max);
    og_buf_free(&q.after);
    og_buf_free(&last);
    og_buf_free(&b);
}

/* ---------------------------------------------------------------- ListObjects (v1, v2) */

typedef struct {
    og_buf_t prefix, delimiter, marker, token, start_after, max_keys, encoding, fetch_owner, key_marker, vid_marker;
    int has_marker, has_token, has_start_after, has_max_keys, has_encoding, has_fetch_owner, has_vid_marker;
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
    og_buf_free(&q->key_marker);
    og_buf_free(&q->vid_marker);
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
        {"key-marker", &q->key_marker, NULL},
        {"version-id-marker", &q->vid_marker, &q->has_vid_marker},
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

/* <Owner>: the account (the bucket's under BucketOwnerEnforced, whoever wrote the object), and the
 * caller's display name when it is the caller's. */
static void put_owner(render_t *x, og_str_t owner)
{
    const iam_user_t *u = &x->r->user;
    if (x->r->ctl.ownership == IAM_OWN_ENFORCED)
        owner = og_str(x->r->bucket_owner);
    og_buf_puts(x->b, "<Owner>");
    og_buf_elem(x->b, "ID", owner.base, owner.len);
    if (og_str_eq(owner, u->account))
        og_buf_elem(x->b, "DisplayName", u->display_name, strlen(u->display_name));
    else
        og_buf_elem(x->b, "DisplayName", owner.base, owner.len);
    og_buf_puts(x->b, "</Owner>");
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
    if (with_owner)
        put_owner(x, m.owner);
    og_buf_puts(x->b, "<StorageClass>STANDARD</StorageClass></Contents>");
    core_meta_free(&m);
}

/* MaxKeys, Delimiter, EncodingType and IsTruncated of a listing page. */
static void put_page_fields(render_t *x, const list_query_t *q, size_t max_keys, const core_walk_t *w)
{
    og_buf_printf(x->b, "<MaxKeys>%zu</MaxKeys>", max_keys);
    if (q->delimiter.len)
        put_value(x, "Delimiter", xstr(&q->delimiter));
    if (x->url)
        og_buf_puts(x->b, "<EncodingType>url</EncodingType>");
    og_buf_printf(x->b, "<IsTruncated>%s</IsTruncated>", w->truncated ? "true" : "false");
}

/* The walk's common prefixes, each a <CommonPrefixes>. */
static void put_prefixes(render_t *x, const core_walk_t *w)
{
    for (size_t i = 0; i < w->n; i++) {
        if (!w->items[i].is_prefix)
            continue;
        og_buf_puts(x->b, "<CommonPrefixes>");
        put_value(x, "Prefix", w->items[i].key);
        og_buf_puts(x->b, "</CommonPrefixes>");
    }
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
    put_page_fields(x, q, max_keys, w);
    for (size_t i = 0; i < w->n; i++)
        if (!w->items[i].is_prefix)
            put_contents(x, &w->items[i], with_owner);
    put_prefixes(x, w);
    og_buf_puts(b, "</ListBucketResult>");
}

/* Reads the parameters every object listing shares (query, max-keys, encoding-type into x).
 * 0, or 1 after answering the error. */
static int list_params(s3_req_t *r, list_query_t *q, size_t *max_keys, render_t *x)
{
    int rc;
    if ((rc = list_query_read(r, q)) != 0) {
        if (rc == OG_EINVAL)
            s3_error(r, 400, "InvalidArgument", "A query parameter is not correctly percent-encoded.", NULL);
        else
            s3_error_rc(r, rc);
        return 1;
    }
    if (q->has_max_keys && parse_max_keys(xstr(&q->max_keys), max_keys) != 0) {
        s3_error(r, 400, "InvalidArgument", "Provided max-keys not an integer or within integer range", NULL);
        return 1;
    }
    if (q->has_encoding) {
        if (!og_str_eq(xstr(&q->encoding), "url")) {
            s3_error(r, 400, "InvalidArgument", "Invalid Encoding Method specified in Request", NULL);
            return 1;
        }
        x->url = 1;
    }
    return 0;
}

void s3_list_objects(s3_req_t *r, int v2)
{
    list_query_t q = {0};
    og_buf_t b = {0}, after = {0};
    core_walk_t w = {0};
    render_t x = {.r = r, .b = &b};
    size_t max_keys = S3_LIST_MAX;
    int rc;

    if (list_params(r, &q, &max_keys, &x) != 0)
        goto out_free;
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

    core_obj_source_t os;
    core_walk_source_t src = core_obj_source(&os, r->gw->cluster, r->bid, og_time_ns() / 1000000000u);
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

/* ---------------------------------------------------------------- ListObjectVersions */

/* Is key exactly a common prefix of this listing (prefix, up to and with the first delimiter after
 * it)? Then the walk resumes past everything under it. */
static int is_common_prefix(og_str_t key, og_str_t prefix, og_str_t delim)
{
    if (key.len < prefix.len || (prefix.len > 0 && memcmp(key.base, prefix.base, prefix.len) != 0))
        return 0;
    size_t len = og_key_group_len(key, prefix, delim, 0);
    return len != 0 && len == key.len;
}

/* Where a version listing starts: after every version of key-marker (after the common prefix it
 * is), or after its version version-id-marker. 0, OG_EINVAL (a version-id-marker without a
 * key-marker, or not one of ours), or an error reading the null version. */
static int versions_after(s3_req_t *r, const list_query_t *q, og_buf_t *after)
{
    og_str_t km = xstr(&q->key_marker), vm = xstr(&q->vid_marker);
    char sep = CORE_VER_SEP;
    core_meta_t m;
    char *buf = NULL;
    int rc;
    if (km.len == 0)
        return vm.len ? OG_EINVAL : 0;
    og_buf_put(after, km.base, km.len);
    if (vm.len == 0) {
        /* 0xff sorts after every sort id (hex) */
        if (!is_common_prefix(km, xstr(&q->prefix), xstr(&q->delimiter)))
            og_buf_put(after, "\x01\xff", 2);
        return 0;
    }
    og_buf_put(after, &sep, 1);
    if ((rc = core_ver_lookup(r->gw->cluster, r->bid, km, vm, &m, &buf)) == OG_ENOTFOUND)
        return og_str_eq(vm, "null") || vm.len == CORE_VID_LEN ? og_buf_put(after, vm.base, vm.len) : OG_EINVAL;
    if (rc != 0)
        return rc;
    /* the null version kept only in the index lists as key + separator: resume right after it */
    og_buf_put(after, m.vid, strlen(m.vid));
    core_meta_free(&m);
    free(buf);
    return 0;
}

/* One <Version> or <DeleteMarker> of a walk item (key + separator + sort id). */
static void put_version(render_t *x, const core_walk_item_t *it, og_str_t key, int latest)
{
    og_rec_t rec = {.summary = it->summary};
    core_meta_t m;
    char etag[48], mtime[32];
    if (core_meta_decode(&rec, &m) != 0) {
        http_log_skip(x->r->request_id, "version", key, "its record does not decode");
        return;
    }
    int marker = (m.vflags & CORE_VER_MARKER) != 0, slo = (m.flags & CORE_META_SLO) != 0;
    const char *vid = core_ver_id(&m);
    http_iso8601_format(m.mtime_ns, mtime);
    og_buf_puts(x->b, marker ? "<DeleteMarker>" : "<Version>");
    put_value(x, "Key", key);
    og_buf_elem(x->b, "VersionId", vid, strlen(vid));
    og_buf_printf(x->b, "<IsLatest>%s</IsLatest>", latest ? "true" : "false");
    og_buf_elem(x->b, "LastModified", mtime, strlen(mtime));
    if (!marker) {
        size_t elen = slo ? core_slo_s3_etag(&m, etag) : core_meta_etag(&m, etag);
        og_buf_elem(x->b, "ETag", etag, elen);
        og_buf_printf(x->b, "<Size>%llu</Size>", (unsigned long long)(slo ? m.slo_size : m.size));
        og_buf_puts(x->b, "<StorageClass>STANDARD</StorageClass>");
    }
    put_owner(x, m.owner);
    og_buf_puts(x->b, marker ? "</DeleteMarker>" : "</Version>");
    core_meta_free(&m);
}

/* The ListVersionsResult document. A key's first version in the listing is its latest, unless
 * the page starts inside the key's versions (after a version-id-marker). */
static void render_versions(render_t *x, const list_query_t *q, size_t max_keys, const core_walk_t *w)
{
    og_buf_t *b = x->b;
    og_str_t prev = q->vid_marker.len ? xstr(&q->key_marker) : (og_str_t){NULL, 0};
    int has_prev = q->vid_marker.len > 0;

    og_buf_puts(b, "<ListVersionsResult xmlns=\"" S3_XMLNS "\">");
    og_buf_elem(b, "Name", x->r->bucket, strlen(x->r->bucket));
    put_value(x, "Prefix", xstr(&q->prefix));
    put_value(x, "KeyMarker", xstr(&q->key_marker));
    og_buf_elem(b, "VersionIdMarker", q->vid_marker.buf, q->vid_marker.len);
    if (w->truncated && w->n > 0) {
        const core_walk_item_t *last = &w->items[w->n - 1];
        put_value(x, "NextKeyMarker", last->is_prefix ? last->key : core_ver_item_key(last->key));
        if (!last->is_prefix) {
            og_rec_t rec = {.summary = last->summary};
            core_meta_t m;
            if (core_meta_decode(&rec, &m) == 0) {
                const char *vid = core_ver_id(&m);
                og_buf_elem(b, "NextVersionIdMarker", vid, strlen(vid));
            }
            core_meta_free(&m);
        }
    }
    put_page_fields(x, q, max_keys, w);
    for (size_t i = 0; i < w->n; i++) {
        if (w->items[i].is_prefix)
            continue;
        og_str_t key = core_ver_item_key(w->items[i].key);
        put_version(x, &w->items[i], key, !has_prev || og_str_cmp(key, prev) != 0);
        prev = key, has_prev = 1;
    }
    put_prefixes(x, w);
    og_buf_puts(b, "</ListVersionsResult>");
}

void s3_list_object_versions(s3_req_t *r)
{
    list_query_t q = {0};
    og_buf_t b = {0}, after = {0};
    core_walk_t w = {0};
    core_walk_source_t src = {0};
    render_t x = {.r = r, .b = &b};
    size_t max_keys = S3_LIST_MAX;
    int rc;

    if (list_params(r, &q, &max_keys, &x) != 0)
        goto out_free;
    /* a separator in a bound would cut into the sort ids (no versioned key holds one) */
    if (has_nul(&q.prefix) || has_nul(&q.delimiter) || has_nul(&q.key_marker) ||
        memchr(q.prefix.buf ? q.prefix.buf : "", CORE_VER_SEP, q.prefix.len) != NULL ||
        memchr(q.delimiter.buf ? q.delimiter.buf : "", CORE_VER_SEP, q.delimiter.len) != NULL) {
        s3_error(r, 400, "InvalidArgument", "The prefix, delimiter or key-marker holds a NUL or \\x01 byte.",
                 NULL);
        goto out_free;
    }
    if ((rc = versions_after(r, &q, &after)) == 0 && after.oom)
        rc = -ENOMEM;
    if (rc != 0) {
        if (rc == OG_EINVAL)
            s3_error(r, 400, "InvalidArgument", q.key_marker.len ? "Invalid version id specified"
                     : "A version-id marker cannot be specified without a key marker.", NULL);
        else
            s3_error_rc(r, rc);
        goto out_free;
    }
    if ((rc = core_ver_source(r->gw->cluster, r->bid, &src)) != 0 ||
        (rc = core_walk(&src, xstr(&q.prefix), xstr(&q.delimiter), xstr(&after), max_keys, &w)) != 0) {
        s3_error_rc(r, rc);
        goto out_free;
    }
    render_versions(&x, &q, max_keys, &w);
    if (b.oom)
        s3_error_rc(r, -ENOMEM);
    else
        s3_send_xml(r, 200, NULL, 0, b.buf, b.len);
out_free:
    core_ver_source_free(&src);
    core_walk_free(&w);
    free(x.tmp);
    og_buf_free(&after);
    og_buf_free(&b);
    list_query_free(&q);
}
