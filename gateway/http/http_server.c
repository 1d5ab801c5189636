/*
 * http/http_server.c: the gateway's HTTP/1.1 server (contract in http/http.h).
 *
 * Threads and who owns what:
 *  - The loop thread (the caller of http_server_run) makes every h2o call and owns the
 *    server's loop-only fields, every http_conn_t, the chunked decoder and the timers.
 *  - Worker threads run handlers. They touch a http_req_t only through the fields marked
 *    "under mu" (shared with the loop) and the ones marked "worker only".
 * Handoffs: loop -> worker through the job queue (srv->mu/cv) and req->cv; worker -> loop
 * through the ready list (srv->ready_mu) plus an eventfd the loop watches with an h2o
 * socket. The eventfd is written only when the ready list goes from empty to non-empty,
 * so a burst of finished requests costs the loop one wakeup.
 *
 * A request is reference counted: the loop holds one while the connection is working on
 * it, the worker one from dispatch until the handler returns, the ready list one while
 * the request is queued on it. Whoever drops the last one frees it.
 *
 * Per connection, requests are strictly sequential: the next (possibly pipelined) head is
 * parsed only after the previous response is on the wire and its body has been read, so
 * pipelined bytes simply wait in the socket's input buffer.
 */
#include "http.h"

#include <arpa/inet.h>
#include <linux/sockios.h>
#include <errno.h>
#include <malloc.h>
#include <netinet/in.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/eventfd.h>
#include <sys/ioctl.h>
#include <sys/random.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include <h2o/linklist.h>
#include <h2o/memory.h>
#include <h2o/socket.h>
#include <h2o/timeout.h>

#include "http_tls.h"
#include "http_limits.h"
#include "http_metrics.h"
#include "og_http.h"

/* Response head and chunk framing live in the request itself unless they outgrow this. */
#define HTTP_OUT_INLINE 4096
/* http_resp_write copies a body's last bytes when out then holds at most this much, so the
 * worker hands the response over without waiting for the socket. */
#define HTTP_SEND_COPY_MAX (64u << 10)
/* After a response that closes the connection, unread client bytes are discarded this
 * long so that closing does not send a RST that could destroy the response in flight. */
#define HTTP_LINGER_MS 2000
/* http_server_run waits this long for in-flight requests after http_server_stop. */
#define HTTP_STOP_GRACE_MS 10000
/* Capacity of the second parse that tells "too many headers" (431) from garbage (400). */
#define HTTP_PARSE_WIDE_HEADERS 1024
/* A worker beyond the core (conf.workers) that found no request for this long exits. */
#define HTTP_WORKER_IDLE_MS 10000
/* Each worker's stack. Handlers keep big buffers on the heap; their deepest frames (a 64 KiB SLO
 * piece, libxml2, OpenSSL) need well under 256 KiB, and only the touched pages cost memory, so
 * this is headroom rather than a cost. ASan's redzones make frames several times bigger. */
#if defined(__SANITIZE_ADDRESS__)
#define HTTP_WORKER_STACK (4u << 20)
#elif defined(__has_feature)
#if __has_feature(address_sanitizer)
#define HTTP_WORKER_STACK (4u << 20)
#endif
#endif
#ifndef HTTP_WORKER_STACK
#define HTTP_WORKER_STACK (1u << 20)
#endif
#define HTTP_DEFAULT_TIMEOUT_MS 60000
/* Slow-body guard defaults (http_server_conf_t.body_min_rate, body_rate_window_ms): at least
 * 60 KiB per minute. Apache's mod_reqtimeout ships MinRate=500 with a 20 s start; 1 KiB/s is
 * far below any link still usable for uploads (a 2G/GPRS uplink is ~5 KiB/s), and a whole minute
 * of averaging absorbs stalls from loss and retransmission, so only a client that trickles on
 * purpose (or whose link is effectively dead) is cut. An attacker must now spend bandwidth
 * (128 workers x 1 KiB/s) instead of one byte a minute per worker. */
#define HTTP_DEFAULT_BODY_MIN_RATE 1024
#define HTTP_DEFAULT_BODY_RATE_WINDOW_MS 60000
/* Most body bytes taken from a socket per step (see conn_feed_body). */
#define HTTP_PULL_MAX (64u << 10)
/* The loop wakes a request's handler once the buffer it waits on holds this much (or all of it,
 * if smaller; or the body is complete), not for every segment: a camera sending 32 KB/s in 3 KB
 * writes cost its handler ten wakeups a second, and 2,000 of them kept both cores busy with
 * thread switches. A handler can do nothing with part of a body but hash and buffer it, so
 * waiting for more costs no latency that matters. */
#define HTTP_WAKE_MIN (64u << 10)
/* A Content-Length body up to this size that came in whole with its head goes to the handler
 * with the request (req_take_early_body). The head's read asks the socket for at most
 * HTTP_MAX_HEAD_BYTES, so no more than that can be there anyway. */
#define HTTP_EARLY_BODY_MAX HTTP_MAX_HEAD_BYTES
/* A plain-text Content-Length body still to come in full asks the kernel (SO_RCVLOWAT) to report
 * the socket readable only once this much is queued, so the loop too wakes per 16 KiB rather than
 * per segment. The client must send that much anyway. Less is asked when the slow-body guard's
 * minimum rate would not bring it within half a rate window (conn_lowat_for), and bytes still
 * below the mark at an io timeout are read then instead of the connection being closed
 * (conn_lowat_hid_progress). */
#define HTTP_BODY_LOWAT (16u << 10)
/* Room asked for per read of a request head: h2o's own first allocation (8 KiB) fits it, so a
 * connection with a partial head costs one small block. */
#define HTTP_HEAD_RESERVE 4096
/* accept() failing for lack of descriptors or memory (EMFILE ...) pauses the listener this long
 * instead of retrying at once: the pending connection keeps the listener readable, and a
 * level-triggered loop would spin on it. */
#define HTTP_ACCEPT_PAUSE_MS 100
/* Once the open connections fall to half of their peak since the last trim, and that peak was at
 * least this many, the loop gives the freed heap back to the kernel (malloc_trim) HTTP_TRIM_DELAY_MS
 * later: one trim after a crowd left, not one per close, and after h2o freed the closed sockets
 * (it does so at the end of a loop iteration). */
#define HTTP_TRIM_MIN_PEAK 128
#define HTTP_TRIM_DELAY_MS 1000

typedef struct st_http_conn_t http_conn_t;

typedef struct {
    http_server_t *srv;
    bool live; /* a thread runs in this slot; under srv->mu */
    /* Who the running request claimed (http_req_claim), counted in srv->claims. Under srv->mu. */
    http_key_t claim;
    bool claimed;
    time_t date_sec;  /* second that date[] was formatted for */
    char date[64];    /* "Date: ...\r\n", cached per worker so no lock is needed */
    size_t date_len;
    uint64_t rng; /* og_rng_next's state for http_request_id */
} http_worker_t;

struct st_http_req_t {
    http_reqinfo_t info; /* slices into head[] */
    http_server_t *srv;
    bool client_keepalive; /* what the request asked for (set before dispatch, then constant) */

    /* loop only */
    http_conn_t *conn;      /* NULL once the loop dropped its reference */
    http_req_t *job_next;   /* srv->jobs, under srv->mu */
    http_req_t *ready_next; /* srv->ready, under srv->ready_mu */

    pthread_mutex_t mu;
    pthread_cond_t cv; /* the worker waits here for body bytes and write completions */
    /* under mu */
    int refs;
    /* The buffer of the handler's http_req_read, posted while it waits: the loop puts body bytes
     * straight into it (tgt_len of tgt_cap). NULL while the handler is not waiting: then the loop
     * does not read the body. */
    char *tgt;
    size_t tgt_cap, tgt_len;
    int body_err;        /* HTTP_EBODY once the loop saw bad chunked framing */
    bool body_done;      /* the loop has received the whole body from the socket */
    bool body_paused;    /* the loop stopped reading the body: no buffer posted, or it is full */
    bool aborted;        /* connection gone: every pending and later call fails */
    bool want_continue;  /* the worker asked for "100 Continue" */
    bool want_body;      /* the worker asked for the body: the loop may read it */
    bool resp_started;   /* a final response has been started: never send 100 after it */
    bool out_pending;    /* wr_iov handed to the loop and not yet written */
    bool ended;          /* the worker will hand over nothing more */
    bool close_after;    /* close the connection after this response */
    bool queued;         /* on srv->ready */
    h2o_iovec_t wr_iov[3];
    size_t wr_n;

    /* worker only */
    http_worker_t *worker;
    char *out; /* head and chunk framing not yet handed over; out_inline or malloc'd */
    size_t out_len, out_cap;
    int64_t resp_cl; /* -1 when chunked or close-delimited */
    uint64_t resp_written;
    bool w_started, w_chunked, w_no_body;
    /* A whole body that came in with the head (req_take_early_body), set before dispatch:
     * early_len bytes, of which http_req_read has handed out early_off. */
    char *early;
    size_t early_len, early_off;
    /* for http_req_stats and the metrics: t_start_ns is set by the loop before dispatch */
    uint64_t t_start_ns, t_first_ns, body_in;
    int w_status;
    bool op_set;
    unsigned op_api, op;
    bool cache_private; /* http_req_cache_private */
    /* Not zeroed by req_new (7 KiB that a small GET would clear for nothing): only the first
     * info.num_headers headers are set, and out_inline is written before it is read. */
    og_header_t headers[HTTP_MAX_HEADERS];
    char out_inline[HTTP_OUT_INLINE];
    char head[]; /* copy of the request head, NUL-terminated */
};

struct st_http_conn_t {
    http_server_t *srv;
    h2o_socket_t *sock;
    h2o_linklist_t link; /* srv->conns */
    h2o_timeout_entry_t timer;
    h2o_timeout_t *timer_on; /* which of srv's timeouts timer is linked to, if any */
    http_req_t *req;           /* the loop's reference to the request in flight */
    http_chunked_t dec;
    size_t dec_pending; /* decoded body bytes at the front of sock->input, not yet handed over */
    bool dec_done;
    uint64_t cl_left;  /* Content-Length body bytes not yet taken from the socket */
    bool writing;      /* an h2o_socket_write is outstanding */
    bool writing_out;  /* ... and it carries the worker's wr_iov */
    bool cont_sent;    /* the loop has dealt with want_continue */
    bool lingering;    /* response done, write side shut, discarding input until EOF */
    /* Slow-body guard: body bytes received from the socket since rate_t0 (loop clock), counted
     * only while the loop waits on the client for the body (rate_on). */
    bool rate_on;
    uint64_t rate_t0, rate_bytes;
    int lowat;       /* the socket's SO_RCVLOWAT (1, the default, or up to HTTP_BODY_LOWAT) */
    http_key_t ip;   /* counted in srv->iptab */
    char remote[64];
    char busy_head[160]; /* conn_send_busy's status line and headers */
};

struct st_http_server_t {
    http_server_conf_t conf;
    int listen_fd; /* until http_server_run hands it to h2o */
    int tls_listen_fd; /* the same for the TLS listener; -1 without TLS */
    uint16_t tls_port;
    int wake_fd;   /* eventfd: workers and http_server_stop write, the loop reads a dup */
    uint16_t port;
    atomic_int stop_requested;

    /* loop only */
    h2o_evloop_t *loop;
    h2o_socket_t *listener, *tls_listener, *waker;
    h2o_timeout_t idle_to, io_to, linger_to;
    h2o_linklist_t conns;
    size_t nconns;
    size_t trim_peak;       /* most connections open since the last malloc_trim */
    http_counts_t iptab;    /* open connections per client address */
    bool accept_paused;     /* the listener is not read: at max_conns, or accept() ran dry */
    h2o_timeout_t accept_to;
    h2o_timeout_entry_t accept_timer; /* resumes accepting after HTTP_ACCEPT_PAUSE_MS */
    h2o_timeout_t trim_to;
    h2o_timeout_entry_t trim_timer; /* malloc_trim after a crowd of connections left */
    bool stopping;
    uint64_t stop_deadline;
    struct phr_header wide[HTTP_PARSE_WIDE_HEADERS];

