"""The access log (--access-log) never prints what would let its reader replay a request: presigned
SigV4 and SigV2 signatures and session tokens are redacted, the rest of the target stays."""

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
