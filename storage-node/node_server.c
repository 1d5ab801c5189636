/*
 * node_server.c: the storage node's HTTP/1.1 server for the internal API (docs/node-api.md).
 *
 * Plain blocking sockets: an accept thread and one thread per connection, at most max_conns.
 * Storage work is blocking by nature (fdatasync, RocksDB reads and synced writes), so a thread
 * per connection is the right fit: an event loop would hand every request to a thread pool
 * anyway. Gateways keep a small pool of keep-alive connections per node, so the thread count
 * stays small. Heads are parsed with picohttpparser; bodies use Content-Length framing only
 * and are read whole into a per-connection buffer (at most NODE_CHUNK_MAX), which is reused
 * to send chunk reads.
 */
#include "node_int.h"
#include "og_http.h"
#include "og_rec.h"
#include "ring.h"

#include <arpa/inet.h>
#include <errno.h>
#include <inttypes.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/socket.h>
#include <sys/uio.h>
#include <unistd.h>

#define HEAD_CAP 16384       /* request head; keys are at most a few KiB percent-encoded */
#define MAX_HEADERS 32
#define IO_TIMEOUT_S 60      /* idle keep-alive connections and stalled peers are dropped */
#define BODY_MAX NODE_CHUNK_MAX /* also OG_REC_MAX_LEN: the largest record */

typedef struct st_node_conn_t node_conn_t;

struct st_node_server_t {
    int lfd;
    uint16_t port;
    node_dev_t *devs;
    size_t ndevs;
    size_t max_conns;
    pthread_t accept_th;

    pthread_mutex_t mu; /* guards everything below */
    pthread_cond_t cv;  /* a connection ended, or stop began */
    node_conn_t **conns; /* max_conns slots, NULL when free */
    size_t nconns;
    atomic_int stopping; /* set under mu; also read without it to add Connection: close */
    _Atomic(node_ring_t *) ring; /* GET/PUT /ring; NULL until node_server_set_ring */
};

struct st_node_conn_t {
    node_server_t *srv;
    int fd;
    size_t slot;
    int busy; /* a request is in flight (under srv->mu): stop lets it finish */
    int keepalive;

    char head[HEAD_CAP];
    size_t hlen; /* bytes in head: the current request's head, then possibly pipelined bytes */

    char *body; /* request body, then a chunk being sent; grows up to NODE_CHUNK_MAX */
    size_t body_cap;
    char *out; /* list/stat responses */
    size_t out_cap, out_len;

    /* percent-decoded path and query parts of the current request */
    char key[HEAD_CAP], prefix[HEAD_CAP], after[HEAD_CAP];
};

/* One parsed request: slices into conn->head / conn->body. */
typedef struct {
    og_str_t method, path, query;
    og_header_t hdrs[MAX_HEADERS];
    size_t nhdrs;
    const char *body;
    size_t body_len;
} req_t;

