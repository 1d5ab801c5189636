/*
 * test_ring.c: placement (dispersion, balance), minimal movement, min_part_hours, the ring
 * file (round trip, corruption) and handoffs, all through the public API of ring/ring.h.
 */
#include "ring.h"

#include <criterion/criterion.h>
#include <errno.h>
#include <fcntl.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/stat.h>
#include <unistd.h>

#define T0 1700000000 /* arbitrary "now" of the first rebalance */
#define HOUR 3600

typedef struct {
    uint32_t zone;
    const char *addr;
    const char *name;
    double weight;
} test_dev_t;

/* 6 devices, 2 per zone in 3 zones, unequal weights but every zone weighs 300 = W/3: a zone's
 * share is then exactly one replica of every partition, which is what 3 distinct zones give
 * it, so the weight shares are reachable (100,100,100,100,200,200 is not: zone 3 would be
 * owed 1.5 replicas of every partition). */
static const test_dev_t six[] = {
    {1, "10.0.0.1:7000", "d1", 100}, {1, "10.0.0.2:7000", "d1", 200}, {2, "10.0.0.3:7000", "d1", 100},
    {2, "10.0.0.4:7000", "d1", 200}, {3, "10.0.0.5:7000", "d1", 150}, {3, "10.0.0.6:7000", "d2", 150},
};

/* 8 devices in 4 zones weighing 200, 300, 250, 250 of 1000: no zone is owed more than
 * 0.9 replicas of a partition, so weight shares are reachable with 3 distinct zones. */
static const test_dev_t eight[] = {
    {1, "10.0.1.1:7000", "a", 100}, {1, "10.0.1.1:7000", "b", 100}, {2, "10.0.2.1:7000", "a", 150},
    {2, "10.0.2.2:7000", "a", 150}, {3, "10.0.3.1:7000", "a", 200}, {3, "10.0.3.2:7000", "a", 50},
    {4, "10.0.4.1:7000", "a", 120}, {4, "10.0.4.2:7000", "a", 130},
};

static ring_t *build(uint32_t pp, uint32_t replicas, uint32_t hours, const test_dev_t *devs, size_t n)
{
    ring_t *ring = NULL;
    size_t moved = 0;
    cr_assert_eq(ring_create(pp, replicas, hours, &ring), 0);
    for (size_t i = 0; i < n; i++) {
        uint32_t id;
        cr_assert_eq(ring_dev_add(ring, devs[i].zone, devs[i].addr, devs[i].name, devs[i].weight, &id), 0);
        cr_assert_eq(id, i);
    }
    cr_assert_eq(ring_rebalance(ring, T0, &moved), 0);
    cr_assert_eq(moved, ((size_t)1 << pp) * replicas, "a new ring places every partition-replica");
    return ring;
}

static size_t zone_count(const ring_t *ring)
{
    uint32_t zones[64];
    size_t nz = 0;
    for (size_t i = 0; i < ring_dev_count(ring); i++) {
        const ring_dev_t *d = ring_dev_at(ring, i);
        size_t z = 0;
        if (!(d->weight > 0))
            continue;
        while (z < nz && zones[z] != d->zone)
            z++;
        if (z == nz)
            zones[nz++] = d->zone;
    }
    return nz;
}

/* Every partition has `replicas` primaries on distinct devices, on distinct zones when there
 * are at least `replicas` zones, and (zones < replicas) spread over min(zones, replicas). */
static void assert_dispersion(const ring_t *ring)
{
    uint32_t nr = ring_replica_count(ring), nparts = 1u << ring_part_power(ring);
    size_t nz = zone_count(ring);
    for (uint32_t p = 0; p < nparts; p++) {
        const ring_dev_t *d[RING_MAX_REPLICAS];
        size_t distinct_zones = 0;
        cr_assert_eq(ring_primaries(ring, p, d, RING_MAX_REPLICAS), nr, "part %u", p);
        for (uint32_t a = 0; a < nr; a++) {
            int new_zone = 1;
            cr_assert(d[a]->weight > 0, "part %u on drained device %u", p, d[a]->id);
            for (uint32_t b = 0; b < a; b++) {
                cr_assert_neq(d[a]->id, d[b]->id, "part %u has device %u twice", p, d[a]->id);
                if (d[a]->zone == d[b]->zone)
                    new_zone = 0;
            }
            distinct_zones += new_zone;
        }
        cr_assert_eq(distinct_zones, nz < nr ? nz : nr, "part %u spans %zu zones", p, distinct_zones);
    }
}

