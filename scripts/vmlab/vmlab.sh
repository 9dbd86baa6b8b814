#!/usr/bin/env bash
# The VM lab: N lab hosts that are QEMU guests on this machine, running Debian stable
# with its backports kernel (Linux >= 7.1) and a netdevsim NIC with our RSS/ntuple
# bookkeeping (the ethtool core and the queue lease are the kernel's). Reached over SSH
# with a pinned host key, listed in the same inventory format as the namespace lab.
#
#   scripts/vmlab/vmlab.sh up --hosts N [--name PREFIX] [--dir DIR]
#   scripts/vmlab/vmlab.sh down [--name PREFIX] [--dir DIR]
#   scripts/vmlab/vmlab.sh image
#
# Defaults: PREFIX=hvvm, DIR=<repo>/.lab. `up` builds the image once (image.sh), saves a
# booted snapshot of it once, then starts each guest from its own overlay by resuming
# that snapshot; it writes DIR/inventory.json and prints its path. `down` ends every
# guest by its recorded pid and removes every overlay and file the lab made.
# Software emulation (TCG): lab timings are not performance numbers.
set -euo pipefail

VMLAB_SELF="$(readlink -f -- "${BASH_SOURCE[0]}")"
# shellcheck source=lib/common.sh
source "$(dirname -- "$VMLAB_SELF")/lib/common.sh"
# shellcheck source=../lib/options.sh
source "$VMLAB_DIR/../lib/options.sh"
# shellcheck source=lib/guest.sh
source "$VMLAB_LIB/guest.sh"
# shellcheck source=lib/snapshot.sh
source "$VMLAB_LIB/snapshot.sh"
# shellcheck source=lib/labfiles.sh
source "$VMLAB_LIB/labfiles.sh"

readonly VMLAB_MAX_HOSTS=8

usage() {
  sed -n '7,9p' "$VMLAB_SELF" | sed 's/^# *//' >&2
  exit 2
}

