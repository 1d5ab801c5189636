/* The I/O-free parts of S3 listings and multi-object requests (see s3_xml.h). */
#include <errno.h>
#include <limits.h>
#include <stdlib.h>
#include <strings.h>

#include <libxml/parser.h>
#include <libxml/tree.h>

#include "s3_xml.h"

/* ---- base64 and tokens ---- */

long s3_token_encode(og_str_t key, char *out, size_t cap) { return og_b64_encode(key.base, key.len, out, cap, 1); }

long s3_token_decode(og_str_t token, char *out, size_t cap)
{
    long n = og_b64_decode(token, out, cap);
    /* Our tokens never decode to nothing: the resume point is a key or a common prefix. */
    return n <= 0 ? OG_EINVAL : n;
}

/* ---- DeleteObjects body ---- */

static int name_is(const xmlNode *n, const char *name) { return strcmp((const char *)n->name, name) == 0; }

/* Copies (dst != NULL) or measures the text of an element that may hold only text, CDATA and
 * comments. *len gets the byte count. 0 or OG_EPROTO. */
static int elem_text(const xmlNode *e, char *dst, size_t *len)
{
    size_t n = 0;
    for (const xmlNode *c = e->children; c != NULL; c = c->next) {
        if (c->type == XML_COMMENT_NODE || c->type == XML_PI_NODE)
            continue;
        if (c->type != XML_TEXT_NODE && c->type != XML_CDATA_SECTION_NODE)
            return OG_EPROTO;
        size_t k = c->content ? strlen((const char *)c->content) : 0;
        if (dst != NULL)
            memcpy(dst + n, c->content, k);
        n += k;
    }
    *len = n;
    return 0;
}

/* Finds <Key> and <VersionId> in an <Object>; other children (ETag, Size ... of newer API
 * versions) are ignored. 0 or OG_EPROTO (Key missing or repeated, VersionId repeated). */
static int object_fields(const xmlNode *obj, const xmlNode **key, const xmlNode **version)
{
    *key = *version = NULL;
    for (const xmlNode *c = obj->children; c != NULL; c = c->next) {
        if (c->type == XML_TEXT_NODE || c->type == XML_CDATA_SECTION_NODE)
            return OG_EPROTO; /* blanks were dropped by XML_PARSE_NOBLANKS: this is stray text */
        if (c->type != XML_ELEMENT_NODE)
            continue;
        if (name_is(c, "Key")) {
            if (*key != NULL)
                return OG_EPROTO;
            *key = c;
        } else if (name_is(c, "VersionId")) {
            if (*version != NULL)
                return OG_EPROTO;
            *version = c;
        }
    }
    return *key ? 0 : OG_EPROTO;
}

/* First pass: checks the shape, counts objects and text bytes, reads Quiet. */
static int delete_measure(const xmlNode *root, size_t *count, size_t *bytes, int *quiet)
{
    *count = *bytes = 0;
    *quiet = 0;
    for (const xmlNode *c = root->children; c != NULL; c = c->next) {
        if (c->type == XML_TEXT_NODE || c->type == XML_CDATA_SECTION_NODE)
            return OG_EPROTO;
        if (c->type != XML_ELEMENT_NODE)
            continue;
        if (name_is(c, "Quiet")) {
            char buf[8];
            size_t n;
            if (elem_text(c, NULL, &n) != 0 || n >= sizeof(buf))
                return OG_EPROTO;
            elem_text(c, buf, &n);
            buf[n] = '\0';
            if (strcasecmp(buf, "true") != 0 && strcasecmp(buf, "false") != 0)
                return OG_EPROTO;
            *quiet = strcasecmp(buf, "true") == 0;
        } else if (name_is(c, "Object")) {
            const xmlNode *key, *version;
            size_t kn, vn = 0;
            if (++*count > S3_LIST_MAX || object_fields(c, &key, &version) != 0 ||
                elem_text(key, NULL, &kn) != 0 || kn == 0 || (version && elem_text(version, NULL, &vn) != 0))
                return OG_EPROTO;
            *bytes += kn + vn;
        }
    }
    return *count ? 0 : OG_EPROTO;
}

