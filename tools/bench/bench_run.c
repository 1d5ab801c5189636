/*
 * bench_run.c: the load engine of onggi-bench.
 *
 * Each thread owns one h2o_evloop_t and a slice of the connections. A connection runs one
 * request at a time on a keep-alive socket: it takes a ticket from the shared counter (which
 * bounds --count and numbers sequential keys), writes the signed head plus the first body
 * piece, writes further pieces only when the previous write completed (so a 1 GiB PUT holds at
 * most BENCH_PIECE in flight and nothing is copied), and parses the answer with
 * picohttpparser, discarding GET bodies as they arrive. Counters are per thread and merged
 * after the threads end, so the hot path takes no lock.
 */
#include <errno.h>
#include <h2o.h>
#include <h2o/socket/evloop.h>
#include <inttypes.h>
#include <netinet/in.h>
#include <openssl/evp.h>
#include <pthread.h>
#include <stdlib.h>
#include <time.h>

#include "auth.h"
#include "bench.h"
#include "og_http.h"

#define CONNECT_RETRY_MS 100
#define LIST_BODY_MAX (64u << 20)
#define MAX_RESP_HEADERS 64

typedef struct st_bench_thread_t bench_thread_t;

typedef struct {
    bench_thread_t *th;
    h2o_socket_t *sock;
    h2o_timeout_entry_t idle_timer;  /* request inactivity (--timeout) */
    h2o_timeout_entry_t retry_timer; /* pause after a failed connect */
    h2o_timeout_entry_t pace_timer;  /* --rate-per-conn: the next slice of the body is due */
    unsigned idx;                    /* number of the connection in the run (--bind, --ramp) */
    int finished;                    /* no more requests on this connection */
    /* the request in flight */
    int busy;
    bench_op_t op;
    uint64_t key;
    int claimed;        /* mixed: this request holds run->present[key] in KEY_BUSY */
    uint8_t key_before; /* the key's state before the claim */
    uint64_t t0_us;
    char head[4096];
    h2o_iovec_t iov[3 + 2 * BENCH_PIECE / BENCH_STAMP_EVERY]; /* head, chunk line, slices, chunk end */
    char chunk_line[20]; /* --chunked: the size line of the piece in flight */
    uint64_t stamps[BENCH_PIECE / BENCH_STAMP_EVERY][2];
    uint64_t body_total, body_sent;
    size_t body_off; /* where this object's bytes start in the shared body buffer */
    int writing;     /* a socket write is outstanding */
    EVP_MD_CTX *md5; /* PUT with --verify: MD5 of the body sent, checked against the ETag */
    char etag[40];   /* the answer's ETag without quotes ("" if none or too long) */
    /* its response */
    int got_head, status, chunked, until_close, no_body, close_after;
    uint64_t resp_left, resp_bytes;
    struct phr_chunked_decoder dec;
    /* LIST: the page being received and where the next one starts */
    char *list_buf;
    size_t list_len, list_cap;
    char token[1024]; /* percent-encoded continuation token; empty for the first page */
    int list_done;
    uint64_t pages_started; /* list requests this connection began (bounded by --pages) */
} bench_conn_t;

struct st_bench_thread_t {
    bench_run_t *run;
    int mkbucket;
    h2o_evloop_t *loop;
    h2o_timeout_t idle_timeout, retry_timeout, pace_timeout;
    h2o_timeout_entry_t ramp_timer; /* --ramp: start the connections now due */
    bench_conn_t *conns;
    unsigned nconns;
    unsigned nstarted; /* connections started so far (--ramp) */
    unsigned active; /* connections not finished */
    uint64_t rng;
    char amz_date[17];
    time_t amz_sec;
    bench_stats_t stats;
    pthread_t tid;
    atomic_int *threads_left;
};

static void conn_next(bench_conn_t *c);
static void on_read(h2o_socket_t *sock, const char *err);
static void write_body(bench_conn_t *c);

static uint64_t now_us(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000000u + (uint64_t)ts.tv_nsec / 1000u;
}

/* xorshift64*: fast, per thread, good enough to pick keys and operations. */
static uint64_t rng_next(uint64_t *s)
{
    uint64_t x = *s;
    x ^= x >> 12;
    x ^= x << 25;
    x ^= x >> 27;
    *s = x;
    return x * 0x2545F4914F6CDD1DULL;
}

static void touch_idle(bench_conn_t *c)
{
    if (h2o_timeout_is_linked(&c->idle_timer))
        h2o_timeout_unlink(&c->idle_timer);
    h2o_timeout_link(c->th->loop, &c->th->idle_timeout, &c->idle_timer);
}

static void close_sock(bench_conn_t *c)
{
    if (h2o_timeout_is_linked(&c->pace_timer))
        h2o_timeout_unlink(&c->pace_timer);
    if (c->sock) {
        h2o_socket_close(c->sock);
        c->sock = NULL;
    }
    c->writing = 0;
}

/* Mixed workload key states: a key is claimed (KEY_BUSY) by the one request using it, so a
 * GET never races the DELETE or PUT of the same key and every 404 is a real one. */
enum { KEY_ABSENT = 0, KEY_PRESENT = 1, KEY_BUSY = 2 };

/* Claims a random key fit for op (PUT: any idle key; others: an existing one). When 64 probes
 * find none, the request goes to a random key unclaimed (its outcome then says nothing). */
