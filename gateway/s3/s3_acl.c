/*
 * s3_acl.c: S3 access control lists. The ACL a request asks for (x-amz-acl or x-amz-grant-*),
 * the authorization of every request against its bucket's and object's ACLs (iam_s3acl_allows,
 * the one answer for both APIs), and Get/PutBucketAcl, Get/PutObjectAcl.
 *
 * ACLs are kept in the compact form of iam.h under IAM_S3ACL_HEADER: in the bucket record's
 * metadata and in the object record's stored headers (never sent back as a header). A resource
 * without one is private. The bucket's PublicAccessBlock and ObjectOwnership (iam_pab.c, set by
 * s3_pab.c) apply to every decision here. Object ownership is ObjectWriter unless the bucket says
 * otherwise (RGW's behaviour; AWS's buckets made since 2023 default to BucketOwnerEnforced, which
 * disables ACLs): an object belongs to the account that wrote it. Deliberate simplification: a bucket's owner may do everything to every
 * object in its bucket (AWS lets it only delete another writer's objects unless granted).
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <strings.h>

#include <libxml/parser.h>
#include <libxml/tree.h>

#include "s3_int.h"
#include "s3_xml.h"

/* An AccessControlPolicy is small; AWS allows up to 100 grants. */
#define ACL_BODY_MAX (64u << 10)
#define ACL_GRANTS_MAX 100

static const struct {
    const char *header;
    unsigned perm;
} grant_headers[] = {
    {"x-amz-grant-read", IAM_S3_READ},         {"x-amz-grant-write", IAM_S3_WRITE},
    {"x-amz-grant-read-acp", IAM_S3_READ_ACP}, {"x-amz-grant-write-acp", IAM_S3_WRITE_ACP},
    {"x-amz-grant-full-control", IAM_S3_FULL},
};

int s3_acl_request(s3_req_t *r, const char *owner, const char *bucket_owner, og_buf_t *out, int *given)
{
    og_str_t canned = http_req_header(r->http, "x-amz-acl");
    int rc = 0, grants = 0;
    *given = 0;
    for (size_t i = 0; i < sizeof(grant_headers) / sizeof(grant_headers[0]) && rc == 0; i++) {
        og_str_t v = http_req_header(r->http, grant_headers[i].header);
        if (v.base == NULL)
            continue;
        if (!grants)
            og_buf_printf(out, "Fu%s", owner); /* the owner keeps full control, as in S3 */
        grants = 1;
        rc = iam_s3acl_grant_header(out, grant_headers[i].perm, v);
    }
    if (rc != 0)
        return rc;
    if (canned.base != NULL && grants)
        return S3_EACLBOTH;
    if (canned.base != NULL)
        rc = iam_s3acl_canned(canned, owner, bucket_owner, out);
    *given = canned.base != NULL || grants;
    return rc != 0 ? rc : out->oom ? -ENOMEM : 0;
}

void s3_acl_error(s3_req_t *r, int rc)
{
    if (rc == IAM_EPUBLICACL)
        s3_error(r, 403, "AccessDenied", NULL, NULL);
    else if (rc == IAM_EACLDISABLED)
        s3_error(r, 400, "AccessControlListNotSupported", "The bucket does not allow ACLs", NULL);
    else if (rc == S3_EACLBOTH)
        s3_error(r, 400, "InvalidRequest", "Specifying both Canned ACLs and Header Grants is not allowed", NULL);
    else if (rc == IAM_EUNRESOLVABLE)
        s3_error(r, 400, "UnresolvableGrantByEmailAddress",
                 "The e-mail address you provided does not match any account on record.", NULL);
    else if (rc == OG_EINVAL)
        s3_error(r, 400, "InvalidArgument", "Invalid ACL: an unknown canned ACL, permission or grantee.", NULL);
    else if (rc == S3_EMALFORMED)
        s3_error(r, 400, "MalformedACLError",
                 "The XML you provided was not well-formed or did not validate against our published schema", NULL);
    else
        s3_error_rc(r, rc);
}

og_str_t s3_acl_of(const og_header_t *h, size_t n) { return og_header_find(h, n, IAM_S3ACL_HEADER); }

