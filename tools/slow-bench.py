#!/usr/bin/python3
"""tools/slow-bench.py: thousands of concurrent slow uploads (issue 16 section 1, the CCTV case),
measured (docs/benchmarks.md, "Slow uploads").

Starts its own cluster (tools/run-cluster.sh, release binaries by default) with two S3 users,
"cam" and "probe". --conns connections of "cam" (spread over source addresses 127.0.0.2... so
each stays under the gateway's per-address cap) each PUT one object whose body goes out at
--rate bytes/s for --duration seconds (Content-Length, or Transfer-Encoding: chunked with
--chunked); the starts are spread over --ramp seconds. Meanwhile a separate process GETs a 4 KiB
object as "probe" every 20 ms on a new connection. Then every object is read back and compared.

Reports uploads completed/failed, how many read back byte-exact, the gateway's peak RSS (VmHWM)
and threads, its CPU seconds, the probe's p50/p99/max, the bytes/s the uploads really achieved
and the load average. Every loop is bounded in count and time; the script stops its cluster.
Usage: tools/slow-bench.py [--bin build/release/bin] [--port 29600] [--conns 2000] [--rate 32000]
       [--duration 60] [--ramp 10] [--chunked] [--json FILE] [--keep]
"""
import argparse
import hashlib
import json
import multiprocessing
import os
import shutil
import socket
import sys
import tempfile
import time
from concurrent.futures import ThreadPoolExecutor

import benchcluster  # tools/benchcluster.py

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
REGION = "us-east-1"
USERS = {"cam": "camsecret", "probe": "probesecret"}
BLOCK = 4096
TICK = 0.1


def signed_headers(port, method, path, user, extra=None):
    return benchcluster.signed_headers(port, method, path, user, USERS[user], extra, REGION)


def request(port, method, path, user, body=b"", timeout=60):
    """One signed request of user on a new connection: (status, body, seconds)."""
    return benchcluster.signed_request(port, method, path, user, USERS[user], body, timeout, REGION)


