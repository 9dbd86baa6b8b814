// Small JSON records of what hvnet made on this host that the kernel cannot tell us
// (which RSS queues an hvnet context reserves, which netns an XDP attachment lives in).
// Each record is written atomically (temp file + rename), so a crash never leaves half a file.
import * as fs from "node:fs";
import * as path from "node:path";
import { REGISTRY_DIR, pruneEmptyDirs } from "./paths";

function file(kind: string, key: string): string {
  return path.join(REGISTRY_DIR, kind, `${encodeURIComponent(key)}.json`);
}

export function readRecord<T>(kind: string, key: string): T | undefined {
  try {
    return JSON.parse(fs.readFileSync(file(kind, key), "utf8")) as T;
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === "ENOENT") return undefined;
    throw err;
  }
}

export function writeRecord(kind: string, key: string, value: unknown): void {
  const f = file(kind, key);
  fs.mkdirSync(path.dirname(f), { recursive: true, mode: 0o700 });
  const tmp = `${f}.${process.pid}.tmp`;
  fs.writeFileSync(tmp, JSON.stringify(value), { mode: 0o600 });
  fs.renameSync(tmp, f);
}

export function deleteRecord(kind: string, key: string): void {
  fs.rmSync(file(kind, key), { force: true });
  // Leave no empty directories behind: destroy must leave the host as it was.
  pruneEmptyDirs(path.dirname(file(kind, key)));
}
