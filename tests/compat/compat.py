"""The differential compatibility harness's engine: targets (an S3 or Swift endpoint with its
credentials), raw request steps, and the normalisation that turns an answer into what must match
between the anchor (OpenStack Swift, Ceph RGW) and Onggi: the status, the S3 error Code or the
Swift body class, the presence of the headers that matter, and the body's shape (XML element
structure, JSON keys) with run-specific values (names, ids, dates, ETags, hosts) taken out.

Cases are data (tests/compat/cases.py); run.py records, replays and runs them live; randomized.py
runs random name and operation sequences. Docs: docs/s3-compat.md, docs/swift-compat.md."""

import base64
import datetime
import hashlib
import hmac
import http.client
import json
import os
import re
import socket
import time
import urllib.parse
import xml.etree.ElementTree as ET

import botocore.auth
from botocore.awsrequest import AWSRequest
from botocore.credentials import Credentials

HERE = os.path.dirname(os.path.abspath(__file__))
EXPECTED_DIR = os.path.join(HERE, "expected")
KNOWN_FILE = os.path.join(HERE, "known_differences.json")
REPO = os.path.dirname(os.path.dirname(HERE))

# Headers whose presence is compared on every answer (values differ per server and per run).
WATCH = {
    "swift": ["content-type", "etag", "last-modified", "x-timestamp", "x-trans-id", "accept-ranges",
              "x-container-object-count", "x-container-bytes-used", "x-account-container-count",
              "x-account-object-count", "x-account-bytes-used", "www-authenticate", "allow"],
    "s3": ["content-type", "etag", "last-modified", "x-amz-request-id", "content-range", "x-amz-bucket-region"],
}
# XML elements and JSON keys whose values are compared (the rest only by presence).
KEEP_TEXT = {"Code", "Key", "Prefix", "Delimiter", "Marker", "NextMarker", "IsTruncated", "KeyCount", "MaxKeys",
             "Size", "EncodingType", "StartAfter", "Bucket", "Name", "KeyMarker", "UploadIdMarker",
             "MaxUploads", "LocationConstraint"}
KEEP_JSON = {"name", "subdir", "bytes", "count", "content_type"}
# Elements only one server adds and no client reads: RGW's <Type>Normal</Type> in listings.
IGNORE_XML = {"Type"}


# ---------------------------------------------------------------- HTTP


class _Response(http.client.HTTPResponse):
    """http.client skips interim (1xx) responses; this one also notes their statuses."""

    def _read_status(self):
        version, status, reason = super()._read_status()
        if 100 <= status < 200:
            self.interim = getattr(self, "interim", []) + [status]
        return version, status, reason


def raw_request(host, port, method, target, headers, body=b"", raw_body=None, timeout=30):
    """One HTTP/1.1 request with the exact target (already percent-encoded, may hold %FF or %00).
    raw_body (bytes) is sent as is after the headers (the caller sets Transfer-Encoding, or
    Content-Length for a body sent after its head); else body with a Content-Length, in the same
    send as the head. Returns (status, {lower name: value}, body bytes); status 0 when the server
    closed the connection without an answer. Interim responses' statuses, when any came, are under
    the pseudo-header ":interim" ("100", "100,100")."""
    conn = http.client.HTTPConnection(host, port, timeout=timeout)
    conn.response_class = _Response
    try:
        conn.putrequest(method, target, skip_host="Host" in headers, skip_accept_encoding=True)
        for k, v in headers.items():
            conn.putheader(k, v)
        if raw_body is not None:
            conn.endheaders()
            try:
                conn.send(raw_body)
            except OSError:
                pass  # the server may answer (and close) before it has read everything
        else:
            if body or method in ("PUT", "POST"):
                conn.putheader("Content-Length", str(len(body)))
            conn.endheaders(body or None)
        try:
            resp = conn.getresponse()
            data = resp.read() if method != "HEAD" else b""
        except (http.client.RemoteDisconnected, ConnectionResetError, http.client.IncompleteRead,
                socket.timeout):
            return 0, {}, b""
        hdrs = {k.lower(): v for k, v in resp.getheaders()}
        if getattr(resp, "interim", None):
            hdrs[":interim"] = ",".join(str(s) for s in resp.interim)
        return resp.status, hdrs, data
    finally:
        conn.close()


class _SigV4(botocore.auth.S3SigV4Auth):
    """SigV4 over the exact path the step gives (S3 signs the path as sent), with an optional
    claimed payload hash (UNSIGNED-PAYLOAD for raw bodies)."""

    def __init__(self, credentials, region, payload_hash=None):
        super().__init__(credentials, "s3", region)
        self._payload_hash = payload_hash

    def payload(self, request):
        return self._payload_hash or super().payload(request)


