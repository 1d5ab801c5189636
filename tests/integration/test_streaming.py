"""aws-chunked streaming bodies (STREAMING-AWS4-HMAC-SHA256-PAYLOAD[-TRAILER],
STREAMING-UNSIGNED-PAYLOAD-TRAILER) and flexible checksums, built by hand so every chunk
signature and trailer is under the test's control, sent to UploadPart and PutObject; plus
@aws-sdk/client-s3 (npm) with its default settings. A bad chunk signature must give 403
SignatureDoesNotMatch and store nothing."""

import base64
import datetime
import hashlib
import hmac
import json
import os
import shutil
import subprocess
import zlib

import pytest
from botocore.awsrequest import AWSRequest
from botocore.credentials import Credentials

from conftest import ACCESS, REGION, SECRET, MiB, _FixedTimeS3SigV4, http_request, xml_code

EMPTY = hashlib.sha256(b"").hexdigest()
JSDIR = os.path.join(os.path.dirname(__file__), "js")


def _hmac(key, msg):
    return hmac.new(key, msg.encode() if isinstance(msg, str) else msg, hashlib.sha256).digest()


def streaming_request(port, path, query, data, mode, chunk=64 * 1024, trailer=None, tamper=None, headers=None):
    """PUT path?query with data as aws-chunked in `mode`. trailer: (name, value) to send after the
    final chunk; tamper(i, sig) may replace chunk i's signature. Returns (status, headers, body)."""
    when = datetime.datetime.utcnow()
    amz_date = when.strftime("%Y%m%dT%H%M%SZ")
    scope = f"{amz_date[:8]}/{REGION}/s3/aws4_request"
    chunks = [data[i:i + chunk] for i in range(0, len(data), chunk)] + [b""]
    signed = mode.startswith("STREAMING-AWS4")
    # encoded length must be known before signing: build the body with placeholder signatures
    hdrs = {"Content-Encoding": "aws-chunked", "x-amz-decoded-content-length": str(len(data)),
            "x-amz-content-sha256": mode, **(headers or {})}
    if trailer:
        hdrs["x-amz-trailer"] = trailer[0]

    def body_with(sigs, trailer_sig):
        out = b""
        for c, s in zip(chunks, sigs):
            out += b"%x" % len(c) + (b";chunk-signature=" + s.encode() if signed else b"") + b"\r\n" + c
            out += b"\r\n" if c else b""
        if trailer:
            out += f"{trailer[0]}:{trailer[1]}\r\n".encode()
            if signed:
                out += f"x-amz-trailer-signature:{trailer_sig}\r\n".encode()
        return out + b"\r\n"

    # (Content-Length is added by http_request, unsigned, as many SDKs do)
    host = f"127.0.0.1:{port}"
    req = AWSRequest(method="PUT", url=f"http://{host}{path}" + (f"?{query}" if query else ""), data=b"",
                     headers=hdrs)
    _FixedTimeS3SigV4(Credentials(ACCESS, SECRET), when, mode).add_auth(req)
    seed = req.headers["Authorization"].split("Signature=")[1]
    key = _hmac(_hmac(_hmac(_hmac(("AWS4" + SECRET).encode(), amz_date[:8]), REGION), "s3"), "aws4_request")
    sigs, prev = [], seed
    for i, c in enumerate(chunks):
        sts = "\n".join(["AWS4-HMAC-SHA256-PAYLOAD", amz_date, scope, prev, EMPTY, hashlib.sha256(c).hexdigest()])
        s = hmac.new(key, sts.encode(), hashlib.sha256).hexdigest()
        prev = s
        sigs.append(tamper(i, s) if tamper else s)
    tsig = ""
    if trailer and signed:
        th = hashlib.sha256(f"{trailer[0]}:{trailer[1]}\n".encode()).hexdigest()
        tsig = hmac.new(key, "\n".join(["AWS4-HMAC-SHA256-TRAILER", amz_date, scope, prev, th]).encode(),
                        hashlib.sha256).hexdigest()
    out = {k: v for k, v in req.headers.items()}
    out["Host"] = host
    return http_request(port, "PUT", path + (f"?{query}" if query else ""), out, body_with(sigs, tsig))


def b64(d):
    return base64.b64encode(d).decode()


def crc32_b64(data):
    return b64(zlib.crc32(data).to_bytes(4, "big"))


@pytest.fixture
def upload(s3, bucket):
    uid = s3.create_multipart_upload(Bucket=bucket, Key="st")["UploadId"]
    return bucket, uid


MODES = ["STREAMING-AWS4-HMAC-SHA256-PAYLOAD", "STREAMING-AWS4-HMAC-SHA256-PAYLOAD-TRAILER",
         "STREAMING-UNSIGNED-PAYLOAD-TRAILER"]


