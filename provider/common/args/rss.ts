// RssContext inputs (DESIGN.md "RssContext"): a slice of a NIC's queues with flows steered into it.
import { InputReader } from "../validate/reader";
import { readAdopt, readOwnership, Ownership } from "./common";

export const FLOW_TYPES = ["ip4", "ip6", "tcp4", "udp4", "tcp6", "udp6", "ether"] as const;
export type FlowType = (typeof FLOW_TYPES)[number];
export const HASH_FUNCTIONS = ["toeplitz", "xor", "crc32"] as const;

export interface Flow {
  type: FlowType;
  dst?: string;
  src?: string;
  dstPort?: number;
  srcPort?: number;
}

export interface RssArgs extends Ownership {
  device: string;
  queues: { start: number; count: number };
  flows: Flow[];
  hashKey?: string;
  hashFunction?: (typeof HASH_FUNCTIONS)[number];
  shrinkDefault: boolean;
  /** The context this resource owns, once created (the provider passes it on update). */
  contextId?: number;
  adopt: boolean;
}

const HASH_KEY = /^[0-9a-f]{2}(:[0-9a-f]{2})*$/;

function readFlow(f: InputReader, index: number): Flow | undefined {
  const type = f.oneOf("type", FLOW_TYPES);
  if (!type) return undefined;
  const flow: Flow = { type };
  if (type === "ether") {
    const dst = f.mac("dst", { optional: true });
    const src = f.mac("src", { optional: true });
    if (dst) flow.dst = dst;
    if (src) flow.src = src;
    for (const port of ["dstPort", "srcPort"]) {
      if (f.has(port)) f.fail(f.path(port), "is not allowed on an ether flow");
      f.raw(port);
    }
  } else {
    const family = type.endsWith("6") ? 6 : 4;
    const dst = f.ip("dst", { optional: true, family });
    const src = f.ip("src", { optional: true, family });
    if (dst) flow.dst = dst;
    if (src) flow.src = src;
    const hasPorts = type.startsWith("tcp") || type.startsWith("udp");
    for (const port of ["dstPort", "srcPort"] as const) {
      if (!hasPorts) {
        if (f.has(port)) f.fail(f.path(port), `is only allowed on tcp and udp flows, not ${type}`);
        f.raw(port);
        continue;
      }
      const p = f.int(port, { optional: true, min: 1, max: 65535 });
      if (p !== undefined) flow[port] = p;
    }
  }
  if (flow.dst === undefined && flow.src === undefined && flow.dstPort === undefined && flow.srcPort === undefined) {
    f.fail(f.path("type"), `flow ${index} matches everything of type ${type}; give at least one of dst, src, dstPort, srcPort`);
  }
  return flow;
}

export function readRssArgs(r: InputReader): RssArgs {
  const device = r.ifname("device");
  const queues = r.queueRange("queues");
  const flows = r.array("flows", (f, _v, i) => readFlow(f, i), { optional: true, max: 1024 });
  const hashKey = r.string("hashKey", {
    optional: true,
    check: (s) => (HASH_KEY.test(s.toLowerCase()) ? undefined : "is not a hash key of hex bytes separated by ':'"),
  });
  const hashFunction = r.oneOf("hashFunction", HASH_FUNCTIONS, { optional: true });
  const shrinkDefault = r.bool("shrinkDefault", { default: true })!;
  const contextId = r.int("contextId", { optional: true, min: 1 });
  const adopt = readAdopt(r);
  const who = readOwnership(r);
  r.finish();
  const args: RssArgs = { device: device!, queues: queues!, flows, shrinkDefault, adopt, ...who };
  if (hashKey) args.hashKey = hashKey.toLowerCase();
  if (hashFunction) args.hashFunction = hashFunction;
  if (contextId !== undefined) args.contextId = contextId;
  return args;
}