def block(i, k):
    """Block k of upload i's body."""
    return hashlib.sha256(f"{i}:{k}".encode()).digest() * (BLOCK // 32)


def body_md5(i, length):
    h = hashlib.md5()
    for k in range((length + BLOCK - 1) // BLOCK):
        h.update(block(i, k)[:min(BLOCK, length - k * BLOCK)])
    return h.hexdigest()


pct = benchcluster.pct


def probe_main(port, path, stop, out, max_count=20000):
    """Separate process (no GIL shared with the uploads): GETs every 20 ms until stop is set."""
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


class Upload:
    """One paced PUT on a non-blocking socket."""

    def __init__(self, port, i, length, chunked, per_ip):
        self.i, self.length, self.chunked = i, length, chunked
        path = f"/cams/cam-{i:05d}"
        extra = {"Transfer-Encoding": "chunked"} if chunked else {"Content-Length": str(length)}
        hdrs = signed_headers(port, "PUT", path, "cam", extra)
        head = f"PUT {path} HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\n" + "".join(
            f"{k}: {v}\r\n" for k, v in hdrs.items() if k.lower() != "host") + "\r\n"
        ip = i // per_ip + 2
        self.sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        self.sock.bind((f"127.0.{ip // 250}.{ip % 250 + 2}", 0))
        self.sock.settimeout(10)
        self.sock.connect(("127.0.0.1", port))
        self.sock.sendall(head.encode())
        self.sock.setblocking(False)
        self.t0 = time.monotonic()
        self.sent = 0          # body bytes handed to the socket
        self.pending = b""     # wire bytes produced but not yet taken by the socket
        self.resp = b""
        self.done = False      # answered (or failed)
        self.status = 0

    def wire(self, n):
        """The next n body bytes, framed when chunked (the last call adds the terminating chunk)."""
        data = b"".join(block(self.i, k) for k in range(self.sent // BLOCK, (self.sent + n + BLOCK - 1) // BLOCK + 1))
        off = self.sent % BLOCK
        data = data[off:off + n]
        self.sent += n
        if not self.chunked:
            return data
        framed = f"{n:x}\r\n".encode() + data + b"\r\n"
        return framed + (b"0\r\n\r\n" if self.sent == self.length else b"")

    def step(self, now, rate):
        if self.done:
            return
        due = min(self.length, int(rate * (now - self.t0))) - self.sent
        if due > 0 and not self.pending:
            self.pending = self.wire(due)
        try:
            if self.pending:
                self.pending = self.pending[self.sock.send(self.pending):]
            got = self.sock.recv(65536)
            if got == b"":
                self.finish()
            self.resp += got
            if b"\r\n\r\n" in self.resp:
                self.finish()
        except BlockingIOError:
            pass
        except OSError:
            self.finish()

    def finish(self):
        self.done = True
        parts = self.resp.split(b" ", 2)
        self.status = int(parts[1]) if len(parts) > 1 and parts[1].isdigit() else 0
        self.sock.close()


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


def run_uploads(a, gw):
    """Starts a.conns uploads over a.ramp seconds and paces them until all are answered or the
    deadline passes. (uploads, peak RSS KiB, peak threads)."""
    length = a.rate * a.duration
    ups, peak_rss, peak_thr = [], 0, 0
    t_start = time.monotonic()
    deadline = t_start + a.ramp + a.duration + 120
    next_stat = 0
    while time.monotonic() < deadline:
        now = time.monotonic()
        want = a.conns if a.ramp <= 0 else min(a.conns, int(a.conns * (now - t_start) / a.ramp) + 1)
        while len(ups) < want:
            try:
                ups.append(Upload(a.port, len(ups), length, a.chunked, a.per_ip))
            except OSError as e:
                print(f"slow-bench: upload {len(ups)} could not start: {e!r}", file=sys.stderr)
                ups.append(None)
        for u in ups:
            if u is not None:
                u.step(now, a.rate)
        if now >= next_stat:
            rss, _, thr, _ = proc_stat(gw)
            peak_rss, peak_thr = max(peak_rss, rss), max(peak_thr, thr)
            next_stat = now + 1
        if len(ups) == a.conns and all(u is None or u.done for u in ups):
            break
        time.sleep(max(0.0, TICK - (time.monotonic() - now)))
    for u in ups:
        if u is not None and not u.done:
            u.finish()
    return ups, peak_rss, peak_thr


def verify(a, ups):
    """How many answered uploads read back byte-exact (GET, MD5 of the body against the sent one)."""
    length = a.rate * a.duration

    def one(u):
        try:
            status, data, _ = request(a.port, "GET", f"/cams/cam-{u.i:05d}", "cam", timeout=120)
        except OSError:
            return False
        return status == 200 and len(data) == length and hashlib.md5(data).hexdigest() == body_md5(u.i, length)

    ok_ups = [u for u in ups if u is not None and u.status == 200]
    with ThreadPoolExecutor(4) as ex:
        return sum(ex.map(one, ok_ups))


def start_cluster(a, work):
    proc, gw = benchcluster.start_with_users(a.bin, a.port, work, "slow-bench", USERS)
    for user, bucket in (("cam", "cams"), ("probe", "probe")):
        status, body, _ = request(a.port, "PUT", f"/{bucket}", user)
        if status != 200:
            sys.exit(f"slow-bench: cannot create bucket {bucket}: {status} {body[:200]}")
    if request(a.port, "PUT", "/probe/obj4k", "probe", body=block(0, 0))[0] != 200:
        sys.exit("slow-bench: cannot store the probe object")
    return proc, gw


def measure(a, gw):
    res = {"conns": a.conns, "rate_bytes_per_s": a.rate, "duration_s": a.duration, "chunked": a.chunked}
    res["rss_before_kib"], _, _, cpu0 = proc_stat(gw)
    stop, out = multiprocessing.Event(), multiprocessing.Queue()
    probe = multiprocessing.Process(target=probe_main, args=(a.port, "/probe/obj4k", stop, out), daemon=True)
    probe.start()
    t0 = time.monotonic()
    ups, res["rss_peak_sampled_kib"], res["threads_peak"] = run_uploads(a, gw)
    res["upload_phase_s"] = round(time.monotonic() - t0, 1)
    res["loadavg_end"] = os.getloadavg()
    stop.set()
    res["probe"] = out.get(timeout=120)
    probe.join(30)
    _, res["vmhwm_kib"], _, cpu1 = proc_stat(gw)
    res["gateway_cpu_s"] = round(cpu1 - cpu0, 1)
    started = [u for u in ups if u is not None]
    res["completed"] = sum(1 for u in started if u.status == 200)
    res["failed"] = a.conns - res["completed"]
    res["statuses"] = {str(s): sum(1 for u in started if u.status == s) for s in {u.status for u in started}}
    res["byte_exact"] = verify(a, ups)
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
    work = tempfile.mkdtemp(prefix="onggi-slow.")
    proc = None
    try:
        proc, gw = start_cluster(a, work)
        res = measure(a, gw)
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
          f"{res['vmhwm_kib'] / 1024:.0f} MiB, threads peak {res['threads_peak']}, CPU {res['gateway_cpu_s']} s | "
          f"probe GETs {pr['gets']} failed {pr['failures']} p50 {fmt(pr['p50_ms'])} ms p99 {fmt(pr['p99_ms'])} ms "
          f"max {fmt(pr['max_ms'])} ms | load {' '.join(f'{x:.2f}' for x in res['loadavg_end'])}")
    print(json.dumps(res, indent=1))
    if a.json:
        with open(a.json, "w") as f:
            json.dump(res, f, indent=1)


if __name__ == "__main__":
    main()
