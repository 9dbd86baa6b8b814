// Byte layouts of the SIOCETHTOOL structures, x86_64 (and every 64-bit ABI: the header
// says "All structures exposed to userland should be defined such that they have the
// same layout for 32-bit and 64-bit userland", except the rxnfc padding handled by the
// kernel's compat code, which we never need).
//
// Line numbers cite include/uapi/linux/ethtool.h as shipped by Debian's linux-libc-dev
// 6.1 (/usr/include/linux/ethtool.h on the test machine); fields added later cite the
// upstream change. Pure functions only: no syscalls here, so every layout is unit-tested
// byte for byte.
//
// Why one file of ~450 lines: it is the table of one UAPI header, in the header's order,
// with the header's line numbers beside each struct; checking it against ethtool.h is one
// read from top to bottom. What is done with the structs (channels, RSS, ntuple rules,
// features, driver info) lives in one module per job beside it.
import { IFNAMSIZ, IFREQ_SIZE, checkIfname } from "../internal/ifreq";

// ---- ioctl request and struct ifreq ---------------------------------------------------

/** include/uapi/linux/sockios.h: #define SIOCETHTOOL 0x8946 */
export const SIOCETHTOOL = 0x8946;
/** offsetof(struct ifreq, ifr_data): the union starts right after the name. */
const IFREQ_DATA_OFFSET = 16;

// ---- command numbers (ethtool.h:1543-1617) ----------------------------------------------
export const ETHTOOL_GDRVINFO = 0x03; // :1543
export const ETHTOOL_GSTRINGS = 0x1b; // :1570
export const ETHTOOL_GRXRINGS = 0x2d; // :1589
export const ETHTOOL_GRXCLSRLCNT = 0x2e; // :1590
export const ETHTOOL_GRXCLSRULE = 0x2f; // :1591
export const ETHTOOL_GRXCLSRLALL = 0x30; // :1592
export const ETHTOOL_SRXCLSRLDEL = 0x31; // :1593
export const ETHTOOL_SRXCLSRLINS = 0x32; // :1594
export const ETHTOOL_GSSET_INFO = 0x37; // :1599
export const ETHTOOL_GFEATURES = 0x3a; // :1603
export const ETHTOOL_SFEATURES = 0x3b; // :1604
export const ETHTOOL_GCHANNELS = 0x3c; // :1605
export const ETHTOOL_SCHANNELS = 0x3d; // :1606
export const ETHTOOL_GRSSH = 0x46; // :1616
export const ETHTOOL_SRSSH = 0x47; // :1617

const COMMAND_NAMES: Record<number, string> = {
  [ETHTOOL_GDRVINFO]: "ETHTOOL_GDRVINFO",
  [ETHTOOL_GSTRINGS]: "ETHTOOL_GSTRINGS",
  [ETHTOOL_GRXRINGS]: "ETHTOOL_GRXRINGS",
  [ETHTOOL_GRXCLSRLCNT]: "ETHTOOL_GRXCLSRLCNT",
  [ETHTOOL_GRXCLSRULE]: "ETHTOOL_GRXCLSRULE",
  [ETHTOOL_GRXCLSRLALL]: "ETHTOOL_GRXCLSRLALL",
  [ETHTOOL_SRXCLSRLDEL]: "ETHTOOL_SRXCLSRLDEL",
  [ETHTOOL_SRXCLSRLINS]: "ETHTOOL_SRXCLSRLINS",
  [ETHTOOL_GSSET_INFO]: "ETHTOOL_GSSET_INFO",
  [ETHTOOL_GFEATURES]: "ETHTOOL_GFEATURES",
  [ETHTOOL_SFEATURES]: "ETHTOOL_SFEATURES",
  [ETHTOOL_GCHANNELS]: "ETHTOOL_GCHANNELS",
  [ETHTOOL_SCHANNELS]: "ETHTOOL_SCHANNELS",
  [ETHTOOL_GRSSH]: "ETHTOOL_GRSSH",
  [ETHTOOL_SRSSH]: "ETHTOOL_SRSSH",
};

