// Link operations over rtnetlink (NETLINK_ROUTE): list/get, veth and netkit creation,
// delete, up/down, MTU, MAC, rename, netns moves and netns ids.
//
// Encoders are pure functions returning a Request (exported for byte-for-byte tests);
// RtNetlink runs them over a NetlinkClient and parses the answers.
import { KernelError } from "../errors";
import { errnoNumber } from "../internal/errno";
import * as libc from "../internal/libc";
import { netnsFd } from "../netns";
import { formatMac, parseMac } from "../../../common/address";
import { Attr, AttrSet, NLM_F_CREATE, NLM_F_EXCL, NetlinkMessage, encodeAttrs, nla } from "./codec";
import { NETLINK_ROUTE, NetlinkClient, openNetlink } from "./socket";
import * as U from "./rtnetlink-uapi";

/** A message to send: the client adds NLM_F_REQUEST and NLM_F_ACK (or NLM_F_DUMP). */
export interface Request {
  type: number;
  flags: number;
  payload: Buffer;
  /** Length of the header after nlmsghdr (to locate attributes named by extack). */
  headerLen: number;
}

/** A link by ifindex or by name. */
export type LinkRef = number | string;
/** A network namespace: a name under /run/netns, a /proc/<pid>/ns/net path, or an open fd. */
export type NetnsRef = string | { fd: number };

export type NetkitMode = "l2" | "l3";
export type NetkitPolicy = "pass" | "drop";
export type NetkitScrub = "none" | "default";
export type NetkitPairing = "pair" | "single";

export interface NetkitInfo {
  primary?: boolean;
  policy?: NetkitPolicy | number;
  peerPolicy?: NetkitPolicy | number;
  mode?: NetkitMode | number;
  scrub?: NetkitScrub | number;
  peerScrub?: NetkitScrub | number;
  headroom?: number;
  tailroom?: number;
  pairing?: NetkitPairing | number;
}

export interface Link {
  ifindex: number;
  name: string;
  /** ARPHRD_* (1 = ether). */
  hwType: number;
  flags: number;
  up: boolean;
  running: boolean;
  lowerUp: boolean;
  operstate: string;
  mtu?: number;
  minMtu?: number;
  maxMtu?: number;
  txqlen?: number;
  address?: string;
  broadcast?: string;
  permAddress?: string;
  kind?: string;
  slaveKind?: string;
  numTxQueues?: number;
  numRxQueues?: number;
  master?: number;
  /** IFLA_LINK: the veth/netkit peer's (or a lower device's) ifindex. */
  link?: number;
  /** IFLA_LINK_NETNSID: the namespace id (as seen from here) where `link` lives. */
  linkNetnsId?: number;
  xdp?: { attached: U.XdpAttached | number; progId?: number; drvProgId?: number; skbProgId?: number; hwProgId?: number };
  netkit?: NetkitInfo;
}

// ---------------------------------------------------------------------------------------
// Encoding

export function ifinfomsg(o: { family?: number; type?: number; index?: number; flags?: number; change?: number } = {}): Buffer {
  const b = Buffer.alloc(U.IFINFOMSG_LEN);
  b.writeUInt8(o.family ?? 0, 0);
  b.writeUInt16LE(o.type ?? 0, 2);
  b.writeInt32LE(o.index ?? 0, 4);
  b.writeUInt32LE((o.flags ?? 0) >>> 0, 8);
  b.writeUInt32LE((o.change ?? 0) >>> 0, 12);
  return b;
}

/** Common IFLA_* attributes of a device being created (the peer's too). */
export interface LinkAttrs {
  name?: string;
  mtu?: number;
  address?: string;
  numTxQueues?: number;
  numRxQueues?: number;
  /** IFLA_NET_NS_FD: create the device directly in that namespace. */
  netnsFd?: number;
}

function checkName(name: string): void {
  // IFNAMSIZ is 16 including the NUL; '/' and whitespace are refused by dev_valid_name.
  if (name.length === 0 || Buffer.byteLength(name) > 15 || /[/:\s]/.test(name) || name === "." || name === "..") {
    throw new Error(`invalid interface name ${JSON.stringify(name)}: 1-15 bytes, no '/', ':' or whitespace`);
  }
}

function u32Range(what: string, v: number, min: number, max: number): void {
  if (!Number.isInteger(v) || v < min || v > max) throw new Error(`${what} must be an integer in ${min}..${max}, got ${v}`);
}

