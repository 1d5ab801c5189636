/*
 * iam_token.c: Swift's stateless tokens, the cluster's token key and container ACLs (iam.h).
 *
 * A token is "AUTH_tk" + hex(payload) + hex(mac), payload = u8 version | u64 expires |
 * u8 flags | u8 account length | account | user, mac = the first 16 bytes of
 * HMAC-SHA256(key, payload). The key is one random 32-byte record of table "cluster" made by the
 * first gateway that needs it, so every gateway validates every token with no lookup per
 * request. Two gateways racing to make the key both write one and last-writer-wins keeps one of
 * them on every replica; each gateway re-reads the key (at most every SECRET_RECHECK_MS) until
 * the record is SECRET_SETTLE_NS old and only then caches it for good, so all gateways end up on
 * the winner within a fraction of a second. A token signed with the losing key fails with 401,
 * on which Swift clients authenticate again.
 * Consequence of statelessness: removing a user does not revoke its tokens before they expire.
 */
#include <errno.h>
#include <stdlib.h>
#include <strings.h>
#include <sys/random.h>

#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>

#include "iam_int.h"

#define TOKEN_PREFIX "AUTH_tk"
#define TOKEN_VERSION 1
#define TOKEN_MAC_LEN 16
#define SECRET_TABLE "cluster"
#define SECRET_KEY "swift-token-key"
#define SECRET_VERSION 1
/* How long after its creation the key record may still change. A gateway that read "no key"
 * before another one's write reached a quorum writes its own; both writes are stamped (with each
 * writer's clock) within a request timeout of each other. A minute covers that and modest clock
 * skew between gateways. */
#define SECRET_SETTLE_NS (60ull * 1000000000ull)
/* While the record is younger than that, a gateway re-reads it at most this often. */
#define SECRET_RECHECK_MS 250
/* iam_t.have_secret: no key yet, a key that may still change, the final key. */
enum { SECRET_NONE = 0, SECRET_UNSETTLED = 1, SECRET_FINAL = 2 };

/* ---------------------------------------------------------------- tokens */

long iam_token_mint(const uint8_t key[32], const iam_ident_t *id, char *out, size_t cap)
{
    unsigned char payload[1 + 8 + 1 + 1 + sizeof(id->account) + sizeof(id->user)], mac[EVP_MAX_MD_SIZE];
    unsigned int maclen = 0;
    size_t al = strnlen(id->account, sizeof(id->account)), ul = strnlen(id->user, sizeof(id->user)), n = 0;
    if (al == 0 || al == sizeof(id->account) || ul == sizeof(id->user))
        return OG_EINVAL;
    payload[n++] = TOKEN_VERSION;
    for (int i = 7; i >= 0; i--)
        payload[n++] = (unsigned char)(id->expires >> (8 * i));
    payload[n++] = id->flags;
    payload[n++] = (unsigned char)al;
    memcpy(payload + n, id->account, al);
    n += al;
    memcpy(payload + n, id->user, ul);
    n += ul;
    if (HMAC(EVP_sha256(), key, 32, payload, n, mac, &maclen) == NULL)
        return -ENOMEM;
    size_t need = sizeof(TOKEN_PREFIX) - 1 + 2 * (n + TOKEN_MAC_LEN);
    if (need + 1 > cap)
        return OG_ETOOBIG;
    memcpy(out, TOKEN_PREFIX, sizeof(TOKEN_PREFIX) - 1);
    og_hex(payload, n, out + sizeof(TOKEN_PREFIX) - 1);
    og_hex(mac, TOKEN_MAC_LEN, out + sizeof(TOKEN_PREFIX) - 1 + 2 * n);
    return (long)need;
}

int iam_token_verify(const uint8_t key[32], og_str_t token, uint64_t now_s, iam_ident_t *id)
{
    unsigned char buf[(IAM_TOKEN_MAX) / 2], mac[EVP_MAX_MD_SIZE];
    unsigned int maclen = 0;
    size_t pl = sizeof(TOKEN_PREFIX) - 1;
    if (token.len <= pl + 2 * (TOKEN_MAC_LEN + 11) || token.len >= IAM_TOKEN_MAX || token.len % 2 != 1 ||
        memcmp(token.base, TOKEN_PREFIX, pl) != 0)
        return OG_EINVAL;
    size_t n = (token.len - pl) / 2; /* payload + mac bytes */
    if (og_unhex(token.base + pl, 2 * n, buf, n) != 0)
        return OG_EINVAL;
    n -= TOKEN_MAC_LEN;
    if (HMAC(EVP_sha256(), key, 32, buf, n, mac, &maclen) == NULL || CRYPTO_memcmp(mac, buf + n, TOKEN_MAC_LEN) != 0)
        return OG_EINVAL;
    /* Authentic from here on: the layout was written by iam_token_mint. */
    size_t al = buf[10];
    if (buf[0] != TOKEN_VERSION || al == 0 || al >= sizeof(id->account) || 11 + al > n ||
        n - 11 - al >= sizeof(id->user))
        return OG_EINVAL;
    memset(id, 0, sizeof(*id));
    for (int i = 1; i <= 8; i++)
        id->expires = id->expires << 8 | buf[i];
    id->flags = buf[9];
    memcpy(id->account, buf + 11, al);
    memcpy(id->user, buf + 11 + al, n - 11 - al);
    return id->expires > now_s ? 0 : OG_ENOTFOUND;
}

