"""The compatibility cases: data only. A case is {id, api ('swift' | 's3'), steps}; a step is
{id, method, path, [query], [headers], [data], [raw_body], [region], [auth], [abs], [headers_present],
[body: False]}.

- path: Swift: relative to the storage URL ('' is the account, '/{c}' a container) unless `abs`
  (then from '/', for account names); S3: from '/'. Already percent-encoded: %FF and %00 go out
  as written. {c}, {c2} are the case's container/bucket names (unique per run, made valid S3
  bucket names); {o1k} is a 1024-byte object name, {o1025} one of 1025 bytes, and so on (NAMES).
- data: a str body (UTF-8) or {"hex": ...}; raw_body: bytes sent as is after the headers (as
  latin-1 text), for malformed chunked bodies (give Transfer-Encoding yourself).
- region: sign the S3 request for this region instead of us-east-1; auth False: unsigned.
- headers_present: more header names whose presence is compared for this step.
- tempurl: the query is a TempURL signed at run time (compat.tempurl_query: key, signed method,
  expires "+N" / "past" / "iso+N", digest, form "b64", prefix, ip_range, extra query text);
  formpost: the body is a multipart form signed at run time (compat.formpost_body).

Adding a case is one entry here, then `make compat-record` against the anchors."""
import base64
import hashlib

LONG = {
    "o1k": "o" * 1024, "o1025": "o" * 1025,
}


def _swift_usable(tag):
    """Steps that show the account and a container still work after what came before."""
    return [
        {"id": f"{tag}-head-account", "method": "HEAD", "path": ""},
        {"id": f"{tag}-list-account", "method": "GET", "path": "", "query": "format=json&prefix={c}",
         "body": True},
        {"id": f"{tag}-put-ok-container", "method": "PUT", "path": "/{c2}"},
        {"id": f"{tag}-put-ok-object", "method": "PUT", "path": "/{c2}/ok", "data": "fine"},
        {"id": f"{tag}-get-ok-object", "method": "GET", "path": "/{c2}/ok"},
        {"id": f"{tag}-list-ok-container", "method": "GET", "path": "/{c2}", "query": "format=json"},
    ]


def _s3_usable(tag):
    return [
        {"id": f"{tag}-list-buckets", "method": "GET", "path": "/", "body": False},
        {"id": f"{tag}-create-ok", "method": "PUT", "path": "/{c2}"},
        {"id": f"{tag}-put-ok", "method": "PUT", "path": "/{c2}/ok", "data": "fine"},
        {"id": f"{tag}-get-ok", "method": "GET", "path": "/{c2}/ok"},
        {"id": f"{tag}-list-ok", "method": "GET", "path": "/{c2}", "query": "list-type=2"},
    ]


def _multi_chunk_body():
    """~140 KB of numbered text lines framed as chunks of 70,000, 1 and the rest bytes: more than
    a server takes per wake-up (64 KiB), one chunk ending inside a line. The GET's body shape
    counts the lines, so a lost or repeated piece shows."""
    text = "".join(f"line {i:06d}\n" for i in range(11000))
    cuts = [0, 70000, 70001, len(text)]
    parts = [f"{b - a:x}\r\n{text[a:b]}\r\n" for a, b in zip(cuts, cuts[1:])]
    return "".join(parts) + "0\r\n\r\n"


def _chunked(create_id):
    """A container/bucket, then valid chunked PUTs (one small, one of several chunks read back),
    chunk sizes `0x5` and 2^64-1, and HEADs."""
    te = {"Transfer-Encoding": "chunked"}
    return [
        {"id": create_id, "method": "PUT", "path": "/{c}"},
        {"id": "chunked-ok", "method": "PUT", "path": "/{c}/ok", "headers": te,
         "raw_body": "5\r\nhello\r\n0\r\n\r\n"},
        {"id": "chunked-multi", "method": "PUT", "path": "/{c}/multi", "headers": te,
         "raw_body": _multi_chunk_body()},
        {"id": "get-multi", "method": "GET", "path": "/{c}/multi"},
        {"id": "chunked-0x5", "method": "PUT", "path": "/{c}/hex", "headers": te,
         "raw_body": "0x5\r\nhello\r\n0\r\n\r\n"},
        {"id": "chunked-huge", "method": "PUT", "path": "/{c}/huge", "headers": te,
         "raw_body": "ffffffffffffffff\r\nhello\r\n0\r\n\r\n"},
        {"id": "head-hex", "method": "HEAD", "path": "/{c}/hex"},
        {"id": "head-huge", "method": "HEAD", "path": "/{c}/huge"},
    ]

def _expect_continue(create_id):
    """PUTs with Expect: 100-continue whose client does not wait for the 100: the body in the same
    send as the head, then in a send of its own right after it; both read back. The interim
    responses are compared too (compat.raw_request)."""
    ec = {"Expect": "100-continue"}
    return [
        {"id": create_id, "method": "PUT", "path": "/{c}"},
        {"id": "expect-body-along", "method": "PUT", "path": "/{c}/along", "headers": ec, "data": "0123456789"},
        {"id": "expect-body-after", "method": "PUT", "path": "/{c}/after",
         "headers": dict(ec, **{"Content-Length": "10"}), "raw_body": "0123456789"},
        {"id": "get-along", "method": "GET", "path": "/{c}/along"},
        {"id": "get-after", "method": "GET", "path": "/{c}/after"},
    ]


# Headers whose presence the TempURL and CORS cases compare.
TU_HEADERS = ["content-disposition", "expires", "x-object-meta-secret", "x-object-meta-public-tag"]
CORS_HEADERS = ["access-control-allow-origin", "access-control-allow-methods", "access-control-allow-headers",
                "access-control-max-age", "access-control-expose-headers", "vary"]


def _tu(step_id, method, path="/{c}/dir/o.txt", signed=None, key="ck", data=None, headers=None, **tempurl):
    """An anonymous TempURL step: `method` sent, `signed` (default: the same) signed with `key`;
    tempurl's other fields (expires, digest, form, prefix, ip_range, extra) as compat.tempurl_query."""
    st = {"id": step_id, "method": method, "path": path, "auth": False, "headers_present": TU_HEADERS,
          "tempurl": dict(tempurl, key=key, method=signed or method)}
    if data is not None:
        st["data"] = data
    if headers:
        st["headers"] = headers
    return st


def _sse_c(key="0123456789abcdef0123456789abcdef", md5=None, alg="AES256", prefix="x-amz-server-side-encryption-customer-"):
    """SSE-C headers for a 32-byte key (md5: the key-MD5 header as sent, default the right one)."""
    import base64
    import hashlib
    h = {prefix + "algorithm": alg, prefix + "key": base64.b64encode(key.encode()).decode()}
    h[prefix + "key-MD5"] = md5 or base64.b64encode(hashlib.md5(key.encode()).digest()).decode()
    return h


SSE_C_SEEN = ["x-amz-server-side-encryption-customer-algorithm", "x-amz-server-side-encryption-customer-key-MD5"]


def _sse_steps():
    """SSE-C and SSE-S3 (issue 12): accepted, served back with the key, the S3 errors for bad keys."""
    other = "fedcba9876543210fedcba9876543210"
    return [
        {"id": "create", "method": "PUT", "path": "/{c}"},
        {"id": "put-ssec", "method": "PUT", "path": "/{c}/c", "data": "secret", "headers": _sse_c(),
         "headers_present": SSE_C_SEEN},
        {"id": "get-ssec", "method": "GET", "path": "/{c}/c", "headers": _sse_c(), "headers_present": SSE_C_SEEN},
        {"id": "get-ssec-range", "method": "GET", "path": "/{c}/c", "headers": dict(_sse_c(), Range="bytes=1-3")},
        {"id": "head-ssec", "method": "HEAD", "path": "/{c}/c", "headers": _sse_c(), "headers_present": SSE_C_SEEN},
        {"id": "get-ssec-no-key", "method": "GET", "path": "/{c}/c"},
        {"id": "get-ssec-wrong-key", "method": "GET", "path": "/{c}/c", "headers": _sse_c(other)},
        {"id": "put-ssec-bad-algorithm", "method": "PUT", "path": "/{c}/bad", "data": "x", "headers": _sse_c(alg="AES128")},
        {"id": "put-ssec-short-key", "method": "PUT", "path": "/{c}/bad", "data": "x", "headers": _sse_c(key="short")},
        {"id": "put-ssec-md5-mismatch", "method": "PUT", "path": "/{c}/bad", "data": "x",
         "headers": _sse_c(md5="AAAAAAAAAAAAAAAAAAAAAA==")},
        {"id": "put-ssec-no-algorithm", "method": "PUT", "path": "/{c}/bad", "data": "x",
         "headers": {k: v for k, v in _sse_c().items() if not k.endswith("algorithm")}},
        {"id": "put-ssec-no-md5", "method": "PUT", "path": "/{c}/bad", "data": "x",
         "headers": {k: v for k, v in _sse_c().items() if not k.endswith("MD5")}},
        {"id": "put-sse-s3", "method": "PUT", "path": "/{c}/s", "data": "managed",
         "headers": {"x-amz-server-side-encryption": "AES256"}, "headers_present": ["x-amz-server-side-encryption"]},
        {"id": "get-sse-s3", "method": "GET", "path": "/{c}/s", "headers_present": ["x-amz-server-side-encryption"]},
        {"id": "put-sse-bad-value", "method": "PUT", "path": "/{c}/bad", "data": "x",
         "headers": {"x-amz-server-side-encryption": "AES128"}},
        {"id": "put-kms-no-key-id", "method": "PUT", "path": "/{c}/bad", "data": "x",
         "headers": {"x-amz-server-side-encryption": "aws:kms"}},
        {"id": "put-plain", "method": "PUT", "path": "/{c}/p", "data": "plain"},
        {"id": "get-plain-with-key", "method": "GET", "path": "/{c}/p", "headers": _sse_c()},
        {"id": "put-ssec-and-sse-s3", "method": "PUT", "path": "/{c}/both", "data": "x",
         "headers": dict(_sse_c(), **{"x-amz-server-side-encryption": "AES256"})},
        {"id": "list", "method": "GET", "path": "/{c}", "query": "list-type=2"},
        {"id": "copy-ssec", "method": "PUT", "path": "/{c}/c2",
         "headers": dict(_sse_c(other), **_sse_c(prefix="x-amz-copy-source-server-side-encryption-customer-"),
                         **{"x-amz-copy-source": "/{c}/c"})},
        {"id": "bucket-encryption", "method": "GET", "path": "/{c}", "query": "encryption="},
    ]


