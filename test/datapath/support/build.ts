// Builds the datapath objects (bpf/Makefile) once per source state into a cache directory
// keyed by a hash of every file under bpf/, so tests never depend on a stale dist/bpf.
// Jest runs files in parallel workers: each build goes to its own directory, renamed into
// place; a worker that loses the race uses the winner's.
import { execFileSync } from "node:child_process";
import { createHash } from "node:crypto";
import { existsSync, readdirSync, readFileSync, renameSync, rmSync, statSync } from "node:fs";
import { tmpdir } from "node:os";
import { join, relative } from "node:path";
import { requireCommand } from "../../support/require-root";

const BPF_DIR = join(__dirname, "..", "..", "..", "bpf");

function files(dir: string): string[] {
  return readdirSync(dir)
    .sort()
    .flatMap((name) => {
      const p = join(dir, name);
      return statSync(p).isDirectory() ? files(p) : [p];
    });
}

/** Directory holding l2fwd.o, vm_egress.o, vm_ingress_acl.o, pass.o, xdp_drop.o, classic_fwd.o. */
export function buildDatapath(): string {
  requireCommand("clang");
  requireCommand("make");
  const hash = createHash("sha256");
  for (const f of files(BPF_DIR)) hash.update(relative(BPF_DIR, f)).update(readFileSync(f));
  const out = join(tmpdir(), `hvt-datapath-${hash.digest("hex").slice(0, 12)}`);
  if (existsSync(join(out, "classic_fwd.o"))) return out;
  const tmp = `${out}.${process.pid}.tmp`;
  rmSync(tmp, { recursive: true, force: true });
  execFileSync("make", ["-s", "-C", BPF_DIR, `OUT=${tmp}`], { stdio: ["ignore", "ignore", "pipe"] });
  try {
    renameSync(tmp, out);
  } catch {
    rmSync(tmp, { recursive: true, force: true }); // another worker won the race
  }
  return out;
}
