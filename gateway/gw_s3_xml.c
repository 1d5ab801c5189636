/* The I/O-free parts of S3 listings and multi-object requests (see gw_s3_xml.h). */
#include <errno.h>
#include <limits.h>
#include <stdlib.h>
#include <strings.h>

#include <libxml/parser.h>
#include <libxml/tree.h>

#include "gw_s3_xml.h"

/* ---- byte buffers ---- */

typedef struct {
    char *p;
    size_t len, cap;
} bytes_t;

static int bytes_reserve(bytes_t *b, size_t need)
{
    if (need <= b->cap)
        return 0;
    size_t cap = b->cap ? b->cap : 256;
    while (cap < need)
        cap *= 2;
    char *np = realloc(b->p, cap);
    if (np == NULL)
        return -ENOMEM;
    b->p = np, b->cap = cap;
    return 0;
}

static int bytes_add(bytes_t *b, const char *s, size_t n)
{
    if (bytes_reserve(b, b->len + n) != 0)
        return -ENOMEM;
    if (n)
        memcpy(b->p + b->len, s, n);
    b->len += n;
    return 0;
}

static int bytes_set(bytes_t *b, const char *s, size_t n)
{
    b->len = 0;
    return bytes_add(b, s, n);
}

static int has_prefix(og_str_t s, const char *p, size_t n) { return s.len >= n && (n == 0 || memcmp(s.base, p, n) == 0); }

/* Byte-wise order, a proper prefix first: the order the nodes keep keys in. */
static int key_cmp(og_str_t a, og_str_t b)
{
    size_t n = a.len < b.len ? a.len : b.len;
    int c = n ? memcmp(a.base, b.base, n) : 0;
    if (c != 0)
        return c;
    return a.len < b.len ? -1 : a.len > b.len;
}

/* ---- listing walk ---- */

/* Length of the common prefix key rolls up into (through the first delimiter after the listed
 * prefix), or 0 when the key holds no delimiter there. The key starts with prefix. */
static size_t common_prefix_len(og_str_t key, og_str_t prefix, og_str_t delim)
{
    if (key.len <= prefix.len)
        return 0;
    const char *d = memmem(key.base + prefix.len, key.len - prefix.len, delim.base, delim.len);
    return d ? (size_t)(d - key.base) + delim.len : 0;
}

/* An item as offsets into the arena, which moves while it grows. */
typedef struct {
    size_t koff, klen, soff, slen;
    int is_prefix;
} slot_t;

typedef struct {
    const gw_s3_source_t *src;
    og_str_t prefix, delim;
    size_t max_keys, count;
    bytes_t resume; /* the `after` of the next fetch */
    bytes_t skip;   /* the last common prefix: keys under it are already counted */
    bytes_t arena;
    slot_t *slots;
    size_t nslots, slots_cap;
    gw_s3_walk_t *out;
} walk_t;

static int walk_add(walk_t *w, og_str_t key, og_str_t summary, int is_prefix)
{
    if (w->nslots == w->slots_cap) {
        size_t cap = w->slots_cap ? 2 * w->slots_cap : 64;
        slot_t *ns = realloc(w->slots, cap * sizeof(*ns));
        if (ns == NULL)
            return -ENOMEM;
        w->slots = ns, w->slots_cap = cap;
    }
    slot_t *s = &w->slots[w->nslots];
    s->koff = w->arena.len, s->klen = key.len;
    if (bytes_add(&w->arena, key.base, key.len) != 0)
        return -ENOMEM;
    s->soff = w->arena.len, s->slen = summary.len;
    if (bytes_add(&w->arena, summary.base, summary.len) != 0)
        return -ENOMEM;
    s->is_prefix = is_prefix;
    w->nslots++;
    return 0;
}

/* Takes one page's entries. Sets *done when the page is full (and then truncated is exact: an
 * item that would not fit was seen). 0 or -ENOMEM. */
static int walk_page(walk_t *w, const gw_list_t *page, int *done)
{
    for (size_t i = 0; i < page->n; i++) {
        og_str_t key = page->entries[i].key;
        if (w->skip.len && has_prefix(key, w->skip.p, w->skip.len))
            continue;
        size_t cplen = w->delim.len ? common_prefix_len(key, w->prefix, w->delim) : 0;
        if (w->count == w->max_keys) {
            w->out->truncated = 1;
            *done = 1;
            return 0;
        }
        int rc;
        if (cplen) {
            og_str_t cp = {key.base, cplen};
            if ((rc = walk_add(w, cp, (og_str_t){NULL, 0}, 1)) != 0 || (rc = bytes_set(&w->skip, cp.base, cp.len)) != 0)
                return rc;
            w->out->nprefixes++;
        } else {
            if ((rc = walk_add(w, key, page->entries[i].rec.summary, 0)) != 0)
                return rc;
            w->out->ncontents++;
        }
        w->count++;
    }
    return 0;
}

