// The "netdev" generic netlink family: device XDP features, queues, and the queue lease
// (queue-create) that binds a netkit rx queue to a physical NIC queue.
//
// Numbers come from Documentation/netlink/specs/netdev.yaml and the header generated from
// it, include/uapi/linux/netdev.h (values are positions in the YAML lists, from 1):
//   attribute-set dev:   ifindex 1, pad 2, xdp-features 3 (u64), xdp-zc-max-segs 4,
//                        xdp-rx-metadata-features 5 (u64), xsk-features 6 (u64)
//   attribute-set queue: id 1, ifindex 2, type 3, napi-id 4, dmabuf 5, io-uring 6 (nest),
//                        xsk 7 (nest), lease 8 (nest) — lease added by "net: Add
//                        queue-create operation" (Message-ID
//                        <20260115082603.219152-2-daniel@iogearbox.net>, v7 of the series
//                        <20260115082603.219152-1-daniel@iogearbox.net>, Linux 7.1)
//   attribute-set lease: ifindex 1 (u32, min 1), queue 2 (nest: queue-id), netns-id 3 (s32)
//   attribute-set queue-id: subset-of queue → id 1, type 3
//   enum queue-type: rx 0, tx 1
//   operations: dev-get 1, ..., queue-get 10, napi-get 11, qstats-get 12, bind-rx 13,
//               napi-set 14, bind-tx 15, queue-create 16 (admin-perm, do only)
import { KernelError } from "../errors";
import { errnoNumber } from "../internal/errno";
import { Attr, AttrSet, nla } from "./attributes";
import { GenlClient, GenlFamily, GenlReply, hasCmd } from "./genetlink";

export const NETDEV_FAMILY_NAME = "netdev";
export const NETDEV_FAMILY_VERSION = 1;

export const NETDEV_CMD = {
  "dev-get": 1,
  "dev-add-ntf": 2,
  "dev-del-ntf": 3,
  "dev-change-ntf": 4,
  "page-pool-get": 5,
  "page-pool-add-ntf": 6,
  "page-pool-del-ntf": 7,
  "page-pool-change-ntf": 8,
  "page-pool-stats-get": 9,
  "queue-get": 10,
  "napi-get": 11,
  "qstats-get": 12,
  "bind-rx": 13,
  "napi-set": 14,
  "bind-tx": 15,
  "queue-create": 16,
} as const;
export type NetdevOp = keyof typeof NETDEV_CMD;

const NETDEV_A_DEV_IFINDEX = 1;
const NETDEV_A_DEV_XDP_FEATURES = 3;
const NETDEV_A_DEV_XDP_ZC_MAX_SEGS = 4;
const NETDEV_A_DEV_XDP_RX_METADATA_FEATURES = 5;
const NETDEV_A_DEV_XSK_FEATURES = 6;

export const NETDEV_A_QUEUE_ID = 1;
export const NETDEV_A_QUEUE_IFINDEX = 2;
export const NETDEV_A_QUEUE_TYPE = 3;
const NETDEV_A_QUEUE_NAPI_ID = 4;
const NETDEV_A_QUEUE_DMABUF = 5;
const NETDEV_A_QUEUE_IO_URING = 6;
const NETDEV_A_QUEUE_XSK = 7;
export const NETDEV_A_QUEUE_LEASE = 8;

export const NETDEV_A_LEASE_IFINDEX = 1;
export const NETDEV_A_LEASE_QUEUE = 2;
export const NETDEV_A_LEASE_NETNS_ID = 3;

export const NETDEV_QUEUE_TYPE_RX = 0;
export const NETDEV_QUEUE_TYPE_TX = 1;
export type QueueType = "rx" | "tx";
const QTYPE = { rx: NETDEV_QUEUE_TYPE_RX, tx: NETDEV_QUEUE_TYPE_TX } as const;

// enum netdev_xdp_act / netdev_xdp_rx_metadata / netdev_xsk_flags: bit i ↔ YAML entry i.
const XDP_ACT_FLAGS = ["basic", "redirect", "ndo-xmit", "xsk-zerocopy", "hw-offload", "rx-sg", "ndo-xmit-sg"] as const;
const XDP_RX_METADATA_FLAGS = ["timestamp", "hash", "vlan-tag"] as const;
const XSK_FLAGS = ["tx-timestamp", "tx-checksum", "tx-launch-time-fifo"] as const;

