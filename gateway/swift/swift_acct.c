/*
 * Swift account and container operations.
 *
 * Account: HEAD/GET (usage, metadata, container listing), POST (X-Account-Meta-*; the quota
 * X-Account-Meta-Quota-Bytes only from a reseller admin, as Swift's account_quotas). The account
 * record (iam/iam.h) holds the metadata; an account without one reads as empty.
 * Container = bucket: PUT (201 new / 202 existing), POST metadata, ACLs and versioning
 * (X-Versions-Enabled: swift_version.c; X-Versions-Location, X-History-Location: swift_legacy.c),
 * HEAD, GET listing, DELETE (409 while it holds live objects or S3 multipart uploads in
 * progress). Container names are per account: a container named like another account's bucket
 * gets a record and tables of its own (core_bucket_find, docs/architecture.md "Namespaces").
 */
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <strings.h>

#include "swift_int.h"

static const char *const container_extra[] = {"x-container-read", "x-container-write", NULL};

/* Adds stored metadata (lowercase, full names) as title-cased headers into hdrs (names into the
 * caller's buffer names, NAME_CAP bytes each); for the owner, also the ACLs and TempURL keys.
 * Returns the new count. */
#define NAME_CAP 160
static size_t add_meta(const og_header_t *meta, size_t n, const char *prefix, int owner, og_header_t *hdrs,
                       size_t k, char (*names)[NAME_CAP])
{
    size_t plen = strlen(prefix);
    for (size_t i = 0; i < n; i++) {
        og_str_t name = meta[i].name;
        if (!owner && swift_tempurl_key_name(name))
            continue; /* Swift shows the TempURL keys to owners only (swift_owner_headers) */
        if (name.len > plen && strncmp(name.base, prefix, plen) == 0) {
            /* the title-cased prefix is the stored one: x-container-meta- -> X-Container-Meta- */
            char tp[32];
            swift_title("", (og_str_t){prefix, plen}, tp, sizeof(tp));
            size_t l = swift_title(tp, (og_str_t){name.base + plen, name.len - plen}, names[i], NAME_CAP);
            hdrs[k++] = (og_header_t){{names[i], l}, meta[i].value};
        } else if (owner && !(name.len > 8 && strncmp(name.base, "x-onggi-", 8) == 0)) {
            /* (x-onggi-*: the gateway's own, such as the S3 versioning state) */
            size_t l = swift_title("", name, names[i], NAME_CAP);
            hdrs[k++] = (og_header_t){{names[i], l}, meta[i].value};
        }
    }
    return k;
}

/* ---------------------------------------------------------------- account */

/* Sends a HEAD (204) or GET answer: the listing when GET asked for one (204 for an empty text
 * listing, as Swift). */
static void send_read(swift_req_t *r, const core_bucket_t *b, const og_header_t *hdrs, size_t k)
{
    og_buf_t body = {0};
    const char *ctype = "text/plain; charset=utf-8";
    int rc = swift_is_method(r, "GET") ? swift_list_body(r, b, &body, &ctype) : 0;
    if (rc != 0)
        swift_error_rc(r, rc);
    else
        swift_send(r, body.len ? 200 : 204, hdrs, k, ctype, body.buf, body.len);
    og_buf_free(&body);
}

