import { describeKind, keyOf, partsOf } from "./kind";
import { VmifArgs, readVmifArgs } from "../common/args/vmif";

export const vmInterface = describeKind<VmifArgs>("VmInterface", {
  kind: "vmif",
  readArgs: readVmifArgs,
  objectKey: (a) => keyOf(a.netns ?? "", a.name),
  parseKey: (key) => {
    const [netns, name] = partsOf(key);
    return netns ? { name, netns } : { name };
  },
});
