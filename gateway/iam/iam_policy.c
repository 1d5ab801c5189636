/*
 * iam_policy.c: S3 bucket policies, the documented subset (docs/s3-compat.md, "Bucket policies"):
 * Version, Statement (one object or a list), Sid, Effect Allow/Deny, Principal ("*", {"AWS": ...}
 * or {"CanonicalUser": ...} naming accounts, account ARNs "arn:aws:iam::ACCOUNT:root" or user ARNs
 * "arn:aws:iam::ACCOUNT:user/NAME", which stand for their account), Action / NotAction and
 * Resource / NotResource with '*' and '?' wildcards, and Condition with the operators StringEquals,
 * StringNotEquals, StringLike, StringNotLike (keys s3:prefix, aws:Referer), IpAddress,
 * NotIpAddress (aws:SourceIp, IPv4 and IPv6 CIDR) and Bool (aws:SecureTransport). Anything else is
 * refused when the policy is stored, naming what, so no part of a stored policy is ever ignored.
 * The document is parsed with jansson at every evaluation (at most IAM_POLICY_MAX bytes).
 */
#include "iam_int.h"

#include <arpa/inet.h>
#include <ctype.h>
#include <jansson.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

int iam_wild(const char *p, const char *s, int icase)
{
    for (; *p != '\0'; p++, s++) {
        if (*p == '*') {
            while (p[1] == '*')
                p++;
            if (p[1] == '\0')
                return 1;
            for (; *s != '\0'; s++)
                if (iam_wild(p + 1, s, icase))
                    return 1;
            return 0;
        }
        if (*s == '\0')
            return 0;
        if (*p != '?' && (icase ? tolower((unsigned char)*p) != tolower((unsigned char)*s) : *p != *s))
            return 0;
    }
    return *s == '\0';
}

static int why(char *out, size_t cap, const char *fmt, ...) __attribute__((format(printf, 3, 4)));
static int why(char *out, size_t cap, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    if (out != NULL)
        vsnprintf(out, cap, fmt, ap);
    va_end(ap);
    return OG_EINVAL;
}

/* v as a list of strings: the i-th, or NULL past the end or for a non-string. */
static const char *str_at(const json_t *v, size_t i)
{
    if (json_is_string(v))
        return i == 0 ? json_string_value(v) : NULL;
    return json_is_array(v) ? json_string_value(json_array_get(v, i)) : NULL;
}

static size_t str_count(const json_t *v) { return json_is_string(v) ? 1 : json_is_array(v) ? json_array_size(v) : 0; }

/* Is v a string or a non-empty list of strings? */
static int str_list(const json_t *v)
{
    size_t n = str_count(v);
    for (size_t i = 0; i < n; i++)
        if (str_at(v, i) == NULL)
            return 0;
    return n > 0;
}

/* ---------------------------------------------------------------- principals */

/* The account a principal string names ("*" is every caller, NULL for a bad one) into acct. */
static int principal_account(const char *p, char *acct, size_t cap)
{
    const char *a = p;
    if (strncmp(p, "arn:aws:iam::", 13) == 0) {
        a = p + 13;
        const char *colon = strchr(a, ':');
        if (colon == NULL || (strcmp(colon + 1, "root") != 0 && strncmp(colon + 1, "user/", 5) != 0))
            return 0;
        snprintf(acct, cap, "%.*s", (int)(colon - a), a);
        return acct[0] != '\0';
    }
    snprintf(acct, cap, "%s", a);
    return acct[0] != '\0' && strchr(acct, ':') == NULL;
}

