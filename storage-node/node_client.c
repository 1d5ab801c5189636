/*
 * node_client.c: the storage-node client (node_client.h).
 *
 * Each call is a small state machine (connect -> send head+body -> read head -> read body) on
 * a non-blocking socket; node_call_many() drives all of them from one poll() loop so a
 * request reaches every replica in parallel. Idle keep-alive sockets are pooled per node
 * address under one mutex (held only to push/pop an fd). A pooled socket may have been
 * closed by the node (idle timeout, restart): when such a call fails before any response
 * byte arrived, it is re-sent once on a fresh connection. That is safe because every node
 * API call is idempotent, and it is the only retry the client ever makes.
 * node_call_until() is node_call_many() with an early end: once the caller's predicate has enough
 * answers, the other calls get their grace and are then abandoned (NODE_EABANDONED; their
 * connections parked when the answer can still be read off, parked_t). A call's status
 * is published only when it finishes, so the predicate never counts a half-read answer.
 * The calls' states (~6.6 KiB each) are one heap block per node_call_until, not stack arrays: the
 * gateway runs thousands of mostly parked worker threads (slow uploads), and every stack page a
 * thread once touched stays resident, while a freed heap block is reused by the next call. Request
 * heads are formatted into the state's inline buffer.
 */
#include "node_client.h"
#include "node_auth.h"
#include "og_http.h"

#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/socket.h>
#include <sys/uio.h>
#include <time.h>
#include <unistd.h>

#define ADDR_MAX 96
#define REQ_INLINE 1024
/* What the first recv of an answer may take: its head and the start of its body. Kept at 4 KiB
 * although a record with a 4 KiB inline object (~4.4 KiB) then takes a second recv: 16 KiB here
 * saved those (gateway syscalls per 4 KiB GET 15.2 -> 13.0) but is in every call's state, and a
 * fan-out's block of states then passes the gateway's fixed 128 KiB mmap threshold from 7 calls
 * on (a batch over 7+ devices) instead of 20, an mmap and a munmap with its TLB shootdown per
 * fan-out. The way to both: one first-read buffer per fan-out, not per call (not done). */
#define RESP_HEAD_CAP 4096
#define MAX_RESP_HEADERS 32
#define DEFAULT_RESP_CAP ((size_t)64 << 20)

/* The connection of an abandoned call whose request went out whole (docs/architecture.md, "Node
 * connections"): the node will still answer on it. Closing it cost the node its work on the
 * answer's send and both sides a new connection for the next call (under load ~0.3-0.5 per small
 * PUT); parked, the next call to that node reads the answer off (unread, unverified: nobody waits
 * for it) and takes the connection when the answer is whole. */
#define PARK_HEAD UINT64_MAX          /* skip: the answer's head is not read yet */
#define PARK_SKIP_MAX ((uint64_t)1 << 20) /* a longer rest of a body is not worth reading off */
typedef struct {
    int fd;
    int head_only;  /* the request was a HEAD: no body follows the answer's head */
    uint64_t until; /* og_mono_ms(): the call's own deadline; not drained by then, closed */
    uint64_t skip;  /* body bytes still to read off, or PARK_HEAD */
} parked_t;

typedef struct {
    char addr[ADDR_MAX];
    struct sockaddr_storage sa;
    socklen_t salen;
    int *idle; /* stack of idle fds: the most recently used (least likely stale) on top */
    size_t nidle;
    parked_t *parked; /* oldest first; with idle, at most max_idle per node */
    size_t nparked;
} pool_node_t;

struct st_node_client_t {
    int signing; /* 0: requests go unsigned (tests of the refusal only) */
    node_signer_t signer;
    int timeout_ms;
    size_t max_idle;
    size_t nidle_total; /* idle and parked fds of all nodes (NODE_IDLE_TOTAL_MAX) */
    pthread_mutex_t mu; /* guards nodes and nidle_total */
    pool_node_t *nodes;
    size_t nnodes, nodes_cap;
};

enum { PH_CONNECT, PH_SEND, PH_HEAD, PH_BODY, PH_DONE };

