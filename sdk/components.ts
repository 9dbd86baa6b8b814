// One VM's whole path on a host, as a component: its tap (with vm-egress), its FDB entry
// on the uplink's l2fwd table, and optionally an RSS context and a netkit device for an
// AF_XDP data path.
import * as pulumi from "@pulumi/pulumi";
import {
  AclArgs, FdbEntry, FlowArgs, HostArgs, NetkitLower, QueueRangeArgs, RssContext, VmEgressArgs, VmInterface,
} from "./generated";

export interface VmNetworkArgs {
  host: pulumi.Input<HostArgs>;
  /** Tap name. */
  name: pulumi.Input<string>;
  vcpus: pulumi.Input<number>;
  mac: pulumi.Input<string>;
  vlan?: pulumi.Input<number>;
  addresses: pulumi.Input<pulumi.Input<string>[]>;
  owner?: pulumi.Input<{ uid: pulumi.Input<number>; gid: pulumi.Input<number> }>;
  /** The uplink the VM's frames leave by (vm-egress redirects there). */
  uplink: pulumi.Input<string>;
  /** The uplink's l2fwd FDB table (an XdpProgram's maps.fdb). */
  fdbTable: pulumi.Input<string>;
  egress?: pulumi.Input<boolean | VmEgressArgs>;
  ingressAcl?: pulumi.Input<AclArgs>;
  /** An AF_XDP path: RSS context + netkit device leasing its queues. */
  afxdp?: {
    nic: pulumi.Input<string>;
    queues: pulumi.Input<QueueRangeArgs>;
    flows: pulumi.Input<pulumi.Input<FlowArgs>[]>;
    netkitName: pulumi.Input<string>;
    netns?: pulumi.Input<string>;
  };
}

export class VmNetwork extends pulumi.ComponentResource {
  readonly tap: VmInterface;
  readonly fdb: FdbEntry;
  readonly rss?: RssContext;
  readonly netkit?: NetkitLower;
  readonly qemuArgs: pulumi.Output<string[]>;

  constructor(name: string, args: VmNetworkArgs, opts?: pulumi.ComponentResourceOptions) {
    super("hvnet:index:VmNetwork", name, {}, opts);
    const child = { parent: this };
    this.tap = new VmInterface(`${name}-tap`, {
      host: args.host, name: args.name, vcpus: args.vcpus, mac: args.mac, vlan: args.vlan,
      addresses: args.addresses, owner: args.owner, uplink: args.uplink, egress: args.egress ?? true,
    }, child);
    this.fdb = new FdbEntry(`${name}-fdb`, {
      host: args.host, table: args.fdbTable, vlan: args.vlan ?? 0, mac: args.mac,
      device: this.tap.name, ingressAcl: args.ingressAcl,
    }, child);
    if (args.afxdp) {
      this.rss = new RssContext(`${name}-rss`, {
        host: args.host, device: args.afxdp.nic, queues: args.afxdp.queues, flows: args.afxdp.flows,
      }, child);
      this.netkit = new NetkitLower(`${name}-netkit`, {
        host: args.host, name: args.afxdp.netkitName, lowerDevice: args.afxdp.nic,
        queues: args.afxdp.queues, netns: args.afxdp.netns,
      }, { ...child, dependsOn: [this.rss] });
    }
    this.qemuArgs = this.tap.qemuArgs;
    this.registerOutputs({ qemuArgs: this.qemuArgs });
  }
}
