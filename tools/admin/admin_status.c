/*
 * admin_status.c: onggi-admin status, the cluster at a glance, from one parallel round of signed
 * node calls: GET /ring of every node (up or down, the ring epoch it uses), GET /<dev>/stat of
 * every device (state, used/free/total bytes, counts) and GET /<dev>/summaries (the
 * under-replicated estimate of `onggi-admin replication`, admin_repl.c).
 *
 * Health is "ok" when every node answers and uses the ring file's epoch, every device is in state
 * ok, and no item is under-replicated (no partition unknown); otherwise "degraded" with the reasons.
 * The report is built as one JSON document; the text form is printed from it.
 */
#include "admin.h"
#include "node_client.h"
#include "ring.h"

#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

enum { PATH_LEN = 1 + RING_NAME_MAX + 16 };

typedef struct {
    const ring_t *ring;
    size_t ndev, nnode;
    const char **addrs; /* nnode distinct node addresses, in ring order */
    node_call_t *calls; /* [0,ndev) stat, [ndev,2ndev) summaries, [2ndev,2ndev+nnode) ring */
    char (*paths)[PATH_LEN];
} status_t;

/* The distinct node addresses of the ring into s->addrs (room for ndev). */
static void status_nodes(status_t *s)
{
    for (size_t i = 0; i < s->ndev; i++) {
        const char *addr = ring_dev_at(s->ring, i)->addr;
        size_t j = 0;
        while (j < s->nnode && strcmp(s->addrs[j], addr) != 0)
            j++;
        if (j == s->nnode)
            s->addrs[s->nnode++] = addr;
    }
}

/* Builds every call of the round (after status_nodes). */
static void status_calls(status_t *s)
{
    for (size_t i = 0; i < s->ndev; i++) {
        const ring_dev_t *d = ring_dev_at(s->ring, i);
        snprintf(s->paths[i], PATH_LEN, "/%s/stat", d->name);
        snprintf(s->paths[s->ndev + i], PATH_LEN, "/%s/summaries", d->name);
        s->calls[i] = (node_call_t){.addr = d->addr, .method = "GET", .path = s->paths[i]};
        s->calls[s->ndev + i] = (node_call_t){.addr = d->addr, .method = "GET", .path = s->paths[s->ndev + i]};
    }
    for (size_t j = 0; j < s->nnode; j++)
        s->calls[2 * s->ndev + j] = (node_call_t){.addr = s->addrs[j], .method = "GET", .path = "/ring"};
}

static int call_ok(const node_call_t *c)
{
    return c->rc == 0 && c->status == 200;
}

static const char *call_error(const node_call_t *c)
{
    return c->rc != 0 ? admin_strerror(c->rc) : "unexpected status";
}

/* Adds reason (copied) to the health's list. */
static void status_degraded(json_t *reasons, const char *fmt, const char *a, const char *b)
{
    char buf[256];
    snprintf(buf, sizeof(buf), fmt, a, b);
    json_array_append_new(reasons, json_string(buf));
}

/* The nodes: address, up, the ring epoch in use. */
static json_t *status_node_json(const status_t *s, json_t *reasons)
{
    json_t *nodes = json_array();
    for (size_t j = 0; nodes && j < s->nnode; j++) {
        const node_call_t *c = &s->calls[2 * s->ndev + j];
        ring_t *used = NULL;
        if (!call_ok(c) || ring_from_bytes(c->resp_body, c->resp_len, &used) != 0) {
            json_array_append_new(nodes, json_pack("{s:s, s:b, s:s}", "addr", s->addrs[j], "up", 0, "error",
                                                   call_ok(c) ? "bad ring" : call_error(c)));
            status_degraded(reasons, "node %s down (%s)", s->addrs[j], call_ok(c) ? "bad ring" : call_error(c));
            continue;
        }
        uint64_t epoch = ring_epoch(used);
        ring_free(used);
        json_array_append_new(nodes, json_pack("{s:s, s:b, s:I}", "addr", s->addrs[j], "up", 1, "ring_epoch",
                                               (json_int_t)epoch));
        if (epoch != ring_epoch(s->ring))
            status_degraded(reasons, "node %s uses another ring epoch%s", s->addrs[j], " (onggi-admin ring push)");
    }
    return nodes;
}

