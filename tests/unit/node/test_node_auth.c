/* Request signatures (storage-node/node_auth.c): what node_auth_sign writes, node_auth_check_head
 * accepts, and every change after signing, an old timestamp, a replay and an unknown key are
 * refused; the nonce cache stays bounded and a dropped nonce cannot be replayed. */
#include "node_auth.h"

#include <criterion/criterion.h>
#include <stdio.h>
#include <string.h>

static og_keys_t keys_of(const char *id, uint8_t fill)
{
    og_keys_t k = {.num_node = 1};
    strcpy(k.node[0].id, id);
    memset(k.node[0].key, fill, OG_KEY_BYTES);
    return k;
}

typedef struct {
    char auth[NODE_AUTH_VALUE_MAX];
    og_header_t h[3];
    size_t nh;
} signed_t;

/* A request signed by s: headers X-Onggi-Xxh3 (signed), Expect (not signed), then X-Onggi-Auth. */
static void sign(node_signer_t *s, const char *method, const char *target, const char *body, signed_t *out)
{
    out->h[0] = (og_header_t){OG_STR_LIT("X-Onggi-Xxh3"), OG_STR_LIT("0123456789abcdef")};
    out->h[1] = (og_header_t){OG_STR_LIT("Expect"), OG_STR_LIT("100-continue")};
    cr_assert_eq(node_auth_sign(s, method, target, out->h, 2, body, strlen(body), out->auth), 0);
    out->h[2] = (og_header_t){OG_STR_LIT(NODE_AUTH_HEADER), og_str(out->auth)};
    out->nh = 3;
}

static int check(node_auth_t *a, const char *method, const char *target, const signed_t *r, uint64_t len,
                 node_auth_body_t *b)
{
    const char *why;
    return node_auth_check_head(a, og_str(method), og_str(target), r->h, r->nh, len, og_time_ns() / 1000000u, b, &why);
}

Test(node_auth, signed_request_passes_and_changes_fail)
{
    og_keys_t k = keys_of("n1", 7);
    node_signer_t s;
    node_auth_t *a;
    node_auth_body_t b;
    signed_t r;
    cr_assert_eq(node_auth_signer_init(&s, &k), 0);
    cr_assert_eq(node_auth_new(&k, &a), 0);

    sign(&s, "PUT", "/d1/rec/t/k?x=1", "body", &r);
    cr_assert_eq(check(a, "PUT", "/d1/rec/t/k?x=1", &r, 4, &b), 0);
    cr_assert_eq(node_auth_check_body(&b, "body", 4), 0);
    cr_assert_eq(node_auth_check_body(&b, "bodz", 4), NODE_EAUTH);

    sign(&s, "PUT", "/d1/rec/t/k", "body", &r);
    cr_assert_eq(check(a, "GET", "/d1/rec/t/k", &r, 4, &b), NODE_EAUTH);   /* method */
    cr_assert_eq(check(a, "PUT", "/d1/rec/t/j", &r, 4, &b), NODE_EAUTH);   /* path */
    cr_assert_eq(check(a, "PUT", "/d1/rec/t/k?a", &r, 4, &b), NODE_EAUTH); /* query */
    cr_assert_eq(check(a, "PUT", "/d1/rec/t/k", &r, 5, &b), NODE_EAUTH);   /* body length */
    r.h[0].value = OG_STR_LIT("0123456789abcdee");                         /* a signed header */
    cr_assert_eq(check(a, "PUT", "/d1/rec/t/k", &r, 4, &b), NODE_EAUTH);
    r.h[0].value = OG_STR_LIT("0123456789abcdef");
    r.h[1].value = OG_STR_LIT("other"); /* an unsigned one may change */
    cr_assert_eq(check(a, "PUT", "/d1/rec/t/k", &r, 4, &b), 0);
    /* ... and the same request again is a replay. */
    cr_assert_eq(check(a, "PUT", "/d1/rec/t/k", &r, 4, &b), NODE_ESTALE);
    /* An extra X-Onggi header that was not signed. */
    sign(&s, "DELETE", "/d1/chunk/x", "", &r);
    r.h[1] = (og_header_t){OG_STR_LIT("x-onggi-replica"), OG_STR_LIT("1")};
    cr_assert_eq(check(a, "DELETE", "/d1/chunk/x", &r, 0, &b), NODE_EAUTH);
    r.nh = 0; /* no header at all */
    cr_assert_eq(check(a, "DELETE", "/d1/chunk/x", &r, 0, &b), NODE_EAUTH);
    node_auth_free(a);
    node_auth_signer_free(&s);
}

