"""S3 static website hosting (issue 14): configurations set with the aws CLI (`aws s3 website`,
`aws s3api put-bucket-website`), then served on the website endpoint (--website-domain, conftest's
WEBSITE_DOMAIN) and on a custom domain (a bucket named like the Host), read with curl and through a
real Varnish, as AWS's website endpoint answers (docs/s3-compat.md "Website endpoint")."""

import json
import os
import subprocess

import botocore.exceptions
import pytest

from conftest import ACCESS, SECRET, WEBSITE_DOMAIN, free_ports, spawn, uniq

VARNISHD = "/usr/sbin/varnishd"

PAGES = {"index.html": "<p>home</p>", "err.html": "<p>oops</p>", "sub/index.html": "<p>sub</p>",
         "documents/a.html": "<p>doc a</p>", "page.html": "<p>page</p>"}


def curl(port, host, path, *extra):
    """curl -si against the gateway with Host: host. (status, headers lowercased, body)."""
    out = subprocess.run(["curl", "-si", "-H", f"Host: {host}", *extra, f"http://127.0.0.1:{port}{path}"],
                         capture_output=True, check=True).stdout
    head, _, body = out.partition(b"\r\n\r\n")
    lines = head.decode().split("\r\n")
    h = {k.lower(): v.strip() for k, _, v in (ln.partition(":") for ln in lines[1:])}
    return int(lines[0].split()[1]), h, body


def make_site(cluster, s3, name=None, private=("secret.html",), acl="public-read"):
    """A bucket anyone may list (so a missing key is 404, not 403) holding PAGES, public, and the
    private pages; its website set with `aws s3 website`."""
    name = name or uniq("web")
    s3.create_bucket(Bucket=name, ACL=acl)
    for key, body in PAGES.items():
        s3.put_object(Bucket=name, Key=key, Body=body.encode(), ContentType="text/html", ACL="public-read")
    for key in private:
        s3.put_object(Bucket=name, Key=key, Body=b"<p>private</p>", ContentType="text/html")
    cluster.aws("s3", "website", f"s3://{name}", "--index-document", "index.html", "--error-document", "err.html")
    return name


def host(bucket):
    return f"{bucket}.{WEBSITE_DOMAIN}"


def put_website(cluster, bucket, cfg):
    cluster.aws("s3api", "put-bucket-website", "--bucket", bucket, "--website-configuration", json.dumps(cfg))


def test_configuration_stored_returned_deleted(cluster, s3):
    b = uniq("web")
    s3.create_bucket(Bucket=b)
    cfg = {"IndexDocument": {"Suffix": "index.html"}, "ErrorDocument": {"Key": "err.html"},
           "RoutingRules": [{"Condition": {"KeyPrefixEquals": "docs/"},
                             "Redirect": {"ReplaceKeyPrefixWith": "documents/", "HttpRedirectCode": "302"}}]}
    put_website(cluster, b, cfg)
    got = json.loads(cluster.aws("s3api", "get-bucket-website", "--bucket", b).stdout)
    assert got == cfg
    # the owner's only: a stranger (even of a public bucket) gets 403
    s3.put_bucket_acl(Bucket=b, ACL="public-read")
    st, _, body = curl(cluster.port(), "127.0.0.1", f"/{b}?website")
    assert st == 403 and b"AccessDenied" in body
    cluster.aws("s3api", "delete-bucket-website", "--bucket", b)
    r = cluster.aws("s3api", "get-bucket-website", "--bucket", b, check=False)
    assert r.returncode != 0 and "NoSuchWebsiteConfiguration" in r.stderr


