"""Swift large objects (docs/swift-compat.md "Large objects"): static (SLO, ?multipart-manifest=put)
and dynamic (DLO, X-Object-Manifest) large objects, driven by the `swift` CLI and python-swiftclient
from /usr/bin/python3, plus a scripted session whose statuses were recorded from OpenStack Swift
2.30.1 (the anchor in ../shared/anchors/swift). By hand, the session prints every difference
between two endpoints:

    /usr/bin/python3 tests/integration/test_swift_slo.py \\
        http://127.0.0.1:8080/auth/v1.0 test:tester testing \\
        http://127.0.0.1:9000/auth/v1.0 dev:admin devsecret
"""

import hashlib
import json
import os
import subprocess
import sys
import time
import urllib.parse

import pytest

sys.path.insert(0, os.path.dirname(__file__))
from test_swift_compare import _req, diff  # noqa: E402

MiB = 1 << 20
ACCT = "acct-slo"
KEY = "slo-admin-key"


def md5(b):
    return hashlib.md5(b).hexdigest()


# ---------------------------------------------------------------- the scripted session


def session(auth_url, user, key):
    """SLO/DLO requests in Swift's own words; returns [(step name, status, headers, body)]."""
    out = []
    u = urllib.parse.urlsplit(auth_url)
    base = f"{u.scheme}://{u.netloc}"

    def step(name, method, path, headers=None, body=None):
        st, h, b = _req(base, method, path, dict(tok, **(headers or {})), body)
        out.append((name, st, h, b))
        return st, h, b

    st, h, _ = _req(base, "GET", u.path, {"X-Auth-User": user, "X-Auth-Key": key})
    tok = {"X-Auth-Token": h["x-auth-token"]}
    acct = urllib.parse.urlsplit(h["x-storage-url"]).path
    name = f"cmp-{os.getpid()}-{int(time.time())}"
    c, s = f"{acct}/{name}", f"{acct}/{name}_seg"
    step("put container", "PUT", c)
    step("put segment container", "PUT", s)
    a, b = b"a" * 5, b"b" * 7
    step("put seg a", "PUT", s + "/a", body=a)
    step("put seg b", "PUT", s + "/b", body=b)
    man = [{"path": f"/{name}_seg/a", "etag": md5(a), "size_bytes": 5},
           {"path": f"{name}_seg/b", "etag": md5(b), "size_bytes": 7, "range": "1-3"}]
    step("slo put", "PUT", c + "/slo?multipart-manifest=put", body=json.dumps(man).encode())
    step("slo head", "HEAD", c + "/slo")
    step("slo get", "GET", c + "/slo")
    step("slo get range", "GET", c + "/slo", {"Range": "bytes=3-6"})
    step("slo get if-match", "GET", c + "/slo", {"If-Match": '"nope"'})
    step("slo manifest get json", "GET", c + "/slo?multipart-manifest=get")
    step("list json", "GET", c + "?format=json")
    step("head container", "HEAD", c)
    bad = [{"path": f"/{name}_seg/a", "etag": "x" * 32, "size_bytes": 6}, {"path": f"/{name}_seg/zz"},
           {"path": "/nocontainer-here/zz"}]
    step("slo bad segments", "PUT", c + "/bad?multipart-manifest=put", body=json.dumps(bad).encode())
    step("slo bad segments json", "PUT", c + "/bad?multipart-manifest=put", {"Accept": "application/json"},
         json.dumps(bad).encode())
    step("slo not json", "PUT", c + "/bad?multipart-manifest=put", body=b"{nope")
    step("slo not a list", "PUT", c + "/bad?multipart-manifest=put", body=b"{}")
    step("slo bad path", "PUT", c + "/bad?multipart-manifest=put", body=b'[{"path": "nopath"}]')
    step("slo bad range", "PUT", c + "/bad?multipart-manifest=put",
         body=json.dumps([{"path": f"/{name}_seg/a", "range": "10-20"}]).encode())
    step("slo etag header mismatch", "PUT", c + "/bad?multipart-manifest=put", {"Etag": "0" * 32},
         json.dumps(man).encode())
    step("slo empty list", "PUT", c + "/empty?multipart-manifest=put", body=b"[]")
    step("slo empty get", "GET", c + "/empty")
    step("dlo bad manifest header", "PUT", c + "/dlo", {"X-Object-Manifest": "noslash"}, b"")
    step("dlo put", "PUT", c + "/dlo", {"X-Object-Manifest": f"{name}_seg/"}, b"")
    step("dlo put prefix", "PUT", c + "/dlo", {"X-Object-Manifest": f"{name}_seg/a"}, b"")
    step("dlo head", "HEAD", c + "/dlo")
    step("dlo get", "GET", c + "/dlo")
    step("dlo get range", "GET", c + "/dlo", {"Range": "bytes=1-3"})
    step("dlo get if-match", "GET", c + "/dlo", {"If-Match": "nope"})
    step("dlo manifest get", "GET", c + "/dlo?multipart-manifest=get")
    step("dlo multipart delete", "DELETE", c + "/dlo?multipart-manifest=delete")
    step("missing multipart delete", "DELETE", c + "/nothere?multipart-manifest=delete")
    step("slo multipart delete", "DELETE", c + "/slo?multipart-manifest=delete")
    step("slo multipart delete again json", "DELETE", c + "/slo?multipart-manifest=delete",
         {"Accept": "application/json"})
    step("segment gone", "HEAD", s + "/a")
    for o in ("dlo", "empty"):
        step(f"delete {o}", "DELETE", f"{c}/{o}")
    step("delete container", "DELETE", c)
    step("delete segment container", "DELETE", s)
    return out


