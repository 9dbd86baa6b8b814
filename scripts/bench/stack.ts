// Stack benchmark: what `pulumi up / refresh / destroy` of N FdbEntry costs through the real
// Pulumi CLI (local file backend), against the engine's own floor: the same
// program with a no-op dynamic resource given the same inputs. Both stacks live in one temp
// project with the packed package installed, run one after the other for each operation
// (interleaved, the order alternating), so machine load hits both alike. One lab host.
//
// Usage (root): node dist/bench/stack.js OUTFILE [--sizes 200,1000,2000] [--rounds N]
//               [--lab-name NAME] [--svg PATH] [--checkpoints every-step|final]
// --checkpoints final runs both stacks with PULUMI_SKIP_CHECKPOINTS=true (README "Large
// stacks"): the file backend then writes the checkpoint once, when the command ends.
import { mkdtempSync, readFileSync, rmSync, statSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import * as path from "node:path";
import { labUp } from "../../test/support/lab";
import { BenchProject, load1, NOOP_RESOURCE_JS, writeBenchProject, type Wire } from "./pulumi-project";
import { atMost, Cleanups, fmt, fmtInt, lineChartSvg, median, parseArgs, runBenchmark, Verdict } from "./common";

const REPO = path.resolve(__dirname, "..", "..");
const OPS = ["up", "refresh", "destroy"] as const;
type Op = (typeof OPS)[number];
const KINDS = ["hvnet", "noop"] as const;
type Kind = (typeof KINDS)[number];
/** The issue's targets: ratio to the floor, per operation. */
const TARGET_RATIO: Record<Op, number> = { up: 1.15, refresh: 1.2, destroy: 1.15 };

// The program both stacks run: config `kind` picks hvnet resources or the no-op ones, with
// the same inputs (the host a secret, as the SDK makes it) and the same resource count.
const PROGRAM = `"use strict";
const pulumi = require("@pulumi/pulumi");
const hvnet = require("@hvnet/pulumi");
const cfg = new pulumi.Config();
const n = cfg.requireNumber("n");
const kind = cfg.require("kind");
${NOOP_RESOURCE_JS}
const mac = (i) => ["02", "42", (i >> 16) & 255, (i >> 8) & 255, i & 255, "01"]
  .map((b) => (typeof b === "string" ? b : b.toString(16).padStart(2, "0"))).join(":");
module.exports = async () => {
  const [t] = await hvnet.stackTargets();
  const xdpArgs = { host: t.host, device: t.uplink, program: "l2fwd" };
  const xdp = kind === "hvnet" ? new hvnet.XdpProgram("uplink", xdpArgs) : new Noop("uplink", { ...xdpArgs, pinDir: "/sys/fs/bpf/hvnet/xdp/root/" + t.uplink });
  const table = pulumi.interpolate\`\${xdp.pinDir}/maps/fdb\`;
  for (let i = 0; i < n; i++) {
    const args = { host: t.host, table, vlan: 100, mac: mac(i), device: t.uplink };
    if (kind === "hvnet") new hvnet.FdbEntry("e" + i, args);
    else new Noop("e" + i, args);
  }
};
`;

interface StateBytes {
  checkpoint: number;
  resource: number;
}

interface Run {
  ms: number;
  load: number;
  wire?: Wire;
}

type Checkpoints = "every-step" | "final";

class Project extends BenchProject {
  /**
   * Bytes per resource: of the checkpoint file the backend writes (after every step, unless skipped)
   * (compact JSON; all resources, the stack's own included), and of our resources'
   * entries in `pulumi stack export` taken as compact JSON.
   */
  async stateBytes(stack: string, n: number): Promise<StateBytes> {
    const { out } = await this.pulumi(["stack", "export", "--stack", stack]);
    const text = out.slice(0, out.lastIndexOf("}") + 1);
    const resources = (JSON.parse(text) as { deployment: { resources: Array<{ type: string }> } }).deployment.resources;
    const ours = resources.filter((r) => r.type.startsWith("pulumi-nodejs:dynamic/"));
    if (ours.length !== n + 1) throw new Error(`${stack}: the export holds ${ours.length} dynamic resources, expected ${n + 1}`);
    const file = path.join(this.stateDir, ".pulumi", "stacks", "hvnet-bench-stack", `${stack}.json`);
    return {
      checkpoint: statSync(file).size / resources.length,
      resource: ours.reduce((sum, r) => sum + JSON.stringify(r).length, 0) / ours.length,
    };
  }
}

async function makeProject(c: Cleanups, inventory: string, checkpoints: Checkpoints): Promise<Project> {
  const root = mkdtempSync(path.join(tmpdir(), "hvbench-stack-"));
  c.add(`project ${root}`, () => rmSync(root, { recursive: true, force: true }));
  const dir = path.join(root, "stack");
  writeBenchProject(dir, "hvnet-bench-stack", PROGRAM);
  const project = new Project(dir, path.join(root, "state"), { PULUMI_SKIP_CHECKPOINTS: checkpoints === "final" ? "true" : "false" });
  await project.initStacks(Object.fromEntries(KINDS.map((kind) => [kind, { kind, "hvnet:inventory": inventory }])));
  // Whatever happens, nothing of a stack stays on the lab host (the lab goes anyway).
  c.add("stacks", async () => {
    for (const kind of KINDS) await project.pulumi(["destroy", "--yes", "--skip-preview", "--stack", kind]).catch(() => undefined);
  });
  return project;
}

type Results = Map<number, Record<Op, Record<Kind, Run[]>>>;

async function measure(project: Project, sizes: number[], rounds: number): Promise<{ results: Results; bytes: Map<number, Record<Kind, StateBytes>> }> {
  const results: Results = new Map();
  const bytes = new Map<number, Record<Kind, StateBytes>>();
  let flip = false;
  for (const n of sizes) {
    const r = { up: { hvnet: [], noop: [] }, refresh: { hvnet: [], noop: [] }, destroy: { hvnet: [], noop: [] } } as Record<Op, Record<Kind, Run[]>>;
    results.set(n, r);
    for (const kind of KINDS) await project.pulumi(["config", "set", "--stack", kind, "n", String(n)]);
    for (let round = 0; round < rounds; round++) {
      for (const op of OPS) {
        // Alternate who goes first: a warm page cache or a burst of load favours neither.
        const order: Kind[] = flip ? ["noop", "hvnet"] : ["hvnet", "noop"];
        flip = !flip;
        for (const kind of order) {
          const load = load1();
          const args = op === "refresh" ? ["refresh", "--yes", "--skip-preview", "--stack", kind] : [op, "--yes", "--skip-preview", "--stack", kind];
          project.takeStats();
          const { ms } = await project.pulumi(args);
          // The provider writes its counters once its requests settle (100 ms).
          await new Promise((res) => setTimeout(res, 300));
          r[op][kind].push({ ms, load: (load + load1()) / 2, wire: project.takeStats() });
          process.stderr.write(`stack bench: N=${n} ${op} ${kind}: ${fmt(ms / 1000, 1)} s (load ${fmt(load1(), 2)})\n`);
          if (op === "up" && round === 0) {
            const b = bytes.get(n) ?? ({} as Record<Kind, StateBytes>);
            b[kind] = await project.stateBytes(kind, n);
            bytes.set(n, b);
          }
        }
      }
    }
  }
  return { results, bytes };
}

const medMs = (runs: Run[]) => median(runs.map((x) => x.ms));
const medLoad = (runs: Run[]) => median(runs.map((x) => x.load));

function curve(results: Results): string {
  const sizes = [...results.keys()];
  const colours: Record<Op, string> = { up: "#1f77b4", refresh: "#2ca02c", destroy: "#d62728" };
  const series = OPS.flatMap((op) => KINDS.map((kind) => ({
    name: `${op} ${kind === "hvnet" ? "hvnet" : "no-op floor"}`,
    colour: colours[op],
    dashed: kind === "noop",
    points: sizes.map((n) => ({ x: n, y: medMs(results.get(n)![op][kind]) / 1000 })),
  })));
  return lineChartSvg({ title: "pulumi up / refresh / destroy of N FdbEntry vs the no-op floor", xLabel: "N resources", yLabel: "seconds", series });
}

async function body(c: Cleanups, o: { sizes: number[]; rounds: number; labName?: string; svg: string; checkpoints: Checkpoints }): Promise<{ lines: string[]; verdicts: Verdict[] }> {
  if (process.getuid?.() !== 0) throw new Error("the benchmark needs root (the lab makes namespaces and runs sshd)");
  const lab = await labUp({ hosts: 1, name: o.labName });
  c.add(`lab ${lab.name}`, () => lab.down());
  const project = await makeProject(c, path.join(lab.dir, "inventory.json"), o.checkpoints);
  const startLoad = readFileSync("/proc/loadavg", "utf8").split(" ").slice(0, 3).join(" ");
  const { results, bytes } = await measure(project, o.sizes, o.rounds);
  writeFileSync(o.svg, curve(results));

  const rel = path.relative(REPO, o.svg);
  const lines = [
    `The real Pulumi CLI (${"`scripts/pulumi`"}, local file backend, ${o.checkpoints === "final" ? "checkpoint written once at the end (PULUMI_SKIP_CHECKPOINTS=true)" : "checkpoint rewritten after every step"}, default parallelism) runs one program in two stacks of ` +
      `one temp project with the packed package installed: **hvnet** (an XdpProgram l2fwd and N FdbEntry on one lab host) and the ` +
      `**no-op floor** (N + 1 no-op dynamic resources given the same inputs, the host as the plain reference hvnet keeps of a host the ` +
      `config gives and a one-line provider module like hvnet's; create returns its inputs, read returns its state, delete does nothing). For each N the two stacks run up, refresh and destroy one after the other, interleaved, ` +
      `the order alternating, ${o.rounds} round(s); times are wall-clock of the whole command (medians when more than one round). ` +
      `The last column is what the hvnet provider process sent its host (HVNET_POOL_STATS): resource requests, and the helper ` +
      `messages they went out as (batch messages among them): reads and writes issued together share a message. ` +
      `The machine is shared: the load average (1 min, mean of before and after each run) is in every row; ratios compare ` +
      `runs made next to each other, so load moves both sides, but a burst during one run shows as noise. Load when it started: ${startLoad}.`,
    "",
    `![the curve](${rel})`,
    "",
    "| N | operation | hvnet s | no-op floor s | ratio | load (hvnet / floor) | hvnet requests → helper messages (batches) |",
    "|---:|---|---:|---:|---:|---|---|",
  ];
  const verdicts: Verdict[] = [];
  for (const [n, r] of results) {
    for (const op of OPS) {
      const h = medMs(r[op].hvnet);
      const f = medMs(r[op].noop);
      const w = r[op].hvnet[0].wire;
      const wire = w ? `${fmtInt(w.requests)} → ${fmtInt(w.messages)} (${fmtInt(w.batches)})` : "—";
      lines.push(`| ${fmtInt(n)} | ${op} | ${fmt(h / 1000, 1)} | ${fmt(f / 1000, 1)} | ${fmt(h / f, 2)}× | ${fmt(medLoad(r[op].hvnet), 2)} / ${fmt(medLoad(r[op].noop), 2)} | ${wire} |`);
      if (n === Math.max(...o.sizes)) verdicts.push(atMost(`${op} of ${fmtInt(n)} FdbEntry, ratio to the no-op floor`, h / f, TARGET_RATIO[op], "×", 2, 2));
    }
  }
  lines.push(
    "",
    "State per resource after up: the checkpoint file the file backend writes (compact JSON) over all the " +
      "stack's resources, and each dynamic resource's entry of `pulumi stack export` as compact JSON (the export itself is " +
      "pretty-printed, about 1 KB of indentation more per resource).",
    "",
    "| N | hvnet checkpoint / resource | no-op checkpoint / resource | hvnet resource | no-op resource |",
    "|---:|---:|---:|---:|---:|",
  );
  for (const [n, b] of bytes) lines.push(`| ${fmtInt(n)} | ${fmtInt(b.hvnet.checkpoint)} | ${fmtInt(b.noop.checkpoint)} | ${fmtInt(b.hvnet.resource)} | ${fmtInt(b.noop.resource)} |`);
  const biggest = bytes.get(Math.max(...o.sizes));
  if (biggest) verdicts.push(atMost("state per FdbEntry (checkpoint bytes / resources)", biggest.hvnet.checkpoint, 2048, "bytes", 0));
  return { lines, verdicts };
}

const USAGE = "node dist/bench/stack.js OUTFILE [--sizes 200,1000,2000] [--rounds N] [--lab-name NAME] [--svg PATH] [--checkpoints every-step|final]";
const opts = parseArgs(process.argv.slice(2), USAGE, ["sizes", "lab-name", "svg", "checkpoints"], 1);
const checkpoints = opts.flags.get("checkpoints") ?? "every-step";
if (checkpoints !== "every-step" && checkpoints !== "final") throw new Error(`--checkpoints must be every-step or final\nusage: ${USAGE}`);
const sizes = (opts.flags.get("sizes") ?? "200,1000,2000").split(",").map(Number);
if (!sizes.every((n) => Number.isInteger(n) && n >= 1 && n <= 60_000)) throw new Error("--sizes must be a comma-separated list of integers 1 … 60,000");
void runBenchmark("Stack: pulumi up / refresh / destroy vs the no-op floor", opts.out, (c) =>
  body(c, { sizes, rounds: opts.rounds, labName: opts.flags.get("lab-name"), svg: path.resolve(opts.flags.get("svg") ?? path.join(REPO, "docs", "bench", "stack-curve.svg")), checkpoints }),
);
