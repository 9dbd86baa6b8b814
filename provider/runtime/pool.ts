// One host pool per provider process: one SSH connection and one helper per host for
// the life of the process (DESIGN.md "Layers").
import * as path from "node:path";
import { HostPool } from "../transport/pool";
import { HostRequester } from "./requester";

let pool: HostPool | undefined;

/** dist/helper, beside dist/provider in the installed package. */
export function helperBundleDir(): string {
  return process.env.HVNET_HELPER_DIR ?? path.resolve(__dirname, "..", "..", "helper");
}

export function sharedPool(): HostRequester {
  if (!pool) {
    pool = new HostPool({ helperDir: helperBundleDir() });
    // The dynamic provider process ends when the engine is done with it; close
    // connections then so sshd sees a clean exit and helpers see stdin close.
    process.once("beforeExit", () => {
      void pool?.close();
      pool = undefined;
    });
  }
  return pool;
}

/** Closes the shared pool now (a Pulumi program that probed hosts must, or it never exits). */
export async function closeSharedPool(): Promise<void> {
  const p = pool;
  pool = undefined;
  await p?.close();
}
