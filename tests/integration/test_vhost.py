"""Virtual-host style (gateway started with --domain localhost). `<bucket>.localhost` does not
resolve through glibc here, so boto3 signs for http://<bucket>.localhost:PORT and a before-send
hook sends the request to 127.0.0.1 with that Host header."""

import os

import pytest
from botocore.exceptions import ClientError

from conftest import err_code, signed_request, uniq


@pytest.fixture(scope="module")
def vs3(cluster):
    port = cluster.port()
    c = cluster.client(addressing="virtual", endpoint=f"http://localhost:{port}")

    def to_loopback(request, **_):
        host = request.url.split("/")[2]
        request.headers["Host"] = host
        request.url = request.url.replace(f"http://{host}", f"http://127.0.0.1:{port}", 1)

    c.meta.events.register("before-send.s3", to_loopback)
    return c


def test_virtual_host_object_ops(vs3, s3):
    name = uniq("vhost")
    vs3.create_bucket(Bucket=name)
    data = os.urandom(10000)
    vs3.put_object(Bucket=name, Key="dir/v key", Body=data, Metadata={"style": "virtual"})
    # the path-style client sees the same object
    assert s3.get_object(Bucket=name, Key="dir/v key")["Body"].read() == data
    g = vs3.get_object(Bucket=name, Key="dir/v key")
    assert g["Body"].read() == data and g["Metadata"] == {"style": "virtual"}
    assert vs3.get_object(Bucket=name, Key="dir/v key", Range="bytes=1-3")["Body"].read() == data[1:4]
    r = vs3.list_objects_v2(Bucket=name, Delimiter="/")
    assert [p["Prefix"] for p in r["CommonPrefixes"]] == ["dir/"]
    assert vs3.head_bucket(Bucket=name)["ResponseMetadata"]["HTTPStatusCode"] == 200
    vs3.delete_object(Bucket=name, Key="dir/v key")
    with pytest.raises(ClientError) as e:
        vs3.get_object(Bucket=name, Key="dir/v key")
    assert err_code(e.value) == "NoSuchKey"
    vs3.delete_bucket(Bucket=name)


def test_virtual_host_raw_request(cluster, s3, bucket):
    s3.put_object(Bucket=bucket, Key="raw", Body=b"raw vhost")
    status, hdrs, body = signed_request(cluster.port(), "GET", "/raw", host=f"{bucket}.localhost:{cluster.port()}")
    assert status == 200 and body == b"raw vhost"
    assert hdrs.get("x-amz-request-id")
    # the bare domain is the service endpoint (ListBuckets)
    status, _, body = signed_request(cluster.port(), "GET", "/", host=f"localhost:{cluster.port()}")
    assert status == 200 and bucket.encode() in body