class Target:
    """An endpoint of one API. kind 's3': access/secret/region; kind 'swift': auth_path, user, key."""

    def __init__(self, name, kind, endpoint, **creds):
        u = urllib.parse.urlsplit(endpoint)
        self.name, self.kind, self.host, self.port = name, kind, u.hostname, u.port
        self.creds = creds
        self.token = self.storage_path = None

    def __repr__(self):
        return f"{self.name}({self.kind} {self.host}:{self.port})"

    # ---- Swift
    def swift_auth(self):
        st, h, _ = raw_request(self.host, self.port, "GET", self.creds["auth_path"],
                               {"X-Auth-User": self.creds["user"], "X-Auth-Key": self.creds["key"]})
        if st != 200:
            raise RuntimeError(f"{self}: auth answered {st}")
        self.token = h["x-auth-token"]
        self.storage_path = urllib.parse.urlsplit(h["x-storage-url"]).path.rstrip("/")

    def account_name(self):
        return self.storage_path.rsplit("/", 1)[-1] if self.kind == "swift" else self.creds["access"]

    # ---- one step
    def send(self, method, path, query="", headers=None, body=b"", raw_body=None, region=None, auth=True,
             abs_path=False):
        """path: for Swift relative to the storage URL ('' is the account) unless abs_path, for S3
        absolute. Returns (status, headers, body)."""
        headers = dict(headers or {})
        if self.kind == "swift":
            if self.token is None:
                self.swift_auth()
            target = path if abs_path else self.storage_path + path
            if auth:
                headers["X-Auth-Token"] = self.token
        else:
            target = path
            if auth:
                headers = self._sign(method, path, query, headers, body, raw_body, region)
        if query:
            target += "?" + query
        return raw_request(self.host, self.port, method, target, headers, body, raw_body)

    def _sign(self, method, path, query, headers, body, raw_body, region):
        host = f"{self.host}:{self.port}"
        url = f"http://{host}{path}" + (f"?{query}" if query else "")
        payload = "UNSIGNED-PAYLOAD" if raw_body is not None else None
        req = AWSRequest(method=method, url=url, data=body if raw_body is None else b"", headers=headers)
        _SigV4(Credentials(self.creds["access"], self.creds["secret"]), region or self.creds.get("region", "us-east-1"),
               payload).add_auth(req)
        out = {k: v for k, v in req.headers.items()}
        out["Host"] = host
        return out


# ---------------------------------------------------------------- normalisation


class Names:
    """The run's unique names (container/bucket placeholders) and the target's account, replaced by
    their placeholder in everything recorded."""

    def __init__(self, mapping, target):
        self.mapping = dict(mapping)
        self.subst = sorted(((v, "{" + k + "}") for k, v in self.mapping.items()), key=lambda x: -len(x[0]))
        self.extra = [(f"{target.host}:{target.port}", "{host}")]
        if target.kind == "swift" and target.storage_path:
            self.extra.append((target.account_name(), "{account}"))

    def fill(self, s):
        for k, v in self.mapping.items():
            s = s.replace("{" + k + "}", v)
        return s

    def strip(self, s):
        for real, ph in self.subst + self.extra:
            s = s.replace(real, ph)
            q = urllib.parse.quote(real, safe="")
            if q != real:
                s = s.replace(q, ph)
        return s


