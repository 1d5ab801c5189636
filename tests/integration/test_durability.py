"""Durability on a private cluster (1 MiB chunks): chunk placement, one node killed (everything
still works), two killed (PUT answers 503, never 200), restarts keep the data, a second gateway
serves the same data, one node frozen (every request still succeeds, the gateway waits for the
frozen node about once), and a full cluster restart loses nothing. Tests run in file order and build
on each other's data; `written` is what must survive."""

import hashlib
import os
import signal
import time

import pytest
from botocore.exceptions import ClientError

from conftest import MiB, err_code, err_status, locate

BUCKET = "durable"
NODE_TIMEOUT = 10.0  # the gateway's node timeout (CLUSTER_TIMEOUT_MS in gateway/main.c)
written = {}  # key -> sha256 of the bytes that must be readable from now on


def put(c, key, data):
    c.put_object(Bucket=BUCKET, Key=key, Body=data)
    written[key] = hashlib.sha256(data).hexdigest()


def check_all(c):
    for key, sha in sorted(written.items()):
        body = c.get_object(Bucket=BUCKET, Key=key)["Body"].read()
        assert hashlib.sha256(body).hexdigest() == sha, key
    listed = []
    for page in c.get_paginator("list_objects_v2").paginate(Bucket=BUCKET):
        listed += [o["Key"] for o in page.get("Contents", [])]
    assert set(written) <= set(listed)


@pytest.fixture(scope="module")
def dc(own_cluster):
    own_cluster.client().create_bucket(Bucket=BUCKET)
    return own_cluster


def strict(cluster, gw="gw"):
    """A client without retries: a failure must show, not be papered over."""
    return cluster.client(retries=False, gw=gw)


def test_chunks_on_three_distinct_nodes(dc):
    c = strict(dc)
    data = os.urandom(5 * MiB + 3)
    put(c, "multi", data)
    chunks, out = locate(dc, BUCKET, "multi")
    # Content-defined chunks of ~1 MiB on average (--chunk-size): several, sizes vary.
    assert len(chunks) >= 2, out
    for cid, devs in chunks:
        assert devs == {"d1", "d2", "d3"}, (cid, out)
    assert len({cid for cid, _ in chunks}) == len(chunks)
    for i in range(20):
        put(c, f"before/{i}", os.urandom(i * 1000 + 1))


def test_one_node_killed(dc):
    c = strict(dc)
    dc.kill("node3")
    try:
        check_all(c)
        put(c, "one-down/small", b"small while d3 is down")
        put(c, "one-down/multi", os.urandom(3 * MiB + 5))
        g = c.get_object(Bucket=BUCKET, Key="one-down/multi", Range=f"bytes={MiB - 2}-{MiB + 1}")
        assert g["ResponseMetadata"]["HTTPStatusCode"] == 206 and len(g["Body"].read()) == 4
        keys = [o["Key"] for o in c.list_objects_v2(Bucket=BUCKET, Prefix="one-down/")["Contents"]]
        assert keys == ["one-down/multi", "one-down/small"]
        c.put_object(Bucket=BUCKET, Key="one-down/tmp", Body=b"to delete")
        c.delete_object(Bucket=BUCKET, Key="one-down/tmp")
        with pytest.raises(ClientError) as e:
            c.get_object(Bucket=BUCKET, Key="one-down/tmp")
        assert err_code(e.value) == "NoSuchKey"
        c.copy_object(Bucket=BUCKET, Key="one-down/copy", CopySource={"Bucket": BUCKET, "Key": "before/5"})
        written["one-down/copy"] = written["before/5"]
    finally:
        dc.start_node(3)
    check_all(c)


def test_two_nodes_killed_put_503(dc):
    c = strict(dc)
    dc.kill("node2")
    dc.kill("node3")
    try:
        for key, data in [("two-down/small", b"x" * 10), ("two-down/chunked", os.urandom(2 * MiB))]:
            with pytest.raises(ClientError) as e:
                c.put_object(Bucket=BUCKET, Key=key, Body=data)
            assert err_status(e.value) == 503, e.value.response
            assert err_code(e.value) == "ServiceUnavailable"
        with pytest.raises(ClientError) as e:
            c.create_bucket(Bucket="two-down-bucket")
        assert err_status(e.value) == 503
    finally:
        dc.start_node(2)
        dc.start_node(3)
    check_all(c)
    put(c, "after-restart", b"all nodes back")
    check_all(c)


def test_second_gateway_same_data(dc):
    dc.start_gateway("gw2")
    try:
        c2 = strict(dc, gw="gw2")
        check_all(c2)
        put(c2, "via-gw2", os.urandom(MiB + 1))
        check_all(strict(dc))
        # auth state (users) is shared too: a user added now works on both gateways at once
        dc.add_user("lateuser", "latesecret", "acct-late")
        for gw in ("gw", "gw2"):
            late = dc.client(access="lateuser", secret="latesecret", gw=gw, retries=False)
            assert "Buckets" in late.list_buckets()
    finally:
        dc.stop("gw2")
    assert not [b for b in dc.bad_exits if b.startswith("gw2")]


def test_one_node_frozen(dc):
    """SIGSTOP: the node accepts connections and never answers. The gateway pays its timeout when
    it first waits for it, then skips it (writes return at a quorum, reads ask the other replicas,
    a probe now and then has a short timeout): every request succeeds, and at most a couple take
    as long as the node timeout. Outcomes and a bound on timeouts paid, not a speed benchmark."""
    c = strict(dc)
    put(c, "frozen/warm", b"all nodes up")
    node = dc.procs["node2"]
    node.send_signal(signal.SIGSTOP)
    slow, took_all = [], []
    try:
        for i in range(200):
            key, data = f"frozen/{i}", os.urandom(100 + i)
            t0 = time.monotonic()
            put(c, key, data)
            t1 = time.monotonic()
            assert c.get_object(Bucket=BUCKET, Key=key)["Body"].read() == data, key
            t2 = time.monotonic()
            took_all += [t1 - t0, t2 - t1]
            slow += [(key, op, round(t, 2)) for op, t in (("PUT", t1 - t0), ("GET", t2 - t1)) if t >= NODE_TIMEOUT]
    finally:
        node.send_signal(signal.SIGCONT)
    print(f"frozen node: {len(slow)} of {len(took_all)} requests took >= {NODE_TIMEOUT}s: {slow}; "
          f"{sum(t >= 0.9 for t in took_all)} took >= 0.9s; all {sum(took_all):.1f}s")
    assert len(slow) <= 2, slow
    check_all(c)


def test_full_cluster_restart(dc):
    dc.stop_all()
    assert not dc.bad_exits, dc.bad_exits
    dc.start()
    c = strict(dc)
    check_all(c)
    chunks, out = locate(dc, BUCKET, "multi")
    assert len(chunks) >= 2 and all(devs == {"d1", "d2", "d3"} for _, devs in chunks), out
