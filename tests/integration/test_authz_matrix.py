"""Authorization matrix: every S3 and Swift operation x requester -> expected status, against a
real cluster. Requesters:
  owner  - S3: the bucket owner's key; Swift: the account's .admin user
  same   - another credential of the same account: S3 a second key pair of the account (an account
           is the unit of ownership, so it may do what the first key does); Swift a user without
           .admin (only what container ACLs grant)
  other  - another account (S3 key pair / Swift .admin user of that account)
  anon   - no credentials at all
  grantee - (S3) another account that the bucket's ACL grants READ and WRITE and the object's ACL
           READ (x-amz-grant-* by canonical id = account name)
  public - (S3) no credentials, on a public-read-write bucket whose object is public-read
Expected codes are S3's and TempAuth's; where Onggi differs on purpose it is said in the row's
comment and in docs/s3-compat.md / docs/swift-compat.md. Each requester gets fresh resources
(made by the owner), so destructive rows do not depend on the order of the others."""

import base64
import hashlib
import json

import pytest

from conftest import ACCESS, ACCESS2, ACCOUNT, ACCOUNT2, SECRET, SECRET2, http_request, signed_request, uniq

WHO = ("owner", "same", "other", "anon")
S3_WHO = WHO + ("grantee", "public")
SAME_AK, SAME_SK = "itaccess-same", "itsecret-same"
GRANTEE_AK, GRANTEE_SK, GRANTEE = "itaccess-grantee", "itsecret-grantee", "acct-grantee"
S3_KEYS = {"owner": (ACCESS, SECRET), "same": (SAME_AK, SAME_SK), "other": (ACCESS2, SECRET2),
           "grantee": (GRANTEE_AK, GRANTEE_SK)}


@pytest.fixture(scope="module")
def mx(cluster):
    cluster.add_user(SAME_AK, SAME_SK, ACCOUNT)
    cluster.add_user(GRANTEE_AK, GRANTEE_SK, GRANTEE)
    cluster.admin("swift-user-add", "--account", ACCOUNT, "--user", "mxadmin", "--key", "mx-admin", "--admin")
    cluster.admin("swift-user-add", "--account", ACCOUNT, "--user", "mxplain", "--key", "mx-plain")
    cluster.admin("swift-user-add", "--account", ACCOUNT2, "--user", "mxadmin", "--key", "mx-other", "--admin")
    return cluster


# ---------------------------------------------------------------- S3

def s3req(c, who, method, path, query="", headers=None, body=b""):
    if who in ("anon", "public"):
        return http_request(c.port(), method, path + (f"?{query}" if query else ""), headers, body)[0]
    ak, sk = S3_KEYS[who]
    return signed_request(c.port(), method, path, query, headers, body, access=ak, secret=sk)[0]


def s3_world(c, s3, who):
    """A bucket with objects and multipart uploads, and an empty bucket, owned by ACCOUNT; and a
    bucket of the requester's own account ("mine"; ACCOUNT's for anonymous)."""
    w = {"b": uniq("mx"), "e": uniq("mxe"), "mine": uniq("mxm")}
    s3.create_bucket(Bucket=w["b"])
    s3.create_bucket(Bucket=w["e"])
    (c.client(*S3_KEYS[who]) if who in S3_KEYS else s3).create_bucket(Bucket=w["mine"])
    for k in ("obj", "victim", "victim2"):
        s3.put_object(Bucket=w["b"], Key=k, Body=b"data")
    for k in ("mp-complete", "mp-abort", "mp-part"):
        w[k] = s3.create_multipart_upload(Bucket=w["b"], Key=k)["UploadId"]
    w["etag"] = s3.upload_part(Bucket=w["b"], Key="mp-complete", UploadId=w["mp-complete"], PartNumber=1,
                               Body=b"part")["ETag"]
    if who == "grantee":
        s3.put_bucket_acl(Bucket=w["b"], GrantRead=f"id={GRANTEE}", GrantWrite=f"id={GRANTEE}")
        s3.put_object_acl(Bucket=w["b"], Key="obj", GrantRead=f"id={GRANTEE}")
    if who == "public":
        s3.put_bucket_acl(Bucket=w["b"], ACL="public-read-write")
        s3.put_object_acl(Bucket=w["b"], Key="obj", ACL="public-read")
    return w


def delete_objects_body():
    body = b"<Delete><Object><Key>victim2</Key></Object></Delete>"
    return body, {"Content-MD5": base64.b64encode(hashlib.md5(body).digest()).decode()}


def complete_body(w):
    return (f"<CompleteMultipartUpload><Part><PartNumber>1</PartNumber><ETag>{w['etag']}</ETag></Part>"
            f"</CompleteMultipartUpload>").encode()


