// Input pieces more than one resource kind shares.
import { InputReader } from "../validate/reader";

export type AclAction = "allow" | "deny";

export interface AclRule {
  action: AclAction;
  protocol?: "tcp" | "udp" | "icmp" | "icmpv6" | number;
  src?: string; // address or CIDR
  dst?: string;
  srcPorts?: { from: number; to: number };
  dstPorts?: { from: number; to: number };
}

export interface Acl {
  rules: AclRule[];
  defaultAction: AclAction;
}

export const MAX_ACL_RULES = 64;
const PROTOCOLS = ["tcp", "udp", "icmp", "icmpv6"] as const;

function portRange(r: InputReader, name: string): { from: number; to: number } | undefined {
  const v = r.raw(name);
  if (v === undefined || v === null) return undefined;
  const field = r.path(name);
  if (typeof v === "number" && Number.isInteger(v) && v >= 0 && v <= 65535) return { from: v, to: v };
  // The normalized form this reader returns: check hands it to create, which reads it again.
  if (v !== null && typeof v === "object" && !Array.isArray(v)) {
    const { from, to, ...rest } = v as Record<string, unknown>;
    const port = (p: unknown) => typeof p === "number" && Number.isInteger(p) && p >= 0 && p <= 65535;
    if (Object.keys(rest).length === 0 && port(from) && port(to) && (from as number) <= (to as number)) return { from: from as number, to: to as number };
  }
  if (typeof v === "string") {
    const m = /^([0-9]{1,5})(?:-([0-9]{1,5}))?$/.exec(v);
    if (m) {
      const from = Number(m[1]);
      const to = m[2] === undefined ? from : Number(m[2]);
      if (from <= 65535 && to <= 65535 && from <= to) return { from, to };
    }
  }
  r.fail(field, `${JSON.stringify(v)} is not a port or a port range like "1000-2000"`);
  return undefined;
}

export function readAcl(r: InputReader, name: string): Acl | undefined {
  return r.object(name, (a) => {
    const rules = a.array("rules", (rr, value) => {
      if (value === null || typeof value !== "object") {
        rr.fail(rr.path(""), "must be an object");
        return undefined;
      }
      const action = rr.oneOf("action", ["allow", "deny"] as const);
      const protoRaw = rr.raw("protocol");
      let protocol: AclRule["protocol"];
      if (typeof protoRaw === "number" && Number.isInteger(protoRaw) && protoRaw >= 0 && protoRaw <= 255) protocol = protoRaw;
      else if (typeof protoRaw === "string" && (PROTOCOLS as readonly string[]).includes(protoRaw)) protocol = protoRaw as AclRule["protocol"];
      else if (protoRaw !== undefined && protoRaw !== null) rr.fail(rr.path("protocol"), `${JSON.stringify(protoRaw)} is not one of ${PROTOCOLS.join(", ")} or a protocol number 0-255`);
      const src = rr.ip("src", { optional: true, prefix: true });
      const dst = rr.ip("dst", { optional: true, prefix: true });
      const srcPorts = portRange(rr, "srcPorts");
      const dstPorts = portRange(rr, "dstPorts");
      if ((srcPorts || dstPorts) && protocol !== "tcp" && protocol !== "udp" && protocol !== 6 && protocol !== 17) {
        rr.fail(rr.path("protocol"), "must be tcp or udp when ports are given");
      }
      if (action === undefined) return undefined;
      const rule: AclRule = { action };
      if (protocol !== undefined) rule.protocol = protocol;
      if (src) rule.src = src;
      if (dst) rule.dst = dst;
      if (srcPorts) rule.srcPorts = srcPorts;
      if (dstPorts) rule.dstPorts = dstPorts;
      return rule;
    }, { optional: true, max: MAX_ACL_RULES });
    const defaultAction = a.oneOf("defaultAction", ["allow", "deny"] as const, { default: "allow" })!;
    return { rules, defaultAction };
  }, { optional: true });
}

export function readAdopt(r: InputReader): boolean {
  return r.bool("adopt", { default: false })!;
}

/** The identity of a named device in an optional netns: what show and remove take. */
export function readNamedDevice(raw: unknown): { name: string; netns?: string } {
  const r = InputReader.of(raw);
  const name = r.ifname("name")!;
  const netns = r.netns("netns");
  r.finish();
  return netns ? { name, netns } : { name };
}

/**
 * Who asks, carried on every apply and remove (DESIGN.md: every object has an owner and
 * the identity of the operation that made it). `owner` is "<project>/<stack>/<Type>/<name>"
 * (the SDK sets it from the resource's URN parts); `op` is a random id the provider draws
 * once per create or update, so a retry of that same request carries the same `op`.
 * Both are optional on the wire: tools and tests that call the helper directly may omit
 * them, and an object made without an owner belongs to nobody (any owner may converge it).
 * Every kind takes them nested, as `ownership: {owner, op}` (OWNERSHIP_FIELD): no kind's
 * own fields may clash with them (a tap's `owner` is its uid/gid).
 */
export interface Ownership {
  owner?: string;
  op?: string;
}

/** The args field that carries Ownership, for every kind. */
export const OWNERSHIP_FIELD = "ownership";

// No control characters, quotes or backslashes: owners land in records and messages.
export const OWNER_TEXT = /^[^\x00-\x1f\x7f"'\\]{1,512}$/u;
export const OP_TEXT = /^[A-Za-z0-9-]{8,64}$/;

export function readOwnership(r: InputReader): Ownership {
  return r.object(OWNERSHIP_FIELD, readOwnershipFields, { optional: true }) ?? {};
}

function readOwnershipFields(r: InputReader): Ownership {
  const owner = r.string("owner", { optional: true, check: (s) => (OWNER_TEXT.test(s) ? undefined : "must be 1-512 characters without control characters, quotes or backslashes") });
  const op = r.string("op", { optional: true, check: (s) => (OP_TEXT.test(s) ? undefined : "must be 8-64 letters, digits or dashes") });
  const out: Ownership = {};
  if (owner !== undefined) out.owner = owner;
  if (op !== undefined) out.op = op;
  return out;
}
