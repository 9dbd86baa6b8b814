// Persistent (multiqueue) tap devices through the tun character device. Taps cannot be
// created over rtnetlink, so creation goes through /dev/net/tun ioctls; the read-back uses
// rtnetlink (RTM_GETLINK, the tun driver's IFLA_INFO_DATA), because /sys/class/net shows
// the namespace of whoever mounted /sys, not necessarily the one we work in.
//
// What the tun driver keeps and what it does not (drivers/net/tun.c, tun_set_iff):
// - A multiqueue tap is allocated with MAX_TAP_QUEUES (256) tx/rx queues; the number of
//   queues in use is simply the number of attached file descriptors. Once our fds close,
//   a persistent tap reports numqueues 0 until QEMU attaches its own N queues
//   (`-netdev tap,queues=N`). So the queue count is not a property of the tap: changing it
//   needs no re-creation, only a QEMU started with another `queues=`; the one thing that
//   cannot change in place is multi_queue itself (TUNSETIFF refuses a mismatch: EINVAL).
// - pi / vnet_hdr are taken from the flags of the first queue attached (when nothing else
//   is attached), so re-applying with all queues detached updates them in place.
// - TUNSETOWNER/TUNSETGROUP refuse -1 (make_kuid must give a valid id): an owner can be
//   changed in place but not removed; removing it needs re-creation.
// - A tap lives in the netns of the thread that opened /dev/net/tun: call these inside
//   inNetns (they take a `netns` option that does it).
import * as libc from "./internal/libc";
import { IFNAMSIZ, IFREQ_SIZE, isValidIfname } from "./internal/ifreq";
import { KernelError } from "./errors";
import { inNetns } from "./netns";
import { AttrSet } from "./netlink/attributes";
import { NetlinkMessage } from "./netlink/codec";
import { RtNetlink } from "./netlink/rtnetlink";
import { encodeLinkGet, parseLink } from "./netlink/rtnetlink-link";
import * as U from "./netlink/rtnetlink-uapi";

// include/uapi/linux/if_tun.h (6.1 lines): TUNSETIFF _IOW('T', 202, int) :34, TUNSETPERSIST
// :35, TUNSETOWNER :36, TUNSETGROUP :38, TUNGETIFF _IOR('T', 210, unsigned int) :42.
export const TUNSETIFF = 0x400454ca;
export const TUNSETPERSIST = 0x400454cb;
export const TUNSETOWNER = 0x400454cc;
export const TUNSETGROUP = 0x400454ce;
export const TUNGETIFF = 0x800454d2;
// if_tun.h:66-81
const IFF_TUN = 0x0001;
export const IFF_TAP = 0x0002;
export const IFF_MULTI_QUEUE = 0x0100;
export const IFF_NO_PI = 0x1000;
export const IFF_VNET_HDR = 0x4000;
/** drivers/net/tun.c MAX_TAP_QUEUES (DEFAULT_MAX_NUM_RSS_QUEUES = 256). */
export const MAX_TAP_QUEUES = 256;

// include/uapi/linux/if_link.h:1333-1344 enum {IFLA_TUN_UNSPEC, IFLA_TUN_OWNER, ...}
const IFLA_TUN_OWNER = 1;
const IFLA_TUN_GROUP = 2;
const IFLA_TUN_TYPE = 3;
const IFLA_TUN_PI = 4;
const IFLA_TUN_VNET_HDR = 5;
const IFLA_TUN_PERSIST = 6;
const IFLA_TUN_MULTI_QUEUE = 7;
const IFLA_TUN_NUM_QUEUES = 8;
const IFLA_TUN_NUM_DISABLED_QUEUES = 9;

const TUN_DEVICE = "/dev/net/tun";