def _cdn_conditionals(create_id, etag):
    """Issue 14: If-None-Match in every form, If-Modified-Since, If-Range (tag and date) on "hello"
    (MD5 5d41402abc4b2a76b9719d911017c592, the object's ETag on both APIs)."""
    q = f'"{etag}"'
    return [
        {"id": create_id, "method": "PUT", "path": "/{c}"},
        {"id": "put", "method": "PUT", "path": "/{c}/o", "data": "hello"},
        {"id": "inm-quoted", "method": "GET", "path": "/{c}/o", "headers": {"If-None-Match": q}},
        {"id": "inm-unquoted", "method": "GET", "path": "/{c}/o", "headers": {"If-None-Match": etag}},
        {"id": "inm-list", "method": "GET", "path": "/{c}/o", "headers": {"If-None-Match": f'"nope", {q}'}},
        {"id": "inm-star", "method": "GET", "path": "/{c}/o", "headers": {"If-None-Match": "*"}},
        {"id": "inm-other", "method": "GET", "path": "/{c}/o", "headers": {"If-None-Match": '"nope"'}},
        {"id": "ims-future", "method": "GET", "path": "/{c}/o",
         "headers": {"If-Modified-Since": "Fri, 01 Jan 2100 00:00:00 GMT"}},
        {"id": "ims-past", "method": "GET", "path": "/{c}/o",
         "headers": {"If-Modified-Since": "Mon, 01 Jan 2001 00:00:00 GMT"}},
        {"id": "if-range-tag", "method": "GET", "path": "/{c}/o", "headers": {"Range": "bytes=1-2", "If-Range": q}},
        {"id": "if-range-other-tag", "method": "GET", "path": "/{c}/o",
         "headers": {"Range": "bytes=1-2", "If-Range": '"nope"'}},
        {"id": "if-range-old-date", "method": "GET", "path": "/{c}/o",
         "headers": {"Range": "bytes=1-2", "If-Range": "Mon, 01 Jan 2001 00:00:00 GMT"}},
        {"id": "delete", "method": "DELETE", "path": "/{c}/o"},
        {"id": "delete-container", "method": "DELETE", "path": "/{c}"},
    ]


