// A test double of the kernel at the netlink boundary, for what this machine's kernel
// lacks: netkit (pair and single devices) and the netdev family's queue lease
// (queue-create / queue-get, Linux 7.1). It takes the request bytes our client sends and
// answers with the bytes the kernel would, acks and extended-ack errors included, so the
// codec and the client run unchanged against it.
//
// Rules it enforces, each from the kernel source it stands in for:
//  - netkit_new_link (drivers/net/netkit.c, "netkit: Add single device mode"): MAC only in
//    l2; single mode takes no peer info, peer policy or peer scrub and only policy pass;
//    policy is pass or drop; mode l2/l3; IFLA_NETKIT_PRIMARY is read-only; unknown
//    IFLA_INFO_DATA attributes are ignored (rtnetlink parses link data liberally).
//    real_num_rx_queues starts at 1 so numrxqueues > 1 leaves room for leases.
//  - netkit's ndo_bpf refuses XDP programs (EPERM): IFLA_XDP on a netkit device fails.
//  - netdev_nl_queue_create_doit + netdev_can_create_queue/netdev_can_lease_queue/
//    netdev_queue_busy + netkit_queue_create ("net: Add queue-create operation" and the
//    netkit lease patches of series <20260115082603.219152-1-daniel@iogearbox.net>):
//    required attributes, rx only, no netns-id in requests, virtual → physical only,
//    queue id < NIC's real rx queues (ERANGE), a NIC queue leased once (EBUSY), the
//    primary of a pair refuses (EOPNOTSUPP), the new id is the old real rx count (so
//    leases start at 1), and it fails once num_rx_queues is exhausted.
//  - no unlease operation exists; deleting the netkit device (or its pair) ends its leases,
//    and so does unregistering the NIC.
//  - queue-get answers ENOENT on a device that is down, and reports a lease on the
//    physical device's queue only (netif_rx_queue_lease_get_owner: PHYS_TO_VIRT), naming
//    the netkit device and queue, with netns-id when the netkit lives in another netns.
// It is not the kernel: everything else (other link kinds, BPF, AF_XDP, memory providers,
// capabilities) is refused or absent. Tests using it say "(test double, not the kernel)".
import { Attr, AttrSet, encodeAttrs, nla } from "../../provider/helper/kernel/netlink/attributes";
import {
  NLM_F_CREATE,
  NLM_F_DUMP,
  NLM_F_EXCL,
  NLM_F_MULTI,
  NetlinkMessage,
  encodeDone,
  encodeError,
  encodeMessage,
  messageSeq,
  parseMessages,
} from "../../provider/helper/kernel/netlink/codec";
import { errnoNumber } from "../../provider/helper/kernel/internal/errno";
import { NETLINK_GENERIC, NETLINK_ROUTE, NetlinkClient, NetlinkTransport } from "../../provider/helper/kernel/netlink/socket";
import * as U from "../../provider/helper/kernel/netlink/rtnetlink-uapi";
import {
  CTRL_ATTR_FAMILY_ID,
  CTRL_ATTR_FAMILY_NAME,
  CTRL_ATTR_HDRSIZE,
  CTRL_ATTR_MAXATTR,
  CTRL_ATTR_MCAST_GROUPS,
  CTRL_ATTR_MCAST_GRP_ID,
  CTRL_ATTR_MCAST_GRP_NAME,
  CTRL_ATTR_OPS,
  CTRL_ATTR_OP_FLAGS,
  CTRL_ATTR_OP_ID,
  CTRL_ATTR_VERSION,
  CTRL_CMD_GETFAMILY,
  GENL_ADMIN_PERM,
  GENL_CMD_CAP_DO,
  GENL_CMD_CAP_DUMP,
  GENL_CMD_CAP_HASPOL,
  GENL_HDRLEN,
  GENL_ID_CTRL,
  genlHeader,
} from "../../provider/helper/kernel/netlink/genetlink";
import * as N from "../../provider/helper/kernel/netlink/netdev-genl";

class Refusal extends Error {
  constructor(
    readonly errno: number,
    readonly extack: { message?: string; offset?: number; missingType?: number } = {},
  ) {
    super(extack.message ?? `errno ${errno}`);
  }
}

const refuse = (code: string, message?: string, offset?: number) => new Refusal(errnoNumber(code), { message, offset });

