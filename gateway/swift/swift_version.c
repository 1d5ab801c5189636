/*
 * Swift object versioning (Swift 2.24+ object_versioning) on the S3 version store
 * (core_version.c): a container's X-Versions-Enabled is its bucket's versioning state
 * (true: Enabled, false: Suspended), so an object versioned through S3 is the same version
 * through Swift and back. Objects' ?version_id= and X-Object-Version-Id are swift_obj.c's.
 * The legacy versioned_writes modes (X-Versions-Location, X-History-Location: old copies in
 * another container) are swift_legacy.c's.
 */
#include <stdlib.h>
#include <strings.h>

#include "swift_int.h"

/* Swift's config_true_value. */
static int true_value(og_str_t v)
{
    static const char *const yes[] = {"true", "1", "yes", "on", "t", "y"};
    for (size_t i = 0; i < sizeof(yes) / sizeof(yes[0]); i++)
        if (og_str_ieq(v, yes[i]))
            return 1;
    return 0;
}

int swift_versions_parse(swift_req_t *r, core_versioning_t *want)
{
    og_str_t v = http_req_header(r->http, "x-versions-enabled");
    *want = v.base == NULL ? CORE_VER_OFF : true_value(v) ? CORE_VER_ENABLED : CORE_VER_SUSPENDED;
    return 0;
}

int swift_versions_apply(swift_req_t *r, core_versioning_t want)
{
    core_versioning_t cur;
    core_lock_conf_t lock;
    int rc;
    if (want == CORE_VER_OFF)
        return 0;
    if ((rc = core_versioning_get(r->cl, r->cid, &cur, &lock)) != 0 || cur == want)
        return rc;
    if (lock.enabled && want == CORE_VER_SUSPENDED)
        return swift_refuse(r, 409, "text/plain",
                            "Versioning cannot be disabled on a container with S3 Object Lock.");
    return core_versioning_put(r->cl, r->cid, want);
}

size_t swift_versions_header(const core_bucket_t *b, og_header_t *out)
{
    for (size_t i = 0; i < b->num_meta; i++)
        if (og_str_eq(b->meta[i].name, CORE_VER_BUCKET_HDR)) {
            *out = (og_header_t){OG_STR_LIT("X-Versions-Enabled"), og_str_eq(b->meta[i].value, "Enabled")
                                                                       ? OG_STR_LIT("True")
                                                                       : OG_STR_LIT("False")};
            return 1;
        }
    return 0;
}

/* ---------------------------------------------------------------- objects */

int swift_version_param(const swift_req_t *r, og_str_t *vid)
{
    return og_query_get(r->info->query, "version-id", vid);
}

size_t swift_version_header(swift_req_t *r, const core_meta_t *m, og_header_t *out)
{
    core_versioning_t st = CORE_VER_OFF;
    /* an object without a version id shows "null" once its container's versioning was set */
    if (m->vid[0] == '\0' && !(m->vflags & CORE_VER_NULL) &&
        (core_versioning_get(r->cl, r->cid, &st, NULL) != 0 || st == CORE_VER_OFF))
        return 0;
    *out = (og_header_t){OG_STR_LIT("X-Object-Version-Id"), og_str(core_ver_id(m))};
    return 1;
}

/* core_ver_lookup of r's object, its OG_EINVAL as Swift's 400. */
static int version_lookup(swift_req_t *r, og_str_t vid, core_meta_t *m, char **buf)
{
    int rc = core_ver_lookup(r->cl, r->cid, (og_str_t){r->object, r->object_len}, vid, m, buf);
    return rc == OG_EINVAL ? swift_refuse(r, 400, NULL, "Invalid version parameter") : rc;
}

int swift_version_lookup(swift_req_t *r, og_str_t vid, core_meta_t *m, char **buf)
{
    int rc = version_lookup(r, vid, m, buf);
    if (rc != 0 || !(m->vflags & CORE_VER_MARKER))
        return rc;
    og_header_t h = {OG_STR_LIT("X-Object-Version-Id"), og_str(core_ver_id(m))};
    swift_send(r, 404, &h, 1, "application/x-deleted;swift_versions_deleted=1", NULL, 0);
    core_meta_free(m);
    free(*buf);
    *buf = NULL;
    return 1;
}

void swift_version_delete(swift_req_t *r, og_str_t vid)
{
    core_meta_t m;
    char *buf = NULL;
    int rc = version_lookup(r, vid, &m, &buf);
    if (rc == 0) {
        core_meta_free(&m);
        free(buf);
        rc = core_ver_delete(r->cl, r->cid, (og_str_t){r->object, r->object_len}, vid, 0, NULL);
    }
    if (rc == CORE_ELOCKED) /* Swift has no Object Lock: S3's refusal, as a plain 403 */
        rc = swift_refuse(r, 403, "text/plain", "The version is under S3 Object Lock retention or legal hold.");
    if (rc != 0) {
        swift_error_rc(r, rc);
        return;
    }
    og_header_t h = {OG_STR_LIT("X-Object-Version-Id"), vid};
    swift_send(r, 204, &h, 1, NULL, NULL, 0);
}