/* Principal: "*", or {"AWS" | "CanonicalUser": one or a list of principals}. 0 or OG_EINVAL. */
static int principal_check(const json_t *pr, char *w, size_t cap)
{
    const char *k;
    json_t *v;
    char acct[64];
    if (json_is_string(pr))
        return strcmp(json_string_value(pr), "*") == 0 ? 0 : why(w, cap, "Invalid principal in policy");
    if (!json_is_object(pr) || json_object_size(pr) == 0)
        return why(w, cap, "Invalid principal in policy");
    json_object_foreach((json_t *)pr, k, v) {
        if (strcmp(k, "AWS") != 0 && strcmp(k, "CanonicalUser") != 0)
            return why(w, cap, "Principal type %s is not supported", k);
        if (!str_list(v))
            return why(w, cap, "Invalid principal in policy");
        for (size_t i = 0; i < str_count(v); i++)
            if (!principal_account(str_at(v, i), acct, sizeof(acct)))
                return why(w, cap, "Invalid principal in policy: %s", str_at(v, i));
    }
    return 0;
}

static int principal_match(const json_t *pr, const char *account)
{
    const char *k;
    json_t *v;
    char acct[64];
    if (json_is_string(pr))
        return 1; /* "*" (checked when stored) */
    json_object_foreach((json_t *)pr, k, v) {
        for (size_t i = 0; i < str_count(v); i++) {
            const char *p = str_at(v, i);
            if (strcmp(p, "*") == 0 ||
                (account != NULL && principal_account(p, acct, sizeof(acct)) && strcmp(acct, account) == 0))
                return 1;
        }
    }
    return 0;
}

/* ---------------------------------------------------------------- conditions */

/* Does address ip (text) lie in cidr ("10.0.0.0/8", "2001:db8::/32", or one address)? */
static int cidr_match(const char *cidr, const char *ip, int *valid)
{
    unsigned char net[16], addr[16];
    char buf[64];
    long bits = -1;
    const char *slash = strchr(cidr, '/');
    snprintf(buf, sizeof(buf), "%.*s", slash ? (int)(slash - cidr) : (int)strlen(cidr), cidr);
    int v6 = strchr(buf, ':') != NULL, len = v6 ? 16 : 4;
    *valid = inet_pton(v6 ? AF_INET6 : AF_INET, buf, net) == 1;
    if (slash != NULL) {
        char *end;
        bits = strtol(slash + 1, &end, 10);
        *valid = *valid && *end == '\0' && slash[1] != '\0' && bits >= 0 && bits <= len * 8;
    }
    if (!*valid || ip == NULL || inet_pton(v6 ? AF_INET6 : AF_INET, ip, addr) != 1)
        return 0;
    if (bits < 0)
        bits = len * 8;
    for (long i = 0; i < bits; i++)
        if (((net[i / 8] ^ addr[i / 8]) >> (7 - i % 8)) & 1)
            return 0;
    return 1;
}

typedef enum { OP_STR_EQ, OP_STR_NE, OP_STR_LIKE, OP_STR_NLIKE, OP_IP, OP_NIP, OP_BOOL, OP_BAD } cond_op_t;

static cond_op_t op_of(const char *name)
{
    static const char *const names[] = {"StringEquals", "StringNotEquals", "StringLike", "StringNotLike",
                                        "IpAddress", "NotIpAddress", "Bool"};
    for (size_t i = 0; i < sizeof(names) / sizeof(names[0]); i++)
        if (strcmp(name, names[i]) == 0)
            return (cond_op_t)i;
    return OP_BAD;
}

/* Is key a condition key op may test? */
static int key_fits(cond_op_t op, const char *key)
{
    if (op == OP_IP || op == OP_NIP)
        return strcasecmp(key, "aws:SourceIp") == 0;
    if (op == OP_BOOL)
        return strcasecmp(key, "aws:SecureTransport") == 0;
    return strcasecmp(key, "s3:prefix") == 0 || strcasecmp(key, "aws:Referer") == 0;
}

