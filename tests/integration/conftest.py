"""Integration fixtures: a real Onggi cluster (ring + 3 storage nodes + gateway) started from
$ONGGI_BIN in a temporary directory on free loopback ports, and helpers for the real clients
(boto3, s3cmd, /usr/bin/aws) and for hand-made HTTP requests.

Every process is started with PR_SET_PDEATHSIG so none outlives the test run even if pytest is
killed; the fixtures stop them with SIGTERM (SIGKILL after a timeout) and fail the run when a
process does not exit 0 (a sanitizer report or a crash on shutdown is a bug)."""

import collections
import ctypes
import datetime
import hashlib
import http.client
import itertools
import os
import random
import re
import shutil
import signal
import socket
import ssl
import struct
import subprocess
import sys
import time
import xml.etree.ElementTree as ET

import boto3
import botocore.auth
import pytest
from botocore.awsrequest import AWSRequest
from botocore.config import Config
from botocore.credentials import Credentials

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
import onggi_sign  # noqa: E402  (tests/onggi_sign.py: node API request signing)

BIN = os.environ.get("ONGGI_BIN", "")
REGION = "us-east-1"
ACCESS, SECRET, ACCOUNT = "itaccess", "itsecret", "acct-main"
ACCESS2, SECRET2, ACCOUNT2 = "itaccess2", "itsecret2", "acct-other"
S3NS = "{http://s3.amazonaws.com/doc/2006-03-01/}"
START_TIMEOUT = 30.0
STOP_TIMEOUT = 20.0
MiB = 1 << 20

_libc = ctypes.CDLL(None, use_errno=True)
_PR_SET_PDEATHSIG = 1
_active_clusters = []
_failed_tests = []  # node ids of failed tests: their clusters' data is kept for inspection


def _die_with_pytest():
    # Runs in the child between fork and exec: SIGTERM it when pytest (the forking thread) dies.
    _libc.prctl(_PR_SET_PDEATHSIG, signal.SIGTERM)


def spawn(args, log_path, env=None, **kw):
    """Starts a process with stdout+stderr appended to log_path, bound to pytest's lifetime."""
    logf = open(log_path, "ab")
    try:
        return subprocess.Popen(args, stdin=subprocess.DEVNULL, stdout=logf, stderr=subprocess.STDOUT,
                                env=env, preexec_fn=_die_with_pytest, **kw)
    finally:
        logf.close()


_PORT_RND = random.SystemRandom()
_PORTS_RECENT = collections.deque(maxlen=3000)  # free_ports' last picks, oldest first


def free_ports(n):
    """n distinct loopback ports that are free right now (held open together while picking), at
    random from 21000-27999: below the kernel's ephemeral range (32768-60999 here), so an outgoing
    connection cannot take one between the pick and the server's bind (a node of make run once
    failed to start: its --metrics-listen port, picked by bind(0), was an outgoing connection's by
    then), and clear of the unit tests' fixed ports (17000-17600, + ONGGI_TEST_PORT_SHIFT) and the
    benches' (28000-29700). A port handed out in the last 3,000 picks is not handed out again:
    callers often pick several sets before they start the servers."""
    socks = []
    try:
        for _ in range(1000):
            if len(socks) == n:
                break
            port = _PORT_RND.randrange(21000, 28000)
            if port in _PORTS_RECENT:
                continue
            s = socket.socket()
            try:
                s.bind(("127.0.0.1", port))
            except OSError:
                s.close()
                continue
            socks.append(s)
        assert len(socks) == n, "no free ports in 21000-27999"
        _PORTS_RECENT.extend(s.getsockname()[1] for s in socks)
        return [s.getsockname()[1] for s in socks]
    finally:
        for s in socks:
            s.close()


def http_request(port, method, path, headers=None, body=b"", timeout=60):
    """One raw HTTP/1.1 request to 127.0.0.1:port. Returns (status, headers dict lowercased, body)."""
    return onggi_sign.raw_request("127.0.0.1", port, method, path, list((headers or {}).items()), body, timeout)


def xml_code(body):
    """The <Code> of an S3 error document (or None)."""
    if not body:
        return None
    root = ET.fromstring(body)
    el = root.find("Code")
    return el.text if el is not None else None


