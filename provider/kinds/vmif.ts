import { ResourceKind, keyOf, partsOf } from "./kind";
import { VmifArgs, readVmifArgs, VM_OWNERSHIP_FIELD } from "../common/args/vmif";

export const vmInterface: ResourceKind<VmifArgs> = {
  kind: "vmif",
  typeName: "VmInterface",
  readArgs: readVmifArgs,
  objectKey: (a) => keyOf(a.netns ?? "", a.name),
  parseKey: (key) => {
    const [netns, name] = partsOf(key);
    return netns ? { name, netns } : { name };
  },
  identity: (a) => (a.netns ? { name: a.name, netns: a.netns } : { name: a.name }),
  // A tap's queue count is fixed when its first queue is opened: changing it re-creates it.
  replaceOn: ["name", "netns", "queues"],
  deleteBeforeReplace: true,
  outputs: ["ifindex", "queues", "qemuArgs", "libvirtXml"],
  // queues is also an input (or 2 × vcpus): a changed count replaces the tap.
  outputsAlsoInputs: ["queues"],
  ownershipField: VM_OWNERSHIP_FIELD,
};
