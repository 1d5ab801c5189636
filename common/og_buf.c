/* og_buf.c: growable text buffers with XML escaping (og_buf.h). */
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>

#include "og_buf.h"

static int xbuf_reserve(og_buf_t *b, size_t more)
{
    if (b->oom)
        return -ENOMEM;
    if (b->len + more + 1 <= b->cap)
        return 0;
    size_t cap = b->cap ? b->cap : 1024;
    while (cap < b->len + more + 1)
        cap *= 2;
    char *nb = realloc(b->buf, cap);
    if (nb == NULL) {
        b->oom = 1;
        return -ENOMEM;
    }
    b->buf = nb, b->cap = cap;
    return 0;
}

int og_buf_put(og_buf_t *b, const char *s, size_t n)
{
    if (xbuf_reserve(b, n) != 0)
        return -ENOMEM;
    if (n)
        memcpy(b->buf + b->len, s, n);
    b->len += n;
    b->buf[b->len] = '\0';
    return 0;
}

int og_buf_puts(og_buf_t *b, const char *s) { return og_buf_put(b, s, strlen(s)); }

int og_buf_printf(og_buf_t *b, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(NULL, 0, fmt, ap);
    va_end(ap);
    if (n < 0 || xbuf_reserve(b, (size_t)n) != 0)
        return -ENOMEM;
    va_start(ap, fmt);
    vsnprintf(b->buf + b->len, (size_t)n + 1, fmt, ap);
    va_end(ap);
    b->len += (size_t)n;
    return 0;
}

int og_buf_escape(og_buf_t *b, const char *s, size_t n)
{
    size_t run = 0; /* bytes that need no escaping, appended in one go */
    for (size_t i = 0; i < n; i++) {
        unsigned char c = (unsigned char)s[i];
        const char *rep = NULL;
        char num[16];
        switch (c) {
        case '&': rep = "&amp;"; break;
        case '<': rep = "&lt;"; break;
        case '>': rep = "&gt;"; break;
        case '"': rep = "&quot;"; break;
        case '\'': rep = "&apos;"; break;
        default:
            if (c < 0x20 || c == 0x7f) {
                snprintf(num, sizeof(num), "&#x%X;", c);
                rep = num;
            }
        }
        if (rep == NULL) {
            run++;
            continue;
        }
        if (og_buf_put(b, s + i - run, run) != 0 || og_buf_puts(b, rep) != 0)
            return -ENOMEM;
        run = 0;
    }
    return og_buf_put(b, s + n - run, run);
}

int og_buf_elem(og_buf_t *b, const char *name, const char *s, size_t n)
{
    og_buf_printf(b, "<%s>", name);
    og_buf_escape(b, s, n);
    return og_buf_printf(b, "</%s>", name);
}

void og_buf_free(og_buf_t *b)
{
    free(b->buf);
    memset(b, 0, sizeof(*b));
}

int og_buf_json_str(og_buf_t *b, og_str_t s)
{
    size_t run = 0;
    og_buf_put(b, "\"", 1);
    for (size_t i = 0; i < s.len; i++) {
        unsigned char c = (unsigned char)s.base[i];
        if (c >= 0x20 && c != '"' && c != '\\' && c != 0x7f) {
            run++;
            continue;
        }
        og_buf_put(b, s.base + i - run, run);
        run = 0;
        if (c == '"' || c == '\\') {
            char e[2] = {'\\', (char)c};
            og_buf_put(b, e, 2);
        } else {
            og_buf_printf(b, "\\u%04x", c);
        }
    }
    og_buf_put(b, s.base + s.len - run, run);
    return og_buf_put(b, "\"", 1);
}
