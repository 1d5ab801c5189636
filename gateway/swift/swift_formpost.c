/*
 * swift_formpost.c: Swift's formpost middleware (swift/common/middleware/formpost.py, 2.30):
 * browsers upload files into a container with an HTML form, without a token.
 *
 * POST /v1/AUTH_a/c[/prefix] with Content-Type multipart/form-data; the form's fields (before the
 * files) are redirect, max_file_size, max_file_count, expires, signature and optionally
 * x_delete_at / x_delete_after / content-type / content-encoding. signature is the HMAC
 * (SHA-1/256/512, hex or "<digest>:<base64>") under one of the Temp-URL keys of the account or
 * container of "<path>\n<redirect>\n<max_file_size>\n<max_file_count>\n<expires>". Each file
 * part is stored as <path>[/]<filename> (a '/' is added after a bare container), streamed from
 * the request body (memory: one read buffer, field values cut at 4096 bytes as Swift's).
 * Answers as Swift: without redirect, the status line as the body ("201 Created", or
 * "400 Bad Request\r\nFormPost: Max File Count Exceeded"); with redirect, 303 to
 * redirect?status=<code>&message=<message>; 401 "FormPost: Invalid Signature" / "Form Expired";
 * 400 "FormPost: <problem>" for a malformed form.
 */
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <strings.h>

#include "swift_int.h"

#define FP_BUF (64 * 1024)
#define FP_VALUE_MAX 4096 /* Swift's MAX_VALUE_LENGTH */
#define FP_LINE_MAX 4096

/* The body as a sequence of parts separated by "\r\n--<boundary>". */
typedef struct {
    swift_req_t *r;
    char *buf;
    size_t len, pos;       /* unread bytes are buf[pos, len) */
    char delim[80];        /* "\r\n--<boundary>" */
    size_t dlen;
    int eof;               /* the body is all read */
    int part_end, last;    /* the current part ended; no part follows */
    int found;             /* the current part ended at a delimiter (not at the body's end) */
    uint64_t cap, got;     /* a file part's limit (max_file_size) and bytes given so far */
} mp_t;

/* Reads more of the body into the buffer. 0 (eof set at the end) or a read error. */
static int mp_fill(mp_t *mp)
{
    if (mp->pos > 0) {
        memmove(mp->buf, mp->buf + mp->pos, mp->len - mp->pos);
        mp->len -= mp->pos, mp->pos = 0;
    }
    if (mp->eof || mp->len == FP_BUF)
        return 0;
    ssize_t n = http_req_read(mp->r->http, mp->buf + mp->len, FP_BUF - mp->len);
    if (n < 0)
        return (int)n;
    mp->eof = n == 0;
    mp->len += (size_t)n;
    return 0;
}

/* Up to cap bytes of the current part into out. >0, 0 at its end, or a read error. */
static ssize_t mp_read(mp_t *mp, char *out, size_t cap)
{
    int rc;
    while (!mp->part_end) {
        char *at = memmem(mp->buf + mp->pos, mp->len - mp->pos, mp->delim, mp->dlen);
        size_t avail = at ? (size_t)(at - mp->buf) - mp->pos : mp->len - mp->pos;
        if (!at && !mp->eof) /* keep what could be the start of a delimiter */
            avail = avail >= mp->dlen ? avail - mp->dlen + 1 : 0;
        if (avail > 0) {
            size_t n = avail < cap ? avail : cap;
            memcpy(out, mp->buf + mp->pos, n);
            mp->pos += n;
            return (ssize_t)n;
        }
        if (at != NULL) { /* the delimiter; then "--" ends the body, else a line end follows */
            mp->pos += mp->dlen;
            while (mp->len - mp->pos < 2 && !mp->eof)
                if ((rc = mp_fill(mp)) != 0)
                    return rc;
            mp->last = mp->len - mp->pos >= 2 ? memcmp(mp->buf + mp->pos, "--", 2) == 0 : 1;
            mp->pos += mp->len - mp->pos >= 2 ? 2 : mp->len - mp->pos;
            mp->part_end = mp->found = 1;
        } else if (mp->eof) {
            mp->part_end = mp->last = 1; /* a body cut short ends the last part, as in Swift */
        } else if ((rc = mp_fill(mp)) != 0) {
            return rc;
        }
    }
    return 0;
}

