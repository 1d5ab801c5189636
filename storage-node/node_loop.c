/*
 * node_loop.c: the node server's connections (docs/architecture.md, "Node connections").
 *
 * One event-loop thread (epoll) owns every connection while it waits for a request: it accepts,
 * reads request heads without blocking, drops a head not whole NODE_HEAD_TIMEOUT_MS after its
 * first byte (a keep-alive connection may idle NODE_IDLE_TIMEOUT_MS), caps connections, and
 * authenticates each head (node_auth.c) before a single body byte is read. Only a complete,
 * authenticated head goes to a worker (a fixed pool): it reads the body at no less than
 * NODE_BODY_MIN_RATE, checks its digest, runs the handler (node_server.c) and hands a keep-alive
 * connection back to the loop. A slow or unauthenticated peer thus holds a loop slot (one head
 * buffer), never a worker; the unauthenticated ones are at most unauth_max and a newcomer evicts
 * the oldest, so they cannot crowd out a gateway's connections.
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

/* ---- the wait list (loop thread) ---- */

static void wait_add(node_server_t *srv, node_conn_t *c, uint64_t deadline)
{
    c->deadline = deadline;
    c->next = NULL;
    c->prev = srv->wait_last;
    if (srv->wait_last)
        srv->wait_last->next = c;
    else
        srv->wait_first = c;
    srv->wait_last = c;
}

static void wait_remove(node_server_t *srv, node_conn_t *c)
{
    if (c->prev)
        c->prev->next = c->next;
    else
        srv->wait_first = c->next;
    if (c->next)
        c->next->prev = c->prev;
    else
        srv->wait_last = c->prev;
    c->prev = c->next = NULL;
}

/* Closes and frees a connection no worker holds. Any thread. */
static void conn_free(node_server_t *srv, node_conn_t *c)
{
    close(c->fd);
    free(c);
    atomic_fetch_sub(&srv->nconns, 1);
}

/* Closes a connection of the wait list. */
static void wait_close(node_server_t *srv, node_conn_t *c)
{
    wait_remove(srv, c);
    if (!c->authed)
        srv->nunauth--;
    conn_free(srv, c);
}

/* Evicts the oldest never-authenticated connection. 1 when there was one. */
static int evict_unauth(node_server_t *srv)
{
    for (node_conn_t *c = srv->wait_first; c; c = c->next)
        if (!c->authed) {
            log_refusal(srv, c->peer, NULL, "evicted by a newer connection (too many unauthenticated)");
            wait_close(srv, c);
            return 1;
        }
    return 0;
}

/* Appends c to the queue *first..*last (called with srv->mu held). */
static void queue_push(node_conn_t **first, node_conn_t **last, node_conn_t *c)
{
    c->next = NULL;
    if (*last)
        (*last)->next = c;
    else
        *first = c;
    *last = c;
}

static node_conn_t *queue_pop(node_conn_t **first, node_conn_t **last)
{
    node_conn_t *c = *first;
    if (c && !(*first = c->next))
        *last = NULL;
    return c;
}

/* ---- workers: the idle stack ---- */

struct st_node_worker_t {
    node_server_t *srv;
    pthread_t th;
    pthread_cond_t cv;
    node_worker_t *next_idle;
    int idle; /* on the idle stack (under srv->mu) */
    char *body, *out;
    size_t body_cap, out_cap;
    char scratch[3][HEAD_CAP];
};

/* Wakes the most recently idle worker, if any (called with srv->mu held). Last in, first out: the
 * workers in use are as few as the load needs, and only they grow buffers (up to NODE_CHUNK_MAX
 * for chunk reads), as with one thread per gateway connection before. */
static void worker_wake(node_server_t *srv)
{
    node_worker_t *w = srv->idle_top;
    if (!w)
        return;
    srv->idle_top = w->next_idle;
    w->idle = 0;
    pthread_cond_signal(&w->cv);
}

/* ---- the event loop ---- */

