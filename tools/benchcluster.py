"""tools/benchcluster.py: the throwaway cluster of the benchmark scripts (abuse-bench.py,
cdn-bench.py, quota-bench.py, slow-bench.py): tools/run-cluster.sh with its data in a work directory,
started and stopped; one plain HTTP call, SigV4 headers for raw requests, a percentile helper, and
the gateway's node-call and the kernel's TCP counters."""
import http.client
import os
import re
import resource
import signal
import subprocess
import sys
import time

from botocore.auth import SigV4Auth
from botocore.awsrequest import AWSRequest
from botocore.credentials import Credentials

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def disk_usage(path):
    """How full path's file system is, as text ("19 % used, 78.2 GiB free"). A nearly full ext4
    writes much slower (docs/benchmarks.md: 256 MiB PUTs at 95 vs 139-147 MiB/s with the disk at 94 %
    and at 19 %), so every bench says it and warns from 90 %."""
    st = os.statvfs(path)
    used_blocks = st.f_blocks - st.f_bfree
    used = -(-100 * used_blocks // max(used_blocks + st.f_bavail, 1))  # as df rounds: up
    return f"{used} % used, {st.f_bavail * st.f_frsize / 2**30:.1f} GiB free"


def start(bin_dir, port, work, name, env=None):
    """Starts run-cluster.sh (gateway on port, nodes on port+1..+3, https on port+4) logging to
    work/cluster.log and waits up to 60 s for it. Returns the launcher's Popen; exits the script
    with a message prefixed by `name` when the cluster does not start."""
    disk = disk_usage(work)
    if int(disk.split()[0]) >= 90:
        print(f"{name}: WARNING: the work directory's file system is nearly full ({disk}): writes will be slow",
              file=sys.stderr)
    log = open(os.path.join(work, "cluster.log"), "w")
    ports = f"{port + 1},{port + 2},{port + 3}"
    proc = subprocess.Popen([os.path.join(ROOT, "tools/run-cluster.sh"), "--bin", bin_dir, "--data",
                             os.path.join(work, "data"), "--port", str(port), "--tls-port", str(port + 4),
                             "--node-ports", ports], stdout=log, stderr=subprocess.STDOUT, env=env,
                            start_new_session=True)
    for _ in range(600):
        with open(os.path.join(work, "cluster.log")) as f:
            if "Onggi is running" in f.read():
                return proc
        if proc.poll() is not None:
            sys.exit(f"{name}: the cluster did not start (see cluster.log)")
        time.sleep(0.1)
    sys.exit(f"{name}: the cluster did not start within 60 s")


def pids(proc, binary):
    """The pids of the launcher's children running `binary` (onggi-gateway, onggi-node)."""
    out = subprocess.run(["ps", "-o", "pid=,args=", "--ppid", str(proc.pid)], capture_output=True,
                         text=True).stdout.splitlines()
    return [int(line.split()[0]) for line in out if binary in line]


def stop(proc):
    """Stops the launcher and everything it started (SIGKILL after 30 s). The servers run in
    sessions of their own (run-cluster.sh), outside the launcher's process group: a hung stop
    kills them by pid."""
    servers = pids(proc, "onggi-")
    os.killpg(proc.pid, signal.SIGTERM)
    try:
        proc.wait(30)
    except subprocess.TimeoutExpired:
        os.killpg(proc.pid, signal.SIGKILL)
        for pid in servers:
            try:
                os.kill(pid, signal.SIGKILL)
            except ProcessLookupError:
                pass


def call(port, method, path, headers=None, body=b""):
    """One request on its own connection to 127.0.0.1:port: (status, lower-cased headers, body)."""
    c = http.client.HTTPConnection("127.0.0.1", port, timeout=60)
    try:
        c.request(method, path, body=body, headers=headers or {})
        r = c.getresponse()
        return r.status, dict((k.lower(), v) for k, v in r.getheaders()), r.read()
    finally:
        c.close()


def start_with_users(bin_dir, port, work, name, users):
    """start() with S3 users {access: secret}: the first is the cluster's own, each other one is
    added with an account named after its key. (launcher Popen, gateway pid); exits the script
    with a message prefixed by `name` on failure."""
    (first, first_secret), *others = users.items()
    env = dict(os.environ, ONGGI_ACCESS_KEY=first, ONGGI_SECRET_KEY=first_secret)
    proc = start(bin_dir, port, work, name, env)
    gw = pids(proc, "onggi-gateway")
    if not gw:
        sys.exit(f"{name}: no gateway process found")
    for access, secret in others:
        subprocess.run([os.path.join(bin_dir, "onggi-admin"), "--ring", os.path.join(work, "data", "ring.bin"),
                        "user-add", "--access-key", access, "--secret", secret, "--account", access],
                       check=True, capture_output=True, timeout=60)
    return proc, gw[0]


class UnsignedPayloadAuth(SigV4Auth):
    def payload(self, request):
        return "UNSIGNED-PAYLOAD"


def signed_headers(port, method, path, access, secret, extra=None, region="us-east-1"):
    """SigV4 headers (UNSIGNED-PAYLOAD) for a request to 127.0.0.1:port, extra headers included."""
    req = AWSRequest(method=method, url=f"http://127.0.0.1:{port}{path}", headers=dict(extra or {}))
    req.headers["x-amz-content-sha256"] = "UNSIGNED-PAYLOAD"
    UnsignedPayloadAuth(Credentials(access, secret), "s3", region).add_auth(req)
    return dict(req.headers.items())


def signed_request(port, method, path, access, secret, body=b"", timeout=60, region="us-east-1",
                   headers_out=None):
    """One SigV4 (UNSIGNED-PAYLOAD) request on a new connection to 127.0.0.1:port: (status, body,
    seconds from connect to the last byte). The answer's headers (lower-case names) go into the
    dict headers_out when one is given."""
    hdrs = signed_headers(port, method, path, access, secret, {"Content-Length": str(len(body))}, region)
    t0 = time.monotonic()
    c = http.client.HTTPConnection("127.0.0.1", port, timeout=timeout)
    try:
        c.request(method, path, body=body, headers=hdrs)
        r = c.getresponse()
        data = r.read()
        if headers_out is not None:
            headers_out.update((k.lower(), v) for k, v in r.getheaders())
        return r.status, data, time.monotonic() - t0
    finally:
        c.close()

def pct(values, p):
    """The p-th percentile of values (nearest rank), None when empty."""
    if not values:
        return None
    v = sorted(values)
    return v[min(len(v) - 1, int(round(p / 100.0 * (len(v) - 1))))]


def raise_nofile(need, name):
    """Raises the open-file limit to its hard limit; exits the script (`name`: its message prefix)
    when that is below need."""
    _, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))
    if hard < need:
        sys.exit(f"{name}: the open-file hard limit {hard} is below {need}")


