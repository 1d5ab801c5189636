#!/usr/bin/env bash
# tools/bench.sh (run by `make bench` after the release build): starts a fresh Onggi cluster in
# a temporary directory, and with BENCH_VS the peers named there too (OpenStack Swift, Ceph RGW),
# runs the standard workloads with onggi-bench (each workload alternating Onggi and every peer,
# same client, same SigV4 UNSIGNED-PAYLOAD signing), measures every system's CPU, writes and
# memory and the machine's own limits, and prints one table: workload x metric x {Onggi, each
# peer, Onggi / peer}, then the machine's limits.
#
# Environment:
#   BENCH_VS=swift,rgw    comma list of peers to benchmark too: swift = the OpenStack Swift anchor
#                         (../shared/anchors/swift, or SWIFT_ANCHOR), rgw = the Ceph RGW anchor
#                         (../shared/anchors/ceph-rgw, or RGW_ANCHOR; needs the ceph packages)
#   BENCH_JSON=PATH       write the table as a JSON list of {workload, metric, onggi, <peer>...,
#                         ratio_<peer>...}; a swift-only run also writes the old key ratio
#   BENCH_QUICK=1         tiny counts and 3 s phases: checks the script, numbers mean nothing
#   BENCH_BIN=DIR         binaries (default build/release/bin)
#   BENCH_DIR=DIR         work directory (default: a new mktemp dir, removed at the end)
#   BENCH_KEEP=1          keep the work directory (data, logs, per-run JSON)
#   BENCH_PORT=29400      gateway port; nodes use BENCH_PORT+1..+3; Swift uses 28080, 28200-28202
#                         and 28211; RGW uses 28480 and its monitor 28300-28301 (all below the
#                         ephemeral range, so test clients cannot take them; the OSDs pick free
#                         ports from Ceph's 6800-7300)
# Every phase is bounded by a count and a duration (well under a minute) and by `timeout`.
set -uo pipefail

ROOT="$(cd "$(dirname "$0")/.." && pwd)"
BIN="${BENCH_BIN:-$ROOT/build/release/bin}"
BENCH="$BIN/onggi-bench"
PY=/usr/bin/python3
SWIFT_ANCHOR="${SWIFT_ANCHOR:-$ROOT/../shared/anchors/swift/swift-anchor.sh}"
RGW_ANCHOR="${RGW_ANCHOR:-$ROOT/../shared/anchors/ceph-rgw/rgw-anchor.sh}"
PORT="${BENCH_PORT:-29400}"
NODE_PORTS="$((PORT + 1)),$((PORT + 2)),$((PORT + 3))"
ACCESS=benchaccess
SECRET=benchsecret

die() { echo "bench: $*" >&2; exit 1; }
log() { echo "bench: $*" >&2; }

# ---- peers: one function per kind, ACTION = check | start | stop | creds | pids ------------
# creds prints "endpoint access-key secret-key"; pids prints the PIDs of all its server
# processes (CPU, writes and memory are summed over them).

