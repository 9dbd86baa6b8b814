// rtnetlink link operations against the real kernel, in scratch namespaces.
// Witness: `ip -j -d link` / `ip -j netns list-id` (iproute2), never our own reads alone.
import { requireCommand, requireRoot } from "../support/require-root";
import { ScratchNetns, createScratchNetns } from "../support/scratch-netns";
import { RtNetlink, isKindNotSupported } from "../../provider/helper/kernel/netlink/rtnetlink";
import { NetlinkError } from "../../provider/helper/kernel/netlink/codec";

interface IpLink {
  ifindex: number;
  ifname: string;
  link?: string;
  link_netnsid?: number;
  flags: string[];
  mtu: number;
  operstate: string;
  address: string;
  num_rx_queues?: number;
  num_tx_queues?: number;
  linkinfo?: { info_kind?: string };
}

let a: ScratchNetns | undefined;
let b: ScratchNetns | undefined;
let rt: RtNetlink | undefined;

beforeAll(() => {
  requireRoot();
  requireCommand("ip");
  a = createScratchNetns("nl");
  b = createScratchNetns("nl");
  rt = RtNetlink.open({ netns: a.name });
});

afterAll(() => {
  rt?.close();
  // Removing the namespaces removes every link created in them (and veth peers elsewhere).
  a?.remove();
  b?.remove();
});

function links(ns: ScratchNetns): IpLink[] {
  return ns.ipJson<IpLink[]>("-d", "link", "show");
}
function ipLink(ns: ScratchNetns, name: string): IpLink | undefined {
  return links(ns).find((l) => l.ifname === name);
}
function caught(fn: () => unknown): NetlinkError {
  try {
    fn();
  } catch (e) {
    if (e instanceof NetlinkError) return e;
    throw e;
  }
  throw new Error("expected the kernel to refuse");
}

