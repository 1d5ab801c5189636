"""Many concurrent slow uploads (issue 16 section 1, the CCTV case; docs/architecture.md "Threads"):
a gateway whose core is only WORKERS threads takes UPLOADS concurrent PUTs of one account whose
bodies trickle in for several seconds; while they run, another client's GET and PUT are served,
and afterwards every upload reads back byte-exact. With a fixed pool of WORKERS threads (and a
per-account share of half of them) most uploads were refused or everything else waited.
Functional outcomes only: every wait is bounded and generous, nothing asserts on speed."""
import hashlib
import time

import pytest

from conftest import ACCESS2, SECRET2, signed_request, uniq
from test_limits import trickle_put  # a signed PUT (UNSIGNED-PAYLOAD) with its head sent

WORKERS = 8
UPLOADS = 150
PIECES = 10        # body pieces per upload, one per PIECE_GAP seconds: each upload lasts ~9 s
PIECE = 4000       # bytes per piece (the body passes CORE_INLINE_MAX and spans batch flushes)
PIECE_GAP = 0.9


def body_of(i):
    """Upload i's body: distinct per upload and per piece."""
    return b"".join(hashlib.sha256(f"{i}:{k}".encode()).digest() * (PIECE // 32) + b"#" * (PIECE % 32)
                    for k in range(PIECES))


def read_status(s, timeout=120):
    """The status code of the response on s (0 if none came within timeout)."""
    s.settimeout(timeout)
    data = b""
    try:
        while b"\r\n" not in data:
            got = s.recv(4096)
            if not got:
                break
            data += got
    except OSError:
        return 0
    parts = data.split(b" ", 2)
    return int(parts[1]) if len(parts) > 1 and parts[1].isdigit() else 0


@pytest.fixture(scope="module")
def slow_gw(cluster):
    port = cluster.start_gateway("gwslow", extra=["--workers", str(WORKERS)])
    yield port
    cluster.stop("gwslow")


def test_slow_uploads_do_not_block_other_requests(slow_gw):
    port = slow_gw
    b, other = uniq("slow"), uniq("slowo")
    assert signed_request(port, "PUT", f"/{b}")[0] == 200
    assert signed_request(port, "PUT", f"/{other}", access=ACCESS2, secret=SECRET2)[0] == 200
    assert signed_request(port, "PUT", f"/{other}/probe", body=b"p" * 4096, access=ACCESS2, secret=SECRET2)[0] == 200
    bodies = [body_of(i) for i in range(UPLOADS)]
    socks = [trickle_put(port, f"/{b}/cam{i}", length=len(bodies[i])) for i in range(UPLOADS)]
    try:
        for k in range(PIECES):
            for i, s in enumerate(socks):
                try:
                    s.sendall(bodies[i][k * PIECE:(k + 1) * PIECE])
                except OSError:
                    pass  # answered early and closed: its status says so below
            if k == PIECES // 2:
                # Every upload is under way and holds a worker: another client is still served.
                st, _, got = signed_request(port, "GET", f"/{other}/probe", access=ACCESS2, secret=SECRET2)
                assert (st, len(got)) == (200, 4096)
                st = signed_request(port, "PUT", f"/{other}/put", body=b"q" * 5000, access=ACCESS2, secret=SECRET2)[0]
                assert st == 200
            time.sleep(PIECE_GAP)
        statuses = [read_status(s) for s in socks]
    finally:
        for s in socks:
            s.close()
    assert statuses == [200] * UPLOADS, f"{sum(st == 200 for st in statuses)} of {UPLOADS} uploads answered 200"
    for i in range(UPLOADS):
        st, _, got = signed_request(port, "GET", f"/{b}/cam{i}")
        assert st == 200 and got == bodies[i], f"upload {i}: status {st}, {len(got)} bytes"