    /* workers: conf.workers_max slots, nlive of them running a (detached) thread */
    http_worker_t *workers;
    pthread_attr_t worker_attr; /* detached, HTTP_WORKER_STACK */
    pthread_mutex_t mu;
    http_counts_t claims; /* workers held per claimant (http_req_claim); under mu */
    uint64_t claim_seed;  /* http_key_of_name's seed for claimants */
    pthread_cond_t cv;
    pthread_cond_t exit_cv; /* nlive fell to 0 */
    http_req_t *jobs_head, **jobs_tail;
    size_t njobs; /* requests queued for a worker */
    size_t nlive; /* worker threads running */
    size_t nidle; /* ... of them waiting for a request */
    bool workers_exit;

    pthread_mutex_t ready_mu;
    http_req_t *ready;

    /* http_server_stats: written with relaxed atomics, read by any thread */
    _Atomic uint64_t st_in_flight, st_queued, st_conns_open, st_conns_accepted, st_conns_refused;
};

static void conn_on_head_input(http_conn_t *conn);
static void conn_pump(http_conn_t *conn);
static void on_conn_read(h2o_socket_t *sock, const char *err);
static void on_accept(h2o_socket_t *listener, const char *err);

/* ------------------------------------------------------------------------------------ */
/* requests: lifetime and cross-thread notification                                     */

static void req_free(http_req_t *req)
{
    if (req->out != req->out_inline)
        free(req->out);
    free(req->early);
    pthread_cond_destroy(&req->cv);
    pthread_mutex_destroy(&req->mu);
    free(req);
}

static void req_unref(http_req_t *req)
{
    pthread_mutex_lock(&req->mu);
    int left = --req->refs;
    pthread_mutex_unlock(&req->mu);
    if (left == 0)
        req_free(req);
}

static void server_wake(http_server_t *srv)
{
    uint64_t one = 1;
    /* Only EINTR can happen: the counter cannot realistically reach its 2^64-2 limit. */
    while (write(srv->wake_fd, &one, sizeof(one)) < 0 && errno == EINTR)
        ;
}

/* Puts req on the loop's ready list (req->mu held). The list holds a reference. */
static void req_notify_locked(http_req_t *req)
{
    http_server_t *srv = req->srv;
    if (req->queued)
        return;
    req->queued = true;
    req->refs++;
    pthread_mutex_lock(&srv->ready_mu);
    bool was_empty = srv->ready == NULL;
    req->ready_next = srv->ready;
    srv->ready = req;
    pthread_mutex_unlock(&srv->ready_mu);
    if (was_empty)
        server_wake(srv);
}

/* ------------------------------------------------------------------------------------ */
/* connections (loop thread)                                                            */

static void conn_set_timer(http_conn_t *conn, h2o_timeout_t *to, bool rearm)
{
    if (conn->timer_on == to && !rearm)
        return;
    if (h2o_timeout_is_linked(&conn->timer))
        h2o_timeout_unlink(&conn->timer);
    conn->timer_on = to;
    if (to != NULL)
        h2o_timeout_link(conn->srv->loop, to, &conn->timer);
}

/* Arms the timeout that fits the connection's state. Idle and linger deadlines are set
 * once (slow header dribbling does not extend them); the io deadline moves on every call,
 * which happens on progress. No timer runs while only the handler is busy. The body-rate
 * window runs exactly while the loop waits on the client for body bytes: it starts when that
 * wait begins and is dropped whenever the loop stops reading (the handler is busy: backpressure
 * is the handler's doing, not the client's), so every rate window measures the client alone. */
static void conn_update_timer(http_conn_t *conn)
{
    http_server_t *srv = conn->srv;
    if (conn->lingering) {
        conn_set_timer(conn, &srv->linger_to, false);
    } else if (conn->writing) {
        conn_set_timer(conn, &srv->io_to, true);
    } else if (conn->req == NULL) {
        conn_set_timer(conn, &srv->idle_to, false);
    } else if (h2o_socket_is_reading(conn->sock) && (!conn->req->info.expect_continue || conn->cont_sent)) {
        if (!conn->rate_on) {
            conn->rate_on = true;
            conn->rate_t0 = h2o_now(srv->loop);
            conn->rate_bytes = 0;
        }
        conn_set_timer(conn, &srv->io_to, true);
    } else {
        conn->rate_on = false;
        conn_set_timer(conn, NULL, false);
    }
}

/* Slow-body guard, run on each read of body bytes (got of them). The io timeout catches a
 * client that stops; this catches one that keeps making tiny progress: once a whole window has
 * passed, the bytes it brought must average body_min_rate, else false (the caller closes).
 * A window that passes starts the next one. A trickling client is therefore cut at its first
 * byte after one window with too few bytes, i.e. within a window plus io_timeout_ms. */
static bool conn_body_rate_ok(http_conn_t *conn, size_t got)
{
    const http_server_conf_t *conf = &conn->srv->conf;
    if (!conn->rate_on)
        return true;
    uint64_t now = h2o_now(conn->srv->loop), elapsed = now - conn->rate_t0;
    conn->rate_bytes += got;
    if (elapsed < conf->body_rate_window_ms)
        return true;
    if (conn->rate_bytes * 1000 < (uint64_t)conf->body_min_rate * elapsed)
        return false;
    conn->rate_t0 = now;
    conn->rate_bytes = 0;
    return true;
}

/* Stops reading the listener: new connections wait in the kernel's backlog. With timed, reading
 * resumes after HTTP_ACCEPT_PAUSE_MS (if below max_conns by then); else when a connection closes. */
static void server_accept_pause(http_server_t *srv, bool timed)
{
    if (!srv->accept_paused) {
        srv->accept_paused = true;
        h2o_socket_read_stop(srv->listener);
        if (srv->tls_listener != NULL)
            h2o_socket_read_stop(srv->tls_listener);
    }
    if (timed && !h2o_timeout_is_linked(&srv->accept_timer))
        h2o_timeout_link(srv->loop, &srv->accept_to, &srv->accept_timer);
}

static void server_accept_resume(http_server_t *srv)
{
    if (!srv->accept_paused || srv->listener == NULL || srv->nconns >= srv->conf.max_conns ||
        h2o_timeout_is_linked(&srv->accept_timer))
        return;
    srv->accept_paused = false;
    h2o_socket_read_start(srv->listener, on_accept);
    if (srv->tls_listener != NULL)
        h2o_socket_read_start(srv->tls_listener, on_accept);
}

static void on_accept_timer(h2o_timeout_entry_t *entry)
{
    http_server_t *srv = H2O_STRUCT_FROM_MEMBER(http_server_t, accept_timer, entry);
    server_accept_resume(srv);
}

static void on_trim_timer(h2o_timeout_entry_t *entry)
{
    http_server_t *srv = H2O_STRUCT_FROM_MEMBER(http_server_t, trim_timer, entry);
    malloc_trim(0);
    srv->trim_peak = srv->nconns;
}

/* Bookkeeping for a connection that closed: the counts, accepting again below the cap, and
 * giving memory back after a crowd of connections left (glibc keeps freed heap otherwise: the
 * sockets' and connections' small blocks are scattered over it). */
static void server_conn_gone(http_server_t *srv, const http_key_t *ip)
{
    srv->nconns--;
    atomic_store_explicit(&srv->st_conns_open, srv->nconns, memory_order_relaxed);
    http_counts_del(&srv->iptab, ip);
    server_accept_resume(srv);
    if (srv->trim_peak >= HTTP_TRIM_MIN_PEAK && srv->nconns <= srv->trim_peak / 2 &&
        !h2o_timeout_is_linked(&srv->trim_timer))
        h2o_timeout_link(srv->loop, &srv->trim_to, &srv->trim_timer);
}

/* Closes at once. A request in flight is aborted: its worker's pending and later calls
 * fail with HTTP_EABORTED. Frees conn. */
static void conn_close(http_conn_t *conn)
{
    http_server_t *srv = conn->srv;
    http_req_t *req = conn->req;
    if (req != NULL) {
        pthread_mutex_lock(&req->mu);
        req->aborted = true;
        pthread_cond_broadcast(&req->cv);
        pthread_mutex_unlock(&req->mu);
        req->conn = NULL;
        conn->req = NULL;
        req_unref(req);
    }
    if (h2o_timeout_is_linked(&conn->timer))
        h2o_timeout_unlink(&conn->timer);
    h2o_linklist_unlink(&conn->link);
    h2o_socket_close(conn->sock);
    server_conn_gone(srv, &conn->ip);
    free(conn);
}

/* Closes after a final response: shut the write side so the client sees EOF after the
 * response, then discard whatever it still sends (bounded by HTTP_LINGER_MS) so that the
 * close does not reset the connection under the response. */
static void conn_close_graceful(http_conn_t *conn)
{
    if (conn->srv->stopping) {
        conn_close(conn);
        return;
    }
    conn->lingering = true;
    shutdown(h2o_socket_get_fd(conn->sock), SHUT_WR);
    /* h2o reads (and we discard) again; with DONT_READ left on from an unread body the
     * level-triggered poll would spin on the pending bytes. */
    h2o_socket_dont_read(conn->sock, 0);
    if (conn->sock->input->size > 0)
        h2o_buffer_consume(&conn->sock->input, conn->sock->input->size);
    h2o_socket_read_start(conn->sock, on_conn_read);
    conn_update_timer(conn);
}

/* Sets the socket's SO_RCVLOWAT to want (see conn_lowat_for). It does not fail on a TCP socket;
 * if it did, lowat keeps the old value and the next call tries again. Lowering it below what
 * is queued makes the kernel report the socket readable at once. */
static void conn_set_lowat(http_conn_t *conn, int want)
{
    if (want == conn->lowat)
        return;
    if (setsockopt(h2o_socket_get_fd(conn->sock), SOL_SOCKET, SO_RCVLOWAT, &want, sizeof(want)) == 0)
        conn->lowat = want;
}

/* The SO_RCVLOWAT for what the loop waits on next (see HTTP_BODY_LOWAT): while a plain-text
 * Content-Length body has more than that still to come, HTTP_BODY_LOWAT, bounded so that a
 * client at exactly the minimum body rate fills it within half a rate window (the slow-body
 * guard runs on reads); else 1 (a request head, chunked framing or a body's last bytes must
 * wake the loop at once). */
static int conn_lowat_for(const http_conn_t *conn, bool body_reading)
{
    const h2o_socket_t *sock = conn->sock;
    const http_server_conf_t *conf = &conn->srv->conf;
    uint64_t want = (uint64_t)conf->body_min_rate * conf->body_rate_window_ms / 2000;
    if (want > HTTP_BODY_LOWAT)
        want = HTTP_BODY_LOWAT;
    if (!body_reading || sock->ssl != NULL || conn->req->info.chunked || want <= 1 ||
        conn->cl_left < sock->input->size + want)
        return 1;
    return (int)want;
}

/* On an io timeout: true when the bytes a client did send sat below SO_RCVLOWAT, unseen by the
 * loop. The low-water mark then drops to 1 so the loop reads them at once (and the slow-body
 * guard judges them); the timeout counts as progress. A client that sent nothing times out. */
static bool conn_lowat_hid_progress(http_conn_t *conn)
{
    int queued = 0;
    if (conn->lowat <= 1 || ioctl(h2o_socket_get_fd(conn->sock), SIOCINQ, &queued) != 0 || queued <= 0)
        return false;
    conn_set_lowat(conn, 1);
    return true;
}

