"""S3 versioning (docs/architecture.md, "Versioning") with real clients: boto3, /usr/bin/aws,
rclone. Versions, delete markers, ListObjectVersions paging, DeleteObjects with versions, copy of
a version, multipart, suspended (null) versions, never-versioned buckets listed as version null,
BucketNotEmpty while versions remain, and gc keeping every old version's chunks."""
import hashlib
import json
import os
import subprocess

import pytest
from botocore.exceptions import ClientError

from conftest import ACCESS, ACCOUNT, SECRET, err_code, err_status, uniq


def enable(s3, b, status="Enabled"):
    s3.put_bucket_versioning(Bucket=b, VersioningConfiguration={"Status": status})


def all_versions(s3, b, **kw):
    """Every version and marker, paging with key-marker/version-id-marker."""
    vs, ms, pages, args = [], [], 0, dict(kw)
    while True:
        r = s3.list_object_versions(Bucket=b, **args)
        pages += 1
        vs += r.get("Versions", [])
        ms += r.get("DeleteMarkers", [])
        if not r["IsTruncated"]:
            return vs, ms, pages
        args["KeyMarker"] = r["NextKeyMarker"]
        if "NextVersionIdMarker" in r:
            args["VersionIdMarker"] = r["NextVersionIdMarker"]
        else:
            args.pop("VersionIdMarker", None)
        assert pages < 1000


@pytest.fixture
def vbucket(s3):
    name = uniq("ver")
    s3.create_bucket(Bucket=name)
    enable(s3, name)
    return name


def test_get_put_bucket_versioning(s3, bucket):
    assert "Status" not in s3.get_bucket_versioning(Bucket=bucket)
    enable(s3, bucket)
    assert s3.get_bucket_versioning(Bucket=bucket)["Status"] == "Enabled"
    enable(s3, bucket, "Suspended")
    assert s3.get_bucket_versioning(Bucket=bucket)["Status"] == "Suspended"
    with pytest.raises(ClientError) as e:
        s3.put_bucket_versioning(Bucket=bucket, VersioningConfiguration={"Status": "Bogus"})
    assert err_code(e.value) == "InvalidArgument"  # as RGW
    with pytest.raises(ClientError) as e:
        s3.put_bucket_versioning(Bucket=bucket, VersioningConfiguration={"Status": "Enabled", "MFADelete": "Enabled"})
    assert err_code(e.value) == "AccessDenied"  # as RGW without an MFA device
    assert s3.get_bucket_versioning(Bucket=bucket)["Status"] == "Suspended"


