/*
 * node_ring.c: the node's live ring (contract: node_int.h). A pushed ring is checked against the
 * one in use (a higher epoch, the same part power and replica count), saved over the --ring file
 * (so a restart starts from it) and only then offered to the box, under one mutex so two pushes
 * cannot save and install in different orders.
 */
#include "node_int.h"
#include "ring.h"

#include <errno.h>
#include <pthread.h>
#include <stdlib.h>

struct st_node_ring_t {
    ring_box_t *box;
    const char *path;
    pthread_mutex_t mu; /* serialises installs */
};

int node_ring_new(ring_box_t *box, const char *path, node_ring_t **out)
{
    node_ring_t *nr = calloc(1, sizeof(*nr));
    if (!nr)
        return -ENOMEM;
    *nr = (node_ring_t){.box = box, .path = path};
    pthread_mutex_init(&nr->mu, NULL);
    *out = nr;
    return 0;
}

void node_ring_free(node_ring_t *nr)
{
    if (!nr)
        return;
    pthread_mutex_destroy(&nr->mu);
    free(nr);
}

ring_box_t *node_ring_box(node_ring_t *nr)
{
    return nr->box;
}

/* OG_EINVAL when ring cannot replace cur on this node's stores, else 0. */
static int node_ring_compatible(const ring_t *ring, const ring_t *cur)
{
    return ring_part_power(ring) == ring_part_power(cur) && ring_replica_count(ring) == ring_replica_count(cur)
               ? 0
               : OG_EINVAL;
}

int node_ring_install(node_ring_t *nr, const void *bytes, size_t len)
{
    ring_t *ring = NULL;
    ring_view_t v;
    int rc = ring_from_bytes(bytes, len, &ring);
    if (rc != 0)
        return rc;
    pthread_mutex_lock(&nr->mu);
    ring_box_get(nr->box, &v);
    rc = node_ring_compatible(ring, v.ring);
    if (rc == 0 && ring_epoch(ring) <= ring_epoch(v.ring))
        rc = ring_box_offer(nr->box, ring); /* says which: same, conflict or stale */
    else if (rc == 0 && (rc = ring_save(ring, nr->path)) == 0)
        rc = ring_box_offer(nr->box, ring);
    ring_box_put(nr->box, &v);
    pthread_mutex_unlock(&nr->mu);
    if (rc != 0)
        ring_free(ring);
    return rc;
}