def test_index_error_document_and_private(cluster, s3):
    b = make_site(cluster, s3)
    port, h = cluster.port(), host(b)
    st, hd, body = curl(port, h, "/")
    assert (st, body) == (200, b"<p>home</p>") and hd["content-type"] == "text/html"
    assert "private" not in hd.get("cache-control", "")  # anyone's answer: caches may share it
    assert curl(port, h, "/sub/")[2] == b"<p>sub</p>"
    st, hd, _ = curl(port, h, "/sub")  # sub/index.html exists: 302 to the directory
    assert st == 302 and hd["location"] == "/sub/"
    assert curl(port, h, "/page.html")[:3:2] == (200, b"<p>page</p>")
    assert curl(port, h.upper(), "/page.html")[0] == 200  # host names are case-insensitive
    st, hd, body = curl(port, h, "/nope.html")  # the error document, with the error's status
    assert (st, body) == (404, b"<p>oops</p>") and hd["content-type"] == "text/html"
    st, _, body = curl(port, h, "/secret.html")  # private: 403, with the error document
    assert (st, body) == (403, b"<p>oops</p>")
    # credentials change nothing: a website request is anonymous
    st, _, body = curl(port, h, "/secret.html", "--aws-sigv4", "aws:amz:us-east-1:s3", "--user",
                       f"{ACCESS}:{SECRET}")
    assert (st, body) == (403, b"<p>oops</p>")
    st, hd, body = curl(port, h, "/nope.html", "-I")
    assert st == 404 and body == b""
    # the error document answers the error whole: no 206, 304 or 412 of its own
    etag = curl(port, h, "/err.html")[1]["etag"]
    for extra in (("-H", "Range: bytes=0-2"), ("-H", f"If-None-Match: {etag}"), ("-H", 'If-Match: "nope"')):
        assert curl(port, h, "/nope.html", *extra)[:3:2] == (404, b"<p>oops</p>"), extra
    st, hd, body = curl(port, h, "/page.html", "-H", "Range: bytes=3-6")  # a page: as GetObject
    assert (st, body) == (206, b"page")
    # the REST API of the same bucket is unchanged (path style on the gateway's own address)
    assert s3.get_object(Bucket=b, Key="secret.html")["Body"].read() == b"<p>private</p>"


def test_html_errors_without_error_document(cluster, s3):
    b = make_site(cluster, s3)
    put_website(cluster, b, {"IndexDocument": {"Suffix": "index.html"}})
    port, h = cluster.port(), host(b)
    st, hd, body = curl(port, h, "/nope.html")
    assert st == 404 and hd["content-type"] == "text/html; charset=utf-8"
    assert hd["x-amz-error-code"] == "NoSuchKey" and hd["x-amz-error-message"] == "The specified key does not exist."
    assert b"<h1>404 Not Found</h1>" in body and b"<li>Code: NoSuchKey</li>" in body
    assert b"<li>Key: nope.html</li>" in body
    st, _, body = curl(port, h, "/secret.html")
    assert st == 403 and b"<h1>403 Forbidden</h1>" in body and b"<li>Code: AccessDenied</li>" in body
    for method in ("PUT", "DELETE", "POST"):
        st, _, body = curl(port, h, "/page.html", "-X", method)
        assert st == 405 and b"<li>Code: MethodNotAllowed</li>" in body, method
    assert s3.get_object(Bucket=b, Key="page.html")["Body"].read() == b"<p>page</p>"  # nothing written
    # a bucket without a website, and no bucket at all
    plain = uniq("web")
    s3.create_bucket(Bucket=plain, ACL="public-read")
    st, _, body = curl(port, host(plain), "/")
    assert st == 404 and b"<li>Code: NoSuchWebsiteConfiguration</li>" in body
    assert f"<li>BucketName: {plain}</li>".encode() in body
    st, _, body = curl(port, host(uniq("gone")), "/")
    assert st == 404 and b"<li>Code: NoSuchBucket</li>" in body
    # an error document that cannot be read: the page says so, as AWS
    put_website(cluster, b, {"IndexDocument": {"Suffix": "index.html"}, "ErrorDocument": {"Key": "secret.html"}})
    st, _, body = curl(port, h, "/nope.html")
    assert st == 404 and b"<li>Code: NoSuchKey</li>" in body
    assert b"An Error Occurred While Attempting to Retrieve a Custom Error Document" in body
    assert b"<li>Code: AccessDenied</li>" in body


