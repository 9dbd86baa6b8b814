#!/usr/bin/env bash
# Debian packages hvnet needs to build, test and run its lab. Quick when already installed.
# sudo: the lab's non-root deploy user (scripts/lab.sh up --user-mode sudo) runs the
# launcher through it, as hosts deployed by a non-root user do. debootstrap and qemu: the VM
# lab (Linux 7.x guests under software emulation, scripts/vmlab); busybox-static, gcc and
# libc6-dev: the small guest booted on hvnet's taps (scripts/guest, test/guest).
set -euo pipefail
packages=(clang llvm libbpf-dev libbpf1 bpftool iproute2 ethtool openssh-server openssh-client
          jq gcc-multilib libelf-dev util-linux iputils-ping sudo python3 tmux
          debootstrap qemu-system-x86 qemu-utils busybox-static gcc libc6-dev xz-utils)
missing=()
for p in "${packages[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
if ((${#missing[@]})); then
  echo "installing Debian packages: ${missing[*]}"
  sudo=""; [ "$(id -u)" -eq 0 ] || sudo="sudo"
  $sudo apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq --no-install-recommends "${missing[@]}"
fi
# Debian installs sshd enabled; the lab runs its own sshd instances and never needs the system one.
node -e 'const [a]=process.versions.node.split(".");if(+a<20){console.error("Node >= 20 required, found "+process.version);process.exit(1)}'