/* Answers HEAD, or GET with the listing, with the account's usage and metadata headers. */
static void account_read(swift_req_t *r)
{
    core_account_t a;
    core_usage_t u;
    uint64_t nb = 0;
    char cnt[3][24], ts[32];
    int rc = core_account_get(r->cl, r->account, &a);
    if (rc == OG_ENOTFOUND)
        rc = 0, a.created_ns = og_time_ns();
    if (rc != 0) {
        swift_error_rc(r, rc);
        return;
    }
    if ((rc = core_usage_account(r->cl, r->account, r->now_s, &nb, &u)) != 0) {
        swift_error_rc(r, rc);
        goto out_free;
    }
    if (u.skipped)
        fprintf(stderr, "onggi-gateway: request %s: account %s: %" PRIu64 " container record(s) unreadable, "
                "left out of the usage\n", r->trans_id, r->account, u.skipped);
    og_header_t *hdrs = malloc((12 + a.num_meta) * sizeof(*hdrs));
    char (*names)[NAME_CAP] = malloc((a.num_meta + 1) * NAME_CAP);
    if (hdrs == NULL || names == NULL) {
        free(hdrs);
        free(names);
        swift_error_rc(r, -ENOMEM);
        goto out_free;
    }
    size_t k = 0;
    hdrs[k++] = (og_header_t){OG_STR_LIT("X-Account-Container-Count"),
                              {cnt[0], (size_t)snprintf(cnt[0], 24, "%" PRIu64, nb)}};
    hdrs[k++] = (og_header_t){OG_STR_LIT("X-Account-Object-Count"),
                              {cnt[1], (size_t)snprintf(cnt[1], 24, "%" PRIu64, u.objects)}};
    hdrs[k++] = (og_header_t){OG_STR_LIT("X-Account-Bytes-Used"),
                              {cnt[2], (size_t)snprintf(cnt[2], 24, "%" PRIu64, u.bytes)}};
    hdrs[k++] = (og_header_t){OG_STR_LIT("X-Timestamp"), {ts, swift_timestamp(a.created_ns, ts)}};
    /* Swift reports usage per storage policy too; Onggi has the one policy. */
    hdrs[k++] = (og_header_t){OG_STR_LIT("X-Account-Storage-Policy-Policy-0-Container-Count"), hdrs[0].value};
    hdrs[k++] = (og_header_t){OG_STR_LIT("X-Account-Storage-Policy-Policy-0-Object-Count"), hdrs[1].value};
    hdrs[k++] = (og_header_t){OG_STR_LIT("X-Account-Storage-Policy-Policy-0-Bytes-Used"), hdrs[2].value};
    hdrs[k++] = (og_header_t){OG_STR_LIT("Accept-Ranges"), OG_STR_LIT("bytes")};
    if (!og_query_get(r->info->query, "format", NULL))
        hdrs[k++] = (og_header_t){OG_STR_LIT("Vary"), OG_STR_LIT("Accept")};
    /* account ACL grantees read the metadata too, but not what Swift shows owners only */
    k = add_meta(a.meta, a.num_meta, "x-account-meta-", r->is_owner, hdrs, k, names);
    for (size_t i = 0; i < a.num_meta && r->is_owner; i++)
        if (og_str_eq(a.meta[i].name, IAM_ACCT_ACL_HEADER))
            hdrs[k++] = (og_header_t){OG_STR_LIT("X-Account-Access-Control"), a.meta[i].value};
    send_read(r, NULL, hdrs, k);
    free(names);
    free(hdrs);
out_free:
    core_account_free(&a);
}

/* The X-Account-Access-Control of an account POST, checked as TempAuth does: 1 with *set (the
 * header came) and its canonical form in canon (empty: remove the ACL), or 0 after answering (400
 * with TempAuth's body for a bad value). */
static int acct_acl_valid(swift_req_t *r, int *set, og_buf_t *canon)
{
    og_str_t v = http_req_header(r->http, "x-account-access-control");
    char why[300];
    int rc;
    *set = v.base != NULL;
    if (!*set || (rc = iam_account_acl_parse(v, canon, why, sizeof(why))) == 0)
        return 1;
    if (rc != OG_EINVAL) {
        swift_error_rc(r, rc);
        return 0;
    }
    og_buf_t body = {0};
    if (og_buf_printf(&body, "X-Account-Access-Control invalid: %s\n\nInput: %.*s\n", why, (int)v.len, v.base) != 0)
        swift_error_rc(r, -ENOMEM);
    else
        swift_send(r, 400, NULL, 0, "text/plain", body.buf, body.len);
    og_buf_free(&body);
    return 0;
}

/* Replaces the stored account ACL in meta[0..n) (which has room for one more entry: the request
 * carried the header, which swift_meta_merge does not keep) with canon; returns the new count. */
static size_t acct_acl_apply(og_header_t *meta, size_t n, const og_buf_t *canon)
{
    size_t k = 0;
    for (size_t i = 0; i < n; i++)
        if (!og_str_eq(meta[i].name, IAM_ACCT_ACL_HEADER))
            meta[k++] = meta[i];
    if (canon->len > 0)
        meta[k++] = (og_header_t){OG_STR_LIT(IAM_ACCT_ACL_HEADER), {canon->buf, canon->len}};
    return k;
}

