#!/usr/bin/env bash
# The Large-objects issue's 5 GiB checks, end to end on a fresh local cluster:
#   1a. single PUT, aws-chunked STREAMING-UNSIGNED-PAYLOAD-TRAILER with a CRC32 trailer
#       (@aws-sdk/client-s3 from tests/integration/js, stream body, default settings);
#   1b. single PUT, aws-chunked STREAMING-AWS4-HMAC-SHA256-PAYLOAD (a Python signer, 64 KiB
#       chunks, every chunk signed);
#   2.  multipart: /usr/bin/aws s3 cp, >= 8 parts, 8 parts in flight;
#   3.  Swift SLO: swift upload -S SEG --use-slo (python3-swiftclient);
#   4.  a 2 GiB single PUT with curl --aws-sigv4 and UNSIGNED-PAYLOAD (the Foundation issue's
#       peak-RSS figure), on its own random data.
# Each upload is followed by a full GET hashed with SHA-256 against the source, Range GETs across
# part / segment / 4 MiB read-batch / arbitrary (chunk) boundaries compared with the source bytes,
# and `onggi-admin stats` (the three 5 GiB uploads share one source file, so dedup keeps the
# physical bytes flat after the first). Peak RSS: every measured step (each PUT, each full GET)
# runs against its own freshly started second gateway (port LARGE_PORT+10; run-cluster.sh stops
# the whole cluster when its own gateway exits, so that one cannot be restarted), whose VmHWM is
# then that step's peak; VmRSS of it and of the nodes is also sampled every 100 ms.
#
#   make BUILD=release all && tools/large-check.sh
#
# Knobs (environment): LARGE_BIN (build/release/bin), LARGE_DIR (work dir; default a new
# directory on whichever of /var/tmp, /tmp has more free space), LARGE_SIZE (bytes, 5368709120),
# LARGE_SIZE2 (the curl PUT, 2147483648), LARGE_PORT (23400; nodes +1..+3, phase gateway +10;
# below the ephemeral range), LARGE_MIN_FREE_GB (free space required, default 3.5 x LARGE_SIZE
# + 4 x LARGE_SIZE2), LARGE_KEEP=1 keeps the work dir (data and logs). Builds nothing. Only
# 127.0.0.1. Every process it starts is stopped on exit; the work dir is deleted unless LARGE_KEEP=1.
set -uo pipefail

PY=/usr/bin/python3
REPO="$(cd "$(dirname "$0")/.." && pwd)"
BIN_SRC="${LARGE_BIN:-$REPO/build/release/bin}"
SIZE="${LARGE_SIZE:-5368709120}"
SIZE2="${LARGE_SIZE2:-2147483648}"
PORT="${LARGE_PORT:-23400}"
NODE_PORTS="$((PORT + 1)),$((PORT + 2)),$((PORT + 3))"
EP="http://127.0.0.1:$PORT"
# Each measured step runs against a fresh second gateway on PPORT (gateways are stateless), so its
# VmHWM is that step's own peak: glibc keeps freed memory, so one long-lived gateway's RSS only
# ever shows the largest step so far.
PPORT=$((PORT + 10))
PEP="http://127.0.0.1:$PPORT"
ACCESS=devaccess SECRET=devsecret
MiB=1048576
# Multipart parts of size/10 (rounded up to a MiB, at least 5 MiB): 10 parts for 5 GiB, 8 in
# flight. SLO segments of size/5: 1 GiB for 5 GiB, as the issue's `swift upload -S 1073741824`.
PART=$(((SIZE / 10 + MiB - 1) / MiB * MiB)); [ "$PART" -ge $((5 * MiB)) ] || PART=$((5 * MiB))
SEG=$(((SIZE / 5 + MiB - 1) / MiB * MiB))
human() { /usr/bin/python3 -c 'import sys; n=int(sys.argv[1]); print("%g GiB" % (n/2**30) if n >= 2**30 else "%g MiB" % (n/2**20))' "$1"; }
SIZE_H="$(human "$SIZE")" SIZE2_H="$(human "$SIZE2")"

die() { echo "large-check: $*" >&2; exit 1; }
log() { echo "large-check: $(date +%T) $*" >&2; }

for b in onggi-ring onggi-node onggi-gateway onggi-admin; do
    [ -x "$BIN_SRC/$b" ] || die "$BIN_SRC/$b not found (build first: make BUILD=release all)"
