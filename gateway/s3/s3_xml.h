/*
 * s3_xml.h (private to gateway/s3/): the I/O-free parts of S3 listings and request documents,
 * kept apart from the handlers so unit tests drive them without a cluster:
 *  - core_walk(): prefix/delimiter grouping over a sorted key source, with exact truncation;
 *  - continuation tokens and base64 (Content-MD5, x-amz-checksum-*);
 *  - the hardened document reader every request body goes through (libxml2: no DTD, no
 *    entities, no network) and the DeleteObjects body parser.
 */
#ifndef S3_XML_H
#define S3_XML_H

#include "cluster/cluster.h"

#define S3_LIST_MAX 1000     /* max-keys cap and the DeleteObjects object limit */
#define S3_PAGE_LIMIT 1000   /* raw keys asked of the source per fetch */


/* ListObjectsV2 continuation token for resuming after `key` (opaque to clients: base64url).
 * out needs 4 * OG_KEY_MAX / 3 + 8 bytes for any key. Length or OG_ETOOBIG. */
long s3_token_encode(og_str_t key, char *out, size_t cap);
/* The key a token resumes after, into out (cap bytes). Length or OG_EINVAL (not one of ours). */
long s3_token_decode(og_str_t token, char *out, size_t cap);

/* Parses a request document (len bytes, UTF-8; its own encoding hint is ignored) the hardened
 * way: one holding "<!DOCTYPE" anywhere is refused before parsing (so no entity can be declared,
 * expanded or loaded), and the network is never touched. The tree (xmlFreeDoc), or NULL when
 * refused, malformed or out of memory. Thread-safe. */
struct _xmlDoc *s3_xml_read(const char *xml, size_t len);

/* A parsed DeleteObjects body: <Delete><Quiet/>?<Object><Key/><VersionId/>?</Object>+</Delete>. */
typedef struct {
    og_str_t key;
    og_str_t version_id; /* base NULL when absent */
} s3_delobj_t;

typedef struct {
    s3_delobj_t *objects; /* slices point into _mem */
    size_t n;
    int quiet;
    void *_mem;
} s3_delete_t;

/* Parses a DeleteObjects body (UTF-8; the document's own encoding hint is ignored). Rejects
 * anything with a DOCTYPE (so no entity can be declared, expanded or loaded), never touches the
 * network, and rejects a body that is not one <Delete> with 1..S3_LIST_MAX <Object>s each
 * holding one non-empty <Key>. 0 and *out (release with s3_delete_free), OG_EPROTO
 * (MalformedXML) or -ENOMEM. Thread-safe. */
int s3_delete_parse(const char *xml, size_t len, s3_delete_t *out);
void s3_delete_free(s3_delete_t *d);

struct _xmlNode;
/* The text of the first element `name` directly under node: 1 with *out (xmlFree), 0 when absent. */
int s3_xml_child_text(struct _xmlNode *node, const char *name, unsigned char **out);

#endif
