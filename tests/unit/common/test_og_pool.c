/* Unit tests for the mapped-buffer pool (common/og_pool.c). */
#include "og_pool.h"

#include <criterion/criterion.h>
#include <stdint.h>
#include <string.h>

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
