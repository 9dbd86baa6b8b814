// FDB entry ownership against the built helper and the real kernel, in a scratch namespace:
// another owner is refused (named) unless adopt, a retry of the same create converges, a
// remove never deletes what its caller does not own, an entry made by hand is nobody's.
// bpftool in the helper's namespaces is the witness of the map.
import * as fs from "node:fs";
import * as path from "node:path";
import { requireCommand, requireRoot } from "../support/require-root";
import { startHelperHost, HelperHost } from "../support/helper-host";

const TABLE = "/sys/fs/bpf/hvnet/xdp/root/uplink0/maps/fdb";
const A = "quick/stack-a/FdbEntry/vm1-fdb";
const B = "quick/stack-b/FdbEntry/vm1-fdb";
const MAC = "52:54:00:00:01:01";

let host: HelperHost;
const ifindex: Record<string, number> = {};

/** The entry's target ifindex as bpftool reads it, or undefined when absent. */
function target(vlan: number, mac: string): number | undefined {
  const key = [vlan & 0xff, vlan >> 8, ...mac.split(":").map((b) => parseInt(b, 16))].map(String);
  try {
    return JSON.parse(host.hostExec("bpftool", ["-j", "map", "lookup", "pinned", TABLE, "key", ...key])).formatted.value.ifindex;
  } catch {
    return undefined;
  }
}

function ownerRecords(): string[] {
  const dir = path.join(host.stateDir, "registry", "fdb-owners");
  return fs.existsSync(dir) ? fs.readdirSync(dir) : [];
}

const entry = (vlan: number, device: string, extra: Record<string, unknown> = {}) => ({ table: TABLE, vlan, mac: MAC, device, ...extra });

beforeAll(async () => {
  requireRoot();
  requireCommand("bpftool");
  host = await startHelperHost("fdbown");
  host.ns.ip("link", "add", "uplink0", "type", "veth", "peer", "name", "wire0");
  for (const d of ["vm0", "vm1"]) host.ns.ip("link", "add", d, "type", "veth", "peer", "name", `${d}p`);
  for (const d of ["uplink0", "wire0", "vm0", "vm0p", "vm1", "vm1p"]) host.ns.ip("link", "set", d, "up");
  for (const d of ["vm0", "vm1"]) ifindex[d] = host.ns.ipJson("link", "show", "dev", d)[0].ifindex;
  await host.request("xdp.apply", { device: "uplink0", program: "l2fwd" });
}, 30000);

afterAll(async () => {
  await host?.stop();
});

test("another owner is refused, naming the owner; its remove leaves the entry and names the owner", async () => {
  await host.request("fdb.apply", entry(10, "vm0", { ownership: { owner: A, op: "op-a-0000001" } }));
  const r = await host.call("fdb.apply", entry(10, "vm0", { ownership: { owner: B, op: "op-b-0000001" } }));
  expect(r.ok).toBe(false);
  expect(r.error).toEqual({ code: "EEXIST", message: `FDB entry vlan 10 ${MAC} in ${TABLE} is owned by ${A}; set adopt: true to take it over` });
  expect(await host.request("fdb.remove", { table: TABLE, vlan: 10, mac: MAC, ownership: { owner: B } })).toEqual({ removed: false, owner: A });
  expect(target(10, MAC)).toBe(ifindex.vm0);
  // An owner-less caller (a tool calling the helper) cannot delete it either.
  expect(await host.request("fdb.remove", { table: TABLE, vlan: 10, mac: MAC })).toEqual({ removed: false, owner: A });
  expect(target(10, MAC)).toBe(ifindex.vm0);
});

test("a retried create converges: same owner, or the same operation", async () => {
  expect(await host.request("fdb.apply", entry(10, "vm0", { ownership: { owner: A, op: "op-a-0000002" } }))).toEqual({ ifindex: ifindex.vm0 });
  // The very operation retried converges even when the owner text reads differently.
  expect(await host.request("fdb.apply", entry(10, "vm1", { ownership: { owner: `${A}-renamed`, op: "op-a-0000002" } }))).toEqual({ ifindex: ifindex.vm1 });
  expect(target(10, MAC)).toBe(ifindex.vm1);
});

