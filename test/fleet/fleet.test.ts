// The fleet runner against a 6-host namespace lab, through the Automation API and the real
// Pulumi CLI: examples/fleet as the project, three shard stacks of two hosts cut by a
// "rack" label. The canary shard runs alone first, the others run side by side, a failing
// shard stops the ones not yet started (and `hvnet fleet` exits 1 naming it), and destroy
// leaves every host as it was.
import { readFileSync, readdirSync, writeFileSync } from "node:fs";
import path from "node:path";
import { labUp, type Lab } from "../support/lab";
import { requireCommand, requireRoot } from "../support/require-root";
import { hvnetTimes, link, snapshotAll, sshLogins, type HostSnapshot } from "../e2e/support/hosts";
import { ExampleProject, REPO } from "../e2e/support/project";
import { requireBuiltCli, runCli } from "../cli/support/run-cli";
import { runFleet, type FleetEvent } from "../../sdk/fleet";

jest.setTimeout(15 * 60_000);

let lab: Lab;
let project: ExampleProject;
let inventory: string;
let pristine: Record<string, HostSnapshot>;
let backendUrl: string;

const RACK: Record<string, string> = { hv1: "r1", hv2: "r1", hv3: "r2", hv4: "r2", hv5: "r3", hv6: "r3" };

beforeAll(async () => {
  requireRoot();
  requireCommand("bpftool");
  requireBuiltCli();
  lab = await labUp({ hosts: 6 });
  project = await ExampleProject.create("fleet");
  backendUrl = `file://${project.stateDir}`;
  // The lab's own inventory plus a rack label per host: what an operator's inventory holds.
  inventory = path.join(project.root, "fleet-inventory.json");
  writeFileSync(inventory, JSON.stringify({ hosts: lab.inventory.hosts.map((h) => ({ ...h, labels: { rack: RACK[h.name] } })) }));
  pristine = snapshotAll(lab);
}, 15 * 60_000);

afterAll(async () => {
  // Whatever a failed test left: destroy every shard stack, then the lab.
  if (project && lab) {
    await runFleet({ projectDir: project.dir, inventory, shardBy: { label: "rack" }, operation: "destroy", canary: false, backendUrl }).catch(() => undefined);
  }
  project?.remove();
  lab?.down();
});

function cli(args: string[]) {
  return runCli(["fleet", ...args, "--project", project.dir, "--inventory", inventory, "--shard-by", "rack"], { PULUMI_BACKEND_URL: backendUrl }, 10 * 60_000);
}

test("up: the canary shard alone first, then the other shards at the same time; per-host progress; destroy leaves the hosts clean", async () => {
  const events: Array<{ e: FleetEvent }> = [];
  const result = await runFleet({
    projectDir: project.dir, inventory, shardBy: { label: "rack" }, operation: "up", concurrency: 2, canary: "r2", backendUrl,
    onEvent: (e) => events.push({ e }),
  });
  expect(result.ok).toBe(true);
  expect(result.shards.map((s) => [s.shard, s.stack, s.status])).toEqual([
    ["r2", "fleet-r2", "succeeded"], ["r1", "fleet-r1", "succeeded"], ["r3", "fleet-r3", "succeeded"],
  ]);

  // Whatever fails below, the hosts are left clean for the tests after this one.
  try {
    const idx = (type: string, shard: string) => events.findIndex(({ e }) => e.type === type && ("shard" in e ? e.shard : e.result.shard) === shard);
    // The canary finished before any other shard started, and the two others were in flight
    // together: each started before the other ended. A runner taking shards one after another
    // would end the first before starting the second. (The runner's own order of events, not
    // timing: it holds whatever the load.)
    for (const sh of ["r1", "r2", "r3"]) expect([idx("shard-start", sh), idx("shard-end", sh)].every((i) => i >= 0)).toBe(true);
    expect(idx("shard-end", "r2")).toBeLessThan(Math.min(idx("shard-start", "r1"), idx("shard-start", "r3")));
    expect(idx("shard-start", "r3")).toBeLessThan(idx("shard-end", "r1"));
    expect(idx("shard-start", "r1")).toBeLessThan(idx("shard-end", "r3"));
    // And on the hosts: the canary's were done before either of the others was first touched.
    const span = (hosts: string[]) => {
      const t = hosts.flatMap((h) => hvnetTimes(lab, h));
      return { start: Math.min(...t), end: Math.max(...t) };
    };
    expect(span(["hv3", "hv4"]).end).toBeLessThan(Math.min(span(["hv1", "hv2"]).start, span(["hv5", "hv6"]).start));
    console.log(`fleet: up of 3 shards; canary r2 ${result.shards[0].ms} ms, r1 ${result.shards[1].ms} ms, r3 ${result.shards[2].ms} ms`);

    // Per-host progress: each host's three resources, attributed to it and its shard.
    for (const [h, rack] of Object.entries(RACK)) {
      const steps = events.flatMap(({ e }) => (e.type === "step" && e.host === h ? [e] : []));
      expect(steps.map((s) => `${s.shard} ${s.op} ${s.resource}`).sort()).toEqual([`${rack} create ${h}-uplink`, `${rack} create ${h}-vm1`, `${rack} create ${h}-vm1-fdb`]);
      expect(result.shards.find((s) => s.shard === rack)!.perHost[h].ops).toEqual({ create: 3 });
      expect(link(lab, h, "uplink0")?.xdp?.prog?.name).toBe("l2fwd");
      expect(link(lab, h, "tap-vm1")?.xdp?.prog?.name).toBe("vm_egress");
    }

    // Each shard stack holds its own hosts only, and the keys only as secrets.
    const key = readFileSync(lab.inventory.hosts[0].privateKeyPath, "utf8").split("\n")[1];
    for (const f of readdirSync(project.dir).filter((n) => /^Pulumi\.fleet-.*\.yaml$/.test(n))) expect(readFileSync(path.join(project.dir, f), "utf8")).not.toContain(key);
    const state = await project.exportState("fleet-r2");
    expect(state.text).not.toContain(key);
    const ids = state.deployment.resources.map((r) => String(r.id ?? "")).filter((id) => id.includes("/"));
    expect(new Set(ids.map((id) => id.split("/")[0]))).toEqual(new Set(["hv3", "hv4"]));

    // A preview of the applied fleet changes nothing.
    const preview = await cli(["preview", "--json"]);
    expect(preview.code).toBe(0);
    const planned = JSON.parse(preview.stdout) as { shards: Array<{ perHost: Record<string, { ops: Record<string, number> }> }> };
    for (const s of planned.shards) for (const p of Object.values(s.perHost)) expect(Object.keys(p.ops).filter((op) => op !== "same")).toEqual([]);

    const destroyed = await cli(["destroy", "--concurrency", "3"]);
    expect(destroyed.stderr).toBe("");
    expect(destroyed.code).toBe(0);
    for (const h of Object.keys(RACK)) expect(destroyed.stdout).toMatch(new RegExp(`^\\[${RACK[h]}\\] ${h}: 3 deleted$`, "m"));
    expect(destroyed.stdout).toMatch(/shard[\s│]+stack[\s│]+host[\s│]+result[\s│]+changes[\s│]+seconds/);
    const after = snapshotAll(lab);
    for (const h of Object.keys(RACK)) expect(after[h]).toEqual(pristine[h]);
  } catch (err) {
    await runFleet({ projectDir: project.dir, inventory, shardBy: { label: "rack" }, operation: "destroy", canary: false, backendUrl }).catch(() => undefined);
    throw err;
  }
});

