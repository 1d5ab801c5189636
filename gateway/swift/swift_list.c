/*
 * Swift listings: an account's containers and a container's objects, as text (one name per
 * line), JSON or XML, chosen by ?format= or else the Accept header. Parameters: prefix,
 * delimiter (one character; groups into "subdir" entries), marker, end_marker, limit
 * (default and maximum 10000), reverse.
 *
 * Grouping and paging are core_walk() over a source that hides what Swift must not show: for a
 * container, objects past their X-Delete-At; for an account, buckets of other accounts (the
 * bucket table is global). A reverse listing walks the whole selected range forward and keeps
 * the last `limit` entries, so it costs a full range scan.
 */
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <strings.h>
#include <time.h>


#include "swift_int.h"

#define REVERSE_MAX 1000000 /* entries a reverse listing may scan (it keeps only `limit`) */

enum { FMT_TEXT, FMT_JSON, FMT_XML };

typedef struct {
    og_buf_t prefix, delimiter, marker, end_marker;
    int has_marker, has_end_marker, reverse, fmt;
    size_t limit;
} lq_t;

static void lq_free(lq_t *q)
{
    og_buf_free(&q->prefix);
    og_buf_free(&q->delimiter);
    og_buf_free(&q->marker);
    og_buf_free(&q->end_marker);
}

static og_str_t xs(const og_buf_t *b) { return (og_str_t){b->buf, b->len}; }

static int pick_format(swift_req_t *r, og_str_t fmt, int has_fmt)
{
    if (has_fmt) {
        if (og_str_ieq(fmt, "json"))
            return FMT_JSON;
        if (og_str_ieq(fmt, "xml"))
            return FMT_XML;
        return FMT_TEXT;
    }
    og_str_t acc = http_req_header(r->http, "accept");
    if (acc.len && memmem(acc.base, acc.len, "application/json", 16))
        return FMT_JSON;
    if (acc.len && (memmem(acc.base, acc.len, "application/xml", 15) || memmem(acc.base, acc.len, "text/xml", 8)))
        return FMT_XML;
    return FMT_TEXT;
}

/* Reads the listing parameters. 0, OG_EINVAL, SWIFT_EREFUSED (412 as Swift) or -ENOMEM. */
static int lq_read(swift_req_t *r, lq_t *q)
{
    og_buf_t fmt = {0}, limit = {0}, rev = {0};
    int rc = 0, has_fmt = 0, has_limit = 0, has_rev = 0;
    struct {
        const char *name;
        og_buf_t *b;
        int *present;
    } ps[] = {{"prefix", &q->prefix, NULL},          {"delimiter", &q->delimiter, NULL},
              {"marker", &q->marker, &q->has_marker}, {"end_marker", &q->end_marker, &q->has_end_marker},
              {"format", &fmt, &has_fmt},             {"limit", &limit, &has_limit},
              {"reverse", &rev, &has_rev}};
    for (size_t i = 0; i < sizeof(ps) / sizeof(ps[0]) && rc == 0; i++) {
        int got = http_query_decode(r->info->query, ps[i].name, ps[i].b);
        if (got < 0)
            rc = got;
        else if (ps[i].present)
            *ps[i].present = got;
    }
    if (rc != 0)
        goto out_free;
    /* Swift's get_param: the name parameters (the first four) must be UTF-8 (a NUL passes: it
     * matches nothing). */
    for (size_t i = 0; i < 4; i++)
        if (!og_utf8_valid(ps[i].b->buf, ps[i].b->len, 1)) {
            rc = swift_refuse(r, 400, "text/plain", "\"%s\" parameter not valid UTF-8", ps[i].name);
            goto out_free;
        }
    q->fmt = pick_format(r, xs(&fmt), has_fmt);
    q->limit = SWIFT_LISTING_LIMIT;
    if (has_limit) {
        size_t v = 0;
        for (size_t i = 0; i < limit.len; i++) {
            if (limit.buf[i] < '0' || limit.buf[i] > '9' || v > SWIFT_LISTING_LIMIT) {
                v = SWIFT_LISTING_LIMIT + 1;
                break;
            }
            v = v * 10 + (size_t)(limit.buf[i] - '0');
        }
        if (limit.len == 0 || limit.buf[0] == '-') {
            rc = OG_EINVAL;
            goto out_free;
        }
        if (v > SWIFT_LISTING_LIMIT) {
            rc = swift_refuse(r, 412, "text/html; charset=UTF-8", "Maximum limit is %d", SWIFT_LISTING_LIMIT);
            goto out_free;
        }
        q->limit = v;
    }
    if (q->delimiter.len > 1) {
        rc = swift_refuse(r, 412, "text/html; charset=UTF-8", "Bad delimiter");
        goto out_free;
    }
    /* Swift's config_true_value: true, 1, yes, on, t, y. */
    static const char *const truthy[] = {"true", "1", "yes", "on", "t", "y"};
    for (size_t i = 0; has_rev && i < sizeof(truthy) / sizeof(truthy[0]); i++)
        q->reverse |= og_str_ieq(xs(&rev), truthy[i]);
out_free:
    og_buf_free(&fmt);
    og_buf_free(&limit);
    og_buf_free(&rev);
    return rc;
}

