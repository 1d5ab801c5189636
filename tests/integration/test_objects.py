"""Objects and buckets through boto3, s3cmd and aws: bytes round trip, ETags, metadata, ranges,
conditional requests, response-* overrides, copy, multi-delete, presigned URLs, SigV2."""

import base64
import datetime
import hashlib
import os
import time
import urllib.error
import urllib.request

import pytest
from botocore.exceptions import ClientError

from conftest import (MiB, err_code, err_status, file_digests, http_request, make_file, signed_request, uniq,
                      xml_code)

SMALL_SIZES = [0, 1, 8192, 8193, MiB]  # 8192/8193: either side of the inline-data limit


def md5hex(b):
    return hashlib.md5(b).hexdigest()


def rid(resp):
    return resp["ResponseMetadata"]["HTTPHeaders"].get("x-amz-request-id")


@pytest.mark.parametrize("size", SMALL_SIZES)
def test_boto3_put_get_sizes(s3, bucket, size):
    data = os.urandom(size)
    put = s3.put_object(Bucket=bucket, Key=f"obj-{size}", Body=data)
    assert put["ETag"] == f'"{md5hex(data)}"'
    assert rid(put)
    got = s3.get_object(Bucket=bucket, Key=f"obj-{size}")
    body = got["Body"].read()
    assert len(body) == size and hashlib.sha256(body).digest() == hashlib.sha256(data).digest()
    assert got["ETag"] == put["ETag"]
    assert got["ContentLength"] == size
    head = s3.head_object(Bucket=bucket, Key=f"obj-{size}")
    assert head["ContentLength"] == size and head["ETag"] == put["ETag"]
    assert rid(head)
    assert isinstance(head["LastModified"], datetime.datetime)


@pytest.mark.parametrize("size", [0, 1, MiB])
@pytest.mark.parametrize("v2", [False, True], ids=["sigv4", "sigv2"])
def test_s3cmd_put_get(cluster, s3, bucket, tmp_path, size, v2):
    src = tmp_path / "src"
    md5, sha = make_file(src, size)
    cluster.s3cmd("put", str(src), f"s3://{bucket}/s3cmd/{size}", v2=v2)
    dst = tmp_path / "dst"
    cluster.s3cmd("get", f"s3://{bucket}/s3cmd/{size}", str(dst), v2=v2)
    assert file_digests(dst) == (md5, sha)
    assert s3.head_object(Bucket=bucket, Key=f"s3cmd/{size}")["ETag"] == f'"{md5}"'
    ls = cluster.s3cmd("ls", f"s3://{bucket}/s3cmd/", v2=v2).stdout
    assert f"s3://{bucket}/s3cmd/{size}" in ls
    cluster.s3cmd("del", f"s3://{bucket}/s3cmd/{size}", v2=v2)
    with pytest.raises(ClientError) as e:
        s3.head_object(Bucket=bucket, Key=f"s3cmd/{size}")
    assert err_status(e.value) == 404


@pytest.mark.parametrize("size", [0, 1, MiB])
def test_aws_cp_round_trip(cluster, s3, bucket, tmp_path, size):
    src = tmp_path / "src"
    md5, sha = make_file(src, size)
    cluster.aws("s3", "cp", str(src), f"s3://{bucket}/aws/{size}")
    dst = tmp_path / "dst"
    cluster.aws("s3", "cp", f"s3://{bucket}/aws/{size}", str(dst))
    assert file_digests(dst) == (md5, sha)
    assert s3.head_object(Bucket=bucket, Key=f"aws/{size}")["ETag"] == f'"{md5}"'
    out = cluster.aws("s3", "ls", f"s3://{bucket}/aws/").stdout.split()
    assert out[-2:] == [str(size), str(size)]  # "<date> <time> <size> <name>"
    cluster.aws("s3", "rm", f"s3://{bucket}/aws/{size}")
    assert s3.list_objects_v2(Bucket=bucket, Prefix="aws/")["KeyCount"] == 0