static uint64_t claim_key(bench_conn_t *c)
{
    bench_thread_t *th = c->th;
    const bench_run_t *run = th->run;
    uint64_t n = run->cfg->objects, k = rng_next(&th->rng) % n;
    for (unsigned probe = 0; probe < 64; probe++, k = (k + 1) % n) {
        uint8_t st = __atomic_load_n(&run->present[k], __ATOMIC_RELAXED);
        if (st == KEY_BUSY || (c->op != BENCH_OP_PUT && st != KEY_PRESENT))
            continue;
        if (__atomic_compare_exchange_n(&run->present[k], &st, KEY_BUSY, 0, __ATOMIC_RELAXED, __ATOMIC_RELAXED)) {
            c->claimed = 1;
            c->key_before = st;
            return k;
        }
    }
    return k;
}

/* Ends a claim with what the request proved about the key (status 0: unknown, keep the old state). */
static void release_key(bench_conn_t *c, int ok, int status)
{
    if (!c->claimed)
        return;
    uint8_t st = c->key_before;
    if (ok)
        st = c->op == BENCH_OP_DELETE ? KEY_ABSENT : KEY_PRESENT;
    else if (status == 404)
        st = KEY_ABSENT;
    __atomic_store_n(&c->th->run->present[c->key], st, __ATOMIC_RELAXED);
    c->claimed = 0;
}

static bench_op_t pick_op(bench_thread_t *th)
{
    const bench_config_t *cfg = th->run->cfg;
    switch (cfg->workload) {
    case BENCH_WL_PUT:
        return BENCH_OP_PUT;
    case BENCH_WL_GET:
        return BENCH_OP_GET;
    case BENCH_WL_DELETE:
        return BENCH_OP_DELETE;
    case BENCH_WL_STAT:
        return BENCH_OP_STAT;
    case BENCH_WL_LIST:
        return BENCH_OP_LIST;
    case BENCH_WL_MIXED:
        break;
    }
    static const bench_op_t order[4] = {BENCH_OP_GET, BENCH_OP_PUT, BENCH_OP_STAT, BENCH_OP_DELETE};
    unsigned r = (unsigned)(rng_next(&th->rng) % 100), acc = 0;
    for (int i = 0; i < 4; i++) {
        acc += cfg->mixed[i];
        if (r < acc)
            return order[i];
    }
    return BENCH_OP_GET;
}

static uint64_t pick_key(bench_conn_t *c, uint64_t ticket)
{
    bench_thread_t *th = c->th;
    const bench_config_t *cfg = th->run->cfg;
    if (cfg->workload == BENCH_WL_MIXED)
        return claim_key(c);
    if (cfg->random_keys)
        return rng_next(&th->rng) % cfg->objects;
    return c->op == BENCH_OP_PUT && cfg->objects == 0 ? ticket : ticket % cfg->objects;
}

static const char *amz_date(bench_thread_t *th)
{
    time_t t = time(NULL);
    if (t != th->amz_sec) {
        struct tm tm;
        gmtime_r(&t, &tm);
        strftime(th->amz_date, sizeof(th->amz_date), "%Y%m%dT%H%M%SZ", &tm);
        th->amz_sec = t;
    }
    return th->amz_date;
}

/* The name of key number k (--dirs spreads keys over directories so delimiter listings roll
 * them up). Returns the length, or OG_ETOOBIG when it does not fit in size bytes. */
static int key_name(const bench_config_t *cfg, uint64_t k, char *name, size_t size)
{
    int len = cfg->dirs ? snprintf(name, size, "%sdir%04" PRIu64 "/obj%09" PRIu64, cfg->prefix, k % cfg->dirs, k)
                        : snprintf(name, size, "%sobj-%08" PRIu64, cfg->prefix, k);
    return len < 0 || (size_t)len >= size ? OG_ETOOBIG : len;
}

/* The ListObjectsV2 query of the next page into query (size bytes), its parameters in the
 * sorted order SigV4's canonical query wants. 0, OG_ETOOBIG or an og_urlencode error. */
static int list_query(const bench_conn_t *c, char *query, size_t size)
{
    const bench_config_t *cfg = c->th->run->cfg;
    char pfx[768], delim[64], after[768] = "";
    long n;
    int len;
    if ((n = og_urlencode(cfg->prefix, strlen(cfg->prefix), pfx, sizeof(pfx), 0)) < 0 ||
        (n = og_urlencode(cfg->delimiter, strlen(cfg->delimiter), delim, sizeof(delim), 0)) < 0)
        return (int)n;
    /* S3 ignores start-after once a continuation token says where to go on. */
    if (!c->token[0] && (n = og_urlencode(cfg->start_after, strlen(cfg->start_after), after, sizeof(after), 0)) < 0)
        return (int)n;
    len = snprintf(query, size, "%s%s%s%s%s%slist-type=2&max-keys=1000&prefix=%s%s%s", c->token[0] ? "continuation-token=" : "",
                   c->token, c->token[0] ? "&" : "", delim[0] ? "delimiter=" : "", delim, delim[0] ? "&" : "", pfx,
                   after[0] ? "&start-after=" : "", after);
    return len < 0 || (size_t)len >= size ? OG_ETOOBIG : 0;
}