static int condition_check(const json_t *cond, char *w, size_t cap)
{
    const char *opname, *key;
    json_t *keys, *vals;
    int valid;
    if (!json_is_object(cond))
        return why(w, cap, "Condition must be an object");
    json_object_foreach((json_t *)cond, opname, keys) {
        cond_op_t op = op_of(opname);
        if (op == OP_BAD)
            return why(w, cap, "Condition operator %s is not supported", opname);
        if (!json_is_object(keys) || json_object_size(keys) == 0)
            return why(w, cap, "Invalid Condition block for %s", opname);
        json_object_foreach(keys, key, vals) {
            if (!key_fits(op, key))
                return why(w, cap, "Condition key %s is not supported with %s", key, opname);
            if (!str_list(vals))
                return why(w, cap, "Invalid values for condition key %s", key);
            for (size_t i = 0; op == OP_BOOL && i < str_count(vals); i++)
                if (strcmp(str_at(vals, i), "true") != 0 && strcmp(str_at(vals, i), "false") != 0)
                    return why(w, cap, "Invalid Bool value %s", str_at(vals, i));
            for (size_t i = 0; (op == OP_IP || op == OP_NIP) && i < str_count(vals); i++)
                if (cidr_match(str_at(vals, i), NULL, &valid), !valid)
                    return why(w, cap, "Invalid IP address or CIDR %s", str_at(vals, i));
        }
    }
    return 0;
}

/* The value of a condition key for the request, or NULL when it has none. */
static const char *key_value(const char *key, const iam_policy_ctx_t *c)
{
    if (strcasecmp(key, "aws:SourceIp") == 0)
        return c->source_ip;
    if (strcasecmp(key, "aws:SecureTransport") == 0)
        return c->secure ? "true" : "false";
    if (strcasecmp(key, "aws:Referer") == 0)
        return c->referer;
    return c->prefix;
}

/* Does one (operator, key, values) test hold? A negated operator holds when the key is absent. */
static int test_holds(cond_op_t op, const char *key, const json_t *vals, const iam_policy_ctx_t *c)
{
    const char *have = key_value(key, c);
    int neg = op == OP_STR_NE || op == OP_STR_NLIKE || op == OP_NIP, any = 0, valid;
    for (size_t i = 0; have != NULL && i < str_count(vals) && !any; i++) {
        const char *want = str_at(vals, i);
        if (op == OP_STR_EQ || op == OP_STR_NE || op == OP_BOOL)
            any = strcmp(want, have) == 0;
        else if (op == OP_STR_LIKE || op == OP_STR_NLIKE)
            any = iam_wild(want, have, 0);
        else
            any = cidr_match(want, have, &valid);
    }
    return have == NULL ? neg : neg ? !any : any;
}

static int condition_holds(const json_t *cond, const iam_policy_ctx_t *c)
{
    const char *opname, *key;
    json_t *keys, *vals;
    if (cond == NULL)
        return 1;
    json_object_foreach((json_t *)cond, opname, keys) {
        json_object_foreach(keys, key, vals) {
            if (!test_holds(op_of(opname), key, vals, c))
                return 0;
        }
    }
    return 1;
}

/* ---------------------------------------------------------------- statements */

/* Does one of v's patterns match s? */
static int any_wild(const json_t *v, const char *s, int icase)
{
    for (size_t i = 0; i < str_count(v); i++)
        if (iam_wild(str_at(v, i), s, icase))
            return 1;
    return 0;
}

/* Action/NotAction, Resource/NotResource: exactly one of each pair, each a string or list. */
static int pair_check(const json_t *st, const char *a, const char *na, char *w, size_t cap)
{
    const json_t *x = json_object_get(st, a), *nx = json_object_get(st, na);
    if ((x == NULL) == (nx == NULL))
        return why(w, cap, "Statement must have exactly one of %s and %s", a, na);
    if (!str_list(x != NULL ? x : nx))
        return why(w, cap, "Invalid %s", x != NULL ? a : na);
    return 0;
}

static int resources_check(const json_t *v, const char *bucket, char *w, size_t cap)
{
    size_t blen = strlen(bucket);
    for (size_t i = 0; i < str_count(v); i++) {
        const char *r = str_at(v, i);
        if (strncmp(r, "arn:aws:s3:::", 13) != 0 || strncmp(r + 13, bucket, blen) != 0 ||
            (r[13 + blen] != '\0' && r[13 + blen] != '/'))
            return why(w, cap, "Policy has invalid resource: %s", r);
    }
    return 0;
}

