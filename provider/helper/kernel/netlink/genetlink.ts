// Generic netlink: family lookup through the controller and request/dump helpers that
// put the genlmsghdr in front of a family's attributes.
//
// Layouts: include/uapi/linux/genetlink.h (6.1 header installed here):
//   struct genlmsghdr { u8 cmd; u8 version; u16 reserved; }   (l. 13-17, GENL_HDRLEN 4)
//   GENL_ID_CTRL = NLMSG_MIN_TYPE = 0x10                        (l. 30)
//   CTRL_CMD_GETFAMILY = 3                                       (l. 41-44)
//   CTRL_ATTR_FAMILY_ID..MCAST_GROUPS = 1..7                     (l. 58-65)
//   CTRL_ATTR_OP_ID/FLAGS = 1/2, CTRL_ATTR_MCAST_GRP_NAME/ID = 1/2 (l. 75-86)
//   GENL_ADMIN_PERM 0x01, CMD_CAP_DO 0x02, CMD_CAP_DUMP 0x04, CMD_CAP_HASPOL 0x08,
//   UNS_ADMIN_PERM 0x10                                          (l. 21-25)
import { Attr, AttrSet, NLA_HDRLEN, encodeAttrs, nla } from "./attributes";
import { NetlinkMessage } from "./codec";
import { NETLINK_GENERIC, NetlinkClient, openNetlink } from "./socket";

export const GENL_HDRLEN = 4;
export const GENL_ID_CTRL = 0x10;
export const CTRL_CMD_GETFAMILY = 3;
export const CTRL_ATTR_FAMILY_ID = 1;
export const CTRL_ATTR_FAMILY_NAME = 2;
export const CTRL_ATTR_VERSION = 3;
export const CTRL_ATTR_HDRSIZE = 4;
export const CTRL_ATTR_MAXATTR = 5;
export const CTRL_ATTR_OPS = 6;
export const CTRL_ATTR_MCAST_GROUPS = 7;
export const CTRL_ATTR_OP_ID = 1;
export const CTRL_ATTR_OP_FLAGS = 2;
export const CTRL_ATTR_MCAST_GRP_NAME = 1;
export const CTRL_ATTR_MCAST_GRP_ID = 2;
export const GENL_ADMIN_PERM = 0x01;
export const GENL_CMD_CAP_DO = 0x02;
export const GENL_CMD_CAP_DUMP = 0x04;
export const GENL_CMD_CAP_HASPOL = 0x08;

/** Version of the controller protocol we speak (genl's own CTRL family is at 2). */
const CTRL_VERSION = 2;

export interface GenlFamily {
  name: string;
  id: number;
  version: number;
  hdrSize: number;
  maxAttr: number;
  /** Operations the running kernel offers: cmd → GENL_* flags. */
  ops: Map<number, number>;
  mcastGroups: Map<string, number>;
}

export function genlHeader(cmd: number, version: number): Buffer {
  const b = Buffer.alloc(GENL_HDRLEN);
  b.writeUInt8(cmd, 0);
  b.writeUInt8(version, 1);
  return b;
}

/** Payload of a generic netlink request: genlmsghdr + attributes. */
export function genlPayload(cmd: number, version: number, attrs: Attr[]): Buffer {
  return Buffer.concat([genlHeader(cmd, version), encodeAttrs(attrs)]);
}

/** CTRL_CMD_GETFAMILY by name (payload only; message type GENL_ID_CTRL). */
export function encodeGetFamily(name: string): Buffer {
  return genlPayload(CTRL_CMD_GETFAMILY, CTRL_VERSION, [nla.string(CTRL_ATTR_FAMILY_NAME, name)]);
}

export interface GenlReply {
  cmd: number;
  version: number;
  attrs: AttrSet;
}

