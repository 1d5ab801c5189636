"""A NUL byte in a ListObjects prefix, delimiter, marker, start-after or continuation-token key
is the caller's error (400 InvalidArgument, as S3), not a retryable 503."""

import base64

import pytest

from conftest import signed_request, xml_code


@pytest.mark.parametrize("query", [
    "prefix=a%00b", "delimiter=%00", "marker=k%00", "list-type=2&start-after=k%00",
    "list-type=2&prefix=%00",
])
def test_nul_in_listing_params(cluster, s3, bucket, query):
    s3.put_object(Bucket=bucket, Key="k", Body=b"x")
    st, _, body = signed_request(cluster.port(), "GET", f"/{bucket}", query=query)
    assert (st, xml_code(body)) == (400, "InvalidArgument"), body


def test_nul_in_continuation_token_key(cluster, bucket):
    """A token is opaque, but one can be made that decodes to a key with a NUL."""
    token = base64.b64encode(b"a\x00b").decode()
    st, _, body = signed_request(cluster.port(), "GET", f"/{bucket}", query="list-type=2&continuation-token=" + token)
    assert (st, xml_code(body)) == (400, "InvalidArgument"), body
