// Netlink message codec: pure functions over Buffers, no I/O.
//
// Why our own: the `netlink` npm package is unmaintained (last release 2023), clears
// NLA_F_NESTED (which the kernel's strict validation of generic netlink families
// requires: "NLA_F_NESTED is missing") and drops the extended-ack text. This module
// keeps the wire format apart from the operations built on it, in the style of
// vishvananda/netlink's nl package.
//
// Layouts (include/uapi/linux/netlink.h; line numbers of the 6.1 header installed here
// as /usr/include/linux/netlink.h, unchanged upstream since):
//   struct nlmsghdr { u32 len; u16 type; u16 flags; u32 seq; u32 pid; }      (l. 52)
//   struct nlattr   { u16 len; u16 type; }, payload padded to 4 bytes          (l. 225, 244)
//   NLA_F_NESTED = 1 << 15, NLA_F_NET_BYTEORDER = 1 << 14                      (l. 240-241)
//   struct nlmsgerr { s32 error; struct nlmsghdr msg; ...payload; ...TLVs }    (l. 119)
// All integers are host order (little endian on the machines we target), except
// attributes flagged NLA_F_NET_BYTEORDER.
import { KernelError } from "../errors";

// netlink.h l. 112-115
export const NLMSG_NOOP = 1;
export const NLMSG_ERROR = 2;
export const NLMSG_DONE = 3;
export const NLMSG_OVERRUN = 4;
export const NLMSG_MIN_TYPE = 0x10;

// netlink.h l. 62-87
export const NLM_F_REQUEST = 0x01;
export const NLM_F_MULTI = 0x02;
export const NLM_F_ACK = 0x04;
export const NLM_F_ECHO = 0x08;
export const NLM_F_DUMP_INTR = 0x10;
export const NLM_F_DUMP_FILTERED = 0x20;
export const NLM_F_ROOT = 0x100;
export const NLM_F_MATCH = 0x200;
export const NLM_F_DUMP = NLM_F_ROOT | NLM_F_MATCH;
export const NLM_F_REPLACE = 0x100;
export const NLM_F_EXCL = 0x200;
export const NLM_F_CREATE = 0x400;
export const NLM_F_APPEND = 0x800;
/** In an NLMSG_ERROR: the echoed request was cut to its header (NETLINK_CAP_ACK). */
export const NLM_F_CAPPED = 0x100;
/** In an NLMSG_ERROR/NLMSG_DONE: extended-ack TLVs follow (NETLINK_EXT_ACK). */
export const NLM_F_ACK_TLVS = 0x200;

// netlink.h l. 151-157: enum nlmsgerr_attrs
export const NLMSGERR_ATTR_MSG = 1;
export const NLMSGERR_ATTR_OFFS = 2;
export const NLMSGERR_ATTR_COOKIE = 3;
export const NLMSGERR_ATTR_POLICY = 4;
export const NLMSGERR_ATTR_MISS_TYPE = 5;
export const NLMSGERR_ATTR_MISS_NEST = 6;

export const NLA_F_NESTED = 1 << 15;
export const NLA_F_NET_BYTEORDER = 1 << 14;
export const NLA_TYPE_MASK = ~(NLA_F_NESTED | NLA_F_NET_BYTEORDER) & 0xffff;
export const NLA_ALIGNTO = 4;
export const NLMSG_HDRLEN = 16;
export const NLA_HDRLEN = 4;

export function align4(n: number): number {
  return (n + NLA_ALIGNTO - 1) & ~(NLA_ALIGNTO - 1);
}

// ---------------------------------------------------------------------------------------
// Messages

export interface NetlinkMessage {
  type: number;
  flags: number;
  seq: number;
  pid: number;
  /** Everything after the 16-byte header, up to nlmsg_len (no trailing padding). */
  payload: Buffer;
}

/** One nlmsghdr + payload, padded to 4 bytes so messages can be concatenated. */
export function encodeMessage(m: { type: number; flags: number; seq?: number; pid?: number; payload: Buffer }): Buffer {
  const len = NLMSG_HDRLEN + m.payload.length;
  const out = Buffer.alloc(align4(len));
  out.writeUInt32LE(len, 0);
  out.writeUInt16LE(m.type, 4);
  out.writeUInt16LE(m.flags, 6);
  out.writeUInt32LE((m.seq ?? 0) >>> 0, 8);
  out.writeUInt32LE((m.pid ?? 0) >>> 0, 12);
  m.payload.copy(out, NLMSG_HDRLEN);
  return out;
}