og_str_t s3_new_owner(const s3_req_t *r) { return og_str(r->bucket_owns ? r->bucket_owner : r->user.account); }

/* ---------------------------------------------------------------- authorization */

/* What one request needs: the ACL permission (IAM_S3_* bits, 0 when only the bucket's account
 * may do it), on the bucket or on the object, and the policy action. */
typedef struct {
    unsigned perm;
    int on_object;
    const char *action;
} need_t;

/* The need of a request on the bucket itself (r->key NULL). */
static need_t bucket_need(const s3_req_t *r)
{
    og_str_t m = r->info->method, q = r->info->query;
    int get = og_str_eq(m, "GET");
    if (og_query_get(q, "acl", NULL))
        return get ? (need_t){IAM_S3_READ_ACP, 0, "s3:GetBucketAcl"} : (need_t){IAM_S3_WRITE_ACP, 0, "s3:PutBucketAcl"};
    if (og_query_get(q, "policy", NULL) || og_query_get(q, "policyStatus", NULL))
        return (need_t){0, 0, get ? "s3:GetBucketPolicy" : "s3:PutBucketPolicy"};
    if (og_query_get(q, "publicAccessBlock", NULL)) /* AWS's action for Put and Delete */
        return (need_t){0, 0, get ? "s3:GetBucketPublicAccessBlock" : "s3:PutBucketPublicAccessBlock"};
    if (og_query_get(q, "ownershipControls", NULL))
        return (need_t){0, 0, get ? "s3:GetBucketOwnershipControls" : "s3:PutBucketOwnershipControls"};
    if (og_query_get(q, "cors", NULL))
        return (need_t){0, 0, get ? "s3:GetBucketCORS" : "s3:PutBucketCORS"};
    if (og_query_get(q, "website", NULL)) /* the owner's only (a public bucket's ListBucket is not enough) */
        return (need_t){0, 0, get ? "s3:GetBucketWebsite" : og_str_eq(m, "DELETE") ? "s3:DeleteBucketWebsite"
                                                                                     : "s3:PutBucketWebsite"};
    if (og_query_get(q, "encryption", NULL)) /* the owner's only; AWS's action for Put and Delete */
        return (need_t){0, 0, get ? "s3:GetEncryptionConfiguration" : "s3:PutEncryptionConfiguration"};
    if (get && og_query_get(q, "location", NULL))
        return (need_t){0, 0, "s3:GetBucketLocation"};
    if (get && og_query_get(q, "uploads", NULL))
        return (need_t){IAM_S3_READ, 0, "s3:ListBucketMultipartUploads"};
    if (get || og_str_eq(m, "HEAD"))
        return (need_t){IAM_S3_READ, 0, "s3:ListBucket"};
    if (og_str_eq(m, "POST") && og_query_get(q, "delete", NULL))
        return (need_t){IAM_S3_WRITE, 0, "s3:DeleteObject"};
    return (need_t){0, 0, og_str_eq(m, "DELETE") ? "s3:DeleteBucket" : "s3:CreateBucket"};
}

/* The need of a request on r's key. */
static need_t object_need(const s3_req_t *r)
{
    og_str_t m = r->info->method, q = r->info->query;
    int get = og_str_eq(m, "GET") || og_str_eq(m, "HEAD"), up = og_query_get(q, "uploadId", NULL);
    if (og_query_get(q, "acl", NULL))
        return get ? (need_t){IAM_S3_READ_ACP, 1, "s3:GetObjectAcl"} : (need_t){IAM_S3_WRITE_ACP, 1, "s3:PutObjectAcl"};
    if (get && up)
        return (need_t){IAM_S3_WRITE, 0, "s3:ListMultipartUploadParts"};
    if (get)
        return (need_t){IAM_S3_READ, 1, "s3:GetObject"};
    if (og_str_eq(m, "DELETE"))
        return (need_t){IAM_S3_WRITE, 0, up ? "s3:AbortMultipartUpload" : "s3:DeleteObject"};
    return (need_t){IAM_S3_WRITE, 0, "s3:PutObject"}; /* PutObject, CopyObject, multipart uploads */
}

