/*
 * gw_range.h (private to gateway/): pure parsers for the HTTP headers that shape a GET
 * response: Range (RFC 7233), the four conditionals (RFC 7232) and HTTP dates. No I/O, no
 * allocation, no globals, so they are unit-tested directly and are safe to fuzz.
 */
#ifndef GW_RANGE_H
#define GW_RANGE_H

#include <stdint.h>

#include "gw_http.h"
#include "og.h"

/* Outcomes of gw_range_parse. */
enum {
    GW_RANGE_NONE = 0,         /* absent, malformed or multi-range: serve the whole object (200) */
    GW_RANGE_OK = 1,           /* one satisfiable range: 206 with [*first, *last] (inclusive) */
    GW_RANGE_UNSATISFIABLE = 2 /* one well-formed range outside the object: 416 */
};

/* Parses a Range header value for an object of `size` bytes. Accepts one byte range in the
 * forms "bytes=a-b", "bytes=a-" and "bytes=-n"; b past the end is clamped to size-1. As S3
 * does, several ranges ("bytes=0-1,5-6") and syntax errors make the header ignored
 * (GW_RANGE_NONE) rather than rejected. A range that starts at or after `size`, or a suffix of
 * 0 bytes (or any suffix of an empty object), is GW_RANGE_UNSATISFIABLE. Never fails otherwise;
 * *first and *last are set only for GW_RANGE_OK. */
int gw_range_parse(og_str_t hdr, uint64_t size, uint64_t *first, uint64_t *last);

/* Parses an HTTP-date in any of the three RFC 7231 forms (IMF-fixdate "Sun, 06 Nov 1994
 * 08:49:37 GMT", obsolete RFC 850 "Sunday, 06-Nov-94 08:49:37 GMT", asctime "Sun Nov  6
 * 08:49:37 1994") into Unix seconds. 0 or OG_EINVAL for anything else. */
int gw_http_date_parse(og_str_t s, int64_t *out);

/* Does an If-Match / If-None-Match value list the entity tag `etag` (given with or without
 * its quotes)? Handles "*", comma-separated lists, weak "W/" tags (compared weakly: the
 * opaque part only) and unquoted tags, which some clients send. 1 or 0. */
int gw_etag_list_match(og_str_t list, og_str_t etag);

/* The request's conditional headers (empty slices when absent). */
typedef struct {
    og_str_t if_match;
    og_str_t if_none_match;
    og_str_t if_modified_since;
    og_str_t if_unmodified_since;
} gw_cond_t;

/* The conditional headers of req, as slices into its header block (valid while req lives). Cannot
 * fail. */
gw_cond_t gw_cond_from_req(const gw_req_t *req);

/* Evaluates the conditionals of a GET/HEAD against an object (etag as stored, mtime in Unix
 * seconds, i.e. the resolution of Last-Modified) in RFC 7232 section 6 order, which also gives
 * the AWS precedence rules: If-Match decides alone when present (so If-Match true +
 * If-Unmodified-Since false -> 200), and If-None-Match decides alone when present (so
 * If-None-Match false + If-Modified-Since true -> 304). A date that does not parse is ignored.
 * Returns 200 (serve), 304 (not modified) or 412 (precondition failed). */
int gw_cond_eval(const gw_cond_t *c, og_str_t etag, int64_t mtime_s);

#endif
