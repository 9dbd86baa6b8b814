// Live traffic through the XDP datapath between network namespaces:
//
//   [ext ns] ext0 ==veth== upl0 [hv ns] tap0 ==veth== vmeth [vm ns]
//                           \__ br0 __/
//
// l2fwd runs on upl0 (the uplink), vm-egress on tap0 (the VM's "tap"). The bridge is the
// slow path: what XDP passes (broadcast ARP, NDP multicast) is flooded by it. ext0 and
// vmeth run the pass program, without which a veth drops frames redirected to its peer.
// ping and a UDP stream go both ways; the counters show the unicast took the fast path;
// packets the VM sends from an address or MAC it does not own never reach ext.
import { ChildProcess, execFileSync, spawn } from "node:child_process";
import { BpfLink, BpfObject } from "../../provider/helper/kernel/bpf";
import { encodeDevmapValue, encodeU32Key } from "../../provider/helper/kernel/bpf/devmap";
import { inNetns } from "../../provider/helper/kernel/netns";
import { encodeAcl } from "../../provider/helper/datapath/acl";
import { encodeFdbKey, encodeFdbValue } from "../../provider/helper/datapath/fdb";
import { encodeVmConfig } from "../../provider/helper/datapath/vm-config";
import { requireCommand, requireRoot } from "../support/require-root";
import { ScratchNetns, createScratchNetns } from "../support/scratch-netns";
import { loadObject, moved, snapshot, Snapshot } from "./support/env";

const VM_MAC = "52:54:00:00:00:02";
const VM_LL6 = "fe80::5054:ff:fe00:2";
const EXT_MAC = "02:00:00:00:00:01";
const EVIL_MAC = "52:54:00:00:00:66";
const EXT_IP = "10.77.0.1";
const VM_IP = "10.77.0.2";
const ROGUE_IP = "10.77.0.99";
const EXT_IP6 = "fd77::1";
const VM_IP6 = "fd77::2";
const DATAGRAMS = 300;

// UDP endpoints run as node processes inside the namespaces (a socket belongs to the
// namespace it was opened in; `ip netns exec` puts the whole process there).
const RECEIVER = `
const s = require("dgram").createSocket(process.argv[1].includes(":") ? "udp6" : "udp4");
let n = 0;
s.on("message", () => n++);
s.bind(Number(process.argv[2]), process.argv[1], () => process.stdout.write("ready\\n"));
setTimeout(() => { process.stdout.write(String(n) + "\\n"); s.close(); }, Number(process.argv[3]));
`;
const SENDER = `
const [, from, to, port, count] = process.argv;
const s = require("dgram").createSocket(to.includes(":") ? "udp6" : "udp4");
let i = 0;
s.bind(0, from, () => {
  const next = () => {
    if (i === Number(count)) return setTimeout(() => s.close(), 50);
    s.send(Buffer.alloc(64, i++), Number(port), to, () => setTimeout(next, 1));
  };
  next();
});
`;

