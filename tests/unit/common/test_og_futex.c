/*
 * test_og_futex.c: og_futex_hash_reserve gives the process a futex hash with a slot per thread
 * asked for (Linux 6.16 and later; skipped where the kernel has no per-process futex hash).
 */
#include "og.h"

#include <criterion/criterion.h>
#include <errno.h>
#include <sys/prctl.h>

#ifndef PR_FUTEX_HASH
#define PR_FUTEX_HASH 78
#define PR_FUTEX_HASH_GET_SLOTS 2
#endif

/* The slots of this process's futex hash: 0 for the global table, -1 where the kernel has none. */
static int slots_now(void)
{
    return prctl(PR_FUTEX_HASH, PR_FUTEX_HASH_GET_SLOTS, 0UL, 0UL, 0UL);
}

static void skip_without_private_hash(void)
{
    if (slots_now() < 0 && errno == EINVAL)
        cr_skip_test("this kernel has no per-process futex hash (PR_FUTEX_HASH, Linux 6.16)");
}

/* The gateway's default --workers-max: each of 4,096 threads gets a slot, not 16 for all of them
 * (what a 2-core machine's kernel chooses by itself). */
Test(og_futex, a_slot_per_thread)
{
    skip_without_private_hash();
    cr_assert_eq(og_futex_hash_reserve(4096), 0);
    cr_assert_eq(slots_now(), 4096);
    cr_assert_eq(og_futex_hash_reserve(3000), 0, "a count between powers of two rounds up");
    cr_assert_eq(slots_now(), 4096);
}

Test(og_futex, bounded_both_ways)
{
    skip_without_private_hash();
    cr_assert_eq(og_futex_hash_reserve(1), 0);
    cr_assert_eq(slots_now(), 16, "never below the kernel's own smallest table");
    cr_assert_eq(og_futex_hash_reserve(1u << 20), 0);
    cr_assert_eq(slots_now(), OG_FUTEX_SLOTS_MAX, "--workers-max 16384 is the largest table");
}
