"""Swift's legacy versioned writes (X-Versions-Location: stack mode, X-History-Location: history
mode), as Swift 2.30 with allow_versioned_writes, with the real swift CLI, python-swiftclient and
curl: archive naming, restore order, history delete markers, the container settings and their
refusals, byte-exact content through archive and restore."""
import hashlib
import json
import os
import subprocess
import time
import urllib.parse

import pytest
from swiftclient.exceptions import ClientException

# the same Swift user, CLI and curl helpers as the object-versioning tests
from test_swift_versions import MARKER_TYPE, cli, curl, sv  # noqa: F401  (sv is a fixture)
from test_swift_access import formpost_sig
from conftest import uniq


def archive(sv, a):
    return sv.get_container(a, full_listing=True)[1]


def get(sv, c, o):
    return sv.get_object(c, o)[1]


def pair(sv, header):
    c, a = uniq("swlegc"), uniq("swlega")
    sv.put_container(a)
    sv.put_container(c, headers={header: a})
    return c, a


def test_stack_mode_archives_and_restores_in_order(cluster, sv):
    c, a = pair(sv, "X-Versions-Location")
    assert sv.head_container(c)["x-versions-location"] == a
    bodies = [os.urandom(n) for n in (10, 20000, 3 << 20, 7)]  # inline and chunked objects
    for i, b in enumerate(bodies):
        sv.put_object(c, "dir/obj", b, headers={"X-Object-Meta-N": str(i)}, content_type=f"app/v{i}")
    listing = archive(sv, a)
    # Swift's names: 3 hex digits of the name's length, the name, "/", the old version's X-Timestamp
    assert len(listing) == 3
    assert all(e["name"].startswith("007dir/obj/") for e in listing)
    stamps = [e["name"][len("007dir/obj/"):] for e in listing]
    assert stamps == sorted(stamps) and all(len(s) == 16 and s[10] == "." for s in stamps)
    assert [e["hash"] for e in listing] == [hashlib.md5(b).hexdigest() for b in bodies[:3]]
    assert [e["bytes"] for e in listing] == [len(b) for b in bodies[:3]]
    # an archived copy keeps its bytes, type and metadata
    h, body = sv.get_object(a, listing[1]["name"])
    assert body == bodies[1] and h["content-type"] == "app/v1" and h["x-object-meta-n"] == "1"
    assert get(sv, c, "dir/obj") == bodies[3]
    # each DELETE brings back the newest archived copy and removes it from the archive
    for i in (2, 1, 0):
        sv.delete_object(c, "dir/obj")
        h, body = sv.get_object(c, "dir/obj")
        assert body == bodies[i] and h["x-object-meta-n"] == str(i) and h["content-type"] == f"app/v{i}"
        assert len(archive(sv, a)) == i
    # with an empty archive, DELETE deletes; then 404
    sv.delete_object(c, "dir/obj")
    with pytest.raises(ClientException) as e:
        sv.head_object(c, "dir/obj")
    assert e.value.http_status == 404
    st, _, _ = curl(sv, "DELETE", f"{c}/dir/obj")
    assert st == 404


def test_stack_mode_copy_and_cli(cluster, sv, tmp_path):
    c, a = pair(sv, "X-Versions-Location")
    sv.put_object(c, "s", b"source")
    sv.put_object(c, "d", b"first")
    st, _, _ = curl(sv, "COPY", f"{c}/s", "-H", f"Destination: {c}/d")
    assert st == 201
    sv.put_object(c, "d", b"", headers={"X-Copy-From": f"{c}/s"})
    assert [get(sv, a, e["name"]) for e in archive(sv, a)] == [b"first", b"source"]
    # a POST changes metadata only: nothing archived (as Swift)
    sv.post_object(c, "d", headers={"X-Object-Meta-X": "1"})
    assert len(archive(sv, a)) == 2
    # the swift CLI's upload over an object archives it too
    f = tmp_path / "up"
    f.write_bytes(b"from the cli")
    cli(cluster, "upload", "--object-name", "d", c, str(f))
    assert len(archive(sv, a)) == 3
    cli(cluster, "delete", c, "d")
    assert get(sv, c, "d") == b"source"


def test_formpost_archives(cluster, sv, tmp_path):
    c, a = pair(sv, "X-Versions-Location")
    sv.post_container(c, headers={"X-Container-Meta-Temp-URL-Key": "legkey"})
    sv.put_object(c, "up/f.txt", b"before")
    path = urllib.parse.urlsplit(sv.url).path + f"/{c}/up/"
    exp = int(time.time()) + 600
    f = tmp_path / "f"
    f.write_bytes(b"after")
    sig = formpost_sig(path, "", 100, 1, exp, key="legkey")
    r = subprocess.run(["curl", "-s", "-o", "/dev/null", "-w", "%{http_code}", "-F", "max_file_size=100",
                        "-F", "max_file_count=1", "-F", f"expires={exp}", "-F", f"signature={sig}",
                        "-F", f"file=@{f};filename=f.txt", f"{sv.url}/{c}/up/"], capture_output=True, timeout=60)
    assert r.stdout == b"201"
    assert get(sv, c, "up/f.txt") == b"after"
    assert [(e["name"][:12], get(sv, a, e["name"])) for e in archive(sv, a)] == [("008up/f.txt/", b"before")]