/* A line of the current part (headers) without its line end, cut at cap - 1 bytes. Returns its
 * length, -1 at the part's end, or a read error (OG_* and -errno codes are all below -1). */
static long mp_line(mp_t *mp, char *out, size_t cap)
{
    size_t n = 0;
    char c;
    ssize_t got;
    while ((got = mp_read(mp, &c, 1)) == 1 && c != '\n')
        if (n + 1 < cap)
            out[n++] = c;
    if (got < 0)
        return got; /* error codes are all below -1 */
    if (got == 0 && n == 0)
        return -1;
    if (n > 0 && out[n - 1] == '\r')
        n--;
    out[n] = '\0';
    return (long)n;
}

/* The part's source for core_obj_write: bytes beyond mp->cap fail with OG_ETOOBIG. */
static ssize_t mp_src(void *ctx, void *buf, size_t cap)
{
    mp_t *mp = ctx;
    ssize_t n = mp_read(mp, buf, cap);
    if (n > 0 && (mp->got += (uint64_t)n) > mp->cap)
        return OG_ETOOBIG;
    return n;
}

/* ---------------------------------------------------------------- the form */

enum { F_REDIRECT, F_MAX_SIZE, F_MAX_COUNT, F_EXPIRES, F_SIGNATURE, F_DELETE_AT, F_DELETE_AFTER, F_CTYPE, F_CENC, F_N };
static const char *const field_names[F_N] = {"redirect",    "max_file_size",  "max_file_count",
                                             "expires",     "signature",      "x_delete_at",
                                             "x_delete_after", "content-type", "content-encoding"};

typedef struct {
    char *v[F_N]; /* the fields seen so far (malloc'd), NULL when absent */
    int status;   /* the answer so far: 0 none yet */
    const char *message;
    int files;
    og_str_t keys[4]; /* the Temp-URL keys, read at the first file (nkeys -1 before) */
    int nkeys;
    char *keymem;
    og_str_t path;    /* the decoded request path: signed, and where files go */
    size_t plen;      /* the object name prefix it holds (its last plen bytes) */
} form_t;

/* One part's headers: its Content-Disposition name and filename, Content-Type/-Encoding. */
typedef struct {
    int form_data, has_filename, has_ctype, has_cenc;
    char name[128], filename[1024], ctype[256], cenc[128];
} part_t;

/* Attribute attr of a Content-Disposition value (after the type), quoted or not, into out. */
static int disp_attr(const char *v, const char *attr, char *out, size_t cap)
{
    size_t al = strlen(attr);
    for (const char *p = strchr(v, ';'); p != NULL; p = strchr(p + 1, ';')) {
        const char *a = p + 1;
        while (*a == ' ' || *a == '\t')
            a++;
        if (strncasecmp(a, attr, al) != 0 || a[al] != '=')
            continue;
        a += al + 1;
        size_t n = 0;
        if (*a == '"')
            for (a++; a[n] && a[n] != '"'; n++)
                ;
        else
            for (; a[n] && a[n] != ';'; n++)
                ;
        snprintf(out, cap, "%.*s", (int)n, a);
        return 1;
    }
    return 0;
}

