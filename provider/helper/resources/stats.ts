// stats: the datapath's per-CPU counters, summed per counter, for every hvnet XDP
// attachment on this host (l2fwd on uplinks, vm-egress on VM taps, the ingress ACL of
// each FDB table). Read-only: it opens pins and reads maps, and changes nothing.
//
// Attachments are found three ways, so that one a record lost is still counted: the XDP
// registry (XdpProgram, also pin dirs outside the default root), the VmInterface
// registry (taps with vm-egress), and every pin dir under the hvnet bpffs root that has a
// `maps/stats` pin.
import * as fs from "node:fs";
import * as path from "node:path";
import { BpfLink, BpfMap, BpfProgram, possibleCpus } from "../kernel/bpf";
import { COUNTERS } from "../../common/counters";
import { readCounters } from "../datapath/counters";
import { InputReader } from "../../common/validate/reader";
import { REGISTRY_DIR } from "../state/paths";
import { readRecord } from "../state/registry";
import { DEFAULT_PIN_ROOT } from "../../common/args/xdp";
import { XDP_RECORDS, XdpRecord } from "./xdp";
import { withRt } from "./device";
import type { AttachmentKind, AttachmentStats } from "../../common/stats";
import { egressPinDir } from "./vmif";
import { linkPinOf, mapsDirOf } from "./xdp-attachment";

export type { AttachmentKind, AttachmentStats } from "../../common/stats";

interface Source {
  kind: AttachmentKind;
  pinDir: string;
  device?: string;
  netns?: string;
  vm?: AttachmentStats["vm"];
}

/** Registry keys of one kind (file names are encodeURIComponent(key) + ".json"). */
function registryKeys(kind: string): string[] {
  const dir = path.join(REGISTRY_DIR, kind);
  const keys: string[] = [];
  const walk = (d: string, prefix: string) => {
    let entries: fs.Dirent[];
    try {
      entries = fs.readdirSync(d, { withFileTypes: true });
    } catch {
      return; // no records of this kind yet
    }
    for (const e of entries) {
      if (e.isDirectory()) walk(path.join(d, e.name), `${prefix}${e.name}/`);
      else if (e.name.endsWith(".json")) keys.push(`${prefix}${decodeURIComponent(e.name.slice(0, -5))}`);
    }
  };
  walk(dir, "");
  return keys;
}

/** Pin dirs under root that hold a `maps/stats` pin. */
function pinnedStatsDirs(root: string): string[] {
  const out: string[] = [];
  const walk = (d: string) => {
    let entries: fs.Dirent[];
    try {
      entries = fs.readdirSync(d, { withFileTypes: true });
    } catch {
      return;
    }
    if (fs.existsSync(`${mapsDirOf(d)}/stats`)) out.push(d);
    for (const e of entries) if (e.isDirectory() && e.name !== "maps" && e.name !== "ingress-acl") walk(path.join(d, e.name));
  };
  walk(root);
  return out;
}

interface VmifRecord {
  name: string;
  netns?: string;
  mac?: string;
  addresses?: string[];
  egress?: unknown;
}

function sources(): Source[] {
  const byDir = new Map<string, Source>();
  for (const pinDir of registryKeys(XDP_RECORDS)) {
    const r = readRecord<XdpRecord>(XDP_RECORDS, pinDir);
    if (r) byDir.set(pinDir, { kind: "uplink", pinDir, device: r.device, netns: r.netns });
  }
  for (const key of registryKeys("vmif")) {
    const r = readRecord<VmifRecord>("vmif", key);
    if (!r?.egress) continue;
    const pinDir = egressPinDir(r.netns, r.name);
    byDir.set(pinDir, { kind: "vm", pinDir, device: r.name, netns: r.netns, vm: { mac: r.mac, addresses: r.addresses } });
  }
  const vmRoot = path.dirname(path.dirname(egressPinDir(undefined, "x")));
  for (const pinDir of pinnedStatsDirs(DEFAULT_PIN_ROOT)) {
    if (!byDir.has(pinDir)) byDir.set(pinDir, { kind: pinDir.startsWith(`${vmRoot}/`) ? "vm" : "uplink", pinDir });
  }
  const out = [...byDir.values()];
  // One FDB table's ingress ACL program counts for every VM port that has an ACL.
  for (const s of [...out]) {
    if (s.kind === "uplink" && fs.existsSync(`${s.pinDir}/ingress-acl/stats`)) {
      out.push({ ...s, kind: "ingress-acl", pinDir: `${s.pinDir}/ingress-acl` });
    }
  }
  return out;
}

