/*
 * cluster_purge.c: tells caches in front of the gateway that an object changed (issue 14,
 * docs/architecture.md "CDN origin", "Purge on change").
 *
 * Writers (core_obj_commit, core_obj_delete) call cluster_changed, which only appends the event
 * to a bounded queue (drop-oldest when full, counted) and returns: the request path never waits
 * for a cache. One thread takes events in order, asks the public filter whether the bucket's
 * objects are public (reading the bucket record there, off the request path: a private object is
 * never cached by a shared cache, so it needs no purge), then sends to every target:
 *  - a purge URL (--purge-url http://HOST:PORT[/PREFIX]): `PURGE PREFIX/v1/AUTH_<acct>/<bucket>/<key>`
 *    and `PURGE PREFIX/<bucket>/<key>` (Varnish style), with the URL's Host;
 *  - a webhook (--purge-webhook http://HOST:PORT/PATH): `POST PATH` with the JSON
 *    {"event":"put"|"delete","bucket":..,"key":..,"version":..}.
 * A target that does not answer 2xx (or 404: nothing was cached) is retried up to PURGE_TRIES
 * times with a growing pause; then the event is counted as failed for it.
 */
#include <errno.h>
#include <netdb.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <time.h>
#include <unistd.h>

#include "cluster_int.h"
#include "og_metrics.h"

#define PURGE_TRIES 3
#define PURGE_PAUSE_MS 200 /* before the second try; doubled for each next one */
#define PURGE_IO_MS 2000   /* connect, send and answer, per try */
#define PURGE_PATH_CAP (3 * OG_KEY_MAX + 1) /* a percent-encoded key */

typedef struct {
    int event; /* CLUSTER_CHANGE_* */
    char bucket[CL_PURGE_BUCKET_CAP];
    char vid[CL_PURGE_VID_CAP];
    char *key; /* owned */
    size_t key_len;
} purge_ev_t;

typedef struct {
    char host[256], port[8];
    char prefix[256]; /* the URL's path, without a trailing '/' */
    int webhook;
} purge_target_t;

struct st_cl_purge_t {
    pthread_mutex_t mu; /* guards the ring of events and stop */
    pthread_cond_t cv;
    purge_ev_t *q;
    size_t cap, head, n;
    int stop;
    pthread_t thr;
    purge_target_t *targets;
    size_t ntargets;
    cluster_public_fn is_public;
    void *ctx;
    _Atomic uint64_t queued, dropped, sent, failed, skipped;
};

/* "http://HOST[:PORT][/PATH]" into *t. 0 or OG_EINVAL. */
static int target_parse(const char *url, int webhook, purge_target_t *t)
{
    const char *p = url, *slash, *colon;
    size_t hl;
    if (strncmp(p, "http://", 7) != 0)
        return OG_EINVAL;
    p += 7;
    slash = strchr(p, '/');
    hl = slash ? (size_t)(slash - p) : strlen(p);
    colon = memchr(p, ':', hl);
    *t = (purge_target_t){.webhook = webhook};
    if ((colon ? (size_t)(colon - p) : hl) == 0 || hl >= sizeof(t->host))
        return OG_EINVAL;
    memcpy(t->host, p, colon ? (size_t)(colon - p) : hl);
    if (colon && (hl - (size_t)(colon - p) - 1 == 0 || hl - (size_t)(colon - p) - 1 >= sizeof(t->port)))
        return OG_EINVAL;
    snprintf(t->port, sizeof(t->port), "%.*s", colon ? (int)(hl - (size_t)(colon - p) - 1) : 2,
             colon ? colon + 1 : "80");
    if (slash && snprintf(t->prefix, sizeof(t->prefix), "%s", slash) >= (int)sizeof(t->prefix))
        return OG_EINVAL;
    size_t pl = strlen(t->prefix);
    if (!webhook && pl > 0 && t->prefix[pl - 1] == '/')
        t->prefix[pl - 1] = '\0';
    return 0;
}

/* Connects to t within PURGE_IO_MS (the socket keeps that timeout for I/O). A socket or -1. */
static int target_connect(const purge_target_t *t)
{
    struct addrinfo hints = {.ai_socktype = SOCK_STREAM}, *res = NULL;
    struct timeval tv = {PURGE_IO_MS / 1000, (PURGE_IO_MS % 1000) * 1000};
    int fd = -1;
    if (getaddrinfo(t->host, t->port, &hints, &res) != 0)
        return -1;
    for (struct addrinfo *a = res; a != NULL && fd < 0; a = a->ai_next) {
        if ((fd = socket(a->ai_family, a->ai_socktype | SOCK_CLOEXEC, a->ai_protocol)) < 0)
            continue;
        /* Linux bounds connect() by the send timeout too. */
        setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
        setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof(tv));
        if (connect(fd, a->ai_addr, a->ai_addrlen) != 0) {
            close(fd);
            fd = -1;
        }
    }
    freeaddrinfo(res);
    return fd;
}

