// Writing FdbEntry entries into one table: every entry of a request that may be written
// goes in one batch update of the FDB map, each with its own outcome (one refused or
// invalid entry never fails the others), and a batch the map cannot take is undone whole.
import { BpfMap, encodeU32Key } from "../kernel/bpf";
import { RtNetlink } from "../kernel/netlink/rtnetlink";
import { OpError } from "../rpc/errors";
import { withLock } from "../state/lock";
import { encodeFdbKey, encodeFdbValue } from "../datapath/fdb";
import { FdbArgs } from "../../common/args/fdb";
import { Acl } from "../../common/args/common";
import { EntryOwner, TableOwners, refusal } from "./fdb-owners";
import { Table, isFull, openTable, prunePorts, removePorts, setPort, tableLock } from "./fdb-table";
import { withRt } from "./device";

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

/** An entry's failure; success is the target's ifindex (no object per entry in a 10,000 batch). */
export class Failed {
  constructor(readonly err: unknown) {}
}

export type Result = number | Failed;

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
/**
 * Applies many entries of one table, each with its own outcome: the ones that may be
 * written go in one batch update of the FDB map; a refused or broken entry fails alone.
 * A batch the map cannot take (full) is undone whole: no entry, port or owner of it stays.
 */
export function applyToTable(tablePin: string, entries: FdbArgs[]): Result[] {
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
    removePorts(table, added.keys);
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
