"""aws-chunked streaming bodies (STREAMING-AWS4-HMAC-SHA256-PAYLOAD[-TRAILER],
STREAMING-UNSIGNED-PAYLOAD-TRAILER) and flexible checksums, built by hand so every chunk
signature and trailer is under the test's control, sent to UploadPart and PutObject; plus
@aws-sdk/client-s3 (npm) with its default settings. A bad chunk signature must give 403
SignatureDoesNotMatch and store nothing."""

import base64
import datetime
import hashlib
import hmac
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


def _put_streaming_or_skip(cluster, bucket, key, data, mode, **kw):
    st, h, body = streaming_request(cluster.port(), f"/{bucket}/{key}", "", data, mode, **kw)
    if st == 501:
        pytest.skip("PutObject does not use gw_body yet (see the large-objects report)")
    return st, h, body


@pytest.mark.parametrize("mode", MODES)
def test_put_object_streaming(cluster, s3, bucket, mode):
    data = os.urandom(2 * MiB + 3)
    trailer = ("x-amz-checksum-crc32", crc32_b64(data)) if "TRAILER" in mode else None
    st, h, body = _put_streaming_or_skip(cluster, bucket, "ps", data, mode, trailer=trailer)
    assert st == 200, body
    assert s3.get_object(Bucket=bucket, Key="ps")["Body"].read() == data
    st, _, body = _put_streaming_or_skip(cluster, bucket, "ps2", data, MODES[0],
                                         tamper=lambda i, s: ("f" * 64 if i == 5 else s))
    assert st == 403 and xml_code(body) == "SignatureDoesNotMatch"
    assert "ps2" not in [o["Key"] for o in s3.list_objects_v2(Bucket=bucket).get("Contents", [])]


JS_UPLOAD = r"""
const { S3Client, PutObjectCommand, GetObjectCommand, HeadObjectCommand } = require("@aws-sdk/client-s3");
const crypto = require("crypto");
(async () => {
  const [endpoint, bucket, access, secret] = process.argv.slice(2);
  const s3 = new S3Client({ endpoint, region: "us-east-1", forcePathStyle: true,
                            credentials: { accessKeyId: access, secretAccessKey: secret } });
  const body = crypto.randomBytes(3 * 1024 * 1024 + 11);
  await s3.send(new PutObjectCommand({ Bucket: bucket, Key: "js", Body: body }));
  const got = await s3.send(new GetObjectCommand({ Bucket: bucket, Key: "js", ChecksumMode: "ENABLED" }));
  const back = Buffer.from(await got.Body.transformToByteArray());
  if (!back.equals(body)) throw new Error("bytes differ");
  console.log("ok " + back.length);
})().catch((e) => { console.error(e); process.exit(1); });
"""


def test_js_sdk_default_put(cluster, bucket, tmp_path):
    """@aws-sdk/client-s3 with its defaults: CRC32 in an aws-chunked trailer over http."""
    if shutil.which("node") is None or not os.path.isdir(os.path.join(JSDIR, "node_modules", "@aws-sdk")):
        pytest.skip("run `npm ci` in tests/integration/js first")
    script = tmp_path / "up.js"
    script.write_text(JS_UPLOAD)
    r = subprocess.run(["node", str(script), cluster.endpoint(), bucket, ACCESS, SECRET], capture_output=True,
                       text=True, timeout=120, env=dict(os.environ, NODE_PATH=os.path.join(JSDIR, "node_modules")))
    if "NotImplemented" in r.stderr:
        pytest.skip("PutObject does not use gw_body yet (see the large-objects report)")
    assert r.returncode == 0, r.stdout + r.stderr
    assert r.stdout.startswith("ok ")
