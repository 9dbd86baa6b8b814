// FdbEntry inputs (DESIGN.md "FdbEntry"): one <vlan, mac> -> device entry of an l2fwd FDB map,
// with who asks for it (ownership: {owner, op}, common.ts readOwnership).
import { InputReader, UNKNOWN, containsUnknown } from "../validate/reader";
import * as formats from "../validate/formats";
import { Acl, OP_TEXT, OWNER_TEXT, OWNERSHIP_FIELD, Ownership, readAcl, readAdopt, readOwnership } from "./common";
import { RESOURCE_FACTS } from "../schema-facts";

export interface FdbArgs extends Ownership {
  table: string;
  vlan: number;
  mac: string;
  device: string;
  ingressAcl?: Acl;
  adopt: boolean;
}

/** What fdb.show and fdb.remove take: the entry's identity, and for remove who asks. */
export interface FdbKeyArgs extends Ownership {
  table: string;
  vlan: number;
  mac: string;
}

export function readFdbFields(r: InputReader): Omit<FdbArgs, "adopt"> | undefined {
  const table = r.bpffsPath("table");
  const vlan = r.vlan("vlan", { default: 0 });
  const mac = r.mac("mac");
  const device = r.ifname("device");
  const ingressAcl = readAcl(r, "ingressAcl");
  if (table === undefined || vlan === undefined || mac === undefined || device === undefined) return undefined;
  const args: Omit<FdbArgs, "adopt"> = { table, vlan, mac, device };
  if (ingressAcl) args.ingressAcl = ingressAcl;
  return args;
}

export function readFdbArgs(r: InputReader): FdbArgs {
  const fields = readFdbFields(r);
  const adopt = readAdopt(r);
  const { owner, op } = readOwnership(r);
  r.finish();
  // Completed in place rather than spread into a new object: V8's spread here cost
  // ~0.7 µs per entry, a measurable share of a 10,000-entry FDB batch.
  const args = fields as FdbArgs;
  args.adopt = adopt;
  if (owner !== undefined) args.owner = owner;
  if (op !== undefined) args.op = op;
  return args;
}

export function readFdbKeyArgs(raw: unknown): FdbKeyArgs {
  const r = InputReader.of(raw);
  const table = r.bpffsPath("table")!;
  const vlan = r.vlan("vlan", { default: 0 })!;
  const mac = r.mac("mac")!;
  const { owner, op } = readOwnership(r);
  r.finish();
  const key: FdbKeyArgs = { table, vlan, mac };
  if (owner !== undefined) key.owner = owner;
  if (op !== undefined) key.op = op;
  return key;
}

// The fields the fast path checks itself: FdbEntry's plain inputs in schema.json (strings,
// numbers, booleans: not its ACL) and who asks. An entry with any other goes to the general
// reader (test/unit/fdb-args.test.ts checks the fast path reads every one of them).
const PLAIN_FIELDS = new Set<string>([...RESOURCE_FACTS.FdbEntry.plainInputs, OWNERSHIP_FIELD]);

/**
 * The ownership of a plain entry as readOwnership would take it, or undefined when it
 * needs the general reader (which words the error; test/unit/fdb-args.test.ts keeps the
 * two in step).
 */
function plainOwnership(v: unknown): Ownership | undefined {
  if (v === undefined) return {};
  if (v === null || typeof v !== "object" || Array.isArray(v)) return undefined;
  const o = v as Record<string, unknown>;
  for (const k in o) if (k !== "owner" && k !== "op") return undefined;
  const { owner, op } = o;
  if (owner !== undefined && !(typeof owner === "string" && OWNER_TEXT.test(owner))) return undefined;
  if (op !== undefined && !(typeof op === "string" && OP_TEXT.test(op))) return undefined;
  return o as Ownership;
}

/**
 * The same result as readFdbArgs for the common plain entry (strings and numbers only, no
 * ACL), checked without the general reader: an FDB batch carries thousands of them.
 * Anything else, including every invalid entry, goes through readFdbArgs, which
 * produces the errors.
 */
export function readFdbArgsFast(raw: unknown): FdbArgs {
  if (raw !== null && typeof raw === "object" && !Array.isArray(raw)) {
    const o = raw as Record<string, unknown>;
    let plain = true;
    for (const k in o) if (!PLAIN_FIELDS.has(k)) plain = false;
    const { table, vlan, mac, device, adopt } = o;
    const who = plain ? plainOwnership(o[OWNERSHIP_FIELD]) : undefined;
    if (
      who &&
      typeof table === "string" && formats.bpffsPathProblem(table) === undefined &&
      (vlan === undefined || (typeof vlan === "number" && Number.isInteger(vlan) && vlan >= 0 && vlan <= 4094)) &&
      typeof mac === "string" && formats.macProblem(mac) === undefined &&
      typeof device === "string" && formats.ifnameProblem(device) === undefined &&
      (adopt === undefined || typeof adopt === "boolean")
    ) {
      const args: FdbArgs = { table, vlan: (vlan as number | undefined) ?? 0, mac: formats.normalizeMac(mac), device, adopt: (adopt as boolean | undefined) ?? false };
      if (who.owner !== undefined) args.owner = who.owner;
      if (who.op !== undefined) args.op = who.op;
      return args;
    }
  }
  return readFdbArgs(InputReader.of(raw));
}