class _FixedTimeS3SigV4(botocore.auth.S3SigV4Auth):
    """S3 SigV4 with a chosen request time (botocore always signs with 'now') and optionally a
    claimed payload hash that differs from the body's."""

    def __init__(self, credentials, when, payload_hash=None):
        super().__init__(credentials, "s3", REGION)
        self._when = when
        self._payload_hash = payload_hash

    def payload(self, request):
        return self._payload_hash or super().payload(request)

    def add_auth(self, request):
        request.context["timestamp"] = self._when.strftime(botocore.auth.SIGV4_TIMESTAMP)
        self._modify_request_before_signing(request)
        canonical_request = self.canonical_request(request)
        string_to_sign = self.string_to_sign(request, canonical_request)
        signature = self.signature(string_to_sign, request)
        self._inject_signature_to_request(request, signature)


def signed_request(port, method, path, query="", headers=None, body=b"", access=ACCESS, secret=SECRET,
                   when=None, host=None, payload_hash=None):
    """A SigV4-signed raw request (path already percent-encoded; query a raw query string).
    `when` signs with that UTC time; `host` overrides the Host header (virtual-host style)."""
    host = host or f"127.0.0.1:{port}"
    url = f"http://{host}{path}" + (f"?{query}" if query else "")
    hdrs = sign_headers(method, url, headers, body, access, secret, when, payload_hash)
    return http_request(port, method, path + (f"?{query}" if query else ""), hdrs, body)


class TlsCerts:
    """A throwaway CA under `root` (openssl CLI, EC P-256) and server certificates it signs. Clients
    verify against `ca` (never --insecure)."""

    def __init__(self, root):
        self.dir = str(root)
        os.makedirs(self.dir, exist_ok=True)
        self.ca, self.ca_key = self.path("ca.pem"), self.path("ca.key")
        self._openssl("req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256", "-nodes", "-days", "2",
                      "-subj", "/CN=Onggi test CA", "-keyout", self.ca_key, "-out", self.ca)
        self._serials = itertools.count(1000)

    def path(self, name):
        return os.path.join(self.dir, name)

    def _openssl(self, *args):
        r = subprocess.run(["openssl", *args], capture_output=True, text=True, timeout=60)
        if r.returncode != 0:
            raise AssertionError(f"openssl {' '.join(args)} -> {r.returncode}\n{r.stderr}")
        return r

    def issue(self, name, sans):
        """A leaf certificate for the subjectAltName entries `sans` (e.g. ["DNS:localhost", "IP:127.0.0.1"])
        with a fresh serial. Returns (cert path, key path); a second call with the same name replaces them."""
        cert, key, csr, ext = (self.path(f"{name}.{x}") for x in ("pem", "key", "csr", "ext"))
        with open(ext, "w") as f:
            f.write(f"subjectAltName={','.join(sans)}\nbasicConstraints=CA:FALSE\n"
                    "keyUsage=digitalSignature\nextendedKeyUsage=serverAuth\n")
        self._openssl("req", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256", "-nodes", "-subj", f"/CN={name}",
                      "-keyout", key, "-out", csr)
        self._openssl("x509", "-req", "-in", csr, "-CA", self.ca, "-CAkey", self.ca_key, "-set_serial",
                      str(next(self._serials)), "-days", "2", "-extfile", ext, "-out", cert)
        return cert, key

    @staticmethod
    def fingerprint(cert_path):
        """SHA-256 of a PEM certificate's DER form (compare with fingerprint_der of what a server sent)."""
        with open(cert_path) as f:
            return hashlib.sha256(ssl.PEM_cert_to_DER_cert(f.read())).hexdigest()

    @staticmethod
    def fingerprint_der(der):
        return hashlib.sha256(der).hexdigest()


class SniHTTPSConnection(http.client.HTTPSConnection):
    """HTTPS to 127.0.0.1 with a chosen SNI server name (also the name the certificate is checked
    against), for host names that do not resolve here (virtual-host buckets)."""

    def __init__(self, port, server_name, cafile, timeout=60):
        super().__init__("127.0.0.1", port, timeout=timeout, context=ssl.create_default_context(cafile=cafile))
        self.server_name = server_name

    def connect(self):
        sock = socket.create_connection((self.host, self.port), self.timeout)
        self.sock = self._context.wrap_socket(sock, server_hostname=self.server_name)

    def peer_fingerprint(self):
        return TlsCerts.fingerprint_der(self.sock.getpeercert(binary_form=True))


def https_request(conn, method, path, headers=None, body=b""):
    """One request on an open SniHTTPSConnection (kept open). Returns (status, headers, body)."""
    conn.request(method, path, body=body or None, headers=dict(headers or {}))
    resp = conn.getresponse()
    data = resp.read()
    return resp.status, {k.lower(): v for k, v in resp.getheaders()}, data


