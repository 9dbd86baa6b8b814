#!/usr/bin/env bash
# Starts and stops the test guest's QEMU inside a lab host's network namespace (where its
# taps are), recorded by pid so that stop ends exactly the QEMU this script started.
#
#   qemu.sh start --netns NS --guest DIR --run DIR [--smp N] [--mem MB] -- QEMU_NET_ARGS...
#       Runs in the foreground with the guest's serial console on stdin/stdout (the test
#       drives it); QEMU writes its pid to RUN/qemu.pid. NS is a netns name or a file path.
#       QEMU_NET_ARGS are the -netdev/-device pairs (hvnet's qemuArgs) and are passed to
#       QEMU as separate arguments, never through a shell.
#   qemu.sh stop --run DIR
#       Ends the recorded QEMU (TERM, then KILL after 5 s) and removes the pid file.
#
# Software emulation (TCG) only: no /dev/kvm use, and niced so other work on the machine
# keeps its share.
set -euo pipefail
die() { printf 'guest: error: %s\n' "$*" >&2; exit 1; }

cmd="${1:-}"
shift || true
NETNS="" GUEST="" RUN="" SMP=1 MEM=256
while (($#)); do
  case "$1" in
    --netns) NETNS="$2"; shift 2 ;;
    --guest) GUEST="$2"; shift 2 ;;
    --run) RUN="$2"; shift 2 ;;
    --smp) SMP="$2"; shift 2 ;;
    --mem) MEM="$2"; shift 2 ;;
    --) shift; break ;;
    *) die "unknown option '$1'" ;;
  esac
done
[[ -n "$RUN" ]] || die "--run DIR is required"
PIDFILE="$RUN/qemu.pid"

# is_our_qemu PID: the pid still names a QEMU started with our pid file (not a reused pid).
is_our_qemu() {
  [[ -r "/proc/$1/cmdline" ]] && tr '\0' '\n' <"/proc/$1/cmdline" | grep -qxF -- "$PIDFILE"
}

case "$cmd" in
  start)
    [[ -n "$NETNS" && -n "$GUEST" ]] || die "start needs --netns and --guest"
    [[ -f "$GUEST/vmlinuz" && -f "$GUEST/initramfs.cpio.gz" ]] || die "$GUEST has no guest (run scripts/guest/initramfs.sh)"
    [[ "$SMP" =~ ^[1-8]$ && "$MEM" =~ ^[0-9]+$ ]] || die "--smp 1-8 and --mem MB"
    mkdir -p -- "$RUN"
    if [[ "$NETNS" == */* ]]; then enter=(nsenter "--net=$NETNS"); else enter=(ip netns exec "$NETNS"); fi
    # ipv6.disable: the guest's own link-local chatter would only add noise to the counters.
    exec "${enter[@]}" nice -n 10 qemu-system-x86_64 \
      -nodefaults -no-user-config -display none -no-reboot \
      -machine q35 -accel tcg,thread=multi -cpu max -smp "$SMP" -m "$MEM" \
      -kernel "$GUEST/vmlinuz" -initrd "$GUEST/initramfs.cpio.gz" \
      -append "console=ttyS0 quiet loglevel=1 panic=-1 ipv6.disable=1 rdinit=/init" \
      -chardev stdio,id=con,signal=off -serial chardev:con \
      -pidfile "$PIDFILE" "$@"
    ;;
  stop)
    [[ -f "$PIDFILE" ]] || exit 0
    pid="$(cat -- "$PIDFILE")"
    [[ "$pid" =~ ^[0-9]+$ ]] || die "$PIDFILE holds no pid"
    if is_our_qemu "$pid"; then
      kill -TERM "$pid" 2>/dev/null || true
      for _ in $(seq 50); do is_our_qemu "$pid" || break; sleep 0.1; done
      if is_our_qemu "$pid"; then kill -KILL "$pid" 2>/dev/null || true; fi
      for _ in $(seq 50); do is_our_qemu "$pid" || break; sleep 0.1; done
      ! is_our_qemu "$pid" || die "QEMU $pid did not exit"
    fi
    rm -f -- "$PIDFILE"
    ;;
  *) die "usage: qemu.sh start|stop ..." ;;
esac