/** Bit names of a flags value; unknown bits come back as "bit-N" so nothing is hidden. */
function flagNames(value: bigint, names: readonly string[]): string[] {
  const out: string[] = [];
  for (let i = 0; i < 64; i++) {
    if (value & (1n << BigInt(i))) out.push(names[i] ?? `bit-${i}`);
  }
  return out;
}

/** The running kernel's netdev family offers the operation (e.g. "queue-create", 7.1+). */
export function hasOp(family: GenlFamily, name: NetdevOp): boolean {
  return hasCmd(family, NETDEV_CMD[name]);
}

export interface NetdevDev {
  ifindex: number;
  xdpFeatures: string[];
  xdpFeaturesRaw: bigint;
  xdpZcMaxSegs?: number;
  xdpRxMetadataFeatures: string[];
  xskFeatures: string[];
}

export interface QueueLease {
  ifindex: number;
  queue: { id: number; type: QueueType | number };
  netnsId?: number;
}

export interface NetdevQueue {
  ifindex: number;
  id: number;
  type: QueueType | number;
  napiId?: number;
  dmabuf?: number;
  ioUring: boolean;
  xsk: boolean;
  lease?: QueueLease;
}

export interface QueueCreateRequest {
  /** The virtual device (netkit) that gets the new queue. */
  ifindex: number;
  type: "rx";
  lease: {
    /** The physical NIC whose queue is leased. */
    ifindex: number;
    queue: { id: number; type: "rx" };
    /** Only reported by queue-get; the kernel refuses it in requests (EINVAL). */
    netnsId?: number;
  };
}

function u32In(what: string, v: number, min = 0): void {
  if (!Number.isInteger(v) || v < min || v > 0xffffffff) throw new Error(`${what} must be an integer in ${min}..4294967295, got ${v}`);
}

/** Attributes of queue-create: {ifindex, type, lease {ifindex, queue {id, type}, netns-id?}}. */
export function queueCreateAttrs(req: QueueCreateRequest): Attr[] {
  u32In("ifindex", req.ifindex, 1);
  u32In("lease.ifindex", req.lease.ifindex, 1);
  u32In("lease.queue.id", req.lease.queue.id);
  const lease: Attr[] = [
    nla.u32(NETDEV_A_LEASE_IFINDEX, req.lease.ifindex),
    nla.nest(NETDEV_A_LEASE_QUEUE, [
      nla.u32(NETDEV_A_QUEUE_ID, req.lease.queue.id),
      nla.u32(NETDEV_A_QUEUE_TYPE, QTYPE[req.lease.queue.type]),
    ]),
  ];
  if (req.lease.netnsId !== undefined) lease.push(nla.s32(NETDEV_A_LEASE_NETNS_ID, req.lease.netnsId));
  return [
    nla.u32(NETDEV_A_QUEUE_IFINDEX, req.ifindex),
    nla.u32(NETDEV_A_QUEUE_TYPE, QTYPE[req.type]),
    nla.nest(NETDEV_A_QUEUE_LEASE, lease),
  ];
}

function qtype(v: number | undefined): QueueType | number {
  if (v === NETDEV_QUEUE_TYPE_RX) return "rx";
  if (v === NETDEV_QUEUE_TYPE_TX) return "tx";
  return v ?? -1;
}

function parseDev(r: GenlReply): NetdevDev {
  const a = r.attrs;
  const xdp = a.u64(NETDEV_A_DEV_XDP_FEATURES) ?? 0n;
  return {
    ifindex: a.u32(NETDEV_A_DEV_IFINDEX) ?? 0,
    xdpFeatures: flagNames(xdp, XDP_ACT_FLAGS),
    xdpFeaturesRaw: xdp,
    xdpZcMaxSegs: a.u32(NETDEV_A_DEV_XDP_ZC_MAX_SEGS),
    xdpRxMetadataFeatures: flagNames(a.u64(NETDEV_A_DEV_XDP_RX_METADATA_FEATURES) ?? 0n, XDP_RX_METADATA_FLAGS),
    xskFeatures: flagNames(a.u64(NETDEV_A_DEV_XSK_FEATURES) ?? 0n, XSK_FLAGS),
  };
}

