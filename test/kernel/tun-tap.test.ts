// Persistent multiqueue taps against the real kernel, in a scratch namespace. Witness:
// `ip -j -d link show` (iproute2 reads the tun driver's IFLA_INFO_DATA) and `ip -d`.
import { execFileSync } from "node:child_process";
import { randomBytes } from "node:crypto";
import { requireCommand, requireRoot } from "../support/require-root";
import { createScratchNetns, ScratchNetns } from "../support/scratch-netns";
import { inNetns } from "../../provider/helper/kernel/netns";
import {
  applyTap,
  attachQueues,
  closeAll,
  deleteTap,
  encodeTunIfreq,
  readTap,
  setTapOwnership,
  tapFlags,
  TapConflictError,
  TapRecreateError,
  TUNGETIFF,
  TUNSETGROUP,
  TUNSETIFF,
  TUNSETOWNER,
  TUNSETPERSIST,
} from "../../provider/helper/kernel/tun";

interface TunWitness {
  type: string;
  pi: boolean;
  vnet_hdr: boolean;
  multi_queue: boolean;
  numqueues: number;
  numdisabled: number;
  persist: boolean;
  user?: number;
  group?: number;
}

describe("tun ioctl encodings (include/uapi/linux/if_tun.h)", () => {
  test("ioctl numbers: _IOW('T', 202..206, int), _IOR('T', 210, unsigned int)", () => {
    // _IOW(type, nr, size) = 1 << 30 | size << 16 | type << 8 | nr
    const iow = (nr: number) => ((1 << 30) | (4 << 16) | (0x54 << 8) | nr) >>> 0;
    expect([TUNSETIFF, TUNSETPERSIST, TUNSETOWNER, TUNSETGROUP]).toEqual([iow(202), iow(203), iow(204), iow(206)]);
    expect(TUNSETIFF).toBe(0x400454ca);
    expect(TUNGETIFF).toBe(0x800454d2);
  });
  test("TUNSETIFF ifreq: name[16], short flags IFF_TAP|IFF_NO_PI|IFF_VNET_HDR|IFF_MULTI_QUEUE = 0x5102 at 16", () => {
    const b = encodeTunIfreq("tap0", tapFlags({}));
    expect(b.length).toBe(40);
    expect(b.toString("hex")).toBe("74617030" + "00".repeat(12) + "0251" + "00".repeat(22));
    expect(tapFlags({ vnetHdr: false, multiQueue: false, pi: true })).toBe(0x0002);
  });
  test("names that the kernel would cut or template are refused", () => {
    for (const bad of ["", "tap%d", "a/b", "x y", "abcdefghijklmnop"]) expect(() => encodeTunIfreq(bad, 2)).toThrow(/invalid tap name/);
  });
});

