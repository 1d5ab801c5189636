"""HTTPS on the gateway (--tls-listen): real clients (boto3, /usr/bin/aws, s3cmd, swift) over TLS
verified against the session's throwaway CA, SNI for virtual-host buckets, the protocol and cipher
policy (openssl s_client), and certificate reload on SIGHUP."""

import hashlib
import os
import shutil
import signal
import ssl
import subprocess
import time

import botocore.exceptions
import pytest

from conftest import (ACCOUNT, TLS_DOMAIN, SniHTTPSConnection, TlsCerts, file_digests,
                      free_ports, https_request, make_file, sign_headers, uniq)

SWIFT_KEY = "tlsswiftkey"


def tls_port(c, gw="gw"):
    return c.tls_ports[gw]


def s_client(port, *args, servername="localhost", timeout=30):
    """openssl s_client to 127.0.0.1:port (stdin closed at once: handshake, then quit)."""
    return subprocess.run(["openssl", "s_client", "-connect", f"127.0.0.1:{port}", "-servername", servername,
                           *args], stdin=subprocess.DEVNULL, capture_output=True, text=True, timeout=timeout)


def wait_log(c, name, text, count, deadline_s=30):
    """Waits (bounded) until gateway `name`'s log holds `text` at least `count` times."""
    deadline = time.monotonic() + deadline_s
    while time.monotonic() < deadline:
        with open(c.log_path(name), errors="replace") as f:
            if f.read().count(text) >= count:
                return
        time.sleep(0.1)
    pytest.fail(f"{name} never logged {text!r} x{count}:\n{c.log_tail(name)}")


def test_boto3_over_https(tls_cluster, tmp_path):
    c = tls_cluster
    s3 = c.client(endpoint=c.https_endpoint(), verify=tls_cluster.tls.ca)
    b = uniq("tls")
    s3.create_bucket(Bucket=b)
    # Large enough to cross the handler's 1 MiB reads and the TLS record size many times.
    src = tmp_path / "big"
    md5, _ = make_file(src, 9 * 1024 * 1024 + 17)
    with open(src, "rb") as f:
        s3.put_object(Bucket=b, Key="big", Body=f)
    got = s3.get_object(Bucket=b, Key="big")["Body"].read()
    assert hashlib.md5(got).hexdigest() == md5
    assert s3.get_object(Bucket=b, Key="big", Range="bytes=5-9")["Body"].read() == got[5:10]
    # plain http on the other port sees the same namespace
    assert c.client().head_object(Bucket=b, Key="big")["ContentLength"] == len(got)
    # Verification is real: without the test CA the server's certificate is refused.
    untrusting = c.client(endpoint=c.https_endpoint(), verify=True, retries=False)
    with pytest.raises(botocore.exceptions.SSLError):
        untrusting.list_buckets()


def test_aws_cli_over_https(tls_cluster, tmp_path):
    c = tls_cluster
    b = uniq("tlsaws")
    c.aws("s3", "mb", f"s3://{b}", https=True)
    src = tmp_path / "f"
    digests = make_file(src, 12 * 1024 * 1024)  # multipart (8 MiB parts)
    c.aws("s3", "cp", str(src), f"s3://{b}/f", https=True)
    dst = tmp_path / "g"
    c.aws("s3", "cp", f"s3://{b}/f", str(dst), https=True)
    assert file_digests(dst) == digests
    assert "f" in c.aws("s3", "ls", f"s3://{b}", https=True).stdout


def test_s3cmd_over_https(tls_cluster, tmp_path):
    c = tls_cluster
    b = uniq("tlss3cmd")
    c.s3cmd("mb", f"s3://{b}", https=True)
    src = tmp_path / "f"
    digests = make_file(src, 3 * 1024 * 1024 + 5)
    c.s3cmd("put", str(src), f"s3://{b}/f", https=True)
    dst = tmp_path / "g"
    c.s3cmd("get", f"s3://{b}/f", str(dst), https=True)
    assert file_digests(dst) == digests
    assert f"s3://{b}/f" in c.s3cmd("ls", f"s3://{b}", https=True).stdout


