// RssContext: rss.apply / rss.show / rss.remove. An additional RSS context over a slice of
// a NIC's queues, ntuple rules steering the VM's flows into it, and the default context
// spread over the queues no hvnet context reserves.
//
// The kernel does not say which contexts hvnet made or which queues they reserve, so a
// registry under /run keeps that; like the contexts it vanishes on reboot.
import { InputReader } from "../../common/validate/reader";
import { EthtoolDevice, withEthtool } from "../kernel/ethtool/ioctl";
import { getChannels } from "../kernel/ethtool/channels";
import { driverNameOf } from "../kernel/ethtool/drvinfo";
import * as rss from "../kernel/ethtool/rss";
import * as ntuple from "../kernel/ethtool/ntuple";
import { FlowMatch, InstalledRule } from "../kernel/ethtool/flow";
import {
  EthtoolError,
  NtupleUnsupportedError,
  RssContextNotFoundError,
  RssContextsUnsupportedError,
  RssUnsupportedError,
} from "../kernel/ethtool/errors";
import { OpError } from "../rpc/errors";
import { withLock } from "../state/lock";
import { readRecord, writeRecord, deleteRecord } from "../state/registry";
import { Claim, decide, isSameClaimant, keptFor, mayRemove, OwnerRecord, recordFor } from "../state/ownership";
import { Ownership, readOwnership } from "../../common/args/common";
import { readRssArgs, RssArgs, Flow } from "../../common/args/rss";

const RECORDS = "rss";

/** One hvnet context: its reserved queues, its rules, and who made it (no owner fields: an older version did). */
interface ContextRecord extends Partial<OwnerRecord> {
  start: number;
  count: number;
  ruleIds: number[];
}

interface NicRecord {
  /** contextId → its record. */
  contexts: Record<string, ContextRecord>;
}

function ownerOf(c: ContextRecord | undefined): OwnerRecord | undefined {
  if (!c) return undefined;
  const rec: OwnerRecord = { since: c.since ?? "before owners were recorded" };
  if (c.owner !== undefined) rec.owner = c.owner;
  if (c.op !== undefined) rec.op = c.op;
  return rec;
}

/**
 * The context an earlier attempt of this same request (or resource) made: a retried
 * create whose answer was lost must find it, not allocate a second one. A recorded
 * context the NIC no longer has is dropped from the record.
 */
function madeBefore(dev: EthtoolDevice, args: RssArgs, rec: NicRecord): number | undefined {
  for (const [id, c] of Object.entries(rec.contexts)) {
    if (!isSameClaimant(ownerOf(c), args)) continue;
    if (contextExists(dev, args.device, Number(id))) return Number(id);
    delete rec.contexts[id];
  }
  return undefined;
}

function queueCount(dev: EthtoolDevice, device: string): number {
  const ch = getChannels(dev, device);
  return Math.max(ch.combined + ch.rx, 1);
}

/** Queues not reserved by any hvnet context: what the default context spreads over. */
function freeQueues(total: number, rec: NicRecord): number[] {
  const taken = new Set<number>();
  for (const c of Object.values(rec.contexts)) for (let q = c.start; q < c.start + c.count; q++) taken.add(q);
  return [...Array(total).keys()].filter((q) => !taken.has(q));
}

function spreadDefault(dev: EthtoolDevice, device: string, total: number, rec: NicRecord): void {
  if (Object.keys(rec.contexts).length === 0) {
    rss.resetDefaultIndirection(dev, device);
    return;
  }
  const free = freeQueues(total, rec);
  if (free.length === 0) throw new OpError("ENOSPC", `queues: hvnet contexts reserve every queue of ${device}; the default context needs at least one`);
  const size = rss.getRssSizes(dev, device).indirSize;
  rss.setIndirection(dev, device, 0, Array.from({ length: size }, (_, i) => free[i % free.length]));
}

function toMatch(f: Flow): FlowMatch {
  const m: FlowMatch = { type: f.type };
  if (f.src) m.src = f.src;
  if (f.dst) m.dst = f.dst;
  if (f.srcPort) m.srcPort = f.srcPort;
  if (f.dstPort) m.dstPort = f.dstPort;
  return m;
}

const sameMatch = (a: FlowMatch, b: FlowMatch) =>
  a.type === b.type && a.src === b.src && a.dst === b.dst && a.srcPort === b.srcPort && a.dstPort === b.dstPort;

