// FdbTable on the provider side: check keeps the entries keyed by <vlan>/<mac> in key order
// (whatever order the program gives), so the state's entries compare entry by entry; diff
// updates in place on entries and replaces on the table; what check returns passes check
// unchanged; the helper reads the list and the keyed form alike.
import { ed25519PrivateKey } from "../support/keys";
import { KINDS } from "../../provider/kinds";
import { checkInputs, forgetCheckedHosts } from "../../provider/runtime/check";
import { diffInputs } from "../../provider/runtime/diff";
import { InputReader, UNKNOWN } from "../../provider/common/validate/reader";
import { readFdbTableArgs } from "../../provider/common/args/fdb";

const HOST = { address: "198.18.0.10", hostKey: "SHA256:" + "A".repeat(43), privateKey: ed25519PrivateKey() };
const TABLE = "/sys/fs/bpf/hvnet/xdp/root/uplink0/maps/fdb";
const kind = KINDS.FdbTable;

function macOf(i: number): string {
  return `52:54:00:${[(i >> 16) & 0xff, (i >> 8) & 0xff, i & 0xff].map((b) => b.toString(16).padStart(2, "0")).join(":")}`;
}

function entries(n: number) {
  return Array.from({ length: n }, (_, i) => ({ vlan: 100 + (i % 3), mac: macOf(i), device: i % 2 ? "tap1" : "tap0" }));
}

function check(args: Record<string, unknown>) {
  return checkInputs(kind, { host: HOST, table: TABLE, ...args });
}

beforeEach(() => forgetCheckedHosts());

test("check keys the entries by <vlan>/<mac>, in key order, whatever order they came in", () => {
  const given = [
    { vlan: 200, mac: "52:54:00:00:00:01", device: "tap2" },
    { mac: "52-54-00-00-00-0A", device: "tap0" },
    { vlan: 100, mac: "52:54:00:00:00:02", device: "tap1" },
  ];
  const { inputs, failures } = check({ entries: given });
  expect(failures).toEqual([]);
  expect(inputs.entries).toEqual({ "0/52:54:00:00:00:0a": "tap0", "100/52:54:00:00:00:02": "tap1", "200/52:54:00:00:00:01": "tap2" });
  expect(Object.keys(inputs.entries as object)).toEqual(["0/52:54:00:00:00:0a", "100/52:54:00:00:00:02", "200/52:54:00:00:00:01"]);
  expect(check({ entries: [...given].reverse() }).inputs.entries).toEqual(inputs.entries);
});

test("what check returns passes check unchanged (create checks again)", () => {
  const acl = { defaultAction: "deny", rules: [{ action: "allow", protocol: "tcp", dstPorts: "22" }] };
  const first = check({ entries: [...entries(50), { vlan: 5, mac: "02:00:00:00:00:05", device: "tap9", ingressAcl: acl }] });
  expect(first.failures).toEqual([]);
  const second = checkInputs(kind, first.inputs);
  expect(second.failures).toEqual([]);
  expect(second.inputs).toEqual(first.inputs);
});

test("one entry added among 1,000 is one new key; nothing else in entries moves", () => {
  const first = check({ entries: entries(1000) });
  expect(first.failures).toEqual([]);
  const before = first.inputs.entries as Record<string, unknown>;
  const list = entries(1000);
  list.splice(500, 0, { vlan: 101, mac: "02:00:00:00:01:f3", device: "tap7" });
  const after = check({ entries: list }).inputs.entries as Record<string, unknown>;
  const added = Object.keys(after).filter((k) => !(k in before));
  const changed = Object.keys(before).filter((k) => JSON.stringify(before[k]) !== JSON.stringify(after[k]));
  expect(added).toEqual(["101/02:00:00:00:01:f3"]);
  expect(changed).toEqual([]);
});

test("a <vlan, mac> given twice is refused, naming both places", () => {
  const { failures } = check({ entries: [{ vlan: 7, mac: "02:00:00:00:00:01", device: "tap0" }, { vlan: 7, mac: "02:00:00:00:00:01", device: "tap1" }] });
  expect(failures.map((f) => f.reason)).toEqual(["FdbTable.entries[1]: repeats vlan 7 mac 02:00:00:00:00:01 of entries[0]: give each <vlan, mac> once"]);
});

