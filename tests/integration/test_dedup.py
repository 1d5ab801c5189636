"""Deduplication and garbage collection on a real cluster (boto3):

* identical and overlapping content is stored once (stats: logical vs unique bytes);
* a randomized concurrent workload of puts/overwrites/deletes of overlapping content, with a
  gateway SIGKILLed mid-workload (uploads cut off) and a gc with a short grace running
  concurrently, after which every live object reads back byte-exact and, after a final gc,
  physical chunk bytes == the bytes live objects reference x 3 replicas, and the disk blocks the
  volumes occupy shrink to about that too (deleted chunks are punched out of their volumes);
* CopyObject keeps the chunks it references alive after the source is deleted and collected.

Loops are bounded (threads x ops) and everything talks to 127.0.0.1 only."""

import random
import re
import subprocess
import threading
import time

import botocore.exceptions
import pytest

from conftest import MiB, _boot, _shutdown, uniq

THREADS = 4
OPS_PER_THREAD = 25
KEYS_PER_THREAD = 6


@pytest.fixture(scope="module")
def dcluster(tmp_path_factory):
    c = _boot(tmp_path_factory.mktemp("dedup"))
    yield c
    _shutdown(c)


def stats(cluster):
    out = cluster.admin("stats").stdout
    vals = {}
    for line in out.splitlines():
        if line.startswith(("total ", "physical ", "disk ")):
            words = line.split()[1:]
            for k, v in zip(words[::2], words[1::2]):
                vals[k] = float(v) if "." in v else int(v)
    return vals, out


def gc(cluster, grace, check=True):
    return cluster.admin("gc", "--grace", str(grace), check=check)


def blocks(seed, n, size):
    rnd = random.Random(seed)
    return [rnd.randbytes(size) for _ in range(n)]


def test_identical_and_shifted_content_stored_once(dcluster):
    s3 = dcluster.client()
    b = uniq("dd")
    s3.create_bucket(Bucket=b)
    base = random.Random(1).randbytes(6 * MiB)
    s3.put_object(Bucket=b, Key="a", Body=base)
    s3.put_object(Bucket=b, Key="copy-of-a", Body=base)
    # One byte inserted near the front: fixed blocks would all shift; content-defined chunks do not.
    s3.put_object(Bucket=b, Key="a-shifted", Body=base[:1000] + b"x" + base[1000:])
    vals, out = stats(dcluster)
    assert vals["logical_bytes"] >= 18 * MiB, out
    # Three 6 MiB objects, about one chunk of new bytes for the shifted one.
    assert vals["unique_bytes"] <= 6 * MiB + 1 * MiB, out
    for k, want in (("a", base), ("a-shifted", base[:1000] + b"x" + base[1000:])):
        assert s3.get_object(Bucket=b, Key=k)["Body"].read() == want
    for k in ("a", "copy-of-a", "a-shifted"):
        s3.delete_object(Bucket=b, Key=k)


