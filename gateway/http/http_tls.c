/*
 * http/http_tls.c: the gateway's TLS configuration (contract in http/http.h and http_tls.h).
 *
 * One SSL_CTX per certificate/key pair, all with the same policy (TLS 1.2+, ECDHE + AEAD,
 * ALPN http/1.1). A "generation" is the set of contexts loaded from the files at one time; the
 * current one sits under tls->mu. A reload builds a whole new generation off the event loop and
 * swaps it in only if every pair loaded, so a broken file never leaves the server without its
 * old certificates. Connections keep the generation they started with alive through OpenSSL's
 * reference counts (SSL_new and SSL_set_SSL_CTX take a reference on their context), so the old
 * contexts are freed by whichever of the swap and the last of their connections comes last.
 *
 * SNI: the first pair's context starts every handshake; the servername callback (loop thread)
 * moves the connection to the pair whose certificate names the requested host, exact names
 * before wildcards ("*.DOMAIN" covers one label: virtual-host buckets "bucket.DOMAIN").
 */
#include <errno.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include <openssl/err.h>
#include <openssl/ssl.h>
#include <openssl/x509v3.h>

#include "http.h"
#include "http_tls.h"

/* TLS 1.2 suites: forward secrecy (ECDHE) and AEAD only, as Mozilla's "intermediate" profile
 * without the finite-field DHE suites (slow, and their group sizes are negotiated badly by old
 * clients). TLS 1.3's suites are all ECDHE/AEAD and keep OpenSSL's default order. */
#define HTTP_TLS12_CIPHERS                                                                                             \
    "ECDHE-ECDSA-AES128-GCM-SHA256:ECDHE-RSA-AES128-GCM-SHA256:ECDHE-ECDSA-AES256-GCM-SHA384:"                         \
    "ECDHE-RSA-AES256-GCM-SHA384:ECDHE-ECDSA-CHACHA20-POLY1305:ECDHE-RSA-CHACHA20-POLY1305"
#define HTTP_TLS_GROUPS "X25519:P-256:P-384"
/* Sessions cached under one context may be resumed after SNI moved the connection to another. */
#define HTTP_TLS_SID_CTX "onggi-gateway"

typedef struct {
    SSL_CTX *ctx;
    char **names; /* DNS names the certificate covers, lowercase; "*.x" for wildcards */
    size_t nnames;
} http_tls_cert_t;

typedef struct {
    http_tls_cert_t *certs; /* certs[0] is the default */
    size_t n;
} http_tls_gen_t;

struct st_http_tls_t {
    char **cert_files, **key_files;
    size_t n;
    pthread_mutex_t mu;
    http_tls_gen_t *gen; /* under mu */
};

/* Only what the server speaks: no h2 (see docs/operations.md, TLS). */
static const h2o_iovec_t http_tls_alpn[] = {{H2O_STRLIT("http/1.1")}, {NULL, 0}};

static void gen_free(http_tls_gen_t *gen)
{
    if (gen == NULL)
        return;
    for (size_t i = 0; i < gen->n; i++) {
        SSL_CTX_free(gen->certs[i].ctx);
        for (size_t j = 0; j < gen->certs[i].nnames; j++)
            free(gen->certs[i].names[j]);
        free(gen->certs[i].names);
    }
    free(gen->certs);
    free(gen);
}

/* Formats "what FILE: <OpenSSL's reason>" into err, emptying this thread's OpenSSL error queue. */
static void tls_error(char *err, size_t cap, const char *what, const char *file)
{
    char reason[256] = "unknown error";
    unsigned long e, last = 0;
    while ((e = ERR_get_error()) != 0)
        last = e; /* the last one is the outermost: "no start line", "key values mismatch" ... */
    if (last != 0)
        ERR_error_string_n(last, reason, sizeof(reason));
    snprintf(err, cap, "%s %s: %s", what, file, reason);
}

/* Appends a lowercased copy of name[0..len) to c->names. 0 or -ENOMEM. */
static int cert_add_name(http_tls_cert_t *c, const unsigned char *name, size_t len)
{
    char **names = realloc(c->names, (c->nnames + 1) * sizeof(*names));
    if (names == NULL)
        return -ENOMEM;
    c->names = names;
    char *s = malloc(len + 1);
    if (s == NULL)
        return -ENOMEM;
    for (size_t i = 0; i < len; i++)
        s[i] = (char)(name[i] >= 'A' && name[i] <= 'Z' ? name[i] + 32 : name[i]);
    s[len] = '\0';
    c->names[c->nnames++] = s;
    return 0;
}

/* The DNS names of c's certificate: its subjectAltName DNS entries, or its subject CN when it
 * has none (as clients do). 0 or -ENOMEM. */
