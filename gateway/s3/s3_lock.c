/*
 * S3 Object Lock: CreateBucket's x-amz-bucket-object-lock-enabled, Get/PutObjectLockConfiguration,
 * the x-amz-object-lock-* headers of a write, Get/PutObjectRetention, Get/PutObjectLegalHold. The
 * lock is a field of each version's record and is enforced where versions are removed
 * (core_ver_delete; docs/architecture.md, "Object Lock"): in a lock bucket every write is a new
 * version, so no overwrite or DELETE without a versionId removes a locked one.
 *
 * s3_handle has checked that the bucket exists and belongs to the caller.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <libxml/parser.h>
#include <libxml/tree.h>

#include "s3_int.h"
#include "s3_xml.h"

#define LOCK_BODY_MAX (64u << 10)
#define S3_XMLNS "http://s3.amazonaws.com/doc/2006-03-01/"

static const char *const mode_names[] = {"", "GOVERNANCE", "COMPLIANCE"};

static int mode_parse(og_str_t v, uint8_t *out)
{
    for (uint8_t i = CORE_LOCK_GOVERNANCE; i <= CORE_LOCK_COMPLIANCE; i++)
        if (og_str_eq(v, mode_names[i])) {
            *out = i;
            return 0;
        }
    return OG_EINVAL;
}

/* "YYYY-MM-DDTHH:MM:SS[.fff]Z" (or a +00:00 offset) into Unix ms. 0 or OG_EINVAL. */
static int date_parse(og_str_t v, uint64_t *out_ms)
{
    char buf[40];
    struct tm tm = {0};
    unsigned ms = 0;
    int used = 0;
    if (v.len == 0 || v.len >= sizeof(buf))
        return OG_EINVAL;
    memcpy(buf, v.base, v.len);
    buf[v.len] = '\0';
    if (sscanf(buf, "%4d-%2d-%2dT%2d:%2d:%2d%n", &tm.tm_year, &tm.tm_mon, &tm.tm_mday, &tm.tm_hour, &tm.tm_min,
               &tm.tm_sec, &used) != 6)
        return OG_EINVAL;
    const char *p = buf + used;
    if (*p == '.') {
        int n = 0;
        if (sscanf(p, ".%3u%n", &ms, &n) != 1)
            return OG_EINVAL;
        for (p += n; *p >= '0' && *p <= '9'; p++)
            ;
    }
    if (strcmp(p, "Z") != 0 && strcmp(p, "+00:00") != 0)
        return OG_EINVAL;
    tm.tm_year -= 1900, tm.tm_mon -= 1;
    time_t t = timegm(&tm);
    if (t < 0 || tm.tm_mon < 0)
        return OG_EINVAL;
    *out_ms = (uint64_t)t * 1000u + ms;
    return 0;
}

static uint64_t now_ms(void) { return og_time_ns() / 1000000u; }

int s3_lock_bypass(const s3_req_t *r)
{
    return og_str_ieq(http_req_header(r->http, "x-amz-bypass-governance-retention"), "true");
}

/* The bucket's lock configuration; 0, or 1 after answering the error. */
static int bucket_lock(s3_req_t *r, core_lock_conf_t *conf)
{
    core_versioning_t st;
    int rc = core_versioning_get(r->gw->cluster, r->bid, &st, conf);
    if (rc != 0) {
        s3_error_on(r, rc, S3_ON_BUCKET);
        return 1;
    }
    return 0;
}

static void missing_config(s3_req_t *r)
{
    s3_error(r, 400, "InvalidRequest", "Bucket is missing Object Lock Configuration", NULL);
}

int s3_lock_write(s3_req_t *r, core_lock_t *out)
{
    og_str_t mode = http_req_header(r->http, "x-amz-object-lock-mode");
    og_str_t until = http_req_header(r->http, "x-amz-object-lock-retain-until-date");
    og_str_t hold = http_req_header(r->http, "x-amz-object-lock-legal-hold");
    core_lock_conf_t conf;
    memset(out, 0, sizeof(*out));
    if (mode.base == NULL && until.base == NULL && hold.base == NULL)
        return 0; /* the bucket's default retention, if any, is core_obj_commit's */
    if (bucket_lock(r, &conf) != 0)
        return 1;
    if (!conf.enabled) {
        missing_config(r);
        return 1;
    }
    if ((mode.base == NULL) != (until.base == NULL)) {
        s3_error(r, 400, "InvalidArgument",
                 "x-amz-object-lock-retain-until-date and x-amz-object-lock-mode must both be supplied", NULL);
        return 1;
    }
    if (mode.base != NULL && (mode_parse(mode, &out->mode) != 0 || date_parse(until, &out->until_ms) != 0)) {
        s3_error(r, 400, "InvalidArgument", "Unknown wormMode directive or invalid retain-until-date.", NULL);
        return 1;
    }
    if (mode.base != NULL && out->until_ms <= now_ms()) {
        s3_error(r, 400, "InvalidArgument", "The retain until date must be in the future!", NULL);
        return 1;
    }
    if (hold.base != NULL && !og_str_eq(hold, "ON") && !og_str_eq(hold, "OFF")) {
        s3_error(r, 400, "InvalidArgument", "Legal Hold must be either of 'ON' or 'OFF'", NULL);
        return 1;
    }
    if (hold.base != NULL)
        out->hold = og_str_eq(hold, "ON") ? CORE_HOLD_ON : CORE_HOLD_OFF;
    return 0;
}

