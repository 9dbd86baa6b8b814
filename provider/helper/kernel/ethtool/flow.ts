// Typed ntuple matches ↔ the bytes of union ethtool_flow_union (h_u = values, m_u = masks
// whose 1 bits must match; the kernel's ethtool_rx_flow_rule_create copies them as such).
// Offsets inside the 52-byte union, from include/uapi/linux/ethtool.h (6.1 lines):
//   tcp/udp ip4 (struct ethtool_tcpip4_spec, :933-939): ip4src @0, ip4dst @4, psrc @8,
//     pdst @10 (big endian), tos @12
//   ip4 (struct ethtool_usrip4_spec, :968-975): ip4src @0, ip4dst @4, l4_4_bytes @8, tos @12,
//     ip_ver @13 (must be ETH_RX_NFC_IP4, mask 0: :965), proto @14
//   tcp/udp ip6 (struct ethtool_tcpip6_spec, :987-993): ip6src @0, ip6dst @16, psrc @32,
//     pdst @34, tclass @36
//   ip6 (struct ethtool_usrip6_spec, :1019-1025): ip6src @0, ip6dst @16, l4_4_bytes @32,
//     tclass @36, l4_proto @37
//   ether (struct ethhdr, if_ether.h:173-177, packed): h_dest @0, h_source @6, h_proto @12
import { formatIPv6, formatMac, parseIPv4, parseIPv6, parseMac } from "../../../common/address";
import {
  emptyFlowSpec,
  ETHER_FLOW,
  ETH_RX_NFC_IP4,
  FLOW_EXT,
  FLOW_MAC_EXT,
  FLOW_RSS,
  FlowSpec,
  IPV4_USER_FLOW,
  IPV6_USER_FLOW,
  RX_CLS_FLOW_DISC,
  TCP_V4_FLOW,
  TCP_V6_FLOW,
  UDP_V4_FLOW,
  UDP_V6_FLOW,
} from "./structs";

export type FlowType = "tcp4" | "udp4" | "ip4" | "tcp6" | "udp6" | "ip6" | "ether";

export interface FlowMatch {
  type: FlowType;
  /** IPv4/IPv6 address with optional /prefix, or a MAC for "ether". */
  src?: string;
  dst?: string;
  srcPort?: number;
  dstPort?: number;
  /** L4 protocol number for "ip4"/"ip6". */
  proto?: number;
  /** EtherType for "ether". */
  etherType?: number;
}

/** Where matching packets go: an RSS context, one queue, or nowhere. */
export type FlowAction = { rssContext: number } | { queue: number } | { drop: true };

export interface FlowRule {
  match: FlowMatch;
  action: FlowAction;
}

/** A rule read back from the NIC; flows we cannot describe keep their raw flow type. */
export interface InstalledRule {
  location: number;
  match: FlowMatch | { type: "other"; flowType: number };
  action: FlowAction;
}

const TYPE_CODES: Record<FlowType, number> = {
  tcp4: TCP_V4_FLOW,
  udp4: UDP_V4_FLOW,
  ip4: IPV4_USER_FLOW,
  tcp6: TCP_V6_FLOW,
  udp6: UDP_V6_FLOW,
  ip6: IPV6_USER_FLOW,
  ether: ETHER_FLOW,
};
const CODE_TYPES = new Map<number, FlowType>(Object.entries(TYPE_CODES).map(([k, v]) => [v, k as FlowType]));

// ---- addresses ---------------------------------------------------------------------------

function splitPrefix(s: string, bits: number, what: string): { addr: string; prefix: number } {
  const slash = s.indexOf("/");
  if (slash < 0) return { addr: s, prefix: bits };
  const p = s.slice(slash + 1);
  if (!/^\d{1,3}$/.test(p) || Number(p) > bits) throw new Error(`invalid prefix length in ${what} ${JSON.stringify(s)}`);
  return { addr: s.slice(0, slash), prefix: Number(p) };
}

function prefixMask(bytes: number, prefix: number): Buffer {
  const m = Buffer.alloc(bytes);
  for (let i = 0; i < bytes; i++) {
    const left = prefix - 8 * i;
    m[i] = left >= 8 ? 0xff : left <= 0 ? 0 : (0xff << (8 - left)) & 0xff;
  }
  return m;
}

