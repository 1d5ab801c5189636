/*
 * onggi-gateway: the S3 and Swift gateway process (see docs/operations.md).
 *
 *   onggi-gateway --ring FILE --listen IP:PORT [--keys FILE] [--domain D] [--website-domain D] [--region R]
 *                 [--workers N] [--workers-max N]
 *                 [--chunk-size BYTES] [--quota-cache-ms MS] [--access-log] [--sse-c-plain-http]
 *                 [--max-conns N] [--max-conns-per-ip N] [--account-workers N] [--max-queue N]
 *                 [--tls-listen IP:PORT --tls-cert FILE --tls-key FILE [--tls-cert FILE --tls-key FILE]...]
 *                 [--metrics-listen IP:PORT] [--log-level error|warn|info|debug]
 *                 [--purge-url URL]... [--purge-webhook URL]...
 *   onggi-gateway --config FILE [any option above, which then wins over the file]
 *
 * Every option is also a key of the [gateway] section of a --config file (ring and keys also of
 * [cluster]): common/og_conf.h, docs/operations.md "Configuration". At most 32 certificate pairs.
 *
 * /health/live, /health/ready and /metrics answer anonymous GETs without a query on the main
 * ports (http_ops_wants); with --metrics-listen, /metrics moves to that port of its own and the
 * main ports keep only the health checks (docs/operations.md, "Metrics").
 *
 * --chunk-size is the AVERAGE content-defined chunk size (a power of two, 16 KiB..4 MiB; chunks
 * then range from a quarter to four times it). Default 32 KiB; every gateway of a cluster should
 * use the same value, or equal data uploaded through two of them is not deduplicated.
 *
 * --workers N threads always run handlers; up to --workers-max (default 4096) run when requests
 * wait for one (http_server_conf_t.workers_max; docs/architecture.md, "Threads").
 *
 * --quota-cache-ms (default 1000, 0..60000) is how long the quota check reuses the quotas and usage
 * it read (cluster_set_memo_ttl; docs/architecture.md, "Quotas").
 *
 * --tls-listen serves the same S3 and Swift over HTTPS on a second port (plain HTTP stays on
 * --listen). Each --tls-cert (PEM chain) pairs with the --tls-key given in the same position; the
 * first pair is the default and SNI picks another whose certificate names the host. SIGHUP reloads
 * the certificate files: new handshakes use them, open connections are untouched, and a pair that
 * fails to load keeps the old certificates (the error is logged).
 *
 * The connection and fair-share limits are http_server_conf_t's (docs/operations.md, "Gateway
 * limits"); 0 or absent means the default. The process raises its open-file limit to the hard
 * limit, and lowers --max-conns to what that limit leaves after FD_RESERVE.
 *
 * --purge-url (Varnish-style PURGE of both URL forms) and --purge-webhook (a POSTed JSON event)
 * name caches told when an object of a public container changes (cluster_purge_start;
 * docs/operations.md "Behind a CDN").
 *
 * SIGINT/SIGTERM stop the server, which finishes in-flight requests; then the process exits 0.
 * SIGHUP reloads the ring file, and so does a change of the file itself (checked every second):
 * a ring with a higher epoch is used from the next request on (docs/operations.md, "Changing the
 * ring"). Signals are taken by a dedicated thread with sigtimedwait() rather than by a handler,
 * so no global has to carry the server pointer and every other thread has them blocked.
 */
#include <errno.h>
#include <inttypes.h>
#include <malloc.h>
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <sys/resource.h>

#include <libxml/parser.h>

#include "og_conf.h"
#include "cluster/cluster.h"
#include "console/console.h"
#include "http/http.h"
#include "iam/iam.h"
#include "s3/s3.h"
#include "swift/swift.h"

/* Per node operation; a 4 MiB batch of chunks written with fsync fits comfortably. */
#define CLUSTER_TIMEOUT_MS 10000
/* Blocks at least this big get their own mapping, returned to the kernel on free (see main). */
#define MALLOC_MMAP_THRESHOLD (128u << 10)
/* Free space an arena keeps at its top before free() hands it back to the kernel (see main). */
#define MALLOC_TRIM_THRESHOLD (1u << 20)
/* Descriptors kept for what is not a client connection: connections to the storage nodes (a few
 * per core worker; one per worker beyond the core, which mostly waits for its client's body and
 * holds node connections only while it sends a batch; the pool's idle ones, at most
 * NODE_IDLE_TOTAL_MAX = 768, within the 1024), the ring, logs, the event loop's own. */
