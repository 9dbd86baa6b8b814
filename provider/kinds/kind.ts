// What the runtime needs to know of a resource kind: how to read its inputs, how it is
// named in ids, and which input changes replace it (DESIGN.md "Resources").
import { InputReader } from "../common/validate/reader";

export interface ResourceKind<Args extends object = any> {
  /** Helper op prefix and id segment: `<host>/<kind>/<object>`. */
  kind: "rss" | "netkit" | "xdp" | "fdb" | "fdbtable" | "vmif";
  /** Pulumi type name: `hvnet:<typeName>`. */
  typeName: "RssContext" | "NetkitLower" | "XdpProgram" | "FdbEntry" | "FdbTable" | "VmInterface";
  /** Validates and normalizes the inputs other than `host`; throws ValidationError. */
  readArgs(r: InputReader): Args;
  /** The object part of the id; may use outputs (e.g. the kernel's RSS context id). */
  objectKey(args: Args, outputs: Record<string, unknown>): string;
  /** Inverse of objectKey: the identity fields needed to show or remove the object. */
  parseKey(key: string): Record<string, unknown>;
  /** Identity fields the helper's show/remove take, picked from inputs and outputs. */
  identity(args: Args, outputs: Record<string, unknown>): Record<string, unknown>;
  /** Inputs whose change replaces the object (host identity always does). */
  replaceOn: string[];
  /** The replacement must be deleted first: names clash or the kernel allows one at a time. */
  deleteBeforeReplace: boolean;
  /** Output property names the helper returns. */
  outputs: string[];
  /**
   * Outputs that are inputs as well, compared by diff like any other input (an output the
   * helper fills from an input: a tap's queue count, FdbTable's keyed entries).
   */
  outputsAlsoInputs?: string[];
  /**
   * Where the helper takes the caller's ownership ({owner, op}, readOwnership): top-level
   * fields unless the kind's own inputs already use the name `owner` (a tap's uid/gid),
   * in which case they travel nested under this field.
   */
  ownershipField?: string;
}

/** Id segments may hold '/' (netns paths, pin paths): each is URI-encoded. */
export function keyOf(...parts: (string | number | undefined)[]): string {
  return parts.map((p) => encodeURIComponent(p === undefined ? "" : String(p))).join("/");
}

export function partsOf(key: string): string[] {
  return key.split("/").map(decodeURIComponent);
}
