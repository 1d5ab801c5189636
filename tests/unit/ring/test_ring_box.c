/*
 * test_ring_box.c: ring epochs (bumped by every builder change, kept in the file, version 1
 * files still load) and the live ring (ring_box_t): only a higher epoch replaces the ring in
 * use, the replaced ring stays as `prev`, and a pinned view keeps its rings whatever is offered.
 */
#include "ring.h"

#include <criterion/criterion.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <xxhash.h>

#define T0 1700000000

/* 3 nodes in 3 zones, part power 6, rebalanced: epoch 4 (3 adds + 1 rebalance). */
static ring_t *three(void)
{
    ring_t *ring = NULL;
    char addr[32];
    uint32_t id;
    cr_assert_eq(ring_create(6, 3, 0, &ring), 0);
    for (uint32_t i = 1; i <= 3; i++) {
        snprintf(addr, sizeof(addr), "10.0.0.%u:7000", i);
        cr_assert_eq(ring_dev_add(ring, i, addr, "d1", 100, &id), 0);
    }
    cr_assert_eq(ring_rebalance(ring, T0, NULL), 0);
    return ring;
}

/* A decoded copy of ring. */
static ring_t *copy(const ring_t *ring)
{
    uint8_t *b = NULL;
    size_t len = 0;
    ring_t *out = NULL;
    cr_assert_eq(ring_to_bytes(ring, &b, &len), 0);
    cr_assert_eq(ring_from_bytes(b, len, &out), 0);
    free(b);
    return out;
}

/* three() plus a 4th node, rebalanced: the ring after "add a fourth node". */
static ring_t *four(void)
{
    ring_t *ring = three();
    uint32_t id;
    cr_assert_eq(ring_dev_add(ring, 4, "10.0.0.4:7000", "d1", 100, &id), 0);
    cr_assert_eq(ring_rebalance(ring, T0 + 10, NULL), 0);
    return ring;
}

Test(ring_epoch, every_builder_change_bumps_it_and_the_file_keeps_it)
{
    ring_t *ring = NULL;
    uint32_t id;
    cr_assert_eq(ring_create(4, 1, 0, &ring), 0);
    cr_assert_eq(ring_epoch(ring), 0);
    cr_assert_eq(ring_dev_add(ring, 1, "10.0.0.1:7000", "d1", 1, &id), 0);
    cr_assert_eq(ring_epoch(ring), 1);
    cr_assert_eq(ring_dev_set_weight(ring, id, 2), 0);
    cr_assert_eq(ring_epoch(ring), 2);
    cr_assert_eq(ring_rebalance(ring, T0, NULL), 0);
    cr_assert_eq(ring_epoch(ring), 3);
    cr_assert_eq(ring_dev_add(ring, 1, "10.0.0.2:7000", "d1", 1, &id), 0);
    cr_assert_eq(ring_dev_remove(ring, id), 0);
    cr_assert_eq(ring_epoch(ring), 5);
    ring_pretend_min_part_hours_passed(ring);
    cr_assert_eq(ring_epoch(ring), 6);
    /* Failed changes leave it alone. */
    cr_assert_eq(ring_dev_remove(ring, 99), RING_ENODEV);
    cr_assert_eq(ring_dev_set_weight(ring, 0, -1), OG_EINVAL);
    cr_assert_eq(ring_epoch(ring), 6);
    ring_t *back = copy(ring);
    cr_assert_eq(ring_epoch(back), 6);
    ring_free(back);
    ring_free(ring);
}

