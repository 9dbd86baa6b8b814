// Fault: private keys given as plain strings (a host's own and its jump host's, in code
// or in stack config `hosts`) must never be plain text in the stack state. Real Pulumi
// CLI: `pulumi stack export` is what an operator (or anyone with the state file) reads.
import { readFileSync } from "node:fs";
import path from "node:path";
import { link } from "../e2e/support/hosts";
import { programSuite } from "../e2e/support/suite";
import { parseEvents, stepOps } from "../e2e/support/project";

jest.setTimeout(10 * 60_000);

// Two XdpPrograms: one whose host is written out in code with plain-string keys (hv1
// through hv2 as its jump host), one from stack config `hosts` through stackTargets (hv2
// through hv1).
const PROGRAM = `
import * as fs from "node:fs";
import * as pulumi from "@pulumi/pulumi";
import * as hvnet from "@hvnet/pulumi";

export = async () => {
  const inventory = JSON.parse(fs.readFileSync(new pulumi.Config("hvnet").require("inventory"), "utf8"));
  const [hv1, hv2] = inventory.hosts;
  const plain = (h: any) => ({
    name: h.name, address: h.address, port: h.port, user: h.user, hostKey: h.hostKey,
    privateKey: fs.readFileSync(h.privateKeyPath, "utf8"),
  });
  new hvnet.XdpProgram("inline", { host: { ...plain(hv1), jumpHost: plain(hv2) }, device: "uplink0", program: "pass" });
  const [target] = await hvnet.stackTargets();
  new hvnet.XdpProgram("configured", { host: target.host, device: target.uplink, program: "pass" });
};
`;

const suite = programSuite(2, PROGRAM);
const { made } = suite;

test("no private key text is in the exported state, for plain-string keys of hosts and jump hosts, in code and in config", async () => {
  const [hv1, hv2] = suite.lab.inventory.hosts;
  const key = readFileSync(hv1.privateKeyPath, "utf8");
  const entry = (h: typeof hv1) => ({ name: h.name, address: h.address, port: h.port, user: h.user, hostKey: h.hostKey, privateKey: key });
  const stack = "secrets";
  made.push(stack);
  await suite.project.newStack(stack, { "hvnet:inventory": path.join(suite.lab.dir, "inventory.json") }, {
    hosts: JSON.stringify([{ ...entry(hv2), uplink: "uplink0", jumpHost: entry(hv1) }]),
  });

  const up = await suite.project.pulumiOk(["up", "--yes", "--skip-preview", "--json", "--stack", stack]);
  expect(stepOps(parseEvents(up.stdout))).toMatchObject({ inline: "create", configured: "create" });
  // Both reached their host (through the other as jump host): the keys were used.
  expect(link(suite.lab, "hv1", "uplink0")?.xdp?.prog?.name).toBe("xdp_pass");
  expect(link(suite.lab, "hv2", "uplink0")?.xdp?.prog?.name).toBe("xdp_pass");

  // Every line of the key's body, not only its header: a partial copy is a leak too.
  const body = key.split("\n").filter((l) => l !== "" && !l.startsWith("-----"));
  const { text } = await suite.project.exportState(stack);
  expect(text).not.toContain("BEGIN");
  for (const line of body) expect(text).not.toContain(line);

  // The state does hold the keys, encrypted: refresh and destroy need them.
  const shown = await suite.project.pulumiOk(["stack", "export", "--show-secrets", "--stack", stack]);
  expect(shown.stdout).toContain("BEGIN OPENSSH PRIVATE KEY");
});
