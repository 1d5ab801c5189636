"""S3 Block Public Access (PublicAccessBlock) and Object Ownership (OwnershipControls) with boto3,
aws s3api and curl: the configuration operations, each of the four PublicAccessBlock flags
enforced (anonymous access through ACLs and policies included), and the three ownership modes
(docs/s3-compat.md, "Access control")."""

import json

import botocore.exceptions
import pytest

from conftest import ACCESS2, ACCOUNT, ACCOUNT2, SECRET2, err_code, err_status, http_request, signed_request, uniq

ALL_USERS = "http://acs.amazonaws.com/groups/global/AllUsers"
FLAGS = ("BlockPublicAcls", "IgnorePublicAcls", "BlockPublicPolicy", "RestrictPublicBuckets")


def pab(**on):
    return {f: bool(on.get(f, False)) for f in FLAGS}


def public_policy(b, action="s3:GetObject", resource=None):
    return json.dumps({"Version": "2012-10-17", "Statement": [{
        "Effect": "Allow", "Principal": "*", "Action": action,
        "Resource": resource or f"arn:aws:s3:::{b}/*"}]})


def anon(cluster, method, path):
    return http_request(cluster.port(), method, path)[0]


def fails(fn, code, status):
    with pytest.raises(botocore.exceptions.ClientError) as e:
        fn()
    assert (err_code(e.value), err_status(e.value)) == (code, status)


def grants(acl):
    return sorted((g["Grantee"].get("URI") or g["Grantee"].get("ID"), g["Permission"]) for g in acl["Grants"])


# ---------------------------------------------------------------- configuration operations

def test_pab_put_get_delete_boto3(s3, bucket):
    fails(lambda: s3.get_public_access_block(Bucket=bucket), "NoSuchPublicAccessBlockConfiguration", 404)
    conf = pab(BlockPublicAcls=True, RestrictPublicBuckets=True)
    s3.put_public_access_block(Bucket=bucket, PublicAccessBlockConfiguration=conf)
    assert s3.get_public_access_block(Bucket=bucket)["PublicAccessBlockConfiguration"] == conf
    s3.put_public_access_block(Bucket=bucket, PublicAccessBlockConfiguration=pab())
    assert s3.get_public_access_block(Bucket=bucket)["PublicAccessBlockConfiguration"] == pab()
    s3.delete_public_access_block(Bucket=bucket)
    fails(lambda: s3.get_public_access_block(Bucket=bucket), "NoSuchPublicAccessBlockConfiguration", 404)
    s3.delete_public_access_block(Bucket=bucket)  # again: still 204, as S3


def test_pab_malformed_and_foreign(cluster, bucket):
    for body in (b"<PublicAccessBlockConfiguration><BlockPublicAcls>maybe</BlockPublicAcls>"
                 b"</PublicAccessBlockConfiguration>",
                 b"<PublicAccessBlockConfiguration><Block>true</Block></PublicAccessBlockConfiguration>",
                 b"<NotIt/>", b"not xml"):
        st, _, resp = signed_request(cluster.port(), "PUT", f"/{bucket}", "publicAccessBlock", body=body)
        assert (st, b"<Code>MalformedXML</Code>" in resp) == (400, True), resp
    # the configuration is the bucket account's: another account and anonymous get 403
    assert signed_request(cluster.port(), "GET", f"/{bucket}", "publicAccessBlock", access=ACCESS2,
                          secret=SECRET2)[0] == 403
    assert anon(cluster, "GET", f"/{bucket}?publicAccessBlock") == 403
    # an object has no such sub-resource
    assert signed_request(cluster.port(), "GET", f"/{bucket}/k", "publicAccessBlock")[0] == 501


def test_pab_aws_cli(cluster, bucket):
    conf = json.dumps(pab(IgnorePublicAcls=True, BlockPublicPolicy=True))
    cluster.aws("s3api", "put-public-access-block", "--bucket", bucket, "--public-access-block-configuration", conf)
    out = json.loads(cluster.aws("s3api", "get-public-access-block", "--bucket", bucket).stdout)
    assert out["PublicAccessBlockConfiguration"] == json.loads(conf)
    cluster.aws("s3api", "delete-public-access-block", "--bucket", bucket)
    r = cluster.aws("s3api", "get-public-access-block", "--bucket", bucket, check=False)
    assert r.returncode != 0 and "NoSuchPublicAccessBlockConfiguration" in r.stderr


