// Link messages (RTM_NEWLINK/GETLINK/DELLINK): veth creation, get, dump, delete, in-place
// changes, and the link a reply or dump entry describes. Pure functions over bytes, tested
// byte for byte; RtNetlink (rtnetlink.ts) sends them.
import { formatMac } from "../../../common/address";
import { Attr, AttrSet, nla } from "./attributes";
import { NLMSG_HDRLEN, NetlinkMessage } from "./codec";
import { NetkitInfo, parseNetkitInfo } from "./rtnetlink-netkit";
import { LinkAttrs, LinkRef, Request, ifinfomsg, linkAttrs, linkRequest, linkTarget, newlink, peerInfo } from "./rtnetlink-request";
import * as U from "./rtnetlink-uapi";

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

export interface VethSpec extends LinkAttrs {
  name: string;
  peer: LinkAttrs & { name: string };
}

/** RTM_NEWLINK kind "veth" with IFLA_INFO_DATA { VETH_INFO_PEER }. */
export function encodeVethCreate(spec: VethSpec): Request {
  return newlink(spec, "veth", [peerInfo(U.VETH_INFO_PEER, spec.peer)]);
}

export function encodeLinkGet(ref: LinkRef): Request {
  const t = linkTarget(ref);
  return linkRequest(U.RTM_GETLINK, 0, ifinfomsg({ index: t.index }), [...t.attrs, nla.u32(U.IFLA_EXT_MASK, U.RTEXT_FILTER_SKIP_STATS)]);
}

/** Dump request; `kind` and `master` are filters the kernel applies (strict dump checking). */
export function encodeLinkDump(filter: { kind?: string; master?: number } = {}): Request {
  const attrs: Attr[] = [nla.u32(U.IFLA_EXT_MASK, U.RTEXT_FILTER_SKIP_STATS)];
  if (filter.master !== undefined) attrs.push(nla.u32(U.IFLA_MASTER, filter.master));
  if (filter.kind !== undefined) attrs.push(nla.nest(U.IFLA_LINKINFO, [nla.string(U.IFLA_INFO_KIND, filter.kind)]));
  return linkRequest(U.RTM_GETLINK, 0, ifinfomsg(), attrs);
}

export function encodeLinkDelete(ref: LinkRef): Request {
  const t = linkTarget(ref);
  return linkRequest(U.RTM_DELLINK, 0, ifinfomsg({ index: t.index }), t.attrs);
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
  const t = linkTarget(ref);
  const { up: _up, ...settings } = change;
  const attrs = [...t.attrs, ...linkAttrs(settings)];
  const flags = change.up === undefined ? 0 : change.up ? U.IFF_UP : 0;
  const mask = change.up === undefined ? 0 : U.IFF_UP;
  return linkRequest(U.RTM_NEWLINK, 0, ifinfomsg({ index: t.index, flags, change: mask }), attrs);
}

/** Parses an RTM_NEWLINK message (a GETLINK reply or dump entry). */
export function parseLink(msg: NetlinkMessage): Link {
  const p = msg.payload;
  if (p.length < U.IFINFOMSG_LEN) throw new Error(`truncated ifinfomsg (${p.length} bytes)`);
  const flags = p.readUInt32LE(8);
  const a = AttrSet.parse(p.subarray(U.IFINFOMSG_LEN), NLMSG_HDRLEN + U.IFINFOMSG_LEN);
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
    if (link.kind === "netkit" && data) link.netkit = parseNetkitInfo(data);
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
