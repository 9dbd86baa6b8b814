// The object Pulumi serializes into every resource's state. It captures nothing but the
// type name: no SSH client, no class instance, no secret. Each method loads the runtime
// from the installed package at call time.
import * as pulumi from "@pulumi/pulumi";

// Pulumi caches a provider's serialized text by object identity (a WeakMap in
// @pulumi/pulumi/dynamic): one object per type is serialized once, not once per resource.
const shims = new Map<string, pulumi.dynamic.ResourceProvider>();

export function providerShim(typeName: string): pulumi.dynamic.ResourceProvider {
  let shim = shims.get(typeName);
  if (!shim) {
    shim = makeShim(typeName);
    shims.set(typeName, shim);
  }
  return shim;
}

function makeShim(typeName: string): pulumi.dynamic.ResourceProvider {
  return {
    // The stack config of the current run: refresh and destroy reach a host through its
    // current connection (a rotated host key) rather than the one recorded in the state.
    async configure(req: pulumi.dynamic.ConfigureRequest) {
      require("@hvnet/pulumi/dist/provider/runtime/dynamic").configure(req.config);
    },
    async check(olds: any, news: any) {
      return require("@hvnet/pulumi/dist/provider/runtime/dynamic").check(typeName, olds, news);
    },
    async diff(id: string, olds: any, news: any) {
      return require("@hvnet/pulumi/dist/provider/runtime/dynamic").diff(typeName, id, olds, news);
    },
    async create(inputs: any) {
      return require("@hvnet/pulumi/dist/provider/runtime/dynamic").create(typeName, inputs);
    },
    async read(id: string, props: any) {
      return require("@hvnet/pulumi/dist/provider/runtime/dynamic").read(typeName, id, props);
    },
    async update(id: string, olds: any, news: any) {
      return require("@hvnet/pulumi/dist/provider/runtime/dynamic").update(typeName, id, olds, news);
    },
    async delete(id: string, props: any) {
      return require("@hvnet/pulumi/dist/provider/runtime/dynamic").remove(typeName, id, props);
    },
  };
}
