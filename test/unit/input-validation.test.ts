// Bad input: each case must fail check with an error naming the field (and the value),
// and must never reach a host: the runtime's create is given a requester that fails the
// test if it is called.
import { KINDS } from "../../provider/kinds";
import { checkInputs, forgetCheckedHosts } from "../../provider/runtime/check";
import { createResource } from "../../provider/runtime/operations";
import { requireValidInputs } from "../../provider/runtime/check";

import { ed25519PrivateKey } from "../support/keys";

const HOST = { address: "198.18.0.10", hostKey: "SHA256:" + "A".repeat(43), privateKey: ed25519PrivateKey() };
const FDB = { host: HOST, table: "/sys/fs/bpf/hvnet/xdp/root/uplink0/maps/fdb", vlan: 100, mac: "52:54:00:12:34:56", device: "tap0" };
const VMIF = { host: HOST, name: "tap0", vcpus: 2, mac: "52:54:00:12:34:56", addresses: ["10.0.0.2"] };
const XDP = { host: HOST, device: "uplink0", program: "l2fwd" };
const RSS = { host: HOST, device: "eth0", queues: { start: 8, count: 4 }, flows: [{ type: "tcp4", dst: "10.0.0.2", dstPort: 80 }] };
const NETKIT = { host: HOST, name: "nk0", lowerDevice: "eth0", queues: { start: 15, count: 1 } };

type Case = [string, keyof typeof KINDS, Record<string, unknown>, string, string?];

