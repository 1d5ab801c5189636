#!/usr/bin/python3
"""tools/scale-bench.py (run by `make bench-scale` after the release build): one bucket grown to
SCALE_KEYS keys, and how PUT, LIST and memory behave as it grows (issue 16, section 4).

Starts a fresh release cluster (tools/run-cluster.sh) in a temporary directory and fills one bucket
with 0-byte objects (SCALE_SIZE) by onggi-bench, in segments of SCALE_SEGMENT keys named
dirNNNN/objNNNNNNNNN (key k in directory k % SCALE_DIRS, so the writes spread over the key space
and a delimiter listing of the root rolls the keys up into SCALE_DIRS common prefixes). Every
segment's PUT rate is printed. At 0, 100k, 1M and 10M keys (those up to SCALE_KEYS) it measures:

  PUT      the rate of the next segment (the one starting there)
  LIST     ListObjectsV2 pages of 1,000 (pages/s and keys/s, one connection, SCALE_PAGES pages):
           without delimiter from the start and after a marker half-way (start-after=dirD/2/),
           with delimiter "/" from the start and after the same marker
  RSS      VmRSS of each onggi-node and of the gateway
  metadata du of the nodes' RocksDB directories (SST files, WAL and manifests: every record, its
           partition-index entry, the bucket's usage aggregate; 0-byte objects store no chunks)
           divided by keys x 3 replicas

and prints one row per milestone as soon as it has it, then the whole table. Every onggi-bench
run is bounded by a count, a duration and `timeout`.

Environment: SCALE_KEYS (1000000), SCALE_SEGMENT (100000), SCALE_SIZE (0), SCALE_DIRS (2000),
SCALE_PAGES (20), SCALE_CONNS (64), SCALE_PORT (29600; nodes +1..+3, TLS +4), SCALE_BIN
(build/release/bin), SCALE_DIR (work directory, kept; default a temporary one, removed),
SCALE_JSON (write the rows there as JSON). SCALE_LIST_AT=N measures one row (no PUTs) on the
bucket a kept SCALE_DIR holds with N keys: to compare gateway builds on the same data.
SCALE_FROM=N goes on filling such a bucket from N keys (a multiple of SCALE_SEGMENT) to SCALE_KEYS.
"""
import glob
import json
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import time

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
ACCESS, SECRET, BUCKET = "scaleaccess", "scalesecret", "scale"


def env_int(name, default):
    return int(os.environ.get(name, default))


KEYS = env_int("SCALE_KEYS", 1000000)
SEGMENT = env_int("SCALE_SEGMENT", 100000)
SIZE = os.environ.get("SCALE_SIZE", "0")
DIRS = env_int("SCALE_DIRS", 2000)
PAGES = env_int("SCALE_PAGES", 20)
CONNS = env_int("SCALE_CONNS", 64)
PORT = env_int("SCALE_PORT", 29600)
LIST_AT = env_int("SCALE_LIST_AT", 0)
FROM = env_int("SCALE_FROM", 0)
BIN = os.path.abspath(os.environ.get("SCALE_BIN", os.path.join(ROOT, "build/release/bin")))
SEG_SECONDS = 600  # one segment's bound: 100k PUTs at 170/s
LIST_SECONDS = 60
START_SECONDS = 300


def log(msg):
    print(f"scale: {msg}", file=sys.stderr, flush=True)


def milestones():
    return sorted({m for m in (0, 100000, 1000000, 10000000) if m <= KEYS} | {KEYS})


class Cluster:
    """The release cluster run-cluster.sh supervises, and the pids of its processes."""

    def __init__(self, work):
        self.work = work
        self.log = open(os.path.join(work, "cluster.log"), "w")
        env = dict(os.environ, ONGGI_ACCESS_KEY=ACCESS, ONGGI_SECRET_KEY=SECRET)
        nodes = ",".join(str(PORT + i) for i in (1, 2, 3))
        self.proc = subprocess.Popen(
            [os.path.join(ROOT, "tools/run-cluster.sh"), "--bin", BIN, "--data", os.path.join(work, "onggi"),
             "--port", str(PORT), "--tls-port", str(PORT + 4), "--node-ports", nodes],
            stdout=self.log, stderr=subprocess.STDOUT, env=env, start_new_session=True)
        self.gateway, self.nodes = None, []
        # Nodes reopening a large index on a loaded machine can take minutes.
        deadline = time.time() + START_SECONDS
        while time.time() < deadline:
            if "Onggi is running" in open(self.log.name).read():
                break
            if self.proc.poll() is not None:
                raise SystemExit(f"scale: cluster failed to start:\n{open(self.log.name).read()[-2000:]}")
            time.sleep(0.2)
        else:
            self.stop()
            raise SystemExit(f"scale: cluster did not start within {START_SECONDS} s (see {self.log.name})")
        out = subprocess.run(["ps", "-o", "pid=,args=", "--ppid", str(self.proc.pid)], capture_output=True,
                             text=True).stdout
        for line in out.splitlines():
            pid, args = line.split(None, 1)
            if "onggi-gateway" in args:
                self.gateway = int(pid)
            elif "onggi-node" in args:
                self.nodes.append(int(pid))
        if not self.gateway or len(self.nodes) != 3:
            raise SystemExit("scale: cannot find the gateway and 3 node processes")

    def stop(self):
        # run-cluster.sh stops its children on SIGTERM; only its own pid is signalled.
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(30)
            except subprocess.TimeoutExpired:
                for pid in [self.proc.pid, self.gateway] + self.nodes:
                    try:
                        os.kill(pid, signal.SIGKILL)
                    except (ProcessLookupError, TypeError):
                        pass
                self.proc.wait()
        self.log.close()


