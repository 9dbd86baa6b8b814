# shellcheck shell=bash
# Health check and teardown. Both work from what is on the machine (namespaces with
# this lab's exact prefix, mounts under DIR, pid files under DIR), not only from the
# state file, so a lab left half-made by a crash is still found and removed.

ns_inode() { stat -L -c %i -- "$1"; }

# ns_links: "PID TYPE:[INODE]" for the net and mnt namespace of every process, in one
# find (a readlink per process and namespace forks hundreds of times).
ns_links() {
  # Processes that exit during the scan make find report a vanished path and exit
  # non-zero; that is expected and the remaining lines are still right.
  find /proc/[0-9]*/ns/net /proc/[0-9]*/ns/mnt -maxdepth 0 -printf '%p %l\n' 2>/dev/null || true
}

pid_running() {
  local state
  [[ -r "/proc/$1/stat" ]] || return 1
  # Field 3 of stat (after the parenthesised name) is the state; a zombie is gone.
  state="$(sed -e 's/^.*) \(.\).*$/\1/' "/proc/$1/stat" 2>/dev/null)" || return 1
  [[ "$state" != Z ]]
}

# lab_ns_ids: "net:[INODE]" of each of this lab's named network namespaces and
# "mnt:[INODE]" of each host mount namespace still bound under DIR.
lab_ns_ids() {
  local ns f ino
  # A namespace deleted since it was listed has no processes left to find.
  while read -r ns; do
    [[ -n "$ns" ]] || continue
    if ino="$(ns_inode "/run/netns/$ns" 2>/dev/null)"; then
      printf 'net:[%s]\n' "$ino"
    fi
  done < <(lab_netns_list)
  if [[ -d "$NS_DIR" ]]; then
    for f in "$NS_DIR"/hv*; do
      if [[ -f "$f" ]] && is_mountpoint_nsfs "$f" && ino="$(ns_inode "$f" 2>/dev/null)"; then
        printf 'mnt:[%s]\n' "$ino"
      fi
    done
  fi
}

# lab_pids: the sshd pids recorded under DIR (checked to still be our sshd), plus any
# process still inside one of this lab's namespaces: SSH sessions and helpers started
# through the lab. Those are found by namespace identity, never by name, and would
# otherwise keep a deleted host's links, bpffs and mounts alive.
lab_pids() {
  local hd i pid ids
  if [[ -d "$HOSTS_DIR" ]]; then
    for hd in "$HOSTS_DIR"/hv*; do
      [[ -d "$hd" ]] || continue
      i="${hd##*/hv}"
      pid="$(sshd_recorded_pid "$i")"
      if [[ -n "$pid" ]] && sshd_pid_ours "$pid" "$i"; then
        printf '%s\n' "$pid"
      fi
    done
  fi
  ids="$(lab_ns_ids)"
  [[ -n "$ids" ]] || return 0
  # ns_links lines are "/proc/PID/ns/TYPE TYPE:[INODE]".
  awk 'NR == FNR { want[$1] = 1; next }
       ($2 in want) { split($1, part, "/"); print part[3] }' <(printf '%s\n' "$ids") <(ns_links)
}

stop_processes() {
  local -a pids=()
  local pid tries alive
  while read -r pid; do
    # Never this script itself (e.g. `lab.sh down` run from inside a lab host).
    [[ -n "$pid" && "$pid" != "$$" && "$pid" != "$BASHPID" ]] || continue
    pids+=("$pid")
  done < <(lab_pids | sort -u)
  ((${#pids[@]} > 0)) || return 0
  log "stopping processes ${pids[*]}"
  for pid in "${pids[@]}"; do
    kill -TERM "$pid" 2>/dev/null || true # it may have exited since it was listed
  done
  for ((tries = 0; tries < 100; tries++)); do
    alive=0
    for pid in "${pids[@]}"; do
      if pid_running "$pid"; then alive=1; fi
    done
    ((alive)) || return 0
    if ((tries == 50)); then
      for pid in "${pids[@]}"; do
        kill -KILL "$pid" 2>/dev/null || true # it may have exited since the last check
      done
    fi
    sleep 0.1
  done
  die "processes ${pids[*]} did not exit"
}

# teardown_runtime: everything but the keys (so a repairing `up` keeps host identities).
teardown_runtime() {
  stop_processes
  mounts_teardown
  net_teardown
}

# teardown_files: only the files this script makes, then DIR if it is left empty.
teardown_files() {
  local hd
  if [[ -d "$HOSTS_DIR" ]]; then
    for hd in "$HOSTS_DIR"/hv*; do
      [[ -e "$hd" ]] || continue
      rm -rf -- "$hd"
    done
    rmdir -- "$HOSTS_DIR"
  fi
  if [[ -d "$NS_DIR" ]]; then
    rm -f -- "$NS_DIR"/hv*
    rmdir -- "$NS_DIR"
  fi
  rm -f -- "$CLIENT_KEY" "$CLIENT_KEY.pub" "$AUTH_KEYS" "$KNOWN_HOSTS" "$INVENTORY" \
    "$INVENTORY.tmp" "$STATE_FILE" "$STATE_FILE.tmp"
  if [[ -d "$DIR" ]]; then
    rmdir -- "$DIR" 2>/dev/null || log "left $DIR in place: it holds files the lab did not make"
  fi
}

# lab_healthy: the lab described by the state file is complete and every sshd answers.
lab_healthy() {
  local i pid count
  [[ -f "$STATE_FILE" && -f "$INVENTORY" && -f "$KNOWN_HOSTS" && -f "$CLIENT_KEY" ]] || return 1
  [[ "$(state_get prefix)" == "$PREFIX" && "$(state_get hosts)" == "$HOSTS" ]] || return 1
  SUBNET_K="$(state_get subnet)"
  [[ "$SUBNET_K" =~ ^[0-9]+$ ]] || return 1
  [[ -e "/sys/class/net/$BR_MGMT" ]] || return 1
  netns_exists "$NS_SW" && netns_exists "$NS_EXT" || return 1
  count="$(lab_netns_list | wc -l)"
  ((count == HOSTS + 2)) || return 1
  for ((i = 1; i <= HOSTS; i++)); do
    netns_exists "$(host_ns "$i")" || return 1
    is_mountpoint_nsfs "$(host_mntns "$i")" || return 1
    pid="$(sshd_recorded_pid "$i")"
    [[ -n "$pid" ]] && sshd_pid_ours "$pid" "$i" || return 1
    port_answers "$(host_addr "$i")" || return 1
  done
  return 0
}
