# shellcheck shell=bash
# Names, paths and small helpers shared by the VM lab scripts (scripts/vmlab/*.sh).

log() { printf 'vmlab: %s\n' "$*" >&2; }
die() { printf 'vmlab: error: %s\n' "$*" >&2; exit 1; }

VMLAB_LIB="$(dirname -- "$(readlink -f -- "${BASH_SOURCE[0]}")")"
VMLAB_DIR="$(dirname -- "$VMLAB_LIB")"
VMLAB_REPO="$(dirname -- "$(dirname -- "$VMLAB_DIR")")"
VMLAB_CACHE="${HVNET_VMLAB_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/hvnet/vmlab}"

# Debian stable with the kernel from its backports: the first suite that carries
# Linux >= 7.1 (KERNEL.md, "A lab host on Linux 7.x").
readonly VMLAB_SUITE=trixie
# Packages of the guest. Changing this list (or any file the image is made from)
# changes the image id, so the next `image` builds a new one.
readonly VMLAB_BASE_PACKAGES="openssh-server,iproute2,ethtool,nodejs,libbpf1,bpftool,python3,python3-yaml,kmod,initramfs-tools,procps,make,xz-utils,zstd,iputils-ping"
readonly VMLAB_BACKPORTS_PACKAGES="linux-image-amd64 linux-headers-amd64 linux-source"
# netdevsim device made at boot: id 1, one port, this many rx/tx queues.
readonly VMLAB_NSIM_QUEUES=8

# Every run niced: the machine is shared with other test runs.
NICE=(nice -n 10)

# vmlab_mirror: the Debian mirror this machine's apt uses (no other network exists
# here). HVNET_VMLAB_MIRROR overrides it.
vmlab_mirror() {
  if [[ -n "${HVNET_VMLAB_MIRROR:-}" ]]; then
    printf '%s\n' "$HVNET_VMLAB_MIRROR"
    return 0
  fi
  local url
  url="$(cat /etc/apt/sources.list /etc/apt/sources.list.d/*.list /etc/apt/sources.list.d/*.sources 2>/dev/null |
    grep -oE '(https?)://[^ ]+/debian/?( |$)' | grep -v -- '-security' | head -n1 | tr -d ' ')" || true
  [[ -n "$url" ]] || die "no Debian mirror in /etc/apt/sources.list*: set HVNET_VMLAB_MIRROR=http://.../debian"
  printf '%s\n' "${url%/}"
}

# hash_files FILE...: one short hash over the names and contents of FILEs.
hash_files() {
  local f
  for f in "$@"; do
    printf '%s\n' "${f#"$VMLAB_DIR"/}"
    cat -- "$f"
  done | sha256sum | cut -c1-16
}

# The rootfs stage (debootstrap + packages) is keyed by what goes into it only, so a
# change to the netdevsim code or the init script does not download Debian again.
rootfs_id() {
  printf '%s\n%s\n%s\n' "$VMLAB_SUITE" "$VMLAB_BASE_PACKAGES" "$VMLAB_BACKPORTS_PACKAGES" |
    cat - "$VMLAB_DIR/image-rootfs.sh" | sha256sum | cut -c1-16
}

# The image id covers the whole recipe: the rootfs stage and every file added after it.
image_id() {
  {
    rootfs_id
    printf 'queues=%s\n' "$VMLAB_NSIM_QUEUES"
    hash_files "$VMLAB_DIR/image.sh" "$VMLAB_DIR"/guest/* "$VMLAB_DIR"/netdevsim/*
  } | sha256sum | cut -c1-16
}

# Chroot mounts for apt and module builds; always undone by chroot_umount.
chroot_mount() {
  local root="$1"
  mount -t proc proc "$root/proc"
  mount -t sysfs sysfs "$root/sys"
  mount --bind /dev "$root/dev"
  mount --bind /dev/pts "$root/dev/pts"
}

chroot_umount() {
  local root="$1" mp
  for mp in dev/pts dev sys proc; do
    if mountpoint -q -- "$root/$mp"; then umount -l -- "$root/$mp" || log "cannot unmount $root/$mp"; fi
  done
}

# build_once LOCK DONE OUTPUT: one build at a time per cache (another build may run from
# another clone or test); when DONE exists the thing is built: print OUTPUT and exit.
build_once() {
  exec 8>"$1"
  flock -w 1800 8 || die "timed out waiting for another image build to finish"
  if [[ -f "$2" ]]; then
    printf '%s\n' "$3"
    exit 0
  fi
}

# build_in WORK CHROOT: builds happen in WORK, removed (CHROOT's mounts first) however
# the script ends; a WORK left by a killed build is removed now.
build_in() {
  BUILD_WORK="$1"
  BUILD_CHROOT="$2"
  trap 'chroot_umount "$BUILD_CHROOT"; rm -rf --one-file-system -- "$BUILD_WORK"' EXIT
  trap 'exit 143' TERM
  trap 'exit 130' INT
  chroot_umount "$BUILD_CHROOT"
  rm -rf --one-file-system -- "$BUILD_WORK"
}
