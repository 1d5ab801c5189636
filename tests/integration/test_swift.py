"""Swift API: TempAuth v1 auth, account/container/object operations, listings, ACLs, quotas,
expiry, and the namespace shared with S3 (docs/swift-compat.md). Driven by the real clients:
the `swift` CLI and python-swiftclient from /usr/bin/python3, plus boto3 for cross-API checks."""

import hashlib
import json
import os
import subprocess
import time
import xml.etree.ElementTree as ET

import pytest
import swiftclient.client as sc
from swiftclient.exceptions import ClientException

from conftest import ACCESS, ACCOUNT, http_request, uniq

ADMIN_KEY = "swift-main-key"
READER_KEY = "swift-reader-key"
OTHER = "acct-swift-other"
OTHER_KEY = "swift-other-key"
RESELLER_KEY = "swift-reseller-key"


@pytest.fixture(scope="module")
def sw(cluster):
    """Swift users: ACCOUNT:admin (.admin) shares ACCOUNT with the S3 keys of the `s3` fixture;
    ACCOUNT:reader (no admin), OTHER:admin, and a reseller admin."""
    cluster.admin("account-add", ACCOUNT)
    cluster.admin("swift-user-add", "--account", ACCOUNT, "--user", "admin", "--key", ADMIN_KEY, "--admin")
    cluster.admin("swift-user-add", "--account", ACCOUNT, "--user", "reader", "--key", READER_KEY)
    cluster.admin("swift-user-add", "--account", OTHER, "--user", "admin", "--key", OTHER_KEY, "--admin")
    cluster.admin("swift-user-add", "--account", "reseller", "--user", "root", "--key", RESELLER_KEY,
                  "--reseller-admin")
    return cluster


def auth_url(cluster):
    return f"{cluster.endpoint()}/auth/v1.0"


def conn(cluster, user=f"{ACCOUNT}:admin", key=ADMIN_KEY):
    return sc.Connection(authurl=auth_url(cluster), user=user, key=key, auth_version="1", retries=0)


def token(cluster, user=f"{ACCOUNT}:admin", key=ADMIN_KEY):
    st, h, _ = http_request(cluster.port(), "GET", "/auth/v1.0", {"X-Auth-User": user, "X-Auth-Key": key})
    assert st == 200, st
    return h["x-auth-token"], h["x-storage-url"]


def swift_cli(cluster, *args, check=True, user=f"{ACCOUNT}:admin", key=ADMIN_KEY, cwd=None):
    r = subprocess.run(["swift", "-A", auth_url(cluster), "-U", user, "-K", key, *args], capture_output=True,
                       text=True, timeout=120, cwd=cwd)
    if check and r.returncode != 0:
        raise AssertionError(f"swift {' '.join(args)} -> {r.returncode}\n{r.stdout}\n{r.stderr}")
    return r


def path(cluster, account=ACCOUNT):
    return f"/v1/AUTH_{account}"


# ---------------------------------------------------------------- auth and /info


def test_auth_v1(sw):
    st, h, _ = http_request(sw.port(), "GET", "/auth/v1.0", {"X-Auth-User": f"{ACCOUNT}:admin",
                                                             "X-Auth-Key": ADMIN_KEY})
    assert st == 200
    assert h["x-auth-token"].startswith("AUTH_tk") and h["x-storage-token"] == h["x-auth-token"]
    assert h["x-storage-url"] == f"{sw.endpoint()}/v1/AUTH_{ACCOUNT}"
    assert int(h["x-auth-token-expires"]) > 0
    # The older spellings work too, and /auth/v1 is the same endpoint.
    st, h2, _ = http_request(sw.port(), "GET", "/auth/v1", {"X-Storage-User": f"{ACCOUNT}:admin",
                                                            "X-Storage-Pass": ADMIN_KEY})
    assert st == 200 and h2["x-storage-url"] == h["x-storage-url"]
    for user, key in ((f"{ACCOUNT}:admin", "wrong"), (f"{ACCOUNT}:nobody", ADMIN_KEY), ("noaccount", "x")):
        st, h, body = http_request(sw.port(), "GET", "/auth/v1.0", {"X-Auth-User": user, "X-Auth-Key": key})
        assert st == 401 and b"Unauthorized" in body and "www-authenticate" in h


