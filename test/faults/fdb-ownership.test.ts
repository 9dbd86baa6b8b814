// Faults: two stacks on one host declaring the same FDB entry, through the real Pulumi CLI
// against a lab. Stack A is examples/quickstart; stack B is a second program (in a copy of
// the quickstart project) that declares only that entry, in A's table. B is refused,
// naming A's resource; destroying B leaves A's entry; B with adopt takes it over, and from
// then on A's delete leaves it and B's removes it. bpftool inside the host is the witness.
import { writeFileSync } from "node:fs";
import path from "node:path";
import { type Lab } from "../support/lab";
import { fdbEntries, link, snapshotAll, type HostSnapshot } from "../e2e/support/hosts";
import { exampleSuite } from "../e2e/support/suite";
import { ExampleProject } from "../e2e/support/project";

jest.setTimeout(15 * 60_000);

const FDB = "/sys/fs/bpf/hvnet/xdp/root/uplink0/maps/fdb";
const VM1 = "52:54:00:00:01:01";
const VM2 = "52:54:00:00:01:02";
const HV = "hv1";

// Stack B's program: the one entry, in the table and on the device config names.
const ENTRY_ONLY = `import * as pulumi from "@pulumi/pulumi";
import * as hvnet from "@hvnet/pulumi";

export = async () => {
  const config = new pulumi.Config();
  const [target] = await hvnet.stackTargets();
  new hvnet.FdbEntry("shared-fdb", {
    host: target.host,
    table: config.require("table"),
    vlan: config.requireNumber("vlan"),
    mac: config.require("mac"),
    device: config.require("device"),
    adopt: config.getBoolean("adopt"),
  });
};
`;

let lab: Lab;
let a: ExampleProject;
let b: ExampleProject | undefined;
let pristine: Record<string, HostSnapshot>;
const bStacks: string[] = [];

const { made } = exampleSuite("quickstart", 1, (l, p) => {
  lab = l;
  a = p;
  pristine = snapshotAll(l);
});

afterEach(async () => {
  const problems: string[] = [];
  for (const s of bStacks.splice(0)) problems.push(...(await b!.dropStack(s)));
  if (problems.length) throw new Error(`cleanup: ${problems.join("\n")}`);
});

afterAll(() => {
  b?.remove();
});

const ifindexOf = (name: string) => {
  const l = link(lab, HV, name);
  if (!l) throw new Error(`${HV} has no link ${name}`);
  return l.ifindex;
};
const entryOf = (mac: string) => fdbEntries(lab, HV, FDB).find((e) => e.mac === mac);

test("a second stack is refused naming the first's entry; its destroy leaves it; with adopt it takes it over", async () => {
  const stackA = "alpha";
  made.push(stackA);
  await a.newStack(stackA, { "hvnet:inventory": path.join(lab.dir, "inventory.json") });
  await a.pulumiOk(["up", "--yes", "--skip-preview", "--stack", stackA]);
  const tap1 = ifindexOf("tap-vm1");
  const tap2 = ifindexOf("tap-vm2");
  expect(entryOf(VM1)?.ifindex).toBe(tap1);

  b = await ExampleProject.create("quickstart");
  writeFileSync(path.join(b.dir, "index.ts"), ENTRY_ONLY);
  const stackB = "beta";
  bStacks.push(stackB);
  await b.newStack(stackB, {
    "hvnet:inventory": path.join(lab.dir, "inventory.json"),
    table: FDB, vlan: "100", mac: VM1, device: "tap-vm1",
  });

  // The very same entry (same target): before owners, B "created" it silently.
  const refused = await b.pulumi(["up", "--yes", "--skip-preview", "--stack", stackB]);
  expect(refused.code).not.toBe(0);
  expect(refused.output).toContain(`FDB entry vlan 100 ${VM1} in ${FDB} is owned by hvnet-quickstart/${stackA}/FdbEntry/vm1-fdb`);
  expect(refused.output).toContain("set adopt: true to take it over");
  expect(entryOf(VM1)?.ifindex).toBe(tap1);

  // Destroying B (which holds nothing) leaves A's entry: before owners it deleted it.
  await b.pulumiOk(["destroy", "--yes", "--skip-preview", "--stack", stackB]);
  expect(entryOf(VM1)?.ifindex).toBe(tap1);
  expect((await a.pulumi(["preview", "--expect-no-changes", "--stack", stackA])).code).toBe(0);

  // With adopt, B takes it over (and points it at vm2's tap).
  await b.setConfig(stackB, "adopt", "true");
  await b.setConfig(stackB, "device", "tap-vm2");
  await b.pulumiOk(["up", "--yes", "--skip-preview", "--stack", stackB]);
  expect(entryOf(VM1)?.ifindex).toBe(tap2);

  // A's delete of its entry now leaves it: it is B's.
  const state = await a.exportState(stackA);
  const urn = String(state.deployment.resources.find((r) => String(r.urn).endsWith("::vm1-fdb"))!.urn);
  const forget = await a.pulumiOk(["destroy", "--yes", "--skip-preview", "--stack", stackA, "--target", urn]);
  expect(forget.output).toMatch(/1 deleted/);
  expect(entryOf(VM1)?.ifindex).toBe(tap2);

  // B's destroy removes it.
  await b.pulumiOk(["destroy", "--yes", "--skip-preview", "--stack", stackB]);
  expect(entryOf(VM1)).toBeUndefined();
  expect(entryOf(VM2)?.ifindex).toBe(tap2);

  // And A's destroy leaves the host as it was: no entry, no owner record, nothing.
  await a.pulumiOk(["destroy", "--yes", "--skip-preview", "--stack", stackA]);
  expect(snapshotAll(lab)).toEqual(pristine);
});
