"""Multipart upload with real clients (aws s3 cp, s3cmd, boto3 TransferConfig) and by hand:
aborted and resumed uploads, the Complete checks (InvalidPart, InvalidPartOrder, EntityTooSmall),
ListParts / ListMultipartUploads pagination, UploadPartCopy with a range, per-part and
whole-object checksums, and Range GETs across part boundaries. Sizes are bounded (1 GiB at most)."""

import hashlib
import os
import time

import boto3.s3.transfer
import botocore.exceptions
import pytest

from conftest import MiB, err_code, err_status, file_digests, locate, make_file, stream_digests, uniq
from test_swift_s3_cross import swift  # noqa: F401 (fixture: a Swift connection to the S3 keys' account)


def mp_etag(chunks):
    """S3's multipart ETag: MD5 of the parts' binary MD5s, '-N'."""
    md5s = b"".join(hashlib.md5(c).digest() for c in chunks)
    return f'"{hashlib.md5(md5s).hexdigest()}-{len(chunks)}"'


def test_boto3_low_level_roundtrip_and_ranges(s3, bucket):
    parts = [os.urandom(5 * MiB), os.urandom(5 * MiB + 123), os.urandom(777)]
    up = s3.create_multipart_upload(Bucket=bucket, Key="mp/a", ContentType="text/x-test",
                                    Metadata={"color": "blue"})
    uid = up["UploadId"]
    assert all(c.isalnum() or c in "-_" for c in uid)
    done = []
    for i, body in enumerate(parts, 1):
        r = s3.upload_part(Bucket=bucket, Key="mp/a", UploadId=uid, PartNumber=i, Body=body)
        assert r["ETag"] == f'"{hashlib.md5(body).hexdigest()}"'
        done.append({"PartNumber": i, "ETag": r["ETag"]})
    lp = s3.list_parts(Bucket=bucket, Key="mp/a", UploadId=uid)
    assert [p["PartNumber"] for p in lp["Parts"]] == [1, 2, 3]
    assert [p["Size"] for p in lp["Parts"]] == [len(p) for p in parts]
    ups = s3.list_multipart_uploads(Bucket=bucket)
    assert [(u["Key"], u["UploadId"]) for u in ups["Uploads"]] == [("mp/a", uid)]
    c = s3.complete_multipart_upload(Bucket=bucket, Key="mp/a", UploadId=uid, MultipartUpload={"Parts": done})
    assert c["ETag"] == mp_etag(parts)
    whole = b"".join(parts)
    h = s3.head_object(Bucket=bucket, Key="mp/a")
    assert h["ContentLength"] == len(whole) and h["ETag"] == mp_etag(parts)
    assert h["ContentType"] == "text/x-test" and h["Metadata"] == {"color": "blue"}
    assert s3.get_object(Bucket=bucket, Key="mp/a")["Body"].read() == whole
    b1 = len(parts[0])
    b2 = b1 + len(parts[1])
    for a, z in [(b1 - 5, b1 + 5), (b2 - 1, b2), (0, len(whole) - 1), (b1 - 100, b2 + 100), (b2, b2)]:
        g = s3.get_object(Bucket=bucket, Key="mp/a", Range=f"bytes={a}-{z}")
        assert g["Body"].read() == whole[a:z + 1], (a, z)
    # the upload is gone once completed
    assert s3.list_multipart_uploads(Bucket=bucket).get("Uploads", []) == []
    with pytest.raises(botocore.exceptions.ClientError) as e:
        s3.list_parts(Bucket=bucket, Key="mp/a", UploadId=uid)
    assert err_code(e.value) == "NoSuchUpload"


