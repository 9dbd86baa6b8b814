// The provider runtime as a stack drives it, without the Pulumi CLI: a lab host's
// connection as a program gives it, and creates through the runtime's own pool with the
// owner a stack's SDK sets (see readOwnership); a lab with that pool for a test file.
import { existsSync, readFileSync } from "node:fs";
import path from "node:path";
import { labUp, type Lab } from "./lab";
import { requireCommand, requireRoot } from "./require-root";
import { HostPool } from "../../provider/transport/pool";
import type { LabInventoryHost } from "../../sdk/lab";
import type { HostSpec } from "../../provider/transport/host-spec";
import type { HostRequester } from "../../provider/runtime/requester";
import { KINDS } from "../../provider/kinds";
import { requireValidInputs } from "../../provider/runtime/check";
import { createResource } from "../../provider/runtime/operations";

/** The connection a program gives for a lab host (its private key read from its file). */
export function connectionOf(h: LabInventoryHost, overrides: Partial<HostSpec> = {}): HostSpec {
  return { name: h.name, address: h.address, port: h.port, user: h.user, hostKey: h.hostKey, privateKey: readFileSync(h.privateKeyPath, "utf8"), ...overrides };
}

/** Validated inputs of a resource, with the owner its stack's SDK would send. */
export function stackInputs(typeName: string, host: HostSpec, props: Record<string, unknown>, owner: string): Record<string, unknown> {
  return { ...requireValidInputs(KINDS[typeName], { host, ...props }), __owner: owner };
}

/** Creates a resource through the runtime, as one stack's `up` would. */
export function createAs(pool: HostRequester, typeName: string, host: HostSpec, props: Record<string, unknown>, owner = `hvt/test/${typeName}/r1`) {
  return createResource(pool, KINDS[typeName], stackInputs(typeName, host, props, owner));
}

export const HELPER_DIR = path.resolve(__dirname, "..", "..", "dist", "helper");

/**
 * A lab of `hosts` hosts and the runtime's own HostPool (the built helper), made in
 * beforeAll and removed in afterAll, passing or failing.
 */
export function labWithPool(hosts: number): { readonly lab: Lab; readonly pool: HostPool } {
  let lab: Lab | undefined;
  let pool: HostPool | undefined;
  beforeAll(async () => {
    requireRoot();
    requireCommand("bpftool");
    if (!existsSync(path.join(HELPER_DIR, "helper.js"))) throw new Error("dist/helper is missing: run make build");
    lab = await labUp({ hosts });
    pool = new HostPool({ helperDir: HELPER_DIR });
  }, 120_000);
  afterAll(async () => {
    await pool?.close();
    lab?.down();
  }, 60_000);
  return {
    get lab() {
      if (!lab) throw new Error("the lab did not come up");
      return lab;
    },
    get pool() {
      if (!pool) throw new Error("the lab did not come up");
      return pool;
    },
  };
}
