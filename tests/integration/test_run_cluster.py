"""tools/run-cluster.sh (what `make run` runs): start, serve the printed settings (http and https),
stop cleanly on SIGTERM with exit 0, keep data and the certificate across a restart, refuse a taken
port."""

import json
import os
import signal
import socket
import subprocess
import time

import boto3
import pytest
from botocore.config import Config

from conftest import BIN, SniHTTPSConnection, TlsCerts, free_ports, http_request, https_request, onggi_sign, spawn

SCRIPT = os.path.join(os.path.dirname(__file__), "..", "..", "tools", "run-cluster.sh")
READY = "Press Ctrl-C to stop."


def start_script(tmp_path, data, port, nports, env, tls_port=None):
    log = tmp_path / f"run-cluster-{time.monotonic_ns()}.out"
    tls_port = tls_port or free_ports(1)[0]
    # env --default-signal: the launcher stops on HUP and INT as from a terminal, also when this
    # test runs under nohup or as a background job (a shell cannot trap a signal ignored at its
    # entry, and those dispositions are inherited: a CI run started with nohup failed on it).
    proc = spawn(["env", "--default-signal=HUP,INT", SCRIPT, "--bin", BIN, "--data", str(data),
                  "--port", str(port), "--tls-port", str(tls_port), "--node-ports", ",".join(map(str, nports)),
                  "--node-metrics-ports", ",".join(map(str, free_ports(3)))],
                 str(log), env=env)
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        text = log.read_text(errors="replace")
        if READY in text:
            return proc, log
        if proc.poll() is not None:
            pytest.fail(f"run-cluster.sh exited {proc.returncode} before ready:\n{text}")
        time.sleep(0.2)
    proc.kill()
    proc.wait()
    pytest.fail(f"run-cluster.sh not ready in 60 s:\n{log.read_text(errors='replace')}")


def stop_script(proc, log, sig=signal.SIGTERM):
    proc.send_signal(sig)
    try:
        rc = proc.wait(timeout=40)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait()
        pytest.fail(f"run-cluster.sh ignored signal {sig}:\n{log.read_text(errors='replace')}")
    assert rc == 0, log.read_text(errors="replace")


def ports_closed(ports):
    for p in ports:
        try:
            http_request(p, "GET", "/", timeout=1)
            return False
        except OSError:
            pass
    return True


def s3cmd(port, access, secret, *args, cafile=None):
    """s3cmd to the script's gateway: http on port, or with cafile https (verified) on port."""
    hp = f"127.0.0.1:{port}"  # the certificate names IP:127.0.0.1 too; no resolver needed
    ssl_args = ["--ssl", f"--ca-certs={cafile}", "--check-certificate", "--check-hostname"] if cafile else ["--no-ssl"]
    return subprocess.run(["s3cmd", "-c", "/dev/null", f"--access_key={access}", f"--secret_key={secret}",
                           f"--host={hp}", f"--host-bucket={hp}", *ssl_args, *args],
                          capture_output=True, text=True, timeout=120)


def servers(proc):
    """(pid, session id, program) of each process the launcher runs: the gateway, the three nodes
    and the lifecycle pass (checked)."""
    out = subprocess.run(["ps", "-o", "pid=,sid=,args=", "--ppid", str(proc.pid)], capture_output=True, text=True,
                         timeout=30).stdout.splitlines()
    rows = [line.split(None, 2) for line in out]
    found = [(int(pid), int(sid), args.split()[0].rsplit("/", 1)[-1]) for pid, sid, args in rows if "onggi-" in args]
    assert sorted(prog for _, _, prog in found) == ["onggi-admin", "onggi-gateway"] + ["onggi-node"] * 3, out
    return found


def servers_in_own_sessions(proc):
    """Each server leads a session of its own, as systemd runs services, so the scheduler shares
    the CPU between processes (run-cluster.sh's launch)."""
    for pid, sid, prog in servers(proc):
        assert sid == pid != os.getsid(proc.pid), (pid, sid, prog)


