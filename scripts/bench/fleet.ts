// Fleet benchmark: HOSTS lab hosts × RESOURCES resources each (one l2fwd XdpProgram on the
// uplink and RESOURCES-1 FdbEntry resources in its table), brought up three ways through
// the fleet runner (sdk/fleet.ts, Automation API, the real Pulumi CLI):
//   sharded   shards of SHARD-SIZE hosts, CONCURRENCY in flight, no canary
//   single    the same resources in one stack
//   floor     sharded the same way, but every resource is a no-op dynamic resource: what
//             Pulumi itself costs for that many resources and stacks (engine, program,
//             checkpoints), with no host work at all
// Each variant is destroyed (untimed) before the next. Targets: single / sharded ≥ 3 and
// sharded / floor ≤ 1.2. The lab and the temp project are removed at the end.
//
// Build and run (root, after `make build`):
//   node_modules/.bin/esbuild scripts/bench/fleet.ts --bundle --platform=node --packages=external --outfile=dist/bench/fleet.js
//   node dist/bench/fleet.js OUTFILE [--rounds N] [--hosts 50] [--resources 20] [--shard-size 10]
//        [--concurrency 5] [--lab-name NAME]
import { execFileSync } from "node:child_process";
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { loadavg, tmpdir } from "node:os";
import * as path from "node:path";
import { runFleet, type FleetOperation, type FleetResult } from "../../sdk/fleet";
import { labUp } from "../../test/support/lab";
import { benchProjectDependencies, Cleanups, fmt, median, msSince, parseArgs, runBenchmark, type Verdict } from "./common";

const REPO = path.resolve(__dirname, "../..");

// Plain JavaScript: a TypeScript program would add the same compile time to every shard of every variant.
const PROGRAM = `"use strict";
const pulumi = require("@pulumi/pulumi");
const hvnet = require("@hvnet/pulumi");

// The floor: a resource whose provider does nothing, so only Pulumi's own work remains.
const noopProvider = { async create(inputs) { return { id: inputs.key, outs: { path: "/noop/" + inputs.key } }; } };
class Noop extends pulumi.dynamic.Resource {
  constructor(name, args, opts) { super(noopProvider, name, { key: name, path: undefined, ...args }, opts); }
}

module.exports = async () => {
  const config = new pulumi.Config();
  const per = config.requireNumber("resources");
  const noop = config.getBoolean("noop") === true;
  for (const t of await hvnet.stackTargets()) {
    if (noop) {
      const first = new Noop(t.name + "-uplink", {});
      for (let i = 1; i < per; i++) new Noop(t.name + "-fdb" + i, { table: first.path });
      continue;
    }
    const xdp = new hvnet.XdpProgram(t.name + "-uplink", { host: t.host, device: t.uplink, program: "l2fwd" });
    for (let i = 1; i < per; i++) {
      new hvnet.FdbEntry(t.name + "-fdb" + i, {
        host: t.host, table: pulumi.interpolate\`\${xdp.pinDir}/maps/fdb\`, vlan: 7,
        mac: "02:42:00:00:" + (i >> 8).toString(16).padStart(2, "0") + ":" + (i & 0xff).toString(16).padStart(2, "0"),
        device: t.uplink,
      });
    }
  }
};
`;

interface Sizes {
  hosts: number;
  resources: number;
  shardSize: number;
  concurrency: number;
  rounds: number;
  labName?: string;
}

function makeProject(root: string): string {
  const dir = path.join(root, "fleet-bench");
  mkdirSync(dir, { recursive: true });
  writeFileSync(path.join(dir, "Pulumi.yaml"), "name: hvnet-fleet-bench\nruntime: nodejs\nmain: index.js\n");
  writeFileSync(path.join(dir, "index.js"), PROGRAM);
  writeFileSync(path.join(dir, "package.json"), JSON.stringify({
    name: "hvnet-fleet-bench", private: true, main: "index.js",
    dependencies: benchProjectDependencies(),
  }, null, 2));
  execFileSync(path.join(REPO, "scripts/pack-examples.sh"), [dir], { cwd: REPO, stdio: ["ignore", "ignore", "inherit"] });
  return dir;
}

