// netkit creation and the netdev queue lease against a test double of the kernel at the
// netlink boundary (test/support/fake-netlink.ts): this machine's kernel has neither
// netkit nor queue-create. The double answers the exact bytes our client sends.
import { FakeNetlinkKernel } from "../support/fake-netlink";
import { NETLINK_GENERIC, NETLINK_ROUTE } from "../../provider/helper/kernel/netlink/socket";
import { RtNetlink, isKindNotSupported } from "../../provider/helper/kernel/netlink/rtnetlink";
import { encodeNetkitCreate } from "../../provider/helper/kernel/netlink/rtnetlink-netkit";
import { ifinfomsg } from "../../provider/helper/kernel/netlink/rtnetlink-request";
import { GenlClient, genlPayload } from "../../provider/helper/kernel/netlink/genetlink";
import { NETDEV_CMD, NetdevGenl, QueueCreateRequest, queueCreateAttrs } from "../../provider/helper/kernel/netlink/netdev-genl";
import { NLM_F_CREATE, NLM_F_EXCL, NetlinkError } from "../../provider/helper/kernel/netlink/codec";
import { encodeAttrs, nla } from "../../provider/helper/kernel/netlink/attributes";
import { KernelError } from "../../provider/helper/kernel/errors";
import { routeAttrSpace } from "../../provider/helper/kernel/netlink/rtnetlink-attr-names";
import {
  IFLA_IFNAME,
  IFLA_INFO_DATA,
  IFLA_INFO_KIND,
  IFLA_LINKINFO,
  IFLA_NETKIT_PRIMARY,
  IFLA_XDP,
  IFLA_XDP_FD,
  RTM_NEWLINK,
} from "../../provider/helper/kernel/netlink/rtnetlink-uapi";
import { thrown } from "../support/thrown";

function setup(opts: ConstructorParameters<typeof FakeNetlinkKernel>[0] = {}) {
  const kernel = new FakeNetlinkKernel(opts);
  const nic = kernel.addNic("eth0", { rxQueues: 16 });
  const rt = new RtNetlink(kernel.client(NETLINK_ROUTE));
  const netdev = new NetdevGenl(new GenlClient(kernel.client(NETLINK_GENERIC)));
  return { kernel, nic, rt, netdev };
}

const lease = (ifindex: number, nic: number, queue: number): QueueCreateRequest => ({
  ifindex,
  type: "rx",
  lease: { ifindex: nic, queue: { id: queue, type: "rx" } },
});