#define FD_RESERVE(workers, workers_max) (1024 + 4 * (workers) + ((workers_max) - (workers)))

/* SigV4 signing keys the S3 front end keeps (one per access key, day and region in use; ~330 bytes
 * each): a busy
 * key is derived about once a day; more keys in use than slots only means more derivations. */
#define GW_SIGV4_KEYS 1024

/* The connection and fair-share limits (http_server_conf_t; 0 = its default). */
typedef struct {
    size_t max_conns, max_conns_per_ip, account_workers, max_queue;
} limits_t;

typedef struct {
    const char *ring, *keys, *listen, *domain, *region;
    const char *website_domain; /* the S3 website endpoint's domain, or NULL */
    size_t workers, workers_max, chunk_size, quota_cache_ms;
    int access_log, sse_c_plain_http;
    const char *tls_listen;
    og_conf_list_t tls_certs, tls_keys;
    limits_t lim;
    const char *metrics_listen; /* NULL: /metrics on the main ports */
    const char *log_level;      /* --log-level, parsed into log.level */
    og_log_t log;
    og_conf_list_t purge_urls, purge_hooks; /* caches told of changed public objects */
} opts_t;

typedef struct {
    http_server_t *srv;
    http_tls_t *tls; /* NULL without --tls-listen */
    sigset_t set;
    cluster_t *cl;
    const char *ring_path;
    struct stat ring_st; /* the ring file when last loaded */
    const og_log_t *log;
} sigwaiter_t;

#define OPT(name, type, field, min, max, arg, flags) {name, type, offsetof(opts_t, field), min, max, arg, flags}
/* Every option, for the command line (--NAME) and the [gateway] section of --config (NAME =). */
static const og_conf_opt_t gw_opts[] = {
    OPT("ring", OG_CONF_STR, ring, 0, 0, "FILE", OG_CONF_CLUSTER | OG_CONF_REQUIRED),
    OPT("listen", OG_CONF_STR, listen, 0, 0, "IP:PORT", OG_CONF_REQUIRED),
    OPT("keys", OG_CONF_STR, keys, 0, 0, "FILE", OG_CONF_CLUSTER),
    OPT("domain", OG_CONF_STR, domain, 0, 0, "DOMAIN", 0),
    OPT("website-domain", OG_CONF_STR, website_domain, 0, 0, "DOMAIN", 0),
    OPT("region", OG_CONF_STR, region, 0, 0, "REGION", 0),
    OPT("workers", OG_CONF_SIZE, workers, 0, 4096, "N", 0),
    OPT("workers-max", OG_CONF_SIZE, workers_max, 0, 16384, "N", 0),
    OPT("chunk-size", OG_CONF_SIZE, chunk_size, 0, UINT32_MAX, "BYTES", 0), /* checked by cluster_set_chunking */
    OPT("quota-cache-ms", OG_CONF_SIZE, quota_cache_ms, 0, 60000, "MS", 0),
    OPT("access-log", OG_CONF_FLAG, access_log, 0, 0, NULL, 0),
    OPT("sse-c-plain-http", OG_CONF_FLAG, sse_c_plain_http, 0, 0, NULL, 0),
    OPT("max-conns", OG_CONF_SIZE, lim.max_conns, 0, 1000000, "N", 0),
    OPT("max-conns-per-ip", OG_CONF_SIZE, lim.max_conns_per_ip, 0, 1000000, "N", 0),
    OPT("account-workers", OG_CONF_SIZE, lim.account_workers, 0, 1000000, "N", 0),
    OPT("max-queue", OG_CONF_SIZE, lim.max_queue, 0, 1000000, "N", 0),
    OPT("tls-listen", OG_CONF_STR, tls_listen, 0, 0, "IP:PORT", 0),
    OPT("tls-cert", OG_CONF_LIST, tls_certs, 0, 0, "FILE", 0),
    OPT("tls-key", OG_CONF_LIST, tls_keys, 0, 0, "FILE", 0),
    OPT("metrics-listen", OG_CONF_STR, metrics_listen, 0, 0, "IP:PORT", 0),
    OPT("log-level", OG_CONF_STR, log_level, 0, 0, "error|warn|info|debug", 0),
    OPT("purge-url", OG_CONF_LIST, purge_urls, 0, 0, "URL", 0),
    OPT("purge-webhook", OG_CONF_LIST, purge_hooks, 0, 0, "URL", 0),
};
static const og_conf_spec_t gw_spec = {"onggi-gateway", "gateway", gw_opts, sizeof(gw_opts) / sizeof(gw_opts[0]),
                                       0, NULL, NULL};