def test_complete_checks(s3, bucket):
    uid = s3.create_multipart_upload(Bucket=bucket, Key="bad")["UploadId"]
    small = os.urandom(1 * MiB)
    e1 = s3.upload_part(Bucket=bucket, Key="bad", UploadId=uid, PartNumber=1, Body=small)["ETag"]
    e2 = s3.upload_part(Bucket=bucket, Key="bad", UploadId=uid, PartNumber=2, Body=small)["ETag"]

    def complete(parts):
        with pytest.raises(botocore.exceptions.ClientError) as e:
            s3.complete_multipart_upload(Bucket=bucket, Key="bad", UploadId=uid, MultipartUpload={"Parts": parts})
        return err_code(e.value)

    assert complete([{"PartNumber": 1, "ETag": e1}, {"PartNumber": 2, "ETag": e2}]) == "EntityTooSmall"
    assert complete([{"PartNumber": 2, "ETag": e2}, {"PartNumber": 1, "ETag": e1}]) == "InvalidPartOrder"
    assert complete([{"PartNumber": 3, "ETag": e1}]) == "InvalidPart"
    assert complete([{"PartNumber": 1, "ETag": '"' + "0" * 32 + '"'}]) == "InvalidPart"
    with pytest.raises(botocore.exceptions.ClientError) as e:
        s3.upload_part(Bucket=bucket, Key="bad", UploadId=uid, PartNumber=10001, Body=b"x")
    assert err_code(e.value) == "InvalidArgument"
    with pytest.raises(botocore.exceptions.ClientError) as e:
        s3.upload_part(Bucket=bucket, Key="bad", UploadId="A" * 22, PartNumber=1, Body=b"x")
    assert err_code(e.value) == "NoSuchUpload"
    # a single small part is a valid upload (the last part may be small)
    c = s3.complete_multipart_upload(Bucket=bucket, Key="bad", UploadId=uid,
                                     MultipartUpload={"Parts": [{"PartNumber": 2, "ETag": e2}]})
    assert c["ETag"] == mp_etag([small])
    assert s3.get_object(Bucket=bucket, Key="bad")["Body"].read() == small


def test_abort_and_resume(s3, bucket):
    body = [os.urandom(5 * MiB), os.urandom(3 * MiB)]
    uid = s3.create_multipart_upload(Bucket=bucket, Key="ab")["UploadId"]
    s3.upload_part(Bucket=bucket, Key="ab", UploadId=uid, PartNumber=1, Body=body[0])
    s3.abort_multipart_upload(Bucket=bucket, Key="ab", UploadId=uid)
    with pytest.raises(botocore.exceptions.ClientError) as e:
        s3.upload_part(Bucket=bucket, Key="ab", UploadId=uid, PartNumber=2, Body=body[1])
    assert err_code(e.value) == "NoSuchUpload"
    with pytest.raises(botocore.exceptions.ClientError) as e:
        s3.head_object(Bucket=bucket, Key="ab")
    # resumed: a client finds its upload again, asks which parts exist, sends the rest
    uid = s3.create_multipart_upload(Bucket=bucket, Key="ab")["UploadId"]
    s3.upload_part(Bucket=bucket, Key="ab", UploadId=uid, PartNumber=1, Body=body[0])
    found = [u for u in s3.list_multipart_uploads(Bucket=bucket, Prefix="ab")["Uploads"] if u["Key"] == "ab"]
    assert [u["UploadId"] for u in found] == [uid]
    have = {p["PartNumber"]: p["ETag"] for p in s3.list_parts(Bucket=bucket, Key="ab", UploadId=uid)["Parts"]}
    assert list(have) == [1]
    have[2] = s3.upload_part(Bucket=bucket, Key="ab", UploadId=uid, PartNumber=2, Body=body[1])["ETag"]
    s3.complete_multipart_upload(Bucket=bucket, Key="ab", UploadId=uid, MultipartUpload={
        "Parts": [{"PartNumber": n, "ETag": e} for n, e in sorted(have.items())]})
    assert s3.get_object(Bucket=bucket, Key="ab")["Body"].read() == b"".join(body)


def test_list_pagination(s3, bucket):
    uid = s3.create_multipart_upload(Bucket=bucket, Key="pg")["UploadId"]
    for i in range(1, 8):
        s3.upload_part(Bucket=bucket, Key="pg", UploadId=uid, PartNumber=i, Body=b"%d" % i)
    seen, marker = [], 0
    while True:
        r = s3.list_parts(Bucket=bucket, Key="pg", UploadId=uid, MaxParts=3, PartNumberMarker=marker)
        seen += [p["PartNumber"] for p in r["Parts"]]
        if not r["IsTruncated"]:
            break
        marker = r["NextPartNumberMarker"]
    assert seen == list(range(1, 8))
    ids = {s3.create_multipart_upload(Bucket=bucket, Key=f"k{i % 3}")["UploadId"] for i in range(5)}
    got, km, im = [], "", ""
    while True:
        r = s3.list_multipart_uploads(Bucket=bucket, MaxUploads=2, KeyMarker=km, UploadIdMarker=im)
        got += [(u["Key"], u["UploadId"]) for u in r.get("Uploads", [])]
        if not r["IsTruncated"]:
            break
        km, im = r["NextKeyMarker"], r["NextUploadIdMarker"]
    assert {u for k, u in got if k.startswith("k")} == ids
    assert len(got) == 6 and [k for k, _ in got] == sorted(k for k, _ in got)
    r = s3.list_multipart_uploads(Bucket=bucket, Delimiter="1")
    assert [p["Prefix"] for p in r.get("CommonPrefixes", [])] == ["k1"]
    for k, u in got:
        s3.abort_multipart_upload(Bucket=bucket, Key=k, UploadId=u)
    assert s3.list_multipart_uploads(Bucket=bucket).get("Uploads", []) == []


