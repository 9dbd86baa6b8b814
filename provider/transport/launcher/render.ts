// The launcher (hvnet-launch.in beside this file) made for one helper bundle: the
// bundle's hash and manifest are written into it, so the launcher can install and start
// that bundle and nothing else. The build writes the one for dist/helper to
// dist/launcher/hvnet-launch, the file an operator installs for a non-root deploy user.
import { readFileSync } from "node:fs";
import * as path from "node:path";

/** Where the launcher lives on a host that a non-root user deploys to (named by the sudoers rule). */
export const LAUNCHER_PATH = "/usr/local/libexec/hvnet/hvnet-launch";
export const HELPER_ENTRY = "helper.js";
export const MIN_NODE_MAJOR = 20;

/** Where libbpf.so.1 lives on the distributions we expect; ldconfig is the fallback. */
export const LIBBPF_PATHS = [
  "/usr/lib/x86_64-linux-gnu/libbpf.so.1",
  "/usr/lib/aarch64-linux-gnu/libbpf.so.1",
  "/usr/lib64/libbpf.so.1",
  "/usr/lib/libbpf.so.1",
  "/lib/x86_64-linux-gnu/libbpf.so.1",
  "/lib64/libbpf.so.1",
];

const TEMPLATE = path.join(__dirname, "hvnet-launch.in");
const HEX64 = /^[0-9a-f]{64}$/;
// One "<sha256>  <path>" line per file: nothing that could end the here-document early.
const MANIFEST_LINE = /^[0-9a-f]{64} {2}[A-Za-z0-9._+@-]+(\/[A-Za-z0-9._+@-]+)*$/;

let template: string | undefined;

/** The launcher script for the bundle with this hash and manifest. */
export function renderLauncher(hash: string, manifest: string): string {
  if (!HEX64.test(hash)) throw new Error(`bundle hash ${JSON.stringify(hash)} is not 64 hex digits`);
  const lines = manifest.split("\n");
  if (lines.pop() !== "" || lines.length === 0 || !lines.every((l) => MANIFEST_LINE.test(l))) {
    throw new Error("internal: bundle manifest is not one '<sha256>  <path>' line per file");
  }
  template ??= readFileSync(TEMPLATE, "utf8");
  const values: Record<string, string> = {
    BUNDLE_HASH: hash,
    BUNDLE_MANIFEST: manifest,
    HELPER_ENTRY,
    MIN_NODE_MAJOR: String(MIN_NODE_MAJOR),
    LIBBPF_PATHS: LIBBPF_PATHS.join(" "),
  };
  return template.replace(/@([A-Z_]+)@/g, (m, k: string) => {
    const v = values[k];
    if (v === undefined) throw new Error(`internal: launcher template has unknown placeholder ${m}`);
    return v;
  });
}

/** The bundle hash a rendered launcher installs and starts. */
export function launcherBundle(script: string): string | undefined {
  return /^BUNDLE=([0-9a-f]{64})$/m.exec(script)?.[1];
}
