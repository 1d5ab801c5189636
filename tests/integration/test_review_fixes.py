"""Regression tests for five defects a review confirmed (docs/architecture.md, "Garbage collection"
and "Multipart uploads"):

1. a bucket (or Swift container) with in-progress multipart uploads cannot be deleted, and an upload
   left behind by a racing CreateMultipartUpload is not inherited by a bucket re-created under its
   name (upload records keep the bucket's creation stamp);
2. CompleteMultipartUpload racing a re-upload of one of its parts either fails cleanly (InvalidPart)
   or commits an object that reads back exactly as validated;
3. Swift COPY / X-Copy-From and 4. CompleteMultipartUpload touch the chunks they reference, so a GC
   sweep whose cutoff predates them keeps those chunks (asked of every replica with
   DELETE ?older_than=, as test_multipart.py does for UploadPartCopy);
5. a copy of a multipart object (S3 CopyObject, Swift COPY) answers GET/HEAD ?partNumber.
Clients: boto3 and python-swiftclient."""

import hashlib
import os
import random
import threading
import time

import botocore.exceptions
import pytest
import swiftclient.client as sc
from swiftclient.exceptions import ClientException

from conftest import ACCESS2, ACCOUNT, MiB, SECRET2, err_code, err_status, locate, uniq

KEY = "fixes-admin-key"


@pytest.fixture(scope="module")
def swift(cluster):
    """A python-swiftclient connection as an admin of ACCOUNT, the account of the S3 keys."""
    cluster.admin("account-add", ACCOUNT, check=False)  # may exist already (test_swift.py)
    cluster.admin("swift-user-add", "--account", ACCOUNT, "--user", "fixadmin", "--key", KEY, "--admin")
    return sc.Connection(authurl=f"{cluster.endpoint()}/auth/v1.0", user=f"{ACCOUNT}:fixadmin", key=KEY,
                         auth_version="1", retries=0)


def s3_error(fn, **kw):
    with pytest.raises(botocore.exceptions.ClientError) as e:
        fn(**kw)
    return err_status(e.value), err_code(e.value)


def assert_kept(cluster, chunks, cutoff):
    """Every replica of every chunk refuses a sweep delete with this cutoff: its reference time is
    later (409 kept; 204 would mean a GC run could have deleted it)."""
    for cid, devs in chunks:
        for dev in sorted(devs):
            st, _, body = cluster.node_request(int(dev[1:]), "DELETE", f"/{dev}/chunk/{cid}?older_than={cutoff}")
            assert st == 409, (cid, dev, st, body)


# ---------------------------------------------------------------- 1. delete with uploads


def test_delete_bucket_aborts_uploads_in_progress(cluster, s3):
    """S3 DeleteBucket aborts in-progress uploads and deletes the bucket (issue 12; it used to
    answer BucketNotEmpty). What the old refusal protected still holds: another account that
    re-creates the name inherits nothing."""
    b = uniq("mpdel")
    s3.create_bucket(Bucket=b)
    uid = s3.create_multipart_upload(Bucket=b, Key="k")["UploadId"]
    s3.upload_part(Bucket=b, Key="k", UploadId=uid, PartNumber=1, Body=b"secret bytes of account A")
    s3.delete_bucket(Bucket=b)
    assert s3_error(s3.head_bucket, Bucket=b)[0] == 404
    s3b = cluster.client(access=ACCESS2, secret=SECRET2)
    s3b.create_bucket(Bucket=b)
    assert s3b.list_multipart_uploads(Bucket=b).get("Uploads", []) == []
    assert s3_error(s3b.list_parts, Bucket=b, Key="k", UploadId=uid) == (404, "NoSuchUpload")
    assert s3_error(s3b.complete_multipart_upload, Bucket=b, Key="k", UploadId=uid,
                    MultipartUpload={"Parts": [{"PartNumber": 1, "ETag": '"x"'}]})[1] == "NoSuchUpload"
    s3b.delete_bucket(Bucket=b)


def test_swift_container_delete_refused_while_uploads_in_progress(swift, s3):
    b = uniq("mpswdel")
    swift.put_container(b)
    uid = s3.create_multipart_upload(Bucket=b, Key="k")["UploadId"]
    with pytest.raises(ClientException) as e:
        swift.delete_container(b)
    assert e.value.http_status == 409
    s3.abort_multipart_upload(Bucket=b, Key="k", UploadId=uid)
    swift.delete_container(b)


