// Redirects executed for real (BPF_PROG_TEST_RUN with BPF_F_TEST_XDP_LIVE_FRAMES): frames
// leave through veths whose peers count them in XDP. Covers what a non-live test run
// cannot show: the VM ingress ACL running as a devmap program on frames l2fwd redirects
// (also tagged frames to a trunk port), and vm-egress choosing bond legs by flow hash.
// Frames are never rewritten here (no VLAN pop/push): the live-frames page pool restores
// a frame's pointers but not its bytes between batches (KERNEL.md).
import { BpfLink, BpfObject, BPF_F_TEST_XDP_LIVE_FRAMES, possibleCpus } from "../../provider/helper/kernel/bpf";
import { decodeDevmapValue, encodeDevmapValue, encodeU32Key } from "../../provider/helper/kernel/bpf/devmap";
import { encodeAcl, NO_ACL } from "../../provider/helper/datapath/acl";
import { encodeFdbKey, encodeFdbValue } from "../../provider/helper/datapath/fdb";
import { encodeVmConfig } from "../../provider/helper/datapath/vm-config";
import { sumPerCpuCounter } from "../../provider/helper/datapath/counters";
import { requireRoot } from "../support/require-root";
import { Lab, XDP_REDIRECT, loadObject, makeLab, moved, snapshot } from "./support/env";
import * as P from "./support/packets";

const VM_A = "52:54:00:00:00:0a";
const VM_B = "52:54:00:00:00:0b";
const PEER = "02:00:00:00:00:01";
const FRAMES = 1000;

