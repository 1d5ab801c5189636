/*
 * node_loop.c: the node server's connections (docs/architecture.md, "Node connections").
 *
 * A fixed pool of threads all wait on one epoll. Whichever thread gets a connection's event reads
 * its request head without blocking; when the head is whole it checks framing and signature
 * (node_auth.c) before a single body byte is read, then serves the request itself: reads the body
 * at no less than NODE_BODY_MIN_RATE, checks its digest, runs the handler (node_server.c) and arms
 * the connection for the next request. No request changes threads, so a request costs one wakeup
 * (an event loop handing heads to workers cost three, the most expensive part of a small request
 * on a VM). A head not whole NODE_HEAD_TIMEOUT_MS after its first byte is dropped (a keep-alive
 * connection may idle NODE_IDLE_TIMEOUT_MS) by a sweep that any thread runs every SWEEP_MS;
 * connections are capped, and the unauthenticated ones at unauth_max, a newcomer evicting the
 * oldest. A slow or unauthenticated peer thus holds a connection (one head buffer), never a
 * thread, and cannot crowd out a gateway's connections.
 */
#include "node_srv.h"
#include "og_http.h"

#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/timerfd.h>
#include <unistd.h>

#define NODE_HEAD_TIMEOUT_MS 10000    /* from a request's first byte to its whole head */
#define NODE_IDLE_TIMEOUT_MS 60000    /* a keep-alive connection without a request */
#define NODE_BODY_GRACE_MS 10000      /* a body may take this long ... */
#define NODE_BODY_MIN_RATE (1u << 20) /* ... plus its length at this many bytes/s */
#define NODE_SEND_TIMEOUT_MS 60000    /* a worker's answer */
#define NODE_CONNS_CAP 8192           /* connections, also bounded by the file limit */
#define NODE_UNAUTH_CAP 1024          /* never-authenticated connections, at most half of the above */
#define NODE_LOG_PER_S 10             /* refusal log lines per second */
#define SWEEP_MS 250
#define ACCEPT_PAUSE_MS 100

/* ---- socket I/O ---- */

/* Waits until fd is ready for events or deadline (og_mono_ms) passes. 0 or -EAGAIN. */
static int wait_fd(int fd, short events, uint64_t deadline)
{
    for (;;) {
        uint64_t now = og_mono_ms();
        if (now >= deadline)
            return -EAGAIN;
        struct pollfd p = {.fd = fd, .events = events};
        int n = poll(&p, 1, (int)(deadline - now));
        if (n > 0)
            return 0;
        if (n < 0 && errno != EINTR)
            return -errno;
    }
}

