/* libFuzzer target: every S3 request body read as XML (gateway/s3/): DeleteObjects
 * (s3_delete_parse), CompleteMultipartUpload (complete_parse in s3_multipart.c) and
 * CreateBucketConfiguration (parse_location in s3_bucket.c), all through the hardened reader
 * s3_xml_read. The two handlers' files are included to reach their static parsers (as the unit
 * tests do), so the parsers are fuzzed exactly as the handlers call them.
 *
 * Input: byte 0 picks the upload's checksum algorithm for CompleteMultipartUpload (-1 or an
 * S3_CK_* value); the rest is the body, given to all three parsers. Properties checked: what a
 * parser accepts is within its documented limits (1..S3_LIST_MAX objects with non-empty keys,
 * 1..MP_MAX_PARTS parts numbered 1..MP_MAX_PARTS, a location that fits). */
#include "fuzz.h"

#include "../../gateway/s3/s3_bucket.c"
#include "../../gateway/s3/s3_multipart.c"

static void check_delete(const char *xml, size_t len)
{
    s3_delete_t d;
    int rc = s3_delete_parse(xml, len, &d);
    FUZZ_CHECK(rc == 0 || rc == OG_EPROTO || rc == -ENOMEM);
    if (rc != 0)
        return;
    FUZZ_CHECK(d.n >= 1 && d.n <= S3_LIST_MAX);
    for (size_t i = 0; i < d.n; i++)
        FUZZ_CHECK(d.objects[i].key.len > 0 && d.objects[i].key.len < len);
    s3_delete_free(&d);
}

static void check_complete(const char *xml, size_t len, int alg)
{
    mp_req_part_t *parts;
    size_t n;
    int rc = complete_parse(xml, len, alg, &parts, &n);
    FUZZ_CHECK(rc == 0 || rc == OG_EPROTO || rc == S3_EPARTMISSING || rc == -ENOMEM);
    if (rc != 0)
        return;
    FUZZ_CHECK(n >= 1 && n <= MP_MAX_PARTS);
    for (size_t i = 0; i < n; i++)
        FUZZ_CHECK(parts[i].number >= 1 && parts[i].number <= MP_MAX_PARTS && (alg >= 0 || !parts[i].has_ck));
    free(parts);
}

static void check_location(const char *xml, size_t len)
{
    char loc[128];
    int rc = parse_location(xml, len, loc, sizeof(loc));
    FUZZ_CHECK(rc == 0 || rc == OG_EINVAL);
    if (rc == 0)
        FUZZ_CHECK(strlen(loc) < sizeof(loc));
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size < 1)
        return 0;
    int alg = (int)(data[0] % (S3_CK_COUNT + 1)) - 1;
    /* a copy of exactly the body, so an overread past it is caught */
    char *xml = fuzz_dup(data + 1, size - 1);
    check_delete(xml, size - 1);
    check_complete(xml, size - 1, alg);
    check_location(xml, size - 1);
    free(xml);
    return 0;
}
