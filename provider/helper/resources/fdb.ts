// FdbEntry: fdb.apply / fdb.show / fdb.remove, and fdb.apply in batches (one map batch
// update for many entries). The table is an l2fwd attachment's `fdb` map; its `ports`
// devmap must hold every device an entry points at (the redirect target), with the
// device's ingress ACL program when it has one. Each entry has an owner (fdb-owners.ts)
// and its own outcome: one refused or invalid entry never fails the others of a batch.
import * as fs from "node:fs";
import * as path from "node:path";
import { InputReader } from "../../common/validate/reader";
import { BpfMap, BpfObject, BpfProgram, encodeDevmapValue, decodeDevmapValue, encodeU32Key } from "../kernel/bpf";
import { mkdirpBpffs } from "../kernel/bpf/pin";
import { RtNetlink } from "../kernel/netlink/rtnetlink";
import { STRUCTS } from "../datapath/structs";
import { decodeFdbValue, encodeFdbKey, encodeFdbValue } from "../datapath/fdb";
import { decodeAcl, encodeAcl } from "../datapath/acl";
import { KernelError } from "../kernel/errors";
import { OpError, toErrorBody } from "../rpc/errors";
import { Outcome } from "../../common/protocol";
import { readRecord } from "../state/registry";
import { withLock } from "../state/lock";
import { builtin } from "../datapath/programs";
import { FdbArgs, FdbKeyArgs, readFdbArgs, readFdbArgsFast, readFdbKeyArgs } from "../../common/args/fdb";
import { EntryOwner, TableOwners } from "./fdb-owners";
import { Acl } from "../../common/args/common";
import { XDP_RECORDS, XdpRecord } from "./xdp";
import { withRt } from "./device";

export interface Table {
  pinDir: string;
  netns?: string;
  fdb: BpfMap;
  ports: BpfMap;
  close(): void;
}

/** `<pinDir>/maps/fdb` → the attachment it belongs to. */
export function openTable(tablePin: string): Table {
  if (!fs.existsSync(tablePin)) {
    throw new OpError("ENOENT", `table ${tablePin} does not exist: apply the l2fwd XdpProgram first`);
  }
  const mapsDir = path.dirname(tablePin);
  const pinDir = path.dirname(mapsDir);
  const record = readRecord<XdpRecord>(XDP_RECORDS, pinDir);
  const fdb = BpfMap.fromPin(tablePin);
  if (fdb.keySize !== STRUCTS.hvnet_fdb_key.size || fdb.valueSize !== STRUCTS.hvnet_fdb_value.size) {
    fdb.close();
    throw new OpError("EINVAL", `table ${tablePin} is not an l2fwd FDB map (key ${fdb.keySize} B, value ${fdb.valueSize} B)`);
  }
  const portsPin = `${mapsDir}/ports`;
  if (!fs.existsSync(portsPin)) {
    fdb.close();
    throw new OpError("ENOENT", `table ${tablePin} has no ports map beside it (${portsPin})`);
  }
  const ports = BpfMap.fromPin(portsPin);
  return {
    pinDir,
    netns: record?.netns,
    fdb,
    ports,
    close() {
      fdb.close();
      ports.close();
    },
  };
}

/** The vm-ingress-acl program and its rules map, one per table, pinned beside it. */
function ingressAclProgram(table: Table): { prog: BpfProgram; rules: BpfMap } {
  const dir = `${table.pinDir}/ingress-acl`;
  const progPin = `${dir}/prog`;
  const rulesPin = `${dir}/ingress_acl`;
  if (fs.existsSync(progPin) && fs.existsSync(rulesPin)) {
    return { prog: BpfProgram.fromPin(progPin), rules: BpfMap.fromPin(rulesPin) };
  }
  const b = builtin("vm-ingress-acl");
  const obj = BpfObject.open(b.path);
  try {
    obj.load();
    mkdirpBpffs(dir);
    const prog = obj.program(b.program);
    prog.pin(progPin);
    obj.map("ingress_acl").pin(rulesPin);
    const statsPin = `${dir}/stats`;
    if (!fs.existsSync(statsPin)) obj.map("stats").pin(statsPin);
  } finally {
    obj.close();
  }
  return { prog: BpfProgram.fromPin(progPin), rules: BpfMap.fromPin(rulesPin) };
}

