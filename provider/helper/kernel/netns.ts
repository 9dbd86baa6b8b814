// Running kernel work inside another network namespace.
//
// A network namespace belongs to a thread, not to the process: setns(CLONE_NEWNET) moves
// only the calling thread. That is why inNetns runs its callback synchronously on the
// JS thread and switches back before returning: anything asynchronous would resume later
// (on this thread, already switched back) or on a libuv pool thread that never switched,
// so its sockets and ioctls would land in the wrong namespace. Sockets and /dev/net/tun
// files keep the namespace they were opened in, so "open inside, use anywhere" is the
// pattern for longer-lived handles.
import { statSync } from "node:fs";
import * as libc from "./internal/libc";
import { KernelError } from "./errors";

/** Where `ip netns add NAME` bind-mounts a namespace. */
const NETNS_RUN_DIR = "/run/netns";

// ip(8) accepts more, but names reach a path: no '/', no leading '.', so never "." or "..".
const NAME_RE = /^[A-Za-z0-9_][A-Za-z0-9_.-]{0,254}$/;
const PROC_RE = /^\/proc\/[1-9][0-9]{0,9}\/ns\/net$/;
const SELF_NETNS = "/proc/thread-self/ns/net";

/**
 * Resolves a target to the file to open: a named netns → /run/netns/NAME, or a
 * `/proc/<pid>/ns/net` path as given. Anything else is refused before it reaches open(2).
 */
export function netnsPath(target: string): string {
  if (PROC_RE.test(target)) return target;
  if (NAME_RE.test(target)) return `${NETNS_RUN_DIR}/${target}`;
  throw new Error(
    `invalid netns ${JSON.stringify(target)}: expected a namespace name (letters, digits, '_', '.', '-') or /proc/<pid>/ns/net`,
  );
}

/**
 * Opens the namespace file (O_RDONLY|O_CLOEXEC); the caller owns and closes the fd.
 * `undefined` means the calling thread's current namespace. Used for IFLA_NET_NS_FD.
 */
export function netnsFd(target: string | undefined): number {
  return libc.open(target === undefined ? SELF_NETNS : netnsPath(target), libc.O_RDONLY);
}

/** Inode of the calling thread's network namespace (what `ip netns identify` compares). */
export function currentNetnsInode(): number {
  return statSync(SELF_NETNS).ino;
}

/** Inode of a target namespace, without entering it. */
export function netnsInode(target: string): number {
  return statSync(netnsPath(target)).ino;
}

function enter(fd: number, target: string): void {
  try {
    libc.setns(fd, libc.CLONE_NEWNET);
  } catch (e) {
    // A /run/netns entry left after a reboot is a plain file, not a bind mount: setns says
    // EINVAL. Say what that means instead of a bare errno.
    if (e instanceof KernelError && e.code === "EINVAL") {
      throw new KernelError("setns", e.errno, `${target} is not a network namespace (stale /run/netns entry?)`);
    }
    throw e;
  }
}

function isThenable(v: unknown): v is PromiseLike<unknown> {
  return typeof v === "object" && v !== null && typeof (v as { then?: unknown }).then === "function";
}

/**
 * Runs fn with the calling thread inside `target` (undefined: stay where we are) and
 * always switches back, also when fn throws. Nested calls each restore their own
 * starting namespace. fn must be synchronous: a returned promise is refused.
 */
export function inNetns<T>(target: string | undefined, fn: () => T): T {
  if (target === undefined) return refuseAsync(fn());

  const path = netnsPath(target);
  const original = libc.open(SELF_NETNS, libc.O_RDONLY);
  let targetFd: number;
  try {
    targetFd = libc.open(path, libc.O_RDONLY);
  } catch (e) {
    libc.close(original);
    throw e;
  }
  try {
    enter(targetFd, target);
  } catch (e) {
    libc.close(targetFd);
    libc.close(original);
    throw e;
  }
  libc.close(targetFd);

  try {
    return refuseAsync(fn());
  } finally {
    try {
      libc.setns(original, libc.CLONE_NEWNET);
    } catch (e) {
      // Continuing would run every later request in the wrong namespace: make it loud.
      throw new Error(`FATAL: could not return to the original network namespace after entering ${target}: ${String(e)}`);
    } finally {
      libc.close(original);
    }
  }
}

function refuseAsync<T>(result: T): T {
  if (isThenable(result)) {
    // Swallow the orphan's outcome so it cannot become an unhandled rejection.
    Promise.resolve(result).catch(() => undefined);
    throw new TypeError("inNetns callbacks must be synchronous: network namespaces are per thread");
  }
  return result;
}
