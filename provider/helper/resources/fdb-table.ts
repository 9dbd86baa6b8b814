// One l2fwd FDB table as the helper works on it: the attachment's `fdb` map and, beside it,
// the `ports` devmap that must hold every device an entry points at (the redirect target),
// with the vm-ingress-acl program and its rules for a device that has an ingress ACL.
import * as fs from "node:fs";
import * as path from "node:path";
import { BpfMap, BpfObject, BpfProgram, encodeDevmapValue, decodeDevmapValue, encodeU32Key } from "../kernel/bpf";
import { mkdirpBpffs } from "../kernel/bpf/pin";
import { KernelError } from "../kernel/errors";
import { OpError } from "../rpc/errors";
import { readRecord } from "../state/registry";
import { STRUCTS } from "../datapath/structs";
import { decodeFdbKey, decodeFdbValue } from "../datapath/fdb";
import { decodeAcl, encodeAcl } from "../datapath/acl";
import { builtin } from "../datapath/programs";
import { Acl } from "../../common/args/common";
import { XDP_RECORDS, XdpRecord } from "./xdp";
import { linkIndexes, withRt } from "./device";

export interface Table {
  pinDir: string;
  netns?: string;
  fdb: BpfMap;
  ports: BpfMap;
  close(): void;
}

/** `<pinDir>/maps/fdb` → the attachment it belongs to. */
export function openTable(tablePin: string): Table {
  if (!fs.existsSync(tablePin)) {
    throw new OpError("ENOENT", `table ${tablePin} does not exist: apply the l2fwd XdpProgram first`);
  }
  const mapsDir = path.dirname(tablePin);
  const pinDir = path.dirname(mapsDir);
  const record = readRecord<XdpRecord>(XDP_RECORDS, pinDir);
  const fdb = BpfMap.fromPin(tablePin);
  if (fdb.keySize !== STRUCTS.hvnet_fdb_key.size || fdb.valueSize !== STRUCTS.hvnet_fdb_value.size) {
    fdb.close();
    throw new OpError("EINVAL", `table ${tablePin} is not an l2fwd FDB map (key ${fdb.keySize} B, value ${fdb.valueSize} B)`);
  }
  const portsPin = `${mapsDir}/ports`;
  if (!fs.existsSync(portsPin)) {
    fdb.close();
    throw new OpError("ENOENT", `table ${tablePin} has no ports map beside it (${portsPin})`);
  }
  const ports = BpfMap.fromPin(portsPin);
  return {
    pinDir,
    netns: record?.netns,
    fdb,
    ports,
    close() {
      fdb.close();
      ports.close();
    },
  };
}

/** The vm-ingress-acl program and its rules map, one per table, pinned beside it. */
function ingressAclProgram(table: Table): { prog: BpfProgram; rules: BpfMap } {
  const dir = `${table.pinDir}/ingress-acl`;
  const progPin = `${dir}/prog`;
  const rulesPin = `${dir}/ingress_acl`;
  if (fs.existsSync(progPin) && fs.existsSync(rulesPin)) {
    return { prog: BpfProgram.fromPin(progPin), rules: BpfMap.fromPin(rulesPin) };
  }
  const b = builtin("vm-ingress-acl");
  const obj = BpfObject.open(b.path);
  try {
    obj.load();
    mkdirpBpffs(dir);
    const prog = obj.program(b.program);
    prog.pin(progPin);
    obj.map("ingress_acl").pin(rulesPin);
    const statsPin = `${dir}/stats`;
    if (!fs.existsSync(statsPin)) obj.map("stats").pin(statsPin);
  } finally {
    obj.close();
  }
  return { prog: BpfProgram.fromPin(progPin), rules: BpfMap.fromPin(rulesPin) };
}

function dropIngressAclIfUnused(table: Table): void {
  const dir = `${table.pinDir}/ingress-acl`;
  if (!fs.existsSync(dir)) return;
  const anyProgram = table.ports.entries().some(([, v]) => decodeDevmapValue(v).progId);
  if (anyProgram) return;
  for (const f of fs.readdirSync(dir)) fs.unlinkSync(`${dir}/${f}`);
  fs.rmdirSync(dir);
}