export interface TapSpec {
  name: string;
  /** Queues attached while creating (1..256); checks the tap takes that many. Default 1. */
  queues?: number;
  owner?: number;
  group?: number;
  /** Default true: virtio-net header, as vhost-net needs. */
  vnetHdr?: boolean;
  /** Default true. Cannot be changed on an existing tap. */
  multiQueue?: boolean;
}

/** What the kernel reports for a tun/tap device (IFLA_INFO_DATA of kind "tun"). */
export interface TunInfo {
  type: "tun" | "tap";
  pi: boolean;
  vnetHdr: boolean;
  multiQueue: boolean;
  persist: boolean;
  owner?: number;
  group?: number;
  /** Queues attached right now (open fds: QEMU's, or ours while we work). */
  attachedQueues: number;
  disabledQueues: number;
}

export interface TapState extends TunInfo {
  name: string;
  ifindex: number;
  numTxQueues?: number;
  numRxQueues?: number;
}

/** The tap exists in a form that cannot be changed in place. */
export class TapRecreateError extends Error {
  readonly tap: string;
  constructor(tap: string, reason: string) {
    super(`tap ${tap}: ${reason}; the tap must be re-created`);
    this.name = "TapRecreateError";
    this.tap = tap;
  }
}

/** A device of that name exists and is not a tap, or is in use where that matters. */
export class TapConflictError extends Error {
  readonly tap: string;
  constructor(tap: string, reason: string) {
    super(`tap ${tap}: ${reason}`);
    this.name = "TapConflictError";
    this.tap = tap;
  }
}

function checkTapName(name: string): void {
  // No '%' either: the kernel would treat "tap%d" as a template.
  if (!isValidIfname(name) || name.includes("%")) {
    throw new Error(`invalid tap name ${JSON.stringify(name)} (1-15 bytes, no '/', ':', '%' or spaces)`);
  }
}

/** struct ifreq for TUNSETIFF: ifr_name[16], then short ifr_flags at offset 16. */
export function encodeTunIfreq(name: string, flags: number): Buffer {
  checkTapName(name);
  const b = Buffer.alloc(IFREQ_SIZE);
  b.write(name, 0, IFNAMSIZ - 1, "utf8");
  b.writeUInt16LE(flags & 0xffff, 16);
  return b;
}

export function tapFlags(o: { pi?: boolean; vnetHdr?: boolean; multiQueue?: boolean }): number {
  return IFF_TAP | (o.pi ? 0 : IFF_NO_PI) | (o.vnetHdr === false ? 0 : IFF_VNET_HDR) | (o.multiQueue === false ? 0 : IFF_MULTI_QUEUE);
}

/** Decodes the tun driver's IFLA_INFO_DATA (tun_fill_info): owner/group only when set. */
function parseTunInfoData(data: AttrSet): TunInfo {
  const type = data.u8(IFLA_TUN_TYPE);
  return {
    type: type === IFF_TUN ? "tun" : "tap",
    pi: data.u8(IFLA_TUN_PI) === 1,
    vnetHdr: data.u8(IFLA_TUN_VNET_HDR) === 1,
    multiQueue: data.u8(IFLA_TUN_MULTI_QUEUE) === 1,
    persist: data.u8(IFLA_TUN_PERSIST) === 1,
    owner: data.u32(IFLA_TUN_OWNER),
    group: data.u32(IFLA_TUN_GROUP),
    attachedQueues: data.u32(IFLA_TUN_NUM_QUEUES) ?? 0,
    disabledQueues: data.u32(IFLA_TUN_NUM_DISABLED_QUEUES) ?? 0,
  };
}

/**
 * TapState from an RTM_NEWLINK message; throws TapConflictError if the link is not a tap
 * (callers holding a parsed message from the netlink module can use this directly).
 */
