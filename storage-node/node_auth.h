/*
 * node_auth.h: the cluster signature on node API requests (docs/node-api.md, "Authentication").
 * Private to storage-node/: node_client.c signs, node_server.c verifies.
 *
 * A request carries one header, X-Onggi-Auth: OG1 <key id> <ts ms> <nonce> <body digest> <sig>,
 * where sig = HMAC-SHA256(node key, canonical request) and the body digest is the XXH3-128 of the
 * body (the HMAC covers the digest). Nodes check the signature with any `node` key of the cluster
 * key file (rotation), refuse a timestamp more than NODE_AUTH_WINDOW_MS away from their clock, and
 * refuse a nonce seen before (a bounded cache, see node_auth_check_head).
 *
 * Responses to authenticated requests are signed too, with the key that verified the request:
 * X-Onggi-Auth: OG1R <key id> <body digest> <sig>, the HMAC binding the request's nonce, the
 * status, the body and the response's X-Onggi-* and Content-Range headers, so a client only
 * believes answers that come from a key holder and answer its own request.
 */
#ifndef NODE_AUTH_H
#define NODE_AUTH_H

#include "og.h"
#include "og_crypt.h"
#include "og_keys.h"

#include <stdatomic.h>

#define NODE_AUTH_HEADER "X-Onggi-Auth"
#define NODE_AUTH_WINDOW_MS 60000          /* |node clock - request ts| allowed */
#define NODE_AUTH_NONCES ((size_t)1 << 18) /* nonces remembered (~10 MiB) */
#define NODE_AUTH_VALUE_MAX 192            /* the header value, NUL included */

enum {
    NODE_EAUTH = -10320,  /* missing, malformed or wrong signature, unknown key, or body digest mismatch */
    NODE_ESTALE = -10321, /* timestamp outside the window, or a nonce seen before (a replay) */
};

/* The signing side: the current key and a nonce source. Shared by threads. */
typedef struct {
    og_key_t key;             /* the first `node` key of the file */
    og_hmac_key_t *mac;       /* it, ready to MAC (owned) */
    uint8_t nonce_prefix[8];  /* random per signer: nonces differ across processes */
    atomic_uint_fast64_t seq; /* ... and within one */
} node_signer_t;

/* Takes keys->node[0] as the signing key and draws the nonce prefix. 0, or OG_EINVAL when keys
 * holds no `node` key or the random source fails, or -ENOMEM. Release with node_auth_signer_free
 * (which wipes the key). */
int node_auth_signer_init(node_signer_t *s, const og_keys_t *keys);
void node_auth_signer_free(node_signer_t *s);

/* Signs one request: method, target (path and query as sent), its headers h[0..nh) (the signed
 * ones are picked as the verifier picks them) and its body. Writes the X-Onggi-Auth value,
 * NUL-terminated, into out (NODE_AUTH_VALUE_MAX bytes). 0, or -ENOMEM. */
int node_auth_sign(node_signer_t *s, const char *method, const char *target, const og_header_t *h, size_t nh,
                   const void *body, size_t body_len, char *out);

/* The body digest requests and answers are signed over (XXH3-128, canonical byte order) of
 * body[0..len). Cannot fail. */
void node_auth_body_digest(const void *body, size_t len, uint8_t out[16]);

/* node_auth_sign for a body whose digest the caller computed with node_auth_body_digest: lets one
 * body sent to several nodes be hashed once. Same output, same errors. */
int node_auth_sign_digest(node_signer_t *s, const char *method, const char *target, const og_header_t *h, size_t nh,
                          const uint8_t digest[16], size_t body_len, char *out);

/* The verifying side: every `node` key and the nonce cache. Thread-safe: every thread of the node
 * server checks the heads it reads (the cache is locked only to admit a nonce). */
typedef struct st_node_auth_t node_auth_t;

/* Copies the `node` keys of keys. 0, OG_EINVAL when it holds none, -ENOMEM. Free with
 * node_auth_free (which wipes the copies). */
int node_auth_new(const og_keys_t *keys, node_auth_t **out);
void node_auth_free(node_auth_t *a);

/* What a verified head promises about its body, checked by node_auth_check_body once read, and
 * what its answer is signed with (node_auth_sign_response). */
typedef struct {
    uint8_t digest[16];
    const og_key_t *key; /* the key that verified the request (owned by the node_auth_t) */
    const og_hmac_key_t *mac; /* it, ready to MAC (owned by the node_auth_t) */
    char nonce[33];      /* the request's nonce, hex */
} node_auth_body_t;

/* Checks a request head: the X-Onggi-Auth header among h[0..nh), its signature over method,
 * target, body_len, the claimed body digest and the signed headers, the timestamp against now_ms
 * (wall clock) and the nonce against the cache. On success the nonce is remembered and *body holds
 * the digest the body must have. NODE_EAUTH or NODE_ESTALE, with *why a static reason for the log. */
int node_auth_check_head(node_auth_t *a, og_str_t method, og_str_t target, const og_header_t *h, size_t nh,
                         uint64_t body_len, uint64_t now_ms, node_auth_body_t *body, const char **why);

/* 0 when body[0..len) has the digest the verified head promised, else NODE_EAUTH. */
int node_auth_check_body(const node_auth_body_t *b, const void *body, size_t len);

/* Signs the answer to the request b was verified from: its status, the Content-Length it announces
 * (content_len), its headers h[0..nh) (the signed ones are picked as for requests, plus
 * Content-Range) and the body bytes it carries (none for HEAD). Writes the X-Onggi-Auth value,
 * NUL-terminated, into out (NODE_AUTH_VALUE_MAX bytes). 0 or -ENOMEM. */
int node_auth_sign_response(const node_auth_body_t *b, int status, uint64_t content_len, const og_header_t *h,
                            size_t nh, const void *body, size_t body_len, char *out);

/* Checks an answer to a request signed by s whose X-Onggi-Auth value was req_auth: its own
 * X-Onggi-Auth among h[0..nh) must sign status, content_len, the signed headers and body[0..len)
 * with s's key and the request's nonce. 0, or NODE_EAUTH (missing, malformed or wrong). */
int node_auth_check_response(const node_signer_t *s, const char *req_auth, int status, uint64_t content_len,
                             const og_header_t *h, size_t nh, const void *body, size_t body_len);

#endif