static void account_post(swift_req_t *r)
{
    core_account_t a;
    og_header_t *meta;
    size_t n;
    char *mem = NULL;
    og_buf_t acl = {0};
    int set_acl;
    int rc = core_account_get(r->cl, r->account, &a);
    if (rc == OG_ENOTFOUND)
        rc = 0, a.created_ns = og_time_ns();
    if (rc != 0) {
        swift_error_rc(r, rc);
        return;
    }
    /* Only a reseller admin sets or removes the account's quota (account_quotas). */
    og_str_t q = http_req_header(r->http, "x-account-meta-quota-bytes");
    if (!(r->id.flags & IAM_SWIFT_RESELLER) &&
        (q.base != NULL || http_req_header(r->http, "x-remove-account-meta-quota-bytes").base != NULL)) {
        swift_error(r, 403);
        goto out_free;
    }
    for (size_t i = 0; i < q.len; i++)
        if (q.base[i] < '0' || q.base[i] > '9') {
            swift_send(r, 400, NULL, 0, "text/html; charset=UTF-8", "Invalid bytes quota.", 20);
            goto out_free;
        }
    /* Temp-URL-Key is stored as account metadata, as Swift does (X-Account-Meta-Temp-URL-Key). */
    meta = a.meta, n = a.num_meta;
    if (!acct_acl_valid(r, &set_acl, &acl))
        goto out_free;
    if ((rc = swift_meta_merge(r, "x-account-meta-", "x-remove-account-meta-", NULL, &meta, &n, &mem)) != 0) {
        if (rc == OG_ETOOBIG)
            swift_error(r, 400);
        else
            swift_error_rc(r, rc);
        goto out_free;
    }
    if (set_acl)
        n = acct_acl_apply(meta, n, &acl);
    core_account_t na = {.created_ns = a.created_ns, .meta = meta, .num_meta = n};
    rc = core_account_put(r->cl, r->account, &na);
    if (rc != 0)
        swift_error_rc(r, rc);
    else
        swift_send(r, 204, NULL, 0, NULL, NULL, 0);
    free(meta);
    free(mem);
out_free:
    og_buf_free(&acl);
    core_account_free(&a);
}

int swift_account_acl(swift_req_t *r)
{
    core_account_t a;
    og_str_t acl = {NULL, 0};
    int rc = core_account_get(r->cl, r->account, &a), v;
    if (rc == OG_ENOTFOUND)
        return 0;
    if (rc != 0)
        return rc;
    for (size_t i = 0; i < a.num_meta; i++)
        if (og_str_eq(a.meta[i].name, IAM_ACCT_ACL_HEADER))
            acl = a.meta[i].value;
    int read = swift_is_method(r, "GET") || swift_is_method(r, "HEAD");
    v = iam_account_allows(acl, &r->id, r->has_container, read);
    r->is_owner = v == IAM_ACCT_OWNER;
    r->acct_grant = v == 1;
    core_account_free(&a);
    return 0;
}

void swift_account(swift_req_t *r)
{
    int get = swift_is_method(r, "GET"), head = swift_is_method(r, "HEAD"), post = swift_is_method(r, "POST");
    if (!get && !head && !post) {
        swift_error(r, 405);
        return;
    }
    if (!r->is_owner && !r->acct_grant) {
        swift_error_rc(r, -EACCES);
        return;
    }
    if (post)
        account_post(r);
    else
        account_read(r);
}

/* ---------------------------------------------------------------- container */

/* Quota values must be integers (container_quotas answers 400 otherwise). */
static int quotas_valid(swift_req_t *r)
{
    static const char *const names[] = {"x-container-meta-quota-bytes", "x-container-meta-quota-count"};
    for (size_t i = 0; i < 2; i++) {
        og_str_t v = http_req_header(r->http, names[i]);
        for (size_t j = 0; j < v.len; j++)
            if (v.base[j] < '0' || v.base[j] > '9') {
                swift_send(r, 400, NULL, 0, "text/html; charset=UTF-8",
                              i == 0 ? "Invalid bytes quota." : "Invalid count quota.", 20);
                return 0;
            }
    }
    return 1;
}

/* Are the request's X-Container-Read / -Write valid ACLs (iam_acl_check: Swift's clean_acl)? 1, or
 * 0 after answering 400 with Swift's reason. */
static int acls_valid(swift_req_t *r)
{
    for (int write = 0; write < 2; write++) {
        const char *why;
        og_str_t v = http_req_header(r->http, container_extra[write]);
        if (v.len > 0 && iam_acl_check(v, write, &why) != 0) {
            swift_send(r, 400, NULL, 0, "text/plain", why, strlen(why));
            return 0;
        }
    }
    return 1;
}

/* Does the request set the container's ACLs? Only owners may (Swift's swift_owner_headers; Swift
 * drops them from an account ACL's read-write grantee, Onggi refuses rather than ignore them). */
static int owner_headers(swift_req_t *r)
{
    static const char *const names[] = {"x-container-read", "x-container-write", "x-remove-container-read",
                                        "x-remove-container-write"};
    for (size_t i = 0; i < sizeof(names) / sizeof(names[0]); i++)
        if (http_req_header(r->http, names[i]).base != NULL)
            return 1;
    return 0;
}

