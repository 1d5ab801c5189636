#!/usr/bin/env bash
# Runs the compatibility harness against the live anchors (tests/compat/README.md).
#
#   tests/compat/anchors.sh record        the anchors' answers -> tests/compat/expected/*.json
#   tests/compat/anchors.sh live          cases against anchor and a fresh Onggi cluster side by side
#   tests/compat/anchors.sh random-live   the randomized differential run (COMPAT_SEED, COMPAT_COUNT,
#                                         COMPAT_TIME bound and replay it)
#
# SWIFT_ANCHOR_DIR and RGW_ANCHOR_DIR name the anchors' directories (as given to their `start`);
# an unset one is skipped. ANCHORS is where the anchor scripts live (default ../shared/anchors).
# live and random-live need ONGGI_BIN (the directory of the onggi binaries).
set -euo pipefail
cd "$(dirname "$0")/../.."
ANCHORS="${ANCHORS:-../shared/anchors}"
PY=/usr/bin/python3

# Each anchor's env is read in a subshell: both export ST_AUTH and friends.
swift_args() { (eval "$("$ANCHORS/swift/swift-anchor.sh" env "$SWIFT_ANCHOR_DIR")" && echo "$ST_AUTH $ST_USER $ST_KEY"); }
rgw_args() { (eval "$("$ANCHORS/ceph-rgw/rgw-anchor.sh" env "$RGW_ANCHOR_DIR")" && echo "$RGW_ENDPOINT $MAIN_AK $MAIN_SK"); }

[ -n "${SWIFT_ANCHOR_DIR:-}" ] || [ -n "${RGW_ANCHOR_DIR:-}" ] ||
    { echo "anchors.sh: set SWIFT_ANCHOR_DIR and/or RGW_ANCHOR_DIR" >&2; exit 2; }
case "${1:-}" in
record)
    if [ -n "${SWIFT_ANCHOR_DIR:-}" ]; then
        # shellcheck disable=SC2046
        "$PY" tests/compat/run.py record swift $(swift_args)
    fi
    if [ -n "${RGW_ANCHOR_DIR:-}" ]; then
        # shellcheck disable=SC2046
        "$PY" tests/compat/run.py record rgw $(rgw_args)
    fi
    ;;
live | random-live)
    [ -n "${ONGGI_BIN:-}" ] || { echo "anchors.sh: set ONGGI_BIN" >&2; exit 2; }
    [ -z "${SWIFT_ANCHOR_DIR:-}" ] || export COMPAT_SWIFT_ANCHOR="$(swift_args)"
    [ -z "${RGW_ANCHOR_DIR:-}" ] || export COMPAT_RGW_ANCHOR="$(rgw_args)"
    if [ "$1" = live ]; then
        exec "$PY" -m pytest -q -s tests/integration/test_compat.py -k test_live_cases
    fi
    export COMPAT_RANDOM_LIVE=1
    exec "$PY" -m pytest -q -s tests/integration/test_compat.py -k test_live_randomized
    ;;
*)
    sed -n '2,12p' "$0" >&2
    exit 2
    ;;
esac
