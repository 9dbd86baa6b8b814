// One host pool per provider process: one SSH connection and one helper per host for
// the life of the process (DESIGN.md "Layers").
import { writeFileSync } from "node:fs";
import * as path from "node:path";
import { HostPool } from "../transport/pool";
import { hostIdentity, type HostSpec } from "../transport/host-spec";
import { HostRequester } from "./requester";

let pool: HostPool | undefined;
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

export function sharedPool(): HostRequester {
  if (!pool) {
    const p = new HostPool({ helperDir: helperBundleDir() });
    pool = p;
    // The dynamic provider process ends when the engine is done with it; close
    // connections then so sshd sees a clean exit and helpers see stdin close.
    process.once("beforeExit", () => {
      void p.close();
      pool = undefined;
    });
  }
  const p = pool;
  if (!process.env.HVNET_POOL_STATS) return p;
  return {
    request: (spec: HostSpec, op: string, args?: unknown) => {
      const name = spec && typeof spec === "object" && typeof spec.address === "string" ? hostIdentity(spec) : "host";
      seen.add(name);
      requests.set(name, (requests.get(name) ?? 0) + 1);
      const done = p.request(spec, op, args);
      void done.finally(() => writeStats(p)).catch(() => undefined);
      return done;
    },
  } as HostRequester;
}

/** Closes the shared pool now (a Pulumi program that probed hosts must, or it never exits). */
export async function closeSharedPool(): Promise<void> {
  const p = pool;
  pool = undefined;
  await p?.close();
}
