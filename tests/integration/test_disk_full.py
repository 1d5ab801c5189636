"""A node whose disk is full: node3's directory is a 200 MiB tmpfs, less than the room a node keeps
free for RocksDB, so node3 refuses every chunk and record write with 507 while the cluster goes on
with the other replicas. node3 says so in /d3/stat and /health, logs it once (not per request),
does not report growth for what it did not store, and stores again once the file system grows.
Mounting needs root: skipped elsewhere."""

import hashlib
import json
import os
import subprocess

import pytest

from conftest import MiB, _boot, _shutdown

BUCKET = "fulldisk"


@pytest.fixture(scope="module")
def fc(tmp_path_factory):
    root = tmp_path_factory.mktemp("fullcluster")
    mnt = root / "node3"
    mnt.mkdir()
    if os.geteuid() != 0:
        pytest.skip("mounting a small tmpfs needs root")
    r = subprocess.run(["mount", "-t", "tmpfs", "-o", "size=200m", "tmpfs", str(mnt)], capture_output=True,
                       text=True)
    if r.returncode != 0:
        pytest.skip(f"cannot mount a tmpfs: {r.stderr.strip()}")
    try:
        c = _boot(root, chunk_size=MiB)
        c.mnt = str(mnt)
        try:
            c.client().create_bucket(Bucket=BUCKET)
            yield c
        finally:
            _shutdown(c)
    finally:
        subprocess.run(["umount", "-l", str(mnt)], capture_output=True)


def stat3(c):
    status, _, body = c.node_request(3, "GET", "/d3/stat")
    assert status == 200, body
    return json.loads(body)


def test_full_node_refuses_and_says_so(fc):
    c = fc.client(retries=False)
    data = {f"k{i}": os.urandom(3 * MiB + i) for i in range(3)}
    for key, body in data.items():
        c.put_object(Bucket=BUCKET, Key=key, Body=body)
    for key, body in data.items():
        got = c.get_object(Bucket=BUCKET, Key=key)["Body"].read()
        assert hashlib.sha256(got).digest() == hashlib.sha256(body).digest(), key

    st = stat3(fc)
    assert st["state"] == "full", st
    assert st["last_error"] == os.strerror(28), st  # ENOSPC
    assert st["chunks"] == 0 and st["volume_bytes"] == 0, st
    assert st["free_bytes"] < 256 * MiB, st
    status, _, body = fc.node_request(3, "GET", "/health")
    assert (status, body) == (200, b"degraded\nd3 full\n")
    with open(fc.log_path("node3"), "rb") as f:
        assert f.read().count(b"device d3 is full") == 1

    # Space comes back: node3 stores again, and says so.
    subprocess.run(["mount", "-o", "remount,size=2g", fc.mnt], check=True)
    body = os.urandom(2 * MiB)
    c.put_object(Bucket=BUCKET, Key="after", Body=body)
    st = stat3(fc)
    assert st["state"] == "ok", st
    assert st["chunks"] > 0, st
    assert c.get_object(Bucket=BUCKET, Key="after")["Body"].read() == body
