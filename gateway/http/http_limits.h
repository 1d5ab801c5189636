/*
 * http/http_limits.h (private to gateway/http/): the table of open connections per client
 * address that http_server.c's connection caps use. Loop thread only: no locking.
 */
#ifndef HTTP_LIMITS_H
#define HTTP_LIMITS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/socket.h>

/* A client address without its port: IPv4 as the IPv4-mapped IPv6 address. */
typedef struct {
    uint8_t a[16];
} http_ipkey_t;

/* Open addressing, linear probing; an entry lives while its address has connections. */
typedef struct {
    struct st_http_ipent_t *slots;
    size_t mask; /* slots - 1, a power of two at least twice the most entries */
    size_t used;
} http_iptab_t;

/* The key of a peer address (AF_INET or AF_INET6; anything else maps to all zeroes). */
http_ipkey_t http_ipkey_from(const struct sockaddr *sa);

/* Room for max_entries addresses. 0 or -ENOMEM. */
int http_iptab_init(http_iptab_t *t, size_t max_entries);
void http_iptab_dispose(http_iptab_t *t);
/* Counts one more connection from k, unless k already has cap of them or the table is full:
 * then false and nothing changes. */
bool http_iptab_add(http_iptab_t *t, const http_ipkey_t *k, size_t cap);
/* Counts one connection from k less (it must have been added). */
void http_iptab_del(http_iptab_t *t, const http_ipkey_t *k);

#endif
