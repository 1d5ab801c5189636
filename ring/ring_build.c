/*
 * ring_build.c: the ring builder: devices, per-device targets and the rebalance.
 *
 * Rebalance, in the spirit of swift-ring-builder but deterministic:
 *  1. Targets. Each active device (not removed, weight > 0) gets a share of the
 *     nparts * replicas partition-replicas by weight, "water-filled" so that no zone takes more
 *     than ceil(replicas / zones) replicas of every partition and no device more than one:
 *     weight beyond what dispersion allows is spread over the others instead of making the
 *     ring look unbalanced forever (and making rebalances shuffle partitions in vain).
 *  2. Forced moves: replicas on no device (new ring), on removed or weight-0 devices, or
 *     duplicated on one device are placed again whatever min_part_hours says. A partition
 *     whose replicas crowd one zone while another zone is free loses one crowded replica.
 *     Placement takes, in order: the zone holding fewest replicas of the partition, the node
 *     (addr) holding fewest, the device wanting most partitions (target - assigned), the
 *     lowest id.
 *  3. Balance: partitions are scanned in order; one replica on a device above its target
 *     moves to the device wanting most, if that keeps zone and node dispersion and strictly
 *     lowers the sum of squared deviations (over + want > 1), so passes terminate.
 * A partition moved (or inside min_part_hours of its last move) has no further replica
 * moved in this rebalance except by step 2's device removal: at most one replica's data is
 * in flight at a time. Every choice is made in a fixed order with ties broken by id, so the
 * same builder state always gives the same ring.
 */
#include "ring_int.h"

#include <errno.h>
#include <limits.h>
#include <math.h>
#include <stdlib.h>

/* Bounds the balance passes; each pass only moves partitions not yet moved, so more passes
 * only help when an earlier move freed room elsewhere. */
#define RING_BALANCE_PASSES 4

int ring_create(uint32_t part_power, uint32_t replicas, uint32_t min_part_hours, ring_t **out)
{
    return ring_alloc(part_power, replicas, min_part_hours, out);
}

/* A printable, non-empty, NUL-terminated string shorter than cap without spaces. */
static int ring_str_ok(const char *s, size_t cap)
{
    size_t n = s ? strnlen(s, cap) : 0;
    if (n == 0 || n >= cap)
        return 0;
    for (size_t i = 0; i < n; i++)
        if ((unsigned char)s[i] <= ' ' || (unsigned char)s[i] == 0x7f)
            return 0;
    return 1;
}

static int ring_weight_ok(double weight)
{
    return isfinite(weight) && weight >= 0;
}

static int ring_dev_active(const ring_devrec_t *rec)
{
    return !rec->removed && rec->pub.weight > 0;
}

int ring_dev_add(ring_t *ring, uint32_t zone, const char *addr, const char *name, double weight, uint32_t *id)
{
    ring_devrec_t *rec;

    /* The name becomes a directory under the node's data dir: no '/', '.' or '..'. */
    if (!ring_str_ok(addr, RING_ADDR_MAX) || !ring_str_ok(name, RING_NAME_MAX) || strchr(name, '/') != NULL ||
        strcmp(name, ".") == 0 || strcmp(name, "..") == 0 || !ring_weight_ok(weight))
        return OG_EINVAL;
    if (ring->next_id >= RING_NONE - 1)
        return -EOVERFLOW;
    for (size_t i = 0; i < ring->ndev; i++)
        if (strcmp(ring->devs[i].pub.addr, addr) == 0 && strcmp(ring->devs[i].pub.name, name) == 0)
            return RING_EDUPDEV;
    uint32_t *id2idx = realloc(ring->id2idx, ((size_t)ring->next_id + 1) * sizeof(*id2idx));
    if (id2idx == NULL)
        return -ENOMEM;
    ring->id2idx = id2idx;
    if (ring->ndev == ring->devcap) {
        size_t cap = ring->devcap ? ring->devcap * 2 : 8;
        ring_devrec_t *devs = realloc(ring->devs, cap * sizeof(*devs));
        if (devs == NULL)
            return -ENOMEM;
        ring->devs = devs;
        ring->devcap = cap;
    }
    rec = &ring->devs[ring->ndev++];
    memset(rec, 0, sizeof(*rec));
    rec->pub.id = ring->next_id++;
    rec->pub.zone = zone;
    strcpy(rec->pub.addr, addr);
    strcpy(rec->pub.name, name);
    rec->pub.weight = weight;
    ring_reindex(ring, 0);
    ring->epoch++;
    *id = rec->pub.id;
    return 0;
}

