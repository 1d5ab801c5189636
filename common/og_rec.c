#include "og_rec.h"

static void put_u32(unsigned char *p, uint32_t v)
{
    p[0] = (unsigned char)(v >> 24), p[1] = (unsigned char)(v >> 16), p[2] = (unsigned char)(v >> 8),
    p[3] = (unsigned char)v;
}
static void put_u64(unsigned char *p, uint64_t v)
{
    put_u32(p, (uint32_t)(v >> 32));
    put_u32(p + 4, (uint32_t)v);
}
static uint32_t get_u32(const unsigned char *p)
{
    return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 | (uint32_t)p[2] << 8 | p[3];
}
static uint64_t get_u64(const unsigned char *p) { return (uint64_t)get_u32(p) << 32 | get_u32(p + 4); }

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
    put_u64(p + 2, r->ts);
    put_u64(p + 10, r->tiebreak);
    put_u64(p + 18, r->size);
    put_u32(p + 26, (uint32_t)r->summary.len);
    if (r->summary.len)
        memcpy(p + OG_REC_HDR_LEN, r->summary.base, r->summary.len);
    put_u32(p + OG_REC_HDR_LEN + r->summary.len, (uint32_t)r->detail.len);
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
    size_t slen = get_u32(p + h - 4);
    if (slen > avail - h - 4)
        return OG_EPROTO;
    size_t dlen = get_u32(p + h + slen);
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
    r->ts = get_u64(p + 2);
    r->tiebreak = get_u64(p + 10);
    r->size = h == OG_REC_HDR_LEN ? get_u64(p + 18) : 0;
    size_t slen = get_u32(p + h - 4);
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