/** Splits a datagram into messages; throws on a length that does not fit. */
export function parseMessages(buf: Buffer): NetlinkMessage[] {
  const out: NetlinkMessage[] = [];
  let off = 0;
  while (off + NLMSG_HDRLEN <= buf.length) {
    const len = buf.readUInt32LE(off);
    if (len < NLMSG_HDRLEN || off + len > buf.length) {
      throw new Error(`malformed netlink message at offset ${off}: nlmsg_len ${len}, ${buf.length - off} bytes left`);
    }
    out.push({
      type: buf.readUInt16LE(off + 4),
      flags: buf.readUInt16LE(off + 6),
      seq: buf.readUInt32LE(off + 8),
      pid: buf.readUInt32LE(off + 12),
      payload: buf.subarray(off + NLMSG_HDRLEN, off + len),
    });
    off += align4(len);
  }
  return out;
}

/** Reads only the sequence number of a request we built (the transport needs it). */
export function messageSeq(msg: Buffer): number {
  return msg.readUInt32LE(8);
}

// ---------------------------------------------------------------------------------------
// Attributes: building

/** An attribute to encode: raw payload bytes, or children (encoded as a nest). */
export type Attr = { type: number; data: Buffer } | { type: number; nest: Attr[] };

function u8b(v: number): Buffer {
  const b = Buffer.alloc(1);
  b.writeUInt8(v);
  return b;
}
function u16b(v: number): Buffer {
  const b = Buffer.alloc(2);
  b.writeUInt16LE(v);
  return b;
}
function u32b(v: number): Buffer {
  const b = Buffer.alloc(4);
  b.writeUInt32LE(v >>> 0);
  return b;
}
function s32b(v: number): Buffer {
  const b = Buffer.alloc(4);
  b.writeInt32LE(v);
  return b;
}
function u64b(v: bigint | number): Buffer {
  const b = Buffer.alloc(8);
  b.writeBigUInt64LE(BigInt(v));
  return b;
}

/** Attribute constructors (nla_put_* of the kernel). */
export const nla = {
  u8: (type: number, v: number): Attr => ({ type, data: u8b(v) }),
  u16: (type: number, v: number): Attr => ({ type, data: u16b(v) }),
  u32: (type: number, v: number): Attr => ({ type, data: u32b(v) }),
  s32: (type: number, v: number): Attr => ({ type, data: s32b(v) }),
  u64: (type: number, v: bigint | number): Attr => ({ type, data: u64b(v) }),
  /** NUL-terminated, as NLA_NUL_STRING / NLA_STRING policies expect. */
  string: (type: number, s: string): Attr => ({ type, data: Buffer.concat([Buffer.from(s, "utf8"), Buffer.alloc(1)]) }),
  binary: (type: number, b: Buffer): Attr => ({ type, data: Buffer.from(b) }),
  flag: (type: number): Attr => ({ type, data: Buffer.alloc(0) }),
  /** A nest: encoded with NLA_F_NESTED, which strict policies require. */
  nest: (type: number, children: Attr[]): Attr => ({ type, nest: children }),
};

export function encodeAttr(a: Attr): Buffer {
  const isNest = "nest" in a;
  const payload = isNest ? encodeAttrs(a.nest) : a.data;
  const len = NLA_HDRLEN + payload.length;
  if (len > 0xffff) throw new Error(`netlink attribute ${a.type} too large (${len} bytes)`);
  const out = Buffer.alloc(align4(len));
  out.writeUInt16LE(len, 0);
  out.writeUInt16LE((a.type & NLA_TYPE_MASK) | (isNest ? NLA_F_NESTED : 0), 2);
  payload.copy(out, NLA_HDRLEN);
  return out;
}

export function encodeAttrs(attrs: Attr[]): Buffer {
  return Buffer.concat(attrs.map(encodeAttr));
}

// ---------------------------------------------------------------------------------------
// Attributes: parsing

/**
 * One parsed attribute. The payload stays a view into the message and is sliced only
 * when asked for: dumps of hundreds of links parse tens of thousands of attributes.
 */
