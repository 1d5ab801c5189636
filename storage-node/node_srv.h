/*
 * node_srv.h: what the node server's two halves share (private to storage-node/): node_loop.c
 * owns connections (the threads' shared epoll, authentication, framing), node_server.c answers
 * requests (routing and handlers).
 */
#ifndef NODE_SRV_H
#define NODE_SRV_H

#include "node_auth.h"
#include "node_int.h"

#include <pthread.h>
#include <stdatomic.h>
#include <sys/uio.h>

#define HEAD_CAP 16384 /* request head; keys are at most a few KiB percent-encoded */
#define MAX_HEADERS 32
#define BODY_MAX NODE_CHUNK_MAX /* also OG_REC_MAX_LEN: the largest record */

typedef struct st_node_conn_t node_conn_t;
typedef struct st_node_worker_t node_worker_t;
typedef struct st_node_bufs_t node_bufs_t;

/* One parsed request: slices into conn->head / conn->body. */
typedef struct {
    og_str_t method, target, path, query; /* target = path [ '?' query ] as sent (what is signed) */
    og_header_t hdrs[MAX_HEADERS];
    size_t nhdrs;
    const char *body;
    size_t body_len;
} req_t;

struct st_node_server_t {
    node_dev_t *devs; /* read by handlers */
    size_t ndevs;

    int lfd, epfd, stopfd, timerfd; /* listening socket, the epoll every thread waits on, the stop
                                     * eventfd, the sweep's timer */
    uint16_t port;
    node_auth_t *auth; /* thread-safe */
    size_t conns_max, unauth_max;
    node_worker_t **workers;
    size_t nworkers;

    pthread_mutex_t mu;                    /* guards the connection list, nunauth and the pause */
    node_conn_t *conns_first, *conns_last; /* every open connection, in accept order */
    size_t nunauth;                        /* ... of which never authenticated (in_unauth) */
    uint64_t accept_paused_until;
    pthread_mutex_t bufs_mu; /* guards bufs_top */
    node_bufs_t *bufs;       /* the buffer sets, one per thread */
    size_t nbufs;
    node_bufs_t *bufs_top;   /* those no request holds, the most recently used on top */
    atomic_size_t nconns;
    atomic_int stopping;
    atomic_uint_fast64_t log_sec, log_count; /* refusal log rate limit */
    node_ring_t *ring;                       /* GET/PUT /ring; NULL: 404 */
};

struct st_node_conn_t {
    node_server_t *srv;
    int fd;
    int keepalive;
    int send_ms; /* how long an answer may take to send: 0 (one try) before a request is served */

    char head[HEAD_CAP];
    size_t hlen; /* bytes in head: the current request's head, then possibly pipelined bytes */

    /* Lent while a request is served (NULL between requests): */
    char *body; /* request body, then a chunk being sent; grows up to NODE_CHUNK_MAX */
    size_t body_cap;
    char *out; /* list/stat responses */
    size_t out_cap, out_len;
    char *key, *prefix, *after; /* percent-decoded path and query parts, HEAD_CAP bytes each */

    /* node_loop.c's */
    node_conn_t *prev, *next;      /* the connection list (under srv->mu) */
    _Atomic uint32_t state;        /* CONN_ARMED, _BUSY or _DOOMED, plus a generation (node_loop.c) */
    atomic_uint_fast64_t deadline; /* og_mono_ms() by which an armed connection is dropped */
    int in_unauth;                 /* no request on it authenticated yet: counted in srv->nunauth */
    int hl, minor;                 /* the parsed head's length and HTTP minor version */
    uint64_t clen;
    req_t req;
    node_auth_body_t want; /* the digest the body must have */
    char peer[64];
};

/* node_loop.c: sends iov[0..n) (modified), waiting up to timeout_ms for room (0: one try).
 * 0 or -errno (-EAGAIN when the time is up). */
int node_srv_send(int fd, struct iovec *iov, int n, int timeout_ms);

/* node_server.c: answers one request. 0, or an error when the answer could not be sent. */
int node_srv_dispatch(node_conn_t *c, req_t *r);
/* node_server.c: a text/plain answer. */
int node_srv_respond_text(node_conn_t *c, int status, const char *text);

#endif
