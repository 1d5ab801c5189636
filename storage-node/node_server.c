/*
 * node_server.c: the storage node's answers to the internal API (docs/node-api.md): routing and
 * one handler per endpoint. Connections, authentication and framing are node_loop.c's: a handler
 * runs on a worker thread with an authenticated request whose body is whole, and answers on the
 * connection with blocking sends (bounded). Storage work is blocking by nature (fdatasync,
 * RocksDB reads and synced writes), hence workers rather than an event loop here. The body buffer
 * (at most NODE_CHUNK_MAX) is the worker's, reused to send chunk reads.
 */
#include "node_srv.h"
#include "og_http.h"
#include "og_rec.h"
#include "ring.h"

#include <errno.h>
#include <inttypes.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>

static const char *reason(int status)
{
    switch (status) {
    case 200: return "OK";
    case 201: return "Created";
    case 204: return "No Content";
    case 206: return "Partial Content";
    case 400: return "Bad Request";
    case 401: return "Unauthorized";
    case 404: return "Not Found";
    case 405: return "Method Not Allowed";
    case 409: return "Conflict";
    case 411: return "Length Required";
    case 413: return "Payload Too Large";
    case 416: return "Range Not Satisfiable";
    case 422: return "Unprocessable Entity";
    case 431: return "Request Header Fields Too Large";
    case 507: return "Insufficient Storage";
    default: return "Internal Server Error";
    }
}

/* The headers of an `extra` block ("Name: value\r\n" lines) as slices into it, at most cap. */
static size_t extra_headers(const char *extra, og_header_t *out, size_t cap)
{
    size_t n = 0;
    for (const char *p = extra; p && *p && n < cap;) {
        const char *colon = strchr(p, ':'), *eol = strstr(p, "\r\n");
        if (!colon || !eol || colon > eol)
            break;
        const char *v = colon + 1;
        while (*v == ' ')
            v++;
        out[n++] = (og_header_t){{p, (size_t)(colon - p)}, {v, (size_t)(eol - v)}};
        p = eol + 2;
    }
    return n;
}

/* Sends a response. head_only: HEAD, Content-Length says content_len but no body follows. The answer
 * to an authenticated request is signed (node_auth_sign_response); refusals before that are not. */
static int respond_ex(node_conn_t *c, int status, const char *extra, const void *body, size_t content_len,
                      int head_only)
{
    char h[768], sig[NODE_AUTH_VALUE_MAX] = "";
    if (c->want.key) {
        og_header_t eh[8];
        size_t neh = extra_headers(extra, eh, 8);
        int rc = node_auth_sign_response(&c->want, status, content_len, eh, neh, body, head_only ? 0 : content_len,
                                         sig);
        if (rc != 0)
            return rc;
    }
    int n = snprintf(h, sizeof(h), "HTTP/1.1 %d %s\r\nContent-Length: %zu\r\n%s%s%s%s%s\r\n", status,
                     reason(status), content_len, extra ? extra : "", sig[0] ? NODE_AUTH_HEADER ": " : "", sig,
                     sig[0] ? "\r\n" : "", c->keepalive ? "" : "Connection: close\r\n");
    if (n < 0 || (size_t)n >= sizeof(h))
        return OG_ETOOBIG;
    struct iovec iov[2] = {{h, (size_t)n}, {(void *)body, head_only ? 0 : content_len}};
    return node_srv_send(c->fd, iov, head_only || content_len == 0 ? 1 : 2, c->send_ms);
}

static int respond(node_conn_t *c, int status, const char *extra, const void *body, size_t len)
{
    return respond_ex(c, status, extra, body, len, 0);
}

static int respond_text(node_conn_t *c, int status, const char *text)
{
    return respond(c, status, "Content-Type: text/plain\r\n", text, strlen(text));
}

int node_srv_respond_text(node_conn_t *c, int status, const char *text)
{
    return respond_text(c, status, text);
}

/* Status for a store error on a write: 507 tells the gateway to use another device. */
static int write_error(node_conn_t *c, int rc)
{
    if (rc == NODE_EPOISONED)
        return respond_text(c, 507, "device failed\n");
    if (rc == -ENOSPC || rc == -EDQUOT || rc == -EFBIG)
        return respond_text(c, 507, "device full\n");
    return respond_text(c, 500, og_strerror(rc));
}

static const char *dev_state_name(int state)
{
    return state == NODE_DEV_OK ? "ok" : state == NODE_DEV_FULL ? "full" : "failed";
}

/* Logs a device that became full or failed, once per episode (node_store_error_news): an operator
 * must hear of it even if no gateway log is watched, but not once per refused request. */
static void dev_log_news(const node_dev_t *d)
{
    node_stat_t s;
    if (node_store_error_news(d->store, &s))
        fprintf(stderr, "onggi-node: device %s is %s: %s (writes answer 507; %" PRIu64 " of %" PRIu64
                        " bytes free)\n",
                d->name, dev_state_name(s.state), strerror(s.last_errno), s.free_bytes, s.total_bytes);
}

static int out_append(node_conn_t *c, const char *p, size_t n)
{
    int rc = node_buf_grow(&c->out, &c->out_cap, c->out_len + n);
    if (rc == 0) {
        memcpy(c->out + c->out_len, p, n);
        c->out_len += n;
    }
    return rc;
}

/* ---- helpers for paths and headers ---- */

static int parse_u64(og_str_t s, uint64_t *v)
{
    uint64_t x = 0;
    if (s.len == 0 || s.len > 19)
        return OG_EINVAL;
    for (size_t i = 0; i < s.len; i++) {
        if (s.base[i] < '0' || s.base[i] > '9')
            return OG_EINVAL;
        x = x * 10 + (uint64_t)(s.base[i] - '0');
    }
    *v = x;
    return 0;
}

