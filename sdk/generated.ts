// Generated from schema.json by scripts/gen-sdk.js. Do not edit.
import * as pulumi from "@pulumi/pulumi";
import { providerModule } from "./shim";
import { wireForm } from "./wire-forms";
import { configError } from "./targets";
import { Host, RESOURCE_FACTS } from "../provider/common/schema-facts";

/**
 * A property the type does not have is a typo (vlanId for vlan): Pulumi would drop it and
 * create the object with a default. Refused here, before any host is touched.
 */
function refuseUnknown(type: string, name: string, args: unknown, known: readonly string[]): void {
  if (args === null || typeof args !== "object") return; // check() names a missing host
  const unknown = Object.keys(args).filter((k) => !known.includes(k) && (args as Record<string, unknown>)[k] !== undefined);
  if (unknown.length === 0) return;
  const what = unknown.length === 1 ? "property" : "properties";
  throw configError(`${type} "${name}": unknown ${what} ${unknown.join(", ")} (known: ${known.join(", ")})`);
}

/** How to reach one hypervisor over SSH. */
export interface HostArgs {
  /** IP address or DNS name of the host. */
  address: pulumi.Input<string>;
  /** SSH port (default 22). */
  port?: pulumi.Input<number>;
  /** SSH user (default root). Any other user runs the helper with `sudo -n`. */
  user?: pulumi.Input<string>;
  /** Private key (OpenSSH or PEM text) for public-key authentication. Secret. */
  privateKey?: pulumi.Input<string>;
  /** Path of an ssh-agent socket to authenticate with instead of privateKey. */
  agentSocket?: pulumi.Input<string>;
  /** The host's key: a `SHA256:...` fingerprint or an OpenSSH public key line. Connecting to a host whose key differs fails. Required unless insecureIgnoreHostKey is true. */
  hostKey?: pulumi.Input<string>;
  /** Skip host-key verification. Must be said explicitly; never on production hosts. */
  insecureIgnoreHostKey?: pulumi.Input<boolean>;
  /** Bastion to connect through (same shape). */
  jumpHost?: pulumi.Input<HostArgs>;
  /** The host's identity in resource ids and in the provider's connection pool (default: address). */
  name?: pulumi.Input<string>;
}

export type { Host };

/** A contiguous range of queues. */
export interface QueueRangeArgs {
  /** First queue id. */
  start: pulumi.Input<number>;
  /** Number of queues (at least 1). */
  count: pulumi.Input<number>;
}

/** A contiguous range of queues. */
export interface QueueRange {
  /** First queue id. */
  start: number;
  /** Number of queues (at least 1). */
  count: number;
}

/** An ntuple steering rule into an RSS context. */
export interface FlowArgs {
  /** One of ip4, ip6, tcp4, udp4, tcp6, udp6, ether. */
  type: pulumi.Input<string>;
  /** Destination address (IP for ip/tcp/udp flows, MAC for ether). */
  dst?: pulumi.Input<string>;
  /** Source address (IP for ip/tcp/udp flows, MAC for ether). */
  src?: pulumi.Input<string>;
  /** Destination port (tcp and udp flows). */
  dstPort?: pulumi.Input<number>;
  /** Source port (tcp and udp flows). */
  srcPort?: pulumi.Input<number>;
}

/** An ntuple steering rule into an RSS context. */
export interface Flow {
  /** One of ip4, ip6, tcp4, udp4, tcp6, udp6, ether. */
  type: string;
  /** Destination address (IP for ip/tcp/udp flows, MAC for ether). */
  dst?: string;
  /** Source address (IP for ip/tcp/udp flows, MAC for ether). */
  src?: string;
  /** Destination port (tcp and udp flows). */
  dstPort?: number;
  /** Source port (tcp and udp flows). */
  srcPort?: number;
}

/** One 5-tuple ACL rule; rules are evaluated in order, the first match decides. */
export interface AclRuleArgs {
  /** allow or deny. */
  action: pulumi.Input<string>;
  /** tcp, udp, icmp, icmpv6 (or a protocol number as a string); any when absent. */
  protocol?: pulumi.Input<string>;
  /** Source address or CIDR prefix. */
  src?: pulumi.Input<string>;
  /** Destination address or CIDR prefix. */
  dst?: pulumi.Input<string>;
  /** Source port or range like "1000-2000" (tcp and udp). */
  srcPorts?: pulumi.Input<string>;
  /** Destination port or range like "80" (tcp and udp). */
  dstPorts?: pulumi.Input<string>;
}

