#!/usr/bin/python3
"""tools/abuse-bench.py: the gateway under two abuses of issue 11, measured (docs/benchmarks.md).

Starts its own cluster (tools/run-cluster.sh, release binaries by default) with two S3 users,
"abuser" and "probe", then runs two phases, each while a probe thread GETs a 4 KiB object as
"probe" (a new connection per GET, as a fresh client would):

  idle     N idle connections (default 10,000) spread over source addresses 127.0.0.2... so that
           each address stays under the gateway's per-address cap, held for --hold seconds;
  trickle  U signed PUTs from "abuser" (default 140) whose bodies trickle at --rate bytes/s; one
           answered 503 SlowDown starts again after 1 s (as a retrying SDK does).

For each phase it reports the probe's GETs (count, failures, p50/p99/max ms), what the abuse got
(connections held; uploads still uploading at the end, 503 SlowDown answers counted) and the gateway's RSS before, during
and after (3 s after the abusive connections closed), and a probe GET after the phase.

Every loop is bounded in count and time; the script stops by itself and stops its cluster.
Usage: tools/abuse-bench.py [--bin build/release/bin] [--port 29500] [--conns 10000]
       [--uploads 140] [--rate 2000] [--hold 20] [--json FILE] [--keep]
"""
import argparse
import hashlib
import json
import os
import selectors
import shutil
import socket
import sys
import tempfile
import threading
import time

import benchcluster  # tools/benchcluster.py

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
REGION = "us-east-1"
USERS = {"abuser": "abusersecret", "probe": "probesecret"}


def signed_headers(port, method, path, user, extra=None):
    return benchcluster.signed_headers(port, method, path, user, USERS[user], extra, REGION)


def request(port, method, path, user, body=b"", timeout=30):
    """One signed request of user on a new connection: (status, body, seconds)."""
    return benchcluster.signed_request(port, method, path, user, USERS[user], body, timeout, REGION)


def rss_kib(pid):
    with open(f"/proc/{pid}/status") as f:
        for line in f:
            if line.startswith("VmRSS:"):
                return int(line.split()[1])
    return -1


def heap_kib(pid):
    """Resident KiB of the [heap] mapping: the main malloc arena, where the event loop (the
    gateway's main thread) allocates every connection. VmRSS also moves with worker threads'
    arenas and library pages touched for the first time."""
    heap, cur = 0, None
    with open(f"/proc/{pid}/smaps") as f:
        for line in f:
            fields = line.split()
            if "-" in fields[0] and not fields[0].endswith(":"):
                cur = fields[-1] if len(fields) >= 6 else ""
            elif fields[0] == "Rss:" and cur == "[heap]":
                heap += int(fields[1])
    return heap


def mem(out, when, pid):
    out[f"rss_{when}_kib"] = rss_kib(pid)
    out[f"heap_{when}_kib"] = heap_kib(pid)


pct = benchcluster.pct


class Probe(threading.Thread):
    """GETs the 4 KiB object as "probe" every `interval` seconds until stopped (bounded)."""

    def __init__(self, port, path, interval=0.05, max_count=5000):
        super().__init__(daemon=True)
        self.port, self.path, self.interval, self.max_count = port, path, interval, max_count
        self.lat, self.failures, self.stop_ev = [], [], threading.Event()

    def run(self):
        while not self.stop_ev.is_set() and len(self.lat) + len(self.failures) < self.max_count:
            try:
                status, data, dt = request(self.port, "GET", self.path, "probe", timeout=30)
                if status == 200 and len(data) == 4096:
                    self.lat.append(dt * 1000)
                else:
                    self.failures.append(f"status {status}")
            except OSError as e:
                self.failures.append(repr(e))
            self.stop_ev.wait(self.interval)

    def result(self):
        return {"gets": len(self.lat), "failures": len(self.failures), "first_failures": self.failures[:3],
                "p50_ms": pct(self.lat, 50), "p99_ms": pct(self.lat, 99), "max_ms": max(self.lat, default=None)}