static int parse_xxh3(og_str_t s, uint64_t *v)
{
    unsigned char b[8];
    if (og_unhex(s.base, s.len, b, 8) != 0)
        return OG_EINVAL;
    *v = og_be64_get(b);
    return 0;
}

/* Decodes a percent-encoded path or query part into dst (HEAD_CAP bytes). NUL bytes are
 * refused: keys may hold any byte but NUL. Length or OG_EINVAL. */
static long decode_part(og_str_t raw, char *dst)
{
    long n = og_urldecode(raw.base, raw.len, dst, HEAD_CAP, 0);
    if (n < 0 || memchr(dst, '\0', (size_t)n))
        return OG_EINVAL;
    return n;
}

static int table_ok(og_str_t t)
{
    if (t.len < 1 || t.len > 255)
        return 0;
    for (size_t i = 0; i < t.len; i++) {
        char ch = t.base[i];
        if (!((ch >= 'a' && ch <= 'z') || (ch >= 'A' && ch <= 'Z') || (ch >= '0' && ch <= '9') || ch == '.' ||
              ch == '_' || ch == '-'))
            return 0;
    }
    return 1;
}

static const node_dev_t *dev_find(node_server_t *srv, og_str_t name)
{
    for (size_t i = 0; i < srv->ndevs; i++)
        if (og_str_eq(name, srv->devs[i].name))
            return &srv->devs[i];
    return NULL;
}

/* Parses "limit" (default NODE_LIST_DEFAULT, capped at NODE_LIST_MAX). 0 or OG_EINVAL. */
static int query_limit(og_str_t query, size_t *limit)
{
    og_str_t raw;
    uint64_t v;
    *limit = NODE_LIST_DEFAULT;
    if (!og_query_get(query, "limit", &raw))
        return 0;
    if (parse_u64(raw, &v) != 0)
        return OG_EINVAL;
    *limit = v > NODE_LIST_MAX ? NODE_LIST_MAX : (size_t)v;
    return 0;
}

/* ---- handlers ---- */

/* Parses "bytes=a-b", "bytes=a-" or "bytes=-n" against a chunk of len bytes.
 * 1 with [*from, *to] inclusive, 0 to serve everything (absent or unparsable: RFC 9110 says
 * ignore it), -1 when unsatisfiable. */
static int parse_range(og_str_t h, uint64_t len, uint64_t *from, uint64_t *to)
{
    if (!h.base || h.len < 7 || memcmp(h.base, "bytes=", 6) != 0)
        return 0;
    og_str_t spec = {h.base + 6, h.len - 6};
    const char *dash = memchr(spec.base, '-', spec.len);
    if (!dash)
        return 0;
    og_str_t a = {spec.base, (size_t)(dash - spec.base)}, b = {dash + 1, spec.len - a.len - 1};
    uint64_t x, y;
    if (a.len == 0) {
        if (parse_u64(b, &y) != 0)
            return 0;
        if (y == 0 || len == 0)
            return -1;
        *from = y >= len ? 0 : len - y;
        *to = len - 1;
        return 1;
    }
    if (parse_u64(a, &x) != 0)
        return 0;
    if (b.len == 0)
        y = UINT64_MAX;
    else if (parse_u64(b, &y) != 0 || y < x)
        return 0;
    if (x >= len)
        return -1;
    *from = x;
    *to = y >= len ? len - 1 : y;
    return 1;
}

/* PUT /<dev>/chunk/<id>: stores the body, checked against X-Onggi-Xxh3. */
static int chunk_put(node_conn_t *c, req_t *r, node_store_t *st, const uint8_t *id)
{
    uint64_t xxh3;
    int swept = 0, rc = 0;
    if (parse_xxh3(og_header_find(r->hdrs, r->nhdrs, "X-Onggi-Xxh3"), &xxh3) != 0)
        return respond_text(c, 400, "missing or bad X-Onggi-Xxh3\n");
    /* A replicator's push must not bring back what a gc sweep is deleting (node_store.c). */
    if (og_header_find(r->hdrs, r->nhdrs, "X-Onggi-Replica").base)
        rc = node_store_chunk_swept(st, id, og_time_ns() - NODE_SWEEP_MARK_S * 1000000000ull, &swept);
    if (rc == 0 && swept)
        return respond_text(c, 409, "swept by garbage collection\n");
    if (rc == 0)
        rc = node_store_chunk_put(st, id, r->body, r->body_len, xxh3);
    if (rc == 0)
        return respond_text(c, 201, "stored\n");
    if (rc == OG_EEXIST)
        return respond_text(c, 200, "already present\n");
    if (rc == OG_EBADDIGEST)
        return respond_text(c, 422, "xxh3 mismatch\n");
    return write_error(c, rc);
}

/* HEAD /<dev>/chunk/<id>: the chunk's length and xxh3, without its bytes. */
static int chunk_head(node_conn_t *c, node_store_t *st, const uint8_t *id)
{
    char extra[160];
    uint32_t len;
    uint64_t xxh3;
    int rc = node_store_chunk_stat(st, id, &len, &xxh3);
    if (rc == OG_ENOTFOUND)
        return respond_ex(c, 404, NULL, NULL, 0, 1);
    if (rc != 0)
        return respond_ex(c, 500, NULL, NULL, 0, 1);
    snprintf(extra, sizeof(extra), "X-Onggi-Xxh3: %016" PRIx64 "\r\n", xxh3);
    return respond_ex(c, 200, extra, NULL, len, 1);
}

