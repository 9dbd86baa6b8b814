// ntuple (RX classification) rules: ETHTOOL_GRXCLSRLCNT / GRXCLSRLALL / GRXCLSRULE /
// SRXCLSRLINS / SRXCLSRLDEL. There is no netlink op for these, so the ioctl is the only path.
//
// Locations: GRXCLSRLCNT reports the rule count in rule_cnt and the table size in data,
// with RX_CLS_LOC_SPECIAL set when the driver picks locations itself. Only then may a rule
// be inserted at RX_CLS_LOC_ANY (the driver writes the chosen location back); otherwise we
// pick a free slot, the highest one as ethtool(8) does (lowest priority, so our rules
// never shadow an operator's hand-made ones).
import { EthtoolError, EthtoolOperationError, NtupleUnsupportedError } from "./errors";
import { driverNameOf } from "./drvinfo";
import { decodeFlowRule, encodeFlowRule, FlowRule, InstalledRule } from "./flow";
import { EthtoolDevice } from "./ioctl";
import {
  decodeRxnfc,
  encodeRxnfc,
  ETHTOOL_GRXCLSRLALL,
  ETHTOOL_GRXCLSRLCNT,
  ETHTOOL_GRXCLSRULE,
  ETHTOOL_SRXCLSRLDEL,
  ETHTOOL_SRXCLSRLINS,
  emptyFlowSpec,
  Rxnfc,
  RX_CLS_LOC_ANY,
  RX_CLS_LOC_SPECIAL,
} from "./structs";

export type { FlowRule, InstalledRule, FlowMatch, FlowAction } from "./flow";

export interface RuleTableInfo {
  count: number;
  /** Rule table size; 0 when the driver chooses locations and does not say. */
  tableSize: number;
  /** The driver accepts RX_CLS_LOC_ANY and picks the location itself. */
  driverSelects: boolean;
}

function call(dev: EthtoolDevice, ifname: string, r: Partial<Rxnfc> & { cmd: number }, locsRoom = 0): Rxnfc {
  const b = encodeRxnfc(r, locsRoom);
  try {
    dev.ioctl(ifname, b);
  } catch (e) {
    if (e instanceof EthtoolError && e.code === "EOPNOTSUPP") {
      throw new NtupleUnsupportedError(ifname, driverNameOf(dev, ifname), e);
    }
    throw e;
  }
  return decodeRxnfc(b);
}

export function ruleTableInfo(dev: EthtoolDevice, ifname: string): RuleTableInfo {
  const r = call(dev, ifname, { cmd: ETHTOOL_GRXCLSRLCNT });
  const data = Number(r.data & 0xffffffffn);
  return {
    count: r.ruleCnt,
    tableSize: (data & ~RX_CLS_LOC_SPECIAL) >>> 0,
    driverSelects: (data & RX_CLS_LOC_SPECIAL) !== 0,
  };
}

/** Locations of every installed rule, and the table size the driver reports. */
function listRuleLocations(dev: EthtoolDevice, ifname: string): { locations: number[]; tableSize: number } {
  // The count can grow between the two calls (another tool adding a rule): retry once.
  for (let attempt = 0; ; attempt++) {
    const { count, tableSize } = ruleTableInfo(dev, ifname);
    if (count === 0) return { locations: [], tableSize };
    try {
      const r = call(dev, ifname, { cmd: ETHTOOL_GRXCLSRLALL, ruleCnt: count }, count);
      return { locations: r.ruleLocs, tableSize: Number(r.data & 0x7fffffffn) };
    } catch (e) {
      if (attempt === 0 && e instanceof EthtoolError && e.code === "EMSGSIZE") continue;
      throw e;
    }
  }
}

export function getRule(dev: EthtoolDevice, ifname: string, location: number): InstalledRule {
  const fs = emptyFlowSpec();
  fs.location = location;
  const r = call(dev, ifname, { cmd: ETHTOOL_GRXCLSRULE, fs });
  return decodeFlowRule(r.fs, r.ruleCnt);
}

export function listRules(dev: EthtoolDevice, ifname: string): InstalledRule[] {
  return listRuleLocations(dev, ifname).locations.map((loc) => getRule(dev, ifname, loc));
}

/** The highest free location of a table of `size` slots, or -1 when it is full. */
export function findFreeLocation(used: number[], size: number): number {
  const taken = new Set(used);
  for (let loc = size - 1; loc >= 0; loc--) if (!taken.has(loc)) return loc;
  return -1;
}

/**
 * Installs a rule and returns its location. `location` pins it (it replaces a rule
 * already there, as the ioctl does); otherwise the driver or we pick one.
 */
export function insertRule(dev: EthtoolDevice, ifname: string, rule: FlowRule, location?: number): number {
  const { fs, rssContext } = encodeFlowRule(rule);
  if (location !== undefined) {
    if (!Number.isInteger(location) || location < 0 || location >= RX_CLS_LOC_SPECIAL) throw new Error(`invalid rule location ${location}`);
    fs.location = location;
  } else {
    const info = ruleTableInfo(dev, ifname);
    if (info.driverSelects) {
      fs.location = RX_CLS_LOC_ANY;
    } else {
      const { locations, tableSize } = listRuleLocations(dev, ifname);
      const free = findFreeLocation(locations, tableSize || info.tableSize);
      if (free < 0) {
        throw new EthtoolOperationError(`${ifname}: ntuple rule table is full (${tableSize} rules)`, ifname, driverNameOf(dev, ifname));
      }
      fs.location = free;
    }
  }
  const b = encodeRxnfc({ cmd: ETHTOOL_SRXCLSRLINS, fs, ruleCnt: rssContext });
  try {
    dev.ioctl(ifname, b);
  } catch (e) {
    if (!(e instanceof EthtoolError)) throw e;
    const driver = driverNameOf(dev, ifname);
    if (e.code === "EOPNOTSUPP") throw new NtupleUnsupportedError(ifname, driver, e);
    if (e.code === "EINVAL" && rssContext) {
      throw new EthtoolOperationError(
        `${ifname}: ntuple rule into RSS context ${rssContext} refused: the context does not exist or driver ${driver ?? "(unknown)"} cannot steer into contexts`,
        ifname,
        driver,
        e,
      );
    }
    throw e;
  }
  return decodeRxnfc(b).fs.location;
}

/** Deletes the rule at `location`; false if there was none (already gone: drift). */
export function deleteRule(dev: EthtoolDevice, ifname: string, location: number): boolean {
  const fs = emptyFlowSpec();
  fs.location = location;
  try {
    call(dev, ifname, { cmd: ETHTOOL_SRXCLSRLDEL, fs });
    return true;
  } catch (e) {
    if (e instanceof EthtoolError && e.code === "ENOENT") return false;
    throw e;
  }
}

/**
 * Whether the driver keeps ntuple rules, asked of the kernel: its rule table answers
 * ETHTOOL_GRXCLSRLCNT. Not the rx-ntuple-filter feature's "changeable" bit: a driver may
 * have the filters always on (fixed), as netdevsim on Linux 7.3 does.
 */
export function supportsNtuple(dev: EthtoolDevice, ifname: string): boolean {
  try {
    ruleTableInfo(dev, ifname);
    return true;
  } catch (e) {
    if (e instanceof NtupleUnsupportedError) return false;
    throw e;
  }
}