describe("rtnetlink links (real kernel)", () => {
  test("creates a veth pair, reads it back as ip sees it, and deletes it", () => {
    rt!.createVeth({ name: "va0", mtu: 1400, numRxQueues: 3, peer: { name: "va1", numTxQueues: 2 } });
    const ours = rt!.getLink("va0");
    const seen = ipLink(a!, "va0")!;
    expect(seen).toBeDefined();
    expect(ours.ifindex).toBe(seen.ifindex);
    expect(ours.kind).toBe(seen.linkinfo?.info_kind);
    expect(ours.kind).toBe("veth");
    expect(ours.mtu).toBe(1400);
    expect(ours.mtu).toBe(seen.mtu);
    expect(ours.address).toBe(seen.address);
    expect(ours.numRxQueues).toBe(3);
    expect(ours.numRxQueues).toBe(seen.num_rx_queues);
    expect(ours.operstate.toUpperCase()).toBe(seen.operstate);
    expect(ours.up).toBe(seen.flags.includes("UP"));
    const peer = rt!.getLink("va1");
    expect(peer.numTxQueues).toBe(ipLink(a!, "va1")!.num_tx_queues);
    expect(ours.link).toBe(peer.ifindex);
    expect(seen.link).toBe("va1");
    expect(ours.xdp?.attached).toBe("none");

    rt!.deleteLink("va0");
    expect(rt!.findLink("va0")).toBeUndefined();
    expect(ipLink(a!, "va0")).toBeUndefined();
    expect(ipLink(a!, "va1")).toBeUndefined();
  });

  test("creates the peer directly in another namespace, whose id we then agree on with ip", () => {
    rt!.createVeth({ name: "vb0", peer: { name: "vb1", netns: b!.name } });
    expect(ipLink(b!, "vb1")).toBeDefined();
    expect(ipLink(a!, "vb1")).toBeUndefined();
    const ours = rt!.getLink("vb0");
    expect(ours.linkNetnsId).toBeDefined();
    expect(ours.linkNetnsId).toBe(ipLink(a!, "vb0")!.link_netnsid);
    const nsid = rt!.getNetnsId(b!.name);
    expect(nsid).toBe(ours.linkNetnsId);
    const listed = a!.ipJson<{ nsid: number; name?: string }[]>("netns", "list-id");
    expect(listed.find((e) => e.name === b!.name)?.nsid).toBe(nsid);
    expect(rt!.ensureNetnsId(b!.name)).toBe(nsid);
  });

  test("moves a device to another namespace, optionally renaming it there", () => {
    rt!.createVeth({ name: "vc0", peer: { name: "vc1" } });
    rt!.moveToNetns("vc1", b!.name);
    expect(ipLink(b!, "vc1")).toBeDefined();
    expect(rt!.findLink("vc1")).toBeUndefined();
    rt!.moveToNetns("vc0", b!.name, "vc0moved");
    expect(ipLink(b!, "vc0moved")?.link).toBe("vc1");
    expect(ipLink(a!, "vc0")).toBeUndefined();
  });

  test("sets mtu, address, up/down and name; ip reads the same back", () => {
    rt!.createVeth({ name: "vd0", peer: { name: "vd1" } });
    rt!.setMtu("vd0", 9000);
    rt!.setAddress("vd0", "02:11:22:33:44:55");
    rt!.setUp("vd0");
    rt!.setUp("vd1");
    let seen = ipLink(a!, "vd0")!;
    expect(seen.mtu).toBe(9000);
    expect(seen.address).toBe("02:11:22:33:44:55");
    expect(seen.flags).toContain("UP");
    const ours = rt!.getLink("vd0");
    expect(ours.up).toBe(true);
    expect(ours.mtu).toBe(9000);
    expect(ours.address).toBe("02:11:22:33:44:55");

    rt!.setDown("vd0");
    seen = ipLink(a!, "vd0")!;
    expect(seen.flags).not.toContain("UP");
    expect(rt!.getLink("vd0").up).toBe(false);

    const index = ours.ifindex;
    rt!.setName("vd0", "vd0renamed");
    expect(ipLink(a!, "vd0renamed")?.ifindex).toBe(index);
    expect(rt!.getLink(index).name).toBe("vd0renamed");
  });

  test("an MTU below the device minimum fails with EINVAL and the kernel's own words", () => {
    rt!.createVeth({ name: "ve0", peer: { name: "ve1" } });
    const e = caught(() => rt!.setMtu("ve0", 10));
    expect(e.code).toBe("EINVAL");
    expect(e.errno).toBe(22);
    expect(e.kernelMessage).toBe("mtu less than device minimum");
    expect(e.message).toMatch(/EINVAL: mtu less than device minimum/);
    expect(ipLink(a!, "ve0")!.mtu).toBe(1500);
  });

  test("creating a link that exists fails with EEXIST; a missing one is ENODEV", () => {
    rt!.createVeth({ name: "vf0", peer: { name: "vf1" } });
    expect(caught(() => rt!.createVeth({ name: "vf0", peer: { name: "vf2" } })).code).toBe("EEXIST");
    expect(ipLink(a!, "vf2")).toBeUndefined();
    expect(caught(() => rt!.getLink("nosuch0")).code).toBe("ENODEV");
    expect(rt!.findLink("nosuch0")).toBeUndefined();
    expect(caught(() => rt!.deleteLink("nosuch0")).code).toBe("ENODEV");
  });

  test("netkit is not built into this kernel: the error is recognised as an unsupported link kind", () => {
    const e = caught(() => rt!.createNetkit({ name: "nk0", peer: { name: "nk1" } }));
    expect(e.code).toBe("EOPNOTSUPP");
    expect(e.kernelMessage).toMatch(/Unknown device type/);
    expect(isKindNotSupported(e)).toBe(true);
    expect(isKindNotSupported(caught(() => rt!.setMtu("ve0", 10)))).toBe(false);
    expect(ipLink(a!, "nk0")).toBeUndefined();
  });

  test("a dump filtered by kind returns what ip lists for that type", () => {
    const ours = rt!.listLinks({ kind: "veth" }).map((l) => l.name).sort();
    const seen = a!.ipJson<IpLink[]>("link", "show", "type", "veth").map((l) => l.ifname).sort();
    expect(ours.length).toBeGreaterThan(0);
    expect(ours).toEqual(seen);
    expect(rt!.listLinks().map((l) => l.name)).toContain("lo");
  });
});

describe("rtnetlink performance (real kernel)", () => {
  let c: ScratchNetns | undefined;
  afterAll(() => c?.remove());

  test("dumps 200 veths in a namespace", () => {
    c = createScratchNetns("nlperf");
    const h = RtNetlink.open({ netns: c.name });
    try {
      const t0 = process.hrtime.bigint();
      for (let i = 0; i < 100; i++) h.createVeth({ name: `pv${i}a`, peer: { name: `pv${i}b` } });
      const created = Number(process.hrtime.bigint() - t0) / 1e6;

      const times: number[] = [];
      let count = 0;
      for (let i = 0; i < 5; i++) {
        const t = process.hrtime.bigint();
        count = h.listLinks().length;
        times.push(Number(process.hrtime.bigint() - t) / 1e6);
      }
      times.sort((x, y) => x - y);
      const witness = c.ipJson<IpLink[]>("link", "show").length;
      expect(count).toBe(201);
      expect(witness).toBe(201);
      // eslint-disable-next-line no-console
      console.log(
        `netlink perf: created 100 veth pairs in ${created.toFixed(1)} ms; ` +
          `dump of ${count} links: median ${times[2].toFixed(2)} ms (min ${times[0].toFixed(2)}, max ${times[4].toFixed(2)})`,
      );
    } finally {
      h.close();
    }
  });
});