done
for t in /usr/bin/aws swift node curl openssl; do command -v "$t" >/dev/null || die "$t is not installed"; done
[ -d "$REPO/tests/integration/js/node_modules/@aws-sdk/client-s3" ] ||
    die "@aws-sdk/client-s3 missing (tools/deps.sh: npm ci in tests/integration/js)"

if [ -z "${LARGE_DIR:-}" ]; then
    base=/var/tmp
    [ "$(df --output=avail -B1 /tmp | tail -1)" -gt "$(df --output=avail -B1 /var/tmp | tail -1)" ] && base=/tmp
    WORK="$(mktemp -d "$base/onggi-large.XXXXXX")" || die "cannot create a work dir in $base"
else
    mkdir -p "$LARGE_DIR" || die "cannot create $LARGE_DIR"
    WORK="$(mktemp -d "$LARGE_DIR/onggi-large.XXXXXX")" || die "cannot create a work dir in $LARGE_DIR"
fi
# Peak disk use: the source file + 3 replicas of its chunks, then the second file + its replicas.
need_gb="${LARGE_MIN_FREE_GB:-$(((SIZE * 7 / 2 + SIZE2 * 4) / 1073741824 + 1))}"
free_gb=$(($(df --output=avail -B1 "$WORK" | tail -1) / 1073741824))

CLUSTER_PID="" SAMPLER_PID="" PHASE_PID="" PGW_PID=""
# shellcheck disable=SC2317  # run by the EXIT trap
cleanup() {
    trap - EXIT INT TERM
    [ -n "$PHASE_PID" ] && kill -TERM "$PHASE_PID" 2>/dev/null && wait "$PHASE_PID" 2>/dev/null
    [ -n "$SAMPLER_PID" ] && kill -TERM "$SAMPLER_PID" 2>/dev/null && wait "$SAMPLER_PID" 2>/dev/null
    [ -n "$PGW_PID" ] && kill -TERM "$PGW_PID" 2>/dev/null && wait "$PGW_PID" 2>/dev/null
    if [ -n "$CLUSTER_PID" ] && kill -0 "$CLUSTER_PID" 2>/dev/null; then
        # run-cluster.sh stops its gateway and nodes on SIGTERM (SIGKILL after 15 s)
        kill -TERM "$CLUSTER_PID" 2>/dev/null
        wait "$CLUSTER_PID" 2>/dev/null
    fi
    if [ "${LARGE_KEEP:-0}" = 1 ]; then
        echo "large-check: kept $WORK" >&2
    else
        rm -rf "$WORK"
    fi
}
trap cleanup EXIT
trap 'exit 130' INT TERM

[ "$free_gb" -ge "$need_gb" ] || die "$WORK has $free_gb GiB free, needs $need_gb (LARGE_DIR elsewhere?)"
log "work dir $WORK ($free_gb GiB free), object $SIZE bytes, parts $PART, SLO segments $SEG"

# A private copy of the binaries: another build of the tree during the run must not change them.
mkdir -p "$WORK/bin" || die "cannot create $WORK/bin"
cp "$BIN_SRC"/onggi-{ring,node,gateway,admin} "$WORK/bin/" || die "cannot copy binaries"
RING="$WORK/data/ring.bin"
ADMIN=("$WORK/bin/onggi-admin" --ring "$RING")

# ---------------------------------------------------------------- helpers (Python, JS)
cat >"$WORK/helper.py" <<'EOF'
"""large-check helpers: digests of the source, a STREAMING-AWS4-HMAC-SHA256-PAYLOAD PUT, full
and Range GETs (S3 SigV4 or Swift token) checked against the source, and the RSS sampler."""
import base64, datetime, hashlib, hmac, http.client, json, os, random, signal, sys, time, urllib.parse, zlib

MiB = 1 << 20
REGION = "us-east-1"
EMPTY = hashlib.sha256(b"").hexdigest()


def hm(key, msg):
    return hmac.new(key, msg.encode() if isinstance(msg, str) else msg, hashlib.sha256).digest()