describe("XDP datapath between namespaces (live traffic, real kernel)", () => {
  let hv: ScratchNetns;
  let ext: ScratchNetns;
  let vm: ScratchNetns;
  const objects: BpfObject[] = [];
  const links: BpfLink[] = [];
  const children: ChildProcess[] = [];
  let l2: BpfObject;
  let egress: BpfObject;

  beforeAll(() => {
    requireRoot();
    requireCommand("ping");
    requireCommand("ethtool");
    hv = createScratchNetns("hv");
    ext = createScratchNetns("ext");
    vm = createScratchNetns("vm");
    hv.exec("sysctl", ["-q", "-w", "net.ipv6.conf.all.disable_ipv6=1", "net.ipv6.conf.default.disable_ipv6=1"]);
    hv.ip("link", "add", "upl0", "type", "veth", "peer", "name", "ext0", "netns", ext.name);
    hv.ip("link", "add", "tap0", "type", "veth", "peer", "name", "vmeth", "netns", vm.name);
    hv.ip("link", "add", "br0", "type", "bridge");
    for (const dev of ["upl0", "tap0"]) hv.ip("link", "set", dev, "master", "br0");
    for (const dev of ["upl0", "tap0", "br0"]) hv.ip("link", "set", dev, "up");
    const side = (ns: ScratchNetns, dev: string, mac: string, ip4: string, ip6: string): void => {
      ns.exec("sysctl", ["-q", "-w", `net.ipv6.conf.default.accept_dad=0`]);
      ns.ip("link", "set", dev, "address", mac);
      ns.exec("sysctl", ["-q", "-w", `net.ipv6.conf.${dev}.accept_dad=0`]);
      // The fast path carries frames, not skbs: checksums must be complete when sent.
      ns.exec("ethtool", ["-K", dev, "tx", "off"]);
      ns.ip("addr", "add", `${ip4}/24`, "dev", dev);
      ns.ip("addr", "add", `${ip6}/64`, "dev", dev, "nodad");
      ns.ip("link", "set", dev, "up");
    };
    side(ext, "ext0", EXT_MAC, EXT_IP, EXT_IP6);
    side(vm, "vmeth", VM_MAC, VM_IP, VM_IP6);

    const idx = (ns: ScratchNetns, dev: string): number => ns.ipJson<Array<{ ifindex: number }>>("link", "show", "dev", dev)[0].ifindex;
    const upl0 = idx(hv, "upl0");
    const tap0 = idx(hv, "tap0");
    const load = (f: string): BpfObject => {
      const o = loadObject(f);
      objects.push(o);
      return o;
    };
    l2 = load("l2fwd.o");
    egress = load("vm_egress.o");
    const passExt = load("pass.o");
    const passVm = load("pass.o");
    egress.map("vm_config").update(
      encodeU32Key(0),
      encodeVmConfig({ mac: VM_MAC, vlan: 0, uplinkIfindex: upl0, bondIfindexes: [], ipv4: [VM_IP], ipv6: [VM_IP6, VM_LL6], enabled: true }),
    );
    egress.map("acl").update(encodeU32Key(0), encodeAcl({ rules: [{ action: "deny", protocol: 6, dstPorts: { from: 22, to: 22 } }], defaultAction: "allow" }));
    inNetns(hv.name, () => {
      l2.map("fdb").update(encodeFdbKey({ vlan: 0, mac: VM_MAC }), encodeFdbValue({ ifindex: tap0 }));
      l2.map("ports").update(encodeU32Key(tap0), encodeDevmapValue(tap0));
      links.push(BpfLink.attachXdp(l2.program("l2fwd"), upl0, "native"));
      links.push(BpfLink.attachXdp(egress.program("vm_egress"), tap0, "native"));
    });
    inNetns(ext.name, () => links.push(BpfLink.attachXdp(passExt.program("xdp_pass"), idx(ext, "ext0"), "native")));
    inNetns(vm.name, () => links.push(BpfLink.attachXdp(passVm.program("xdp_pass"), idx(vm, "vmeth"), "native")));
  });

  afterAll(() => {
    for (const c of children) if (c.exitCode === null && c.pid) process.kill(c.pid, "SIGKILL");
    for (const l of links) l.close();
    for (const o of objects) o.close();
    for (const ns of [hv, ext, vm]) ns?.remove();
  });

  test("the witnesses see the programs attached in native mode", () => {
    const xdpOf = (ns: ScratchNetns, dev: string): { mode: number; prog: { name: string } } =>
      ns.ipJson<Array<{ xdp?: { mode: number; prog: { name: string } } }>>("link", "show", "dev", dev)[0].xdp!;
    expect(xdpOf(hv, "upl0")).toMatchObject({ mode: 1, prog: { name: "l2fwd" } });
    expect(xdpOf(hv, "tap0")).toMatchObject({ mode: 1, prog: { name: "vm_egress" } });
    expect(xdpOf(ext, "ext0")).toMatchObject({ prog: { name: "xdp_pass" } });
  });

  function ping(from: ScratchNetns, to: string, count: number): number {
    const out = from.exec("ping", ["-c", String(count), "-i", "0.2", "-W", "2", "-q", to]);
    const m = / (\d+) received/.exec(out);
    return m ? Number(m[1]) : 0;
  }

  /** Starts a UDP receiver in ns; resolves with the number of datagrams it got. */
  async function receive(ns: ScratchNetns, addr: string, port: number, ms: number): Promise<() => Promise<number>> {
    const child = spawn("ip", ["netns", "exec", ns.name, process.execPath, "-e", RECEIVER, addr, String(port), String(ms)]);
    children.push(child);
    let out = "";
    child.stdout!.on("data", (d: Buffer) => (out += d.toString()));
    await new Promise<void>((resolve, reject) => {
      const t = setTimeout(() => reject(new Error("UDP receiver did not start")), 5000);
      child.stdout!.on("data", () => {
        if (out.includes("ready")) {
          clearTimeout(t);
          resolve();
        }
      });
    });
    return () =>
      new Promise<number>((resolve) => child.on("exit", () => resolve(Number(out.split("\n").filter(Boolean).pop()))));
  }

  function send(ns: ScratchNetns, from: string, to: string, port: number, count: number): void {
    execFileSync("ip", ["netns", "exec", ns.name, process.execPath, "-e", SENDER, from, to, String(port), String(count)], {
      timeout: 20000,
    });
  }

  const drops = (m: ReturnType<typeof moved>): string[] => Object.keys(m).filter((k) => k.startsWith("drop_"));

  test("ping and a UDP stream both ways (IPv4 and IPv6) take the fast path", async () => {
    const l2Before: Snapshot = snapshot(l2);
    const egBefore: Snapshot = snapshot(egress);

    expect(ping(ext, VM_IP, 5)).toBe(5);
    expect(ping(vm, EXT_IP, 5)).toBe(5);
    expect(ping(ext, VM_IP6, 3)).toBe(3);
    expect(ping(vm, EXT_IP6, 3)).toBe(3);

    const toVm = await receive(vm, VM_IP, 5001, 4000);
    const toExt = await receive(ext, EXT_IP, 5002, 4000);
    send(ext, EXT_IP, VM_IP, 5001, DATAGRAMS);
    send(vm, VM_IP, EXT_IP, 5002, DATAGRAMS);
    expect(await toVm()).toBe(DATAGRAMS);
    expect(await toExt()).toBe(DATAGRAMS);

    const l2Moved = moved(l2Before, snapshot(l2));
    const egMoved = moved(egBefore, snapshot(egress));
    // Unicast to the VM: 5 + 3 echo requests, 5 + 3 echo replies, the datagrams.
    const unicastToVm = 16 + DATAGRAMS;
    const fast = l2Moved.redirect?.[0] ?? 0;
    const slow = l2Moved.pass_unknown?.[0] ?? 0;
    expect(fast).toBeGreaterThanOrEqual(unicastToVm);
    expect(fast / (fast + slow)).toBeGreaterThanOrEqual(0.9);
    expect(drops(l2Moved)).toEqual([]);
    // Nothing the VM sent was refused, and its unicast all went out through XDP.
    expect(drops(egMoved)).toEqual([]);
    expect(egMoved.redirect?.[0] ?? 0).toBeGreaterThanOrEqual(unicastToVm);
  });

  test("a veth witness (ethtool -S) saw the frames arrive by XDP redirect", () => {
    // veth counts frames that reached it through ndo_xdp_xmit separately from skbs.
    const xmit = (ns: ScratchNetns, dev: string): number => {
      const out = ns.exec("ethtool", ["-S", dev]);
      return [...out.matchAll(/xdp_xmit: (\d+)/g)].reduce((a, m) => a + Number(m[1]), 0);
    };
    expect(xmit(vm, "vmeth") + xmit(hv, "tap0")).toBeGreaterThanOrEqual(16 + DATAGRAMS);
    expect(xmit(ext, "ext0") + xmit(hv, "upl0")).toBeGreaterThanOrEqual(16 + DATAGRAMS);
  });

  test("the egress ACL drops what it says (TCP 22) and nothing reaches ext", async () => {
    const before = snapshot(egress);
    // A TCP connect to port 22 on ext: the SYN is refused by the ACL, so connect times out.
    const script = `const s=require("net").connect({port:22,host:"${EXT_IP}",localAddress:"${VM_IP}"});s.on("error",()=>process.exit(2));setTimeout(()=>process.exit(0),1500);`;
    execFileSync("ip", ["netns", "exec", vm.name, process.execPath, "-e", script], { timeout: 10000 });
    expect(moved(before, snapshot(egress)).drop_acl?.[0] ?? 0).toBeGreaterThanOrEqual(1);
  });

  test("packets from an address the VM does not own are dropped and never reach ext", async () => {
    vm.ip("addr", "add", `${ROGUE_IP}/24`, "dev", "vmeth");
    try {
      const before = snapshot(egress);
      const got = await receive(ext, "0.0.0.0", 5003, 2500);
      send(vm, ROGUE_IP, EXT_IP, 5003, 20);
      expect(await got()).toBe(0);
      const m = moved(before, snapshot(egress));
      expect(m.drop_spoof_ip?.[0]).toBe(20);
      expect(m.redirect).toBeUndefined();
    } finally {
      vm.ip("addr", "del", `${ROGUE_IP}/24`, "dev", "vmeth");
    }
  });

  test("frames with a MAC the VM does not own are dropped and never reach ext", async () => {
    vm.ip("link", "set", "vmeth", "address", EVIL_MAC);
    // A MAC change flushes the neighbour cache, and the ARP requests that would refill it
    // carry the new MAC too (and are dropped): pin ext's address so the datagrams leave.
    vm.ip("neigh", "replace", EXT_IP, "lladdr", EXT_MAC, "dev", "vmeth", "nud", "permanent");
    try {
      const before = snapshot(egress);
      const got = await receive(ext, "0.0.0.0", 5004, 2500);
      send(vm, VM_IP, EXT_IP, 5004, 20);
      expect(await got()).toBe(0);
      const m = moved(before, snapshot(egress));
      expect(m.drop_spoof_mac?.[0] ?? 0).toBeGreaterThanOrEqual(20);
      expect(m.redirect).toBeUndefined();
    } finally {
      vm.ip("link", "set", "vmeth", "address", VM_MAC);
      vm.ip("neigh", "flush", "dev", "vmeth");
    }
  });
});
