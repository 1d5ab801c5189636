/*
 * s3_lifecycle.c: Put/Get/DeleteBucketLifecycleConfiguration. The XML is parsed and checked as S3
 * does (AWS's messages; RGW's codes where AWS's are not documented), then kept in the line form
 * of core_lc (core.h) as one entry of the bucket record's metadata (CORE_LC_META); onggi-admin
 * lifecycle executes it (docs/architecture.md, "Lifecycle"). Actions Onggi cannot perform are
 * refused (501 NotImplemented), never stored and ignored: transitions (one storage class).
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <time.h>

#include <libxml/tree.h>

#include "core/core.h"
#include "s3_int.h"
#include "s3_xml.h"

#define LC_RULES_MAX 1000
#define LC_ID_MAX 255
#define LC_BODY_MAX (2u << 20)

/* Why a document was refused: the S3 error to answer. */
typedef struct {
    int status;
    const char *code, *msg;
} lc_err_t;

static const lc_err_t LC_MALFORMED = {400, "MalformedXML",
                                      "The XML you provided was not well-formed or did not validate against our "
                                      "published schema"};

/* A parsed document: the rules, and the memory their slices point into. */
typedef struct {
    core_lc_rule_t rules[LC_RULES_MAX];
    size_t n;
    og_buf_t tags[LC_RULES_MAX]; /* each rule's tag form */
    xmlChar **strs;                  /* every text taken (xmlFree each) */
    size_t nstrs, cap;
    int oom;
    char ids[LC_RULES_MAX][24];      /* generated IDs */
} lc_doc_t;

static int is(xmlNodePtr n, const char *name) { return xmlStrcmp(n->name, (const xmlChar *)name) == 0; }

/* The element's text, kept in d (freed with it). */
static og_str_t text(lc_doc_t *d, xmlNodePtr n)
{
    xmlChar *s = xmlNodeGetContent(n);
    if (s && d->nstrs == d->cap) {
        xmlChar **more = realloc(d->strs, (d->cap * 2 + 16) * sizeof(*more));
        if (!more)
            xmlFree(s), s = NULL;
        else
            d->strs = more, d->cap = d->cap * 2 + 16;
    }
    if (!s) {
        d->oom = 1;
        return (og_str_t){"", 0};
    }
    d->strs[d->nstrs++] = s;
    return og_str((const char *)s);
}

/* A non-negative decimal element (at most 19 digits). 0 or -1. */
static int number(xmlNodePtr n, uint64_t *v)
{
    xmlChar *s = xmlNodeGetContent(n);
    int rc = s && og_parse_dec(og_str_trim(og_str((const char *)s)), 19, v) == 0 ? 0 : -1;
    xmlFree(s);
    return rc;
}

/* Expiration Date: ISO 8601 "YYYY-MM-DD" with an optional "Thh:mm:ss[.fff](Z|+00:00)". Unix seconds
 * into *out; 0, -1 malformed, -2 not at midnight UTC. */
static int parse_date(xmlNodePtr n, uint64_t *out)
{
    xmlChar *s = xmlNodeGetContent(n);
    struct tm tm = {0};
    int rc = -1;
    const char *e = s ? strptime((const char *)s, "%Y-%m-%d", &tm) : NULL;
    if (e && *e == 'T') {
        const char *t = strptime(e + 1, "%H:%M:%S", &tm);
        if (t && *t == '.')
            for (t++; *t >= '0' && *t <= '9'; t++)
                rc = *t != '0' ? -3 : rc; /* fractions of a second are not midnight either */
        e = t && (strcmp(t, "Z") == 0 || strcmp(t, "+00:00") == 0) ? "" : NULL;
    }
    if (e && *e == '\0' && tm.tm_year >= 70) {
        time_t at = timegm(&tm);
        *out = (uint64_t)at;
        rc = rc == -3 || at % CORE_LC_DAY_S != 0 ? -2 : 0;
    } else {
        rc = -1;
    }
    xmlFree(s);
    return rc;
}

/* A <Tag><Key/><Value/></Tag> appended to the rule's tag form. NULL or the error. */
static const lc_err_t *tag_add(lc_doc_t *d, xmlNodePtr t, og_buf_t *form)
{
    static const lc_err_t dup = {400, "InvalidRequest", "Duplicate Tag Keys are not allowed."};
    og_str_t k = {0}, v = {0};
    int nk = 0, nv = 0;
    for (xmlNodePtr c = t->children; c; c = c->next) {
        if (c->type != XML_ELEMENT_NODE)
            continue;
        if (is(c, "Key") && nk++ == 0)
            k = text(d, c);
        else if (is(c, "Value") && nv++ == 0)
            v = text(d, c);
        else
            return &LC_MALFORMED;
    }
    if (nk != 1 || nv != 1 || k.len == 0)
        return &LC_MALFORMED;
    if (s3_tags_form_has_key((og_str_t){form->buf, form->len}, k))
        return &dup;
    return s3_tags_form_add(form, k, v) == 0 ? NULL : &LC_MALFORMED;
}