/* A number of a device's /stat answer (0 when absent). */
static json_int_t stat_num(json_t *st, const char *name)
{
    return json_integer_value(json_object_get(st, name));
}

/* The devices: state, used/free/total bytes of their file system, chunk and record counts. */
static json_t *status_dev_json(const status_t *s, json_t *reasons)
{
    json_t *devs = json_array();
    for (size_t i = 0; devs && i < s->ndev; i++) {
        const ring_dev_t *d = ring_dev_at(s->ring, i);
        const node_call_t *c = &s->calls[i];
        json_t *st = call_ok(c) && c->resp_body ? json_loadb(c->resp_body, c->resp_len, 0, NULL) : NULL;
        if (st == NULL) {
            json_array_append_new(devs, json_pack("{s:s, s:s, s:I, s:b, s:s}", "addr", d->addr, "name", d->name,
                                                  "zone", (json_int_t)d->zone, "up", 0, "error", call_error(c)));
            status_degraded(reasons, "device %s/%s unreachable", d->addr, d->name);
            continue;
        }
        const char *state = json_string_value(json_object_get(st, "state"));
        state = state ? state : "unknown";
        json_int_t total = stat_num(st, "total_bytes"), avail = stat_num(st, "free_bytes");
        json_array_append_new(
            devs, json_pack("{s:s, s:s, s:I, s:b, s:s, s:I, s:I, s:I, s:I, s:I, s:I}", "addr", d->addr, "name",
                            d->name, "zone", (json_int_t)d->zone, "up", 1, "state", state, "used_bytes",
                            total - avail, "free_bytes", avail, "total_bytes", total, "data_bytes",
                            stat_num(st, "allocated_bytes"), "chunks", stat_num(st, "chunks"), "records",
                            stat_num(st, "records")));
        if (strcmp(state, "ok") != 0)
            status_degraded(reasons, "device %s is %s", d->name, state);
        json_decref(st);
    }
    return devs;
}

/* The whole report. NULL when memory ran out. */
static json_t *status_json(const status_t *s)
{
    admin_dev_tally_t *t = calloc(s->ndev ? s->ndev : 1, sizeof(*t));
    admin_repl_total_t tot;
    json_t *reasons = json_array(), *j = NULL;
    if (t == NULL || reasons == NULL)
        goto out_free;
    admin_repl_tally(s->ring, s->calls + s->ndev, s->ndev, t, &tot);
    json_t *nodes = status_node_json(s, reasons), *devs = status_dev_json(s, reasons);
    if (tot.under > 0 || tot.unknown > 0)
        status_degraded(reasons, "%s%s", tot.under ? "items under-replicated" : "",
                        tot.unknown ? " partitions with an unreachable primary" : "");
    j = json_pack("{s:{s:I, s:I, s:I, s:I}, s:o, s:o, s:{s:I, s:I, s:I}, s:s, s:O}", "ring", "epoch",
                  (json_int_t)ring_epoch(s->ring), "partitions", (json_int_t)tot.parts, "replicas",
                  (json_int_t)ring_replica_count(s->ring), "devices", (json_int_t)s->ndev, "nodes", nodes, "devices",
                  devs, "replication", "under_replicated", (json_int_t)tot.under, "partitions_disagree",
                  (json_int_t)tot.disagree, "partitions_unknown", (json_int_t)tot.unknown, "health",
                  json_array_size(reasons) ? "degraded" : "ok", "problems", reasons);
out_free:
    json_decref(reasons);
    free(t);
    return j;
}

/* "1.5 GiB" */
static const char *human(json_int_t v, char *buf, size_t len)
{
    static const char *const unit[] = {"B", "KiB", "MiB", "GiB", "TiB", "PiB"};
    double d = (double)v;
    size_t u = 0;
    while (d >= 1024 && u + 1 < sizeof(unit) / sizeof(unit[0]))
        d /= 1024, u++;
    snprintf(buf, len, u ? "%.1f %s" : "%.0f %s", d, unit[u]);
    return buf;
}