def sigv4(method, host, path, secret, access, extra, payload):
    """Header SigV4 for a path of unreserved characters; signs host, x-amz-* and extra headers."""
    now = datetime.datetime.now(datetime.timezone.utc)
    amz = now.strftime("%Y%m%dT%H%M%SZ")
    scope = f"{amz[:8]}/{REGION}/s3/aws4_request"
    h = {"host": host, "x-amz-date": amz, "x-amz-content-sha256": payload}
    h.update({k.lower(): v for k, v in extra.items()})
    names = sorted(h)
    creq = "\n".join([method, path, "", "".join(f"{n}:{h[n]}\n" for n in names), ";".join(names), payload])
    sts = "\n".join(["AWS4-HMAC-SHA256", amz, scope, hashlib.sha256(creq.encode()).hexdigest()])
    key = hm(hm(hm(hm(("AWS4" + secret).encode(), amz[:8]), REGION), "s3"), "aws4_request")
    sig = hmac.new(key, sts.encode(), hashlib.sha256).hexdigest()
    h["authorization"] = (f"AWS4-HMAC-SHA256 Credential={access}/{scope}, SignedHeaders={';'.join(names)}, "
                          f"Signature={sig}")
    return h, key, amz, scope, sig


class Target:
    """An object to read: ('s3', port, path, access, secret) or ('swift', port, container/object,
    user, key), the latter authenticated once with /auth/v1.0."""

    def __init__(self, kind, port, path, who, secret):
        self.kind, self.port, self.who, self.secret = kind, int(port), who, secret
        self.host = f"127.0.0.1:{self.port}"
        if kind == "swift":
            c = http.client.HTTPConnection("127.0.0.1", self.port, timeout=60)
            c.request("GET", "/auth/v1.0", headers={"X-Auth-User": who, "X-Auth-Key": secret})
            r = c.getresponse()
            r.read()
            assert r.status // 100 == 2, f"swift auth: {r.status}"
            self.token = r.getheader("X-Auth-Token")
            self.path = urllib.parse.urlsplit(r.getheader("X-Storage-Url")).path + "/" + path
            c.close()
        else:
            self.path = path

    def get(self, conn, rng=None):
        extra = {"Range": rng} if rng else {}
        if self.kind == "swift":
            h = dict(extra, **{"X-Auth-Token": self.token})
        else:
            h = sigv4("GET", self.host, self.path, self.secret, self.who, {}, "UNSIGNED-PAYLOAD")[0]
            h.update(extra)
        conn.request("GET", self.path, headers=h)
        return conn.getresponse()


def cmd_digests(path, part, seg):
    """md5, sha256, CRC32 (base64, as x-amz-checksum-crc32), the multipart ETag for `part`-byte
    parts and the Swift SLO ETag (md5 of the segments' md5 hex) for `seg`-byte segments."""
    part, seg = int(part), int(seg)
    md5, sha, crc = hashlib.md5(), hashlib.sha256(), 0
    parts, segs = [], []
    pm, sm, off = hashlib.md5(), hashlib.md5(), 0
    with open(path, "rb") as f:
        while True:
            # never read across a part or segment boundary
            b = f.read(min(4 * MiB, part - off % part, seg - off % seg))
            if not b:
                break
            md5.update(b), sha.update(b), pm.update(b), sm.update(b)
            crc = zlib.crc32(b, crc)
            off += len(b)
            if off % part == 0:
                parts.append(pm.digest()); pm = hashlib.md5()
            if off % seg == 0:
                segs.append(sm.hexdigest()); sm = hashlib.md5()
    if off % part:
        parts.append(pm.digest())
    if off % seg:
        segs.append(sm.hexdigest())
    print(json.dumps({"size": off, "md5": md5.hexdigest(), "sha256": sha.hexdigest(),
                      "crc32": base64.b64encode(crc.to_bytes(4, "big")).decode(),
                      "mpu_etag": f"{hashlib.md5(b''.join(parts)).hexdigest()}-{len(parts)}",
                      "slo_etag": hashlib.md5("".join(segs).encode()).hexdigest()}))