export interface FakeLink {
  ifindex: number;
  name: string;
  kind: "netkit" | "nic";
  /** Has a parent bus device (dev.parent): a NIC. netkit is virtual. */
  physical: boolean;
  up: boolean;
  mtu: number;
  address: Buffer;
  numRxQueues: number;
  realRxQueues: number;
  numTxQueues: number;
  realTxQueues: number;
  /** Namespace id (as seen from the fake's own namespace) once moved away; undefined = here. */
  nsid?: number;
  netkit?: {
    primary: boolean;
    pairing: number;
    mode: number;
    policy: number;
    scrub: number;
    headroom: number;
    tailroom: number;
    peer?: number;
  };
  /** rx queue id → the queue at the other end of its lease. */
  leases: Map<number, { ifindex: number; queue: number }>;
}

export interface FakeOptions {
  /** Whether the netdev family offers queue-create (Linux ≥ 7.1). Default true. */
  queueCreate?: boolean;
  /** Whether netkit knows IFLA_NETKIT_PAIRING (7.1). Default true; false makes single a pair. */
  singleMode?: boolean;
}

const NETDEV_FAMILY_ID = 0x1d;
const NETDEV_OPS: [number, number][] = [
  [N.NETDEV_CMD["dev-get"], GENL_CMD_CAP_DO | GENL_CMD_CAP_DUMP | GENL_CMD_CAP_HASPOL],
  [N.NETDEV_CMD["page-pool-get"], GENL_CMD_CAP_DO | GENL_CMD_CAP_DUMP | GENL_CMD_CAP_HASPOL],
  [N.NETDEV_CMD["queue-get"], GENL_CMD_CAP_DO | GENL_CMD_CAP_DUMP | GENL_CMD_CAP_HASPOL],
  [N.NETDEV_CMD["napi-get"], GENL_CMD_CAP_DO | GENL_CMD_CAP_DUMP | GENL_CMD_CAP_HASPOL],
  [N.NETDEV_CMD["qstats-get"], GENL_CMD_CAP_DUMP | GENL_CMD_CAP_HASPOL],
  [N.NETDEV_CMD["bind-rx"], GENL_ADMIN_PERM | GENL_CMD_CAP_DO | GENL_CMD_CAP_HASPOL],
  [N.NETDEV_CMD["napi-set"], GENL_ADMIN_PERM | GENL_CMD_CAP_DO | GENL_CMD_CAP_HASPOL],
  [N.NETDEV_CMD["bind-tx"], GENL_CMD_CAP_DO | GENL_CMD_CAP_HASPOL],
];
const QUEUE_CREATE_OP: [number, number] = [N.NETDEV_CMD["queue-create"], GENL_ADMIN_PERM | GENL_CMD_CAP_DO | GENL_CMD_CAP_HASPOL];

/** The fake kernel: shared state behind any number of transports. */
export class FakeNetlinkKernel {
  readonly links = new Map<number, FakeLink>();
  /** Every request received, decoded, in order. */
  readonly requests: { protocol: number; msg: NetlinkMessage }[] = [];
  private nextIfindex = 2;
  private nextNsid = 0;
  private readonly nsids = new Map<number, number>();
  private readonly opts: Required<FakeOptions>;

  constructor(opts: FakeOptions = {}) {
    this.opts = { queueCreate: opts.queueCreate ?? true, singleMode: opts.singleMode ?? true };
  }

  /** A NIC with a parent bus device and queue management (what a lease may point at). */
  addNic(name: string, o: { rxQueues: number; txQueues?: number; up?: boolean }): FakeLink {
    const link: FakeLink = {
      ifindex: this.nextIfindex++,
      name,
      kind: "nic",
      physical: true,
      up: o.up ?? true,
      mtu: 1500,
      address: Buffer.from([0x02, 0, 0, 0, 0, this.nextIfindex & 0xff]),
      numRxQueues: o.rxQueues,
      realRxQueues: o.rxQueues,
      numTxQueues: o.txQueues ?? o.rxQueues,
      realTxQueues: o.txQueues ?? o.rxQueues,
      leases: new Map(),
    };
    this.links.set(link.ifindex, link);
    return link;
  }

  /** The NIC unregisters (driver unbound, hot-unplug): its leases end. */
  removeNic(name: string): void {
    const nic = this.byName(name);
    if (!nic || !nic.physical) throw new Error(`no NIC ${name}`);
    this.endLeases(nic);
    this.links.delete(nic.ifindex);
  }