/* Every device holds its weight share of the partition-replicas within +-pct %. */
static void assert_weight_balance(const ring_t *ring, double pct)
{
    double wsum = 0, total = (double)(1u << ring_part_power(ring)) * ring_replica_count(ring);
    for (size_t i = 0; i < ring_dev_count(ring); i++)
        wsum += ring_dev_at(ring, i)->weight;
    for (size_t i = 0; i < ring_dev_count(ring); i++) {
        const ring_dev_t *d = ring_dev_at(ring, i);
        size_t assigned;
        double ideal, share = total * d->weight / wsum;
        cr_assert_eq(ring_dev_parts(ring, d->id, &assigned, &ideal), 0);
        cr_assert_float_eq(ideal, share, 1e-6, "dev %u: ideal %f, weight share %f", d->id, ideal, share);
        cr_assert(fabs((double)assigned - share) <= share * pct / 100.0, "dev %u holds %zu, share %.1f", d->id,
                  assigned, share);
    }
}

/* Copies every partition's primary ids, to compare rings. */
static uint32_t *snapshot(const ring_t *ring)
{
    uint32_t nr = ring_replica_count(ring), nparts = 1u << ring_part_power(ring);
    uint32_t *ids = malloc((size_t)nparts * nr * sizeof(*ids));
    cr_assert_not_null(ids);
    for (uint32_t p = 0; p < nparts; p++) {
        const ring_dev_t *d[RING_MAX_REPLICAS];
        cr_assert_eq(ring_primaries(ring, p, d, RING_MAX_REPLICAS), nr);
        for (uint32_t r = 0; r < nr; r++)
            ids[(size_t)p * nr + r] = d[r]->id;
    }
    return ids;
}

static size_t diff_count(const ring_t *ring, const uint32_t *before)
{
    uint32_t *now = snapshot(ring);
    size_t n = 0, slots = ((size_t)1 << ring_part_power(ring)) * ring_replica_count(ring);
    for (size_t i = 0; i < slots; i++)
        n += now[i] != before[i];
    free(now);
    return n;
}

static char tmpdir[64];
static char ring_path[96];

static void make_tmpdir(void)
{
    strcpy(tmpdir, "/tmp/test_ring.XXXXXX");
    cr_assert_not_null(mkdtemp(tmpdir));
    snprintf(ring_path, sizeof(ring_path), "%s/ring.bin", tmpdir);
}

static void remove_tmpdir(void)
{
    unlink(ring_path);
    rmdir(tmpdir);
}

TestSuite(ring);
TestSuite(ring_file, .init = make_tmpdir, .fini = remove_tmpdir);

Test(ring, distinct_devices_and_zones)
{
    ring_t *ring = build(10, 3, 1, six, 6);
    assert_dispersion(ring);
    ring_free(ring);
    ring = build(10, 3, 1, eight, 8);
    assert_dispersion(ring);
    ring_free(ring);
}

Test(ring, fewer_zones_than_replicas_still_spread)
{
    /* 2 zones, 3 replicas: every partition uses both zones and 3 distinct devices. */
    static const test_dev_t two_zones[] = {
        {1, "10.0.0.1:7000", "d1", 100},
        {1, "10.0.0.2:7000", "d1", 100},
        {2, "10.0.0.3:7000", "d1", 100},
        {2, "10.0.0.4:7000", "d1", 100},
    };
    ring_t *ring = build(8, 3, 1, two_zones, 4);
    assert_dispersion(ring);
    assert_weight_balance(ring, 2);
    ring_free(ring);
}

Test(ring, new_zone_fixes_zone_dispersion)
{
    /* 2 zones, 3 replicas: every partition doubles up in one zone. A third zone of equal
     * weight is owed one replica of every partition, and taking it is exactly what spreads
     * each partition over 3 zones: one replica of each partition moves, no more. */
    static const test_dev_t two_zones[] = {
        {1, "10.0.0.1:7000", "d1", 100},
        {1, "10.0.0.2:7000", "d1", 100},
        {2, "10.0.0.3:7000", "d1", 100},
        {2, "10.0.0.4:7000", "d1", 100},
    };
    ring_t *ring = build(10, 3, 1, two_zones, 4);
    uint32_t id;
    size_t moved;

    cr_assert_eq(ring_dev_add(ring, 3, "10.0.0.5:7000", "d1", 100, &id), 0);
    cr_assert_eq(ring_dev_add(ring, 3, "10.0.0.6:7000", "d1", 100, &id), 0);
    cr_assert_eq(ring_rebalance(ring, T0 + HOUR, &moved), 0);
    cr_assert_eq(moved, 1024);
    assert_dispersion(ring);
    cr_assert_eq(ring_rebalance(ring, T0 + 2 * HOUR, &moved), 0);
    cr_assert_eq(moved, 0, "already balanced and dispersed");
    ring_free(ring);
}

