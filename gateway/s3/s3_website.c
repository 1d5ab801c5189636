/*
 * ?website on a bucket: PutBucketWebsite, GetBucketWebsite, DeleteBucketWebsite, as AWS S3
 * documents them (the RGW anchor runs without rgw_enable_static_website and answers every one
 * 405 MethodNotAllowed, so AWS's wording is followed; docs/s3-compat.md "Website configuration").
 *
 * A WebsiteConfiguration is checked element by element and stored re-serialised (the elements
 * Onggi understands, in S3's order) as the bucket metadata S3_WEBSITE_META; GetBucketWebsite
 * answers that document. The website endpoint (s3_site.c) serves it.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include <libxml/tree.h>

#include "s3_int.h"
#include "s3_xml.h"

#define WEBSITE_BODY_MAX 65536
#define WEBSITE_RULES_MAX 50 /* AWS: at most 50 routing rules */

/* Why a configuration is refused with InvalidArgument: AWS's message. */
typedef struct {
    const char *msg;
} website_err_t;

static int is(const xmlNode *n, const char *name)
{
    return n->type == XML_ELEMENT_NODE && xmlStrcmp(n->name, (const xmlChar *)name) == 0;
}

/* The only child element named name of e (NULL when absent); *dup set when there are several. */
static xmlNode *child(const xmlNode *e, const char *name, int *dup)
{
    xmlNode *found = NULL;
    for (xmlNode *c = e->children; c; c = c->next)
        if (is(c, name)) {
            if (found)
                *dup = 1;
            found = c;
        }
    return found;
}

/* Appends <name>text</name> of element e (its text content) to out. */
static void copy_elem(og_buf_t *out, const char *name, const xmlNode *e)
{
    xmlChar *t = xmlNodeGetContent(e);
    const char *s = t ? (const char *)t : "";
    og_buf_elem(out, name, s, strlen(s));
    xmlFree(t);
}

/* Does element e hold only the child elements in names (NULL-terminated), each at most once? */
static int only_children(const xmlNode *e, const char *const *names)
{
    for (xmlNode *c = e->children; c; c = c->next) {
        size_t i = 0;
        int dup = 0;
        if (c->type != XML_ELEMENT_NODE)
            continue;
        while (names[i] && !is(c, names[i]))
            i++;
        if (names[i] == NULL || (child(e, names[i], &dup), dup))
            return 0;
    }
    return 1;
}

static int text_is_empty(const xmlNode *e)
{
    xmlChar *t = xmlNodeGetContent(e);
    int empty = t == NULL || t[0] == '\0';
    xmlFree(t);
    return empty;
}

/* Protocol: http or https (AWS's message otherwise). */
static int protocol_ok(const xmlNode *p, website_err_t *err)
{
    xmlChar *t = xmlNodeGetContent(p);
    int ok = t && (!xmlStrcmp(t, (const xmlChar *)"http") || !xmlStrcmp(t, (const xmlChar *)"https"));
    xmlFree(t);
    if (!ok)
        err->msg = "Invalid protocol, protocol can be http or https. If not defined the protocol will be selected "
                   "automatically.";
    return ok;
}

/* One <Redirect> (of a rule, or RedirectAllRequestsTo when all). 0 or S3_EMALFORMED / OG_EINVAL. */
static int redirect_copy(const xmlNode *e, int all, og_buf_t *out, website_err_t *err)
{
    static const char *const rule_names[] = {"Protocol", "HostName", "ReplaceKeyPrefixWith", "ReplaceKeyWith",
                                             "HttpRedirectCode", NULL};
    static const char *const all_names[] = {"HostName", "Protocol", NULL};
    const char *const *names = all ? all_names : rule_names;
    int dup = 0;
    if (!only_children(e, names))
        return S3_EMALFORMED;
    xmlNode *host = child(e, "HostName", &dup), *proto = child(e, "Protocol", &dup);
    if (all && (host == NULL || text_is_empty(host)))
        return S3_EMALFORMED;
    if (proto && !protocol_ok(proto, err))
        return OG_EINVAL;
    if (!all && child(e, "ReplaceKeyPrefixWith", &dup) && child(e, "ReplaceKeyWith", &dup)) {
        err->msg = "You can only define ReplaceKeyPrefix or ReplaceKey but not both.";
        return OG_EINVAL;
    }
    xmlNode *code = all ? NULL : child(e, "HttpRedirectCode", &dup);
    if (code) {
        xmlChar *t = xmlNodeGetContent(code);
        int ok = t && strlen((const char *)t) == 3 && t[0] == '3' && t[1] >= '0' && t[1] <= '9' && t[2] >= '0' &&
                 t[2] <= '9' && xmlStrcmp(t, (const xmlChar *)"300") != 0;
        xmlFree(t);
        if (!ok) {
            err->msg = "The provided HTTP redirect code is not valid. Valid codes are 3XX except 300.";
            return OG_EINVAL;
        }
    }
    for (size_t i = 0; names[i]; i++) {
        xmlNode *c = child(e, names[i], &dup);
        if (c)
            copy_elem(out, names[i], c);
    }
    return 0;
}

