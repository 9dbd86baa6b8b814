// Runtime benchmark over SSH: a one-host lab (scripts/lab.sh: network + mount namespace,
// its own sshd), the provider runtime's createResource for every FDB entry, all issued at
// once so the host pool coalesces them into batch messages, against the naive way: one
// `ssh … bpftool map update` per entry. The lab is removed at the end, passing or failing.
//
// Usage (root): node dist/bench/runtime.js OUTFILE [--rounds N] [--entries N] [--naive N]
//               [--lab-name NAME]
import { execFileSync } from "node:child_process";
import { existsSync, readFileSync } from "node:fs";
import * as path from "node:path";
import { HostPool } from "../../provider/transport/pool";
import type { HostSpec } from "../../provider/transport/host-spec";
import { KINDS } from "../../provider/kinds";
import { requireValidInputs } from "../../provider/runtime/check";
import { createResource } from "../../provider/runtime/operations";
import { encodeFdbKey, encodeFdbValue } from "../../provider/helper/datapath/fdb";
import { LAB_SCRIPT, labSshArgs, labUp, type Lab, type LabHost } from "../../test/support/lab";
import { atLeast, Cleanups, fmt, fmtInt, maxOf, median, minOf, msSince, parseArgs, runBenchmark, Verdict } from "./common";

const HELPER_DIR = path.resolve(process.env.HVNET_HELPER_DIR ?? "dist/helper");
const TARGET_PER_S = 5_000;
const TAP = "vm0";

function spec(h: LabHost): HostSpec {
  return { name: h.name, address: h.address, port: h.port, user: h.user, hostKey: h.hostKey, privateKey: readFileSync(h.privateKeyPath, "utf8") };
}

function mac(i: number): string {
  const b = [0x02, 0x43, (i >> 24) & 0xff, (i >> 16) & 0xff, (i >> 8) & 0xff, i & 0xff];
  return b.map((x) => x.toString(16).padStart(2, "0")).join(":");
}

/** Checked inputs (what Pulumi's check step hands to create) for `n` entries on `vlan`. */
function entryInputs(host: HostSpec, table: string, vlan: number, n: number): Record<string, unknown>[] {
  return Array.from({ length: n }, (_, i) => requireValidInputs(KINDS.FdbEntry, { host, table, vlan, mac: mac(i), device: TAP }));
}

interface Apply {
  ms: number;
  messages: number;
  batches: number;
}

/** Creates every entry at once through the runtime; checks each output. */
async function applyAll(pool: HostPool, host: HostSpec, inputs: Record<string, unknown>[], ifindex: number | undefined): Promise<Apply & { ifindex: number }> {
  const before = pool.stats(host) ?? { messages: 0, batches: 0 };
  const t0 = process.hrtime.bigint();
  const results = await Promise.all(inputs.map((inp) => createResource(pool, KINDS.FdbEntry, inp)));
  const ms = msSince(t0);
  const after = pool.stats(host)!;
  const want = ifindex ?? (results[0].outs.ifindex as number);
  const wrong = results.filter((r) => r.outs.ifindex !== want);
  if (wrong.length) throw new Error(`${wrong.length} entries answered another ifindex than ${want}: ${JSON.stringify(wrong[0].outs.ifindex)}`);
  return { ms, messages: after.messages - before.messages, batches: after.batches - before.batches, ifindex: want };
}

/** Entries in the host's FDB map, counted by bpftool inside the host's namespaces. */
function countEntries(lab: Lab, host: string, table: string): number {
  // lab.hostExec's default 1 MB output buffer is too small for a dump of 10,000 entries.
  const out = execFileSync(LAB_SCRIPT, ["exec", "--name", lab.name, "--dir", lab.dir, host, "--", "bpftool", "-j", "map", "dump", "pinned", table], {
    encoding: "utf8",
    stdio: ["ignore", "pipe", "pipe"],
    maxBuffer: 256 << 20,
  });
  return (JSON.parse(out || "[]") as unknown[]).length;
}