/* The options from --config and the command line into *o (strings may point into *conf). 0, or the
 * exit status after saying why (1: the file cannot be read, 2: a usage error), or -1 after --help
 * printed the usage (exit 0). */
static int parse_opts(int argc, char **argv, opts_t *o, og_conf_t **conf)
{
    int next;
    *o = (opts_t){.region = "us-east-1",
                  .chunk_size = CLUSTER_CDC_AVG,
                  .quota_cache_ms = CLUSTER_MEMO_TTL_MS,
                  .log = {"onggi-gateway", OG_LOG_INFO}};
    int rc = og_conf_main(&gw_spec, NULL, argc, argv, o, conf, &next);
    if (rc != 0)
        return rc == 1 ? -1 : rc - 1;
    if (o->log_level != NULL && og_log_level_parse(o->log_level, &o->log.level) != 0) {
        fprintf(stderr, "onggi-gateway: bad --log-level %s\n", o->log_level);
        goto bad;
    }
    if (o->region[0] == '\0') {
        fprintf(stderr, "onggi-gateway: --region must not be empty\n");
        goto bad;
    }
    /* Certificates without a TLS listener (or the reverse) would be a silently ignored request. */
    if (o->tls_certs.n != o->tls_keys.n || (o->tls_listen != NULL) != (o->tls_certs.n > 0)) {
        fprintf(stderr, "onggi-gateway: --tls-listen needs as many --tls-cert as --tls-key, and they need it\n");
        goto bad;
    }
    if (o->domain != NULL && o->domain[0] == '\0')
        o->domain = NULL;
    if (o->website_domain != NULL && o->website_domain[0] == '\0')
        o->website_domain = NULL;
    return 0;
bad:
    og_conf_usage(&gw_spec, NULL, stderr);
    og_conf_free(*conf);
    *conf = NULL;
    return 2;
}

/* What the HTTP handler needs: both protocol contexts (one namespace, two APIs), the console and
 * the operator endpoints. */
typedef struct {
    s3_ctx_t *s3;
    swift_t *swift;
    console_t *console;
    http_ops_t ops;
} front_t;

/* The APIs the request metrics count, in the order of s3_ctx_t/swift_t.api_index. */
enum { API_S3, API_SWIFT, API_COUNT };

/* What the operator endpoints need of the process: the cluster, the log, and the readiness last
 * reported (-1 none yet), so that a change is logged once. */
typedef struct {
    cluster_t *cl;
    const og_log_t *log;
    atomic_int last_ready;
} gw_ops_ctx_t;

/* http_ops_t.ready: a write quorum for the buckets table (cluster_ready); changes are logged. */
static int gw_ready(void *ctx, og_buf_t *why)
{
    gw_ops_ctx_t *g = ctx;
    char w[160];
    int ready = cluster_ready(g->cl, w, sizeof(w));
    og_buf_puts(why, w);
    og_log(g->log, OG_LOG_DEBUG, "/health/ready: %s: %s", ready ? "ready" : "not ready", w);
    if (atomic_exchange(&g->last_ready, ready) != ready)
        og_log(g->log, ready ? OG_LOG_INFO : OG_LOG_WARN, "%s: %s", ready ? "ready" : "not ready", w);
    return ready;
}

/* http_ops_t.more: the cluster's families. */
static void gw_more_metrics(void *ctx, og_buf_t *b)
{
    gw_ops_ctx_t *g = ctx;
    cluster_metrics_format(g->cl, b);
}

/* The 503 for a request no worker can take: in the protocol dispatch() would pick. */
static og_str_t busy_body(const http_reqinfo_t *info, void *ctx, const char **content_type)
{
    front_t *f = ctx;
    return swift_wants(info) ? swift_busy_body(info, f->swift, content_type) : s3_busy_body(info, f->s3, content_type);
}

/* The core of worker threads: --workers, or the default when 0. */
static size_t workers_core(size_t workers)
{
    return workers != 0 ? workers : HTTP_DEFAULT_WORKERS;
}