def test_swift_cli_over_https(tls_cluster, tmp_path):
    c = tls_cluster
    c.admin("swift-user-add", "--account", ACCOUNT, "--user", "tlsadmin", "--key", SWIFT_KEY, "--admin")
    base = ["swift", "--os-cacert", c.tls.ca, "-A", f"{c.https_endpoint()}/auth/v1.0", "-U", f"{ACCOUNT}:tlsadmin",
            "-K", SWIFT_KEY]

    def swift(*args, cwd=None):
        r = subprocess.run(base + list(args), capture_output=True, text=True, timeout=120, cwd=cwd)
        assert r.returncode == 0, f"swift {' '.join(args)} -> {r.returncode}\n{r.stdout}\n{r.stderr}"
        return r

    # The storage URL handed out keeps the scheme: the client stays on https.
    auth = swift("auth").stdout
    assert f"OS_STORAGE_URL={c.https_endpoint()}/v1/AUTH_{ACCOUNT}" in auth, auth
    cont = uniq("tlsswift")
    (tmp_path / "obj").write_bytes(os.urandom(200000))
    swift("upload", cont, "obj", cwd=tmp_path)
    out = tmp_path / "out"
    out.mkdir()
    swift("download", cont, "obj", cwd=out)
    assert (out / "obj").read_bytes() == (tmp_path / "obj").read_bytes()
    assert "obj" in swift("list", cont).stdout


def test_virtual_host_bucket_via_sni(tls_cluster, tls_certs):
    c = tls_cluster
    port = tls_port(c)
    s3 = c.client(endpoint=c.https_endpoint(), verify=c.tls.ca)
    b = uniq("sni")
    s3.create_bucket(Bucket=b)
    s3.put_object(Bucket=b, Key="k", Body=b"virtual host over tls")
    host = f"{b}.{TLS_DOMAIN}"
    conn = SniHTTPSConnection(port, host, c.tls.ca)
    try:
        hdrs = sign_headers("GET", f"https://{host}:{port}/k")
        st, _, body = https_request(conn, "GET", "/k", hdrs)
        assert (st, body) == (200, b"virtual host over tls")
        # SNI chose the wildcard certificate (the default one does not name the bucket's host)
        assert conn.peer_fingerprint() == TlsCerts.fingerprint(tls_certs.path("wildcard.pem"))
    finally:
        conn.close()
    # Without a matching name the default certificate is served...
    conn = SniHTTPSConnection(port, "localhost", c.tls.ca)
    try:
        st, _, _ = https_request(conn, "GET", "/", sign_headers("GET", f"https://localhost:{port}/"))
        assert st == 200
        assert conn.peer_fingerprint() == TlsCerts.fingerprint(tls_certs.path("default.pem"))
    finally:
        conn.close()
    # ... so a client asking for a host no certificate names refuses it.
    conn = SniHTTPSConnection(port, "bucket.elsewhere.test", c.tls.ca)
    try:
        with pytest.raises(ssl.SSLCertVerificationError):
            conn.connect()
    finally:
        conn.close()


