# Sourced by the install scripts. ensure_debian_packages PKG...: installs those of the Debian
# packages that are missing (as root, or through password-less sudo). The caller defines
# `say MESSAGE` and `fail MESSAGE` (which must not return).
ensure_debian_packages() {
  local missing=() pkg
  for pkg in "$@"; do
    dpkg-query -W -f='${Status}' "$pkg" 2>/dev/null | grep -q 'install ok installed' || missing+=("$pkg")
  done
  if ((${#missing[@]} == 0)); then
    say "Debian packages present: $*"
    return
  fi
  command -v apt-get >/dev/null || fail "missing ${missing[*]} and no apt-get here: install them (Debian names) by hand"
  local as_root=()
  if [[ $(id -u) -ne 0 ]]; then
    if command -v sudo >/dev/null && sudo -n true 2>/dev/null; then
      as_root=(sudo -n)
    else
      fail "missing Debian packages: ${missing[*]}. Run as root (or with password-less sudo): apt-get update && apt-get install -y ${missing[*]}"
    fi
  fi
  say "apt-get install ${missing[*]}"
  "${as_root[@]}" env DEBIAN_FRONTEND=noninteractive apt-get update -qq || fail "apt-get update failed"
  "${as_root[@]}" env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null ||
    fail "apt-get install ${missing[*]} failed"
}