/* Reads a part's headers. 0, or a read error. */
static int part_headers(mp_t *mp, part_t *pt)
{
    char line[FP_LINE_MAX];
    long n;
    memset(pt, 0, sizeof(*pt));
    while ((n = mp_line(mp, line, sizeof(line))) > 0) {
        char *colon = strchr(line, ':');
        if (colon == NULL)
            continue;
        *colon = '\0';
        char *v = colon + 1;
        while (*v == ' ' || *v == '\t')
            v++;
        if (!strcasecmp(line, "content-disposition")) {
            pt->form_data = !strncasecmp(v, "form-data", 9) && (v[9] == '\0' || v[9] == ';' || v[9] == ' ');
            disp_attr(v, "name", pt->name, sizeof(pt->name));
            pt->has_filename = disp_attr(v, "filename", pt->filename, sizeof(pt->filename)) && pt->filename[0];
        } else if (!strcasecmp(line, "content-type")) {
            pt->has_ctype = 1, snprintf(pt->ctype, sizeof(pt->ctype), "%s", v);
        } else if (!strcasecmp(line, "content-encoding")) {
            pt->has_cenc = 1, snprintf(pt->cenc, sizeof(pt->cenc), "%s", v);
        }
    }
    return n < -1 ? (int)n : 0;
}

/* A field's value (the first 4096 bytes, trailing "\r\n-" characters stripped as Swift's
 * rstrip('\r\n--')), the rest of the part skipped. 0 or a read error. */
static int part_value(mp_t *mp, form_t *f, const char *name)
{
    char *v = malloc(FP_VALUE_MAX + 1), sink[4096];
    size_t n = 0;
    ssize_t got;
    if (v == NULL)
        return -ENOMEM;
    while (n < FP_VALUE_MAX && (got = mp_read(mp, v + n, FP_VALUE_MAX - n)) > 0)
        n += (size_t)got;
    while ((got = mp_read(mp, sink, sizeof(sink))) > 0)
        ;
    if (got < 0) {
        free(v);
        return (int)got;
    }
    while (n > 0 && (v[n - 1] == '\r' || v[n - 1] == '\n' || v[n - 1] == '-'))
        n--;
    v[n] = '\0';
    for (int i = 0; i < F_N; i++)
        if (!strcasecmp(name, field_names[i])) {
            free(f->v[i]);
            f->v[i] = v;
            return 0;
        }
    free(v);
    return 0;
}

/* Python's int() of a field: optional spaces and sign, decimal digits. 0 with *out, or
 * OG_EINVAL. An absent or empty field is 0 (Swift's `int(value or 0)`). */
static int py_int(const char *s, long long *out)
{
    char *end;
    if (s == NULL || s[0] == '\0') {
        *out = 0;
        return 0;
    }
    errno = 0;
    *out = strtoll(s, &end, 10);
    while (*end == ' ' || *end == '\t')
        end++;
    return end == s || *end != '\0' || errno != 0 ? OG_EINVAL : 0;
}

/* Swift's reason phrases for the statuses a FormPost reports. */
static const char *reason(int status)
{
    switch (status) {
    case 201: return "Created";
    case 400: return "Bad Request";
    case 401: return "Unauthorized";
    case 404: return "Not Found";
    case 412: return "Precondition Failed";
    case 413: return "Request Entity Too Large";
    case 503: return "Service Unavailable";
    default: return "Internal Error";
    }
}

/* Does the form's signature match one of the Temp-URL keys (over the decoded request path and
 * the fields)? 0, SWIFT_EREFUSED (401) or -ENOMEM. */
