"""Server-side encryption (issue 12): SSE-C and SSE-S3 with real clients (boto3, /usr/bin/aws),
the S3 errors for bad or missing keys, ranges, multipart and copy, and the nodes' disks searched
for the plaintext. docs/architecture.md "Encryption", docs/s3-compat.md."""

import base64
import hashlib
import os
import re

import botocore.exceptions
import pytest

from conftest import MiB, signed_request, uniq, xml_code

KEY = bytes(range(32))
KEY2 = bytes(range(100, 132))


def ssec(key=KEY):
    return {"SSECustomerAlgorithm": "AES256", "SSECustomerKey": key}


def ssec_headers(key=KEY, prefix="x-amz-server-side-encryption-customer-"):
    return {prefix + "algorithm": "AES256", prefix + "key": base64.b64encode(key).decode(),
            prefix + "key-MD5": base64.b64encode(hashlib.md5(key).digest()).decode()}


def body_with(marker, size):
    """size bytes made of numbered lines holding marker (searchable on disk, no two lines alike)."""
    out, i = bytearray(), 0
    while len(out) < size:
        out += b"%s-%08d|" % (marker, i)
        i += 1
    return bytes(out[:size])


def client_error(fn):
    with pytest.raises(botocore.exceptions.ClientError) as e:
        fn()
    return e.value.response["ResponseMetadata"]["HTTPStatusCode"], e.value.response["Error"]["Code"]


@pytest.mark.parametrize("size", [0, 5, 8192, 8193, 3 * MiB + 123])
def test_ssec_round_trip(s3, bucket, size):
    data = os.urandom(size)
    put = s3.put_object(Bucket=bucket, Key="k", Body=data, **ssec())
    assert put["SSECustomerAlgorithm"] == "AES256"
    assert put["SSECustomerKeyMD5"] == base64.b64encode(hashlib.md5(KEY).digest()).decode()
    got = s3.get_object(Bucket=bucket, Key="k", **ssec())
    assert got["Body"].read() == data
    assert got["SSECustomerAlgorithm"] == "AES256"
    # the ETag is the plaintext's MD5, as RGW answers (docs/s3-compat.md)
    assert got["ETag"] == put["ETag"] == '"%s"' % hashlib.md5(data).hexdigest()
    head = s3.head_object(Bucket=bucket, Key="k", **ssec())
    assert head["ContentLength"] == size and head["SSECustomerKeyMD5"] == put["SSECustomerKeyMD5"]


@pytest.mark.parametrize("size", [100, 3 * MiB + 5])
def test_ssec_without_or_with_wrong_key(s3, bucket, size):
    s3.put_object(Bucket=bucket, Key="k", Body=os.urandom(size), **ssec())
    assert client_error(lambda: s3.get_object(Bucket=bucket, Key="k")) == (400, "InvalidRequest")
    assert client_error(lambda: s3.head_object(Bucket=bucket, Key="k"))[0] == 400
    assert client_error(lambda: s3.get_object(Bucket=bucket, Key="k", **ssec(KEY2))) == (403, "AccessDenied")
    assert client_error(lambda: s3.head_object(Bucket=bucket, Key="k", **ssec(KEY2)))[0] == 403
    # an SSE-S3 or plain object does not take a customer key
    s3.put_object(Bucket=bucket, Key="plain", Body=b"x")
    assert client_error(lambda: s3.get_object(Bucket=bucket, Key="plain", **ssec())) == (400, "InvalidRequest")


def test_ssec_bad_parameters(cluster, bucket):
    port = cluster.port()
    cases = [
        ({"x-amz-server-side-encryption-customer-algorithm": "AES128"}, "InvalidEncryptionAlgorithmError"),
        (dict(ssec_headers(), **{"x-amz-server-side-encryption-customer-key": base64.b64encode(b"short").decode()}),
         "InvalidArgument"),
        (dict(ssec_headers(), **{"x-amz-server-side-encryption-customer-key-MD5": "AAAAAAAAAAAAAAAAAAAAAA=="}),
         "InvalidArgument"),
        ({"x-amz-server-side-encryption-customer-key": base64.b64encode(KEY).decode()}, "InvalidArgument"),
        (dict(ssec_headers(), **{"x-amz-server-side-encryption": "AES256"}), "InvalidArgument"),
        ({"x-amz-server-side-encryption": "AES128"}, "InvalidArgument"),
        ({"x-amz-server-side-encryption": "aws:kms"}, "InvalidArgument"),
        ({"x-amz-server-side-encryption-aws-kms-key-id": "k"}, "InvalidArgument"),
        ({"x-amz-server-side-encryption": "AES256", "x-amz-server-side-encryption-aws-kms-key-id": "k"},
         "InvalidArgument"),
    ]
    for headers, code in cases:
        st, _, body = signed_request(port, "PUT", f"/{bucket}/bad", headers=headers, body=b"hello")
        assert (st, xml_code(body)) == (400, code), headers
        st, _, _ = signed_request(port, "HEAD", f"/{bucket}/bad")
        assert st == 404  # nothing was stored


