#!/usr/bin/python3
"""tools/quota-bench.py: 4 KiB PUT throughput under quotas (issue 16 part 4, docs/benchmarks.md
"Quotas").

For each --bin (alternating, --rounds times: A, B, A, B ...) starts its own cluster
(tools/run-cluster.sh) and runs onggi-bench 4 KiB PUTs (--conns connections, --seconds per phase, at
most --count PUTs) into
  (a) a bucket without quota, in an account without quota,
  (b) a bucket with X-Container-Meta-Quota-Bytes and -Count (set through Swift),
  (c) a bucket of an account with X-Account-Meta-Quota-Bytes (set by a reseller admin) that holds
      --buckets buckets (created first through Swift, bounded),
and reports ops/s, the gateway's node round trips per PUT (onggi_gateway_node_calls_total, a count
that does not depend on the load) and the load average beside each phase. A binary whose gateway
has --quota-cache-ms also runs each phase through a second gateway of the same cluster started with
--quota-cache-ms 0 (every check reads what it needs from the nodes, as before the cache): the
"uncached" rows, measured in the same minutes.

Every loop is bounded in count and time; the script stops its clusters.
Usage: tools/quota-bench.py [--bin build/release/bin ...] [--port 31460] [--conns 16] [--seconds 8]
       [--count 200000] [--buckets 1000] [--rounds 1] [--json FILE]
"""
import argparse
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time

import benchcluster  # tools/benchcluster.py
from benchcluster import call

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
RESELLER_KEY = "quota-bench-reseller"
SETUP_LIMIT_S = 600  # creating the buckets of (c), at most


def token(port, user, key):
    st, h, _ = call(port, "GET", "/auth/v1.0", {"X-Auth-User": user, "X-Auth-Key": key})
    if st != 200:
        sys.exit(f"quota-bench: Swift auth of {user} failed: {st}")
    return h["x-auth-token"], "/v1/" + h["x-storage-url"].split("/v1/", 1)[1]


def must(st, what):
    if st not in (201, 202, 204):
        sys.exit(f"quota-bench: {what}: HTTP {st}")


def node_calls(port):
    try:
        return sum(benchcluster.node_call_counters(port).get("calls", {}).values())
    except OSError as e:
        sys.exit(f"quota-bench: {e}")


def loadavg():
    with open("/proc/loadavg") as f:
        return f.read().split()[0]


def bench_put(a, bin_dir, bucket, prefix, port):
    """One onggi-bench PUT phase through the gateway on port: ops/s, PUTs, errors, node calls per
    PUT, load average."""
    before = node_calls(port)
    r = subprocess.run([os.path.join(bin_dir, "onggi-bench"), "--endpoint", f"http://127.0.0.1:{port}",
                        "--access-key", "devaccess", "--secret-key", "devsecret", "--bucket", bucket,
                        "--workload", "put", "--size", "4KiB", "--conns", str(a.conns), "--count", str(a.count),
                        "--duration", str(a.seconds), "--prefix", prefix, "--json"],
                       capture_output=True, text=True, timeout=a.seconds + 120)
    if r.returncode not in (0, 1):
        sys.exit(f"quota-bench: onggi-bench failed: {r.stderr}")
    load = loadavg()
    calls = node_calls(port) - before
    tot = json.loads(r.stdout)["total"]
    return {"ops_per_s": tot["ops_per_s"], "puts": tot["ops"], "errors": tot["errors"],
            "node_calls_per_put": round(calls / max(tot["ops"], 1), 2), "load": load}


def setup(a, work):
    """The containers of the three phases; the account quota last (phase c)."""
    ring = os.path.join(work, "data", "ring.bin")
    subprocess.run([os.path.join(a.cur_bin, "onggi-admin"), "--ring", ring, "swift-user-add", "--account",
                    "reseller", "--user", "root", "--key", RESELLER_KEY, "--reseller-admin"], check=True,
                   capture_output=True, timeout=60)
    tok, url = token(a.port, "dev:admin", "devsecret")
    must(call(a.port, "PUT", f"{url}/qb-free", {"X-Auth-Token": tok})[0], "container qb-free")
    must(call(a.port, "PUT", f"{url}/qb-limited", {"X-Auth-Token": tok, "X-Container-Meta-Quota-Bytes": str(1 << 40),
                                                     "X-Container-Meta-Quota-Count": str(10 ** 9)})[0],
         "container qb-limited")
    return tok, url


