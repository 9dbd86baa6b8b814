// The helper bundle's identity: one hash over its files, computed the same way by the
// builder, by the transport (to name the directory on the host) and by the helper itself
// (to prove in the handshake that the host runs exactly what was deployed).
import { createHash } from "node:crypto";
import * as fs from "node:fs";
import * as path from "node:path";

/** Files of the bundle, relative and sorted, so the hash does not depend on readdir order. */
export function bundleFiles(dir: string): string[] {
  const files: string[] = [];
  const walk = (rel: string) => {
    for (const entry of fs.readdirSync(path.join(dir, rel), { withFileTypes: true })) {
      const child = rel ? `${rel}/${entry.name}` : entry.name;
      if (entry.isDirectory()) walk(child);
      else if (entry.isFile()) files.push(child);
    }
  };
  walk("");
  return files.sort();
}

/** sha256 of "<sha256 of file>  <relative path>\n" lines: the same text `sha256sum` prints. */
export function bundleManifest(dir: string): string {
  return bundleFiles(dir)
    .map((f) => `${createHash("sha256").update(fs.readFileSync(path.join(dir, f))).digest("hex")}  ${f}\n`)
    .join("");
}

export function bundleHash(dir: string): string {
  return createHash("sha256").update(bundleManifest(dir)).digest("hex");
}
