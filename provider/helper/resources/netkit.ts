// NetkitLower: netkit.apply / netkit.show / netkit.remove. A single-mode netkit device
// whose rx queues lease NIC queues (netdev queue-create, Linux 7.1), moved into the
// VM's or pod's netns, and the af-xdp netdev QEMU needs there.
//
// This machine's kernel has no netkit: the logic runs against the kernel's netlink
// interface, which tests replace with a test double (test/support/fake-netlink.ts).
import * as fs from "node:fs";
import * as os from "node:os";
import { dirname } from "node:path";
import { InputReader } from "../../common/validate/reader";
import { readNamedDevice, Ownership } from "../../common/args/common";
import { RtNetlink, isKindNotSupported } from "../kernel/netlink/rtnetlink";
import { Link } from "../kernel/netlink/rtnetlink-link";
import { GenlClient } from "../kernel/netlink/genetlink";
import { NetdevGenl } from "../kernel/netlink/netdev-genl";
import { KernelError } from "../kernel/errors";
import { OpError } from "../rpc/errors";
import { withLock } from "../state/lock";
import { claimAndMake, ownerStore, releaseAndRemove } from "../state/ownership";
import { BPFFS_ROOT } from "../../common/validate/formats";
import { createPinnedMap, ensureBpffs, MapType, pruneEmptyBpffsDirs, removePin } from "../kernel/bpf";
import { readNetkitArgs, NetkitArgs } from "../../common/args/netkit";
import { readDeviceIdentity } from "./device";

const owners = ownerStore("netkit");
const ownerKey = (netns: string | undefined, name: string) => `${netns ?? ""}/${name}`;

export interface NetkitKernel {
  /** rtnetlink in the host's namespace, where the NIC is. */
  rt: RtNetlink;
  /** rtnetlink in the device's final namespace (the same handle when there is none). */
  target: RtNetlink;
  netdev: NetdevGenl;
  kernelRelease: string;
  /** The XSKMAP behind qemuNetdev's map-path (bpffs, whatever the netns); test doubles of netlink alone leave it out. */
  xskMap?: XskMapPins;
}

export interface XskMapPins {
  /** Pins an XSKMAP of `entries` sockets at `path` unless one is there already. */
  ensure(path: string, entries: number): void;
  remove(path: string): void;
}

/**
 * QEMU with inhibit=on loads no program and makes no map: it opens the XSKMAP pinned at
 * map-path and puts its socket for queue i at key map-start-index (0) + i. Without the
 * pin QEMU fails to start, so the device's apply makes it.
 */
export const kernelXskMaps: XskMapPins = {
  ensure(path, entries) {
    ensureBpffs(BPFFS_ROOT);
    if (fs.existsSync(path)) return;
    // One socket fd per queue; QEMU puts its socket for queue i at key i.
    createPinnedMap({ type: MapType.XSKMAP, keySize: 4, valueSize: 4, maxEntries: entries, name: "hn_xsks" }, path);
  },
  remove(path) {
    removePin(path);
    pruneEmptyBpffsDirs(dirname(path), BPFFS_ROOT);
  },
};

export interface Lease {
  physicalQueue: number;
  netkitQueue: number;
}

/** Where QEMU (with inhibit=on) finds the XSKMAP to put its AF_XDP sockets in. */
export function xskMapPin(name: string): string {
  return `${BPFFS_ROOT}/hvnet/netkit/${name}/xsks_map`;
}

export function qemuNetdev(a: Pick<NetkitArgs, "name" | "queues">, firstNetkitQueue: number): string {
  return [
    `af-xdp`, `id=hn-${a.name}`, `ifname=${a.name}`, `mode=native`, `queues=${a.queues.count}`,
    `start-queue=${firstNetkitQueue}`, `inhibit=on`, `map-path=${xskMapPin(a.name)}`,
  ].join(",");
}

function chooseApi(k: NetkitKernel, args: NetkitArgs): "lease" {
  const hasLease = k.netdev.hasOp("queue-create");
  if (args.api === "lowerdev") {
    throw new OpError("EOPNOTSUPP", "api lowerdev: the proof-of-concept IFLA_NETKIT_LOWERDEV attribute never went upstream and its attribute number is not public; use api: lease on Linux >= 7.1");
  }
  if (!hasLease) {
    throw new OpError("EOPNOTSUPP", `kernel ${k.kernelRelease} lacks the netkit queue lease (netdev queue-create, Linux 7.1); the proof-of-concept lowerdev attribute is not available either`);
  }
  return "lease";
}

function leasesOf(k: NetkitKernel, nk: Link, lower: Link): Lease[] {
  return k.netdev
    .queueDump(lower.ifindex)
    .filter((q) => q.type === "rx" && q.lease && q.lease.ifindex === nk.ifindex)
    .map((q) => ({ physicalQueue: q.id, netkitQueue: q.lease!.queue.id }))
    .sort((a, b) => a.physicalQueue - b.physicalQueue);
}

export function applyNetkitOn(k: NetkitKernel, args: NetkitArgs) {
  const lower = k.rt.findLink(args.lowerDevice);
  if (!lower) throw new OpError("ENODEV", `lowerDevice ${args.lowerDevice} does not exist`);
  const existing = k.target.findLink(args.name) ?? (args.netns ? k.rt.findLink(args.name) : undefined);
  const what = `device ${args.name}${args.netns ? ` in netns ${args.netns}` : ""}`;
  return claimAndMake(owners, ownerKey(args.netns, args.name), what, existing !== undefined, args, () => makeNetkit(k, args, lower, existing), () =>
    (k.target.findLink(args.name) ?? (args.netns ? k.rt.findLink(args.name) : undefined)) !== undefined,
  );
}

