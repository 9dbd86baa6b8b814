# shellcheck shell=bash
# A booted guest saved once per image (and QEMU/machine: snapshot_key), so lab guests
# resume in seconds instead of booting for half a minute or more under TCG. The snapshot
# is the guest's RAM (HMP migrate to a file) plus the disk overlay it was booted with;
# that overlay never changes afterwards: every lab guest gets its own overlay on top.

# snapshot_ensure IMG: prints the snapshot directory, making it when missing.
snapshot_ensure() {
  local img="$1" snap work name started
  snap="$img/snapshot-$(snapshot_key "$img")"
  if [[ -f "$snap/complete" ]]; then
    printf '%s\n' "$snap"
    return 0
  fi
  exec 7>"$img/.snapshot.lock"
  flock -w 900 7 || die "timed out waiting for another VM lab to save the snapshot of $img"
  if [[ -f "$snap/complete" ]]; then
    exec 7>&-
    printf '%s\n' "$snap"
    return 0
  fi
  work="$snap.partial"
  # One name per image (the lock allows one maker at a time), so a maker left behind
  # by a killed run is found by its recorded pid and ended before its files go.
  name="hvnet-vmlab-snapshot-$(basename -- "$img")"
  guest_stop "$work" "$name"
  rm -rf -- "$work"
  mkdir -p -- "$work"
  SNAP_WORK="$work" SNAP_NAME="$name"
  trap 'guest_stop "$SNAP_WORK" "$SNAP_NAME"; rm -rf -- "$SNAP_WORK"' EXIT
  # Command substitution resets signal traps: without these, a TERM would leave the
  # maker's QEMU running.
  trap 'exit 143' TERM
  trap 'exit 130' INT
  started=$SECONDS
  qemu-img create -q -f qcow2 -b "$img/base.img" -F raw "$work/disk.qcow2"
  printf 'hvnet-vmlab-bootstrap %s\n' "$(cut -d' ' -f1,2 "$img/bootstrap_host_ed25519_key.pub")" >"$work/known_hosts"
  log "first boot of image $(basename -- "$img") (software emulation: half a minute to minutes)"
  guest_start "$name" "$work" "$img" "$work/disk.qcow2"
  guest_wait_ssh "$work" "$name" "$img/bootstrap_id_ed25519" "$work/known_hosts" hvnet-vmlab-bootstrap 900
  log "booted in $((SECONDS - started)) s; saving the snapshot"
  # The guest must be settled (its NIC made) before it is frozen; every lab guest
  # wakes up exactly here.
  ssh_guest "$(cat -- "$work/port")" "$img/bootstrap_id_ed25519" "$work/known_hosts" \
    hvnet-vmlab-bootstrap 'test -s /run/hvnet-vmlab/uplink && sync' ||
    die "the first boot of $img has no netdevsim port; see $work/console.log"
  hmp "$work" "stop" >/dev/null
  hmp "$work" "migrate \"exec:cat > $work/state\"" 600 >/dev/null
  [[ "$(hmp "$work" "info migrate")" == *"Migration status: completed"* ]] ||
    die "saving the snapshot of $img failed: $(hmp "$work" "info migrate" 2>&1 | tr '\n' ' ')"
  guest_stop "$work" "$name"
  rm -f -- "$work/monitor.sock" "$work/qemu.pid" "$work/port"
  # Nothing may write to the snapshot's disk again.
  chmod 444 "$work/disk.qcow2" "$work/state"
  touch "$work/complete"
  mv -- "$work" "$snap"
  trap - EXIT
  exec 7>&-
  log "snapshot saved in $((SECONDS - started)) s (timings under software emulation are not performance numbers)"
  printf '%s\n' "$snap"
}
