#!/usr/bin/env bash
# The dedup benchmark of the Deduplication issue: 10 "nights" of a backup-like data set, each
# night's tar uploaded through S3 as one object, reporting stored bytes side by side with
# (a) fixed 1 MiB blocks computed offline on the same tars and (b) restic (compression off)
# backing up the same trees.
#
#   tools/dedup-bench.sh [--bin build/release/bin] [--src /usr/share/doc] [--nights 10]
#                        [--work /tmp/onggi-dedup-bench] [--port 9500] [--node-ports 7501,7502,7503]
#
# Between nights about 1 % of the files change (seeded, so runs are comparable): in turn a line
# inserted mid-file, 4 KiB rewritten in place, the whole file replaced, the file deleted, a new
# file added. Starts its own cluster (tools/run-cluster.sh) and stops it at the end; only
# 127.0.0.1. Prints a Markdown table (also written to WORK/result.md).
set -euo pipefail

BIN=build/release/bin SRC=/usr/share/doc NIGHTS=10 WORK=/tmp/onggi-dedup-bench PORT=9500 NODE_PORTS=7501,7502,7503
while [ $# -gt 0 ]; do
    case "$1" in
    --bin) BIN=$2; shift 2 ;;
    --src) SRC=$2; shift 2 ;;
    --nights) NIGHTS=$2; shift 2 ;;
    --work) WORK=$2; shift 2 ;;
    --port) PORT=$2; shift 2 ;;
    --node-ports) NODE_PORTS=$2; shift 2 ;;
    *) echo "usage: $0 [--bin DIR] [--src DIR] [--nights N] [--work DIR] [--port P] [--node-ports A,B,C]" >&2; exit 2 ;;
    esac
done
PY=/usr/bin/python3
command -v restic >/dev/null || { echo "dedup-bench: restic not installed (make deps)" >&2; exit 1; }
BIN="$(cd "$BIN" && pwd)"
rm -rf "$WORK"
mkdir -p "$WORK"
WORK="$(cd "$WORK" && pwd)"
cp -a "$SRC" "$WORK/tree"
export RESTIC_PASSWORD=bench RESTIC_REPOSITORY="$WORK/restic"
restic init -q --repository-version 2 >/dev/null

tools/run-cluster.sh --bin "$BIN" --data "$WORK/cluster" --port "$PORT" --node-ports "$NODE_PORTS" \
    >"$WORK/cluster.log" 2>&1 &
CLUSTER_PID=$!
trap 'kill -TERM $CLUSTER_PID 2>/dev/null; wait $CLUSTER_PID 2>/dev/null || true' EXIT
for _ in $(seq 1 100); do
    grep -q "Onggi is running" "$WORK/cluster.log" 2>/dev/null && break
    kill -0 $CLUSTER_PID 2>/dev/null || { cat "$WORK/cluster.log" >&2; exit 1; }
    sleep 0.2
done
ADMIN=("$BIN/onggi-admin" --ring "$WORK/cluster/ring.bin")

"$PY" - "$WORK" "$NIGHTS" "$PORT" "${ADMIN[@]}" <<'EOF'
import hashlib, os, random, subprocess, sys, time
import boto3
from botocore.config import Config

work, nights, port, admin = sys.argv[1], int(sys.argv[2]), sys.argv[3], sys.argv[4:]
tree = os.path.join(work, "tree")
s3 = boto3.client("s3", endpoint_url=f"http://127.0.0.1:{port}", aws_access_key_id="devaccess",
                  aws_secret_access_key="devsecret", region_name="us-east-1",
                  config=Config(s3={"addressing_style": "path"}, read_timeout=600))
s3.create_bucket(Bucket="backup")
rnd = random.Random(20240501)
fixed = {}        # sha256 of 1 MiB block -> length
logical = 0

def files():
    out = []
    for d, _, fs in os.walk(tree):
        for f in fs:
            p = os.path.join(d, f)
            if os.path.isfile(p) and not os.path.islink(p):
                out.append(p)
    return sorted(out)