function checkQueues(args: RssArgs, contextId: number | undefined, total: number, rec: NicRecord, driver: string | undefined): void {
  const { start, count } = args.queues;
  if (start + count > total) {
    throw new OpError("EINVAL", `queues: ${start}-${start + count - 1} is beyond the ${total} queues of ${args.device} (driver ${driver ?? "unknown"}); raise them with ethtool -L first`);
  }
  const others: NicRecord = { contexts: {} };
  for (const [id, c] of Object.entries(rec.contexts)) {
    if (Number(id) === contextId) continue;
    others.contexts[id] = c;
    if (start < c.start + c.count && c.start < start + count) {
      throw new OpError("EBUSY", `queues: ${start}-${start + count - 1} overlap RSS context ${id} of ${args.device} (queues ${c.start}-${c.start + c.count - 1})`);
    }
  }
  // Checked before anything changes: finding out after the context exists would leave it behind.
  others.contexts.new = { start, count, ruleIds: [] };
  if (args.shrinkDefault && freeQueues(total, others).length === 0) {
    throw new OpError("ENOSPC", `queues: with ${start}-${start + count - 1} hvnet contexts would reserve every queue of ${args.device}; the default context needs at least one`);
  }
}

/** This context's ntuple rules; none on a driver without ntuple filters. */
function rulesOf(dev: EthtoolDevice, device: string, contextId: number): InstalledRule[] {
  try {
    return ntuple.listRules(dev, device).filter((r) => "rssContext" in r.action && r.action.rssContext === contextId);
  } catch (err) {
    if (err instanceof NtupleUnsupportedError) return [];
    throw err;
  }
}

/** The NIC itself is gone (unplugged, driver unbound): its contexts and rules went with it. */
const isNoDevice = (err: unknown) => err instanceof EthtoolError && err.code === "ENODEV";

/** The logic, over any ethtool device: the kernel's ioctl or a test double. */
export function applyRssOn(dev: EthtoolDevice, args: RssArgs) {
  const rec = readRecord<NicRecord>(RECORDS, args.device) ?? { contexts: {} };
  const driver = driverNameOf(dev, args.device);
  const total = queueCount(dev, args.device);
  let contextId = args.contextId ?? madeBefore(dev, args, rec);
  checkQueues(args, contextId, total, rec, driver);
  const cfg: rss.ContextConfig = { queues: args.queues };
  if (args.hashKey) cfg.key = Buffer.from(args.hashKey.split(":").map((h) => parseInt(h, 16)));
  if (args.hashFunction) cfg.hfunc = args.hashFunction;

  if (contextId !== undefined && !contextExists(dev, args.device, contextId)) {
    // The provider's update carries the owner: its own context vanished (reboot, driver
    // reset), so make it again. Anyone else names a context that is not there.
    if (!args.adopt && args.owner === undefined) throw new OpError("ENOENT", `RSS context ${contextId} does not exist on ${args.device}`);
    // Gone (reboot, driver reset): drift, make it again. Its old reservation is this
    // resource's own and must not outlive it under the old id.
    delete rec.contexts[contextId];
    contextId = undefined;
  }
  const previous = contextId === undefined ? undefined : ownerOf(rec.contexts[contextId]);
  const claim: Claim = contextId === undefined ? "create" : decide(`RSS context ${contextId} of ${args.device}`, true, previous, args);
  const created = contextId === undefined;
  if (contextId === undefined) contextId = rss.createContext(dev, args.device, cfg);
  else rss.modifyContext(dev, args.device, contextId, cfg);
  const ctx = contextId;
  const owned = recordFor(claim, previous, args);
  if (created) {
    // Recorded at once, before its rules: a helper that dies from here on leaves a context
    // its retry (same op) finds, rather than one nothing names.
    rec.contexts[ctx] = { start: args.queues.start, count: args.queues.count, ruleIds: [], ...owned };
    writeRecord(RECORDS, args.device, rec);
  }

  // Rules: keep those already right, drop the rest of this context's, add what is missing.
  const wanted = args.flows.map(toMatch);
  const ruleIds: number[] = [];
  const inserted: number[] = [];
  try {
    const installed = wanted.length || !created ? rulesOf(dev, args.device, ctx) : [];
    const kept = new Set<number>();
    for (const m of wanted) {
      const have = installed.find((r) => r.match.type !== "other" && !kept.has(r.location) && sameMatch(r.match as FlowMatch, m));
      if (have) {
        kept.add(have.location);
        ruleIds.push(have.location);
      } else {
        const loc = ntuple.insertRule(dev, args.device, { match: m, action: { rssContext: ctx } });
        inserted.push(loc);
        ruleIds.push(loc);
      }
    }
    for (const r of installed) if (!kept.has(r.location) && !ruleIds.includes(r.location)) ntuple.deleteRule(dev, args.device, r.location);
  } catch (err) {
    // A context this call made must not stay behind half-configured: it and its record go.
    if (created) {
      for (const loc of inserted) attempt(() => ntuple.deleteRule(dev, args.device, loc));
      attempt(() => rss.deleteContext(dev, args.device, ctx));
      delete rec.contexts[ctx];
      saveRecord(args.device, rec);
    }
    throw err;
  }

  rec.contexts[ctx] = { start: args.queues.start, count: args.queues.count, ruleIds, ...owned };
  writeRecord(RECORDS, args.device, rec);
  if (args.shrinkDefault) spreadDefault(dev, args.device, total, rec);
  return { contextId: ctx, ruleIds, indirectionTable: rss.getIndirection(dev, args.device, ctx) };
}

