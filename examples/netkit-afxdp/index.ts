// AF_XDP for one VM through netkit: an RSS context reserves NIC queues for the VM and
// ntuple rules steer its flows there; a netkit device leases those queues, so QEMU's
// af-xdp backend reads them without privileges (qemuNetdev is its -netdev value).
//
// Needs Linux 7.1 or later (netkit queue leases) and a NIC whose driver has additional
// RSS contexts and ntuple filters (mlx5, bnxt, sfc, ...). The program asks the host first
// and fails preview and up at once, naming the host and what it lacks, with nothing changed.
//
// qemuNetdev names the XSKMAP the netkit device's apply pins (map-path): QEMU >= 10.1 with
// the af-xdp backend opens it and puts its sockets in, loading no program (inhibit=on).
// QEMU without root needs CAP_NET_RAW (AF_XDP sockets) and the pin and its directories
// made its own (chown/chmod): what an AF_XDP socket bound to the leased queue in copy mode
// needs, checked on Linux 7.3 (test/vmlab); no QEMU with af-xdp ran it (Debian's has none).
//
// After the host reboots, run `pulumi up --refresh`: the RSS context, ntuple rules and
// netkit device are gone but still in the stack, so a plain `pulumi up` finds nothing to
// change. The refresh finds them missing and up makes them again: run it before the
// VM's QEMU starts again, as QEMU opens the netkit device's queues.
//
// Config (all optional):
//   nic       the NIC to slice (default: the host's uplink)
//   queues    {start, count} of the NIC's queues for the VM (default {start: 4, count: 2})
//   flows     the VM's flows, e.g. [{"type": "udp4", "dst": "10.100.0.21"}]
//   netkit    the netkit device's name (default nk-vm1)
//   netns     where the netkit device goes (a named netns or /proc/<pid>/ns/net)
import * as pulumi from "@pulumi/pulumi";
import * as hvnet from "@hvnet/pulumi";

export = async () => {
  const config = new pulumi.Config();
  const [target] = await hvnet.stackTargets();
  const nic = config.get("nic") ?? target.uplink;
  const queues = config.getObject<hvnet.QueueRange>("queues") ?? { start: 4, count: 2 };
  const flows = config.getObject<hvnet.Flow[]>("flows") ?? [{ type: "udp4", dst: "10.100.0.21" }];

  try {
    await hvnet.requireCapabilities(target.spec, ["netkit-lease", "rss-contexts", "ntuple"], nic);
  } finally {
    // The probe's connection would otherwise keep this process (and Pulumi) waiting.
    await hvnet.closeConnections();
  }

  const rss = new hvnet.RssContext("vm1-rss", { host: target.host, device: nic, queues, flows });
  const netkit = new hvnet.NetkitLower("vm1-netkit", {
    host: target.host,
    name: config.get("netkit") ?? "nk-vm1",
    lowerDevice: nic,
    queues,
    netns: config.get("netns"),
  }, { dependsOn: [rss] });

  return {
    host: target.name,
    contextId: rss.contextId,
    leases: netkit.leases,
    qemuNetdev: netkit.qemuNetdev,
  };
};
