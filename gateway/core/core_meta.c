#include "core.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* A bounds-checked big-endian reader and writer over one buffer. */
typedef struct {
    const unsigned char *p, *end;
    int bad;
} rd_t;

static uint64_t rd_uint(rd_t *r, int bytes)
{
    uint64_t v = 0;
    if (r->bad || r->end - r->p < bytes) {
        r->bad = 1;
        return 0;
    }
    for (int i = 0; i < bytes; i++)
        v = v << 8 | *r->p++;
    return v;
}

static og_str_t rd_bytes(rd_t *r, size_t n)
{
    og_str_t s = {NULL, 0};
    if (r->bad || (size_t)(r->end - r->p) < n) {
        r->bad = 1;
        return s;
    }
    s = (og_str_t){(const char *)r->p, n};
    r->p += n;
    return s;
}

static unsigned char *wr_uint(unsigned char *p, uint64_t v, int bytes)
{
    for (int i = bytes - 1; i >= 0; i--)
        *p++ = (unsigned char)(v >> (8 * i));
    return p;
}

static unsigned char *wr_str(unsigned char *p, og_str_t s, int lenbytes)
{
    p = wr_uint(p, s.len, lenbytes);
    if (s.len)
        memcpy(p, s.base, s.len);
    return p + s.len;
}

int core_meta_encode(const core_meta_t *m, char **summary, size_t *slen, char **detail, size_t *dlen)
{
    size_t vidlen = strlen(m->vid);
    int version = vidlen || m->vflags || m->lock.mode || m->lock.hold ? 4 : m->flags ? 3 : m->delete_at ? 2 : 1;
    size_t sl = 1 + 8 + 16 + 4 + 8 + 2 + m->content_type.len + 2 + m->owner.len + (version >= 2 ? 8 : 0) +
                (version >= 3 ? 1 + 8 + 16 : 0) + (version == 4 ? 2 + vidlen + 1 + 8 + 1 : 0);
    int sse = (m->flags & CORE_META_SSE) != 0;
    size_t dl = 2 + 4 + m->num_chunks * (32 + 4 + 8) + 4 + m->inline_data.len + (sse ? 2 + m->sse.len : 0);
    unsigned char *s = NULL, *d = NULL, *p;

    if (m->content_type.len > 0xffff || m->owner.len > 0xffff || m->num_headers > 0xffff || m->sse.len > 0xffff)
        return OG_ETOOBIG;
    for (size_t i = 0; i < m->num_headers; i++) {
        if (m->headers[i].name.len > 0xffff || m->headers[i].value.len > 0xffff)
            return OG_ETOOBIG;
        dl += 4 + m->headers[i].name.len + m->headers[i].value.len;
    }
    if (sl + dl + OG_REC_HDR_LEN + 4 > OG_REC_MAX_LEN)
        return OG_ETOOBIG;
    if ((s = malloc(sl)) == NULL || (d = malloc(dl)) == NULL) {
        free(s);
        return -ENOMEM;
    }
    p = s;
    *p++ = (unsigned char)version;
    p = wr_uint(p, m->size, 8);
    memcpy(p, m->md5, 16);
    p = wr_uint(p + 16, m->parts, 4);
    p = wr_uint(p, m->mtime_ns, 8);
    p = wr_str(p, m->content_type, 2);
    p = wr_str(p, m->owner, 2);
    if (version >= 2)
        p = wr_uint(p, m->delete_at, 8);
    if (version >= 3) {
        *p++ = m->flags;
        p = wr_uint(p, m->slo_size, 8);
        memcpy(p, m->slo_etag, 16);
        p += 16;
    }
    if (version == 4) {
        *p++ = m->vflags;
        p = wr_str(p, (og_str_t){m->vid, vidlen}, 1);
        *p++ = m->lock.mode;
        p = wr_uint(p, m->lock.until_ms, 8);
        *p++ = m->lock.hold;
    }

    p = wr_uint(d, m->num_headers, 2);
    for (size_t i = 0; i < m->num_headers; i++) {
        p = wr_str(p, m->headers[i].name, 2);
        p = wr_str(p, m->headers[i].value, 2);
    }
    p = wr_uint(p, m->num_chunks, 4);
    for (size_t i = 0; i < m->num_chunks; i++) {
        memcpy(p, m->chunks[i].id, 32);
        p = wr_uint(p + 32, m->chunks[i].len, 4);
        p = wr_uint(p, m->chunks[i].xxh3, 8);
    }
    p = wr_str(p, m->inline_data, 4);
    if (sse)
        wr_str(p, m->sse, 2);
    *summary = (char *)s, *slen = sl, *detail = (char *)d, *dlen = dl;
    return 0;
}

