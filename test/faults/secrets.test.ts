// Fault: private keys given as plain strings (a host's own and its jump host's, in code
// or in stack config `hosts`) must never be plain text in the stack state or in Pulumi's
// engine logs. Real Pulumi CLI: `pulumi stack export` is what an operator (or anyone with
// the state file) reads; $PULUMI_HOME/logs what anyone with the machine's files reads.
import { mkdtempSync, readdirSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { gunzipSync } from "node:zlib";
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
/** PULUMI_HOME of this test's commands, for their engine logs. */
let home: string | undefined;
afterAll(() => {
  if (home) rmSync(home, { recursive: true, force: true });
});

test("no private key text is in the exported state, for plain-string keys of hosts and jump hosts, in code and in config", async () => {
  const [hv1, hv2] = suite.lab.inventory.hosts;
  const key = readFileSync(hv1.privateKeyPath, "utf8");
  const entry = (h: typeof hv1) => ({ name: h.name, address: h.address, port: h.port, user: h.user, hostKey: h.hostKey, privateKey: key });
  const stack = "secrets";
  made.push(stack);
  // Pulumi writes an engine log of every command into $PULUMI_HOME/logs: a home of this
  // test's own, so only this test's logs (the config set of the key among them) are read below.
  home = mkdtempSync(path.join(tmpdir(), "hvt-pulumi-home-"));
  await suite.project.newStack(stack, { "hvnet:inventory": path.join(suite.lab.dir, "inventory.json") }, {
    hosts: JSON.stringify([{ ...entry(hv2), uplink: "uplink0", jumpHost: entry(hv1) }]),
  }, { PULUMI_HOME: home });

  const up = await suite.project.pulumiOk(["up", "--yes", "--skip-preview", "--json", "--stack", stack], { env: { PULUMI_HOME: home } });
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

  // Pulumi's engine logs of these commands: the ones written before a command knows its
  // stack are gzip, and hold no line of the key (the config set of the key among them);
  // the rest are encrypted with the stack's secrets manager, so their bytes hold none
  // either. (Decrypted with the stack's passphrase, the up's log shows the resources'
  // inputs, keys included, as the state's secrets do: README "Using it on real hypervisors".)
  {
    const logs = readdirSync(path.join(home, "logs")).map((f) => path.join(home!, "logs", f));
    const kinds = { gzip: 0, encrypted: 0 };
    for (const file of logs) {
      const bytes = readFileSync(file);
      const encrypted = bytes.subarray(0, 4).toString("latin1") === "PLOG";
      kinds[encrypted ? "encrypted" : "gzip"]++;
      const text = encrypted ? bytes.toString("latin1") : gunzipSync(bytes).toString("utf8");
      expect(text).not.toContain("PRIVATE KEY");
      for (const line of body) expect(text).not.toContain(line);
    }
    console.log(`engine logs: ${kinds.gzip} gzip, ${kinds.encrypted} encrypted, no line of the key in any`);
    expect(kinds.gzip).toBeGreaterThan(0);
    expect(kinds.encrypted).toBeGreaterThan(0);
  }
});