# (operation, request maker w -> (method, path, query, headers, body), expected {who: status})
S3_MATRIX = [
    ("ListBuckets", lambda w: ("GET", "/", "", {}, b""), (200, 200, 200, 403, 200, 403)),
    ("CreateBucket (new name)", lambda w: ("PUT", f"/{uniq('mxn')}", "", {}, b""), (200, 200, 200, 403, 200, 403)),
    # us-east-1 answers 200 to its owner re-creating a bucket; anyone else learns it is taken.
    ("CreateBucket (existing)", lambda w: ("PUT", f"/{w['b']}", "", {}, b""), (200, 200, 409, 403, 409, 403)),
    ("HeadBucket", lambda w: ("HEAD", f"/{w['b']}", "", {}, b""), (200, 200, 403, 403, 200, 200)),
    ("GetBucketLocation", lambda w: ("GET", f"/{w['b']}", "location", {}, b""), (200, 200, 403, 403, 403, 403)),
    ("ListObjects", lambda w: ("GET", f"/{w['b']}", "", {}, b""), (200, 200, 403, 403, 200, 200)),
    ("ListObjectsV2", lambda w: ("GET", f"/{w['b']}", "list-type=2", {}, b""), (200, 200, 403, 403, 200, 200)),
    ("GetBucketAcl", lambda w: ("GET", f"/{w['b']}", "acl", {}, b""), (200, 200, 403, 403, 403, 403)),
    # The policy operations are the bucket account's: NoSuchBucketPolicy to it, 403 to anyone else.
    ("GetBucketPolicy", lambda w: ("GET", f"/{w['b']}", "policy", {}, b""), (404, 404, 403, 403, 403, 403)),
    # Block Public Access and Object Ownership settings are the bucket account's, like the policy.
    ("GetPublicAccessBlock", lambda w: ("GET", f"/{w['b']}", "publicAccessBlock", {}, b""),
     (404, 404, 403, 403, 403, 403)),
    ("GetBucketOwnershipControls", lambda w: ("GET", f"/{w['b']}", "ownershipControls", {}, b""),
     (404, 404, 403, 403, 403, 403)),
    # Differs on purpose: a sub-resource Onggi lacks (replication, ...) is 501 NotImplemented to any
    # signed request, before the bucket is looked up, so it tells nothing about the bucket (S3:
    # 404 to the owner, 403 to others).
    ("GetBucketReplication", lambda w: ("GET", f"/{w['b']}", "replication", {}, b""), (501, 501, 501, 403, 501, 403)),
    ("ListMultipartUploads", lambda w: ("GET", f"/{w['b']}", "uploads", {}, b""), (200, 200, 403, 403, 200, 200)),
    ("PutObject", lambda w: ("PUT", f"/{w['b']}/new", "", {}, b"new"), (200, 200, 403, 403, 200, 200)),
    ("GetObject", lambda w: ("GET", f"/{w['b']}/obj", "", {}, b""), (200, 200, 403, 403, 200, 200)),
    ("HeadObject", lambda w: ("HEAD", f"/{w['b']}/obj", "", {}, b""), (200, 200, 403, 403, 200, 200)),
    ("GetObjectAcl", lambda w: ("GET", f"/{w['b']}/obj", "acl", {}, b""), (200, 200, 403, 403, 403, 403)),
    ("CopyObject", lambda w: ("PUT", f"/{w['b']}/copy", "", {"x-amz-copy-source": f"/{w['b']}/obj"}, b""),
     (200, 200, 403, 403, 200, 200)),
    # Into a bucket of the requester's own account: reading another account's source is denied.
    ("CopyObject (to own bucket)", lambda w: ("PUT", f"/{w['mine']}/copy", "",
                                              {"x-amz-copy-source": f"/{w['b']}/obj"}, b""), (200, 200, 403, 403, 200, 403)),
    ("CreateMultipartUpload", lambda w: ("POST", f"/{w['b']}/mp-new", "uploads", {}, b""), (200, 200, 403, 403, 200, 200)),
    ("UploadPart", lambda w: ("PUT", f"/{w['b']}/mp-part", f"partNumber=2&uploadId={w['mp-part']}", {}, b"p2"),
     (200, 200, 403, 403, 200, 200)),
    ("ListParts", lambda w: ("GET", f"/{w['b']}/mp-part", f"uploadId={w['mp-part']}", {}, b""), (200, 200, 403, 403, 200, 200)),
    ("CompleteMultipartUpload", lambda w: ("POST", f"/{w['b']}/mp-complete", f"uploadId={w['mp-complete']}", {},
                                           complete_body(w)), (200, 200, 403, 403, 200, 200)),
    ("AbortMultipartUpload", lambda w: ("DELETE", f"/{w['b']}/mp-abort", f"uploadId={w['mp-abort']}", {}, b""),
     (204, 204, 403, 403, 204, 204)),
    ("DeleteObject", lambda w: ("DELETE", f"/{w['b']}/victim", "", {}, b""), (204, 204, 403, 403, 204, 204)),
    ("DeleteObjects", lambda w: ("POST", f"/{w['b']}", "delete", delete_objects_body()[1], delete_objects_body()[0]),
     (200, 200, 403, 403, 200, 200)),
    ("DeleteBucket", lambda w: ("DELETE", f"/{w['e']}", "", {}, b""), (204, 204, 403, 403, 403, 403)),
]