export function linkAttrs(o: LinkAttrs): Attr[] {
  const out: Attr[] = [];
  if (o.name !== undefined) {
    checkName(o.name);
    out.push(nla.string(U.IFLA_IFNAME, o.name));
  }
  if (o.mtu !== undefined) {
    u32Range("mtu", o.mtu, 0, 0xffffffff);
    out.push(nla.u32(U.IFLA_MTU, o.mtu));
  }
  if (o.address !== undefined) out.push(nla.binary(U.IFLA_ADDRESS, parseMac(o.address)));
  if (o.numTxQueues !== undefined) {
    u32Range("numTxQueues", o.numTxQueues, 1, 4096);
    out.push(nla.u32(U.IFLA_NUM_TX_QUEUES, o.numTxQueues));
  }
  if (o.numRxQueues !== undefined) {
    u32Range("numRxQueues", o.numRxQueues, 1, 4096);
    out.push(nla.u32(U.IFLA_NUM_RX_QUEUES, o.numRxQueues));
  }
  if (o.netnsFd !== undefined) out.push(nla.u32(U.IFLA_NET_NS_FD, o.netnsFd));
  return out;
}

/**
 * A "peer info" attribute (VETH_INFO_PEER, IFLA_NETKIT_PEER_INFO): a struct ifinfomsg
 * followed by the peer's IFLA_* attributes. Not flagged NLA_F_NESTED: its payload is not
 * a pure attribute stream, and both policies are NLA_UNSPEC ({.len = sizeof(ifinfomsg)}).
 */
function peerInfo(type: number, peer: LinkAttrs): Attr {
  return nla.binary(type, Buffer.concat([ifinfomsg(), encodeAttrs(linkAttrs(peer))]));
}

function newlink(top: LinkAttrs, kind: string, data: Attr[]): Request {
  const info: Attr[] = [nla.string(U.IFLA_INFO_KIND, kind)];
  if (data.length > 0) info.push(nla.nest(U.IFLA_INFO_DATA, data));
  return {
    type: U.RTM_NEWLINK,
    flags: NLM_F_CREATE | NLM_F_EXCL,
    payload: Buffer.concat([ifinfomsg(), encodeAttrs([...linkAttrs(top), nla.nest(U.IFLA_LINKINFO, info)])]),
    headerLen: U.IFINFOMSG_LEN,
  };
}

export interface VethSpec extends LinkAttrs {
  name: string;
  peer: LinkAttrs & { name: string };
}

/** RTM_NEWLINK kind "veth" with IFLA_INFO_DATA { VETH_INFO_PEER }. */
export function encodeVethCreate(spec: VethSpec): Request {
  return newlink(spec, "veth", [peerInfo(U.VETH_INFO_PEER, spec.peer)]);
}

export interface NetkitLowerdevPoc {
  /** The PoC's IFLA_NETKIT_LOWERDEV number: unknown, see rtnetlink-uapi.ts. */
  attrType: number;
  ifindex: number;
  queueFrom: number;
  queueTo: number;
}

export interface NetkitSpec extends LinkAttrs {
  name: string;
  pairing?: NetkitPairing;
  mode?: NetkitMode;
  policy?: NetkitPolicy;
  peerPolicy?: NetkitPolicy;
  scrub?: NetkitScrub;
  peerScrub?: NetkitScrub;
  headroom?: number;
  tailroom?: number;
  peer?: LinkAttrs;
  /** PROOF OF CONCEPT ONLY (never upstream): bind the device to NIC queues at creation. */
  lowerDevPoc?: NetkitLowerdevPoc;
}

const POLICY = { pass: U.NETKIT_PASS, drop: U.NETKIT_DROP } as const;
const MODE = { l2: U.NETKIT_L2, l3: U.NETKIT_L3 } as const;
const SCRUB = { none: U.NETKIT_SCRUB_NONE, default: U.NETKIT_SCRUB_DEFAULT } as const;

/**
 * The PoC's IFLA_NETKIT_LOWERDEV: struct { u32 ifindex; u32 queue_id_from; u32 queue_id_to; }
 * carried as a binary attribute inside IFLA_INFO_DATA. PROOF OF CONCEPT ONLY: no upstream
 * kernel knows it (rtnetlink ignores unknown IFLA_INFO_DATA attributes, so an upstream
 * kernel would create an unbound device without complaint); the attribute number is a
 * parameter because the PoC's is unknown.
 */
