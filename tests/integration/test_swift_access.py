"""Swift access features with the real clients (docs/swift-compat.md, "TempURL, FormPost, CORS"):
TempURL (`swift tempurl` + curl: account and container keys, sha1/sha256/sha512, prefix, IP range,
ISO 8601 expiry, inline/filename, expiry and method checks, the headers a TempURL may send and
see), FormPost (curl -F), container CORS (curl preflights and actual requests), and anonymous
reads of public SLO/DLO manifests."""

import base64
import hashlib
import hmac
import json
import subprocess
import time

import pytest

from conftest import http_request, uniq

ACCT = "acct-swacc"
KEY = "swacc-admin-key"
READER_KEY = "swacc-reader-key"


@pytest.fixture(scope="module")
def sa(cluster):
    cluster.admin("account-add", ACCT)
    cluster.admin("swift-user-add", "--account", ACCT, "--user", "admin", "--key", KEY, "--admin")
    cluster.admin("swift-user-add", "--account", ACCT, "--user", "reader", "--key", READER_KEY)
    return cluster


def swift(cluster, *args, user="admin", key=KEY):
    r = subprocess.run(["swift", "-A", f"{cluster.endpoint()}/auth/v1.0", "-U", f"{ACCT}:{user}", "-K", key, *args],
                       capture_output=True, text=True, timeout=120)
    assert r.returncode == 0, f"swift {args}: {r.stdout}{r.stderr}"
    return r.stdout


def tempurl(*args):
    r = subprocess.run(["swift", "tempurl", *args], capture_output=True, text=True, timeout=60)
    assert r.returncode == 0, r.stderr
    return r.stdout.strip()


def curl(cluster, url, *args):
    """curl -si: (status, headers lowercased, body)."""
    r = subprocess.run(["curl", "-si", "--max-time", "60", *args, cluster.endpoint() + url], capture_output=True,
                       timeout=90)
    head, _, body = r.stdout.partition(b"\r\n\r\n")
    lines = head.decode("latin-1").split("\r\n")
    hdrs = {}
    for line in lines[1:]:
        k, _, v = line.partition(":")
        hdrs[k.strip().lower()] = v.strip()
    return int(lines[0].split()[1]), hdrs, body


def token(cluster, user="admin", key=KEY):
    st, h, _ = http_request(cluster.port(), "GET", "/auth/v1.0", {"X-Auth-User": f"{ACCT}:{user}", "X-Auth-Key": key})
    assert st == 200
    return h["x-auth-token"]


@pytest.fixture(scope="module")
def tu(sa):
    """A container with two objects and an account Temp-URL key."""
    c = uniq("tu")
    swift(sa, "post", "-m", "Temp-URL-Key:acct-key-1")
    swift(sa, "post", c)
    tok = token(sa)
    for name, body in (("dir/file.txt", b"hello tempurl"), ("pre/a", b"A"), ("other", b"O")):
        st, _, _ = http_request(sa.port(), "PUT", f"/v1/AUTH_{ACCT}/{c}/{name}",
                                {"X-Auth-Token": tok, "X-Object-Meta-Secret": "s", "X-Object-Meta-Public-Tag": "p",
                                 "Content-Type": "text/plain"}, body)
        assert st == 201
    return c


def test_tempurl_get_head_put_delete(sa, tu):
    p = f"/v1/AUTH_{ACCT}/{tu}/dir/file.txt"
    get = tempurl("GET", "600", p, "acct-key-1")
    st, h, body = curl(sa, get)
    assert (st, body) == (200, b"hello tempurl")
    assert h["content-disposition"] == "attachment; filename=\"file.txt\"; filename*=UTF-8''file.txt"
    assert "expires" in h
    # outgoing_remove_headers: x-object-meta-* but x-object-meta-public-*
    assert "x-object-meta-secret" not in h and h["x-object-meta-public-tag"] == "p"
    st, h, body = curl(sa, get, "-I")  # HEAD with a GET signature
    assert st == 200 and h["content-length"] == "13"
    st, _, body = curl(sa, get, "-X", "PUT", "--data-binary", "x")  # wrong method
    assert (st, body) == (401, b"401 Unauthorized: Temp URL invalid\n")
    put = tempurl("PUT", "600", p, "acct-key-1")
    st, _, _ = curl(sa, put, "-X", "PUT", "--data-binary", "replaced")
    assert st == 201
    st, _, body = curl(sa, get)
    assert (st, body) == (200, b"replaced")
    st, _, body = curl(sa, put, "-X", "PUT", "-H", "X-Copy-From: a/b")
    assert (st, body) == (400, b"The header 'X-Copy-From' is not allowed in this tempurl")
    st, _, _ = curl(sa, put, "-X", "GET")
    assert st == 401
    st, _, _ = curl(sa, f"/v1/AUTH_{ACCT}/{tu}/dir/file.txt")  # no signature: the container is private
    assert st == 401
    p2 = f"/v1/AUTH_{ACCT}/{tu}/other"
    st, _, _ = curl(sa, tempurl("DELETE", "600", p2, "acct-key-1"), "-X", "DELETE")
    assert st == 204
    st, _, _ = curl(sa, get.replace("/dir/file.txt", "/other"))  # a signature covers one path
    assert st == 401


