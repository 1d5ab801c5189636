"""onggi-admin bucket-list, usage, quota-set and scrub (docs/operations.md, "Admin CLI"): each
command's text and --json output against a running cluster; a quota set by the admin refuses an
S3 PUT (403) and a Swift PUT (413) over it and, once cleared, both are accepted again; scrub
reports every device of the ring."""

import json
import time

import pytest
from botocore.exceptions import ClientError

from conftest import ACCOUNT, http_request, uniq

QA_ACCESS, QA_SECRET, QA_ACCOUNT = "ADMINQUOTAKEY", "admin-quota-secret", "adm-quota"


def admin_json(cluster, *args):
    return json.loads(cluster.admin(*args, "--json").stdout)


@pytest.fixture
def qa(cluster):
    """An account of its own (S3 keys and a Swift admin), so its quotas touch no other test."""
    cluster.add_user(QA_ACCESS, QA_SECRET, QA_ACCOUNT)
    cluster.admin("swift-user-add", "--account", QA_ACCOUNT, "--user", "admin", "--key", "qk", "--admin")
    return cluster


def swift_put(cluster, bucket, key, body=b""):
    """A Swift PUT of QA_ACCOUNT's object bucket/key (key None: the container). Its status."""
    st, h, _ = http_request(cluster.port(), "GET", "/auth/v1.0",
                            {"X-Auth-User": f"{QA_ACCOUNT}:admin", "X-Auth-Key": "qk"})
    assert st == 200
    h = {k.lower(): v for k, v in h.items()}
    url = h["x-storage-url"]
    path = url[url.index("/v1/"):] + f"/{bucket}" + (f"/{key}" if key is not None else "")
    st, _, _ = http_request(cluster.port(), "PUT", path, {"X-Auth-Token": h["x-auth-token"]}, body)
    return st


def s3_put_status(s3, bucket, key, body):
    try:
        s3.put_object(Bucket=bucket, Key=key, Body=body)
        return 200
    except ClientError as e:
        return e.response["ResponseMetadata"]["HTTPStatusCode"]


def until_refused(s3, bucket, key, body, tries=50):
    """A gateway caches bucket records, and the account quota, for a moment: PUT (bounded retries,
    each accepted object deleted again so usage stays as it was) until the quota refuses it. The
    last status."""
    st = None
    for _ in range(tries):
        st = s3_put_status(s3, bucket, key, body)
        if st != 200:
            break
        s3.delete_object(Bucket=bucket, Key=key)
        time.sleep(0.2)
    return st


def until_accepted(s3, bucket, key, body, tries=50):
    """The other way round: PUT until the quota's removal is seen (a refused PUT stores nothing)."""
    st = None
    for _ in range(tries):
        st = s3_put_status(s3, bucket, key, body)
        if st == 200:
            break
        time.sleep(0.2)
    return st


def test_bucket_list_and_usage(qa):
    s3 = qa.client(QA_ACCESS, QA_SECRET)
    b = uniq("adm-list")
    s3.create_bucket(Bucket=b)
    s3.put_object(Bucket=b, Key="a", Body=b"x" * 100)
    s3.put_object(Bucket=b, Key="b", Body=b"y" * 50)
    qa.admin("account-add", QA_ACCOUNT)

    lines = qa.admin("bucket-list").stdout.splitlines()
    line = next(ln for ln in lines if ln.split()[0] == b)
    assert f" owner={QA_ACCOUNT} " in line and line.endswith(" objects=2 bytes=150") and " created=20" in line
    listed = admin_json(qa, "bucket-list", "--account", QA_ACCOUNT)
    assert [e for e in listed if e["bucket"] == b] == [
        {"bucket": b, "owner": QA_ACCOUNT, "created": listed[0]["created"], "objects": 2, "bytes": 150}]
    assert all(e["owner"] == QA_ACCOUNT for e in listed)
    assert b not in [e["bucket"] for e in admin_json(qa, "bucket-list", "--account", ACCOUNT)]

    u = admin_json(qa, "usage", "--bucket", b)
    assert u == [{"bucket": b, "owner": QA_ACCOUNT, "objects": 2, "bytes": 150, "quota_bytes": None,
                  "quota_count": None}]
    assert qa.admin("usage", "--bucket", b).stdout == \
        f"{b} owner={QA_ACCOUNT} objects=2 bytes=150 quota_bytes=none quota_count=none\n"
    acct = admin_json(qa, "usage", "--account", QA_ACCOUNT)
    assert acct == [{"account": QA_ACCOUNT, "buckets": len(listed), "objects": sum(e["objects"] for e in listed),
                     "bytes": sum(e["bytes"] for e in listed), "quota_bytes": None}]
    assert qa.admin("usage", "--account", QA_ACCOUNT).stdout.startswith(f"{QA_ACCOUNT} buckets=")
    assert acct[0] in admin_json(qa, "usage")
    r = qa.admin("usage", "--bucket", "no-such-bucket-here", check=False)
    assert r.returncode == 1 and "no-such-bucket-here" in r.stderr
    r = qa.admin("usage", "--bogus", check=False)
    assert r.returncode == 2


