/*
 * onggi-gateway: the S3 and Swift gateway process (see docs/operations.md).
 *
 *   onggi-gateway --ring FILE --listen IP:PORT [--domain D] [--region R] [--workers N]
 *                 [--chunk-size BYTES] [--access-log] [--keys FILE]
 *
 * --keys is the cluster key file (og_keys.h), default FILE.keys next to the ring.
 *
 * --chunk-size is the AVERAGE content-defined chunk size (a power of two, 16 KiB..4 MiB; chunks
 * then range from a quarter to four times it). Default 32 KiB; every gateway of a cluster should
 * use the same value, or equal data uploaded through two of them is not deduplicated.
 *
 * SIGINT/SIGTERM stop the server, which finishes in-flight requests; then the process exits 0.
 * Signals are taken by a dedicated thread with sigwait() rather than by a handler, so no
 * global has to carry the server pointer and every other thread has them blocked.
 */
#include <errno.h>
#include <inttypes.h>
#include <malloc.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <libxml/parser.h>

#include "cluster/cluster.h"
#include "http/http.h"
#include "iam/iam.h"
#include "s3/s3.h"
#include "swift/swift.h"

/* Per node operation; a 4 MiB batch of chunks written with fsync fits comfortably. */
#define CLUSTER_TIMEOUT_MS 10000
/* Blocks at least this big get their own mapping, returned to the kernel on free (see main). */
#define MALLOC_MMAP_THRESHOLD (128u << 10)

typedef struct {
    const char *ring, *listen, *domain, *region, *keys;
    size_t workers, chunk_size;
    int access_log;
} opts_t;

typedef struct {
    http_server_t *srv;
    sigset_t set;
} sigwaiter_t;

static void usage(void)
{
    fprintf(stderr, "usage: onggi-gateway --ring FILE --listen IP:PORT [--domain DOMAIN] [--region REGION]\n"
                    "                     [--workers N] [--chunk-size BYTES] [--access-log] [--keys FILE]\n");
}

static int parse_size(const char *s, size_t *out)
{
    char *end;
    errno = 0;
    unsigned long long v = strtoull(s, &end, 10);
    if (errno != 0 || end == s || *end != '\0' || s[0] == '-')
        return OG_EINVAL;
    *out = (size_t)v;
    return 0;
}

static int parse_opts(int argc, char **argv, opts_t *o)
{
    *o = (opts_t){.region = "us-east-1", .chunk_size = CLUSTER_CDC_AVG};
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i], *v = i + 1 < argc ? argv[i + 1] : NULL;
        if (strcmp(a, "--access-log") == 0) {
            o->access_log = 1;
            continue;
        }
        if (v == NULL)
            goto bad;
        if (strcmp(a, "--ring") == 0)
            o->ring = v;
        else if (strcmp(a, "--listen") == 0)
            o->listen = v;
        else if (strcmp(a, "--domain") == 0)
            o->domain = v;
        else if (strcmp(a, "--region") == 0)
            o->region = v;
        else if (strcmp(a, "--keys") == 0)
            o->keys = v;
        else if (strcmp(a, "--workers") == 0 && parse_size(v, &o->workers) == 0 && o->workers <= 4096)
            ;
        else if (strcmp(a, "--chunk-size") == 0 && parse_size(v, &o->chunk_size) == 0 && o->chunk_size <= UINT32_MAX)
            ; /* checked by cluster_set_chunking */
        else
            goto bad;
        i++;
    }
    if (o->ring == NULL || o->listen == NULL || o->region[0] == '\0')
        goto bad;
    if (o->domain != NULL && o->domain[0] == '\0')
        o->domain = NULL;
    return 0;
bad:
    usage();
    return OG_EINVAL;
}

/* What the HTTP handler needs: both protocol contexts (one namespace, two APIs). */
typedef struct {
    s3_ctx_t *s3;
    swift_t *swift;
} front_t;

/* Swift's paths (/auth/v1.0, /v1/..., unsigned /info) go to Swift, everything else to S3. */
static void dispatch(http_req_t *http, void *ctx)
{
    front_t *f = ctx;
    if (swift_wants(http_req_info(http)))
        swift_handle(http, f->swift);
    else
        s3_handle(http, f->s3);
}

static void *sigwait_main(void *arg)
{
    sigwaiter_t *w = arg;
    int sig;
    sigwait(&w->set, &sig);
    http_server_stop(w->srv);
    return NULL;
}