int ring_dev_remove(ring_t *ring, uint32_t id)
{
    ring_devrec_t *rec = ring_rec_of(ring, id);

    if (rec == NULL || rec->removed)
        return RING_ENODEV;
    ring->epoch++;
    if (rec->assigned > 0) {
        /* Still named by the table: keep serving until the rebalance moves its partitions. */
        rec->removed = 1;
        rec->pub.weight = 0;
        return 0;
    }
    size_t idx = (size_t)(rec - ring->devs);
    memmove(rec, rec + 1, (ring->ndev - idx - 1) * sizeof(*rec));
    ring->ndev--;
    ring_reindex(ring, 0);
    return 0;
}

int ring_dev_set_weight(ring_t *ring, uint32_t id, double weight)
{
    ring_devrec_t *rec = ring_rec_of(ring, id);

    if (rec == NULL || rec->removed)
        return RING_ENODEV;
    if (!ring_weight_ok(weight))
        return OG_EINVAL;
    rec->pub.weight = weight;
    ring->epoch++;
    return 0;
}

void ring_pretend_min_part_hours_passed(ring_t *ring)
{
    for (uint32_t p = 0; p < ring->nparts; p++)
        ring->last_moved[p] = RING_NEVER;
    ring->epoch++;
}

/* ---- targets ---- */

/* Scratch state of one rebalance (or one target computation), indexed like ring->devs. */
typedef struct {
    size_t nd, nz, na;
    uint32_t *zi;   /* [nd] dense zone index */
    uint32_t *ai;   /* [nd] dense addr (node) index */
    double *target; /* [nd] partition-replicas the device should hold */
    long *cnt;      /* [nd] partition-replicas it holds now */
    long *zc;       /* [nz] replicas of the partition being worked on, per zone */
    long *ac;       /* [na] same per node */
    uint32_t *zn;   /* [nz] active devices per zone */
    size_t *want;   /* [nd] indexes of devices with target - cnt > 0 (balance step) */
    size_t nwant;
} ring_plan_t;

static void ring_plan_free(ring_plan_t *pl)
{
    free(pl->zi);
    free(pl->ai);
    free(pl->target);
    free(pl->cnt);
    free(pl->zc);
    free(pl->ac);
    free(pl->zn);
    free(pl->want);
}

/* Splits total among items in proportion to w[i] with none above cap[i] (items of weight 0
 * get 0). Capped items are fixed and the rest re-split until no share exceeds its cap; fixing
 * an item only raises the others' shares, so a capped item never needs un-capping. When the
 * caps cannot absorb total, every weighted item ends at its cap. */
static void ring_waterfill(size_t n, const double *w, const double *cap, double total, double *out)
{
    for (size_t i = 0; i < n; i++)
        out[i] = w[i] > 0 ? -1 : 0;
    for (;;) {
        double wsum = 0, fixed = 0;
        int capped = 0;
        for (size_t i = 0; i < n; i++)
            if (out[i] < 0)
                wsum += w[i];
        if (wsum == 0)
            return;
        for (size_t i = 0; i < n; i++) {
            if (out[i] < 0 && total * w[i] / wsum >= cap[i]) {
                out[i] = cap[i];
                fixed += cap[i];
                capped = 1;
            }
        }
        if (!capped) {
            for (size_t i = 0; i < n; i++)
                if (out[i] < 0)
                    out[i] = total * w[i] / wsum;
            return;
        }
        total -= fixed;
    }
}

/* Fills targets: zones first (capped by dispersion), then each zone's share over its devices
 * (capped at one replica of every partition). s is scratch of 7 * max(nd, 1) doubles. */
