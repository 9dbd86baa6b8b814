// NIC channel (queue) counts: ETHTOOL_GCHANNELS / ETHTOOL_SCHANNELS.
import { ChannelsUnsupportedError, EthtoolError, EthtoolOperationError } from "./errors";
import { driverNameOf } from "./drvinfo";
import { EthtoolDevice } from "./ioctl";
import {
  decodeChannels,
  encodeChannels,
  ETHTOOL_GCHANNELS,
  ETHTOOL_SCHANNELS,
  EthtoolChannels,
} from "./structs";

export type { EthtoolChannels } from "./structs";

export interface ChannelCounts {
  rx?: number;
  tx?: number;
  other?: number;
  combined?: number;
}

export function getChannels(dev: EthtoolDevice, ifname: string): EthtoolChannels {
  const b = encodeChannels(ETHTOOL_GCHANNELS);
  try {
    dev.ioctl(ifname, b);
  } catch (e) {
    if (e instanceof EthtoolError && e.code === "EOPNOTSUPP") {
      throw new ChannelsUnsupportedError(ifname, driverNameOf(dev, ifname), e);
    }
    throw e;
  }
  return decodeChannels(b);
}

/**
 * Sets the given counts, keeping the others, and returns what the driver reports after.
 * Counts above the driver's maxima are refused here with the maximum in the message; a
 * shrink that would drop a queue still used by an RSS context, an ntuple rule or an
 * AF_XDP/queue lease comes back from the kernel as EINVAL and is explained as such.
 */
export function setChannels(dev: EthtoolDevice, ifname: string, want: ChannelCounts): EthtoolChannels {
  const cur = getChannels(dev, ifname);
  const limits: [keyof ChannelCounts, number][] = [
    ["rx", cur.maxRx],
    ["tx", cur.maxTx],
    ["other", cur.maxOther],
    ["combined", cur.maxCombined],
  ];
  for (const [k, max] of limits) {
    const v = want[k];
    if (v === undefined) continue;
    if (!Number.isInteger(v) || v < 0) throw new Error(`invalid ${k} channel count ${v}`);
    if (v > max) throw new Error(`${ifname}: ${k} channel count ${v} exceeds the driver maximum ${max}`);
  }
  const next = { ...cur, ...definedOnly(want) };
  if (next.rx === cur.rx && next.tx === cur.tx && next.other === cur.other && next.combined === cur.combined) {
    return cur; // SCHANNELS with no change is not an error, but skipping it avoids a queue reset
  }
  const b = encodeChannels(ETHTOOL_SCHANNELS, next);
  try {
    dev.ioctl(ifname, b);
  } catch (e) {
    if (e instanceof EthtoolError && e.code === "EOPNOTSUPP") {
      throw new ChannelsUnsupportedError(ifname, driverNameOf(dev, ifname), e);
    }
    if (e instanceof EthtoolError && e.code === "EINVAL" && shrinks(cur, next)) {
      throw new EthtoolOperationError(
        `${ifname}: cannot reduce channels to rx=${next.rx} tx=${next.tx} combined=${next.combined}: ` +
          `a queue being removed is still used (RSS context indirection table, ntuple rule or queue lease)`,
        ifname,
        driverNameOf(dev, ifname),
        e,
      );
    }
    throw e;
  }
  return getChannels(dev, ifname);
}

function definedOnly(c: ChannelCounts): ChannelCounts {
  const out: ChannelCounts = {};
  for (const k of ["rx", "tx", "other", "combined"] as const) if (c[k] !== undefined) out[k] = c[k];
  return out;
}

function shrinks(a: EthtoolChannels, b: EthtoolChannels): boolean {
  return b.rx < a.rx || b.tx < a.tx || b.combined < a.combined || b.other < a.other;
}
