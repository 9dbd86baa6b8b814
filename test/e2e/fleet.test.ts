// End to end: examples/fleet over a 3-host lab through the real Pulumi CLI. The hosts are
// given as stack config `hosts` (a secret), the way real hypervisors are. One batch applies
// to its hosts in parallel; a failing canary stops the rollout before the other hosts.
import { readFileSync } from "node:fs";
import { labUp, type Lab } from "../support/lab";
import { requireCommand, requireRoot } from "../support/require-root";
import { helperDir, hvnetTimes, link, snapshotAll, sshLogins } from "./support/hosts";
import { ExampleProject, parseEvents, REPO, stepOps } from "./support/project";

jest.setTimeout(10 * 60_000);

let project: ExampleProject;
const labs: Lab[] = [];
const made: string[] = [];

/** `hosts` config for every host of a lab: what a user writes for real hypervisors. */
function hostsConfig(lab: Lab): string {
  return JSON.stringify(lab.inventory.hosts.map((h) => ({
    name: h.name, address: h.address, port: h.port, user: h.user, hostKey: h.hostKey,
    privateKey: readFileSync(h.privateKeyPath, "utf8"), uplink: h.uplink,
  })));
}

async function freshLab(): Promise<Lab> {
  const lab = await labUp({ hosts: 3 });
  labs.push(lab);
  return lab;
}

async function newStack(name: string, lab: Lab, config: Record<string, string> = {}): Promise<string> {
  made.push(name);
  await project.newStack(name, config, { hosts: hostsConfig(lab) });
  return name;
}

beforeAll(async () => {
  requireRoot();
  requireCommand("bpftool");
  project = await ExampleProject.create("fleet");
}, 10 * 60_000);

afterEach(async () => {
  const problems: string[] = [];
  for (const stack of made.splice(0)) problems.push(...(await project.dropStack(stack)));
  for (const lab of labs.splice(0)) lab.down();
  if (problems.length) throw new Error(`cleanup: ${problems.join("\n")}`);
});

afterAll(() => {
  project?.remove();
  for (const lab of labs.splice(0)) lab.down();
});

test("one batch of three hosts is applied to all of them in parallel", async () => {
  const lab = await freshLab();
  const stack = await newStack("parallel", lab, { canary: "false" });
  const r = await project.pulumiOk(["up", "--yes", "--skip-preview", "--json", "--stack", stack]);
  const ops = stepOps(parseEvents(r.stdout));
  expect(Object.values(ops).filter((op) => op === "create")).toHaveLength(9);

  // Each host's span of work, from its helper's deployment to the last object hvnet made,
  // as the host's own file times say. Hosts done one after another would not overlap.
  const spans = lab.inventory.hosts.map((h) => {
    const t = hvnetTimes(lab, h.name);
    return { host: h.name, start: Math.min(...t), end: Math.max(...t) };
  });
  const latestStart = Math.max(...spans.map((s) => s.start));
  const earliestEnd = Math.min(...spans.map((s) => s.end));
  console.log(`fleet: up over 3 hosts ${r.ms} ms; per-host spans (s): ${spans.map((s) => `${s.host} ${(s.end - s.start).toFixed(3)}`).join(", ")}; common overlap ${(earliestEnd - latestStart).toFixed(3)} s`);
  expect(latestStart).toBeLessThan(earliestEnd);
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
