import { ResourceKind, keyOf, partsOf } from "./kind";
import { FdbTableArgs, keyedEntries, readFdbTableArgs } from "../common/args/fdb";
import { InputReader } from "../common/validate/reader";

/**
 * The entries are kept keyed by `<vlan>/<mac>` from check on (see keyedEntries): Pulumi
 * then previews and refreshes an FdbTable entry by entry. The helper reads either form.
 */
type KeyedFdbTableArgs = Omit<FdbTableArgs, "entries"> & { entries: ReturnType<typeof keyedEntries> };

function readArgs(r: InputReader): KeyedFdbTableArgs {
  const args = readFdbTableArgs(r);
  return { ...args, entries: keyedEntries(args.entries) };
}

/**
 * An FdbTable is the entries one owner keeps in the table: show and remove name the owner
 * (the SDK's `__owner`, which read and delete find among the recorded properties).
 */
function identity(a: { table: string }, props: Record<string, unknown>): Record<string, unknown> {
  return typeof props.__owner === "string" ? { table: a.table, owner: props.__owner } : { table: a.table };
}

export const fdbTable: ResourceKind<KeyedFdbTableArgs> = {
  kind: "fdbtable",
  typeName: "FdbTable",
  readArgs,
  objectKey: (a) => keyOf(a.table),
  parseKey: (key) => ({ table: partsOf(key)[0] }),
  identity,
  // Another table is another map: the new entries go there first, then the old ones go.
  replaceOn: ["table"],
  deleteBeforeReplace: false,
  // entries is an input (a list) and an output (keyed): see readArgs.
  outputs: ["count", "entries"],
  outputsAlsoInputs: ["entries"],
};
