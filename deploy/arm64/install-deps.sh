#!/usr/bin/env bash
# Installs netsensor's production dependencies for arm64 inside the root, with the arm64 Node under qemu:
# `npm ci --omit=dev` from the project's lockfile, then the native module (better-sqlite3) compiled from
# source there (its prebuilt binaries are not downloadable, and a build on the target CPU is what a Pi does).
# Skipped when package-lock.json has not changed since the last successful run.
# Usage: deploy/arm64/install-deps.sh        (after prepare-root.sh)
source "$(dirname "$0")/lib.sh"
require_root_user
ensure_binfmt
[ -x "$ROOT/usr/local/bin/npm" ] || die "no npm in $ROOT: run deploy/arm64/prepare-root.sh first"

mkdir -p "$APP"
stamp="$APP/.netsensor-deps"
want="$(cat "$REPO/package-lock.json" "$REPO/.npmrc" | sha256sum | cut -d' ' -f1) node-$NODE_VERSION"
if [ -f "$stamp" ] && [ "$(cat "$stamp")" = "$want" ] && [ -d "$APP/node_modules/better-sqlite3/build" ]; then
  log "arm64 production dependencies are current (package-lock.json unchanged)"
  exit 0
fi
rm -f "$stamp"
cp "$REPO/package.json" "$REPO/package-lock.json" "$REPO/.npmrc" "$APP/"

t0=$(date +%s.%N)
# --ignore-scripts: the project's own `prepare` builds TypeScript and WASM, which need dev dependencies and
# are architecture-independent (dist/ and build/*.wasm are copied from the x86 build).
log "npm ci --omit=dev under qemu ($QEMU_CPU)"
in_root /usr/bin/nice -n 10 /bin/sh -c "cd $APP_IN_ROOT && npm ci --omit=dev --ignore-scripts --no-audit --no-fund" >&2
t_ci="$(elapsed "$t0")"
log "npm ci done in $t_ci s"

t1=$(date +%s.%N)
log "building better-sqlite3 from source under qemu (node-gyp, g++)"
in_root /usr/bin/nice -n 10 /bin/sh -c "cd $APP_IN_ROOT && npm rebuild better-sqlite3 --foreground-scripts" >&2
t_native="$(elapsed "$t1")"
log "better-sqlite3 built in $t_native s"
# cbor-x uses its native extractor when present and falls back to JavaScript otherwise: a failure is not fatal.
if ! in_root /usr/bin/nice -n 10 /bin/sh -c "cd $APP_IN_ROOT && npm rebuild cbor-extract" >&2; then
  log "cbor-extract did not build: cbor-x will use its JavaScript decoder"
fi

# The native module must load on the emulated CPU, not just compile.
in_root /usr/local/bin/node -e "
  const D = require('$APP_IN_ROOT/node_modules/better-sqlite3');
  const db = new D(':memory:');
  if (db.prepare('select 40 + 2 as x').get().x !== 42) process.exit(1);
" || die "better-sqlite3 built but does not run under $QEMU_CPU"

echo "$want" > "$stamp"
printf '{"npm_ci_s": %s, "better_sqlite3_build_s": %s}\n' "$t_ci" "$t_native" > "$STATE/arm64-deps-timing.json"
log "arm64 dependencies ready in $APP"