/** One 5-tuple ACL rule; rules are evaluated in order, the first match decides. */
export interface AclRule {
  /** allow or deny. */
  action: string;
  /** tcp, udp, icmp, icmpv6 (or a protocol number as a string); any when absent. */
  protocol?: string;
  /** Source address or CIDR prefix. */
  src?: string;
  /** Destination address or CIDR prefix. */
  dst?: string;
  /** Source port or range like "1000-2000" (tcp and udp). */
  srcPorts?: string;
  /** Destination port or range like "80" (tcp and udp). */
  dstPorts?: string;
}

/** An ordered list of ACL rules with a default action (at most 64 rules). */
export interface AclArgs {
  /** Rules, first match wins. */
  rules?: pulumi.Input<pulumi.Input<AclRuleArgs>[]>;
  /** allow (default) or deny, for frames no rule matches. */
  defaultAction?: pulumi.Input<string>;
}

/** An ordered list of ACL rules with a default action (at most 64 rules). */
export interface Acl {
  /** Rules, first match wins. */
  rules?: AclRule[];
  /** allow (default) or deny, for frames no rule matches. */
  defaultAction?: string;
}

/** Owner of a tap, so an unprivileged QEMU can open it. */
export interface OwnerArgs {
  /** User id. */
  uid: pulumi.Input<number>;
  /** Group id. */
  gid: pulumi.Input<number>;
}

/** Owner of a tap, so an unprivileged QEMU can open it. */
export interface Owner {
  /** User id. */
  uid: number;
  /** Group id. */
  gid: number;
}

/** The vm-egress program on a VM's tap: source validation (always), ACL, VLAN push, redirect to the uplink or a bond leg. */
export interface VmEgressArgs {
  /** Egress ACL for traffic from the VM. */
  acl?: pulumi.Input<AclArgs>;
  /** Two interfaces to spread the VM's flows over by an L3+L4 hash, instead of the uplink. */
  bondLegs?: pulumi.Input<pulumi.Input<string>[]>;
}

/** The vm-egress program on a VM's tap: source validation (always), ACL, VLAN push, redirect to the uplink or a bond leg. */
export interface VmEgress {
  /** Egress ACL for traffic from the VM. */
  acl?: Acl;
  /** Two interfaces to spread the VM's flows over by an L3+L4 hash, instead of the uplink. */
  bondLegs?: string[];
}

/** An XDP program from a user's BPF object file on the host. */
export interface UserProgramArgs {
  /** Absolute path of the .o file on the host. */
  object: pulumi.Input<string>;
  /** ELF section (or program name) of the program. */
  section: pulumi.Input<string>;
}

/** An XDP program from a user's BPF object file on the host. */
export interface UserProgram {
  /** Absolute path of the .o file on the host. */
  object: string;
  /** ELF section (or program name) of the program. */
  section: string;
}

/** A NIC queue leased to a netkit device. */
export interface LeaseArgs {
  /** Queue id on the NIC. */
  physicalQueue: pulumi.Input<number>;
  /** Queue id on the netkit device (from 1; queue 0 is netkit's own). */
  netkitQueue: pulumi.Input<number>;
}

/** A NIC queue leased to a netkit device. */
export interface Lease {
  /** Queue id on the NIC. */
  physicalQueue: number;
  /** Queue id on the netkit device (from 1; queue 0 is netkit's own). */
  netkitQueue: number;
}

/** One <vlan, mac> -> device entry of an FdbTable. */
export interface FdbTableEntryArgs {
  /** VLAN id 0-4094; 0 = untagged (default 0). */
  vlan?: pulumi.Input<number>;
  /** Destination MAC. */
  mac: pulumi.Input<string>;
  /** Where matching frames go. */
  device: pulumi.Input<string>;
  /** VM-ingress ACL run (as a devmap program) on frames redirected to the device; every entry of one device gives the same one. */
  ingressAcl?: pulumi.Input<AclArgs>;
}

/** One <vlan, mac> -> device entry of an FdbTable. */
export interface FdbTableEntry {
  /** VLAN id 0-4094; 0 = untagged (default 0). */
  vlan?: number;
  /** Destination MAC. */
  mac: string;
  /** Where matching frames go. */
  device: string;
  /** VM-ingress ACL run (as a devmap program) on frames redirected to the device; every entry of one device gives the same one. */
  ingressAcl?: Acl;
}

