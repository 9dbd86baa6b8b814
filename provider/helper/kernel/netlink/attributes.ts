// Netlink attributes (struct nlattr TLVs): building, parsing and typed access. Pure
// functions over Buffers, no I/O; the message layer (codec.ts) and every family's
// encoders build on them.
//
// Layouts (include/uapi/linux/netlink.h of the 6.1 header installed here as
// /usr/include/linux/netlink.h, unchanged upstream since):
//   struct nlattr { u16 len; u16 type; }, payload padded to 4 bytes          (l. 225, 244)
//   NLA_F_NESTED = 1 << 15, NLA_F_NET_BYTEORDER = 1 << 14                      (l. 240-241)
// Integers are host order (little endian on the machines we target), except attributes
// flagged NLA_F_NET_BYTEORDER.

export const NLA_F_NESTED = 1 << 15;
const NLA_F_NET_BYTEORDER = 1 << 14;
const NLA_TYPE_MASK = ~(NLA_F_NESTED | NLA_F_NET_BYTEORDER) & 0xffff;
export const NLA_ALIGNTO = 4;
export const NLA_HDRLEN = 4;

export function align4(n: number): number {
  return (n + NLA_ALIGNTO - 1) & ~(NLA_ALIGNTO - 1);
}

// ---------------------------------------------------------------------------------------
// Building

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

function encodeAttr(a: Attr): Buffer {
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
// Parsing

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
  /** The attribute of `type` if present, refused when shorter than its `what` needs. */
  private sized(type: number, bytes: number, what: string): ParsedAttr | undefined {
    const a = this.get(type);
    if (a) need(a, bytes, what);
    return a;
  }
  u8(type: number): number | undefined {
    const a = this.sized(type, 1, "u8");
    return a && a.src.readUInt8(a.start);
  }
  u16(type: number): number | undefined {
    const a = this.sized(type, 2, "u16");
    return a && (a.netByteOrder ? a.src.readUInt16BE(a.start) : a.src.readUInt16LE(a.start));
  }
  u32(type: number): number | undefined {
    const a = this.sized(type, 4, "u32");
    return a && (a.netByteOrder ? a.src.readUInt32BE(a.start) : a.src.readUInt32LE(a.start));
  }
  s32(type: number): number | undefined {
    const a = this.sized(type, 4, "s32");
    return a && a.src.readInt32LE(a.start);
  }
  u64(type: number): bigint | undefined {
    const a = this.sized(type, 8, "u64");
    return a && a.src.readBigUInt64LE(a.start);
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
