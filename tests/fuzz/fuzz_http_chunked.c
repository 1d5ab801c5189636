/* libFuzzer target: the chunked transfer coding's decoder (gateway/http/http_chunked.c).
 *
 * Input: byte 0 picks how the body arrives (1..32 bytes per read, as the event loop feeds the
 * decoder whatever the socket gave it); the rest is the body after the request head. The body is
 * decoded twice, in one call and in reads of that size, and both must agree on the outcome
 * (malformed, incomplete, or ended with the same bytes after it) and on the payload: a decoder
 * whose answer depends on where the reads split would corrupt uploads. */
#include "fuzz.h"
#include "http/http.h"

typedef struct {
    ssize_t rc;       /* -1 malformed, -2 incomplete, >= 0 ended */
    char *payload;    /* the decoded bytes */
    size_t len;
    const char *rest; /* ended: the bytes after the body */
    size_t rest_len;
} outcome_t;

static void decode_whole(const char *in, size_t n, outcome_t *o)
{
    http_chunked_t d = {0};
    size_t len = n;
    o->payload = fuzz_dup(in, n);
    o->rc = http_chunked_decode(&d, o->payload, &len);
    FUZZ_CHECK(len <= n);
    o->len = len;
    if (o->rc >= 0) {
        FUZZ_CHECK((size_t)o->rc <= n - len);
        o->rest = o->payload + len, o->rest_len = (size_t)o->rc;
    }
}

/* The same bytes in reads of `step`; the trailing bytes of the read that ended the body plus
 * every byte never fed are what follows it. */
static void decode_split(const char *in, size_t n, size_t step, outcome_t *o, char *rest_buf)
{
    http_chunked_t d = {0};
    char piece[32];
    size_t off = 0;
    o->payload = fuzz_dup(in, n);
    o->rc = -2;
    while (off < n && o->rc == -2) {
        size_t k = n - off < step ? n - off : step, len = k;
        memcpy(piece, in + off, k);
        off += k;
        o->rc = http_chunked_decode(&d, piece, &len);
        FUZZ_CHECK(len <= k);
        memcpy(o->payload + o->len, piece, len);
        o->len += len;
        if (o->rc >= 0) {
            FUZZ_CHECK((size_t)o->rc <= k - len);
            memcpy(rest_buf, piece + len, (size_t)o->rc);
            memcpy(rest_buf + o->rc, in + off, n - off);
            o->rest = rest_buf, o->rest_len = (size_t)o->rc + (n - off);
        }
    }
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size < 1)
        return 0;
    size_t step = (size_t)(data[0] % 32) + 1;
    const char *in = (const char *)data + 1;
    size_t n = size - 1;
    outcome_t whole = {0}, split = {0};
    char *rest_buf = fuzz_dup(NULL, n);

    decode_whole(in, n, &whole);
    decode_split(in, n, step, &split, rest_buf);
    FUZZ_CHECK(whole.rc < 0 ? split.rc == whole.rc : split.rc >= 0);
    if (whole.rc != -1) {
        /* a malformed body may stop at different points of the payload; anything else may not */
        FUZZ_CHECK(whole.len == split.len && memcmp(whole.payload, split.payload, whole.len) == 0);
    }
    if (whole.rc >= 0)
        FUZZ_CHECK(whole.rest_len == split.rest_len && memcmp(whole.rest, split.rest, whole.rest_len) == 0);
    free(whole.payload);
    free(split.payload);
    free(rest_buf);
    return 0;
}