def test_ownership_put_get_delete(cluster, s3, bucket):
    fails(lambda: s3.get_bucket_ownership_controls(Bucket=bucket), "OwnershipControlsNotFoundError", 404)
    for mode in ("BucketOwnerEnforced", "BucketOwnerPreferred", "ObjectWriter"):
        s3.put_bucket_ownership_controls(Bucket=bucket, OwnershipControls={"Rules": [{"ObjectOwnership": mode}]})
        got = s3.get_bucket_ownership_controls(Bucket=bucket)["OwnershipControls"]
        assert got == {"Rules": [{"ObjectOwnership": mode}]}
    out = json.loads(cluster.aws("s3api", "get-bucket-ownership-controls", "--bucket", bucket).stdout)
    assert out["OwnershipControls"]["Rules"] == [{"ObjectOwnership": "ObjectWriter"}]
    cluster.aws("s3api", "delete-bucket-ownership-controls", "--bucket", bucket)
    fails(lambda: s3.get_bucket_ownership_controls(Bucket=bucket), "OwnershipControlsNotFoundError", 404)
    st, _, resp = signed_request(cluster.port(), "PUT", f"/{bucket}", "ownershipControls",
                                 body=b"<OwnershipControls><Rule><ObjectOwnership>Everyone</ObjectOwnership>"
                                      b"</Rule></OwnershipControls>")
    assert st == 400 and b"MalformedXML" in resp


# ---------------------------------------------------------------- the four flags

def test_block_public_acls(cluster, s3, bucket):
    s3.put_public_access_block(Bucket=bucket, PublicAccessBlockConfiguration=pab(BlockPublicAcls=True))
    s3.put_object(Bucket=bucket, Key="k", Body=b"x")
    for call in (lambda: s3.put_bucket_acl(Bucket=bucket, ACL="public-read"),
                 lambda: s3.put_bucket_acl(Bucket=bucket, GrantRead=f"uri={ALL_USERS}"),
                 lambda: s3.put_object_acl(Bucket=bucket, Key="k", ACL="authenticated-read"),
                 lambda: s3.put_object(Bucket=bucket, Key="p", Body=b"x", ACL="public-read"),
                 lambda: s3.create_multipart_upload(Bucket=bucket, Key="m", ACL="public-read-write"),
                 lambda: s3.copy_object(Bucket=bucket, Key="c", CopySource={"Bucket": bucket, "Key": "k"},
                                        ACL="public-read")):
        fails(call, "AccessDenied", 403)
    fails(lambda: s3.head_object(Bucket=bucket, Key="p"), "404", 404)  # nothing was written
    # private ACLs and grants to accounts still go through
    s3.put_object(Bucket=bucket, Key="q", Body=b"x", ACL="private")
    s3.put_object_acl(Bucket=bucket, Key="q", GrantRead=f"id={ACCOUNT2}")
    s3.put_bucket_acl(Bucket=bucket, ACL="private")
    # turned off, public ACLs are accepted again
    s3.put_public_access_block(Bucket=bucket, PublicAccessBlockConfiguration=pab())
    s3.put_object_acl(Bucket=bucket, Key="k", ACL="public-read")
    assert anon(cluster, "GET", f"/{bucket}/k") == 200