function dropIngressAclIfUnused(table: Table): void {
  const dir = `${table.pinDir}/ingress-acl`;
  if (!fs.existsSync(dir)) return;
  const anyProgram = table.ports.entries().some(([, v]) => decodeDevmapValue(v).progId);
  if (anyProgram) return;
  for (const f of fs.readdirSync(dir)) fs.unlinkSync(`${dir}/${f}`);
  fs.rmdirSync(dir);
}

/** Puts the device in the ports devmap, with its ingress ACL program if it has one. */
export function setPort(table: Table, ifindex: number, acl: Acl | undefined): void {
  const key = encodeU32Key(ifindex);
  if (!acl) {
    table.ports.update(key, encodeDevmapValue(ifindex));
    const dir = `${table.pinDir}/ingress-acl/ingress_acl`;
    if (fs.existsSync(dir)) {
      const rules = BpfMap.fromPin(dir);
      rules.delete(key);
      rules.close();
    }
    return;
  }
  const { prog, rules } = ingressAclProgram(table);
  try {
    // Rules first: the program fails closed (drops) for a port without rules.
    rules.update(key, encodeAcl(acl));
    table.ports.update(key, encodeDevmapValue(ifindex, prog.fd));
  } finally {
    prog.close();
    rules.close();
  }
}

/** Removes ports no FDB entry points at any more (and their ACL rules). */
export function prunePorts(table: Table): void {
  const used = new Set(table.fdb.entries().map(([, v]) => decodeFdbValue(v).ifindex));
  const rulesPin = `${table.pinDir}/ingress-acl/ingress_acl`;
  const rules = fs.existsSync(rulesPin) ? BpfMap.fromPin(rulesPin) : undefined;
  try {
    for (const [k] of table.ports.entries()) {
      const ifindex = k.readUInt32LE(0);
      if (used.has(ifindex)) continue;
      table.ports.delete(k);
      rules?.delete(k);
    }
  } finally {
    rules?.close();
  }
  dropIngressAclIfUnused(table);
}

/** The device's ifindex, or the error to fail its entries with; both cached per request. */
function ifindexOf(rt: RtNetlink, device: string, cache: Map<string, number | OpError>): number | OpError {
  let i = cache.get(device);
  if (i === undefined) {
    const link = rt.findLink(device);
    i = link ? link.ifindex : new OpError("ENODEV", `device ${device} does not exist`);
    cache.set(device, i);
  }
  return i;
}

// From this many entries to check on, one dump of the table into a Map is tried before
// one lookup per entry: a lookup is a bpf(2) round trip through the FFI (~2.5 µs here),
// a dumped entry about half that, so the dump wins while the table holds no more
// entries than the batch checks, and is abandoned as soon as it holds more.
const DUMP_FROM = 1024;

/**
 * The whole table by key (hex of the key bytes) when dumping it is the cheaper way to
 * check `toCheck` entries, else undefined (look each one up).
 */
function dumpTable(fdb: BpfMap, toCheck: number): Map<string, Buffer> | undefined {
  const dump = toCheck >= DUMP_FROM ? fdb.entriesUpTo(toCheck) : undefined;
  if (!dump) return undefined;
  const byKey = new Map<string, Buffer>();
  for (const [k, v] of dump) byKey.set(k.toString("hex"), v);
  return byKey;
}

export function tableLock(tablePin: string): string {
  return `fdb-${tablePin}`;
}

export function isFull(err: unknown): boolean {
  return err instanceof KernelError && (err.code === "E2BIG" || err.code === "ENOSPC");
}

