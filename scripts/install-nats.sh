#!/usr/bin/env bash
# Installs nats-server from Debian's packages for the cluster tests (a real JetStream cluster on
# loopback ports: test/support/nats-cluster.ts runs this when nats-server is missing). The tests
# start their own servers with their data in temporary folders; they do not use the system
# service the package may start on a machine with systemd.
#
# Idempotent: the package is installed only when missing.
set -euo pipefail

say() { printf 'install-nats: %s\n' "$*"; }
fail() {
  printf '\ninstall-nats: FAILED: %s\n' "$*" >&2
  exit 1
}

# shellcheck source=lib/debian-packages.sh
source "$(dirname "${BASH_SOURCE[0]}")/lib/debian-packages.sh"
ensure_debian_packages nats-server

nats=$(command -v nats-server || echo /usr/sbin/nats-server)
[[ -x $nats ]] || fail "nats-server is missing after installing the nats-server package"
say "ready: $("$nats" --version)"