describe("persistent multiqueue taps (real kernel)", () => {
  let ns: ScratchNetns;
  const open: number[] = [];
  let name: string;

  const witness = (): TunWitness => ns.ipJson("-d", "link", "show", name)[0].linkinfo.info_data;
  const ifindexOf = (): number => ns.ipJson("link", "show", name)[0].ifindex;
  const exists = (): boolean => ns.ipJson("link", "show").some((l: { ifname: string }) => l.ifname === name);

  beforeAll(() => {
    requireRoot();
    requireCommand("ip");
    ns = createScratchNetns("tap");
  });

  beforeEach(() => {
    name = `hvtap${randomBytes(3).toString("hex")}`;
  });

  afterEach(() => {
    closeAll(open.splice(0));
    // Deleting the tap by the same means the product uses could hide its own bug, so
    // clean up with ip(8).
    if (exists()) ns.ip("link", "del", name);
  });

  afterAll(() => {
    ns?.remove();
  });

  test("creates a 4-queue tap with owner 1234 / group 5678 that persists after the fds close", () => {
    const r = applyTap({ name, queues: 4, owner: 1234, group: 5678 }, { netns: ns.name });
    expect(r.created).toBe(true);
    const w = witness();
    expect(ns.ipJson("-d", "link", "show", name)[0].linkinfo.info_kind).toBe("tun");
    expect(w).toMatchObject({ type: "tap", pi: false, vnet_hdr: true, multi_queue: true, persist: true, user: 1234, group: 5678 });
    // Our fds are closed: no queue is attached until QEMU opens its own.
    expect(w.numqueues).toBe(0);
    expect(r.state).toMatchObject({
      name,
      ifindex: ifindexOf(),
      type: "tap",
      pi: w.pi,
      vnetHdr: w.vnet_hdr,
      multiQueue: w.multi_queue,
      persist: w.persist,
      owner: w.user,
      group: w.group,
      attachedQueues: w.numqueues,
    });
    // Made in the scratch namespace, not in ours.
    expect(() => execFileSync("ip", ["link", "show", name], { stdio: "pipe" })).toThrow();
  });

  test("4 queues attach to it; ip -d shows them while attached and 0 after", () => {
    applyTap({ name, queues: 4, owner: 1234, group: 5678 }, { netns: ns.name });
    open.push(...inNetns(ns.name, () => attachQueues(name, 4, tapFlags({}))));
    expect(witness().numqueues).toBe(4);
    expect(ns.ip("-d", "link", "show", name)).toMatch(/tun type tap pi off vnet_hdr on multi_queue numqueues 4 numdisabled 0 persist on user 1234 group 5678/);
    expect(readTap(name, { netns: ns.name })!.attachedQueues).toBe(4);
    closeAll(open.splice(0));
    expect(witness().numqueues).toBe(0);
    expect(exists()).toBe(true);
  });

  test("re-applying the same spec is idempotent", () => {
    applyTap({ name, queues: 4, owner: 1234, group: 5678 }, { netns: ns.name });
    const idx = ifindexOf();
    const before = witness();
    const again = applyTap({ name, queues: 4, owner: 1234, group: 5678 }, { netns: ns.name });
    expect(again.created).toBe(false);
    expect(again.state.ifindex).toBe(idx);
    expect(ifindexOf()).toBe(idx);
    expect(witness()).toEqual(before);
  });

  test("owner and group change in place (same ifindex)", () => {
    applyTap({ name, queues: 2, owner: 1234, group: 5678 }, { netns: ns.name });
    const idx = ifindexOf();
    const st = setTapOwnership(name, { owner: 4321 }, { netns: ns.name });
    expect(st.owner).toBe(4321);
    expect(witness()).toMatchObject({ user: 4321, group: 5678, vnet_hdr: true, pi: false });
    const r = applyTap({ name, queues: 2, owner: 999, group: 888 }, { netns: ns.name });
    expect(r.created).toBe(false);
    expect(witness()).toMatchObject({ user: 999, group: 888 });
    expect(ifindexOf()).toBe(idx);
  });

  test("vnet_hdr changes in place when no queue is attached", () => {
    applyTap({ name, queues: 2, owner: 1 }, { netns: ns.name });
    applyTap({ name, queues: 2, owner: 1, vnetHdr: false }, { netns: ns.name });
    expect(witness().vnet_hdr).toBe(false);
  });

  test("what cannot change in place is refused with TapRecreateError and leaves the tap alone", () => {
    applyTap({ name, queues: 2, owner: 1234, group: 5678 }, { netns: ns.name });
    const before = witness();
    expect(() => applyTap({ name, multiQueue: false, owner: 1234, group: 5678 }, { netns: ns.name })).toThrow(TapRecreateError);
    expect(() => applyTap({ name, group: 5678 }, { netns: ns.name })).toThrow(/cannot remove an owner; the tap must be re-created/);
    expect(witness()).toEqual(before);
  });

  test("a non-tap device of that name is a conflict, not overwritten", () => {
    ns.ip("link", "add", name, "type", "veth", "peer", "name", `${name}p`);
    expect(() => applyTap({ name }, { netns: ns.name })).toThrow(TapConflictError);
    expect(() => readTap(name, { netns: ns.name })).toThrow(/exists and is a veth device/);
    expect(ns.ipJson("-d", "link", "show", name)[0].linkinfo.info_kind).toBe("veth");
  });

  test("delete leaves nothing; deleting again reports it was absent", () => {
    applyTap({ name, queues: 4, owner: 1234, group: 5678 }, { netns: ns.name });
    expect(deleteTap(name, { netns: ns.name })).toBe(true);
    expect(exists()).toBe(false);
    expect(readTap(name, { netns: ns.name })).toBeUndefined();
    expect(deleteTap(name, { netns: ns.name })).toBe(false);
  });

  test("a tap with queues attached (a running VM) is not deleted", () => {
    applyTap({ name, queues: 2 }, { netns: ns.name });
    open.push(...inNetns(ns.name, () => attachQueues(name, 2, tapFlags({}))));
    expect(() => deleteTap(name, { netns: ns.name })).toThrow(/2 queue\(s\) are attached/);
    expect(witness().persist).toBe(true);
    closeAll(open.splice(0));
    expect(deleteTap(name, { netns: ns.name })).toBe(true);
    expect(exists()).toBe(false);
  });

  test("a single-queue tap and the queue limits", () => {
    applyTap({ name, multiQueue: false }, { netns: ns.name });
    expect(witness()).toMatchObject({ multi_queue: false, persist: true });
    expect(() => inNetns(ns.name, () => attachQueues(name, 2, tapFlags({ multiQueue: false })))).toThrow(/out of range 1..1/);
    expect(() => applyTap({ name: `${name}x`.slice(0, 15), queues: 257 }, { netns: ns.name })).toThrow(/out of range 1..256/);
  });
});
