"""Configuration files (docs/operations.md, "Configuration"): a cluster started from config files
alone serves S3; `onggi-admin status --json` finds it through the file and shows every node up,
then a stopped node down; the command line wins over the file; an unknown key stops every program
with FILE:LINE; `make install` lays out binaries, the sample configuration and systemd units that
`systemd-analyze verify` accepts."""

import json
import os
import shutil
import subprocess

import pytest

from conftest import ACCESS, ACCOUNT, BIN, SECRET, Cluster, free_ports, http_request

REPO = os.path.abspath(os.path.join(os.path.dirname(__file__), "..", ".."))


def write(path, text):
    with open(path, "w") as f:
        f.write(text)
    return str(path)


class ConfCluster(Cluster):
    """A Cluster whose processes get nothing but --config FILE."""

    def write_confs(self):
        cluster = f"[cluster]\nring = {self.ring}\nkeys = {self.keys}\n"
        self.gw_port = free_ports(1)[0]
        self.conf = write(os.path.join(self.root, "onggi.conf"),
                          f"# the gateway's and the admin's file\n{cluster}\n[gateway]\n"
                          f"listen = 127.0.0.1:{self.gw_port}\nregion = us-east-1 ; the default\n"
                          f"access-log = yes\n\n[admin]\njson = false\n")
        self.node_confs = [write(os.path.join(self.root, f"node{i}.conf"),
                                 f"{cluster}[node]\nlisten = 127.0.0.1:{p}\n"
                                 f"dir = {os.path.join(self.root, f'node{i}')}\nrepl-interval = 1\n")
                           for i, p in enumerate(self.node_ports, 1)]

    def start_node(self, i):
        self._start(f"node{i}", [os.path.join(BIN, "onggi-node"), "--config", self.node_confs[i - 1]])
        self._wait_http(f"node{i}", self.node_ports[i - 1], "/health", 200, node=i)

    def start_gateway(self, name="gw", port=None, extra=(), tls_pairs=None):
        self._start(name, [os.path.join(BIN, "onggi-gateway"), "--config", self.conf, *extra])
        self.gw_ports[name] = port or self.gw_port
        self._wait_http(name, self.gw_ports[name], "/")
        return self.gw_ports[name]

    def admin(self, *args, check=True):
        return self.tool("onggi-admin", "--config", self.conf, *args, check=check)

    def status(self):
        """onggi-admin status --json, through ONGGI_CONFIG (no flag names the cluster)."""
        r = subprocess.run([os.path.join(BIN, "onggi-admin"), "status", "--json"], capture_output=True, text=True,
                           timeout=120, env=dict(self.env, ONGGI_CONFIG=self.conf))
        return r.returncode, json.loads(r.stdout), r.stderr


@pytest.fixture
def conf_cluster(tmp_path):
    c = ConfCluster(tmp_path)
    c.make_ring()
    c.write_confs()
    try:
        c.start()
        c.add_user(ACCESS, SECRET, ACCOUNT)
        yield c
    finally:
        c.stop_all()
    assert not c.bad_exits, c.bad_exits


def test_cluster_from_config_files(conf_cluster):
    c = conf_cluster
    for name in ("gw", "node1", "node2", "node3"):
        assert "--config" in c.procs[name].args and "--ring" not in c.procs[name].args
    s3 = c.client()
    s3.create_bucket(Bucket="from-config")
    s3.put_object(Bucket="from-config", Key="k", Body=b"configured")
    assert s3.get_object(Bucket="from-config", Key="k")["Body"].read() == b"configured"
    # access-log = yes in the file: the gateway logs the request lines
    with open(c.log_path("gw"), errors="replace") as f:
        assert "from-config" in f.read()

    rc, st, err = c.status()
    assert rc == 0, err
    assert [n["addr"] for n in st["nodes"]] == [f"127.0.0.1:{p}" for p in c.node_ports]
    assert all(n["up"] and n["ring_epoch"] == st["ring"]["epoch"] for n in st["nodes"]), st
    assert [d["name"] for d in st["devices"]] == ["d1", "d2", "d3"]
    for d in st["devices"]:
        assert d["up"] and d["state"] == "ok" and 0 < d["free_bytes"] <= d["total_bytes"], d
        assert d["used_bytes"] == d["total_bytes"] - d["free_bytes"] and d["records"] > 0
    assert st["health"] == "ok" and st["problems"] == [] and "under_replicated" in st["replication"]

    c.stop("node3")
    rc, st, err = c.status()
    assert rc == 1, "a node down is not healthy"
    down = [n for n in st["nodes"] if not n["up"]]
    assert [n["addr"] for n in down] == [f"127.0.0.1:{c.node_ports[2]}"], st
    assert [d["name"] for d in st["devices"] if not d["up"]] == ["d3"]
    assert st["health"] == "degraded" and any("down" in p for p in st["problems"]), st
    # the text form says the same
    r = c.tool("onggi-admin", "--config", c.conf, "status", check=False)
    assert r.returncode == 1 and "DOWN" in r.stdout and "health degraded" in r.stdout, r.stdout
    c.start_node(3)


