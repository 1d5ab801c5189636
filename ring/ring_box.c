/*
 * ring_box.c: the ring a running process uses, replaced without a restart (contract: ring.h).
 *
 * A generation owns the ring in use and a copy of the one it replaced (decoded from its bytes, so
 * every generation owns exactly what it holds and can be freed on its own). Readers pin the
 * current generation with a count under the box's mutex; a replaced generation is freed by the
 * last reader that leaves it. A reader is one request or one replication pass, so the lock is
 * taken twice per operation, next to network round trips that cost a thousand times more.
 */
#include "ring_int.h"

#include <errno.h>
#include <pthread.h>
#include <stdlib.h>

typedef struct {
    ring_t *ring;
    ring_t *prev; /* NULL before the first change */
    size_t refs;  /* views pinning it */
} ring_gen_t;

struct st_ring_box_t {
    pthread_mutex_t mu; /* guards cur and every generation's refs */
    ring_gen_t *cur;
};

static void ring_gen_free(ring_gen_t *g)
{
    ring_free(g->ring);
    ring_free(g->prev);
    free(g);
}

int ring_box_new(ring_t *ring, ring_box_t **out)
{
    int rc;
    ring_box_t *box = calloc(1, sizeof(*box));
    ring_gen_t *g = calloc(1, sizeof(*g));

    if (box == NULL || g == NULL) {
        rc = -ENOMEM;
        goto out_free;
    }
    if ((rc = -pthread_mutex_init(&box->mu, NULL)) != 0)
        goto out_free;
    g->ring = ring;
    box->cur = g;
    *out = box;
    return 0;

out_free:
    free(g);
    free(box);
    ring_free(ring);
    return rc;
}

void ring_box_free(ring_box_t *box)
{
    if (box == NULL)
        return;
    ring_gen_free(box->cur);
    pthread_mutex_destroy(&box->mu);
    free(box);
}

void ring_box_get(ring_box_t *box, ring_view_t *v)
{
    pthread_mutex_lock(&box->mu);
    box->cur->refs++;
    *v = (ring_view_t){box->cur->ring, box->cur->prev, box->cur};
    pthread_mutex_unlock(&box->mu);
}

void ring_box_put(ring_box_t *box, ring_view_t *v)
{
    ring_gen_t *g = v->_gen, *dead = NULL;

    if (g == NULL)
        return;
    pthread_mutex_lock(&box->mu);
    if (--g->refs == 0 && g != box->cur)
        dead = g;
    pthread_mutex_unlock(&box->mu);
    if (dead != NULL)
        ring_gen_free(dead);
    *v = (ring_view_t){NULL, NULL, NULL};
}

uint64_t ring_box_epoch(ring_box_t *box)
{
    pthread_mutex_lock(&box->mu);
    uint64_t epoch = box->cur->ring->epoch;
    pthread_mutex_unlock(&box->mu);
    return epoch;
}

/* 1 when a and b encode to the same bytes, 0 when not, -ENOMEM. */
static int ring_same(const ring_t *a, const ring_t *b)
{
    uint8_t *ba = NULL, *bb = NULL;
    size_t la = 0, lb = 0;
    int rc = -ENOMEM;

    if (ring_to_bytes(a, &ba, &la) == 0 && ring_to_bytes(b, &bb, &lb) == 0)
        rc = la == lb && memcmp(ba, bb, la) == 0;
    free(ba);
    free(bb);
    return rc;
}

/* A copy of ring (through its bytes). 0 or -ENOMEM. */
static int ring_copy(const ring_t *ring, ring_t **out)
{
    uint8_t *b = NULL;
    size_t len = 0;
    int rc = ring_to_bytes(ring, &b, &len);

    if (rc == 0)
        rc = ring_from_bytes(b, len, out);
    free(b);
    return rc;
}

int ring_box_offer(ring_box_t *box, ring_t *ring)
{
    int rc;
    ring_gen_t *g = calloc(1, sizeof(*g)), *old = NULL;

    if (g == NULL)
        return -ENOMEM;
    /* Offers come from one place at a time in practice (a push, a file reload); the lock is held
     * across the copy so two racing offers still end at the higher epoch. */
    pthread_mutex_lock(&box->mu);
    const ring_t *cur = box->cur->ring;
    if (ring->epoch < cur->epoch) {
        rc = RING_ESTALE;
    } else if (ring->epoch == cur->epoch) {
        rc = ring_same(ring, cur);
        rc = rc < 0 ? rc : rc ? OG_EEXIST : RING_ECONFLICT;
    } else if ((rc = ring_copy(cur, &g->prev)) == 0) {
        g->ring = ring;
        old = box->cur;
        box->cur = g;
        g = NULL;
        if (old->refs > 0)
            old = NULL; /* its last reader frees it */
    }
    pthread_mutex_unlock(&box->mu);
    free(g);
    if (old != NULL)
        ring_gen_free(old);
    return rc;
}
