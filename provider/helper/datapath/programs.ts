// The built-in XDP programs (bpf/): which object file, C function and section each name
// stands for, and where the objects are: beside helper.js in the deployed bundle
// (dist/helper/bpf), or dist/bpf when the helper runs from source in tests.
import * as fs from "node:fs";
import * as path from "node:path";
import type { BuiltinProgram } from "../../common/args/xdp";

export interface ProgramObject {
  /** File under the bpf output directory (dist/bpf). */
  object: string;
  /** C function name (libbpf program name). */
  program: string;
  section: "xdp" | "xdp/devmap";
  maps: readonly string[];
}

/** The devmap program the helper itself puts on FDB ports with an ingress ACL; users never name it. */
export type HelperProgram = "vm-ingress-acl";

/**
 * Every name users may give XdpProgram.program (provider/common/args/xdp.ts validates
 * them) and the helper's own, each with its object: a name without one does not compile.
 */
export const PROGRAM_OBJECTS: { readonly [name in BuiltinProgram | HelperProgram]: ProgramObject } = {
  l2fwd: { object: "l2fwd.o", program: "l2fwd", section: "xdp", maps: ["fdb", "ports", "stats"] },
  "vm-egress": { object: "vm_egress.o", program: "vm_egress", section: "xdp", maps: ["vm_config", "acl", "stats"] },
  "vm-ingress-acl": {
    object: "vm_ingress_acl.o",
    program: "vm_ingress_acl",
    section: "xdp/devmap",
    maps: ["ingress_acl", "stats"],
  },
  pass: { object: "pass.o", program: "xdp_pass", section: "xdp", maps: [] },
};

function builtinObjectDir(): string {
  if (process.env.HVNET_BPF_DIR) return process.env.HVNET_BPF_DIR;
  const bundled = path.join(__dirname, "bpf");
  if (fs.existsSync(path.join(bundled, "l2fwd.o"))) return bundled;
  return path.resolve(__dirname, "..", "..", "..", "dist", "bpf");
}

export function builtin(name: BuiltinProgram | HelperProgram): ProgramObject & { path: string } {
  const b = PROGRAM_OBJECTS[name];
  return { ...b, path: path.join(builtinObjectDir(), b.object) };
}
