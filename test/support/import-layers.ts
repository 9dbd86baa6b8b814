// The layers of DESIGN.md as import rules. TypeScript has no Go `internal/`, so this is
// what keeps each layer to the ones below it: a file may import its own layer, the layers
// listed for it, and nothing else. The SSH boundary is a folder boundary: the provider side
// (kinds, runtime, transport) and the helper meet only in provider/common.
import * as fs from "node:fs";
import * as path from "node:path";

export interface Layer {
  name: string;
  /** Folder (repo-relative, no trailing slash); the longest matching folder wins. */
  dir: string;
  /** Layers this one may import (besides itself). */
  may: string[];
}

export const LAYERS: Layer[] = [
  { name: "cli", dir: "cli", may: ["sdk", "runtime", "transport", "common"] },
  { name: "sdk", dir: "sdk", may: ["transport", "common"] },
  { name: "kinds", dir: "provider/kinds", may: ["common"] },
  { name: "runtime", dir: "provider/runtime", may: ["kinds", "transport", "common"] },
  { name: "transport", dir: "provider/transport", may: ["common"] },
  { name: "common", dir: "provider/common", may: [] },
  { name: "helper", dir: "provider/helper", may: ["kernel", "common"] },
  // The kernel bindings encode addresses the shared module converts (provider/common/address.ts).
  { name: "kernel", dir: "provider/helper/kernel", may: ["common"] },
];

/**
 * Imports allowed across the rules above, each with its reason. The SDK reaches the
 * runtime through one module only, the shim Pulumi stores with every resource.
 */
export const EXCEPTIONS: { from: string; to: string; why: string }[] = [
  { from: "sdk/shim.ts", to: "provider/runtime/dynamic.ts", why: "the dynamic provider's one way into the runtime" },
];

export interface Violation {
  file: string;
  line: number;
  target: string;
  rule: string;
}

function layerOf(file: string): Layer | undefined {
  let best: Layer | undefined;
  for (const l of LAYERS) {
    if ((file === l.dir || file.startsWith(`${l.dir}/`)) && (!best || l.dir.length > best.dir.length)) best = l;
  }
  return best;
}

/** `internal/` folders are private to the folder that holds them (as in Go). */
function internalOwner(target: string): string | undefined {
  const at = target.lastIndexOf("/internal/");
  return at < 0 ? undefined : target.slice(0, at);
}

function sourceFiles(root: string, dir: string, out: string[] = []): string[] {
  const abs = path.join(root, dir);
  if (!fs.existsSync(abs)) return out;
  for (const entry of fs.readdirSync(abs, { withFileTypes: true })) {
    const rel = `${dir}/${entry.name}`;
    if (entry.isDirectory()) sourceFiles(root, rel, out);
    else if (entry.name.endsWith(".ts") && !entry.name.endsWith(".d.ts")) out.push(rel);
  }
  return out;
}

const IMPORT = /(?:\bfrom\s*|\brequire\(\s*|\bimport\(\s*|^\s*import\s+)["'](\.{1,2}\/[^"']*)["']/gm;

function resolveTarget(root: string, file: string, spec: string): string {
  const base = path.posix.normalize(path.posix.join(path.posix.dirname(file), spec));
  for (const candidate of [`${base}.ts`, `${base}/index.ts`, base]) {
    if (fs.existsSync(path.join(root, candidate))) return candidate;
  }
  return base;
}

/** Every import under the layered folders of `root` that breaks a rule. */
export function importViolations(root: string): Violation[] {
  const violations: Violation[] = [];
  const files = [...new Set(LAYERS.map((l) => l.dir.split("/")[0]))].flatMap((d) => sourceFiles(root, d));
  for (const file of files) {
    const from = layerOf(file);
    if (!from) continue;
    const text = fs.readFileSync(path.join(root, file), "utf8");
    for (const m of text.matchAll(IMPORT)) {
      const target = resolveTarget(root, file, m[1]);
      const line = text.slice(0, m.index).split("\n").length;
      const owner = internalOwner(target);
      if (owner !== undefined && !file.startsWith(`${owner}/`)) {
        violations.push({ file, line, target, rule: `${owner}/internal is private to ${owner}` });
        continue;
      }
      const to = layerOf(target);
      if (!to || to.name === from.name || from.may.includes(to.name)) continue;
      if (EXCEPTIONS.some((e) => e.from === file && e.to === target)) continue;
      violations.push({ file, line, target, rule: `${from.name} may import only ${[from.name, ...from.may].join(", ")}; not ${to.name}` });
    }
  }
  return violations;
}

export function formatViolation(v: Violation): string {
  return `${v.file}:${v.line} imports ${v.target} (${v.rule})`;
}
