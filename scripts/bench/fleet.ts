// Fleet benchmark: HOSTS lab hosts × RESOURCES resources each (one l2fwd XdpProgram on the
// uplink and RESOURCES-1 FdbEntry resources in its table), brought up three ways through
// the fleet runner (sdk/fleet.ts, Automation API, the real Pulumi CLI):
//   sharded   shards of SHARD-SIZE hosts, no canary, at each CONCURRENCY (shards in flight)
//   single    the same resources in one stack
//   floor     sharded the same way, but every resource is a no-op dynamic resource: what
//             Pulumi itself costs for that many resources and stacks (engine, program,
//             checkpoints), with no host work at all
// Each variant is destroyed (untimed) before the next. Targets: single / sharded ≥ 3 and
// sharded / floor ≤ 1.2. An untimed warm-up deploys the helper bundle to every host first.
// The lab and the temp project are removed at the end.
//
// Build and run (root, after `make build`):
//   node_modules/.bin/esbuild scripts/bench/fleet.ts --bundle --platform=node --packages=external --outfile=dist/bench/fleet.js
//   node dist/bench/fleet.js OUTFILE [--rounds N] [--hosts 50] [--resources 20] [--shard-size 10]
//        [--concurrency 1,2,5] [--lab-name NAME]
import { mkdtempSync, readFileSync, rmSync } from "node:fs";
import { cpus, loadavg, tmpdir } from "node:os";
import * as path from "node:path";
import { runFleet, type FleetOperation, type FleetResult } from "../../sdk/fleet";
import { labUp } from "../../test/support/lab";
import { NOOP_RESOURCE_JS, writeBenchProject } from "./pulumi-project";
import { Cleanups, fmt, median, msSince, parseArgs, runBenchmark, type Verdict } from "./common";


// Plain JavaScript: a TypeScript program would add the same compile time to every shard of every variant.
const PROGRAM = `"use strict";
const pulumi = require("@pulumi/pulumi");
const hvnet = require("@hvnet/pulumi");

${NOOP_RESOURCE_JS}

// The same inputs for hvnet's resources and the floor's.
const xdpArgs = (t) => ({ host: t.host, device: t.uplink, program: "l2fwd" });
const fdbArgs = (t, xdp, i) => ({
  host: t.host, table: pulumi.interpolate\`\${xdp.pinDir}/maps/fdb\`, vlan: 7,
  mac: "02:42:00:00:" + (i >> 8).toString(16).padStart(2, "0") + ":" + (i & 0xff).toString(16).padStart(2, "0"),
  device: t.uplink,
});

module.exports = async () => {
  const config = new pulumi.Config();
  const per = config.requireNumber("resources");
  const noop = config.getBoolean("noop") === true;
  for (const t of await hvnet.stackTargets()) {
    if (noop) {
      const first = new Noop(t.name + "-uplink", { ...xdpArgs(t), pinDir: "/sys/fs/bpf/hvnet/xdp/root/" + t.uplink });
      for (let i = 1; i < per; i++) new Noop(t.name + "-fdb" + i, fdbArgs(t, first, i));
      continue;
    }
    const xdp = new hvnet.XdpProgram(t.name + "-uplink", xdpArgs(t));
    for (let i = 1; i < per; i++) new hvnet.FdbEntry(t.name + "-fdb" + i, fdbArgs(t, xdp, i));
  }
};
`;

interface Sizes {
  hosts: number;
  resources: number;
  shardSize: number;
  /** Shards in flight: each is a sharded variant (and its floor). */
  concurrency: number[];
  rounds: number;
  labName?: string;
}

/**
 * CPU seconds used so far: by the runner's side (this process's finished descendants: the
 * Pulumi CLI, its language hosts and providers) and by the whole machine (the lab hosts'
 * sshd and helpers included, which on a real fleet run on the hypervisors). USER_HZ is 100.
 */
function cpuSeconds(): { runner: number; machine: number } {
  const self = readFileSync("/proc/self/stat", "utf8");
  const fields = self.slice(self.lastIndexOf(")") + 2).split(" "); // from field 3 (state) on
  const runner = (Number(fields[13]) + Number(fields[14])) / 100; // cutime, cstime
  const [user, nice, system, , , irq, softirq, steal] = readFileSync("/proc/stat", "utf8").split("\n")[0].trim().split(/\s+/).slice(1).map(Number);
  return { runner, machine: (user + nice + system + irq + softirq + steal) / 100 };
}

