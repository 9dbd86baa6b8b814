// The NetkitLower resource logic (provider/helper/resources/netkit.ts) against a test
// double of the kernel at the netlink boundary (test/support/fake-netlink.ts): this
// machine's kernel has neither netkit nor the netdev queue lease (queue-create, 7.1), so
// every test here says "(test double, not the kernel)". The double answers the exact
// bytes our rtnetlink and generic netlink clients send. Owner records live in a
// temporary HVNET_STATE_DIR.
import { FakeNetlinkKernel, FakeOptions } from "../support/fake-netlink";
import { NETLINK_GENERIC, NETLINK_ROUTE, NetlinkClient } from "../../provider/helper/kernel/netlink/socket";
import { RtNetlink } from "../../provider/helper/kernel/netlink/rtnetlink";
import { GenlClient } from "../../provider/helper/kernel/netlink/genetlink";
import { NETDEV_CMD, NetdevGenl } from "../../provider/helper/kernel/netlink/netdev-genl";
import { NETKIT_DEVICE_SINGLE } from "../../provider/helper/kernel/netlink/rtnetlink-uapi";
import { InputReader } from "../../provider/common/validate/reader";
import { readNetkitArgs } from "../../provider/common/args/netkit";
import { checkNetkitSpec, encodeNetkitPolicyChange } from "../../provider/helper/kernel/netlink/rtnetlink-netkit";
import { encodeAttrs, nla } from "../../provider/helper/kernel/netlink/attributes";
import type { NetkitKernel } from "../../provider/helper/resources/netkit";
import { thrown } from "../support/thrown";
import { privateStateDir } from "../support/private-state";

// The resource module is loaded once this file's state directory is in place.
privateStateDir("netkit", { clearRegistryAfterEach: true });
let N: typeof import("../../provider/helper/resources/netkit");
beforeAll(() => {
  N = require("../../provider/helper/resources/netkit");
});

const applyNetkitOn: typeof N.applyNetkitOn = (...a) => N.applyNetkitOn(...a);
const showNetkitOn: typeof N.showNetkitOn = (...a) => N.showNetkitOn(...a);
const removeNetkitOn: typeof N.removeNetkitOn = (...a) => N.removeNetkitOn(...a);
const xskMapPin: typeof N.xskMapPin = (...a) => N.xskMapPin(...a);

const RELEASE = "7.1.0-hvt-double";
const NIC_QUEUES = 16;

function setup(opts: FakeOptions = {}) {
  const fake = new FakeNetlinkKernel(opts);
  const nic = fake.addNic("eth0", { rxQueues: NIC_QUEUES });
  const rt = new RtNetlink(new NetlinkClient(fake.transport(NETLINK_ROUTE)));
  const netdev = new NetdevGenl(new GenlClient(new NetlinkClient(fake.transport(NETLINK_GENERIC))));
  // A test double of bpffs: path → entries of the XSKMAP pinned there.
  const xsk = new Map<string, number>();
  const xskMap = { ensure: (p: string, n: number) => void (xsk.has(p) || xsk.set(p, n)), remove: (p: string) => void xsk.delete(p) };
  const k: NetkitKernel = { rt, target: rt, netdev, kernelRelease: RELEASE, xskMap };
  return { fake, nic, k, netdev, xsk };
}

const args = (raw: Record<string, unknown>) => readNetkitArgs(InputReader.of({ lowerDevice: "eth0", ...raw }));


/** NIC rx queue → its lease as queue-get reports it (undefined: not leased). */
function leaseOnNic(netdev: NetdevGenl, nicIfindex: number, queue: number) {
  return netdev.queueGet(nicIfindex, "rx", queue).lease;
}

const queueCreates = (fake: FakeNetlinkKernel) =>
  fake.requests.filter((r) => r.protocol === NETLINK_GENERIC && r.msg.payload.readUInt8(0) === NETDEV_CMD["queue-create"]);

