// hvnet (the operator command) when hosts misbehave: a host that does not answer, a host
// whose key is not the pinned one, one bad host among good ones. Each gives one clear
// line naming the host and a non-zero exit, and the good hosts are still reported.
import * as fs from "node:fs";
import * as net from "node:net";
import * as path from "node:path";
import { labUp, type Lab } from "../support/lab";
import { requireRoot } from "../support/require-root";
import { statsHelperBundle } from "../cli/support/stats-helper";
import { requireBuiltCli, runCli } from "../cli/support/run-cli";

let lab: Lab;
let bundle: { dir: string };
let env: Record<string, string>;

beforeAll(async () => {
  requireRoot();
  requireBuiltCli();
  bundle = await statsHelperBundle();
  env = { HVNET_HELPER_DIR: bundle.dir };
  lab = await labUp({ hosts: 1 });
}, 120_000);

afterAll(() => {
  lab?.down();
  if (bundle) fs.rmSync(bundle.dir, { recursive: true, force: true });
});

/** A port on this machine that nothing listens on (bound, then released). */
async function closedPort(): Promise<number> {
  const s = net.createServer();
  await new Promise<void>((r) => s.listen(0, "127.0.0.1", r));
  const port = (s.address() as net.AddressInfo).port;
  await new Promise((r) => s.close(r));
  return port;
}

function hostFlags(overrides: { port?: number; address?: string; hostKey?: string } = {}): string[] {
  const h = lab.inventory.hosts[0];
  return [
    "--host", overrides.address ?? h.address,
    "--port", String(overrides.port ?? h.port),
    "--user", h.user,
    "--identity", h.privateKeyPath,
    "--host-key", overrides.hostKey ?? h.hostKey,
    "--name", "hv-x",
  ];
}

test.each(["stats", "doctor", "metrics"])("hvnet %s: an unreachable host is one line naming it, and exit 1", async (cmd) => {
  const port = await closedPort();
  const r = await runCli([cmd, ...hostFlags({ address: "127.0.0.1", port }), "--connect-timeout", "2"], env);
  expect(r.code).toBe(1);
  const lines = r.stderr.trimEnd().split("\n");
  expect(lines).toHaveLength(1);
  expect(lines[0]).toMatch(new RegExp(`^hvnet: hv-x: cannot connect to 127\\.0\\.0\\.1:${port}`));
  if (cmd === "metrics") expect(r.stdout).toMatch(/^hvnet_host_up\{host="hv-x"\} 0$/m);
  else expect(r.stdout).toBe("");
}, 60_000);

test("a host whose key is not the pinned one: one line saying so and what to check, exit 1, nothing reported for it", async () => {
  const wrong = `SHA256:${Buffer.alloc(32, 7).toString("base64").replace(/=+$/, "")}`;
  const r = await runCli(["stats", "--json", ...hostFlags({ hostKey: wrong })], env);
  expect(r.code).toBe(1);
  const lines = r.stderr.trimEnd().split("\n");
  expect(lines).toHaveLength(1);
  expect(lines[0]).toMatch(new RegExp(`^hvnet: hv-x: host key mismatch: expected ${wrong.replace(/[+/]/g, "\\$&")}, host presented SHA256:`));
  expect(lines[0]).toMatch(/update host\.hostKey/);
  expect(JSON.parse(r.stdout)).toEqual({ hosts: [], errors: [lines[0].replace(/^hvnet: /, "")] });
}, 60_000);

test("one unreachable host among good ones: the good host is still reported, the bad one named, exit 1", async () => {
  const port = await closedPort();
  const h = lab.inventory.hosts[0];
  const file = path.join(lab.dir, "hosts-mixed.json");
  const key = fs.readFileSync(h.privateKeyPath, "utf8");
  fs.writeFileSync(file, JSON.stringify([
    { name: h.name, address: h.address, port: h.port, user: h.user, hostKey: h.hostKey, privateKey: key, uplink: "uplink0" },
    { name: "hv-gone", address: "127.0.0.1", port, user: h.user, hostKey: h.hostKey, privateKey: key, uplink: "uplink0" },
  ]), { mode: 0o600 });
  const r = await runCli(["stats", "--json", "--hosts-file", file, "--connect-timeout", "2"], env);
  expect(r.code).toBe(1);
  expect(r.stderr.trimEnd().split("\n")).toEqual([expect.stringMatching(/^hvnet: hv-gone: cannot connect to 127\.0\.0\.1:/)]);
  const report = JSON.parse(r.stdout);
  expect(report.hosts.map((x: any) => x.host)).toEqual([h.name]);
  // The private key never reaches output.
  expect(r.stdout + r.stderr).not.toContain(key.split("\n")[1]);
}, 60_000);