static void ring_plan_targets(const ring_t *ring, ring_plan_t *pl, double *s)
{
    size_t m = pl->nd ? pl->nd : 1, zactive = 0;
    double *zw = s, *zcap = s + m, *zt = s + 2 * m, *zx = s + 3 * m, *dw = s + 4 * m, *dcap = s + 5 * m,
           *dout = s + 6 * m;
    double parts = ring->nparts, total = parts * ring->replicas, left = total;

    for (size_t z = 0; z < pl->nz; z++) {
        zw[z] = 0;
        zactive += pl->zn[z] > 0;
    }
    for (size_t i = 0; i < pl->nd; i++)
        if (ring_dev_active(&ring->devs[i]))
            zw[pl->zi[i]] += ring->devs[i].pub.weight;
    if (zactive == 0)
        return;
    size_t per_zone = (ring->replicas + zactive - 1) / zactive;
    for (size_t z = 0; z < pl->nz; z++)
        zcap[z] = parts * (double)(per_zone < pl->zn[z] ? per_zone : pl->zn[z]);
    ring_waterfill(pl->nz, zw, zcap, total, zt);
    for (size_t z = 0; z < pl->nz; z++)
        left -= zt[z];
    /* Too few devices in the other zones to honour ceil(replicas / zones): the rest has to
     * double up in zones that still have devices free for it. */
    if (left > 1e-9 * total) {
        for (size_t z = 0; z < pl->nz; z++)
            zcap[z] = parts * pl->zn[z] - zt[z];
        ring_waterfill(pl->nz, zw, zcap, left, zx);
        for (size_t z = 0; z < pl->nz; z++)
            zt[z] += zx[z];
    }
    for (size_t z = 0; z < pl->nz; z++) {
        size_t k = 0;
        for (size_t i = 0; i < pl->nd; i++) {
            if (pl->zi[i] == z && ring_dev_active(&ring->devs[i])) {
                dw[k] = ring->devs[i].pub.weight;
                dcap[k++] = parts;
            }
        }
        ring_waterfill(k, dw, dcap, zt[z], dout);
        k = 0;
        for (size_t i = 0; i < pl->nd; i++)
            if (pl->zi[i] == z && ring_dev_active(&ring->devs[i]))
                pl->target[i] = dout[k++];
    }
}

/* Fills pl for ring: dense zone/node indexes, current counts, targets. 0 or -ENOMEM; pl can
 * be passed to ring_plan_free either way. */
static int ring_plan_init(const ring_t *ring, ring_plan_t *pl)
{
    int rc = 0;
    size_t m = ring->ndev ? ring->ndev : 1;
    uint32_t *zones = malloc(m * sizeof(*zones)); /* zone number of each dense zone index */
    double *scratch = malloc(7 * m * sizeof(*scratch));

    memset(pl, 0, sizeof(*pl));
    pl->nd = ring->ndev;
    pl->zi = malloc(m * sizeof(*pl->zi));
    pl->ai = malloc(m * sizeof(*pl->ai));
    pl->target = calloc(m, sizeof(*pl->target));
    pl->cnt = calloc(m, sizeof(*pl->cnt));
    pl->zc = calloc(m, sizeof(*pl->zc));
    pl->ac = calloc(m, sizeof(*pl->ac));
    pl->zn = calloc(m, sizeof(*pl->zn));
    pl->want = malloc(m * sizeof(*pl->want));
    if (zones == NULL || scratch == NULL || pl->zi == NULL || pl->ai == NULL || pl->target == NULL || pl->cnt == NULL ||
        pl->zc == NULL || pl->ac == NULL || pl->zn == NULL || pl->want == NULL) {
        rc = -ENOMEM;
        goto out_free_scratch;
    }
    for (size_t i = 0; i < pl->nd; i++) {
        const ring_devrec_t *rec = &ring->devs[i];
        size_t z = 0, j = 0;
        while (z < pl->nz && zones[z] != rec->pub.zone)
            z++;
        if (z == pl->nz)
            zones[pl->nz++] = rec->pub.zone;
        pl->zi[i] = (uint32_t)z;
        while (j < i && strcmp(ring->devs[j].pub.addr, rec->pub.addr) != 0)
            j++;
        pl->ai[i] = j < i ? pl->ai[j] : (uint32_t)pl->na++;
        pl->cnt[i] = (long)rec->assigned;
        if (ring_dev_active(rec))
            pl->zn[z]++;
    }
    ring_plan_targets(ring, pl, scratch);

out_free_scratch:
    free(scratch);
    free(zones);
    return rc;
}

int ring_dev_parts(const ring_t *ring, uint32_t id, size_t *assigned, double *ideal)
{
    int rc;
    ring_plan_t pl;
    const ring_devrec_t *rec = ring_rec_of(ring, id);

    if (rec == NULL)
        return RING_ENODEV;
    if ((rc = ring_plan_init(ring, &pl)) == 0) {
        *assigned = rec->assigned;
        *ideal = pl.target[rec - ring->devs];
    }
    ring_plan_free(&pl);
    return rc;
}

/* ---- rebalance ---- */

static int ring_slot_holds(const uint32_t *slot, uint32_t replicas, uint32_t id)
{
    for (uint32_t r = 0; r < replicas; r++)
        if (slot[r] == id)
            return 1;
    return 0;
}

/* Adds (delta 1) or takes back (delta -1) the replicas in slot to the per-zone and per-node
 * counts, which are all zero between partitions. */
static void ring_part_count(const ring_t *ring, ring_plan_t *pl, const uint32_t *slot, long delta)
{
    for (uint32_t r = 0; r < ring->replicas; r++) {
        if (slot[r] != RING_NONE) {
            uint32_t i = ring->id2idx[slot[r]];
            pl->zc[pl->zi[i]] += delta;
            pl->ac[pl->ai[i]] += delta;
        }
    }
}

