# shellcheck shell=bash
# Mount side of the lab: each host's own mount namespace, kept alive by binding it onto
# a file under DIR/ns (no keeper process needed), in which /sys, /sys/fs/bpf, /run and
# /var/lib/hvnet belong to that host alone.

# A mount-namespace file can only be bound where mounts do not propagate (else the
# binding would propagate into the namespace it names). On systemd machines / is shared,
# so DIR/ns becomes a private bind mount of itself, as unshare(1) documents.
ns_dir_prepare() {
  mkdir -p -- "$NS_DIR"
  if ! mountpoint -q -- "$NS_DIR"; then
    mount --bind -- "$NS_DIR" "$NS_DIR"
  fi
  mount --make-private -- "$NS_DIR"
}

# mounts_make_host I: new mount namespace entered from the host's network namespace (so
# its sysfs shows that namespace's links), populated by `lab.sh _host-mounts`.
mounts_make_host() {
  local i="$1" hd mntns
  hd="$(host_dir "$i")"
  mntns="$(host_mntns "$i")"
  mkdir -p -- "$hd/var-lib-hvnet"
  : >"$mntns"
  # The mount point must exist on the shared root filesystem. It is the product's own
  # state directory and stays (empty) after `down`: removing it could detach the
  # /var/lib/hvnet of another lab that is still up.
  mkdir -p /var/lib/hvnet
  nsenter --net="/run/netns/$(host_ns "$i")" -- \
    unshare --mount="$mntns" --propagation private -- \
    "$LAB_SELF" _host-mounts "$hd" 9<&-
}

# detach_tree PATH: lazily unmounts PATH and every mount below it, deepest first.
detach_tree() {
  local mp
  while read -r mp; do
    [[ -n "$mp" ]] || continue
    umount -l -- "$mp"
  done < <(mounts_where "under:$1" | sort -r)
}

# Runs inside the new mount namespace (private propagation), as `lab.sh _host-mounts HOSTDIR`.
host_mounts_inside() {
  local hd="$1" mp
  # The new namespace starts as a copy of the root one, including every netns and mntns
  # binding (other labs', other tests' scratch namespaces). Copies would keep those
  # namespaces and their links alive after their owners delete them, so drop them.
  while read -r mp; do
    [[ -n "$mp" ]] || continue
    umount -l -- "$mp"
  done < <(mounts_where fstype:nsfs | sort -r)

  detach_tree /sys
  mount -t sysfs -o nosuid,nodev,noexec sysfs /sys
  mount -t bpf -o mode=0700 bpf /sys/fs/bpf

  detach_tree /run
  mount -t tmpfs -o nosuid,nodev,mode=0755 tmpfs /run
  mkdir -m 0755 /run/sshd

  mount --bind -- "$hd/var-lib-hvnet" /var/lib/hvnet
}

# Unmounts every mount under DIR in the root namespace (the mntns bindings and DIR/ns),
# deepest first. Unmounting a binding drops the last reference to that host's mount
# namespace once its processes are gone, which releases its bpffs, tmpfs and sysfs.
mounts_teardown() {
  local mp
  while read -r mp; do
    [[ -n "$mp" ]] || continue
    umount -- "$mp"
  done < <(mounts_where "under:$DIR" | sort -r)
}