export function encodeNetkitLowerdevPoc(p: NetkitLowerdevPoc): Attr {
  u32Range("lowerDevPoc.attrType", p.attrType, 1, 0x3fff);
  if (p.attrType <= U.IFLA_NETKIT_PAIRING) {
    throw new Error(`lowerDevPoc.attrType ${p.attrType} collides with an upstream IFLA_NETKIT_* attribute (1..${U.IFLA_NETKIT_PAIRING})`);
  }
  u32Range("lowerDevPoc.ifindex", p.ifindex, 1, 0x7fffffff);
  u32Range("lowerDevPoc.queueFrom", p.queueFrom, 0, 0xffffffff);
  u32Range("lowerDevPoc.queueTo", p.queueTo, p.queueFrom, 0xffffffff);
  const b = Buffer.alloc(U.NETKIT_LOWERDEV_POC_LEN);
  b.writeUInt32LE(p.ifindex, 0);
  b.writeUInt32LE(p.queueFrom, 4);
  b.writeUInt32LE(p.queueTo, 8);
  return nla.binary(p.attrType, b);
}

/** Refuses what the kernel would refuse, with a message instead of a bare EOPNOTSUPP. */
export function checkNetkitSpec(spec: NetkitSpec): void {
  const single = spec.pairing === "single";
  if (single) {
    // netkit_new_link: single mode takes no peer info, peer policy or scrub of either
    // side (not even the default), and its own policy must stay pass (no BPF program can
    // be attached to decide). The kernel says only EOPNOTSUPP, so say which here.
    const bad: string[] = [];
    if (spec.peer) bad.push("peer");
    if (spec.scrub !== undefined) bad.push("scrub");
    if (spec.peerPolicy !== undefined) bad.push("peerPolicy");
    if (spec.peerScrub !== undefined) bad.push("peerScrub");
    if (spec.policy !== undefined && spec.policy !== "pass") bad.push(`policy ${spec.policy}`);
    if (bad.length) throw new Error(`netkit single mode does not take ${bad.join(", ")}`);
  }
  if (spec.mode !== "l2" && (spec.address !== undefined || spec.peer?.address !== undefined)) {
    throw new Error("netkit takes a MAC address only in l2 mode");
  }
  if (spec.headroom !== undefined) u32Range("headroom", spec.headroom, 0, 0xffff);
  if (spec.tailroom !== undefined) u32Range("tailroom", spec.tailroom, 0, 0xffff);
}

/**
 * RTM_NEWLINK kind "netkit". IFLA_INFO_DATA carries only what was asked for, in
 * attribute order; the kernel's defaults (l3, pass, scrub default, pair) fill the rest.
 */
/**
 * Changes a netkit device's default policy in place (RTM_NEWLINK without NLM_F_CREATE,
 * IFLA_LINKINFO {kind "netkit", data {IFLA_NETKIT_POLICY}}). The policy is the only
 * setting netkit_change_link accepts on an existing device: mode, scrub and head/tailroom
 * are fixed at creation (drivers/net/netkit.c).
 */
export function encodeNetkitPolicyChange(ifindex: number, policy: NetkitPolicy): Request {
  u32Range("ifindex", ifindex, 1, 0x7fffffff);
  const info = nla.nest(U.IFLA_LINKINFO, [
    nla.string(U.IFLA_INFO_KIND, "netkit"),
    nla.nest(U.IFLA_INFO_DATA, [nla.u32(U.IFLA_NETKIT_POLICY, POLICY[policy])]),
  ]);
  return {
    type: U.RTM_NEWLINK,
    flags: 0,
    payload: Buffer.concat([ifinfomsg({ index: ifindex }), encodeAttrs([info])]),
    headerLen: U.IFINFOMSG_LEN,
  };
}

