/*
 * s3_op.c: names the S3 operation a request asks for (AWS's API names: GetObject, ListObjectsV2
 * ...), for the access log and the metrics' op label (docs/operations.md, "Metrics"). It reads
 * only the request's shape (method, bucket, key, sub-resource, copy source), not whether the
 * gateway implements the operation, so the label set is fixed and small: the rules below plus
 * "Unknown".
 */
#include "s3_int.h"

/* Which requests a rule matches: service (no bucket), bucket (no key), object (a key). */
enum { ON_SERVICE = 's', ON_BUCKET_LEVEL = 'b', ON_OBJECT = 'o' };

typedef struct {
    const char *op; /* first: the rules are the metrics' list of names (http_api_t.stride) */
    const char *method;
    char level;
    const char *param; /* a query parameter that must be present, or NULL */
    int copy;          /* 1: needs x-amz-copy-source, 0: must not have it, -1: either */
} s3_op_rule_t;

/* First match wins: sub-resources before the plain forms. */
static const s3_op_rule_t s3_op_rules[] = {
    {"ListBuckets", "GET", ON_SERVICE, NULL, -1},
    {"GetBucketLocation", "GET", ON_BUCKET_LEVEL, "location", -1},
    {"ListMultipartUploads", "GET", ON_BUCKET_LEVEL, "uploads", -1},
    {"GetBucketAcl", "GET", ON_BUCKET_LEVEL, "acl", -1},
    {"GetBucketVersioning", "GET", ON_BUCKET_LEVEL, "versioning", -1},
    {"PutBucketVersioning", "PUT", ON_BUCKET_LEVEL, "versioning", -1},
    {"ListObjectVersions", "GET", ON_BUCKET_LEVEL, "versions", -1},
    {"GetBucketTagging", "GET", ON_BUCKET_LEVEL, "tagging", -1},
    {"PutBucketTagging", "PUT", ON_BUCKET_LEVEL, "tagging", -1},
    {"DeleteBucketTagging", "DELETE", ON_BUCKET_LEVEL, "tagging", -1},
    {"GetBucketWebsite", "GET", ON_BUCKET_LEVEL, "website", -1},
    {"PutBucketWebsite", "PUT", ON_BUCKET_LEVEL, "website", -1},
    {"DeleteBucketWebsite", "DELETE", ON_BUCKET_LEVEL, "website", -1},
    {"GetBucketCors", "GET", ON_BUCKET_LEVEL, "cors", -1},
    {"PutBucketCors", "PUT", ON_BUCKET_LEVEL, "cors", -1},
    {"DeleteBucketCors", "DELETE", ON_BUCKET_LEVEL, "cors", -1},
    {"GetBucketPolicy", "GET", ON_BUCKET_LEVEL, "policy", -1},
    {"PutBucketPolicy", "PUT", ON_BUCKET_LEVEL, "policy", -1},
    {"DeleteBucketPolicy", "DELETE", ON_BUCKET_LEVEL, "policy", -1},
    {"GetPublicAccessBlock", "GET", ON_BUCKET_LEVEL, "publicAccessBlock", -1},
    {"PutPublicAccessBlock", "PUT", ON_BUCKET_LEVEL, "publicAccessBlock", -1},
    {"DeletePublicAccessBlock", "DELETE", ON_BUCKET_LEVEL, "publicAccessBlock", -1},
    {"GetBucketOwnershipControls", "GET", ON_BUCKET_LEVEL, "ownershipControls", -1},
    {"PutBucketOwnershipControls", "PUT", ON_BUCKET_LEVEL, "ownershipControls", -1},
    {"DeleteBucketOwnershipControls", "DELETE", ON_BUCKET_LEVEL, "ownershipControls", -1},
    {"GetBucketLifecycleConfiguration", "GET", ON_BUCKET_LEVEL, "lifecycle", -1},
    {"PutBucketLifecycleConfiguration", "PUT", ON_BUCKET_LEVEL, "lifecycle", -1},
    {"DeleteBucketLifecycle", "DELETE", ON_BUCKET_LEVEL, "lifecycle", -1},
    {"GetBucketEncryption", "GET", ON_BUCKET_LEVEL, "encryption", -1},
    {"PutBucketEncryption", "PUT", ON_BUCKET_LEVEL, "encryption", -1},
    {"DeleteBucketEncryption", "DELETE", ON_BUCKET_LEVEL, "encryption", -1},
    {"GetObjectLockConfiguration", "GET", ON_BUCKET_LEVEL, "object-lock", -1},
    {"PutObjectLockConfiguration", "PUT", ON_BUCKET_LEVEL, "object-lock", -1},
    {"DeleteObjects", "POST", ON_BUCKET_LEVEL, "delete", -1},
    {"ListObjectsV2", "GET", ON_BUCKET_LEVEL, "list-type", -1},
    {"ListObjects", "GET", ON_BUCKET_LEVEL, NULL, -1},
    {"HeadBucket", "HEAD", ON_BUCKET_LEVEL, NULL, -1},
    {"CreateBucket", "PUT", ON_BUCKET_LEVEL, NULL, -1},
    {"DeleteBucket", "DELETE", ON_BUCKET_LEVEL, NULL, -1},
    {"PostObject", "POST", ON_BUCKET_LEVEL, NULL, -1},
    {"UploadPartCopy", "PUT", ON_OBJECT, "uploadId", 1},
    {"UploadPart", "PUT", ON_OBJECT, "uploadId", 0},
    {"CompleteMultipartUpload", "POST", ON_OBJECT, "uploadId", -1},
    {"ListParts", "GET", ON_OBJECT, "uploadId", -1},
    {"AbortMultipartUpload", "DELETE", ON_OBJECT, "uploadId", -1},
    {"CreateMultipartUpload", "POST", ON_OBJECT, "uploads", -1},
    {"GetObjectAcl", "GET", ON_OBJECT, "acl", -1},
    {"PutObjectAcl", "PUT", ON_OBJECT, "acl", -1},
    {"GetObjectTagging", "GET", ON_OBJECT, "tagging", -1},
    {"PutObjectTagging", "PUT", ON_OBJECT, "tagging", -1},
    {"DeleteObjectTagging", "DELETE", ON_OBJECT, "tagging", -1},
    {"GetObjectRetention", "GET", ON_OBJECT, "retention", -1},
    {"PutObjectRetention", "PUT", ON_OBJECT, "retention", -1},
    {"GetObjectLegalHold", "GET", ON_OBJECT, "legal-hold", -1},
    {"PutObjectLegalHold", "PUT", ON_OBJECT, "legal-hold", -1},
    {"GetObjectAttributes", "GET", ON_OBJECT, "attributes", -1},
    {"CopyObject", "PUT", ON_OBJECT, NULL, 1},
    {"PutObject", "PUT", ON_OBJECT, NULL, 0},
    {"GetObject", "GET", ON_OBJECT, NULL, -1},
    {"HeadObject", "HEAD", ON_OBJECT, NULL, -1},
    {"DeleteObject", "DELETE", ON_OBJECT, NULL, -1},
    {"Unknown", NULL, 0, NULL, -1}, /* matches anything: keep last */
};

