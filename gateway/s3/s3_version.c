/*
 * Bucket versioning: GetBucketVersioning, PutBucketVersioning, and what every object operation
 * says about the version it touched (x-amz-version-id, x-amz-delete-marker). The versions
 * themselves are core's (core/core_version.c; docs/architecture.md, "Versioning");
 * ListObjectVersions is a listing (s3_list.c).
 *
 * s3_handle has checked that the bucket exists and belongs to the caller.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>

#include <libxml/parser.h>
#include <libxml/tree.h>

#include "s3_int.h"
#include "s3_xml.h"

#define VERSIONING_BODY_MAX (64u << 10)

void s3_version_answer(s3_req_t *r, const core_meta_t *m, int named)
{
    if (m->vid[0] == '\0' && !named)
        return;
    snprintf(r->version_id, sizeof(r->version_id), "%s", core_ver_id(m));
    r->delete_marker = (m->vflags & CORE_VER_MARKER) != 0;
}

int s3_version_param(const s3_req_t *r, og_str_t *out) { return og_query_get(r->info->query, "versionId", out); }

void s3_get_bucket_versioning(s3_req_t *r)
{
    core_versioning_t st;
    og_buf_t b = {0};
    int rc = core_versioning_get(r->gw->cluster, r->bid, &st, NULL);
    if (rc != 0) {
        s3_error_on(r, rc, S3_ON_BUCKET);
        return;
    }
    og_buf_puts(&b, "<VersioningConfiguration xmlns=\"http://s3.amazonaws.com/doc/2006-03-01/\">");
    if (st != CORE_VER_OFF)
        og_buf_puts(&b, st == CORE_VER_ENABLED ? "<Status>Enabled</Status><MfaDelete>Disabled</MfaDelete>"
                                                : "<Status>Suspended</Status><MfaDelete>Disabled</MfaDelete>");
    og_buf_puts(&b, "</VersioningConfiguration>");
    if (b.oom)
        s3_error_rc(r, -ENOMEM);
    else
        s3_send_xml(r, 200, NULL, 0, b.buf, b.len);
    og_buf_free(&b);
}


/* Reads a VersioningConfiguration: 0 with *state, S3_EMALFORMED (not the document), OG_EINVAL
 * (another Status: RGW's InvalidArgument), or -ENOTSUP (MfaDelete Enabled: no MFA device can be
 * named here; RGW answers 403 AccessDenied without one). */
static int parse_versioning(const char *xml, size_t len, core_versioning_t *state)
{
    xmlDocPtr doc = s3_xml_read(xml, len);
    xmlChar *status = NULL, *mfa = NULL;
    int rc = S3_EMALFORMED;
    if (doc == NULL)
        return S3_EMALFORMED;
    xmlNodePtr root = xmlDocGetRootElement(doc);
    if (root == NULL || xmlStrcmp(root->name, (const xmlChar *)"VersioningConfiguration") != 0 ||
        !s3_xml_child_text(root, "Status", &status))
        goto out_free_doc;
    if (s3_xml_child_text(root, "MfaDelete", &mfa) && xmlStrcmp(mfa, (const xmlChar *)"Disabled") != 0) {
        rc = xmlStrcmp(mfa, (const xmlChar *)"Enabled") == 0 ? -ENOTSUP : S3_EMALFORMED;
        goto out_free_doc;
    }
    rc = OG_EINVAL;
    if (xmlStrcmp(status, (const xmlChar *)"Enabled") == 0)
        *state = CORE_VER_ENABLED, rc = 0;
    else if (xmlStrcmp(status, (const xmlChar *)"Suspended") == 0)
        *state = CORE_VER_SUSPENDED, rc = 0;
out_free_doc:
    xmlFree(status);
    xmlFree(mfa);
    xmlFreeDoc(doc);
    return rc;
}

void s3_put_bucket_versioning(s3_req_t *r)
{
    char *body = NULL;
    size_t len = 0;
    core_versioning_t st, cur;
    core_lock_conf_t lock;
    int rc = s3_read_body(r, VERSIONING_BODY_MAX, &body, &len);
    if (rc == OG_ETOOBIG || rc == HTTP_EBODY)
        rc = S3_EMALFORMED;
    if (rc == 0 && (rc = s3_payload_verify(r, body, len)) == 0)
        rc = parse_versioning(body, len, &st);
    /* an Object Lock bucket keeps versioning on: suspended writes would replace locked versions */
    if (rc == 0 && (rc = core_versioning_get(r->gw->cluster, r->bid, &cur, &lock)) == 0 && lock.enabled &&
        st == CORE_VER_SUSPENDED)
        rc = CORE_ELOCKED;
    if (rc == 0)
        rc = core_versioning_put(r->gw->cluster, r->bid, st);
    if (rc == CORE_ELOCKED)
        s3_error(r, 409, "InvalidBucketState",
                 "An Object Lock configuration is present on this bucket, so the versioning state cannot be changed.",
                 NULL);
    else if (rc == -ENOTSUP)
        s3_error(r, 403, "AccessDenied", "MFA delete cannot be enabled without an MFA device (x-amz-mfa).", NULL);
    else if (rc == OG_EINVAL)
        s3_error(r, 400, "InvalidArgument", "The versioning Status must be Enabled or Suspended.", NULL);
    else if (rc != 0)
        s3_error_on(r, rc, rc == OG_ENOTFOUND ? S3_ON_BUCKET : S3_ON_BODY);
    else
        s3_send(r, 200, NULL, 0, NULL, 0);
    free(body);
}

void s3_version_marker(s3_req_t *r)
{
    core_versioning_t st;
    core_meta_t m;
    char *buf = NULL;
    if (core_versioning_get(r->gw->cluster, r->bid, &st, NULL) != 0 || st == CORE_VER_OFF)
        return;
    if (core_ver_newest(r->gw->cluster, r->bid, (og_str_t){r->key, r->key_len}, &m, &buf) != 0)
        return;
    if (m.vflags & CORE_VER_MARKER)
        s3_version_answer(r, &m, 1);
    core_meta_free(&m);
    free(buf);
}

void s3_version_error(s3_req_t *r, int rc)
{
    og_str_t vid;
    if (rc == OG_EINVAL)
        s3_error(r, 400, "InvalidArgument", "Invalid version id specified", NULL);
    else if (rc == OG_ENOTFOUND && s3_version_param(r, &vid))
        s3_error(r, 404, "NoSuchVersion", "The specified version does not exist.", NULL);
    else
        s3_error_rc(r, rc);
}