def test_bad_and_missing_token(sw):
    st, _, _ = http_request(sw.port(), "GET", path(sw), {"X-Auth-Token": "AUTH_tk00"})
    assert st == 401
    tok, _ = token(sw)
    forged = tok[:-2] + ("00" if tok[-2:] != "00" else "11")
    st, _, _ = http_request(sw.port(), "GET", path(sw), {"X-Auth-Token": forged})
    assert st == 401
    st, _, _ = http_request(sw.port(), "GET", path(sw))
    assert st == 401
    # A valid token of another account gets 403 on this one.
    otok, _ = token(sw, f"{OTHER}:admin", OTHER_KEY)
    st, _, _ = http_request(sw.port(), "GET", path(sw), {"X-Auth-Token": otok})
    assert st == 403


def test_info(sw):
    st, h, body = http_request(sw.port(), "GET", "/info")
    assert st == 200 and h["content-type"].startswith("application/json")
    info = json.loads(body)
    assert info["swift"]["max_file_size"] == 5368709122
    assert info["swift"]["container_listing_limit"] == 10000
    assert "container_quotas" in info and "account_quotas" in info
    r = swift_cli(sw, "capabilities")
    assert "container_quotas" in r.stdout


# ---------------------------------------------------------------- the swift CLI


def test_cli_session(sw, tmp_path):
    c = uniq("cli")
    src = tmp_path / "src"
    (src / "dir" / "sub").mkdir(parents=True)
    files = {"a.txt": b"alpha\n", "dir/b.txt": b"bravo" * 1000, "dir/sub/c.bin": os.urandom(300 * 1024)}
    for name, data in files.items():
        (src / name).write_bytes(data)
    swift_cli(sw, "post", c)
    swift_cli(sw, "upload", c, ".", "-H", "X-Object-Meta-Color: blue", cwd=src)
    listed = swift_cli(sw, "list", c).stdout.split()
    assert sorted(listed) == sorted(files)
    assert swift_cli(sw, "list", c, "--prefix", "dir/").stdout.split() == ["dir/b.txt", "dir/sub/c.bin"]
    assert swift_cli(sw, "list", c, "--delimiter", "/").stdout.split() == ["a.txt", "dir/"]
    assert swift_cli(sw, "list", c, "--prefix", "dir/", "--delimiter", "/").stdout.split() == ["dir/b.txt",
                                                                                             "dir/sub/"]
    out = swift_cli(sw, "stat", c, "a.txt").stdout
    assert "Meta Color: blue" in out and "Content Type: text/plain" in out
    assert hashlib.md5(files["a.txt"]).hexdigest() in out
    stat = swift_cli(sw, "stat", c).stdout
    assert "Objects: 3" in stat and f"Bytes: {sum(map(len, files.values()))}" in stat
    dst = tmp_path / "dst"
    dst.mkdir()
    swift_cli(sw, "download", c, "-D", str(dst))
    for name, data in files.items():
        assert (dst / name).read_bytes() == data
    swift_cli(sw, "post", c, "a.txt", "-m", "Color:red", "-m", "Size:big")
    out = swift_cli(sw, "stat", c, "a.txt").stdout
    assert "Meta Color: red" in out and "Meta Size: big" in out
    swift_cli(sw, "copy", c, "a.txt", "--destination", f"/{c}/a-copy.txt")
    dl = swift_cli(sw, "download", c, "a-copy.txt", "-o", "-").stdout
    assert dl == "alpha\n"
    swift_cli(sw, "post", c, "-r", ".r:*,.rlistings", "-m", "Purpose:test")
    stat = swift_cli(sw, "stat", c).stdout
    assert ".r:*,.rlistings" in stat and "Meta Purpose: test" in stat
    swift_cli(sw, "delete", c, "dir/b.txt")
    assert "dir/b.txt" not in swift_cli(sw, "list", c).stdout.split()
    swift_cli(sw, "delete", c)  # every object, then the container
    assert c not in swift_cli(sw, "list").stdout.split()


# ---------------------------------------------------------------- python-swiftclient API