const rows: Case[] = [
  ["malformed MAC", "FdbEntry", { ...FDB, mac: "52:54:00:12:34" }, "mac", "52:54:00:12:34"],
  ["MAC with bad hex", "FdbEntry", { ...FDB, mac: "zz:54:00:12:34:56" }, "mac", "zz:54"],
  ["multicast MAC", "FdbEntry", { ...FDB, mac: "01:00:5e:00:00:01" }, "mac", "multicast"],
  ["VLAN 4095", "FdbEntry", { ...FDB, vlan: 4095 }, "vlan", "4095"],
  ["negative VLAN", "FdbEntry", { ...FDB, vlan: -1 }, "vlan", "-1"],
  ["VLAN as text", "FdbEntry", { ...FDB, vlan: "100" }, "vlan", "100"],
  ["table outside bpffs", "FdbEntry", { ...FDB, table: "/tmp/fdb" }, "table", "/tmp/fdb"],
  ["table with ..", "FdbEntry", { ...FDB, table: "/sys/fs/bpf/../../etc/passwd" }, "table", ".."],
  ["device of 16 bytes", "FdbEntry", { ...FDB, device: "abcdefghijklmnop" }, "device", "16 bytes"],
  ["device with ;", "FdbEntry", { ...FDB, device: "tap0;reboot" }, "device", "tap0;reboot"],
  ["device with a space", "FdbEntry", { ...FDB, device: "tap 0" }, "device", "tap 0"],
  ["ACL rule with a bad action", "FdbEntry", { ...FDB, ingressAcl: { rules: [{ action: "maybe" }] } }, "ingressAcl.rules[0].action", "maybe"],
  ["ACL with 65 rules", "FdbEntry", { ...FDB, ingressAcl: { rules: Array(65).fill({ action: "deny" }) } }, "ingressAcl.rules", "64"],
  ["ACL ports without protocol", "FdbEntry", { ...FDB, ingressAcl: { rules: [{ action: "deny", dstPorts: "80" }] } }, "ingressAcl.rules[0].protocol"],
  ["ACL bad port range", "FdbEntry", { ...FDB, ingressAcl: { rules: [{ action: "deny", protocol: "tcp", dstPorts: "90-80" }] } }, "ingressAcl.rules[0].dstPorts", "90-80"],
  ["ACL bad CIDR", "FdbEntry", { ...FDB, ingressAcl: { rules: [{ action: "deny", src: "10.0.0.0/33" }] } }, "ingressAcl.rules[0].src", "10.0.0.0/33"],
  ["unknown field", "FdbEntry", { ...FDB, vlna: 3 }, "vlna"],
  ["tap name with space", "VmInterface", { ...VMIF, name: "my tap" }, "name", "my tap"],
  ["tap name of 16 bytes", "VmInterface", { ...VMIF, name: "tap-0123456789ab" }, "name", "16 bytes"],
  ["zero vcpus", "VmInterface", { ...VMIF, vcpus: 0 }, "vcpus", "0"],
  ["negative queues", "VmInterface", { ...VMIF, vcpus: undefined, queues: -2 }, "queues", "-2"],
  ["no vcpus nor queues", "VmInterface", { ...VMIF, vcpus: undefined }, "vcpus"],
  ["bad guest IP", "VmInterface", { ...VMIF, addresses: ["10.0.0.300"] }, "addresses[0]", "10.0.0.300"],
  ["MTU too small", "VmInterface", { ...VMIF, mtu: 20 }, "mtu", "20"],
  ["owner without gid", "VmInterface", { ...VMIF, owner: { uid: 1000 } }, "owner.gid"],
  ["egress without uplink", "VmInterface", { ...VMIF, egress: true }, "uplink"],
  ["egress without addresses", "VmInterface", { ...VMIF, addresses: [], uplink: "uplink0", egress: true }, "addresses"],
  ["VLAN 0 on a VM", "VmInterface", { ...VMIF, vlan: 0 }, "vlan", "0"],
  ["netns path outside /proc", "VmInterface", { ...VMIF, netns: "/etc/passwd" }, "netns", "/etc/passwd"],
  ["netns name with $", "VmInterface", { ...VMIF, netns: "ns$(id)" }, "netns", "ns$(id)"],
  ["one bond leg", "VmInterface", { ...VMIF, uplink: "uplink0", egress: { bondLegs: ["eth0"] } }, "egress.bondLegs"],
  ["unknown program name", "XdpProgram", { ...XDP, program: "l3fwd" }, "program", "l3fwd"],
  ["user object with relative path", "XdpProgram", { ...XDP, program: { object: "prog.o", section: "xdp" } }, "program.object", "prog.o"],
  ["pinDir outside bpffs", "XdpProgram", { ...XDP, pinDir: "/var/lib/x" }, "pinDir", "/var/lib/x"],
  ["unknown attach mode", "XdpProgram", { ...XDP, mode: "offload" }, "mode", "offload"],
  ["queue count zero", "RssContext", { ...RSS, queues: { start: 0, count: 0 } }, "queues.count", "0"],
  ["negative queue start", "RssContext", { ...RSS, queues: { start: -1, count: 2 } }, "queues.start", "-1"],
  ["unknown flow type", "RssContext", { ...RSS, flows: [{ type: "sctp4", dst: "10.0.0.1" }] }, "flows[0].type", "sctp4"],
  ["IPv6 address in a tcp4 flow", "RssContext", { ...RSS, flows: [{ type: "tcp4", dst: "fd00::1" }] }, "flows[0].dst", "fd00::1"],
  ["port on an ip4 flow", "RssContext", { ...RSS, flows: [{ type: "ip4", dst: "10.0.0.1", dstPort: 80 }] }, "flows[0].dstPort"],
  ["port 70000", "RssContext", { ...RSS, flows: [{ type: "udp4", dstPort: 70000 }] }, "flows[0].dstPort", "70000"],
  ["flow matching everything", "RssContext", { ...RSS, flows: [{ type: "tcp4" }] }, "flows[0].type"],
  ["bad hash key", "RssContext", { ...RSS, hashKey: "xyz" }, "hashKey", "xyz"],
  ["unknown hash function", "RssContext", { ...RSS, hashFunction: "md5" }, "hashFunction", "md5"],
  ["netkit unknown mode", "NetkitLower", { ...NETKIT, mode: "l4" }, "mode", "l4"],
  ["netkit unknown api", "NetkitLower", { ...NETKIT, api: "magic" }, "api", "magic"],
  ["netkit named like its NIC", "NetkitLower", { ...NETKIT, name: "eth0" }, "name", "eth0"],
  ["netkit headroom too big", "NetkitLower", { ...NETKIT, headroom: 70000 }, "headroom", "70000"],
  ["missing hostKey", "FdbEntry", { ...FDB, host: { address: "198.18.0.10", privateKey: "k" } }, "host.hostKey"],
  ["host port 70000", "FdbEntry", { ...FDB, host: { ...HOST, port: 70000 } }, "host.port", "70000"],
  ["host address with a space", "FdbEntry", { ...FDB, host: { ...HOST, address: "a b" } }, "host.address", "a b"],
  ["malformed hostKey", "FdbEntry", { ...FDB, host: { ...HOST, hostKey: "MD5:abc" } }, "host.hostKey"],
  ["no host at all", "VmInterface", { ...VMIF, host: undefined }, "host"],
  ["program object with a newline", "XdpProgram", { ...XDP, program: { object: "/tmp/prog\n.o", section: "xdp" } }, "program.object", "control character U+000A"],
  ["pinDir with a tab", "XdpProgram", { ...XDP, pinDir: "/sys/fs/bpf/hvnet/a\tb" }, "pinDir", "control character U+0009"],
  ["table with a newline", "FdbEntry", { ...FDB, table: "/sys/fs/bpf/hvnet/t\n/fdb" }, "table", "control character U+000A"],
  ["netns with a DEL", "VmInterface", { ...VMIF, netns: "vm1\u007f" }, "netns", "control character U+007F"],
  ["agentSocket with a newline", "FdbEntry", { ...FDB, host: { address: "198.18.0.10", hostKey: HOST.hostKey, agentSocket: "/run/agent\n.sock" } }, "host.agentSocket", "control character U+000A"],
  ["NaN VLAN", "FdbEntry", { ...FDB, vlan: NaN }, "vlan", "got NaN"],
  ["Infinity queues", "VmInterface", { ...VMIF, vcpus: undefined, queues: Infinity }, "queues", "got Infinity"],
];