static void on_conn_timeout(h2o_timeout_entry_t *entry)
{
    http_conn_t *conn = H2O_STRUCT_FROM_MEMBER(http_conn_t, timer, entry);
    bool io = conn->timer_on == &conn->srv->io_to;
    conn->timer_on = NULL;
    /* Only the io deadline measures the client's progress; idle and linger deadlines are fixed. */
    if (io && conn_lowat_hid_progress(conn)) {
        conn_update_timer(conn);
        return;
    }
    conn_close(conn);
}

static void on_error_written(h2o_socket_t *sock, const char *err)
{
    http_conn_t *conn = sock->data;
    conn->writing = false;
    if (err != NULL)
        conn_close(conn);
    else
        conn_close_graceful(conn);
}

/* Writes the last bytes of the connection (they must live until it closes), then closes. */
static void conn_write_final(http_conn_t *conn, h2o_iovec_t *iov, size_t n)
{
    h2o_socket_read_stop(conn->sock);
    conn->writing = true;
    h2o_socket_write(conn->sock, iov, n, on_error_written);
    conn_update_timer(conn);
}

/* Answers a request the loop rejected before any worker saw it, then closes. */
static void conn_send_error(http_conn_t *conn, int status)
{
    static const char r400[] = "HTTP/1.1 400 Bad Request\r\nContent-Length: 0\r\nConnection: close\r\n\r\n";
    static const char r431[] =
        "HTTP/1.1 431 Request Header Fields Too Large\r\nContent-Length: 0\r\nConnection: close\r\n\r\n";
    static const char r501[] = "HTTP/1.1 501 Not Implemented\r\nContent-Length: 0\r\nConnection: close\r\n\r\n";
    h2o_iovec_t buf;
    switch (status) {
    case 431: buf = h2o_iovec_init(r431, sizeof(r431) - 1); break;
    case 501: buf = h2o_iovec_init(r501, sizeof(r501) - 1); break;
    default: buf = h2o_iovec_init(r400, sizeof(r400) - 1); break;
    }
    conn_write_final(conn, &buf, 1);
}

/* Reads from the socket into sock->input until it holds `target` bytes or the socket has
 * nothing more. A connection's socket is in DONT_READ mode except while lingering (h2o only
 * reports readiness; epoll is level-triggered), because h2o's own reader drains the socket into
 * an unbounded buffer (up to tcp_rmem max, 32 MiB here) in one callback: a request head is read
 * up to HTTP_MAX_HEAD_BYTES, a body as the handler's buffer has room. `reserve` is what an empty
 * input is allocated with (HTTP_HEAD_RESERVE for heads). For bodies, callers keep target within
 * HTTP_PULL_MAX of what the input holds and reserve HTTP_PULL_MAX; the buffer is then always one
 * HTTP_PULL_MAX block: an empty input is allocated at exactly that size, and with a small leftover
 * (chunk framing) only a quarter of it is asked for, which h2o 2.2 makes room for by moving the leftover to the
 * front (it does while leftover + guarantee fit twice) rather than by doubling the block.
 * The number of bytes received (0 if none), or -1 at EOF or on a socket error. */
static ssize_t conn_pull(http_conn_t *conn, size_t target, size_t reserve)
{
    h2o_socket_t *sock = conn->sock;
    int fd = h2o_socket_get_fd(sock);
    size_t got = 0;
    if (sock->ssl != NULL) {
        /* Over TLS only h2o can read (it decrypts), and its read callback already put what it
         * read into the input: count those bytes once. */
        got = sock->bytes_read;
        sock->bytes_read = 0;
        return (ssize_t)got;
    }
    while (sock->input->size < target) {
        size_t want = target - sock->input->size;
        h2o_iovec_t buf = h2o_buffer_reserve(&sock->input, sock->input->size == 0 ? reserve : reserve / 4);
        if (want > buf.len)
            want = buf.len;
        ssize_t r = recv(fd, buf.base, want, 0);
        if (r > 0) {
            sock->input->size += (size_t)r;
            got += (size_t)r;
            if ((size_t)r < want)
                break; /* the socket is drained: skip the recv that would say EAGAIN */
        } else if (r == 0) {
            return -1;
        } else if (errno == EAGAIN || errno == EWOULDBLOCK) {
            break;
        } else if (errno != EINTR) {
            return -1;
        }
    }
    return (ssize_t)got;
}

/* Where conn_feed_body stands: what the current slice asked and got, and what all slices did. */
typedef struct {
    size_t asked; /* bytes this slice asked of the socket */
    ssize_t got;  /* bytes the socket gave */
    int body_err; /* a framing error found in this slice */
    bool stop;    /* the body is complete, failed or aborted */
    bool paused;  /* no room: no buffer posted, or it is full */
} conn_feed_t;

/* Room left in the buffer the handler posted (req->mu held); 0 when it posted none. The loop
 * reads a body only into it: while the handler is busy, the bytes wait in the kernel and TCP
 * slows the client. A body window the loop read ahead into (1 MiB a request, up to a 64 MiB
 * budget for all) kept, in each slow upload, the pages its bytes had passed through (~50-70 KiB)
 * and cost two more copies of every byte. */
static size_t req_body_room_locked(const http_req_t *req)
{
    return req->tgt != NULL ? req->tgt_cap - req->tgt_len : 0;
}

/* Does the loop take this request's body from the socket with its own recv, straight into the
 * handler's buffer? For a plain-text Content-Length body. Over TLS only h2o can read (it decrypts
 * into the socket's input buffer), and chunked framing is decoded in that buffer. */
static bool conn_body_direct(const http_conn_t *conn)
{
    return conn->sock->ssl == NULL && !conn->req->info.chunked;
}

/* How many bytes the socket input should hold for the next slice: what the handler's buffer has
 * room for (plus a little for chunk framing; nothing while it posted none), and at most
 * HTTP_PULL_MAX more than it holds. */
static size_t conn_body_target(http_conn_t *conn)
{
    http_req_t *req = conn->req;
    pthread_mutex_lock(&req->mu);
    size_t room = req_body_room_locked(req);
    pthread_mutex_unlock(&req->mu);
    size_t target = 0;
    if (req->info.chunked && !conn->dec_done && room > 0)
        target = room + (16u << 10);
    else if (!req->info.chunked)
        target = conn->cl_left < room ? (size_t)conn->cl_left : room;
    if (target > conn->sock->input->size + HTTP_PULL_MAX)
        target = conn->sock->input->size + HTTP_PULL_MAX;
    return target;
}

/* Decodes the chunked framing received since the last call in place. 0 or HTTP_EBODY. */
static int conn_body_dechunk(http_conn_t *conn)
{
    h2o_socket_t *sock = conn->sock;
    if (!conn->req->info.chunked || conn->dec_done || sock->input->size <= conn->dec_pending)
        return 0;
    size_t n = sock->input->size - conn->dec_pending;
    ssize_t r = http_chunked_decode(&conn->dec, sock->input->bytes + conn->dec_pending, &n);
    if (r == -1)
        return HTTP_EBODY;
    /* Same bookkeeping as h2o's own http1.c: the payload is now contiguous after what was
     * decoded before; once done, r leftover bytes (the next pipelined request) follow it. */
    sock->input->size = conn->dec_pending + n;
    conn->dec_pending += n;
    if (r >= 0) {
        conn->dec_done = true;
        sock->input->size += (size_t)r;
    }
    return 0;
}

/* After n more body bytes went to the handler's buffer (req->mu held): the body's state, whether
 * the loop must pause, and a wake-up for the handler once its buffer holds enough to do
 * (HTTP_WAKE_MIN, or all of it when smaller) or nothing more can come. */
static void req_body_moved_locked(http_conn_t *conn, size_t n, conn_feed_t *f)
{
    http_req_t *req = conn->req;
    bool done;
    if (req->info.chunked) {
        conn->dec_pending -= n;
        done = conn->dec_done && conn->dec_pending == 0;
    } else {
        conn->cl_left -= n;
        done = conn->cl_left == 0;
    }
    req->body_done = done;
    if (f->body_err != 0)
        req->body_err = f->body_err;
    f->stop = done || req->body_err != 0 || req->aborted;
    req->body_paused = !f->stop && req_body_room_locked(req) == 0;
    f->paused = req->body_paused;
    size_t wake = req->tgt_cap < HTTP_WAKE_MIN ? req->tgt_cap : HTTP_WAKE_MIN;
    if (f->stop || (n > 0 && req->tgt_len >= wake))
        pthread_cond_signal(&req->cv);
}

/* Moves up to avail body bytes from the front of the socket input to the handler's buffer, as it
 * has room, and updates the request (req_body_moved_locked). Returns the bytes moved (the caller
 * consumes them from the input). */
static size_t conn_body_move(http_conn_t *conn, size_t avail, conn_feed_t *f)
{
    http_req_t *req = conn->req;
    pthread_mutex_lock(&req->mu);
    size_t n = req_body_room_locked(req);
    if (n > avail)
        n = avail;
    if (n > 0) {
        memcpy(req->tgt + req->tgt_len, conn->sock->input->bytes, n);
        req->tgt_len += n;
    }
    req_body_moved_locked(conn, n, f);
    pthread_mutex_unlock(&req->mu);
    return n;
}

/* Reads a direct body (conn_body_direct) from the socket straight into the handler's posted
 * buffer, so the kernel's copy is the only one. Sets f->asked and f->got (-1 at EOF or on a
 * socket error: the caller closes). Under mu, held through the recv: the handler sleeps on cv
 * until it is handed the bytes and takes mu before it looks at its buffer. */
static void conn_body_recv(http_conn_t *conn, conn_feed_t *f)
{
    http_req_t *req = conn->req;
    ssize_t r = 0;
    pthread_mutex_lock(&req->mu);
    size_t room = req_body_room_locked(req);
    f->asked = conn->cl_left < room ? (size_t)conn->cl_left : room;
    while (f->asked > 0 &&
           (r = recv(h2o_socket_get_fd(conn->sock), req->tgt + req->tgt_len, f->asked, 0)) < 0 && errno == EINTR)
        ;
    if (r > 0)
        req->tgt_len += (size_t)r;
    bool failed = f->asked > 0 && (r == 0 || (r < 0 && errno != EAGAIN && errno != EWOULDBLOCK));
    f->got = failed ? -1 : r > 0 ? r : 0;
    if (!failed)
        req_body_moved_locked(conn, (size_t)f->got, f);
    pthread_mutex_unlock(&req->mu);
}

/* One slice through the socket's input buffer (a body over TLS or chunked, or bytes that came
 * in with the head): reads, decodes the framing and moves the bytes on. false when the
 * connection must close: EOF or a socket error. */
static bool conn_body_slice(http_conn_t *conn, conn_feed_t *f)
{
    http_req_t *req = conn->req;
    h2o_socket_t *sock = conn->sock;
    size_t target = conn_body_target(conn);
    f->asked = target > sock->input->size ? target - sock->input->size : 0;
    f->got = f->asked > 0 ? conn_pull(conn, target, HTTP_PULL_MAX) : 0;
    if (f->got < 0)
        return false;
    f->body_err = conn_body_dechunk(conn);
    size_t avail = req->info.chunked ? conn->dec_pending
                                     : (sock->input->size < conn->cl_left ? sock->input->size : conn->cl_left);
    size_t n = conn_body_move(conn, avail, f);
    if (n > 0)
        h2o_buffer_consume(&sock->input, n);
    return true;
}

/* Moves body bytes from the socket to the handler's buffer: a direct body straight from the
 * socket, others through the socket's input buffer, decoding chunked framing in place (the
 * decoded bytes stay at the front of the input until they are moved on). Then starts or stops
 * reading the socket to match the room. Returns false when it had to close (and free) conn: EOF
 * or socket error, or a client below the minimum body rate.
 *
 * The input buffer is filled HTTP_PULL_MAX at a time, each slice moved on before the next, so it
 * stays one fixed-size small block: h2o frees it whenever it is emptied and allocates exactly the
 * size asked for next, and reading a whole 1 MiB room in one go made that a new block of up to
 * 1 MiB per read, of varying size (fragmenting the loop thread's malloc arena, or a fresh mapping
 * and its page faults per read under main.c's fixed mmap threshold: +12% gateway CPU on large
 * PUTs). */