export function encodeNetkitCreate(spec: NetkitSpec): Request {
  const data: Attr[] = [];
  if (spec.peer) data.push(peerInfo(U.IFLA_NETKIT_PEER_INFO, spec.peer));
  if (spec.policy !== undefined) data.push(nla.u32(U.IFLA_NETKIT_POLICY, POLICY[spec.policy]));
  if (spec.peerPolicy !== undefined) data.push(nla.u32(U.IFLA_NETKIT_PEER_POLICY, POLICY[spec.peerPolicy]));
  if (spec.mode !== undefined) data.push(nla.u32(U.IFLA_NETKIT_MODE, MODE[spec.mode]));
  if (spec.scrub !== undefined) data.push(nla.u32(U.IFLA_NETKIT_SCRUB, SCRUB[spec.scrub]));
  if (spec.peerScrub !== undefined) data.push(nla.u32(U.IFLA_NETKIT_PEER_SCRUB, SCRUB[spec.peerScrub]));
  if (spec.headroom !== undefined) data.push(nla.u16(U.IFLA_NETKIT_HEADROOM, spec.headroom));
  if (spec.tailroom !== undefined) data.push(nla.u16(U.IFLA_NETKIT_TAILROOM, spec.tailroom));
  if (spec.pairing !== undefined) {
    data.push(nla.u32(U.IFLA_NETKIT_PAIRING, spec.pairing === "single" ? U.NETKIT_DEVICE_SINGLE : U.NETKIT_DEVICE_PAIR));
  }
  if (spec.lowerDevPoc) data.push(encodeNetkitLowerdevPoc(spec.lowerDevPoc));
  return newlink(spec, "netkit", data);
}

/** ifinfomsg index, or index 0 + IFLA_IFNAME: rtnetlink accepts either to name a device. */
function target(ref: LinkRef): { index: number; attrs: Attr[] } {
  if (typeof ref === "number") {
    u32Range("ifindex", ref, 1, 0x7fffffff);
    return { index: ref, attrs: [] };
  }
  checkName(ref);
  return { index: 0, attrs: [nla.string(U.IFLA_IFNAME, ref)] };
}

export function encodeLinkGet(ref: LinkRef): Request {
  const t = target(ref);
  return {
    type: U.RTM_GETLINK,
    flags: 0,
    payload: Buffer.concat([ifinfomsg({ index: t.index }), encodeAttrs([...t.attrs, nla.u32(U.IFLA_EXT_MASK, U.RTEXT_FILTER_SKIP_STATS)])]),
    headerLen: U.IFINFOMSG_LEN,
  };
}

/** Dump request; `kind` and `master` are filters the kernel applies (strict dump checking). */
export function encodeLinkDump(filter: { kind?: string; master?: number } = {}): Request {
  const attrs: Attr[] = [nla.u32(U.IFLA_EXT_MASK, U.RTEXT_FILTER_SKIP_STATS)];
  if (filter.master !== undefined) attrs.push(nla.u32(U.IFLA_MASTER, filter.master));
  if (filter.kind !== undefined) attrs.push(nla.nest(U.IFLA_LINKINFO, [nla.string(U.IFLA_INFO_KIND, filter.kind)]));
  return { type: U.RTM_GETLINK, flags: 0, payload: Buffer.concat([ifinfomsg(), encodeAttrs(attrs)]), headerLen: U.IFINFOMSG_LEN };
}

export function encodeLinkDelete(ref: LinkRef): Request {
  const t = target(ref);
  return {
    type: U.RTM_DELLINK,
    flags: 0,
    payload: Buffer.concat([ifinfomsg({ index: t.index }), encodeAttrs(t.attrs)]),
    headerLen: U.IFINFOMSG_LEN,
  };
}

export interface LinkChange {
  up?: boolean;
  mtu?: number;
  address?: string;
  /** New name: needs the device by ifindex (a name in IFLA_IFNAME would select, not rename). */
  name?: string;
  netnsFd?: number;
}

/** RTM_NEWLINK without NLM_F_CREATE: changes an existing device (what `ip link set` sends). */
export function encodeLinkChange(ref: LinkRef, change: LinkChange): Request {
  if (change.name !== undefined && typeof ref !== "number") throw new Error("renaming needs the device's ifindex");
  const t = target(ref);
  const attrs = [...t.attrs];
  if (change.name !== undefined) {
    checkName(change.name);
    attrs.push(nla.string(U.IFLA_IFNAME, change.name));
  }
  if (change.mtu !== undefined) {
    u32Range("mtu", change.mtu, 0, 0xffffffff);
    attrs.push(nla.u32(U.IFLA_MTU, change.mtu));
  }
  if (change.address !== undefined) attrs.push(nla.binary(U.IFLA_ADDRESS, parseMac(change.address)));
  if (change.netnsFd !== undefined) attrs.push(nla.u32(U.IFLA_NET_NS_FD, change.netnsFd));
  const flags = change.up === undefined ? 0 : change.up ? U.IFF_UP : 0;
  const mask = change.up === undefined ? 0 : U.IFF_UP;
  return {
    type: U.RTM_NEWLINK,
    flags: 0,
    payload: Buffer.concat([ifinfomsg({ index: t.index, flags, change: mask }), encodeAttrs(attrs)]),
    headerLen: U.IFINFOMSG_LEN,
  };
}

