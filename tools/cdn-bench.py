#!/usr/bin/python3
"""tools/cdn-bench.py: hot-object GETs at the origin, as a CDN's misses hit it (issue 14,
docs/benchmarks.md "CDN origin").

Starts its own cluster (tools/run-cluster.sh, release binaries by default), stores one object of
--size bytes (1 MiB) in a public Swift container (X-Container-Read: .r:*) and has --clients (64)
threads GET it anonymously over keep-alive connections for --seconds (10), at most --max-requests
in all. Reports requests/s, MiB/s, the status counts, and the storage nodes' reads per request:
the bytes the node processes read (/proc/PID/io rchar: their chunk reads, plus the few bytes of
the requests; their answers go out with sendmsg, which rchar does not count) divided by the
object's size and the request count, so 1.0 means every GET read the whole object from the nodes
and request coalescing brings it below 1.

Every loop is bounded in count and time; the script stops its cluster.
Usage: tools/cdn-bench.py [--bin build/release/bin] [--port 29600] [--clients 64] [--seconds 10]
       [--size 1048576] [--max-requests 200000] [--json FILE]
"""
import argparse
import http.client
import json
import os
import shutil
import sys
import tempfile
import threading
import time

import benchcluster  # tools/benchcluster.py

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def call(port, method, path, headers=None, body=b""):
    c = http.client.HTTPConnection("127.0.0.1", port, timeout=60)
    try:
        c.request(method, path, body=body, headers=headers or {})
        r = c.getresponse()
        return r.status, dict((k.lower(), v) for k, v in r.getheaders()), r.read()
    finally:
        c.close()


def start_cluster(a, work):
    proc = benchcluster.start(a.bin, a.port, work, "cdn-bench")
    nodes = benchcluster.pids(proc, "onggi-node")
    if len(nodes) != 3:
        sys.exit(f"cdn-bench: found {len(nodes)} node processes, not 3")
    return proc, nodes


def node_rchar(pids):
    total = 0
    for pid in pids:
        with open(f"/proc/{pid}/io") as f:
            for line in f:
                if line.startswith("rchar:"):
                    total += int(line.split()[1])
    return total


def setup(port, size):
    st, h, _ = call(port, "GET", "/auth/v1.0", {"X-Auth-User": "dev:admin", "X-Auth-Key": "devsecret"})
    if st != 200:
        sys.exit(f"cdn-bench: Swift auth failed: {st}")
    tok, url = h["x-auth-token"], "/v1/" + h["x-storage-url"].split("/v1/", 1)[1]
    st, _, _ = call(port, "PUT", f"{url}/cdn", {"X-Auth-Token": tok, "X-Container-Read": ".r:*"})
    if st not in (201, 202):
        sys.exit(f"cdn-bench: cannot create the container: {st}")
    data = os.urandom(size)
    st, _, _ = call(port, "PUT", f"{url}/cdn/hot", {"X-Auth-Token": tok}, data)
    if st != 201:
        sys.exit(f"cdn-bench: cannot store the object: {st}")
    return f"{url}/cdn/hot", data


def client(port, path, size, stop_at, budget, counts, lock):
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=60)
    mine = {}
    while time.monotonic() < stop_at:
        with lock:
            if budget[0] <= 0:
                break
            budget[0] -= 1
        try:
            conn.request("GET", path)
            r = conn.getresponse()
            body = r.read()
            key = r.status if r.status != 200 or len(body) == size else "short"
        except (OSError, http.client.HTTPException):
            conn.close()
            conn = http.client.HTTPConnection("127.0.0.1", port, timeout=60)
            key = "error"
        mine[key] = mine.get(key, 0) + 1
    conn.close()
    with lock:
        for k, v in mine.items():
            counts[k] = counts.get(k, 0) + v


def main():
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--bin", default=os.path.join(ROOT, "build/release/bin"))
    p.add_argument("--port", type=int, default=29600, help="gateway port (nodes: +1..+3, https +4)")
    p.add_argument("--clients", type=int, default=64)
    p.add_argument("--seconds", type=float, default=10)
    p.add_argument("--size", type=int, default=1 << 20)
    p.add_argument("--max-requests", type=int, default=200000)
    p.add_argument("--json")
    a = p.parse_args()
    work = tempfile.mkdtemp(prefix="onggi-cdn.")
    proc = None
    try:
        proc, nodes = start_cluster(a, work)
        path, _ = setup(a.port, a.size)
        call(a.port, "GET", path)  # the record and bucket caches warm, as in steady state
        counts, lock, budget = {}, threading.Lock(), [a.max_requests]
        before, t0 = node_rchar(nodes), time.monotonic()
        stop_at = t0 + a.seconds
        threads = [threading.Thread(target=client, args=(a.port, path, a.size, stop_at, budget, counts, lock))
                   for _ in range(a.clients)]
        for t in threads:
            t.start()
        for t in threads:
            t.join(a.seconds + 120)
        elapsed = time.monotonic() - t0
        node_bytes = node_rchar(nodes) - before
    finally:
        if proc is not None:
            benchcluster.stop(proc)
        shutil.rmtree(work, ignore_errors=True)
    ok = counts.get(200, 0)
    total = sum(counts.values())
    res = {"bin": a.bin, "clients": a.clients, "size": a.size, "seconds": round(elapsed, 2), "requests": total,
           "status": {str(k): v for k, v in counts.items()}, "req_per_s": round(ok / elapsed, 1),
           "mib_per_s": round(ok * a.size / elapsed / (1 << 20), 1),
           "node_reads_per_request": round(node_bytes / a.size / max(total, 1), 3)}
    print(f"cdn-bench: {a.clients} clients, {a.size} B object, {elapsed:.1f} s: {total} GETs "
          f"({res['status']}), {res['req_per_s']} req/s, {res['mib_per_s']} MiB/s, "
          f"node reads per request {res['node_reads_per_request']} (whole-object equivalents)")
    if a.json:
        with open(a.json, "w") as f:
            json.dump(res, f, indent=1)
    return 0 if ok == total and total > 0 else 1


if __name__ == "__main__":
    sys.exit(main())