static bool conn_feed_body(http_conn_t *conn)
{
    h2o_socket_t *sock = conn->sock;
    conn_feed_t f = {0};

    for (;;) {
        bool ok;
        if (conn_body_direct(conn) && sock->input->size == 0) {
            conn_body_recv(conn, &f);
            ok = f.got >= 0;
        } else {
            ok = conn_body_slice(conn, &f);
        }
        if (!ok || !conn_body_rate_ok(conn, (size_t)f.got)) {
            conn_close(conn);
            return false;
        }
        /* Another slice only if this one filled up: otherwise the socket is drained. */
        if (f.stop || f.paused || f.asked == 0 || (size_t)f.got < f.asked)
            break;
    }
    /* After the body (or a framing error) nothing is read until the response is out: the
     * next request's bytes wait in the kernel or in sock->input. */
    conn_set_lowat(conn, conn_lowat_for(conn, !f.stop));
    if (f.stop) {
        h2o_socket_read_stop(sock);
        h2o_socket_dont_read(sock, 0);
    } else if (f.paused) {
        h2o_socket_read_stop(sock);
        conn->rate_on = false; /* conn_update_timer keeps it while a response is being written */
    } else {
        h2o_socket_read_start(sock, on_conn_read);
    }
    conn_update_timer(conn);
    return true;
}

/* The request's response is fully on the wire: drop it and go on with the connection. */
static void conn_finish_req(http_conn_t *conn)
{
    http_req_t *req = conn->req;
    pthread_mutex_lock(&req->mu);
    bool must_close = req->close_after || !req->body_done || req->body_err != 0;
    pthread_mutex_unlock(&req->mu);
    req->conn = NULL;
    conn->req = NULL;
    conn->cont_sent = false;
    req_unref(req);
    if (must_close || conn->srv->stopping) {
        conn_close_graceful(conn);
        return;
    }
    conn_on_head_input(conn);
}

static void on_conn_written(h2o_socket_t *sock, const char *err)
{
    http_conn_t *conn = sock->data;
    conn->writing = false;
    if (err != NULL) {
        conn_close(conn);
        return;
    }
    if (conn->writing_out) {
        http_req_t *req = conn->req;
        conn->writing_out = false;
        pthread_mutex_lock(&req->mu);
        req->out_pending = false;
        pthread_cond_signal(&req->cv);
        pthread_mutex_unlock(&req->mu);
    }
    conn_pump(conn);
}

/* Starts the next write the request needs (100 Continue and/or the worker's bytes), or
 * finishes the request when the worker ended it and everything is written. */
static void conn_pump(http_conn_t *conn)
{
    static const char cont[] = "HTTP/1.1 100 Continue\r\n\r\n";
    http_req_t *req = conn->req;
    h2o_iovec_t iov[4];
    size_t n = 0;

    if (conn->writing)
        return;
    pthread_mutex_lock(&req->mu);
    /* Asked for before the response started (req_start_body_locked), so it goes out first even
     * when the handler's answer is already waiting: both leave in this one write. */
    if (req->want_continue && !conn->cont_sent) {
        conn->cont_sent = true;
        iov[n++] = h2o_iovec_init(cont, sizeof(cont) - 1);
    }
    if (req->out_pending) {
        memcpy(iov + n, req->wr_iov, req->wr_n * sizeof(iov[0]));
        n += req->wr_n;
        conn->writing_out = true;
    }
    bool finished = n == 0 && req->ended;
    pthread_mutex_unlock(&req->mu);

    if (n > 0) {
        conn->writing = true;
        h2o_socket_write(conn->sock, iov, n, on_conn_written);
        conn_update_timer(conn);
    } else if (finished) {
        conn_finish_req(conn);
    } else {
        conn_update_timer(conn);
    }
}

/* A worker changed something on req (asked for the body or posted a buffer, 100 Continue or a
 * write). */
static void conn_on_req_event(http_conn_t *conn)
{
    http_req_t *req = conn->req;
    pthread_mutex_lock(&req->mu);
    bool feed = req->want_body && !req->body_done && req->body_err == 0 && !req->body_paused;
    pthread_mutex_unlock(&req->mu);
    if (feed && !h2o_socket_is_reading(conn->sock) && !conn_feed_body(conn))
        return;
    conn_pump(conn);
}

static bool header_has_token(og_str_t v, const char *token)
{
    size_t tl = strlen(token);
    size_t i = 0;
    while (i < v.len) {
        while (i < v.len && (v.base[i] == ' ' || v.base[i] == '\t' || v.base[i] == ','))
            i++;
        size_t s = i;
        while (i < v.len && v.base[i] != ',')
            i++;
        size_t e = i;
        while (e > s && (v.base[e - 1] == ' ' || v.base[e - 1] == '\t'))
            e--;
        if (e - s == tl && og_str_ieq((og_str_t){v.base + s, tl}, token))
            return true;
    }
    return false;
}

/* Strict decimal: digits only, no sign, no overflow past INT64_MAX. */
static int parse_content_length(og_str_t v, int64_t *out)
{
    uint64_t n;
    if (og_parse_dec(og_str_trim(v), 18, &n) != 0)
        return OG_EINVAL;
    *out = (int64_t)n;
    return 0;
}

/* Reads the framing headers into req->info. 0, or the HTTP status to reject with. */
static int req_parse_framing(http_req_t *req)
{
    http_reqinfo_t *info = &req->info;
    bool have_cl = false, have_te = false, conn_close_tok = false, conn_keep_tok = false;
    int64_t cl = 0;

    for (size_t i = 0; i < info->num_headers; i++) {
        const og_header_t *h = &req->headers[i];
        if (og_str_ieq(h->name, "content-length")) {
            int64_t v;
            if (parse_content_length(h->value, &v) != 0 || (have_cl && v != cl))
                return 400;
            have_cl = true;
            cl = v;
        } else if (og_str_ieq(h->name, "transfer-encoding")) {
            /* Only plain "chunked" is supported; a second header would add a coding. */
            if (have_te || !og_str_ieq(og_str_trim(h->value), "chunked"))
                return 501;
            have_te = true;
        } else if (og_str_ieq(h->name, "connection")) {
            conn_close_tok |= header_has_token(h->value, "close");
            conn_keep_tok |= header_has_token(h->value, "keep-alive");
        } else if (og_str_ieq(h->name, "expect")) {
            info->expect_continue = og_str_ieq(og_str_trim(h->value), "100-continue");
        }
    }
    if (have_cl && have_te)
        return 400; /* request smuggling vector (RFC 9112 6.3) */
    info->chunked = have_te;
    info->content_length = have_te ? -1 : cl;
    /* A zero-length body still gets its "100 Continue" when the handler reads it: botocore
     * waits for it even then, and without it leaves the connection in a state that stalls its
     * next request. */
    if (info->minor_version == 0)
        info->expect_continue = 0;
    req->client_keepalive = info->minor_version >= 1 ? !conn_close_tok : conn_keep_tok;
    return 0;
}

/* Builds a request from the parsed head at the front of the socket input. */
static int req_new(http_conn_t *conn, size_t head_len, const char *method, size_t method_len, const char *target,
                   size_t target_len, int minor, const struct phr_header *phr, size_t nh, http_req_t **out)
{
    const char *base = conn->sock->input->bytes;
    http_req_t *req = malloc(sizeof(*req) + head_len + 1);
    if (req == NULL)
        return -ENOMEM;
    memset(req, 0, offsetof(http_req_t, headers));
    memcpy(req->head, base, head_len);
    req->head[head_len] = '\0';
    /* Slices are rebased from the input buffer onto the copy. */
#define REBASE(p) (req->head + ((p) - base))
    http_reqinfo_t *info = &req->info;
    info->method = (og_str_t){REBASE(method), method_len};
    info->target = (og_str_t){REBASE(target), target_len};
    const char *q = memchr(info->target.base, '?', target_len);
    if (q != NULL) {
        info->path = (og_str_t){info->target.base, (size_t)(q - info->target.base)};
        info->query = (og_str_t){q + 1, target_len - (size_t)(q - info->target.base) - 1};
    } else {
        info->path = info->target;
        info->query = (og_str_t){info->target.base + target_len, 0};
    }
    for (size_t i = 0; i < nh; i++) {
        req->headers[i].name = (og_str_t){REBASE(phr[i].name), phr[i].name_len};
        req->headers[i].value = (og_str_t){REBASE(phr[i].value), phr[i].value_len};
    }
#undef REBASE
    info->headers = req->headers;
    info->num_headers = nh;
    info->minor_version = minor;
    info->is_head = og_str_eq(info->method, "HEAD");
    info->tls = conn->sock->ssl != NULL;
    memcpy(info->remote, conn->remote, sizeof(info->remote));
    req->srv = conn->srv;
    req->t_start_ns = og_mono_ns();
    req->out = req->out_inline;
    req->out_cap = sizeof(req->out_inline);
    pthread_mutex_init(&req->mu, NULL);
    pthread_cond_init(&req->cv, NULL);
    *out = req;
    return 0;
}

/* More than HTTP_MAX_HEADERS headers make phr_parse_request fail like garbage does; a wider
 * parse tells the two apart. */
static bool head_has_too_many_headers(http_conn_t *conn)
{
    const char *m, *p;
    size_t ml, pl, nh = HTTP_PARSE_WIDE_HEADERS;
    int minor;
    int r = phr_parse_request(conn->sock->input->bytes, conn->sock->input->size, &m, &ml, &p, &pl, &minor,
                              conn->srv->wide, &nh, 0);
    return r != -1 && nh > HTTP_MAX_HEADERS;
}

/* Are max_queue requests already waiting for a worker? */
static bool server_queue_full(http_server_t *srv)
{
    pthread_mutex_lock(&srv->mu);
    bool full = srv->njobs >= srv->conf.max_queue;
    pthread_mutex_unlock(&srv->mu);
    return full;
}

/* Answers req (not handed to any worker) with a 503 in its protocol, then closes. */
static void conn_send_busy(http_conn_t *conn, const http_req_t *req)
{
    http_server_t *srv = conn->srv;
    const char *ctype = "text/plain";
    og_str_t body = OG_STR_LIT("Service Unavailable: the server is busy, please retry.\n");
    if (srv->conf.busy != NULL)
        body = srv->conf.busy(&req->info, srv->conf.ctx, &ctype);
    int n = snprintf(conn->busy_head, sizeof(conn->busy_head),
                     "HTTP/1.1 503 Service Unavailable\r\nRetry-After: 1\r\nContent-Type: %s\r\n"
                     "Content-Length: %zu\r\nConnection: close\r\n\r\n",
                     ctype, body.len);
    h2o_iovec_t iov[2] = {h2o_iovec_init(conn->busy_head, (size_t)n), h2o_iovec_init(body.base, body.len)};
    conn_write_final(conn, iov, 2);
}

/* A header line that starts with a blank continues the one before it (obs-fold, RFC 9112 5.2);
 * picohttpparser returns it as a header without a name. */
static bool head_has_obs_fold(const struct phr_header *phr, size_t nh)
{
    for (size_t i = 0; i < nh; i++)
        if (phr[i].name == NULL)
            return true;
    return false;
}

static http_worker_t *server_reserve_worker_locked(http_server_t *srv);
static void server_spawn_worker(http_server_t *srv, http_worker_t *w);

/* Queues req for a worker; when no idle worker is left for it, starts one more thread (up to
 * workers_max), so a request never waits behind handlers that are only blocked on their clients. */