def open_idle(port, n, per_ip, deadline):
    """n connections that send nothing, at most per_ip from each of 127.0.0.2, .3, ..."""
    socks = []
    for i in range(n):
        if time.monotonic() > deadline:
            break
        s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        ip = i // per_ip + 2
        s.bind((f"127.0.{ip // 250}.{ip % 250 + 2}", 0))
        s.settimeout(5)
        try:
            s.connect(("127.0.0.1", port))
        except OSError:
            s.close()
            continue
        s.setblocking(False)
        socks.append(s)
    return socks


def count_open(socks):
    """How many of socks the server has not closed (no EOF or reset pending)."""
    n = 0
    for s in socks:
        try:
            if s.recv(1) != b"":
                n += 1
        except BlockingIOError:
            n += 1
        except OSError:
            pass
    return n


def warm_up(port, obj, seconds=3.0):
    """Probe GETs for a few seconds before "before" is measured, so that the worker threads' malloc
    arenas are warm and the RSS figures show the abuse, not the first requests' allocations. The
    probe's figures without abuse (the baseline of the machine as loaded now)."""
    probe = Probe(port, obj, interval=0.01)
    probe.start()
    time.sleep(seconds)
    probe.stop_ev.set()
    probe.join(60)
    return probe.result()


def phase_idle(a, port, pid, obj):
    out = {"conns_asked": a.conns, "probe_baseline": warm_up(port, obj)}
    mem(out, "before", pid)
    probe = Probe(port, obj)
    socks = open_idle(port, a.conns, a.per_ip, time.monotonic() + 120)
    out["conns_opened"] = len(socks)
    probe.start()
    time.sleep(a.hold)
    out["conns_held"] = count_open(socks)
    return finish_phase(out, probe, socks, pid)


def finish_phase(out, probe, socks, pid):
    """RSS during the abuse, the probe's figures, then RSS 3 s after the abusive sockets closed."""
    mem(out, "during", pid)
    probe.stop_ev.set()
    probe.join(60)
    out["probe"] = probe.result()
    for s in socks:
        s.close()
    time.sleep(3)
    mem(out, "after", pid)
    return out


def trickle_start(port, i):
    """A signed PUT whose body will not be finished: the socket, with the head sent."""
    path = f"/abuse/trickle-{i}"
    length = 64 << 20
    hdrs = signed_headers(port, "PUT", path, "abuser", {"Content-Length": str(length)})
    head = f"PUT {path} HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\n" + "".join(
        f"{k}: {v}\r\n" for k, v in hdrs.items() if k.lower() != "host") + "\r\n"
    s = socket.create_connection(("127.0.0.1", port), timeout=10)
    s.sendall(head.encode())
    s.setblocking(False)
    return s


def is_slowdown(resp):
    return b" 503 " in resp.split(b"\r\n", 1)[0] and b"<Code>SlowDown</Code>" in resp