/* Builds the signed request head into c->head. 0 or OG_ETOOBIG. */
static int build_head(bench_conn_t *c)
{
    const bench_config_t *cfg = c->th->run->cfg;
    static const char *const methods[BENCH_OP_COUNT] = {"GET", "PUT", "HEAD", "DELETE", "GET", "PUT"};
    char path[1024], query[1536], auth[512], name[512];
    long n;
    int len;

    len = snprintf(path, sizeof(path), "/%s", cfg->bucket);
    if (len < 0 || (size_t)len >= sizeof(path))
        return OG_ETOOBIG;
    query[0] = '\0';
    if (c->op == BENCH_OP_LIST) {
        int rc = list_query(c, query, sizeof(query));
        if (rc)
            return rc;
    } else if (c->op != BENCH_OP_MKBUCKET) {
        if ((len = key_name(cfg, cfg->first + c->key, name, sizeof(name))) < 0)
            return len;
        size_t used = strlen(path);
        path[used++] = '/';
        if ((n = og_urlencode(name, (size_t)len, path + used, sizeof(path) - used, 1)) < 0)
            return (int)n;
    }
    const char *date = amz_date(c->th);
    og_header_t hdrs[3] = {{OG_STR_LIT("host"), og_str(cfg->host)},
                           {OG_STR_LIT("x-amz-content-sha256"), OG_STR_LIT("UNSIGNED-PAYLOAD")},
                           {OG_STR_LIT("x-amz-date"), og_str(date)}};
    int rc = auth_sigv4_sign(og_str(methods[c->op]), og_str(path), og_str(query), hdrs, 3,
                             OG_STR_LIT("UNSIGNED-PAYLOAD"), cfg->access_key, cfg->secret_key, cfg->region, auth,
                             sizeof(auth));
    if (rc)
        return rc;
    char clen[48] = "";
    if (c->op == BENCH_OP_PUT && cfg->chunked)
        snprintf(clen, sizeof(clen), "Transfer-Encoding: chunked\r\n");
    else if (c->op == BENCH_OP_PUT || c->op == BENCH_OP_MKBUCKET)
        snprintf(clen, sizeof(clen), "Content-Length: %" PRIu64 "\r\n", c->body_total);
    len = snprintf(c->head, sizeof(c->head),
                   "%s %s%s%s HTTP/1.1\r\nHost: %s\r\nx-amz-date: %s\r\n"
                   "x-amz-content-sha256: UNSIGNED-PAYLOAD\r\nAuthorization: %s\r\n%s\r\n",
                   methods[c->op], path, query[0] ? "?" : "", query, cfg->host, date, auth, clen);
    return len < 0 || (size_t)len >= sizeof(c->head) ? OG_ETOOBIG : 0;
}

/* Appends the next piece of the PUT body (at most BENCH_PIECE bytes, none past limit) to iov,
 * unframed (next_piece adds chunked framing); returns the number of entries. Every
 * BENCH_STAMP_EVERY bytes of the object start with a stamp unique to (run, key, offset) and the rest are slices of the shared random buffer, never copied:
 * without the stamps a large object would repeat the buffer and a deduplicating store would write
 * only a fraction. With --verify the piece is added to the body's MD5. */
static size_t body_slices(bench_conn_t *c, h2o_iovec_t *iov, uint64_t limit)
{
    const bench_run_t *run = c->th->run;
    uint64_t end = c->body_sent + BENCH_PIECE < limit ? c->body_sent + BENCH_PIECE : limit;
    size_t n = 0, ns = 0;
    while (c->body_sent < end) {
        uint64_t o = c->body_sent, pos = o % BENCH_STAMP_EVERY, seg_end = o - pos + BENCH_STAMP_EVERY;
        if (seg_end > end)
            seg_end = end;
        if (pos < sizeof(c->stamps[0])) {
            uint64_t *st = c->stamps[ns++];
            st[0] = run->seed ^ (c->key * 0x9E3779B97F4A7C15ULL);
            st[1] = o - pos;
            size_t len = sizeof(c->stamps[0]) - (size_t)pos;
            if (len > seg_end - o)
                len = (size_t)(seg_end - o);
            iov[n++] = h2o_iovec_init((char *)st + pos, len);
            o += len;
        }
        if (o < seg_end) {
            size_t off = (size_t)((c->body_off + o) % (run->body_len - BENCH_PIECE));
            iov[n++] = h2o_iovec_init(run->body + off, (size_t)(seg_end - o));
        }
        c->body_sent = seg_end;
    }
    for (size_t i = 0; c->md5 != NULL && i < n; i++)
        EVP_DigestUpdate(c->md5, iov[i].base, iov[i].len);
    return n;
}

/* body_slices framed as one HTTP chunk with --chunked (the last piece adds the final chunk). */
static size_t next_piece(bench_conn_t *c, h2o_iovec_t *iov, uint64_t limit)
{
    if (!c->th->run->cfg->chunked)
        return body_slices(c, iov, limit);
    uint64_t start = c->body_sent;
    size_t n = body_slices(c, iov + 1, limit);
    int len = snprintf(c->chunk_line, sizeof(c->chunk_line), "%" PRIx64 "\r\n", c->body_sent - start);
    iov[0] = h2o_iovec_init(c->chunk_line, (size_t)len);
    iov[n + 1] = c->body_sent == c->body_total ? h2o_iovec_init(H2O_STRLIT("\r\n0\r\n\r\n"))
                                               : h2o_iovec_init(H2O_STRLIT("\r\n"));
    return n + 2;
}

/* How much of the body may be on the wire by now: all of it, or with --rate-per-conn what the
 * rate allows since the request started. */
