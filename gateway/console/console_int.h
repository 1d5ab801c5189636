/*
 * console_int.h: what the files of the console room share (not part of console.h).
 */
#ifndef CONSOLE_INT_H
#define CONSOLE_INT_H

#include "console.h"

/* One file of gateway/console/www, compiled in (tools/embed.sh writes the table at build time). */
typedef struct {
    const char *name; /* file name, e.g. "console.js" */
    const unsigned char *data;
    size_t len;
} console_asset_t;

extern const console_asset_t console_assets[];
extern const size_t console_nassets;

/* One console request being answered. */
typedef struct {
    http_req_t *http;
    const http_reqinfo_t *info;
    console_t *con;
    char request_id[17];
    int status;    /* what was answered, 0 before */
} console_req_t;

/* Sends a complete answer with the console's security headers (console.c). */
void console_send(console_req_t *r, int status, const char *content_type, const char *cache, const void *body,
                  size_t len);
/* Sends {"error": msg} with status. */
void console_error(console_req_t *r, int status, const char *msg);

/* The JSON endpoints under /_console/api/ (console_api.c): name is what follows that prefix. */
void console_api(console_req_t *r, og_str_t name);

#endif
