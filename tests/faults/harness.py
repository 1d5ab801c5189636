"""Fault-injection harness for Onggi: a cluster whose storage nodes each run in their own network
namespace, faults (kill, freeze, cut, full disk, corrupt chunks, replace a disk), a bounded S3
workload that records every acknowledged write, and the read-back that checks none was lost.

Layout of one cluster (run id = this process's pid, so leftovers of a dead run can be told apart):

    root namespace                               namespace ogf<run>-n<i>
    onggi-gateway 127.0.0.1:<free port>          onggi-node --listen 10.<net>.<i>.2:7001
    ogf<run>-<i>h 10.<net>.<i>.1/24  <== veth ==> ogf<run>-<i>n 10.<net>.<i>.2/24
    (net: the first of 10.78-97 that no interface uses, picked under a lock that chroots share)

Everything lives in /tmp/onggi-faults-<run>-XXXX (ring, node dirs, loop images, logs). Cleanup
always runs (context manager, atexit, SIGINT/SIGTERM/SIGHUP handlers) and leaves no process,
namespace, veth, mount or loop device behind; the directory is removed unless the run failed,
in which case the logs are kept. Needs root (ip netns, mount)."""

import atexit
import ctypes
import contextlib
import hashlib
import http.client
import json
import mmap
import os
import random
import re
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time

import boto3
import botocore.exceptions
from botocore.config import Config

REPO = os.path.abspath(os.path.join(os.path.dirname(__file__), "..", ".."))
sys.path.insert(0, os.path.join(REPO, "tests"))
import onggi_sign  # noqa: E402  (tests/onggi_sign.py: node API request signing)
REGION = "us-east-1"
ACCESS, SECRET, ACCOUNT = "faultaccess", "faultsecret", "faults"
BUCKET = "faults"
NODE_PORT = 7001
NETS = range(78, 98)  # a run's node i lives on 10.<net>.<i>.0/24, net the first one free
# Picking addresses is serialized by binding this abstract UNIX socket name: it belongs to the
# network namespace, so runs in a chroot (the fresh-machine check) and on the host exclude each
# other too, which a lock file under /run could not (two runs on one address range talk to each
# other's nodes).
NET_LOCK = "\0onggi-faults-net-lock"
START_TIMEOUT = 30.0
STOP_TIMEOUT = 15.0
CHDR_LEN = 48  # storage-node/node_store.c: u32 magic | id[32] | u32 len | u64 xxh3
CHDR_MAGIC = b"OGCK"

_libc = ctypes.CDLL(None, use_errno=True)
_PR_SET_PDEATHSIG = 1
_live = []  # clusters not yet cleaned up, for atexit and signal handlers
_handlers_installed = False


def bin_dir():
    return os.environ.get("ONGGI_BIN") or os.path.join(REPO, "build", "release", "bin")


def sh(*args, check=True, timeout=60):
    """Runs a command, returns CompletedProcess; raises with its output when check and it fails."""
    r = subprocess.run([str(a) for a in args], capture_output=True, text=True, timeout=timeout)
    if check and r.returncode != 0:
        raise RuntimeError(f"{' '.join(map(str, args))} -> {r.returncode}: {r.stderr.strip()}")
    return r


@contextlib.contextmanager
def net_lock(timeout=300):
    """Holds NET_LOCK (waiting up to timeout seconds for another run to release it)."""
    s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    deadline = time.monotonic() + timeout
    try:
        while True:
            try:
                s.bind(NET_LOCK)
                break
            except OSError:
                if time.monotonic() > deadline:
                    raise RuntimeError("another fault run held the address lock too long")
                time.sleep(0.05)
        yield
    finally:
        s.close()


def _die_with_parent():
    # In the child between fork and exec: a harness that dies (even by SIGKILL) takes its
    # processes along, so a crashed run never leaves nodes serving.
    _libc.prctl(_PR_SET_PDEATHSIG, signal.SIGKILL)


def free_port():
    s = socket.socket()
    try:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]
    finally:
        s.close()


def http_get(host, port, path, timeout=3, keys=None):
    """GET path; signed with the cluster key file `keys` (a node request) when given."""
    if keys:
        status, _, body = onggi_sign.node_request(keys, host, port, "GET", path, timeout=timeout)
        return status, body
    conn = http.client.HTTPConnection(host, port, timeout=timeout)
    try:
        conn.request("GET", path)
        resp = conn.getresponse()
        return resp.status, resp.read()
    finally:
        conn.close()


# ---------------------------------------------------------------------------------------------
# cleanup


def _cleanup_all(*_):
    for c in list(_live):
        c.close()


