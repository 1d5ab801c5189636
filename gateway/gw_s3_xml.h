/*
 * gw_s3_xml.h (private to gw_s3_list.c and gw_s3_multi.c): the I/O-free parts of S3 listings and
 * multi-object requests, kept apart from the handlers so unit tests drive them without a cluster:
 *  - gw_s3_walk(): prefix/delimiter grouping over a sorted key source, with exact truncation;
 *  - continuation tokens and base64 (Content-MD5, x-amz-checksum-*);
 *  - the DeleteObjects body parser (libxml2, hardened: no DTD, no entities, no network).
 */
#ifndef GW_S3_XML_H
#define GW_S3_XML_H

#include "gw_cluster.h"

#define GW_S3_KEY_MAX 1024      /* longest object key S3 allows, in bytes */
#define GW_S3_LIST_MAX 1000     /* max-keys cap and the DeleteObjects object limit */
#define GW_S3_PAGE_LIMIT 1000   /* raw keys asked of the source per fetch */

/* Where gw_s3_walk() reads keys from. fetch has the contract of gw_cluster_list() (live entries
 * with prefix that sort after `after`, sorted, up to limit raw keys, truncated/next_after);
 * release frees what one fetch returned. Production wraps gw_cluster_list/gw_list_free. */
typedef struct {
    int (*fetch)(void *ctx, og_str_t prefix, og_str_t after, size_t limit, gw_list_t *out);
    void (*release)(void *ctx, gw_list_t *l);
    void *ctx;
} gw_s3_source_t;

typedef struct {
    og_str_t key;     /* the object key, or the common prefix when is_prefix */
    og_str_t summary; /* the record summary (gw_meta); empty for a common prefix */
    int is_prefix;
} gw_s3_item_t;

typedef struct {
    gw_s3_item_t *items; /* key order, contents and common prefixes interleaved; owned by the walk */
    size_t n, ncontents, nprefixes;
    int truncated;       /* exact: another key or common prefix follows items[n-1] */
    size_t fetches;      /* pages read (lets tests check the cost) */
    char *_arena;
} gw_s3_walk_t;

/* One page of an S3 listing: up to max_keys items (keys and common prefixes, each prefix counted
 * once) with `prefix`, after `after`. With a delimiter, a key holding the delimiter after the
 * prefix rolls up into the common prefix ending at that delimiter, and the walk skips every other
 * key under that prefix (also under `after` itself when `after` is exactly such a prefix, so the
 * last item of a page is a valid resume point). max_keys 0 gives an empty, untruncated page
 * without reading. 0 and *out (release with gw_s3_walk_free), -ENOMEM, OG_EPROTO when the source
 * stops advancing, or the source's error. */
int gw_s3_walk(const gw_s3_source_t *src, og_str_t prefix, og_str_t delimiter, og_str_t after, size_t max_keys,
               gw_s3_walk_t *out);
void gw_s3_walk_free(gw_s3_walk_t *w);

/* Base64 of len bytes into out (cap bytes incl. NUL): standard alphabet with padding, or with
 * url set the URL-safe alphabet without padding. Returns the length or OG_ETOOBIG. */
long gw_s3_b64_encode(const void *in, size_t len, char *out, size_t cap, int url);
/* Decodes base64 in either alphabet, padding optional but never misplaced. Returns the decoded
 * length, OG_EINVAL for bad input, OG_ETOOBIG when out (cap bytes) is too small. */
long gw_s3_b64_decode(og_str_t in, void *out, size_t cap);

/* ListObjectsV2 continuation token for resuming after `key` (opaque to clients: base64url).
 * out needs 4 * GW_S3_KEY_MAX / 3 + 8 bytes for any key. Length or OG_ETOOBIG. */
long gw_s3_token_encode(og_str_t key, char *out, size_t cap);
/* The key a token resumes after, into out (cap bytes). Length or OG_EINVAL (not one of ours). */
long gw_s3_token_decode(og_str_t token, char *out, size_t cap);

/* A parsed DeleteObjects body: <Delete><Quiet/>?<Object><Key/><VersionId/>?</Object>+</Delete>. */
typedef struct {
    og_str_t key;
    og_str_t version_id; /* base NULL when absent */
} gw_s3_delobj_t;

typedef struct {
    gw_s3_delobj_t *objects; /* slices point into _mem */
    size_t n;
    int quiet;
    void *_mem;
} gw_s3_delete_t;

/* Parses a DeleteObjects body (UTF-8; the document's own encoding hint is ignored). Rejects
 * anything with a DOCTYPE (so no entity can be declared, expanded or loaded), never touches the
 * network, and rejects a body that is not one <Delete> with 1..GW_S3_LIST_MAX <Object>s each
 * holding one non-empty <Key>. 0 and *out (release with gw_s3_delete_free), OG_EPROTO
 * (MalformedXML) or -ENOMEM. Thread-safe. */
int gw_s3_delete_parse(const char *xml, size_t len, gw_s3_delete_t *out);
void gw_s3_delete_free(gw_s3_delete_t *d);

#endif
