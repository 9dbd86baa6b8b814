// A temp Pulumi project for the CLI benchmarks: a plain JavaScript program (a TypeScript one
// would add its compile time to every run) with the packed package installed, its stacks in a
// local file backend of its own, and the helper-message counters its provider processes
// write (HVNET_POOL_STATS, provider/runtime/pool.ts).
import { execFile, execFileSync } from "node:child_process";
import { mkdirSync, readdirSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import * as path from "node:path";

const REPO = path.resolve(__dirname, "..", "..");
const PULUMI = path.join(REPO, "scripts", "pulumi");
const PACK = path.join(REPO, "scripts", "pack-examples.sh");

/**
 * The packed package (scripts/pack-examples.sh puts it in ../.pack) and the @pulumi/pulumi the
 * repo pins, so the program runs the SDK the CLI was built for.
 */
function benchProjectDependencies(): Record<string, string> {
  const repoPackage = JSON.parse(readFileSync(path.join(REPO, "package.json"), "utf8")) as { dependencies: Record<string, string> };
  return { "@hvnet/pulumi": "file:../.pack/hvnet-pulumi.tgz", "@pulumi/pulumi": repoPackage.dependencies["@pulumi/pulumi"] };
}

/** Writes Pulumi.yaml, index.js and package.json into `dir` and installs the packed package there. */
export function writeBenchProject(dir: string, name: string, program: string): void {
  mkdirSync(dir, { recursive: true });
  writeFileSync(path.join(dir, "Pulumi.yaml"), `name: ${name}\nruntime: nodejs\nmain: index.js\n`);
  writeFileSync(path.join(dir, "index.js"), program);
  writeFileSync(path.join(dir, "package.json"), JSON.stringify({
    name, private: true, main: "index.js",
    dependencies: benchProjectDependencies(),
  }, null, 2));
  execFileSync(PACK, [dir], { cwd: REPO, stdio: ["ignore", "ignore", "inherit"] });
}

/**
 * The no-op floor's resource class `Noop`, as JavaScript for a bench program (which must have
 * `pulumi` in scope): a dynamic resource whose provider does nothing, stored the way hvnet
 * stores its own (a one-line provider module, the host as a plain reference), so a floor
 * given the same inputs differs from hvnet only in what the provider does.
 */
export const NOOP_RESOURCE_JS = `const NOOP = 'exports.handler=()=>({async create(i){return{id:String(i.mac||"x"),outs:i}},async read(id,props){return{id,props}},async update(id,o,n){return{outs:n}},async delete(){}})';
class Noop extends pulumi.CustomResource {
  constructor(name, { host, ...props }, opts) {
    super("pulumi-nodejs:dynamic/bench:Noop", name, { ...props, __host: { name: host.name, address: host.address }, __provider: NOOP }, opts);
  }
}`;

export function load1(): number {
  return Number(readFileSync("/proc/loadavg", "utf8").split(" ")[0]);
}

export function run(cmd: string, args: string[], cwd: string, env: NodeJS.ProcessEnv): Promise<{ code: number; out: string; ms: number }> {
  const t0 = Date.now();
  return new Promise((resolve) => {
    execFile(cmd, args, { cwd, env: { ...process.env, ...env }, encoding: "utf8", maxBuffer: 512 << 20, timeout: 3_600_000 }, (err, stdout, stderr) => {
      const code = err ? (typeof (err as { code?: unknown }).code === "number" ? (err as { code: number }).code : 1) : 0;
      resolve({ code, out: `${stdout}\n${stderr}`, ms: Date.now() - t0 });
    });
  });
}

/** What the provider processes of a command sent their hosts. */
export interface Wire {
  requests: number;
  messages: number;
  batches: number;
}

export class BenchProject {
  /** `env`: more environment for every command (e.g. PULUMI_SKIP_CHECKPOINTS). */
  constructor(readonly dir: string, readonly stateDir: string, private readonly env: NodeJS.ProcessEnv = {}) {}

  /** Prefix of the provider processes' counter files. */
  get statsPrefix(): string {
    return path.join(path.dirname(this.stateDir), "pool-stats");
  }

  /** What the provider processes of the last command sent: requests, helper messages, batch messages. Clears the counters. */
  takeStats(): Wire | undefined {
    const dir = path.dirname(this.statsPrefix);
    const files = readdirSync(dir).filter((f) => f.startsWith("pool-stats."));
    if (files.length === 0) return undefined;
    const sum: Wire = { requests: 0, messages: 0, batches: 0 };
    for (const f of files) {
      for (const line of readFileSync(path.join(dir, f), "utf8").split("\n").filter(Boolean)) {
        const s = JSON.parse(line) as Wire;
        sum.requests += s.requests;
        sum.messages += s.messages;
        sum.batches += s.batches;
      }
      rmSync(path.join(dir, f));
    }
    return sum;
  }

  async pulumi(args: string[]): Promise<{ out: string; ms: number }> {
    const r = await run(PULUMI, ["--non-interactive", "--color", "never", ...args], this.dir, { ...this.env, PULUMI_STATE_DIR: this.stateDir, HVNET_POOL_STATS: this.statsPrefix });
    if (r.code !== 0) throw new Error(`pulumi ${args.join(" ")} exited ${r.code}:\n${r.out.slice(-4000)}`);
    return r;
  }

  /** Creates each stack with its config (the lab inventory among it). */
  async initStacks(stacks: Record<string, Record<string, string>>): Promise<void> {
    for (const [stack, config] of Object.entries(stacks)) {
      await this.pulumi(["stack", "init", stack]);
      for (const [key, value] of Object.entries(config)) await this.pulumi(["config", "set", "--stack", stack, key, value]);
    }
  }
}
