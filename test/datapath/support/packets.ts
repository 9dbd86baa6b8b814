// Frame builders for the datapath tests: Ethernet (optionally 802.1Q/802.1ad tagged),
// IPv4, IPv6, ARP, UDP, TCP, ICMPv6 neighbour discovery. Checksums are filled where a
// receiving kernel would check them (IPv4 header, ICMPv6), so the same frames can be
// injected into a live stack.
import { isIPv4 } from "node:net";

export const BROADCAST = "ff:ff:ff:ff:ff:ff";

export function mac(s: string): Buffer {
  return Buffer.from(s.split(":").map((h) => parseInt(h, 16)));
}

export function ip4(s: string): Buffer {
  if (!isIPv4(s)) throw new Error(`bad IPv4 ${s}`);
  return Buffer.from(s.split(".").map(Number));
}

/** Full-form or "::"-compressed IPv6 without embedded IPv4. */
export function ip6(s: string): Buffer {
  const [head, tail] = s.includes("::") ? s.split("::") : [s, undefined];
  const h = head ? head.split(":") : [];
  const t = tail ? tail.split(":") : [];
  const groups = tail === undefined ? h : [...h, ...new Array(8 - h.length - t.length).fill("0"), ...t];
  const b = Buffer.alloc(16);
  groups.forEach((g, i) => b.writeUInt16BE(parseInt(g, 16), i * 2));
  return b;
}

export interface Tag {
  tpid?: number; // default 0x8100
  vid: number;
  pcp?: number;
}

export function eth(dst: string, src: string, type: number, payload: Buffer, tags: Tag[] = []): Buffer {
  const parts = [mac(dst), mac(src)];
  for (const t of tags) {
    const tag = Buffer.alloc(4);
    tag.writeUInt16BE(t.tpid ?? 0x8100, 0);
    tag.writeUInt16BE(((t.pcp ?? 0) << 13) | t.vid, 2);
    parts.push(tag);
  }
  const et = Buffer.alloc(2);
  et.writeUInt16BE(type, 0);
  return Buffer.concat([...parts, et, payload]);
}

function csum(...bufs: Buffer[]): number {
  let sum = 0;
  const all = Buffer.concat(bufs);
  for (let i = 0; i < all.length; i += 2) sum += (all[i] << 8) | (i + 1 < all.length ? all[i + 1] : 0);
  while (sum > 0xffff) sum = (sum & 0xffff) + (sum >>> 16);
  return ~sum & 0xffff;
}

export function ipv4(src: string, dst: string, proto: number, payload: Buffer, opts: { fragOffset?: number } = {}): Buffer {
  const h = Buffer.alloc(20);
  h[0] = 0x45;
  h.writeUInt16BE(20 + payload.length, 2);
  h.writeUInt16BE(opts.fragOffset ?? 0, 6);
  h[8] = 64;
  h[9] = proto;
  ip4(src).copy(h, 12);
  ip4(dst).copy(h, 16);
  h.writeUInt16BE(csum(h), 10);
  return Buffer.concat([h, payload]);
}

export function ipv6(src: string, dst: string, next: number, payload: Buffer, hopLimit = 64): Buffer {
  const h = Buffer.alloc(40);
  h.writeUInt32BE(0x60000000, 0);
  h.writeUInt16BE(payload.length, 4);
  h[6] = next;
  h[7] = hopLimit;
  ip6(src).copy(h, 8);
  ip6(dst).copy(h, 24);
  return Buffer.concat([h, payload]);
}

export function udp(sport: number, dport: number, body: Buffer = Buffer.alloc(18)): Buffer {
  const h = Buffer.alloc(8);
  h.writeUInt16BE(sport, 0);
  h.writeUInt16BE(dport, 2);
  h.writeUInt16BE(8 + body.length, 4);
  return Buffer.concat([h, body]); // checksum 0: "none" for UDP over IPv4
}

export function tcp(sport: number, dport: number): Buffer {
  const h = Buffer.alloc(20);
  h.writeUInt16BE(sport, 0);
  h.writeUInt16BE(dport, 2);
  h[12] = 5 << 4;
  h[13] = 0x02; // SYN
  return h;
}

export function arp(op: 1 | 2, sha: string, spa: string, tha: string, tpa: string): Buffer {
  const b = Buffer.alloc(28);
  b.writeUInt16BE(1, 0);
  b.writeUInt16BE(0x0800, 2);
  b[4] = 6;
  b[5] = 4;
  b.writeUInt16BE(op, 6);
  mac(sha).copy(b, 8);
  ip4(spa).copy(b, 14);
  mac(tha).copy(b, 18);
  ip4(tpa).copy(b, 24);
  return b;
}

/** ICMPv6 message with its checksum over the IPv6 pseudo-header. */
export function icmpv6(src: string, dst: string, type: number, body: Buffer): Buffer {
  const msg = Buffer.concat([Buffer.from([type, 0, 0, 0]), body]);
  const pseudo = Buffer.alloc(40);
  ip6(src).copy(pseudo, 0);
  ip6(dst).copy(pseudo, 16);
  pseudo.writeUInt32BE(msg.length, 32);
  pseudo[39] = 58;
  msg.writeUInt16BE(csum(pseudo, msg), 2);
  return msg;
}

/** Neighbour solicitation (135) or advertisement (136) body with an optional link-layer option. */
export function ndBody(target: string, lladdr?: { type: 1 | 2; mac: string }, flags = 0): Buffer {
  const b = Buffer.alloc(20);
  b.writeUInt32BE(flags, 0);
  ip6(target).copy(b, 4);
  if (!lladdr) return b;
  return Buffer.concat([b, Buffer.from([lladdr.type, 1]), mac(lladdr.mac)]);
}

export const ETH_P_IP = 0x0800;
export const ETH_P_IPV6 = 0x86dd;
export const ETH_P_ARP = 0x0806;
export const IPPROTO_TCP = 6;
export const IPPROTO_UDP = 17;
export const IPPROTO_ICMPV6 = 58;