  link(name: string): FakeLink | undefined {
    return [...this.links.values()].find((l) => l.name === name);
  }

  transport(protocol: number): NetlinkTransport {
    return {
      protocol,
      request: (msg: Buffer) => this.handle(protocol, msg),
      close: () => undefined,
    };
  }

  client(protocol: number): NetlinkClient {
    return new NetlinkClient(this.transport(protocol));
  }

  // -------------------------------------------------------------------------------------

  private handle(protocol: number, raw: Buffer): Buffer[] {
    const [msg] = parseMessages(raw);
    this.requests.push({ protocol, msg });
    try {
      const dump = (msg.flags & NLM_F_DUMP) === NLM_F_DUMP;
      const replies =
        protocol === NETLINK_ROUTE ? this.route(msg) : protocol === NETLINK_GENERIC ? this.generic(msg) : undefined;
      if (!replies) throw refuse("EPROTONOSUPPORT", "test double: protocol not modelled");
      const seq = messageSeq(raw);
      if (dump) {
        // Two entries per datagram, NLMSG_DONE in its own: exercises multipart parsing.
        const out: Buffer[] = [];
        for (let i = 0; i < replies.length; i += 2) {
          out.push(Buffer.concat(replies.slice(i, i + 2).map((r) => encodeMessage({ ...r, flags: r.flags | NLM_F_MULTI, seq }))));
        }
        out.push(encodeDone(seq));
        return out;
      }
      // A reply and its ack share one datagram.
      return [Buffer.concat([...replies.map((r) => encodeMessage({ ...r, seq })), encodeError(raw, 0)])];
    } catch (e) {
      if (!(e instanceof Refusal)) throw e;
      return [encodeError(raw, e.errno, e.extack)];
    }
  }

  private visible(): FakeLink[] {
    return [...this.links.values()].filter((l) => l.nsid === undefined);
  }
  private byName(name: string): FakeLink | undefined {
    return this.visible().find((l) => l.name === name);
  }
  private byIndex(ifindex: number): FakeLink | undefined {
    const l = this.links.get(ifindex);
    return l && l.nsid === undefined ? l : undefined;
  }

  // --- rtnetlink ------------------------------------------------------------------------

  private route(msg: NetlinkMessage): { type: number; flags: number; payload: Buffer }[] {
    const p = msg.payload;
    switch (msg.type) {
      case U.RTM_NEWLINK:
        this.newlink(msg.flags, p);
        return [];
      case U.RTM_DELLINK:
        this.dellink(p);
        return [];
      case U.RTM_GETLINK: {
        if ((msg.flags & NLM_F_DUMP) === NLM_F_DUMP) return this.visible().map((l) => this.linkMsg(l));
        const a = AttrSet.parse(p.subarray(U.IFINFOMSG_LEN), 16 + U.IFINFOMSG_LEN);
        const l = this.lookup(p.readInt32LE(4), a);
        if (!l) throw refuse("ENODEV");
        return [this.linkMsg(l)];
      }
      default:
        throw refuse("EOPNOTSUPP", "test double: rtnetlink message not modelled");
    }
  }

  private lookup(index: number, a: AttrSet): FakeLink | undefined {
    if (index > 0) return this.byIndex(index);
    const name = a.string(U.IFLA_IFNAME);
    return name === undefined ? undefined : this.byName(name);
  }

  private allocName(pattern: string): string {
    for (let i = 0; ; i++) if (!this.byName(pattern.replace("%d", String(i)))) return pattern.replace("%d", String(i));
  }

  private newlink(flags: number, p: Buffer): void {
    const a = AttrSet.parse(p.subarray(U.IFINFOMSG_LEN), 16 + U.IFINFOMSG_LEN);
    const existing = this.lookup(p.readInt32LE(4), a);
    if (existing) {
      if (flags & NLM_F_EXCL) throw refuse("EEXIST");
      this.changelink(existing, p, a);
      return;
    }
    if (!(flags & NLM_F_CREATE)) throw refuse("ENODEV");
    const info = a.nest(U.IFLA_LINKINFO);
    const kind = info?.string(U.IFLA_INFO_KIND);
    if (kind !== "netkit") throw refuse("EOPNOTSUPP", "Unknown device type");
    if (a.has(U.IFLA_NET_NS_FD)) throw refuse("EOPNOTSUPP", "test double: creating into another netns is not modelled");
    this.newNetkit(a, info!.nest(U.IFLA_INFO_DATA));
  }