/* Is name "." or ".."? Such a dot segment is no name: clients and proxies resolve it away from
 * URLs (S3 cannot address it either), so a container of that name could never be reached again.
 * Only creating one is refused: one made before stays reachable for emptying and deleting. */
static int dot_segment(const char *name) { return strcmp(name, ".") == 0 || strcmp(name, "..") == 0; }

/* The bucket id of container r->container into nb->id: an existing one keeps its own; a new one
 * takes the name (its tables are "o.<name>", and S3 reaches it by that name) unless another
 * account holds the name, then a fresh id of its own (docs/architecture.md, "Namespaces").
 * 0 or an error reading the global record. */
static int container_id(swift_req_t *r, const core_bucket_t *b, int exists, core_bucket_t *nb)
{
    char owner[64];
    int rc;
    if (exists) {
        memcpy(nb->id, b->id, sizeof(nb->id));
        return 0;
    }
    rc = core_bucket_lookup(r->cl, r->container, owner, sizeof(owner), NULL);
    if (rc == OG_ENOTFOUND) {
        snprintf(nb->id, sizeof(nb->id), "%s", r->container);
        return 0;
    }
    return rc != 0 ? rc : core_bucket_new_id(r->cl, nb);
}

/* PUT (create or update) and POST (update) of a container's metadata. */
static void container_write(swift_req_t *r, core_bucket_t *b, int exists)
{
    og_header_t *meta = exists ? b->meta : NULL;
    size_t n = exists ? b->num_meta : 0;
    char *mem = NULL;
    core_versioning_t want;
    swift_legacy_conf_t lc = {0};
    int rc;
    if (!quotas_valid(r) || !acls_valid(r))
        return;
    if ((rc = swift_versions_parse(r, &want)) != 0 || (rc = swift_legacy_parse(r, exists ? b : NULL, want, &lc)) != 0 ||
        (rc = swift_meta_merge(r, "x-container-meta-", "x-remove-container-meta-", container_extra, &meta, &n,
                               &mem)) != 0) {
        if (rc == OG_ETOOBIG)
            swift_error(r, 400);
        else
            swift_error_rc(r, rc);
        swift_legacy_conf_free(&lc);
        return;
    }
    n = swift_legacy_meta(&lc, meta, n);
    core_bucket_t nb = {.created_ns = exists ? b->created_ns : og_time_ns(), .meta = meta, .num_meta = n};
    snprintf(nb.owner, sizeof(nb.owner), "%s", r->account);
    if ((rc = container_id(r, b, exists, &nb)) != 0) {
        swift_error_rc(r, rc);
        goto out_free;
    }
    /* A PUT of an existing container that changes no metadata needs no write. The merge keeps
     * unchanged entries' slices, so comparing them by address finds any change. */
    int changed = !exists || swift_is_method(r, "POST") || n != b->num_meta;
    for (size_t i = 0; i < n && !changed; i++)
        changed = meta[i].name.base != b->meta[i].name.base || meta[i].value.base != b->meta[i].value.base;
    snprintf(r->cid, sizeof(r->cid), "%s", nb.id); /* the container whose versioning is set */
    if ((changed && (rc = core_bucket_put(r->cl, r->container, &nb)) != 0) ||
        (rc = swift_versions_apply(r, want)) != 0)
        swift_error_rc(r, rc);
    else if (swift_is_method(r, "POST"))
        swift_send(r, 204, NULL, 0, NULL, NULL, 0);
    else
        swift_send(r, exists ? 202 : 201, NULL, 0, NULL, NULL, 0);
out_free:
    free(meta);
    free(mem);
    swift_legacy_conf_free(&lc);
}

/* DELETE of container b: 409 while it holds live objects, S3 versions or delete markers, or
 * in-progress S3 multipart uploads (a container created later under this name must not inherit
 * them). */
static void container_delete(swift_req_t *r, const core_bucket_t *b)
{
    core_usage_t u;
    int rc = core_usage_bucket(r->cl, b->id, r->now_s, &u);
    if (rc == 0 && u.objects == 0)
        rc = core_ver_any(r->cl, b->id);
    if (rc == 0 && u.objects == 0)
        rc = core_upload_exists(r->cl, b->id, b->created_ns);
    if (rc < 0) {
        swift_error_rc(r, rc == OG_EPROTO ? OG_ECORRUPT : rc);
        return;
    }
    if (u.objects > 0 || rc > 0) {
        swift_error(r, 409);
        return;
    }
    if ((rc = core_bucket_delete(r->cl, r->container, b)) != 0)
        swift_error_rc(r, rc);
    else
        swift_send(r, 204, NULL, 0, NULL, NULL, 0);
}