def test_ignore_public_acls(cluster, s3, bucket):
    s3.put_bucket_acl(Bucket=bucket, ACL="public-read")
    s3.put_object(Bucket=bucket, Key="k", Body=b"public", ACL="public-read")
    other = cluster.client(ACCESS2, SECRET2)
    assert anon(cluster, "GET", f"/{bucket}/k") == 200
    assert anon(cluster, "GET", f"/{bucket}") == 200
    s3.put_public_access_block(Bucket=bucket, PublicAccessBlockConfiguration=pab(IgnorePublicAcls=True))
    assert anon(cluster, "GET", f"/{bucket}/k") == 403
    assert anon(cluster, "GET", f"/{bucket}") == 403
    fails(lambda: other.get_object(Bucket=bucket, Key="k"), "AccessDenied", 403)
    # and through Swift's view of the bucket's S3 ACL
    assert anon(cluster, "GET", f"/v1/AUTH_{ACCOUNT}/{bucket}/k") in (401, 403)
    # the ACLs are still stored (ignored, not removed), and grants to accounts still count
    assert (ALL_USERS, "READ") in grants(s3.get_object_acl(Bucket=bucket, Key="k"))
    s3.put_object_acl(Bucket=bucket, Key="k", GrantRead=f"id={ACCOUNT2}")
    assert other.get_object(Bucket=bucket, Key="k")["Body"].read() == b"public"
    s3.delete_public_access_block(Bucket=bucket)
    assert anon(cluster, "GET", f"/{bucket}") == 200


def test_block_public_policy(cluster, s3, bucket):
    s3.put_public_access_block(Bucket=bucket, PublicAccessBlockConfiguration=pab(BlockPublicPolicy=True))
    fails(lambda: s3.put_bucket_policy(Bucket=bucket, Policy=public_policy(bucket)), "AccessDenied", 403)
    r = cluster.aws("s3api", "put-bucket-policy", "--bucket", bucket, "--policy", public_policy(bucket), check=False)
    assert r.returncode != 0 and "AccessDenied" in r.stderr
    fails(lambda: s3.get_bucket_policy(Bucket=bucket), "NoSuchBucketPolicy", 404)
    # a policy for one account is not public: accepted
    s3.put_bucket_policy(Bucket=bucket, Policy=json.dumps({"Version": "2012-10-17", "Statement": [{
        "Effect": "Allow", "Principal": {"AWS": ACCOUNT2}, "Action": "s3:GetObject",
        "Resource": f"arn:aws:s3:::{bucket}/*"}]}))
    # a public policy stored before the block stays (AWS: the block only refuses new ones)
    b2 = uniq("pabpol")
    s3.create_bucket(Bucket=b2)
    s3.put_bucket_policy(Bucket=b2, Policy=public_policy(b2))
    s3.put_public_access_block(Bucket=b2, PublicAccessBlockConfiguration=pab(BlockPublicPolicy=True))
    assert json.loads(s3.get_bucket_policy(Bucket=b2)["Policy"])["Statement"][0]["Principal"] == "*"


def test_restrict_public_buckets(cluster, s3, bucket):
    s3.put_object(Bucket=bucket, Key="k", Body=b"via policy")
    s3.put_bucket_policy(Bucket=bucket, Policy=public_policy(bucket))
    other = cluster.client(ACCESS2, SECRET2)
    assert anon(cluster, "GET", f"/{bucket}/k") == 200
    assert other.get_object(Bucket=bucket, Key="k")["Body"].read() == b"via policy"
    assert s3.get_bucket_policy_status(Bucket=bucket)["PolicyStatus"]["IsPublic"] is True
    s3.put_public_access_block(Bucket=bucket, PublicAccessBlockConfiguration=pab(RestrictPublicBuckets=True))
    assert anon(cluster, "GET", f"/{bucket}/k") == 403
    fails(lambda: other.get_object(Bucket=bucket, Key="k"), "AccessDenied", 403)
    assert s3.get_object(Bucket=bucket, Key="k")["Body"].read() == b"via policy"  # the owner's account
    assert s3.get_bucket_policy_status(Bucket=bucket)["PolicyStatus"]["IsPublic"] is False
    # public ACLs are IgnorePublicAcls' business, not this flag's
    s3.put_object_acl(Bucket=bucket, Key="k", ACL="public-read")
    assert anon(cluster, "GET", f"/{bucket}/k") == 200
    s3.delete_public_access_block(Bucket=bucket)
    assert s3.get_bucket_policy_status(Bucket=bucket)["PolicyStatus"]["IsPublic"] is True


# ---------------------------------------------------------------- object ownership

