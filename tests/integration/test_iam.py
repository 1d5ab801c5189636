"""Identity: secrets at rest (no S3 secret or Swift key in plain text in any node file), migration
of records written in the old plain-text form, revocation of deleted / demoted / re-keyed users'
keys and tokens within the users-cache bound (2 s, docs/operations.md), and Swift referrer ACLs.
Real processes and clients: onggi-admin, boto3, python-swiftclient, curl. The authorization
matrix is in test_authz_matrix.py."""

import os
import struct
import subprocess
import time
import urllib.parse

import botocore.exceptions
import pytest
import swiftclient.client as sc
from swiftclient.exceptions import ClientException

from conftest import ACCOUNT, http_request, uniq

REVOKE_BOUND_S = 2.0  # IAM_CACHE_TTL_MS (gateway/iam/iam.h)
POLL_LIMIT_S = REVOKE_BOUND_S + 10.0  # generous: the bound is checked by refusal, not by timing


@pytest.fixture(scope="module")
def c(own_cluster):
    return own_cluster


def swift_auth(c, user, key):
    st, h, _ = http_request(c.port(), "GET", "/auth/v1.0", {"X-Auth-User": user, "X-Auth-Key": key})
    assert st == 200, st
    return h["x-auth-token"], h["x-storage-url"]


def node_files(c):
    for i in range(1, len(c.node_ports) + 1):
        for root, _, files in os.walk(os.path.join(c.root, f"node{i}")):
            for f in files:
                yield os.path.join(root, f)


def files_holding(c, needle):
    """Every file of every node's data directory whose bytes contain needle (what `grep -a` or
    `strings | grep` would find, and more: no minimum run length)."""
    hits = []
    for path in node_files(c):
        with open(path, "rb") as f:
            if needle in f.read():
                hits.append(path)
    return hits


def poll_until(fn, what):
    """Calls fn() until it returns True, for at most POLL_LIMIT_S (bounded in count and time)."""
    deadline = time.monotonic() + POLL_LIMIT_S
    for _ in range(int(POLL_LIMIT_S / 0.2) + 1):
        if fn():
            return
        if time.monotonic() > deadline:
            break
        time.sleep(0.2)
    raise AssertionError(f"{what}: still accepted {POLL_LIMIT_S}s after the admin command")


# ---------------------------------------------------------------- secrets at rest


def test_no_plaintext_secrets_on_disk(c):
    s3_secret, swift_key = "S3SECRETcanary7f3a9b1e", "SWIFTKEYcanary5c2d8e4f"
    visible = "DISPLAYcanary0a1b2c3d"  # stored in plain text on purpose: proves the scan sees records
    c.admin("user-add", "--access-key", "canaryak", "--secret", s3_secret, "--account", "acct-canary",
            "--display-name", visible)
    c.admin("swift-user-add", "--account", "acct-canary", "--user", "u", "--key", swift_key, "--admin")
    # Both work (so they are really stored), and the Swift auth makes the token key record.
    s3 = c.client("canaryak", s3_secret)
    s3.create_bucket(Bucket="canary-bucket")
    tok, url = swift_auth(c, "acct-canary:u", swift_key)
    assert http_request(c.port(), "HEAD", urllib.parse.urlsplit(url).path, {"X-Auth-Token": tok})[0] == 204
    # Running nodes: WAL and memtable flushes. Then stopped ones: whatever RocksDB flushed on close.
    for phase in ("running", "stopped"):
        if phase == "stopped":
            for i in range(1, len(c.node_ports) + 1):
                c.stop(f"node{i}")
        assert files_holding(c, visible.encode()), f"{phase}: the scan does not see record bytes"
        assert files_holding(c, s3_secret.encode()) == [], f"{phase}: S3 secret in plain text"
        assert files_holding(c, swift_key.encode()) == [], f"{phase}: Swift key in plain text"
    for i in range(1, len(c.node_ports) + 1):
        c.start_node(i)
    assert c.client("canaryak", s3_secret).head_bucket(Bucket="canary-bucket")["ResponseMetadata"][
        "HTTPStatusCode"] == 200


def plant_record(c, table, key, summary):
    """Writes a record straight to every node, as a cluster from before sealed secrets held it."""
    rec = struct.pack(">BBQQQI", 2, 0, time.time_ns(), 1, 0, len(summary)) + summary + struct.pack(">I", 0)
    for i in range(1, len(c.node_ports) + 1):
        st, _, _ = c.node_request(i, "PUT", f"/d{i}/rec/{table}/{urllib.parse.quote(key, safe='')}", {}, rec)
        assert st in (200, 201), st


