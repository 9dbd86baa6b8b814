// The host pool over real SSH: one connection and one helper per host, hosts served in
// parallel, helpers restarted after they die, pipelining and coalescing measured.
import { execFileSync } from "node:child_process";
import { existsSync } from "node:fs";
import * as path from "node:path";
import { HelperError, TransportError } from "../../provider/transport/errors";
import type { HostSpec } from "../../provider/transport/host-spec";
import { HostPool } from "../../provider/transport/pool";
import { labUp, type Lab } from "../support/lab";
import { requireRoot } from "../support/require-root";
import { connectionOf } from "../support/runtime";

const ECHO_DIR = path.resolve(__dirname, "..", "fixtures", "echo-helper");
let lab: Lab;
let specs: HostSpec[];
const pools: HostPool[] = [];

function pool(opts: Partial<ConstructorParameters<typeof HostPool>[0]> = {}): HostPool {
  const p = new HostPool({ helperDir: ECHO_DIR, ...opts });
  pools.push(p);
  return p;
}

type Stats = { messages: number; batches: number; requests: number };
const pidOf = async (p: HostPool, s: HostSpec) => ((await p.request(s, "pid")) as { pid: number }).pid;

beforeAll(async () => {
  requireRoot();
  lab = await labUp({ hosts: 3 });
  specs = lab.inventory.hosts.map((h) => connectionOf(h));
});

afterEach(async () => {
  await Promise.all(pools.splice(0).map((p) => p.close()));
});

afterAll(() => {
  lab?.down();
});

test("three hosts are served in parallel, each by its own helper in its own namespace", async () => {
  const p = pool();
  const t0 = Date.now();
  const pids = await Promise.all(specs.map((s) => pidOf(p, s)));
  const ms = Date.now() - t0;
  // Witness: the kernel puts each helper process in that host's network namespace.
  pids.forEach((pid, i) => {
    expect(execFileSync("ip", ["netns", "identify", String(pid)], { encoding: "utf8" }).trim()).toBe(lab.inventory.hosts[i].netns);
  });
  for (const s of specs) expect(p.stats(s)).toMatchObject({ dials: 1, helperStarts: 1 });
  // Later requests reuse the connection and the helper.
  expect(await Promise.all(specs.map((s) => pidOf(p, s)))).toEqual(pids);
  for (const s of specs) expect(p.stats(s)?.dials).toBe(1);
  console.log(`pool: first request to 3 hosts in parallel ${ms} ms (connect + deploy + start each)`);
});

test("a host that is down fails its own requests without holding up the others", async () => {
  // Backoff 1 s: the down host keeps retrying (>= 1.5 s) well after the others answered.
  const p = pool({ dial: { backoffMs: 1000 } });
  const down: HostSpec = { ...specs[0], name: "hv-down", port: 2 };
  const finished: string[] = [];
  const bad = p.request(down, "echo", {}).then(
    () => finished.push("down:ok"),
    (e) => {
      finished.push("down:failed");
      return e;
    },
  );
  const good = await Promise.all(specs.map((s) => p.request(s, "echo", { host: s.name }).then((r) => (finished.push(s.name!), r))));
  expect(good).toEqual(specs.map((s) => ({ host: s.name })));
  const err = await bad;
  expect(err).toBeInstanceOf(TransportError);
  expect(err.message).toMatch(/^hv-down: cannot connect to .*:2 after 3 attempts/);
  // The down host was still retrying while the others answered.
  expect(finished.indexOf("down:failed")).toBe(3);
});

test("a helper killed by its pid is restarted on the next request; the idempotent request in flight is retried", async () => {
  const p = pool({ coalesceMs: false });
  const before = await pidOf(p, specs[0]);
  const inflight = p.request(specs[0], "sleep", { ms: 400 });
  await new Promise((r) => setTimeout(r, 100));
  process.kill(before, "SIGKILL"); // the pid the helper reported (the lab shares our pid namespace)
  await expect(inflight).resolves.toEqual({ slept: 400 });
  const after = await pidOf(p, specs[0]);
  expect(after).not.toBe(before);
  expect(existsSync(`/proc/${before}`)).toBe(false);
  expect(p.stats(specs[0])).toMatchObject({ dials: 1, helperStarts: 2, retries: 1 });
});

