#include "og.h"

#include <arpa/inet.h>
#include <errno.h>
#include <string.h>
#include <strings.h>
#include <sys/prctl.h>
#include <sys/random.h>
#include <time.h>
#include <unistd.h>

const char *og_strerror(int rc)
{
    switch (rc) {
    case OG_OK: return "ok";
    case OG_ENOTFOUND: return "not found";
    case OG_ECORRUPT: return "checksum mismatch (corrupt data)";
    case OG_EQUORUM: return "not enough replicas answered";
    case OG_EPROTO: return "malformed message";
    case OG_ETOOBIG: return "too large";
    case OG_EEXIST: return "already exists";
    case OG_EINVAL: return "invalid argument";
    case OG_ETIMEOUT: return "timed out";
    case OG_ECLOSED: return "connection closed";
    case OG_EBADDIGEST: return "digest mismatch";
    case OG_EBADNAME: return "name not UTF-8 or holding a NUL";
    /* The modules' codes share this one error space (og.h); their names live here so that any
     * layer can print any code without depending on the module that made it. Keep in step
     * with the enums in ring.h, auth.h, node_client.h/node_int.h and http/http.h. */
    case -10100: return "ring: bad ring file (magic, version or checksum)";
    case -10101: return "ring: no such device";
    case -10102: return "ring: fewer devices with weight than replicas";
    case -10103: return "ring: device already in the ring";
    case -10200: return "auth: anonymous request";
    case -10201: return "auth: unknown access key";
    case -10202: return "auth: signature does not match";
    case -10203: return "auth: request time too skewed";
    case -10204: return "auth: request has expired";
    case -10205: return "auth: malformed authorization";
    case -10206: return "auth: bad authorization query parameters";
    case -10207: return "auth: missing date";
    case -10208: return "auth: bad x-amz-content-sha256";
    case -10209: return "auth: unsupported signature scheme";
    case -10210: return "auth: SigV4 scope of another region";
    case -10300: return "node: unreachable";
    case -10301: return "node: unexpected status";
    case -10310: return "node: device poisoned after a write error";
    case -10311: return "node: record condition does not hold";
    case -10320: return "node: request not authenticated";
    case -10321: return "node: request expired or replayed";
    case -10400: return "gateway: malformed request body framing";
    case -10401: return "gateway: client aborted";
    case -10408: return "gateway: TLS certificate or key unusable";
    case -10420: return "gateway: quota exceeded";
    case -10421: return "gateway: precondition failed";
    case -10422: return "gateway: concurrent conditional write";
    case -10423: return "gateway: version under retention or legal hold";
    case -10430: return "gateway: bucket of another account";
    case -10431: return "gateway: bad body checksum or streaming settings";
    case -10432: return "gateway: body differs from the signed payload hash";
    case -10433: return "gateway: malformed request document";
    case -10434: return "gateway: parts out of order";
    case -10435: return "gateway: no such part";
    case -10436: return "gateway: part changed while completing";
    case -10437: return "gateway: part below the minimum size";
    case -10438: return "gateway: tag set refused";
    case -10439: return "gateway: copy source names a delete marker";
    case -10440: return "gateway: large-object manifest refused";
    case -10444: return "gateway: both a canned ACL and grant headers";
    case -10445: return "gateway: CORS rule refused";
    case -10530: return "gateway: versioning of a bucket with an id of its own";
    case -10450: return "iam: grantee email address not resolvable";
    case -10460: return "gateway: request refused (answer recorded)";
    case -10510: return "iam: public ACL blocked by the bucket's PublicAccessBlock";
    case -10511: return "iam: ACLs disabled by BucketOwnerEnforced";
    case -10512: return "iam: public policy blocked by the bucket's PublicAccessBlock";
    case -10540: return "gateway: website redirect location refused";
    }
    if (rc < 0 && rc > -4096)
        return strerror(-rc);
    return "unknown error";
}

int og_str_ieq(og_str_t a, const char *lit)
{
    size_t n = strlen(lit);
    return a.len == n && strncasecmp(a.base, lit, n) == 0;
}