/* The bucket policy's verdict (IAM_POLICY_*) on r's caller doing action on bucket (key.base NULL)
 * or its object key, under policy doc (empty: none). */
static int policy_verdict(const s3_req_t *r, og_str_t doc, const char *action, const char *bucket, og_str_t key)
{
    og_str_t prefix = {NULL, 0};
    if (key.base == NULL && strcmp(action, "s3:ListBucket") == 0 && !og_query_get(r->info->query, "prefix", &prefix))
        prefix = OG_STR_LIT("");
    iam_caller_t who = {r->authenticated ? r->user.account : NULL, r->info->remote, r->info->tls,
                        http_req_header(r->http, "referer")};
    return iam_policy_request(doc, &who, action, bucket, key, prefix);
}

/* May r's caller (me, NULL when anonymous) do `perm` to object key of bucket (owned by
 * bucket_owner, ACL bucket_acl, controls ctl)? 0, S3_EDENIED, or the lookup's error (OG_ENOTFOUND
 * only for a caller who may list the bucket: others are denied, as S3 does). */
static int object_allows(s3_req_t *r, const char *bucket, og_str_t key, unsigned perm, const char *bucket_owner,
                         og_str_t bucket_acl, iam_s3ctl_t ctl)
{
    core_meta_t m;
    char *buf = NULL, owner[64];
    const char *me = r->authenticated ? r->user.account : NULL;
    int rc = core_obj_lookup(r->gw->cluster, bucket, key, &m, &buf);
    if (rc == OG_ENOTFOUND && !iam_s3ctl_acl_allows(ctl, bucket_acl, bucket_owner, me, IAM_S3_READ))
        return S3_EDENIED;
    if (rc != 0)
        return rc;
    snprintf(owner, sizeof(owner), "%.*s", (int)m.owner.len, m.owner.base);
    if (!iam_s3ctl_acl_allows(ctl, s3_acl_of(m.headers, m.num_headers), owner, me, perm))
        rc = S3_EDENIED;
    core_meta_free(&m);
    free(buf);
    return rc;
}

/* Does the container's Swift X-Container-Read admit an anonymous read of its objects (`.r:*`, or
 * a referrer entry matching r's Referer)? One public container, whichever URL names it; a grant
 * that needed the Referer marks r's answer not shareable (r->referer_grant). */
static int swift_read_allows(s3_req_t *r, const core_bucket_t *b)
{
    og_str_t acl = og_header_find(b->meta, b->num_meta, "x-container-read");
    if (iam_acl_allows(acl, NULL, (og_str_t){"", 0}, IAM_ACL_READ))
        return 1;
    r->referer_grant = iam_acl_allows(acl, NULL, http_req_header(r->http, "referer"), IAM_ACL_READ);
    return r->referer_grant;
}

/* May r's caller do what n says to bucket b (named bucket), or with key.base set to that object?
 * Sets *ctl (the bucket's controls). The bucket policy first: an explicit Deny wins over
 * everything (the bucket's account too, except for the policy's own operations, so it can always
 * repair it), an Allow admits (RestrictPublicBuckets: of a public policy, only the account's);
 * else the account owns, else ACLs decide (under the bucket's controls: iam_s3ctl_acl_allows).
 * 0, S3_EDENIED or a lookup's error. */
static int allows(s3_req_t *r, const core_bucket_t *b, const char *bucket, og_str_t key, need_t n, iam_s3ctl_t *ctl)
{
    const char *me = r->authenticated ? r->user.account : NULL;
    og_str_t acl = s3_acl_of(b->meta, b->num_meta);
    int mine = me != NULL && strcmp(b->owner, me) == 0, policy_op = strstr(n.action, "BucketPolicy") != NULL;
    og_str_t doc = og_header_find(b->meta, b->num_meta, IAM_S3POLICY_HEADER);
    *ctl = iam_s3ctl_of(b->meta, b->num_meta);
    int v = policy_op ? IAM_POLICY_NONE : policy_verdict(r, doc, n.action, bucket, key);
    v = iam_s3ctl_policy_verdict(*ctl, doc, v, b->owner, me);
    if (v == IAM_POLICY_DENY)
        return S3_EDENIED;
    if (mine || v == IAM_POLICY_ALLOW)
        return 0;
    if (n.perm == 0)
        return S3_EDENIED;
    if (me == NULL && n.on_object && n.perm == IAM_S3_READ && swift_read_allows(r, b))
        return 0;
    if (n.on_object)
        return object_allows(r, b->id, key, n.perm, b->owner, acl, *ctl);
    return iam_s3ctl_acl_allows(*ctl, acl, b->owner, me, n.perm) ? 0 : S3_EDENIED;
}

