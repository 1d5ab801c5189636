/* Unit tests for the mapped-buffer pool (common/og_pool.c). */
#include "og_pool.h"

#include <criterion/criterion.h>
#include <stdint.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

Test(og_pool, reuses_the_last_returned_and_keeps_at_most_idle_max)
{
    og_pool_t p;
    cr_assert_eq(og_pool_init(&p, 1u << 20, 2), 0);
    void *a = og_pool_get(&p), *b = og_pool_get(&p), *c = og_pool_get(&p);
    cr_assert(a && b && c);
    cr_assert_eq((uintptr_t)a % 4096, 0, "page-aligned");
    memset(a, 0xab, 1u << 20); /* the whole length is usable */
    og_pool_put(&p, a);
    og_pool_put(&p, b);
    og_pool_put(&p, c); /* beyond idle_max: unmapped */
    og_pool_put(&p, NULL);
    cr_assert_eq(p.nidle, 2);
    cr_assert_eq(og_pool_get(&p), b, "the most recently kept first");
    cr_assert_eq(og_pool_get(&p), a);
    void *d = og_pool_get(&p); /* none idle: a new mapping */
    cr_assert(d && d != a && d != b);
    og_pool_put(&p, a);
    og_pool_put(&p, b);
    og_pool_put(&p, d);
    og_pool_destroy(&p);
}

Test(og_pool, idle_max_is_clamped)
{
    og_pool_t p;
    cr_assert_eq(og_pool_init(&p, 4096, 1000), 0);
    cr_assert_eq(p.idle_max, OG_POOL_IDLE_MAX);
    og_pool_destroy(&p);
}

/* Pages of the len bytes at b that are resident. */
static size_t resident(void *b, size_t len)
{
    unsigned char vec[256];
    size_t pages = len / 4096, n = 0;
    cr_assert_leq(pages, sizeof(vec));
    cr_assert_eq(mincore(b, len, vec), 0);
    for (size_t i = 0; i < pages; i++)
        n += vec[i] & 1;
    return n;
}

/* An idle buffer keeps its pages (the next holder needs no page faults) until it has been idle
 * for the trim's idle_ms; then its pages go back and it reads as zeros, still in the pool. */
Test(og_pool, trim_gives_back_the_pages_of_long_idle_buffers_only)
{
    og_pool_t p;
    const size_t len = 1u << 20;
    cr_assert_eq(og_pool_init(&p, len, 4), 0);
    void *old = og_pool_get(&p), *recent = og_pool_get(&p);
    memset(old, 0x5a, len);
    memset(recent, 0xa5, len);
    og_pool_put(&p, old);
    usleep(300 * 1000);
    og_pool_put(&p, recent);
    og_pool_trim(&p, 60 * 1000); /* nothing idle that long */
    cr_assert_eq(resident(old, len), len / 4096);
    og_pool_trim(&p, 150);
    cr_assert_eq(resident(old, len), 0, "the buffer idle for 300 ms gave its pages back");
    cr_assert_eq(resident(recent, len), len / 4096, "the one just returned kept them");
    cr_assert_eq(p.nidle, 2, "both stay in the pool");
    cr_assert_eq(og_pool_get(&p), recent);
    cr_assert_eq(og_pool_get(&p), old);
    cr_assert_eq(((unsigned char *)old)[12345], 0, "a trimmed buffer reads as zeros");
    og_pool_put(&p, old);
    og_pool_put(&p, recent);
    og_pool_destroy(&p);
}