export function commandName(cmd: number): string {
  return COMMAND_NAMES[cmd] ?? `ethtool cmd 0x${cmd.toString(16)}`;
}

/** Every ethtool structure starts with the u32 command: how the kernel dispatches. */
export function commandOf(data: Buffer): number {
  return data.readUInt32LE(0);
}

/** struct ifreq {char ifr_name[16]; void *ifr_data; ...} with ifr_data = address. */
export function encodeIfreqData(ifname: string, address: bigint): Buffer {
  checkIfname(ifname);
  const b = Buffer.alloc(IFREQ_SIZE);
  b.write(ifname, 0, IFNAMSIZ - 1, "utf8");
  b.writeBigUInt64LE(address, IFREQ_DATA_OFFSET);
  return b;
}

function cstring(buf: Buffer, offset: number, len: number): string {
  const slice = buf.subarray(offset, offset + len);
  const nul = slice.indexOf(0);
  return slice.subarray(0, nul < 0 ? len : nul).toString("utf8");
}

// ---- struct ethtool_channels (ethtool.h:552-562): nine u32 -----------------------------

const CHANNELS_SIZE = 36;

export interface EthtoolChannels {
  maxRx: number;
  maxTx: number;
  maxOther: number;
  maxCombined: number;
  rx: number;
  tx: number;
  other: number;
  combined: number;
}

const CHANNEL_FIELDS: (keyof EthtoolChannels)[] = [
  "maxRx", "maxTx", "maxOther", "maxCombined", "rx", "tx", "other", "combined",
];

export function encodeChannels(cmd: number, ch?: Partial<EthtoolChannels>): Buffer {
  const b = Buffer.alloc(CHANNELS_SIZE);
  b.writeUInt32LE(cmd, 0);
  CHANNEL_FIELDS.forEach((f, i) => b.writeUInt32LE(ch?.[f] ?? 0, 4 + 4 * i));
  return b;
}

export function decodeChannels(b: Buffer): EthtoolChannels {
  const out = {} as EthtoolChannels;
  CHANNEL_FIELDS.forEach((f, i) => (out[f] = b.readUInt32LE(4 + 4 * i)));
  return out;
}

// ---- struct ethtool_drvinfo (ethtool.h:185-197) ------------------------------------------
// cmd u32; driver[32] @4; version[32] @36; fw_version[32] @68; bus_info[32] @100;
// erom_version[32] @132; reserved2[12] @164; n_priv_flags @176; n_stats @180;
// testinfo_len @184; eedump_len @188; regdump_len @192; size 196.

const DRVINFO_SIZE = 196;

export interface EthtoolDrvinfo {
  driver: string;
  version: string;
  firmwareVersion: string;
  busInfo: string;
  eromVersion: string;
  nPrivFlags: number;
  nStats: number;
  testinfoLen: number;
  eedumpLen: number;
  regdumpLen: number;
}

export function encodeDrvinfoRequest(): Buffer {
  const b = Buffer.alloc(DRVINFO_SIZE);
  b.writeUInt32LE(ETHTOOL_GDRVINFO, 0);
  return b;
}

export function decodeDrvinfo(b: Buffer): EthtoolDrvinfo {
  return {
    driver: cstring(b, 4, 32),
    version: cstring(b, 36, 32),
    firmwareVersion: cstring(b, 68, 32),
    busInfo: cstring(b, 100, 32),
    eromVersion: cstring(b, 132, 32),
    nPrivFlags: b.readUInt32LE(176),
    nStats: b.readUInt32LE(180),
    testinfoLen: b.readUInt32LE(184),
    eedumpLen: b.readUInt32LE(188),
    regdumpLen: b.readUInt32LE(192),
  };
}

