"""S3 ACLs with real clients: canned ACLs and grants at creation and through ?acl, enforced for
anonymous requests (path style and virtual-host style URLs), other accounts and ACL grantees, and
the Swift view of a public-read bucket (docs/s3-compat.md, "Access control")."""

import json
import re
import subprocess

import pytest

from conftest import ACCESS2, ACCOUNT, ACCOUNT2, SECRET2, http_request, signed_request, uniq, xml_code

ALL_USERS = "http://acs.amazonaws.com/groups/global/AllUsers"


def curl(url, *args):
    """Anonymous curl: (status, body bytes)."""
    r = subprocess.run(["curl", "-s", "-o", "-", "-w", "\n%{http_code}", *args, url], capture_output=True,
                       timeout=60)
    body, _, code = r.stdout.rpartition(b"\n")
    return int(code), body


def vhost_curl(cluster, bucket, key):
    port = cluster.port()
    return curl(f"http://{bucket}.localhost:{port}/{key}", "--resolve", f"{bucket}.localhost:{port}:127.0.0.1")


def grants(acl):
    return sorted((g["Grantee"].get("URI") or g["Grantee"].get("ID"), g["Permission"]) for g in acl["Grants"])


def test_s3cmd_setacl_public_url_reads_anonymously(cluster, s3):
    b = uniq("aclpub")
    s3.create_bucket(Bucket=b)
    s3.put_object(Bucket=b, Key="dir/file.txt", Body=b"public bytes")
    path_url = f"{cluster.endpoint()}/{b}/dir/file.txt"
    assert curl(path_url)[0] == 403
    out = cluster.s3cmd("setacl", "--acl-public", f"s3://{b}/dir/file.txt").stdout
    m = re.search(r"Public URL .*?: (\S+)", cluster.s3cmd("info", f"s3://{b}/dir/file.txt").stdout + out)
    assert "ACL set to Public" in out
    assert curl(path_url) == (200, b"public bytes")
    assert vhost_curl(cluster, b, "dir/file.txt") == (200, b"public bytes")
    info = cluster.s3cmd("info", f"s3://{b}/dir/file.txt").stdout
    assert "*anon*: READ" in info, info
    # the bucket itself stays private: no anonymous listing
    assert curl(f"{cluster.endpoint()}/{b}")[0] == 403
    cluster.s3cmd("setacl", "--acl-private", f"s3://{b}/dir/file.txt")
    assert curl(path_url)[0] == 403
    del m


def test_aws_cli_bucket_and_object_acls(cluster, s3):
    b = uniq("aclcli")
    cluster.aws("s3api", "create-bucket", "--bucket", b, "--acl", "public-read")
    s3.put_object(Bucket=b, Key="k", Body=b"x")
    acl = s3.get_bucket_acl(Bucket=b)
    assert grants(acl) == sorted([(ACCOUNT, "FULL_CONTROL"), (ALL_USERS, "READ")])
    assert acl["Owner"]["ID"] == ACCOUNT
    # anonymous listing of a public-read bucket, both URL forms; objects stay private
    st, body = curl(f"{cluster.endpoint()}/{b}")
    assert st == 200 and b"<Key>k</Key>" in body
    assert vhost_curl(cluster, b, "")[0] == 200
    assert curl(f"{cluster.endpoint()}/{b}/k")[0] == 403
    cluster.aws("s3api", "put-object-acl", "--bucket", b, "--key", "k", "--acl", "public-read")
    assert curl(f"{cluster.endpoint()}/{b}/k") == (200, b"x")
    cluster.aws("s3api", "put-bucket-acl", "--bucket", b, "--acl", "private")
    assert curl(f"{cluster.endpoint()}/{b}")[0] == 403
    assert grants(s3.get_bucket_acl(Bucket=b)) == [(ACCOUNT, "FULL_CONTROL")]
    cluster.aws("s3api", "put-bucket-acl", "--bucket", b, "--grant-read", f"uri={ALL_USERS}")
    assert curl(f"{cluster.endpoint()}/{b}")[0] == 200
    assert (ALL_USERS, "READ") in grants(s3.get_bucket_acl(Bucket=b))