/* A body hashed once and signed for several nodes (node_auth_sign_digest, as the node client does
 * for a batch sent to every replica) verifies like node_auth_sign's, and only for those bytes. */
Test(node_auth, presigned_digest_passes_and_binds_the_body)
{
    og_keys_t k = keys_of("n1", 7);
    node_signer_t s;
    node_auth_t *a;
    node_auth_body_t b;
    signed_t r = {.nh = 1};
    uint8_t d[16];
    const char *why;
    cr_assert_eq(node_auth_signer_init(&s, &k), 0);
    cr_assert_eq(node_auth_new(&k, &a), 0);
    node_auth_body_digest("batch body", 10, d);
    for (int i = 0; i < 3; i++) {
        cr_assert_eq(node_auth_sign_digest(&s, "PUT", "/d1/chunks", NULL, 0, d, 10, r.auth), 0);
        r.h[0] = (og_header_t){OG_STR_LIT(NODE_AUTH_HEADER), og_str(r.auth)};
        cr_assert_eq(node_auth_check_head(a, OG_STR_LIT("PUT"), OG_STR_LIT("/d1/chunks"), r.h, r.nh, 10,
                                          og_time_ns() / 1000000u, &b, &why),
                     0, "%s", why);
        cr_assert_eq(node_auth_check_body(&b, "batch body", 10), 0);
        cr_assert_eq(node_auth_check_body(&b, "batch bodz", 10), NODE_EAUTH);
    }
    node_auth_free(a);
    node_auth_signer_free(&s);
}

Test(node_auth, keys_rotate_and_unknown_keys_fail)
{
    og_keys_t oldk = keys_of("n1", 1), newk = keys_of("n2", 2), both = newk, other = keys_of("n1", 9);
    both.node[1] = oldk.node[0];
    both.num_node = 2;
    node_signer_t so, sn, sx;
    node_auth_t *a, *only_new;
    node_auth_body_t b;
    signed_t r;
    cr_assert_eq(node_auth_signer_init(&so, &oldk), 0);
    cr_assert_eq(node_auth_signer_init(&sn, &both), 0);
    cr_assert_eq(node_auth_signer_init(&sx, &other), 0);
    cr_assert_eq(node_auth_new(&both, &a), 0);
    cr_assert_eq(node_auth_new(&newk, &only_new), 0);
    sign(&so, "GET", "/health", "", &r);
    cr_assert_eq(check(a, "GET", "/health", &r, 0, &b), 0);
    cr_assert_eq(check(only_new, "GET", "/health", &r, 0, &b), NODE_EAUTH);
    sign(&sn, "GET", "/health", "", &r);
    cr_assert(strncmp(r.auth, "OG1 n2 ", 7) == 0, "the first key signs: %s", r.auth);
    cr_assert_eq(check(a, "GET", "/health", &r, 0, &b), 0);
    sign(&sx, "GET", "/health", "", &r); /* right id, wrong key */
    cr_assert_eq(check(a, "GET", "/health", &r, 0, &b), NODE_EAUTH);
    node_auth_free(a);
    node_auth_free(only_new);
    node_auth_signer_free(&so);
    node_auth_signer_free(&sn);
    node_auth_signer_free(&sx);
}

Test(node_auth, old_and_future_timestamps_fail)
{
    og_keys_t k = keys_of("n1", 3);
    node_signer_t s;
    node_auth_t *a;
    node_auth_body_t b;
    signed_t r;
    const char *why;
    cr_assert_eq(node_auth_signer_init(&s, &k), 0);
    cr_assert_eq(node_auth_new(&k, &a), 0);
    uint64_t now = og_time_ns() / 1000000u;
    sign(&s, "GET", "/health", "", &r);
    cr_assert_eq(node_auth_check_head(a, OG_STR_LIT("GET"), OG_STR_LIT("/health"), r.h, r.nh, 0,
                                      now + NODE_AUTH_WINDOW_MS + 5000, &b, &why),
                 NODE_ESTALE);
    cr_assert_eq(node_auth_check_head(a, OG_STR_LIT("GET"), OG_STR_LIT("/health"), r.h, r.nh, 0,
                                      now - NODE_AUTH_WINDOW_MS - 5000, &b, &why),
                 NODE_ESTALE);
    cr_assert_eq(node_auth_check_head(a, OG_STR_LIT("GET"), OG_STR_LIT("/health"), r.h, r.nh, 0, now, &b, &why), 0);
    node_auth_free(a);
    node_auth_signer_free(&s);
}

