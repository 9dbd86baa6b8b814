// End to end: examples/fleet over a 3-host lab through the real Pulumi CLI. The hosts are
// given as stack config `hosts` (a secret), the way real hypervisors are. One batch applies
// to its hosts in parallel; a failing canary stops the rollout before the other hosts.
import { readFileSync } from "node:fs";
import { labUp, type Lab } from "../support/lab";
import { requireCommand, requireRoot } from "../support/require-root";
import { barrierProxies, type TcpBarrier } from "../support/tcp-barrier";
import { helperDir, link, snapshotAll, sshLogins } from "./support/hosts";
import { ExampleProject, parseEvents, REPO, stepOps, type RunResult } from "./support/project";

jest.setTimeout(10 * 60_000);

/**
 * Longer than a parallel runner ever needs between its first and last dial, even on a loaded
 * machine (the provider retries a handshake its own timeout cut short, and the retry is held
 * too); a serial runner never gets there.
 */
const DIAL_WINDOW_MS = 60_000;

let project: ExampleProject;
const labs: Lab[] = [];
const made: string[] = [];
const barriers: TcpBarrier[] = [];

/**
 * `hosts` config for every host of a lab: what a user writes for real hypervisors. Through
 * a barrier, each host is reached at its proxy; its hostKey stays the host's own, so the
 * pin is checked against the key the sshd behind the proxy presents, as for any address.
 */
function hostsConfig(lab: Lab, via?: TcpBarrier): string {
  return JSON.stringify(lab.inventory.hosts.map((h, i) => ({
    name: h.name, address: via ? "127.0.0.1" : h.address, port: via ? via.ports[i] : h.port, user: h.user, hostKey: h.hostKey,
    privateKey: readFileSync(h.privateKeyPath, "utf8"), uplink: h.uplink,
  })));
}

/** Closed in afterEach, after the stacks' destroy: that destroy reaches the hosts through it. */
async function barrierFor(lab: Lab): Promise<TcpBarrier> {
  const barrier = await barrierProxies(lab.inventory.hosts);
  barriers.push(barrier);
  return barrier;
}

/**
 * Fails unless every host was dialed before any of them answered. A runner that went
 * host by host would wait on its first host, which never answers: its up then ends with
 * that host's connection timing out, or the deadline passes; either way, this says so.
 * On failure the barrier is closed and the up awaited, so that cleanup's destroy does not
 * meet an up still holding the stack.
 */
async function dialedAtOnce(barrier: TcpBarrier, up: Promise<RunResult>): Promise<void> {
  const fail = (why: string) =>
    new Error(`the fleet did not dial all three hosts at once: ${why} (dialed: ${barrier.dialed().join(", ") || "none"})`);
  let timer: NodeJS.Timeout | undefined;
  // From the first dial: how long Pulumi takes to get there depends on the machine's load,
  // the dials of one batch following one another do not.
  const deadline = barrier.firstDial.then(() => new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(fail(`the rest were not dialed within ${DIAL_WINDOW_MS / 1000} s of the first`)), DIAL_WINDOW_MS).unref();
  }));
  const ended = up.then((r): never => {
    throw fail(`up ended first, exit ${r.code}:\n${r.output.trim().split("\n").slice(-30).join("\n")}`);
  });
  deadline.catch(() => undefined);
  ended.catch(() => undefined);
  try {
    await Promise.race([barrier.reached, deadline, ended]);
  } catch (err) {
    barrier.close();
    await up;
    throw err;
  } finally {
    clearTimeout(timer);
  }
}

async function freshLab(): Promise<Lab> {
  const lab = await labUp({ hosts: 3 });
  labs.push(lab);
  return lab;
}

async function newStack(name: string, lab: Lab, config: Record<string, string> = {}, via?: TcpBarrier): Promise<string> {
  made.push(name);
  await project.newStack(name, config, { hosts: hostsConfig(lab, via) });
  return name;
}