int s3_authorize(s3_req_t *r)
{
    need_t n = r->key != NULL ? object_need(r) : bucket_need(r);
    og_str_t key = r->key != NULL ? (og_str_t){r->key, r->key_len} : (og_str_t){NULL, 0};
    core_bucket_t b;
    int rc = s3_bucket_load(r, &b);
    if (rc != 0)
        return rc;
    snprintf(r->bucket_owner, sizeof(r->bucket_owner), "%s", b.owner);
    memcpy(r->bid, b.id, sizeof(r->bid));
    rc = allows(r, &b, r->bucket, key, n, &r->ctl);
    /* ACL grants (but Swift referrer entries) hold for every anonymous client alike; a policy may not (aws:SourceIp,
     * aws:Referer, aws:SecureTransport), so only without one is the answer anyone's */
    r->shareable = rc == 0 && !r->authenticated && !r->referer_grant &&
                   og_header_find(b.meta, b.num_meta, IAM_S3POLICY_HEADER).len == 0;
    core_bucket_free(&b);
    return rc;
}

int s3_may_read(s3_req_t *r, const char *tenant, const char *name, og_str_t key, char bid[CORE_BID_CAP])
{
    core_bucket_t b;
    iam_s3ctl_t ctl;
    int rc = s3_bucket_find(r, tenant, name, &b);
    bid[0] = '\0';
    if (rc != 0)
        return rc;
    memcpy(bid, b.id, CORE_BID_CAP);
    rc = allows(r, &b, name, key, (need_t){IAM_S3_READ, 1, "s3:GetObject"}, &ctl);
    core_bucket_free(&b);
    return rc;
}

/* ---------------------------------------------------------------- GetBucketAcl, GetObjectAcl */

/* Appends a <Grant> for grant g (display names are the account names). */
static void render_grant(og_buf_t *b, const iam_s3grant_t *g)
{
    og_buf_puts(b, "<Grant><Grantee xmlns:xsi=\"http://www.w3.org/2001/XMLSchema-instance\" xsi:type=\"");
    og_buf_puts(b, g->group ? "Group\">" : "CanonicalUser\">");
    if (g->group) {
        og_buf_elem(b, "URI", g->uri ? g->uri : "", g->uri ? strlen(g->uri) : 0);
    } else {
        og_buf_elem(b, "ID", g->id.base, g->id.len);
        og_buf_elem(b, "DisplayName", g->id.base, g->id.len);
    }
    og_buf_puts(b, "</Grantee>");
    og_buf_elem(b, "Permission", g->perm_name, strlen(g->perm_name));
    og_buf_puts(b, "</Grant>");
}

/* Answers 200 with the AccessControlPolicy of a resource owned by owner with acl (empty: the
 * owner's FULL_CONTROL alone). */
static void send_acl(s3_req_t *r, const char *owner, og_str_t acl)
{
    og_buf_t b = {0}, priv = {0};
    iam_s3grant_t g;
    const char *display = r->authenticated && strcmp(owner, r->user.account) == 0 ? r->user.display_name : owner;
    if (acl.len == 0 && iam_s3acl_canned(OG_STR_LIT("private"), owner, NULL, &priv) == 0)
        acl = (og_str_t){priv.buf, priv.len};
    og_buf_puts(&b, "<AccessControlPolicy xmlns=\"http://s3.amazonaws.com/doc/2006-03-01/\"><Owner>");
    og_buf_elem(&b, "ID", owner, strlen(owner));
    og_buf_elem(&b, "DisplayName", display, strlen(display));
    og_buf_puts(&b, "</Owner><AccessControlList>");
    while (iam_s3acl_next(&acl, &g))
        render_grant(&b, &g);
    og_buf_puts(&b, "</AccessControlList></AccessControlPolicy>");
    if (b.oom || priv.oom)
        s3_error_rc(r, -ENOMEM);
    else
        s3_send_xml(r, 200, NULL, 0, b.buf, b.len);
    og_buf_free(&b);
    og_buf_free(&priv);
}

