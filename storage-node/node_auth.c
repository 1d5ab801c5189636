/*
 * node_auth.c: signing and verifying node API requests (node_auth.h, docs/node-api.md).
 *
 * The canonical request is a few lines joined by '\n':
 *     OG1, key id, ts (ms), nonce (32 hex), METHOD, target, body length (decimal), body digest
 *     (32 hex), then "name:value" for each signed header in the order sent (name lowercased)
 * and sig = hex(HMAC-SHA256(key, canonical)). Signed headers: every X-Onggi-* but X-Onggi-Auth,
 * and Range: the ones that change what a request does or answers. An answer's canonical form is
 * OG1R, key id, the request's nonce, status, Content-Length, body digest, then its signed headers
 * (the same rule, plus Content-Range).
 *
 * The nonce cache is a FIFO of the last NODE_AUTH_NONCES nonces with a chained hash index. When it
 * is full the oldest nonce is dropped and its timestamp becomes a floor: a request stamped at or
 * below the floor is refused like an expired one, so a dropped nonce can never be replayed. The
 * cache thus covers the whole window until more than NODE_AUTH_NONCES requests arrive within it;
 * past that the window narrows to what the cache holds (docs/node-api.md).
 */
#include "node_auth.h"

#include "og_crypt.h"

#include <errno.h>
#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/rand.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <xxhash.h>

#define CANON_INLINE 1024
#define NONE UINT32_MAX

typedef struct {
    uint8_t nonce[16];
    uint64_t ts;
    uint32_t next; /* hash chain */
} nonce_t;

struct st_node_auth_t {
    og_key_t keys[OG_KEYS_MAX];
    og_hmac_key_t *macs[OG_KEYS_MAX]; /* keys[i] ready to MAC */
    size_t nkeys;
    nonce_t *fifo; /* NODE_AUTH_NONCES slots, oldest at head */
    size_t head, count;
    uint32_t *buckets; /* 2 * NODE_AUTH_NONCES chain heads */
    uint64_t floor_ts; /* requests stamped at or below are refused (a dropped nonce's ts) */
    pthread_mutex_t mu; /* guards the nonce cache and floor_ts: every serving thread checks heads */
};

/* ---- the canonical request, shared by both sides ---- */

static int signed_header(og_str_t name)
{
    static const char pfx[] = "x-onggi-";
    if (og_str_ieq(name, "Range") || og_str_ieq(name, "Content-Range"))
        return 1;
    if (name.len < sizeof(pfx) - 1 || og_str_ieq(name, NODE_AUTH_HEADER))
        return 0;
    return og_str_ieq((og_str_t){name.base, sizeof(pfx) - 1}, pfx);
}

static char *put(char *p, og_str_t s, char end)
{
    memcpy(p, s.base, s.len);
    p += s.len;
    *p++ = end;
    return p;
}

/* hex(HMAC-SHA256(key, canonical)) into sig (65 bytes), the canonical form being lines[0..n) and
 * then the signed headers of h[0..nh), each line ending in '\n'. 0 or -ENOMEM. */
static int canon_mac(const og_hmac_key_t *key, const og_str_t *lines, size_t n, const og_header_t *h, size_t nh,
                     char *sig)
{
    char inline_buf[CANON_INLINE];
    size_t need = 0;
    for (size_t i = 0; i < n; i++)
        need += lines[i].len + 1;
    for (size_t i = 0; i < nh; i++)
        if (signed_header(h[i].name))
            need += h[i].name.len + h[i].value.len + 2;
    char *buf = need <= sizeof(inline_buf) ? inline_buf : malloc(need), *p = buf;
    if (!buf)
        return -ENOMEM;
    for (size_t i = 0; i < n; i++)
        p = put(p, lines[i], '\n');
    for (size_t i = 0; i < nh; i++) {
        if (!signed_header(h[i].name))
            continue;
        for (size_t k = 0; k < h[i].name.len; k++) {
            char c = h[i].name.base[k];
            *p++ = c >= 'A' && c <= 'Z' ? (char)(c + 32) : c;
        }
        *p++ = ':';
        p = put(p, h[i].value, '\n');
    }
    uint8_t mac[32];
    int ok = og_hmac_sha256_key(key, buf, (size_t)(p - buf), mac) == 0;
    if (buf != inline_buf)
        free(buf);
    if (!ok)
        return -ENOMEM;
    og_hex(mac, sizeof(mac), sig);
    return 0;
}

