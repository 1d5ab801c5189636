/*
 * Bucket operations: CreateBucket, HeadBucket, DeleteBucket, GetBucketLocation (the records
 * themselves: core/core_bucket.c).
 *
 * s3_handle has already checked, before any of these but CreateBucket run, that the bucket
 * exists and belongs to the caller (NoSuchBucket / AccessDenied otherwise).
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <libxml/parser.h>
#include <libxml/tree.h>

#include "s3_int.h"
#include "s3_xml.h"

/* A CreateBucketConfiguration is a few hundred bytes; more is not a configuration. */
#define CREATE_BODY_MAX (64u << 10)
/* Raw keys examined per listing call while looking for one live object. */
#define EMPTY_CHECK_BATCH 256

/* Prefixes and suffixes S3 reserves for its own names (access point aliases, directory buckets,
 * Object Lambda, Multi-Region Access Points, IDN punycode): never a general purpose bucket. */
static const char *const reserved_prefixes[] = {"xn--", "sthree-", "amzn-s3-demo-"};
static const char *const reserved_suffixes[] = {"-s3alias", "--ol-s3", ".mrap", "--x-s3", "--table-s3"};

/* 1 when name starts or ends with one of S3's reserved affixes. */
static int bucket_name_reserved(const char *name, size_t n)
{
    for (size_t i = 0; i < sizeof(reserved_prefixes) / sizeof(reserved_prefixes[0]); i++)
        if (strncmp(name, reserved_prefixes[i], strlen(reserved_prefixes[i])) == 0)
            return 1;
    for (size_t i = 0; i < sizeof(reserved_suffixes) / sizeof(reserved_suffixes[0]); i++) {
        size_t l = strlen(reserved_suffixes[i]);
        if (n >= l && strcmp(name + n - l, reserved_suffixes[i]) == 0)
            return 1;
    }
    return 0;
}

/* S3 naming rules (general purpose buckets): 3-63 characters of lowercase letters, digits, '.'
 * and '-', starting and ending with a letter or digit, no "..", no '-' next to a '.', not shaped
 * like an IPv4 address (virtual-host style could not tell them apart), and none of the reserved
 * prefixes and suffixes. */