def test_tempurl_expired_and_bad(sa, tu):
    p = f"/v1/AUTH_{ACCT}/{tu}/pre/a"
    st, _, body = curl(sa, tempurl("--absolute", "GET", "1000", p, "acct-key-1"))
    assert (st, body) == (401, b"401 Unauthorized: Temp URL invalid\n")
    st, _, _ = curl(sa, tempurl("GET", "600", p, "wrong-key"))
    assert st == 401
    st, _, _ = curl(sa, p + "?temp_url_sig=abc&temp_url_expires=9999999999")
    assert st == 401
    st, _, _ = curl(sa, p + "?temp_url_expires=9999999999")
    assert st == 401


def test_tempurl_digests_iso_prefix_ip(sa, tu):
    p = f"/v1/AUTH_{ACCT}/{tu}/pre/a"
    for digest in ("sha1", "sha256", "sha512"):
        st, _, body = curl(sa, tempurl("--digest", digest, "GET", "600", p, "acct-key-1"))
        assert (st, body) == (200, b"A"), digest
    st, _, body = curl(sa, tempurl("--iso8601", "GET", "600", p, "acct-key-1"))
    assert (st, body) == (200, b"A")
    # the "sha512:<base64>" form with standard base64 (swift tempurl writes the URL-safe one)
    exp = int(time.time()) + 600
    mac = hmac.new(b"acct-key-1", f"GET\n{exp}\n{p}".encode(), hashlib.sha512).digest()
    sig = "sha512:" + base64.b64encode(mac).decode().replace("+", "%2B").replace("/", "%2F").replace("=", "%3D")
    st, _, _ = curl(sa, f"{p}?temp_url_sig={sig}&temp_url_expires={exp}")
    assert st == 200
    pre = tempurl("--prefix-based", "GET", "600", f"/v1/AUTH_{ACCT}/{tu}/pre/", "acct-key-1")
    st, _, body = curl(sa, pre.replace("/pre/?", "/pre/a?"))
    assert (st, body) == (200, b"A")
    st, _, _ = curl(sa, pre.replace("/pre/?", "/dir/file.txt?"))  # outside the prefix
    assert st == 401
    st, _, body = curl(sa, tempurl("--ip-range", "127.0.0.0/8", "GET", "600", p, "acct-key-1"))
    assert (st, body) == (200, b"A")
    st, _, _ = curl(sa, tempurl("--ip-range", "10.0.0.0/8", "GET", "600", p, "acct-key-1"))
    assert st == 401


def test_tempurl_inline_filename(sa, tu):
    get = tempurl("GET", "600", f"/v1/AUTH_{ACCT}/{tu}/pre/a", "acct-key-1")
    _, h, _ = curl(sa, get + "&inline")
    assert h["content-disposition"] == "inline"
    _, h, _ = curl(sa, get + "&filename=my%20report.pdf")
    assert h["content-disposition"] == "attachment; filename=\"my report.pdf\"; filename*=UTF-8''my%20report.pdf"
    _, h, _ = curl(sa, get + "&inline&filename=r.txt")
    assert h["content-disposition"] == "inline; filename=\"r.txt\"; filename*=UTF-8''r.txt"