/** Mask bytes → prefix length, or -1 when the mask is not contiguous. */
function maskPrefix(m: Buffer): number {
  let n = 0;
  let ended = false;
  for (const byte of m) {
    for (let bit = 7; bit >= 0; bit--) {
      const set = (byte >> bit) & 1;
      if (set && ended) return -1;
      if (set) n++;
      else ended = true;
    }
  }
  return n;
}

function writeAddr(h: Buffer, m: Buffer, off: number, value: string | undefined, family: 4 | 6, what: string): void {
  if (value === undefined) return;
  const bits = family === 4 ? 32 : 128;
  const { addr, prefix } = splitPrefix(value, bits, what);
  const bytes = family === 4 ? parseIPv4(addr) : parseIPv6(addr);
  const mask = prefixMask(bits / 8, prefix);
  for (let i = 0; i < bytes.length; i++) {
    h[off + i] = bytes[i] & mask[i];
    m[off + i] = mask[i];
  }
}

function readAddr(h: Buffer, m: Buffer, off: number, family: 4 | 6): string | undefined {
  const len = family === 4 ? 4 : 16;
  const mask = m.subarray(off, off + len);
  if (mask.every((x) => x === 0)) return undefined;
  const val = h.subarray(off, off + len);
  const text = family === 4 ? [...val].join(".") : formatIPv6(Buffer.from(val));
  const prefix = maskPrefix(Buffer.from(mask));
  if (prefix === len * 8) return text;
  if (prefix >= 0) return `${text}/${prefix}`;
  const maskText = family === 4 ? [...mask].join(".") : formatIPv6(Buffer.from(mask));
  return `${text}/${maskText}`;
}

function checkPort(p: number, what: string): number {
  if (!Number.isInteger(p) || p < 0 || p > 0xffff) throw new Error(`invalid ${what} ${p}`);
  return p;
}

function checkByte(p: number, what: string): number {
  if (!Number.isInteger(p) || p < 0 || p > 0xff) throw new Error(`invalid ${what} ${p}`);
  return p;
}

// Value and an all-ones mask: the field must match exactly.
function putU16(h: Buffer, m: Buffer, off: number, v: number): void {
  h.writeUInt16BE(v, off);
  m.writeUInt16BE(0xffff, off);
}
function putU8(h: Buffer, m: Buffer, off: number, v: number): void {
  h[off] = v;
  m[off] = 0xff;
}
function putBytes(h: Buffer, m: Buffer, off: number, v: Buffer): void {
  v.copy(h, off);
  m.fill(0xff, off, off + v.length);
}

// ---- encode / decode ---------------------------------------------------------------------

function encodeMatch(match: FlowMatch, fs: FlowSpec): void {
  const { h, m } = fs;
  const code = TYPE_CODES[match.type];
  if (code === undefined) throw new Error(`unknown flow type ${JSON.stringify(match.type)}`);
  fs.flowType = code;
  const l4 = match.type === "tcp4" || match.type === "udp4" || match.type === "tcp6" || match.type === "udp6";
  if (!l4 && (match.srcPort !== undefined || match.dstPort !== undefined)) {
    throw new Error(`flow type ${match.type} has no ports (use tcp4/udp4/tcp6/udp6)`);
  }
  if (match.proto !== undefined && match.type !== "ip4" && match.type !== "ip6") {
    throw new Error(`proto applies to ip4/ip6 flows only`);
  }
  if (match.etherType !== undefined && match.type !== "ether") throw new Error(`etherType applies to ether flows only`);

  switch (match.type) {
    case "tcp4":
    case "udp4":
      writeAddr(h, m, 0, match.src, 4, "src");
      writeAddr(h, m, 4, match.dst, 4, "dst");
      if (match.srcPort !== undefined) putU16(h, m, 8, checkPort(match.srcPort, "srcPort"));
      if (match.dstPort !== undefined) putU16(h, m, 10, checkPort(match.dstPort, "dstPort"));
      break;
    case "ip4":
      writeAddr(h, m, 0, match.src, 4, "src");
      writeAddr(h, m, 4, match.dst, 4, "dst");
      h[13] = ETH_RX_NFC_IP4;
      if (match.proto !== undefined) putU8(h, m, 14, checkByte(match.proto, "proto"));
      break;
    case "tcp6":
    case "udp6":
      writeAddr(h, m, 0, match.src, 6, "src");
      writeAddr(h, m, 16, match.dst, 6, "dst");
      if (match.srcPort !== undefined) putU16(h, m, 32, checkPort(match.srcPort, "srcPort"));
      if (match.dstPort !== undefined) putU16(h, m, 34, checkPort(match.dstPort, "dstPort"));
      break;
    case "ip6":
      writeAddr(h, m, 0, match.src, 6, "src");
      writeAddr(h, m, 16, match.dst, 6, "dst");
      if (match.proto !== undefined) putU8(h, m, 37, checkByte(match.proto, "proto"));
      break;
    case "ether":
      if (match.dst !== undefined) putBytes(h, m, 0, parseMac(match.dst));
      if (match.src !== undefined) putBytes(h, m, 6, parseMac(match.src));
      if (match.etherType !== undefined) putU16(h, m, 12, checkPort(match.etherType, "etherType"));
      break;
  }
}

