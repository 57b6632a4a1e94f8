#!/usr/bin/env bash
# Installs a netsensor arm64 bundle (made by deploy/package.sh) on a 64-bit Raspberry Pi OS / Debian machine.
# Run from the unpacked bundle:   sudo ./install.sh [--sensor] [--gateway] [--start]
#   --sensor    enable netsensor-sensor.service   (live capture; needs tcpdump)
#   --gateway   enable netsensor-gateway.service  (broker, store, dashboard)
#   --start     start the enabled services now
# Without --sensor/--gateway the files are installed and nothing is enabled. Re-running upgrades the program
# in /opt/netsensor and keeps /etc/netsensor and /var/lib/netsensor as they are.
set -euo pipefail

PREFIX=/opt/netsensor
CONF=/etc/netsensor
HERE="$(cd "$(dirname "$0")" && pwd)"
enable=()
start=0
for a in "$@"; do
  case "$a" in
    --sensor) enable+=(netsensor-sensor.service) ;;
    --gateway) enable+=(netsensor-gateway.service) ;;
    --start) start=1 ;;
    -h|--help) sed -n '2,9p' "$0"; exit 0 ;;
    *) echo "install.sh: unknown option $a" >&2; exit 2 ;;
  esac
done

say() { printf 'netsensor install: %s\n' "$*"; }
[ "$(id -u)" = 0 ] || { say "run as root (sudo ./install.sh)"; exit 1; }
case "$(uname -m)" in
  aarch64|arm64) ;;
  *) say "this bundle is for 64-bit ARM (aarch64); this machine is $(uname -m)"; exit 1 ;;
esac
[ -x "$HERE/node/bin/node" ] && [ -f "$HERE/dist/cli/main.js" ] || { say "run me from the unpacked bundle"; exit 1; }
# The bundled Node is the check that matters: it fails here, not later under systemd, on a 32-bit userland
# or an old glibc.
(cd "$HERE" && ./node/bin/node -e 'require("./node_modules/better-sqlite3"); require("./node_modules/onnxruntime-node")') \
  || { say "the bundled runtime does not start on this machine (64-bit OS with glibc ≥ 2.28 needed)"; exit 1; }

# Program: replace /opt/netsensor as a whole (new directory, then a rename), so a failed copy leaves the old one.
say "installing the program in $PREFIX"
rm -rf "$PREFIX.new"
mkdir -p "$PREFIX.new"
cp -a "$HERE/." "$PREFIX.new/"
if [ -d "$PREFIX" ]; then rm -rf "$PREFIX.old"; mv "$PREFIX" "$PREFIX.old"; fi
mv "$PREFIX.new" "$PREFIX"
rm -rf "$PREFIX.old"
chown -R root:root "$PREFIX"
ln -sf "$PREFIX/bin/netsensor" /usr/local/bin/netsensor

# User: systemd-sysusers when present (the declarative way), useradd otherwise.
install -D -m 0644 "$PREFIX/deploy/systemd/netsensor.sysusers.conf" /usr/lib/sysusers.d/netsensor.conf
if command -v systemd-sysusers >/dev/null; then
  systemd-sysusers /usr/lib/sysusers.d/netsensor.conf
elif ! id netsensor >/dev/null 2>&1; then
  useradd --system --home-dir /var/lib/netsensor --no-create-home --shell /usr/sbin/nologin netsensor
fi

# Configuration: examples only where nothing exists yet; the API token is generated here, never shipped.
install -d -m 0750 -o root -g netsensor "$CONF"
for f in sensor.json gateway.json; do
  if [ ! -e "$CONF/$f" ]; then
    install -m 0640 -o root -g netsensor "$PREFIX/deploy/config/$f" "$CONF/$f"
    case "$f" in
      sensor.json) say "wrote $CONF/$f (edit it: sensor id, capture interface, broker address)" ;;
      gateway.json) say "wrote $CONF/$f (edit it: listen addresses, retention; add mqtt.credentialsFile for remote sensors)" ;;
    esac
  fi
done
if ! grep -q '"token"' "$CONF/gateway.json"; then
  "$PREFIX/node/bin/node" -e '
    const fs = require("fs"), file = process.argv[1];
    const c = JSON.parse(fs.readFileSync(file, "utf8"));
    c.http = { ...(c.http || {}), token: require("crypto").randomBytes(24).toString("hex") };
    fs.writeFileSync(file, JSON.stringify(c, null, 2) + "\n");' "$CONF/gateway.json"
  say "generated an HTTP API token in $CONF/gateway.json (dashboard: Authorization: Bearer <token>)"
fi
install -d -m 0750 -o netsensor -g netsensor /var/lib/netsensor

install -m 0644 "$PREFIX/deploy/systemd/netsensor-sensor.service" "$PREFIX/deploy/systemd/netsensor-gateway.service" \
  /etc/systemd/system/
if [ ! -d /run/systemd/system ]; then
  # A container or chroot: the files are in place, there is just no service manager to tell.
  say "systemd is not running here: units installed in /etc/systemd/system, nothing enabled or started"
  enable=()
else
  systemctl daemon-reload
fi

for u in ${enable[@]+"${enable[@]}"}; do
  if [ "$u" = netsensor-sensor.service ] && ! command -v tcpdump >/dev/null; then
    say "live capture runs tcpdump: installing it"
    apt-get install -y --no-install-recommends tcpdump
  fi
  systemctl enable "$u"
  [ "$start" = 1 ] && systemctl restart "$u"
done
say "done. $("$PREFIX/bin/netsensor" --version | sed 's/^/version /')"
say "logs: journalctl -u netsensor-sensor -u netsensor-gateway -f"