def test_private_bucket_missing_key_is_403(cluster, s3):
    """Anyone may read the pages but not list the bucket: a missing key is 403, as S3 says."""
    b = make_site(cluster, s3, acl="private")
    st, _, body = curl(cluster.port(), host(b), "/nope.html")
    assert (st, body) == (403, b"<p>oops</p>")
    assert curl(cluster.port(), host(b), "/")[2] == b"<p>home</p>"


def test_routing_rules(cluster, s3):
    b = make_site(cluster, s3)
    put_website(cluster, b, {
        "IndexDocument": {"Suffix": "index.html"}, "ErrorDocument": {"Key": "err.html"},
        "RoutingRules": [
            {"Condition": {"KeyPrefixEquals": "docs/"},
             "Redirect": {"ReplaceKeyPrefixWith": "documents/", "HttpRedirectCode": "302"}},
            {"Condition": {"KeyPrefixEquals": "old/", "HttpErrorCodeReturnedEquals": "404"},
             "Redirect": {"HostName": "example.com", "Protocol": "https", "ReplaceKeyWith": "moved.html"}},
            {"Condition": {"HttpErrorCodeReturnedEquals": "403"},
             "Redirect": {"HostName": "login.example.com", "HttpRedirectCode": "307"}}]})
    port, h = cluster.port(), host(b)
    st, hd, _ = curl(port, h, "/docs/a.html")
    assert st == 302 and hd["location"] == f"http://{h}/documents/a.html"
    st, hd, _ = curl(port, h, "/old/x.html")  # missing under old/: the error rule
    assert st == 301 and hd["location"] == "https://example.com/moved.html"
    st, hd, body = curl(port, h, "/other.html")  # missing elsewhere: the error document
    assert (st, body) == (404, b"<p>oops</p>")
    st, hd, _ = curl(port, h, "/secret.html")
    assert st == 307 and hd["location"] == "http://login.example.com/secret.html"


def test_redirect_all_requests(cluster, s3):
    b = uniq("web")
    s3.create_bucket(Bucket=b)
    put_website(cluster, b, {"RedirectAllRequestsTo": {"HostName": "www.example.com", "Protocol": "https"}})
    st, hd, _ = curl(cluster.port(), host(b), "/a/b%20c.html")
    assert st == 301 and hd["location"] == "https://www.example.com/a/b%20c.html"
    st, hd, _ = curl(cluster.port(), host(b), "/")
    assert st == 301 and hd["location"] == "https://www.example.com/"