static int form_signed(swift_req_t *r, const form_t *f)
{
    char want[129], hex[129];
    const char *digest;
    og_buf_t msg = {0};
    int ok = 0, n = f->nkeys;
    og_buf_printf(&msg, "%.*s\n%s\n%s\n%s\n%s", (int)f->path.len, f->path.base, f->v[F_REDIRECT] ? f->v[F_REDIRECT] : "",
                  f->v[F_MAX_SIZE] && f->v[F_MAX_SIZE][0] ? f->v[F_MAX_SIZE] : "0",
                  f->v[F_MAX_COUNT] && f->v[F_MAX_COUNT][0] ? f->v[F_MAX_COUNT] : "0",
                  f->v[F_EXPIRES] && f->v[F_EXPIRES][0] ? f->v[F_EXPIRES] : "0");
    if (n > 0 && swift_sig_parse(og_str(f->v[F_SIGNATURE] ? f->v[F_SIGNATURE] : ""), &digest, want) == 0)
        for (int i = 0; i < n && !msg.oom; i++) {
            size_t hl = swift_hmac_hex(digest, f->keys[i], (og_str_t){msg.buf, msg.len}, hex);
            ok |= swift_str_ct_eq(og_str(want), (og_str_t){hex, hl});
        }
    int oom = msg.oom;
    og_buf_free(&msg);
    return oom ? -ENOMEM : ok ? 0 : swift_refuse(r, 401, NULL, "FormPost: Invalid Signature");
}

/* Checks the form's numbers and signature before a file: 0 with *max_size and *delete_at, or
 * SWIFT_EREFUSED (400 / 401 with Swift's wording) or an error. */
static int form_check(swift_req_t *r, form_t *f, long long *max_size, uint64_t *delete_at)
{
    long long v, expires;
    int nacct;
    *delete_at = 0;
    if (f->nkeys < 0 && (f->nkeys = swift_tempurl_keys(r, r->container, f->keys, &nacct, &f->keymem)) < 0)
        return f->nkeys;
    if (f->nkeys == 0)
        return swift_refuse(r, 401, NULL, "FormPost: Invalid Signature");
    if (py_int(f->v[F_MAX_SIZE], max_size) != 0)
        return swift_refuse(r, 400, "text/plain", "FormPost: max_file_size not an integer");
    if (f->v[F_DELETE_AT] && py_int(f->v[F_DELETE_AT], &v) != 0)
        return swift_refuse(r, 400, "text/plain", "FormPost: x_delete_at not an integer: Unix timestamp required.");
    if (f->v[F_DELETE_AT])
        *delete_at = v > 0 ? (uint64_t)v : 1;
    if (f->v[F_DELETE_AFTER] && py_int(f->v[F_DELETE_AFTER], &v) != 0)
        return swift_refuse(r, 400, "text/plain",
                            "FormPost: x_delete_after not an integer: Number of seconds required.");
    if (f->v[F_DELETE_AFTER])
        *delete_at = v + (long long)r->now_s > 0 ? (uint64_t)(v + (long long)r->now_s) : 1;
    if (py_int(f->v[F_EXPIRES], &expires) != 0)
        return swift_refuse(r, 400, "text/plain", "FormPost: expired not an integer");
    if (expires < (long long)r->now_s)
        return swift_refuse(r, 401, NULL, "FormPost: Form Expired");
    return form_signed(r, f);
}

/* Does r's container exist in r's account? 0 with its bucket id in r->cid, OG_ENOTFOUND or a
 * cluster error. */
static int container_mine(swift_req_t *r)
{
    core_bucket_t b;
    int rc = core_bucket_find(r->cl, r->account, r->container, &b);
    if (rc == 0) {
        memcpy(r->cid, b.id, sizeof(r->cid)); /* where swift_obj_put_src writes */
        core_bucket_free(&b);
    }
    return rc == OG_EPROTO ? OG_ECORRUPT : rc;
}

/* Stores a file part as <path>[/]<filename>. 0 with f->status set (201, or the failed write's
 * status), or SWIFT_EREFUSED / an error that ends the form (answered by the caller). */
