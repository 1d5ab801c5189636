"""Anti-entropy (docs/architecture.md, "Anti-entropy"): a node that was down while objects were
written gets what it missed from its peers' replicators, and handoff copies go home and are
dropped. Private clusters with a 1 s replication interval; `onggi-admin replication` is the judge."""

import hashlib
import json
import os
import re
import shutil
import time

import pytest

from conftest import MiB, _boot, _shutdown
from onggi_sign import xxh3_64

REPAIR_TIMEOUT = 60.0
NODE_ARGS = ("--repl-interval", "1")


def repl_report(c):
    r = c.admin("replication", check=False)
    m = re.search(r"disagree=(\d+) unknown=(\d+) under_replicated=(\d+)", r.stdout)
    assert m, f"replication output: {r.stdout}\n{r.stderr}"
    return r.returncode, int(m.group(1)), int(m.group(2)), int(m.group(3)), r.stdout


def dev_stat(c, i):
    status, _, body = c.node_request(i, "GET", f"/d{i}/stat")
    assert status == 200
    return json.loads(body)


def wait_repaired(c, check=lambda: True):
    """Polls until every device answers, no partition's primaries disagree, nothing is
    under-replicated and check() holds. Returns the seconds it took."""
    t0 = time.monotonic()
    last = None
    while time.monotonic() - t0 < REPAIR_TIMEOUT:
        last = repl_report(c)
        rc, disagree, unknown, under, _ = last
        if rc == 0 and disagree == 0 and unknown == 0 and under == 0 and check():
            return time.monotonic() - t0
        time.sleep(0.5)
    raise AssertionError(f"not repaired within {REPAIR_TIMEOUT}s: {last}\n{c.all_logs()}")


def write_objects(s3, bucket, n, prefix):
    data = {}
    for i in range(n):
        body = os.urandom(3 * MiB + 1000 if i % 4 == 0 else 1000 + i)
        key = f"{prefix}{i}"
        s3.put_object(Bucket=bucket, Key=key, Body=body)
        data[key] = hashlib.sha256(body).hexdigest()
    return data


def read_back(s3, bucket, data):
    for key, sha in data.items():
        assert hashlib.sha256(s3.get_object(Bucket=bucket, Key=key)["Body"].read()).hexdigest() == sha, key


@pytest.fixture(scope="module")
def rc3(tmp_path_factory):
    c = _boot(tmp_path_factory.mktemp("repair3"), chunk_size=MiB, node_args=NODE_ARGS)
    yield c
    _shutdown(c)


def test_restarted_node_catches_up(rc3):
    s3 = rc3.client()
    s3.create_bucket(Bucket="heal")
    wait_repaired(rc3)
    rc3.kill("node3")
    data = write_objects(s3, "heal", 12, "missed-")
    s3.delete_object(Bucket="heal", Key="missed-1")
    del data["missed-1"]
    rc, _, unknown, _, _ = repl_report(rc3)
    assert rc == 1 and unknown > 0  # node3 is down: its partitions cannot be judged
    rc3.start_node(3)

    def counts_equal():
        chunks = [dev_stat(rc3, i)["chunks"] for i in (1, 2, 3)]
        records = [dev_stat(rc3, i)["records"] for i in (1, 2, 3)]
        return len(set(chunks)) == 1 and len(set(records)) == 1

    took = wait_repaired(rc3, counts_equal)
    print(f"time to repair after restart: {took:.1f}s")
    st = dev_stat(rc3, 3)
    assert st["repl_passes"] >= 1
    pushed = sum(dev_stat(rc3, i)["repl_items_pushed"] for i in (1, 2))
    assert pushed > 0
    read_back(s3, "heal", data)