/** An FdbTable entry with an ingress ACL, as the table's `entries` output holds it under the entry's `<vlan>/<mac>` key (an entry without one is just the device's name). */
export interface FdbTableTargetArgs {
  /** Where matching frames go. */
  device: pulumi.Input<string>;
  /** The device's VM-ingress ACL. */
  ingressAcl: pulumi.Input<AclArgs>;
}

/** An FdbTable entry with an ingress ACL, as the table's `entries` output holds it under the entry's `<vlan>/<mac>` key (an entry without one is just the device's name). */
export interface FdbTableTarget {
  /** Where matching frames go. */
  device: string;
  /** The device's VM-ingress ACL. */
  ingressAcl: Acl;
}

/** Inputs of RssContext. */
export interface RssContextArgs {
  /** The hypervisor. A new host identity (name, else address) replaces the resource; other connection details change in place. */
  host: pulumi.Input<HostArgs>;
  /** The NIC. Changing it replaces the resource. */
  device: pulumi.Input<string>;
  /** Queues of this context (a change rewrites the indirection table). Changes in place. */
  queues: pulumi.Input<QueueRangeArgs>;
  /** Flows steered into the context (a change adds and removes rules). Changes in place. */
  flows?: pulumi.Input<pulumi.Input<FlowArgs>[]>;
  /** RSS hash key as hex bytes separated by ':'. Changes in place. */
  hashKey?: pulumi.Input<string>;
  /** toeplitz, xor or crc32. Changes in place. */
  hashFunction?: pulumi.Input<string>;
  /** Spread the default context over the queues no hvnet context reserves (default true). Changes in place. */
  shrinkDefault?: pulumi.Input<boolean>;
  /** Take over this existing context id (with adopt); set by hvnet once created. Read only at creation: the output of the same name takes its place. */
  contextId?: pulumi.Input<number>;
  /** Take over an existing object instead of failing (the import path). Read only at creation: changing it later changes nothing. */
  adopt?: pulumi.Input<boolean>;
}

/** Inputs of NetkitLower. */
export interface NetkitLowerArgs {
  /** The hypervisor. A new host identity (name, else address) replaces the resource; other connection details change in place. */
  host: pulumi.Input<HostArgs>;
  /** Device name. Changing it replaces the resource. */
  name: pulumi.Input<string>;
  /** The physical NIC whose queues are leased. Changing it replaces the resource. */
  lowerDevice: pulumi.Input<string>;
  /** Physical queue ids to lease. Changing it replaces the resource. */
  queues: pulumi.Input<QueueRangeArgs>;
  /** l3 (default) or l2. Changing it replaces the resource. */
  mode?: pulumi.Input<string>;
  /** Named netns or /proc/<pid>/ns/net path the device goes to. Changing it replaces the resource. */
  netns?: pulumi.Input<string>;
  /** Default policy without a BPF program: pass (default) or drop (set right after creation, as the kernel creates a single device only with pass). Changes in place. */
  policy?: pulumi.Input<string>;
  /** Needed headroom in bytes. Changing it replaces the resource. */
  headroom?: pulumi.Input<number>;
  /** Needed tailroom in bytes. Changing it replaces the resource. */
  tailroom?: pulumi.Input<number>;
  /** auto (default: the queue lease if the kernel has it, else the proof-of-concept attribute), lease, or lowerdev. Read only at creation: the output of the same name takes its place. */
  api?: pulumi.Input<string>;
  /** Take over an existing device instead of failing. Read only at creation: changing it later changes nothing. */
  adopt?: pulumi.Input<boolean>;
}

/** Inputs of XdpProgram. */
export interface XdpProgramArgs {
  /** The hypervisor. A new host identity (name, else address) replaces the resource; other connection details change in place. */
  host: pulumi.Input<HostArgs>;
  /** Device to attach to. Changing it replaces the resource. */
  device: pulumi.Input<string>;
  /** A built-in (l2fwd, vm-egress, pass) or {object, section} (a change swaps it atomically on the same link). Changes in place. */
  program: pulumi.Input<string | UserProgramArgs>;
  /** native (default), skb, or auto (native, else skb). Changing it replaces the resource. */
  mode?: pulumi.Input<string>;
  /** Netns of the device. Changing it replaces the resource. */
  netns?: pulumi.Input<string>;
  /** bpffs directory for the link and map pins (default /sys/fs/bpf/hvnet/xdp/<netns>/<device>). Changing it replaces the resource. */
  pinDir?: pulumi.Input<string>;
  /** Take over an existing attachment at pinDir instead of failing. Read only at creation: changing it later changes nothing. */
  adopt?: pulumi.Input<boolean>;
}