def test_tempurl_container_key_hidden_from_readers(sa):
    c = uniq("tuc")
    swift(sa, "post", c, "-m", "Temp-URL-Key:cont-key", "-r", f"{ACCT}:reader")
    swift(sa, "upload", c, "/etc/hostname", "--object-name", "o")
    st, _, _ = curl(sa, tempurl("--digest", "sha512", "GET", "600", f"/v1/AUTH_{ACCT}/{c}/o", "cont-key"))
    assert st == 200
    assert "Temp-Url-Key: cont-key" in swift(sa, "stat", c)
    st, h, _ = curl(sa, f"/v1/AUTH_{ACCT}/{c}", "-I", "-H", f"X-Auth-Token: {token(sa, 'reader', READER_KEY)}")
    assert st == 204 and "x-container-meta-temp-url-key" not in h
    # the container key does not open another container
    swift(sa, "post", c + "-2")
    swift(sa, "upload", c + "-2", "/etc/hostname", "--object-name", "o")
    st, _, _ = curl(sa, tempurl("GET", "600", f"/v1/AUTH_{ACCT}/{c}-2/o", "cont-key"))
    assert st == 401


def test_info_advertises_tempurl_formpost(sa):
    st, _, body = http_request(sa.port(), "GET", "/info")
    info = json.loads(body)
    assert info["tempurl"]["methods"] == ["GET", "HEAD", "PUT", "POST", "DELETE"]
    assert info["tempurl"]["allowed_digests"] == ["sha1", "sha256", "sha512"]
    assert info["formpost"]["allowed_digests"] == ["sha1", "sha256", "sha512"]


def formpost_sig(path, redirect, size, count, expires, key="acct-key-1"):
    msg = f"{path}\n{redirect}\n{size}\n{count}\n{expires}"
    return hmac.new(key.encode(), msg.encode(), hashlib.sha256).hexdigest()


def test_formpost(sa, tu, tmp_path):
    path = f"/v1/AUTH_{ACCT}/{tu}/up/"
    exp = int(time.time()) + 600
    f1 = tmp_path / "f1"
    f1.write_bytes(b"first file")
    big = tmp_path / "big"
    big.write_bytes(b"x" * 200_000)  # larger than the parser's 64 KiB buffer
    sig = formpost_sig(path, "http://app.example/done", 300_000, 2, exp)
    st, h, _ = curl(sa, path, "-F", "redirect=http://app.example/done", "-F", "max_file_size=300000",
                    "-F", "max_file_count=2", "-F", f"expires={exp}", "-F", f"signature={sig}",
                    "-F", f"file1=@{f1};filename=one.txt", "-F", f"file2=@{big};filename=two.bin")
    assert (st, h["location"]) == (303, "http://app.example/done?status=201&message=")
    out = swift(sa, "download", tu, "up/one.txt", "-o", "-")
    assert out == "first file"
    st, h, _ = curl(sa, f"/v1/AUTH_{ACCT}/{tu}/up/two.bin", "-I", "-H", f"X-Auth-Token: {token(sa)}")
    assert (st, h["content-length"]) == (200, "200000")
    sig = formpost_sig(path, "", 5, 1, exp)
    st, _, body = curl(sa, path, "-F", "max_file_size=5", "-F", "max_file_count=1", "-F", f"expires={exp}",
                       "-F", f"signature={sig}", "-F", f"file=@{f1};filename=big.txt")
    assert (st, body) == (400, b"FormPost: max_file_size exceeded")
    st, _, _ = curl(sa, f"/v1/AUTH_{ACCT}/{tu}/up/big.txt", "-I", "-H", f"X-Auth-Token: {token(sa)}")
    assert st == 404
    st, _, body = curl(sa, path, "-F", "max_file_size=5", "-F", "max_file_count=1", "-F", f"expires={exp}",
                       "-F", "signature=00" * 32, "-F", f"file=@{f1};filename=x.txt")
    assert (st, body) == (401, b"FormPost: Invalid Signature")
    st, _, body = curl(sa, path, "-F", "max_file_size=5", "-F", "max_file_count=1", "-F", "expires=100",
                       "-F", f"signature={sig}", "-F", f"file=@{f1};filename=x.txt")
    assert (st, body) == (401, b"FormPost: Form Expired")
    st, _, body = curl(sa, path, "-F", "max_file_size=5", "-F", "max_file_count=1", "-F", f"expires={exp}",
                       "-F", f"signature={sig}")
    assert (st, body) == (400, b"400 Bad Request\r\nFormPost: No Files To Process")


