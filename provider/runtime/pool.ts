// One host pool per provider process: one SSH connection and one helper per host for
// the life of the process (DESIGN.md "Layers"), with the shows of a refresh answered
// from table dumps where a kind has them (read-ahead.ts).
import { writeFileSync } from "node:fs";
import * as path from "node:path";
import { HostPool } from "../transport/pool";
import { hostIdentity, type HostSpec } from "../transport/host-spec";
import { HostRequester } from "./requester";
import { ReadAheadRequester } from "./read-ahead";
import { KINDS, type ReadAhead } from "../kinds";
import { envSeconds } from "../transport/env-seconds";

let pool: HostPool | undefined;
/** The pool as the runtime sends through it: counted when asked, with read-ahead. */
let requester: HostRequester | undefined;
/** The hosts this process sent requests to, for the counters below. */
const seen = new Set<string>();

/** dist/helper, beside dist/provider in the installed package. */
export function helperBundleDir(): string {
  return process.env.HVNET_HELPER_DIR ?? path.resolve(__dirname, "..", "..", "helper");
}

/**
 * HVNET_POOL_STATS=PREFIX: the provider process keeps PREFIX.<pid> up to date with one
 * JSON line per host of its counters (requests, messages, batches, dials, helper starts),
 * rewritten as each request settles: the engine may end the process with a signal, so
 * nothing waits for an exit (a few µs per request, and only when asked for). It shows
 * whether a `pulumi refresh` or `up` reached the helper in batches (the stack benchmark
 * reads it). Nothing of a host but its name.
 */
function writeStats(p: HostPool): void {
  const prefix = process.env.HVNET_POOL_STATS;
  if (!prefix) return;
  try {
    const lines = [...seen].map((host) => JSON.stringify({ pid: process.pid, host, requests: requests.get(host) ?? 0, ...p.stats(host) }));
    writeFileSync(`${prefix}.${process.pid}`, `${lines.join("\n")}\n`);
  } catch {
    // counters are for measurement only: never fail the provider over them
  }
}

const requests = new Map<string, number>();

/** The shows answered from one dump of their scope, by show op (runtime/read-ahead.ts). */
function readAheads(): Map<string, ReadAhead> {
  return new Map(Object.values(KINDS).flatMap((k) => (k.readAhead ? [[`${k.kind}.show`, k.readAhead] as const] : [])));
}

/** HVNET_READ_AHEAD: how old (seconds) a dump may be to answer a show; 0 turns read-ahead off. */
const DEFAULT_READ_AHEAD_MS = 1_000;

export function sharedPool(): HostRequester {
  if (!requester) {
    const windowMs = envSeconds("HVNET_READ_AHEAD", DEFAULT_READ_AHEAD_MS, { zeroTurnsOff: true });
    const p = new HostPool({ helperDir: helperBundleDir() });
    pool = p;
    requester = new ReadAheadRequester(process.env.HVNET_POOL_STATS ? counted(p) : p, readAheads(), windowMs);
    // The dynamic provider process ends when the engine is done with it; close
    // connections then so sshd sees a clean exit and helpers see stdin close.
    process.once("beforeExit", () => {
      void p.close();
      if (pool === p) {
        pool = undefined;
        requester = undefined;
      }
    });
  }
  return requester;
}

/** The pool, counting what this process sends each host (HVNET_POOL_STATS). */
function counted(p: HostPool): HostRequester {
  return {
    request: (spec: HostSpec, op: string, args?: unknown) => {
      const name = spec && typeof spec === "object" && typeof spec.address === "string" ? hostIdentity(spec) : "host";
      seen.add(name);
      requests.set(name, (requests.get(name) ?? 0) + 1);
      const done = p.request(spec, op, args);
      void done.finally(() => writeStats(p)).catch(() => undefined);
      return done;
    },
  };
}

/** Closes the shared pool now (a Pulumi program that probed hosts must, or it never exits). */
export async function closeSharedPool(): Promise<void> {
  const p = pool;
  pool = undefined;
  requester = undefined;
  await p?.close();
}