describe("NetkitLower apply (test double, not the kernel)", () => {
  test("makes a single netkit with count+1 rx queues, one lease per NIC queue from netkit queue 1, and the QEMU netdev", () => {
    const { fake, nic, k, netdev } = setup();
    const out = applyNetkitOn(k, args({ name: "nk0", queues: { start: 12, count: 3 } }));

    const dev = fake.link("nk0")!;
    expect(dev.kind).toBe("netkit");
    expect(dev.netkit!.pairing).toBe(NETKIT_DEVICE_SINGLE);
    expect(dev.netkit!.peer).toBeUndefined();
    expect(dev.numRxQueues).toBe(3 + 1);
    expect(out.ifindex).toBe(dev.ifindex);
    expect(out.api).toBe("lease");

    expect(out.leases).toEqual([
      { physicalQueue: 12, netkitQueue: 1 },
      { physicalQueue: 13, netkitQueue: 2 },
      { physicalQueue: 14, netkitQueue: 3 },
    ]);
    expect(queueCreates(fake)).toHaveLength(3);
    // Witness through queue-get on the NIC: each queue names the netkit device and queue.
    for (const l of out.leases) {
      expect(leaseOnNic(netdev, nic.ifindex, l.physicalQueue)).toMatchObject({ ifindex: dev.ifindex, queue: { id: l.netkitQueue, type: "rx" } });
    }
    expect(leaseOnNic(netdev, nic.ifindex, 11)).toBeUndefined();
    expect(leaseOnNic(netdev, nic.ifindex, 15)).toBeUndefined();

    const parts = out.qemuNetdev.split(",");
    expect(parts[0]).toBe("af-xdp");
    expect(parts).toEqual(expect.arrayContaining(["ifname=nk0", "queues=3", "start-queue=1", "inhibit=on", `map-path=${xskMapPin("nk0")}`]));
    expect(out.qemuNetdev).toMatch(/^af-xdp,.*ifname=nk0,.*queues=3,start-queue=1,inhibit=on,map-path=\/sys\/fs\/bpf\/\S+$/);
    expect(parts.some((p) => p.startsWith("sock-fds="))).toBe(false); // map-path excludes sock-fds
  });

  test("mode, headroom and tailroom reach the device; no scrub or policy attribute at creation", () => {
    const { fake, k } = setup();
    applyNetkitOn(k, args({ name: "nk0", queues: { start: 0, count: 1 }, mode: "l2", headroom: 64, tailroom: 32 }));
    // The double refuses a single device carrying IFLA_NETKIT_SCRUB or a drop policy, as Linux 7.3 does.
    expect(fake.link("nk0")!.netkit).toMatchObject({ mode: 0 /* NETKIT_L2 */, policy: 0 /* PASS */, headroom: 64, tailroom: 32 });
    expect(showNetkitOn(k, { name: "nk0" })).toMatchObject({ name: "nk0", mode: "l2", policy: "pass" });
  });

  test("scrub is no input (a single device takes none; the kernel says only EOPNOTSUPP) and the encoder refuses it", () => {
    const e = thrown(() => readNetkitArgs(InputReader.of({ name: "nk0", lowerDevice: "eth0", queues: { start: 1, count: 1 }, scrub: "none" })));
    expect(e.message).toMatch(/scrub.*not a known field/);
    expect(() => checkNetkitSpec({ name: "nk0", pairing: "single", scrub: "default" })).toThrow(/single mode does not take scrub/);
  });

  test("a NIC queue already leased is EBUSY naming queues, and nothing is left behind", () => {
    const { fake, nic, k, netdev } = setup();
    const first = applyNetkitOn(k, args({ name: "nk0", queues: { start: 14, count: 2 } }));
    const linksBefore = [...fake.links.keys()].sort();

    // 13 is free, 14 is nk0's: the first lease succeeds, the second is refused.
    const e = thrown(() => applyNetkitOn(k, args({ name: "nk1", queues: { start: 13, count: 2 } })));
    expect(e.code).toBe("EBUSY");
    expect(e.message).toMatch(/^queues: /);
    expect(e.message).toContain("13-14");
    expect(e.message).toContain("eth0");

    expect(fake.link("nk1")).toBeUndefined();
    expect([...fake.links.keys()].sort()).toEqual(linksBefore);
    // The lease made before the refusal ended with the device; nk0's are untouched.
    expect(leaseOnNic(netdev, nic.ifindex, 13)).toBeUndefined();
    expect(leaseOnNic(netdev, nic.ifindex, 14)?.ifindex).toBe(first.ifindex);
    expect(leaseOnNic(netdev, nic.ifindex, 15)?.ifindex).toBe(first.ifindex);
  });

  test("queues beyond the NIC's rx queues: the kernel's ERANGE named as a queues problem, and the device is deleted", () => {
    const { fake, k } = setup();
    const e = thrown(() => applyNetkitOn(k, args({ name: "nk0", queues: { start: NIC_QUEUES - 1, count: 2 } })));
    expect(e.code).toBe("ERANGE");
    expect(e.message).toMatch(/^queues: 15-16 /);
    expect(e.message).toContain("eth0");
    expect(fake.link("nk0")).toBeUndefined();
    expect(fake.link("eth0")!.leases.size).toBe(0);
  });

  test("another owner's device without adopt is EEXIST naming the owner; with adopt its leases are read back from the NIC", () => {
    const { fake, k } = setup();
    const first = applyNetkitOn(k, args({ name: "nk0", queues: { start: 4, count: 2 }, ownership: { owner: "p/a/NetkitLower/vm1" } }));
    const creates = queueCreates(fake).length;

    const e = thrown(() => applyNetkitOn(k, args({ name: "nk0", queues: { start: 4, count: 2 }, ownership: { owner: "p/b/NetkitLower/vm1" } })));
    expect(e.code).toBe("EEXIST");
    expect(e.message).toContain("nk0");
    expect(e.message).toContain("owned by p/a/NetkitLower/vm1");
    expect(e.message).toContain("adopt");

    const adopted = applyNetkitOn(k, args({ name: "nk0", queues: { start: 4, count: 2 }, ownership: { owner: "p/b/NetkitLower/vm1" }, adopt: true }));
    expect(adopted.ifindex).toBe(first.ifindex);
    expect(adopted.leases).toEqual(first.leases);
    expect(adopted.qemuNetdev).toBe(first.qemuNetdev);
    expect(queueCreates(fake)).toHaveLength(creates); // read back, not leased again
  });

  test("adopting a device of another kind is refused", () => {
    const { fake, k } = setup();
    fake.addNic("eth1", { rxQueues: 2 });
    const e = thrown(() => applyNetkitOn(k, args({ name: "eth1", queues: { start: 0, count: 1 }, adopt: true })));
    expect(e.code).toBe("EEXIST");
    expect(e.message).toContain("eth1");
  });

  test("a lowerDevice that does not exist is ENODEV naming it, before anything is made", () => {
    const { fake, k } = setup();
    const e = thrown(() => applyNetkitOn(k, args({ name: "nk0", lowerDevice: "eth7", queues: { start: 0, count: 1 } })));
    expect(e.code).toBe("ENODEV");
    expect(e.message).toContain("eth7");
    expect(fake.link("nk0")).toBeUndefined();
  });
});

