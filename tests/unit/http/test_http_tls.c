/*
 * test_http/http_tls.c: the server's HTTPS listener (gateway/http/http_tls.c) against an OpenSSL
 * client on 127.0.0.1: SNI choice among three certificates, the protocol floor, a request body
 * of 3 MiB read by a slow handler (the server stops reading while the handler sleeps), and reload. Certificates are made with the
 * openssl CLI (self-signed; the client checks which one it got by its CN, not a chain).
 */
#include <criterion/criterion.h>

#include <arpa/inet.h>
#include <netinet/in.h>
#include <pthread.h>
#include <signal.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include <openssl/err.h>
#include <openssl/ssl.h>

#include "http/http.h"

typedef struct {
    char dir[64];
    char cert[3][128], key[3][128];
    http_tls_t *tls;
    http_server_t *srv;
    pthread_t thread;
    pthread_mutex_t mu;
    pthread_cond_t cv;
    bool done; /* under mu: http_server_run returned */
} fixture_t;

static fixture_t F;

/* The pairs, in --tls-cert order: the default, a wildcard, an exact name under the wildcard. */
static const char *const NAMES[3] = {"default", "wild", "exact"};
static const char *const SANS[3] = {"DNS:localhost", "DNS:*.s3.example", "DNS:b.s3.example"};

static void make_cert(const char *dir, const char *name, const char *san, char *cert, char *key)
{
    char cmd[1024];
    snprintf(cert, 128, "%s/%s.pem", dir, name);
    snprintf(key, 128, "%s/%s.key", dir, name);
    snprintf(cmd, sizeof(cmd),
             "openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -days 2 -subj /CN=%s "
             "-addext subjectAltName=%s -keyout %s -out %s 2>/dev/null",
             name, san, key, cert);
    cr_assert_eq(system(cmd), 0, "openssl req failed: %s", cmd);
}

/* Reads the whole body (pausing before each read when asked: ?slow) and answers "tls=T n=N". */
static void handler(http_req_t *req, void *ctx)
{
    (void)ctx;
    const http_reqinfo_t *info = http_req_info(req);
    bool slow = info->query.len > 0;
    static __thread char buf[64 << 10];
    unsigned long long n = 0;
    ssize_t r;
    while ((r = (slow ? usleep(2000) : 0, http_req_read(req, buf, sizeof(buf)))) > 0)
        n += (unsigned long long)r;
    if (r < 0)
        return;
    char out[64];
    int len = snprintf(out, sizeof(out), "tls=%d n=%llu", info->tls, n);
    http_resp_send(req, 200, NULL, 0, out, (size_t)len);
}

/* Runs the server, then stays parked: over TLS h2o keeps a per-thread cache of its memory-pool
 * chunks (4 KiB each, up to 16) that no exported call releases, so a loop thread that exits
 * leaks it. The gateway runs its loop on the main thread (main.c); here the thread lives on. */
static void *run_main(void *arg)
{
    http_server_run(arg);
    pthread_mutex_lock(&F.mu);
    F.done = true;
    pthread_cond_signal(&F.cv);
    pthread_mutex_unlock(&F.mu);
    for (;;)
        pause();
    return NULL;
}

static void setup(void)
{
    char err[512];
    /* As in the gateway (main.c): a client gone mid-write (here: right after its handshake, while
     * TLS 1.3 session tickets are on their way) must not kill the process. */
    signal(SIGPIPE, SIG_IGN);
    strcpy(F.dir, "/tmp/og-tls-XXXXXX");
    cr_assert_not_null(mkdtemp(F.dir));
    const char *certs[3], *keys[3];
    for (int i = 0; i < 3; i++) {
        make_cert(F.dir, NAMES[i], SANS[i], F.cert[i], F.key[i]);
        certs[i] = F.cert[i];
        keys[i] = F.key[i];
    }
    cr_assert_eq(http_tls_new(certs, keys, 3, &F.tls, err, sizeof(err)), 0, "%s", err);
    http_server_conf_t conf = {
        .host = "127.0.0.1", .workers = 4, .handler = handler, .tls_host = "127.0.0.1", .tls = F.tls};
    cr_assert_eq(http_server_new(&conf, &F.srv), 0);
    cr_assert_neq(http_server_tls_port(F.srv), 0);
    pthread_mutex_init(&F.mu, NULL);
    pthread_cond_init(&F.cv, NULL);
    pthread_create(&F.thread, NULL, run_main, F.srv);
}