// ---- string sets --------------------------------------------------------------------------
// enum ethtool_stringset (ethtool.h:687 ff.): ETH_SS_FEATURES = 4, ETH_SS_RSS_HASH_FUNCS = 5.
export const ETH_SS_FEATURES = 4;
export const ETH_SS_RSS_HASH_FUNCS = 5;
/** ethtool.h:657 */
const ETH_GSTRING_LEN = 32;

// struct ethtool_sset_info (ethtool.h:819-824): cmd u32; reserved u32; sset_mask u64 @8;
// data[] u32 @16, one per set present in the returned mask, in set order.
const SSET_INFO_HEADER = 16;

export function encodeSsetInfoRequest(sets: number[]): Buffer {
  const b = Buffer.alloc(SSET_INFO_HEADER + 4 * sets.length);
  b.writeUInt32LE(ETHTOOL_GSSET_INFO, 0);
  let mask = 0n;
  for (const s of sets) mask |= 1n << BigInt(s);
  b.writeBigUInt64LE(mask, 8);
  return b;
}

/** Set id → string count, for the sets the kernel reported as supported. */
export function decodeSsetInfo(b: Buffer): Map<number, number> {
  const mask = b.readBigUInt64LE(8);
  const out = new Map<number, number>();
  let i = 0;
  for (let set = 0; set < 64; set++) {
    if (mask & (1n << BigInt(set))) {
      out.set(set, b.readUInt32LE(SSET_INFO_HEADER + 4 * i));
      i++;
    }
  }
  return out;
}

// struct ethtool_gstrings (ethtool.h:794-799): cmd; string_set @4; len @8; data[] @12,
// ETH_GSTRING_LEN bytes per string, NUL padded.
const GSTRINGS_HEADER = 12;

export function encodeGstringsRequest(set: number, count: number): Buffer {
  const b = Buffer.alloc(GSTRINGS_HEADER + ETH_GSTRING_LEN * count);
  b.writeUInt32LE(ETHTOOL_GSTRINGS, 0);
  b.writeUInt32LE(set, 4);
  b.writeUInt32LE(count, 8);
  return b;
}

export function decodeGstrings(b: Buffer): string[] {
  const n = b.readUInt32LE(8);
  const out: string[] = [];
  for (let i = 0; i < n && GSTRINGS_HEADER + ETH_GSTRING_LEN * (i + 1) <= b.length; i++) {
    out.push(cstring(b, GSTRINGS_HEADER + ETH_GSTRING_LEN * i, ETH_GSTRING_LEN));
  }
  return out;
}

// ---- features (ethtool.h:1346-1390) --------------------------------------------------------
// struct ethtool_gfeatures {cmd; size; struct ethtool_get_features_block features[]} with
// blocks {available, requested, active, never_changed} (16 bytes); struct
// ethtool_sfeatures {cmd; size; {valid, requested}[]} (8-byte blocks). Bit i of word w
// is feature string 32*w+i of ETH_SS_FEATURES (ethtool.h:1439-1442).

const FEATURES_HEADER = 8;

export interface FeatureBlock {
  available: number;
  requested: number;
  active: number;
  neverChanged: number;
}

export function encodeGfeaturesRequest(words: number): Buffer {
  const b = Buffer.alloc(FEATURES_HEADER + 16 * words);
  b.writeUInt32LE(ETHTOOL_GFEATURES, 0);
  b.writeUInt32LE(words, 4);
  return b;
}

/** size is the kernel's word count (ETHTOOL_DEV_FEATURE_WORDS), blocks what fit in b. */
export function decodeGfeatures(b: Buffer): { size: number; blocks: FeatureBlock[] } {
  const size = b.readUInt32LE(4);
  const blocks: FeatureBlock[] = [];
  for (let i = 0; i < size && FEATURES_HEADER + 16 * (i + 1) <= b.length; i++) {
    const o = FEATURES_HEADER + 16 * i;
    blocks.push({
      available: b.readUInt32LE(o),
      requested: b.readUInt32LE(o + 4),
      active: b.readUInt32LE(o + 8),
      neverChanged: b.readUInt32LE(o + 12),
    });
  }
  return { size, blocks };
}