test("two ingress ACLs for one device are refused: the ACL belongs to the device's port", () => {
  const acl = { defaultAction: "deny", rules: [] };
  const { failures } = check({ entries: [{ mac: "02:00:00:00:00:01", device: "tap0", ingressAcl: acl }, { mac: "02:00:00:00:00:02", device: "tap0" }] });
  expect(failures).toHaveLength(1);
  expect(failures[0].reason).toContain("entries[1].ingressAcl: differs from entries[0].ingressAcl for device tap0");
});

test("a bad entry names its place and field; an unknown field is refused", () => {
  const { failures } = check({ entries: [{ mac: "02:00:00:00:00:01", device: "tap0" }, { mac: "not-a-mac", device: "tap0" }, { mac: "02:00:00:00:00:03", device: "tap0", vlanId: 3 }] });
  const reasons = failures.map((f) => f.reason).join("\n");
  expect(reasons).toContain("FdbTable.entries[1].mac");
  expect(reasons).toContain("FdbTable.entries[2].vlanId: is not a known field");
});

test("a keyed entry with a bad key is refused, naming the key", () => {
  const { failures } = check({ entries: { "5000/02:00:00:00:00:01": "tap0" } });
  expect(failures.map((f) => f.reason)).toEqual(['FdbTable.entries.5000/02:00:00:00:00:01: is not an entry key "<vlan 0-4094>/<mac>"']);
});

test("a keyed entry is its device's name, or the device and its ACL; a bad name is refused, naming the key", () => {
  const acl = { defaultAction: "deny", rules: [] };
  const keyed = { "5/02:00:00:00:00:01": "tap0", "5/02:00:00:00:00:02": { device: "tap1", ingressAcl: acl } };
  const { inputs, failures } = check({ entries: keyed });
  expect(failures).toEqual([]);
  expect(inputs.entries).toEqual(keyed);
  const bad = check({ entries: { "5/02:00:00:00:00:01": "no such/name" } }).failures;
  expect(bad).toHaveLength(1);
  expect(bad[0].reason).toMatch(/^FdbTable\.entries\.5\/02:00:00:00:00:01: /);
});

test("entries not known yet (preview) pass check untouched", () => {
  expect(check({ entries: UNKNOWN }).failures).toEqual([]);
  const { inputs, failures } = check({ entries: [{ mac: "02:00:00:00:00:01", device: UNKNOWN }] });
  expect(failures).toEqual([]);
  expect(inputs.entries).toEqual({ "0/02:00:00:00:00:01": UNKNOWN });
});

test("the helper reads the list and the keyed form as the same sorted entries", () => {
  const list = entries(20).reverse();
  const keyed = check({ entries: list }).inputs.entries;
  const a = readFdbTableArgs(InputReader.of({ table: TABLE, entries: list }));
  const b = readFdbTableArgs(InputReader.of({ table: TABLE, entries: keyed }));
  expect(b.entries).toEqual(a.entries);
  expect(a.entries[0]).toEqual({ vlan: 100, mac: macOf(0), device: "tap0" });
});

describe("diff", () => {
  const state = (args: Record<string, unknown>) => ({ ...check(args).inputs, count: 3, __owner: "p/s/FdbTable/t" });
  const news = (args: Record<string, unknown>) => ({ ...check(args).inputs, __owner: "p/s/FdbTable/t" });

  test("the same entries in another order: no change", () => {
    expect(diffInputs(kind, state({ entries: entries(30) }), news({ entries: entries(30).reverse() })).changes).toBe(false);
  });

  test("a changed entry updates in place", () => {
    const list = entries(30);
    list[4] = { ...list[4], device: "tap9" };
    expect(diffInputs(kind, state({ entries: entries(30) }), news({ entries: list }))).toEqual({ changes: true, replaces: [], deleteBeforeReplace: false });
  });

  test("another table replaces", () => {
    expect(diffInputs(kind, state({ entries: entries(3) }), news({ entries: entries(3), table: "/sys/fs/bpf/hvnet/xdp/root/uplink1/maps/fdb" })).replaces).toEqual(["table"]);
  });
});

// How long a check of 10,000 takes is the FdbTable benchmark's to say (scripts/bench/fdbtable.ts).
test("10,000 entries in any order check and come out keyed, each once", () => {
  const { failures, inputs } = check({ entries: entries(10_000).reverse() });
  expect(failures).toEqual([]);
  expect(Object.keys(inputs.entries as object)).toHaveLength(10_000);
});
