/*
 * s3_tagging.c: object and bucket tagging. An object's tags are one stored header of its record,
 * S3_TAGS_HDR, holding the tag set in the x-amz-tagging form ("k1=v1&k2=v2", URL-encoded), so
 * copies (x-amz-tagging-directive COPY), multipart uploads (kept in the upload record until
 * Complete) and future versions carry them like any stored header; GET/HEAD show only
 * x-amz-tagging-count. A bucket's tags are one entry of its record's metadata
 * (S3_BUCKET_TAGS_META), same form. Limits as S3: 10 tags an object, 50 a bucket, keys 1..128 and
 * values 0..256 characters of letters, digits, spaces and + - = . _ : / @, no key twice:
 * 400 InvalidTag, nothing changed.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <libxml/tree.h>

#include "s3_int.h"
#include "s3_xml.h"

#define TAGS_OBJECT_MAX 10
#define TAGS_BUCKET_MAX 50
#define TAG_KEY_MAX 128
#define TAG_VALUE_MAX 256
#define TAGS_BODY_MAX 65536
#define S3_BUCKET_TAGS_META "x-amz-bucket-tagging"

typedef struct {
    og_str_t k, v;
    size_t ko, vo; /* where k and v start in the set's mem (tags_fix makes the slices) */
} tag_t;

typedef struct {
    tag_t t[TAGS_BUCKET_MAX];
    size_t n;
    og_buf_t mem; /* decoded keys and values */
} tagset_t;

/* Characters (UTF-8 code points) of s, or -1 when s holds one S3 does not allow in a tag. */
static long tag_chars(og_str_t s)
{
    static const char extra[] = " +-=._:/@";
    long n = 0;
    for (size_t i = 0; i < s.len; i++) {
        unsigned char c = (unsigned char)s.base[i];
        if (c >= 0x80) { /* a letter of another script: counted once, at its lead byte */
            n += (c & 0xc0) != 0x80;
            continue;
        }
        if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || strchr(extra, c)) ||
            c == '\0')
            return -1;
        n++;
    }
    return n;
}

/* Checks the set against S3's limits (max tags). 0 or S3_EINVALIDTAG. */
static int tags_valid(const tagset_t *ts, size_t max)
{
    if (ts->n > max)
        return S3_EINVALIDTAG;
    for (size_t i = 0; i < ts->n; i++) {
        long kc = tag_chars(ts->t[i].k), vc = tag_chars(ts->t[i].v);
        if (kc < 1 || kc > TAG_KEY_MAX || vc < 0 || vc > TAG_VALUE_MAX)
            return S3_EINVALIDTAG;
        for (size_t j = 0; j < i; j++)
            if (ts->t[j].k.len == ts->t[i].k.len && memcmp(ts->t[j].k.base, ts->t[i].k.base, ts->t[i].k.len) == 0)
                return S3_EINVALIDTAG;
    }
    return 0;
}

/* Appends one decoded tag (k, v) to ts: its bytes into ts->mem, slices made by tags_fix once the
 * buffer stops moving. 0, S3_EINVALIDTAG (over any limit) or -ENOMEM. */
static int tags_add(tagset_t *ts, const char *k, size_t kl, const char *v, size_t vl)
{
    if (ts->n == TAGS_BUCKET_MAX + 1)
        return S3_EINVALIDTAG;
    if (ts->n == TAGS_BUCKET_MAX) { /* one over any limit: remembered as too many */
        ts->n++;
        return 0;
    }
    size_t at = ts->mem.len;
    og_buf_put(&ts->mem, k, kl);
    og_buf_put(&ts->mem, v, vl);
    ts->t[ts->n++] = (tag_t){.k.len = kl, .v.len = vl, .ko = at, .vo = at + kl};
    return ts->mem.oom ? -ENOMEM : 0;
}

static void tags_fix(tagset_t *ts)
{
    size_t n = ts->n < TAGS_BUCKET_MAX ? ts->n : TAGS_BUCKET_MAX;
    for (size_t i = 0; i < n && ts->mem.buf != NULL; i++) {
        ts->t[i].k.base = ts->mem.buf + ts->t[i].ko;
        ts->t[i].v.base = ts->mem.buf + ts->t[i].vo;
    }
}