describe("netkit creation (test double, not the kernel)", () => {
  test("a pair is created with its options and read back", () => {
    const { rt } = setup();
    const link = rt.createNetkit({ name: "nk0", mode: "l2", policy: "drop", peerPolicy: "pass", scrub: "none", headroom: 64, tailroom: 32, peer: { name: "nk1" } })!;
    expect(link.kind).toBe("netkit");
    expect(link.netkit).toMatchObject({ primary: true, pairing: "pair", mode: "l2", policy: "drop", peerPolicy: "pass", scrub: "none", headroom: 64, tailroom: 32 });
    const peer = rt.getLink("nk1");
    expect(peer.netkit?.primary).toBe(false);
    expect(peer.link).toBe(link.ifindex);
    expect(link.link).toBe(peer.ifindex);
  });

  test("a single device has no peer and reports pairing single", () => {
    const { rt } = setup();
    const link = rt.createNetkit({ name: "nks", pairing: "single", numRxQueues: 4 })!;
    expect(link.netkit?.pairing).toBe("single");
    expect(link.link).toBeUndefined();
    expect(link.numRxQueues).toBe(4);
    expect(rt.listLinks().filter((l) => l.kind === "netkit").map((l) => l.name)).toEqual(["nks"]);
  });

  test("single mode with a peer policy is refused by the kernel with EOPNOTSUPP", () => {
    const { rt } = setup();
    // Bypass our own pre-check to see the kernel rule.
    const req = encodeNetkitCreate({ name: "nks", pairing: "single", peerPolicy: "drop" });
    const e = thrown(() => rt.nl.request(req.type, req.flags, req.payload, { op: "RTM_NEWLINK netkit", headerLen: 16 }));
    expect(e.code).toBe("EOPNOTSUPP");
    expect(rt.findLink("nks")).toBeUndefined();
  });

  test("our pre-check refuses the same with a message instead", () => {
    const { rt, kernel } = setup();
    expect(() => rt.createNetkit({ name: "nks", pairing: "single", peer: { name: "x" } })).toThrow(/single mode does not take peer/);
    expect(kernel.requests.filter((r) => r.protocol === NETLINK_ROUTE)).toHaveLength(0);
  });

  test("a kernel without single mode would make a pair: createNetkit notices, cleans up and says so", () => {
    const { rt } = setup({ singleMode: false });
    let err: unknown;
    try {
      rt.createNetkit({ name: "nks", pairing: "single", numRxQueues: 4 });
    } catch (e) {
      err = e;
    }
    expect(err).toBeInstanceOf(KernelError);
    expect((err as KernelError).code).toBe("EOPNOTSUPP");
    expect((err as KernelError).kernelMessage).toMatch(/single mode/);
    expect(rt.listLinks().filter((l) => l.kind === "netkit")).toEqual([]);
  });

  test("the read-only PRIMARY attribute is refused and extack points at it", () => {
    const { rt } = setup();
    const payload = Buffer.concat([
      ifinfomsg(),
      encodeAttrs([
        nla.string(IFLA_IFNAME, "nk0"),
        nla.nest(IFLA_LINKINFO, [nla.string(IFLA_INFO_KIND, "netkit"), nla.nest(IFLA_INFO_DATA, [nla.u8(IFLA_NETKIT_PRIMARY, 1)])]),
      ]),
    ]);
    const e = thrown(() => rt.nl.request(RTM_NEWLINK, NLM_F_CREATE | NLM_F_EXCL, payload, { op: "RTM_NEWLINK netkit", headerLen: 16 }));
    expect(e.code).toBe("EINVAL");
    expect(e.kernelMessage).toBe("Primary attribute is read-only");
    expect(e.attrOffset).toBe(60);
    expect(e.attrPath).toEqual([IFLA_LINKINFO, IFLA_INFO_DATA, IFLA_NETKIT_PRIMARY]);
  });

  // IFLA_NETKIT_PRIMARY is read-only: the kernel refuses it and points at it.
  const primaryPayload = () =>
    Buffer.concat([
      ifinfomsg(),
      encodeAttrs([
        nla.string(IFLA_IFNAME, "nk0"),
        nla.nest(IFLA_LINKINFO, [nla.string(IFLA_INFO_KIND, "netkit"), nla.nest(IFLA_INFO_DATA, [nla.u8(IFLA_NETKIT_PRIMARY, 1)])]),
      ]),
    ]);

  test("the client names the attribute extack points at, by the request's attribute names", () => {
    const { rt } = setup();
    const opts = { op: "RTM_NEWLINK netkit", context: "nk0", headerLen: 16, attrs: routeAttrSpace(RTM_NEWLINK) };
    const e = thrown(() => rt.nl.request(RTM_NEWLINK, NLM_F_CREATE | NLM_F_EXCL, primaryPayload(), opts));
    expect(e).toBeInstanceOf(NetlinkError);
    expect(e.attribute).toBe("IFLA_LINKINFO > IFLA_INFO_DATA > IFLA_NETKIT_PRIMARY");
    expect(e.message).toBe(
      "RTM_NEWLINK netkit (nk0; attribute IFLA_LINKINFO > IFLA_INFO_DATA > IFLA_NETKIT_PRIMARY) failed: EINVAL: Primary attribute is read-only",
    );
    // RtNetlink's own requests carry their names.
    rt.createNetkit({ name: "nk2", peer: { name: "nk3" } });
    expect(thrown(() => rt.setMtu("nk2", 10)).attribute).toBe("IFLA_MTU");
  });

  test("without the request's attribute names, the attribute is told by number and offset", () => {
    const { rt } = setup();
    const e = thrown(() => rt.nl.request(RTM_NEWLINK, NLM_F_CREATE | NLM_F_EXCL, primaryPayload(), { op: "RTM_NEWLINK netkit", headerLen: 16 }));
    expect(e.attribute).toBe(`${IFLA_LINKINFO}/${IFLA_INFO_DATA}/${IFLA_NETKIT_PRIMARY} at offset 60`);
  });

  test("an XDP program on a netkit device is refused (EPERM)", () => {
    const { rt } = setup();
    const link = rt.createNetkit({ name: "nks", pairing: "single" })!;
    const hdr = Buffer.alloc(16);
    hdr.writeInt32LE(link.ifindex, 4);
    const payload = Buffer.concat([hdr, encodeAttrs([nla.nest(IFLA_XDP, [nla.s32(IFLA_XDP_FD, 3)])])]);
    const e = thrown(() => rt.nl.request(16, 0, payload, { op: "RTM_NEWLINK xdp", headerLen: 16 }));
    expect(e.code).toBe("EPERM");
  });

  test("other link kinds are unknown to the double, as netkit is to this kernel", () => {
    const { rt } = setup();
    let err: unknown;
    try {
      rt.createVeth({ name: "v0", peer: { name: "v1" } });
    } catch (e) {
      err = e;
    }
    expect(isKindNotSupported(err)).toBe(true);
  });
});