/* ---------------------------------------------------------------- rendering */

/* "2026-11-21T21:29:30.958960" (Swift's listing time: UTC, microseconds, no zone). */
static void fmt_listing_time(uint64_t ns, char out[32])
{
    time_t t = (time_t)(ns / 1000000000u);
    struct tm tm;
    gmtime_r(&t, &tm);
    size_t n = strftime(out, 32, "%Y-%m-%dT%H:%M:%S", &tm);
    snprintf(out + n, 32 - n, ".%06u", (unsigned)(ns % 1000000000u / 1000u));
}

typedef struct {
    swift_req_t *r;
    og_buf_t *b;
    int fmt, account, first;
    int versions; /* a ?versions listing: items are core_ver_source's */
    og_str_t prev; /* its previous entry's name: a name's first entry is its latest */
} out_t;

static void put_subdir(out_t *o, og_str_t name)
{
    og_buf_t *b = o->b;
    if (o->fmt == FMT_TEXT) {
        og_buf_put(b, name.base, name.len);
        og_buf_put(b, "\n", 1);
    } else if (o->fmt == FMT_JSON) {
        og_buf_puts(b, o->first ? "{\"subdir\": " : ", {\"subdir\": ");
        og_buf_json_str(b, name);
        og_buf_puts(b, "}");
    } else {
        og_buf_puts(b, "<subdir name=\"");
        og_buf_escape(b, name.base, name.len);
        og_buf_puts(b, "\">");
        og_buf_elem(b, "name", name.base, name.len);
        og_buf_puts(b, "</subdir>");
        if (o->account)
            og_buf_puts(b, "\n");
    }
    o->first = 0;
}

/* One object entry. 0 or OG_ECORRUPT. */
static int put_object(out_t *o, const core_walk_item_t *it)
{
    og_rec_t rec = {.summary = it->summary};
    core_meta_t m;
    char etag[48], when[32];
    og_buf_t *b = o->b;
    if (core_meta_decode(&rec, &m) != 0) {
        http_log_skip(o->r->trans_id, "object", it->key, "its record does not decode");
        return 0;
    }
    size_t elen = core_meta_etag(&m, etag);
    og_str_t hash = {etag + 1, elen - 2}, name = o->versions ? core_ver_item_key(it->key) : it->key;
    fmt_listing_time(m.mtime_ns, when);
    /* An SLO lists the bytes it serves and, besides the manifest's hash, its own ETag (Swift). */
    uint64_t bytes = (m.flags & CORE_META_SLO) ? m.slo_size : m.size;
    if (m.vflags & CORE_VER_MARKER) /* Swift's delete marker: an empty object of this type */
        hash = OG_STR_LIT("d41d8cd98f00b204e9800998ecf8427e"), bytes = 0,
        m.content_type = OG_STR_LIT("application/x-deleted;swift_versions_deleted=1");
    if (o->fmt == FMT_TEXT) {
        og_buf_put(b, it->key.base, it->key.len);
        og_buf_put(b, "\n", 1);
    } else if (o->fmt == FMT_JSON) {
        og_buf_printf(b, "%s{\"bytes\": %" PRIu64 ", \"hash\": ", o->first ? "" : ", ", bytes);
        og_buf_json_str(b, hash);
        og_buf_puts(b, ", \"name\": ");
        og_buf_json_str(b, name);
        og_buf_puts(b, ", \"content_type\": ");
        og_buf_json_str(b, m.content_type);
        og_buf_printf(b, ", \"last_modified\": \"%s\"", when);
        if (o->versions) {
            og_buf_printf(b, ", \"is_latest\": %s, \"version_id\": \"%s\"",
                          o->first || og_str_cmp(name, o->prev) != 0 ? "true" : "false", core_ver_id(&m));
            o->prev = name;
        }
        if (m.flags & CORE_META_SLO) {
            char hex[33];
            og_hex(m.slo_etag, 16, hex);
            og_buf_printf(b, ", \"slo_etag\": \"\\\"%s\\\"\"", hex);
        }
        og_buf_puts(b, "}");
    } else {
        og_buf_puts(b, "<object>");
        og_buf_elem(b, "name", it->key.base, it->key.len);
        og_buf_elem(b, "hash", hash.base, hash.len);
        og_buf_printf(b, "<bytes>%" PRIu64 "</bytes>", bytes);
        og_buf_elem(b, "content_type", m.content_type.base, m.content_type.len);
        og_buf_elem(b, "last_modified", when, strlen(when));
        og_buf_puts(b, "</object>");
    }
    o->first = 0;
    core_meta_free(&m);
    return 0;
}

