/*
 * og_opsd.c: the operator's listener (og_metrics.h): /metrics and /health/live and /health/ready on a port of their
 * own, for processes whose main port a Prometheus server or a load balancer cannot use (the
 * node's API wants signed requests). One thread, one request per connection, every read and
 * write bounded by OG_OPSD_IO_MS: a scraper is answered in well under that, and a client that
 * stalls delays the next scrape by at most a few seconds, never the process's real work.
 */
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "og_metrics.h"

#define OPSD_HEAD_MAX 4096

struct st_og_opsd_t {
    int fd;         /* the listening socket */
    int stop[2];    /* a pipe: og_opsd_stop writes, the thread polls the read end */
    uint16_t port;
    og_opsd_fn fn;
    void *ctx;
    pthread_t tid;
};

/* Reads a request head (through the blank line) into head within the deadline. Its length, or
 * -1 (timeout, EOF, too long). */
static ssize_t opsd_read_head(int fd, char *head, size_t cap, uint64_t deadline)
{
    size_t len = 0;
    for (;;) {
        uint64_t now = og_mono_ms();
        if (now >= deadline || len + 1 >= cap)
            return -1;
        struct pollfd p = {fd, POLLIN, 0};
        if (poll(&p, 1, (int)(deadline - now)) <= 0)
            return -1;
        ssize_t n = recv(fd, head + len, cap - 1 - len, 0);
        if (n <= 0)
            return -1;
        len += (size_t)n;
        head[len] = '\0';
        if (strstr(head, "\r\n\r\n") != NULL || strstr(head, "\n\n") != NULL)
            return (ssize_t)len;
    }
}

/* Sends all of buf[0..len) before the deadline. 0 or -1. */
static int opsd_send_all(int fd, const char *buf, size_t len, uint64_t deadline)
{
    while (len > 0) {
        uint64_t now = og_mono_ms();
        struct pollfd p = {fd, POLLOUT, 0};
        if (now >= deadline || poll(&p, 1, (int)(deadline - now)) <= 0)
            return -1;
        ssize_t n = send(fd, buf, len, MSG_NOSIGNAL);
        if (n <= 0)
            return -1;
        buf += n;
        len -= (size_t)n;
    }
    return 0;
}

/* The answer to the request line in head: status, content type and body from fn. */
static int opsd_answer(og_opsd_t *d, char *head, og_buf_t *body, const char **ctype, int *is_head)
{
    char *sp = strchr(head, ' ');
    if (sp == NULL)
        return 400;
    *sp = '\0';
    char *path = sp + 1, *end = path + strcspn(path, " ?\r\n");
    *end = '\0';
    *is_head = strcmp(head, "HEAD") == 0;
    if (strcmp(head, "GET") != 0 && !*is_head) {
        og_buf_puts(body, "method not allowed\n");
        return 405;
    }
    return d->fn(d->ctx, path, body, ctype);
}

/* Serves one accepted connection, then closes it. */
static void opsd_serve(og_opsd_t *d, int fd)
{
    char head[OPSD_HEAD_MAX];
    og_buf_t body = {0}, out = {0};
    const char *ctype = "text/plain; charset=utf-8";
    int is_head = 0, status;
    uint64_t deadline = og_mono_ms() + OG_OPSD_IO_MS;

    if (opsd_read_head(fd, head, sizeof(head), deadline) < 0)
        goto out_close;
    status = opsd_answer(d, head, &body, &ctype, &is_head);
    if (body.oom) {
        status = 500;
        body.len = 0;
    }
    og_buf_printf(&out, "HTTP/1.1 %d %s\r\nContent-Type: %s\r\nContent-Length: %zu\r\nConnection: close\r\n\r\n",
                  status, status == 200 ? "OK" : status == 503 ? "Service Unavailable" : "Error", ctype, body.len);
    if (!is_head && body.len > 0)
        og_buf_put(&out, body.buf, body.len);
    if (!out.oom)
        opsd_send_all(fd, out.buf, out.len, deadline);
out_close:
    og_buf_free(&body);
    og_buf_free(&out);
    close(fd);
}

static void *opsd_main(void *arg)
{
    og_opsd_t *d = arg;
    for (;;) {
        struct pollfd p[2] = {{d->fd, POLLIN, 0}, {d->stop[0], POLLIN, 0}};
        if (poll(p, 2, -1) < 0 && errno != EINTR)
            break;
        if (p[1].revents != 0)
            break;
        if (p[0].revents == 0)
            continue;
        int fd = accept4(d->fd, NULL, NULL, SOCK_CLOEXEC | SOCK_NONBLOCK);
        if (fd >= 0)
            opsd_serve(d, fd);
        else if (errno == EMFILE || errno == ENFILE)
            poll(NULL, 0, 100); /* no descriptor: do not spin on a readable listener */
    }
    return NULL;
}

/* A listening socket on addr; its bound port in *port. The socket, or an error code. */
static int opsd_listen(const char *addr, uint16_t *port)
{
    og_addr_t a;
    if (og_addr_parse(addr, &a) != 0)
        return OG_EINVAL;
    int fd = socket(a.sa.ss_family, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0), one = 1;
    if (fd < 0)
        return -errno;
    setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
    struct sockaddr_storage ss;
    socklen_t sl = sizeof(ss);
    if (bind(fd, (struct sockaddr *)&a.sa, a.salen) != 0 || listen(fd, 64) != 0 ||
        getsockname(fd, (struct sockaddr *)&ss, &sl) != 0) {
        int rc = -errno;
        close(fd);
        return rc;
    }
    *port = ntohs(ss.ss_family == AF_INET6 ? ((struct sockaddr_in6 *)&ss)->sin6_port
                                           : ((struct sockaddr_in *)&ss)->sin_port);
    return fd;
}

int og_opsd_start(const char *addr, og_opsd_fn fn, void *ctx, og_opsd_t **out)
{
    int rc;
    og_opsd_t *d = calloc(1, sizeof(*d));
    if (d == NULL)
        return -ENOMEM;
    *d = (og_opsd_t){.fn = fn, .ctx = ctx};
    if ((d->fd = opsd_listen(addr, &d->port)) < 0) {
        rc = d->fd;
        goto out_free;
    }
    if (pipe2(d->stop, O_CLOEXEC) != 0) {
        rc = -errno;
        goto out_close_listener;
    }
    if ((rc = pthread_create(&d->tid, NULL, opsd_main, d)) != 0) {
        rc = -rc;
        goto out_close_pipe;
    }
    *out = d;
    return 0;

out_close_pipe:
    close(d->stop[0]);
    close(d->stop[1]);
out_close_listener:
    close(d->fd);
out_free:
    free(d);
    return rc;
}

uint16_t og_opsd_port(const og_opsd_t *d) { return d->port; }

void og_opsd_stop(og_opsd_t *d)
{
    if (d == NULL)
        return;
    ssize_t w = write(d->stop[1], "x", 1);
    (void)w;
    pthread_join(d->tid, NULL);
    close(d->stop[0]);
    close(d->stop[1]);
    close(d->fd);
    free(d);
}
