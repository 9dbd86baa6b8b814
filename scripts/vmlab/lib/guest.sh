# shellcheck shell=bash
# One QEMU guest: its command line, start (cold or from a snapshot), monitor, SSH, stop.
# Software emulation only (TCG): /dev/kvm on these machines is kvm_pvm, which cannot run
# a stock guest kernel (KERNEL.md). One vCPU per guest: two busy vCPUs on a 2-core
# machine make every guest slower.

readonly GUEST_MEM_MB=1024
HMP=(node "$VMLAB_LIB/hmp.js")

# guest_machine_args: everything a snapshot depends on (devices, memory, CPU model).
# The per-guest disk path and forwarded port are added by guest_start.
guest_machine_args() {
  local img="$1"
  printf '%s\n' -machine q35 -accel tcg,thread=multi -cpu max -smp 1 -m "$GUEST_MEM_MB" \
    -kernel "$img/vmlinuz" -initrd "$img/initrd.img" \
    -append "console=ttyS0 root=/dev/vda rw init=/sbin/hvnet-vmlab-init quiet" \
    -nodefaults -display none -device virtio-rng-pci
}

# snapshot_key IMG: a snapshot is valid only for its exact image, QEMU and machine.
snapshot_key() {
  { guest_machine_args "$1"; qemu-system-x86_64 --version | head -n1; } | sha256sum | cut -c1-12
}

port_in_use() {
  ss -Hltn "sport = :$1" 2>/dev/null | grep -q .
}

# pick_port: a free loopback port for the guest's SSH. QEMU fails to start if another
# process takes it first; guest_start then tries another.
pick_port() {
  local p
  for _ in $(seq 50); do
    p=$((20000 + RANDOM % 40000))
    port_in_use "$p" || { printf '%s\n' "$p"; return 0; }
  done
  die "no free TCP port on 127.0.0.1 for a guest"
}

# guest_start NAME GDIR IMG DISK [STATE]: starts a daemonized QEMU for the guest whose
# files live in GDIR (pid, monitor socket, console log, port). With STATE it resumes
# that snapshot instead of booting. NAME goes on the command line so that a stop by
# recorded pid can check it still is our process.
guest_start() {
  local name="$1" gdir="$2" img="$3" disk="$4" state="${5:-}" port try err
  local -a args incoming=()
  mapfile -t args < <(guest_machine_args "$img")
  [[ -z "$state" ]] || incoming=(-incoming "exec:cat $state")
  for try in 1 2 3 4 5; do
    port="$(pick_port)"
    rm -f -- "$gdir/qemu.pid" "$gdir/monitor.sock"
    if err="$("${NICE[@]}" qemu-system-x86_64 -name "$name" "${args[@]}" \
      -drive "file=$disk,if=virtio,format=qcow2" \
      -netdev "user,id=mgmt,hostfwd=tcp:127.0.0.1:$port-:22" -device virtio-net-pci,netdev=mgmt \
      -serial "file:$gdir/console.log" -monitor "unix:$gdir/monitor.sock,server=on,wait=off" \
      -pidfile "$gdir/qemu.pid" -daemonize "${incoming[@]}" 2>&1 7>&- 8>&- 9>&-)"; then
      printf '%s\n' "$port" >"$gdir/port"
      return 0
    fi
    port_in_use "$port" || die "QEMU for $name did not start: $err"
  done
  die "QEMU for $name did not start: no free port after $try tries ($err)"
}

guest_pid() { cat -- "$1/qemu.pid" 2>/dev/null || true; }

# guest_is_ours PID NAME: the pid is alive and still the QEMU started under NAME.
guest_is_ours() {
  [[ "$1" =~ ^[0-9]+$ ]] || return 1
  tr '\0' '\n' <"/proc/$1/cmdline" 2>/dev/null | grep -qxF -- "$2"
}

# proc_alive PID: the process exists and is not a zombie (a zombie's parent, not us,
# reaps it; it holds no memory, files or ports any more).
proc_alive() {
  local stat
  stat="$(cat -- "/proc/$1/stat" 2>/dev/null)" || return 1
  stat="${stat##*) }"
  [[ "${stat:0:1}" != Z ]]
}