/**
 * Why `e` may not be written over the entry `cur` (recorded owner `rec`), or undefined when
 * it may: absent, adopted, the caller's own (same owner, or the same operation retried),
 * or, between callers that name no owner at all, the very same entry (as before owners).
 */
export function refusal(e: FdbArgs, cur: Buffer | null, rec: EntryOwner | undefined, value: Buffer): string | undefined {
  if (cur === null || e.adopt) return undefined;
  const what = `FDB entry vlan ${e.vlan} ${e.mac} in ${e.table}`;
  if (rec) {
    if ((e.owner !== undefined && e.owner === rec.owner) || (e.op !== undefined && e.op === rec.op)) return undefined;
    return `${what} is owned by ${rec.owner}; set adopt: true to take it over`;
  }
  const target = `to ifindex ${decodeFdbValue(cur).ifindex}`;
  if (e.owner === undefined) {
    return cur.equals(value) ? undefined : `${what} already exists (${target}); set adopt: true to take it over`;
  }
  return `${what} already exists (${target}) and has no owner (made by hand or by another tool); set adopt: true to take it over`;
}

/** An entry's failure; success is the target's ifindex (no object per entry in a 10,000 batch). */
class Failed {
  constructor(readonly err: unknown) {}
}

type Result = number | Failed;

/** The ports this request put in the ports devmap, so a failed request can take them out. */
interface PortsAdded {
  keys: Buffer[];
}

/** Puts every device of the accepted entries in the ports devmap; a device that fails fails its entries. */
function setPorts(table: Table, tablePin: string, accepted: number[], entries: FdbArgs[], ifindexes: number[], out: Result[]): PortsAdded {
  const byPort = new Map<number, { acl: Acl | undefined; idx: number[] }>();
  for (const i of accepted) {
    const p = byPort.get(ifindexes[i]);
    // The last entry's ACL wins, as it would if they came one by one.
    if (p) {
      p.acl = entries[i].ingressAcl;
      p.idx.push(i);
    } else byPort.set(ifindexes[i], { acl: entries[i].ingressAcl, idx: [i] });
  }
  const added: PortsAdded = { keys: [] };
  for (const [ifindex, { acl, idx }] of byPort) {
    const key = encodeU32Key(ifindex);
    const existed = table.ports.lookup(key) !== undefined;
    try {
      setPort(table, ifindex, acl);
      if (!existed) added.keys.push(key);
    } catch (err) {
      const e = isFull(err)
        ? new OpError("ENOSPC", `the ports map beside FDB table ${tablePin} is full (${table.ports.maxEntries} devices): device ${entries[idx[0]].device} cannot be added; remove FDB entries of devices no longer used`)
        : err;
      for (const i of idx) out[i] = new Failed(e);
    }
  }
  return added;
}

function removePorts(table: Table, added: PortsAdded): void {
  const rulesPin = `${table.pinDir}/ingress-acl/ingress_acl`;
  const rules = fs.existsSync(rulesPin) ? BpfMap.fromPin(rulesPin) : undefined;
  try {
    for (const key of added.keys) {
      table.ports.delete(key);
      rules?.delete(key);
    }
  } finally {
    rules?.close();
  }
  dropIngressAclIfUnused(table);
}

/**
 * Applies many entries of one table, each with its own outcome: the ones that may be
 * written go in one batch update of the FDB map; a refused or broken entry fails alone.
 * A batch the map cannot take (full) is undone whole: no entry, port or owner of it stays.
 */
function applyToTable(tablePin: string, entries: FdbArgs[]): Result[] {
  return withLock(tableLock(tablePin), () => {
    const table = openTable(tablePin);
    try {
      return withRt(table.netns, (rt) => applyLocked(tablePin, table, rt, entries));
    } finally {
      table.close();
    }
  });
}