@pytest.mark.parametrize("mode", MODES)
def test_upload_part_streaming(cluster, s3, upload, mode):
    bucket, uid = upload
    data = os.urandom(300 * 1024 + 7)
    trailer = ("x-amz-checksum-crc32", crc32_b64(data)) if "TRAILER" in mode else None
    st, h, body = streaming_request(cluster.port(), f"/{bucket}/st", f"partNumber=1&uploadId={uid}", data, mode,
                                    trailer=trailer)
    assert st == 200, body
    assert h["etag"] == f'"{hashlib.md5(data).hexdigest()}"'
    if trailer:
        assert h["x-amz-checksum-crc32"] == trailer[1]
    s3.complete_multipart_upload(Bucket=bucket, Key="st", UploadId=uid,
                                 MultipartUpload={"Parts": [{"PartNumber": 1, "ETag": h["etag"]}]})
    assert s3.get_object(Bucket=bucket, Key="st")["Body"].read() == data


def test_bad_chunk_signature_stores_nothing(cluster, s3, upload):
    bucket, uid = upload
    data = os.urandom(200 * 1024)
    st, _, body = streaming_request(cluster.port(), f"/{bucket}/st", f"partNumber=1&uploadId={uid}", data, MODES[0],
                                    tamper=lambda i, s: ("0" * 64 if i == 2 else s))
    assert st == 403 and xml_code(body) == "SignatureDoesNotMatch"
    assert s3.list_parts(Bucket=bucket, Key="st", UploadId=uid).get("Parts", []) == []


def test_bad_trailer_checksum_is_bad_digest(cluster, s3, upload):
    bucket, uid = upload
    data = os.urandom(100 * 1024)
    for mode in MODES[1:]:
        st, _, body = streaming_request(cluster.port(), f"/{bucket}/st", f"partNumber=1&uploadId={uid}", data, mode,
                                        trailer=("x-amz-checksum-crc32", crc32_b64(data + b"x")))
        assert st == 400 and xml_code(body) == "BadDigest", (mode, body)
    assert s3.list_parts(Bucket=bucket, Key="st", UploadId=uid).get("Parts", []) == []


@pytest.mark.parametrize("mode", MODES)
def test_put_object_streaming(cluster, s3, bucket, mode):
    data = os.urandom(2 * MiB + 3)
    trailer = ("x-amz-checksum-crc32", crc32_b64(data)) if "TRAILER" in mode else None
    st, h, body = streaming_request(cluster.port(), f"/{bucket}/ps", "", data, mode, trailer=trailer,
                                    headers={"Content-Encoding": "aws-chunked, gzip"})
    assert st == 200, body
    assert h["etag"] == f'"{hashlib.md5(data).hexdigest()}"'
    if trailer:
        assert h["x-amz-checksum-crc32"] == trailer[1]
    o = s3.get_object(Bucket=bucket, Key="ps")
    assert o["Body"].read() == data
    assert o["ContentEncoding"] == "gzip"  # aws-chunked is the upload's framing, not stored
    st, _, body = streaming_request(cluster.port(), f"/{bucket}/ps2", "", data, MODES[0],
                                    tamper=lambda i, s: ("f" * 64 if i == 5 else s))
    assert st == 403 and xml_code(body) == "SignatureDoesNotMatch"
    assert "ps2" not in [o["Key"] for o in s3.list_objects_v2(Bucket=bucket).get("Contents", [])]


def test_put_object_streaming_bad_trailer_stores_nothing(cluster, s3, bucket):
    data = os.urandom(300 * 1024)
    for mode in MODES[1:]:
        st, _, body = streaming_request(cluster.port(), f"/{bucket}/bt", "", data, mode,
                                        trailer=("x-amz-checksum-crc32", crc32_b64(data + b"x")))
        assert st == 400 and xml_code(body) == "BadDigest", (mode, body)
    # a decoded length that the body does not have
    st, _, body = streaming_request(cluster.port(), f"/{bucket}/bt", "", data, MODES[0],
                                    headers={"x-amz-decoded-content-length": str(len(data) + 1)})
    assert st == 400 and xml_code(body) == "IncompleteBody", body
    assert s3.list_objects_v2(Bucket=bucket).get("KeyCount") == 0


def test_checksum_headers_only_with_checksum_mode(cluster, s3, bucket):
    """Stored x-amz-checksum-* come back on GET/HEAD only with x-amz-checksum-mode: ENABLED,
    and only when the body is the whole object."""
    data = os.urandom(100 * 1024)
    r = s3.put_object(Bucket=bucket, Key="ck", Body=data, ChecksumAlgorithm="CRC32")
    want = crc32_b64(data)
    assert r["ChecksumCRC32"] == want
    for call in (s3.get_object, s3.head_object):
        h = call(Bucket=bucket, Key="ck")["ResponseMetadata"]["HTTPHeaders"]
        assert "x-amz-checksum-crc32" not in h, call
        h = call(Bucket=bucket, Key="ck", ChecksumMode="ENABLED")["ResponseMetadata"]["HTTPHeaders"]
        assert h["x-amz-checksum-crc32"] == want, call
    g = s3.get_object(Bucket=bucket, Key="ck", ChecksumMode="ENABLED")
    assert g["ChecksumCRC32"] == want and g["Body"].read() == data  # botocore validates it
    g = s3.get_object(Bucket=bucket, Key="ck", ChecksumMode="ENABLED", Range="bytes=10-99")
    assert "x-amz-checksum-crc32" not in g["ResponseMetadata"]["HTTPHeaders"]
    assert g["Body"].read() == data[10:100]


