// End to end: input that can never work fails `preview` (and `up`) with the field named,
// before any host is contacted: on a fresh lab, no SSH login and no helper deployment.
import path from "node:path";
import { type Lab } from "../support/lab";
import { helperDir, snapshotAll, sshLogins } from "./support/hosts";
import { exampleSuite } from "./support/suite";
import { ExampleProject } from "./support/project";

jest.setTimeout(10 * 60_000);

let lab: Lab;
let project: ExampleProject;

async function newStack(name: string, config: Record<string, string>): Promise<string> {
  made.push(name);
  await project.newStack(name, { "hvnet:inventory": path.join(lab.dir, "inventory.json"), ...config });
  return name;
}

function untouched(before: ReturnType<typeof snapshotAll>): void {
  expect(snapshotAll(lab)).toEqual(before);
  expect(helperDir(lab, "hv1")).toBeNull();
  expect(sshLogins(lab, "hv1")).toBe(0);
}

const { made } = exampleSuite("quickstart", 1, (l, p) => { lab = l; project = p; });

test("VLAN 4095 fails preview and up naming the field; no host is contacted", async () => {
  const before = snapshotAll(lab);
  const stack = await newStack("vlan", { vlan: "4095" });
  const preview = await project.pulumi(["preview", "--stack", stack]);
  expect(preview.code).not.toBe(0);
  expect(preview.output).toMatch(/VmInterface\.vlan: must be at most 4094, got 4095/);
  untouched(before);

  const up = await project.pulumi(["up", "--yes", "--stack", stack]);
  expect(up.code).not.toBe(0);
  expect(up.output).toMatch(/\.vlan: must be at most 4094, got 4095/);
  untouched(before);
});

test("a bad MAC fails preview naming the field and the value; no host is contacted", async () => {
  const before = snapshotAll(lab);
  const stack = await newStack("mac", {
    vms: JSON.stringify([{ name: "vm1", mac: "52:54:00:zz:01:01", addresses: ["10.100.0.11"] }]),
  });
  const preview = await project.pulumi(["preview", "--stack", stack]);
  expect(preview.code).not.toBe(0);
  expect(preview.output).toMatch(/VmInterface\.mac: "52:54:00:zz:01:01" is not a MAC address/);
  expect(preview.output).toMatch(/resource 'vm1': property mac/);
  untouched(before);
});