  private newNetkit(tb: AttrSet, data: AttrSet | undefined): void {
    let mode = U.NETKIT_L3;
    let policy = U.NETKIT_PASS;
    let peerPolicy = U.NETKIT_PASS;
    let scrub = U.NETKIT_SCRUB_DEFAULT;
    let peerScrub = U.NETKIT_SCRUB_DEFAULT;
    let pairing = U.NETKIT_DEVICE_PAIR;
    let headroom = 0;
    let tailroom = 0;
    let tbp = tb;
    let seenPeer = false;
    let seenScrub = false;
    if (data) {
      const prim = data.get(U.IFLA_NETKIT_PRIMARY);
      if (prim) throw refuse("EINVAL", "Primary attribute is read-only", prim.offset);
      const check = (t: number, max: number): number | undefined => {
        const v = data.u32(t);
        if (v !== undefined && v > max) throw refuse("EINVAL", "integer out of range", data.get(t)!.offset);
        return v;
      };
      const checkPolicy = (t: number): number | undefined => {
        const v = data.u32(t);
        if (v !== undefined && v !== U.NETKIT_PASS && v !== U.NETKIT_DROP) {
          throw refuse("EINVAL", "Provided default xmit policy not supported", data.get(t)!.offset);
        }
        return v;
      };
      const m = data.u32(U.IFLA_NETKIT_MODE);
      if (m !== undefined && m !== U.NETKIT_L2 && m !== U.NETKIT_L3) {
        throw refuse("EINVAL", "Provided device mode can only be L2 or L3", data.get(U.IFLA_NETKIT_MODE)!.offset);
      }
      mode = m ?? mode;
      policy = checkPolicy(U.IFLA_NETKIT_POLICY) ?? policy;
      peerPolicy = checkPolicy(U.IFLA_NETKIT_PEER_POLICY) ?? peerPolicy;
      scrub = check(U.IFLA_NETKIT_SCRUB, U.NETKIT_SCRUB_DEFAULT) ?? scrub;
      peerScrub = check(U.IFLA_NETKIT_PEER_SCRUB, U.NETKIT_SCRUB_DEFAULT) ?? peerScrub;
      if (this.opts.singleMode) pairing = check(U.IFLA_NETKIT_PAIRING, U.NETKIT_DEVICE_SINGLE) ?? pairing;
      headroom = data.u16(U.IFLA_NETKIT_HEADROOM) ?? 0;
      tailroom = data.u16(U.IFLA_NETKIT_TAILROOM) ?? 0;
      const pi = data.get(U.IFLA_NETKIT_PEER_INFO);
      if (pi) {
        if (pi.data.length < U.IFINFOMSG_LEN) throw refuse("EINVAL", "attribute too short", pi.offset);
        tbp = AttrSet.parse(pi.data.subarray(U.IFINFOMSG_LEN), pi.offset + 4 + U.IFINFOMSG_LEN);
      }
      seenPeer = !!pi || data.has(U.IFLA_NETKIT_PEER_SCRUB) || data.has(U.IFLA_NETKIT_PEER_POLICY);
      // Linux 7.3 refuses a single device carrying any scrub setting, even the default,
      // with a bare EOPNOTSUPP (no extack): checked on the real kernel, not assumed.
      seenScrub = data.has(U.IFLA_NETKIT_SCRUB);
    }
    if (mode !== U.NETKIT_L2 && (tb.has(U.IFLA_ADDRESS) || tbp.has(U.IFLA_ADDRESS))) throw refuse("EOPNOTSUPP");
    if (pairing === U.NETKIT_DEVICE_SINGLE && (tbp !== tb || seenPeer || seenScrub || policy !== U.NETKIT_PASS)) throw refuse("EOPNOTSUPP");

    const name = tb.string(U.IFLA_IFNAME) ?? this.allocName("nk%d");
    if (this.byName(name)) throw refuse("EEXIST");
    const make = (attrs: AttrSet, devName: string, primary: boolean, pol: number, scr: number): FakeLink => {
      const numRx = attrs.u32(U.IFLA_NUM_RX_QUEUES) ?? 1;
      const numTx = attrs.u32(U.IFLA_NUM_TX_QUEUES) ?? 1;
      const mac = attrs.binary(U.IFLA_ADDRESS);
      return {
        ifindex: 0,
        name: devName,
        kind: "netkit",
        physical: false,
        up: false,
        mtu: attrs.u32(U.IFLA_MTU) ?? 1500,
        address: mac ? Buffer.from(mac) : mode === U.NETKIT_L2 ? Buffer.from([0x02, 0xaa, 0, 0, 0, this.nextIfindex & 0xff]) : Buffer.alloc(0),
        numRxQueues: numRx,
        realRxQueues: 1,
        numTxQueues: numTx,
        realTxQueues: 1,
        netkit: { primary, pairing, mode, policy: pol, scrub: scr, headroom, tailroom },
        leases: new Map(),
      };
    };
    let peer: FakeLink | undefined;
    if (pairing === U.NETKIT_DEVICE_PAIR) {
      const peerName = (tbp !== tb ? tbp.string(U.IFLA_IFNAME) : undefined) ?? this.allocName("nk%d");
      if (this.byName(peerName) || peerName === name) throw refuse("EEXIST");
      // The peer registers first, as in netkit_new_link.
      peer = make(tbp, peerName, false, peerPolicy, peerScrub);
      peer.ifindex = this.nextIfindex++;
      this.links.set(peer.ifindex, peer);
    }
    const dev = make(tb, name, true, policy, scrub);
    dev.ifindex = this.nextIfindex++;
    this.links.set(dev.ifindex, dev);
    if (peer) {
      peer.netkit!.peer = dev.ifindex;
      dev.netkit!.peer = peer.ifindex;
    }
  }