# Statuses OpenStack Swift 2.30.1 answered (the anchor), step by step.
EXPECTED = {
    "put container": 201, "put segment container": 201, "put seg a": 201, "put seg b": 201, "slo put": 201,
    "slo head": 200, "slo get": 200, "slo get range": 206, "slo get if-match": 412, "slo manifest get json": 200,
    "list json": 200, "head container": 204, "slo bad segments": 400, "slo bad segments json": 400,
    "slo not json": 400, "slo not a list": 400, "slo bad path": 400, "slo bad range": 400,
    "slo etag header mismatch": 422, "slo empty list": 201, "slo empty get": 200,
    "dlo bad manifest header": 400, "dlo put": 400, "dlo put prefix": 201, "dlo head": 200, "dlo get": 200,
    "dlo get range": 206, "dlo get if-match": 412, "dlo manifest get": 200, "dlo multipart delete": 200,
    "missing multipart delete": 200, "slo multipart delete": 200, "slo multipart delete again json": 200,
    "segment gone": 404, "delete dlo": 204, "delete empty": 204, "delete container": 204,
    "delete segment container": 204,
}


@pytest.fixture(scope="module")
def slo(cluster):
    cluster.admin("account-add", ACCT)
    cluster.admin("swift-user-add", "--account", ACCT, "--user", "admin", "--key", KEY, "--admin")
    return cluster


