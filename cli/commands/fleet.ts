// `hvnet fleet preview|up|destroy`: the fleet runner (sdk/fleet.ts) for operators, with a
// progress line per host step, a summary table per host, and an exit status that says
// whether every shard went through (0), a shard failed (1, naming it), or the command
// line or inventory is wrong (2, before any stack is touched).
import * as fs from "node:fs";
import * as path from "node:path";
import Table from "cli-table3";
import { TABLE_STYLE } from "../table-style";
import { UsageError } from "../errors";
import { planShards, readFleetInventory, runFleet, splitShards, type FleetEvent, type FleetHost, type FleetOperation, type FleetResult, type ShardBy } from "../../sdk/fleet";

export interface FleetFlags {
  project?: string;
  inventory?: string;
  shardBy?: string;
  shardSize?: string;
  concurrency: string;
  canary?: string | boolean;
  stackPrefix: string;
  only?: string;
  config: string[];
  json?: boolean;
}

function wholeNumber(text: string, flag: string): number {
  if (!/^\d+$/.test(text) || Number(text) < 1) throw new UsageError(`${flag} must be a whole number >= 1, got ${JSON.stringify(text)}`);
  return Number(text);
}

export interface FleetPlan {
  projectDir: string;
  hosts: FleetHost[];
  shardBy: ShardBy;
  concurrency: number;
  canary: string | false | undefined;
  only?: string[];
  config: Record<string, string>;
}

/** Every flag checked, the inventory read and the shards cut before any stack is touched. */
export function planFromFlags(f: FleetFlags): FleetPlan {
  if (!f.project) throw new UsageError("--project DIR is required (the Pulumi project every shard stack runs)");
  if (!fs.existsSync(path.join(f.project, "Pulumi.yaml"))) throw new UsageError(`--project ${f.project}: no Pulumi.yaml there (give the directory of the Pulumi project)`);
  if (!f.inventory) throw new UsageError("--inventory FILE is required (the fleet's hosts: a lab inventory.json or a JSON list of hosts)");
  if ((f.shardBy === undefined) === (f.shardSize === undefined)) throw new UsageError("give one of --shard-by LABEL or --shard-size N");
  const shardBy: ShardBy = f.shardBy !== undefined ? { label: f.shardBy } : { size: wholeNumber(f.shardSize!, "--shard-size") };
  const concurrency = wholeNumber(f.concurrency, "--concurrency");
  const config: Record<string, string> = {};
  for (const kv of f.config) {
    const m = /^([A-Za-z][\w:.-]*)=(.*)$/s.exec(kv);
    if (!m) throw new UsageError(`--config ${JSON.stringify(kv)}: expected KEY=VALUE`);
    if (m[1] === "hosts") throw new UsageError("--config hosts: every shard gets its own hosts from --inventory");
    config[m[1]] = m[2];
  }
  const canary = f.canary === false ? false : typeof f.canary === "string" ? f.canary : undefined;
  const only = f.only?.split(",").map((s) => s.trim()).filter(Boolean);
  try {
    const hosts = readFleetInventory(f.inventory);
    planShards(splitShards(hosts, shardBy), canary, only);
    return { projectDir: f.project, hosts, shardBy, concurrency, canary, only, config };
  } catch (err) {
    throw new UsageError((err as Error).message);
  }
}

const OP_WORDS: Record<string, string> = { create: "created", update: "updated", delete: "deleted", same: "unchanged", replace: "replaced", refresh: "refreshed", read: "read" };

function changesText(ops: Record<string, number>, planned: boolean): string {
  const parts = Object.entries(ops).filter(([, n]) => n > 0).map(([op, n]) => (planned ? `${n} to ${op}` : `${n} ${OP_WORDS[op] ?? op}`));
  return parts.length ? parts.join(", ") : "-";
}

/** A progress line for people, one per event. */
export function progressLine(op: FleetOperation, e: FleetEvent): string {
  switch (e.type) {
    case "shard-start":
      return `[${e.shard}] ${op} ${e.canary ? "(canary) " : ""}stack ${e.stack}: ${e.hosts.join(", ")}`;
    case "step":
      return e.ok ? `[${e.shard}] ${e.host}: ${e.op} ${e.resource}` : `[${e.shard}] ${e.host}: FAILED ${e.op} ${e.resource}${e.error ? `: ${e.error}` : ""}`;
    case "shard-end": {
      const r = e.result;
      const hostLines = r.hosts.map((h) => {
        const p = r.perHost[h];
        const done = Object.keys(p.ops).length ? changesText(p.ops, op === "preview") : "no steps";
        return `[${r.shard}] ${h}: ${done}${p.failed ? `, ${p.failed} failed` : ""}`;
      });
      return [...hostLines, `[${r.shard}] ${r.status} in ${(r.ms / 1000).toFixed(1)} s${r.error ? `: ${r.error}` : ""}`].join("\n");
    }
    case "shard-skipped":
      return `[${e.result.shard}] skipped: ${e.result.hosts.join(", ")}`;
  }
}

export function summaryTable(r: FleetResult): string {
  const t = new Table({ head: ["shard", "stack", "host", "result", "changes", "seconds"], style: TABLE_STYLE });
  for (const s of r.shards) {
    for (const h of s.hosts) {
      const p = s.perHost[h];
      const result = s.status === "skipped" ? "skipped" : p.failed || p.error ? "failed" : s.status === "failed" ? "ok (shard failed)" : "ok";
      t.push([s.shard, s.stack, h, result, changesText(p.ops, r.operation === "preview"), s.status === "skipped" ? "-" : (s.ms / 1000).toFixed(1)]);
    }
  }
  return t.toString();
}

export async function fleet(op: FleetOperation, f: FleetFlags, out: NodeJS.WritableStream, err: NodeJS.WritableStream): Promise<number> {
  const plan = planFromFlags(f);
  const result = await runFleet({
    projectDir: plan.projectDir,
    inventory: plan.hosts,
    shardBy: plan.shardBy,
    operation: op,
    concurrency: plan.concurrency,
    canary: plan.canary,
    only: plan.only,
    stackPrefix: f.stackPrefix,
    config: plan.config,
    onEvent: f.json ? undefined : (e) => out.write(`${progressLine(op, e)}\n`),
  });
  if (f.json) out.write(`${JSON.stringify(result, null, 2)}\n`);
  else out.write(`${summaryTable(result)}\n`);
  if (!result.ok) {
    const s = result.shards.find((x) => x.shard === result.failed)!;
    const skipped = result.shards.filter((x) => x.status === "skipped").map((x) => x.shard);
    err.write(`hvnet: shard ${s.shard} (stack ${s.stack}) failed: ${s.error ?? "see above"}${skipped.length ? `; not started: ${skipped.join(", ")}` : ""}\n`);
    return 1;
  }
  return 0;
}
