// The fleet runner: one inventory split into shard stacks (by a host label such as a
// rack, or a fixed size), run through Pulumi's Automation API with a bounded number in
// flight, a canary shard first, and no new shard started once one failed. A stack holds
// tens of hosts, not thousands (Pulumi's file backend rewrites the whole checkpoint after
// every step unless told not to, see cliEnv), and each shard's state lives in the backend,
// so shards can also run as separate jobs.
//
// Each shard stack gets its hosts as the secret stack config `hosts` (what
// sdk/targets.ts reads). The value goes to `pulumi config set` on stdin, never in an
// argument list: argv is readable by every local user and shows up in error text.
import { spawn } from "node:child_process";
import * as fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import type * as automation from "@pulumi/pulumi/automation";
import { hostIdentity, validateHostSpec, type HostSpec } from "../provider/transport/host-spec";

export type FleetOperation = "preview" | "up" | "destroy" | "refresh";

/** One host of a fleet inventory: its stack-config entry and the labels shards are cut by. */
export interface FleetHost {
  name: string;
  labels: Record<string, string>;
  /** The entry of stack config `hosts`: the connection plus `uplink` (secret as a whole). */
  config: HostSpec & { uplink?: string };
}

export type ShardBy = { label: string } | { size: number };

export interface Shard {
  name: string;
  hosts: FleetHost[];
}

export interface HostProgress {
  /** Steps finished by op (create, update, delete, same, refresh, ...). */
  ops: Record<string, number>;
  failed: number;
  /** The first error the engine reported for one of this host's resources. */
  error?: string;
}

export interface ShardResult {
  shard: string;
  stack: string;
  hosts: string[];
  status: "succeeded" | "failed" | "skipped";
  ms: number;
  perHost: Record<string, HostProgress>;
  /** One line: what failed, naming the host when the engine said which. */
  error?: string;
}

export interface FleetResult {
  operation: FleetOperation;
  ok: boolean;
  shards: ShardResult[];
  /** The shard that stopped the run. */
  failed?: string;
}

export type FleetEvent =
  | { type: "shard-start"; shard: string; stack: string; hosts: string[]; canary: boolean }
  | { type: "step"; shard: string; host: string; resource: string; op: string; ok: boolean; error?: string }
  | { type: "shard-end"; result: ShardResult }
  | { type: "shard-skipped"; result: ShardResult };

export interface FleetOptions {
  /** A Pulumi project directory (Pulumi.yaml), or `program` for an inline program. */
  projectDir?: string;
  program?: automation.PulumiFn;
  /** The project name of an inline program (default "hvnet-fleet"). */
  projectName?: string;
  /** A JSON inventory file (see readFleetInventory) or hosts already read. */
  inventory: string | FleetHost[];
  shardBy: ShardBy;
  operation: FleetOperation;
  /** Shards in flight at once after the canary (default 4). */
  concurrency?: number;
  /** The shard that runs first, alone (default: the first shard); false for none. */
  canary?: string | false;
  /** Shard stacks are `<stackPrefix>-<shard>` (default "fleet"). */
  stackPrefix?: string;
  /** Run only these shards (one CI job per shard); the canary rule applies among them. */
  only?: string[];
  /** Plain stack config set on every shard stack (e.g. the program's own settings). */
  config?: Record<string, string>;
  /** State backend (default $PULUMI_BACKEND_URL, else file://<project>/.pulumi-state). */
  backendUrl?: string;
  /** Directory holding bin/pulumi (default: the CLI `make pulumi` built, see scripts/pulumi-version.sh). */
  pulumiRoot?: string;
  onEvent?: (e: FleetEvent) => void;
}

// Connection fields the provider accepts, plus the uplink the examples read; inventory
// bookkeeping (key paths, labels, namespaces) stays out of the stack config.
const CONFIG_FIELDS = ["name", "address", "port", "user", "privateKey", "agentSocket", "hostKey", "insecureIgnoreHostKey", "jumpHost", "uplink"];
const SHARD_NAME = /^[A-Za-z0-9_.-]+$/;

function fail(message: string): never {
  throw new Error(message);
}

/**
 * Reads a fleet inventory: `{ "hosts": [...] }` (the lab's .lab/inventory.json is one) or a
 * bare list (a stack's config `hosts`). Each host is a connection (privateKey, or
 * privateKeyPath relative to the file), its `uplink`, and optional `labels`.
 */