static void server_dispatch(http_server_t *srv, http_req_t *req)
{
    http_worker_t *w = NULL;
    pthread_mutex_lock(&srv->mu);
    req->job_next = NULL;
    *srv->jobs_tail = req;
    srv->jobs_tail = &req->job_next;
    srv->njobs++;
    atomic_store_explicit(&srv->st_queued, srv->njobs, memory_order_relaxed);
    if (srv->njobs > srv->nidle)
        w = server_reserve_worker_locked(srv);
    pthread_mutex_unlock(&srv->mu);
    /* Signalled after the unlock: a worker woken under the mutex would at once block on it, and
     * the loop would have to wake it a second time. The job is queued, so no wake-up is lost. */
    pthread_cond_signal(&srv->cv);
    if (w != NULL)
        server_spawn_worker(srv, w);
}

/* Takes a small Content-Length body that came in whole with its head (the common small PUT) out
 * of the input and hands it to the handler with the request: its http_req_read then finds the
 * bytes without waking the loop and waiting for it to move them (a loop wake-up and two thread
 * switches per request, which on a VM cost more than the rest of the request's body handling).
 * These bytes are in memory already: the rule that nothing is read from the socket before the
 * handler asks (after auth) stands, and they now live in req instead of in the input. A body
 * only partly here is left to the loop (a slow upload must not pin up to 64 KiB for its whole
 * life). Returns the bytes taken; 0 also when out of memory (the loop moves them later). */
static size_t req_take_early_body(http_req_t *req, h2o_buffer_t **input)
{
    int64_t cl = req->info.content_length;
    if (req->info.chunked || cl <= 0 || cl > (int64_t)HTTP_EARLY_BODY_MAX || (*input)->size < (size_t)cl)
        return 0;
    req->early = malloc((size_t)cl);
    if (req->early == NULL)
        return 0;
    memcpy(req->early, (*input)->bytes, (size_t)cl);
    req->early_len = (size_t)cl;
    h2o_buffer_consume(input, (size_t)cl);
    return (size_t)cl;
}

/* Parses the next request head from the input, or waits for more of it. */
static void conn_on_head_input(http_conn_t *conn)
{
    h2o_socket_t *sock = conn->sock;
    struct phr_header phr[HTTP_MAX_HEADERS];
    size_t nh = HTTP_MAX_HEADERS;
    const char *method, *target;
    size_t method_len, target_len;
    int minor;
    http_req_t *req;

    if (conn->srv->stopping) {
        conn_close(conn);
        return;
    }
    /* At EOF a head already received is still answered (a client may half-close after it). */
    bool eof = conn_pull(conn, HTTP_MAX_HEAD_BYTES, HTTP_HEAD_RESERVE) < 0;
    int hl = sock->input->size == 0 ? -2
                                    : phr_parse_request(sock->input->bytes, sock->input->size, &method, &method_len,
                                                        &target, &target_len, &minor, phr, &nh, 0);
    if (hl == -2 && eof) {
        conn_close(conn);
        return;
    }
    if (hl == -2) {
        if (sock->input->size >= HTTP_MAX_HEAD_BYTES) {
            conn_send_error(conn, 431);
            return;
        }
        h2o_socket_read_start(sock, on_conn_read);
        conn_update_timer(conn);
        return;
    }
    if (hl == -1) {
        conn_send_error(conn, head_has_too_many_headers(conn) ? 431 : 400);
        return;
    }
    if ((size_t)hl > HTTP_MAX_HEAD_BYTES) {
        conn_send_error(conn, 431);
        return;
    }
    if (head_has_obs_fold(phr, nh)) {
        conn_send_error(conn, 400); /* RFC 9112 lets a server refuse obs-fold; there is no name to rebase */
        return;
    }
    if (req_new(conn, (size_t)hl, method, method_len, target, target_len, minor, phr, nh, &req) != 0) {
        conn_close(conn);
        return;
    }
    int status = req_parse_framing(req);
    if (status != 0) {
        req_free(req);
        conn_send_error(conn, status);
        return;
    }
    if (server_queue_full(conn->srv)) {
        conn_send_busy(conn, req);
        req_free(req);
        return;
    }
    h2o_buffer_consume(&sock->input, (size_t)hl);

    req->refs = 2; /* the loop's (conn->req) and the worker's */
    req->conn = conn;
    conn->req = req;
    conn->cont_sent = false;
    conn->rate_on = false;
    conn->dec = (http_chunked_t){0};
    conn->dec_pending = 0;
    conn->dec_done = false;
    size_t early = req_take_early_body(req, &sock->input);
    conn->cl_left = req->info.chunked ? 0 : (uint64_t)req->info.content_length - early;
    /* No body byte is taken from the socket before the handler asks for the body (after auth):
     * until then a body waits in the kernel, apart from what came in with the head. */
    req->body_done = !req->info.chunked && conn->cl_left == 0;
    h2o_socket_read_stop(sock);
    conn_update_timer(conn);
    server_dispatch(conn->srv, req);
}

static void on_conn_read(h2o_socket_t *sock, const char *err)
{
    http_conn_t *conn = sock->data;
    if (err != NULL) {
        conn_close(conn);
        return;
    }
    if (conn->lingering) {
        if (sock->input->size > 0)
            h2o_buffer_consume(&sock->input, sock->input->size);
        return;
    }
    if (conn->req == NULL)
        conn_on_head_input(conn);
    else
        conn_feed_body(conn);
}

static void format_remote(const struct sockaddr_storage *ss, char *out, size_t cap)
{
    char host[INET6_ADDRSTRLEN] = "?";
    if (ss->ss_family == AF_INET) {
        const struct sockaddr_in *sin = (const struct sockaddr_in *)ss;
        inet_ntop(AF_INET, &sin->sin_addr, host, sizeof(host));
        snprintf(out, cap, "%s:%d", host, ntohs(sin->sin_port));
    } else if (ss->ss_family == AF_INET6) {
        const struct sockaddr_in6 *sin6 = (const struct sockaddr_in6 *)ss;
        inet_ntop(AF_INET6, &sin6->sin6_addr, host, sizeof(host));
        snprintf(out, cap, "[%s]:%d", host, ntohs(sin6->sin6_port));
    } else {
        snprintf(out, cap, "?");
    }
}

static void on_handshake(h2o_socket_t *sock, const char *err)
{
    http_conn_t *conn = sock->data;
    if (err != NULL)
        conn_close(conn);
    else
        conn_on_head_input(conn);
}

/* Closes an accepted socket that is not admitted with a RST: nothing lingers in TIME_WAIT. */
static void sock_reset(h2o_socket_t *sock)
{
    struct linger lg = {1, 0};
    setsockopt(h2o_socket_get_fd(sock), SOL_SOCKET, SO_LINGER, &lg, sizeof(lg));
    h2o_socket_close(sock);
}

/* Takes an accepted socket as a connection, unless its address already holds max_conns_per_ip
 * connections (or there is no memory): then it is reset at once. A TLS connection starts with
 * its handshake, under the idle timeout like a request head. */
static void server_admit(http_server_t *srv, h2o_socket_t *sock, bool tls)
{
    struct sockaddr_storage ss = {0};
    socklen_t sl = sizeof(ss);
    if (getpeername(h2o_socket_get_fd(sock), (struct sockaddr *)&ss, &sl) != 0)
        ss.ss_family = AF_UNSPEC;
    http_key_t ip = http_key_of_addr((const struct sockaddr *)&ss);
    if (!http_counts_add(&srv->iptab, &ip, srv->conf.max_conns_per_ip)) {
        atomic_fetch_add_explicit(&srv->st_conns_refused, 1, memory_order_relaxed);
        sock_reset(sock);
        return;
    }
    http_conn_t *conn = calloc(1, sizeof(*conn));
    if (conn == NULL) {
        atomic_fetch_add_explicit(&srv->st_conns_refused, 1, memory_order_relaxed);
        http_counts_del(&srv->iptab, &ip);
        sock_reset(sock);
        return;
    }
    conn->srv = srv;
    conn->lowat = 1;
    conn->sock = sock;
    conn->ip = ip;
    conn->timer.cb = on_conn_timeout;
    sock->data = conn;
    format_remote(&ss, conn->remote, sizeof(conn->remote));
    h2o_linklist_insert(&srv->conns, &conn->link);
    if (++srv->nconns > srv->trim_peak)
        srv->trim_peak = srv->nconns;
    atomic_store_explicit(&srv->st_conns_open, srv->nconns, memory_order_relaxed);
    atomic_fetch_add_explicit(&srv->st_conns_accepted, 1, memory_order_relaxed);
    if (tls) {
        /* Over TLS only h2o can read (it decrypts): no DONT_READ (see conn_pull). */
        http_tls_handshake(srv->conf.tls, sock, on_handshake);
        conn_update_timer(conn);
        return;
    }
    h2o_socket_dont_read(sock, 1); /* conn_pull reads, bounded */
    h2o_socket_read_start(sock, on_conn_read);
    conn_update_timer(conn);
    /* A client sends its request as soon as it is connected, so when a busy loop gets to the
     * accept the head is usually there: read it now and the request is dispatched in this pass,
     * not after the next epoll_wait, whose pass may first read up to 256 uploads' bodies (2,000
     * slow uploads: accept to dispatch p99 18-27 ms before, 1.4 ms after; docs/benchmarks.md).
     * No head yet costs one recv (EAGAIN) and leaves the socket armed as above. */
    conn_on_head_input(conn);
}

/* Accepts while below max_conns. At the cap, or when accept() fails for lack of descriptors or
 * memory, the listener is paused instead of being left readable to a level-triggered loop. */
static void on_accept(h2o_socket_t *listener, const char *err)
{
    http_server_t *srv = listener->data;
    h2o_socket_t *sock;
    if (err != NULL)
        return;
    while (srv->nconns < srv->conf.max_conns) {
        if ((sock = h2o_evloop_socket_accept(listener)) == NULL) {
            /* h2o returns accept4's failure with its errno. */
            if (errno == EMFILE || errno == ENFILE || errno == ENOBUFS || errno == ENOMEM)
                server_accept_pause(srv, true);
            return;
        }
        server_admit(srv, sock, listener == srv->tls_listener);
    }
    server_accept_pause(srv, false);
}

static void server_close_listeners(http_server_t *srv)
{
    if (srv->listener != NULL) {
        h2o_socket_close(srv->listener);
        srv->listener = NULL;
    }
    if (srv->tls_listener != NULL) {
        h2o_socket_close(srv->tls_listener);
        srv->tls_listener = NULL;
    }
}

/* Stops accepting; idle and lingering connections close now, busy ones after their
 * response (workers see stop_requested and answer with Connection: close). */
static void server_begin_stop(http_server_t *srv)
{
    srv->stopping = true;
    srv->stop_deadline = og_mono_ms() + HTTP_STOP_GRACE_MS;
    if (h2o_timeout_is_linked(&srv->accept_timer))
        h2o_timeout_unlink(&srv->accept_timer);
    server_close_listeners(srv);
    h2o_linklist_t *node = srv->conns.next;
    while (node != &srv->conns) {
        http_conn_t *conn = H2O_STRUCT_FROM_MEMBER(http_conn_t, link, node);
        node = node->next;
        if ((conn->req == NULL && !conn->writing) || conn->lingering)
            conn_close(conn);
    }
}

static http_req_t *server_take_ready(http_server_t *srv)
{
    pthread_mutex_lock(&srv->ready_mu);
    http_req_t *list = srv->ready;
    srv->ready = NULL;
    pthread_mutex_unlock(&srv->ready_mu);
    return list;
}

static void on_wake(h2o_socket_t *sock, const char *err)
{
    http_server_t *srv = sock->data;
    if (sock->input->size > 0)
        h2o_buffer_consume(&sock->input, sock->input->size);
    if (atomic_load(&srv->stop_requested) && !srv->stopping)
        server_begin_stop(srv);
    http_req_t *list = server_take_ready(srv);
    while (list != NULL) {
        http_req_t *req = list;
        list = req->ready_next;
        /* Cleared before looking at the state, so a change made after this point queues
         * the request again instead of being missed. */
        pthread_mutex_lock(&req->mu);
        req->queued = false;
        pthread_mutex_unlock(&req->mu);
        if (req->conn != NULL)
            conn_on_req_event(req->conn);
        req_unref(req);
    }
}