/** Puts the device in the ports devmap, with its ingress ACL program if it has one. */
export function setPort(table: Table, ifindex: number, acl: Acl | undefined): void {
  const key = encodeU32Key(ifindex);
  if (!acl) {
    table.ports.update(key, encodeDevmapValue(ifindex));
    const rules = openAclRules(table);
    rules?.delete(key);
    rules?.close();
    return;
  }
  const { prog, rules } = ingressAclProgram(table);
  try {
    // Rules first: the program fails closed (drops) for a port without rules.
    rules.update(key, encodeAcl(acl));
    table.ports.update(key, encodeDevmapValue(ifindex, prog.fd));
  } finally {
    prog.close();
    rules.close();
  }
}

/** Removes ports no FDB entry points at any more (and their ACL rules). */
export function prunePorts(table: Table): void {
  const used = new Set(table.fdb.entries().map(([, v]) => decodeFdbValue(v).ifindex));
  removePorts(table, table.ports.entries().map(([k]) => k).filter((k) => !used.has(k.readUInt32LE(0))));
}

/** Removes the ports of these devmap keys and their ACL rules, and the ACL program once no port runs it. */
export function removePorts(table: Table, keys: Buffer[]): void {
  const rules = openAclRules(table);
  try {
    for (const key of keys) {
      table.ports.delete(key);
      rules?.delete(key);
    }
  } finally {
    rules?.close();
  }
  dropIngressAclIfUnused(table);
}

export function tableLock(tablePin: string): string {
  return `fdb-${tablePin}`;
}

export function isFull(err: unknown): boolean {
  return err instanceof KernelError && (err.code === "E2BIG" || err.code === "ENOSPC");
}

/** The ingress ACL of a port, when its devmap entry runs the ACL program. */
export function portAcl(table: Table, ifindex: number, rules: BpfMap | undefined): Acl | undefined {
  if (!rules) return undefined;
  const port = table.ports.lookup(encodeU32Key(ifindex));
  if (!port || !decodeDevmapValue(port).progId) return undefined;
  const acl = rules.lookup(encodeU32Key(ifindex));
  return acl ? decodeAcl(acl) : undefined;
}

/** The table's ingress ACL rules map, if any port has had an ACL; the caller closes it. */
export function openAclRules(table: Table): BpfMap | undefined {
  const rulesPin = `${table.pinDir}/ingress-acl/ingress_acl`;
  return fs.existsSync(rulesPin) ? BpfMap.fromPin(rulesPin) : undefined;
}

/**
 * Runs `fn` on the open table and its ACL rules, closing both after; `absent` when the
 * table is gone (reads answer "nothing there" rather than fail).
 */
export function readTable<T>(tablePin: string, absent: T, fn: (table: Table, rules: BpfMap | undefined) => T): T {
  if (!fs.existsSync(tablePin)) return absent;
  const table = openTable(tablePin);
  try {
    const rules = openAclRules(table);
    try {
      return fn(table, rules);
    } finally {
      rules?.close();
    }
  } finally {
    table.close();
  }
}

/** A device as reads report it: its name, or its ifindex when no link of the netns has it. */
export function deviceName(name: string | undefined, ifindex: number): string {
  return name ?? `ifindex:${ifindex}`;
}

/** One entry of the map, decoded, with its device and the ingress ACL of its port. */
export interface ListedEntry {
  key: Buffer;
  vlan: number;
  mac: string;
  ifindex: number;
  device: string;
  acl?: Acl;
}

/**
 * The table's entries (those whose key `want` takes), from one pass over the map and one
 * link dump; each port's ACL is read once, however many entries point at it.
 */
export function listEntries(table: Table, rules: BpfMap | undefined, want: (key: Buffer) => boolean = () => true): ListedEntry[] {
  const { byIndex } = withRt(table.netns, linkIndexes);
  const acls = new Map<number, Acl | undefined>();
  const out: ListedEntry[] = [];
  for (const [key, value] of table.fdb.entries()) {
    if (!want(key)) continue;
    const { vlan, mac } = decodeFdbKey(key);
    const { ifindex } = decodeFdbValue(value);
    if (!acls.has(ifindex)) acls.set(ifindex, portAcl(table, ifindex, rules));
    const e: ListedEntry = { key, vlan, mac, ifindex, device: deviceName(byIndex.get(ifindex), ifindex) };
    const acl = acls.get(ifindex);
    if (acl) e.acl = acl;
    out.push(e);
  }
  return out;
}
