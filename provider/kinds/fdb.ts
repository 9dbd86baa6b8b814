import { ResourceKind, keyOf, partsOf } from "./kind";
import { FdbArgs, readFdbArgs } from "../common/args/fdb";

export const fdbEntry: ResourceKind<FdbArgs> = {
  kind: "fdb",
  typeName: "FdbEntry",
  readArgs: readFdbArgs,
  objectKey: (a) => keyOf(a.table, a.vlan, a.mac),
  parseKey: (key) => {
    const [table, vlan, mac] = partsOf(key);
    return { table, vlan: Number(vlan), mac };
  },
  identity: (a) => ({ table: a.table, vlan: a.vlan, mac: a.mac }),
  replaceOn: ["table", "vlan", "mac"],
  deleteBeforeReplace: false,
  outputs: ["ifindex"],
};
