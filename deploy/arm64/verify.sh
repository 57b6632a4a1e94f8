#!/usr/bin/env bash
# `npm run test:arm64`: shows that netsensor runs on a Raspberry Pi 4's CPU, not just that it compiles.
#   1. prepare or reuse a Debian bookworm arm64 root with Node ≥ 20 for arm64    (prepare-root.sh)
#   2. `npm ci --omit=dev` there under qemu, building better-sqlite3 from source  (install-deps.sh)
#   3. build on this machine (TypeScript and WASM are architecture-independent) and copy dist/, the WASM
#      core and the models into the root
#   4. run the same smoke (smoke.mjs: flows, detect, direct ONNX inference, SQLite, sensor → MQTT) natively
#      and under qemu-aarch64 with QEMU_CPU=cortex-a72, then compare the two reports (compare.mjs)
# Not part of `npm test`: the first run takes tens of minutes (debootstrap and a C++ build under emulation).
#
# Usage: deploy/arm64/verify.sh [--no-build] [--model FILE] [CAPTURE…]
#   --model FILE  check this detection model instead of the shipped models/netsensor-detect.onnx
#   CAPTURE defaults to two public captures in ../shared/pcaps next to the repository (an nmap SYN scan, web browsing)
#   and a spoofed SYN flood of 130,000 flows recorded here with hping3 and tcpdump (make-flood-capture.sh, kept in
#   .state/); NETSENSOR_SMOKE_PCAPS (space-separated) does the same. Settings: deploy/arm64/lib.sh.
source "$(dirname "$0")/lib.sh"
require_root_user

build=1
model=""
pcaps=()
while [ $# -gt 0 ]; do
  a="$1"; shift
  case "$a" in
    --no-build) build=0 ;;
    --model) model="$(realpath "$1")"; shift ;;
    -h|--help) sed -n '2,16p' "$0"; exit 0 ;;
    *) pcaps+=("$(realpath "$a")") ;;
  esac
done
if [ ${#pcaps[@]} -eq 0 ]; then
  if [ -n "${NETSENSOR_SMOKE_PCAPS:-}" ]; then
    read -r -a pcaps <<< "$NETSENSOR_SMOKE_PCAPS"
  else
    flood="$STATE/arm64-synflood-130k.pcap"
    mkdir -p "$STATE"
    if [ ! -s "$flood" ]; then
      log "recording a 130,000-flow SYN flood (hping3 → tcpdump between two network namespaces)"
      "$REPO/deploy/arm64/make-flood-capture.sh" "$flood.tmp" 130000 >/dev/null && mv "$flood.tmp" "$flood"
    fi
    pcaps=("$REPO/../shared/pcaps/chrissanders-packets/synscan.pcapng" "$REPO/../shared/pcaps/chrissanders-packets/http_espn.pcapng" "$flood")
  fi
fi
for p in "${pcaps[@]}"; do [ -f "$p" ] || die "capture not found: $p"; done

t_all=$(date +%s.%N)
t=$(date +%s.%N); "$REPO/deploy/arm64/prepare-root.sh"; t_prepare="$(elapsed "$t")"
t=$(date +%s.%N); "$REPO/deploy/arm64/install-deps.sh"; t_deps="$(elapsed "$t")"

if [ "$build" = 1 ]; then
  t=$(date +%s.%N); log "npm run build (x86)"; (cd "$REPO" && npm run --silent build >&2); t_build="$(elapsed "$t")"
else
  t_build=0
fi
[ -f "$REPO/dist/cli/main.js" ] && [ -f "$REPO/build/netsensor.wasm" ] && [ -f "$REPO/build/netsensor-format.wasm" ] || die "no build: run npm run build"

log "copying the build into $APP"
rm -rf "$APP/dist" "$APP/build" "$APP/models" "$APP/deploy"
mkdir -p "$APP/build" "$APP/models" "$APP/deploy/arm64"
cp -a "$REPO/dist" "$APP/dist"
cp "$REPO/build/netsensor.wasm" "$REPO/build/netsensor-format.wasm" "$APP/build/"
cp "$REPO/package.json" "$APP/"
find "$REPO/models" -maxdepth 1 -type f \( -name '*.onnx' -o -name '*.json' -o -name '*.md' \) -exec cp {} "$APP/models/" \;
cp "$REPO/deploy/arm64/smoke.mjs" "$APP/deploy/arm64/"
rm -rf "$ROOT/opt/smoke"
mkdir -p "$ROOT/opt/smoke/pcaps"
root_pcaps=()
for p in "${pcaps[@]}"; do cp "$p" "$ROOT/opt/smoke/pcaps/"; root_pcaps+=(--pcap "/opt/smoke/pcaps/$(basename "$p")"); done
host_pcaps=()
for p in "${pcaps[@]}"; do host_pcaps+=(--pcap "$p"); done
if [ -n "$model" ]; then
  cp "$model" "$ROOT/opt/smoke/"
  root_pcaps+=(--model "/opt/smoke/$(basename "$model")")
  host_pcaps+=(--model "$model")
fi

x64_report="$STATE/smoke-x64.json"
arm_report="$STATE/smoke-arm64.json"
smoke_rc=0
t=$(date +%s.%N); log "smoke on this machine ($(uname -m))"
node "$REPO/deploy/arm64/smoke.mjs" --app "$REPO" "${host_pcaps[@]}" --out "$x64_report" || smoke_rc=$?
t_x64="$(elapsed "$t")"
t=$(date +%s.%N); log "smoke under qemu-aarch64, QEMU_CPU=$QEMU_CPU"
in_root /usr/bin/nice -n 10 /usr/local/bin/node "$APP_IN_ROOT/deploy/arm64/smoke.mjs" --app "$APP_IN_ROOT" \
  "${root_pcaps[@]}" --out /opt/smoke/report.json || smoke_rc=$?
t_arm="$(elapsed "$t")"
[ -f "$ROOT/opt/smoke/report.json" ] || die "the arm64 smoke wrote no report"
cp "$ROOT/opt/smoke/report.json" "$arm_report"

compare_rc=0
node "$REPO/deploy/arm64/compare.mjs" "$x64_report" "$arm_report" | tee "$STATE/arm64-compare.txt" || compare_rc=$?
cat > "$STATE/arm64-verify.json" <<EOF
{"qemu_cpu": "$QEMU_CPU", "node": "$NODE_VERSION", "prepare_root_s": $t_prepare, "install_deps_s": $t_deps,
 "build_x64_s": $t_build, "smoke_x64_s": $t_x64, "smoke_arm64_s": $t_arm, "total_s": $(elapsed "$t_all"),
 "smoke_rc": $smoke_rc, "compare_rc": $compare_rc}
EOF
log "timings: prepare ${t_prepare}s, deps ${t_deps}s, build ${t_build}s, smoke x64 ${t_x64}s, smoke arm64 ${t_arm}s"
[ "$smoke_rc" = 0 ] && [ "$compare_rc" = 0 ] || die "arm64 verification failed (smoke rc $smoke_rc, compare rc $compare_rc)"
log "arm64 verification passed"
