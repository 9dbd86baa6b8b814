// The helper protocol client against the echo helper run as a local child process: the
// child's pipes stand in for the SSH exec channel (test double of the channel, not SSH).
import { spawn, type ChildProcess } from "node:child_process";
import { EventEmitter } from "node:events";
import * as path from "node:path";
import type { ClientChannel } from "ssh2";
import { bundleHash } from "../../provider/common/bundle-hash";
import { loadBundle } from "../../provider/transport/deploy";
import { HelperError, TransportError } from "../../provider/transport/errors";
import { HelperClient } from "../../provider/transport/helper-client";
import { HelperProcess, NotDeployedError } from "../../provider/transport/helper-process";

const ECHO_DIR = path.resolve(__dirname, "..", "fixtures", "echo-helper");
const HASH = loadBundle(ECHO_DIR).hash;
const children: ChildProcess[] = [];

/** An object with the parts of ssh2's ClientChannel that HelperProcess uses, over a child's pipes. */
function channelFor(cmd: string, args: string[]): ClientChannel {
  const child = spawn(cmd, args, { stdio: "pipe" });
  children.push(child);
  child.stdin.on("error", () => undefined); // EPIPE after the child died
  const ch = new EventEmitter() as EventEmitter & Record<string, unknown>;
  ch.setEncoding = (e: BufferEncoding) => child.stdout.setEncoding(e);
  child.stdout.on("data", (d) => ch.emit("data", d));
  ch.stderr = child.stderr;
  ch.write = (s: string) => child.stdin.write(s);
  ch.end = () => child.stdin.end();
  ch.close = () => child.kill("SIGKILL");
  child.on("exit", (code, signal) => ch.emit("exit", code, signal ?? undefined));
  child.on("close", () => ch.emit("close"));
  return ch as unknown as ClientChannel;
}

const echoChannel = () => channelFor(process.execPath, [path.join(ECHO_DIR, "helper.js")]);
const startEcho = () => HelperProcess.start(echoChannel(), { host: "hv-test", expectedHash: HASH });

afterEach(async () => {
  for (const c of children.splice(0)) {
    if (c.exitCode === null && c.signalCode === null) {
      const gone = new Promise((r) => c.once("close", r));
      c.kill("SIGKILL");
      await gone;
    }
  }
});

test("the bundle hash of the fixture is the one bundle-hash.ts computes, and the helper proves it in hello", async () => {
  expect(HASH).toBe(bundleHash(ECHO_DIR));
  const p = await startEcho();
  expect(p.hello).toEqual({ version: "echo", hash: HASH, pid: children[0].pid });
  await p.close();
});

test("a helper that reports another bundle hash is refused", async () => {
  const wrong = "0".repeat(64);
  await expect(HelperProcess.start(echoChannel(), { host: "hv-test", expectedHash: wrong })).rejects.toThrow(
    new RegExp(`hv-test: helper runs bundle ${HASH}, expected ${wrong}`),
  );
});

test("a probe line instead of a hello answer means: not deployed", async () => {
  const probe = '{"hvnetProbe":{"node":"v18.19.0","nodePath":"/usr/bin/node","libbpf":"none","deployed":false}}';
  const err = await HelperProcess.start(channelFor("sh", ["-c", `echo '${probe}'; exit 3`]), { host: "hv-test", expectedHash: HASH }).catch((e) => e);
  expect(err).toBeInstanceOf(NotDeployedError);
  expect((err as NotDeployedError).probe).toEqual({ node: "v18.19.0", nodePath: "/usr/bin/node", libbpf: "none", deployed: false });
});

test("a helper that dies before hello fails with its stderr", async () => {
  const err = await HelperProcess.start(channelFor("sh", ["-c", "echo 'sudo: a password is required' >&2; exit 1"]), {
    host: "hv-test",
    expectedHash: HASH,
  }).catch((e) => e);
  expect(err).toBeInstanceOf(TransportError);
  expect(err.message).toMatch(/^hv-test: helper did not start \(exit code 1\); stderr:\n  sudo: a password is required/);
});

test("pipelined requests are matched by id even when answers come back out of order", async () => {
  const client = new HelperClient({ host: "hv-test", launch: startEcho, coalesceMs: false });
  const order: string[] = [];
  const slow = client.request("sleep", { ms: 200 }).then(() => order.push("slow"));
  const fast = client.request("echo", { n: 1 }).then((r) => order.push(`fast ${JSON.stringify(r)}`));
  await Promise.all([slow, fast]);
  expect(order).toEqual(['fast {"n":1}', "slow"]);
  await client.close();
});