/* One filter condition (Prefix, Tag, ObjectSize*) into r, each at most once but Tag; *prefix says
 * whether a Prefix came already. NULL or the error. */
static const lc_err_t *cond_add(lc_doc_t *d, xmlNodePtr c, core_lc_rule_t *r, og_buf_t *form, int *prefix)
{
    static const lc_err_t size = {400, "InvalidArgument", "ObjectSize must be a non-negative integer"};
    if (is(c, "Prefix") && !*prefix)
        return (*prefix = 1, r->prefix = text(d, c), NULL);
    if (is(c, "Tag"))
        return tag_add(d, c, form);
    if (is(c, "ObjectSizeGreaterThan") && !r->has_gt)
        return (r->has_gt = 1, number(c, &r->size_gt) == 0 ? NULL : &size);
    if (is(c, "ObjectSizeLessThan") && !r->has_lt)
        return (r->has_lt = 1, number(c, &r->size_lt) == 0 ? NULL : &size);
    return &LC_MALFORMED;
}

/* <Filter>: at most one condition, or <And> with several. NULL or the error. */
static const lc_err_t *filter_parse(lc_doc_t *d, xmlNodePtr f, core_lc_rule_t *r, og_buf_t *form)
{
    int seen = 0, prefix = 0;
    const lc_err_t *e = NULL;
    for (xmlNodePtr c = f->children; c && !e; c = c->next) {
        if (c->type != XML_ELEMENT_NODE)
            continue;
        if (++seen > 1)
            return &LC_MALFORMED;
        if (!is(c, "And")) {
            e = cond_add(d, c, r, form, &prefix);
            continue;
        }
        for (xmlNodePtr a = c->children; a && !e; a = a->next)
            if (a->type == XML_ELEMENT_NODE)
                e = cond_add(d, a, r, form, &prefix);
    }
    if (!e && r->has_gt && r->has_lt && r->size_lt <= r->size_gt) {
        static const lc_err_t order = {400, "InvalidArgument",
                                       "ObjectSizeGreaterThan must be less than ObjectSizeLessThan"};
        e = &order;
    }
    return e;
}

/* <Expiration>: exactly one of Days, Date, ExpiredObjectDeleteMarker (AWS: the marker flag
 * "cannot be specified with Days or Date"; RGW's and Onggi's answer to that is MalformedXML).
 * ExpiredObjectDeleteMarker false asks for nothing: kept as absent, as RGW does. */
static const lc_err_t *expiration_parse(lc_doc_t *d, xmlNodePtr x, core_lc_rule_t *r)
{
    static const lc_err_t days = {400, "InvalidArgument", "'Days' for Expiration action must be a positive integer"};
    static const lc_err_t midnight = {400, "InvalidArgument", "'Date' must be at midnight GMT"};
    int n = 0;
    uint64_t v = 0;
    for (xmlNodePtr c = x->children; c; c = c->next) {
        if (c->type != XML_ELEMENT_NODE)
            continue;
        n++;
        if (is(c, "Days")) {
            if (number(c, &v) != 0 || v == 0 || v > INT32_MAX)
                return &days;
            r->exp_days = (uint32_t)v;
        } else if (is(c, "Date")) {
            int rc = parse_date(c, &r->exp_date);
            if (rc != 0)
                return rc == -2 ? &midnight : &LC_MALFORMED;
        } else if (is(c, "ExpiredObjectDeleteMarker")) {
            og_str_t b = og_str_trim(text(d, c));
            r->edm = og_str_eq(b, "true");
            if (!r->edm && !og_str_eq(b, "false"))
                return &LC_MALFORMED;
        } else {
            return &LC_MALFORMED;
        }
    }
    return n != 1 ? &LC_MALFORMED : NULL;
}

/* <NoncurrentVersionExpiration>: NoncurrentDays (required, positive) and an optional
 * NewerNoncurrentVersions (1..100, as AWS). */