def stored_record(c, table, key):
    st, _, body = c.node_request(1, "GET", f"/d1/rec/{table}/{urllib.parse.quote(key, safe='')}")
    assert st == 200, st
    return body


def field(s):
    return struct.pack(">H", len(s)) + s


def test_plaintext_records_migrated(c):
    """Version-1 records (plain S3 secret, plain Swift key) keep working and are rewritten: on
    first use, and by `onggi-admin migrate-secrets` for the ones nobody used."""
    plant_record(c, "users", "legacyak", field(b"LEGACYsecret-1") + field(b"acct-legacy") + field(b"Legacy"))
    plant_record(c, "users", "legacyak2", field(b"LEGACYsecret-2") + field(b"acct-legacy") + field(b"Legacy"))
    plant_record(c, "swift_users", "acct-legacy:u", b"\x01\x01" + field(b"LEGACYswift-1"))
    plant_record(c, "swift_users", "acct-legacy:v", b"\x01\x00" + field(b"LEGACYswift-2"))
    assert b"LEGACYsecret-2" in stored_record(c, "users", "legacyak2")  # what an old cluster holds
    s3 = c.client("legacyak", "LEGACYsecret-1")
    s3.create_bucket(Bucket="legacy-bucket")
    assert b"LEGACYsecret-1" not in stored_record(c, "users", "legacyak")
    tok, _ = swift_auth(c, "acct-legacy:u", "LEGACYswift-1")
    assert b"LEGACYswift-1" not in stored_record(c, "swift_users", "acct-legacy:u")
    out = c.admin("migrate-secrets").stdout
    assert "s3 keys: 1 resealed" in out and "swift users: 1 hashed" in out and "0 failed" in out, out
    assert b"LEGACYsecret-2" not in stored_record(c, "users", "legacyak2")
    assert b"LEGACYswift-2" not in stored_record(c, "swift_users", "acct-legacy:v")
    # Still the same credentials, and idempotent.
    assert c.client("legacyak2", "LEGACYsecret-2").list_buckets()["ResponseMetadata"]["HTTPStatusCode"] == 200
    swift_auth(c, "acct-legacy:v", "LEGACYswift-2")
    out = c.admin("migrate-secrets").stdout
    assert "0 resealed" in out and "0 hashed" in out and "token key: current" in out, out


# ---------------------------------------------------------------- revocation


def s3_refused(client, code):
    try:
        client.list_buckets()
    except botocore.exceptions.ClientError as e:
        assert e.response["Error"]["Code"] == code, e.response
        return True
    return False


def test_deleted_s3_key_refused(c):
    c.admin("user-add", "--access-key", "revokeak", "--secret", "revoke-secret-1", "--account", ACCOUNT)
    old = c.client("revokeak", "revoke-secret-1", retries=False)
    assert old.list_buckets()["ResponseMetadata"]["HTTPStatusCode"] == 200  # now cached by the gateway
    c.admin("user-add", "--access-key", "revokeak", "--secret", "revoke-secret-2", "--account", ACCOUNT)
    poll_until(lambda: s3_refused(old, "SignatureDoesNotMatch"), "re-keyed S3 key's old secret")
    new = c.client("revokeak", "revoke-secret-2", retries=False)
    assert new.list_buckets()["ResponseMetadata"]["HTTPStatusCode"] == 200
    c.admin("user-delete", "revokeak")
    poll_until(lambda: s3_refused(new, "InvalidAccessKeyId"), "deleted S3 key")


def swift_put_status(url, tok):
    cn = sc.Connection(preauthurl=url, preauthtoken=tok, retries=0)
    try:
        cn.put_object("revoke", f"o{time.monotonic_ns()}", b"x")
        return 201
    except ClientException as e:
        return e.http_status


