// create / read / update / delete of any resource kind, over a host's helper.
// Ids are self-describing, `<host>/<kind>/<object>`, so read needs only the id.
import { randomUUID } from "node:crypto";
import { OWNERSHIP_FIELD } from "../common/args/common";
import { ResourceKind } from "../kinds/kind";
import { HostSpec, hostIdentity } from "../transport/host-spec";
import { HostRequester } from "./requester";
import { RUNTIME_PROPS } from "./check";
import { omit, pick } from "./values";

type Props = Record<string, unknown>;

export function resourceId(kind: ResourceKind, host: HostSpec, args: Props, outputs: Props): string {
  return `${encodeURIComponent(hostIdentity(host))}/${kind.kind}/${kind.objectKey(args, outputs)}`;
}

export function parseResourceId(id: string): { host: string; kind: string; key: string } {
  const [host, kind, ...rest] = id.split("/");
  if (!host || !kind || rest.length === 0) throw new Error(`"${id}" is not an hvnet resource id (<host>/<kind>/<object>)`);
  return { host: decodeURIComponent(host), kind, key: rest.join("/") };
}

function helperArgs(inputs: Props): Props {
  return omit(inputs, RUNTIME_PROPS);
}

/**
 * Who asks, as the helper reads it: the resource's owner (the SDK's hidden `__owner`)
 * and, for an apply, the operation's identity. The op is drawn once per create or update
 * and lives in the request's args, so the transport's retry of that request on a new
 * helper carries the same op and the helper converges what the first attempt made.
 */
function ownership(props: Props, op?: string): Props {
  const who: Props = {};
  if (typeof props.__owner === "string") who.owner = props.__owner;
  if (op !== undefined) who.op = op;
  return Object.keys(who).length === 0 ? {} : { [OWNERSHIP_FIELD]: who };
}

/**
 * The SDK's "initialization failed" path: the object exists on the host but is not what
 * was asked. Pulumi records it under its id and the next `up` converges it.
 */
export class PartialCreateError extends Error {
  constructor(message: string, readonly id: string, readonly properties: Props, readonly reasons: string[]) {
    super(message);
  }
}

export async function createResource(pool: HostRequester, kind: ResourceKind, inputs: Props): Promise<{ id: string; outs: Props }> {
  const host = inputs.host as HostSpec;
  const args = helperArgs(inputs);
  try {
    const outputs = (await pool.request(host, `${kind.kind}.apply`, { ...args, ...ownership(inputs, randomUUID()) })) as Props;
    return { id: resourceId(kind, host, args, outputs), outs: { ...inputs, ...pick(outputs, kind.outputs) } };
  } catch (err) {
    // Did anything stay behind? Then Pulumi must know of it (partial state), not lose it.
    // EEXIST is a refusal to take over someone else's object: what this resource made
    // earlier (same owner) or a retry of this request made (same op) converges on the
    // helper instead, so nothing of ours is behind a refusal.
    if ((err as { code?: string }).code === "EEXIST") throw err;
    let shown: Props | null = null;
    try {
      shown = (await pool.request(host, `${kind.kind}.show`, kind.identity(args as never, {}))) as Props | null;
    } catch {
      shown = null;
    }
    if (!shown) throw err;
    const id = resourceId(kind, host, args, shown);
    throw new PartialCreateError((err as Error).message, id, { ...inputs, ...pick(shown, kind.outputs) }, [(err as Error).message]);
  }
}

export async function readResource(pool: HostRequester, kind: ResourceKind, id: string, props: Props): Promise<{ id: string; props: Props }> {
  const host = props.host as HostSpec | undefined;
  if (!host) throw new Error(`cannot read ${id}: no host connection in its state (import needs the host's connection as inputs)`);
  const { key } = parseResourceId(id);
  const identity = Object.keys(props).length > 1 ? kind.identity(helperArgs(props) as never, props) : kind.parseKey(key);
  const shown = (await pool.request(host, `${kind.kind}.show`, identity)) as Props | null;
  if (!shown) return { id: "", props: {} };
  // Live values replace the recorded ones, so `refresh` shows drift and the next `up` repairs it.
  // Only for what the state holds (inputs given, declared outputs): a live value of an input
  // left unset (a tap's MTU) is not drift, and would show as a change at every refresh.
  if (Object.keys(helperArgs(props)).length === 0) return { id, props: { ...props, ...shown } }; // import: all we know
  const known = Object.keys(shown).filter((k) => k in props || kind.outputs.includes(k));
  return { id, props: { ...props, ...pick(shown, known) } };
}

export async function updateResource(pool: HostRequester, kind: ResourceKind, _id: string, olds: Props, news: Props): Promise<{ outs: Props }> {
  const host = news.host as HostSpec;
  // Ours already: the helper converges it for its owner. A state from before owners were
  // recorded, or a resource renamed since (an alias: the owner string names the resource),
  // cannot show the recorded owner, so it takes its object over and records the owner now;
  // an object someone else has adopted since is refused, naming them. Identity outputs
  // (the kernel's RSS context id) travel along so the helper converges the same object.
  const adopt = news.adopt === true || typeof olds.__owner !== "string" || olds.__owner !== news.__owner;
  const args = { ...helperArgs(news), adopt, ...pick(olds, kind.identityOutputs), ...ownership(news, randomUUID()) };
  const outputs = (await pool.request(host, `${kind.kind}.apply`, args)) as Props;
  return { outs: { ...news, ...pick(outputs, kind.outputs) } };
}

/**
 * Removes the object if this resource owns it. Another owner's object stays on the host
 * and the delete still succeeds (this stack forgets it): the answer names the owner.
 */
export async function deleteResource(pool: HostRequester, kind: ResourceKind, id: string, props: Props): Promise<{ keptFor?: string }> {
  const host = props.host as HostSpec;
  const identity = { ...kind.identity(helperArgs(props) as never, props), ...ownership(props) };
  const result = (await pool.request(host, `${kind.kind}.remove`, identity)) as { removed?: boolean; owner?: unknown } | null;
  if (result && result.removed === false && typeof result.owner === "string") {
    console.warn(`hvnet: ${kind.typeName} ${id} was left on the host: it is owned by ${result.owner}, and only its owner's delete removes it`);
    return { keptFor: result.owner };
  }
  return {};
}
