// The ACL compiler: an ACL as users write it (`Acl` of provider/common/args/common.ts, what
// the inputs give) into the map value of `acl` (vm-egress) and `ingress_acl`
// (vm-ingress-acl), struct hvnet_acl, and back. The rules are stored verbatim after
// classifier tables the C side searches in a fixed number of steps (see hvnet.h).
import { addressFamily, formatIPv4, formatIPv6, parseIPv4, parseIPv6 } from "../../common/address";
import { Acl, AclAction, AclRule, MAX_ACL_RULES } from "../../common/args/common";
import { ACL_SLOTS } from "./limits";
import { expectSize, STRUCTS } from "./structs";

const RULE = STRUCTS.hvnet_acl_rule;
const ACL = STRUCTS.hvnet_acl;

const ACTION_CODE: Record<AclAction, number> = { deny: 0, allow: 1 };
const PROTOCOL_NUMBERS = { icmp: 1, tcp: 6, udp: 17, icmpv6: 58 } as const;
const PROTOCOL_NAMES = new Map<number, AclRule["protocol"]>(
  Object.entries(PROTOCOL_NUMBERS).map(([name, n]) => [n, name as keyof typeof PROTOCOL_NUMBERS]),
);
const ANY_PORT: [number, number] = [0, 65535];

/** What a VM without an ACL gets: every packet passes. */
export const NO_ACL: Acl = { rules: [], defaultAction: "allow" };

interface Prefix {
  family: 4 | 6;
  addr: Buffer; // 16 bytes, IPv4 in the first 4
  len: number;
}

/** A rule checked and reduced to the numbers the compiler and the C struct use. */
interface NormalRule {
  /** 0 = both families (the rule names no address). */
  family: 0 | 4 | 6;
  /** 0 = any protocol. */
  proto: number;
  action: number;
  src?: Prefix;
  dst?: Prefix;
  sport: [number, number];
  dport: [number, number];
}

/** A single address is a host prefix: the datapath matches prefixes only. */
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
  const hostMask = (1n << BigInt(max - len)) - 1n;
  if ((bytesToBig(raw) & hostMask) !== 0n) throw new Error(`${what}: ${text} has host bits set`);
  const out = Buffer.alloc(16);
  raw.copy(out, 0);
  return { family, addr: out, len };
}

/** The text users write: the bare address for a host prefix. */
function formatPrefix(p: Prefix): string {
  const text = p.family === 4 ? formatIPv4(p.addr.subarray(0, 4)) : formatIPv6(p.addr);
  return p.len === (p.family === 4 ? 32 : 128) ? text : `${text}/${p.len}`;
}

function bytesToBig(b: Buffer): bigint {
  let v = 0n;
  for (const x of b) v = (v << 8n) | BigInt(x);
  return v;
}

function checkPorts(r: { from: number; to: number } | undefined, what: string): [number, number] {
  if (r === undefined) return ANY_PORT;
  const { from: lo, to: hi } = r;
  if (![lo, hi].every((p) => Number.isInteger(p) && p >= 0 && p <= 65535) || lo > hi) {
    throw new RangeError(`${what} must be a range lo..hi within 0..65535 with lo <= hi, got ${JSON.stringify(r)}`);
  }
  return [lo, hi];
}

function isAnyPort(r: [number, number]): boolean {
  return r[0] === ANY_PORT[0] && r[1] === ANY_PORT[1];
}

function protocolNumber(p: AclRule["protocol"], what: string): number {
  const n = p === undefined ? 0 : typeof p === "number" ? p : PROTOCOL_NUMBERS[p];
  if (!Number.isInteger(n) || n < 0 || n > 255) throw new RangeError(`${what}: protocol must be tcp, udp, icmp, icmpv6 or 0..255`);
  return n;
}

function normalizeRule(r: AclRule, i: number): NormalRule {
  const what = `ACL rule ${i}`;
  if (r.action !== "allow" && r.action !== "deny") throw new Error(`${what}: action must be "allow" or "deny"`);
  const src = r.src ? parsePrefix(r.src, `${what} src`) : undefined;
  const dst = r.dst ? parsePrefix(r.dst, `${what} dst`) : undefined;
  if (src && dst && src.family !== dst.family) throw new Error(`${what}: src and dst disagree on the address family`);
  return {
    family: src?.family ?? dst?.family ?? 0,
    proto: protocolNumber(r.protocol, what),
    action: ACTION_CODE[r.action],
    src,
    dst,
    sport: checkPorts(r.srcPorts, `${what} srcPorts`),
    dport: checkPorts(r.dstPorts, `${what} dstPorts`),
  };
}