/* Decodes a detail into m, whose summary (flags) is decoded. */
static int decode_detail(og_str_t detail, core_meta_t *m)
{
    rd_t r = {(const unsigned char *)detail.base, (const unsigned char *)detail.base + detail.len, 0};
    size_t nh = rd_uint(&r, 2);
    /* Headers are variable-sized: a first pass finds where the chunk count sits. */
    rd_t scan = r;
    for (size_t i = 0; i < nh; i++) {
        rd_bytes(&scan, rd_uint(&scan, 2));
        rd_bytes(&scan, rd_uint(&scan, 2));
    }
    size_t nc = rd_uint(&scan, 4);
    if (scan.bad || nc > (size_t)(scan.end - scan.p) / 44)
        return OG_EPROTO;

    /* One block for both arrays (og_header_t's size keeps core_chunk_ref_t aligned). */
    char *mem = malloc(nh * sizeof(og_header_t) + nc * sizeof(core_chunk_ref_t) + 1);
    if (mem == NULL)
        return -ENOMEM;
    og_header_t *hdrs = (og_header_t *)mem;
    core_chunk_ref_t *chunks = (core_chunk_ref_t *)(mem + nh * sizeof(og_header_t));
    for (size_t i = 0; i < nh; i++) {
        hdrs[i].name = rd_bytes(&r, rd_uint(&r, 2));
        hdrs[i].value = rd_bytes(&r, rd_uint(&r, 2));
    }
    rd_uint(&r, 4);
    for (size_t i = 0; i < nc; i++) {
        og_str_t id = rd_bytes(&r, 32);
        if (!r.bad)
            memcpy(chunks[i].id, id.base, 32);
        chunks[i].len = (uint32_t)rd_uint(&r, 4);
        chunks[i].xxh3 = rd_uint(&r, 8);
    }
    m->inline_data = rd_bytes(&r, rd_uint(&r, 4));
    if (m->flags & CORE_META_SSE)
        m->sse = rd_bytes(&r, rd_uint(&r, 2));
    if (r.bad || r.p != r.end) {
        free(mem);
        return OG_EPROTO;
    }
    m->headers = hdrs, m->num_headers = nh;
    m->chunks = chunks, m->num_chunks = nc;
    m->_mem = mem;
    return 0;
}

int core_meta_decode(const og_rec_t *rec, core_meta_t *m)
{
    rd_t r = {(const unsigned char *)rec->summary.base, (const unsigned char *)rec->summary.base + rec->summary.len,
              0};
    memset(m, 0, sizeof(*m));
    uint64_t version = rd_uint(&r, 1);
    if (version < 1 || version > 4)
        return OG_EPROTO;
    m->size = rd_uint(&r, 8);
    og_str_t md5 = rd_bytes(&r, 16);
    if (!r.bad)
        memcpy(m->md5, md5.base, 16);
    m->parts = (uint32_t)rd_uint(&r, 4);
    m->mtime_ns = rd_uint(&r, 8);
    m->content_type = rd_bytes(&r, rd_uint(&r, 2));
    m->owner = rd_bytes(&r, rd_uint(&r, 2));
    if (version >= 2)
        m->delete_at = rd_uint(&r, 8);
    if (version >= 3) {
        m->flags = (uint8_t)rd_uint(&r, 1);
        m->slo_size = rd_uint(&r, 8);
        og_str_t se = rd_bytes(&r, 16);
        if (!r.bad)
            memcpy(m->slo_etag, se.base, 16);
    }
    if (version == 4) {
        m->vflags = (uint8_t)rd_uint(&r, 1);
        og_str_t vid = rd_bytes(&r, rd_uint(&r, 1));
        if (vid.len > CORE_VID_LEN)
            return OG_EPROTO;
        if (!r.bad)
            memcpy(m->vid, vid.base, vid.len);
        m->lock.mode = (uint8_t)rd_uint(&r, 1);
        m->lock.until_ms = rd_uint(&r, 8);
        m->lock.hold = (uint8_t)rd_uint(&r, 1);
    }
    if (r.bad || r.p != r.end)
        return OG_EPROTO;
    if (rec->detail.len == 0)
        return 0;
    return decode_detail(rec->detail, m);
}

void core_meta_free(core_meta_t *m)
{
    free(m->_mem);
    m->_mem = NULL;
}

size_t core_meta_etag(const core_meta_t *m, char *out)
{
    char hex[33];
    og_hex(m->md5, 16, hex);
    if (m->parts > 0)
        return (size_t)sprintf(out, "\"%s-%u\"", hex, m->parts);
    return (size_t)sprintf(out, "\"%s\"", hex);
}

int core_meta_expired(const core_meta_t *m, uint64_t now_s) { return m->delete_at != 0 && m->delete_at <= now_s; }

size_t core_hdrs_encoded_len(const og_header_t *h, size_t n)
{
    size_t len = 2;
    if (n > 0xffff)
        return 0;
    for (size_t i = 0; i < n; i++) {
        if (h[i].name.len > 0xffff || h[i].value.len > 0xffff)
            return 0;
        len += 4 + h[i].name.len + h[i].value.len;
    }
    return len;
}

unsigned char *core_hdrs_encode(const og_header_t *h, size_t n, unsigned char *out)
{
    out = wr_uint(out, n, 2);
    for (size_t i = 0; i < n; i++) {
        out = wr_str(out, h[i].name, 2);
        out = wr_str(out, h[i].value, 2);
    }
    return out;
}

int core_hdrs_decode(og_str_t in, og_header_t **out, size_t *n, size_t *used)
{
    rd_t r = {(const unsigned char *)in.base, (const unsigned char *)in.base + in.len, 0};
    size_t count = rd_uint(&r, 2);
    og_header_t *h = NULL;
    /* Each pair takes at least 4 bytes: a count the input cannot hold is refused before allocating. */
    if (r.bad || count > (size_t)(r.end - r.p) / 4)
        return OG_EPROTO;
    if (count > 0 && (h = malloc(count * sizeof(*h))) == NULL)
        return -ENOMEM;
    for (size_t i = 0; i < count; i++) {
        h[i].name = rd_bytes(&r, rd_uint(&r, 2));
        h[i].value = rd_bytes(&r, rd_uint(&r, 2));
    }
    if (r.bad) {
        free(h);
        return OG_EPROTO;
    }
    *out = h, *n = count, *used = (size_t)(r.p - (const unsigned char *)in.base);
    return 0;
}
