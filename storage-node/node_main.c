/*
 * node_main.c: the onggi-node daemon.
 *
 *   onggi-node --ring FILE --listen IP:PORT --dir DIR [--keys FILE] [--threads N] [--repl-interval S]
 *              [--repl-items-rate N] [--repl-bytes-rate N] [--reclaim-age S]
 *              [--scrub-bytes-rate BYTES_PER_S] [--scrub-interval SECONDS]
 *              [--metrics-listen IP:PORT] [--log-level error|warn|info|debug]
 *   onggi-node --config FILE [any option above, which then wins over the file]
 *
 * Every option is also a key of the [node] section of a --config file (ring and keys also of
 * [cluster]): common/og_conf.h, docs/operations.md "Configuration".
 *
 * --metrics-listen serves /metrics (Prometheus text), /health/live and /health/ready (every
 * device writable) on a read-only port of its own (node_metrics.c; docs/operations.md,
 * "Metrics"): the node API wants signed requests, which scrapers and load balancers cannot make.
 *
 * Each device gets a scrubber thread (node_scrub.c) verifying every chunk and record at most
 * --scrub-bytes-rate bytes/s (default 20 MiB/s, 0 disables it), one pass at most every
 * --scrub-interval seconds (default 24 h).
 *
 * Only requests signed with a `node` key of the cluster key file (--keys, default RING.keys) are
 * served (docs/node-api.md, "Authentication"); the replicator signs with its first key. The node
 * binds --listen exactly, which must be a specific address (never 0.0.0.0 or ::): node ports
 * belong on the cluster's internal network only (docs/operations.md).
 *
 * Serves every ring device whose addr equals --listen; device NAME lives in DIR/NAME/
 * (created if missing). A replicator thread (node_repl.c) keeps the partitions' replicas whole:
 * a pass every --repl-interval seconds (default 30; 0 disables it, for tests only), at most
 * --repl-items-rate items (2000) and --repl-bytes-rate bytes (50 MiB) per second; tombstones
 * older than --reclaim-age seconds (7 days) are purged once every primary has them.
 * PUT /ring installs a newer ring without a restart (node_ring.c; saved over --ring first). The
 * devices served are the ones the ring named at start: a ring that drops one makes it a handoff
 * of everything it holds (drained by the replicator), a device added to this node's address is
 * served after a restart.
 * SIGINT/SIGTERM: stop the replicator, stop accepting, finish in-flight requests, close every
 * store (RocksDB), exit 0.
 */
#include "node_int.h"
#include "og_conf.h"
#include "og_metrics.h"
#include "ring.h"

#include <errno.h>
#include <pthread.h>
#include <signal.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#define DEFAULT_THREADS 256
#define DEFAULT_SCRUB_RATE (20ull << 20)
#define DEFAULT_SCRUB_INTERVAL_S (24ull * 3600)

typedef struct {
    const char *ring_path, *listen, *dir, *keys_path, *metrics_listen;
    const char *log_level; /* --log-level, parsed into log.level */
    og_log_t log;
    size_t threads;
    uint64_t scrub_interval_s;
    node_repl_opts_t repl;
    node_scrub_opts_t scrub;
} node_opts_t;

#define OPT(name, type, field, min, max, arg, flags) {name, type, offsetof(node_opts_t, field), min, max, arg, flags}
/* Every option, for the command line (--NAME) and the [node] section of --config (NAME =). */
static const og_conf_opt_t node_opts[] = {
    OPT("ring", OG_CONF_STR, ring_path, 0, 0, "FILE", OG_CONF_CLUSTER | OG_CONF_REQUIRED),
    OPT("listen", OG_CONF_STR, listen, 0, 0, "IP:PORT", OG_CONF_REQUIRED),
    OPT("dir", OG_CONF_STR, dir, 0, 0, "DIR", OG_CONF_REQUIRED),
    OPT("keys", OG_CONF_STR, keys_path, 0, 0, "FILE", OG_CONF_CLUSTER),
    OPT("threads", OG_CONF_SIZE, threads, 1, 100000, "N", 0),
    OPT("repl-interval", OG_CONF_NUM, repl.interval_s, 0, 86400, "S", 0),
    OPT("repl-items-rate", OG_CONF_U64, repl.items_rate, 1, 1e9, "N", 0),
    OPT("repl-bytes-rate", OG_CONF_U64, repl.bytes_rate, 1, 1e12, "N", 0),
    OPT("reclaim-age", OG_CONF_U64, repl.reclaim_age_s, 0, 1e9, "S", 0),
    OPT("scrub-bytes-rate", OG_CONF_U64, scrub.bytes_rate, 0, 1e12, "BYTES_PER_S", 0),
    OPT("scrub-interval", OG_CONF_U64, scrub_interval_s, 0, 1e9, "SECONDS", 0),
    OPT("metrics-listen", OG_CONF_STR, metrics_listen, 0, 0, "IP:PORT", 0),
    OPT("log-level", OG_CONF_STR, log_level, 0, 0, "error|warn|info|debug", 0),
};
static const og_conf_spec_t node_spec = {"onggi-node", "node", node_opts, sizeof(node_opts) / sizeof(node_opts[0]),
                                         0, NULL, NULL};