def sign_headers(method, url, headers=None, body=b"", access=ACCESS, secret=SECRET, when=None, payload_hash=None):
    """SigV4 headers (including Host) for a request to the absolute url, signed at `when` (UTC,
    default now), optionally claiming payload_hash."""
    req = AWSRequest(method=method, url=url, data=body, headers=dict(headers or {}))
    when = when or datetime.datetime.utcnow()
    _FixedTimeS3SigV4(Credentials(access, secret), when, payload_hash).add_auth(req)
    hdrs = {k: v for k, v in req.headers.items()}
    hdrs["Host"] = url.split("/")[2]
    return hdrs


# Every test gateway's --website-domain: a Host "BUCKET.s3-website.onggi.test" is a website request
# (test_s3_website.py).
WEBSITE_DOMAIN = "s3-website.onggi.test"


class Cluster:
    """A ring, 3 storage nodes and gateways under `root`; processes by name ('node1', 'gw', ...).
    With tls (a TlsCerts), gateways also serve HTTPS (tls_pairs: [(cert, key)], the first the
    default) on a port of their own."""

    def __init__(self, root, domain="localhost", chunk_size=None, nodes=3, node_args=(), tls=None, tls_pairs=()):
        self.root = str(root)
        self.ring = os.path.join(self.root, "ring.bin")
        self.keys = self.ring + ".keys"  # the cluster key file (onggi-ring create writes it)
        self.logdir = os.path.join(self.root, "log")
        os.makedirs(self.logdir, exist_ok=True)
        self.domain = domain
        self.chunk_size = chunk_size
        self.node_ports = free_ports(nodes)
        self.node_metrics_ports = free_ports(nodes)  # each node's --metrics-listen (/metrics, /health/*)
        self.node_args = list(node_args)  # extra onggi-node flags, e.g. ("--repl-interval", "1")
        self.gw_ports = {}
        self.tls = tls
        self.tls_pairs = list(tls_pairs)
        self.tls_ports = {}
        self.procs = {}
        self.bad_exits = []
        self.env = dict(os.environ)
        # Sanitizer reports go to the process log; exit code 1 on a leak makes teardown fail.
        self.env.setdefault("ASAN_OPTIONS", "detect_leaks=1:abort_on_error=0")
        self.env.setdefault("UBSAN_OPTIONS", "print_stacktrace=1")

    # ---- tools ----
    def tool(self, name, *args, check=True, timeout=120):
        r = subprocess.run([os.path.join(BIN, name), *args], capture_output=True, text=True, timeout=timeout,
                           env=self.env)
        if check and r.returncode != 0:
            raise AssertionError(f"{name} {' '.join(args)} -> {r.returncode}\nstdout:{r.stdout}\nstderr:{r.stderr}")
        return r

    def admin(self, *args, check=True):
        return self.tool("onggi-admin", "--ring", self.ring, *args, check=check)

    def make_ring(self):
        tmp = self.ring + ".tmp"
        self.tool("onggi-ring", "create", tmp, "10", "3", "1")
        for i, p in enumerate(self.node_ports, 1):
            self.tool("onggi-ring", "add", tmp, "--zone", str(i), "--addr", f"127.0.0.1:{p}", "--name", f"d{i}",
                      "--weight", "100")
        self.tool("onggi-ring", "rebalance", tmp)
        os.rename(tmp + ".keys", self.ring + ".keys")  # the cluster key file is born with the ring
        os.rename(tmp, self.ring)

    def add_user(self, access, secret, account):
        self.admin("user-add", "--access-key", access, "--secret", secret, "--account", account,
                   "--display-name", account)

    # ---- processes ----
    def _start(self, name, args):
        assert name not in self.procs or self.procs[name].poll() is not None, f"{name} already running"
        with open(self.log_path(name), "ab") as f:
            f.write(f"---- start {time.strftime('%H:%M:%S')}: {' '.join(args)}\n".encode())
        self.procs[name] = spawn(args, self.log_path(name), env=self.env)

    def log_path(self, name):
        return os.path.join(self.logdir, f"{name}.log")

    def node_request(self, i, method, path, headers=None, body=b"", timeout=60):
        """One request to node i (1-based), signed with the cluster key. (status, headers, body)."""
        return onggi_sign.node_request(self.keys, "127.0.0.1", self.node_ports[i - 1], method, path, headers, body,
                                       timeout)

    def _wait_http(self, name, port, path, want_status=None, node=None):
        deadline = time.monotonic() + START_TIMEOUT
        while time.monotonic() < deadline:
            proc = self.procs[name]
            if proc.poll() is not None:
                raise AssertionError(f"{name} exited with {proc.returncode} during start-up\n{self.log_tail(name)}")
            try:
                if node:
                    status = self.node_request(node, "GET", path, timeout=2)[0]
                else:
                    status = http_request(port, "GET", path, timeout=2)[0]
                if want_status is None or status == want_status:
                    return
            except OSError:
                pass
            time.sleep(0.1)
        raise AssertionError(f"{name} did not answer on port {port} in {START_TIMEOUT}s\n{self.log_tail(name)}")

    def start_node(self, i):
        port = self.node_ports[i - 1]
        self._start(f"node{i}", [os.path.join(BIN, "onggi-node"), "--ring", self.ring, "--listen",
                                 f"127.0.0.1:{port}", "--dir", os.path.join(self.root, f"node{i}"),
                                 "--metrics-listen", f"127.0.0.1:{self.node_metrics_ports[i - 1]}", *self.node_args])
        self._wait_http(f"node{i}", port, "/health", 200, node=i)

    def start_gateway(self, name="gw", port=None, extra=(), tls_pairs=None):
        """Starts a gateway (with https when the cluster has tls; tls_pairs overrides the
        cluster's certificate/key pairs for this one). Returns its http port."""
        port = port or self.gw_ports.get(name) or free_ports(1)[0]
        args = [os.path.join(BIN, "onggi-gateway"), "--ring", self.ring, "--listen", f"127.0.0.1:{port}", *extra]
        if self.domain:
            args += ["--domain", self.domain]
        args += ["--website-domain", WEBSITE_DOMAIN]  # S3 website endpoint: BUCKET.WEBSITE_DOMAIN
        if self.chunk_size:
            args += ["--chunk-size", str(self.chunk_size)]
        if not self.tls:
            # SSE-C keys over plain HTTP, as the RGW anchor is configured (rgw_crypt_require_ssl =
            # false); a cluster with https keeps the default: SSE-C over TLS only
            args.append("--sse-c-plain-http")
        if self.tls:
            tls_port = self.tls_ports.get(name) or free_ports(1)[0]
            args += ["--tls-listen", f"127.0.0.1:{tls_port}"]
            for cert, key in (tls_pairs if tls_pairs is not None else self.tls_pairs):
                args += ["--tls-cert", cert, "--tls-key", key]
            self.tls_ports[name] = tls_port
        self._start(name, args)
        self.gw_ports[name] = port
        self._wait_http(name, port, "/")
        return port

    def start(self):
        if not os.path.exists(self.ring):
            self.make_ring()
        for i in range(1, len(self.node_ports) + 1):
            self.start_node(i)
        self.start_gateway("gw")

    def stop(self, name, sig=signal.SIGTERM):
        """Stops one process; with SIGTERM, records a non-zero exit (or a needed SIGKILL) as a bug."""
        proc = self.procs.get(name)
        if proc is None or proc.poll() is not None:
            return None
        proc.send_signal(sig)
        try:
            rc = proc.wait(timeout=STOP_TIMEOUT)
        except subprocess.TimeoutExpired:
            proc.kill()
            rc = proc.wait(timeout=STOP_TIMEOUT)
            self.bad_exits.append(f"{name} ignored SIGTERM for {STOP_TIMEOUT}s (SIGKILLed)")
            return rc
        if sig == signal.SIGTERM and rc != 0:
            self.bad_exits.append(f"{name} exited {rc} on SIGTERM\n{self.log_tail(name)}")
        return rc

    def kill(self, name):
        return self.stop(name, signal.SIGKILL)

    def stop_all(self):
        # Gateways first, so they do not see their nodes vanish mid-request.
        names = sorted(self.procs, key=lambda n: (n.startswith("node"), n))
        for name in names:
            self.stop(name)

    def log_tail(self, name, lines=40):
        try:
            with open(self.log_path(name), "rb") as f:
                data = f.read()[-64 * 1024:].decode("utf-8", "replace")
        except OSError:
            return f"({name}: no log)"
        return "\n".join(data.splitlines()[-lines:])

    def all_logs(self, lines=40):
        return "\n".join(f"==== {n} ({self.log_path(n)}) ====\n{self.log_tail(n, lines)}" for n in sorted(self.procs))

    # ---- clients ----
    def port(self, gw="gw"):
        return self.gw_ports[gw]

    def endpoint(self, gw="gw"):
        return f"http://127.0.0.1:{self.gw_ports[gw]}"

    def https_endpoint(self, gw="gw", host="127.0.0.1"):
        # An address the default certificate names: clients need no resolver (a debootstrapped
        # Debian has no /etc/hosts, so "localhost" does not resolve there). Names go through SNI.
        return f"https://{host}:{self.tls_ports[gw]}"

    def client(self, access=ACCESS, secret=SECRET, sig="s3v4", addressing="path", gw="gw", retries=True,
               endpoint=None, region=REGION, read_timeout=300, verify=None):
        cfg = Config(signature_version=sig, s3={"addressing_style": addressing},
                     retries={"max_attempts": 3 if retries else 0, "mode": "legacy"},
                     connect_timeout=10, read_timeout=read_timeout)
        return boto3.session.Session().client(
            "s3", endpoint_url=endpoint or self.endpoint(gw), aws_access_key_id=access,
            aws_secret_access_key=secret, region_name=region, config=cfg, verify=verify)

    def s3cmd(self, *args, v2=False, access=ACCESS, secret=SECRET, check=True, gw="gw", timeout=600, https=False):
        """s3cmd against gateway gw; with https over its TLS port, verifying against the test CA."""
        hp = f"127.0.0.1:{self.tls_ports[gw]}" if https else f"127.0.0.1:{self.gw_ports[gw]}"
        ssl_args = ["--ssl", f"--ca-certs={self.tls.ca}", "--check-certificate", "--check-hostname"] if https \
            else ["--no-ssl"]
        cmd = ["s3cmd", "-c", "/dev/null", f"--access_key={access}", f"--secret_key={secret}", f"--host={hp}",
               f"--host-bucket={hp}", *ssl_args, "--region=us-east-1", "--no-progress"]
        if v2:
            cmd.append("--signature-v2")
        r = subprocess.run(cmd + list(args), capture_output=True, text=True, timeout=timeout)
        if check and r.returncode != 0:
            raise AssertionError(f"s3cmd {' '.join(args)} -> {r.returncode}\n{r.stdout}\n{r.stderr}")
        return r

    def aws(self, *args, access=ACCESS, secret=SECRET, check=True, gw="gw", config_file="/dev/null", timeout=900,
            https=False):
        """/usr/bin/aws against gateway gw; with https over its TLS port, verifying against the test CA."""
        env = dict(os.environ, AWS_ACCESS_KEY_ID=access, AWS_SECRET_ACCESS_KEY=secret, AWS_DEFAULT_REGION=REGION,
                   AWS_CONFIG_FILE=config_file, AWS_SHARED_CREDENTIALS_FILE="/dev/null", AWS_PAGER="",
                   AWS_EC2_METADATA_DISABLED="true")
        ep = ["--endpoint-url", self.https_endpoint(gw), "--ca-bundle", self.tls.ca] if https \
            else ["--endpoint-url", self.endpoint(gw)]
        r = subprocess.run(["/usr/bin/aws", *ep, *args], capture_output=True, text=True, env=env, timeout=timeout)
        if check and r.returncode != 0:
            raise AssertionError(f"aws {' '.join(args)} -> {r.returncode}\n{r.stdout}\n{r.stderr}")
        return r