def test_ssec_ranges(s3, bucket, cluster):
    data = os.urandom(5 * MiB + 77)
    s3.put_object(Bucket=bucket, Key="k", Body=data, **ssec())
    size = len(data)
    for first, last in [(0, 0), (1, 2), (32767, 32769), (MiB - 3, 3 * MiB + 4), (size - 10, size - 1),
                        (0, size - 1)]:
        got = s3.get_object(Bucket=bucket, Key="k", Range=f"bytes={first}-{last}", **ssec())
        assert got["Body"].read() == data[first:last + 1], (first, last)
        assert got["ContentRange"] == f"bytes {first}-{last}/{size}"
    got = s3.get_object(Bucket=bucket, Key="k", Range="bytes=-100", **ssec())
    assert got["Body"].read() == data[-100:]
    small = b"0123456789" * 10
    s3.put_object(Bucket=bucket, Key="small", Body=small, **ssec())
    assert s3.get_object(Bucket=bucket, Key="small", Range="bytes=3-12", **ssec())["Body"].read() == small[3:13]


def test_ssec_multipart(s3, bucket):
    parts = [os.urandom(5 * MiB), os.urandom(5 * MiB + 1), os.urandom(1000)]
    up = s3.create_multipart_upload(Bucket=bucket, Key="mp", **ssec())
    assert up["SSECustomerAlgorithm"] == "AES256"
    uid = up["UploadId"]
    # a part with another key, or without one, is refused
    assert client_error(lambda: s3.upload_part(Bucket=bucket, Key="mp", UploadId=uid, PartNumber=1, Body=parts[0],
                                               **ssec(KEY2)))[0] == 403
    assert client_error(lambda: s3.upload_part(Bucket=bucket, Key="mp", UploadId=uid, PartNumber=1,
                                               Body=parts[0]))[0] == 400
    etags = []
    for i, p in enumerate(parts, 1):
        r = s3.upload_part(Bucket=bucket, Key="mp", UploadId=uid, PartNumber=i, Body=p, **ssec())
        assert r["SSECustomerKeyMD5"]
        etags.append({"PartNumber": i, "ETag": r["ETag"]})
    s3.complete_multipart_upload(Bucket=bucket, Key="mp", UploadId=uid, MultipartUpload={"Parts": etags})
    whole = b"".join(parts)
    assert s3.get_object(Bucket=bucket, Key="mp", **ssec())["Body"].read() == whole
    got = s3.get_object(Bucket=bucket, Key="mp", Range=f"bytes={5 * MiB - 5}-{5 * MiB + 5}", **ssec())
    assert got["Body"].read() == whole[5 * MiB - 5:5 * MiB + 6]
    assert s3.get_object(Bucket=bucket, Key="mp", PartNumber=3, **ssec())["Body"].read() == parts[2]
    assert client_error(lambda: s3.get_object(Bucket=bucket, Key="mp"))[0] == 400


def test_sse_multipart_s3(s3, bucket):
    parts = [os.urandom(5 * MiB), os.urandom(10)]
    up = s3.create_multipart_upload(Bucket=bucket, Key="mp", ServerSideEncryption="AES256")
    assert up["ServerSideEncryption"] == "AES256"
    etags = []
    for i, p in enumerate(parts, 1):
        r = s3.upload_part(Bucket=bucket, Key="mp", UploadId=up["UploadId"], PartNumber=i, Body=p)
        assert r["ServerSideEncryption"] == "AES256"
        etags.append({"PartNumber": i, "ETag": r["ETag"]})
    s3.complete_multipart_upload(Bucket=bucket, Key="mp", UploadId=up["UploadId"], MultipartUpload={"Parts": etags})
    got = s3.get_object(Bucket=bucket, Key="mp")
    assert got["Body"].read() == b"".join(parts) and got["ServerSideEncryption"] == "AES256"


