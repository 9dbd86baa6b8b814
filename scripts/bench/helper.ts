// Helper benchmark (local, no SSH): the built helper in a scratch network namespace with
// a private mount namespace and bpffs, a veth "uplink0" with l2fwd attached, a veth
// "vm0" as the FDB entries' target. Measures
//   - FDB entries in one `batch` request (1 … 10,000 entries): request write → response
//     read, and the helper's own CPU time for it (/proc/PID/task/*/schedstat);
//   - single `fdb.apply` requests pipelined through stdin/stdout: ops/s;
//   - helper start: spawn → hello reply read.
// Every table starts empty (xdp.apply before, xdp.remove after), every entry is new, and
// bpftool, run in the helper's own namespaces, counts what reached the map.
//
// Usage (root): node dist/bench/helper.js OUTFILE [--rounds N] [--entries N] [--starts N] [--netns NAME]
import { execFileSync } from "node:child_process";
import { randomBytes } from "node:crypto";
import { existsSync, mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import * as path from "node:path";
import { BenchHelper, helperArgv, Reply } from "./helper-client";
import { atLeast, atMost, Cleanups, fmt, fmtInt, maxOf, median, minOf, parseArgs, runBenchmark, Verdict } from "./common";

const HELPER_JS = path.resolve(process.env.HVNET_HELPER_JS ?? "dist/helper/helper.js");
const UPLINK = "uplink0";
const TARGET = "vm0";
const TABLE = `/sys/fs/bpf/hvnet/xdp/root/${UPLINK}/maps/fdb`;

const BATCH_TARGET_MS = 50;
const PIPELINE_TARGET_OPS = 20_000;
const START_TARGET_MS = 150;
const WARMUP = 3;

interface Netns {
  name: string;
  path: string;
  ip(...args: string[]): string;
  ipJson(...args: string[]): any[];
  remove(): void;
}

/** A scratch namespace under the name bench.sh chose (so its EXIT trap can remove it too). */
function makeNetns(name: string): Netns {
  execFileSync("ip", ["netns", "add", name]);
  const ns: Netns = {
    name,
    path: `/run/netns/${name}`,
    ip: (...args) => execFileSync("ip", ["-n", name, ...args], { encoding: "utf8" }),
    ipJson: (...args) => JSON.parse(execFileSync("ip", ["-j", "-n", name, ...args], { encoding: "utf8" }) || "[]"),
    remove: () => {
      if (existsSync(ns.path)) execFileSync("ip", ["netns", "del", name]);
    },
  };
  ns.ip("link", "set", "lo", "up");
  return ns;
}

function mac(i: number): string {
  const b = [0x02, 0x42, (i >> 24) & 0xff, (i >> 16) & 0xff, (i >> 8) & 0xff, i & 0xff];
  return b.map((x) => x.toString(16).padStart(2, "0")).join(":");
}

function fdbArgs(vlan: number, i: number) {
  return { table: TABLE, vlan, mac: mac(i), device: TARGET };
}

function allOk(replies: Reply[], what: string): void {
  const bad = replies.filter((r) => !r.ok);
  if (bad.length) throw new Error(`${what}: ${bad.length} requests failed, first: ${JSON.stringify(bad[0].error)}`);
}

/** The number of entries in the helper's FDB map, counted by bpftool in its namespaces. */
function witnessCount(h: BenchHelper): number {
  const out = execFileSync("nsenter", ["-t", String(h.pid), "-m", "-n", "bpftool", "-j", "map", "dump", "pinned", TABLE], {
    encoding: "utf8",
    maxBuffer: 256 << 20,
  });
  return (JSON.parse(out) as unknown[]).length;
}

async function freshTable(h: BenchHelper): Promise<void> {
  await h.request("xdp.apply", { device: UPLINK, program: "l2fwd" });
}

async function dropTable(h: BenchHelper, ns: Netns): Promise<void> {
  await h.request("xdp.remove", { device: UPLINK });
  // Unpinning the link lets the kernel free it after an RCU grace period (bpffs frees
  // inodes that way), so the program may stay attached a moment longer and the next
  // xdp.apply would find the hook busy. Wait until the device shows no program.
  const deadline = Date.now() + 5000;
  for (;;) {
    const [link] = ns.ipJson("link", "show", "dev", UPLINK);
    if (!link?.xdp) return;
    if (Date.now() > deadline) throw new Error(`${UPLINK} still has XDP program ${link.xdp.prog?.id} 5 s after xdp.remove`);
    await new Promise((r) => setTimeout(r, 10));
  }
}

interface BatchSample {
  size: number;
  ms: number;
  cpuMs: number;
}

/** One batch request of `size` new entries; checks every reply. */
async function batch(h: BenchHelper, vlan: number, size: number): Promise<BatchSample> {
  const requests = Array.from({ length: size }, (_, i) => ({ op: "fdb.apply", args: fdbArgs(vlan, i) }));
  const line = h.line("batch", { requests });
  const cpu0 = h.cpuMs();
  const { reply, ms } = await h.sendLines([line]);
  const cpuMs = h.cpuMs() - cpu0;
  const r = reply[0];
  if (!r.ok) throw new Error(`batch of ${size}: ${JSON.stringify(r.error)}`);
  allOk(r.result.results, `batch of ${size}`);
  return { size, ms, cpuMs };
}

async function pipelined(h: BenchHelper, vlan: number, n: number): Promise<{ ms: number; cpuMs: number }> {
  const lines = Array.from({ length: n }, (_, i) => h.line("fdb.apply", fdbArgs(vlan, i)));
  const cpu0 = h.cpuMs();
  const { reply, ms } = await h.sendLines(lines);
  const cpuMs = h.cpuMs() - cpu0;
  allOk(reply, `${n} pipelined fdb.apply`);
  return { ms, cpuMs };
}

/** A stand-in that answers hello as soon as Node runs it: Node's own share of a start. */
const NODE_FLOOR =
  'process.stdin.setEncoding("utf8");process.stdin.once("data",d=>{const id=JSON.parse(d.split("\\n")[0]).id;' +
  'process.stdout.write(JSON.stringify({id,ok:true,result:{pid:process.pid}})+"\\n")});';

async function startTimes(argv: string[], env: NodeJS.ProcessEnv, n: number): Promise<number[]> {
  const out: number[] = [];
  for (let i = 0; i < n; i++) {
    const { reply: h, ms } = await BenchHelper.start(argv, env);
    out.push(ms);
    await h.stop();
  }
  return out;
}

async function body(c: Cleanups, rounds: number, entries: number, starts: number, netnsName: string): Promise<{ lines: string[]; verdicts: Verdict[] }> {
  if (process.getuid?.() !== 0) throw new Error("the benchmark needs root (network and mount namespaces, XDP, BPF maps)");
  if (!existsSync(HELPER_JS)) throw new Error(`${HELPER_JS} is missing: run 'make build' first`);

  const ns = makeNetns(netnsName);
  c.add(`netns ${ns.name}`, () => ns.remove());
  const stateDir = mkdtempSync(path.join(tmpdir(), "hvt-bench-state-"));
  c.add(`state dir ${stateDir}`, () => rmSync(stateDir, { recursive: true, force: true }));
  const env = { HVNET_STATE_DIR: stateDir };
  ns.ip("link", "add", UPLINK, "type", "veth", "peer", "name", "wire0");
  ns.ip("link", "add", TARGET, "type", "veth", "peer", "name", `${TARGET}p`);
  for (const dev of [UPLINK, "wire0", TARGET, `${TARGET}p`]) ns.ip("link", "set", dev, "up");

  // ---- start → hello
  const argv = helperArgv(ns.name, HELPER_JS, stateDir);
  const fullStarts = await startTimes(argv, env, starts);
  const bareStarts = await startTimes(["nsenter", `--net=${ns.path}`, "node", HELPER_JS], env, starts);
  const floorStarts = await startTimes(["node", "-e", NODE_FLOOR], {}, starts);

  // ---- one long-lived helper for the rest
  const { reply: h } = await BenchHelper.start(argv, env);
  c.add("helper", () => h.stop());

  // The first batches of a fresh helper run before V8 has optimised the code: the very
  // first is shown apart, the next WARMUP ones are not counted.
  await freshTable(h);
  const cold = await batch(h, 1, entries);
  await dropTable(h, ns);
  for (let w = 0; w < WARMUP; w++) {
    await freshTable(h);
    await batch(h, 1, entries);
    await pipelined(h, 2, entries);
    await dropTable(h, ns);
  }

  const sizes = [1, 100, 1000, entries];
  const batches = new Map<number, BatchSample[]>(sizes.map((s) => [s, []]));
  const pipes: Array<{ ms: number; cpuMs: number }> = [];
  for (let r = 0; r < rounds; r++) {
    await freshTable(h);
    let vlan = 1;
    let expected = 0;
    for (const s of sizes) {
      batches.get(s)!.push(await batch(h, vlan++, s));
      expected += s;
    }
    const count = witnessCount(h);
    if (count !== expected) throw new Error(`round ${r}: bpftool counts ${count} FDB entries, expected ${expected}`);
    await dropTable(h, ns);

    await freshTable(h);
    pipes.push(await pipelined(h, 1, entries));
    const pcount = witnessCount(h);
    if (pcount !== entries) throw new Error(`round ${r}: bpftool counts ${pcount} FDB entries after pipelining, expected ${entries}`);
    await dropTable(h, ns);
  }

  const big = batches.get(entries)!;
  const bigMs = median(big.map((b) => b.ms));
  const oneMs = median(batches.get(1)!.map((b) => b.ms));
  const pipeOps = median(pipes.map((p) => (entries / p.ms) * 1000));
  const startMs = median(fullStarts);

  const lines = [
    `The built helper (dist/helper/helper.js) on this machine, no SSH: started the way the kernel tests start it ` +
      `(\`ip netns exec\` a scratch namespace, \`unshare --mount\`, a bpffs of its own, then \`node helper.js\`), ` +
      `l2fwd attached natively to a veth \`${UPLINK}\`, FDB entries pointing at a veth \`${TARGET}\`. ` +
      `Every table starts empty and every entry is new (a create, with the helper's check that it does not exist yet); ` +
      `after each round bpftool, in the helper's namespaces, counted the entries in the map. ` +
      `Times run from writing the request to reading the last response line (JSON encoding on the benchmark's side is outside the window); ` +
      `helper CPU is what the helper process used meanwhile, all threads (/proc/PID/task/*/schedstat). ` +
      `The helper's state directory (locks, records) is a tmpfs, as /run/hvnet is on a host. ` +
      `Medians of ${rounds} rounds, after ${WARMUP} warm-up rounds (the helper is a long-lived process; its first batches run before V8 has optimised the code, see the cold figure below).`,
    "",
    "### FDB entries in one `batch` request",
    "",
    "| entries | round trip ms (median) | min … max | helper CPU ms | µs per entry |",
    "|---:|---:|---:|---:|---:|",
    ...sizes.map((s) => {
      const xs = batches.get(s)!;
      const ms = median(xs.map((x) => x.ms));
      return `| ${fmtInt(s)} | ${fmt(ms, 2)} | ${fmt(minOf(xs.map((x) => x.ms)), 2)} … ${fmt(maxOf(xs.map((x) => x.ms)), 2)} | ${fmt(median(xs.map((x) => x.cpuMs)), 2)} | ${fmt((ms * 1000) / s, 2)} |`;
    }),
    "",
    `A batch of 1 is the fixed cost of a message (pipe, JSON, table open, lock, netlink socket); the helper's own work for ` +
      `${fmtInt(entries)} entries, the ${fmtInt(entries)}-entry row minus it, is ${fmt(bigMs - oneMs, 1)} ms ` +
      `(JSON parse and validation of every entry, encoding, the existence check, one map batch update, the reply). ` +
      `Cold: the first ${fmtInt(entries)}-entry batch of a freshly started helper took ${fmt(cold.ms, 1)} ms (helper CPU ${fmt(cold.cpuMs, 1)} ms).`,
    "",
    "### Single `fdb.apply` requests, pipelined",
    "",
    `${fmtInt(entries)} requests, one line each, written at once to the helper's stdin; time until the last response line was read. ` +
      `The helper handles the requests of one read from its stdin together: consecutive \`fdb.apply\` go through one map batch ` +
      `update, each keeping its own response (Dispatcher.handleAll).`,
    "",
    "| ops/s (median) | min … max | ms for all | helper CPU µs per op |",
    "|---:|---:|---:|---:|",
    `| ${fmtInt(pipeOps)} | ${fmtInt(minOf(pipes.map((p) => (entries / p.ms) * 1000)))} … ${fmtInt(maxOf(pipes.map((p) => (entries / p.ms) * 1000)))} | ` +
      `${fmt(median(pipes.map((p) => p.ms)), 1)} | ${fmt((median(pipes.map((p) => p.cpuMs)) * 1000) / entries, 1)} |`,
    "",
    "### Helper start → hello reply",
    "",
    `Spawn to the hello reply read, ${starts} starts each, one after another.`,
    "",
    "| how | median ms | min … max |",
    "|---|---:|---:|",
    `| ip netns exec + unshare --mount + mount bpffs + node helper.js (as measured for the target) | ${fmt(startMs, 1)} | ${fmt(minOf(fullStarts), 1)} … ${fmt(maxOf(fullStarts), 1)} |`,
    `| nsenter --net + node helper.js | ${fmt(median(bareStarts), 1)} | ${fmt(minOf(bareStarts), 1)} … ${fmt(maxOf(bareStarts), 1)} |`,
    `| node -e (answers hello, loads nothing): Node's own floor | ${fmt(median(floorStarts), 1)} | ${fmt(minOf(floorStarts), 1)} … ${fmt(maxOf(floorStarts), 1)} |`,
  ];
  const verdicts = [
    atMost(`${fmtInt(entries)} FDB entries in one batch request (round trip)`, bigMs, BATCH_TARGET_MS, "ms"),
    atLeast("single fdb.apply requests, pipelined", pipeOps, PIPELINE_TARGET_OPS, "ops/s"),
    atMost("helper start → hello reply", startMs, START_TARGET_MS, "ms"),
  ];
  return { lines, verdicts };
}

const USAGE = "node dist/bench/helper.js OUTFILE [--rounds N] [--entries N] [--starts N] [--netns NAME]";
const opts = parseArgs(process.argv.slice(2), USAGE, ["entries", "starts", "netns"], 10);
const entries = Number(opts.flags.get("entries") ?? 10_000);
const starts = Number(opts.flags.get("starts") ?? 10);
if (!(entries >= 1000 && entries <= 60_000)) throw new Error("--entries must be 1000 … 60000 (the FDB map holds 65,536)");
if (!(starts >= 1)) throw new Error("--starts must be positive");
const netnsName = opts.flags.get("netns") ?? `hvt-bench-${randomBytes(3).toString("hex")}`;
if (!/^hvt-[A-Za-z0-9-]{1,40}$/.test(netnsName)) throw new Error("--netns must be hvt-<letters, digits, ->");
void runBenchmark("Helper (local)", opts.out, (c) => body(c, opts.rounds, entries, starts, netnsName));