/* One <RoutingRule>: an optional Condition (KeyPrefixEquals / HttpErrorCodeReturnedEquals, not
 * empty) and a Redirect. */
static int rule_copy(const xmlNode *rule, og_buf_t *out, website_err_t *err)
{
    static const char *const rule_names[] = {"Condition", "Redirect", NULL};
    static const char *const cond_names[] = {"KeyPrefixEquals", "HttpErrorCodeReturnedEquals", NULL};
    int dup = 0, rc;
    if (!only_children(rule, rule_names))
        return S3_EMALFORMED;
    xmlNode *cond = child(rule, "Condition", &dup), *redir = child(rule, "Redirect", &dup);
    if (redir == NULL)
        return S3_EMALFORMED;
    og_buf_puts(out, "<RoutingRule>");
    if (cond) {
        if (!only_children(cond, cond_names))
            return S3_EMALFORMED;
        xmlNode *kp = child(cond, "KeyPrefixEquals", &dup), *ec = child(cond, "HttpErrorCodeReturnedEquals", &dup);
        if (kp == NULL && ec == NULL) {
            err->msg = "Condition cannot be empty. To redirect all requests without a condition, the condition "
                       "element shouldn't be present.";
            return OG_EINVAL;
        }
        og_buf_puts(out, "<Condition>");
        if (kp)
            copy_elem(out, "KeyPrefixEquals", kp);
        if (ec)
            copy_elem(out, "HttpErrorCodeReturnedEquals", ec);
        og_buf_puts(out, "</Condition>");
    }
    og_buf_puts(out, "<Redirect>");
    if ((rc = redirect_copy(redir, 0, out, err)) != 0)
        return rc;
    og_buf_puts(out, "</Redirect></RoutingRule>");
    return 0;
}

/* IndexDocument / ErrorDocument / RoutingRules of a configuration without RedirectAllRequestsTo. */
static int site_copy(const xmlNode *root, og_buf_t *out, website_err_t *err)
{
    int dup = 0, rc, n = 0;
    xmlNode *index = child(root, "IndexDocument", &dup), *error = child(root, "ErrorDocument", &dup);
    xmlNode *rules = child(root, "RoutingRules", &dup), *suffix = index ? child(index, "Suffix", &dup) : NULL;
    if (index == NULL) {
        err->msg = "A value for IndexDocument Suffix must be provided if RedirectAllRequestsTo is empty";
        return OG_EINVAL;
    }
    xmlChar *t = suffix ? xmlNodeGetContent(suffix) : NULL;
    int bad = t == NULL || t[0] == '\0' || strchr((const char *)t, '/') != NULL;
    xmlFree(t);
    if (bad) {
        err->msg = "The IndexDocument Suffix is not well formed";
        return OG_EINVAL;
    }
    og_buf_puts(out, "<IndexDocument>");
    copy_elem(out, "Suffix", suffix);
    og_buf_puts(out, "</IndexDocument>");
    if (error) {
        xmlNode *key = child(error, "Key", &dup);
        if (key == NULL || text_is_empty(key)) {
            err->msg = "The ErrorDocument Key is not well formed";
            return OG_EINVAL;
        }
        og_buf_puts(out, "<ErrorDocument>");
        copy_elem(out, "Key", key);
        og_buf_puts(out, "</ErrorDocument>");
    }
    if (rules == NULL)
        return 0;
    og_buf_puts(out, "<RoutingRules>");
    for (xmlNode *c = rules->children; c; c = c->next) {
        if (c->type != XML_ELEMENT_NODE)
            continue;
        if (!is(c, "RoutingRule") || ++n > WEBSITE_RULES_MAX)
            return S3_EMALFORMED;
        if ((rc = rule_copy(c, out, err)) != 0)
            return rc;
    }
    og_buf_puts(out, "</RoutingRules>");
    return n > 0 ? 0 : S3_EMALFORMED;
}

