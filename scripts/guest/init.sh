#!/bin/busybox sh
# /init of the test guest (busybox initramfs). Loads virtio-net, then serves the test over
# the serial console: each input line is "ID COMMAND"; the answer is the command's output
# between "@@BEGIN ID" and "@@END ID RC". Commands that start background work redirect it
# themselves, so a finished command never waits on them.
/bin/busybox --install -s /bin
export PATH=/bin:/sbin
mkdir -p /proc /sys /dev /tmp
mount -t proc proc /proc
mount -t sysfs sys /sys
mount -t devtmpfs dev /dev
mount -t bpf bpf /sys/fs/bpf 2>/dev/null
# Kernel messages would interleave with the answers on the same serial line.
dmesg -n 1
# virtio_pci is built into Debian's kernel; virtio_net and its failover helpers are modules.
for m in failover net_failover virtio_net; do
  insmod "/lib/modules/$m.ko" || echo "@@INIT insmod $m failed"
done
ip link set lo up
stty -echo 2>/dev/null
# ifname_of MAC: the guest's interface with that address (names depend on PCI order).
ifname_of() {
  for d in /sys/class/net/*; do
    [ "$(cat "$d/address")" = "$1" ] && { echo "${d##*/}"; return 0; }
  done
  return 1
}
echo "@@READY $(uname -r) cpus=$(grep -c ^processor /proc/cpuinfo)"
while read -r id cmd; do
  [ -n "$id" ] || continue
  eval "$cmd" >/tmp/out 2>&1
  rc=$?
  echo "@@BEGIN $id"
  cat /tmp/out
  echo "@@END $id $rc"
done
echo "@@EOF"
poweroff -f
