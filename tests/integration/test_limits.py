"""Gateway limits and back-pressure (issue 11, docs/operations.md "Gateway limits"): connection
caps per address and in total, the per-account share of the workers (503 SlowDown), bodies not
read before authentication, and the negative cache's bound. A second gateway on the shared
cluster runs with small caps so that a few dozen sockets reach them. Functional outcomes only:
every wait is bounded and generous, nothing asserts on speed."""
import select
import socket
import time
import xml.etree.ElementTree as ET

import pytest

from botocore.auth import SigV4Auth
from botocore.awsrequest import AWSRequest
from botocore.credentials import Credentials

from conftest import ACCESS, ACCESS2, SECRET, SECRET2, REGION, http_request, signed_request, uniq, xml_code

WORKERS, SHARE, MAX_CONNS, PER_IP = 16, 4, 120, 40
SWIFT_ACCOUNT, SWIFT_KEY = "limacct", "limkey"


@pytest.fixture(scope="module")
def lim(cluster):
    """(cluster, port) of a gateway with small limits, a bucket of user 2 holding one object."""
    port = cluster.start_gateway("gwlim", extra=["--workers", str(WORKERS), "--account-workers", str(SHARE),
                                                 "--max-conns", str(MAX_CONNS), "--max-conns-per-ip", str(PER_IP)])
    yield cluster, port
    cluster.stop("gwlim")


@pytest.fixture(scope="module")
def probe_obj(lim):
    cluster, port = lim
    b = uniq("lim")
    assert signed_request(port, "PUT", f"/{b}", access=ACCESS2, secret=SECRET2)[0] == 200
    assert signed_request(port, "PUT", f"/{b}/obj", body=b"p" * 4096, access=ACCESS2, secret=SECRET2)[0] == 200
    return f"/{b}/obj"


def probe_get(port, path):
    """User 2's GET of the 4 KiB object on a new connection (generous timeout)."""
    status, _, body = signed_request(port, "GET", path, access=ACCESS2, secret=SECRET2)
    return status, len(body)


class _Unsigned(SigV4Auth):
    def payload(self, request):
        return "UNSIGNED-PAYLOAD"


def trickle_put(port, path, access=ACCESS, secret=SECRET, length=1 << 20):
    """A signed PUT whose head is sent and whose body never comes: the socket."""
    req = AWSRequest(method="PUT", url=f"http://127.0.0.1:{port}{path}",
                     headers={"Content-Length": str(length), "x-amz-content-sha256": "UNSIGNED-PAYLOAD"})
    _Unsigned(Credentials(access, secret), "s3", REGION).add_auth(req)
    head = f"PUT {path} HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\n" + "".join(
        f"{k}: {v}\r\n" for k, v in req.headers.items() if k.lower() != "host") + "\r\n"
    s = socket.create_connection(("127.0.0.1", port), timeout=30)
    s.sendall(head.encode())
    return s


def swift_trickle_put(port, token, path, length=1 << 20):
    s = socket.create_connection(("127.0.0.1", port), timeout=30)
    s.sendall((f"PUT {path} HTTP/1.1\r\nHost: 127.0.0.1\r\nX-Auth-Token: {token}\r\n"
               f"Content-Length: {length}\r\n\r\n").encode())
    return s


def answers(socks, want, timeout=30):
    """Reads responses from socks until `want` of them answered (or timeout): {index: bytes}."""
    got = {}
    deadline = time.monotonic() + timeout
    while len(got) < want and time.monotonic() < deadline:
        pending = [s for i, s in enumerate(socks) if i not in got]
        ready, _, _ = select.select(pending, [], [], 0.5)
        for s in ready:
            i = socks.index(s)
            data = b""
            s.settimeout(5)
            while b"\r\n\r\n" not in data or (b"Content-Length: " in data and not body_complete(data)):
                chunk = s.recv(65536)
                if not chunk:
                    break
                data += chunk
            got[i] = data
    return got


def body_complete(data):
    head, _, body = data.partition(b"\r\n\r\n")
    for line in head.split(b"\r\n"):
        if line.lower().startswith(b"content-length:"):
            return len(body) >= int(line.split(b":")[1])
    return True


def status_of(resp):
    return int(resp.split(b" ", 2)[1])


def held_open(s, wait=0.3):
    """True when the server neither answered nor closed s within `wait` seconds."""
    ready, _, _ = select.select([s], [], [], wait)
    return not ready


def closed_by_server(s, timeout=10):
    if isinstance(s, _Reset):
        return True
    s.settimeout(timeout)
    try:
        return s.recv(1) == b""
    except ConnectionResetError:
        return True
    except socket.timeout:
        return False


class _Reset:
    """A connection the server reset before connect() returned."""

    def close(self):
        pass


def connect_from(port, src):
    s = socket.socket()
    s.bind((src, 0))
    s.settimeout(30)
    try:
        s.connect(("127.0.0.1", port))
    except ConnectionResetError:
        s.close()
        return _Reset()
    return s


