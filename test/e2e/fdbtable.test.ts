// End to end: examples/fdbtable through the real Pulumi CLI against its own 1-host lab. One
// FdbTable of 10,000 entries (HVNET_E2E_FDBTABLE_COUNT to change it) beside an FdbEntry of
// the same stack, an FdbEntry of another stack and an entry made by hand, all in one map:
// up, one entry moved (previewed as that entry, applied as an update of the table), one
// entry changed by hand (found by refresh as that entry, repaired by up), destroy of the
// table leaving the map as it was before. bpftool inside the lab host is the witness.
import path from "node:path";
import { type Lab } from "../support/lab";
import { link } from "./support/hosts";
import { exampleSuite } from "./support/suite";
import { ExampleProject, parseEvents, stepOps } from "./support/project";

jest.setTimeout(20 * 60_000);

const HV = "hv1";
const FDB = "/sys/fs/bpf/hvnet/xdp/root/uplink0/maps/fdb";
const PORTS = "/sys/fs/bpf/hvnet/xdp/root/uplink0/maps/ports";
const N = Number(process.env.HVNET_E2E_FDBTABLE_COUNT ?? 10_000);

let lab: Lab;
let project: ExampleProject;
let counter = 0;

function macOf(i: number): string {
  return `52:54:01:${[(i >> 16) & 0xff, (i >> 8) & 0xff, i & 0xff].map((b) => b.toString(16).padStart(2, "0")).join(":")}`;
}

const { made } = exampleSuite("fdbtable", 1, (l, p) => { lab = l; project = p; });

async function newStack(config: Record<string, string>): Promise<string> {
  const stack = `t${++counter}`;
  made.push(stack);
  await project.newStack(stack, { "hvnet:inventory": path.join(lab.dir, "inventory.json"), ...config });
  return stack;
}

async function run(stack: string, command: string[]) {
  const r = await project.pulumiOk([...command, "--yes", "--skip-preview", "--json", "--stack", stack]);
  const events = parseEvents(r.stdout);
  return { ...r, ops: stepOps(events), changes: events.find((e) => e.summaryEvent)?.summaryEvent?.resourceChanges ?? {} };
}

/** A map's entries as `key → value` (hex bytes), read by bpftool in the lab host. */
function mapDump(pin: string): Map<string, string> {
  // One short line per entry: 10,000 entries of bpftool's JSON exceed execFileSync's buffer.
  const script = 'import json, sys\nfor e in json.load(sys.stdin): print(" ".join(e["key"]), "=", " ".join(e["value"]))';
  const out = lab.hostExec(HV, "sh", ["-c", 'bpftool -j map dump pinned "$0" | python3 -c "$1"', pin, script]);
  const m = new Map<string, string>();
  for (const line of out.split("\n").filter(Boolean)) {
    const [k, v] = line.split(" = ");
    m.set(k, v);
  }
  return m;
}

function keyHex(vlan: number, mac: string): string {
  return [vlan & 0xff, vlan >> 8, ...mac.split(":").map((b) => parseInt(b, 16))].map((b) => `0x${b.toString(16).padStart(2, "0")}`).join(" ");
}

function targetOf(dump: Map<string, string>, vlan: number, mac: string): number | undefined {
  const v = dump.get(keyHex(vlan, mac));
  if (!v) return undefined;
  const b = v.split(" ").map((x) => parseInt(x, 16));
  return b[0] | (b[1] << 8) | (b[2] << 16) | (b[3] << 24);
}

const ifindexOf = (name: string) => {
  const l = link(lab, HV, name);
  if (!l) throw new Error(`${HV} has no link ${name}`);
  return l.ifindex;
};

/**
 * The entries `preview --diff` marks as added (+), removed (-) or changed (~). It lists
 * every entry of an updated table (its whole inputs, as for any resource) and marks those.
 */
function markedEntries(stdout: string): string[] {
  return stdout.split("\n").filter((l) => /^\s*[-+~] \d+\/52:54:01:/.test(l)).map((l) => l.trim());
}

