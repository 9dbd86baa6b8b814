import { describeKind, keyOf, partsOf } from "./kind";
import { FdbArgs, readFdbArgs, readFdbKeyArgs } from "../common/args/fdb";

const entryKey = (vlan: unknown, mac: unknown) => `${vlan} ${mac}`;

export const fdbEntry = describeKind<FdbArgs>("FdbEntry", {
  kind: "fdb",
  readArgs: readFdbArgs,
  objectKey: (a) => keyOf(a.table, a.vlan, a.mac),
  parseKey: (key) => {
    const [table, vlan, mac] = partsOf(key);
    return { table, vlan: Number(vlan), mac };
  },
  // A refresh of thousands of entries of one table reads the table once (fdb.dump).
  readAhead: {
    dumpOp: "fdb.dump",
    locate: (identity) => {
      let key;
      try {
        key = readFdbKeyArgs(identity); // the mac normalized as the dump spells it
      } catch {
        return undefined;
      }
      return { scope: key.table, args: { table: key.table }, entry: entryKey(key.vlan, key.mac) };
    },
    entryKey: (e) => entryKey(e.vlan, e.mac),
  },
});