@pytest.mark.parametrize("who", S3_WHO)
def test_s3_matrix(mx, s3, who):
    w = s3_world(mx, s3, who)
    got = {}
    for op, make, _ in S3_MATRIX:
        method, path, query, headers, body = make(w)
        got[op] = s3req(mx, who, method, path, query, headers, body)
    want = {op: exp[S3_WHO.index(who)] for op, _, exp in S3_MATRIX}
    assert got == want


def test_s3_matrix_public_blocked(mx, s3):
    """The "public" column's bucket (public-read-write, public-read object) also given a policy
    allowing everyone everything, then IgnorePublicAcls and RestrictPublicBuckets: an anonymous
    requester gets 403 to every operation (S3's Block Public Access)."""
    w = s3_world(mx, s3, "public")
    s3.put_bucket_policy(Bucket=w["b"], Policy=json.dumps({"Version": "2012-10-17", "Statement": [{
        "Effect": "Allow", "Principal": "*", "Action": "s3:*",
        "Resource": [f"arn:aws:s3:::{w['b']}", f"arn:aws:s3:::{w['b']}/*"]}]}))
    assert s3req(mx, "anon", "GET", f"/{w['b']}/obj") == 200
    s3.put_public_access_block(Bucket=w["b"], PublicAccessBlockConfiguration={
        "BlockPublicAcls": False, "IgnorePublicAcls": True, "BlockPublicPolicy": False,
        "RestrictPublicBuckets": True})
    got = {}
    for op, make, _ in S3_MATRIX:
        method, path, query, headers, body = make(w)
        got[op] = s3req(mx, "anon", method, path, query, headers, body)
    assert got == {op: 403 for op, _, _ in S3_MATRIX}


# ---------------------------------------------------------------- Swift

SWIFT_USERS = {"owner": (f"{ACCOUNT}:mxadmin", "mx-admin"), "same": (f"{ACCOUNT}:mxplain", "mx-plain"),
               "other": (f"{ACCOUNT2}:mxadmin", "mx-other")}
ACL_GRANTEES = f"{ACCOUNT}:mxplain,{ACCOUNT2}"


def swift_token(c, who):
    if who == "anon":
        return {}
    user, key = SWIFT_USERS[who]
    st, h, _ = http_request(c.port(), "GET", "/auth/v1.0", {"X-Auth-User": user, "X-Auth-Key": key})
    assert st == 200, st
    return {"X-Auth-Token": h["x-auth-token"]}


def swift_world(c, acl):
    """A container with objects and an empty one in ACCOUNT, with or without ACLs granting read and
    write to the same-account user and the other account."""
    owner = swift_token(c, "owner")
    base = f"/v1/AUTH_{ACCOUNT}"
    w = {"c": uniq("mxs"), "e": uniq("mxse")}
    hdrs = dict(owner, **({"X-Container-Read": ACL_GRANTEES, "X-Container-Write": ACL_GRANTEES} if acl else {}))
    for name in (w["c"], w["e"]):
        assert http_request(c.port(), "PUT", f"{base}/{name}", hdrs)[0] == 201
    for k in ("obj", "victim"):
        assert http_request(c.port(), "PUT", f"{base}/{w['c']}/{k}", owner, b"data")[0] == 201
    return w


