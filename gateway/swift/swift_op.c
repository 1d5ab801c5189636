/*
 * swift_op.c: names the Swift operation of a request, "<METHOD> <level>" (GET object, PUT
 * container, HEAD account ...) plus "auth" and "info", for the access log and the metrics' op
 * label (docs/operations.md, "Metrics"). A fixed list: methods Swift does not define and paths
 * that do not parse are "Unknown".
 */
#include "swift_int.h"

static const char *const swift_methods[] = {"GET", "HEAD", "PUT", "POST", "DELETE", "COPY", "OPTIONS"};
#define SWIFT_NMETHODS (sizeof(swift_methods) / sizeof(swift_methods[0]))

/* Level-major: index = level * SWIFT_NMETHODS + method, then the three others. */
static const char *const swift_ops[] = {
    "GET account",   "HEAD account",   "PUT account",   "POST account",   "DELETE account",   "COPY account",
    "OPTIONS account",
    "GET container", "HEAD container", "PUT container", "POST container", "DELETE container", "COPY container",
    "OPTIONS container",
    "GET object",    "HEAD object",    "PUT object",    "POST object",    "DELETE object",    "COPY object",
    "OPTIONS object",
    "auth",          "info",           "Unknown",
};
enum { SWIFT_OP_AUTH = 3 * SWIFT_NMETHODS, SWIFT_OP_INFO, SWIFT_OP_UNKNOWN };

const http_api_t swift_http_api = {"swift", swift_ops, sizeof(swift_ops[0]), sizeof(swift_ops) / sizeof(swift_ops[0])};

size_t swift_op_classify(const swift_req_t *r)
{
    og_str_t path = r->info->path;
    if (og_str_eq(path, "/auth/v1.0") || og_str_eq(path, "/auth/v1"))
        return SWIFT_OP_AUTH;
    if (!og_str_eq(path, "/v1") && (path.len < 4 || memcmp(path.base, "/v1/", 4) != 0))
        return SWIFT_OP_INFO;
    size_t level = r->object != NULL ? 2 : r->has_container ? 1 : 0;
    if (r->account[0] == '\0')
        return SWIFT_OP_UNKNOWN;
    for (size_t m = 0; m < SWIFT_NMETHODS; m++)
        if (og_str_eq(r->info->method, swift_methods[m]))
            return level * SWIFT_NMETHODS + m;
    return SWIFT_OP_UNKNOWN;
}

const char *swift_op_name(size_t op) { return swift_ops[op]; }
