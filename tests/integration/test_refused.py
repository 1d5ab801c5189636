"""Headers that promise protection or placement the gateway does not provide (KMS encryption, Object
Lock on a bucket without it, storage classes; a tag set S3 refuses) are refused with AWS's error, and
nothing is stored; the harmless values clients send by default are accepted. (ACL headers are
implemented: test_s3_acl.py.)"""

import base64
import hashlib

import pytest
from botocore.exceptions import ClientError

from conftest import signed_request, uniq, xml_code

KEY = b"k" * 32
SSE_C = {
    "x-amz-server-side-encryption-customer-algorithm": "AES256",
    "x-amz-server-side-encryption-customer-key": base64.b64encode(KEY).decode(),
    "x-amz-server-side-encryption-customer-key-MD5": base64.b64encode(hashlib.md5(KEY).digest()).decode(),
}
COPY_SSE_C = {k.replace("x-amz-", "x-amz-copy-source-"): v for k, v in SSE_C.items()}

# SSE-C and SSE-S3 are implemented (test_sse.py); aws:kms is refused as RGW refuses it without a KMS
OBJECT_REFUSED = [
    ({"x-amz-server-side-encryption": "aws:kms", "x-amz-server-side-encryption-aws-kms-key-id": "k"},
     403, "InvalidAccessKeyId"),
    ({"x-amz-server-side-encryption-context": "e30="}, 501, "NotImplemented"),
    ({"x-amz-server-side-encryption-bucket-key-enabled": "true"}, 501, "NotImplemented"),
    ({"x-amz-object-lock-mode": "GOVERNANCE", "x-amz-object-lock-retain-until-date": "2099-01-01T00:00:00Z"},
     400, "InvalidRequest"),
    ({"x-amz-object-lock-legal-hold": "ON"}, 400, "InvalidRequest"),
    ({"x-amz-tagging": "a%23=b"}, 400, "InvalidTag"),  # tags work (test_tagging.py); a bad set is refused
    ({"x-amz-storage-class": "GLACIER"}, 400, "InvalidStorageClass"),
    ({"x-amz-storage-class": "NO_SUCH_CLASS"}, 400, "InvalidStorageClass"),
]


def absent(cluster, bucket, key):
    status, _, _ = signed_request(cluster.port(), "HEAD", f"/{bucket}/{key}")
    return status == 404


@pytest.mark.parametrize("headers,status,code", OBJECT_REFUSED)
def test_put_object_refused(cluster, bucket, headers, status, code):
    st, _, body = signed_request(cluster.port(), "PUT", f"/{bucket}/obj", headers=headers, body=b"secret")
    assert (st, xml_code(body)) == (status, code), body
    assert absent(cluster, bucket, "obj")


def test_message_names_the_header(cluster, bucket):
    hdrs = {"x-amz-server-side-encryption-context": "e30="}
    st, _, body = signed_request(cluster.port(), "PUT", f"/{bucket}/obj", headers=hdrs, body=b"secret")
    assert st == 501 and b"x-amz-server-side-encryption-context" in body


@pytest.mark.parametrize("headers,status,code", OBJECT_REFUSED + [
    (COPY_SSE_C, 400, "InvalidRequest"), ({"x-amz-tagging-directive": "MERGE"}, 400, "InvalidArgument")])
def test_copy_object_refused(cluster, s3, bucket, headers, status, code):
    s3.put_object(Bucket=bucket, Key="src", Body=b"data")
    hdrs = dict(headers, **{"x-amz-copy-source": f"/{bucket}/src"})
    st, _, body = signed_request(cluster.port(), "PUT", f"/{bucket}/dst", headers=hdrs)
    assert (st, xml_code(body)) == (status, code), body
    assert absent(cluster, bucket, "dst")


@pytest.mark.parametrize("headers,status,code", OBJECT_REFUSED)
def test_create_multipart_refused(cluster, s3, bucket, headers, status, code):
    st, _, body = signed_request(cluster.port(), "POST", f"/{bucket}/mp", query="uploads=", headers=headers)
    assert (st, xml_code(body)) == (status, code), body
    assert s3.list_multipart_uploads(Bucket=bucket).get("Uploads", []) == []


def test_upload_part_sse_c_on_plain_upload_refused(cluster, s3, bucket):
    up = s3.create_multipart_upload(Bucket=bucket, Key="mp")["UploadId"]
    s3.put_object(Bucket=bucket, Key="src", Body=b"data")
    q = f"partNumber=1&uploadId={up}"
    st, _, body = signed_request(cluster.port(), "PUT", f"/{bucket}/mp", query=q, headers=SSE_C, body=b"part")
    assert (st, xml_code(body)) == (400, "InvalidRequest")
    hdrs = dict(COPY_SSE_C, **{"x-amz-copy-source": f"/{bucket}/src"})
    st, _, body = signed_request(cluster.port(), "PUT", f"/{bucket}/mp", query=q, headers=hdrs)
    assert (st, xml_code(body)) == (400, "InvalidRequest")
    assert s3.list_parts(Bucket=bucket, Key="mp", UploadId=up).get("Parts", []) == []
    s3.abort_multipart_upload(Bucket=bucket, Key="mp", UploadId=up)


def test_get_head_sse_c_refused(cluster, s3, bucket):
    s3.put_object(Bucket=bucket, Key="plain", Body=b"data")
    # a customer key for an object stored without one: S3's 400 (the key is not ignored)
    st, _, body = signed_request(cluster.port(), "GET", f"/{bucket}/plain", headers=SSE_C)
    assert (st, xml_code(body)) == (400, "InvalidRequest")
    st, _, _ = signed_request(cluster.port(), "HEAD", f"/{bucket}/plain", headers=SSE_C)
    assert st == 400


@pytest.mark.parametrize("headers,code", [
    ({"x-amz-server-side-encryption": "AES256"}, "NotImplemented"),  # bucket default encryption: not built
    ({"x-amz-object-lock-mode": "GOVERNANCE"}, "InvalidRequest"),
])
def test_create_bucket_refused(cluster, s3, headers, code):
    name = uniq("refused")
    st, _, body = signed_request(cluster.port(), "PUT", f"/{name}", headers=headers)
    assert xml_code(body) == code, body
    assert st == (501 if code == "NotImplemented" else 400)
    with pytest.raises(ClientError):
        s3.head_bucket(Bucket=name)


def test_harmless_values_accepted(cluster, s3):
    """What clients send by default (s3cmd, aws, rclone): the owner-only ACL, STANDARD."""
    name = uniq("harmless")
    st, _, _ = signed_request(cluster.port(), "PUT", f"/{name}",
                              headers={"x-amz-acl": "private", "x-amz-bucket-object-lock-enabled": "false"})
    assert st == 200
    for hdrs in ({"x-amz-acl": "private"}, {"x-amz-acl": "bucket-owner-full-control"},
                 {"x-amz-storage-class": "STANDARD"}):
        st, _, _ = signed_request(cluster.port(), "PUT", f"/{name}/k", headers=hdrs, body=b"v")
        assert st == 200, hdrs
    s3.put_object(Bucket=name, Key="b", Body=b"v", ACL="private", StorageClass="STANDARD")
    s3.copy_object(Bucket=name, Key="c", CopySource={"Bucket": name, "Key": "b"}, TaggingDirective="COPY")
    assert s3.get_object(Bucket=name, Key="c")["Body"].read() == b"v"