export function encodeSfeatures(blocks: { valid: number; requested: number }[]): Buffer {
  const b = Buffer.alloc(FEATURES_HEADER + 8 * blocks.length);
  b.writeUInt32LE(ETHTOOL_SFEATURES, 0);
  b.writeUInt32LE(blocks.length, 4);
  blocks.forEach((blk, i) => {
    b.writeUInt32LE(blk.valid >>> 0, FEATURES_HEADER + 8 * i);
    b.writeUInt32LE(blk.requested >>> 0, FEATURES_HEADER + 8 * i + 4);
  });
  return b;
}


// ---- struct ethtool_rxfh (ethtool.h:1239-1248; input_xfrm since Linux 6.8) ------------------
// cmd @0; rss_context @4; indir_size @8; key_size @12; hfunc u8 @16; input_xfrm u8 @17
// (was rsvd8[0] before 6.8: upstream "net: ethtool: add support for symmetric-xor RSS hash",
// which turned rsvd8[3] into input_xfrm + rsvd8[2]); rsvd8[2] @18; rsvd32 @20;
// rss_config[] @24 = u32 indir[indir_size] then u8 key[key_size].

const RXFH_HEADER_SIZE = 24;
/** ethtool.h:1249 */
export const ETH_RXFH_CONTEXT_ALLOC = 0xffffffff;
/** ethtool.h:1250 */
export const ETH_RXFH_INDIR_NO_CHANGE = 0xffffffff;
/** ethtool.h:1237 "An hfunc of zero means that hash function setting is not requested" */
export const ETH_RSS_HASH_NO_CHANGE = 0;
/** upstream ethtool.h (6.8+): RXH_XFRM_SYM_XOR (1 << 0), RXH_XFRM_NO_CHANGE 0xff. */
const RXH_XFRM_SYM_XOR = 1;
const RXH_XFRM_NO_CHANGE = 0xff;

export interface Rxfh {
  rssContext: number;
  indirSize: number;
  keySize: number;
  hfunc: number;
  inputXfrm: number;
  /** u32 queue per hash bucket (length = indirSize when present). */
  indir?: number[];
  key?: Buffer;
}

/**
 * Encodes a request. The buffer has room for `indirSize` entries and `keySize` key bytes
 * unless indirSize is ETH_RXFH_INDIR_NO_CHANGE (then no table follows), so the same
 * function builds the GRSSH "tell me the sizes" probe (both 0), the GRSSH read and SRSSH.
 */
export function encodeRxfh(cmd: number, r: Rxfh): Buffer {
  const tableLen = r.indirSize === ETH_RXFH_INDIR_NO_CHANGE ? 0 : r.indirSize;
  const b = Buffer.alloc(RXFH_HEADER_SIZE + 4 * tableLen + r.keySize);
  b.writeUInt32LE(cmd, 0);
  b.writeUInt32LE(r.rssContext >>> 0, 4);
  b.writeUInt32LE(r.indirSize >>> 0, 8);
  b.writeUInt32LE(r.keySize, 12);
  b.writeUInt8(r.hfunc, 16);
  b.writeUInt8(r.inputXfrm, 17);
  if (r.indir) {
    if (r.indir.length !== tableLen) throw new Error(`indirection table has ${r.indir.length} entries, expected ${tableLen}`);
    r.indir.forEach((q, i) => b.writeUInt32LE(q, RXFH_HEADER_SIZE + 4 * i));
  }
  if (r.key) {
    if (r.key.length !== r.keySize) throw new Error(`hash key has ${r.key.length} bytes, expected ${r.keySize}`);
    r.key.copy(b, RXFH_HEADER_SIZE + 4 * tableLen);
  }
  return b;
}