static const lc_err_t *noncurrent_parse(xmlNodePtr x, core_lc_rule_t *r)
{
    static const lc_err_t days = {400, "InvalidArgument",
                                  "'NoncurrentDays' for NoncurrentVersionExpiration action must be a positive "
                                  "integer"};
    static const lc_err_t newer = {400, "InvalidArgument",
                                   "'NewerNoncurrentVersions' for NoncurrentVersionExpiration action must be a "
                                   "positive integer up to 100"};
    int nd = 0, nn = 0;
    uint64_t v = 0;
    for (xmlNodePtr c = x->children; c; c = c->next) {
        if (c->type != XML_ELEMENT_NODE)
            continue;
        if (is(c, "NoncurrentDays") && nd++ == 0) {
            if (number(c, &v) != 0 || v == 0 || v > INT32_MAX)
                return &days;
            r->ncv_days = (uint32_t)v;
        } else if (is(c, "NewerNoncurrentVersions") && nn++ == 0) {
            if (number(c, &v) != 0 || v == 0 || v > 100)
                return &newer;
            r->ncv_newer = (uint32_t)v;
        } else {
            return &LC_MALFORMED;
        }
    }
    return nd == 1 ? NULL : &LC_MALFORMED;
}

/* <AbortIncompleteMultipartUpload><DaysAfterInitiation/></...>. */
static const lc_err_t *abort_parse(xmlNodePtr x, core_lc_rule_t *r)
{
    static const lc_err_t days = {400, "InvalidArgument",
                                  "'DaysAfterInitiation' for AbortIncompleteMultipartUpload action must be a "
                                  "positive integer"};
    int n = 0;
    uint64_t v = 0;
    for (xmlNodePtr c = x->children; c; c = c->next) {
        if (c->type != XML_ELEMENT_NODE)
            continue;
        if (!is(c, "DaysAfterInitiation") || n++)
            return &LC_MALFORMED;
        if (number(c, &v) != 0 || v == 0 || v > INT32_MAX)
            return &days;
    }
    r->abort_days = (uint32_t)v;
    return n == 1 ? NULL : &LC_MALFORMED;
}

/* Index of the child names a rule may hold, each at most once. */
static const char *const rule_parts[] = {"ID", "Status", "Filter", "Prefix", "Expiration",
                                         "AbortIncompleteMultipartUpload", "NoncurrentVersionExpiration",
                                         "Transition", "NoncurrentVersionTransition"};
enum { P_ID, P_STATUS, P_FILTER, P_PREFIX, P_EXP, P_ABORT, P_NCV, P_TRANS, P_NCVT, P_N };

/* The rule's children by kind (c[P_*], NULL when absent). NULL or MalformedXML (unknown or twice). */
static const lc_err_t *rule_children(xmlNodePtr x, xmlNodePtr c[P_N])
{
    memset(c, 0, P_N * sizeof(*c));
    for (xmlNodePtr k = x->children; k; k = k->next) {
        size_t i = 0;
        if (k->type != XML_ELEMENT_NODE)
            continue;
        while (i < P_N && !is(k, rule_parts[i]))
            i++;
        if (i == P_N || c[i])
            return &LC_MALFORMED;
        c[i] = k;
    }
    return NULL;
}

/* Checks what a rule's parts say together, after each parsed. NULL or the error. */
static const lc_err_t *rule_check(xmlNodePtr c[P_N], const core_lc_rule_t *r)
{
    static const lc_err_t notrans = {501, "NotImplemented",
                                     "Transition actions are not implemented: Onggi has one storage class "
                                     "(STANDARD)."};
    static const lc_err_t noaction = {400, "InvalidArgument", "At least one action needs to be specified in a rule"};
    static const lc_err_t tagabort = {400, "InvalidRequest",
                                      "Tag-based filter cannot be used with AbortIncompleteMultipartUpload action"};
    static const lc_err_t tagmarker = {400, "InvalidRequest",
                                       "Tag-based filter cannot be used with ExpiredObjectDeleteMarker action"};
    static const lc_err_t sizeabort = {400, "InvalidRequest",
                                       "ObjectSize-based filter cannot be used with AbortIncompleteMultipartUpload "
                                       "action"};
    if (!c[P_STATUS] || (!c[P_FILTER] && !c[P_PREFIX]) ||
        (!c[P_EXP] && !c[P_ABORT] && !c[P_NCV] && !c[P_TRANS] && !c[P_NCVT]))
        return &LC_MALFORMED;
    if (c[P_TRANS] || c[P_NCVT])
        return &notrans;
    if (!c[P_ABORT] && !c[P_NCV] && r->exp_days == 0 && r->exp_date == 0 && !r->edm)
        return &noaction; /* only <ExpiredObjectDeleteMarker>false</...>: RGW's answer */
    if (c[P_ABORT] && r->tags.len)
        return &tagabort;
    if (r->edm && r->tags.len) /* a delete marker has no tags */
        return &tagmarker;
    if (c[P_ABORT] && (r->has_gt || r->has_lt))
        return &sizeabort;
    return NULL;
}