test("requests issued together are coalesced into few batch messages; each caller gets its own outcome", async () => {
  const client = new HelperClient({ host: "hv-test", launch: startEcho, coalesceMs: 2 });
  const results = await Promise.allSettled(
    Array.from({ length: 100 }, (_, i) => (i === 37 ? client.request("fail", { code: "EEXIST", errno: "EEXIST", kernelMessage: "File exists" }) : client.request("echo", { i }))),
  );
  results.forEach((r, i) => {
    if (i === 37) {
      expect(r.status).toBe("rejected");
      const e = (r as PromiseRejectedResult).reason as HelperError;
      expect(e).toBeInstanceOf(HelperError);
      expect([e.host, e.op, e.code, e.errno, e.kernelMessage]).toEqual(["hv-test", "fail", "EEXIST", "EEXIST", "File exists"]);
    } else {
      expect(r).toEqual({ status: "fulfilled", value: { i } });
    }
  });
  const stats = (await client.request("stats")) as { messages: number; batches: number; requests: number };
  // hello + the 100 requests in one batch + stats itself
  expect(stats.messages).toBe(3);
  expect(stats.batches).toBe(1);
  expect(stats.requests).toBe(100 + 2);
  expect(client.stats.batches).toBe(stats.batches);
  await client.close();
});

test("without coalescing every request is its own message; maxBatch splits large bursts", async () => {
  const plain = new HelperClient({ host: "hv-test", launch: startEcho, coalesceMs: false });
  await Promise.all(Array.from({ length: 20 }, (_, i) => plain.request("echo", { i })));
  expect(((await plain.request("stats")) as { messages: number }).messages).toBe(1 + 20 + 1);
  await plain.close();

  const split = new HelperClient({ host: "hv-test", launch: startEcho, coalesceMs: 0, maxBatch: 10 });
  const out = await Promise.all(Array.from({ length: 35 }, (_, i) => split.request("echo", { i })));
  expect(out.map((o) => (o as { i: number }).i)).toEqual(Array.from({ length: 35 }, (_, i) => i));
  expect(split.stats.messages).toBe(4);
  expect(split.stats.batches).toBe(4); // 10 + 10 + 10 + 5
  await split.close();
});

test("a helper that dies is restarted; in-flight idempotent requests are retried, others fail with stderr", async () => {
  const client = new HelperClient({ host: "hv-test", launch: startEcho, coalesceMs: false });
  const before = (await client.request("pid")) as { pid: number };
  const retried = client.request("sleep", { ms: 300 });
  const notRetried = client.request("sleep", { ms: 300 }, { idempotent: false }).catch((e) => e);
  await new Promise((r) => setTimeout(r, 50));
  await expect(client.request("crash", {}, { idempotent: false })).rejects.toThrow(/helper process died \(exit code 70\)/);
  await expect(retried).resolves.toEqual({ slept: 300 });
  const err = (await notRetried) as HelperError;
  expect(err).toBeInstanceOf(HelperError);
  expect(err.code).toBe("EHELPERDIED");
  expect(err.message).toMatch(/^hv-test: sleep: helper process died \(exit code 70\).*not idempotent/);
  expect(err.stderr.join("\n")).toMatch(/crashing as asked/);
  const after = (await client.request("pid")) as { pid: number };
  expect(after.pid).not.toBe(before.pid);
  expect(client.stats.starts).toBe(2);
  expect(client.stats.retries).toBe(1);
  await client.close();
});

test("an idempotent request is retried only once", async () => {
  // "crash" marked idempotent: it kills the first helper, is retried, and kills the second.
  const client = new HelperClient({ host: "hv-test", launch: startEcho, coalesceMs: false });
  const err = (await client.request("crash", { again: true }).catch((e) => e)) as HelperError;
  expect(err).toBeInstanceOf(HelperError);
  expect(err.message).toMatch(/helper process died \(exit code 70\) with the request in flight, again on the restarted helper/);
  expect(client.stats.starts).toBe(2);
  await client.close();
});

test("a launch failure fails the waiting requests, and the next request launches again", async () => {
  let launches = 0;
  const client = new HelperClient({
    host: "hv-test",
    launch: async () => {
      launches++;
      if (launches === 1) throw new TransportError("hv-test", "cannot connect", "ECONNREFUSED");
      return startEcho();
    },
  });
  const failed = await Promise.allSettled([client.request("echo", { a: 1 }), client.request("echo", { a: 2 })]);
  expect(failed.map((r) => r.status)).toEqual(["rejected", "rejected"]);
  await expect(client.request("echo", { a: 3 })).resolves.toEqual({ a: 3 });
  expect(launches).toBe(2);
  await client.close();
  await expect(client.request("echo", {})).rejects.toThrow(/host pool is closed/);
});