/** One entry of an FdbTable: an FdbEntry without its table, owner or adopt. */
export interface FdbTableEntry {
  vlan: number;
  mac: string;
  device: string;
  ingressAcl?: Acl;
}

/** FdbTable inputs (DESIGN.md "FdbTable"): the entries one owner keeps in one FDB map. */
export interface FdbTableArgs extends Ownership {
  table: string;
  entries: FdbTableEntry[];
  adopt: boolean;
}

/** As many entries as the l2fwd map holds (HVNET_FDB_MAX_ENTRIES in bpf/include/hvnet.h). */
export const MAX_TABLE_ENTRIES = 65536;

const ENTRY_FIELDS = new Set(["vlan", "mac", "device"]);

/** A plain entry checked without a reader (a table carries thousands), or undefined. */
function plainEntry(raw: unknown): FdbTableEntry | undefined {
  if (raw === null || typeof raw !== "object" || Array.isArray(raw)) return undefined;
  const o = raw as Record<string, unknown>;
  for (const k in o) if (!ENTRY_FIELDS.has(k) && o[k] !== undefined) return undefined;
  const { vlan, mac, device } = o;
  if (vlan !== undefined && !(typeof vlan === "number" && Number.isInteger(vlan) && vlan >= 0 && vlan <= 4094)) return undefined;
  if (typeof mac !== "string" || formats.macProblem(mac) !== undefined) return undefined;
  if (typeof device !== "string" || formats.ifnameProblem(device) !== undefined) return undefined;
  return { vlan: (vlan as number | undefined) ?? 0, mac: formats.normalizeMac(mac), device };
}

function readTableEntry(r: InputReader, raw: unknown): FdbTableEntry | undefined {
  const plain = plainEntry(raw);
  if (plain) {
    for (const k of ENTRY_FIELDS) r.raw(k);
    return plain;
  }
  if (raw === null || typeof raw !== "object" || Array.isArray(raw)) {
    r.fail(r.path("").replace(/\.$/, ""), "must be an object {vlan, mac, device, ingressAcl?}");
    return undefined;
  }
  const vlan = r.vlan("vlan", { default: 0 });
  const mac = r.mac("mac");
  const device = r.ifname("device");
  const ingressAcl = readAcl(r, "ingressAcl");
  if (vlan === undefined || mac === undefined || device === undefined) return undefined;
  const e: FdbTableEntry = { vlan, mac, device };
  if (ingressAcl) e.ingressAcl = ingressAcl;
  return e;
}

/** The order entries are kept in: by <vlan, mac>, so one entry added shifts no other's place in a diff. */
export function compareEntryKeys(a: { vlan: unknown; mac: unknown }, b: { vlan: unknown; mac: unknown }): number {
  const av = typeof a.vlan === "number" ? a.vlan : Infinity;
  const bv = typeof b.vlan === "number" ? b.vlan : Infinity;
  if (av !== bv) return av < bv ? -1 : 1;
  const am = String(a.mac);
  const bm = String(b.mac);
  return am < bm ? -1 : am > bm ? 1 : 0;
}

/** The identity of an entry within its table. */
export function entryKey(e: { vlan: unknown; mac: unknown }): string {
  return `${e.vlan}/${e.mac}`;
}

/** Parses a key of the keyed form, `<vlan>/<mac>`. */
function parseEntryKey(key: string): { vlan: number; mac: string } | undefined {
  const m = /^([0-9]{1,4})\/(.+)$/.exec(key);
  if (!m) return undefined;
  const vlan = Number(m[1]);
  if (vlan > 4094 || formats.macProblem(m[2]) !== undefined) return undefined;
  return { vlan, mac: formats.normalizeMac(m[2]) };
}

/**
 * The keyed form, `{"<vlan>/<mac>": device}` (or `{device, ingressAcl}` for an entry with an
 * ACL): what check hands back, so the state holds the entries by key and Pulumi's diff of
 * an object shows each entry added, changed or removed (a list is compared by index: one entry inserted would show every
 * later one as changed, and dynamic providers cannot return a detailed diff). A bare name
 * rather than an object per entry: 10,000 of them cross the engine's gRPC as a protobuf
 * Struct several times per update, and objects cost about five times as much there.
 */