void s3_get_acl(s3_req_t *r)
{
    core_bucket_t bk;
    core_meta_t m;
    char *buf = NULL, owner[64];
    int rc;
    if (r->key == NULL) {
        if ((rc = s3_bucket_load(r, &bk)) != 0) {
            s3_error_on(r, rc, S3_ON_BUCKET);
            return;
        }
        /* ACLs disabled (BucketOwnerEnforced): the owner's full control is the whole ACL */
        send_acl(r, bk.owner, r->ctl.ownership == IAM_OWN_ENFORCED ? (og_str_t){NULL, 0} : s3_acl_of(bk.meta, bk.num_meta));
        core_bucket_free(&bk);
        return;
    }
    og_str_t key = {r->key, r->key_len}, vid;
    rc = s3_version_param(r, &vid) ? core_ver_lookup(r->gw->cluster, r->bid, key, vid, &m, &buf)
                                   : core_obj_lookup(r->gw->cluster, r->bid, key, &m, &buf);
    if (rc == 0 && (m.vflags & CORE_VER_MARKER)) { /* a delete marker has no ACL */
        core_meta_free(&m);
        free(buf);
        rc = OG_ENOTFOUND;
    }
    if (rc != 0) {
        s3_error_rc(r, rc);
        return;
    }
    if (r->ctl.ownership == IAM_OWN_ENFORCED) /* the bucket owner owns every object, ACLs disabled */
        send_acl(r, r->bucket_owner, (og_str_t){NULL, 0});
    else {
        snprintf(owner, sizeof(owner), "%.*s", (int)m.owner.len, m.owner.base);
        send_acl(r, owner, s3_acl_of(m.headers, m.num_headers));
    }
    core_meta_free(&m);
    free(buf);
}

/* ---------------------------------------------------------------- PutBucketAcl, PutObjectAcl */

/* The text of element `name` among e's children (first match), or an empty slice. */
static og_str_t child_text(const xmlNode *e, const char *name, xmlChar **hold)
{
    for (const xmlNode *c = e->children; c != NULL; c = c->next)
        if (c->type == XML_ELEMENT_NODE && strcmp((const char *)c->name, name) == 0) {
            *hold = xmlNodeGetContent(c);
            return og_str((const char *)*hold);
        }
    return (og_str_t){NULL, 0};
}

/* Appends one <Grant> of an AccessControlPolicy to out. 0 or an iam_s3acl_grant / S3_EMALFORMED
 * code. */
static int parse_grant(const xmlNode *grant, og_buf_t *out)
{
    static const char *const types[] = {"ID", "URI", "EmailAddress"};
    static const char *const grant_types[] = {"id", "uri", "emailAddress"};
    static const char *const perm_names[] = {"READ", "WRITE", "READ_ACP", "WRITE_ACP", "FULL_CONTROL"};
    static const unsigned perm_bits[] = {IAM_S3_READ, IAM_S3_WRITE, IAM_S3_READ_ACP, IAM_S3_WRITE_ACP, IAM_S3_FULL};
    xmlChar *ptext = NULL, *gtext = NULL;
    const xmlNode *grantee = NULL;
    int rc = S3_EMALFORMED;
    for (const xmlNode *c = grant->children; c != NULL; c = c->next)
        if (c->type == XML_ELEMENT_NODE && strcmp((const char *)c->name, "Grantee") == 0)
            grantee = c;
    og_str_t perm = child_text(grant, "Permission", &ptext);
    for (size_t i = 0; grantee != NULL && i < 3 && rc == S3_EMALFORMED; i++) {
        og_str_t v = child_text(grantee, types[i], &gtext);
        for (size_t j = 0; v.base != NULL && j < 5; j++)
            if (og_str_eq(perm, perm_names[j]))
                rc = iam_s3acl_grant(out, perm_bits[j], grant_types[i], og_str_trim(v));
        xmlFree(gtext);
        gtext = NULL;
    }
    xmlFree(ptext);
    return rc;
}

