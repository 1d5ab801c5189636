"""Swift features seen through S3 on the same objects: container/account quotas set with Swift
bind S3 writes (PutObject plain, aws-chunked and HTTP-chunked, CopyObject, CompleteMultipartUpload:
403 QuotaExceeded, nothing stored), objects past their X-Delete-At are gone for S3 GET, HEAD,
ListObjects v1/v2 and as a copy source, and Swift large objects (SLO, DLO) read through S3 give
their segments' bytes, size and ETag as s3api does; CopyObject and UploadPartCopy from them copy
those bytes into plain objects (parts). Clients: the swift CLI, python-swiftclient and
boto3."""

import datetime
import hashlib
import http.client
import json
import os
import subprocess
import time

import botocore.exceptions
import pytest
import swiftclient.client as sc
from botocore.awsrequest import AWSRequest
from botocore.credentials import Credentials

from conftest import ACCESS, ACCOUNT, MiB, SECRET, _FixedTimeS3SigV4, err_code, err_status, xml_code
from test_streaming import MODES, streaming_request

KEY = "cross-admin-key"


@pytest.fixture(scope="module")
def swift(cluster):
    """A python-swiftclient connection as an admin of ACCOUNT, the account of the S3 keys."""
    cluster.admin("account-add", ACCOUNT, check=False)  # may exist already (test_swift.py)
    cluster.admin("swift-user-add", "--account", ACCOUNT, "--user", "xadmin", "--key", KEY, "--admin")
    return sc.Connection(authurl=f"{cluster.endpoint()}/auth/v1.0", user=f"{ACCOUNT}:xadmin", key=KEY,
                         auth_version="1", retries=0)


def keys(s3, bucket):
    return [o["Key"] for o in s3.list_objects_v2(Bucket=bucket).get("Contents", [])]


def s3_error(fn, **kw):
    with pytest.raises(botocore.exceptions.ClientError) as e:
        fn(**kw)
    return err_status(e.value), err_code(e.value)


def chunked_put(port, bucket, key, pieces):
    """PUT with Transfer-Encoding: chunked and no Content-Length (UNSIGNED-PAYLOAD): the gateway
    learns the size only at the end of the body. Returns (status, body)."""
    host = f"127.0.0.1:{port}"
    req = AWSRequest(method="PUT", url=f"http://{host}/{bucket}/{key}", data=b"",
                     headers={"x-amz-content-sha256": "UNSIGNED-PAYLOAD"})
    _FixedTimeS3SigV4(Credentials(ACCESS, SECRET), datetime.datetime.utcnow(), "UNSIGNED-PAYLOAD").add_auth(req)
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=60)
    try:
        conn.putrequest("PUT", f"/{bucket}/{key}", skip_host=True, skip_accept_encoding=True)
        for k, v in req.headers.items():
            conn.putheader(k, v)
        conn.putheader("Host", host)
        conn.putheader("Transfer-Encoding", "chunked")
        conn.endheaders()
        for p in pieces:
            conn.send(b"%x\r\n" % len(p) + p + b"\r\n")
        conn.send(b"0\r\n\r\n")
        resp = conn.getresponse()
        return resp.status, resp.read()
    finally:
        conn.close()


