"""Records that do not decode (planted on the nodes directly, as a bug or an older version might
have left them) never make an account or bucket listing unreadable: both APIs leave them out,
the gateway logs each one, and everything around them keeps working (docs/swift-compat.md,
docs/s3-compat.md)."""

import json
import struct
import time
import urllib.parse

from conftest import ACCOUNT, http_request, uniq

SWIFT_KEY = "badreckey"


def plant(cluster, table, key, summary):
    """Writes a record with the given summary bytes to every node's device (3 nodes, 3 replicas:
    each holds every partition)."""
    rec = struct.pack(">BBQQQI", 2, 0, time.time_ns(), 1, 0, len(summary)) + summary + struct.pack(">I", 0)
    path = f"/{{dev}}/rec/{table}/{urllib.parse.quote(key, safe='')}"
    for i in range(1, len(cluster.node_ports) + 1):
        st, _, body = cluster.node_request(i, "PUT", path.format(dev=f"d{i}"), body=rec)
        assert st in (200, 201, 204), (st, body)


def swift_token(cluster):
    st, h, _ = http_request(cluster.port(), "GET", "/auth/v1.0",
                            {"X-Auth-User": f"{ACCOUNT}:badrec", "X-Auth-Key": SWIFT_KEY})
    assert st == 200
    return h["x-auth-token"], urllib.parse.urlsplit(h["x-storage-url"]).path


def test_undecodable_records_are_left_out(cluster, s3):
    cluster.admin("swift-user-add", "--account", ACCOUNT, "--user", "badrec", "--key", SWIFT_KEY, "--admin")
    bucket = uniq("badrec")
    s3.create_bucket(Bucket=bucket)
    s3.put_object(Bucket=bucket, Key="good", Body=b"fine")
    broken_bucket = f"{bucket}-zz-broken"
    plant(cluster, "buckets", broken_bucket, b"\x07 not a bucket record")
    plant(cluster, f"o.{bucket}", "broken-obj", b"\x07 not an object record")
    tok, acct = swift_token(cluster)

    st, _, body = http_request(cluster.port(), "GET", f"{acct}?format=json", {"X-Auth-Token": tok})
    assert st == 200
    names = [c["name"] for c in json.loads(body)]
    assert bucket in names and broken_bucket not in names
    st, h, _ = http_request(cluster.port(), "HEAD", acct, {"X-Auth-Token": tok})
    assert st == 204 and int(h["x-account-container-count"]) >= 1
    st, _, body = http_request(cluster.port(), "GET", f"{acct}/{bucket}?format=json", {"X-Auth-Token": tok})
    assert st == 200
    assert [o["name"] for o in json.loads(body)] == ["good"]

    assert bucket in [b["Name"] for b in s3.list_buckets()["Buckets"]]
    assert [o["Key"] for o in s3.list_objects_v2(Bucket=bucket).get("Contents", [])] == ["good"]
    assert [o["Key"] for o in s3.list_objects(Bucket=bucket).get("Contents", [])] == ["good"]
    assert s3.get_object(Bucket=bucket, Key="good")["Body"].read() == b"fine"

    with open(cluster.log_path("gw"), "rb") as f:
        log = f.read().decode("utf-8", "replace")
    assert f"bucket '{broken_bucket}' left out: its record does not decode" in log
    assert "object 'broken-obj' left out: its record does not decode" in log
    assert "container record(s) unreadable" in log
    # The broken records stay where they are (nothing deletes what it cannot read); the test's
    # bucket is emptied of what it can address.
    s3.delete_object(Bucket=bucket, Key="good")