/* ------------------------------------------------------------------------------------ */
/* workers                                                                              */

/* Ends the worker's http_req_claim, if any (worker thread). */
static void worker_release_claim(http_worker_t *w)
{
    if (!w->claimed)
        return;
    pthread_mutex_lock(&w->srv->mu);
    http_counts_del(&w->srv->claims, &w->claim);
    w->claimed = false;
    pthread_mutex_unlock(&w->srv->mu);
}

static void worker_run_req(http_worker_t *w, http_req_t *req)
{
    http_server_t *srv = w->srv;
    pthread_mutex_lock(&req->mu);
    bool aborted = req->aborted;
    pthread_mutex_unlock(&req->mu);
    req->worker = w;
    atomic_fetch_add_explicit(&srv->st_in_flight, 1, memory_order_relaxed);
    if (!aborted)
        srv->conf.handler(req, srv->conf.ctx);
    atomic_fetch_sub_explicit(&srv->st_in_flight, 1, memory_order_relaxed);
    worker_release_claim(w);
    if (req->op_set && srv->conf.metrics != NULL)
        http_metrics_observe(srv->conf.metrics, req);

    pthread_mutex_lock(&req->mu);
    bool unanswered = !req->ended && !req->aborted;
    pthread_mutex_unlock(&req->mu);
    if (unanswered && !req->w_started) {
        /* The handler broke its contract; the client still gets an answer. */
        http_resp_send(req, 500, NULL, 0, NULL, 0);
    } else if (unanswered && req->w_chunked) {
        /* A started response was not ended: cut the connection, so the client does not take a
         * short body for a whole one; a chunked body must not get its terminator. */
        pthread_mutex_lock(&req->mu);
        req->ended = true;
        req->close_after = true;
        req_notify_locked(req);
        pthread_mutex_unlock(&req->mu);
    } else if (unanswered) {
        /* The same for a Content-Length body, whose bytes still in out (its last write may wait
         * there) go out first: the end hands them over, and close_after cuts after them. */
        pthread_mutex_lock(&req->mu);
        req->close_after = true;
        pthread_mutex_unlock(&req->mu);
        http_resp_end(req);
    }
    req_unref(req);
}

/* Waits for a request (under srv->mu). A thread beyond the core that waited HTTP_WORKER_IDLE_MS in
 * vain gets NULL and must exit, as must every thread once workers_exit is set. */
static http_req_t *worker_next_locked(http_server_t *srv)
{
    while (srv->jobs_head == NULL && !srv->workers_exit) {
        int e = 0;
        srv->nidle++;
        if (srv->nlive > srv->conf.workers) {
            struct timespec ts;
            clock_gettime(CLOCK_MONOTONIC, &ts);
            ts.tv_sec += HTTP_WORKER_IDLE_MS / 1000;
            e = pthread_cond_timedwait(&srv->cv, &srv->mu, &ts);
        } else {
            pthread_cond_wait(&srv->cv, &srv->mu);
        }
        srv->nidle--;
        if (e == ETIMEDOUT && srv->jobs_head == NULL && srv->nlive > srv->conf.workers)
            return NULL;
    }
    http_req_t *req = srv->jobs_head;
    if (req != NULL) {
        srv->njobs--;
        atomic_store_explicit(&srv->st_queued, srv->njobs, memory_order_relaxed);
        srv->jobs_head = req->job_next;
        if (srv->jobs_head == NULL)
            srv->jobs_tail = &srv->jobs_head;
    }
    return req;
}

static void *worker_main(void *arg)
{
    http_worker_t *w = arg;
    http_server_t *srv = w->srv;
    w->rng = og_rng_seed();
    pthread_mutex_lock(&srv->mu);
    for (http_req_t *req; (req = worker_next_locked(srv)) != NULL;) {
        pthread_mutex_unlock(&srv->mu);
        worker_run_req(w, req);
        pthread_mutex_lock(&srv->mu);
    }
    /* The thread is detached: after this unlock it touches nothing of srv, which may be freed. */
    w->live = false;
    if (--srv->nlive == 0)
        pthread_cond_broadcast(&srv->exit_cv);
    pthread_mutex_unlock(&srv->mu);
    return NULL;
}

/* A free worker slot, counted live, when fewer than workers_max threads run; else NULL. Under
 * srv->mu. Start its thread with server_spawn_worker. */
static http_worker_t *server_reserve_worker_locked(http_server_t *srv)
{
    if (srv->nlive >= srv->conf.workers_max || srv->workers_exit)
        return NULL;
    for (size_t i = 0; i < srv->conf.workers_max; i++) {
        http_worker_t *w = &srv->workers[i];
        if (!w->live) {
            w->live = true;
            w->srv = srv;
            srv->nlive++;
            return w;
        }
    }
    return NULL;
}

/* Starts w's thread (not under srv->mu). When the system refuses one, the slot is given back: the
 * queued request waits for a running worker instead. */
static void server_spawn_worker(http_server_t *srv, http_worker_t *w)
{
    pthread_t tid;
    if (pthread_create(&tid, &srv->worker_attr, worker_main, w) == 0)
        return;
    pthread_mutex_lock(&srv->mu);
    w->live = false;
    if (--srv->nlive == 0)
        pthread_cond_broadcast(&srv->exit_cv);
    pthread_mutex_unlock(&srv->mu);
}

/* Starts the core of conf.workers threads. 0, or -EAGAIN when not one could be started. */
static int server_start_workers(http_server_t *srv)
{
    for (size_t i = 0; i < srv->conf.workers; i++) {
        pthread_mutex_lock(&srv->mu);
        http_worker_t *w = server_reserve_worker_locked(srv);
        pthread_mutex_unlock(&srv->mu);
        if (w != NULL)
            server_spawn_worker(srv, w);
    }
    pthread_mutex_lock(&srv->mu);
    size_t live = srv->nlive;
    pthread_mutex_unlock(&srv->mu);
    return live > 0 ? 0 : -EAGAIN;
}

/* Tells every worker to exit once the queue is empty and waits until all have. */
static void server_stop_workers(http_server_t *srv)
{
    pthread_mutex_lock(&srv->mu);
    srv->workers_exit = true;
    pthread_cond_broadcast(&srv->cv);
    while (srv->nlive > 0)
        pthread_cond_wait(&srv->exit_cv, &srv->mu);
    pthread_mutex_unlock(&srv->mu);
}

/* ------------------------------------------------------------------------------------ */
/* server lifecycle                                                                     */

/* srv->conf: conf with every unset (0) limit at its default. */
static void server_conf_defaults(http_server_t *srv, const http_server_conf_t *conf)
{
    srv->conf = *conf;
    if (srv->conf.workers == 0)
        srv->conf.workers = HTTP_DEFAULT_WORKERS;
    if (srv->conf.workers_max == 0)
        srv->conf.workers_max = HTTP_DEFAULT_WORKERS_MAX;
    if (srv->conf.workers_max < srv->conf.workers)
        srv->conf.workers_max = srv->conf.workers;
    if (srv->conf.idle_timeout_ms == 0)
        srv->conf.idle_timeout_ms = HTTP_DEFAULT_TIMEOUT_MS;
    if (srv->conf.io_timeout_ms == 0)
        srv->conf.io_timeout_ms = HTTP_DEFAULT_TIMEOUT_MS;
    if (srv->conf.body_min_rate == 0)
        srv->conf.body_min_rate = HTTP_DEFAULT_BODY_MIN_RATE;
    if (srv->conf.body_rate_window_ms == 0)
        srv->conf.body_rate_window_ms = HTTP_DEFAULT_BODY_RATE_WINDOW_MS;
    if (srv->conf.max_conns == 0)
        srv->conf.max_conns = HTTP_DEFAULT_MAX_CONNS;
    if (srv->conf.max_conns_per_ip == 0)
        srv->conf.max_conns_per_ip = HTTP_DEFAULT_MAX_CONNS_PER_IP;
    if (srv->conf.account_workers == 0)
        srv->conf.account_workers = srv->conf.workers_max > 1 ? srv->conf.workers_max / 2 : 1;
    if (srv->conf.max_queue == 0)
        srv->conf.max_queue = HTTP_DEFAULT_MAX_QUEUE;
}

/* Opens *fd listening on host:port and sets *bound_port to the port it got (port may be 0).
 * 0 or -errno / OG_EINVAL, with no socket left open (*fd is -1 then). */
