// FdbTable: fdbtable.apply / fdbtable.show / fdbtable.remove. An FdbTable is the set of
// entries one owner keeps in one l2fwd FDB map; the owner records (fdb-owners.ts) say which
// entries of the map are its, so the table coexists with FdbEntry resources and with other
// stacks' entries. apply writes only the delta between that set and the desired one: new
// and changed entries in one batch update, entries no longer wanted in one batch delete.
import * as fs from "node:fs";
import { InputReader } from "../../common/validate/reader";
import { encodeU32Key } from "../kernel/bpf";
import { RtNetlink } from "../kernel/netlink/rtnetlink";
import { encodeFdbKey, encodeFdbValue } from "../datapath/fdb";
import { OpError } from "../rpc/errors";
import { withLock } from "../state/lock";
import { linkIndexes, withRt } from "./device";
import { Acl } from "../../common/args/common";
import { EntryOwner, TableOwners, refusal } from "./fdb-owners";
import { FdbTableArgs, FdbTableEntry, KeyedEntries, compareEntryKeys, keyedEntries, readFdbTableArgs, readFdbTableKeyArgs } from "../../common/args/fdb";
import { Table, isFull, listEntries, openAclRules, openTable, portAcl, prunePorts, readTable, setPort, tableLock } from "./fdb-table";

/** An entry of the map as this owner holds it: its key bytes, value and owner record. */
interface Held {
  key: Buffer;
  value: Buffer;
  rec: EntryOwner | undefined;
}

/** Every entry of the map by key (hex), with its owner record. */
function heldEntries(table: Table, owners: TableOwners): Map<string, Held> {
  const held = new Map<string, Held>();
  for (const [key, value] of table.fdb.entries()) {
    const id = key.toString("hex");
    held.set(id, { key, value, rec: owners.get(id) });
  }
  return held;
}

function mine(h: Held, owner: string): boolean {
  return h.rec !== undefined && h.rec.owner === owner;
}

function sameAcl(a: Acl | undefined, b: Acl | undefined): boolean {
  return JSON.stringify(a ?? null) === JSON.stringify(b ?? null);
}

function describeEntry(e: { vlan: number; mac: string }): string {
  return `vlan ${e.vlan} ${e.mac}`;
}

/** How many, and the first few by name: an error about 3,000 entries stays readable. */
function some(items: string[], max = 5): string {
  return items.length <= max ? items.join(", ") : `${items.slice(0, max).join(", ")} and ${items.length - max} more`;
}

export interface TableApplied {
  count: number;
  added: number;
  changed: number;
  removed: number;
}