def test_list_uploads_delimiter_pages(s3, bucket):
    """With a delimiter, a CommonPrefixes entry is the page's NextKeyMarker (as S3), and the next
    page resumes after every key under it: paging one item at a time terminates and shows each
    prefix once, whether its uploads have parts or not."""
    keys = ["a/1", "a/2", "a/3/x", "b/1", "b/2", "c/x/y", "d", "e/1"]
    ups = {}
    for k in keys:
        ups.setdefault(k, []).append(s3.create_multipart_upload(Bucket=bucket, Key=k)["UploadId"])
    ups["a/1"].append(s3.create_multipart_upload(Bucket=bucket, Key="a/1")["UploadId"])
    for n in (1, 2):  # parts between the records of one prefix
        s3.upload_part(Bucket=bucket, Key="b/1", UploadId=ups["b/1"][0], PartNumber=n, Body=b"x")

    def walk(**kw):
        prefixes, uploads = [], []
        pages = s3.get_paginator("list_multipart_uploads").paginate(Bucket=bucket, Delimiter="/", **kw)
        for i, page in enumerate(pages):
            assert i < 20, "the listing does not end"
            prefixes += [p["Prefix"] for p in page.get("CommonPrefixes", [])]
            uploads += [u["Key"] for u in page.get("Uploads", [])]
            if page["IsTruncated"]:
                assert page["NextKeyMarker"]
        return prefixes, uploads

    for size in (1, 2, 3, 1000):
        assert walk(PaginationConfig={"PageSize": size}) == (["a/", "b/", "c/", "e/"], ["d"]), size
    assert walk(Prefix="a/", PaginationConfig={"PageSize": 1}) == (["a/3/"], ["a/1", "a/1", "a/2"])
    assert walk(Prefix="c/", PaginationConfig={"PageSize": 1}) == (["c/x/"], [])
    r = s3.list_multipart_uploads(Bucket=bucket, Delimiter="/", MaxUploads=1)
    assert r["IsTruncated"] and r["NextKeyMarker"] == "a/" and r["CommonPrefixes"] == [{"Prefix": "a/"}]
    r = s3.list_multipart_uploads(Bucket=bucket, Delimiter="/", MaxUploads=1, KeyMarker="a/")
    assert r["CommonPrefixes"] == [{"Prefix": "b/"}] and r["NextKeyMarker"] == "b/"
    # a key-marker that is not a common prefix still resumes after that key only
    r = s3.list_multipart_uploads(Bucket=bucket, Delimiter="/", KeyMarker="a/1")
    assert [p["Prefix"] for p in r["CommonPrefixes"]] == ["a/", "b/", "c/", "e/"]
    for k, ids in ups.items():
        for u in ids:
            s3.abort_multipart_upload(Bucket=bucket, Key=k, UploadId=u)
    assert s3.list_multipart_uploads(Bucket=bucket).get("Uploads", []) == []


def test_upload_part_copy(s3, bucket):
    src = os.urandom(6 * MiB + 5)
    s3.put_object(Bucket=bucket, Key="src", Body=src)
    uid = s3.create_multipart_upload(Bucket=bucket, Key="cp")["UploadId"]
    p1 = s3.upload_part_copy(Bucket=bucket, Key="cp", UploadId=uid, PartNumber=1,
                             CopySource={"Bucket": bucket, "Key": "src"})["CopyPartResult"]["ETag"]
    p2 = s3.upload_part_copy(Bucket=bucket, Key="cp", UploadId=uid, PartNumber=2,
                             CopySource={"Bucket": bucket, "Key": "src"},
                             CopySourceRange="bytes=1000-2000999")["CopyPartResult"]["ETag"]
    assert p1 == f'"{hashlib.md5(src).hexdigest()}"'
    assert p2 == f'"{hashlib.md5(src[1000:2001000]).hexdigest()}"'
    s3.complete_multipart_upload(Bucket=bucket, Key="cp", UploadId=uid, MultipartUpload={
        "Parts": [{"PartNumber": 1, "ETag": p1}, {"PartNumber": 2, "ETag": p2}]})
    assert s3.get_object(Bucket=bucket, Key="cp")["Body"].read() == src + src[1000:2001000]