/* The most worker threads the server may run: --workers-max, never below --workers (0 = defaults). */
static size_t workers_ceiling(size_t workers, size_t workers_max)
{
    workers = workers_core(workers);
    workers_max = workers_max != 0 ? workers_max : HTTP_DEFAULT_WORKERS_MAX;
    return workers_max > workers ? workers_max : workers;
}

/* Raises the open-file limit to its hard limit (10,000 idle clients need as many descriptors) and
 * fits max_conns (0 = the server's default) under it. The limit to use. */
static size_t fit_max_conns(size_t max_conns, size_t workers, size_t workers_max)
{
    struct rlimit rl;
    size_t want = max_conns != 0 ? max_conns : HTTP_DEFAULT_MAX_CONNS;
    size_t reserve = FD_RESERVE(workers_core(workers), workers_ceiling(workers, workers_max));
    if (getrlimit(RLIMIT_NOFILE, &rl) != 0)
        return max_conns;
    if (rl.rlim_cur < rl.rlim_max) {
        rl.rlim_cur = rl.rlim_max;
        if (setrlimit(RLIMIT_NOFILE, &rl) != 0)
            getrlimit(RLIMIT_NOFILE, &rl);
    }
    if (rl.rlim_cur == RLIM_INFINITY || rl.rlim_cur >= want + reserve)
        return max_conns;
    size_t fit = rl.rlim_cur > reserve + 64 ? (size_t)rl.rlim_cur - reserve : 64;
    fprintf(stderr, "onggi-gateway: open-file limit %llu: --max-conns lowered from %zu to %zu\n",
            (unsigned long long)rl.rlim_cur, want, fit);
    return fit;
}

/* A website request (its Host, whatever its path) goes to S3, the web console's /_console/... (a
 * path no bucket can take) to the console, Swift's paths (/auth/v1.0, /v1/..., unsigned /info) to
 * Swift, everything else to S3. */
static void dispatch(http_req_t *http, void *ctx)
{
    front_t *f = ctx;
    if (http_ops_wants(&f->ops, http_req_info(http)))
        http_ops_handle(http, &f->ops);
    else if (s3_website_wants(f->s3, http))
        s3_website_handle(http, f->s3);
    else if (console_wants(http_req_info(http)))
        console_handle(http, f->console);
    else if (swift_wants(http_req_info(http)))
        swift_handle(http, f->swift);
    else
        s3_handle(http, f->s3);
}

/* SIGHUP: reload the TLS certificates, logging the outcome; the old ones stay on failure. */
static void tls_reload(http_tls_t *tls)
{
    char err[512];
    if (tls == NULL) {
        fprintf(stderr, "onggi-gateway: SIGHUP: no TLS certificates to reload\n");
        return;
    }
    int rc = http_tls_reload(tls, err, sizeof(err));
    if (rc == 0)
        fprintf(stderr, "onggi-gateway: SIGHUP: TLS certificates reloaded\n");
    else
        fprintf(stderr, "onggi-gateway: SIGHUP: TLS reload failed, keeping the old certificates: %s\n", err);
}

/* Reloads the ring when forced (SIGHUP) or when its file changed since the last load, and says
 * what happened. A file being replaced (onggi-ring renames over it) is either the old one or the
 * new one, never a torn mix. */
static void ring_check(sigwaiter_t *w, int forced)
{
    struct stat st;
    if (stat(w->ring_path, &st) != 0)
        return;
    if (!forced && st.st_ino == w->ring_st.st_ino && st.st_size == w->ring_st.st_size &&
        st.st_mtim.tv_sec == w->ring_st.st_mtim.tv_sec && st.st_mtim.tv_nsec == w->ring_st.st_mtim.tv_nsec)
        return;
    w->ring_st = st;
    int rc = cluster_ring_reload(w->cl, w->ring_path);
    if (rc == 0)
        og_log(w->log, OG_LOG_INFO, "ring %s: now using epoch %" PRIu64, w->ring_path, cluster_ring_epoch(w->cl));
    else if (rc != OG_EEXIST)
        og_log(w->log, OG_LOG_WARN, "ring %s not used (%s); keeping epoch %" PRIu64, w->ring_path, og_strerror(rc),
               cluster_ring_epoch(w->cl));
    else
        og_log(w->log, OG_LOG_DEBUG, "ring %s: unchanged (epoch %" PRIu64 ")", w->ring_path, cluster_ring_epoch(w->cl));
}

