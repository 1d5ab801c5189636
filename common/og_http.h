/*
 * og_http.h: the picohttpparser that libh2o-evloop 2.2.5 exports but installs no
 * header for (see shared notes on h2o 2.2.5, section 0). These are the 2.2.5
 * layouts; do not replace them with a newer picohttpparser header.
 */
#ifndef OG_HTTP_H
#define OG_HTTP_H

#include <stddef.h>
#include <sys/types.h>

struct phr_header {
    const char *name;
    size_t name_len;
    const char *value;
    size_t value_len;
};

/* Zero it and set consume_trailer = 1 before use. */
struct phr_chunked_decoder {
    size_t bytes_left_in_chunk;
    char consume_trailer;
    char _hex_count;
    char _state;
};

/* Returns the header length, -2 when incomplete, -1 on a parse error.
 * *num_headers is the capacity on input and the count on output. */
int phr_parse_request(const char *buf, size_t len, const char **method, size_t *method_len, const char **path,
                      size_t *path_len, int *minor_version, struct phr_header *headers, size_t *num_headers,
                      size_t last_len);
int phr_parse_response(const char *_buf, size_t len, int *minor_version, int *status, const char **msg,
                       size_t *msg_len, struct phr_header *headers, size_t *num_headers, size_t last_len);
int phr_parse_headers(const char *buf, size_t len, struct phr_header *headers, size_t *num_headers,
                      size_t last_len);
/* Decodes in place; *bufsz becomes the payload length decoded. Returns -2 (needs
 * more), -1 (error) or >= 0 (done; that many bytes after the payload are not part of it). */
ssize_t phr_decode_chunked(struct phr_chunked_decoder *decoder, char *buf, size_t *bufsz);
int phr_decode_chunked_is_in_data(struct phr_chunked_decoder *decoder);

#endif
