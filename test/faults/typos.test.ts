// Fault: typos in a program. A property the resource does not have, a path with a control
// character, NaN for a number: each fails `preview` naming the resource, the property and
// the value, before any host is contacted (no SSH login, no helper deployed).
import path from "node:path";
import { helperDir, snapshotAll, sshLogins } from "../e2e/support/hosts";
import { programSuite } from "../e2e/support/suite";

jest.setTimeout(10 * 60_000);

// One resource per config `case`, written as a JavaScript user would (no type checks).
const PROGRAM = `
import * as pulumi from "@pulumi/pulumi";
import * as hvnet from "@hvnet/pulumi";

export = async () => {
  const [t] = await hvnet.stackTargets();
  const table = "/sys/fs/bpf/hvnet/xdp/root/uplink0/maps/fdb";
  const mac = "52:54:00:00:01:01";
  const args: Record<string, any> = {
    vlanId: { host: t.host, table, vlanId: 200, mac, device: t.uplink },
    nan: { host: t.host, table, vlan: Number("two hundred"), mac, device: t.uplink },
  };
  const c = new pulumi.Config().require("case");
  if (c === "newline") {
    new hvnet.XdpProgram("typo", { host: t.host, device: t.uplink, program: { object: "/tmp/prog\\n.o", section: "xdp" } });
  } else {
    new hvnet.FdbEntry("typo", args[c] as any);
  }
};
`;

const suite = programSuite(1, PROGRAM);
const { made } = suite;

async function preview(c: string) {
  made.push(c);
  await suite.project.newStack(c, { "hvnet:inventory": path.join(suite.lab.dir, "inventory.json"), case: c });
  const before = snapshotAll(suite.lab);
  const r = await suite.project.pulumi(["preview", "--stack", c]);
  expect(snapshotAll(suite.lab)).toEqual(before);
  expect(helperDir(suite.lab, "hv1")).toBeNull();
  expect(sshLogins(suite.lab, "hv1")).toBe(0);
  return r;
}

test("an unknown property (vlanId for vlan) fails preview naming the resource, the property and the known ones", async () => {
  const r = await preview("vlanId");
  expect(r.code).not.toBe(0);
  expect(r.output).toMatch(/FdbEntry "typo": unknown property vlanId \(known: host, table, vlan, mac, device, ingressAcl, adopt\)/);
  // Cut short: no 15 s of formatting Pulumi's source-mapped stack.
  expect(r.ms).toBeLessThan(60_000);
});

test("a path with a newline fails preview naming the field and the character", async () => {
  const r = await preview("newline");
  expect(r.code).not.toBe(0);
  expect(r.output).toMatch(/XdpProgram\.program\.object: "\/tmp\/prog\\n\.o" contains the control character U\+000A/);
});

test("NaN for a number fails preview saying NaN", async () => {
  const r = await preview("nan");
  expect(r.code).not.toBe(0);
  expect(r.output).toMatch(/FdbEntry\.vlan: must be a whole number, got NaN/);
});