def test_versions_get_delete_marker(s3, vbucket):
    ids = [s3.put_object(Bucket=vbucket, Key="k", Body=b"v%d" % i * 5000)["VersionId"] for i in range(3)]
    assert len(set(ids)) == 3 and "null" not in ids
    assert s3.get_object(Bucket=vbucket, Key="k")["Body"].read() == b"v2" * 5000
    for i, vid in enumerate(ids):
        r = s3.get_object(Bucket=vbucket, Key="k", VersionId=vid)
        assert r["VersionId"] == vid and r["Body"].read() == b"v%d" % i * 5000
        assert s3.head_object(Bucket=vbucket, Key="k", VersionId=vid)["ContentLength"] == 10000
    d = s3.delete_object(Bucket=vbucket, Key="k")
    assert d["DeleteMarker"] is True
    marker = d["VersionId"]
    with pytest.raises(ClientError) as e:
        s3.get_object(Bucket=vbucket, Key="k")
    assert err_code(e.value) == "NoSuchKey"
    assert e.value.response["ResponseMetadata"]["HTTPHeaders"]["x-amz-delete-marker"] == "true"
    assert e.value.response["ResponseMetadata"]["HTTPHeaders"]["x-amz-version-id"] == marker
    with pytest.raises(ClientError) as e:
        s3.get_object(Bucket=vbucket, Key="k", VersionId=marker)
    assert err_status(e.value) == 405
    # the old versions are still readable, and listing shows the marker as latest
    assert s3.get_object(Bucket=vbucket, Key="k", VersionId=ids[1])["Body"].read() == b"v1" * 5000
    vs, ms, _ = all_versions(s3, vbucket)
    assert [v["VersionId"] for v in vs] == ids[::-1]
    assert [m["VersionId"] for m in ms] == [marker] and ms[0]["IsLatest"]
    assert not any(v["IsLatest"] for v in vs)
    assert "Contents" not in s3.list_objects_v2(Bucket=vbucket)
    # removing the marker for good brings the newest version back
    d = s3.delete_object(Bucket=vbucket, Key="k", VersionId=marker)
    assert d["DeleteMarker"] is True and d["VersionId"] == marker
    assert s3.get_object(Bucket=vbucket, Key="k")["Body"].read() == b"v2" * 5000
    # removing the current version for good makes the next newest current
    s3.delete_object(Bucket=vbucket, Key="k", VersionId=ids[2])
    r = s3.get_object(Bucket=vbucket, Key="k")
    assert r["Body"].read() == b"v1" * 5000 and r["VersionId"] == ids[1]
    with pytest.raises(ClientError) as e:
        s3.get_object(Bucket=vbucket, Key="k", VersionId=ids[2])
    assert err_code(e.value) == "NoSuchVersion"
    with pytest.raises(ClientError) as e:
        s3.get_object(Bucket=vbucket, Key="k", VersionId="not-a-version")
    assert err_code(e.value) == "InvalidArgument"
    # a non-current version goes without touching the current one
    s3.delete_object(Bucket=vbucket, Key="k", VersionId=ids[0])
    assert s3.get_object(Bucket=vbucket, Key="k")["VersionId"] == ids[1]
    vs, ms, _ = all_versions(s3, vbucket)
    assert [v["VersionId"] for v in vs] == [ids[1]] and vs[0]["IsLatest"] and not ms


def test_never_versioned_lists_null(s3, bucket):
    for k in ("a", "b/c", "b/d"):
        s3.put_object(Bucket=bucket, Key=k, Body=k.encode())
    vs, ms, _ = all_versions(s3, bucket)
    assert [(v["Key"], v["VersionId"], v["IsLatest"]) for v in vs] == [("a", "null", True), ("b/c", "null", True),
                                                                          ("b/d", "null", True)]
    assert not ms
    r = s3.list_object_versions(Bucket=bucket, Delimiter="/")
    assert [v["Key"] for v in r["Versions"]] == ["a"]
    assert [p["Prefix"] for p in r["CommonPrefixes"]] == ["b/"]
    assert s3.get_object(Bucket=bucket, Key="a", VersionId="null")["Body"].read() == b"a"
    s3.delete_object(Bucket=bucket, Key="a", VersionId="null")
    with pytest.raises(ClientError) as e:
        s3.get_object(Bucket=bucket, Key="a")
    assert err_code(e.value) == "NoSuchKey"


def test_null_version_kept_then_suspended(s3, bucket):
    s3.put_object(Bucket=bucket, Key="k", Body=b"before")
    enable(s3, bucket)
    v1 = s3.put_object(Bucket=bucket, Key="k", Body=b"one")["VersionId"]
    vs, _, _ = all_versions(s3, bucket)
    assert [v["VersionId"] for v in vs] == [v1, "null"]
    assert s3.get_object(Bucket=bucket, Key="k", VersionId="null")["Body"].read() == b"before"
    enable(s3, bucket, "Suspended")
    assert s3.put_object(Bucket=bucket, Key="k", Body=b"s1").get("VersionId", "null") == "null"
    assert s3.put_object(Bucket=bucket, Key="k", Body=b"s2").get("VersionId", "null") == "null"
    vs, _, _ = all_versions(s3, bucket)
    # the suspended writes replaced the null version; v1 stays
    assert [v["VersionId"] for v in vs] == ["null", v1]
    assert s3.get_object(Bucket=bucket, Key="k", VersionId="null")["Body"].read() == b"s2"
    d = s3.delete_object(Bucket=bucket, Key="k")
    assert d["DeleteMarker"] and d["VersionId"] == "null"
    vs, ms, _ = all_versions(s3, bucket)
    assert [v["VersionId"] for v in vs] == [v1] and [m["VersionId"] for m in ms] == ["null"]