describe("deadlines", () => {
  const savedEnv = process.env.HVNET_REQUEST_TIMEOUT;
  afterEach(() => {
    if (savedEnv === undefined) delete process.env.HVNET_REQUEST_TIMEOUT;
    else process.env.HVNET_REQUEST_TIMEOUT = savedEnv;
  });

  test("every request carries its deadline to the helper: the default, the environment's, its own, and per batch member", async () => {
    // deadlineMs as given, and deadlineAt the same moment in the helper's clock (inMs from now).
    const near = (got: unknown, ms: number) => {
      const { deadlineMs, inMs } = got as { deadlineMs: number; inMs: number };
      expect(deadlineMs).toBe(ms);
      expect(inMs).toBeGreaterThan(ms - 1000);
      expect(inMs).toBeLessThanOrEqual(ms + 50);
    };
    delete process.env.HVNET_REQUEST_TIMEOUT;
    const plain = new HelperClient({ host: "hv-test", launch: startEcho, coalesceMs: false });
    near(await plain.request("deadline"), 60_000);
    near(await plain.request("deadline", {}, { timeoutMs: 1234 }), 1234);
    await plain.close();

    process.env.HVNET_REQUEST_TIMEOUT = "2.5";
    const batched = new HelperClient({ host: "hv-test", launch: startEcho, coalesceMs: 5 });
    const out = await Promise.all([batched.request("deadline"), batched.request("deadline", {}, { timeoutMs: 700 })]);
    near(out[0], 2500);
    near(out[1], 700);
    expect(batched.stats.batches).toBe(1);
    await batched.close();
  });

  test("a bad HVNET_REQUEST_TIMEOUT fails requests with a message naming it", async () => {
    process.env.HVNET_REQUEST_TIMEOUT = "soon";
    const client = new HelperClient({ host: "hv-test", launch: startEcho });
    await expect(client.request("echo", {})).rejects.toThrow('hv-test: HVNET_REQUEST_TIMEOUT must be a number of seconds greater than 0, got "soon"');
    await client.close();
  });

  test("a helper that does not answer by deadline + grace: the request fails saying what it waited for, the helper is stopped, the next request gets a new one", async () => {
    const client = new HelperClient({ host: "hv-test", launch: startEcho, coalesceMs: false, timeoutMs: 400, graceMs: 200 });
    const { pid } = (await client.request("pid")) as { pid: number };
    const t0 = Date.now();
    const hung = client.request("hang").catch((e) => e);
    // Sent after it, so never read by the stuck helper; a longer deadline: retried on the new one.
    const bystander = client.request("echo", { still: "here" }, { timeoutMs: 5000 });
    const err = (await hung) as HelperError;
    const ms = Date.now() - t0;
    expect(err).toBeInstanceOf(HelperError);
    expect(err.code).toBe("ETIMEDOUT");
    expect(err.message).toMatch(new RegExp(`^hv-test: hang: no answer from the helper \\(pid ${pid}\\) within 0\\.4 s, this request's deadline, plus 0\\.2 s: it is stuck`));
    expect(err.message).toMatch(/it was stopped and the next request starts a new one/);
    expect(err.stderr.join("\n")).toMatch(/hanging as asked/);
    expect(ms).toBeGreaterThanOrEqual(550);
    expect(ms).toBeLessThan(3000);
    // Witness: the stuck process is gone (the channel double closes by SIGKILL).
    const stuck = children.find((c) => c.pid === pid)!;
    await new Promise((r) => (stuck.exitCode !== null || stuck.signalCode !== null ? r(undefined) : stuck.once("exit", r)));
    expect(stuck.signalCode).toBe("SIGKILL");
    await expect(bystander).resolves.toEqual({ still: "here" });
    const after = (await client.request("pid")) as { pid: number };
    expect(after.pid).not.toBe(pid);
    expect(client.stats).toMatchObject({ starts: 2, timeouts: 1, retries: 1 });
    await client.close();
  });
});

test("the helper is pinged while connected and told in hello how long a silence means the provider is gone", async () => {
  const p = await HelperProcess.start(echoChannel(), { host: "hv-test", expectedHash: HASH, keepaliveMs: 150 });
  await new Promise((r) => setTimeout(r, 700));
  const client = new HelperClient({ host: "hv-test", launch: async () => p, coalesceMs: false });
  const stats = (await client.request("stats")) as { pings: number; idleExitMs: number };
  expect(stats.pings).toBeGreaterThanOrEqual(3);
  expect(stats.pings).toBeLessThanOrEqual(5);
  expect(stats.idleExitMs).toBe(600); // 4 keepalive intervals
  await client.close();
});
