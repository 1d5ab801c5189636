#!/usr/bin/python3
"""tools/slow-bench.py: thousands of concurrent slow uploads (issue 16 section 1, the CCTV case),
measured (docs/benchmarks.md, "Slow uploads").

Starts its own cluster (tools/run-cluster.sh, release binaries by default) with two S3 users,
"cam" and "probe". onggi-bench --rate-per-conn opens --conns connections of "cam" (spread over
source addresses 127.0.0.2... so each stays under the gateway's per-address cap), each PUTting one
object whose body goes out at --rate bytes/s for --duration seconds (Content-Length, or
Transfer-Encoding: chunked with --chunked), started over --ramp seconds; it checks every ETag
against the MD5 of what it sent. Meanwhile a separate process GETs a 4 KiB object as "probe"
every 20 ms on a new connection. Then every object is read back: its length and MD5 must match.
"byte-exact" counts all --conns keys, so it can exceed "completed": an upload answered 503 may
still have been stored whole (not acknowledged, so not promised).

Reports uploads completed/failed, how many read back byte-exact, the gateway's peak RSS (VmHWM)
and threads, its CPU seconds, the probe's p50/p99/max, the bytes/s the uploads really achieved
and the load average, the nodes' CPU seconds together; then the gateway's node calls (errors, timeouts, calls skipped in failure
back-off) and the machine's TCP counters (connections opened, listen-queue overflows) over the
upload phase. Every loop is bounded in count and time; the script stops its cluster.
Usage: tools/slow-bench.py [--bin build/release/bin] [--port 29600] [--conns 2000] [--rate 32000]
       [--duration 60] [--ramp 10] [--chunked] [--json FILE] [--keep]
"""
import argparse
import hashlib
import json
import multiprocessing
import os
import shutil
import subprocess
import sys
import tempfile
import time
from concurrent.futures import ThreadPoolExecutor

import benchcluster  # tools/benchcluster.py

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
REGION = "us-east-1"
USERS = {"cam": "camsecret", "probe": "probesecret"}


def signed_headers(port, method, path, user, extra=None):
    return benchcluster.signed_headers(port, method, path, user, USERS[user], extra, REGION)


def request(port, method, path, user, body=b"", timeout=60):
    """One signed request of user on a new connection: (status, body, seconds)."""
    return benchcluster.signed_request(port, method, path, user, USERS[user], body, timeout, REGION)


pct = benchcluster.pct


def probe_main(port, path, stop, out, max_count=20000):
    """Separate process (no GIL shared with the uploads): GETs every 20 ms until stop is set. In a
    session of its own, like the uploads' client and each server, so the kernel gives it a CPU
    share of its own (as another machine's client would have) rather than a part of this script's."""
    os.setsid()
    lat, fails = [], 0
    while not stop.is_set() and len(lat) + fails < max_count:
        try:
            status, data, dt = request(port, "GET", path, "probe", timeout=30)
            if status == 200 and len(data) == 4096:
                lat.append(dt * 1000)
            else:
                fails += 1
        except OSError:
            fails += 1
        stop.wait(0.02)
    out.put({"gets": len(lat), "failures": fails, "p50_ms": pct(lat, 50), "p99_ms": pct(lat, 99),
             "max_ms": max(lat, default=None)})