static void *sigwait_main(void *arg)
{
    sigwaiter_t *w = arg;
    const struct timespec tick = {1, 0};
    for (;;) {
        int sig = sigtimedwait(&w->set, NULL, &tick);
        if (sig == SIGHUP) {
            tls_reload(w->tls);
            ring_check(w, 1);
        } else if (sig < 0 && errno == EAGAIN) {
            ring_check(w, 0);
        } else if (sig > 0) {
            break;
        }
    }
    http_server_stop(w->srv);
    return NULL;
}

/* Process-wide setup, before any thread exists. Memory: glibc's mmap threshold starts at 128 KiB
 * but rises to the size of any mapped block that is freed (up to 32 MiB), so after the first large
 * request the multi-MB blocks of later ones (records and chunk lists of large
 * objects: 7 MB for 5 GiB) come from the workers' malloc arenas (up to 8 per core), which keep the
 * pages after free. A long-lived gateway grew from ~40 to 362 MiB that way over a few 5 GiB steps.
 * A fixed threshold (setting it also turns the adaptation off) keeps big blocks mapped, so RSS
 * falls back after each request (measured: docs/architecture.md, "Gateway memory"). The hot
 * data-path buffers come from the cluster room's pool and are unaffected. Fixing the mmap threshold
 * also fixes the trim threshold at its 128 KiB default, and then almost every request's free()
 * trimmed a worker arena's top (madvise, TLB shootdowns across the worker threads) and the next
 * request faulted the pages back: a 4 KiB GET cost ~30 % more gateway CPU. 1 MiB kept per arena
 * (at most 8 per core) ends that churn and bounds what idle arenas hold. Best effort: sanitizer builds
 * replace malloc and ignore mallopt. The futex hash gets a slot per thread the server may run
 * (og_futex_hash_reserve; best effort: older kernels share one table sized for the machine). Also
 * here: libxml2's global state is set up once, and the signal mask (SIGINT, SIGTERM and SIGHUP into
 * *set, blocked) is inherited by every thread created later (workers, the event loop). */
static void process_init(sigset_t *set, size_t threads)
{
    mallopt(M_MMAP_THRESHOLD, MALLOC_MMAP_THRESHOLD);
    mallopt(M_TRIM_THRESHOLD, MALLOC_TRIM_THRESHOLD);
    (void)og_futex_hash_reserve(threads);
    xmlInitParser();
    sigemptyset(set);
    sigaddset(set, SIGINT);
    sigaddset(set, SIGTERM);
    sigaddset(set, SIGHUP);
    pthread_sigmask(SIG_BLOCK, set, NULL);
    signal(SIGPIPE, SIG_IGN);
}

/* IAM on cl with the secrets of o's key file. 0, or 1 after saying why. */
static int iam_open_keys(const opts_t *o, cluster_t *cl, iam_t **iam)
{
    og_keys_t keys;
    int rc = og_keys_load_for(o->keys, o->ring, &keys);
    if (rc != 0)
        fprintf(stderr, "onggi-gateway: cannot load the cluster key file (--keys): %s\n", og_strerror(rc));
    else if ((rc = iam_open(cl, &keys, iam)) != 0)
        fprintf(stderr, "onggi-gateway: cannot set up IAM (a `secrets` key is needed): %s\n", og_strerror(rc));
    og_keys_wipe(&keys);
    return rc != 0;
}

/* With --purge-url or --purge-webhook, the thread that tells those caches of changed public
 * objects (cluster_purge_start). 0 or an error, said. */
static int purge_start(const opts_t *o, cluster_t *cl)
{
    cluster_purge_conf_t pc = {.urls = o->purge_urls.v, .nurls = o->purge_urls.n, .hooks = o->purge_hooks.v,
                               .nhooks = o->purge_hooks.n, .is_public = iam_bucket_public, .ctx = cl};
    int rc = pc.nurls + pc.nhooks == 0 ? 0 : cluster_purge_start(cl, &pc);
    if (rc != 0)
        fprintf(stderr, "onggi-gateway: --purge-url/--purge-webhook: %s\n",
                rc == OG_EINVAL ? "not an http://HOST[:PORT][/PATH] URL" : og_strerror(rc));
    return rc;
}

/* Opens the cluster with o's chunk size and IAM on it. 0, or the exit status (2 for a bad
 * --chunk-size, else 1) with nothing left open; the caller closes *iam and *cl. */