/* ---------------------------------------------------------------- ACLs */

static int part_matches(og_str_t pattern, const char *value)
{
    return og_str_eq(pattern, "*") || og_str_eq(pattern, value);
}

int iam_acl_allows(og_str_t acl, const iam_ident_t *id, int mode)
{
    int referrer = 0, rlistings = 0, granted = 0;
    while (acl.len > 0) {
        const char *comma = memchr(acl.base, ',', acl.len);
        og_str_t el = {acl.base, comma ? (size_t)(comma - acl.base) : acl.len};
        acl.base += el.len + (comma ? 1 : 0);
        acl.len -= el.len + (comma ? 1 : 0);
        el = og_str_trim(el);
        if (el.len == 0)
            continue;
        if (el.len >= 3 && memcmp(el.base, ".r:", 3) == 0) {
            /* Referrer grants: only "any referrer" is meaningful without a Referer check; a
             * "-" entry revokes rather than grants. */
            if (og_str_eq((og_str_t){el.base + 3, el.len - 3}, "*"))
                referrer = 1;
            continue;
        }
        if (og_str_eq(el, ".rlistings")) {
            rlistings = 1;
            continue;
        }
        if (el.base[0] == '.' || id == NULL)
            continue;
        const char *colon = memchr(el.base, ':', el.len);
        if (colon == NULL) {
            granted |= og_str_eq(el, id->account); /* a whole account */
            continue;
        }
        og_str_t acct = {el.base, (size_t)(colon - el.base)}, user = {colon + 1, el.len - acct.len - 1};
        granted |= part_matches(acct, id->account) && part_matches(user, id->user);
    }
    if (granted)
        return 1;
    return referrer && (mode == IAM_ACL_READ || (mode == IAM_ACL_LISTING && rlistings));
}

/* ---------------------------------------------------------------- the cluster's token key */

/* The stored key and its record's stamp. max_age_ms 0 reads a quorum; more may answer from this
 * gateway's record cache (cluster_rec_get_cached). 0, OG_ENOTFOUND, OG_EPROTO or a cluster
 * error. */
static int secret_read(cluster_t *cl, uint32_t max_age_ms, uint8_t out[32], uint64_t *ts)
{
    og_rec_t rec;
    char *buf = NULL;
    int rc = max_age_ms ? cluster_rec_get_cached(cl, SECRET_TABLE, OG_STR_LIT(SECRET_KEY), max_age_ms, &rec, &buf)
                        : cluster_rec_get(cl, SECRET_TABLE, OG_STR_LIT(SECRET_KEY), &rec, &buf);
    if (rc != 0)
        return rc;
    if (rec.flags & OG_REC_TOMBSTONE)
        rc = OG_ENOTFOUND;
    else if (rec.summary.len != 33 || rec.summary.base[0] != SECRET_VERSION)
        rc = OG_EPROTO;
    else
        memcpy(out, rec.summary.base + 1, 32), *ts = rec.ts;
    free(buf);
    return rc;
}

/* Settled: the record is old enough that no racing creator can still replace it. */
static int secret_settled(uint64_t rec_ts, uint64_t now_ns)
{
    return now_ns > rec_ts && now_ns - rec_ts >= SECRET_SETTLE_NS;
}

int iam_token_key(iam_t *iam, uint8_t out[32])
{
    cluster_t *cl = iam->cl;
    uint8_t key[32];
    uint64_t ts = 0;
    int rc = 0;
    pthread_mutex_lock(&iam->key_mu);
    if (iam->have_secret == SECRET_FINAL)
        goto out_copy;
    rc = secret_read(cl, SECRET_RECHECK_MS, key, &ts);
    if (rc == OG_ENOTFOUND) {
        char summary[33];
        og_rec_t rec = {.summary = {summary, sizeof(summary)}};
        summary[0] = SECRET_VERSION;
        if (getrandom(summary + 1, 32, 0) != 32) {
            rc = -EIO;
            goto out_unlock;
        }
        cluster_stamp(cl, &rec.ts, &rec.tiebreak);
        if ((rc = cluster_rec_put(cl, SECRET_TABLE, OG_STR_LIT(SECRET_KEY), &rec)) != 0)
            goto out_unlock;
        /* Read back: a concurrent creator may have won already (or win later: unsettled). */
        rc = secret_read(cl, 0, key, &ts);
    }
    if (rc == 0) {
        memcpy(iam->secret, key, 32);
        iam->have_secret = secret_settled(ts, og_time_ns()) ? SECRET_FINAL : SECRET_UNSETTLED;
    } else if (iam->have_secret == SECRET_UNSETTLED) {
        rc = 0; /* a failed re-check: the key we have is still the best guess */
    } else {
        goto out_unlock;
    }
out_copy:
    memcpy(out, iam->secret, 32);
out_unlock:
    pthread_mutex_unlock(&iam->key_mu);
    return rc;
}