static int actions_check(const json_t *v, char *w, size_t cap)
{
    for (size_t i = 0; i < str_count(v); i++) {
        const char *a = str_at(v, i);
        if (strcmp(a, "*") != 0 && strncasecmp(a, "s3:", 3) != 0)
            return why(w, cap, "Policy has invalid action: %s", a);
    }
    return 0;
}

static int statement_check(const json_t *st, const char *bucket, char *w, size_t cap)
{
    static const char *const known[] = {"Sid", "Effect", "Principal", "Action", "NotAction", "Resource",
                                        "NotResource", "Condition"};
    const char *k, *effect = json_string_value(json_object_get(st, "Effect"));
    json_t *v;
    int rc;
    if (!json_is_object(st))
        return why(w, cap, "Statement must be an object");
    json_object_foreach((json_t *)st, k, v) {
        size_t i = 0;
        while (i < sizeof(known) / sizeof(known[0]) && strcmp(k, known[i]) != 0)
            i++;
        if (i == sizeof(known) / sizeof(known[0]))
            return why(w, cap, "Statement element %s is not supported", k);
    }
    if (effect == NULL || (strcmp(effect, "Allow") != 0 && strcmp(effect, "Deny") != 0))
        return why(w, cap, "Invalid effect: %s", effect != NULL ? effect : "(missing)");
    if (json_object_get(st, "Principal") == NULL)
        return why(w, cap, "Statement is missing required element Principal");
    if ((rc = principal_check(json_object_get(st, "Principal"), w, cap)) != 0 ||
        (rc = pair_check(st, "Action", "NotAction", w, cap)) != 0 ||
        (rc = pair_check(st, "Resource", "NotResource", w, cap)) != 0)
        return rc;
    v = json_object_get(st, "Action") ? json_object_get(st, "Action") : json_object_get(st, "NotAction");
    if ((rc = actions_check(v, w, cap)) != 0)
        return rc;
    v = json_object_get(st, "Resource") ? json_object_get(st, "Resource") : json_object_get(st, "NotResource");
    if ((rc = resources_check(v, bucket, w, cap)) != 0)
        return rc;
    v = json_object_get(st, "Condition");
    return v != NULL ? condition_check(v, w, cap) : 0;
}

/* Does statement st apply to the request c? */
static int statement_applies(const json_t *st, const iam_policy_ctx_t *c)
{
    const json_t *a = json_object_get(st, "Action"), *r = json_object_get(st, "Resource");
    int act = a != NULL ? any_wild(a, c->action, 1) : !any_wild(json_object_get(st, "NotAction"), c->action, 1);
    int res = r != NULL ? any_wild(r, c->resource, 0) : !any_wild(json_object_get(st, "NotResource"), c->resource, 0);
    return act && res && principal_match(json_object_get(st, "Principal"), c->account) &&
           condition_holds(json_object_get(st, "Condition"), c);
}

/* The document's statements (a list, or one object made a list of one), or NULL. */
static json_t *load(og_str_t doc, json_t **root, char *w, size_t cap)
{
    json_error_t err;
    *root = json_loadb(doc.base, doc.len, JSON_REJECT_DUPLICATES, &err);
    if (*root == NULL || !json_is_object(*root)) {
        why(w, cap, "Policies must be valid JSON and the first byte must be '{'");
        return NULL;
    }
    json_t *st = json_object_get(*root, "Statement");
    if (json_is_object(st)) {
        json_t *one = json_array();
        if (one != NULL && json_array_append(one, st) == 0 && json_object_set_new(*root, "Statement", one) == 0)
            return one;
        json_decref(one);
        return NULL;
    }
    if (!json_is_array(st) || json_array_size(st) == 0)
        why(w, cap, "Missing required field Statement");
    return json_is_array(st) && json_array_size(st) > 0 ? st : NULL;
}

