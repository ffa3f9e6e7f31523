#!/usr/bin/env bash
# The README's second command: installs what is missing, builds everything, and runs the whole
# test suite (unit tests of every module and integration tests that start real granaryd processes).
set -euo pipefail
cd "$(dirname "$0")/.."
./ops/install-deps.sh
swift build --build-tests
if [ $# -gt 0 ]; then
  exec swift test --skip-build "$@"
fi
# The metadata conformance suite first, on its own: its tests block their threads on PostgreSQL
# (lock waits, connect and query timeouts of several seconds, by design), and Swift Testing runs
# synchronous tests on the same small pool as the async ones; beside them on a 2-core machine the
# transport tests' requests starved past their 30 s timeouts.
swift test --skip-build --filter GranaryMetaTests
swift test --skip-build --skip GranaryMetaTests
