/*
 * s3_policy.c: Put/Get/DeleteBucketPolicy and GetBucketPolicyStatus. The document is checked by
 * iam_policy_check (the supported subset, docs/s3-compat.md "Bucket policies") and kept as is in
 * the bucket record's metadata (IAM_S3POLICY_HEADER); s3_authorize evaluates it per request. Only
 * the bucket's account gets here (s3_authorize: the policy operations are the owner's).
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>

#include "s3_int.h"

static void no_policy(s3_req_t *r) { s3_error(r, 404, "NoSuchBucketPolicy", "The bucket policy does not exist", NULL); }

/* PUT ?policy: the body, checked, becomes the bucket's policy. */
static void put_policy(s3_req_t *r, const core_bucket_t *b)
{
    char *body = NULL, why[256];
    size_t len = 0;
    int rc = s3_read_body(r, IAM_POLICY_MAX, &body, &len);
    if (rc == OG_ETOOBIG)
        s3_error(r, 400, "MalformedPolicy", "Policies cannot exceed 20480 bytes", NULL);
    else if (rc == 0 && (rc = s3_payload_verify(r, body, len)) != 0)
        s3_error_on(r, rc, S3_ON_BODY);
    else if (rc != 0)
        s3_error_on(r, rc, S3_ON_BODY);
    else if (iam_policy_check((og_str_t){body, len}, r->bucket, why, sizeof(why)) != 0)
        s3_error(r, 400, "MalformedPolicy", why, NULL);
    else if (iam_s3ctl_policy_admit(iam_s3ctl_of(b->meta, b->num_meta), (og_str_t){body, len}) != 0)
        s3_error(r, 403, "AccessDenied", NULL, NULL); /* BlockPublicPolicy */
    else if ((rc = s3_bucket_meta_set(r, b, IAM_S3POLICY_HEADER, (og_str_t){body, len})) != 0)
        s3_error_rc(r, rc);
    else
        s3_send(r, 204, NULL, 0, NULL, 0);
    free(body);
}

/* GET ?policyStatus: IsPublic unless RestrictPublicBuckets restricts the public policy. */
static void policy_status(s3_req_t *r, const core_bucket_t *b, og_str_t doc)
{
    char xml[160];
    int n = snprintf(xml, sizeof(xml),
                     "<PolicyStatus xmlns=\"http://s3.amazonaws.com/doc/2006-03-01/\"><IsPublic>%s</IsPublic>"
                     "</PolicyStatus>",
                     iam_s3ctl_policy_public(iam_s3ctl_of(b->meta, b->num_meta), doc) ? "true" : "false");
    s3_send_xml(r, 200, NULL, 0, xml, (size_t)n);
}

void s3_bucket_policy(s3_req_t *r)
{
    core_bucket_t b;
    og_str_t m = r->info->method, doc;
    int status = og_query_get(r->info->query, "policyStatus", NULL);
    int known = og_str_eq(m, "GET") || og_str_eq(m, "PUT") || og_str_eq(m, "DELETE");
    if (!known || (status && !og_str_eq(m, "GET"))) {
        s3_error(r, 405, "MethodNotAllowed", NULL, NULL);
        return;
    }
    if (!s3_bucket_sub_open(r, IAM_S3POLICY_HEADER, &b, &doc))
        return;
    if (og_str_eq(m, "PUT"))
        put_policy(r, &b);
    else if (doc.base == NULL)
        no_policy(r);
    else if (status)
        policy_status(r, &b, doc);
    else
        s3_send(r, 200, (og_header_t[]){{OG_STR_LIT("Content-Type"), OG_STR_LIT("application/json")}}, 1, doc.base,
                doc.len);
    core_bucket_free(&b);
}
