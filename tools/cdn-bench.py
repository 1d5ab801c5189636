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

With --varnish, a real Varnish (Debian's varnishd, builtin VCL, --varnish-mem of storage) sits in
front of the gateway and the clients GET through it: --objects objects (default 1) drawn with a
Zipf skew (--zipf, s = 1.0: object i has weight 1/(i+1)), so the report adds the hit ratio as the
clients saw it (X-Varnish naming two transactions) and the GETs that reached the origin (the
gateway's /metrics).

Every loop is bounded in count and time; the script stops its cluster and Varnish.
Usage: tools/cdn-bench.py [--bin build/release/bin] [--port 29600] [--clients 64] [--seconds 10]
       [--size 1048576] [--objects 1] [--varnish [--varnish-mem 256m] [--zipf 1.0]]
       [--max-requests 200000] [--json FILE]
"""
import argparse
import http.client
import json
import os
import random
import shutil
import socket
import subprocess
import sys
import tempfile
import threading
import time

import benchcluster  # tools/benchcluster.py
from benchcluster import call

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
VARNISHD = "/usr/sbin/varnishd"


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


def setup(port, size, objects):
    st, h, _ = call(port, "GET", "/auth/v1.0", {"X-Auth-User": "dev:admin", "X-Auth-Key": "devsecret"})
    if st != 200:
        sys.exit(f"cdn-bench: Swift auth failed: {st}")
    tok, url = h["x-auth-token"], "/v1/" + h["x-storage-url"].split("/v1/", 1)[1]
    st, _, _ = call(port, "PUT", f"{url}/cdn", {"X-Auth-Token": tok, "X-Container-Read": ".r:*"})
    if st not in (201, 202):
        sys.exit(f"cdn-bench: cannot create the container: {st}")
    paths = []
    for i in range(objects):
        st, _, _ = call(port, "PUT", f"{url}/cdn/hot{i}", {"X-Auth-Token": tok}, os.urandom(size))
        if st != 201:
            sys.exit(f"cdn-bench: cannot store object {i}: {st}")
        paths.append(f"{url}/cdn/hot{i}")
    return paths


def start_varnish(a, work):
    """varnishd -F on a.port + 5 in front of the gateway (builtin VCL, like a CDN's edge)."""
    if not os.access(VARNISHD, os.X_OK):
        sys.exit("cdn-bench: --varnish needs varnishd (apt-get install varnish; tools/deps.sh installs it)")
    vport = a.port + 5
    with open(os.path.join(work, "default.vcl"), "w") as f:
        f.write('vcl 4.1;\nbackend default { .host = "127.0.0.1"; .port = "%d"; }\n' % a.port)
    log = open(os.path.join(work, "varnishd.log"), "w")
    proc = subprocess.Popen([VARNISHD, "-F", "-j", "none", "-T", "none", "-n", os.path.join(work, "varnish"), "-a",
                             f"127.0.0.1:{vport}", "-f", os.path.join(work, "default.vcl"), "-s",
                             f"malloc,{a.varnish_mem}", "-p", "default_ttl=600"], stdout=log,
                            stderr=subprocess.STDOUT)
    for _ in range(300):
        try:
            socket.create_connection(("127.0.0.1", vport), 1).close()
            return proc, vport
        except OSError:
            if proc.poll() is not None:
                sys.exit("cdn-bench: varnishd exited (see varnishd.log)")
            time.sleep(0.1)
    sys.exit("cdn-bench: varnishd did not listen within 30 s")


def origin_gets(port):
    """Swift object GETs the gateway answered (its /metrics)."""
    _, _, body = call(port, "GET", "/metrics")
    prefix = 'onggi_gateway_requests_total{api="swift",op="GET object"'
    return sum(int(float(line.rsplit(" ", 1)[1])) for line in body.decode().splitlines() if line.startswith(prefix))


def client(port, paths, weights, seed, size, stop_at, budget, counts, lock):
    """GETs paths (drawn by weights) until stop_at or the shared budget runs out; counts statuses,
    and "hit" for answers Varnish served from its cache."""
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=60)
    mine, rnd = {}, random.Random(seed)
    while time.monotonic() < stop_at:
        with lock:
            if budget[0] <= 0:
                break
            budget[0] -= 1
        try:
            conn.request("GET", rnd.choices(paths, weights)[0])
            r = conn.getresponse()
            body = r.read()
            key = r.status if r.status != 200 or len(body) == size else "short"
            if len((r.getheader("X-Varnish") or "").split()) == 2:
                mine["hit"] = mine.get("hit", 0) + 1
        except (OSError, http.client.HTTPException):
            conn.close()
            conn = http.client.HTTPConnection("127.0.0.1", port, timeout=60)
            key = "error"
        mine[key] = mine.get(key, 0) + 1
    conn.close()
    with lock:
        for k, v in mine.items():
            counts[k] = counts.get(k, 0) + v


def run_clients(a, port, paths):
    """The clients' phase against port; returns (status and hit counts, seconds)."""
    weights = [1 / (i + 1) ** a.zipf for i in range(len(paths))]
    counts, lock, budget = {}, threading.Lock(), [a.max_requests]
    t0 = time.monotonic()
    stop_at = t0 + a.seconds
    threads = [threading.Thread(target=client, args=(port, paths, weights, n, a.size, stop_at, budget, counts, lock))
               for n in range(a.clients)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(a.seconds + 120)
    return counts, time.monotonic() - t0


def main():
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--bin", default=os.path.join(ROOT, "build/release/bin"))
    p.add_argument("--port", type=int, default=29600, help="gateway port (nodes: +1..+3, https +4, Varnish +5)")
    p.add_argument("--clients", type=int, default=64)
    p.add_argument("--seconds", type=float, default=10)
    p.add_argument("--size", type=int, default=1 << 20)
    p.add_argument("--objects", type=int, default=1)
    p.add_argument("--zipf", type=float, default=1.0)
    p.add_argument("--varnish", action="store_true")
    p.add_argument("--varnish-mem", default="256m")
    p.add_argument("--max-requests", type=int, default=200000)
    p.add_argument("--json")
    a = p.parse_args()
    work = tempfile.mkdtemp(prefix="onggi-cdn.")
    proc = varnish = None
    try:
        proc, nodes = start_cluster(a, work)
        paths = setup(a.port, a.size, a.objects)
        call(a.port, "GET", paths[0])  # the record and bucket caches warm, as in steady state
        port = a.port
        if a.varnish:
            varnish, port = start_varnish(a, work)
        before, gets_before = node_rchar(nodes), origin_gets(a.port)
        counts, elapsed = run_clients(a, port, paths)
        node_bytes, origin = node_rchar(nodes) - before, origin_gets(a.port) - gets_before
    finally:
        if varnish is not None:
            varnish.terminate()
            varnish.wait(30)
        if proc is not None:
            benchcluster.stop(proc)
        shutil.rmtree(work, ignore_errors=True)
    hits = counts.pop("hit", 0)
    ok = counts.get(200, 0)
    total = sum(counts.values())
    res = {"bin": a.bin, "clients": a.clients, "size": a.size, "objects": a.objects, "varnish": a.varnish,
           "seconds": round(elapsed, 2), "requests": total, "status": {str(k): v for k, v in counts.items()},
           "req_per_s": round(ok / elapsed, 1), "mib_per_s": round(ok * a.size / elapsed / (1 << 20), 1),
           "origin_gets": origin, "node_reads_per_request": round(node_bytes / a.size / max(total, 1), 3)}
    if a.varnish:
        res["hit_ratio"] = round(hits / max(total, 1), 4)
    print(f"cdn-bench: {a.clients} clients, {a.objects} object(s) of {a.size} B"
          f"{' through Varnish' if a.varnish else ''}, {elapsed:.1f} s: {total} GETs "
          f"({res['status']}), {res['req_per_s']} req/s, {res['mib_per_s']} MiB/s, {origin} GETs at the origin, "
          f"node reads per request {res['node_reads_per_request']} (whole-object equivalents)"
          + (f", hit ratio {res['hit_ratio']}" if a.varnish else ""))
    if a.json:
        with open(a.json, "w") as f:
            json.dump(res, f, indent=1)
    return 0 if ok == total and total > 0 else 1


if __name__ == "__main__":
    sys.exit(main())
