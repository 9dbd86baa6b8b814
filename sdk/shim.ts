// The dynamic provider Pulumi stores with every resource (the `__provider` property, in
// its inputs and again in its outputs). The engine's dynamic-provider host loads it with
// require-from-string and calls `handler()` for the provider object, so any CommonJS text
// exporting `handler` works: this one is a single line that loads the provider from the
// installed package. It captures nothing (no SSH client, no class instance, no secret)
// and costs about 100 bytes, where Pulumi's closure serialization of the same object
// wrote 2.8 KB (a wrapper per method).
const RUNTIME = "@hvnet/pulumi/dist/provider/runtime/dynamic";

export function providerModule(typeName: string): string {
  if (!/^[A-Za-z]+$/.test(typeName)) throw new Error(`hvnet: "${typeName}" is not a resource type name`);
  return `exports.handler=()=>require(${JSON.stringify(RUNTIME)}).provider(${JSON.stringify(typeName)})`;
}
