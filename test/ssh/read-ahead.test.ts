// Read-ahead over real SSH to a lab host: a refresh of many FdbEntry of one table reads the
// table with fdb.dump and answers each entry as its own show would; another stack writing
// its entries into the same table meanwhile changes none of our answers; an entry deleted
// by hand is seen once the window has passed; our own writes are seen by the next read at once.
// The lab goes with the file (labWithPool), whatever a test left.
import { HostPool } from "../../provider/transport/pool";
import { KINDS } from "../../provider/kinds";
import { ReadAheadRequester } from "../../provider/runtime/read-ahead";
import { HostRequester } from "../../provider/runtime/requester";
import { readResource, updateResource, deleteResource } from "../../provider/runtime/operations";
import { requireValidInputs } from "../../provider/runtime/check";
import { encodeFdbKey } from "../../provider/helper/datapath/fdb";
import { connectionOf, createAs, HELPER_DIR, labWithPool } from "../support/runtime";

const env = labWithPool(1);
const WINDOW_MS = 400;
const N = 200;
const OURS = "hvt/ssh/FdbEntry/ours";
const THEIRS = "hvt/ssh-other/FdbEntry/theirs";

const mac = (i: number, last = 1) => `02:42:00:${((i >> 8) & 255).toString(16).padStart(2, "0")}:${(i & 255).toString(16).padStart(2, "0")}:0${last}`;

/** Counts what reaches the host: the proof that reads were answered from dumps. */
function counting(inner: HostRequester) {
  const ops: string[] = [];
  return { ops, request: (host: any, op: string, args: unknown) => (ops.push(op), inner.request(host, op, args)) };
}

type Made = { id: string; outs: Record<string, any> };
let table: string;
let ours: Made[] = [];
let xdp: Made;
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** What the engine does in a refresh: every resource read, at most 8 at once. */
async function refresh(pool: HostRequester, made: Made[]): Promise<Array<{ id: string; props: Record<string, any> }>> {
  const out: Array<{ id: string; props: Record<string, any> }> = new Array(made.length);
  let next = 0;
  await Promise.all(Array.from({ length: 8 }, async () => {
    while (next < made.length) {
      const i = next++;
      out[i] = await readResource(pool, KINDS.FdbEntry, made[i].id, made[i].outs);
    }
  }));
  return out;
}

beforeAll(async () => {
  const host = connectionOf(env.lab.inventory.hosts[0]);
  xdp = await createAs(env.pool, "XdpProgram", host, { device: "uplink0", program: "l2fwd" }, "hvt/ssh/XdpProgram/uplink");
  table = xdp.outs.maps.fdb;
  ours = await Promise.all(Array.from({ length: N }, (_, i) => createAs(env.pool, "FdbEntry", host, { table, vlan: 100, mac: mac(i), device: "uplink0" }, `${OURS}${i}`)));
}, 120_000);

test("a refresh of 200 entries of one table reads it in a few dumps, and each answer is what its own show says", async () => {
  const host = connectionOf(env.lab.inventory.hosts[0]);
  const made = ours.map((m) => ({ ...m, outs: { ...m.outs, host } }));
  const wire = counting(env.pool);
  const t0 = Date.now();
  const ahead = await refresh(new ReadAheadRequester(wire, new Map([["fdb.show", KINDS.FdbEntry.readAhead!]]), WINDOW_MS), made);
  const ms = Date.now() - t0;
  const plain = await refresh(env.pool, made);
  expect(ahead).toEqual(plain);
  expect(ahead.every((r, i) => r.id === ours[i].id && r.props.device === "uplink0" && r.props.ifindex === ours[i].outs.ifindex)).toBe(true);
  // A dump per window the refresh lasted, and the one show before the first dump.
  const dumps = wire.ops.filter((op) => op === "fdb.dump").length;
  expect(dumps).toBeGreaterThanOrEqual(1);
  expect(dumps).toBeLessThanOrEqual(Math.ceil(ms / WINDOW_MS) + 1);
  expect(wire.ops.filter((op) => op === "fdb.show").length).toBeLessThanOrEqual(2);
}, 60_000);

