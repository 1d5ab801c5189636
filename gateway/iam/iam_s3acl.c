/*
 * iam_s3acl.c: S3 access control lists (canned ACLs, x-amz-grant-* headers, grants) in the compact
 * form stored with buckets and objects, and their evaluation (iam.h, "S3 ACLs").
 *
 * Encoding: grants separated by '\n', each one permission letter (F FULL_CONTROL, R READ, W WRITE,
 * r READ_ACP, w WRITE_ACP), one grantee type letter (u canonical user = an Onggi account name,
 * g group) and the grantee ("all" AllUsers, "auth" AuthenticatedUsers, "log" LogDelivery for
 * groups). "Fualice\nRgall" is public-read for alice's resource. No newline can be in an
 * account name a grant names (iam_s3acl_grant refuses it), so the form never misparses.
 */
#include "iam_int.h"

#include <errno.h>
#include <strings.h>

#define GROUP_URI "http://acs.amazonaws.com/groups/"

static const struct {
    char letter;
    unsigned perm;
    const char *name;
} perms[] = {
    {'F', IAM_S3_FULL, "FULL_CONTROL"}, {'R', IAM_S3_READ, "READ"},           {'W', IAM_S3_WRITE, "WRITE"},
    {'r', IAM_S3_READ_ACP, "READ_ACP"}, {'w', IAM_S3_WRITE_ACP, "WRITE_ACP"},
};

static const struct {
    const char *id, *uri;
} groups[] = {
    {"all", GROUP_URI "global/AllUsers"},
    {"auth", GROUP_URI "global/AuthenticatedUsers"},
    {"log", GROUP_URI "s3/LogDelivery"},
};

int iam_s3acl_next(og_str_t *acl, iam_s3grant_t *g)
{
    while (acl->len > 0) {
        const char *nl = memchr(acl->base, '\n', acl->len);
        og_str_t el = {acl->base, nl ? (size_t)(nl - acl->base) : acl->len};
        acl->base += el.len + (nl ? 1 : 0);
        acl->len -= el.len + (nl ? 1 : 0);
        if (el.len < 3 || (el.base[1] != 'u' && el.base[1] != 'g'))
            continue;
        for (size_t i = 0; i < sizeof(perms) / sizeof(perms[0]); i++) {
            if (perms[i].letter != el.base[0])
                continue;
            g->perm = perms[i].perm;
            g->perm_name = perms[i].name;
            g->group = el.base[1] == 'g';
            g->id = (og_str_t){el.base + 2, el.len - 2};
            g->uri = NULL;
            for (size_t j = 0; g->group && j < sizeof(groups) / sizeof(groups[0]); j++)
                if (og_str_eq(g->id, groups[j].id))
                    g->uri = groups[j].uri;
            return 1;
        }
    }
    return 0;
}

int iam_s3acl_allows_in(og_str_t acl, const char *owner, const char *account, unsigned perm, int no_groups)
{
    iam_s3grant_t g;
    unsigned have = 0;
    if (account != NULL && owner != NULL && strcmp(owner, account) == 0)
        return 1;
    while (iam_s3acl_next(&acl, &g)) {
        int group = !no_groups && (og_str_eq(g.id, "all") || (account != NULL && og_str_eq(g.id, "auth")));
        int match = g.group ? group : account != NULL && og_str_eq(g.id, account);
        if (match)
            have |= g.perm;
    }
    return (have & perm) == perm;
}

int iam_s3acl_allows(og_str_t acl, const char *owner, const char *account, unsigned perm)
{
    return iam_s3acl_allows_in(acl, owner, account, perm, 0);
}

/* Appends one grant in the compact form. */
static void put_grant(og_buf_t *out, char letter, char type, og_str_t id)
{
    if (out->len > 0)
        og_buf_put(out, "\n", 1);
    char head[2] = {letter, type};
    og_buf_put(out, head, 2);
    og_buf_put(out, id.base, id.len);
}

static char perm_letter(unsigned perm)
{
    for (size_t i = 0; i < sizeof(perms) / sizeof(perms[0]); i++)
        if (perms[i].perm == perm)
            return perms[i].letter;
    return 0;
}

int iam_s3acl_canned(og_str_t name, const char *owner, const char *bucket_owner, og_buf_t *out)
{
    og_str_t o = og_str(owner);
    if (!og_str_eq(name, "private") && !og_str_eq(name, "public-read") && !og_str_eq(name, "public-read-write") &&
        !og_str_eq(name, "authenticated-read") && !og_str_eq(name, "bucket-owner-read") &&
        !og_str_eq(name, "bucket-owner-full-control"))
        return OG_EINVAL;
    put_grant(out, 'F', 'u', o);
    if (og_str_eq(name, "public-read") || og_str_eq(name, "public-read-write"))
        put_grant(out, 'R', 'g', OG_STR_LIT("all"));
    if (og_str_eq(name, "public-read-write"))
        put_grant(out, 'W', 'g', OG_STR_LIT("all"));
    if (og_str_eq(name, "authenticated-read"))
        put_grant(out, 'R', 'g', OG_STR_LIT("auth"));
    /* on a bucket (no bucket owner apart from the owner) both mean private, as in S3 */
    if (bucket_owner != NULL && strcmp(bucket_owner, owner) != 0 && og_str_eq(name, "bucket-owner-read"))
        put_grant(out, 'R', 'u', og_str(bucket_owner));
    if (bucket_owner != NULL && strcmp(bucket_owner, owner) != 0 && og_str_eq(name, "bucket-owner-full-control"))
        put_grant(out, 'F', 'u', og_str(bucket_owner));
    return out->oom ? -ENOMEM : 0;
}