def test_empty_put_then_put_on_same_connection(cluster, bucket):
    """boto3 sends `Expect: 100-continue` on every PUT. After a 0-byte PUT answered without a
    "100 Continue", botocore 1.29 keeps stale state on that keep-alive connection and the next
    PUT with a body stalls until the read timeout: the gateway must not trigger that."""
    c = cluster.client(retries=False, read_timeout=10)
    for i in range(3):
        c.put_object(Bucket=bucket, Key=f"e{i}", Body=b"")
        t = time.monotonic()
        c.put_object(Bucket=bucket, Key=f"n{i}", Body=b"not empty")
        assert time.monotonic() - t < 5, "PUT after an empty PUT stalled"
    assert c.get_object(Bucket=bucket, Key="n2")["Body"].read() == b"not empty"


def test_overwrite_replaces_bytes_and_etag(s3, bucket):
    s3.put_object(Bucket=bucket, Key="k", Body=b"first version")
    s3.put_object(Bucket=bucket, Key="k", Body=b"second")
    got = s3.get_object(Bucket=bucket, Key="k")
    assert got["Body"].read() == b"second" and got["ETag"] == f'"{md5hex(b"second")}"'


def test_user_metadata_and_headers_round_trip(s3, bucket):
    s3.put_object(Bucket=bucket, Key="meta", Body=b"x", ContentType="text/x-onggi",
                  Metadata={"color": "blue", "multi-word": "a b c"}, CacheControl="max-age=60",
                  ContentDisposition='attachment; filename="m.txt"', ContentLanguage="ko")
    h = s3.head_object(Bucket=bucket, Key="meta")
    assert h["Metadata"] == {"color": "blue", "multi-word": "a b c"}
    assert h["ContentType"] == "text/x-onggi"
    assert h["CacheControl"] == "max-age=60"
    assert h["ContentDisposition"] == 'attachment; filename="m.txt"'
    assert h["ContentLanguage"] == "ko"
    g = s3.get_object(Bucket=bucket, Key="meta")
    assert g["Metadata"] == {"color": "blue", "multi-word": "a b c"}


def test_metadata_via_s3cmd_and_aws(cluster, s3, bucket, tmp_path):
    f = tmp_path / "f"
    f.write_bytes(b"hello")
    cluster.s3cmd("put", "--add-header=x-amz-meta-origin:s3cmd", str(f), f"s3://{bucket}/m1")
    cluster.aws("s3", "cp", "--metadata", "origin=aws", str(f), f"s3://{bucket}/m2")
    assert s3.head_object(Bucket=bucket, Key="m1")["Metadata"]["origin"] == "s3cmd"
    assert s3.head_object(Bucket=bucket, Key="m2")["Metadata"]["origin"] == "aws"
    info = cluster.s3cmd("info", f"s3://{bucket}/m1").stdout
    assert md5hex(b"hello") in info


def test_content_md5_accepted(s3, bucket):
    data = b"digest me"
    good = base64.b64encode(hashlib.md5(data).digest()).decode()
    s3.put_object(Bucket=bucket, Key="md5ok", Body=data, ContentMD5=good)
    assert s3.get_object(Bucket=bucket, Key="md5ok")["Body"].read() == data


RANGE_DATA = bytes(range(256)) * 40  # 10240 bytes: above the inline limit, so stored as a chunk


@pytest.mark.parametrize("rng,start,end", [
    ("bytes=0-0", 0, 0), ("bytes=0-9", 0, 9), ("bytes=100-199", 100, 199), ("bytes=-10", 10230, 10239),
    ("bytes=10000-", 10000, 10239), ("bytes=10200-99999", 10200, 10239)])