@pytest.mark.parametrize("alg", ["SHA256", "CRC32"])
def test_upload_part_copy_with_checksum_algorithm(s3, swift, bucket, alg):
    """Parts copied into an upload created with x-amz-checksum-algorithm carry that checksum of
    their bytes (returned in CopyPartResult, as S3 does), so Complete accepts them: a whole source
    without a stored checksum (read back), one stored with this algorithm (its checksum reused), a
    range (computed while rewritten) and a small inline source."""
    import base64
    import zlib

    def digest(b):
        return hashlib.sha256(b).digest() if alg == "SHA256" else zlib.crc32(b).to_bytes(4, "big")

    plain, stored, small = os.urandom(5 * MiB + 11), os.urandom(5 * MiB + 22), os.urandom(700)
    s3.put_object(Bucket=bucket, Key="plain", Body=plain)
    s3.put_object(Bucket=bucket, Key="stored", Body=stored, ChecksumAlgorithm=alg)
    s3.put_object(Bucket=bucket, Key="small", Body=small)
    uid = s3.create_multipart_upload(Bucket=bucket, Key="ckcp", ChecksumAlgorithm=alg)["UploadId"]
    sources = [("plain", None, plain), ("stored", None, stored),
               ("plain", f"bytes=10-{5 * MiB + 9}", plain[10:5 * MiB + 10]), ("small", None, small)]
    done, bodies = [], []
    for n, (key, rng, body) in enumerate(sources, 1):
        kw = {"CopySourceRange": rng} if rng else {}
        r = s3.upload_part_copy(Bucket=bucket, Key="ckcp", UploadId=uid, PartNumber=n,
                                CopySource={"Bucket": bucket, "Key": key}, **kw)["CopyPartResult"]
        assert r["ETag"] == f'"{hashlib.md5(body).hexdigest()}"'
        assert r[f"Checksum{alg}"] == base64.b64encode(digest(body)).decode(), (n, key, rng)
        done.append({"PartNumber": n, "ETag": r["ETag"], f"Checksum{alg}": r[f"Checksum{alg}"]})
        bodies.append(body)
    lp = s3.list_parts(Bucket=bucket, Key="ckcp", UploadId=uid)
    assert [p["Size"] for p in lp["Parts"]] == [len(b) for b in bodies]
    c = s3.complete_multipart_upload(Bucket=bucket, Key="ckcp", UploadId=uid, MultipartUpload={"Parts": done})
    comp = digest(b"".join(digest(b) for b in bodies))
    assert c[f"Checksum{alg}"] == base64.b64encode(comp).decode() + f"-{len(bodies)}"
    assert s3.get_object(Bucket=bucket, Key="ckcp")["Body"].read() == b"".join(bodies)
    # a Swift DLO source: its segments' bytes are rewritten, then read back for the checksum
    segs = [os.urandom(300 * 1024), os.urandom(1234)]
    for i, seg in enumerate(segs):
        swift.put_object(bucket, f"dseg/{i}", seg)
    swift.put_object(bucket, "dlo", b"", headers={"X-Object-Manifest": f"{bucket}/dseg/"})
    uid = s3.create_multipart_upload(Bucket=bucket, Key="ckdlo", ChecksumAlgorithm=alg)["UploadId"]
    r = s3.upload_part_copy(Bucket=bucket, Key="ckdlo", UploadId=uid, PartNumber=1,
                            CopySource={"Bucket": bucket, "Key": "dlo"})["CopyPartResult"]
    assert r[f"Checksum{alg}"] == base64.b64encode(digest(b"".join(segs))).decode()
    c = s3.complete_multipart_upload(Bucket=bucket, Key="ckdlo", UploadId=uid, MultipartUpload={"Parts": [
        {"PartNumber": 1, "ETag": r["ETag"], f"Checksum{alg}": r[f"Checksum{alg}"]}]})
    assert c[f"Checksum{alg}"] == base64.b64encode(digest(digest(b"".join(segs)))).decode() + "-1"