function hex(b: Buffer): string[] {
  return [...b].map((x) => x.toString(16).padStart(2, "0"));
}

/** The naive way: one ssh process per entry, each running bpftool on the host. */
function naive(lab: Lab, h: LabHost, table: string, ifindex: number, vlan: number, n: number): number[] {
  const ssh = labSshArgs(h, lab.inventory.knownHosts);
  const times: number[] = [];
  for (let i = 0; i < n; i++) {
    const key = hex(encodeFdbKey({ vlan, mac: mac(i) }));
    const value = hex(encodeFdbValue({ ifindex }));
    const t0 = process.hrtime.bigint();
    execFileSync("ssh", [...ssh, ["bpftool", "map", "update", "pinned", table, "key", "hex", ...key, "value", "hex", ...value].join(" ")], {
      stdio: ["ignore", "pipe", "pipe"],
    });
    times.push(msSince(t0));
  }
  return times;
}

async function body(c: Cleanups, o: { rounds: number; entries: number; naiveN: number; labName?: string }): Promise<{ lines: string[]; verdicts: Verdict[] }> {
  if (process.getuid?.() !== 0) throw new Error("the benchmark needs root (the lab makes namespaces and runs sshd)");
  if (!existsSync(path.join(HELPER_DIR, "helper.js"))) throw new Error(`${HELPER_DIR}/helper.js is missing: run 'make build' first`);

  const tLab = process.hrtime.bigint();
  const lab = await labUp({ hosts: 1, name: o.labName });
  c.add(`lab ${lab.name}`, () => lab.down());
  const labMs = msSince(tLab);
  const h = lab.inventory.hosts[0];
  const host = spec(h);
  const pools: HostPool[] = [];
  const newPool = () => {
    const p = new HostPool({ helperDir: HELPER_DIR });
    pools.push(p);
    return p;
  };
  c.add("host pools", async () => {
    await Promise.all(pools.map((p) => p.close()));
  });

  // First contact: dial, deploy the bundle (SFTP), start the helper, attach l2fwd.
  let pool = newPool();
  let t0 = process.hrtime.bigint();
  const xdp = await createResource(pool, KINDS.XdpProgram, requireValidInputs(KINDS.XdpProgram, { host, device: "uplink0", program: "l2fwd" }));
  const firstContactMs = msSince(t0);
  const table = (xdp.outs.maps as Record<string, string>).fdb;
  await createResource(pool, KINDS.VmInterface, requireValidInputs(KINDS.VmInterface, { host, name: TAP, vcpus: 1, mac: "52:54:00:00:00:01", addresses: ["10.9.0.2"] }));
  await pool.close();

  // Cold: a new pool (new SSH connection, new helper; the bundle is deployed already).
  pool = newPool();
  let vlan = 1;
  const cold = await applyAll(pool, host, entryInputs(host, table, vlan++, o.entries), undefined);
  const ifindex = cold.ifindex;

  // Warm: the same connection and helper.
  const warm: Apply[] = [];
  for (let r = 0; r < o.rounds; r++) warm.push(await applyAll(pool, host, entryInputs(host, table, vlan++, o.entries), ifindex));
  const stats = pool.stats(host)!;
  if (stats.dials !== 1 || stats.helperStarts !== 1) throw new Error(`expected one dial and one helper start, got ${JSON.stringify(stats)}`);
  let expected = o.entries * (o.rounds + 1);
  let count = countEntries(lab, h.name, table);
  if (count !== expected) throw new Error(`bpftool on the host counts ${count} FDB entries, expected ${expected}`);

  // The naive baseline, on the same table (the ports map already holds the tap).
  t0 = process.hrtime.bigint();
  const naiveTimes = naive(lab, h, table, ifindex, 4000, o.naiveN);
  const naiveMs = msSince(t0);
  expected += o.naiveN;
  count = countEntries(lab, h.name, table);
  if (count !== expected) throw new Error(`after the naive updates bpftool counts ${count} FDB entries, expected ${expected}`);

  const perS = (a: Apply) => (o.entries / a.ms) * 1000;
  const warmPerS = median(warm.map(perS));
  const naivePerS = (o.naiveN / naiveMs) * 1000;
  const naiveExtrapolatedS = (naiveMs / o.naiveN) * o.entries / 1000;
  const warmMs = median(warm.map((w) => w.ms));
  const lines = [
    `A one-host lab (\`scripts/lab.sh\`, up in ${fmt(labMs / 1000, 1)} s): the host is a network + mount namespace with its own sshd ` +
      `on this machine, so the SSH connection runs over a local bridge (no network latency; on a real network each round trip adds its RTT, ` +
      `which the runtime pays once per batch message and the naive way once per entry). ` +
      `Each run creates ${fmtInt(o.entries)} new FdbEntry resources through the runtime (\`createResource\`, the provider's create), ` +
      `all issued at once so the host pool coalesces them into batch messages (default pool options: 2 ms window, 256 per batch), ` +
      `each helper batch applying its entries with one map batch update. Time runs from issuing the first create to the last one resolving, ` +
      `each output checked. Inputs were checked (the provider's check step) before the clock starts. ` +
      `bpftool on the host counted every entry afterwards.`,
    "",
    "| run | ms for all | entries/s | messages (batches) |",
    "|---|---:|---:|---:|",
    `| first contact: XdpProgram l2fwd on a fresh host (dial, deploy the helper bundle over SFTP, start it, attach) | ${fmt(firstContactMs, 0)} | — | — |`,
    `| cold: new pool (dial + helper start, bundle already deployed) + ${fmtInt(o.entries)} entries | ${fmt(cold.ms, 0)} | ${fmtInt(perS(cold))} | ${cold.messages} (${cold.batches}) |`,
    `| warm: same connection and helper, median of ${o.rounds} | ${fmt(warmMs, 0)} (${fmt(minOf(warm.map((w) => w.ms)), 0)} … ${fmt(maxOf(warm.map((w) => w.ms)), 0)}) | ${fmtInt(warmPerS)} | ${warm[0].messages} (${warm[0].batches}) |`,
    `| naive: one \`ssh … bpftool map update pinned …\` per entry, ${fmtInt(o.naiveN)} run one after another | ${fmt(naiveMs, 0)} | ${fmt(naivePerS, 1)} | ${fmtInt(o.naiveN)} ssh processes |`,
    "",
    `The naive way was run for ${fmtInt(o.naiveN)} entries and extrapolated: ${fmtInt(o.entries)} entries would take about ` +
      `${fmt(naiveExtrapolatedS, 0)} s (median ${fmt(median(naiveTimes), 0)} ms per ssh + bpftool). It also does less: ` +
      `no check for an existing entry and no ports devmap upkeep (the runtime does both). ` +
      `Warm runtime vs naive: **${fmtInt(warmPerS / naivePerS)}×** the throughput.`,
  ];
  const verdicts = [atLeast(`${fmtInt(o.entries)} FdbEntry creates through the runtime, warm`, warmPerS, TARGET_PER_S, "entries/s")];
  return { lines, verdicts };
}

const USAGE = "node dist/bench/runtime.js OUTFILE [--rounds N] [--entries N] [--naive N] [--lab-name NAME]";
const opts = parseArgs(process.argv.slice(2), USAGE, ["entries", "naive", "lab-name"], 5);
const entries = Number(opts.flags.get("entries") ?? 2000);
const naiveN = Number(opts.flags.get("naive") ?? 200);
if (!(entries >= 1 && entries * (opts.rounds + 1) <= 60_000)) throw new Error("--entries × (rounds + 1) must stay within the FDB map (60,000)");
if (!(naiveN >= 1 && naiveN <= 5000)) throw new Error("--naive must be 1 … 5000");
void runBenchmark("Runtime over SSH (1-host lab)", opts.out, (c) =>
  body(c, { rounds: opts.rounds, entries, naiveN, labName: opts.flags.get("lab-name") }),
);