  private changelink(l: FakeLink, p: Buffer, a: AttrSet): void {
    const xdp = a.get(U.IFLA_XDP);
    if (xdp && l.kind === "netkit") throw refuse("EPERM", undefined, xdp.offset);
    const info = a.nest(U.IFLA_LINKINFO);
    if (info) {
      // drivers/net/netkit.c netkit_change_link: only the policies may change; mode,
      // scrub, head/tailroom and the peer are fixed once the device exists.
      if (l.kind !== "netkit" || info.string(U.IFLA_INFO_KIND) !== "netkit") throw refuse("EOPNOTSUPP", "test double: changing link data is not modelled");
      const data = info.nest(U.IFLA_INFO_DATA);
      for (const [t, what] of [[U.IFLA_NETKIT_MODE, "operating mode"], [U.IFLA_NETKIT_SCRUB, "scrubbing"], [U.IFLA_NETKIT_PEER_SCRUB, "peer scrubbing"], [U.IFLA_NETKIT_HEADROOM, "headroom"], [U.IFLA_NETKIT_TAILROOM, "tailroom"], [U.IFLA_NETKIT_PEER_INFO, "peer info"]] as const) {
        if (data?.has(t)) throw refuse("EINVAL", `netkit link ${what} cannot be changed after device creation`, data.get(t)!.offset);
      }
      const policy = data?.u32(U.IFLA_NETKIT_POLICY);
      if (policy !== undefined) {
        if (policy !== U.NETKIT_PASS && policy !== U.NETKIT_DROP) throw refuse("EINVAL", "Provided default xmit policy not supported", data!.get(U.IFLA_NETKIT_POLICY)!.offset);
        // Linux 7.3 keeps a single device at pass: any other policy is EOPNOTSUPP, no
        // extack (seen on a VM lab host, not assumed).
        if (l.netkit!.pairing === U.NETKIT_DEVICE_SINGLE && policy !== U.NETKIT_PASS) throw refuse("EOPNOTSUPP");
        l.netkit!.policy = policy;
      }
    }
    const change = p.readUInt32LE(12);
    if (change & U.IFF_UP) l.up = (p.readUInt32LE(8) & U.IFF_UP) !== 0;
    const mtu = a.u32(U.IFLA_MTU);
    if (mtu !== undefined) {
      if (mtu < 68) throw refuse("EINVAL", "mtu less than device minimum", a.get(U.IFLA_MTU)!.offset);
      l.mtu = mtu;
    }
    const ns = a.u32(U.IFLA_NET_NS_FD);
    if (ns !== undefined) {
      // The fd stands for a namespace; the same fd number means the same namespace here.
      if (!this.nsids.has(ns)) this.nsids.set(ns, this.nextNsid++);
      l.nsid = this.nsids.get(ns);
    }
  }