def test_quota_set_enforced_by_s3_and_swift(qa):
    s3 = qa.client(QA_ACCESS, QA_SECRET)
    b = uniq("adm-quota")
    s3.create_bucket(Bucket=b)
    s3.put_object(Bucket=b, Key="a", Body=b"x" * 60)

    out = qa.admin("quota-set", "--bucket", b, "--bytes", "100", "--count", "5").stdout
    assert out == f"bucket {b} stored, quota-bytes 100, quota-count 5\n"
    u = admin_json(qa, "usage", "--bucket", b)[0]
    assert (u["bytes"], u["quota_bytes"], u["quota_count"]) == (60, 100, 5)
    assert until_refused(s3, b, "b", b"y" * 50) == 403
    assert swift_put(qa, b, "b", b"y" * 50) == 413
    assert s3_put_status(s3, b, "small", b"y" * 40) == 200  # up to the quota: 100 bytes exactly
    assert admin_json(qa, "usage", "--bucket", b)[0]["bytes"] == 100
    qa.admin("quota-set", "--bucket", b, "--bytes", "none", "--count", "0")
    u = admin_json(qa, "usage", "--bucket", b)[0]
    assert (u["quota_bytes"], u["quota_count"]) == (None, None)
    assert until_accepted(s3, b, "b", b"y" * 50) == 200
    assert swift_put(qa, b, "c", b"z" * 50) == 201

    # the account's quota: over the account's bytes, refused in every bucket of it
    used = admin_json(qa, "usage", "--account", QA_ACCOUNT)[0]["bytes"]
    assert qa.admin("quota-set", "--account", QA_ACCOUNT, "--bytes", str(used + 10)).stdout == \
        f"account {QA_ACCOUNT} stored, quota-bytes {used + 10}\n"
    try:
        assert admin_json(qa, "usage", "--account", QA_ACCOUNT)[0]["quota_bytes"] == used + 10
        # the gateway reads the account's quota at most once per --quota-cache-ms: bounded retries
        assert until_refused(s3, b, "d", b"w" * 20) == 403
        assert swift_put(qa, b, "d", b"w" * 20) == 413
    finally:
        qa.admin("quota-set", "--account", QA_ACCOUNT, "--bytes", "0")
    assert admin_json(qa, "usage", "--account", QA_ACCOUNT)[0]["quota_bytes"] is None
    assert until_accepted(s3, b, "d", b"w" * 20) == 200

    for bad in (["--bucket", b], ["--account", QA_ACCOUNT, "--count", "3"], ["--bucket", b, "--bytes", "lots"],
                ["--account", QA_ACCOUNT], ["--bytes", "1"]):
        assert qa.admin("quota-set", *bad, check=False).returncode == 2, bad
    assert qa.admin("quota-set", "--bucket", "no-such-bucket-here", "--bytes", "1", check=False).returncode == 1
    assert qa.admin("quota-set", "--bucket", b, "--bytes", "1", "--json", check=False).returncode == 2


def test_container_of_its_own_namespace(qa):
    """A Swift container named like another account's bucket lives in its account's own table:
    bucket-list finds it, usage and quota-set reach it with --account."""
    name = uniq("adm-ns")
    qa.client().create_bucket(Bucket=name)  # ACCOUNT holds the global name
    assert swift_put(qa, name, None) in (201, 202)
    assert swift_put(qa, name, "o", b"n" * 7) == 201
    mine = [e for e in admin_json(qa, "bucket-list", "--account", QA_ACCOUNT) if e["bucket"] == name]
    assert [(e["owner"], e["objects"], e["bytes"]) for e in mine] == [(QA_ACCOUNT, 1, 7)]
    theirs = [e for e in admin_json(qa, "bucket-list", "--account", ACCOUNT) if e["bucket"] == name]
    assert [(e["owner"], e["objects"]) for e in theirs] == [(ACCOUNT, 0)]
    u = admin_json(qa, "usage", "--account", QA_ACCOUNT, "--bucket", name)[0]
    assert (u["owner"], u["objects"], u["bytes"]) == (QA_ACCOUNT, 1, 7)
    qa.admin("quota-set", "--account", QA_ACCOUNT, "--bucket", name, "--count", "1")
    assert admin_json(qa, "usage", "--account", QA_ACCOUNT, "--bucket", name)[0]["quota_count"] == 1
    assert admin_json(qa, "usage", "--bucket", name)[0]["quota_count"] is None  # the global bucket: untouched
    st = None
    for i in range(50):  # the gateway's bucket record cache: bounded retries until the quota is seen
        st = swift_put(qa, name, f"p{i}", b"x")
        if st != 201:
            break
        time.sleep(0.2)
    assert st == 413


def test_scrub_reports_every_device(cluster):
    devs = [f"d{i}" for i in range(1, len(cluster.node_ports) + 1)]
    rep = admin_json(cluster, "scrub")
    assert sorted(e["name"] for e in rep) == devs
    for e in rep:
        s = e["scrub"]
        assert s["phase"] in ("chunks", "records", "idle") and s["running"] is True
        assert {"chunk_progress", "passes", "chunks_verified", "bytes_verified", "corrupt_found"} <= set(s)
    lines = cluster.admin("scrub").stdout.splitlines()
    assert sorted(ln.split()[0].split("/")[1] for ln in lines) == devs
    assert all(" running=yes phase=" in ln and " passes=" in ln for ln in lines)
    # a fresh cluster's first pass ends soon: --watch returns with every scrubber idle
    r = cluster.admin("scrub", "--watch", "--interval", "1", "--timeout", "300")
    assert all(" phase=idle " in ln for ln in r.stdout.splitlines()), r.stdout
    assert cluster.admin("scrub", "--bogus", check=False).returncode == 2
