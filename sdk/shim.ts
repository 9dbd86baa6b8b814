// The dynamic provider Pulumi stores with every resource (the `__provider` property, in
// its inputs and again in its outputs). The engine's dynamic-provider host loads it with
// require-from-string and calls `handler()` for the provider object, so any CommonJS text
// exporting `handler` works: this one is a single line that loads the provider from the
// installed package, through this module (the shortest path in it). It captures nothing
// (no SSH client, no class instance, no secret) and costs about 70 bytes, where Pulumi's
// closure serialization of the same object wrote 2.8 KB (a wrapper per method).
const SELF = "@hvnet/pulumi/dist/sdk/shim";

export function providerModule(typeName: string): string {
  if (!/^[A-Za-z]+$/.test(typeName)) throw new Error(`hvnet: "${typeName}" is not a resource type name`);
  return `exports.handler=()=>require(${JSON.stringify(SELF)}).p(${JSON.stringify(typeName)})`;
}

type Runtime = typeof import("../provider/runtime/dynamic");

/**
 * The provider runtime, loaded on first use. The SDK's one way into it: the provider
 * objects below and the program's capability checks (sdk/capabilities.ts) share its pool.
 */
export function runtime(): Runtime {
  // eslint-disable-next-line @typescript-eslint/no-require-imports
  return require("../provider/runtime/dynamic") as Runtime;
}

/** The provider object of a type (what the line above calls); the runtime loads only when a provider is. */
export function p(typeName: string): object {
  return runtime().provider(typeName);
}