export function readFleetInventory(file: string): FleetHost[] {
  let text: string;
  try {
    text = fs.readFileSync(file, "utf8");
  } catch (err) {
    fail(`inventory ${file}: ${(err as NodeJS.ErrnoException).code === "ENOENT" ? "no such file" : (err as Error).message}`);
  }
  let doc: unknown;
  try {
    doc = JSON.parse(text);
  } catch (err) {
    fail(`inventory ${file} is not JSON: ${(err as Error).message}`);
  }
  const list = Array.isArray(doc) ? doc : (doc as { hosts?: unknown })?.hosts;
  if (!Array.isArray(list) || list.length === 0) fail(`inventory ${file} has no hosts (expected {"hosts": [...]} or a JSON list of hosts)`);
  const dir = path.dirname(path.resolve(file));
  const hosts = list.map((h, i) => inventoryHost(h, `inventory ${file} hosts[${i}]`, dir));
  const seen = new Set<string>();
  for (const h of hosts) {
    if (seen.has(h.name)) fail(`inventory ${file}: host ${h.name} is listed twice`);
    seen.add(h.name);
  }
  return hosts;
}

function inventoryHost(raw: unknown, where: string, dir: string): FleetHost {
  if (!raw || typeof raw !== "object" || Array.isArray(raw)) fail(`${where} must be an object`);
  const h = raw as Record<string, unknown>;
  const at = `${where}${typeof h.name === "string" ? ` (${h.name})` : ""}`;
  const config: Record<string, unknown> = {};
  for (const k of CONFIG_FIELDS) if (h[k] !== undefined) config[k] = h[k];
  if (config.privateKey === undefined && h.privateKeyPath !== undefined) {
    if (typeof h.privateKeyPath !== "string") fail(`${at}: privateKeyPath must be a file path`);
    const keyFile = path.resolve(dir, h.privateKeyPath);
    try {
      config.privateKey = fs.readFileSync(keyFile, "utf8");
    } catch {
      fail(`${at}: cannot read the private key file ${keyFile}`);
    }
  }
  const { uplink, ...spec } = config;
  if (uplink !== undefined && (typeof uplink !== "string" || uplink === "")) fail(`${at}: uplink must be a device name`);
  const problems = validateHostSpec(spec);
  if (problems.length) fail(`${at}: ${problems.map((m) => m.replace(/^host\./, "")).join("; ")}`);
  // A plain string field (the lab's netns, a "rack" column) serves as a label too; `labels` wins.
  const labels: Record<string, string> = {};
  for (const [k, v] of Object.entries(h)) if (typeof v === "string" && !CONFIG_FIELDS.includes(k) && k !== "privateKeyPath") labels[k] = v;
  if (h.labels !== undefined) {
    if (!h.labels || typeof h.labels !== "object" || Array.isArray(h.labels)) fail(`${at}: labels must be an object of strings`);
    for (const [k, v] of Object.entries(h.labels as Record<string, unknown>)) {
      if (typeof v !== "string") fail(`${at}: labels.${k} must be a string`);
      labels[k] = v;
    }
  }
  return { name: hostIdentity(spec as unknown as HostSpec), labels, config: config as unknown as FleetHost["config"] };
}

/**
 * Cuts the hosts into shards, in inventory order: by label (one shard per value, in order
 * of first appearance) or by
 * size (shards "1", "2", ... zero-padded so they sort).
 */
export function splitShards(hosts: FleetHost[], by: ShardBy): Shard[] {
  if (hosts.length === 0) fail("the inventory has no hosts");
  if ("size" in by) {
    if (!Number.isInteger(by.size) || by.size < 1) fail(`shard size must be a whole number >= 1, got ${by.size}`);
    const count = Math.ceil(hosts.length / by.size);
    const width = String(count).length;
    return Array.from({ length: count }, (_, i) => ({
      name: String(i + 1).padStart(width, "0"),
      hosts: hosts.slice(i * by.size, (i + 1) * by.size),
    }));
  }
  const shards = new Map<string, FleetHost[]>();
  for (const h of hosts) {
    const value = h.labels[by.label];
    if (value === undefined) fail(`host ${h.name} has no label ${by.label}: give every host labels.${by.label}, or shard by size`);
    if (!SHARD_NAME.test(value)) fail(`host ${h.name}: label ${by.label}=${JSON.stringify(value)} cannot name a stack (letters, digits, '-', '_', '.')`);
    shards.set(value, [...(shards.get(value) ?? []), h]);
  }
  return [...shards].map(([name, members]) => ({ name, hosts: members }));
}

