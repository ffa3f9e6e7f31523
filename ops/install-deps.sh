#!/usr/bin/env bash
# Installs the Debian packages Granary builds and runs against. Idempotent: it asks apt only for
# what is missing, and runs `apt-get update` only when something is.
set -euo pipefail
PKGS=(
  pkg-config
  fuse3 libfuse3-dev            # FUSE client (CFuse3)
  liberasurecode-dev libisal-dev # erasure coding (CErasureCode) and CRC32C (CISAL)
  librdmacm-dev libibverbs-dev  # RDMA transport (CVerbs)
  libssl-dev openssl            # TLS on the TCP transport (COpenSSL); the tests make certificates with openssl
  libsqlite3-dev                # SQLite metadata engine (GRDB)
  postgresql                    # PostgreSQL metadata engine: the tests start a throwaway server from its binaries
  smartmontools                 # drive health: SMART attributes via smartctl --json (a VM's drives have none; the note says why)
  python3 tar                   # the loader bench's Python baseline; tar interoperability tests
  iproute2                      # ip netns: the namespaced-hosts tests and fault drills
)
missing=()
for p in "${PKGS[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
if [ ${#missing[@]} -eq 0 ]; then
  exit 0
fi
SUDO=""
if [ "$(id -u)" -ne 0 ]; then SUDO="sudo"; fi
echo "granary: installing Debian packages: ${missing[*]}" >&2
$SUDO apt-get update -qq
DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq "${missing[@]}" >/dev/null
