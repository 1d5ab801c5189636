"""Per-account container names (docs/architecture.md, "Namespaces"): two Swift accounts each own a
container of the same name with their own objects, listings, counts, ACLs and large objects;
S3 resolves a bucket name in the caller's account first (then the global S3 name), and
`account:bucket` in a path names any account's bucket; S3 names stay global claims for
CreateBucket; containers written by the previous build (one global namespace) read after the
upgrade; garbage collection keeps every object of both."""

import hashlib
import time
import json
import os
import re
import urllib.parse

import pytest
import swiftclient.client as sc
from swiftclient.exceptions import ClientException

from conftest import (ACCESS, ACCESS2, ACCOUNT, ACCOUNT2, SECRET, SECRET2, err_code, http_request, signed_request,
                      uniq, xml_code)

A, B = ACCOUNT, ACCOUNT2  # the S3 key pairs ACCESS / ACCESS2 belong to these accounts
A_KEY, B_KEY = "ns-a-key", "ns-b-key"
# The bin directory of a build of the commit before namespaces (`git archive <commit> | tar -x -C
# DIR && make -C DIR gateway`); the upgrade test is skipped without it. A claimed container's record
# and tables are still written in the old layout, so every other test here reads that layout too.
OLD_BIN = os.environ.get("ONGGI_OLD_BIN", "")


def setup_users(cluster):
    for acct, key in ((A, A_KEY), (B, B_KEY)):
        cluster.admin("swift-user-add", "--account", acct, "--user", "nsadmin", "--key", key, "--admin")


def conn(cluster, acct, key, gw="gw"):
    return sc.Connection(authurl=f"{cluster.endpoint(gw)}/auth/v1.0", user=f"{acct}:nsadmin", key=key,
                         auth_version="1", retries=0)