static const char *reason(int status)
{
    switch (status) {
    case 200: return "OK";
    case 201: return "Created";
    case 204: return "No Content";
    case 206: return "Partial Content";
    case 400: return "Bad Request";
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

/* ---- socket I/O ---- */

static int send_all(int fd, struct iovec *iov, int n)
{
    while (n > 0) {
        struct msghdr msg = {.msg_iov = iov, .msg_iovlen = (size_t)n};
        ssize_t w = sendmsg(fd, &msg, MSG_NOSIGNAL);
        if (w < 0) {
            if (errno == EINTR)
                continue;
            return -errno;
        }
        size_t left = (size_t)w;
        while (n > 0 && left >= iov->iov_len) {
            left -= iov->iov_len;
            iov++, n--;
        }
        if (n > 0) {
            iov->iov_base = (char *)iov->iov_base + left;
            iov->iov_len -= left;
        }
    }
    return 0;
}

/* 0, or -errno / OG_ECLOSED when the peer closed first. */
static int recv_all(int fd, char *buf, size_t len)
{
    while (len > 0) {
        ssize_t r = recv(fd, buf, len, 0);
        if (r < 0) {
            if (errno == EINTR)
                continue;
            return -errno;
        }
        if (r == 0)
            return OG_ECLOSED;
        buf += r, len -= (size_t)r;
    }
    return 0;
}

/* Sends a response. head_only: HEAD, Content-Length says content_len but no body follows. */
static int respond_ex(node_conn_t *c, int status, const char *extra, const void *body, size_t content_len,
                      int head_only)
{
    char h[512];
    int n = snprintf(h, sizeof(h), "HTTP/1.1 %d %s\r\nContent-Length: %zu\r\n%s%s\r\n", status, reason(status),
                     content_len, extra ? extra : "", c->keepalive ? "" : "Connection: close\r\n");
    if (n < 0 || (size_t)n >= sizeof(h))
        return OG_ETOOBIG;
    struct iovec iov[2] = {{h, (size_t)n}, {(void *)body, head_only ? 0 : content_len}};
    return send_all(c->fd, iov, head_only || content_len == 0 ? 1 : 2);
}

static int respond(node_conn_t *c, int status, const char *extra, const void *body, size_t len)
{
    return respond_ex(c, status, extra, body, len, 0);
}

static int respond_text(node_conn_t *c, int status, const char *text)
{
    return respond(c, status, "Content-Type: text/plain\r\n", text, strlen(text));
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
    if (og_str_eq(r->method, "PUT")) {
        rc = node_store_rec_put(st, table, key, r->body, r->body_len);
        if (rc == 0)
            return respond_text(c, 201, "applied\n");
        if (rc == OG_EEXIST)
            return rec_put_kept(c, st, table, key, r->body, r->body_len);
        if (rc == OG_EPROTO)
            return respond_text(c, 400, "malformed record\n");
        return write_error(c, rc);
    }
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

static int handle_list(node_conn_t *c, req_t *r, node_store_t *st, og_str_t table)
{
    og_str_t raw, prefix = {c->prefix, 0}, after = {c->after, 0};
    size_t limit;
    int has_after = 0, truncated = 0;
    long n;
    if (!og_str_eq(r->method, "GET"))
        return respond_text(c, 405, "method not allowed\n");
    if (!table_ok(table) || query_limit(r->query, &limit) != 0)
        return respond_text(c, 400, "bad table or limit\n");
    /* Query values are percent-encoded like the path ('+' is a literal plus). */
    if (og_query_get(r->query, "prefix", &raw)) {
        if ((n = decode_part(raw, c->prefix)) < 0)
            return respond_text(c, 400, "bad prefix\n");
        prefix.len = (size_t)n;
    }
    if (og_query_get(r->query, "after", &raw)) {
        if ((n = decode_part(raw, c->after)) < 0)
            return respond_text(c, 400, "bad after\n");
        after.len = (size_t)n;
        has_after = 1;
    }
    c->out_len = 0;
    int rc = node_store_rec_list(st, table, prefix, after, has_after, limit, &c->out, &c->out_cap, &c->out_len,
                                 &truncated);
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

/* POST /<dev>/read: body = ids (32 bytes each, at most NODE_BATCH_MAX). Answers 200 with, per id in
 * order, u8 status ('S' served, 'N' not held, 'C' corrupt, 'F' failed) | u32 len | len bytes (the
 * whole chunk, verified like a GET). Many small chunks then cost one round trip, not one each. */
static int handle_read_many(node_conn_t *c, req_t *r, node_store_t *st, og_str_t dev)
{
    if (!og_str_eq(r->method, "POST"))
        return respond_text(c, 405, "method not allowed\n");
    if (r->body_len % NODE_ID_LEN != 0 || r->body_len / NODE_ID_LEN > NODE_BATCH_MAX)
        return respond_text(c, 400, "malformed id list\n");
    size_t n = r->body_len / NODE_ID_LEN;
    c->out_len = 0;
    for (size_t i = 0; i < n; i++) {
        const uint8_t *id = (const uint8_t *)r->body + i * NODE_ID_LEN;
        uint32_t len = 0;
        uint64_t xxh3;
        int rc = node_store_chunk_stat(st, id, &len, &xxh3);
        if (rc == 0 && c->out_len + 5 + (size_t)len > 2 * (size_t)NODE_CHUNK_MAX)
            rc = OG_ETOOBIG; /* the answer stays bounded: the caller reads the rest one by one */
        if (rc == 0 && (rc = node_buf_grow(&c->out, &c->out_cap, c->out_len + 5 + len)) == 0) {
            rc = node_store_chunk_get(st, id, c->out + c->out_len + 5, len, &len, &xxh3);
            if (rc == OG_ECORRUPT) {
                char hex[2 * NODE_ID_LEN + 1];
                og_hex(id, NODE_ID_LEN, hex);
                fprintf(stderr, "onggi-node: corrupt chunk %s on device %.*s (node_store.c:%d)\n", hex,
                        (int)dev.len, dev.base, node_store_corrupt_line(st));
            }
        }
        unsigned char *h;
        if (rc != 0 && node_buf_grow(&c->out, &c->out_cap, c->out_len + 5) != 0)
            return respond_text(c, 500, "out of memory\n");
        h = (unsigned char *)c->out + c->out_len;
        h[0] = rc == 0 ? 'S' : rc == OG_ENOTFOUND ? 'N' : rc == OG_ECORRUPT ? 'C' : 'F';
        if (rc != 0)
            len = 0;
        og_be32_put(h + 1, len);
        c->out_len += 5 + len;
    }
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
        if (raw.len % 2 || alen == 0 || alen > sizeof(c->after) || og_unhex(raw.base, raw.len, c->after, alen) != 0)
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
    node_ring_t *nr = atomic_load(&c->srv->ring);
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

/* Routes one request. Returns 0, or an error when the response could not be sent. */
static int dispatch(node_conn_t *c, req_t *r)
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

/* ---- connection loop ---- */

/* Marks the connection busy when a request starts; 0, or 1 when the server is stopping. */
static int conn_begin(node_conn_t *c)
{
    node_server_t *srv = c->srv;
    pthread_mutex_lock(&srv->mu);
    int stop = srv->stopping;
    if (!stop)
        c->busy = 1;
    pthread_mutex_unlock(&srv->mu);
    return stop;
}

/* Ends a request; 1 when the server is stopping (the connection then closes). */
static int conn_end(node_conn_t *c)
{
    node_server_t *srv = c->srv;
    pthread_mutex_lock(&srv->mu);
    c->busy = 0;
    int stop = srv->stopping;
    pthread_mutex_unlock(&srv->mu);
    return stop;
}

/* Reads until c->head holds a whole request head and parses it into r (method, path, query,
 * headers: slices of c->head) and *minor. The head's length, or -1 to close the connection
 * (after an error answer where one is due). */
static int conn_read_head(node_conn_t *c, req_t *r, int *minor)
{
    struct phr_header ph[MAX_HEADERS];
    const char *method, *path;
    size_t mlen, plen, nh;
    int hl;

    for (;;) {
        nh = MAX_HEADERS;
        hl = c->hlen ? phr_parse_request(c->head, c->hlen, &method, &mlen, &path, &plen, minor, ph, &nh, 0) : -2;
        if (hl > 0)
            break;
        if (hl == -1) {
            c->keepalive = 0;
            respond_text(c, 400, "bad request\n");
            return -1;
        }
        if (c->hlen == HEAD_CAP) {
            c->keepalive = 0;
            respond_text(c, 431, "head too large\n");
            return -1;
        }
        ssize_t got = recv(c->fd, c->head + c->hlen, HEAD_CAP - c->hlen, 0);
        if (got <= 0) {
            if (got < 0 && errno == EINTR)
                continue;
            return -1; /* peer closed, idle timeout, or shut down by stop */
        }
        if (c->hlen == 0 && conn_begin(c))
            return -1;
        c->hlen += (size_t)got;
    }
    r->method = (og_str_t){method, mlen};
    const char *q = memchr(path, '?', plen);
    r->path = (og_str_t){path, q ? (size_t)(q - path) : plen};
    r->query = q ? (og_str_t){q + 1, plen - r->path.len - 1} : (og_str_t){"", 0};
    r->nhdrs = nh;
    for (size_t i = 0; i < nh; i++)
        r->hdrs[i] = (og_header_t){{ph[i].name, ph[i].name_len}, {ph[i].value, ph[i].value_len}};
    return hl;
}

/* Sets c->keepalive from the request's version and Connection header and checks its framing:
 * Content-Length only, at most BODY_MAX. 0 and *clen, or -1 to close (answered). */
static int conn_body_len(node_conn_t *c, const req_t *r, int minor, uint64_t *clen)
{
    og_str_t conn_h = og_header_find(r->hdrs, r->nhdrs, "Connection");
    c->keepalive = minor >= 1 ? !og_str_ieq(conn_h, "close") : og_str_ieq(conn_h, "keep-alive");

    *clen = 0;
    og_str_t cl = og_header_find(r->hdrs, r->nhdrs, "Content-Length");
    if (og_header_find(r->hdrs, r->nhdrs, "Transfer-Encoding").base) {
        c->keepalive = 0;
        respond_text(c, 411, "Content-Length framing only\n");
        return -1;
    }
    if (cl.base && parse_u64(cl, clen) != 0) {
        c->keepalive = 0;
        respond_text(c, 400, "bad Content-Length\n");
        return -1;
    }
    if (*clen > BODY_MAX) {
        /* The body is not read: close rather than drain up to gigabytes. */
        c->keepalive = 0;
        respond_text(c, 413, "body too large\n");
        return -1;
    }
    return 0;
}

/* Reads the clen-byte body into c->body: what followed the head (hl bytes) in c->head, then
 * straight from the socket. Sets r->body and *take (body bytes taken from c->head). 0 or -1. */
static int conn_read_body(node_conn_t *c, req_t *r, size_t hl, uint64_t clen, size_t *take)
{
    size_t have = c->hlen - hl;
    *take = have < clen ? have : (size_t)clen;
    if (node_buf_grow(&c->body, &c->body_cap, (size_t)clen) != 0) {
        c->keepalive = 0;
        respond_text(c, 500, "out of memory\n");
        return -1;
    }
    if (clen > *take && og_header_find(r->hdrs, r->nhdrs, "Expect").base) {
        static const char cont[] = "HTTP/1.1 100 Continue\r\n\r\n";
        struct iovec iov = {(void *)cont, sizeof(cont) - 1};
        if (send_all(c->fd, &iov, 1) != 0)
            return -1;
    }
    if (*take)
        memcpy(c->body, c->head + hl, *take);
    if (clen > *take && recv_all(c->fd, c->body + *take, (size_t)clen - *take) != 0)
        return -1;
    r->body = c->body;
    r->body_len = (size_t)clen;
    return 0;
}

/* Reads and answers one request. 0 to keep the connection, anything else to close it. */
static int conn_serve_one(node_conn_t *c)
{
    req_t r;
    uint64_t clen;
    size_t take;
    int minor, hl, rc;

    if ((hl = conn_read_head(c, &r, &minor)) < 0 || conn_body_len(c, &r, minor, &clen) != 0 ||
        conn_read_body(c, &r, (size_t)hl, clen, &take) != 0)
        return -1;
    if (atomic_load(&c->srv->stopping))
        c->keepalive = 0; /* tell the client this connection ends after the answer */

    rc = dispatch(c, &r);
    /* Keep pipelined bytes for the next request (r's slices die here). */
    size_t used = (size_t)hl + take;
    memmove(c->head, c->head + used, c->hlen - used);
    c->hlen -= used;
    if (conn_end(c) || rc != 0 || !c->keepalive)
        return -1;
    if (c->hlen > 0 && conn_begin(c))
        return -1;
    return 0;
}

static void *conn_main(void *arg)
{
    node_conn_t *c = arg;
    node_server_t *srv = c->srv;
    while (conn_serve_one(c) == 0)
        ;
    close(c->fd);
    free(c->body);
    free(c->out);
    pthread_mutex_lock(&srv->mu);
    srv->conns[c->slot] = NULL;
    srv->nconns--;
    pthread_cond_broadcast(&srv->cv);
    pthread_mutex_unlock(&srv->mu);
    free(c);
    return NULL;
}

static void *accept_main(void *arg)
{
    node_server_t *srv = arg;
    for (;;) {
        pthread_mutex_lock(&srv->mu);
        /* Bounded threads: further connections wait in the listen backlog. */
        while (!srv->stopping && srv->nconns >= srv->max_conns)
            pthread_cond_wait(&srv->cv, &srv->mu);
        int stop = srv->stopping;
        pthread_mutex_unlock(&srv->mu);
        if (stop)
            break;

        int fd = accept4(srv->lfd, NULL, NULL, SOCK_CLOEXEC);
        if (fd < 0) {
            if (errno == EMFILE || errno == ENFILE || errno == ENOMEM || errno == ENOBUFS)
                usleep(10000); /* out of resources: do not spin */
            continue;          /* also EINVAL after stop's shutdown(): the loop head sees it */
        }
        int one = 1;
        struct timeval tv = {IO_TIMEOUT_S, 0};
        setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
        setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
        setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof(tv));

        node_conn_t *c = calloc(1, sizeof(*c));
        if (!c) {
            close(fd);
            continue;
        }
        c->srv = srv;
        c->fd = fd;

        pthread_mutex_lock(&srv->mu);
        if (srv->stopping) {
            /* Stop's sweep of idle connections has already run: this one would not be woken. */
            pthread_mutex_unlock(&srv->mu);
            close(fd);
            free(c);
            break;
        }
        for (c->slot = 0; srv->conns[c->slot]; c->slot++)
            ;
        srv->conns[c->slot] = c;
        srv->nconns++;
        pthread_mutex_unlock(&srv->mu);

        pthread_attr_t attr;
        pthread_t th;
        pthread_attr_init(&attr);
        pthread_attr_setdetachstate(&attr, PTHREAD_CREATE_DETACHED);
        int prc = pthread_create(&th, &attr, conn_main, c);
        pthread_attr_destroy(&attr);
        if (prc != 0) {
            close(fd);
            pthread_mutex_lock(&srv->mu);
            srv->conns[c->slot] = NULL;
            srv->nconns--;
            pthread_mutex_unlock(&srv->mu);
            free(c);
            usleep(10000);
        }
    }
    return NULL;
}

int node_server_start(const char *listen_addr, const node_dev_t *devs, size_t ndevs, size_t max_conns,
                      node_server_t **out)
{
    int rc;
    og_addr_t la;
    if (max_conns == 0 || og_addr_parse(listen_addr, &la) != 0)
        return OG_EINVAL;
    struct sockaddr_storage bound;
    socklen_t blen = sizeof(bound);
    node_server_t *srv = calloc(1, sizeof(*srv));
    if (!srv)
        return -ENOMEM;
    srv->lfd = -1;
    pthread_mutex_init(&srv->mu, NULL);
    pthread_cond_init(&srv->cv, NULL);
    srv->max_conns = max_conns;
    srv->ndevs = ndevs;
    srv->devs = calloc(ndevs ? ndevs : 1, sizeof(*devs));
    srv->conns = calloc(max_conns, sizeof(*srv->conns));
    if (!srv->devs || !srv->conns) {
        rc = -ENOMEM;
        goto out_free;
    }
    if (ndevs)
        memcpy(srv->devs, devs, ndevs * sizeof(*devs));

    srv->lfd = socket(la.sa.ss_family, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (srv->lfd < 0) {
        rc = -errno;
        goto out_free;
    }
    int one = 1;
    setsockopt(srv->lfd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
    if (bind(srv->lfd, (struct sockaddr *)&la.sa, la.salen) != 0 || listen(srv->lfd, 1024) != 0 ||
        getsockname(srv->lfd, (struct sockaddr *)&bound, &blen) != 0) {
        rc = -errno;
        goto out_free;
    }
    srv->port = ntohs(bound.ss_family == AF_INET ? ((struct sockaddr_in *)&bound)->sin_port
                                                 : ((struct sockaddr_in6 *)&bound)->sin6_port);
    if ((rc = -pthread_create(&srv->accept_th, NULL, accept_main, srv)) != 0)
        goto out_free;
    *out = srv;
    return 0;

out_free:
    if (srv->lfd >= 0)
        close(srv->lfd);
    free(srv->conns);
    free(srv->devs);
    pthread_cond_destroy(&srv->cv);
    pthread_mutex_destroy(&srv->mu);
    free(srv);
    return rc;
}

uint16_t node_server_port(const node_server_t *srv) { return srv->port; }

void node_server_set_ring(node_server_t *srv, node_ring_t *nr)
{
    atomic_store(&srv->ring, nr);
}

void node_server_stop(node_server_t *srv)
{
    pthread_mutex_lock(&srv->mu);
    srv->stopping = 1;
    /* Idle keep-alive connections are blocked in recv(): wake them. Busy ones finish their
     * request and then see `stopping`. */
    for (size_t i = 0; i < srv->max_conns; i++)
        if (srv->conns[i] && !srv->conns[i]->busy)
            shutdown(srv->conns[i]->fd, SHUT_RDWR);
    pthread_cond_broadcast(&srv->cv);
    pthread_mutex_unlock(&srv->mu);

    shutdown(srv->lfd, SHUT_RDWR); /* makes a blocked accept() return */
    pthread_join(srv->accept_th, NULL);
    close(srv->lfd);

    pthread_mutex_lock(&srv->mu);
    while (srv->nconns > 0)
        pthread_cond_wait(&srv->cv, &srv->mu);
    pthread_mutex_unlock(&srv->mu);

    free(srv->conns);
    free(srv->devs);
    pthread_cond_destroy(&srv->cv);
    pthread_mutex_destroy(&srv->mu);
    free(srv);
}