def test_ssec_copy(s3, bucket):
    data = os.urandom(2 * MiB + 3)
    s3.put_object(Bucket=bucket, Key="src", Body=data, **ssec())
    src = {"Bucket": bucket, "Key": "src"}
    # the source's key is needed to read it
    assert client_error(lambda: s3.copy_object(Bucket=bucket, Key="dst", CopySource=src))[0] == 400
    assert client_error(lambda: s3.copy_object(Bucket=bucket, Key="dst", CopySource=src,
                                               CopySourceSSECustomerAlgorithm="AES256",
                                               CopySourceSSECustomerKey=KEY2))[0] == 403
    # same key: the copy opens with it
    s3.copy_object(Bucket=bucket, Key="same", CopySource=src, CopySourceSSECustomerAlgorithm="AES256",
                   CopySourceSSECustomerKey=KEY, **ssec())
    assert s3.get_object(Bucket=bucket, Key="same", **ssec())["Body"].read() == data
    # another key: re-encrypted; the old key no longer opens it
    s3.copy_object(Bucket=bucket, Key="rekeyed", CopySource=src, CopySourceSSECustomerAlgorithm="AES256",
                   CopySourceSSECustomerKey=KEY, **ssec(KEY2))
    assert s3.get_object(Bucket=bucket, Key="rekeyed", **ssec(KEY2))["Body"].read() == data
    assert client_error(lambda: s3.get_object(Bucket=bucket, Key="rekeyed", **ssec()))[0] == 403
    # to plain, and to SSE-S3
    s3.copy_object(Bucket=bucket, Key="plain", CopySource=src, CopySourceSSECustomerAlgorithm="AES256",
                   CopySourceSSECustomerKey=KEY)
    assert s3.get_object(Bucket=bucket, Key="plain")["Body"].read() == data
    r = s3.copy_object(Bucket=bucket, Key="s3", CopySource=src, CopySourceSSECustomerAlgorithm="AES256",
                       CopySourceSSECustomerKey=KEY, ServerSideEncryption="AES256")
    assert r["ServerSideEncryption"] == "AES256"
    got = s3.get_object(Bucket=bucket, Key="s3")
    assert got["Body"].read() == data and got["ServerSideEncryption"] == "AES256"
    # a plain source encrypted by the copy
    s3.copy_object(Bucket=bucket, Key="enc", CopySource={"Bucket": bucket, "Key": "plain"}, **ssec(KEY2))
    assert s3.get_object(Bucket=bucket, Key="enc", **ssec(KEY2))["Body"].read() == data
    assert client_error(lambda: s3.get_object(Bucket=bucket, Key="enc"))[0] == 400


def test_sse_s3_round_trip(s3, bucket):
    for size in (0, 100, 3 * MiB + 1):
        data = os.urandom(size)
        put = s3.put_object(Bucket=bucket, Key="k", Body=data, ServerSideEncryption="AES256")
        assert put["ServerSideEncryption"] == "AES256"
        got = s3.get_object(Bucket=bucket, Key="k")
        assert got["Body"].read() == data and got["ServerSideEncryption"] == "AES256"
        assert s3.head_object(Bucket=bucket, Key="k")["ServerSideEncryption"] == "AES256"
        if size > 10:
            assert s3.get_object(Bucket=bucket, Key="k", Range="bytes=5-9")["Body"].read() == data[5:10]
    # a plain object says nothing of encryption
    s3.put_object(Bucket=bucket, Key="plain", Body=b"x")
    assert "ServerSideEncryption" not in s3.head_object(Bucket=bucket, Key="plain")


def test_aws_kms_refused(s3, bucket):
    assert client_error(lambda: s3.put_object(Bucket=bucket, Key="k", Body=b"x", ServerSideEncryption="aws:kms",
                                              SSEKMSKeyId="some-key")) == (403, "InvalidAccessKeyId")
    assert client_error(lambda: s3.head_object(Bucket=bucket, Key="k"))[0] == 404


def test_bucket_encryption_not_implemented(cluster, bucket):
    st, _, body = signed_request(cluster.port(), "GET", f"/{bucket}", query="encryption")
    assert (st, xml_code(body)) == (501, "NotImplemented")