def cmd_sigv4_put(port, path, access, secret, src, chunk="65536"):
    """PUT src as aws-chunked STREAMING-AWS4-HMAC-SHA256-PAYLOAD, every chunk signed, streamed
    from the file (Content-Length precomputed, unsigned as SDKs send it)."""
    size, chunk = os.path.getsize(src), int(chunk)
    host = f"127.0.0.1:{port}"
    mode = "STREAMING-AWS4-HMAC-SHA256-PAYLOAD"
    h, key, amz, scope, seed = sigv4("PUT", host, path, secret, access,
                                     {"Content-Encoding": "aws-chunked",
                                      "x-amz-decoded-content-length": str(size)}, mode)
    sig_ext = len(";chunk-signature=") + 64
    full, last = divmod(size, chunk)
    enc = full * (len(b"%x" % chunk) + sig_ext + 2 + chunk + 2) + sig_ext + len("0") + 4
    if last:
        enc += len(b"%x" % last) + sig_ext + 2 + last + 2
    h["Content-Length"] = str(enc)

    def body():
        prev = seed
        with open(src, "rb") as f:
            while True:
                c = f.read(chunk)
                sts = "\n".join(["AWS4-HMAC-SHA256-PAYLOAD", amz, scope, prev, EMPTY, hashlib.sha256(c).hexdigest()])
                prev = hmac.new(key, sts.encode(), hashlib.sha256).hexdigest()
                yield b"%x;chunk-signature=%s\r\n" % (len(c), prev.encode()) + c + b"\r\n"
                if not c:
                    return

    conn = http.client.HTTPConnection("127.0.0.1", int(port), timeout=600)
    conn.request("PUT", path, body=body(), headers=h)
    r = conn.getresponse()
    data = r.read()
    print(json.dumps({"status": r.status, "etag": r.getheader("ETag"), "body": data[:300].decode("latin1")}))
    return 0 if r.status == 200 else 1


def cmd_get(kind, port, path, who, secret, want_sha, want_size):
    """Full GET, hashed while streaming; fails unless 200, size and SHA-256 equal the source's."""
    t = Target(kind, port, path, who, secret)
    conn = http.client.HTTPConnection("127.0.0.1", t.port, timeout=600)
    t0 = time.monotonic()
    r = t.get(conn)
    sha, n = hashlib.sha256(), 0
    while True:
        b = r.read(4 * MiB)
        if not b:
            break
        sha.update(b)
        n += len(b)
    secs = time.monotonic() - t0
    ok = r.status == 200 and n == int(want_size) and sha.hexdigest() == want_sha
    print(json.dumps({"status": r.status, "bytes": n, "sha256": sha.hexdigest(), "seconds": secs, "ok": ok,
                      "etag": r.getheader("ETag")}))
    return 0 if ok else 1


def cmd_ranges(kind, port, path, who, secret, src, boundaries, seed):
    """Range GETs compared byte for byte with src: around every boundary given (parts,
    segments), around 4 MiB read-batch edges, the ends, a suffix range, and seeded random ranges
    up to 2 MiB (random offsets cross content-defined chunk edges: chunks are 8-128 KiB)."""
    size = os.path.getsize(src)
    t = Target(kind, port, path, who, secret)
    rnd = random.Random(int(seed))
    spans = [(0, 99), (size - 100, size - 1), ("suffix", 777)]
    for b in [int(x) for x in boundaries.split(",") if x]:
        if 0 < b < size:
            spans += [(b - 1000, b + 999), (b - 3 * MiB, b + 5 * MiB - 1)]
    for b in (4 * MiB, 64 * MiB + 4 * MiB):
        if b < size:
            spans.append((b - 70000, b + 70000))
    for _ in range(8):
        a = rnd.randrange(0, size - 1)
        spans.append((a, min(size - 1, a + rnd.randrange(1, 2 * MiB))))
    conn = http.client.HTTPConnection("127.0.0.1", t.port, timeout=120)
    bad, nbytes = [], 0
    with open(src, "rb") as f:
        for s in spans:
            if s[0] == "suffix":
                first, last, hdr = size - s[1], size - 1, f"bytes=-{s[1]}"
            else:
                first, last = max(0, s[0]), min(size - 1, s[1])
                hdr = f"bytes={first}-{last}"
            r = t.get(conn, hdr)
            got = r.read()
            f.seek(first)
            want = f.read(last - first + 1)
            cr = r.getheader("Content-Range")
            if r.status != 206 or got != want or cr != f"bytes {first}-{last}/{size}":
                bad.append({"range": hdr, "status": r.status, "content_range": cr, "len": len(got)})
            nbytes += len(got)
    print(json.dumps({"ranges": len(spans), "bytes": nbytes, "bad": bad}))
    return 1 if bad else 0


def cmd_sample(out, *named_pids):
    """Samples VmRSS of name=pid every 100 ms until SIGTERM, then writes {name: [max VmRSS kB,
    VmHWM kB]} to out."""
    pids = dict(x.split("=") for x in named_pids)
    peak = {n: 0 for n in pids}
    stop = []
    signal.signal(signal.SIGTERM, lambda *_: stop.append(1))

    def status(pid, field):
        try:
            with open(f"/proc/{pid}/status") as f:
                for line in f:
                    if line.startswith(field + ":"):
                        return int(line.split()[1])
        except OSError:
            pass
        return 0

    while not stop:
        for n, p in pids.items():
            peak[n] = max(peak[n], status(p, "VmRSS"))
        time.sleep(0.1)
    with open(out, "w") as f:
        json.dump({n: [peak[n], status(p, "VmHWM")] for n, p in pids.items()}, f)
    return 0