A = f"/v1/AUTH_{ACCOUNT}"
# (operation, request maker w -> (method, path, headers, body), expected without ACL, expected with ACL)
SWIFT_MATRIX = [
    ("account GET", lambda w: ("GET", A, {}, b""), (200, 403, 403, 401), (200, 403, 403, 401)),
    ("account HEAD", lambda w: ("HEAD", A, {}, b""), (204, 403, 403, 401), (204, 403, 403, 401)),
    ("account POST", lambda w: ("POST", A, {"X-Account-Meta-Mx": "1"}, b""), (204, 403, 403, 401),
     (204, 403, 403, 401)),
    ("container GET", lambda w: ("GET", f"{A}/{w['c']}", {}, b""), (200, 403, 403, 401), (200, 200, 200, 401)),
    ("container HEAD", lambda w: ("HEAD", f"{A}/{w['c']}", {}, b""), (204, 403, 403, 401), (204, 204, 204, 401)),
    ("container PUT (new)", lambda w: ("PUT", f"{A}/{uniq('mxsn')}", {}, b""), (201, 403, 403, 401),
     (201, 403, 403, 401)),
    ("container PUT (existing)", lambda w: ("PUT", f"{A}/{w['c']}", {}, b""), (202, 403, 403, 401),
     (202, 403, 403, 401)),
    ("container POST", lambda w: ("POST", f"{A}/{w['c']}", {"X-Container-Meta-Mx": "1"}, b""),
     (204, 403, 403, 401), (204, 403, 403, 401)),
    ("container DELETE", lambda w: ("DELETE", f"{A}/{w['e']}", {}, b""), (204, 403, 403, 401),
     (204, 403, 403, 401)),
    ("object GET", lambda w: ("GET", f"{A}/{w['c']}/obj", {}, b""), (200, 403, 403, 401), (200, 200, 200, 401)),
    ("object HEAD", lambda w: ("HEAD", f"{A}/{w['c']}/obj", {}, b""), (200, 403, 403, 401), (200, 200, 200, 401)),
    ("object PUT", lambda w: ("PUT", f"{A}/{w['c']}/new", {}, b"new"), (201, 403, 403, 401), (201, 201, 201, 401)),
    ("object POST", lambda w: ("POST", f"{A}/{w['c']}/obj", {"X-Object-Meta-Mx": "1"}, b""),
     (202, 403, 403, 401), (202, 202, 202, 401)),
    ("object COPY", lambda w: ("PUT", f"{A}/{w['c']}/copy", {"X-Copy-From": f"/{w['c']}/obj"}, b""),
     (201, 403, 403, 401), (201, 201, 201, 401)),
    ("object DELETE", lambda w: ("DELETE", f"{A}/{w['c']}/victim", {}, b""), (204, 403, 403, 401),
     (204, 204, 204, 401)),
]


@pytest.mark.parametrize("acl", [False, True], ids=["no-acl", "acl"])
@pytest.mark.parametrize("who", WHO)
def test_swift_matrix(mx, who, acl):
    w = swift_world(mx, acl)
    tok = swift_token(mx, who)
    got = {}
    for op, make, _, _ in SWIFT_MATRIX:
        method, path, headers, body = make(w)
        got[op] = http_request(mx.port(), method, path, dict(headers, **tok), body)[0]
    want = {op: (with_acl if acl else without)[WHO.index(who)] for op, _, without, with_acl in SWIFT_MATRIX}
    assert got == want


# Swift account ACLs (X-Account-Access-Control, TempAuth's levels) for users of a third account,
# on containers without container ACLs: (read-only, read-write, admin) per SWIFT_MATRIX operation.
ACCT_ACL_ACCOUNT = "acct-mxacl"
ACCT_ACL_WHO = ("read-only", "read-write", "admin")
ACCT_ACL_WANT = {
    "account GET": (200, 200, 200), "account HEAD": (204, 204, 204), "account POST": (403, 403, 204),
    "container GET": (200, 200, 200), "container HEAD": (204, 204, 204),
    "container PUT (new)": (403, 201, 201), "container PUT (existing)": (403, 202, 202),
    "container POST": (403, 204, 204), "container DELETE": (403, 204, 204),
    "object GET": (200, 200, 200), "object HEAD": (200, 200, 200), "object PUT": (403, 201, 201),
    "object POST": (403, 202, 202), "object COPY": (403, 201, 201), "object DELETE": (403, 204, 204),
}


@pytest.mark.parametrize("level", ACCT_ACL_WHO)
def test_swift_account_acl_matrix(mx, level):
    user = level.replace("-", "")
    mx.admin("swift-user-add", "--account", ACCT_ACL_ACCOUNT, "--user", user, "--key", "mx-acl", "--admin")
    owner = swift_token(mx, "owner")
    acl = json.dumps({lv: [f"{ACCT_ACL_ACCOUNT}:{lv.replace('-', '')}"] for lv in ACCT_ACL_WHO})
    assert http_request(mx.port(), "POST", A, dict(owner, **{"X-Account-Access-Control": acl}))[0] == 204
    try:
        w = swift_world(mx, False)
        st, h, _ = http_request(mx.port(), "GET", "/auth/v1.0",
                                {"X-Auth-User": f"{ACCT_ACL_ACCOUNT}:{user}", "X-Auth-Key": "mx-acl"})
        assert st == 200
        tok = {"X-Auth-Token": h["x-auth-token"]}
        got = {}
        for op, make, _, _ in SWIFT_MATRIX:
            method, path, headers, body = make(w)
            got[op] = http_request(mx.port(), method, path, dict(headers, **tok), body)[0]
        assert got == {op: ACCT_ACL_WANT[op][ACCT_ACL_WHO.index(level)] for op, _, _, _ in SWIFT_MATRIX}
    finally:
        assert http_request(mx.port(), "POST", A, dict(owner, **{"X-Account-Access-Control": ""}))[0] == 204