/* Decodes the x-amz-tagging form into ts (release ts->mem). 0, S3_EINVALIDTAG, -ENOMEM. */
static int tags_from_form(og_str_t form, tagset_t *ts)
{
    const char *p = form.base, *end = form.base + form.len;
    char *dec = malloc(form.len + 1);
    int rc = 0;
    ts->n = 0;
    ts->mem = (og_buf_t){0};
    if (!dec)
        return -ENOMEM;
    while (rc == 0 && p < end) {
        const char *amp = memchr(p, '&', (size_t)(end - p)), *e = amp ? amp : end;
        const char *eq = memchr(p, '=', (size_t)(e - p));
        const char *ke = eq ? eq : e;
        long kl = og_urldecode(p, (size_t)(ke - p), dec, form.len, 1);
        long vl = kl < 0 ? -1
                  : !eq  ? 0
                         : og_urldecode(eq + 1, (size_t)(e - eq - 1), dec + kl, form.len - (size_t)kl, 1);
        if (kl < 0 || vl < 0)
            rc = S3_EINVALIDTAG;
        else if (e > p)
            rc = tags_add(ts, dec, (size_t)kl, dec + kl, (size_t)vl);
        p = amp ? amp + 1 : end;
    }
    free(dec);
    tags_fix(ts);
    return rc;
}

int s3_tags_form_add(og_buf_t *out, og_str_t k, og_str_t v)
{
    char *enc = malloc(3 * (k.len + v.len) + 2);
    if (!enc)
        return -ENOMEM;
    long kl = og_urlencode(k.base, k.len, enc, 3 * k.len + 1, 0);
    long vl = og_urlencode(v.base, v.len, enc + kl, 3 * v.len + 1, 0);
    if (out->len > 0)
        og_buf_put(out, "&", 1);
    og_buf_put(out, enc, (size_t)kl);
    og_buf_put(out, "=", 1);
    og_buf_put(out, enc + kl, (size_t)vl);
    free(enc);
    return out->oom ? -ENOMEM : 0;
}

/* The x-amz-tagging form of ts into out (empty). 0 or -ENOMEM. */
static int tags_to_form(const tagset_t *ts, og_buf_t *out)
{
    int rc = 0;
    for (size_t i = 0; i < ts->n && rc == 0; i++)
        rc = s3_tags_form_add(out, ts->t[i].k, ts->t[i].v);
    return rc;
}

int s3_tags_form_has_key(og_str_t form, og_str_t k)
{
    tagset_t ts;
    int found = 0;
    if (tags_from_form(form, &ts) == 0)
        for (size_t i = 0; i < ts.n && !found; i++)
            found = ts.t[i].k.len == k.len && memcmp(ts.t[i].k.base, k.base, k.len) == 0;
    og_buf_free(&ts.mem);
    return found;
}

int s3_tags_form_xml(og_buf_t *b, og_str_t form)
{
    tagset_t ts;
    int rc = tags_from_form(form, &ts);
    for (size_t i = 0; rc == 0 && i < ts.n; i++) {
        og_buf_puts(b, "<Tag>");
        og_buf_elem(b, "Key", ts.t[i].k.base, ts.t[i].k.len);
        og_buf_elem(b, "Value", ts.t[i].v.base, ts.t[i].v.len);
        og_buf_puts(b, "</Tag>");
    }
    og_buf_free(&ts.mem);
    return rc != 0 ? rc : b->oom ? -ENOMEM : 0;
}

/* One <Tag>'s <Key> and <Value> into ts. 0, S3_EMALFORMED, -ENOMEM. */
static int tag_from_xml(xmlNodePtr tag, tagset_t *ts)
{
    xmlChar *k = NULL, *v = NULL;
    int nk = 0, nv = 0, rc = S3_EMALFORMED;
    for (xmlNodePtr c = tag->children; c; c = c->next) {
        if (c->type != XML_ELEMENT_NODE)
            continue;
        if (xmlStrcmp(c->name, (const xmlChar *)"Key") == 0 && nk++ == 0)
            k = xmlNodeGetContent(c);
        else if (xmlStrcmp(c->name, (const xmlChar *)"Value") == 0 && nv++ == 0)
            v = xmlNodeGetContent(c);
        else
            goto out_free;
    }
    if (k && v)
        rc = tags_add(ts, (const char *)k, strlen((const char *)k), (const char *)v, strlen((const char *)v));
out_free:
    xmlFree(k);
    xmlFree(v);
    return rc;
}