/** The run order: the canary shard (alone) and the rest, after the `only` selection. */
export function planShards(shards: Shard[], canary: string | false | undefined, only?: string[]): { canary?: Shard; rest: Shard[] } {
  const names = shards.map((s) => s.name);
  let chosen = shards;
  if (only !== undefined) {
    const unknown = only.filter((n) => !names.includes(n));
    if (unknown.length || only.length === 0) fail(`shard ${unknown.join(",") || "(none)"} is not in the plan (shards: ${names.join(", ")})`);
    chosen = shards.filter((s) => only.includes(s.name));
  }
  if (canary === false) return { rest: chosen };
  if (canary === undefined) return chosen.length > 1 ? { canary: chosen[0], rest: chosen.slice(1) } : { rest: chosen };
  const c = chosen.find((s) => s.name === canary);
  if (!c) fail(`canary shard ${canary} is not among the shards to run (${chosen.map((s) => s.name).join(", ")})`);
  return { canary: c, rest: chosen.filter((s) => s !== c) };
}

/** Where the CLI `make pulumi` built lives, the way scripts/pulumi-version.sh works it out. */
export function defaultPulumiRoot(): string {
  const version = (process.env.HVNET_PULUMI_CLI_VERSION ?? (require("@pulumi/pulumi/package.json") as { version: string }).version).replace(/^v/, "");
  const cache = process.env.HVNET_CACHE ?? path.join(os.homedir(), ".cache", "hvnet");
  return path.join(cache, "pulumi", version);
}

/**
 * The environment scripts/pulumi gives the CLI (its backend, passphrase and home, no
 * downloads), and one checkpoint per shard command instead of one per step: a shard
 * whose runner died is run again and converges, since every create finds what its own
 * resource made (README "Large stacks"). PULUMI_SKIP_CHECKPOINTS=false in the caller's
 * environment keeps the per-step checkpoints.
 */
function cliEnv(root: string, backendUrl: string): Record<string, string> {
  const env: Record<string, string> = {
    PULUMI_SKIP_UPDATE_CHECK: "true",
    PULUMI_DISABLE_AUTOMATIC_PLUGIN_ACQUISITION: "true",
    PULUMI_HOME: process.env.PULUMI_HOME ?? path.join(path.dirname(root), "home"),
    PULUMI_BACKEND_URL: backendUrl,
    PULUMI_SKIP_CHECKPOINTS: process.env.PULUMI_SKIP_CHECKPOINTS ?? "true",
  };
  if (process.env.PULUMI_CONFIG_PASSPHRASE === undefined && !process.env.PULUMI_CONFIG_PASSPHRASE_FILE) env.PULUMI_CONFIG_PASSPHRASE = "hvnet-local";
  return env;
}

function backendOf(opts: FleetOptions): string {
  const url = opts.backendUrl ?? process.env.PULUMI_BACKEND_URL ??
    `file://${path.resolve(process.env.PULUMI_STATE_DIR ?? path.join(opts.projectDir ?? process.cwd(), ".pulumi-state"))}`;
  // The file backend does not make its directory; a first run against a new one should not fail.
  if (url.startsWith("file://")) fs.mkdirSync(url.slice("file://".length).split("?")[0], { recursive: true });
  return url;
}

/** Engine text carries colour directives (`<{%reset%}>`) and may span lines: one plain line. */
function plainLine(text: string): string {
  return text.replace(/<\{%[^%]*%\}>/g, "").split("\n").map((l) => l.trim()).filter(Boolean).join(" ");
}

/** Which host a step belongs to: its id `<host>/<kind>/<object>`, else its name `<host>-...`. */
export function hostOfStep(m: { urn: string; new?: { id?: string }; old?: { id?: string } }, hosts: string[]): string | undefined {
  const id = m.new?.id || m.old?.id;
  if (id) {
    const first = id.split("/")[0];
    if (hosts.includes(first)) return first;
  }
  const name = m.urn.split("::").pop() ?? "";
  return hosts.filter((h) => name === h || name.startsWith(`${h}-`)).sort((a, b) => b.length - a.length)[0];
}