int iam_policy_check(og_str_t doc, const char *bucket, char *w, size_t cap)
{
    json_t *root, *sts, *st;
    const char *k, *ver;
    json_t *v;
    size_t i;
    int rc = 0;
    if (doc.len > IAM_POLICY_MAX)
        return why(w, cap, "Policies cannot exceed %d bytes", IAM_POLICY_MAX);
    if ((sts = load(doc, &root, w, cap)) == NULL) {
        json_decref(root);
        return OG_EINVAL;
    }
    json_object_foreach(root, k, v) {
        if (rc == 0 && strcmp(k, "Version") != 0 && strcmp(k, "Statement") != 0 && strcmp(k, "Id") != 0)
            rc = why(w, cap, "Policy element %s is not supported", k);
    }
    ver = json_string_value(json_object_get(root, "Version"));
    if (rc == 0 && json_object_get(root, "Version") != NULL &&
        (ver == NULL || (strcmp(ver, "2012-10-17") != 0 && strcmp(ver, "2008-10-17") != 0)))
        rc = why(w, cap, "Invalid policy version");
    json_array_foreach(sts, i, st) {
        if (rc == 0)
            rc = statement_check(st, bucket, w, cap);
    }
    json_decref(root);
    return rc;
}

int iam_policy_eval(og_str_t doc, const iam_policy_ctx_t *c)
{
    json_t *root, *sts, *st;
    size_t i;
    int verdict = IAM_POLICY_NONE;
    if ((sts = load(doc, &root, NULL, 0)) == NULL) {
        json_decref(root);
        return IAM_POLICY_DENY; /* a stored policy always parses: fail closed if not */
    }
    json_array_foreach(sts, i, st) {
        if (verdict != IAM_POLICY_DENY && statement_applies(st, c))
            verdict = strcmp(json_string_value(json_object_get(st, "Effect")), "Deny") == 0 ? IAM_POLICY_DENY
                                                                                           : IAM_POLICY_ALLOW;
    }
    json_decref(root);
    return verdict;
}

int iam_policy_request(og_str_t doc, const iam_caller_t *who, const char *action, const char *bucket, og_str_t key,
                       og_str_t prefix)
{
    char ip[64];
    if (doc.len == 0)
        return IAM_POLICY_NONE;
    size_t cap = 13 + strlen(bucket) + 2 + key.len;
    char *res = malloc(cap);
    char *ref = who->referer.base != NULL ? strndup(who->referer.base, who->referer.len) : NULL;
    char *pre = prefix.base != NULL ? strndup(prefix.base, prefix.len) : NULL; /* as sent (encoded) */
    int v = IAM_POLICY_DENY;
    if (res == NULL || (who->referer.base != NULL && ref == NULL) || (prefix.base != NULL && pre == NULL))
        goto out_free;
    snprintf(res, cap, "arn:aws:s3:::%s%s%.*s", bucket, key.base ? "/" : "", (int)key.len, key.base ? key.base : "");
    const char *colon = strrchr(who->remote, ':');
    snprintf(ip, sizeof(ip), "%.*s", colon ? (int)(colon - who->remote) : (int)strlen(who->remote), who->remote);
    iam_policy_ctx_t c = {who->account, action, res, ip, who->tls, ref, pre};
    v = iam_policy_eval(doc, &c);
out_free:
    free(pre);
    free(ref);
    free(res);
    return v;
}

int iam_policy_public(og_str_t doc)
{
    json_t *root, *sts, *st;
    size_t i;
    int pub = 0;
    if ((sts = load(doc, &root, NULL, 0)) == NULL) {
        json_decref(root);
        return 0;
    }
    json_array_foreach(sts, i, st) {
        const char *effect = json_string_value(json_object_get(st, "Effect"));
        if (effect != NULL && strcmp(effect, "Allow") == 0 && json_object_get(st, "Condition") == NULL &&
            principal_match(json_object_get(st, "Principal"), NULL))
            pub = 1;
    }
    json_decref(root);
    return pub;
}
