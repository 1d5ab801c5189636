/*
 * og.h: the few things every Onggi module shares: one error space, non-owning
 * string slices, header pairs and time.
 *
 * Error convention (LMDB/nginx style): 0 is success; a negative errno (-ENOMEM,
 * -EIO, ...) is a system error; OG_E* codes below live in a reserved range
 * [-19999, -10000]. Modules may define their own codes in the sub-ranges noted
 * here. og_strerror() names any of them.
 */
#ifndef OG_H
#define OG_H

#include <netinet/in.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>
#include <sys/socket.h>

enum {
    OG_OK = 0,
    OG_ENOTFOUND = -10001, /* no such key / chunk / record */
    OG_ECORRUPT = -10002,  /* stored bytes failed their checksum: never served */
    OG_EQUORUM = -10003,   /* fewer replicas than a quorum answered */
    OG_EPROTO = -10004,    /* malformed message on the wire or on disk */
    OG_ETOOBIG = -10005,   /* input larger than the limit for it */
    OG_EEXIST = -10006,    /* already exists */
    OG_EINVAL = -10007,    /* bad argument or input */
    OG_ETIMEOUT = -10008,  /* peer did not answer in time */
    OG_ECLOSED = -10009,   /* peer closed the connection */
    OG_EBADDIGEST = -10010, /* payload digest does not match what the sender said */
    OG_EBADNAME = -10011    /* a name (container, bucket, object, account) not UTF-8 or holding a NUL */
    /* -10100..-10199: ring_; -10200..-10299: auth_; -10300..-10399: node_;
     * -10400..-10499: gateway rooms */
};

/* Names an error code (system or module). Never returns NULL; the string is static. */
const char *og_strerror(int rc);

/* A non-owning slice of bytes; base may be NULL when len is 0. */
typedef struct {
    const char *base;
    size_t len;
} og_str_t;

#define OG_STR_LIT(s) ((og_str_t){(s), sizeof(s) - 1})
static inline og_str_t og_str(const char *s) { return (og_str_t){s, s ? strlen(s) : 0}; }
static inline int og_str_eq(og_str_t a, const char *lit)
{
    size_t n = strlen(lit);
    return a.len == n && memcmp(a.base, lit, n) == 0;
}
/* s without leading and trailing spaces and tabs (HTTP's optional whitespace). */
og_str_t og_str_trim(og_str_t s);
/* Parses s as 1..maxdig decimal digits and nothing else (no sign, no spaces) into *out.
 * 0, or OG_EINVAL (empty, too long, another character, or past UINT64_MAX). */
int og_parse_dec(og_str_t s, size_t maxdig, uint64_t *out);
/* Writes v in decimal into out, NUL-terminated (OG_U64_DEC_MAX bytes always suffice), and returns
 * the number of digits. Cannot fail. For the per-request heads and signatures, where snprintf's
 * format parsing cost more than the rest of the line. */
#define OG_U64_DEC_MAX 21
size_t og_u64_dec(uint64_t v, char *out);
/* ASCII case-insensitive equality against a C string. */
int og_str_ieq(og_str_t a, const char *lit);
/* Byte-wise order of two slices (a prefix sorts first), as keys sort on the nodes: <0, 0, >0. */
int og_str_cmp(og_str_t a, og_str_t b);

/* One HTTP header as a pair of slices (owned by whoever owns the request). */
typedef struct {
    og_str_t name;
    og_str_t value;
} og_header_t;

/* First header named `name` (case-insensitive) or a {NULL,0} slice. */
og_str_t og_header_find(const og_header_t *hdrs, size_t n, const char *name);

/* Wall clock, nanoseconds since the Unix epoch. */
uint64_t og_time_ns(void);
/* Monotonic clock, milliseconds. */
uint64_t og_mono_ms(void);
/* Monotonic clock, nanoseconds. */
uint64_t og_mono_ns(void);

/* A seed for og_rng_next, never 0: the kernel's randomness (never waiting for it), else the clock
 * and the pid, which still tell processes apart. */
uint64_t og_rng_seed(void);
/* xorshift64*: advances *state (never 0) and returns its next value. Fast and not cryptographic:
 * ids and tie-breaks that must differ, never secrets. The caller serialises access to state. */
uint64_t og_rng_next(uint64_t *state);

/* Gives the process a futex hash table of its own with a slot for each of up to `threads`
 * threads (a power of two, 16 to OG_FUTEX_SLOTS_MAX). Since Linux 6.16 a process's private futexes
 * (mutexes, condition variables) hash into a table sized when its second thread starts, from the
 * online CPUs, not the threads: 16 slots on a 2-core machine. Every wake walks its slot's list of
 * waiters, so 2,000 parked gateway workers made each wake ~4x dearer (~5 instead of ~1.2 us) and a
 * tenth of the gateway's CPU under 2,000 slow uploads was that walk (docs/benchmarks.md, "A futex
 * table for thousands of threads"). Call before starting the threads. 0, or a negative errno:
 * -EINVAL on a kernel without per-process futex hashes (they share the global table, sized for
 * the machine), which callers may ignore. */