/* The request's canonical lines (see the top of this file) and its MAC. */
static int request_mac(const og_hmac_key_t *key, og_str_t id, og_str_t ts, og_str_t nonce, og_str_t method, og_str_t target,
                       uint64_t body_len, og_str_t digest, const og_header_t *h, size_t nh, char *sig)
{
    char lenbuf[OG_U64_DEC_MAX];
    size_t n = og_u64_dec(body_len, lenbuf);
    og_str_t lines[] = {OG_STR_LIT("OG1"), id, ts, nonce, method, target, {lenbuf, n}, digest};
    return canon_mac(key, lines, sizeof(lines) / sizeof(lines[0]), h, nh, sig);
}

/* The answer's canonical lines and its MAC. */
static int response_mac(const og_key_t *key, const og_hmac_key_t *mac, og_str_t nonce, int status,
                        uint64_t content_len, og_str_t digest, const og_header_t *h, size_t nh, char *sig)
{
    char st[OG_U64_DEC_MAX], lenbuf[OG_U64_DEC_MAX];
    if (status < 0)
        return -EINVAL;
    size_t ns = og_u64_dec((uint64_t)status, st), nl = og_u64_dec(content_len, lenbuf);
    og_str_t lines[] = {OG_STR_LIT("OG1R"), og_str(key->id), nonce, {st, ns}, {lenbuf, nl}, digest};
    return canon_mac(mac, lines, sizeof(lines) / sizeof(lines[0]), h, nh, sig);
}

void node_auth_body_digest(const void *body, size_t len, uint8_t out[16])
{
    XXH128_hash_t d = XXH3_128bits(body, len);
    XXH128_canonical_t c;
    XXH128_canonicalFromHash(&c, d);
    memcpy(out, c.digest, 16);
}

/* ---- signing ---- */

int node_auth_signer_init(node_signer_t *s, const og_keys_t *keys)
{
    if (!keys || keys->num_node == 0 || RAND_bytes(s->nonce_prefix, sizeof(s->nonce_prefix)) != 1)
        return OG_EINVAL;
    if (og_hmac_key_new(keys->node[0].key, OG_KEY_BYTES, &s->mac) != 0)
        return -ENOMEM;
    s->key = keys->node[0];
    atomic_init(&s->seq, 0);
    return 0;
}

void node_auth_signer_free(node_signer_t *s)
{
    og_hmac_key_free(s->mac);
    OPENSSL_cleanse(s, sizeof(*s));
}

int node_auth_sign_digest(node_signer_t *s, const char *method, const char *target, const og_header_t *h, size_t nh,
                          const uint8_t digest[16], size_t body_len, char *out)
{
    uint8_t nonce[16];
    char nonce_hex[33], digest_hex[33], ts[OG_U64_DEC_MAX], sig[65];
    memcpy(nonce, s->nonce_prefix, 8);
    og_be64_put(nonce + 8, (uint64_t)atomic_fetch_add(&s->seq, 1));
    og_hex(nonce, 16, nonce_hex);
    og_hex(digest, 16, digest_hex);
    size_t n = og_u64_dec(og_time_ns() / 1000000u, ts);
    og_str_t id = og_str(s->key.id);
    int rc = request_mac(s->mac, id, (og_str_t){ts, n}, (og_str_t){nonce_hex, 32}, og_str(method), og_str(target),
                         body_len, (og_str_t){digest_hex, 32}, h, nh, sig);
    if (rc != 0)
        return rc;
    /* "OG1 <id> <ts> <nonce> <digest> <sig>": the fields have bounded lengths, so out always fits. */
    _Static_assert(4 + OG_KEY_ID_MAX + 1 + OG_U64_DEC_MAX + 33 + 33 + 64 < NODE_AUTH_VALUE_MAX, "X-Onggi-Auth fits");
    const char *fields[] = {s->key.id, ts, nonce_hex, digest_hex, sig};
    char *p = stpcpy(out, "OG1");
    for (size_t i = 0; i < sizeof(fields) / sizeof(fields[0]); i++) {
        *p++ = ' ';
        p = stpcpy(p, fields[i]);
    }
    return 0;
}

int node_auth_sign(node_signer_t *s, const char *method, const char *target, const og_header_t *h, size_t nh,
                   const void *body, size_t body_len, char *out)
{
    uint8_t digest[16];
    node_auth_body_digest(body, body_len, digest);
    return node_auth_sign_digest(s, method, target, h, nh, digest, body_len, out);
}

/* ---- verifying ---- */

