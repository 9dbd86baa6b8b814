// flock(2) on a file, the one primitive the helper's host-wide locks need. Non-blocking
// only: the helper is synchronous, so a blocking LOCK_EX would freeze it.
import * as libc from "./internal/libc";
import { KernelError } from "./errors";

const EWOULDBLOCK = 11;

/** Opens (creating, mode 0600) a lock file; throws a KernelError (code "ENOENT" when its directory is gone). */
export function openLockFile(file: string): number {
  return libc.open(file, libc.O_RDWR | libc.O_CREAT, 0o600);
}

/** Takes an exclusive lock if nobody holds one; false when someone does. */
export function tryLockExclusive(fd: number, context: string): boolean {
  try {
    libc.flock(fd, libc.LOCK_EX | libc.LOCK_NB, context);
    return true;
  } catch (err) {
    if (err instanceof KernelError && err.errno === EWOULDBLOCK) return false;
    throw err;
  }
}

/** Closes the file, which releases its lock. */
export function closeLockFile(fd: number): void {
  libc.close(fd);
}
