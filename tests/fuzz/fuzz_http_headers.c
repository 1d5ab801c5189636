/* libFuzzer target: the request-head parsers of gateway/http/ (http_range.c, http_util.c): Range,
 * If-Match / If-None-Match / If-Modified-Since / If-Unmodified-Since evaluated against an object,
 * HTTP dates in their three forms, and query parameter decoding.
 *
 * Input: a request in fuzz.h's text form; the object it is evaluated against comes from the
 * pseudo-headers X-Size (decimal bytes), X-Mtime (Unix seconds) and X-Etag. Properties checked:
 * a satisfiable range lies inside the object; every date that parses formats back to the same
 * second; conditionals answer 200, 304 or 412; a decoded query value is never longer than its
 * encoding and is NUL-terminated. */
#include "fuzz.h"
#include "http/http.h"
#include "og_buf.h"

/* The latest second http_date_format can be given (ns in a uint64_t) whose year has 4 digits. */
#define DATE_MAX_S 253402300799LL

static og_str_t header(const fuzz_req_t *r, const char *name)
{
    return og_header_find(r->hdrs, r->nhdrs, name);
}

static uint64_t header_u64(const fuzz_req_t *r, const char *name)
{
    uint64_t v = 0;
    og_str_t s = header(r, name);
    if (s.base == NULL || og_parse_dec(s, 19, &v) != 0)
        return 0;
    return v;
}

static void check_range(const fuzz_req_t *r, uint64_t size)
{
    uint64_t first = 7, last = 7;
    int rc = http_range_parse(header(r, "range"), size, &first, &last);
    FUZZ_CHECK(rc == HTTP_RANGE_NONE || rc == HTTP_RANGE_OK || rc == HTTP_RANGE_UNSATISFIABLE);
    if (rc == HTTP_RANGE_OK)
        FUZZ_CHECK(first <= last && last < size);
}

static void check_date(og_str_t v)
{
    int64_t t, again;
    char text[32];
    if (v.base == NULL || http_date_parse(v, &t) != 0)
        return;
    if (t < 0 || t > DATE_MAX_S || (uint64_t)t > UINT64_MAX / 1000000000u)
        return;
    http_date_format((uint64_t)t * 1000000000u, text);
    FUZZ_CHECK(http_date_parse(og_str(text), &again) == 0 && again == t);
}

static void check_query(og_str_t query, const char *name)
{
    og_buf_t b = {0};
    og_str_t raw;
    int rc = http_query_decode(query, name, &b);
    FUZZ_CHECK(rc == 0 || rc == 1 || rc == OG_EINVAL || rc == -ENOMEM);
    if (rc == 1) {
        FUZZ_CHECK(og_query_get(query, name, &raw) && b.len <= raw.len && b.buf[b.len] == '\0');
    }
    og_buf_free(&b);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    fuzz_req_t r;
    fuzz_req_parse(data, size, &r);
    uint64_t obj_size = header_u64(&r, "x-size");
    int64_t mtime = (int64_t)(header_u64(&r, "x-mtime") & INT64_MAX);
    og_str_t etag = header(&r, "x-etag");

    check_range(&r, obj_size);
    http_cond_t c = {
        .if_match = header(&r, "if-match"),
        .if_none_match = header(&r, "if-none-match"),
        .if_modified_since = header(&r, "if-modified-since"),
        .if_unmodified_since = header(&r, "if-unmodified-since"),
    };
    int status = http_cond_eval(&c, etag, mtime);
    FUZZ_CHECK(status == 200 || status == 304 || status == 412);
    if (c.if_match.base != NULL)
        FUZZ_CHECK((status == 412) == !http_etag_list_match(c.if_match, etag)); /* If-Match decides alone */
    check_date(c.if_modified_since);
    check_date(c.if_unmodified_since);
    check_date(header(&r, "date"));
    check_query(r.query, "prefix");
    check_query(r.query, "uploadId");
    check_query(r.query, "");
    return 0;
}