/** Inputs of FdbEntry. */
export interface FdbEntryArgs {
  /** The hypervisor. A new host identity (name, else address) replaces the resource; other connection details change in place. */
  host: pulumi.Input<HostArgs>;
  /** Pin path of the FDB map, usually an l2fwd XdpProgram's maps.fdb. Changing it replaces the resource. */
  table: pulumi.Input<string>;
  /** VLAN id 0-4094; 0 = untagged. Changing it replaces the resource. */
  vlan?: pulumi.Input<number>;
  /** Destination MAC. Changing it replaces the resource. */
  mac: pulumi.Input<string>;
  /** Where matching frames go. Changes in place. */
  device: pulumi.Input<string>;
  /** VM-ingress ACL run (as a devmap program) on frames redirected to the device. Changes in place. */
  ingressAcl?: pulumi.Input<AclArgs>;
  /** Take over an existing entry instead of failing. Read only at creation: changing it later changes nothing. */
  adopt?: pulumi.Input<boolean>;
}

/** Inputs of FdbTable. */
export interface FdbTableArgs {
  /** The hypervisor. A new host identity (name, else address) replaces the resource; other connection details change in place. */
  host: pulumi.Input<HostArgs>;
  /** Pin path of the FDB map, usually an l2fwd XdpProgram's maps.fdb. Changing it replaces the resource. */
  table: pulumi.Input<string>;
  /** The entries, each <vlan, mac> at most once (kept sorted by <vlan, mac>). Changes in place. */
  entries: pulumi.Input<pulumi.Input<FdbTableEntryArgs>[]>;
  /** Take over entries that already exist and are someone else's (or nobody's) instead of failing. Read only at creation: changing it later changes nothing. */
  adopt?: pulumi.Input<boolean>;
}

/** Inputs of VmInterface. */
export interface VmInterfaceArgs {
  /** The hypervisor. A new host identity (name, else address) replaces the resource; other connection details change in place. */
  host: pulumi.Input<HostArgs>;
  /** Tap name. Changing it replaces the resource. */
  name: pulumi.Input<string>;
  /** The VM's vCPUs; queues default to 2 x vcpus, which gives XDP in the guest TX rings of its own (with fewer, Linux 7.3's virtio-net still attaches XDP, in a slower locked TX mode: seen in test/guest). Changes in place. */
  vcpus?: pulumi.Input<number>;
  /** Queue count, instead of vcpus. Changing it replaces the resource. */
  queues?: pulumi.Input<number>;
  /** The guest's MAC. Changes in place. */
  mac: pulumi.Input<string>;
  /** VLAN 1-4094 the VM is on; vm-egress pushes the tag. Changes in place. */
  vlan?: pulumi.Input<number>;
  /** The guest's IPs: with egress, anything else it sends is dropped. Changes in place. */
  addresses?: pulumi.Input<pulumi.Input<string>[]>;
  /** uid/gid that may open the tap, so QEMU need not be root. Changes in place. */
  owner?: pulumi.Input<OwnerArgs>;
  /** MTU. Changes in place. */
  mtu?: pulumi.Input<number>;
  /** Keep checksum/segmentation offloads on (default false, as the XDP fast path needs). Changes in place. */
  offloads?: pulumi.Input<boolean>;
  /** Where vm-egress redirects the VM's frames. Changes in place. */
  uplink?: pulumi.Input<string>;
  /** Attach vm-egress to the tap: true, or its settings. Changes in place. */
  egress?: pulumi.Input<boolean | VmEgressArgs>;
  /** Netns of the tap. Changing it replaces the resource. */
  netns?: pulumi.Input<string>;
  /** Take over an existing tap instead of failing. Read only at creation: changing it later changes nothing. */
  adopt?: pulumi.Input<boolean>;
}

