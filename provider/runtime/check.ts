// check: validates and normalizes a resource's inputs without touching any host.
import { ResourceKind } from "../resources/kind";
import { InputReader } from "../helper/validate/reader";
import { ValidationError } from "../helper/validate/errors";
import { HostSpec, validateHostSpec, withDefaults } from "../transport/host-spec";
import { omit } from "./values";

export interface CheckFailure {
  property: string;
  reason: string;
}

/** Properties the runtime handles itself and never sends to the helper. */
// __owner: "<project>/<stack>/<Type>/<name>", set by the SDK constructor (see readOwnership).
export const RUNTIME_PROPS = ["host", "__provider", "__owner"];

export function checkInputs(kind: ResourceKind, news: Record<string, unknown>): { inputs: Record<string, unknown>; failures: CheckFailure[] } {
  const failures: CheckFailure[] = [];
  for (const message of validateHostSpec(news.host, "host")) {
    failures.push({ property: message.split(/[ :]/)[0] || "host", reason: message });
  }
  let args: Record<string, unknown> = {};
  try {
    args = kind.readArgs(InputReader.of(omit(news, RUNTIME_PROPS))) as Record<string, unknown>;
  } catch (err) {
    if (!(err instanceof ValidationError)) throw err;
    for (const p of err.problems) failures.push({ property: p.field, reason: `${kind.typeName}.${p.field}: ${p.message}` });
  }
  if (failures.length) return { inputs: news, failures };
  const inputs: Record<string, unknown> = { ...args, host: withDefaults(news.host as HostSpec) };
  return { inputs, failures };
}

/** The same checks for code that is not Pulumi's check (create, update): throw on failure. */
export function requireValidInputs(kind: ResourceKind, news: Record<string, unknown>): Record<string, unknown> {
  const { inputs, failures } = checkInputs(kind, news);
  if (failures.length) throw new Error(failures.map((f) => f.reason).join("; "));
  return inputs;
}
