"""Container and account usage from the storage nodes' per-table aggregates (docs/node-api.md,
GET /<dev>/usage/<table>): after overwrites, deletes, multipart uploads and concurrent writes from
two gateways to one container, Swift's HEAD counts equal what a full listing adds up to, and every
primary's aggregate agrees. Loops are bounded; everything talks to 127.0.0.1 only."""

import json
import random
import threading

import botocore.exceptions
import pytest
import swiftclient.client as sc

from conftest import ACCOUNT, MiB, _boot, _shutdown, uniq

ADMIN_KEY = "usage-admin-key"
THREADS_PER_GW = 3
OPS_PER_THREAD = 30
KEYS = 12


@pytest.fixture(scope="module")
def ucluster(tmp_path_factory):
    c = _boot(tmp_path_factory.mktemp("usage"))
    c.start_gateway("gw2")
    c.admin("account-add", ACCOUNT)
    c.admin("swift-user-add", "--account", ACCOUNT, "--user", "admin", "--key", ADMIN_KEY, "--admin")
    yield c
    _shutdown(c)


def swift(cluster, gw="gw"):
    return sc.Connection(authurl=f"{cluster.endpoint(gw)}/auth/v1.0", user=f"{ACCOUNT}:admin", key=ADMIN_KEY,
                         auth_version="1", retries=0)


def listing_usage(cn, container):
    _, objs = cn.get_container(container, full_listing=True)
    return len(objs), sum(o["bytes"] for o in objs)


def head_usage(cn, container):
    h = cn.head_container(container)
    return int(h["x-container-object-count"]), int(h["x-container-bytes-used"])


def node_usages(cluster, table):
    """Every device's aggregate for table (primaries hold the records; others report 0/0)."""
    out = []
    for i in range(1, len(cluster.node_ports) + 1):
        st, _, body = cluster.node_request(i, "GET", f"/d{i}/usage/{table}")
        assert st == 200, body
        u = json.loads(body)
        out.append((u["records"], u["bytes"]))
    return out


def test_overwrites_deletes_and_multipart(ucluster):
    cn = swift(ucluster)
    s3 = ucluster.client()
    c = uniq("use")
    cn.put_container(c)
    assert head_usage(cn, c) == (0, 0)
    cn.put_object(c, "a", b"x" * 1000)
    cn.put_object(c, "b", b"y" * 300)
    cn.put_object(c, "a", b"z" * 10)  # overwrite: counts once, new size
    s3.put_object(Bucket=c, Key="s3-obj", Body=b"q" * 4567)
    s3.put_object(Bucket=c, Key="s3-obj", Body=b"q" * 45)
    cn.delete_object(c, "b")
    s3.delete_object(Bucket=c, Key="never-existed")  # a tombstone for nothing changes nothing
    uid = s3.create_multipart_upload(Bucket=c, Key="mp")["UploadId"]
    parts = []
    for n in (1, 2):
        body = random.Random(n).randbytes(5 * MiB if n == 1 else 123)
        etag = s3.upload_part(Bucket=c, Key="mp", UploadId=uid, PartNumber=n, Body=body)["ETag"]
        parts.append({"PartNumber": n, "ETag": etag})
    # Uploads in progress are not objects.
    assert head_usage(cn, c) == (2, 55)
    s3.complete_multipart_upload(Bucket=c, Key="mp", UploadId=uid, MultipartUpload={"Parts": parts})
    want = (3, 55 + 5 * MiB + 123)
    assert head_usage(cn, c) == want
    assert listing_usage(cn, c) == want
    assert node_usages(ucluster, f"o.{c}").count(want) == 3  # every replica agrees
    h = cn.head_account()
    _, conts = cn.get_account(full_listing=True)
    assert int(h["x-account-object-count"]) == sum(x["count"] for x in conts)
    assert int(h["x-account-bytes-used"]) == sum(x["bytes"] for x in conts)
    for k in ("a", "s3-obj", "mp"):
        cn.delete_object(c, k)
    assert head_usage(cn, c) == (0, 0)
    cn.delete_container(c)


def test_quota_follows_deletes(ucluster):
    cn = swift(ucluster)
    c = uniq("useq")
    cn.put_container(c, {"X-Container-Meta-Quota-Bytes": "1000", "X-Container-Meta-Quota-Count": "4"})
    for i in range(3):
        cn.put_object(c, f"o{i}", b"x" * 300)
    with pytest.raises(sc.ClientException) as e:
        cn.put_object(c, "o3", b"x" * 200)
    assert e.value.http_status == 413
    cn.delete_object(c, "o1")
    cn.put_object(c, "o3", b"x" * 200)  # fits once the delete is counted: 3 objects, 800 bytes
    assert head_usage(cn, c) == (3, 800) == listing_usage(cn, c)


def test_concurrent_writes_from_two_gateways(ucluster):
    c = uniq("usec")
    swift(ucluster).put_container(c)
    errors = []

    def worker(gw, t):
        s3 = ucluster.client(gw=gw, retries=False)
        rnd = random.Random(f"{gw}-{t}")
        for _ in range(OPS_PER_THREAD):
            k = f"k{rnd.randrange(KEYS)}"
            try:
                if rnd.random() < 0.3:
                    s3.delete_object(Bucket=c, Key=k)
                else:
                    s3.put_object(Bucket=c, Key=k, Body=rnd.randbytes(rnd.choice((0, 17, 5000, 70000))))
            except (botocore.exceptions.BotoCoreError, botocore.exceptions.ClientError) as exc:
                errors.append(exc)

    threads = [threading.Thread(target=worker, args=(gw, t)) for gw in ("gw", "gw2") for t in range(THREADS_PER_GW)]
    for th in threads:
        th.start()
    for th in threads:
        th.join(300)
        assert not th.is_alive()
    assert not errors, errors[:3]
    for gw in ("gw", "gw2"):
        cn = swift(ucluster, gw)
        assert head_usage(cn, c) == listing_usage(cn, c)
    want = listing_usage(swift(ucluster), c)
    assert node_usages(ucluster, f"o.{c}").count(want) == 3