def test_replaced_empty_disk_is_refilled(rc3):
    """node3's device is wiped (a replaced disk): its peers see its empty summaries and refill it."""
    before = [dev_stat(rc3, i) for i in (1, 2)]
    rc3.stop("node3")
    shutil.rmtree(os.path.join(rc3.root, "node3"))
    rc3.start_node(3)

    def refilled():
        st = dev_stat(rc3, 3)
        return st["chunks"] == before[0]["chunks"] and st["records"] == before[0]["records"]

    took = wait_repaired(rc3, refilled)
    print(f"time to refill an empty disk: {took:.1f}s")


def test_swept_chunk_is_not_pushed_back(rc3):
    """A replica push of a chunk gc swept within the hour is refused (409), so a device not swept
    yet cannot bring garbage back; a client write of it is accepted."""
    body = os.urandom(5000)
    cid = hashlib.sha256(body).hexdigest()
    xx = {"X-Onggi-Xxh3": f"{xxh3_64(body):016x}"}
    assert rc3.node_request(1, "PUT", f"/d1/chunk/{cid}", xx, body)[0] == 201
    assert rc3.node_request(1, "DELETE", f"/d1/chunk/{cid}?older_than={2**63}")[0] == 204
    assert rc3.node_request(1, "PUT", f"/d1/chunk/{cid}", {**xx, "X-Onggi-Replica": "1"}, body)[0] == 409
    assert rc3.node_request(1, "PUT", f"/d1/chunk/{cid}", xx, body)[0] == 201
    assert rc3.node_request(1, "DELETE", f"/d1/chunk/{cid}")[0] == 204
    assert rc3.node_request(1, "PUT", f"/d1/chunk/{cid}", {**xx, "X-Onggi-Replica": "1"}, body)[0] == 201


@pytest.fixture(scope="module")
def rc4(tmp_path_factory):
    c = _boot(tmp_path_factory.mktemp("repair4"), chunk_size=MiB, nodes=4, node_args=NODE_ARGS)
    yield c
    _shutdown(c)


def test_handoffs_go_home(rc4):
    s3 = rc4.client()
    s3.create_bucket(Bucket="handoff")
    wait_repaired(rc4)
    rc4.kill("node4")
    data = write_objects(s3, "handoff", 12, "h-")
    rc4.start_node(4)
    took = wait_repaired(rc4, lambda: all(dev_stat(rc4, i)["repl_handoff_items"] == 0 for i in (1, 2, 3, 4)))
    print(f"time to move handoffs home: {took:.1f}s")
    removed = sum(dev_stat(rc4, i)["repl_items_removed"] for i in (1, 2, 3, 4))
    assert removed > 0, "no handoff copy was written or dropped"
    read_back(s3, "handoff", data)


@pytest.fixture(scope="module")
def rct(tmp_path_factory):
    c = _boot(tmp_path_factory.mktemp("reclaim"), node_args=NODE_ARGS + ("--reclaim-age", "2"))
    yield c
    _shutdown(c)


def test_old_tombstones_are_reclaimed_everywhere(rct):
    s3 = rct.client()
    s3.create_bucket(Bucket="reclaim")
    s3.put_object(Bucket="reclaim", Key="gone", Body=b"x" * 100)
    s3.put_object(Bucket="reclaim", Key="kept", Body=b"y" * 100)
    before = [dev_stat(rct, i)["records"] for i in (1, 2, 3)]
    s3.delete_object(Bucket="reclaim", Key="gone")
    # The tombstone replaces the record (same count), then is purged once older than 2 s and
    # held by every primary: one record fewer on every device, and the object stays deleted.
    took = wait_repaired(rct, lambda: [dev_stat(rct, i)["records"] for i in (1, 2, 3)] == [n - 1 for n in before])
    print(f"time to reclaim the tombstone: {took:.1f}s")
    assert sum(dev_stat(rct, i)["repl_items_removed"] for i in (1, 2, 3)) >= 3
    listed = [o["Key"] for o in s3.list_objects_v2(Bucket="reclaim").get("Contents", [])]
    assert listed == ["kept"]
    with pytest.raises(Exception):
        s3.head_object(Bucket="reclaim", Key="gone")