test("a failing shard stops the shards not yet started: hvnet fleet up exits 1 naming the shard and the host", async () => {
  // Someone else's XDP program on hv3's uplink (shard r2): hvnet refuses to take it over.
  const pin = "/sys/fs/bpf/hvt-foreign";
  lab.hostExec("hv3", "bpftool", ["prog", "load", `${REPO}/dist/bpf/pass.o`, pin, "type", "xdp"]);
  lab.hostExec("hv3", "bpftool", ["net", "attach", "xdpgeneric", "pinned", pin, "dev", "uplink0"]);
  lab.hostExec("hv3", "rm", [pin]);
  try {
    const logins = Object.fromEntries(["hv5", "hv6"].map((h) => [h, sshLogins(lab, h)]));
    const r = await cli(["up", "--canary", "r1", "--concurrency", "1"]);
    expect(r.code).toBe(1);
    const lines = r.stderr.trim().split("\n");
    expect(lines).toHaveLength(1);
    expect(lines[0]).toMatch(/^hvnet: shard r2 \(stack fleet-r2\) failed: hv3: xdp.apply: uplink0 already has an XDP program .* that hvnet does not manage.*; not started: r3$/);
    expect(r.stdout).toMatch(/^\[r2\] hv3: FAILED create hv3-uplink/m);
    expect(r.stdout).toMatch(/^\[r3\] skipped: hv5, hv6$/m);
    expect(r.stdout).toMatch(/r3[\s│]+fleet-r3[\s│]+hv5[\s│]+skipped/);
    // The shard after the failed one never reached its hosts.
    for (const h of ["hv5", "hv6"]) {
      expect(sshLogins(lab, h)).toBe(logins[h]);
      expect(snapshotAll(lab)[h]).toEqual(pristine[h]);
    }
    expect(link(lab, "hv1", "uplink0")?.xdp?.prog?.name).toBe("l2fwd");
  } finally {
    lab.hostExec("hv3", "bpftool", ["net", "detach", "xdpgeneric", "dev", "uplink0"]);
  }
  const destroyed = await cli(["destroy", "--no-canary"]);
  expect(destroyed.code).toBe(0);
  const after = snapshotAll(lab);
  for (const h of Object.keys(RACK)) expect(after[h]).toEqual(pristine[h]);
});

test("a mis-keyed host fails its shard with one line naming the shard, the host and what to update", async () => {
  // hv2's entry pins hv1's host key: what an inventory holds after hv2 was reinstalled.
  const miskeyed = path.join(project.root, "miskeyed-inventory.json");
  const hosts = lab.inventory.hosts.map((h) => ({ ...h, labels: { rack: RACK[h.name] } }));
  hosts[1] = { ...hosts[1], hostKey: hosts[0].hostKey };
  writeFileSync(miskeyed, JSON.stringify({ hosts }));
  const r = await runCli(["fleet", "up", "--project", project.dir, "--inventory", miskeyed, "--shard-by", "rack", "--only", "r1"], { PULUMI_BACKEND_URL: backendUrl }, 10 * 60_000);
  expect(r.code).toBe(1);
  const lines = r.stderr.trim().split("\n");
  expect(lines).toHaveLength(1);
  expect(lines[0]).toMatch(/^hvnet: shard r1 \(stack fleet-r1\) failed: hv2: .*host key mismatch: expected SHA256:\S+, host presented .*update host\.hostKey\)$/);
  expect(r.stdout).toMatch(/r1[\s│]+fleet-r1[\s│]+hv2[\s│]+failed/);
  expect(r.stdout).not.toContain(readFileSync(lab.inventory.hosts[0].privateKeyPath, "utf8").split("\n")[1]);

  const destroyed = await cli(["destroy", "--only", "r1"]);
  expect(destroyed.code).toBe(0);
  const after = snapshotAll(lab);
  for (const h of Object.keys(RACK)) expect(after[h]).toEqual(pristine[h]);
});