/* DELETE /<dev>/chunk/<id>[?older_than=<ns>]. */
static int chunk_delete(node_conn_t *c, req_t *r, node_store_t *st, const uint8_t *id)
{
    og_str_t raw;
    uint64_t cutoff;
    int rc;
    /* Garbage collection always sends older_than: the delete then loses against any write or
     * touch of the chunk since that time (node_store_chunk_delete_older). */
    if (og_query_get(r->query, "older_than", &raw)) {
        if (parse_u64(raw, &cutoff) != 0)
            return respond_text(c, 400, "bad older_than\n");
        rc = node_store_chunk_delete_older(st, id, cutoff);
    } else {
        rc = node_store_chunk_delete(st, id);
    }
    if (rc == 0)
        return respond(c, 204, NULL, NULL, 0);
    if (rc == OG_ENOTFOUND)
        return respond_text(c, 404, "no such chunk\n");
    if (rc == OG_EEXIST)
        return respond_text(c, 409, "referenced since older_than\n");
    return write_error(c, rc);
}

/* GET /<dev>/chunk/<id>, whole or one Range; a corrupt copy is refused (and logged), never served. */
static int chunk_get(node_conn_t *c, req_t *r, og_str_t dev, node_store_t *st, const uint8_t *id)
{
    char extra[160];
    uint32_t len;
    uint64_t xxh3, from, to;
    int rc;
    if ((rc = node_buf_grow(&c->body, &c->body_cap, NODE_CHUNK_MAX)) != 0)
        return respond_text(c, 500, og_strerror(rc));
    rc = node_store_chunk_get(st, id, c->body, c->body_cap, &len, &xxh3);
    if (rc == OG_ENOTFOUND)
        return respond_text(c, 404, "no such chunk\n");
    if (rc == OG_ECORRUPT) {
        char hex[2 * NODE_ID_LEN + 1];
        og_hex(id, NODE_ID_LEN, hex);
        /* Corruption must reach an operator even if no gateway-side log is watched. Logged once:
         * the store quarantined the copy, later reads find none. */
        fprintf(stderr, "onggi-node: corrupt chunk %s on device %.*s (node_store.c:%d)\n", hex, (int)dev.len,
                dev.base, node_store_corrupt_line(st));
        return respond(c, 500, "Content-Type: text/plain\r\nX-Onggi-Error: corrupt\r\n", "corrupt\n", 8);
    }
    if (rc != 0)
        return respond_text(c, 500, og_strerror(rc));
    int ranged = parse_range(og_header_find(r->hdrs, r->nhdrs, "Range"), len, &from, &to);
    if (ranged < 0) {
        snprintf(extra, sizeof(extra), "Content-Range: bytes */%" PRIu32 "\r\n", len);
        return respond(c, 416, extra, NULL, 0);
    }
    if (ranged == 0) {
        snprintf(extra, sizeof(extra), "X-Onggi-Xxh3: %016" PRIx64 "\r\n", xxh3);
        return respond(c, 200, extra, c->body, len);
    }
    snprintf(extra, sizeof(extra),
             "X-Onggi-Xxh3: %016" PRIx64 "\r\nContent-Range: bytes %" PRIu64 "-%" PRIu64 "/%" PRIu32 "\r\n", xxh3,
             from, to, len);
    return respond(c, 206, extra, c->body + from, (size_t)(to - from + 1));
}

/* /<dev>/chunk/<id> by method. */
static int handle_chunk(node_conn_t *c, req_t *r, og_str_t dev, node_store_t *st, og_str_t idhex)
{
    uint8_t id[NODE_ID_LEN];
    if (idhex.len != 2 * NODE_ID_LEN || og_unhex(idhex.base, idhex.len, id, NODE_ID_LEN) != 0)
        return respond_text(c, 400, "bad chunk id\n");
    if (og_str_eq(r->method, "PUT"))
        return chunk_put(c, r, st, id);
    if (og_str_eq(r->method, "HEAD"))
        return chunk_head(c, st, id);
    if (og_str_eq(r->method, "DELETE"))
        return chunk_delete(c, r, st, id);
    if (og_str_eq(r->method, "GET"))
        return chunk_get(c, r, dev, st, id);
    return respond_text(c, 405, "method not allowed\n");
}

/* The answer to a record PUT the store kept out (OG_EEXIST: it holds one as new or newer): 200, plus
 * X-Onggi-Newer: <ts> <tiebreak> of the stored record when that is strictly newer than the one sent,
 * so a writer can tell "already has mine" from "has a newer one" (docs/node-api.md). The stored
 * record is read again after the store's compare; a write in between only makes it newer still. */
static int rec_put_kept(node_conn_t *c, node_store_t *st, og_str_t table, og_str_t key, const void *body,
                        size_t len)
{
    static const char text[] = "stored record is as new\n";
    char extra[128] = "Content-Type: text/plain\r\n", *val = NULL;
    size_t vlen;
    og_rec_t sent, stored;
    if (node_store_rec_get(st, table, key, &val, &vlen) == 0 && og_rec_decode(body, len, &sent) == 0 &&
        og_rec_decode(val, vlen, &stored) == 0 && og_rec_cmp(&stored, &sent) > 0)
        snprintf(extra, sizeof(extra), "Content-Type: text/plain\r\nX-Onggi-Newer: %" PRIu64 " %" PRIu64 "\r\n",
                 stored.ts, stored.tiebreak);
    free(val);
    return respond(c, 200, extra, text, sizeof(text) - 1);
}

/* A record PUT's condition (?if=absent, or ?if= and 32 hex digits: the stamp's ts and tiebreak,
 * big-endian; docs/node-api.md) into *cond. 0 without one, 1 with one, OG_EINVAL when malformed. */
