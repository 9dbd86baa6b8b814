# shellcheck shell=bash
# The files of one VM lab in DIR: state, client key, guests' directories (pid, overlay,
# host key, console log), known_hosts and inventory.json (the namespace lab's format:
# scripts/lab/inventory.sh, sdk/lab.ts), and their removal.

# labfiles_init PREFIX DIR: validates the user's choices and derives every name once.
labfiles_init() {
  PREFIX="$1"
  [[ "$PREFIX" =~ ^[a-z][a-z0-9]{0,9}$ ]] ||
    die "--name must be 1-10 characters [a-z0-9], starting with a letter (got '$PREFIX')"
  local d="$2"
  [[ "$d" == /* ]] || d="$PWD/$d"
  d="$(realpath -m -- "$d")"
  # Paths end up in QEMU's -incoming "exec:" (a shell command) and in JSON unescaped.
  [[ "$d" =~ ^/[A-Za-z0-9._/-]+$ && "$d" != / ]] || die "--dir must be a path of [A-Za-z0-9._/-] (got '$d')"
  [[ "$VMLAB_CACHE" =~ ^/[A-Za-z0-9._/-]+$ ]] ||
    die "the image cache path '$VMLAB_CACHE' must be of [A-Za-z0-9._/-]: set HVNET_VMLAB_CACHE"
  DIR="$d"
  STATE_FILE="$DIR/vmlab.state"
  HOSTS_DIR="$DIR/vmhosts"
  CLIENT_KEY="$DIR/id_ed25519"
  KNOWN_HOSTS="$DIR/known_hosts"
  INVENTORY="$DIR/inventory.json"
}

guest_dir() { printf '%s/hv%s\n' "$HOSTS_DIR" "$1"; }
guest_name() { printf 'hvnet-vmlab-%s-hv%s\n' "$PREFIX" "$1"; }

# One up/down at a time per lab directory; the lock is the directory itself, so nothing
# is left behind. QEMU never inherits it (guest_start closes fd 9).
lab_lock() {
  exec 9<"$DIR"
  flock -w 900 9 || die "timed out waiting for another vmlab.sh up/down on $DIR"
}

state_get() {
  local k v
  [[ -f "$STATE_FILE" ]] || return 0
  while IFS='=' read -r k v; do
    [[ "$k" == "$1" ]] && { printf '%s\n' "$v"; return 0; }
  done <"$STATE_FILE"
}

state_write() {
  printf 'prefix=%s\nhosts=%s\nimage=%s\n' "$PREFIX" "$HOSTS" "$IMG" >"$STATE_FILE.tmp"
  mv -f -- "$STATE_FILE.tmp" "$STATE_FILE"
}

# A DIR holds one lab: a namespace lab there (scripts/lab.sh writes DIR/state) or a VM
# lab under another name would be taken over or half removed.
refuse_other_lab() {
  local owner
  [[ ! -f "$DIR/state" ]] ||
    die "$DIR holds a namespace lab: remove it first ('make lab-down' or scripts/lab.sh down --dir $DIR) or use another --dir"
  owner="$(state_get prefix)"
  [[ -z "$owner" || "$owner" == "$PREFIX" ]] ||
    die "$DIR holds VM lab '$owner'; use --name $owner or another --dir"
}

ensure_client_key() {
  [[ -f "$CLIENT_KEY" && -f "$CLIENT_KEY.pub" ]] && return 0
  rm -f -- "$CLIENT_KEY" "$CLIENT_KEY.pub"
  ssh-keygen -q -t ed25519 -N "" -C "hvnet-vmlab $PREFIX client" -f "$CLIENT_KEY"
}

# lab_healthy: the lab in DIR has the asked size, the image is current, every guest is
# our running QEMU and answers SSH with the lab's keys.
lab_healthy() {
  local i gdir
  [[ -f "$INVENTORY" && "$(state_get hosts)" == "$HOSTS" && "$(state_get image)" == "$IMG" ]] || return 1
  for ((i = 1; i <= HOSTS; i++)); do
    gdir="$(guest_dir "$i")"
    guest_is_ours "$(guest_pid "$gdir")" "$(guest_name "$i")" || return 1
    ssh_guest "$(cat -- "$gdir/port")" "$CLIENT_KEY" "$KNOWN_HOSTS" "" true 2>/dev/null || return 1
  done
}

host_key_fingerprint() {
  local bits fp
  read -r bits fp _ < <(ssh-keygen -l -f "$1")
  [[ "$bits" =~ ^[0-9]+$ && "$fp" == SHA256:* ]] || die "unexpected ssh-keygen -l output for $1"
  printf '%s\n' "$fp"
}

write_known_hosts() {
  local i
  for ((i = 1; i <= HOSTS; i++)); do
    cat -- "$(guest_dir "$i")/known_hosts"
  done >"$KNOWN_HOSTS.tmp"
  mv -f -- "$KNOWN_HOSTS.tmp" "$KNOWN_HOSTS"
}

# Every value is a number, a validated name or path, a kernel release, an interface
# name checked in guest_facts or an ssh-keygen fingerprint: none needs JSON escaping.
write_inventory() {
  local i gdir sep="" tmp="$INVENTORY.tmp"
  {
    printf '{\n  "name": "%s",\n  "kind": "vm",\n  "dir": "%s",\n  "image": "%s",\n  "hosts": [' \
      "$PREFIX" "$DIR" "$IMG"
    for ((i = 1; i <= HOSTS; i++)); do
      gdir="$(guest_dir "$i")"
      printf '%s\n    {"name": "hv%s", "address": "127.0.0.1", "port": %s, "user": "root", ' \
        "$sep" "$i" "$(cat -- "$gdir/port")"
      printf '"privateKeyPath": "%s", "hostKey": "%s", ' \
        "$CLIENT_KEY" "$(host_key_fingerprint "$gdir/ssh_host_ed25519_key.pub")"
      printf '"netns": "", "uplink": "%s", "kernel": "%s", "pid": %s}' \
        "$(cat -- "$gdir/uplink")" "$(cat -- "$gdir/kernel")" "$(guest_pid "$gdir")"
      sep=","
    done
    printf '\n  ],\n  "knownHosts": "%s"\n}\n' "$KNOWN_HOSTS"
  } >"$tmp"
  mv -f -- "$tmp" "$INVENTORY"
}

# teardown: ends every guest of this lab by its recorded pid and removes everything the
# lab made in DIR (DIR itself too when nothing else is left in it).
teardown() {
  local gdir i
  for gdir in "$HOSTS_DIR"/hv*; do
    [[ -d "$gdir" ]] || continue
    i="${gdir##*/hv}"
    [[ "$i" =~ ^[0-9]+$ ]] || continue
    guest_stop "$gdir" "$(guest_name "$i")"
    rm -rf -- "$gdir"
  done
  [[ ! -d "$HOSTS_DIR" ]] || rmdir -- "$HOSTS_DIR"
  rm -f -- "$INVENTORY" "$INVENTORY.tmp" "$KNOWN_HOSTS" "$KNOWN_HOSTS.tmp" "$DIR/bootstrap_known_hosts" \
    "$CLIENT_KEY" "$CLIENT_KEY.pub" "$STATE_FILE" "$STATE_FILE.tmp"
}
