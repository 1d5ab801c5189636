/*
 * node_main.c: the onggi-node daemon.
 *
 *   onggi-node --ring FILE --listen IP:PORT --dir DIR [--threads N]
 *
 * Serves every ring device whose addr equals --listen; device NAME lives in DIR/NAME/
 * (created if missing). SIGINT/SIGTERM: stop accepting, finish in-flight requests, close
 * every store (RocksDB), exit 0.
 */
#include "node_int.h"
#include "ring.h"

#include <errno.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#define DEFAULT_THREADS 256

static void usage(void)
{
    fprintf(stderr, "usage: onggi-node --ring FILE --listen IP:PORT --dir DIR [--threads N]\n");
    exit(2);
}

int main(int argc, char **argv)
{
    const char *ring_path = NULL, *listen = NULL, *dir = NULL;
    long threads = DEFAULT_THREADS;
    int rc, status = 1;
    ring_t *ring = NULL;
    node_dev_t *devs = NULL;
    size_t ndevs = 0;
    node_server_t *srv = NULL;

    for (int i = 1; i < argc; i++) {
        if (i + 1 >= argc)
            usage();
        if (strcmp(argv[i], "--ring") == 0)
            ring_path = argv[++i];
        else if (strcmp(argv[i], "--listen") == 0)
            listen = argv[++i];
        else if (strcmp(argv[i], "--dir") == 0)
            dir = argv[++i];
        else if (strcmp(argv[i], "--threads") == 0) {
            char *end;
            threads = strtol(argv[++i], &end, 10);
            if (*end || threads < 1 || threads > 100000)
                usage();
        } else
            usage();
    }
    if (!ring_path || !listen || !dir)
        usage();

    /* Signals are taken synchronously by sigwait() in this thread: block them before any
     * thread starts so every thread inherits the mask. A peer closing mid-response must not
     * kill the process. */
    sigset_t sigs;
    sigemptyset(&sigs);
    sigaddset(&sigs, SIGINT);
    sigaddset(&sigs, SIGTERM);
    pthread_sigmask(SIG_BLOCK, &sigs, NULL);
    signal(SIGPIPE, SIG_IGN);

    if ((rc = ring_load(ring_path, &ring)) != 0) {
        fprintf(stderr, "onggi-node: cannot load ring %s: %s\n", ring_path, og_strerror(rc));
        goto out;
    }
    size_t n = ring_dev_count(ring);
    if (!(devs = calloc(n ? n : 1, sizeof(*devs)))) {
        fprintf(stderr, "onggi-node: out of memory\n");
        goto out_ring;
    }
    if (mkdir(dir, 0755) != 0 && errno != EEXIST) {
        fprintf(stderr, "onggi-node: cannot create %s: %s\n", dir, strerror(errno));
        goto out_stores;
    }
    for (size_t i = 0; i < n; i++) {
        const ring_dev_t *d = ring_dev_at(ring, i);
        if (strcmp(d->addr, listen) != 0)
            continue;
        char path[4096];
        if ((size_t)snprintf(path, sizeof(path), "%s/%s", dir, d->name) >= sizeof(path)) {
            fprintf(stderr, "onggi-node: path too long for device %s\n", d->name);
            goto out_stores;
        }
        if ((rc = node_store_open(path, &devs[ndevs].store)) != 0) {
            fprintf(stderr, "onggi-node: cannot open device %s at %s: %s\n", d->name, path, og_strerror(rc));
            goto out_stores;
        }
        devs[ndevs++].name = d->name;
    }
    if (ndevs == 0) {
        fprintf(stderr, "onggi-node: the ring has no device with addr %s\n", listen);
        goto out_stores;
    }
    if ((rc = node_server_start(listen, devs, ndevs, (size_t)threads, &srv)) != 0) {
        fprintf(stderr, "onggi-node: cannot listen on %s: %s\n", listen, og_strerror(rc));
        goto out_stores;
    }
    fprintf(stderr, "onggi-node: serving %zu device(s) on %s\n", ndevs, listen);

    int sig;
    while (sigwait(&sigs, &sig) != 0)
        ;
    fprintf(stderr, "onggi-node: signal %d, finishing in-flight requests\n", sig);
    node_server_stop(srv);
    status = 0;

out_stores:
    for (size_t i = 0; i < ndevs; i++)
        node_store_close(devs[i].store);
    free(devs);
out_ring:
    ring_free(ring);
out:
    return status;
}
