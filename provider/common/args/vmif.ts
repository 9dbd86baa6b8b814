// VmInterface inputs (DESIGN.md "VmInterface"): a VM's multiqueue tap, ready for vhost and XDP.
import { InputReader } from "../validate/reader";
import { Acl, readAcl, readAdopt, readOwnership, Ownership } from "./common";

export interface VmEgress {
  acl?: Acl;
  bondLegs?: [string, string];
}

export interface VmifArgs {
  name: string;
  queues: number;
  vcpus?: number;
  mac: string;
  vlan?: number;
  addresses: string[];
  owner?: { uid: number; gid: number };
  mtu?: number;
  offloads: boolean;
  uplink?: string;
  egress?: VmEgress;
  netns?: string;
  adopt: boolean;
  /** Who asks (readOwnership); kept apart from `owner`, which is the tap's uid/gid here. */
  ownership?: Ownership;
}

/** XDP in a guest needs a TX ring per vCPU on top of the normal ones: 2 x vCPUs queues. */
export const QUEUES_PER_VCPU = 2;
export const MAX_TAP_QUEUES = 256;

export function readVmifArgs(r: InputReader): VmifArgs {
  const name = r.ifname("name");
  const vcpus = r.int("vcpus", { optional: true, min: 1, max: MAX_TAP_QUEUES / QUEUES_PER_VCPU });
  const queuesIn = r.int("queues", { optional: true, min: 1, max: MAX_TAP_QUEUES });
  if (vcpus === undefined && queuesIn === undefined && !r.has("vcpus") && !r.has("queues")) {
    r.fail(r.path("vcpus"), "is required (or give queues)");
  }
  const mac = r.mac("mac");
  const vlan = r.int("vlan", { optional: true, min: 1, max: 4094 });
  const addresses = r.ipList("addresses", { max: 64 });
  const owner = r.object("owner", (o) => {
    const uid = o.int("uid", { min: 0, max: 4294967294 });
    const gid = o.int("gid", { min: 0, max: 4294967294 });
    return uid === undefined || gid === undefined ? undefined : { uid, gid };
  }, { optional: true });
  const mtu = r.int("mtu", { optional: true, min: 68, max: 65521 });
  const offloads = r.bool("offloads", { default: false })!;
  const uplink = r.ifname("uplink", { optional: true });
  let egress: VmEgress | undefined;
  const egressRaw = r.raw("egress");
  if (egressRaw === true) egress = {};
  else if (egressRaw !== undefined && egressRaw !== null && egressRaw !== false) {
    egress = r.object("egress", (e) => {
      const acl = readAcl(e, "acl");
      const legs = e.ifnameList("bondLegs", { optional: true, max: 2 });
      const out: VmEgress = {};
      if (acl) out.acl = acl;
      if (legs.length === 2) out.bondLegs = [legs[0], legs[1]];
      else if (legs.length === 1) e.fail(e.path("bondLegs"), "needs exactly two legs");
      return out;
    });
  }
  if (egress && !uplink && !egress.bondLegs) r.fail(r.path("uplink"), "is required when egress is set (where the VM's frames go)");
  if (egress && addresses.length === 0) r.fail(r.path("addresses"), "must list the VM's IPs when egress is set (anything else it sends is dropped)");
  const netns = r.netns("netns");
  const adopt = readAdopt(r);
  const ownership = readOwnership(r);
  r.finish();
  const queues = queuesIn ?? QUEUES_PER_VCPU * vcpus!;
  const args: VmifArgs = { name: name!, queues, mac: mac!, addresses, offloads, adopt };
  if (vcpus !== undefined) args.vcpus = vcpus;
  if (vlan !== undefined) args.vlan = vlan;
  if (owner) args.owner = owner;
  if (mtu !== undefined) args.mtu = mtu;
  if (uplink) args.uplink = uplink;
  if (egress) args.egress = egress;
  if (netns) args.netns = netns;
  if (ownership.owner !== undefined || ownership.op !== undefined) args.ownership = ownership;
  return args;
}