SWIFT = [
    {"id": "swift-cdn-conditionals", "steps": _cdn_conditionals("put-container", "5d41402abc4b2a76b9719d911017c592")},
    {"id": "swift-container-invalid-utf8", "steps": [
        {"id": "put-ff", "method": "PUT", "path": "/{c}%FF"},
        {"id": "put-overlong", "method": "PUT", "path": "/{c}%C0%AF"},
        {"id": "put-lone-continuation", "method": "PUT", "path": "/{c}%80x"},
        {"id": "put-truncated", "method": "PUT", "path": "/{c}%E2%82"},
        {"id": "put-surrogate", "method": "PUT", "path": "/{c}%ED%A0%80"},
        {"id": "head-ff", "method": "HEAD", "path": "/{c}%FF"},
        {"id": "get-ff", "method": "GET", "path": "/{c}%FF"},
        {"id": "post-ff", "method": "POST", "path": "/{c}%FF"},
        {"id": "delete-ff", "method": "DELETE", "path": "/{c}%FF"},
    ] + _swift_usable("after")},
    {"id": "swift-container-nul", "steps": [
        {"id": "put-nul", "method": "PUT", "path": "/{c}%00x"},
        {"id": "put-nul-end", "method": "PUT", "path": "/{c}%00"},
        {"id": "get-nul", "method": "GET", "path": "/{c}%00x"},
    ] + _swift_usable("after")},
    {"id": "swift-account-invalid", "steps": [
        {"id": "get-account-ff", "method": "GET", "path": "/v1/AUTH_%FFx", "abs": True},
        {"id": "get-account-nul", "method": "GET", "path": "/v1/AUTH_x%00y", "abs": True},
        {"id": "put-container-in-ff-account", "method": "PUT", "path": "/v1/AUTH_%FFx/{c}", "abs": True},
    ] + _swift_usable("after")},
    {"id": "swift-object-names", "steps": [
        {"id": "put-container", "method": "PUT", "path": "/{c}"},
        {"id": "put-obj-ff", "method": "PUT", "path": "/{c}/o%FF", "data": "x"},
        {"id": "put-obj-nul", "method": "PUT", "path": "/{c}/o%00x", "data": "x"},
        {"id": "put-obj-ctrl", "method": "PUT", "path": "/{c}/o%01x", "data": "x"},
        {"id": "put-obj-utf8", "method": "PUT", "path": "/{c}/%C3%A9t%C3%A9", "data": "x"},
        {"id": "put-obj-slashes", "method": "PUT", "path": "/{c}/a//b/", "data": "x"},
        {"id": "put-obj-dot", "method": "PUT", "path": "/{c}/.", "data": "x"},
        {"id": "put-obj-dotdot", "method": "PUT", "path": "/{c}/..", "data": "x"},
        {"id": "put-obj-dir-dot", "method": "PUT", "path": "/{c}/d/./e", "data": "x"},
        {"id": "get-obj-ff", "method": "GET", "path": "/{c}/o%FF"},
        {"id": "copy-to-ff", "method": "COPY", "path": "/{c}/%C3%A9t%C3%A9",
         "headers": {"Destination": "{c}/x%FF"}},
        {"id": "copy-from-ff", "method": "PUT", "path": "/{c}/y", "headers": {"X-Copy-From": "{c}/x%FF"}},
        {"id": "list-json", "method": "GET", "path": "/{c}", "query": "format=json"},
        {"id": "list-xml", "method": "GET", "path": "/{c}", "query": "format=xml"},
        {"id": "list-text", "method": "GET", "path": "/{c}"},
        {"id": "list-prefix-nul", "method": "GET", "path": "/{c}", "query": "prefix=a%00&format=json"},
        {"id": "list-marker-ff", "method": "GET", "path": "/{c}", "query": "marker=%FF&format=json"},
    ] + _swift_usable("after")},
    {"id": "swift-dot-containers", "steps": [
        {"id": "put-dot", "method": "PUT", "path": "/%2E"},
        {"id": "put-dotdot", "method": "PUT", "path": "/%2E%2E"},
        {"id": "put-dot-prefixed", "method": "PUT", "path": "/.{c}"},
        {"id": "head-dot-prefixed", "method": "HEAD", "path": "/.{c}"},
        {"id": "delete-dot-prefixed", "method": "DELETE", "path": "/.{c}"},
        {"id": "delete-dot", "method": "DELETE", "path": "/%2E"},
        {"id": "delete-dotdot", "method": "DELETE", "path": "/%2E%2E"},
    ] + _swift_usable("after")},
    {"id": "swift-name-lengths", "steps": [
        {"id": "put-container-63", "method": "PUT", "path": "/{c}" + "x" * 40},
        {"id": "delete-container-63", "method": "DELETE", "path": "/{c}" + "x" * 40},
        {"id": "put-container-256", "method": "PUT", "path": "/" + "c" * 256},
        {"id": "delete-container-256", "method": "DELETE", "path": "/" + "c" * 256},
        {"id": "put-container-257", "method": "PUT", "path": "/" + "c" * 257},
        {"id": "put-container", "method": "PUT", "path": "/{c}"},
        {"id": "put-object-1024", "method": "PUT", "path": "/{c}/{o1k}", "data": "x"},
        {"id": "put-object-1025", "method": "PUT", "path": "/{c}/{o1025}", "data": "x"},
        {"id": "head-object-1024", "method": "HEAD", "path": "/{c}/{o1k}"},
        {"id": "delete-object-1024", "method": "DELETE", "path": "/{c}/{o1k}"},
    ] + _swift_usable("after")},
    {"id": "swift-container-chars", "steps": [
        {"id": "put-utf8", "method": "PUT", "path": "/{c}-%C3%A9"},
        {"id": "put-space", "method": "PUT", "path": "/{c}%20sp"},
        {"id": "put-upper-underscore", "method": "PUT", "path": "/{c}_UP"},
        {"id": "head-upper-underscore", "method": "HEAD", "path": "/{c}_UP"},
        {"id": "put-obj-upper-underscore", "method": "PUT", "path": "/{c}_UP/o", "data": "x"},
        {"id": "delete-obj-upper-underscore", "method": "DELETE", "path": "/{c}_UP/o"},
        {"id": "delete-upper-underscore", "method": "DELETE", "path": "/{c}_UP"},
        {"id": "delete-utf8", "method": "DELETE", "path": "/{c}-%C3%A9"},
        {"id": "delete-space", "method": "DELETE", "path": "/{c}%20sp"},
    ] + _swift_usable("after")},
    {"id": "swift-basic-flow", "steps": [
        {"id": "put-container", "method": "PUT", "path": "/{c}", "headers": {"X-Container-Meta-Color": "blue"}},
        {"id": "put-container-again", "method": "PUT", "path": "/{c}"},
        {"id": "head-container", "method": "HEAD", "path": "/{c}", "headers_present": ["x-container-meta-color"]},
        {"id": "put-object", "method": "PUT", "path": "/{c}/a/b.txt", "data": "hello",
         "headers": {"X-Object-Meta-Fruit": "apple", "Content-Type": "text/plain"}},
        {"id": "head-object", "method": "HEAD", "path": "/{c}/a/b.txt", "headers_present": ["x-object-meta-fruit"]},
        {"id": "get-object", "method": "GET", "path": "/{c}/a/b.txt"},
        {"id": "post-object", "method": "POST", "path": "/{c}/a/b.txt", "headers": {"X-Object-Meta-Fruit": "pear"}},
        {"id": "copy-object", "method": "COPY", "path": "/{c}/a/b.txt", "headers": {"Destination": "{c}/c.txt"},
         "headers_present": ["x-copied-from"]},
        {"id": "list-delimiter", "method": "GET", "path": "/{c}", "query": "format=json&delimiter=/"},
        {"id": "list-xml", "method": "GET", "path": "/{c}", "query": "format=xml"},
        {"id": "list-text", "method": "GET", "path": "/{c}"},
        {"id": "get-missing", "method": "GET", "path": "/{c}/nope"},
        {"id": "delete-nonempty", "method": "DELETE", "path": "/{c}"},
        {"id": "delete-object", "method": "DELETE", "path": "/{c}/a/b.txt"},
        {"id": "delete-copy", "method": "DELETE", "path": "/{c}/c.txt"},
        {"id": "delete-container", "method": "DELETE", "path": "/{c}"},
    ]},
    {"id": "swift-chunked", "steps": _chunked("put-container") + _swift_usable("after")},
    {"id": "swift-expect-continue", "steps": _expect_continue("put-container")},
    {"id": "swift-tempurl", "steps": [
        {"id": "put-container", "method": "PUT", "path": "/{c}", "headers": {"X-Container-Meta-Temp-URL-Key": "ck"}},
        {"id": "head-container-owner", "method": "HEAD", "path": "/{c}",
         "headers_present": ["x-container-meta-temp-url-key"]},
        {"id": "put-object", "method": "PUT", "path": "/{c}/dir/o.txt", "data": "hello",
         "headers": {"X-Object-Meta-Secret": "s", "X-Object-Meta-Public-Tag": "p", "Content-Type": "text/plain"}},
        {"id": "put-other", "method": "PUT", "path": "/{c}/other", "data": "x"},
    ] + [
        _tu("tu-get", "GET"),
        _tu("tu-head", "HEAD"),
        _tu("tu-head-put-sig", "HEAD", signed="PUT"),
        _tu("tu-get-inline", "GET", extra="&inline"),
        _tu("tu-get-filename", "GET", extra="&filename=a%20b.txt"),
        _tu("tu-get-sha1", "GET", digest="sha1"),
        _tu("tu-get-sha512", "GET", digest="sha512"),
        _tu("tu-get-sha512-b64", "GET", digest="sha512", form="b64"),
        _tu("tu-get-iso8601", "GET", expires="iso+600"),
        _tu("tu-get-expired", "GET", expires="past"),
        _tu("tu-head-expired", "HEAD", expires="past"),
        _tu("tu-get-wrong-key", "GET", key="nope"),
        _tu("tu-get-put-sig", "GET", signed="PUT"),
        dict(_tu("tu-get-sig-only", "GET"), tempurl=None, query="temp_url_sig=abc"),
        _tu("tu-get-container", "GET", path="/{c}"),
        _tu("tu-put-copy-from", "PUT", headers={"X-Copy-From": "{c}/other"}),
        _tu("tu-put-manifest", "PUT", data="", headers={"X-Object-Manifest": "{c}/x"}),
        _tu("tu-put", "PUT", data="new"),
        _tu("tu-get-prefix", "GET", prefix="dir/"),
        _tu("tu-get-outside-prefix", "GET", path="/{c}/other", prefix="dir/"),
        _tu("tu-get-ip-ok", "GET", ip_range="127.0.0.0/8"),
        _tu("tu-get-ip-out", "GET", ip_range="10.0.0.0/8"),
        _tu("tu-delete", "DELETE", path="/{c}/other"),
        _tu("tu-get-deleted", "GET", path="/{c}/other"),
        _tu("tu-get-bogus-token", "GET", headers={"X-Auth-Token": "AUTH_tkbogus"}),
    ] + _swift_usable("after")},
    {"id": "swift-formpost", "steps": [
        {"id": "put-container", "method": "PUT", "path": "/{c}", "headers": {"X-Container-Meta-Temp-URL-Key": "ck"}},
    ] + [dict(st, method="POST", path="/{c}/up/", auth=False, headers_present=["location"]) for st in [
        {"id": "fp-ok", "formpost": {"key": "ck", "max_file_size": 100, "max_file_count": 2,
                                     "files": [["a.txt", "AAA"], ["b.txt", "BBB"]]}},
        {"id": "fp-redirect", "formpost": {"key": "ck", "redirect": "http://app.example/done?x=1",
                                           "max_file_size": 100, "max_file_count": 1, "files": [["c.txt", "C"]]}},
        {"id": "fp-too-many", "formpost": {"key": "ck", "max_file_size": 100, "max_file_count": 1,
                                           "files": [["d.txt", "D"], ["e.txt", "E"]]}},
        {"id": "fp-too-big", "formpost": {"key": "ck", "max_file_size": 2, "max_file_count": 1,
                                          "files": [["f.txt", "FFFF"]]}},
        {"id": "fp-bad-signature", "formpost": {"key": "ck", "max_file_size": 100, "max_file_count": 1,
                                                "signature": "0" * 64, "files": [["g.txt", "G"]]}},
        {"id": "fp-expired", "formpost": {"key": "ck", "max_file_size": 100, "max_file_count": 1,
                                          "expires": "past", "files": [["h.txt", "H"]]}},
        {"id": "fp-no-files", "formpost": {"key": "ck", "max_file_size": 100, "max_file_count": 1}},
        {"id": "fp-bad-boundary", "headers": {"Content-Type": "multipart/form-data; boundary=zzz"}, "data": "hello"},
    ]] + [
        {"id": "get-uploaded", "method": "GET", "path": "/{c}/up/b.txt"},
        {"id": "get-too-big", "method": "GET", "path": "/{c}/up/f.txt"},
    ] + _swift_usable("after")},
    {"id": "swift-cors", "steps": [
        {"id": "put-container", "method": "PUT", "path": "/{c}", "headers": {
            "X-Container-Meta-Access-Control-Allow-Origin": "http://a.example http://b.example",
            "X-Container-Meta-Access-Control-Max-Age": "600",
            "X-Container-Meta-Access-Control-Expose-Headers": "X-Custom"}},
        {"id": "put-object", "method": "PUT", "path": "/{c}/o", "data": "x", "headers": {"X-Object-Meta-Color": "red"}},
    ] + [dict(st, headers_present=CORS_HEADERS) for st in [
        {"id": "preflight", "method": "OPTIONS", "path": "/{c}/o", "auth": False,
         "headers": {"Origin": "http://a.example", "Access-Control-Request-Method": "PUT",
                     "Access-Control-Request-Headers": "x-auth-token"}},
        {"id": "preflight-container", "method": "OPTIONS", "path": "/{c}", "auth": False,
         "headers": {"Origin": "http://b.example", "Access-Control-Request-Method": "GET"}},
        {"id": "preflight-bad-origin", "method": "OPTIONS", "path": "/{c}/o", "auth": False,
         "headers": {"Origin": "http://evil.example", "Access-Control-Request-Method": "GET"}},
        {"id": "preflight-bad-method", "method": "OPTIONS", "path": "/{c}/o", "auth": False,
         "headers": {"Origin": "http://a.example", "Access-Control-Request-Method": "PATCH"}},
        {"id": "preflight-missing-container", "method": "OPTIONS", "path": "/{c2}/o", "auth": False,
         "headers": {"Origin": "http://a.example", "Access-Control-Request-Method": "GET"}},
        {"id": "options-no-origin", "method": "OPTIONS", "path": "/{c}/o", "auth": False},
        {"id": "options-account", "method": "OPTIONS", "path": "", "auth": False,
         "headers": {"Origin": "http://a.example", "Access-Control-Request-Method": "GET"}},
        {"id": "get-allowed", "method": "GET", "path": "/{c}/o", "headers": {"Origin": "http://a.example"}},
        {"id": "get-container-allowed", "method": "GET", "path": "/{c}", "headers": {"Origin": "http://a.example"}},
        {"id": "get-other-origin", "method": "GET", "path": "/{c}/o", "headers": {"Origin": "http://evil.example"}},
        {"id": "get-anonymous-allowed-origin", "method": "GET", "path": "/{c}/o", "auth": False,
         "headers": {"Origin": "http://a.example"}},
        {"id": "get-missing-allowed-origin", "method": "GET", "path": "/{c}/nope",
         "headers": {"Origin": "http://a.example"}},
    ]] + _swift_usable("after")},
    {"id": "swift-public-large-objects", "steps": [
        {"id": "put-public", "method": "PUT", "path": "/{c}", "headers": {"X-Container-Read": ".r:*"}},
        {"id": "put-segments-container", "method": "PUT", "path": "/{c2}"},
        {"id": "put-s1", "method": "PUT", "path": "/{c2}/s1", "data": "aaaa"},
        {"id": "put-s2", "method": "PUT", "path": "/{c2}/s2", "data": "bbbb"},
        {"id": "put-dlo", "method": "PUT", "path": "/{c}/dlo", "data": "", "headers": {"X-Object-Manifest": "{c2}/s"}},
        {"id": "put-slo", "method": "PUT", "path": "/{c}/slo", "query": "multipart-manifest=put",
         "data": '[{"path": "{c2}/s1"}, {"path": "{c2}/s2"}]'},
        {"id": "anon-get-dlo", "method": "GET", "path": "/{c}/dlo", "auth": False},
        {"id": "anon-head-dlo", "method": "HEAD", "path": "/{c}/dlo", "auth": False},
        {"id": "anon-get-slo", "method": "GET", "path": "/{c}/slo", "auth": False},
        {"id": "anon-head-slo", "method": "HEAD", "path": "/{c}/slo", "auth": False},
        {"id": "anon-get-slo-manifest", "method": "GET", "path": "/{c}/slo", "query": "multipart-manifest=get",
         "auth": False, "body": False},
        {"id": "owner-get-slo", "method": "GET", "path": "/{c}/slo"},
        {"id": "open-segments", "method": "POST", "path": "/{c2}", "headers": {"X-Container-Read": ".r:*"}},
        {"id": "anon-get-dlo-open", "method": "GET", "path": "/{c}/dlo", "auth": False},
        {"id": "anon-get-slo-open", "method": "GET", "path": "/{c}/slo", "auth": False},
        {"id": "open-listings", "method": "POST", "path": "/{c2}", "headers": {"X-Container-Read": ".r:*,.rlistings"}},
        {"id": "anon-get-dlo-listed", "method": "GET", "path": "/{c}/dlo", "auth": False},
        {"id": "anon-head-dlo-listed", "method": "HEAD", "path": "/{c}/dlo", "auth": False},
    ] + _swift_usable("after")},
    {"id": "swift-staticweb", "steps": [
        {"id": "put-container", "method": "PUT", "path": "/{c}", "headers": {
            "X-Container-Read": ".r:*,.rlistings", "X-Container-Meta-Web-Index": "index.html",
            "X-Container-Meta-Web-Error": "err.html", "X-Container-Meta-Web-Listings": "true"}},
    ] + [{"id": f"put-{k}", "method": "PUT", "path": "/{c}/" + k, "data": "<p>" + k + "</p>",
          "headers": {"Content-Type": "text/html"}} for k in ("index.html", "sub/index.html", "404err.html")] + [
        {"id": "put-other", "method": "PUT", "path": "/{c}/other/a.txt", "data": "hi",
         "headers": {"Content-Type": "text/plain"}},
        {"id": "put-marker", "method": "PUT", "path": "/{c}/marker", "data": "",
         "headers": {"Content-Type": "application/directory"}},
    ] + [dict(st, auth=False, headers_present=["location"]) for st in [
        {"id": "get-container-no-slash", "method": "GET", "path": "/{c}"},
        {"id": "get-container-index", "method": "GET", "path": "/{c}/", "body": True},
        {"id": "head-container-index", "method": "HEAD", "path": "/{c}/"},
        {"id": "get-sub-no-slash", "method": "GET", "path": "/{c}/sub"},
        {"id": "get-sub-index", "method": "GET", "path": "/{c}/sub/", "body": True},
        {"id": "get-dir-no-slash", "method": "GET", "path": "/{c}/other"},
        {"id": "get-listing", "method": "GET", "path": "/{c}/other/"},
        {"id": "get-missing", "method": "GET", "path": "/{c}/nope", "body": True},
        {"id": "get-missing-dir", "method": "GET", "path": "/{c}/nope/", "body": True},
        {"id": "get-marker", "method": "GET", "path": "/{c}/marker", "body": True},
        {"id": "get-object", "method": "GET", "path": "/{c}/other/a.txt", "body": True},
    ]] + [
        {"id": "get-token-no-web-mode", "method": "GET", "path": "/{c}/other/"},
        {"id": "get-token-web-mode", "method": "GET", "path": "/{c}/other/", "headers": {"X-Web-Mode": "true"}},
        {"id": "post-no-index", "method": "POST", "path": "/{c}", "headers": {"X-Remove-Container-Meta-Web-Index": "x"}},
        {"id": "get-container-listing", "method": "GET", "path": "/{c}/", "auth": False},
        {"id": "post-no-listings", "method": "POST", "path": "/{c}",
         "headers": {"X-Remove-Container-Meta-Web-Listings": "x"}},
        {"id": "get-plain-anonymous", "method": "GET", "path": "/{c}/nope", "auth": False},
        {"id": "get-plain-web-mode", "method": "GET", "path": "/{c}", "headers": {"X-Web-Mode": "true"}},
    ]},
    {"id": "swift-object-versioning", "steps": [
        {"id": "put-versioned", "method": "PUT", "path": "/{c}", "headers": {"X-Versions-Enabled": "true"}},
        {"id": "head-versioned", "method": "HEAD", "path": "/{c}", "headers_present": ["x-versions-enabled"]},
        {"id": "put-o-1", "method": "PUT", "path": "/{c}/o", "data": "one", "headers_present": ["x-object-version-id"]},
        {"id": "put-o-2", "method": "PUT", "path": "/{c}/o", "data": "two!", "headers_present": ["x-object-version-id"]},
        {"id": "head-o", "method": "HEAD", "path": "/{c}/o", "headers_present": ["x-object-version-id"]},
        {"id": "list-versions", "method": "GET", "path": "/{c}", "query": "versions"},
        {"id": "list-versions-xml", "method": "GET", "path": "/{c}", "query": "versions&format=xml"},
        {"id": "get-bad-version", "method": "GET", "path": "/{c}/o", "query": "version-id=zzz"},
        {"id": "get-null-version", "method": "GET", "path": "/{c}/o", "query": "version-id=null"},
        {"id": "delete-o", "method": "DELETE", "path": "/{c}/o", "headers_present": ["x-object-version-id"]},
        {"id": "get-deleted", "method": "GET", "path": "/{c}/o"},
        {"id": "list-after-delete", "method": "GET", "path": "/{c}", "query": "versions&format=json"},
        {"id": "suspend", "method": "POST", "path": "/{c}", "headers": {"X-Versions-Enabled": "false"}},
        {"id": "head-suspended", "method": "HEAD", "path": "/{c}", "headers_present": ["x-versions-enabled"]},
        {"id": "plain-container", "method": "PUT", "path": "/{c2}"},
        {"id": "plain-object", "method": "PUT", "path": "/{c2}/a", "data": "x"},
        {"id": "plain-list-versions", "method": "GET", "path": "/{c2}", "query": "versions"},
        {"id": "plain-head-object", "method": "HEAD", "path": "/{c2}/a", "headers_present": ["x-object-version-id"]},
        {"id": "legacy-versions-location", "method": "POST", "path": "/{c2}",
         "headers": {"X-Versions-Location": "{c}"}},
        {"id": "legacy-history-location", "method": "PUT", "path": "/{c2}",
         "headers": {"X-History-Location": "{c}"}},
    ]},
    # Swift's legacy versioned writes (allow_versioned_writes): {c} versioned into the archive {c2}
    {"id": "swift-legacy-versioning", "steps": [
        {"id": "put-archive", "method": "PUT", "path": "/{c2}"},
        {"id": "put-stack", "method": "PUT", "path": "/{c}", "headers": {"X-Versions-Location": "{c2}"}},
        {"id": "head-stack", "method": "HEAD", "path": "/{c}", "headers_present": ["x-versions-location"]},
        {"id": "put-o-1", "method": "PUT", "path": "/{c}/o", "data": "one"},
        {"id": "put-o-2", "method": "PUT", "path": "/{c}/o", "data": "two!", "headers": {"X-Object-Meta-N": "2"}},
        {"id": "put-o-3", "method": "PUT", "path": "/{c}/o", "data": "three"},
        {"id": "copy-over-o", "method": "COPY", "path": "/{c}/o", "headers": {"Destination": "{c}/o"}},
        {"id": "list-archive", "method": "GET", "path": "/{c2}", "query": "format=json"},
        {"id": "post-o", "method": "POST", "path": "/{c}/o", "headers": {"X-Object-Meta-P": "1"}},
        {"id": "list-archive-after-post", "method": "GET", "path": "/{c2}", "query": "format=json"},
        {"id": "delete-o-1", "method": "DELETE", "path": "/{c}/o"},
        {"id": "get-o-three", "method": "GET", "path": "/{c}/o"},
        {"id": "delete-o-2", "method": "DELETE", "path": "/{c}/o"},
        {"id": "delete-o-3", "method": "DELETE", "path": "/{c}/o"},
        {"id": "get-o-oldest", "method": "GET", "path": "/{c}/o"},
        {"id": "delete-o-4", "method": "DELETE", "path": "/{c}/o"},
        {"id": "get-o-after-last-restore", "method": "GET", "path": "/{c}/o"},
        {"id": "delete-o-5", "method": "DELETE", "path": "/{c}/o"},
        {"id": "get-o-gone", "method": "GET", "path": "/{c}/o"},
        {"id": "delete-o-absent", "method": "DELETE", "path": "/{c}/o"},
        {"id": "list-archive-empty", "method": "GET", "path": "/{c2}", "query": "format=json"},
        {"id": "both-locations", "method": "POST", "path": "/{c}",
         "headers": {"X-Versions-Location": "{c2}", "X-History-Location": "{c2}"}},
        {"id": "slash-location", "method": "POST", "path": "/{c}", "headers": {"X-Versions-Location": "a/b"}},
        {"id": "enable-on-legacy", "method": "POST", "path": "/{c}", "headers": {"X-Versions-Enabled": "true"}},
        {"id": "history", "method": "POST", "path": "/{c}",
         "headers": {"X-Versions-Location": "", "X-History-Location": "{c2}"}},
        {"id": "head-history", "method": "HEAD", "path": "/{c}",
         "headers_present": ["x-history-location", "x-versions-location"]},
        {"id": "put-h-1", "method": "PUT", "path": "/{c}/h", "data": "h1"},
        {"id": "put-h-2", "method": "PUT", "path": "/{c}/h", "data": "h2"},
        {"id": "delete-h", "method": "DELETE", "path": "/{c}/h"},
        {"id": "get-h-gone", "method": "GET", "path": "/{c}/h"},
        {"id": "delete-absent", "method": "DELETE", "path": "/{c}/nope"},
        {"id": "list-archive-history", "method": "GET", "path": "/{c2}", "query": "format=json"},
        {"id": "stack-again", "method": "POST", "path": "/{c}", "headers": {"X-Versions-Location": "{c2}"}},
        {"id": "delete-h-under-marker", "method": "DELETE", "path": "/{c}/h"},
        {"id": "get-h-restored", "method": "GET", "path": "/{c}/h"},
        {"id": "list-archive-after-restore", "method": "GET", "path": "/{c2}", "query": "format=json"},
        {"id": "missing-archive", "method": "POST", "path": "/{c}", "headers": {"X-Versions-Location": "{c}-gone"}},
        {"id": "put-over-missing", "method": "PUT", "path": "/{c}/h", "data": "h3"},
        {"id": "delete-missing-archive", "method": "DELETE", "path": "/{c}/h"},
        {"id": "remove", "method": "POST", "path": "/{c}", "headers": {"X-Remove-Versions-Location": "x"}},
        {"id": "head-removed", "method": "HEAD", "path": "/{c}",
         "headers_present": ["x-history-location", "x-versions-location"]},
        {"id": "version-archive", "method": "POST", "path": "/{c2}", "headers": {"X-Versions-Enabled": "true"}},
        {"id": "legacy-on-versioned", "method": "POST", "path": "/{c2}", "headers": {"X-Versions-Location": "{c}"}},
        {"id": "head-versioned-archive", "method": "HEAD", "path": "/{c2}",
         "headers_present": ["x-versions-enabled", "x-versions-location"]},
    ]},
    # Account ACLs as TempAuth with account_acls on (docs/swift-compat.md, "Account ACLs"): set by the
    # account's admin, shown to it, TempAuth's 400s, removal. Grantees of other accounts need a second
    # user, which the harness has not: tests/integration/test_swift_account_acl.py covers them.
    {"id": "swift-account-acl", "steps": [
        {"id": "set", "method": "POST", "path": "",
         "headers": {"X-Account-Access-Control": '{"read-only":["other:user"], "admin":[]}'}},
        {"id": "head-shows", "method": "HEAD", "path": "", "headers_present": ["x-account-access-control"]},
        {"id": "bad-json", "method": "POST", "path": "", "headers": {"X-Account-Access-Control": "{bad"}},
        {"id": "not-object", "method": "POST", "path": "", "headers": {"X-Account-Access-Control": "[]"}},
        {"id": "unknown-key", "method": "POST", "path": "", "headers": {"X-Account-Access-Control": '{"foo":[]}'}},
        {"id": "not-list", "method": "POST", "path": "", "headers": {"X-Account-Access-Control": '{"admin":"x"}'}},
        {"id": "not-strings", "method": "POST", "path": "",
         "headers": {"X-Account-Access-Control": '{"read-write":[1]}'}},
        {"id": "remove", "method": "POST", "path": "", "headers": {"X-Account-Access-Control": ""}},
        {"id": "head-removed", "method": "HEAD", "path": "", "headers_present": ["x-account-access-control"]},
    ]},
]