function applyLocked(tablePin: string, table: Table, rt: RtNetlink, entries: FdbArgs[]): Result[] {
  const n = entries.length;
  const out: Result[] = new Array(n);
  const names = new Map<string, number | OpError>();
  const ifindexes: number[] = new Array(n);
  for (let i = 0; i < n; i++) {
    const x = ifindexOf(rt, entries[i].device, names);
    if (typeof x === "number") ifindexes[i] = x;
    else out[i] = new Failed(x);
  }
  const keys = entries.map((e) => encodeFdbKey({ vlan: e.vlan, mac: e.mac }));
  const ids = keys.map((k) => k.toString("hex"));
  const values = ifindexes.map((ifindex) => encodeFdbValue({ ifindex }));
  const owners = TableOwners.load(tablePin, table.fdb.info().id);
  const dump = dumpTable(table.fdb, n);

  // Per key, kept at the index of its first entry in this request: what the table held
  // before (to undo), and the last entry of this request accepted for it. An earlier
  // accepted entry counts as existing, with its owner, as it would if they came one by one.
  const first = new Map<string, number>();
  const firstOf = new Int32Array(n);
  const priorValue: Array<Buffer | null> = new Array(n);
  const priorOwner: Array<EntryOwner | undefined> = new Array(n);
  const lastAccepted = new Int32Array(n).fill(-1);
  const accepted: number[] = [];
  for (let i = 0; i < n; i++) {
    if (out[i] !== undefined) continue;
    const id = ids[i];
    let f = first.get(id);
    let value: Buffer | null;
    let owner: EntryOwner | undefined;
    if (f === undefined) {
      f = i;
      first.set(id, i);
      value = dump ? dump.get(id) ?? null : table.fdb.lookup(keys[i]) ?? null;
      priorValue[i] = value;
      priorOwner[i] = owners.get(id);
      // A record of a key the map does not hold is stale: nobody owns an absent entry.
      owner = value === null ? undefined : priorOwner[i];
    } else if (lastAccepted[f] >= 0) {
      const j = lastAccepted[f];
      value = values[j];
      owner = entries[j].owner === undefined ? undefined : (entries[j] as EntryOwner);
    } else {
      value = priorValue[f];
      owner = value === null ? undefined : priorOwner[f];
    }
    firstOf[i] = f;
    const why = refusal(entries[i], value, owner, values[i]);
    if (why) {
      out[i] = new Failed(new OpError("EEXIST", why));
      continue;
    }
    lastAccepted[f] = i;
    accepted.push(i);
  }

  // Ports before entries: a frame must never be redirected to a port not yet there.
  const added = setPorts(table, tablePin, accepted, entries, ifindexes, out);
  const writing = accepted.some((i) => out[i] !== undefined) ? accepted.filter((i) => out[i] === undefined) : accepted;
  // One write per key (the last entry of a key wins), in the order they came.
  const lastWritten = new Int32Array(n).fill(-1);
  for (const i of writing) lastWritten[firstOf[i]] = i;
  const written: number[] = []; // first index of each key written
  const wkeys: Buffer[] = [];
  const wvalues: Buffer[] = [];
  for (const i of writing) {
    if (lastWritten[firstOf[i]] !== i) continue;
    written.push(firstOf[i]);
    wkeys.push(keys[i]);
    wvalues.push(values[i]);
  }
  for (const i of writing) owners.set(ids[i], entries[i].owner, entries[i].op);
  // Owners before entries: a crash in between leaves a claim on an absent entry, which
  // counts for nothing, never an entry of ours without its owner (a retry would be refused).
  owners.save();
  try {
    table.fdb.updateBatch(wkeys, wvalues);
  } catch (err) {
    let fresh = 0;
    for (const f of written) {
      // The kernel applies a batch in order and stops at the first failure: a prefix of it
      // may be in the map. Each key gets back what it held.
      const prior = priorValue[f];
      if (prior === null) {
        fresh++;
        table.fdb.delete(keys[f]);
      } else table.fdb.update(keys[f], prior);
      owners.restore(ids[f], priorOwner[f]);
    }
    owners.save();
    removePorts(table, added);
    const e = isFull(err)
      ? new OpError("ENOSPC", `FDB table ${tablePin} is full (${table.fdb.maxEntries} entries): ${fresh} new entries did not fit and none were applied; remove FDB entries no longer needed, or raise the table size (HVNET_FDB_MAX_ENTRIES in bpf/include/hvnet.h, then replace the l2fwd XdpProgram)`)
      : err;
    for (const i of writing) out[i] = new Failed(e);
    return out;
  }
  for (const i of writing) out[i] = ifindexes[i];
  // An adopted entry may have left its old device without entries; so may a device whose
  // entries failed after its port was set.
  if (writing.length < accepted.length || writing.some((i) => entries[i].adopt)) prunePorts(table);
  return out;
}