int iam_s3acl_grant(og_buf_t *out, unsigned perm, const char *type, og_str_t value)
{
    char letter = perm_letter(perm);
    if (letter == 0)
        return OG_EINVAL;
    if (strcasecmp(type, "emailAddress") == 0)
        return IAM_EUNRESOLVABLE;
    if (strcasecmp(type, "uri") == 0) {
        for (size_t j = 0; j < sizeof(groups) / sizeof(groups[0]); j++)
            if (og_str_eq(value, groups[j].uri)) {
                put_grant(out, letter, 'g', og_str(groups[j].id));
                return out->oom ? -ENOMEM : 0;
            }
        return OG_EINVAL;
    }
    if (strcasecmp(type, "id") != 0 || value.len == 0 || value.len >= 64 || memchr(value.base, '\n', value.len) ||
        memchr(value.base, '\0', value.len))
        return OG_EINVAL;
    put_grant(out, letter, 'u', value);
    return out->oom ? -ENOMEM : 0;
}

/* The next `key="value"` (or key=value) pair of a grant header, advancing *s. 1, 0 at the end, or
 * OG_EINVAL when malformed. */
static int header_pair(og_str_t *s, char *key, size_t cap, og_str_t *value)
{
    *s = og_str_trim(*s);
    if (s->len == 0)
        return 0;
    const char *eq = memchr(s->base, '=', s->len);
    if (eq == NULL || (size_t)(eq - s->base) >= cap)
        return OG_EINVAL;
    og_str_t k = og_str_trim((og_str_t){s->base, (size_t)(eq - s->base)});
    memcpy(key, k.base, k.len);
    key[k.len] = '\0';
    og_str_t rest = og_str_trim((og_str_t){eq + 1, s->len - (size_t)(eq + 1 - s->base)});
    const char *end;
    if (rest.len > 0 && rest.base[0] == '"') {
        end = memchr(rest.base + 1, '"', rest.len - 1);
        if (end == NULL)
            return OG_EINVAL;
        *value = (og_str_t){rest.base + 1, (size_t)(end - rest.base - 1)};
        end++;
    } else {
        end = memchr(rest.base, ',', rest.len);
        end = end ? end : rest.base + rest.len;
        *value = og_str_trim((og_str_t){rest.base, (size_t)(end - rest.base)});
    }
    rest = og_str_trim((og_str_t){end, rest.len - (size_t)(end - rest.base)});
    if (rest.len > 0 && rest.base[0] != ',')
        return OG_EINVAL;
    *s = rest.len > 0 ? (og_str_t){rest.base + 1, rest.len - 1} : rest;
    return 1;
}

int iam_s3acl_grant_header(og_buf_t *out, unsigned perm, og_str_t header)
{
    char key[32];
    og_str_t value;
    int rc, any = 0;
    while ((rc = header_pair(&header, key, sizeof(key), &value)) == 1) {
        if ((rc = iam_s3acl_grant(out, perm, key, value)) != 0)
            return rc;
        any = 1;
    }
    return rc == 0 && !any ? OG_EINVAL : rc;
}

int iam_s3acl_public(og_str_t acl, unsigned perm)
{
    return iam_s3acl_allows(acl, NULL, NULL, perm);
}

int iam_bucket_allows(const core_bucket_t *b, const iam_ident_t *id, og_str_t referer, int mode)
{
    const char *name = mode == IAM_ACL_WRITE ? "x-container-write" : "x-container-read";
    if (iam_acl_allows(og_header_find(b->meta, b->num_meta, name), id, referer, mode))
        return 1;
    og_str_t v = og_header_find(b->meta, b->num_meta, IAM_S3ACL_HEADER);
    unsigned perm = mode == IAM_ACL_WRITE ? IAM_S3_WRITE : IAM_S3_READ;
    /* the S3 ACL under the bucket's S3 controls (PublicAccessBlock, ObjectOwnership) */
    return iam_s3ctl_acl_allows(iam_s3ctl_of(b->meta, b->num_meta), v, NULL, id != NULL ? id->account : NULL, perm);
}

int iam_s3_anon_read(const core_bucket_t *b, const char *bucket, og_str_t key, const og_header_t *obj_hdrs, size_t n,
                     const iam_caller_t *who, int *shareable)
{
    iam_s3ctl_t ctl = iam_s3ctl_of(b->meta, b->num_meta);
    og_str_t doc = og_header_find(b->meta, b->num_meta, IAM_S3POLICY_HEADER);
    int v = iam_policy_request(doc, who, "s3:GetObject", bucket, key, (og_str_t){NULL, 0});
    *shareable = 0;
    v = iam_s3ctl_policy_verdict(ctl, doc, v, b->owner, NULL);
    if (v == IAM_POLICY_DENY)
        return -1;
    if (v == IAM_POLICY_ALLOW)
        return 1;
    if (obj_hdrs == NULL || !iam_s3ctl_acl_allows(ctl, og_header_find(obj_hdrs, n, IAM_S3ACL_HEADER), b->owner, NULL,
                                                  IAM_S3_READ))
        return 0;
    *shareable = doc.len == 0;
    return 1;
}
