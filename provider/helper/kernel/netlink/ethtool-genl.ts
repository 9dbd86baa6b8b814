// The "ethtool" generic netlink family: channels, RSS and features.
//
// Numbers: include/uapi/linux/ethtool_netlink.h (6.1 header installed here; l. 15-57
// message types, l. 119-127 header, l. 153-162 bitset, l. 298-308 features, l. 354-368
// channels) and, for RSS (not in the 6.1 header), the YNL-generated
// include/uapi/linux/ethtool_netlink_generated.h of current kernels:
//   ETHTOOL_MSG_RSS_GET = 38 (right after PSE_SET = 37)
//   ETHTOOL_A_RSS_HEADER 1, CONTEXT 2, HFUNC 3, INDIR 4 (binary u32[]), HKEY 5 (binary),
//   INPUT_XFRM 6, START_CONTEXT 7
// Every request names the device in a nested ETHTOOL_A_*_HEADER (always attribute 1):
// ETHTOOL_A_HEADER_DEV_INDEX 1 (u32) or DEV_NAME 2 (string), FLAGS 3.
import { Attr, AttrSet, nla } from "./codec";
import { GenlClient, GenlFamily, GenlReply, hasCmd } from "./genetlink";

export const ETHTOOL_FAMILY_NAME = "ethtool";

export const ETHTOOL_MSG = {
  "strset-get": 1,
  "linkinfo-get": 2,
  "features-get": 11,
  "channels-get": 17,
  "channels-set": 18,
  "rss-get": 38,
} as const;
export type EthtoolOp = keyof typeof ETHTOOL_MSG;

export const ETHTOOL_A_HEADER_DEV_INDEX = 1;
export const ETHTOOL_A_HEADER_DEV_NAME = 2;
export const ETHTOOL_A_HEADER_FLAGS = 3;
export const ETHTOOL_FLAG_COMPACT_BITSETS = 1 << 0;
export const ETHTOOL_FLAG_OMIT_REPLY = 1 << 1;
export const ETHTOOL_FLAG_STATS = 1 << 2;

/** The header nest is attribute 1 in every ethtool message. */
const HEADER = 1;

export const ETHTOOL_A_CHANNELS = {
  rxMax: 2,
  txMax: 3,
  otherMax: 4,
  combinedMax: 5,
  rxCount: 6,
  txCount: 7,
  otherCount: 8,
  combinedCount: 9,
} as const;

export const ETHTOOL_A_RSS_CONTEXT = 2;
export const ETHTOOL_A_RSS_HFUNC = 3;
export const ETHTOOL_A_RSS_INDIR = 4;
export const ETHTOOL_A_RSS_HKEY = 5;
export const ETHTOOL_A_RSS_INPUT_XFRM = 6;

export const ETHTOOL_A_FEATURES_HW = 2;
export const ETHTOOL_A_FEATURES_WANTED = 3;
export const ETHTOOL_A_FEATURES_ACTIVE = 4;
export const ETHTOOL_A_FEATURES_NOCHANGE = 5;

export const ETHTOOL_A_BITSET_NOMASK = 1;
export const ETHTOOL_A_BITSET_SIZE = 2;
export const ETHTOOL_A_BITSET_BITS = 3;
export const ETHTOOL_A_BITSET_VALUE = 4;
export const ETHTOOL_A_BITSET_MASK = 5;
export const ETHTOOL_A_BITSET_BITS_BIT = 1;
export const ETHTOOL_A_BITSET_BIT_INDEX = 1;
export const ETHTOOL_A_BITSET_BIT_NAME = 2;
export const ETHTOOL_A_BITSET_BIT_VALUE = 3;

/** A device by ifindex or name. */
export type DevRef = number | string;

export function headerAttr(dev: DevRef, flags = 0): Attr {
  const inner: Attr[] = [typeof dev === "number" ? nla.u32(ETHTOOL_A_HEADER_DEV_INDEX, dev) : nla.string(ETHTOOL_A_HEADER_DEV_NAME, dev)];
  if (flags) inner.push(nla.u32(ETHTOOL_A_HEADER_FLAGS, flags));
  return nla.nest(HEADER, inner);
}

export function hasOp(family: GenlFamily, name: EthtoolOp): boolean {
  return hasCmd(family, ETHTOOL_MSG[name]);
}

export interface Channels {
  rxMax?: number;
  txMax?: number;
  otherMax?: number;
  combinedMax?: number;
  rxCount?: number;
  txCount?: number;
  otherCount?: number;
  combinedCount?: number;
}

export interface Rss {
  context: number;
  /** ETH_RSS_HASH_* bit of the active function (1 toeplitz, 2 xor, 4 crc32). */
  hfunc?: number;
  indir: number[];
  hkey?: Buffer;
  inputXfrm?: number;
}