@pytest.mark.parametrize("change", ["delete", "demote", "rekey"])
def test_swift_token_revoked(c, change):
    user = f"rv{change}"
    c.admin("swift-user-add", "--account", ACCOUNT, "--user", user, "--key", "k1", "--admin")
    tok, url = swift_auth(c, f"{ACCOUNT}:{user}", "k1")
    sc.Connection(preauthurl=url, preauthtoken=tok, retries=0).put_container("revoke")
    assert swift_put_status(url, tok) == 201
    if change == "delete":
        c.admin("swift-user-delete", f"{ACCOUNT}:{user}")
    elif change == "demote":
        c.admin("swift-user-add", "--account", ACCOUNT, "--user", user, "--key", "k1")
    else:
        c.admin("swift-user-add", "--account", ACCOUNT, "--user", user, "--key", "k2", "--admin")
    poll_until(lambda: swift_put_status(url, tok) == 401, f"{change}d Swift user's token")
    if change == "demote":  # a fresh token of the demoted user: authenticated, not allowed
        tok2, _ = swift_auth(c, f"{ACCOUNT}:{user}", "k1")
        assert swift_put_status(url, tok2) == 403
    if change == "rekey":
        assert swift_put_status(url, swift_auth(c, f"{ACCOUNT}:{user}", "k2")[0]) == 201
        st, _, _ = http_request(c.port(), "GET", "/auth/v1.0", {"X-Auth-User": f"{ACCOUNT}:{user}",
                                                                "X-Auth-Key": "k1"})
        assert st == 401


# ---------------------------------------------------------------- referrer ACLs


def curl_status(url, referer=None):
    cmd = ["curl", "-s", "-o", "/dev/null", "-w", "%{http_code}", "--max-time", "30"]
    if referer:
        cmd += ["-H", f"Referer: {referer}"]
    r = subprocess.run(cmd + [url], capture_output=True, text=True, timeout=60)
    return int(r.stdout)


REFERRER_CASES = [
    # (X-Container-Read, Referer or None, object GET status, listing status)
    (".r:*", None, 200, 401),
    (".r:*,.rlistings", "http://anything.example/", 200, 200),
    (".r:*,.r:-evil.com", "http://evil.com/page", 401, 401),
    (".r:*,.r:-evil.com,.rlistings", "https://EVIL.com:8443/x", 401, 401),
    (".r:*,.r:-evil.com,.rlistings", "http://good.com/", 200, 200),
    (".r:*,.r:-evil.com", None, 200, 401),
    (".r:-evil.com,.r:*", "http://evil.com/", 200, 401),  # order: the later "*" wins
    (".r:.example.com", "http://www.example.com/", 200, 401),
    (".r:.example.com", "http://example.com/", 401, 401),
    (".r:*.example.com,.r:-thief.example.com", "http://thief.example.com/", 401, 401),
    (".r:*.example.com,.r:-thief.example.com", "http://honest.example.com/", 200, 401),
    (".r:*,.r:-.evil.com", "http://cdn.evil.com/", 401, 401),
    (".r:www.example.com", None, 401, 401),
    (".referrer:www.example.com,.rlistings", "http://www.example.com/a", 200, 200),
]


@pytest.fixture(scope="module")
def referrer_container(c):
    c.admin("swift-user-add", "--account", ACCOUNT, "--user", "refadmin", "--key", "refkey", "--admin")
    cn = sc.Connection(authurl=f"{c.endpoint()}/auth/v1.0", user=f"{ACCOUNT}:refadmin", key="refkey",
                       auth_version="1", retries=0)
    name = uniq("ref")
    cn.put_container(name)
    cn.put_object(name, "pic", b"picture bytes")
    return cn, name


@pytest.mark.parametrize("acl,referer,obj_status,list_status", REFERRER_CASES)
def test_referrer_acl(c, referrer_container, acl, referer, obj_status, list_status):
    cn, name = referrer_container
    cn.post_container(name, {"X-Container-Read": acl})
    base = f"{c.endpoint()}/v1/AUTH_{ACCOUNT}/{name}"
    assert curl_status(f"{base}/pic", referer) == obj_status
    assert curl_status(base, referer) == list_status


@pytest.mark.parametrize("header,value,reason", [
    ("X-Container-Read", ".r:", "No host/domain value after referrer designation in ACL"),
    ("X-Container-Read", ".r:-", "No host/domain value after referrer designation in ACL"),
    ("X-Container-Read", ".bogus:x", "Unknown designator in ACL"),
    ("X-Container-Write", ".r:*", "Referrers not allowed in write ACL"),
])
def test_invalid_acl_refused(c, referrer_container, header, value, reason):
    cn, name = referrer_container
    with pytest.raises(ClientException) as e:
        cn.post_container(name, {header: value})
    assert e.value.http_status == 400 and reason in (e.value.http_response_content or b"").decode()
