import { RESOURCE_FACTS } from "../common/schema-facts";
import { declaredIdentity, describeKind, keyOf, partsOf } from "./kind";
import { FdbTableArgs, keyedEntries, readFdbTableArgs } from "../common/args/fdb";
import { InputReader } from "../common/validate/reader";
import { OWNERSHIP_FIELD } from "../common/args/common";

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
  const table = declaredIdentity(RESOURCE_FACTS.FdbTable, a, props);
  return typeof props.__owner === "string" ? { ...table, [OWNERSHIP_FIELD]: { owner: props.__owner } } : table;
}

export const fdbTable = describeKind<KeyedFdbTableArgs>("FdbTable", {
  kind: "fdbtable",
  readArgs,
  objectKey: (a) => keyOf(a.table),
  parseKey: (key) => ({ table: partsOf(key)[0] }),
  identity,
});