#define OG_FUTEX_SLOTS_MAX 16384
int og_futex_hash_reserve(size_t threads);

/* Levelled process logs (og_log.c): one line on stderr,
 *   <ISO 8601 time> <level> <prog>: <message>
 * written when level is at or above the handle's (error < warn < info < debug). The access log
 * is separate (gateway/http). Libraries never log; process mains and their threads do. */
enum { OG_LOG_ERROR = 0, OG_LOG_WARN = 1, OG_LOG_INFO = 2, OG_LOG_DEBUG = 3 };
typedef struct {
    const char *prog; /* "onggi-gateway" */
    int level;        /* the most verbose level written */
} og_log_t;
/* "error", "warn", "info" or "debug" into *level. 0 or OG_EINVAL. */
int og_log_level_parse(const char *s, int *level);
/* Writes one line (fmt without the newline) when lg lets level through. Never fails. */
void og_log(const og_log_t *lg, int level, const char *fmt, ...) __attribute__((format(printf, 3, 4)));

/* A numeric socket address as written in rings, flags and node addresses. */
typedef struct {
    char host[INET6_ADDRSTRLEN]; /* the IP without brackets, NUL-terminated */
    uint16_t port;
    struct sockaddr_storage sa; /* host and port as AF_INET or AF_INET6 */
    socklen_t salen;
} og_addr_t;

/* Parses "IP:PORT" (IPv4) or "[IPv6]:PORT" into *out: numeric addresses only (no name lookup),
 * a port of 1 to 5 digits up to 65535. 0 or OG_EINVAL (out is then undefined). */
int og_addr_parse(const char *s, og_addr_t *out);
/* The socket address of a numeric IPv4 or IPv6 host and a port. 0 or OG_EINVAL. */
int og_sockaddr(const char *host, uint16_t port, struct sockaddr_storage *sa, socklen_t *salen);

/* Big-endian integers in byte buffers (wire and disk formats). */
static inline void og_be16_put(unsigned char *p, uint16_t v)
{
    p[0] = (unsigned char)(v >> 8), p[1] = (unsigned char)v;
}
static inline uint16_t og_be16_get(const unsigned char *p)
{
    return (uint16_t)(p[0] << 8 | p[1]);
}
static inline void og_be32_put(unsigned char *p, uint32_t v)
{
    p[0] = (unsigned char)(v >> 24), p[1] = (unsigned char)(v >> 16), p[2] = (unsigned char)(v >> 8),
    p[3] = (unsigned char)v;
}
static inline void og_be64_put(unsigned char *p, uint64_t v)
{
    og_be32_put(p, (uint32_t)(v >> 32));
    og_be32_put(p + 4, (uint32_t)v);
}
static inline uint32_t og_be32_get(const unsigned char *p)
{
    return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 | (uint32_t)p[2] << 8 | p[3];
}
static inline uint64_t og_be64_get(const unsigned char *p)
{
    return (uint64_t)og_be32_get(p) << 32 | og_be32_get(p + 4);
}

/* The value of one hex digit, or -1. */
int og_hexval(int c);
/* Lowercase hex of `len` bytes into `out` (2*len+1 bytes, NUL-terminated). */
void og_hex(const void *bytes, size_t len, char *out);
/* Parses exactly 2*len hex digits into `out`. 0 or OG_EINVAL. */
int og_unhex(const char *hex, size_t hexlen, void *out, size_t len);

/* Percent-decodes src into dst (capacity cap). With plus_is_space, '+' becomes ' '
 * (form/query encoding). Returns the decoded length, or OG_EINVAL on a bad escape
 * or OG_ETOOBIG when dst is too small. dst may equal src. */
long og_urldecode(const char *src, size_t len, char *dst, size_t cap, int plus_is_space);
/* Percent-encodes everything but RFC 3986 unreserved characters (and '/' when
 * keep_slash). Returns the encoded length or OG_ETOOBIG. Output NUL-terminated. */
long og_urlencode(const char *src, size_t len, char *dst, size_t cap, int keep_slash);

/* 1 when the len bytes at s are well-formed UTF-8 (RFC 3629: no overlong forms, no surrogates,
 * nothing above U+10FFFF) and, unless allow_nul, hold no NUL; else 0. The test Swift applies to
 * names (without NUL) and listing parameters (NUL allowed). */
int og_utf8_valid(const char *s, size_t len, int allow_nul);

/* Finds query parameter `name` in a raw query string (no leading '?'). Sets *raw to
 * its still-encoded value (empty for "name" without '='). 1 if present, 0 if not. */
int og_query_get(og_str_t query, const char *name, og_str_t *raw);

/* Base64 of len bytes into out (cap bytes incl. NUL): standard alphabet with padding, or with
 * url set the URL-safe alphabet without padding. Returns the length or OG_ETOOBIG. */
long og_b64_encode(const void *in, size_t len, char *out, size_t cap, int url);
/* Decodes base64 in either alphabet, padding optional but never misplaced. Returns the decoded
 * length, OG_EINVAL for bad input, OG_ETOOBIG when out (cap bytes) is too small. */
long og_b64_decode(og_str_t in, void *out, size_t cap);

#endif