def rss_mib(pid):
    with open(f"/proc/{pid}/status") as f:
        for line in f:
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024.0
    return 0.0


def db_bytes(work):
    """Bytes of the nodes' RocksDB directories: (SST + WAL + manifests, SST files only). File sizes,
    not blocks: RocksDB preallocates WAL blocks it has not written yet. RocksDB's own text logs
    (LOG, LOG.old.*) are not metadata and not counted."""
    total = sst = 0
    for current in glob.glob(os.path.join(work, "onggi", "**", "CURRENT"), recursive=True):
        for f in os.scandir(os.path.dirname(current)):
            if f.is_file(follow_symlinks=False) and not f.name.startswith("LOG"):
                n = f.stat().st_size
                total += n
                sst += n if f.name.endswith(".sst") else 0
    return total, sst


def cpu_seconds(pids):
    """utime + stime of the processes (fields 14 and 15 of /proc/PID/stat), in seconds."""
    ticks = 0
    for pid in pids:
        with open(f"/proc/{pid}/stat") as f:
            fields = f.read().rsplit(")", 1)[1].split()
        ticks += int(fields[11]) + int(fields[12])
    return ticks / os.sysconf("SC_CLK_TCK")


def bench(work, name, args, seconds, cl):
    """One onggi-bench run with --json; its parsed report with "cpu_ms_per_op" (the gateway's and
    nodes' CPU time per successful operation, which the machine's load barely changes) added, or
    None (said on stderr)."""
    out = os.path.join(work, "results", f"{name}.json")
    cmd = [os.path.join(BIN, "onggi-bench"), "--endpoint", f"http://127.0.0.1:{PORT}",
           "--access-key", ACCESS, "--secret-key", SECRET, "--bucket", BUCKET, "--json",
           "--duration", str(seconds)] + args
    pids = [cl.gateway] + cl.nodes
    c0 = cpu_seconds(pids)
    with open(out, "w") as o, open(os.path.join(work, "results", f"{name}.log"), "w") as e:
        # The timeout kills onggi-bench itself (our direct child) should its own bounds fail.
        try:
            rc = subprocess.run(cmd, stdout=o, stderr=e, timeout=seconds + 30).returncode
        except subprocess.TimeoutExpired:
            rc = "timeout"
    try:
        t = json.load(open(out))["total"]
    except (ValueError, KeyError):
        log(f"{name} produced no result (rc {rc})")
        return None
    t["cpu_ms_per_op"] = (cpu_seconds(pids) - c0) * 1000.0 / t["ops"] if t["ops"] else None
    return t


def put_segment(work, cl, first):
    """PUTs keys first .. first+SEGMENT-1; the report of the run."""
    t = bench(work, f"put-{first}", ["--workload", "put", "--size", SIZE, "--conns", str(CONNS), "--dirs", str(DIRS),
                                     "--first", str(first), "--count", str(SEGMENT)], SEG_SECONDS, cl)
    ok = t["ops"] if t else 0
    log(f"keys {first:,}..{first + SEGMENT - 1:,}: {ok:,} PUTs, {t['ops_per_s'] if t else 0:,.0f}/s, "
        f"{t['cpu_ms_per_op'] if t else 0:.3f} CPU ms/PUT, errors {t['errors'] if t else '-'}, "
        f"load {open('/proc/loadavg').read().split()[0]}")
    if not t or t["errors"] or ok != SEGMENT:
        raise SystemExit(f"scale: the segment at {first:,} did not complete (see {work}/results)")
    return t


LISTS = [("list, no delimiter, from the start", "nodelim-start", "", ""),
         ("list, no delimiter, after a marker half-way", "nodelim-deep", "", "half"),
         ("list, delimiter /, from the start", "delim-start", "/", ""),
         ("list, delimiter /, after a marker half-way", "delim-deep", "/", "half")]


def measure_lists(work, cl, keys):
    marker = f"dir{DIRS // 2:04d}/"
    res = {}
    for _, short, delim, where in LISTS:
        args = ["--workload", "list", "--conns", "1", "--pages", str(PAGES), "--delimiter", delim]
        if where:
            args += ["--start-after", marker]
        t = bench(work, f"{short}-{keys}", args, LIST_SECONDS, cl)
        res[short] = {"pages_per_s": t["ops_per_s"], "keys_per_s": t["keys_per_s"], "pages": t["ops"],
                      "p50_ms": t["lat_ms"]["p50"], "cpu_ms_per_page": t["cpu_ms_per_op"],
                      "errors": t["errors"]} if t else None
    return res