def test_range_206(s3, bucket, rng, start, end):
    s3.put_object(Bucket=bucket, Key="r", Body=RANGE_DATA)
    g = s3.get_object(Bucket=bucket, Key="r", Range=rng)
    assert g["ResponseMetadata"]["HTTPStatusCode"] == 206
    assert g["Body"].read() == RANGE_DATA[start:end + 1]
    assert g["ContentRange"] == f"bytes {start}-{end}/{len(RANGE_DATA)}"
    assert g["ContentLength"] == end - start + 1
    assert g["ETag"] == f'"{md5hex(RANGE_DATA)}"'


def test_range_on_small_inline_object(s3, bucket):
    s3.put_object(Bucket=bucket, Key="tiny", Body=b"0123456789")
    g = s3.get_object(Bucket=bucket, Key="tiny", Range="bytes=3-5")
    assert g["ResponseMetadata"]["HTTPStatusCode"] == 206 and g["Body"].read() == b"345"


@pytest.mark.parametrize("rng", ["bytes=10240-", "bytes=20000-20010"])
def test_invalid_range_416(s3, bucket, rng):
    s3.put_object(Bucket=bucket, Key="r", Body=RANGE_DATA)
    with pytest.raises(ClientError) as e:
        s3.get_object(Bucket=bucket, Key="r", Range=rng)
    assert err_status(e.value) == 416 and err_code(e.value) == "InvalidRange"


def test_invalid_range_on_empty_object(s3, bucket):
    s3.put_object(Bucket=bucket, Key="empty", Body=b"")
    with pytest.raises(ClientError) as e:
        s3.get_object(Bucket=bucket, Key="empty", Range="bytes=0-0")
    assert err_status(e.value) == 416 and err_code(e.value) == "InvalidRange"


def test_conditional_requests(s3, bucket):
    put = s3.put_object(Bucket=bucket, Key="c", Body=b"conditional")
    etag = put["ETag"]
    past = datetime.datetime(2000, 1, 1, tzinfo=datetime.timezone.utc)
    future = datetime.datetime.now(datetime.timezone.utc) + datetime.timedelta(days=1)
    assert s3.get_object(Bucket=bucket, Key="c", IfMatch=etag)["Body"].read() == b"conditional"
    assert s3.get_object(Bucket=bucket, Key="c", IfNoneMatch='"0000"')["Body"].read() == b"conditional"
    assert s3.get_object(Bucket=bucket, Key="c", IfModifiedSince=past)["Body"].read() == b"conditional"
    assert s3.get_object(Bucket=bucket, Key="c", IfUnmodifiedSince=future)["Body"].read() == b"conditional"
    for kw, status, code in [({"IfMatch": '"0123456789abcdef0123456789abcdef"'}, 412, "PreconditionFailed"),
                             ({"IfUnmodifiedSince": past}, 412, "PreconditionFailed"),
                             ({"IfNoneMatch": etag}, 304, "304"),
                             ({"IfModifiedSince": future}, 304, "304")]:
        for op in (s3.get_object, s3.head_object):
            with pytest.raises(ClientError) as e:
                op(Bucket=bucket, Key="c", **kw)
            assert err_status(e.value) == status, (op, kw)
            if op is s3.get_object:
                assert err_code(e.value) == code, kw
            assert e.value.response["ResponseMetadata"]["HTTPHeaders"].get("x-amz-request-id")
    # 304 carries the ETag (RFC 7232 4.1)
    with pytest.raises(ClientError) as e:
        s3.get_object(Bucket=bucket, Key="c", IfNoneMatch=etag)
    assert e.value.response["ResponseMetadata"]["HTTPHeaders"].get("etag") == etag