static int rec_cond_parse(og_str_t query, node_rec_cond_t *cond)
{
    og_str_t raw;
    uint8_t stamp[16];
    if (!og_query_get(query, "if", &raw))
        return 0;
    *cond = (node_rec_cond_t){0};
    if (og_str_eq(raw, "absent")) {
        cond->absent = 1;
        return 1;
    }
    if (raw.len != 32 || og_unhex(raw.base, raw.len, stamp, sizeof(stamp)) != 0)
        return OG_EINVAL;
    cond->ts = og_be64_get(stamp);
    cond->tiebreak = og_be64_get(stamp + 8);
    return 1;
}

/* PUT /rec/<table>/<key>[?if=...]: 201 applied, 200 kept (rec_put_kept), 412 condition failed. */
static int rec_put(node_conn_t *c, req_t *r, node_store_t *st, og_str_t table, og_str_t key)
{
    node_rec_cond_t cond;
    int has = rec_cond_parse(r->query, &cond);
    if (has < 0)
        return respond_text(c, 400, "bad condition\n");
    int rc = node_store_rec_put_if(st, table, key, r->body, r->body_len, has ? &cond : NULL);
    if (rc == 0)
        return respond_text(c, 201, "applied\n");
    if (rc == NODE_ECOND)
        return respond_text(c, 412, "condition does not hold\n");
    if (rc == OG_EEXIST)
        return rec_put_kept(c, st, table, key, r->body, r->body_len);
    if (rc == OG_EPROTO)
        return respond_text(c, 400, "malformed record\n");
    return write_error(c, rc);
}

static int handle_rec(node_conn_t *c, req_t *r, node_store_t *st, og_str_t rest)
{
    const char *slash = memchr(rest.base, '/', rest.len);
    if (!slash)
        return respond_text(c, 400, "expected rec/<table>/<key>\n");
    og_str_t table = {rest.base, (size_t)(slash - rest.base)};
    og_str_t rawkey = {slash + 1, rest.len - table.len - 1};
    long klen = decode_part(rawkey, c->key);
    if (!table_ok(table) || klen <= 0)
        return respond_text(c, 400, "bad table or key\n");
    og_str_t key = {c->key, (size_t)klen};
    int rc;
    if (og_str_eq(r->method, "PUT"))
        return rec_put(c, r, st, table, key);
    if (!og_str_eq(r->method, "GET"))
        return respond_text(c, 405, "method not allowed\n");
    char *val;
    size_t vlen;
    rc = node_store_rec_get(st, table, key, &val, &vlen);
    if (rc == OG_ENOTFOUND)
        return respond_text(c, 404, "no such record\n");
    if (rc != 0)
        return respond_text(c, 500, og_strerror(rc));
    rc = respond(c, 200, NULL, val, vlen);
    free(val);
    return rc;
}

/* Percent-decodes query parameter name into dst (HEAD_CAP bytes) as *out; absent leaves *out
 * empty. 1 present, 0 absent, OG_EINVAL malformed. */
static int query_part(og_str_t query, const char *name, char *dst, og_str_t *out)
{
    og_str_t raw;
    *out = (og_str_t){dst, 0};
    if (!og_query_get(query, name, &raw))
        return 0;
    long n = decode_part(raw, dst);
    if (n < 0)
        return OG_EINVAL;
    out->len = (size_t)n;
    return 1;
}

static int handle_list(node_conn_t *c, req_t *r, node_store_t *st, og_str_t table)
{
    node_list_q_t q = {.table = table};
    int truncated = 0;
    if (!og_str_eq(r->method, "GET"))
        return respond_text(c, 405, "method not allowed\n");
    if (!table_ok(table) || query_limit(r->query, &q.limit) != 0)
        return respond_text(c, 400, "bad table or limit\n");
    /* Query values are percent-encoded like the path ('+' is a literal plus). A listing names no
     * key, so the key buffer holds the delimiter. */
    if (query_part(r->query, "prefix", c->prefix, &q.prefix) < 0 ||
        (q.has_after = query_part(r->query, "after", c->after, &q.after)) < 0 ||
        query_part(r->query, "delimiter", c->key, &q.delim) < 0)
        return respond_text(c, 400, "bad prefix, after or delimiter\n");
    c->out_len = 0;
    int rc = node_store_rec_list(st, &q, &c->out, &c->out_cap, &c->out_len, &truncated);
    if (rc != 0)
        return respond_text(c, 500, og_strerror(rc));
    return respond(c, 200, truncated ? "X-Onggi-Truncated: 1\r\n" : NULL, c->out, c->out_len);
}

static int chunk_line(void *arg, const uint8_t id[NODE_ID_LEN], uint32_t len)
{
    node_conn_t *c = arg;
    char line[2 * NODE_ID_LEN + 16];
    og_hex(id, NODE_ID_LEN, line);
    int n = snprintf(line + 2 * NODE_ID_LEN, sizeof(line) - 2 * NODE_ID_LEN, " %" PRIu32 "\n", len);
    return out_append(c, line, 2 * NODE_ID_LEN + (size_t)n);
}

/* PUT /<dev>/chunks: a batch of chunks stored with one sync. Body: u32 n | n x (u8 id[32] | u32 len |
 * u64 xxh3) | the n chunks' bytes back to back (headers first, so a sender can lay its chunks out
 * contiguously and send them without copying). Answers 200 with one NODE_PUT_* byte per chunk. */