_VOLATILE = [
    (re.compile(r"tx[0-9a-f]{21}-[0-9a-f]{10}"), "{txid}"),
    (re.compile(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(\.\d+)?Z?"), "{date}"),
    (re.compile(r"[0-9a-f]{32}(-\d+)?"), "{md5}"),
    (re.compile(r"\d{10}\.\d{5}"), "{ts}"),
]


def _scrub(s, names):
    s = names.strip(s)
    for rx, ph in _VOLATILE:
        s = rx.sub(ph, s)
    return s


def _xml_shape(el, names):
    tag = el.tag.split("}", 1)[-1]
    text = (el.text or "").strip()
    node = {"tag": tag}
    if tag in KEEP_TEXT and text:
        node["text"] = _scrub(text, names)
    kids = [_xml_shape(c, names) for c in el if c.tag.split("}", 1)[-1] not in IGNORE_XML]
    if kids:
        node["children"] = sorted(kids, key=lambda k: k["tag"])  # stable: same-tag order kept
    return node


def _json_shape(v, names):
    if isinstance(v, list):
        return [_json_shape(x, names) for x in v]
    if isinstance(v, dict):
        # An account listing's count and bytes lag behind on Swift (its updaters are asynchronous).
        keep = KEEP_JSON - {"count", "bytes"} if "count" in v else KEEP_JSON
        return {k: (_scrub(str(x), names) if k in keep else "*") for k, x in sorted(v.items())}
    return "*"


def body_shape(kind, status, headers, body, names):
    """What of a body must match: S3 errors by their Code alone, Swift's HTML status pages by their
    title, XML by element structure, JSON by keys (and listed names), short text by its words."""
    if not body:
        return "empty"
    ctype = headers.get("content-type", "").split(";")[0].strip().lower()
    text = body.decode("utf-8", "replace")
    if kind == "s3" and status >= 300 and b"<Error>" in body:
        return "s3-error"
    if text.lstrip().startswith("<html>"):
        m = re.search(r"<h1>(.*?)</h1>", text)
        return "html:" + (m.group(1) if m else "?")
    if ctype in ("application/xml", "text/xml") or text.lstrip().startswith("<?xml"):
        try:
            return {"xml": _xml_shape(ET.fromstring(body), names)}
        except ET.ParseError:
            return "xml-unparsable"
    if ctype == "application/json":
        try:
            return {"json": _json_shape(json.loads(body), names)}
        except ValueError:
            return "json-unparsable"
    if len(text) <= 512:
        return "text:" + _scrub(text.strip(), names)
    return f"text:{len(text.splitlines())} lines"


def s3_code(body):
    if not body or b"<Error>" not in body:
        return None
    try:
        el = ET.fromstring(body).find("Code")
    except ET.ParseError:
        return "unparsable"
    return el.text if el is not None else None


def normalise(target, step, status, headers, body, names):
    """The recorded answer of one step: only what must match."""
    out = {"status": status}
    if target.kind == "s3":
        out["code"] = s3_code(body)
    watch = WATCH[target.kind] + [h.lower() for h in step.get("headers_present", [])]
    out["headers"] = sorted(h for h in set(watch) if h in headers)
    if "content-type" in headers and status != 204:
        out["content_type"] = headers["content-type"].split(";")[0].strip().lower()
    out["body"] = body_shape(target.kind, status, headers, body, names) if step.get("body", True) is not False \
        else "not compared"
    if ":interim" in headers:
        out["interim"] = headers[":interim"]
    return out


# ---------------------------------------------------------------- cases


def render_body(spec, names):
    """A step's body: str (UTF-8), {'hex': ...}, {'repeat': s, 'times': n}."""
    if spec is None:
        return b""
    if isinstance(spec, str):
        return names.fill(spec).encode()
    if "hex" in spec:
        return bytes.fromhex(spec["hex"])
    return (spec["repeat"] * spec["times"]).encode()


def _expires(spec):
    """A TempURL/FormPost expiry: "+N" seconds from now, "past", or "iso+N" (ISO 8601)."""
    if spec == "past":
        return "1000"
    if spec.startswith("iso+"):
        return time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(time.time() + int(spec[4:])))
    return str(int(time.time()) + int(spec))


def _hmac(key, msg, digest, form):
    mac = hmac.new(key.encode(), msg.encode(), digest)
    return f"{digest}:" + base64.b64encode(mac.digest()).decode() if form == "b64" else mac.hexdigest()


def tempurl_query(target, path, tu):
    """The query of a TempURL step: {key, method (signed), expires, [digest], [form: 'b64'],
    [prefix], [ip_range], [extra]}; path as sent (percent-encoded, relative to the storage URL)."""
    exp = _expires(tu.get("expires", "+600"))
    exp_int = exp if exp.isdigit() else str(int(datetime.datetime.strptime(exp, "%Y-%m-%dT%H:%M:%SZ").replace(
        tzinfo=datetime.timezone.utc).timestamp()))
    signed = urllib.parse.unquote(target.storage_path + path)
    if "prefix" in tu:
        signed = "prefix:" + signed[:signed.rindex("/") + 1] + tu["prefix"]
    msg = f"{tu['method']}\n{exp_int}\n{signed}"
    if "ip_range" in tu:
        msg = f"ip={tu['ip_range']}\n" + msg
    q = {"temp_url_sig": _hmac(tu["key"], msg, tu.get("digest", "sha256"), tu.get("form")), "temp_url_expires": exp}
    for k in ("prefix", "ip_range"):
        if k in tu:
            q["temp_url_" + k] = tu[k]
    return urllib.parse.urlencode(q) + tu.get("extra", "")


def formpost_body(target, path, fp):
    """(headers, body) of a FormPost step: {key, [redirect], max_file_size, max_file_count, expires,
    files: [[filename, content]], [signature] (as sent instead of the HMAC)}."""
    exp = _expires(fp.get("expires", "+600"))
    fields = {"redirect": fp.get("redirect", ""), "max_file_size": str(fp["max_file_size"]),
              "max_file_count": str(fp["max_file_count"]), "expires": exp}
    msg = "\n".join([urllib.parse.unquote(target.storage_path + path)] + list(fields.values()))
    fields["signature"] = fp.get("signature", _hmac(fp["key"], msg, "sha256", None))
    b = "compatformboundary"
    parts = [f'--{b}\r\nContent-Disposition: form-data; name="{k}"\r\n\r\n{v}\r\n' for k, v in fields.items()]
    parts += [f'--{b}\r\nContent-Disposition: form-data; name="f{i}"; filename="{n}"\r\n'
              f"Content-Type: text/plain\r\n\r\n{c}\r\n" for i, (n, c) in enumerate(fp.get("files", []))]
    return {"Content-Type": f"multipart/form-data; boundary={b}"}, ("".join(parts) + f"--{b}--\r\n").encode()


def run_case(target, case, names):
    """Runs one case's steps; returns [(step id, normalised answer)]."""
    results = []
    for st in case["steps"]:
        if target.kind not in st.get("only", (target.kind,)):
            continue
        raw = st.get("raw_body")
        path, query = names.fill(st.get("path", "")), names.fill(st.get("query", ""))
        headers = {k: names.fill(v) for k, v in st.get("headers", {}).items()}
        body = render_body(st.get("data"), names)
        if target.token is None and target.kind == "swift":
            target.swift_auth()
        if st.get("tempurl"):
            query = tempurl_query(target, path, st["tempurl"])
        if "formpost" in st:
            fh, body = formpost_body(target, path, st["formpost"])
            headers.update(fh)
        status, headers, body = target.send(
            st["method"], path, query, headers, body, raw.encode("latin-1") if raw is not None else None,
            st.get("region"), st.get("auth", True), st.get("abs", False))
        results.append((st["id"], normalise(target, st, status, headers, body, names)))
    return results


def cleanup(target, qnames):
    """Best effort: empties and deletes containers/buckets (names percent-encoded) on target."""
    for q in qnames:
        for _ in range(5):
            keys = list_keys(target, q)
            if not keys:
                break
            for k in keys:
                target.send("DELETE", f"/{q}/{urllib.parse.quote(k, safe='/')}")
        target.send("DELETE", f"/{q}")


def list_keys(target, qname):
    """Object names in a container/bucket (first page), [] when absent or unreadable."""
    if target.kind == "swift":
        st, _, body = target.send("GET", f"/{qname}", "format=json")
        if st != 200:
            return []
        try:
            return [e["name"] for e in json.loads(body) if "name" in e]
        except ValueError:
            return []
    st, _, body = target.send("GET", f"/{qname}", "encoding-type=url")
    if st != 200:
        return []
    root = ET.fromstring(body)
    ns = root.tag.split("}")[0] + "}" if root.tag.startswith("{") else ""
    return [urllib.parse.unquote(k.text or "") for k in root.iter(f"{ns}Key")]


# ---------------------------------------------------------------- comparison


def load_known():
    with open(KNOWN_FILE) as f:
        return json.load(f)["differences"]


def known_for(known, anchor, case_id, step_id):
    for k in known:
        if k["anchor"] == anchor and k["case"] == case_id and k["step"] == step_id:
            return k
    return None


FIELDS = ("status", "code", "headers", "content_type", "body", "interim")


def compare(anchor, case_id, expected, got, known):
    """Differences between the anchor's and Onggi's normalised answers of one case:
    ([(step, {field: (anchor value, onggi value)})] unexpected, [(step, fields, known entry)],
    [known entries of this case whose difference is gone]). A known entry covers the fields it
    lists (its "fields"; all when absent)."""
    unexpected, explained, used = [], [], set()
    got_map = dict((s, a) for s, a in got)
    for step_id, exp in expected:
        act = got_map.get(step_id)
        if act is None:
            unexpected.append((step_id, {"missing": (exp, None)}))
            continue
        diff = {f: (exp.get(f), act.get(f)) for f in FIELDS if exp.get(f) != act.get(f)}
        if not diff:
            continue
        k = known_for(known, anchor, case_id, step_id)
        if k is not None and set(diff) <= set(k.get("fields", FIELDS)):
            explained.append((step_id, sorted(diff), k))
            used.add(id(k))
        else:
            unexpected.append((step_id, diff))
    stale = [k for k in known if k["anchor"] == anchor and k["case"] == case_id and id(k) not in used]
    return unexpected, explained, stale


def expected_path(anchor):
    return os.path.join(EXPECTED_DIR, f"{anchor}.json")


def utc_now():
    return datetime.datetime.now(datetime.timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")