const http_api_t s3_http_api = {"s3", &s3_op_rules[0].op, sizeof(s3_op_rules[0]),
                                sizeof(s3_op_rules) / sizeof(s3_op_rules[0])};

/* Does rule t match r (whose level is lv)? */
static int s3_op_matches(const s3_req_t *r, const s3_op_rule_t *t, char lv)
{
    og_str_t raw;
    if (t->method == NULL)
        return 1;
    if (t->level != lv || !og_str_eq(r->info->method, t->method))
        return 0;
    if (t->param != NULL && !og_query_get(r->info->query, t->param, &raw))
        return 0;
    if (t->copy >= 0 && (http_req_header(r->http, "x-amz-copy-source").base != NULL) != t->copy)
        return 0;
    return 1;
}

size_t s3_op_classify(const s3_req_t *r)
{
    char lv = r->bucket[0] == '\0' ? ON_SERVICE : r->key == NULL ? ON_BUCKET_LEVEL : ON_OBJECT;
    size_t n = sizeof(s3_op_rules) / sizeof(s3_op_rules[0]), i = 0;
    while (i < n - 1 && !s3_op_matches(r, &s3_op_rules[i], lv))
        i++;
    return i;
}

const char *s3_op_name(size_t op) { return s3_op_rules[op].op; }
