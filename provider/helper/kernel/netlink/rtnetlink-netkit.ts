// netkit devices over rtnetlink: the creation request (pair or single device), the one
// setting that changes in place (the default policy), what the kernel would refuse, and
// the IFLA_INFO_DATA a dump reports. Pure functions over bytes.
//
// Numbers: the upstream if_link.h netkit block (see rtnetlink-uapi.ts).
import { Attr, AttrSet, nla } from "./attributes";
import { LinkAttrs, Request, ifinfomsg, linkRequest, newlink, peerInfo, u32Range } from "./rtnetlink-request";
import * as U from "./rtnetlink-uapi";

export type NetkitMode = "l2" | "l3";
export type NetkitPolicy = "pass" | "drop";
export type NetkitScrub = "none" | "default";
export type NetkitPairing = "pair" | "single";

/** What a dump reports of a netkit device; numbers this code has no name for stay numbers. */
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
const PAIRING = { pair: U.NETKIT_DEVICE_PAIR, single: U.NETKIT_DEVICE_SINGLE } as const;

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
  return linkRequest(U.RTM_NEWLINK, 0, ifinfomsg({ index: ifindex }), [info]);
}

/**
 * RTM_NEWLINK kind "netkit". IFLA_INFO_DATA carries only what was asked for, in
 * attribute order; the kernel's defaults (l3, pass, scrub default, pair) fill the rest.
 */
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
  if (spec.pairing !== undefined) data.push(nla.u32(U.IFLA_NETKIT_PAIRING, PAIRING[spec.pairing]));
  if (spec.lowerDevPoc) data.push(encodeNetkitLowerdevPoc(spec.lowerDevPoc));
  return newlink(spec, "netkit", data);
}

function named<T extends string>(names: Record<T, number>, v: number | undefined): T | number | undefined {
  if (v === undefined) return undefined;
  const hit = (Object.keys(names) as T[]).find((k) => names[k] === v);
  return hit ?? v;
}

/** netkit's IFLA_INFO_DATA as a dump reports it (netkit_fill_info). */
export function parseNetkitInfo(data: AttrSet): NetkitInfo {
  const primary = data.u8(U.IFLA_NETKIT_PRIMARY);
  return {
    primary: primary === undefined ? undefined : primary !== 0,
    policy: named(POLICY, data.u32(U.IFLA_NETKIT_POLICY)),
    peerPolicy: named(POLICY, data.u32(U.IFLA_NETKIT_PEER_POLICY)),
    mode: named(MODE, data.u32(U.IFLA_NETKIT_MODE)),
    scrub: named(SCRUB, data.u32(U.IFLA_NETKIT_SCRUB)),
    peerScrub: named(SCRUB, data.u32(U.IFLA_NETKIT_PEER_SCRUB)),
    headroom: data.u16(U.IFLA_NETKIT_HEADROOM),
    tailroom: data.u16(U.IFLA_NETKIT_TAILROOM),
    pairing: named(PAIRING, data.u32(U.IFLA_NETKIT_PAIRING)),
  };
}