static int handle_chunk_batch(node_conn_t *c, req_t *r, node_store_t *st)
{
    node_chunk_in_t in[NODE_BATCH_MAX];
    char res[NODE_BATCH_MAX];
    const unsigned char *p = (const unsigned char *)r->body;
    size_t blen = r->body_len, n, off;
    if (blen < 4 || (n = og_be32_get(p)) > NODE_BATCH_MAX || blen - 4 < n * (NODE_ID_LEN + 12))
        return respond_text(c, 400, "malformed chunk batch\n");
    off = 4 + n * (NODE_ID_LEN + 12);
    for (size_t i = 0; i < n; i++) {
        const unsigned char *h = p + 4 + i * (NODE_ID_LEN + 12);
        uint32_t len = og_be32_get(h + NODE_ID_LEN);
        if (blen - off < len)
            return respond_text(c, 400, "malformed chunk batch\n");
        in[i].id = h;
        in[i].xxh3 = og_be64_get(h + NODE_ID_LEN + 4);
        in[i].buf = p + off;
        in[i].len = len;
        off += len;
    }
    if (off != blen)
        return respond_text(c, 400, "malformed chunk batch\n");
    int rc = node_store_chunk_put_many(st, in, n, res);
    if (rc != 0)
        return write_error(c, rc);
    return respond(c, 200, "Content-Type: application/octet-stream\r\n", res, n);
}

/* POST /<dev>/touch: body = ids (32 bytes each); refreshes their reference times. Answers 200 with
 * one NODE_PUT_* byte per id (E held and touched, N not held). */
static int handle_touch(node_conn_t *c, req_t *r, node_store_t *st)
{
    char res[NODE_BATCH_MAX];
    if (!og_str_eq(r->method, "POST"))
        return respond_text(c, 405, "method not allowed\n");
    if (r->body_len % NODE_ID_LEN != 0 || r->body_len / NODE_ID_LEN > NODE_BATCH_MAX)
        return respond_text(c, 400, "malformed id list\n");
    size_t n = r->body_len / NODE_ID_LEN;
    int rc = node_store_chunk_touch_many(st, (const uint8_t *)r->body, n, res);
    if (rc != 0)
        return write_error(c, rc);
    return respond(c, 200, "Content-Type: application/octet-stream\r\n", res, n);
}

/* Lays a /read answer out in c->out: per chunk a 5-byte entry head, then its bytes. A found chunk
 * gets dst[i] (where its bytes go) while the answer stays bounded (2 * NODE_CHUNK_MAX; the caller
 * reads the rest one by one); one past the bound is marked OG_ETOOBIG and answers 'F'. Grows
 * c->out once. 0 or -ENOMEM. */
static int read_layout(node_conn_t *c, node_chunk_loc_t *locs, void **dst, size_t n)
{
    size_t total = 0, limit = 2 * (size_t)NODE_CHUNK_MAX;
    for (size_t i = 0; i < n; i++) {
        if (locs[i].rc == 0 && total + 5 + locs[i].len > limit)
            locs[i].rc = OG_ETOOBIG;
        total += 5 + (locs[i].rc == 0 ? locs[i].len : 0);
    }
    int rc = node_buf_grow(&c->out, &c->out_cap, total);
    if (rc != 0)
        return rc;
    for (size_t i = 0, at = 0; i < n; i++) {
        dst[i] = locs[i].rc == 0 ? c->out + at + 5 : NULL;
        at += 5 + (locs[i].rc == 0 ? locs[i].len : 0);
    }
    c->out_len = total;
    return 0;
}

/* Writes the entry heads of a read answer laid out by read_layout: 'S' served, 'N' not held, 'C'
 * corrupt, 'F' failed. A chunk that failed after the layout gives its room back: the chunks
 * after it move down (rare: only after a failure). Logs corrupt copies. */
static void read_heads(node_conn_t *c, node_store_t *st, const uint8_t *ids, const node_chunk_loc_t *locs,
                       void *const *dst, size_t n, og_str_t dev)
{
    size_t w = 0;
    for (size_t i = 0; i < n; i++) {
        int rc = locs[i].rc;
        uint32_t len = rc == 0 ? locs[i].len : 0;
        unsigned char *h = (unsigned char *)c->out + w;
        if (rc == 0 && (char *)dst[i] != c->out + w + 5)
            memmove(h + 5, dst[i], len);
        if (rc == OG_ECORRUPT) {
            char hex[2 * NODE_ID_LEN + 1];
            og_hex(ids + i * NODE_ID_LEN, NODE_ID_LEN, hex);
            fprintf(stderr, "onggi-node: corrupt chunk %s on device %.*s (node_store.c:%d)\n", hex, (int)dev.len,
                    dev.base, node_store_corrupt_line(st));
        }
        h[0] = rc == 0 ? 'S' : rc == OG_ENOTFOUND ? 'N' : rc == OG_ECORRUPT ? 'C' : 'F';
        og_be32_put(h + 1, len);
        w += 5 + len;
    }
    c->out_len = w;
}

/* POST /<dev>/read: body = ids (32 bytes each, at most NODE_BATCH_MAX). Answers 200 with, per id in
 * order, u8 status ('S' served, 'N' not held, 'C' corrupt, 'F' failed) | u32 len | len bytes (the
 * whole chunk, verified like a GET). Many small chunks then cost one round trip, not one each,
 * and one index look-up and, per run of chunks stored back to back, one disk read. */
static int handle_read_many(node_conn_t *c, req_t *r, node_store_t *st, og_str_t dev)
{
    if (!og_str_eq(r->method, "POST"))
        return respond_text(c, 405, "method not allowed\n");
    if (r->body_len % NODE_ID_LEN != 0 || r->body_len / NODE_ID_LEN > NODE_BATCH_MAX)
        return respond_text(c, 400, "malformed id list\n");
    size_t n = r->body_len / NODE_ID_LEN;
    const uint8_t *ids = (const uint8_t *)r->body;
    node_chunk_loc_t *locs = malloc(n * sizeof(*locs) + 1);
    void **dst = malloc(n * sizeof(*dst) + 1);
    int rc = locs && dst ? 0 : -ENOMEM;
    if (rc == 0) {
        node_store_chunk_locate(st, ids, n, locs);
        rc = read_layout(c, locs, dst, n);
    }
    if (rc == 0) {
        node_store_chunk_read_located(st, ids, locs, dst, n);
        read_heads(c, st, ids, locs, dst, n, dev);
    }
    free(dst);
    free(locs);
    if (rc != 0)
        return respond_text(c, 500, "out of memory\n");
    return respond(c, 200, "Content-Type: application/octet-stream\r\n", c->out, c->out_len);
}

