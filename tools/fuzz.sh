#!/usr/bin/env bash
# Runs the libFuzzer targets (docs/fuzzing.md); fails if any target crashes, leaks, reports UB or
# times out. Prints one line per target: executions, coverage (cov/ft) and the verdict.
#   tools/fuzz.sh run SECONDS BIN...    each target for SECONDS, from its seeds
#                                       (tests/fuzz/corpus/<name>) plus what earlier runs found
#                                       (build/fuzz/corpus/<name>, where new inputs go)
#   tools/fuzz.sh smoke SECONDS BIN...  every seed once, then SECONDS of fuzzing from the seeds
# A failing input is written to build/fuzz/artifacts/<name>/; the log is build/fuzz/logs/<name>.log.
# Extra libFuzzer flags: FUZZ_FLAGS="-jobs=2 ..." (e.g. FUZZ_FLAGS=-max_len=65536).
set -u
mode=$1 secs=$2
shift 2
root=$(cd "$(dirname "$0")/.." && pwd)
fail=0
for bin in "$@"; do
    name=$(basename "$bin")
    t=${name#fuzz_}
    seeds=$root/tests/fuzz/corpus/$t
    work=$root/build/fuzz/corpus/$t
    art=$root/build/fuzz/artifacts/$t
    log=$root/build/fuzz/logs/$t.log
    if [ ! -x "$bin" ] || [ ! -d "$seeds" ]; then
        echo "fuzz $t: no target $bin or no seeds in $seeds" >&2
        fail=1
        continue
    fi
    mkdir -p "$work" "$art" "$(dirname "$log")"
    opts=(-timeout=10 -rss_limit_mb=2048 -artifact_prefix="$art/" -print_final_stats=1)
    [ -f "$root/tests/fuzz/$t.dict" ] && opts+=(-dict="$root/tests/fuzz/$t.dict")
    # shellcheck disable=SC2206
    opts+=(${FUZZ_FLAGS:-})
    rc=0
    if [ "$mode" = smoke ]; then
        scratch=$(mktemp -d)
        "$bin" "${opts[@]}" -runs=0 "$seeds" >"$log" 2>&1 || rc=$?
        [ $rc -eq 0 ] && { "$bin" "${opts[@]}" -max_total_time="$secs" "$scratch" "$seeds" >>"$log" 2>&1 || rc=$?; }
        rm -rf "$scratch"
    else
        "$bin" "${opts[@]}" -max_total_time="$secs" "$work" "$seeds" >"$log" 2>&1 || rc=$?
    fi
    runs=$(sed -n 's/^stat::number_of_executed_units: *//p' "$log" | tail -1)
    last=$(grep -E '^#[0-9]+' "$log" | tail -1 | grep -oE 'cov: [0-9]+ ft: [0-9]+')
    if [ $rc -eq 0 ]; then
        verdict=ok
    else
        verdict="FAILED (exit $rc; see $log and $art/)"
        fail=1
    fi
    printf 'fuzz %-14s %10s runs  %-20s %s\n' "$t" "${runs:-?}" "${last:-cov: ? ft: ?}" "$verdict"
done
exit $fail