def check_https(tls_port, cert, access, secret, bucket, tmp_path):
    """The script's https port serves the same data with the certificate it made, verified with that
    file as the CA (s3cmd, boto3, /usr/bin/aws, the swift CLI, curl) at 127.0.0.1, and by SNI for
    localhost. No client resolves "localhost": a debootstrapped Debian has no /etc/hosts."""
    f = tmp_path / "over-tls"
    f.write_bytes(b"over https")
    r = s3cmd(tls_port, access, secret, "put", str(f), f"s3://{bucket}/tls", cafile=cert)
    assert r.returncode == 0, r.stdout + r.stderr
    s3 = boto3.client("s3", endpoint_url=f"https://127.0.0.1:{tls_port}", aws_access_key_id=access,
                      aws_secret_access_key=secret, region_name="us-east-1", verify=cert,
                      config=Config(s3={"addressing_style": "path"}))
    assert s3.get_object(Bucket=bucket, Key="tls")["Body"].read() == b"over https"
    env = dict(os.environ, AWS_ACCESS_KEY_ID=access, AWS_SECRET_ACCESS_KEY=secret, AWS_DEFAULT_REGION="us-east-1",
               AWS_CONFIG_FILE="/dev/null", AWS_SHARED_CREDENTIALS_FILE="/dev/null")
    r = subprocess.run(["/usr/bin/aws", "--endpoint-url", f"https://127.0.0.1:{tls_port}", "--ca-bundle", cert, "s3",
                        "ls", f"s3://{bucket}/"], capture_output=True, text=True, timeout=120, env=env)
    assert r.returncode == 0 and "tls" in r.stdout, r.stdout + r.stderr
    # the script's Swift user (dev:admin, key ONGGI_SWIFT_KEY or devsecret): same account, same bucket
    r = subprocess.run(["swift", "--os-cacert", cert, "-A", f"https://127.0.0.1:{tls_port}/auth/v1.0", "-U",
                        "dev:admin", "-K", os.environ.get("ONGGI_SWIFT_KEY", "devsecret"), "list", bucket],
                       capture_output=True, text=True, timeout=120)
    assert r.returncode == 0 and "tls" in r.stdout.split(), r.stdout + r.stderr
    r = subprocess.run(["curl", "-sS", "-o", "/dev/null", "-w", "%{http_code}", "--cacert", cert,
                        f"https://127.0.0.1:{tls_port}/"], capture_output=True, text=True, timeout=60)
    assert r.stdout == "403", r.stdout + r.stderr  # anonymous ListBuckets, over a verified connection
    conn = SniHTTPSConnection(tls_port, "localhost", cert)
    try:
        assert https_request(conn, "GET", "/")[0] == 403
        return conn.peer_fingerprint()
    finally:
        conn.close()


def test_run_cluster_script(tmp_path):
    data = tmp_path / "data"
    port, tls_port, *nports = free_ports(5)
    env = dict(os.environ, ONGGI_ACCESS_KEY="scriptkey", ONGGI_SECRET_KEY="scriptsecret")
    proc, log = start_script(tmp_path, data, port, nports, env, tls_port)
    cert = str(data / "tls" / "cert.pem")
    try:
        out = log.read_text()
        assert f"http://127.0.0.1:{port}" in out and "scriptkey" in out and "scriptsecret" in out
        assert f"https://localhost:{tls_port}" in out and cert in out
        assert f"http://127.0.0.1:{port}/metrics" in out
        assert http_request(port, "GET", "/health/ready")[0] == 200
        servers_in_own_sessions(proc)
        assert os.stat(data / "tls" / "key.pem").st_mode & 0o077 == 0  # the key is private
        for client in ("s3cmd", "/usr/bin/aws", "boto3", "rclone"):
            assert client in out
        assert (data / "ring.bin").is_file() and (data / "log").is_dir()
        # the admin finds the cluster through the configuration file the script wrote and printed
        conf = str(data / "onggi.conf")
        assert f"export ONGGI_CONFIG={conf}" in out
        r = subprocess.run([os.path.join(BIN, "onggi-admin"), "status", "--json"], capture_output=True, text=True,
                           timeout=60, env=dict(os.environ, ONGGI_CONFIG=conf))
        assert r.returncode == 0, r.stdout + r.stderr
        st = json.loads(r.stdout)
        assert [n["addr"] for n in st["nodes"]] == [f"127.0.0.1:{p}" for p in nports]
        assert all(n["up"] for n in st["nodes"]) and st["health"] == "ok", st
        r = s3cmd(port, "scriptkey", "scriptsecret", "mb", "s3://script-bucket")
        assert r.returncode == 0, r.stdout + r.stderr
        f = tmp_path / "f"
        f.write_bytes(b"survives restarts")
        r = s3cmd(port, "scriptkey", "scriptsecret", "put", str(f), "s3://script-bucket/f")
        assert r.returncode == 0, r.stdout + r.stderr
        fp = check_https(tls_port, cert, "scriptkey", "scriptsecret", "script-bucket", tmp_path)
        assert fp == TlsCerts.fingerprint(cert)
        # without the CA file the self-signed certificate is refused
        r = subprocess.run(["curl", "-sS", "-o", "/dev/null", f"https://127.0.0.1:{tls_port}/"], capture_output=True,
                           text=True, timeout=60)
        assert r.returncode == 60, r.stderr  # CURLE_PEER_FAILED_VERIFICATION
        # a second instance on the same ports refuses with a clear message
        second = subprocess.run([SCRIPT, "--bin", BIN, "--data", str(tmp_path / "other"), "--port", str(port),
                                 "--node-ports", ",".join(map(str, free_ports(3)))],
                                capture_output=True, text=True, timeout=60, env=env)
        assert second.returncode != 0
        assert f"{port}" in second.stderr and "in use" in second.stderr
    finally:
        stop_script(proc, log)
    assert ports_closed([port, *nports])
    # restart on the same data: the ring and certificate are reused, the user still works, the object
    # is there
    proc, log = start_script(tmp_path, data, port, nports, env, tls_port)
    try:
        assert "created" not in log.read_text()  # the ring and the certificate are made once
        assert check_https(tls_port, cert, "scriptkey", "scriptsecret", "script-bucket", tmp_path) == fp
        dst = tmp_path / "g"
        r = s3cmd(port, "scriptkey", "scriptsecret", "get", "s3://script-bucket/f", str(dst))
        assert r.returncode == 0, r.stdout + r.stderr
        assert dst.read_bytes() == b"survives restarts"
    finally:
        stop_script(proc, log)
    assert ports_closed([port, *nports])
    with pytest.raises(ConnectionRefusedError):
        socket.create_connection(("127.0.0.1", tls_port), timeout=5)
    logs = sorted(os.listdir(data / "log"))
    assert {"gateway.log", "node1.log", "node2.log", "node3.log"} <= set(logs)