def test_object_redirect_location(cluster, s3):
    b = make_site(cluster, s3)
    cluster.aws("s3api", "put-object", "--bucket", b, "--key", "moved.html", "--acl", "public-read",
                "--website-redirect-location", "/page.html")
    head = json.loads(cluster.aws("s3api", "head-object", "--bucket", b, "--key", "moved.html").stdout)
    assert head["WebsiteRedirectLocation"] == "/page.html"
    st, hd, _ = curl(cluster.port(), host(b), "/moved.html")
    assert st == 301 and hd["location"] == "/page.html"
    # copied with a redirect of its own (AWS never copies the source's)
    s3.copy_object(Bucket=b, Key="moved2.html", CopySource={"Bucket": b, "Key": "moved.html"}, ACL="public-read",
                   WebsiteRedirectLocation="https://example.org/")
    assert s3.head_object(Bucket=b, Key="moved2.html")["WebsiteRedirectLocation"] == "https://example.org/"
    s3.copy_object(Bucket=b, Key="moved3.html", CopySource={"Bucket": b, "Key": "moved.html"})
    assert "WebsiteRedirectLocation" not in s3.head_object(Bucket=b, Key="moved3.html")
    up = s3.create_multipart_upload(Bucket=b, Key="mp.html", WebsiteRedirectLocation="http://example.net/x",
                                    ACL="public-read")["UploadId"]
    etag = s3.upload_part(Bucket=b, Key="mp.html", UploadId=up, PartNumber=1, Body=b"x")["ETag"]
    s3.complete_multipart_upload(Bucket=b, Key="mp.html", UploadId=up,
                                 MultipartUpload={"Parts": [{"PartNumber": 1, "ETag": etag}]})
    st, hd, _ = curl(cluster.port(), host(b), "/mp.html")
    assert st == 301 and hd["location"] == "http://example.net/x"
    for bad in ("page.html", "ftp://x"):
        with pytest.raises(botocore.exceptions.ClientError) as e:
            s3.put_object(Bucket=b, Key="bad", Body=b"x", WebsiteRedirectLocation=bad)
        assert e.value.response["Error"]["Code"] == "InvalidRedirectLocation"
        with pytest.raises(botocore.exceptions.ClientError) as e:
            s3.create_multipart_upload(Bucket=b, Key="bad", WebsiteRedirectLocation=bad)
        assert e.value.response["Error"]["Code"] == "InvalidRedirectLocation"
        with pytest.raises(botocore.exceptions.ClientError) as e:
            s3.copy_object(Bucket=b, Key="bad", CopySource={"Bucket": b, "Key": "page.html"},
                           WebsiteRedirectLocation=bad)
        assert e.value.response["Error"]["Code"] == "InvalidRedirectLocation"


def test_custom_domain(cluster, s3):
    name = f"www.site-{os.getpid()}.example.com"
    make_site(cluster, s3, name=name)
    port = cluster.port()
    st, _, body = curl(port, name, "/")
    assert (st, body) == (200, b"<p>home</p>")
    assert curl(port, f"{name}:8080", "/sub/")[2] == b"<p>sub</p>"
    assert curl(port, name, "/nope")[:3:2] == (404, b"<p>oops</p>")
    # a Swift-looking path on the custom domain is still the website
    assert curl(port, name, "/v1/x")[:3:2] == (404, b"<p>oops</p>")
    # path style on the gateway's own address is the REST API, as before
    assert s3.get_object(Bucket=name, Key="secret.html")["Body"].read() == b"<p>private</p>"
    st, _, body = curl(port, "127.0.0.1", f"/{name}/page.html")
    assert (st, body) == (200, b"<p>page</p>")
    # a dotted Host that names no bucket with a website is not a custom domain
    st, _, body = curl(port, "gw.example.com", f"/{name}/page.html")
    assert (st, body) == (200, b"<p>page</p>")


@pytest.mark.skipif(not os.access(VARNISHD, os.X_OK), reason="varnish (tools/deps.sh) is needed")
def test_website_through_varnish(cluster, s3, tmp_path):
    from test_cdn import VCL, stop, wait_port
    b = make_site(cluster, s3)
    port = free_ports(1)[0]
    with open(tmp_path / "default.vcl", "w") as f:
        f.write(VCL % cluster.port())
    log = str(tmp_path / "varnishd.log")
    proc = spawn([VARNISHD, "-F", "-j", "none", "-T", "none", "-n", str(tmp_path / "work"), "-a",
                  f"127.0.0.1:{port}", "-f", str(tmp_path / "default.vcl"), "-s", "malloc,16m", "-p",
                  "default_ttl=600"], log)
    try:
        wait_port(port, proc, log)
        for _ in range(2):
            st, hd, body = curl(port, host(b), "/")
            assert (st, body) == (200, b"<p>home</p>")
        assert len(hd["x-varnish"].split()) == 2  # the index page is a cache hit
        st, hd, body = curl(port, host(b), "/nope.html")
        assert (st, body) == (404, b"<p>oops</p>")
        st, hd, _ = curl(port, host(b), "/sub")
        assert st == 302 and hd["location"] == "/sub/"
        st, _, body = curl(port, host(b), "/secret.html")  # never the private bytes
        assert st == 403 and b"private" not in body
    finally:
        stop(proc)