def test_session_statuses_match_swift(slo):
    got = session(f"{slo.endpoint()}/auth/v1.0", f"{ACCT}:admin", KEY)
    assert {n: st for n, st, _, _ in got} == EXPECTED
    by = {n: (st, h, b) for n, st, h, b in got}
    # Bodies and headers a client reads.
    assert by["slo get"][2] == b"aaaaabbb" and by["slo get range"][2] == b"aabb"
    assert by["slo head"][1]["x-static-large-object"] == "True"
    assert by["slo head"][1]["etag"] == '"%s"' % md5((md5(b"a" * 5) + md5(b"b" * 7) + ":1-3;").encode())
    assert by["slo head"][1]["content-length"] == "8"
    assert by["slo get range"][1]["content-range"] == "bytes 3-6/8"
    stored = json.loads(by["slo manifest get json"][2])
    assert [(e["bytes"], e["hash"], e.get("range")) for e in stored] == [(5, md5(b"a" * 5), None),
                                                                        (7, md5(b"b" * 7), "1-3")]
    assert by["slo manifest get json"][1]["etag"] == md5(by["slo manifest get json"][2])
    listing = json.loads(by["list json"][2])
    assert listing[0]["bytes"] == 8 and listing[0]["slo_etag"] == by["slo head"][1]["etag"]
    assert listing[0]["hash"] == md5(by["slo manifest get json"][2])
    text = by["slo bad segments"][2].decode()
    assert text.startswith("Errors:\n") and "Size Mismatch" in text and "Etag Mismatch" in text
    assert "zz, 404 Not Found" in text
    assert len(json.loads(by["slo bad segments json"][2])["Errors"]) == 4
    assert by["slo not json"][2] == b"Manifest must be valid JSON.\n"
    assert by["slo empty get"][1]["etag"] == '"%s"' % md5(b"")
    assert by["dlo get"][2] == b"aaaaa" and by["dlo head"][1]["etag"] == '"%s"' % md5(md5(b"a" * 5).encode())
    assert by["dlo get range"][2] == b"aaa"
    assert "Not an SLO manifest" in by["dlo multipart delete"][2].decode()
    assert by["slo multipart delete"][2].startswith(b"Number Deleted: 3\nNumber Not Found: 0\n")
    assert json.loads(by["slo multipart delete again json"][2])["Number Not Found"] == 1


def test_info_advertises_large_objects(slo):
    st, _, body = _req(slo.endpoint(), "GET", "/info")
    info = json.loads(body)
    assert st == 200 and "dlo" in info
    assert info["slo"]["max_manifest_segments"] == 1000 and info["slo"]["max_manifest_size"] == 8 * MiB


# ---------------------------------------------------------------- the swift CLI


def cli(cluster, *args, cwd=None):
    r = subprocess.run(["swift", "-A", f"{cluster.endpoint()}/auth/v1.0", "-U", f"{ACCT}:admin", "-K", KEY, *args],
                       capture_output=True, text=True, timeout=300, cwd=cwd)
    assert r.returncode == 0, f"swift {' '.join(args)} -> {r.returncode}\n{r.stdout}\n{r.stderr}"
    return r.stdout


def conn(cluster):
    import swiftclient.client as sc
    return sc.Connection(authurl=f"{cluster.endpoint()}/auth/v1.0", user=f"{ACCT}:admin", key=KEY,
                         auth_version="1", retries=0)


def segments(c, container):
    try:
        return sorted(o["name"] for o in c.get_container(container, full_listing=True)[1])
    except Exception:  # the CLI removes nothing else; an absent container is simply empty
        return []