size_t s3_lock_headers(const core_meta_t *m, og_header_t *out, char date[32])
{
    size_t n = 0;
    if (m->lock.mode != CORE_LOCK_NONE) {
        http_iso8601_format(m->lock.until_ms * 1000000u, date);
        out[n++] = (og_header_t){OG_STR_LIT("x-amz-object-lock-mode"), og_str(mode_names[m->lock.mode])};
        out[n++] = (og_header_t){OG_STR_LIT("x-amz-object-lock-retain-until-date"), og_str(date)};
    }
    if (m->lock.hold != 0)
        out[n++] = (og_header_t){OG_STR_LIT("x-amz-object-lock-legal-hold"),
                                 m->lock.hold == CORE_HOLD_ON ? OG_STR_LIT("ON") : OG_STR_LIT("OFF")};
    return n;
}

/* ---------------------------------------------------------------- documents */


static og_str_t xs(const xmlChar *s) { return og_str((const char *)s); }

xmlDocPtr s3_read_doc(s3_req_t *r, const char *root)
{
    char *body = NULL;
    size_t len = 0;
    xmlDocPtr doc = NULL;
    int rc = s3_read_body(r, LOCK_BODY_MAX, &body, &len);
    if (rc == OG_ETOOBIG || rc == HTTP_EBODY)
        rc = S3_EMALFORMED;
    if (rc == 0 && (rc = s3_payload_verify(r, body, len)) == 0 && (doc = s3_xml_read(body, len)) == NULL)
        rc = S3_EMALFORMED;
    if (rc == 0 && (xmlDocGetRootElement(doc) == NULL ||
                    xmlStrcmp(xmlDocGetRootElement(doc)->name, (const xmlChar *)root) != 0)) {
        xmlFreeDoc(doc);
        doc = NULL;
        rc = S3_EMALFORMED;
    }
    if (rc != 0)
        s3_error_on(r, rc, S3_ON_BODY);
    free(body);
    return doc;
}

static void send_doc(s3_req_t *r, og_buf_t *b)
{
    if (b->oom)
        s3_error_rc(r, -ENOMEM);
    else
        s3_send_xml(r, 200, NULL, 0, b->buf, b->len);
    og_buf_free(b);
}

/* ---------------------------------------------------------------- bucket configuration */

void s3_get_object_lock_config(s3_req_t *r)
{
    core_lock_conf_t conf;
    og_buf_t b = {0};
    if (bucket_lock(r, &conf) != 0)
        return;
    if (!conf.enabled) {
        s3_error(r, 404, "ObjectLockConfigurationNotFoundError",
                 "Object Lock configuration does not exist for this bucket", NULL);
        return;
    }
    og_buf_puts(&b, "<ObjectLockConfiguration xmlns=\"" S3_XMLNS "\"><ObjectLockEnabled>Enabled</ObjectLockEnabled>");
    if (conf.mode != CORE_LOCK_NONE) {
        og_buf_printf(&b, "<Rule><DefaultRetention><Mode>%s</Mode>", mode_names[conf.mode]);
        if (conf.days)
            og_buf_printf(&b, "<Days>%u</Days>", conf.days);
        else
            og_buf_printf(&b, "<Years>%u</Years>", conf.years);
        og_buf_puts(&b, "</DefaultRetention></Rule>");
    }
    og_buf_puts(&b, "</ObjectLockConfiguration>");
    send_doc(r, &b);
}