def test_history_mode_keeps_everything_and_marks_deletes(cluster, sv):
    c, a = pair(sv, "X-History-Location")
    h = sv.head_container(c)
    assert h["x-history-location"] == a and "x-versions-location" not in h
    sv.put_object(c, "h", b"h1")
    sv.put_object(c, "h", b"h2")
    sv.delete_object(c, "h")
    with pytest.raises(ClientException) as e:
        sv.get_object(c, "h")
    assert e.value.http_status == 404
    listing = archive(sv, a)
    assert [(e["name"][:5], e["content_type"], e["bytes"]) for e in listing] == [
        ("001h/", "application/octet-stream", 2), ("001h/", "application/octet-stream", 2),
        ("001h/", MARKER_TYPE, 0)]
    assert [get(sv, a, e["name"]) for e in listing[:2]] == [b"h1", b"h2"]
    # DELETE of an absent object: Swift still writes a marker, then answers 404
    st, _, _ = curl(sv, "DELETE", f"{c}/nope")
    assert st == 404
    assert [e["content_type"] for e in archive(sv, a) if e["name"].startswith("004nope/")] == [MARKER_TYPE]


def test_stack_delete_under_history_marker(cluster, sv):
    """A stack-mode DELETE whose newest archived entry is a history-mode marker: the object is
    absent, so the newest copy below the marker comes back and the marker goes (legacy.py)."""
    c, a = pair(sv, "X-History-Location")
    sv.put_object(c, "o", b"v1")
    sv.delete_object(c, "o")  # archive: v1, marker
    sv.post_container(c, headers={"X-Versions-Location": a, "X-History-Location": ""})
    assert sv.head_container(c)["x-versions-location"] == a
    sv.delete_object(c, "o")
    assert get(sv, c, "o") == b"v1"
    assert archive(sv, a) == []


def test_container_settings(cluster, sv):
    c, a = pair(sv, "X-Versions-Location")
    st, _, body = curl(sv, "POST", c, "-H", f"X-Versions-Location: {a}", "-H", f"X-History-Location: {a}")
    assert (st, body) == (400, b"Only one of x-versions-location or x-history-location may be specified")
    st, _, body = curl(sv, "POST", c, "-H", "X-Versions-Location: a/b")
    assert (st, body) == (412, b"Container name cannot contain slashes")
    # X-Versions-Enabled is refused on a legacy container, with Swift's words
    st, _, body = curl(sv, "POST", c, "-H", "X-Versions-Enabled: true")
    assert st == 400 and b"already using the legacy versioned writes" in body
    assert "x-versions-enabled" not in sv.head_container(c)
    # an empty value removes; so does X-Remove-History-Location
    sv.post_container(c, headers={"X-Versions-Location": ""})
    assert "x-versions-location" not in sv.head_container(c)
    sv.post_container(c, headers={"X-History-Location": a})
    assert sv.head_container(c)["x-history-location"] == a
    sv.post_container(c, headers={"X-Remove-History-Location": "x"})
    h = sv.head_container(c)
    assert "x-history-location" not in h and "x-versions-location" not in h
    sv.put_object(c, "o", b"1")
    sv.put_object(c, "o", b"2")
    assert archive(sv, a) == []
    # the other way round: a container with object versioning refuses a legacy mode
    v = uniq("swlegv")
    sv.put_container(v, headers={"X-Versions-Enabled": "true"})
    st, _, _ = curl(sv, "POST", v, "-H", f"X-Versions-Location: {a}")
    assert st == 400
    assert "x-versions-location" not in sv.head_container(v)
    # the container metadata listing shows no internal entry
    assert not any(k.startswith("x-onggi") for k in sv.head_container(c))


def test_missing_archive_refuses_overwrite(cluster, sv):
    c = uniq("swlegc")
    sv.put_container(c, headers={"X-Versions-Location": c + "-absent"})
    sv.put_object(c, "o", b"first")  # nothing to archive: no archive needed
    st, _, _ = curl(sv, "PUT", f"{c}/o", "--data-binary", "second")
    assert st == 412
    assert get(sv, c, "o") == b"first"
    sv.put_container(c + "-absent")
    sv.put_object(c, "o", b"second")
    assert [get(sv, c + "-absent", e["name"]) for e in archive(sv, c + "-absent")] == [b"first"]


def test_info_advertises_versioned_writes(cluster):
    info = json.loads(subprocess.run(["curl", "-s", f"{cluster.endpoint()}/info"], capture_output=True,
                                     timeout=60).stdout)
    assert info["versioned_writes"] == {"allowed_flags": ["x-versions-location", "x-history-location"]}
    assert "object_versioning" in info


def test_location_decoded_and_long_names(cluster, sv):
    # the stored location is percent-decoded when used (legacy.py's object_request)
    a = uniq("swlega") + " x"
    sv.put_container(a)
    c = uniq("swlegc")
    sv.put_container(c, headers={"X-Versions-Location": urllib.parse.quote(a)})
    sv.put_object(c, "o", b"1")
    sv.put_object(c, "o", b"2")
    assert [get(sv, a, e["name"]) for e in archive(sv, a)] == [b"1"]
    # an archived name longer than 1024 bytes cannot be written: 412, the object unchanged
    long = "n" * 1010
    sv.put_object(c, long, b"old")
    st, _, _ = curl(sv, "PUT", f"{c}/{long}", "--data-binary", "new")
    assert st == 412
    assert get(sv, c, long) == b"old"