def _boot(root, **kw):
    if not BIN or not os.path.isdir(BIN):
        pytest.exit("ONGGI_BIN must name the directory holding the onggi binaries", returncode=2)
    c = Cluster(root, **kw)
    _active_clusters.append(c)
    try:
        c.start()
        c.add_user(ACCESS, SECRET, ACCOUNT)
        c.add_user(ACCESS2, SECRET2, ACCOUNT2)
    except BaseException:
        c.stop_all()
        _active_clusters.remove(c)
        raise
    return c


def _shutdown(c):
    c.stop_all()
    _active_clusters.remove(c)
    if c.bad_exits:
        pytest.fail("unclean process exits:\n" + "\n".join(c.bad_exits), pytrace=False)
    if not _failed_tests:
        # Several GiB of replicated chunks per run; pytest keeps the last 3 runs' tmp dirs.
        for i in range(1, len(c.node_ports) + 1):
            shutil.rmtree(os.path.join(c.root, f"node{i}"), ignore_errors=True)


@pytest.fixture(scope="session")
def cluster(tmp_path_factory):
    """The shared cluster for non-destructive tests (nobody kills its processes)."""
    c = _boot(tmp_path_factory.mktemp("cluster"))
    yield c
    _shutdown(c)


@pytest.fixture(scope="module")
def own_cluster(tmp_path_factory):
    """A private cluster for one module's destructive tests (node kills, restarts); 1 MiB chunks
    so that a few MiB make a multi-chunk object."""
    c = _boot(tmp_path_factory.mktemp("owncluster"), chunk_size=MiB)
    yield c
    _shutdown(c)