def setup_account(a, tok, url):
    """--buckets containers in dev's account, then its byte quota (by the reseller admin)."""
    deadline = time.monotonic() + SETUP_LIMIT_S
    for i in range(a.buckets):
        if time.monotonic() > deadline:
            sys.exit(f"quota-bench: creating {a.buckets} buckets took over {SETUP_LIMIT_S} s")
        must(call(a.port, "PUT", f"{url}/qb-acct-{i:05d}", {"X-Auth-Token": tok})[0], "bucket")
    rtok, _ = token(a.port, "reseller:root", RESELLER_KEY)
    must(call(a.port, "POST", url, {"X-Auth-Token": rtok, "X-Account-Meta-Quota-Bytes": str(1 << 40)})[0],
         "account quota")


def start_uncached(a, bin_dir, work):
    """A second gateway of the cluster with --quota-cache-ms 0 (port + 5), or None when the binary
    has no such option."""
    gw = os.path.join(bin_dir, "onggi-gateway")
    if "quota-cache-ms" not in subprocess.run([gw, "--help"], capture_output=True, text=True).stdout:
        return None
    log = open(os.path.join(work, "uncached.log"), "w")
    proc = subprocess.Popen([gw, "--ring", os.path.join(work, "data", "ring.bin"), "--listen",
                             f"127.0.0.1:{a.port + 5}", "--quota-cache-ms", "0"], stdout=log, stderr=subprocess.STDOUT)
    for _ in range(300):
        try:
            if call(a.port + 5, "GET", "/health/ready")[0] == 200:
                return proc
        except OSError:
            pass
        time.sleep(0.1)
    proc.kill()
    sys.exit("quota-bench: the uncached gateway did not start (see uncached.log)")


def phases(a, bin_dir, res, uncached, names):
    """Runs the phases names (bucket, key prefix) through the gateway, then the uncached one."""
    for ph, (bucket, prefix) in names.items():
        res[ph] = bench_put(a, bin_dir, bucket, prefix, a.port)
        if uncached is not None:
            res[ph + "_uncached"] = bench_put(a, bin_dir, bucket, "u" + prefix, a.port + 5)


def one_run(a, bin_dir):
    work = tempfile.mkdtemp(prefix="onggi-quota.")
    proc = uncached = None
    a.cur_bin = bin_dir
    try:
        proc = benchcluster.start(bin_dir, a.port, work, "quota-bench")
        tok, url = setup(a, work)
        uncached = start_uncached(a, bin_dir, work)
        res = {"bin": bin_dir}
        phases(a, bin_dir, res, uncached, {"a_no_quota": ("qb-free", "a/"), "b_bucket_quota": ("qb-limited", "b/")})
        setup_account(a, tok, url)
        phases(a, bin_dir, res, uncached, {"c_account_quota": ("qb-acct-00000", "c/")})
        return res
    finally:
        if uncached is not None:
            uncached.terminate()
            uncached.wait(30)
        if proc is not None:
            benchcluster.stop(proc)
        shutil.rmtree(work, ignore_errors=True)


def main():
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--bin", action="append", help="binaries to compare (repeat); default build/release/bin")
    p.add_argument("--port", type=int, default=31460, help="gateway port (nodes: +1..+3, https +4)")
    p.add_argument("--conns", type=int, default=16)
    p.add_argument("--seconds", type=int, default=8)
    p.add_argument("--count", type=int, default=200000)
    p.add_argument("--buckets", type=int, default=1000)
    p.add_argument("--rounds", type=int, default=1)
    p.add_argument("--json")
    a = p.parse_args()
    bins = a.bin or [os.path.join(ROOT, "build/release/bin")]
    runs = []
    for rnd in range(a.rounds):
        for b in bins:
            r = one_run(a, b)
            r["round"] = rnd + 1
            runs.append(r)
            for ph in [k for k in r if k.startswith(("a_", "b_", "c_"))]:
                x = r[ph]
                print(f"quota-bench: round {rnd + 1} {b} {ph}: {x['ops_per_s']} PUT/s ({x['puts']} PUTs, "
                      f"{x['errors']} errors), {x['node_calls_per_put']} node calls/PUT, load {x['load']}",
                      flush=True)
    if a.json:
        with open(a.json, "w") as f:
            json.dump(runs, f, indent=1)
    return 0 if all(r[ph]["errors"] == 0 for r in runs for ph in r if ph.startswith(("a_", "b_", "c_"))) else 1


if __name__ == "__main__":
    sys.exit(main())
