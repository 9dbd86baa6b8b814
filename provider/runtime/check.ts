// check: validates and normalizes a resource's inputs without touching any host.
import { ResourceKind } from "../kinds/kind";
import { InputReader, containsUnknown } from "../common/validate/reader";
import { ValidationError } from "../common/validate/errors";
import { connectionKey, describeConnection, hostIdentity, HostSpec, validateHostSpec, withDefaults } from "../transport/host-spec";
import { omit } from "./values";

export interface CheckFailure {
  property: string;
  reason: string;
}

/** Properties the runtime handles itself and never sends to the helper. */
// __owner: "<project>/<stack>/<Type>/<name>", set by the SDK constructor (see readOwnership).
export const RUNTIME_PROPS = ["host", "__provider", "__owner", "__host"];

/**
 * The connection each host name was first checked with in this provider process (all of a
 * stack's dynamic resources share one): a name is a machine's identity in resource ids,
 * so one name used for two machines would send one's objects to the other.
 */
const connections = new Map<string, { key: string; spec: HostSpec }>();

/** For tests: forget the names checked so far (a new provider process). */
export function forgetCheckedHosts(): void {
  connections.clear();
}

function lookAlikeProblem(spec: HostSpec): string | undefined {
  if (containsUnknown(spec)) return undefined; // checked again at `up`, when known
  const name = hostIdentity(spec);
  const key = connectionKey(spec);
  const first = connections.get(name);
  if (!first) {
    connections.set(name, { key, spec });
    return undefined;
  }
  if (first.key === key) return undefined;
  // Sorted: Pulumi checks resources concurrently, and the message must not depend on
  // which of the two it happened to check first.
  const [a, b] = [describeConnection(first.spec), describeConnection(spec)].sort();
  const how = a === b ? `${a}, with different host keys` : `${a} and ${b}`;
  return `host.name "${name}" names two different connections in this stack: ${how}. A name is one machine's identity: give each machine its own name, or the same connection details everywhere`;
}

export function checkInputs(kind: ResourceKind, news: Record<string, unknown>): { inputs: Record<string, unknown>; failures: CheckFailure[] } {
  const failures: CheckFailure[] = [];
  const hostProblems = validateHostSpec(news.host, "host");
  for (const message of hostProblems) {
    failures.push({ property: message.split(/[ :]/)[0] || "host", reason: message });
  }
  if (hostProblems.length === 0) {
    const lookAlike = lookAlikeProblem(news.host as HostSpec);
    if (lookAlike) failures.push({ property: "host.name", reason: lookAlike });
  }
  let args: Record<string, unknown> = {};
  try {
    args = kind.readArgs(InputReader.of(omit(news, RUNTIME_PROPS))) as Record<string, unknown>;
  } catch (err) {
    if (!(err instanceof ValidationError)) throw err;
    for (const p of err.problems) failures.push({ property: p.field, reason: `${kind.typeName}.${p.field}: ${p.message}` });
  }
  if (typeof news.__owner !== "undefined" && typeof news.__owner !== "string") {
    failures.push({ property: "__owner", reason: `${kind.typeName}.__owner must be a string (the SDK sets it)` });
  }
  if (failures.length) return { inputs: news, failures };
  const inputs: Record<string, unknown> = { ...args, host: withDefaults(news.host as HostSpec) };
  // Kept for create/update, which record it on the host with the object.
  if (news.__owner !== undefined) inputs.__owner = news.__owner;
  return { inputs, failures };
}

/** The same checks for code that is not Pulumi's check (create, update): throw on failure. */
export function requireValidInputs(kind: ResourceKind, news: Record<string, unknown>): Record<string, unknown> {
  const { inputs, failures } = checkInputs(kind, news);
  if (failures.length) throw new Error(failures.map((f) => f.reason).join("; "));
  return inputs;
}
