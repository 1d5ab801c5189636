/*
 * http/http_limits.h (private to gateway/http/): a table of counts per 16-byte key, for
 * http_server.c's caps: open connections per client address (loop thread) and workers per
 * claimant (http_req_claim, under the server's mutex). No locking of its own.
 */
#ifndef HTTP_LIMITS_H
#define HTTP_LIMITS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/socket.h>

/* What is counted: a client address, or a claimant's name hashed (http_key_of_name). */
typedef struct {
    uint8_t a[16];
} http_key_t;

/* Open addressing, linear probing; an entry lives while its count is above 0. */
typedef struct {
    struct st_http_count_t *slots;
    size_t mask; /* slots - 1, a power of two at least twice the most entries */
    size_t used;
} http_counts_t;

/* The key of a peer address without its port (AF_INET or AF_INET6; IPv4 as the IPv4-mapped IPv6
 * address; anything else maps to all zeroes). */
http_key_t http_key_of_addr(const struct sockaddr *sa);
/* The key of a name: its XXH3-128 under seed (a secret random per server, so that nobody can
 * choose two names that share a count). */
http_key_t http_key_of_name(const void *name, size_t len, uint64_t seed);

/* Room for max_entries keys. 0 or -ENOMEM. */
int http_counts_init(http_counts_t *t, size_t max_entries);
void http_counts_dispose(http_counts_t *t);
/* Counts one more for k, unless k already has cap or the table is full (half its slots taken:
 * at least max_entries keys): then false and nothing changes. */
bool http_counts_add(http_counts_t *t, const http_key_t *k, size_t cap);
/* Counts one less for k (it must have been added). */
void http_counts_del(http_counts_t *t, const http_key_t *k);

#endif
