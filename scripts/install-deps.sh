#!/usr/bin/env bash
# Installs the Debian packages EnableBot builds and tests with, when any is missing. Needs root (or sudo).
set -euo pipefail

build_packages=(pkg-config libpq-dev libssl-dev libcurl4-openssl-dev libhiredis-dev libsqlite3-dev)
test_packages=(postgresql redis-server chromium wrk curl nginx python3-yaml)

wanted=("${build_packages[@]}")
if [[ "${1:-}" == "--with-test-tools" ]]; then wanted+=("${test_packages[@]}"); fi

missing=()
for package in "${wanted[@]}"; do
    dpkg-query -W -f='${Status}' "$package" 2>/dev/null | grep -q "install ok installed" || missing+=("$package")
done
if ((${#missing[@]} == 0)); then exit 0; fi

echo "installing: ${missing[*]}"
sudo_cmd=()
if [[ $(id -u) -ne 0 ]]; then sudo_cmd=(sudo); fi
export DEBIAN_FRONTEND=noninteractive
"${sudo_cmd[@]}" apt-get update -qq
"${sudo_cmd[@]}" apt-get install -y -qq --no-install-recommends "${missing[@]}" </dev/null

if ! command -v swift >/dev/null; then
    echo "swift 6.3 is not on PATH: install the Swift toolchain (https://swift.org/install) first" >&2
    exit 1
fi
