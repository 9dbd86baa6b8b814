// An example project as a user runs it, for end-to-end tests: a temp copy of examples/<name>
// with @hvnet/pulumi installed from the `npm pack` tarball (scripts/pack-examples.sh), and
// the real Pulumi CLI (scripts/pulumi) on a local file backend private to the copy.
import { execFile } from "node:child_process";
import { cpSync, mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import path from "node:path";

export const REPO = path.resolve(__dirname, "../../..");
const PULUMI = path.join(REPO, "scripts/pulumi");
const PACK = path.join(REPO, "scripts/pack-examples.sh");

export interface RunResult {
  code: number;
  stdout: string;
  stderr: string;
  /** Both streams, for messages Pulumi prints on either. */
  output: string;
  ms: number;
}

function run(cmd: string, args: string[], opts: { cwd: string; env?: NodeJS.ProcessEnv; timeoutMs?: number }): Promise<RunResult> {
  const started = Date.now();
  return new Promise((resolve) => {
    execFile(cmd, args, {
      cwd: opts.cwd,
      env: { ...process.env, ...opts.env },
      encoding: "utf8",
      maxBuffer: 64 << 20,
      timeout: opts.timeoutMs ?? 300_000,
      killSignal: "SIGTERM",
    }, (err, stdout, stderr) => {
      const code = err ? (typeof (err as { code?: unknown }).code === "number" ? (err as { code: number }).code : 1) : 0;
      resolve({ code, stdout, stderr, output: `${stdout}\n${stderr}`, ms: Date.now() - started });
    });
  });
}

/** One engine event of `pulumi ... --json` output (see parseEvents). */
export interface EngineEvent {
  sequence: number;
  timestamp: number;
  resourcePreEvent?: { metadata: { op: string; urn: string; type: string } };
  resOutputsEvent?: { metadata: { op: string; urn: string; type: string } };
  summaryEvent?: { resourceChanges: Record<string, number>; result?: string };
  diagnosticEvent?: { message: string; severity: string; urn?: string };
}

/** The engine events `up/refresh/destroy --json --skip-preview` print one per line. */
export function parseEvents(stdout: string): EngineEvent[] {
  return stdout
    .split("\n")
    .filter((l) => l.startsWith('{"sequence"'))
    .map((l) => JSON.parse(l) as EngineEvent);
}

/** op per resource name (the last URN segment) from the events' finished steps. */
export function stepOps(events: EngineEvent[]): Record<string, string> {
  const ops: Record<string, string> = {};
  for (const e of events) {
    const m = e.resOutputsEvent?.metadata;
    if (m && m.type !== "pulumi:pulumi:Stack") ops[m.urn.split("::").pop()!] = m.op;
  }
  return ops;
}

export class ExampleProject {
  private constructor(
    /** Temp root: the example copy, .pack/ and the state directory. */
    readonly root: string,
    readonly dir: string,
    readonly stateDir: string,
  ) {}

  /**
   * Copies examples/<example> to a temp dir (without anything installed or any stack) and
   * installs the packed package into it: one `npm pack` per call.
   */
  static async create(example: string): Promise<ExampleProject> {
    const root = mkdtempSync(path.join(tmpdir(), `hve2e-${example}-`));
    const dir = path.join(root, example);
    const src = path.join(REPO, "examples", example);
    cpSync(src, dir, {
      recursive: true,
      filter: (s) => {
        const rel = path.relative(src, s);
        const top = rel.split(path.sep)[0];
        return !["node_modules", "package-lock.json", ".pulumi-state", "bin"].includes(top) && !/^Pulumi\..+\.yaml$/.test(top);
      },
    });
    const project = new ExampleProject(root, dir, path.join(root, "state"));
    const r = await run(PACK, [dir], { cwd: REPO, timeoutMs: 300_000 });
    if (r.code !== 0) {
      project.remove();
      throw new Error(`scripts/pack-examples.sh failed (${r.code}):\n${r.output}`);
    }
    return project;
  }

  /** Runs scripts/pulumi in the project; never throws on a non-zero exit (tests assert it). */
  pulumi(args: string[], opts: { env?: NodeJS.ProcessEnv; timeoutMs?: number } = {}): Promise<RunResult> {
    // Global flags first: an argument list may end with "--" and values.
    return run(PULUMI, ["--non-interactive", "--color", "never", ...args], {
      cwd: this.dir,
      env: { PULUMI_STATE_DIR: this.stateDir, ...opts.env },
      timeoutMs: opts.timeoutMs,
    });
  }

  /** Like pulumi() but throws with the whole output when the exit code is not 0. */
  async pulumiOk(args: string[], opts: { env?: NodeJS.ProcessEnv; timeoutMs?: number } = {}): Promise<RunResult> {
    const r = await this.pulumi(args, opts);
    if (r.code !== 0) throw new Error(`pulumi ${args.join(" ")} exited ${r.code}:\n${r.output}`);
    return r;
  }

  /** A new stack with the given config (values set as plain config; `secret` ones as secrets). */
  async newStack(stack: string, config: Record<string, string>, secret: Record<string, string> = {}, env?: NodeJS.ProcessEnv): Promise<void> {
    await this.pulumiOk(["stack", "init", stack], { env });
    for (const [k, v] of Object.entries(config)) await this.pulumiOk(["config", "set", "--stack", stack, "--", k, v], { env });
    for (const [k, v] of Object.entries(secret)) await this.pulumiOk(["config", "set", "--secret", "--stack", stack, "--", k, v], { env });
  }

  async setConfig(stack: string, key: string, value: string): Promise<void> {
    await this.pulumiOk(["config", "set", "--stack", stack, "--", key, value]);
  }

  async outputs(stack: string): Promise<Record<string, any>> {
    const r = await this.pulumiOk(["stack", "output", "--stack", stack, "--json", "--show-secrets"]);
    return JSON.parse(r.stdout);
  }

  async exportState(stack: string): Promise<{ text: string; deployment: { resources: Array<Record<string, any>> } }> {
    const r = await this.pulumiOk(["stack", "export", "--stack", stack]);
    return { text: r.stdout, deployment: JSON.parse(r.stdout).deployment };
  }

  /** Destroys what the stack made and removes it; for cleanup, so it reports instead of throwing. */
  async dropStack(stack: string): Promise<string[]> {
    const problems: string[] = [];
    const ls = await this.pulumi(["stack", "ls", "--json"]);
    const known = ls.code === 0 && (JSON.parse(ls.stdout) as Array<{ name: string }>).some((s) => s.name === stack);
    if (!known) return problems;
    const d = await this.pulumi(["destroy", "--yes", "--skip-preview", "--stack", stack]);
    if (d.code !== 0) problems.push(`destroy ${stack}: ${d.output}`);
    const rm = await this.pulumi(["stack", "rm", "--yes", "--force", stack]);
    if (rm.code !== 0) problems.push(`stack rm ${stack}: ${rm.output}`);
    return problems;
  }

  remove(): void {
    rmSync(this.root, { recursive: true, force: true });
  }
}
