// Quickstart: one hypervisor's VM fast path.
//   - l2fwd (the XDP L2 switch) on the uplink, with its <vlan, mac> FDB table
//   - a tap per VM, with vm-egress (source validation, VLAN push, redirect to the uplink)
//   - an FDB entry per VM, so frames for its MAC on the VLAN go straight to its tap
// It targets the first lab host by default; stack config `hosts` targets real hosts.
//
// After the host reboots, run `pulumi up --refresh`: everything above lives in the
// kernel and /run and is gone, while the stack still records it, so a plain `pulumi up`
// finds nothing to change. The refresh reads each object back and up makes it again.
//
// Config (all optional):
//   program   the uplink's XDP program: l2fwd (default) or pass (swapped in place)
//   xdpMode   native (default), skb or auto
//   vlan      the VMs' VLAN (default 100)
//   vms       JSON list of {name, mac, addresses, vcpus?, fdbTo?}; fdbTo names the VM
//             whose tap receives this VM's frames (default: its own)
import * as pulumi from "@pulumi/pulumi";
import * as hvnet from "@hvnet/pulumi";

interface Vm {
  name: string;
  mac: string;
  addresses: string[];
  vcpus?: number;
  fdbTo?: string;
}

const DEFAULT_VMS: Vm[] = [
  { name: "vm1", mac: "52:54:00:00:01:01", addresses: ["10.100.0.11"] },
  { name: "vm2", mac: "52:54:00:00:01:02", addresses: ["10.100.0.12"] },
];

export = async () => {
  const config = new pulumi.Config();
  const [target] = await hvnet.stackTargets();
  const vlan = config.getNumber("vlan") ?? 100;
  const vms = config.getObject<Vm[]>("vms") ?? DEFAULT_VMS;

  const uplink = new hvnet.XdpProgram("uplink", {
    host: target.host,
    device: target.uplink,
    program: config.get("program") ?? "l2fwd",
    mode: config.get("xdpMode"),
  });
  // The FDB map's pin, from the attachment's pin directory (an input, so known when
  // `preview` plans a program swap; the maps output is not known until the swap is done).
  const fdbTable = pulumi.interpolate`${uplink.pinDir}/maps/fdb`;

  const taps = new Map<string, hvnet.VmInterface>();
  for (const vm of vms) {
    taps.set(vm.name, new hvnet.VmInterface(vm.name, {
      host: target.host,
      name: `tap-${vm.name}`,
      vcpus: vm.vcpus ?? 1,
      mac: vm.mac,
      // 0 means untagged: the tap then pushes no tag.
      vlan: vlan === 0 ? undefined : vlan,
      addresses: vm.addresses,
      uplink: target.uplink,
      egress: true,
    }));
  }
  for (const vm of vms) {
    const to = taps.get(vm.fdbTo ?? vm.name);
    if (!to) throw hvnet.configError(`config vms: ${vm.name}.fdbTo "${vm.fdbTo}" is not a VM of this stack (${[...taps.keys()].join(", ")})`);
    new hvnet.FdbEntry(`${vm.name}-fdb`, { host: target.host, table: fdbTable, vlan, mac: vm.mac, device: to.name });
  }

  return {
    host: target.name,
    uplink: { device: target.uplink, programId: uplink.programId, linkId: uplink.linkId, fdbTable },
    qemuArgs: Object.fromEntries([...taps].map(([name, tap]) => [name, tap.qemuArgs])),
  };
};