/* After a fetch ending inside the skipped common prefix, resume past all of it at once:
 * skip + 0xFF sorts after every UTF-8 key under skip (0xFF never occurs in UTF-8). Other keys
 * under skip, if any, are still filtered out by walk_page, so this is only a shortcut. */
static int walk_skip_ahead(walk_t *w)
{
    og_str_t resume = {w->resume.p, w->resume.len};
    if (w->skip.len == 0 || !has_prefix(resume, w->skip.p, w->skip.len))
        return 0;
    if (resume.len > w->skip.len && (unsigned char)resume.base[w->skip.len] == 0xff)
        return 0;
    if (bytes_set(&w->resume, w->skip.p, w->skip.len) != 0)
        return -ENOMEM;
    return bytes_add(&w->resume, "\xff", 1);
}

static int walk_finish(walk_t *w)
{
    gw_s3_walk_t *out = w->out;
    if (w->nslots == 0)
        return 0;
    out->items = malloc(w->nslots * sizeof(*out->items));
    if (out->items == NULL)
        return -ENOMEM;
    for (size_t i = 0; i < w->nslots; i++) {
        const slot_t *s = &w->slots[i];
        out->items[i] = (gw_s3_item_t){{w->arena.p + s->koff, s->klen}, {w->arena.p + s->soff, s->slen}, s->is_prefix};
    }
    out->n = w->nslots;
    out->_arena = w->arena.p;
    w->arena.p = NULL;
    return 0;
}

int gw_s3_walk(const gw_s3_source_t *src, og_str_t prefix, og_str_t delimiter, og_str_t after, size_t max_keys,
               gw_s3_walk_t *out)
{
    walk_t w = {.src = src, .prefix = prefix, .delim = delimiter, .max_keys = max_keys, .out = out};
    int rc = 0;

    memset(out, 0, sizeof(*out));
    if (max_keys == 0)
        return 0;
    if ((rc = bytes_set(&w.resume, after.base, after.len)) != 0)
        goto out_free;
    /* Resuming after a common prefix (the last item of the previous page) skips its keys. */
    if (delimiter.len && has_prefix(after, prefix.base, prefix.len) &&
        common_prefix_len(after, prefix, delimiter) == after.len) {
        if ((rc = bytes_set(&w.skip, after.base, after.len)) != 0 || (rc = walk_skip_ahead(&w)) != 0)
            goto out_free;
    }
    for (;;) {
        /* Without a delimiter every key is an item: ask for what is missing plus one, which
         * tells whether the page is truncated. Common prefixes may hide any number of keys. */
        size_t limit = delimiter.len ? GW_S3_PAGE_LIMIT : max_keys - w.count + 1;
        gw_list_t page;
        int done = 0;
        if (limit > GW_S3_PAGE_LIMIT)
            limit = GW_S3_PAGE_LIMIT;
        memset(&page, 0, sizeof(page));
        if ((rc = src->fetch(src->ctx, prefix, (og_str_t){w.resume.p, w.resume.len}, limit, &page)) != 0)
            goto out_free;
        out->fetches++;
        rc = walk_page(&w, &page, &done);
        if (rc == 0 && !done && page.truncated) {
            /* A source that does not move forward would loop forever. */
            if (key_cmp(page.next_after, (og_str_t){w.resume.p, w.resume.len}) <= 0)
                rc = OG_EPROTO;
            else if ((rc = bytes_set(&w.resume, page.next_after.base, page.next_after.len)) == 0)
                rc = walk_skip_ahead(&w);
        }
        int more = !done && page.truncated;
        src->release(src->ctx, &page);
        if (rc != 0)
            goto out_free;
        if (!more)
            break;
    }
    rc = walk_finish(&w);
out_free:
    free(w.arena.p);
    free(w.slots);
    free(w.skip.p);
    free(w.resume.p);
    if (rc != 0)
        gw_s3_walk_free(out);
    return rc;
}

void gw_s3_walk_free(gw_s3_walk_t *w)
{
    free(w->items);
    free(w->_arena);
    memset(w, 0, sizeof(*w));
}

/* ---- base64 and tokens ---- */

long gw_s3_b64_encode(const void *in, size_t len, char *out, size_t cap, int url)
{
    const char *abc = url ? "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_"
                          : "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    const unsigned char *p = in;
    size_t need = url ? (len * 4 + 2) / 3 : (len + 2) / 3 * 4;
    size_t o = 0;
    if (need + 1 > cap)
        return OG_ETOOBIG;
    for (size_t i = 0; i < len; i += 3) {
        uint32_t v = (uint32_t)p[i] << 16;
        size_t rest = len - i;
        if (rest > 1)
            v |= (uint32_t)p[i + 1] << 8;
        if (rest > 2)
            v |= p[i + 2];
        out[o++] = abc[v >> 18 & 63];
        out[o++] = abc[v >> 12 & 63];
        if (rest > 1)
            out[o++] = abc[v >> 6 & 63];
        else if (!url)
            out[o++] = '=';
        if (rest > 2)
            out[o++] = abc[v & 63];
        else if (!url)
            out[o++] = '=';
    }
    out[o] = '\0';
    return (long)o;
}

