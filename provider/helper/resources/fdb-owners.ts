// Who owns each entry of an FDB table (DESIGN.md: every object hvnet makes has an owner and
// the operation that made it). A table holds thousands of entries, so its owners are one
// registry record per table, read once and written once (atomically) per request, always
// under the table's lock: owner and op strings stored once, each entry key pointing at them.
// An entry in the map without a record is unowned (made by hand, by another tool, or by a
// caller that gave no owner); a record of a key the map no longer holds is stale and ignored.
// The record lives under /run like the map's pins, so both vanish together on reboot.
import { deleteRecord, readRecord, writeRecord } from "../state/registry";

const KIND = "fdb-owners";

export interface EntryOwner {
  owner: string;
  op?: string;
}

// Flat arrays rather than an object keyed by entry: for 10,000 entries JSON parses and
// writes them several times faster (no 10,000-property object to build).
interface StoredRecord {
  v: 2;
  /** The kernel id of the map the record describes: a table pinned anew is another map. */
  mapId: number;
  /** Hex of every recorded key, concatenated; each `keyChars` long. */
  keys: string;
  keyChars: number;
  owners: string[];
  ops: string[];
  /** Per key: index into owners, and into ops or -1. */
  o: number[];
  p: number[];
}

export class TableOwners {
  private changed = false;

  private constructor(
    private readonly tablePin: string,
    private readonly mapId: number,
    private readonly byKey: Map<string, EntryOwner>,
  ) {}

  /** One read of the table's record; a record of another map (re-pinned table) counts as none. */
  static load(tablePin: string, mapId: number): TableOwners {
    const stored = readRecord<StoredRecord>(KIND, tablePin);
    const byKey = new Map<string, EntryOwner>();
    const current = stored !== undefined && stored.v === 2 && stored.mapId === mapId;
    if (current) {
      const { keys, keyChars: w, owners, ops, o, p } = stored;
      // Entries without an op share one object per owner.
      const bare = owners.map((owner) => ({ owner }));
      for (let i = 0, at = 0; i < o.length; i++, at += w) {
        byKey.set(keys.slice(at, at + w), p[i] < 0 ? bare[o[i]] : { owner: owners[o[i]], op: ops[p[i]] });
      }
    }
    const t = new TableOwners(tablePin, mapId, byKey);
    // A stale record (another map under the same pin) is replaced at the next save.
    t.changed = stored !== undefined && !current;
    return t;
  }

  get size(): number {
    return this.byKey.size;
  }

  get(key: string): EntryOwner | undefined {
    return this.byKey.get(key);
  }

  /** Records who made the entry; without an owner the entry becomes unowned. */
  set(key: string, owner: string | undefined, op: string | undefined): void {
    if (owner === undefined) {
      this.delete(key);
      return;
    }
    const cur = this.byKey.get(key);
    if (cur && cur.owner === owner && cur.op === op) return;
    this.byKey.set(key, op === undefined ? { owner } : { owner, op });
    this.changed = true;
  }

  /** Puts back what `get` returned earlier (undefined: no record). */
  restore(key: string, prior: EntryOwner | undefined): void {
    if (prior) this.set(key, prior.owner, prior.op);
    else this.delete(key);
  }

  delete(key: string): void {
    if (this.byKey.delete(key)) this.changed = true;
  }

  /** One atomic write when anything changed; no record at all once no entry has an owner. */
  save(): void {
    if (!this.changed) return;
    this.changed = false;
    if (this.byKey.size === 0) {
      deleteRecord(KIND, this.tablePin);
      return;
    }
    const owners: string[] = [];
    const ops: string[] = [];
    const ownerIndex = new Map<string, number>();
    const opIndex = new Map<string, number>();
    const keys: string[] = [];
    const o: number[] = [];
    const p: number[] = [];
    for (const [key, e] of this.byKey) {
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
    const record: StoredRecord = { v: 2, mapId: this.mapId, keys: keys.join(""), keyChars: keys[0].length, owners, ops, o, p };
    writeRecord(KIND, this.tablePin, record);
  }
}

/** Forgets every owner of a table: for whoever removes the table itself (xdp.remove). */
export function forgetTableOwners(tablePin: string): void {
  deleteRecord(KIND, tablePin);
}