async function body(cleanups: Cleanups, s: Sizes) {
  const root = mkdtempSync(path.join(tmpdir(), "hvfleet-bench-"));
  cleanups.add("temp project", () => rmSync(root, { recursive: true, force: true }));
  const lab = await labUp({ hosts: s.hosts, name: s.labName });
  cleanups.add(`lab ${lab.name}`, () => lab.down());
  const projectDir = makeProject(root);
  const backendUrl = `file://${path.join(root, "state")}`;
  const run = async (operation: FleetOperation, prefix: string, shardSize: number, noop: boolean): Promise<{ ms: number; r: FleetResult }> => {
    const t0 = process.hrtime.bigint();
    const r = await runFleet({
      projectDir, inventory: path.join(lab.dir, "inventory.json"), shardBy: { size: shardSize }, operation, canary: false,
      concurrency: s.concurrency, stackPrefix: prefix, backendUrl, config: { resources: String(s.resources), noop: String(noop) },
    });
    const ms = msSince(t0);
    if (!r.ok) throw new Error(`${prefix} ${operation}: shard ${r.failed} failed: ${r.shards.find((x) => x.shard === r.failed)?.error}`);
    return { ms, r };
  };
  const created = (r: FleetResult) => r.shards.reduce((n, sh) => n + Object.values(sh.perHost).reduce((m, p) => m + (p.ops.create ?? 0), 0), 0);
  const times: Record<"sharded" | "single" | "floor", number[]> = { sharded: [], single: [], floor: [] };
  const loads: string[] = [];
  for (let round = 0; round < s.rounds; round++) {
    for (const [name, shardSize, noop] of [["sharded", s.shardSize, false], ["single", s.hosts, false], ["floor", s.shardSize, true]] as const) {
      loads.push(loadavg().map((x) => x.toFixed(2)).join(" "));
      const up = await run("up", name, shardSize, noop);
      const want = s.hosts * s.resources;
      // The noop resources are not attributed to hosts by id; count them by name like the others.
      if (created(up.r) !== want) throw new Error(`${name}: ${created(up.r)} creates reported, expected ${want}`);
      times[name].push(up.ms);
      process.stderr.write(`fleet bench round ${round + 1}: ${name} up ${fmt(up.ms / 1000)} s\n`);
      await run("destroy", name, shardSize, noop);
    }
  }
  const sharded = median(times.sharded);
  const single = median(times.single);
  const floor = median(times.floor);
  const shards = Math.ceil(s.hosts / s.shardSize);
  const lines = [
    `A ${s.hosts}-host namespace lab (scripts/lab.sh), ${s.resources} resources per host (one l2fwd XdpProgram, ${s.resources - 1} FdbEntry in its table): ${fmt(s.hosts * s.resources, 0)} resources.`,
    `Each variant ran \`up\` through the fleet runner (Automation API, the Pulumi CLI v${require("@pulumi/pulumi/package.json").version}, a local file backend, no canary), then \`destroy\` (untimed).`,
    `Sharded: ${shards} shards of ${s.shardSize} hosts, ${s.concurrency} in flight. Floor: the same shards with a no-op dynamic resource in place of every hvnet resource.`,
    `Medians of ${s.rounds} round(s); load average (1, 5, 15 min) before each run: ${loads.join("; ")}. ${s.hosts < 50 ? `**Reduced size**: the target is stated for 50 hosts × 20 resources; this run used ${s.hosts} × ${s.resources} on a shared machine.` : ""}`,
    "",
    "| variant | stacks | up, s (median) | all rounds, s |",
    "|---|---:|---:|---|",
    `| sharded | ${shards} | ${fmt(sharded / 1000)} | ${times.sharded.map((t) => fmt(t / 1000)).join(", ")} |`,
    `| one stack | 1 | ${fmt(single / 1000)} | ${times.single.map((t) => fmt(t / 1000)).join(", ")} |`,
    `| no-op floor, sharded | ${shards} | ${fmt(floor / 1000)} | ${times.floor.map((t) => fmt(t / 1000)).join(", ")} |`,
  ];
  const verdicts: Verdict[] = [
    { what: "one stack / sharded", target: "≥ 3.0×", value: `${fmt(single / sharded, 2)}×`, ok: single / sharded >= 3 },
    { what: "sharded / no-op floor", target: "≤ 1.20×", value: `${fmt(sharded / floor, 2)}×`, ok: sharded / floor <= 1.2 },
  ];
  return { lines, verdicts };
}

const USAGE = "node dist/bench/fleet.js OUTFILE [--rounds N] [--hosts N] [--resources N] [--shard-size N] [--concurrency N] [--lab-name NAME]";
const opts = parseArgs(process.argv.slice(2), USAGE, ["hosts", "resources", "shard-size", "concurrency", "lab-name"], 1);
const num = (k: string, d: number) => {
  const v = Number(opts.flags.get(k) ?? d);
  if (!Number.isInteger(v) || v < 1) throw new Error(`--${k} must be a whole number >= 1`);
  return v;
};
const sizes: Sizes = {
  hosts: num("hosts", 50), resources: num("resources", 20), shardSize: num("shard-size", 10), concurrency: num("concurrency", 5),
  rounds: opts.rounds, labName: opts.flags.get("lab-name"),
};
void runBenchmark("Fleet (sharded stacks)", opts.out, (cleanups) => body(cleanups, sizes));