/** `pulumi config set --secret` with the value on stdin. */
function setSecretConfig(bin: string, env: Record<string, string>, cwd: string, stack: string, key: string, value: string): Promise<void> {
  return new Promise((resolve, reject) => {
    const p = spawn(bin, ["config", "set", "--secret", "--non-interactive", "--stack", stack, key], {
      cwd, env: { ...process.env, ...env, PATH: `${path.dirname(bin)}:${process.env.PATH ?? ""}` }, stdio: ["pipe", "ignore", "pipe"],
    });
    let err = "";
    p.stderr.on("data", (d: Buffer) => (err += d.toString()));
    p.on("error", reject);
    p.on("close", (code) => (code === 0 ? resolve() : reject(new Error(`setting config ${key} of stack ${stack} failed: ${plainLine(err)}`))));
    p.stdin.end(value);
  });
}

/** Runs `fn` for each item with at most `limit` in flight; stops starting new ones once `stop()` says so. */
async function pool<T>(items: T[], limit: number, fn: (item: T) => Promise<void>, stop: () => boolean): Promise<T[]> {
  const queue = [...items];
  const workers = Array.from({ length: Math.min(limit, queue.length) }, async () => {
    while (queue.length && !stop()) await fn(queue.shift()!);
  });
  await Promise.all(workers);
  return queue;
}

