// End to end: examples/netkit-afxdp on the lab, whose kernel and veth NICs have neither
// netkit queue leases nor RSS contexts nor ntuple filters. Preview and up fail early with
// one error naming the host, its kernel and each missing capability, and change nothing.
import os from "node:os";
import path from "node:path";
import { type Lab } from "../support/lab";
import { snapshotAll } from "./support/hosts";
import { exampleSuite } from "./support/suite";
import { ExampleProject } from "./support/project";

jest.setTimeout(10 * 60_000);

let lab: Lab;
let project: ExampleProject;

const { made } = exampleSuite("netkit-afxdp", 1, (l, p) => { lab = l; project = p; });

test("preview and up fail with a capability error naming the host and what it lacks; nothing changes", async () => {
  const before = snapshotAll(lab);
  made.push("lab");
  await project.newStack("lab", { "hvnet:inventory": path.join(lab.dir, "inventory.json") });

  for (const cmd of [["preview"], ["up", "--yes"]]) {
    const r = await project.pulumi([...cmd, "--stack", "lab"]);
    expect(r.code).not.toBe(0);
    const error = r.output.split("\n").find((l) => l.includes("lacks what this program needs"));
    expect(error).toBeDefined();
    expect(error).toContain(`hv1 (kernel ${os.release()})`);
    expect(error).toMatch(/netkit-lease: /);
    expect(error).toMatch(/rss-contexts: uplink0 \(driver veth\) has no additional RSS contexts/);
    expect(error).toMatch(/ntuple: uplink0 \(driver veth\) cannot steer flows/);
    // A plain message, not a stack trace, and the program did not wait on open connections.
    expect(r.output).not.toMatch(/at requireCapabilities|\.ts:\d+:\d+/);
    console.log(`netkit-afxdp: ${cmd[0]} failed in ${r.ms} ms`);
  }
  expect(snapshotAll(lab)).toEqual(before);
  const { deployment } = await project.exportState("lab");
  expect((deployment.resources ?? []).filter((r) => String(r.type).includes("hvnet"))).toEqual([]);
});
