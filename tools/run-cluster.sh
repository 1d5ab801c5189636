#!/usr/bin/env bash
# Runs a local Onggi cluster in the foreground: a ring (created once), 3 storage nodes and one
# S3 + Swift gateway on loopback (started from configuration files it writes: DATA/onggi.conf,
# DATA/node{1,2,3}.conf), plus the dev account "dev": S3 keys devaccess/devsecret and the
# Swift user dev:admin (key devsecret). The gateway serves http on --port and https on --tls-port
# with a self-signed certificate made once in DATA/tls/ (cert.pem is also the CA file clients
# verify with; delete DATA/tls to make a new one). Ctrl-C, SIGTERM or SIGHUP (its terminal closing)
# stops every process and exits 0.
# It supervises: a process that dies is restarted (and the launcher says so), after a delay that
# grows while it keeps dying within RESTART_FAST_S of its start (1, 2, 4 ... up to 30 s).
#
#   tools/run-cluster.sh --bin DIR --data DIR [--port 9000] [--tls-port 9443]
#                        [--node-ports 7001,7002,7003] [--node-metrics-ports 7101,7102,7103]
#                        [--domain localhost]
#
# Each node serves /metrics and /health/* on its --node-metrics-ports entry (default: its node
# port + 100); the gateway serves them on --port (docs/operations.md, "Metrics").
# The ring records the node addresses, so DATA keeps the ports it was created with: a later run
# with other --node-ports fails instead of silently serving an empty cluster.
set -uo pipefail

usage() {
    echo "usage: $0 --bin DIR --data DIR [--port 9000] [--tls-port 9443] [--node-ports 7001,7002,7003]" >&2
    echo "       [--node-metrics-ports 7101,7102,7103] [--domain localhost]" >&2
    exit 2
}

BIN="" DATA="" PORT=9000 TLS_PORT=9443 NODE_PORTS="7001,7002,7003" DOMAIN="localhost" MPORTS_ARG=""
while [ $# -gt 0 ]; do
    case "$1" in
    --bin) BIN="${2:-}"; shift 2 || usage ;;
    --data) DATA="${2:-}"; shift 2 || usage ;;
    --port) PORT="${2:-}"; shift 2 || usage ;;
    --tls-port) TLS_PORT="${2:-}"; shift 2 || usage ;;
    --node-ports) NODE_PORTS="${2:-}"; shift 2 || usage ;;
    --node-metrics-ports) MPORTS_ARG="${2:-}"; shift 2 || usage ;;
    --domain) DOMAIN="${2:-}"; shift 2 || usage ;;
    -h | --help) usage ;;
    *) echo "run-cluster: unknown argument '$1'" >&2; usage ;;
    esac
done
[ -n "$BIN" ] && [ -n "$DATA" ] || usage
ACCESS="${ONGGI_ACCESS_KEY:-devaccess}"
SECRET="${ONGGI_SECRET_KEY:-devsecret}"
IFS=, read -r -a NPORTS <<<"$NODE_PORTS"
[ "${#NPORTS[@]}" -eq 3 ] || { echo "run-cluster: --node-ports needs exactly 3 ports" >&2; exit 2; }
if [ -n "$MPORTS_ARG" ]; then
    IFS=, read -r -a MPORTS <<<"$MPORTS_ARG"
else
    MPORTS=($((NPORTS[0] + 100)) $((NPORTS[1] + 100)) $((NPORTS[2] + 100)))
fi
[ "${#MPORTS[@]}" -eq 3 ] || { echo "run-cluster: --node-metrics-ports needs exactly 3 ports" >&2; exit 2; }

die() { echo "run-cluster: $*" >&2; exit 1; }

for b in onggi-ring onggi-node onggi-gateway onggi-admin; do
    [ -x "$BIN/$b" ] || die "$BIN/$b not found (build first: make BUILD=release all)"