def test_upload_part_copy_touches_referenced_chunks(cluster, s3, bucket):
    """A whole single-part source is referenced, not rewritten: its chunks must be touched before
    the part is committed (as CopyObject does), so a GC sweep whose cutoff predates the copy keeps
    them. Asked directly of every replica: DELETE ?older_than=<cutoff> must answer 409 (kept)."""
    src = os.urandom(300 * 1024)
    s3.put_object(Bucket=bucket, Key="tsrc", Body=src)
    chunks, out = locate(cluster, bucket, "tsrc")
    assert len(chunks) >= 2 and all(len(devs) == 3 for _, devs in chunks), out
    time.sleep(1.2)  # the node does not refresh a reference time younger than 1 s
    cutoff = time.time_ns()
    uid = s3.create_multipart_upload(Bucket=bucket, Key="tdst")["UploadId"]
    etag = s3.upload_part_copy(Bucket=bucket, Key="tdst", UploadId=uid, PartNumber=1,
                               CopySource={"Bucket": bucket, "Key": "tsrc"})["CopyPartResult"]["ETag"]
    assert etag == f'"{hashlib.md5(src).hexdigest()}"'
    for cid, devs in chunks:
        for dev in sorted(devs):
            st, _, body = cluster.node_request(int(dev[1:]), "DELETE", f"/{dev}/chunk/{cid}?older_than={cutoff}")
            assert st == 409, (cid, dev, st, body)
    s3.complete_multipart_upload(Bucket=bucket, Key="tdst", UploadId=uid,
                                 MultipartUpload={"Parts": [{"PartNumber": 1, "ETag": etag}]})
    assert s3.get_object(Bucket=bucket, Key="tdst")["Body"].read() == src


def test_get_and_head_part_number(s3, bucket):
    parts = [os.urandom(5 * MiB), os.urandom(5 * MiB + 7), os.urandom(1234)]
    uid = s3.create_multipart_upload(Bucket=bucket, Key="pn")["UploadId"]
    done = [{"PartNumber": i, "ETag": s3.upload_part(Bucket=bucket, Key="pn", UploadId=uid, PartNumber=i,
                                                     Body=p)["ETag"]} for i, p in enumerate(parts, 1)]
    s3.complete_multipart_upload(Bucket=bucket, Key="pn", UploadId=uid, MultipartUpload={"Parts": done})
    total, off = sum(map(len, parts)), 0
    for i, p in enumerate(parts, 1):
        g = s3.get_object(Bucket=bucket, Key="pn", PartNumber=i)
        assert g["ResponseMetadata"]["HTTPStatusCode"] == 206
        assert g["PartsCount"] == 3 and g["ContentLength"] == len(p)
        assert g["ContentRange"] == f"bytes {off}-{off + len(p) - 1}/{total}"
        assert g["ETag"] == mp_etag(parts)
        assert g["Body"].read() == p
        h = s3.head_object(Bucket=bucket, Key="pn", PartNumber=i)
        assert (h["ResponseMetadata"]["HTTPStatusCode"], h["PartsCount"], h["ContentLength"]) == (206, 3, len(p))
        off += len(p)
    for bad in (4, 10000):
        with pytest.raises(botocore.exceptions.ClientError) as e:
            s3.get_object(Bucket=bucket, Key="pn", PartNumber=bad)
        assert (err_status(e.value), err_code(e.value)) == (416, "InvalidPartNumber")
    with pytest.raises(botocore.exceptions.ClientError) as e:
        s3.get_object(Bucket=bucket, Key="pn", PartNumber=1, Range="bytes=0-1")
    assert err_code(e.value) == "InvalidRequest"
    # a single-part object is its own part 1
    s3.put_object(Bucket=bucket, Key="one", Body=b"single part")
    g = s3.get_object(Bucket=bucket, Key="one", PartNumber=1)
    assert g["ResponseMetadata"]["HTTPStatusCode"] == 206 and g["Body"].read() == b"single part"
    assert "PartsCount" not in g
    with pytest.raises(botocore.exceptions.ClientError) as e:
        s3.get_object(Bucket=bucket, Key="one", PartNumber=2)
    assert err_code(e.value) == "InvalidPartNumber"
    # overwritten by a single-part object: the old part sizes are not believed
    s3.put_object(Bucket=bucket, Key="pn", Body=b"now small")
    assert s3.get_object(Bucket=bucket, Key="pn", PartNumber=1)["Body"].read() == b"now small"
    with pytest.raises(botocore.exceptions.ClientError) as e:
        s3.get_object(Bucket=bucket, Key="pn", PartNumber=2)
    assert err_code(e.value) == "InvalidPartNumber"


