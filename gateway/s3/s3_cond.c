/*
 * s3_cond.c: S3 conditional writes (If-None-Match: * and If-Match on PutObject,
 * CompleteMultipartUpload and the CopyObject destination; If-Match on DeleteObject) on top of
 * core_obj_commit_if / core_obj_delete_if, which decide and write under the key's lease
 * (docs/architecture.md, "Conditional writes").
 */
#include <string.h>
#include <time.h>

#include "s3_int.h"

int s3_etag_listed(og_str_t list, const char *etag, size_t elen)
{
    const char *p = list.base, *end = list.base + list.len;
    og_str_t bare = {etag + 1, elen - 2};
    while (p < end) {
        const char *comma = memchr(p, ',', (size_t)(end - p));
        const char *s = p, *e = comma ? comma : end;
        p = comma ? comma + 1 : end;
        while (s < e && (*s == ' ' || *s == '\t'))
            s++;
        while (e > s && (e[-1] == ' ' || e[-1] == '\t'))
            e--;
        if (e - s >= 2 && s[0] == 'W' && s[1] == '/')
            s += 2;
        if (e - s >= 2 && *s == '"' && e[-1] == '"')
            s++, e--;
        og_str_t tok = {s, (size_t)(e - s)};
        if (og_str_eq(tok, "*") || (tok.len == bare.len && memcmp(tok.base, bare.base, bare.len) == 0))
            return 1;
    }
    return 0;
}

int s3_cond_parse(s3_req_t *r, int creating, s3_cond_t *c)
{
    og_str_t inm = http_req_header(r->http, "if-none-match");
    *c = (s3_cond_t){.if_match = http_req_header(r->http, "if-match")};
    if (inm.base != NULL) {
        /* S3 takes only "*" here (create if absent), and not on DeleteObject */
        if (!creating || !og_str_eq(inm, "*"))
            return OG_EINVAL;
        c->none_match = 1;
    }
    if (c->if_match.base != NULL && c->if_match.len == 0)
        return OG_EINVAL;
    c->any = c->none_match || c->if_match.base != NULL;
    return 0;
}

void s3_cond_refuse(s3_req_t *r)
{
    s3_error(r, 501, "NotImplemented", "A header you provided implies functionality that is not implemented.",
             NULL);
}

/* core_cond_fn: the object as it is under the lease against c's conditions. */
static int cond_check(void *ctx, const core_meta_t *cur)
{
    const s3_cond_t *c = ctx;
    char etag[48];
    if (c->none_match && cur)
        return CORE_EPRECOND;
    if (c->if_match.base == NULL)
        return 0;
    if (!cur)
        return OG_ENOTFOUND; /* S3: If-Match on a key without a current object is 404 NoSuchKey */
    size_t elen = (cur->flags & CORE_META_SLO) ? core_slo_s3_etag(cur, etag) : core_meta_etag(cur, etag);
    return s3_etag_listed(c->if_match, etag, elen) ? 0 : CORE_EPRECOND;
}

int s3_cond_commit(s3_req_t *r, const s3_cond_t *c, core_meta_t *m)
{
    return core_obj_commit_if(r->gw->cluster, r->bid, (og_str_t){r->key, r->key_len}, m,
                              c && c->any ? cond_check : NULL, (void *)c, (uint64_t)time(NULL));
}

int s3_cond_delete(s3_req_t *r, const s3_cond_t *c, char marker_vid[CORE_VID_LEN + 1])
{
    return core_obj_delete_if(r->gw->cluster, r->bid, (og_str_t){r->key, r->key_len},
                              c->any ? cond_check : NULL, (void *)c, (uint64_t)time(NULL), marker_vid);
}
