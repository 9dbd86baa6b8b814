// Offload features by name (what `ethtool -k/-K` shows): ETHTOOL_GSSET_INFO +
// ETHTOOL_GSTRINGS (ETH_SS_FEATURES) map names to bit positions, ETHTOOL_GFEATURES /
// ETHTOOL_SFEATURES read and change the bits (ethtool.h:1339-1452). Bit numbers differ
// between kernels, so names are always resolved against the running kernel.
import { EthtoolOperationError } from "./errors";
import { driverNameOf } from "./drvinfo";
import { EthtoolDevice } from "./ioctl";
import {
  decodeGfeatures,
  decodeGstrings,
  decodeSsetInfo,
  encodeGfeaturesRequest,
  encodeGstringsRequest,
  encodeSfeatures,
  encodeSsetInfoRequest,
  ETH_SS_FEATURES,
  FeatureBlock,
} from "./structs";

export interface FeatureState {
  name: string;
  bit: number;
  /** The driver lets it be changed (ethtool shows "[fixed]" when not). */
  changeable: boolean;
  requested: boolean;
  active: boolean;
}

/**
 * ethtool(8)'s short names for groups of features (its off_flag_def table), as patterns
 * over the kernel's feature names.
 */
const FEATURE_ALIASES: Record<string, RegExp> = {
  rx: /^rx-checksum$/,
  tx: /^tx-checksum-/,
  sg: /^tx-scatter-gather$/,
  tso: /^tx-tcp.*-segmentation$/,
  ufo: /^tx-udp-fragmentation$/,
  gso: /^tx-generic-segmentation$/,
  gro: /^rx-gro$/,
  lro: /^rx-lro$/,
  rxvlan: /^rx-vlan-hw-parse$/,
  txvlan: /^tx-vlan-hw-insert$/,
  ntuple: /^rx-ntuple-filter$/,
  rxhash: /^rx-hashing$/,
};

function featureNames(dev: EthtoolDevice, ifname: string): string[] {
  const info = encodeSsetInfoRequest([ETH_SS_FEATURES]);
  dev.ioctl(ifname, info);
  const count = decodeSsetInfo(info).get(ETH_SS_FEATURES) ?? 0;
  const b = encodeGstringsRequest(ETH_SS_FEATURES, count);
  dev.ioctl(ifname, b);
  return decodeGstrings(b);
}

function readBlocks(dev: EthtoolDevice, ifname: string): FeatureBlock[] {
  // A request with size 0 makes the kernel report its word count and copy nothing.
  const probe = encodeGfeaturesRequest(0);
  dev.ioctl(ifname, probe);
  const words = decodeGfeatures(probe).size;
  const b = encodeGfeaturesRequest(words);
  dev.ioctl(ifname, b);
  return decodeGfeatures(b).blocks;
}

function stateOf(names: string[], blocks: FeatureBlock[]): Map<string, FeatureState> {
  const out = new Map<string, FeatureState>();
  names.forEach((name, bit) => {
    const blk = blocks[bit >> 5];
    if (!blk || name === "") return;
    const m = 1 << (bit & 31);
    out.set(name, {
      name,
      bit,
      changeable: (blk.available & m) !== 0,
      requested: (blk.requested & m) !== 0,
      active: (blk.active & m) !== 0,
    });
  });
  return out;
}

export function getFeatures(dev: EthtoolDevice, ifname: string): Map<string, FeatureState> {
  return stateOf(featureNames(dev, ifname), readBlocks(dev, ifname));
}

export interface SetFeaturesResult {
  features: Map<string, FeatureState>;
  /** Names the kernel accepted but did not turn to the wanted state (dependencies). */
  unmet: string[];
  changed: boolean;
}

/**
 * Sets features by kernel name ("rx-gro", "tx-checksum-ip-generic") or ethtool short
 * name ("gro", "rxvlan", "tso"). Fixed features already in the wanted state are fine;
 * fixed features in the other state are an error naming the driver.
 */
export function setFeatures(dev: EthtoolDevice, ifname: string, want: Record<string, boolean>): SetFeaturesResult {
  const names = featureNames(dev, ifname);
  const blocks = readBlocks(dev, ifname);
  const before = stateOf(names, blocks);

  const targets = new Map<string, boolean>(); // kernel name → wanted
  for (const [key, on] of Object.entries(want)) {
    if (before.has(key)) {
      const f = before.get(key)!;
      if (!f.changeable && f.active !== on) {
        throw new EthtoolOperationError(
          `${ifname}: feature ${key} is fixed ${f.active ? "on" : "off"} by driver ${driverNameOf(dev, ifname) ?? "(unknown)"}`,
          ifname,
          driverNameOf(dev, ifname),
        );
      }
      if (f.changeable) targets.set(key, on);
      continue;
    }
    const alias = FEATURE_ALIASES[key];
    if (!alias) throw new Error(`${ifname}: unknown feature ${JSON.stringify(key)}`);
    const members = [...before.values()].filter((f) => alias.test(f.name));
    const changeable = members.filter((f) => f.changeable);
    if (changeable.length === 0 && members.some((f) => f.active !== on)) {
      throw new EthtoolOperationError(
        `${ifname}: feature ${key} cannot be turned ${on ? "on" : "off"} (fixed by driver ${driverNameOf(dev, ifname) ?? "(unknown)"})`,
        ifname,
        driverNameOf(dev, ifname),
      );
    }
    for (const f of changeable) targets.set(f.name, on);
  }

  const set = blocks.map(() => ({ valid: 0, requested: 0 }));
  let changed = false;
  for (const [name, on] of targets) {
    const f = before.get(name)!;
    if (f.requested === on && f.active === on) continue;
    const w = f.bit >> 5;
    const m = 1 << (f.bit & 31);
    set[w].valid |= m;
    if (on) set[w].requested |= m;
    changed = true;
  }
  if (changed) dev.ioctl(ifname, encodeSfeatures(set));

  const after = changed ? getFeatures(dev, ifname) : before;
  const unmet = [...targets].filter(([name, on]) => after.get(name)?.active !== on).map(([name]) => name);
  return { features: after, unmet, changed };
}