/* One <Rule> into d->rules[d->n]. NULL or the error. */
static const lc_err_t *rule_parse(lc_doc_t *d, xmlNodePtr x)
{
    static const lc_err_t idlen = {400, "InvalidArgument", "ID length should not exceed allowed limit of 255"};
    core_lc_rule_t *r = &d->rules[d->n];
    og_buf_t *form = &d->tags[d->n];
    xmlNodePtr c[P_N];
    const lc_err_t *e = rule_children(x, c);
    d->n++;
    if (!e && c[P_STATUS]) {
        og_str_t st = text(d, c[P_STATUS]);
        r->enabled = og_str_eq(st, "Enabled");
        e = r->enabled || og_str_eq(st, "Disabled") ? NULL : &LC_MALFORMED;
    }
    if (!e && c[P_ID] && (r->id = text(d, c[P_ID])).len > LC_ID_MAX)
        e = &idlen;
    if (!e && c[P_PREFIX])
        r->legacy = 1, r->prefix = text(d, c[P_PREFIX]);
    if (!e && c[P_FILTER])
        e = filter_parse(d, c[P_FILTER], r, form);
    r->tags = (og_str_t){form->buf ? form->buf : "", form->len};
    if (!e && c[P_EXP])
        e = expiration_parse(d, c[P_EXP], r);
    if (!e && c[P_NCV])
        e = noncurrent_parse(c[P_NCV], r);
    if (!e && c[P_ABORT])
        e = abort_parse(c[P_ABORT], r);
    return e ? e : rule_check(c, r);
}

/* Gives every rule without an ID a random one (as S3 does) and refuses IDs used twice. */
static const lc_err_t *ids_check(lc_doc_t *d)
{
    static const lc_err_t dup = {400, "InvalidArgument",
                                 "Rule ID must be unique. Found same ID for more than one rule"};
    static const lc_err_t rnd = {500, "InternalError", "We encountered an internal error. Please try again."};
    for (size_t i = 0; i < d->n; i++) {
        unsigned char b[15];
        if (d->rules[i].id.len == 0) {
            if (getrandom(b, sizeof(b), 0) != (ssize_t)sizeof(b) ||
                og_b64_encode(b, sizeof(b), d->ids[i], sizeof(d->ids[i]), 1) != 20)
                return &rnd;
            d->rules[i].id = (og_str_t){d->ids[i], 20};
        }
        for (size_t j = 0; j < i; j++)
            if (og_str_cmp(d->rules[j].id, d->rules[i].id) == 0)
                return &dup;
    }
    return NULL;
}

/* The document: <LifecycleConfiguration> with 1..1000 <Rule>s. NULL or the error. */
static const lc_err_t *doc_parse(const char *xml, size_t len, lc_doc_t *d)
{
    xmlDocPtr doc = s3_xml_read(xml, len);
    xmlNodePtr root = doc ? xmlDocGetRootElement(doc) : NULL;
    const lc_err_t *e = root && is(root, "LifecycleConfiguration") ? NULL : &LC_MALFORMED;
    for (xmlNodePtr x = root ? root->children : NULL; x && !e; x = x->next) {
        if (x->type != XML_ELEMENT_NODE)
            continue;
        e = !is(x, "Rule") || d->n == LC_RULES_MAX ? &LC_MALFORMED : rule_parse(d, x);
    }
    if (!e && d->n == 0)
        e = &LC_MALFORMED;
    if (!e)
        e = ids_check(d);
    xmlFreeDoc(doc); /* the slices live in d->strs, copies of the tree's text */
    return e;
}

static void doc_free(lc_doc_t *d)
{
    for (size_t i = 0; i < d->nstrs; i++)
        xmlFree(d->strs[i]);
    free(d->strs);
    for (size_t i = 0; i < d->n; i++)
        og_buf_free(&d->tags[i]);
    free(d);
}

/* ---- rendering ---- */

static void filter_render(og_buf_t *b, const core_lc_rule_t *r)
{
    size_t ntags = s3_tags_count(r->tags);
    int conds = (r->prefix.len > 0) + (int)ntags + r->has_gt + r->has_lt;
    if (r->legacy) {
        og_buf_elem(b, "Prefix", r->prefix.base, r->prefix.len);
        return;
    }
    og_buf_puts(b, conds > 1 ? "<Filter><And>" : "<Filter>");
    if (r->prefix.len > 0 || conds == 0)
        og_buf_elem(b, "Prefix", r->prefix.base, r->prefix.len);
    s3_tags_form_xml(b, r->tags);
    if (r->has_gt)
        og_buf_printf(b, "<ObjectSizeGreaterThan>%llu</ObjectSizeGreaterThan>", (unsigned long long)r->size_gt);
    if (r->has_lt)
        og_buf_printf(b, "<ObjectSizeLessThan>%llu</ObjectSizeLessThan>", (unsigned long long)r->size_lt);
    og_buf_puts(b, conds > 1 ? "</And></Filter>" : "</Filter>");
}