/* A whole head is in c: check framing and signature, then give it to a worker (or close). */
static void loop_head_done(node_server_t *srv, node_conn_t *c)
{
    const char *why;
    req_t *r = &c->req;
    c->want.key = NULL; /* answers are signed only once this request is authenticated */
    if (head_framing(c) != 0) {
        wait_close(srv, c);
        return;
    }
    int rc = node_auth_check_head(srv->auth, r->method, r->target, r->hdrs, r->nhdrs, c->clen, og_time_ns() / 1000000u,
                                  &c->want, &why);
    if (rc != 0) {
        log_refusal(srv, c->peer, r, why);
        c->keepalive = 0;
        node_srv_respond_text(c, 401, rc == NODE_ESTALE ? "expired or replayed request\n" : "not authenticated\n");
        wait_close(srv, c);
        return;
    }
    if (!c->authed) {
        c->authed = 1;
        srv->nunauth--;
    }
    wait_remove(srv, c);
    epoll_ctl(srv->epfd, EPOLL_CTL_DEL, c->fd, NULL);
    pthread_mutex_lock(&srv->mu);
    queue_push(&srv->ready_first, &srv->ready_last, c);
    worker_wake(srv);
    pthread_mutex_unlock(&srv->mu);
}

/* Looks at what c holds: a whole head goes on, a bad or oversized one is answered and closed. */
static void loop_try_head(node_server_t *srv, node_conn_t *c)
{
    int hl = c->hlen ? head_parse(c) : -2;
    if (hl > 0) {
        loop_head_done(srv, c);
    } else if (hl == -1 || c->hlen == HEAD_CAP) {
        c->keepalive = 0;
        node_srv_respond_text(c, hl == -1 ? 400 : 431, hl == -1 ? "bad request\n" : "head too large\n");
        wait_close(srv, c);
    }
}

static void loop_read(node_server_t *srv, node_conn_t *c, uint64_t now)
{
    ssize_t r = recv(c->fd, c->head + c->hlen, HEAD_CAP - c->hlen, 0);
    if (r < 0 && (errno == EAGAIN || errno == EINTR))
        return;
    if (r <= 0) {
        wait_close(srv, c);
        return;
    }
    if (c->hlen == 0) /* a request begins: its head has NODE_HEAD_TIMEOUT_MS in all */
        c->deadline = now + NODE_HEAD_TIMEOUT_MS;
    c->hlen += (size_t)r;
    loop_try_head(srv, c);
}

/* Sets up an accepted socket as a connection on the wait list. */
static void loop_add(node_server_t *srv, int fd, const struct sockaddr_storage *sa, uint64_t now)
{
    node_conn_t *c = calloc(1, sizeof(*c));
    if (!c) {
        close(fd);
        return;
    }
    c->srv = srv;
    c->fd = fd;
    peer_format(sa, c->peer, sizeof(c->peer));
    int one = 1;
    setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
    struct epoll_event ev = {.events = EPOLLIN, .data.ptr = c};
    if (epoll_ctl(srv->epfd, EPOLL_CTL_ADD, fd, &ev) != 0) {
        close(fd);
        free(c);
        return;
    }
    atomic_fetch_add(&srv->nconns, 1);
    srv->nunauth++;
    /* A new connection must bring a whole head as soon as a request's would have. */
    wait_add(srv, c, now + NODE_HEAD_TIMEOUT_MS);
}

/* Accepts every pending connection within the caps. */
static void loop_accept(node_server_t *srv, uint64_t now)
{
    for (;;) {
        struct sockaddr_storage sa;
        socklen_t sl = sizeof(sa);
        int fd = accept4(srv->lfd, (struct sockaddr *)&sa, &sl, SOCK_NONBLOCK | SOCK_CLOEXEC);
        if (fd < 0) {
            if ((errno == EMFILE || errno == ENFILE || errno == ENOMEM || errno == ENOBUFS) && !evict_unauth(srv)) {
                /* Out of descriptors with nobody to evict: stop listening a moment, not spin. */
                epoll_ctl(srv->epfd, EPOLL_CTL_DEL, srv->lfd, NULL);
                srv->accept_paused_until = now + ACCEPT_PAUSE_MS;
                return;
            }
            if (errno == EAGAIN || errno == EINVAL || errno == EBADF)
                return;
            continue;
        }
        if (srv->nunauth >= srv->unauth_max || (atomic_load(&srv->nconns) >= srv->conns_max && srv->nunauth > 0))
            evict_unauth(srv);
        if (atomic_load(&srv->nconns) >= srv->conns_max) {
            char peer[64];
            peer_format(&sa, peer, sizeof(peer));
            log_refusal(srv, peer, NULL, "too many connections");
            close(fd);
            continue;
        }
        loop_add(srv, fd, &sa, now);
    }
}