if __name__ == "__main__":
    sys.exit(globals()["cmd_" + sys.argv[1].replace("-", "_")](*sys.argv[2:]) or 0)
EOF

cat >"$WORK/put.js" <<'EOF'
// PutObject of a file as a stream body with the SDK's defaults: over http it sends aws-chunked
// STREAMING-UNSIGNED-PAYLOAD-TRAILER with an x-amz-checksum-crc32 trailer.
const { S3Client, PutObjectCommand } = require("@aws-sdk/client-s3");
const fs = require("fs");
(async () => {
  const [endpoint, bucket, key, access, secret, file] = process.argv.slice(2);
  const s3 = new S3Client({ endpoint, region: "us-east-1", forcePathStyle: true,
                            credentials: { accessKeyId: access, secretAccessKey: secret } });
  let sent = null;
  s3.middlewareStack.add((next) => async (args) => { sent = { ...args.request.headers }; return next(args); },
                         { step: "deserialize", name: "recordHeaders" });
  const put = await s3.send(new PutObjectCommand({ Bucket: bucket, Key: key, Body: fs.createReadStream(file),
                                                   ContentLength: fs.statSync(file).size }));
  const h = Object.fromEntries(Object.entries(sent).map(([k, v]) => [k.toLowerCase(), v]));
  console.log(JSON.stringify({ etag: put.ETag, crc32: put.ChecksumCRC32,
                               content_sha256: h["x-amz-content-sha256"], content_encoding: h["content-encoding"],
                               trailer: h["x-amz-trailer"] }));
})().catch((e) => { console.error(e); process.exit(1); });
EOF

helper() { "$PY" "$WORK/helper.py" "$@"; }
jget() { "$PY" -c 'import json,sys; print(json.loads(sys.argv[1])[sys.argv[2]])' "$1" "$2"; }
now() { date +%s.%N; }
mibs() { "$PY" -c 'import sys; print("%.1f" % (int(sys.argv[1]) / 1048576 / float(sys.argv[2])))' "$1" "$2"; }
fsecs() { "$PY" -c 'import sys; print("%.1f" % (float(sys.argv[2]) - float(sys.argv[1])))' "$1" "$2"; }

# gen FILE SIZE KEYHEX: SIZE bytes of AES-128-CTR keystream (reproducible random data, ~1 GB/s+)
gen() {
    openssl enc -aes-128-ctr -nosalt -K "$3" -iv 00000000000000000000000000000000 </dev/zero 2>/dev/null |
        head -c "$2" >"$1"
    [ "$(stat -c %s "$1")" = "$2" ] || die "generating $1 failed (disk full?)"
}

# ---------------------------------------------------------------- cluster
log "starting the cluster on 127.0.0.1:$PORT (nodes $NODE_PORTS)"
"$REPO/tools/run-cluster.sh" --bin "$WORK/bin" --data "$WORK/data" --port "$PORT" --node-ports "$NODE_PORTS" \
    >"$WORK/cluster.out" 2>&1 &
CLUSTER_PID=$!
for _ in $(seq 1 300); do
    grep -q "Onggi is running" "$WORK/cluster.out" 2>/dev/null && break
    kill -0 "$CLUSTER_PID" 2>/dev/null || { cat "$WORK/cluster.out" >&2; die "the cluster did not start"; }
    sleep 0.2
done
grep -q "Onggi is running" "$WORK/cluster.out" || die "the cluster did not start within 60 s"
NODES=()
for i in 1 2 3; do
    p="$(pgrep -P "$CLUSTER_PID" -f "onggi-node .*--listen 127.0.0.1:$((PORT + i)) ")" || die "no node$i process"
    NODES+=("node$i=$p")
done

CURL_S3=(curl -sS --aws-sigv4 "aws:amz:us-east-1:s3" --user "$ACCESS:$SECRET" -H "x-amz-content-sha256: UNSIGNED-PAYLOAD")
for b in large swiftlarge; do
    code="$("${CURL_S3[@]}" -o /dev/null -w '%{http_code}' -X PUT "$EP/$b")"
    [ "$code" = 200 ] || die "create bucket $b: HTTP $code"