/* The GetBucketLifecycleConfiguration document of lc into b. */
static void lc_render(og_buf_t *b, const core_lc_t *lc)
{
    og_buf_puts(b, "<LifecycleConfiguration xmlns=\"" S3_XMLNS "\">");
    for (size_t i = 0; i < lc->n; i++) {
        const core_lc_rule_t *r = &lc->rules[i];
        og_buf_puts(b, "<Rule>");
        og_buf_elem(b, "ID", r->id.base, r->id.len);
        filter_render(b, r);
        og_buf_puts(b, r->enabled ? "<Status>Enabled</Status>" : "<Status>Disabled</Status>");
        if (r->exp_days)
            og_buf_printf(b, "<Expiration><Days>%u</Days></Expiration>", r->exp_days);
        if (r->exp_date) {
            struct tm tm;
            time_t t = (time_t)r->exp_date;
            char date[32];
            strftime(date, sizeof(date), "%Y-%m-%dT%H:%M:%S.000Z", gmtime_r(&t, &tm));
            og_buf_printf(b, "<Expiration><Date>%s</Date></Expiration>", date);
        }
        if (r->edm)
            og_buf_puts(b, "<Expiration><ExpiredObjectDeleteMarker>true</ExpiredObjectDeleteMarker></Expiration>");
        if (r->ncv_days) {
            og_buf_printf(b, "<NoncurrentVersionExpiration><NoncurrentDays>%u</NoncurrentDays>", r->ncv_days);
            if (r->ncv_newer)
                og_buf_printf(b, "<NewerNoncurrentVersions>%u</NewerNoncurrentVersions>", r->ncv_newer);
            og_buf_puts(b, "</NoncurrentVersionExpiration>");
        }
        if (r->abort_days)
            og_buf_printf(b,
                          "<AbortIncompleteMultipartUpload><DaysAfterInitiation>%u</DaysAfterInitiation>"
                          "</AbortIncompleteMultipartUpload>",
                          r->abort_days);
        og_buf_puts(b, "</Rule>");
    }
    og_buf_puts(b, "</LifecycleConfiguration>");
}

/* ---- handlers ---- */

/* The body of a PutBucketLifecycleConfiguration in stored form (out): 0, an error answered
 * already (1), or a code to answer with S3_ON_BODY. */
static int lc_read_body(s3_req_t *r, og_buf_t *out)
{
    char *body = NULL;
    size_t len = 0;
    lc_doc_t *d = calloc(1, sizeof(*d));
    int rc = d ? s3_read_body(r, LC_BODY_MAX, &body, &len) : -ENOMEM;
    if (rc == OG_ETOOBIG)
        rc = S3_EMALFORMED;
    if (rc == 0 && (rc = s3_payload_verify(r, body, len)) == 0) {
        const lc_err_t *e = doc_parse(body, len, d);
        if (d->oom)
            rc = -ENOMEM;
        else if (e)
            s3_error(r, e->status, e->code, e->msg, NULL), rc = 1;
        else
            rc = core_lc_encode(d->rules, d->n, out);
    }
    if (d)
        doc_free(d);
    free(body);
    return rc;
}

/* Answers a GET ?lifecycle with the stored configuration. */
static void lc_send(s3_req_t *r, og_str_t stored)
{
    core_lc_t lc;
    og_buf_t b = {0};
    int rc = core_lc_decode(stored, &lc);
    if (rc == 0) {
        lc_render(&b, &lc);
        rc = b.oom ? -ENOMEM : 0;
        core_lc_free(&lc);
    }
    if (rc != 0)
        s3_error_rc(r, rc == OG_EPROTO ? OG_ECORRUPT : rc);
    else
        s3_send_xml(r, 200, NULL, 0, b.buf, b.len);
    og_buf_free(&b);
}

void s3_bucket_lifecycle(s3_req_t *r, int put, int del)
{
    static const s3_bucket_doc_t doc = {CORE_LC_META, lc_read_body, lc_send, "NoSuchLifecycleConfiguration",
                                        "The lifecycle configuration does not exist"};
    s3_bucket_doc(r, put, del, &doc);
}