def proc_stat(pid):
    """(VmRSS KiB, VmHWM KiB, threads, CPU seconds) of pid."""
    vals = {}
    with open(f"/proc/{pid}/status") as f:
        for line in f:
            k, _, v = line.partition(":")
            vals[k] = v.split()[0] if v.split() else "0"
    with open(f"/proc/{pid}/stat") as f:
        fields = f.read().rsplit(")", 1)[1].split()
    cpu = (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")
    return int(vals.get("VmRSS", -1)), int(vals.get("VmHWM", -1)), int(vals.get("Threads", 0)), cpu


def bind_addrs(a):
    """Source addresses for the uploads, a.per_ip each (the gateway caps connections per address)."""
    return ",".join(f"127.0.{ip // 250}.{ip % 250 + 2}" for ip in range(2, (a.conns + a.per_ip - 1) // a.per_ip + 2))


def run_uploads(a, gw):
    """Runs the a.conns paced uploads with onggi-bench (one event loop: the client costs little
    CPU and keeps its pace under load) and samples the gateway, and the accept queues of the
    gateway and the nodes, once a second until it ends.
    (onggi-bench's JSON report, peak RSS KiB, peak threads, {"gateway"|"nodeN": peak queue})."""
    cmd = [os.path.join(a.bin, "onggi-bench"), "--endpoint", f"http://127.0.0.1:{a.port}", "--access-key", "cam",
           "--secret-key", USERS["cam"], "--bucket", "cams", "--prefix", "cam-", "--workload", "put",
           "--size", str(a.rate * a.duration), "--conns", str(a.conns), "--count", str(a.conns),
           "--rate-per-conn", str(a.rate), "--ramp", str(a.ramp), "--bind", bind_addrs(a), "--verify",
           "--timeout", "120", "--json"] + (["--chunked"] if a.chunked else [])
    peak_rss, peak_thr = 0, 0
    names = {a.port: "gateway", **{a.port + i: f"node{i}" for i in (1, 2, 3)}}
    peak_q = dict.fromkeys(names.values(), 0)
    deadline = time.monotonic() + a.ramp + a.duration + 300
    with subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True,
                          start_new_session=True) as bench:
        while bench.poll() is None and time.monotonic() < deadline:
            rss, _, thr, _ = proc_stat(gw)
            peak_rss, peak_thr = max(peak_rss, rss), max(peak_thr, thr)
            for port, q in benchcluster.accept_queues(names).items():
                peak_q[names[port]] = max(peak_q[names[port]], q)
            time.sleep(1)
        if bench.poll() is None:
            bench.kill()
            sys.exit("slow-bench: onggi-bench did not finish in time")
        out = bench.stdout.read()
    if bench.returncode != 0 and not out.strip():
        sys.exit(f"slow-bench: onggi-bench failed ({bench.returncode})")
    return json.loads(out), peak_rss, peak_thr, peak_q


def verify(a, n):
    """How many of the n objects read back byte-exact: the GET body has the length sent and its
    MD5 is the ETag, which onggi-bench --verify checked against the MD5 of the bytes it sent."""
    length = a.rate * a.duration

    def one(i):
        hdrs = {}
        try:
            status, data, _ = benchcluster.signed_request(a.port, "GET", f"/cams/cam-obj-{i:08d}", "cam",
                                                          USERS["cam"], timeout=120, region=REGION,
                                                          headers_out=hdrs)
        except OSError:
            return False
        etag = hdrs.get("etag", "").strip('"')
        return status == 200 and len(data) == length and hashlib.md5(data).hexdigest() == etag

    with ThreadPoolExecutor(4) as ex:
        return sum(ex.map(one, range(n)))


def start_cluster(a, work):
    proc, gw = benchcluster.start_with_users(a.bin, a.port, work, "slow-bench", USERS)
    for user, bucket in (("cam", "cams"), ("probe", "probe")):
        status, body, _ = request(a.port, "PUT", f"/{bucket}", user)
        if status != 200:
            sys.exit(f"slow-bench: cannot create bucket {bucket}: {status} {body[:200]}")
    if request(a.port, "PUT", "/probe/obj4k", "probe", body=os.urandom(4096))[0] != 200:
        sys.exit("slow-bench: cannot store the probe object")
    return proc, gw


def nodes_cpu(nodes):
    """The nodes' CPU seconds together."""
    return sum(proc_stat(pid)[3] for pid in nodes)


def measure(a, gw, nodes):
    res = {"conns": a.conns, "rate_bytes_per_s": a.rate, "duration_s": a.duration, "chunked": a.chunked,
           "disk_start": benchcluster.disk_usage(a.work)}
    res["rss_before_kib"], _, _, cpu0 = proc_stat(gw)
    ncpu0 = nodes_cpu(nodes)
    stop, out = multiprocessing.Event(), multiprocessing.Queue()
    probe = multiprocessing.Process(target=probe_main, args=(a.port, "/probe/obj4k", stop, out), daemon=True)
    probe.start()
    t0, calls0, tcp0 = time.monotonic(), benchcluster.node_call_counters(a.port), benchcluster.tcp_counters()
    rep, res["rss_peak_sampled_kib"], res["threads_peak"], res["accept_queue_peak"] = run_uploads(a, gw)
    res["upload_phase_s"] = round(time.monotonic() - t0, 1)
    # Why uploads fail, when they do: the gateway's node calls (timeouts put a node into back-off,
    # then its calls are skipped) and the machine's TCP counters (connections opened, listen-queue
    # overflows) over the upload phase.
    res["node_calls"] = benchcluster.counters_delta(calls0, benchcluster.node_call_counters(a.port))
    res["tcp"] = benchcluster.counters_delta(tcp0, benchcluster.tcp_counters())
    res["loadavg_end"] = os.getloadavg()
    stop.set()
    res["probe"] = out.get(timeout=120)
    probe.join(30)
    _, res["vmhwm_kib"], _, cpu1 = proc_stat(gw)
    res["gateway_cpu_s"] = round(cpu1 - cpu0, 1)
    res["nodes_cpu_s"] = round(nodes_cpu(nodes) - ncpu0, 1)
    total = rep["total"]
    res["completed"] = total["ops"]
    res["failed"] = a.conns - total["ops"]
    res["client_errors"] = total["errors_by_type"]
    # Every PUT answered 200 is one of obj-0 .. obj-(conns-1) (onggi-bench --keys seq).
    res["byte_exact"] = verify(a, a.conns) if total["ops"] else 0
    return res


def main():
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--bin", default=os.path.join(ROOT, "build/release/bin"))
    p.add_argument("--port", type=int, default=29600, help="gateway port (nodes: +1..+3); below the ephemeral range")
    p.add_argument("--conns", type=int, default=2000)
    p.add_argument("--per-ip", type=int, default=500, help="uploads per source address")
    p.add_argument("--rate", type=int, default=32000, help="bytes/s per upload (32000 = 256 kbit/s)")
    p.add_argument("--duration", type=int, default=60, help="seconds each upload sends")
    p.add_argument("--ramp", type=float, default=10, help="seconds over which the uploads start")
    p.add_argument("--chunked", action="store_true")
    p.add_argument("--json")
    p.add_argument("--keep", action="store_true", help="keep the work directory")
    a = p.parse_args()
    benchcluster.raise_nofile(a.conns + 500, "slow-bench")
    work = a.work = tempfile.mkdtemp(prefix="onggi-slow.")
    proc = None
    try:
        proc, gw = start_cluster(a, work)
        res = measure(a, gw, benchcluster.pids(proc, "onggi-node"))
    finally:
        if proc is not None:
            benchcluster.stop(proc)
        if a.keep:
            print(f"slow-bench: work directory kept: {work}", file=sys.stderr)
        else:
            shutil.rmtree(work, ignore_errors=True)
    pr = res["probe"]
    fmt = lambda v: "-" if v is None else f"{v:.1f}"
    print(f"slow uploads {a.conns} x {a.rate} B/s x {a.duration} s{' chunked' if a.chunked else ''}: "
          f"completed {res['completed']} failed {res['failed']} byte-exact {res['byte_exact']} | gateway VmHWM "
          f"{res['vmhwm_kib'] / 1024:.0f} MiB, threads peak {res['threads_peak']}, CPU {res['gateway_cpu_s']} s, nodes' CPU {res['nodes_cpu_s']} s | "
          f"probe GETs {pr['gets']} failed {pr['failures']} p50 {fmt(pr['p50_ms'])} ms p99 {fmt(pr['p99_ms'])} ms "
          f"max {fmt(pr['max_ms'])} ms | load {' '.join(f'{x:.2f}' for x in res['loadavg_end'])} | "
          f"disk {res['disk_start']}")
    nc, tcp = res["node_calls"], res["tcp"]
    print(f"node calls {sum(nc.get('calls', {}).values())} errors {sum(nc.get('errors', {}).values())} "
          f"timeouts {sum(nc.get('timeouts', {}).values())} skipped {sum(nc.get('skipped', {}).values())} "
          f"(small batches {nc.get('small_batches', {}).get('batches')} in "
          f"{nc.get('small_batches', {}).get('sends')} requests) | "
          f"tcp connects {tcp.get('ActiveOpens')} listen overflows {tcp.get('ListenOverflows')} "
          f"drops {tcp.get('ListenDrops')} resets sent {tcp.get('OutRsts')} | accept queue peaks "
          f"{' '.join(f'{k} {v}' for k, v in res['accept_queue_peak'].items())}")
    print(json.dumps(res, indent=1))
    if a.json:
        with open(a.json, "w") as f:
            json.dump(res, f, indent=1)


if __name__ == "__main__":
    main()
