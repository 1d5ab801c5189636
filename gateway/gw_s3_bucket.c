/*
 * Bucket operations: CreateBucket, HeadBucket, DeleteBucket, GetBucketLocation, and the bucket
 * record codec.
 *
 * A bucket is a record in table "buckets" keyed by its name. Summary encoding (big-endian):
 *   u8 version(=1) | u64 created_ns | u16 len + owner account
 *   version 2 (written by Swift, which also calls a bucket a container) appends the container's
 *   metadata as a header list (gw_hdrs_encode): x-container-meta-* (quotas included),
 *   x-container-read, x-container-write, lowercase names. S3 writes version 1 and reads both.
 * The detail is empty. Deleting a bucket writes a tombstone, so a later create of the same
 * name wins by timestamp on every replica.
 *
 * gw_s3_handle has already checked, before any of these but CreateBucket run, that the bucket
 * exists and belongs to the caller (NoSuchBucket / AccessDenied otherwise).
 *
 * Bucket records are read on every request (owner check, Swift container ACLs and quotas), so
 * gw_bucket_lookup and gw_bucket_get answer from the cluster handle's record cache when this
 * gateway read the live record less than BUCKET_CACHE_MS ago (gw_cluster_rec_get_cached). Without
 * it a 4 KiB GET cost two quorum reads instead of one. What that allows, and why it is acceptable:
 *  - this gateway's own CreateBucket / DeleteBucket / container writes drop the entry at once, so
 *    it always sees its own changes;
 *  - a bucket deleted through ANOTHER gateway may still accept requests here for up to
 *    BUCKET_CACHE_MS (a PUT then lands in a deleted bucket and stays invisible, exactly as with a
 *    PUT racing the delete, see gw_s3_delete_bucket); an owner or ACL change made elsewhere takes
 *    as long to apply here. AWS documents bucket operations as eventually consistent ("a deleted
 *    bucket might still appear ... for a short time"), and Swift proxies cache container info for
 *    60 s by default;
 *  - only live records are cached: a bucket created elsewhere is visible here at once, and a
 *    NoSuchBucket is never served from memory. CreateBucket reads without the cache, so it never
 *    mistakes a bucket deleted elsewhere for an existing one.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>

#include <libxml/parser.h>
#include <libxml/tree.h>

#include "gw_s3.h"
#include "gw_swift.h"

#define BUCKET_REC_VERSION 1
#define BUCKET_REC_VERSION_META 2
/* A CreateBucketConfiguration is a few hundred bytes; more is not a configuration. */
#define CREATE_BODY_MAX (64u << 10)
/* Raw keys examined per listing call while looking for one live object. */
#define EMPTY_CHECK_BATCH 256
/* How long a live bucket record read by this gateway may be reused (see the note at the top). */
#define BUCKET_CACHE_MS 1000

static int bucket_encode(const char *owner, uint64_t created_ns, char *out, size_t cap, size_t *len)
{
    size_t olen = strlen(owner);
    unsigned char *p = (unsigned char *)out;
    if (olen > 0xffff || 1 + 8 + 2 + olen > cap)
        return OG_ETOOBIG;
    *p++ = BUCKET_REC_VERSION;
    for (int i = 7; i >= 0; i--)
        *p++ = (unsigned char)(created_ns >> (8 * i));
    *p++ = (unsigned char)(olen >> 8);
    *p++ = (unsigned char)olen;
    memcpy(p, owner, olen);
    *len = 1 + 8 + 2 + olen;
    return 0;
}

int gw_bucket_decode(const og_rec_t *rec, char *owner, size_t cap, uint64_t *created_ns)
{
    const unsigned char *p = (const unsigned char *)rec->summary.base;
    size_t len = rec->summary.len, olen;
    uint64_t ts = 0;
    if (len < 11 || (p[0] != BUCKET_REC_VERSION && p[0] != BUCKET_REC_VERSION_META))
        return OG_EPROTO;
    for (int i = 1; i <= 8; i++)
        ts = ts << 8 | p[i];
    olen = (size_t)p[9] << 8 | p[10];
    if (11 + olen > len || (p[0] == BUCKET_REC_VERSION && 11 + olen != len) || olen + 1 > cap)
        return OG_EPROTO;
    memcpy(owner, p + 11, olen);
    owner[olen] = '\0';
    if (created_ns != NULL)
        *created_ns = ts;
    return 0;
}