def test_randomized_workload_with_gateway_kill_then_gc(dcluster):
    s3 = dcluster.client(retries=False)
    b = uniq("ddw")
    s3.create_bucket(Bucket=b)
    pool = blocks(7, 12, 96 * 1024)  # shared material: objects overlap heavily

    def body(rnd):
        parts = [pool[rnd.randrange(len(pool))] for _ in range(rnd.randint(1, 14))]
        data = bytearray(b"".join(parts))
        if data and rnd.random() < 0.5:  # a small edit somewhere
            at = rnd.randrange(len(data))
            data[at:at] = rnd.randbytes(rnd.randint(1, 300))
        if rnd.random() < 0.1:
            data = bytearray(rnd.randbytes(rnd.randint(0, 8000)))  # inline-sized
        return bytes(data)

    expected = {}  # key -> bytes (None = deleted); unknown outcomes are settled after the run
    uncertain = set()
    lock = threading.Lock()
    kill_at = threading.Event()

    def worker(t):
        rnd = random.Random(100 + t)
        keys = [f"t{t}/k{i}" for i in range(KEYS_PER_THREAD)]
        for op in range(OPS_PER_THREAD):
            if t == 0 and op == OPS_PER_THREAD // 2:
                kill_at.set()
            k = rnd.choice(keys)
            try:
                if rnd.random() < 0.25:
                    s3.delete_object(Bucket=b, Key=k)
                    with lock:
                        expected[k] = None
                        uncertain.discard(k)
                else:
                    data = body(rnd)
                    s3.put_object(Bucket=b, Key=k, Body=data)
                    with lock:
                        expected[k] = data
                        uncertain.discard(k)
            except (botocore.exceptions.BotoCoreError, botocore.exceptions.ClientError):
                with lock:
                    uncertain.add(k)  # cut off by the kill: old or new version, decided below
                time.sleep(0.2)

    def big_upload():
        # A larger upload in flight when the gateway dies leaves unreferenced chunks behind.
        try:
            s3.put_object(Bucket=b, Key="big", Body=random.Random(5).randbytes(24 * MiB))
            with lock:
                expected["big"] = random.Random(5).randbytes(24 * MiB)
        except (botocore.exceptions.BotoCoreError, botocore.exceptions.ClientError):
            with lock:
                uncertain.add("big")

    threads = [threading.Thread(target=worker, args=(t,)) for t in range(THREADS)]
    for th in threads:
        th.start()
    assert kill_at.wait(120)
    up = threading.Thread(target=big_upload)
    up.start()
    time.sleep(0.3)
    dcluster.kill("gw")
    time.sleep(0.5)
    dcluster.start_gateway("gw")
    # gc with a short grace while the workload goes on: it must not take anything live or in flight.
    r = gc(dcluster, 5, check=False)
    assert "nothing deleted" not in r.stderr, r.stderr
    for th in threads + [up]:
        th.join(300)
        assert not th.is_alive()

    # Settle keys whose last operation had no answer: write them once more.
    for k in sorted(uncertain):
        data = random.Random(k).randbytes(50000)
        s3.put_object(Bucket=b, Key=k, Body=data)
        expected[k] = data

    def verify():
        for k, want in sorted(expected.items()):
            if want is None:
                with pytest.raises(botocore.exceptions.ClientError):
                    s3.head_object(Bucket=b, Key=k)
            else:
                got = s3.get_object(Bucket=b, Key=k)["Body"].read()
                assert got == want, k

    verify()
    before, out_before = stats(dcluster)
    time.sleep(2.5)  # past the node's reference-time slack and the grace below
    r = gc(dcluster, 2)
    after, out_after = stats(dcluster)
    verify()
    assert after["physical_over_needed"] == 1.0, out_after + r.stdout
    assert after["chunk_bytes"] == 3 * after["referenced_chunk_bytes"], out_after + r.stdout
    assert after["chunk_bytes"] <= before["chunk_bytes"], (out_before, out_after)
    # Space: the sweep punched the deleted chunks out of the volumes, so what the disks hold is what
    # live chunks need x 3, plus at most a partly used file-system block at each end of every chunk
    # (chunks are packed back to back, not block-aligned) and its 48-byte header.
    assert after["dead_bytes"] == 0, out_after
    need = 3 * (after["referenced_chunk_bytes"] + after["referenced_chunks"] * (48 + 2 * 4096))
    assert after["allocated_bytes"] <= need, out_after
    assert after["allocated_bytes"] >= 3 * after["referenced_chunk_bytes"], out_after
    assert after["allocated_bytes"] < before["allocated_bytes"], (out_before, out_after)


def test_copy_survives_source_delete_and_gc(dcluster):
    s3 = dcluster.client()
    b = uniq("ddc")
    s3.create_bucket(Bucket=b)
    data = random.Random(3).randbytes(3 * MiB + 17)
    s3.put_object(Bucket=b, Key="src", Body=data)
    s3.copy_object(Bucket=b, Key="dst", CopySource={"Bucket": b, "Key": "src"})
    s3.delete_object(Bucket=b, Key="src")
    time.sleep(1.5)
    gc(dcluster, 1)
    assert s3.get_object(Bucket=b, Key="dst")["Body"].read() == data
    s3.delete_object(Bucket=b, Key="dst")
    time.sleep(1.5)
    r = gc(dcluster, 1)
    assert re.search(r"deleted [1-9]", r.stdout), r.stdout