test(`an FdbTable of ${N} entries: up, one entry moved, one changed by hand, destroy, beside other owners' entries`, async () => {
  // The table's neighbours first: this stack's FdbEntry (and the l2fwd map, taps), another
  // stack's FdbEntry, an entry made by hand.
  const a = await newStack({ count: "0" });
  await run(a, ["up"]);
  const b = await newStack({ attach: "false", count: "0", entryMac: "02:00:00:00:00:02" });
  await run(b, ["up"]);
  lab.hostExec(HV, "bpftool", ["map", "update", "pinned", FDB, "key", ...keyHex(7, "02:00:00:00:00:07").split(" "), "value", "1", "0", "0", "0", "0", "0", "0", "0"]);
  const before = { fdb: mapDump(FDB), ports: mapDump(PORTS) };
  expect(before.fdb.size).toBe(3);
  const tapA = ifindexOf("fte-a");
  const tapB = ifindexOf("fte-b");

  await project.setConfig(a, "count", String(N));
  const up = await run(a, ["up"]);
  expect(up.ops).toEqual({ uplink: "same", "fte-a": "same", "fte-b": "same", fdb: "create", entry: "same" });
  let dump = mapDump(FDB);
  expect(dump.size).toBe(N + 3);
  expect(targetOf(dump, 100, macOf(0))).toBe(tapA);
  expect(targetOf(dump, 101, macOf(1))).toBe(tapB);
  expect((await project.outputs(a)).count).toBe(N);

  // One entry moved: previewed as that one entry, applied as one update of the table.
  await project.setConfig(a, "move", "5");
  const preview = await project.pulumiOk(["preview", "--diff", "--stack", a]);
  expect(markedEntries(preview.stdout)).toEqual([`~ 101/${macOf(5)}: "fte-b" => "fte-a"`]);
  const moved = await run(a, ["up"]);
  expect(moved.ops).toEqual({ uplink: "same", "fte-a": "same", "fte-b": "same", fdb: "update", entry: "same" });
  dump = mapDump(FDB);
  expect(targetOf(dump, 101, macOf(5))).toBe(tapA);
  expect(dump.size).toBe(N + 3);

  // One entry changed by hand: refresh finds that entry, up puts it back.
  lab.hostExec(HV, "bpftool", ["map", "update", "pinned", FDB, "key", ...keyHex(102, macOf(6)).split(" "), "value", String(tapB & 0xff), String((tapB >> 8) & 0xff), "0", "0", "0", "0", "0", "0"]);
  const found = await project.pulumiOk(["refresh", "--preview-only", "--diff", "--stack", a]);
  expect(markedEntries(found.stdout)).toEqual([`~ 102/${macOf(6)}: "fte-a" => "fte-b"`]);
  const refresh = await run(a, ["refresh"]);
  expect(refresh.ops).toMatchObject({ fdb: "update", entry: "same" });
  const state = await project.exportState(a);
  const fdbState = state.deployment.resources.find((r) => String(r.urn).endsWith("::fdb"))!;
  expect(fdbState.outputs.entries[`102/${macOf(6)}`]).toBe("fte-b");
  expect(fdbState.outputs.entries[`103/${macOf(7)}`]).toBe("fte-b");
  const drift = await project.pulumiOk(["preview", "--stack", a]);
  expect(drift.stdout).toMatch(/~ 1 to update/);
  const repaired = await run(a, ["up"]);
  expect(repaired.ops).toMatchObject({ fdb: "update", entry: "same" });
  expect(targetOf(mapDump(FDB), 102, macOf(6))).toBe(tapA);

  // The other stack's entry, this stack's FdbEntry and the hand-made one never moved.
  dump = mapDump(FDB);
  for (const k of before.fdb.keys()) expect(dump.get(k)).toBe(before.fdb.get(k));

  // Destroying the table alone leaves the map and its ports as they were before it.
  const urn = String(fdbState.urn);
  const destroy = await project.pulumiOk(["destroy", "--yes", "--skip-preview", "--stack", a, "--target", urn]);
  expect({ fdb: mapDump(FDB), ports: mapDump(PORTS) }).toEqual(before);

  console.log(`FdbTable of ${N}: up ${up.ms} ms, one-entry update ${moved.ms} ms, refresh ${refresh.ms} ms, destroy ${destroy.ms} ms`);
});