typedef struct {
    node_call_t *call;
    int fd;
    int phase;
    int pooled;  /* fd came from the pool (may be stale) */
    int retried; /* already re-sent once on a fresh connection */
    int head_only;
    int keepalive;
    int body_owned; /* resp_body was malloc'd here */
    int discard;    /* an error body read into a private buffer, dropped at the end: the caller's
                       resp_buf is only ever filled with a 2xx body */
    int status;          /* the response's, published to the call when it finishes */
    int timeout_ms;
    uint64_t deadline;   /* og_mono_ms() by which the call must be done */
    uint64_t connect_by; /* ... and its connection up (NODE_CONNECT_TIMEOUT_MS) */
    uint64_t abandon_at; /* ... or be abandoned (node_call_until); UINT64_MAX = never */
    uint64_t start_us;
    struct sockaddr_storage sa;
    socklen_t salen;
    char *req; /* request head: req_inline or malloc'd */
    size_t req_len, sent;
    size_t body_len, body_got;
    uint64_t clen; /* the response's Content-Length */
    char *body;
    char auth[NODE_AUTH_VALUE_MAX]; /* the request's X-Onggi-Auth value: its answer must match it */
    uint8_t digest[16];             /* the body's node_auth_body_digest, kept for a re-send */
    og_header_t rh[MAX_RESP_HEADERS]; /* the response's headers (slices into resp), for its signature */
    size_t nrh;
    size_t rlen; /* bytes in resp (fields above this one are zeroed per call) */
    char resp[RESP_HEAD_CAP];
    char req_inline[REQ_INLINE];
} cstate_t;

/* ---- pool ---- */

/* Finds or adds the pool entry for addr. Called with c->mu held. NULL on a bad address or
 * allocation failure (*rc says which). */
static pool_node_t *pool_find(node_client_t *c, const char *addr, int add, int *rc)
{
    for (size_t i = 0; i < c->nnodes; i++)
        if (strcmp(c->nodes[i].addr, addr) == 0)
            return &c->nodes[i];
    *rc = OG_EINVAL;
    if (!add || strlen(addr) >= ADDR_MAX)
        return NULL;
    pool_node_t n = {.nidle = 0};
    og_addr_t a;
    if (og_addr_parse(addr, &a) != 0)
        return NULL;
    n.sa = a.sa;
    n.salen = a.salen;
    *rc = -ENOMEM;
    if (c->nnodes == c->nodes_cap) {
        size_t ncap = c->nodes_cap ? 2 * c->nodes_cap : 8;
        pool_node_t *nn = realloc(c->nodes, ncap * sizeof(*nn));
        if (!nn)
            return NULL;
        c->nodes = nn;
        c->nodes_cap = ncap;
    }
    if (c->max_idle && !(n.idle = malloc(c->max_idle * sizeof(int))))
        return NULL;
    if (c->max_idle && !(n.parked = malloc(c->max_idle * sizeof(parked_t)))) {
        free(n.idle);
        return NULL;
    }
    strcpy(n.addr, addr);
    c->nodes[c->nnodes] = n;
    return &c->nodes[c->nnodes++];
}

/* Copies the node's address into st and pops, when want_parked and the node has one, its oldest
 * parked connection into *p, else an idle fd into *fd (-1 when none). 0 or OG_EINVAL/-ENOMEM. */
static int pool_pop(node_client_t *c, cstate_t *st, const char *addr, int want_parked, parked_t *p, int *fd)
{
    int rc = 0;
    *fd = -1;
    p->fd = -1;
    pthread_mutex_lock(&c->mu);
    pool_node_t *n = pool_find(c, addr, 1, &rc);
    if (n) {
        rc = 0;
        st->sa = n->sa;
        st->salen = n->salen;
        if (want_parked && n->nparked) {
            *p = n->parked[0];
            memmove(n->parked, n->parked + 1, --n->nparked * sizeof(*p));
            c->nidle_total--;
        } else if (n->nidle) {
            *fd = n->idle[--n->nidle];
            c->nidle_total--;
        }
    }
    pthread_mutex_unlock(&c->mu);
    return rc;
}

/* Parks p's connection for addr, or closes it when the pool is full. */
static void pool_park(node_client_t *c, const char *addr, const parked_t *p)
{
    int rc, fd = p->fd;
    pthread_mutex_lock(&c->mu);
    pool_node_t *n = pool_find(c, addr, 0, &rc);
    if (n && n->nidle + n->nparked < c->max_idle && c->nidle_total < NODE_IDLE_TOTAL_MAX) {
        n->parked[n->nparked++] = *p;
        c->nidle_total++;
        fd = -1;
    }
    pthread_mutex_unlock(&c->mu);
    if (fd >= 0)
        close(fd);
}

