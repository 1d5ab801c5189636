"""Website hosting (issue 14): S3 website configuration (PutBucketWebsite / Get / Delete with boto3,
AWS's errors for bad documents; served by test_s3_website.py) and Swift staticweb (Web-Index, Web-Error, Web-Listings, Web-Listings-CSS,
Web-Directory-Type, X-Web-Mode) on a real gateway, directly with curl and through a real Varnish
(the test_cdn.py fixtures), as Swift's staticweb middleware answers (docs/swift-compat.md)."""

import subprocess

import botocore.exceptions
import pytest

from conftest import signed_request
from test_cdn import cdn, make_container, put_object, pytestmark, swift, varnish  # noqa: F401 (fixtures)

WEB = {"X-Container-Meta-Web-Index": "index.html", "X-Container-Meta-Web-Error": "err.html",
       "X-Container-Meta-Web-Listings": "true"}


def site(cluster, cdn, name, public=True, meta=None):
    c = make_container(cluster, cdn, name, public, dict(WEB, **(meta or {})))
    for key in ("index.html", "sub/index.html", "404err.html", "401err.html"):
        put_object(cluster, cdn, f"{c}/{key}", f"<p>{key}</p>".encode(), {"Content-Type": "text/html"})
    put_object(cluster, cdn, f"{c}/other/a.txt", b"hi\n", {"Content-Type": "text/plain"})
    put_object(cluster, cdn, f"{c}/other/big.bin", b"x" * 5000, {"Content-Type": "application/octet-stream"})
    put_object(cluster, cdn, f"{c}/marker", b"", {"Content-Type": "application/directory"})
    return c


def curl(port, path, *extra):
    """curl -si: (status, headers lowercased, body)."""
    out = subprocess.run(["curl", "-si", *extra, f"http://127.0.0.1:{port}{path}"], capture_output=True,
                         check=True).stdout
    head, _, body = out.partition(b"\r\n\r\n")
    lines = head.decode().split("\r\n")
    h = {k.lower(): v.strip() for k, _, v in (ln.partition(":") for ln in lines[1:])}
    return int(lines[0].split()[1]), h, body


def test_index_redirect_error_and_listing(cluster, cdn):
    c = site(cluster, cdn, "web-plain")
    port = cluster.port()
    st, h, _ = curl(port, c)
    assert st == 301 and h["location"] == f"http://127.0.0.1:{port}{c}/"
    st, h, body = curl(port, f"{c}/")
    assert st == 200 and body == b"<p>index.html</p>" and h["content-type"] == "text/html"
    st, h, _ = curl(port, f"{c}/sub")
    assert st == 301 and h["location"].endswith(f"{c}/sub/")
    assert curl(port, f"{c}/sub/")[2] == b"<p>sub/index.html</p>"
    st, h, _ = curl(port, f"{c}/other")  # no index below, but objects: a directory
    assert st == 301 and h["location"].endswith(f"{c}/other/")
    st, h, body = curl(port, f"{c}/other/")
    assert st == 200 and h["content-type"] == "text/html; charset=UTF-8"
    assert f"<title>Listing of {c}/other/</title>".encode() in body
    assert b'<a href="../">../</a>' in body and b'<a href="a.txt">a.txt</a>' in body
    assert b'<td class="colsize">5Ki</td>' in body and b"type-text type-plain" in body
    for missing in ("/nope", "/nope/", "/marker"):  # a directory marker is no page
        st, _, body = curl(port, f"{c}{missing}")
        assert (st, body) == (404, b"<p>404err.html</p>"), missing
    assert curl(port, f"{c}/index.html")[2] == b"<p>index.html</p>"


def test_listing_css_web_mode_and_private(cluster, cdn):
    c = site(cluster, cdn, "web-css", meta={"X-Container-Meta-Web-Index": "", "X-Container-Meta-Web-Listings-CSS":
                                            "my.css"})
    port, tok = cluster.port(), cdn["cdn"][0]
    st, _, body = curl(port, f"{c}/other/")
    assert st == 200 and b'<link rel="stylesheet" type="text/css" href="../my.css" />' in body
    st, _, body = curl(port, f"{c}/")  # no index: the container's listing, subdirs first
    assert st == 200 and body.index(b'href="other/"') < body.index(b'href="index.html"')
    # a token holder gets the API unless it asks for X-Web-Mode
    st, _, body = curl(port, f"{c}/other/", "-H", f"X-Auth-Token: {tok}")
    assert st == 404
    st, _, body = curl(port, f"{c}/other/", "-H", f"X-Auth-Token: {tok}", "-H", "X-Web-Mode: true")
    assert st == 200 and b"Listing of" in body
    st, _, body = curl(port, c, "-H", f"X-Auth-Token: {tok}")
    assert st == 200 and b"index.html\n" in body  # the plain listing
    p = site(cluster, cdn, "web-private", public=False)
    st, h, body = curl(port, f"{p}/")  # private: nothing shown, Web-Error's 401 page at most
    assert st == 401 and b"index.html" not in body