/* Checks a WebsiteConfiguration document and writes its stored form into out. 0,
 * S3_EMALFORMED (MalformedXML) or OG_EINVAL (InvalidArgument, err->msg says why). */
static int website_parse(const char *xml, size_t len, og_buf_t *out, website_err_t *err)
{
    static const char *const names[] = {"IndexDocument", "ErrorDocument", "RoutingRules", "RedirectAllRequestsTo",
                                        NULL};
    xmlDocPtr doc = s3_xml_read(xml, len);
    xmlNode *root = doc ? xmlDocGetRootElement(doc) : NULL;
    int rc = S3_EMALFORMED, dup = 0;
    if (root == NULL || !is(root, "WebsiteConfiguration") || !only_children(root, names))
        goto out_free;
    og_buf_puts(out, "<WebsiteConfiguration xmlns=\"" S3_XMLNS "\">");
    xmlNode *all = child(root, "RedirectAllRequestsTo", &dup);
    if (all != NULL) {
        if (child(root, "IndexDocument", &dup) || child(root, "ErrorDocument", &dup) ||
            child(root, "RoutingRules", &dup)) {
            err->msg = "RedirectAllRequestsTo cannot be provided in conjunction with other Routing Rules.";
            rc = OG_EINVAL;
            goto out_free;
        }
        og_buf_puts(out, "<RedirectAllRequestsTo>");
        if ((rc = redirect_copy(all, 1, out, err)) != 0)
            goto out_free;
        og_buf_puts(out, "</RedirectAllRequestsTo>");
    } else if ((rc = site_copy(root, out, err)) != 0) {
        goto out_free;
    }
    og_buf_puts(out, "</WebsiteConfiguration>");
    rc = out->oom ? -ENOMEM : 0;
out_free:
    xmlFreeDoc(doc);
    return rc;
}

/* The body of a PutBucketWebsite in its stored form. 0, or answered (1). */
static int read_config(s3_req_t *r, og_buf_t *out)
{
    char *body = NULL;
    size_t len = 0;
    website_err_t err = {NULL};
    int rc = s3_read_body(r, WEBSITE_BODY_MAX, &body, &len);
    if (rc == OG_ETOOBIG)
        rc = S3_EMALFORMED;
    if (rc == 0 && (rc = s3_payload_verify(r, body, len)) == 0)
        rc = website_parse(body, len, out, &err);
    free(body);
    if (rc == OG_EINVAL)
        s3_error(r, 400, "InvalidArgument", err.msg, NULL);
    else if (rc != 0)
        s3_error_on(r, rc, S3_ON_BODY);
    return rc != 0;
}

void s3_bucket_website(s3_req_t *r, int put, int del)
{
    og_buf_t conf = {0};
    core_bucket_t b = {0};
    int rc;
    if (put && read_config(r, &conf))
        goto out_free;
    if ((rc = s3_bucket_load(r, &b)) != 0) {
        s3_error_on(r, rc, S3_ON_BUCKET);
        goto out_free;
    }
    if (put || del) {
        if ((rc = s3_bucket_meta_set(r, &b, S3_WEBSITE_META, (og_str_t){conf.buf, conf.len})) != 0)
            s3_error_rc(r, rc);
        else
            s3_send(r, put ? 200 : 204, NULL, 0, NULL, 0);
    } else {
        og_str_t doc = og_header_find(b.meta, b.num_meta, S3_WEBSITE_META);
        if (doc.base == NULL)
            s3_error(r, 404, "NoSuchWebsiteConfiguration", "The specified bucket does not have a website "
                                                           "configuration", NULL);
        else
            s3_send_xml(r, 200, NULL, 0, doc.base, doc.len);
    }
    core_bucket_free(&b);
out_free:
    og_buf_free(&conf);
}