done
BIN="$(cd "$BIN" && pwd)"
mkdir -p "$DATA/log" || die "cannot create $DATA/log"
DATA="$(cd "$DATA" && pwd)"
LOG="$DATA/log"
RING="$DATA/ring.bin"

# A port that accepts a connection is taken (by anything, including an old cluster).
port_taken() { (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null; }
for p in "$PORT" "$TLS_PORT" "${NPORTS[@]}" "${MPORTS[@]}"; do
    if port_taken "$p"; then
        die "port 127.0.0.1:$p is already in use (another cluster running? stop it or pick --port/--node-ports)"
    fi
done

# The ring is built in a temporary file and renamed, so an interrupted first run never leaves
# a half-made ring that later runs would trust.
if [ ! -f "$RING" ]; then
    tmp="$RING.tmp"
    rm -f "$tmp" "$tmp.keys"
    {
        "$BIN/onggi-ring" create "$tmp" 10 3 1 &&
            for i in 1 2 3; do
                "$BIN/onggi-ring" add "$tmp" --zone "$i" --addr "127.0.0.1:${NPORTS[$((i - 1))]}" \
                    --name "d$i" --weight 100 >/dev/null || exit 1
            done &&
            "$BIN/onggi-ring" rebalance "$tmp" >/dev/null
    } >>"$LOG/ring.log" 2>&1 || die "ring creation failed, see $LOG/ring.log"
    # The cluster key file (RING.keys) is born with the ring; keys already there are kept.
    if [ -f "$RING.keys" ]; then rm -f "$tmp.keys"; else mv "$tmp.keys" "$RING.keys" || die "cannot install $RING.keys"; fi
    mv "$tmp" "$RING" || die "cannot install $RING"
    echo "run-cluster: created $RING"
fi
# DATA made before the cluster key file existed: give it one (nodes refuse unsigned requests, and
# every process needs the key to sign). `onggi-ring create` is the one tool that writes key files.
if [ ! -f "$RING.keys" ]; then
    rm -f "$RING.keytmp" "$RING.keytmp.keys"
    "$BIN/onggi-ring" create "$RING.keytmp" 10 3 1 >>"$LOG/ring.log" 2>&1 && mv "$RING.keytmp.keys" "$RING.keys" ||
        die "cannot create $RING.keys, see $LOG/ring.log"
    rm -f "$RING.keytmp"
    echo "run-cluster: created $RING.keys"
fi
for p in "${NPORTS[@]}"; do
    "$BIN/onggi-ring" show "$RING" 2>/dev/null | grep -qw "127.0.0.1:$p" ||
        die "$RING has no device at 127.0.0.1:$p (DATA was created with other --node-ports)"
done

# The local cluster's certificate, made once: self-signed (so cert.pem is the CA file clients
# verify with), EC P-256, for localhost, *.localhost and 127.0.0.1 (and --domain, *.--domain). Like
# the ring it is made in temporary files and renamed, the key first, so cert.pem always has its key.
TLS_DIR="$DATA/tls" TLS_CERT="$DATA/tls/cert.pem" TLS_KEY="$DATA/tls/key.pem"
if [ ! -f "$TLS_CERT" ] || [ ! -f "$TLS_KEY" ]; then
    command -v openssl >/dev/null || die "openssl not found (tools/deps.sh installs it)"
    sans="DNS:localhost,DNS:*.localhost,IP:127.0.0.1"
    [ "$DOMAIN" != "localhost" ] && sans="$sans,DNS:$DOMAIN,DNS:*.$DOMAIN"
    mkdir -p "$TLS_DIR" || die "cannot create $TLS_DIR"
    rm -f "$TLS_CERT.tmp" "$TLS_KEY.tmp"
    (umask 077 && openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -days 825 \
        -subj "/CN=Onggi local cluster" -addext "subjectAltName=$sans" \
        -keyout "$TLS_KEY.tmp" -out "$TLS_CERT.tmp") >>"$LOG/tls.log" 2>&1 ||
        die "making the TLS certificate failed, see $LOG/tls.log"
    chmod 644 "$TLS_CERT.tmp"
    mv "$TLS_KEY.tmp" "$TLS_KEY" && mv "$TLS_CERT.tmp" "$TLS_CERT" || die "cannot install $TLS_CERT"
    echo "run-cluster: created $TLS_CERT ($sans)"
fi

PIDS=()
NAMES=()
CMDS=()    # each process's command line, shell-quoted, for restarts
STARTED=() # SECONDS at each process's last start
FAST=()    # restarts in a row that died within RESTART_FAST_S
RESTART_FAST_S=10
RESTART_MAX_DELAY_S=30
STOPPING=0

stop_all() {
    STOPPING=1
    local pid
    for pid in "${PIDS[@]}"; do kill -TERM "$pid" 2>/dev/null; done
    # Give in-flight requests time to finish, then make sure nothing is left behind.
    local deadline=$((SECONDS + 15))
    for pid in "${PIDS[@]}"; do
        while kill -0 "$pid" 2>/dev/null && [ "$SECONDS" -lt "$deadline" ]; do sleep 0.1; done
        if kill -0 "$pid" 2>/dev/null; then
            echo "run-cluster: pid $pid did not stop in time, killing it" >&2
            kill -KILL "$pid" 2>/dev/null
        fi
        wait "$pid" 2>/dev/null
    done
}
on_signal() {
    echo
    echo "run-cluster: stopping"
    stop_all
    echo "run-cluster: stopped"
    exit 0
}
trap on_signal INT TERM HUP

# launch IDX: (re)starts process IDX in the background, its output appended to LOG/NAME.log.
launch() {
    local idx="$1"
    # exec: the background job IS the process, so its pid is the one to signal and wait for.
    # setsid: each server in a session of its own, as systemd starts every service (onggi-node@,
    # onggi-gateway). The scheduler then shares the CPU between the processes, not between their
    # threads (sched(7), "autogroup"; under systemd's cpu controller each service's cgroup does
    # the same): a gateway with thousands of busy upload threads no longer starves the nodes of a
    # one-machine cluster (docs/benchmarks.md, "Slow uploads"). A background job of this script
    # is never a process group leader, so setsid(1) does not fork and the pid stays the server's.
    # setpriv --pdeathsig: outside this script's process group, a server would outlive a launcher
    # that is killed outright; it gets SIGTERM (a clean stop) when the launcher dies instead.
    eval "exec setsid setpriv --pdeathsig TERM ${CMDS[$idx]}" >>"$LOG/${NAMES[$idx]}.log" 2>&1 &
    PIDS[idx]=$!
    STARTED[idx]=$SECONDS
}
# start NAME CMD...: runs CMD under supervision.
start() {
    local name="$1"
    shift
    NAMES+=("$name")
    CMDS+=("$(printf '%q ' "$@")")
    FAST+=(0)
    launch $((${#NAMES[@]} - 1))
}
# restart IDX STATUS: says why, waits (interruptibly, so Ctrl-C still stops at once) and relaunches.
restart() {
    local idx="$1" status="$2" delay=1 i
    if [ $((SECONDS - STARTED[idx])) -lt "$RESTART_FAST_S" ]; then
        FAST[idx]=$((FAST[idx] + 1))
    else
        FAST[idx]=0
    fi
    for ((i = 0; i < FAST[idx] && delay < RESTART_MAX_DELAY_S; i++)); do delay=$((delay * 2)); done
    [ "$delay" -gt "$RESTART_MAX_DELAY_S" ] && delay=$RESTART_MAX_DELAY_S
    echo "run-cluster: ${NAMES[$idx]} exited (status $status), restarting it in ${delay}s (log: $LOG/${NAMES[$idx]}.log)" >&2
    sleep "$delay" &
    wait $!
    [ "$STOPPING" -eq 1 ] && return
    launch "$idx"
    echo "run-cluster: ${NAMES[$idx]} restarted (pid ${PIDS[$idx]})" >&2
}

# wait_http NAME PID URL: waits (bounded) until URL gives any HTTP answer.
wait_http() {
    local name="$1" pid="$2" url="$3" i code
    for ((i = 0; i < 200; i++)); do
        kill -0 "$pid" 2>/dev/null || { tail -n 20 "$LOG/$name.log" >&2; stop_all; die "$name exited during start-up (log: $LOG/$name.log)"; }
        code="$(curl -s -o /dev/null -m 2 --cacert "$TLS_CERT" -w '%{http_code}' "$url" 2>/dev/null)"
        [ -n "$code" ] && [ "$code" != "000" ] && return 0
        sleep 0.1
    done
    stop_all
    die "$name did not answer on $url within 20 s (log: $LOG/$name.log)"
}

# The processes run from configuration files (docs/operations.md, "Configuration"), rewritten on
# every start: DATA/onggi.conf holds the cluster and the gateway (and is what onggi-admin reads
# through ONGGI_CONFIG), DATA/nodeN.conf each node. Written to a temporary file and renamed.
CONF="$DATA/onggi.conf"
write_conf() { # write_conf FILE: stdin into FILE
    cat >"$1.tmp" && mv "$1.tmp" "$1" || die "cannot write $1"
}
CLUSTER_SECTION="[cluster]
ring = $RING
keys = $RING.keys"
write_conf "$CONF" <<EOF
# Written by tools/run-cluster.sh at each start (edits are lost): the local cluster.
$CLUSTER_SECTION

[gateway]
listen = 127.0.0.1:$PORT
domain = $DOMAIN
tls-listen = 127.0.0.1:$TLS_PORT
tls-cert = $TLS_CERT
tls-key = $TLS_KEY
EOF
for i in 1 2 3; do
    write_conf "$DATA/node$i.conf" <<EOF
# Written by tools/run-cluster.sh at each start (edits are lost): storage node $i.
$CLUSTER_SECTION

[node]
listen = 127.0.0.1:${NPORTS[$((i - 1))]}
dir = $DATA/node$i
metrics-listen = 127.0.0.1:${MPORTS[$((i - 1))]}
EOF
done

for i in 1 2 3; do
    start "node$i" "$BIN/onggi-node" --config "$DATA/node$i.conf"
done
for i in 1 2 3; do
    wait_http "node$i" "${PIDS[$((i - 1))]}" "http://127.0.0.1:${NPORTS[$((i - 1))]}/health"
done
start gateway "$BIN/onggi-gateway" --config "$CONF"
wait_http gateway "${PIDS[3]}" "http://127.0.0.1:$PORT/"
wait_http gateway "${PIDS[3]}" "https://localhost:$TLS_PORT/"

# The dev account: S3 keys and a Swift admin user that see the same buckets. Every command
# creates or replaces, so running them on every start is idempotent.
ACCOUNT="dev" SWIFT_USER="admin" SWIFT_KEY="${ONGGI_SWIFT_KEY:-devsecret}"
if ! { "$BIN/onggi-admin" --config "$CONF" account-add "$ACCOUNT" &&
    "$BIN/onggi-admin" --config "$CONF" user-add --access-key "$ACCESS" --secret "$SECRET" \
        --account "$ACCOUNT" --display-name "$ACCOUNT" &&
    "$BIN/onggi-admin" --config "$CONF" swift-user-add --account "$ACCOUNT" --user "$SWIFT_USER" \
        --key "$SWIFT_KEY" --admin; } >>"$LOG/admin.log" 2>&1; then
    stop_all
    die "creating the dev account failed, see $LOG/admin.log"
fi

# The S3 lifecycle worker (docs/architecture.md, "Lifecycle"): one pass every minute, supervised
# like the servers; its log says what each pass expired and aborted.
start lifecycle "$BIN/onggi-admin" --config "$CONF" lifecycle --every "${ONGGI_LIFECYCLE_EVERY:-60}"

EP="http://127.0.0.1:$PORT"
TEP="https://localhost:$TLS_PORT"
cat <<EOF

Onggi is running (data: $DATA, logs: $LOG/, configuration: $CONF)
  S3 endpoint   $EP   (region us-east-1; virtual-host style: http://BUCKET.$DOMAIN:$PORT)
  https         $TEP   (CA file: $TLS_CERT)
  access key    $ACCESS
  secret key    $SECRET
  Swift auth    $EP/auth/v1.0   user $ACCOUNT:$SWIFT_USER   key $SWIFT_KEY   (account $ACCOUNT)
  metrics       $EP/metrics   nodes: http://127.0.0.1:{${MPORTS[0]},${MPORTS[1]},${MPORTS[2]}}/metrics
  health        $EP/health/ready   $EP/health/live

swift (python3-swiftclient):
  swift -A $EP/auth/v1.0 -U $ACCOUNT:$SWIFT_USER -K $SWIFT_KEY stat
  export ST_AUTH=$EP/auth/v1.0 ST_USER=$ACCOUNT:$SWIFT_USER ST_KEY=$SWIFT_KEY

s3cmd:
  s3cmd -c /dev/null --access_key=$ACCESS --secret_key=$SECRET --host=127.0.0.1:$PORT --host-bucket=127.0.0.1:$PORT --no-ssl mb s3://demo

aws (Debian's /usr/bin/aws):
  export AWS_ACCESS_KEY_ID=$ACCESS AWS_SECRET_ACCESS_KEY=$SECRET AWS_DEFAULT_REGION=us-east-1
  /usr/bin/aws --endpoint-url $EP s3 ls

boto3 (/usr/bin/python3):
  import boto3; from botocore.config import Config
  s3 = boto3.client('s3', endpoint_url='$EP', aws_access_key_id='$ACCESS',
                    aws_secret_access_key='$SECRET', region_name='us-east-1',
                    config=Config(s3={'addressing_style': 'path'}))

over https (verify with the CA file, e.g. curl --cacert $TLS_CERT $TEP/):
  swift --os-cacert $TLS_CERT -A $TEP/auth/v1.0 -U $ACCOUNT:$SWIFT_USER -K $SWIFT_KEY stat
  s3cmd ... --ssl --ca-certs=$TLS_CERT --host=localhost:$TLS_PORT --host-bucket=localhost:$TLS_PORT ls
  /usr/bin/aws --endpoint-url $TEP --ca-bundle $TLS_CERT s3 ls
  boto3.client('s3', endpoint_url='$TEP', verify='$TLS_CERT', ...)

onggi-admin (finds the cluster through ONGGI_CONFIG):
  export ONGGI_CONFIG=$CONF
  $BIN/onggi-admin status
  $BIN/onggi-admin lifecycle-status      (the S3 lifecycle worker's last pass; log: $LOG/lifecycle.log)

rclone:
  export RCLONE_CONFIG_ONGGI_TYPE=s3 RCLONE_CONFIG_ONGGI_PROVIDER=Other RCLONE_CONFIG_ONGGI_ENDPOINT=$EP \\
         RCLONE_CONFIG_ONGGI_ACCESS_KEY_ID=$ACCESS RCLONE_CONFIG_ONGGI_SECRET_ACCESS_KEY=$SECRET \\
         RCLONE_CONFIG_ONGGI_FORCE_PATH_STYLE=true RCLONE_CONFIG_ONGGI_REGION=us-east-1
  rclone lsd onggi:

Press Ctrl-C to stop.
EOF

# Waits for signals; a process that dies on its own is restarted, the others keep serving.
while true; do
    wait -n "${PIDS[@]}"
    [ "$STOPPING" -eq 1 ] && exit 0
    for idx in "${!PIDS[@]}"; do
        if ! kill -0 "${PIDS[$idx]}" 2>/dev/null; then
            wait "${PIDS[$idx]}"
            restart "$idx" $?
        fi
    done
done
