// A per-device lock shared by every helper on the host (flock on a file under /run), so
// two stacks applying to one device never interleave their steps. The lock file is
// removed when released, so a destroyed stack leaves no file behind; a waiter that wakes
// up holding a removed file (inode no longer at the path) simply tries again.
import * as fs from "node:fs";
import * as libc from "../kernel/internal/libc";
import { LOCK_DIR, pruneEmptyDirs } from "./paths";

function lockFile(scope: string): string {
  return `${LOCK_DIR}/${scope.replace(/[^A-Za-z0-9_.-]/g, "_")}.lock`;
}

function acquire(file: string, scope: string): number {
  for (;;) {
    let fd: number;
    try {
      fd = libc.open(file, libc.O_RDWR | libc.O_CREAT, 0o600);
    } catch (err) {
      // Another helper removed the emptied lock directory between our mkdir and open.
      if ((err as { code?: string }).code !== "ENOENT") throw err;
      fs.mkdirSync(LOCK_DIR, { recursive: true, mode: 0o700 });
      continue;
    }
    libc.flock(fd, libc.LOCK_EX, scope);
    let current: fs.Stats | undefined;
    try {
      current = fs.statSync(file);
    } catch {
      current = undefined;
    }
    if (current && current.ino === fs.fstatSync(fd).ino) return fd;
    libc.close(fd);
  }
}

/** Runs fn while holding the host-wide lock named `scope` (e.g. "dev-eth0"). */
export function withLock<T>(scope: string, fn: () => T): T {
  fs.mkdirSync(LOCK_DIR, { recursive: true, mode: 0o700 });
  const file = lockFile(scope);
  const fd = acquire(file, scope);
  try {
    return fn();
  } finally {
    fs.rmSync(file, { force: true });
    libc.close(fd);
    pruneEmptyDirs(LOCK_DIR);
  }
}