Test(ring, balance_within_two_percent_of_weight_share)
{
    ring_t *ring = build(10, 3, 1, six, 6);
    assert_weight_balance(ring, 2);
    ring_free(ring);
    ring = build(12, 3, 1, eight, 8);
    assert_weight_balance(ring, 2);
    ring_free(ring);
}

Test(ring, unreachable_weight_share_is_capped_by_dispersion)
{
    /* Zone 3 weighs half of everything but may hold only one replica of each partition: its
     * ideal is capped at 1024 and zones 1 and 2 take the rest, evenly by weight. */
    static const test_dev_t skew[] = {
        {1, "10.0.0.1:7000", "d1", 100}, {1, "10.0.0.2:7000", "d1", 100}, {2, "10.0.0.3:7000", "d1", 100},
        {2, "10.0.0.4:7000", "d1", 100}, {3, "10.0.0.5:7000", "d1", 200}, {3, "10.0.0.6:7000", "d1", 200},
    };
    ring_t *ring = build(10, 3, 1, skew, 6);
    assert_dispersion(ring);
    for (uint32_t id = 0; id < 6; id++) {
        size_t assigned;
        double ideal;
        cr_assert_eq(ring_dev_parts(ring, id, &assigned, &ideal), 0);
        cr_assert_float_eq(ideal, 512.0, 1e-6, "dev %u ideal %f", id, ideal);
        cr_assert(fabs((double)assigned - ideal) <= ideal * 0.02, "dev %u holds %zu", id, assigned);
    }
    ring_free(ring);
}

/* Adds one device after min_part_hours and checks it took its fair share and no more. */
static void add_one_and_check(const test_dev_t *devs, size_t n, const test_dev_t *extra)
{
    ring_t *ring = build(10, 3, 1, devs, n);
    uint32_t *before = snapshot(ring), id;
    size_t moved = 0, assigned;
    double wsum = extra->weight, ideal;
    for (size_t i = 0; i < n; i++)
        wsum += devs[i].weight;
    double fair = 1024.0 * 3 * extra->weight / wsum;

    cr_assert_eq(ring_dev_add(ring, extra->zone, extra->addr, extra->name, extra->weight, &id), 0);
    cr_assert_eq(ring_rebalance(ring, T0 + HOUR, &moved), 0);
    cr_assert_eq(moved, diff_count(ring, before), "moved counts exactly the changed slots");
    cr_assert((double)moved <= fair * 1.02, "moved %zu, fair share %.1f", moved, fair);
    cr_assert_eq(ring_dev_parts(ring, id, &assigned, &ideal), 0);
    /* Old devices' targets all shrink by a fraction of a partition: a few moves between them
     * fix the rounding, at most about one per device. */
    cr_assert(assigned <= moved && moved - assigned <= n, "new device %zu of %zu moved", assigned, moved);
    cr_assert((double)assigned >= fair * 0.98, "new device got %zu of %.1f", assigned, fair);
    assert_dispersion(ring);
    assert_weight_balance(ring, 2);
    free(before);
    ring_free(ring);
}

Test(ring, adding_a_device_moves_only_its_share)
{
    /* Into a new zone: zones then weigh 200,300,250,250,250; none exceeds 1/3. */
    static const test_dev_t new_zone = {5, "10.0.5.1:7000", "a", 250};
    /* Into an existing zone of a 3-zone ring: only that zone's devices may give it parts. */
    static const test_dev_t three_zones[] = {
        {1, "10.0.0.1:7000", "d1", 100}, {1, "10.0.0.2:7000", "d1", 100}, {2, "10.0.0.3:7000", "d1", 100},
        {2, "10.0.0.4:7000", "d1", 100}, {3, "10.0.0.5:7000", "d1", 100}, {3, "10.0.0.6:7000", "d1", 100},
        {4, "10.0.0.7:7000", "d1", 100}, {4, "10.0.0.8:7000", "d1", 100},
    };
    static const test_dev_t same_zone = {2, "10.0.0.9:7000", "d1", 100};
    add_one_and_check(eight, 8, &new_zone);
    add_one_and_check(three_zones, 8, &same_zone);
}

