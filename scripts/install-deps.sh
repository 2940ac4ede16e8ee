#!/usr/bin/env bash
# Installs the Debian packages EnableBot builds and tests with, when any is missing. Needs root (or sudo).
set -euo pipefail

build_packages=(pkg-config libpq-dev libssl-dev libcurl4-openssl-dev libhiredis-dev libsqlite3-dev libjemalloc-dev)
test_packages=(postgresql redis-server chromium chromium-driver python3-pip wrk curl nginx python3-yaml)

# The benchmarks' fake upstream (Slack and the model) runs under PyPy, so it takes less of the cores it shares with
# the services it measures.
bench_packages=(pypy3)

wanted=("${build_packages[@]}")
if [[ "${1:-}" == "--with-test-tools" ]]; then wanted+=("${test_packages[@]}"); fi
if [[ "${1:-}" == "--with-bench-tools" ]]; then wanted+=("${test_packages[@]}" "${bench_packages[@]}"); fi

missing=()
for package in "${wanted[@]}"; do
    # python3-pip only matters when the python3 on PATH has no pip of its own (Debian's python3 does not).
    if [[ "$package" == python3-pip ]] && python3 -m pip --version >/dev/null 2>&1; then continue; fi
    dpkg-query -W -f='${Status}' "$package" 2>/dev/null | grep -q "install ok installed" || missing+=("$package")
done

sudo_cmd=()
if [[ $(id -u) -ne 0 ]]; then sudo_cmd=(sudo); fi
if ((${#missing[@]} > 0)); then
    echo "installing: ${missing[*]}"
    export DEBIAN_FRONTEND=noninteractive
    "${sudo_cmd[@]}" apt-get update -qq
    "${sudo_cmd[@]}" apt-get install -y -qq --no-install-recommends "${missing[@]}" </dev/null
fi

# The browser check (scripts/browser_driver.py) drives Chromium with Selenium 4, from PyPI.
if [[ "${1:-}" == --with-*-tools ]] && ! python3 -c 'import selenium' 2>/dev/null; then
    echo "installing: selenium (PyPI)"
    # A Debian python3 refuses system-wide installs (PEP 668) unless told it may.
    python3 -m pip install --quiet selenium 2>/dev/null \
        || python3 -m pip install --quiet --break-system-packages selenium
fi

if ! command -v swift >/dev/null; then
    echo "swift 6.3 is not on PATH: install the Swift toolchain (https://swift.org/install) first" >&2
    exit 1
fi