/** An additional RSS context slicing a NIC's queues for one VM or netkit device, with ntuple rules steering flows into it. The default context is spread over the queues no hvnet context reserves. */
export class RssContext extends pulumi.CustomResource {
  /** The hypervisor. */
  declare public readonly host: pulumi.Output<Host>;
  /** The NIC. */
  declare public readonly device: pulumi.Output<string>;
  /** Queues of this context (a change rewrites the indirection table). */
  declare public readonly queues: pulumi.Output<QueueRange>;
  /** Flows steered into the context (a change adds and removes rules). */
  declare public readonly flows: pulumi.Output<Flow[] | undefined>;
  /** RSS hash key as hex bytes separated by ':'. */
  declare public readonly hashKey: pulumi.Output<string | undefined>;
  /** toeplitz, xor or crc32. */
  declare public readonly hashFunction: pulumi.Output<string | undefined>;
  /** Spread the default context over the queues no hvnet context reserves (default true). */
  declare public readonly shrinkDefault: pulumi.Output<boolean | undefined>;
  /** Take over an existing object instead of failing (the import path). */
  declare public readonly adopt: pulumi.Output<boolean | undefined>;
  /** The RSS context id the driver allocated. */
  declare public readonly contextId: pulumi.Output<number>;
  /** Locations of the ntuple rules, one per flow. */
  declare public readonly ruleIds: pulumi.Output<number[]>;
  /** The context's indirection table as read back. */
  declare public readonly indirectionTable: pulumi.Output<number[]>;

  constructor(name: string, args: RssContextArgs, opts?: pulumi.CustomResourceOptions) {
    refuseUnknown("RssContext", name, args, RESOURCE_FACTS.RssContext.inputs);
    const props: Record<string, unknown> = {};
    for (const k of RESOURCE_FACTS.RssContext.inputs) props[k] = (args as unknown as Record<string, unknown>)[k];
    for (const k of ["ruleIds","indirectionTable"]) props[k] = undefined;
    // The host holds private keys (its own, its jump host's), however they were given:
    // secret as an input and as an output, so no copy of it in the state is plain text.
    if (props.host !== undefined) props.host = pulumi.secret(props.host as pulumi.Input<HostArgs>);
    // Who owns what this resource makes on the host (recorded there with the object).
    props.__owner = `${pulumi.getProject()}/${pulumi.getStack()}/RssContext/${name}`;
    const secrets = { additionalSecretOutputs: ["host", ...(opts?.additionalSecretOutputs ?? [])] };
    // A dynamic resource (the engine's pulumi-nodejs provider runs it) whose provider is
    // the one-line module of ./shim rather than a serialized closure: see there.
    props.__provider = providerModule("RssContext");
    super("pulumi-nodejs:dynamic/hvnet:RssContext", name, props, { ...opts, ...secrets });
  }
}

/** A netkit device bound to NIC queues for AF_XDP (Linux 7.1 queue lease, or the original proof-of-concept attribute), optionally moved into a VM's or pod's network namespace. */
export class NetkitLower extends pulumi.CustomResource {
  /** The hypervisor. */
  declare public readonly host: pulumi.Output<Host>;
  /** Device name. */
  declare public readonly name: pulumi.Output<string>;
  /** The physical NIC whose queues are leased. */
  declare public readonly lowerDevice: pulumi.Output<string>;
  /** Physical queue ids to lease. */
  declare public readonly queues: pulumi.Output<QueueRange>;
  /** l3 (default) or l2. */
  declare public readonly mode: pulumi.Output<string | undefined>;
  /** Named netns or /proc/<pid>/ns/net path the device goes to. */
  declare public readonly netns: pulumi.Output<string | undefined>;
  /** Default policy without a BPF program: pass (default) or drop (set right after creation, as the kernel creates a single device only with pass). */
  declare public readonly policy: pulumi.Output<string | undefined>;
  /** Needed headroom in bytes. */
  declare public readonly headroom: pulumi.Output<number | undefined>;
  /** Needed tailroom in bytes. */
  declare public readonly tailroom: pulumi.Output<number | undefined>;
  /** Take over an existing device instead of failing. */
  declare public readonly adopt: pulumi.Output<boolean | undefined>;
  /** Interface index of the netkit device. */
  declare public readonly ifindex: pulumi.Output<number>;
  /** Which physical queue backs which netkit queue. */
  declare public readonly leases: pulumi.Output<Lease[]>;
  /** The API used: lease or lowerdev. */
  declare public readonly api: pulumi.Output<string>;
  /** The -netdev af-xdp,... value for QEMU (inhibit=on with map-path so QEMU runs without privileges). */
  declare public readonly qemuNetdev: pulumi.Output<string>;