Test(ring, min_part_hours_holds_partitions_back)
{
    ring_t *ring = build(10, 3, 2, eight, 8);
    uint32_t id, *s0 = snapshot(ring), *s1, *s2;
    size_t moved = 99, assigned;
    double ideal;

    /* Every partition was placed at T0: nothing may move before T0 + 2h. */
    cr_assert_eq(ring_dev_add(ring, 5, "10.0.5.1:7000", "a", 250, &id), 0);
    cr_assert_eq(ring_rebalance(ring, T0 + 60, &moved), 0);
    cr_assert_eq(moved, 0);
    cr_assert_eq(ring_rebalance(ring, T0 + 2 * HOUR - 1, &moved), 0);
    cr_assert_eq(moved, 0);
    /* Later it may. */
    cr_assert_eq(ring_rebalance(ring, T0 + 2 * HOUR, &moved), 0);
    cr_assert_gt(moved, 0);
    cr_assert_eq(ring_dev_parts(ring, id, &assigned, &ideal), 0);
    cr_assert(assigned <= moved && moved - assigned <= 8, "new device %zu of %zu moved", assigned, moved);
    /* Right after, nothing further moves. */
    cr_assert_eq(ring_rebalance(ring, T0 + 2 * HOUR + 60, &moved), 0);
    cr_assert_eq(moved, 0);
    s1 = snapshot(ring);

    /* A removed device's partitions move at once, held or not; a held partition (moved at
     * T0 + 2h) changes nothing else. */
    size_t gone;
    cr_assert_eq(ring_dev_parts(ring, 2, &gone, &ideal), 0);
    cr_assert_gt(gone, 0);
    cr_assert_eq(ring_dev_remove(ring, 2), 0);
    cr_assert_eq(ring_rebalance(ring, T0 + 2 * HOUR + 120, &moved), 0);
    cr_assert_geq(moved, gone);
    s2 = snapshot(ring);
    size_t held = 0;
    for (size_t p = 0; p < 1024; p++) {
        int was_held = 0;
        for (size_t r = 0; r < 3; r++)
            was_held |= s0[p * 3 + r] != s1[p * 3 + r];
        if (!was_held)
            continue;
        held++;
        for (size_t r = 0; r < 3; r++) {
            cr_assert_neq(s2[p * 3 + r], 2, "part %zu still on the removed device", p);
            if (s1[p * 3 + r] != 2)
                cr_assert_eq(s2[p * 3 + r], s1[p * 3 + r], "held part %zu moved", p);
        }
    }
    cr_assert_geq(held, assigned, "the partitions given to the new device were held");
    assert_dispersion(ring);
    free(s0);
    free(s1);
    free(s2);
    ring_free(ring);
}

Test(ring, removing_a_device_reassigns_all_its_partitions)
{
    ring_t *ring = build(10, 3, 1, eight, 8);
    size_t moved, assigned;
    double ideal;

    cr_assert_eq(ring_dev_parts(ring, 4, &assigned, &ideal), 0);
    cr_assert_eq(ring_dev_remove(ring, 4), 0);
    /* Until the rebalance it still serves its partitions, weight 0. */
    cr_assert_eq(ring_dev_count(ring), 8);
    cr_assert_eq(ring_dev_remove(ring, 4), RING_ENODEV);
    cr_assert_eq(ring_dev_set_weight(ring, 4, 10), RING_ENODEV);
    cr_assert_eq(ring_rebalance(ring, T0 + 60, &moved), 0);
    cr_assert_eq(moved, assigned);
    cr_assert_eq(ring_dev_count(ring), 7);
    cr_assert_eq(ring_dev_parts(ring, 4, &assigned, &ideal), RING_ENODEV);
    assert_dispersion(ring); /* also: no partition names a drained or missing device */

    /* Ids are never reused. */
    uint32_t id;
    cr_assert_eq(ring_dev_add(ring, 3, "10.0.3.9:7000", "a", 100, &id), 0);
    cr_assert_eq(id, 8);
    ring_free(ring);
}

