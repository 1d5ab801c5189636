/*
 * s3_pab.c: Put/Get/DeletePublicAccessBlock and Put/Get/DeleteBucketOwnershipControls, and the
 * x-amz-object-ownership of CreateBucket. Both are bucket documents (s3_bucket_doc) kept in the
 * bucket record's metadata in the iam room's forms (IAM_S3PAB_HEADER, IAM_S3OWNERSHIP_HEADER);
 * what they decide is iam's (iam_pab.c, through s3_authorize and the ACL and policy writes). Only
 * the bucket's account gets here (s3_authorize).
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <strings.h>

#include <libxml/tree.h>

#include "s3_int.h"
#include "s3_xml.h"

/* The flag a PublicAccessBlockConfiguration element name stands for, or 0 for another name. */
static unsigned pab_flag(const xmlChar *name)
{
    for (size_t i = 0; i < IAM_PAB_FLAGS; i++)
        if (xmlStrcmp(name, (const xmlChar *)iam_pab_names[i]) == 0)
            return 1u << i;
    return 0;
}

/* The flags of a PublicAccessBlockConfiguration (absent elements are false, as S3): 0 with *pab,
 * or S3_EMALFORMED for another element or a value other than true / false. */
static int pab_parse(xmlNodePtr root, unsigned *pab)
{
    int rc = 0;
    *pab = 0;
    for (xmlNodePtr c = root->children; c != NULL && rc == 0; c = c->next) {
        if (c->type != XML_ELEMENT_NODE)
            continue;
        unsigned flag = pab_flag(c->name);
        xmlChar *v = xmlNodeGetContent(c);
        if (flag == 0 || v == NULL)
            rc = S3_EMALFORMED;
        else if (strcasecmp((const char *)v, "true") == 0)
            *pab |= flag;
        else if (strcasecmp((const char *)v, "false") != 0)
            rc = S3_EMALFORMED;
        xmlFree(v);
    }
    return rc;
}

/* s3_bucket_doc_t.read for ?publicAccessBlock: the four flags in the stored form. */
static int pab_read(s3_req_t *r, og_buf_t *out)
{
    xmlDocPtr doc = s3_read_doc(r, "PublicAccessBlockConfiguration");
    char form[IAM_PAB_FLAGS + 1];
    unsigned pab;
    if (doc == NULL)
        return 1; /* answered */
    int rc = pab_parse(xmlDocGetRootElement(doc), &pab);
    xmlFreeDoc(doc);
    if (rc != 0)
        return rc;
    iam_pab_format(pab, form);
    og_buf_puts(out, form);
    return out->oom ? -ENOMEM : 0;
}

static void pab_send(s3_req_t *r, og_str_t stored)
{
    og_buf_t b = {0};
    unsigned pab = iam_s3ctl_of((og_header_t[]){{OG_STR_LIT(IAM_S3PAB_HEADER), stored}}, 1).pab;
    og_buf_puts(&b, "<PublicAccessBlockConfiguration xmlns=\"" S3_XMLNS "\">");
    for (size_t i = 0; i < IAM_PAB_FLAGS; i++)
        og_buf_printf(&b, "<%s>%s</%s>", iam_pab_names[i], (pab >> i) & 1 ? "true" : "false", iam_pab_names[i]);
    og_buf_puts(&b, "</PublicAccessBlockConfiguration>");
    if (b.oom)
        s3_error_rc(r, -ENOMEM);
    else
        s3_send_xml(r, 200, NULL, 0, b.buf, b.len);
    og_buf_free(&b);
}

void s3_bucket_pab(s3_req_t *r, int put, int del)
{
    static const s3_bucket_doc_t doc = {IAM_S3PAB_HEADER, pab_read, pab_send, "NoSuchPublicAccessBlockConfiguration",
                                        "The public access block configuration was not found"};
    s3_bucket_doc(r, put, del, &doc);
}

