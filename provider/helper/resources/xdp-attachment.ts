// One XDP attachment: a program on a device through a pinned bpf_link, with its maps
// pinned beside the link. Shared by XdpProgram and by VmInterface's vm-egress.
//
// Layout under the attachment's pin directory:
//   <pinDir>/link          the bpf_link (keeps the program attached without any process)
//   <pinDir>/maps/<name>   the program's maps, reused when the program is swapped
import * as fs from "node:fs";
import * as path from "node:path";
import { BpfObject, BpfLink, BpfMap, BpfProgram } from "../kernel/bpf";
import { ensureBpffs, mkdirpBpffs, pruneEmptyBpffsDirs, removePin } from "../kernel/bpf/pin";
import { RtNetlink } from "../kernel/netlink/rtnetlink";
import { OpError } from "../rpc/errors";
import { builtin } from "../datapath/programs";
import { ProgramRef } from "../../common/args/xdp";
import { BPFFS_ROOT } from "../../common/validate/formats";

export interface AttachSpec {
  device: string;
  program: ProgramRef;
  mode: "native" | "skb" | "auto";
  pinDir: string;
  adopt: boolean;
}

export interface AttachmentState {
  device: string;
  ifindex: number;
  programId: number;
  programTag: string;
  linkId: number;
  linkPin: string;
  maps: Record<string, string>;
  attachMode: "native" | "skb" | "hw" | "none";
}

const ATTACH_MODE = { none: "none", drv: "native", skb: "skb", hw: "hw", multi: "native" } as const;

export const linkPinOf = (pinDir: string) => `${pinDir}/link`;
export const mapsDirOf = (pinDir: string) => `${pinDir}/maps`;

function objectFor(ref: ProgramRef): { path: string; program: string; bySection: boolean } {
  if (typeof ref === "string") {
    const b = builtin(ref);
    return { path: b.path, program: b.program, bySection: false };
  }
  if (!fs.existsSync(ref.object)) throw new OpError("ENOENT", `program.object ${ref.object} does not exist on the host`);
  return { path: ref.object, program: ref.section, bySection: true };
}

/** User-visible maps: libbpf's internal .data/.rodata/.bss maps are not pinned. */
function isPublicMap(m: BpfMap): boolean {
  return !m.name.includes(".");
}

/** Opens and loads the program, reusing the attachment's pinned maps (tables survive a swap). */
function loadProgram(ref: ProgramRef, mapsDir: string): { obj: BpfObject; prog: BpfProgram } {
  const { path: objPath, program, bySection } = objectFor(ref);
  const obj = BpfObject.open(objPath);
  try {
    for (const m of obj.maps().filter(isPublicMap)) {
      const pin = `${mapsDir}/${m.name}`;
      if (!fs.existsSync(pin)) continue;
      const existing = BpfMap.fromPin(pin);
      try {
        m.reuse(existing);
      } finally {
        existing.close();
      }
    }
    obj.load();
    const prog = bySection ? obj.programs().find((p) => p.section === program || p.name === program) : obj.program(program);
    if (!prog) throw new OpError("ENOENT", `program.section ${program} is not in ${objPath} (it has ${obj.programs().map((p) => p.section).join(", ")})`);
    return { obj, prog };
  } catch (err) {
    obj.close();
    throw err;
  }
}

function findDevice(rt: RtNetlink, device: string) {
  const link = rt.findLink(device);
  if (!link) throw new OpError("ENODEV", `device ${device} does not exist`);
  return link;
}