function tapStateFromLinkMessage(msg: NetlinkMessage): TapState {
  const link = parseLink(msg);
  if (link.kind !== "tun") throw new TapConflictError(link.name, `exists and is ${link.kind ? `a ${link.kind} device` : "not a tun/tap device"}`);
  const attrs = AttrSet.parse(msg.payload.subarray(U.IFINFOMSG_LEN));
  const data = attrs.nest(U.IFLA_LINKINFO)?.nest(U.IFLA_INFO_DATA);
  if (!data) throw new Error(`tap ${link.name}: the kernel reported no tun info data`);
  return {
    name: link.name,
    ifindex: link.ifindex,
    numTxQueues: link.numTxQueues,
    numRxQueues: link.numRxQueues,
    ...parseTunInfoData(data),
  };
}

/**
 * Reads a tap back over rtnetlink. undefined when no device has that name; throws
 * TapConflictError when the name belongs to another kind of device.
 */
export function readTap(name: string, opts: { netns?: string; rt?: RtNetlink } = {}): TapState | undefined {
  checkTapName(name);
  const rt = opts.rt ?? RtNetlink.open({ netns: opts.netns });
  try {
    const req = encodeLinkGet(name);
    let replies: NetlinkMessage[];
    try {
      replies = rt.nl.request(req.type, req.flags, req.payload, { op: "RTM_GETLINK", context: name, headerLen: req.headerLen });
    } catch (e) {
      if (e instanceof KernelError && e.code === "ENODEV") return undefined;
      throw e;
    }
    if (replies.length !== 1) throw new Error(`RTM_GETLINK ${name}: expected one reply, got ${replies.length}`);
    const state = tapStateFromLinkMessage(replies[0]);
    if (state.type !== "tap") throw new TapConflictError(name, "exists and is a tun (layer 3) device, not a tap");
    return state;
  } finally {
    if (!opts.rt) rt.close();
  }
}

/**
 * Opens /dev/net/tun `count` times and attaches each fd as a queue of `name` (creating the
 * device if absent). The caller owns the fds: closing the last one removes a tap that is
 * not persistent. Must run in the tap's netns (see inNetns).
 */
export function attachQueues(name: string, count: number, flags: number): number[] {
  const max = flags & IFF_MULTI_QUEUE ? MAX_TAP_QUEUES : 1;
  if (!Number.isInteger(count) || count < 1 || count > max) {
    throw new Error(`tap ${name}: queue count ${count} out of range 1..${max}`);
  }
  const fds: number[] = [];
  try {
    for (let i = 0; i < count; i++) {
      const fd = libc.open(TUN_DEVICE, libc.O_RDWR);
      fds.push(fd);
      const ifr = encodeTunIfreq(name, flags);
      libc.ioctl(fd, TUNSETIFF, ifr, `TUNSETIFF ${name} queue ${i}`);
      // The kernel writes the device name back; a different one would mean a template.
      const got = ifr.subarray(0, IFNAMSIZ).toString("utf8").replace(/\0.*$/s, "");
      if (got !== name) throw new Error(`TUNSETIFF attached ${got} instead of ${name}`);
    }
    return fds;
  } catch (e) {
    closeAll(fds);
    throw e;
  }
}

export function closeAll(fds: number[]): void {
  for (const fd of fds) {
    try {
      libc.close(fd);
    } catch {
      // closing is best effort: nothing useful to do with a failed close
    }
  }
}

function setOwnership(fd: number, name: string, owner: number | undefined, group: number | undefined): void {
  if (owner !== undefined) libc.ioctlValue(fd, TUNSETOWNER, checkId(owner, "owner"), `TUNSETOWNER ${name}`);
  if (group !== undefined) libc.ioctlValue(fd, TUNSETGROUP, checkId(group, "group"), `TUNSETGROUP ${name}`);
}

function checkId(id: number, what: string): number {
  // (uid_t)-1 is INVALID_UID: the kernel refuses it, so do we, with a clearer message.
  if (!Number.isInteger(id) || id < 0 || id >= 0xffffffff) throw new Error(`invalid ${what} id ${id}`);
  return id;
}