// Every row has the same length: jest passes a `done` callback to shorter rows.
const cases = rows.map(([title, kind, news, field, value]) => [title, kind, news, field, value ?? ""] as const);

describe("bad input is refused before any host is contacted", () => {
  test("there are at least 40 cases across the five resources and the host", () => {
    expect(cases.length).toBeGreaterThanOrEqual(40);
    expect(new Set(cases.map((c) => c[1])).size).toBe(5);
  });

  test.each(cases)("%s (%s)", async (_title, typeName, news, field, valueText) => {
    const kind = KINDS[typeName];
    const { failures } = checkInputs(kind, news);
    expect(failures.length).toBeGreaterThan(0);
    const matching = failures.filter((f) => f.property === field || f.property.startsWith(`${field}.`) || f.property.startsWith(`${field}[`));
    expect(matching.map((f) => f.property)).not.toEqual([]);
    if (valueText) expect(matching.map((f) => f.reason).join("\n")).toContain(valueText);

    let contacted = 0;
    const pool = { request: async () => { contacted++; return {}; } };
    await expect((async () => createResource(pool, kind, requireValidInputs(kind, news)))()).rejects.toThrow(field.split(/[.[]/)[0]);
    expect(contacted).toBe(0);
  });
});

describe("good input is normalized", () => {
  test("MACs are lowercased, IPv6 made canonical, defaults filled", () => {
    const { inputs, failures } = checkInputs(KINDS.VmInterface, { ...VMIF, mac: "52:54:00:AB:CD:EF", addresses: ["FD00:0::1", "10.0.0.2"] });
    expect(failures).toEqual([]);
    expect(inputs.mac).toBe("52:54:00:ab:cd:ef");
    expect(inputs.addresses).toEqual(["fd00::1", "10.0.0.2"]);
    expect(inputs.queues).toBe(4);
    expect(inputs.offloads).toBe(false);
    expect((inputs.host as { port: number }).port).toBe(22);
  });

  test("values Pulumi does not know yet during preview pass through", () => {
    const unknown = "04da6b54-80e4-46f7-96ec-b56ff0331ba9";
    const { inputs, failures } = checkInputs(KINDS.FdbEntry, { ...FDB, table: unknown });
    expect(failures).toEqual([]);
    expect(inputs.table).toBe(unknown);
  });
});

describe("the FDB fast path agrees with the general reader", () => {
  // eslint-disable-next-line @typescript-eslint/no-var-requires
  const { readFdbArgs, readFdbArgsFast } = require("../../provider/common/args/fdb");
  const { InputReader } = require("../../provider/common/validate/reader");
  const base = { table: "/sys/fs/bpf/hvnet/xdp/root/uplink0/maps/fdb", vlan: 100, mac: "52:54:00:AB:CD:EF", device: "tap0" };
  const inputs: unknown[] = [
    base, { ...base, vlan: undefined }, { ...base, adopt: true }, { ...base, vlan: 0 }, { ...base, mac: "52-54-00-ab-cd-ef" },
    { ...base, vlan: 4095 }, { ...base, vlan: 1.5 }, { ...base, mac: "01:00:5e:00:00:01" }, { ...base, device: "a b" },
    { ...base, table: "/tmp/x" }, { ...base, extra: 1 }, { ...base, adopt: "yes" }, { ...base, ingressAcl: { rules: [] } }, null, [], "x",
  ];
  test.each(inputs.map((i) => [JSON.stringify(i), i]))("%s", (_t, input) => {
    const slow = (() => { try { return { ok: readFdbArgs(InputReader.of(input)) }; } catch (e) { return { err: (e as Error).message }; } })();
    const fast = (() => { try { return { ok: readFdbArgsFast(input) }; } catch (e) { return { err: (e as Error).message }; } })();
    expect(fast).toEqual(slow);
  });
});

describe("one host name is one machine (within a provider process)", () => {
  const named = (over: Record<string, unknown> = {}) => ({ ...HOST, name: "hv1", ...over });
  const check = (host: Record<string, unknown>) => checkInputs(KINDS.FdbEntry, { ...FDB, host });
  beforeEach(() => forgetCheckedHosts());

  test("a second address under the same name is refused, naming the name and both addresses and no key", () => {
    expect(check(named()).failures).toEqual([]);
    const { failures } = check(named({ address: "198.18.0.11" }));
    expect(failures.map((f) => f.property)).toEqual(["host.name"]);
    expect(failures[0].reason).toBe('host.name "hv1" names two different connections in this stack: root@198.18.0.10:22 and root@198.18.0.11:22. A name is one machine\'s identity: give each machine its own name, or the same connection details everywhere');
    expect(failures[0].reason).not.toContain("PRIVATE KEY");
    // The first connection stays good.
    expect(check(named()).failures).toEqual([]);
  });

  test("the message is the same whichever of the two Pulumi checked first (it checks concurrently)", () => {
    check(named({ address: "198.18.0.11" }));
    const { failures } = check(named());
    expect(failures[0].reason).toContain("root@198.18.0.10:22 and root@198.18.0.11:22");
  });

  test("a different host key, port, user or jump host under the same name is refused too", () => {
    expect(check(named()).failures).toEqual([]);
    const other = check(named({ hostKey: "SHA256:" + "B".repeat(43) })).failures;
    expect(other[0].reason).toContain("root@198.18.0.10:22, with different host keys");
    expect(other[0].reason).not.toContain("B".repeat(43));
    expect(check(named({ port: 2222 })).failures).toHaveLength(1);
    expect(check(named({ user: "ops" })).failures).toHaveLength(1);
    expect(check(named({ jumpHost: { address: "198.18.0.1", hostKey: HOST.hostKey, privateKey: HOST.privateKey } })).failures).toHaveLength(1);
  });

  test("defaults spelled out, a new private key, or an address without a name are the same machine or another name", () => {
    expect(check(named()).failures).toEqual([]);
    expect(check(named({ port: 22, user: "root" })).failures).toEqual([]);
    expect(check(named({ privateKey: ed25519PrivateKey() })).failures).toEqual([]);
    // Unnamed, the identity is the address: "198.18.0.11" is not "hv1".
    expect(check({ ...HOST, address: "198.18.0.11" }).failures).toEqual([]);
  });

  test("a host not known yet during preview is not compared", () => {
    expect(check(named()).failures).toEqual([]);
    expect(check(named({ hostKey: "04da6b54-80e4-46f7-96ec-b56ff0331ba9" })).failures.map((f) => f.property)).not.toContain("host.name");
  });
});

test("the owner the SDK sets passes check to create, and is never sent as a resource argument", () => {
  const owner = "proj/dev/FdbEntry/vm1-fdb";
  const { inputs, failures } = checkInputs(KINDS.FdbEntry, { ...FDB, __owner: owner });
  expect(failures).toEqual([]);
  expect(inputs.__owner).toBe(owner);
  expect(checkInputs(KINDS.FdbEntry, { ...FDB, __owner: 7 }).failures.map((f) => f.property)).toEqual(["__owner"]);
});
