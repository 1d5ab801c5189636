"""tools/benchcluster.py: the throwaway cluster of the benchmark scripts (abuse-bench.py,
cdn-bench.py, quota-bench.py, ...): tools/run-cluster.sh with its data in a work directory, started and
stopped, and one plain HTTP call to it."""
import http.client
import os
import signal
import subprocess
import sys
import time

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def start(bin_dir, port, work, name, env=None):
    """Starts run-cluster.sh (gateway on port, nodes on port+1..+3, https on port+4) logging to
    work/cluster.log and waits up to 60 s for it. Returns the launcher's Popen; exits the script
    with a message prefixed by `name` when the cluster does not start."""
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
    """Stops the launcher and everything it started (SIGKILL after 30 s)."""
    os.killpg(proc.pid, signal.SIGTERM)
    try:
        proc.wait(30)
    except subprocess.TimeoutExpired:
        os.killpg(proc.pid, signal.SIGKILL)


def call(port, method, path, headers=None, body=b""):
    """One request on its own connection to 127.0.0.1:port: (status, lower-cased headers, body)."""
    c = http.client.HTTPConnection("127.0.0.1", port, timeout=60)
    try:
        c.request(method, path, body=body, headers=headers or {})
        r = c.getresponse()
        return r.status, dict((k.lower(), v) for k, v in r.getheaders()), r.read()
    finally:
        c.close()
