// FdbTable benchmark: one FdbTable of N entries through the real Pulumi CLI (local file
// backend, checkpoints on), up / one entry changed / refresh / destroy, against the engine's
// floor: the same program with no-op dynamic resources given the same inputs (the whole
// entry list included, so Pulumi's own cost of a large resource is in the floor too). Both
// stacks live in one temp project, run one after the other for each operation, the order
// alternating. One lab host; the entries go alternately to two VM taps, the changed entry
// moves to the other tap (an in-place change of one entry).
//
// Usage (root): node dist/bench/fdbtable.js OUTFILE [--sizes 1000,10000] [--rounds N] [--lab-name NAME]
import { mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import * as path from "node:path";
import { labUp } from "../../test/support/lab";
import { atMost, Cleanups, fmt, fmtInt, median, parseArgs, runBenchmark, Verdict } from "./common";
import { BenchProject, load1, NOOP_RESOURCE_JS, writeBenchProject } from "./pulumi-project";

const OPS = ["up", "update one entry", "refresh", "destroy"] as const;
type Op = (typeof OPS)[number];
const KINDS = ["hvnet", "noop"] as const;
type Kind = (typeof KINDS)[number];
/** The entry the update moves to the other tap. */
const MOVED = 7;

/** The targets for a table of 10,000 entries on one lab host, in seconds of the whole command. */
const TARGET_S: Partial<Record<Op, number>> = { up: 10, "update one entry": 5, refresh: 3 };

const PROGRAM = `"use strict";
const pulumi = require("@pulumi/pulumi");
const hvnet = require("@hvnet/pulumi");
const cfg = new pulumi.Config();
const n = cfg.requireNumber("n");
const kind = cfg.require("kind");
const moved = cfg.getNumber("moved");
${NOOP_RESOURCE_JS}
const TAPS = ["fbt-a", "fbt-b"];
const mac = (i) => "52:54:03:" + [(i >> 16) & 255, (i >> 8) & 255, i & 255].map((b) => b.toString(16).padStart(2, "0")).join(":");
module.exports = async () => {
  const [t] = await hvnet.stackTargets();
  const make = (Hv, name, args, opts) => (kind === "hvnet" ? new Hv(name, args, opts) : new Noop(name, args, opts));
  const xdpArgs = { host: t.host, device: t.uplink, program: "l2fwd" };
  const xdp = kind === "hvnet" ? new hvnet.XdpProgram("uplink", xdpArgs) : new Noop("uplink", { ...xdpArgs, pinDir: "/sys/fs/bpf/hvnet/xdp/root/" + t.uplink });
  const taps = TAPS.map((name, i) => make(hvnet.VmInterface, name, { host: t.host, name, vcpus: 1, mac: "52:54:04:00:00:0" + (i + 1), addresses: ["10.201.0." + (i + 1)] }));
  const entries = [];
  for (let i = 0; i < n; i++) entries.push({ vlan: 100 + (i % 4), mac: mac(i), device: TAPS[(i + (i === moved ? 1 : 0)) % 2] });
  make(hvnet.FdbTable, "fdb", { host: t.host, table: pulumi.interpolate\`\${xdp.pinDir}/maps/fdb\`, entries }, { dependsOn: taps });
};
`;

interface Run {
  ms: number;
  load: number;
}

type Results = Map<number, Record<Op, Record<Kind, Run[]>>>;

function commandOf(op: Op, stack: string): string[] {
  const yes = ["--yes", "--skip-preview", "--stack", stack];
  if (op === "update one entry") return ["up", ...yes];
  return [op, ...yes];
}

async function measure(project: BenchProject, sizes: number[], rounds: number): Promise<Results> {
  const results: Results = new Map();
  let flip = false;
  for (const n of sizes) {
    const r = Object.fromEntries(OPS.map((op) => [op, { hvnet: [], noop: [] }])) as unknown as Record<Op, Record<Kind, Run[]>>;
    results.set(n, r);
    for (let round = 0; round < rounds; round++) {
      for (const op of OPS) {
        const order: Kind[] = flip ? ["noop", "hvnet"] : ["hvnet", "noop"];
        flip = !flip;
        for (const kind of order) {
          await project.pulumi(["config", "set", "--stack", kind, "n", String(n)]);
          if (op === "up") await project.pulumi(["config", "rm", "--stack", kind, "moved"]).catch(() => undefined);
          if (op === "update one entry") await project.pulumi(["config", "set", "--stack", kind, "moved", String(MOVED)]);
          const load = load1();
          const { ms } = await project.pulumi(commandOf(op, kind));
          r[op][kind].push({ ms, load: (load + load1()) / 2 });
          process.stderr.write(`fdbtable bench: N=${n} ${op} ${kind}: ${fmt(ms / 1000, 1)} s (load ${fmt(load1(), 2)})\n`);
        }
      }
    }
  }
  return results;
}

const medMs = (runs: Run[]) => median(runs.map((x) => x.ms));
const medLoad = (runs: Run[]) => median(runs.map((x) => x.load));

async function body(c: Cleanups, o: { sizes: number[]; rounds: number; labName?: string }): Promise<{ lines: string[]; verdicts: Verdict[] }> {
  if (process.getuid?.() !== 0) throw new Error("the benchmark needs root (the lab makes namespaces and runs sshd)");
  const lab = await labUp({ hosts: 1, name: o.labName });
  c.add(`lab ${lab.name}`, () => lab.down());
  const root = mkdtempSync(path.join(tmpdir(), "hvbench-fdbtable-"));
  c.add(`project ${root}`, () => rmSync(root, { recursive: true, force: true }));
  const dir = path.join(root, "fdbtable");
  writeBenchProject(dir, "hvnet-bench-fdbtable", PROGRAM);
  const project = new BenchProject(dir, path.join(root, "state"));
  const inventory = path.join(lab.dir, "inventory.json");
  await project.initStacks(Object.fromEntries(KINDS.map((kind) => [kind, { kind, "hvnet:inventory": inventory }])));
  c.add("stacks", async () => {
    for (const kind of KINDS) await project.pulumi(["destroy", "--yes", "--skip-preview", "--stack", kind]).catch(() => undefined);
  });
  const startLoad = readFileSync("/proc/loadavg", "utf8").split(" ").slice(0, 3).join(" ");
  const results = await measure(project, o.sizes, o.rounds);

  const lines = [
    "The real Pulumi CLI (`scripts/pulumi`, local file backend, checkpoints on) runs one program in two stacks of one temp " +
      "project: **hvnet** (an XdpProgram l2fwd, two VmInterface taps and one FdbTable of N entries, VLANs 100–103, alternately " +
      "to the two taps, on one lab host) and the **no-op floor** (the same resources as no-op dynamic resources given the same " +
      "inputs, the whole entry list included). For each N: `up` creates everything, `update one entry` moves one entry to the " +
      "other tap (`up` again), `refresh`, `destroy`; the two stacks one after the other, the order alternating, " +
      `${o.rounds} round(s); wall-clock of the whole command. Load when it started: ${startLoad}.`,
    "",
    "| N entries | operation | hvnet s | no-op floor s | ratio | load (hvnet / floor) |",
    "|---:|---|---:|---:|---:|---|",
  ];
  const verdicts: Verdict[] = [];
  for (const [n, r] of results) {
    for (const op of OPS) {
      const h = medMs(r[op].hvnet);
      const f = medMs(r[op].noop);
      lines.push(`| ${fmtInt(n)} | ${op} | ${fmt(h / 1000, 1)} | ${fmt(f / 1000, 1)} | ${fmt(h / f, 2)}× | ${fmt(medLoad(r[op].hvnet), 2)} / ${fmt(medLoad(r[op].noop), 2)} |`);
      const target = TARGET_S[op];
      if (target !== undefined && n === 10_000) verdicts.push(atMost(`FdbTable of 10,000: ${op}`, h / 1000, target, "s", 1));
    }
  }
  return { lines, verdicts };
}

const USAGE = "node dist/bench/fdbtable.js OUTFILE [--sizes 1000,10000] [--rounds N] [--lab-name NAME]";
const opts = parseArgs(process.argv.slice(2), USAGE, ["sizes", "lab-name"], 1);
const sizes = (opts.flags.get("sizes") ?? "1000,10000").split(",").map(Number);
if (!sizes.every((n) => Number.isInteger(n) && n >= 1 && n <= 65_536)) throw new Error("--sizes must be a comma-separated list of integers 1 … 65,536");
void runBenchmark("FdbTable: pulumi up / update / refresh / destroy vs the no-op floor", opts.out, (c) =>
  body(c, { sizes, rounds: opts.rounds, labName: opts.flags.get("lab-name") }),
);