export interface ApplyTapResult {
  created: boolean;
  state: TapState;
}

/**
 * Makes the tap exist as specified, persistent: creates it, or brings an existing one to
 * the spec (owner, group, pi/vnet_hdr). Idempotent. Differences that cannot be applied in
 * place raise TapRecreateError; a non-tap device of that name raises TapConflictError.
 */
export function applyTap(spec: TapSpec, opts: { netns?: string } = {}): ApplyTapResult {
  checkTapName(spec.name);
  const multiQueue = spec.multiQueue ?? true;
  const queues = spec.queues ?? 1;
  const flags = tapFlags({ vnetHdr: spec.vnetHdr, multiQueue });
  return inNetns(opts.netns, () => {
    const existing = readTap(spec.name);
    if (existing) {
      if (existing.multiQueue !== multiQueue) {
        throw new TapRecreateError(spec.name, `multi_queue is ${existing.multiQueue ? "on" : "off"}, wanted ${multiQueue ? "on" : "off"}`);
      }
      if (spec.owner === undefined && existing.owner !== undefined) {
        throw new TapRecreateError(spec.name, `it has owner ${existing.owner} and the kernel cannot remove an owner`);
      }
      if (spec.group === undefined && existing.group !== undefined) {
        throw new TapRecreateError(spec.name, `it has group ${existing.group} and the kernel cannot remove a group`);
      }
    }
    // An existing tap may carry QEMU's queues: attach just one (enough for persist and
    // ownership) so its real queue count is not disturbed. A new one gets them all,
    // which proves it accepts that many.
    const fds = attachQueues(spec.name, existing ? 1 : queues, flags);
    try {
      libc.ioctlValue(fds[0], TUNSETPERSIST, 1, `TUNSETPERSIST ${spec.name}`);
      try {
        setOwnership(fds[0], spec.name, spec.owner, spec.group);
      } catch (e) {
        // Leave no half-made tap behind: a new tap stops being persistent and goes away
        // when the fds close.
        if (!existing) libc.ioctlValue(fds[0], TUNSETPERSIST, 0, `TUNSETPERSIST ${spec.name}`);
        throw e;
      }
    } finally {
      closeAll(fds);
    }
    const state = readTap(spec.name);
    if (!state) throw new Error(`tap ${spec.name} vanished right after it was made persistent`);
    return { created: !existing, state };
  });
}

/** Changes owner and/or group of an existing tap in place. */
export function setTapOwnership(name: string, ids: { owner?: number; group?: number }, opts: { netns?: string } = {}): TapState {
  return inNetns(opts.netns, () => {
    const cur = readTap(name);
    if (!cur) throw new TapConflictError(name, "does not exist");
    // Attach with the tap's own flags: the first attached queue sets pi/vnet_hdr.
    const fds = attachQueues(name, 1, tapFlags(cur));
    try {
      setOwnership(fds[0], name, ids.owner, ids.group);
    } finally {
      closeAll(fds);
    }
    return readTap(name)!;
  });
}

/**
 * Deletes a persistent tap: attach, clear persist, close. Returns false if it did not
 * exist. A tap with queues attached (a running VM) is refused rather than pulled away.
 */
export function deleteTap(name: string, opts: { netns?: string } = {}): boolean {
  return inNetns(opts.netns, () => {
    const cur = readTap(name);
    if (!cur) return false;
    if (cur.attachedQueues > 0) {
      throw new TapConflictError(name, `${cur.attachedQueues} queue(s) are attached (a VM is using it); stop it first`);
    }
    const fds = attachQueues(name, 1, tapFlags(cur));
    try {
      libc.ioctlValue(fds[0], TUNSETPERSIST, 0, `TUNSETPERSIST ${name}`);
    } finally {
      closeAll(fds);
    }
    if (readTap(name)) throw new TapConflictError(name, "still exists after persist was cleared (attached by another process meanwhile?)");
    return true;
  });
}
