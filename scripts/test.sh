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
swift test --skip-build --parallel "$@" 2>&1 | tee "$ENABLEBOT_TEST_ARTIFACTS/swift-test.log"
