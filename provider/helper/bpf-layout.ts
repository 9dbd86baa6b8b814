// The TypeScript mirror of bpf/include/hvnet.h: map key/value layouts of the XDP datapath,
// their encoders/decoders, the ACL compiler and the counter names. test/unit/bpf-layout-btf
// checks every offset and size here against the BTF of the built objects, so the C header
// and this file cannot drift apart silently. Integers are little endian (host order of
// every hypervisor we target) unless the C field says "_be".
import { addressFamily, formatIPv4, formatIPv6, formatMac, parseIPv4, parseIPv6, writeMac } from "../common/address";
import { COUNTERS, type CounterName } from "../common/counters";

// ------------------------------------------------------------------ sizes and limits

export const FDB_MAX_ENTRIES = 65536;
export const PORTS_MAX_ENTRIES = 4096;
export const INGRESS_ACL_MAX_ENTRIES = 4096;
export const VM_MAX_IPV4 = 8;
export const VM_MAX_IPV6 = 8;
export const ACL_MAX_RULES = 64;
export const ACL_SLOTS = 256;

/** Member offsets and sizes of every struct in hvnet.h (what the BTF test compares). */
export const STRUCTS = {
  hvnet_fdb_key: { size: 8, members: { vlan: 0, mac: 2 } },
  hvnet_fdb_value: { size: 8, members: { ifindex: 0, flags: 4 } },
  hvnet_vm_config: {
    size: 184,
    members: {
      mac: 0,
      vlan: 6,
      uplink_ifindex: 8,
      bond_ifindex: 12,
      bond_count: 20,
      ipv4_count: 21,
      ipv6_count: 22,
      flags: 23,
      ipv4_be: 24,
      ipv6_be: 56,
    },
  },
  hvnet_acl_rule: {
    size: 48,
    members: {
      family: 0,
      proto: 1,
      action: 2,
      src_len: 3,
      dst_len: 4,
      pad: 5,
      sport_lo: 8,
      sport_hi: 10,
      dport_lo: 12,
      dport_hi: 14,
      src: 16,
      dst: 32,
    },
  },
  hvnet_acl_field4: { size: 3072, members: { bound: 0, bits: 1024 } },
  hvnet_acl_field6: { size: 6144, members: { bound_hi: 0, bound_lo: 2048, bits: 4096 } },
  hvnet_acl_field16: { size: 2560, members: { bound: 0, bits: 512 } },
  hvnet_acl: {
    size: 28696,
    members: {
      rule_count: 0,
      default_action: 4,
      pad: 5,
      pass_bits: 8,
      portless_bits: 16,
      proto_bits: 24,
      src4: 2072,
      dst4: 5144,
      src6: 8216,
      dst6: 14360,
      sport: 20504,
      dport: 23064,
      rules: 25624,
    },
  },
  hvnet_counter: { size: 16, members: { packets: 0, bytes: 8 } },
} as const;

export type StructName = keyof typeof STRUCTS;

const FDB_KEY = STRUCTS.hvnet_fdb_key;
const FDB_VALUE = STRUCTS.hvnet_fdb_value;
const VMC = STRUCTS.hvnet_vm_config;
const RULE = STRUCTS.hvnet_acl_rule;
const ACL = STRUCTS.hvnet_acl;

// ------------------------------------------------------------------ built-in programs

export interface BuiltinProgram {
  /** File under the bpf output directory (dist/bpf). */
  object: string;
  /** C function name (libbpf program name). */
  program: string;
  section: "xdp" | "xdp/devmap";
  maps: readonly string[];
}

