// Netlink messages: the nlmsghdr framing, acknowledgements and the extended ack. Pure
// functions over Buffers, no I/O; attributes are in attributes.ts.
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
//   struct nlmsgerr { s32 error; struct nlmsghdr msg; ...payload; ...TLVs }    (l. 119)
// All integers are host order (little endian on the machines we target).
import { KernelError } from "../errors";
import type { AttrSpace } from "./attr-names";
import { Attr, AttrSet, NLA_HDRLEN, align4, encodeAttrs, nla } from "./attributes";
import { IFINFOMSG_LEN } from "./rtnetlink-uapi";

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
export const NLM_F_DUMP_INTR = 0x10;
const NLM_F_ROOT = 0x100;
const NLM_F_MATCH = 0x200;
export const NLM_F_DUMP = NLM_F_ROOT | NLM_F_MATCH;
export const NLM_F_EXCL = 0x200;
export const NLM_F_CREATE = 0x400;
/** In an NLMSG_ERROR: the echoed request was cut to its header (NETLINK_CAP_ACK). */
export const NLM_F_CAPPED = 0x100;
/** In an NLMSG_ERROR/NLMSG_DONE: extended-ack TLVs follow (NETLINK_EXT_ACK). */
export const NLM_F_ACK_TLVS = 0x200;

// netlink.h l. 151-157: enum nlmsgerr_attrs
export const NLMSGERR_ATTR_MSG = 1;
export const NLMSGERR_ATTR_OFFS = 2;
const NLMSGERR_ATTR_COOKIE = 3;
const NLMSGERR_ATTR_MISS_TYPE = 5;
const NLMSGERR_ATTR_MISS_NEST = 6;

export const NLMSG_HDRLEN = 16;

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

/** One level of the attribute an extended ack points at, outermost nest first. */
export interface AttrLevel {
  type: number;
  /** From the request's attribute space, when it names this attribute. */
  name?: string;
  /** Where the attribute's header starts in the request. */
  offset: number;
}

/**
 * The attributes from the outermost nest down to the one that starts at `offset` in
 * `request` (a whole message, as NLMSGERR_ATTR_OFFS counts; `headerLen` is the length of
 * its family header: ifinfomsg 16, genlmsghdr 4), named from `space` where it can. When
 * no attribute starts at `offset`, the levels end at the innermost one that holds it;
 * undefined when none does.
 */
export function attrAtOffset(request: Buffer, offset: number, headerLen: number, space?: AttrSpace): AttrLevel[] | undefined {
  const end = Math.min(request.length, request.readUInt32LE(0));
  const start = NLMSG_HDRLEN + align4(headerLen);
  const levels = levelsAt(request.subarray(start, end), start, offset, space);
  return levels.length > 0 ? levels : undefined;
}

function levelsAt(buf: Buffer, base: number, offset: number, space: AttrSpace | undefined): AttrLevel[] {
  let level: AttrSet;
  try {
    level = AttrSet.parse(buf, base);
  } catch {
    return [];
  }
  const attr = level.list.find((a) => offset >= a.offset && offset < a.offset + NLA_HDRLEN + a.length);
  if (!attr) return [];
  const here: AttrLevel = { type: attr.type, name: space?.names.get(attr.type), offset: attr.offset };
  if (attr.offset === offset) return [here];
  const dataStart = attr.offset + NLA_HDRLEN;
  const inner = space?.nests?.[attr.type]?.(level);
  if (inner) {
    const skip = align4(inner.header ?? 0);
    return [here, ...levelsAt(attr.data.subarray(skip), dataStart + skip, offset, inner)];
  }
  // Without a space saying what the attribute holds, it may still be a nest: of
  // attributes, or of a struct ifinfomsg and then attributes (a veth or netkit peer).
  let below = levelsAt(attr.data, dataStart, offset, undefined);
  if (below.length === 0 && attr.length > IFINFOMSG_LEN) {
    below = levelsAt(attr.data.subarray(IFINFOMSG_LEN), dataStart + IFINFOMSG_LEN, offset, undefined);
  }
  return [here, ...below];
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
    /** What attrAtOffset found at ext.offset in the request. */
    attr?: AttrLevel[],
  ) {
    const where: string[] = [];
    if (context) where.push(context);
    const attribute = ext.offset === undefined ? undefined : describeAttr(attr, ext.offset);
    if (attribute) where.push(`attribute ${attribute}`);
    if (ext.missingType !== undefined) where.push(`missing attribute ${ext.missingType}`);
    super(operation, errno, ext.message, where.length ? where.join("; ") : undefined);
    this.name = "NetlinkError";
    this.attribute = attribute;
    this.attrOffset = ext.offset;
    this.attrPath = attr?.map((l) => l.type);
    this.missingType = ext.missingType;
  }
}

/**
 * Names only for an attribute found exactly and named at every level; otherwise the
 * types and the offset, which an operator can still match against the request.
 */
function describeAttr(attr: AttrLevel[] | undefined, offset: number): string {
  if (attr && attr[attr.length - 1].offset === offset && attr.every((l) => l.name !== undefined)) {
    return attr.map((l) => l.name).join(" > ");
  }
  return `${attr ? attr.map((l) => l.type).join("/") : "?"} at offset ${offset}`;
}