def test_website_through_varnish(cluster, cdn, varnish):
    c = site(cluster, cdn, "web-varnish")
    for _ in range(2):
        st, h, body = curl(varnish, f"{c}/")
        assert st == 200 and body == b"<p>index.html</p>"
    assert len(h["x-varnish"].split()) == 2  # the index page is a cache hit
    st, h, body = curl(varnish, f"{c}/nope")
    assert (st, body) == (404, b"<p>404err.html</p>")
    st, h, _ = curl(varnish, f"{c}/sub")
    assert st == 301 and h["location"].endswith(f"{c}/sub/")
    st, h, body = curl(varnish, f"{c}/other/")
    assert st == 200 and b'<a href="a.txt">a.txt</a>' in body
    assert "private" not in h.get("cache-control", "")


# ---------------------------------------------------------------- S3 website configuration

SITE = {"IndexDocument": {"Suffix": "index.html"}, "ErrorDocument": {"Key": "err.html"},
        "RoutingRules": [{"Condition": {"KeyPrefixEquals": "docs/"},
                          "Redirect": {"ReplaceKeyPrefixWith": "documents/", "HttpRedirectCode": "302"}},
                         {"Condition": {"HttpErrorCodeReturnedEquals": "404"},
                          "Redirect": {"HostName": "example.com", "Protocol": "https", "ReplaceKeyWith": "x"}}]}


def _website_error(s3, bucket, cfg):
    try:
        s3.put_bucket_website(Bucket=bucket, WebsiteConfiguration=cfg)
    except botocore.exceptions.ClientError as e:
        return e.response["ResponseMetadata"]["HTTPStatusCode"], e.response["Error"]["Code"]
    raise AssertionError(f"accepted {cfg}")


def test_s3_bucket_website_valid_config_stored(s3, bucket):
    """A valid configuration is stored and returned as sent (test_s3_website.py serves it); DELETE
    removes it, and DELETE of none is fine, as S3."""
    with pytest.raises(botocore.exceptions.ClientError) as e:
        s3.get_bucket_website(Bucket=bucket)
    assert e.value.response["Error"]["Code"] == "NoSuchWebsiteConfiguration"
    redirect_all = {"RedirectAllRequestsTo": {"HostName": "www.example.com", "Protocol": "https"}}
    for cfg in (SITE, redirect_all):
        s3.put_bucket_website(Bucket=bucket, WebsiteConfiguration=cfg)
        got = s3.get_bucket_website(Bucket=bucket)
        assert {k: got[k] for k in cfg} == cfg
    s3.delete_bucket_website(Bucket=bucket)
    with pytest.raises(botocore.exceptions.ClientError) as e:
        s3.get_bucket_website(Bucket=bucket)
    assert e.value.response["Error"]["Code"] == "NoSuchWebsiteConfiguration"
    s3.delete_bucket_website(Bucket=bucket)


def test_s3_bucket_website_refusals(cluster, s3, bucket):
    assert _website_error(s3, bucket, {"ErrorDocument": {"Key": "e"}}) == (400, "InvalidArgument")
    assert _website_error(s3, bucket, {"IndexDocument": {"Suffix": ""}}) == (400, "InvalidArgument")
    assert _website_error(s3, bucket, {"IndexDocument": {"Suffix": "a/b"}}) == (400, "InvalidArgument")
    assert _website_error(s3, bucket, {"RedirectAllRequestsTo": {"HostName": "h"},
                                       "IndexDocument": {"Suffix": "i"}}) == (400, "InvalidArgument")
    assert _website_error(s3, bucket, {"RedirectAllRequestsTo": {"HostName": "h", "Protocol": "ftp"}}) == \
        (400, "InvalidArgument")
    rule = {"IndexDocument": {"Suffix": "i"}, "RoutingRules": [{"Redirect": {"ReplaceKeyPrefixWith": "d/",
                                                                              "ReplaceKeyWith": "x"}}]}
    assert _website_error(s3, bucket, rule) == (400, "InvalidArgument")
    rule["RoutingRules"][0]["Redirect"] = {"HttpRedirectCode": "200"}
    assert _website_error(s3, bucket, rule) == (400, "InvalidArgument")
    for body in (b"<WebsiteConfiguration><IndexDocument>", b"<Nope/>",
                 b"<WebsiteConfiguration><Bogus/></WebsiteConfiguration>"):
        st, _, out = signed_request(cluster.port(), "PUT", f"/{bucket}", query="website", body=body)
        assert st == 400 and b"<Code>MalformedXML</Code>" in out, (body, out)
    with pytest.raises(botocore.exceptions.ClientError):  # nothing was stored
        s3.get_bucket_website(Bucket=bucket)
