#!/usr/bin/env bash
# Installs the Debian 12 packages Onggi builds, runs and tests with, when any is missing.
set -euo pipefail
pkgs=(build-essential pkg-config libh2o-evloop-dev librocksdb-dev libcriterion-dev libxxhash-dev
      libxml2-dev libssl-dev libisal-dev libjansson-dev curl s3cmd awscli python3-boto3 python3-swiftclient python3-pytest
      rclone restic openssl
      libinih-dev  # configuration files (docs/operations.md): inih beats a hand-written parser
      chromium chromium-driver python3-selenium  # the web console's browser test
      varnish nginx-light  # real CDN caches in front of the gateway (tests/integration/test_cdn*.py)
      clang libclang-rt-14-dev llvm  # make fuzz (docs/fuzzing.md); llvm: llvm-symbolizer for traces
      iproute2 e2fsprogs util-linux procps)  # the last line: the fault harness (tests/faults) and pgrep
missing=()
for p in "${pkgs[@]}"; do
    dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
command -v npm >/dev/null 2>&1 || missing+=(nodejs npm)
if [ ${#missing[@]} -gt 0 ]; then
    echo "deps: installing ${missing[*]}" >&2
    SUDO=""; [ "$(id -u)" -eq 0 ] || SUDO=sudo
    $SUDO apt-get update -q
    DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -q --no-install-recommends "${missing[@]}"
fi
# The current AWS SDK for JavaScript (CRC checksums and aws-chunked by default), for the
# integration tests; pinned by package-lock.json.
js="$(dirname "$0")/../tests/integration/js"
if [ -f "$js/package-lock.json" ] && [ ! -d "$js/node_modules/@aws-sdk/client-s3" ]; then
    echo "deps: npm ci in tests/integration/js" >&2
    (cd "$js" && npm ci --no-audit --no-fund --loglevel=error)
fi