static int form_file(swift_req_t *r, mp_t *mp, form_t *f, const part_t *pt)
{
    long long max_size, max_count;
    uint64_t delete_at;
    int rc;
    if (py_int(f->v[F_MAX_COUNT], &max_count) != 0)
        return swift_refuse(r, 400, "text/plain", "FormPost: max_file_count not an integer");
    if (++f->files > max_count) {
        f->status = 400, f->message = "max file count exceeded";
        return 0;
    }
    if ((rc = form_check(r, f, &max_size, &delete_at)) != 0)
        return rc;
    if ((rc = container_mine(r)) != 0) { /* Swift's PUT into a missing container: 404 */
        f->status = rc == OG_ENOTFOUND ? 404 : 503;
        return rc == OG_ENOTFOUND || rc == OG_EQUORUM || rc == OG_ETIMEOUT ? 0 : rc;
    }
    size_t plen = f->plen, flen = strlen(pt->filename);
    free(r->object);
    if ((r->object = malloc(plen + flen + 1)) == NULL)
        return -ENOMEM;
    memcpy(r->object, f->path.base + f->path.len - plen, plen);
    memcpy(r->object + plen, pt->filename, flen + 1);
    r->object_len = plen + flen;
    if (r->object_len > OG_KEY_MAX || !og_utf8_valid(r->object, r->object_len, 0)) {
        f->status = r->object_len > OG_KEY_MAX ? 400 : 412;
        return 0;
    }
    if (delete_at != 0 && delete_at <= r->now_s) {
        f->status = 400; /* Swift's PUT: "X-Delete-At in past" */
        return 0;
    }
    mp->cap = max_size > 0 ? (uint64_t)max_size : 0, mp->got = 0;
    const char *ctype = f->v[F_CTYPE] ? f->v[F_CTYPE] : pt->has_ctype ? pt->ctype : "";
    if ((f->v[F_CTYPE] || pt->has_ctype) && ctype[0] == '\0')
        ctype = "application/octet-stream";
    rc = swift_obj_put_src(r, (core_obj_src_t){mp_src, mp}, og_str(ctype),
                           og_str(f->v[F_CENC] ? f->v[F_CENC] : pt->has_cenc ? pt->cenc : ""), delete_at, UINT64_MAX);
    if (rc == OG_ETOOBIG && mp->got > mp->cap)
        return swift_refuse(r, 400, "text/plain", "FormPost: max_file_size exceeded");
    f->status = rc == 0 ? 201 : rc == OG_ETOOBIG || rc == CORE_EQUOTA ? 413 : rc == OG_EQUORUM ? 503 : 500;
    return rc == HTTP_EABORTED ? rc : 0;
}

/* Reads the form part by part until a file fails or the body ends. 0 with f->status (0: no
 * file), SWIFT_EREFUSED or an error. */
static int form_read(swift_req_t *r, mp_t *mp, form_t *f)
{
    part_t pt;
    int rc;
    /* The body starts with "--<boundary>" after nothing but empty lines: with the "\r\n"
     * swift_formpost put before it, an empty preamble ending at a delimiter. */
    char pre[64];
    ssize_t got;
    size_t np = 0;
    while ((got = mp_read(mp, pre + np, sizeof(pre) - np)) > 0 && np + (size_t)got < sizeof(pre))
        np += (size_t)got;
    if (got < 0)
        return (int)got;
    for (size_t i = 0; i + 1 < np; i += 2)
        got |= pre[i] != '\r' || pre[i + 1] != '\n';
    if (got != 0 || np % 2 || !mp->found || mp->last)
        return swift_refuse(r, 400, "text/plain", "FormPost: invalid starting boundary");
    while (!mp->last) {
        mp->part_end = 0;
        if ((rc = part_headers(mp, &pt)) != 0)
            return rc;
        if (pt.form_data && pt.has_filename) {
            if ((rc = form_file(r, mp, f, &pt)) != 0 || f->status / 100 != 2)
                return rc;
            char sink[4096];
            while ((got = mp_read(mp, sink, sizeof(sink))) > 0) /* what the write left: none */
                ;
            if (got < 0)
                return (int)got;
        } else if ((rc = part_value(mp, f, pt.name)) != 0) {
            return rc;
        }
    }
    return 0;
}

