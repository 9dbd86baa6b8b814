import { describeKind, keyOf, partsOf } from "./kind";
import { FdbArgs, readFdbArgs } from "../common/args/fdb";

export const fdbEntry = describeKind<FdbArgs>("FdbEntry", {
  kind: "fdb",
  readArgs: readFdbArgs,
  objectKey: (a) => keyOf(a.table, a.vlan, a.mac),
  parseKey: (key) => {
    const [table, vlan, mac] = partsOf(key);
    return { table, vlan: Number(vlan), mac };
  },
});
