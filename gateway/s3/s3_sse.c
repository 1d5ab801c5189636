/*
 * s3_sse.c: server-side encryption requests (SSE-C and SSE-S3), docs/architecture.md
 * "Encryption" and docs/s3-compat.md.
 *
 * SSE-C: x-amz-server-side-encryption-customer-algorithm (AES256), -key (base64 of 32 bytes) and
 * -key-MD5 (base64 of its MD5), checked in RGW's order and with its messages. The customer key
 * must come over TLS, as in AWS and in RGW by default (rgw_crypt_require_ssl), unless the gateway
 * runs with --sse-c-plain-http (a TLS proxy in front). The key is never stored: the record keeps
 * a salt and a salted HMAC that tells the right key from a wrong one (core_sse_c_*).
 * SSE-S3 (x-amz-server-side-encryption: AES256): a random data key per object, sealed under the
 * cluster's `sse` key (iam_sse_seal) in the record. aws:kms is refused as RGW refuses it when no
 * KMS key can be had.
 * Bucket default encryption (Get/Put/DeleteBucketEncryption): AES256 only, kept in the bucket
 * record (SSE_DEFAULT_META); s3_sse_new turns a write without SSE headers in such a bucket into
 * SSE-S3 (PutObject, CopyObject, CreateMultipartUpload), as S3 does.
 */
#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>

#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/rand.h>

#include <libxml/tree.h>

#include "s3_int.h"
#include "s3_xml.h"

#define SSE_C_PREFIX "x-amz-server-side-encryption-customer-"
#define SSE_C_COPY_PREFIX "x-amz-copy-source-server-side-encryption-customer-"
/* What an SSE-S3 data key is sealed with: it only ever opens as one. */
#define SSE_S3_AAD "onggi sse-s3 data key"
/* Stored bucket metadata naming its default encryption ("AES256"); no client header has the name. */
#define SSE_DEFAULT_META "x-onggi-sse-default"

/* r's header prefix + suffix ({NULL, 0} when absent). */
static og_str_t sse_header(s3_req_t *r, const char *prefix, const char *suffix)
{
    char name[96];
    snprintf(name, sizeof(name), "%s%s", prefix, suffix);
    return http_req_header(r->http, name);
}

/* Checks the three SSE-C headers under prefix, which r carries at least one of, into s. 0, or
 * answered (-1). */
static int sse_c_parse(s3_req_t *r, const char *prefix, s3_sse_t *s)
{
    og_str_t alg = sse_header(r, prefix, "algorithm"), key = sse_header(r, prefix, "key");
    og_str_t md5 = sse_header(r, prefix, "key-MD5");
    uint8_t digest[16], sent[18];
    const char *why = NULL;
    if (!r->info->tls && !r->gw->sse_c_plain_http) {
        s3_error(r, 400, "InvalidRequest",
                 "Requests specifying Server Side Encryption with Customer provided keys must be made over a "
                 "secure connection.", NULL);
        return -1;
    }
    if (alg.base == NULL) {
        why = "Requests specifying Server Side Encryption with Customer provided keys must provide a valid "
              "encryption algorithm.";
    } else if (!og_str_eq(alg, "AES256")) {
        s3_error(r, 400, "InvalidEncryptionAlgorithmError",
                 "The requested encryption algorithm is not valid, must be AES256.", NULL);
        return -1;
    } else if (key.base == NULL || key.len > 64 || og_b64_decode(key, s->customer, sizeof(s->customer)) != 32) {
        why = "Requests specifying Server Side Encryption with Customer provided keys must provide an appropriate "
              "secret key.";
    } else if (md5.base == NULL || md5.len >= sizeof(s->key_md5)) {
        why = "Requests specifying Server Side Encryption with Customer provided keys must provide an appropriate "
              "secret key md5.";
    } else if (og_b64_decode(md5, sent, sizeof(sent)) != 16 || !EVP_Digest(s->customer, 32, digest, NULL, EVP_md5(), NULL) ||
               CRYPTO_memcmp(digest, sent, 16) != 0) {
        why = "The calculated MD5 hash of the key did not match the hash that was provided.";
    }
    if (why != NULL) {
        s3_error(r, 400, "InvalidArgument", why, NULL);
        return -1;
    }
    memcpy(s->key_md5, md5.base, md5.len);
    s->key_md5[md5.len] = '\0';
    s->mode = CORE_META_SSE_C;
    return 0;
}