static int backends_open(const opts_t *o, cluster_t **cl, iam_t **iam)
{
    int rc, status = 1;
    if ((rc = cluster_open(o->ring, o->keys, CLUSTER_TIMEOUT_MS, cl)) != 0) {
        fprintf(stderr, "onggi-gateway: cannot open ring %s (keys %s%s): %s\n", o->ring, o->keys ? o->keys : o->ring,
                o->keys ? "" : ".keys", og_strerror(rc));
        return status;
    }
    if (cluster_set_chunking(*cl, (uint32_t)o->chunk_size) != 0) {
        fprintf(stderr, "onggi-gateway: --chunk-size must be a power of two from 16384 to 4194304\n");
        status = 2;
        goto out_close_cluster;
    }
    cluster_set_memo_ttl(*cl, (uint32_t)o->quota_cache_ms);
    if ((rc = iam_open_keys(o, *cl, iam)) != 0)
        goto out_close_cluster;
    /* frozen nodes are found before requests wait for them: a CDN gets its 503 at once */
    if ((rc = cluster_watch_start(*cl)) != 0) {
        fprintf(stderr, "onggi-gateway: cannot start the node watcher: %s\n", og_strerror(rc));
        iam_close(*iam);
        *iam = NULL;
        goto out_close_cluster;
    }
    if ((rc = purge_start(o, *cl)) != 0) {
        status = rc == OG_EINVAL ? 2 : 1;
        iam_close(*iam);
        *iam = NULL;
        goto out_close_cluster;
    }
    return 0;

out_close_cluster:
    cluster_close(*cl);
    *cl = NULL;
    return status;
}

/* Serves S3 and Swift on `listen` (and HTTPS on tls_listen with w->tls when that is set) until
 * SIGINT or SIGTERM in w->set (taken by a thread of its own) or a server error. The exit status:
 * 0 after a signal, 1 on an error. */
static int serve(const opts_t *o, const og_addr_t *listen, const og_addr_t *tls_listen, cluster_t *cl, iam_t *iam,
                 sigwaiter_t *w, http_metrics_t *metrics)
{
    http_server_t *srv = NULL;
    http_ops_listener_t *opsl = NULL;
    pthread_t sig_thread;
    int rc;

    s3_ctx_t gw = {.cluster = cl, .iam = iam, .domain = o->domain, .website_domain = o->website_domain, .region = o->region, .access_log = o->access_log,
                   .api_index = API_S3, .sse_c_plain_http = o->sse_c_plain_http};
    if (auth_keycache_new(GW_SIGV4_KEYS, &gw.sigv4_keys) != 0) {
        og_log(&o->log, OG_LOG_ERROR, "out of memory");
        return 1;
    }
    swift_t swift;
    swift_init(&swift, cl, iam, 0, o->access_log);
    swift.api_index = API_SWIFT;
    gw_ops_ctx_t opsctx = {.cl = cl, .log = &o->log};
    atomic_init(&opsctx.last_ready, -1);
    console_t console = {.cluster = cl, .iam = iam, .region = o->region, .access_log = o->access_log};
    front_t front = {&gw, &swift, &console,
                     {.metrics = metrics, .metrics_here = o->metrics_listen == NULL, .ready = gw_ready,
                      .more = gw_more_metrics, .ctx = &opsctx}};
    http_server_conf_t conf = {.host = listen->host,
                               .port = listen->port,
                               .workers = o->workers,
                               .workers_max = o->workers_max,
                               .max_conns = fit_max_conns(o->lim.max_conns, o->workers, o->workers_max),
                               .max_conns_per_ip = o->lim.max_conns_per_ip,
                               .account_workers = o->lim.account_workers,
                               .max_queue = o->lim.max_queue,
                               .busy = busy_body,
                               .handler = dispatch,
                               .ctx = &front,
                               .metrics = metrics};
    if (w->tls != NULL) {
        conf.tls = w->tls;
        conf.tls_host = tls_listen->host;
        conf.tls_port = tls_listen->port;
    }
    if ((rc = http_server_new(&conf, &srv)) != 0) {
        fprintf(stderr, "onggi-gateway: cannot listen on %s%s%s: %s\n", o->listen, w->tls != NULL ? " or " : "",
                w->tls != NULL ? o->tls_listen : "", og_strerror(rc));
        return 1;
    }
    w->srv = srv;
    front.ops.srv = srv;
    if (o->metrics_listen != NULL && (rc = http_ops_listen(o->metrics_listen, &front.ops, &opsl)) != 0) {
        og_log(&o->log, OG_LOG_ERROR, "cannot listen on --metrics-listen %s: %s", o->metrics_listen, og_strerror(rc));
        rc = 1;
        goto out_free_server;
    }
    if ((rc = pthread_create(&sig_thread, NULL, sigwait_main, w)) != 0) {
        fprintf(stderr, "onggi-gateway: cannot start the signal thread: %s\n", strerror(rc));
        rc = 1;
        goto out_free_server;
    }
    og_log(&o->log, OG_LOG_INFO, "listening on %s:%u (region %s, average chunk size %zu)", listen->host,
           (unsigned)http_server_port(srv), o->region, o->chunk_size);
    if (w->tls != NULL)
        og_log(&o->log, OG_LOG_INFO, "listening for https on %s:%u (%zu certificate%s)", tls_listen->host,
               (unsigned)http_server_tls_port(srv), o->tls_certs.n, o->tls_certs.n == 1 ? "" : "s");
    if (opsl != NULL)
        og_log(&o->log, OG_LOG_INFO, "metrics and health on %s (port %u)", o->metrics_listen,
               (unsigned)http_ops_port(opsl));
    rc = http_server_run(srv);
    if (rc != 0)
        og_log(&o->log, OG_LOG_ERROR, "server stopped: %s", og_strerror(rc));
    /* If the server ended on its own, wake the signal thread so it can be joined. */
    pthread_kill(sig_thread, SIGTERM);
    pthread_join(sig_thread, NULL);
    rc = rc == 0 ? 0 : 1;
out_free_server:
    http_ops_close(opsl);
    http_server_free(srv);
    auth_keycache_free(gw.sigv4_keys);
    return rc;
}

