// Fault: a host's SSH host key is legitimately replaced and the stack's hosts updated
// (here: the lab inventory the stack reads). refresh and destroy must reach the host
// through the current connection, not the one recorded at the last `up`, and destroy must
// leave the host as it was. Real Pulumi CLI, real sshd restarted on a new key.
import { readFileSync } from "node:fs";
import path from "node:path";
import { type Lab } from "../support/lab";
import { snapshotAll, type HostSnapshot } from "../e2e/support/hosts";
import { exampleSuite } from "../e2e/support/suite";
import { ExampleProject } from "../e2e/support/project";
import { rotateHostKey } from "./support/rotate";

jest.setTimeout(10 * 60_000);

let lab: Lab;
let project: ExampleProject;
let pristine: Record<string, HostSnapshot>;

const { made } = exampleSuite("quickstart", 1, (l, p) => { lab = l; project = p; pristine = snapshotAll(l); });

test("after hv1's host key is replaced and the inventory updated, refresh and destroy succeed and leave hv1 clean", async () => {
  const stack = "rotated";
  made.push(stack);
  await project.newStack(stack, { "hvnet:inventory": path.join(lab.dir, "inventory.json") });
  await project.pulumiOk(["up", "--yes", "--skip-preview", "--stack", stack]);
  expect(snapshotAll(lab).hv1).not.toEqual(pristine.hv1);
  const oldKey = lab.inventory.hosts[0].hostKey;

  const newKey = await rotateHostKey(lab, "hv1");
  expect(newKey).not.toBe(oldKey);

  const refresh = await project.pulumi(["refresh", "--yes", "--skip-preview", "--stack", stack]);
  expect(refresh.output).not.toMatch(/host key/i);
  expect(refresh.code).toBe(0);

  const destroy = await project.pulumi(["destroy", "--yes", "--skip-preview", "--stack", stack]);
  expect(destroy.output).not.toMatch(/host key/i);
  expect(destroy.code).toBe(0);
  expect(destroy.stdout).toMatch(/6 deleted/);
  expect(snapshotAll(lab)).toEqual(pristine);
});

// Pulumi hands refresh and destroy the config recorded at the last `up`, not the stack's
// current config; `--run-program` gives them the current one (the lab inventory above is a
// file, read fresh in any case).
test("with stack config hosts updated after the key is replaced, refresh and destroy --run-program succeed and leave hv1 clean", async () => {
  const stack = "configured";
  made.push(stack);
  const hosts = () => {
    const h = lab.inventory.hosts[0];
    return JSON.stringify([{
      name: h.name, address: h.address, port: h.port, user: h.user, hostKey: h.hostKey,
      privateKey: readFileSync(h.privateKeyPath, "utf8"), uplink: h.uplink,
    }]);
  };
  await project.newStack(stack, {}, { hosts: hosts() });
  await project.pulumiOk(["up", "--yes", "--skip-preview", "--stack", stack]);
  expect(snapshotAll(lab).hv1).not.toEqual(pristine.hv1);

  await rotateHostKey(lab, "hv1");
  await project.pulumiOk(["config", "set", "--secret", "--stack", stack, "--", "hosts", hosts()]);

  const refresh = await project.pulumi(["refresh", "--run-program", "--yes", "--skip-preview", "--stack", stack]);
  expect(refresh.output).not.toMatch(/host key/i);
  expect(refresh.code).toBe(0);

  const destroy = await project.pulumi(["destroy", "--run-program", "--yes", "--skip-preview", "--stack", stack]);
  expect(destroy.output).not.toMatch(/host key/i);
  expect(destroy.code).toBe(0);
  expect(destroy.stdout).toMatch(/6 deleted/);
  expect(snapshotAll(lab)).toEqual(pristine);
});