def node_call_counters(port):
    """The gateway's node-call counters from its /metrics: {family: {node: value}} for calls,
    errors, timeouts and skipped, and {"small_batches": {"batches": n, "sends": m}}: small chunk
    batches and the combined requests that carried them (docs/operations.md, metrics)."""
    st, _, body = call(port, "GET", "/metrics")
    if st != 200:
        raise OSError(f"/metrics: HTTP {st}")
    out = {}
    for fam, node, v in re.findall(rb'^onggi_gateway_node_(calls|errors|timeouts|skipped)_total\{node="([^"]*)"\} (\d+)$',
                                   body, re.M):
        out.setdefault(fam.decode(), {})[node.decode()] = int(v)
    for fam, v in re.findall(rb'^onggi_gateway_small_batch(es|_sends)_total (\d+)$', body, re.M):
        out.setdefault("small_batches", {})["batches" if fam == b"es" else "sends"] = int(v)
    return out


def tcp_counters():
    """System-wide TCP counters (/proc/net/snmp and /proc/net/netstat): connections opened
    (ActiveOpens), listen-queue overflows and drops, resets sent."""
    want = {"ActiveOpens", "PassiveOpens", "ListenOverflows", "ListenDrops", "OutRsts", "TCPTimeouts"}
    out = {}
    for path in ("/proc/net/snmp", "/proc/net/netstat"):
        with open(path) as f:
            lines = f.read().splitlines()
        for head, vals in zip(lines[::2], lines[1::2]):
            for k, v in zip(head.split()[1:], vals.split()[1:]):
                if k in want:
                    out[k] = int(v)
    return out


def accept_queues(ports):
    """{port: connections waiting to be accepted} for the listening IPv4 sockets on ports
    (/proc/net/tcp: a listener's rx_queue is its accept queue). A deep queue means the process
    is not coming back to accept: its threads are all busy, or it is starved of CPU."""
    out = {}
    with open("/proc/net/tcp") as f:
        for line in f.readlines()[1:]:
            fields = line.split()
            port = int(fields[1].rsplit(":", 1)[1], 16)
            if fields[3] == "0A" and port in ports:
                out[port] = max(out.get(port, 0), int(fields[4].split(":")[1], 16))
    return out


def counters_delta(before, after):
    """after - before for nested dicts of counters (what tcp_counters/node_call_counters return)."""
    if isinstance(after, dict):
        return {k: counters_delta(before.get(k, 0 if not isinstance(v, dict) else {}), v) for k, v in after.items()}
    return after - before