def test_response_overrides(s3, bucket):
    s3.put_object(Bucket=bucket, Key="o", Body=b"override", ContentType="text/plain")
    g = s3.get_object(Bucket=bucket, Key="o", ResponseContentType="application/x-over",
                      ResponseContentDisposition='attachment; filename="x.bin"', ResponseCacheControl="no-cache",
                      ResponseContentLanguage="fr", ResponseContentEncoding="identity",
                      ResponseExpires=datetime.datetime(2030, 1, 1, tzinfo=datetime.timezone.utc))
    h = g["ResponseMetadata"]["HTTPHeaders"]
    assert h["content-type"] == "application/x-over"
    assert h["content-disposition"] == 'attachment; filename="x.bin"'
    assert h["cache-control"] == "no-cache"
    assert h["content-language"] == "fr"
    assert h["content-encoding"] == "identity"
    assert "2030" in h["expires"]
    assert g["Body"].read() == b"override"


def test_copy_object(s3, bucket):
    other = uniq("copy")
    s3.create_bucket(Bucket=other)
    data = os.urandom(20000)
    src = s3.put_object(Bucket=bucket, Key="src", Body=data, ContentType="image/x-src", Metadata={"k": "v"})
    # same bucket, COPY directive (default): bytes, type and metadata follow
    c1 = s3.copy_object(Bucket=bucket, Key="dst", CopySource={"Bucket": bucket, "Key": "src"})
    assert c1["CopyObjectResult"]["ETag"] == src["ETag"]
    h = s3.head_object(Bucket=bucket, Key="dst")
    assert h["Metadata"] == {"k": "v"} and h["ContentType"] == "image/x-src" and h["ETag"] == src["ETag"]
    assert s3.get_object(Bucket=bucket, Key="dst")["Body"].read() == data
    # other bucket, REPLACE directive: new metadata and type
    s3.copy_object(Bucket=other, Key="dst2", CopySource=f"{bucket}/src", MetadataDirective="REPLACE",
                   Metadata={"n": "w"}, ContentType="text/x-new")
    h2 = s3.head_object(Bucket=other, Key="dst2")
    assert h2["Metadata"] == {"n": "w"} and h2["ContentType"] == "text/x-new"
    assert s3.get_object(Bucket=other, Key="dst2")["Body"].read() == data
    # a copy survives the source's deletion
    s3.delete_object(Bucket=bucket, Key="src")
    assert s3.get_object(Bucket=other, Key="dst2")["Body"].read() == data
    with pytest.raises(ClientError) as e:
        s3.copy_object(Bucket=bucket, Key="x", CopySource={"Bucket": bucket, "Key": "src"})
    assert err_code(e.value) == "NoSuchKey" and err_status(e.value) == 404


def test_copy_small_inline_object_with_replace_to_self(s3, bucket):
    s3.put_object(Bucket=bucket, Key="self", Body=b"self", Metadata={"a": "1"})
    s3.copy_object(Bucket=bucket, Key="self", CopySource={"Bucket": bucket, "Key": "self"},
                   MetadataDirective="REPLACE", Metadata={"b": "2"})
    h = s3.head_object(Bucket=bucket, Key="self")
    assert h["Metadata"] == {"b": "2"}
    assert s3.get_object(Bucket=bucket, Key="self")["Body"].read() == b"self"


def test_delete_objects_quiet_and_verbose(s3, bucket):
    keys = [f"d/{i}" for i in range(10)]
    for k in keys:
        s3.put_object(Bucket=bucket, Key=k, Body=k.encode())
    verbose = s3.delete_objects(Bucket=bucket, Delete={"Objects": [{"Key": k} for k in keys[:5]] +
                                                      [{"Key": "d/missing"}]})
    assert sorted(d["Key"] for d in verbose["Deleted"]) == sorted(keys[:5] + ["d/missing"])
    assert not verbose.get("Errors")
    quiet = s3.delete_objects(Bucket=bucket, Delete={"Objects": [{"Key": k} for k in keys[5:]], "Quiet": True})
    assert not quiet.get("Deleted") and not quiet.get("Errors")
    assert s3.list_objects_v2(Bucket=bucket, Prefix="d/")["KeyCount"] == 0