function makeProject(root: string): string {
  const dir = path.join(root, "fleet-bench");
  writeBenchProject(dir, "hvnet-fleet-bench", PROGRAM);
  return dir;
}

async function body(cleanups: Cleanups, s: Sizes) {
  const root = mkdtempSync(path.join(tmpdir(), "hvfleet-bench-"));
  cleanups.add("temp project", () => rmSync(root, { recursive: true, force: true }));
  const lab = await labUp({ hosts: s.hosts, name: s.labName });
  cleanups.add(`lab ${lab.name}`, () => lab.down());
  const projectDir = makeProject(root);
  const backendUrl = `file://${path.join(root, "state")}`;
  const run = async (operation: FleetOperation, prefix: string, shardSize: number, concurrency: number, noop: boolean): Promise<{ ms: number; r: FleetResult }> => {
    const t0 = process.hrtime.bigint();
    const r = await runFleet({
      projectDir, inventory: path.join(lab.dir, "inventory.json"), shardBy: { size: shardSize }, operation, canary: false,
      concurrency, stackPrefix: prefix, backendUrl, config: { resources: String(s.resources), noop: String(noop) },
    });
    const ms = msSince(t0);
    if (!r.ok) throw new Error(`${prefix} ${operation}: shard ${r.failed} failed: ${r.shards.find((x) => x.shard === r.failed)?.error}`);
    return { ms, r };
  };
  const created = (r: FleetResult) => r.shards.reduce((n, sh) => n + Object.values(sh.perHost).reduce((m, p) => m + (p.ops.create ?? 0), 0), 0);
  // One stack, then hvnet and the floor sharded at each concurrency.
  const variant = (name: string, stacks: number, shardSize: number, concurrency: number, noop: boolean): Variant =>
    ({ name, stacks, shardSize, concurrency, noop, times: [], loads: [], runnerCpu: [], machineCpu: [] });
  const variants: Variant[] = [variant("one stack", 1, s.hosts, 1, false)];
  const shards = Math.ceil(s.hosts / s.shardSize);
  for (const c of s.concurrency) {
    variants.push(variant(`sharded, ${c} in flight`, shards, s.shardSize, c, false));
    variants.push(variant(`no-op floor, sharded, ${c} in flight`, shards, s.shardSize, c, true));
  }
  // Every variant meets hosts that already run the deployed helper bundle: a first
  // contact's upload and install (the runtime benchmark's first row) would fall on
  // whichever variant ran first.
  await run("up", "warmup", s.shardSize, Math.max(...s.concurrency), false);
  await run("destroy", "warmup", s.shardSize, Math.max(...s.concurrency), false);
  for (let round = 0; round < s.rounds; round++) {
    for (const [i, v] of variants.entries()) {
      v.loads.push(loadavg()[0]);
      const prefix = `v${i}`;
      const cpu0 = cpuSeconds();
      const up = await run("up", prefix, v.shardSize, v.concurrency, v.noop);
      const cpu1 = cpuSeconds();
      v.runnerCpu.push(cpu1.runner - cpu0.runner);
      v.machineCpu.push(cpu1.machine - cpu0.machine);
      const want = s.hosts * s.resources;
      // The noop resources are not attributed to hosts by id; count them by name like the others.
      if (created(up.r) !== want) throw new Error(`${v.name}: ${created(up.r)} creates reported, expected ${want}`);
      v.times.push(up.ms);
      process.stderr.write(`fleet bench round ${round + 1}: ${v.name} up ${fmt(up.ms / 1000)} s\n`);
      await run("destroy", prefix, v.shardSize, v.concurrency, v.noop);
    }
  }
  const single = median(variants[0].times);
  const lines = [
    `A ${s.hosts}-host namespace lab (scripts/lab.sh), ${s.resources} resources per host (one l2fwd XdpProgram, ${s.resources - 1} FdbEntry in its table): ${fmt(s.hosts * s.resources, 0)} resources, on this machine's ${cpus().length} CPUs: every engine, provider, sshd and helper shares them.`,
    `Each variant ran \`up\` through the fleet runner (Automation API, the Pulumi CLI v${require("@pulumi/pulumi/package.json").version}, a local file backend, no canary), then \`destroy\` (untimed). Before the first, an untimed sharded \`up\` and \`destroy\` deployed the helper bundle to every host, so no variant pays a first contact.`,
    `Sharded: ${shards} shards of ${s.shardSize} hosts, at each concurrency. Floor: the same shards with a no-op dynamic resource given the same inputs in place of every hvnet resource (stored the way hvnet stores its own: a one-line provider module, the host as a plain reference).`,
    `CPU: seconds of CPU time during each \`up\`, medians. Runner: the Pulumi CLI, its language hosts and providers (what a machine running the fleet pays). All: every CPU of this machine, so also the lab hosts' sshd and helpers, which on a real fleet run on the hypervisors, and anything else running.`,
    `Medians of ${s.rounds} round(s). ${s.hosts < 50 ? `**Reduced size**: the target is stated for 50 hosts × 20 resources; this run used ${s.hosts} × ${s.resources}.` : ""}`,
    "",
    "| variant | stacks | up, s (median) | all rounds, s | one stack's time ÷ this | this ÷ the floor at the same concurrency | runner CPU s | all CPU s | load (1 min) before |",
    "|---|---:|---:|---|---:|---:|---:|---:|---|",
  ];
  const floorOf = (v: Variant) => variants.find((f) => f.noop && f.concurrency === v.concurrency && f.stacks === v.stacks);
  for (const v of variants) {
    const t = median(v.times);
    const floor = !v.noop && v.stacks > 1 ? floorOf(v) : undefined;
    lines.push(`| ${v.name} | ${v.stacks} | ${fmt(t / 1000)} | ${v.times.map((x) => fmt(x / 1000)).join(", ")} | ${fmt(single / t, 2)}× | ${floor ? `${fmt(t / median(floor.times), 2)}×` : ""} | ${fmt(median(v.runnerCpu))} | ${fmt(median(v.machineCpu))} | ${v.loads.map((l) => l.toFixed(2)).join(", ")} |`);
  }
  const sharded = variants.filter((v) => !v.noop && v.stacks > 1);
  const best = sharded.reduce((a, b) => (median(a.times) <= median(b.times) ? a : b));
  const bestFloor = floorOf(best)!;
  const verdicts: Verdict[] = [
    { what: `one stack / sharded (fastest: ${best.concurrency} in flight)`, target: "≥ 3.0×", value: `${fmt(single / median(best.times), 2)}×`, ok: single / median(best.times) >= 3 },
    { what: `sharded / no-op floor (${best.concurrency} in flight)`, target: "≤ 1.20×", value: `${fmt(median(best.times) / median(bestFloor.times), 2)}×`, ok: median(best.times) / median(bestFloor.times) <= 1.2 },
  ];
  return { lines, verdicts };
}