# PutBucketLifecycleConfiguration steps (s3-lifecycle): a document of rules, with the Content-MD5
# every S3 client sends with it.
_LC_RULE = "<Rule><ID>{id}</ID><Filter><Prefix>{prefix}</Prefix></Filter><Status>Enabled</Status>{action}</Rule>"
_LC_EXP = "<Expiration><{0}>{1}</{0}></Expiration>"


def _lc(step_id, rules):
    body = f'<LifecycleConfiguration xmlns="http://s3.amazonaws.com/doc/2006-03-01/">{rules}</LifecycleConfiguration>'
    md5 = base64.b64encode(hashlib.md5(body.encode()).digest()).decode()
    return {"id": step_id, "method": "PUT", "path": "/{c}", "query": "lifecycle", "data": body,
            "headers": {"Content-MD5": md5}}


# PublicAccessBlockConfiguration with the four flags (BlockPublicAcls, IgnorePublicAcls,
# BlockPublicPolicy, RestrictPublicBuckets) in order.
_PAB = ("<PublicAccessBlockConfiguration><BlockPublicAcls>{}</BlockPublicAcls><IgnorePublicAcls>{}"
        "</IgnorePublicAcls><BlockPublicPolicy>{}</BlockPublicPolicy><RestrictPublicBuckets>{}"
        "</RestrictPublicBuckets></PublicAccessBlockConfiguration>")
# A policy letting everyone GetObject the keys of {c} matching the pattern given with %.
_PUBLIC_GET = ('{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Principal":"*",'
               '"Action":"s3:GetObject","Resource":"arn:aws:s3:::{c}/%s"}]}')