def test_aws_cli_sse(cluster, bucket, tmp_path):
    src = tmp_path / "f"
    data = body_with(b"aws-cli", 9 * MiB + 11)  # past the CLI's 8 MiB threshold: multipart
    src.write_bytes(data)
    key_file = tmp_path / "key"
    key_file.write_bytes(KEY)
    cluster.aws("s3", "cp", str(src), f"s3://{bucket}/c", "--sse-c", "AES256", "--sse-c-key", f"fileb://{key_file}")
    cluster.aws("s3", "cp", str(src), f"s3://{bucket}/s", "--sse", "AES256")
    out = tmp_path / "o"
    cluster.aws("s3", "cp", f"s3://{bucket}/c", str(out), "--sse-c", "AES256", "--sse-c-key", f"fileb://{key_file}")
    assert out.read_bytes() == data
    r = cluster.aws("s3", "cp", f"s3://{bucket}/c", str(tmp_path / "nokey"), check=False)
    assert r.returncode != 0
    cluster.aws("s3", "cp", f"s3://{bucket}/s", str(out))
    assert out.read_bytes() == data
    head = cluster.aws("s3api", "head-object", "--bucket", bucket, "--key", "s").stdout
    assert '"ServerSideEncryption": "AES256"' in head
    assert client_error(lambda: cluster.client().head_object(Bucket=bucket, Key="c"))[0] == 400


def disk_bytes(cluster):
    """Every byte the cluster's nodes keep on disk, file by file."""
    for i in range(1, len(cluster.node_ports) + 1):
        for root, _, files in os.walk(os.path.join(cluster.root, f"node{i}")):
            for f in files:
                path = os.path.join(root, f)
                try:
                    with open(path, "rb") as fh:
                        yield path, fh.read()
                except OSError:
                    pass


def test_plaintext_never_on_disk(own_cluster):
    c = own_cluster
    s3 = c.client()
    b = uniq("ssedisk")
    s3.create_bucket(Bucket=b)
    objs = {
        b"SSECSMALLMARK": ("c-small", 3000, ssec()), b"SSECLARGEMARK": ("c-large", 3 * MiB, ssec()),
        b"SSES3SMALLMRK": ("s-small", 3000, {"ServerSideEncryption": "AES256"}),
        b"SSES3LARGEMRK": ("s-large", 3 * MiB, {"ServerSideEncryption": "AES256"}),
        b"PLAINSMALLMRK": ("p-small", 3000, {}), b"PLAINLARGEMRK": ("p-large", 3 * MiB, {}),
    }
    for marker, (key, size, kw) in objs.items():
        s3.put_object(Bucket=b, Key=key, Body=body_with(marker, size), **kw)
    found = {m: [] for m in objs}
    for path, blob in disk_bytes(c):
        for m in objs:
            if m in blob:
                found[m].append(path)
    # the control: plain objects are found, so the search sees what is stored
    assert found[b"PLAINSMALLMRK"], found
    assert found[b"PLAINLARGEMRK"], found
    for m in (b"SSECSMALLMARK", b"SSECLARGEMARK", b"SSES3SMALLMRK", b"SSES3LARGEMRK"):
        assert not found[m], (m, found[m])
    # and the customer key is nowhere either
    for path, blob in disk_bytes(c):
        assert KEY not in blob and base64.b64encode(KEY) not in blob, path
    for marker, (key, size, kw) in objs.items():
        get_kw = kw if "SSECustomerKey" in kw else {}
        assert s3.get_object(Bucket=b, Key=key, **get_kw)["Body"].read() == body_with(marker, size)


def test_ssec_needs_tls(tls_cluster):
    c = tls_cluster
    b = uniq("ssetls")
    plain = c.client()
    plain.create_bucket(Bucket=b)
    assert client_error(lambda: plain.put_object(Bucket=b, Key="k", Body=b"x", **ssec())) == (400, "InvalidRequest")
    s3 = c.client(endpoint=c.https_endpoint(), verify=c.tls.ca)
    s3.put_object(Bucket=b, Key="k", Body=b"secret", **ssec())
    assert s3.get_object(Bucket=b, Key="k", **ssec())["Body"].read() == b"secret"
    # the key does not travel over plain HTTP for a read either
    assert client_error(lambda: plain.get_object(Bucket=b, Key="k", **ssec())) == (400, "InvalidRequest")


