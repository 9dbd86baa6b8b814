// l2fwd through BPF_PROG_TEST_RUN on the real kernel: the action, the output bytes (VLAN
// tag popped toward the VM or kept) and exactly which counter moved, for short and
// malformed frames, tagged and untagged, QinQ, VLAN 0, unknown MACs, broadcast/multicast,
// IPv4, IPv6 and ARP payloads, and an FDB entry whose port is missing.
import { BpfObject } from "../../provider/helper/kernel/bpf";
import { KernelError } from "../../provider/helper/kernel/errors";
import { encodeDevmapValue, encodeU32Key } from "../../provider/helper/kernel/bpf/devmap";
import { encodeFdbKey, encodeFdbValue } from "../../provider/helper/datapath/fdb";
import { requireRoot } from "../support/require-root";
import { Lab, XDP_DROP, XDP_PASS, XDP_REDIRECT, loadObject, makeLab, moved, snapshot } from "./support/env";
import * as P from "./support/packets";

const VM_MAC = "52:54:00:00:00:01";
const TRUNK_MAC = "52:54:00:00:00:02";
const GHOST_MAC = "52:54:00:00:00:03";
const OTHER_MAC = "02:00:00:00:00:99";

describe("l2fwd (BPF_PROG_TEST_RUN, real kernel)", () => {
  let lab: Lab;
  let obj: BpfObject;

  beforeAll(() => {
    requireRoot();
    lab = makeLab("l2f", [["vm0", "vm0p"], ["trunk0", "trunk0p"]]);
    obj = loadObject("l2fwd.o");
    const vm = lab.ifindex("vm0");
    const trunk = lab.ifindex("trunk0");
    lab.run(() => {
      const fdb = obj.map("fdb");
      fdb.update(encodeFdbKey({ vlan: 0, mac: VM_MAC }), encodeFdbValue({ ifindex: vm }));
      fdb.update(encodeFdbKey({ vlan: 100, mac: VM_MAC }), encodeFdbValue({ ifindex: vm }));
      fdb.update(encodeFdbKey({ vlan: 200, mac: TRUNK_MAC }), encodeFdbValue({ ifindex: trunk, keepTag: true }));
      // In the FDB but its device was never added to ports.
      fdb.update(encodeFdbKey({ vlan: 0, mac: GHOST_MAC }), encodeFdbValue({ ifindex: 999999 }));
      obj.map("ports").update(encodeU32Key(vm), encodeDevmapValue(vm));
      obj.map("ports").update(encodeU32Key(trunk), encodeDevmapValue(trunk));
    });
  });

  afterAll(() => {
    obj?.close();
    lab?.remove();
  });

  /** Runs one frame; returns the action, the output frame and the counters that moved. */
  function run(frame: Buffer) {
    const before = snapshot(obj);
    const r = lab.run(() => obj.program("l2fwd").testRun({ data: frame }));
    return { action: r.retval, out: r.data, counted: moved(before, snapshot(obj)) };
  }

  const ipv4Payload = P.ipv4("192.0.2.1", "192.0.2.10", P.IPPROTO_UDP, P.udp(1000, 2000));

  test("untagged frame to a VLAN 0 entry is redirected unchanged", () => {
    const f = P.eth(VM_MAC, OTHER_MAC, P.ETH_P_IP, ipv4Payload);
    expect(run(f)).toEqual({ action: XDP_REDIRECT, out: f, counted: { redirect: [1, f.length] } });
  });

  test("802.1Q VLAN 100 frame: redirected with the tag popped", () => {
    const untagged = P.eth(VM_MAC, OTHER_MAC, P.ETH_P_IP, ipv4Payload);
    const tagged = P.eth(VM_MAC, OTHER_MAC, P.ETH_P_IP, ipv4Payload, [{ vid: 100, pcp: 5 }]);
    expect(tagged.length).toBe(untagged.length + 4);
    expect(run(tagged)).toEqual({ action: XDP_REDIRECT, out: untagged, counted: { redirect: [1, untagged.length] } });
  });

  test("priority tag (VID 0) uses the untagged FDB and is popped", () => {
    const untagged = P.eth(VM_MAC, OTHER_MAC, P.ETH_P_IPV6, P.ipv6("2001:db8::1", "2001:db8::10", P.IPPROTO_UDP, P.udp(1, 2)));
    const prio = P.eth(VM_MAC, OTHER_MAC, P.ETH_P_IPV6, P.ipv6("2001:db8::1", "2001:db8::10", P.IPPROTO_UDP, P.udp(1, 2)), [
      { vid: 0, pcp: 3 },
    ]);
    expect(run(prio)).toEqual({ action: XDP_REDIRECT, out: untagged, counted: { redirect: [1, untagged.length] } });
  });

  test("an entry flagged keep-tag (trunk) gets the frame with its tag", () => {
    const f = P.eth(TRUNK_MAC, OTHER_MAC, P.ETH_P_IP, ipv4Payload, [{ vid: 200 }]);
    expect(run(f)).toEqual({ action: XDP_REDIRECT, out: f, counted: { redirect: [1, f.length] } });
  });

  test("IPv6 and ARP payloads to a known MAC are forwarded the same way (L2 only)", () => {
    const v6 = P.eth(VM_MAC, OTHER_MAC, P.ETH_P_IPV6, P.ipv6("2001:db8::1", "2001:db8::10", P.IPPROTO_TCP, P.tcp(1, 443)));
    expect(run(v6)).toEqual({ action: XDP_REDIRECT, out: v6, counted: { redirect: [1, v6.length] } });
    const reply = P.eth(VM_MAC, OTHER_MAC, P.ETH_P_ARP, P.arp(2, OTHER_MAC, "192.0.2.1", VM_MAC, "192.0.2.10"));
    expect(run(reply)).toEqual({ action: XDP_REDIRECT, out: reply, counted: { redirect: [1, reply.length] } });
  });

  test("unknown MAC, and a known MAC on another VLAN, go to the stack", () => {
    const unknown = P.eth(OTHER_MAC, VM_MAC, P.ETH_P_IP, ipv4Payload);
    expect(run(unknown)).toEqual({ action: XDP_PASS, out: unknown, counted: { pass_unknown: [1, unknown.length] } });
    const wrongVlan = P.eth(VM_MAC, OTHER_MAC, P.ETH_P_IP, ipv4Payload, [{ vid: 101 }]);
    expect(run(wrongVlan)).toEqual({ action: XDP_PASS, out: wrongVlan, counted: { pass_unknown: [1, wrongVlan.length] } });
  });

  test("broadcast and multicast go to the stack, tagged or not, even for a VM's VLAN", () => {
    const frames = [
      P.eth(P.BROADCAST, OTHER_MAC, P.ETH_P_ARP, P.arp(1, OTHER_MAC, "192.0.2.1", "00:00:00:00:00:00", "192.0.2.10")),
      P.eth("01:00:5e:00:00:fb", OTHER_MAC, P.ETH_P_IP, ipv4Payload),
      P.eth("33:33:ff:00:00:10", OTHER_MAC, P.ETH_P_IPV6, P.ipv6("::", "ff02::1:ff00:10", 58, Buffer.alloc(24))),
      P.eth(P.BROADCAST, OTHER_MAC, P.ETH_P_ARP, Buffer.alloc(28), [{ vid: 100 }]),
    ];
    for (const f of frames) {
      expect(run(f)).toEqual({ action: XDP_PASS, out: f, counted: { pass_bcast_mcast: [1, f.length] } });
    }
  });

  test("QinQ (802.1ad outer tag, or two 802.1Q tags) goes to the stack untouched", () => {
    const adOuter = P.eth(VM_MAC, OTHER_MAC, P.ETH_P_IP, ipv4Payload, [{ tpid: 0x88a8, vid: 100 }, { vid: 100 }]);
    const doubleQ = P.eth(VM_MAC, OTHER_MAC, P.ETH_P_IP, ipv4Payload, [{ vid: 100 }, { vid: 100 }]);
    const qOverAd = P.eth(VM_MAC, OTHER_MAC, P.ETH_P_IP, ipv4Payload, [{ vid: 100 }, { tpid: 0x88a8, vid: 7 }]);
    for (const f of [adOuter, doubleQ, qOverAd]) {
      expect(run(f)).toEqual({ action: XDP_PASS, out: f, counted: { pass_qinq: [1, f.length] } });
    }
  });

  test("a bare Ethernet header is fine; a truncated VLAN tag is dropped as malformed", () => {
    const bare = P.eth(VM_MAC, OTHER_MAC, P.ETH_P_IP, Buffer.alloc(0));
    expect(bare.length).toBe(14);
    expect(run(bare)).toEqual({ action: XDP_REDIRECT, out: bare, counted: { redirect: [1, 14] } });
    for (const len of [14, 15, 17]) {
      // 0x8100 announces a 4-byte tag that is cut short.
      const f = Buffer.concat([P.mac(VM_MAC), P.mac(OTHER_MAC), Buffer.from([0x81, 0x00]), Buffer.from([0, 100, 8])]).subarray(0, len);
      expect({ len, ...run(f) }).toEqual({ len, action: XDP_DROP, out: f, counted: { drop_malformed: [1, len] } });
    }
  });

  test("frames shorter than an Ethernet header cannot be test-run (the kernel refuses them)", () => {
    // bpf_test_init() returns EINVAL below ETH_HLEN, and neither veth nor tap delivers
    // such frames to XDP; the program's own length check is what the verifier demands.
    let err: unknown;
    try {
      lab.run(() => obj.program("l2fwd").testRun({ data: Buffer.alloc(13) }));
    } catch (e) {
      err = e;
    }
    expect(err).toBeInstanceOf(KernelError);
    expect((err as KernelError).code).toBe("EINVAL");
  });

  test("an FDB entry whose device is not in the ports devmap drops the frame", () => {
    const f = P.eth(GHOST_MAC, OTHER_MAC, P.ETH_P_IP, ipv4Payload);
    expect(run(f)).toEqual({ action: XDP_DROP, out: f, counted: { drop_no_port: [1, f.length] } });
  });

  test("counters are per CPU and add up across runs (repeat=1000)", () => {
    const f = P.eth(VM_MAC, OTHER_MAC, P.ETH_P_IP, ipv4Payload, [{ vid: 100 }]);
    const before = snapshot(obj);
    const r = lab.run(() => obj.program("l2fwd").testRun({ data: f, repeat: 1000 }));
    expect(r.retval).toBe(XDP_REDIRECT);
    // Each repetition starts from the original frame and pops its tag again.
    expect(moved(before, snapshot(obj))).toEqual({ redirect: [1000, 1000 * (f.length - 4)] });
  });
});