function unwrap(r: Result): { ifindex: number } {
  if (r instanceof Failed) throw r.err;
  return { ifindex: r };
}

export function applyFdb(raw: unknown) {
  const args = readFdbArgs(InputReader.of(raw));
  return unwrap(applyToTable(args.table, [args])[0]);
}

/** Many fdb.apply requests at once: validated one by one, applied per table in one batch. */
export function applyFdbMany(raws: unknown[]): Outcome[] {
  const out: Outcome[] = new Array(raws.length);
  const byTable = new Map<string, { index: number; args: FdbArgs }[]>();
  raws.forEach((raw, index) => {
    try {
      const args = readFdbArgsFast(raw);
      const list = byTable.get(args.table) ?? [];
      list.push({ index, args });
      byTable.set(args.table, list);
    } catch (err) {
      out[index] = { ok: false, error: toErrorBody(err) };
    }
  });
  for (const [tablePin, list] of byTable) {
    let results: Result[];
    try {
      results = applyToTable(tablePin, list.map((l) => l.args));
    } catch (err) {
      // The table itself failed (missing, not an FDB map): that is every entry's problem.
      const body = toErrorBody(err);
      for (const l of list) out[l.index] = { ok: false, error: body };
      continue;
    }
    list.forEach((l, i) => {
      const r = results[i];
      out[l.index] = r instanceof Failed ? { ok: false, error: toErrorBody(r.err) } : { ok: true, result: { ifindex: r } };
    });
  }
  return out;
}

/** The ingress ACL of a port, when its devmap entry runs the ACL program. */
export function portAcl(table: Table, ifindex: number, rules: BpfMap | undefined): Acl | undefined {
  if (!rules) return undefined;
  const port = table.ports.lookup(encodeU32Key(ifindex));
  if (!port || !decodeDevmapValue(port).progId) return undefined;
  const acl = rules.lookup(encodeU32Key(ifindex));
  return acl ? decodeAcl(acl) : undefined;
}

/** The table's ingress ACL rules map, if any port has had an ACL; the caller closes it. */
export function openAclRules(table: Table): BpfMap | undefined {
  const rulesPin = `${table.pinDir}/ingress-acl/ingress_acl`;
  return fs.existsSync(rulesPin) ? BpfMap.fromPin(rulesPin) : undefined;
}

/** One entry as show reports it, read from an open table. */
function showEntry(table: Table, rt: RtNetlink, rules: BpfMap | undefined, key: FdbKeyArgs): Record<string, unknown> | null {
  const v = table.fdb.lookup(encodeFdbKey(key));
  if (!v) return null;
  const { ifindex } = decodeFdbValue(v);
  const device = rt.findLink(ifindex)?.name;
  const out: Record<string, unknown> = { table: key.table, vlan: key.vlan, mac: key.mac, ifindex, device: device ?? `ifindex:${ifindex}` };
  const acl = portAcl(table, ifindex, rules);
  if (acl) out.ingressAcl = acl;
  return out;
}

