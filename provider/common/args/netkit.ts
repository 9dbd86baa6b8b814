// NetkitLower inputs (DESIGN.md "NetkitLower"): a netkit device leasing NIC queues for AF_XDP.
import { InputReader } from "../validate/reader";
import { readAdopt, readOwnership, Ownership } from "./common";

export const NETKIT_APIS = ["auto", "lease", "lowerdev"] as const;

export interface NetkitArgs extends Ownership {
  name: string;
  lowerDevice: string;
  queues: { start: number; count: number };
  mode: "l3" | "l2";
  netns?: string;
  policy: "pass" | "drop";
  headroom?: number;
  tailroom?: number;
  api: (typeof NETKIT_APIS)[number];
  adopt: boolean;
}

export function readNetkitArgs(r: InputReader): NetkitArgs {
  const name = r.ifname("name");
  const lowerDevice = r.ifname("lowerDevice");
  const queues = r.queueRange("queues");
  const mode = r.oneOf("mode", ["l3", "l2"] as const, { default: "l3" })!;
  const netns = r.netns("netns");
  const policy = r.oneOf("policy", ["pass", "drop"] as const, { default: "pass" })!;
  const headroom = r.int("headroom", { optional: true, min: 0, max: 65535 });
  const tailroom = r.int("tailroom", { optional: true, min: 0, max: 65535 });
  const api = r.oneOf("api", NETKIT_APIS, { default: "auto" })!;
  const adopt = readAdopt(r);
  const who = readOwnership(r);
  // Linux 7.3 (netkit_new_link, netkit_change_link) gives a single device, the only kind
  // that leases NIC queues, the pass policy and refuses any other, at creation and after,
  // with a bare EOPNOTSUPP: said here, at preview, rather than by the kernel halfway.
  if (policy === "drop") {
    r.fail(r.path("policy"), `"drop" cannot be set on a single netkit device (the only kind that leases NIC queues): the kernel keeps such a device at the default pass policy and refuses any other at creation and later (EOPNOTSUPP); leave policy unset or "pass"`);
  }
  if (name !== undefined && name === lowerDevice) r.fail(r.path("name"), `"${name}" is the same as lowerDevice`);
  r.finish();
  const args: NetkitArgs = { name: name!, lowerDevice: lowerDevice!, queues: queues!, mode, policy, api, adopt, ...who };
  if (netns) args.netns = netns;
  if (headroom !== undefined) args.headroom = headroom;
  if (tailroom !== undefined) args.tailroom = tailroom;
  return args;
}