function parseLease(l: AttrSet): QueueLease {
  const q = l.nest(NETDEV_A_LEASE_QUEUE);
  return {
    ifindex: l.u32(NETDEV_A_LEASE_IFINDEX) ?? 0,
    queue: { id: q?.u32(NETDEV_A_QUEUE_ID) ?? -1, type: qtype(q?.u32(NETDEV_A_QUEUE_TYPE)) },
    netnsId: l.s32(NETDEV_A_LEASE_NETNS_ID),
  };
}

function parseQueue(r: GenlReply): NetdevQueue {
  const a = r.attrs;
  const lease = a.nest(NETDEV_A_QUEUE_LEASE);
  return {
    ifindex: a.u32(NETDEV_A_QUEUE_IFINDEX) ?? 0,
    id: a.u32(NETDEV_A_QUEUE_ID) ?? -1,
    type: qtype(a.u32(NETDEV_A_QUEUE_TYPE)),
    napiId: a.u32(NETDEV_A_QUEUE_NAPI_ID),
    dmabuf: a.u32(NETDEV_A_QUEUE_DMABUF),
    ioUring: a.has(NETDEV_A_QUEUE_IO_URING),
    xsk: a.has(NETDEV_A_QUEUE_XSK),
    lease: lease ? parseLease(lease) : undefined,
  };
}

/** netdev family operations over a GenlClient (socket in the namespace of the devices). */
export class NetdevGenl {
  readonly genl: GenlClient;
  readonly family: GenlFamily;

  constructor(genl: GenlClient) {
    this.genl = genl;
    this.family = genl.family(NETDEV_FAMILY_NAME);
  }

  hasOp(name: NetdevOp): boolean {
    return hasOp(this.family, name);
  }

  devGet(ifindex: number): NetdevDev {
    const r = this.genl.request(this.family, NETDEV_CMD["dev-get"], [nla.u32(NETDEV_A_DEV_IFINDEX, ifindex)], {
      op: "netdev dev-get",
      context: `ifindex ${ifindex}`,
    });
    return parseDev(r[0]);
  }

  devDump(): NetdevDev[] {
    return this.genl.dump(this.family, NETDEV_CMD["dev-get"], [], { op: "netdev dev-get dump" }).map(parseDev);
  }

  /** One queue; the kernel answers ENOENT while the device is down. */
  queueGet(ifindex: number, type: QueueType, id: number): NetdevQueue {
    const r = this.genl.request(
      this.family,
      NETDEV_CMD["queue-get"],
      [nla.u32(NETDEV_A_QUEUE_IFINDEX, ifindex), nla.u32(NETDEV_A_QUEUE_TYPE, QTYPE[type]), nla.u32(NETDEV_A_QUEUE_ID, id)],
      { op: "netdev queue-get", context: `ifindex ${ifindex} ${type} ${id}` },
    );
    return parseQueue(r[0]);
  }

  /**
   * Every queue of the devices that are up (or of one device). A leased NIC rx queue
   * carries `lease` naming the netkit device and queue that own it (netns-id when that
   * device lives in another namespace); the netkit side reports no lease.
   */
  queueDump(ifindex?: number): NetdevQueue[] {
    const attrs = ifindex === undefined ? [] : [nla.u32(NETDEV_A_QUEUE_IFINDEX, ifindex)];
    return this.genl.dump(this.family, NETDEV_CMD["queue-get"], attrs, { op: "netdev queue-get dump" }).map(parseQueue);
  }

  /**
   * Leases a NIC rx queue to a new rx queue of a netkit device; returns the new queue's id
   * (queue 0 is netkit's own, so leases start at 1). There is no unlease: the lease ends
   * when the netkit device is deleted or the NIC unregisters.
   */
  queueCreate(req: QueueCreateRequest): number {
    if (!this.hasOp("queue-create")) {
      throw new KernelError(
        "netdev queue-create",
        errnoNumber("EOPNOTSUPP"),
        "this kernel's netdev family has no queue-create operation (queue leasing needs Linux 7.1)",
      );
    }
    const r = this.genl.request(this.family, NETDEV_CMD["queue-create"], queueCreateAttrs(req), {
      op: "netdev queue-create",
      context: `ifindex ${req.ifindex} lease ${req.lease.ifindex}/${req.lease.queue.id}`,
    });
    const id = r[0]?.attrs.u32(NETDEV_A_QUEUE_ID);
    if (id === undefined) throw new Error("netdev queue-create reply without a queue id");
    return id;
  }
}