def test_protocol_and_cipher_policy(tls_cluster, tls_certs, tmp_path):
    port = tls_port(tls_cluster)
    weak = ["-cipher", "DEFAULT@SECLEVEL=0"]  # let the client itself offer what Debian's default forbids
    # Control: this client can do TLS 1.1 and 1.0 against a server that allows them.
    cert, key = tls_certs.path("default.pem"), tls_certs.path("default.key")
    (ctl_port,) = free_ports(1)
    srv = subprocess.Popen(["openssl", "s_server", "-accept", str(ctl_port), "-cert", cert, "-key", key, "-tls1_1",
                            "-cipher", "DEFAULT@SECLEVEL=0", "-naccept", "1", "-quiet"],
                           stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        deadline = time.monotonic() + 15
        while True:
            ctl = s_client(ctl_port, "-tls1_1", *weak)
            if ctl.returncode == 0 or time.monotonic() > deadline:
                break
            time.sleep(0.2)
        assert ctl.returncode == 0 and "Protocol  : TLSv1.1" in ctl.stdout, ctl.stdout + ctl.stderr
    finally:
        srv.kill()
        srv.wait()
    for old in ("-tls1_1", "-tls1"):
        r = s_client(port, old, *weak)
        assert r.returncode != 0, f"gateway accepted {old}:\n{r.stdout}"
    # TLS 1.2: an ECDHE + AEAD suite is negotiated; CBC/SHA-1, RSA key exchange and 3DES are refused.
    r = s_client(port, "-tls1_2", "-alpn", "h2,http/1.1")
    assert r.returncode == 0, r.stdout + r.stderr
    assert "Protocol  : TLSv1.2" in r.stdout and "ALPN protocol: http/1.1" in r.stdout
    cipher = [ln.split(":", 1)[1].strip() for ln in r.stdout.splitlines() if ln.strip().startswith("Cipher    :")][0]
    assert cipher.startswith("ECDHE-") and ("GCM" in cipher or "CHACHA20" in cipher), cipher
    for bad in ("ECDHE-ECDSA-AES128-SHA", "AES128-GCM-SHA256", "DES-CBC3-SHA"):
        r = s_client(port, "-tls1_2", "-cipher", bad + ":@SECLEVEL=0")
        assert r.returncode != 0, f"gateway accepted {bad}:\n{r.stdout}"
    # TLS 1.3 works; h2 is never selected (the gateway speaks HTTP/1.1 only).
    # (TLS 1.3's "SSL-Session" block waits for a session ticket that s_client may quit before; the
    # "New, TLSv1.3, Cipher is" line is printed at the handshake.)
    r = s_client(port, "-tls1_3", "-alpn", "h2")
    assert r.returncode == 0 and "New, TLSv1.3, Cipher is TLS_" in r.stdout, r.stdout + r.stderr
    assert "No ALPN negotiated" in r.stdout


def test_sighup_reloads_certificates(tls_cluster, tls_certs):
    c = tls_cluster
    # A gateway of its own, serving copies of the files that the test then replaces.
    cert1, key1 = tls_certs.issue("reload", ["DNS:localhost", "IP:127.0.0.1"])
    live_cert, live_key = tls_certs.path("live.pem"), tls_certs.path("live.key")
    shutil.copy(cert1, live_cert)
    shutil.copy(key1, live_key)
    name = "gwreload"
    c.start_gateway(name, tls_pairs=[(live_cert, live_key)])
    port = tls_port(c, name)
    fp1 = TlsCerts.fingerprint(cert1)

    def get_root(conn):
        st, _, _ = https_request(conn, "GET", "/", sign_headers("GET", f"https://localhost:{port}/"))
        assert st == 200

    def fresh_fingerprint():
        """The certificate a new connection gets (after a request on it succeeded)."""
        conn = SniHTTPSConnection(port, "localhost", c.tls.ca)
        try:
            get_root(conn)
            return conn.peer_fingerprint()
        finally:
            conn.close()

    old = SniHTTPSConnection(port, "localhost", c.tls.ca)
    try:
        get_root(old)
        assert old.peer_fingerprint() == fp1
        cert2, key2 = tls_certs.issue("reload2", ["DNS:localhost", "IP:127.0.0.1"])
        fp2 = TlsCerts.fingerprint(cert2)
        assert fp2 != fp1
        shutil.copy(cert2, live_cert)
        shutil.copy(key2, live_key)
        c.procs[name].send_signal(signal.SIGHUP)
        wait_log(c, name, "TLS certificates reloaded", 1)
        assert fresh_fingerprint() == fp2
        # The connection made before the reload was not dropped and still has its certificate
        # (http.client would have reconnected, and got the new one, had the server closed it).
        get_root(old)
        assert old.peer_fingerprint() == fp1

        # A broken certificate file, then a key that does not match: each reload fails, is logged,
        # and the certificate in use stays the last good one.
        with open(live_cert, "w") as f:
            f.write("-----BEGIN CERTIFICATE-----\nnot a certificate\n-----END CERTIFICATE-----\n")
        c.procs[name].send_signal(signal.SIGHUP)
        wait_log(c, name, "TLS reload failed, keeping the old certificates", 1)
        cert3, _ = tls_certs.issue("reload3", ["DNS:localhost"])
        shutil.copy(cert3, live_cert)  # live_key is still key2
        c.procs[name].send_signal(signal.SIGHUP)
        wait_log(c, name, "TLS reload failed, keeping the old certificates", 2)
        assert "private key" in c.log_tail(name)
        assert fresh_fingerprint() == fp2
        assert c.procs[name].poll() is None
    finally:
        old.close()
        c.stop(name)


def test_bad_tls_options_refused(tls_cluster, tls_certs):
    c = tls_cluster
    gw = os.path.join(os.environ["ONGGI_BIN"], "onggi-gateway")
    cert, key = tls_certs.path("default.pem"), tls_certs.path("default.key")
    (port, tport) = free_ports(2)
    common = [gw, "--ring", c.ring, "--listen", f"127.0.0.1:{port}"]
    cases = [
        ["--tls-listen", f"127.0.0.1:{tport}"],                                      # no certificate
        ["--tls-cert", cert, "--tls-key", key],                                       # no listener
        ["--tls-listen", f"127.0.0.1:{tport}", "--tls-cert", cert],                   # cert without key
        ["--tls-listen", f"127.0.0.1:{tport}", "--tls-cert", key, "--tls-key", key],  # not a certificate
        ["--tls-listen", f"127.0.0.1:{tport}", "--tls-cert", cert, "--tls-key", tls_certs.ca_key],  # other key
    ]
    for extra in cases:
        r = subprocess.run(common + extra, capture_output=True, text=True, timeout=30, env=c.env)
        assert r.returncode == 2, (extra, r.returncode, r.stderr)
    r = subprocess.run(common + cases[3], capture_output=True, text=True, timeout=30, env=c.env)
    assert "certificate chain" in r.stderr and key in r.stderr, r.stderr