@pytest.mark.parametrize("use_slo", [False, True])
def test_cli_upload_segmented_round_trip(slo, tmp_path, use_slo):
    cont = f"cli-{'slo' if use_slo else 'dlo'}"
    extra = ["--use-slo"] if use_slo else []
    data = os.urandom(25 * MiB + 12345)
    src = tmp_path / "big.bin"
    src.write_bytes(data)
    cli(slo, "upload", "-S", "10M", *extra, cont, "big.bin", cwd=tmp_path)
    c = conn(slo)
    h = c.head_object(cont, "big.bin")
    assert int(h["content-length"]) == len(data)
    if use_slo:
        assert h["x-static-large-object"] == "True"
    else:
        assert h["x-object-manifest"].startswith(f"{cont}_segments/big.bin/")
    seg_etags = [hashlib.md5(data[i:i + 10 * MiB]).hexdigest() for i in range(0, len(data), 10 * MiB)]
    assert h["etag"] == '"%s"' % md5("".join(seg_etags).encode())
    first = segments(c, f"{cont}_segments")
    assert len(first) == 3
    cli(slo, "download", cont, "big.bin", "-o", str(tmp_path / "out.bin"))
    assert md5((tmp_path / "out.bin").read_bytes()) == md5(data)
    # Ranges across segment boundaries (10 MiB) and inside one.
    for lo, hi in ((10 * MiB - 3, 10 * MiB + 4), (0, 20 * MiB + 1), (len(data) - 10, len(data) - 1), (5, 9)):
        rh, body = c.get_object(cont, "big.bin", headers={"Range": f"bytes={lo}-{hi}"})
        assert body == data[lo:hi + 1] and rh["content-range"] == f"bytes {lo}-{hi}/{len(data)}"
    # Overwrite with other data: the CLI finds the old segments through what we answer
    # (X-Object-Manifest or ?multipart-manifest=get) and deletes them.
    data2 = os.urandom(12 * MiB)
    src.write_bytes(data2)
    os.utime(src, (time.time() + 5, time.time() + 5))  # new segment names (they carry the mtime)
    cli(slo, "upload", "-S", "10M", *extra, cont, "big.bin", cwd=tmp_path)
    second = segments(c, f"{cont}_segments")
    assert len(second) == 2 and not set(first) & set(second)
    _, body = c.get_object(cont, "big.bin")
    assert md5(body) == md5(data2)
    cli(slo, "delete", cont, "big.bin")
    assert segments(c, f"{cont}_segments") == []
    assert segments(c, cont) == []


# ---------------------------------------------------------------- the API


def test_slo_nested_and_ranged_segments(slo):
    c = conn(slo)
    c.put_container("nest")
    parts = [os.urandom(n) for n in (70000, 1, 200000, 33)]
    for i, p in enumerate(parts):
        c.put_object("nest", f"p{i}", p)
    inner = [{"path": "/nest/p0", "etag": md5(parts[0]), "size_bytes": len(parts[0])},
             {"path": "/nest/p1", "etag": None, "size_bytes": None}]
    c.put_object("nest", "inner", json.dumps(inner), query_string="multipart-manifest=put")
    inner_bytes = parts[0] + parts[1]
    ih = c.head_object("nest", "inner")
    outer = [{"path": "/nest/p2", "range": "100-150099"}, {"path": "/nest/inner", "etag": ih["etag"].strip('"')},
             {"path": "/nest/p3", "range": "-10"}, {"path": "/nest/inner", "range": "69990-"}]
    c.put_object("nest", "outer", json.dumps(outer), query_string="multipart-manifest=put")
    want = parts[2][100:150100] + inner_bytes + parts[3][-10:] + inner_bytes[69990:]
    h, body = c.get_object("nest", "outer")
    assert body == want and int(h["content-length"]) == len(want)
    for lo in (0, 149999, 150000, 150000 + 70000, len(want) - 12):
        hi = min(lo + 70001, len(want) - 1)
        _, part = c.get_object("nest", "outer", headers={"Range": f"bytes={lo}-{hi}"})
        assert part == want[lo:hi + 1], (lo, hi)
    stored = json.loads(c.get_object("nest", "outer", query_string="multipart-manifest=get")[1])
    assert stored[1]["sub_slo"] is True and stored[0]["range"] == "100-150099" and stored[2]["range"] == "23-32"
    # A segment overwritten after the PUT is never served as part of the SLO (Swift: 409).
    c.put_object("nest", "p0", b"changed")
    from swiftclient.exceptions import ClientException
    with pytest.raises(ClientException) as e:
        c.get_object("nest", "outer", headers={"Range": "bytes=150000-150010"})
    assert e.value.http_status == 409
    # Deleting with multipart-manifest=delete removes nested segments too (inner twice: its
    # second reference finds it gone).
    url, tok = c.get_auth()
    st, _, body = _req(slo.endpoint(), "DELETE", urllib.parse.urlsplit(url).path + "/nest/outer?multipart-manifest=delete",
                       {"X-Auth-Token": tok, "Accept": "application/json"})
    res = json.loads(body)
    assert st == 200 and res["Response Status"] == "200 OK" and res["Errors"] == []
    assert (res["Number Deleted"], res["Number Not Found"]) == (6, 1)
    assert segments(c, "nest") == []