/* Takes back the keep-alive connections workers are done with. */
static void loop_take_back(node_server_t *srv, uint64_t now)
{
    uint64_t v;
    node_conn_t *c;
    if (read(srv->wakefd, &v, sizeof(v)) < 0 && errno != EAGAIN)
        return;
    pthread_mutex_lock(&srv->mu);
    node_conn_t *first = srv->back_first;
    srv->back_first = srv->back_last = NULL;
    pthread_mutex_unlock(&srv->mu);
    while ((c = first)) {
        first = c->next;
        struct epoll_event ev = {.events = EPOLLIN, .data.ptr = c};
        if (epoll_ctl(srv->epfd, EPOLL_CTL_ADD, c->fd, &ev) != 0) {
            conn_free(srv, c);
            continue;
        }
        c->send_ms = 0;
        wait_add(srv, c, now + (c->hlen ? NODE_HEAD_TIMEOUT_MS : NODE_IDLE_TIMEOUT_MS));
        loop_try_head(srv, c); /* a pipelined request may be whole already */
    }
}

/* Drops connections past their deadline; resumes accepting after a pause. */
static void loop_sweep(node_server_t *srv, uint64_t now)
{
    node_conn_t *c = srv->wait_first, *next;
    for (; c; c = next) {
        next = c->next;
        if (now >= c->deadline) {
            if (c->hlen)
                log_refusal(srv, c->peer, NULL, "request head not whole in time");
            wait_close(srv, c);
        }
    }
    if (srv->accept_paused_until && now >= srv->accept_paused_until) {
        struct epoll_event ev = {.events = EPOLLIN, .data.ptr = &srv->lfd};
        epoll_ctl(srv->epfd, EPOLL_CTL_ADD, srv->lfd, &ev);
        srv->accept_paused_until = 0;
    }
}

static void *loop_main(void *arg)
{
    node_server_t *srv = arg;
    struct epoll_event evs[64];
    while (!atomic_load(&srv->stopping)) {
        int n = epoll_wait(srv->epfd, evs, 64, SWEEP_MS);
        uint64_t now = og_mono_ms();
        int accept = 0, back = 0;
        /* Connections first: accepting may evict (free) a connection listed later in evs. */
        for (int i = 0; i < n; i++) {
            if (evs[i].data.ptr == &srv->lfd)
                accept = 1;
            else if (evs[i].data.ptr == &srv->wakefd)
                back = 1;
            else
                loop_read(srv, evs[i].data.ptr, now);
        }
        if (back)
            loop_take_back(srv, now);
        if (accept)
            loop_accept(srv, now);
        if (now >= srv->next_sweep) {
            loop_sweep(srv, now);
            srv->next_sweep = now + SWEEP_MS;
        }
    }
    while (srv->wait_first)
        wait_close(srv, srv->wait_first);
    pthread_mutex_lock(&srv->mu);
    node_conn_t *c, *first = srv->back_first;
    srv->back_first = srv->back_last = NULL;
    pthread_mutex_unlock(&srv->mu);
    while ((c = first)) {
        first = c->next;
        conn_free(srv, c);
    }
    return NULL;
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

/* Serves c with w's buffers, then hands it back to the loop or closes it. */
static void worker_serve(node_worker_t *w, node_conn_t *c)
{
    node_server_t *srv = w->srv;
    c->body = w->body, c->body_cap = w->body_cap;
    c->out = w->out, c->out_cap = w->out_cap;
    c->key = w->scratch[0], c->prefix = w->scratch[1], c->after = w->scratch[2];
    c->send_ms = NODE_SEND_TIMEOUT_MS;
    int keep = conn_serve(c) == 0;
    w->body = c->body, w->body_cap = c->body_cap;
    w->out = c->out, w->out_cap = c->out_cap;
    c->body = c->out = c->key = c->prefix = c->after = NULL;
    c->body_cap = c->out_cap = 0;
    pthread_mutex_lock(&srv->mu);
    if (keep && !srv->stopping) {
        queue_push(&srv->back_first, &srv->back_last, c);
        c = NULL;
    }
    pthread_mutex_unlock(&srv->mu);
    if (c) {
        conn_free(srv, c);
        return;
    }
    uint64_t one = 1;
    if (write(srv->wakefd, &one, sizeof(one)) < 0) {
        /* an eventfd write fails only at its counter's limit: the loop is awake anyway */
    }
}

static void *worker_main(void *arg)
{
    node_worker_t *w = arg;
    node_server_t *srv = w->srv;
    for (;;) {
        pthread_mutex_lock(&srv->mu);
        while (!srv->ready_first && !srv->stopping) {
            w->next_idle = srv->idle_top;
            srv->idle_top = w;
            w->idle = 1;
            while (w->idle && !srv->stopping)
                pthread_cond_wait(&w->cv, &srv->mu);
        }
        /* On stop, requests already authenticated are still answered. */
        node_conn_t *c = queue_pop(&srv->ready_first, &srv->ready_last);
        pthread_mutex_unlock(&srv->mu);
        if (!c)
            break;
        worker_serve(w, c);
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

/* Binds and listens on la; the loop's epoll and eventfd. 0 or -errno. */
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
    if ((srv->epfd = epoll_create1(EPOLL_CLOEXEC)) < 0 || (srv->wakefd = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC)) < 0)
        return -errno;
    struct epoll_event l = {.events = EPOLLIN, .data.ptr = &srv->lfd},
                       w = {.events = EPOLLIN, .data.ptr = &srv->wakefd};
    if (epoll_ctl(srv->epfd, EPOLL_CTL_ADD, srv->lfd, &l) != 0 ||
        epoll_ctl(srv->epfd, EPOLL_CTL_ADD, srv->wakefd, &w) != 0)
        return -errno;
    return 0;
}

/* Stops and joins the workers: each finishes the requests still queued first. */
static void workers_stop(node_server_t *srv)
{
    pthread_mutex_lock(&srv->mu);
    srv->stopping = 1;
    for (size_t i = 0; i < srv->nworkers; i++)
        pthread_cond_signal(&srv->workers[i]->cv);
    pthread_mutex_unlock(&srv->mu);
    for (size_t i = 0; i < srv->nworkers; i++)
        pthread_join(srv->workers[i]->th, NULL);
}

/* Starts the workers and the loop. 0 or -errno; on failure the threads started are stopped. */
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
        pthread_cond_init(&w->cv, NULL);
        if ((rc = -pthread_create(&w->th, NULL, worker_main, w)) != 0) {
            pthread_cond_destroy(&w->cv);
            free(w);
            break;
        }
        srv->workers[srv->nworkers] = w;
    }
    if (rc == 0 && (rc = -pthread_create(&srv->loop_th, NULL, loop_main, srv)) == 0)
        return 0;
    workers_stop(srv);
    return rc;
}