export class ParsedAttr {
  constructor(
    /** Attribute type with the flag bits masked off. */
    readonly type: number,
    /** NLA_F_NESTED was set by the sender. The kernel omits it on some old nests (IFLA_LINKINFO). */
    readonly nested: boolean,
    readonly netByteOrder: boolean,
    /** The buffer the attribute was parsed from, and where its payload sits in it. */
    readonly src: Buffer,
    readonly start: number,
    readonly length: number,
    /** Offset of the attribute header from the start of the enclosing message (if known). */
    readonly offset: number,
  ) {}

  get data(): Buffer {
    return this.src.subarray(this.start, this.start + this.length);
  }
}

/** Parses one level of attributes; `base` is the offset of buf within its message. */
export function parseAttrs(buf: Buffer, base = 0): ParsedAttr[] {
  const out: ParsedAttr[] = [];
  let off = 0;
  while (off + NLA_HDRLEN <= buf.length) {
    const len = buf.readUInt16LE(off);
    const rawType = buf.readUInt16LE(off + 2);
    if (len < NLA_HDRLEN || off + len > buf.length) {
      throw new Error(`malformed netlink attribute at offset ${base + off}: nla_len ${len}, ${buf.length - off} bytes left`);
    }
    out.push(
      new ParsedAttr(
        rawType & NLA_TYPE_MASK,
        (rawType & NLA_F_NESTED) !== 0,
        (rawType & NLA_F_NET_BYTEORDER) !== 0,
        buf,
        off + NLA_HDRLEN,
        len - NLA_HDRLEN,
        base + off,
      ),
    );
    off += align4(len);
  }
  return out;
}

function need(a: ParsedAttr, n: number, what: string): void {
  if (a.length < n) throw new Error(`netlink attribute ${a.type}: ${what} needs ${n} bytes, got ${a.length}`);
}

/** Typed access to one level of attributes (a parsed nla_parse table). */
export class AttrSet {
  readonly list: ParsedAttr[];
  private readonly byType = new Map<number, ParsedAttr>();

  constructor(list: ParsedAttr[]) {
    this.list = list;
    // The kernel's nla_parse keeps the last occurrence; do the same.
    for (const a of list) this.byType.set(a.type, a);
  }

  static parse(buf: Buffer, base = 0): AttrSet {
    return new AttrSet(parseAttrs(buf, base));
  }

  has(type: number): boolean {
    return this.byType.has(type);
  }
  get(type: number): ParsedAttr | undefined {
    return this.byType.get(type);
  }
  all(type: number): ParsedAttr[] {
    return this.list.filter((a) => a.type === type);
  }
  u8(type: number): number | undefined {
    const a = this.get(type);
    if (!a) return undefined;
    need(a, 1, "u8");
    return a.src.readUInt8(a.start);
  }
  u16(type: number): number | undefined {
    const a = this.get(type);
    if (!a) return undefined;
    need(a, 2, "u16");
    return a.netByteOrder ? a.src.readUInt16BE(a.start) : a.src.readUInt16LE(a.start);
  }
  u32(type: number): number | undefined {
    const a = this.get(type);
    if (!a) return undefined;
    need(a, 4, "u32");
    return a.netByteOrder ? a.src.readUInt32BE(a.start) : a.src.readUInt32LE(a.start);
  }
  s32(type: number): number | undefined {
    const a = this.get(type);
    if (!a) return undefined;
    need(a, 4, "s32");
    return a.src.readInt32LE(a.start);
  }
  u64(type: number): bigint | undefined {
    const a = this.get(type);
    if (!a) return undefined;
    need(a, 8, "u64");
    return a.src.readBigUInt64LE(a.start);
  }
  /** NLA_UINT: 4 or 8 bytes, whichever the kernel chose for the value. */
  uint(type: number): bigint | undefined {
    const a = this.get(type);
    if (!a) return undefined;
    if (a.length >= 8) return a.src.readBigUInt64LE(a.start);
    need(a, 4, "uint");
    return BigInt(a.src.readUInt32LE(a.start));
  }
  string(type: number): string | undefined {
    const a = this.get(type);
    if (!a) return undefined;
    let end = a.start;
    const stop = a.start + a.length;
    while (end < stop && a.src[end] !== 0) end++;
    return a.src.toString("utf8", a.start, end);
  }
  binary(type: number): Buffer | undefined {
    return this.get(type)?.data;
  }
  flag(type: number): boolean {
    return this.has(type);
  }
  /** Children of a nest, whether or not the sender flagged it NLA_F_NESTED. */
  nest(type: number): AttrSet | undefined {
    const a = this.get(type);
    return a ? AttrSet.parse(a.data, a.offset + NLA_HDRLEN) : undefined;
  }
  /** Every occurrence of a multi-attr nest, or the entries of an indexed nest array. */
  nests(type: number): AttrSet[] {
    return this.all(type).map((a) => AttrSet.parse(a.data, a.offset + NLA_HDRLEN));
  }
}