interface Variant {
  name: string;
  stacks: number;
  shardSize: number;
  concurrency: number;
  noop: boolean;
  times: number[];
  loads: number[];
  /** CPU seconds of each up: the runner's side, and the whole machine's. */
  runnerCpu: number[];
  machineCpu: number[];
}

const USAGE = "node dist/bench/fleet.js OUTFILE [--rounds N] [--hosts N] [--resources N] [--shard-size N] [--concurrency 1,2,5] [--lab-name NAME]";
const opts = parseArgs(process.argv.slice(2), USAGE, ["hosts", "resources", "shard-size", "concurrency", "lab-name"], 1);
const num = (k: string, d: number) => {
  const v = Number(opts.flags.get(k) ?? d);
  if (!Number.isInteger(v) || v < 1) throw new Error(`--${k} must be a whole number >= 1`);
  return v;
};
const sizes: Sizes = {
  hosts: num("hosts", 50), resources: num("resources", 20), shardSize: num("shard-size", 10),
  concurrency: (opts.flags.get("concurrency") ?? "1,2,5").split(",").map((c) => {
    const v = Number(c);
    if (!Number.isInteger(v) || v < 1) throw new Error(`--concurrency must be a comma-separated list of whole numbers >= 1, not ${JSON.stringify(c)}`);
    return v;
  }),
  rounds: opts.rounds, labName: opts.flags.get("lab-name"),
};
void runBenchmark("Fleet: sharded stacks vs one stack vs the no-op floor", opts.out, (cleanups) => body(cleanups, sizes));