static int bucket_name_valid(const char *name)
{
    size_t n = strlen(name);
    int dots = 0, all_digits_or_dots = 1;
    if (n < 3 || n > 63 || bucket_name_reserved(name, n))
        return 0;
    for (size_t i = 0; i < n; i++) {
        char c = name[i];
        int alnum = (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9');
        if (!alnum && c != '.' && c != '-')
            return 0;
        if ((i == 0 || i == n - 1) && !alnum)
            return 0;
        if ((c == '.' || c == '-') && name[i + 1] == '.')
            return 0;
        if (c == '.' && name[i + 1] == '-')
            return 0;
        if (c == '.')
            dots++;
        else if (c < '0' || c > '9')
            all_digits_or_dots = 0;
    }
    return !(all_digits_or_dots && dots == 3);
}

/* Extracts LocationConstraint from a CreateBucketConfiguration document (read by s3_xml_read:
 * no network, no DTD, so no entity is ever expanded). 0 with the constraint copied into out
 * ("" when absent), or OG_EINVAL (MalformedXML). */
static int parse_location(const char *xml, size_t len, char *out, size_t cap)
{
    int rc = OG_EINVAL;
    xmlDocPtr doc = s3_xml_read(xml, len);
    out[0] = '\0';
    if (doc == NULL)
        return OG_EINVAL;
    xmlNodePtr root = xmlDocGetRootElement(doc);
    if (root == NULL ||
        xmlStrcmp(root->name, (const xmlChar *)"CreateBucketConfiguration") != 0)
        goto out_free_doc;
    for (xmlNodePtr n = root->children; n != NULL; n = n->next) {
        if (n->type != XML_ELEMENT_NODE || xmlStrcmp(n->name, (const xmlChar *)"LocationConstraint") != 0)
            continue;
        xmlChar *text = xmlNodeGetContent(n);
        if (text == NULL)
            goto out_free_doc;
        int fits = snprintf(out, cap, "%s", (const char *)text) < (int)cap;
        xmlFree(text);
        if (!fits)
            goto out_free_doc;
        break;
    }
    rc = 0;

out_free_doc:
    xmlFreeDoc(doc);
    return rc;
}

void s3_create_bucket(s3_req_t *r)
{
    char *body = NULL, location[128], loc[80];
    size_t body_len = 0;
    og_header_t loc_hdr = {OG_STR_LIT("Location"), {loc, 0}};
    int rc;

    loc_hdr.value.len = (size_t)snprintf(loc, sizeof(loc), "/%s", r->bucket);

    if (!bucket_name_valid(r->bucket)) {
        s3_error(r, 400, "InvalidBucketName", NULL, NULL);
        return;
    }
    rc = s3_read_body(r, CREATE_BODY_MAX, &body, &body_len);
    if (rc == HTTP_EABORTED) {
        r->responded = 1; /* the client is gone: there is nobody to answer */
        return;
    }
    if (rc == OG_ETOOBIG || rc == HTTP_EBODY) {
        s3_error(r, 400, "MalformedXML", NULL, NULL);
        return;
    }
    if (rc != 0) {
        s3_error_rc(r, rc);
        return;
    }
    location[0] = '\0';
    if (body_len > 0 && parse_location(body, body_len, location, sizeof(location)) != 0) {
        s3_error(r, 400, "MalformedXML", NULL, NULL);
        goto out_free_body;
    }
    /* An empty constraint means us-east-1 in S3; boto3 users in us-east-1 often name it
     * explicitly, so both the empty string and the configured region are accepted. */
    if (location[0] != '\0' && strcmp(location, r->gw->region) != 0) {
        char msg[256];
        snprintf(msg, sizeof(msg), "The %.128s location constraint is incompatible for the region specific "
                 "endpoint this request was sent to.", location);
        s3_error(r, 400, "IllegalLocationConstraintException", msg, NULL);
        goto out_free_body;
    }

    /* "account:bucket" names a bucket of that account: only its own users create one there */
    if (r->tenant[0] != '\0' && strcmp(r->tenant, S3_GLOBAL_TENANT) != 0 && strcmp(r->tenant, r->user.account) != 0) {
        s3_error(r, 403, "AccessDenied", NULL, NULL);
        goto out_free_body;
    }
    rc = core_bucket_create(r->gw->cluster, r->bucket, r->user.account);
    memcpy(r->bid, r->bucket, sizeof(r->bucket)); /* a new bucket of the global table: id = name */
    if (rc == 0 && r->acl.len > 0) /* x-amz-acl / x-amz-grant-* (read by the router) */
        rc = s3_acl_set_bucket(r, (og_str_t){r->acl.buf, r->acl.len});
    if (rc == 0) /* x-amz-object-ownership (read by the router) */
        rc = s3_ownership_create(r);
    if (rc == -EACCES) {
        s3_error(r, 409, "BucketAlreadyExists", NULL, NULL);
        goto out_free_body;
    }
    if (rc == OG_EEXIST && strcmp(r->gw->region, "us-east-1") != 0) {
        s3_error(r, 409, "BucketAlreadyOwnedByYou", NULL, NULL);
        goto out_free_body;
    }
    /* OG_EEXIST in us-east-1: AWS answers 200 here for legacy compatibility in us-east-1 only and
     * 409 BucketAlreadyOwnedByYou in every other region. Clients written against AWS (boto3
     * scripts that create-or-reuse, `s3cmd mb` in a setup script) rely on exactly that, so follow
     * it; the bucket is left as it is. */
    if (rc != 0 && rc != OG_EEXIST) {
        s3_error_rc(r, rc);
        goto out_free_body;
    }
    if (rc == 0 && s3_lock_create_bucket(r) != 0)
        goto out_free_body;
    s3_send(r, 200, &loc_hdr, 1, NULL, 0);

out_free_body:
    free(body);
}

void s3_head_bucket(s3_req_t *r)
{
    og_header_t hdr = {OG_STR_LIT("x-amz-bucket-region"), og_str(r->gw->region)};
    s3_send(r, 200, &hdr, 1, NULL, 0);
}

void s3_get_bucket_location(s3_req_t *r)
{
    og_buf_t b = {0};
    /* S3 reports us-east-1 as an empty constraint (the pre-region "US Standard"). */
    const char *loc = strcmp(r->gw->region, "us-east-1") == 0 ? "" : r->gw->region;
    og_buf_puts(&b, "<LocationConstraint xmlns=\"http://s3.amazonaws.com/doc/2006-03-01/\">");
    og_buf_escape(&b, loc, strlen(loc));
    og_buf_puts(&b, "</LocationConstraint>");
    if (b.oom)
        s3_error(r, 500, "InternalError", NULL, NULL);
    else
        s3_send_xml(r, 200, NULL, 0, b.buf, b.len);
    og_buf_free(&b);
}

/* 1 when the bucket's object table holds at least one live record, 0 when none, or an error.
 * Tombstones count toward each call's limit, so keep going while a call saw only those. */
static int bucket_has_objects(s3_req_t *r, const char *table)
{
    char after[1025 + 1];
    size_t after_len = 0;
    for (;;) {
        cluster_list_t l = {0};
        int rc = cluster_list(r->gw->cluster, table, (og_str_t){"", 0}, (og_str_t){after, after_len},
                                 EMPTY_CHECK_BATCH, &l);
        if (rc != 0)
            return rc;
        int live = l.n > 0, more = l.truncated && l.next_after.len > 0;
        if (more && l.next_after.len < sizeof(after)) {
            memcpy(after, l.next_after.base, l.next_after.len);
            after_len = l.next_after.len;
        } else if (more) {
            rc = OG_EPROTO; /* a key longer than any S3 key: not ours to judge, refuse the delete */
        }
        cluster_list_free(&l);
        if (rc != 0)
            return rc;
        if (live || !more)
            return live;
    }
}

void s3_delete_bucket(s3_req_t *r)
{
    char table[CORE_TABLE_CAP];
    core_bucket_t b;
    int rc;

    core_table('o', r->bid, table);
    rc = bucket_has_objects(r, table);
    if (rc == 0) {
        /* versions and delete markers keep the bucket too (as S3) */
        core_table('v', r->bid, table);
        rc = bucket_has_objects(r, table);
    }
    if (rc < 0) {
        s3_error_rc(r, rc);
        return;
    }
    if (rc > 0) {
        s3_error(r, 409, "BucketNotEmpty", NULL, NULL);
        return;
    }
    /* In-progress multipart uploads are aborted, as S3 does. An upload created by a request
     * racing this delete is kept out of a later bucket of the same name by the creation stamp it
     * records (s3_multipart.c). */
    if ((rc = core_upload_drop_all(r->gw->cluster, r->bid)) != 0) {
        s3_error_rc(r, rc);
        return;
    }
    /* A PUT racing with this delete may still land in the bucket's table; such an object stays
     * invisible until a bucket of the same name is created again (no cross-record atomicity). */
    if ((rc = s3_bucket_load(r, &b)) == 0) { /* where its record lives */
        rc = core_bucket_delete(r->gw->cluster, r->bucket, &b);
        core_bucket_free(&b);
    }
    if (rc != 0) {
        s3_error_on(r, rc, S3_ON_BUCKET);
        return;
    }
    s3_send(r, 204, NULL, 0, NULL, 0);
}