static void teardown(void)
{
    char cmd[128];
    http_server_stop(F.srv);
    pthread_mutex_lock(&F.mu);
    while (!F.done)
        pthread_cond_wait(&F.cv, &F.mu);
    pthread_mutex_unlock(&F.mu);
    http_server_free(F.srv);
    http_tls_free(F.tls);
    snprintf(cmd, sizeof(cmd), "rm -rf %s", F.dir);
    cr_assert_eq(system(cmd), 0);
}

TestSuite(tls, .init = setup, .fini = teardown);

typedef struct {
    SSL_CTX *ctx;
    SSL *ssl;
    int fd;
} client_t;

/* A TLS connection to the server with SNI sni (NULL: none), at most TLS version max_version (0:
 * any). Returns 0 with the handshake done, or -1 when it failed (c is still to be closed). */
static int client_connect(client_t *c, const char *sni, int max_version)
{
    struct sockaddr_in sa = {.sin_family = AF_INET, .sin_port = htons(http_server_tls_port(F.srv))};
    inet_pton(AF_INET, "127.0.0.1", &sa.sin_addr);
    c->ctx = SSL_CTX_new(TLS_client_method());
    if (max_version != 0) {
        /* let the client offer what its own defaults forbid, so only the server can refuse */
        SSL_CTX_set_security_level(c->ctx, 0);
        SSL_CTX_set_min_proto_version(c->ctx, TLS1_VERSION);
        SSL_CTX_set_max_proto_version(c->ctx, max_version);
        SSL_CTX_set_cipher_list(c->ctx, "ALL:@SECLEVEL=0");
    }
    c->fd = socket(AF_INET, SOCK_STREAM, 0);
    cr_assert_eq(connect(c->fd, (struct sockaddr *)&sa, sizeof(sa)), 0);
    c->ssl = SSL_new(c->ctx);
    SSL_set_fd(c->ssl, c->fd);
    if (sni != NULL)
        SSL_set_tlsext_host_name(c->ssl, sni);
    return SSL_connect(c->ssl) == 1 ? 0 : -1;
}

static void client_close(client_t *c)
{
    SSL_free(c->ssl);
    SSL_CTX_free(c->ctx);
    close(c->fd);
    ERR_clear_error();
}

/* The CN of the certificate the server sent. */
static void peer_cn(client_t *c, char *out, int cap)
{
    X509 *x = SSL_get1_peer_certificate(c->ssl);
    cr_assert_not_null(x);
    X509_NAME_get_text_by_NID(X509_get_subject_name(x), NID_commonName, out, cap);
    X509_free(x);
}

/* The CN served for SNI name sni. */
static const char *cn_for(const char *sni)
{
    static char cn[64];
    client_t c;
    cr_assert_eq(client_connect(&c, sni, 0), 0, "handshake for %s failed", sni ? sni : "(no SNI)");
    peer_cn(&c, cn, sizeof(cn));
    client_close(&c);
    return cn;
}

Test(tls, sni_picks_the_certificate_naming_the_host)
{
    cr_assert_str_eq(cn_for(NULL), "default");
    cr_assert_str_eq(cn_for("localhost"), "default");
    cr_assert_str_eq(cn_for("x.s3.example"), "wild");
    cr_assert_str_eq(cn_for("X.S3.Example"), "wild");
    /* an exact name wins over a wildcard that also covers it, whatever the order of the pairs */
    cr_assert_str_eq(cn_for("b.s3.example"), "exact");
    /* a wildcard covers one label: not two, not none; unknown names get the default */
    cr_assert_str_eq(cn_for("a.b.s3.example"), "default");
    cr_assert_str_eq(cn_for("s3.example"), "default");
    cr_assert_str_eq(cn_for(".s3.example"), "default");
    cr_assert_str_eq(cn_for("other.test"), "default");
}