def test_read_commands_json(conf_cluster):
    c = conf_cluster
    c.admin("swift-user-add", "--account", ACCOUNT, "--user", "u", "--key", "k", "--admin")
    users = json.loads(c.admin("user-list", "--json").stdout)
    assert {"access_key": ACCESS, "account": ACCOUNT, "display_name": ACCOUNT} in users
    swift = json.loads(c.admin("--json", "swift-user-list").stdout)
    assert {"account": ACCOUNT, "user": "u", "admin": True, "reseller_admin": False} in swift
    c.admin("account-add", ACCOUNT, "--quota-bytes", "1000000000")
    accounts = json.loads(c.admin("account-list", "--json").stdout)
    assert {"name": ACCOUNT, "meta": {"x-account-meta-quota-bytes": "1000000000"}} in accounts
    s3 = c.client()
    s3.create_bucket(Bucket="json-bucket")
    s3.put_object(Bucket="json-bucket", Key="big", Body=os.urandom(300 * 1024))
    loc = json.loads(c.admin("locate", "json-bucket", "big", "--json").stdout)
    assert loc["inline"] is False and loc["size"] == 300 * 1024 and len(loc["chunks"][0]["devices"]) == 3
    stats = json.loads(c.admin("stats", "--json").stdout)
    assert stats["total"]["logical_bytes"] == 300 * 1024
    stat = json.loads(c.admin("stat", "--json").stdout)
    assert [d["name"] for d in stat] == ["d1", "d2", "d3"] and all("chunks" in d["stat"] for d in stat)
    repl = json.loads(c.admin("replication", "--json").stdout)
    assert repl["total"]["partitions"] == 1024 and len(repl["devices"]) == 3
    r = c.admin("rebalance", "--json", check=False)  # exit 1 until every device finished a pass
    assert json.loads(r.stdout)["total"]["ring_epoch"] >= 1
    # not on a command that changes something, and no progress line in a pipe
    r = c.admin("user-delete", ACCESS, "--json", check=False)
    assert r.returncode == 2 and "--json is for the read commands" in r.stderr
    r = c.admin("gc", "--grace", "0", "--dry-run")
    assert "\r" not in r.stdout and "mark:" in r.stdout


def test_progress_on_a_terminal_and_watch(conf_cluster):
    """On a terminal (script(1) gives the admin a pty) gc draws its progress line; rebalance and
    replication --watch wait until the move and the repair are done."""
    c = conf_cluster
    s3 = c.client()
    s3.create_bucket(Bucket="watched")
    for i in range(5):
        s3.put_object(Bucket="watched", Key=f"k{i}", Body=os.urandom(100 * 1024))
    admin = f"{os.path.join(BIN, 'onggi-admin')} --config {c.conf}"
    r = subprocess.run(["script", "-qec", f"{admin} gc --dry-run", "/dev/null"], capture_output=True, timeout=300,
                       env=c.env)  # bytes: text mode would turn the \r into newlines
    out = r.stdout.decode(errors="replace")
    assert r.returncode == 0, out + r.stderr.decode(errors="replace")
    assert "\rgc mark  [" in out and "\rgc sweep [" in out and "\r\x1b[Kmark: " in out, repr(out)
    r = c.admin("rebalance", "--watch", "--interval", "1", "--timeout", "120")
    assert "done=yes" in r.stdout.splitlines()[-1], r.stdout
    r = c.admin("replication", "--watch", "--interval", "1", "--timeout", "120")
    assert "under_replicated=0" in r.stdout.splitlines()[-1], r.stdout
    r = c.admin("rebalance", "--watch", "--interval", "0", check=False)
    assert r.returncode == 2


def test_command_line_wins_over_the_file(conf_cluster):
    c = conf_cluster
    port = free_ports(1)[0]
    c.start_gateway("gw2", port=port, extra=("--listen", f"127.0.0.1:{port}"))
    assert http_request(port, "GET", "/")[0] == 403  # anonymous ListBuckets on the flag's address
    # --ring on the admin's command line beats the file's (a ring that does not exist)
    r = c.admin("--ring", os.path.join(c.root, "nope.bin"), "status", check=False)
    assert r.returncode == 1 and "nope.bin" in r.stderr


@pytest.mark.parametrize("prog,section", [("onggi-gateway", "gateway"), ("onggi-node", "node"),
                                          ("onggi-admin", "admin")])
def test_unknown_key_names_file_and_line(tmp_path, prog, section):
    conf = write(tmp_path / "bad.conf", f"[cluster]\nring = {tmp_path}/ring.bin\n\n[{section}]\n# typo below\n"
                                        f"lisen = 127.0.0.1:1\n")
    args = [os.path.join(BIN, prog), "--config", conf] + (["status"] if prog == "onggi-admin" else [])
    r = subprocess.run(args, capture_output=True, text=True, timeout=60)
    assert r.returncode == 2, r.stdout + r.stderr
    assert f"{conf}:6: unknown key 'lisen' in [{section}]" in r.stderr, r.stderr
    # a [cluster] key only a program section may hold, and an unknown section
    write(conf, "[cluster]\nring = r\nlisten = 127.0.0.1:1\n")
    r = subprocess.run(args, capture_output=True, text=True, timeout=60)
    assert r.returncode == 2 and f"{conf}:3: unknown key 'listen' in [cluster]" in r.stderr, r.stderr
    write(conf, "[cluster]\nring = r\n[gatewy]\nlisten = 127.0.0.1:1\n")
    r = subprocess.run(args, capture_output=True, text=True, timeout=60)
    assert r.returncode == 2 and f"{conf}:3: unknown section [gatewy]" in r.stderr, r.stderr


