/*
 * admin_ring.c: onggi-admin ring push and onggi-admin rebalance (docs/operations.md, "Changing
 * the ring").
 *
 * ring push: sends the ring file (--ring FILE) to every node address it names with PUT /ring, and
 * to the addresses of the ring those nodes used before (GET /ring), so that a node the new ring
 * dropped learns it too and drains what it holds. A node installs a ring only when its epoch is
 * above the one it uses, so pushing twice, or pushing an old file, changes nothing.
 *
 * rebalance: the data move after a ring change, from every device's GET /<dev>/stat: the ring
 * epoch its last replication pass used, what it still holds for partitions it is not a primary
 * of (to move: items and chunk bytes) and what it moved away since it started. The move is done
 * when every device's pass used the file's epoch and nothing is left to move (`onggi-admin
 * replication` then also counts what the new primaries still lack).
 */
#include "admin.h"
#include "node_client.h"
#include "ring.h"

#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define ADDRS_MAX 4096 /* node addresses one push reaches */

typedef struct {
    char (*v)[RING_ADDR_MAX];
    size_t n;
} addrs_t;

/* Adds ring's node addresses that addrs does not hold yet (up to ADDRS_MAX). */
static void addrs_add(addrs_t *a, const ring_t *ring)
{
    for (size_t i = 0; i < ring_dev_count(ring) && a->n < ADDRS_MAX; i++) {
        const char *addr = ring_dev_at(ring, i)->addr;
        size_t j = 0;
        while (j < a->n && strcmp(a->v[j], addr) != 0)
            j++;
        if (j == a->n)
            strcpy(a->v[a->n++], addr);
    }
}

/* Adds the addresses of the rings nodes a->v[0..n) use now (those that answer GET /ring). */
static void addrs_add_in_use(node_client_t *client, addrs_t *a)
{
    size_t n = a->n;
    for (size_t i = 0; i < n; i++) {
        node_call_t c = {.addr = a->v[i], .method = "GET", .path = "/ring"};
        ring_t *used = NULL;
        if (node_call(client, &c) == 0 && c.status == 200 && ring_from_bytes(c.resp_body, c.resp_len, &used) == 0)
            addrs_add(a, used);
        ring_free(used);
        free(c.resp_body);
    }
}

/* PUTs the ring bytes to every address and says what each node answered. 0, or 1 when a node
 * did not take it (unreachable, refused, or it uses a newer ring). */
static int push_all(node_client_t *client, const addrs_t *a, const uint8_t *bytes, size_t len, uint64_t epoch)
{
    int ret = 0;
    for (size_t i = 0; i < a->n; i++) {
        node_call_t c = {
            .addr = a->v[i], .method = "PUT", .path = "/ring", .body = bytes, .body_len = len, .resp_cap = 4096};
        int rc = node_call(client, &c);
        if (rc != 0) {
            printf("%s unreachable: %s\n", a->v[i], admin_strerror(rc));
            ret = 1;
        } else if (c.status == 201 || c.status == 200) {
            printf("%s %s epoch %" PRIu64 "\n", a->v[i], c.status == 201 ? "installed" : "already uses", epoch);
        } else {
            printf("%s refused (%d): %.*s", a->v[i], c.status, (int)c.resp_len, c.resp_body ? c.resp_body : "");
            ret = 1;
        }
        free(c.resp_body);
    }
    return ret;
}

int admin_ring_push(const admin_opts_t *o, int argc, char **argv)
{
    ring_t *ring = NULL;
    uint8_t *bytes = NULL;
    size_t len = 0;
    addrs_t a = {NULL, 0};
    node_client_t *client = NULL;
    int rc, ret = 1;

    if (argc != 0)
        return admin_usage();
    (void)argv;
    if ((rc = ring_load(o->ring, &ring)) != 0)
        return admin_fail(o->ring, rc);
    client = admin_client_new(o->ring, o->keys, 1);
    a.v = calloc(ADDRS_MAX, sizeof(*a.v));
    if (!client || !a.v || (rc = ring_to_bytes(ring, &bytes, &len)) != 0) {
        admin_fail("ring push", -ENOMEM);
        goto out_free;
    }
    addrs_add(&a, ring);
    addrs_add_in_use(client, &a);
    ret = push_all(client, &a, bytes, len, ring_epoch(ring));
out_free:
    free(bytes);
    free(a.v);
    node_client_free(client);
    ring_free(ring);
    return ret;
}

