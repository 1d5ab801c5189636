#include "og_rec.h"

/* Header length (through the summary length) of a record of this version byte, 0 if unknown. */
static size_t hdr_len(unsigned char version)
{
    return version == OG_REC_VERSION ? OG_REC_HDR_LEN : version == 1 ? OG_REC_HDR_LEN_V1 : 0;
}

size_t og_rec_encoded_len(const og_rec_t *r) { return OG_REC_HDR_LEN + r->summary.len + 4 + r->detail.len; }

long og_rec_encode(const og_rec_t *r, void *out, size_t cap)
{
    size_t need = og_rec_encoded_len(r);
    unsigned char *p = out;
    if (need > cap || need > OG_REC_MAX_LEN)
        return OG_ETOOBIG;
    p[0] = OG_REC_VERSION;
    p[1] = r->flags;
    og_be64_put(p + 2, r->ts);
    og_be64_put(p + 10, r->tiebreak);
    og_be64_put(p + 18, r->size);
    og_be32_put(p + 26, (uint32_t)r->summary.len);
    if (r->summary.len)
        memcpy(p + OG_REC_HDR_LEN, r->summary.base, r->summary.len);
    og_be32_put(p + OG_REC_HDR_LEN + r->summary.len, (uint32_t)r->detail.len);
    if (r->detail.len)
        memcpy(p + OG_REC_HDR_LEN + 4 + r->summary.len, r->detail.base, r->detail.len);
    return (long)need;
}

long og_rec_frame_len(const void *buf, size_t avail)
{
    const unsigned char *p = buf;
    size_t h = avail > 0 ? hdr_len(p[0]) : 0;
    if (h == 0 || avail < h + 4)
        return OG_EPROTO;
    size_t slen = og_be32_get(p + h - 4);
    if (slen > avail - h - 4)
        return OG_EPROTO;
    size_t dlen = og_be32_get(p + h + slen);
    if (dlen > avail - h - 4 - slen || h + slen + 4 + dlen > OG_REC_MAX_LEN)
        return OG_EPROTO;
    return (long)(h + slen + 4 + dlen);
}

int og_rec_decode(const void *buf, size_t len, og_rec_t *r)
{
    const unsigned char *p = buf;
    long flen = og_rec_frame_len(buf, len);
    if (flen < 0 || (size_t)flen != len)
        return OG_EPROTO;
    size_t h = hdr_len(p[0]);
    r->flags = p[1];
    r->ts = og_be64_get(p + 2);
    r->tiebreak = og_be64_get(p + 10);
    r->size = h == OG_REC_HDR_LEN ? og_be64_get(p + 18) : 0;
    size_t slen = og_be32_get(p + h - 4);
    r->summary = (og_str_t){(const char *)p + h, slen};
    r->detail = (og_str_t){(const char *)p + h + 4 + slen, len - h - 4 - slen};
    return 0;
}

int og_rec_cmp(const og_rec_t *a, const og_rec_t *b)
{
    if (a->ts != b->ts)
        return a->ts > b->ts ? 1 : -1;
    if (a->tiebreak != b->tiebreak)
        return a->tiebreak > b->tiebreak ? 1 : -1;
    return 0;
}

size_t og_key_group_len(og_str_t key, og_str_t prefix, og_str_t delim, char key_end)
{
    const char *end = key_end && key.len ? memchr(key.base, key_end, key.len) : NULL;
    if (end != NULL)
        key.len = (size_t)(end - key.base);
    if (delim.len == 0 || key.len <= prefix.len)
        return 0;
    const char *d = memmem(key.base + prefix.len, key.len - prefix.len, delim.base, delim.len);
    return d ? (size_t)(d - key.base) + delim.len : 0;
}
