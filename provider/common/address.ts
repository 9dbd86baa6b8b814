// Addresses as text and as bytes: MAC (six bytes, "aa:bb:cc:dd:ee:ff"), IPv4 (four, dotted)
// and IPv6 (sixteen, RFC 5952 text). The one place the project turns an address between
// the two forms: the netlink and ethtool encoders, the datapath's map layouts and the
// input validation all use it. node:net validates addresses but offers no conversion.
import { isIPv4, isIPv6 } from "node:net";

const MAC_TEXT = /^[0-9a-fA-F]{2}(:[0-9a-fA-F]{2}){5}$/;

/** Writes the six bytes of `mac` ("aa:bb:cc:dd:ee:ff") into `into` at `offset`. */
export function writeMac(mac: string, into: Buffer, offset: number): void {
  if (!MAC_TEXT.test(mac)) throw new Error(`invalid MAC address ${JSON.stringify(mac)}: expected aa:bb:cc:dd:ee:ff`);
  // Pair by pair, in place: split/map/Buffer.from cost about a microsecond per MAC, which
  // shows in a 10,000-entry FDB batch.
  for (let i = 0; i < 6; i++) into[offset + i] = parseInt(mac.slice(3 * i, 3 * i + 2), 16);
}

export function parseMac(mac: string): Buffer {
  const b = Buffer.alloc(6);
  writeMac(mac, b, 0);
  return b;
}

/** Lower-case, colon-separated. */
export function formatMac(b: Uint8Array): string {
  return [...b.subarray(0, 6)].map((x) => x.toString(16).padStart(2, "0")).join(":");
}

export function parseIPv4(s: string): Buffer {
  if (!isIPv4(s)) throw new Error(`invalid IPv4 address ${JSON.stringify(s)}`);
  return Buffer.from(s.split(".").map(Number));
}

export function formatIPv4(b: Uint8Array): string {
  return [...b.subarray(0, 4)].join(".");
}

/** IPv6 text (with "::" and an embedded IPv4 tail allowed, a zone "%eth0" not) as 16 bytes. */
export function parseIPv6(s: string): Buffer {
  if (!isIPv6(s) || s.includes("%")) throw new Error(`invalid IPv6 address ${JSON.stringify(s)}`);
  let text = s;
  const tail: number[] = [];
  const dotted = /^(.*:)(\d+\.\d+\.\d+\.\d+)$/.exec(text);
  if (dotted) {
    const b = parseIPv4(dotted[2]);
    tail.push((b[0] << 8) | b[1], (b[2] << 8) | b[3]);
    // "::ffff:1.2.3.4" keeps its "::"; "64:ff9b::1:1.2.3.4" loses the single separator.
    text = dotted[1].endsWith("::") ? dotted[1] : dotted[1].slice(0, -1);
  }
  const groupsOf = (part: string): number[] => (part === "" ? [] : part.split(":").map((g) => parseInt(g, 16)));
  const want = 8 - tail.length;
  let groups: number[];
  if (text.includes("::")) {
    const [head, rest] = text.split("::");
    const h = groupsOf(head);
    const r = groupsOf(rest);
    groups = [...h, ...new Array<number>(want - h.length - r.length).fill(0), ...r];
  } else {
    groups = groupsOf(text);
  }
  groups = [...groups, ...tail];
  if (groups.length !== 8) throw new Error(`invalid IPv6 address ${JSON.stringify(s)}`);
  const out = Buffer.alloc(16);
  groups.forEach((g, i) => out.writeUInt16BE(g, i * 2));
  return out;
}

/** RFC 5952 text: lower case, the longest run of two or more zero groups as "::". */
export function formatIPv6(b: Buffer): string {
  const g: number[] = [];
  for (let i = 0; i < 16; i += 2) g.push(b.readUInt16BE(i));
  let bestStart = -1;
  let bestLen = 1;
  for (let i = 0; i < 8; ) {
    if (g[i] !== 0) {
      i++;
      continue;
    }
    let j = i;
    while (j < 8 && g[j] === 0) j++;
    if (j - i > bestLen) {
      bestStart = i;
      bestLen = j - i;
    }
    i = j;
  }
  const hex = (xs: number[]): string => xs.map((x) => x.toString(16)).join(":");
  if (bestStart < 0) return hex(g);
  return `${hex(g.slice(0, bestStart))}::${hex(g.slice(bestStart + bestLen))}`;
}

export function addressFamily(addr: string): 4 | 6 {
  if (isIPv4(addr)) return 4;
  if (isIPv6(addr)) return 6;
  throw new Error(`invalid IP address ${JSON.stringify(addr)}`);
}