test("a helper that crashes fails a non-idempotent request with the host name and its stderr", async () => {
  const p = pool({ coalesceMs: false });
  await p.request(specs[1], "log", { text: "about to go" });
  const err = await p.request(specs[1], "crash", {}, { idempotent: false }).catch((e) => e);
  expect(err).toBeInstanceOf(HelperError);
  expect(err.code).toBe("EHELPERDIED");
  expect(err.message).toMatch(/^hv2: crash: helper process died \(exit code 70\)/);
  expect(err.message).toMatch(/echo-helper\[\d+\]: about to go/);
  expect(err.message).toMatch(/echo-helper\[\d+\]: crashing as asked/);
  await expect(p.request(specs[1], "echo", { back: true })).resolves.toEqual({ back: true });
});

test("helper errors carry code, errno, kernel message and host name", async () => {
  const p = pool();
  const err = await p.request(specs[2], "fail", { code: "EEXIST", message: "link exists", errno: "EEXIST", kernelMessage: "File exists" }).catch((e) => e);
  expect(err).toBeInstanceOf(HelperError);
  expect([err.host, err.op, err.code, err.errno, err.kernelMessage]).toEqual(["hv3", "fail", "EEXIST", "EEXIST", "File exists"]);
  expect(err.message).toBe("hv3: fail: link exists (kernel: File exists)");
});

test("1000 pipelined echo requests over one connection, without and with coalescing", async () => {
  const measure = async (p: HostPool) => {
    await p.request(specs[0], "echo", {}); // connect and start outside the measurement
    const before = (await p.request(specs[0], "stats")) as Stats;
    const t0 = process.hrtime.bigint();
    const out = await Promise.all(Array.from({ length: 1000 }, (_, i) => p.request(specs[0], "echo", { i })));
    const ms = Number(process.hrtime.bigint() - t0) / 1e6;
    expect(out.map((o) => (o as { i: number }).i)).toEqual(Array.from({ length: 1000 }, (_, i) => i));
    const after = (await p.request(specs[0], "stats")) as Stats;
    return { ms, messages: after.messages - before.messages - 1 };
  };
  const plain = await measure(pool({ coalesceMs: false }));
  expect(plain.messages).toBe(1000);
  const coalesced = await measure(pool());
  expect(coalesced.messages).toBeLessThanOrEqual(8); // 1000 / maxBatch 256 = 4 batches
  console.log(
    `pool: 1000 pipelined echo requests: ${plain.ms.toFixed(1)} ms as 1000 messages; ` +
      `${coalesced.ms.toFixed(1)} ms coalesced into ${coalesced.messages} messages`,
  );
});

test("100 concurrent requests reach the helper as far fewer batch messages", async () => {
  const p = pool({ coalesceMs: 2 });
  await p.request(specs[1], "echo", {});
  const before = (await p.request(specs[1], "stats")) as Stats;
  const out = await Promise.all(Array.from({ length: 100 }, (_, i) => p.request(specs[1], "echo", { i })));
  expect(out).toEqual(Array.from({ length: 100 }, (_, i) => ({ i })));
  const after = (await p.request(specs[1], "stats")) as Stats;
  // Counted by the helper itself: minus the stats request that reads the counter.
  expect(after.requests - before.requests - 1).toBe(100);
  expect(after.messages - before.messages - 1).toBe(1);
  expect(after.batches - before.batches).toBe(1);
});

test("closing the pool ends every helper and connection", async () => {
  const p = pool();
  const pids = await Promise.all(specs.map((s) => pidOf(p, s)));
  await p.close();
  // close() resolves once each helper's channel closed, which sshd does after the process exited.
  for (const pid of pids) expect(existsSync(`/proc/${pid}`)).toBe(false);
  await expect(p.request(specs[0], "echo", {})).rejects.toThrow(/host pool is closed/);
});