static int cert_load_names(http_tls_cert_t *c)
{
    X509 *x = SSL_CTX_get0_certificate(c->ctx);
    int rc = 0;
    GENERAL_NAMES *sans = X509_get_ext_d2i(x, NID_subject_alt_name, NULL, NULL);
    for (int i = 0; sans != NULL && i < sk_GENERAL_NAME_num(sans) && rc == 0; i++) {
        const GENERAL_NAME *g = sk_GENERAL_NAME_value(sans, i);
        if (g->type == GEN_DNS)
            rc = cert_add_name(c, ASN1_STRING_get0_data(g->d.dNSName), (size_t)ASN1_STRING_length(g->d.dNSName));
    }
    GENERAL_NAMES_free(sans);
    if (rc != 0 || c->nnames > 0)
        return rc;
    X509_NAME *subj = X509_get_subject_name(x);
    int idx = X509_NAME_get_index_by_NID(subj, NID_commonName, -1);
    if (idx >= 0) {
        ASN1_STRING *cn = X509_NAME_ENTRY_get_data(X509_NAME_get_entry(subj, idx));
        rc = cert_add_name(c, ASN1_STRING_get0_data(cn), (size_t)ASN1_STRING_length(cn));
    }
    return rc;
}

/* Does pattern (a certificate name) cover host? Exact names, or with wildcard set "*.rest"
 * covering "label.rest" for exactly one non-empty label. */
static int name_matches(const char *pattern, const char *host, int wildcard)
{
    if (!wildcard)
        return pattern[0] != '*' && strcasecmp(pattern, host) == 0;
    if (pattern[0] != '*' || pattern[1] != '.')
        return 0;
    const char *dot = strchr(host, '.');
    return dot != NULL && dot != host && strcasecmp(dot + 1, pattern + 2) == 0;
}

/* The pair of gen whose certificate covers host, exact names first; NULL when none does. */
static SSL_CTX *gen_lookup(const http_tls_gen_t *gen, const char *host)
{
    for (int wildcard = 0; wildcard <= 1; wildcard++)
        for (size_t i = 0; i < gen->n; i++)
            for (size_t j = 0; j < gen->certs[i].nnames; j++)
                if (name_matches(gen->certs[i].names[j], host, wildcard))
                    return gen->certs[i].ctx;
    return NULL;
}

/* SNI (loop thread, during a handshake): switch to the matching certificate. A name nothing
 * matches, or no name, keeps the default certificate; the client then decides. */
static int on_servername(SSL *ssl, int *alert, void *arg)
{
    http_tls_t *tls = arg;
    (void)alert;
    const char *host = SSL_get_servername(ssl, TLSEXT_NAMETYPE_host_name);
    if (host == NULL)
        return SSL_TLSEXT_ERR_OK;
    pthread_mutex_lock(&tls->mu);
    SSL_CTX *ctx = gen_lookup(tls->gen, host);
    if (ctx != NULL && ctx != SSL_get_SSL_CTX(ssl))
        SSL_set_SSL_CTX(ssl, ctx);
    pthread_mutex_unlock(&tls->mu);
    return SSL_TLSEXT_ERR_OK;
}

/* A context with the server's policy and one certificate chain + key. 0, or HTTP_ETLS with err
 * saying which file and why, or -ENOMEM. */
static int ctx_new(http_tls_t *tls, const char *cert, const char *key, SSL_CTX **out, char *err, size_t cap)
{
    int rc = HTTP_ETLS;
    ERR_clear_error();
    SSL_CTX *ctx = SSL_CTX_new(TLS_server_method());
    if (ctx == NULL)
        return -ENOMEM;
    if (!SSL_CTX_set_min_proto_version(ctx, TLS1_2_VERSION) || !SSL_CTX_set_cipher_list(ctx, HTTP_TLS12_CIPHERS) ||
        !SSL_CTX_set1_groups_list(ctx, HTTP_TLS_GROUPS) ||
        !SSL_CTX_set_session_id_context(ctx, (const unsigned char *)HTTP_TLS_SID_CTX, sizeof(HTTP_TLS_SID_CTX) - 1)) {
        tls_error(err, cap, "TLS policy for", cert);
        goto out_free_ctx;
    }
    /* No compression (CRIME), no renegotiation (a client-driven CPU sink). */
    SSL_CTX_set_options(ctx, SSL_OP_NO_COMPRESSION | SSL_OP_NO_RENEGOTIATION);
    if (SSL_CTX_use_certificate_chain_file(ctx, cert) != 1) {
        tls_error(err, cap, "certificate chain", cert);
        goto out_free_ctx;
    }
    if (SSL_CTX_use_PrivateKey_file(ctx, key, SSL_FILETYPE_PEM) != 1 || SSL_CTX_check_private_key(ctx) != 1) {
        tls_error(err, cap, "private key", key);
        goto out_free_ctx;
    }
    SSL_CTX_set_tlsext_servername_callback(ctx, on_servername);
    SSL_CTX_set_tlsext_servername_arg(ctx, tls);
    h2o_ssl_register_alpn_protocols(ctx, http_tls_alpn);
    *out = ctx;
    return 0;

out_free_ctx:
    SSL_CTX_free(ctx);
    return rc;
}