/** Previews, updates, refreshes or destroys the fleet shard by shard (see the file comment). */
export async function runFleet(opts: FleetOptions): Promise<FleetResult> {
  const concurrency = opts.concurrency ?? 4;
  if (!Number.isInteger(concurrency) || concurrency < 1) fail(`concurrency must be a whole number >= 1, got ${concurrency}`);
  if (!["preview", "up", "destroy", "refresh"].includes(opts.operation)) fail(`operation must be preview, up, destroy or refresh, got ${opts.operation}`);
  if (!opts.projectDir === !opts.program) fail("give a project directory or an inline program (one of them)");
  if (opts.projectDir && !fs.existsSync(path.join(opts.projectDir, "Pulumi.yaml"))) fail(`project ${opts.projectDir} has no Pulumi.yaml`);
  const prefix = opts.stackPrefix ?? "fleet";
  if (!SHARD_NAME.test(prefix)) fail(`stack prefix ${JSON.stringify(prefix)} cannot start a stack name (letters, digits, '-', '_', '.')`);
  const hosts = typeof opts.inventory === "string" ? readFleetInventory(opts.inventory) : opts.inventory;
  const plan = planShards(splitShards(hosts, opts.shardBy), opts.canary, opts.only);

  const root = opts.pulumiRoot ?? defaultPulumiRoot();
  const bin = path.join(root, "bin", "pulumi");
  if (!fs.existsSync(bin)) fail(`no Pulumi CLI at ${bin}: run 'make pulumi' (or give pulumiRoot)`);
  // Loaded here, not at the top: every Pulumi program imports this package, and needs none of it.
  // require, not import(): a bundler turns import() into an ES module import that cannot load a directory.
  const auto = require("@pulumi/pulumi/automation") as typeof automation;
  const env = cliEnv(root, backendOf(opts));
  const pulumiCommand = await auto.PulumiCommand.get({ root });
  const workspace = opts.program
    ? await auto.LocalWorkspace.create({ program: opts.program, pulumiCommand, envVars: env, projectSettings: { name: opts.projectName ?? "hvnet-fleet", runtime: "nodejs" } })
    : await auto.LocalWorkspace.create({ workDir: path.resolve(opts.projectDir!), pulumiCommand, envVars: env });
  const emit = (e: FleetEvent) => opts.onEvent?.(e);

  // `stack select` rewrites one workspace file shared by every stack of the project.
  let selecting: Promise<unknown> = Promise.resolve();
  const selectStack = (name: string) => {
    const next = selecting.then(() => auto.Stack.createOrSelect(name, workspace));
    selecting = next.catch(() => undefined);
    return next;
  };

  const results = new Map<string, ShardResult>();
  const runShard = async (shard: Shard, canary: boolean): Promise<void> => {
    const stackName = `${prefix}-${shard.name}`;
    const names = shard.hosts.map((h) => h.name);
    const perHost: Record<string, HostProgress> = Object.fromEntries(names.map((n) => [n, { ops: {}, failed: 0 }]));
    const errors = new Map<string, string>(); // urn → the engine's error for it
    const result: ShardResult = { shard: shard.name, stack: stackName, hosts: names, status: "succeeded", ms: 0, perHost };
    results.set(shard.name, result);
    emit({ type: "shard-start", shard: shard.name, stack: stackName, hosts: names, canary });
    const started = Date.now();
    const onEvent = (e: automation.EngineEvent) => {
      const diag = e.diagnosticEvent;
      if (diag?.severity === "error" && diag.urn) errors.set(diag.urn, plainLine(diag.message));
      const m = e.resOutputsEvent?.metadata ?? e.resOpFailedEvent?.metadata;
      if (!m || m.type === "pulumi:pulumi:Stack" || m.type.startsWith("pulumi:providers:")) return;
      const host = hostOfStep(m, names);
      if (!host) return;
      const ok = !e.resOpFailedEvent;
      const p = perHost[host];
      const resource = m.urn.split("::").pop()!;
      if (ok) p.ops[m.op] = (p.ops[m.op] ?? 0) + 1;
      else {
        p.failed++;
        p.error ??= errors.get(m.urn);
      }
      emit({ type: "step", shard: shard.name, host, resource, op: m.op, ok, error: ok ? undefined : errors.get(m.urn) });
    };
    try {
      const stack = await selectStack(stackName);
      const cwd = workspace.workDir;
      await setSecretConfig(bin, env, cwd, stackName, "hosts", JSON.stringify(shard.hosts.map((h) => h.config)));
      if (opts.config && Object.keys(opts.config).length) {
        await stack.setAllConfig(Object.fromEntries(Object.entries(opts.config).map(([k, v]) => [k, { value: v }])));
      }
      const common = { onEvent, color: "never" as const };
      if (opts.operation === "up") await stack.up(common);
      else if (opts.operation === "preview") await stack.preview(common);
      else if (opts.operation === "refresh") await stack.refresh(common);
      else await stack.destroy(common);
    } catch (err) {
      // Errors the engine reported without a failed step (a failed read, say) still land on their host.
      for (const [urn, msg] of errors) {
        const host = hostOfStep({ urn }, names);
        if (host && !perHost[host].error) perHost[host].error = msg;
      }
      result.status = "failed";
      result.error = shardError(err, perHost, errors);
    }
    result.ms = Date.now() - started;
    emit({ type: "shard-end", result });
  };

  const skip = (s: Shard) => {
    const result: ShardResult = {
      shard: s.name, stack: `${prefix}-${s.name}`, hosts: s.hosts.map((h) => h.name), status: "skipped", ms: 0,
      perHost: Object.fromEntries(s.hosts.map((h) => [h.name, { ops: {}, failed: 0 }])),
    };
    results.set(s.name, result);
    emit({ type: "shard-skipped", result });
  };

  const failed = () => [...results.values()].find((r) => r.status === "failed");
  if (plan.canary) await runShard(plan.canary, true);
  if (failed()) plan.rest.forEach(skip);
  else (await pool(plan.rest, concurrency, (s) => runShard(s, false), () => !!failed())).forEach(skip);

  const order = [plan.canary, ...plan.rest].filter((s): s is Shard => !!s).map((s) => results.get(s.name)!);
  const first = failed();
  return { operation: opts.operation, ok: !first, shards: order, failed: first?.shard };
}

/** One line for a failed shard: the first host the engine blamed, else the CLI's own error line. */
function shardError(err: unknown, perHost: Record<string, HostProgress>, errors: Map<string, string>): string {
  for (const [host, p] of Object.entries(perHost)) if (p.error) return p.error.startsWith(`${host}:`) ? p.error : `${host}: ${p.error}`;
  const first = errors.values().next();
  if (!first.done) return first.value;
  const text = err instanceof Error ? err.message : String(err);
  const line = text.split("\n").map((l) => plainLine(l)).find((l) => /^error:/.test(l) && !/^error: update failed$/.test(l));
  return line ?? plainLine(text.split("\n").find((l) => l.trim()) ?? "the operation failed");
}