describe("netdev queue lease (test double, not the kernel)", () => {
  test("the family lists queue-create; a kernel before 7.1 does not, and we refuse without sending", () => {
    expect(setup().netdev.hasOp("queue-create")).toBe(true);
    const old = setup({ queueCreate: false });
    expect(old.netdev.hasOp("queue-create")).toBe(false);
    expect(old.netdev.hasOp("queue-get")).toBe(true);
    const before = old.kernel.requests.length;
    expect(() => old.netdev.queueCreate(lease(5, old.nic.ifindex, 3))).toThrow(/queue leasing needs Linux 7.1/);
    expect(old.kernel.requests.length).toBe(before);
  });

  test("leases on a single device start at rx queue 1 and run out at numrxqueues", () => {
    const { rt, netdev, nic } = setup();
    const nk = rt.createNetkit({ name: "nks", pairing: "single", numRxQueues: 3 })!;
    expect(netdev.queueCreate(lease(nk.ifindex, nic.ifindex, 14))).toBe(1);
    expect(netdev.queueCreate(lease(nk.ifindex, nic.ifindex, 15))).toBe(2);
    const e = thrown(() => netdev.queueCreate(lease(nk.ifindex, nic.ifindex, 13)));
    expect(e.code).toBe("EINVAL");
    expect(e.kernelMessage).toBe("Device is unable to create a new queue");
  });

  test("the primary of a pair may not lease; its peer may", () => {
    const { rt, netdev, nic } = setup();
    const prim = rt.createNetkit({ name: "nk0", numRxQueues: 2, peer: { name: "nk1", numRxQueues: 2 } })!;
    const e = thrown(() => netdev.queueCreate(lease(prim.ifindex, nic.ifindex, 3)));
    expect(e.code).toBe("EOPNOTSUPP");
    expect(e.kernelMessage).toBe("Device is unable to create a new queue");
    expect(netdev.queueCreate(lease(rt.getLink("nk1").ifindex, nic.ifindex, 3))).toBe(1);
  });

  test("a NIC queue already leased is refused with EBUSY", () => {
    const { rt, netdev, nic } = setup();
    const a = rt.createNetkit({ name: "nka", pairing: "single", numRxQueues: 2 })!;
    const b = rt.createNetkit({ name: "nkb", pairing: "single", numRxQueues: 2 })!;
    netdev.queueCreate(lease(a.ifindex, nic.ifindex, 7));
    const e = thrown(() => netdev.queueCreate(lease(b.ifindex, nic.ifindex, 7)));
    expect(e.code).toBe("EBUSY");
    expect(e.kernelMessage).toBe("Lease device queue is already leased");
  });

  test("a queue beyond the NIC's rx queues is ERANGE, and extack points into the lease nest", () => {
    const { rt, netdev, nic } = setup();
    const nk = rt.createNetkit({ name: "nks", pairing: "single", numRxQueues: 2 })!;
    const e = thrown(() => netdev.queueCreate(lease(nk.ifindex, nic.ifindex, 16)));
    expect(e.code).toBe("ERANGE");
    // NETDEV_A_QUEUE_LEASE 8 → NETDEV_A_LEASE_QUEUE 2 → NETDEV_A_QUEUE_ID 1
    expect(e.attrPath).toEqual([8, 2, 1]);
  });

  test("netns-id is refused in a request", () => {
    const { rt, netdev, nic } = setup();
    const nk = rt.createNetkit({ name: "nks", pairing: "single", numRxQueues: 2 })!;
    const req = lease(nk.ifindex, nic.ifindex, 1);
    req.lease.netnsId = 0;
    const e = thrown(() => netdev.queueCreate(req));
    expect(e.code).toBe("EINVAL");
    expect(e.attrPath).toEqual([8, 3]);
  });

  test("only virtual → physical: a NIC cannot take a lease, a netkit cannot give one", () => {
    const { rt, netdev, nic } = setup();
    const a = rt.createNetkit({ name: "nka", pairing: "single", numRxQueues: 2 })!;
    const b = rt.createNetkit({ name: "nkb", pairing: "single", numRxQueues: 2 })!;
    expect(thrown(() => netdev.queueCreate(lease(nic.ifindex, a.ifindex, 0))).kernelMessage).toBe("Device is not a virtual device");
    expect(thrown(() => netdev.queueCreate(lease(a.ifindex, b.ifindex, 0))).kernelMessage).toBe("Lease device is a virtual device");
    expect(thrown(() => netdev.queueCreate(lease(a.ifindex, a.ifindex, 0))).kernelMessage).toBe(
      "Lease ifindex cannot be the same as queue creation ifindex",
    );
    expect(thrown(() => netdev.queueCreate(lease(a.ifindex, 999, 0))).code).toBe("ENODEV");
  });

  test("missing required attributes are reported by type", () => {
    const { netdev } = setup();
    const payload = genlPayload(NETDEV_CMD["queue-create"], 1, queueCreateAttrs(lease(5, 2, 1)).slice(0, 2));
    const e = thrown(() => netdev.genl.nl.request(netdev.family.id, 0, payload, { op: "queue-create" }));
    expect(e.code).toBe("EINVAL");
    expect(e.missingType).toBe(8);
  });

  test("queue-get reports the lease on the NIC's queue, with netns-id once the netkit moved away", () => {
    const { rt, netdev, nic } = setup();
    const nk = rt.createNetkit({ name: "nks", pairing: "single", numRxQueues: 2 })!;
    const id = netdev.queueCreate(lease(nk.ifindex, nic.ifindex, 5));
    expect(netdev.queueGet(nic.ifindex, "rx", 5).lease).toEqual({ ifindex: nk.ifindex, queue: { id, type: "rx" }, netnsId: undefined });
    expect(netdev.queueGet(nic.ifindex, "rx", 4).lease).toBeUndefined();
    // down devices have no queues to report
    expect(thrown(() => netdev.queueGet(nk.ifindex, "rx", 1)).code).toBe("ENOENT");
    rt.setUp(nk.ifindex);
    expect(netdev.queueDump(nk.ifindex).filter((q) => q.type === "rx").map((q) => q.id)).toEqual([0, 1]);

    rt.moveToNetns(nk.ifindex, { fd: 42 });
    expect(rt.findLink("nks")).toBeUndefined();
    expect(netdev.queueGet(nic.ifindex, "rx", 5).lease).toEqual({ ifindex: nk.ifindex, queue: { id: 1, type: "rx" }, netnsId: 0 });
  });

  test("there is no unlease: deleting the netkit device ends its leases and frees the NIC queue", () => {
    const { rt, netdev, nic } = setup();
    expect(Object.keys(NETDEV_CMD).filter((op) => /unlease|queue-del|queue-destroy/.test(op))).toEqual([]);
    const a = rt.createNetkit({ name: "nka", pairing: "single", numRxQueues: 2 })!;
    netdev.queueCreate(lease(a.ifindex, nic.ifindex, 9));
    expect(netdev.queueDump(nic.ifindex).find((q) => q.type === "rx" && q.id === 9)?.lease?.ifindex).toBe(a.ifindex);
    rt.deleteLink("nka");
    expect(netdev.queueGet(nic.ifindex, "rx", 9).lease).toBeUndefined();
    const b = rt.createNetkit({ name: "nkb", pairing: "single", numRxQueues: 2 })!;
    expect(netdev.queueCreate(lease(b.ifindex, nic.ifindex, 9))).toBe(1);
  });

  test("deleting the primary of a pair removes the peer and the peer's leases", () => {
    const { rt, netdev, nic } = setup();
    rt.createNetkit({ name: "nk0", peer: { name: "nk1", numRxQueues: 2 } });
    netdev.queueCreate(lease(rt.getLink("nk1").ifindex, nic.ifindex, 2));
    rt.deleteLink("nk0");
    expect(rt.findLink("nk1")).toBeUndefined();
    expect(netdev.queueGet(nic.ifindex, "rx", 2).lease).toBeUndefined();
  });

  test("a NIC that unregisters ends the leases on it", () => {
    const { rt, netdev, nic, kernel } = setup();
    const a = rt.createNetkit({ name: "nka", pairing: "single", numRxQueues: 3 })!;
    netdev.queueCreate(lease(a.ifindex, nic.ifindex, 1));
    kernel.removeNic("eth0");
    expect(kernel.link("nka")?.leases.size).toBe(0);
  });

  test("a netkit left with the default single rx queue has no room to lease", () => {
    const { rt, netdev, nic } = setup();
    const nk = rt.createNetkit({ name: "nks", pairing: "single" })!;
    expect(thrown(() => netdev.queueCreate(lease(nk.ifindex, nic.ifindex, 1))).code).toBe("EINVAL");
  });

  test("the PoC's IFLA_NETKIT_LOWERDEV is silently ignored by an upstream netkit: the device comes up unbound", () => {
    const { rt, kernel } = setup();
    const link = rt.createNetkit({ name: "nks", pairing: "single", numRxQueues: 3, lowerDevPoc: { attrType: 0x20, ifindex: 2, queueFrom: 14, queueTo: 15 } })!;
    expect(link.kind).toBe("netkit");
    expect(kernel.link("nks")?.leases.size).toBe(0);
  });
});