def phase_trickle(a, port, pid, obj):
    """a.uploads signed PUTs trickle their bodies; one answered 503 SlowDown is started again
    after its Retry-After (1 s), as a retrying SDK would, so the pressure lasts the whole phase."""
    out = {"uploads": a.uploads, "rate_bytes_per_s": a.rate, "probe_baseline": warm_up(port, obj)}
    mem(out, "before", pid)
    socks = [trickle_start(port, i) for i in range(a.uploads)]
    answered = [b""] * len(socks)  # the current attempt's answer so far
    retry_at = [None] * len(socks)
    started = [time.monotonic()] * len(socks)  # when the current attempt was sent
    slow = other = 0
    probe = Probe(port, obj)
    probe.start()
    chunk = b"x" * max(1, a.rate // 10)
    end = time.monotonic() + a.hold
    while time.monotonic() < end:
        now = time.monotonic()
        for i, s in enumerate(socks):
            if retry_at[i] is not None:
                if now >= retry_at[i]:
                    s.close()
                    socks[i], answered[i], retry_at[i] = trickle_start(port, i), b"", None
                    started[i] = time.monotonic()
                continue
            try:
                data = s.recv(4096)
            except BlockingIOError:
                data = None
            except OSError:
                data = b""
            if data:
                answered[i] += data
            if data == b"" or b"</Error>" in answered[i]:
                # Answered (or closed): count it once, retry after a second.
                slow += is_slowdown(answered[i])
                other += not is_slowdown(answered[i])
                retry_at[i] = now + 1.0
            elif not answered[i]:
                try:
                    s.send(chunk)
                except OSError:
                    pass
        time.sleep(0.1)
    out["answered_503_slowdown"] = slow
    out["answered_other"] = other
    # Uploading: the attempt has gone on unanswered for 2 s (a refused one is answered at once).
    now = time.monotonic()
    out["held_uploading_at_end"] = sum(1 for i in range(len(socks))
                                       if retry_at[i] is None and not answered[i] and now - started[i] >= 2.0)
    return finish_phase(out, probe, socks, pid)


def start_cluster(a, work):
    return benchcluster.start_with_users(a.bin, a.port, work, "abuse-bench", USERS)


def setup_objects(port):
    for user, bucket in (("abuser", "abuse"), ("probe", "probe")):
        status, body, _ = request(port, "PUT", f"/{bucket}", user)
        if status != 200:
            sys.exit(f"abuse-bench: cannot create bucket {bucket}: {status} {body[:200]}")
    data = hashlib.sha256(b"probe").digest() * 128
    status, _, _ = request(port, "PUT", "/probe/obj4k", "probe", body=data)
    if status != 200:
        sys.exit(f"abuse-bench: cannot store the probe object: {status}")
    return "/probe/obj4k"


def main():
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--bin", default=os.path.join(ROOT, "build/release/bin"))
    p.add_argument("--port", type=int, default=29500, help="gateway port (nodes: +1..+3); keep it below the ephemeral range")
    p.add_argument("--conns", type=int, default=10000)
    p.add_argument("--per-ip", type=int, default=1000, help="idle connections per source address")
    p.add_argument("--uploads", type=int, default=140)
    p.add_argument("--rate", type=int, default=2000, help="bytes/s per trickling upload")
    p.add_argument("--hold", type=float, default=20, help="seconds each abuse lasts")
    p.add_argument("--json")
    p.add_argument("--keep", action="store_true", help="keep the work directory")
    a = p.parse_args()
    benchcluster.raise_nofile(a.conns + 1000, "abuse-bench")
    work = tempfile.mkdtemp(prefix="onggi-abuse.")
    proc = None
    try:
        proc, gw = start_cluster(a, work)
        obj = setup_objects(a.port)
        res = {"idle": phase_idle(a, a.port, gw, obj)}
        res["idle"]["probe_after_status"] = request(a.port, "GET", obj, "probe")[0]
        res["trickle"] = phase_trickle(a, a.port, gw, obj)
        res["trickle"]["probe_after_status"] = request(a.port, "GET", obj, "probe")[0]
    finally:
        if proc is not None:
            benchcluster.stop(proc)
        if a.keep:
            print(f"abuse-bench: work directory kept: {work}", file=sys.stderr)
        else:
            shutil.rmtree(work, ignore_errors=True)
    for name, r in res.items():
        pr, base = r["probe"], r["probe_baseline"]
        p50 = "-" if pr["p50_ms"] is None else f"{pr['p50_ms']:.1f}"
        p99 = "-" if pr["p99_ms"] is None else f"{pr['p99_ms']:.1f}"
        b99 = "-" if base["p99_ms"] is None else f"{base['p99_ms']:.1f}"
        print(f"{name:8} probe GETs {pr['gets']:5} failed {pr['failures']:3} p50 {p50:>7} ms p99 {p99:>7} ms "
              f"(no abuse: p99 {b99} ms) | "
              "RSS (heap) MiB " + " ".join(f"{w} {r[f'rss_{w}_kib'] / 1024:.1f} ({r[f'heap_{w}_kib'] / 1024:.1f})"
                                          for w in ("before", "during", "after")))
    print(json.dumps(res, indent=1))
    if a.json:
        with open(a.json, "w") as f:
            json.dump(res, f, indent=1)


if __name__ == "__main__":
    main()