Test(ring, zero_weight_drains_and_too_few_devices_fails)
{
    ring_t *ring = build(8, 3, 1, eight, 8);
    size_t moved, assigned;
    double ideal;

    cr_assert_eq(ring_dev_set_weight(ring, 0, 0), 0);
    cr_assert_eq(ring_rebalance(ring, T0 + 1, &moved), 0);
    cr_assert_eq(ring_dev_parts(ring, 0, &assigned, &ideal), 0);
    cr_assert_eq(assigned, 0);
    cr_assert_eq(ideal, 0);
    cr_assert_eq(ring_dev_count(ring), 8, "a drained device stays in the ring");
    assert_dispersion(ring);
    ring_free(ring);

    cr_assert_eq(ring_create(8, 3, 1, &ring), 0);
    uint32_t id;
    cr_assert_eq(ring_dev_add(ring, 1, "10.0.0.1:7000", "d1", 100, &id), 0);
    cr_assert_eq(ring_dev_add(ring, 2, "10.0.0.2:7000", "d1", 100, &id), 0);
    cr_assert_eq(ring_rebalance(ring, T0, &moved), RING_ETOOFEW);
    cr_assert_eq(ring_dev_add(ring, 2, "10.0.0.2:7000", "d1", 100, &id), RING_EDUPDEV);
    cr_assert_eq(ring_dev_add(ring, 2, "10.0.0.2:7000", "..", 100, &id), OG_EINVAL);
    cr_assert_eq(ring_dev_add(ring, 2, "10.0.0.2:7000", "d2", -1, &id), OG_EINVAL);
    cr_assert_eq(ring_dev_add(ring, 2, "10.0.0.2:7000", "d2", NAN, &id), OG_EINVAL);
    ring_free(ring);
    cr_assert_eq(ring_create(0, 3, 1, &ring), OG_EINVAL);
    cr_assert_eq(ring_create(10, RING_MAX_REPLICAS + 1, 1, &ring), OG_EINVAL);
}

Test(ring, same_builder_state_gives_same_ring)
{
    ring_t *a = build(10, 3, 1, eight, 8), *b = build(10, 3, 1, eight, 8);
    uint32_t *sa = snapshot(a);
    cr_assert_eq(diff_count(b, sa), 0);
    free(sa);
    ring_free(a);
    ring_free(b);
}

Test(ring, partition_of_fixed_keys)
{
    /* Expected values from the xxhsum tool (xxhsum -H3): part = xxh3_64 >> (64 - part_power). */
    static const struct {
        const char *key;
        uint32_t p10, p16;
    } v[] = {
        {"", 180, 11526},
        {"a", 923, 59078},
        {"bucket/key", 767, 49110},
        {"photos/2024/cat.jpg", 988, 63292},
        {"0123456789abcdef0123456789abcdef", 4, 274},
    };
    ring_t *r10, *r16;
    cr_assert_eq(ring_create(10, 3, 1, &r10), 0);
    cr_assert_eq(ring_create(16, 3, 1, &r16), 0);
    for (size_t i = 0; i < sizeof(v) / sizeof(v[0]); i++) {
        cr_assert_eq(ring_part(r10, v[i].key, strlen(v[i].key)), v[i].p10, "key '%s'", v[i].key);
        cr_assert_eq(ring_part(r16, v[i].key, strlen(v[i].key)), v[i].p16, "key '%s'", v[i].key);
    }
    ring_free(r10);
    ring_free(r16);
}

Test(ring, handoffs_exclude_primaries_and_are_deterministic)
{
    ring_t *ring = build(8, 3, 1, eight, 8);
    for (uint32_t p = 0; p < 256; p++) {
        const ring_dev_t *prim[RING_MAX_REPLICAS], *seen[8];
        size_t n = ring_primaries(ring, p, prim, RING_MAX_REPLICAS), i = 0;
        const ring_dev_t *h;
        for (; (h = ring_handoff(ring, p, i)) != NULL; i++) {
            cr_assert_eq(ring_handoff(ring, p, i), h, "same answer twice");
            for (size_t k = 0; k < n; k++)
                cr_assert_neq(h->id, prim[k]->id, "part %u handoff %zu is a primary", p, i);
            for (size_t k = 0; k < i; k++)
                cr_assert_neq(h->id, seen[k]->id, "part %u handoff %zu repeats", p, i);
            seen[i] = h;
        }
        cr_assert_eq(i, 8 - n, "every non-primary is a handoff once");
        /* 4 zones, 3 used by primaries: the first handoff is in the free zone. */
        for (size_t k = 0; k < n; k++)
            cr_assert_neq(seen[0]->zone, prim[k]->zone, "part %u first handoff in a primary zone", p);
    }
    ring_free(ring);
}

