// The BPF layer of the helper's kernel bindings, one module per kernel object
// (in the manner of cilium/ebpf): objects, programs, maps, links, pins.
export { BpfObject } from "./object";
export type { BpfObjectOpenOptions } from "./object";
export { BpfProgram, xdpMd } from "./prog";
export type { TestRunOptions, TestRunResult } from "./prog";
export { BpfMap, possibleCpus, isPerCpuMapType, createPinnedMap } from "./map";
export type { MapCreateSpec } from "./map";
export { BpfLink, mprogPlacement } from "./link";
export type { XdpMode, NetkitAttachOptions, MprogAnchor } from "./link";
export { ensureBpffs, isBpffs, isUnderBpffs, mkdirp, mkdirpBpffs, removePin, pinFd, openPin, pruneEmptyBpffsDirs, BPF_FS_MAGIC, DEFAULT_BPFFS } from "./pin";
export { libbpfVersion } from "./version";
export { encodeDevmapValue, decodeDevmapValue, encodeU32Key, DEVMAP_VALUE_SIZE } from "./devmap";
export type { DevmapValue } from "./devmap";
export {
  AttachType,
  AttachFlags,
  LinkType,
  MapType,
  ProgType,
  XdpFlags,
  BPF_ANY,
  BPF_NOEXIST,
  BPF_EXIST,
  BPF_F_TEST_XDP_LIVE_FRAMES,
} from "./internal/attr";
export type { ProgInfo, MapInfo, LinkInfo } from "./internal/info";
