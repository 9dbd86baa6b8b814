// VmInterface: vmif.apply / vmif.show / vmif.remove. A persistent multiqueue tap with
// vnet headers, owned by the VM's user, offloads off by default, and optionally the
// vm-egress program with the VM's identity (MAC, addresses, VLAN) and egress ACL.
import * as fs from "node:fs";
import { InputReader } from "../../common/validate/reader";
import { readNamedDevice } from "../../common/args/common";
import { applyTap, deleteTap, readTap, TapRecreateError, TapConflictError } from "../kernel/tun";
import { RtNetlink } from "../kernel/netlink/rtnetlink";
import { withEthtool } from "../kernel/ethtool/ioctl";
import { getFeatures, setFeatures } from "../kernel/ethtool/features";
import { BpfMap } from "../kernel/bpf";
import { VM_MAX_IPV4, VM_MAX_IPV6 } from "../datapath/limits";
import { decodeVmConfig, encodeVmConfig } from "../datapath/vm-config";
import { decodeAcl, encodeAcl, NO_ACL } from "../datapath/acl";
import { OpError } from "../rpc/errors";
import { withLock } from "../state/lock";
import { readRecord, writeRecord, deleteRecord } from "../state/registry";
import { BPFFS_ROOT } from "../../common/validate/formats";
import { claimAndMake, ownerStore, releaseAndRemove } from "../state/ownership";
import { readVmifArgs, VmifArgs } from "../../common/args/vmif";
import { attach, describe, detach, mapsDirOf } from "./xdp-attachment";
import { deviceLock, readDeviceIdentity, withRt } from "./device";
import { qemuArgs, libvirtXml } from "./vmif-qemu";

const RECORDS = "vmif";
const owners = ownerStore(RECORDS);
/** ethtool short names of the offloads the XDP fast path needs off. */
const OFFLOAD_FEATURES = ["tx", "tso", "gso", "gro"];

function recordKey(netns: string | undefined, name: string): string {
  return `${netns ?? ""}/${name}`;
}

export function egressPinDir(netns: string | undefined, name: string): string {
  return `${BPFFS_ROOT}/hvnet/vmif/${netns ? netns.replace(/[^A-Za-z0-9_.-]/g, "_") : "root"}/${name}`;
}

function setOffloads(netns: string | undefined, name: string, on: boolean): void {
  withEthtool(netns, (dev) => {
    const want: Record<string, boolean> = {};
    for (const f of OFFLOAD_FEATURES) want[f] = on;
    setFeatures(dev, name, want);
  });
}

function offloadsOn(netns: string | undefined, name: string): boolean {
  return withEthtool(netns, (dev) => {
    const features = getFeatures(dev, name);
    return [...features.entries()].some(([n, s]) => s.changeable && s.active && /^tx-checksum-|^tx-tcp.*-segmentation$|^tx-generic-segmentation$|^rx-gro$/.test(n));
  });
}

function writeEgressConfig(args: VmifArgs, pinDir: string, rt: RtNetlink): void {
  const ifindexOf = (dev: string) => {
    const l = rt.findLink(dev);
    if (!l) throw new OpError("ENODEV", `${dev} (the VM's ${dev === args.uplink ? "uplink" : "bond leg"}) does not exist`);
    return l.ifindex;
  };
  const legs = args.egress?.bondLegs?.map(ifindexOf) ?? [];
  const uplinkIfindex = args.uplink ? ifindexOf(args.uplink) : legs[0];
  const v4 = args.addresses.filter((a) => !a.includes(":"));
  const v6 = args.addresses.filter((a) => a.includes(":"));
  if (v4.length > VM_MAX_IPV4) throw new OpError("EINVAL", `addresses: at most ${VM_MAX_IPV4} IPv4 addresses per VM, got ${v4.length}`);
  if (v6.length > VM_MAX_IPV6) throw new OpError("EINVAL", `addresses: at most ${VM_MAX_IPV6} IPv6 addresses per VM, got ${v6.length}`);
  const maps = mapsDirOf(pinDir);
  const acl = BpfMap.fromPin(`${maps}/acl`);
  const config = BpfMap.fromPin(`${maps}/vm_config`);
  try {
    const zero = Buffer.alloc(4);
    // ACL first, config (which enables the VM) last: a half-written VM fails closed.
    acl.update(zero, encodeAcl(args.egress?.acl ?? NO_ACL));
    config.update(zero, encodeVmConfig({
      mac: args.mac, vlan: args.vlan ?? 0, uplinkIfindex, bondIfindexes: legs, ipv4: v4, ipv6: v6, enabled: true,
    }));
  } finally {
    acl.close();
    config.close();
  }
}

