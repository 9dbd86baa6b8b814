// Who owns each entry of an FDB table (DESIGN.md: every object hvnet makes has an owner and
// the operation that made it), kept consistent with the map under the table's lock.
// An entry in the map without a record is unowned (made by hand, by another tool, or by a
// caller that gave no owner); a record of a key the map no longer holds is stale and ignored.
// The records live under /run like the map's pins, so both vanish together on reboot.
//
// A table holds tens of thousands of entries and is changed both in big batches and one
// entry at a time, so its owners are split by key into SHARDS registry records: a request
// reads and rewrites (each atomically) only the shards of the keys it touches. One record
// per table would make a single-entry request beside 8,000 owned entries cost ~10 ms of
// JSON; a shard holds 1/SHARDS of that. Within a shard, owner and op strings are stored
// once and each key points at them.
//
// The rules on those records, shared by FdbEntry and FdbTable, are here too: who counts as
// an entry's owner, and why a write over an existing entry is refused.
import * as fs from "node:fs";
import * as path from "node:path";
import { REGISTRY_DIR, pruneEmptyDirs } from "../state/paths";
import { deleteRecord, readRecord, writeRecord } from "../state/registry";
import { decodeFdbValue } from "../datapath/fdb";
import { Ownership } from "../../common/args/common";
import { FdbArgs } from "../../common/args/fdb";

const KIND = "fdb-owners";
const SHARDS = 32;

export interface EntryOwner {
  owner: string;
  op?: string;
}

// Flat arrays rather than an object keyed by entry: JSON parses and writes them several
// times faster (no object with thousands of properties to build).
interface StoredShard {
  v: 3;
  /** Hex of every recorded key, concatenated; each `keyChars` long. */
  keys: string;
  keyChars: number;
  owners: string[];
  ops: string[];
  /** Per key: index into owners, and into ops or -1. */
  o: number[];
  p: number[];
}

/** The directory of one table's records: one subdirectory per map (kernel id). */
function tableDir(tablePin: string): string {
  return path.join(REGISTRY_DIR, KIND, encodeURIComponent(tablePin));
}

/**
 * The registry kind (a directory) holding the shards of one map pinned at the table: a
 * table pinned anew is another map, whose entries no earlier record describes.
 */
function mapKind(tablePin: string, mapId: number): string {
  return `${KIND}/${encodeURIComponent(tablePin)}/${mapId}`;
}

/** A key's shard: its last byte (the MAC's last for FDB keys), which spreads evenly. */
function shardOf(key: string): number {
  return parseInt(key.slice(-2), 16) % SHARDS;
}

function parseShard(stored: StoredShard): Map<string, EntryOwner> {
  const byKey = new Map<string, EntryOwner>();
  const { keys, keyChars: w, owners, ops, o, p } = stored;
  // Entries without an op share one object per owner.
  const bare = owners.map((owner) => ({ owner }));
  for (let i = 0, at = 0; i < o.length; i++, at += w) {
    byKey.set(keys.slice(at, at + w), p[i] < 0 ? bare[o[i]] : { owner: owners[o[i]], op: ops[p[i]] });
  }
  return byKey;
}

function serializeShard(byKey: Map<string, EntryOwner>): StoredShard {
  const owners: string[] = [];
  const ops: string[] = [];
  const ownerIndex = new Map<string, number>();
  const opIndex = new Map<string, number>();
  const keys: string[] = [];
  const o: number[] = [];
  const p: number[] = [];
  for (const [key, e] of byKey) {
    let oi = ownerIndex.get(e.owner);
    if (oi === undefined) {
      oi = owners.push(e.owner) - 1;
      ownerIndex.set(e.owner, oi);
    }
    let pi = -1;
    if (e.op !== undefined) {
      const known = opIndex.get(e.op);
      if (known === undefined) {
        pi = ops.push(e.op) - 1;
        opIndex.set(e.op, pi);
      } else pi = known;
    }
    keys.push(key);
    o.push(oi);
    p.push(pi);
  }
  return { v: 3, keys: keys.join(""), keyChars: keys[0].length, owners, ops, o, p };
}

export class TableOwners {
  /** Shards read so far (a shard with no record reads as an empty map). */
  private readonly shards = new Map<number, Map<string, EntryOwner>>();
  private readonly dirty = new Set<number>();

