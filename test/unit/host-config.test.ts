// The current connections refresh and destroy use (provider/runtime/host-config.ts): from
// stack config `hosts`, else the lab inventory, by host identity. No host is contacted.
import { execFileSync } from "node:child_process";
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import path from "node:path";
import { configureHosts, currentConnection } from "../../provider/runtime/host-config";
import { labInventoryPath } from "../../provider/transport/inventory";
import type { HostSpec } from "../../provider/transport/host-spec";

let dir: string;
let privateKey: string;
const OLD_KEY = "SHA256:" + "A".repeat(43);
const NEW_KEY = "SHA256:" + "B".repeat(43);

const config = (values: Record<string, unknown>) => ({ get: (k: string) => values[k.includes(":") ? k : `proj:${k}`] });
const recorded = (over: Partial<HostSpec> = {}): HostSpec => ({ name: "hv1", address: "198.18.0.11", port: 22, user: "root", hostKey: OLD_KEY, privateKey, ...over });

function inventory(file: string, address = "198.18.0.11"): void {
  mkdirSync(path.dirname(file), { recursive: true });
  writeFileSync(file, JSON.stringify({ hosts: [{ name: "hv1", address, port: 22, user: "root", privateKeyPath: path.join(dir, "id"), hostKey: NEW_KEY, netns: "x", uplink: "uplink0" }] }));
}

beforeAll(() => {
  dir = mkdtempSync(path.join(tmpdir(), "hvt-hostcfg-"));
  execFileSync("ssh-keygen", ["-q", "-t", "ed25519", "-N", "", "-C", "test", "-f", path.join(dir, "id")]);
  privateKey = readFileSync(path.join(dir, "id"), "utf8");
});
afterAll(() => rmSync(dir, { recursive: true, force: true }));
afterEach(() => configureHosts(config({})));

test("stack config hosts: a host of the same name is reached the current way; others as recorded", () => {
  const hosts = JSON.stringify([{ name: "hv1", address: "198.18.0.99", hostKey: NEW_KEY, privateKey, uplink: "eth0" }]);
  configureHosts(config({ "proj:hosts": hosts }));
  expect(currentConnection(recorded())).toEqual({ name: "hv1", address: "198.18.0.99", hostKey: NEW_KEY, privateKey });
  expect(currentConnection(recorded({ name: "hv2" }))).toEqual(recorded({ name: "hv2" }));
  // Without a name the identity is the address.
  expect(currentConnection(recorded({ name: undefined }))).toEqual(recorded({ name: undefined }));
});

test("the inventory named by hvnet:inventory gives the rotated key, the private key read from its file", () => {
  const file = path.join(dir, "named", "inventory.json");
  inventory(file);
  configureHosts(config({ "hvnet:inventory": file }));
  expect(currentConnection(recorded())).toMatchObject({ name: "hv1", address: "198.18.0.11", hostKey: NEW_KEY, privateKey });
});

test("an inventory found only by the default path stands in for the same machine only", () => {
  const cwd = path.join(dir, "repo", "examples", "quickstart");
  mkdirSync(cwd, { recursive: true });
  expect(labInventoryPath(undefined, cwd)).toBe(path.join(dir, "repo", ".lab", "inventory.json"));
  inventory(path.join(dir, "repo", ".lab", "inventory.json"), "198.18.7.11");
  const was = process.cwd();
  const env = process.env.HVNET_LAB_INVENTORY;
  delete process.env.HVNET_LAB_INVENTORY;
  try {
    process.chdir(cwd);
    configureHosts(config({}));
    expect(currentConnection(recorded())).toEqual(recorded());
    expect(currentConnection(recorded({ address: "198.18.7.11" }))).toMatchObject({ hostKey: NEW_KEY });
  } finally {
    process.chdir(was);
    if (env !== undefined) process.env.HVNET_LAB_INVENTORY = env;
  }
});

test("a config this cannot read, or a host in it that does not validate, leaves the recorded connection", () => {
  configureHosts(config({ "proj:hosts": "[not json" }));
  expect(currentConnection(recorded())).toEqual(recorded());
  configureHosts(config({ "proj:hosts": JSON.stringify([{ name: "hv1", address: "198.18.0.11", uplink: "eth0" }]) }));
  expect(currentConnection(recorded())).toEqual(recorded());
  configureHosts(config({ "hvnet:inventory": path.join(dir, "absent.json") }));
  expect(currentConnection(recorded())).toEqual(recorded());
});
