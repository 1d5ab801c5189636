/*
 * s3_attrs.c: GetObjectAttributes (GET ?attributes with x-amz-object-attributes: ETag, Checksum,
 * ObjectParts, StorageClass, ObjectSize), from the object's record alone: no data is read.
 */
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "http/http.h"
#include "s3_checksum.h"
#include "s3_int.h"

enum { ATTR_ETAG = 1, ATTR_CHECKSUM = 2, ATTR_PARTS = 4, ATTR_CLASS = 8, ATTR_SIZE = 16 };

/* The attributes x-amz-object-attributes names (comma-separated, as S3 spells them). A bit set,
 * or OG_EINVAL for an unknown or missing name. */
static int attrs_parse(og_str_t v)
{
    static const struct {
        const char *name;
        int bit;
    } names[] = {{"ETag", ATTR_ETAG}, {"Checksum", ATTR_CHECKSUM}, {"ObjectParts", ATTR_PARTS},
                 {"StorageClass", ATTR_CLASS}, {"ObjectSize", ATTR_SIZE}};
    const char *p = v.base, *end = v.base + v.len;
    int bits = 0;
    while (p < end) {
        const char *comma = memchr(p, ',', (size_t)(end - p)), *s = p, *e = comma ? comma : end;
        int bit = 0;
        p = comma ? comma + 1 : end;
        while (s < e && *s == ' ')
            s++;
        while (e > s && e[-1] == ' ')
            e--;
        for (size_t i = 0; i < sizeof(names) / sizeof(names[0]); i++)
            if (og_str_eq((og_str_t){s, (size_t)(e - s)}, names[i].name))
                bit = names[i].bit;
        if (!bit)
            return OG_EINVAL;
        bits |= bit;
    }
    return bits ? bits : OG_EINVAL;
}

/* <Checksum> of the stored x-amz-checksum-* headers (nothing when the object has none). */
static void attrs_checksum(og_buf_t *b, const core_meta_t *m)
{
    og_str_t type = og_header_find(m->headers, m->num_headers, "x-amz-checksum-type");
    int any = 0;
    for (int a = 0; a < S3_CK_COUNT; a++) {
        og_str_t v = og_header_find(m->headers, m->num_headers, s3_ck_header((s3_ck_alg_t)a));
        if (v.base == NULL)
            continue;
        if (!any++)
            og_buf_puts(b, "<Checksum>");
        og_buf_printf(b, "<Checksum%s>", s3_ck_upper((s3_ck_alg_t)a));
        og_buf_escape(b, v.base, v.len);
        og_buf_printf(b, "</Checksum%s>", s3_ck_upper((s3_ck_alg_t)a));
    }
    if (any) {
        og_buf_puts(b, "<ChecksumType>");
        og_buf_escape(b, type.base ? type.base : "FULL_OBJECT", type.base ? type.len : 11);
        og_buf_puts(b, "</ChecksumType></Checksum>");
    }
}

/* The document for object m (its served size and ETag: size, etag of elen bytes, quoted). */
static void attrs_render(og_buf_t *b, int bits, const core_meta_t *m, uint64_t size, const char *etag, size_t elen)
{
    og_buf_puts(b, "<GetObjectAttributesResponse xmlns=\"" S3_XMLNS "\">");
    if (bits & ATTR_ETAG) /* unquoted, as S3 writes it here */
        og_buf_elem(b, "ETag", etag + 1, elen - 2);
    if (bits & ATTR_CHECKSUM)
        attrs_checksum(b, m);
    if ((bits & ATTR_PARTS) && m->parts > 0)
        og_buf_printf(b, "<ObjectParts><PartsCount>%" PRIu32 "</PartsCount></ObjectParts>", m->parts);
    if (bits & ATTR_CLASS)
        og_buf_puts(b, "<StorageClass>STANDARD</StorageClass>");
    if (bits & ATTR_SIZE)
        og_buf_printf(b, "<ObjectSize>%" PRIu64 "</ObjectSize>", size);
    og_buf_puts(b, "</GetObjectAttributesResponse>");
}

void s3_get_object_attributes(s3_req_t *r)
{
    int bits = attrs_parse(http_req_header(r->http, "x-amz-object-attributes"));
    core_meta_t m;
    char *buf = NULL, etag[48], lastmod[32];
    og_buf_t b = {0};
    uint64_t size;
    size_t elen;
    int rc;

    if (bits < 0) {
        s3_error(r, 400, "InvalidArgument", "The x-amz-object-attributes header is missing or names an attribute "
                 "that does not exist (ETag, Checksum, ObjectParts, StorageClass, ObjectSize).", NULL);
        return;
    }
    if ((rc = core_obj_lookup_live(r->gw->cluster, r->bid, (og_str_t){r->key, r->key_len}, (uint64_t)time(NULL),
                                   &m, &buf)) != 0) {
        s3_error_rc(r, rc);
        return;
    }
    if ((rc = s3_large_stat(r, &m, &size, etag, &elen)) < 0) {
        s3_error_rc(r, rc);
        goto out_free;
    }
    attrs_render(&b, bits, &m, size, etag, elen);
    http_date_format(m.mtime_ns, lastmod);
    og_header_t extra[] = {{OG_STR_LIT("Last-Modified"), og_str(lastmod)}};
    if (b.oom)
        s3_error_rc(r, -ENOMEM);
    else
        s3_send_xml(r, 200, extra, 1, b.buf, b.len);
out_free:
    og_buf_free(&b);
    core_meta_free(&m);
    free(buf);
}