static int table_line(void *arg, og_str_t table)
{
    node_conn_t *c = arg;
    int rc = out_append(c, table.base, table.len);
    return rc ? rc : out_append(c, "\n", 1);
}

/* GET /<dev>/tables: every table with at least one record, one per line (garbage collection). */
static int handle_tables(node_conn_t *c, req_t *r, node_store_t *st)
{
    if (!og_str_eq(r->method, "GET"))
        return respond_text(c, 405, "method not allowed\n");
    c->out_len = 0;
    int rc = node_store_table_list(st, table_line, c);
    if (rc != 0)
        return respond_text(c, 500, og_strerror(rc));
    return respond(c, 200, "Content-Type: text/plain\r\n", c->out, c->out_len);
}

static int handle_chunks(node_conn_t *c, req_t *r, node_store_t *st)
{
    uint8_t after[NODE_ID_LEN];
    og_str_t raw;
    size_t limit;
    int has_after = 0, truncated = 0;
    if (og_str_eq(r->method, "PUT"))
        return handle_chunk_batch(c, r, st);
    if (!og_str_eq(r->method, "GET"))
        return respond_text(c, 405, "method not allowed\n");
    if (query_limit(r->query, &limit) != 0)
        return respond_text(c, 400, "bad limit\n");
    if (og_query_get(r->query, "after", &raw)) {
        if (og_unhex(raw.base, raw.len, after, NODE_ID_LEN) != 0)
            return respond_text(c, 400, "bad after\n");
        has_after = 1;
    }
    c->out_len = 0;
    int rc = node_store_chunk_list(st, has_after ? after : NULL, limit, chunk_line, c, &truncated);
    if (rc != 0)
        return respond_text(c, 500, og_strerror(rc));
    return respond(c, 200, truncated ? "Content-Type: text/plain\r\nX-Onggi-Truncated: 1\r\n"
                                     : "Content-Type: text/plain\r\n",
                   c->out, c->out_len);
}

/* Appends the device's replication counters to the /stat JSON (json, at n of cap). Returns the
 * new length. */
static int stat_repl(char *json, int n, size_t cap, const node_repl_stat_t *p)
{
    return n + snprintf(json + n, cap - (size_t)n,
                        ",\"repl_passes\":%" PRIu64 ",\"repl_last_start_ms\":%" PRIu64 ",\"repl_last_end_ms\":%" PRIu64
                        ",\"repl_parts_checked\":%" PRIu64 ",\"repl_parts_in_sync\":%" PRIu64
                        ",\"repl_items_pushed\":%" PRIu64 ",\"repl_bytes_pushed\":%" PRIu64
                        ",\"repl_handoff_items\":%" PRIu64 ",\"repl_handoff_bytes\":%" PRIu64
                        ",\"repl_moved_items\":%" PRIu64 ",\"repl_moved_bytes\":%" PRIu64
                        ",\"repl_ring_epoch\":%" PRIu64 ",\"repl_items_removed\":%" PRIu64 ",\"repl_errors\":%" PRIu64,
                        atomic_load(&p->passes), atomic_load(&p->last_start_ms), atomic_load(&p->last_end_ms),
                        atomic_load(&p->parts_checked), atomic_load(&p->parts_in_sync), atomic_load(&p->items_pushed),
                        atomic_load(&p->bytes_pushed), atomic_load(&p->handoff_items), atomic_load(&p->handoff_bytes),
                        atomic_load(&p->moved_items), atomic_load(&p->moved_bytes), atomic_load(&p->ring_epoch),
                        atomic_load(&p->items_removed), atomic_load(&p->errors));
}

/* The scrubber's part of GET /<dev>/stat into json (cap bytes). Its length. */
static int stat_scrub_json(char *json, size_t cap, node_scrub_t *sc)
{
    node_scrub_stat_t z = {0};
    if (sc)
        node_scrub_stat(sc, &z);
    return snprintf(json, cap,
                    "\"scrub\":{\"running\":%s,\"phase\":\"%s\",\"chunk_progress\":%.4f,\"pass_start_ns\":%" PRIu64
                    ",\"last_pass_ns\":%" PRIu64 ",\"passes\":%" PRIu64 ",\"chunks_verified\":%" PRIu64
                    ",\"bytes_verified\":%" PRIu64 ",\"corrupt_found\":%" PRIu64 ",\"records_verified\":%" PRIu64
                    ",\"records_bad\":%" PRIu64 "}",
                    z.running ? "true" : "false", z.phase == 'c' ? "chunks" : z.phase == 'r' ? "records" : "idle",
                    z.chunk_progress, z.pass_start_ns, z.last_pass_ns, z.passes, z.chunks_verified, z.bytes_verified,
                    z.corrupt_found, z.records_verified, z.records_bad);
}