def test_container_quota_binds_s3_writes(cluster, swift, s3, bucket):
    swift.post_container(bucket, {"X-Container-Meta-Quota-Bytes": "20000"})
    s3.put_object(Bucket=bucket, Key="a", Body=os.urandom(12000))
    # plain PutObject with a known size: refused before the body is read
    assert s3_error(s3.put_object, Bucket=bucket, Key="b", Body=os.urandom(9000)) == (403, "QuotaExceeded")
    # aws-chunked: the decoded length is checked
    st, _, body = streaming_request(cluster.port(), f"/{bucket}/c", "", os.urandom(9000), MODES[2],
                                    trailer=("x-amz-checksum-crc32", "AAAAAA=="))
    assert (st, xml_code(body)) == (403, "QuotaExceeded"), body
    # HTTP chunked: only the final size tells, checked before committing
    st, body = chunked_put(cluster.port(), bucket, "d", [os.urandom(5000), os.urandom(4000)])
    assert (st, xml_code(body)) == (403, "QuotaExceeded"), body
    st, body = chunked_put(cluster.port(), bucket, "d", [os.urandom(3000), os.urandom(2000)])
    assert st == 200, body
    # CopyObject and CompleteMultipartUpload
    assert s3_error(s3.copy_object, Bucket=bucket, Key="e", CopySource={"Bucket": bucket, "Key": "a"}) == \
        (403, "QuotaExceeded")
    uid = s3.create_multipart_upload(Bucket=bucket, Key="f")["UploadId"]
    etag = s3.upload_part(Bucket=bucket, Key="f", UploadId=uid, PartNumber=1, Body=os.urandom(9000))["ETag"]
    assert s3_error(s3.complete_multipart_upload, Bucket=bucket, Key="f", UploadId=uid,
                    MultipartUpload={"Parts": [{"PartNumber": 1, "ETag": etag}]}) == (403, "QuotaExceeded")
    assert keys(s3, bucket) == ["a", "d"]
    assert swift.head_container(bucket)["x-container-bytes-used"] == "17000"
    # raising the quota lets the same requests through
    swift.post_container(bucket, {"X-Container-Meta-Quota-Bytes": "100000"})
    s3.complete_multipart_upload(Bucket=bucket, Key="f", UploadId=uid,
                                 MultipartUpload={"Parts": [{"PartNumber": 1, "ETag": etag}]})
    s3.copy_object(Bucket=bucket, Key="e", CopySource={"Bucket": bucket, "Key": "a"})
    assert keys(s3, bucket) == ["a", "d", "e", "f"]


def test_container_count_quota(swift, s3, bucket):
    swift.post_container(bucket, {"X-Container-Meta-Quota-Count": "1"})
    s3.put_object(Bucket=bucket, Key="one", Body=b"1")
    assert s3_error(s3.put_object, Bucket=bucket, Key="two", Body=b"2") == (403, "QuotaExceeded")
    assert keys(s3, bucket) == ["one"]


def test_expired_objects_hidden_from_s3(swift, s3, bucket):
    # 3 s (Swift rounds to whole seconds): long enough to see them listed before they expire
    swift.put_object(bucket, "soon", b"bye", headers={"X-Delete-After": "3"})
    s3.put_object(Bucket=bucket, Key="posted", Body=b"made by S3")
    swift.post_object(bucket, "posted", {"X-Delete-After": "3"})
    s3.put_object(Bucket=bucket, Key="stays", Body=b"stay")
    swift.put_object(bucket, "later", b"later", headers={"X-Delete-After": "3600"})
    assert s3.get_object(Bucket=bucket, Key="soon")["Body"].read() == b"bye"
    assert sorted(keys(s3, bucket)) == ["later", "posted", "soon", "stays"]
    time.sleep(3.5)
    for k in ("soon", "posted"):
        assert s3_error(s3.get_object, Bucket=bucket, Key=k) == (404, "NoSuchKey")
        assert s3_error(s3.head_object, Bucket=bucket, Key=k)[0] == 404
        assert s3_error(s3.copy_object, Bucket=bucket, Key="copy", CopySource={"Bucket": bucket, "Key": k}) == \
            (404, "NoSuchKey")
    assert keys(s3, bucket) == ["later", "stays"]
    assert [o["Key"] for o in s3.list_objects(Bucket=bucket).get("Contents", [])] == ["later", "stays"]
    assert s3.get_object(Bucket=bucket, Key="later")["Body"].read() == b"later"


def test_expired_first_key_keeps_its_directory(swift, s3, bucket):
    """The nodes group a delimiter listing: each returns a directory's keys up to its first live
    record and skips the rest. When that record is an object past its X-Delete-At, the gateway hides
    it and must read on inside the directory, not past it: dir/ stays listed through its later key,
    and gone/ (only expired keys) is not."""
    swift.put_object(bucket, "dir/a-expires", b"bye", headers={"X-Delete-After": "1"})
    s3.put_object(Bucket=bucket, Key="dir/b-stays", Body=b"stay")
    swift.put_object(bucket, "gone/a", b"bye", headers={"X-Delete-After": "1"})
    swift.put_object(bucket, "gone/b", b"bye", headers={"X-Delete-After": "1"})
    s3.put_object(Bucket=bucket, Key="top", Body=b"top")
    time.sleep(2.2)
    for listing in (s3.list_objects_v2(Bucket=bucket, Delimiter="/"), s3.list_objects(Bucket=bucket, Delimiter="/")):
        assert [p["Prefix"] for p in listing.get("CommonPrefixes", [])] == ["dir/"]
        assert [o["Key"] for o in listing.get("Contents", [])] == ["top"]
    page = s3.list_objects_v2(Bucket=bucket, Delimiter="/", MaxKeys=1)
    assert [p["Prefix"] for p in page.get("CommonPrefixes", [])] == ["dir/"] and page["IsTruncated"]
    page = s3.list_objects_v2(Bucket=bucket, Delimiter="/", MaxKeys=1, ContinuationToken=page["NextContinuationToken"])
    assert [o["Key"] for o in page.get("Contents", [])] == ["top"] and not page["IsTruncated"]
    _, listed = swift.get_container(bucket, delimiter="/")
    assert [o.get("subdir", o.get("name")) for o in listed] == ["dir/", "top"]
    assert keys(s3, bucket) == ["dir/b-stays", "top"]


