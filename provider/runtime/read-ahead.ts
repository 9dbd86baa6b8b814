// Read-ahead for refresh. A refresh reads every resource once, and the engine keeps at most
// --parallel reads in flight, each waiting for its own round trip to the host: N FdbEntry of
// one table cost N shows. A kind with a dump op (FdbEntry: fdb.dump) has the shows of one
// scope (a table) answered from one dump of the whole scope instead, taken when a second
// show of that scope comes within the window; a lone show still goes to the host alone, so
// a stack with one entry in a table of 10,000 never reads the 10,000.
//
// How fresh an answer is:
// - never older than the window (HVNET_READ_AHEAD seconds, default 1; 0 turns it off),
//   counted from when the dump was sent: a change made by anyone else (another stack, an
//   operator) is seen by every show sent more than a window after that change;
// - never from before a write this process sent to that host: any op that is not read-only
//   drops the host's dumps, and while one is in flight every show goes to the host.
// A table whose dump answered few of its entries (a few entries of this stack among many of
// others) is not dumped again: its shows go to the host alone.
// A refresh reads N objects at N moments anyway; a dump is one of those moments for all.
import { ReadAhead } from "../kinds/kind";
import { connectionKey, type HostSpec } from "../transport/host-spec";
import { HostRequester } from "./requester";

type Entry = Record<string, unknown>;

/** A dump of one scope. Any write to its host removes it from HostReads.dumps, so one found there is never from before a write. */
interface Dump {
  sentAt: number;
  /** The scope's entries by key; null when the scope itself is gone. */
  entries: Promise<Map<string, Entry> | null>;
  /** How many entries it held, once answered, and how many shows it answered. */
  size?: number;
  answered: number;
}

interface HostReads {
  writesInFlight: number;
  dumps: Map<string, Dump>;
  /** When each scope was last shown: a second show within the window takes a dump. */
  lastShow: Map<string, number>;
  /** Scopes whose last dump did not pay for itself: their shows go to the host alone from then on. */
  shownAlone: Set<string>;
}

/**
 * A dump that held more entries than this per show it answered cost more than those shows
 * sent alone (a few µs of the helper's time and ~130 bytes on the wire per entry, against a
 * share of a round trip per show): a stack with 100 entries in a table of 60,000 others'
 * reads the table whole at most once.
 */
const DUMP_ENTRIES_PER_ANSWER = 16;

/** Ops that change nothing on the host: they neither drop nor wait for dumps. */
function readOnly(op: string): boolean {
  return op.endsWith(".show") || op.endsWith(".dump") || op === "probe" || op === "stats" || op === "ping" || op === "hello";
}

export class ReadAheadRequester implements HostRequester {
  private readonly hosts = new Map<string, HostReads>();

  /** `byShowOp`: the read-ahead of each kind that has one, by its show op (`fdb.show`). */
  constructor(
    private readonly inner: HostRequester,
    private readonly byShowOp: ReadonlyMap<string, ReadAhead>,
    private readonly windowMs: number,
    private readonly now: () => number = () => performance.now(),
  ) {}

  request(host: HostSpec, op: string, args: unknown): Promise<any> {
    const readAhead = this.windowMs > 0 ? this.byShowOp.get(op) : undefined;
    if (readAhead) return this.show(host, op, args, readAhead);
    if (readOnly(op)) return this.inner.request(host, op, args);
    const reads = this.readsOf(host);
    if (!reads) return this.inner.request(host, op, args);
    reads.writesInFlight++;
    reads.dumps.clear();
    const sent = this.inner.request(host, op, args);
    const settled = () => {
      reads.writesInFlight--;
      reads.dumps.clear();
    };
    sent.then(settled, settled);
    return sent;
  }

  private async show(host: HostSpec, op: string, args: unknown, readAhead: ReadAhead): Promise<any> {
    const where = readAhead.locate(args);
    const reads = where && this.readsOf(host);
    // Bad identities go to the host as they are, which names the field.
    if (!where || !reads || reads.writesInFlight > 0 || reads.shownAlone.has(where.scope)) return this.inner.request(host, op, args);
    const t = this.now();
    const last = reads.lastShow.get(where.scope);
    reads.lastShow.set(where.scope, t);
    let dump = reads.dumps.get(where.scope);
    if (!dump || t - dump.sentAt > this.windowMs) {
      reads.dumps.delete(where.scope);
      if (dump?.size !== undefined && dump.answered * DUMP_ENTRIES_PER_ANSWER < dump.size) reads.shownAlone.add(where.scope);
      if (reads.shownAlone.has(where.scope) || last === undefined || t - last > this.windowMs) return this.inner.request(host, op, args);
      dump = this.takeDump(host, readAhead, where.args, t);
      reads.dumps.set(where.scope, dump);
    }
    let entries: Map<string, Entry> | null;
    try {
      entries = await dump.entries;
    } catch {
      // The show's own request reports whatever is wrong, in its own words.
      if (reads.dumps.get(where.scope) === dump) reads.dumps.delete(where.scope);
      return this.inner.request(host, op, args);
    }
    dump.answered++;
    if (entries === null) return null;
    const entry = entries.get(where.entry);
    return entry ? { ...entry } : null;
  }

  private takeDump(host: HostSpec, readAhead: ReadAhead, args: Record<string, unknown>, sentAt: number): Dump {
    const dump: Dump = { sentAt, answered: 0, entries: Promise.resolve(null) };
    dump.entries = this.inner.request(host, readAhead.dumpOp, args).then((answer) => {
      const entries = indexDump(readAhead, answer);
      dump.size = entries?.size ?? 0;
      return entries;
    });
    return dump;
  }

  private readsOf(host: HostSpec): HostReads | undefined {
    let key: string;
    try {
      key = connectionKey(host);
    } catch {
      return undefined; // not a host spec: the pool says what is wrong with it
    }
    let reads = this.hosts.get(key);
    if (!reads) {
      reads = { writesInFlight: 0, dumps: new Map(), lastShow: new Map(), shownAlone: new Set() };
      this.hosts.set(key, reads);
    }
    return reads;
  }
}

function indexDump(readAhead: ReadAhead, answer: unknown): Map<string, Entry> | null {
  if (answer === null) return null;
  const entries = (answer as { entries?: unknown } | undefined)?.entries;
  if (!Array.isArray(entries)) throw new Error(`${readAhead.dumpOp} answered without entries`);
  return new Map(entries.map((e: Entry) => [readAhead.entryKey(e), e]));
}