export interface AttrTreeNode {
  type: number;
  nested: boolean;
  /** Payload of a leaf; absent for nests. */
  data?: Buffer;
  children?: AttrTreeNode[];
}

/**
 * Parses attributes into a tree, descending where the sender set NLA_F_NESTED (the
 * flag is the only self-describing mark; nests without it stay leaves).
 */
export function parseAttrTree(buf: Buffer): AttrTreeNode[] {
  return parseAttrs(buf).map((a) =>
    a.nested ? { type: a.type, nested: true, children: parseAttrTree(a.data) } : { type: a.type, nested: false, data: a.data },
  );
}

/**
 * Type path of the attribute that starts at `offset` in a request message (as reported
 * by NLMSGERR_ATTR_OFFS), descending through nests. `fixedHeader` is the length of the
 * family header after nlmsghdr (ifinfomsg 16, genlmsghdr 4). Nests that carry a struct
 * before their attributes (VETH_INFO_PEER) are searched after that struct when the plain
 * parse does not reach the offset.
 */
export function attrPathAtOffset(request: Buffer, offset: number, fixedHeader: number): number[] | undefined {
  const len = Math.min(request.length, request.readUInt32LE(0));
  const start = NLMSG_HDRLEN + align4(fixedHeader);
  return findPath(request.subarray(start, len), start, offset);
}

function findPath(buf: Buffer, base: number, offset: number): number[] | undefined {
  let attrs: ParsedAttr[];
  try {
    attrs = parseAttrs(buf, base);
  } catch {
    return undefined;
  }
  for (const a of attrs) {
    if (a.offset === offset) return [a.type];
    const dataStart = a.offset + NLA_HDRLEN;
    if (offset > a.offset && offset < dataStart + a.data.length) {
      const inner =
        findPath(a.data, dataStart, offset) ??
        // struct ifinfomsg (16 bytes) before the peer's attributes
        (a.data.length > 16 ? findPath(a.data.subarray(16), dataStart + 16, offset) : undefined);
      return inner ? [a.type, ...inner] : [a.type];
    }
  }
  return undefined;
}

// ---------------------------------------------------------------------------------------
// Acknowledgements and errors

export interface NetlinkAck {
  /** Positive errno; 0 for a plain ACK. */
  errno: number;
  /** Header of the request this answers. */
  request: { len: number; type: number; flags: number; seq: number; pid: number };
  /** NLMSGERR_ATTR_MSG: the kernel's own explanation. */
  message?: string;
  /** NLMSGERR_ATTR_OFFS: offset of the offending attribute in the request. */
  offset?: number;
  /** NLMSGERR_ATTR_MISS_TYPE / MISS_NEST: a required attribute that was absent. */
  missingType?: number;
  missingNestOffset?: number;
  cookie?: Buffer;
}

function parseExtack(tlvs: Buffer, into: NetlinkAck): void {
  const set = AttrSet.parse(tlvs);
  into.message = set.string(NLMSGERR_ATTR_MSG);
  into.offset = set.u32(NLMSGERR_ATTR_OFFS);
  into.missingType = set.u32(NLMSGERR_ATTR_MISS_TYPE);
  into.missingNestOffset = set.u32(NLMSGERR_ATTR_MISS_NEST);
  into.cookie = set.binary(NLMSGERR_ATTR_COOKIE);
}