  constructor(name: string, args: NetkitLowerArgs, opts?: pulumi.CustomResourceOptions) {
    refuseUnknown("NetkitLower", name, args, RESOURCE_FACTS.NetkitLower.inputs);
    const props: Record<string, unknown> = {};
    for (const k of RESOURCE_FACTS.NetkitLower.inputs) props[k] = (args as unknown as Record<string, unknown>)[k];
    for (const k of ["ifindex","leases","qemuNetdev"]) props[k] = undefined;
    // The host holds private keys (its own, its jump host's), however they were given:
    // secret as an input and as an output, so no copy of it in the state is plain text.
    if (props.host !== undefined) props.host = pulumi.secret(props.host as pulumi.Input<HostArgs>);
    // Who owns what this resource makes on the host (recorded there with the object).
    props.__owner = `${pulumi.getProject()}/${pulumi.getStack()}/NetkitLower/${name}`;
    const secrets = { additionalSecretOutputs: ["host", ...(opts?.additionalSecretOutputs ?? [])] };
    // A dynamic resource (the engine's pulumi-nodejs provider runs it) whose provider is
    // the one-line module of ./shim rather than a serialized closure: see there.
    props.__provider = providerModule("NetkitLower");
    super("pulumi-nodejs:dynamic/hvnet:NetkitLower", name, props, { ...opts, ...secrets });
  }
}

/** An XDP program attached to a device through a pinned bpf_link: it outlives the helper, and a changed program is swapped atomically on the same link. */
export class XdpProgram extends pulumi.CustomResource {
  /** The hypervisor. */
  declare public readonly host: pulumi.Output<Host>;
  /** Device to attach to. */
  declare public readonly device: pulumi.Output<string>;
  /** A built-in (l2fwd, vm-egress, pass) or {object, section} (a change swaps it atomically on the same link). */
  declare public readonly program: pulumi.Output<string | UserProgram>;
  /** native (default), skb, or auto (native, else skb). */
  declare public readonly mode: pulumi.Output<string | undefined>;
  /** Netns of the device. */
  declare public readonly netns: pulumi.Output<string | undefined>;
  /** bpffs directory for the link and map pins (default /sys/fs/bpf/hvnet/xdp/<netns>/<device>). */
  declare public readonly pinDir: pulumi.Output<string | undefined>;
  /** Take over an existing attachment at pinDir instead of failing. */
  declare public readonly adopt: pulumi.Output<boolean | undefined>;
  /** Kernel id of the attached program. */
  declare public readonly programId: pulumi.Output<number>;
  /** The program's tag (hash of its instructions). */
  declare public readonly programTag: pulumi.Output<string>;
  /** Kernel id of the bpf_link (stable across program swaps). */
  declare public readonly linkId: pulumi.Output<number>;
  /** bpffs path of the pinned link. */
  declare public readonly linkPin: pulumi.Output<string>;
  /** Map name to pin path (l2fwd: fdb, ports, stats). */
  declare public readonly maps: pulumi.Output<Record<string, string>>;
  /** The mode actually used: native or skb. */
  declare public readonly attachMode: pulumi.Output<string>;

  constructor(name: string, args: XdpProgramArgs, opts?: pulumi.CustomResourceOptions) {
    refuseUnknown("XdpProgram", name, args, RESOURCE_FACTS.XdpProgram.inputs);
    const props: Record<string, unknown> = {};
    for (const k of RESOURCE_FACTS.XdpProgram.inputs) props[k] = (args as unknown as Record<string, unknown>)[k];
    for (const k of ["programId","programTag","linkId","linkPin","maps","attachMode"]) props[k] = undefined;
    // The host holds private keys (its own, its jump host's), however they were given:
    // secret as an input and as an output, so no copy of it in the state is plain text.
    if (props.host !== undefined) props.host = pulumi.secret(props.host as pulumi.Input<HostArgs>);
    // Who owns what this resource makes on the host (recorded there with the object).
    props.__owner = `${pulumi.getProject()}/${pulumi.getStack()}/XdpProgram/${name}`;
    const secrets = { additionalSecretOutputs: ["host", ...(opts?.additionalSecretOutputs ?? [])] };
    // A dynamic resource (the engine's pulumi-nodejs provider runs it) whose provider is
    // the one-line module of ./shim rather than a serialized closure: see there.
    props.__provider = providerModule("XdpProgram");
    super("pulumi-nodejs:dynamic/hvnet:XdpProgram", name, props, { ...opts, ...secrets });
  }
}