def test_acl_xml_body_and_grantee_account(cluster, s3):
    b = uniq("aclxml")
    s3.create_bucket(Bucket=b)
    s3.put_object(Bucket=b, Key="k", Body=b"shared")
    other = cluster.client(ACCESS2, SECRET2)
    with pytest.raises(Exception):
        other.get_object(Bucket=b, Key="k")
    s3.put_object_acl(Bucket=b, Key="k", AccessControlPolicy={
        "Owner": {"ID": ACCOUNT},
        "Grants": [{"Grantee": {"Type": "CanonicalUser", "ID": ACCOUNT}, "Permission": "FULL_CONTROL"},
                   {"Grantee": {"Type": "CanonicalUser", "ID": ACCOUNT2}, "Permission": "READ"}]})
    assert other.get_object(Bucket=b, Key="k")["Body"].read() == b"shared"
    assert grants(s3.get_object_acl(Bucket=b, Key="k")) == sorted([(ACCOUNT, "FULL_CONTROL"),
                                                                     (ACCOUNT2, "READ")])
    # a READ grant on the object is no READ_ACP, no write, no listing
    with pytest.raises(Exception):
        other.get_object_acl(Bucket=b, Key="k")
    with pytest.raises(Exception):
        other.put_object(Bucket=b, Key="k2", Body=b"no")
    with pytest.raises(Exception):
        other.list_objects_v2(Bucket=b)
    # a WRITE grant on the bucket lets the grantee write objects it then owns
    s3.put_bucket_acl(Bucket=b, GrantWrite=f"id={ACCOUNT2}", GrantFullControl=f"id={ACCOUNT}")
    other.put_object(Bucket=b, Key="by-other", Body=b"theirs", ACL="bucket-owner-full-control")
    acl = other.get_object_acl(Bucket=b, Key="by-other")
    assert acl["Owner"]["ID"] == ACCOUNT2
    assert grants(acl) == sorted([(ACCOUNT2, "FULL_CONTROL"), (ACCOUNT, "FULL_CONTROL")])


@pytest.mark.parametrize("headers,code", [
    ({"x-amz-acl": "public-read", "x-amz-grant-read": f'uri="{ALL_USERS}"'}, "InvalidRequest"),
    ({"x-amz-grant-read": 'emailAddress="someone@example.com"'}, "UnresolvableGrantByEmailAddress"),
    ({"x-amz-acl": "everyone-may"}, "InvalidArgument"),
    ({"x-amz-grant-read": 'uri="http://acs.amazonaws.com/groups/global/Nobody"'}, "InvalidArgument"),
])
def test_acl_header_errors(cluster, s3, headers, code):
    b = uniq("aclerr")
    s3.create_bucket(Bucket=b)
    for path, query in ((f"/{b}/obj", ""), (f"/{b}", "acl")):
        st, _, body = signed_request(cluster.port(), "PUT", path, query, headers, b"x" if not query else b"")
        assert (st, xml_code(body)) == (400, code), (path, body)


def test_put_acl_malformed_body(cluster, s3):
    b = uniq("aclbad")
    s3.create_bucket(Bucket=b)
    st, _, body = signed_request(cluster.port(), "PUT", f"/{b}", "acl", {}, b"<NotAPolicy/>")
    assert (st, xml_code(body)) == (400, "MalformedACLError")
    st, _, body = signed_request(cluster.port(), "DELETE", f"/{b}", "acl")
    assert st == 405


def test_anonymous_private_is_403_not_404_or_400(cluster, s3):
    b = uniq("aclanon")
    s3.create_bucket(Bucket=b)
    s3.put_object(Bucket=b, Key="k", Body=b"x")
    for method, path in (("GET", f"/{b}/k"), ("HEAD", f"/{b}/k"), ("GET", f"/{b}/missing"), ("GET", f"/{b}"),
                         ("PUT", f"/{b}/new"), ("DELETE", f"/{b}/k"), ("GET", "/"), ("GET", f"/{b}?acl")):
        st, _, body = http_request(cluster.port(), method, path, {}, b"")
        assert st == 403, (method, path, st, body)
    # a bucket that does not exist is NoSuchBucket for everyone, as S3
    assert http_request(cluster.port(), "GET", f"/{uniq('nob')}/k")[0] == 404


def test_public_read_write_bucket_anonymous_put(cluster, s3):
    b = uniq("aclprw")
    s3.create_bucket(Bucket=b, ACL="public-read-write")
    st, _, _ = http_request(cluster.port(), "PUT", f"/{b}/anon", {}, b"from nobody")
    assert st == 200
    assert s3.get_object(Bucket=b, Key="anon")["Body"].read() == b"from nobody"
    assert http_request(cluster.port(), "DELETE", f"/{b}/anon")[0] == 204