function readKeyedEntries(r: InputReader, name: string, raw: Record<string, unknown>): FdbTableEntry[] {
  const keys = Object.keys(raw);
  if (keys.length > MAX_TABLE_ENTRIES) {
    r.fail(r.path(name), `may hold at most ${MAX_TABLE_ENTRIES} entries, got ${keys.length}`);
    return [];
  }
  const out: FdbTableEntry[] = [];
  r.object(name, (o) => {
    for (const key of keys) {
      const id = parseEntryKey(key);
      if (!id) {
        o.raw(key);
        o.fail(o.path(key), `is not an entry key "<vlan 0-4094>/<mac>"`);
        continue;
      }
      const v = raw[key];
      if (v === UNKNOWN) {
        o.raw(key);
        out.push({ vlan: id.vlan, mac: id.mac, device: UNKNOWN });
        continue;
      }
      // An entry without an ACL is just its device's name.
      if (typeof v === "string") {
        o.raw(key);
        const problem = formats.ifnameProblem(v);
        if (problem === undefined) out.push({ vlan: id.vlan, mac: id.mac, device: v });
        else o.fail(o.path(key), problem);
        continue;
      }
      const e = o.object(key, (er) => {
        const device = er.ifname("device");
        const ingressAcl = readAcl(er, "ingressAcl");
        if (device === undefined) return undefined;
        const entry: FdbTableEntry = { vlan: id.vlan, mac: id.mac, device };
        if (ingressAcl) entry.ingressAcl = ingressAcl;
        return entry;
      });
      if (e) out.push(e);
    }
  });
  return out;
}

/**
 * Validates the entries, given as a list (the program) or keyed (what check returned), and
 * returns them as a list sorted by <vlan, mac>. A key given twice is an error (which one
 * should win?), as is one device given two ingress ACLs: the ACL runs on the device's
 * port, so every entry of a device shares it.
 */
export function readTableEntries(r: InputReader, name: string): FdbTableEntry[] {
  const raw = r.has(name) ? r.raw(name) : undefined;
  const keyed = raw !== null && typeof raw === "object" && !Array.isArray(raw);
  const entries = keyed
    ? readKeyedEntries(r, name, raw as Record<string, unknown>)
    : r.array(name, (er, item) => readTableEntry(er, item), { max: MAX_TABLE_ENTRIES });
  if ((entries as unknown) === UNKNOWN) return entries;
  const firstAt = new Map<string, number>();
  const aclOf = new Map<string, { at: number; acl: string }>();
  entries.forEach((e, i) => {
    if (containsUnknown(e)) return;
    const k = entryKey(e);
    const seen = firstAt.get(k);
    if (seen !== undefined) r.fail(`${r.path(name)}[${i}]`, `repeats vlan ${e.vlan} mac ${e.mac} of ${r.path(name)}[${seen}]: give each <vlan, mac> once`);
    else firstAt.set(k, i);
    const acl = JSON.stringify(e.ingressAcl ?? null);
    const other = aclOf.get(e.device);
    if (!other) aclOf.set(e.device, { at: i, acl });
    else if (other.acl !== acl) {
      const at = (j: number) => (keyed ? `${r.path(name)}.${entryKey(entries[j])}` : `${r.path(name)}[${j}]`);
      r.fail(`${at(i)}.ingressAcl`, `differs from ${at(other.at)}.ingressAcl for device ${e.device}: the ACL runs on the device's port, so all of its entries must give the same one`);
    }
  });
  return entries.slice().sort(compareEntryKeys);
}

/** The keyed form of sorted entries (see readKeyedEntries); entries not yet known stay a list. */
export type KeyedEntries = Record<string, string | { device: string; ingressAcl: Acl }>;

export function keyedEntries(entries: FdbTableEntry[]): KeyedEntries | FdbTableEntry[] {
  if ((entries as unknown) === UNKNOWN || entries.some((e) => containsUnknown(e.vlan) || containsUnknown(e.mac))) return entries;
  const out: KeyedEntries = {};
  for (const e of entries) out[entryKey(e)] = e.ingressAcl ? { device: e.device, ingressAcl: e.ingressAcl } : e.device;
  return out;
}

export function readFdbTableArgs(r: InputReader): FdbTableArgs {
  const table = r.bpffsPath("table");
  const entries = readTableEntries(r, "entries");
  const adopt = readAdopt(r);
  const { owner, op } = readOwnership(r);
  r.finish();
  const args: FdbTableArgs = { table: table!, entries, adopt };
  if (owner !== undefined) args.owner = owner;
  if (op !== undefined) args.op = op;
  return args;
}

/** What fdbtable.show and fdbtable.remove take: the table, and whose entries. */
export function readFdbTableKeyArgs(raw: unknown): { table: string; owner: string } {
  const r = InputReader.of(raw);
  const table = r.bpffsPath("table");
  const { owner } = readOwnership(r);
  if (owner === undefined && r.ok) r.fail(`${OWNERSHIP_FIELD}.owner`, "is required: an FdbTable is the entries one owner keeps in the table");
  r.finish();
  return { table: table!, owner: owner! };
}
