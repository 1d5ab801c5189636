/*
 * fuzz.h: what the libFuzzer targets in tests/fuzz share (docs/fuzzing.md).
 *
 * Request-shaped targets read their input as a small text request, so that seeds are readable
 * and a dictionary of header names and tokens helps the mutator:
 *
 *   METHOD target\n          (target = path[?query]; a '\r' before any '\n' is dropped)
 *   name: value\n ...        (up to FUZZ_MAX_HEADERS; a line without ':' is a name with an empty value)
 *   \n
 *   body                     (everything after the first empty line, byte for byte)
 *
 * Every slice points into the fuzzer's input, which libFuzzer allocates at its exact size, so an
 * overread past any slice is caught by ASan. FUZZ_CHECK aborts (a crash libFuzzer records) when a
 * property the code promises does not hold.
 */
#ifndef FUZZ_H
#define FUZZ_H

#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <poll.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "og.h"

#define FUZZ_MAX_HEADERS 64

#define FUZZ_CHECK(cond)                                                                                             \
    do {                                                                                                             \
        if (!(cond)) {                                                                                               \
            fprintf(stderr, "%s:%d: property failed: %s\n", __FILE__, __LINE__, #cond);                             \
            abort();                                                                                                 \
        }                                                                                                            \
    } while (0)

typedef struct {
    og_str_t method, target, path, query; /* query: after '?', empty when none */
    og_header_t hdrs[FUZZ_MAX_HEADERS];
    size_t nhdrs;
    og_str_t body;
} fuzz_req_t;

/* The next line of [*p, end) without its "\n" (and a "\r" before it); *p moves past it. */
static inline og_str_t fuzz_line(const char **p, const char *end)
{
    const char *s = *p, *nl = memchr(s, '\n', (size_t)(end - s));
    const char *stop = nl ? nl : end;
    *p = nl ? nl + 1 : end;
    if (stop > s && stop[-1] == '\r')
        stop--;
    return (og_str_t){s, (size_t)(stop - s)};
}

/* Splits the input as described above. Cannot fail: any bytes make some request. */
static inline void fuzz_req_parse(const uint8_t *data, size_t size, fuzz_req_t *r)
{
    const char *p = (const char *)data, *end = p + size;
    memset(r, 0, sizeof(*r));
    og_str_t first = fuzz_line(&p, end);
    const char *sp = first.len ? memchr(first.base, ' ', first.len) : NULL;
    r->method = (og_str_t){first.base, sp ? (size_t)(sp - first.base) : first.len};
    r->target = sp ? (og_str_t){sp + 1, first.len - r->method.len - 1} : (og_str_t){first.base + first.len, 0};
    const char *q = r->target.len ? memchr(r->target.base, '?', r->target.len) : NULL;
    r->path = (og_str_t){r->target.base, q ? (size_t)(q - r->target.base) : r->target.len};
    r->query = q ? (og_str_t){q + 1, r->target.len - r->path.len - 1} : (og_str_t){r->target.base + r->target.len, 0};
    while (p < end) {
        og_str_t line = fuzz_line(&p, end);
        if (line.len == 0)
            break;
        if (r->nhdrs == FUZZ_MAX_HEADERS)
            continue;
        const char *colon = memchr(line.base, ':', line.len);
        og_header_t *h = &r->hdrs[r->nhdrs++];
        h->name = (og_str_t){line.base, colon ? (size_t)(colon - line.base) : line.len};
        h->value = colon ? og_str_trim((og_str_t){colon + 1, line.len - h->name.len - 1})
                         : (og_str_t){line.base + line.len, 0};
    }
    r->body = (og_str_t){p, (size_t)(end - p)};
}

/* A malloc'd copy of n bytes (p NULL: n uninitialised bytes; at least 1 byte allocated), so a target can hand out a buffer the
 * code may modify in place. Aborts when out of memory (nothing to fuzz then). */
static inline char *fuzz_dup(const void *p, size_t n)
{
    char *c = malloc(n ? n : 1);
    if (c == NULL)
        abort();
    if (p != NULL && n)
        memcpy(c, p, n);
    return c;
}

/* 127.0.0.1:port. */
static inline struct sockaddr_in fuzz_loopback(uint16_t port)
{
    struct sockaddr_in a = {.sin_family = AF_INET, .sin_port = htons(port)};
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    return a;
}

/* connect() that finishes the connection when a signal interrupts it (libFuzzer's SIGALRM for
 * -timeout arrives every few seconds). 0 or -1 with errno set. */
static inline int fuzz_connect(int fd, const struct sockaddr_in *addr)
{
    int err = 0;
    socklen_t len = sizeof(err);
    if (connect(fd, (const struct sockaddr *)addr, sizeof(*addr)) == 0)
        return 0;
    if (errno != EINTR)
        return -1;
    struct pollfd p = {fd, POLLOUT, 0};
    int r;
    while ((r = poll(&p, 1, 30000)) < 0 && errno == EINTR)
        ;
    if (r == 0)
        errno = ETIMEDOUT;
    if (r <= 0 || getsockopt(fd, SOL_SOCKET, SO_ERROR, &err, &len) != 0)
        return -1;
    errno = err;
    return err == 0 ? 0 : -1;
}

/* For targets that drive a real server in the process: sends data on a new connection to addr,
 * shuts the write side and reads the answer until the server closes, both at once (a large
 * answer must not block the server while the request is still being sent). A server that stops
 * answering is left to libFuzzer's -timeout; one that refuses the connection aborts. */
static inline void fuzz_exchange(const struct sockaddr_in *addr, const uint8_t *data, size_t size)
{
    char buf[65536];
    size_t sent = 0;
    int fd = socket(AF_INET, SOCK_STREAM, 0), wr_open = 1;
    /* Each connection ends in TIME_WAIT on this side (it half-closes first) for a minute: hundreds
     * a second would use up the ephemeral ports from 127.0.0.1, ours and every other program's.
     * Spreading the source address over 127.0.0.2-254 (the port picked at connect, per address)
     * gives each address a few hundred a minute. */
    static unsigned next_src;
    struct sockaddr_in src = fuzz_loopback(0);
    src.sin_addr.s_addr = htonl(INADDR_LOOPBACK + 1 + next_src++ % 253);
    int one = 1;
    if (fd < 0 || setsockopt(fd, IPPROTO_IP, IP_BIND_ADDRESS_NO_PORT, &one, sizeof(one)) != 0 ||
        bind(fd, (const struct sockaddr *)&src, sizeof(src)) != 0 || fuzz_connect(fd, addr) != 0) {
        fprintf(stderr, "fuzz: cannot connect to the server under test: %s\n", strerror(errno));
        abort();
    }
    if (size == 0)
        shutdown(fd, SHUT_WR), wr_open = 0;
    for (;;) {
        struct pollfd p = {fd, (short)(POLLIN | (wr_open ? POLLOUT : 0)), 0};
        int ready = poll(&p, 1, 30000);
        if (ready < 0 && errno == EINTR)
            continue;
        if (ready <= 0)
            break;
        ssize_t got = p.revents & (POLLIN | POLLHUP | POLLERR) ? recv(fd, buf, sizeof(buf), 0) : 1;
        if (got == 0 || (got < 0 && errno != EINTR))
            break;
        if (wr_open && (p.revents & POLLOUT)) {
            ssize_t n = send(fd, data + sent, size - sent, MSG_NOSIGNAL);
            if (n > 0)
                sent += (size_t)n;
            if ((n < 0 && errno != EINTR) || sent == size)
                shutdown(fd, SHUT_WR), wr_open = 0;
        }
    }
    close(fd);
}

#endif
