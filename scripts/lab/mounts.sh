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

# detach_all_at PATH: lazily detaches every mount stacked at PATH, each with everything
# below it, in one umount per layer: no list of the mounts below is taken, so none of
# them (other tests' netns bindings under /run/netns among them) can vanish between a
# look and an action.
detach_all_at() {
  local mp
  if is_mounted_at "$1"; then
    while is_mounted_at "$1"; do
      umount -l -- "$1"
    done
    return 0
  fi
  # PATH on its parent's filesystem (no /run tmpfs, say): one mount at a time, deepest
  # first, each allowed to vanish on its own meanwhile.
  while read -r mp; do
    [[ -n "$mp" ]] || continue
    unmount_gone_ok -l "$mp"
  done < <(mounts_where "under:$1" | sort -r)
}

# Runs inside the new mount namespace (private propagation), as `lab.sh _host-mounts HOSTDIR`.
host_mounts_inside() {
  local hd="$1" mp
  detach_all_at /run
  mount -t tmpfs -o nosuid,nodev,mode=0755 tmpfs /run
  mkdir -m 0755 /run/sshd

  # The new namespace starts as a copy of the root one. What is left of its nsfs bindings
  # outside /run (other labs' host mount namespaces under their DIR/ns) are private
  # copies: they would keep those namespaces alive after their owners unmount them, so
  # this namespace drops its own copies. It never touches the originals, and a copy
  # whose owner unlinks it meanwhile disappears on its own (unmount_gone_ok).
  while read -r mp; do
    [[ -n "$mp" ]] || continue
    unmount_gone_ok -l "$mp"
  done < <(mounts_where fstype:nsfs | sort -r)

  detach_all_at /sys
  mount -t sysfs -o nosuid,nodev,noexec sysfs /sys
  mount -t bpf -o mode=0700 bpf /sys/fs/bpf

  mount --bind -- "$hd/var-lib-hvnet" /var/lib/hvnet
}

# Unmounts every mount under DIR in the root namespace (the mntns bindings and DIR/ns),
# deepest first. Unmounting a binding drops the last reference to that host's mount
# namespace once its processes are gone, which releases its bpffs, tmpfs and sysfs.
mounts_teardown() {
  local mp
  while read -r mp; do
    [[ -n "$mp" ]] || continue
    unmount_gone_ok "$mp"
  done < <(mounts_where "under:$DIR" | sort -r)
}