int node_auth_new(const og_keys_t *keys, node_auth_t **out)
{
    if (!keys || keys->num_node == 0)
        return OG_EINVAL;
    node_auth_t *a = calloc(1, sizeof(*a));
    if (!a)
        return -ENOMEM;
    pthread_mutex_init(&a->mu, NULL);
    a->fifo = malloc(NODE_AUTH_NONCES * sizeof(*a->fifo));
    a->buckets = malloc(2 * NODE_AUTH_NONCES * sizeof(*a->buckets));
    if (!a->fifo || !a->buckets) {
        node_auth_free(a);
        return -ENOMEM;
    }
    memset(a->buckets, 0xff, 2 * NODE_AUTH_NONCES * sizeof(*a->buckets)); /* NONE */
    memcpy(a->keys, keys->node, keys->num_node * sizeof(og_key_t));
    a->nkeys = keys->num_node;
    for (size_t i = 0; i < a->nkeys; i++) {
        if (og_hmac_key_new(a->keys[i].key, OG_KEY_BYTES, &a->macs[i]) != 0) {
            node_auth_free(a);
            return -ENOMEM;
        }
    }
    *out = a;
    return 0;
}

void node_auth_free(node_auth_t *a)
{
    if (!a)
        return;
    for (size_t i = 0; i < a->nkeys; i++)
        og_hmac_key_free(a->macs[i]);
    OPENSSL_cleanse(a->keys, sizeof(a->keys));
    free(a->fifo);
    free(a->buckets);
    pthread_mutex_destroy(&a->mu);
    free(a);
}

static uint32_t *nonce_bucket(node_auth_t *a, const uint8_t nonce[16])
{
    uint64_t h = (og_be64_get(nonce) ^ og_be64_get(nonce + 8)) * 0x9e3779b97f4a7c15ull;
    return &a->buckets[h >> 45 & (2 * NODE_AUTH_NONCES - 1)];
}

static int nonce_seen(node_auth_t *a, const uint8_t nonce[16])
{
    for (uint32_t i = *nonce_bucket(a, nonce); i != NONE; i = a->fifo[i].next)
        if (memcmp(a->fifo[i].nonce, nonce, 16) == 0)
            return 1;
    return 0;
}

/* Drops the oldest nonce; its timestamp becomes the floor. */
static void nonce_drop_oldest(node_auth_t *a)
{
    uint32_t slot = (uint32_t)a->head;
    nonce_t *e = &a->fifo[slot];
    uint32_t *pp = nonce_bucket(a, e->nonce);
    while (*pp != slot)
        pp = &a->fifo[*pp].next;
    *pp = e->next;
    if (e->ts > a->floor_ts)
        a->floor_ts = e->ts;
    a->head = (a->head + 1) % NODE_AUTH_NONCES;
    a->count--;
}

/* Remembers a nonce, first dropping those out of the window and, when full, the oldest. */
static void nonce_add(node_auth_t *a, const uint8_t nonce[16], uint64_t ts, uint64_t now_ms)
{
    while (a->count > 0 && a->fifo[a->head].ts + NODE_AUTH_WINDOW_MS < now_ms)
        nonce_drop_oldest(a);
    if (a->count == NODE_AUTH_NONCES)
        nonce_drop_oldest(a);
    uint32_t slot = (uint32_t)((a->head + a->count) % NODE_AUTH_NONCES);
    uint32_t *b = nonce_bucket(a, nonce);
    nonce_t *e = &a->fifo[slot];
    memcpy(e->nonce, nonce, 16);
    e->ts = ts;
    e->next = *b;
    *b = slot;
    a->count++;
}

/* Admits a signed request's timestamp and nonce: in the window, above the floor and never seen
 * (then remembered). The MAC is checked before, outside the lock. 0, or NODE_ESTALE with *why. */
static int nonce_admit(node_auth_t *a, const uint8_t nonce[16], uint64_t ts, uint64_t now_ms, const char **why)
{
    int rc = NODE_ESTALE;
    pthread_mutex_lock(&a->mu);
    *why = "timestamp outside the window";
    if (ts + NODE_AUTH_WINDOW_MS < now_ms || ts > now_ms + NODE_AUTH_WINDOW_MS || ts <= a->floor_ts)
        goto out_unlock;
    *why = "replayed nonce";
    if (nonce_seen(a, nonce))
        goto out_unlock;
    nonce_add(a, nonce, ts, now_ms);
    rc = 0;
out_unlock:
    pthread_mutex_unlock(&a->mu);
    return rc;
}