static void srv_free(node_server_t *srv)
{
    if (srv->lfd >= 0)
        close(srv->lfd);
    if (srv->epfd >= 0)
        close(srv->epfd);
    if (srv->wakefd >= 0)
        close(srv->wakefd);
    node_auth_free(srv->auth);
    node_conn_t *c;
    /* Queued after the last worker left (the loop was still running): never to be answered. */
    while ((c = queue_pop(&srv->ready_first, &srv->ready_last)))
        conn_free(srv, c);
    for (size_t i = 0; i < srv->nworkers; i++) {
        node_worker_t *w = srv->workers[i];
        pthread_cond_destroy(&w->cv);
        free(w->body);
        free(w->out);
        free(w);
    }
    free(srv->workers);
    free(srv->devs);
    pthread_mutex_destroy(&srv->mu);
    free(srv);
}

int node_server_start(const char *listen_addr, const og_keys_t *keys, const node_dev_t *devs, size_t ndevs,
                      size_t workers, node_server_t **out)
{
    int rc;
    og_addr_t la;
    if (workers == 0 || og_addr_parse(listen_addr, &la) != 0)
        return OG_EINVAL;
    node_server_t *srv = calloc(1, sizeof(*srv));
    if (!srv)
        return -ENOMEM;
    srv->lfd = srv->epfd = srv->wakefd = -1;
    pthread_mutex_init(&srv->mu, NULL);
    caps_init(srv);
    srv->ndevs = ndevs;
    srv->devs = calloc(ndevs ? ndevs : 1, sizeof(*devs));
    srv->workers = calloc(workers, sizeof(*srv->workers));
    if (!srv->devs || !srv->workers) {
        rc = -ENOMEM;
        goto out_free;
    }
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
    uint64_t one = 1;
    atomic_store(&srv->stopping, 1);
    if (write(srv->wakefd, &one, sizeof(one)) < 0) {
        /* the loop still sees `stopping` at its next sweep tick */
    }
    pthread_join(srv->loop_th, NULL);
    workers_stop(srv);
    srv_free(srv);
}