/* One container entry of an account listing (its usage only for JSON/XML). 0 or an error. */
static int put_container(out_t *o, const core_walk_item_t *it)
{
    og_rec_t rec = {.summary = it->summary};
    core_bucket_t bk;
    char when[32];
    core_usage_t u = {0};
    og_buf_t *b = o->b;
    int rc;
    if (o->fmt == FMT_TEXT) {
        og_buf_put(b, it->key.base, it->key.len);
        og_buf_put(b, "\n", 1);
        return 0;
    }
    if (it->key.len > CORE_BUCKET_MAX || core_bucket_parse(&rec, &bk) != 0) {
        http_log_skip(o->r->trans_id, "container", it->key, "its record does not decode");
        return 0;
    }
    if (bk.id[0] == '\0') /* a global record: its id is its name */
        memcpy(bk.id, it->key.base, it->key.len), bk.id[it->key.len] = '\0';
    rc = core_usage_bucket(o->r->cl, bk.id, o->r->now_s, &u);
    fmt_listing_time(bk.created_ns, when);
    core_bucket_free(&bk);
    if (rc != 0)
        return rc;
    if (o->fmt == FMT_JSON) {
        og_buf_puts(b, o->first ? "{\"name\": " : ", {\"name\": ");
        og_buf_json_str(b, it->key);
        og_buf_printf(b, ", \"count\": %" PRIu64 ", \"bytes\": %" PRIu64 ", \"last_modified\": \"%s\"}", u.objects,
                       u.bytes, when);
    } else {
        og_buf_puts(b, "<container>");
        og_buf_elem(b, "name", it->key.base, it->key.len);
        og_buf_printf(b, "<count>%" PRIu64 "</count><bytes>%" PRIu64 "</bytes>", u.objects, u.bytes);
        og_buf_elem(b, "last_modified", when, strlen(when));
        og_buf_puts(b, "</container>\n");
    }
    o->first = 0;
    return 0;
}

int swift_list_walk(swift_req_t *r, og_str_t prefix, size_t max, core_walk_t *out)
{
    core_obj_source_t os; /* r->cid: set by swift_container_access */
    core_walk_source_t src = core_obj_source(&os, r->cl, r->cid, r->now_s);
    return core_walk(&src, prefix, OG_STR_LIT("/"), (og_str_t){NULL, 0}, max, out);
}

/* A ?versions listing (object_versioning): every version and delete marker, newest first per
 * name, in JSON only (Swift answers 406 to another ?format=). 0 with *out, SWIFT_EREFUSED, or
 * -ENOMEM. bid: the container's bucket id. */
static int versions_source(swift_req_t *r, const char *bid, lq_t *q, core_walk_source_t *out)
{
    og_str_t fmt;
    if (og_query_get(r->info->query, "format", &fmt) && !og_str_ieq(fmt, "json"))
        return swift_refuse(r, 406, NULL, "<html><h1>Not Acceptable</h1><p>The resource is not available in a "
                                          "format acceptable to your browser.</p></html>");
    q->fmt = FMT_JSON;
    return core_ver_source(r->cl, bid, out);
}

