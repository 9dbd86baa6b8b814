// Faults and attacks: a non-root deploy user, through the real sudo of a lab whose only
// rule for that user is the hvnet launcher. The Pulumi CLI runs the quickstart example and
// the provider runtime drives real sshd, both with the real helper of the packed package;
// what happened is witnessed inside the host as root (lab hostExec), never through hvnet.
import { randomBytes } from "node:crypto";
import { cpSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import * as path from "node:path";
import { KINDS } from "../../provider/kinds";
import { requireValidInputs } from "../../provider/runtime/check";
import { createResource, deleteResource, readResource } from "../../provider/runtime/operations";
import { dial, type SshConnection } from "../../provider/transport/connection";
import { installCommand, LAUNCHER_PATH, loadBundle, sudoersLine, uploadBundle } from "../../provider/transport/deploy";
import { HostRequirementError, TransportError } from "../../provider/transport/errors";
import { HostPool } from "../../provider/transport/pool";
import { ExampleProject, parseEvents, stepOps } from "../e2e/support/project";
import { labSsh, type Lab } from "../support/lab";
import { requireCommand, requireRoot } from "../support/require-root";
import { hostSpec, nonRootLabUp, packageFiles } from "./support/nonroot";

jest.setTimeout(10 * 60_000);

let lab: Lab;
let project: ExampleProject;
let HELPER_DIR: string;
let scratch: string;
const pools: HostPool[] = [];
const conns: SshConnection[] = [];

function pool(helperDir = HELPER_DIR): HostPool {
  const p = new HostPool({ helperDir });
  pools.push(p);
  return p;
}

const host = (i: number) => lab.inventory.hosts[i];
const spec = (i: number) => hostSpec(host(i));
const sh = (i: number, script: string, ...args: string[]) => lab.hostExec(host(i).name, "sh", ["-c", script, "sh", ...args]);
async function connectAsDeployUser(i: number): Promise<SshConnection> {
  const conn = await dial(spec(i));
  conns.push(conn);
  return conn;
}

/** Uploads the bundle where a deploy does, under the deploy user's home; returns the directory. */
async function uploadToHome(conn: SshConnection, bundle: ReturnType<typeof loadBundle>): Promise<string> {
  const home = (await conn.exec("pwd")).stdout.trim();
  const dir = `${home}/.hvnet-upload-${bundle.hash}-${randomBytes(6).toString("hex")}`;
  await conn.withSftp((sftp) => uploadBundle(sftp, bundle, dir));
  return dir;
}

/**
 * What the deploy user (or anyone with its key) can do to its own upload between upload and
 * install, done as that user on the host itself: the setup is not what these tests are
 * about, so it does not go through a second SSH exec.
 */
const asDeployUser = (i: number, script: string, ...args: string[]) =>
  lab.hostExec(host(i).name, "runuser", ["-u", host(i).user, "--", "sh", "-c", script, "sh", ...args]);
const helperDirs = (i: number) => sh(i, "ls -A /var/lib/hvnet/helper 2>/dev/null || true").trim().split("\n").filter(Boolean);

beforeAll(async () => {
  requireRoot();
  requireCommand("sudo");
  requireCommand("bpftool");
  scratch = mkdtempSync(path.join(tmpdir(), "hvt-nonroot-"));
  project = await ExampleProject.create("quickstart");
  const pkg = packageFiles(path.join(project.dir, "node_modules", "@hvnet", "pulumi"));
  HELPER_DIR = pkg.helperDir;
  lab = await nonRootLabUp(2, pkg.launcher);
}, 10 * 60_000);

afterEach(async () => {
  await Promise.all(pools.splice(0).map((p) => p.close()));
  for (const c of conns.splice(0)) c.close();
});

afterAll(() => {
  try {
    project?.remove();
    lab?.down();
  } finally {
    if (scratch) rmSync(scratch, { recursive: true, force: true });
  }
});

test("the lab user is not root and its sudo rule allows the launcher only", () => {
  expect(host(0).user).not.toBe("root");
  expect(labSsh(lab, "hv1", "id -u").trim()).not.toBe("0");
  let denied: { status?: number; stderr?: string } = {};
  try {
    labSsh(lab, "hv1", "sudo -n sh -c id");
  } catch (e) {
    denied = e as { status: number; stderr: string };
  }
  expect(denied.status).toBe(1);
  expect(denied.stderr).toMatch(/sudo: a password is required/);
  // What sudo itself says this user may run: the launcher and nothing else.
  const allowed = labSsh(lab, "hv1", "sudo -n -l").split("\n").filter((l) => l.includes("NOPASSWD"));
  expect(allowed.map((l) => l.trim())).toEqual([`(root) NOPASSWD: ${LAUNCHER_PATH}`]);
});

test("deploy, create, read and delete work as the non-root user, the helper running as root", async () => {
  const p = pool();
  const h = spec(0);
  const kind = KINDS.XdpProgram;
  const { id, outs } = await createResource(p, kind, requireValidInputs(kind, { host: h, device: "uplink0", program: "l2fwd" }));
  expect(p.stats(h)).toMatchObject({ deploys: 1, execs: 3, sftpSessions: 1 });
  const hash = loadBundle(HELPER_DIR).hash;
  expect(helperDirs(0)).toEqual([hash]);
  expect(sh(0, 'stat -c "%a %U:%G" "$1"', `/var/lib/hvnet/helper/${hash}`).trim()).toBe("700 root:root");
  // The upload in the user's home is gone once installed.
  expect(labSsh(lab, "hv1", "ls -A ~").split("\n").filter((l) => l.startsWith(".hvnet-upload"))).toEqual([]);
  const pid = p.stats(h)!.helperPid!;
  expect(sh(0, 'awk "/^Uid:/ {print \\$2}" /proc/$1/status', String(pid)).trim()).toBe("0");

  const [link] = JSON.parse(lab.hostExec("hv1", "ip", ["-j", "-d", "link", "show", "dev", "uplink0"]));
  expect(link.xdp.prog.id).toBe(outs.programId);
  const read = await readResource(p, kind, id, { host: h });
  expect(read.id).toBe(id);
  expect(read.props.linkId).toBe(outs.linkId);
  await deleteResource(p, kind, id, outs);
  const [after] = JSON.parse(lab.hostExec("hv1", "ip", ["-j", "-d", "link", "show", "dev", "uplink0"]));
  expect(after.xdp).toBeUndefined();

  // A warm connect is still one exec.
  const warm = pool();
  expect((await readResource(warm, kind, id, { host: h })).id).toBe("");
  expect(warm.stats(h)).toMatchObject({ deploys: 0, execs: 1, sftpSessions: 0 });
});

test("pulumi up, refresh and destroy of the quickstart as the non-root user", async () => {
  const stack = "nonroot";
  await project.newStack(stack, { "hvnet:inventory": path.join(lab.dir, "inventory.json") });
  try {
    const up = await project.pulumiOk(["up", "--yes", "--skip-preview", "--json", "--stack", stack]);
    expect(parseEvents(up.stdout).find((e) => e.summaryEvent)?.summaryEvent?.resourceChanges).toEqual({ create: 6 });
    const [uplink] = JSON.parse(lab.hostExec("hv1", "ip", ["-j", "-d", "link", "show", "dev", "uplink0"]));
    expect(uplink.xdp.prog.name).toBe("l2fwd");
    for (const tap of ["tap-vm1", "tap-vm2"]) expect(lab.hostExec("hv1", "ip", ["-br", "link", "show", "dev", tap])).toContain(tap);
    const refresh = await project.pulumiOk(["refresh", "--yes", "--skip-preview", "--json", "--stack", stack]);
    expect(Object.values(stepOps(parseEvents(refresh.stdout)))).toEqual(Array(5).fill("same"));
    const destroy = await project.pulumiOk(["destroy", "--yes", "--skip-preview", "--stack", stack]);
    expect(destroy.stdout).toMatch(/6 deleted/);
    const [after] = JSON.parse(lab.hostExec("hv1", "ip", ["-j", "-d", "link", "show", "dev", "uplink0"]));
    expect(after.xdp).toBeUndefined();
  } finally {
    const problems = await project.dropStack(stack);
    if (problems.length) throw new Error(problems.join("\n"));
  }
});

test("a symlink planted in the upload to a root-only file is refused, and nothing is installed", async () => {
  const secret = `hvt-secret-${randomBytes(8).toString("hex")}`;
  sh(1, 'umask 077; printf "%s\\n" "$1" > /run/hvt-secret', secret);
  const bundle = loadBundle(HELPER_DIR);
  const conn = await connectAsDeployUser(1);
  // What the deploy user (or anyone who has its key) can do between upload and install.
  const dir = await uploadToHome(conn, bundle);
  asDeployUser(1, 'rm "$1/bundle/helper.js" && ln -s /run/hvt-secret "$1/bundle/helper.js"', dir);

  const r = await conn.exec(installCommand(bundle.hash, conn.user, dir));
  expect(r.code).toBe(4);
  expect(r.stderr).toMatch(/hvnet-launch: refusing to install: not a regular file: .*\/bundle\/helper\.js/);
  expect(helperDirs(1)).toEqual([]);
  expect(sh(1, 'grep -rl "$1" /var/lib/hvnet 2>/dev/null || true', secret).trim()).toBe("");
  expect((await conn.exec(`ls -d ${dir} 2>/dev/null || echo gone`)).stdout.trim()).toBe("gone");
  sh(1, "rm -f /run/hvt-secret");
});

test("an upload with a file the bundle does not have is refused before anything is copied", async () => {
  const bundle = loadBundle(HELPER_DIR);
  const conn = await connectAsDeployUser(1);
  const dir = await uploadToHome(conn, bundle);
  asDeployUser(1, 'echo extra > "$1/bundle/preload.js"', dir);
  const r = await conn.exec(installCommand(bundle.hash, conn.user, dir));
  expect(r.code).toBe(4);
  expect(r.stderr).toContain(`hvnet-launch: refusing to install bundle ${bundle.hash}: the files are not the manifest's (preload.js )`);
  expect(helperDirs(1)).toEqual([]);
  expect(sh(1, "ls -A /var/lib/hvnet/helper 2>/dev/null | grep -c stage || true").trim()).toBe("0");
});

test("a bundle file changed on the host after install is re-verified by the launcher, which refuses to start it", async () => {
  const hash = loadBundle(HELPER_DIR).hash;
  await pool().request(spec(0), "hello"); // deployed (by the earlier test or now)
  await Promise.all(pools.splice(0).map((p) => p.close()));
  // Code that would leave a witness if node ever ran it as root.
  const witness = `/run/hvt-tampered-${randomBytes(4).toString("hex")}`;
  sh(0, 'printf "\\nrequire(\\"fs\\").writeFileSync(\\"%s\\", \\"ran\\");\\n" "$2" >> "$1"', `/var/lib/hvnet/helper/${hash}/helper.js`, witness);
  try {
    const err = await pool().request(spec(0), "hello").catch((e) => e);
    expect(err).toBeInstanceOf(TransportError);
    expect(err.code).toBe("EHELPERSTART");
    expect(err.message).toMatch(/hvnet-launch: refusing to start bundle [0-9a-f]{64}: the installed files were changed on the host and no longer match its manifest \(helper\.js: FAILED/);
    expect(err.message).toContain(`Remove /var/lib/hvnet/helper/${hash} as root and deploy again`);
    expect(sh(0, 'test -e "$1" && echo ran || echo never', witness).trim()).toBe("never");
  } finally {
    // The recovery the message names.
    sh(0, 'rm -rf "$1"', `/var/lib/hvnet/helper/${hash}`);
  }
  await expect(pool().request(spec(0), "hello")).resolves.toMatchObject({ hash });
  expect(sh(0, 'test -e "$1" && echo ran || echo never', witness).trim()).toBe("never");
});

test("a launcher for another bundle, or none, is an error naming what to install and the sudoers line", async () => {
  const copy = path.join(scratch, "helper-v2");
  cpSync(HELPER_DIR, copy, { recursive: true });
  writeFileSync(path.join(copy, "VERSION"), "2\n");
  const v2 = loadBundle(copy).hash;
  const installed = loadBundle(HELPER_DIR).hash;
  const other = await pool(copy).request(spec(1), "hello").catch((e) => e);
  expect(other).toBeInstanceOf(HostRequirementError);
  expect(other.message).toContain(`hv2: cannot deploy the hvnet helper as ${host(1).user}: the launcher ${LAUNCHER_PATH} is for helper bundle ${installed.slice(0, 12)} (another hvnet version), this provider ships ${v2.slice(0, 12)}`);
  expect(other.message).toContain(`install -D -o root -g root -m 0755 hvnet-launch ${LAUNCHER_PATH}`);
  expect(other.message).toContain(sudoersLine(host(1).user));
  expect(helperDirs(1)).not.toContain(v2); // nothing uploaded or installed

  // Without a launcher (an empty directory over the lab's, in this host only).
  const empty = path.join(scratch, "empty");
  sh(1, 'mkdir -p "$1" && mount --bind "$1" /usr/local/libexec/hvnet', empty);
  try {
    const missing = await pool().request(spec(1), "hello").catch((e) => e);
    expect(missing).toBeInstanceOf(HostRequirementError);
    expect(missing.message).toMatch(new RegExp(`^hv2: cannot deploy the hvnet helper as ${host(1).user}: the launcher ${LAUNCHER_PATH} is not installed`));
    expect(missing.message).toContain(`'echo '${sudoersLine(host(1).user)}' > /etc/sudoers.d/hvnet`);
  } finally {
    sh(1, "umount /usr/local/libexec/hvnet");
  }
});
