// The object Pulumi serializes into every resource's state. It captures nothing but the
// type name: no SSH client, no class instance, no secret. Each method loads the runtime
// from the installed package at call time.
import * as pulumi from "@pulumi/pulumi";

export function providerShim(typeName: string): pulumi.dynamic.ResourceProvider {
  return {
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