/** RTM_GETNSID: the id this namespace gives to the one behind `fd` (rtgenmsg + NETNSA_FD). */
export function encodeNetnsIdGet(fd: number): Request {
  return {
    type: U.RTM_GETNSID,
    flags: 0,
    payload: Buffer.concat([Buffer.alloc(U.RTGENMSG_LEN), encodeAttrs([nla.u32(U.NETNSA_FD, fd)])]),
    headerLen: U.RTGENMSG_LEN,
  };
}

/** RTM_NEWNSID: assign `nsid` (-1: let the kernel pick) to the namespace behind `fd`. */
export function encodeNetnsIdSet(fd: number, nsid = U.NETNSA_NSID_NOT_ASSIGNED): Request {
  return {
    type: U.RTM_NEWNSID,
    flags: 0,
    payload: Buffer.concat([Buffer.alloc(U.RTGENMSG_LEN), encodeAttrs([nla.u32(U.NETNSA_FD, fd), nla.s32(U.NETNSA_NSID, nsid)])]),
    headerLen: U.RTGENMSG_LEN,
  };
}

// ---------------------------------------------------------------------------------------
// Decoding

function named<T extends string>(names: Record<T, number>, v: number | undefined): T | number | undefined {
  if (v === undefined) return undefined;
  const hit = (Object.keys(names) as T[]).find((k) => names[k] === v);
  return hit ?? v;
}

function parseNetkit(data: AttrSet): NetkitInfo {
  const primary = data.u8(U.IFLA_NETKIT_PRIMARY);
  const pairing = data.u32(U.IFLA_NETKIT_PAIRING);
  return {
    primary: primary === undefined ? undefined : primary !== 0,
    policy: named(POLICY, data.u32(U.IFLA_NETKIT_POLICY)),
    peerPolicy: named(POLICY, data.u32(U.IFLA_NETKIT_PEER_POLICY)),
    mode: named(MODE, data.u32(U.IFLA_NETKIT_MODE)),
    scrub: named(SCRUB, data.u32(U.IFLA_NETKIT_SCRUB)),
    peerScrub: named(SCRUB, data.u32(U.IFLA_NETKIT_PEER_SCRUB)),
    headroom: data.u16(U.IFLA_NETKIT_HEADROOM),
    tailroom: data.u16(U.IFLA_NETKIT_TAILROOM),
    pairing: named({ pair: U.NETKIT_DEVICE_PAIR, single: U.NETKIT_DEVICE_SINGLE }, pairing),
  };
}

/** Parses an RTM_NEWLINK message (a GETLINK reply or dump entry). */
export function parseLink(msg: NetlinkMessage): Link {
  const p = msg.payload;
  if (p.length < U.IFINFOMSG_LEN) throw new Error(`truncated ifinfomsg (${p.length} bytes)`);
  const flags = p.readUInt32LE(8);
  const a = AttrSet.parse(p.subarray(U.IFINFOMSG_LEN), 16 + U.IFINFOMSG_LEN);
  const mac = (t: number) => {
    const b = a.binary(t);
    return b && b.length > 0 ? formatMac(b) : undefined;
  };
  const link: Link = {
    ifindex: p.readInt32LE(4),
    name: a.string(U.IFLA_IFNAME) ?? "",
    hwType: p.readUInt16LE(2),
    flags,
    up: (flags & U.IFF_UP) !== 0,
    running: (flags & U.IFF_RUNNING) !== 0,
    lowerUp: (flags & U.IFF_LOWER_UP) !== 0,
    operstate: U.OPERSTATES[a.u8(U.IFLA_OPERSTATE) ?? 0] ?? "unknown",
    mtu: a.u32(U.IFLA_MTU),
    minMtu: a.u32(U.IFLA_MIN_MTU),
    maxMtu: a.u32(U.IFLA_MAX_MTU),
    txqlen: a.u32(U.IFLA_TXQLEN),
    address: mac(U.IFLA_ADDRESS),
    broadcast: mac(U.IFLA_BROADCAST),
    permAddress: mac(U.IFLA_PERM_ADDRESS),
    numTxQueues: a.u32(U.IFLA_NUM_TX_QUEUES),
    numRxQueues: a.u32(U.IFLA_NUM_RX_QUEUES),
    master: a.u32(U.IFLA_MASTER),
    link: a.u32(U.IFLA_LINK),
    linkNetnsId: a.s32(U.IFLA_LINK_NETNSID),
  };
  const info = a.nest(U.IFLA_LINKINFO);
  if (info) {
    link.kind = info.string(U.IFLA_INFO_KIND);
    link.slaveKind = info.string(U.IFLA_INFO_SLAVE_KIND);
    const data = info.nest(U.IFLA_INFO_DATA);
    if (link.kind === "netkit" && data) link.netkit = parseNetkit(data);
  }
  const xdp = a.nest(U.IFLA_XDP);
  if (xdp) {
    const attached = xdp.u8(U.IFLA_XDP_ATTACHED) ?? 0;
    link.xdp = {
      attached: U.XDP_ATTACHED[attached] ?? attached,
      progId: xdp.u32(U.IFLA_XDP_PROG_ID),
      drvProgId: xdp.u32(U.IFLA_XDP_DRV_PROG_ID),
      skbProgId: xdp.u32(U.IFLA_XDP_SKB_PROG_ID),
      hwProgId: xdp.u32(U.IFLA_XDP_HW_PROG_ID),
    };
  }
  return link;
}