def test_swift_reads_public_read_bucket_anonymously(cluster, s3):
    b = uniq("aclsw")
    s3.create_bucket(Bucket=b)
    s3.put_object(Bucket=b, Key="o", Body=b"via swift")
    path = f"/v1/AUTH_{ACCOUNT}/{b}"
    assert http_request(cluster.port(), "GET", f"{path}/o")[0] in (401, 403)
    s3.put_bucket_acl(Bucket=b, ACL="public-read")
    st, _, body = http_request(cluster.port(), "GET", f"{path}/o")
    assert (st, body) == (200, b"via swift")
    st, _, body = http_request(cluster.port(), "GET", path)
    assert st == 200 and b"o" in body
    # the ACL record is no object header on either API: the only Onggi header on the object is
    # its documented immutable URL (docs/swift-compat.md), and no grant leaks as metadata
    st, h, _ = http_request(cluster.port(), "HEAD", f"{path}/o")
    names = {k.lower() for k in dict(h)}
    assert st == 200
    assert {k for k in names if k.startswith("x-onggi")} == {"x-onggi-immutable-url"}
    assert not any("acl" in k or "grant" in k or k.startswith("x-object-meta") for k in names)


def test_acl_at_copy_and_multipart(cluster, s3):
    b = uniq("aclcp")
    s3.create_bucket(Bucket=b)
    s3.put_object(Bucket=b, Key="src", Body=b"source", ACL="public-read")
    assert curl(f"{cluster.endpoint()}/{b}/src") == (200, b"source")
    # a copy is private unless its request asks otherwise: the source's ACL is not copied
    s3.copy_object(Bucket=b, Key="plain-copy", CopySource={"Bucket": b, "Key": "src"})
    assert curl(f"{cluster.endpoint()}/{b}/plain-copy")[0] == 403
    s3.copy_object(Bucket=b, Key="pub-copy", CopySource={"Bucket": b, "Key": "src"}, ACL="public-read",
                   MetadataDirective="REPLACE", Metadata={"m": "1"})
    assert curl(f"{cluster.endpoint()}/{b}/pub-copy") == (200, b"source")
    up = s3.create_multipart_upload(Bucket=b, Key="mp", ACL="public-read")["UploadId"]
    etag = s3.upload_part(Bucket=b, Key="mp", UploadId=up, PartNumber=1, Body=b"multi")["ETag"]
    s3.complete_multipart_upload(Bucket=b, Key="mp", UploadId=up,
                                 MultipartUpload={"Parts": [{"PartNumber": 1, "ETag": etag}]})
    assert curl(f"{cluster.endpoint()}/{b}/mp") == (200, b"multi")
    assert (ALL_USERS, "READ") in grants(s3.get_object_acl(Bucket=b, Key="mp"))
    # another account cannot copy out a private object, but may copy a public one
    other = cluster.client(ACCESS2, SECRET2)
    mine = uniq("aclcpo")
    other.create_bucket(Bucket=mine)
    with pytest.raises(Exception):
        other.copy_object(Bucket=mine, Key="x", CopySource={"Bucket": b, "Key": "plain-copy"})
    other.copy_object(Bucket=mine, Key="y", CopySource={"Bucket": b, "Key": "src"})
    assert other.get_object(Bucket=mine, Key="y")["Body"].read() == b"source"


# ---------------------------------------------------------------- bucket policies

def policy(b, *statements):
    return json.dumps({"Version": "2012-10-17", "Statement": list(statements)})