function outputs(args: Pick<VmifArgs, "name" | "queues" | "mac" | "offloads">, ifindex: number) {
  return { ifindex, queues: args.queues, qemuArgs: qemuArgs(args), libvirtXml: libvirtXml(args) };
}

export function applyVmif(raw: unknown) {
  const args = readVmifArgs(InputReader.of(raw));
  return withLock(deviceLock(args.netns, args.name), () => {
    const existing = withRt(args.netns, (rt) => readTap(args.name, { rt }));
    const key = recordKey(args.netns, args.name);
    const what = `tap ${args.name}${args.netns ? ` in netns ${args.netns}` : ""}`;
    return claimAndMake(owners, key, what, existing !== undefined, { ...args.ownership, adopt: args.adopt }, () => makeTap(args, key), () =>
      withRt(args.netns, (rt) => readTap(args.name, { rt })) !== undefined,
    );
  });
}

function makeTap(args: VmifArgs, key: string) {
  try {
    applyTap({ name: args.name, queues: args.queues, owner: args.owner?.uid, group: args.owner?.gid, vnetHdr: true, multiQueue: true }, { netns: args.netns });
  } catch (err) {
    if (err instanceof TapRecreateError) throw new OpError("EEXIST", `${err.message} (replace the VmInterface)`);
    if (err instanceof TapConflictError) throw new OpError("EEXIST", err.message);
    throw err;
  }
  const { ownership: _who, ...recorded } = args;
  writeRecord(RECORDS, key, recorded);
  return withRt(args.netns, (rt) => {
    const tap = rt.getLink(args.name);
    if (args.mtu !== undefined && tap.mtu !== args.mtu) rt.setMtu(args.name, args.mtu);
    setOffloads(args.netns, args.name, args.offloads);
    const pinDir = egressPinDir(args.netns, args.name);
    if (args.egress) {
      attach({ device: args.name, program: "vm-egress", mode: "auto", pinDir, adopt: true }, rt);
      writeEgressConfig(args, pinDir, rt);
    } else {
      detach(pinDir);
    }
    if (!tap.up) rt.setUp(args.name);
    return outputs(args, tap.ifindex);
  });
}

export function showVmif(raw: unknown) {
  const id = readNamedDevice(raw);
  return withRt(id.netns, (rt) => {
    const tap = readTap(id.name, { rt });
    if (!tap) return null;
    const link = rt.getLink(id.name);
    const recorded = readRecord<VmifArgs>(RECORDS, recordKey(id.netns, id.name));
    const out: Record<string, unknown> = { ...(recorded ?? {}), name: id.name };
    delete out.adopt;
    if (tap.owner !== undefined && tap.group !== undefined) out.owner = { uid: tap.owner, gid: tap.group };
    else delete out.owner;
    if (link.mtu !== undefined) out.mtu = link.mtu;
    out.offloads = offloadsOn(id.netns, id.name);
    const pinDir = egressPinDir(id.netns, id.name);
    const egress = describe(pinDir, rt);
    if (!egress) {
      delete out.egress;
    } else if (fs.existsSync(`${mapsDirOf(pinDir)}/vm_config`)) {
      const config = BpfMap.fromPin(`${mapsDirOf(pinDir)}/vm_config`);
      const acl = BpfMap.fromPin(`${mapsDirOf(pinDir)}/acl`);
      try {
        const zero = Buffer.alloc(4);
        const c = decodeVmConfig(config.lookup(zero)!);
        out.addresses = [...c.ipv4, ...c.ipv6];
        out.mac = c.mac;
        if (c.vlan) out.vlan = c.vlan;
        const rules = acl.lookup(zero);
        const e: Record<string, unknown> = recorded?.egress && typeof recorded.egress === "object" ? { ...recorded.egress } : {};
        if (rules) {
          const decoded = decodeAcl(rules);
          if (decoded.rules.length || decoded.defaultAction !== "allow") e.acl = decoded;
          else delete e.acl;
        }
        out.egress = e;
      } finally {
        config.close();
        acl.close();
      }
    }
    const queues = (recorded?.queues as number | undefined) ?? 1;
    return { ...out, ...outputs({ name: id.name, queues, mac: (out.mac as string) ?? "00:00:00:00:00:00", offloads: out.offloads as boolean }, link.ifindex) };
  });
}

export function removeVmif(raw: unknown) {
  const id = readDeviceIdentity(raw);
  const key = recordKey(id.netns, id.name);
  return withLock(deviceLock(id.netns, id.name), () =>
    releaseAndRemove(owners, key, id.who, () => {
      detach(egressPinDir(id.netns, id.name));
      const removed = deleteTap(id.name, { netns: id.netns });
      deleteRecord(RECORDS, key);
      return { removed };
    }),
  );
}