/* One request to t (head and body in req) and its status: 1 when done (2xx, or 404: the cache
 * held nothing), 0 otherwise. */
static int target_send(const purge_target_t *t, const og_buf_t *req)
{
    char ans[512];
    size_t got = 0, off = 0;
    int fd = target_connect(t), status = 0;
    if (fd < 0)
        return 0;
    while (off < req->len) {
        ssize_t w = send(fd, req->buf + off, req->len - off, MSG_NOSIGNAL);
        if (w <= 0)
            goto out_close;
        off += (size_t)w;
    }
    while (got < sizeof(ans) - 1 && memchr(ans, '\n', got) == NULL) {
        ssize_t n = recv(fd, ans + got, sizeof(ans) - 1 - got, 0);
        if (n <= 0)
            break;
        got += (size_t)n;
    }
    ans[got] = '\0';
    if (sscanf(ans, "HTTP/1.%*d %d", &status) != 1)
        status = 0;
out_close:
    close(fd);
    return (status >= 200 && status < 300) || status == 404;
}

/* Sends req to t, retrying with a growing pause; counts the outcome. */
static void target_deliver(cl_purge_t *p, const purge_target_t *t, const og_buf_t *req)
{
    unsigned pause = PURGE_PAUSE_MS;
    for (int i = 0; i < PURGE_TRIES; i++, pause *= 2) {
        if (target_send(t, req)) {
            atomic_fetch_add(&p->sent, 1);
            return;
        }
        if (i + 1 < PURGE_TRIES)
            nanosleep(&(struct timespec){pause / 1000, (long)(pause % 1000) * 1000000L}, NULL);
    }
    atomic_fetch_add(&p->failed, 1);
}

/* "PURGE <prefix><path> HTTP/1.1" to t. */
static void purge_path(cl_purge_t *p, const purge_target_t *t, const char *path)
{
    og_buf_t req = {0};
    og_buf_printf(&req, "PURGE %s%s HTTP/1.1\r\nHost: %s%s%s\r\nContent-Length: 0\r\nConnection: close\r\n\r\n",
                  t->prefix, path, t->host, strcmp(t->port, "80") ? ":" : "", strcmp(t->port, "80") ? t->port : "");
    if (!req.oom)
        target_deliver(p, t, &req);
    og_buf_free(&req);
}

/* The JSON event POSTed to a webhook t. */
static void purge_webhook(cl_purge_t *p, const purge_target_t *t, const purge_ev_t *e)
{
    og_buf_t body = {0}, req = {0};
    og_buf_puts(&body, e->event == CLUSTER_CHANGE_DELETE ? "{\"event\":\"delete\",\"bucket\":" : "{\"event\":\"put\",\"bucket\":");
    og_buf_json_str(&body, og_str(e->bucket));
    og_buf_puts(&body, ",\"key\":");
    og_buf_json_str(&body, (og_str_t){e->key, e->key_len});
    og_buf_puts(&body, ",\"version\":");
    og_buf_json_str(&body, og_str(e->vid[0] ? e->vid : "null"));
    og_buf_puts(&body, "}");
    og_buf_printf(&req, "POST %s HTTP/1.1\r\nHost: %s:%s\r\nContent-Type: application/json\r\nContent-Length: %zu\r\n"
                        "Connection: close\r\n\r\n",
                  t->prefix[0] ? t->prefix : "/", t->host, t->port, body.len);
    og_buf_put(&req, body.buf, body.len);
    if (!req.oom && !body.oom)
        target_deliver(p, t, &req);
    og_buf_free(&body);
    og_buf_free(&req);
}

/* Every target told about e, when its bucket is public. */
static void purge_one(cl_purge_t *p, const purge_ev_t *e)
{
    char acct[128], key[PURGE_PATH_CAP], s3[PURGE_PATH_CAP + CL_PURGE_BUCKET_CAP * 3 + 4], sw[sizeof(s3) + 128 + 16];
    char b[CL_PURGE_BUCKET_CAP * 3];
    if (!p->is_public(p->ctx, e->bucket, acct, sizeof(acct))) {
        atomic_fetch_add(&p->skipped, 1);
        return;
    }
    if (og_urlencode(e->key, e->key_len, key, sizeof(key), 1) < 0 ||
        og_urlencode(e->bucket, strlen(e->bucket), b, sizeof(b), 0) < 0) {
        atomic_fetch_add(&p->failed, 1);
        return;
    }
    snprintf(s3, sizeof(s3), "/%s/%s", b, key);
    snprintf(sw, sizeof(sw), "/v1/AUTH_%s%s", acct, s3);
    for (size_t i = 0; i < p->ntargets; i++) {
        const purge_target_t *t = &p->targets[i];
        if (t->webhook) {
            purge_webhook(p, t, e);
        } else {
            purge_path(p, t, sw);
            purge_path(p, t, s3);
        }
    }
}