int swift_list_body(swift_req_t *r, const core_bucket_t *b, og_buf_t *body, const char **ctype)
{
    lq_t q = {0};
    core_walk_t w = {0};
    int rc;

    core_walk_source_t vsrc = {0}, asrc = {0}; /* asrc: an account listing's (core_bucket_source) */
    int versions = b != NULL && og_query_get(r->info->query, "versions", NULL);
    if ((rc = lq_read(r, &q)) != 0)
        goto out_free;
    core_obj_source_t os;
    if (b == NULL && (rc = core_bucket_source(r->cl, r->account, &asrc)) != 0)
        goto out_free;
    core_walk_source_t src = b != NULL ? core_obj_source(&os, r->cl, b->id, r->now_s) : asrc;
    if (versions && (rc = versions_source(r, b->id, &q, &vsrc)) != 0)
        goto out_free;
    og_str_t after = q.reverse ? (og_str_t){NULL, 0} : xs(&q.marker);
    size_t max = q.reverse ? REVERSE_MAX : q.limit;
    if (q.reverse && q.has_end_marker)
        after = xs(&q.end_marker); /* reverse: entries after end_marker, before marker */
    /* No name holds a NUL (the door refuses them) and the nodes take none: a prefix with one
     * matches nothing, and the names after "a\0..." are those after "a" (Swift lists the same). */
    after.len = after.len ? strnlen(after.base, after.len) : 0;
    if (memchr(q.prefix.buf ? q.prefix.buf : "", '\0', q.prefix.len) == NULL &&
        (rc = core_walk(versions ? &vsrc : &src, xs(&q.prefix), xs(&q.delimiter), after, max, &w)) != 0)
        goto out_free;
    /* The selected range: forward (marker, end_marker), reverse (end_marker, marker) read from the
     * top; both bounds exclusive. */
    size_t lo = 0, hi = w.n;
    og_str_t stop = q.reverse ? xs(&q.marker) : xs(&q.end_marker);
    int has_stop = q.reverse ? q.has_marker : q.has_end_marker;
    if (has_stop && stop.len > 0)
        while (hi > lo && og_str_cmp(w.items[hi - 1].key, stop) >= 0)
            hi--;
    if (q.reverse && hi - lo > q.limit)
        lo = hi - q.limit;

    out_t o = {.r = r, .b = body, .fmt = q.fmt, .account = b == NULL, .first = 1, .versions = versions};
    if (q.fmt == FMT_JSON) {
        og_buf_puts(body, "[");
    } else if (q.fmt == FMT_XML) {
        og_buf_puts(body, "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n");
        if (b == NULL) {
            og_buf_puts(body, "<account name=\"AUTH_");
            og_buf_escape(body, r->account, strlen(r->account));
            og_buf_puts(body, "\">\n");
        } else {
            og_buf_puts(body, "<container name=\"");
            og_buf_escape(body, r->container, strlen(r->container));
            og_buf_puts(body, "\">");
        }
    }
    rc = 0;
    for (size_t j = 0; j < hi - lo && rc == 0; j++) {
        const core_walk_item_t *it = &w.items[q.reverse ? hi - 1 - j : lo + j];
        /* A name stored before names were checked at the door may not be UTF-8: JSON and XML
         * could not carry it, and one such name must not make the whole listing unreadable. */
        if (q.fmt != FMT_TEXT && !og_utf8_valid(it->key.base, it->key.len, 0))
            http_log_skip(r->trans_id, it->is_prefix ? "subdir" : b != NULL ? "object" : "container", it->key,
                           "not UTF-8");
        else if (it->is_prefix)
            put_subdir(&o, it->key);
        else
            rc = b != NULL ? put_object(&o, it) : put_container(&o, it);
    }
    if (rc != 0)
        goto out_free;
    if (q.fmt == FMT_JSON)
        og_buf_puts(body, "]");
    else if (q.fmt == FMT_XML)
        og_buf_puts(body, b == NULL ? "</account>" : "</container>");
    if (body->oom) {
        rc = -ENOMEM;
        goto out_free;
    }
    *ctype = q.fmt == FMT_JSON  ? "application/json; charset=utf-8"
             : q.fmt == FMT_XML ? "application/xml; charset=utf-8"
                                : "text/plain; charset=utf-8";
out_free:
    core_ver_source_free(&vsrc);
    core_bucket_source_free(&asrc);
    core_walk_free(&w);
    lq_free(&q);
    return rc;
}
