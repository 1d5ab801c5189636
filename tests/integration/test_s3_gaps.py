"""Smaller S3 gaps of issue 12: GetObjectAttributes, ListBuckets pagination, bucket names S3
rejects, and the storage class / lifecycle refusals (test_tagging.py has those)."""
import re
import xml.etree.ElementTree as ET

import botocore
import pytest

from conftest import ACCESS2, SECRET2, err_code, err_status, signed_request, uniq

NS = "{http://s3.amazonaws.com/doc/2006-03-01/}"


def test_get_object_attributes(s3, bucket):
    s3.put_object(Bucket=bucket, Key="one", Body=b"hello", ChecksumAlgorithm="SHA256")
    a = s3.get_object_attributes(Bucket=bucket, Key="one",
                                 ObjectAttributes=["ETag", "Checksum", "ObjectParts", "StorageClass", "ObjectSize"])
    assert a["ETag"] == "5d41402abc4b2a76b9719d911017c592"
    assert a["ObjectSize"] == 5 and a["StorageClass"] == "STANDARD"
    assert a["Checksum"]["ChecksumSHA256"] == "LPJNul+wow4m6DsqxbninhsWHlwfp0JecwQzYpOLmCQ="
    assert "ObjectParts" not in a
    up = s3.create_multipart_upload(Bucket=bucket, Key="mp")["UploadId"]
    etags = [s3.upload_part(Bucket=bucket, Key="mp", UploadId=up, PartNumber=i, Body=bytes([i]) * (5 << 20 if i < 3 else 7))["ETag"]
             for i in (1, 2, 3)]
    s3.complete_multipart_upload(Bucket=bucket, Key="mp", UploadId=up, MultipartUpload={
        "Parts": [{"PartNumber": i + 1, "ETag": e} for i, e in enumerate(etags)]})
    a = s3.get_object_attributes(Bucket=bucket, Key="mp", ObjectAttributes=["ObjectParts", "ObjectSize", "ETag"])
    assert a["ObjectParts"]["TotalPartsCount"] == 3 and a["ObjectSize"] == 2 * (5 << 20) + 7
    assert a["ETag"].endswith("-3")
    with pytest.raises(botocore.exceptions.ClientError) as e:
        s3.get_object_attributes(Bucket=bucket, Key="absent", ObjectAttributes=["ETag"])
    assert err_code(e.value) == "NoSuchKey"


def test_get_object_attributes_bad_header(cluster, s3, bucket):
    s3.put_object(Bucket=bucket, Key="k", Body=b"x")
    port = cluster.gw_ports["gw"]
    for hdrs in ({}, {"x-amz-object-attributes": "ETag,Colour"}, {"x-amz-object-attributes": ""}):
        st, _, body = signed_request(port, "GET", f"/{bucket}/k", query="attributes", headers=hdrs)
        assert st == 400 and b"<Code>InvalidArgument</Code>" in body, (hdrs, body)


def _list_buckets(cluster, query):
    st, _, body = signed_request(cluster.gw_ports["gw"], "GET", "/", query=query, access=ACCESS2, secret=SECRET2)
    return st, body


def test_list_buckets_pagination(cluster):
    other = cluster.client(access=ACCESS2, secret=SECRET2)
    tag = uniq("lbp")
    names = sorted(f"{tag}-{i}" for i in range(5))
    for n in names:
        other.create_bucket(Bucket=n)
    got, token, pages = [], None, 0
    while pages < 10:
        q = f"max-buckets=2&prefix={tag}-" + (f"&continuation-token={token}" if token else "")
        st, body = _list_buckets(cluster, q)
        assert st == 200, body
        doc = ET.fromstring(body)
        page = [b.find(NS + "Name").text for b in doc.iter(NS + "Bucket")]
        assert len(page) <= 2 and doc.find(NS + "Prefix").text == f"{tag}-"
        got += page
        pages += 1
        tok = doc.find(NS + "ContinuationToken")
        if tok is None:
            break
        token = tok.text
    assert got == names and pages == 3
    # without max-buckets: every bucket of the account, no token
    st, body = _list_buckets(cluster, f"prefix={tag}-")
    assert st == 200 and b"ContinuationToken" not in body and len(re.findall(rb"<Name>", body)) == 5
    for q in ("max-buckets=0", "max-buckets=10001", "max-buckets=x", "continuation-token=%21%21"):
        st, body = _list_buckets(cluster, q)
        assert st == 400 and b"<Code>InvalidArgument</Code>" in body, q
    for n in names:
        other.delete_bucket(Bucket=n)


@pytest.mark.parametrize("name", ["foo-.bar", "foo.-bar", "192.168.1.1", "xn--abc", "abc-s3alias", "sthree-abc",
                                  "abc--ol-s3", "abc.mrap", "abc--x-s3", "ab..c", "-abc", "abc-"])
def test_bucket_names_s3_rejects(s3, name):
    with pytest.raises(botocore.exceptions.ClientError) as e:
        s3.create_bucket(Bucket=name)
    assert err_status(e.value) == 400 and err_code(e.value) == "InvalidBucketName"


def test_bucket_names_s3_accepts(s3):
    for name in (uniq("a.b-c"), uniq("xn-ok"), uniq("s3alias-first")):
        s3.create_bucket(Bucket=name)
        s3.delete_bucket(Bucket=name)


def test_non_ascii_metadata_rfc2047(cluster, s3, bucket):
    """boto3 refuses non-ASCII metadata, so clients send RFC 2047 encoded-words; S3 decodes them,
    stores the text and returns non-ASCII values as "=?UTF-8?B?...?=" (ASCII values as sent)."""
    import email.header
    import swiftclient.client as sc
    s3.put_object(Bucket=bucket, Key="m", Body=b"x", Metadata={
        "b": "=?UTF-8?B?w6l0w6k=?=", "q": "=?utf-8?Q?=C3=A9t=C3=A9_x?=", "plain": "abc",
        "notword": "=?ISO-8859-1?Q?caf=E9?=", "twowords": "=?UTF-8?B?w6k=?= =?UTF-8?B?w6k=?="})
    meta = s3.head_object(Bucket=bucket, Key="m")["Metadata"]

    def text(v):
        return "".join(p.decode(c) if isinstance(p, bytes) else p for p, c in email.header.decode_header(v))

    assert meta["b"].startswith("=?UTF-8?B?") and text(meta["b"]) == "été"
    assert text(meta["q"]) == "été x"
    assert meta["plain"] == "abc"
    assert meta["notword"] == "=?ISO-8859-1?Q?caf=E9?="  # not UTF-8: kept as sent
    assert text(meta["twowords"]) == "éé"
    # a copy (metadata COPY) keeps the stored text
    s3.copy_object(Bucket=bucket, Key="m2", CopySource={"Bucket": bucket, "Key": "m"})
    assert text(s3.head_object(Bucket=bucket, Key="m2")["Metadata"]["b"]) == "été"
    # Swift reads the decoded UTF-8
    from conftest import ACCOUNT
    cluster.admin("account-add", ACCOUNT, check=False)
    cluster.admin("swift-user-add", "--account", ACCOUNT, "--user", "metaadmin", "--key", "metakey", "--admin")
    sw = sc.Connection(authurl=f"{cluster.endpoint()}/auth/v1.0", user=f"{ACCOUNT}:metaadmin", key="metakey",
                       auth_version="1", retries=0)
    h = sw.head_object(bucket, "m")
    assert h["x-object-meta-b"] == "été"