/* x-amz-server-side-encryption: v. 0 (AES256: SSE-S3), or answered (-1). */
static int sse_s3_parse(s3_req_t *r, og_str_t v, s3_sse_t *s)
{
    og_str_t kms_id = http_req_header(r->http, "x-amz-server-side-encryption-aws-kms-key-id");
    char msg[160];
    if (og_str_eq(v, "AES256")) {
        if (kms_id.base != NULL) {
            s3_error(r, 400, "InvalidArgument",
                     "Server Side Encryption with AWS KMS managed key requires HTTP header "
                     "x-amz-server-side-encryption : aws:kms", NULL);
            return -1;
        }
        if (!iam_sse_available(r->gw->iam)) {
            s3_error(r, 501, "NotImplemented",
                     "Server Side Encryption with S3 managed keys needs an sse key in the cluster key file.", NULL);
            return -1;
        }
        s->mode = CORE_META_SSE_S3;
        return 0;
    }
    if (!og_str_eq(v, "aws:kms") && !og_str_eq(v, "aws:kms:dsse")) {
        s3_error(r, 400, "InvalidArgument",
                 "Server Side Encryption with KMS managed key requires HTTP header x-amz-server-side-encryption : "
                 "aws:kms or AES256", NULL);
    } else if (kms_id.base == NULL) {
        s3_error(r, 400, "InvalidArgument",
                 "Server Side Encryption with KMS managed key requires HTTP header "
                 "x-amz-server-side-encryption-aws-kms-key-id", NULL);
    } else {
        /* no KMS: RGW's answer when it cannot fetch the named key */
        snprintf(msg, sizeof(msg), "Failed to retrieve the actual key, kms-keyid: %.*s",
                 (int)(kms_id.len > 100 ? 100 : kms_id.len), kms_id.base);
        s3_error(r, 403, "InvalidAccessKeyId", msg, NULL);
    }
    return -1;
}

/* Does r carry a header named prefix + anything? */
static int has_prefixed(const s3_req_t *r, const char *prefix)
{
    size_t pl = strlen(prefix);
    for (size_t i = 0; i < r->info->num_headers; i++) {
        og_str_t n = r->info->headers[i].name;
        if (n.len > pl && strncasecmp(n.base, prefix, pl) == 0)
            return 1;
    }
    return 0;
}

int s3_sse_parse(s3_req_t *r, int copy_source, s3_sse_t *s)
{
    memset(s, 0, sizeof(*s));
    if (copy_source)
        return has_prefixed(r, SSE_C_COPY_PREFIX) ? sse_c_parse(r, SSE_C_COPY_PREFIX, s) : 0;
    og_str_t v = http_req_header(r->http, "x-amz-server-side-encryption");
    if (has_prefixed(r, SSE_C_PREFIX)) {
        if (v.base != NULL) {
            s3_error(r, 400, "InvalidArgument",
                     "Server Side Encryption with Customer provided key is incompatible with the encryption method "
                     "specified", NULL);
            return -1;
        }
        return sse_c_parse(r, SSE_C_PREFIX, s);
    }
    /* a KMS key id alone is refused too (no header is ignored) */
    if (v.base == NULL && http_req_header(r->http, "x-amz-server-side-encryption-aws-kms-key-id").base == NULL)
        return 0;
    return sse_s3_parse(r, v, s);
}

/* Does r's bucket have default encryption? 1, 0, or the bucket lookup's error. */
static int bucket_default(s3_req_t *r)
{
    core_bucket_t b;
    int rc = s3_bucket_load(r, &b);
    if (rc != 0)
        return rc;
    rc = og_header_find(b.meta, b.num_meta, SSE_DEFAULT_META).base != NULL;
    core_bucket_free(&b);
    return rc;
}

int s3_sse_default(s3_req_t *r, s3_sse_t *s)
{
    int rc;
    if (s->mode != 0 || (rc = bucket_default(r)) == 0)
        return 0;
    if (rc < 0)
        return rc;
    s->mode = CORE_META_SSE_S3;
    return 0;
}

int s3_sse_new(s3_req_t *r, s3_sse_t *s)
{
    int rc;
    if ((rc = s3_sse_default(r, s)) != 0)
        return rc;
    if (s->mode == CORE_META_SSE_C) {
        s->blob_len = CORE_SSE_C_LEN;
        return core_sse_c_new(s->customer, s->blob, s->key);
    }
    if (s->mode != CORE_META_SSE_S3)
        return 0;
    if (RAND_bytes(s->key, CORE_SSE_KEY) != 1)
        return OG_EINVAL;
    long n = iam_sse_seal(r->gw->iam, OG_STR_LIT(SSE_S3_AAD), s->key, s->blob, sizeof(s->blob));
    if (n < 0)
        return (int)n;
    s->blob_len = (size_t)n;
    return 0;
}

int s3_sse_open(s3_req_t *r, const core_meta_t *m, s3_sse_t *s)
{
    int stored = m->flags & CORE_META_SSE, rc;
    if (stored == CORE_META_SSE_C && s->mode != CORE_META_SSE_C) {
        s3_error(r, 400, "InvalidRequest",
                 "The object was stored using a form of Server Side Encryption. The correct parameters must be "
                 "provided to retrieve the object.", NULL);
        return -1;
    }
    if (stored != CORE_META_SSE_C && s->mode == CORE_META_SSE_C) {
        s3_error(r, 400, "InvalidRequest", "The encryption parameters are not applicable to this object.", NULL);
        return -1;
    }
    if (stored == CORE_META_SSE_C)
        rc = core_sse_c_open(s->customer, m->sse, s->key);
    else if (stored == CORE_META_SSE_S3)
        rc = iam_sse_unseal(r->gw->iam, OG_STR_LIT(SSE_S3_AAD), m->sse, s->key) == 0 ? 0 : OG_ECORRUPT;
    else
        rc = 0;
    if (rc == -EACCES) {
        s3_error(r, 403, "AccessDenied", "Access Denied", NULL);
        return -1;
    }
    if (rc != 0) {
        s3_error_rc(r, rc);
        return -1;
    }
    s->mode = (uint8_t)stored;
    if (m->sse.len > sizeof(s->blob)) {
        s3_error_rc(r, OG_ECORRUPT);
        return -1;
    }
    if (m->sse.len > 0)
        memcpy(s->blob, m->sse.base, m->sse.len);
    s->blob_len = m->sse.len;
    return 0;
}

