// vm-egress through BPF_PROG_TEST_RUN on the real kernel: what a VM may send (its MAC,
// its IPv4/IPv6 addresses, honest ARP and neighbour discovery), what it may not (spoofed
// MAC/IP/ARP/NDP, VLAN tags, other ethertypes, router advertisements), the ACL (hit and
// miss, both families, extension headers) and the VLAN push, with the output bytes and
// exactly which counter moved after each frame.
import { BpfObject } from "../../provider/helper/kernel/bpf";
import { encodeU32Key } from "../../provider/helper/kernel/bpf/devmap";
import { AclAction, AclRule } from "../../provider/common/args/common";
import { encodeAcl } from "../../provider/helper/datapath/acl";
import { VmConfig, encodeVmConfig } from "../../provider/helper/datapath/vm-config";
import { requireRoot } from "../support/require-root";
import { Lab, XDP_DROP, XDP_PASS, XDP_REDIRECT, loadObject, makeLab, moved, snapshot } from "./support/env";
import * as P from "./support/packets";

const VM_MAC = "52:54:00:00:00:01";
const GW_MAC = "02:00:00:00:00:fe";
const EVIL_MAC = "52:54:00:00:00:66";
const VM_IP = "192.0.2.10";
const VM_IP6 = "2001:db8::10";
const VM_LL6 = "fe80::5054:ff:fe00:1";

