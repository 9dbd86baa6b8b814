// diff: the replace/in-place split of DESIGN.md, per resource kind.
import { KINDS } from "../../provider/kinds";
import { diffInputs } from "../../provider/runtime/diff";
import { UNKNOWN } from "../../provider/common/validate/reader";

const HOST = { address: "198.18.0.10", port: 22, user: "root", hostKey: "SHA256:abc", privateKey: "secret" };

function diff(kind: string, olds: Record<string, unknown>, changes: Record<string, unknown>) {
  return diffInputs(KINDS[kind], { host: HOST, ...olds }, { host: HOST, ...olds, ...changes });
}

const BASES: Record<string, Record<string, unknown>> = {
  RssContext: { device: "eth0", queues: { start: 8, count: 4 }, flows: [], shrinkDefault: true, adopt: false },
  NetkitLower: { name: "nk0", lowerDevice: "eth0", queues: { start: 15, count: 1 }, mode: "l3", policy: "pass", api: "auto", adopt: false },
  XdpProgram: { device: "uplink0", program: "l2fwd", mode: "native", pinDir: "/sys/fs/bpf/hvnet/xdp/root/uplink0", adopt: false },
  FdbEntry: { table: "/sys/fs/bpf/t/maps/fdb", vlan: 100, mac: "52:54:00:00:00:01", device: "tap0", adopt: false },
  VmInterface: { name: "tap0", queues: 4, vcpus: 2, mac: "52:54:00:00:00:01", addresses: ["10.0.0.2"], offloads: false, adopt: false },
};

const CASES: [string, Record<string, unknown>, "replace" | "update"][] = [
  ["RssContext", { device: "eth1" }, "replace"],
  ["RssContext", { queues: { start: 8, count: 2 } }, "update"],
  ["RssContext", { flows: [{ type: "udp4", dst: "10.0.0.2" }] }, "update"],
  ["RssContext", { hashFunction: "xor" }, "update"],
  ["NetkitLower", { policy: "drop" }, "update"],
  ["NetkitLower", { headroom: 64 }, "replace"],
  ["NetkitLower", { queues: { start: 14, count: 2 } }, "replace"],
  ["NetkitLower", { mode: "l2" }, "replace"],
  ["NetkitLower", { netns: "vm1" }, "replace"],
  ["XdpProgram", { program: "pass" }, "update"],
  ["XdpProgram", { device: "eth1" }, "replace"],
  ["XdpProgram", { mode: "skb" }, "replace"],
  ["FdbEntry", { device: "tap1" }, "update"],
  ["FdbEntry", { ingressAcl: { rules: [], defaultAction: "deny" } }, "update"],
  ["FdbEntry", { vlan: 200 }, "replace"],
  ["FdbEntry", { mac: "52:54:00:00:00:02" }, "replace"],
  ["FdbEntry", { table: "/sys/fs/bpf/u/maps/fdb" }, "replace"],
  ["VmInterface", { owner: { uid: 1, gid: 1 } }, "update"],
  ["VmInterface", { mtu: 9000 }, "update"],
  ["VmInterface", { offloads: true }, "update"],
  ["VmInterface", { addresses: ["10.0.0.3"] }, "update"],
  ["VmInterface", { egress: {} }, "update"],
  ["VmInterface", { name: "tap1" }, "replace"],
  ["VmInterface", { netns: "vm1" }, "replace"],
  // queues is an output too (filled from vcpus): a changed count must still replace the tap.
  ["VmInterface", { queues: 8 }, "replace"],
];

describe("replace or update in place", () => {
  test.each(CASES)("%s %j → %s", (kind, change, expected) => {
    const d = diff(kind, BASES[kind], change);
    expect(d.changes).toBe(true);
    if (expected === "replace") {
      expect(d.replaces).toEqual(Object.keys(change));
      expect(d.deleteBeforeReplace).toBe(KINDS[kind].deleteBeforeReplace);
    } else {
      expect(d.replaces).toEqual([]);
      expect(d.deleteBeforeReplace).toBe(false);
    }
  });

  test("no change, no diff; outputs in the old state are not inputs", () => {
    for (const kind of Object.keys(BASES)) {
      const outputOnly = KINDS[kind].outputs.filter((o) => !(KINDS[kind].outputsAlsoInputs ?? []).includes(o));
      const olds = { ...BASES[kind], ...Object.fromEntries(outputOnly.map((o) => [o, 7])) };
      expect(diffInputs(KINDS[kind], { host: HOST, ...olds }, { host: HOST, ...BASES[kind] }).changes).toBe(false);
    }
  });

  test("adopt only matters at creation", () => {
    expect(diff("FdbEntry", BASES.FdbEntry, { adopt: true }).changes).toBe(false);
  });
});

describe("the host", () => {
  test("connection details other than identity update, never replace", () => {
    for (const kind of Object.keys(BASES)) {
      const d = diffInputs(KINDS[kind], { host: HOST, ...BASES[kind] }, { host: { ...HOST, address: "hv1.example", port: 2222, user: "ops" , name: "198.18.0.10" }, ...BASES[kind] });
      expect(d.replaces).toEqual([]);
      expect(d.changes).toBe(true);
    }
  });

  test("a new identity replaces", () => {
    const d = diffInputs(KINDS.FdbEntry, { host: HOST, ...BASES.FdbEntry }, { host: { ...HOST, address: "198.18.0.11" }, ...BASES.FdbEntry });
    expect(d.replaces).toEqual(["host"]);
  });

  test("a value not known during preview is a change", () => {
    const d = diff("FdbEntry", BASES.FdbEntry, { table: UNKNOWN });
    expect(d.replaces).toEqual(["table"]);
  });
});

test("the owner the SDK adds is no change, present or absent in the old state", () => {
  for (const kind of Object.keys(BASES)) {
    const olds = { host: HOST, ...BASES[kind] };
    expect(diffInputs(KINDS[kind], olds, { ...olds, __owner: "p/s/T/n" }).changes).toBe(false);
    expect(diffInputs(KINDS[kind], { ...olds, __owner: "p/s/T/old" }, { ...olds, __owner: "p/s/T/n" }).changes).toBe(false);
  }
});

describe("outputs that are inputs too (FdbTable's entries)", () => {
  const base = { table: "/sys/fs/bpf/t/maps/fdb", entries: { "100/52:54:00:00:00:01": "tap0" }, adopt: false };

  test("are compared: a changed entry updates in place, the count output is not compared", () => {
    const olds = { host: HOST, ...base, count: 1 };
    const d = diffInputs(KINDS.FdbTable, olds, { host: HOST, ...base, entries: { "100/52:54:00:00:00:01": "tap1" } });
    expect(d).toEqual({ changes: true, replaces: [], deleteBeforeReplace: false });
    expect(diffInputs(KINDS.FdbTable, olds, { host: HOST, ...base }).changes).toBe(false);
  });

  test("only where the kind says so: an output named like an input is otherwise not compared", () => {
    // NetkitLower's api is an input ("auto") and an output (the API used, "lease"): comparing
    // the recorded output with the input would replace the device at every up.
    const olds = { host: HOST, ...BASES.NetkitLower, api: "lease" };
    expect(diffInputs(KINDS.NetkitLower, olds, { host: HOST, ...BASES.NetkitLower }).changes).toBe(false);
  });
});
