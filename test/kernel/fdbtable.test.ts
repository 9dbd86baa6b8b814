// FdbTable's helper ops against the built helper and the real kernel, in a scratch namespace:
// 10,000 entries in one apply, then only the delta applied; show finds one entry changed by
// hand among all of them; an FdbEntry of another owner and an entry made by hand in the same
// map are never touched; remove takes only the table's own entries. bpftool is the witness.
// Also: N fdb.show requests in one batch answer as N single shows do, and fdb.dump as each.
import { requireCommand, requireRoot } from "../support/require-root";
import { startHelperHost, HelperHost } from "../support/helper-host";

const TABLE = "/sys/fs/bpf/hvnet/xdp/root/uplink0/maps/fdb";
const T = "quick/stack-a/FdbTable/fleet-fdb";
const X = "quick/stack-b/FdbEntry/vm9-fdb";
const N = 10_000;

let host: HelperHost;
const ifindex: Record<string, number> = {};

function macOf(i: number): string {
  return `52:54:00:${[(i >> 16) & 0xff, (i >> 8) & 0xff, i & 0xff].map((b) => b.toString(16).padStart(2, "0")).join(":")}`;
}

function entries(n: number, device = (i: number) => (i % 2 ? "vm0" : "vm1")) {
  return Array.from({ length: n }, (_, i) => ({ vlan: 100 + (i % 4), mac: macOf(i), device: device(i) }));
}

function bpftoolKey(vlan: number, mac: string): string[] {
  return [vlan & 0xff, vlan >> 8, ...mac.split(":").map((b) => parseInt(b, 16))].map(String);
}

function target(vlan: number, mac: string): number | undefined {
  try {
    return JSON.parse(host.hostExec("bpftool", ["-j", "map", "lookup", "pinned", TABLE, "key", ...bpftoolKey(vlan, mac)])).formatted.value.ifindex;
  } catch {
    return undefined;
  }
}

function mapCount(): number {
  // Counted beside bpftool: 10,000 entries of JSON exceed what execFileSync buffers.
  const count = 'import json, sys; print(len(json.load(sys.stdin)))';
  return Number(host.hostExec("sh", ["-c", 'bpftool -j map dump pinned "$0" | python3 -c "$1"', TABLE, count]));
}

/** An update made by hand, behind hvnet's back (value: ifindex u32, flags u32). */
function handSet(vlan: number, mac: string, to: number): void {
  const value = [to & 0xff, (to >> 8) & 0xff, (to >> 16) & 0xff, to >> 24, 0, 0, 0, 0].map(String);
  host.hostExec("bpftool", ["map", "update", "pinned", TABLE, "key", ...bpftoolKey(vlan, mac), "value", ...value]);
}

beforeAll(async () => {
  requireRoot();
  requireCommand("bpftool");
  host = await startHelperHost("fdbtab");
  host.ns.ip("link", "add", "uplink0", "type", "veth", "peer", "name", "wire0");
  for (const d of ["vm0", "vm1", "vm2"]) host.ns.ip("link", "add", d, "type", "veth", "peer", "name", `${d}p`);
  for (const d of ["uplink0", "wire0", "vm0", "vm0p", "vm1", "vm1p", "vm2", "vm2p"]) host.ns.ip("link", "set", d, "up");
  for (const d of ["vm0", "vm1", "vm2"]) ifindex[d] = host.ns.ipJson("link", "show", "dev", d)[0].ifindex;
  await host.request("xdp.apply", { device: "uplink0", program: "l2fwd" });
  // Neighbours in the same map: another stack's FdbEntry, and an entry made by hand.
  await host.request("fdb.apply", { table: TABLE, vlan: 7, mac: "02:00:00:00:00:09", device: "vm2", ownership: { owner: X, op: "op-x-00000001" } });
  handSet(8, "02:00:00:00:00:08", 1);
}, 60000);

afterAll(async () => {
  await host?.stop();
});

test("10,000 entries in one apply; the same apply again writes nothing", async () => {
  const t0 = Date.now();
  expect(await host.request("fdbtable.apply", { table: TABLE, entries: entries(N), ownership: { owner: T, op: "op-t-00000001" } })).toEqual({ count: N, added: N, changed: 0, removed: 0 });
  const ms = Date.now() - t0;
  console.log(`fdbtable.apply of ${N} new entries: ${ms} ms`);
  expect(mapCount()).toBe(N + 2);
  expect(target(100, macOf(0))).toBe(ifindex.vm1);
  expect(target(101, macOf(1))).toBe(ifindex.vm0);
  expect(await host.request("fdbtable.apply", { table: TABLE, entries: entries(N), ownership: { owner: T, op: "op-t-00000002" } })).toEqual({ count: N, added: 0, changed: 0, removed: 0 });
}, 60000);