def test_cors(sa):
    c = uniq("cors")
    swift(sa, "post", c, "-m", "Access-Control-Allow-Origin:http://a.example http://b.example",
          "-m", "Access-Control-Max-Age:600", "-m", "Access-Control-Expose-Headers:X-Custom")
    swift(sa, "upload", c, "/etc/hostname", "--object-name", "o", "-H", "X-Object-Meta-Color: red")
    o = f"/v1/AUTH_{ACCT}/{c}/o"
    st, h, _ = curl(sa, o, "-X", "OPTIONS", "-H", "Origin: http://a.example", "-H",
                    "Access-Control-Request-Method: PUT", "-H", "Access-Control-Request-Headers: x-auth-token")
    assert st == 200
    assert h["access-control-allow-origin"] == "http://a.example"
    assert "PUT" in h["access-control-allow-methods"] and h["access-control-max-age"] == "600"
    assert h["access-control-allow-headers"] == "x-auth-token"
    assert h["vary"] == "Origin, Access-Control-Request-Headers"
    st, _, _ = curl(sa, o, "-X", "OPTIONS", "-H", "Origin: http://evil.example", "-H",
                    "Access-Control-Request-Method: GET")
    assert st == 401
    st, _, _ = curl(sa, o, "-X", "OPTIONS", "-H", "Origin: http://a.example", "-H",
                    "Access-Control-Request-Method: PATCH")
    assert st == 401
    st, h, _ = curl(sa, o, "-H", "Origin: http://b.example", "-H", f"X-Auth-Token: {token(sa)}")
    # an authenticated answer is private, so it varies by the credentials too (test_cdn.py)
    assert st == 200 and h["access-control-allow-origin"] == "http://b.example"
    assert h["vary"] == "Origin, Authorization, X-Auth-Token"
    expose = [x.strip() for x in h["access-control-expose-headers"].split(",")]
    assert "etag" in expose and "x-object-meta-color" in expose and "x-custom" in expose
    st, h, _ = curl(sa, o, "-H", "Origin: http://evil.example", "-H", f"X-Auth-Token: {token(sa)}")
    assert st == 200 and "access-control-allow-origin" not in h
    st, h, _ = curl(sa, o, "-H", "Origin: http://a.example")  # denied answers carry CORS too
    assert st == 401 and h["access-control-allow-origin"] == "http://a.example"
    swift(sa, "post", c, "-m", "Access-Control-Allow-Origin:*")
    st, h, _ = curl(sa, o, "-H", "Origin: http://any.example", "-H", f"X-Auth-Token: {token(sa)}")
    assert h["access-control-allow-origin"] == "*" and "Origin" not in h.get("vary", "")


def test_public_large_objects(sa):
    pub, seg = uniq("pub"), uniq("seg")
    swift(sa, "post", pub, "-r", ".r:*")
    swift(sa, "post", seg)
    tok = token(sa)
    for name, body in (("s1", b"aaaa"), ("s2", b"bbbb")):
        assert http_request(sa.port(), "PUT", f"/v1/AUTH_{ACCT}/{seg}/{name}", {"X-Auth-Token": tok}, body)[0] == 201
    assert http_request(sa.port(), "PUT", f"/v1/AUTH_{ACCT}/{pub}/dlo",
                        {"X-Auth-Token": tok, "X-Object-Manifest": f"{seg}/s"}, b"")[0] == 201
    manifest = json.dumps([{"path": f"{seg}/s1"}, {"path": f"{seg}/s2"}]).encode()
    assert http_request(sa.port(), "PUT", f"/v1/AUTH_{ACCT}/{pub}/slo?multipart-manifest=put",
                        {"X-Auth-Token": tok}, manifest)[0] == 201
    # Segments private: Swift checks them with the reader's own identity (anonymous here)
    st, _, _ = curl(sa, f"/v1/AUTH_{ACCT}/{pub}/dlo")
    assert st == 401
    st, _, body = curl(sa, f"/v1/AUTH_{ACCT}/{pub}/slo")
    assert st == 409 and b"a segment is in a container this request may not read" in body
    st, h, _ = curl(sa, f"/v1/AUTH_{ACCT}/{pub}/slo", "-I")
    assert st == 200 and h["content-length"] == "8"
    # Readable segments: the SLO reads; a DLO lists its segment container, which needs .rlistings
    swift(sa, "post", seg, "-r", ".r:*")
    st, _, body = curl(sa, f"/v1/AUTH_{ACCT}/{pub}/slo")
    assert (st, body) == (200, b"aaaabbbb")
    st, _, _ = curl(sa, f"/v1/AUTH_{ACCT}/{pub}/dlo")
    assert st == 401
    swift(sa, "post", seg, "-r", ".r:*,.rlistings")
    st, _, body = curl(sa, f"/v1/AUTH_{ACCT}/{pub}/dlo")
    assert (st, body) == (200, b"aaaabbbb")