/* Parses <Tagging><TagSet><Tag><Key/><Value/></Tag>*</TagSet></Tagging> into ts (release
 * ts->mem). 0, S3_EMALFORMED, S3_EINVALIDTAG (too many), -ENOMEM. */
static int tags_from_xml(const char *xml, size_t len, tagset_t *ts)
{
    xmlDocPtr doc = s3_xml_read(xml, len);
    int rc = S3_EMALFORMED, sets = 0;
    ts->n = 0;
    ts->mem = (og_buf_t){0};
    xmlNodePtr root = doc ? xmlDocGetRootElement(doc) : NULL;
    if (!root || xmlStrcmp(root->name, (const xmlChar *)"Tagging") != 0)
        goto out_free;
    for (xmlNodePtr s = root->children; s; s = s->next) {
        if (s->type != XML_ELEMENT_NODE)
            continue;
        if (xmlStrcmp(s->name, (const xmlChar *)"TagSet") != 0 || sets++)
            goto out_free;
        for (xmlNodePtr t = s->children; t; t = t->next) {
            if (t->type != XML_ELEMENT_NODE)
                continue;
            if (xmlStrcmp(t->name, (const xmlChar *)"Tag") != 0 || (rc = tag_from_xml(t, ts)) != 0) {
                rc = rc ? rc : S3_EMALFORMED;
                goto out_free;
            }
        }
    }
    rc = sets == 1 ? 0 : S3_EMALFORMED;
out_free:
    tags_fix(ts);
    xmlFreeDoc(doc);
    return rc;
}

/* The body of a Put*Tagging request as a valid tag set of at most max tags, in the stored form
 * (out). 0, or an error to answer with S3_ON_BODY. */
static int tags_read_body(s3_req_t *r, size_t max, og_buf_t *out)
{
    char *body = NULL;
    size_t len = 0;
    tagset_t ts = {0};
    int rc = s3_read_body(r, TAGS_BODY_MAX, &body, &len);
    if (rc == OG_ETOOBIG)
        rc = S3_EMALFORMED;
    if (rc == 0 && (rc = s3_payload_verify(r, body, len)) == 0 && (rc = tags_from_xml(body, len, &ts)) == 0 &&
        (rc = tags_valid(&ts, max)) == 0)
        rc = tags_to_form(&ts, out);
    og_buf_free(&ts.mem);
    free(body);
    return rc;
}

int s3_tags_check(og_str_t form)
{
    tagset_t ts;
    int rc = tags_from_form(form, &ts);
    if (rc == 0)
        rc = tags_valid(&ts, TAGS_OBJECT_MAX);
    og_buf_free(&ts.mem);
    return rc;
}

size_t s3_tags_count(og_str_t form)
{
    size_t n = 0;
    for (size_t i = 0; i < form.len; i++)
        n += form.base[i] == '&';
    return form.len ? n + 1 : 0;
}

/* Answers a GET ?tagging with the tag set in stored form. */
static void send_tagging(s3_req_t *r, og_str_t form)
{
    og_buf_t b = {0};
    og_buf_puts(&b, "<Tagging xmlns=\"" S3_XMLNS "\"><TagSet>");
    int rc = s3_tags_form_xml(&b, form);
    og_buf_puts(&b, "</TagSet></Tagging>");
    if (rc == 0 && b.oom)
        rc = -ENOMEM;
    if (rc != 0)
        s3_error_rc(r, rc == S3_EINVALIDTAG ? OG_ECORRUPT : rc);
    else
        s3_send_xml(r, 200, NULL, 0, b.buf, b.len);
    og_buf_free(&b);
}

/* ---- objects ---- */

typedef struct {
    uint64_t mtime_ns;
    uint8_t md5[16];
} same_version_t;

/* core_cond_fn: the object is still the version whose tags are being changed. */
static int same_version(void *ctx, const core_meta_t *cur)
{
    const same_version_t *s = ctx;
    if (!cur)
        return OG_ENOTFOUND;
    return cur->mtime_ns == s->mtime_ns && memcmp(cur->md5, s->md5, 16) == 0 ? 0 : CORE_ECONFLICT;
}

/* Rewrites r's object with the tag set `form` (empty: none), everything else as it is: under
 * the key's lease, and only if the object did not change since it was read. 0 or an error. */