/* More requests than the cache holds: memory stays bounded and the first request, whose nonce has
 * been dropped, is still refused (its timestamp is at or below the floor). */
Test(node_auth, a_full_nonce_cache_still_refuses_replays, .timeout = 120)
{
    og_keys_t k = keys_of("n1", 4);
    node_signer_t s;
    node_auth_t *a;
    node_auth_body_t b;
    signed_t first, r;
    cr_assert_eq(node_auth_signer_init(&s, &k), 0);
    cr_assert_eq(node_auth_new(&k, &a), 0);
    sign(&s, "GET", "/health", "", &first);
    cr_assert_eq(check(a, "GET", "/health", &first, 0, &b), 0);
    for (size_t i = 0; i < NODE_AUTH_NONCES + 10; i++) {
        sign(&s, "GET", "/health", "", &r);
        int rc = check(a, "GET", "/health", &r, 0, &b);
        /* Requests of the dropped nonce's millisecond are refused too: the price of the bound. */
        cr_assert(rc == 0 || rc == NODE_ESTALE);
    }
    cr_assert_eq(check(a, "GET", "/health", &first, 0, &b), NODE_ESTALE);
    node_auth_free(a);
    node_auth_signer_free(&s);
}

/* An answer signed for one request verifies against that request only, and any change to its
 * status, length, signed headers or body breaks it. */
Test(node_auth, answers_are_bound_to_their_request)
{
    og_keys_t k = keys_of("n1", 5);
    node_signer_t s;
    node_auth_t *a;
    node_auth_body_t b;
    signed_t r, other;
    char sig[NODE_AUTH_VALUE_MAX];
    cr_assert_eq(node_auth_signer_init(&s, &k), 0);
    cr_assert_eq(node_auth_new(&k, &a), 0);
    sign(&s, "GET", "/d1/chunk/x", "", &r);
    sign(&s, "GET", "/d1/chunk/x", "", &other);
    cr_assert_eq(check(a, "GET", "/d1/chunk/x", &r, 0, &b), 0);
    og_header_t h[3] = {{OG_STR_LIT("X-Onggi-Xxh3"), OG_STR_LIT("0011223344556677")},
                        {OG_STR_LIT("Content-Type"), OG_STR_LIT("text/plain")}};
    cr_assert_eq(node_auth_sign_response(&b, 200, 5, h, 2, "hello", 5, sig), 0);
    h[2] = (og_header_t){OG_STR_LIT(NODE_AUTH_HEADER), og_str(sig)};
    cr_assert_eq(node_auth_check_response(&s, r.auth, 200, 5, h, 3, "hello", 5), 0);
    cr_assert_eq(node_auth_check_response(&s, other.auth, 200, 5, h, 3, "hello", 5), NODE_EAUTH);
    cr_assert_eq(node_auth_check_response(&s, r.auth, 404, 5, h, 3, "hello", 5), NODE_EAUTH);
    cr_assert_eq(node_auth_check_response(&s, r.auth, 200, 6, h, 3, "hello", 5), NODE_EAUTH);
    cr_assert_eq(node_auth_check_response(&s, r.auth, 200, 5, h, 3, "hellp", 5), NODE_EAUTH);
    h[1].value = OG_STR_LIT("text/html"); /* not signed */
    cr_assert_eq(node_auth_check_response(&s, r.auth, 200, 5, h, 3, "hello", 5), 0);
    h[0].value = OG_STR_LIT("0011223344556678");
    cr_assert_eq(node_auth_check_response(&s, r.auth, 200, 5, h, 3, "hello", 5), NODE_EAUTH);
    cr_assert_eq(node_auth_check_response(&s, r.auth, 200, 5, h, 2, "hello", 5), NODE_EAUTH); /* unsigned */
    node_auth_free(a);
    node_auth_signer_free(&s);
}