static void delete_fill(const xmlNode *root, s3_delete_t *d, char *text)
{
    size_t i = 0;
    for (const xmlNode *c = root->children; c != NULL; c = c->next) {
        const xmlNode *key, *version;
        size_t n;
        if (c->type != XML_ELEMENT_NODE || !name_is(c, "Object"))
            continue;
        object_fields(c, &key, &version);
        elem_text(key, text, &n);
        d->objects[i].key = (og_str_t){text, n};
        text += n;
        if (version != NULL) {
            elem_text(version, text, &n);
            d->objects[i].version_id = (og_str_t){text, n};
            text += n;
        }
        i++;
    }
}

/* A DOCTYPE is the only way to declare entities or pull in external DTDs: refuse it before
 * libxml2 sees the bytes. The scan is exact because the parse below is forced to UTF-8. */
static int has_doctype(const char *xml, size_t len)
{
    static const char tag[] = "<!DOCTYPE";
    for (const char *p = xml; (p = memchr(p, '<', len - (size_t)(p - xml))) != NULL; p++)
        if ((size_t)(xml + len - p) >= sizeof(tag) - 1 && strncasecmp(p, tag, sizeof(tag) - 1) == 0)
            return 1;
    return 0;
}

xmlDocPtr s3_xml_read(const char *xml, size_t len)
{
    if (len == 0 || len > INT_MAX || memchr(xml, '\0', len) != NULL || has_doctype(xml, len))
        return NULL;
    xmlInitParser(); /* idempotent and locked inside libxml2; a no-op after the first call */
    /* No XML_PARSE_NOENT / DTDLOAD / DTDATTR / XINCLUDE: nothing is substituted or loaded. */
    xmlDocPtr doc = xmlReadMemory(xml, (int)len, NULL, "UTF-8",
                                  XML_PARSE_NONET | XML_PARSE_NOBLANKS | XML_PARSE_NOERROR | XML_PARSE_NOWARNING |
                                      XML_PARSE_IGNORE_ENC);
    if (doc != NULL && (doc->intSubset != NULL || doc->extSubset != NULL)) {
        xmlFreeDoc(doc);
        doc = NULL;
    }
    return doc;
}

int s3_delete_parse(const char *xml, size_t len, s3_delete_t *out)
{
    int rc = OG_EPROTO;
    size_t count, bytes;
    int quiet;

    memset(out, 0, sizeof(*out));
    xmlDocPtr doc = s3_xml_read(xml, len);
    if (doc == NULL)
        return OG_EPROTO;
    const xmlNode *root = xmlDocGetRootElement(doc);
    if (root == NULL || !name_is(root, "Delete"))
        goto out_free_doc;
    if ((rc = delete_measure(root, &count, &bytes, &quiet)) != 0)
        goto out_free_doc;
    char *mem = calloc(1, count * sizeof(s3_delobj_t) + bytes + 1);
    if (mem == NULL) {
        rc = -ENOMEM;
        goto out_free_doc;
    }
    out->objects = (s3_delobj_t *)mem;
    out->n = count;
    out->quiet = quiet;
    out->_mem = mem;
    delete_fill(root, out, mem + count * sizeof(s3_delobj_t));
out_free_doc:
    xmlFreeDoc(doc);
    return rc;
}

void s3_delete_free(s3_delete_t *d)
{
    free(d->_mem);
    memset(d, 0, sizeof(*d));
}

int s3_xml_child_text(xmlNodePtr node, const char *name, xmlChar **out)
{
    for (xmlNodePtr n = node->children; n != NULL; n = n->next)
        if (n->type == XML_ELEMENT_NODE && xmlStrcmp(n->name, (const xmlChar *)name) == 0) {
            *out = xmlNodeGetContent(n);
            return *out != NULL;
        }
    return 0;
}
