/*
 * swift_auth.c: Swift's TempAuth-style GET /auth/v1.0: checks a Swift user's key and answers
 * a stateless token (minted by iam/iam_token.c) and the storage URL.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <strings.h>

#include "swift_int.h"

/* ---------------------------------------------------------------- GET /auth/v1.0 */

static og_str_t header2(swift_req_t *r, const char *a, const char *b)
{
    og_str_t v = http_req_header(r->http, a);
    return v.base != NULL ? v : http_req_header(r->http, b);
}

void swift_auth(swift_req_t *r)
{
    og_str_t user = header2(r, "x-auth-user", "x-storage-user"), key = header2(r, "x-auth-key", "x-storage-pass");
    char account[64], name[128], token[IAM_TOKEN_MAX], url[512], expires[24];
    iam_ident_t id = {0};
    uint8_t secret[32];
    int rc;

    if (!og_str_eq(r->info->method, "GET") && !og_str_eq(r->info->method, "HEAD")) {
        swift_error(r, 405);
        return;
    }
    const char *colon = user.len ? memchr(user.base, ':', user.len) : NULL;
    if (colon == NULL || key.len == 0) {
        swift_error(r, 401);
        return;
    }
    size_t al = (size_t)(colon - user.base), ul = user.len - al - 1;
    if (al == 0 || al >= sizeof(account) || ul == 0 || ul >= sizeof(name)) {
        swift_error(r, 401);
        return;
    }
    memcpy(account, user.base, al), account[al] = '\0';
    memcpy(name, colon + 1, ul), name[ul] = '\0';
    rc = iam_swift_user_auth(r->sw->iam, account, name, key, &id);
    if (rc == OG_ENOTFOUND || rc == -EACCES) {
        swift_error(r, 401);
        return;
    }
    if (rc != 0 || (rc = iam_token_key(r->sw->iam, secret)) != 0) {
        swift_error_rc(r, rc);
        return;
    }
    id.expires = r->now_s + r->sw->token_life;
    long tlen = iam_token_mint(secret, &id, token, sizeof(token));
    if (tlen < 0) {
        swift_error_rc(r, (int)tlen);
        return;
    }
    og_str_t host = http_req_header(r->http, "host");
    if (host.len == 0 || host.len > 256 || memchr(host.base, '/', host.len) != NULL)
        host = OG_STR_LIT("localhost");
    /* The storage URL keeps the scheme the client authenticated over (https on the TLS port). */
    int ulen = snprintf(url, sizeof(url), "%s://%.*s/v1/AUTH_%s", r->info->tls ? "https" : "http", (int)host.len,
                        host.base, account);
    int elen = snprintf(expires, sizeof(expires), "%u", (unsigned)r->sw->token_life);
    og_header_t hdrs[] = {
        {OG_STR_LIT("X-Storage-Url"), {url, (size_t)ulen}},
        {OG_STR_LIT("X-Auth-Token"), {token, (size_t)tlen}},
        {OG_STR_LIT("X-Storage-Token"), {token, (size_t)tlen}},
        {OG_STR_LIT("X-Auth-Token-Expires"), {expires, (size_t)elen}},
    };
    swift_send(r, 200, hdrs, sizeof(hdrs) / sizeof(hdrs[0]), NULL, NULL, 0);
}
