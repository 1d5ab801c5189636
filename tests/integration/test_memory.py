"""Gateway memory stays bounded over time: ONE long-lived gateway serves a sequence of large PUTs
and GETs, several at once, and afterwards its resident memory must be back near its idle size
instead of keeping what earlier requests used (docs/architecture.md, "Gateway memory").

This runs on its own cluster (default chunking, so records have their real size) and its own
gateway process, so no other test's traffic shows in the figures."""

import hashlib
import os
import threading
import time

import pytest

import conftest
from conftest import ACCESS, SECRET, ACCOUNT, MiB, Cluster, make_file

OBJECTS = 6        # 6 x 256 MiB PUT, then GET, on the same gateway
SIZE = 256 * MiB
CONNS = 3          # requests in flight at once (3 PUTs, then 3 GETs)
# What may stay resident after the sequence, above the gateway's RSS before it (MiB):
#  - gw_cluster's buffer pool keeps idle data-path buffers (4.5 MiB) with their pages only until
#    they have been idle for 1 s (the watcher trims every 0.5 s): after TRIM_WAIT_S, none;
#    before that trim existed the pool kept up to 4 idle with their pages: 18 MiB;
#  - the workers that ran requests keep their touched stack pages and some small blocks in
#    their malloc arenas, the event loop its socket buffer cache: 6 MiB of slack for them.
# Measured (release build, quiet 2 vCPU VM, 2026-12-06): idle 10.9, after the four steps 23.7 /
# 24.3 / 36.6 / 36.9, end 12.8, bound 16.9; the gateway before the pool's trim (e19769d): end
# 28.9, so it fails. Earlier (1 s wait, 18 MiB for 4 idle buffers, under load): idle 9.9, after
# the steps 22.7 / 23.3 / 28.1 / 27.7, bound 33.9. The same test on the gateway before gw_main's mallopt and the
# fixed-size socket reads in gw_http: idle 10.1, then 26.2 / 30.1 / 36.4 / 38.7 (growing with
# every step; a long sequence of 5 GiB steps reached 362 MiB), so it fails.
# ASan replaces malloc (mallopt does nothing there): its quarantine (16 MiB, set below),
# shadow memory and allocator caches come on top. Measured: idle 40, end 103 (idle + 63), so
# 64 MiB more for an ASan build: there the test checks the sequence works and memory stays in
# the same range, not the glibc fix itself.
BOUND_MIB = 6
TRIM_WAIT_S = 2.5
ASAN_EXTRA_MIB = 64


def _is_asan(path):
    with open(path, "rb") as f:
        return b"__asan_init" in f.read()


def _status(pid):
    out = {}
    with open(f"/proc/{pid}/status") as f:
        for line in f:
            key, _, val = line.partition(":")
            if key in ("VmRSS", "VmHWM"):
                out[key] = int(val.split()[0]) / 1024.0
    return out


@pytest.fixture(scope="module")
def mem_cluster(tmp_path_factory):
    c = Cluster(tmp_path_factory.mktemp("memcluster"))
    # A small quarantine, so an ASan gateway's RSS shows the server rather than the sanitizer.
    c.env["ASAN_OPTIONS"] = c.env.get("ASAN_OPTIONS", "") + ":quarantine_size_mb=16"
    conftest._active_clusters.append(c)
    try:
        c.start()
        c.add_user(ACCESS, SECRET, ACCOUNT)
    except BaseException:
        c.stop_all()
        conftest._active_clusters.remove(c)
        raise
    yield c
    conftest._shutdown(c)


def _in_parallel(fn, args):
    errors = []

    def run(a):
        try:
            fn(a)
        except BaseException as e:  # reported by the caller
            errors.append(e)

    threads = [threading.Thread(target=run, args=(a,)) for a in args]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=900)
    assert not any(t.is_alive() for t in threads), "a request did not finish in 900 s"
    if errors:
        raise errors[0]


def test_rss_bounded_after_large_put_get_sequence(mem_cluster, tmp_path):
    c = mem_cluster
    pid = c.procs["gw"].pid
    src = tmp_path / "src"
    md5, sha = make_file(src, SIZE)
    bucket = conftest.uniq("mem")
    c.client().create_bucket(Bucket=bucket)
    idle = _status(pid)["VmRSS"]

    def put(key):
        with open(src, "rb") as f:
            etag = c.client().put_object(Bucket=bucket, Key=key, Body=f)["ETag"]
        assert etag == f'"{md5}"'

    def get(key):
        body = c.client().get_object(Bucket=bucket, Key=key)["Body"]
        h, n = hashlib.sha256(), 0
        for piece in body.iter_chunks(4 * MiB):
            h.update(piece)
            n += len(piece)
        assert (n, h.hexdigest()) == (SIZE, sha)

    keys = [f"big-{i}" for i in range(OBJECTS)]
    samples = []
    for op in (put, get):
        for i in range(0, OBJECTS, CONNS):
            _in_parallel(op, keys[i:i + CONNS])
            samples.append(round(_status(pid)["VmRSS"], 1))
    time.sleep(TRIM_WAIT_S)  # buffers go back just after the last byte is sent, then idle 1 s
    end = _status(pid)
    bound = idle + BOUND_MIB + (ASAN_EXTRA_MIB if _is_asan(os.path.join(conftest.BIN, "onggi-gateway")) else 0)
    print(f"gateway RSS MiB: idle {idle:.1f}, after each step {samples}, end {end['VmRSS']:.1f} "
          f"(peak {end['VmHWM']:.1f}), bound {bound:.1f}")
    assert end["VmRSS"] <= bound, (f"gateway RSS {end['VmRSS']:.1f} MiB after the sequence, bound {bound:.1f} "
                                   f"(idle {idle:.1f}, after each step {samples})")