int og_str_cmp(og_str_t a, og_str_t b)
{
    size_t m = a.len < b.len ? a.len : b.len;
    int c = m ? memcmp(a.base, b.base, m) : 0;
    return c ? c : (a.len > b.len) - (a.len < b.len);
}

og_str_t og_header_find(const og_header_t *hdrs, size_t n, const char *name)
{
    for (size_t i = 0; i < n; i++)
        if (og_str_ieq(hdrs[i].name, name))
            return hdrs[i].value;
    return (og_str_t){NULL, 0};
}

uint64_t og_time_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

uint64_t og_mono_ms(void) { return og_mono_ns() / 1000000u; }

uint64_t og_mono_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

uint64_t og_rng_seed(void)
{
    uint64_t s;
    if (getrandom(&s, sizeof(s), GRND_NONBLOCK) != (ssize_t)sizeof(s))
        s = og_time_ns() ^ ((uint64_t)getpid() << 32);
    return s != 0 ? s : 0x9e3779b97f4a7c15ull; /* xorshift stays at 0 once there */
}

/* Older headers (Debian 12's are Linux 6.1) lack the names; the kernel's ABI has the numbers. */
#ifndef PR_FUTEX_HASH
#define PR_FUTEX_HASH 78
#define PR_FUTEX_HASH_SET_SLOTS 1
#endif

int og_futex_hash_reserve(size_t threads)
{
    unsigned long slots = 16;
    while (slots < threads && slots < OG_FUTEX_SLOTS_MAX)
        slots <<= 1;
    return prctl(PR_FUTEX_HASH, PR_FUTEX_HASH_SET_SLOTS, slots, 0UL, 0UL) == 0 ? 0 : -errno;
}

uint64_t og_rng_next(uint64_t *state)
{
    uint64_t x = *state;
    x ^= x >> 12;
    x ^= x << 25;
    x ^= x >> 27;
    *state = x;
    return x * 0x2545f4914f6cdd1dull;
}

void og_hex(const void *bytes, size_t len, char *out)
{
    static const char digits[] = "0123456789abcdef";
    const unsigned char *p = bytes;
    for (size_t i = 0; i < len; i++) {
        out[2 * i] = digits[p[i] >> 4];
        out[2 * i + 1] = digits[p[i] & 15];
    }
    out[2 * len] = '\0';
}

int og_hexval(int c)
{
    if (c >= '0' && c <= '9')
        return c - '0';
    if (c >= 'a' && c <= 'f')
        return c - 'a' + 10;
    if (c >= 'A' && c <= 'F')
        return c - 'A' + 10;
    return -1;
}

int og_unhex(const char *hex, size_t hexlen, void *out, size_t len)
{
    unsigned char *o = out;
    if (hexlen != 2 * len)
        return OG_EINVAL;
    for (size_t i = 0; i < len; i++) {
        int hi = og_hexval((unsigned char)hex[2 * i]), lo = og_hexval((unsigned char)hex[2 * i + 1]);
        if (hi < 0 || lo < 0)
            return OG_EINVAL;
        o[i] = (unsigned char)(hi << 4 | lo);
    }
    return 0;
}

long og_urldecode(const char *src, size_t len, char *dst, size_t cap, int plus_is_space)
{
    size_t o = 0;
    for (size_t i = 0; i < len; i++) {
        int c = (unsigned char)src[i];
        if (c == '%') {
            if (i + 2 >= len)
                return OG_EINVAL;
            int hi = og_hexval((unsigned char)src[i + 1]), lo = og_hexval((unsigned char)src[i + 2]);
            if (hi < 0 || lo < 0)
                return OG_EINVAL;
            c = hi << 4 | lo;
            i += 2;
        } else if (c == '+' && plus_is_space) {
            c = ' ';
        }
        if (o >= cap)
            return OG_ETOOBIG;
        dst[o++] = (char)c;
    }
    return (long)o;
}