Test(tls, old_protocols_are_refused)
{
    client_t c;
    cr_assert_eq(client_connect(&c, "localhost", TLS1_1_VERSION), -1);
    client_close(&c);
    cr_assert_eq(client_connect(&c, "localhost", TLS1_VERSION), -1);
    client_close(&c);
    cr_assert_eq(client_connect(&c, "localhost", TLS1_2_VERSION), 0);
    cr_assert_str_eq(SSL_get_version(c.ssl), "TLSv1.2");
    const char *cipher = SSL_get_cipher_name(c.ssl);
    cr_assert(strncmp(cipher, "ECDHE-", 6) == 0 && (strstr(cipher, "GCM") || strstr(cipher, "CHACHA20")), "%s", cipher);
    client_close(&c);
}

/* Sends a PUT with a body of n bytes on c and returns the response body (static buffer). */
static const char *put(client_t *c, const char *target, size_t n)
{
    static char resp[4096];
    static char chunk[64 << 10];
    char head[256];
    int hl =
        snprintf(head, sizeof(head), "PUT %s HTTP/1.1\r\nHost: localhost\r\nContent-Length: %zu\r\n\r\n", target, n);
    cr_assert_eq(SSL_write(c->ssl, head, hl), hl);
    memset(chunk, 'x', sizeof(chunk));
    for (size_t left = n; left > 0;) {
        int k = (int)(left < sizeof(chunk) ? left : sizeof(chunk));
        cr_assert_eq(SSL_write(c->ssl, chunk, k), k);
        left -= (size_t)k;
    }
    /* the response: its head, then Content-Length bytes */
    size_t got = 0, need = SIZE_MAX;
    while (got < need) {
        int r = SSL_read(c->ssl, resp + got, (int)(sizeof(resp) - 1 - got));
        cr_assert_gt(r, 0, "connection closed after %zu bytes", got);
        got += (size_t)r;
        resp[got] = '\0';
        const char *end = strstr(resp, "\r\n\r\n"), *cl = strstr(resp, "Content-Length: ");
        if (end != NULL && cl != NULL)
            need = (size_t)(end + 4 - resp) + strtoul(cl + 16, NULL, 10);
    }
    cr_assert(strncmp(resp, "HTTP/1.1 200", 12) == 0, "%s", resp);
    return strstr(resp, "\r\n\r\n") + 4;
}

Test(tls, large_bodies_with_a_slow_handler_over_keep_alive)
{
    client_t c;
    char want[64];
    cr_assert_eq(client_connect(&c, "localhost", 0), 0);
    /* a slow handler: the server stops reading while it sleeps, then resumes */
    snprintf(want, sizeof(want), "tls=1 n=%u", 3u << 20);
    cr_assert_str_eq(put(&c, "/slow?slow", 3u << 20), want);
    snprintf(want, sizeof(want), "tls=1 n=%u", 5u << 20);
    cr_assert_str_eq(put(&c, "/fast", 5u << 20), want);
    client_close(&c);
}

Test(tls, reload_swaps_or_keeps_the_certificates)
{
    char err[512];
    client_t before;
    cr_assert_eq(client_connect(&before, "localhost", 0), 0);
    /* the default pair's files now hold another certificate: new handshakes get it */
    char c2[128], k2[128];
    make_cert(F.dir, "renewed", "DNS:localhost", c2, k2);
    cr_assert_eq(rename(c2, F.cert[0]), 0);
    cr_assert_eq(rename(k2, F.key[0]), 0);
    cr_assert_eq(http_tls_reload(F.tls, err, sizeof(err)), 0, "%s", err);
    cr_assert_str_eq(cn_for("localhost"), "renewed");
    cr_assert_str_eq(cn_for("x.s3.example"), "wild");
    /* the connection made before still works */
    cr_assert_str_eq(put(&before, "/x", 10), "tls=1 n=10");
    client_close(&before);
    /* a broken file: the reload fails, says which file, and nothing changes */
    FILE *f = fopen(F.cert[1], "w");
    fputs("not a certificate\n", f);
    fclose(f);
    cr_assert_eq(http_tls_reload(F.tls, err, sizeof(err)), HTTP_ETLS);
    cr_assert(strstr(err, F.cert[1]) != NULL, "%s", err);
    cr_assert_str_eq(cn_for("x.s3.example"), "wild");
    cr_assert_str_eq(cn_for("localhost"), "renewed");
}