describe("datapath with live frames (real kernel)", () => {
  let lab: Lab;
  const sinks = new Map<string, BpfObject>();
  const links: BpfLink[] = [];
  const objects: BpfObject[] = [];

  beforeAll(() => {
    requireRoot();
    lab = makeLab("lvf", [
      ["vmA", "vmAp"],
      ["vmB", "vmBp"],
      ["legA", "legAp"],
      ["legB", "legBp"],
    ]);
    // A veth delivers redirected frames only when its peer runs XDP: each peer drops and counts.
    for (const peer of ["vmAp", "vmBp", "legAp", "legBp"]) {
      const sink = loadObject("xdp_drop.o");
      sinks.set(peer, sink);
      links.push(lab.run(() => BpfLink.attachXdp(sink.program("xdp_drop"), lab.ifindex(peer), "native")));
    }
  });

  afterAll(() => {
    for (const l of links) l.close();
    for (const o of [...objects, ...sinks.values()]) o.close();
    lab?.remove();
  });

  function load(file: string): BpfObject {
    const o = loadObject(file);
    objects.push(o);
    return o;
  }

  const arrived = (peer: string): number =>
    Number(sumPerCpuCounter(sinks.get(peer)!.map("sink_stats").lookup(encodeU32Key(0))!, possibleCpus()).packets);
  const arrivals = (): Record<string, number> => Object.fromEntries([...sinks.keys()].map((p) => [p, arrived(p)]));
  const delta = (a: Record<string, number>, b: Record<string, number>): Record<string, number> =>
    Object.fromEntries(Object.keys(b).filter((k) => b[k] !== a[k]).map((k) => [k, b[k] - a[k]]));

  function live(obj: BpfObject, program: string, frame: Buffer, repeat = FRAMES): void {
    const r = lab.run(() => obj.program(program).testRun({ data: frame, repeat, flags: BPF_F_TEST_XDP_LIVE_FRAMES }));
    expect(r.retval).toBe(0); // live mode reports no per-frame verdict
  }

  test("the VM ingress ACL runs as a devmap program on frames l2fwd redirects", () => {
    const l2 = load("l2fwd.o");
    const acl = load("vm_ingress_acl.o");
    const vmA = lab.ifindex("vmA");
    const vmB = lab.ifindex("vmB");
    acl.map("ingress_acl").update(
      encodeU32Key(vmA),
      encodeAcl({ rules: [{ action: "deny", protocol: P.IPPROTO_TCP, dstPorts: { from: 22, to: 22 } }], defaultAction: "allow" }),
    );
    lab.run(() => {
      l2.map("fdb").update(encodeFdbKey({ vlan: 0, mac: VM_A }), encodeFdbValue({ ifindex: vmA }));
      l2.map("fdb").update(encodeFdbKey({ vlan: 0, mac: VM_B }), encodeFdbValue({ ifindex: vmB }));
      // VM A is also a trunk for VLAN 300: its frames keep the tag, the ACL looks inside.
      l2.map("fdb").update(encodeFdbKey({ vlan: 300, mac: VM_A }), encodeFdbValue({ ifindex: vmA, keepTag: true }));
      const progFd = acl.program("vm_ingress_acl").fd;
      l2.map("ports").update(encodeU32Key(vmA), encodeDevmapValue(vmA, progFd));
      l2.map("ports").update(encodeU32Key(vmB), encodeDevmapValue(vmB, progFd)); // no ACL entry for B
    });
    // The kernel reports the devmap program by id: it is the ACL program.
    const entry = decodeDevmapValue(l2.map("ports").lookup(encodeU32Key(vmA))!);
    expect(entry).toEqual({ ifindex: vmA, progId: acl.program("vm_ingress_acl").info().id });

    const tcpTo = (mac: string, dport: number, vid?: number): Buffer =>
      P.eth(mac, PEER, P.ETH_P_IP, P.ipv4("198.51.100.1", "192.0.2.10", P.IPPROTO_TCP, P.tcp(40000, dport)), vid ? [{ vid }] : []);
    const cases: Array<{ frame: Buffer; sinks: Record<string, number>; acl: Record<string, [number, number]> }> = [
      { frame: tcpTo(VM_A, 80), sinks: { vmAp: FRAMES }, acl: { acl_accept: [FRAMES, FRAMES * 54] } },
      { frame: tcpTo(VM_A, 22), sinks: {}, acl: { drop_acl: [FRAMES, FRAMES * 54] } },
      {
        frame: P.eth(VM_A, PEER, P.ETH_P_ARP, P.arp(2, PEER, "198.51.100.1", VM_A, "192.0.2.10")),
        sinks: { vmAp: FRAMES },
        acl: { acl_accept: [FRAMES, FRAMES * 42] },
      },
      { frame: tcpTo(VM_B, 80), sinks: {}, acl: { drop_no_config: [FRAMES, FRAMES * 54] } },
      { frame: tcpTo(VM_A, 22, 300), sinks: {}, acl: { drop_acl: [FRAMES, FRAMES * 58] } },
      { frame: tcpTo(VM_A, 80, 300), sinks: { vmAp: FRAMES }, acl: { acl_accept: [FRAMES, FRAMES * 58] } },
    ];
    for (const c of cases) {
      const sinkBefore = arrivals();
      const l2Before = snapshot(l2);
      const aclBefore = snapshot(acl);
      live(l2, "l2fwd", c.frame);
      expect({ frame: c.frame.toString("hex"), sinks: delta(sinkBefore, arrivals()), acl: moved(aclBefore, snapshot(acl)) }).toEqual({
        frame: c.frame.toString("hex"),
        sinks: c.sinks,
        acl: c.acl,
      });
      // l2fwd redirected every frame; the verdict was the devmap program's.
      expect(moved(l2Before, snapshot(l2))).toEqual({ redirect: [FRAMES, FRAMES * c.frame.length] });
    }
  });

  test("vm-egress spreads flows over two bond legs by L3+L4 hash, one leg per flow", () => {
    const eg = load("vm_egress.o");
    const legA = lab.ifindex("legA");
    const legB = lab.ifindex("legB");
    const vm = "52:54:00:00:00:01";
    eg.map("acl").update(encodeU32Key(0), encodeAcl(NO_ACL));
    const setLegs = (legs: number[]): void =>
      eg.map("vm_config").update(
        encodeU32Key(0),
        encodeVmConfig({ mac: vm, vlan: 0, uplinkIfindex: lab.ifindex("vmA"), bondIfindexes: legs, ipv4: ["192.0.2.10"], ipv6: [], enabled: true }),
      );
    const flow = (sport: number): Buffer =>
      P.eth(PEER, vm, P.ETH_P_IP, P.ipv4("192.0.2.10", "203.0.113.9", P.IPPROTO_UDP, P.udp(sport, 4789)));

    setLegs([legA, legB]);
    const perLeg: Record<string, number> = { legAp: 0, legBp: 0 };
    for (let sport = 10000; sport < 10032; sport++) {
      const before = arrivals();
      live(eg, "vm_egress", flow(sport), 100);
      const d = delta(before, arrivals());
      // Every frame of one flow on exactly one leg (no reordering across legs).
      expect(Object.values(d)).toEqual([100]);
      const leg = Object.keys(d)[0];
      expect(["legAp", "legBp"]).toContain(leg);
      perLeg[leg] += 1;
    }
    expect(perLeg.legAp).toBeGreaterThan(4);
    expect(perLeg.legBp).toBeGreaterThan(4);

    setLegs([legB]); // one leg left: everything goes there
    let before = arrivals();
    for (let sport = 10000; sport < 10008; sport++) live(eg, "vm_egress", flow(sport), 50);
    expect(delta(before, arrivals())).toEqual({ legBp: 400 });

    setLegs([]); // no bond: the uplink (vmA here)
    before = arrivals();
    live(eg, "vm_egress", flow(10000), 50);
    expect(delta(before, arrivals())).toEqual({ vmAp: 50 });
  });

  test("non-live test run reports XDP_REDIRECT for the same frames (sanity of the live setup)", () => {
    const eg = load("vm_egress.o");
    eg.map("vm_config").update(
      encodeU32Key(0),
      encodeVmConfig({ mac: "52:54:00:00:00:01", vlan: 0, uplinkIfindex: lab.ifindex("vmA"), bondIfindexes: [], ipv4: ["192.0.2.10"], ipv6: [], enabled: true }),
    );
    eg.map("acl").update(encodeU32Key(0), encodeAcl(NO_ACL));
    const f = P.eth(PEER, "52:54:00:00:00:01", P.ETH_P_IP, P.ipv4("192.0.2.10", "203.0.113.9", P.IPPROTO_UDP, P.udp(1, 2)));
    const before = arrivals();
    expect(lab.run(() => eg.program("vm_egress").testRun({ data: f })).retval).toBe(XDP_REDIRECT);
    expect(delta(before, arrivals())).toEqual({}); // without live frames nothing is sent
  });
});