/* The options from --config and the command line into *o (strings may point into *conf); exits 2
 * with the usage on anything wrong, 1 when the file cannot be read, 0 after --help. */
static void parse_opts(int argc, char **argv, node_opts_t *o, og_conf_t **conf)
{
    int next;
    *o = (node_opts_t){.threads = DEFAULT_THREADS,
                       .scrub_interval_s = DEFAULT_SCRUB_INTERVAL_S,
                       .log = {"onggi-node", OG_LOG_INFO},
                       .repl = {.interval_s = NODE_REPL_INTERVAL_S, .items_rate = NODE_REPL_ITEMS_RATE,
                                .bytes_rate = NODE_REPL_BYTES_RATE, .reclaim_age_s = NODE_RECLAIM_AGE_S},
                       .scrub = {.bytes_rate = DEFAULT_SCRUB_RATE}};
    int rc = og_conf_main(&node_spec, NULL, argc, argv, o, conf, &next);
    if (rc != 0)
        exit(rc - 1);
    o->scrub.interval_ns = o->scrub_interval_s * 1000000000ull;
    if (o->log_level != NULL && og_log_level_parse(o->log_level, &o->log.level) != 0) {
        fprintf(stderr, "onggi-node: bad --log-level %s\n", o->log_level);
        og_conf_usage(&node_spec, NULL, stderr);
        exit(2);
    }
}

/* 1 when addr ("ip:port") binds every interface. */
static int listen_is_wildcard(const char *addr)
{
    og_addr_t a;
    if (og_addr_parse(addr, &a) != 0)
        return 0; /* node_server_start refuses it */
    return strcmp(a.host, "0.0.0.0") == 0 || strcmp(a.host, "::") == 0;
}

/* Opens the store of every ring device whose addr is `listen` under dir (created if missing) into
 * devs[] (room for every ring device), counted in *ndevs; device names are copied to names[] (a
 * ring installed later frees this one). 0, or -1 after saying why on stderr; the stores opened so
 * far stay in devs[0..*ndevs) for the caller to close. */
static int stores_open(const ring_t *ring, const char *listen, const char *dir, const node_scrub_opts_t *scrub,
                       node_dev_t *devs, char (*names)[RING_NAME_MAX], size_t *ndevs)
{
    int rc;
    if (mkdir(dir, 0755) != 0 && errno != EEXIST) {
        fprintf(stderr, "onggi-node: cannot create %s: %s\n", dir, strerror(errno));
        return -1;
    }
    for (size_t i = 0; i < ring_dev_count(ring); i++) {
        const ring_dev_t *d = ring_dev_at(ring, i);
        if (strcmp(d->addr, listen) != 0)
            continue;
        char path[4096];
        if ((size_t)snprintf(path, sizeof(path), "%s/%s", dir, d->name) >= sizeof(path)) {
            fprintf(stderr, "onggi-node: path too long for device %s\n", d->name);
            return -1;
        }
        if ((rc = node_store_open(path, ring_part_power(ring), &devs[*ndevs].store)) != 0) {
            fprintf(stderr, "onggi-node: cannot open device %s at %s: %s\n", d->name, path, og_strerror(rc));
            return -1;
        }
        strcpy(names[*ndevs], d->name);
        devs[*ndevs].name = names[*ndevs];
        if ((rc = node_scrub_start(devs[*ndevs].store, d->name, scrub, &devs[*ndevs].scrub)) != 0) {
            fprintf(stderr, "onggi-node: cannot start the scrubber of device %s: %s\n", d->name, og_strerror(rc));
            node_store_close(devs[*ndevs].store);
            return -1;
        }
        (*ndevs)++;
    }
    if (*ndevs == 0) {
        fprintf(stderr, "onggi-node: the ring has no device with addr %s\n", listen);
        return -1;
    }
    return 0;
}

/* Signals are taken synchronously by sigwait() in main's thread: blocked before any thread starts
 * so every thread inherits the mask. A peer closing mid-response must not kill the process. Also
 * before any thread: a futex hash slot per serving thread (og_futex_hash_reserve; best effort). */
static void process_init(sigset_t *sigs, size_t threads)
{
    (void)og_futex_hash_reserve(threads);
    sigemptyset(sigs);
    sigaddset(sigs, SIGINT);
    sigaddset(sigs, SIGTERM);
    pthread_sigmask(SIG_BLOCK, sigs, NULL);
    signal(SIGPIPE, SIG_IGN);
}

