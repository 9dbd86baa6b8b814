// Namespace-id messages (RTM_GETNSID/NEWNSID): the id this namespace gives another one,
// which IFLA_LINK_NETNSID and the netdev family's lease netns-id refer to. Pure functions
// over bytes.
import { Attr, AttrSet, encodeAttrs, nla } from "./attributes";
import { NetlinkMessage } from "./codec";
import { Request } from "./rtnetlink-request";
import * as U from "./rtnetlink-uapi";

function nsidRequest(type: number, attrs: Attr[]): Request {
  return { type, flags: 0, payload: Buffer.concat([Buffer.alloc(U.RTGENMSG_LEN), encodeAttrs(attrs)]), headerLen: U.RTGENMSG_LEN };
}

/** RTM_GETNSID: the id this namespace gives to the one behind `fd` (rtgenmsg + NETNSA_FD). */
export function encodeNetnsIdGet(fd: number): Request {
  return nsidRequest(U.RTM_GETNSID, [nla.u32(U.NETNSA_FD, fd)]);
}

/** RTM_NEWNSID: assign `nsid` (-1: let the kernel pick) to the namespace behind `fd`. */
export function encodeNetnsIdSet(fd: number, nsid = U.NETNSA_NSID_NOT_ASSIGNED): Request {
  return nsidRequest(U.RTM_NEWNSID, [nla.u32(U.NETNSA_FD, fd), nla.s32(U.NETNSA_NSID, nsid)]);
}

/** The id an RTM_GETNSID reply carries; undefined when the namespace has none. */
export function parseNetnsId(msg: NetlinkMessage): number | undefined {
  const id = AttrSet.parse(msg.payload.subarray(U.RTGENMSG_LEN)).s32(U.NETNSA_NSID);
  return id === undefined || id < 0 ? undefined : id;
}