Test(ring_file, lookups_identical_after_save_and_load)
{
    ring_t *ring = build(10, 3, 1, eight, 8), *back = NULL;
    uint32_t *before = snapshot(ring);

    cr_assert_eq(ring_dev_set_weight(ring, 3, 0), 0); /* a weight-0 device round-trips too */
    cr_assert_eq(ring_save(ring, ring_path), 0);
    cr_assert_eq(ring_load(ring_path, &back), 0);
    cr_assert_eq(ring_part_power(back), 10);
    cr_assert_eq(ring_replica_count(back), 3);
    cr_assert_eq(diff_count(back, before), 0);
    cr_assert_eq(ring_dev_count(back), ring_dev_count(ring));
    for (size_t i = 0; i < ring_dev_count(ring); i++) {
        const ring_dev_t *a = ring_dev_at(ring, i), *b = ring_dev_at(back, i);
        cr_assert(a->id == b->id && a->zone == b->zone && a->weight == b->weight);
        cr_assert_str_eq(a->addr, b->addr);
        cr_assert_str_eq(a->name, b->name);
    }
    for (uint32_t p = 0; p < 1024; p++)
        for (size_t i = 0; i < 5; i++) {
            const ring_dev_t *ha = ring_handoff(ring, p, i), *hb = ring_handoff(back, p, i);
            cr_assert_eq(ha ? ha->id : UINT32_MAX, hb ? hb->id : UINT32_MAX);
        }
    /* The builder state round-trips as well: the same rebalance gives the same result. */
    size_t ma, mb;
    cr_assert_eq(ring_rebalance(ring, T0 + 10 * HOUR, &ma), 0);
    cr_assert_eq(ring_rebalance(back, T0 + 10 * HOUR, &mb), 0);
    cr_assert_eq(ma, mb);
    free(before);
    before = snapshot(ring);
    cr_assert_eq(diff_count(back, before), 0);
    free(before);
    ring_free(ring);
    ring_free(back);
}

static void write_bytes(const char *path, const uint8_t *buf, size_t len)
{
    FILE *f = fopen(path, "wb");
    cr_assert_not_null(f);
    cr_assert_eq(fwrite(buf, 1, len, f), len);
    cr_assert_eq(fclose(f), 0);
}

Test(ring_file, corrupt_or_truncated_file_is_rejected)
{
    ring_t *ring = build(6, 3, 1, six, 6), *back = NULL;
    struct stat st;
    uint8_t *good;
    FILE *f;

    cr_assert_eq(ring_save(ring, ring_path), 0);
    cr_assert_eq(stat(ring_path, &st), 0);
    good = malloc((size_t)st.st_size);
    f = fopen(ring_path, "rb");
    cr_assert_eq(fread(good, 1, (size_t)st.st_size, f), (size_t)st.st_size);
    fclose(f);
    cr_assert_eq(memcmp(good, "ONGGIRNG\0\0\0\2", 12), 0, "magic then big-endian version 2");

    /* One flipped bit anywhere: magic, version, devices, table, last-moved times, checksum. */
    size_t at[] = {0, 9, 20, 40, (size_t)st.st_size / 2, (size_t)st.st_size - 9, (size_t)st.st_size - 1};
    for (size_t i = 0; i < sizeof(at) / sizeof(at[0]); i++) {
        good[at[i]] ^= 0x10;
        write_bytes(ring_path, good, (size_t)st.st_size);
        cr_assert_eq(ring_load(ring_path, &back), RING_EBADFILE, "flip at %zu", at[i]);
        good[at[i]] ^= 0x10;
    }
    size_t lens[] = {0, 7, 20, (size_t)st.st_size - 1};
    for (size_t i = 0; i < sizeof(lens) / sizeof(lens[0]); i++) {
        write_bytes(ring_path, good, lens[i]);
        cr_assert_eq(ring_load(ring_path, &back), RING_EBADFILE, "truncated to %zu", lens[i]);
    }
    write_bytes(ring_path, good, (size_t)st.st_size);
    cr_assert_eq(ring_load(ring_path, &back), 0);
    ring_free(back);
    cr_assert_eq(ring_load("/nonexistent/ring.bin", &back), -ENOENT);
    free(good);
    ring_free(ring);
}

Test(ring_file, save_replaces_atomically_without_leftovers)
{
    ring_t *ring = build(6, 3, 1, six, 6);
    cr_assert_eq(ring_save(ring, ring_path), 0);
    cr_assert_eq(ring_save(ring, ring_path), 0);
    /* Only ring.bin in the directory: the temporary file was renamed, not left behind. */
    char cmd[160];
    snprintf(cmd, sizeof(cmd), "test $(ls -A %s | wc -l) -eq 1", tmpdir);
    cr_assert_eq(system(cmd), 0);
    ring_free(ring);
}
