// What every RTM_*LINK request is built from: the struct ifinfomsg header, the device
// attributes (IFLA_*) a created device and its peer take, and the device a request names.
// Pure functions over bytes (encoders only); the link, netkit and namespace-id messages
// build on them.
import { checkIfname } from "../internal/ifreq";
import { parseMac } from "../../../common/address";
import { Attr, encodeAttrs, nla } from "./attributes";
import { NLM_F_CREATE, NLM_F_EXCL } from "./codec";
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

export function ifinfomsg(o: { family?: number; type?: number; index?: number; flags?: number; change?: number } = {}): Buffer {
  const b = Buffer.alloc(U.IFINFOMSG_LEN);
  b.writeUInt8(o.family ?? 0, 0);
  b.writeUInt16LE(o.type ?? 0, 2);
  b.writeInt32LE(o.index ?? 0, 4);
  b.writeUInt32LE((o.flags ?? 0) >>> 0, 8);
  b.writeUInt32LE((o.change ?? 0) >>> 0, 12);
  return b;
}

/** A request whose family header is a struct ifinfomsg. */
export function linkRequest(type: number, flags: number, header: Buffer, attrs: Attr[]): Request {
  return { type, flags, payload: Buffer.concat([header, encodeAttrs(attrs)]), headerLen: U.IFINFOMSG_LEN };
}

export function u32Range(what: string, v: number, min: number, max: number): void {
  if (!Number.isInteger(v) || v < min || v > max) throw new Error(`${what} must be an integer in ${min}..${max}, got ${v}`);
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

/** The IFLA_* attributes of `o`, in the order `ip link` sends them. */
export function linkAttrs(o: LinkAttrs): Attr[] {
  const out: Attr[] = [];
  if (o.name !== undefined) {
    checkIfname(o.name);
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
export function peerInfo(type: number, peer: LinkAttrs): Attr {
  return nla.binary(type, Buffer.concat([ifinfomsg(), encodeAttrs(linkAttrs(peer))]));
}

/** RTM_NEWLINK creating a device of `kind`, with its kind-specific IFLA_INFO_DATA. */
export function newlink(top: LinkAttrs, kind: string, data: Attr[]): Request {
  const info: Attr[] = [nla.string(U.IFLA_INFO_KIND, kind)];
  if (data.length > 0) info.push(nla.nest(U.IFLA_INFO_DATA, data));
  return linkRequest(U.RTM_NEWLINK, NLM_F_CREATE | NLM_F_EXCL, ifinfomsg(), [...linkAttrs(top), nla.nest(U.IFLA_LINKINFO, info)]);
}

/** ifinfomsg index, or index 0 + IFLA_IFNAME: rtnetlink accepts either to name a device. */
export function linkTarget(ref: LinkRef): { index: number; attrs: Attr[] } {
  if (typeof ref === "number") {
    u32Range("ifindex", ref, 1, 0x7fffffff);
    return { index: ref, attrs: [] };
  }
  checkIfname(ref);
  return { index: 0, attrs: [nla.string(U.IFLA_IFNAME, ref)] };
}
