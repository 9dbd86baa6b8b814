// Who made each object hvnet keeps on a host, and the one rule every resource kind
// follows when a create meets an object that is already there (DESIGN.md: every object
// has an owner and the identity of the operation that made it).
//
// The record is written before the object is made: a helper that dies between making
// the object and answering leaves the record behind, so the client's retry (same op)
// converges instead of meeting an object nobody claims.
import { OpError } from "../rpc/errors";
import type { Ownership } from "../../common/args/common";
import { readRecord, writeRecord, deleteRecord } from "./registry";

export interface OwnerRecord {
  owner?: string;
  op?: string;
  /** ISO time the current owner made or took over the object. */
  since: string;
}

export interface Claimant extends Ownership {
  adopt: boolean;
}

/** create: absent, make it. converge: ours already. adopt: someone else's, taken over on request. */
export type Claim = "create" | "converge" | "adopt";

/**
 * Ours already: a retry of the request that made it (same op), the same resource asking
 * again (same owner), or an object recorded without an owner (a tool or test called the
 * helper directly: it belongs to nobody, so any caller converges it).
 */
export function mayConverge(record: OwnerRecord | undefined, who: Ownership): boolean {
  if (!record) return false;
  if (record.owner === undefined) return true;
  if (who.op !== undefined && record.op === who.op) return true;
  return who.owner !== undefined && record.owner === who.owner;
}

/** The same request or resource, never "nobody's": what finding an earlier create by may match. */
export function isSameClaimant(record: OwnerRecord | undefined, who: Ownership): boolean {
  if (!record) return false;
  if (who.op !== undefined && record.op === who.op) return true;
  return who.owner !== undefined && record.owner === who.owner;
}

export function describeOwner(record: OwnerRecord | undefined): string {
  if (!record) return "was not made by hvnet (or by a version that did not record owners)";
  if (record.owner === undefined) return `was made without an owner at ${record.since}`;
  return `is owned by ${record.owner}, made ${record.since}`;
}

/**
 * The decision for an apply. `what` names the object in the refusal ("tap vm1 on hv1");
 * a refusal is EEXIST so the runtime knows nothing of the caller's was left behind.
 */
export function decide(what: string, exists: boolean, record: OwnerRecord | undefined, who: Claimant): Claim {
  if (!exists) return "create";
  if (mayConverge(record, who)) return "converge";
  if (who.adopt) return "adopt";
  throw new OpError("EEXIST", `${what} already exists and ${describeOwner(record)}; set adopt: true to take it over`);
}

/** The record to keep after a claim: a converge keeps the original time and owner. */
export function recordFor(claim: Claim, previous: OwnerRecord | undefined, who: Ownership, now = new Date()): OwnerRecord {
  const rec: OwnerRecord = { since: claim === "converge" && previous ? previous.since : now.toISOString() };
  const owner = claim === "converge" && previous?.owner !== undefined ? previous.owner : who.owner;
  if (owner !== undefined) rec.owner = owner;
  const op = who.op ?? (claim === "converge" ? previous?.op : undefined);
  if (op !== undefined) rec.op = op;
  return rec;
}

/**
 * May this caller remove the object? Yes when the record names the caller, or nobody
 * owns it (no record: made before owners were recorded; or a record without an owner).
 * A caller without an owner may not remove what someone owns.
 */
export function mayRemove(record: OwnerRecord | undefined, who: Ownership): boolean {
  if (!record || record.owner === undefined) return true;
  return record.owner === who.owner;
}

/** The answer of a remove that left someone else's object alone. */
export function keptFor(record: OwnerRecord | undefined): { removed: false; owner: string } {
  return { removed: false, owner: record?.owner ?? "another owner" };
}

/** Owner records of kinds whose object has no other registry entry to carry them. */
export function ownerStore(kind: string) {
  const records = `owners/${kind}`;
  return {
    read: (key: string) => readRecord<OwnerRecord>(records, key),
    write: (key: string, rec: OwnerRecord) => writeRecord(records, key, rec),
    drop: (key: string) => deleteRecord(records, key),
  };
}

export type OwnerStore = ReturnType<typeof ownerStore>;

/**
 * Claims `key` in `store`, then runs `make` (which creates or converges the object). When
 * `make` fails, the claim stays only if the object is (partly) there: the runtime keeps it
 * as a partial create and the next `up` converges it as its owner. A failed create that
 * left nothing (`present()` says so) takes its claim back, so the host is as it was.
 */
export function claimAndMake<T>(
  store: OwnerStore,
  key: string,
  what: string,
  exists: boolean,
  who: Claimant,
  make: (claim: Claim) => T,
  present: () => boolean,
): T {
  const previous = store.read(key);
  const claim = decide(what, exists, previous, who);
  store.write(key, recordFor(claim, previous, who));
  try {
    return make(claim);
  } catch (err) {
    if (claim === "create" && !present()) store.drop(key);
    throw err;
  }
}

/** Removes through `remove` only what the caller may remove; the record goes with the object. */
export function releaseAndRemove<T extends object>(store: OwnerStore, key: string, who: Ownership, remove: () => T): T | { removed: false; owner: string } {
  const record = store.read(key);
  if (!mayRemove(record, who)) return keptFor(record);
  const out = remove();
  store.drop(key);
  return out;
}
