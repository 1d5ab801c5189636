/*
 * iam_token.c: Swift's stateless tokens, the cluster's token key and container ACLs (iam.h).
 *
 * A token is "AUTH_tk" + hex(payload) + hex(mac), payload = u8 version | u64 expires |
 * u64 generation | u8 flags | u8 account length | account | user, mac = the first 16 bytes of
 * HMAC-SHA256(key, payload). The key is one random 32-byte record of table "cluster" (sealed under
 * the cluster's secrets key, iam_seal.c) made by the first gateway that needs it, so every gateway
 * validates every token's MAC with no lookup. Two gateways racing to make the key both write one
 * and last-writer-wins keeps one of them on every replica; each gateway re-reads the key (at most
 * every SECRET_RECHECK_MS) until the record is SECRET_SETTLE_NS old and only then caches it for
 * good, so all gateways end up on the winner within a fraction of a second. A token signed with
 * the losing key fails with 401, on which Swift clients authenticate again.
 * Revocation: a valid MAC is not enough; iam_token_check also wants the token's generation to be
 * its user's current one (iam_swift_user_gen: cached for at most IAM_CACHE_TTL_MS), which every
 * swift-user-add changes and swift-user-delete removes. Version-1 tokens (no generation) are
 * refused: clients authenticate again once after the upgrade.
 */
#include <errno.h>
#include <stdlib.h>
#include <strings.h>

#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>
#include <openssl/rand.h>

#include "iam_int.h"

#define TOKEN_PREFIX "AUTH_tk"
#define TOKEN_VERSION 2
#define TOKEN_HEAD 19 /* version, expires, generation, flags, account length */
#define TOKEN_MAC_LEN 16
#define SECRET_TABLE "cluster"
#define SECRET_KEY "swift-token-key"
#define SECRET_PLAIN 1  /* u8 1 | 32 bytes: read, and rewritten sealed */
#define SECRET_SEALED 2 /* u8 2 | iam_seal(32 bytes) */
#define SECRET_AAD OG_STR_LIT(SECRET_TABLE "/" SECRET_KEY)
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
    unsigned char payload[TOKEN_HEAD + sizeof(id->account) + sizeof(id->user)], mac[EVP_MAX_MD_SIZE];
    unsigned int maclen = 0;
    size_t al = strnlen(id->account, sizeof(id->account)), ul = strnlen(id->user, sizeof(id->user)), n = 0;
    if (al == 0 || al == sizeof(id->account) || ul == sizeof(id->user))
        return OG_EINVAL;
    payload[n++] = TOKEN_VERSION;
    og_be64_put(payload + n, id->expires);
    og_be64_put(payload + n + 8, id->gen);
    n += 16;
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
    if (token.len <= pl + 2 * (TOKEN_MAC_LEN + TOKEN_HEAD) || token.len >= IAM_TOKEN_MAX || token.len % 2 != 1 ||
        memcmp(token.base, TOKEN_PREFIX, pl) != 0)
        return OG_EINVAL;
    size_t n = (token.len - pl) / 2; /* payload + mac bytes */
    if (og_unhex(token.base + pl, 2 * n, buf, n) != 0)
        return OG_EINVAL;
    n -= TOKEN_MAC_LEN;
    if (HMAC(EVP_sha256(), key, 32, buf, n, mac, &maclen) == NULL || CRYPTO_memcmp(mac, buf + n, TOKEN_MAC_LEN) != 0)
        return OG_EINVAL;
    /* Authentic from here on: the layout was written by iam_token_mint. */
    size_t al = buf[TOKEN_HEAD - 1];
    if (buf[0] != TOKEN_VERSION || al == 0 || al >= sizeof(id->account) || TOKEN_HEAD + al > n ||
        n - TOKEN_HEAD - al >= sizeof(id->user))
        return OG_EINVAL;
    memset(id, 0, sizeof(*id));
    id->expires = og_be64_get(buf + 1);
    id->gen = og_be64_get(buf + 9);
    id->flags = buf[17];
    memcpy(id->account, buf + TOKEN_HEAD, al);
    memcpy(id->user, buf + TOKEN_HEAD + al, n - TOKEN_HEAD - al);
    return id->expires > now_s ? 0 : OG_ENOTFOUND;
}

int iam_token_check(iam_t *iam, og_str_t token, uint64_t now_s, iam_ident_t *id)
{
    uint8_t key[32];
    uint64_t gen;
    int rc;
    if ((rc = iam_token_key(iam, key)) != 0)
        return rc;
    rc = iam_token_verify(key, token, now_s, id);
    OPENSSL_cleanse(key, sizeof(key));
    if (rc != 0)
        return rc;
    rc = iam_swift_user_gen(iam, id->account, id->user, &gen);
    if (rc == 0 && gen != id->gen)
        rc = OG_ENOTFOUND; /* re-keyed or demoted since: revoked */
    return rc;
}