/* The ACL of an AccessControlPolicy body into out. 0, S3_EMALFORMED, or a grant's error. */
static int parse_policy(const char *xml, size_t len, og_buf_t *out)
{
    xmlDocPtr doc = s3_xml_read(xml, len);
    const xmlNode *root = doc ? xmlDocGetRootElement(doc) : NULL, *list = NULL;
    int rc = 0;
    size_t n = 0;
    if (root == NULL || strcmp((const char *)root->name, "AccessControlPolicy") != 0)
        rc = S3_EMALFORMED;
    for (const xmlNode *c = root ? root->children : NULL; c != NULL && rc == 0; c = c->next)
        if (c->type == XML_ELEMENT_NODE && strcmp((const char *)c->name, "AccessControlList") == 0)
            list = c;
    for (const xmlNode *g = list ? list->children : NULL; g != NULL && rc == 0; g = g->next)
        if (g->type == XML_ELEMENT_NODE && strcmp((const char *)g->name, "Grant") == 0)
            rc = ++n > ACL_GRANTS_MAX ? S3_EMALFORMED : parse_grant(g, out);
    if (rc == 0 && list == NULL)
        rc = S3_EMALFORMED;
    if (doc != NULL)
        xmlFreeDoc(doc);
    return rc;
}

/* The ACL a PutBucketAcl / PutObjectAcl sets on a resource of owner: from its headers, else from
 * its body, if the bucket's controls admit it (under BucketOwnerEnforced the bucket owner owns
 * every object). 0 or a code for s3_acl_error. */
static int requested_acl(s3_req_t *r, const char *owner, og_buf_t *out)
{
    char *body = NULL;
    size_t len;
    if (r->ctl.ownership == IAM_OWN_ENFORCED)
        owner = r->bucket_owner;
    int given, rc = s3_acl_request(r, owner, r->key ? r->bucket_owner : NULL, out, &given);
    if (rc == 0 && !given && (rc = s3_read_body(r, ACL_BODY_MAX, &body, &len)) == 0 &&
        (rc = s3_payload_verify(r, body, len)) == 0)
        rc = len == 0 ? S3_EMALFORMED : parse_policy(body, len, out);
    free(body);
    return rc != 0 ? rc : iam_s3ctl_acl_admit(r->ctl, (og_str_t){out->buf, out->len}, r->bucket_owner);
}

/* hdrs (n of them) with header `name` set to value (removed when value.base is NULL), into *out
 * (malloc'd, n + 1 room). 0 or -ENOMEM. */
static int with_header(const og_header_t *hdrs, size_t n, const char *name, og_str_t value, og_header_t **out,
                       size_t *nout)
{
    size_t k = 0;
    og_header_t *h = malloc((n + 1) * sizeof(*h));
    if (h == NULL)
        return -ENOMEM;
    for (size_t i = 0; i < n; i++)
        if (!og_str_ieq(hdrs[i].name, name))
            h[k++] = hdrs[i];
    if (value.base != NULL)
        h[k++] = (og_header_t){og_str(name), value};
    *out = h, *nout = k;
    return 0;
}

int s3_bucket_meta_set(s3_req_t *r, const core_bucket_t *b, const char *name, og_str_t value)
{
    core_bucket_t nb = {.created_ns = b->created_ns};
    og_header_t *h = NULL;
    int rc = with_header(b->meta, b->num_meta, name, value, &h, &nb.num_meta);
    if (rc == 0) {
        nb.meta = h;
        snprintf(nb.owner, sizeof(nb.owner), "%s", b->owner);
        memcpy(nb.id, b->id, sizeof(nb.id)); /* where the record lives (core_bucket_put) */
        rc = core_bucket_put(r->gw->cluster, r->bucket, &nb);
    }
    free(h);
    return rc;
}