done
export ST_USER=dev:admin ST_KEY=devsecret

# ---------------------------------------------------------------- measurement
ROWS=()      # "phase|bytes|seconds|MiB/s|gw peak|gw HWM|node peak|check"
STORE_ROWS=() # "after|logical|unique|physical|du"

# pgw_start / pgw_stop: the phase gateway (see PPORT), its output appended to log/phase-gw.log.
pgw_start() {
    local i code
    "$WORK/bin/onggi-gateway" --ring "$RING" --listen "127.0.0.1:$PPORT" --domain localhost \
        >>"$WORK/data/log/phase-gw.log" 2>&1 &
    PGW_PID=$!
    for ((i = 0; i < 200; i++)); do
        kill -0 "$PGW_PID" 2>/dev/null || die "the phase gateway exited during start-up (data/log/phase-gw.log)"
        code="$(curl -s -o /dev/null -m 2 -w '%{http_code}' "$PEP/" 2>/dev/null)"
        [ -n "$code" ] && [ "$code" != 000 ] && return 0
        sleep 0.1
    done
    die "the phase gateway did not answer on $PEP within 20 s"
}
pgw_stop() { # returns the gateway's exit status (0 expected on SIGTERM)
    local rc
    kill -TERM "$PGW_PID"
    wait "$PGW_PID"
    rc=$?
    PGW_PID=""
    return $rc
}

# measure NAME BYTES CMD... : runs CMD against a fresh phase gateway with the RSS sampler on;
# CMD's stdout goes to $WORK/last.out. Appends a row; returns CMD's status.
measure() {
    local name="$1" bytes="$2" t0 t1 rc secs peaks
    shift 2
    pgw_start
    # started directly (not through the helper function) so that $! is the sampler itself
    "$PY" "$WORK/helper.py" sample "$WORK/rss.json" "gateway=$PGW_PID" "${NODES[@]}" &
    SAMPLER_PID=$!
    t0="$(now)"
    # in the background so that a SIGTERM to this script runs its trap at once, not after the phase
    "$@" >"$WORK/last.out" 2>"$WORK/last.err" &
    PHASE_PID=$!
    wait "$PHASE_PID"
    rc=$?
    PHASE_PID=""
    t1="$(now)"
    kill -TERM "$SAMPLER_PID" && wait "$SAMPLER_PID"
    SAMPLER_PID=""
    pgw_stop || fail "$name: the phase gateway did not exit 0 on SIGTERM"
    secs="$(fsecs "$t0" "$t1")"
    peaks="$("$PY" -c '
import json, sys
d = json.load(open(sys.argv[1]))
mb = lambda kb: "%.1f" % (kb / 1024)
print(mb(d["gateway"][0]), mb(d["gateway"][1]), mb(max(v[0] for k, v in d.items() if k.startswith("node"))),
      mb(max(v[1] for k, v in d.items() if k.startswith("node"))))' "$WORK/rss.json")"
    read -r gwp gwh ndp ndh <<<"$peaks"
    ROWS+=("$name|$bytes|$secs|$(mibs "$bytes" "$secs")|$gwp|$gwh|$ndp|$ndh|$([ $rc = 0 ] && echo ok || echo FAILED)")
    log "$name: ${secs}s, gateway peak ${gwp} MiB (VmHWM ${gwh}), rc $rc"
    [ $rc = 0 ] || { cat "$WORK/last.out" "$WORK/last.err" >&2; }
    return $rc
}

stored() {
    local out logical unique phys du
    out="$("${ADMIN[@]}" stats 2>&1)" || { echo "$out" >&2; die "onggi-admin stats failed"; }
    logical="$(sed -n 's/^total .*logical_bytes \([0-9]*\).*/\1/p' <<<"$out")"
    unique="$(sed -n 's/^total .*unique_bytes \([0-9]*\).*/\1/p' <<<"$out")"
    phys="$(sed -n 's/^physical chunk_bytes \([0-9]*\).*/\1/p' <<<"$out")"
    du="$(du -sb "$WORK"/data/node{1,2,3} | awk '{s += $1} END {printf "%d", s}')"
    STORE_ROWS+=("$1|$logical|$unique|$phys|$du")
    log "after $1: logical $logical unique $unique physical $phys (du $du)"
}

FAILED=0
fail() { FAILED=1; log "FAILED: $*"; }