/* A <DefaultRetention> into conf: 0 or OG_EINVAL (S3's MalformedXML / InvalidArgument cases). */
static int parse_default(xmlNodePtr dr, core_lock_conf_t *conf)
{
    xmlChar *mode = NULL, *days = NULL, *years = NULL;
    int rc = OG_EINVAL, has_days = s3_xml_child_text(dr, "Days", &days), has_years = s3_xml_child_text(dr, "Years", &years);
    long n;
    char *end;
    if (!s3_xml_child_text(dr, "Mode", &mode) || mode_parse(xs(mode), &conf->mode) != 0 || has_days == has_years)
        goto out_free;
    n = strtol((const char *)(has_days ? days : years), &end, 10);
    if (*end != '\0' || n <= 0 || n > (has_days ? 36500 : 100))
        goto out_free;
    if (has_days)
        conf->days = (uint32_t)n;
    else
        conf->years = (uint32_t)n;
    rc = 0;
out_free:
    xmlFree(mode);
    xmlFree(days);
    xmlFree(years);
    return rc;
}

void s3_put_object_lock_config(s3_req_t *r)
{
    core_lock_conf_t cur, conf = {.enabled = 1};
    xmlChar *enabled = NULL;
    int rc;
    if (bucket_lock(r, &cur) != 0)
        return;
    if (!cur.enabled) {
        s3_error(r, 409, "InvalidBucketState", "Object Lock configuration cannot be enabled on existing buckets",
                 NULL);
        return;
    }
    xmlDocPtr doc = s3_read_doc(r, "ObjectLockConfiguration");
    if (doc == NULL)
        return;
    xmlNodePtr root = xmlDocGetRootElement(doc), rule = s3_xml_child(root, "Rule");
    if (!s3_xml_child_text(root, "ObjectLockEnabled", &enabled) || !og_str_eq(xs(enabled), "Enabled") ||
        (rule != NULL && (s3_xml_child(rule, "DefaultRetention") == NULL ||
                          parse_default(s3_xml_child(rule, "DefaultRetention"), &conf) != 0))) {
        s3_error(r, 400, "MalformedXML", NULL, NULL);
    } else if ((rc = core_lock_conf_put(r->gw->cluster, r->bid, &conf)) != 0) {
        s3_error_on(r, rc, S3_ON_BUCKET);
    } else {
        s3_send(r, 200, NULL, 0, NULL, 0);
    }
    xmlFree(enabled);
    xmlFreeDoc(doc);
}

int s3_lock_create_bucket(s3_req_t *r)
{
    og_str_t v = http_req_header(r->http, "x-amz-bucket-object-lock-enabled");
    core_lock_conf_t conf = {.enabled = 1};
    int rc;
    if (v.base == NULL || og_str_ieq(v, "false"))
        return 0;
    if ((rc = core_lock_conf_put(r->gw->cluster, r->bid, &conf)) != 0)
        s3_error_rc(r, rc);
    return rc != 0;
}

/* ---------------------------------------------------------------- per version */

/* Reads r's object (or its ?versionId) for a retention or legal hold request in a lock bucket:
 * 0 with *m and *buf, or 1 after answering the error. */
static int lock_target(s3_req_t *r, core_meta_t *m, char **buf)
{
    core_lock_conf_t conf;
    og_str_t vid;
    og_str_t key = {r->key, r->key_len};
    int rc;
    if (bucket_lock(r, &conf) != 0)
        return 1;
    if (!conf.enabled) {
        missing_config(r);
        return 1;
    }
    rc = s3_version_param(r, &vid) ? core_ver_lookup(r->gw->cluster, r->bid, key, vid, m, buf)
                                   : core_obj_lookup(r->gw->cluster, r->bid, key, m, buf);
    if (rc == 0 && (m->vflags & CORE_VER_MARKER)) {
        core_meta_free(m);
        free(*buf);
        s3_error(r, 405, "MethodNotAllowed", "The specified method is not allowed against this resource.", NULL);
        return 1;
    }
    if (rc != 0) {
        s3_version_error(r, rc);
        return 1;
    }
    s3_version_answer(r, m, 0);
    return 0;
}

/* Writes lock as the lock of version m of r's key and answers 200. */
static void lock_store(s3_req_t *r, const core_meta_t *m, const core_lock_t *lock)
{
    og_str_t vid = og_str(core_ver_id(m));
    int rc = core_ver_set_lock(r->gw->cluster, r->bid, (og_str_t){r->key, r->key_len}, vid, lock);
    if (rc != 0)
        s3_version_error(r, rc);
    else
        s3_send(r, 200, NULL, 0, NULL, 0);
}