/** One <vlan, mac> entry of an l2fwd forwarding table: frames for that MAC on that VLAN are redirected to the device (VLAN tag popped). The device is kept in the ports devmap, with its ingress ACL program if given. */
export class FdbEntry extends pulumi.CustomResource {
  /** The hypervisor. */
  declare public readonly host: pulumi.Output<Host>;
  /** Pin path of the FDB map, usually an l2fwd XdpProgram's maps.fdb. */
  declare public readonly table: pulumi.Output<string>;
  /** VLAN id 0-4094; 0 = untagged. */
  declare public readonly vlan: pulumi.Output<number | undefined>;
  /** Destination MAC. */
  declare public readonly mac: pulumi.Output<string>;
  /** Where matching frames go. */
  declare public readonly device: pulumi.Output<string>;
  /** VM-ingress ACL run (as a devmap program) on frames redirected to the device. */
  declare public readonly ingressAcl: pulumi.Output<Acl | undefined>;
  /** Take over an existing entry instead of failing. */
  declare public readonly adopt: pulumi.Output<boolean | undefined>;
  /** Interface index of the device. */
  declare public readonly ifindex: pulumi.Output<number>;

  constructor(name: string, args: FdbEntryArgs, opts?: pulumi.CustomResourceOptions) {
    refuseUnknown("FdbEntry", name, args, RESOURCE_FACTS.FdbEntry.inputs);
    const props: Record<string, unknown> = {};
    for (const k of RESOURCE_FACTS.FdbEntry.inputs) props[k] = (args as unknown as Record<string, unknown>)[k];
    for (const k of ["ifindex"]) props[k] = undefined;
    // The host holds private keys (its own, its jump host's), however they were given:
    // secret as an input and as an output, so no copy of it in the state is plain text.
    if (props.host !== undefined) props.host = pulumi.secret(props.host as pulumi.Input<HostArgs>);
    // Who owns what this resource makes on the host (recorded there with the object).
    props.__owner = `${pulumi.getProject()}/${pulumi.getStack()}/FdbEntry/${name}`;
    const secrets = { additionalSecretOutputs: ["host", ...(opts?.additionalSecretOutputs ?? [])] };
    // A dynamic resource (the engine's pulumi-nodejs provider runs it) whose provider is
    // the one-line module of ./shim rather than a serialized closure: see there.
    props.__provider = providerModule("FdbEntry");
    super("pulumi-nodejs:dynamic/hvnet:FdbEntry", name, props, { ...opts, ...secrets });
  }
}

/** Many <vlan, mac> entries of one l2fwd forwarding table as one resource: the whole table of an attachment, or the part a stack owns. Preview shows each entry added, changed or removed; update writes only those, in one batch; refresh finds an entry changed or deleted by hand. Entries of FdbEntry resources and of other stacks in the same table are left alone (each entry has its owner). */
export class FdbTable extends pulumi.CustomResource {
  /** The hypervisor. */
  declare public readonly host: pulumi.Output<Host>;
  /** Pin path of the FDB map, usually an l2fwd XdpProgram's maps.fdb. */
  declare public readonly table: pulumi.Output<string>;
  /** Take over entries that already exist and are someone else's (or nobody's) instead of failing. */
  declare public readonly adopt: pulumi.Output<boolean | undefined>;
  /** How many entries the table holds for this resource. */
  declare public readonly count: pulumi.Output<number>;
  /** The entries keyed by `<vlan>/<mac>` (e.g. `100/52:54:00:00:00:01`), as preview and refresh compare them, entry by entry: the device's name, or the device and its ingress ACL. */
  declare public readonly entries: pulumi.Output<Record<string, string | FdbTableTarget>>;

  constructor(name: string, args: FdbTableArgs, opts?: pulumi.CustomResourceOptions) {
    refuseUnknown("FdbTable", name, args, RESOURCE_FACTS.FdbTable.inputs);
    const props: Record<string, unknown> = {};
    for (const k of RESOURCE_FACTS.FdbTable.inputs) props[k] = (args as unknown as Record<string, unknown>)[k];
    for (const k of ["count"]) props[k] = undefined;
    // The host holds private keys (its own, its jump host's), however they were given:
    // secret as an input and as an output, so no copy of it in the state is plain text.
    if (props.host !== undefined) props.host = pulumi.secret(props.host as pulumi.Input<HostArgs>);
    // Sent in the form check keeps it (./wire-forms): fewer values for Pulumi to move.
    props.entries = wireForm("FdbTable", "entries", props.entries);
    // Who owns what this resource makes on the host (recorded there with the object).
    props.__owner = `${pulumi.getProject()}/${pulumi.getStack()}/FdbTable/${name}`;
    const secrets = { additionalSecretOutputs: ["host", ...(opts?.additionalSecretOutputs ?? [])] };
    // A dynamic resource (the engine's pulumi-nodejs provider runs it) whose provider is
    // the one-line module of ./shim rather than a serialized closure: see there.
    props.__provider = providerModule("FdbTable");
    super("pulumi-nodejs:dynamic/hvnet:FdbTable", name, props, { ...opts, ...secrets });
  }
}

