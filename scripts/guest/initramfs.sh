#!/usr/bin/env bash
# Builds the test guest: the VM lab's Debian kernel (scripts/vmlab builds it) with a busybox
# initramfs holding virtio_net, our static xdp-attach and udp tools, and init.sh. The result
# goes to ~/.cache/hvnet/guest/<hash of every input>/ and is reused while the inputs stay the
# same. Prints that directory (vmlinuz, initramfs.cpio.gz).
#
# Needs: the VM lab image (scripts/vmlab/image.sh, built if missing), busybox-static (its cpio packs the
# initramfs), gcc with static libc, xz. HVNET_GUEST_KERNEL / HVNET_GUEST_MODULES override where the
# kernel image and its /lib/modules/<version> directory are taken from.
set -euo pipefail
die() { printf 'guest: error: %s\n' "$*" >&2; exit 1; }

HERE="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
SRC="$(cd "$HERE/../../test/guest" && pwd)"
CACHE="${HVNET_GUEST_CACHE:-$HOME/.cache/hvnet/guest}"
BUSYBOX="${HVNET_GUEST_BUSYBOX:-/bin/busybox}"

for tool in gcc xz gzip sha256sum; do
  command -v "$tool" >/dev/null || die "$tool is missing (setup: apt-get install -y gcc libc6-dev xz-utils)"
done
# Static: the initramfs has no libc. (ldd lists no "=>" line for a static binary.)
[[ -x "$BUSYBOX" ]] && ! ldd "$BUSYBOX" 2>/dev/null | grep -q '=>' ||
  die "$BUSYBOX is not a static busybox (setup: apt-get install -y busybox-static)"

KERNEL="${HVNET_GUEST_KERNEL:-}"
MODULES="${HVNET_GUEST_MODULES:-}"
if [[ -z "$KERNEL" || -z "$MODULES" ]]; then
  # The VM lab's own scripts say where its kernel and root file system are (building them
  # on a cold machine: minutes, once; the VM lab tests share the result).
  VMLAB="$HERE/../vmlab"
  img="$("$VMLAB/image.sh")" || die "the VM lab image could not be built (scripts/vmlab/image.sh)"
  kver="$(sed -n 's/^KERNEL=//p' "$img/image.env")"
  KERNEL="${KERNEL:-$img/vmlinuz}"
  if [[ -z "$MODULES" ]]; then
    rootfs="$("$VMLAB/image-rootfs.sh")" || die "the VM lab root file system is missing (scripts/vmlab/image-rootfs.sh)"
    MODULES="$rootfs/lib/modules/$kver"
  fi
fi
[[ -f "$KERNEL" ]] || die "guest kernel $KERNEL is missing"
[[ -n "$MODULES" && -f "$MODULES/modules.dep" ]] || die "no modules directory for the guest kernel (set HVNET_GUEST_MODULES)"

MODS=(failover net_failover virtio_net)
mod_path() {
  local p
  p="$(grep -E "(^|/)$1\.ko(\.xz|\.zst|\.gz)?:" "$MODULES/modules.dep" | cut -d: -f1 | head -n1)"
  [[ -n "$p" ]] || die "module $1 is not in $MODULES (is it built in? then drop it from MODS)"
  printf '%s/%s\n' "$MODULES" "$p"
}

hash="$({
  sha256sum "$KERNEL" "$BUSYBOX" "$HERE/init.sh" "$HERE/initramfs.sh" "$SRC/xdp-attach.c" "$SRC/udp.c"
  for m in "${MODS[@]}"; do sha256sum "$(mod_path "$m")"; done
} | awk '{print $1}' | sha256sum | cut -c1-16)"
OUT="$CACHE/$hash"
if [[ -f "$OUT/.complete" ]]; then
  printf '%s\n' "$OUT"
  exit 0
fi

mkdir -p -- "$CACHE"
WORK="$(mktemp -d "$CACHE/.build.XXXXXX")"
trap 'rm -rf -- "$WORK"' EXIT
R="$WORK/root"
mkdir -p "$R"/{bin,sbin,dev,proc,sys,tmp,lib/modules}
cp -- "$BUSYBOX" "$R/bin/busybox"
install -m 755 "$HERE/init.sh" "$R/init"
gcc -static -O2 -Wall -o "$R/bin/xdp-attach" "$SRC/xdp-attach.c"
gcc -static -O2 -Wall -o "$R/bin/udp" "$SRC/udp.c"
for m in "${MODS[@]}"; do
  p="$(mod_path "$m")"
  case "$p" in
    *.xz) xz -dc -- "$p" >"$R/lib/modules/$m.ko" ;;
    *.zst) zstd -dc -- "$p" >"$R/lib/modules/$m.ko" ;;
    *.gz) gzip -dc -- "$p" >"$R/lib/modules/$m.ko" ;;
    *) cp -- "$p" "$R/lib/modules/$m.ko" ;;
  esac
done
mkdir -p "$WORK/out"
cp -- "$KERNEL" "$WORK/out/vmlinuz"
(cd "$R" && find . | LC_ALL=C sort | "$BUSYBOX" cpio -o -H newc 2>/dev/null) | gzip -1 >"$WORK/out/initramfs.cpio.gz"
# The udp tool also runs on the host side of the test (the lab's external namespace).
cp -- "$R/bin/udp" "$WORK/out/udp"
touch "$WORK/out/.complete"
rm -rf -- "$OUT"
mv -- "$WORK/out" "$OUT"
printf '%s\n' "$OUT"