  private dellink(p: Buffer): void {
    const a = AttrSet.parse(p.subarray(U.IFINFOMSG_LEN), 16 + U.IFINFOMSG_LEN);
    const l = this.lookup(p.readInt32LE(4), a);
    if (!l) throw refuse("ENODEV");
    if (l.kind !== "netkit") throw refuse("EOPNOTSUPP");
    // Deleting either end of a pair unregisters both, and with them every lease.
    const peer = l.netkit?.peer !== undefined ? this.links.get(l.netkit.peer) : undefined;
    for (const dev of [l, peer]) {
      if (!dev) continue;
      this.endLeases(dev);
      this.links.delete(dev.ifindex);
    }
  }

  private endLeases(dev: FakeLink): void {
    for (const other of dev.leases.values()) {
      const end = this.links.get(other.ifindex);
      if (end?.leases.get(other.queue)?.ifindex === dev.ifindex) end.leases.delete(other.queue);
    }
    dev.leases.clear();
  }

  private linkMsg(l: FakeLink): { type: number; flags: number; payload: Buffer } {
    const hdr = Buffer.alloc(U.IFINFOMSG_LEN);
    hdr.writeUInt16LE(l.kind === "netkit" && l.netkit!.mode === U.NETKIT_L3 ? 65534 : 1, 2);
    hdr.writeInt32LE(l.ifindex, 4);
    hdr.writeUInt32LE(l.up ? U.IFF_UP : 0, 8);
    const attrs: Attr[] = [
      nla.string(U.IFLA_IFNAME, l.name),
      nla.u32(U.IFLA_MTU, l.mtu),
      nla.u8(U.IFLA_OPERSTATE, l.up ? 6 : 2),
      nla.u32(U.IFLA_NUM_TX_QUEUES, l.numTxQueues),
      nla.u32(U.IFLA_NUM_RX_QUEUES, l.numRxQueues),
    ];
    if (l.address.length) attrs.push(nla.binary(U.IFLA_ADDRESS, l.address));
    const info: Attr[] = [];
    if (l.netkit) {
      const nk = l.netkit;
      const peer = nk.peer !== undefined ? this.links.get(nk.peer) : undefined;
      if (peer) attrs.push(nla.u32(U.IFLA_LINK, peer.ifindex));
      const data: Attr[] = [
        nla.u8(U.IFLA_NETKIT_PRIMARY, nk.primary ? 1 : 0),
        nla.u32(U.IFLA_NETKIT_POLICY, nk.policy),
        nla.u32(U.IFLA_NETKIT_MODE, nk.mode),
        nla.u32(U.IFLA_NETKIT_SCRUB, nk.scrub),
        nla.u16(U.IFLA_NETKIT_HEADROOM, nk.headroom),
        nla.u16(U.IFLA_NETKIT_TAILROOM, nk.tailroom),
      ];
      if (this.opts.singleMode) data.push(nla.u32(U.IFLA_NETKIT_PAIRING, nk.pairing));
      if (peer) data.push(nla.u32(U.IFLA_NETKIT_PEER_POLICY, peer.netkit!.policy), nla.u32(U.IFLA_NETKIT_PEER_SCRUB, peer.netkit!.scrub));
      // Like the kernel's nla_nest_start_noflag for link info: no NLA_F_NESTED here.
      info.push(nla.string(U.IFLA_INFO_KIND, "netkit"), { type: U.IFLA_INFO_DATA, data: encodeAttrs(data) });
      attrs.push({ type: U.IFLA_LINKINFO, data: encodeAttrs(info) });
    }
    return { type: U.RTM_NEWLINK, flags: 0, payload: Buffer.concat([hdr, encodeAttrs(attrs)]) };
  }

  // --- generic netlink ------------------------------------------------------------------

  private generic(msg: NetlinkMessage): { type: number; flags: number; payload: Buffer }[] {
    if (msg.payload.length < GENL_HDRLEN) throw refuse("EINVAL");
    const cmd = msg.payload.readUInt8(0);
    const a = AttrSet.parse(msg.payload.subarray(GENL_HDRLEN), 16 + GENL_HDRLEN);
    if (msg.type === GENL_ID_CTRL) {
      if (cmd !== CTRL_CMD_GETFAMILY) throw refuse("EOPNOTSUPP");
      return [this.family(a)];
    }
    if (msg.type !== NETDEV_FAMILY_ID) throw refuse("ENOENT");
    const dump = (msg.flags & NLM_F_DUMP) === NLM_F_DUMP;
    const reply = (attrs: Attr[], c = cmd) => ({ type: NETDEV_FAMILY_ID, flags: 0, payload: Buffer.concat([genlHeader(c, 1), encodeAttrs(attrs)]) });
    switch (cmd) {
      case N.NETDEV_CMD["queue-get"]:
        return dump ? this.queueDump(a).map((q) => reply(q)) : [reply(this.queueGet(a))];
      case N.NETDEV_CMD["queue-create"]:
        if (!this.opts.queueCreate) throw refuse("EOPNOTSUPP");
        return [reply([nla.u32(N.NETDEV_A_QUEUE_ID, this.queueCreate(a))])];
      default:
        throw refuse("EOPNOTSUPP", "test double: netdev command not modelled");
    }
  }