test("policy drop is refused before any kernel call, naming the field: Linux 7.3 keeps a single device at pass (found on a VM lab host); the kernel refuses a scrub change (test double, not the kernel)", () => {
  const { fake, k } = setup();
  const first = applyNetkitOn(k, args({ name: "nk0", queues: { start: 4, count: 1 } }));
  const refused = thrown(() => args({ name: "nk0", queues: { start: 4, count: 1 }, policy: "drop" }));
  expect(refused.message).toMatch(/policy.*"drop" cannot be set on a single netkit device.*leave policy unset or "pass"/);
  // Applying the same device again changes nothing on it (no policy message is sent).
  const again = applyNetkitOn(k, args({ name: "nk0", queues: { start: 4, count: 1 }, policy: "pass", adopt: true }));
  expect(again.ifindex).toBe(first.ifindex);
  expect(fake.link("nk0")!.netkit!.policy).toBe(0); // NETKIT_PASS
  // What the resource's diff replaces instead: the double, like netkit_change_link, refuses it.
  const e = thrown(() => k.rt.nl.request(16, 1 | 4, Buffer.concat([
    Buffer.from(encodeNetkitPolicyChange(first.ifindex, "pass").payload.subarray(0, 16)),
    encodeAttrs([nla.nest(18, [nla.string(1, "netkit"), nla.nest(2, [nla.u32(6, 0)])])]),
  ]), { op: "RTM_NEWLINK" }));
  expect(e.message).toContain("scrubbing cannot be changed after device creation");
});