def test_encrypted_objects_not_served_by_swift(cluster, s3, bucket):
    """Swift has no way to give a key: an encrypted object is refused (403), never its ciphertext or
    plaintext; a Swift COPY keeps it encrypted under the same key material."""
    import swiftclient.client as sc
    from conftest import ACCOUNT
    cluster.admin("account-add", ACCOUNT, check=False)
    cluster.admin("swift-user-add", "--account", ACCOUNT, "--user", "sseadmin", "--key", "ssekey", "--admin")
    sw = sc.Connection(authurl=f"{cluster.endpoint()}/auth/v1.0", user=f"{ACCOUNT}:sseadmin", key="ssekey",
                       auth_version="1", retries=0)
    s3.put_object(Bucket=bucket, Key="c", Body=b"customer secret", **ssec())
    s3.put_object(Bucket=bucket, Key="s", Body=os.urandom(100000), ServerSideEncryption="AES256")
    for key in ("c", "s"):
        with pytest.raises(sc.ClientException) as e:
            sw.get_object(bucket, key)
        assert e.value.http_status == 403, key
    sw.copy_object(bucket, "c", destination=f"/{bucket}/c-copy")
    assert s3.get_object(Bucket=bucket, Key="c-copy", **ssec())["Body"].read() == b"customer secret"
    assert client_error(lambda: s3.get_object(Bucket=bucket, Key="c-copy"))[0] == 400


def test_upload_part_copy_with_sse(s3, bucket):
    src_data = os.urandom(6 * MiB)
    s3.put_object(Bucket=bucket, Key="src", Body=src_data, **ssec(KEY2))
    s3.put_object(Bucket=bucket, Key="plain", Body=src_data[:100])
    up = s3.create_multipart_upload(Bucket=bucket, Key="mp", **ssec())["UploadId"]
    src = {"Bucket": bucket, "Key": "src"}
    # without the source's key the part cannot be read
    assert client_error(lambda: s3.upload_part_copy(Bucket=bucket, Key="mp", UploadId=up, PartNumber=1,
                                                    CopySource=src, **ssec()))[0] == 400
    p1 = s3.upload_part_copy(Bucket=bucket, Key="mp", UploadId=up, PartNumber=1, CopySource=src,
                             CopySourceRange=f"bytes=0-{5 * MiB - 1}", CopySourceSSECustomerAlgorithm="AES256",
                             CopySourceSSECustomerKey=KEY2, **ssec())
    p2 = s3.upload_part_copy(Bucket=bucket, Key="mp", UploadId=up, PartNumber=2,
                             CopySource={"Bucket": bucket, "Key": "plain"}, **ssec())
    parts = [{"PartNumber": 1, "ETag": p1["CopyPartResult"]["ETag"]},
             {"PartNumber": 2, "ETag": p2["CopyPartResult"]["ETag"]}]
    s3.complete_multipart_upload(Bucket=bucket, Key="mp", UploadId=up, MultipartUpload={"Parts": parts})
    got = s3.get_object(Bucket=bucket, Key="mp", **ssec())["Body"].read()
    assert got == src_data[:5 * MiB] + src_data[:100]


def test_gc_keeps_encrypted_chunks(own_cluster):
    """GC traces an encrypted object's chunks (boxes) like any other's: after a sweep with no grace,
    every SSE-C, SSE-S3 and SSE-C multipart object still reads back, and a deleted one's are gone."""
    c = own_cluster
    s3 = c.client()
    b = uniq("ssegc")
    s3.create_bucket(Bucket=b)
    objs = {"c": (os.urandom(3 * MiB), ssec()), "c-small": (b"tiny", ssec()),
            "s": (os.urandom(2 * MiB + 5), {"ServerSideEncryption": "AES256"})}
    for k, (data, kw) in objs.items():
        s3.put_object(Bucket=b, Key=k, Body=data, **kw)
    parts = [os.urandom(5 * MiB), os.urandom(123)]
    up = s3.create_multipart_upload(Bucket=b, Key="mp", **ssec())["UploadId"]
    done = [{"PartNumber": i, "ETag": s3.upload_part(Bucket=b, Key="mp", UploadId=up, PartNumber=i, Body=p,
                                                       **ssec())["ETag"]} for i, p in enumerate(parts, 1)]
    s3.complete_multipart_upload(Bucket=b, Key="mp", UploadId=up, MultipartUpload={"Parts": done})
    s3.put_object(Bucket=b, Key="gone", Body=os.urandom(2 * MiB), **ssec())
    s3.delete_object(Bucket=b, Key="gone")
    out = c.admin("gc", "--grace", "0").stdout
    # the deleted object's boxes (2 MiB, 3 replicas) went; the live ones stayed (read below)
    freed = sum(int(m) for m in re.findall(r"deleted \d+ \((\d+) bytes\)", out))
    assert freed >= 3 * 2 * MiB, out
    for k, (data, kw) in objs.items():
        get_kw = kw if "SSECustomerKey" in kw else {}
        assert s3.get_object(Bucket=b, Key=k, **get_kw)["Body"].read() == data, k
    assert s3.get_object(Bucket=b, Key="mp", **ssec())["Body"].read() == b"".join(parts)