JS_UPLOAD = r"""
const { S3Client, PutObjectCommand, GetObjectCommand, HeadObjectCommand } = require("@aws-sdk/client-s3");
const { Readable } = require("stream");
const crypto = require("crypto");
(async () => {
  const [endpoint, bucket, access, secret] = process.argv.slice(2);
  const s3 = new S3Client({ endpoint, region: "us-east-1", forcePathStyle: true,
                            credentials: { accessKeyId: access, secretAccessKey: secret } });
  const out = {};
  let sent = null;  // the last request's headers as they went out (signed, encoded)
  s3.middlewareStack.add((next) => async (args) => { sent = { ...args.request.headers }; return next(args); },
                         { step: "deserialize", name: "recordHeaders" });
  // CRC-32 (IEEE) by table: Debian 12's node 18 has no zlib.crc32 (it came in node 20.15).
  const table = Array.from({ length: 256 }, (_, n) => {
    for (let k = 0; k < 8; k++) n = n & 1 ? 0xedb88320 ^ (n >>> 1) : n >>> 1;
    return n >>> 0;
  });
  const crc32 = (b) => {
    let c = 0xffffffff;
    for (const x of b) c = table[(c ^ x) & 0xff] ^ (c >>> 8);
    const v = Buffer.alloc(4);
    v.writeUInt32BE((c ^ 0xffffffff) >>> 0);
    return v.toString("base64");
  };
  const check = async (key, body) => {
    const got = await s3.send(new GetObjectCommand({ Bucket: bucket, Key: key, ChecksumMode: "ENABLED" }));
    const back = Buffer.from(await got.Body.transformToByteArray());  // the SDK validates the CRC32
    if (!back.equals(body)) throw new Error(key + ": bytes differ");
    const head = await s3.send(new HeadObjectCommand({ Bucket: bucket, Key: key, ChecksumMode: "ENABLED" }));
    return { len: back.length, get_crc32: got.ChecksumCRC32, head_crc32: head.ChecksumCRC32,
             encoding: head.ContentEncoding || null };
  };
  // a Buffer: the SDK sends the CRC32 as a header
  const body = crypto.randomBytes(3 * 1024 * 1024 + 11);
  const put = await s3.send(new PutObjectCommand({ Bucket: bucket, Key: "js", Body: body }));
  out.buffer = { want_crc32: crc32(body), put_crc32: put.ChecksumCRC32, ...(await check("js", body)) };
  // a stream: aws-chunked (STREAMING-UNSIGNED-PAYLOAD-TRAILER) with the CRC32 in the trailer
  const sbody = crypto.randomBytes(2 * 1024 * 1024 + 5);
  const pieces = [];
  for (let i = 0; i < sbody.length; i += 100000) pieces.push(sbody.subarray(i, i + 100000));
  sent = null;
  const sput = await s3.send(new PutObjectCommand({ Bucket: bucket, Key: "js-stream", Body: Readable.from(pieces),
                                                    ContentLength: sbody.length }));
  out.stream_request = sent;
  out.stream = { want_crc32: crc32(sbody), put_crc32: sput.ChecksumCRC32, ...(await check("js-stream", sbody)) };
  console.log(JSON.stringify(out));
})().catch((e) => { console.error(e); process.exit(1); });
"""


def test_js_sdk_default_put(cluster, bucket, tmp_path):
    """@aws-sdk/client-s3 with its defaults over http: a Buffer body (CRC32 header) and a stream
    body (aws-chunked with a CRC32 trailer), read back with checksum validation. tools/deps.sh
    installs the SDK (`npm ci` in tests/integration/js): missing, the test fails."""
    assert shutil.which("node") is not None, "node is missing: run tools/deps.sh"
    assert os.path.isdir(os.path.join(JSDIR, "node_modules", "@aws-sdk", "client-s3")), \
        "@aws-sdk/client-s3 is missing: run tools/deps.sh (npm ci in tests/integration/js)"
    script = tmp_path / "up.js"
    script.write_text(JS_UPLOAD)
    r = subprocess.run(["node", str(script), cluster.endpoint(), bucket, ACCESS, SECRET], capture_output=True,
                       text=True, timeout=120, env=dict(os.environ, NODE_PATH=os.path.join(JSDIR, "node_modules")))
    assert r.returncode == 0, r.stdout + r.stderr
    out = json.loads(r.stdout)
    for name in ("buffer", "stream"):
        o = out[name]
        assert o["want_crc32"] == o["put_crc32"] == o["get_crc32"] == o["head_crc32"], (name, o)
        assert o["encoding"] is None, (name, o)
    # the stream went up aws-chunked with the checksum in a trailer
    sent = {k.lower(): v for k, v in out["stream_request"].items()}
    assert sent["x-amz-content-sha256"].startswith("STREAMING-") and "TRAILER" in sent["x-amz-content-sha256"], sent
    assert "aws-chunked" in sent["content-encoding"] and sent["x-amz-trailer"] == "x-amz-checksum-crc32", sent
