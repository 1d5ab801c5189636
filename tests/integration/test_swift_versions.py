"""Swift object versioning (X-Versions-Enabled, ?versions, ?version-id=) on the same version store
as S3's bucket versioning, with real clients: the swift CLI, python-swiftclient, curl and boto3;
and how it meets the legacy X-Versions-Location / X-History-Location modes
(test_swift_legacy_versions.py)."""
import json
import subprocess

import pytest
import swiftclient.client as sc
from swiftclient.exceptions import ClientException

from conftest import ACCOUNT, uniq

KEY = "swver-key"
MARKER_TYPE = "application/x-deleted;swift_versions_deleted=1"


@pytest.fixture(scope="module")
def sv(cluster):
    cluster.admin("account-add", ACCOUNT, check=False)
    cluster.admin("swift-user-add", "--account", ACCOUNT, "--user", "swver", "--key", KEY, "--admin")
    c = sc.Connection(authurl=f"{cluster.endpoint()}/auth/v1.0", user=f"{ACCOUNT}:swver", key=KEY,
                      auth_version="1", retries=0)
    c.get_auth()
    return c


def cli(cluster, *args):
    r = subprocess.run(["swift", "-A", f"{cluster.endpoint()}/auth/v1.0", "-U", f"{ACCOUNT}:swver", "-K", KEY,
                        *args], capture_output=True, text=True, timeout=120)
    assert r.returncode == 0, r.stdout + r.stderr
    return r.stdout


def curl(sv, method, path, *extra):
    """(status, headers lowercased, body) of one curl request with sv's token."""
    r = subprocess.run(["curl", "-s", "-X", method, "-D", "-", "-H", f"X-Auth-Token: {sv.token}", *extra,
                        f"{sv.url}/{path}"], capture_output=True, timeout=60)
    head, _, body = r.stdout.partition(b"\r\n\r\n")
    lines = head.decode().split("\r\n")
    hdrs = {k.strip().lower(): v.strip() for k, _, v in (ln.partition(":") for ln in lines[1:])}
    return int(lines[0].split()[1]), hdrs, body


def versions(sv, c, **kw):
    _, listing = sv.get_container(c, query_string="versions", **kw)
    return listing


def test_versions_enabled_is_s3_versioning(cluster, s3, sv):
    c = uniq("swver")
    sv.put_container(c)
    cli(cluster, "post", "-H", "X-Versions-Enabled: true", c)
    assert sv.head_container(c)["x-versions-enabled"] == "True"
    assert s3.get_bucket_versioning(Bucket=c)["Status"] == "Enabled"
    v1 = s3.put_object(Bucket=c, Key="o", Body=b"one")["VersionId"]
    rd = {}
    sv.put_object(c, "o", b"two", response_dict=rd)
    v2 = rd["headers"]["x-object-version-id"]
    assert v2 != v1 and len(v2) == 32
    # the listing of versions: newest first, the latest flagged, S3's ids
    got = versions(sv, c)
    assert [(e["name"], e["version_id"], e["is_latest"], e["bytes"]) for e in got] == \
        [("o", v2, True, 3), ("o", v1, False, 3)]
    st, hd, body = curl(sv, "GET", f"{c}/o?version-id={v1}")
    assert (st, body, hd["x-object-version-id"]) == (200, b"one", v1)
    assert sv.head_object(c, "o")["x-object-version-id"] == v2
    # a Swift DELETE is an S3 delete marker, and the reverse
    st, hd, _ = curl(sv, "DELETE", f"{c}/o")
    assert st == 204
    marker = hd["x-object-version-id"]
    s3v = s3.list_object_versions(Bucket=c)
    assert [m["VersionId"] for m in s3v["DeleteMarkers"]] == [marker]
    with pytest.raises(ClientException) as e:
        sv.get_object(c, "o")
    assert e.value.http_status == 404
    got = versions(sv, c)
    assert (got[0]["version_id"], got[0]["content_type"], got[0]["is_latest"], got[0]["bytes"]) == \
        (marker, MARKER_TYPE, True, 0)
    st, hd, _ = curl(sv, "GET", f"{c}/o?version-id={marker}")
    assert (st, hd["content-type"], hd["x-object-version-id"]) == (404, MARKER_TYPE, marker)
    # removing the marker by version brings v2 back, through both APIs
    st, _, _ = curl(sv, "DELETE", f"{c}/o?version-id={marker}")
    assert st == 204
    assert s3.get_object(Bucket=c, Key="o")["Body"].read() == b"two"
    st, _, _ = curl(sv, "DELETE", f"{c}/o?version-id={v1}")
    assert st == 204
    assert [v["VersionId"] for v in s3.list_object_versions(Bucket=c)["Versions"]] == [v2]
    st, _, _ = curl(sv, "DELETE", f"{c}/o?version-id={v1}")
    assert st == 404
    # false is S3's Suspended; S3's state shows on the container
    sv.post_container(c, {"X-Versions-Enabled": "false"})
    assert s3.get_bucket_versioning(Bucket=c)["Status"] == "Suspended"
    assert sv.head_container(c)["x-versions-enabled"] == "False"
    s3.put_bucket_versioning(Bucket=c, VersioningConfiguration={"Status": "Enabled"})
    assert sv.head_container(c)["x-versions-enabled"] == "True"