/** Decodes the header, and the table and key when the buffer was sized for them. */
export function decodeRxfh(b: Buffer): Rxfh {
  const r: Rxfh = {
    rssContext: b.readUInt32LE(4),
    indirSize: b.readUInt32LE(8),
    keySize: b.readUInt32LE(12),
    hfunc: b.readUInt8(16),
    inputXfrm: b.readUInt8(17),
  };
  const tableBytes = 4 * r.indirSize;
  if (r.indirSize !== ETH_RXFH_INDIR_NO_CHANGE && b.length >= RXFH_HEADER_SIZE + tableBytes + r.keySize) {
    r.indir = [];
    for (let i = 0; i < r.indirSize; i++) r.indir.push(b.readUInt32LE(RXFH_HEADER_SIZE + 4 * i));
    r.key = Buffer.from(b.subarray(RXFH_HEADER_SIZE + tableBytes, RXFH_HEADER_SIZE + tableBytes + r.keySize));
  }
  return r;
}

// ---- flow types and rule locations (ethtool.h:1942-1983) -----------------------------------
export const TCP_V4_FLOW = 0x01; // :1942
export const UDP_V4_FLOW = 0x02; // :1943
export const TCP_V6_FLOW = 0x05; // :1946
export const UDP_V6_FLOW = 0x06; // :1947
export const IPV4_USER_FLOW = 0x0d; // :1954
export const IPV6_USER_FLOW = 0x0e; // :1956
export const ETHER_FLOW = 0x12; // :1959
export const FLOW_EXT = 0x80000000; // :1961
export const FLOW_MAC_EXT = 0x40000000; // :1962
export const FLOW_RSS = 0x20000000; // :1964
/** ethtool.h:1976 RX_CLS_FLOW_DISC 0xffffffffffffffffULL: drop. */
export const RX_CLS_FLOW_DISC = 0xffffffffffffffffn;
export const RX_CLS_LOC_SPECIAL = 0x80000000; // :1980
export const RX_CLS_LOC_ANY = 0xffffffff; // :1981
/** ethtool.h:957: usr_ip4_spec.ip_ver must be this (and its mask 0). */
export const ETH_RX_NFC_IP4 = 1;

// ---- struct ethtool_rx_flow_spec (ethtool.h:1081-1089) --------------------------------------
// flow_type u32 @0; h_u (union ethtool_flow_union, 52 bytes: hdata[52], ethtool.h:1027-1042)
// @4; h_ext (struct ethtool_flow_ext, 20 bytes, ethtool.h:1056-1062) @56; m_u @76;
// m_ext @128; 4 bytes padding (ring_cookie is a u64); ring_cookie @152; location @160;
// sizeof 168 (aligned to 8).

const FLOW_UNION_SIZE = 52;
const FLOW_EXT_SIZE = 20;
const FS_H_U = 4;
const FS_H_EXT = 56;
const FS_M_U = 76;
const FS_M_EXT = 128;
const FS_RING_COOKIE = 152;
const FS_LOCATION = 160;

export interface FlowSpec {
  flowType: number;
  h: Buffer; // 52 bytes
  hExt: Buffer; // 20 bytes
  m: Buffer; // 52 bytes
  mExt: Buffer; // 20 bytes
  ringCookie: bigint;
  location: number;
}

export function emptyFlowSpec(): FlowSpec {
  return {
    flowType: 0,
    h: Buffer.alloc(FLOW_UNION_SIZE),
    hExt: Buffer.alloc(FLOW_EXT_SIZE),
    m: Buffer.alloc(FLOW_UNION_SIZE),
    mExt: Buffer.alloc(FLOW_EXT_SIZE),
    ringCookie: 0n,
    location: 0,
  };
}

