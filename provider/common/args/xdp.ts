// XdpProgram inputs (DESIGN.md "XdpProgram"): an XDP program attached through a pinned bpf_link.
import { InputReader, UNKNOWN } from "../validate/reader";
import { BPFFS_ROOT } from "../validate/formats";
import { readAdopt, readOwnership, Ownership } from "./common";

/** The built-in names users may give; provider/helper/datapath/programs.ts maps each to its object. */
export const BUILTIN_PROGRAMS = ["l2fwd", "vm-egress", "pass"] as const;
export type BuiltinProgram = (typeof BUILTIN_PROGRAMS)[number];
export type ProgramRef = BuiltinProgram | { object: string; section: string };

export interface XdpArgs extends Ownership {
  device: string;
  program: ProgramRef;
  mode: "native" | "skb" | "auto";
  netns?: string;
  pinDir: string;
  adopt: boolean;
}

export const DEFAULT_PIN_ROOT = `${BPFFS_ROOT}/hvnet`;

/** Default pins live per device (and netns) so two attachments never share a directory. */
export function defaultPinDir(device: string, netns?: string): string {
  const ns = netns ? netns.replace(/[^A-Za-z0-9_.-]/g, "_") : "root";
  return `${DEFAULT_PIN_ROOT}/xdp/${ns}/${device}`;
}

export function readProgramRef(r: InputReader, name: string): ProgramRef | undefined {
  const v = r.raw(name);
  if (v === UNKNOWN) return v as BuiltinProgram;
  if (typeof v === "string") {
    if ((BUILTIN_PROGRAMS as readonly string[]).includes(v)) return v as BuiltinProgram;
    r.fail(r.path(name), `${JSON.stringify(v)} is not a built-in program (${BUILTIN_PROGRAMS.join(", ")}) nor {object, section}`);
    return undefined;
  }
  if (v === undefined || v === null) {
    r.fail(r.path(name), "is required");
    return undefined;
  }
  return r.object(name, (o) => {
    const object = o.string("object", {
      check: (s) => (s.startsWith("/") && !s.split("/").includes("..") && s.endsWith(".o") ? undefined : "is not an absolute path to a .o file"),
    });
    const section = o.string("section", {
      check: (s) => (/^[A-Za-z0-9_./-]{1,128}$/.test(s) ? undefined : "is not a section name"),
    });
    return object && section ? { object, section } : undefined;
  });
}

export function readXdpArgs(r: InputReader): XdpArgs {
  const device = r.ifname("device");
  const program = readProgramRef(r, "program");
  const mode = r.oneOf("mode", ["native", "skb", "auto"] as const, { default: "native" })!;
  const netns = r.netns("netns");
  const pinDir = r.bpffsPath("pinDir", { optional: true });
  const adopt = readAdopt(r);
  const who = readOwnership(r);
  r.finish();
  const args: XdpArgs = { device: device!, program: program!, mode, pinDir: pinDir ?? defaultPinDir(device!, netns), adopt, ...who };
  if (netns) args.netns = netns;
  return args;
}
