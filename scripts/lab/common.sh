# shellcheck shell=bash
# Names, paths, state and small helpers shared by the lab modules. Sourced by
# scripts/lab.sh; every other module relies on the globals set by lab_init.

log() { printf 'lab: %s\n' "$*" >&2; }
die() { printf 'lab: error: %s\n' "$*" >&2; exit 1; }

# Hosts get 198.18.K.(10+i), so the count must stay well inside one /24.
readonly LAB_MAX_HOSTS=64
readonly SSHD_BIN=/usr/sbin/sshd
# The management subnet is 198.18.K.0/24 and the external one 198.19.K.0/24 for one
# K in [LAB_K_BASE, LAB_K_BASE+LAB_K_COUNT): both inside 198.18.0.0/15 (RFC 2544),
# which no real network on this machine uses.
readonly LAB_K_BASE=20
readonly LAB_K_COUNT=200

# lab_init PREFIX DIR: validates the user's choices and derives every name once.
lab_init() {
  PREFIX="$1"
  # Link names are limited to 15 bytes: "<prefix>-mgmt" must fit, and '-' may not occur
  # in the prefix so that "<prefix>-" never matches another lab's names.
  [[ "$PREFIX" =~ ^[a-z][a-z0-9]{0,9}$ ]] ||
    die "--name must be 1-10 characters [a-z0-9], starting with a letter (got '$PREFIX')"
  DIR="$(lab_abs_dir "$2")"
  NS_SW="$PREFIX-sw"
  NS_EXT="$PREFIX-ext"
  BR_MGMT="$PREFIX-mgmt"
  BR_SW=br0
  STATE_FILE="$DIR/state"
  NS_DIR="$DIR/ns"
  HOSTS_DIR="$DIR/hosts"
  CLIENT_KEY="$DIR/id_ed25519"
  AUTH_KEYS="$DIR/authorized_keys"
  KNOWN_HOSTS="$DIR/known_hosts"
  INVENTORY="$DIR/inventory.json"
}

# lab_abs_dir DIR: absolute, symlink-free path without creating it. The paths end up
# unquoted in sshd_config and JSON, so only plain characters are accepted, and the
# host's /run, /sys and /var/lib/hvnet are replaced inside a host, so DIR may not be there.
lab_abs_dir() {
  local d="$1"
  [[ "$d" == /* ]] || d="$PWD/$d"
  d="$(realpath -m -- "$d")"
  [[ "$d" =~ ^/[A-Za-z0-9._/-]+$ ]] || die "--dir must be a path of [A-Za-z0-9._/-] (got '$d')"
  case "$d/" in
  /run/* | /var/run/* | /sys/* | /proc/* | /dev/* | /var/lib/hvnet/*) die "--dir may not be under /run, /sys, /proc, /dev or /var/lib/hvnet" ;;
  esac
  [[ "$d" != / ]] || die "--dir may not be /"
  printf '%s\n' "$d"
}

host_ns() { printf '%s-hv%s\n' "$PREFIX" "$1"; }
host_dir() { printf '%s/hv%s\n' "$HOSTS_DIR" "$1"; }
host_mntns() { printf '%s/hv%s\n' "$NS_DIR" "$1"; }
host_mgmt_link() { printf '%s-m%s\n' "$PREFIX" "$1"; }
host_addr() { printf '198.18.%s.%s\n' "$SUBNET_K" "$((10 + $1))"; }
mgmt_gw() { printf '198.18.%s.1\n' "$SUBNET_K"; }
ext_addr() { printf '198.19.%s.1\n' "$SUBNET_K"; }

netns_exists() { [[ -e "/run/netns/$1" ]]; }

# Named namespaces that belong to this lab: exactly <prefix>-hv<N>, -sw, -ext.
lab_netns_list() {
  local name
  while read -r name _; do
    if [[ "$name" =~ ^"$PREFIX"-(hv[0-9]+|sw|ext)$ ]]; then
      printf '%s\n' "$name"
    fi
  done < <(ip netns list)
}

# State is a few key=value lines written by us; parsed, never sourced.
state_write() {
  local tmp="$STATE_FILE.tmp"
  printf 'prefix=%s\nhosts=%s\nsubnet=%s\n' "$PREFIX" "$HOSTS" "$SUBNET_K" >"$tmp"
  mv -f -- "$tmp" "$STATE_FILE"
}

# state_get KEY: prints the value, or nothing when the file or key is missing.
state_get() {
  local k v
  [[ -f "$STATE_FILE" ]] || return 0
  while IFS='=' read -r k v; do
    if [[ "$k" == "$1" ]]; then
      printf '%s\n' "$v"
      return 0
    fi
  done <"$STATE_FILE"
}

# mounts_where FILTER: mount points (unescaped) from this process's mountinfo, one per
# line. FILTER is "under:PATH" (PATH itself or below), "fstype:TYPE" or "any:".
mounts_where() {
  local kind="${1%%:*}" arg="${1#*:}" mp
  while read -r mp; do
    # mountinfo escapes space, tab, newline and backslash as \ooo.
    printf '%b\n' "${mp//\\/\\0}"
  done < <(awk -v kind="$kind" -v arg="$arg" '
    {
      fs = ""
      for (i = 7; i <= NF; i++) if ($i == "-") { fs = $(i + 1); break }
      if (kind == "fstype" && fs == arg) print $5
      if (kind == "under" && ($5 == arg || index($5, arg "/") == 1)) print $5
      if (kind == "any") print $5
    }' /proc/self/mountinfo)
}

# is_mounted_at PATH: some mount has PATH as its mount point in this mount namespace.
is_mounted_at() {
  local mp
  while IFS= read -r mp; do
    [[ "$mp" == "$1" ]] && return 0
  done < <(mounts_where any:)
  return 1
}

# unmount_gone_ok [-l] PATH: unmounts the top mount at PATH. A mount that is no longer
# there is not a failure: another process may remove it between our look at mountinfo
# and this call (`ip netns del` unlinks its file, which detaches that mount in every mount
# namespace, copies included). Only a mount still in place after a failed umount is one.
unmount_gone_ok() {
  local -a flags=()
  if [[ "$1" == -l ]]; then flags=(-l); shift; fi
  local mp="$1" err
  err="$(umount "${flags[@]}" -- "$mp" 2>&1)" && return 0
  is_mounted_at "$mp" || return 0
  log "cannot unmount $mp: $err"
  return 1
}

is_mountpoint_nsfs() {
  local mp
  while read -r mp; do
    [[ "$mp" == "$1" ]] && return 0
  done < <(mounts_where fstype:nsfs)
  return 1
}

# Serialises lab changes on this machine: subnet choice must not race with another
# lab being made by a second test worker. The lock is on this script file itself so
# nothing is left behind; fd 9 is closed for every long-lived child (see sshd.sh).
lab_lock() {
  exec 9<"$LAB_SELF"
  flock -w 300 9 || die "timed out waiting for another lab.sh up/down to finish"
}
