/*
 * og_buf.h: a growable text buffer for XML, JSON and listings, with XML escaping.
 */
#ifndef OG_BUF_H
#define OG_BUF_H

#include "og.h"

/* A growable text buffer for XML and listings. Functions return 0 or -ENOMEM; after a
 * failure the buffer stays valid and further appends are no-ops returning -ENOMEM. */
typedef struct {
    char *buf;
    size_t len, cap;
    int oom;
} og_buf_t;
int og_buf_put(og_buf_t *b, const char *s, size_t n);
int og_buf_puts(og_buf_t *b, const char *s);
int og_buf_printf(og_buf_t *b, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
/* Appends s with XML escaping (& < > " ' and control characters as &#xN;). */
int og_buf_escape(og_buf_t *b, const char *s, size_t n);
/* <name>escaped value</name> */
int og_buf_elem(og_buf_t *b, const char *name, const char *s, size_t n);
void og_buf_free(og_buf_t *b);
/* Appends s as a JSON string: quoted, with '"', '\\', control characters and DEL escaped; other
 * bytes as they are, so UTF-8 stays UTF-8. 0 or -ENOMEM. */
int og_buf_json_str(og_buf_t *b, og_str_t s);

#endif