def measure(work, cl, keys):
    load = open("/proc/loadavg").read().split()[0]
    lists = measure_lists(work, cl, keys)
    total, sst = db_bytes(work)
    row = {"keys": keys, "load": float(load), "lists": lists,
           "node_rss_mib": [round(rss_mib(p), 1) for p in cl.nodes], "gateway_rss_mib": round(rss_mib(cl.gateway), 1),
           "db_bytes": total, "sst_bytes": sst,
           "db_bytes_per_object": total / (keys * 3) if keys else None,
           "sst_bytes_per_object": sst / (keys * 3) if keys else None}
    return row


def fmt(v, digits=0):
    return "-" if v is None else f"{v:,.{digits}f}"


def print_table(rows, out=sys.stdout):
    hdr = ["keys", "PUT/s next segment (CPU ms/PUT)"] + [f"{label}: pages/s (CPU ms/page)" for label, *_ in LISTS] + [
        "node RSS MiB", "gateway RSS MiB", "metadata B/object (SST only)", "load"]
    print("| " + " | ".join(hdr) + " |", file=out)
    print("|" + "|".join("---" for _ in hdr) + "|", file=out)
    for r in rows:
        cells = [f"{r['keys']:,}", f"{fmt(r.get('put_per_s'))} ({fmt(r.get('put_cpu_ms'), 3)})"]
        for _, short, *_ in LISTS:
            v = r["lists"].get(short)
            cells.append(f"{v['pages_per_s']:,.2f} ({fmt(v['cpu_ms_per_page'], 1)})" if v else "-")
        cells += ["/".join(f"{x:.0f}" for x in r["node_rss_mib"]), f"{r['gateway_rss_mib']:.0f}",
                  f"{fmt(r['db_bytes_per_object'])} ({fmt(r['sst_bytes_per_object'])})", f"{r['load']:.2f}"]
        print("| " + " | ".join(cells) + " |", file=out, flush=True)


def run(work):
    os.makedirs(os.path.join(work, "results"), exist_ok=True)
    log(f"work directory {work}; {KEYS:,} keys, segments of {SEGMENT:,}, {DIRS} directories, size {SIZE}")
    cl = Cluster(work)
    rows, segs, t0 = [], [], time.time()
    try:
        filled = FROM
        for m in [] if LIST_AT else [m for m in milestones() if m >= FROM]:
            while filled < m:
                t = put_segment(work, cl, filled)
                segs.append((filled, t["ops_per_s"], t["cpu_ms_per_op"]))
                filled += SEGMENT
            row = measure(work, cl, filled)
            t = put_segment(work, cl, filled)
            segs.append((filled, t["ops_per_s"], t["cpu_ms_per_op"]))
            filled += SEGMENT
            row["put_per_s"], row["put_cpu_ms"] = t["ops_per_s"], t["cpu_ms_per_op"]
            rows.append(row)
            log(f"at {row['keys']:,} keys: " + json.dumps(row))
        if LIST_AT:
            rows.append(measure(work, cl, LIST_AT))
        elapsed = time.time() - t0
    finally:
        cl.stop()
    print(f"\nScale: {KEYS:,} keys of {SIZE} B in one bucket, {DIRS} directories, {CONNS} PUT connections, "
          f"{PAGES} pages per LIST variant; {elapsed / 60:.1f} min\n")
    print_table(rows)
    print("\nPUT rate per segment (CPU ms per PUT, gateway + nodes): " +
          ", ".join(f"{k // 1000:,}k {r:,.0f}/s ({c:.3f})" for k, r, c in segs))
    if os.environ.get("SCALE_JSON"):
        json.dump({"rows": rows, "segments": segs}, open(os.environ["SCALE_JSON"], "w"), indent=1)


def main():
    if not os.access(os.path.join(BIN, "onggi-bench"), os.X_OK):
        raise SystemExit(f"scale: {BIN}/onggi-bench not found (make BUILD=release all)")
    if KEYS % SEGMENT or DIRS < 2 or DIRS > 10000:
        raise SystemExit("scale: SCALE_KEYS must be a multiple of SCALE_SEGMENT, SCALE_DIRS within 2..10000")
    work = os.environ.get("SCALE_DIR")
    if (LIST_AT or FROM) and not work:
        raise SystemExit("scale: SCALE_LIST_AT and SCALE_FROM need SCALE_DIR, a work directory kept by an earlier run")
    if FROM % SEGMENT:
        raise SystemExit("scale: SCALE_FROM must be a multiple of SCALE_SEGMENT")
    own = not work
    work = tempfile.mkdtemp(prefix="onggi-scale.") if own else os.path.abspath(work)
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(143))
    try:
        run(work)
    finally:
        if own:
            shutil.rmtree(work, ignore_errors=True)
        else:
            log(f"work directory kept: {work}")


if __name__ == "__main__":
    main()