static int object_retag(s3_req_t *r, og_str_t form)
{
    og_str_t key = {r->key, r->key_len};
    core_meta_t m;
    char *buf = NULL;
    int rc = core_obj_lookup_live(r->gw->cluster, r->bid, key, (uint64_t)time(NULL), &m, &buf);
    if (rc != 0)
        return rc;
    og_header_t *h = malloc((m.num_headers + 1) * sizeof(*h));
    size_t n = 0;
    same_version_t was = {.mtime_ns = m.mtime_ns};
    memcpy(was.md5, m.md5, 16);
    if (!h) {
        rc = -ENOMEM;
        goto out_free;
    }
    for (size_t i = 0; i < m.num_headers; i++)
        if (!og_str_ieq(m.headers[i].name, S3_TAGS_HDR))
            h[n++] = m.headers[i];
    if (form.len)
        h[n++] = (og_header_t){OG_STR_LIT(S3_TAGS_HDR), form};
    m.headers = h, m.num_headers = n;
    /* the record references the object's chunks without writing them (as a copy does) */
    if ((rc = core_obj_touch(r->gw->cluster, &m)) == 0)
        rc = core_obj_commit_if(r->gw->cluster, r->bid, key, &m, same_version, &was, (uint64_t)time(NULL));
out_free:
    free(h);
    core_meta_free(&m);
    free(buf);
    return rc;
}

void s3_object_tagging(s3_req_t *r, int put, int del)
{
    og_buf_t form = {0};
    int rc = 0;
    if (put && (rc = tags_read_body(r, TAGS_OBJECT_MAX, &form)) != 0) {
        s3_error_on(r, rc, S3_ON_BODY);
        goto out_free;
    }
    if (put || del) {
        if ((rc = object_retag(r, (og_str_t){form.buf, form.len})) != 0)
            s3_error_rc(r, rc);
        else
            s3_send(r, put ? 200 : 204, NULL, 0, NULL, 0);
        goto out_free;
    }
    core_meta_t m;
    char *buf = NULL;
    if ((rc = core_obj_lookup_live(r->gw->cluster, r->bid, (og_str_t){r->key, r->key_len}, (uint64_t)time(NULL),
                                   &m, &buf)) != 0) {
        s3_error_rc(r, rc);
        goto out_free;
    }
    send_tagging(r, og_header_find(m.headers, m.num_headers, S3_TAGS_HDR));
    core_meta_free(&m);
    free(buf);
out_free:
    og_buf_free(&form);
}

/* ---- buckets ---- */

void s3_bucket_doc(s3_req_t *r, int put, int del, const s3_bucket_doc_t *d)
{
    og_buf_t stored = {0};
    core_bucket_t b = {0};
    int rc = 0;
    if (put && (rc = d->read(r, &stored)) != 0) {
        if (rc != 1)
            s3_error_on(r, rc, S3_ON_BODY);
        goto out_free;
    }
    if ((rc = s3_bucket_load(r, &b)) != 0) {
        s3_error_on(r, rc, S3_ON_BUCKET);
        goto out_free;
    }
    if (put || del) {
        if ((rc = s3_bucket_meta_set(r, &b, d->meta, (og_str_t){stored.buf, stored.len})) != 0)
            s3_error_rc(r, rc);
        else
            s3_send(r, put ? 200 : 204, NULL, 0, NULL, 0);
        goto out_bucket;
    }
    og_str_t v = og_header_find(b.meta, b.num_meta, d->meta);
    if (v.base == NULL)
        s3_error(r, 404, d->missing_code, d->missing_msg, NULL);
    else
        d->send(r, v);
out_bucket:
    core_bucket_free(&b);
out_free:
    og_buf_free(&stored);
}

/* s3_bucket_doc_t.read for a bucket's tag set. */
static int bucket_tags_read(s3_req_t *r, og_buf_t *out) { return tags_read_body(r, TAGS_BUCKET_MAX, out); }

void s3_bucket_tagging(s3_req_t *r, int put, int del)
{
    static const s3_bucket_doc_t doc = {S3_BUCKET_TAGS_META, bucket_tags_read, send_tagging, "NoSuchTagSet",
                                        "The TagSet does not exist"};
    s3_bucket_doc(r, put, del, &doc);
}