static void pool_put(node_client_t *c, const char *addr, int fd)
{
    int rc;
    pthread_mutex_lock(&c->mu);
    pool_node_t *n = pool_find(c, addr, 0, &rc);
    if (n && n->nidle + n->nparked < c->max_idle && c->nidle_total < NODE_IDLE_TOTAL_MAX) {
        n->idle[n->nidle++] = fd;
        c->nidle_total++;
        fd = -1;
    }
    pthread_mutex_unlock(&c->mu);
    if (fd >= 0)
        close(fd);
}

static int park_drain(parked_t *p, char *buf, size_t cap);

/* A connection for a call to addr (address copied into st): the node's oldest parked one when
 * its answer has come whole (read off with buf, RESP_HEAD_CAP bytes), else an idle one, else
 * *fd = -1 (connect). A parked one still waiting goes back, one that failed or is out of time is
 * closed. 0 or OG_EINVAL/-ENOMEM. */
static int pool_take(node_client_t *c, cstate_t *st, const char *addr, int *fd)
{
    parked_t p;
    int rc = pool_pop(c, st, addr, 1, &p, fd);
    if (rc != 0 || p.fd < 0)
        return rc;
    int d = park_drain(&p, st->resp, RESP_HEAD_CAP);
    if (d > 0) {
        *fd = p.fd;
        return 0;
    }
    if (d == 0 && og_mono_ms() < p.until)
        pool_park(c, addr, &p);
    else
        close(p.fd);
    return pool_pop(c, st, addr, 0, &p, fd);
}

node_client_t *node_client_new(const og_keys_t *keys, int timeout_ms, size_t max_idle_per_node)
{
    node_client_t *c = calloc(1, sizeof(*c));
    if (!c)
        return NULL;
    if (keys && node_auth_signer_init(&c->signer, keys) != 0) {
        free(c);
        return NULL;
    }
    c->signing = keys != NULL;
    c->timeout_ms = timeout_ms > 0 ? timeout_ms : 1;
    c->max_idle = max_idle_per_node;
    pthread_mutex_init(&c->mu, NULL);
    return c;
}

void node_client_free(node_client_t *c)
{
    if (!c)
        return;
    for (size_t i = 0; i < c->nnodes; i++) {
        for (size_t j = 0; j < c->nodes[i].nidle; j++)
            close(c->nodes[i].idle[j]);
        for (size_t j = 0; j < c->nodes[i].nparked; j++)
            close(c->nodes[i].parked[j].fd);
        free(c->nodes[i].idle);
        free(c->nodes[i].parked);
    }
    free(c->nodes);
    pthread_mutex_destroy(&c->mu);
    if (c->signing)
        node_auth_signer_free(&c->signer);
    free(c);
}

/* ---- one call's state machine ---- */

static uint64_t mono_us(void)
{
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return (uint64_t)t.tv_sec * 1000000u + (uint64_t)t.tv_nsec / 1000u;
}

/* A complete answer counts only when the node signed it for this request (node_auth.h). */
static int call_verify(node_client_t *c, const cstate_t *st)
{
    return node_auth_check_response(&c->signer, st->auth, st->status, st->clen, st->rh, st->nrh, st->body,
                                    st->head_only ? 0 : st->body_len);
}

/* Parks an abandoned call's connection when the rest of its answer is known to be one whole
 * response away: the request went out whole and either nothing of the answer has been read or its
 * head has and the rest of a keep-alive body is short. 1 when parked (or closed by a full pool),
 * 0 when the caller must close it. */
static int call_park(node_client_t *c, cstate_t *st)
{
    parked_t p = {.fd = st->fd, .head_only = st->head_only, .until = st->deadline, .skip = PARK_HEAD};
    if (st->phase == PH_BODY && st->keepalive && st->body_len - st->body_got <= PARK_SKIP_MAX)
        p.skip = st->body_len - st->body_got;
    else if (st->phase != PH_HEAD || st->rlen > 0)
        return 0;
    pool_park(c, st->call->addr, &p);
    return 1;
}