/* Splits "OG1 id ts nonce digest sig" into its five fields. 0 or NODE_EAUTH. */
static int parse_auth(og_str_t v, og_str_t f[5])
{
    static const size_t fixed[5] = {0, 0, 32, 32, 64}; /* 0: checked by the caller */
    if (v.len < 4 || memcmp(v.base, "OG1 ", 4) != 0)
        return NODE_EAUTH;
    const char *p = v.base + 4, *end = v.base + v.len;
    for (int i = 0; i < 5; i++) {
        const char *sp = i < 4 ? memchr(p, ' ', (size_t)(end - p)) : end;
        if (!sp || sp == p)
            return NODE_EAUTH;
        f[i] = (og_str_t){p, (size_t)(sp - p)};
        if (fixed[i] && f[i].len != fixed[i])
            return NODE_EAUTH;
        p = sp + 1;
    }
    return f[0].len <= OG_KEY_ID_MAX && f[1].len <= 19 ? 0 : NODE_EAUTH;
}

int node_auth_check_head(node_auth_t *a, og_str_t method, og_str_t target, const og_header_t *h, size_t nh,
                         uint64_t body_len, uint64_t now_ms, node_auth_body_t *body, const char **why)
{
    og_str_t f[5];
    uint8_t nonce[16];
    uint64_t ts;
    char sig[65];
    const og_key_t *key;
    int rc;
    og_str_t v = og_header_find(h, nh, NODE_AUTH_HEADER);
    *why = "no signature";
    if (!v.base)
        return NODE_EAUTH;
    *why = "malformed signature";
    if (parse_auth(v, f) != 0 || og_parse_dec(f[1], 19, &ts) != 0 || og_unhex(f[2].base, 32, nonce, 16) != 0 ||
        og_unhex(f[3].base, 32, body->digest, 16) != 0)
        return NODE_EAUTH;
    *why = "unknown key id";
    if (!(key = og_keys_find(a->keys, a->nkeys, f[0])))
        return NODE_EAUTH;
    *why = "out of memory";
    const og_hmac_key_t *mac = a->macs[key - a->keys];
    if (request_mac(mac, f[0], f[1], f[2], method, target, body_len, f[3], h, nh, sig) != 0)
        return NODE_EAUTH;
    *why = "bad signature";
    if (CRYPTO_memcmp(sig, f[4].base, 64) != 0)
        return NODE_EAUTH;
    if ((rc = nonce_admit(a, nonce, ts, now_ms, why)) != 0)
        return rc;
    body->key = key;
    body->mac = mac;
    memcpy(body->nonce, f[2].base, 32);
    body->nonce[32] = '\0';
    *why = NULL;
    return 0;
}

int node_auth_check_body(const node_auth_body_t *b, const void *body, size_t len)
{
    uint8_t d[16];
    node_auth_body_digest(body, len, d);
    return CRYPTO_memcmp(d, b->digest, 16) == 0 ? 0 : NODE_EAUTH;
}

int node_auth_sign_response(const node_auth_body_t *b, int status, uint64_t content_len, const og_header_t *h,
                            size_t nh, const void *body, size_t body_len, char *out)
{
    uint8_t digest[16];
    char digest_hex[33], sig[65];
    node_auth_body_digest(body, body_len, digest);
    og_hex(digest, 16, digest_hex);
    int rc =
        response_mac(b->key, b->mac, (og_str_t){b->nonce, 32}, status, content_len, (og_str_t){digest_hex, 32}, h, nh, sig);
    if (rc == 0)
        snprintf(out, NODE_AUTH_VALUE_MAX, "OG1R %s %s %s", b->key->id, digest_hex, sig);
    return rc;
}

int node_auth_check_response(const node_signer_t *s, const char *req_auth, int status, uint64_t content_len,
                             const og_header_t *h, size_t nh, const void *body, size_t body_len)
{
    og_str_t v = og_header_find(h, nh, NODE_AUTH_HEADER), rf[5];
    og_str_t id = og_str(s->key.id);
    uint8_t digest[16];
    char digest_hex[33], sig[65];
    /* "OG1R <id> <digest> <sig>", the id ours; the nonce is the 3rd field of our request's value. */
    size_t want = 5 + id.len + 1 + 32 + 1 + 64;
    if (!v.base || v.len != want || memcmp(v.base, "OG1R ", 5) != 0 || memcmp(v.base + 5, id.base, id.len) != 0 ||
        v.base[5 + id.len] != ' ' || v.base[5 + id.len + 33] != ' ' || parse_auth(og_str(req_auth), rf) != 0)
        return NODE_EAUTH;
    og_str_t claimed = {v.base + 5 + id.len + 1, 32};
    node_auth_body_digest(body, body_len, digest);
    og_hex(digest, 16, digest_hex);
    if (CRYPTO_memcmp(claimed.base, digest_hex, 32) != 0 ||
        response_mac(&s->key, s->mac, rf[2], status, content_len, claimed, h, nh, sig) != 0)
        return NODE_EAUTH;
    return CRYPTO_memcmp(sig, v.base + want - 64, 64) == 0 ? 0 : NODE_EAUTH;
}
