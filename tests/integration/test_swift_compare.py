"""One scripted Swift session, run against OpenStack Swift (the anchor in ../shared/anchors/swift)
and against Onggi, to compare status codes, headers and bodies (docs/swift-compat.md).

As a test it runs the session against the test cluster and checks every status against what
the anchor answered (EXPECTED below, recorded from Swift 2.30.1). By hand it prints every
difference between two endpoints:

    /usr/bin/python3 tests/integration/test_swift_compare.py \\
        http://127.0.0.1:8080/auth/v1.0 test:tester testing \\
        http://127.0.0.1:9000/auth/v1.0 dev:admin devsecret
"""

import http.client
import json
import os
import re
import sys
import time
import urllib.parse

import pytest

# Headers that differ on every request or every deployment, not in behaviour.
VOLATILE = {"date", "x-trans-id", "x-openstack-request-id", "x-timestamp", "last-modified", "etag",
            "x-auth-token", "x-storage-token", "x-auth-token-expires", "x-storage-url", "content-length",
            "connection", "x-copied-from-last-modified", "www-authenticate"}


def _req(base, method, path, headers=None, body=None, chunked=False):
    u = urllib.parse.urlsplit(base)
    c = http.client.HTTPConnection(u.hostname, u.port, timeout=30)
    try:
        c.putrequest(method, path, skip_accept_encoding=True)
        for k, v in (headers or {}).items():
            c.putheader(k, v)
        if chunked:
            c.putheader("Transfer-Encoding", "chunked")
            c.endheaders()
            for piece in body:
                c.send(b"%x\r\n%s\r\n" % (len(piece), piece))
            c.send(b"0\r\n\r\n")
        else:
            if body is not None:
                c.putheader("Content-Length", str(len(body)))
            c.endheaders(body)
        r = c.getresponse()
        return r.status, {k.lower(): v for k, v in r.getheaders()}, r.read()
    finally:
        c.close()


def session(auth_url, user, key):
    """Runs the session; returns [(step name, status, headers, body)]."""
    out = []
    u = urllib.parse.urlsplit(auth_url)
    base = f"{u.scheme}://{u.netloc}"

    def step(name, method, path, headers=None, body=None, chunked=False):
        st, h, b = _req(base, method, path, headers, body, chunked)
        out.append((name, st, h, b))
        return st, h, b

    step("auth bad key", "GET", u.path, {"X-Auth-User": user, "X-Auth-Key": key + "x"})
    st, h, _ = step("auth", "GET", u.path, {"X-Auth-User": user, "X-Auth-Key": key})
    tok = {"X-Auth-Token": h["x-auth-token"]}
    acct = urllib.parse.urlsplit(h["x-storage-url"]).path
    c = f"{acct}/cmp-{os.getpid()}-{int(time.time())}"
    step("no token", "GET", acct)
    step("head account", "HEAD", acct, tok)
    step("put container", "PUT", c, tok)
    step("put container again", "PUT", c, tok)
    step("head missing container", "HEAD", c + "-nope", tok)
    step("put object etag mismatch", "PUT", c + "/o1", dict(tok, ETag="0" * 32), b"hello")
    step("put object", "PUT", c + "/o1", dict(tok, **{"Content-Type": "text/plain", "X-Object-Meta-Color": "blue"}),
         b"hello")
    step("put object chunked", "PUT", c + "/dir/o2", tok, [b"abc", b"def"], chunked=True)
    step("put object no length", "PUT", c + "/o3", tok)
    step("put object delete-at past", "PUT", c + "/o4", dict(tok, **{"X-Delete-At": "1"}), b"x")
    step("get object", "GET", c + "/o1", tok)
    step("head object", "HEAD", c + "/o1", tok)
    step("get missing object", "GET", c + "/nope", tok)
    step("get range", "GET", c + "/o1", dict(tok, Range="bytes=1-2"))
    step("get bad range", "GET", c + "/o1", dict(tok, Range="bytes=10-20"))
    step("get if-none-match", "GET", c + "/o1", dict(tok, **{"If-None-Match": "5d41402abc4b2a76b9719d911017c592"}))
    step("get if-match fail", "GET", c + "/o1", dict(tok, **{"If-Match": "nope"}))
    step("post object", "POST", c + "/o1", dict(tok, **{"X-Object-Meta-Size": "big"}))
    step("head after post", "HEAD", c + "/o1", tok)
    step("copy", "COPY", c + "/o1", dict(tok, Destination=c.split("/", 3)[3] + "/o1-copy"))
    step("put x-copy-from", "PUT", c + "/o1-copy2", dict(tok, **{"X-Copy-From": c.split("/", 3)[3] + "/o1"}), b"")
    step("list text", "GET", c, tok)
    step("list json", "GET", c + "?format=json", tok)
    step("list xml", "GET", c + "?format=xml", tok)
    step("list delimiter", "GET", c + "?delimiter=/", tok)
    step("list delimiter json", "GET", c + "?delimiter=/&format=json", tok)
    step("list prefix", "GET", c + "?prefix=dir/", tok)
    step("list marker end_marker", "GET", c + "?marker=o1&end_marker=o1-copy2", tok)
    step("list limit", "GET", c + "?limit=1", tok)
    step("list reverse", "GET", c + "?reverse=true", tok)
    step("list empty", "GET", c + "?prefix=zzz", tok)
    step("list empty json", "GET", c + "?prefix=zzz&format=json", tok)
    step("list limit too big", "GET", c + "?limit=10001", tok)
    step("list accept json", "GET", c, dict(tok, Accept="application/json"))
    step("post container", "POST", c, dict(tok, **{"X-Container-Meta-Team": "a"}))
    step("head container", "HEAD", c, tok)
    step("quota bad", "POST", c, dict(tok, **{"X-Container-Meta-Quota-Bytes": "x"}))
    step("quota set", "POST", c, dict(tok, **{"X-Container-Meta-Quota-Bytes": "20"}))
    step("put over quota", "PUT", c + "/big", tok, b"x" * 30)
    step("quota remove", "POST", c, dict(tok, **{"X-Remove-Container-Meta-Quota-Bytes": "x"}))
    step("delete non-empty container", "DELETE", c, tok)
    for o in ("o1", "dir/o2", "o1-copy", "o1-copy2"):
        step(f"delete {o}", "DELETE", f"{c}/{o}", tok)
    step("delete missing object", "DELETE", c + "/o1", tok)
    step("post account", "POST", acct, dict(tok, **{"X-Account-Meta-Team": "t"}))
    step("account json", "GET", acct + "?format=json&limit=1", tok)
    step("delete container", "DELETE", c, tok)
    step("delete container again", "DELETE", c, tok)
    step("info", "GET", "/info")
    step("method not allowed", "PATCH", acct, tok)
    return out