int swift_is_formpost(const swift_req_t *r)
{
    og_str_t ct = http_req_header(r->http, "content-type");
    char v[256], b[80];
    if (!swift_is_method(r, "POST") || ct.len == 0 || ct.len >= sizeof(v))
        return 0;
    memcpy(v, ct.base, ct.len), v[ct.len] = '\0';
    size_t tl = strcspn(v, ";");
    og_str_t type = og_str_trim((og_str_t){v, tl});
    return og_str_ieq(type, "multipart/form-data") && disp_attr(v, "boundary", b, sizeof(b)) && b[0];
}

/* Appends Python's str.title() of s. */
static void put_title(og_buf_t *b, const char *s)
{
    int up = 1;
    for (; *s; s++) {
        int alpha = (*s >= 'a' && *s <= 'z') || (*s >= 'A' && *s <= 'Z');
        char c = alpha && up && *s >= 'a' ? (char)(*s - 32) : alpha && !up && *s <= 'Z' ? (char)(*s + 32) : *s;
        og_buf_put(b, &c, 1);
        up = !alpha;
    }
}

/* The form's answer: the status line (and the problem) as text, or 303 to redirect. */
static void form_answer(swift_req_t *r, const form_t *f)
{
    og_buf_t body = {0}, loc = {0};
    int status = f->status ? f->status : 400;
    const char *message = f->status ? f->message : "no files to process", *redirect = f->v[F_REDIRECT];
    if (redirect == NULL || redirect[0] == '\0') {
        og_buf_printf(&body, "%d %s", status, reason(status));
        if (message)
            og_buf_puts(&body, "\r\nFormPost: "), put_title(&body, message);
        if (!body.oom)
            swift_send(r, status, NULL, 0, "text/plain", body.buf, body.len);
    } else {
        char q[96];
        og_urlencode(message ? message : "", strlen(message ? message : ""), q, sizeof(q), 1);
        og_buf_printf(&loc, "%s%sstatus=%d&message=%s", redirect, strchr(redirect, '?') ? "&" : "?", status, q);
        og_buf_printf(&body, "<html><body><p><a href=\"%.*s\">Click to continue...</a></p></body></html>",
                      (int)loc.len, loc.buf);
        og_header_t h = {OG_STR_LIT("Location"), {loc.buf, loc.len}};
        if (!body.oom && !loc.oom)
            swift_send(r, 303, &h, 1, "", body.buf, body.len);
    }
    if (body.oom || loc.oom)
        swift_error_rc(r, -ENOMEM);
    og_buf_free(&body);
    og_buf_free(&loc);
}

void swift_formpost(swift_req_t *r)
{
    og_str_t ct = http_req_header(r->http, "content-type");
    char v[256], boundary[80];
    mp_t mp = {.r = r};
    form_t f = {.nkeys = -1};
    int rc;
    memcpy(v, ct.base, ct.len), v[ct.len] = '\0'; /* swift_is_formpost checked the length */
    disp_attr(v, "boundary", boundary, sizeof(boundary));
    mp.dlen = (size_t)snprintf(mp.delim, sizeof(mp.delim), "\r\n--%s", boundary);
    char *path = malloc(r->info->path.len + 1);
    long pl = path ? og_urldecode(r->info->path.base, r->info->path.len, path, r->info->path.len + 1, 0) : -ENOMEM;
    if ((mp.buf = malloc(FP_BUF)) == NULL || pl < 0) {
        rc = pl < 0 ? (int)pl : -ENOMEM;
        goto out_free;
    }
    f.path = (og_str_t){path, (size_t)pl};
    f.plen = r->object ? r->object_len : 0;
    memcpy(mp.buf, "\r\n", 2), mp.len = 2;
    if ((rc = form_read(r, &mp, &f)) == 0)
        form_answer(r, &f);
out_free:
    if (rc != 0)
        swift_error_rc(r, rc);
    for (int i = 0; i < F_N; i++)
        free(f.v[i]);
    free(f.keymem);
    free(mp.buf);
    free(path);
}