def test_object_api(sw):
    cn = conn(sw)
    c = uniq("api")
    cn.put_container(c)
    body = b"0123456789" * 100
    etag = cn.put_object(c, "o", body, content_type="text/x-test", headers={"X-Object-Meta-Foo": "bar"})
    assert etag == hashlib.md5(body).hexdigest()
    h, data = cn.get_object(c, "o")
    assert data == body and h["content-type"] == "text/x-test" and h["x-object-meta-foo"] == "bar"
    assert h["etag"] == etag and "x-timestamp" in h and "last-modified" in h
    # ETag verified on PUT
    with pytest.raises(ClientException) as e:
        cn.put_object(c, "bad", b"xyz", etag="0" * 32)
    assert e.value.http_status == 422
    with pytest.raises(ClientException):
        cn.head_object(c, "bad")
    # chunked transfer encoding (a generator body), multi-chunk size
    big = os.urandom(3 * 1024 * 1024 + 17)
    etag = cn.put_object(c, "big", (big[i:i + 65536] for i in range(0, len(big), 65536)))
    assert etag == hashlib.md5(big).hexdigest()
    h, data = cn.get_object(c, "big", headers={"Range": "bytes=1000-1999999"})
    assert data == big[1000:2000000] and h["content-range"] == f"bytes 1000-1999999/{len(big)}"
    with pytest.raises(ClientException) as e:
        cn.get_object(c, "o", headers={"Range": "bytes=5000-"})
    assert e.value.http_status == 416
    # conditionals
    with pytest.raises(ClientException) as e:
        cn.get_object(c, "o", headers={"If-Match": '"nope"'})
    assert e.value.http_status == 412
    st, _, _ = http_request(sw.port(), "GET", f"{path(sw)}/{c}/o",
                            {"X-Auth-Token": cn.get_auth()[1], "If-None-Match": hashlib.md5(body).hexdigest()})
    assert st == 304
    # POST replaces metadata
    cn.post_object(c, "o", {"X-Object-Meta-New": "1"})
    h = cn.head_object(c, "o")
    assert h["x-object-meta-new"] == "1" and "x-object-meta-foo" not in h
    # COPY verb and X-Copy-From
    cn.copy_object(c, "o", f"/{c}/o2", headers={"X-Object-Meta-Extra": "e"})
    h = cn.head_object(c, "o2")
    assert h["x-object-meta-new"] == "1" and h["x-object-meta-extra"] == "e"
    cn.put_object(c, "o3", b"", headers={"X-Copy-From": f"/{c}/o"})
    assert cn.get_object(c, "o3")[1] == body
    # deletes
    cn.delete_object(c, "o3")
    with pytest.raises(ClientException) as e:
        cn.delete_object(c, "o3")
    assert e.value.http_status == 404
    with pytest.raises(ClientException) as e:
        cn.delete_container(c)
    assert e.value.http_status == 409
    for name in ("o", "o2", "big"):
        cn.delete_object(c, name)
    cn.delete_container(c)
    with pytest.raises(ClientException) as e:
        cn.head_container(c)
    assert e.value.http_status == 404


def test_put_status_codes(sw):
    tok, url = token(sw)
    c = uniq("codes")
    p = f"{path(sw)}/{c}"
    assert http_request(sw.port(), "PUT", p, {"X-Auth-Token": tok})[0] == 201
    assert http_request(sw.port(), "PUT", p, {"X-Auth-Token": tok})[0] == 202
    assert http_request(sw.port(), "POST", p, {"X-Auth-Token": tok, "X-Container-Meta-A": "b"})[0] == 204
    st, _, _ = http_request(sw.port(), "PUT", f"{p}/o", {"X-Auth-Token": tok, "Content-Length": "3"}, b"abc")
    assert st == 201
    # neither Content-Length nor chunked: 411
    import http.client
    hc = http.client.HTTPConnection("127.0.0.1", sw.port(), timeout=30)
    hc.putrequest("PUT", f"{p}/nolen")
    hc.putheader("X-Auth-Token", tok)
    hc.endheaders()
    assert hc.getresponse().status == 411
    hc.close()
    st, _, _ = http_request(sw.port(), "PUT", f"{p}/o", {"X-Auth-Token": tok, "X-Delete-At": "1"}, b"abc")
    assert st == 400
    st, _, _ = http_request(sw.port(), "PUT", f"{p}/o", {"X-Auth-Token": tok, "X-Object-Meta-" + "n" * 129: "v"},
                            b"abc")
    assert st == 400
    st, _, _ = http_request(sw.port(), "GET", f"{p}?limit=10001", {"X-Auth-Token": tok})
    assert st == 412
    st, _, _ = http_request(sw.port(), "POST", path(sw), {"X-Auth-Token": tok, "X-Account-Meta-Team": "x"})
    assert st == 204
    st, h, _ = http_request(sw.port(), "HEAD", path(sw), {"X-Auth-Token": tok})
    assert st == 204 and h["x-account-meta-team"] == "x"
    st, _, _ = http_request(sw.port(), "DELETE", f"{p}/o", {"X-Auth-Token": tok})
    assert st == 204
    assert http_request(sw.port(), "DELETE", p, {"X-Auth-Token": tok})[0] == 204
    assert http_request(sw.port(), "DELETE", p, {"X-Auth-Token": tok})[0] == 404


