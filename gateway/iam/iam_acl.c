/*
 * iam_acl.c: Swift container ACLs (X-Container-Read / X-Container-Write), as TempAuth reads them
 * (swift/common/middleware/acl.py: clean_acl, parse_acl, referrer_allowed).
 *
 * An ACL is a comma-separated list of elements: groups ("account", "account:user", "*:user",
 * "account:*"), ".rlistings", and referrer designations ".r:[-]value" (also ".ref", ".referer",
 * ".referrer") where value is "*", a host ("www.example.com") or a domain (".example.com" or
 * "*.example.com"). Referrer elements apply in order and the last one that matches the request's
 * Referer host decides, so ".r:*,.r:-.evil.com" admits everyone but evil.com's hosts and
 * ".r:.example.com,.r:-thief.example.com" all of example.com but one host. A request without a
 * Referer (or with one that has no host) has the host "unknown", as in Swift.
 * One deliberate difference: Swift compares "-*" only with a host literally named "*" (a no-op);
 * here ".r:-*" denies every referrer seen so far, which is what anyone writing it means.
 */
#include "iam_int.h"
#include "core/core.h"

#include <stdio.h>
#include <strings.h>

/* One parsed element. */
typedef struct {
    enum { EL_GROUP, EL_RLISTINGS, EL_REFERRER, EL_BAD_WRITE, EL_BAD_HOST, EL_BAD_DESIGNATOR } kind;
    og_str_t value; /* EL_GROUP: the element; EL_REFERRER: host, ".domain" or "*" */
    int negate;     /* EL_REFERRER: a "-" entry */
} acl_el_t;

static acl_el_t acl_parse_el(og_str_t el, int write)
{
    acl_el_t e = {.kind = EL_GROUP, .value = el};
    const char *colon = memchr(el.base, ':', el.len);
    og_str_t first = og_str_trim((og_str_t){el.base, colon ? (size_t)(colon - el.base) : 0});
    if (colon == NULL || first.len == 0 || first.base[0] != '.') {
        if (og_str_eq(el, ".rlistings"))
            e.kind = EL_RLISTINGS;
        return e;
    }
    if (!og_str_eq(first, ".r") && !og_str_eq(first, ".ref") && !og_str_eq(first, ".referer") &&
        !og_str_eq(first, ".referrer")) {
        e.kind = EL_BAD_DESIGNATOR;
        return e;
    }
    og_str_t v = og_str_trim((og_str_t){colon + 1, el.len - (size_t)(colon + 1 - el.base)});
    if (v.len > 0 && v.base[0] == '-') {
        e.negate = 1;
        v = og_str_trim((og_str_t){v.base + 1, v.len - 1});
    }
    if (v.len > 1 && v.base[0] == '*') /* "*.example.com" is ".example.com" */
        v = og_str_trim((og_str_t){v.base + 1, v.len - 1});
    e.kind = write ? EL_BAD_WRITE : v.len == 0 || og_str_eq(v, ".") ? EL_BAD_HOST : EL_REFERRER;
    e.value = v;
    return e;
}

/* The next trimmed, non-empty element of *acl (advancing it); empty at the end. */
static og_str_t acl_next(og_str_t *acl)
{
    while (acl->len > 0) {
        const char *comma = memchr(acl->base, ',', acl->len);
        og_str_t el = {acl->base, comma ? (size_t)(comma - acl->base) : acl->len};
        acl->base += el.len + (comma ? 1 : 0);
        acl->len -= el.len + (comma ? 1 : 0);
        el = og_str_trim(el);
        if (el.len > 0)
            return el;
    }
    return (og_str_t){NULL, 0};
}

int iam_acl_check(og_str_t acl, int write, const char **why)
{
    og_str_t el;
    while ((el = acl_next(&acl)).len > 0) {
        switch (acl_parse_el(el, write).kind) {
        case EL_BAD_WRITE:
            *why = "Referrers not allowed in write ACL";
            return OG_EINVAL;
        case EL_BAD_HOST:
            *why = "No host/domain value after referrer designation in ACL";
            return OG_EINVAL;
        case EL_BAD_DESIGNATOR:
            *why = "Unknown designator in ACL";
            return OG_EINVAL;
        default:
            break;
        }
    }
    return 0;
}

/* The host of a Referer URL ("scheme://[user@]host[:port]/..."), or "unknown" when it has none
 * (Python's urlparse(referer).hostname, which Swift uses). Case is ignored by the comparisons. */