/* Process-wide setup, before any thread exists. Memory: glibc's mmap threshold starts at 128 KiB
 * but rises to the size of any mapped block that is freed (up to 32 MiB), so after the first large
 * request the multi-MB blocks of later ones (1 MiB body windows, records and chunk lists of large
 * objects: 7 MB for 5 GiB) come from the workers' malloc arenas (up to 8 per core), which keep the
 * pages after free. A long-lived gateway grew from ~40 to 362 MiB that way over a few 5 GiB steps.
 * A fixed threshold (setting it also turns the adaptation off) keeps big blocks mapped, so RSS
 * falls back after each request (measured: docs/architecture.md, "Gateway memory"). The hot
 * data-path buffers come from the cluster room's pool and are unaffected. Best effort: sanitizer builds
 * replace malloc and ignore mallopt. Also here: libxml2's global state is set up once, and the
 * signal mask (SIGINT and SIGTERM into *set, blocked) is inherited by every thread created later
 * (workers, the event loop). */
static void process_init(sigset_t *set)
{
    mallopt(M_MMAP_THRESHOLD, MALLOC_MMAP_THRESHOLD);
    xmlInitParser();
    sigemptyset(set);
    sigaddset(set, SIGINT);
    sigaddset(set, SIGTERM);
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

/* Opens the cluster with o's chunk size and IAM on it. 0, or the exit status (2 for a bad
 * --chunk-size, else 1) with nothing left open; the caller closes *iam and *cl. */
static int backends_open(const opts_t *o, cluster_t **cl, iam_t **iam)
{
    int rc, status = 1;
    if ((rc = cluster_open(o->ring, CLUSTER_TIMEOUT_MS, cl)) != 0) {
        fprintf(stderr, "onggi-gateway: cannot open ring %s: %s\n", o->ring, og_strerror(rc));
        return status;
    }
    if (cluster_set_chunking(*cl, (uint32_t)o->chunk_size) != 0) {
        fprintf(stderr, "onggi-gateway: --chunk-size must be a power of two from 16384 to 4194304\n");
        status = 2;
        goto out_close_cluster;
    }
    if ((rc = iam_open_keys(o, *cl, iam)) != 0)
        goto out_close_cluster;
    return 0;

out_close_cluster:
    cluster_close(*cl);
    *cl = NULL;
    return status;
}

/* Serves S3 and Swift on `listen` until a signal in w->set (taken by a thread of its own) or a
 * server error. The exit status: 0 after a signal, 1 on an error. */
static int serve(const opts_t *o, const og_addr_t *listen, cluster_t *cl, iam_t *iam, sigwaiter_t *w)
{
    http_server_t *srv = NULL;
    pthread_t sig_thread;
    int rc;

    s3_ctx_t gw = {.cluster = cl, .iam = iam, .domain = o->domain, .region = o->region, .access_log = o->access_log};
    swift_t swift;
    swift_init(&swift, cl, iam, 0, o->access_log);
    front_t front = {&gw, &swift};
    http_server_conf_t conf = {
        .host = listen->host, .port = listen->port, .workers = o->workers, .handler = dispatch, .ctx = &front};
    if ((rc = http_server_new(&conf, &srv)) != 0) {
        fprintf(stderr, "onggi-gateway: cannot listen on %s: %s\n", o->listen, og_strerror(rc));
        return 1;
    }
    w->srv = srv;
    if ((rc = pthread_create(&sig_thread, NULL, sigwait_main, w)) != 0) {
        fprintf(stderr, "onggi-gateway: cannot start the signal thread: %s\n", strerror(rc));
        rc = 1;
        goto out_free_server;
    }
    fprintf(stderr, "onggi-gateway: listening on %s:%u (region %s, average chunk size %zu)\n", listen->host,
            (unsigned)http_server_port(srv), o->region, o->chunk_size);
    rc = http_server_run(srv);
    if (rc != 0)
        fprintf(stderr, "onggi-gateway: server stopped: %s\n", og_strerror(rc));
    /* If the server ended on its own, wake the signal thread so it can be joined. */
    pthread_kill(sig_thread, SIGTERM);
    pthread_join(sig_thread, NULL);
    rc = rc == 0 ? 0 : 1;
out_free_server:
    http_server_free(srv);
    return rc;
}

int main(int argc, char **argv)
{
    opts_t o;
    og_addr_t listen;
    cluster_t *cl = NULL;
    iam_t *iam = NULL;
    sigwaiter_t w;
    int status;

    if (parse_opts(argc, argv, &o) != 0)
        return 2;
    if (og_addr_parse(o.listen, &listen) != 0) {
        fprintf(stderr, "onggi-gateway: bad --listen %s (want IP:PORT)\n", o.listen);
        return 2;
    }
    process_init(&w.set);
    if ((status = backends_open(&o, &cl, &iam)) != 0)
        goto out_cleanup_xml;
    status = serve(&o, &listen, cl, iam, &w);
    iam_close(iam);
    cluster_close(cl);
out_cleanup_xml:
    xmlCleanupParser();
    return status;
}
