/*
 * iam_acct_acl.c: Swift account ACLs (X-Account-Access-Control), as TempAuth reads them with
 * account ACLs on (swift/common/middleware/tempauth.py: extract_acl_and_report_errors, authorize;
 * acl.py: parse_acl / format_acl version 2).
 *
 * The value is a JSON object whose keys are "admin", "read-write" and "read-only", each a list of
 * grantees: an account name (all its users) or "account:user". It is kept in TempAuth's
 * canonical form (compact, keys sorted, ASCII), which is also what HEAD shows to admins.
 */
#include "iam_int.h"

#include <errno.h>
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>

static const char *const acct_keys[] = {"read-only", "read-write", "admin"}; /* IAM_ACCT_READ.. order */

static int bad(char *why, size_t cap, const char *fmt, const char *arg)
{
    snprintf(why, cap, fmt, arg);
    return OG_EINVAL;
}

/* TempAuth's key and list checks of a parsed object: 0, or OG_EINVAL with why. */
static int acct_acl_check_obj(json_t *o, char *why, size_t cap)
{
    const char *k;
    json_t *v;
    json_object_foreach(o, k, v) {
        size_t i, n = sizeof(acct_keys) / sizeof(acct_keys[0]);
        for (i = 0; i < n && strcmp(k, acct_keys[i]) != 0; i++)
            ;
        if (i == n)
            return bad(why, cap, "Key \"%s\" not recognized", k);
        if (!json_is_array(v))
            return bad(why, cap, "Value for key \"%s\" must be a list", k);
        json_t *g;
        json_array_foreach(v, i, g) {
            if (!json_is_string(g))
                return bad(why, cap, "Elements of \"%s\" list must be strings", k);
        }
    }
    return 0;
}

/* TempAuth's "Syntax error in input (%r)": the value as Python's repr shows a string (double
 * quotes when it has a ' and no ", backslash escapes), cut to fit cap. */
static void syntax_error(og_str_t v, char *why, size_t cap)
{
    char q = memchr(v.base, '\'', v.len) && !memchr(v.base, '"', v.len) ? '"' : '\'';
    size_t k = (size_t)snprintf(why, cap, "Syntax error in input (%c", q);
    for (size_t i = 0; i < v.len && k + 8 < cap; i++) {
        unsigned char c = (unsigned char)v.base[i];
        if (c == '\\' || c == (unsigned char)q)
            k += (size_t)snprintf(why + k, cap - k, "\\%c", c);
        else if (c < 0x20 || c == 0x7f)
            k += (size_t)snprintf(why + k, cap - k, c == '\t' ? "\\t" : "\\x%02x", c);
        else
            why[k++] = (char)c;
    }
    snprintf(why + k, cap - k, "%c)", q);
}

int iam_account_acl_parse(og_str_t value, og_buf_t *canon, char *why, size_t cap)
{
    json_t *o;
    char *s = NULL;
    int rc;
    if (og_str_trim(value).len == 0)
        return 0; /* parse_acl v2: "" is the empty ACL */
    o = json_loadb(value.base, value.len, JSON_DECODE_ANY | JSON_REJECT_DUPLICATES, NULL);
    if (o == NULL || !json_is_object(o)) {
        syntax_error(value, why, cap);
        rc = OG_EINVAL;
        goto out_free;
    }
    if ((rc = acct_acl_check_obj(o, why, cap)) != 0 || json_object_size(o) == 0)
        goto out_free; /* an empty object removes the ACL, as Swift shows none for it */
    s = json_dumps(o, JSON_COMPACT | JSON_SORT_KEYS | JSON_ENSURE_ASCII);
    rc = s == NULL ? -ENOMEM : og_buf_puts(canon, s);
out_free:
    free(s);
    json_decref(o);
    return rc;
}

/* Does the list under key in o name id (its account, or "account:user")? */
static int acct_acl_names(json_t *o, const char *key, const iam_ident_t *id)
{
    json_t *list = json_object_get(o, key), *g;
    size_t i, al = strlen(id->account);
    json_array_foreach(list, i, g) {
        const char *s = json_string_value(g);
        if (s == NULL)
            continue;
        if (strcmp(s, id->account) == 0 ||
            (strncmp(s, id->account, al) == 0 && s[al] == ':' && strcmp(s + al + 1, id->user) == 0))
            return 1;
    }
    return 0;
}

int iam_account_allows(og_str_t acl, const iam_ident_t *id, int in_container, int read)
{
    json_t *o;
    int v = 0;
    if (id == NULL || acl.len == 0 || (o = json_loadb(acl.base, acl.len, 0, NULL)) == NULL)
        return 0;
    if (acct_acl_names(o, "admin", id))
        v = IAM_ACCT_OWNER;
    else if (acct_acl_names(o, "read-write", id) && (in_container || read))
        v = 1; /* everything in containers, only reads of the account itself */
    else if (acct_acl_names(o, "read-only", id) && read)
        v = 1;
    json_decref(o);
    return v;
}
