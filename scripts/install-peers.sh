#!/usr/bin/env bash
# Installs the servers the bench's `peers` section compares the coordinator with, from Debian's
# packages: redis-server (for BullMQ) and nats-server (for JetStream). The bench starts its own
# instances on free loopback ports with their data in a temporary folder; it does not use the
# system services these packages may start on a machine with systemd.
#
# Idempotent: packages are installed only when missing.
# --optional: when they cannot be installed (no apt-get, not root), say why and exit 0, so
# `npm run bench` still runs; the peers section then reports those systems as skipped.
set -euo pipefail

optional=0
[[ ${1:-} == --optional ]] && optional=1

say() { printf 'install-peers: %s\n' "$*"; }
fail() {
  if ((optional)); then
    say "NOT INSTALLED: $* (the bench's peers section will skip what is missing)"
    exit 0
  fi
  printf '\ninstall-peers: FAILED: %s\n' "$*" >&2
  exit 1
}

# shellcheck source=lib/debian-packages.sh
source "$(dirname "${BASH_SOURCE[0]}")/lib/debian-packages.sh"
ensure_debian_packages redis-server nats-server

redis=$(command -v redis-server || echo /usr/bin/redis-server)
nats=$(command -v nats-server || echo /usr/sbin/nats-server)
[[ -x $redis ]] || fail "redis-server is missing after installing the redis-server package"
[[ -x $nats ]] || fail "nats-server is missing after installing the nats-server package"
say "ready: $("$redis" --version | sed -E 's/^Redis server v=([^ ]+).*/redis-server \1/'), $("$nats" --version)"