# ---------------------------------------------------------------- Swift large objects through S3


def md5(b):
    return hashlib.md5(b).hexdigest()


def swift_cli(cluster, *args, cwd=None):
    r = subprocess.run(["swift", "-A", f"{cluster.endpoint()}/auth/v1.0", "-U", f"{ACCOUNT}:xadmin", "-K", KEY,
                        *args], capture_output=True, text=True, timeout=300, cwd=cwd)
    assert r.returncode == 0, f"swift {' '.join(args)} -> {r.returncode}\n{r.stdout}\n{r.stderr}"
    return r.stdout


@pytest.mark.parametrize("use_slo", [False, True])
def test_swift_large_object_read_through_s3(cluster, swift, s3, bucket, tmp_path, use_slo):
    seg = MiB
    data = os.urandom(2 * seg + 54321)
    (tmp_path / "big.bin").write_bytes(data)
    swift_cli(cluster, "upload", "-S", str(seg), *(["--use-slo"] if use_slo else []), bucket, "big.bin",
              cwd=tmp_path)
    # s3api: an SLO's ETag is its Swift ETag (MD5 of the segments' ETags) with "-N", a DLO's the
    # same MD5 without it; both with the total size.
    seg_md5 = md5("".join(md5(data[i:i + seg]) for i in range(0, len(data), seg)).encode())
    etag = f'"{seg_md5}-N"' if use_slo else f'"{seg_md5}"'
    h = s3.head_object(Bucket=bucket, Key="big.bin")
    assert (h["ContentLength"], h["ETag"]) == (len(data), etag)
    assert "x-object-manifest" not in h["ResponseMetadata"]["HTTPHeaders"]
    g = s3.get_object(Bucket=bucket, Key="big.bin")
    assert (g["ContentLength"], g["ETag"]) == (len(data), etag)
    assert md5(g["Body"].read()) == md5(data)
    # Ranges across a segment boundary, from the end, and past the end.
    for rng, lo, hi in ((f"bytes={seg - 5}-{seg + 4}", seg - 5, seg + 4), ("bytes=100-", 100, len(data) - 1),
                        ("bytes=-7", len(data) - 7, len(data) - 1), (f"bytes=0-{2 * seg}", 0, 2 * seg)):
        g = s3.get_object(Bucket=bucket, Key="big.bin", Range=rng)
        assert g["ResponseMetadata"]["HTTPStatusCode"] == 206
        assert g["ContentRange"] == f"bytes {lo}-{hi}/{len(data)}" and g["ETag"] == etag
        assert g["Body"].read() == data[lo:hi + 1], rng
    with pytest.raises(botocore.exceptions.ClientError) as e:
        s3.get_object(Bucket=bucket, Key="big.bin", Range=f"bytes={len(data)}-")
    assert (err_status(e.value), err_code(e.value)) == (416, "InvalidRange")
    assert e.value.response["ResponseMetadata"]["HTTPHeaders"]["content-range"] == f"bytes */{len(data)}"
    # Conditionals against the served ETag.
    assert s3_error(s3.get_object, Bucket=bucket, Key="big.bin", IfNoneMatch=etag)[0] == 304
    assert s3.get_object(Bucket=bucket, Key="big.bin", IfMatch=etag)["ContentLength"] == len(data)
    # Listings: an SLO shows its total size and ETag, a DLO its (empty) manifest object, as s3api.
    for listed in (s3.list_objects_v2(Bucket=bucket)["Contents"], s3.list_objects(Bucket=bucket)["Contents"]):
        assert [(o["Key"], o["Size"], o["ETag"]) for o in listed] == \
            [("big.bin", len(data), etag) if use_slo else ("big.bin", 0, f'"{md5(b"")}"')]
    # Swift still sees the large object as before.
    sh, body = swift.get_object(bucket, "big.bin")
    assert md5(body) == md5(data) and sh["etag"] == f'"{seg_md5}"'