# ---------------------------------------------------------------- listings


@pytest.mark.parametrize("name", [".", "..", "%2E", "%2e%2E"])
def test_dot_container_names_refused(sw, name):
    """"." and ".." are dot segments, not names (clients resolve them away; S3 cannot address
    them): creating one is 400 and nothing is created."""
    tok, _ = token(sw)
    st, _, body = http_request(sw.port(), "PUT", f"{path(sw)}/{name}", {"X-Auth-Token": tok})
    assert st == 400, body
    assert http_request(sw.port(), "HEAD", f"{path(sw)}/{name}", {"X-Auth-Token": tok})[0] == 404
    listed = json.loads(http_request(sw.port(), "GET", f"{path(sw)}?format=json", {"X-Auth-Token": tok})[2])
    assert not [c for c in listed if c["name"] in (".", "..")]


def test_listings(sw):
    cn = conn(sw)
    c = uniq("list")
    cn.put_container(c)
    names = ["a", "b/1", "b/2", "c", "d/x/y", "e"]
    for n in names:
        cn.put_object(c, n, n.encode(), content_type="text/plain")
    _, objs = cn.get_container(c)
    assert [o["name"] for o in objs] == names
    o = objs[0]
    assert o["bytes"] == 1 and o["hash"] == hashlib.md5(b"a").hexdigest() and o["content_type"] == "text/plain"
    assert len(o["last_modified"]) == 26  # 2026-01-01T00:00:00.000000
    _, objs = cn.get_container(c, delimiter="/")
    assert [o.get("name") or o.get("subdir") for o in objs] == ["a", "b/", "c", "d/", "e"]
    _, objs = cn.get_container(c, marker="b/1", end_marker="d")
    assert [o["name"] for o in objs] == ["b/2", "c"]
    _, objs = cn.get_container(c, limit=2)
    assert [o["name"] for o in objs] == ["a", "b/1"]
    _, objs = cn.get_container(c, prefix="b/")
    assert [o["name"] for o in objs] == ["b/1", "b/2"]
    tok, _ = token(sw)
    st, _, body = http_request(sw.port(), "GET", f"{path(sw)}/{c}?reverse=true&limit=3", {"X-Auth-Token": tok})
    assert st == 200 and body.decode().split("\n")[:-1] == ["e", "d/x/y", "c"]
    st, _, body = http_request(sw.port(), "GET", f"{path(sw)}/{c}?reverse=on&marker=c", {"X-Auth-Token": tok})
    assert body.decode().split() == ["b/2", "b/1", "a"]
    st, h, body = http_request(sw.port(), "GET", f"{path(sw)}/{c}?format=xml&prefix=b/", {"X-Auth-Token": tok})
    root = ET.fromstring(body)
    assert root.tag == "container" and [e.findtext("name") for e in root] == ["b/1", "b/2"]
    st, h, body = http_request(sw.port(), "GET", f"{path(sw)}/{c}", {"X-Auth-Token": tok,
                                                                      "Accept": "application/json"})
    assert h["content-type"].startswith("application/json") and len(json.loads(body)) == len(names)
    assert h["x-container-object-count"] == str(len(names))
    # account listing: this account's containers only, with counts
    _, conts = cn.get_account(prefix=c)
    assert conts == [{"name": c, "count": len(names), "bytes": sum(map(len, names)),
                      "last_modified": conts[0]["last_modified"]}]
    st, _, body = http_request(sw.port(), "GET", f"{path(sw)}?format=xml&prefix={c}", {"X-Auth-Token": tok})
    assert [e.findtext("name") for e in ET.fromstring(body)] == [c]
    # an empty text listing is 204, an empty JSON one is 200 []
    st, _, _ = http_request(sw.port(), "GET", f"{path(sw)}/{c}?prefix=zzz", {"X-Auth-Token": tok})
    assert st == 204
    st, _, body = http_request(sw.port(), "GET", f"{path(sw)}/{c}?prefix=zzz&format=json", {"X-Auth-Token": tok})
    assert st == 200 and body == b"[]"