/* The unsigned number after "\"name\":" in a /stat JSON body, 0 when absent. */
static uint64_t json_u64(const node_call_t *c, const char *name)
{
    char key[64];
    int n = snprintf(key, sizeof(key), "\"%s\":", name);
    const char *p = c->resp_body ? memmem(c->resp_body, c->resp_len, key, (size_t)n) : NULL;
    return p ? strtoull(p + n, NULL, 10) : 0;
}

/* The move figures of the /stat fields (name in JSON, then field of the answer), per device. */
static const char *const move_fields[][2] = {
    {"to_move_items", "repl_handoff_items"}, {"to_move_bytes", "repl_handoff_bytes"},
    {"moved_items", "repl_moved_items"},     {"moved_bytes", "repl_moved_bytes"},
    {"pushed_bytes", "repl_bytes_pushed"},
};
#define NMOVE (sizeof(move_fields) / sizeof(move_fields[0]))

/* One device's figures as JSON, added to the totals (tot[i] per move_fields[i]), or why not. */
static json_t *rebalance_dev(const ring_dev_t *dev, const node_call_t *c, uint64_t *tot, uint64_t *epoch)
{
    if (c->rc != 0 || c->status != 200 || json_u64(c, "repl_passes") == 0)
        return json_pack("{s:s, s:s, s:s}", "addr", dev->addr, "name", dev->name, "error",
                         c->rc ? admin_strerror(c->rc) : c->status != 200 ? "unexpected status" : "no replication pass yet");
    *epoch = json_u64(c, "repl_ring_epoch");
    json_t *j = json_pack("{s:s, s:s, s:I}", "addr", dev->addr, "name", dev->name, "ring_epoch", (json_int_t)*epoch);
    for (size_t i = 0; j && i < NMOVE; i++) {
        uint64_t v = json_u64(c, move_fields[i][1]);
        tot[i] += v;
        json_object_set_new(j, move_fields[i][0], json_integer((json_int_t)v));
    }
    return j;
}

/* Prints each device's move figures and the totals; returns the exit code (1: a device did not
 * answer, or runs without replication). */
static int rebalance_report(const admin_opts_t *o, const ring_t *ring, const node_call_t *calls, size_t n)
{
    uint64_t tot[NMOVE] = {0}, behind = 0;
    json_t *devs = json_array(), *total;
    int ret = 0;
    for (size_t d = 0; devs && d < n; d++) {
        const ring_dev_t *dev = ring_dev_at(ring, d);
        uint64_t epoch = 0;
        json_t *j = rebalance_dev(dev, &calls[d], tot, &epoch);
        if (json_object_get(j, "error") != NULL) {
            ret = 1;
            if (!o->json)
                printf("%s/%s %s\n", dev->addr, dev->name, json_string_value(json_object_get(j, "error")));
        } else {
            behind += epoch < ring_epoch(ring);
            if (!o->json)
                printf("%s/%s", dev->addr, dev->name), admin_print_fields(j, "=", 2);
        }
        json_array_append_new(devs, j);
    }
    total = json_pack("{s:I, s:I}", "ring_epoch", (json_int_t)ring_epoch(ring), "devices_behind", (json_int_t)behind);
    for (size_t i = 0; total && i < NMOVE - 1; i++)
        json_object_set_new(total, move_fields[i][0], json_integer((json_int_t)tot[i]));
    int done = ret == 0 && behind == 0 && tot[0] == 0;
    json_object_set_new(total, "done", json_string(done ? "yes" : "no"));
    if (o->watch && !done) {
        admin_progress(o, "rebalance: moved items", tot[2], tot[0] + tot[2]);
        json_decref(devs);
        json_decref(total);
        return ADMIN_AGAIN;
    }
    admin_progress_end(o);
    if (o->json) {
        int rc = admin_json_print(json_pack("{s:o, s:o}", "devices", devs, "total", total));
        return rc ? rc : ret;
    }
    printf("total"), admin_print_fields(total, "=", 0);
    json_decref(devs);
    json_decref(total);
    return ret;
}

int admin_rebalance(const admin_opts_t *o, int argc, char **argv)
{
    return admin_watch(o, "rebalance", "/stat", rebalance_report, argc, argv);
}