  private family(a: AttrSet): { type: number; flags: number; payload: Buffer } {
    const name = a.string(CTRL_ATTR_FAMILY_NAME);
    if (name === undefined) throw refuse("EINVAL");
    if (name !== N.NETDEV_FAMILY_NAME) throw refuse("ENOENT");
    const ops = this.opts.queueCreate ? [...NETDEV_OPS, QUEUE_CREATE_OP] : NETDEV_OPS;
    const attrs: Attr[] = [
      nla.string(CTRL_ATTR_FAMILY_NAME, name),
      nla.u16(CTRL_ATTR_FAMILY_ID, NETDEV_FAMILY_ID),
      nla.u32(CTRL_ATTR_VERSION, N.NETDEV_FAMILY_VERSION),
      nla.u32(CTRL_ATTR_HDRSIZE, 0),
      nla.u32(CTRL_ATTR_MAXATTR, 0),
      nla.nest(
        CTRL_ATTR_OPS,
        ops.map(([id, flags], i) => nla.nest(i + 1, [nla.u32(CTRL_ATTR_OP_ID, id), nla.u32(CTRL_ATTR_OP_FLAGS, flags)])),
      ),
      nla.nest(CTRL_ATTR_MCAST_GROUPS, [
        nla.nest(1, [nla.string(CTRL_ATTR_MCAST_GRP_NAME, "mgmt"), nla.u32(CTRL_ATTR_MCAST_GRP_ID, 4)]),
        nla.nest(2, [nla.string(CTRL_ATTR_MCAST_GRP_NAME, "page-pool"), nla.u32(CTRL_ATTR_MCAST_GRP_ID, 5)]),
      ]),
    ];
    return { type: GENL_ID_CTRL, flags: 0, payload: Buffer.concat([genlHeader(1 /* CTRL_CMD_NEWFAMILY */, 2), encodeAttrs(attrs)]) };
  }

  private required(a: AttrSet, types: number[]): void {
    for (const t of types) if (!a.has(t)) throw new Refusal(errnoNumber("EINVAL"), { missingType: t });
  }