# peer_swift ACTION: the OpenStack Swift anchor (Swift 2.30 with s3api), in WORK/swift.
peer_swift() {
    case "$1" in
    check) [ -x "$SWIFT_ANCHOR" ] || die "Swift anchor not found at $SWIFT_ANCHOR (set SWIFT_ANCHOR)" ;;
    start)
        SWIFT_ANCHOR_PROXY_PORT=28080 SWIFT_ANCHOR_OBJECT_PORT=28200 SWIFT_ANCHOR_CONTAINER_PORT=28201 \
            SWIFT_ANCHOR_ACCOUNT_PORT=28202 SWIFT_ANCHOR_MEMCACHED_PORT=28211 "$SWIFT_ANCHOR" start "$WORK/swift" ;;
    stop) "$SWIFT_ANCHOR" stop "$WORK/swift" ;;
    creds) echo "http://127.0.0.1:28080 test:tester testing" ;;
    # The servers fork their workers: the recorded PIDs and all their descendants.
    pids) cat "$WORK"/swift/run/*.pid 2>/dev/null | with_children ;;
    esac
}

# peer_rgw ACTION: the Ceph RGW anchor (Ceph 16: mon, 3 BlueStore OSDs, radosgw), in WORK/rgw.
# No mgr: RGW does not need it and it would cost ~300 MiB and some CPU.
peer_rgw() {
    case "$1" in
    check)
        [ -x "$RGW_ANCHOR" ] || die "RGW anchor not found at $RGW_ANCHOR (set RGW_ANCHOR)"
        # Debian's Ceph packages, installed on first use like the Swift anchor's
        command -v radosgw >/dev/null && command -v ceph-osd >/dev/null ||
            DEBIAN_FRONTEND=noninteractive apt-get install -y ceph-mon ceph-mgr ceph-osd radosgw ceph-common >&2 ||
            die "BENCH_VS=rgw needs: apt-get install -y ceph-mon ceph-mgr ceph-osd radosgw ceph-common" ;;
    start)
        # The anchor does not check its ports: a taken one would only show as a 60 s timeout.
        for port in 28480 28300 28301; do
            ss -Hltn "sport = :$port" | grep -q . && { echo "port 127.0.0.1:$port is in use"; return 1; }
        done
        RGW_PORT=28480 MON_V2_PORT=28300 MON_V1_PORT=28301 WITH_MGR=0 "$RGW_ANCHOR" start "$WORK/rgw" ;;
    stop) "$RGW_ANCHOR" stop "$WORK/rgw" ;;
    creds) ( eval "$("$RGW_ANCHOR" env "$WORK/rgw")" && echo "$RGW_ENDPOINT $MAIN_AK $MAIN_SK" ) ;;
    pids) cat "$WORK"/rgw/pids/*.pid 2>/dev/null ;;
    esac
}

# with_children < PIDS: those PIDs and all their descendants.
with_children() {
    local roots
    roots=$(tr '\n' ' ')
    ps -e -o pid=,ppid= | awk -v roots="$roots" '
        BEGIN { n = split(roots, r, " "); for (i = 1; i <= n; i++) keep[r[i]] = 1 }
        { parent[$1] = $2 }
        END { do { more = 0; for (p in parent) if (!(p in keep) && (parent[p] in keep)) { keep[p] = 1; more = 1 } }
              while (more)
              for (p in keep) print p }'
}

PEERS=()
IFS=, read -r -a vs_list <<<"${BENCH_VS:-}"
for p in "${vs_list[@]}"; do
    case "$p" in
    swift | rgw) [[ " ${PEERS[*]} " == *" $p "* ]] || PEERS+=("$p") ;;
    *) die "BENCH_VS is a comma list of peers from {swift, rgw} (got '$p')" ;;
    esac
done
[ -x "$BENCH" ] || die "$BENCH not found (run: make BUILD=release all)"
for p in "${PEERS[@]}"; do "peer_$p" check; done

if [ -n "${BENCH_DIR:-}" ]; then
    WORK="$BENCH_DIR"
    mkdir -p "$WORK" || die "cannot create $WORK"
    WORK="$(cd "$WORK" && pwd)"
    OWN_WORK=0
else
    WORK="$(mktemp -d "${TMPDIR:-/tmp}/onggi-bench.XXXXXX")" || die "mktemp failed"
    OWN_WORK=1
fi
RES="$WORK/results"
EXTRA="$RES/resources.tsv"
mkdir -p "$RES"
: >"$EXTRA"

CLUSTER_PID=""
RSS_SAMPLER=""
STARTED_PEERS=()
GW_PID=""
NODE_PIDS=()

cleanup() {
    local rc=$? pid i p
    trap - EXIT INT TERM
    [ -n "$RSS_SAMPLER" ] && kill "$RSS_SAMPLER" 2>/dev/null
    if [ -n "$CLUSTER_PID" ] && kill -0 "$CLUSTER_PID" 2>/dev/null; then
        log "stopping the Onggi cluster"
        kill -TERM "$CLUSTER_PID" 2>/dev/null
        for ((i = 0; i < 250; i++)); do kill -0 "$CLUSTER_PID" 2>/dev/null || break; sleep 0.1; done
        # run-cluster.sh stops its children itself; only if it hung do we kill them by PID.
        if kill -0 "$CLUSTER_PID" 2>/dev/null; then
            for pid in "$CLUSTER_PID" $GW_PID "${NODE_PIDS[@]}"; do kill -KILL "$pid" 2>/dev/null; done
        fi
        wait "$CLUSTER_PID" 2>/dev/null
    fi
    for p in "${STARTED_PEERS[@]}"; do
        log "stopping the $p anchor"
        "peer_$p" stop >/dev/null 2>&1
    done
    if [ "$OWN_WORK" = 1 ] && [ "${BENCH_KEEP:-0}" != 1 ]; then
        rm -rf "$WORK"
    else
        log "work directory kept: $WORK"
    fi
    exit "$rc"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

if [ "${BENCH_QUICK:-0}" = 1 ]; then
    D_SMALL=3 D_LARGE=5 N_SMALL=500 N_1M=50 N_256M=2 N_MIXED=200 N_LIST=3000 N_LIST_VS=1000
    SIZE_LARGE=32MiB
else
    D_SMALL=20 D_LARGE=30 N_SMALL=20000 N_1M=2000 N_256M=8 N_MIXED=5000 N_LIST=100000 N_LIST_VS=5000
    SIZE_LARGE=256MiB
fi
D_LIST_CREATE=45

# ---- Onggi cluster -------------------------------------------------------------------------
LOAD_START=$(cut -d' ' -f1-3 /proc/loadavg)
# A nearly full ext4 writes much slower (block allocation searches; measured 2026-12-06: 256 MiB
# PUTs at 95 vs 139-147 MiB/s with the disk at 94 % and at 19 %), so the table says how full it was.
DISK_START=$(df -P "$WORK" | awk 'NR == 2 { printf "%d %% used, %.1f GiB free", $5 + 0, $4 / 1048576 }')
log "work directory $WORK ($DISK_START)"
case "$DISK_START" in
9[0-9]\ %* | 100\ %*) log "WARNING: the work directory's file system is nearly full: writes will be slow" ;;
esac
log "starting Onggi (gateway 127.0.0.1:$PORT, nodes $NODE_PORTS)"
ONGGI_ACCESS_KEY=$ACCESS ONGGI_SECRET_KEY=$SECRET "$ROOT/tools/run-cluster.sh" --bin "$BIN" \
    --data "$WORK/onggi" --port "$PORT" --node-ports "$NODE_PORTS" >"$WORK/cluster.log" 2>&1 &
CLUSTER_PID=$!
# The cluster prints "Onggi is running" once the gateway answers and the user exists.
for ((i = 0; i < 600; i++)); do
    grep -q "Onggi is running" "$WORK/cluster.log" 2>/dev/null && break
    kill -0 "$CLUSTER_PID" 2>/dev/null || { cat "$WORK/cluster.log" >&2; die "cluster failed to start"; }
    sleep 0.1
done
grep -q "Onggi is running" "$WORK/cluster.log" || die "cluster did not start within 60 s (see $WORK/cluster.log)"
while read -r pid args; do
    case "$args" in
    *onggi-gateway*) GW_PID=$pid ;;
    *onggi-node*) NODE_PIDS+=("$pid") ;;
    esac
done < <(ps -o pid=,args= --ppid "$CLUSTER_PID")
[ -n "$GW_PID" ] && [ "${#NODE_PIDS[@]}" -eq 3 ] || die "cannot find the gateway and 3 node processes"
ONGGI_PIDS=("$GW_PID" "${NODE_PIDS[@]}")

# ---- peers ---------------------------------------------------------------------------------
declare -A EP AK SK
EP[onggi]="http://127.0.0.1:$PORT" AK[onggi]=$ACCESS SK[onggi]=$SECRET
for p in "${PEERS[@]}"; do
    log "starting the $p anchor (a first Swift start apt-installs it; RGW builds its cluster, ~1 min)"
    STARTED_PEERS+=("$p")
    "peer_$p" start >"$WORK/$p-start.log" 2>&1 || { tail -n 20 "$WORK/$p-start.log" >&2; die "$p anchor failed to start"; }
    read -r EP[$p] AK[$p] SK[$p] < <("peer_$p" creds)
    [ -n "${SK[$p]}" ] || die "no credentials from the $p anchor"
done
TARGETS=(onggi "${PEERS[@]}")

# ---- helpers -------------------------------------------------------------------------------
# bench TARGET NAME ARGS...: one onggi-bench run, JSON into RES/NAME.TARGET.json.
bench() {
    local target="$1" name="$2"
    shift 2
    local out="$RES/$name.$target.json"
    timeout 150 "$BENCH" --endpoint "${EP[$target]}" --access-key "${AK[$target]}" --secret-key "${SK[$target]}" \
        --json "$@" >"$out" 2>"$RES/$name.$target.log"
    local rc=$?
    if [ ! -s "$out" ]; then
        log "$name on $target produced no result (rc $rc): $(tail -n 3 "$RES/$name.$target.log")"
        rm -f "$out"
        return 1
    fi
    "$PY" - "$out" "$name" "$target" <<'PYEOF' >&2
import json, sys
d = json.load(open(sys.argv[1]))
t = d["total"]
extra = f", {t['keys_per_s']:.0f} keys/s" if d["workload"] == "list" else ""
print(f"bench: {sys.argv[2]:<12} {sys.argv[3]:<5} {t['ops']:>7} ops {t['ops_per_s']:>9.1f} ops/s "
      f"{t['mib_per_s']:>8.1f} MiB/s p99 {t['lat_ms']['p99']:>8.2f} ms errors {t['errors']}{extra}")
PYEOF
}

# ops NAME TARGET: successful ops of a finished run (0 if it failed).
ops() {
    [ -s "$RES/$1.$2.json" ] || { echo 0; return; }
    "$PY" -c 'import json,sys; print(json.load(open(sys.argv[1]))["total"]["ops"])' "$RES/$1.$2.json"
}

# target_pids TARGET: the system's server processes; writer_pids TARGET: those that store its
# data (Onggi: the nodes, not the gateway; a peer: all of them).
target_pids() { if [ "$1" = onggi ]; then echo "${ONGGI_PIDS[*]}"; else "peer_$1" pids; fi; }
writer_pids() { if [ "$1" = onggi ]; then echo "${NODE_PIDS[*]}"; else "peer_$1" pids; fi; }

# cpu_ticks PID...: utime+stime of the processes, in clock ticks.
cpu_ticks() {
    local pid sum=0 st f
    for pid in "$@"; do
        st=$(cat "/proc/$pid/stat" 2>/dev/null) || continue
        # Fields 14 and 15 (utime, stime), counted after the "(comm)" field, which may hold spaces.
        read -r -a f <<<"${st##*) }"
        sum=$((sum + f[11] + f[12]))
    done
    echo "$sum"
}
# write_bytes PID...: bytes the processes caused to be written to storage.
write_bytes() {
    local pid sum=0 v
    for pid in "$@"; do
        v=$(sed -n 's/^write_bytes: //p' "/proc/$pid/io" 2>/dev/null)
        sum=$((sum + ${v:-0}))
    done
    echo "$sum"
}
declare -A CPU_PUT CPU_GET WB_PUT BYTES_PUT BYTES_GET
for t in "${TARGETS[@]}"; do CPU_PUT[$t]=0 CPU_GET[$t]=0 WB_PUT[$t]=0 BYTES_PUT[$t]=0 BYTES_GET[$t]=0; done

# measured TARGET NAME KIND ARGS...: a run whose CPU (and, for KIND=put, storage writes) count
# toward the target's per-GiB figures.
measured() {
    local target="$1" name="$2" kind="$3" c0 w0 b
    shift 3
    local pids writers
    read -r -a pids <<<"$(target_pids "$target" | tr '\n' ' ')"
    read -r -a writers <<<"$(writer_pids "$target" | tr '\n' ' ')"
    c0=$(cpu_ticks "${pids[@]}")
    w0=$(write_bytes "${writers[@]}")
    # A run without a result adds nothing: its CPU and writes would count against no bytes.
    bench "$target" "$name" "$@" || return 1
    # Replicas beyond the quorum may still be landing: wait (up to 10 s) until writes settle.
    local prev=-1 cur i
    for ((i = 0; i < 20; i++)); do
        cur=$(write_bytes "${writers[@]}")
        [ "$cur" = "$prev" ] && break
        prev=$cur
        sleep 0.5
    done
    local dc=$(($(cpu_ticks "${pids[@]}") - c0)) dw=$(($(write_bytes "${writers[@]}") - w0))
    b=$("$PY" -c 'import json,sys; print(json.load(open(sys.argv[1]))["total"]["bytes"])' "$RES/$name.$target.json" \
        2>/dev/null || echo 0)
    if [ "$kind" = put ]; then
        CPU_PUT[$target]=$((CPU_PUT[$target] + dc)) WB_PUT[$target]=$((WB_PUT[$target] + dw))
        BYTES_PUT[$target]=$((BYTES_PUT[$target] + b))
    else
        CPU_GET[$target]=$((CPU_GET[$target] + dc)) BYTES_GET[$target]=$((BYTES_GET[$target] + b))
    fi
}

# ---- 1. 4 KiB objects, 64 connections: PUT, GET, DELETE ------------------------------------
for t in "${TARGETS[@]}"; do
    bench "$t" put4k --workload put --bucket bench-4k --size 4KiB --conns 64 --count $N_SMALL --duration $D_SMALL
done
for t in "${TARGETS[@]}"; do
    n=$(ops put4k "$t")
    [ "$n" -gt 0 ] && bench "$t" get4k --workload get --bucket bench-4k --size 4KiB --conns 64 --objects "$n" \
        --count $((N_SMALL * 4)) --duration $D_SMALL --verify
done
# The latency target (p99 GET <= 5 ms) is stated at 16 connections: 64 connections on two cores
# measure queueing more than service time.
for t in "${TARGETS[@]}"; do
    n=$(ops put4k "$t")
    [ "$n" -gt 0 ] && bench "$t" get4k16 --workload get --bucket bench-4k --size 4KiB --conns 16 --objects "$n" \
        --count $((N_SMALL * 4)) --duration $D_SMALL --verify
done
for t in "${TARGETS[@]}"; do
    n=$(ops put4k "$t")
    [ "$n" -gt 0 ] && bench "$t" del4k --workload delete --bucket bench-4k --conns 64 --objects "$n" --count "$n" \
        --duration $D_SMALL
done

# ---- 2. 1 MiB objects, 16 connections: PUT, GET --------------------------------------------
for t in "${TARGETS[@]}"; do
    measured "$t" put1m put --workload put --bucket bench-1m --size 1MiB --conns 16 --count $N_1M --duration $D_SMALL
done
for t in "${TARGETS[@]}"; do
    n=$(ops put1m "$t")
    [ "$n" -gt 0 ] && measured "$t" get1m get --workload get --bucket bench-1m --size 1MiB --conns 16 --objects "$n" \
        --count $((N_1M * 2)) --duration $D_SMALL --verify
done

# ---- 3. large objects (256 MiB), 4 connections: PUT, GET -----------------------------------
# The gateway's VmHWM covers the whole run (the small-object phases' 128 worker threads and
# connection buffers may set it), so its RSS during this workload is sampled on its own.
rss_sample_start() {
    ( peak=0
      while kill -0 "$GW_PID" 2>/dev/null; do
          kb=$(sed -n 's/^VmRSS:[[:space:]]*\([0-9]*\) kB/\1/p' "/proc/$GW_PID/status" 2>/dev/null)
          [ -n "$kb" ] && [ "$kb" -gt "$peak" ] && { peak=$kb; echo "$peak" >"$RES/rss-w3.kb"; }
          sleep 0.05
      done ) &
    RSS_SAMPLER=$!
}
rss_sample_stop() { [ -n "$RSS_SAMPLER" ] && kill "$RSS_SAMPLER" 2>/dev/null; wait "$RSS_SAMPLER" 2>/dev/null; RSS_SAMPLER=""; }
echo 0 >"$RES/rss-w3.kb"
rss_sample_start
for t in "${TARGETS[@]}"; do
    measured "$t" putbig put --workload put --bucket bench-big --size $SIZE_LARGE --conns 4 --count $N_256M \
        --duration $D_LARGE
done
# Each system's large GET starts from the same state: every system's dirty data written out (a
# peer's writeback would otherwise slow the next system's phase) and the page cache dropped, so
# the first pass reads from the disk for every system (Onggi writes large objects past the page
# cache, Swift through it: without the drop Swift's GET read from memory and Onggi's from the
# disk); the second pass reads the same objects again: a hot object, from memory where the system
# keeps it there (the page cache for Onggi and Swift, BlueStore's own cache for RGW).
drop_caches() {
    sync
    if echo 3 2>/dev/null >/proc/sys/vm/drop_caches; then CACHES_DROPPED=yes; else CACHES_DROPPED="no (not root)"; fi
}
CACHES_DROPPED=no
for t in "${TARGETS[@]}"; do
    n=$(ops putbig "$t")
    [ "$n" -gt 0 ] || continue
    drop_caches
    measured "$t" getbig get --workload get --bucket bench-big --size $SIZE_LARGE --conns 4 \
        --objects "$n" --count $N_256M --duration $D_LARGE --verify
    measured "$t" getbighot get --workload get --bucket bench-big --size $SIZE_LARGE --conns 4 \
        --objects "$n" --count $N_256M --duration $D_LARGE --verify
done
rss_sample_stop

# ---- 4. mixed 64 KiB, 32 connections (45% GET, 30% PUT, 15% HEAD, 10% DELETE) --------------
for t in "${TARGETS[@]}"; do
    bench "$t" mixfill --workload put --bucket bench-mixed --size 64KiB --conns 32 --count $N_MIXED --duration $D_SMALL
    n=$(ops mixfill "$t")
    [ "$n" -gt 0 ] && bench "$t" mixed --workload mixed --bucket bench-mixed --size 64KiB --conns 32 --objects "$n" \
        --duration $D_SMALL
done

# ---- 5. LIST: N keys in one bucket, delimiter "/", pages of 1000 ---------------------------
# Swift creates ~150 objects/s here and RGW a few hundred, so 100,000 keys would take 5 to 11
# minutes: the side-by-side listing uses N_LIST_VS keys for all, and Onggi alone also lists
# N_LIST keys.
list_phase() { # list_phase NAME KEYS TARGET...
    local name="$1" keys="$2" t
    shift 2
    for t in "$@"; do
        bench "$t" "${name}fill" --workload put --bucket "bench-$name" --size 0 --conns 64 --count "$keys" \
            --duration $D_LIST_CREATE
        bench "$t" "$name" --workload list --bucket "bench-$name" --conns 1 --duration $D_SMALL
    done
}
[ ${#PEERS[@]} -gt 0 ] && list_phase listvs $N_LIST_VS "${TARGETS[@]}"
list_phase list $N_LIST onggi

# ---- resources of every system, and the machine's limits -----------------------------------
# RES/resources.tsv: workload, metric, target, value; RES/machine.tsv: metric, value.
TICK=$(getconf CLK_TCK)
MACHINE="$RES/machine.tsv"
: >"$MACHINE"
hwm_kb() { sed -n 's/^VmHWM:[[:space:]]*\([0-9]*\) kB/\1/p' "/proc/$1/status" 2>/dev/null; }
for i in 0 1 2 3; do
    pid=${ONGGI_PIDS[$i]}
    name=$([ "$i" = 0 ] && echo gateway || echo "node$i")
    printf 'resources\tpeak RSS %s (MiB)\tonggi\t%s\n' "$name" "$(awk -v k="$(hwm_kb "$pid")" 'BEGIN{printf "%.1f", k/1024}')" >>"$EXTRA"
done
# Budget from the issue: 64 MiB + connections x 2 x chunk size (the 128 KiB maximum chunk).
awk -v k="$(cat "$RES/rss-w3.kb")" 'BEGIN{ printf "resources\tpeak RSS gateway during workload 3, sampled (MiB)\tonggi\t%.1f\n", k/1024
    printf "resources\tbudget for workload 3: 64 MiB + 4 conns x 2 x 128 KiB (MiB)\tonggi\t%.1f\n", 64 + 4 * 2 * 128 / 1024 }' >>"$EXTRA"
for t in "${TARGETS[@]}"; do
    kb=0
    for pid in $(target_pids "$t"); do kb=$((kb + $(hwm_kb "$pid" || echo 0))); done
    awk -v t="$t" -v k="$kb" -v c="${CPU_PUT[$t]}" -v g="${CPU_GET[$t]}" -v tk="$TICK" -v bp="${BYTES_PUT[$t]}" \
        -v bg="${BYTES_GET[$t]}" -v w="${WB_PUT[$t]}" 'BEGIN{
        printf "resources\tpeak RSS, sum over all server processes (MiB)\t%s\t%.1f\n", t, k/1024
        if (bp > 0) printf "resources\tCPU s per GiB written (1 MiB + large PUT)\t%s\t%.2f\n", t, c/tk/(bp/1073741824)
        if (bg > 0) printf "resources\tCPU s per GiB read (1 MiB + large GET)\t%s\t%.2f\n", t, g/tk/(bg/1073741824)
        if (bp > 0) printf "resources\twrite amplification (storage write_bytes / logical; 3 = replicas only)\t%s\t%.2f\n", t, w/bp }' >>"$EXTRA"
done

log "measuring the disk (dd 1 GiB, fdatasync) and hashing speed"
# dd_mibs DD-ARGS...: the MiB/s of one dd run (from its summary line: bytes ... seconds s, ...).
dd_mibs() {
    LC_ALL=C dd "$@" 2>&1 | tail -n 1 | awk '{ for (i = 1; i <= NF; i++) if ($i ~ /^s,?$/ || $i == "s,") { secs = $(i-1) } }
        END { if (secs > 0) printf "%.1f", $1 / secs / 1048576 }'
}
DD_MIBS=$(dd_mibs if=/dev/zero of="$WORK/onggi/dd.test" bs=1M count=1024 conv=fdatasync)
# The large GET from disk reads one copy of each chunk: its limit is the disk's read rate.
DD_READ_MIBS=$(dd_mibs if="$WORK/onggi/dd.test" of=/dev/null bs=1M iflag=direct)
rm -f "$WORK/onggi/dd.test"
HASH_MIBS=$("$BENCH" --selftest-hash --json | "$PY" -c 'import json,sys; print(json.load(sys.stdin)["md5_sha256_mib_per_s"])')
CORES=$(nproc)
{
    printf 'sequential write, dd fdatasync (MiB/s)\t%s\n' "${DD_MIBS:-0}"
    printf 'sequential read, dd O_DIRECT (MiB/s)\t%s\n' "${DD_READ_MIBS:-0}"
    printf 'page cache dropped before each large GET from disk\t%s\n' "$CACHES_DROPPED"
    printf 'MD5+SHA-256 per core (MiB/s)\t%s\n' "$HASH_MIBS"
    awk -v d="${DD_MIBS:-0}" -v h="$HASH_MIBS" -v n="$CORES" 'BEGIN{
        a = d / 3; b = h * n; m = a < b ? a : b
        printf "3-replica PUT limit: disk / 3 (MiB/s)\t%.1f\n", a
        printf "3-replica PUT limit: hashing x %d cores (MiB/s)\t%.1f\n", n, b
        printf "3-replica PUT limit = min (MiB/s)\t%.1f\n", m }'
    printf 'load average at the start (1, 5, 15 min)\t%s\n' "$LOAD_START"
    printf 'work file system at the start\t%s\n' "$DISK_START"
    printf 'load average at the end (1, 5, 15 min)\t%s\n' "$(cut -d' ' -f1-3 /proc/loadavg)"
} >>"$MACHINE"

# ---- the table -----------------------------------------------------------------------------
PEER_LIST=$(IFS=,; echo "${PEERS[*]}")
"$PY" - "$RES" "$EXTRA" "$MACHINE" "${BENCH_JSON:-}" "$PEER_LIST" "$SIZE_LARGE" "$N_LIST" "$N_LIST_VS" <<'EOF'
import json, os, sys

res, extra, machine, json_path, peer_list, big, n_list, n_list_vs = sys.argv[1:9]
peers = [p for p in peer_list.split(",") if p]
targets = ["onggi"] + peers
NAMES = {"onggi": "Onggi", "swift": "Swift", "rgw": "RGW"}
# Why a cell has no number: printed as "n/a (key)" with the reasons under the table.
NA = {"a": "measured for Onggi only (its own processes and budgets)",
      "b": f"not run on the peers: they create a few hundred objects/s at most, so {n_list} keys would "
           f"take many minutes; all systems list {n_list_vs} keys above",
      "f": "the run produced no result (see results/NAME.TARGET.log, kept with BENCH_KEEP=1)"}

def load(name, target):
    p = os.path.join(res, f"{name}.{target}.json")
    return json.load(open(p)) if os.path.exists(p) else None

def get(d, path):
    for k in path.split("."):
        if d is None:
            return None
        d = d.get(k)
    return d

# (workload label, result name, [(metric label, json path)], run by the peers too)
TP = [("ops/s", "total.ops_per_s"), ("p50 ms", "total.lat_ms.p50"), ("p99 ms", "total.lat_ms.p99"),
      ("errors", "total.errors")]
BW = [("MiB/s", "total.mib_per_s"), ("p50 ms", "total.lat_ms.p50"), ("p99 ms", "total.lat_ms.p99"),
      ("errors", "total.errors")]
MIX = [("ops/s", "total.ops_per_s"), ("MiB/s", "total.mib_per_s"), ("GET p99 ms", "by_op.get.lat_ms.p99"),
       ("PUT p99 ms", "by_op.put.lat_ms.p99"), ("errors", "total.errors")]
LIST = [("keys/s", "total.keys_per_s"), ("keys listed", "total.keys"), ("page p50 ms", "total.lat_ms.p50"),
        ("errors", "total.errors")]
FILL = [("ops/s", "total.ops_per_s"), ("objects", "total.ops"), ("errors", "total.errors")]
plan = [
    ("1. PUT 4 KiB, 64 conns", "put4k", TP, True),
    ("1. GET 4 KiB, 64 conns", "get4k", TP, True),
    ("1. GET 4 KiB, 16 conns", "get4k16", TP, True),
    ("1. DELETE 4 KiB, 64 conns", "del4k", TP, True),
    ("2. PUT 1 MiB, 16 conns", "put1m", BW, True),
    ("2. GET 1 MiB, 16 conns", "get1m", BW, True),
    (f"3. PUT {big}, 4 conns", "putbig", BW, True),
    (f"3. GET {big}, 4 conns, from disk", "getbig", BW, True),
    (f"3. GET {big} again, 4 conns", "getbighot", BW, True),
    ("4. mixed 64 KiB, 32 conns", "mixed", MIX, True),
]
if peers:
    plan += [(f"5. create {n_list_vs} 0-byte objects, 64 conns", "listvsfill", FILL, True),
             (f"5. LIST {n_list_vs} keys, delimiter /, pages of 1000", "listvs", LIST, True)]
plan += [(f"5. create {n_list} 0-byte objects, 64 conns", "listfill", FILL, False),
         (f"5. LIST {n_list} keys, delimiter /, pages of 1000", "list", LIST, False)]

machine_rows = [line.rstrip("\n").split("\t") for line in open(machine)]
limit = next((float(v) for m, v in machine_rows if m.startswith("3-replica PUT limit = min")), None)

rows = []  # {workload, metric, values: {target: number or None}, na: {target: reason key}}
for label, name, metrics, all_run in plan:
    runs = {t: load(name, t) for t in targets}
    for mlabel, path in metrics:
        vals, na = {}, {}
        for t in targets:
            if t != "onggi" and not all_run:
                vals[t], na[t] = None, "b"
            elif runs[t] is None:
                vals[t], na[t] = None, "f"
            else:
                vals[t] = get(runs[t], path)
        rows.append({"workload": label, "metric": mlabel, "values": vals, "na": na})
    if name == "putbig" and limit:
        vals = {t: 100.0 * runs[t]["total"]["mib_per_s"] / limit if runs[t] else None for t in targets}
        rows.append({"workload": label, "metric": "% of the machine's 3-replica PUT limit", "values": vals,
                     "na": {t: "f" for t in targets if vals[t] is None}})
extra_rows = {}
for line in open(extra):
    wl, metric, target, val = line.rstrip("\n").split("\t")
    r = extra_rows.setdefault(metric, {"workload": wl, "metric": metric, "values": {}, "na": {}})
    r["values"][target] = float(val)
for r in extra_rows.values():
    for t in targets:
        if t not in r["values"]:
            r["values"][t], r["na"][t] = None, "a"
    rows.append(r)

def ratio(r, p):
    if r["metric"] == "errors":  # 0 / 5 says nothing useful
        return None
    o, v = r["values"]["onggi"], r["values"][p]
    return o / v if isinstance(o, (int, float)) and isinstance(v, (int, float)) and v else None

def fmt(v):
    if v is None:
        return "-"
    if isinstance(v, int) or float(v).is_integer():
        return f"{int(v):,}"
    return f"{v:,.2f}" if abs(v) < 100 else f"{v:,.1f}"

def cell(r, t):
    return f"n/a ({r['na'][t]})" if t in r["na"] else fmt(r["values"][t])

def print_table(hdr, table):
    w = [max(len(x[i]) for x in table + [hdr]) for i in range(len(hdr))]
    print("| " + " | ".join(h.ljust(w[i]) for i, h in enumerate(hdr)) + " |")
    print("|" + "|".join("-" * (w[i] + 2) for i in range(len(hdr))) + "|")
    for x in table:
        print("| " + " | ".join(c.ljust(w[i]) if i < 2 else c.rjust(w[i]) for i, c in enumerate(x)) + " |")

hdr = ["workload", "metric"] + [NAMES[t] for t in targets] + [f"Onggi/{NAMES[p]}" for p in peers]
print_table(hdr, [[r["workload"], r["metric"]] + [cell(r, t) for t in targets] + [fmt(ratio(r, p)) for p in peers]
                  for r in rows])
used = sorted({k for r in rows for k in r["na"].values()})
if used:
    print()
    for k in used:
        print(f"n/a ({k}): {NA[k]}")
if peers:
    print("\nOnggi/peer above 1 is better for Onggi for ops/s, MiB/s, keys/s; below 1 for latency, CPU s per GiB, "
          "RSS and write amplification")
print("\nMachine (measured at the end of this run; the limits are for Onggi's PUT path: "
      "3 replicas on one disk, MD5 + SHA-256 of every byte)")
print_table(["machine", "value"], [[m, v] for m, v in machine_rows])

if json_path:
    out = []
    for r in rows:
        o = {"workload": r["workload"], "metric": r["metric"]}
        o.update({t: r["values"][t] for t in targets})
        o.update({f"ratio_{p}": ratio(r, p) for p in peers})
        if peers == ["swift"]:
            o["ratio"] = ratio(r, "swift")  # the key of the swift-only format
        if r["na"]:
            o["n/a"] = {t: NA[k] for t, k in r["na"].items()}
        out.append(o)
    for m, v in machine_rows:
        try:
            v = float(v)
        except ValueError:
            pass
        out.append({"workload": "machine", "metric": m, "onggi": v})
    with open(json_path, "w") as f:
        json.dump(out, f, indent=1)
    print(f"\nwrote {json_path}")
EOF