S3 = [
    {"id": "s3-bucket-names", "steps": [
        {"id": "create-63", "method": "PUT", "path": "/{c}" + "x" * 40},
        {"id": "delete-63", "method": "DELETE", "path": "/{c}" + "x" * 40},
        {"id": "create-64", "method": "PUT", "path": "/{c}" + "x" * 41},
        {"id": "create-upper", "method": "PUT", "path": "/{c}UP"},
        {"id": "create-dotdot", "method": "PUT", "path": "/{c}..x"},
        {"id": "create-ff", "method": "PUT", "path": "/{c}%FF"},
        {"id": "create-nul", "method": "PUT", "path": "/{c}%00"},
        {"id": "create-ip", "method": "PUT", "path": "/192.168.5.4"},
    ] + _s3_usable("after")},
    {"id": "s3-key-names", "steps": [
        {"id": "create", "method": "PUT", "path": "/{c}"},
        {"id": "put-1024", "method": "PUT", "path": "/{c}/{o1k}", "data": "x"},
        {"id": "put-1025", "method": "PUT", "path": "/{c}/{o1025}", "data": "x"},
        {"id": "put-ff", "method": "PUT", "path": "/{c}/k%FF", "data": "x"},
        {"id": "put-overlong", "method": "PUT", "path": "/{c}/k%C0%AF", "data": "x"},
        {"id": "put-nul", "method": "PUT", "path": "/{c}/k%00x", "data": "x"},
        {"id": "put-ctrl", "method": "PUT", "path": "/{c}/c%01x", "data": "x"},
        {"id": "put-dot", "method": "PUT", "path": "/{c}/.", "data": "x"},
        {"id": "put-dotdot", "method": "PUT", "path": "/{c}/..", "data": "x"},
        {"id": "put-slashes", "method": "PUT", "path": "/{c}/a//b/", "data": "x"},
        {"id": "head-ff", "method": "HEAD", "path": "/{c}/k%FF"},
        {"id": "get-ctrl", "method": "GET", "path": "/{c}/c%01x"},
        {"id": "list-v1-url", "method": "GET", "path": "/{c}", "query": "encoding-type=url&prefix=c"},
        {"id": "list-v2-url", "method": "GET", "path": "/{c}", "query": "encoding-type=url&list-type=2&prefix=c"},
        {"id": "list-v1-plain", "method": "GET", "path": "/{c}", "query": "prefix=c"},
        {"id": "list-v2-plain", "method": "GET", "path": "/{c}", "query": "list-type=2&prefix=c"},
        {"id": "copy-to-ff", "method": "PUT", "path": "/{c}/cp%FF", "headers": {"x-amz-copy-source": "/{c}/c%01x"}},
        {"id": "delete-ctrl", "method": "DELETE", "path": "/{c}/c%01x"},
        {"id": "delete-1024", "method": "DELETE", "path": "/{c}/{o1k}"},
        {"id": "delete-dot", "method": "DELETE", "path": "/{c}/."},
        {"id": "delete-dotdot", "method": "DELETE", "path": "/{c}/.."},
        {"id": "delete-slashes", "method": "DELETE", "path": "/{c}/a//b/"},
    ] + _s3_usable("after")},
    {"id": "s3-list-nul", "steps": [
        {"id": "create", "method": "PUT", "path": "/{c}"},
        {"id": "put", "method": "PUT", "path": "/{c}/a", "data": "x"},
        {"id": "v1-prefix-nul", "method": "GET", "path": "/{c}", "query": "prefix=a%00"},
        {"id": "v1-marker-nul", "method": "GET", "path": "/{c}", "query": "marker=a%00"},
        {"id": "v1-delimiter-nul", "method": "GET", "path": "/{c}", "query": "delimiter=%00"},
        {"id": "v2-prefix-nul", "method": "GET", "path": "/{c}", "query": "list-type=2&prefix=a%00"},
        {"id": "v2-start-after-nul", "method": "GET", "path": "/{c}", "query": "list-type=2&start-after=a%00"},
        {"id": "uploads-prefix-nul", "method": "GET", "path": "/{c}", "query": "prefix=a%00&uploads="},
        {"id": "uploads-key-marker-nul", "method": "GET", "path": "/{c}", "query": "key-marker=a%00&uploads="},
        {"id": "v1-prefix-ff", "method": "GET", "path": "/{c}", "query": "prefix=%FF"},
        {"id": "delete", "method": "DELETE", "path": "/{c}/a"},
    ] + _s3_usable("after")},
    {"id": "s3-region", "steps": [
        {"id": "create", "method": "PUT", "path": "/{c}"},
        {"id": "wrong-region-get", "method": "GET", "path": "/{c}", "region": "eu-west-1"},
        {"id": "wrong-region-put", "method": "PUT", "path": "/{c}/k", "data": "x", "region": "eu-west-1"},
        {"id": "wrong-region-list-buckets", "method": "GET", "path": "/", "region": "ap-south-1", "body": False},
        {"id": "head-wrong-region", "method": "HEAD", "path": "/{c}", "region": "eu-west-1"},
        {"id": "anonymous-get", "method": "GET", "path": "/{c}", "auth": False},
    ] + _s3_usable("after")},
    {"id": "s3-refused-headers", "steps": [
        {"id": "create", "method": "PUT", "path": "/{c}"},
        {"id": "sse-s3", "method": "PUT", "path": "/{c}/sse", "data": "x",
         "headers": {"x-amz-server-side-encryption": "AES256"}},
        {"id": "sse-kms", "method": "PUT", "path": "/{c}/kms", "data": "x",
         "headers": {"x-amz-server-side-encryption": "aws:kms", "x-amz-server-side-encryption-aws-kms-key-id": "testkey-1"}},
        {"id": "sse-c", "method": "PUT", "path": "/{c}/ssec", "data": "x",
         "headers": {"x-amz-server-side-encryption-customer-algorithm": "AES256",
                     "x-amz-server-side-encryption-customer-key": "MDEyMzQ1Njc4OWFiY2RlZjAxMjM0NTY3ODlhYmNkZWY=",
                     "x-amz-server-side-encryption-customer-key-MD5": "zZ5FnqcIqUjVwvWmyog4zw=="}},
        {"id": "object-lock", "method": "PUT", "path": "/{c}/lock", "data": "x",
         "headers": {"x-amz-object-lock-mode": "GOVERNANCE",
                     "x-amz-object-lock-retain-until-date": "2030-01-01T00:00:00Z"}},
        {"id": "legal-hold", "method": "PUT", "path": "/{c}/hold", "data": "x",
         "headers": {"x-amz-object-lock-legal-hold": "ON"}},
        {"id": "acl-public-read", "method": "PUT", "path": "/{c}/acl", "data": "x",
         "headers": {"x-amz-acl": "public-read"}},
        {"id": "acl-private", "method": "PUT", "path": "/{c}/aclp", "data": "x", "headers": {"x-amz-acl": "private"}},
        {"id": "grant-read", "method": "PUT", "path": "/{c}/grant", "data": "x",
         "headers": {"x-amz-grant-read": "uri=\"http://acs.amazonaws.com/groups/global/AllUsers\""}},
        {"id": "tagging", "method": "PUT", "path": "/{c}/tag", "data": "x", "headers": {"x-amz-tagging": "a=b"}},
        {"id": "storage-class-glacier", "method": "PUT", "path": "/{c}/sc", "data": "x",
         "headers": {"x-amz-storage-class": "GLACIER"}},
        {"id": "storage-class-bogus", "method": "PUT", "path": "/{c}/scb", "data": "x",
         "headers": {"x-amz-storage-class": "BOGUS"}},
        {"id": "storage-class-standard", "method": "PUT", "path": "/{c}/scs", "data": "x",
         "headers": {"x-amz-storage-class": "STANDARD"}},
        {"id": "bucket-lock", "method": "PUT", "path": "/{c2}", "headers": {"x-amz-bucket-object-lock-enabled": "true"}},
        {"id": "list-after", "method": "GET", "path": "/{c}", "query": "list-type=2"},
    ]},
    {"id": "s3-sse", "steps": _sse_steps()},
    {"id": "s3-cdn-conditionals", "steps": _cdn_conditionals("create", "5d41402abc4b2a76b9719d911017c592")},
    {"id": "s3-versioning", "steps": [
        {"id": "create", "method": "PUT", "path": "/{c}"},
        {"id": "get-versioning-never", "method": "GET", "path": "/{c}", "query": "versioning="},
        {"id": "put", "method": "PUT", "path": "/{c}/k", "data": "unversioned"},
        {"id": "list-versions-never", "method": "GET", "path": "/{c}", "query": "versions="},
        {"id": "get-null", "method": "GET", "path": "/{c}/k", "query": "versionId=null"},
        {"id": "put-versioning-bad", "method": "PUT", "path": "/{c}", "query": "versioning=",
         "data": "<VersioningConfiguration><Status>Bogus</Status></VersioningConfiguration>"},
        {"id": "put-versioning-mfa", "method": "PUT", "path": "/{c}", "query": "versioning=",
         "data": "<VersioningConfiguration><Status>Enabled</Status><MfaDelete>Enabled</MfaDelete>"
                 "</VersioningConfiguration>"},
        {"id": "put-versioning", "method": "PUT", "path": "/{c}", "query": "versioning=",
         "data": "<VersioningConfiguration><Status>Enabled</Status></VersioningConfiguration>"},
        {"id": "get-versioning", "method": "GET", "path": "/{c}", "query": "versioning="},
        {"id": "put-v1", "method": "PUT", "path": "/{c}/k", "data": "one", "headers_present": ["x-amz-version-id"]},
        {"id": "put-v2", "method": "PUT", "path": "/{c}/k", "data": "two", "headers_present": ["x-amz-version-id"]},
        {"id": "delete-marker", "method": "DELETE", "path": "/{c}/k",
         "headers_present": ["x-amz-version-id", "x-amz-delete-marker"]},
        {"id": "get-deleted", "method": "GET", "path": "/{c}/k", "headers_present": ["x-amz-delete-marker"]},
        {"id": "list-versions", "method": "GET", "path": "/{c}", "query": "versions="},
        {"id": "list-versions-page", "method": "GET", "path": "/{c}", "query": "max-keys=2&versions="},
        {"id": "get-null-after", "method": "GET", "path": "/{c}/k", "query": "versionId=null"},
        {"id": "delete-bucket-versions", "method": "DELETE", "path": "/{c}"},
        {"id": "put-versioning-suspended", "method": "PUT", "path": "/{c}", "query": "versioning=",
         "data": "<VersioningConfiguration><Status>Suspended</Status></VersioningConfiguration>"},
        {"id": "get-versioning-suspended", "method": "GET", "path": "/{c}", "query": "versioning="},
        {"id": "lock-headers-unlocked", "method": "PUT", "path": "/{c}/l", "data": "x",
         "headers": {"x-amz-object-lock-mode": "GOVERNANCE",
                     "x-amz-object-lock-retain-until-date": "2030-01-01T00:00:00Z"}},
        {"id": "get-lock-config-unlocked", "method": "GET", "path": "/{c}", "query": "object-lock="},
        {"id": "put-lock-config-unlocked", "method": "PUT", "path": "/{c}", "query": "object-lock=",
         "data": "<ObjectLockConfiguration><ObjectLockEnabled>Enabled</ObjectLockEnabled></ObjectLockConfiguration>"},
        {"id": "create-locked", "method": "PUT", "path": "/{c2}", "headers": {"x-amz-bucket-object-lock-enabled": "true"}},
        {"id": "get-versioning-locked", "method": "GET", "path": "/{c2}", "query": "versioning="},
        {"id": "get-lock-config", "method": "GET", "path": "/{c2}", "query": "object-lock="},
        {"id": "put-lock-config", "method": "PUT", "path": "/{c2}", "query": "object-lock=",
         "data": "<ObjectLockConfiguration><ObjectLockEnabled>Enabled</ObjectLockEnabled><Rule><DefaultRetention>"
                 "<Mode>GOVERNANCE</Mode><Days>1</Days></DefaultRetention></Rule></ObjectLockConfiguration>"},
        {"id": "get-lock-config-rule", "method": "GET", "path": "/{c2}", "query": "object-lock="},
        {"id": "suspend-locked", "method": "PUT", "path": "/{c2}", "query": "versioning=",
         "data": "<VersioningConfiguration><Status>Suspended</Status></VersioningConfiguration>"},
        {"id": "put-retention-past", "method": "PUT", "path": "/{c2}/p", "data": "x",
         "headers": {"x-amz-object-lock-mode": "COMPLIANCE",
                     "x-amz-object-lock-retain-until-date": "2001-01-01T00:00:00Z"}},
        {"id": "put-retained", "method": "PUT", "path": "/{c2}/r", "data": "x",
         "headers": {"x-amz-object-lock-mode": "GOVERNANCE",
                     "x-amz-object-lock-retain-until-date": "2030-01-01T00:00:00Z"}},
        {"id": "get-retention", "method": "GET", "path": "/{c2}/r", "query": "retention="},
        {"id": "get-legal-hold", "method": "GET", "path": "/{c2}/r", "query": "legal-hold="},
        {"id": "put-legal-hold", "method": "PUT", "path": "/{c2}/r", "query": "legal-hold=",
         "data": "<LegalHold><Status>ON</Status></LegalHold>"},
        {"id": "get-legal-hold-on", "method": "GET", "path": "/{c2}/r", "query": "legal-hold="},
        {"id": "delete-marker-locked", "method": "DELETE", "path": "/{c2}/r"},
    ]},
    {"id": "s3-chunked", "steps": _chunked("create") + [
        {"id": "delete-ok", "method": "DELETE", "path": "/{c}/ok"},
    ] + _s3_usable("after")},
    {"id": "s3-expect-continue", "steps": _expect_continue("create")},
    {"id": "s3-acl", "steps": [
        {"id": "create", "method": "PUT", "path": "/{c}"},
        {"id": "put-public", "method": "PUT", "path": "/{c}/pub", "data": "x", "headers": {"x-amz-acl": "public-read"}},
        {"id": "put-private", "method": "PUT", "path": "/{c}/priv", "data": "y"},
        {"id": "anon-get-public", "method": "GET", "path": "/{c}/pub", "auth": False},
        {"id": "anon-get-private", "method": "GET", "path": "/{c}/priv", "auth": False},
        {"id": "anon-get-missing", "method": "GET", "path": "/{c}/missing", "auth": False},
        {"id": "anon-list-private", "method": "GET", "path": "/{c}", "auth": False},
        {"id": "anon-put-private", "method": "PUT", "path": "/{c}/anon", "data": "z", "auth": False},
        {"id": "anon-get-acl", "method": "GET", "path": "/{c}", "query": "acl", "auth": False},
        {"id": "anon-list-buckets", "method": "GET", "path": "/", "auth": False},
        {"id": "bucket-public-read", "method": "PUT", "path": "/{c}", "query": "acl",
         "headers": {"x-amz-acl": "public-read"}},
        {"id": "anon-list-public", "method": "GET", "path": "/{c}", "auth": False},
        {"id": "anon-head-bucket", "method": "HEAD", "path": "/{c}", "auth": False},
        {"id": "object-acl-private", "method": "PUT", "path": "/{c}/pub", "query": "acl",
         "headers": {"x-amz-acl": "private"}},
        {"id": "anon-get-now-private", "method": "GET", "path": "/{c}/pub", "auth": False},
        {"id": "grant-read-all", "method": "PUT", "path": "/{c}/priv", "query": "acl",
         "headers": {"x-amz-grant-read": "uri=\"http://acs.amazonaws.com/groups/global/AllUsers\""}},
        {"id": "anon-get-granted", "method": "GET", "path": "/{c}/priv", "auth": False},
        {"id": "canned-and-grant", "method": "PUT", "path": "/{c}/both", "data": "x",
         "headers": {"x-amz-acl": "public-read",
                     "x-amz-grant-read": "uri=\"http://acs.amazonaws.com/groups/global/AllUsers\""}},
        {"id": "canned-bogus", "method": "PUT", "path": "/{c}/bogus", "data": "x", "headers": {"x-amz-acl": "bogus"}},
        {"id": "grant-email", "method": "PUT", "path": "/{c}/email", "data": "x",
         "headers": {"x-amz-grant-read": "emailAddress=\"nobody@example.com\""}},
        {"id": "acl-malformed-xml", "method": "PUT", "path": "/{c}", "query": "acl", "data": "<NotAPolicy/>"},
        {"id": "bucket-private", "method": "PUT", "path": "/{c}", "query": "acl", "headers": {"x-amz-acl": "private"}},
        {"id": "anon-list-again", "method": "GET", "path": "/{c}", "auth": False},
        {"id": "delete-pub", "method": "DELETE", "path": "/{c}/pub"},
        {"id": "delete-priv", "method": "DELETE", "path": "/{c}/priv"},
        {"id": "delete-bucket", "method": "DELETE", "path": "/{c}"},
    ]},
    {"id": "s3-policy", "steps": [
        {"id": "create", "method": "PUT", "path": "/{c}"},
        {"id": "put", "method": "PUT", "path": "/{c}/k", "data": "x"},
        {"id": "get-none", "method": "GET", "path": "/{c}", "query": "policy"},
        {"id": "put-public-read", "method": "PUT", "path": "/{c}", "query": "policy",
         "data": '{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Principal":"*",'
                 '"Action":"s3:GetObject","Resource":"arn:aws:s3:::{c}/*"}]}'},
        {"id": "anon-get", "method": "GET", "path": "/{c}/k", "auth": False},
        {"id": "anon-list", "method": "GET", "path": "/{c}", "auth": False},
        {"id": "put-deny-ip", "method": "PUT", "path": "/{c}", "query": "policy",
         "data": '{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Principal":"*",'
                 '"Action":"s3:GetObject","Resource":"arn:aws:s3:::{c}/*"},{"Effect":"Deny","Principal":"*",'
                 '"Action":"s3:GetObject","Resource":"arn:aws:s3:::{c}/*",'
                 '"Condition":{"IpAddress":{"aws:SourceIp":"127.0.0.0/8"}}}]}'},
        {"id": "anon-get-denied", "method": "GET", "path": "/{c}/k", "auth": False},
        {"id": "owner-get-denied", "method": "GET", "path": "/{c}/k"},
        {"id": "put-not-json", "method": "PUT", "path": "/{c}", "query": "policy", "data": "not json"},
        {"id": "put-other-bucket", "method": "PUT", "path": "/{c}", "query": "policy",
         "data": '{"Statement":[{"Effect":"Allow","Principal":"*","Action":"s3:GetObject",'
                 '"Resource":"arn:aws:s3:::elsewhere-bucket/*"}]}'},
        {"id": "delete-policy", "method": "DELETE", "path": "/{c}", "query": "policy"},
        {"id": "anon-get-after", "method": "GET", "path": "/{c}/k", "auth": False},
        {"id": "delete-policy-again", "method": "DELETE", "path": "/{c}", "query": "policy"},
        {"id": "delete-k", "method": "DELETE", "path": "/{c}/k"},
        {"id": "delete-bucket", "method": "DELETE", "path": "/{c}"},
    ]},
    {"id": "s3-pab-ownership", "steps": [
        {"id": "create", "method": "PUT", "path": "/{c}"},
        {"id": "put-object", "method": "PUT", "path": "/{c}/k", "data": "x"},
        {"id": "get-pab-none", "method": "GET", "path": "/{c}", "query": "publicAccessBlock"},
        {"id": "put-pab-malformed", "method": "PUT", "path": "/{c}", "query": "publicAccessBlock",
         "data": "<PublicAccessBlockConfiguration><BlockPublicAcls>maybe</BlockPublicAcls>"
                 "</PublicAccessBlockConfiguration>"},
        {"id": "put-pab-all", "method": "PUT", "path": "/{c}", "query": "publicAccessBlock",
         "data": _PAB.format(*["true"] * 4)},
        {"id": "get-pab-all", "method": "GET", "path": "/{c}", "query": "publicAccessBlock"},
        {"id": "put-public-object", "method": "PUT", "path": "/{c}/pub", "data": "x",
         "headers": {"x-amz-acl": "public-read"}},
        {"id": "put-object-acl-public", "method": "PUT", "path": "/{c}/k", "query": "acl",
         "headers": {"x-amz-acl": "public-read"}},
        {"id": "put-bucket-acl-public", "method": "PUT", "path": "/{c}", "query": "acl",
         "headers": {"x-amz-acl": "public-read"}},
        {"id": "put-public-policy", "method": "PUT", "path": "/{c}", "query": "policy",
         "data": _PUBLIC_GET % "*"},
        {"id": "put-pab-off", "method": "PUT", "path": "/{c}", "query": "publicAccessBlock",
         "data": _PAB.format(*["false"] * 4)},
        {"id": "put-object-acl-public-allowed", "method": "PUT", "path": "/{c}/k", "query": "acl",
         "headers": {"x-amz-acl": "public-read"}},
        {"id": "anon-get-public", "method": "GET", "path": "/{c}/k", "auth": False},
        {"id": "put-pab-ignore", "method": "PUT", "path": "/{c}", "query": "publicAccessBlock",
         "data": _PAB.format("false", "true", "false", "false")},
        {"id": "anon-get-ignored", "method": "GET", "path": "/{c}/k", "auth": False},
        {"id": "delete-pab", "method": "DELETE", "path": "/{c}", "query": "publicAccessBlock"},
        {"id": "get-pab-deleted", "method": "GET", "path": "/{c}", "query": "publicAccessBlock"},
        {"id": "anon-get-again", "method": "GET", "path": "/{c}/k", "auth": False},
        {"id": "put-pol-object", "method": "PUT", "path": "/{c}/pol", "data": "p"},
        {"id": "put-public-policy-open", "method": "PUT", "path": "/{c}", "query": "policy",
         "data": _PUBLIC_GET % "pol"},
        {"id": "anon-get-by-policy", "method": "GET", "path": "/{c}/pol", "auth": False},
        {"id": "policy-status-public", "method": "GET", "path": "/{c}", "query": "policyStatus"},
        {"id": "put-pab-restrict", "method": "PUT", "path": "/{c}", "query": "publicAccessBlock",
         "data": _PAB.format("false", "false", "false", "true")},
        {"id": "anon-get-restricted", "method": "GET", "path": "/{c}/pol", "auth": False},
        {"id": "owner-get-restricted", "method": "GET", "path": "/{c}/pol"},
        {"id": "policy-status-restricted", "method": "GET", "path": "/{c}", "query": "policyStatus"},
        {"id": "delete-pab-restrict", "method": "DELETE", "path": "/{c}", "query": "publicAccessBlock"},
        {"id": "delete-policy", "method": "DELETE", "path": "/{c}", "query": "policy"},
        {"id": "delete-pol", "method": "DELETE", "path": "/{c}/pol"},
        {"id": "get-ownership-none", "method": "GET", "path": "/{c}", "query": "ownershipControls"},
        {"id": "put-ownership-enforced", "method": "PUT", "path": "/{c}", "query": "ownershipControls",
         "data": "<OwnershipControls><Rule><ObjectOwnership>BucketOwnerEnforced</ObjectOwnership></Rule>"
                 "</OwnershipControls>"},
        {"id": "get-ownership", "method": "GET", "path": "/{c}", "query": "ownershipControls"},
        {"id": "put-acl-enforced", "method": "PUT", "path": "/{c}/k", "query": "acl",
         "headers": {"x-amz-acl": "public-read"}},
        {"id": "delete-ownership", "method": "DELETE", "path": "/{c}", "query": "ownershipControls"},
        {"id": "get-ownership-deleted", "method": "GET", "path": "/{c}", "query": "ownershipControls"},
        {"id": "delete-k", "method": "DELETE", "path": "/{c}/k"},
        {"id": "delete-pub", "method": "DELETE", "path": "/{c}/pub"},
        {"id": "delete-bucket", "method": "DELETE", "path": "/{c}"},
    ]},
    {"id": "s3-basic-flow", "steps": [
        {"id": "create", "method": "PUT", "path": "/{c}"},
        {"id": "create-again", "method": "PUT", "path": "/{c}"},
        {"id": "head-bucket", "method": "HEAD", "path": "/{c}"},
        {"id": "put", "method": "PUT", "path": "/{c}/a/b.txt", "data": "hello",
         "headers": {"x-amz-meta-fruit": "apple", "Content-Type": "text/plain"}},
        {"id": "head", "method": "HEAD", "path": "/{c}/a/b.txt", "headers_present": ["x-amz-meta-fruit"]},
        {"id": "get", "method": "GET", "path": "/{c}/a/b.txt"},
        {"id": "get-range", "method": "GET", "path": "/{c}/a/b.txt", "headers": {"Range": "bytes=1-2"}},
        {"id": "copy", "method": "PUT", "path": "/{c}/c.txt", "headers": {"x-amz-copy-source": "/{c}/a/b.txt"}},
        {"id": "list-v1-delim", "method": "GET", "path": "/{c}", "query": "delimiter=%2F"},
        {"id": "list-v2", "method": "GET", "path": "/{c}", "query": "list-type=2"},
        {"id": "get-missing", "method": "GET", "path": "/{c}/nope"},
        {"id": "get-missing-bucket", "method": "GET", "path": "/{c2}/nope"},
        {"id": "delete-nonempty", "method": "DELETE", "path": "/{c}"},
        {"id": "delete", "method": "DELETE", "path": "/{c}/a/b.txt"},
        {"id": "delete-copy", "method": "DELETE", "path": "/{c}/c.txt"},
        {"id": "delete-absent", "method": "DELETE", "path": "/{c}/c.txt"},
        {"id": "delete-bucket", "method": "DELETE", "path": "/{c}"},
    ]},
    {"id": "s3-tagging-conditional", "steps": [
        {"id": "create", "method": "PUT", "path": "/{c}"},
        {"id": "put-if-none-match", "method": "PUT", "path": "/{c}/k", "data": "a", "headers": {"If-None-Match": "*"}},
        {"id": "put-if-none-match-exists", "method": "PUT", "path": "/{c}/k", "data": "b",
         "headers": {"If-None-Match": "*"}},
        {"id": "put-if-match-wrong", "method": "PUT", "path": "/{c}/k", "data": "b",
         "headers": {"If-Match": "\"00000000000000000000000000000000\""}},
        {"id": "put-if-match-right", "method": "PUT", "path": "/{c}/k", "data": "b",
         "headers": {"If-Match": "\"0cc175b9c0f1b6a831c399e269772661\""}},
        {"id": "put-if-match-absent", "method": "PUT", "path": "/{c}/absent", "data": "b",
         "headers": {"If-Match": "\"0cc175b9c0f1b6a831c399e269772661\""}},
        {"id": "delete-if-match-wrong", "method": "DELETE", "path": "/{c}/k",
         "headers": {"If-Match": "\"00000000000000000000000000000000\""}},
        {"id": "get-after-conditions", "method": "GET", "path": "/{c}/k"},
        {"id": "put-tagged", "method": "PUT", "path": "/{c}/t", "data": "x", "headers": {"x-amz-tagging": "a=1&b=2"}},
        {"id": "head-tagged", "method": "HEAD", "path": "/{c}/t", "headers_present": ["x-amz-tagging-count"]},
        {"id": "get-tagging", "method": "GET", "path": "/{c}/t", "query": "tagging"},
        {"id": "put-tagging", "method": "PUT", "path": "/{c}/t", "query": "tagging",
         "data": "<Tagging><TagSet><Tag><Key>x</Key><Value>y</Value></Tag></TagSet></Tagging>"},
        {"id": "get-tagging-after-put", "method": "GET", "path": "/{c}/t", "query": "tagging"},
        {"id": "put-tagging-11", "method": "PUT", "path": "/{c}/t", "query": "tagging",
         "data": "<Tagging><TagSet>" + "".join(f"<Tag><Key>k{i}</Key><Value>v</Value></Tag>" for i in range(11)) +
                 "</TagSet></Tagging>"},
        {"id": "put-tagging-long-key", "method": "PUT", "path": "/{c}/t", "query": "tagging",
         "data": "<Tagging><TagSet><Tag><Key>" + "k" * 129 + "</Key><Value>v</Value></Tag></TagSet></Tagging>"},
        {"id": "put-tagging-long-value", "method": "PUT", "path": "/{c}/t", "query": "tagging",
         "data": "<Tagging><TagSet><Tag><Key>k</Key><Value>" + "v" * 257 + "</Value></Tag></TagSet></Tagging>"},
        {"id": "put-tagging-malformed", "method": "PUT", "path": "/{c}/t", "query": "tagging", "data": "<Tagging><"},
        {"id": "put-tagging-duplicate", "method": "PUT", "path": "/{c}/t", "query": "tagging",
         "data": "<Tagging><TagSet><Tag><Key>d</Key><Value>1</Value></Tag><Tag><Key>d</Key><Value>2</Value></Tag>"
                 "</TagSet></Tagging>"},
        {"id": "get-tagging-unchanged", "method": "GET", "path": "/{c}/t", "query": "tagging"},
        {"id": "delete-tagging", "method": "DELETE", "path": "/{c}/t", "query": "tagging"},
        {"id": "get-tagging-after-delete", "method": "GET", "path": "/{c}/t", "query": "tagging"},
        {"id": "get-bucket-tagging-none", "method": "GET", "path": "/{c}", "query": "tagging"},
        {"id": "put-bucket-tagging", "method": "PUT", "path": "/{c}", "query": "tagging",
         "data": "<Tagging><TagSet><Tag><Key>team</Key><Value>backup</Value></Tag></TagSet></Tagging>"},
        {"id": "get-bucket-tagging", "method": "GET", "path": "/{c}", "query": "tagging"},
        {"id": "delete-bucket-tagging", "method": "DELETE", "path": "/{c}", "query": "tagging"},
        {"id": "get-bucket-tagging-after-delete", "method": "GET", "path": "/{c}", "query": "tagging"},
        {"id": "storage-class-rr", "method": "PUT", "path": "/{c}/rr", "data": "x",
         "headers": {"x-amz-storage-class": "REDUCED_REDUNDANCY"}},
        {"id": "get-lifecycle", "method": "GET", "path": "/{c}", "query": "lifecycle"},
        {"id": "bucket-name-dash-dot", "method": "PUT", "path": "/foo-.bar{c}"},
        {"id": "bucket-name-xn", "method": "PUT", "path": "/xn--{c}"},
        {"id": "bucket-name-xn-delete", "method": "DELETE", "path": "/xn--{c}"},
        {"id": "delete-objects", "method": "DELETE", "path": "/{c}/k"},
        {"id": "delete-t", "method": "DELETE", "path": "/{c}/t"},
        {"id": "delete-bucket", "method": "DELETE", "path": "/{c}"},
    ]},
    {"id": "s3-bucket-encryption", "steps": [
        {"id": "create", "method": "PUT", "path": "/{c}"},
        {"id": "get-none", "method": "GET", "path": "/{c}", "query": "encryption"},
        {"id": "put-aes256", "method": "PUT", "path": "/{c}", "query": "encryption",
         "data": "<ServerSideEncryptionConfiguration><Rule><ApplyServerSideEncryptionByDefault>"
                 "<SSEAlgorithm>AES256</SSEAlgorithm></ApplyServerSideEncryptionByDefault></Rule>"
                 "</ServerSideEncryptionConfiguration>"},
        {"id": "put-kms", "method": "PUT", "path": "/{c}", "query": "encryption",
         "data": "<ServerSideEncryptionConfiguration><Rule><ApplyServerSideEncryptionByDefault>"
                 "<SSEAlgorithm>aws:kms</SSEAlgorithm></ApplyServerSideEncryptionByDefault></Rule>"
                 "</ServerSideEncryptionConfiguration>"},
        {"id": "get-after-put", "method": "GET", "path": "/{c}", "query": "encryption"},
        {"id": "put-plain-object", "method": "PUT", "path": "/{c}/k", "data": "x",
         "headers_present": ["x-amz-server-side-encryption"]},
        {"id": "delete-object", "method": "DELETE", "path": "/{c}/k"},
        {"id": "delete-encryption", "method": "DELETE", "path": "/{c}", "query": "encryption"},
        {"id": "delete-bucket", "method": "DELETE", "path": "/{c}"},
    ]},
    {"id": "s3-lifecycle", "steps": [
        {"id": "create", "method": "PUT", "path": "/{c}"},
        {"id": "get-none", "method": "GET", "path": "/{c}", "query": "lifecycle"},
        _lc("put", _LC_RULE.format(id="logs", prefix="logs/", action=_LC_EXP.format("Days", "30")) +
            _LC_RULE.format(id="mpu", prefix="", action="<AbortIncompleteMultipartUpload><DaysAfterInitiation>7"
                            "</DaysAfterInitiation></AbortIncompleteMultipartUpload>")),
        {"id": "get", "method": "GET", "path": "/{c}", "query": "lifecycle"},
        _lc("put-days-0", _LC_RULE.format(id="a", prefix="p/", action=_LC_EXP.format("Days", "0"))),
        _lc("put-duplicate-id", _LC_RULE.format(id="a", prefix="p/", action=_LC_EXP.format("Days", "1")) +
            _LC_RULE.format(id="a", prefix="q/", action=_LC_EXP.format("Days", "1"))),
        _lc("put-id-256", _LC_RULE.format(id="i" * 256, prefix="p/", action=_LC_EXP.format("Days", "1"))),
        _lc("put-no-rules", ""),
        _lc("put-1001-rules", "".join(_LC_RULE.format(id=f"r{i}", prefix=f"p{i}/", action=_LC_EXP.format("Days", "1"))
                                      for i in range(1001))),
        _lc("put-no-action", _LC_RULE.format(id="a", prefix="p/", action="")),
        _lc("put-unknown-action", _LC_RULE.format(id="a", prefix="p/", action="<Frobnicate><Days>1</Days></Frobnicate>")),
        _lc("put-days-and-date", _LC_RULE.format(id="a", prefix="p/", action="<Expiration><Days>1</Days>"
                                                 "<Date>2030-01-01T00:00:00Z</Date></Expiration>")),
        _lc("put-date-noon", _LC_RULE.format(id="a", prefix="p/", action=_LC_EXP.format("Date", "2030-01-01T12:00:00Z"))),
        _lc("put-abort-with-tag", "<Rule><ID>a</ID><Filter><Tag><Key>k</Key><Value>v</Value></Tag></Filter>"
            "<Status>Enabled</Status><AbortIncompleteMultipartUpload><DaysAfterInitiation>1</DaysAfterInitiation>"
            "</AbortIncompleteMultipartUpload></Rule>"),
        _lc("put-transition", _LC_RULE.format(id="a", prefix="p/", action="<Transition><Days>30</Days>"
                                              "<StorageClass>GLACIER</StorageClass></Transition>")),
        {"id": "put-malformed", "method": "PUT", "path": "/{c}", "query": "lifecycle",
         "data": "<LifecycleConfiguration><Rule>"},
        {"id": "get-unchanged", "method": "GET", "path": "/{c}", "query": "lifecycle"},
        {"id": "delete", "method": "DELETE", "path": "/{c}", "query": "lifecycle"},
        {"id": "get-after-delete", "method": "GET", "path": "/{c}", "query": "lifecycle"},
        {"id": "delete-bucket", "method": "DELETE", "path": "/{c}"},
    ]},
    # The versioned actions (NoncurrentVersionExpiration, ExpiredObjectDeleteMarker) on a versioned
    # bucket: the round trip and the validation answers. Rule IDs in sorted order: RGW lists rules
    # by ID, Onggi (as AWS) in the order they were put.
    {"id": "s3-lifecycle-versioned", "steps": [
        {"id": "create", "method": "PUT", "path": "/{c}"},
        {"id": "put-versioning", "method": "PUT", "path": "/{c}", "query": "versioning=",
         "data": "<VersioningConfiguration><Status>Enabled</Status></VersioningConfiguration>"},
        _lc("put", _LC_RULE.format(id="r1-nc", prefix="logs/", action="<NoncurrentVersionExpiration><NoncurrentDays>30"
                                   "</NoncurrentDays></NoncurrentVersionExpiration>") +
            _LC_RULE.format(id="r2-dm", prefix="d/", action="<Expiration><ExpiredObjectDeleteMarker>true"
                            "</ExpiredObjectDeleteMarker></Expiration>") +
            _LC_RULE.format(id="r3-both", prefix="tmp/", action=_LC_EXP.format("Days", "5") +
                            "<NoncurrentVersionExpiration><NoncurrentDays>1</NoncurrentDays>"
                            "</NoncurrentVersionExpiration>")),
        {"id": "get", "method": "GET", "path": "/{c}", "query": "lifecycle"},
        _lc("put-noncurrent-no-days", _LC_RULE.format(id="a", prefix="p/", action="<NoncurrentVersionExpiration>"
                                                      "</NoncurrentVersionExpiration>")),
        _lc("put-noncurrent-days-0", _LC_RULE.format(id="a", prefix="p/", action="<NoncurrentVersionExpiration>"
                                                     "<NoncurrentDays>0</NoncurrentDays></NoncurrentVersionExpiration>")),
        _lc("put-noncurrent-days-negative", _LC_RULE.format(id="a", prefix="p/", action="<NoncurrentVersionExpiration>"
                                                            "<NoncurrentDays>-1</NoncurrentDays>"
                                                            "</NoncurrentVersionExpiration>")),
        _lc("put-delete-marker-with-days", _LC_RULE.format(id="a", prefix="p/", action="<Expiration><Days>1</Days>"
                                                           "<ExpiredObjectDeleteMarker>true</ExpiredObjectDeleteMarker>"
                                                           "</Expiration>")),
        _lc("put-delete-marker-with-date", _LC_RULE.format(id="a", prefix="p/", action="<Expiration><Date>"
                                                           "2030-01-01T00:00:00Z</Date><ExpiredObjectDeleteMarker>true"
                                                           "</ExpiredObjectDeleteMarker></Expiration>")),
        _lc("put-delete-marker-with-tag", "<Rule><ID>a</ID><Filter><Tag><Key>k</Key><Value>v</Value></Tag></Filter>"
            "<Status>Enabled</Status><Expiration><ExpiredObjectDeleteMarker>true</ExpiredObjectDeleteMarker>"
            "</Expiration></Rule>"),
        _lc("put-delete-marker-false-alone", _LC_RULE.format(id="dm", prefix="d/", action="<Expiration>"
                                                             "<ExpiredObjectDeleteMarker>false"
                                                             "</ExpiredObjectDeleteMarker></Expiration>")),
        {"id": "get-unchanged", "method": "GET", "path": "/{c}", "query": "lifecycle"},
        _lc("put-delete-marker-false", _LC_RULE.format(id="dm", prefix="d/", action="<Expiration>"
                                                       "<ExpiredObjectDeleteMarker>false</ExpiredObjectDeleteMarker>"
                                                       "</Expiration><NoncurrentVersionExpiration><NoncurrentDays>3"
                                                       "</NoncurrentDays></NoncurrentVersionExpiration>")),
        {"id": "get-delete-marker-false", "method": "GET", "path": "/{c}", "query": "lifecycle"},
        _lc("put-newer", _LC_RULE.format(id="nc", prefix="n/", action="<NoncurrentVersionExpiration><NoncurrentDays>"
                                         "2</NoncurrentDays><NewerNoncurrentVersions>3</NewerNoncurrentVersions>"
                                         "</NoncurrentVersionExpiration>")),
        {"id": "get-newer", "method": "GET", "path": "/{c}", "query": "lifecycle"},
        {"id": "delete", "method": "DELETE", "path": "/{c}", "query": "lifecycle"},
        {"id": "delete-bucket", "method": "DELETE", "path": "/{c}"},
    ]},
    # The RGW anchor runs with static websites off (405 to every ?website): Onggi's answers are
    # AWS's (known_differences.json); the redirect location header is stored by both.
    {"id": "s3-website-config", "steps": [
        {"id": "create", "method": "PUT", "path": "/{c}"},
        {"id": "get-none", "method": "GET", "path": "/{c}", "query": "website"},
        {"id": "put", "method": "PUT", "path": "/{c}", "query": "website",
         "data": "<WebsiteConfiguration><IndexDocument><Suffix>index.html</Suffix></IndexDocument>"
                 "<ErrorDocument><Key>err.html</Key></ErrorDocument></WebsiteConfiguration>"},
        {"id": "get", "method": "GET", "path": "/{c}", "query": "website"},
        {"id": "put-bad-suffix", "method": "PUT", "path": "/{c}", "query": "website",
         "data": "<WebsiteConfiguration><IndexDocument><Suffix>a/b</Suffix></IndexDocument></WebsiteConfiguration>"},
        {"id": "put-malformed", "method": "PUT", "path": "/{c}", "query": "website", "data": "<WebsiteConfiguration>"},
        {"id": "delete", "method": "DELETE", "path": "/{c}", "query": "website"},
        {"id": "get-after-delete", "method": "GET", "path": "/{c}", "query": "website"},
        {"id": "put-redirect-object", "method": "PUT", "path": "/{c}/r", "data": "x",
         "headers": {"x-amz-website-redirect-location": "/index.html"}},
        {"id": "head-redirect-object", "method": "HEAD", "path": "/{c}/r",
         "headers_present": ["x-amz-website-redirect-location"]},
        {"id": "put-bad-redirect", "method": "PUT", "path": "/{c}/b", "data": "x",
         "headers": {"x-amz-website-redirect-location": "index.html"}},
        {"id": "delete-r", "method": "DELETE", "path": "/{c}/r"},
        {"id": "delete-b", "method": "DELETE", "path": "/{c}/b"},
        {"id": "delete-bucket", "method": "DELETE", "path": "/{c}"},
    ]},
    # RGW's `tenant:bucket` (docs/s3-compat.md "Account namespaces"): the harness's user has no
    # tenant on RGW, so ":bucket" (the empty tenant) is its own bucket, as the global S3 name on
    # Onggi; a tenant (account) that does not exist has no bucket.
    {"id": "s3-account-bucket", "steps": [
        {"id": "create", "method": "PUT", "path": "/{c}"},
        {"id": "put", "method": "PUT", "path": "/{c}/k", "data": "kept"},
        {"id": "get-empty-account", "method": "GET", "path": "/%3A{c}/k"},
        {"id": "head-empty-account", "method": "HEAD", "path": "/%3A{c}"},
        {"id": "list-empty-account", "method": "GET", "path": "/%3A{c}", "query": "list-type=2"},
        {"id": "get-no-such-account", "method": "GET", "path": "/nosuchaccount%3A{c}/k"},
        {"id": "anon-get-no-such-account", "method": "GET", "path": "/nosuchaccount:{c}/k", "auth": False},
        {"id": "copy-from-empty-account", "method": "PUT", "path": "/{c}/c", "headers": {"x-amz-copy-source": ":{c}/k"}},
        {"id": "get-copy", "method": "GET", "path": "/{c}/c"},
        {"id": "copy-from-no-such-account", "method": "PUT", "path": "/{c}/d",
         "headers": {"x-amz-copy-source": "nosuchaccount:{c}/k"}},
        {"id": "create-in-no-such-account", "method": "PUT", "path": "/nosuchaccount%3A{c}-x"},
        {"id": "delete-k", "method": "DELETE", "path": "/%3A{c}/k"},
        {"id": "delete-c", "method": "DELETE", "path": "/{c}/c"},
        {"id": "delete-bucket", "method": "DELETE", "path": "/{c}"},
    ]},
]

CASES = {"swift": SWIFT, "s3": S3}