/* Loads o's certificate pairs into *tls (NULL without --tls-listen). 0, or 2 (the exit status for
 * bad arguments) after saying what is wrong. */
static int tls_open(const opts_t *o, og_addr_t *tls_listen, http_tls_t **tls)
{
    char err[512];
    *tls = NULL;
    if (o->tls_listen == NULL)
        return 0;
    if (og_addr_parse(o->tls_listen, tls_listen) != 0) {
        fprintf(stderr, "onggi-gateway: bad --tls-listen %s (want IP:PORT)\n", o->tls_listen);
        return 2;
    }
    if (http_tls_new(o->tls_certs.v, o->tls_keys.v, o->tls_certs.n, tls, err, sizeof(err)) != 0) {
        fprintf(stderr, "onggi-gateway: TLS: %s\n", err);
        return 2;
    }
    return 0;
}

int main(int argc, char **argv)
{
    opts_t o;
    og_addr_t listen, tls_listen;
    cluster_t *cl = NULL;
    iam_t *iam = NULL;
    http_metrics_t *metrics = NULL;
    sigwaiter_t w;
    og_conf_t *conf;
    int status;
    const http_api_t apis[API_COUNT] = {[API_S3] = s3_http_api, [API_SWIFT] = swift_http_api};

    if ((status = parse_opts(argc, argv, &o, &conf)) != 0)
        return status < 0 ? 0 : status;
    if (og_addr_parse(o.listen, &listen) != 0) {
        fprintf(stderr, "onggi-gateway: bad --listen %s (want IP:PORT)\n", o.listen);
        status = 2;
        goto out_free_conf;
    }
    if ((status = tls_open(&o, &tls_listen, &w.tls)) != 0)
        goto out_free_conf;
    process_init(&w.set, workers_ceiling(o.workers, o.workers_max));
    w.ring_path = o.ring;
    w.log = &o.log;
    stat(o.ring, &w.ring_st); /* before the load: a change in between is then seen as one */
    if ((status = backends_open(&o, &cl, &iam)) != 0)
        goto out_cleanup_xml;
    w.cl = cl;
    if (http_metrics_new(apis, API_COUNT, &metrics) != 0) {
        og_log(&o.log, OG_LOG_ERROR, "out of memory");
        status = 1;
    } else {
        status = serve(&o, &listen, &tls_listen, cl, iam, &w, metrics);
    }
    http_metrics_free(metrics);
    iam_close(iam);
    cluster_close(cl);
out_cleanup_xml:
    xmlCleanupParser();
    http_tls_free(w.tls);
out_free_conf:
    og_conf_free(conf);
    return status;
}