/**
 * Builds the flow spec of a rule. rssContext is the value for the rxnfc union (0 unless
 * the action is a context). location is left for the caller (ntuple.ts picks it).
 */
export function encodeFlowRule(rule: FlowRule): { fs: FlowSpec; rssContext: number } {
  const fs = emptyFlowSpec();
  encodeMatch(rule.match, fs);
  let rssContext = 0;
  const a = rule.action;
  if ("rssContext" in a) {
    if (!Number.isInteger(a.rssContext) || a.rssContext <= 0) throw new Error(`invalid RSS context ${a.rssContext}`);
    // FLOW_RSS: ring_cookie becomes a queue offset inside the context; 0 = use the
    // context's table as it is (net/ethtool/ioctl.c refuses a nonzero one on most NICs).
    fs.flowType = (fs.flowType | FLOW_RSS) >>> 0;
    fs.ringCookie = 0n;
    rssContext = a.rssContext;
  } else if ("queue" in a) {
    if (!Number.isInteger(a.queue) || a.queue < 0) throw new Error(`invalid queue ${a.queue}`);
    fs.ringCookie = BigInt(a.queue);
  } else {
    fs.ringCookie = RX_CLS_FLOW_DISC;
  }
  return { fs, rssContext };
}

export function decodeFlowRule(fs: FlowSpec, rssContext: number): InstalledRule {
  const base = (fs.flowType & ~(FLOW_EXT | FLOW_MAC_EXT | FLOW_RSS)) >>> 0;
  const action: FlowAction =
    fs.flowType & FLOW_RSS
      ? { rssContext }
      : fs.ringCookie === RX_CLS_FLOW_DISC
        ? { drop: true }
        : { queue: Number(fs.ringCookie & 0xffffffffn) };
  const type = CODE_TYPES.get(base);
  if (!type) return { location: fs.location, match: { type: "other", flowType: fs.flowType }, action };
  const { h, m } = fs;
  const match: FlowMatch = { type };
  const set = <K extends keyof FlowMatch>(k: K, v: FlowMatch[K] | undefined) => {
    if (v !== undefined) match[k] = v;
  };
  switch (type) {
    case "tcp4":
    case "udp4":
      set("src", readAddr(h, m, 0, 4));
      set("dst", readAddr(h, m, 4, 4));
      if (m.readUInt16BE(8)) match.srcPort = h.readUInt16BE(8);
      if (m.readUInt16BE(10)) match.dstPort = h.readUInt16BE(10);
      break;
    case "ip4":
      set("src", readAddr(h, m, 0, 4));
      set("dst", readAddr(h, m, 4, 4));
      if (m[14]) match.proto = h[14];
      break;
    case "tcp6":
    case "udp6":
      set("src", readAddr(h, m, 0, 6));
      set("dst", readAddr(h, m, 16, 6));
      if (m.readUInt16BE(32)) match.srcPort = h.readUInt16BE(32);
      if (m.readUInt16BE(34)) match.dstPort = h.readUInt16BE(34);
      break;
    case "ip6":
      set("src", readAddr(h, m, 0, 6));
      set("dst", readAddr(h, m, 16, 6));
      if (m[37]) match.proto = h[37];
      break;
    case "ether":
      if (m.subarray(0, 6).some((x) => x)) match.dst = formatMac(h.subarray(0, 6));
      if (m.subarray(6, 12).some((x) => x)) match.src = formatMac(h.subarray(6, 12));
      if (m.readUInt16BE(12)) match.etherType = h.readUInt16BE(12);
      break;
  }
  return { location: fs.location, match, action };
}