# verify NAME KIND PATH WHO SECRET SRC SHA SIZE BOUNDARIES: full GET (measured) + Range GETs
verify() {
    local name="$1" kind="$2" path="$3" who="$4" sec="$5" src="$6" sha="$7" size="$8" bnd="$9"
    measure "GET $name (full, sha256)" "$size" helper get "$kind" "$PPORT" "$path" "$who" "$sec" "$sha" "$size" ||
        fail "GET $name: $(cat "$WORK/last.out")"
    helper ranges "$kind" "$PORT" "$path" "$who" "$sec" "$src" "$bnd" 1 >"$WORK/ranges.out" ||
        fail "ranges $name: $(cat "$WORK/ranges.out")"
    RANGE_ROWS+=("$name|$(jget "$(cat "$WORK/ranges.out")" ranges)|$(
        "$PY" -c 'import json,sys; d=json.load(open(sys.argv[1])); print(len(d["bad"]))' "$WORK/ranges.out")")
}
RANGE_ROWS=()

# ---------------------------------------------------------------- the 5 GiB source
SRC="$WORK/src.bin"
log "generating $SIZE random bytes"
gen "$SRC" "$SIZE" 0123456789abcdef0123456789abcdef
log "digests of the source"
DIG="$(helper digests "$SRC" "$PART" "$SEG")" || die "digests failed"
SHA="$(jget "$DIG" sha256)" MD5="$(jget "$DIG" md5)" CRC="$(jget "$DIG" crc32)"
MPU_ETAG="$(jget "$DIG" mpu_etag)" SLO_ETAG="$(jget "$DIG" slo_etag)"
log "sha256 $SHA md5 $MD5 crc32 $CRC multipart ETag $MPU_ETAG SLO ETag $SLO_ETAG"
CHECKS=()
check_eq() { # NAME GOT WANT
    if [ "$2" = "$3" ]; then CHECKS+=("$1: $2 (ok)"); else CHECKS+=("$1: got $2, want $3 (MISMATCH)"); fail "$1"; fi
}

# 1a. @aws-sdk/client-s3, stream body -> aws-chunked STREAMING-UNSIGNED-PAYLOAD-TRAILER + CRC32
measure "PUT 1a: JS SDK stream (aws-chunked UNSIGNED-TRAILER, CRC32)" "$SIZE" \
    env NODE_PATH="$REPO/tests/integration/js/node_modules" node "$WORK/put.js" "$PEP" large js "$ACCESS" "$SECRET" "$SRC" ||
    fail "PUT 1a"
OUT="$(cat "$WORK/last.out")"
log "1a: $OUT"
check_eq "1a x-amz-content-sha256 sent" "$(jget "$OUT" content_sha256 2>/dev/null)" STREAMING-UNSIGNED-PAYLOAD-TRAILER
check_eq "1a ETag" "$(jget "$OUT" etag 2>/dev/null)" "\"$MD5\""
check_eq "1a x-amz-checksum-crc32 returned" "$(jget "$OUT" crc32 2>/dev/null)" "$CRC"
stored "1a ($SIZE_H, new data)"
verify "1a" s3 /large/js "$ACCESS" "$SECRET" "$SRC" "$SHA" "$SIZE" ""

# 1b. STREAMING-AWS4-HMAC-SHA256-PAYLOAD, every 64 KiB chunk signed (Python)
measure "PUT 1b: signed aws-chunked (STREAMING-AWS4-HMAC-SHA256-PAYLOAD)" "$SIZE" \
    helper sigv4-put "$PPORT" /large/signed "$ACCESS" "$SECRET" "$SRC" || fail "PUT 1b"
OUT="$(cat "$WORK/last.out")"
check_eq "1b ETag" "$(jget "$OUT" etag 2>/dev/null)" "\"$MD5\""
stored "1b (same bytes again)"
verify "1b" s3 /large/signed "$ACCESS" "$SECRET" "$SRC" "$SHA" "$SIZE" ""

# 2. multipart: aws s3 cp, PART-byte parts, 8 in flight
cat >"$WORK/aws.cfg" <<EOF
[default]
s3 =
  max_concurrent_requests = 8
  multipart_threshold = $PART
  multipart_chunksize = $PART
EOF
AWS=(env AWS_ACCESS_KEY_ID="$ACCESS" AWS_SECRET_ACCESS_KEY="$SECRET" AWS_DEFAULT_REGION=us-east-1
    AWS_CONFIG_FILE="$WORK/aws.cfg" AWS_SHARED_CREDENTIALS_FILE=/dev/null AWS_PAGER= AWS_EC2_METADATA_DISABLED=true
    /usr/bin/aws)
