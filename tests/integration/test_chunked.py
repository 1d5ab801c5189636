"""HTTP chunked request bodies are framed strictly: a chunk size is 1..16 hex digits (no "0x",
no sign) within what the server takes, else the body is malformed (400, nothing stored) and
answered at once rather than waited for."""

import datetime
import http.client

import pytest
from botocore.awsrequest import AWSRequest
from botocore.credentials import Credentials

from conftest import ACCESS, SECRET, _FixedTimeS3SigV4, signed_request, xml_code


def raw_chunked_put(port, bucket, key, raw):
    """PUT with Transfer-Encoding: chunked whose framing is `raw`, as sent. (status, body)."""
    host = f"127.0.0.1:{port}"
    req = AWSRequest(method="PUT", url=f"http://{host}/{bucket}/{key}", data=b"",
                     headers={"x-amz-content-sha256": "UNSIGNED-PAYLOAD"})
    _FixedTimeS3SigV4(Credentials(ACCESS, SECRET), datetime.datetime.utcnow(), "UNSIGNED-PAYLOAD").add_auth(req)
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=15)
    try:
        conn.putrequest("PUT", f"/{bucket}/{key}", skip_host=True, skip_accept_encoding=True)
        for k, v in req.headers.items():
            conn.putheader(k, v)
        conn.putheader("Host", host)
        conn.putheader("Transfer-Encoding", "chunked")
        conn.endheaders()
        conn.send(raw)
        resp = conn.getresponse()
        return resp.status, resp.read()
    finally:
        conn.close()


def test_well_formed_chunks(cluster, bucket):
    st, body = raw_chunked_put(cluster.port(), bucket, "ok", b"5;ext=1\r\nhello\r\n0006 \r\n world\r\n0\r\n\r\n")
    assert st == 200, body
    st, _, body = signed_request(cluster.port(), "GET", f"/{bucket}/ok")
    assert (st, body) == (200, b"hello world")


@pytest.mark.parametrize("raw", [
    b"0x5\r\nhello\r\n0\r\n\r\n",              # was read as a last chunk of 0 bytes: an empty object
    b"+5\r\nhello\r\n0\r\n\r\n",
    b"5 5\r\nhello\r\n0\r\n\r\n",
    b"00000000000000005\r\nhello\r\n0\r\n\r\n",  # 17 digits
    b"ffffffffffffffff\r\nhello",              # was accepted, and the server waited for the body
    b"5\r\nhelloXX0\r\n\r\n",
])
def test_malformed_chunk_size_refused(cluster, bucket, raw):
    st, body = raw_chunked_put(cluster.port(), bucket, "bad", raw)
    assert (st, xml_code(body)) == (400, "IncompleteBody"), body
    st, _, _ = signed_request(cluster.port(), "HEAD", f"/{bucket}/bad")
    assert st == 404