def test_list_versions_paging(s3, vbucket):
    expect = []
    for k in ("a", "b", "c/x", "c/y", "d"):
        ids = [s3.put_object(Bucket=vbucket, Key=k, Body=os.urandom(10))["VersionId"] for _ in range(3)]
        expect += [(k, v) for v in ids[::-1]]
    for mk in (1, 2, 4, 7, 1000):
        vs, ms, pages = all_versions(s3, vbucket, MaxKeys=mk)
        assert [(v["Key"], v["VersionId"]) for v in vs] == expect
        latest = [v["Key"] for v in vs if v["IsLatest"]]
        assert latest == ["a", "b", "c/x", "c/y", "d"]
        assert pages == -(-len(expect) // mk) if mk < 1000 else pages == 1
    r = s3.list_object_versions(Bucket=vbucket, Prefix="c/")
    assert [v["Key"] for v in r["Versions"]] == ["c/x"] * 3 + ["c/y"] * 3
    r = s3.list_object_versions(Bucket=vbucket, Delimiter="/", MaxKeys=4)
    assert [v["Key"] for v in r["Versions"]] == ["a"] * 3 + ["b"]
    r = s3.list_object_versions(Bucket=vbucket, Delimiter="/", KeyMarker=r["NextKeyMarker"],
                                VersionIdMarker=r["NextVersionIdMarker"], MaxKeys=3)
    assert [v["Key"] for v in r["Versions"]] == ["b", "b"] and [p["Prefix"] for p in r["CommonPrefixes"]] == ["c/"]
    r = s3.list_object_versions(Bucket=vbucket, Delimiter="/", KeyMarker="c/")
    assert [v["Key"] for v in r["Versions"]] == ["d"] * 3 and "CommonPrefixes" not in r


def test_delete_objects_with_versions(s3, vbucket):
    a = [s3.put_object(Bucket=vbucket, Key="a", Body=b"%d" % i)["VersionId"] for i in range(2)]
    s3.put_object(Bucket=vbucket, Key="b", Body=b"b")
    r = s3.delete_objects(Bucket=vbucket, Delete={"Objects": [{"Key": "a", "VersionId": a[0]}, {"Key": "b"}]})
    got = {d["Key"]: d for d in r["Deleted"]}
    assert got["a"]["VersionId"] == a[0] and "DeleteMarker" not in got["a"]
    assert got["b"]["DeleteMarker"] is True and got["b"]["DeleteMarkerVersionId"]
    r = s3.delete_objects(Bucket=vbucket, Delete={"Objects": [
        {"Key": "b", "VersionId": got["b"]["DeleteMarkerVersionId"]}, {"Key": "a", "VersionId": "zzz"}]})
    assert r["Deleted"][0]["DeleteMarker"] is True
    assert r["Errors"][0]["Code"] == "InvalidArgument"
    assert s3.get_object(Bucket=vbucket, Key="b")["Body"].read() == b"b"
    vs, ms, _ = all_versions(s3, vbucket)
    assert sorted(v["VersionId"] for v in vs if v["Key"] == "a") == [a[1]] and not ms


def test_copy_version_and_multipart(s3, vbucket):
    v1 = s3.put_object(Bucket=vbucket, Key="src", Body=b"old")["VersionId"]
    s3.put_object(Bucket=vbucket, Key="src", Body=b"new")
    r = s3.copy_object(Bucket=vbucket, Key="src", CopySource={"Bucket": vbucket, "Key": "src", "VersionId": v1})
    assert r["CopySourceVersionId"] == v1 and r["VersionId"] != v1
    assert s3.get_object(Bucket=vbucket, Key="src")["Body"].read() == b"old"
    m = s3.delete_object(Bucket=vbucket, Key="gone")["VersionId"]
    with pytest.raises(ClientError) as e:
        s3.copy_object(Bucket=vbucket, Key="x", CopySource={"Bucket": vbucket, "Key": "gone", "VersionId": m})
    assert err_code(e.value) == "InvalidRequest"
    up = s3.create_multipart_upload(Bucket=vbucket, Key="mp")["UploadId"]
    part = s3.upload_part(Bucket=vbucket, Key="mp", UploadId=up, PartNumber=1, Body=b"x" * 100)
    r = s3.complete_multipart_upload(Bucket=vbucket, Key="mp", UploadId=up,
                                     MultipartUpload={"Parts": [{"ETag": part["ETag"], "PartNumber": 1}]})
    assert r["VersionId"] and s3.head_object(Bucket=vbucket, Key="mp")["VersionId"] == r["VersionId"]


def test_upload_part_copy_of_a_version(s3, vbucket):
    """UploadPartCopy reads the version x-amz-copy-source's versionId names (it used to read the
    current one); a delete marker's version id is refused as CopyObject refuses it."""
    v1 = s3.put_object(Bucket=vbucket, Key="psrc", Body=b"old part bytes")["VersionId"]
    s3.put_object(Bucket=vbucket, Key="psrc", Body=b"new part bytes")
    up = s3.create_multipart_upload(Bucket=vbucket, Key="pcopy")["UploadId"]
    part = s3.upload_part_copy(Bucket=vbucket, Key="pcopy", UploadId=up, PartNumber=1,
                               CopySource={"Bucket": vbucket, "Key": "psrc", "VersionId": v1})
    s3.complete_multipart_upload(Bucket=vbucket, Key="pcopy", UploadId=up, MultipartUpload={
        "Parts": [{"ETag": part["CopyPartResult"]["ETag"], "PartNumber": 1}]})
    assert s3.get_object(Bucket=vbucket, Key="pcopy")["Body"].read() == b"old part bytes"
    # x-amz-copy-source-if-* hold on UploadPartCopy as on CopyObject
    etag = s3.head_object(Bucket=vbucket, Key="psrc")["ETag"]
    up = s3.create_multipart_upload(Bucket=vbucket, Key="pcond")["UploadId"]
    for cond in ({"CopySourceIfNoneMatch": etag}, {"CopySourceIfMatch": '"0123456789abcdef0123456789abcdef"'}):
        with pytest.raises(ClientError) as e:
            s3.upload_part_copy(Bucket=vbucket, Key="pcond", UploadId=up, PartNumber=1,
                                CopySource={"Bucket": vbucket, "Key": "psrc"}, **cond)
        assert err_code(e.value) == "PreconditionFailed", cond
    s3.upload_part_copy(Bucket=vbucket, Key="pcond", UploadId=up, PartNumber=1,
                        CopySource={"Bucket": vbucket, "Key": "psrc"}, CopySourceIfMatch=etag)
    m = s3.delete_object(Bucket=vbucket, Key="psrc")["VersionId"]
    up = s3.create_multipart_upload(Bucket=vbucket, Key="pcopy2")["UploadId"]
    with pytest.raises(ClientError) as e:
        s3.upload_part_copy(Bucket=vbucket, Key="pcopy2", UploadId=up, PartNumber=1,
                            CopySource={"Bucket": vbucket, "Key": "psrc", "VersionId": m})
    assert err_code(e.value) == "InvalidRequest"


def test_delete_bucket_with_versions(s3, vbucket):
    vid = s3.put_object(Bucket=vbucket, Key="k", Body=b"x")["VersionId"]
    s3.delete_object(Bucket=vbucket, Key="k")
    with pytest.raises(ClientError) as e:
        s3.delete_bucket(Bucket=vbucket)
    assert err_code(e.value) == "BucketNotEmpty"
    vs, ms, _ = all_versions(s3, vbucket)
    for v in vs + ms:
        s3.delete_object(Bucket=vbucket, Key=v["Key"], VersionId=v["VersionId"])
    assert vid in [v["VersionId"] for v in vs]
    s3.delete_bucket(Bucket=vbucket)


def test_aws_cli_versions(cluster, s3, tmp_path):
    b = uniq("awsver")
    cluster.aws("s3api", "create-bucket", "--bucket", b)
    cluster.aws("s3api", "put-bucket-versioning", "--bucket", b, "--versioning-configuration", "Status=Enabled")
    r = cluster.aws("s3api", "get-bucket-versioning", "--bucket", b)
    assert json.loads(r.stdout)["Status"] == "Enabled", r.stdout + r.stderr
    f = tmp_path / "f"
    ids = []
    for i in range(2):
        f.write_bytes(b"aws%d" % i)
        ids.append(json.loads(cluster.aws("s3api", "put-object", "--bucket", b, "--key", "k", "--body",
                                          str(f)).stdout)["VersionId"])
    out = tmp_path / "out"
    cluster.aws("s3api", "get-object", "--bucket", b, "--key", "k", "--version-id", ids[0], str(out))
    assert out.read_bytes() == b"aws0"
    d = json.loads(cluster.aws("s3api", "delete-object", "--bucket", b, "--key", "k").stdout)
    assert d["DeleteMarker"] is True
    lv = json.loads(cluster.aws("s3api", "list-object-versions", "--bucket", b).stdout)
    assert [v["VersionId"] for v in lv["Versions"]] == ids[::-1]
    assert [m["VersionId"] for m in lv["DeleteMarkers"]] == [d["VersionId"]]
    objs = [{"Key": v["Key"], "VersionId": v["VersionId"]} for v in lv["Versions"] + lv["DeleteMarkers"]]
    r = json.loads(cluster.aws("s3api", "delete-objects", "--bucket", b, "--delete",
                               json.dumps({"Objects": objs})).stdout)
    assert len(r["Deleted"]) == 3 and "Errors" not in r
    out = cluster.aws("s3api", "list-object-versions", "--bucket", b).stdout  # empty: aws prints nothing
    assert "Versions" not in json.loads(out or "{}")
    cluster.aws("s3api", "delete-bucket", "--bucket", b)


def rclone(cluster, *args):
    env = {k: v for k, v in os.environ.items() if not k.startswith("AWS_")}  # AWS_CA_BUNDLE breaks plain http
    env.update(RCLONE_CONFIG="/dev/null", RCLONE_CONFIG_O_TYPE="s3", RCLONE_CONFIG_O_PROVIDER="Other",
               RCLONE_CONFIG_O_ACCESS_KEY_ID=ACCESS, RCLONE_CONFIG_O_SECRET_ACCESS_KEY=SECRET,
               RCLONE_CONFIG_O_ENDPOINT=cluster.endpoint(), RCLONE_CONFIG_O_REGION="us-east-1",
               RCLONE_CONFIG_O_FORCE_PATH_STYLE="true")
    r = subprocess.run(["rclone", *args], capture_output=True, text=True, env=env, timeout=300)
    assert r.returncode == 0, r.stdout + r.stderr
    return r.stdout


def test_rclone_versions(cluster, s3, bucket):
    # never versioned: lists fine, versioning reported as unset
    s3.put_object(Bucket=bucket, Key="plain", Body=b"p")
    assert "plain" in rclone(cluster, "ls", "--s3-versions", f"o:{bucket}")
    assert rclone(cluster, "backend", "versioning", f"o:{bucket}").strip() == "Unversioned"
    assert rclone(cluster, "backend", "versioning", f"o:{bucket}", "Enabled").strip() == "Enabled"
    for body in (b"one", b"two!"):
        s3.put_object(Bucket=bucket, Key="f.txt", Body=body)
    out = rclone(cluster, "ls", "--s3-versions", f"o:{bucket}")
    lines = sorted(line.split(None, 1)[1] for line in out.splitlines())
    # the current version under its name, the old one with its version time in the name
    assert "f.txt" in lines and "plain" in lines and len(lines) == 3
    assert any(n.startswith("f-v") and n.endswith(".txt") for n in lines)


@pytest.fixture(scope="module")
def gc_cluster(tmp_path_factory):
    from conftest import _boot, _shutdown
    c = _boot(tmp_path_factory.mktemp("vergc"))
    yield c
    _shutdown(c)


def test_gc_keeps_old_versions(gc_cluster):
    s3 = gc_cluster.client()
    b = uniq("vergc")
    s3.create_bucket(Bucket=b)
    enable(s3, b)
    bodies = {}
    for i in range(3):
        body = os.urandom(300 * 1024 + i)
        bodies[s3.put_object(Bucket=b, Key="big", Body=body)["VersionId"]] = hashlib.sha256(body).hexdigest()
    s3.delete_object(Bucket=b, Key="big")
    # a locked version overwritten and deleted (marker) keeps its data too
    lb = uniq("vergclock")
    s3.create_bucket(Bucket=lb, ObjectLockEnabledForBucket=True)
    locked = os.urandom(300 * 1024)
    lvid = s3.put_object(Bucket=lb, Key="l", Body=locked, ObjectLockMode="COMPLIANCE",
                         ObjectLockRetainUntilDate=future(1))["VersionId"]
    s3.put_object(Bucket=lb, Key="l", Body=b"newer")
    s3.delete_object(Bucket=lb, Key="l")
    # a version removed for good loses its chunks to gc; the others keep theirs
    gone = os.urandom(200 * 1024)
    vid = s3.put_object(Bucket=b, Key="gone", Body=gone)["VersionId"]
    s3.delete_object(Bucket=b, Key="gone", VersionId=vid)
    import time
    time.sleep(2.5)
    r = gc_cluster.admin("gc", "--grace", "1")
    assert r.returncode == 0, r.stdout + r.stderr
    for vid, digest in bodies.items():
        got = s3.get_object(Bucket=b, Key="big", VersionId=vid)["Body"].read()
        assert hashlib.sha256(got).hexdigest() == digest
    assert s3.get_object(Bucket=lb, Key="l", VersionId=lvid)["Body"].read() == locked


# ---------------------------------------------------------------- Object Lock

def future(days=1):
    import datetime
    return datetime.datetime.now(datetime.timezone.utc) + datetime.timedelta(days=days)


@pytest.fixture
def lbucket(s3):
    name = uniq("lock")
    s3.create_bucket(Bucket=name, ObjectLockEnabledForBucket=True)
    return name


def test_lock_headers_refused_without_lock(s3, bucket):
    with pytest.raises(ClientError) as e:
        s3.put_object(Bucket=bucket, Key="k", Body=b"x", ObjectLockMode="GOVERNANCE",
                      ObjectLockRetainUntilDate=future())
    assert err_code(e.value) == "InvalidRequest"
    with pytest.raises(ClientError) as e:
        s3.get_object_lock_configuration(Bucket=bucket)
    assert err_code(e.value) == "ObjectLockConfigurationNotFoundError"
    with pytest.raises(ClientError) as e:
        s3.put_object_lock_configuration(Bucket=bucket, ObjectLockConfiguration={"ObjectLockEnabled": "Enabled"})
    assert err_code(e.value) == "InvalidBucketState"
    with pytest.raises(ClientError):
        s3.head_object(Bucket=bucket, Key="k")


def test_lock_config_and_default_retention(s3, lbucket):
    assert s3.get_bucket_versioning(Bucket=lbucket)["Status"] == "Enabled"
    conf = s3.get_object_lock_configuration(Bucket=lbucket)["ObjectLockConfiguration"]
    assert conf["ObjectLockEnabled"] == "Enabled" and "Rule" not in conf
    with pytest.raises(ClientError) as e:
        enable(s3, lbucket, "Suspended")
    assert err_code(e.value) == "InvalidBucketState"
    s3.put_object_lock_configuration(Bucket=lbucket, ObjectLockConfiguration={
        "ObjectLockEnabled": "Enabled", "Rule": {"DefaultRetention": {"Mode": "GOVERNANCE", "Days": 2}}})
    rule = s3.get_object_lock_configuration(Bucket=lbucket)["ObjectLockConfiguration"]["Rule"]
    assert rule["DefaultRetention"] == {"Mode": "GOVERNANCE", "Days": 2}
    vid = s3.put_object(Bucket=lbucket, Key="d", Body=b"default")["VersionId"]
    h = s3.head_object(Bucket=lbucket, Key="d")
    assert h["ObjectLockMode"] == "GOVERNANCE" and h["ObjectLockRetainUntilDate"] > future(1)
    with pytest.raises(ClientError) as e:
        s3.delete_object(Bucket=lbucket, Key="d", VersionId=vid)
    assert err_code(e.value) == "AccessDenied"
    s3.delete_object(Bucket=lbucket, Key="d", VersionId=vid, BypassGovernanceRetention=True)
    with pytest.raises(ClientError) as e:
        s3.head_object(Bucket=lbucket, Key="d", VersionId=vid)
    assert err_status(e.value) == 404


def test_locked_version_survives_every_path(cluster, s3, lbucket):
    """COMPLIANCE retention and a legal hold: no S3 path, no Swift DELETE, no gc removes them."""
    until = future(3)
    c = s3.put_object(Bucket=lbucket, Key="c", Body=b"compliance" * 1000, ObjectLockMode="COMPLIANCE",
                      ObjectLockRetainUntilDate=until)["VersionId"]
    g = s3.put_object(Bucket=lbucket, Key="g", Body=b"gov", ObjectLockMode="GOVERNANCE",
                      ObjectLockRetainUntilDate=until)["VersionId"]
    h = s3.put_object(Bucket=lbucket, Key="h", Body=b"held", ObjectLockLegalHoldStatus="ON")["VersionId"]
    r = s3.get_object_retention(Bucket=lbucket, Key="c", VersionId=c)["Retention"]
    assert r["Mode"] == "COMPLIANCE"
    assert s3.get_object_legal_hold(Bucket=lbucket, Key="h")["LegalHold"]["Status"] == "ON"
    for key, vid, bypass in (("c", c, True), ("h", h, True), ("g", g, False)):
        with pytest.raises(ClientError) as e:
            s3.delete_object(Bucket=lbucket, Key=key, VersionId=vid, BypassGovernanceRetention=bypass)
        assert err_code(e.value) == "AccessDenied"
    r = s3.delete_objects(Bucket=lbucket, BypassGovernanceRetention=True, Delete={"Objects": [
        {"Key": "c", "VersionId": c}, {"Key": "h", "VersionId": h}]})
    assert sorted(x["Code"] for x in r["Errors"]) == ["AccessDenied", "AccessDenied"]
    # COMPLIANCE cannot be shortened or weakened, even with the bypass
    with pytest.raises(ClientError) as e:
        s3.put_object_retention(Bucket=lbucket, Key="c", VersionId=c, BypassGovernanceRetention=True,
                                Retention={"Mode": "GOVERNANCE", "RetainUntilDate": until})
    assert err_code(e.value) == "AccessDenied"
    with pytest.raises(ClientError) as e:
        s3.put_object_retention(Bucket=lbucket, Key="c", VersionId=c, Retention={"Mode": "COMPLIANCE",
                                                                               "RetainUntilDate": future(1)})
    assert err_code(e.value) == "AccessDenied"
    s3.put_object_retention(Bucket=lbucket, Key="c", VersionId=c,
                            Retention={"Mode": "COMPLIANCE", "RetainUntilDate": future(4)})
    with pytest.raises(ClientError) as e:
        s3.put_object_retention(Bucket=lbucket, Key="c", Retention={"Mode": "COMPLIANCE",
                                                                   "RetainUntilDate": future(-1)})
    assert err_code(e.value) == "InvalidArgument"
    # overwrites and plain deletes only add versions and markers
    s3.put_object(Bucket=lbucket, Key="c", Body=b"newer")
    s3.delete_object(Bucket=lbucket, Key="c")
    # Swift DELETE of the current object: a delete marker, the locked versions stay
    s3.put_object(Bucket=lbucket, Key="c", Body=b"current again")
    cluster.admin("account-add", ACCOUNT, check=False)
    cluster.admin("swift-user-add", "--account", ACCOUNT, "--user", "lockadmin", "--key", "lock-key", "--admin")
    r = subprocess.run(["swift", "-A", cluster.endpoint() + "/auth/v1.0", "-U", f"{ACCOUNT}:lockadmin", "-K",
                        "lock-key", "delete", lbucket, "c"], capture_output=True, text=True, timeout=120)
    assert r.returncode == 0, r.stdout + r.stderr
    with pytest.raises(ClientError) as e:
        s3.get_object(Bucket=lbucket, Key="c")
    assert err_code(e.value) == "NoSuchKey"
    vs, ms, _ = all_versions(s3, lbucket, Prefix="c")
    assert c in [v["VersionId"] for v in vs] and len(ms) == 2 and ms[0]["IsLatest"]
    assert s3.get_object(Bucket=lbucket, Key="c", VersionId=c)["Body"].read() == b"compliance" * 1000
    # GOVERNANCE with the bypass, and the legal hold once released, can go
    s3.delete_object(Bucket=lbucket, Key="g", VersionId=g, BypassGovernanceRetention=True)
    s3.put_object_legal_hold(Bucket=lbucket, Key="h", VersionId=h, LegalHold={"Status": "OFF"})
    s3.delete_object(Bucket=lbucket, Key="h", VersionId=h)
    with pytest.raises(ClientError) as e:
        s3.delete_bucket(Bucket=lbucket)
    assert err_code(e.value) == "BucketNotEmpty"


def swift(cluster, *args):
    cluster.admin("account-add", ACCOUNT, check=False)
    cluster.admin("swift-user-add", "--account", ACCOUNT, "--user", "veradmin", "--key", "ver-key", "--admin")
    return subprocess.run(["swift", "-A", cluster.endpoint() + "/auth/v1.0", "-U", f"{ACCOUNT}:veradmin", "-K",
                           "ver-key", *args], capture_output=True, text=True, timeout=120)


def test_swift_on_versioned_container(cluster, s3, vbucket):
    """Swift writes and deletes in a versioned bucket make versions and markers; the container
    cannot be deleted while versions remain; the state is not shown as container metadata."""
    vid = s3.put_object(Bucket=vbucket, Key="o", Body=b"s3 first")["VersionId"]
    r = swift(cluster, "stat", vbucket)
    assert r.returncode == 0 and "onggi" not in r.stdout.lower(), r.stdout + r.stderr
    assert swift(cluster, "delete", vbucket, "o").returncode == 0
    vs, ms, _ = all_versions(s3, vbucket)
    assert [v["VersionId"] for v in vs] == [vid] and len(ms) == 1
    r = swift(cluster, "delete", vbucket)  # the container itself: versions remain
    assert "409" in r.stdout + r.stderr or r.returncode != 0
    assert s3.get_object(Bucket=vbucket, Key="o", VersionId=vid)["Body"].read() == b"s3 first"


def test_multipart_lock_headers_applied_at_complete(s3, lbucket):
    """CreateMultipartUpload's Object Lock headers are kept on the upload and given to the object
    at Complete; the multipart object cannot be deleted before its retention ends."""
    until = future(3)
    up = s3.create_multipart_upload(Bucket=lbucket, Key="mpl", ObjectLockMode="COMPLIANCE",
                                    ObjectLockRetainUntilDate=until, ObjectLockLegalHoldStatus="ON")["UploadId"]
    etag = s3.upload_part(Bucket=lbucket, Key="mpl", UploadId=up, PartNumber=1, Body=b"p" * 1000)["ETag"]
    vid = s3.complete_multipart_upload(Bucket=lbucket, Key="mpl", UploadId=up,
                                       MultipartUpload={"Parts": [{"PartNumber": 1, "ETag": etag}]})["VersionId"]
    h = s3.head_object(Bucket=lbucket, Key="mpl", VersionId=vid)
    assert h["ObjectLockMode"] == "COMPLIANCE" and h["ObjectLockLegalHoldStatus"] == "ON"
    assert abs((h["ObjectLockRetainUntilDate"] - until).total_seconds()) < 1
    with pytest.raises(ClientError) as e:
        s3.delete_object(Bucket=lbucket, Key="mpl", VersionId=vid, BypassGovernanceRetention=True)
    assert err_code(e.value) == "AccessDenied"
    with pytest.raises(ClientError) as e:
        s3.create_multipart_upload(Bucket=lbucket, Key="bad", ObjectLockMode="GOVERNANCE",
                                   ObjectLockRetainUntilDate=future(-1))
    assert err_code(e.value) == "InvalidArgument"
