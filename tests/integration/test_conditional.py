"""Conditional writes (issue 12): If-None-Match: * and If-Match on PutObject,
CompleteMultipartUpload and the CopyObject destination, If-Match on DeleteObject, and exactly one
winner among concurrent creators through two gateways (docs/architecture.md, "Conditional
writes"). The Debian botocore has no IfNoneMatch/IfMatch parameters: the headers are added to the
request before it is signed, which is what newer SDKs send."""
import concurrent.futures
import hashlib
import threading

import botocore
import pytest

from conftest import err_code, err_status, uniq


class Headers:
    """Adds per-thread extra headers to every request of a boto3 client before signing."""

    def __init__(self, client):
        self.local = threading.local()
        client.meta.events.register("before-sign.s3", self._add)

    def _add(self, request, **kw):
        for k, v in getattr(self.local, "h", {}).items():
            request.headers[k] = v

    def call(self, headers, fn, *a, **kw):
        self.local.h = headers
        try:
            return fn(*a, **kw)
        finally:
            self.local.h = {}


@pytest.fixture(scope="module")
def gw2(cluster):
    cluster.start_gateway("gwcond2")
    return "gwcond2"


@pytest.fixture(scope="module")
def clients(cluster, gw2):
    out = []
    for gw in ("gw", gw2):
        c = cluster.client(gw=gw, retries=False)
        out.append((c, Headers(c)))
    return out


def etag_of(body):
    return '"' + hashlib.md5(body).hexdigest() + '"'


def test_if_none_match_creates_once(clients, bucket):
    c, h = clients[0]
    r = h.call({"If-None-Match": "*"}, c.put_object, Bucket=bucket, Key="k", Body=b"first")
    assert r["ETag"] == etag_of(b"first")
    with pytest.raises(botocore.exceptions.ClientError) as e:
        h.call({"If-None-Match": "*"}, c.put_object, Bucket=bucket, Key="k", Body=b"second")
    assert err_status(e.value) == 412 and err_code(e.value) == "PreconditionFailed"
    assert c.get_object(Bucket=bucket, Key="k")["Body"].read() == b"first"
    # after a delete the key is free again
    c.delete_object(Bucket=bucket, Key="k")
    h.call({"If-None-Match": "*"}, c.put_object, Bucket=bucket, Key="k", Body=b"third")
    assert c.get_object(Bucket=bucket, Key="k")["Body"].read() == b"third"


def test_if_none_match_other_values_not_implemented(clients, bucket):
    c, h = clients[0]
    with pytest.raises(botocore.exceptions.ClientError) as e:
        h.call({"If-None-Match": etag_of(b"x")}, c.put_object, Bucket=bucket, Key="k", Body=b"x")
    assert err_status(e.value) == 501 and err_code(e.value) == "NotImplemented"
    with pytest.raises(botocore.exceptions.ClientError) as e:
        h.call({"If-None-Match": "*"}, c.delete_object, Bucket=bucket, Key="k")
    assert err_status(e.value) == 501
    with pytest.raises(botocore.exceptions.ClientError) as e:
        c.head_object(Bucket=bucket, Key="k")
    assert err_status(e.value) == 404  # nothing was written


def test_if_match_put_and_delete(clients, bucket):
    c, h = clients[0]
    with pytest.raises(botocore.exceptions.ClientError) as e:
        h.call({"If-Match": etag_of(b"v1")}, c.put_object, Bucket=bucket, Key="k", Body=b"v1")
    assert err_status(e.value) == 404 and err_code(e.value) == "NoSuchKey"
    c.put_object(Bucket=bucket, Key="k", Body=b"v1")
    with pytest.raises(botocore.exceptions.ClientError) as e:
        h.call({"If-Match": etag_of(b"other")}, c.put_object, Bucket=bucket, Key="k", Body=b"v2")
    assert err_status(e.value) == 412
    h.call({"If-Match": etag_of(b"v1")}, c.put_object, Bucket=bucket, Key="k", Body=b"v2")
    assert c.get_object(Bucket=bucket, Key="k")["Body"].read() == b"v2"
    with pytest.raises(botocore.exceptions.ClientError) as e:
        h.call({"If-Match": etag_of(b"v1")}, c.delete_object, Bucket=bucket, Key="k")
    assert err_status(e.value) == 412
    assert c.get_object(Bucket=bucket, Key="k")["Body"].read() == b"v2"
    h.call({"If-Match": etag_of(b"v2")}, c.delete_object, Bucket=bucket, Key="k")
    with pytest.raises(botocore.exceptions.ClientError) as e:
        c.head_object(Bucket=bucket, Key="k")
    assert err_status(e.value) == 404