/* BucketOwnerEnforced needs a bucket ACL granting nothing but the owner's full control (AWS: grants
 * to others must be moved to the policy first). 0, 1 after answering 400
 * InvalidBucketAclWithObjectOwnership, or a bucket read error. */
static int enforced_admit(s3_req_t *r)
{
    core_bucket_t b;
    int rc = s3_bucket_load(r, &b);
    if (rc != 0)
        return rc;
    og_str_t acl = s3_acl_of(b.meta, b.num_meta);
    if (acl.len > 0 && iam_s3ctl_acl_admit((iam_s3ctl_t){0, IAM_OWN_ENFORCED}, acl, b.owner) != 0) {
        s3_error(r, 400, "InvalidBucketAclWithObjectOwnership",
                 "Bucket cannot have ACLs set with ObjectOwnership's BucketOwnerEnforced setting", NULL);
        rc = 1;
    }
    core_bucket_free(&b);
    return rc;
}

/* s3_bucket_doc_t.read for ?ownershipControls: <OwnershipControls><Rule><ObjectOwnership>, one
 * rule, one of the three names. */
static int ownership_read(s3_req_t *r, og_buf_t *out)
{
    xmlDocPtr doc = s3_read_doc(r, "OwnershipControls");
    xmlChar *v = NULL;
    int rules = 0, mode = OG_EINVAL;
    if (doc == NULL)
        return 1; /* answered */
    xmlNodePtr root = xmlDocGetRootElement(doc), rule = s3_xml_child(root, "Rule");
    for (xmlNodePtr c = root->children; c != NULL; c = c->next)
        rules += c->type == XML_ELEMENT_NODE;
    if (rules == 1 && rule != NULL && s3_xml_child_text(rule, "ObjectOwnership", &v))
        mode = iam_ownership_parse(og_str((const char *)v));
    xmlFree(v);
    xmlFreeDoc(doc);
    if (mode < 0)
        return S3_EMALFORMED;
    int rc = mode == IAM_OWN_ENFORCED ? enforced_admit(r) : 0;
    if (rc != 0)
        return rc;
    og_buf_puts(out, iam_ownership_name(mode));
    return out->oom ? -ENOMEM : 0;
}

static void ownership_send(s3_req_t *r, og_str_t stored)
{
    char xml[256];
    int n = snprintf(xml, sizeof(xml),
                     "<OwnershipControls xmlns=\"" S3_XMLNS "\"><Rule><ObjectOwnership>%s</ObjectOwnership></Rule>"
                     "</OwnershipControls>",
                     iam_ownership_name(iam_ownership_parse(stored)));
    s3_send_xml(r, 200, NULL, 0, xml, (size_t)n);
}

void s3_bucket_ownership(s3_req_t *r, int put, int del)
{
    static const s3_bucket_doc_t doc = {IAM_S3OWNERSHIP_HEADER, ownership_read, ownership_send,
                                        "OwnershipControlsNotFoundError", "The bucket ownership controls were not found"};
    s3_bucket_doc(r, put, del, &doc);
}

int s3_ownership_header(s3_req_t *r)
{
    og_str_t v = http_req_header(r->http, "x-amz-object-ownership");
    int mode = v.base != NULL ? iam_ownership_parse(v) : IAM_OWN_WRITER;
    if (mode < 0)
        s3_error(r, 400, "InvalidArgument", "Invalid x-amz-object-ownership header", NULL);
    else
        r->ctl.ownership = mode;
    return mode >= 0;
}

int s3_ownership_create(s3_req_t *r)
{
    og_str_t v = http_req_header(r->http, "x-amz-object-ownership");
    core_bucket_t b;
    if (v.base == NULL)
        return 0;
    int rc = s3_bucket_load(r, &b);
    if (rc != 0)
        return rc;
    rc = s3_bucket_meta_set(r, &b, IAM_S3OWNERSHIP_HEADER, og_str(iam_ownership_name(r->ctl.ownership)));
    core_bucket_free(&b);
    return rc;
}