beforeAll(async () => {
  requireRoot();
  requireCommand("bpftool");
  project = await ExampleProject.create("fleet");
}, 10 * 60_000);

afterEach(async () => {
  const problems: string[] = [];
  try {
    for (const stack of made.splice(0)) problems.push(...(await project.dropStack(stack)));
  } finally {
    for (const barrier of barriers.splice(0)) barrier.close();
    for (const lab of labs.splice(0)) lab.down();
  }
  if (problems.length) throw new Error(`cleanup: ${problems.join("\n")}`);
});

afterAll(() => {
  project?.remove();
  for (const barrier of barriers.splice(0)) barrier.close();
  for (const lab of labs.splice(0)) lab.down();
});

test("one batch of three hosts is applied to all of them in parallel", async () => {
  const lab = await freshLab();
  const barrier = await barrierFor(lab);
  const stack = await newStack("parallel", lab, { canary: "false" }, barrier);
  const up = project.pulumi(["up", "--yes", "--skip-preview", "--json", "--stack", stack]);
  await dialedAtOnce(barrier, up);
  const r = await up;
  if (r.code !== 0) throw new Error(`pulumi up exited ${r.code}:\n${r.output}`);
  console.log(`fleet: up over 3 hosts ${r.ms} ms, all three dialed before any answered`);
  const ops = stepOps(parseEvents(r.stdout));
  expect(Object.values(ops).filter((op) => op === "create")).toHaveLength(9);
  for (const h of lab.inventory.hosts) expect(link(lab, h.name, "uplink0")?.xdp?.prog?.name).toBe("l2fwd");
});

test("a canary that fails stops the rollout: the other hosts are never contacted", async () => {
  const lab = await freshLab();
  const pristine = snapshotAll(lab);
  // Someone else's XDP program on the canary's uplink: hvnet refuses to take it over.
  // (bpftool, unlike ip, leaves no directories of its own in bpffs once the pin is gone.)
  const pin = "/sys/fs/bpf/hvt-foreign";
  lab.hostExec("hv1", "bpftool", ["prog", "load", `${REPO}/dist/bpf/pass.o`, pin, "type", "xdp"]);
  lab.hostExec("hv1", "bpftool", ["net", "attach", "xdpgeneric", "pinned", pin, "dev", "uplink0"]);
  lab.hostExec("hv1", "rm", [pin]);
  const stack = await newStack("canary", lab);

  const failed = await project.pulumi(["up", "--yes", "--skip-preview", "--stack", stack]);
  expect(failed.code).not.toBe(0);
  expect(failed.output).toMatch(/hv1-uplink/);
  expect(failed.output).toMatch(/uplink0 already has an XDP program .* that hvnet does not manage/);
  for (const h of ["hv2", "hv3"]) {
    expect(helperDir(lab, h)).toBeNull();
    expect(sshLogins(lab, h)).toBe(0);
    expect(snapshotAll(lab)[h]).toEqual(pristine[h]);
  }

  // Once the canary's uplink is free, the same up rolls out everywhere.
  lab.hostExec("hv1", "bpftool", ["net", "detach", "xdpgeneric", "dev", "uplink0"]);
  const ok = await project.pulumiOk(["up", "--yes", "--skip-preview", "--stack", stack]);
  expect(ok.stdout).toMatch(/Resources:/);
  for (const h of lab.inventory.hosts) {
    expect(link(lab, h.name, "uplink0")?.xdp?.prog?.name).toBe("l2fwd");
    expect(link(lab, h.name, "tap-vm1")?.xdp?.prog?.name).toBe("vm_egress");
  }
  const destroyed = await project.pulumiOk(["destroy", "--yes", "--skip-preview", "--stack", stack]);
  expect(destroyed.code).toBe(0);
  const after = snapshotAll(lab);
  for (const h of lab.inventory.hosts) expect(after[h.name]).toEqual(pristine[h.name]);
});
