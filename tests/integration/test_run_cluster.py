"""tools/run-cluster.sh (what `make run` runs): start, serve the printed settings, stop cleanly on
SIGTERM with exit 0, keep data across a restart, refuse a taken port."""

import os
import signal
import subprocess
import time

import pytest

from conftest import BIN, free_ports, http_request, spawn

SCRIPT = os.path.join(os.path.dirname(__file__), "..", "..", "tools", "run-cluster.sh")
READY = "Press Ctrl-C to stop."


def start_script(tmp_path, data, port, nports, env):
    log = tmp_path / f"run-cluster-{time.monotonic_ns()}.out"
    proc = spawn([SCRIPT, "--bin", BIN, "--data", str(data), "--port", str(port), "--node-ports",
                  ",".join(map(str, nports))], str(log), env=env)
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


def stop_script(proc, log):
    proc.send_signal(signal.SIGTERM)
    try:
        rc = proc.wait(timeout=40)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait()
        pytest.fail(f"run-cluster.sh ignored SIGTERM:\n{log.read_text(errors='replace')}")
    assert rc == 0, log.read_text(errors="replace")


def ports_closed(ports):
    for p in ports:
        try:
            http_request(p, "GET", "/", timeout=1)
            return False
        except OSError:
            pass
    return True


def s3cmd(port, access, secret, *args):
    hp = f"127.0.0.1:{port}"
    return subprocess.run(["s3cmd", "-c", "/dev/null", f"--access_key={access}", f"--secret_key={secret}",
                           f"--host={hp}", f"--host-bucket={hp}", "--no-ssl", *args],
                          capture_output=True, text=True, timeout=120)


def test_run_cluster_script(tmp_path):
    data = tmp_path / "data"
    port, *nports = free_ports(4)
    env = dict(os.environ, ONGGI_ACCESS_KEY="scriptkey", ONGGI_SECRET_KEY="scriptsecret")
    proc, log = start_script(tmp_path, data, port, nports, env)
    try:
        out = log.read_text()
        assert f"http://127.0.0.1:{port}" in out and "scriptkey" in out and "scriptsecret" in out
        for client in ("s3cmd", "/usr/bin/aws", "boto3", "rclone"):
            assert client in out
        assert (data / "ring.bin").is_file() and (data / "log").is_dir()
        r = s3cmd(port, "scriptkey", "scriptsecret", "mb", "s3://script-bucket")
        assert r.returncode == 0, r.stdout + r.stderr
        f = tmp_path / "f"
        f.write_bytes(b"survives restarts")
        r = s3cmd(port, "scriptkey", "scriptsecret", "put", str(f), "s3://script-bucket/f")
        assert r.returncode == 0, r.stdout + r.stderr
        # a second instance on the same ports refuses with a clear message
        second = subprocess.run([SCRIPT, "--bin", BIN, "--data", str(tmp_path / "other"), "--port", str(port),
                                 "--node-ports", ",".join(map(str, free_ports(3)))],
                                capture_output=True, text=True, timeout=60, env=env)
        assert second.returncode != 0
        assert f"{port}" in second.stderr and "in use" in second.stderr
    finally:
        stop_script(proc, log)
    assert ports_closed([port, *nports])
    # restart on the same data: the ring is reused, the user still works, the object is there
    proc, log = start_script(tmp_path, data, port, nports, env)
    try:
        assert "created" not in log.read_text()  # the ring is made once
        dst = tmp_path / "g"
        r = s3cmd(port, "scriptkey", "scriptsecret", "get", "s3://script-bucket/f", str(dst))
        assert r.returncode == 0, r.stdout + r.stderr
        assert dst.read_bytes() == b"survives restarts"
    finally:
        stop_script(proc, log)
    assert ports_closed([port, *nports])
    logs = sorted(os.listdir(data / "log"))
    assert {"gateway.log", "node1.log", "node2.log", "node3.log"} <= set(logs)


def test_run_cluster_wrong_args():
    r = subprocess.run([SCRIPT, "--bin", BIN], capture_output=True, text=True, timeout=30)
    assert r.returncode == 2 and "usage" in r.stderr
