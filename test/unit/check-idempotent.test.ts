// check's output is create's input, and create checks again (provider/runtime/dynamic.ts):
// whatever check normalizes must pass check unchanged, or a valid program fails at `up`
// after a clean preview. Seen with ACL port ranges: "80" became {from: 80, to: 80}, which
// the reader then refused.
import { ed25519PrivateKey } from "../support/keys";
import { KINDS } from "../../provider/kinds";
import { checkInputs } from "../../provider/runtime/check";

const HOST = { address: "198.18.0.10", hostKey: "SHA256:" + "A".repeat(43), privateKey: ed25519PrivateKey() };
const ACL = {
  defaultAction: "deny",
  rules: [
    { action: "allow", protocol: "tcp", dstPorts: "80" },
    { action: "allow", protocol: "udp", srcPorts: "1000-2000", dst: "10.0.0.0/8" },
    { action: "deny", protocol: "icmp" },
  ],
};

const cases: Array<[string, Record<string, unknown>]> = [
  ["FdbEntry", { table: "/sys/fs/bpf/hvnet/xdp/root/uplink0/maps/fdb", vlan: 100, mac: "52:54:00:12:34:56", device: "tap0", ingressAcl: ACL }],
  ["VmInterface", { name: "tap0", vcpus: 2, mac: "52:54:00:12:34:56", addresses: ["10.0.0.2", "fd00::2"], uplink: "uplink0", egress: { acl: ACL } }],
  ["XdpProgram", { device: "uplink0", program: "l2fwd" }],
  ["RssContext", { device: "eth0", queues: { start: 8, count: 4 }, flows: [{ type: "tcp4", dst: "10.0.0.2", dstPort: 80 }] }],
  ["NetkitLower", { name: "nk0", lowerDevice: "eth0", queues: { start: 15, count: 1 } }],
];

describe("check accepts its own output unchanged (a second check, as create makes)", () => {
  test.each(cases)("%s", (typeName, args) => {
    const kind = KINDS[typeName];
    const first = checkInputs(kind, { host: HOST, ...args });
    expect(first.failures).toEqual([]);
    const second = checkInputs(kind, first.inputs);
    expect(second.failures).toEqual([]);
    expect(second.inputs).toEqual(first.inputs);
  });
});