# guest_stop GDIR NAME: ends the guest by its recorded pid (TERM, then KILL) and waits
# until the process is gone.
guest_stop() {
  local gdir="$1" name="$2" pid
  pid="$(guest_pid "$gdir")"
  guest_is_ours "$pid" "$name" || return 0
  kill -TERM "$pid" 2>/dev/null || true
  for _ in $(seq 50); do
    proc_alive "$pid" || return 0
    sleep 0.2
  done
  guest_is_ours "$pid" "$name" && kill -KILL "$pid" 2>/dev/null
  for _ in $(seq 50); do
    proc_alive "$pid" || return 0
    sleep 0.2
  done
  die "guest $name (pid $pid) is still running after SIGKILL"
}

hmp() { "${HMP[@]}" "$1/monitor.sock" "$2" "${3:-60}"; }

# guest_wait_running GDIR NAME TIMEOUT: until the monitor says the guest runs (a resumed
# guest first loads its snapshot).
guest_wait_running() {
  local gdir="$1" name="$2" deadline=$((SECONDS + $3)) status=""
  while ((SECONDS < deadline)); do
    guest_is_ours "$(guest_pid "$gdir")" "$name" || die "guest $name exited; see $gdir/console.log"
    status="$(hmp "$gdir" "info status" 10 2>/dev/null || true)"
    [[ "$status" == *"status: running"* ]] && return 0
    # The snapshot was saved from a stopped guest, and a loaded snapshot keeps that
    # run state: the guest continues only when told to.
    if [[ "$status" == *"status: paused"* &&
      "$(hmp "$gdir" "info migrate" 10 2>/dev/null || true)" == *"Migration status: completed"* ]]; then
      hmp "$gdir" "cont" 10 >/dev/null || true
      continue
    fi
    sleep 1
  done
  die "guest $name not running after $3 s (monitor: ${status:-no answer})"
}

# ssh_guest PORT KEY KNOWN_HOSTS ALIAS COMMAND...: OpenSSH with the host key pinned.
# ALIAS (or "") names the known_hosts entry when it is not [127.0.0.1]:PORT: the image's
# bootstrap host key is the same on every port.
ssh_guest() {
  local port="$1" key="$2" kh="$3" alias="$4"
  local -a extra=()
  shift 4
  [[ -z "$alias" ]] || extra=(-o "HostKeyAlias=$alias")
  ssh -F /dev/null -i "$key" -o IdentitiesOnly=yes -o StrictHostKeyChecking=yes \
    -o UserKnownHostsFile="$kh" -o GlobalKnownHostsFile=/dev/null -o BatchMode=yes \
    -o ConnectTimeout=10 -o ServerAliveInterval=10 -o LogLevel=ERROR "${extra[@]}" \
    -p "$port" root@127.0.0.1 "$@"
}

# guest_wait_ssh GDIR NAME KEY KNOWN_HOSTS ALIAS TIMEOUT: until SSH with these keys works.
guest_wait_ssh() {
  local gdir="$1" name="$2" key="$3" kh="$4" alias="$5" deadline=$((SECONDS + $6)) port err=""
  port="$(cat -- "$gdir/port")"
  while ((SECONDS < deadline)); do
    guest_is_ours "$(guest_pid "$gdir")" "$name" || die "guest $name exited; see $gdir/console.log"
    err="$(ssh_guest "$port" "$key" "$kh" "$alias" true 2>&1)" && return 0
    sleep 2
  done
  die "guest $name: no SSH on 127.0.0.1:$port after $6 s ($err); see $gdir/console.log"
}

# known_hosts_line PORT PUBKEY_FILE: the entry OpenSSH looks up for 127.0.0.1:PORT.
known_hosts_line() {
  local keytype key
  read -r keytype key _ <"$2"
  printf '[127.0.0.1]:%s %s %s\n' "$1" "$keytype" "$key"
}