# ---------------------------------------------------------------- one namespace with S3


def test_cross_api(sw, s3):
    cn = conn(sw)
    c = uniq("xapi")
    cn.put_container(c)
    assert c in [b["Name"] for b in s3.list_buckets()["Buckets"]]
    body = os.urandom(100 * 1024)
    cn.put_object(c, "from-swift", body, content_type="image/png", headers={"X-Object-Meta-Color": "blue"})
    o = s3.get_object(Bucket=c, Key="from-swift")
    assert o["Body"].read() == body and o["ContentType"] == "image/png"
    assert o["ETag"] == '"%s"' % hashlib.md5(body).hexdigest() and o["Metadata"] == {"color": "blue"}
    s3.put_object(Bucket=c, Key="from-s3", Body=b"hello s3", ContentType="text/x-s3", Metadata={"shape": "round"})
    h, data = cn.get_object(c, "from-s3")
    assert data == b"hello s3" and h["content-type"] == "text/x-s3" and h["x-object-meta-shape"] == "round"
    assert h["etag"] == hashlib.md5(b"hello s3").hexdigest()
    _, objs = cn.get_container(c)
    s3objs = s3.list_objects_v2(Bucket=c)["Contents"]
    assert [(o["name"], o["bytes"], o["hash"]) for o in objs] == \
        [(o["Key"], o["Size"], o["ETag"].strip('"')) for o in s3objs]
    # an S3 bucket is a container of the same account
    b = uniq("s3b")
    s3.create_bucket(Bucket=b)
    assert cn.head_container(b)["x-container-object-count"] == "0"
    # another account sees none of it
    ocn = conn(sw, f"{OTHER}:admin", OTHER_KEY)
    with pytest.raises(ClientException) as e:
        ocn.get_object(c, "from-s3")
    assert e.value.http_status in (403, 404)
    assert c not in [x["name"] for x in ocn.get_account()[1]]
    # the other account may have a container of that name: its own, empty (names are per account)
    ocn.put_container(c)
    assert ocn.get_container(c)[1] == [] and cn.get_object(c, "from-s3")[1] == b"hello s3"
    ocn.delete_container(c)


# ---------------------------------------------------------------- ACLs


def test_acls(sw):
    cn = conn(sw)
    c = uniq("acl")
    cn.put_container(c)
    cn.put_object(c, "pub", b"public bytes")
    anon = f"{path(sw)}/{c}/pub"
    assert http_request(sw.port(), "GET", anon)[0] == 401
    reader = conn(sw, f"{ACCOUNT}:reader", READER_KEY)
    with pytest.raises(ClientException) as e:
        reader.get_object(c, "pub")
    assert e.value.http_status == 403
    cn.post_container(c, {"X-Container-Read": ".r:*"})
    st, _, body = http_request(sw.port(), "GET", anon)
    assert st == 200 and body == b"public bytes"
    assert http_request(sw.port(), "GET", f"{path(sw)}/{c}")[0] == 401  # no .rlistings
    cn.post_container(c, {"X-Container-Read": ".r:*,.rlistings"})
    st, _, body = http_request(sw.port(), "GET", f"{path(sw)}/{c}")
    assert st == 200 and body == b"pub\n"
    assert http_request(sw.port(), "PUT", f"{path(sw)}/{c}/x", body=b"x")[0] == 401
    # account:user grants
    cn.post_container(c, {"X-Container-Read": f"{ACCOUNT}:reader", "X-Container-Write": f"{OTHER}:admin"})
    assert reader.get_object(c, "pub")[1] == b"public bytes"
    otok, _ = token(sw, f"{OTHER}:admin", OTHER_KEY)
    st, _, _ = http_request(sw.port(), "PUT", f"{path(sw)}/{c}/w", {"X-Auth-Token": otok}, b"written")
    assert st == 201
    st, _, _ = http_request(sw.port(), "GET", f"{path(sw)}/{c}/w", {"X-Auth-Token": otok})
    assert st == 403
    # the owner sees the ACLs, a reader does not
    assert cn.head_container(c)["x-container-read"] == f"{ACCOUNT}:reader"