def test_one_account_cannot_hold_all_workers(lim, probe_obj):
    cluster, port = lim
    b = uniq("trk")
    assert signed_request(port, "PUT", f"/{b}")[0] == 200
    n = SHARE + 8
    socks = [trickle_put(port, f"/{b}/t{i}") for i in range(n)]
    try:
        got = answers(socks, n - SHARE)
        # Exactly the account's share is uploading; every other upload was answered 503 SlowDown.
        assert len(got) == n - SHARE, f"{len(got)} answered, want {n - SHARE}"
        for resp in got.values():
            assert status_of(resp) == 503, resp[:200]
            head, _, body = resp.partition(b"\r\n\r\n")
            assert b"application/xml" in head.lower()
            root = ET.fromstring(body)
            assert root.find("Code").text == "SlowDown" and root.find("RequestId") is not None
        assert all(held_open(s) for i, s in enumerate(socks) if i not in got)
        # Another account and an anonymous client are served meanwhile.
        for _ in range(5):
            assert probe_get(port, probe_obj) == (200, 4096)
        status, _, body = http_request(port, "GET", probe_obj)
        assert status == 403 and xml_code(body) == "AccessDenied"
        # The account itself is refused while its share is held ...
        status, _, body = signed_request(port, "GET", f"/{b}")
        assert status == 503 and xml_code(body) == "SlowDown"
    finally:
        for s in socks:
            s.close()
    # ... and served again once its uploads are gone (the gateway notices the closes at once;
    # the bounded retry only absorbs the scheduling of the workers that were holding).
    deadline = time.monotonic() + 30
    while True:
        status, _, body = signed_request(port, "GET", f"/{b}")
        if status == 200 or time.monotonic() > deadline:
            break
        time.sleep(0.2)
    assert status == 200, body


def test_swift_share_answers_503_with_retry_after(lim):
    cluster, port = lim
    cluster.admin("swift-user-add", "--account", SWIFT_ACCOUNT, "--user", "admin", "--key", SWIFT_KEY, "--admin")
    status, hdrs, _ = http_request(port, "GET", "/auth/v1.0",
                                   {"X-Auth-User": f"{SWIFT_ACCOUNT}:admin", "X-Auth-Key": SWIFT_KEY})
    assert status == 200
    token = hdrs["x-auth-token"]
    assert http_request(port, "PUT", f"/v1/AUTH_{SWIFT_ACCOUNT}/c", {"X-Auth-Token": token})[0] in (201, 202)
    n = SHARE + 3
    socks = [swift_trickle_put(port, token, f"/v1/AUTH_{SWIFT_ACCOUNT}/c/o{i}") for i in range(n)]
    try:
        got = answers(socks, n - SHARE)
        assert len(got) == n - SHARE
        for resp in got.values():
            assert status_of(resp) == 503
            assert b"\r\nretry-after: 1\r\n" in resp.partition(b"\r\n\r\n")[0].lower() + b"\r\n"
    finally:
        for s in socks:
            s.close()


def test_connections_per_address_are_capped(lim, probe_obj):
    cluster, port = lim
    src = "127.0.0.7"
    socks = [connect_from(port, src) for _ in range(PER_IP + 10)]
    try:
        # The first PER_IP stay open; the server resets the rest at once.
        assert [closed_by_server(s) for s in socks[PER_IP:]] == [True] * 10
        assert not any(isinstance(s, _Reset) for s in socks[:PER_IP])
        ready, _, _ = select.select(socks[:PER_IP], [], [], 0.5)
        assert ready == [], "the server closed connections under the cap"
        assert probe_get(port, probe_obj) == (200, 4096)
    finally:
        for s in socks:
            s.close()
    # The address has room again once its connections closed.
    deadline = time.monotonic() + 10
    while True:
        s = connect_from(port, src)
        try:
            s.sendall(b"GET / HTTP/1.1\r\nHost: x\r\n\r\n")
            data = s.recv(100)
        except (ConnectionResetError, AttributeError):
            data = b""
        finally:
            s.close()
        if data.startswith(b"HTTP/1.1") or time.monotonic() > deadline:
            break
        time.sleep(0.2)
    assert data.startswith(b"HTTP/1.1 403"), data


def test_total_cap_pauses_accepting_and_resumes(lim, probe_obj):
    cluster, port = lim
    socks = []
    try:
        for i in range(MAX_CONNS):
            socks.append(connect_from(port, f"127.0.1.{10 + i // PER_IP}"))
        assert all(not closed_by_server(s, timeout=0.05) for s in socks[-5:])
        # At the cap: the kernel completes the handshake, the gateway does not take the connection.
        waiting = connect_from(port, "127.0.0.1")
        waiting.sendall(b"GET / HTTP/1.1\r\nHost: x\r\n\r\n")
        assert held_open(waiting, wait=0.5), "served above --max-conns"
        socks.pop().close()
        waiting.settimeout(30)
        assert waiting.recv(100).startswith(b"HTTP/1.1 403")
        waiting.close()
    finally:
        for s in socks:
            s.close()
    assert probe_get(port, probe_obj) == (200, 4096)


def test_unknown_key_then_added_works_within_the_negative_cache_bound(lim):
    cluster, port = lim
    access, secret = f"neg{uniq('k')}".replace("-", ""), "negsecret"
    status, _, body = signed_request(port, "GET", "/", access=access, secret=secret)
    assert status == 403 and xml_code(body) == "InvalidAccessKeyId"
    cluster.add_user(access, secret, access)
    deadline = time.monotonic() + 20
    while True:
        status, _, body = signed_request(port, "GET", "/", access=access, secret=secret)
        if status == 200 or time.monotonic() > deadline:
            break
        assert xml_code(body) == "InvalidAccessKeyId"
        time.sleep(0.25)
    assert status == 200, body
