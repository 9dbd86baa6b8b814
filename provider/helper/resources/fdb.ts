// FdbEntry: fdb.apply / fdb.show / fdb.remove, one entry or many at once, and fdb.dump (a
// whole table, read-only). Many requests are grouped per table: the table opened once, one
// netlink socket, one map batch update (fdb-apply.ts). The table with its ports devmap is
// fdb-table.ts; each entry has an owner (fdb-owners.ts) and its own outcome: one refused or
// invalid entry never fails the others.
import * as fs from "node:fs";
import { InputReader } from "../../common/validate/reader";
import { BpfMap } from "../kernel/bpf";
import { RtNetlink } from "../kernel/netlink/rtnetlink";
import { decodeFdbValue, encodeFdbKey } from "../datapath/fdb";
import { toErrorBody } from "../rpc/errors";
import { Outcome } from "../../common/protocol";
import { withLock } from "../state/lock";
import { FdbArgs, FdbKeyArgs, readFdbArgs, readFdbArgsFast, readFdbKeyArgs } from "../../common/args/fdb";
import { TableOwners, ownedBy } from "./fdb-owners";
import { Table, deviceName, listEntries, openTable, portAcl, prunePorts, readTable, tableLock } from "./fdb-table";
import { Failed, Result, applyToTable } from "./fdb-apply";
import { withRt } from "./device";
import { Acl } from "../../common/args/common";

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

/** One entry as show reports it. */
function shownEntry(tablePin: string, vlan: number, mac: string, ifindex: number, device: string, acl: Acl | undefined): Record<string, unknown> {
  const out: Record<string, unknown> = { table: tablePin, vlan, mac, ifindex, device };
  if (acl) out.ingressAcl = acl;
  return out;
}

/** One entry as show reports it, read from an open table. */
function showEntry(table: Table, rt: RtNetlink, rules: BpfMap | undefined, key: FdbKeyArgs): Record<string, unknown> | null {
  const v = table.fdb.lookup(encodeFdbKey(key));
  if (!v) return null;
  const { ifindex } = decodeFdbValue(v);
  return shownEntry(key.table, key.vlan, key.mac, ifindex, deviceName(rt.findLink(ifindex)?.name, ifindex), portAcl(table, ifindex, rules));
}

/** Shows entries of one table with one table open and one netlink socket. */
function showFromTable(tablePin: string, keys: FdbKeyArgs[]): Array<Record<string, unknown> | null> {
  return readTable(tablePin, keys.map(() => null), (table, rules) => withRt(table.netns, (rt) => keys.map((k) => showEntry(table, rt, rules, k))));
}

/**
 * Every entry of one table, each as fdb.show reports it, from one pass over the map and one
 * link dump: the provider answers the shows of a refresh from it (runtime/read-ahead.ts).
 * null when the table is gone, as show answers for each of its entries then.
 */
export function dumpFdb(raw: unknown): { entries: Array<Record<string, unknown>> } | null {
  const r = InputReader.of(raw);
  const tablePin = r.bpffsPath("table")!;
  r.finish();
  return readTable(tablePin, null, (table, rules) => ({
    entries: listEntries(table, rules).map((e) => shownEntry(tablePin, e.vlan, e.mac, e.ifindex, e.device, e.acl)),
  }));
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
        const mine = rec ? ownedBy(k, rec) : k.owner === undefined;
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
