// @hvnet/pulumi: typed resources for VM networking fast paths on Linux hypervisors.
export * from "./generated";
export * from "./components";
export * from "./rollout";
export * from "./lab";
export * from "./capabilities";
export * from "./targets";
export * from "./fleet";