Test(ring_epoch, version_1_file_loads_with_epoch_0)
{
    ring_t *ring = three(), *back = NULL;
    uint8_t *b = NULL;
    size_t len = 0;
    cr_assert_eq(ring_to_bytes(ring, &b, &len), 0);
    /* The version 1 layout is version 2 without the u64 epoch after the version. */
    uint8_t *v1 = malloc(len - 8);
    memcpy(v1, b, 12);
    v1[11] = 1;
    memcpy(v1 + 12, b + 20, len - 20 - 8);
    uint64_t sum = XXH3_64bits(v1, len - 16);
    for (int i = 0; i < 8; i++)
        v1[len - 16 + (size_t)i] = (uint8_t)(sum >> (56 - 8 * i));
    cr_assert_eq(ring_from_bytes(v1, len - 8, &back), 0);
    cr_assert_eq(ring_epoch(back), 0);
    const ring_dev_t *a[3], *c[3];
    for (uint32_t p = 0; p < 64; p++) {
        cr_assert_eq(ring_primaries(ring, p, a, 3), 3);
        cr_assert_eq(ring_primaries(back, p, c, 3), 3);
        for (int r = 0; r < 3; r++)
            cr_assert_eq(a[r]->id, c[r]->id, "same placement of part %u", p);
    }
    v1[11] = 3;
    ring_free(back);
    cr_assert_eq(ring_from_bytes(v1, len - 8, &back), RING_EBADFILE, "unknown version");
    free(v1);
    free(b);
    ring_free(ring);
}

Test(ring_box, only_a_higher_epoch_replaces_the_ring)
{
    ring_t *r3 = three(), *r4 = four(), *r3b = copy(r3), *r4b = copy(r4);
    ring_box_t *box = NULL;
    ring_view_t v;
    uint64_t e3 = ring_epoch(r3), e4 = ring_epoch(r4); /* the box frees r3 and r4 */
    cr_assert_eq(ring_box_new(r3, &box), 0);
    cr_assert_eq(ring_box_epoch(box), ring_epoch(r3));
    ring_box_get(box, &v);
    cr_assert_eq(v.ring, r3);
    cr_assert_null(v.prev, "no previous ring before the first change");
    ring_box_put(box, &v);

    cr_assert_eq(ring_box_offer(box, r3b), OG_EEXIST, "same epoch, same bytes: nothing to do");
    cr_assert_gt(e4, e3);
    cr_assert_eq(ring_box_offer(box, r4), 0);
    cr_assert_eq(ring_box_epoch(box), e4);
    cr_assert_eq(ring_box_offer(box, r3b), RING_ESTALE, "an older ring never replaces a newer one");
    cr_assert_eq(ring_box_offer(box, r4b), OG_EEXIST);

    /* Same epoch, other content (two builders changed the same file): refused. */
    ring_t *other = three();
    uint32_t id;
    cr_assert_eq(ring_dev_add(other, 5, "10.0.0.5:7000", "d1", 100, &id), 0);
    while (ring_epoch(other) < e4)
        cr_assert_eq(ring_dev_set_weight(other, id, 50), 0);
    cr_assert_eq(ring_box_offer(box, other), RING_ECONFLICT);

    ring_box_get(box, &v);
    cr_assert_eq(v.ring, r4);
    cr_assert_not_null(v.prev);
    cr_assert_eq(ring_epoch(v.prev), e3, "the replaced ring is kept as prev");
    ring_box_put(box, &v);
    ring_free(other);
    ring_free(r3b);
    ring_free(r4b);
    ring_box_free(box);
}

Test(ring_box, a_pinned_view_outlives_later_offers)
{
    ring_t *r3 = three(), *r4 = four();
    ring_box_t *box = NULL;
    ring_view_t old, cur;
    uint64_t e4 = ring_epoch(r4);
    cr_assert_eq(ring_box_new(r3, &box), 0);
    ring_box_get(box, &old);
    cr_assert_eq(ring_box_offer(box, r4), 0);
    /* A third ring, so the generation `old` pinned is neither current nor prev any more. */
    ring_t *r5 = four();
    cr_assert_eq(ring_dev_set_weight(r5, 3, 50), 0);
    cr_assert_eq(ring_rebalance(r5, T0 + 20, NULL), 0);
    cr_assert_eq(ring_box_offer(box, r5), 0);
    /* ASan reports a use after free here if the pinned generation was freed. */
    const ring_dev_t *d[3];
    cr_assert_eq(ring_primaries(old.ring, 0, d, 3), 3);
    cr_assert_eq(ring_dev_count(old.ring), 3);
    ring_box_put(box, &old);
    cr_assert_null(old.ring);
    ring_box_get(box, &cur);
    cr_assert_eq(ring_dev_count(cur.ring), 4);
    cr_assert_eq(ring_epoch(cur.prev), e4);
    ring_box_put(box, &cur);
    ring_box_free(box);
}
