/*
 * s3_meta.c: user metadata values outside US-ASCII, as S3 handles them (RFC 2047). HTTP header
 * values are ASCII, so clients send such values as encoded-words ("=?UTF-8?B?w6l0w6k=?=" or
 * "=?UTF-8?Q?=C3=A9t=C3=A9?="); S3 decodes them before storing and encodes values that are not
 * ASCII as "=?UTF-8?B?...?=" when returning them. Stored decoded, a value reads the same through
 * Swift (X-Object-Meta-*).
 */
#include <string.h>
#include <strings.h>

#include <openssl/evp.h>

#include "s3_int.h"

/* Decodes the text of one encoded-word (B: base64, Q: quoted-printable with '_' for space) into
 * out. Its length or -1. */
static long word_decode(char enc, const char *t, size_t n, char *out)
{
    if (enc == 'B' || enc == 'b') {
        if (n % 4 != 0)
            return -1;
        int k = EVP_DecodeBlock((unsigned char *)out, (const unsigned char *)t, (int)n);
        if (k < 0)
            return -1;
        for (size_t i = n; i > 0 && t[i - 1] == '='; i--)
            k--; /* EVP_DecodeBlock decodes the padding as zero bytes */
        return k;
    }
    size_t k = 0;
    for (size_t i = 0; i < n; i++) {
        if (t[i] == '_') {
            out[k++] = ' ';
        } else if (t[i] == '=') {
            if (i + 2 >= n)
                return -1;
            if (og_unhex(t + i + 1, 2, out + k, 1) != 0)
                return -1;
            k++, i += 2;
        } else {
            out[k++] = t[i];
        }
    }
    return (long)k;
}

/* 1 when s (n bytes) is UTF-8 without control characters. */
static int printable_utf8(const char *s, size_t n)
{
    for (size_t i = 0; i < n; i++)
        if ((unsigned char)s[i] < 0x20 || s[i] == 0x7f)
            return 0;
    return og_utf8_valid(s, n, 0);
}

long s3_meta_decode(og_str_t v, char *out)
{
    const char *p = v.base, *end = v.base + v.len;
    size_t k = 0;
    int words = 0;
    while (p < end) {
        /* whitespace between two encoded-words is dropped (RFC 2047, 6.2) */
        const char *s = p;
        while (s < end && (*s == ' ' || *s == '\t'))
            s++;
        if (end - s < 10 || s[0] != '=' || s[1] != '?' || strncasecmp(s + 2, "UTF-8?", 6) != 0)
            return -1;
        char enc = s[8];
        if (s[9] != '?')
            return -1;
        const char *t = s + 10, *close = t;
        while (close + 1 < end && !(close[0] == '?' && close[1] == '='))
            close++;
        if (close + 1 >= end || (enc != 'B' && enc != 'b' && enc != 'Q' && enc != 'q'))
            return -1;
        long n = word_decode(enc, t, (size_t)(close - t), out + k);
        if (n < 0)
            return -1;
        k += (size_t)n, words++;
        p = close + 2;
    }
    return words > 0 && printable_utf8(out, k) ? (long)k : -1;
}

size_t s3_meta_encoded_len(og_str_t v)
{
    for (size_t i = 0; i < v.len; i++)
        if ((unsigned char)v.base[i] >= 0x80)
            return 12 + 4 * ((v.len + 2) / 3);
    return 0;
}

size_t s3_meta_encode(og_str_t v, char *out)
{
    memcpy(out, "=?UTF-8?B?", 10);
    int n = EVP_EncodeBlock((unsigned char *)out + 10, (const unsigned char *)v.base, (int)v.len);
    memcpy(out + 10 + n, "?=", 2);
    return 12 + (size_t)n;
}