def test_dlo_listing_order_and_changes(slo):
    c = conn(slo)
    c.put_container("dlo-segs")
    c.put_container("dlo")
    pieces = {f"part/{i:03d}": os.urandom(1000 + i) for i in (3, 1, 2, 10)}
    for k, v in pieces.items():
        c.put_object("dlo-segs", k, v)
    c.put_object("dlo-segs", "other", b"not mine")
    c.put_object("dlo", "m", b"", headers={"X-Object-Manifest": "dlo-segs/part/"})
    order = sorted(pieces)
    want = b"".join(pieces[k] for k in order)
    h, body = c.get_object("dlo", "m")
    assert body == want
    assert h["etag"] == '"%s"' % md5("".join(md5(pieces[k]) for k in order).encode())
    _, body = c.get_object("dlo", "m", headers={"Range": "bytes=1000-3100"})
    assert body == want[1000:3101]
    # A DLO follows its prefix: a new segment shows up at once.
    c.put_object("dlo-segs", "part/004", b"xyz")
    order.insert(3, "part/004")
    pieces["part/004"] = b"xyz"
    _, body = c.get_object("dlo", "m")
    assert body == b"".join(pieces[k] for k in order)
    # The manifest itself, and a container listing that shows it as the 0-byte object it is.
    h, body = c.get_object("dlo", "m", query_string="multipart-manifest=get")
    assert body == b"" and h["x-object-manifest"] == "dlo-segs/part/"
    assert c.get_container("dlo")[1][0]["bytes"] == 0


def test_other_accounts_container(slo):
    """A container that exists but belongs to another account: 404 for objects in it and for SLO
    segments in it. (This path once leaked the bucket record in check_container, which made the
    ASan gateway exit 1 on SIGTERM; the fixture's teardown checks the exit code.)"""
    slo.admin("swift-user-add", "--account", "acct-slo-other", "--user", "admin", "--key", "k2", "--admin")
    import swiftclient.client as sc
    from swiftclient.exceptions import ClientException
    other = sc.Connection(authurl=f"{slo.endpoint()}/auth/v1.0", user="acct-slo-other:admin", key="k2",
                          auth_version="1", retries=0)
    other.put_container("theirs")
    other.put_object("theirs", "seg", b"x" * 10)
    c = conn(slo)
    for call in (lambda: c.get_object("theirs", "seg"), lambda: c.put_object("theirs", "o", b"y")):
        with pytest.raises(ClientException) as e:
            call()
        assert e.value.http_status == 404
    c.put_container("mine")
    with pytest.raises(ClientException) as e:
        c.put_object("mine", "slo", json.dumps([{"path": "/theirs/seg"}]), query_string="multipart-manifest=put")
    assert e.value.http_status == 400 and b"/theirs/seg, 404 Not Found" in e.value.http_response_content


# ---------------------------------------------------------------- limits (review fixes)


def _rss_kib(pid):
    with open(f"/proc/{pid}/status") as f:
        for line in f:
            if line.startswith("VmRSS:"):
                return int(line.split()[1])
    raise AssertionError("no VmRSS")