describe("vm-egress (BPF_PROG_TEST_RUN, real kernel)", () => {
  let lab: Lab;
  let obj: BpfObject;
  let uplink: number;

  const config = (over: Partial<VmConfig> = {}): VmConfig => ({
    mac: VM_MAC,
    vlan: 0,
    uplinkIfindex: uplink,
    bondIfindexes: [],
    ipv4: ["198.51.100.77", VM_IP],
    ipv6: [VM_IP6, VM_LL6],
    enabled: true,
    ...over,
  });
  const setConfig = (c: VmConfig): void => obj.map("vm_config").update(encodeU32Key(0), encodeVmConfig(c));
  const setAcl = (rules: AclRule[], defaultAction: AclAction): void =>
    obj.map("acl").update(encodeU32Key(0), encodeAcl({ rules, defaultAction }));

  beforeAll(() => {
    requireRoot();
    lab = makeLab("vme", [["up0", "up0p"]]);
    uplink = lab.ifindex("up0");
  });

  beforeEach(() => {
    obj = loadObject("vm_egress.o");
    setConfig(config());
    setAcl([], "allow");
  });

  afterEach(() => obj?.close());
  afterAll(() => lab?.remove());

  function run(frame: Buffer) {
    const before = snapshot(obj);
    const r = lab.run(() => obj.program("vm_egress").testRun({ data: frame }));
    return { action: r.retval, out: r.data, counted: moved(before, snapshot(obj)) };
  }
  const expectDrop = (frame: Buffer, counter: string): void => {
    expect(run(frame)).toEqual({ action: XDP_DROP, out: frame, counted: { [counter]: [1, frame.length] } });
  };
  const expectRedirect = (frame: Buffer): void => {
    expect(run(frame)).toEqual({ action: XDP_REDIRECT, out: frame, counted: { redirect: [1, frame.length] } });
  };
  const expectStack = (frame: Buffer): void => {
    expect(run(frame)).toEqual({ action: XDP_PASS, out: frame, counted: { pass_bcast_mcast: [1, frame.length] } });
  };

  const udp4 = (src = VM_IP, dst = "203.0.113.5", dport = 53, mac = VM_MAC): Buffer =>
    P.eth(GW_MAC, mac, P.ETH_P_IP, P.ipv4(src, dst, P.IPPROTO_UDP, P.udp(40000, dport)));
  const tcp6 = (src = VM_IP6, dst = "2001:db8:1::5", dport = 443): Buffer =>
    P.eth(GW_MAC, VM_MAC, P.ETH_P_IPV6, P.ipv6(src, dst, P.IPPROTO_TCP, P.tcp(40000, dport)));

  test("a tap whose config was never written drops everything", () => {
    obj.close();
    obj = loadObject("vm_egress.o");
    expectDrop(udp4(), "drop_no_config");
    setConfig(config({ enabled: false }));
    expectDrop(udp4(), "drop_no_config");
  });

  test("IPv4 and IPv6 from the VM's own addresses are redirected unchanged", () => {
    expectRedirect(udp4());
    expectRedirect(udp4("198.51.100.77"));
    expectRedirect(tcp6());
    expectRedirect(tcp6(VM_LL6, "fe80::1"));
  });

  test("VLAN push: the VM's VID goes in after the MAC addresses", () => {
    setConfig(config({ vlan: 100 }));
    const f = udp4();
    const r = run(f);
    const tagged = P.eth(GW_MAC, VM_MAC, P.ETH_P_IP, f.subarray(14), [{ vid: 100 }]);
    expect(r).toEqual({ action: XDP_REDIRECT, out: tagged, counted: { redirect: [1, f.length + 4] } });
  });

  test("a frame that already carries a tag is dropped (no VLAN hopping)", () => {
    const inner = P.ipv4(VM_IP, "203.0.113.5", P.IPPROTO_UDP, P.udp(1, 2));
    expectDrop(P.eth(GW_MAC, VM_MAC, P.ETH_P_IP, inner, [{ vid: 100 }]), "drop_vlan_tagged");
    expectDrop(P.eth(GW_MAC, VM_MAC, P.ETH_P_IP, inner, [{ vid: 0 }]), "drop_vlan_tagged");
    expectDrop(P.eth(GW_MAC, VM_MAC, P.ETH_P_IP, inner, [{ tpid: 0x88a8, vid: 5 }, { vid: 100 }]), "drop_vlan_tagged");
  });

  test("spoofed source MAC is dropped, whatever the payload", () => {
    expectDrop(udp4(VM_IP, "203.0.113.5", 53, EVIL_MAC), "drop_spoof_mac");
    expectDrop(P.eth(P.BROADCAST, EVIL_MAC, P.ETH_P_ARP, P.arp(1, EVIL_MAC, VM_IP, "00:00:00:00:00:00", "192.0.2.1")), "drop_spoof_mac");
  });

  test("spoofed source IPv4/IPv6 is dropped; 0.0.0.0 and :: are not addresses the VM owns", () => {
    expectDrop(udp4("192.0.2.11"), "drop_spoof_ip");
    expectDrop(udp4("0.0.0.0", "255.255.255.255", 67), "drop_spoof_ip");
    expectDrop(tcp6("2001:db8::11"), "drop_spoof_ip");
    expectDrop(tcp6("::"), "drop_spoof_ip");
  });

  test("ARP: honest requests, probes and replies pass; a lying sender MAC or IP is dropped", () => {
    const req = P.eth(P.BROADCAST, VM_MAC, P.ETH_P_ARP, P.arp(1, VM_MAC, VM_IP, "00:00:00:00:00:00", "192.0.2.1"));
    expectStack(req);
    const probe = P.eth(P.BROADCAST, VM_MAC, P.ETH_P_ARP, P.arp(1, VM_MAC, "0.0.0.0", "00:00:00:00:00:00", VM_IP));
    expectStack(probe);
    const reply = P.eth(GW_MAC, VM_MAC, P.ETH_P_ARP, P.arp(2, VM_MAC, VM_IP, GW_MAC, "192.0.2.1"));
    expectRedirect(reply);
    expectDrop(P.eth(P.BROADCAST, VM_MAC, P.ETH_P_ARP, P.arp(1, EVIL_MAC, VM_IP, "00:00:00:00:00:00", "192.0.2.1")), "drop_spoof_arp");
    // Gratuitous ARP for the gateway's address: the classic hijack.
    expectDrop(P.eth(P.BROADCAST, VM_MAC, P.ETH_P_ARP, P.arp(2, VM_MAC, "192.0.2.1", P.BROADCAST, "192.0.2.1")), "drop_spoof_arp");
    // A reply with sender 0.0.0.0 is not a probe.
    expectDrop(P.eth(GW_MAC, VM_MAC, P.ETH_P_ARP, P.arp(2, VM_MAC, "0.0.0.0", GW_MAC, "192.0.2.1")), "drop_spoof_arp");
    const truncated = P.eth(P.BROADCAST, VM_MAC, P.ETH_P_ARP, P.arp(1, VM_MAC, VM_IP, "00:00:00:00:00:00", "192.0.2.1").subarray(0, 20));
    expectDrop(truncated, "drop_malformed");
  });

  test("NDP: DAD and honest solicitations/advertisements pass; claims on other addresses are dropped", () => {
    const ns = (src: string, dst: string, target: string, ll?: { type: 1 | 2; mac: string }): Buffer =>
      P.eth("33:33:ff:00:00:10", VM_MAC, P.ETH_P_IPV6, P.ipv6(src, dst, 58, P.icmpv6(src, dst, 135, P.ndBody(target, ll)), 255));
    const na = (target: string, ll?: { type: 1 | 2; mac: string }, dstMac = GW_MAC): Buffer =>
      P.eth(dstMac, VM_MAC, P.ETH_P_IPV6, P.ipv6(VM_LL6, "fe80::1", 58, P.icmpv6(VM_LL6, "fe80::1", 136, P.ndBody(target, ll, 0x60000000)), 255));

    expectStack(ns("::", "ff02::1:ff00:10", VM_IP6)); // DAD
    expectStack(ns(VM_LL6, "ff02::1:ff00:1", "fe80::1", { type: 1, mac: VM_MAC }));
    expectDrop(ns("::", "ff02::1:ff00:10", VM_IP6, { type: 1, mac: VM_MAC }), "drop_spoof_nd"); // RFC 4862: DAD has no SLLAO
    expectDrop(ns(VM_LL6, "ff02::1:ff00:1", "fe80::1", { type: 1, mac: EVIL_MAC }), "drop_spoof_nd");
    expectRedirect(na(VM_IP6, { type: 2, mac: VM_MAC }));
    expectRedirect(na(VM_LL6));
    expectDrop(na("2001:db8::1", { type: 2, mac: VM_MAC }), "drop_spoof_nd"); // someone else's address
    expectDrop(na(VM_IP6, { type: 2, mac: EVIL_MAC }), "drop_spoof_nd");
    const ra = P.eth("33:33:00:00:00:01", VM_MAC, P.ETH_P_IPV6, P.ipv6(VM_LL6, "ff02::1", 58, P.icmpv6(VM_LL6, "ff02::1", 134, Buffer.alloc(12)), 255));
    expectDrop(ra, "drop_spoof_nd"); // a VM is not a router
  });

  test("validated ARP/NDP bypass the ACL; everything IP meets it (also multicast)", () => {
    setAcl([], "deny");
    expectStack(P.eth(P.BROADCAST, VM_MAC, P.ETH_P_ARP, P.arp(1, VM_MAC, VM_IP, "00:00:00:00:00:00", "192.0.2.1")));
    const nsolicit = P.eth("33:33:ff:00:00:01", VM_MAC, P.ETH_P_IPV6,
      P.ipv6(VM_LL6, "ff02::1:ff00:1", 58, P.icmpv6(VM_LL6, "ff02::1:ff00:1", 135, P.ndBody("fe80::1")), 255));
    expectStack(nsolicit);
    expectDrop(udp4(), "drop_acl");
    expectDrop(P.eth("01:00:5e:00:00:fb", VM_MAC, P.ETH_P_IP, P.ipv4(VM_IP, "224.0.0.251", P.IPPROTO_UDP, P.udp(5353, 5353))), "drop_acl");
    // ICMPv6 that is not NDP (echo request) is ordinary traffic.
    expectDrop(P.eth(GW_MAC, VM_MAC, P.ETH_P_IPV6, P.ipv6(VM_IP6, "2001:db8:1::1", 58, P.icmpv6(VM_IP6, "2001:db8:1::1", 128, Buffer.alloc(8)))), "drop_acl");
  });

  test("ACL hit and miss, first match wins, both families", () => {
    setAcl(
      [
        { action: "deny", protocol: "udp", dst: "203.0.113.0/24", dstPorts: { from: 53, to: 53 } },
        { action: "allow", protocol: "udp", dst: "203.0.113.0/24" },
        { action: "allow", protocol: "tcp", dst: "2001:db8:1::/48", dstPorts: { from: 443, to: 443 } },
        { action: "deny", src: "::/0" },
      ],
      "allow",
    );
    expectDrop(udp4(VM_IP, "203.0.113.5", 53), "drop_acl"); // rule 0
    expectRedirect(udp4(VM_IP, "203.0.113.5", 123)); // rule 1
    expectRedirect(udp4(VM_IP, "198.18.0.1", 53)); // no rule: default pass
    expectRedirect(tcp6()); // rule 2
    expectDrop(tcp6(VM_IP6, "2001:db8:1::5", 80), "drop_acl"); // rule 3
    expectDrop(tcp6(VM_IP6, "2001:db8:2::5", 443), "drop_acl"); // rule 3
  });

  test("ACL default drop lets only what a rule passes through", () => {
    setAcl([{ action: "allow", protocol: "tcp", dstPorts: { from: 80, to: 443 } }], "deny");
    expectRedirect(P.eth(GW_MAC, VM_MAC, P.ETH_P_IP, P.ipv4(VM_IP, "203.0.113.5", P.IPPROTO_TCP, P.tcp(40000, 80))));
    expectDrop(P.eth(GW_MAC, VM_MAC, P.ETH_P_IP, P.ipv4(VM_IP, "203.0.113.5", P.IPPROTO_TCP, P.tcp(40000, 444))), "drop_acl");
    // A non-first fragment has no ports: it cannot match a port rule.
    const frag = P.eth(GW_MAC, VM_MAC, P.ETH_P_IP, P.ipv4(VM_IP, "203.0.113.5", P.IPPROTO_TCP, P.tcp(40000, 80), { fragOffset: 100 }));
    expectDrop(frag, "drop_acl");
  });

  test("an IPv6 destination-options header cannot hide the TCP port from the ACL", () => {
    setAcl([{ action: "deny", protocol: "tcp", dstPorts: { from: 22, to: 22 } }], "allow");
    const dstopts = Buffer.from([P.IPPROTO_TCP, 0, 1, 4, 0, 0, 0, 0]); // next=TCP, len 0, PadN
    const hidden = P.eth(GW_MAC, VM_MAC, P.ETH_P_IPV6, P.ipv6(VM_IP6, "2001:db8:1::5", 60, Buffer.concat([dstopts, P.tcp(40000, 22)])));
    expectDrop(hidden, "drop_acl");
    const open = P.eth(GW_MAC, VM_MAC, P.ETH_P_IPV6, P.ipv6(VM_IP6, "2001:db8:1::5", 60, Buffer.concat([dstopts, P.tcp(40000, 23)])));
    expectRedirect(open);
  });

  test("malformed and foreign frames are dropped and counted", () => {
    expectDrop(P.eth(GW_MAC, VM_MAC, 0x88cc, Buffer.alloc(46)), "drop_ethertype"); // LLDP
    expectDrop(P.eth(GW_MAC, VM_MAC, P.ETH_P_IP, Buffer.alloc(0)), "drop_malformed"); // bare Ethernet header
    expectDrop(udp4().subarray(0, 14 + 12), "drop_malformed"); // truncated IPv4 header
    expectDrop(udp4().subarray(0, 14 + 20 + 2), "drop_malformed"); // truncated UDP ports
    expectDrop(tcp6().subarray(0, 14 + 30), "drop_malformed"); // truncated IPv6 header
    const badVersion = udp4();
    badVersion[14] = 0x65;
    expectDrop(badVersion, "drop_malformed");
  });
});
