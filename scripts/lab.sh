#!/usr/bin/env bash
# The lab: N "hypervisors" on this machine, each a network namespace with its own mount
# namespace (own /sys, bpffs, /run and /var/lib/hvnet), a management address reached
# from the root namespace, Debian's sshd, and a veth "uplink0" NIC on a lab switch that
# also reaches an "external" namespace. See DESIGN.md, "The lab".
#
#   scripts/lab.sh up --hosts N [--name PREFIX] [--dir DIR] [--user-mode root|sudo] [--launcher FILE]
#   scripts/lab.sh down [--name PREFIX] [--dir DIR]
#   scripts/lab.sh exec [--name PREFIX] [--dir DIR] HOST -- CMD [ARGS...]
#
# --user-mode sudo: hosts are reached as a per-lab non-root user (hvl-PREFIX) whose only
# sudo rule is the hvnet launcher, installed from FILE (default dist/launcher/hvnet-launch).
# Defaults: PREFIX=hvlab, DIR=<repo>/.lab. `up` writes DIR/inventory.json and prints its
# path; it is idempotent and repairs a half-made lab. `down` removes every namespace,
# link, mount, process, key and file the lab made, also after a crash.
set -euo pipefail

LAB_SELF="$(readlink -f -- "${BASH_SOURCE[0]}")"
LAB_LIB="$(dirname -- "$LAB_SELF")/lab"
LAB_REPO="$(dirname -- "$(dirname -- "$LAB_SELF")")"

# shellcheck source=lab/common.sh
source "$LAB_LIB/common.sh"
# shellcheck source=lib/options.sh
source "$LAB_LIB/../lib/options.sh"
# shellcheck source=lab/net.sh
source "$LAB_LIB/net.sh"
# shellcheck source=lab/mounts.sh
source "$LAB_LIB/mounts.sh"
# shellcheck source=lab/sshd.sh
source "$LAB_LIB/sshd.sh"
# shellcheck source=lab/inventory.sh
source "$LAB_LIB/inventory.sh"
# shellcheck source=lab/teardown.sh
source "$LAB_LIB/teardown.sh"
# shellcheck source=lab/users.sh
source "$LAB_LIB/users.sh"

usage() {
  sed -n '7,9p' "$LAB_SELF" | sed 's/^# *//' >&2
  exit 2
}

OPT_NAME=hvlab
OPT_DIR="$LAB_REPO/.lab"
OPT_HOSTS=""
OPT_USER_MODE=root
OPT_LAUNCHER="$LAB_REPO/dist/launcher/hvnet-launch"
POSITIONAL=()

# Options may come in any order; everything after "--" (and the first positional before
# it) is kept in POSITIONAL for `exec`.
parse_opts() {
  parse_long_opts "hosts:OPT_HOSTS name:OPT_NAME dir:OPT_DIR user-mode:OPT_USER_MODE launcher:OPT_LAUNCHER" "$@"
}

require_tools() {
  local t
  ((EUID == 0)) || die "the lab needs root (network and mount namespaces)"
  for t in ip nsenter unshare mount umount mountpoint ssh-keygen flock timeout realpath stat awk; do
    command -v "$t" >/dev/null || die "missing command '$t'"
  done
  [[ -x "$SSHD_BIN" ]] || die "missing $SSHD_BIN (apt-get install openssh-server)"
}

on_up_failure() {
  local rc=$?
  trap - EXIT
  if ((rc != 0)); then
    log "up failed (exit $rc); removing the partial lab"
    # Best effort: report every failure but keep removing the rest.
    set +e
    teardown_runtime
    users_teardown
    teardown_files
  fi
  exit "$rc"
}

# A DIR holds one lab: acting on it under another name would take over that lab's
# mounts and files while leaving its namespaces behind.
refuse_other_lab() {
  local owner
  owner="$(state_get prefix)"
  [[ -z "$owner" || "$owner" == "$PREFIX" ]] ||
    die "$DIR holds lab '$owner'; use --name $owner or another --dir"
}