TLS_DOMAIN = "s3.onggi.test"  # virtual-host buckets over https: BUCKET.s3.onggi.test (SNI, wildcard cert)


@pytest.fixture(scope="session")
def tls_certs(tmp_path_factory):
    """The session's throwaway CA (TlsCerts)."""
    return TlsCerts(tmp_path_factory.mktemp("tls"))


@pytest.fixture(scope="module")
def tls_cluster(tmp_path_factory, tls_certs):
    """A cluster whose gateway also serves https (--domain TLS_DOMAIN) with two certificates: the
    default for localhost/127.0.0.1 and a wildcard for *.TLS_DOMAIN that SNI selects."""
    default = tls_certs.issue("default", ["DNS:localhost", "IP:127.0.0.1"])
    wildcard = tls_certs.issue("wildcard", [f"DNS:*.{TLS_DOMAIN}", f"DNS:{TLS_DOMAIN}"])
    c = _boot(tmp_path_factory.mktemp("tlscluster"), domain=TLS_DOMAIN, tls=tls_certs, tls_pairs=[default, wildcard])
    yield c
    _shutdown(c)


@pytest.fixture(scope="session")
def s3(cluster):
    return cluster.client()


_names = itertools.count(1)


def uniq(prefix="b"):
    """A fresh, valid bucket name."""
    return f"{prefix}-{os.getpid()}-{next(_names)}"