def test_swift_slo_ranged_segments_and_broken_segment_through_s3(swift, s3, bucket):
    parts = [os.urandom(n) for n in (70000, 300000, 5000)]
    for i, p in enumerate(parts):
        swift.put_object(bucket, f"seg{i}", p)
    manifest = [{"path": f"/{bucket}/seg0", "etag": md5(parts[0]), "size_bytes": len(parts[0])},
                {"path": f"/{bucket}/seg1", "range": "1000-200999"},
                {"path": f"/{bucket}/seg2", "etag": None, "size_bytes": None}]
    swift.put_object(bucket, "slo", json.dumps(manifest), query_string="multipart-manifest=put")
    data = parts[0] + parts[1][1000:201000] + parts[2]
    want = md5((md5(parts[0]) + md5(parts[1]) + ":1000-200999;" + md5(parts[2])).encode())
    h = s3.head_object(Bucket=bucket, Key="slo")
    assert (h["ContentLength"], h["ETag"]) == (len(data), f'"{want}-N"')
    assert s3.get_object(Bucket=bucket, Key="slo")["Body"].read() == data
    for lo, hi in ((69990, 70009), (269990, 270009), (0, len(data) - 1), (270000, 270000)):
        g = s3.get_object(Bucket=bucket, Key="slo", Range=f"bytes={lo}-{hi}")
        assert g["Body"].read() == data[lo:hi + 1]
    # partNumber (s3api has none): the large object is its single part 1.
    g = s3.get_object(Bucket=bucket, Key="slo", PartNumber=1)
    assert (g["ContentRange"], g["Body"].read()) == (f"bytes 0-{len(data) - 1}/{len(data)}", data)
    # A segment overwritten after the manifest was written: never served as part of the SLO
    # (s3api: 409 BrokenMPU before the first byte).
    swift.put_object(bucket, "seg1", os.urandom(300000))
    assert s3_error(s3.get_object, Bucket=bucket, Key="slo", Range="bytes=70000-70009") == (409, "BrokenMPU")
    assert s3.get_object(Bucket=bucket, Key="slo", Range="bytes=0-9")["Body"].read() == data[:10]
    # Deleted: the same.
    swift.delete_object(bucket, "seg1")
    assert s3_error(s3.get_object, Bucket=bucket, Key="slo", Range="bytes=100000-") == (409, "BrokenMPU")
    # The whole object: the first segment goes out, then the connection is cut (never wrong bytes).
    with pytest.raises(Exception):
        s3.get_object(Bucket=bucket, Key="slo")["Body"].read()


# ---------------------------------------------------------------- copies of Swift large objects


