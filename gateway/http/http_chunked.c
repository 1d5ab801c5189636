/* The chunked transfer coding's decoder (RFC 9112 section 7.1), strict about chunk sizes.
 *
 * picohttpparser's decoder stops a chunk size at the first non-hex byte and takes the rest of
 * the line as an extension, so "0x5" read as a last chunk of size 0 (the data became trailers
 * and an empty object was stored), and it takes 16 hex digits, so a client could announce a
 * chunk no body can be. Here a size is 1..16 hex digits followed only by an extension (";"),
 * blanks before one, or the line end, and no chunk or body may exceed HTTP_BODY_MAX, the
 * largest Content-Length the server takes. */
#include "http.h"

enum {
    ST_SIZE,      /* in the chunk-size digits */
    ST_BWS,       /* blanks after them */
    ST_EXT,       /* in an extension (after ";"), up to the LF */
    ST_SIZE_LF,   /* after the CR of a chunk-size line */
    ST_DATA,      /* in chunk data */
    ST_DATA_CR,   /* after chunk data: its CRLF */
    ST_DATA_LF,
    ST_TRAILER,   /* at the start of a trailer line, or the empty line that ends the body */
    ST_TRAILER_LINE,
    ST_END_LF,    /* after the CR of the final empty line */
    ST_DONE
};

/* The line that ends the chunk-size line: the next chunk's data, or the trailers after the last. */
static int after_size_line(http_chunked_t *d)
{
    if (d->left == 0)
        return ST_TRAILER;
    d->total += d->left;
    return d->total > HTTP_BODY_MAX ? -1 : ST_DATA;
}

/* One byte of a chunk-size line. The next state, or -1 when the framing is malformed. */
static int size_byte(http_chunked_t *d, char c)
{
    int v = og_hexval(c);
    if (d->state == ST_SIZE && v >= 0) {
        if (++d->digits > 16 || (d->left = d->left * 16 + (uint64_t)v) > HTTP_BODY_MAX)
            return -1;
        return ST_SIZE;
    }
    if (d->digits == 0)
        return -1;
    if (d->state == ST_SIZE_LF || c == '\n')
        return c == '\n' ? after_size_line(d) : -1;
    /* blanks and an extension (ignored, as RFC 9112 allows) are bounded like a header line */
    if (++d->line > HTTP_MAX_HEAD_BYTES)
        return -1;
    if (d->state == ST_EXT)
        return ST_EXT;
    if (c == '\r')
        return ST_SIZE_LF;
    if (c == ';')
        return ST_EXT;
    return c == ' ' || c == '\t' ? ST_BWS : -1;
}

/* One byte outside chunk data and size lines. The next state, or -1. */
static int frame_byte(http_chunked_t *d, char c)
{
    switch (d->state) {
    case ST_DATA_CR:
        return c == '\r' ? ST_DATA_LF : c == '\n' ? ST_SIZE : -1;
    case ST_DATA_LF:
        return c == '\n' ? ST_SIZE : -1;
    case ST_TRAILER:
    case ST_TRAILER_LINE:
        if (d->state == ST_TRAILER && (c == '\r' || c == '\n'))
            return c == '\r' ? ST_END_LF : ST_DONE;
        /* trailer fields are discarded (nothing reads them), bounded like a request head */
        if (++d->line > HTTP_MAX_HEAD_BYTES)
            return -1;
        return c == '\n' ? ST_TRAILER : ST_TRAILER_LINE;
    case ST_END_LF:
        return c == '\n' ? ST_DONE : -1;
    default:
        return size_byte(d, c);
    }
}

ssize_t http_chunked_decode(http_chunked_t *d, char *buf, size_t *bufsz)
{
    size_t src = 0, dst = 0, len = *bufsz;
    while (src < len && d->state != ST_DONE) {
        if (d->state == ST_DATA) {
            size_t n = len - src < d->left ? len - src : (size_t)d->left;
            memmove(buf + dst, buf + src, n);
            src += n, dst += n;
            if ((d->left -= n) == 0)
                d->state = ST_DATA_CR;
            continue;
        }
        int next = frame_byte(d, buf[src++]);
        if (next < 0)
            return -1;
        if (next == ST_SIZE && d->state != ST_SIZE)
            d->digits = 0, d->left = 0, d->line = 0;
        d->state = next;
    }
    *bufsz = dst;
    if (d->state != ST_DONE)
        return -2;
    /* what follows the body (a pipelined request) moves up behind the payload */
    memmove(buf + dst, buf + src, len - src);
    return (ssize_t)(len - src);
}