def test_copy_and_complete_conditions(clients, bucket):
    c, h = clients[0]
    c.put_object(Bucket=bucket, Key="src", Body=b"source")
    c.put_object(Bucket=bucket, Key="dst", Body=b"dest")
    with pytest.raises(botocore.exceptions.ClientError) as e:
        h.call({"If-None-Match": "*"}, c.copy_object, Bucket=bucket, Key="dst",
               CopySource={"Bucket": bucket, "Key": "src"})
    assert err_status(e.value) == 412
    assert c.get_object(Bucket=bucket, Key="dst")["Body"].read() == b"dest"
    h.call({"If-Match": etag_of(b"dest")}, c.copy_object, Bucket=bucket, Key="dst",
           CopySource={"Bucket": bucket, "Key": "src"})
    assert c.get_object(Bucket=bucket, Key="dst")["Body"].read() == b"source"

    up = c.create_multipart_upload(Bucket=bucket, Key="dst")["UploadId"]
    p = c.upload_part(Bucket=bucket, Key="dst", UploadId=up, PartNumber=1, Body=b"multi")
    parts = {"Parts": [{"PartNumber": 1, "ETag": p["ETag"]}]}
    with pytest.raises(botocore.exceptions.ClientError) as e:
        h.call({"If-None-Match": "*"}, c.complete_multipart_upload, Bucket=bucket, Key="dst", UploadId=up,
               MultipartUpload=parts)
    assert err_status(e.value) == 412
    assert c.get_object(Bucket=bucket, Key="dst")["Body"].read() == b"source"
    # the upload is still there: completing it with a holding condition works
    h.call({"If-Match": etag_of(b"source")}, c.complete_multipart_upload, Bucket=bucket, Key="dst", UploadId=up,
           MultipartUpload=parts)
    assert c.get_object(Bucket=bucket, Key="dst")["Body"].read() == b"multi"


def _race(clients, bucket, key, headers, n):
    """n writers (alternating between the gateways), each with its own body. [(status, body)]."""
    barrier = threading.Barrier(n, timeout=60)

    def one(i):
        c, h = clients[i % len(clients)]
        body = f"writer {i}".encode()
        barrier.wait()
        try:
            h.call(headers, c.put_object, Bucket=bucket, Key=key, Body=body)
            return 200, body
        except botocore.exceptions.ClientError as e:
            return err_status(e), body

    with concurrent.futures.ThreadPoolExecutor(n) as ex:
        return list(ex.map(one, range(n), timeout=300))


@pytest.mark.parametrize("round_", range(3))
def test_concurrent_creators_one_winner(clients, bucket, round_):
    key = f"race-{round_}"
    results = _race(clients, bucket, key, {"If-None-Match": "*"}, 12)
    winners = [b for s, b in results if s == 200]
    assert len(winners) == 1, results
    assert all(s in (412, 409) for s, _ in results if s != 200), results
    c, _ = clients[1]
    assert c.get_object(Bucket=bucket, Key=key)["Body"].read() == winners[0]


def test_concurrent_if_match_updaters_one_winner(clients, bucket):
    c, _ = clients[0]
    c.put_object(Bucket=bucket, Key="upd", Body=b"base")
    results = _race(clients, bucket, "upd", {"If-Match": etag_of(b"base")}, 12)
    winners = [b for s, b in results if s == 200]
    assert len(winners) == 1, results
    assert all(s in (412, 409) for s, _ in results if s != 200), results
    assert c.get_object(Bucket=bucket, Key="upd")["Body"].read() == winners[0]


def test_lease_records_refuse_plain_puts(cluster, clients, bucket):
    """A lease record changes only by compare-and-set: a plain record PUT into an l.<bucket> table
    (what read repair or a stray copy would send) is refused by the node (412)."""
    c, h = clients[0]
    h.call({"If-None-Match": "*"}, c.put_object, Bucket=bucket, Key="leased", Body=b"x")
    dev = "d1"
    status, _, _ = cluster.node_request(1, "PUT", f"/{dev}/rec/l.{bucket}/leased", body=_tombstone())
    assert status == 412
    status, _, _ = cluster.node_request(1, "PUT", f"/{dev}/rec/o.{bucket}/plain", body=_tombstone())
    assert status in (200, 201)


def _tombstone():
    import struct
    import time
    # og_rec.h version 2: u8 2 | u8 flags | u64 ts | u64 tiebreak | u64 size | u32 slen | u32 dlen
    return struct.pack(">BBQQQII", 2, 1, time.time_ns(), 7, 0, 0, 0)