static uint64_t body_due(const bench_conn_t *c)
{
    uint64_t rate = c->th->run->cfg->rate;
    if (rate == 0)
        return c->body_total;
    double due = (double)(now_us() - c->t0_us) * (double)rate / 1e6;
    return due < (double)c->body_total ? (uint64_t)due : c->body_total;
}

static void reset_response(bench_conn_t *c)
{
    c->got_head = c->status = c->chunked = c->until_close = c->no_body = 0;
    c->etag[0] = '\0';
    c->resp_left = c->resp_bytes = 0;
    c->list_len = 0;
    memset(&c->dec, 0, sizeof(c->dec));
    c->dec.consume_trailer = 1;
}

static void count_done(bench_conn_t *c, int ok, uint64_t bytes, uint64_t keys)
{
    bench_run_t *run = c->th->run;
    atomic_fetch_add_explicit(ok ? &run->done_ok : &run->done_err, 1, memory_order_relaxed);
    if (bytes)
        atomic_fetch_add_explicit(&run->done_bytes, bytes, memory_order_relaxed);
    if (keys)
        atomic_fetch_add_explicit(&run->done_keys, keys, memory_order_relaxed);
}

/* Ends the request in flight with a transport-level failure; the socket is dropped and the
 * connection goes on with its next request (after a pause when the connect itself failed). */
static void fail_op(bench_conn_t *c, bench_err_t kind)
{
    bench_thread_t *th = c->th;
    th->stats.op[c->op].failed++;
    th->stats.op[c->op].errs[kind]++;
    count_done(c, 0, 0, 0);
    release_key(c, 0, 0);
    if (h2o_timeout_is_linked(&c->idle_timer))
        h2o_timeout_unlink(&c->idle_timer);
    close_sock(c);
    c->busy = 0;
    if (kind == BENCH_ERR_CONNECT)
        h2o_timeout_link(th->loop, &th->retry_timeout, &c->retry_timer);
    else
        conn_next(c);
}

/* Finds <tag>value</tag> in an XML body. 1 and *v set, or 0. */
static int xml_find(const char *body, size_t len, const char *tag, og_str_t *v)
{
    char open[64], close[64];
    int ol = snprintf(open, sizeof(open), "<%s>", tag), cl = snprintf(close, sizeof(close), "</%s>", tag);
    const char *s = memmem(body, len, open, (size_t)ol);
    if (!s)
        return 0;
    s += ol;
    const char *e = memmem(s, len - (size_t)(s - body), close, (size_t)cl);
    if (!e)
        return 0;
    *v = (og_str_t){s, (size_t)(e - s)};
    return 1;
}

static uint64_t xml_count(const char *body, size_t len, const char *needle)
{
    uint64_t n = 0;
    size_t nl = strlen(needle);
    const char *p = body, *end = body + len;
    while ((p = memmem(p, (size_t)(end - p), needle, nl)) != NULL) {
        n++;
        p += nl;
    }
    return n;
}

/* Reads one ListObjectsV2 page: keys seen and where the next page starts. Returns the number of
 * keys plus common prefixes; sets c->list_done on the last page. OG_EPROTO on a bad token. */
static long list_page(bench_conn_t *c)
{
    og_str_t v;
    uint64_t keys = xml_count(c->list_buf, c->list_len, "<Contents>") +
                    xml_count(c->list_buf, c->list_len, "<CommonPrefixes>");
    int truncated = xml_find(c->list_buf, c->list_len, "IsTruncated", &v) && og_str_eq(v, "true");
    if (!truncated || !xml_find(c->list_buf, c->list_len, "NextContinuationToken", &v)) {
        c->list_done = 1;
        c->token[0] = '\0';
        return (long)keys;
    }
    /* Undo the XML escaping of the token (only the five predefined entities can occur). */
    static const struct {
        const char *ent;
        char ch;
    } ents[] = {{"&amp;", '&'}, {"&lt;", '<'}, {"&gt;", '>'}, {"&quot;", '"'}, {"&apos;", '\''}};
    char raw[768];
    size_t rl = 0;
    for (size_t i = 0; i < v.len && rl < sizeof(raw); i++) {
        char ch = v.base[i];
        if (ch == '&') {
            size_t j;
            for (j = 0; j < sizeof(ents) / sizeof(ents[0]); j++) {
                size_t el = strlen(ents[j].ent);
                if (v.len - i >= el && memcmp(v.base + i, ents[j].ent, el) == 0) {
                    ch = ents[j].ch;
                    i += el - 1;
                    break;
                }
            }
            if (j == sizeof(ents) / sizeof(ents[0]))
                return OG_EPROTO;
        }
        raw[rl++] = ch;
    }
    if (rl == sizeof(raw) || og_urlencode(raw, rl, c->token, sizeof(c->token), 0) < 0)
        return OG_EPROTO;
    return (long)keys;
}

/* Is the answer's ETag the MD5 of the body sent (a single PUT's ETag, as S3 defines it)? */
static int etag_matches(bench_conn_t *c)
{
    unsigned char d[16];
    char hex[33];
    if (c->body_sent != c->body_total || !EVP_DigestFinal_ex(c->md5, d, NULL))
        return 0;
    og_hex(d, sizeof(d), hex);
    return strcmp(hex, c->etag) == 0;
}

