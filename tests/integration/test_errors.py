"""Every S3 error in scope, with its HTTP status and XML code, and x-amz-request-id on each."""

import base64
import datetime
import hashlib
import xml.etree.ElementTree as ET

import pytest
from botocore.exceptions import ClientError

from conftest import ACCESS2, SECRET2, err_code, err_status, signed_request, uniq, xml_code


def expect(fn, status, code, **kw):
    with pytest.raises(ClientError) as e:
        fn(**kw)
    assert (err_status(e.value), err_code(e.value)) == (status, code), e.value.response
    assert e.value.response["ResponseMetadata"]["HTTPHeaders"].get("x-amz-request-id")
    return e.value.response


@pytest.fixture(scope="module")
def other(cluster):
    """A client of a second account (created with onggi-admin by the cluster fixture)."""
    return cluster.client(access=ACCESS2, secret=SECRET2)


@pytest.mark.parametrize("name", ["ab", "Bad_Name", "UPPER", "-leading", "trailing-", "two..dots", "a" * 64,
                                  "192.168.1.1"])
def test_invalid_bucket_name(s3, name):
    expect(s3.create_bucket, 400, "InvalidBucketName", Bucket=name)


def test_bucket_recreate_by_owner_us_east_1(s3, bucket):
    """In us-east-1 AWS answers 200 to the owner re-creating a bucket (legacy behaviour) and
    leaves the bucket as it was."""
    s3.put_object(Bucket=bucket, Key="kept", Body=b"kept")
    assert s3.create_bucket(Bucket=bucket)["ResponseMetadata"]["HTTPStatusCode"] == 200
    assert s3.get_object(Bucket=bucket, Key="kept")["Body"].read() == b"kept"


def test_bucket_already_owned_by_you_other_region(cluster):
    """Every other region answers 409 BucketAlreadyOwnedByYou: a gateway run with --region."""
    cluster.start_gateway("gw-eu", extra=["--region", "eu-west-1"])
    try:
        eu = cluster.client(gw="gw-eu", region="eu-west-1", retries=False)
        name = uniq("eu")
        cfg = {"LocationConstraint": "eu-west-1"}
        eu.create_bucket(Bucket=name, CreateBucketConfiguration=cfg)
        assert eu.get_bucket_location(Bucket=name)["LocationConstraint"] == "eu-west-1"
        expect(eu.create_bucket, 409, "BucketAlreadyOwnedByYou", Bucket=name, CreateBucketConfiguration=cfg)
    finally:
        cluster.stop("gw-eu")


def test_bucket_already_exists(other, bucket):
    expect(other.create_bucket, 409, "BucketAlreadyExists", Bucket=bucket)


def test_bucket_not_empty(s3, bucket):
    s3.put_object(Bucket=bucket, Key="keep", Body=b"x")
    expect(s3.delete_bucket, 409, "BucketNotEmpty", Bucket=bucket)
    s3.delete_object(Bucket=bucket, Key="keep")
    s3.delete_bucket(Bucket=bucket)


def test_no_such_bucket(s3):
    name = uniq("missing")
    expect(s3.get_object, 404, "NoSuchBucket", Bucket=name, Key="k")
    expect(s3.put_object, 404, "NoSuchBucket", Bucket=name, Key="k", Body=b"x")
    expect(s3.list_objects_v2, 404, "NoSuchBucket", Bucket=name)
    expect(s3.list_objects, 404, "NoSuchBucket", Bucket=name)
    expect(s3.delete_bucket, 404, "NoSuchBucket", Bucket=name)
    expect(s3.get_bucket_location, 404, "NoSuchBucket", Bucket=name)
    expect(s3.head_bucket, 404, "404", Bucket=name)
    expect(s3.delete_object, 404, "NoSuchBucket", Bucket=name, Key="k")


def test_no_such_key(s3, bucket):
    r = expect(s3.get_object, 404, "NoSuchKey", Bucket=bucket, Key="nope/none")
    assert r["Error"].get("Key", "nope/none") == "nope/none"
    expect(s3.head_object, 404, "404", Bucket=bucket, Key="nope")


def test_no_such_key_xml_fields(cluster, bucket):
    status, hdrs, body = signed_request(cluster.port(), "GET", f"/{bucket}/absent")
    assert status == 404
    root = ET.fromstring(body)
    assert root.tag == "Error"
    assert root.findtext("Code") == "NoSuchKey"
    assert root.findtext("Message")
    assert root.findtext("RequestId") == hdrs["x-amz-request-id"]
    assert hdrs["content-type"].startswith("application/xml")