@pytest.mark.parametrize("use_slo", [False, True])
def test_swift_large_object_copy_through_s3(cluster, swift, s3, bucket, tmp_path, use_slo):
    """As s3api: CopyObject of an SLO or DLO writes the segments' bytes into a new plain object
    (ETag: their MD5), with COPY and REPLACE alike, so the copy outlives the segments."""
    seg = MiB
    data = os.urandom(2 * seg + 4321)
    (tmp_path / "big.bin").write_bytes(data)
    swift_cli(cluster, "upload", "-S", str(seg), *(["--use-slo"] if use_slo else []), bucket, "big.bin",
              cwd=tmp_path)
    swift.post_object(bucket, "big.bin", {"X-Object-Meta-Color": "blue", "Content-Type": "video/x-big",
                                          **({} if use_slo else {"X-Object-Manifest": f"{bucket}_segments/big.bin/"})})
    seg_md5 = md5("".join(md5(data[i:i + seg]) for i in range(0, len(data), seg)).encode())
    src_etag = f'"{seg_md5}-N"' if use_slo else f'"{seg_md5}"'
    # the source's S3 ETag is the one x-amz-copy-source-if-* compare against
    assert s3_error(s3.copy_object, Bucket=bucket, Key="c", CopySource={"Bucket": bucket, "Key": "big.bin"},
                    CopySourceIfMatch=f'"{md5(data)}"') == (412, "PreconditionFailed")
    r = s3.copy_object(Bucket=bucket, Key="copy.bin", CopySource={"Bucket": bucket, "Key": "big.bin"},
                       CopySourceIfMatch=src_etag)
    assert r["CopyObjectResult"]["ETag"] == f'"{md5(data)}"'
    r = s3.copy_object(Bucket=bucket, Key="replaced.bin", CopySource={"Bucket": bucket, "Key": "big.bin"},
                       MetadataDirective="REPLACE", Metadata={"shape": "round"}, ContentType="text/x-new")
    assert r["CopyObjectResult"]["ETag"] == f'"{md5(data)}"'
    h = s3.head_object(Bucket=bucket, Key="copy.bin")
    assert (h["ContentLength"], h["ETag"], h["ContentType"], h["Metadata"]) == \
        (len(data), f'"{md5(data)}"', "video/x-big", {"color": "blue"})
    h = s3.head_object(Bucket=bucket, Key="replaced.bin")
    assert (h["ContentLength"], h["ETag"], h["ContentType"], h["Metadata"]) == \
        (len(data), f'"{md5(data)}"', "text/x-new", {"shape": "round"})
    # plain objects for Swift too: no manifest, their own bytes
    for k in ("copy.bin", "replaced.bin"):
        sh = swift.head_object(bucket, k)
        assert "x-object-manifest" not in sh and "x-static-large-object" not in sh
        assert (sh["etag"], sh["content-length"]) == (md5(data), str(len(data)))
    listed = {o["Key"]: (o["Size"], o["ETag"]) for o in s3.list_objects_v2(Bucket=bucket)["Contents"]}
    assert listed["copy.bin"] == listed["replaced.bin"] == (len(data), f'"{md5(data)}"')
    # The original goes with its segments (the CLI deletes them): the copies keep their bytes.
    swift_cli(cluster, "delete", bucket, "big.bin")
    assert swift.get_container(f"{bucket}_segments")[1] == []
    for k in ("copy.bin", "replaced.bin"):
        g = s3.get_object(Bucket=bucket, Key=k)
        assert (g["ContentLength"], g["Body"].read()) == (len(data), data)
        assert s3.get_object(Bucket=bucket, Key=k, Range=f"bytes={seg - 3}-{seg + 2}")["Body"].read() == \
            data[seg - 3:seg + 3]


def test_swift_dlo_copy_empty_and_quota(swift, s3, bucket):
    """An empty DLO copies as an empty object (with REPLACE too); the quota counts the large
    object's bytes, not its manifest's."""
    swift.put_object(bucket, "dlo", b"", headers={"X-Object-Manifest": f"{bucket}/none-"})
    for directive in ("COPY", "REPLACE"):
        r = s3.copy_object(Bucket=bucket, Key=f"e-{directive}", CopySource={"Bucket": bucket, "Key": "dlo"},
                           MetadataDirective=directive)
        assert r["CopyObjectResult"]["ETag"] == f'"{md5(b"")}"'
        assert s3.get_object(Bucket=bucket, Key=f"e-{directive}")["Body"].read() == b""
    parts = [os.urandom(30000), os.urandom(20000)]
    for i, p in enumerate(parts):
        swift.put_object(bucket, f"seg-{i}", p)
    swift.post_object(bucket, "dlo", {"X-Object-Manifest": f"{bucket}/seg-"})
    # 50000 bytes of segments (and a 0-byte manifest) are in; 60000 allows one more 10000
    swift.post_container(bucket, {"X-Container-Meta-Quota-Bytes": "60000"})
    assert s3_error(s3.copy_object, Bucket=bucket, Key="big", CopySource={"Bucket": bucket, "Key": "dlo"}) == \
        (403, "QuotaExceeded")
    swift.post_container(bucket, {"X-Container-Meta-Quota-Bytes": "200000"})
    r = s3.copy_object(Bucket=bucket, Key="big", CopySource={"Bucket": bucket, "Key": "dlo"})
    assert r["CopyObjectResult"]["ETag"] == f'"{md5(parts[0] + parts[1])}"'
    assert s3.get_object(Bucket=bucket, Key="big")["Body"].read() == parts[0] + parts[1]