@pytest.fixture
def bucket(s3):
    name = uniq()
    s3.create_bucket(Bucket=name)
    return name


def make_file(path, size):
    """Writes `size` bytes of random data whose 1 MiB blocks all differ (a counter is stamped into
    each), cheaply even for 1 GiB. Returns (md5 hex, sha256 hex)."""
    base = bytearray(os.urandom(MiB))
    md5, sha = hashlib.md5(), hashlib.sha256()
    with open(path, "wb") as f:
        left, n = size, 0
        while left > 0:
            struct.pack_into(">Q", base, 0, n)
            block = bytes(base[:min(left, MiB)])
            f.write(block)
            md5.update(block)
            sha.update(block)
            left -= len(block)
            n += 1
    return md5.hexdigest(), sha.hexdigest()


def file_digests(path):
    md5, sha = hashlib.md5(), hashlib.sha256()
    with open(path, "rb") as f:
        while True:
            b = f.read(4 * MiB)
            if not b:
                break
            md5.update(b)
            sha.update(b)
    return md5.hexdigest(), sha.hexdigest()


def stream_digests(body):
    md5, sha = hashlib.md5(), hashlib.sha256()
    n = 0
    for b in body.iter_chunks(4 * MiB):
        md5.update(b)
        sha.update(b)
        n += len(b)
    return md5.hexdigest(), sha.hexdigest(), n


def err_code(exc):
    return exc.response["Error"]["Code"]


def err_status(exc):
    return exc.response["ResponseMetadata"]["HTTPStatusCode"]


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_makereport(item, call):
    outcome = yield
    rep = outcome.get_result()
    if rep.failed:
        _failed_tests.append(item.nodeid)
    if rep.failed and _active_clusters:
        rep.sections.append(("onggi process logs (tails)", "\n".join(c.all_logs() for c in _active_clusters)))



def locate(cluster, bucket, key):
    """Runs `onggi-admin locate` and returns [(chunk id, {device names/addresses holding it})], in
    object order. A chunk starts at each line holding a 64-hex id; devices are recognised by the
    ring's names (d1..d3) or node addresses on that line and the lines up to the next chunk."""
    out = cluster.admin("locate", bucket, key).stdout
    node_addrs = {f"127.0.0.1:{p}": f"d{i}" for i, p in enumerate(cluster.node_ports, 1)}
    chunks = []
    for line in out.splitlines():
        m = re.search(r"\b[0-9a-f]{64}\b", line)
        if m:
            chunks.append((m.group(0), set()))
            line = line.replace(m.group(0), "")
        if not chunks:
            continue
        for addr, dev in node_addrs.items():
            if addr in line:
                chunks[-1][1].add(dev)
        chunks[-1][1].update(re.findall(r"\bd[1-3]\b", line))
    return chunks, out