static int handle_stat(node_conn_t *c, req_t *r, const node_dev_t *d)
{
    node_stat_t s;
    char json[2048];
    if (!og_str_eq(r->method, "GET"))
        return respond_text(c, 405, "method not allowed\n");
    node_store_stat(d->store, &s);
    int n = snprintf(json, sizeof(json),
                     "{\"chunks\":%" PRIu64 ",\"chunk_bytes\":%" PRIu64 ",\"records\":%" PRIu64
                     ",\"volume_bytes\":%" PRIu64 ",\"allocated_bytes\":%" PRIu64 ",\"dead_bytes\":%" PRIu64
                     ",\"state\":\"%s\",\"last_error\":\"%s\",\"last_error_ns\":%" PRIu64
                     ",\"free_bytes\":%" PRIu64 ",\"total_bytes\":%" PRIu64 ",\"quarantined\":%" PRIu64,
                     s.chunks, s.chunk_bytes, s.records, s.volume_bytes, s.allocated_bytes, s.dead_bytes,
                     dev_state_name(s.state), s.last_errno ? strerror(s.last_errno) : "", s.last_error_ns,
                     s.free_bytes, s.total_bytes, s.quarantined);
    if (d->repl)
        n = stat_repl(json, n, sizeof(json), d->repl);
    json[n++] = ',';
    n += stat_scrub_json(json + n, sizeof(json) - (size_t)n - 1, d->scrub);
    json[n++] = '}';
    return respond(c, 200, "Content-Type: application/json\r\n", json, (size_t)n);
}

/* GET /health: 200 while the process serves. Body "ok" when every device is ok, else "degraded"
 * and one "<dev> <state>" line per device that is not. */
static int handle_health(node_conn_t *c, req_t *r)
{
    node_server_t *srv = c->srv;
    node_stat_t s;
    if (!og_str_eq(r->method, "GET") && !og_str_eq(r->method, "HEAD"))
        return respond_text(c, 405, "method not allowed\n");
    c->out_len = 0;
    for (size_t i = 0; i < srv->ndevs; i++) {
        char line[320];
        node_store_stat(srv->devs[i].store, &s);
        if (s.state == NODE_DEV_OK)
            continue;
        int n = snprintf(line, sizeof(line), "%s%s %s\n", c->out_len ? "" : "degraded\n", srv->devs[i].name,
                         dev_state_name(s.state));
        if (out_append(c, line, (size_t)n) != 0)
            return respond_text(c, 500, "out of memory\n");
    }
    if (c->out_len == 0)
        return respond_ex(c, 200, NULL, "ok", 2, og_str_eq(r->method, "HEAD"));
    return respond_ex(c, 200, "Content-Type: text/plain\r\n", c->out, c->out_len, og_str_eq(r->method, "HEAD"));
}

/* GET /<dev>/usage/<table>: the table's live records and their bytes on this device (O(1)). */
static int handle_usage(node_conn_t *c, req_t *r, node_store_t *st, og_str_t table)
{
    uint64_t records, bytes;
    char json[96];
    if (!og_str_eq(r->method, "GET"))
        return respond_text(c, 405, "method not allowed\n");
    if (!table_ok(table))
        return respond_text(c, 400, "bad table\n");
    int rc = node_store_table_usage(st, table, &records, &bytes);
    if (rc != 0)
        return respond_text(c, 500, og_strerror(rc));
    int n = snprintf(json, sizeof(json), "{\"records\":%" PRIu64 ",\"bytes\":%" PRIu64 "}", records, bytes);
    return respond(c, 200, "Content-Type: application/json\r\n", json, (size_t)n);
}

/* ---- partitions (anti-entropy, node_repl.c) ---- */

static int summary_entry(void *arg, uint32_t part, uint64_t count, uint64_t digest)
{
    node_conn_t *c = arg;
    unsigned char e[20];
    og_be32_put(e, part);
    og_be64_put(e + 4, count);
    og_be64_put(e + 12, digest);
    return out_append(c, (const char *)e, sizeof(e));
}

/* GET /<dev>/summaries: every partition holding items, n x (u32 part, u64 count, u64 digest). */
static int handle_summaries(node_conn_t *c, req_t *r, node_store_t *st)
{
    if (!og_str_eq(r->method, "GET"))
        return respond_text(c, 405, "method not allowed\n");
    c->out_len = 0;
    int rc = node_store_part_summaries(st, summary_entry, c);
    if (rc != 0)
        return respond_text(c, 500, og_strerror(rc));
    return respond(c, 200, NULL, c->out, c->out_len);
}

static int part_entry(void *arg, const char *item, size_t len, uint64_t hash)
{
    node_conn_t *c = arg;
    unsigned char h[10];
    og_be16_put(h, (uint16_t)len);
    og_be64_put(h + 2, hash);
    int rc = out_append(c, (const char *)h, 2);
    if (rc == 0)
        rc = out_append(c, item, len);
    return rc == 0 ? out_append(c, (const char *)h + 2, 8) : rc;
}

/* GET /<dev>/part/<n>/list?after=<hex item>&limit=N: the partition's items in item order, each
 * u16 len | item | u64 item hash. */
static int part_list(node_conn_t *c, req_t *r, node_store_t *st, uint32_t part)
{
    og_str_t raw;
    size_t limit, alen = 0;
    int truncated;
    if (query_limit(r->query, &limit) != 0)
        return respond_text(c, 400, "bad limit\n");
    if (og_query_get(r->query, "after", &raw)) {
        alen = raw.len / 2;
        if (raw.len % 2 || alen == 0 || alen > HEAD_CAP || og_unhex(raw.base, raw.len, c->after, alen) != 0)
            return respond_text(c, 400, "bad after\n");
    }
    c->out_len = 0;
    int rc = node_store_part_list(st, part, alen ? c->after : NULL, alen, limit, part_entry, c, &truncated);
    if (rc != 0)
        return respond_text(c, 500, og_strerror(rc));
    return respond(c, 200, truncated ? "X-Onggi-Truncated: 1\r\n" : NULL, c->out, c->out_len);
}