/** The built-in names of DESIGN.md (XdpProgram.program) and where they live. */
export const BUILTIN_PROGRAMS: Readonly<Record<string, BuiltinProgram>> = {
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

// ------------------------------------------------------------------ FDB

export const FDB_F_KEEP_TAG = 0x1;

export interface FdbKey {
  /** 0 = untagged (or priority-tagged), 1..4094 */
  vlan: number;
  mac: string;
}

export interface FdbValue {
  ifindex: number;
  /** Deliver with the 802.1Q tag kept instead of popped (a trunk port). */
  keepTag?: boolean;
}

function checkVlan(vlan: number, what: string): void {
  if (!Number.isInteger(vlan) || vlan < 0 || vlan > 4094) throw new RangeError(`${what} must be 0..4094, got ${vlan}`);
}

function checkU32(n: number, what: string): void {
  if (!Number.isInteger(n) || n < 0 || n > 0xffffffff) throw new RangeError(`${what} must be a u32, got ${n}`);
}

export function encodeFdbKey(k: FdbKey): Buffer {
  checkVlan(k.vlan, "FDB vlan");
  // Every byte is written below (2 + 6 = 8): the pooled, unzeroed allocation is safe and
  // much cheaper across a 10,000-entry batch.
  const b = Buffer.allocUnsafe(FDB_KEY.size);
  b.writeUInt16LE(k.vlan, FDB_KEY.members.vlan);
  writeMac(k.mac, b, FDB_KEY.members.mac);
  return b;
}

export function decodeFdbKey(b: Buffer): FdbKey {
  expectSize(b, FDB_KEY.size, "FDB key");
  return {
    vlan: b.readUInt16LE(FDB_KEY.members.vlan),
    mac: formatMac(b.subarray(FDB_KEY.members.mac, FDB_KEY.members.mac + 6)),
  };
}

export function encodeFdbValue(v: FdbValue): Buffer {
  checkU32(v.ifindex, "FDB ifindex");
  const b = Buffer.allocUnsafe(FDB_VALUE.size); // 4 + 4 bytes, all written below
  b.writeUInt32LE(v.ifindex, FDB_VALUE.members.ifindex);
  b.writeUInt32LE(v.keepTag ? FDB_F_KEEP_TAG : 0, FDB_VALUE.members.flags);
  return b;
}

export function decodeFdbValue(b: Buffer): FdbValue {
  expectSize(b, FDB_VALUE.size, "FDB value");
  const flags = b.readUInt32LE(FDB_VALUE.members.flags);
  const v: FdbValue = { ifindex: b.readUInt32LE(FDB_VALUE.members.ifindex) };
  if (flags & FDB_F_KEEP_TAG) v.keepTag = true;
  return v;
}

function expectSize(b: Buffer, size: number, what: string): void {
  if (b.length !== size) throw new RangeError(`${what} is ${b.length} bytes, expected ${size}`);
}

// ------------------------------------------------------------------ VM config

export const VM_F_ENABLED = 0x1;

export interface VmConfig {
  mac: string;
  /** VID pushed toward the uplink; 0 = untagged. */
  vlan: number;
  uplinkIfindex: number;
  /** Bond legs chosen by an L3+L4 hash (0, 1 or 2); empty = uplinkIfindex. */
  bondIfindexes: number[];
  ipv4: string[];
  ipv6: string[];
  /** false writes a config that drops everything (the state of a never-written entry). */
  enabled: boolean;
}

export function encodeVmConfig(c: VmConfig): Buffer {
  checkVlan(c.vlan, "VM vlan");
  checkU32(c.uplinkIfindex, "uplink ifindex");
  if (c.bondIfindexes.length > 2) throw new RangeError(`at most 2 bond legs, got ${c.bondIfindexes.length}`);
  if (c.ipv4.length > VM_MAX_IPV4) throw new RangeError(`at most ${VM_MAX_IPV4} IPv4 addresses per VM, got ${c.ipv4.length}`);
  if (c.ipv6.length > VM_MAX_IPV6) throw new RangeError(`at most ${VM_MAX_IPV6} IPv6 addresses per VM, got ${c.ipv6.length}`);
  const m = VMC.members;
  const b = Buffer.alloc(VMC.size);
  writeMac(c.mac, b, m.mac);
  b.writeUInt16LE(c.vlan, m.vlan);
  b.writeUInt32LE(c.uplinkIfindex, m.uplink_ifindex);
  c.bondIfindexes.forEach((ifi, i) => {
    checkU32(ifi, "bond ifindex");
    b.writeUInt32LE(ifi, m.bond_ifindex + 4 * i);
  });
  b.writeUInt8(c.bondIfindexes.length, m.bond_count);
  b.writeUInt8(c.ipv4.length, m.ipv4_count);
  b.writeUInt8(c.ipv6.length, m.ipv6_count);
  b.writeUInt8(c.enabled ? VM_F_ENABLED : 0, m.flags);
  c.ipv4.forEach((a, i) => parseIPv4(a).copy(b, m.ipv4_be + 4 * i));
  c.ipv6.forEach((a, i) => parseIPv6(a).copy(b, m.ipv6_be + 16 * i));
  return b;
}

export function decodeVmConfig(b: Buffer): VmConfig {
  expectSize(b, VMC.size, "VM config");
  const m = VMC.members;
  const bonds = Math.min(b.readUInt8(m.bond_count), 2);
  const n4 = Math.min(b.readUInt8(m.ipv4_count), VM_MAX_IPV4);
  const n6 = Math.min(b.readUInt8(m.ipv6_count), VM_MAX_IPV6);
  return {
    mac: formatMac(b.subarray(m.mac, m.mac + 6)),
    vlan: b.readUInt16LE(m.vlan),
    uplinkIfindex: b.readUInt32LE(m.uplink_ifindex),
    bondIfindexes: Array.from({ length: bonds }, (_, i) => b.readUInt32LE(m.bond_ifindex + 4 * i)),
    ipv4: Array.from({ length: n4 }, (_, i) => formatIPv4(b.subarray(m.ipv4_be + 4 * i, m.ipv4_be + 4 * i + 4))),
    ipv6: Array.from({ length: n6 }, (_, i) => formatIPv6(b.subarray(m.ipv6_be + 16 * i, m.ipv6_be + 16 * i + 16))),
    enabled: (b.readUInt8(m.flags) & VM_F_ENABLED) !== 0,
  };
}

// ------------------------------------------------------------------ ACL

export type AclAction = "pass" | "drop";
const ACTION_CODE: Record<AclAction, number> = { drop: 0, pass: 1 };

export interface AclRule {
  action: AclAction;
  /** 4 or 6; inferred from src/dst; absent with no prefixes = both families. */
  family?: 4 | 6;
  /** IP protocol / IPv6 next header (6 tcp, 17 udp, 1 icmp, 58 icmpv6); absent = any. */
  proto?: number;
  /** "10.0.0.0/8", "2001:db8::/32" or a single address; absent = any. Host bits must be 0. */
  src?: string;
  dst?: string;
  /** Inclusive port ranges; absent = any (then the rule also matches packets without ports). */
  sport?: [number, number];
  dport?: [number, number];
}

export interface Acl {
  rules: AclRule[];
  defaultAction: AclAction;
}

interface Prefix {
  family: 4 | 6;
  addr: Buffer; // 16 bytes, IPv4 in the first 4
  len: number;
}

function parsePrefix(text: string, what: string): Prefix {
  const [addr, lenText, extra] = text.split("/");
  if (extra !== undefined) throw new Error(`${what}: invalid prefix ${JSON.stringify(text)}`);
  const family = addressFamily(addr);
  const max = family === 4 ? 32 : 128;
  const len = lenText === undefined ? max : Number(lenText);
  if (!/^\d+$/.test(lenText ?? "0") || !Number.isInteger(len) || len < 0 || len > max) {
    throw new Error(`${what}: invalid prefix length in ${JSON.stringify(text)}`);
  }
  const raw = family === 4 ? parseIPv4(addr) : parseIPv6(addr);
  const value = bytesToBig(raw);
  const bits = BigInt(max);
  const hostMask = (1n << (bits - BigInt(len))) - 1n;
  if ((value & hostMask) !== 0n) throw new Error(`${what}: ${text} has host bits set`);
  const out = Buffer.alloc(16);
  raw.copy(out, 0);
  return { family, addr: out, len };
}

function bytesToBig(b: Buffer): bigint {
  let v = 0n;
  for (const x of b) v = (v << 8n) | BigInt(x);
  return v;
}

function checkPorts(r: [number, number] | undefined, what: string): [number, number] {
  if (r === undefined) return [0, 65535];
  const [lo, hi] = r;
  if (![lo, hi].every((p) => Number.isInteger(p) && p >= 0 && p <= 65535) || lo > hi) {
    throw new RangeError(`${what} must be [lo, hi] within 0..65535 with lo <= hi, got ${JSON.stringify(r)}`);
  }
  return [lo, hi];
}

/** A rule checked and reduced to the numbers the compiler and the C struct use. */
interface NormalRule {
  family: 0 | 4 | 6;
  proto: number;
  action: number;
  src?: Prefix;
  dst?: Prefix;
  sport: [number, number];
  dport: [number, number];
}

function normalizeRule(r: AclRule, i: number): NormalRule {
  const what = `ACL rule ${i}`;
  if (r.action !== "pass" && r.action !== "drop") throw new Error(`${what}: action must be "pass" or "drop"`);
  const proto = r.proto ?? 0;
  if (!Number.isInteger(proto) || proto < 0 || proto > 255) throw new RangeError(`${what}: proto must be 0..255`);
  const src = r.src === undefined ? undefined : parsePrefix(r.src, `${what} src`);
  const dst = r.dst === undefined ? undefined : parsePrefix(r.dst, `${what} dst`);
  const families = new Set([r.family, src?.family, dst?.family].filter((f) => f !== undefined));
  if (families.size > 1) throw new Error(`${what}: src, dst and family disagree on the address family`);
  const family = ([...families][0] ?? 0) as 0 | 4 | 6;
  if (family !== 0 && family !== 4 && family !== 6) throw new Error(`${what}: family must be 4 or 6`);
  return {
    family,
    proto,
    action: ACTION_CODE[r.action],
    src,
    dst,
    sport: checkPorts(r.sport, `${what} sport`),
    dport: checkPorts(r.dport, `${what} dport`),
  };
}

function hasPorts(r: NormalRule): boolean {
  return !(r.sport[0] === 0 && r.sport[1] === 65535 && r.dport[0] === 0 && r.dport[1] === 65535);
}

/** The inclusive range of values a rule accepts in one field, or null when it matches none. */
type Range = [bigint, bigint] | null;

/**
 * Cuts a field's value space into intervals at every rule boundary and records, per
 * interval, which rules match all of it (see struct hvnet_acl_field* in hvnet.h). Unused
 * slots repeat the top value and the last interval's bits, so the C search can always
 * run its fixed 8 steps.
 */
function compileField(ranges: Range[], max: bigint): { bound: bigint[]; bits: bigint[] } {
  const cuts = new Set<bigint>([0n]);
  for (const r of ranges) {
    if (!r) continue;
    cuts.add(r[0]);
    if (r[1] < max) cuts.add(r[1] + 1n);
  }
  const bound = [...cuts].sort((a, b) => (a < b ? -1 : a > b ? 1 : 0));
  if (bound.length > ACL_SLOTS) throw new Error(`ACL field needs ${bound.length} intervals, more than ${ACL_SLOTS}`);
  const bits = bound.map((start) => {
    let m = 0n;
    ranges.forEach((r, i) => {
      if (r && r[0] <= start && start <= r[1]) m |= 1n << BigInt(i);
    });
    return m;
  });
  const last = bits[bits.length - 1];
  while (bound.length < ACL_SLOTS) {
    bound.push(max);
    bits.push(last);
  }
  return { bound, bits };
}

function prefixRange(p: Prefix | undefined, family: 4 | 6, ruleFamily: 0 | 4 | 6): Range {
  const width = family === 4 ? 32n : 128n;
  const max = (1n << width) - 1n;
  if (ruleFamily !== 0 && ruleFamily !== family) return null;
  if (!p || p.len === 0) return [0n, max];
  const bytes = family === 4 ? p.addr.subarray(0, 4) : p.addr;
  const start = bytesToBig(bytes);
  return [start, start + (1n << (width - BigInt(p.len))) - 1n];
}

/** Compiles rules (first match wins) and the default action into the map value of `acl` / `ingress_acl`. */
export function encodeAcl(acl: Acl): Buffer {
  if (acl.rules.length > ACL_MAX_RULES) throw new RangeError(`at most ${ACL_MAX_RULES} ACL rules, got ${acl.rules.length}`);
  if (acl.defaultAction !== "pass" && acl.defaultAction !== "drop") throw new Error(`ACL default action must be "pass" or "drop"`);
  const rules = acl.rules.map(normalizeRule);
  const m = ACL.members;
  const b = Buffer.alloc(ACL.size);
  b.writeUInt32LE(rules.length, m.rule_count);
  b.writeUInt8(ACTION_CODE[acl.defaultAction], m.default_action);

  let pass = 0n;
  let portless = 0n;
  rules.forEach((r, i) => {
    if (r.action === 1) pass |= 1n << BigInt(i);
    if (!hasPorts(r)) portless |= 1n << BigInt(i);
  });
  b.writeBigUInt64LE(pass, m.pass_bits);
  b.writeBigUInt64LE(portless, m.portless_bits);
  for (let p = 0; p < 256; p++) {
    let bits = 0n;
    rules.forEach((r, i) => {
      if (r.proto === 0 || r.proto === p) bits |= 1n << BigInt(i);
    });
    b.writeBigUInt64LE(bits, m.proto_bits + 8 * p);
  }

  const f4 = STRUCTS.hvnet_acl_field4.members;
  const f6 = STRUCTS.hvnet_acl_field6.members;
  const f16 = STRUCTS.hvnet_acl_field16.members;
  const write4 = (off: number, pick: (r: NormalRule) => Prefix | undefined): void => {
    const { bound, bits } = compileField(rules.map((r) => prefixRange(pick(r), 4, r.family)), 0xffffffffn);
    bound.forEach((v, i) => b.writeUInt32LE(Number(v), off + f4.bound + 4 * i));
    bits.forEach((v, i) => b.writeBigUInt64LE(v, off + f4.bits + 8 * i));
  };
  const write6 = (off: number, pick: (r: NormalRule) => Prefix | undefined): void => {
    const { bound, bits } = compileField(rules.map((r) => prefixRange(pick(r), 6, r.family)), (1n << 128n) - 1n);
    bound.forEach((v, i) => {
      b.writeBigUInt64LE(v >> 64n, off + f6.bound_hi + 8 * i);
      b.writeBigUInt64LE(v & 0xffffffffffffffffn, off + f6.bound_lo + 8 * i);
    });
    bits.forEach((v, i) => b.writeBigUInt64LE(v, off + f6.bits + 8 * i));
  };
  const write16 = (off: number, pick: (r: NormalRule) => [number, number]): void => {
    const { bound, bits } = compileField(rules.map((r) => [BigInt(pick(r)[0]), BigInt(pick(r)[1])]), 65535n);
    bound.forEach((v, i) => b.writeUInt16LE(Number(v), off + f16.bound + 2 * i));
    bits.forEach((v, i) => b.writeBigUInt64LE(v, off + f16.bits + 8 * i));
  };
  write4(m.src4, (r) => r.src);
  write4(m.dst4, (r) => r.dst);
  write6(m.src6, (r) => r.src);
  write6(m.dst6, (r) => r.dst);
  write16(m.sport, (r) => r.sport);
  write16(m.dport, (r) => r.dport);

  rules.forEach((r, i) => encodeRule(r, b, m.rules + RULE.size * i));
  return b;
}

function encodeRule(r: NormalRule, b: Buffer, off: number): void {
  const f = RULE.members;
  b.writeUInt8(r.family, off + f.family);
  b.writeUInt8(r.proto, off + f.proto);
  b.writeUInt8(r.action, off + f.action);
  b.writeUInt8(r.src?.len ?? 0, off + f.src_len);
  b.writeUInt8(r.dst?.len ?? 0, off + f.dst_len);
  b.writeUInt16LE(r.sport[0], off + f.sport_lo);
  b.writeUInt16LE(r.sport[1], off + f.sport_hi);
  b.writeUInt16LE(r.dport[0], off + f.dport_lo);
  b.writeUInt16LE(r.dport[1], off + f.dport_hi);
  r.src?.addr.copy(b, off + f.src);
  r.dst?.addr.copy(b, off + f.dst);
}

function decodeRule(b: Buffer, off: number): AclRule {
  const f = RULE.members;
  const family = b.readUInt8(off + f.family);
  const rule: AclRule = { action: b.readUInt8(off + f.action) === ACTION_CODE.pass ? "pass" : "drop" };
  if (family === 4 || family === 6) rule.family = family;
  const proto = b.readUInt8(off + f.proto);
  if (proto !== 0) rule.proto = proto;
  const prefix = (addrOff: number, len: number): string => {
    const text = family === 4 ? formatIPv4(b.subarray(addrOff, addrOff + 4)) : formatIPv6(b.subarray(addrOff, addrOff + 16));
    return `${text}/${len}`;
  };
  const srcLen = b.readUInt8(off + f.src_len);
  const dstLen = b.readUInt8(off + f.dst_len);
  if (srcLen > 0) rule.src = prefix(off + f.src, srcLen);
  if (dstLen > 0) rule.dst = prefix(off + f.dst, dstLen);
  const sport: [number, number] = [b.readUInt16LE(off + f.sport_lo), b.readUInt16LE(off + f.sport_hi)];
  const dport: [number, number] = [b.readUInt16LE(off + f.dport_lo), b.readUInt16LE(off + f.dport_hi)];
  if (!(sport[0] === 0 && sport[1] === 65535)) rule.sport = sport;
  if (!(dport[0] === 0 && dport[1] === 65535)) rule.dport = dport;
  return rule;
}

/**
 * Reads the rules back from a map value. Prefixes come back as "addr/len" and the family
 * explicit; encodeAcl(decodeAcl(x)) reproduces x exactly, which is how the helper detects
 * classifier tables that do not match their rules (aclTablesMatchRules).
 */
export function decodeAcl(b: Buffer): Acl {
  expectSize(b, ACL.size, "ACL");
  const count = Math.min(b.readUInt32LE(ACL.members.rule_count), ACL_MAX_RULES);
  return {
    defaultAction: b.readUInt8(ACL.members.default_action) === ACTION_CODE.pass ? "pass" : "drop",
    rules: Array.from({ length: count }, (_, i) => decodeRule(b, ACL.members.rules + RULE.size * i)),
  };
}

/** True when the classifier tables of a map value are exactly what its rules compile to. */
export function aclTablesMatchRules(b: Buffer): boolean {
  return encodeAcl(decodeAcl(b)).equals(b);
}

// ------------------------------------------------------------------ counters

export { COUNTERS, type CounterName } from "../common/counters";

export interface Counter {
  packets: bigint;
  bytes: bigint;
}

export type Counters = Record<CounterName, Counter>;

/** The C enumerator of a counter name: "drop_spoof_ip" → HVNET_CNT_DROP_SPOOF_IP. */
export function counterEnumName(name: CounterName): string {
  return `HVNET_CNT_${name.toUpperCase()}`;
}

export function counterIndex(name: CounterName): number {
  return COUNTERS.indexOf(name);
}

export function encodeCounterKey(name: CounterName): Buffer {
  const b = Buffer.alloc(4);
  b.writeUInt32LE(counterIndex(name), 0);
  return b;
}

/**
 * Sums one PERCPU_ARRAY value (cpus slots of struct hvnet_counter, each rounded up to 8
 * bytes, as BPF_MAP_LOOKUP_ELEM returns it) over the CPUs.
 */
export function sumPerCpuCounter(value: Buffer, cpus: number): Counter {
  const stride = STRUCTS.hvnet_counter.size; // already a multiple of 8
  if (value.length < stride * cpus) throw new RangeError(`per-CPU counter value is ${value.length} bytes, expected ${stride * cpus}`);
  let packets = 0n;
  let bytes = 0n;
  for (let c = 0; c < cpus; c++) {
    packets += value.readBigUInt64LE(c * stride + STRUCTS.hvnet_counter.members.packets);
    bytes += value.readBigUInt64LE(c * stride + STRUCTS.hvnet_counter.members.bytes);
  }
  return { packets, bytes };
}

/** Reads every counter through a lookup function (e.g. BpfMap.lookup of a `stats` map). */
export function readCounters(lookup: (key: Buffer) => Buffer | undefined, cpus: number): Counters {
  const out = {} as Counters;
  for (const name of COUNTERS) {
    const v = lookup(encodeCounterKey(name));
    out[name] = v ? sumPerCpuCounter(v, cpus) : { packets: 0n, bytes: 0n };
  }
  return out;
}