  private constructor(
    private readonly tablePin: string,
    private readonly mapId: number,
    /** Shards that have a record on disk (one directory listing at load). */
    private readonly onDisk: Set<number>,
  ) {}

  /**
   * Lists the table's shards; each is read when a key of it is first asked about. Records
   * of another map under the same pin (the table made anew) are removed.
   */
  static load(tablePin: string, mapId: number): TableOwners {
    const onDisk = new Set<number>();
    let maps: string[] = [];
    try {
      maps = fs.readdirSync(tableDir(tablePin));
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== "ENOENT") throw err;
    }
    for (const m of maps) {
      const dir = path.join(tableDir(tablePin), m);
      if (m !== String(mapId)) {
        fs.rmSync(dir, { recursive: true, force: true });
        pruneEmptyDirs(tableDir(tablePin));
        continue;
      }
      for (const f of fs.readdirSync(dir)) {
        const n = /^(\d+)\.json$/.exec(f);
        if (n) onDisk.add(Number(n[1]));
      }
    }
    return new TableOwners(tablePin, mapId, onDisk);
  }

  private shard(n: number): Map<string, EntryOwner> {
    let s = this.shards.get(n);
    if (s) return s;
    const stored = this.onDisk.has(n) ? readRecord<StoredShard>(mapKind(this.tablePin, this.mapId), String(n)) : undefined;
    s = stored ? parseShard(stored) : new Map<string, EntryOwner>();
    this.shards.set(n, s);
    return s;
  }

  get(key: string): EntryOwner | undefined {
    const n = shardOf(key);
    if (!this.onDisk.has(n) && !this.shards.has(n)) return undefined;
    return this.shard(n).get(key);
  }

  /** Records who made the entry; without an owner the entry becomes unowned. */
  set(key: string, owner: string | undefined, op: string | undefined): void {
    if (owner === undefined) {
      this.delete(key);
      return;
    }
    const n = shardOf(key);
    const s = this.shard(n);
    const cur = s.get(key);
    if (cur && cur.owner === owner && cur.op === op) return;
    s.set(key, op === undefined ? { owner } : { owner, op });
    this.dirty.add(n);
  }

  /** Puts back what `get` returned earlier (undefined: no record). */
  restore(key: string, prior: EntryOwner | undefined): void {
    if (prior) this.set(key, prior.owner, prior.op);
    else this.delete(key);
  }

  delete(key: string): void {
    const n = shardOf(key);
    if (!this.onDisk.has(n) && !this.shards.has(n)) return;
    if (this.shard(n).delete(key)) this.dirty.add(n);
  }

  /** Writes each changed shard atomically; a shard left without owners leaves no record. */
  save(): void {
    const kind = mapKind(this.tablePin, this.mapId);
    for (const n of this.dirty) {
      const s = this.shards.get(n)!;
      if (s.size === 0) {
        deleteRecord(kind, String(n));
        this.onDisk.delete(n);
      } else {
        writeRecord(kind, String(n), serializeShard(s));
        this.onDisk.add(n);
      }
    }
    this.dirty.clear();
  }
}

/** Forgets every owner of a table: for whoever removes the table itself (xdp.remove). */
export function forgetTableOwners(tablePin: string): void {
  fs.rmSync(tableDir(tablePin), { recursive: true, force: true });
  pruneEmptyDirs(path.dirname(tableDir(tablePin)));
}

/** Whether the caller is the recorded owner: the same owner, or the same operation retried. */
export function ownedBy(who: Ownership, rec: EntryOwner): boolean {
  return (who.owner !== undefined && who.owner === rec.owner) || (who.op !== undefined && who.op === rec.op);
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
    if (ownedBy(e, rec)) return undefined;
    return `${what} is owned by ${rec.owner}; set adopt: true to take it over`;
  }
  const target = `to ifindex ${decodeFdbValue(cur).ifindex}`;
  if (e.owner === undefined) {
    return cur.equals(value) ? undefined : `${what} already exists (${target}); set adopt: true to take it over`;
  }
  return `${what} already exists (${target}) and has no owner (made by hand or by another tool); set adopt: true to take it over`;
}