def test_hostile_manifest_refused_with_bounded_memory(slo):
    """8 MiB of `[1,1,1,...]` (4 M entries, each an error) once cost the gateway ~0.5 GiB: an entry
    and an error line per element before the segment count was checked. Now the parse stops at entry
    1001 with Swift's 413, and the gateway's RSS barely moves."""
    c = conn(slo)
    c.put_container("hostile")
    url, tok = c.get_auth()
    path = urllib.parse.urlsplit(url).path + "/hostile/m?multipart-manifest=put"
    body = b"[" + b"1," * ((8 * MiB - 3) // 2) + b"1]"
    assert len(body) <= 8 * MiB
    pid = slo.procs["gw"].pid
    before = _rss_kib(pid)
    for _ in range(3):
        st, _, resp = _req(slo.endpoint(), "PUT", path, {"X-Auth-Token": tok}, body)
        assert st == 413 and resp == b"Number of object-backed segments must be <= 1000", (st, resp[:200])
    grown = _rss_kib(pid) - before
    assert grown < 160 * 1024, f"gateway RSS grew by {grown} KiB"
    # Below the limit, one line per bad entry as before.
    st, _, resp = _req(slo.endpoint(), "PUT", path, {"X-Auth-Token": tok}, b"[" + b"1," * 999 + b"1]")
    assert st == 400 and resp.count(b"\n") == 1000 and resp.startswith(b"Index 0: not a JSON object\n")


def test_shared_sub_slo_read_once_per_request(slo):
    """300 ranged entries naming one 100-segment sub-SLO: the GET parses the sub-manifest once per
    request (the per-request cache; its bookkeeping is unit-tested) and serves the right bytes."""
    c = conn(slo)
    c.put_container("shared")
    parts = [os.urandom(2) for _ in range(100)]
    for i, p in enumerate(parts):
        c.put_object("shared", f"s{i:03d}", p)
    inner = [{"path": f"/shared/s{i:03d}", "etag": md5(p), "size_bytes": 2} for i, p in enumerate(parts)]
    c.put_object("shared", "inner", json.dumps(inner), query_string="multipart-manifest=put")
    inner_bytes = b"".join(parts)
    outer = [{"path": "/shared/inner", "range": f"{2 * (i % 100)}-{2 * (i % 100) + 1 + (i // 100)}"}
             for i in range(300)]
    c.put_object("shared", "outer", json.dumps(outer), query_string="multipart-manifest=put")
    want = b"".join(inner_bytes[2 * (i % 100):2 * (i % 100) + 2 + (i // 100)] for i in range(300))
    h, got = c.get_object("shared", "outer")
    assert got == want and int(h["content-length"]) == len(want)
    _, got = c.get_object("shared", "outer", headers={"Range": "bytes=150-700"})
    assert got == want[150:701]


def test_nesting_deeper_than_the_limit_refused_at_put(slo):
    """Ten levels of nested SLOs read back; an eleventh would fail every GET, so its PUT is refused
    (400, the segment listed with "Max recursion depth exceeded") instead of stored."""
    from swiftclient.exceptions import ClientException
    c = conn(slo)
    c.put_container("deep")
    c.put_object("deep", "leaf", b"leaf-bytes")
    below = "leaf"
    for level in range(1, 11):
        name = f"s{level:02d}"
        c.put_object("deep", name, json.dumps([{"path": f"/deep/{below}"}]), query_string="multipart-manifest=put")
        below = name
    assert c.get_object("deep", "s10")[1] == b"leaf-bytes"
    with pytest.raises(ClientException) as e:
        c.put_object("deep", "s11", json.dumps([{"path": "/deep/s10"}]), query_string="multipart-manifest=put")
    assert e.value.http_status == 400
    assert e.value.http_response_content == b"Errors:\n/deep/s10, Max recursion depth exceeded\n"
    with pytest.raises(ClientException) as e:
        c.head_object("deep", "s11")
    assert e.value.http_status == 404
    # A wide manifest whose entries all share one 9-deep sub-SLO is fine (and walked once).
    c.put_object("deep", "wide", json.dumps([{"path": "/deep/s09"}] * 1000), query_string="multipart-manifest=put")
    assert c.get_object("deep", "wide", headers={"Range": "bytes=0-19"})[1] == b"leaf-bytes" * 2


if __name__ == "__main__":
    if len(sys.argv) != 7:
        sys.exit(__doc__)
    first, second = session(*sys.argv[1:4]), session(*sys.argv[4:7])
    for line in diff(first, second):
        print(line)
    same = {n: s for n, s, _, _ in first} == {n: s for n, s, _, _ in second}
    print("statuses:", "identical" if same else "differ")