# ---------------------------------------------------------------- quotas and usage


def test_usage_exact(sw):
    cn = conn(sw)
    c = uniq("usage")
    cn.put_container(c)
    cn.put_object(c, "a", b"x" * 100)
    cn.put_object(c, "b", b"x" * 50)
    cn.put_object(c, "a", b"x" * 10)  # overwrite
    h = cn.head_container(c)
    assert (h["x-container-object-count"], h["x-container-bytes-used"]) == ("2", "60")
    cn.delete_object(c, "b")
    h = cn.head_container(c)
    assert (h["x-container-object-count"], h["x-container-bytes-used"]) == ("1", "10")


def test_container_quotas(sw, s3):
    cn = conn(sw)
    c = uniq("quota")
    cn.put_container(c, {"X-Container-Meta-Quota-Bytes": "100", "X-Container-Meta-Quota-Count": "2"})
    cn.put_object(c, "a", b"x" * 60)
    with pytest.raises(ClientException) as e:
        cn.put_object(c, "b", b"x" * 50)
    assert e.value.http_status == 413
    with pytest.raises(ClientException) as e:  # chunked: checked after the body, nothing stored
        cn.put_object(c, "b", iter([b"x" * 25, b"x" * 25]))
    assert e.value.http_status == 413
    assert [o["name"] for o in cn.get_container(c)[1]] == ["a"]
    cn.put_object(c, "b", b"x" * 40)
    with pytest.raises(ClientException) as e:
        cn.put_object(c, "c", b"")
    assert e.value.http_status == 413  # count
    tok, _ = token(sw)
    st, _, _ = http_request(sw.port(), "POST", f"{path(sw)}/{c}",
                            {"X-Auth-Token": tok, "X-Container-Meta-Quota-Bytes": "lots"})
    assert st == 400
    cn.delete_object(c, "b")
    cn.put_object(c, "c", b"x" * 40)


def test_account_quota(sw):
    acct = "acct-quota"
    sw.admin("swift-user-add", "--account", acct, "--user", "admin", "--key", "qk", "--admin")
    cn = conn(sw, f"{acct}:admin", "qk")
    tok, url = token(sw, f"{acct}:admin", "qk")
    p = f"/v1/AUTH_{acct}"
    # only a reseller admin sets the account quota
    st, _, _ = http_request(sw.port(), "POST", p, {"X-Auth-Token": tok, "X-Account-Meta-Quota-Bytes": "10"})
    assert st == 403
    rtok, _ = token(sw, "reseller:root", RESELLER_KEY)
    st, _, _ = http_request(sw.port(), "POST", p, {"X-Auth-Token": rtok, "X-Account-Meta-Quota-Bytes": "100"})
    assert st == 204
    assert cn.head_account()["x-account-meta-quota-bytes"] == "100"
    c = uniq("aq")
    cn.put_container(c)
    cn.put_object(c, "a", b"x" * 90)
    with pytest.raises(ClientException) as e:
        cn.put_object(c, "b", b"x" * 20)
    assert e.value.http_status == 413
    h = cn.head_account()
    assert (h["x-account-container-count"], h["x-account-object-count"], h["x-account-bytes-used"]) == \
        ("1", "1", "90")


# ---------------------------------------------------------------- expiry


def test_expiring_objects(sw):
    cn = conn(sw)
    c = uniq("exp")
    cn.put_container(c)
    cn.put_object(c, "soon", b"bye", headers={"X-Delete-After": "1"})
    cn.put_object(c, "later", b"stay", headers={"X-Delete-At": str(int(time.time()) + 3600)})
    assert "x-delete-at" in cn.head_object(c, "soon")
    time.sleep(2.2)
    with pytest.raises(ClientException) as e:
        cn.get_object(c, "soon")
    assert e.value.http_status == 404
    assert [o["name"] for o in cn.get_container(c)[1]] == ["later"]
    assert cn.head_container(c)["x-container-object-count"] == "1"
    cn.put_object(c, "soon2", b"bye", headers={"X-Delete-After": "1"})
    time.sleep(2.2)
    out = sw.admin("expire").stdout
    assert f"{c}/soon2" in out
    cn.delete_object(c, "later")
    cn.delete_container(c)  # empty once expired objects are gone