/* HEAD and GET: usage and metadata (ACLs only to the owner), and for GET the listing. */
static void container_read(swift_req_t *r, const core_bucket_t *b)
{
    core_usage_t u;
    char cnt[2][24], ts[32], lm[32];
    int rc = core_usage_bucket(r->cl, b->id, r->now_s, &u);
    if (rc != 0) {
        swift_error_rc(r, rc);
        return;
    }
    og_header_t *hdrs = malloc((10 + b->num_meta) * sizeof(*hdrs));
    char (*names)[NAME_CAP] = malloc((b->num_meta + 1) * NAME_CAP);
    if (hdrs == NULL || names == NULL) {
        swift_error_rc(r, -ENOMEM);
        goto out_free;
    }
    size_t k = 0;
    http_date_format(b->created_ns, lm);
    hdrs[k++] = (og_header_t){OG_STR_LIT("X-Container-Object-Count"),
                              {cnt[0], (size_t)snprintf(cnt[0], 24, "%" PRIu64, u.objects)}};
    hdrs[k++] = (og_header_t){OG_STR_LIT("X-Container-Bytes-Used"),
                              {cnt[1], (size_t)snprintf(cnt[1], 24, "%" PRIu64, u.bytes)}};
    hdrs[k++] = (og_header_t){OG_STR_LIT("X-Timestamp"), {ts, swift_timestamp(b->created_ns, ts)}};
    hdrs[k++] = (og_header_t){OG_STR_LIT("Last-Modified"), og_str(lm)};
    hdrs[k++] = (og_header_t){OG_STR_LIT("Accept-Ranges"), OG_STR_LIT("bytes")};
    hdrs[k++] = (og_header_t){OG_STR_LIT("X-Storage-Policy"), OG_STR_LIT("Policy-0")};
    if (!og_query_get(r->info->query, "format", NULL))
        hdrs[k++] = (og_header_t){OG_STR_LIT("Vary"), OG_STR_LIT("Accept")};
    k += swift_versions_header(b, hdrs + k);
    k += swift_legacy_header(b, hdrs + k);
    k = add_meta(b->meta, b->num_meta, "x-container-meta-", r->is_owner, hdrs, k, names);
    send_read(r, b, hdrs, k);
out_free:
    free(names);
    free(hdrs);
}

void swift_container(swift_req_t *r)
{
    int get = swift_is_method(r, "GET"), head = swift_is_method(r, "HEAD"), put = swift_is_method(r, "PUT"),
        post = swift_is_method(r, "POST"), del = swift_is_method(r, "DELETE");
    core_bucket_t b;
    int rc, exists;

    if (!get && !head && !put && !post && !del) {
        swift_error(r, 405);
        return;
    }
    rc = core_bucket_find(r->cl, r->account, r->container, &b);
    if (rc != 0 && rc != OG_ENOTFOUND) {
        swift_error_rc(r, rc == OG_EPROTO ? OG_ECORRUPT : rc);
        return;
    }
    exists = rc == 0;
    if (put || post || del) {
        if (!r->is_owner && (!r->acct_grant || owner_headers(r))) {
            swift_error_rc(r, -EACCES);
        } else if (put && !exists && dot_segment(r->container)) {
            static const char msg[] = "Container name cannot be \".\" or \"..\"";
            swift_send(r, 400, NULL, 0, "text/plain", msg, sizeof(msg) - 1);
        } else if (put) {
            container_write(r, &b, exists);
        } else if (!exists) {
            swift_error(r, 404);
        } else if (post) {
            container_write(r, &b, 1);
        } else {
            container_delete(r, &b);
        }
        goto out_free;
    }
    if (exists && swift_web_container(r, &b))
        goto out_free;
    if (!r->is_owner && !r->acct_grant && !(exists && iam_bucket_allows(&b, r->has_id ? &r->id : NULL,
                                                      http_req_header(r->http, "referer"), IAM_ACL_LISTING))) {
        swift_error_rc(r, -EACCES);
        goto out_free;
    }
    /* a listing anyone may read, whatever the Referer, is shareable (swift_acl_public) */
    if (exists && !r->has_id && iam_bucket_allows(&b, NULL, (og_str_t){"", 0}, IAM_ACL_LISTING))
        http_req_cache_private(r->http, 0);
    if (!exists)
        swift_error(r, 404);
    else
        container_read(r, &b);
out_free:
    if (exists)
        core_bucket_free(&b);
}