void s3_get_object_retention(s3_req_t *r)
{
    core_meta_t m;
    char *buf = NULL, date[32];
    og_buf_t b = {0};
    if (lock_target(r, &m, &buf) != 0)
        return;
    if (m.lock.mode == CORE_LOCK_NONE) {
        s3_error(r, 404, "NoSuchObjectLockConfiguration", "The specified object does not have a ObjectLock configuration",
                 NULL);
    } else {
        http_iso8601_format(m.lock.until_ms * 1000000u, date);
        og_buf_printf(&b, "<Retention xmlns=\"" S3_XMLNS "\"><Mode>%s</Mode>", mode_names[m.lock.mode]);
        og_buf_elem(&b, "RetainUntilDate", date, strlen(date));
        og_buf_puts(&b, "</Retention>");
        send_doc(r, &b);
    }
    core_meta_free(&m);
    free(buf);
}

/* May retention `want` replace `cur` (at now)? COMPLIANCE only lengthens; GOVERNANCE is shortened,
 * removed or weakened only with the bypass header. */
static int retention_allowed(const core_lock_t *cur, const core_lock_t *want, int bypass)
{
    if (cur->mode == CORE_LOCK_NONE || cur->until_ms <= now_ms())
        return 1;
    int weaker = want->mode == CORE_LOCK_NONE || want->until_ms < cur->until_ms ||
                 (cur->mode == CORE_LOCK_COMPLIANCE && want->mode != CORE_LOCK_COMPLIANCE);
    if (!weaker)
        return 1;
    return cur->mode == CORE_LOCK_GOVERNANCE && bypass;
}

void s3_put_object_retention(s3_req_t *r)
{
    core_meta_t m;
    char *buf = NULL;
    xmlChar *mode = NULL, *until = NULL;
    xmlDocPtr doc;
    if (lock_target(r, &m, &buf) != 0)
        return;
    if ((doc = s3_read_doc(r, "Retention")) == NULL)
        goto out_free_meta;
    core_lock_t want = m.lock;
    xmlNodePtr root = xmlDocGetRootElement(doc);
    int has_mode = s3_xml_child_text(root, "Mode", &mode), has_until = s3_xml_child_text(root, "RetainUntilDate", &until);
    want.mode = CORE_LOCK_NONE, want.until_ms = 0;
    if (has_mode != has_until || (has_mode && (mode_parse(xs(mode), &want.mode) != 0 ||
                                               date_parse(xs(until), &want.until_ms) != 0)))
        s3_error(r, 400, "MalformedXML", NULL, NULL);
    else if (has_mode && want.until_ms <= now_ms())
        s3_error(r, 400, "InvalidArgument", "The retain until date must be in the future!", NULL);
    else if (!retention_allowed(&m.lock, &want, s3_lock_bypass(r)))
        s3_error(r, 403, "AccessDenied", "Access Denied because object protected by object lock.", NULL);
    else
        lock_store(r, &m, &want);
    xmlFree(mode);
    xmlFree(until);
    xmlFreeDoc(doc);
out_free_meta:
    core_meta_free(&m);
    free(buf);
}

void s3_get_object_legal_hold(s3_req_t *r)
{
    core_meta_t m;
    char *buf = NULL;
    og_buf_t b = {0};
    if (lock_target(r, &m, &buf) != 0)
        return;
    if (m.lock.hold == 0) {
        s3_error(r, 404, "ObjectLockConfigurationNotFoundError", "Object Lock configuration does not exist for this "
                 "object", NULL); /* as RGW: never set */
    } else {
        og_buf_printf(&b, "<LegalHold xmlns=\"" S3_XMLNS "\"><Status>%s</Status></LegalHold>",
                      m.lock.hold == CORE_HOLD_ON ? "ON" : "OFF");
        send_doc(r, &b);
    }
    core_meta_free(&m);
    free(buf);
}

void s3_put_object_legal_hold(s3_req_t *r)
{
    core_meta_t m;
    char *buf = NULL;
    xmlChar *status = NULL;
    xmlDocPtr doc;
    if (lock_target(r, &m, &buf) != 0)
        return;
    if ((doc = s3_read_doc(r, "LegalHold")) == NULL)
        goto out_free_meta;
    core_lock_t want = m.lock;
    if (!s3_xml_child_text(xmlDocGetRootElement(doc), "Status", &status) ||
        (!og_str_eq(xs(status), "ON") && !og_str_eq(xs(status), "OFF"))) {
        s3_error(r, 400, "MalformedXML", NULL, NULL);
    } else {
        want.hold = og_str_eq(xs(status), "ON") ? CORE_HOLD_ON : CORE_HOLD_OFF;
        lock_store(r, &m, &want);
    }
    xmlFree(status);
    xmlFreeDoc(doc);
out_free_meta:
    core_meta_free(&m);
    free(buf);
}