static int b64_val(int c)
{
    if (c >= 'A' && c <= 'Z')
        return c - 'A';
    if (c >= 'a' && c <= 'z')
        return c - 'a' + 26;
    if (c >= '0' && c <= '9')
        return c - '0' + 52;
    if (c == '+' || c == '-')
        return 62;
    if (c == '/' || c == '_')
        return 63;
    return -1;
}

long gw_s3_b64_decode(og_str_t in, void *out, size_t cap)
{
    unsigned char *o = out;
    size_t n = in.len, olen = 0;
    uint32_t acc = 0;
    int bits = 0;

    /* Padding, when present, completes the last quantum exactly. */
    if (n && in.base[n - 1] == '=') {
        if (n % 4 != 0)
            return OG_EINVAL;
        n--;
        if (in.base[n - 1] == '=')
            n--;
    }
    if (n % 4 == 1)
        return OG_EINVAL;
    for (size_t i = 0; i < n; i++) {
        int v = b64_val((unsigned char)in.base[i]);
        if (v < 0)
            return OG_EINVAL;
        acc = acc << 6 | (uint32_t)v;
        bits += 6;
        if (bits >= 8) {
            bits -= 8;
            if (olen >= cap)
                return OG_ETOOBIG;
            o[olen++] = (unsigned char)(acc >> bits);
        }
    }
    /* The leftover bits of a final partial quantum must be zero (one canonical encoding). */
    if (bits && (acc & ((1u << bits) - 1)) != 0)
        return OG_EINVAL;
    return (long)olen;
}

long gw_s3_token_encode(og_str_t key, char *out, size_t cap) { return gw_s3_b64_encode(key.base, key.len, out, cap, 1); }

long gw_s3_token_decode(og_str_t token, char *out, size_t cap)
{
    long n = gw_s3_b64_decode(token, out, cap);
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
            if (++*count > GW_S3_LIST_MAX || object_fields(c, &key, &version) != 0 ||
                elem_text(key, NULL, &kn) != 0 || kn == 0 || (version && elem_text(version, NULL, &vn) != 0))
                return OG_EPROTO;
            *bytes += kn + vn;
        }
    }
    return *count ? 0 : OG_EPROTO;
}

static void delete_fill(const xmlNode *root, gw_s3_delete_t *d, char *text)
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

int gw_s3_delete_parse(const char *xml, size_t len, gw_s3_delete_t *out)
{
    int rc = OG_EPROTO;
    size_t count, bytes;
    int quiet;

    memset(out, 0, sizeof(*out));
    if (len == 0 || len > INT_MAX || memchr(xml, '\0', len) != NULL || has_doctype(xml, len))
        return OG_EPROTO;
    xmlInitParser(); /* idempotent and locked inside libxml2; a no-op after the first call */
    /* No XML_PARSE_NOENT / DTDLOAD / DTDATTR / XINCLUDE: nothing is substituted or loaded. */
    xmlDocPtr doc = xmlReadMemory(xml, (int)len, NULL, "UTF-8",
                                  XML_PARSE_NONET | XML_PARSE_NOBLANKS | XML_PARSE_NOERROR | XML_PARSE_NOWARNING |
                                      XML_PARSE_IGNORE_ENC);
    if (doc == NULL)
        return OG_EPROTO;
    const xmlNode *root = xmlDocGetRootElement(doc);
    if (doc->intSubset != NULL || doc->extSubset != NULL || root == NULL || !name_is(root, "Delete"))
        goto out_free_doc;
    if ((rc = delete_measure(root, &count, &bytes, &quiet)) != 0)
        goto out_free_doc;
    char *mem = calloc(1, count * sizeof(gw_s3_delobj_t) + bytes + 1);
    if (mem == NULL) {
        rc = -ENOMEM;
        goto out_free_doc;
    }
    out->objects = (gw_s3_delobj_t *)mem;
    out->n = count;
    out->quiet = quiet;
    out->_mem = mem;
    delete_fill(root, out, mem + count * sizeof(gw_s3_delobj_t));
out_free_doc:
    xmlFreeDoc(doc);
    return rc;
}

void gw_s3_delete_free(gw_s3_delete_t *d)
{
    free(d->_mem);
    memset(d, 0, sizeof(*d));
}
