#!/usr/bin/env bash
# The test command: installs missing system packages, starts a throwaway PostgreSQL and Redis on loopback,
# builds and runs every test (storage tests run on SQLite and on PostgreSQL), and stops the servers after.
set -euo pipefail
cd "$(dirname "$0")/.."

scripts/install-deps.sh --with-test-tools
# Deployment files (compose, Kubernetes, nginx -t, Grafana metric names): fails fast, before the long build.
scripts/check-deploy.py
source scripts/test-services.sh

export ENABLEBOT_TEST_ARTIFACTS="${ENABLEBOT_TEST_ARTIFACTS:-$PWD/test-artifacts}"
mkdir -p "$ENABLEBOT_TEST_ARTIFACTS"

swift build --build-tests "$@"
# A crash report names the crashed thread only: with every thread (the test process runs hundreds) the report took
# minutes to write before the run below could begin.
export SWIFT_BACKTRACE="${SWIFT_BACKTRACE:-interactive=no,threads=crashed}"
log="$ENABLEBOT_TEST_ARTIFACTS/swift-test.log"
# Foundation's Process.run (corelibs) has crashed the whole test process a few times in the parallel run, with a bad
# read in its own memcpy while a test launched a helper process (not in EnableBot's code). Only that crash, recognised
# by the crashed thread's top frames, gets another run (at most two more); any other failure fails at once.
for attempt in 1 2 3; do
    if swift test --skip-build --parallel "$@" 2>&1 | tee "$log"; then
        exit 0
    fi
    if (( attempt < 3 )) && grep -A4 'crashed:$' "$log" | grep -q 'Process.run() + [0-9]* in libFoundation.so'; then
        echo "test run crashed inside Foundation's Process.run (see $log.$attempt); running the tests once more" >&2
        cp "$log" "$log.$attempt"
    else
        exit 1
    fi
done