int gw_bucket_parse(const og_rec_t *rec, gw_bucket_t *out)
{
    const unsigned char *p = (const unsigned char *)rec->summary.base;
    size_t used = 0;
    int rc;
    memset(out, 0, sizeof(*out));
    if ((rc = gw_bucket_decode(rec, out->owner, sizeof(out->owner), &out->created_ns)) != 0)
        return rc;
    if (p[0] == BUCKET_REC_VERSION)
        return 0;
    size_t off = 11 + strlen(out->owner);
    og_str_t rest = {rec->summary.base + off, rec->summary.len - off};
    if ((rc = gw_hdrs_decode(rest, &out->meta, &out->num_meta, &used)) != 0)
        return rc;
    if (used != rest.len) {
        gw_bucket_free(out);
        return OG_EPROTO;
    }
    return 0;
}

int gw_bucket_get(gw_cluster_t *cl, const char *bucket, gw_bucket_t *out)
{
    og_rec_t rec;
    char *buf = NULL;
    int rc = gw_cluster_rec_get_cached(cl, "buckets", og_str(bucket), BUCKET_CACHE_MS, &rec, &buf);
    memset(out, 0, sizeof(*out));
    if (rc != 0)
        return rc;
    if (rec.flags & OG_REC_TOMBSTONE)
        rc = OG_ENOTFOUND;
    else if ((rc = gw_bucket_parse(&rec, out)) == 0)
        out->_buf = buf, buf = NULL;
    free(buf);
    return rc;
}

int gw_bucket_put(gw_cluster_t *cl, const char *bucket, const gw_bucket_t *b)
{
    size_t olen = strlen(b->owner), hlen = gw_hdrs_encoded_len(b->meta, b->num_meta);
    og_rec_t rec = {0};
    unsigned char *s, *p;
    int rc;
    if (olen == 0 || olen > 0xffff || hlen == 0)
        return OG_EINVAL;
    if ((s = malloc(11 + olen + hlen)) == NULL)
        return -ENOMEM;
    p = s;
    *p++ = BUCKET_REC_VERSION_META;
    for (int i = 7; i >= 0; i--)
        *p++ = (unsigned char)(b->created_ns >> (8 * i));
    *p++ = (unsigned char)(olen >> 8);
    *p++ = (unsigned char)olen;
    memcpy(p, b->owner, olen);
    p = gw_hdrs_encode(b->meta, b->num_meta, p + olen);
    rec.summary = (og_str_t){(const char *)s, (size_t)(p - s)};
    gw_cluster_stamp(cl, &rec.ts, &rec.tiebreak);
    rc = gw_cluster_rec_put(cl, "buckets", og_str(bucket), &rec);
    free(s);
    return rc;
}

void gw_bucket_free(gw_bucket_t *b)
{
    free(b->meta);
    free(b->_buf);
    b->meta = NULL, b->num_meta = 0, b->_buf = NULL;
}

/* gw_bucket_lookup, from the cache (max_age_ms > 0) or always from the cluster (0). */
static int bucket_lookup(gw_ctx_t *gw, const char *bucket, uint32_t max_age_ms, char *owner, size_t cap,
                         uint64_t *created_ns)
{
    og_rec_t rec;
    char *buf = NULL;
    int rc = max_age_ms ? gw_cluster_rec_get_cached(gw->cluster, "buckets", og_str(bucket), max_age_ms, &rec, &buf)
                        : gw_cluster_rec_get(gw->cluster, "buckets", og_str(bucket), &rec, &buf);
    if (rc != 0)
        return rc;
    if (rec.flags & OG_REC_TOMBSTONE)
        rc = OG_ENOTFOUND;
    else
        rc = gw_bucket_decode(&rec, owner, cap, created_ns);
    free(buf);
    return rc;
}

int gw_bucket_lookup(gw_ctx_t *gw, const char *bucket, char *owner, size_t cap, uint64_t *created_ns)
{
    return bucket_lookup(gw, bucket, BUCKET_CACHE_MS, owner, cap, created_ns);
}

/* S3 naming rules (general purpose buckets): 3-63 characters of lowercase letters, digits, '.'
 * and '-', starting and ending with a letter or digit, no "..", and not shaped like an IPv4
 * address (virtual-host style could not tell them apart). */