/* The response is complete: count it and go on (or stop). */
static void finish_op(bench_conn_t *c)
{
    bench_thread_t *th = c->th;
    const bench_config_t *cfg = th->run->cfg;
    bench_opstats_t *s = &th->stats.op[c->op];
    uint64_t lat = now_us() - c->t0_us, bytes = 0, keys = 0;
    int ok = (c->status >= 200 && c->status < 300) || (c->op == BENCH_OP_MKBUCKET && c->status == 409);

    if (h2o_timeout_is_linked(&c->idle_timer))
        h2o_timeout_unlink(&c->idle_timer);
    if ((ok && c->op == BENCH_OP_GET && cfg->verify && c->resp_bytes != cfg->size) ||
        (ok && c->op == BENCH_OP_PUT && c->md5 != NULL && !etag_matches(c))) {
        s->failed++;
        s->errs[BENCH_ERR_VERIFY]++;
        ok = -1;
    } else if (ok && c->op == BENCH_OP_LIST) {
        long n = list_page(c);
        if (n < 0) {
            s->failed++;
            s->errs[BENCH_ERR_PROTO]++;
            c->list_done = 1;
            ok = -1;
        } else {
            keys = (uint64_t)n;
        }
    }
    if (ok > 0) {
        bytes = c->op == BENCH_OP_PUT ? c->body_total : c->op == BENCH_OP_GET ? c->resp_bytes : 0;
        s->ok++;
        s->bytes += bytes;
        s->keys += keys;
        bench_hist_add(&s->lat, lat);
    } else if (ok == 0) {
        s->failed++;
        s->status[c->status < BENCH_STATUS_MAX ? c->status : 0]++;
        if (c->op == BENCH_OP_LIST)
            c->list_done = 1;
    }
    count_done(c, ok > 0, bytes, keys);
    release_key(c, ok > 0, c->status);
    c->busy = 0;
    /* Answered before the whole body went out (an early error): the stream is out of sync. */
    if (c->close_after || c->writing || c->body_sent < c->body_total)
        close_sock(c);
    conn_next(c);
}

static void conn_finish(bench_conn_t *c)
{
    close_sock(c);
    c->finished = 1;
    c->th->active--;
}

static void on_write(h2o_socket_t *sock, const char *err)
{
    bench_conn_t *c = sock->data;
    c->writing = 0;
    if (err) {
        fail_op(c, BENCH_ERR_IO);
        return;
    }
    touch_idle(c);
    write_body(c);
}

/* Writes the next piece of the body if it is due, else waits for the pace timer. */
static void write_body(bench_conn_t *c)
{
    if (c->body_sent >= c->body_total)
        return;
    uint64_t due = body_due(c);
    if (due <= c->body_sent) {
        h2o_timeout_link(c->th->loop, &c->th->pace_timeout, &c->pace_timer);
        return;
    }
    size_t n = next_piece(c, c->iov, due);
    c->writing = 1;
    h2o_socket_write(c->sock, c->iov, n, on_write);
}

static void on_pace(h2o_timeout_entry_t *entry)
{
    write_body(H2O_STRUCT_FROM_MEMBER(bench_conn_t, pace_timer, entry));
}

static void send_request(bench_conn_t *c)
{
    size_t n = 1;
    uint64_t due = body_due(c);
    c->iov[0] = h2o_iovec_init(c->head, strlen(c->head));
    if (c->body_sent < due)
        n += next_piece(c, c->iov + 1, due);
    else if (c->body_total == 0 && c->op == BENCH_OP_PUT && c->th->run->cfg->chunked)
        c->iov[n++] = h2o_iovec_init(H2O_STRLIT("0\r\n\r\n"));
    c->writing = 1;
    touch_idle(c);
    h2o_socket_write(c->sock, c->iov, n, on_write);
}

static void on_connect(h2o_socket_t *sock, const char *err)
{
    bench_conn_t *c = sock->data;
    if (err) {
        fail_op(c, BENCH_ERR_CONNECT);
        return;
    }
    h2o_socket_read_start(sock, on_read);
    send_request(c);
}

/* A connection to the endpoint, from --bind's address for connection idx if there are any (what
 * h2o_socket_connect does, plus the bind). NULL when it cannot be started. */
