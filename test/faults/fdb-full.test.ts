// Faults: an l2fwd FDB table filled to its size (HVNET_FDB_MAX_ENTRIES, bpf/include/fdb_maps.h).
// One more entry, to a device no entry used before, is refused with a message naming the
// table's pin and size, and leaves nothing behind: not the port it would have needed in the
// ports devmap, not a prefix of its batch. The built helper against the real kernel;
// bpftool in the helper's namespaces is the witness.
import { execFileSync } from "node:child_process";
import * as path from "node:path";
import { requireCommand, requireRoot } from "../support/require-root";
import { startHelperHost, HelperHost } from "../support/helper-host";

jest.setTimeout(120_000);

const PIN_DIR = "/sys/fs/bpf/hvnet/xdp/root/uplink0";
const TABLE = `${PIN_DIR}/maps/fdb`;
const PORTS = `${PIN_DIR}/maps/ports`;
const SIZE = 65536;

const FDB_JS = path.resolve(__dirname, "../../dist/provider/helper/resources/fdb.js");

let host: HelperHost;
let helperPid = 0;
const ifindex: Record<string, number> = {};

const mac = (i: number) => ["02", "01", "00", (i >> 16) & 0xff, (i >> 8) & 0xff, i & 0xff]
  .map((b) => (typeof b === "string" ? b : b.toString(16).padStart(2, "0"))).join(":");

function bpftool(...args: string[]): any {
  return JSON.parse(host.hostExec("bpftool", ["-j", ...args]));
}

/** The ports devmap's keys (ifindexes), as bpftool reads them. */
function ports(): number[] {
  return (bpftool("map", "dump", "pinned", PORTS) as Array<{ key: string[] }>).map((e) => Buffer.from(e.key.map((b) => parseInt(b, 16))).readUInt32LE(0)).sort((x, y) => x - y);
}

/** Whether <vlan, mac> is in the FDB map, asked of bpftool (the key is struct hvnet_fdb_key: vlan u16, mac[6]). */
function inTable(vlan: number, m: string): boolean {
  const key = [vlan & 0xff, vlan >> 8, ...m.split(":").map((b) => parseInt(b, 16))].map(String);
  try {
    host.hostExec("bpftool", ["map", "lookup", "pinned", TABLE, "key", ...key]);
    return true;
  } catch {
    return false;
  }
}

function entryCount(): number {
  // Counted inside the namespace: the JSON of 65,536 entries is tens of MB. Each element
  // has one raw "value" array (the BTF-formatted value is an object).
  const out = host.hostExec("sh", ["-c", 'bpftool -j map dump pinned "$0" | grep -oF \'"value":[\' | wc -l', TABLE]);
  return Number(out.trim());
}

beforeAll(async () => {
  requireRoot();
  requireCommand("bpftool");
  host = await startHelperHost("fdbfull");
  host.ns.ip("link", "add", "uplink0", "type", "veth", "peer", "name", "wire0");
  helperPid = (await host.request("hello")).pid;
  for (const d of ["vm0", "vm1", "vm2"]) host.ns.ip("link", "add", d, "type", "veth", "peer", "name", `${d}p`);
  for (const d of ["uplink0", "wire0", "vm0", "vm0p", "vm1", "vm1p", "vm2", "vm2p"]) host.ns.ip("link", "set", d, "up");
  for (const d of ["vm0", "vm1", "vm2"]) ifindex[d] = host.ns.ipJson("link", "show", "dev", d)[0].ifindex;
  await host.request("xdp.apply", { device: "uplink0", program: "l2fwd" });
  expect(bpftool("map", "show", "pinned", TABLE).max_entries).toBe(SIZE);

  // Filled in batches as a big stack's `up` would send them, all to vm0.
  for (let start = 0; start < SIZE; start += 16384) {
    const requests = Array.from({ length: 16384 }, (_, k) => ({
      op: "fdb.apply", args: { table: TABLE, vlan: 1, mac: mac(start + k), device: "vm0", ownership: { owner: "p/s/FdbTable/fill" } },
    }));
    const out = await host.request("batch", { requests });
    const bad = out.results.filter((r: { ok: boolean }) => !r.ok);
    if (bad.length) throw new Error(`filling the table: ${bad.length} failed, first: ${JSON.stringify(bad[0])}`);
  }
}, 120_000);

afterAll(async () => {
  await host?.stop();
});

const FULL = `FDB table ${TABLE} is full (${SIZE} entries)`;

test("the table holds exactly its size, and the ports map only vm0", () => {
  expect(entryCount()).toBe(SIZE);
  expect(ports()).toEqual([ifindex.vm0]);
});

