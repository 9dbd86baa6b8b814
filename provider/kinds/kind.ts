// What the runtime needs to know of a resource kind: how to read its inputs, how it is
// named in ids, and which input changes replace it (DESIGN.md "Resources"). The facts
// (inputs, replacing inputs, outputs, identity) are schema.json's, through the generated
// provider/common/schema-facts.ts; a kind's own module holds only its code.
import { InputReader } from "../common/validate/reader";
import { RESOURCE_FACTS, TypeName } from "../common/schema-facts";
import { ResourceFacts } from "../common/resource-facts";

/**
 * How the shows of a kind with thousands of objects per scope (FdbEntry: per table) are
 * answered from one dump of the scope (runtime/read-ahead.ts).
 */
export interface ReadAhead {
  /** The helper op that reports every object of one scope, each as show reports it; null when the scope is gone. */
  dumpOp: string;
  /** A show's scope (a string key, and the dump's args) and the object's key in it; undefined when it is not a valid identity. */
  locate(identity: unknown): { scope: string; args: Record<string, unknown>; entry: string } | undefined;
  /** The key of one object of a dump, as locate names it. */
  entryKey(object: Record<string, unknown>): string;
}

export interface ResourceKind<Args extends object = any> extends ResourceFacts {
  /** Helper op prefix and id segment: `<host>/<kind>/<object>`. */
  kind: "rss" | "netkit" | "xdp" | "fdb" | "fdbtable" | "vmif";
  /** Pulumi type name: `hvnet:<typeName>`. */
  typeName: TypeName;
  /** Validates and normalizes the inputs other than `host`; throws ValidationError. */
  readArgs(r: InputReader): Args;
  /** The object part of the id; may use outputs (e.g. the kernel's RSS context id). */
  objectKey(args: Args, outputs: Record<string, unknown>): string;
  /** Inverse of objectKey: the identity fields needed to show or remove the object. */
  parseKey(key: string): Record<string, unknown>;
  /** The fields the helper's show/remove take, picked from inputs and outputs. */
  identity(args: Args, outputs: Record<string, unknown>): Record<string, unknown>;
  readAhead?: ReadAhead;
}

/** A kind's own code; `identity` defaults to the declared identity fields (declaredIdentity). */
type KindCode<Args extends object> = Pick<ResourceKind<Args>, "kind" | "readArgs" | "objectKey" | "parseKey"> &
  Partial<Pick<ResourceKind<Args>, "identity" | "readAhead">>;

/** The kind of schema.json's resource `typeName`: its declared facts and its code. */
export function describeKind<Args extends object>(typeName: TypeName, code: KindCode<Args>): ResourceKind<Args> {
  const facts = RESOURCE_FACTS[typeName];
  return { ...facts, typeName, identity: (args, outputs) => declaredIdentity(facts, args, outputs), ...code };
}

/**
 * The declared identity fields (schema.json x-hvnet.identity) with their values: an output
 * from the outputs (the kernel's RSS context id), an input from the inputs. A field without
 * a value (an optional netns left unset) is left out.
 */
export function declaredIdentity(facts: ResourceFacts, args: object, outputs: Record<string, unknown>): Record<string, unknown> {
  const id: Record<string, unknown> = {};
  for (const field of facts.identityFields) {
    const value = facts.outputs.includes(field) ? outputs[field] : (args as Record<string, unknown>)[field];
    if (value !== undefined && value !== null && value !== "") id[field] = value;
  }
  return id;
}

/** Id segments may hold '/' (netns paths, pin paths): each is URI-encoded. */
export function keyOf(...parts: (string | number | undefined)[]): string {
  return parts.map((p) => encodeURIComponent(p === undefined ? "" : String(p))).join("/");
}

export function partsOf(key: string): string[] {
  return key.split("/").map(decodeURIComponent);
}