int node_srv_send(int fd, struct iovec *iov, int n, int timeout_ms)
{
    uint64_t deadline = og_mono_ms() + (uint64_t)timeout_ms;
    int rc;
    while (n > 0) {
        struct msghdr msg = {.msg_iov = iov, .msg_iovlen = (size_t)n};
        ssize_t w = sendmsg(fd, &msg, MSG_NOSIGNAL);
        if (w < 0) {
            if (errno == EINTR)
                continue;
            if (errno != EAGAIN)
                return -errno;
            if ((rc = wait_fd(fd, POLLOUT, deadline)) != 0)
                return rc;
            continue;
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

/* Reads exactly len bytes by deadline. 0, OG_ECLOSED, -EAGAIN (too slow) or -errno. */
static int recv_by(int fd, char *buf, size_t len, uint64_t deadline)
{
    int rc;
    while (len > 0) {
        ssize_t r = recv(fd, buf, len, 0);
        if (r > 0) {
            buf += r, len -= (size_t)r;
            continue;
        }
        if (r == 0)
            return OG_ECLOSED;
        if (errno == EINTR)
            continue;
        if (errno != EAGAIN)
            return -errno;
        if ((rc = wait_fd(fd, POLLIN, deadline)) != 0)
            return rc;
    }
    return 0;
}

/* Logs a refused request or connection, at most NODE_LOG_PER_S lines a second (a flood of bad
 * requests must not become a flood of log). Any thread. */
static void log_refusal(node_server_t *srv, const char *peer, const req_t *r, const char *why)
{
    uint64_t sec = og_mono_ms() / 1000;
    if (atomic_exchange(&srv->log_sec, sec) != sec)
        atomic_store(&srv->log_count, 0);
    if (atomic_fetch_add(&srv->log_count, 1) >= NODE_LOG_PER_S)
        return;
    if (r)
        fprintf(stderr, "onggi-node: refused %.*s %.*s from %s: %s\n", (int)r->method.len, r->method.base,
                (int)(r->target.len > 200 ? 200 : r->target.len), r->target.base, peer, why);
    else
        fprintf(stderr, "onggi-node: refused a connection from %s: %s\n", peer, why);
}

/* "ip:port" of a peer, for the log. */
static void peer_format(const struct sockaddr_storage *sa, char *out, size_t cap)
{
    char ip[INET6_ADDRSTRLEN] = "?";
    unsigned port = 0;
    if (sa->ss_family == AF_INET) {
        const struct sockaddr_in *in = (const struct sockaddr_in *)sa;
        inet_ntop(AF_INET, &in->sin_addr, ip, sizeof(ip));
        port = ntohs(in->sin_port);
    } else if (sa->ss_family == AF_INET6) {
        const struct sockaddr_in6 *in6 = (const struct sockaddr_in6 *)sa;
        inet_ntop(AF_INET6, &in6->sin6_addr, ip, sizeof(ip));
        port = ntohs(in6->sin6_port);
    }
    snprintf(out, cap, sa->ss_family == AF_INET6 ? "[%s]:%u" : "%s:%u", ip, port);
}

/* ---- request heads ---- */

/* Parses c->head into c->req, c->hl and c->minor. >0 when whole, -2 when more is needed, -1 bad. */
static int head_parse(node_conn_t *c)
{
    struct phr_header ph[MAX_HEADERS];
    const char *method, *path;
    size_t mlen, plen, nh = MAX_HEADERS;
    req_t *r = &c->req;
    int hl = phr_parse_request(c->head, c->hlen, &method, &mlen, &path, &plen, &c->minor, ph, &nh, 0);
    if (hl <= 0)
        return hl == -1 ? -1 : -2;
    r->method = (og_str_t){method, mlen};
    r->target = (og_str_t){path, plen};
    const char *q = memchr(path, '?', plen);
    r->path = (og_str_t){path, q ? (size_t)(q - path) : plen};
    r->query = q ? (og_str_t){q + 1, plen - r->path.len - 1} : (og_str_t){"", 0};
    r->nhdrs = nh;
    for (size_t i = 0; i < nh; i++)
        r->hdrs[i] = (og_header_t){{ph[i].name, ph[i].name_len}, {ph[i].value, ph[i].value_len}};
    r->body = NULL;
    r->body_len = 0;
    c->hl = hl;
    return hl;
}

/* Sets c->keepalive from the request's version and Connection header and checks its framing:
 * Content-Length only, at most BODY_MAX, into c->clen. 0, or -1 to close (answered). */
static int head_framing(node_conn_t *c)
{
    const req_t *r = &c->req;
    og_str_t conn_h = og_header_find(r->hdrs, r->nhdrs, "Connection");
    c->keepalive = c->minor >= 1 ? !og_str_ieq(conn_h, "close") : og_str_ieq(conn_h, "keep-alive");
    c->clen = 0;
    og_str_t cl = og_header_find(r->hdrs, r->nhdrs, "Content-Length");
    int status = 0;
    const char *text = NULL;
    if (og_header_find(r->hdrs, r->nhdrs, "Transfer-Encoding").base)
        status = 411, text = "Content-Length framing only\n";
    else if (cl.base && og_parse_dec(cl, 19, &c->clen) != 0)
        status = 400, text = "bad Content-Length\n";
    else if (c->clen > BODY_MAX) /* the body is not read: close rather than drain gigabytes */
        status = 413, text = "body too large\n";
    if (!status)
        return 0;
    c->keepalive = 0;
    node_srv_respond_text(c, status, text);
    return -1;
}

/* ---- connections and who owns them ----
 *
 * Every thread waits on the same epoll, and a connection is registered EPOLLONESHOT: each event
 * goes to one thread, which owns the connection until it arms it again. Its state word says who
 * may touch it: ARMED (in the epoll, waiting: a sweep or an eviction may doom it), BUSY (one
 * thread owns it) or DOOMED (dropped: its socket is shut down, so an event comes, and the thread
 * that gets it frees the connection). The bits above the state count the armings, so a sweep that
 * read an earlier arming's deadline cannot doom the connection (its compare-and-swap fails). */
#define CONN_ARMED 0u
#define CONN_BUSY 1u
#define CONN_DOOMED 2u
#define CONN_STATE(s) ((s) & 3u)
#define CONN_GEN 4u

/* Stops counting c among the unauthenticated connections, once (srv->mu held). */
static void conn_unauth_done(node_server_t *srv, node_conn_t *c)
{
    if (c->in_unauth) {
        c->in_unauth = 0;
        srv->nunauth--;
    }
}

/* Closes and frees c, owned by the calling thread (BUSY, or DOOMED with its event taken). A
 * doomed connection stopped counting when it was doomed (conn_doom). */
static void conn_free(node_server_t *srv, node_conn_t *c)
{
    pthread_mutex_lock(&srv->mu);
    if (CONN_STATE(atomic_load(&c->state)) != CONN_DOOMED) {
        conn_unauth_done(srv, c);
        atomic_fetch_sub(&srv->nconns, 1);
    }
    if (c->prev)
        c->prev->next = c->next;
    else
        srv->conns_first = c->next;
    if (c->next)
        c->next->prev = c->prev;
    else
        srv->conns_last = c->prev;
    pthread_mutex_unlock(&srv->mu);
    close(c->fd); /* unlinked first: a sweep never sees a closed descriptor */
    free(c);
}

/* Dooms c if its state word is still s, an armed one (srv->mu held). 1 when doomed. */
static int conn_doom(node_server_t *srv, node_conn_t *c, uint32_t s)
{
    if (!atomic_compare_exchange_strong(&c->state, &s, CONN_DOOMED))
        return 0;
    /* It counts no more, so that the newcomer it makes room for fits the caps at once. */
    conn_unauth_done(srv, c);
    atomic_fetch_sub(&srv->nconns, 1);
    shutdown(c->fd, SHUT_RDWR); /* its event comes at once: the thread that gets it frees c */
    return 1;
}

/* Takes c for the thread that got its event: 1 when it now owns c, 0 when c was doomed (freed). */
static int conn_take(node_server_t *srv, node_conn_t *c)
{
    uint32_t s = atomic_load(&c->state);
    if (CONN_STATE(s) == CONN_ARMED && atomic_compare_exchange_strong(&c->state, &s, s | CONN_BUSY))
        return 1;
    conn_free(srv, c);
    return 0;
}

/* Arms c, owned by the calling thread, for its next event: a sweep drops it at deadline. Frees it
 * when it cannot be armed (then no event would ever come). */
static void conn_arm(node_server_t *srv, node_conn_t *c, uint64_t deadline)
{
    atomic_store(&c->deadline, deadline);
    atomic_store(&c->state, (atomic_load(&c->state) & ~3u) + CONN_GEN);
    struct epoll_event ev = {.events = EPOLLIN | EPOLLONESHOT, .data.ptr = c};
    if (epoll_ctl(srv->epfd, EPOLL_CTL_MOD, c->fd, &ev) != 0)
        conn_free(srv, c);
}

/* Dooms the oldest armed, never-authenticated connection (srv->mu held). 1 when there was one. */
static int evict_unauth(node_server_t *srv)
{
    for (node_conn_t *c = srv->conns_first; c; c = c->next) {
        uint32_t s = atomic_load(&c->state);
        if (c->in_unauth && CONN_STATE(s) == CONN_ARMED && conn_doom(srv, c, s)) {
            log_refusal(srv, c->peer, NULL, "evicted by a newer connection (too many unauthenticated)");
            return 1;
        }
    }
    return 0;
}

/* Arms the listening socket or the sweep timer (*fd, srv->lfd or srv->timerfd) for its next event.
 * EPOLLONESHOT: one thread accepts at a time, so connections are admitted, and evict, in the
 * order they came; one thread takes each timer tick (registered level-triggered, the tick went
 * to every thread that came back to epoll_wait before the first had read it: under 4 KiB PUTs
 * a node read its timer in vain ~1,400 times a second). */
static void srv_arm(node_server_t *srv, int *fd)
{
    struct epoll_event ev = {.events = EPOLLIN | EPOLLONESHOT, .data.ptr = fd};
    epoll_ctl(srv->epfd, EPOLL_CTL_MOD, *fd, &ev);
}

/* Dooms the armed connections past their deadline and resumes accepting after a pause: every
 * SWEEP_MS, in the thread that gets the timer's event. */
static void srv_sweep(node_server_t *srv, uint64_t now)
{
    pthread_mutex_lock(&srv->mu);
    for (node_conn_t *c = srv->conns_first; c; c = c->next) {
        uint32_t s = atomic_load(&c->state);
        if (CONN_STATE(s) == CONN_ARMED && now >= atomic_load(&c->deadline) && conn_doom(srv, c, s) && c->hlen)
            log_refusal(srv, c->peer, NULL, "request head not whole in time");
    }
    if (srv->accept_paused_until && now >= srv->accept_paused_until) {
        srv->accept_paused_until = 0;
        srv_arm(srv, &srv->lfd);
    }
    pthread_mutex_unlock(&srv->mu);
}

/* ---- accepting ---- */

/* Sets up an accepted socket, admitted by conn_admit, as an armed connection that must bring a
 * whole head as soon as a request's would have. */
static void conn_add(node_server_t *srv, int fd, const struct sockaddr_storage *sa)
{
    node_conn_t *c = calloc(1, sizeof(*c));
    if (!c) {
        close(fd);
        pthread_mutex_lock(&srv->mu);
        srv->nunauth--;
        atomic_fetch_sub(&srv->nconns, 1);
        pthread_mutex_unlock(&srv->mu);
        return;
    }
    c->srv = srv;
    c->fd = fd;
    peer_format(sa, c->peer, sizeof(c->peer));
    int one = 1;
    setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
    atomic_init(&c->state, CONN_ARMED);
    atomic_init(&c->deadline, og_mono_ms() + NODE_HEAD_TIMEOUT_MS);
    c->in_unauth = 1; /* as conn_admit counted it */
    pthread_mutex_lock(&srv->mu);
    c->prev = srv->conns_last;
    if (srv->conns_last)
        srv->conns_last->next = c;
    else
        srv->conns_first = c;
    srv->conns_last = c;
    pthread_mutex_unlock(&srv->mu);
    struct epoll_event ev = {.events = EPOLLIN | EPOLLONESHOT, .data.ptr = c};
    if (epoll_ctl(srv->epfd, EPOLL_CTL_ADD, fd, &ev) != 0)
        conn_free(srv, c); /* no event will come: this thread still owns it */
}

/* Whether a new connection from sa fits the caps, evicting an unauthenticated one if needed; if
 * it does, it is counted (a connection, unauthenticated). */
static int conn_admit(node_server_t *srv, const struct sockaddr_storage *sa)
{
    pthread_mutex_lock(&srv->mu);
    if (srv->nunauth >= srv->unauth_max || (atomic_load(&srv->nconns) >= srv->conns_max && srv->nunauth > 0))
        evict_unauth(srv);
    int ok = atomic_load(&srv->nconns) < srv->conns_max;
    if (ok) {
        atomic_fetch_add(&srv->nconns, 1);
        srv->nunauth++;
    }
    pthread_mutex_unlock(&srv->mu);
    if (!ok) {
        char peer[64];
        peer_format(sa, peer, sizeof(peer));
        log_refusal(srv, peer, NULL, "too many connections");
    }
    return ok;
}

/* Out of descriptors: dooms the oldest unauthenticated connection (its descriptor is released when
 * the thread that gets its event frees it, so a few may go before an accept succeeds) and returns
 * 0, or with nobody to evict stops accepting for ACCEPT_PAUSE_MS rather than spin and returns 1. */
static int accept_full(node_server_t *srv)
{
    pthread_mutex_lock(&srv->mu);
    int paused = !evict_unauth(srv);
    if (paused)
        srv->accept_paused_until = og_mono_ms() + ACCEPT_PAUSE_MS;
    pthread_mutex_unlock(&srv->mu);
    return paused;
}

/* Accepts every pending connection within the caps, then arms the listening socket again. */
static void srv_accept(node_server_t *srv)
{
    for (;;) {
        struct sockaddr_storage sa;
        socklen_t sl = sizeof(sa);
        int fd = accept4(srv->lfd, (struct sockaddr *)&sa, &sl, SOCK_NONBLOCK | SOCK_CLOEXEC);
        if (fd < 0) {
            if ((errno == EMFILE || errno == ENFILE || errno == ENOMEM || errno == ENOBUFS) && accept_full(srv))
                return; /* the sweep arms it again */
            if (errno != EINTR && errno != ECONNABORTED)
                break;
            continue;
        }
        if (conn_admit(srv, &sa))
            conn_add(srv, fd, &sa);
        else
            close(fd);
    }
    srv_arm(srv, &srv->lfd);
}

/* ---- threads ---- */

struct st_node_worker_t {
    node_server_t *srv;
    pthread_t th;
    char scratch[3][HEAD_CAP]; /* lent to the connection it serves */
};

/* The buffers a request borrows (its body, its answer; they grow up to NODE_CHUNK_MAX), from a
 * stack shared by the threads: the most recently returned set is taken first, so memory follows
 * the requests in flight, not which threads served them (any thread may get any event, and on
 * a 256 MiB PUT 47 of them did, where 5 sets sufficed). There is one set per thread
 * (srv->bufs) and a thread holds at most one, so the stack is never empty when a thread takes. */
struct st_node_bufs_t {
    char *body, *out;
    size_t body_cap, out_cap;
    node_bufs_t *next;
};

/* The most recently returned buffer set. */
static node_bufs_t *bufs_take(node_server_t *srv)
{
    pthread_mutex_lock(&srv->bufs_mu);
    node_bufs_t *b = srv->bufs_top;
    srv->bufs_top = b->next;
    pthread_mutex_unlock(&srv->bufs_mu);
    return b;
}

static void bufs_put(node_server_t *srv, node_bufs_t *b)
{
    pthread_mutex_lock(&srv->bufs_mu);
    b->next = srv->bufs_top;
    srv->bufs_top = b;
    pthread_mutex_unlock(&srv->bufs_mu);
}

/* ---- workers: serving ---- */

/* Reads c's body (what followed the head in c->head, then the socket, at NODE_BODY_MIN_RATE at
 * least) and checks its signed digest. 0 with *take (body bytes from c->head), or -1 to close. */
static int conn_read_body(node_conn_t *c, size_t *take)
{
    req_t *r = &c->req;
    size_t hl = (size_t)c->hl, clen = (size_t)c->clen, have = c->hlen - hl;
    uint64_t deadline = og_mono_ms() + NODE_BODY_GRACE_MS + (uint64_t)clen * 1000 / NODE_BODY_MIN_RATE;
    *take = have < clen ? have : clen;
    if (node_buf_grow(&c->body, &c->body_cap, clen) != 0) {
        c->keepalive = 0;
        node_srv_respond_text(c, 500, "out of memory\n");
        return -1;
    }
    if (clen > *take && og_header_find(r->hdrs, r->nhdrs, "Expect").base) {
        static const char cont[] = "HTTP/1.1 100 Continue\r\n\r\n";
        struct iovec iov = {(void *)cont, sizeof(cont) - 1};
        if (node_srv_send(c->fd, &iov, 1, NODE_SEND_TIMEOUT_MS) != 0)
            return -1;
    }
    if (*take)
        memcpy(c->body, c->head + hl, *take);
    if (clen > *take && recv_by(c->fd, c->body + *take, clen - *take, deadline) != 0) {
        log_refusal(c->srv, c->peer, r, "body not received in time");
        return -1;
    }
    if (node_auth_check_body(&c->want, c->body, clen) != 0) {
        log_refusal(c->srv, c->peer, r, "body differs from the signed digest");
        c->keepalive = 0;
        node_srv_respond_text(c, 401, "not authenticated\n");
        return -1;
    }
    r->body = c->body;
    r->body_len = clen;
    return 0;
}

/* Serves c's authenticated request. 0 to keep the connection, anything else to close it. */
static int conn_serve(node_conn_t *c)
{
    size_t take;
    if (conn_read_body(c, &take) != 0)
        return -1;
    if (atomic_load(&c->srv->stopping))
        c->keepalive = 0; /* tell the client this connection ends after the answer */
    int rc = node_srv_dispatch(c, &c->req);
    /* Keep pipelined bytes for the next request (the request's slices die here). */
    size_t used = (size_t)c->hl + take;
    memmove(c->head, c->head + used, c->hlen - used);
    c->hlen -= used;
    return rc != 0 || !c->keepalive ? -1 : 0;
}

/* Serves c's request with a buffer set and w's scratch. 0 to keep the connection, anything else
 * to close it. */
static int worker_serve(node_worker_t *w, node_conn_t *c)
{
    node_bufs_t *b = bufs_take(w->srv);
    c->body = b->body, c->body_cap = b->body_cap;
    c->out = b->out, c->out_cap = b->out_cap;
    c->key = w->scratch[0], c->prefix = w->scratch[1], c->after = w->scratch[2];
    c->send_ms = NODE_SEND_TIMEOUT_MS;
    int rc = conn_serve(c);
    b->body = c->body, b->body_cap = c->body_cap;
    b->out = c->out, b->out_cap = c->out_cap;
    c->body = c->out = c->key = c->prefix = c->after = NULL;
    c->body_cap = c->out_cap = 0;
    c->send_ms = 0;
    bufs_put(w->srv, b);
    return rc != 0 || atomic_load(&w->srv->stopping) ? -1 : 0;
}

/* c holds a whole head: checks its framing and signature and serves it. 0 to keep c. */
static int conn_request(node_worker_t *w, node_conn_t *c)
{
    node_server_t *srv = w->srv;
    const char *why;
    req_t *r = &c->req;
    c->want.key = NULL; /* answers are signed only once this request is authenticated */
    if (head_framing(c) != 0)
        return -1;
    int rc = node_auth_check_head(srv->auth, r->method, r->target, r->hdrs, r->nhdrs, c->clen, og_time_ns() / 1000000u,
                                  &c->want, &why);
    if (rc != 0) {
        log_refusal(srv, c->peer, r, why);
        c->keepalive = 0;
        node_srv_respond_text(c, 401, rc == NODE_ESTALE ? "expired or replayed request\n" : "not authenticated\n");
        return -1;
    }
    /* Read unlocked: only this thread, which owns c, or an eviction of an armed c writes it. */
    if (c->in_unauth) {
        pthread_mutex_lock(&srv->mu);
        conn_unauth_done(srv, c);
        pthread_mutex_unlock(&srv->mu);
    }
    return worker_serve(w, c);
}

/* Serves every whole request c holds (pipelined ones too), then arms c for more or closes it;
 * a bad or oversized head is answered and closed. */
static void conn_heads(node_worker_t *w, node_conn_t *c)
{
    for (;;) {
        int hl = c->hlen ? head_parse(c) : -2;
        if (hl == -1 || (hl == -2 && c->hlen == HEAD_CAP)) {
            c->keepalive = 0;
            node_srv_respond_text(c, hl == -1 ? 400 : 431, hl == -1 ? "bad request\n" : "head too large\n");
            break;
        }
        if (hl == -2) {
            conn_arm(w->srv, c, c->hlen ? atomic_load(&c->deadline) : og_mono_ms() + NODE_IDLE_TIMEOUT_MS);
            return;
        }
        if (conn_request(w, c) != 0)
            break;
        if (c->hlen) /* the next request's first bytes came with this one: its head's time starts */
            atomic_store(&c->deadline, og_mono_ms() + NODE_HEAD_TIMEOUT_MS);
    }
    conn_free(w->srv, c);
}

/* Reads what c's event brought, then serves or arms it again. */
static void conn_event(node_worker_t *w, node_conn_t *c)
{
    node_server_t *srv = w->srv;
    if (!conn_take(srv, c))
        return;
    ssize_t r = recv(c->fd, c->head + c->hlen, HEAD_CAP - c->hlen, 0);
    if (r < 0 && (errno == EAGAIN || errno == EINTR)) {
        conn_arm(srv, c, atomic_load(&c->deadline));
        return;
    }
    if (r <= 0) {
        conn_free(srv, c);
        return;
    }
    if (c->hlen == 0) /* a request begins: its head has NODE_HEAD_TIMEOUT_MS in all */
        atomic_store(&c->deadline, og_mono_ms() + NODE_HEAD_TIMEOUT_MS);
    c->hlen += (size_t)r;
    conn_heads(w, c);
}

/* Every thread: waits for an event and handles it (serving a request in full). The sweep timer's
 * event goes to one waiting thread, so idle threads sleep until there is work. */
static void *worker_main(void *arg)
{
    node_worker_t *w = arg;
    node_server_t *srv = w->srv;
    struct epoll_event ev;
    uint64_t ticks, one = 1;
    while (!atomic_load(&srv->stopping)) {
        /* One event at a time: a thread busy with a request holds no other connection's event. */
        if (epoll_wait(srv->epfd, &ev, 1, -1) != 1)
            continue;
        if (ev.data.ptr == &srv->lfd)
            srv_accept(srv);
        else if (ev.data.ptr == &srv->timerfd) {
            if (read(srv->timerfd, &ticks, sizeof(ticks)) == sizeof(ticks))
                srv_sweep(srv, og_mono_ms());
            srv_arm(srv, &srv->timerfd);
        } else if (ev.data.ptr != &srv->stopfd)
            conn_event(w, ev.data.ptr);
    }
    /* An epoll event wakes one waiting thread: each leaving thread wakes the next. */
    if (write(srv->stopfd, &one, sizeof(one)) < 0) {
        /* only at the counter's limit: the stop is readable anyway */
    }
    return NULL;
}

/* ---- start and stop ---- */

/* The connection caps from the file limit: every connection is a descriptor, and the stores need
 * theirs (RocksDB files, volumes). */
static void caps_init(node_server_t *srv)
{
    struct rlimit rl;
    size_t fds = getrlimit(RLIMIT_NOFILE, &rl) == 0 && rl.rlim_cur != RLIM_INFINITY ? (size_t)rl.rlim_cur : 65536;
    srv->conns_max = fds > 512 ? fds - 256 : fds / 2;
    if (srv->conns_max > NODE_CONNS_CAP)
        srv->conns_max = NODE_CONNS_CAP;
    srv->unauth_max = srv->conns_max / 2 < NODE_UNAUTH_CAP ? srv->conns_max / 2 : NODE_UNAUTH_CAP;
    if (srv->unauth_max == 0)
        srv->unauth_max = 1;
}

/* Binds and listens on la; the shared epoll and the stop eventfd. 0 or -errno. */
static int srv_sockets(node_server_t *srv, const og_addr_t *la)
{
    struct sockaddr_storage bound;
    socklen_t blen = sizeof(bound);
    int one = 1;
    if ((srv->lfd = socket(la->sa.ss_family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0)) < 0)
        return -errno;
    setsockopt(srv->lfd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
    if (bind(srv->lfd, (const struct sockaddr *)&la->sa, la->salen) != 0 || listen(srv->lfd, 1024) != 0 ||
        getsockname(srv->lfd, (struct sockaddr *)&bound, &blen) != 0)
        return -errno;
    srv->port = ntohs(bound.ss_family == AF_INET ? ((struct sockaddr_in *)&bound)->sin_port
                                                 : ((struct sockaddr_in6 *)&bound)->sin6_port);
    if ((srv->epfd = epoll_create1(EPOLL_CLOEXEC)) < 0 || (srv->stopfd = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC)) < 0 ||
        (srv->timerfd = timerfd_create(CLOCK_MONOTONIC, TFD_NONBLOCK | TFD_CLOEXEC)) < 0)
        return -errno;
    struct itimerspec every = {.it_interval = {0, SWEEP_MS * 1000000L}, .it_value = {0, SWEEP_MS * 1000000L}};
    /* The stop level-triggered: it stays readable for every thread (srv_arm: the others). */
    struct epoll_event l = {.events = EPOLLIN | EPOLLONESHOT, .data.ptr = &srv->lfd},
                       s = {.events = EPOLLIN, .data.ptr = &srv->stopfd},
                       t = {.events = EPOLLIN | EPOLLONESHOT, .data.ptr = &srv->timerfd};
    if (timerfd_settime(srv->timerfd, 0, &every, NULL) != 0 || epoll_ctl(srv->epfd, EPOLL_CTL_ADD, srv->lfd, &l) != 0 ||
        epoll_ctl(srv->epfd, EPOLL_CTL_ADD, srv->stopfd, &s) != 0 ||
        epoll_ctl(srv->epfd, EPOLL_CTL_ADD, srv->timerfd, &t) != 0)
        return -errno;
    return 0;
}

/* Stops and joins the threads: each finishes the request it is serving first. */
static void workers_stop(node_server_t *srv)
{
    uint64_t one = 1;
    atomic_store(&srv->stopping, 1);
    if (write(srv->stopfd, &one, sizeof(one)) < 0) {
        /* only at the counter's limit: the stop is readable anyway */
    }
    for (size_t i = 0; i < srv->nworkers; i++)
        pthread_join(srv->workers[i]->th, NULL);
}

/* Starts the threads. 0 or -errno; on failure the threads started are stopped. */
static int srv_threads(node_server_t *srv, size_t nworkers)
{
    int rc = 0;
    for (; srv->nworkers < nworkers; srv->nworkers++) {
        node_worker_t *w = calloc(1, sizeof(*w));
        if (!w) {
            rc = -ENOMEM;
            break;
        }
        w->srv = srv;
        if ((rc = -pthread_create(&w->th, NULL, worker_main, w)) != 0) {
            free(w);
            break;
        }
        srv->workers[srv->nworkers] = w;
    }
    if (rc != 0)
        workers_stop(srv);
    return rc;
}

/* Frees srv once no thread runs: the connections still open, the buffers, the sockets. */
static void srv_free(node_server_t *srv)
{
    while (srv->conns_first)
        conn_free(srv, srv->conns_first);
    if (srv->lfd >= 0)
        close(srv->lfd);
    if (srv->epfd >= 0)
        close(srv->epfd);
    if (srv->stopfd >= 0)
        close(srv->stopfd);
    if (srv->timerfd >= 0)
        close(srv->timerfd);
    node_auth_free(srv->auth);
    for (size_t i = 0; i < srv->nworkers; i++)
        free(srv->workers[i]);
    for (size_t i = 0; srv->bufs && i < srv->nbufs; i++) {
        free(srv->bufs[i].body);
        free(srv->bufs[i].out);
    }
    free(srv->bufs);
    pthread_mutex_destroy(&srv->bufs_mu);
    free(srv->workers);
    free(srv->devs);
    pthread_mutex_destroy(&srv->mu);
    free(srv);
}

int node_server_start(const char *listen_addr, const og_keys_t *keys, const node_dev_t *devs, size_t ndevs,
                      node_ring_t *nr, size_t workers, node_server_t **out)
{
    int rc;
    og_addr_t la;
    if (workers == 0 || og_addr_parse(listen_addr, &la) != 0)
        return OG_EINVAL;
    node_server_t *srv = calloc(1, sizeof(*srv));
    if (!srv)
        return -ENOMEM;
    srv->lfd = srv->epfd = srv->stopfd = srv->timerfd = -1;
    pthread_mutex_init(&srv->mu, NULL);
    pthread_mutex_init(&srv->bufs_mu, NULL);
    caps_init(srv);
    srv->ndevs = ndevs;
    srv->ring = nr;
    srv->devs = calloc(ndevs ? ndevs : 1, sizeof(*devs));
    srv->workers = calloc(workers, sizeof(*srv->workers));
    srv->bufs = calloc(workers, sizeof(*srv->bufs));
    if (!srv->devs || !srv->workers || !srv->bufs) {
        rc = -ENOMEM;
        goto out_free;
    }
    for (srv->nbufs = 0; srv->nbufs < workers; srv->nbufs++)
        bufs_put(srv, &srv->bufs[srv->nbufs]);
    if (ndevs)
        memcpy(srv->devs, devs, ndevs * sizeof(*devs));
    if ((rc = node_auth_new(keys, &srv->auth)) != 0 || (rc = srv_sockets(srv, &la)) != 0 ||
        (rc = srv_threads(srv, workers)) != 0)
        goto out_free;
    *out = srv;
    return 0;

out_free:
    srv_free(srv);
    return rc;
}

uint16_t node_server_port(const node_server_t *srv)
{
    return srv->port;
}

void node_server_stop(node_server_t *srv)
{
    workers_stop(srv);
    srv_free(srv);
}