/** Attaches or converges. Must run inside the device's netns (ifindexes are per netns). */
export function attach(spec: AttachSpec, rt: RtNetlink): { state: AttachmentState; created: boolean; swapped: boolean } {
  ensureBpffs(BPFFS_ROOT);
  const dev = findDevice(rt, spec.device);
  const linkPin = linkPinOf(spec.pinDir);
  const mapsDir = mapsDirOf(spec.pinDir);
  let existing: BpfLink | undefined = fs.existsSync(linkPin) ? BpfLink.fromPin(linkPin) : undefined;
  try {
    if (existing) {
      const info = existing.info();
      const ifindex = info.xdp?.ifindex ?? 0;
      if (ifindex === 0) {
        // The device went away (and took the attachment with it): a stale pin, start afresh.
        existing.close();
        existing = undefined;
        removePin(linkPin);
      } else if (ifindex !== dev.ifindex) {
        throw new OpError("EEXIST", `${linkPin} holds an XDP link of another device (ifindex ${ifindex}), not ${spec.device}`);
      } else if (!spec.adopt) {
        throw new OpError("EEXIST", `${spec.device} already has an XDP attachment pinned at ${linkPin}; set adopt: true to take it over`);
      }
    }
    const { obj, prog } = loadProgram(spec.program, mapsDir);
    try {
      let swapped = false;
      let created = false;
      if (existing) {
        const current = BpfProgram.fromId(existing.info().progId);
        const currentTag = current.info().tag;
        current.close();
        if (currentTag !== prog.info().tag) {
          existing.update(prog); // BPF_LINK_UPDATE: same link, no moment without a program
          swapped = true;
        }
      } else {
        if (dev.xdp && dev.xdp.attached !== 0 && dev.xdp.attached !== "none") {
          throw new OpError("EBUSY", `${spec.device} already has an XDP program (id ${dev.xdp.progId}) that hvnet does not manage`);
        }
        existing = attachLink(prog, dev.ifindex, spec.mode);
        mkdirpBpffs(spec.pinDir);
        existing.pin(linkPin);
        created = true;
      }
      mkdirpBpffs(mapsDir);
      for (const m of obj.maps().filter(isPublicMap)) {
        const pin = `${mapsDir}/${m.name}`;
        if (!fs.existsSync(pin)) m.pin(pin);
      }
      return { state: describe(spec.pinDir, rt)!, created, swapped };
    } finally {
      obj.close();
    }
  } finally {
    existing?.close();
  }
}

function attachLink(prog: BpfProgram, ifindex: number, mode: AttachSpec["mode"]): BpfLink {
  if (mode !== "auto") return BpfLink.attachXdp(prog, ifindex, mode);
  try {
    return BpfLink.attachXdp(prog, ifindex, "native");
  } catch (err) {
    const code = (err as { code?: string }).code;
    // A driver without native XDP says so with one of these; anything else is a real error.
    if (code !== "EOPNOTSUPP" && code !== "EINVAL" && code !== "ENOTSUPP") throw err;
    return BpfLink.attachXdp(prog, ifindex, "skb");
  }
}

/** The attachment as the kernel has it, or undefined when it is gone (drift). */
export function describe(pinDir: string, rt: RtNetlink): AttachmentState | undefined {
  const linkPin = linkPinOf(pinDir);
  if (!fs.existsSync(linkPin)) return undefined;
  const link = BpfLink.fromPin(linkPin);
  try {
    const info = link.info();
    const ifindex = info.xdp?.ifindex ?? 0;
    if (ifindex === 0) return undefined;
    const dev = rt.findLink(ifindex);
    if (!dev) return undefined;
    const prog = BpfProgram.fromId(info.progId);
    const progInfo = prog.info();
    prog.close();
    const mapsDir = mapsDirOf(pinDir);
    const maps: Record<string, string> = {};
    if (fs.existsSync(mapsDir)) for (const name of fs.readdirSync(mapsDir).sort()) maps[name] = `${mapsDir}/${name}`;
    const attached = typeof dev.xdp?.attached === "number" ? (["none", "drv", "skb", "hw", "multi"] as const)[dev.xdp.attached] : dev.xdp?.attached;
    return {
      device: dev.name,
      ifindex,
      programId: progInfo.id,
      programTag: progInfo.tag,
      linkId: info.id,
      linkPin,
      maps,
      attachMode: ATTACH_MODE[attached ?? "none"],
    };
  } finally {
    link.close();
  }
}

/**
 * Unpins the link (detaching the program), then every other pin of the attachment (its
 * maps, and what hangs off them such as l2fwd's ingress ACL program); absent is success.
 */
export function detach(pinDir: string): boolean {
  const linkPin = linkPinOf(pinDir);
  const existed = fs.existsSync(linkPin);
  if (existed) {
    // Detach now rather than when the kernel frees the unpinned link: a replacement
    // attached right after (delete-before-replace) would find the hook still busy.
    const link = BpfLink.fromPin(linkPin);
    try {
      link.detach();
    } finally {
      link.close();
    }
  }
  removePin(linkPin);
  removeTree(pinDir);
  pruneEmptyBpffsDirs(path.dirname(pinDir), BPFFS_ROOT);
  return existed;
}

function removeTree(dir: string): void {
  if (!fs.existsSync(dir)) return;
  for (const entry of fs.readdirSync(dir, { withFileTypes: true })) {
    const p = `${dir}/${entry.name}`;
    if (entry.isDirectory()) removeTree(p);
    else removePin(p);
  }
  fs.rmdirSync(dir);
}