static og_str_t referer_host(og_str_t ref)
{
    const char *p = ref.len >= 2 ? memmem(ref.base, ref.len, "//", 2) : NULL;
    if (p != NULL && p != ref.base && (p[-1] != ':' || memchr(ref.base, '/', (size_t)(p - ref.base)) != NULL))
        p = NULL; /* "//" must start the URL or follow "scheme:" */
    if (p == NULL)
        return OG_STR_LIT("unknown");
    og_str_t h = {p + 2, ref.len - (size_t)(p + 2 - ref.base)};
    for (size_t i = 0; i < h.len; i++)
        if (h.base[i] == '/' || h.base[i] == '?' || h.base[i] == '#') {
            h.len = i;
            break;
        }
    for (size_t i = h.len; i > 0; i--)
        if (h.base[i - 1] == '@') {
            h = (og_str_t){h.base + i, h.len - i};
            break;
        }
    const char *end = h.len && h.base[0] == '[' ? memchr(h.base, ']', h.len) : memchr(h.base, ':', h.len);
    if (h.len && h.base[0] == '[')
        h = end ? (og_str_t){h.base + 1, (size_t)(end - h.base - 1)} : (og_str_t){NULL, 0};
    else if (end)
        h.len = (size_t)(end - h.base);
    return h.len ? h : OG_STR_LIT("unknown");
}

/* Does referrer entry value m ("*", a host or ".domain") match host h? */
static int referrer_matches(og_str_t m, og_str_t h)
{
    if (og_str_eq(m, "*"))
        return 1;
    if (m.len == h.len && strncasecmp(m.base, h.base, m.len) == 0)
        return 1;
    return m.base[0] == '.' && h.len > m.len && strncasecmp(h.base + h.len - m.len, m.base, m.len) == 0;
}

static int part_matches(og_str_t pattern, const char *value)
{
    return og_str_eq(pattern, "*") || og_str_eq(pattern, value);
}

/* Does group element el name identity id? */
static int group_matches(og_str_t el, const iam_ident_t *id)
{
    if (id == NULL || el.base[0] == '.')
        return 0;
    const char *colon = memchr(el.base, ':', el.len);
    if (colon == NULL)
        return og_str_eq(el, id->account); /* a whole account */
    og_str_t acct = {el.base, (size_t)(colon - el.base)}, user = {colon + 1, el.len - acct.len - 1};
    return part_matches(acct, id->account) && part_matches(user, id->user);
}

int iam_acl_allows(og_str_t acl, const iam_ident_t *id, og_str_t referer, int mode)
{
    og_str_t host = referer_host(referer), el;
    int referrer = 0, rlistings = 0, granted = 0;
    while ((el = acl_next(&acl)).len > 0) {
        acl_el_t e = acl_parse_el(el, 0);
        if (e.kind == EL_RLISTINGS)
            rlistings = 1;
        else if (e.kind == EL_GROUP)
            granted |= group_matches(el, id);
        else if (e.kind == EL_REFERRER && e.negate && og_str_eq(e.value, "*"))
            referrer = 0;
        else if (e.kind == EL_REFERRER && referrer_matches(e.value, host))
            referrer = !e.negate;
    }
    if (granted)
        return 1;
    return referrer && (mode == IAM_ACL_READ || (mode == IAM_ACL_LISTING && rlistings));
}

int iam_bucket_public(void *cl, const char *bucket, char *account, size_t cap)
{
    core_bucket_t b;
    if (core_bucket_get(cl, bucket, &b) != 0)
        return 0;
    /* Anyone reads its objects through a Swift `.r:*` or an S3 AllUsers READ grant (both judged
     * by iam_bucket_allows, under the bucket's PublicAccessBlock), or through a public policy
     * RestrictPublicBuckets leaves public (GetBucketPolicyStatus's IsPublic). */
    og_str_t policy = og_header_find(b.meta, b.num_meta, IAM_S3POLICY_HEADER);
    iam_s3ctl_t ctl = iam_s3ctl_of(b.meta, b.num_meta);
    /* Objects' public ACLs count as an object's read judges them ("Rgall": AllUsers READ under the
     * bucket's controls, nothing under IgnorePublicAcls or BucketOwnerEnforced). */
    int objects = og_header_find(b.meta, b.num_meta, IAM_PUBLIC_OBJECTS_HEADER).len > 0 &&
                  iam_s3ctl_acl_allows(ctl, OG_STR_LIT("Rgall"), b.owner, NULL, IAM_S3_READ);
    int pub = (iam_bucket_allows(&b, NULL, (og_str_t){"", 0}, IAM_ACL_READ) || objects ||
               (policy.len > 0 && iam_s3ctl_policy_public(ctl, policy))) &&
              snprintf(account, cap, "%s", b.owner) < (int)cap;
    core_bucket_free(&b);
    return pub;
}
