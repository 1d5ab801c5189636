"""The access log (--access-log) never prints what would let its reader replay a request: presigned
SigV4 and SigV2 signatures and session tokens are redacted, the rest of the target stays."""

import re
import urllib.error
import urllib.parse
import urllib.request

import pytest

from conftest import uniq


def test_access_log_redacts_presigned_signatures(cluster):
    name = "gwlog"
    port = cluster.start_gateway(name, extra=("--access-log",))
    try:
        b = uniq("log")
        cluster.client().create_bucket(Bucket=b)
        cluster.client().put_object(Bucket=b, Key="k", Body=b"logged")
        secrets = []
        for sig in ("s3v4", "s3"):
            url = cluster.client(sig=sig, gw=name).generate_presigned_url(
                "get_object", Params={"Bucket": b, "Key": "k"}, ExpiresIn=300)
            with urllib.request.urlopen(url, timeout=30) as r:  # the URL works: the signature was real
                assert r.status == 200 and r.read() == b"logged"
            q = urllib.parse.parse_qs(urllib.parse.urlsplit(url).query)
            secrets.append(q["X-Amz-Signature" if sig == "s3v4" else "Signature"][0])
        # A signature-shaped parameter on an anonymous request (refused, and logged) is redacted too.
        with pytest.raises(urllib.error.HTTPError):
            urllib.request.urlopen(f"http://127.0.0.1:{port}/?X-Amz-Signature=deadbeefcafe", timeout=30)
    finally:
        cluster.stop(name)
    with open(cluster.log_path(name), errors="replace") as f:
        log = f.read()
    assert "X-Amz-Signature=REDACTED" in log and "&Signature=REDACTED" in log, log[-4000:]
    assert "?X-Amz-Signature=REDACTED" in log
    for s in secrets + ["deadbeefcafe"]:
        assert urllib.parse.quote(s, safe="") not in log and s not in log
    # what identifies the request stays: the key id in the credential scope, the object path
    assert "X-Amz-Credential=itaccess%2F" in log and "AWSAccessKeyId=itaccess" in log
    assert f"/{b}/k?" in log


def test_access_log_line_has_every_field(cluster):
    """One line per request: time, client, request id, account, api.operation, bucket, key
    (percent-encoded), method, target, status, bytes in, bytes out, latency (docs/operations.md)."""
    name = "gwlog2"
    cluster.start_gateway(name, extra=("--access-log",))
    try:
        b = uniq("logf")
        c = cluster.client(gw=name)
        c.create_bucket(Bucket=b)
        c.put_object(Bucket=b, Key="a b/k", Body=b"x" * 1000)
        assert c.get_object(Bucket=b, Key="a b/k")["Body"].read() == b"x" * 1000
        with pytest.raises(Exception):
            cluster.client(gw=name).get_object(Bucket=b, Key="missing")
    finally:
        cluster.stop(name)
    with open(cluster.log_path(name), errors="replace") as f:
        log = f.read()
    line = r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z 127\.0\.0\.1:\d+ [0-9a-f]{16} acct-main s3\.%s %s %s %s \S+ %d (\d+) (\d+) \d+ms$"
    put = re.search(line % ("PutObject", b, r"a%20b/k", "PUT", 200), log, re.M)
    get = re.search(line % ("GetObject", b, r"a%20b/k", "GET", 200), log, re.M)
    miss = re.search(line % ("GetObject", b, "missing", "GET", 404), log, re.M)
    assert put and get and miss, log[-3000:]
    assert int(put.group(1)) >= 1000 and int(get.group(2)) == 1000 and int(get.group(1)) == 0
    assert re.search(line % ("CreateBucket", b, "-", "PUT", 200), log, re.M), log[-3000:]