def test_bucket_owner_enforced(cluster, s3):
    b = uniq("ownenf")
    s3.create_bucket(Bucket=b, ObjectOwnership="BucketOwnerEnforced")
    assert s3.get_bucket_ownership_controls(Bucket=b)["OwnershipControls"]["Rules"] == [
        {"ObjectOwnership": "BucketOwnerEnforced"}]
    # ACLs other than the bucket owner's full control are refused
    for call in (lambda: s3.put_bucket_acl(Bucket=b, ACL="public-read"),
                 lambda: s3.put_bucket_acl(Bucket=b, GrantRead=f"id={ACCOUNT2}"),
                 lambda: s3.put_object(Bucket=b, Key="p", Body=b"x", ACL="public-read"),
                 lambda: s3.put_object(Bucket=b, Key="p", Body=b"x", ACL="authenticated-read")):
        fails(call, "AccessControlListNotSupported", 400)
    s3.put_object(Bucket=b, Key="k", Body=b"x", ACL="bucket-owner-full-control")
    s3.put_object(Bucket=b, Key="k2", Body=b"x", ACL="private")
    s3.put_object_acl(Bucket=b, Key="k", ACL="private")
    s3.put_bucket_acl(Bucket=b, ACL="private")
    acl = s3.get_object_acl(Bucket=b, Key="k")
    assert acl["Owner"]["ID"] == ACCOUNT and grants(acl) == [(ACCOUNT, "FULL_CONTROL")]
    assert grants(s3.get_bucket_acl(Bucket=b)) == [(ACCOUNT, "FULL_CONTROL")]
    # a bucket ACL granting others must go before ACLs can be disabled (AWS); object ACLs stored
    # before, public ones included, then stop counting
    b2 = uniq("ownenf2")
    s3.create_bucket(Bucket=b2, ACL="public-read-write")
    s3.put_object(Bucket=b2, Key="pub", Body=b"x", ACL="public-read")
    assert anon(cluster, "GET", f"/{b2}") == 200
    r = cluster.aws("s3api", "put-bucket-ownership-controls", "--bucket", b2, "--ownership-controls",
                    "Rules=[{ObjectOwnership=BucketOwnerEnforced}]", check=False)
    assert r.returncode != 0 and "InvalidBucketAclWithObjectOwnership" in r.stderr
    s3.put_bucket_acl(Bucket=b2, ACL="private")
    assert anon(cluster, "GET", f"/{b2}/pub") == 200
    cluster.aws("s3api", "put-bucket-ownership-controls", "--bucket", b2, "--ownership-controls",
                "Rules=[{ObjectOwnership=BucketOwnerEnforced}]")
    assert anon(cluster, "GET", f"/{b2}/pub") == 403
    assert anon(cluster, "PUT", f"/{b2}/anon") == 403
    # CreateBucket with both an ACL and BucketOwnerEnforced, or a bad ownership
    fails(lambda: s3.create_bucket(Bucket=uniq("ownenf3"), ACL="public-read", ObjectOwnership="BucketOwnerEnforced"),
          "InvalidBucketAclWithObjectOwnership", 400)
    st, _, resp = signed_request(cluster.port(), "PUT", f"/{uniq('ownbad')}",
                                 headers={"x-amz-object-ownership": "Nobody"})
    assert st == 400 and b"InvalidArgument" in resp


def test_enforced_objects_belong_to_bucket_owner(cluster, s3):
    b = uniq("ownenfw")
    s3.create_bucket(Bucket=b)
    s3.put_object(Bucket=b, Key="granted", Body=b"x", GrantRead=f"id={ACCOUNT2}")
    other = cluster.client(ACCESS2, SECRET2)
    assert other.get_object(Bucket=b, Key="granted")["Body"].read() == b"x"
    s3.put_bucket_ownership_controls(Bucket=b, OwnershipControls={"Rules": [{"ObjectOwnership": "BucketOwnerEnforced"}]})
    # ACLs are disabled, so the object's read grant no longer lets the other account in; a policy does
    fails(lambda: other.get_object(Bucket=b, Key="granted"), "AccessDenied", 403)
    fails(lambda: other.put_object(Bucket=b, Key="w", Body=b"x"), "AccessDenied", 403)
    s3.put_bucket_policy(Bucket=b, Policy=json.dumps({"Version": "2012-10-17", "Statement": [{
        "Effect": "Allow", "Principal": {"AWS": ACCOUNT2}, "Action": "s3:PutObject",
        "Resource": f"arn:aws:s3:::{b}/*"}]}))
    other.put_object(Bucket=b, Key="w", Body=b"written by the other account")
    acl = s3.get_object_acl(Bucket=b, Key="w")
    assert acl["Owner"]["ID"] == ACCOUNT and grants(acl) == [(ACCOUNT, "FULL_CONTROL")]
    listed = s3.list_objects(Bucket=b)["Contents"]
    assert [(o["Key"], o["Owner"]["ID"]) for o in listed] == [("granted", ACCOUNT), ("w", ACCOUNT)]