def test_bad_digest(s3, bucket):
    wrong = base64.b64encode(hashlib.md5(b"something else").digest()).decode()
    expect(s3.put_object, 400, "BadDigest", Bucket=bucket, Key="bd", Body=b"payload", ContentMD5=wrong)
    # nothing was stored
    expect(s3.head_object, 404, "404", Bucket=bucket, Key="bd")


def test_invalid_digest(cluster, bucket):
    status, hdrs, body = signed_request(cluster.port(), "PUT", f"/{bucket}/id", headers={"Content-MD5": "not-b64!"},
                                        body=b"payload")
    assert status == 400 and xml_code(body) == "InvalidDigest"
    assert hdrs.get("x-amz-request-id")


def test_signature_does_not_match(cluster, bucket):
    bad = cluster.client(secret="not-the-secret", retries=False)
    expect(bad.list_objects_v2, 403, "SignatureDoesNotMatch", Bucket=bucket)
    expect(bad.put_object, 403, "SignatureDoesNotMatch", Bucket=bucket, Key="k", Body=b"x")


def test_invalid_access_key_id(cluster, bucket):
    bad = cluster.client(access="NOSUCHKEY", secret="whatever", retries=False)
    expect(bad.list_objects_v2, 403, "InvalidAccessKeyId", Bucket=bucket)
    expect(bad.list_buckets, 403, "InvalidAccessKeyId")


def test_s3cmd_wrong_secret_fails(cluster, bucket):
    r = cluster.s3cmd("ls", f"s3://{bucket}", secret="not-the-secret", check=False)
    assert r.returncode != 0 and "SignatureDoesNotMatch" in (r.stdout + r.stderr)


def test_request_time_too_skewed(cluster, bucket):
    old = datetime.datetime.utcnow() - datetime.timedelta(minutes=20)
    status, hdrs, body = signed_request(cluster.port(), "GET", f"/{bucket}", query="list-type=2", when=old)
    assert status == 403 and xml_code(body) == "RequestTimeTooSkewed"
    assert hdrs.get("x-amz-request-id")
    # the same request signed now works, so only the clock made the difference
    status, _, body = signed_request(cluster.port(), "GET", f"/{bucket}", query="list-type=2")
    assert status == 200, body


def test_payload_hash_mismatch(cluster, bucket):
    # x-amz-content-sha256 is signed; a body that does not match it must not be stored
    status, _, body = signed_request(cluster.port(), "PUT", f"/{bucket}/sha",
                                     payload_hash=hashlib.sha256(b"other").hexdigest(), body=b"payload")
    assert status in (400, 403), body
    assert xml_code(body) in ("XAmzContentSHA256Mismatch", "BadDigest", "SignatureDoesNotMatch")
    status, _, _ = signed_request(cluster.port(), "HEAD", f"/{bucket}/sha")
    assert status == 404


def test_access_denied_other_account(s3, other, bucket):
    s3.put_object(Bucket=bucket, Key="private", Body=b"secret bytes")
    expect(other.get_object, 403, "AccessDenied", Bucket=bucket, Key="private")
    expect(other.put_object, 403, "AccessDenied", Bucket=bucket, Key="intruder", Body=b"x")
    expect(other.list_objects_v2, 403, "AccessDenied", Bucket=bucket)
    expect(other.delete_object, 403, "AccessDenied", Bucket=bucket, Key="private")
    expect(other.delete_bucket, 403, "AccessDenied", Bucket=bucket)
    expect(other.head_object, 403, "403", Bucket=bucket, Key="private")
    expect(other.copy_object, 403, "AccessDenied", Bucket=bucket, Key="c",
           CopySource={"Bucket": bucket, "Key": "private"})
    # copying out of a bucket one cannot read is denied too
    mine = uniq("other")
    other.create_bucket(Bucket=mine)
    expect(other.copy_object, 403, "AccessDenied", Bucket=mine, Key="stolen",
           CopySource={"Bucket": bucket, "Key": "private"})
    # nothing changed for the owner
    assert s3.get_object(Bucket=bucket, Key="private")["Body"].read() == b"secret bytes"
    expect(s3.head_object, 404, "404", Bucket=bucket, Key="intruder")


def test_delete_objects_other_account(s3, other, bucket):
    s3.put_object(Bucket=bucket, Key="p", Body=b"x")
    with pytest.raises(ClientError) as e:
        other.delete_objects(Bucket=bucket, Delete={"Objects": [{"Key": "p"}]})
    assert err_status(e.value) == 403
    assert s3.head_object(Bucket=bucket, Key="p")["ContentLength"] == 1
