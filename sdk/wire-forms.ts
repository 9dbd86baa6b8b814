// The form some inputs travel in from the program to the engine (schema.json
// x-hvnet.sdkWireForms). Pulumi moves an input through about a dozen copies on an update
// (the program's request, check, diff and update requests, their answers, checkpoints, the
// engine's log), and its cost goes with the number of values: FdbTable entries given as a
// list of 10,000 {vlan, mac, device} objects are 40,000 values, the form check keeps them in
// ({"<vlan>/<mac>": device}) 10,000. So a list the program gives plainly (no Output or
// promise in it) and check would accept is sent keyed already, exactly as check would key
// it; check reads that form alike and returns it unchanged. A list check would refuse, or
// one still waiting on other resources, is sent as given, so its errors name entries[i].
import { InputReader } from "../provider/common/validate/reader";
import { keyedEntries, readTableEntries } from "../provider/common/args/fdb";

/** Plain data only: an Output, a promise or any class instance is not. */
function plain(v: unknown): boolean {
  if (v === null || v === undefined || typeof v === "string" || typeof v === "number" || typeof v === "boolean") return true;
  if (Array.isArray(v)) return v.every(plain);
  if (typeof v === "object" && Object.getPrototypeOf(v) === Object.prototype) return Object.values(v as object).every(plain);
  return false;
}

function keyedTableEntries(value: unknown): unknown {
  if (!Array.isArray(value) || !plain(value)) return value;
  const r = InputReader.of({ entries: value });
  const entries = readTableEntries(r, "entries");
  return r.ok ? keyedEntries(entries) : value;
}

const FORMS: Record<string, (value: unknown) => unknown> = {
  "FdbTable.entries": keyedTableEntries,
};

/** The names of the wire forms there are, `<Type>.<input>` (checked against schema.json). */
export const WIRE_FORMS: readonly string[] = Object.keys(FORMS);

export function wireForm(typeName: string, input: string, value: unknown): unknown {
  const form = FORMS[`${typeName}.${input}`];
  if (!form) throw new Error(`hvnet: schema.json gives ${typeName}.${input} a wire form that sdk/wire-forms.ts does not have`);
  return form(value);
}