def test_delete_object_idempotent(s3, bucket):
    s3.put_object(Bucket=bucket, Key="gone", Body=b"x")
    assert s3.delete_object(Bucket=bucket, Key="gone")["ResponseMetadata"]["HTTPStatusCode"] == 204
    assert s3.delete_object(Bucket=bucket, Key="gone")["ResponseMetadata"]["HTTPStatusCode"] == 204
    with pytest.raises(ClientError) as e:
        s3.get_object(Bucket=bucket, Key="gone")
    assert err_code(e.value) == "NoSuchKey"


def test_bucket_head_location_list(s3, cluster):
    name = uniq("svc")
    s3.create_bucket(Bucket=name)
    assert s3.head_bucket(Bucket=name)["ResponseMetadata"]["HTTPStatusCode"] == 200
    loc = s3.get_bucket_location(Bucket=name)
    assert loc.get("LocationConstraint") in (None, "", "us-east-1")
    lb = s3.list_buckets()
    mine = [b for b in lb["Buckets"] if b["Name"] == name]
    assert len(mine) == 1
    created = mine[0]["CreationDate"]
    assert abs((datetime.datetime.now(datetime.timezone.utc) - created).total_seconds()) < 600
    assert lb["Owner"]["ID"]
    names = [b["Name"] for b in lb["Buckets"]]
    assert names == sorted(names)
    # another account does not see it
    other = cluster.client(access="itaccess2", secret="itsecret2")
    assert name not in [b["Name"] for b in other.list_buckets()["Buckets"]]
    # s3cmd and aws agree
    assert f"s3://{name}" in cluster.s3cmd("ls").stdout
    assert name in cluster.aws("s3", "ls").stdout
    s3.delete_bucket(Bucket=name)
    with pytest.raises(ClientError) as e:
        s3.head_bucket(Bucket=name)
    assert err_status(e.value) == 404
    assert name not in [b["Name"] for b in s3.list_buckets()["Buckets"]]


def test_bucket_recreate_after_delete(s3):
    name = uniq("again")
    s3.create_bucket(Bucket=name)
    s3.put_object(Bucket=name, Key="old", Body=b"old")
    s3.delete_object(Bucket=name, Key="old")
    s3.delete_bucket(Bucket=name)
    s3.create_bucket(Bucket=name)
    assert s3.list_objects_v2(Bucket=name)["KeyCount"] == 0


def test_s3cmd_mb_rb(cluster, s3):
    name = uniq("s3cmd")
    cluster.s3cmd("mb", f"s3://{name}")
    s3.head_bucket(Bucket=name)
    cluster.s3cmd("rb", f"s3://{name}")
    with pytest.raises(ClientError):
        s3.head_bucket(Bucket=name)


def test_sigv2_boto3(cluster, bucket):
    v2 = cluster.client(sig="s3")
    data = os.urandom(3000)
    v2.put_object(Bucket=bucket, Key="v2 key+plus", Body=data, Metadata={"via": "v2"})
    g = v2.get_object(Bucket=bucket, Key="v2 key+plus")
    assert g["Body"].read() == data and g["Metadata"] == {"via": "v2"}
    v2.delete_object(Bucket=bucket, Key="v2 key+plus")
    bad = cluster.client(sig="s3", secret="wrong")
    with pytest.raises(ClientError) as e:
        bad.get_object(Bucket=bucket, Key="x")
    assert err_code(e.value) == "SignatureDoesNotMatch" and err_status(e.value) == 403


def test_sigv2_boto3_list_objects(cluster, bucket, s3):
    """botocore's SigV2 signs a path-style bucket request as "/bucket/" (the virtual-host form)
    while it sends "/bucket"; AWS accepts that, so boto3 V2 listings must work."""
    s3.put_object(Bucket=bucket, Key="listed", Body=b"x")
    v2 = cluster.client(sig="s3", retries=False)
    assert [o["Key"] for o in v2.list_objects(Bucket=bucket)["Contents"]] == ["listed"]