/** Shows entries of one table with one table open and one netlink socket. */
function showFromTable(tablePin: string, keys: FdbKeyArgs[]): Array<Record<string, unknown> | null> {
  if (!fs.existsSync(tablePin)) return keys.map(() => null);
  const table = openTable(tablePin);
  try {
    const rules = openAclRules(table);
    try {
      return withRt(table.netns, (rt) => keys.map((k) => showEntry(table, rt, rules, k)));
    } finally {
      rules?.close();
    }
  } finally {
    table.close();
  }
}

export function showFdb(raw: unknown) {
  const key = readFdbKeyArgs(raw);
  return showFromTable(key.table, [key])[0];
}

/**
 * Many fdb.show requests at once (a refresh of N FdbEntry resources): grouped per table,
 * each table opened once, one netlink socket per table instead of one per entry.
 */
export function showFdbMany(raws: unknown[]): Outcome[] {
  return perTable(raws, readFdbKeyArgs, (tablePin, keys) => showFromTable(tablePin, keys));
}

/**
 * Reads each request's args, groups them by table and runs `run` once per table; a table
 * that fails fails its requests (the dispatcher then runs each alone, for its own error).
 */
function perTable<K extends { table: string }>(raws: unknown[], read: (raw: unknown) => K, run: (tablePin: string, keys: K[]) => unknown[]): Outcome[] {
  const out: Outcome[] = new Array(raws.length);
  const byTable = new Map<string, { index: number; key: K }[]>();
  raws.forEach((raw, index) => {
    try {
      const key = read(raw);
      const list = byTable.get(key.table) ?? [];
      list.push({ index, key });
      byTable.set(key.table, list);
    } catch (err) {
      out[index] = { ok: false, error: toErrorBody(err) };
    }
  });
  for (const [tablePin, list] of byTable) {
    try {
      const results = run(tablePin, list.map((l) => l.key));
      list.forEach((l, i) => (out[l.index] = { ok: true, result: results[i] }));
    } catch (err) {
      const body = toErrorBody(err);
      for (const l of list) out[l.index] = { ok: false, error: body };
    }
  }
  return out;
}

type Removal = { removed: boolean; owner?: string };

/**
 * Deletes the entries of one table their callers own (or that nobody owns, when the
 * caller names no owner either), and prunes the ports they left unused, once.
 */
function removeFromTable(tablePin: string, keys: FdbKeyArgs[]): Removal[] {
  if (!fs.existsSync(tablePin)) return keys.map(() => ({ removed: false }));
  return withLock(tableLock(tablePin), () => {
    const table = openTable(tablePin);
    try {
      const owners = TableOwners.load(tablePin, table.fdb.info().id);
      const removed = keys.map((k): Removal => {
        const key = encodeFdbKey(k);
        const id = key.toString("hex");
        const rec = owners.get(id);
        const mine = rec
          ? (k.owner !== undefined && k.owner === rec.owner) || (k.op !== undefined && k.op === rec.op)
          : k.owner === undefined;
        if (!mine) {
          if (!table.fdb.lookup(key)) {
            owners.delete(id); // a stale record: the entry is gone
            return { removed: false };
          }
          // Someone else's (or made by hand, another tool): a delete never removes it.
          return rec ? { removed: false, owner: rec.owner } : { removed: false };
        }
        owners.delete(id);
        return { removed: table.fdb.delete(key) };
      });
      owners.save();
      // One scan of the table per request, not per entry: a destroy removes thousands.
      prunePorts(table);
      return removed;
    } finally {
      table.close();
    }
  });
}

export function removeFdb(raw: unknown) {
  const key = readFdbKeyArgs(raw);
  return removeFromTable(key.table, [key])[0];
}

/** Many fdb.remove requests at once (a destroy): grouped per table. */
export function removeFdbMany(raws: unknown[]): Outcome[] {
  return perTable(raws, readFdbKeyArgs, (tablePin, keys) => removeFromTable(tablePin, keys));
}