/** Decodes an NLMSG_ERROR message (an ACK when errno is 0). */
export function parseError(msg: NetlinkMessage): NetlinkAck {
  const p = msg.payload;
  if (p.length < 4 + NLMSG_HDRLEN) throw new Error(`truncated NLMSG_ERROR (${p.length} bytes)`);
  const error = p.readInt32LE(0);
  const reqLen = p.readUInt32LE(4);
  const ack: NetlinkAck = {
    errno: -error,
    request: {
      len: reqLen,
      type: p.readUInt16LE(8),
      flags: p.readUInt16LE(10),
      seq: p.readUInt32LE(12),
      pid: p.readUInt32LE(16),
    },
  };
  if (msg.flags & NLM_F_ACK_TLVS) {
    // Without NLM_F_CAPPED the whole request is echoed back before the TLVs.
    const echoed = msg.flags & NLM_F_CAPPED ? NLMSG_HDRLEN : align4(reqLen);
    const tlvStart = 4 + echoed;
    if (tlvStart <= p.length) parseExtack(p.subarray(tlvStart), ack);
  }
  return ack;
}

/** Decodes NLMSG_DONE: a dump's final status, which may carry an error and extack. */
export function parseDone(msg: NetlinkMessage): { errno: number; message?: string; offset?: number } {
  if (msg.payload.length < 4) return { errno: 0 };
  const errno = -msg.payload.readInt32LE(0);
  const out: NetlinkAck = { errno, request: { len: 0, type: 0, flags: 0, seq: 0, pid: 0 } };
  if (msg.flags & NLM_F_ACK_TLVS) parseExtack(msg.payload.subarray(4), out);
  return { errno, message: out.message, offset: out.offset };
}

/** Builds an NLMSG_ERROR answering `request` (used by test doubles and codec tests). */
export function encodeError(
  request: Buffer,
  errno: number,
  ext: { message?: string; offset?: number; missingType?: number } = {},
  opts: { capped?: boolean; pid?: number } = {},
): Buffer {
  const capped = opts.capped ?? true;
  const reqLen = request.readUInt32LE(0);
  const echoed = capped ? request.subarray(0, NLMSG_HDRLEN) : request.subarray(0, align4(reqLen));
  const tlvs: Attr[] = [];
  if (ext.message !== undefined) tlvs.push(nla.string(NLMSGERR_ATTR_MSG, ext.message));
  if (ext.offset !== undefined) tlvs.push(nla.u32(NLMSGERR_ATTR_OFFS, ext.offset));
  if (ext.missingType !== undefined) tlvs.push(nla.u32(NLMSGERR_ATTR_MISS_TYPE, ext.missingType));
  const head = Buffer.alloc(4);
  head.writeInt32LE(-errno);
  let flags = capped ? NLM_F_CAPPED : 0;
  if (tlvs.length > 0) flags |= NLM_F_ACK_TLVS;
  return encodeMessage({
    type: NLMSG_ERROR,
    flags,
    seq: request.readUInt32LE(8),
    pid: opts.pid ?? 0,
    payload: Buffer.concat([head, echoed, encodeAttrs(tlvs)]),
  });
}

/** Builds NLMSG_DONE closing a dump. */
export function encodeDone(seq: number, pid = 0, errno = 0): Buffer {
  const p = Buffer.alloc(4);
  p.writeInt32LE(-errno);
  return encodeMessage({ type: NLMSG_DONE, flags: NLM_F_MULTI, seq, pid, payload: p });
}

/**
 * A failed netlink request: errno name, the kernel's extack text, and where the kernel
 * pointed when it named an attribute instead of explaining (NLMSGERR_ATTR_OFFS).
 */
export class NetlinkError extends KernelError {
  readonly attrOffset?: number;
  /** Attribute types from the outermost nest to the offending attribute. */
  readonly attrPath?: number[];
  readonly missingType?: number;

  constructor(
    operation: string,
    errno: number,
    ext: { message?: string; offset?: number; missingType?: number },
    context?: string,
    attrPath?: number[],
  ) {
    const where: string[] = [];
    if (context) where.push(context);
    if (ext.offset !== undefined) {
      where.push(`attribute ${attrPath ? attrPath.join("/") : "?"} at offset ${ext.offset}`);
    }
    if (ext.missingType !== undefined) where.push(`missing attribute ${ext.missingType}`);
    super(operation, errno, ext.message, where.length ? where.join("; ") : undefined);
    this.name = "NetlinkError";
    this.attrOffset = ext.offset;
    this.attrPath = attrPath;
    this.missingType = ext.missingType;
  }
}
