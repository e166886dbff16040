#!/usr/bin/env bash
# Installs what the extension-host test tier (npm run test:vscode) needs, offline from everything
# but the npm registry and Debian's packages: Debian's chromium, ripgrep, libkrb5-dev and a font,
# then code-server (a real VS Code server with a Node extension host) and playwright-core in
# test/vscode-host, apart from the extension's own dependencies.
#
# Idempotent: Debian packages are installed only when missing, and `npm ci` runs only when
# test/vscode-host/package-lock.json changed since the last good install (or with --force).
# Used by .ci/run and by developers. docs/testing.md says why each step is here.
set -euo pipefail

root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
host_dir=$root/test/vscode-host
stamp=$host_dir/node_modules/.agent-harness-install-stamp
started=$(date +%s)
force=0
[[ ${1:-} == --force ]] && force=1

say() { printf 'install-vscode-host: %s\n' "$*"; }
fail() {
  printf '\ninstall-vscode-host: FAILED: %s\n' "$*" >&2
  exit 1
}
elapsed() { echo "$(($(date +%s) - started))s"; }

# --- Debian packages -----------------------------------------------------------------------
# shellcheck source=lib/debian-packages.sh
source "$root/scripts/lib/debian-packages.sh"
ensure_debian_packages chromium libkrb5-dev ripgrep fonts-dejavu-core
[[ -x /usr/bin/chromium ]] || fail "/usr/bin/chromium is missing after installing the chromium package"
[[ -x /usr/bin/rg ]] || fail "/usr/bin/rg is missing after installing the ripgrep package"

# --- Node toolchain ------------------------------------------------------------------------
command -v node >/dev/null || fail "node is not on PATH"
node_major=$(node -p 'process.versions.node.split(".")[0]')
# code-server 4.100.x refuses any Node but 20 in its postinstall (and runs on it).
[[ $node_major == 20 ]] || fail "code-server 4.100.3 needs Node 20, this is $(node -v)"
for tool in npm make g++ python3; do
  command -v "$tool" >/dev/null || fail "$tool is missing (needed to build code-server's native modules)"
done

# --- code-server and playwright-core -------------------------------------------------------
lock_sum=$( (cat "$host_dir/package-lock.json"; node -v) | sha256sum | cut -d' ' -f1)
code_server_bin=$host_dir/node_modules/.bin/code-server
vscode_dir=$host_dir/node_modules/code-server/lib/vscode
installed_ok() {
  [[ -x $code_server_bin ]] &&
    [[ -x $vscode_dir/node_modules/@vscode/ripgrep/bin/rg ]] &&
    [[ -e $vscode_dir/node_modules.asar ]] &&
    [[ -f $vscode_dir/node_modules/node-pty/build/Release/pty.node ]] &&
    [[ -f $vscode_dir/node_modules/kerberos/build/Release/kerberos.node ]] &&
    [[ -d $host_dir/node_modules/playwright-core ]]
}
if ((!force)) && [[ -f $stamp && $(cat "$stamp") == "$lock_sum" ]] && installed_ok; then
  say "test/vscode-host is up to date (use --force to reinstall)"
else
  # @vscode/ripgrep's postinstall would download rg from GitHub, which is unreachable; it first
  # looks for $TMPDIR/vscode-ripgrep-cache-<its version>/<asset>, so put Debian's rg there.
  # The names belong to code-server 4.100.3's VS Code; bump them with code-server.
  case $(uname -m) in
    x86_64) rg_asset=ripgrep-v13.0.0-10-x86_64-unknown-linux-musl.tar.gz ;;
    aarch64) rg_asset=ripgrep-v13.0.0-10-aarch64-unknown-linux-musl.tar.gz ;;
    *) fail "no ripgrep asset name known for $(uname -m)" ;;
  esac
  install_tmp=$root/.run/install-tmp
  rm -rf "$install_tmp"
  mkdir -p "$install_tmp/vscode-ripgrep-cache-1.15.11"
  tar -czf "$install_tmp/vscode-ripgrep-cache-1.15.11/$rg_asset" -C /usr/bin rg

  say "npm ci in test/vscode-host (code-server builds its native modules: about a minute)"
  log=$root/.run/install-vscode-host.log
  # unsafe_perm: code-server's postinstall refuses to run as root without it.
  # yes: node-pty's postinstall runs `npx node-gyp`, which aborts when npx may not say yes.
  # nodedir: node-gyp would download Node's headers; Debian's nodejs ships them under /usr.
  nodedir=${npm_config_nodedir:-}
  [[ -z $nodedir && -f /usr/include/node/node.h ]] && nodedir=/usr
  if ! (
    cd "$host_dir" &&
      env TMPDIR="$install_tmp" npm_config_unsafe_perm=true npm_config_yes=true \
        ${nodedir:+npm_config_nodedir="$nodedir"} npm ci --no-audit --no-fund
  ) >"$log" 2>&1; then
    tail -n 40 "$log" >&2
    fail "npm ci in test/vscode-host failed; full log: $log"
  fi
  installed_ok || {
    tail -n 40 "$log" >&2
    fail "npm ci finished but code-server is incomplete (its bin, rg, node_modules.asar, node-pty or kerberos missing); log: $log"
  }
  echo "$lock_sum" >"$stamp"
  rm -rf "$install_tmp"
fi

version=$(node -p "require('$host_dir/node_modules/code-server/package.json').version")
say "ready: code-server $version, $(/usr/bin/chromium --version 2>/dev/null | head -n1), in $(elapsed)"