function attempt(fn: () => unknown): void {
  try {
    fn();
  } catch {
    // best effort: the original error is the one to report
  }
}

function contextExists(dev: EthtoolDevice, device: string, ctx: number): boolean {
  try {
    rss.getRss(dev, device, ctx);
    return true;
  } catch (err) {
    // A driver without (additional) RSS contexts has none of ours either.
    if (err instanceof RssContextNotFoundError || err instanceof RssContextsUnsupportedError || err instanceof RssUnsupportedError) return false;
    throw err;
  }
}

export function showRssOn(dev: EthtoolDevice, device: string, contextId: number) {
  try {
    if (!contextExists(dev, device, contextId)) return null;
  } catch (err) {
    if (isNoDevice(err)) return null;
    throw err;
  }
  const rec = readRecord<NicRecord>(RECORDS, device);
  const mine = rec?.contexts[contextId];
  const rules = rulesOf(dev, device, contextId);
  const table = rss.getIndirection(dev, device, contextId);
  const queues = mine ? { start: mine.start, count: mine.count } : { start: Math.min(...table), count: new Set(table).size };
  return {
    device,
    contextId,
    queues,
    flows: rules.filter((r) => r.match.type !== "other").map((r) => r.match),
    ruleIds: rules.map((r) => r.location),
    indirectionTable: table,
  };
}

function saveRecord(device: string, rec: NicRecord): void {
  if (Object.keys(rec.contexts).length) writeRecord(RECORDS, device, rec);
  else deleteRecord(RECORDS, device);
}

export function removeRssOn(dev: EthtoolDevice, device: string, contextId: number, who: Ownership = {}) {
  const rec = readRecord<NicRecord>(RECORDS, device) ?? { contexts: {} };
  if (!mayRemove(ownerOf(rec.contexts[contextId]), who)) return keptFor(ownerOf(rec.contexts[contextId]));
  const recorded = rec.contexts[contextId] !== undefined;
  delete rec.contexts[contextId];
  let exists: boolean;
  try {
    exists = contextExists(dev, device, contextId);
  } catch (err) {
    if (!isNoDevice(err)) throw err;
    saveRecord(device, rec);
    return { removed: false };
  }
  if (exists) {
    // Rules first: since 6.13 the kernel refuses to delete a context rules still use.
    for (const r of rulesOf(dev, device, contextId)) ntuple.deleteRule(dev, device, r.location);
    rss.deleteContext(dev, device, contextId);
  }
  // Only when hvnet had a say in the default context: removing what was never there must
  // not undo an operator's own `ethtool -X`.
  if (exists || recorded) spreadDefault(dev, device, queueCount(dev, device), rec);
  saveRecord(device, rec);
  return { removed: exists };
}

function readIdentity(raw: unknown): { device: string; contextId: number; who: Ownership } {
  const r = InputReader.of(raw);
  const device = r.ifname("device")!;
  const contextId = r.int("contextId", { min: 1 })!;
  const who = readOwnership(r);
  r.finish();
  return { device, contextId, who };
}

export function applyRss(raw: unknown) {
  const args = readRssArgs(InputReader.of(raw));
  return withLock(`nic-${args.device}`, () => withEthtool(undefined, (dev) => applyRssOn(dev, args)));
}

export function showRss(raw: unknown) {
  const id = readIdentity(raw);
  return withEthtool(undefined, (dev) => showRssOn(dev, id.device, id.contextId));
}

export function removeRss(raw: unknown) {
  const id = readIdentity(raw);
  return withLock(`nic-${id.device}`, () => withEthtool(undefined, (dev) => removeRssOn(dev, id.device, id.contextId, id.who)));
}