test("adopt takes the entry over: the old owner's remove then leaves it, the new owner's removes it", async () => {
  expect(await host.request("fdb.apply", entry(10, "vm0", { ownership: { owner: B, op: "op-b-0000002" }, adopt: true }))).toEqual({ ifindex: ifindex.vm0 });
  expect(await host.request("fdb.remove", { table: TABLE, vlan: 10, mac: MAC, ownership: { owner: A } })).toEqual({ removed: false, owner: B });
  expect(target(10, MAC)).toBe(ifindex.vm0);
  expect(await host.request("fdb.remove", { table: TABLE, vlan: 10, mac: MAC, ownership: { owner: B } })).toEqual({ removed: true });
  expect(target(10, MAC)).toBeUndefined();
  // No owner left in the table: no record left either.
  expect(ownerRecords()).toEqual([]);
});

test("an entry made by hand is nobody's: an owner is refused unless adopt, and its remove leaves it", async () => {
  const key = [20, 0, 0x52, 0x54, 0, 0, 1, 1].map(String);
  const value = [ifindex.vm0 & 0xff, ifindex.vm0 >> 8, 0, 0, 0, 0, 0, 0].map(String);
  host.hostExec("bpftool", ["map", "update", "pinned", TABLE, "key", ...key, "value", ...value]);
  expect(target(20, MAC)).toBe(ifindex.vm0);
  const r = await host.call("fdb.apply", entry(20, "vm0", { ownership: { owner: A } }));
  expect(r.ok).toBe(false);
  expect(r.error.code).toBe("EEXIST");
  expect(r.error.message).toContain("has no owner (made by hand or by another tool); set adopt: true");
  expect(await host.request("fdb.remove", { table: TABLE, vlan: 20, mac: MAC, ownership: { owner: A } })).toEqual({ removed: false });
  expect(target(20, MAC)).toBe(ifindex.vm0);
  expect(await host.request("fdb.apply", entry(20, "vm1", { ownership: { owner: A }, adopt: true }))).toEqual({ ifindex: ifindex.vm1 });
  expect(await host.request("fdb.remove", { table: TABLE, vlan: 20, mac: MAC, ownership: { owner: A } })).toEqual({ removed: true });
  expect(target(20, MAC)).toBeUndefined();
});

test("callers that name no owner behave as before owners existed", async () => {
  expect(await host.request("fdb.apply", entry(30, "vm0"))).toEqual({ ifindex: ifindex.vm0 });
  expect(await host.request("fdb.apply", entry(30, "vm0"))).toEqual({ ifindex: ifindex.vm0 });
  const r = await host.call("fdb.apply", entry(30, "vm1"));
  expect(r.error).toMatchObject({ code: "EEXIST", message: expect.stringContaining(`already exists (to ifindex ${ifindex.vm0})`) });
  expect(await host.request("fdb.remove", { table: TABLE, vlan: 30, mac: MAC })).toEqual({ removed: true });
  expect(ownerRecords()).toEqual([]);
});

test("10,000 owned entries: one record, read back by the next batch (a retried create converges whole)", async () => {
  const requests = Array.from({ length: 10000 }, (_, i) => ({
    op: "fdb.apply",
    args: { table: TABLE, vlan: 40, mac: `02:00:00:01:${(i >> 8).toString(16).padStart(2, "0")}:${(i & 0xff).toString(16).padStart(2, "0")}`, device: "vm0", ownership: { owner: `p/s/FdbEntry/e${i}`, op: `op-${String(i).padStart(8, "0")}` } },
  }));
  for (let round = 0; round < 2; round++) {
    const out = await host.request("batch", { requests });
    expect(out.results.filter((r: { ok: boolean }) => !r.ok)).toEqual([]);
  }
  expect(ownerRecords()).toHaveLength(1);
  const other = await host.call("fdb.apply", { ...requests[1234].args, ownership: { owner: B } });
  expect(other.error.message).toContain("is owned by p/s/FdbEntry/e1234;");
  const gone = await host.request("batch", { requests: requests.map((r) => ({ op: "fdb.remove", args: { table: TABLE, vlan: 40, mac: r.args.mac, ownership: { owner: r.args.ownership.owner } } })) });
  expect(gone.results.every((r: { ok: boolean; result: { removed: boolean } }) => r.ok && r.result.removed)).toBe(true);
  expect(ownerRecords()).toEqual([]);
});