int og_utf8_valid(const char *s, size_t len, int allow_nul)
{
    const unsigned char *p = (const unsigned char *)s, *end = p + len;
    while (p < end) {
        unsigned c = *p++;
        size_t more;
        unsigned cp, min;
        if (c == 0 && !allow_nul)
            return 0;
        if (c < 0x80)
            continue;
        if (c >= 0xc2 && c <= 0xdf)
            more = 1, cp = c & 0x1f, min = 0x80;
        else if (c >= 0xe0 && c <= 0xef)
            more = 2, cp = c & 0x0f, min = 0x800;
        else if (c >= 0xf0 && c <= 0xf4)
            more = 3, cp = c & 0x07, min = 0x10000;
        else
            return 0; /* a continuation byte, an overlong lead (0xc0, 0xc1) or 0xf5.. */
        if ((size_t)(end - p) < more)
            return 0;
        for (size_t i = 0; i < more; i++, p++) {
            if ((*p & 0xc0) != 0x80)
                return 0;
            cp = cp << 6 | (*p & 0x3f);
        }
        if (cp < min || cp > 0x10ffff || (cp >= 0xd800 && cp <= 0xdfff))
            return 0;
    }
    return 1;
}

long og_urlencode(const char *src, size_t len, char *dst, size_t cap, int keep_slash)
{
    static const char digits[] = "0123456789ABCDEF";
    size_t o = 0;
    for (size_t i = 0; i < len; i++) {
        unsigned char c = (unsigned char)src[i];
        int plain = (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '-' ||
                    c == '_' || c == '.' || c == '~' || (c == '/' && keep_slash);
        if (o + (plain ? 1 : 3) >= cap)
            return OG_ETOOBIG;
        if (plain) {
            dst[o++] = (char)c;
        } else {
            dst[o++] = '%';
            dst[o++] = digits[c >> 4];
            dst[o++] = digits[c & 15];
        }
    }
    dst[o] = '\0';
    return (long)o;
}

int og_query_get(og_str_t query, const char *name, og_str_t *raw)
{
    size_t nlen = strlen(name);
    const char *p = query.base, *end = query.base + query.len;
    while (p && p < end) {
        const char *amp = memchr(p, '&', (size_t)(end - p));
        const char *stop = amp ? amp : end;
        const char *eq = memchr(p, '=', (size_t)(stop - p));
        const char *kend = eq ? eq : stop;
        if ((size_t)(kend - p) == nlen && memcmp(p, name, nlen) == 0) {
            if (raw)
                *raw = eq ? (og_str_t){eq + 1, (size_t)(stop - eq - 1)} : (og_str_t){stop, 0};
            return 1;
        }
        p = amp ? amp + 1 : NULL;
    }
    return 0;
}

long og_b64_encode(const void *in, size_t len, char *out, size_t cap, int url)
{
    const char *abc = url ? "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_"
                          : "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    const unsigned char *p = in;
    size_t need = url ? (len * 4 + 2) / 3 : (len + 2) / 3 * 4;
    size_t o = 0;
    if (need + 1 > cap)
        return OG_ETOOBIG;
    for (size_t i = 0; i < len; i += 3) {
        uint32_t v = (uint32_t)p[i] << 16;
        size_t rest = len - i;
        if (rest > 1)
            v |= (uint32_t)p[i + 1] << 8;
        if (rest > 2)
            v |= p[i + 2];
        out[o++] = abc[v >> 18 & 63];
        out[o++] = abc[v >> 12 & 63];
        if (rest > 1)
            out[o++] = abc[v >> 6 & 63];
        else if (!url)
            out[o++] = '=';
        if (rest > 2)
            out[o++] = abc[v & 63];
        else if (!url)
            out[o++] = '=';
    }
    out[o] = '\0';
    return (long)o;
}

static int b64_val(int c)
{
    if (c >= 'A' && c <= 'Z')
        return c - 'A';
    if (c >= 'a' && c <= 'z')
        return c - 'a' + 26;
    if (c >= '0' && c <= '9')
        return c - '0' + 52;
    if (c == '+' || c == '-')
        return 62;
    if (c == '/' || c == '_')
        return 63;
    return -1;
}

long og_b64_decode(og_str_t in, void *out, size_t cap)
{
    unsigned char *o = out;
    size_t n = in.len, olen = 0;
    uint32_t acc = 0;
    int bits = 0;

    /* Padding, when present, completes the last quantum exactly. */
    if (n && in.base[n - 1] == '=') {
        if (n % 4 != 0)
            return OG_EINVAL;
        n--;
        if (in.base[n - 1] == '=')
            n--;
    }
    if (n % 4 == 1)
        return OG_EINVAL;
    for (size_t i = 0; i < n; i++) {
        int v = b64_val((unsigned char)in.base[i]);
        if (v < 0)
            return OG_EINVAL;
        acc = acc << 6 | (uint32_t)v;
        bits += 6;
        if (bits >= 8) {
            bits -= 8;
            if (olen >= cap)
                return OG_ETOOBIG;
            o[olen++] = (unsigned char)(acc >> bits);
        }
    }
    /* The leftover bits of a final partial quantum must be zero (one canonical encoding). */
    if (bits && (acc & ((1u << bits) - 1)) != 0)
        return OG_EINVAL;
    return (long)olen;
}

int og_sockaddr(const char *host, uint16_t port, struct sockaddr_storage *sa, socklen_t *salen)
{
    struct sockaddr_in *s4 = (struct sockaddr_in *)sa;
    struct sockaddr_in6 *s6 = (struct sockaddr_in6 *)sa;
    memset(sa, 0, sizeof(*sa));
    if (inet_pton(AF_INET, host, &s4->sin_addr) == 1) {
        s4->sin_family = AF_INET;
        s4->sin_port = htons(port);
        *salen = sizeof(*s4);
        return 0;
    }
    if (inet_pton(AF_INET6, host, &s6->sin6_addr) == 1) {
        s6->sin6_family = AF_INET6;
        s6->sin6_port = htons(port);
        *salen = sizeof(*s6);
        return 0;
    }
    return OG_EINVAL;
}

int og_addr_parse(const char *s, og_addr_t *out)
{
    const char *colon = strrchr(s, ':'), *h = s;
    if (colon == NULL)
        return OG_EINVAL;
    size_t hlen = (size_t)(colon - s), plen = strlen(colon + 1);
    if (hlen >= 2 && s[0] == '[' && s[hlen - 1] == ']')
        h = s + 1, hlen -= 2;
    if (hlen == 0 || hlen >= sizeof(out->host) || plen == 0 || plen > 5)
        return OG_EINVAL;
    uint32_t port = 0;
    for (size_t i = 0; i < plen; i++) {
        if (colon[1 + i] < '0' || colon[1 + i] > '9')
            return OG_EINVAL;
        port = port * 10 + (uint32_t)(colon[1 + i] - '0');
    }
    if (port > 65535)
        return OG_EINVAL;
    memcpy(out->host, h, hlen);
    out->host[hlen] = '\0';
    out->port = (uint16_t)port;
    return og_sockaddr(out->host, out->port, &out->sa, &out->salen);
}

og_str_t og_str_trim(og_str_t s)
{
    while (s.len && (s.base[0] == ' ' || s.base[0] == '\t'))
        s.base++, s.len--;
    while (s.len && (s.base[s.len - 1] == ' ' || s.base[s.len - 1] == '\t'))
        s.len--;
    return s;
}

size_t og_u64_dec(uint64_t v, char *out)
{
    char rev[OG_U64_DEC_MAX];
    size_t n = 0;
    do {
        rev[n++] = (char)('0' + v % 10);
        v /= 10;
    } while (v != 0);
    for (size_t i = 0; i < n; i++)
        out[i] = rev[n - 1 - i];
    out[n] = '\0';
    return n;
}

int og_parse_dec(og_str_t s, size_t maxdig, uint64_t *out)
{
    uint64_t n = 0;
    if (s.len == 0 || s.len > maxdig)
        return OG_EINVAL;
    for (size_t i = 0; i < s.len; i++) {
        unsigned d = (unsigned)(s.base[i] - '0');
        if (d > 9 || n > (UINT64_MAX - d) / 10)
            return OG_EINVAL;
        n = n * 10 + d;
    }
    *out = n;
    return 0;
}
