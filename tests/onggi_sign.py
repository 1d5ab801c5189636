"""Signs storage-node API requests exactly as storage-node/node_auth.c does (docs/node-api.md,
"Authentication"), for the tests that talk to nodes directly (tests/integration, tests/faults).

    X-Onggi-Auth: OG1 <key id> <ts ms> <nonce 32 hex> <body digest 32 hex> <sig 64 hex>

sig = hex(HMAC-SHA256(key, canonical)); canonical = the lines "OG1", key id, ts, nonce, METHOD,
target, body length, body digest, then "name:value" per signed header (X-Onggi-* but X-Onggi-Auth,
and Range; name lowercased, in the order sent), each line ending in "\\n". The body digest is the
XXH3-128 of the body (libxxhash through ctypes: Debian ships no Python binding).
"""
import ctypes
import hashlib
import hmac
import http.client
import os
import time

AUTH = "X-Onggi-Auth"


class _XXH128(ctypes.Structure):
    _fields_ = [("low64", ctypes.c_uint64), ("high64", ctypes.c_uint64)]


_xxhash = ctypes.CDLL("libxxhash.so.0")
_xxhash.XXH3_128bits.restype = _XXH128
_xxhash.XXH3_128bits.argtypes = (ctypes.c_char_p, ctypes.c_size_t)
_xxhash.XXH3_64bits.restype = ctypes.c_uint64
_xxhash.XXH3_64bits.argtypes = (ctypes.c_char_p, ctypes.c_size_t)


def xxh3_64(data):
    """XXH3-64 of data as an int (the X-Onggi-Xxh3 of a chunk PUT)."""
    return _xxhash.XXH3_64bits(data, len(data))


def body_digest(body):
    """XXH3-128 of body as 32 hex digits (XXH128_canonical_t order: high 64 bits first)."""
    d = _xxhash.XXH3_128bits(body, len(body))
    return f"{d.high64:016x}{d.low64:016x}"


def load_keys(path):
    """The `node` keys of a cluster key file, first (signing) one first: [(id, key bytes)]."""
    keys = []
    with open(path) as f:
        for line in f:
            words = line.split()
            if len(words) == 3 and words[0] == "node":
                keys.append((words[1], bytes.fromhex(words[2])))
    if not keys:
        raise ValueError(f"{path} holds no node key")
    return keys


def _signed(name):
    n = name.lower()
    return n in ("range", "content-range") or (n.startswith("x-onggi-") and n != "x-onggi-auth")


def _mac(kbytes, lines, headers):
    lines = list(lines) + [f"{n.lower()}:{v}" for n, v in headers if _signed(n)]
    canon = "".join(line + "\n" for line in lines).encode("latin-1")
    return hmac.new(kbytes, canon, hashlib.sha256).hexdigest()


def auth_value(key, method, target, headers, body, ts_ms=None, nonce=None):
    """The X-Onggi-Auth value for one request. key = (id, bytes); headers = [(name, value)] in the
    order they will be sent; ts_ms and nonce (32 hex) default to now and a random one."""
    kid, kbytes = key
    ts = str(int(time.time() * 1000) if ts_ms is None else ts_ms)
    nonce = nonce or os.urandom(16).hex()
    digest = body_digest(body)
    sig = _mac(kbytes, ["OG1", kid, ts, nonce, method, target, str(len(body)), digest], headers)
    return f"OG1 {kid} {ts} {nonce} {digest} {sig}"


def response_ok(key, req_auth, status, headers, body):
    """Whether an answer (headers = [(name, value)] as received, body as received; b"" for HEAD)
    carries the node's OG1R signature for the request whose X-Onggi-Auth value was req_auth."""
    kid, kbytes = key
    value = dict((n.lower(), v) for n, v in headers).get("x-onggi-auth", "").split(" ")
    if len(value) != 4 or value[0] != "OG1R" or value[1] != kid or value[2] != body_digest(body):
        return False
    clen = dict((n.lower(), v) for n, v in headers).get("content-length", "0")
    want = _mac(kbytes, ["OG1R", kid, req_auth.split(" ")[3], str(status), clen, value[2]], headers)
    return hmac.compare_digest(want, value[3])


def signed_headers(keys_path, method, target, headers=None, body=b""):
    """headers (a dict) plus X-Onggi-Auth signed with the file's first node key."""
    hdrs = dict(headers or {})
    hdrs[AUTH] = auth_value(load_keys(keys_path)[0], method, target, list(hdrs.items()), body)
    return hdrs


def raw_request(host, port, method, target, headers, body=b"", timeout=60):
    """Sends exactly these headers (in order) and body. Returns (status, headers lowercased, body)."""
    conn = http.client.HTTPConnection(host, port, timeout=timeout)
    try:
        conn.putrequest(method, target, skip_host=any(k.lower() == "host" for k, _ in headers),
                        skip_accept_encoding=True)
        for k, v in headers:
            conn.putheader(k, v)
        if body or method in ("PUT", "POST"):
            conn.putheader("Content-Length", str(len(body)))
        conn.endheaders(body or None)
        resp = conn.getresponse()
        data = resp.read()
        return resp.status, {k.lower(): v for k, v in resp.getheaders()}, data
    finally:
        conn.close()


def node_request(keys_path, host, port, method, target, headers=None, body=b"", timeout=60):
    """One signed request to a node. Returns (status, headers lowercased, body)."""
    hdrs = signed_headers(keys_path, method, target, headers, body)
    return raw_request(host, port, method, target, list(hdrs.items()), body, timeout)