def test_info_advertises_both_versionings(cluster):
    info = json.loads(subprocess.run(["curl", "-s", f"{cluster.endpoint()}/info"], capture_output=True,
                                     timeout=60).stdout)
    assert "object_versioning" in info
    assert info["versioned_writes"]["allowed_flags"] == ["x-versions-location", "x-history-location"]


def test_versions_bad_input(s3, sv):
    c = uniq("swver")
    sv.put_container(c, headers={"X-Versions-Enabled": "true"})  # PUT creates it versioned
    assert s3.get_bucket_versioning(Bucket=c)["Status"] == "Enabled"
    sv.put_object(c, "o", b"x")
    st, _, body = curl(sv, "GET", f"{c}/o?version-id=zzz")
    assert (st, body) == (400, b"Invalid version parameter")
    st, _, _ = curl(sv, "GET", f"{c}?versions&format=xml")
    assert st == 406
    # a never-versioned container lists its objects as version null
    p = uniq("swplain")
    sv.put_container(p)
    sv.put_object(p, "a", b"x")
    assert "x-versions-enabled" not in sv.head_container(p)
    assert [(e["name"], e["version_id"], e["is_latest"]) for e in versions(sv, p)] == [("a", "null", True)]
    assert "x-object-version-id" not in sv.head_object(p, "a")


@pytest.mark.parametrize("hdr", ["X-Versions-Location", "X-History-Location"])
def test_legacy_versioned_writes_stored(sv, hdr):
    """The legacy modes are built (test_swift_legacy_versions.py): stored on PUT and POST and
    shown; never mixed with X-Versions-Enabled on one container."""
    c = uniq("swleg")
    sv.put_container(c)
    for method in ("POST", "PUT"):
        st, _, _ = curl(sv, method, c, "-H", f"{hdr}: {c}-old")
        assert st == (204 if method == "POST" else 202)
        assert sv.head_container(c)[hdr.lower()] == f"{c}-old"
    st, _, _ = curl(sv, "PUT", c + "-new", "-H", f"{hdr}: archive")
    assert st == 201
    assert sv.head_container(c + "-new")[hdr.lower()] == "archive"
    st, _, body = curl(sv, "POST", c, "-H", "X-Versions-Enabled: true")
    assert st == 400 and b"legacy versioned writes" in body
    v = uniq("swver")
    sv.put_container(v, headers={"X-Versions-Enabled": "true"})
    st, _, _ = curl(sv, "POST", v, "-H", f"{hdr}: {c}")
    assert st == 400
    assert hdr.lower() not in sv.head_container(v)