/* Refuses a wildcard --listen and loads the cluster key file into *keys. 0, or -1 after saying why. */
static int keys_load(const node_opts_t *o, og_keys_t *keys)
{
    int rc;
    if (listen_is_wildcard(o->listen)) {
        fprintf(stderr, "onggi-node: --listen %s is a wildcard address: give the node's own address on the cluster "
                        "network (docs/operations.md, \"Binding\")\n", o->listen);
        return -1;
    }
    if ((rc = og_keys_load_for(o->keys_path, o->ring_path, keys)) != 0) {
        fprintf(stderr, "onggi-node: cannot load the cluster keys (%s%s): %s\n",
                o->keys_path ? o->keys_path : o->ring_path, o->keys_path ? "" : ".keys", og_strerror(rc));
        return -1;
    }
    return 0;
}

/* Starts the --metrics-listen listener over devs[0..ndevs) (described in *m, which must outlive
 * it; none without the flag) and says where the node serves. 0, or -1 after saying why. */
static int metrics_open(const node_opts_t *o, const node_dev_t *devs, size_t ndevs, node_metrics_t *m,
                        og_opsd_t **opsd)
{
    int rc;
    *m = (node_metrics_t){devs, ndevs};
    if (o->metrics_listen != NULL && (rc = og_opsd_start(o->metrics_listen, node_metrics_answer, m, opsd)) != 0) {
        og_log(&o->log, OG_LOG_ERROR, "cannot listen on --metrics-listen %s: %s", o->metrics_listen, og_strerror(rc));
        return -1;
    }
    og_log(&o->log, OG_LOG_INFO, "serving %zu device(s) on %s", m->ndevs, o->listen);
    if (*opsd != NULL)
        og_log(&o->log, OG_LOG_INFO, "metrics and health on %s (port %u)", o->metrics_listen,
               (unsigned)og_opsd_port(*opsd));
    return 0;
}

int main(int argc, char **argv)
{
    node_opts_t o;
    int rc, status = 1;
    ring_t *ring = NULL;
    node_dev_t *devs = NULL;
    char(*names)[RING_NAME_MAX] = NULL;
    size_t ndevs = 0;
    node_server_t *srv = NULL;
    node_repl_stat_t *stats = NULL;
    node_repl_t *repl = NULL;
    ring_box_t *box = NULL;
    node_ring_t *live = NULL;
    og_opsd_t *opsd = NULL;
    node_metrics_t metrics;
    og_keys_t keys = {.num_node = 0};
    og_conf_t *conf = NULL;

    parse_opts(argc, argv, &o, &conf);
    sigset_t sigs;
    process_init(&sigs, o.threads);
    if (keys_load(&o, &keys) != 0)
        goto out;
    if ((rc = ring_load(o.ring_path, &ring)) != 0) {
        fprintf(stderr, "onggi-node: cannot load ring %s: %s\n", o.ring_path, og_strerror(rc));
        goto out;
    }
    size_t n = ring_dev_count(ring);
    devs = calloc(n ? n : 1, sizeof(*devs));
    names = calloc(n ? n : 1, sizeof(*names));
    stats = calloc(n ? n : 1, sizeof(*stats));
    if (!devs || !names || !stats) {
        fprintf(stderr, "onggi-node: out of memory\n");
        goto out_ring;
    }
    if (stores_open(ring, o.listen, o.dir, &o.scrub, devs, names, &ndevs) != 0)
        goto out_stores;
    rc = ring_box_new(ring, &box); /* owns the ring from here on, also on failure */
    ring = NULL;
    if (rc != 0 || (rc = node_ring_new(box, o.ring_path, &live)) != 0) {
        fprintf(stderr, "onggi-node: %s\n", og_strerror(rc));
        goto out_stores;
    }
    for (size_t i = 0; o.repl.interval_s > 0 && i < ndevs; i++)
        devs[i].repl = &stats[i];
    if ((rc = node_server_start(o.listen, &keys, devs, ndevs, live, o.threads, &srv)) != 0) {
        fprintf(stderr, "onggi-node: cannot listen on %s: %s\n", o.listen, og_strerror(rc));
        goto out_stores;
    }
    if (o.repl.interval_s > 0 &&
        (rc = node_repl_start(box, &keys, o.listen, devs, ndevs, stats, &o.repl, &repl)) != 0) {
        fprintf(stderr, "onggi-node: cannot start the replicator: %s\n", og_strerror(rc));
        goto out_server;
    }
    if (metrics_open(&o, devs, ndevs, &metrics, &opsd) != 0)
        goto out_repl;

    int sig;
    while (sigwait(&sigs, &sig) != 0)
        ;
    og_log(&o.log, OG_LOG_INFO, "signal %d, finishing in-flight requests", sig);
    status = 0;
    og_opsd_stop(opsd);
out_repl:
    node_repl_stop(repl);
out_server:
    node_server_stop(srv);
out_stores:
    for (size_t i = 0; i < ndevs; i++) {
        node_scrub_stop(devs[i].scrub);
        node_store_close(devs[i].store);
    }
    node_ring_free(live);
    ring_box_free(box);
    free(devs);
    free(names);
    free(stats);
out_ring:
    ring_free(ring);
out:
    og_keys_wipe(&keys);
    og_conf_free(conf);
    return status;
}