int s3_bucket_sub_open(s3_req_t *r, const char *name, core_bucket_t *b, og_str_t *value)
{
    int rc = s3_bucket_load(r, b);
    if (rc != 0) {
        s3_error_on(r, rc, S3_ON_BUCKET);
        return 0;
    }
    *value = og_header_find(b->meta, b->num_meta, name);
    if (!og_str_eq(r->info->method, "DELETE"))
        return 1;
    if ((rc = s3_bucket_meta_set(r, b, name, (og_str_t){NULL, 0})) != 0)
        s3_error_rc(r, rc);
    else
        s3_send(r, 204, NULL, 0, NULL, 0); /* with or without one before, as S3 */
    core_bucket_free(b);
    return 0;
}

/* Sets r's bucket's ACL: acl, or with acl NULL the one r asks for (into *asked). */
static int put_bucket_acl(s3_req_t *r, og_str_t *acl, og_buf_t *asked)
{
    core_bucket_t b;
    og_str_t v;
    int rc = s3_bucket_load(r, &b);
    if (rc != 0)
        return rc;
    if (acl == NULL && (rc = requested_acl(r, b.owner, asked)) == 0) {
        v = (og_str_t){asked->buf, asked->len};
        acl = &v;
    }
    if (rc == 0)
        rc = s3_bucket_meta_set(r, &b, IAM_S3ACL_HEADER, *acl);
    core_bucket_free(&b);
    return rc;
}

/* Rewrites the object's record with the new ACL (its Last-Modified moves: a documented
 * difference). */
static int put_object_acl(s3_req_t *r, og_buf_t *acl)
{
    core_meta_t m;
    char *buf = NULL, owner[64];
    og_header_t *h = NULL;
    const og_header_t *old;
    og_str_t key = {r->key, r->key_len};
    int rc = core_obj_lookup(r->gw->cluster, r->bid, key, &m, &buf);
    if (rc != 0)
        return rc;
    old = m.headers;
    snprintf(owner, sizeof(owner), "%.*s", (int)m.owner.len, m.owner.base);
    if ((rc = requested_acl(r, owner, acl)) == 0 &&
        (rc = s3_acl_note_public_object(r, (og_str_t){acl->buf, acl->len})) == 0 &&
        (rc = with_header(m.headers, m.num_headers, IAM_S3ACL_HEADER, (og_str_t){acl->buf, acl->len}, &h,
                          &m.num_headers)) == 0) {
        m.headers = h;
        if ((rc = core_obj_touch(r->gw->cluster, &m)) == 0)
            rc = core_obj_commit(r->gw->cluster, r->bid, key, &m);
    }
    m.headers = old;
    free(h);
    core_meta_free(&m);
    free(buf);
    return rc;
}

int s3_acl_note_public_object(s3_req_t *r, og_str_t acl)
{
    if (!iam_s3acl_public(acl, IAM_S3_READ))
        return 0;
    core_bucket_t b;
    int rc = s3_bucket_load(r, &b);
    if (rc != 0)
        return rc;
    if (og_header_find(b.meta, b.num_meta, IAM_PUBLIC_OBJECTS_HEADER).len == 0)
        rc = s3_bucket_meta_set(r, &b, IAM_PUBLIC_OBJECTS_HEADER, OG_STR_LIT("1"));
    core_bucket_free(&b);
    return rc;
}

void s3_put_acl(s3_req_t *r)
{
    og_buf_t acl = {0};
    int rc = r->key == NULL ? put_bucket_acl(r, NULL, &acl) : put_object_acl(r, &acl);
    if (rc == 0)
        s3_send(r, 200, NULL, 0, NULL, 0);
    else if (rc == S3_EACLBOTH || rc == IAM_EUNRESOLVABLE || rc == OG_EINVAL || rc == S3_EMALFORMED ||
             rc == IAM_EPUBLICACL || rc == IAM_EACLDISABLED)
        s3_acl_error(r, rc);
    else
        s3_error_on(r, rc, S3_ON_BODY);
    og_buf_free(&acl);
}

int s3_acl_set_bucket(s3_req_t *r, og_str_t acl)
{
    return put_bucket_acl(r, &acl, NULL);
}