NPARTS=$(((SIZE + PART - 1) / PART))
measure "PUT 2: aws s3 cp multipart ($NPARTS x $(human "$PART"), 8 parallel)" "$SIZE" \
    "${AWS[@]}" --endpoint-url "$PEP" s3 cp --no-progress "$SRC" s3://large/mpu || fail "PUT 2"
etag="$("${AWS[@]}" --endpoint-url "$EP" s3api head-object --bucket large --key mpu --query ETag --output text 2>/dev/null)"
check_eq "2 ETag (md5 of part md5s)" "$etag" "\"$MPU_ETAG\""
stored "2 (same bytes again)"
bnd="$("$PY" -c 'import sys; s,p=int(sys.argv[1]),int(sys.argv[2]); print(",".join(str(i*p) for i in range(1,(s+p-1)//p)))' "$SIZE" "$PART")"
verify "2" s3 /large/mpu "$ACCESS" "$SECRET" "$SRC" "$SHA" "$SIZE" "$bnd"

# 3. Swift SLO: segments of SEG bytes, uploaded in parallel by swiftclient
measure "PUT 3: swift upload -S $SEG --use-slo ($(((SIZE + SEG - 1) / SEG)) x $(human "$SEG"))" "$SIZE" \
    swift -A "$PEP/auth/v1.0" upload -S "$SEG" --use-slo --object-name slo swiftlarge "$SRC" || fail "PUT 3"
etag="$(swift -A "$EP/auth/v1.0" stat swiftlarge slo 2>/dev/null | sed -n 's/^ *ETag: *//p' | tr -d '"')"
check_eq "3 SLO ETag (md5 of segment md5s)" "$etag" "$SLO_ETAG"
stored "3 (same bytes again, plus the manifest)"
bnd="$("$PY" -c 'import sys; s,p=int(sys.argv[1]),int(sys.argv[2]); print(",".join(str(i*p) for i in range(1,(s+p-1)//p)))' "$SIZE" "$SEG")"
verify "3 (Swift)" swift swiftlarge/slo dev:admin devsecret "$SRC" "$SHA" "$SIZE" "$bnd"

# 4. the Foundation issue's figure: a single PUT of SIZE2 fresh bytes, curl, UNSIGNED-PAYLOAD
rm -f "$SRC"
SRC2="$WORK/src2.bin"
log "generating $SIZE2 other random bytes"
gen "$SRC2" "$SIZE2" fedcba9876543210fedcba9876543210
DIG2="$(helper digests "$SRC2" "$SIZE2" "$SIZE2")" || die "digests failed"
measure "PUT 4: curl -T, UNSIGNED-PAYLOAD, $SIZE2_H new data" "$SIZE2" \
    "${CURL_S3[@]}" -f -o /dev/null -T "$SRC2" "$PEP/large/curl" || fail "PUT 4"
stored "4 ($SIZE2_H new data)"
verify "4" s3 /large/curl "$ACCESS" "$SECRET" "$SRC2" "$(jget "$DIG2" sha256)" "$SIZE2" ""

# ---------------------------------------------------------------- report
echo
echo "## large-check: object $SIZE bytes, multipart $NPARTS x $PART, SLO segments $SEG ($(date -u +%FT%TZ))"
echo
echo "| step | bytes | seconds | MiB/s | gateway peak RSS MiB (100 ms samples) | gateway VmHWM MiB (fresh gateway) | node peak RSS MiB (max of 3) | node VmHWM MiB | result |"
echo "|---|---|---|---|---|---|---|---|---|"
for r in "${ROWS[@]}"; do echo "| ${r//|/ | } |"; done
echo
echo "| after upload | logical bytes | unique bytes (one replica) | physical chunk bytes (all replicas) | du of node dirs |"
echo "|---|---|---|---|---|"
for r in "${STORE_ROWS[@]}"; do echo "| ${r//|/ | } |"; done
echo
echo "| object | Range GETs | mismatches |"
echo "|---|---|---|"
for r in "${RANGE_ROWS[@]}"; do echo "| ${r//|/ | } |"; done
echo
for c in "${CHECKS[@]}"; do echo "- $c"; done
echo
if [ "$FAILED" = 0 ]; then echo "large-check: all checks passed"; else echo "large-check: SOME CHECKS FAILED"; fi
exit "$FAILED"