# ---------------------------------------------------------------- admin commands


def test_admin_accounts_and_users(sw):
    sw.admin("account-add", "acct-adm", "--quota-bytes", "12345")
    assert "acct-adm x-account-meta-quota-bytes=12345" in sw.admin("account-list").stdout
    sw.admin("account-add", "acct-adm", "--quota-bytes", "")
    assert "quota" not in [l for l in sw.admin("account-list").stdout.splitlines() if l.startswith("acct-adm")][0]
    sw.admin("swift-user-add", "--account", "acct-adm", "--user", "tmp", "--key", "k")
    assert "acct-adm:tmp" in sw.admin("swift-user-list").stdout.split()
    token(sw, "acct-adm:tmp", "k")
    sw.admin("swift-user-delete", "acct-adm:tmp")
    st, _, _ = http_request(sw.port(), "GET", "/auth/v1.0", {"X-Auth-User": "acct-adm:tmp", "X-Auth-Key": "k"})
    assert st == 401
    # an S3 key pair of the same account sees the account's containers; deleting it revokes it
    sw.admin("user-add", "--access-key", "adm-s3", "--secret", "adm-secret", "--account", "acct-adm")
    sw.admin("swift-user-add", "--account", "acct-adm", "--user", "boss", "--key", "bk", "--admin")
    c = uniq("adm")
    conn(sw, "acct-adm:boss", "bk").put_container(c)
    s3 = sw.client(access="adm-s3", secret="adm-secret")
    assert c in [b["Name"] for b in s3.list_buckets()["Buckets"]]
    sw.admin("user-delete", "adm-s3")
    r = sw.admin("user-list").stdout
    assert "adm-s3" not in r
    assert sw.admin("swift-user-add", "--account", "bad:name", "--user", "u", "--key", "k", check=False).returncode != 0


def test_token_key_race_converges(own_cluster):
    """Two gateways creating the token key at once each write one and last-writer-wins keeps one on
    every replica; the loser used to keep its own key cached forever, so tokens from one gateway
    failed on the other until a restart. Replayed deterministically on a fresh cluster: gateway gw
    makes the key, then the racing creator's later write lands on every replica (written straight
    to the nodes, as its gateway would), and gw2 starts and reads that one. gw must converge on it."""
    import struct

    c = own_cluster
    acct, key = "acct-keyrace", "keyrace-secret"
    c.admin("account-add", acct)
    c.admin("swift-user-add", "--account", acct, "--user", "admin", "--key", key, "--admin")
    hdrs = {"X-Auth-User": f"{acct}:admin", "X-Auth-Key": key}

    def auth(gw):
        st, h, _ = http_request(c.port(gw), "GET", "/auth/v1.0", hdrs)
        assert st == 200, st
        return h["x-auth-token"]

    def head(gw, tok):
        return http_request(c.port(gw), "HEAD", f"/v1/AUTH_{acct}", {"X-Auth-Token": tok})[0]

    tok1 = auth("gw")
    assert head("gw", tok1) == 204
    rec = struct.pack(">BBQQQI", 2, 0, time.time_ns() + 10**9, 1, 0, 33) + b"\x01" + os.urandom(32)
    rec += struct.pack(">I", 0)
    for i in range(1, len(c.node_ports) + 1):
        st, _, _ = c.node_request(i, "PUT", f"/d{i}/rec/cluster/swift-token-key", {}, rec)
        assert st in (200, 201), st
    c.start_gateway("gw2")
    tok2 = auth("gw2")
    assert head("gw2", tok2) == 204
    deadline = time.monotonic() + 5
    while head("gw", tok2) != 204:
        assert time.monotonic() < deadline, "gw still rejects gw2's tokens"
        time.sleep(0.1)
    assert head("gw2", auth("gw")) == 204
    # A token signed with the losing key fails everywhere now (clients authenticate again).
    assert head("gw", tok1) == 401 and head("gw2", tok1) == 401