def test_aws_cli_public_read_policy_and_source_ip_deny(cluster, s3, tmp_path):
    b = uniq("pol")
    s3.create_bucket(Bucket=b)
    s3.put_object(Bucket=b, Key="k", Body=b"by policy")
    url = f"{cluster.endpoint()}/{b}/k"
    assert curl(url)[0] == 403
    f = tmp_path / "p.json"
    f.write_text(policy(b, {"Sid": "pub", "Effect": "Allow", "Principal": "*", "Action": "s3:GetObject",
                            "Resource": f"arn:aws:s3:::{b}/*"}))
    cluster.aws("s3api", "put-bucket-policy", "--bucket", b, "--policy", f"file://{f}")
    assert curl(url) == (200, b"by policy")
    assert vhost_curl(cluster, b, "k") == (200, b"by policy")
    assert curl(f"{cluster.endpoint()}/{b}")[0] == 403  # GetObject only: no listing
    got = json.loads(json.loads(cluster.aws("s3api", "get-bucket-policy", "--bucket", b).stdout)["Policy"])
    assert got["Statement"][0]["Sid"] == "pub"
    st = json.loads(cluster.aws("s3api", "get-bucket-policy-status", "--bucket", b).stdout)
    assert st["PolicyStatus"]["IsPublic"] is True
    # an explicit Deny by source address wins over the Allow, for the owner too
    f.write_text(policy(b, {"Effect": "Allow", "Principal": "*", "Action": "s3:GetObject",
                            "Resource": f"arn:aws:s3:::{b}/*"},
                        {"Effect": "Deny", "Principal": "*", "Action": "s3:*", "Resource": f"arn:aws:s3:::{b}/*",
                         "Condition": {"IpAddress": {"aws:SourceIp": "127.0.0.0/8"}}}))
    cluster.aws("s3api", "put-bucket-policy", "--bucket", b, "--policy", f"file://{f}")
    assert curl(url)[0] == 403
    with pytest.raises(Exception):
        s3.get_object(Bucket=b, Key="k")
    # ... but not for the policy operations: the owner can always repair it
    cluster.aws("s3api", "delete-bucket-policy", "--bucket", b)
    assert s3.get_object(Bucket=b, Key="k")["Body"].read() == b"by policy"
    assert curl(url)[0] == 403
    r = cluster.aws("s3api", "get-bucket-policy", "--bucket", b, check=False)
    assert r.returncode != 0 and "NoSuchBucketPolicy" in r.stderr


def test_policy_grants_another_account(cluster, s3):
    b = uniq("polacct")
    s3.create_bucket(Bucket=b)
    other = cluster.client(ACCESS2, SECRET2)
    with pytest.raises(Exception):
        other.list_objects_v2(Bucket=b)
    s3.put_bucket_policy(Bucket=b, Policy=policy(b, {
        "Effect": "Allow", "Principal": {"AWS": [f"arn:aws:iam::{ACCOUNT2}:root"]},
        "Action": ["s3:ListBucket", "s3:PutObject"], "Resource": [f"arn:aws:s3:::{b}", f"arn:aws:s3:::{b}/*"]}))
    other.put_object(Bucket=b, Key="from-other", Body=b"o")
    assert [o["Key"] for o in other.list_objects_v2(Bucket=b)["Contents"]] == ["from-other"]
    with pytest.raises(Exception):
        other.delete_object(Bucket=b, Key="from-other")
    with pytest.raises(Exception):
        other.get_bucket_policy(Bucket=b)


@pytest.mark.parametrize("doc,needle", [
    ('{"Statement":[{"Effect":"Allow","Principal":"*","Action":"s3:GetObject","Resource":"arn:aws:s3:::elsewhere/*"}]}',
     "invalid resource"),
    ('{"Statement":[{"Effect":"Allow","Principal":"*","Action":"s3:GetObject","Resource":"arn:aws:s3:::{b}/*",'
     '"Condition":{"DateLessThan":{"aws:CurrentTime":"2030-01-01T00:00:00Z"}}}]}', "DateLessThan"),
    ('{"Statement":[{"Effect":"Allow","NotPrincipal":"*","Action":"s3:GetObject","Resource":"arn:aws:s3:::{b}/*"}]}',
     "NotPrincipal"),
    ("not json", "JSON"),
])
def test_malformed_policy(cluster, s3, doc, needle):
    b = uniq("polbad")
    s3.create_bucket(Bucket=b)
    st, _, body = signed_request(cluster.port(), "PUT", f"/{b}", "policy", {}, doc.replace("{b}", b).encode())
    assert (st, xml_code(body)) == (400, "MalformedPolicy")
    assert needle.encode() in body, body
    st, _, body = signed_request(cluster.port(), "PUT", f"/{b}", "policy", {}, b"{" + b" " * 20480 + b"}")
    assert (st, xml_code(body)) == (400, "MalformedPolicy")


# ---------------------------------------------------------------- bucket CORS

CORS = {"CORSRules": [
    {"ID": "app", "AllowedOrigins": ["https://*.example.com"], "AllowedMethods": ["GET", "PUT"],
     "AllowedHeaders": ["content-type", "x-amz-*"], "ExposeHeaders": ["ETag"], "MaxAgeSeconds": 600},
    {"AllowedOrigins": ["*"], "AllowedMethods": ["HEAD"]},
]}


def curl_headers(url, *args):
    r = subprocess.run(["curl", "-s", "-D", "-", "-o", "/dev/null", *args, url], capture_output=True, text=True,
                       timeout=60)
    lines = r.stdout.splitlines()
    status = int(lines[0].split()[1])
    return status, {k.lower(): v for k, _, v in (ln.partition(": ") for ln in lines[1:] if ": " in ln)}