  private queueCreate(a: AttrSet): number {
    this.required(a, [N.NETDEV_A_QUEUE_IFINDEX, N.NETDEV_A_QUEUE_TYPE, N.NETDEV_A_QUEUE_LEASE]);
    if (a.u32(N.NETDEV_A_QUEUE_TYPE) !== N.NETDEV_QUEUE_TYPE_RX) throw refuse("EINVAL", undefined, a.get(N.NETDEV_A_QUEUE_TYPE)!.offset);
    const ifindex = a.u32(N.NETDEV_A_QUEUE_IFINDEX)!;
    const l = a.nest(N.NETDEV_A_QUEUE_LEASE)!;
    this.required(l, [N.NETDEV_A_LEASE_IFINDEX, N.NETDEV_A_LEASE_QUEUE]);
    const ns = l.get(N.NETDEV_A_LEASE_NETNS_ID);
    if (ns) throw refuse("EINVAL", undefined, ns.offset);
    const leaseIfindex = l.u32(N.NETDEV_A_LEASE_IFINDEX)!;
    const q = l.nest(N.NETDEV_A_LEASE_QUEUE)!;
    this.required(q, [N.NETDEV_A_QUEUE_ID, N.NETDEV_A_QUEUE_TYPE]);
    if (q.u32(N.NETDEV_A_QUEUE_TYPE) !== N.NETDEV_QUEUE_TYPE_RX) throw refuse("EINVAL", undefined, q.get(N.NETDEV_A_QUEUE_TYPE)!.offset);
    if (ifindex === leaseIfindex) throw refuse("EINVAL", "Lease ifindex cannot be the same as queue creation ifindex");
    const queueId = q.u32(N.NETDEV_A_QUEUE_ID)!;

    const dev = this.byIndex(ifindex);
    if (!dev) throw refuse("ENODEV");
    if (dev.physical) throw refuse("EINVAL", "Device is not a virtual device");
    if (dev.kind !== "netkit") throw refuse("EINVAL", "Device does not support queue creation");
    const nic = this.byIndex(leaseIfindex);
    if (!nic) throw refuse("ENODEV");
    if (!nic.physical) throw refuse("EINVAL", "Lease device is a virtual device");
    if (queueId >= nic.realRxQueues) throw refuse("ERANGE", undefined, q.get(N.NETDEV_A_QUEUE_ID)!.offset);
    if (nic.leases.has(queueId)) throw refuse("EBUSY", "Lease device queue is already leased");
    const last = dev.leases.get(dev.realRxQueues - 1);
    if (last && last.ifindex !== nic.ifindex) {
      throw refuse("EOPNOTSUPP", "Leasing multiple queues from different devices not supported");
    }
    // netkit_queue_create: the primary of a pair refuses; the new queue is the next index.
    if (dev.netkit!.pairing === U.NETKIT_DEVICE_PAIR && dev.netkit!.primary) {
      throw refuse("EOPNOTSUPP", "Device is unable to create a new queue");
    }
    if (dev.realRxQueues + 1 > dev.numRxQueues) throw refuse("EINVAL", "Device is unable to create a new queue");
    const id = dev.realRxQueues;
    dev.realRxQueues += 1;
    dev.leases.set(id, { ifindex: nic.ifindex, queue: queueId });
    nic.leases.set(queueId, { ifindex: dev.ifindex, queue: id });
    return id;
  }

  private queueAttrs(dev: FakeLink, type: number, id: number): Attr[] {
    const attrs: Attr[] = [nla.u32(N.NETDEV_A_QUEUE_ID, id), nla.u32(N.NETDEV_A_QUEUE_TYPE, type), nla.u32(N.NETDEV_A_QUEUE_IFINDEX, dev.ifindex)];
    const lease = type === N.NETDEV_QUEUE_TYPE_RX && dev.physical ? dev.leases.get(id) : undefined;
    if (lease) {
      const owner = this.links.get(lease.ifindex)!;
      const inner: Attr[] = [
        nla.nest(N.NETDEV_A_LEASE_QUEUE, [nla.u32(N.NETDEV_A_QUEUE_ID, lease.queue), nla.u32(N.NETDEV_A_QUEUE_TYPE, type)]),
        nla.u32(N.NETDEV_A_LEASE_IFINDEX, owner.ifindex),
      ];
      if (owner.nsid !== undefined) inner.push(nla.s32(N.NETDEV_A_LEASE_NETNS_ID, owner.nsid));
      attrs.push(nla.nest(N.NETDEV_A_QUEUE_LEASE, inner));
    }
    return attrs;
  }

  private queueGet(a: AttrSet): Attr[] {
    this.required(a, [N.NETDEV_A_QUEUE_ID, N.NETDEV_A_QUEUE_TYPE, N.NETDEV_A_QUEUE_IFINDEX]);
    const dev = this.byIndex(a.u32(N.NETDEV_A_QUEUE_IFINDEX)!);
    if (!dev) throw refuse("ENODEV");
    if (!dev.up) throw refuse("ENOENT");
    const type = a.u32(N.NETDEV_A_QUEUE_TYPE)!;
    const id = a.u32(N.NETDEV_A_QUEUE_ID)!;
    const real = type === N.NETDEV_QUEUE_TYPE_RX ? dev.realRxQueues : dev.realTxQueues;
    if (id >= real) throw refuse("EINVAL");
    return this.queueAttrs(dev, type, id);
  }

  private queueDump(a: AttrSet): Attr[][] {
    const only = a.u32(N.NETDEV_A_QUEUE_IFINDEX);
    const out: Attr[][] = [];
    for (const dev of this.visible()) {
      if ((only !== undefined && dev.ifindex !== only) || !dev.up) continue;
      for (let i = 0; i < dev.realRxQueues; i++) out.push(this.queueAttrs(dev, N.NETDEV_QUEUE_TYPE_RX, i));
      for (let i = 0; i < dev.realTxQueues; i++) out.push(this.queueAttrs(dev, N.NETDEV_QUEUE_TYPE_TX, i));
    }
    return out;
  }
}
