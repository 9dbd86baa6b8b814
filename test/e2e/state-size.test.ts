// The state budget, end to end (real Pulumi CLI, local file backend, a 1-host suite.lab): an
// FdbEntry's share of `pulumi stack export` stays within 2 KB, because the provider stored
// with it is one line and a host the stack config gives is kept without its private key.
// The key still reaches the host for every operation, from the config of the run; when
// the config no longer has the host, destroy says what to do and removes nothing. A refresh
// reads the entries' table whole, and still finds the one entry deleted by hand.
import { mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import path from "node:path";
import { fdbEntries } from "./support/hosts";
import { programSuite } from "./support/suite";
import { parseEvents, stepOps } from "./support/project";

jest.setTimeout(10 * 60_000);

const N = 20;
const FDB = "/sys/fs/bpf/hvnet/xdp/root/uplink0/maps/fdb";
const BUDGET = 2048;

const PROGRAM = `
import * as pulumi from "@pulumi/pulumi";
import * as hvnet from "@hvnet/pulumi";

export = async () => {
  const [t] = await hvnet.stackTargets();
  const xdp = new hvnet.XdpProgram("uplink", { host: t.host, device: t.uplink, program: "l2fwd" });
  const table = pulumi.interpolate\`\${xdp.pinDir}/maps/fdb\`;
  for (let i = 0; i < ${N}; i++) {
    const mac = "52:54:00:00:02:" + i.toString(16).padStart(2, "0");
    new hvnet.FdbEntry("e" + i, { host: t.host, table, vlan: 100, mac, device: t.uplink });
  }
};
`;

const suite = programSuite(1, PROGRAM);
const { made } = suite;

test(`each of ${N} FdbEntry takes at most 2 KB of the exported state, holds no key, and refresh and destroy still reach the host`, async () => {
  const stack = "budget";
  made.push(stack);
  const inventory = path.join(suite.lab.dir, "inventory.json");
  await suite.project.newStack(stack, { "hvnet:inventory": inventory });
  await suite.project.pulumiOk(["up", "--yes", "--skip-preview", "--stack", stack]);
  expect(fdbEntries(suite.lab, "hv1", FDB)).toHaveLength(N);

  const { text, deployment } = await suite.project.exportState(stack);
  const entries = deployment.resources.filter((r) => r.type === "pulumi-nodejs:dynamic/hvnet:FdbEntry");
  expect(entries).toHaveLength(N);
  const sizes = entries.map((r) => JSON.stringify(r).length);
  console.log(`state: FdbEntry ${Math.min(...sizes)} … ${Math.max(...sizes)} bytes each (compact JSON), __provider ${String(entries[0].inputs.__provider).length} bytes`);
  for (const size of sizes) expect(size).toBeLessThanOrEqual(BUDGET);
  console.log(`state: export ${text.length} bytes for ${deployment.resources.length} resources`);
  for (const r of entries) {
    // A host the config gives is kept as a reference, holding nothing secret; the connection
    // (host key, private key) comes from the config of each run.
    expect(r.inputs.host).toBeUndefined();
    expect(r.outputs.host).toBeUndefined();
    expect(r.inputs.__host).toEqual({ name: "hv1", address: suite.lab.inventory.hosts[0].address });
    expect(r.outputs.__host).toEqual(r.inputs.__host);
  }
  const key = readFileSync(suite.lab.inventory.hosts[0].privateKeyPath, "utf8");
  const shown = (await suite.project.pulumiOk(["stack", "export", "--show-secrets", "--stack", stack])).stdout;
  expect(shown).not.toContain("PRIVATE KEY");
  for (const line of key.split("\n").filter((l) => l && !l.startsWith("-----"))) {
    expect(text).not.toContain(line);
    expect(shown).not.toContain(line);
  }

  // The key comes from the config of each run: refresh reads every entry, up changes nothing.
  const refresh = await suite.project.pulumiOk(["refresh", "--yes", "--skip-preview", "--json", "--stack", stack]);
  expect(Object.values(stepOps(parseEvents(refresh.stdout))).every((op) => op === "same")).toBe(true);
  expect((await suite.project.pulumi(["preview", "--expect-no-changes", "--stack", stack])).code).toBe(0);

  // An entry deleted by hand: the refresh reads the table whole (fdb.dump), not an entry
  // at a time, and still finds the one that is gone; up makes it again.
  suite.lab.hostExec("hv1", "bpftool", ["map", "delete", "pinned", FDB, "key", "hex", "64", "00", "52", "54", "00", "00", "02", "07"]);
  const stats = mkdtempSync(path.join(tmpdir(), "hvt-pool-stats-"));
  try {
    const drift = await suite.project.pulumiOk(["refresh", "--yes", "--skip-preview", "--json", "--stack", stack], { env: { HVNET_POOL_STATS: path.join(stats, "pool") } });
    const ops = stepOps(parseEvents(drift.stdout));
    expect(Object.entries(ops).filter(([, op]) => op !== "same").map(([name]) => name)).toEqual(["e7"]);
    const sent = readdirSync(stats).flatMap((f) => readFileSync(path.join(stats, f), "utf8").trim().split("\n").map((l) => JSON.parse(l).requests as number));
    const requests = sent.reduce((a, b) => a + b, 0);
    console.log(`refresh of ${N} FdbEntry and their XdpProgram: ${requests} requests to the host`);
    expect(requests).toBeLessThan(N / 2);
  } finally {
    rmSync(stats, { recursive: true, force: true });
  }
  expect((await suite.project.exportState(stack)).deployment.resources.filter((r) => r.type === "pulumi-nodejs:dynamic/hvnet:FdbEntry")).toHaveLength(N - 1);
  await suite.project.pulumiOk(["up", "--yes", "--skip-preview", "--stack", stack]);
  expect(fdbEntries(suite.lab, "hv1", FDB)).toHaveLength(N);

  // The host gone from the inventory (destroy configures the provider with the config the
  // state recorded: the inventory file it names): destroy names the host and what to do,
  // and removes nothing.
  const saved = readFileSync(inventory, "utf8");
  try {
    writeFileSync(inventory, JSON.stringify({ ...JSON.parse(saved), hosts: [] }));
    const refused = await suite.project.pulumi(["destroy", "--yes", "--skip-preview", "--stack", stack]);
    expect(refused.code).not.toBe(0);
    expect(refused.output).toMatch(/host "hv1" came from the stack config `hosts` \(or the lab inventory\).*add "hv1" back to config `hosts`/);
    expect(refused.output).not.toContain("PRIVATE KEY");
    expect(fdbEntries(suite.lab, "hv1", FDB)).toHaveLength(N);
  } finally {
    writeFileSync(inventory, saved);
  }
  await suite.project.pulumiOk(["destroy", "--yes", "--skip-preview", "--stack", stack]);
  expect(suite.lab.hostExec("hv1", "sh", ["-c", `test -e ${FDB} && echo pinned || echo gone`]).trim()).toBe("gone");
});
