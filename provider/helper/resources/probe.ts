// probe: what this host can do, for capability errors before anything is changed.
// Features are probed (module presence, generic netlink op lists, driver answers), never
// inferred from the kernel version or a driver list: distributions backport.
import * as fs from "node:fs";
import * as os from "node:os";
import { RtNetlink } from "../kernel/netlink/rtnetlink";
import { GenlClient } from "../kernel/netlink/genetlink";
import { NetdevGenl } from "../kernel/netlink/netdev-genl";
import { withEthtool } from "../kernel/ethtool/ioctl";
import { getChannels } from "../kernel/ethtool/channels";
import { driverNameOf } from "../kernel/ethtool/drvinfo";
import { getRss, supportsRssContexts } from "../kernel/ethtool/rss";
import { supportsNtuple } from "../kernel/ethtool/ntuple";
import { getFeatures } from "../kernel/ethtool/features";
import { ensureBpffs, isBpffs } from "../kernel/bpf/pin";
import { libbpfVersion } from "../kernel/bpf/version";
import { BPFFS_ROOT } from "../../common/validate/formats";

function netkitAvailability(): "loaded" | "module" | "absent" {
  if (fs.existsSync("/sys/module/netkit")) return "loaded";
  const dir = `/lib/modules/${os.release()}`;
  for (const f of ["modules.builtin", "modules.dep"]) {
    try {
      if (/(^|\/)netkit\.ko/m.test(fs.readFileSync(`${dir}/${f}`, "utf8"))) return f === "modules.builtin" ? "loaded" : "module";
    } catch {
      // no such file on this host
    }
  }
  return "absent";
}

function attempt<T>(fn: () => T): T | undefined {
  try {
    return fn();
  } catch {
    return undefined;
  }
}

export function probe() {
  const genl = GenlClient.open();
  const rt = RtNetlink.open();
  try {
    const netdev = attempt(() => new NetdevGenl(genl));
    const nics = rt.listLinks().filter((l) => l.hwType === 1 && l.name !== "lo" && !["tun", "netkit", "bridge"].includes(l.kind ?? ""));
    const devices = withEthtool(undefined, (dev) =>
      nics.map((l) => {
        const driver = attempt(() => driverNameOf(dev, l.name));
        const channels = attempt(() => getChannels(dev, l.name));
        const rss = attempt(() => getRss(dev, l.name, 0));
        const features = attempt(() => getFeatures(dev, l.name));
        const xdp = attempt(() => netdev?.devGet(l.ifindex));
        return {
          name: l.name,
          ifindex: l.ifindex,
          driver,
          channels: channels ? { combined: channels.combined, rx: channels.rx, maxCombined: channels.maxCombined } : undefined,
          rss: rss !== undefined,
          // Asked of the kernel (a context made and deleted), only where RSS itself works.
          rssContexts: rss !== undefined && (attempt(() => supportsRssContexts(dev, l.name)) ?? false),
          // The driver's rule table, not the feature bit: netdevsim on 7.3 has ntuple
          // filters fixed on, so the bit is not changeable though rules work.
          ntuple: attempt(() => supportsNtuple(dev, l.name)) ?? false,
          // XDP sees VLAN tags only with hardware stripping off (KERNEL.md).
          vlanStrip: features?.get("rx-vlan-hw-parse")?.active ?? false,
          xdpFeatures: xdp?.xdpFeatures,
        };
      }),
    );
    if (!isBpffs(BPFFS_ROOT)) ensureBpffs(BPFFS_ROOT);
    return {
      kernel: os.release(),
      node: process.version,
      libbpf: attempt(libbpfVersion),
      netkit: netkitAvailability(),
      queueLease: netdev?.hasOp("queue-create") ?? false,
      bpffs: isBpffs(BPFFS_ROOT),
      devices,
    };
  } finally {
    rt.close();
    genl.nl.transport.close();
  }
}