def test_upload_left_by_a_racing_create_is_not_inherited(cluster, s3):
    """gw2 still believes in the bucket (its bucket cache, up to 1 s) when gw deletes it, so gw2
    creates an upload in a deleted bucket, as a CreateMultipartUpload racing the delete would.
    Another account then re-creates the name: that upload must not be reachable in the new bucket,
    and must not keep the new owner from deleting it."""
    port2 = cluster.gw_ports.get("gw2") or cluster.start_gateway("gw2")
    s3_2 = cluster.client(endpoint=f"http://127.0.0.1:{port2}")
    s3b = cluster.client(access=ACCESS2, secret=SECRET2)
    for _ in range(5):  # bounded: each try needs the three calls below within gw2's cache window
        b = uniq("mprace")
        s3.create_bucket(Bucket=b)
        s3_2.head_bucket(Bucket=b)  # gw2 caches the live bucket record
        s3.delete_bucket(Bucket=b)
        try:
            uid = s3_2.create_multipart_upload(Bucket=b, Key="k")["UploadId"]
            break
        except botocore.exceptions.ClientError as e:
            assert err_code(e) == "NoSuchBucket"
    else:
        pytest.fail("gw2 never accepted an upload within its bucket cache window")
    s3_2.upload_part(Bucket=b, Key="k", UploadId=uid, PartNumber=1, Body=b"A's bytes")
    s3b.create_bucket(Bucket=b)
    assert s3b.list_multipart_uploads(Bucket=b).get("Uploads", []) == []
    assert s3_error(s3b.upload_part, Bucket=b, Key="k", UploadId=uid, PartNumber=2, Body=b"B") == \
        (404, "NoSuchUpload")
    assert s3_error(s3b.list_parts, Bucket=b, Key="k", UploadId=uid) == (404, "NoSuchUpload")
    etag = '"%s"' % hashlib.md5(b"A's bytes").hexdigest()
    assert s3_error(s3b.complete_multipart_upload, Bucket=b, Key="k", UploadId=uid,
                    MultipartUpload={"Parts": [{"PartNumber": 1, "ETag": etag}]}) == (404, "NoSuchUpload")
    assert s3_error(s3b.get_object, Bucket=b, Key="k") == (404, "NoSuchKey")
    s3b.delete_bucket(Bucket=b)


# ---------------------------------------------------------------- 2. Complete racing a part re-upload


def test_complete_racing_part_reupload_is_consistent(cluster, s3, bucket):
    """Complete validates the parts on one listing and then reads each part's record again; a part
    re-uploaded in between (other size and bytes) must give InvalidPart or the validated bytes,
    never an object whose size and chunks disagree. The parts but the last are copies of one
    5 MiB object (referenced, so cheap), which makes the gather long enough to race."""
    base = os.urandom(5 * MiB)
    s3.put_object(Bucket=bucket, Key="base", Body=base)
    small = [os.urandom(100), os.urandom(3000)]
    nbig, outcomes = 8, {"ok": 0, "InvalidPart": 0}
    deadline = time.monotonic() + 90
    for it in range(12):
        if time.monotonic() > deadline:
            break
        key = f"race{it}"
        uid = s3.create_multipart_upload(Bucket=bucket, Key=key)["UploadId"]
        done = []
        for n in range(1, nbig + 1):
            r = s3.upload_part_copy(Bucket=bucket, Key=key, UploadId=uid, PartNumber=n,
                                    CopySource={"Bucket": bucket, "Key": "base"})
            done.append({"PartNumber": n, "ETag": r["CopyPartResult"]["ETag"]})
        last = nbig + 1
        etag = s3.upload_part(Bucket=bucket, Key=key, UploadId=uid, PartNumber=last, Body=small[0])["ETag"]
        done.append({"PartNumber": last, "ETag": etag})
        stop = threading.Event()

        def flip(client=cluster.client(retries=False)):
            i = 0
            while not stop.is_set() and i < 400:
                i += 1
                try:
                    client.upload_part(Bucket=bucket, Key=key, UploadId=uid, PartNumber=last, Body=small[i % 2])
                except botocore.exceptions.ClientError:
                    return  # the upload completed: NoSuchUpload
                time.sleep(random.random() * 0.01)  # a mix of outcomes: both kinds get checked

        t = threading.Thread(target=flip)
        t.start()
        time.sleep(0.02)
        try:
            s3.complete_multipart_upload(Bucket=bucket, Key=key, UploadId=uid, MultipartUpload={"Parts": done})
            outcomes["ok"] += 1
            got = s3.get_object(Bucket=bucket, Key=key)
            body = got["Body"].read()
            assert got["ContentLength"] == len(body) == nbig * len(base) + len(small[0])
            assert body == base * nbig + small[0]
        except botocore.exceptions.ClientError as e:
            assert (err_status(e), err_code(e)) == (400, "InvalidPart")
            outcomes["InvalidPart"] += 1
            s3.abort_multipart_upload(Bucket=bucket, Key=key, UploadId=uid)
        finally:
            stop.set()
            t.join(60)
    assert sum(outcomes.values()) > 0, outcomes


