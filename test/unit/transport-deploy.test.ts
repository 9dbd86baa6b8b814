// Deployment commands and checks that need no host: the scripts sent to hosts are fixed
// strings (hash and paths validated), sudo is used for non-root users, and the probe
// script really runs under sh and reports this machine's Node and libbpf.
import { execFileSync, spawnSync } from "node:child_process";
import { cpSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import * as path from "node:path";
import { bundleHash } from "../../provider/common/bundle-hash";
import { withSudo } from "../../provider/transport/connection";
import {
  checkHostRequirements,
  finalizeCommand,
  helperCommand,
  loadBundle,
  parseProbe,
  probeCommand,
} from "../../provider/transport/deploy";
import { HostRequirementError } from "../../provider/transport/errors";

const ECHO_DIR = path.resolve(__dirname, "..", "fixtures", "echo-helper");
const HASH = "ab".repeat(32);
let tmp: string;

beforeAll(() => {
  tmp = mkdtempSync(path.join(tmpdir(), "hvt-deploy-"));
});
afterAll(() => rmSync(tmp, { recursive: true, force: true }));

test("root runs the helper directly; any other user through sudo -n, with the same fixed script", () => {
  const asRoot = helperCommand(HASH, "root");
  const asUser = helperCommand(HASH, "deploy");
  expect(asRoot.startsWith("sh -c '")).toBe(true);
  expect(asUser).toBe(`sudo -n ${asRoot}`);
  expect(asRoot).toContain(`exec "$N" /var/lib/hvnet/helper/${HASH}/helper.js`);
  // Only the outer quotes: the script itself has no single quote that could end them.
  expect(asRoot.split("'")).toHaveLength(3);
  expect(withSudo("root", "x")).toBe("x");
  expect(withSudo("ops", "x")).toBe("sudo -n x");

  const fin = finalizeCommand(HASH, "deploy", "/home/deploy/.hvnet-upload-x", "00112233aabb");
  expect(fin.startsWith("sudo -n sh -c 'set -e\n")).toBe(true);
  expect(fin).toContain(`mv /home/deploy/.hvnet-upload-x /var/lib/hvnet/helper/.tmp-${HASH}-00112233aabb`);
  expect(fin).toContain(`mv -T /var/lib/hvnet/helper/.tmp-${HASH}-00112233aabb/bundle /var/lib/hvnet/helper/${HASH}`);
  expect(finalizeCommand(HASH, "root", `/var/lib/hvnet/helper/.tmp-${HASH}-00112233aabb`, "00112233aabb").startsWith("sh -c '")).toBe(true);
});

test("nothing but a 64-hex hash and plain paths get into a host command", () => {
  expect(() => helperCommand("abc'; reboot; '", "root")).toThrow(/is not 64 hex digits/);
  expect(() => helperCommand(HASH.toUpperCase(), "root")).toThrow(/is not 64 hex digits/);
  expect(() => finalizeCommand(HASH, "bob", "/home/bob/$(reboot)", "00112233aabb")).toThrow(/is not a plain absolute path/);
  expect(() => finalizeCommand(HASH, "bob", "/home/bob/../../etc", "00112233aabb")).toThrow(/is not a plain absolute path/);
  expect(() => finalizeCommand(HASH, "bob", "relative/dir", "00112233aabb")).toThrow(/is not a plain absolute path/);
});

test("the start command, run by sh on this machine, prints a probe naming Node and libbpf when the bundle is absent", () => {
  const hash = "cd".repeat(32); // never deployed on this machine
  for (const cmd of [helperCommand(hash, "root"), probeCommand(hash, "root")]) {
    const r = spawnSync("bash", ["-c", cmd], { encoding: "utf8" });
    const probe = parseProbe(r.stdout.trim());
    expect(probe).toBeDefined();
    expect(probe!.node).toBe(process.version);
    expect(probe!.deployed).toBe(false);
    // Witness: the dynamic linker cache lists libbpf.so.1 on this machine.
    expect(execFileSync("ldconfig", ["-p"], { encoding: "utf8" })).toMatch(/libbpf\.so\.1 /);
    expect(probe!.libbpf).not.toBe("none");
  }
  expect(spawnSync("bash", ["-c", helperCommand(hash, "root")]).status).toBe(3);
});

test("hosts without Node >= 20 or libbpf.so.1 are refused with the host name and what was found", () => {
  const ok = { node: "v20.11.1", nodePath: "/usr/bin/node", libbpf: "/usr/lib64/libbpf.so.1", deployed: false };
  expect(() => checkHostRequirements("hv1", "root", ok)).not.toThrow();
  expect(() => checkHostRequirements("hv1", "root", { ...ok, node: "v18.19.0" })).toThrow(
    new HostRequirementError("hv1", "cannot run the hvnet helper: /usr/bin/node is v18.19.0; the helper needs Node >= 20"),
  );
  const both = (() => {
    try {
      checkHostRequirements("hv2", "ops", { ...ok, node: "", nodePath: "", libbpf: "none" });
    } catch (e) {
      return e as Error;
    }
  })();
  expect(both).toBeInstanceOf(HostRequirementError);
  expect(both!.message).toMatch(/^hv2: cannot run the hvnet helper: node is not on PATH \(as root through sudo\).*; libbpf\.so\.1 not found/);
  expect(parseProbe('{"id":0,"ok":true}')).toBeUndefined();
  expect(parseProbe('{"hvnetProbe":{"node":1}}')).toBeUndefined();
});

test("a bundle is hashed once per directory, as bundle-hash.ts does; bad bundles are refused", () => {
  const b = loadBundle(ECHO_DIR);
  expect(b.hash).toBe(bundleHash(ECHO_DIR));
  expect(b.files).toEqual(["helper.js"]);
  expect(b.manifest).toMatch(/^[0-9a-f]{64} {2}helper\.js\n$/);
  expect(loadBundle(ECHO_DIR + "/")).toBe(b);

  const copy = path.join(tmp, "copy");
  cpSync(ECHO_DIR, copy, { recursive: true });
  writeFileSync(path.join(copy, "extra.txt"), "changes the hash");
  expect(loadBundle(copy).hash).not.toBe(b.hash);
  expect(loadBundle(copy).hash).toBe(bundleHash(copy));

  const noEntry = path.join(tmp, "no-entry");
  cpSync(ECHO_DIR, noEntry, { recursive: true });
  rmSync(path.join(noEntry, "helper.js"));
  writeFileSync(path.join(noEntry, "other.js"), "");
  expect(() => loadBundle(noEntry)).toThrow(/has no helper\.js/);
  const spaced = path.join(tmp, "spaced");
  cpSync(ECHO_DIR, spaced, { recursive: true });
  writeFileSync(path.join(spaced, "a b.txt"), "");
  expect(() => loadBundle(spaced)).toThrow(/file name "a b.txt" has characters the deploy manifest cannot carry/);
  expect(() => loadBundle(path.join(tmp, "missing"))).toThrow(/cannot be read/);
});
