#!/usr/bin/env bash
# Stage 1 of the VM lab image: a Debian stable root file system with the backports
# kernel, its headers and compiler, and the kernel source, from Debian's packages only.
#
#   scripts/vmlab/image-rootfs.sh        prints the rootfs directory (built if missing)
#
# Kept in the cache keyed by its recipe (rootfs_id); image.sh copies it and adds the rest.
set -euo pipefail
# shellcheck source=lib/common.sh
source "$(dirname -- "$(readlink -f -- "${BASH_SOURCE[0]}")")/lib/common.sh"

((EUID == 0)) || die "building the image needs root (debootstrap, chroot)"
command -v debootstrap >/dev/null || die "missing debootstrap (apt-get install debootstrap)"

ROOTFS="$VMLAB_CACHE/rootfs-$(rootfs_id)"
if [[ -f "$ROOTFS/.complete" ]]; then
  printf '%s\n' "$ROOTFS"
  exit 0
fi

mkdir -p -- "$VMLAB_CACHE"
build_once "$VMLAB_CACHE/.rootfs.lock" "$ROOTFS/.complete" "$ROOTFS"

WORK="$ROOTFS.partial"
build_in "$WORK" "$WORK"

MIRROR="$(vmlab_mirror)"
started=$(date +%s)
log "debootstrap $VMLAB_SUITE from $MIRROR (minutes on a cold cache)"
"${NICE[@]}" debootstrap --variant=minbase --include="$VMLAB_BASE_PACKAGES" \
  "$VMLAB_SUITE" "$WORK" "$MIRROR" >"$VMLAB_CACHE/debootstrap.log" 2>&1 ||
  die "debootstrap failed: see $VMLAB_CACHE/debootstrap.log (and $WORK/debootstrap/debootstrap.log)"
log "debootstrap done in $(($(date +%s) - started)) s"

cat >"$WORK/etc/apt/sources.list.d/debian.sources" <<EOF
Types: deb
URIs: $MIRROR
Suites: $VMLAB_SUITE $VMLAB_SUITE-updates $VMLAB_SUITE-backports
Components: main
Signed-By: /usr/share/keyrings/debian-archive-keyring.gpg
EOF
rm -f -- "$WORK/etc/apt/sources.list"
# Package scripts must not start services inside the chroot.
printf '#!/bin/sh\nexit 101\n' >"$WORK/usr/sbin/policy-rc.d"
chmod 755 "$WORK/usr/sbin/policy-rc.d"
# A small initramfs: the guest needs only its disk and root file system to mount /.
printf 'MODULES=list\nCOMPRESS=zstd\n' >"$WORK/etc/initramfs-tools/conf.d/hvnet-vmlab.conf"
printf 'virtio_pci\nvirtio_blk\next4\n' >>"$WORK/etc/initramfs-tools/modules"

chroot_mount "$WORK"
log "installing $VMLAB_BACKPORTS_PACKAGES from $VMLAB_SUITE-backports"
{
  chroot "$WORK" apt-get update -q &&
    DEBIAN_FRONTEND=noninteractive "${NICE[@]}" chroot "$WORK" apt-get install -y -q \
      --no-install-recommends -t "$VMLAB_SUITE-backports" $VMLAB_BACKPORTS_PACKAGES &&
    chroot "$WORK" apt-get clean
} >"$VMLAB_CACHE/apt.log" 2>&1 || die "installing the backports kernel failed: see $VMLAB_CACHE/apt.log"
chroot_umount "$WORK"

# The guest's host keys are made per lab, never baked into the image.
rm -f -- "$WORK"/etc/ssh/ssh_host_*
touch "$WORK/.complete"
rm -rf -- "$ROOTFS"
mv -- "$WORK" "$ROOTFS"
trap - EXIT
# Older recipes' root file systems are only ever read while building an image.
for old in "$VMLAB_CACHE"/rootfs-*; do
  [[ "$old" == "$ROOTFS" || ! -d "$old" ]] || rm -rf --one-file-system -- "$old"
done
log "rootfs $ROOTFS built in $(($(date +%s) - started)) s"
printf '%s\n' "$ROOTFS"