test("one more entry to a new device: the message names the pin and the size; no port is left for the device", async () => {
  const r = await host.call("fdb.apply", { table: TABLE, vlan: 2, mac: mac(0), device: "vm1", ownership: { owner: "p/s/FdbEntry/late" } });
  expect(r.ok).toBe(false);
  expect(r.error.code).toBe("ENOSPC");
  expect(r.error.message).toContain(FULL);
  expect(r.error.message).toMatch(/remove FDB entries/);
  expect(ports()).toEqual([ifindex.vm0]);
  expect(inTable(2, mac(0))).toBe(false);
  expect(entryCount()).toBe(SIZE);
});

test("a batch with room for one of its two new entries: the first is applied, the second fails alone, its device gets no port", async () => {
  const freed = await host.request("fdb.remove", { table: TABLE, vlan: 1, mac: mac(SIZE - 1), ownership: { owner: "p/s/FdbTable/fill" } });
  expect(freed).toEqual({ removed: true });
  expect(entryCount()).toBe(SIZE - 1);
  const out = await host.request("batch", { requests: [
    { op: "fdb.apply", args: { table: TABLE, vlan: 3, mac: mac(1), device: "vm1", ownership: { owner: "p/s/FdbEntry/x" } } },
    { op: "fdb.apply", args: { table: TABLE, vlan: 3, mac: mac(2), device: "vm2", ownership: { owner: "p/s/FdbEntry/y" } } },
  ] });
  expect(out.results[0]).toEqual({ ok: true, result: { ifindex: ifindex.vm1 } });
  expect(out.results[1].ok).toBe(false);
  expect(out.results[1].error.message).toContain(FULL);
  expect(inTable(3, mac(1))).toBe(true);
  expect(inTable(3, mac(2))).toBe(false);
  expect(entryCount()).toBe(SIZE);
  expect(ports()).toEqual([ifindex.vm0, ifindex.vm1].sort((x, y) => x - y));
});

/**
 * The helper's applyFdbMany run directly in the helper's namespaces and state: a group as
 * the dispatcher hands it over, without the dispatcher's rerun of failed members alone.
 */
function applyManyDirect(raws: unknown[]): Array<{ ok: boolean; result?: any; error?: any }> {
  const script = `const { applyFdbMany } = require(${JSON.stringify(FDB_JS)});` +
    "process.stdout.write(JSON.stringify(applyFdbMany(JSON.parse(process.argv[1]))));";
  const out = execFileSync("nsenter", ["-t", String(helperPid), "-m", "-n", "node", "-e", script, JSON.stringify(raws)], {
    encoding: "utf8",
    env: { ...process.env, HVNET_STATE_DIR: host.stateDir },
  });
  return JSON.parse(out);
}

test("a group the map takes only part of is undone whole: no prefix of it stays, no port of it either", async () => {
  await host.request("fdb.remove", { table: TABLE, vlan: 1, mac: mac(SIZE - 2), ownership: { owner: "p/s/FdbTable/fill" } });
  expect(entryCount()).toBe(SIZE - 1);
  const out = applyManyDirect([
    { table: TABLE, vlan: 4, mac: mac(1), device: "vm2", ownership: { owner: "p/s/FdbEntry/x2" } },
    { table: TABLE, vlan: 4, mac: mac(2), device: "vm2", ownership: { owner: "p/s/FdbEntry/y2" } },
  ]);
  for (const o of out) {
    expect(o.ok).toBe(false);
    expect(o.error.code).toBe("ENOSPC");
    expect(o.error.message).toContain(`${FULL}: 2 new entries did not fit and none were applied`);
  }
  // The kernel applied the first before refusing the second: it was taken out again.
  expect(inTable(4, mac(1))).toBe(false);
  expect(inTable(4, mac(2))).toBe(false);
  expect(entryCount()).toBe(SIZE - 1);
  expect(ports()).toEqual([ifindex.vm0, ifindex.vm1].sort((x, y) => x - y));
});

test("a full table still converges and moves the entries it holds", async () => {
  expect(await host.call("fdb.apply", { table: TABLE, vlan: 5, mac: mac(1), device: "vm0", ownership: { owner: "p/s/FdbEntry/z" } })).toMatchObject({ ok: true });
  expect(entryCount()).toBe(SIZE);
  const same = await host.call("fdb.apply", { table: TABLE, vlan: 1, mac: mac(7), device: "vm0", ownership: { owner: "p/s/FdbTable/fill" } });
  expect(same.ok).toBe(true);
  const moved = await host.call("fdb.apply", { table: TABLE, vlan: 1, mac: mac(8), device: "vm1", ownership: { owner: "p/s/FdbTable/fill" } });
  expect(moved).toMatchObject({ ok: true, result: { ifindex: ifindex.vm1 } });
  expect(entryCount()).toBe(SIZE);
});