def _on_signal(signum, frame):
    _cleanup_all()
    signal.signal(signum, signal.SIG_DFL)
    os.kill(os.getpid(), signum)


def install_cleanup_handlers():
    """atexit plus SIGINT/SIGTERM/SIGHUP: clean up, then die of the signal as usual."""
    global _handlers_installed
    if _handlers_installed or threading.current_thread() is not threading.main_thread():
        return
    atexit.register(_cleanup_all)
    for s in (signal.SIGINT, signal.SIGTERM, signal.SIGHUP):
        signal.signal(s, _on_signal)
    _handlers_installed = True


def _pid_alive(pid):
    return os.path.exists(f"/proc/{pid}")


def cleanup_stale():
    """Removes namespaces, veths, mounts and loop devices of harness runs whose process is gone
    (a run killed by SIGKILL cannot clean up after itself). Runs of live processes are left alone."""
    removed = []
    for line in sh("ip", "netns", "list", check=False).stdout.splitlines():
        m = re.match(r"(ogf(\d+)-n\d+)\b", line)
        if m and not _pid_alive(int(m.group(2))):
            sh("ip", "netns", "del", m.group(1), check=False)
            removed.append(m.group(1))
    for line in sh("ip", "-o", "link", "show", check=False).stdout.splitlines():
        m = re.match(r"\d+: (ogf(\d+)-\d+h)[@:]", line)
        if m and not _pid_alive(int(m.group(2))):
            sh("ip", "link", "del", m.group(1), check=False)
            removed.append(m.group(1))
    for line in sh("findmnt", "-rn", "-o", "TARGET", check=False).stdout.splitlines():
        m = re.match(r"/tmp/onggi-faults-(\d+)-", line)
        if m and not _pid_alive(int(m.group(1))):
            sh("umount", "-l", line, check=False)
            removed.append(line)
    for line in sh("losetup", "-a", check=False).stdout.splitlines():
        m = re.match(r"(/dev/loop\d+):.*\(/tmp/onggi-faults-(\d+)-", line)
        if m and not _pid_alive(int(m.group(2))):
            sh("losetup", "-d", m.group(1), check=False)
            removed.append(m.group(1))
    return removed


def leftovers(run=None):
    """Namespaces, veths, mounts, loop devices and processes of harness runs still present (of
    one run id, or of any). Empty after a clean run."""
    tag = f"ogf{run}-" if run else "ogf"
    dirtag = f"/tmp/onggi-faults-{run}-" if run else "/tmp/onggi-faults-"
    found = [l for l in sh("ip", "netns", "list", check=False).stdout.splitlines() if l.startswith(tag)]
    found += [l for l in sh("ip", "-o", "link", "show", check=False).stdout.splitlines() if f": {tag}" in l]
    found += [l for l in sh("findmnt", "-rn", "-o", "TARGET", check=False).stdout.splitlines() if l.startswith(dirtag)]
    found += [l for l in sh("losetup", "-a", check=False).stdout.splitlines() if dirtag in l]
    for pid in os.listdir("/proc"):
        if pid.isdigit():
            try:
                with open(f"/proc/{pid}/cmdline", "rb") as f:
                    cmd = f.read().replace(b"\0", b" ").decode("utf-8", "replace")
            except OSError:
                continue
            if cmd.startswith(os.path.join(bin_dir(), "onggi-")) and dirtag in cmd:
                found.append(f"process {pid}: {cmd}")
    return found


# ---------------------------------------------------------------------------------------------
# the cluster