def test_cors_with_aws_and_browser_style_preflight(cluster, s3, tmp_path):
    b = uniq("cors")
    s3.create_bucket(Bucket=b)
    s3.put_object(Bucket=b, Key="k", Body=b"c", ACL="public-read")
    url = f"{cluster.endpoint()}/{b}/k"
    # no configuration: preflight refused
    st, _ = curl_headers(url, "-X", "OPTIONS", "-H", "Origin: https://app.example.com",
                         "-H", "Access-Control-Request-Method: GET")
    assert st == 403
    f = tmp_path / "cors.json"
    f.write_text(json.dumps(CORS))
    cluster.aws("s3api", "put-bucket-cors", "--bucket", b, "--cors-configuration", f"file://{f}")
    got = json.loads(cluster.aws("s3api", "get-bucket-cors", "--bucket", b).stdout)["CORSRules"]
    assert got[0]["AllowedOrigins"] == ["https://*.example.com"] and got[0]["MaxAgeSeconds"] == 600
    assert got[1]["AllowedMethods"] == ["HEAD"]
    st, h = curl_headers(url, "-X", "OPTIONS", "-H", "Origin: https://app.example.com",
                         "-H", "Access-Control-Request-Method: PUT",
                         "-H", "Access-Control-Request-Headers: Content-Type, X-Amz-Date")
    assert st == 200, h
    assert h.get("access-control-allow-origin") == "https://app.example.com", h
    assert "PUT" in h["access-control-allow-methods"]
    assert h["access-control-allow-headers"].lower() == "content-type, x-amz-date"
    assert h["access-control-max-age"] == "600"
    assert h["vary"] == "Origin"
    for origin, method, hdrs in (("https://evil.test", "GET", ""), ("https://app.example.com", "DELETE", ""),
                                 ("https://app.example.com", "GET", "x-other")):
        extra = ["-H", f"Access-Control-Request-Headers: {hdrs}"] if hdrs else []
        st, _ = curl_headers(url, "-X", "OPTIONS", "-H", f"Origin: {origin}",
                             "-H", f"Access-Control-Request-Method: {method}", *extra)
        assert st == 403, (origin, method, hdrs)
    # an actual request with an admitted Origin carries Allow-Origin, Expose-Headers and Vary
    st, h = curl_headers(url, "-H", "Origin: https://app.example.com")
    assert st == 200 and h["access-control-allow-origin"] == "https://app.example.com"
    # an anonymous read that ACLs admit is anyone's (docs/architecture.md "CDN origin"): shareable,
    # so Vary names the Origin only, not the credentials
    assert h["access-control-expose-headers"] == "ETag" and h["vary"] == "Origin"
    assert "private" not in h.get("cache-control", "")
    st, h = curl_headers(url, "-I", "-H", "Origin: https://anywhere.test")
    assert st == 200 and h["access-control-allow-origin"] == "*"
    st, h = curl_headers(url, "-H", "Origin: https://evil.test")
    assert st == 200 and "access-control-allow-origin" not in h
    cluster.aws("s3api", "delete-bucket-cors", "--bucket", b)
    r = cluster.aws("s3api", "get-bucket-cors", "--bucket", b, check=False)
    assert r.returncode != 0 and "NoSuchCORSConfiguration" in r.stderr


@pytest.mark.parametrize("body,code", [
    (b"<CORSConfiguration><CORSRule><AllowedOrigin>*</AllowedOrigin><AllowedMethod>PATCH</AllowedMethod>"
     b"</CORSRule></CORSConfiguration>", "InvalidRequest"),
    (b"<CORSConfiguration><CORSRule><AllowedOrigin>*.a.*</AllowedOrigin><AllowedMethod>GET</AllowedMethod>"
     b"</CORSRule></CORSConfiguration>", "InvalidRequest"),
    (b"<CORSConfiguration><CORSRule><AllowedMethod>GET</AllowedMethod></CORSRule></CORSConfiguration>",
     "MalformedXML"),
    (b"<CORSConfiguration/>", "MalformedXML"),
])
def test_cors_refused(cluster, s3, body, code):
    b = uniq("corsbad")
    s3.create_bucket(Bucket=b)
    st, _, resp = signed_request(cluster.port(), "PUT", f"/{b}", "cors", {}, body)
    assert (st, xml_code(resp)) == (400, code), resp
    # only the bucket's account may read or change its CORS
    assert signed_request(cluster.port(), "GET", f"/{b}", "cors", access=ACCESS2, secret=SECRET2)[0] == 403