function makeNetkit(k: NetkitKernel, args: NetkitArgs, lower: Link, existing: Link | undefined) {
  if (existing) {
    if (existing.kind !== "netkit") throw new OpError("EEXIST", `device ${args.name} exists and is a ${existing.kind ?? "non-netkit"} device`);
    const leases = leasesOf(k, existing, lower);
    k.xskMap?.ensure(xskMapPin(args.name), args.queues.count);
    return { ifindex: existing.ifindex, leases, api: "lease", qemuNetdev: qemuNetdev(args, leases[0]?.netkitQueue ?? 1) };
  }
  const api = chooseApi(k, args);
  let nk: Link | undefined;
  try {
    nk = k.rt.createNetkit({
      // No policy or scrub attribute: a single device takes neither (the kernel keeps it at
      // the default pass policy; readNetkitArgs refuses any other).
      name: args.name, pairing: "single", mode: args.mode,
      headroom: args.headroom, tailroom: args.tailroom, numRxQueues: args.queues.count + 1, numTxQueues: 1,
    });
  } catch (err) {
    if (isKindNotSupported(err)) throw new OpError("EOPNOTSUPP", `kernel ${k.kernelRelease} has no netkit devices (CONFIG_NETKIT, Linux >= 6.7)`);
    throw err;
  }
  nk = nk ?? k.rt.getLink(args.name);
  const leases: Lease[] = [];
  try {
    for (let q = args.queues.start; q < args.queues.start + args.queues.count; q++) {
      const netkitQueue = k.netdev.queueCreate({ ifindex: nk.ifindex, type: "rx", lease: { ifindex: lower.ifindex, queue: { id: q, type: "rx" } } });
      leases.push({ physicalQueue: q, netkitQueue });
    }
    k.xskMap?.ensure(xskMapPin(args.name), args.queues.count);
    if (args.netns) k.rt.moveToNetns(args.name, args.netns);
  } catch (err) {
    // A lease cannot be undone except by deleting the device: delete it so nothing
    // half-made stays behind, then report why.
    try {
      k.rt.deleteLink(nk.ifindex);
    } catch {
      // already gone
    }
    attemptQuietly(() => k.xskMap?.remove(xskMapPin(args.name)));
    const range = `${args.queues.start}-${args.queues.start + args.queues.count - 1}`;
    if (err instanceof KernelError && err.code === "EBUSY") {
      throw new OpError("EBUSY", `queues: a queue of ${args.lowerDevice} in ${range} is already leased or used by AF_XDP (${err.message})`);
    }
    // The kernel checks the id against the NIC's real rx queue count, which rtnetlink
    // does not report: say which field is wrong rather than a bare ERANGE.
    if (err instanceof KernelError && err.code === "ERANGE") {
      throw new OpError("ERANGE", `queues: ${range} reaches beyond the rx queues of ${args.lowerDevice} (${err.message})`);
    }
    throw err;
  }
  const moved = args.netns ? k.target.getLink(args.name) : nk;
  return { ifindex: moved.ifindex, leases, api, qemuNetdev: qemuNetdev(args, leases[0]?.netkitQueue ?? 1) };
}

export function showNetkitOn(k: NetkitKernel, id: { name: string; lowerDevice?: string }) {
  const nk = k.target.findLink(id.name);
  if (!nk || nk.kind !== "netkit") return null;
  // The NIC side reports each lease, naming the netkit device and its queue.
  const leases = k.netdev
    .queueDump()
    .filter((q) => q.type === "rx" && q.lease?.ifindex === nk.ifindex)
    .map((q) => ({ physicalQueue: q.id, netkitQueue: q.lease!.queue.id }))
    .sort((a, b) => a.physicalQueue - b.physicalQueue);
  const out: Record<string, unknown> = { name: id.name, ifindex: nk.ifindex, api: "lease", leases };
  if (nk.netkit?.mode) out.mode = nk.netkit.mode;
  if (nk.netkit?.policy) out.policy = nk.netkit.policy;
  return out;
}

export function removeNetkitOn(k: NetkitKernel, id: { name: string; netns?: string; who?: Ownership }) {
  return releaseAndRemove(owners, ownerKey(id.netns, id.name), id.who ?? {}, () => {
    const nk = k.target.findLink(id.name);
    if (nk && nk.kind !== "netkit") throw new OpError("EEXIST", `device ${id.name} is a ${nk.kind ?? "non-netkit"} device, not hvnet's netkit`);
    if (nk) k.target.deleteLink(nk.ifindex); // ends its leases too
    k.xskMap?.remove(xskMapPin(id.name));
    return { removed: nk !== undefined };
  });
}

function attemptQuietly(fn: () => void): void {
  try {
    fn();
  } catch {
    // best effort: the original error is the one to report
  }
}

function withKernel<T>(netns: string | undefined, fn: (k: NetkitKernel) => T): T {
  const rt = RtNetlink.open();
  const target = netns ? RtNetlink.open({ netns }) : rt;
  const genl = GenlClient.open();
  try {
    return fn({ rt, target, netdev: new NetdevGenl(genl), kernelRelease: os.release(), xskMap: kernelXskMaps });
  } finally {
    rt.close();
    if (target !== rt) target.close();
    genl.nl.transport.close();
  }
}

export function applyNetkit(raw: unknown) {
  const args = readNetkitArgs(InputReader.of(raw));
  return withLock(`nic-${args.lowerDevice}`, () => withKernel(args.netns, (k) => applyNetkitOn(k, args)));
}

export function showNetkit(raw: unknown) {
  const id = readNamedDevice(raw);
  return withKernel(id.netns, (k) => showNetkitOn(k, id));
}

export function removeNetkit(raw: unknown) {
  const id = readDeviceIdentity(raw);
  return withKernel(id.netns, (k) => removeNetkitOn(k, id));
}