def test_checksums_per_part_and_whole(cluster, bucket):
    s3 = cluster.client()
    parts = [os.urandom(5 * MiB), os.urandom(1000)]
    uid = s3.create_multipart_upload(Bucket=bucket, Key="ck", ChecksumAlgorithm="SHA256")["UploadId"]
    done = []
    for i, body in enumerate(parts, 1):
        r = s3.upload_part(Bucket=bucket, Key="ck", UploadId=uid, PartNumber=i, Body=body, ChecksumAlgorithm="SHA256")
        assert r["ChecksumSHA256"] == __import__("base64").b64encode(hashlib.sha256(body).digest()).decode()
        done.append({"PartNumber": i, "ETag": r["ETag"], "ChecksumSHA256": r["ChecksumSHA256"]})
    c = s3.complete_multipart_upload(Bucket=bucket, Key="ck", UploadId=uid, MultipartUpload={"Parts": done})
    comp = hashlib.sha256(b"".join(hashlib.sha256(p).digest() for p in parts)).digest()
    assert c["ChecksumSHA256"] == __import__("base64").b64encode(comp).decode() + "-2"
    # a wrong checksum on a part is refused and stores nothing
    uid = s3.create_multipart_upload(Bucket=bucket, Key="ck2")["UploadId"]
    with pytest.raises(botocore.exceptions.ClientError) as e:
        s3.upload_part(Bucket=bucket, Key="ck2", UploadId=uid, PartNumber=1, Body=b"abc",
                       ChecksumSHA256=__import__("base64").b64encode(b"x" * 32).decode())
    assert err_code(e.value) == "BadDigest"
    assert s3.list_parts(Bucket=bucket, Key="ck2", UploadId=uid).get("Parts", []) == []


def test_boto3_transfer_config(s3, bucket, tmp_path):
    path = tmp_path / "f"
    md5, sha = make_file(path, 40 * MiB + 17)
    cfg = boto3.s3.transfer.TransferConfig(multipart_threshold=8 * MiB, multipart_chunksize=8 * MiB, max_concurrency=4)
    with open(path, "rb") as f:
        s3.upload_fileobj(f, bucket, "tc", Config=cfg)
    h = s3.head_object(Bucket=bucket, Key="tc")
    assert h["ETag"].endswith('-6"') and h["ContentLength"] == 40 * MiB + 17
    assert stream_digests(s3.get_object(Bucket=bucket, Key="tc")["Body"]) == (md5, sha, 40 * MiB + 17)


def test_s3cmd_multipart(cluster, s3, bucket, tmp_path):
    path = tmp_path / "s"
    md5, sha = make_file(path, 23 * MiB)
    cluster.s3cmd("put", "--multipart-chunk-size-mb=5", str(path), f"s3://{bucket}/s3cmd")
    h = s3.head_object(Bucket=bucket, Key="s3cmd")
    assert h["ETag"].endswith('-5"') and h["ContentLength"] == 23 * MiB
    out = tmp_path / "s.out"
    cluster.s3cmd("get", f"s3://{bucket}/s3cmd", str(out))
    assert file_digests(out) == (md5, sha)


def test_aws_cp_1gib_multipart(cluster, s3, tmp_path):
    """1 GiB through `aws s3 cp` (8 MiB parts, parallel), back by parallel ranged GETs."""
    b = uniq("mp1g")
    s3.create_bucket(Bucket=b)
    src = tmp_path / "1GiB"
    md5, sha = make_file(src, 1024 * MiB)
    try:
        cluster.aws("s3", "cp", str(src), f"s3://{b}/big")
    finally:
        os.unlink(src)
    h = s3.head_object(Bucket=b, Key="big")
    assert h["ContentLength"] == 1024 * MiB and h["ETag"].endswith('-128"')
    dst = tmp_path / "1GiB.out"
    try:
        cluster.aws("s3", "cp", f"s3://{b}/big", str(dst))
        assert file_digests(dst) == (md5, sha)
    finally:
        if dst.exists():
            os.unlink(dst)
    s3.delete_object(Bucket=b, Key="big")