static void call_finish(node_client_t *c, cstate_t *st, int rc)
{
    node_call_t *call = st->call;
    if (rc == 0 && c->signing)
        rc = call_verify(c, st);
    uint64_t us = mono_us() - st->start_us;
    call->elapsed_us = us > UINT32_MAX ? UINT32_MAX : (uint32_t)us;
    call->status = st->status;
    if (rc == 0 && st->keepalive && st->fd >= 0)
        pool_put(c, call->addr, st->fd);
    else if (st->fd >= 0 && !(rc == NODE_EABANDONED && call_park(c, st)))
        close(st->fd);
    st->fd = -1;
    st->phase = PH_DONE;
    call->rc = rc;
    if (rc == 0 && st->discard) {
        free(st->body);
        call->resp_len = 0;
    }
    if (rc != 0) {
        call->status = 0;
        if (st->body_owned)
            free(st->body);
        call->resp_body = NULL;
        call->resp_len = 0;
        call->xxh3[0] = '\0';
        call->truncated = 0;
        call->newer = 0;
    }
    if (st->req != st->req_inline)
        free(st->req);
    st->req = NULL;
}

/* Opens a fresh non-blocking connection. 0 (phase CONNECT or SEND) or NODE_EDOWN. */
static int call_connect(cstate_t *st)
{
    int ct = st->timeout_ms < NODE_CONNECT_TIMEOUT_MS ? st->timeout_ms : NODE_CONNECT_TIMEOUT_MS;
    st->connect_by = og_mono_ms() + (uint64_t)ct;
    st->pooled = 0;
    st->fd = socket(st->sa.ss_family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    if (st->fd < 0)
        return NODE_EDOWN;
    int one = 1;
    setsockopt(st->fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
    if (connect(st->fd, (struct sockaddr *)&st->sa, st->salen) == 0) {
        st->phase = PH_SEND;
        return 0;
    }
    if (errno == EINPROGRESS) {
        st->phase = PH_CONNECT;
        return 0;
    }
    return NODE_EDOWN;
}

static int call_format(node_client_t *c, cstate_t *st);

/* The pooled socket turned out dead before any response byte: re-send once, fresh, with a new
 * signature (a node that did read the first copy would refuse its nonce as a replay).
 * Returns 1 when a retry was started, 0 when the caller should fail the call. */
static int call_retry(node_client_t *c, cstate_t *st)
{
    if (!st->pooled || st->retried || st->rlen > 0)
        return 0;
    close(st->fd);
    st->fd = -1;
    st->retried = 1;
    st->sent = 0;
    if (st->req != st->req_inline)
        free(st->req);
    st->req = NULL;
    return call_format(c, st) == 0;
}

/* The call's socket failed (send error, or closed before a full response head): retries once on
 * a fresh socket where call_retry allows, else finishes the call with OG_ECLOSED (or the
 * connect error). Returns 1 when call_step should go on with the new socket at once, 0 when it
 * must return (the call finished, or the connect is still in progress). */
static int call_resend(node_client_t *c, cstate_t *st)
{
    int rc;
    if (!call_retry(c, st)) {
        call_finish(c, st, OG_ECLOSED);
        return 0;
    }
    if ((rc = call_connect(st)) != 0) {
        call_finish(c, st, rc);
        return 0;
    }
    return st->phase != PH_CONNECT; /* SO_ERROR means nothing until poll() says it connected */
}

/* Formats the request head, signed when the client has keys. 0 or -ENOMEM. */
static int call_format(node_client_t *c, cstate_t *st)
{
    node_call_t *call = st->call;
    int rc;
    if (c->signing && (rc = node_auth_sign_digest(&c->signer, call->method, call->path, call->headers,
                                                  call->num_headers, st->digest, call->body_len, st->auth)) != 0)
        return rc;
    size_t need = strlen(call->method) + strlen(call->path) + strlen(call->addr) + 80 +
                  sizeof(NODE_AUTH_HEADER ": \r\n") + NODE_AUTH_VALUE_MAX;
    for (size_t i = 0; i < call->num_headers; i++)
        need += call->headers[i].name.len + call->headers[i].value.len + 4;
    st->req = need <= REQ_INLINE ? st->req_inline : malloc(need);
    if (!st->req)
        return -ENOMEM;
    int send_len = call->body_len > 0 || strcmp(call->method, "PUT") == 0 || strcmp(call->method, "POST") == 0;
    char *p = st->req;
    /* stpcpy, not sprintf: this runs for every node call, and the format parsing cost more than the
     * copying (need above bounds every part). */
    p = stpcpy(stpcpy(stpcpy(stpcpy(p, call->method), " "), call->path), " HTTP/1.1\r\nHost: ");
    p = stpcpy(stpcpy(p, call->addr), "\r\n");
    if (send_len) {
        p = stpcpy(p, "Content-Length: ");
        p += og_u64_dec(call->body_len, p);
        p = stpcpy(p, "\r\n");
    }
    if (c->signing)
        p = stpcpy(stpcpy(stpcpy(p, NODE_AUTH_HEADER ": "), st->auth), "\r\n");
    for (size_t i = 0; i < call->num_headers; i++) {
        const og_header_t *h = &call->headers[i];
        memcpy(p, h->name.base, h->name.len);
        p += h->name.len;
        *p++ = ':', *p++ = ' ';
        memcpy(p, h->value.base, h->value.len);
        p += h->value.len;
        *p++ = '\r', *p++ = '\n';
    }
    *p++ = '\r', *p++ = '\n';
    st->req_len = (size_t)(p - st->req);
    return 0;
}

/* "<ts> <tiebreak>", two decimal u64s (X-Onggi-Newer). 0 or OG_EPROTO. */
static int call_parse_stamp(og_str_t v, uint64_t *ts, uint64_t *tiebreak)
{
    char buf[48], *end;
    if (v.len == 0 || v.len >= sizeof(buf))
        return OG_EPROTO;
    memcpy(buf, v.base, v.len);
    buf[v.len] = '\0';
    errno = 0;
    *ts = strtoull(buf, &end, 10);
    if (*end != ' ' || end == buf)
        return OG_EPROTO;
    char *p = end + 1;
    *tiebreak = strtoull(p, &end, 10);
    return errno == 0 && end != p && *end == '\0' ? 0 : OG_EPROTO;
}

/* A response head's framing: *clen its Content-Length (0 when none), *body_len the body bytes
 * that follow it (none after a HEAD, a 204 or a 304; else the Content-Length, which nodes always
 * send) and *keepalive whether the connection stays open after it. 0 or OG_EPROTO. */
static int head_framing(int minor, int status, int head_only, const struct phr_header *h, size_t nh,
                        uint64_t *clen, uint64_t *body_len, int *keepalive)
{
    int has_len = 0;
    *clen = 0;
    *keepalive = minor >= 1;
    for (size_t i = 0; i < nh; i++) {
        og_str_t name = {h[i].name, h[i].name_len}, val = {h[i].value, h[i].value_len};
        if (og_str_ieq(name, "Content-Length")) {
            if (val.len == 0 || val.len > 19)
                return OG_EPROTO;
            for (size_t k = 0; k < val.len; k++) {
                if (val.base[k] < '0' || val.base[k] > '9')
                    return OG_EPROTO;
                *clen = *clen * 10 + (uint64_t)(val.base[k] - '0');
            }
            has_len = 1;
        } else if (og_str_ieq(name, "Connection")) {
            *keepalive = og_str_ieq(val, "keep-alive") || (minor >= 1 && !og_str_ieq(val, "close"));
        }
    }
    int bodiless = head_only || status == 204 || status == 304;
    *body_len = bodiless ? 0 : *clen;
    return has_len || bodiless ? 0 : OG_EPROTO;
}

/* Reads off what has come of a parked connection's answer, without blocking, with buf (cap bytes)
 * as scratch: the head is peeked until it is whole, then it and what came of the body are taken in
 * one recv. 1 when the answer has been read whole and the connection stays open, 0 when more must
 * come, -1 when it cannot be reused (closed, broken, `Connection: close`, bytes beyond it). */
static int park_drain(parked_t *p, char *buf, size_t cap)
{
    ssize_t r;
    if (p->skip == PARK_HEAD) {
        if ((r = recv(p->fd, buf, cap, MSG_PEEK | MSG_DONTWAIT)) <= 0)
            return r < 0 && (errno == EAGAIN || errno == EINTR) ? 0 : -1;
        struct phr_header h[MAX_RESP_HEADERS];
        size_t nh = MAX_RESP_HEADERS, mlen;
        int minor, status, keep;
        const char *msg;
        uint64_t clen, blen;
        int hl = phr_parse_response(buf, (size_t)r, &minor, &status, &msg, &mlen, h, &nh, 0);
        if (hl == -2 && (size_t)r < cap)
            return 0;
        if (hl < 0 || head_framing(minor, status, p->head_only, h, nh, &clen, &blen, &keep) != 0 || !keep ||
            (uint64_t)r - (uint64_t)hl > blen || blen > PARK_SKIP_MAX)
            return -1;
        if (recv(p->fd, buf, (size_t)r, MSG_DONTWAIT) != r)
            return -1;
        p->skip = blen - ((uint64_t)r - (uint64_t)hl);
    }
    while (p->skip > 0) {
        if ((r = recv(p->fd, buf, p->skip < cap ? (size_t)p->skip : cap, MSG_DONTWAIT)) <= 0)
            return r < 0 && (errno == EAGAIN || errno == EINTR) ? 0 : -1;
        p->skip -= (uint64_t)r;
    }
    return 1;
}

/* Interprets a complete response head of hl bytes. 0, or an error to fail the call with. */
static int call_head_done(cstate_t *st, int minor, int status, struct phr_header *h, size_t nh, size_t hl)
{
    node_call_t *call = st->call;
    uint64_t clen, blen;
    int rc;
    st->status = status;
    if ((rc = head_framing(minor, status, st->head_only, h, nh, &clen, &blen, &st->keepalive)) != 0)
        return rc;
    st->clen = clen;
    st->nrh = nh;
    for (size_t i = 0; i < nh; i++) {
        og_str_t name = {h[i].name, h[i].name_len}, val = {h[i].value, h[i].value_len};
        st->rh[i] = (og_header_t){name, val};
        if (og_str_ieq(name, "X-Onggi-Xxh3") && val.len == 16) {
            memcpy(call->xxh3, val.base, 16);
            call->xxh3[16] = '\0';
        } else if (og_str_ieq(name, "X-Onggi-Truncated")) {
            call->truncated = og_str_eq(val, "1");
        } else if (og_str_ieq(name, "X-Onggi-Newer")) {
            if (call_parse_stamp(val, &call->newer_ts, &call->newer_tiebreak) != 0)
                return OG_EPROTO;
            call->newer = 1;
        }
    }
    /* For HEAD, resp_len reports the announced size (resp_body NULL). */
    call->resp_len = st->head_only ? (size_t)clen : (size_t)blen;
    st->body_len = (size_t)blen;
    if (st->body_len > 0) {
        st->discard = call->resp_buf && (status < 200 || status > 299);
        if (call->resp_buf && !st->discard) {
            if (st->body_len > call->resp_cap)
                return OG_ETOOBIG;
            st->body = call->resp_buf;
        } else {
            size_t cap = st->discard ? 65536 : call->resp_cap ? call->resp_cap : DEFAULT_RESP_CAP;
            if (st->body_len > cap)
                return OG_ETOOBIG;
            if (!(st->body = malloc(st->body_len)))
                return -ENOMEM;
            st->body_owned = 1;
        }
        call->resp_body = st->discard ? NULL : st->body;
    }
    size_t extra = st->rlen - hl, take = extra < st->body_len ? extra : st->body_len;
    if (take)
        memcpy(st->body, st->resp + hl, take);
    st->body_got = take;
    if (extra > take)
        st->keepalive = 0; /* bytes beyond the response: never reuse this socket */
    st->phase = PH_BODY;
    return 0;
}

/* The steps of call_step, one per phase. Each returns 1 when the call can go on at once (maybe in
 * another phase), 0 when it waits for poll() or has finished. */

/* PH_CONNECT: the non-blocking connect has ended; on to sending, or the node is down. */
static int step_connect(node_client_t *c, cstate_t *st)
{
    int err = 0;
    socklen_t el = sizeof(err);
    if (getsockopt(st->fd, SOL_SOCKET, SO_ERROR, &err, &el) != 0 || err != 0) {
        call_finish(c, st, NODE_EDOWN);
        return 0;
    }
    st->phase = PH_SEND;
    return 1;
}

/* PH_SEND: the request head, then the caller's body, in one sendmsg where the socket takes both. */
static int step_send(node_client_t *c, cstate_t *st)
{
    node_call_t *call = st->call;
    struct iovec iov[2];
    int n = 0;
    if (st->sent < st->req_len)
        iov[n++] = (struct iovec){st->req + st->sent, st->req_len - st->sent};
    size_t bsent = st->sent > st->req_len ? st->sent - st->req_len : 0;
    if (call->body_len > bsent)
        iov[n++] = (struct iovec){(char *)call->body + bsent, call->body_len - bsent};
    if (n == 0) {
        st->phase = PH_HEAD;
        return 0; /* wait for the answer */
    }
    struct msghdr msg = {.msg_iov = iov, .msg_iovlen = (size_t)n};
    ssize_t w = sendmsg(st->fd, &msg, MSG_NOSIGNAL);
    if (w < 0) {
        if (errno == EAGAIN || errno == EINTR)
            return 0;
        return call_resend(c, st);
    }
    st->sent += (size_t)w;
    return 1;
}

/* PH_HEAD: reads until the response head is whole, then sets up the body (call_head_done). */
static int step_head(node_client_t *c, cstate_t *st)
{
    ssize_t r = recv(st->fd, st->resp + st->rlen, RESP_HEAD_CAP - st->rlen, 0);
    if (r < 0 && (errno == EAGAIN || errno == EINTR))
        return 0;
    if (r <= 0)
        return call_resend(c, st);
    st->rlen += (size_t)r;
    struct phr_header h[MAX_RESP_HEADERS];
    size_t nh = MAX_RESP_HEADERS, mlen;
    int minor, status, rc;
    const char *msg;
    int hl = phr_parse_response(st->resp, st->rlen, &minor, &status, &msg, &mlen, h, &nh, 0);
    if (hl == -2 && st->rlen < RESP_HEAD_CAP)
        return 1;
    if (hl < 0) {
        call_finish(c, st, OG_EPROTO);
        return 0;
    }
    if ((rc = call_head_done(st, minor, status, h, nh, (size_t)hl)) != 0) {
        call_finish(c, st, rc);
        return 0;
    }
    return 1;
}

/* PH_BODY: reads the rest of the body; the call is done when it is all there. */
static int step_body(node_client_t *c, cstate_t *st)
{
    if (st->body_got == st->body_len) {
        call_finish(c, st, 0);
        return 0;
    }
    ssize_t r = recv(st->fd, st->body + st->body_got, st->body_len - st->body_got, 0);
    if (r < 0 && (errno == EAGAIN || errno == EINTR))
        return 0;
    if (r <= 0) {
        call_finish(c, st, OG_ECLOSED);
        return 0;
    }
    st->body_got += (size_t)r;
    return 1;
}

/* Advances a call as far as its socket allows: on return it either waits for poll() in its
 * current phase or has finished (PH_DONE, outcome in call->rc). */
static void call_step(node_client_t *c, cstate_t *st)
{
    int go = 1;
    while (go) {
        switch (st->phase) {
        case PH_CONNECT: go = step_connect(c, st); break;
        case PH_SEND: go = step_send(c, st); break;
        case PH_HEAD: go = step_head(c, st); break;
        case PH_BODY: go = step_body(c, st); break;
        default: go = 0; break;
        }
    }
}

/* Starts one call. digest: its body's digest when an earlier call of the same run sends the same
 * bytes (calls_digest_of), else NULL and it is computed here. */
static void call_start(node_client_t *c, cstate_t *st, node_call_t *call, uint64_t now, const uint8_t *digest)
{
    int rc;
    memset(st, 0, offsetof(cstate_t, resp));
    st->call = call;
    st->fd = -1;
    st->start_us = mono_us();
    st->timeout_ms = call->timeout_ms > 0 ? call->timeout_ms : c->timeout_ms;
    st->deadline = now + (uint64_t)st->timeout_ms;
    st->connect_by = st->abandon_at = UINT64_MAX;
    st->head_only = strcmp(call->method, "HEAD") == 0;
    call->rc = 0;
    call->status = 0;
    call->resp_body = NULL;
    call->resp_len = 0;
    call->xxh3[0] = '\0';
    call->truncated = 0;
    call->newer = 0;
    call->elapsed_us = 0;
    if (digest)
        memcpy(st->digest, digest, sizeof(st->digest));
    else if (c->signing)
        node_auth_body_digest(call->body, call->body_len, st->digest);
    if ((rc = call_format(c, st)) != 0 || (rc = pool_take(c, st, call->addr, &st->fd)) != 0) {
        call_finish(c, st, rc);
        return;
    }
    if (st->fd >= 0) {
        st->pooled = 1;
        st->phase = PH_SEND;
    } else if ((rc = call_connect(st)) != 0) {
        call_finish(c, st, rc);
        return;
    }
    /* Most sends complete at once on a pooled socket: no poll round trip needed for them. */
    if (st->phase == PH_SEND)
        call_step(c, st);
}

/* The digest of calls[i]'s body when an earlier call of sts[0..i) sends the same buffer (a batch
 * written to every replica): it is hashed once per run, not once per node. NULL when none does. */
static const uint8_t *calls_digest_of(const cstate_t *sts, const node_call_t *calls, size_t i)
{
    for (size_t j = 0; j < i && calls[i].body_len > 0; j++)
        if (calls[j].body == calls[i].body && calls[j].body_len == calls[i].body_len)
            return sts[j].digest;
    return NULL;
}

/* When the call must be done by: its deadline, sooner while it connects or once abandoned. */
static uint64_t call_cutoff(const cstate_t *st)
{
    uint64_t t = st->deadline;
    if (st->phase == PH_CONNECT && st->connect_by < t)
        t = st->connect_by;
    return st->abandon_at < t ? st->abandon_at : t;
}

/* Fails a call past its cutoff: abandoned, or out of time (connecting or answering). */
static void call_expire(node_client_t *c, cstate_t *st, uint64_t now)
{
    call_finish(c, st, now >= st->abandon_at ? NODE_EABANDONED : OG_ETIMEOUT);
}

/* The caller has enough: every call still running may take its grace_ms more. */
static void calls_grace(cstate_t *sts, size_t n, uint64_t now)
{
    for (size_t i = 0; i < n; i++)
        if (sts[i].phase != PH_DONE)
            sts[i].abandon_at = now + (uint64_t)(sts[i].call->grace_ms > 0 ? sts[i].call->grace_ms : 0);
}

/* Drives calls to the end (see node_call_until). Returns 1 when enough said so. */
static int calls_run(node_client_t *c, cstate_t *sts, struct pollfd *pfds, size_t *map, node_call_t *calls,
                     size_t n, int (*enough)(void *ctx, const node_call_t *calls, size_t n), void *ctx)
{
    size_t seen = SIZE_MAX;
    int met = 0;
    for (;;) {
        size_t ndone = 0, np = 0;
        for (size_t i = 0; i < n; i++)
            ndone += sts[i].phase == PH_DONE;
        /* Asked once per change in the finished set, before waiting again. */
        if (enough && !met && ndone != seen && (met = enough(ctx, calls, n)) != 0)
            calls_grace(sts, n, og_mono_ms());
        seen = ndone;
        uint64_t first = UINT64_MAX;
        for (size_t i = 0; i < n; i++) {
            cstate_t *st = &sts[i];
            if (st->phase == PH_DONE)
                continue;
            short ev = st->phase == PH_CONNECT || st->phase == PH_SEND ? POLLOUT : POLLIN;
            pfds[np] = (struct pollfd){.fd = st->fd, .events = ev};
            map[np++] = i;
            if (call_cutoff(st) < first)
                first = call_cutoff(st);
        }
        if (np == 0)
            break;
        uint64_t now = og_mono_ms();
        int wait = first > now ? (int)(first - now) : 0;
        int pr = poll(pfds, np, wait);
        if (pr < 0 && errno != EINTR)
            pr = 0; /* treat like a timeout tick; deadlines still bound the loop */
        now = og_mono_ms();
        for (size_t k = 0; k < np; k++) {
            cstate_t *st = &sts[map[k]];
            if (pr > 0 && pfds[k].revents)
                call_step(c, st);
            if (st->phase != PH_DONE && now >= call_cutoff(st))
                call_expire(c, st, now);
        }
    }
    return met;
}

int node_call_until(node_client_t *c, node_call_t *calls, size_t n,
                    int (*enough)(void *ctx, const node_call_t *calls, size_t n), void *ctx)
{
    int met = 0;
    if (n == 0)
        return 0;
    /* One block: the states, then the poll set and its map (cstate_t's alignment covers both). */
    cstate_t *sts = malloc(n * (sizeof(cstate_t) + sizeof(struct pollfd) + sizeof(size_t)));
    if (sts == NULL) {
        for (size_t i = 0; i < n; i++) {
            calls[i].rc = -ENOMEM;
            calls[i].status = 0;
            calls[i].resp_body = NULL;
            calls[i].resp_len = 0;
        }
        return 0;
    }
    size_t *map = (size_t *)(sts + n);
    struct pollfd *pfds = (struct pollfd *)(map + n);
    uint64_t now = og_mono_ms();
    for (size_t i = 0; i < n; i++)
        call_start(c, &sts[i], &calls[i], now, calls_digest_of(sts, calls, i));
    met = calls_run(c, sts, pfds, map, calls, n, enough, ctx);
    free(sts);
    return met;
}

int node_call_many(node_client_t *c, node_call_t *calls, size_t n)
{
    node_call_until(c, calls, n, NULL, NULL);
    return 0;
}

int node_call(node_client_t *c, node_call_t *call)
{
    node_call_many(c, call, 1);
    return call->rc;
}