function statsPin(s: Source): string {
  return s.kind === "ingress-acl" ? `${s.pinDir}/stats` : `${mapsDirOf(s.pinDir)}/stats`;
}

/** The program counting and the device it runs on: from the pinned link, or for an FDB table's ingress ACL its pinned program (ifindex -1: it runs on the ports). */
function linkState(s: Source): { program?: string; ifindex: number } {
  const programName = (prog: BpfProgram) => {
    try {
      return prog.info().name;
    } finally {
      prog.close();
    }
  };
  if (s.kind === "ingress-acl") {
    const progPin = `${s.pinDir}/prog`;
    return fs.existsSync(progPin) ? { program: programName(BpfProgram.fromPin(progPin)), ifindex: -1 } : { ifindex: 0 };
  }
  const linkPin = linkPinOf(s.pinDir);
  if (!fs.existsSync(linkPin)) return { ifindex: 0 };
  const link = BpfLink.fromPin(linkPin);
  try {
    const info = link.info();
    return { program: programName(BpfProgram.fromId(info.progId)), ifindex: info.xdp?.ifindex ?? 0 };
  } finally {
    link.close();
  }
}

function deviceName(netns: string | undefined, ifindex: number): string | undefined {
  try {
    return withRt(netns, (rt) => rt.findLink(ifindex)?.name);
  } catch {
    return undefined; // the netns is gone: the record's name is all there is
  }
}

function readOne(s: Source, cpus: number): AttachmentStats | undefined {
  const pin = statsPin(s);
  if (!fs.existsSync(pin)) return undefined; // a user program without hvnet counters
  const map = BpfMap.fromPin(pin);
  let counters;
  try {
    counters = readCounters((k) => map.lookup(k), cpus);
  } finally {
    map.close();
  }
  const { program, ifindex } = linkState(s);
  // ingress-acl runs on the ports, not on a device of its own: it is attached while its program is pinned.
  const attached = s.kind === "ingress-acl" ? program !== undefined : ifindex > 0;
  const device = (ifindex > 0 ? deviceName(s.netns, ifindex) : undefined) ?? s.device ?? (ifindex > 0 ? `ifindex ${ifindex}` : path.basename(s.kind === "ingress-acl" ? path.dirname(s.pinDir) : s.pinDir));
  const out: AttachmentStats = { kind: s.kind, device, pinDir: s.pinDir, attached, counters: {} };
  if (program) out.program = program;
  if (s.netns) out.netns = s.netns;
  if (s.vm) out.vm = s.vm;
  for (const name of COUNTERS) out.counters[name] = { packets: counters[name].packets.toString(), bytes: counters[name].bytes.toString() };
  return out;
}

const KIND_ORDER: Record<AttachmentKind, number> = { uplink: 0, "ingress-acl": 1, vm: 2 };

export function stats(raw: unknown): { cpus: number; attachments: AttachmentStats[] } {
  InputReader.of(raw).finish(); // no arguments: a typo'd one must not pass silently
  const cpus = possibleCpus();
  const attachments = sources()
    .map((s) => readOne(s, cpus))
    .filter((a): a is AttachmentStats => a !== undefined)
    .sort((a, b) => KIND_ORDER[a.kind] - KIND_ORDER[b.kind] || a.device.localeCompare(b.device) || a.pinDir.localeCompare(b.pinDir));
  return { cpus, attachments };
}
