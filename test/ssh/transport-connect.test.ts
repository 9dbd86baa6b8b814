// SSH connections to lab hosts through Debian's sshd: host-key pinning, explicit opt-out,
// retry policy, the jump host and the per-connection channel limit.
import { execFileSync, spawn } from "node:child_process";
import { mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import * as path from "node:path";
import { dial, type SshConnection } from "../../provider/transport/connection";
import { AuthError, HostKeyMismatchError, TransportError } from "../../provider/transport/errors";
import type { HostSpec } from "../../provider/transport/host-spec";
import { Semaphore } from "../../provider/transport/semaphore";
import { coalescingProxy } from "../support/coalescing-proxy";
import { labUp, type Lab } from "../support/lab";
import { requireRoot } from "../support/require-root";

let lab: Lab;
let scratch: string;
let hv1: HostSpec;
let hv2: HostSpec;
const open: SshConnection[] = [];

/** A handshake limiter that counts handshakes: one per connection attempt. */
class CountingLimiter extends Semaphore {
  handshakes = 0;
  override acquire() {
    this.handshakes++;
    return super.acquire();
  }
}

async function connect(spec: HostSpec, opts = {}): Promise<SshConnection> {
  const c = await dial(spec, opts);
  open.push(c);
  return c;
}

beforeAll(async () => {
  requireRoot();
  scratch = mkdtempSync(path.join(tmpdir(), "hvt-transport-"));
  lab = await labUp({ hosts: 2 });
  const key = readFileSync(lab.inventory.hosts[0].privateKeyPath, "utf8");
  const [h1, h2] = lab.inventory.hosts;
  hv1 = { name: h1.name, address: h1.address, port: h1.port, user: h1.user, privateKey: key, hostKey: h1.hostKey };
  hv2 = { name: h2.name, address: h2.address, port: h2.port, user: h2.user, privateKey: key, hostKey: h2.hostKey };
});

afterEach(() => {
  for (const c of open.splice(0)) c.close();
});

afterAll(() => {
  try {
    lab?.down();
  } finally {
    if (scratch) rmSync(scratch, { recursive: true, force: true });
  }
});

test("connects with the pinned SHA256 fingerprint, and with the pinned key line", async () => {
  const c = await connect(hv1);
  const r = await c.exec("id -u; echo $SSH_CONNECTION");
  expect(r.code).toBe(0);
  const [uid, conn] = r.stdout.trim().split("\n");
  expect(uid).toBe("0");
  // Witness of where we landed: sshd reports its own address as the server side.
  expect(conn.split(" ")[2]).toBe(hv1.address);

  const knownHosts = readFileSync(lab.inventory.knownHosts, "utf8").split("\n");
  const line = knownHosts.find((l) => l.startsWith(`${hv1.address} `))!;
  const c2 = await connect({ ...hv1, hostKey: line.split(" ").slice(1).join(" ") });
  expect((await c2.exec("true")).code).toBe(0);
});

test("authenticates through an ssh-agent socket when no private key is given", async () => {
  const sock = path.join(scratch, "agent.sock");
  // -D: foreground, so the pid we hold is the agent's own (killed below).
  const agent = spawn("ssh-agent", ["-D", "-a", sock], { stdio: ["ignore", "pipe", "pipe"] });
  try {
    await new Promise<void>((resolve, reject) => {
      agent.stdout!.once("data", () => resolve());
      agent.once("exit", (code) => reject(new Error(`ssh-agent exited ${code}`)));
    });
    execFileSync("ssh-add", ["-q", lab.inventory.hosts[0].privateKeyPath], { env: { ...process.env, SSH_AUTH_SOCK: sock }, stdio: "ignore" });
    const { privateKey: _unused, ...noKey } = hv1;
    const c = await connect({ ...noKey, agentSocket: sock });
    expect((await c.exec("echo via-agent")).stdout).toBe("via-agent\n");
  } finally {
    const gone = new Promise((r) => agent.once("close", r));
    agent.kill("SIGTERM");
    await gone;
  }
});

test("a command whose whole life arrives in one read with its channel's opening keeps its exit status", async () => {
  // Channel success, output, exit-status and close in one segment: ssh2 handles them all
  // before the exec's open resolves, so an exit status read from an event attached after
  // it was lost, and a deploy that had worked read as "exit null".
  const proxy = await coalescingProxy(hv1.address, hv1.port!, 150);
  try {
    const c = await connect({ ...hv1, address: "127.0.0.1", port: proxy.port });
    for (const [cmd, code, out] of [["echo deployed", 0, "deployed\n"], ["echo refused >&2; exit 3", 3, ""]] as const) {
      const r = await c.exec(cmd);
      expect([r.code, r.signal, r.stdout]).toEqual([code, undefined, out]);
    }
  } finally {
    proxy.close();
  }
});

test("a host presenting another key is refused, naming the host and both fingerprints; never retried", async () => {
  const limiter = new CountingLimiter(8);
  const err = await dial({ ...hv1, hostKey: hv2.hostKey }, { handshakeLimiter: limiter }).catch((e) => e);
  expect(err).toBeInstanceOf(HostKeyMismatchError);
  expect(err.message).toContain("hv1: host key mismatch");
  expect(err.message).toContain(`expected ${hv2.hostKey}`);
  expect(err.message).toContain(`host presented ${hv1.hostKey} (ssh-ed25519)`);
  // The lab host has only an ed25519 key: one handshake, then a handshake offering the
  // other types finds none the server has; no retry beyond that.
  expect(limiter.handshakes).toBe(2);

  // Pinned by key line: the type is known, so exactly one handshake.
  const pubOfHv2 = readFileSync(lab.inventory.knownHosts, "utf8").split("\n").find((l) => l.startsWith(`${hv2.address} `))!;
  const byLine = new CountingLimiter(8);
  const err2 = await dial({ ...hv1, hostKey: pubOfHv2 }, { handshakeLimiter: byLine }).catch((e) => e);
  expect(err2).toBeInstanceOf(HostKeyMismatchError);
  expect(err2.message).toContain(`expected ${hv2.hostKey}, host presented ${hv1.hostKey}`);
  expect(byLine.handshakes).toBe(1);
});

test("without a host key the connection is refused unless insecureIgnoreHostKey is set", async () => {
  const { hostKey: _unused, ...noKey } = hv1;
  const err = await dial(noKey).catch((e) => e);
  expect(err).toBeInstanceOf(TransportError);
  expect(err.code).toBe("EINVAL");
  expect(err.message).toBe("hv1: host.hostKey is required (or set host.insecureIgnoreHostKey: true)");
  const c = await connect({ ...noKey, insecureIgnoreHostKey: true });
  expect((await c.exec("echo ok")).stdout).toBe("ok\n");
});

test("a refused port is retried 3 times with backoff; an authentication failure is not retried", async () => {
  const limiter = new CountingLimiter(8);
  const t0 = Date.now();
  // Port 2 on the lab host's own address: nothing listens there.
  const refused = await dial({ ...hv1, port: 2 }, { handshakeLimiter: limiter, backoffMs: 100 }).catch((e) => e);
  expect(refused).toBeInstanceOf(TransportError);
  expect(refused.code).toBe("ECONNREFUSED");
  expect(refused.message).toMatch(new RegExp(`^hv1: cannot connect to ${hv1.address.replace(/\./g, "\\.")}:2 after 3 attempts`));
  expect(limiter.handshakes).toBe(3);
  expect(Date.now() - t0).toBeGreaterThanOrEqual(100 * 0.5 + 200 * 0.5);

  const stranger = path.join(scratch, "stranger");
  execFileSync("ssh-keygen", ["-q", "-t", "ed25519", "-N", "", "-f", stranger]);
  const authLimiter = new CountingLimiter(8);
  const denied = await dial({ ...hv1, privateKey: readFileSync(stranger, "utf8") }, { handshakeLimiter: authLimiter }).catch((e) => e);
  expect(denied).toBeInstanceOf(AuthError);
  expect(denied.message).toMatch(/^hv1: authentication as root failed/);
  expect(authLimiter.handshakes).toBe(1);
});

test("a server that accepts but never speaks SSH is abandoned after readyTimeout, and retried", async () => {
  // A silent TCP listener inside hv1's network namespace (recorded pid, killed below).
  const listener = spawn("ip", ["netns", "exec", lab.inventory.hosts[0].netns, process.execPath, "-e",
    `require("net").createServer(() => {}).listen(2222, ${JSON.stringify(hv1.address)}, () => console.log("listening"))`], { stdio: ["ignore", "pipe", "inherit"] });
  try {
    await new Promise<void>((resolve, reject) => {
      listener.stdout!.once("data", () => resolve());
      listener.once("exit", (code) => reject(new Error(`listener exited ${code}`)));
    });
    const limiter = new CountingLimiter(8);
    const t0 = Date.now();
    const err = await dial({ ...hv1, port: 2222 }, { readyTimeoutMs: 300, attempts: 2, backoffMs: 50, handshakeLimiter: limiter }).catch((e) => e);
    const ms = Date.now() - t0;
    expect(err).toBeInstanceOf(TransportError);
    expect(err.message).toMatch(/^hv1: cannot connect to .*:2222 after 2 attempts: Timed out while waiting for handshake/);
    expect(limiter.handshakes).toBe(2);
    expect(ms).toBeGreaterThanOrEqual(600);
    expect(ms).toBeLessThan(3000);
  } finally {
    const gone = new Promise((r) => listener.once("close", r));
    listener.kill("SIGKILL");
    await gone;
  }
});

test("a jump host carries the connection: the target sees the bastion as the client", async () => {
  const c = await connect({ ...hv2, jumpHost: hv1 });
  const viaJump = (await c.exec("echo $SSH_CLIENT")).stdout.trim().split(" ")[0];
  const direct = await connect(hv2);
  const directClient = (await direct.exec("echo $SSH_CLIENT")).stdout.trim().split(" ")[0];
  expect(viaJump).toBe(hv1.address);
  expect(directClient).not.toBe(hv1.address);
  // Closing the target connection closes the bastion connection it owns.
  const closed = new Promise((r) => c.once("close", r));
  c.close();
  await closed;
});

test("a jump host with a wrong pin fails as the jump host's error", async () => {
  const err = await dial({ ...hv2, jumpHost: { ...hv1, hostKey: hv2.hostKey } }).catch((e) => e);
  expect(err).toBeInstanceOf(TransportError);
  expect(err.message).toMatch(/^hv2: via jump host: hv1: host key mismatch/);
});

test("at most 8 channels are open at once on one connection; the rest wait", async () => {
  const c = await connect(hv1);
  let peak = 0;
  const sample = setInterval(() => (peak = Math.max(peak, c.channelsInUse)), 5);
  const t0 = Date.now();
  try {
    const results = await Promise.all(Array.from({ length: 12 }, () => c.exec("sleep 0.4; echo done")));
    expect(results.every((r) => r.code === 0 && r.stdout === "done\n")).toBe(true);
  } finally {
    clearInterval(sample);
  }
  expect(peak).toBe(8);
  // Two waves of 0.4 s: the four extra channels waited for a free slot.
  expect(Date.now() - t0).toBeGreaterThanOrEqual(800);
  expect(c.stats.execs).toBe(12);
  expect(c.channelsInUse).toBe(0);
});