/* /<dev>/part/<n>/summary (JSON) and /<dev>/part/<n>/list. */
static int handle_part(node_conn_t *c, req_t *r, node_store_t *st, og_str_t rest)
{
    const char *slash = memchr(rest.base, '/', rest.len);
    uint64_t part, count, digest;
    if (!slash || parse_u64((og_str_t){rest.base, (size_t)(slash - rest.base)}, &part) != 0 || part > UINT32_MAX)
        return respond_text(c, 400, "expected part/<n>/summary or part/<n>/list\n");
    og_str_t what = {slash + 1, rest.len - (size_t)(slash + 1 - rest.base)};
    if (!og_str_eq(r->method, "GET"))
        return respond_text(c, 405, "method not allowed\n");
    if (og_str_eq(what, "list"))
        return part_list(c, r, st, (uint32_t)part);
    if (!og_str_eq(what, "summary"))
        return respond_text(c, 404, "not found\n");
    int rc = node_store_part_summary(st, (uint32_t)part, &count, &digest);
    if (rc != 0)
        return respond_text(c, 500, og_strerror(rc));
    char json[96];
    int n = snprintf(json, sizeof(json), "{\"count\":%" PRIu64 ",\"digest\":\"%016" PRIx64 "\"}", count, digest);
    return respond(c, 200, "Content-Type: application/json\r\n", json, (size_t)n);
}

/* GET /ring: the ring in use (file bytes; X-Onggi-Ring-Epoch). PUT /ring: installs the ring in
 * the body when it is newer (node_ring_install): 201 installed, 200 already in use, 409 older or
 * conflicting, 400 not a ring this node can use. */
static int handle_ring(node_conn_t *c, req_t *r)
{
    node_ring_t *nr = c->srv->ring;
    uint8_t *b = NULL;
    size_t len = 0;
    char hdr[64];
    if (!nr)
        return respond_text(c, 404, "not found\n");
    if (og_str_eq(r->method, "PUT")) {
        int rc = node_ring_install(nr, r->body, r->body_len);
        if (rc == 0 || rc == OG_EEXIST)
            return respond_text(c, rc == 0 ? 201 : 200, rc == 0 ? "installed\n" : "already in use\n");
        if (rc == RING_ESTALE || rc == RING_ECONFLICT)
            return respond_text(c, 409,
                                rc == RING_ESTALE ? "older than the ring in use\n"
                                                  : "same epoch as the ring in use, other content\n");
        if (rc == RING_EBADFILE || rc == OG_EINVAL)
            return respond_text(
                c, 400, rc == OG_EINVAL ? "part power or replicas differ from the ring in use\n" : "not a ring file\n");
        return respond_text(c, 500, og_strerror(rc));
    }
    if (!og_str_eq(r->method, "GET"))
        return respond_text(c, 405, "method not allowed\n");
    ring_view_t v;
    ring_box_get(node_ring_box(nr), &v);
    int rc = ring_to_bytes(v.ring, &b, &len);
    snprintf(hdr, sizeof(hdr), "X-Onggi-Ring-Epoch: %" PRIu64 "\r\n", ring_epoch(v.ring));
    ring_box_put(node_ring_box(nr), &v);
    if (rc != 0)
        return respond_text(c, 500, og_strerror(rc));
    rc = respond(c, 200, hdr, b, len);
    free(b);
    return rc;
}

static int dispatch_dev(node_conn_t *c, req_t *r, og_str_t dev, const node_dev_t *d, og_str_t rest);

/* Routes one request (node_srv.h). */
int node_srv_dispatch(node_conn_t *c, req_t *r)
{
    og_str_t p = r->path;
    if (og_str_eq(p, "/health"))
        return handle_health(c, r);
    if (og_str_eq(p, "/ring"))
        return handle_ring(c, r);
    if (p.len < 2 || p.base[0] != '/')
        return respond_text(c, 404, "not found\n");
    const char *slash = memchr(p.base + 1, '/', p.len - 1);
    og_str_t dev = {p.base + 1, slash ? (size_t)(slash - p.base - 1) : p.len - 1};
    og_str_t rest = slash ? (og_str_t){slash + 1, p.len - dev.len - 2} : (og_str_t){"", 0};
    const node_dev_t *d = dev_find(c->srv, dev);
    if (!d)
        return respond_text(c, 404, "no such device\n");
    int rc = dispatch_dev(c, r, dev, d, rest);
    dev_log_news(d);
    return rc;
}

/* Routes one request for device d (named dev) by the rest of its path. */
static int dispatch_dev(node_conn_t *c, req_t *r, og_str_t dev, const node_dev_t *d, og_str_t rest)
{
    node_store_t *st = d->store;
    if (rest.len > 6 && memcmp(rest.base, "chunk/", 6) == 0)
        return handle_chunk(c, r, dev, st, (og_str_t){rest.base + 6, rest.len - 6});
    if (rest.len > 4 && memcmp(rest.base, "rec/", 4) == 0)
        return handle_rec(c, r, st, (og_str_t){rest.base + 4, rest.len - 4});
    if (rest.len > 5 && memcmp(rest.base, "list/", 5) == 0)
        return handle_list(c, r, st, (og_str_t){rest.base + 5, rest.len - 5});
    if (rest.len > 6 && memcmp(rest.base, "usage/", 6) == 0)
        return handle_usage(c, r, st, (og_str_t){rest.base + 6, rest.len - 6});
    if (rest.len > 5 && memcmp(rest.base, "part/", 5) == 0)
        return handle_part(c, r, st, (og_str_t){rest.base + 5, rest.len - 5});
    if (og_str_eq(rest, "summaries"))
        return handle_summaries(c, r, st);
    if (og_str_eq(rest, "chunks"))
        return handle_chunks(c, r, st);
    if (og_str_eq(rest, "stat"))
        return handle_stat(c, r, d);
    if (og_str_eq(rest, "touch"))
        return handle_touch(c, r, st);
    if (og_str_eq(rest, "read"))
        return handle_read_many(c, r, st, dev);
    if (og_str_eq(rest, "tables"))
        return handle_tables(c, r, st);
    return respond_text(c, 404, "not found\n");
}