def node_pid(data, i):
    """The pid of the script's onggi-node i (started with --config DATA/nodeI.conf), or None."""
    r = subprocess.run(["pgrep", "-f", f"onggi-node --config {data}/node{i}.conf$"], capture_output=True, text=True)
    pids = r.stdout.split()
    return int(pids[0]) if len(pids) == 1 else None


def node_healthy(data, port):
    try:
        return onggi_sign.node_request(str(data / "ring.bin.keys"), "127.0.0.1", port, "GET", "/health",
                                       timeout=2)[0] == 200
    except OSError:
        return False


def test_run_cluster_restarts_a_dead_node(tmp_path):
    """make run supervises: SIGKILL a node and the launcher says so, starts it again, and the
    cluster keeps answering (with the node back: writes reach all three)."""
    data = tmp_path / "data"
    port, *nports = free_ports(4)
    env = dict(os.environ, ONGGI_ACCESS_KEY="superkey", ONGGI_SECRET_KEY="supersecret")
    proc, log = start_script(tmp_path, data, port, nports, env)
    try:
        r = s3cmd(port, "superkey", "supersecret", "mb", "s3://super-bucket")
        assert r.returncode == 0, r.stdout + r.stderr
        old = node_pid(data, 2)
        assert old is not None
        os.kill(old, signal.SIGKILL)
        deadline = time.monotonic() + 30
        new = None
        while time.monotonic() < deadline:
            new = node_pid(data, 2)
            if new not in (None, old) and node_healthy(data, nports[1]):
                break
            time.sleep(0.2)
        else:
            pytest.fail(f"node2 not restarted in 30 s:\n{log.read_text(errors='replace')}")
        out = log.read_text(errors="replace")
        assert "node2 exited (status 137), restarting it" in out and "node2 restarted" in out
        assert proc.poll() is None  # the launcher itself keeps running
        assert os.getsid(new) == new  # the restarted node leads its own session too
        f = tmp_path / "f"
        f.write_bytes(b"after the restart")
        r = s3cmd(port, "superkey", "supersecret", "put", str(f), "s3://super-bucket/f")
        assert r.returncode == 0, r.stdout + r.stderr
        dst = tmp_path / "g"
        r = s3cmd(port, "superkey", "supersecret", "get", "s3://super-bucket/f", str(dst))
        assert r.returncode == 0 and dst.read_bytes() == b"after the restart", r.stdout + r.stderr
    finally:
        stop_script(proc, log, signal.SIGHUP)  # its terminal closing: the servers have none of their own
    assert ports_closed([port, *nports])


def running(pid):
    """Whether pid is a live process: not gone, and not a zombie that nobody has reaped yet (an
    orphan's parent is init, which may take its time)."""
    try:
        with open(f"/proc/{pid}/stat") as f:
            return f.read().rsplit(")", 1)[1].split()[0] != "Z"
    except (FileNotFoundError, ProcessLookupError, IndexError):
        return False


def test_run_cluster_servers_stop_when_the_launcher_is_killed(tmp_path):
    """The servers lead sessions of their own, outside the launcher's process group: a launcher
    killed outright (SIGKILL, no trap runs) must still take them down."""
    data = tmp_path / "data"
    port, *nports = free_ports(4)
    proc, log = start_script(tmp_path, data, port, nports, dict(os.environ))
    pids = [pid for pid, _, _ in servers(proc)]
    proc.kill()
    proc.wait()
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline and any(map(running, pids)):
        time.sleep(0.2)
    alive = [p for p in pids if running(p)]
    for p in alive:  # do not leak them into later tests, whatever the outcome
        os.kill(p, signal.SIGKILL)
    assert not alive, log.read_text(errors="replace")
    assert ports_closed([port, *nports])


def test_run_cluster_wrong_args():
    r = subprocess.run([SCRIPT, "--bin", BIN], capture_output=True, text=True, timeout=30)
    assert r.returncode == 2 and "usage" in r.stderr