test("only the delta is applied: one added, one changed, one removed; the neighbours stay", async () => {
  const next = entries(N);
  next[5] = { ...next[5], device: "vm2" }; // changed
  next.splice(9, 1); // removed: vlan 101, macOf(9)
  next.push({ vlan: 4000, mac: "02:00:00:00:99:99", device: "vm0" }); // added
  const t0 = Date.now();
  expect(await host.request("fdbtable.apply", { table: TABLE, entries: next, ownership: { owner: T, op: "op-t-00000003" } })).toEqual({ count: N, added: 1, changed: 1, removed: 1 });
  console.log(`fdbtable.apply of a 3-entry delta among ${N}: ${Date.now() - t0} ms`);
  expect(target(101, macOf(5))).toBe(ifindex.vm2);
  expect(target(101, macOf(9))).toBeUndefined();
  expect(target(4000, "02:00:00:00:99:99")).toBe(ifindex.vm0);
  expect(target(7, "02:00:00:00:00:09")).toBe(ifindex.vm2);
  expect(target(8, "02:00:00:00:00:08")).toBe(1);
  expect(mapCount()).toBe(N + 2);
}, 60000);

test("show: the owner's entries keyed by <vlan>/<mac> in key order; one entry changed by hand shows as that entry", async () => {
  handSet(102, macOf(10), ifindex.vm2);
  const t0 = Date.now();
  const shown = await host.request("fdbtable.show", { table: TABLE, ownership: { owner: T } });
  console.log(`fdbtable.show of ${N} entries: ${Date.now() - t0} ms`);
  expect(shown.count).toBe(N);
  const keys = Object.keys(shown.entries);
  expect(keys).toHaveLength(N);
  const order = (k: string) => [Number(k.split("/")[0]), k.split("/")[1]] as const;
  const sorted = [...keys].sort((a, b) => order(a)[0] - order(b)[0] || (order(a)[1] < order(b)[1] ? -1 : 1));
  expect(keys).toEqual(sorted);
  expect(shown.entries[`102/${macOf(10)}`]).toEqual("vm2");
  expect(shown.entries[`102/${macOf(14)}`]).toEqual("vm1");
  // Neither neighbour is the table's.
  expect(shown.entries["7/02:00:00:00:00:09"]).toBeUndefined();
  expect(shown.entries["8/02:00:00:00:00:08"]).toBeUndefined();
  // Another owner sees none of them.
  expect((await host.request("fdbtable.show", { table: TABLE, ownership: { owner: "quick/other/FdbTable/t" } })).count).toBe(0);
  // Put it back, as an up after refresh would, in the keyed form the state holds.
  const back = await host.request("fdbtable.apply", { table: TABLE, entries: { ...shown.entries, [`102/${macOf(10)}`]: "vm1" }, ownership: { owner: T, op: "op-t-00000004" } });
  expect(back).toEqual({ count: N, added: 0, changed: 1, removed: 0 });
  expect(target(102, macOf(10))).toBe(ifindex.vm1);
}, 60000);

test("an entry someone else owns is refused, naming the entry and its owner; nothing of the apply is written", async () => {
  const next = [...entries(N), { vlan: 7, mac: "02:00:00:00:00:09", device: "vm0" }, { vlan: 4001, mac: "02:00:00:00:99:98", device: "vm0" }];
  const r = await host.call("fdbtable.apply", { table: TABLE, entries: next, ownership: { owner: T, op: "op-t-00000005" } });
  expect(r.ok).toBe(false);
  expect(r.error.code).toBe("EEXIST");
  expect(r.error.message).toContain(`vlan 7 02:00:00:00:00:09 (owned by ${X})`);
  expect(r.error.message).toContain("set adopt: true");
  expect(target(4001, "02:00:00:00:99:98")).toBeUndefined();
  expect(target(7, "02:00:00:00:00:09")).toBe(ifindex.vm2);
  // The hand-made entry is nobody's: refused too.
  const h = await host.call("fdbtable.apply", { table: TABLE, entries: [...entries(N), { vlan: 8, mac: "02:00:00:00:00:08", device: "vm0" }], ownership: { owner: T, op: "op-t-00000006" } });
  expect(h.ok).toBe(false);
  expect(h.error.message).toContain("vlan 8 02:00:00:00:00:08 (no owner)");
  expect(target(8, "02:00:00:00:00:08")).toBe(1);
}, 60000);

