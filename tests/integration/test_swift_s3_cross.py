"""Swift features seen through S3 on the same objects: container/account quotas set with Swift
bind S3 writes (PutObject plain, aws-chunked and HTTP-chunked, CopyObject, CompleteMultipartUpload:
403 QuotaExceeded, nothing stored), and objects past their X-Delete-At are gone for S3 GET, HEAD,
ListObjects v1/v2 and as a copy source. Clients: python-swiftclient and boto3."""

import datetime
import http.client
import os
import time

import botocore.exceptions
import pytest
import swiftclient.client as sc
from botocore.awsrequest import AWSRequest
from botocore.credentials import Credentials

from conftest import ACCESS, ACCOUNT, SECRET, _FixedTimeS3SigV4, err_code, err_status, xml_code
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