test("another stack writing its entries into the table during our refresh changes none of our answers", async () => {
  const host = connectionOf(env.lab.inventory.hosts[0]);
  const made = ours.map((m) => ({ ...m, outs: { ...m.outs, host } }));
  const other = new HostPool({ helperDir: HELPER_DIR }); // another stack's provider: its own connection and helper
  const theirs: Made[] = [];
  try {
    // What each dump held: the other stack's entries among ours once its writes land.
    const dumped: number[] = [];
    const wire = {
      request: async (host: any, op: string, args: unknown) => {
        const answer = await env.pool.request(host, op, args);
        if (op === "fdb.dump") dumped.push(answer.entries.length);
        return answer;
      },
    };
    const ahead = new ReadAheadRequester(wire, new Map([["fdb.show", KINDS.FdbEntry.readAhead!]]), WINDOW_MS);
    let done = false;
    const writing = (async () => {
      for (let i = 0; i < 60; i++) theirs.push(await createAs(other, "FdbEntry", host, { table, vlan: 200, mac: mac(i, 2), device: "uplink0" }, `${THEIRS}${i}`));
    })().finally(() => (done = true));
    const reads = [];
    while (!done) {
      reads.push(await refresh(ahead, made));
      await sleep(WINDOW_MS / 4);
    }
    await writing;
    expect(Math.max(...dumped)).toBeGreaterThan(N);
    expect(Math.min(...dumped)).toBeLessThan(N + 60);
    for (const r of reads) expect(r.map((x) => [x.id, x.props.vlan, x.props.mac])).toEqual(ours.map((m) => [m.id, 100, m.outs.mac]));
  } finally {
    await Promise.all(theirs.map((m) => deleteResource(other, KINDS.FdbEntry, m.id, { ...m.outs, host })));
    await other.close();
  }
}, 120_000);

test("an entry deleted by hand is seen by reads sent a window later; our own write is seen by the next read at once", async () => {
  const h = env.lab.inventory.hosts[0];
  const host = connectionOf(h);
  const made = ours.map((m) => ({ ...m, outs: { ...m.outs, host } }));
  const ahead = new ReadAheadRequester(env.pool, new Map([["fdb.show", KINDS.FdbEntry.readAhead!]]), WINDOW_MS);
  await refresh(ahead, made.slice(0, 20)); // a dump is fresh now

  const gone = 5;
  const key = [...encodeFdbKey({ vlan: 100, mac: ours[gone].outs.mac })].map((b) => b.toString(16).padStart(2, "0"));
  env.lab.hostExec(h.name, "bpftool", ["map", "delete", "pinned", table, "key", "hex", ...key]);
  await sleep(WINDOW_MS + 50);
  const after = await refresh(ahead, made.slice(0, 20));
  expect(after[gone].id).toBe("");
  expect(after.filter((r) => r.id === "")).toHaveLength(1);

  // Our own write: a device to move entry 7 to, then a read right after the update.
  env.lab.hostExec(h.name, "ip", ["link", "add", "hvtra0", "type", "veth", "peer", "name", "hvtra1"]);
  try {
    await refresh(ahead, made.slice(0, 20)); // a fresh dump that still says uplink0
    const moved = 7;
    const inputs = (device: string) => ({ ...requireValidInputs(KINDS.FdbEntry, { host, table, vlan: 100, mac: ours[moved].outs.mac, device }), __owner: ours[moved].outs.__owner });
    await updateResource(ahead, KINDS.FdbEntry, ours[moved].id, made[moved].outs, inputs("hvtra0"));
    const [read] = await refresh(ahead, [made[moved]]);
    expect(read.props.device).toBe("hvtra0");
    await updateResource(ahead, KINDS.FdbEntry, ours[moved].id, inputs("hvtra0"), inputs("uplink0"));
  } finally {
    env.lab.hostExec(h.name, "ip", ["link", "del", "hvtra0"]);
  }
}, 60_000);

test("destroy: every entry and the program removed leave the table empty and the uplink without XDP", async () => {
  const h = env.lab.inventory.hosts[0];
  const host = connectionOf(h);
  const ahead = new ReadAheadRequester(env.pool, new Map([["fdb.show", KINDS.FdbEntry.readAhead!]]), WINDOW_MS);
  await Promise.all(ours.map((m) => deleteResource(ahead, KINDS.FdbEntry, m.id, { ...m.outs, host })));
  expect(JSON.parse(env.lab.hostExec(h.name, "bpftool", ["-j", "map", "dump", "pinned", table]))).toHaveLength(0);
  // Reads right after the deletes: none is answered from a dump taken before them.
  expect((await refresh(ahead, ours.slice(0, 20).map((m) => ({ ...m, outs: { ...m.outs, host } })))).every((r) => r.id === "")).toBe(true);
  await deleteResource(env.pool, KINDS.XdpProgram, xdp.id, { ...xdp.outs, host });
  const [link] = JSON.parse(env.lab.hostExec(h.name, "ip", ["-j", "-d", "link", "show", "dev", "uplink0"]));
  expect(link.xdp).toBeUndefined();
}, 60_000);