def _norm_body(name, body):
    if "json" in name or name in ("info",):
        try:
            v = json.loads(body)
        except ValueError:
            return body
        if isinstance(v, list):
            for e in v:
                e.pop("last_modified", None)
                if "name" in e and isinstance(e["name"], str):
                    e["name"] = re.sub(r"cmp-\d+-\d+", "C", e["name"])
            return v
        return sorted(v)
    return re.sub(rb"cmp-\d+-\d+", b"C", re.sub(rb"\d{4}-\d\d-\d\dT[\d:.]+", b"T", body))


def diff(a, b):
    """Differences between two session results, as text lines."""
    lines = []
    for (name, sa, ha, ba), (_, sb, hb, bb) in zip(a, b):
        if sa != sb:
            lines.append(f"{name}: status {sa} vs {sb}")
        ka, kb = set(ha) - VOLATILE, set(hb) - VOLATILE
        if ka - kb:
            lines.append(f"{name}: headers only in first: {sorted(ka - kb)}")
        if kb - ka:
            lines.append(f"{name}: headers only in second: {sorted(kb - ka)}")
        for k in sorted(ka & kb):
            if ha[k] != hb[k] and not k.startswith("x-account-") and k not in ("x-container-object-count",):
                lines.append(f"{name}: {k}: {ha[k]!r} vs {hb[k]!r}")
        na, nb = _norm_body(name, ba), _norm_body(name, bb)
        if na != nb and not name.startswith("account") and name != "info":
            lines.append(f"{name}: body {ba[:200]!r} vs {bb[:200]!r}")
    return lines


# Statuses OpenStack Swift 2.30.1 answered (the anchor), step by step.
EXPECTED = {
    "auth bad key": 401, "auth": 200, "no token": 401, "head account": 204, "put container": 201,
    "put container again": 202, "head missing container": 404, "put object etag mismatch": 422,
    "put object": 201, "put object chunked": 201, "put object no length": 411, "put object delete-at past": 400,
    "get object": 200, "head object": 200, "get missing object": 404, "get range": 206, "get bad range": 416,
    "get if-none-match": 304, "get if-match fail": 412, "post object": 202, "head after post": 200, "copy": 201,
    "put x-copy-from": 201, "list text": 200, "list json": 200, "list xml": 200, "list delimiter": 200,
    "list delimiter json": 200, "list prefix": 200, "list marker end_marker": 200, "list limit": 200,
    "list reverse": 200, "list empty": 204, "list empty json": 200, "list limit too big": 412,
    "list accept json": 200, "post container": 204, "head container": 204, "quota bad": 400, "quota set": 204,
    "put over quota": 413, "quota remove": 204, "delete non-empty container": 409, "delete o1": 204,
    "delete dir/o2": 204, "delete o1-copy": 204, "delete o1-copy2": 204, "delete missing object": 404,
    "post account": 204, "account json": 200, "delete container": 204, "delete container again": 404,
    "info": 200, "method not allowed": 405,
}


def test_session_statuses_match_swift(cluster):
    cluster.admin("swift-user-add", "--account", "cmp", "--user", "admin", "--key", "cmpkey", "--admin")
    got = {name: st for name, st, _, _ in session(f"{cluster.endpoint()}/auth/v1.0", "cmp:admin", "cmpkey")}
    assert got == EXPECTED


if __name__ == "__main__":
    if len(sys.argv) != 7:
        sys.exit(__doc__)
    first, second = session(*sys.argv[1:4]), session(*sys.argv[4:7])
    for line in diff(first, second):
        print(line)
    print("statuses:", {n: s for n, s, _, _ in first} == {n: s for n, s, _, _ in second} and "identical" or "differ")