# ---------------------------------------------------------------- 3, 4. touches before commit


def test_swift_copy_touches_referenced_chunks(cluster, swift):
    c = uniq("swcopy")
    swift.put_container(c)
    bodies = {"src-verb": os.urandom(300 * 1024), "src-hdr": os.urandom(300 * 1024)}
    chunks = {}
    for name, body in bodies.items():
        swift.put_object(c, name, body)
        chunks[name], out = locate(cluster, c, name)
        assert len(chunks[name]) >= 2 and all(len(d) == 3 for _, d in chunks[name]), out
    time.sleep(1.2)  # the node does not refresh a reference time younger than 1 s
    cutoff = time.time_ns()
    swift.copy_object(c, "src-verb", destination=f"/{c}/dst-verb")          # COPY
    swift.put_object(c, "dst-hdr", b"", headers={"X-Copy-From": f"/{c}/src-hdr"})  # PUT + X-Copy-From
    for name in bodies:
        swift.delete_object(c, name)
    assert_kept(cluster, chunks["src-verb"] + chunks["src-hdr"], cutoff)
    assert swift.get_object(c, "dst-verb")[1] == bodies["src-verb"]
    assert swift.get_object(c, "dst-hdr")[1] == bodies["src-hdr"]


def test_complete_touches_part_chunks(cluster, s3, bucket):
    parts = [os.urandom(5 * MiB), os.urandom(300 * 1024)]
    uid = s3.create_multipart_upload(Bucket=bucket, Key="old-parts")["UploadId"]
    done = [{"PartNumber": i, "ETag": s3.upload_part(Bucket=bucket, Key="old-parts", UploadId=uid, PartNumber=i,
                                                     Body=p)["ETag"]} for i, p in enumerate(parts, 1)]
    time.sleep(1.2)
    cutoff = time.time_ns()
    s3.complete_multipart_upload(Bucket=bucket, Key="old-parts", UploadId=uid, MultipartUpload={"Parts": done})
    chunks, out = locate(cluster, bucket, "old-parts")
    assert len(chunks) >= 2 and all(len(d) == 3 for _, d in chunks), out
    assert_kept(cluster, chunks, cutoff)
    assert s3.get_object(Bucket=bucket, Key="old-parts")["Body"].read() == b"".join(parts)


# ---------------------------------------------------------------- 5. ?partNumber on copies


def test_part_number_on_copies_of_multipart_objects(swift, s3, bucket):
    parts = [os.urandom(5 * MiB), os.urandom(4321)]
    uid = s3.create_multipart_upload(Bucket=bucket, Key="mp")["UploadId"]
    done = [{"PartNumber": i, "ETag": s3.upload_part(Bucket=bucket, Key="mp", UploadId=uid, PartNumber=i,
                                                     Body=p)["ETag"]} for i, p in enumerate(parts, 1)]
    etag = s3.complete_multipart_upload(Bucket=bucket, Key="mp", UploadId=uid,
                                        MultipartUpload={"Parts": done})["ETag"]
    other = uniq("cpdst")
    s3.create_bucket(Bucket=other)
    s3.copy_object(Bucket=other, Key="s3copy", CopySource={"Bucket": bucket, "Key": "mp"})
    swift.copy_object(bucket, "mp", destination=f"/{other}/swcopy")
    for key in ("s3copy", "swcopy"):
        h = s3.head_object(Bucket=other, Key=key, PartNumber=2)
        assert (h["ResponseMetadata"]["HTTPStatusCode"], h["ContentLength"], h["PartsCount"]) == \
            (206, len(parts[1]), 2), key
        assert h["ETag"] == etag
        g = s3.get_object(Bucket=other, Key=key, PartNumber=1)
        assert g["ResponseMetadata"]["HTTPStatusCode"] == 206 and g["Body"].read() == parts[0], key