def body_of(acct, name, size=None):
    """Distinct bytes per account and object; large ones span several chunks."""
    seed = hashlib.sha256(f"{acct}/{name}".encode()).digest()
    n = size or 100 + len(name)
    return (seed * (n // len(seed) + 1))[:n]


@pytest.fixture(scope="module")
def ns(own_cluster):
    setup_users(own_cluster)
    return own_cluster


def test_same_container_name_in_two_accounts(ns):
    a, b = conn(ns, A, A_KEY), conn(ns, B, B_KEY)
    c = uniq("backups")
    a.put_container(c)
    b.put_container(c)  # Swift: every account has its own namespace (was 409)
    for acct, cn, names in ((A, a, ("a1", "shared")), (B, b, ("b1", "b2", "shared"))):
        for name in names:
            cn.put_object(c, name, body_of(acct, name))
    assert [o["name"] for o in a.get_container(c)[1]] == ["a1", "shared"]
    assert [o["name"] for o in b.get_container(c)[1]] == ["b1", "b2", "shared"]
    assert a.get_object(c, "shared")[1] == body_of(A, "shared")
    assert b.get_object(c, "shared")[1] == body_of(B, "shared")
    with pytest.raises(ClientException) as e:
        a.get_object(c, "b1")
    assert e.value.http_status == 404
    assert a.head_container(c)["x-container-object-count"] == "2"
    assert b.head_container(c)["x-container-object-count"] == "3"
    # both account listings show their own container with their own counts
    for cn, count in ((a, 2), (b, 3)):
        listed = {x["name"]: x for x in cn.get_account(full_listing=True)[1]}
        assert listed[c]["count"] == count
    # metadata and ACLs are per container
    b.post_container(c, {"X-Container-Meta-Owner": "b"})
    assert "x-container-meta-owner" not in a.head_container(c)
    # deleting B's container leaves A's untouched
    for name in ("b1", "b2", "shared"):
        b.delete_object(c, name)
    b.delete_container(c)
    with pytest.raises(ClientException) as e:
        b.head_container(c)
    assert e.value.http_status == 404
    assert a.get_object(c, "a1")[1] == body_of(A, "a1")
    assert c in [x["name"] for x in a.get_account(full_listing=True)[1]]
    assert c not in [x["name"] for x in b.get_account(full_listing=True)[1]]
    # re-created, B's container starts empty
    b.put_container(c)
    assert b.get_container(c)[1] == []


def test_swift_container_named_like_other_accounts_s3_bucket(ns):
    s3a = ns.client(access=ACCESS, secret=SECRET)
    s3b = ns.client(access=ACCESS2, secret=SECRET2)
    name = uniq("s3name")
    s3a.create_bucket(Bucket=name)
    s3a.put_object(Bucket=name, Key="k", Body=b"from A over S3")
    # S3 names are global claims: B's S3 CreateBucket of A's name is refused
    with pytest.raises(Exception) as e:
        s3b.create_bucket(Bucket=name)
    assert err_code(e.value) == "BucketAlreadyExists"
    # a Swift container of that name in B works within B, large objects and copies included
    b = conn(ns, B, B_KEY)
    b.put_container(name)
    seg = body_of(B, "seg", 70000)
    b.put_object(name, "seg1", seg)
    b.put_object(name, "seg2", seg[::-1])
    manifest = [{"path": f"/{name}/seg1"}, {"path": f"/{name}/seg2"}]
    b.put_object(name, "slo", json.dumps(manifest), query_string="multipart-manifest=put")
    assert b.get_object(name, "slo")[1] == seg + seg[::-1]
    b.put_object(name, "dlo", b"", headers={"X-Object-Manifest": f"{name}/seg"})
    assert b.get_object(name, "dlo")[1] == seg + seg[::-1]
    b.copy_object(name, "seg1", f"/{name}/copy")
    assert b.get_object(name, "copy")[1] == seg
    # A's S3 bucket is untouched, and A's Swift view of it is A's
    assert s3a.get_object(Bucket=name, Key="k")["Body"].read() == b"from A over S3"
    assert [o["Key"] for o in s3a.list_objects_v2(Bucket=name)["Contents"]] == ["k"]
    assert [o["name"] for o in conn(ns, A, A_KEY).get_container(name)[1]] == ["k"]
    # B's S3 user resolves the name in B's own account first: B's container, where A's key is not
    with pytest.raises(Exception) as e:
        s3b.get_object(Bucket=name, Key="k")
    assert err_code(e.value) == "NoSuchKey"
    assert s3b.get_object(Bucket=name, Key="seg1")["Body"].read() == seg


def test_anonymous_read_of_public_same_named_container(ns):
    a, b = conn(ns, A, A_KEY), conn(ns, B, B_KEY)
    c = uniq("public")
    a.put_container(c)
    a.put_object(c, "o", b"A private")
    b.put_container(c, headers={"X-Container-Read": ".r:*"})
    b.put_object(c, "o", b"B public")
    st, _, body = http_request(ns.port(), "GET", f"/v1/AUTH_{B}/{c}/o")
    assert (st, body) == (200, b"B public")
    st, _, _ = http_request(ns.port(), "GET", f"/v1/AUTH_{A}/{c}/o")
    assert st == 401


def test_gc_keeps_both_accounts_objects(ns):
    a, b = conn(ns, A, A_KEY), conn(ns, B, B_KEY)
    c = uniq("gcbak")
    want = {}
    for acct, cn in ((A, a), (B, b)):
        cn.put_container(c)
        for name, size in (("small", 300), ("big", 3 * 1024 * 1024 + 17)):
            data = body_of(acct, name, size)
            cn.put_object(c, name, data)
            want[(acct, name)] = data
    r = ns.admin("gc", "--grace", "0")
    assert r.returncode == 0, r.stderr
    for acct, cn in ((A, a), (B, b)):
        for name in ("small", "big"):
            assert cn.get_object(c, name)[1] == want[(acct, name)], (acct, name)


@pytest.mark.skipif(not OLD_BIN, reason="ONGGI_OLD_BIN (a build of the commit before namespaces) not set")
def test_upgrade_reads_old_layout(ns):
    """Containers and objects written by the previous gateway (global names) read through the new
    one; a second account can then use the same name."""
    old_args = [os.path.join(OLD_BIN, "onggi-gateway"), "--ring", ns.ring, "--listen"]
    from conftest import free_ports
    port = free_ports(1)[0]
    ns._start("gw-old", old_args + [f"127.0.0.1:{port}"])
    ns.gw_ports["gw-old"] = port
    ns._wait_http("gw-old", port, "/")
    old = conn(ns, A, A_KEY, gw="gw-old")
    c = uniq("oldlayout")
    old.put_container(c, headers={"X-Container-Meta-Era": "old"})
    data = {n: body_of(A, n, s) for n, s in (("x", 50), ("y", 2 * 1024 * 1024 + 3))}
    for n, d in data.items():
        old.put_object(c, n, d)
    ns.stop("gw-old")
    a, b = conn(ns, A, A_KEY), conn(ns, B, B_KEY)
    assert a.head_container(c)["x-container-meta-era"] == "old"
    for n, d in data.items():
        assert a.get_object(c, n)[1] == d
    assert c in [x["name"] for x in a.get_account(full_listing=True)[1]]
    b.put_container(c)
    b.put_object(c, "x", b"B's x")
    assert a.get_object(c, "x")[1] == data["x"] and b.get_object(c, "x")[1] == b"B's x"
    ns.admin("gc", "--grace", "0")
    for n, d in data.items():
        assert a.get_object(c, n)[1] == d


def test_account_listing_pages_through_both_tables(ns):
    """An account's containers are its records of the global table and of its own table (names
    another account holds): listings page through both in name order, with markers, prefixes
    and limits, and the HEAD count covers both."""
    a, b = conn(ns, A, A_KEY), conn(ns, B, B_KEY)
    p = uniq("pg") + "-"
    held = [p + n for n in ("b", "d", "e", "h")]      # A holds these names: B's are in its own table
    free = [p + n for n in ("a", "c", "f", "g", "i")]  # B holds these
    for name in held:
        a.put_container(name)
    for name in held + free:
        b.put_container(name)
    b.put_object(p + "d", "o", b"in B's d")
    want = sorted(held + free)
    got = [x["name"] for x in b.get_account(prefix=p, full_listing=True)[1]]
    assert got == want
    for limit in (1, 2, 3):
        names, marker = [], ""
        for _ in range(20):
            page = [x["name"] for x in b.get_account(prefix=p, limit=limit, marker=marker)[1]]
            if not page:
                break
            assert len(page) <= limit
            names += page
            marker = page[-1]
        assert names == want, (limit, names)
    listed = {x["name"]: x for x in b.get_account(prefix=p, full_listing=True)[1]}
    assert listed[p + "d"]["count"] == 1 and listed[p + "d"]["bytes"] == len(b"in B's d")
    _, tok = b.get_auth()
    st, _, body = http_request(ns.port(), "GET", f"/v1/AUTH_{B}?prefix={p}&reverse=on&format=json",
                               {"X-Auth-Token": tok})
    assert st == 200 and [x["name"] for x in json.loads(body)] == want[::-1]
    assert [x["name"] for x in a.get_account(prefix=p, full_listing=True)[1]] == sorted(held)
    n_before = int(b.head_account()["x-account-container-count"])
    b.delete_object(p + "d", "o")
    b.delete_container(p + "d")
    assert int(b.head_account()["x-account-container-count"]) == n_before - 1


def test_expire_reaches_both_accounts_containers(ns):
    """`onggi-admin expire` walks every account's own table too: an expired object of B's
    container named like A's is reclaimed (its usage drops) without being read."""
    a, b = conn(ns, A, A_KEY), conn(ns, B, B_KEY)
    c = uniq("exp")
    a.put_container(c)
    b.put_container(c)
    a.put_object(c, "keep", b"A keeps")
    b.put_object(c, "soon", b"B's short-lived", headers={"X-Delete-At": str(int(time.time()) + 1)})
    b.put_object(c, "keep", b"B keeps")
    assert b.head_container(c)["x-container-bytes-used"] == str(len(b"B's short-lived") + len(b"B keeps"))
    for _ in range(30):  # the expiry time is whole seconds: wait until it has passed (bounded)
        if int(time.time()) > int(b.head_object(c, "keep")["x-timestamp"].split(".")[0]) + 1:
            break
        time.sleep(0.2)
    out = ns.admin("expire").stdout
    assert "/soon" in out and "1 expired object(s)" in out, out
    assert b.head_container(c)["x-container-bytes-used"] == str(len(b"B keeps"))
    assert a.get_object(c, "keep")[1] == b"A keeps" and b.get_object(c, "keep")[1] == b"B keeps"


def s3_keys(client, bucket):
    return [o["Key"] for o in client.list_objects_v2(Bucket=bucket).get("Contents", [])]


def same_name_in_both(ns, prefix, a_obj, b_obj):
    """A container of a new name in A (which then holds the name) and in B (its own table), each
    with one object: (a, b, s3a, s3b, name), Swift and S3 connections of both accounts."""
    a, b = conn(ns, A, A_KEY), conn(ns, B, B_KEY)
    name = uniq(prefix)
    for cn, (key, data) in ((a, a_obj), (b, b_obj)):
        cn.put_container(name)
        cn.put_object(name, key, data)
    return a, b, ns.client(access=ACCESS, secret=SECRET), ns.client(access=ACCESS2, secret=SECRET2), name


def test_s3_resolves_in_own_account_first(ns):
    """Two accounts each have a Swift container `backups`, B's in its own table (A holds the name):
    B's S3 user lists, puts, gets, copies and uploads in parts in B's, sees B's objects only, and
    both APIs are one namespace within B; A's S3 user still sees A's."""
    a, b, s3a, s3b, name = same_name_in_both(ns, "backups", ("a-only", b"A's object"),
                                             ("b-swift", body_of(B, "b-swift")))
    assert s3_keys(s3b, name) == ["b-swift"]
    s3b.head_bucket(Bucket=name)
    s3b.put_object(Bucket=name, Key="b-s3", Body=b"B over S3")
    assert s3b.get_object(Bucket=name, Key="b-swift")["Body"].read() == body_of(B, "b-swift")
    with pytest.raises(Exception) as e:
        s3b.get_object(Bucket=name, Key="a-only")
    assert err_code(e.value) == "NoSuchKey"
    s3b.copy_object(Bucket=name, Key="b-copy", CopySource={"Bucket": name, "Key": "b-swift"})
    assert s3b.get_object(Bucket=name, Key="b-copy")["Body"].read() == body_of(B, "b-swift")
    # a multipart upload with a copied part, all in B's container
    big = body_of(B, "part1", 5 * 1024 * 1024)
    up = s3b.create_multipart_upload(Bucket=name, Key="b-mp")["UploadId"]
    assert [u["Key"] for u in s3b.list_multipart_uploads(Bucket=name).get("Uploads", [])] == ["b-mp"]
    e1 = s3b.upload_part(Bucket=name, Key="b-mp", UploadId=up, PartNumber=1, Body=big)["ETag"]
    e2 = s3b.upload_part_copy(Bucket=name, Key="b-mp", UploadId=up, PartNumber=2,
                              CopySource={"Bucket": name, "Key": "b-swift"})["CopyPartResult"]["ETag"]
    s3b.complete_multipart_upload(Bucket=name, Key="b-mp", UploadId=up, MultipartUpload={
        "Parts": [{"PartNumber": 1, "ETag": e1}, {"PartNumber": 2, "ETag": e2}]})
    assert s3b.get_object(Bucket=name, Key="b-mp")["Body"].read() == big + body_of(B, "b-swift")
    assert s3_keys(s3b, name) == ["b-copy", "b-mp", "b-s3", "b-swift"]
    # one namespace within B: Swift sees what S3 wrote; A's container is untouched, both ways
    assert [o["name"] for o in b.get_container(name)[1]] == ["b-copy", "b-mp", "b-s3", "b-swift"]
    assert b.get_object(name, "b-s3")[1] == b"B over S3"
    assert [o["name"] for o in a.get_container(name)[1]] == ["a-only"]
    assert s3_keys(s3a, name) == ["a-only"]
    assert s3a.get_object(Bucket=name, Key="a-only")["Body"].read() == b"A's object"
    # ListBuckets of each account shows its own `backups` (B's from its own table)
    for cl in (s3a, s3b):
        assert name in [x["Name"] for x in cl.list_buckets()["Buckets"]]
    # pages of one bucket run through both of B's tables in name order
    s3b.create_bucket(Bucket=f"{name}-b")
    got, token = [], ""
    for _ in range(5):
        st, _, body = signed_request(ns.port(), "GET", "/", f"max-buckets=1&prefix={name}" + token,
                                     access=ACCESS2, secret=SECRET2)
        assert st == 200, body
        got += re.findall(r"<Name>([^<]*)</Name>", body.decode())
        tok = re.search(r"<ContinuationToken>([^<]*)</ContinuationToken>", body.decode())
        if tok is None:
            break
        token = "&continuation-token=" + urllib.parse.quote(tok.group(1), safe="")
    assert got == [name, f"{name}-b"]
    s3b.delete_bucket(Bucket=f"{name}-b")
    # the aws CLI, as B
    out = ns.aws("s3", "ls", f"s3://{name}/", access=ACCESS2, secret=SECRET2).stdout
    assert "b-swift" in out and "a-only" not in out, out
    # CreateBucket of a name B has as its own container: already B's (us-east-1 answers 200)
    s3b.create_bucket(Bucket=name)
    assert s3_keys(s3b, name) == ["b-copy", "b-mp", "b-s3", "b-swift"]
    # Versioning cannot apply to a bucket of B's own table yet: refused, not ignored
    with pytest.raises(Exception) as e:
        s3b.put_bucket_versioning(Bucket=name, VersioningConfiguration={"Status": "Enabled"})
    assert err_code(e.value) == "NotImplemented"
    assert "Status" not in s3b.get_bucket_versioning(Bucket=name)
    # DeleteBucket over S3 removes B's container, not A's
    for k in ("b-copy", "b-mp", "b-s3", "b-swift"):
        s3b.delete_object(Bucket=name, Key=k)
    s3b.delete_bucket(Bucket=name)
    with pytest.raises(ClientException) as e:
        b.head_container(name)
    assert e.value.http_status == 404
    assert a.get_object(name, "a-only")[1] == b"A's object"
    # with no bucket of its own left, B's S3 name reaches A's bucket again: A's to allow
    with pytest.raises(Exception) as e:
        s3b.list_objects_v2(Bucket=name)
    assert err_code(e.value) == "AccessDenied"


def test_account_bucket_path_form(ns):
    """`/<account>:<bucket>/key` (RGW's tenant syntax) names that account's bucket for any caller;
    its ACL decides as for any bucket. CopySource takes the same form."""
    _, b, s3a, s3b, name = same_name_in_both(ns, "tenant", ("k", b"A's k"), ("k", b"B's k"))
    port = ns.port()
    # (signed requests percent-encode the ':' as SigV4 clients do; unsigned ones send it as is)
    # B's user, by the path form, in B's (and in A's: denied)
    st, _, body = signed_request(port, "GET", f"/{B}%3A{name}/k", access=ACCESS2, secret=SECRET2)
    assert (st, body) == (200, b"B's k")
    st, _, body = signed_request(port, "GET", f"/{A}%3A{name}/k", access=ACCESS2, secret=SECRET2)
    assert (st, xml_code(body)) == (403, "AccessDenied")
    # A's user reaches B's bucket only through the path form, and B's ACL denies it
    st, _, body = signed_request(port, "GET", f"/{A}%3A{name}/k")
    assert (st, body) == (200, b"A's k")
    st, _, body = signed_request(port, "GET", f"/{B}%3A{name}/k")
    assert (st, xml_code(body)) == (403, "AccessDenied")
    st, _, body = http_request(port, "GET", f"/{B}:{name}/k")
    assert (st, xml_code(body)) == (403, "AccessDenied")
    # B makes its bucket and object public-read: anonymous and A's user read them through the path form
    s3b.put_bucket_acl(Bucket=name, ACL="public-read")
    s3b.put_object_acl(Bucket=name, Key="k", ACL="public-read")
    st, _, body = http_request(port, "GET", f"/{B}:{name}/k")
    assert (st, body) == (200, b"B's k")
    st, _, body = http_request(port, "GET", f"/{B}:{name}?list-type=2")
    assert st == 200 and b"<Key>k</Key>" in body
    st, _, body = signed_request(port, "GET", f"/{B}%3A{name}/k")
    assert (st, body) == (200, b"B's k")
    # the bare name stays A's for A and anonymous callers (the global S3 name)
    st, _, body = http_request(port, "GET", f"/{name}/k")
    assert (st, xml_code(body)) == (403, "AccessDenied")
    # CopySource "account:bucket/key": A copies B's public object into A's bucket
    s3a.copy_object(Bucket=name, Key="from-b", CopySource=f"{B}:{name}/k")
    assert s3a.get_object(Bucket=name, Key="from-b")["Body"].read() == b"B's k"
    # and B copies A's private object: denied
    with pytest.raises(Exception) as e:
        s3b.copy_object(Bucket=name, Key="from-a", CopySource=f"{A}:{name}/k")
    assert err_code(e.value) == "AccessDenied"
    # writes through the path form follow the ACL too: public-read grants no write
    st, _, body = signed_request(port, "PUT", f"/{B}%3A{name}/w", body=b"x")
    assert (st, xml_code(body)) == (403, "AccessDenied")
    st, _, _ = signed_request(port, "PUT", f"/{B}%3A{name}/w", body=b"B writes", access=ACCESS2, secret=SECRET2)
    assert st == 200 and b.get_object(name, "w")[1] == b"B writes"
    # a virtual-host name is the global S3 name whoever signs (a host name carries no account)
    vhost = f"{name}.localhost:{port}"
    st, _, body = signed_request(port, "GET", "/k", host=vhost, access=ACCESS2, secret=SECRET2)
    assert (st, xml_code(body)) == (403, "AccessDenied")
    st, _, body = signed_request(port, "GET", "/k", host=vhost)
    assert (st, body) == (200, b"A's k")
    # ":bucket" (RGW's empty tenant) names the global S3 name, as anonymous requests see it
    st, _, body = signed_request(port, "GET", f"/%3A{name}/k", access=ACCESS2, secret=SECRET2)
    assert (st, xml_code(body)) == (403, "AccessDenied")
    st, _, body = signed_request(port, "GET", f"/%3A{name}/k")
    assert (st, body) == (200, b"A's k")
    # a bucket that does not exist in that account
    st, _, body = signed_request(port, "GET", f"/{B}%3A{name}-none/k", access=ACCESS2, secret=SECRET2)
    assert (st, xml_code(body)) == (404, "NoSuchBucket")
    # CreateBucket in another account's namespace is refused
    st, _, body = signed_request(port, "PUT", f"/{A}%3A{name}-new", access=ACCESS2, secret=SECRET2)
    assert (st, xml_code(body)) == (403, "AccessDenied")