/** The kernel has no such link type compiled in or loadable (e.g. netkit on this kernel). */
export function isKindNotSupported(e: unknown): boolean {
  return e instanceof KernelError && e.code === "EOPNOTSUPP" && /unknown device type/i.test(e.kernelMessage ?? "");
}

// ---------------------------------------------------------------------------------------
// Operations

/** Runs fn with an fd for `ns`; fds we opened are closed afterwards. */
function withNetnsFd<T>(ns: NetnsRef | undefined, fn: (fd: number | undefined) => T): T {
  if (ns === undefined) return fn(undefined);
  if (typeof ns !== "string") return fn(ns.fd);
  const fd = netnsFd(ns);
  try {
    return fn(fd);
  } finally {
    libc.close(fd);
  }
}

export interface VethOptions extends Omit<LinkAttrs, "netnsFd"> {
  name: string;
  netns?: NetnsRef;
  peer: Omit<LinkAttrs, "netnsFd"> & { name: string; netns?: NetnsRef };
}

export interface NetkitOptions extends Omit<NetkitSpec, "netnsFd" | "peer"> {
  netns?: NetnsRef;
  peer?: Omit<LinkAttrs, "netnsFd"> & { netns?: NetnsRef };
}

/** rtnetlink handle bound to the namespace its socket was opened in. */
export class RtNetlink {
  readonly nl: NetlinkClient;

  constructor(nl: NetlinkClient) {
    this.nl = nl;
  }

  static open(opts: { netns?: string } = {}): RtNetlink {
    return new RtNetlink(openNetlink(NETLINK_ROUTE, opts));
  }

  close(): void {
    this.nl.close();
  }

  private run(req: Request, op: string, context?: string): NetlinkMessage[] {
    return this.nl.request(req.type, req.flags, req.payload, { op, context, headerLen: req.headerLen });
  }

  listLinks(filter: { kind?: string; master?: number } = {}): Link[] {
    const req = encodeLinkDump(filter);
    return this.nl.dump(req.type, req.payload, { op: "RTM_GETLINK dump", headerLen: req.headerLen }).map(parseLink);
  }

  /** Throws NetlinkError ENODEV when the link does not exist. */
  getLink(ref: LinkRef): Link {
    const replies = this.run(encodeLinkGet(ref), "RTM_GETLINK", String(ref));
    if (replies.length !== 1) throw new Error(`RTM_GETLINK ${ref}: expected one reply, got ${replies.length}`);
    return parseLink(replies[0]);
  }

  findLink(ref: LinkRef): Link | undefined {
    try {
      return this.getLink(ref);
    } catch (e) {
      if (e instanceof KernelError && e.code === "ENODEV") return undefined;
      throw e;
    }
  }

  /** Creates a veth pair; returns the first end as read back, unless it was created elsewhere. */
  createVeth(o: VethOptions): Link | undefined {
    const { netns, peer, ...top } = o;
    const { netns: peerNetns, ...peerAttrs } = peer;
    withNetnsFd(netns, (fd) =>
      withNetnsFd(peerNetns, (peerFd) => {
        this.run(encodeVethCreate({ ...top, netnsFd: fd, peer: { ...peerAttrs, netnsFd: peerFd } }), "RTM_NEWLINK veth", o.name);
      }),
    );
    return netns === undefined ? this.getLink(o.name) : undefined;
  }