/** A VM's persistent multiqueue tap, ready for vhost and the XDP fast path, with optional vm-egress (source validation, ACL, VLAN push, redirect to the uplink). */
export class VmInterface extends pulumi.CustomResource {
  /** The hypervisor. */
  declare public readonly host: pulumi.Output<Host>;
  /** Tap name. */
  declare public readonly name: pulumi.Output<string>;
  /** The VM's vCPUs; queues default to 2 x vcpus, which gives XDP in the guest TX rings of its own (with fewer, Linux 7.3's virtio-net still attaches XDP, in a slower locked TX mode: seen in test/guest). */
  declare public readonly vcpus: pulumi.Output<number | undefined>;
  /** The guest's MAC. */
  declare public readonly mac: pulumi.Output<string>;
  /** VLAN 1-4094 the VM is on; vm-egress pushes the tag. */
  declare public readonly vlan: pulumi.Output<number | undefined>;
  /** The guest's IPs: with egress, anything else it sends is dropped. */
  declare public readonly addresses: pulumi.Output<string[] | undefined>;
  /** uid/gid that may open the tap, so QEMU need not be root. */
  declare public readonly owner: pulumi.Output<Owner | undefined>;
  /** MTU. */
  declare public readonly mtu: pulumi.Output<number | undefined>;
  /** Keep checksum/segmentation offloads on (default false, as the XDP fast path needs). */
  declare public readonly offloads: pulumi.Output<boolean | undefined>;
  /** Where vm-egress redirects the VM's frames. */
  declare public readonly uplink: pulumi.Output<string | undefined>;
  /** Attach vm-egress to the tap: true, or its settings. */
  declare public readonly egress: pulumi.Output<boolean | VmEgress | undefined>;
  /** Netns of the tap. */
  declare public readonly netns: pulumi.Output<string | undefined>;
  /** Take over an existing tap instead of failing. */
  declare public readonly adopt: pulumi.Output<boolean | undefined>;
  /** Interface index of the tap. */
  declare public readonly ifindex: pulumi.Output<number>;
  /** Number of tap queues. */
  declare public readonly queues: pulumi.Output<number>;
  /** QEMU arguments: -netdev tap,...,vhost=on,queues=N and -device virtio-net-pci,...,mq=on,vectors=2N+2. */
  declare public readonly qemuArgs: pulumi.Output<string[]>;
  /** The <interface> element for libvirt. */
  declare public readonly libvirtXml: pulumi.Output<string>;

  constructor(name: string, args: VmInterfaceArgs, opts?: pulumi.CustomResourceOptions) {
    refuseUnknown("VmInterface", name, args, RESOURCE_FACTS.VmInterface.inputs);
    const props: Record<string, unknown> = {};
    for (const k of RESOURCE_FACTS.VmInterface.inputs) props[k] = (args as unknown as Record<string, unknown>)[k];
    for (const k of ["ifindex","qemuArgs","libvirtXml"]) props[k] = undefined;
    // The host holds private keys (its own, its jump host's), however they were given:
    // secret as an input and as an output, so no copy of it in the state is plain text.
    if (props.host !== undefined) props.host = pulumi.secret(props.host as pulumi.Input<HostArgs>);
    // Who owns what this resource makes on the host (recorded there with the object).
    props.__owner = `${pulumi.getProject()}/${pulumi.getStack()}/VmInterface/${name}`;
    const secrets = { additionalSecretOutputs: ["host", ...(opts?.additionalSecretOutputs ?? [])] };
    // A dynamic resource (the engine's pulumi-nodejs provider runs it) whose provider is
    // the one-line module of ./shim rather than a serialized closure: see there.
    props.__provider = providerModule("VmInterface");
    super("pulumi-nodejs:dynamic/hvnet:VmInterface", name, props, { ...opts, ...secrets });
  }
}
