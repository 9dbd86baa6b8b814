// The ethtool ioctl layer: structs (byte layouts) → ioctl (the kernel boundary) → one
// module per job (channels, rss, ntuple, features, drvinfo).
export * from "./errors";
export * from "./ioctl";
export * from "./channels";
export * from "./drvinfo";
export * from "./features";
export * from "./rss";
export * from "./ntuple";
export { encodeFlowRule, decodeFlowRule } from "./flow";
export type { FlowType } from "./flow";
