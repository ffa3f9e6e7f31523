#!/usr/bin/env bash
# The README's second command: installs what is missing, builds everything, and runs the whole
# test suite (unit tests of every module and integration tests that start real granaryd processes).
set -euo pipefail
cd "$(dirname "$0")/.."
./ops/install-deps.sh
swift build --build-tests
swift test --skip-build "$@"
