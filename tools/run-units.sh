#!/usr/bin/env bash
# Runs each Criterion unit-test binary; fails if any fails. Prints one summary line.
set -u
pass=0; fail=0
for t in "$@"; do
    if "$t" --jobs=2; then pass=$((pass+1)); else fail=$((fail+1)); echo "FAILED: $t" >&2; fi
done
echo "unit test binaries: $pass passed, $fail failed"
[ "$fail" -eq 0 ]