/* The text form of the report. */
static void status_print(json_t *j)
{
    json_t *r = json_object_get(j, "ring"), *v, *repl = json_object_get(j, "replication");
    size_t i;
    char a[32], b[32], c[32];
    printf("ring epoch %" JSON_INTEGER_FORMAT ", %" JSON_INTEGER_FORMAT " partitions, %" JSON_INTEGER_FORMAT
           " replicas, %" JSON_INTEGER_FORMAT " devices\n",
           json_integer_value(json_object_get(r, "epoch")), json_integer_value(json_object_get(r, "partitions")),
           json_integer_value(json_object_get(r, "replicas")), json_integer_value(json_object_get(r, "devices")));
    json_array_foreach(json_object_get(j, "nodes"), i, v)
    {
        if (json_is_true(json_object_get(v, "up")))
            printf("node   %-22s up    ring epoch %" JSON_INTEGER_FORMAT "\n",
                   json_string_value(json_object_get(v, "addr")), json_integer_value(json_object_get(v, "ring_epoch")));
        else
            printf("node   %-22s DOWN  %s\n", json_string_value(json_object_get(v, "addr")),
                   json_string_value(json_object_get(v, "error")));
    }
    json_array_foreach(json_object_get(j, "devices"), i, v)
    {
        printf("device %-22s %-8s ", json_string_value(json_object_get(v, "addr")),
               json_string_value(json_object_get(v, "name")));
        if (!json_is_true(json_object_get(v, "up")))
            printf("DOWN  %s\n", json_string_value(json_object_get(v, "error")));
        else
            printf("%-6s used %s, free %s of %s, %" JSON_INTEGER_FORMAT " chunks, %" JSON_INTEGER_FORMAT " records\n",
                   json_string_value(json_object_get(v, "state")),
                   human(json_integer_value(json_object_get(v, "used_bytes")), a, sizeof(a)),
                   human(json_integer_value(json_object_get(v, "free_bytes")), b, sizeof(b)),
                   human(json_integer_value(json_object_get(v, "total_bytes")), c, sizeof(c)),
                   json_integer_value(json_object_get(v, "chunks")), json_integer_value(json_object_get(v, "records")));
    }
    printf("under-replicated items %" JSON_INTEGER_FORMAT " (partitions disagreeing %" JSON_INTEGER_FORMAT
           ", unknown %" JSON_INTEGER_FORMAT ")\n",
           json_integer_value(json_object_get(repl, "under_replicated")),
           json_integer_value(json_object_get(repl, "partitions_disagree")),
           json_integer_value(json_object_get(repl, "partitions_unknown")));
    printf("health %s\n", json_string_value(json_object_get(j, "health")));
    json_array_foreach(json_object_get(j, "problems"), i, v)
        printf("  %s\n", json_string_value(v));
}

/* Prints the report of s's finished round; the exit code. */
static int status_report(const admin_opts_t *a, const status_t *s)
{
    json_t *j = status_json(s);
    if (j == NULL)
        return admin_fail("status", -ENOMEM);
    int healthy = strcmp(json_string_value(json_object_get(j, "health")), "ok") == 0;
    if (a->json)
        return admin_json_print(j) ? 1 : !healthy;
    status_print(j);
    json_decref(j);
    return !healthy;
}

int admin_status(const admin_opts_t *a, int argc, char **argv)
{
    status_t s = {0};
    ring_t *ring = NULL;
    node_client_t *client = NULL;
    int rc, ret = 1;

    (void)argv;
    if (argc != 0)
        return admin_usage();
    if ((rc = ring_load(a->ring, &ring)) != 0)
        return admin_fail(a->ring, rc);
    s.ring = ring;
    s.ndev = ring_dev_count(ring);
    size_t cap = s.ndev ? s.ndev : 1;
    client = admin_client_new(a->ring, a->keys, 1);
    s.addrs = calloc(cap, sizeof(*s.addrs));
    s.calls = calloc(3 * cap, sizeof(*s.calls));
    s.paths = calloc(2 * cap, sizeof(*s.paths));
    if (!client || !s.addrs || !s.calls || !s.paths) {
        admin_fail("status", -ENOMEM);
        goto out_free;
    }
    status_nodes(&s);
    status_calls(&s);
    node_call_many(client, s.calls, 2 * s.ndev + s.nnode);
    ret = status_report(a, &s);
    for (size_t i = 0; i < 2 * s.ndev + s.nnode; i++)
        free(s.calls[i].resp_body);
out_free:
    free(s.paths);
    free(s.calls);
    free(s.addrs);
    node_client_free(client);
    ring_free(ring);
    return ret;
}
