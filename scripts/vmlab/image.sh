#!/usr/bin/env bash
# The VM lab's base image: Debian stable + backports kernel (image-rootfs.sh), netdevsim
# built for that kernel with our RSS/ntuple bookkeeping (netdevsim/), the kernel's ynl
# CLI, the guest's init and sshd setup, as one ext4 disk with its kernel and initramfs.
#
#   scripts/vmlab/image.sh        prints the image directory (built if missing)
#
# The directory is ~/.cache/hvnet/vmlab/<image-id>/, the id a hash of the whole recipe:
# a changed recipe builds a new image, an unchanged one is reused as it is.
set -euo pipefail
# shellcheck source=lib/common.sh
source "$(dirname -- "$(readlink -f -- "${BASH_SOURCE[0]}")")/lib/common.sh"

((EUID == 0)) || die "building the image needs root (chroot, mkfs)"
for t in mkfs.ext4 tar ssh-keygen; do
  command -v "$t" >/dev/null || die "missing command '$t'"
done

IMG="$VMLAB_CACHE/$(image_id)"
if [[ -f "$IMG/image.env" ]]; then
  printf '%s\n' "$IMG"
  exit 0
fi

ROOTFS="$("$VMLAB_DIR/image-rootfs.sh")"
build_once "$VMLAB_CACHE/.image.lock" "$IMG/image.env" "$IMG"

WORK="$IMG.partial"
R="$WORK/rootfs"
build_in "$WORK" "$R"
started=$(date +%s)
mkdir -p -- "$WORK"
cp -a -- "$ROOTFS" "$R"
rm -f -- "$R/.complete"

KVER="$(ls -- "$R/lib/modules" | sort -V | tail -n1)"
[[ -n "$KVER" && -d "$R/lib/modules/$KVER/build" ]] || die "no kernel with headers in $ROOTFS"
kmaj="${KVER%%.*}"
kmin="${KVER#*.}"
kmin="${kmin%%.*}"
((kmaj > 7 || (kmaj == 7 && kmin >= 1))) ||
  die "$VMLAB_SUITE-backports gave Linux $KVER; the VM lab needs >= 7.1 (netkit queue leases)"
log "kernel $KVER"

# Only the parts of Debian's kernel source the lab needs: netdevsim, and ynl with its
# specs (iproute2 in $VMLAB_SUITE cannot make a single netkit device; ynl can).
src_tar="$(ls -- "$R"/usr/src/linux-source-*.tar.* | head -n1)"
[[ -f "$src_tar" ]] || die "linux-source is not installed in $ROOTFS"
top="$(basename -- "$src_tar")"
top="${top%.tar.*}"
mkdir -p -- "$WORK/src"
"${NICE[@]}" tar -xf "$src_tar" -C "$WORK/src" \
  "$top/drivers/net/netdevsim" "$top/tools/net/ynl" "$top/Documentation/netlink"
NSIM="$R/usr/src/hvnet-netdevsim"
cp -a -- "$WORK/src/$top/drivers/net/netdevsim" "$NSIM"
"$VMLAB_DIR/netdevsim/hook.sh" "$NSIM"
mkdir -p -- "$R/usr/local/share/hvnet-vmlab/ynl/tools/net" "$R/usr/local/share/hvnet-vmlab/ynl/Documentation"
cp -a -- "$WORK/src/$top/tools/net/ynl" "$R/usr/local/share/hvnet-vmlab/ynl/tools/net/"
cp -a -- "$WORK/src/$top/Documentation/netlink" "$R/usr/local/share/hvnet-vmlab/ynl/Documentation/"
rm -f -- "$src_tar"
rm -rf -- "$WORK/src"

# Built inside the guest's own file system with the compiler Debian built the kernel with
# (linux-headers pulls it in), so the module's vermagic matches the kernel.
chroot_mount "$R"
log "building netdevsim (with our RSS/ntuple bookkeeping) for $KVER"
"${NICE[@]}" chroot "$R" make -C "/lib/modules/$KVER/build" M=/usr/src/hvnet-netdevsim \
  CONFIG_NETDEVSIM=m modules >"$WORK/netdevsim-build.log" 2>&1 || {
  cp -f -- "$WORK/netdevsim-build.log" "$VMLAB_CACHE/netdevsim-build.log"
  die "building netdevsim failed: see $VMLAB_CACHE/netdevsim-build.log"
}
install -D -m 644 "$NSIM/netdevsim.ko" "$R/lib/modules/$KVER/updates/netdevsim.ko"
chroot "$R" depmod -a "$KVER"
chroot_umount "$R"
rm -rf -- "$NSIM"

# Guest setup. The bootstrap keys only ever let the host install a lab's own keys
# (hvnet-vmlab-rekey); they stay in the cache, readable by root only.
install -m 755 "$VMLAB_DIR/guest/hvnet-vmlab-init" "$R/sbin/hvnet-vmlab-init"
install -m 755 "$VMLAB_DIR/guest/hvnet-vmlab-rekey" "$R/usr/local/sbin/hvnet-vmlab-rekey"
install -m 755 "$VMLAB_DIR/guest/ynl" "$R/usr/local/bin/ynl"
install -m 644 "$VMLAB_DIR/guest/sshd_config" "$R/etc/ssh/sshd_config.d/hvnet-vmlab.conf"
mkdir -p -- "$R/etc/hvnet-vmlab"
printf '%s\n' "$VMLAB_NSIM_QUEUES" >"$R/etc/hvnet-vmlab/nsim-queues"
printf 'vmlab\n' >"$R/etc/hostname"
printf '127.0.0.1 localhost\n127.0.1.1 vmlab\n' >"$R/etc/hosts"
ssh-keygen -q -t ed25519 -N "" -C "hvnet-vmlab bootstrap" -f "$WORK/bootstrap_id_ed25519"
ssh-keygen -q -t ed25519 -N "" -C "hvnet-vmlab bootstrap host" -f "$WORK/bootstrap_host_ed25519_key"
install -m 600 "$WORK/bootstrap_host_ed25519_key" "$R/etc/ssh/ssh_host_ed25519_key"
install -m 644 "$WORK/bootstrap_host_ed25519_key.pub" "$R/etc/ssh/ssh_host_ed25519_key.pub"
install -d -m 700 "$R/root/.ssh"
install -m 600 "$WORK/bootstrap_id_ed25519.pub" "$R/root/.ssh/authorized_keys"
rm -f -- "$WORK/bootstrap_host_ed25519_key"

cp -- "$R/boot/vmlinuz-$KVER" "$WORK/vmlinuz"
cp -- "$R/boot/initrd.img-$KVER" "$WORK/initrd.img"
log "making the disk image"
# stdout carries only the image path (callers capture it).
"${NICE[@]}" mkfs.ext4 -q -F -L hvnet-vmlab -d "$R" "$WORK/base.img" 4G >&2
rm -rf --one-file-system -- "$R"
chmod 700 "$WORK"

# Written last: its presence marks a finished image.
printf 'IMAGE_ID=%s\nKERNEL=%s\nSUITE=%s\nNSIM_QUEUES=%s\nBUILT=%s\n' \
  "$(basename -- "$IMG")" "$KVER" "$VMLAB_SUITE" "$VMLAB_NSIM_QUEUES" "$(date -u +%FT%TZ)" >"$WORK/image.env"
rm -rf -- "$IMG"
mv -- "$WORK" "$IMG"
trap - EXIT
log "image $IMG (Linux $KVER) built in $(($(date +%s) - started)) s"
printf '%s\n' "$IMG"