static int bucket_name_valid(const char *name)
{
    size_t n = strlen(name);
    int dots = 0, all_digits_or_dots = 1;
    if (n < 3 || n > 63)
        return 0;
    for (size_t i = 0; i < n; i++) {
        char c = name[i];
        int alnum = (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9');
        if (!alnum && c != '.' && c != '-')
            return 0;
        if ((i == 0 || i == n - 1) && !alnum)
            return 0;
        if (c == '.' && name[i + 1] == '.')
            return 0;
        if (c == '.')
            dots++;
        else if (c < '0' || c > '9')
            all_digits_or_dots = 0;
    }
    return !(all_digits_or_dots && dots == 3);
}

/* Extracts LocationConstraint from a CreateBucketConfiguration document. The parser runs
 * without network access, without entity substitution and without DTD loading, and a document
 * carrying a DTD at all is refused, so no entity (external or recursive) is ever expanded.
 * 0 with the constraint copied into out ("" when absent), or OG_EINVAL (MalformedXML). */
static int parse_location(const char *xml, size_t len, char *out, size_t cap)
{
    int rc = OG_EINVAL;
    xmlDocPtr doc = xmlReadMemory(xml, (int)len, "CreateBucketConfiguration.xml", NULL,
                                  XML_PARSE_NONET | XML_PARSE_NOERROR | XML_PARSE_NOWARNING);
    out[0] = '\0';
    if (doc == NULL)
        return OG_EINVAL;
    xmlNodePtr root = xmlDocGetRootElement(doc);
    if (doc->intSubset != NULL || root == NULL ||
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

void gw_s3_create_bucket(gw_s3_req_t *r)
{
    char *body = NULL, owner[64], location[128], loc[80];
    char summary[1 + 8 + 2 + sizeof(r->user.account)];
    size_t body_len = 0, slen;
    og_rec_t rec = {0};
    og_header_t loc_hdr = {OG_STR_LIT("Location"), {loc, 0}};
    int rc;

    loc_hdr.value.len = (size_t)snprintf(loc, sizeof(loc), "/%s", r->bucket);

    if (!bucket_name_valid(r->bucket)) {
        gw_s3_error(r, 400, "InvalidBucketName", NULL, NULL);
        return;
    }
    rc = gw_s3_read_body(r, CREATE_BODY_MAX, &body, &body_len);
    if (rc == GW_EABORTED) {
        r->responded = 1; /* the client is gone: there is nobody to answer */
        return;
    }
    if (rc == OG_ETOOBIG || rc == GW_EBODY) {
        gw_s3_error(r, 400, "MalformedXML", NULL, NULL);
        return;
    }
    if (rc != 0) {
        gw_s3_error_rc(r, rc);
        return;
    }
    location[0] = '\0';
    if (body_len > 0 && parse_location(body, body_len, location, sizeof(location)) != 0) {
        gw_s3_error(r, 400, "MalformedXML", NULL, NULL);
        goto out_free_body;
    }
    /* An empty constraint means us-east-1 in S3; boto3 users in us-east-1 often name it
     * explicitly, so both the empty string and the configured region are accepted. */
    if (location[0] != '\0' && strcmp(location, r->gw->region) != 0) {
        char msg[256];
        snprintf(msg, sizeof(msg), "The %.128s location constraint is incompatible for the region specific "
                 "endpoint this request was sent to.", location);
        gw_s3_error(r, 400, "IllegalLocationConstraintException", msg, NULL);
        goto out_free_body;
    }

    rc = bucket_lookup(r->gw, r->bucket, 0, owner, sizeof(owner), NULL);
    if (rc == 0) {
        if (strcmp(owner, r->user.account) != 0) {
            gw_s3_error(r, 409, "BucketAlreadyExists", NULL, NULL);
        } else if (strcmp(r->gw->region, "us-east-1") == 0) {
            /* AWS answers 200 here for legacy compatibility in us-east-1 only and 409
             * BucketAlreadyOwnedByYou in every other region. Clients written against AWS
             * (boto3 scripts that create-or-reuse, `s3cmd mb` in a setup script) rely on
             * exactly that, so follow it; the bucket is left as it is. */
            gw_s3_send(r, 200, &loc_hdr, 1, NULL, 0);
        } else {
            gw_s3_error(r, 409, "BucketAlreadyOwnedByYou", NULL, NULL);
        }
        goto out_free_body;
    }
    if (rc != OG_ENOTFOUND) {
        gw_s3_error_rc(r, rc);
        goto out_free_body;
    }

    /* Two accounts racing for one new name both succeed here and the later timestamp owns
     * the bucket: the ring has no consensus round to make creation exclusive. */
    gw_cluster_stamp(r->gw->cluster, &rec.ts, &rec.tiebreak);
    if (bucket_encode(r->user.account, rec.ts, summary, sizeof(summary), &slen) != 0) {
        gw_s3_error(r, 500, "InternalError", NULL, NULL);
        goto out_free_body;
    }
    rec.summary = (og_str_t){summary, slen};
    rc = gw_cluster_rec_put(r->gw->cluster, "buckets", og_str(r->bucket), &rec);
    if (rc != 0) {
        gw_s3_error_rc(r, rc);
        goto out_free_body;
    }
    gw_s3_send(r, 200, &loc_hdr, 1, NULL, 0);

out_free_body:
    free(body);
}

void gw_s3_head_bucket(gw_s3_req_t *r)
{
    og_header_t hdr = {OG_STR_LIT("x-amz-bucket-region"), og_str(r->gw->region)};
    gw_s3_send(r, 200, &hdr, 1, NULL, 0);
}

void gw_s3_get_bucket_location(gw_s3_req_t *r)
{
    gw_xbuf_t b = {0};
    /* S3 reports us-east-1 as an empty constraint (the pre-region "US Standard"). */
    const char *loc = strcmp(r->gw->region, "us-east-1") == 0 ? "" : r->gw->region;
    gw_xbuf_puts(&b, "<LocationConstraint xmlns=\"http://s3.amazonaws.com/doc/2006-03-01/\">");
    gw_xbuf_escape(&b, loc, strlen(loc));
    gw_xbuf_puts(&b, "</LocationConstraint>");
    if (b.oom)
        gw_s3_error(r, 500, "InternalError", NULL, NULL);
    else
        gw_s3_send_xml(r, 200, NULL, 0, b.buf, b.len);
    gw_xbuf_free(&b);
}

/* 1 when the bucket's object table holds at least one live record, 0 when none, or an error.
 * Tombstones count toward each call's limit, so keep going while a call saw only those. */
static int bucket_has_objects(gw_s3_req_t *r, const char *table)
{
    char after[1025 + 1];
    size_t after_len = 0;
    for (;;) {
        gw_list_t l = {0};
        int rc = gw_cluster_list(r->gw->cluster, table, (og_str_t){"", 0}, (og_str_t){after, after_len},
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
        gw_list_free(&l);
        if (rc != 0)
            return rc;
        if (live || !more)
            return live;
    }
}

void gw_s3_delete_bucket(gw_s3_req_t *r)
{
    char table[3 + sizeof(r->bucket)];
    og_rec_t rec = {.flags = OG_REC_TOMBSTONE};
    int rc;

    snprintf(table, sizeof(table), "o.%s", r->bucket);
    rc = bucket_has_objects(r, table);
    if (rc < 0) {
        gw_s3_error_rc(r, rc);
        return;
    }
    if (rc > 0) {
        gw_s3_error(r, 409, "BucketNotEmpty", NULL, NULL);
        return;
    }
    /* In-progress multipart uploads keep the bucket too (as S3): deleting it would leave them to
     * whoever creates the name next. An upload created by a request racing this delete is kept
     * out of a later bucket by the creation stamp it records (gw_s3_multipart.c). */
    char owner[sizeof(r->user.account)];
    uint64_t created_ns = 0;
    if ((rc = gw_bucket_lookup(r->gw, r->bucket, owner, sizeof(owner), &created_ns)) == 0)
        rc = gw_s3_has_uploads(r->gw->cluster, r->bucket, created_ns);
    if (rc == OG_ENOTFOUND) {
        gw_s3_error(r, 404, "NoSuchBucket", NULL, NULL);
        return;
    }
    if (rc < 0) {
        gw_s3_error_rc(r, rc == OG_EPROTO ? OG_ECORRUPT : rc);
        return;
    }
    if (rc > 0) {
        gw_s3_error(r, 409, "BucketNotEmpty", "The bucket you tried to delete has multipart uploads in progress.",
                    NULL);
        return;
    }
    /* A PUT racing with this delete may still land in the bucket's table; such an object stays
     * invisible until a bucket of the same name is created again (no cross-record atomicity). */
    gw_cluster_stamp(r->gw->cluster, &rec.ts, &rec.tiebreak);
    rc = gw_cluster_rec_put(r->gw->cluster, "buckets", og_str(r->bucket), &rec);
    if (rc != 0) {
        gw_s3_error_rc(r, rc);
        return;
    }
    gw_s3_send(r, 204, NULL, 0, NULL, 0);
}