  /**
   * Creates a netkit pair or single device. When the primary stays in this namespace the
   * result is read back and checked: a kernel older than the requested feature ignores
   * unknown IFLA_NETKIT_* attributes, so "single" on a pre-7.1 kernel would otherwise
   * silently make a pair.
   */
  createNetkit(o: NetkitOptions): Link | undefined {
    const { netns, peer, ...rest } = o;
    let peerBase: LinkAttrs | undefined;
    if (peer) {
      const { netns: _peerNetns, ...p } = peer;
      peerBase = p;
    }
    checkNetkitSpec({ ...rest, peer: peerBase });
    withNetnsFd(netns, (fd) =>
      withNetnsFd(peer?.netns, (peerFd) => {
        const req = encodeNetkitCreate({ ...rest, netnsFd: fd, peer: peerBase ? { ...peerBase, netnsFd: peerFd } : undefined });
        this.run(req, "RTM_NEWLINK netkit", o.name);
      }),
    );
    if (netns !== undefined) return undefined;
    const link = this.getLink(o.name);
    if (o.pairing === "single" && link.netkit?.pairing !== "single") {
      this.deleteLink(link.ifindex);
      throw new KernelError("RTM_NEWLINK netkit", errnoNumber("EOPNOTSUPP"), "this kernel does not know netkit single mode (IFLA_NETKIT_PAIRING, Linux 7.1)", o.name);
    }
    return link;
  }

  deleteLink(ref: LinkRef): void {
    this.run(encodeLinkDelete(ref), "RTM_DELLINK", String(ref));
  }

  setLink(ref: LinkRef, change: Omit<LinkChange, "netnsFd">): void {
    this.run(encodeLinkChange(ref, change), "RTM_NEWLINK set", String(ref));
  }
  setNetkitPolicy(ifindex: number, policy: NetkitPolicy): void {
    this.run(encodeNetkitPolicyChange(ifindex, policy), "RTM_NEWLINK netkit policy", String(ifindex));
  }
  setUp(ref: LinkRef): void {
    this.setLink(ref, { up: true });
  }
  setDown(ref: LinkRef): void {
    this.setLink(ref, { up: false });
  }
  setMtu(ref: LinkRef, mtu: number): void {
    this.setLink(ref, { mtu });
  }
  setAddress(ref: LinkRef, address: string): void {
    this.setLink(ref, { address });
  }
  setName(ref: LinkRef, name: string): void {
    const index = typeof ref === "number" ? ref : this.getLink(ref).ifindex;
    this.setLink(index, { name });
  }

  /** Moves a device to another namespace (IFLA_NET_NS_FD), optionally renaming it there. */
  moveToNetns(ref: LinkRef, netns: NetnsRef, newName?: string): void {
    const index = newName !== undefined && typeof ref !== "number" ? this.getLink(ref).ifindex : ref;
    withNetnsFd(netns, (fd) => {
      this.run(encodeLinkChange(index, { netnsFd: fd, name: newName }), "RTM_NEWLINK netns", String(ref));
    });
  }

  /** The id this namespace knows `netns` by, or undefined when none is assigned. */
  getNetnsId(netns: NetnsRef): number | undefined {
    return withNetnsFd(netns, (fd) => {
      const replies = this.run(encodeNetnsIdGet(fd as number), "RTM_GETNSID", typeof netns === "string" ? netns : undefined);
      const id = replies.length ? AttrSet.parse(replies[0].payload.subarray(U.RTGENMSG_LEN)).s32(U.NETNSA_NSID) : undefined;
      return id === undefined || id < 0 ? undefined : id;
    });
  }

  /** Like getNetnsId, assigning one first when there is none. */
  ensureNetnsId(netns: NetnsRef): number {
    const have = this.getNetnsId(netns);
    if (have !== undefined) return have;
    withNetnsFd(netns, (fd) => {
      this.run(encodeNetnsIdSet(fd as number), "RTM_NEWNSID", typeof netns === "string" ? netns : undefined);
    });
    const id = this.getNetnsId(netns);
    if (id === undefined) throw new Error("RTM_NEWNSID succeeded but no id is assigned");
    return id;
  }
}