/* Loads every pair of tls's files into a new generation. 0, HTTP_ETLS (err says why) or -ENOMEM. */
static int gen_load(http_tls_t *tls, http_tls_gen_t **out, char *err, size_t cap)
{
    int rc = -ENOMEM;
    http_tls_gen_t *gen = calloc(1, sizeof(*gen));
    if (gen == NULL || (gen->certs = calloc(tls->n, sizeof(*gen->certs))) == NULL)
        goto out_free_gen;
    for (; gen->n < tls->n; gen->n++) {
        http_tls_cert_t *c = &gen->certs[gen->n];
        if ((rc = ctx_new(tls, tls->cert_files[gen->n], tls->key_files[gen->n], &c->ctx, err, cap)) != 0)
            goto out_free_gen;
        if ((rc = cert_load_names(c)) != 0) {
            gen->n++; /* c->ctx is set: freed with the rest */
            goto out_free_gen;
        }
    }
    *out = gen;
    return 0;

out_free_gen:
    if (rc == -ENOMEM)
        snprintf(err, cap, "out of memory");
    gen_free(gen);
    return rc;
}

/* Copies n strings. NULL when out of memory. */
static char **strv_dup(const char *const *v, size_t n)
{
    char **out = calloc(n, sizeof(*out));
    for (size_t i = 0; out != NULL && i < n; i++) {
        if ((out[i] = strdup(v[i])) == NULL) {
            while (i > 0)
                free(out[--i]);
            free(out);
            out = NULL;
        }
    }
    return out;
}

static void strv_free(char **v, size_t n)
{
    for (size_t i = 0; v != NULL && i < n; i++)
        free(v[i]);
    free(v);
}

int http_tls_new(const char *const *certs, const char *const *keys, size_t n, http_tls_t **out, char *err,
                 size_t errcap)
{
    int rc = -ENOMEM;
    if (n == 0) {
        snprintf(err, errcap, "no certificate");
        return OG_EINVAL;
    }
    http_tls_t *tls = calloc(1, sizeof(*tls));
    if (tls == NULL)
        goto out_nomem;
    tls->n = n;
    if ((tls->cert_files = strv_dup(certs, n)) == NULL || (tls->key_files = strv_dup(keys, n)) == NULL)
        goto out_free_tls;
    pthread_mutex_init(&tls->mu, NULL);
    if ((rc = gen_load(tls, &tls->gen, err, errcap)) != 0) {
        pthread_mutex_destroy(&tls->mu);
        goto out_free_tls;
    }
    *out = tls;
    return 0;

out_free_tls:
    strv_free(tls->cert_files, n);
    strv_free(tls->key_files, n);
    free(tls);
out_nomem:
    if (rc == -ENOMEM)
        snprintf(err, errcap, "out of memory");
    return rc;
}

int http_tls_reload(http_tls_t *tls, char *err, size_t errcap)
{
    http_tls_gen_t *gen;
    int rc = gen_load(tls, &gen, err, errcap);
    if (rc != 0)
        return rc;
    pthread_mutex_lock(&tls->mu);
    http_tls_gen_t *old = tls->gen;
    tls->gen = gen;
    pthread_mutex_unlock(&tls->mu);
    gen_free(old);
    return 0;
}

void http_tls_free(http_tls_t *tls)
{
    if (tls == NULL)
        return;
    gen_free(tls->gen);
    pthread_mutex_destroy(&tls->mu);
    strv_free(tls->cert_files, tls->n);
    strv_free(tls->key_files, tls->n);
    free(tls);
}

void http_tls_handshake(http_tls_t *tls, h2o_socket_t *sock, h2o_socket_cb cb)
{
    pthread_mutex_lock(&tls->mu);
    SSL_CTX *ctx = tls->gen->certs[0].ctx;
    SSL_CTX_up_ref(ctx); /* a reload may free the generation while h2o creates the SSL */
    pthread_mutex_unlock(&tls->mu);
    h2o_socket_ssl_handshake(sock, ctx, NULL, cb);
    SSL_CTX_free(ctx);
}