test("apply pins the XSKMAP qemuNetdev's map-path names, one entry per leased queue; remove takes it away (test doubles, not the kernel)", () => {
  const { k, xsk } = setup();
  const out = applyNetkitOn(k, args({ name: "nk0", queues: { start: 4, count: 2 } }));
  expect(out.qemuNetdev).toContain(`map-path=${xskMapPin("nk0")}`);
  expect(xsk.get(xskMapPin("nk0"))).toBe(2);
  N.removeNetkitOn(k, { name: "nk0" });
  expect(xsk.has(xskMapPin("nk0"))).toBe(false);
});

describe("NetkitLower show and remove (test double, not the kernel)", () => {
  test("show reads the device back; null once it is gone", () => {
    const { fake, k } = setup();
    const out = applyNetkitOn(k, args({ name: "nk0", queues: { start: 0, count: 2 } }));
    expect(showNetkitOn(k, { name: "nk0" })).toMatchObject({ name: "nk0", ifindex: out.ifindex, api: "lease", mode: "l3", policy: "pass" });
    // The leases are read back from the NIC's queues, as apply reported them.
    expect(showNetkitOn(k, { name: "nk0" })!.leases).toEqual(out.leases);
    fake.links.delete(out.ifindex); // deleted behind our back
    expect(showNetkitOn(k, { name: "nk0" })).toBeNull();
  });

  test("remove deletes the device and its leases end (queue-get on the NIC shows none); again is success", () => {
    const { fake, nic, k, netdev } = setup();
    const out = applyNetkitOn(k, args({ name: "nk0", queues: { start: 8, count: 3 } }));
    for (const l of out.leases) expect(leaseOnNic(netdev, nic.ifindex, l.physicalQueue)?.ifindex).toBe(out.ifindex);

    expect(removeNetkitOn(k, { name: "nk0" })).toEqual({ removed: true });
    expect(fake.link("nk0")).toBeUndefined();
    for (const l of out.leases) expect(leaseOnNic(netdev, nic.ifindex, l.physicalQueue)).toBeUndefined();
    // The queues are free again: another device may lease them.
    const again = applyNetkitOn(k, args({ name: "nk1", queues: { start: 8, count: 3 } }));
    expect(again.leases.map((l) => l.physicalQueue)).toEqual([8, 9, 10]);

    expect(removeNetkitOn(k, { name: "nk0" })).toEqual({ removed: false });
  });

  test("remove refuses to delete a device that is not a netkit", () => {
    const { fake, k } = setup();
    const e = thrown(() => removeNetkitOn(k, { name: "eth0" }));
    expect(e.code).toBe("EEXIST");
    expect(fake.link("eth0")).toBeDefined();
  });
});

describe("NetkitLower capability errors (test double, not the kernel)", () => {
  test("a kernel without queue-create: EOPNOTSUPP naming the release and the queue lease (7.1); nothing made", () => {
    const { fake, k } = setup({ queueCreate: false });
    expect(k.netdev.hasOp("queue-create")).toBe(false);
    const e = thrown(() => applyNetkitOn(k, args({ name: "nk0", queues: { start: 0, count: 2 } })));
    expect(e.code).toBe("EOPNOTSUPP");
    expect(e.message).toContain(RELEASE);
    expect(e.message).toContain("queue lease");
    expect(e.message).toContain("7.1");
    expect(fake.link("nk0")).toBeUndefined();
    expect(fake.requests.some((r) => r.protocol === NETLINK_ROUTE && r.msg.type === 16 /* RTM_NEWLINK */)).toBe(false);
  });

  test("api lowerdev is refused with a clear error before anything is made", () => {
    const { fake, k } = setup();
    const e = thrown(() => applyNetkitOn(k, args({ name: "nk0", queues: { start: 0, count: 2 }, api: "lowerdev" })));
    expect(e.code).toBe("EOPNOTSUPP");
    expect(e.message).toContain("lowerdev");
    expect(e.message).toContain("never went upstream");
    expect(fake.link("nk0")).toBeUndefined();
  });

  test("api lease on a kernel that has it works like auto", () => {
    const { k } = setup();
    expect(applyNetkitOn(k, args({ name: "nk0", queues: { start: 0, count: 1 }, api: "lease" })).api).toBe("lease");
  });
});