/* The device a new replica of the partition in slot should go to (see the file comment), or
 * SIZE_MAX when every active device already holds it. Needs the counts of slot in pl. */
static size_t ring_pick(const ring_t *ring, const ring_plan_t *pl, const uint32_t *slot)
{
    size_t best = SIZE_MAX;

    for (size_t i = 0; i < pl->nd; i++) {
        if (!ring_dev_active(&ring->devs[i]) || ring_slot_holds(slot, ring->replicas, ring->devs[i].pub.id))
            continue;
        if (best != SIZE_MAX) {
            long dz = pl->zc[pl->zi[i]] - pl->zc[pl->zi[best]];
            long da = pl->ac[pl->ai[i]] - pl->ac[pl->ai[best]];
            double want_i = pl->target[i] - (double)pl->cnt[i], want_best = pl->target[best] - (double)pl->cnt[best];
            if (dz > 0 || (dz == 0 && (da > 0 || (da == 0 && want_i <= want_best))))
                continue;
        }
        best = i;
    }
    return best;
}

/* Step 2 for partition p: frees replicas that must move, at most one crowded-zone replica when
 * p is not busy, and places every free slot. Marks p busy when a replica holding data moved. 0,
 * or RING_ETOOFEW if no device can take a replica (callers checked there are enough). */
static int ring_fix_part(ring_t *ring, ring_plan_t *pl, uint32_t p, uint8_t *busy)
{
    int rc = 0, had_data = 0, empty = 0;
    uint32_t nr = ring->replicas, *slot = &ring->table[(size_t)p * nr];

    for (uint32_t r = 0; r < nr; r++) {
        uint32_t i;
        if (slot[r] == RING_NONE) {
            empty = 1;
            continue;
        }
        i = ring->id2idx[slot[r]];
        if (!ring_dev_active(&ring->devs[i]) || ring_slot_holds(slot, r, slot[r])) {
            pl->cnt[i]--;
            slot[r] = RING_NONE;
            empty = had_data = 1;
        }
    }
    if (!empty && !busy[p]) {
        /* Zone dispersion: a replica in a zone holding two more replicas of p than some zone
         * with a free device could go there. */
        uint32_t worst = nr;
        long min_free = LONG_MAX;
        ring_part_count(ring, pl, slot, 1);
        for (size_t z = 0; z < pl->nz; z++)
            if ((long)pl->zn[z] > pl->zc[z] && pl->zc[z] < min_free)
                min_free = pl->zc[z];
        for (uint32_t r = 0; r < nr; r++) {
            uint32_t i = ring->id2idx[slot[r]], w;
            if (min_free == LONG_MAX || pl->zc[pl->zi[i]] < min_free + 2)
                continue;
            if (worst == nr) {
                worst = r;
                continue;
            }
            w = ring->id2idx[slot[worst]];
            if (pl->zc[pl->zi[i]] > pl->zc[pl->zi[w]] ||
                (pl->zc[pl->zi[i]] == pl->zc[pl->zi[w]] && pl->cnt[i] - pl->target[i] > pl->cnt[w] - pl->target[w]))
                worst = r;
        }
        ring_part_count(ring, pl, slot, -1);
        if (worst < nr) {
            pl->cnt[ring->id2idx[slot[worst]]]--;
            slot[worst] = RING_NONE;
            empty = had_data = 1;
        }
    }
    if (!empty)
        return 0;
    if (had_data)
        busy[p] = 1;
    ring_part_count(ring, pl, slot, 1);
    for (uint32_t r = 0; r < nr; r++) {
        size_t i;
        if (slot[r] != RING_NONE)
            continue;
        if ((i = ring_pick(ring, pl, slot)) == SIZE_MAX) {
            rc = RING_ETOOFEW;
            break;
        }
        slot[r] = ring->devs[i].pub.id;
        pl->cnt[i]++;
        pl->zc[pl->zi[i]]++;
        pl->ac[pl->ai[i]]++;
    }
    ring_part_count(ring, pl, slot, -1);
    return rc;
}

static void ring_want_refresh(const ring_t *ring, ring_plan_t *pl)
{
    pl->nwant = 0;
    for (size_t i = 0; i < pl->nd; i++)
        if (ring_dev_active(&ring->devs[i]) && pl->target[i] - (double)pl->cnt[i] > 0)
            pl->want[pl->nwant++] = i;
}

