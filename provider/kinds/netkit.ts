import { ResourceKind, keyOf, partsOf } from "./kind";
import { NetkitArgs, readNetkitArgs } from "../common/args/netkit";

export const netkitLower: ResourceKind<NetkitArgs> = {
  kind: "netkit",
  typeName: "NetkitLower",
  readArgs: readNetkitArgs,
  objectKey: (a) => keyOf(a.netns ?? "", a.name),
  parseKey: (key) => {
    const [netns, name] = partsOf(key);
    return netns ? { name, netns } : { name };
  },
  identity: (a) => (a.netns ? { name: a.name, netns: a.netns } : { name: a.name }),
  // A lease cannot be undone except by deleting the device: everything but the policy
  // replaces it, and the old device must go first (same name). Scrub too: the kernel
  // fixes it at creation (netkit_change_link refuses it), whatever DESIGN.md hoped.
  replaceOn: ["name", "lowerDevice", "queues", "mode", "netns", "headroom", "tailroom", "api"],
  deleteBeforeReplace: true,
  outputs: ["ifindex", "leases", "api", "qemuNetdev"],
};
