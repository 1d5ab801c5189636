/* http_limits.c: counts per key, for the server's caps (http_limits.h). */
#include "http_limits.h"

#include <errno.h>
#include <netinet/in.h>
#include <stdlib.h>
#include <string.h>

#include <xxhash.h>

struct st_http_count_t {
    http_key_t key;
    uint32_t n; /* 0 = free slot */
};

http_key_t http_key_of_addr(const struct sockaddr *sa)
{
    http_key_t k = {{0}};
    if (sa->sa_family == AF_INET) {
        k.a[10] = k.a[11] = 0xff;
        memcpy(k.a + 12, &((const struct sockaddr_in *)sa)->sin_addr, 4);
    } else if (sa->sa_family == AF_INET6) {
        memcpy(k.a, &((const struct sockaddr_in6 *)sa)->sin6_addr, 16);
    }
    return k;
}

http_key_t http_key_of_name(const void *name, size_t len, uint64_t seed)
{
    XXH128_hash_t h = XXH3_128bits_withSeed(name, len, seed);
    http_key_t k;
    memcpy(k.a, &h.low64, 8);
    memcpy(k.a + 8, &h.high64, 8);
    return k;
}

int http_counts_init(http_counts_t *t, size_t max_entries)
{
    size_t cap = 16;
    while (cap < 2 * max_entries)
        cap *= 2;
    t->slots = calloc(cap, sizeof(*t->slots));
    if (t->slots == NULL)
        return -ENOMEM;
    t->mask = cap - 1;
    t->used = 0;
    return 0;
}

void http_counts_dispose(http_counts_t *t)
{
    free(t->slots);
    t->slots = NULL;
}

/* The slot holding k, or the free slot that ends its probe sequence. */
static size_t counts_find(const http_counts_t *t, const http_key_t *k)
{
    size_t i = (size_t)XXH3_64bits(k->a, sizeof(k->a)) & t->mask;
    while (t->slots[i].n != 0 && memcmp(&t->slots[i].key, k, sizeof(*k)) != 0)
        i = (i + 1) & t->mask;
    return i;
}

bool http_counts_add(http_counts_t *t, const http_key_t *k, size_t cap)
{
    size_t i = counts_find(t, k);
    struct st_http_count_t *e = &t->slots[i];
    if (e->n == 0) {
        /* Keep at least half the slots free so probes stay short. */
        if (cap == 0 || t->used + 1 > (t->mask + 1) / 2)
            return false;
        e->key = *k;
        t->used++;
    } else if (e->n >= cap) {
        return false;
    }
    e->n++;
    return true;
}

void http_counts_del(http_counts_t *t, const http_key_t *k)
{
    size_t i = counts_find(t, k);
    if (t->slots[i].n == 0 || --t->slots[i].n > 0)
        return;
    t->used--;
    /* Backward-shift deletion: move later entries of the run into the hole when the hole lies
     * between their home slot and where they sit, so every probe sequence stays unbroken. */
    size_t hole = i, j = i;
    for (;;) {
        j = (j + 1) & t->mask;
        if (t->slots[j].n == 0)
            break;
        size_t home = (size_t)XXH3_64bits(t->slots[j].key.a, sizeof(t->slots[j].key.a)) & t->mask;
        if (((j - home) & t->mask) >= ((j - hole) & t->mask)) {
            t->slots[hole] = t->slots[j];
            hole = j;
        }
    }
    t->slots[hole].n = 0;
}