static void *purge_main(void *arg)
{
    cl_purge_t *p = arg;
    pthread_mutex_lock(&p->mu);
    for (;;) {
        while (p->n == 0 && !p->stop)
            pthread_cond_wait(&p->cv, &p->mu);
        if (p->stop)
            break;
        purge_ev_t e = p->q[p->head];
        p->head = (p->head + 1) % p->cap;
        p->n--;
        pthread_mutex_unlock(&p->mu);
        purge_one(p, &e);
        free(e.key);
        pthread_mutex_lock(&p->mu);
    }
    pthread_mutex_unlock(&p->mu);
    return NULL;
}

/* Frees what cluster_purge_start made (the thread not running). */
static void purge_free(cl_purge_t *p)
{
    for (size_t i = 0; i < p->n; i++)
        free(p->q[(p->head + i) % p->cap].key);
    pthread_cond_destroy(&p->cv);
    pthread_mutex_destroy(&p->mu);
    free(p->targets);
    free(p->q);
    free(p);
}

int cluster_purge_start(cluster_t *cl, const cluster_purge_conf_t *conf)
{
    size_t nt = conf->nurls + conf->nhooks;
    cl_purge_t *p = calloc(1, sizeof(*p));
    int rc = -ENOMEM;
    if (p == NULL)
        return -ENOMEM;
    p->cap = conf->queue ? conf->queue : CLUSTER_PURGE_QUEUE;
    p->is_public = conf->is_public, p->ctx = conf->ctx;
    pthread_mutex_init(&p->mu, NULL);
    pthread_cond_init(&p->cv, NULL);
    if ((p->q = calloc(p->cap, sizeof(*p->q))) == NULL || (p->targets = calloc(nt, sizeof(*p->targets))) == NULL)
        goto out_free;
    for (size_t i = 0; i < nt; i++, p->ntargets++)
        if ((rc = target_parse(i < conf->nurls ? conf->urls[i] : conf->hooks[i - conf->nurls], i >= conf->nurls,
                               &p->targets[i])) != 0)
            goto out_free;
    if ((rc = -pthread_create(&p->thr, NULL, purge_main, p)) != 0)
        goto out_free;
    cl->purge = p;
    return 0;
out_free:
    purge_free(p);
    return rc;
}

void cl_purge_stop(cluster_t *cl)
{
    cl_purge_t *p = cl->purge;
    if (p == NULL)
        return;
    pthread_mutex_lock(&p->mu);
    p->stop = 1;
    pthread_cond_signal(&p->cv);
    pthread_mutex_unlock(&p->mu);
    pthread_join(p->thr, NULL);
    purge_free(p);
    cl->purge = NULL;
}

void cluster_changed(cluster_t *cl, int event, const char *bucket, og_str_t key, const char *vid)
{
    cl_purge_t *p = cl->purge;
    purge_ev_t e = {.event = event, .key_len = key.len};
    if (p == NULL)
        return;
    if ((e.key = malloc(key.len + 1)) == NULL) {
        atomic_fetch_add(&p->dropped, 1);
        return;
    }
    memcpy(e.key, key.base, key.len);
    e.key[key.len] = '\0';
    snprintf(e.bucket, sizeof(e.bucket), "%s", bucket);
    snprintf(e.vid, sizeof(e.vid), "%s", vid ? vid : "");
    pthread_mutex_lock(&p->mu);
    if (p->n == p->cap) { /* the oldest event goes: a newer one for the same object may follow */
        free(p->q[p->head].key);
        p->head = (p->head + 1) % p->cap;
        p->n--;
        atomic_fetch_add(&p->dropped, 1);
    }
    p->q[(p->head + p->n) % p->cap] = e;
    p->n++;
    atomic_fetch_add(&p->queued, 1);
    pthread_cond_signal(&p->cv);
    pthread_mutex_unlock(&p->mu);
}

void cl_purge_metrics(cluster_t *cl, og_buf_t *b)
{
    static const struct {
        const char *name, *help;
        size_t off;
    } fams[] = {
        {"onggi_gateway_purge_queued_total", "Object changes queued for the purge targets.",
         offsetof(cl_purge_t, queued)},
        {"onggi_gateway_purge_dropped_total", "Queued changes dropped because the purge queue was full.",
         offsetof(cl_purge_t, dropped)},
        {"onggi_gateway_purge_sent_total", "Purge requests and webhooks a target accepted.",
         offsetof(cl_purge_t, sent)},
        {"onggi_gateway_purge_failed_total", "Purge requests and webhooks that failed after every retry.",
         offsetof(cl_purge_t, failed)},
        {"onggi_gateway_purge_skipped_total", "Changes not sent because the bucket is not public.",
         offsetof(cl_purge_t, skipped)},
    };
    cl_purge_t *p = cl->purge;
    if (p == NULL)
        return;
    for (size_t i = 0; i < sizeof(fams) / sizeof(fams[0]); i++) {
        og_metrics_family(b, fams[i].name, "counter", fams[i].help);
        og_metrics_u64(b, fams[i].name, NULL, 0, atomic_load((_Atomic uint64_t *)((char *)p + fams[i].off)));
    }
}
