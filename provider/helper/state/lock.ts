// A per-device lock shared by every helper on the host (flock on a file under /run), so
// two stacks applying to one device never interleave their steps. The lock file is
// removed when released, so a destroyed stack leaves no file behind; a waiter that wakes
// up holding a removed file (inode no longer at the path) simply tries again.
//
// The wait is bounded by the request's deadline (the provider stops waiting then): the
// helper is synchronous, so a blocking LOCK_EX would freeze it for as long as another
// stack holds the lock. The holder writes who it is into the file, so the waiter's error
// names it. flock dies with its process: a holder that no longer runs holds nothing.
import * as fs from "node:fs";
import { closeLockFile, openLockFile as openFile, tryLockExclusive } from "../kernel/flock";
import { OpError } from "../rpc/errors";
import { LOCK_DIR, pruneEmptyDirs } from "./paths";
import { currentRequest } from "./request-context";

/** Between two tries: short next to any deadline, long next to one flock syscall. */
const POLL_MS = 50;

/** What a holder writes into its lock file. */
export interface LockHolder {
  owner?: string;
  pid: number;
  since: string;
}

export function lockFile(scope: string): string {
  return `${LOCK_DIR}/${scope.replace(/[^A-Za-z0-9_.-]/g, "_")}.lock`;
}

const sleeper = new Int32Array(new SharedArrayBuffer(4));
function sleepSync(ms: number): void {
  Atomics.wait(sleeper, 0, 0, ms);
}

function openLockFile(file: string): number {
  for (;;) {
    try {
      return openFile(file);
    } catch (err) {
      // Another helper removed the emptied lock directory between our mkdir and open.
      if ((err as { code?: string }).code !== "ENOENT") throw err;
      fs.mkdirSync(LOCK_DIR, { recursive: true, mode: 0o700 });
    }
  }
}

function readHolder(fd: number): LockHolder | undefined {
  try {
    const text = fs.readFileSync(fd, "utf8");
    const h = JSON.parse(text) as Partial<LockHolder>;
    if (typeof h.pid !== "number" || typeof h.since !== "string") return undefined;
    return { pid: h.pid, since: h.since, ...(typeof h.owner === "string" ? { owner: h.owner } : {}) };
  } catch {
    return undefined; // not written yet (the holder is between flock and write), or not ours
  }
}

function writeHolder(fd: number, holder: LockHolder): void {
  const text = Buffer.from(JSON.stringify(holder) + "\n");
  fs.ftruncateSync(fd, 0);
  fs.writeSync(fd, text, 0, text.length, 0);
}

export function describeHolder(holder: LockHolder | undefined): string {
  if (!holder) return "another process (it wrote no holder record: not an hvnet helper, or one that just took it)";
  const who = holder.owner ?? "a helper serving no named owner";
  return `${who} (helper pid ${holder.pid}, since ${holder.since})`;
}

function heldError(scope: string, holder: LockHolder | undefined, waitedMs: number): OpError {
  const waited = waitedMs >= 10_000 ? `${Math.round(waitedMs / 1000)} s` : `${(waitedMs / 1000).toFixed(1)} s`;
  const stop = holder ? `stop it on the host (kill ${holder.pid})` : `find what holds ${lockFile(scope)} on the host (fuser -v) and stop it`;
  return new OpError(
    "ELOCKED",
    `lock ${scope} is held by ${describeHolder(holder)}; waited ${waited}, up to this request's deadline, and changed nothing. ` +
      `If that stack's pulumi run is still going, let it finish, then run again; if it is not, its helper is stuck: ${stop} and run again.`,
  );
}

function acquire(file: string, scope: string): number {
  const { owner, deadline } = currentRequest();
  const started = Date.now();
  for (;;) {
    const fd = openLockFile(file);
    let holder: LockHolder | undefined;
    try {
      if (tryLockExclusive(fd, scope)) {
        let current: fs.Stats | undefined;
        try {
          current = fs.statSync(file);
        } catch {
          current = undefined;
        }
        if (current && current.ino === fs.fstatSync(fd).ino) {
          writeHolder(fd, { ...(owner ? { owner } : {}), pid: process.pid, since: new Date().toISOString() });
          return fd;
        }
        // The holder released and removed the file while we opened it: open again.
        closeLockFile(fd);
        continue;
      }
      holder = readHolder(fd);
    } catch (err) {
      closeLockFile(fd);
      throw err;
    }
    closeLockFile(fd);
    const left = deadline - Date.now();
    if (left <= 0) throw heldError(scope, holder, Date.now() - started);
    sleepSync(Math.min(POLL_MS, left));
  }
}

/**
 * Runs fn while holding the host-wide lock named `scope` (e.g. "dev-eth0"). Waits for it
 * at most until the current request's deadline; then fails naming the holder, before
 * fn has changed anything.
 */
export function withLock<T>(scope: string, fn: () => T): T {
  fs.mkdirSync(LOCK_DIR, { recursive: true, mode: 0o700 });
  const file = lockFile(scope);
  const fd = acquire(file, scope);
  try {
    return fn();
  } finally {
    fs.rmSync(file, { force: true });
    closeLockFile(fd);
    pruneEmptyDirs(LOCK_DIR);
  }
}