/* Step 3 for partition p (not busy): the best single-replica move, if any. 1 if moved. */
static int ring_balance_part(ring_t *ring, ring_plan_t *pl, uint32_t p)
{
    uint32_t nr = ring->replicas, *slot = &ring->table[(size_t)p * nr], best_r = nr;
    size_t best_u = 0, src;
    double best_score = 1;

    ring_part_count(ring, pl, slot, 1);
    for (uint32_t r = 0; r < nr; r++) {
        size_t s = ring->id2idx[slot[r]];
        double over = (double)pl->cnt[s] - pl->target[s];
        if (over <= 0)
            continue;
        for (size_t k = 0; k < pl->nwant; k++) {
            size_t u = pl->want[k];
            double score = over + pl->target[u] - (double)pl->cnt[u];
            if (score <= best_score || ring_slot_holds(slot, nr, ring->devs[u].pub.id))
                continue;
            /* Never trade dispersion for balance: the destination zone (node) must end with
             * no more replicas of p than the source zone (node) had. */
            if (pl->zi[u] != pl->zi[s] && pl->zc[pl->zi[u]] + 1 > pl->zc[pl->zi[s]])
                continue;
            if (pl->ai[u] != pl->ai[s] && pl->ac[pl->ai[u]] + 1 > pl->ac[pl->ai[s]])
                continue;
            best_score = score;
            best_r = r;
            best_u = u;
        }
    }
    ring_part_count(ring, pl, slot, -1);
    if (best_r == nr)
        return 0;
    src = ring->id2idx[slot[best_r]];
    pl->cnt[src]--;
    pl->cnt[best_u]++;
    slot[best_r] = ring->devs[best_u].pub.id;
    return 1;
}

static void ring_balance(ring_t *ring, ring_plan_t *pl, uint8_t *busy)
{
    for (int pass = 0; pass < RING_BALANCE_PASSES; pass++) {
        size_t nmoved = 0;
        ring_want_refresh(ring, pl);
        for (uint32_t p = 0; p < ring->nparts && pl->nwant > 0; p++) {
            if (busy[p] || !ring_balance_part(ring, pl, p))
                continue;
            busy[p] = 1;
            nmoved++;
            ring_want_refresh(ring, pl);
        }
        if (nmoved == 0)
            return;
    }
}

int ring_rebalance(ring_t *ring, int64_t now, size_t *moved)
{
    int rc = 0;
    ring_plan_t pl;
    size_t nslots = (size_t)ring->nparts * ring->replicas, nactive = 0, nmoved = 0, kept = 0;
    uint32_t *before = NULL;
    uint8_t *busy = NULL;
    int64_t hold = (int64_t)ring->min_part_hours * 3600;
    int64_t since = now >= INT64_MIN + hold ? now - hold : INT64_MIN;

    for (size_t i = 0; i < ring->ndev; i++)
        nactive += ring_dev_active(&ring->devs[i]);
    if (nactive < ring->replicas)
        return RING_ETOOFEW;
    if ((rc = ring_plan_init(ring, &pl)) != 0)
        goto out_free_plan;
    before = malloc(nslots * sizeof(*before));
    busy = malloc(ring->nparts);
    if (before == NULL || busy == NULL) {
        rc = -ENOMEM;
        goto out_free_busy;
    }
    memcpy(before, ring->table, nslots * sizeof(*before));
    for (uint32_t p = 0; p < ring->nparts; p++)
        busy[p] = ring->last_moved[p] != RING_NEVER && ring->last_moved[p] > since;
    for (uint32_t p = 0; p < ring->nparts; p++)
        if ((rc = ring_fix_part(ring, &pl, p, busy)) != 0)
            goto out_restore_table;
    ring_balance(ring, &pl, busy);

    for (uint32_t p = 0; p < ring->nparts; p++) {
        int changed = 0;
        for (uint32_t r = 0; r < ring->replicas; r++) {
            size_t k = (size_t)p * ring->replicas + r;
            if (ring->table[k] != before[k]) {
                nmoved++;
                changed = 1;
            }
        }
        if (changed)
            ring->last_moved[p] = now;
    }
    /* No slot names a removed device any more: drop them for good. */
    for (size_t i = 0; i < ring->ndev; i++)
        if (!ring->devs[i].removed)
            ring->devs[kept++] = ring->devs[i];
    ring->ndev = kept;
    ring_reindex(ring, 1);
    ring->epoch++;
    if (moved != NULL)
        *moved = nmoved;
    goto out_free_busy;

out_restore_table:
    memcpy(ring->table, before, nslots * sizeof(*before));
out_free_busy:
    free(busy);
    free(before);
out_free_plan:
    ring_plan_free(&pl);
    return rc;
}