def test_bucket_owner_preferred(cluster, s3):
    b = uniq("ownpref")
    s3.create_bucket(Bucket=b, ObjectOwnership="BucketOwnerPreferred")
    s3.put_bucket_acl(Bucket=b, GrantWrite=f"id={ACCOUNT2}", GrantFullControl=f"id={ACCOUNT}")
    other = cluster.client(ACCESS2, SECRET2)
    other.put_object(Bucket=b, Key="given", Body=b"x", ACL="bucket-owner-full-control")
    other.put_object(Bucket=b, Key="kept", Body=b"x")
    mp = other.create_multipart_upload(Bucket=b, Key="mp", ACL="bucket-owner-full-control")["UploadId"]
    etag = other.upload_part(Bucket=b, Key="mp", UploadId=mp, PartNumber=1, Body=b"part")["ETag"]
    other.complete_multipart_upload(Bucket=b, Key="mp", UploadId=mp,
                                    MultipartUpload={"Parts": [{"PartNumber": 1, "ETag": etag}]})
    owners = {o["Key"]: o["Owner"]["ID"] for o in s3.list_objects(Bucket=b)["Contents"]}
    assert owners == {"given": ACCOUNT, "kept": ACCOUNT2, "mp": ACCOUNT}
    assert s3.get_object_acl(Bucket=b, Key="given")["Owner"]["ID"] == ACCOUNT
    # under ObjectWriter the same request leaves the object its writer's
    s3.put_bucket_ownership_controls(Bucket=b, OwnershipControls={"Rules": [{"ObjectOwnership": "ObjectWriter"}]})
    other.put_object(Bucket=b, Key="writer", Body=b"x", ACL="bucket-owner-full-control")
    acl = s3.get_object_acl(Bucket=b, Key="writer")
    assert acl["Owner"]["ID"] == ACCOUNT2
    assert grants(acl) == sorted([(ACCOUNT2, "FULL_CONTROL"), (ACCOUNT, "FULL_CONTROL")])
    # under BucketOwnerEnforced every object is the bucket owner's, those written before too
    s3.put_bucket_acl(Bucket=b, ACL="private")
    s3.put_bucket_ownership_controls(Bucket=b, OwnershipControls={"Rules": [{"ObjectOwnership": "BucketOwnerEnforced"}]})
    assert {o["Owner"]["ID"] for o in s3.list_objects(Bucket=b)["Contents"]} == {ACCOUNT}
    assert {o["Owner"]["ID"] for o in s3.list_object_versions(Bucket=b)["Versions"]} == {ACCOUNT}
    assert s3.get_object_acl(Bucket=b, Key="writer")["Owner"]["ID"] == ACCOUNT


def test_ownership_operations_refused_to_others(cluster, bucket):
    for who in ("other", "anon"):
        for method in ("GET", "PUT", "DELETE"):
            body = (b"<OwnershipControls><Rule><ObjectOwnership>ObjectWriter</ObjectOwnership></Rule>"
                    b"</OwnershipControls>") if method == "PUT" else b""
            if who == "anon":
                st = http_request(cluster.port(), method, f"/{bucket}?ownershipControls", body=body)[0]
            else:
                st = signed_request(cluster.port(), method, f"/{bucket}", "ownershipControls", body=body,
                                    access=ACCESS2, secret=SECRET2)[0]
            assert st == 403, (who, method)
