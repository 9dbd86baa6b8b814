// The provider runtime as a stack drives it, without the Pulumi CLI: a lab host's
// connection as a program gives it, and creates through the runtime's own pool with the
// owner a stack's SDK sets (see readOwnership).
import { readFileSync } from "node:fs";
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