def test_swift_slo_copy_with_broken_segment(swift, s3, bucket):
    """A segment changed or gone since the manifest: 409 BrokenMPU, and nothing is written."""
    parts = [os.urandom(n) for n in (40000, 50000)]
    for i, p in enumerate(parts):
        swift.put_object(bucket, f"seg{i}", p)
    manifest = [{"path": f"/{bucket}/seg{i}", "etag": md5(p), "size_bytes": len(p)} for i, p in enumerate(parts)]
    swift.put_object(bucket, "slo", json.dumps(manifest), query_string="multipart-manifest=put")
    swift.put_object(bucket, "seg1", os.urandom(50000))
    uid = s3.create_multipart_upload(Bucket=bucket, Key="mp")["UploadId"]
    assert s3_error(s3.copy_object, Bucket=bucket, Key="copy", CopySource={"Bucket": bucket, "Key": "slo"}) == \
        (409, "BrokenMPU")
    assert s3_error(s3.upload_part_copy, Bucket=bucket, Key="mp", UploadId=uid, PartNumber=1,
                    CopySource={"Bucket": bucket, "Key": "slo"}, CopySourceRange="bytes=39990-40009") == \
        (409, "BrokenMPU")
    swift.delete_object(bucket, "seg1")
    assert s3_error(s3.copy_object, Bucket=bucket, Key="copy", CopySource={"Bucket": bucket, "Key": "slo"}) == \
        (409, "BrokenMPU")
    assert s3_error(s3.head_object, Bucket=bucket, Key="copy")[0] == 404
    assert s3.list_parts(Bucket=bucket, Key="mp", UploadId=uid).get("Parts", []) == []
    # a range of the intact segment still copies
    r = s3.upload_part_copy(Bucket=bucket, Key="mp", UploadId=uid, PartNumber=1,
                            CopySource={"Bucket": bucket, "Key": "slo"}, CopySourceRange="bytes=100-39999")
    assert r["CopyPartResult"]["ETag"] == f'"{md5(parts[0][100:])}"'
    s3.abort_multipart_upload(Bucket=bucket, Key="mp", UploadId=uid)


def test_upload_part_copy_from_swift_large_objects(cluster, swift, s3, bucket, tmp_path):
    """UploadPartCopy reads the large object's bytes (a range of them with
    x-amz-copy-source-range), never the manifest's."""
    seg = MiB
    data = os.urandom(6 * seg + 777)
    (tmp_path / "slo.bin").write_bytes(data)
    swift_cli(cluster, "upload", "-S", str(seg), "--use-slo", bucket, "slo.bin", cwd=tmp_path)
    small = os.urandom(2 * seg + 99)
    (tmp_path / "dlo.bin").write_bytes(small)
    swift_cli(cluster, "upload", "-S", str(seg), bucket, "dlo.bin", cwd=tmp_path)
    uid = s3.create_multipart_upload(Bucket=bucket, Key="joined")["UploadId"]
    lo, hi = seg - 5, seg - 5 + 5 * MiB + 6  # 5 MiB + 7 bytes across five segment boundaries
    r1 = s3.upload_part_copy(Bucket=bucket, Key="joined", UploadId=uid, PartNumber=1,
                             CopySource={"Bucket": bucket, "Key": "slo.bin"}, CopySourceRange=f"bytes={lo}-{hi}")
    assert r1["CopyPartResult"]["ETag"] == f'"{md5(data[lo:hi + 1])}"'
    # a whole DLO (no range), and a range past the source's end is refused
    assert s3_error(s3.upload_part_copy, Bucket=bucket, Key="joined", UploadId=uid, PartNumber=2,
                    CopySource={"Bucket": bucket, "Key": "dlo.bin"},
                    CopySourceRange=f"bytes=0-{len(small)}") == (400, "InvalidRange")
    r2 = s3.upload_part_copy(Bucket=bucket, Key="joined", UploadId=uid, PartNumber=2,
                             CopySource={"Bucket": bucket, "Key": "dlo.bin"})
    assert r2["CopyPartResult"]["ETag"] == f'"{md5(small)}"'
    s3.complete_multipart_upload(Bucket=bucket, Key="joined", UploadId=uid, MultipartUpload={"Parts": [
        {"PartNumber": 1, "ETag": r1["CopyPartResult"]["ETag"]},
        {"PartNumber": 2, "ETag": r2["CopyPartResult"]["ETag"]}]})
    want = data[lo:hi + 1] + small
    g = s3.get_object(Bucket=bucket, Key="joined")
    assert (g["ContentLength"], md5(g["Body"].read())) == (len(want), md5(want))
    assert s3.get_object(Bucket=bucket, Key="joined", PartNumber=2)["Body"].read() == small