void s3_sse_apply(const s3_sse_t *s, core_meta_t *m)
{
    if (s->mode == 0)
        return;
    m->flags |= s->mode;
    m->sse = (og_str_t){(const char *)s->blob, s->blob_len};
}

size_t s3_sse_headers(const s3_sse_t *s, og_header_t out[2])
{
    if (s->mode == CORE_META_SSE_S3) {
        out[0] = (og_header_t){OG_STR_LIT("x-amz-server-side-encryption"), OG_STR_LIT("AES256")};
        return 1;
    }
    if (s->mode != CORE_META_SSE_C)
        return 0;
    out[0] = (og_header_t){OG_STR_LIT(SSE_C_PREFIX "algorithm"), OG_STR_LIT("AES256")};
    out[1] = (og_header_t){OG_STR_LIT(SSE_C_PREFIX "key-MD5"), og_str(s->key_md5)};
    return 2;
}

void s3_sse_wipe(s3_sse_t *s) { OPENSSL_cleanse(s, sizeof(*s)); }

/* ---------------------------------------------------------------- bucket default encryption */

/* Checks a PutBucketEncryption body: 0 (one rule, AES256, no bucket key), or -1 after answering. */
static int config_check(s3_req_t *r)
{
    xmlDocPtr doc = s3_read_doc(r, "ServerSideEncryptionConfiguration");
    xmlChar *alg = NULL, *bucket_key = NULL;
    if (doc == NULL)
        return -1;
    xmlNodePtr rule = s3_xml_child(xmlDocGetRootElement(doc), "Rule");
    xmlNodePtr dflt = s3_xml_child(rule, "ApplyServerSideEncryptionByDefault");
    int rc = -1;
    if (dflt == NULL || !s3_xml_child_text(dflt, "SSEAlgorithm", &alg))
        s3_error_on(r, S3_EMALFORMED, S3_ON_BODY);
    else if (xmlStrcmp(alg, BAD_CAST "aws:kms") == 0 || xmlStrcmp(alg, BAD_CAST "aws:kms:dsse") == 0)
        s3_error(r, 400, "InvalidArgument", "Server Side Encryption with KMS managed key is not available: no KMS.",
                 NULL); /* as an aws:kms write without a key id, and RGW without a KMS */
    else if (xmlStrcmp(alg, BAD_CAST "AES256") != 0)
        s3_error_on(r, S3_EMALFORMED, S3_ON_BODY);
    else if (s3_xml_child_text(rule, "BucketKeyEnabled", &bucket_key) && xmlStrcmp(bucket_key, BAD_CAST "false"))
        s3_error(r, 501, "NotImplemented", "S3 bucket keys are not implemented.", NULL);
    else if (!iam_sse_available(r->gw->iam))
        s3_error(r, 501, "NotImplemented",
                 "Server Side Encryption with S3 managed keys needs an sse key in the cluster key file.", NULL);
    else
        rc = 0;
    xmlFree(alg);
    xmlFree(bucket_key);
    xmlFreeDoc(doc);
    return rc;
}

void s3_bucket_encryption(s3_req_t *r, int put, int del)
{
    static const char conf[] = "<ServerSideEncryptionConfiguration xmlns=\"" S3_XMLNS "\"><Rule>"
                               "<ApplyServerSideEncryptionByDefault><SSEAlgorithm>AES256</SSEAlgorithm>"
                               "</ApplyServerSideEncryptionByDefault><BucketKeyEnabled>false</BucketKeyEnabled>"
                               "</Rule></ServerSideEncryptionConfiguration>";
    core_bucket_t b;
    int rc;
    if (put && config_check(r) != 0)
        return;
    if ((rc = s3_bucket_load(r, &b)) != 0) {
        s3_error_on(r, rc, S3_ON_BUCKET);
        return;
    }
    if (put || del) {
        if ((rc = s3_bucket_meta_set(r, &b, SSE_DEFAULT_META, put ? OG_STR_LIT("AES256") : (og_str_t){NULL, 0})) != 0)
            s3_error_rc(r, rc);
        else
            s3_send(r, put ? 200 : 204, NULL, 0, NULL, 0);
    } else if (og_header_find(b.meta, b.num_meta, SSE_DEFAULT_META).base == NULL) {
        s3_error(r, 404, "ServerSideEncryptionConfigurationNotFoundError",
                 "The server side encryption configuration was not found", NULL);
    } else {
        s3_send_xml(r, 200, NULL, 0, conf, sizeof(conf) - 1);
    }
    core_bucket_free(&b);
}
