// Deployment commands and checks that need no host: the commands sent to hosts are fixed
// scripts (hash and paths validated) that run as the SSH user and reach root only through
// the launcher (sudo -n for non-root users), and the launcher made for a bundle really
// runs under sh and reports this machine's Node and libbpf.
import { execFileSync, spawnSync } from "node:child_process";
import { chmodSync, cpSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import * as path from "node:path";
import { bundleHash } from "../../provider/common/bundle-hash";
import { withSudo } from "../../provider/transport/connection";
import {
  commandFailure,
  checkHostRequirements,
  helperCommand,
  installCommand,
  LAUNCHER_PATH,
  launcherProblem,
  launcherScript,
  loadBundle,
  parseProbe,
  probeCommand,
  sudoersLine,
} from "../../provider/transport/deploy";
import { HostRequirementError } from "../../provider/transport/errors";
import { launcherBundle, renderLauncher } from "../../provider/transport/launcher/render";

const ECHO_DIR = path.resolve(__dirname, "..", "fixtures", "echo-helper");
const HASH = "ab".repeat(32);
const UPLOAD = `/home/deploy/.hvnet-upload-${HASH}-00112233aabb`;
let tmp: string;

beforeAll(() => {
  tmp = mkdtempSync(path.join(tmpdir(), "hvt-deploy-"));
});
afterAll(() => rmSync(tmp, { recursive: true, force: true }));

test("root runs its own launcher for the bundle; any other user runs only the fixed launcher, through sudo -n", () => {
  const asRoot = helperCommand(HASH, "root");
  const asUser = helperCommand(HASH, "deploy");
  expect(asRoot.startsWith("sh -c '")).toBe(true);
  expect(asRoot).toContain(`exec /var/lib/hvnet/launcher/hvnet-launch-${HASH} run ${HASH}`);
  expect(asRoot).not.toContain("sudo");
  // The shell runs as the SSH user; sudo is asked for exactly the launcher command.
  expect(asUser.startsWith("sh -c '")).toBe(true);
  expect(asUser).toContain(`elif sudo -n -l ${LAUNCHER_PATH} run ${HASH} >/dev/null 2>&1; then exec sudo -n ${LAUNCHER_PATH} run ${HASH}`);
  expect(asUser.match(/sudo -n (?!-l)\S+/g)).toEqual([`sudo -n ${LAUNCHER_PATH}`]);
  // Only the outer quotes: the script itself has no single quote that could end them.
  for (const c of [asRoot, asUser, probeCommand(HASH, "deploy"), installCommand(HASH, "deploy", UPLOAD)]) expect(c.split("'")).toHaveLength(3);
  expect(withSudo("root", "x")).toBe("x");
  expect(withSudo("ops", "x")).toBe("sudo -n x");

  const inst = installCommand(HASH, "deploy", UPLOAD);
  expect(inst).toContain(`then sudo -n ${LAUNCHER_PATH} install ${HASH} ${UPLOAD}; r=$?; rm -rf ${UPLOAD}; exit $r`);
  expect(inst).not.toMatch(/\bmv\b|chown|sha256sum/); // all of that is the launcher's, as root
  expect(probeCommand(HASH, "root")).toContain(`exec /var/lib/hvnet/launcher/hvnet-launch-${HASH} probe ${HASH}`);
});

test("nothing but a 64-hex hash and plain upload paths named for the bundle get into a host command", () => {
  expect(() => helperCommand("abc'; reboot; '", "root")).toThrow(/is not 64 hex digits/);
  expect(() => helperCommand(HASH.toUpperCase(), "root")).toThrow(/is not 64 hex digits/);
  expect(() => installCommand(HASH, "bob", "/home/bob/$(reboot)")).toThrow(/is not a plain absolute path/);
  expect(() => installCommand(HASH, "bob", "/home/bob/../../etc")).toThrow(/is not a plain absolute path/);
  expect(() => installCommand(HASH, "bob", "relative/dir")).toThrow(/is not a plain absolute path/);
  expect(() => installCommand(HASH, "bob", "/etc")).toThrow(/is not named \.hvnet-upload-/);
  expect(() => installCommand(HASH, "bob", `/home/bob/.hvnet-upload-${"cd".repeat(32)}-00112233aabb`)).toThrow(/is not named/);
});

test("the launcher carries its bundle's hash and manifest, and refuses to render anything else into itself", () => {
  const b = loadBundle(ECHO_DIR);
  const script = launcherScript(b);
  expect(launcherBundle(script)).toBe(b.hash);
  expect(script).toContain(`cat <<'HVNET_MANIFEST'\n${b.manifest}HVNET_MANIFEST\n`);
  expect(script).toMatch(/^# hvnet-launch-version: 1$/m);
  expect(script).not.toMatch(/@[A-Z_]+@/);
  expect(() => renderLauncher(b.hash, "x  helper.js\n")).toThrow(/manifest/);
  expect(() => renderLauncher(b.hash, `${"0".repeat(64)}  a\nHVNET_MANIFEST\n`)).toThrow(/manifest/);
  expect(() => renderLauncher("nothex", b.manifest)).toThrow(/64 hex digits/);
});

test("the launcher, run by sh as root on this machine, prints a probe naming Node and libbpf when the bundle is absent", () => {
  if (process.getuid?.() !== 0) return; // the launcher refuses to run as anyone but root
  const b = loadBundle(ECHO_DIR);
  const launcher = path.join(tmp, "hvnet-launch");
  writeFileSync(launcher, launcherScript(b));
  chmodSync(launcher, 0o755);
  // Never deployed on this machine: the launcher says so and never creates anything.
  const r = spawnSync(launcher, ["probe", b.hash], { encoding: "utf8" });
  expect(r.status).toBe(0);
  const probe = parseProbe(r.stdout.trim());
  expect(probe).toBeDefined();
  expect(probe!.launcher).toBe(b.hash);
  expect(probe!.node).toBe(process.version);
  // Witness: the dynamic linker cache lists libbpf.so.1 on this machine.
  expect(execFileSync("ldconfig", ["-p"], { encoding: "utf8" })).toMatch(/libbpf\.so\.1 /);
  expect(probe!.libbpf).not.toBe("none");
  // Another bundle's hash: a probe naming the launcher's own bundle, not a start.
  const other = spawnSync(launcher, ["run", HASH], { encoding: "utf8" });
  expect(other.status).toBe(3);
  expect(parseProbe(other.stdout.trim())).toMatchObject({ launcher: b.hash, deployed: false });
  for (const args of [["run"], ["install", b.hash, "/etc"], ["probe", "x"], ["rm", "-rf", "/"]]) {
    expect(spawnSync(launcher, args, { encoding: "utf8" }).status).toBe(2);
  }
  // Without a launcher at the path, the start command prints why and exits 3.
  const missing = spawnSync("sh", ["-c", helperCommand(HASH, "root").slice("sh -c '".length, -1)], { encoding: "utf8" });
  expect(missing.status).toBe(3);
  expect(parseProbe(missing.stdout.trim())).toEqual({ launcher: "missing", node: "", nodePath: "", libbpf: "", deployed: false });
});

test("a non-root user without a usable launcher is told what to install, as root, and the sudoers line", () => {
  const b = loadBundle(ECHO_DIR);
  const msg = (l: string | undefined) => launcherProblem("hv1", "deploy", b, l).message;
  expect(launcherProblem("hv1", "deploy", b, "missing")).toBeInstanceOf(HostRequirementError);
  expect(msg("missing")).toMatch(new RegExp(`^hv1: cannot deploy the hvnet helper as deploy: the launcher ${LAUNCHER_PATH} is not installed`));
  expect(msg("nosudo")).toContain("sudo is not installed (apt-get install sudo)");
  expect(msg("denied")).toContain(`sudo does not let deploy run ${LAUNCHER_PATH} without a password`);
  expect(msg(HASH)).toContain(`is for helper bundle ${HASH.slice(0, 12)} (another hvnet version), this provider ships ${b.hash.slice(0, 12)}`);
  for (const l of ["missing", "nosudo", "denied", HASH]) {
    expect(msg(l)).toContain(`install -D -o root -g root -m 0755 hvnet-launch ${LAUNCHER_PATH}`);
    expect(msg(l)).toContain(sudoersLine("deploy"));
  }
  expect(sudoersLine("deploy")).toBe(`deploy ALL=(root) NOPASSWD: ${LAUNCHER_PATH}`);
  expect(parseProbe('{"hvnetProbe":{"launcher":"denied"}}')).toMatchObject({ launcher: "denied", deployed: false });
  expect(parseProbe('{"hvnetProbe":{"launcher":"x; rm"}}')).toBeUndefined();
});

test("a failed deploy command says how it ended (a signal named as such) and what it printed", () => {
  const b = loadBundle(ECHO_DIR);
  const what = `installing the helper bundle ${b.hash.slice(0, 12)}`;
  const failed = (r: { code: number | null; signal?: string; stdout?: string; stderr?: string }) => commandFailure("hv1", what, { stdout: "", stderr: "", ...r }, "EDEPLOY");
  expect(failed({ code: 4, stderr: "hvnet-launch: refusing: helper.js does not match\n" }).message).toBe(`hv1: ${what} failed (exit code 4): hvnet-launch: refusing: helper.js does not match`);
  // A command that died of a signal has no exit status; ssh2 names the signal (exit-signal).
  expect(failed({ code: null, signal: "SIGKILL" }).message).toBe(`hv1: ${what} failed (killed by SIGKILL): no output`);
  expect(failed({ code: null, signal: "SIGTERM", stdout: "copying\n" }).message).toBe(`hv1: ${what} failed (killed by SIGTERM): copying`);
  // Exit 0 without "deployed" is a failure too: what it printed is the clue.
  expect(failed({ code: 0, stdout: "something else\n" }).message).toContain("failed (exit code 0): something else");
  expect(failed({ code: 1 }).code).toBe("EDEPLOY");
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