/* ---------------------------------------------------------------- the cluster's token key */

/* The stored key and its record's stamp; *stale = 1 when the record is not sealed under the
 * current secrets key. max_age_ms 0 reads a quorum; more may answer from this gateway's record
 * cache (cluster_rec_get_cached). 0, OG_ENOTFOUND, OG_EPROTO or a cluster error. */
static int secret_read(iam_t *iam, uint32_t max_age_ms, uint8_t out[32], uint64_t *ts, int *stale)
{
    cluster_t *cl = iam->cl;
    og_rec_t rec;
    char *buf = NULL;
    int rc = max_age_ms ? cluster_rec_get_cached(cl, SECRET_TABLE, OG_STR_LIT(SECRET_KEY), max_age_ms, &rec, &buf)
                        : cluster_rec_get(cl, SECRET_TABLE, OG_STR_LIT(SECRET_KEY), &rec, &buf);
    if (rc != 0)
        return rc;
    const char *p = rec.summary.base;
    *stale = 1;
    if (rec.flags & OG_REC_TOMBSTONE)
        rc = OG_ENOTFOUND;
    else if (rec.summary.len == 33 && p[0] == SECRET_PLAIN)
        memcpy(out, p + 1, 32);
    else if (rec.summary.len < 1 || p[0] != SECRET_SEALED ||
             iam_unseal(iam, SECRET_AAD, (og_str_t){p + 1, rec.summary.len - 1}, out, 32, stale) != 32)
        rc = OG_EPROTO;
    if (rc == 0)
        *ts = rec.ts;
    if (rec.summary.len > 0)
        OPENSSL_cleanse(buf + (p - buf), rec.summary.len);
    free(buf);
    return rc;
}

/* Stores key sealed: a new record stamped now (old_ts 0), or the rewrite of the record stamped
 * old_ts in the current form (iam_rewrite_stamp). 0 or an error. */
static int secret_write(iam_t *iam, const uint8_t key[32], uint64_t old_ts)
{
    char summary[1 + IAM_SEAL_OVERHEAD + 32];
    summary[0] = SECRET_SEALED;
    long n = iam_seal(iam, SECRET_AAD, key, 32, summary + 1, sizeof(summary) - 1);
    if (n < 0)
        return (int)n;
    og_rec_t rec = {.summary = {summary, 1 + (size_t)n}};
    if (old_ts)
        iam_rewrite_stamp(old_ts, &rec);
    else
        cluster_stamp(iam->cl, &rec.ts, &rec.tiebreak);
    return cluster_rec_put(iam->cl, SECRET_TABLE, OG_STR_LIT(SECRET_KEY), &rec);
}

int iam_token_key_upgrade(iam_t *iam, int *rewritten)
{
    uint8_t key[32];
    uint64_t ts;
    int stale = 0, rc = secret_read(iam, 0, key, &ts, &stale);
    *rewritten = 0;
    if (rc == OG_ENOTFOUND)
        rc = 0; /* nothing stored yet: the first gateway to need one seals it */
    else if (rc == 0 && stale && (rc = secret_write(iam, key, ts)) == 0)
        *rewritten = 1;
    OPENSSL_cleanse(key, sizeof(key));
    return rc;
}

/* Settled: the record is old enough that no racing creator can still replace it. */
static int secret_settled(uint64_t rec_ts, uint64_t now_ns)
{
    return now_ns > rec_ts && now_ns - rec_ts >= SECRET_SETTLE_NS;
}

int iam_token_key(iam_t *iam, uint8_t out[32])
{
    uint8_t key[32];
    uint64_t ts = 0;
    int rc = 0, stale = 0;
    pthread_mutex_lock(&iam->key_mu);
    if (iam->have_secret == SECRET_FINAL)
        goto out_copy;
    rc = secret_read(iam, SECRET_RECHECK_MS, key, &ts, &stale);
    if (rc == OG_ENOTFOUND) {
        if (RAND_bytes(key, sizeof(key)) != 1) {
            rc = -EIO;
            goto out_unlock;
        }
        if ((rc = secret_write(iam, key, 0)) != 0)
            goto out_unlock;
        /* Read back: a concurrent creator may have won already (or win later: unsettled). */
        rc = secret_read(iam, 0, key, &ts, &stale);
    } else if (rc == 0 && stale) {
        secret_write(iam, key, ts); /* best effort: the next reader retries */
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
    OPENSSL_cleanse(key, sizeof(key));
    return rc;
}