export function parseChannels(r: GenlReply): Channels {
  const out: Channels = {};
  for (const [k, t] of Object.entries(ETHTOOL_A_CHANNELS) as [keyof Channels, number][]) {
    const v = r.attrs.u32(t);
    if (v !== undefined) out[k] = v;
  }
  return out;
}

export function parseRss(r: GenlReply): Rss {
  const a = r.attrs;
  const raw = a.binary(ETHTOOL_A_RSS_INDIR);
  const indir: number[] = [];
  if (raw) for (let i = 0; i + 4 <= raw.length; i += 4) indir.push(raw.readUInt32LE(i));
  const hkey = a.binary(ETHTOOL_A_RSS_HKEY);
  return {
    context: a.u32(ETHTOOL_A_RSS_CONTEXT) ?? 0,
    hfunc: a.u32(ETHTOOL_A_RSS_HFUNC),
    indir,
    hkey: hkey ? Buffer.from(hkey) : undefined,
    inputXfrm: a.u32(ETHTOOL_A_RSS_INPUT_XFRM),
  };
}

/**
 * A bitset as name → value. Verbose form: listed bits with names (with NOMASK every listed
 * bit is set; otherwise VALUE marks the set ones). Compact form (VALUE/MASK u32 words):
 * names are not sent, bits come back as "bit-N".
 */
export function parseBitset(set: AttrSet): Record<string, boolean> {
  const out: Record<string, boolean> = {};
  const nomask = set.flag(ETHTOOL_A_BITSET_NOMASK);
  const bits = set.nest(ETHTOOL_A_BITSET_BITS);
  if (bits) {
    for (const bit of bits.nests(ETHTOOL_A_BITSET_BITS_BIT)) {
      const name = bit.string(ETHTOOL_A_BITSET_BIT_NAME) ?? `bit-${bit.u32(ETHTOOL_A_BITSET_BIT_INDEX)}`;
      out[name] = nomask || bit.flag(ETHTOOL_A_BITSET_BIT_VALUE);
    }
    return out;
  }
  const value = set.binary(ETHTOOL_A_BITSET_VALUE);
  const mask = set.binary(ETHTOOL_A_BITSET_MASK);
  const size = set.u32(ETHTOOL_A_BITSET_SIZE) ?? 0;
  for (let i = 0; i < size && value; i++) {
    const word = Math.floor(i / 32);
    const bitOf = (b: Buffer | undefined) => (b && b.length >= (word + 1) * 4 ? (b.readUInt32LE(word * 4) >>> i % 32) & 1 : 0);
    if (nomask ? bitOf(value) : bitOf(mask)) out[`bit-${i}`] = bitOf(value) === 1;
  }
  return out;
}

export interface Features {
  hw: Record<string, boolean>;
  wanted: Record<string, boolean>;
  active: Record<string, boolean>;
  nochange: Record<string, boolean>;
}

export function parseFeatures(r: GenlReply): Features {
  const get = (t: number) => {
    const s = r.attrs.nest(t);
    return s ? parseBitset(s) : {};
  };
  return {
    hw: get(ETHTOOL_A_FEATURES_HW),
    wanted: get(ETHTOOL_A_FEATURES_WANTED),
    active: get(ETHTOOL_A_FEATURES_ACTIVE),
    nochange: get(ETHTOOL_A_FEATURES_NOCHANGE),
  };
}

/** ethtool family operations over a GenlClient (socket in the device's namespace). */
export class EthtoolGenl {
  readonly genl: GenlClient;
  readonly family: GenlFamily;

  constructor(genl: GenlClient) {
    this.genl = genl;
    this.family = genl.family(ETHTOOL_FAMILY_NAME);
  }

  hasOp(name: EthtoolOp): boolean {
    return hasOp(this.family, name);
  }

  private get(op: EthtoolOp, dev: DevRef, extra: Attr[] = [], flags = 0): GenlReply {
    const r = this.genl.request(this.family, ETHTOOL_MSG[op], [headerAttr(dev, flags), ...extra], {
      op: `ethtool ${op}`,
      context: String(dev),
    });
    if (r.length !== 1) throw new Error(`ethtool ${op} ${dev}: expected one reply, got ${r.length}`);
    return r[0];
  }

  channelsGet(dev: DevRef): Channels {
    return parseChannels(this.get("channels-get", dev));
  }

  /** RSS of the default context (0) or an additional one; EOPNOTSUPP when the driver has no RSS. */
  rssGet(dev: DevRef, context?: number): Rss {
    const extra = context ? [nla.u32(ETHTOOL_A_RSS_CONTEXT, context)] : [];
    return parseRss(this.get("rss-get", dev, extra));
  }

  featuresGet(dev: DevRef): Features {
    return parseFeatures(this.get("features-get", dev));
  }
}
