"""restic (Debian's /usr/bin/restic, S3 backend) on a versioned bucket with an Object Lock default
retention (issue 12): backups work; `restic forget --prune` cannot remove the locked data (what it
deletes without a version id only gets a delete marker; a version's own delete is refused), so every
pack, index and snapshot version stays listed and readable by its version id; `restic check
--read-data` passes; a lifecycle pass that makes the pruned versions due skips them as locked;
removing the delete markers brings the forgotten snapshot back, restorable."""
import hashlib
import json
import os
import subprocess
import time

import botocore
import pytest

from conftest import ACCESS, REGION, SECRET, err_code, make_file, uniq

PASSWORD = "restic-test-password"


def restic(cluster, bucket, cache, *args, check=True):
    env = dict(os.environ, AWS_ACCESS_KEY_ID=ACCESS, AWS_SECRET_ACCESS_KEY=SECRET, AWS_DEFAULT_REGION=REGION,
               RESTIC_PASSWORD=PASSWORD, RESTIC_REPOSITORY=f"s3:{cluster.endpoint()}/{bucket}",
               RESTIC_CACHE_DIR=str(cache))
    r = subprocess.run(["/usr/bin/restic", *args], capture_output=True, text=True, env=env, timeout=600)
    if check and r.returncode != 0:
        raise AssertionError(f"restic {' '.join(args)} -> {r.returncode}\n{r.stdout}\n{r.stderr}")
    return r


def all_versions(s3, bucket):
    """{(key, version id): is a delete marker} of every version in the bucket (all pages)."""
    out = {}
    for page in s3.get_paginator("list_object_versions").paginate(Bucket=bucket):
        out.update({(v["Key"], v["VersionId"]): False for v in page.get("Versions", [])})
        out.update({(m["Key"], m["VersionId"]): True for m in page.get("DeleteMarkers", [])})
    return out


def tree_digests(root):
    return {os.path.relpath(os.path.join(d, f), root): hashlib.sha256(open(os.path.join(d, f), "rb").read()).hexdigest()
            for d, _, files in os.walk(root) for f in files}


def test_restic_forget_prune_cannot_remove_locked_data(cluster, s3, tmp_path):
    bucket = uniq("restic")
    s3.create_bucket(Bucket=bucket, ObjectLockEnabledForBucket=True)
    s3.put_object_lock_configuration(Bucket=bucket, ObjectLockConfiguration={
        "ObjectLockEnabled": "Enabled", "Rule": {"DefaultRetention": {"Mode": "COMPLIANCE", "Days": 1}}})
    cache, src = tmp_path / "cache", tmp_path / "src"
    (src / "d").mkdir(parents=True)
    make_file(str(src / "a.bin"), 3 << 20)
    make_file(str(src / "d" / "b.bin"), 200 << 10)
    (src / "d" / "note.txt").write_text("first backup\n")
    first = tree_digests(src)
    restic(cluster, bucket, cache, "init")
    restic(cluster, bucket, cache, "backup", "--tag", "first", str(src))
    os.remove(src / "a.bin")  # the second snapshot no longer needs a.bin's data: prune wants it gone
    (src / "d" / "note.txt").write_text("second backup\n")
    restic(cluster, bucket, cache, "backup", "--tag", "second", str(src))
    snaps = json.loads(restic(cluster, bucket, cache, "snapshots", "--json").stdout)
    assert len(snaps) == 2
    first_id = [s["id"] for s in snaps if "first" in s.get("tags", [])][0]
    before = {kv for kv, dm in all_versions(s3, bucket).items() if not dm and not kv[0].startswith("locks/")}
    assert any(k.startswith("data/") for k, _ in before) and any(k.startswith("snapshots/") for k, _ in before)
    # Every version restic wrote carries the bucket's default retention.
    k, vid = sorted(before)[0]
    ret = s3.get_object_retention(Bucket=bucket, Key=k, VersionId=vid)["Retention"]
    assert ret["Mode"] == "COMPLIANCE"

    # forget + prune: restic deletes without version ids (delete markers) or fails; either way
    # no locked version is gone.
    restic(cluster, bucket, cache, "forget", first_id, "--prune", check=False)
    after = all_versions(s3, bucket)
    for key, vid in before:
        assert after.get((key, vid)) is False, f"{key} {vid} was removed"
        body = s3.get_object(Bucket=bucket, Key=key, VersionId=vid)["Body"].read()
        if key.startswith(("data/", "index/", "snapshots/")):  # restic names these by their SHA-256
            assert hashlib.sha256(body).hexdigest() == key.rsplit("/", 1)[1]
    # Nor can a version be removed by its id (what a ransomware with the keys would try next).
    key, vid = sorted(k for k in before if k[0].startswith("data/"))[0]
    with pytest.raises(botocore.exceptions.ClientError) as e:
        s3.delete_object(Bucket=bucket, Key=key, VersionId=vid)
    assert err_code(e.value) == "AccessDenied"
    r = cluster.aws("s3api", "delete-object", "--bucket", bucket, "--key", key, "--version-id", vid, check=False)
    assert r.returncode != 0 and "AccessDenied" in r.stderr
    restic(cluster, bucket, cache, "check", "--read-data")

    # Nor does a lifecycle pass whose NoncurrentVersionExpiration makes the pruned versions due
    # (a day of 1 s here, --day-seconds): it skips them as locked.
    s3.put_bucket_lifecycle_configuration(Bucket=bucket, LifecycleConfiguration={"Rules": [
        {"ID": "nc", "Filter": {"Prefix": ""}, "Status": "Enabled", "NoncurrentVersionExpiration": {"NoncurrentDays": 1}}]})
    time.sleep(2.5)
    out = cluster.admin("lifecycle", "--day-seconds", "1", "--rate", "1000").stdout
    assert f"skipped locked version {bucket}/data/" in out and f"expired noncurrent version {bucket}/" not in out
    after = all_versions(s3, bucket)
    assert all(after.get(kv) is False for kv in before)
    s3.delete_bucket_lifecycle(Bucket=bucket)

    # Recovery: the delete markers over what prune removed taken away (not those over restic's own
    # lock files: that would bring back stale locks), the forgotten snapshot is back and restores
    # as it was.
    pruned = [kv for kv, dm in all_versions(s3, bucket).items() if dm and not kv[0].startswith("locks/")]
    assert any(k.startswith("snapshots/") for k, _ in pruned), "restic's forget removed no snapshot file"
    for key, vid in pruned:
        s3.delete_object(Bucket=bucket, Key=key, VersionId=vid)
    snaps = json.loads(restic(cluster, bucket, cache, "snapshots", "--json").stdout)
    assert first_id in [s["id"] for s in snaps]
    restic(cluster, bucket, cache, "check", "--read-data")
    out = tmp_path / "restore"
    restic(cluster, bucket, cache, "restore", first_id, "--target", str(out))
    assert tree_digests(os.path.join(out, os.path.relpath(src, "/"))) == first
