"""A SigV4 signature scoped to another region than the gateway's is refused as AWS refuses it:
400 AuthorizationHeaderMalformed (header) or AuthorizationQueryParametersError (presigned URL),
naming the region expected, and nothing is stored."""

import urllib.request
import urllib.error
import xml.etree.ElementTree as ET

import datetime

import pytest
from botocore.awsrequest import AWSRequest
from botocore.credentials import Credentials
from botocore.exceptions import ClientError

from conftest import ACCESS, REGION, SECRET, _FixedTimeS3SigV4, http_request


def signed_for(port, region, method, path, body=b""):
    """A raw request signed with a SigV4 scope of `region`. (status, body)."""
    host = f"127.0.0.1:{port}"
    req = AWSRequest(method=method, url=f"http://{host}{path}", data=body)
    signer = _FixedTimeS3SigV4(Credentials(ACCESS, SECRET), datetime.datetime.utcnow())
    signer._region_name = region
    signer.add_auth(req)
    st, _, data = http_request(port, method, path, dict(req.headers.items(), Host=host), body)
    return st, data


def test_header_auth_other_region(cluster, s3, bucket):
    st, body = signed_for(cluster.port(), "eu-west-1", "PUT", f"/{bucket}/k", b"x")
    root = ET.fromstring(body)
    assert (st, root.findtext("Code")) == (400, "AuthorizationHeaderMalformed")
    assert f"the region 'eu-west-1' is wrong; expecting '{REGION}'" in root.findtext("Message")
    assert root.findtext("Region") == REGION
    with pytest.raises(ClientError):
        s3.head_object(Bucket=bucket, Key="k")
    assert signed_for(cluster.port(), REGION, "PUT", f"/{bucket}/k", b"x")[0] == 200


def test_boto3_follows_the_region_named(cluster, s3, bucket):
    """botocore re-signs for the <Region> of AuthorizationHeaderMalformed, as with AWS."""
    eu = cluster.client(region="eu-west-1", retries=False)
    eu.put_object(Bucket=bucket, Key="r", Body=b"y")
    assert s3.get_object(Bucket=bucket, Key="r")["Body"].read() == b"y"


def test_presigned_other_region(cluster, s3, bucket):
    s3.put_object(Bucket=bucket, Key="k", Body=b"x")
    eu = cluster.client(region="eu-west-1", retries=False)
    url = eu.generate_presigned_url("get_object", Params={"Bucket": bucket, "Key": "k"}, ExpiresIn=300)
    with pytest.raises(urllib.error.HTTPError) as e:
        urllib.request.urlopen(url)
    root = ET.fromstring(e.value.read())
    assert (e.value.code, root.findtext("Code")) == (400, "AuthorizationQueryParametersError")
    assert root.findtext("Region") == REGION
    # the same URL for the gateway's region works
    assert urllib.request.urlopen(s3.generate_presigned_url(
        "get_object", Params={"Bucket": bucket, "Key": "k"}, ExpiresIn=300)).read() == b"x"