def test_admin_without_a_cluster_says_how_to_give_one(tmp_path):
    env = dict(os.environ)
    env.pop("ONGGI_CONFIG", None)
    if os.path.exists("/etc/onggi/onggi.conf"):
        pytest.skip("this machine has /etc/onggi/onggi.conf")
    r = subprocess.run([os.path.join(BIN, "onggi-admin"), "status"], capture_output=True, text=True, timeout=60,
                       env=env)
    assert r.returncode == 2 and "ONGGI_CONFIG" in r.stderr and "/etc/onggi/onggi.conf" in r.stderr, r.stderr
    r = subprocess.run([os.path.join(BIN, "onggi-admin"), "status"], capture_output=True, text=True, timeout=60,
                       env=dict(env, ONGGI_CONFIG=str(tmp_path / "missing.conf")))
    assert r.returncode == 1 and "missing.conf" in r.stderr, r.stderr


def test_make_install(tmp_path):
    build = os.path.basename(os.path.dirname(os.path.abspath(BIN)))  # build/<BUILD>/bin
    dest = tmp_path / "root"
    r = subprocess.run(["make", "-C", REPO, "--no-print-directory", "install", f"DESTDIR={dest}", "PREFIX=/usr",
                        f"INSTALL_BUILD={build}"], capture_output=True, text=True, timeout=1800)
    assert r.returncode == 0, r.stdout + r.stderr
    for b in ("onggi-gateway", "onggi-node", "onggi-ring", "onggi-admin"):
        assert os.access(dest / "usr" / "bin" / b, os.X_OK), b
    sample = dest / "etc" / "onggi" / "onggi.conf.example"
    units = dest / "usr" / "lib" / "systemd" / "system"
    gw, node = (units / "onggi-gateway.service").read_text(), (units / "onggi-node@.service").read_text()
    assert "ExecStart=/usr/bin/onggi-gateway --config /etc/onggi/onggi.conf" in gw
    assert "ExecStart=/usr/bin/onggi-node --config /etc/onggi/%i.conf" in node
    assert "@" not in gw.replace("onggi-node@", "") and "@BINDIR@" not in node
    lc = (units / "onggi-lifecycle.service").read_text()
    assert "ExecStart=/usr/bin/onggi-admin --config /etc/onggi/onggi.conf lifecycle" in lc
    assert (units / "onggi-lifecycle.timer").exists()
    # the sample configuration is valid for each program: only its placeholder addresses fail later
    r = subprocess.run([str(dest / "usr" / "bin" / "onggi-admin"), "--config", str(sample), "status"],
                       capture_output=True, text=True, timeout=60)
    assert r.returncode == 1 and "unknown key" not in r.stderr and "/var/lib/onggi/ring.bin" in r.stderr, r.stderr
    r = subprocess.run([str(dest / "usr" / "bin" / "onggi-gateway"), "--config", str(sample)], capture_output=True,
                       text=True, timeout=60)
    assert "unknown key" not in r.stderr and "cannot open ring /var/lib/onggi/ring.bin" in r.stderr, r.stderr
    r = subprocess.run([str(dest / "usr" / "bin" / "onggi-node"), "--config", str(sample)], capture_output=True,
                       text=True, timeout=60)
    assert "unknown key" not in r.stderr and r.returncode == 1, r.stderr
    verify_units(tmp_path, dest, units)


def verify_units(tmp_path, dest, units):
    """systemd-analyze verify on the installed units, with ExecStart pointing at the installed
    binaries (verify checks that the command exists); any complaint on stderr fails."""
    if shutil.which("systemd-analyze") is None:
        pytest.skip("no systemd-analyze")
    vdir = tmp_path / "verify"
    vdir.mkdir()
    for name, as_name in (("onggi-gateway.service", "onggi-gateway.service"),
                          ("onggi-node@.service", "onggi-node@onggi.service"),
                          ("onggi-lifecycle.service", "onggi-lifecycle.service"),
                          ("onggi-lifecycle.timer", "onggi-lifecycle.timer")):
        text = (units / name).read_text().replace("/usr/bin/", f"{dest}/usr/bin/")
        (vdir / as_name).write_text(text)
    r = subprocess.run(["systemd-analyze", "verify", "--man=no", "./onggi-gateway.service",
                        "./onggi-node@onggi.service", "./onggi-lifecycle.service", "./onggi-lifecycle.timer"],
                       capture_output=True, text=True, timeout=120, cwd=vdir)
    assert r.returncode == 0 and r.stderr.strip() == "", r.stderr
