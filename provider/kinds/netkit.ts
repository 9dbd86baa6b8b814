import { describeKind, keyOf, partsOf } from "./kind";
import { NetkitArgs, readNetkitArgs } from "../common/args/netkit";

export const netkitLower = describeKind<NetkitArgs>("NetkitLower", {
  kind: "netkit",
  readArgs: readNetkitArgs,
  objectKey: (a) => keyOf(a.netns ?? "", a.name),
  parseKey: (key) => {
    const [netns, name] = partsOf(key);
    return netns ? { name, netns } : { name };
  },
});