def test_presigned_v4_get_put(s3, bucket):
    data = os.urandom(5000)
    put_url = s3.generate_presigned_url("put_object", Params={"Bucket": bucket, "Key": "pre sign"}, ExpiresIn=300)
    req = urllib.request.Request(put_url, data=data, method="PUT")
    with urllib.request.urlopen(req, timeout=60) as r:
        assert r.status == 200
        assert r.headers["ETag"] == f'"{md5hex(data)}"'
        assert r.headers["x-amz-request-id"]
    get_url = s3.generate_presigned_url("get_object", Params={"Bucket": bucket, "Key": "pre sign"}, ExpiresIn=300)
    assert "X-Amz-Signature=" in get_url
    with urllib.request.urlopen(get_url, timeout=60) as r:
        assert r.read() == data
    # tampering with the key breaks the signature
    with pytest.raises(urllib.error.HTTPError) as e:
        urllib.request.urlopen(get_url.replace("pre%20sign", "pre%20sigX"), timeout=60)
    assert e.value.code == 403 and xml_code(e.value.read()) == "SignatureDoesNotMatch"


def test_presigned_v2_get(cluster, bucket, s3):
    s3.put_object(Bucket=bucket, Key="v2pre", Body=b"presigned v2")
    url = cluster.client(sig="s3").generate_presigned_url("get_object", Params={"Bucket": bucket, "Key": "v2pre"},
                                                          ExpiresIn=300)
    assert "Signature=" in url and "Expires=" in url
    with urllib.request.urlopen(url, timeout=60) as r:
        assert r.read() == b"presigned v2"


def test_presigned_expired(s3, bucket):
    s3.put_object(Bucket=bucket, Key="exp", Body=b"x")
    url = s3.generate_presigned_url("get_object", Params={"Bucket": bucket, "Key": "exp"}, ExpiresIn=1)
    time.sleep(2.5)
    with pytest.raises(urllib.error.HTTPError) as e:
        urllib.request.urlopen(url, timeout=60)
    assert e.value.code == 403
    assert xml_code(e.value.read()) == "AccessDenied"
    assert e.value.headers["x-amz-request-id"]


def test_anonymous_request_denied_with_request_id(cluster, bucket):
    status, hdrs, body = http_request(cluster.port(), "GET", f"/{bucket}/x")
    assert status == 403 and xml_code(body) == "AccessDenied"
    assert hdrs.get("x-amz-request-id")
    status, hdrs, body = http_request(cluster.port(), "GET", "/")
    assert status == 403 and hdrs.get("x-amz-request-id")


def test_request_ids_unique(s3, bucket):
    ids = {rid(s3.head_bucket(Bucket=bucket)) for _ in range(20)}
    assert len(ids) == 20 and None not in ids


def test_owner_in_listing(s3, bucket):
    s3.put_object(Bucket=bucket, Key="own", Body=b"o")
    v1 = s3.list_objects(Bucket=bucket)
    assert v1["Contents"][0]["Owner"]["ID"]


def test_part_and_upload_parameters_outside_an_upload(cluster, s3, bucket):
    """?partNumber without ?uploadId only reads (GET/HEAD); ?uploads on a key only starts an
    upload (POST). Neither is mistaken for a plain PUT that would overwrite the object."""
    s3.put_object(Bucket=bucket, Key="k", Body=b"keep me")
    st, _, body = signed_request(cluster.port(), "PUT", f"/{bucket}/k", "partNumber=1", body=b"not a part")
    assert (st, xml_code(body)) == (400, "InvalidRequest")
    st, _, body = signed_request(cluster.port(), "GET", f"/{bucket}/k", "uploads")
    assert (st, xml_code(body)) == (405, "MethodNotAllowed")
    assert s3.get_object(Bucket=bucket, Key="k")["Body"].read() == b"keep me"