function parseGenl(msg: NetlinkMessage): GenlReply {
  if (msg.payload.length < GENL_HDRLEN) throw new Error(`truncated genlmsghdr (${msg.payload.length} bytes)`);
  return {
    cmd: msg.payload.readUInt8(0),
    version: msg.payload.readUInt8(1),
    attrs: AttrSet.parse(msg.payload.subarray(GENL_HDRLEN), 16 + GENL_HDRLEN),
  };
}

function parseFamily(msg: NetlinkMessage): GenlFamily {
  const a = parseGenl(msg).attrs;
  const id = a.u16(CTRL_ATTR_FAMILY_ID);
  const name = a.string(CTRL_ATTR_FAMILY_NAME);
  if (id === undefined || name === undefined) throw new Error("CTRL_CMD_GETFAMILY reply without family id or name");
  const ops = new Map<number, number>();
  // CTRL_ATTR_OPS is an array: one nest per op, typed by its position (1, 2, ...).
  for (const op of a.nest(CTRL_ATTR_OPS)?.list ?? []) {
    const o = AttrSet.parse(op.data, op.offset + NLA_HDRLEN);
    const cmd = o.u32(CTRL_ATTR_OP_ID);
    if (cmd !== undefined) ops.set(cmd, o.u32(CTRL_ATTR_OP_FLAGS) ?? 0);
  }
  const mcastGroups = new Map<string, number>();
  for (const g of a.nest(CTRL_ATTR_MCAST_GROUPS)?.list ?? []) {
    const o = AttrSet.parse(g.data);
    const gname = o.string(CTRL_ATTR_MCAST_GRP_NAME);
    const gid = o.u32(CTRL_ATTR_MCAST_GRP_ID);
    if (gname !== undefined && gid !== undefined) mcastGroups.set(gname, gid);
  }
  return {
    name,
    id,
    version: a.u32(CTRL_ATTR_VERSION) ?? 0,
    hdrSize: a.u32(CTRL_ATTR_HDRSIZE) ?? 0,
    maxAttr: a.u32(CTRL_ATTR_MAXATTR) ?? 0,
    ops,
    mcastGroups,
  };
}

/** The running kernel offers `cmd` in this family (with "do", "dump" or both). */
export function hasCmd(family: GenlFamily, cmd: number): boolean {
  return family.ops.has(cmd);
}

/** Generic netlink handle: resolves families once per socket and runs their commands. */
export class GenlClient {
  readonly nl: NetlinkClient;
  private readonly families = new Map<string, GenlFamily>();

  constructor(nl: NetlinkClient) {
    this.nl = nl;
  }

  static open(opts: { netns?: string } = {}): GenlClient {
    return new GenlClient(openNetlink(NETLINK_GENERIC, opts));
  }

  close(): void {
    this.nl.close();
  }

  /** Looks a family up by name; a kernel without it answers ENOENT. */
  family(name: string): GenlFamily {
    const cached = this.families.get(name);
    if (cached) return cached;
    const replies = this.nl.request(GENL_ID_CTRL, 0, encodeGetFamily(name), {
      op: "CTRL_CMD_GETFAMILY",
      context: name,
      headerLen: GENL_HDRLEN,
    });
    if (replies.length !== 1) throw new Error(`CTRL_CMD_GETFAMILY ${name}: expected one reply, got ${replies.length}`);
    const fam = parseFamily(replies[0]);
    this.families.set(name, fam);
    return fam;
  }

  /** A "do" command; returns the parsed replies before the ack (often exactly one). */
  request(family: GenlFamily, cmd: number, attrs: Attr[], opts: { op: string; context?: string; flags?: number }): GenlReply[] {
    return this.nl
      .request(family.id, opts.flags ?? 0, genlPayload(cmd, family.version, attrs), { ...opts, headerLen: GENL_HDRLEN })
      .map(parseGenl);
  }

  dump(family: GenlFamily, cmd: number, attrs: Attr[], opts: { op: string; context?: string }): GenlReply[] {
    return this.nl.dump(family.id, genlPayload(cmd, family.version, attrs), { ...opts, headerLen: GENL_HDRLEN }).map(parseGenl);
  }
}
