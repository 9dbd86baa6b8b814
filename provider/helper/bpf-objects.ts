// Where the built-in BPF objects are: beside helper.js in the deployed bundle
// (dist/helper/bpf), or dist/bpf when the helper runs from source in tests.
import * as fs from "node:fs";
import * as path from "node:path";
import { BUILTIN_PROGRAMS, BuiltinProgram } from "./bpf-layout";

export function builtinObjectDir(): string {
  if (process.env.HVNET_BPF_DIR) return process.env.HVNET_BPF_DIR;
  const bundled = path.join(__dirname, "bpf");
  if (fs.existsSync(path.join(bundled, "l2fwd.o"))) return bundled;
  return path.resolve(__dirname, "..", "..", "dist", "bpf");
}

export function builtin(name: string): BuiltinProgram & { path: string } {
  const b = BUILTIN_PROGRAMS[name];
  if (!b) throw new Error(`unknown built-in program ${name}`);
  return { ...b, path: path.join(builtinObjectDir(), b.object) };
}