static int server_listen(const char *host, uint16_t port, int *fd, uint16_t *bound_port)
{
    int rc, one = 1;
    struct sockaddr_storage sa, bound;
    socklen_t salen, blen = sizeof(bound);

    *fd = -1;
    if ((rc = og_sockaddr(host != NULL ? host : "0.0.0.0", port, &sa, &salen)) != 0)
        return rc;
    *fd = socket(sa.ss_family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    if (*fd < 0)
        return -errno;
    setsockopt(*fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
    if (bind(*fd, (const struct sockaddr *)&sa, salen) != 0 || listen(*fd, SOMAXCONN) != 0 ||
        getsockname(*fd, (struct sockaddr *)&bound, &blen) != 0) {
        rc = -errno;
        goto out_close_listen;
    }
    *bound_port = ntohs(bound.ss_family == AF_INET ? ((struct sockaddr_in *)&bound)->sin_port
                                                   : ((struct sockaddr_in6 *)&bound)->sin6_port);
    return 0;

out_close_listen:
    close(*fd);
    *fd = -1;
    return rc;
}

/* The workers' locks, conditions (cv times out on the monotonic clock) and thread attributes. */
static void server_sync_init(http_server_t *srv)
{
    pthread_condattr_t ca;
    pthread_condattr_init(&ca);
    pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
    pthread_cond_init(&srv->cv, &ca);
    pthread_condattr_destroy(&ca);
    pthread_cond_init(&srv->exit_cv, NULL);
    pthread_mutex_init(&srv->mu, NULL);
    pthread_mutex_init(&srv->ready_mu, NULL);
    pthread_attr_init(&srv->worker_attr);
    pthread_attr_setdetachstate(&srv->worker_attr, PTHREAD_CREATE_DETACHED);
    pthread_attr_setstacksize(&srv->worker_attr, HTTP_WORKER_STACK);
}

int http_server_new(const http_server_conf_t *conf, http_server_t **out)
{
    int rc = 0;

    if (conf->handler == NULL)
        return OG_EINVAL;
    http_server_t *srv = calloc(1, sizeof(*srv));
    if (srv == NULL)
        return -ENOMEM;
    server_conf_defaults(srv, conf);
    srv->jobs_tail = &srv->jobs_head;
    atomic_init(&srv->stop_requested, 0);
    srv->tls_listen_fd = -1;
    if ((rc = server_listen(conf->host, conf->port, &srv->listen_fd, &srv->port)) != 0)
        goto out_free_srv;
    if (conf->tls != NULL &&
        (rc = server_listen(conf->tls_host, conf->tls_port, &srv->tls_listen_fd, &srv->tls_port)) != 0)
        goto out_close_listen;
    srv->wake_fd = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
    if (srv->wake_fd < 0) {
        rc = -errno;
        goto out_close_listen;
    }
    srv->workers = calloc(srv->conf.workers_max, sizeof(*srv->workers));
    if (srv->workers == NULL) {
        rc = -ENOMEM;
        goto out_close_wake;
    }
    if ((rc = http_counts_init(&srv->iptab, srv->conf.max_conns)) != 0)
        goto out_free_workers;
    if ((rc = http_counts_init(&srv->claims, srv->conf.workers_max)) != 0)
        goto out_dispose_iptab;
    if (getrandom(&srv->claim_seed, sizeof(srv->claim_seed), GRND_NONBLOCK) != (ssize_t)sizeof(srv->claim_seed))
        srv->claim_seed = og_time_ns(); /* no entropy yet at boot: still unknown to clients */
    server_sync_init(srv);
    *out = srv;
    return 0;

out_dispose_iptab:
    http_counts_dispose(&srv->iptab);
out_free_workers:
    free(srv->workers);
out_close_wake:
    close(srv->wake_fd);
out_close_listen:
    close(srv->listen_fd);
    if (srv->tls_listen_fd >= 0)
        close(srv->tls_listen_fd);
out_free_srv:
    free(srv);
    return rc;
}

uint16_t http_server_port(const http_server_t *srv) { return srv->port; }

uint16_t http_server_tls_port(const http_server_t *srv) { return srv->tls_port; }

void http_server_stats(const http_server_t *srv, http_server_stats_t *out)
{
    http_server_t *s = (http_server_t *)srv; /* atomic loads take a non-const pointer */
    out->in_flight = atomic_load_explicit(&s->st_in_flight, memory_order_relaxed);
    out->queued = atomic_load_explicit(&s->st_queued, memory_order_relaxed);
    out->conns_open = atomic_load_explicit(&s->st_conns_open, memory_order_relaxed);
    out->conns_accepted = atomic_load_explicit(&s->st_conns_accepted, memory_order_relaxed);
    out->conns_refused = atomic_load_explicit(&s->st_conns_refused, memory_order_relaxed);
}

void http_req_stats(const http_req_t *req, http_req_stats_t *out)
{
    out->bytes_in = req->body_in;
    out->bytes_out = req->resp_written;
    out->elapsed_ns = og_mono_ns() - req->t_start_ns;
    out->ttfb_ns = req->w_started ? req->t_first_ns - req->t_start_ns : 0;
    out->status = req->w_started ? req->w_status : 0;
}

void http_req_set_op(http_req_t *req, unsigned api, unsigned op)
{
    req->op_set = true;
    req->op_api = api;
    req->op = op;
}

void http_req_op(const http_req_t *req, unsigned *api, unsigned *op)
{
    *api = req->op_api;
    *op = req->op;
}

void http_server_stop(http_server_t *srv)
{
    /* Only a lock-free atomic store and write(2): both async-signal-safe. */
    atomic_store(&srv->stop_requested, 1);
    uint64_t one = 1;
    ssize_t r = write(srv->wake_fd, &one, sizeof(one));
    (void)r; /* the counter is already non-zero if this fails: the loop wakes anyway */
}

int http_server_run(http_server_t *srv)
{
    int rc = 0;

    if (srv->listen_fd < 0)
        return OG_EINVAL; /* run twice */
    /* The loop's sockets are created here, on the thread that runs them: h2o's socket
     * buffers point at a thread-local prototype. */
    int wake_rfd = dup(srv->wake_fd);
    if (wake_rfd < 0)
        return -errno;
    srv->loop = h2o_evloop_create();
    h2o_timeout_init(srv->loop, &srv->idle_to, srv->conf.idle_timeout_ms);
    h2o_timeout_init(srv->loop, &srv->io_to, srv->conf.io_timeout_ms);
    h2o_timeout_init(srv->loop, &srv->linger_to,
                     srv->conf.io_timeout_ms < HTTP_LINGER_MS ? srv->conf.io_timeout_ms : HTTP_LINGER_MS);
    h2o_timeout_init(srv->loop, &srv->accept_to, HTTP_ACCEPT_PAUSE_MS);
    srv->accept_timer.cb = on_accept_timer;
    h2o_timeout_init(srv->loop, &srv->trim_to, HTTP_TRIM_DELAY_MS);
    srv->trim_timer.cb = on_trim_timer;
    h2o_linklist_init_anchor(&srv->conns);
    srv->listener = h2o_evloop_socket_create(srv->loop, srv->listen_fd, H2O_SOCKET_FLAG_DONT_READ);
    srv->listen_fd = -1; /* owned by the h2o socket now */
    srv->listener->data = srv;
    if (srv->tls_listen_fd >= 0) {
        srv->tls_listener = h2o_evloop_socket_create(srv->loop, srv->tls_listen_fd, H2O_SOCKET_FLAG_DONT_READ);
        srv->tls_listen_fd = -1;
        srv->tls_listener->data = srv;
    }
    srv->waker = h2o_evloop_socket_create(srv->loop, wake_rfd, 0);
    srv->waker->data = srv;
    h2o_socket_read_start(srv->waker, on_wake);

    if ((rc = server_start_workers(srv)) != 0)
        goto out_stop_workers;
    h2o_socket_read_start(srv->listener, on_accept);
    if (srv->tls_listener != NULL)
        h2o_socket_read_start(srv->tls_listener, on_accept);

    while (!srv->stopping || (srv->nconns > 0 && og_mono_ms() < srv->stop_deadline))
        h2o_evloop_run(srv->loop, srv->stopping ? 100 : INT32_MAX);

out_stop_workers:
    while (!h2o_linklist_is_empty(&srv->conns))
        conn_close(H2O_STRUCT_FROM_MEMBER(http_conn_t, link, srv->conns.next));
    server_stop_workers(srv);
    /* Workers may have queued requests after the loop's last look. */
    for (http_req_t *list = server_take_ready(srv); list != NULL;) {
        http_req_t *req = list;
        list = req->ready_next;
        req_unref(req);
    }
    server_close_listeners(srv);
    h2o_socket_close(srv->waker);
    srv->waker = NULL;
    h2o_timeout_dispose(srv->loop, &srv->idle_to);
    h2o_timeout_dispose(srv->loop, &srv->io_to);
    h2o_timeout_dispose(srv->loop, &srv->linger_to);
    if (h2o_timeout_is_linked(&srv->accept_timer))
        h2o_timeout_unlink(&srv->accept_timer);
    h2o_timeout_dispose(srv->loop, &srv->accept_to);
    if (h2o_timeout_is_linked(&srv->trim_timer))
        h2o_timeout_unlink(&srv->trim_timer);
    h2o_timeout_dispose(srv->loop, &srv->trim_to);
    h2o_evloop_destroy(srv->loop);
    srv->loop = NULL;
    /* h2o keeps freed socket buffers in a per-thread cache (h2o_socket_buffer_prototype);
     * this thread may exit once we return, so give them back to malloc now. Popping a
     * cached chunk is what h2o_mem_alloc_recycle does while the cache is not empty. */
    while (h2o_socket_buffer_prototype.allocator.cnt > 0)
        free(h2o_mem_alloc_recycle(&h2o_socket_buffer_prototype.allocator, 1));
    return rc;
}

void http_server_free(http_server_t *srv)
{
    if (srv == NULL)
        return;
    if (srv->listen_fd >= 0)
        close(srv->listen_fd);
    if (srv->tls_listen_fd >= 0)
        close(srv->tls_listen_fd);
    close(srv->wake_fd);
    pthread_mutex_destroy(&srv->ready_mu);
    pthread_cond_destroy(&srv->exit_cv);
    pthread_cond_destroy(&srv->cv);
    pthread_mutex_destroy(&srv->mu);
    pthread_attr_destroy(&srv->worker_attr);
    http_counts_dispose(&srv->claims);
    http_counts_dispose(&srv->iptab);
    free(srv->workers);
    free(srv);
}

/* ------------------------------------------------------------------------------------ */
/* request API (worker threads)                                                         */

const http_reqinfo_t *http_req_info(const http_req_t *req) { return &req->info; }

og_str_t http_req_header(const http_req_t *req, const char *name)
{
    return og_header_find(req->headers, req->info.num_headers, name);
}

void http_request_id(http_req_t *req, char out[17])
{
    uint64_t v = og_rng_next(&req->worker->rng);
    uint8_t b[8];
    memcpy(b, &v, sizeof(b));
    og_hex(b, sizeof(b), out);
}

int http_req_claim(http_req_t *req, og_str_t who)
{
    http_server_t *srv = req->srv;
    http_worker_t *w = req->worker;
    int rc = 0;
    if (who.len == 0)
        return 0;
    /* A count per claimant, not a scan of the worker slots: there are up to workers_max (4096 by
     * default) of them, and the scan under srv->mu was 2.4 % of the gateway's CPU in a 4 KiB GET run. */
    http_key_t k = http_key_of_name(who.base, who.len < HTTP_CLAIM_MAX ? who.len : HTTP_CLAIM_MAX, srv->claim_seed);
    pthread_mutex_lock(&srv->mu);
    if (w->claimed && memcmp(&w->claim, &k, sizeof(k)) == 0)
        goto out_unlock; /* claimed again by the same request: it holds it already */
    if (!http_counts_add(&srv->claims, &k, srv->conf.account_workers)) {
        rc = HTTP_EBUSY;
        goto out_unlock;
    }
    if (w->claimed)
        http_counts_del(&srv->claims, &w->claim);
    w->claim = k;
    w->claimed = true;
out_unlock:
    pthread_mutex_unlock(&srv->mu);
    return rc;
}

/* The handler's first read: the loop starts taking the body from the socket only now, and sends
 * "100 Continue" when the client expects it (even for an empty body, see req_parse_framing, and
 * for one that came whole with its head, as Swift does: RFC 9110 lets a server omit it then, but a
 * client may still be waiting for it). A loop with neither to do is not woken. */
static void req_start_body_locked(http_req_t *req)
{
    if (req->want_body)
        return;
    req->want_body = true;
    req->want_continue = req->info.expect_continue && !req->resp_started;
    if (!req->body_done || req->want_continue)
        req_notify_locked(req);
}

ssize_t http_req_read(http_req_t *req, void *buf, size_t cap)
{
    ssize_t rc;
    pthread_mutex_lock(&req->mu);
    for (;;) {
        if (req->aborted) {
            rc = HTTP_EABORTED;
            break;
        }
        if (req->early_off < req->early_len && cap > 0) {
            req_start_body_locked(req);
            size_t n = req->early_len - req->early_off < cap ? req->early_len - req->early_off : cap;
            memcpy(buf, req->early + req->early_off, n);
            req->early_off += n;
            req->body_in += n;
            rc = (ssize_t)n;
            break;
        }
        if (req->tgt_len > 0) {
            rc = (ssize_t)req->tgt_len;
            req->body_in += req->tgt_len;
            break;
        }
        if (req->body_err != 0) {
            rc = req->body_err;
            break;
        }
        req_start_body_locked(req);
        if (req->body_done) {
            rc = 0;
            break;
        }
        if (req->tgt == NULL && cap > 0) {
            /* The loop may put the next bytes straight into buf; one that stopped reading for
             * want of room goes on. */
            req->tgt = buf, req->tgt_cap = cap, req->tgt_len = 0;
            if (req->body_paused) {
                req->body_paused = false;
                req_notify_locked(req);
            }
        }
        pthread_cond_wait(&req->cv, &req->mu);
    }
    /* The loop writes into buf only while it is posted, and only under mu. */
    req->tgt = NULL, req->tgt_cap = 0, req->tgt_len = 0;
    pthread_mutex_unlock(&req->mu);
    return rc;
}

const char *http_status_reason(int status)
{
    switch (status) {
    case 100: return "Continue";
    case 200: return "OK";
    case 201: return "Created";
    case 202: return "Accepted";
    case 204: return "No Content";
    case 206: return "Partial Content";
    case 301: return "Moved Permanently";
    case 302: return "Found";
    case 304: return "Not Modified";
    case 307: return "Temporary Redirect";
    case 400: return "Bad Request";
    case 401: return "Unauthorized";
    case 403: return "Forbidden";
    case 404: return "Not Found";
    case 405: return "Method Not Allowed";
    case 408: return "Request Timeout";
    case 409: return "Conflict";
    case 411: return "Length Required";
    case 412: return "Precondition Failed";
    case 413: return "Payload Too Large";
    case 416: return "Range Not Satisfiable";
    case 417: return "Expectation Failed";
    case 422: return "Unprocessable Entity";
    case 429: return "Too Many Requests";
    case 431: return "Request Header Fields Too Large";
    case 500: return "Internal Server Error";
    case 501: return "Not Implemented";
    case 502: return "Bad Gateway";
    case 503: return "Service Unavailable";
    case 504: return "Gateway Timeout";
    case 507: return "Insufficient Storage";
    }
    return "Unknown";
}

/* The worker's cached "Date: ...\r\n" line (locale-independent IMF-fixdate). */
static const char *worker_date(http_worker_t *w, size_t *len)
{
    static const char days[7][4] = {"Sun", "Mon", "Tue", "Wed", "Thu", "Fri", "Sat"};
    static const char months[12][4] = {"Jan", "Feb", "Mar", "Apr", "May", "Jun",
                                       "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"};
    time_t now = time(NULL);
    if (now != w->date_sec || w->date_len == 0) {
        struct tm tm;
        gmtime_r(&now, &tm);
        w->date_len = (size_t)snprintf(w->date, sizeof(w->date), "Date: %s, %02d %s %04d %02d:%02d:%02d GMT\r\n",
                                       days[tm.tm_wday], tm.tm_mday, months[tm.tm_mon], tm.tm_year + 1900,
                                       tm.tm_hour, tm.tm_min, tm.tm_sec);
        w->date_sec = now;
    }
    *len = w->date_len;
    return w->date;
}

/* Makes room for `more` bytes after out_len. 0 or -ENOMEM. */
static int out_reserve(http_req_t *req, size_t more)
{
    if (req->out_len + more <= req->out_cap)
        return 0;
    size_t cap = req->out_cap * 2;
    while (cap < req->out_len + more)
        cap *= 2;
    char *p = malloc(cap);
    if (p == NULL)
        return -ENOMEM;
    memcpy(p, req->out, req->out_len);
    if (req->out != req->out_inline)
        free(req->out);
    req->out = p;
    req->out_cap = cap;
    return 0;
}

static void out_put(http_req_t *req, const void *p, size_t n)
{
    memcpy(req->out + req->out_len, p, n);
    req->out_len += n;
}

static bool header_is_ours(og_str_t name)
{
    return og_str_ieq(name, "content-length") || og_str_ieq(name, "transfer-encoding") ||
           og_str_ieq(name, "connection") || og_str_ieq(name, "date");
}

/* Hands the iovecs to the loop (worker side). With wait, blocks until they are written.
 * With end, the response is complete once they are. 0 or HTTP_EABORTED. */
static int req_handoff(http_req_t *req, const h2o_iovec_t *iov, size_t n, bool wait, bool end)
{
    int rc = 0;
    pthread_mutex_lock(&req->mu);
    if (req->aborted) {
        rc = HTTP_EABORTED;
        goto out_unlock;
    }
    memcpy(req->wr_iov, iov, n * sizeof(iov[0]));
    req->wr_n = n;
    req->out_pending = n > 0;
    if (end)
        req->ended = true;
    req_notify_locked(req);
    if (wait) {
        while (req->out_pending && !req->aborted)
            pthread_cond_wait(&req->cv, &req->mu);
        if (req->out_pending)
            rc = HTTP_EABORTED;
        /* The loop is done with out (written, or its socket closed). */
        req->out_len = 0;
    }
out_unlock:
    pthread_mutex_unlock(&req->mu);
    return rc;
}

void http_req_cache_private(http_req_t *req, int on) { req->cache_private = on != 0; }

/* Writes header h, its value made private (http_cache_control_private) when it is Cache-Control
 * and the response is a private GET. A HEAD shows an object's own Cache-Control as stored: it is
 * metadata that copy tools read back and write again (a "private, " would pile up), and caches
 * fill their entries with GETs (Varnish and nginx turn a HEAD into a GET upstream), so a HEAD
 * answer is never what they store. Room reserved by http_resp_start. Returns 1 when h was a
 * Cache-Control header. */
static int out_put_header(http_req_t *req, const og_header_t *h)
{
    int is_cc = og_str_ieq(h->name, "cache-control");
    out_put(req, h->name.base, h->name.len);
    out_put(req, ": ", 2);
    if (is_cc && req->cache_private && !req->info.is_head)
        req->out_len += http_cache_control_private(h->value, req->out + req->out_len);
    else
        out_put(req, h->value.base, h->value.len);
    out_put(req, "\r\n", 2);
    return is_cc;
}

int http_resp_start(http_req_t *req, int status, const og_header_t *hdrs, size_t n, int64_t content_length)
{
    const http_reqinfo_t *info = &req->info;
    int rc = 0;

    if (req->w_started)
        return OG_EINVAL;
    bool no_body = info->is_head || status == 204 || status == 304 || (status >= 100 && status < 200);
    bool chunked = content_length < 0 && !no_body && info->minor_version >= 1;

    pthread_mutex_lock(&req->mu);
    if (req->aborted) {
        pthread_mutex_unlock(&req->mu);
        return HTTP_EABORTED;
    }
    req->resp_started = true;
    /* Keep the connection only if the whole request body already left the socket: an
     * unread remainder is never drained. */
    bool keep = req->client_keepalive && req->body_done && req->body_err == 0 &&
                !atomic_load(&req->srv->stop_requested) && (content_length >= 0 || no_body || chunked);
    req->close_after = !keep;
    pthread_mutex_unlock(&req->mu);

    req->w_started = true;
    req->t_first_ns = og_mono_ns();
    req->w_status = status;
    req->w_no_body = no_body;
    req->w_chunked = chunked;
    req->resp_cl = content_length;
    req->resp_written = 0;

    static const char private_cc[] = "Cache-Control: private\r\n";
    static const char private_vary[] = "Vary: Authorization, X-Auth-Token\r\n";
    static const char retry_after[] = "Retry-After: 1\r\n";
    size_t need = 128 + sizeof(retry_after) + sizeof(private_cc) + sizeof(private_vary);
    for (size_t i = 0; i < n; i++)
        need += hdrs[i].name.len + HTTP_CC_PRIVATE_CAP(hdrs[i].value.len) + 4;
    size_t date_len;
    const char *date = worker_date(req->worker, &date_len);
    need += date_len;
    if ((rc = out_reserve(req, need)) != 0)
        return rc;

    /* Pieces rather than snprintf: this runs for every response (as in the node client). */
    char line[OG_U64_DEC_MAX];
    const char *reason = http_status_reason(status);
    out_put(req, "HTTP/1.1 ", 9);
    out_put(req, line, og_u64_dec((unsigned)status, line));
    out_put(req, " ", 1);
    out_put(req, reason, strlen(reason));
    out_put(req, "\r\n", 2);
    out_put(req, date, date_len);
    /* Responses to OPTIONS are not cacheable (RFC 9110, 9.3.7): a CORS preflight answers as the
     * anchors do, without the private marks. */
    bool private = req->cache_private && !og_str_eq(info->method, "OPTIONS");
    int has_cc = 0, has_retry = 0, has_vary = 0;
    for (size_t i = 0; i < n; i++) {
        if (header_is_ours(hdrs[i].name))
            continue;
        if (private && og_str_ieq(hdrs[i].name, "vary")) {
            /* one Vary: the handler's (Origin ...) and the credentials a private answer varies by */
            out_put(req, "Vary: ", 6);
            out_put(req, hdrs[i].value.base, hdrs[i].value.len);
            out_put(req, ", ", 2);
            out_put(req, private_vary + 6, sizeof(private_vary) - 7);
            has_vary = 1;
            continue;
        }
        has_cc |= out_put_header(req, &hdrs[i]);
        has_retry |= og_str_ieq(hdrs[i].name, "retry-after");
    }
    /* Every 503 says when to come back, so a CDN can serve stale meanwhile (RFC 5861
     * stale-if-error) and clients back off. */
    if (status == 503 && !has_retry)
        out_put(req, retry_after, sizeof(retry_after) - 1);
    if (private) {
        if (!has_cc)
            out_put(req, private_cc, sizeof(private_cc) - 1);
        if (!has_vary)
            out_put(req, private_vary, sizeof(private_vary) - 1);
    }
    if (chunked) {
        out_put(req, "Transfer-Encoding: chunked\r\n", 28);
    } else if (content_length >= 0 && status != 204 && status != 304 && !(status >= 100 && status < 200)) {
        /* HEAD keeps the length of the body it would have had. */
        out_put(req, "Content-Length: ", 16);
        out_put(req, line, og_u64_dec((uint64_t)content_length, line));
        out_put(req, "\r\n", 2);
    }
    if (keep)
        out_put(req, "Connection: keep-alive\r\n\r\n", 26);
    else
        out_put(req, "Connection: close\r\n\r\n", 21);
    return 0;
}

int http_resp_write(http_req_t *req, const void *buf, size_t len)
{
    h2o_iovec_t iov[3];
    size_t n = 0;

    if (!req->w_started)
        return OG_EINVAL;
    if (req->w_no_body || len == 0) {
        pthread_mutex_lock(&req->mu);
        int rc = req->aborted ? HTTP_EABORTED : 0;
        pthread_mutex_unlock(&req->mu);
        return rc;
    }
    if (req->resp_cl >= 0 && req->resp_written + len > (uint64_t)req->resp_cl)
        return OG_EINVAL;
    if (req->resp_cl >= 0 && req->resp_written + len == (uint64_t)req->resp_cl &&
        req->out_len + len <= HTTP_SEND_COPY_MAX) {
        /* The last bytes of a small body ride in out (with the head, when nothing was written
         * yet) to http_resp_end's hand-off: the worker does not sleep until the loop has written
         * them. One copy of at most HTTP_SEND_COPY_MAX; the caller's buffer is free on return. */
        if (out_reserve(req, len) != 0)
            return -ENOMEM;
        out_put(req, buf, len);
        req->resp_written += len;
        return 0;
    }
    if (req->w_chunked) {
        char hdr[24];
        int hl = snprintf(hdr, sizeof(hdr), "%zx\r\n", len);
        if (out_reserve(req, (size_t)hl) != 0)
            return -ENOMEM;
        out_put(req, hdr, (size_t)hl);
    }
    if (req->out_len > 0)
        iov[n++] = h2o_iovec_init(req->out, req->out_len);
    iov[n++] = h2o_iovec_init(buf, len);
    if (req->w_chunked)
        iov[n++] = h2o_iovec_init("\r\n", 2);
    req->resp_written += len;
    return req_handoff(req, iov, n, true, false);
}

int http_resp_end(http_req_t *req)
{
    h2o_iovec_t iov;

    if (!req->w_started)
        return OG_EINVAL;
    if (req->w_chunked) {
        if (out_reserve(req, 5) != 0)
            return -ENOMEM;
        out_put(req, "0\r\n\r\n", 5);
    }
    if (!req->w_no_body && req->resp_cl >= 0 && req->resp_written < (uint64_t)req->resp_cl) {
        /* Short body: only closing tells the client the response is incomplete. */
        pthread_mutex_lock(&req->mu);
        req->close_after = true;
        pthread_mutex_unlock(&req->mu);
    }
    /* The claim ends with the response, before the client can see it: its next request on this
     * connection must not find this one still counted. */
    worker_release_claim(req->worker);
    iov = h2o_iovec_init(req->out, req->out_len);
    return req_handoff(req, &iov, req->out_len > 0 ? 1 : 0, false, true);
}

int http_resp_send(http_req_t *req, int status, const og_header_t *hdrs, size_t n, const void *body, size_t len)
{
    int rc = http_resp_start(req, status, hdrs, n, (int64_t)len);
    /* The body is the whole Content-Length: a small one rides in out with the head (one hand-off,
     * no wait for the socket), as http_resp_write does for every last small write. */
    if (rc != 0 || (rc = http_resp_write(req, body, len)) != 0)
        return rc;
    return http_resp_end(req);
}