/** The rule as users write it back (read-back of a map value). */
function userRule(r: NormalRule): AclRule {
  const out: AclRule = { action: r.action === ACTION_CODE.allow ? "allow" : "deny" };
  if (r.proto !== 0) out.protocol = PROTOCOL_NAMES.get(r.proto) ?? r.proto;
  if (r.src) out.src = formatPrefix(r.src);
  if (r.dst) out.dst = formatPrefix(r.dst);
  if (!isAnyPort(r.sport)) out.srcPorts = { from: r.sport[0], to: r.sport[1] };
  if (!isAnyPort(r.dport)) out.dstPorts = { from: r.dport[0], to: r.dport[1] };
  return out;
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

/** Rules (first match wins) and the default action as the map value: tables, then the rules. */
function compile(rules: NormalRule[], defaultAction: number): Buffer {
  const m = ACL.members;
  const b = Buffer.alloc(ACL.size);
  b.writeUInt32LE(rules.length, m.rule_count);
  b.writeUInt8(defaultAction, m.default_action);

  let pass = 0n;
  let portless = 0n;
  rules.forEach((r, i) => {
    if (r.action === ACTION_CODE.allow) pass |= 1n << BigInt(i);
    if (isAnyPort(r.sport) && isAnyPort(r.dport)) portless |= 1n << BigInt(i);
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

  rules.forEach((r, i) => writeRule(r, b, m.rules + RULE.size * i));
  return b;
}

function writeRule(r: NormalRule, b: Buffer, off: number): void {
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

function readRule(b: Buffer, off: number): NormalRule {
  const f = RULE.members;
  const byte = b.readUInt8(off + f.family);
  const family = byte === 4 || byte === 6 ? byte : 0;
  const prefix = (addrOff: number, len: number): Prefix | undefined => {
    if (len === 0) return undefined;
    const addr = Buffer.alloc(16);
    if (family === 4) b.copy(addr, 0, addrOff, addrOff + 4);
    else b.copy(addr, 0, addrOff, addrOff + 16);
    return { family: family === 4 ? 4 : 6, addr, len };
  };
  return {
    family,
    proto: b.readUInt8(off + f.proto),
    action: b.readUInt8(off + f.action) === ACTION_CODE.allow ? ACTION_CODE.allow : ACTION_CODE.deny,
    src: prefix(off + f.src, b.readUInt8(off + f.src_len)),
    dst: prefix(off + f.dst, b.readUInt8(off + f.dst_len)),
    sport: [b.readUInt16LE(off + f.sport_lo), b.readUInt16LE(off + f.sport_hi)],
    dport: [b.readUInt16LE(off + f.dport_lo), b.readUInt16LE(off + f.dport_hi)],
  };
}

/** The rules and default action stored in a map value. */
function readAcl(b: Buffer): { rules: NormalRule[]; defaultAction: number } {
  expectSize(b, ACL.size, "ACL");
  const count = Math.min(b.readUInt32LE(ACL.members.rule_count), MAX_ACL_RULES);
  return {
    defaultAction: b.readUInt8(ACL.members.default_action) === ACTION_CODE.allow ? ACTION_CODE.allow : ACTION_CODE.deny,
    rules: Array.from({ length: count }, (_, i) => readRule(b, ACL.members.rules + RULE.size * i)),
  };
}

/** Compiles an ACL into the map value of `acl` / `ingress_acl`. */
export function encodeAcl(acl: Acl): Buffer {
  if (acl.rules.length > MAX_ACL_RULES) throw new RangeError(`at most ${MAX_ACL_RULES} ACL rules, got ${acl.rules.length}`);
  if (acl.defaultAction !== "allow" && acl.defaultAction !== "deny") throw new Error(`ACL default action must be "allow" or "deny"`);
  return compile(acl.rules.map(normalizeRule), ACTION_CODE[acl.defaultAction]);
}

/**
 * Reads the ACL back from a map value, as users write it: a host prefix as the bare
 * address, protocols by name where they have one.
 */
export function decodeAcl(b: Buffer): Acl {
  const { rules, defaultAction } = readAcl(b);
  return { defaultAction: defaultAction === ACTION_CODE.allow ? "allow" : "deny", rules: rules.map(userRule) };
}

/** True when the classifier tables of a map value are exactly what its stored rules compile to. */
export function aclTablesMatchRules(b: Buffer): boolean {
  const { rules, defaultAction } = readAcl(b);
  return compile(rules, defaultAction).equals(b);
}