function applyLocked(args: FdbTableArgs, owner: string, table: Table, rt: RtNetlink): TableApplied {
  const { byName } = linkIndexes(rt);
  const missing = [...new Set(args.entries.map((e) => e.device).filter((d) => !byName.has(d)))];
  if (missing.length) {
    throw new OpError("ENODEV", `FdbTable ${args.table}: device${missing.length > 1 ? "s" : ""} ${some(missing)} do${missing.length > 1 ? "" : "es"} not exist; create ${missing.length > 1 ? "them" : "it"} first (or fix the entries' device)`);
  }
  const owners = TableOwners.load(args.table, table.fdb.info().id);
  const held = heldEntries(table, owners);

  const wanted = new Set<string>();
  const wkeys: Buffer[] = [];
  const wvalues: Buffer[] = [];
  const written: { id: string; prior: Held | undefined }[] = [];
  const claimed: string[] = []; // same value already there, recorded as ours
  const refused: string[] = [];
  let added = 0;
  let changed = 0;
  for (const e of args.entries) {
    const key = encodeFdbKey(e);
    const id = key.toString("hex");
    wanted.add(id);
    const value = encodeFdbValue({ ifindex: byName.get(e.device)! });
    const h = held.get(id);
    const why = refusal({ ...e, table: args.table, adopt: args.adopt, owner, op: args.op }, h?.value ?? null, h?.rec, value);
    if (why) {
      refused.push(`${describeEntry(e)} (${h?.rec ? `owned by ${h.rec.owner}` : "no owner"})`);
      continue;
    }
    if (h && h.value.equals(value)) {
      if (!mine(h, owner)) claimed.push(id);
      continue;
    }
    if (h) changed++;
    else added++;
    wkeys.push(key);
    wvalues.push(value);
    written.push({ id, prior: h });
  }
  if (refused.length) {
    throw new OpError("EEXIST", `FdbTable ${args.table}: ${refused.length} entr${refused.length > 1 ? "ies are" : "y is"} someone else's: ${some(refused)}; set adopt: true to take them over, or leave them out of entries`);
  }
  const gone: Held[] = [];
  const goneIds: string[] = [];
  for (const [id, h] of held) {
    if (!wanted.has(id) && mine(h, owner)) {
      gone.push(h);
      goneIds.push(id);
    }
  }

  // Ports before entries: a frame must never be redirected to a port not yet there. Only
  // devices whose port is missing or carries another ACL are written.
  const rules = openAclRules(table);
  const ports = new Map<number, Acl | undefined>();
  for (const e of args.entries) ports.set(byName.get(e.device)!, e.ingressAcl);
  try {
    for (const [ifindex, acl] of ports) {
      if (table.ports.lookup(encodeU32Key(ifindex)) !== undefined && sameAcl(portAcl(table, ifindex, rules), acl)) continue;
      setPort(table, ifindex, acl);
    }
  } catch (err) {
    if (isFull(err)) throw new OpError("ENOSPC", `the ports map beside FdbTable ${args.table} is full (${table.ports.maxEntries} devices); use fewer devices or remove FDB entries of devices no longer used`);
    throw err;
  } finally {
    rules?.close();
  }

  // Owners before entries (as fdb.ts): a crash in between leaves a claim on an absent entry
  // (which counts for nothing), never an entry of ours without its owner.
  for (const w of written) owners.set(w.id, owner, args.op);
  for (const id of claimed) owners.set(id, owner, args.op);
  owners.save();
  try {
    table.fdb.updateBatch(wkeys, wvalues);
  } catch (err) {
    // A prefix of the batch may be in the map: each key gets back what it held.
    for (let i = 0; i < written.length; i++) {
      const prior = written[i].prior;
      if (prior) table.fdb.update(wkeys[i], prior.value);
      else table.fdb.delete(wkeys[i]);
      owners.restore(written[i].id, prior?.rec);
    }
    for (const id of claimed) owners.restore(id, held.get(id)!.rec);
    owners.save();
    prunePorts(table);
    if (isFull(err)) {
      throw new OpError("ENOSPC", `FDB table ${args.table} is full (${table.fdb.maxEntries} entries): the ${added} new entries of this FdbTable did not fit and none were applied; remove FDB entries no longer needed, or raise the table size (HVNET_FDB_MAX_ENTRIES in bpf/include/hvnet.h, then replace the l2fwd XdpProgram)`);
    }
    throw err;
  }
  if (gone.length) {
    table.fdb.deleteBatch(gone.map((h) => h.key));
    for (const id of goneIds) owners.delete(id);
    owners.save();
  }
  // A changed device or a removed entry may leave a port no entry points at.
  if (gone.length || changed) prunePorts(table);
  return { count: args.entries.length, added, changed, removed: gone.length };
}

export function applyFdbTable(raw: unknown): TableApplied {
  const args = readFdbTableArgs(InputReader.of(raw));
  if (args.owner === undefined) throw new OpError("EINVAL", "owner: is required: an FdbTable is the entries one owner keeps in the table");
  const owner = args.owner;
  return withLock(tableLock(args.table), () => {
    const table = openTable(args.table);
    try {
      return withRt(table.netns, (rt) => applyLocked(args, owner, table, rt));
    } finally {
      table.close();
    }
  });
}

/**
 * The entries the owner holds in the table, keyed as check keys them, so that refresh
 * turns an entry changed or deleted by hand into a change of that one entry. null when
 * the table itself is gone.
 */
export function showFdbTable(raw: unknown): { table: string; entries: KeyedEntries; count: number } | null {
  const { table: tablePin, owner } = readFdbTableKeyArgs(raw);
  return readTable(tablePin, null, (table, rules) => {
    const owners = TableOwners.load(tablePin, table.fdb.info().id);
    const entries = listEntries(table, rules, (key) => owners.get(key.toString("hex"))?.owner === owner).map(({ vlan, mac, device, acl }): FdbTableEntry =>
      acl ? { vlan, mac, device, ingressAcl: acl } : { vlan, mac, device },
    );
    entries.sort(compareEntryKeys);
    return { table: tablePin, entries: keyedEntries(entries) as KeyedEntries, count: entries.length };
  });
}

/** Deletes the owner's entries of the table (one batch delete); nobody else's. */
export function removeFdbTable(raw: unknown): { removed: boolean; count: number } {
  const { table: tablePin, owner } = readFdbTableKeyArgs(raw);
  if (!fs.existsSync(tablePin)) return { removed: false, count: 0 };
  return withLock(tableLock(tablePin), () => {
    const table = openTable(tablePin);
    try {
      const owners = TableOwners.load(tablePin, table.fdb.info().id);
      const keys: Buffer[] = [];
      for (const [id, h] of heldEntries(table, owners)) {
        if (!mine(h, owner)) continue;
        keys.push(h.key);
        owners.delete(id);
      }
      if (keys.length) {
        table.fdb.deleteBatch(keys);
        owners.save();
        prunePorts(table);
      }
      return { removed: true, count: keys.length };
    } finally {
      table.close();
    }
  });
}