cmd_up() {
  local i hd started
  [[ "$OPT_HOSTS" =~ ^[0-9]+$ ]] && ((OPT_HOSTS >= 1 && OPT_HOSTS <= LAB_MAX_HOSTS)) ||
    die "--hosts must be a number from 1 to $LAB_MAX_HOSTS"
  [[ "$OPT_USER_MODE" == root || "$OPT_USER_MODE" == sudo ]] || die "--user-mode must be root or sudo"
  ((${#POSITIONAL[@]} == 0)) || usage
  require_tools
  HOSTS=$((10#$OPT_HOSTS))
  lab_init "$OPT_NAME" "$OPT_DIR"
  users_init
  lab_lock
  refuse_other_lab
  started="$(date +%s%N)"
  if lab_healthy && users_current "$OPT_USER_MODE"; then
    log "lab $PREFIX is already up with $HOSTS hosts"
    printf '%s\n' "$INVENTORY"
    return 0
  fi
  mkdir -p -- "$DIR"
  trap on_up_failure EXIT
  # The inventory is written last, so its absence marks a build that did not finish
  # (lab_healthy requires it) even if this run is killed before it can clean up.
  rm -f -- "$INVENTORY" "$KNOWN_HOSTS"
  # Whatever exists (a crashed or differently sized lab) is removed first; keys stay.
  teardown_runtime
  users_teardown
  choose_subnet
  mkdir -p -- "$HOSTS_DIR"
  for hd in "$HOSTS_DIR"/hv*; do
    [[ -d "$hd" ]] || continue
    i="${hd##*/hv}"
    if ! [[ "$i" =~ ^[0-9]+$ ]] || ((i > HOSTS)); then
      rm -rf -- "$hd" # a host of a larger lab that this one no longer has
    fi
  done
  state_write
  ensure_client_key
  users_setup "$OPT_USER_MODE" "$OPT_LAUNCHER"
  net_make_switch
  net_make_mgmt_bridge
  ns_dir_prepare
  for ((i = 1; i <= HOSTS; i++)); do
    mkdir -p -- "$(host_dir "$i")"
    net_make_host "$i"
    mounts_make_host "$i"
    users_prepare_host "$i" "$OPT_LAUNCHER"
    ensure_host_key "$i"
    write_sshd_config "$i"
    sshd_start "$i"
  done
  for ((i = 1; i <= HOSTS; i++)); do
    sshd_wait "$i"
  done
  write_known_hosts
  write_inventory
  trap - EXIT
  log "lab $PREFIX up: $HOSTS hosts on 198.18.$SUBNET_K.0/24 in $((($(date +%s%N) - started) / 1000000)) ms"
  printf '%s\n' "$INVENTORY"
}

cmd_down() {
  local left
  ((${#POSITIONAL[@]} == 0)) || usage
  require_tools
  lab_init "$OPT_NAME" "$OPT_DIR"
  users_init
  lab_lock
  refuse_other_lab
  teardown_runtime
  users_teardown
  teardown_files
  left="$(lab_netns_list; lab_root_links)"
  [[ -z "$left" ]] || die "left after down: $left"
  log "lab $PREFIX down"
}

cmd_exec() {
  local host i ns mntns
  ((${#POSITIONAL[@]} >= 3)) && [[ "${POSITIONAL[1]}" == "--" ]] || usage
  host="${POSITIONAL[0]}"
  [[ "$host" =~ ^hv([0-9]+)$ ]] || die "host must be hv<N> (got '$host')"
  i="${BASH_REMATCH[1]}"
  lab_init "$OPT_NAME" "$OPT_DIR"
  ns="$(host_ns "$i")"
  mntns="$(host_mntns "$i")"
  netns_exists "$ns" || die "no namespace $ns: is lab $PREFIX up?"
  is_mountpoint_nsfs "$mntns" || die "no mount namespace bound at $mntns: is lab $PREFIX up?"
  # Entering a mount namespace moves the working directory to its root.
  exec nsenter --net="/run/netns/$ns" --mount="$mntns" -- "${POSITIONAL[@]:2}"
}

main() {
  (($# >= 1)) || usage
  local cmd="$1"
  shift
  case "$cmd" in
  up) parse_opts "$@"; cmd_up ;;
  down) parse_opts "$@"; cmd_down ;;
  exec) parse_opts "$@"; cmd_exec ;;
  # Internal: runs inside a new host mount namespace made by mounts_make_host.
  _host-mounts) (($# == 1)) || usage; host_mounts_inside "$1" ;;
  -h | --help | help) usage ;;
  *) die "unknown command '$cmd' (up, down, exec)" ;;
  esac
}

main "$@"
