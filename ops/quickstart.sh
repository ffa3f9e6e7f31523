#!/usr/bin/env bash
# The README's first command: installs what is missing, builds Granary, and runs a local cluster
# (one manager and three storage nodes with two directory drives each, SQLite metadata) in the
# foreground, printing its status once every node is up, imports a sample dataset and mounts the
# cluster at $DATA/mnt, reading the sample through the mount. Ctrl-C unmounts and stops it.
set -euo pipefail
cd "$(dirname "$0")/.."
./ops/install-deps.sh
echo "granary: building (release)..." >&2
swift build -c release --product granary >&2
swift build -c release --product granaryd >&2
BIN="$(swift build -c release --show-bin-path)"
DATA="${GRANARY_DATA:-$PWD/.granary-local}"
# The cluster's file system is mounted at $DATA/mnt (FUSE) and the sample dataset is read through it.
exec "$BIN/granary" up --data "$DATA" --nodes "${GRANARY_NODES:-3}" --drives "${GRANARY_DRIVES:-2}" --mount "$DATA/mnt" "$@"