def mutate(night):
    fs = files()
    n = max(1, len(fs) // 100)
    for i, p in enumerate(rnd.sample(fs, n)):
        kind = i % 5
        data = open(p, "rb").read()
        if kind == 0:    # a line inserted mid-file
            at = len(data) // 2
            data = data[:at] + f"night {night}: inserted line {i}\n".encode() + data[at:]
        elif kind == 1:  # 4 KiB rewritten in place
            at = rnd.randrange(max(1, len(data) - 4096)) if len(data) > 4096 else 0
            data = data[:at] + rnd.randbytes(min(4096, len(data))) + data[at + 4096:]
        elif kind == 2:  # the whole file replaced by new bytes
            data = rnd.randbytes(max(len(data), 100))
        elif kind == 3:  # deleted
            os.unlink(p)
            continue
        else:            # a new file next to it
            p = p + f".new{night}"
            data = rnd.randbytes(rnd.randint(100, 200000))
        with open(p, "wb") as f:
            f.write(data)
    return n

def stats():
    out = subprocess.run(admin + ["stats"], capture_output=True, text=True, check=True).stdout
    vals = {}
    for line in out.splitlines():
        w = line.split()
        if w and w[0] in ("total", "physical"):
            vals.update(dict(zip(w[1::2], w[2::2])))
    return vals

def du(path):
    return sum(os.path.getsize(os.path.join(d, f)) for d, _, fs in os.walk(path) for f in fs)

rows = []
put_s = 0.0
first = None
for night in range(1, nights + 1):
    changed = mutate(night) if night > 1 else 0
    tar = os.path.join(work, f"night{night}.tar")
    subprocess.run(["tar", "--sort=name", "-cf", tar, "-C", work, "tree"], check=True)
    size = os.path.getsize(tar)
    logical += size
    first = first or size
    with open(tar, "rb") as f:
        while True:
            b = f.read(1 << 20)
            if not b:
                break
            fixed[hashlib.sha256(b).digest()] = len(b)
    t = time.monotonic()
    with open(tar, "rb") as f:
        s3.put_object(Bucket="backup", Key=f"night{night}.tar", Body=f)
    put_s += time.monotonic() - t
    subprocess.run(["restic", "backup", "-q", "--compression", "off", tree], check=True,
                   stdout=subprocess.DEVNULL)
    st = stats()
    onggi = int(st["unique_bytes"])
    rows.append((night, changed, size, logical, onggi, sum(fixed.values()), du(os.environ["RESTIC_REPOSITORY"]),
                 int(st["chunk_bytes"]), int(st["replicas"])))
    os.unlink(tar)

out = ["| night | files changed | tar bytes | logical (sum) | Onggi stored | fixed 1 MiB | restic repo | Onggi / 1 night | Onggi / restic | Onggi / fixed |",
       "|---|---|---|---|---|---|---|---|---|---|"]
for n, ch, sz, lg, on, fx, rs, phys, r in rows:
    out.append(f"| {n} | {ch} | {sz} | {lg} | {on} | {fx} | {rs} | {on / first:.2f} | {on / rs:.2f} | {on / fx:.2f} |")
n, ch, sz, lg, on, fx, rs, phys, r = rows[-1]
out.append("")
out.append(f"After {nights} nights: Onggi stores {on} unique bytes ({phys} physical = x{phys / max(on, 1):.2f} "
           f"replicas incl. inline), {on / first:.2f} x one night (target <= 2), {on / rs:.2f} x restic "
           f"(target <= 1.5), {on / fx:.2f} x fixed 1 MiB blocks (target well under 0.5). "
           f"Upload: {logical / put_s / 1e6:.0f} MB/s average single-stream PUT.")
text = "\n".join(out)
print(text)
open(os.path.join(work, "result.md"), "w").write(text + "\n")
EOF