class FaultCluster:
    """N storage nodes in network namespaces, one gateway on loopback, a user and a bucket.

    loop_mib: {node index: MiB} gives those nodes a loop-mounted ext4 of that size as --dir.
    spare: namespaces made for nodes that join later (add_node)."""

    def __init__(self, nodes=3, loop_mib=None, keep_on_failure=True, spare=0):
        self.n = nodes
        self.spare = spare
        self.loop_mib = dict(loop_mib or {})
        self.keep_on_failure = keep_on_failure
        self.run = os.getpid()
        self.bin = bin_dir()
        self.root = None
        self.ring = None
        self.procs = {}  # name -> Popen
        self.gw_port = None
        self.failed = False
        self.closed = False
        self._lock = threading.Lock()
        self._ns_made, self._veth_made, self._mounts = [], [], []
        self.net = None

    # ---- names ----
    def ns(self, i):
        return f"ogf{self.run}-n{i}"

    def veth_host(self, i):
        return f"ogf{self.run}-{i}h"

    def veth_node(self, i):
        return f"ogf{self.run}-{i}n"

    def node_ip(self, i):
        return f"10.{self.net}.{i}.2"

    def node_addr(self, i):
        return f"{self.node_ip(i)}:{NODE_PORT}"

    def node_dir(self, i):
        return os.path.join(self.root, f"node{i}")

    def dev_dir(self, i):
        return os.path.join(self.node_dir(i), f"d{i}")

    def log_path(self, name):
        return os.path.join(self.root, "log", f"{name}.log")

    # ---- life cycle ----
    def __enter__(self):
        self.start()
        return self

    def __exit__(self, exc_type, exc, tb):
        if exc_type is not None:
            self.failed = True
        self.close()
        return False

    def start(self):
        for b in ("onggi-ring", "onggi-node", "onggi-gateway", "onggi-admin"):
            if not os.access(os.path.join(self.bin, b), os.X_OK):
                raise RuntimeError(f"{self.bin}/{b} not found (build: make BUILD=release all, or set ONGGI_BIN)")
        install_cleanup_handlers()
        cleanup_stale()
        self.root = tempfile.mkdtemp(prefix=f"onggi-faults-{self.run}-")
        os.makedirs(os.path.join(self.root, "log"))
        _live.append(self)
        try:
            self._make_nets()
            for i in range(1, self.n + 1):
                os.makedirs(self.node_dir(i))
                if i in self.loop_mib:
                    self._make_loopfs(i, self.loop_mib[i])
            self._make_ring()
            for i in range(1, self.n + 1):
                self.start_node(i)
            self.start_gateway()
            self.admin("account-add", ACCOUNT)
            self.admin("user-add", "--access-key", ACCESS, "--secret", SECRET, "--account", ACCOUNT,
                       "--display-name", ACCOUNT)
            self.client().create_bucket(Bucket=BUCKET)
        except BaseException:
            self.failed = True
            self.close()
            raise

    def _make_nets(self):
        """Picks the first 10.<net>.0.0/16 no interface uses and makes every node's namespace
        under a lock, so concurrent runs (make test in two worktrees) never share addresses."""
        with net_lock():
            used = sh("ip", "-o", "addr", "show", check=False).stdout
            free = [n for n in NETS if f" 10.{n}." not in used]
            if not free:
                raise RuntimeError(f"no free 10.{NETS[0]}-{NETS[-1]}.x.x network for the fault cluster")
            self.net = free[0]
            for i in range(1, self.n + self.spare + 1):
                self._make_net(i)

    def _make_net(self, i):
        ip_host = f"10.{self.net}.{i}.1"
        sh("ip", "netns", "add", self.ns(i))
        self._ns_made.append(self.ns(i))
        sh("ip", "link", "add", self.veth_host(i), "type", "veth", "peer", "name", self.veth_node(i))
        self._veth_made.append(self.veth_host(i))
        sh("ip", "link", "set", self.veth_node(i), "netns", self.ns(i))
        sh("ip", "addr", "add", f"{ip_host}/24", "dev", self.veth_host(i))
        sh("ip", "link", "set", self.veth_host(i), "up")
        nsx = ("nsenter", f"--net=/run/netns/{self.ns(i)}")
        sh(*nsx, "ip", "addr", "add", f"{self.node_ip(i)}/24", "dev", self.veth_node(i))
        sh(*nsx, "ip", "link", "set", self.veth_node(i), "up")
        sh(*nsx, "ip", "link", "set", "lo", "up")
        # Nodes talk to each other too (anti-entropy pushes, node to node): through the host, which
        # routes between the veths. Forwarding is switched on and left on (turning it off at the
        # end could cut another run that is still going).
        sh(*nsx, "ip", "route", "add", f"10.{self.net}.0.0/16", "via", ip_host)
        with open("/proc/sys/net/ipv4/ip_forward", "w") as f:
            f.write("1")

    def _make_loopfs(self, i, mib):
        img = os.path.join(self.root, f"node{i}.img")
        with open(img, "wb") as f:
            f.truncate(mib << 20)  # sparse: only what the node writes takes host disk space
        sh("mkfs.ext4", "-q", "-F", "-m", "0", img)
        # -o loop sets autoclear: the loop device goes away with the unmount.
        sh("mount", "-o", "loop", img, self.node_dir(i))
        self._mounts.append(self.node_dir(i))

    def _make_ring(self):
        self.ring = os.path.join(self.root, "ring.bin")
        tool = os.path.join(self.bin, "onggi-ring")
        sh(tool, "create", self.ring, "10", "3", "1")
        for i in range(1, self.n + 1):
            sh(tool, "add", self.ring, "--zone", i, "--addr", self.node_addr(i), "--name", f"d{i}", "--weight", "100")
        sh(tool, "rebalance", self.ring)

    def _spawn(self, name, args):
        with open(self.log_path(name), "ab") as f:
            f.write(f"---- start {time.strftime('%H:%M:%S')}: {' '.join(args)}\n".encode())
            self.procs[name] = subprocess.Popen(args, stdin=subprocess.DEVNULL, stdout=f, stderr=subprocess.STDOUT,
                                                preexec_fn=_die_with_parent)

    def _wait_http(self, name, host, port, path):
        deadline = time.monotonic() + START_TIMEOUT
        while time.monotonic() < deadline:
            if self.procs[name].poll() is not None:
                raise RuntimeError(f"{name} exited with {self.procs[name].returncode} at start\n{self.log_tail(name)}")
            try:
                http_get(host, port, path, timeout=2)
                return
            except OSError:
                time.sleep(0.1)
        raise RuntimeError(f"{name} did not answer on {host}:{port} in {START_TIMEOUT}s\n{self.log_tail(name)}")

    def start_node(self, i, ring=None):
        """Starts node i in its namespace and waits until it answers /health. nsenter joins the
        network namespace and execs the node, so the pid is the node's; unlike `ip netns exec` it
        remounts nothing, so it also works in a chroot, where / is not a mount point. Returns the
        seconds it took."""
        t0 = time.monotonic()
        self._spawn(f"node{i}", ["nsenter", f"--net=/run/netns/{self.ns(i)}", os.path.join(self.bin, "onggi-node"),
                                 "--ring", ring or self.ring, "--keys", self.ring + ".keys", "--listen",
                                 self.node_addr(i), "--dir", self.node_dir(i)])
        self._wait_http(f"node{i}", self.node_ip(i), NODE_PORT, "/health")
        return time.monotonic() - t0

    def start_gateway(self):
        self.gw_port = self.gw_port or free_port()
        self._spawn("gw", [os.path.join(self.bin, "onggi-gateway"), "--ring", self.ring, "--listen",
                           f"127.0.0.1:{self.gw_port}"])
        self._wait_http("gw", "127.0.0.1", self.gw_port, "/")

    def stop(self, name, sig=signal.SIGTERM):
        """Stops a process (a frozen one is continued first so SIGTERM can act). Returns its rc."""
        p = self.procs.get(name)
        if p is None or p.poll() is not None:
            return None
        if sig != signal.SIGKILL:
            p.send_signal(signal.SIGCONT)
        p.send_signal(sig)
        try:
            return p.wait(timeout=STOP_TIMEOUT)
        except subprocess.TimeoutExpired:
            p.kill()
            return p.wait(timeout=STOP_TIMEOUT)

    def close(self):
        """Idempotent cleanup: processes, veths, namespaces, mounts, loop devices, the directory."""
        with self._lock:
            if self.closed:
                return
            self.closed = True
        for name in sorted(self.procs, key=lambda n: not n.startswith("gw")):
            try:
                self.stop(name)
            except Exception:  # keep cleaning up whatever happens
                pass
        for v in self._veth_made:
            sh("ip", "link", "del", v, check=False)  # deletes both ends of the pair
        for ns in self._ns_made:
            sh("ip", "netns", "del", ns, check=False)
        for m in self._mounts:
            if sh("umount", m, check=False).returncode != 0:
                sh("umount", "-l", m, check=False)
        if self.root:
            for line in sh("losetup", "-a", check=False).stdout.splitlines():
                if f"({self.root}/" in line:
                    sh("losetup", "-d", line.split(":")[0], check=False)
        if self in _live:
            _live.remove(self)
        if self.root and os.path.isdir(self.root):
            if self.failed and self.keep_on_failure:
                # Keep the logs and ring for inspection, not the data.
                for i in range(1, self.n + 1):
                    for d in (self.node_dir(i), self.node_dir(i) + ".old"):
                        shutil.rmtree(d, ignore_errors=True)
                    if os.path.isfile(self.node_dir(i) + ".img"):
                        os.unlink(self.node_dir(i) + ".img")
                print(f"faults: logs kept in {self.root}/log")
            else:
                shutil.rmtree(self.root, ignore_errors=True)

    def add_node(self):
        """The operator's steps for a new node (docs/operations.md, "Changing the ring"): a ring with
        one more device (a spare namespace) of the others' weight, rebalanced; the node started on
        it; the file put in place (the gateway reloads it) and pushed to the nodes. Returns
        (partition-replicas moved, partition-replicas in all)."""
        if self.spare == 0:
            raise RuntimeError("add_node needs a FaultCluster made with spare >= 1")
        i, tool = self.n + 1, os.path.join(self.bin, "onggi-ring")
        new, own = self.ring + ".new", os.path.join(self.root, f"ring-node{i}.bin")
        shutil.copy(self.ring, new)
        # The harness ring was built seconds ago: min_part_hours would keep every partition put.
        sh(tool, "pretend-min-part-hours-passed", new)
        sh(tool, "add", new, "--zone", i, "--addr", self.node_addr(i), "--name", f"d{i}", "--weight", "100")
        moved = int(sh(tool, "rebalance", new).stdout.split()[-1])
        shutil.copy(new, own)
        os.makedirs(self.node_dir(i))
        self.n, self.spare = i, self.spare - 1
        self.start_node(i, ring=own)
        os.replace(new, self.ring)
        self.admin("ring", "push")
        return moved, (1 << 10) * 3  # _make_ring: part power 10, 3 replicas

    def repl_sum(self, field):
        """The sum of a numeric /stat field over the nodes (those that answer)."""
        return sum((self.node_stat(i) or {}).get(field, 0) for i in range(1, self.n + 1))

    def wait_moved(self, limit_s):
        """Seconds until `onggi-admin rebalance` says done and nothing is under-replicated (polled
        every second), or None when limit_s passed first."""
        t0 = time.monotonic()
        while time.monotonic() - t0 < limit_s:
            r = self.admin("rebalance", check=False)
            if r.returncode == 0 and re.search(r"^total .* done=yes", r.stdout, re.M) and self.under_replicated() == 0:
                return round(time.monotonic() - t0, 1)
            time.sleep(1)
        return None

    # ---- tools and clients ----
    def admin(self, *args, check=True):
        return sh(os.path.join(self.bin, "onggi-admin"), "--ring", self.ring, *args, check=check, timeout=120)

    def under_replicated(self):
        """`onggi-admin replication`'s total of under-replicated items, or None when a device did
        not answer (the count is only whole with every device up)."""
        r = self.admin("replication", check=False)
        m = re.search(r"^total .*under_replicated=(\d+)", r.stdout, re.M)
        return int(m.group(1)) if r.returncode == 0 and m else None

    def wait_repaired(self, limit_s):
        """Seconds until the cluster reports zero under-replicated items (polled every second),
        with the count first seen; (None, count) when limit_s passed first."""
        t0, first = time.monotonic(), None
        while time.monotonic() - t0 < limit_s:
            n = self.under_replicated()
            first = n if first is None else first
            if n == 0:
                return round(time.monotonic() - t0, 1), first
            time.sleep(1)
        return None, first

    def endpoint(self):
        return f"http://127.0.0.1:{self.gw_port}"

    def client(self, timeout=30):
        """A boto3 client without retries: every failure shows."""
        cfg = Config(s3={"addressing_style": "path"}, retries={"total_max_attempts": 1},
                     connect_timeout=timeout, read_timeout=timeout)
        return boto3.session.Session().client("s3", endpoint_url=self.endpoint(), aws_access_key_id=ACCESS,
                                              aws_secret_access_key=SECRET, region_name=REGION, config=cfg)

    def log_tail(self, name, lines=30):
        try:
            with open(self.log_path(name), "rb") as f:
                data = f.read()[-32768:].decode("utf-8", "replace")
        except OSError:
            return f"({name}: no log)"
        return "\n".join(data.splitlines()[-lines:])

    def node_stat(self, i):
        """The node's GET /<dev>/stat as a dict (None when it does not answer)."""
        try:
            status, body = http_get(self.node_ip(i), NODE_PORT, f"/d{i}/stat", timeout=5, keys=self.ring + ".keys")
            return json.loads(body) if status == 200 else None
        except (OSError, ValueError):
            return None

    # ---- faults ----
    def kill(self, i):
        self.stop(f"node{i}", signal.SIGKILL)

    def restart(self, i):
        """Starts node i again; returns seconds until it answered /health."""
        return self.start_node(i)

    def freeze(self, i):
        self.procs[f"node{i}"].send_signal(signal.SIGSTOP)

    def thaw(self, i):
        self.procs[f"node{i}"].send_signal(signal.SIGCONT)

    def cut(self, i):
        # tc netem is not available on every kernel (not on this one); a host-side link down
        # removes the route, so new connections fail at once and open ones lose every packet.
        sh("ip", "link", "set", self.veth_host(i), "down")

    def heal(self, i):
        sh("ip", "link", "set", self.veth_host(i), "up")
        # The connected route comes back with the link; wait (bounded) until the node answers.
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline:
            try:
                http_get(self.node_ip(i), NODE_PORT, "/health", timeout=1)
                return
            except OSError:
                time.sleep(0.05)

    def fill_disk(self, i):
        """Fills node i's (loop) file system with a filler file until ENOSPC. Returns the bytes
        taken. fallocate, not writes: the blocks are the file system's either way, and it is
        instant even for a big disk."""
        path = os.path.join(self.node_dir(i), "filler")
        st = os.statvfs(self.node_dir(i))
        step, taken = st.f_bavail * st.f_frsize, 0
        fd = os.open(path, os.O_WRONLY | os.O_CREAT, 0o644)
        try:
            # Extent metadata needs blocks too, so the last free bytes are taken in smaller steps.
            for _ in range(64):
                if step < 4096:
                    break
                try:
                    os.posix_fallocate(fd, taken, step)
                    taken += step
                except OSError:
                    step //= 2
        finally:
            os.close(fd)
        return taken

    def free_disk(self, i):
        path = os.path.join(self.node_dir(i), "filler")
        if os.path.exists(path):
            os.unlink(path)

    def replace_disk(self, i):
        """Stops node i, moves its directory away and starts it on an empty one: a disk swap."""
        self.stop(f"node{i}")
        os.rename(self.node_dir(i), self.node_dir(i) + ".old")
        os.makedirs(self.node_dir(i))
        return self.start_node(i)

    def chunks_on(self, i):
        """[(volume path, header offset, id hex, len)] of every chunk in node i's volume files,
        walked header to header (storage-node/node_store.c); punched holes are skipped by looking
        for the next header magic."""
        out = []
        vdir = os.path.join(self.dev_dir(i), "vol")
        for name in sorted(os.listdir(vdir)) if os.path.isdir(vdir) else []:
            path = os.path.join(vdir, name)
            if os.path.getsize(path) > 0:
                out += _walk_volume(path)
        return out

    def corrupt(self, i, fraction=1.0, ids=None, nbytes=16, seed=1):
        """Flips nbytes payload bytes (in the middle of the chunk, never just the header) of
        chunks on node i: those in ids (hex) or a random fraction of all. Returns their ids."""
        rnd = random.Random(seed)
        chosen = [c for c in self.chunks_on(i)
                  if (c[2] in ids if ids is not None else rnd.random() < fraction)]
        for path, off, _, length in chosen:
            _flip(path, off + CHDR_LEN + length // 2, min(nbytes, length))
        return [c[2] for c in chosen]

    def node_chunk_status(self, i, cid):
        """What node i's GET /d<i>/chunk/<id> says of a chunk: "corrupt" (500: found bad, now
        quarantined), "absent" (404: quarantined earlier, by a read or the scrubber), "good" (200
        with bytes whose SHA-256 is the id: a replica refilled it), "served-bad" (200 with other
        bytes: must never happen), or the HTTP status / error name."""
        try:
            status, body = http_get(self.node_ip(i), NODE_PORT, f"/d{i}/chunk/{cid}", timeout=10,
                                    keys=self.ring + ".keys")
        except OSError as e:
            return type(e).__name__
        if status == 200:
            return "good" if hashlib.sha256(body).hexdigest() == cid else "served-bad"
        return {500: "corrupt", 404: "absent"}.get(status, str(status))

    def locate(self, key, bucket=BUCKET):
        """[(chunk id hex, [node indexes holding it])] from onggi-admin locate."""
        out = self.admin("locate", bucket, key).stdout
        chunks = []
        for line in out.splitlines():
            m = re.match(r"\d+ ([0-9a-f]{64}) \d+(.*)", line)
            if m:
                where = [i for i in range(1, self.n + 1)
                         if self.node_addr(i) in m.group(2) or re.search(rf"\bd{i}\b", m.group(2))]
                chunks.append((m.group(1), where))
        return chunks

    def corrupt_all_replicas(self, key, bucket=BUCKET, chunk_index=0):
        """Corrupts every replica of one chunk of an object. Returns (chunk id, nodes corrupted)."""
        chunks = self.locate(key, bucket)
        if not chunks:
            raise RuntimeError(f"{bucket}/{key} has no chunks (inline object?)")
        cid, where = chunks[chunk_index]
        done = [i for i in where if self.corrupt(i, ids={cid})]
        return cid, done


def _walk_volume(path):
    found = []
    with open(path, "rb") as f:
        mm = mmap.mmap(f.fileno(), 0, access=mmap.ACCESS_READ)
        try:
            off, size = 0, len(mm)
            while off + CHDR_LEN <= size:
                if mm[off:off + 4] != CHDR_MAGIC:
                    nxt = mm.find(CHDR_MAGIC, off + 1)
                    if nxt < 0:
                        break
                    off = nxt
                    continue
                length = int.from_bytes(mm[off + 36:off + 40], "big")
                if off + CHDR_LEN + length > size:
                    break
                found.append((path, off, mm[off + 4:off + 36].hex(), length))
                off += CHDR_LEN + length
        finally:
            mm.close()
    return found


def _flip(path, pos, n):
    with open(path, "r+b") as f:
        f.seek(pos)
        data = f.read(n)
        f.seek(pos)
        f.write(bytes(b ^ 0xFF for b in data))
        f.flush()
        os.fsync(f.fileno())


# ---------------------------------------------------------------------------------------------
# workload and ledger


def sha(data):
    return hashlib.sha256(data).hexdigest()


class Ledger:
    """Per key: the sha256 of the latest acknowledged (200) PUT, and the shas of every PUT to it
    that failed: a failed PUT may still have been applied, even after a later acknowledged one (a
    request the client gave up on can still be committing in the gateway), so reading one of
    those is not wrong bytes, only an unacknowledged write that landed."""

    def __init__(self):
        self.lock = threading.Lock()
        self.acked = {}
        self.maybe = {}
        self.ops = []  # (t_start, t_end, op, outcome); outcome 'ok' or an error class

    def put_ok(self, key, digest):
        with self.lock:
            self.acked[key] = digest

    def put_failed(self, key, digest):
        with self.lock:
            self.maybe.setdefault(key, set()).add(digest)

    def judge(self, key, digest):
        """'ok', 'unacked' (a failed PUT's bytes) or 'wrong'."""
        with self.lock:
            if self.acked.get(key) == digest:
                return "ok"
            return "unacked" if digest in self.maybe.get(key, ()) else "wrong"

    def record(self, t0, t1, op, outcome):
        self.ops.append((t0, t1, op, outcome))  # list.append is atomic under the GIL


def classify(exc):
    """A short outcome name for a failed request."""
    if isinstance(exc, botocore.exceptions.ClientError):
        code = exc.response.get("ResponseMetadata", {}).get("HTTPStatusCode")
        return f"http{code}"
    if isinstance(exc, (botocore.exceptions.ReadTimeoutError, botocore.exceptions.ConnectTimeoutError)):
        return "timeout"
    return type(exc).__name__


def get_digest(client, key):
    """(outcome, sha256 hex or None): 'ok' with the digest, else the error class."""
    try:
        body = client.get_object(Bucket=BUCKET, Key=key)["Body"].read()
        return "ok", sha(body)
    except (botocore.exceptions.BotoCoreError, botocore.exceptions.ClientError, OSError) as e:
        return classify(e), None


class Load:
    """Client threads doing PUTs (new keys and overwrites, 4-64 KiB random bytes) and GETs of
    their own acknowledged keys. Bounded by max_ops per thread and by stop()/deadline. Each
    thread owns its keys, so 'the latest acknowledged version' of a key is well defined."""

    def __init__(self, fc, ledger, threads=4, max_ops=100000, max_seconds=3600, prefix="k",
                 overwrite=0.15, get=0.35, seed=7, obj_bytes=(4096, 65536)):
        self.fc, self.ledger = fc, ledger
        self.obj_bytes = obj_bytes  # (smallest, largest) PUT body in bytes
        self.put_bytes = 0  # acknowledged PUT bytes (the data set a fault has to catch up on)
        self.bytes_lock = threading.Lock()
        self.threads, self.max_ops, self.max_seconds = threads, max_ops, max_seconds
        self.prefix, self.overwrite, self.get, self.seed = prefix, overwrite, get, seed
        self.stop_ev = threading.Event()
        self.workers = []
        self.wrong_reads = []  # (key, time) of 200s whose bytes were never written to that key

    def start(self):
        for t in range(self.threads):
            w = threading.Thread(target=self._run, args=(t,), daemon=True)
            w.start()
            self.workers.append(w)

    def stop(self, join_timeout=120):
        self.stop_ev.set()
        for w in self.workers:
            w.join(join_timeout)

    def _run(self, t):
        rnd = random.Random(self.seed * 1000 + t)
        client = self.fc.client()
        mine = []
        deadline = time.monotonic() + self.max_seconds
        for n in range(self.max_ops):
            if self.stop_ev.is_set() or time.monotonic() > deadline:
                return
            r = rnd.random()
            if mine and r < self.get:
                ok = self._get(client, rnd.choice(mine))
            elif mine and r < self.get + self.overwrite:
                ok = self._put(client, rnd.choice(mine), rnd)
            else:
                key = f"{self.prefix}{t}-{n}"
                ok = self._put(client, key, rnd)
                if ok:
                    mine.append(key)
            if not ok:
                # A dead gateway refuses at once: without a pause the threads would spin
                # through max_ops in a second and leave no load for the phase after the heal.
                time.sleep(0.05)

    def _put(self, client, key, rnd):
        data = rnd.randbytes(rnd.randint(*self.obj_bytes))
        digest = sha(data)
        t0 = time.monotonic()
        try:
            client.put_object(Bucket=BUCKET, Key=key, Body=data)
            self.ledger.put_ok(key, digest)
            with self.bytes_lock:
                self.put_bytes += len(data)
            self.ledger.record(t0, time.monotonic(), "put", "ok")
            return True
        except (botocore.exceptions.BotoCoreError, botocore.exceptions.ClientError, OSError) as e:
            self.ledger.put_failed(key, digest)
            self.ledger.record(t0, time.monotonic(), "put", classify(e))
            return False

    def _get(self, client, key):
        t0 = time.monotonic()
        outcome, digest = get_digest(client, key)
        if outcome == "ok" and self.ledger.judge(key, digest) == "wrong":
            outcome = "wrong"
            self.wrong_reads.append((key, t0))
        elif outcome == "http404":
            outcome = "false404"  # the key was acknowledged: a 404 for it is a false answer
        self.ledger.record(t0, time.monotonic(), "get", outcome)
        return outcome == "ok"


def verify(fc, ledger, threads=4, attempts=3, skip=()):
    """Reads back every acknowledged key. A key that does not read right is tried again (up to
    `attempts`, 1 s apart) so a last moment of unavailability is not taken for a loss; its final
    outcome counts. Returns a dict with checked, lost, wrong, unacked_applied, retried."""
    keys = sorted(k for k in ledger.acked if k not in skip)
    res = {"checked": len(keys), "lost": 0, "wrong": 0, "unacked_applied": 0, "retried": 0,
           "lost_keys": [], "wrong_keys": []}
    lock = threading.Lock()
    it = iter(keys)

    def worker():
        client = fc.client()
        while True:
            with lock:
                key = next(it, None)
            if key is None:
                return
            verdict, tries = _verify_key(client, ledger, key, attempts)
            with lock:
                res["retried"] += tries > 1
                if verdict == "unacked":
                    res["unacked_applied"] += 1
                elif verdict == "wrong":
                    res["wrong"] += 1
                    res["wrong_keys"].append(key)
                elif verdict != "ok":
                    res["lost"] += 1
                    res["lost_keys"].append((key, verdict))

    ws = [threading.Thread(target=worker, daemon=True) for _ in range(threads)]
    for w in ws:
        w.start()
    for w in ws:
        w.join()
    res["lost_keys"] = res["lost_keys"][:10]
    res["wrong_keys"] = res["wrong_keys"][:10]
    return res


def _verify_key(client, ledger, key, attempts):
    verdict = "none"
    for n in range(1, attempts + 1):
        outcome, digest = get_digest(client, key)
        verdict = ledger.judge(key, digest) if outcome == "ok" else outcome
        if verdict in ("ok", "unacked", "wrong"):
            return verdict, n  # wrong bytes are never retried away: one is already a failure
        if n < attempts:
            time.sleep(1)
    return verdict, attempts


# ---------------------------------------------------------------------------------------------
# figures


def percentile(values, p):
    if not values:
        return None
    v = sorted(values)
    return v[min(len(v) - 1, int(round(p / 100.0 * (len(v) - 1))))]


def phase_stats(ops, t0, t1):
    """Ops that started in [t0, t1): count, errors by class, ok ops/s, p50/p99 latency (ms) over
    all of them (a request that failed after a timeout was waited for all the same)."""
    sel = [o for o in ops if t0 <= o[0] < t1]
    lat = [(o[1] - o[0]) * 1000 for o in sel]
    errors = {}
    for o in sel:
        if o[3] != "ok":
            errors[o[3]] = errors.get(o[3], 0) + 1
    dur = max(t1 - t0, 1e-9)
    ok = sum(1 for o in sel if o[3] == "ok")
    return {"ops": len(sel), "ok": ok, "ok_per_s": round(ok / dur, 1), "errors": errors,
            "p50_ms": _r(percentile(lat, 50)), "p99_ms": _r(percentile(lat, 99)), "seconds": round(dur, 1)}


def _r(x):
    return None if x is None else round(x, 1)


def recovery_seconds(ops, t_heal):
    """Seconds from the heal to the end of the last failed op that started after it (0: none
    failed): how long clients still saw errors."""
    ends = [o[1] for o in ops if o[0] >= t_heal and o[3] != "ok"]
    return round(max(ends) - t_heal, 2) if ends else 0.0