static h2o_socket_t *connect_from(h2o_evloop_t *loop, const bench_config_t *cfg, unsigned idx)
{
    if (cfg->nbind == 0)
        return h2o_socket_connect(loop, (struct sockaddr *)&cfg->addr, cfg->addrlen, on_connect);
    unsigned b = idx % cfg->nbind;
    int one = 1, fd = socket(cfg->addr.ss_family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    if (fd < 0)
        return NULL;
    /* The port is picked at connect, per destination: thousands of binds do not use up ports. */
    setsockopt(fd, IPPROTO_IP, IP_BIND_ADDRESS_NO_PORT, &one, sizeof(one));
    if (bind(fd, (const struct sockaddr *)&cfg->bind_addr[b], cfg->bind_len[b]) != 0 ||
        (connect(fd, (const struct sockaddr *)&cfg->addr, cfg->addrlen) != 0 && errno != EINPROGRESS)) {
        close(fd);
        return NULL;
    }
    h2o_socket_t *sock = h2o_evloop_socket_create(loop, fd, H2O_SOCKET_FLAG_IS_CONNECTING);
    h2o_socket_notify_write(sock, on_connect);
    return sock;
}

/* Starts the next request, or finishes the connection when --count, --duration or the listing
 * says so. */
static void conn_next(bench_conn_t *c)
{
    bench_thread_t *th = c->th;
    bench_run_t *run = th->run;
    const bench_config_t *cfg = run->cfg;

    if (c->finished)
        return;
    /* With --pages a listing that reached its end starts again from --start-after. */
    if (c->op == BENCH_OP_LIST && c->list_done && cfg->pages && c->pages_started < cfg->pages)
        c->list_done = 0;
    if ((c->op == BENCH_OP_LIST && (c->list_done || (cfg->pages && c->pages_started >= cfg->pages))) ||
        (cfg->duration > 0 && (double)(og_mono_ms() - run->t_start_ms) >= cfg->duration * 1000.0)) {
        conn_finish(c);
        return;
    }
    uint64_t ticket = atomic_fetch_add_explicit(&run->issued, 1, memory_order_relaxed);
    uint64_t limit = th->mkbucket ? 1 : cfg->count;
    if (limit && ticket >= limit) {
        conn_finish(c);
        return;
    }
    c->op = th->mkbucket ? BENCH_OP_MKBUCKET : pick_op(th);
    c->pages_started += c->op == BENCH_OP_LIST;
    c->key = c->op == BENCH_OP_LIST || c->op == BENCH_OP_MKBUCKET ? 0 : pick_key(c, ticket);
    c->body_total = c->op == BENCH_OP_PUT ? cfg->size : 0;
    c->body_sent = 0;
    c->body_off = (size_t)((c->key * 2654435761u) % (run->body_len - BENCH_PIECE));
    c->close_after = 0;
    if (c->md5 != NULL && !EVP_DigestInit_ex(c->md5, EVP_md5(), NULL)) {
        fail_op(c, BENCH_ERR_PROTO);
        return;
    }
    reset_response(c);
    c->busy = 1;
    c->t0_us = now_us();
    if (build_head(c) != 0) {
        /* A name or token too long for our buffers: nothing useful can be sent. */
        fail_op(c, BENCH_ERR_PROTO);
        return;
    }
    if (c->sock) {
        send_request(c);
        return;
    }
    c->sock = connect_from(th->loop, cfg, c->idx);
    if (!c->sock) {
        fail_op(c, BENCH_ERR_CONNECT);
        return;
    }
    c->sock->data = c;
    touch_idle(c);
}

static int sink_body(bench_conn_t *c, const char *p, size_t n)
{
    c->resp_bytes += n;
    if (c->op != BENCH_OP_LIST || n == 0)
        return 0;
    if (c->list_len + n > LIST_BODY_MAX)
        return OG_ETOOBIG;
    if (c->list_len + n > c->list_cap) {
        size_t cap = c->list_cap ? c->list_cap : 65536;
        while (cap < c->list_len + n)
            cap *= 2;
        char *nb = realloc(c->list_buf, cap);
        if (!nb)
            return -ENOMEM;
        c->list_buf = nb;
        c->list_cap = cap;
    }
    memcpy(c->list_buf + c->list_len, p, n);
    c->list_len += n;
    return 0;
}

/* Parses the status line and headers. 1 when complete, 0 when more input is needed,
 * OG_EPROTO on garbage. */
static int parse_head(bench_conn_t *c)
{
    h2o_buffer_t *in = c->sock->input;
    for (;;) {
        struct phr_header hdrs[MAX_RESP_HEADERS];
        size_t nh = MAX_RESP_HEADERS, msg_len;
        int minor, status;
        const char *msg;
        int r = phr_parse_response(in->bytes, in->size, &minor, &status, &msg, &msg_len, hdrs, &nh, 0);
        if (r == -2)
            return 0;
        if (r < 0)
            return OG_EPROTO;
        h2o_buffer_consume(&c->sock->input, (size_t)r);
        in = c->sock->input;
        if (status >= 100 && status < 200)
            continue; /* 100 Continue and friends precede the real answer */
        c->status = status;
        c->close_after = minor == 0;
        int have_len = 0;
        for (size_t i = 0; i < nh; i++) {
            og_str_t name = {hdrs[i].name, hdrs[i].name_len}, val = {hdrs[i].value, hdrs[i].value_len};
            if (og_str_ieq(name, "content-length")) {
                char tmp[24];
                if (val.len == 0 || val.len >= sizeof(tmp))
                    return OG_EPROTO;
                memcpy(tmp, val.base, val.len);
                tmp[val.len] = '\0';
                char *end;
                c->resp_left = strtoull(tmp, &end, 10);
                if (*end)
                    return OG_EPROTO;
                have_len = 1;
            } else if (og_str_ieq(name, "etag")) {
                if (val.len >= 2 && val.base[0] == '"' && val.base[val.len - 1] == '"')
                    val = (og_str_t){val.base + 1, val.len - 2};
                if (val.len < sizeof(c->etag)) {
                    memcpy(c->etag, val.base, val.len);
                    c->etag[val.len] = '\0';
                }
            } else if (og_str_ieq(name, "transfer-encoding")) {
                c->chunked = og_str_ieq(val, "chunked");
            } else if (og_str_ieq(name, "connection")) {
                if (og_str_ieq(val, "close"))
                    c->close_after = 1;
                else if (og_str_ieq(val, "keep-alive"))
                    c->close_after = 0;
            }
        }
        c->no_body = c->op == BENCH_OP_STAT || status == 204 || status == 304;
        if (!c->no_body && !c->chunked && !have_len) {
            c->until_close = 1;
            c->close_after = 1;
        }
        c->got_head = 1;
        return 1;
    }
}

/* Consumes body bytes from the socket. 1 when the body is complete, 0 when more is needed,
 * or a negative code. */
static int read_body(bench_conn_t *c)
{
    h2o_buffer_t *in = c->sock->input;
    int rc;
    if (c->no_body)
        return 1;
    if (c->chunked) {
        size_t n = in->size;
        ssize_t r = phr_decode_chunked(&c->dec, in->bytes, &n);
        if (r == -1)
            return OG_EPROTO;
        if ((rc = sink_body(c, in->bytes, n)) != 0)
            return rc;
        /* Bytes after the final chunk would be a pipelined answer we never asked for. */
        if (r > 0)
            c->close_after = 1;
        h2o_buffer_consume(&c->sock->input, in->size);
        return r >= 0;
    }
    size_t n = in->size;
    if (!c->until_close && n > c->resp_left)
        n = (size_t)c->resp_left;
    if ((rc = sink_body(c, in->bytes, n)) != 0)
        return rc;
    h2o_buffer_consume(&c->sock->input, n);
    if (c->until_close)
        return 0;
    c->resp_left -= n;
    return c->resp_left == 0;
}

static void on_read(h2o_socket_t *sock, const char *err)
{
    bench_conn_t *c = sock->data;
    int rc;
    if (err) {
        if (!c->busy) {
            close_sock(c); /* the server closed an idle keep-alive connection */
        } else if (c->got_head && c->until_close) {
            c->close_after = 1;
            finish_op(c);
        } else {
            fail_op(c, BENCH_ERR_IO);
        }
        return;
    }
    if (!c->busy) {
        /* Nothing was asked: whatever this is, the stream cannot be trusted any more. */
        close_sock(c);
        return;
    }
    touch_idle(c);
    if (!c->got_head) {
        if ((rc = parse_head(c)) <= 0) {
            if (rc < 0)
                fail_op(c, BENCH_ERR_PROTO);
            return;
        }
    }
    if ((rc = read_body(c)) < 0) {
        fail_op(c, rc == OG_EPROTO ? BENCH_ERR_PROTO : BENCH_ERR_IO);
        return;
    }
    if (rc == 1)
        finish_op(c);
}

static void on_idle_timeout(h2o_timeout_entry_t *entry)
{
    bench_conn_t *c = H2O_STRUCT_FROM_MEMBER(bench_conn_t, idle_timer, entry);
    fail_op(c, BENCH_ERR_TIMEOUT);
}

static void on_retry(h2o_timeout_entry_t *entry)
{
    bench_conn_t *c = H2O_STRUCT_FROM_MEMBER(bench_conn_t, retry_timer, entry);
    conn_next(c);
}

/* Starts the connections due by now (all of them without --ramp; with it, connection i of n at
 * i * ramp / n seconds) and waits for the rest on the ramp timer. */
static void start_due(bench_thread_t *th)
{
    const bench_config_t *cfg = th->run->cfg;
    double t = (double)(og_mono_ms() - th->run->t_start_ms) / 1000.0;
    while (th->nstarted < th->nconns) {
        bench_conn_t *c = &th->conns[th->nstarted];
        if (cfg->ramp > 0 && !th->mkbucket && (double)c->idx * cfg->ramp / (double)cfg->conns > t) {
            h2o_timeout_link(th->loop, &th->pace_timeout, &th->ramp_timer);
            return;
        }
        th->nstarted++;
        conn_next(c);
    }
}

static void on_ramp(h2o_timeout_entry_t *entry)
{
    start_due(H2O_STRUCT_FROM_MEMBER(bench_thread_t, ramp_timer, entry));
}

static void *thread_main(void *arg)
{
    bench_thread_t *th = arg;
    start_due(th);
    while (th->active > 0)
        h2o_evloop_run(th->loop, INT32_MAX);
    /* One more turn frees the sockets closed last. Their buffers land in h2o's per-thread cache
     * (h2o_socket_buffer_prototype), which would leak when this thread exits: give them back to
     * malloc; popping a cached chunk is what h2o_mem_alloc_recycle does while the cache is not
     * empty (the gateway's http/http_server.c does the same). */
    h2o_evloop_run(th->loop, 0);
    while (h2o_socket_buffer_prototype.allocator.cnt > 0)
        free(h2o_mem_alloc_recycle(&h2o_socket_buffer_prototype.allocator, 1));
    atomic_fetch_sub(th->threads_left, 1);
    return NULL;
}

static int thread_init(bench_thread_t *th, bench_run_t *run, unsigned nconns, int mkbucket, unsigned id,
                       unsigned first_idx)
{
    const bench_config_t *cfg = run->cfg;
    th->run = run;
    th->mkbucket = mkbucket;
    th->rng = run->seed ^ (0x9E3779B97F4A7C15ULL * (id + 1));
    if (!(th->loop = h2o_evloop_create()))
        return -ENOMEM;
    h2o_timeout_init(th->loop, &th->idle_timeout, run->cfg->timeout_ms);
    h2o_timeout_init(th->loop, &th->retry_timeout, CONNECT_RETRY_MS);
    h2o_timeout_init(th->loop, &th->pace_timeout, BENCH_PACE_MS);
    th->ramp_timer.cb = on_ramp;
    if (!(th->conns = calloc(nconns, sizeof(*th->conns))))
        return -ENOMEM;
    th->nconns = th->active = nconns;
    for (unsigned i = 0; i < nconns; i++) {
        bench_conn_t *c = &th->conns[i];
        c->th = th;
        c->idx = first_idx + i;
        c->idle_timer.cb = on_idle_timeout;
        c->retry_timer.cb = on_retry;
        c->pace_timer.cb = on_pace;
        if (!mkbucket && cfg->verify && cfg->workload == BENCH_WL_PUT && !(c->md5 = EVP_MD_CTX_new()))
            return -ENOMEM;
    }
    return 0;
}

static void thread_dispose(bench_thread_t *th)
{
    if (!th->loop)
        return;
    for (unsigned i = 0; i < th->nconns; i++) {
        free(th->conns[i].list_buf);
        EVP_MD_CTX_free(th->conns[i].md5);
    }
    free(th->conns);
    h2o_timeout_dispose(th->loop, &th->idle_timeout);
    h2o_timeout_dispose(th->loop, &th->retry_timeout);
    h2o_timeout_dispose(th->loop, &th->pace_timeout);
    h2o_evloop_destroy(th->loop);
}

static void print_progress(bench_run_t *run, uint64_t *last_ok, uint64_t *last_bytes, uint64_t *last_keys)
{
    uint64_t ok = atomic_load(&run->done_ok), err = atomic_load(&run->done_err);
    uint64_t bytes = atomic_load(&run->done_bytes), keys = atomic_load(&run->done_keys);
    double t = (double)(og_mono_ms() - run->t_start_ms) / 1000.0;
    fprintf(stderr, "[%6.1fs] %-6s ops %" PRIu64 " (%" PRIu64 "/s), %.1f MiB/s", t,
            bench_workload_name(run->cfg->workload), ok, ok - *last_ok,
            (double)(bytes - *last_bytes) / (1024.0 * 1024.0));
    if (run->cfg->workload == BENCH_WL_LIST)
        fprintf(stderr, ", keys %" PRIu64 " (%" PRIu64 "/s)", keys, keys - *last_keys);
    fprintf(stderr, ", errors %" PRIu64 "\n", err);
    *last_ok = ok;
    *last_bytes = bytes;
    *last_keys = keys;
}

/* Fills the shared body buffer with pseudo-random bytes once, so requests cost no generation. */
static char *make_body(size_t len, uint64_t seed)
{
    char *b = malloc(len);
    if (!b)
        return NULL;
    uint64_t s = seed | 1;
    for (size_t i = 0; i + 8 <= len; i += 8) {
        uint64_t v = rng_next(&s);
        memcpy(b + i, &v, 8);
    }
    return b;
}

int bench_run(const bench_config_t *cfg, int mkbucket, int quiet, bench_stats_t *out, double *elapsed_s)
{
    int rc = 0;
    unsigned nth = mkbucket ? 1 : cfg->threads, started = 0;
    unsigned conns = mkbucket ? 1 : cfg->conns;
    atomic_int threads_left;
    bench_run_t run = {.cfg = cfg, .body_len = BENCH_BODY_BUF, .seed = og_time_ns()};
    bench_thread_t *ths = NULL;
    char *body = NULL;

    memset(out, 0, sizeof(*out));
    if (nth > conns)
        nth = conns;
    if (!(body = make_body(run.body_len, run.seed))) {
        rc = -ENOMEM;
        goto out_free;
    }
    run.body = body;
    if (cfg->workload == BENCH_WL_MIXED && !mkbucket) {
        /* The mixed workload starts from a bucket filled with the --objects keys. */
        if (!(run.present = malloc(cfg->objects))) {
            rc = -ENOMEM;
            goto out_free;
        }
        memset(run.present, KEY_PRESENT, cfg->objects);
    }
    if (!(ths = calloc(nth, sizeof(*ths)))) {
        rc = -ENOMEM;
        goto out_free;
    }
    for (unsigned i = 0, first = 0; i < nth; i++) {
        unsigned share = conns / nth + (i < conns % nth);
        if ((rc = thread_init(&ths[i], &run, share, mkbucket, i, first)) != 0)
            goto out_threads;
        first += share;
        ths[i].threads_left = &threads_left;
    }
    atomic_init(&threads_left, (int)nth);
    run.t_start_ms = og_mono_ms();
    uint64_t t0 = now_us();
    for (; started < nth; started++) {
        if ((rc = -pthread_create(&ths[started].tid, NULL, thread_main, &ths[started])) != 0) {
            /* Threads already running stop by themselves at --count/--duration; wait for them. */
            atomic_fetch_sub(&threads_left, (int)(nth - started));
            break;
        }
    }
    uint64_t last_ok = 0, last_bytes = 0, last_keys = 0, next_print = og_mono_ms() + 1000;
    while (atomic_load(&threads_left) > 0) {
        struct timespec ts = {0, 20 * 1000 * 1000};
        nanosleep(&ts, NULL);
        if (!quiet && og_mono_ms() >= next_print) {
            print_progress(&run, &last_ok, &last_bytes, &last_keys);
            next_print += 1000;
        }
    }
    for (unsigned i = 0; i < started; i++)
        pthread_join(ths[i].tid, NULL);
    *elapsed_s = (double)(now_us() - t0) / 1e6;
    for (unsigned i = 0; i < started; i++)
        for (int op = 0; op < BENCH_OP_COUNT; op++)
            bench_opstats_merge(&out->op[op], &ths[i].stats.op[op]);
out_threads:
    for (unsigned i = 0; i < nth; i++)
        thread_dispose(&ths[i]);
out_free:
    free(ths);
    free(run.present);
    free(body);
    return rc;
}