test("an ingress ACL on a device's entries puts the ACL program on its port, and show reports it", async () => {
  const acl = { rules: [{ action: "allow", protocol: "tcp", dstPorts: { from: 22, to: 22 } }], defaultAction: "deny" };
  const next = entries(N).map((e) => (e.device === "vm0" ? { ...e, ingressAcl: acl } : e));
  expect(await host.request("fdbtable.apply", { table: TABLE, entries: next, ownership: { owner: T, op: "op-t-00000007" } })).toEqual({ count: N, added: 1, changed: 1, removed: 1 });
  const shown = await host.request("fdbtable.show", { table: TABLE, ownership: { owner: T } });
  expect(shown.entries[`101/${macOf(1)}`]).toEqual({ device: "vm0", ingressAcl: acl });
  expect(shown.entries[`100/${macOf(0)}`]).toEqual("vm1");
}, 60000);

test("N fdb.show in one batch answer as N single shows", async () => {
  const keys = entries(200).map((e) => ({ table: TABLE, vlan: e.vlan, mac: e.mac }));
  keys.push({ table: TABLE, vlan: 7, mac: "02:00:00:00:00:09" }, { table: TABLE, vlan: 9, mac: "02:00:00:00:00:07" });
  const singles = [];
  for (const k of keys) singles.push(await host.request("fdb.show", k));
  const t0 = Date.now();
  const batch = await host.request("batch", { requests: keys.map((args) => ({ op: "fdb.show", args })) });
  console.log(`${keys.length} fdb.show in one batch: ${Date.now() - t0} ms`);
  expect(batch.results.map((o: { ok: boolean; result: unknown }) => o.result)).toEqual(singles);
  expect(singles[201]).toBeNull();
  expect(singles[200]).toMatchObject({ vlan: 7, device: "vm2", ifindex: ifindex.vm2 });
}, 60000);

test("fdb.dump reports every entry of the table as fdb.show reports it, and null for a table that is gone", async () => {
  const dump = await host.request("fdb.dump", { table: TABLE });
  expect(dump.entries).toHaveLength(mapCount());
  const shows = await host.request("batch", { requests: dump.entries.map((e: { vlan: number; mac: string }) => ({ op: "fdb.show", args: { table: TABLE, vlan: e.vlan, mac: e.mac } })) });
  expect(dump.entries).toEqual(shows.results.map((o: { result: unknown }) => o.result));
  // What the earlier tests put there: an entry with an ingress ACL, and other owners' entries.
  expect(dump.entries.some((e: { ingressAcl?: unknown }) => e.ingressAcl)).toBe(true);
  expect(dump.entries).toContainEqual(expect.objectContaining({ vlan: 8, mac: "02:00:00:00:00:08", ifindex: 1 }));
  expect(await host.request("fdb.dump", { table: TABLE.replace(/fdb$/, "nothing-here") })).toBeNull();
  const bad = await host.call("fdb.dump", { table: "/tmp/not-bpffs" });
  expect(bad.ok).toBe(false);
  expect(bad.error.message).toContain("table");
}, 60000);

test("remove takes only the table's entries, in one go; the neighbours stay", async () => {
  const t0 = Date.now();
  expect(await host.request("fdbtable.remove", { table: TABLE, ownership: { owner: T } })).toEqual({ removed: true, count: N });
  console.log(`fdbtable.remove of ${N} entries: ${Date.now() - t0} ms`);
  expect(mapCount()).toBe(2);
  expect(target(7, "02:00:00:00:00:09")).toBe(ifindex.vm2);
  expect(target(8, "02:00:00:00:00:08")).toBe(1);
  expect((await host.request("fdbtable.show", { table: TABLE, ownership: { owner: T } })).count).toBe(0);
  // The ports of the table's devices are gone; the FdbEntry's device keeps its port.
  const ports = JSON.parse(host.hostExec("bpftool", ["-j", "map", "dump", "pinned", TABLE.replace(/fdb$/, "ports")]));
  expect(ports.map((p: any) => p.formatted?.key ?? p.key)).toHaveLength(1);
}, 60000);

test("a caller that names no owner is refused: a table is one owner's entries", async () => {
  const r = await host.call("fdbtable.remove", { table: TABLE });
  expect(r.ok).toBe(false);
  expect(r.error.message).toContain("owner");
  expect(mapCount()).toBe(2);
});