function encodeFlowSpecInto(b: Buffer, offset: number, fs: FlowSpec): void {
  b.writeUInt32LE(fs.flowType >>> 0, offset);
  fs.h.copy(b, offset + FS_H_U, 0, FLOW_UNION_SIZE);
  fs.hExt.copy(b, offset + FS_H_EXT, 0, FLOW_EXT_SIZE);
  fs.m.copy(b, offset + FS_M_U, 0, FLOW_UNION_SIZE);
  fs.mExt.copy(b, offset + FS_M_EXT, 0, FLOW_EXT_SIZE);
  b.writeBigUInt64LE(fs.ringCookie, offset + FS_RING_COOKIE);
  b.writeUInt32LE(fs.location >>> 0, offset + FS_LOCATION);
}

export function decodeFlowSpecAt(b: Buffer, offset: number): FlowSpec {
  const copy = (o: number, n: number) => Buffer.from(b.subarray(offset + o, offset + o + n));
  return {
    flowType: b.readUInt32LE(offset),
    h: copy(FS_H_U, FLOW_UNION_SIZE),
    hExt: copy(FS_H_EXT, FLOW_EXT_SIZE),
    m: copy(FS_M_U, FLOW_UNION_SIZE),
    mExt: copy(FS_M_EXT, FLOW_EXT_SIZE),
    ringCookie: b.readBigUInt64LE(offset + FS_RING_COOKIE),
    location: b.readUInt32LE(offset + FS_LOCATION),
  };
}

// ---- struct ethtool_rxnfc (ethtool.h:1177-1186) ---------------------------------------------
// cmd @0; flow_type @4; data u64 @8; fs @16 (168 bytes); union {rule_cnt; rss_context} @184;
// rule_locs[] @188; sizeof 192. The kernel writes rule_locs at offsetof(rule_locs) = 188
// (net/ethtool/ioctl.c ethtool_rxnfc_copy_to_user), i.e. inside the 4 bytes of tail padding.

const RXNFC_SIZE = 192;
const RXNFC_FS_OFFSET = 16;
const RXNFC_RULE_CNT_OFFSET = 184;
const RXNFC_RULE_LOCS_OFFSET = 188;

export interface Rxnfc {
  cmd: number;
  flowType: number;
  data: bigint;
  fs: FlowSpec;
  /** The union: rule_cnt for GRXCLSRLCNT/GRXCLSRLALL, rss_context for rules with FLOW_RSS. */
  ruleCnt: number;
  ruleLocs: number[];
}

/** locsRoom: how many rule_locs the buffer must hold (GRXCLSRLALL). */
export function encodeRxnfc(r: Partial<Rxnfc> & { cmd: number }, locsRoom = 0): Buffer {
  const b = Buffer.alloc(Math.max(RXNFC_SIZE, RXNFC_RULE_LOCS_OFFSET + 4 * locsRoom));
  b.writeUInt32LE(r.cmd, 0);
  b.writeUInt32LE((r.flowType ?? 0) >>> 0, 4);
  b.writeBigUInt64LE(r.data ?? 0n, 8);
  encodeFlowSpecInto(b, RXNFC_FS_OFFSET, r.fs ?? emptyFlowSpec());
  b.writeUInt32LE((r.ruleCnt ?? 0) >>> 0, RXNFC_RULE_CNT_OFFSET);
  return b;
}

export function decodeRxnfc(b: Buffer): Rxnfc {
  const ruleCnt = b.readUInt32LE(RXNFC_RULE_CNT_OFFSET);
  const cmd = b.readUInt32LE(0);
  const ruleLocs: number[] = [];
  if (cmd === ETHTOOL_GRXCLSRLALL) {
    for (let i = 0; i < ruleCnt && RXNFC_RULE_LOCS_OFFSET + 4 * (i + 1) <= b.length; i++) {
      ruleLocs.push(b.readUInt32LE(RXNFC_RULE_LOCS_OFFSET + 4 * i));
    }
  }
  return {
    cmd,
    flowType: b.readUInt32LE(4),
    data: b.readBigUInt64LE(8),
    fs: decodeFlowSpecAt(b, RXNFC_FS_OFFSET),
    ruleCnt,
    ruleLocs,
  };
}