OPT_NAME=hvvm
OPT_DIR="$VMLAB_REPO/.lab"
OPT_HOSTS=""
parse_opts() {
  parse_long_opts "hosts:OPT_HOSTS name:OPT_NAME dir:OPT_DIR" "$@"
  ((${#POSITIONAL[@]} == 0)) || die "unknown argument '${POSITIONAL[0]}'"
}

require_tools() {
  local t
  ((EUID == 0)) || die "the VM lab needs root (the image build chroots; see scripts/vmlab/image.sh)"
  for t in qemu-system-x86_64 qemu-img ssh ssh-keygen node flock ss tar; do
    command -v "$t" >/dev/null ||
      die "missing command '$t' (apt-get install qemu-system-x86 qemu-utils debootstrap openssh-client)"
  done
}

on_up_failure() {
  local rc=$?
  trap - EXIT
  if ((rc != 0)); then
    log "up failed (exit $rc); removing the partial VM lab"
    set +e
    local c
    for c in "$HOSTS_DIR"/hv*/console.log; do
      [[ -f "$c" ]] || continue
      log "last lines of $c:"
      tail -n 20 -- "$c" >&2
    done
    teardown
  fi
  exit "$rc"
}

# rekey_guest I: replaces the image's bootstrap keys in guest I with this lab's own and
# sets its clock, then proves the lab's keys work (and the bootstrap key no longer does).
rekey_guest() {
  local i="$1" gdir port stage
  gdir="$(guest_dir "$i")"
  port="$(cat -- "$gdir/port")"
  stage="$gdir/keys"
  mkdir -p -- "$stage"
  cp -- "$gdir/ssh_host_ed25519_key" "$gdir/ssh_host_ed25519_key.pub" "$stage/"
  cp -- "$CLIENT_KEY.pub" "$stage/authorized_keys"
  tar -C "$stage" -c . | ssh_guest "$port" "$IMG/bootstrap_id_ed25519" "$BOOT_KNOWN_HOSTS" \
    hvnet-vmlab-bootstrap "hvnet-vmlab-rekey $(date +%s)" ||
    die "guest hv$i: installing the lab's SSH keys failed; see $gdir/console.log"
  rm -rf -- "$stage"
  known_hosts_line "$port" "$gdir/ssh_host_ed25519_key.pub" >"$gdir/known_hosts"
  guest_wait_ssh "$gdir" "$(guest_name "$i")" "$CLIENT_KEY" "$gdir/known_hosts" "" 60
  if ssh_guest "$port" "$IMG/bootstrap_id_ed25519" "$gdir/known_hosts" "" true 2>/dev/null; then
    die "guest hv$i still accepts the image's bootstrap key after rekeying"
  fi
}

# guest_mac I: every guest resumes the same snapshot, so each gets its own NIC address
# here (locally administered, "hv", a byte of the lab's name, the host number).
guest_mac() {
  local lab
  lab="$(printf '%s' "$PREFIX" | cksum | cut -d' ' -f1)"
  printf '02:68:76:%02x:00:%02x\n' "$((lab % 256))" "$1"
}

# guest_facts I: gives the guest its name and NIC address, then reads its uplink name
# and kernel release, over the lab's own SSH.
guest_facts() {
  local i="$1" gdir port facts
  gdir="$(guest_dir "$i")"
  port="$(cat -- "$gdir/port")"
  facts="$(ssh_guest "$port" "$CLIENT_KEY" "$gdir/known_hosts" "" \
    "hostname hv$i && ip link set dev \"\$(cat /run/hvnet-vmlab/uplink)\" address $(guest_mac "$i") &&
     cat /run/hvnet-vmlab/uplink && uname -r")" ||
    die "guest hv$i: cannot name it, set its NIC address, or read its netdevsim port and kernel over SSH"
  { read -r UPLINK; read -r GUEST_KERNEL; } <<<"$facts"
  [[ "$UPLINK" =~ ^[a-z0-9]+$ ]] || die "guest hv$i has no netdevsim port (got '$UPLINK'); see $gdir/console.log"
  printf '%s\n' "$UPLINK" >"$gdir/uplink"
  printf '%s\n' "$GUEST_KERNEL" >"$gdir/kernel"
}

cmd_up() {
  local i gdir snap started t0
  [[ "$OPT_HOSTS" =~ ^[0-9]+$ ]] && ((OPT_HOSTS >= 1 && OPT_HOSTS <= VMLAB_MAX_HOSTS)) ||
    die "--hosts must be a number from 1 to $VMLAB_MAX_HOSTS"
  HOSTS=$((10#$OPT_HOSTS))
  require_tools
  labfiles_init "$OPT_NAME" "$OPT_DIR"
  started=$SECONDS
  IMG="$("$VMLAB_DIR/image.sh")"
  log "image ready in $((SECONDS - started)) s: $IMG"
  mkdir -p -- "$DIR"
  lab_lock
  refuse_other_lab
  if lab_healthy; then
    log "VM lab $PREFIX is already up with $HOSTS hosts"
    printf '%s\n' "$INVENTORY"
    return 0
  fi
  trap on_up_failure EXIT
  teardown
  t0=$SECONDS
  snap="$(snapshot_ensure "$IMG")"
  log "snapshot ready in $((SECONDS - t0)) s: $snap"
  state_write
  ensure_client_key
  BOOT_KNOWN_HOSTS="$DIR/bootstrap_known_hosts"
  printf 'hvnet-vmlab-bootstrap %s\n' "$(cut -d' ' -f1,2 "$IMG/bootstrap_host_ed25519_key.pub")" >"$BOOT_KNOWN_HOSTS"
  t0=$SECONDS
  for ((i = 1; i <= HOSTS; i++)); do
    gdir="$(guest_dir "$i")"
    mkdir -p -- "$gdir"
    ssh-keygen -q -t ed25519 -N "" -C "hvnet-vmlab $PREFIX hv$i" -f "$gdir/ssh_host_ed25519_key"
    qemu-img create -q -f qcow2 -b "$snap/disk.qcow2" -F qcow2 "$gdir/disk.qcow2"
    guest_start "$(guest_name "$i")" "$gdir" "$IMG" "$gdir/disk.qcow2" "$snap/state"
  done
  for ((i = 1; i <= HOSTS; i++)); do
    gdir="$(guest_dir "$i")"
    guest_wait_running "$gdir" "$(guest_name "$i")" 300
    guest_wait_ssh "$gdir" "$(guest_name "$i")" "$IMG/bootstrap_id_ed25519" "$BOOT_KNOWN_HOSTS" hvnet-vmlab-bootstrap 300
    rekey_guest "$i"
    guest_facts "$i"
  done
  rm -f -- "$BOOT_KNOWN_HOSTS"
  write_known_hosts
  write_inventory
  trap - EXIT
  log "VM lab $PREFIX up: $HOSTS guests resumed in $((SECONDS - t0)) s, $((SECONDS - started)) s in all" \
    "(software emulation: lab timings are not performance numbers)"
  printf '%s\n' "$INVENTORY"
}

cmd_down() {
  require_tools
  labfiles_init "$OPT_NAME" "$OPT_DIR"
  [[ -d "$DIR" ]] || { log "VM lab $PREFIX: nothing in $DIR"; return 0; }
  lab_lock
  refuse_other_lab
  teardown
  exec 9<&-
  rmdir -- "$DIR" 2>/dev/null || true
  log "VM lab $PREFIX down"
}

main() {
  (($# >= 1)) || usage
  # A killed up or down still runs its EXIT trap (removing a partial lab).
  trap 'exit 143' TERM
  trap 'exit 130' INT
  local cmd="$1"
  shift
  case "$cmd" in
  up) parse_opts "$@"; cmd_up ;;
  down) parse_opts "$@"; cmd_down ;;
  image) (($# == 0)) || usage; "$VMLAB_DIR/image.sh" ;;
  -h | --help | help) usage ;;
  *) die "unknown command '$cmd' (up, down, image)" ;;
  esac
}

main "$@"
