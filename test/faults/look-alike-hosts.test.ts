// Fault: look-alike hosts, two machines under one name. The pool must never hand one
// machine's connection to the other (each host key is checked on its own machine), and a
// stack that names two machines alike fails `preview` before any host is contacted.
import { execFileSync } from "node:child_process";
import path from "node:path";
import type { HostSpec } from "../../provider/transport/host-spec";
import { HostPool } from "../../provider/transport/pool";
import { helperDir, snapshotAll, sshLogins } from "../e2e/support/hosts";
import { programSuite } from "../e2e/support/suite";
import { connectionOf } from "../support/runtime";

jest.setTimeout(10 * 60_000);

const ECHO_DIR = path.resolve(__dirname, "..", "fixtures", "echo-helper");

// hv1's and hv2's connections, both under the name "hv1" (as a copy-pasted host block would).
const PROGRAM = `
import * as fs from "node:fs";
import * as pulumi from "@pulumi/pulumi";
import * as hvnet from "@hvnet/pulumi";

export = async () => {
  const inventory = JSON.parse(fs.readFileSync(new pulumi.Config("hvnet").require("inventory"), "utf8"));
  const host = (h: any) => ({
    name: "hv1", address: h.address, port: h.port, user: h.user, hostKey: h.hostKey,
    privateKey: pulumi.secret(fs.readFileSync(h.privateKeyPath, "utf8")),
  });
  new hvnet.XdpProgram("first", { host: host(inventory.hosts[0]), device: "uplink0", program: "pass" });
  new hvnet.XdpProgram("second", { host: host(inventory.hosts[1]), device: "uplink0", program: "pass" });
};
`;

let pool: HostPool | undefined;
const suite = programSuite(2, PROGRAM);
const { made } = suite;

afterEach(async () => {
  await pool?.close();
  pool = undefined;
});

function specOf(i: number, overrides: Partial<HostSpec> = {}): HostSpec {
  return connectionOf(suite.lab.inventory.hosts[i], overrides);
}

const netnsOf = (pid: number) => execFileSync("ip", ["netns", "identify", String(pid)], { encoding: "utf8" }).trim();

test("the pool reaches each look-alike on its own machine and checks each one's host key", async () => {
  pool = new HostPool({ helperDir: ECHO_DIR });
  const pidOn = async (s: HostSpec) => ((await pool!.request(s, "pid")) as { pid: number }).pid;

  const first = await pidOn(specOf(0));
  expect(netnsOf(first)).toBe(suite.lab.inventory.hosts[0].netns);

  // hv2's address under hv1's name, pinned to hv1's key: hv2 presents another key.
  await expect(pidOn(specOf(1, { name: "hv1", hostKey: suite.lab.inventory.hosts[0].hostKey }))).rejects.toThrow(/hv1: host key mismatch/);

  // hv2's address and key under hv1's name: it lands on hv2, not on hv1's connection.
  const logins = sshLogins(suite.lab, "hv2");
  const second = await pidOn(specOf(1, { name: "hv1" }));
  expect(netnsOf(second)).toBe(suite.lab.inventory.hosts[1].netns);
  expect(sshLogins(suite.lab, "hv2")).toBe(logins + 1);
});

test("one name for two machines in a stack fails preview naming the name and both addresses; no host is contacted", async () => {
  const stack = "lookalike";
  made.push(stack);
  await suite.project.newStack(stack, { "hvnet:inventory": path.join(suite.lab.dir, "inventory.json") });
  const before = snapshotAll(suite.lab);
  const logins = suite.lab.inventory.hosts.map((h) => sshLogins(suite.lab, h.name));
  const helpers = suite.lab.inventory.hosts.map((h) => helperDir(suite.lab, h.name));

  const r = await suite.project.pulumi(["preview", "--stack", stack]);
  expect(r.code).not.toBe(0);
  // Named in a fixed (sorted) order, whichever resource Pulumi checked first.
  const [a, b] = suite.lab.inventory.hosts.map((h) => `root@${h.address}:22`).sort();
  expect(r.output).toMatch(new RegExp(`host\\.name "hv1" names two different connections in this stack: ${a} and ${b}`));
  expect(r.output).not.toMatch(/PRIVATE KEY/);

  expect(snapshotAll(suite.lab)).toEqual(before);
  expect(suite.lab.inventory.hosts.map((h) => sshLogins(suite.lab, h.name))).toEqual(logins);
  expect(suite.lab.inventory.hosts.map((h) => helperDir(suite.lab, h.name))).toEqual(helpers);
});
