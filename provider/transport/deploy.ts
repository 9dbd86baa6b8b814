// Helper deployment: the local bundle directory (dist/helper) goes to
// /var/lib/hvnet/helper/<hash>/ on each host, once per bundle version, and is started from
// there. Everything done as root goes through the launcher (launcher/hvnet-launch.in): a
// fixed script made for one bundle, which copies uploaded files into a root-only directory,
// refuses anything but regular files, checks every file against the bundle's manifest
// after the copy, and checks them again right before it runs node. A non-root user runs
// only the launcher, with `sudo -n`, so one sudoers line naming it is all the rule needs;
// the operator installs it once per provider version at LAUNCHER_PATH. Root gets the same
// script, installed by the provider itself next to the bundles.
//
// Round trips are the cost that matters (~146 ms per exec channel), so the "is it
// deployed, and can this host run it?" check is fused into the command that starts the
// helper (helperCommand): on a warm host, connecting costs one exec. When the bundle or
// the launcher is missing, or Node/libbpf are not there, that same command prints one
// JSON probe line instead of starting the helper, and the caller deploys from it:
//   first deploy: 3 execs (start attempt, install, start) + 1 SFTP session
//   warm connect: 1 exec
//
// Every command sent to a host is a fixed script: the only variable parts are the bundle
// hash (checked to be 64 hex digits), random hex, and the SFTP home directory of a
// non-root user (checked against a strict path pattern). No user input reaches a shell.
import { randomBytes, createHash } from "node:crypto";
import { existsSync } from "node:fs";
import * as path from "node:path";
import type { SFTPWrapper } from "ssh2";
import { bundleFiles, bundleManifest } from "../common/bundle-hash";
import type { ExecResult, SshConnection } from "./connection";
import { describeExit, withSudo } from "./connection";
import { HostRequirementError, TransportError } from "./errors";
import { HELPER_ENTRY, LAUNCHER_PATH, LIBBPF_PATHS, MIN_NODE_MAJOR, renderLauncher } from "./launcher/render";

export { HELPER_ENTRY, LAUNCHER_PATH, MIN_NODE_MAJOR };
export const HELPER_ROOT = "/var/lib/hvnet/helper";
/** Root's launchers, one per bundle (root never needs the fixed path a sudoers line names). */
export const ROOT_LAUNCHER_DIR = "/var/lib/hvnet/launcher";

const HEX64 = /^[0-9a-f]{64}$/;
// sha256sum's manifest format is unambiguous only for names without newlines/backslashes;
// bundle file names are ours, so keep them to a plain set.
const SAFE_REL_PATH = /^[A-Za-z0-9._+@-]+(\/[A-Za-z0-9._+@-]+)*$/;
const SAFE_ABS_PATH = /^\/[A-Za-z0-9._+@-]+(\/[A-Za-z0-9._+@-]+)*$/;

export interface HelperBundle {
  dir: string;
  hash: string;
  /** "<sha256>  <relative path>\n" per file, sorted: the text `sha256sum -c` checks. */
  manifest: string;
  files: string[];
}

const bundles = new Map<string, HelperBundle>();

/** Hashes a bundle directory once per process (the bundle does not change under a running provider). */
export function loadBundle(dir: string): HelperBundle {
  const abs = path.resolve(dir);
  const cached = bundles.get(abs);
  if (cached) return cached;
  let files: string[];
  try {
    files = bundleFiles(abs);
  } catch (e) {
    throw new Error(`helper bundle ${abs} cannot be read: ${(e as Error).message} (run 'make build')`);
  }
  if (!files.includes(HELPER_ENTRY)) throw new Error(`helper bundle ${abs} has no ${HELPER_ENTRY} (run 'make build')`);
  const bad = files.find((f) => !SAFE_REL_PATH.test(f));
  if (bad) throw new Error(`helper bundle ${abs}: file name ${JSON.stringify(bad)} has characters the deploy manifest cannot carry`);
  // bundleHash() is sha256 of this manifest; hashing the text here reads each file once.
  const manifest = bundleManifest(abs);
  const bundle = { dir: abs, hash: createHash("sha256").update(manifest).digest("hex"), manifest, files };
  bundles.set(abs, bundle);
  return bundle;
}

function checkHash(hash: string): string {
  if (!HEX64.test(hash)) throw new Error(`bundle hash ${JSON.stringify(hash)} is not 64 hex digits`);
  return hash;
}

/** The launcher a user runs: root's own copy per bundle, or the fixed one a sudoers rule names. */
export function launcherPath(hash: string, user: string): string {
  return user === "root" ? `${ROOT_LAUNCHER_DIR}/hvnet-launch-${checkHash(hash)}` : LAUNCHER_PATH;
}

/** The launcher script for a bundle: what root's copy holds and what an operator installs. */
export function launcherScript(bundle: HelperBundle): string {
  return renderLauncher(bundle.hash, bundle.manifest);
}

/** Where the build put the launcher for this bundle (dist/launcher next to dist/helper), if there. */
export function localLauncherFile(bundle: HelperBundle): string | undefined {
  const f = path.resolve(bundle.dir, "..", "launcher", "hvnet-launch");
  return existsSync(f) ? f : undefined;
}

/**
 * Wraps a POSIX script so it runs under sh whatever the login shell is (the script holds
 * no single quote). It runs as the SSH user: only the launcher is run through sudo.
 */
function shScript(lines: string[]): string {
  const script = lines.join("\n");
  if (script.includes("'")) throw new Error("internal: host script must not contain a single quote");
  return `sh -c '${script}'`;
}

const STATUS_PROBE = `printf "{\\"hvnetProbe\\":{\\"launcher\\":\\"%s\\"}}\\n" "$s"`;

/**
 * Runs `launcher <args>` as root: directly for root, else through `sudo -n` once the
 * launcher is there and sudo allows exactly that command. When it cannot run, prints a
 * probe line naming why ({"hvnetProbe":{"launcher":"missing"|"nosudo"|"denied"}}) and exits 3.
 * With `after`, that runs (as the SSH user) once the launcher is done, and the launcher's
 * exit status is kept; without it, the launcher replaces the shell.
 */
function launcherLines(hash: string, user: string, args: string, after?: string): string[] {
  const l = launcherPath(hash, user);
  const cmd = `${l} ${args}`;
  const run = (c: string) => (after ? `${c}; r=$?; ${after}; exit $r` : `exec ${c}`);
  const cannot = [...(after ? [after] : []), STATUS_PROBE, "exit 3"];
  if (user === "root") return [`if [ -x ${l} ]; then ${run(cmd)}; fi`, "s=missing", ...cannot];
  return [
    `if [ ! -x ${l} ]; then s=missing`,
    "elif ! command -v sudo >/dev/null 2>&1; then s=nosudo",
    `elif sudo -n -l ${cmd} >/dev/null 2>&1; then ${run(withSudo(user, cmd))}`,
    "else s=denied; fi",
    ...cannot,
  ];
}

/**
 * Starts the deployed helper: the launcher verifies the bundle's files and runs node on
 * it. When the bundle is not there, the launcher is missing or for another bundle, or the
 * host lacks Node >= 20 or libbpf.so.1, prints a probe line instead and exits 3.
 */
export function helperCommand(hash: string, user: string): string {
  return shScript(launcherLines(checkHash(hash), user, `run ${hash}`));
}

/** The probe alone (for ensureDeployed called without a probe from a start attempt). */
export function probeCommand(hash: string, user: string): string {
  return shScript(launcherLines(checkHash(hash), user, `probe ${hash}`));
}

/**
 * Has the launcher copy an uploaded tree into place (verified as root, see
 * hvnet-launch.in); the SSH user, who owns the upload, removes it afterwards.
 */
export function installCommand(hash: string, user: string, uploadDir: string): string {
  checkHash(hash);
  if (!SAFE_ABS_PATH.test(uploadDir) || uploadDir.split("/").includes("..")) throw new Error(`upload directory ${JSON.stringify(uploadDir)} is not a plain absolute path`);
  if (!/^\.hvnet-upload-[0-9a-f]{64}-[0-9a-f]{8,32}$/.test(path.posix.basename(uploadDir)) || !path.posix.basename(uploadDir).includes(hash)) {
    throw new Error(`upload directory ${JSON.stringify(uploadDir)} is not named .hvnet-upload-${hash}-<hex>`);
  }
  return shScript(launcherLines(hash, user, `install ${hash} ${uploadDir}`, `rm -rf ${uploadDir}`));
}

export interface HostProbe {
  /**
   * The bundle hash the launcher that answered is for; or why no launcher answered:
   * "missing", "nosudo" (no sudo on the host), "denied" (sudo does not allow it).
   * Absent in probes from before the launcher.
   */
  launcher?: string;
  /** `node --version` output ("v20.11.1"), "" when node is not on PATH. */
  node: string;
  nodePath: string;
  /** Path of libbpf.so.1, "ldconfig" when found only through ldconfig, "none". */
  libbpf: string;
  deployed: boolean;
}

const LAUNCHER_STATUS = new Set(["missing", "nosudo", "denied"]);

/** Recognises the probe line; anything else is not a probe. */
export function parseProbe(line: string): HostProbe | undefined {
  if (!line.startsWith('{"hvnetProbe"')) return undefined;
  try {
    const p = JSON.parse(line).hvnetProbe;
    const launcher = typeof p?.launcher === "string" && (HEX64.test(p.launcher) || LAUNCHER_STATUS.has(p.launcher)) ? (p.launcher as string) : undefined;
    if (launcher && LAUNCHER_STATUS.has(launcher)) return { launcher, node: "", nodePath: "", libbpf: "", deployed: false };
    if (typeof p?.node === "string" && typeof p?.libbpf === "string" && typeof p?.deployed === "boolean") {
      const probe: HostProbe = { node: p.node, nodePath: String(p.nodePath ?? ""), libbpf: p.libbpf, deployed: p.deployed };
      if (launcher) probe.launcher = launcher;
      return probe;
    }
  } catch {
    // not JSON: not a probe
  }
  return undefined;
}

/** Throws HostRequirementError naming the host and what was found. */
export function checkHostRequirements(host: string, user: string, probe: HostProbe): void {
  const problems: string[] = [];
  const as = user === "root" ? "" : " (as root through sudo)";
  if (!probe.node) problems.push(`node is not on PATH${as}; the helper needs Node >= ${MIN_NODE_MAJOR}`);
  else {
    const major = Number(/^v(\d+)\./.exec(probe.node)?.[1] ?? NaN);
    if (!(major >= MIN_NODE_MAJOR)) problems.push(`${probe.nodePath || "node"} is ${probe.node}; the helper needs Node >= ${MIN_NODE_MAJOR}`);
  }
  if (probe.libbpf === "none") problems.push(`libbpf.so.1 not found (looked in ${LIBBPF_PATHS.join(", ")} and ldconfig -p); install libbpf1`);
  if (problems.length) throw new HostRequirementError(host, `cannot run the hvnet helper: ${problems.join("; ")}`);
}

/** The sudoers line that lets `user` run the launcher, and nothing else, as root. */
export function sudoersLine(user: string): string {
  return `${user} ALL=(root) NOPASSWD: ${LAUNCHER_PATH}`;
}

/**
 * Why a non-root user cannot use the launcher, and the commands (run as root on the host)
 * that fix it. The launcher is never installed over SFTP for such a user: only root may
 * decide which code runs as root.
 */
export function launcherProblem(host: string, user: string, bundle: HelperBundle, launcher: string | undefined): HostRequirementError {
  const local = localLauncherFile(bundle) ?? "dist/launcher/hvnet-launch of the provider package (made by 'make build')";
  const install = `install -D -o root -g root -m 0755 hvnet-launch ${LAUNCHER_PATH}`;
  const sudoers = `echo '${sudoersLine(user)}' > /etc/sudoers.d/hvnet && chmod 0440 /etc/sudoers.d/hvnet`;
  const fix = `As root on ${host}, install this provider's launcher (copy ${local} there first): '${install}'; allow ${user} to run it: '${sudoers}'.`;
  const why =
    launcher === "missing" || launcher === undefined
      ? `the launcher ${LAUNCHER_PATH} is not installed (or not executable)`
      : launcher === "nosudo"
        ? "sudo is not installed (apt-get install sudo)"
        : launcher === "denied"
          ? `sudo does not let ${user} run ${LAUNCHER_PATH} without a password`
          : `the launcher ${LAUNCHER_PATH} is for helper bundle ${launcher.slice(0, 12)} (another hvnet version), this provider ships ${bundle.hash.slice(0, 12)}`;
  return new HostRequirementError(host, `cannot deploy the hvnet helper as ${user}: ${why}. ${fix}`);
}

export interface DeployResult {
  uploaded: boolean;
  /** Exec channels this call used (the start attempt that produced the probe is not counted). */
  execs: number;
}

/**
 * Makes sure the host has the bundle. Pass the probe from a failed start attempt to save
 * a round trip; without one, the probe runs first.
 */
export async function ensureDeployed(conn: SshConnection, bundle: HelperBundle, probe?: HostProbe): Promise<DeployResult> {
  let execs = 0;
  if (!probe) {
    const r = await conn.exec(probeCommand(bundle.hash, conn.user));
    execs++;
    probe = parseProbe(r.stdout.trim());
    if (!probe) {
      throw commandFailure(conn.host, "host probe", r, "EPROBE");
    }
  }
  const root = conn.user === "root";
  const launcherReady = probe.launcher === bundle.hash;
  if (!launcherReady && !root) throw launcherProblem(conn.host, conn.user, bundle, probe.launcher);
  if (launcherReady) {
    checkHostRequirements(conn.host, conn.user, probe);
    if (probe.deployed) return { uploaded: false, execs };
  }

  const rand = randomBytes(6).toString("hex");
  const uploadDir = await conn.withSftp(async (sftp) => {
    if (root) {
      await mkdirIfMissing(sftp, "/var/lib/hvnet");
      if (!launcherReady) await putLauncher(sftp, bundle, rand);
      return uploadBundle(sftp, bundle, `/var/lib/hvnet/.hvnet-upload-${bundle.hash}-${rand}`);
    }
    // A non-root user cannot write under /var/lib: upload into its home (not /tmp, where
    // another user could pre-create the name); the launcher copies from there as root.
    const home = await sftpCall<string>((cb) => sftp.realpath(".", cb));
    if (!SAFE_ABS_PATH.test(home) || home.split("/").includes("..")) throw new TransportError(conn.host, `home directory ${JSON.stringify(home)} of ${conn.user} is not a plain path`, "EDEPLOY");
    return uploadBundle(sftp, bundle, `${home}/.hvnet-upload-${bundle.hash}-${rand}`);
  });

  const r = await conn.exec(installCommand(bundle.hash, conn.user, uploadDir));
  execs++;
  const after = r.code === 3 ? parseProbe(r.stdout.trim()) : undefined;
  if (after?.launcher && !HEX64.test(after.launcher)) throw launcherProblem(conn.host, conn.user, bundle, after.launcher);
  if (after) checkHostRequirements(conn.host, conn.user, after);
  if (r.code !== 0 || !r.stdout.includes("deployed")) throw commandFailure(conn.host, `installing the helper bundle ${bundle.hash.slice(0, 12)}`, r, "EDEPLOY");
  return { uploaded: true, execs };
}

/** Why a deploy command did not do its work: how it ended (a signal is named), and what it printed. */
export function commandFailure(host: string, what: string, r: ExecResult, code: string): TransportError {
  return new TransportError(host, `${what} failed (${describeExit(r)}): ${r.stderr.trim() || r.stdout.trim() || "no output"}`, code);
}

function sftpCall<T = void>(fn: (cb: (err: Error | null | undefined, v?: T) => void) => void): Promise<T> {
  return new Promise((resolve, reject) => fn((err, v) => (err ? reject(err) : resolve(v as T))));
}

async function mkdirIfMissing(sftp: SFTPWrapper, dir: string): Promise<void> {
  try {
    await sftpCall((cb) => sftp.mkdir(dir, { mode: 0o700 }, cb));
  } catch (e) {
    // SFTP reports "exists" as a generic failure: check it is a directory.
    const st = await sftpCall<{ isDirectory(): boolean }>((cb) => sftp.stat(dir, cb)).catch(() => undefined);
    if (!st?.isDirectory()) throw e;
  }
}

/** Root's launcher for this bundle, written whole under a temporary name and renamed into place. */
async function putLauncher(sftp: SFTPWrapper, bundle: HelperBundle, rand: string): Promise<void> {
  await mkdirIfMissing(sftp, ROOT_LAUNCHER_DIR);
  const tmp = `${ROOT_LAUNCHER_DIR}/.tmp-${rand}`;
  await sftpCall((cb) => sftp.writeFile(tmp, launcherScript(bundle), { mode: 0o700 }, cb));
  await sftpCall((cb) => sftp.chmod(tmp, 0o700, cb));
  await sftpCall((cb) => sftp.ext_openssh_rename(tmp, launcherPath(bundle.hash, "root"), cb));
}

/** Uploads the bundle's files to DIR/bundle (DIR must not exist); returns DIR. */
export async function uploadBundle(sftp: SFTPWrapper, bundle: HelperBundle, dir: string): Promise<string> {
  await sftpCall((cb) => sftp.mkdir(dir, { mode: 0o700 }, cb));
  await sftpCall((cb) => sftp.mkdir(`${dir}/bundle`, { mode: 0o700 }, cb));
  const subdirs = new Set<string>();
  for (const f of bundle.files) {
    const parts = f.split("/");
    for (let i = 1; i < parts.length; i++) subdirs.add(parts.slice(0, i).join("/"));
  }
  // Parents before children: sorting by path puts "a" before "a/b".
  for (const d of [...subdirs].sort()) await sftpCall((cb) => sftp.mkdir(`${dir}/bundle/${d}`, { mode: 0o700 }, cb));
  // SFTP requests pipeline over the one channel; a few files at a time keeps it busy.
  const queue = [...bundle.files];
  const worker = async () => {
    for (let f = queue.shift(); f !== undefined; f = queue.shift()) {
      const file = f;
      await sftpCall((cb) => sftp.fastPut(path.join(bundle.dir, file), `${dir}/bundle/${file}`, { mode: 0o600 }, cb));
    }
  };
  await Promise.all(Array.from({ length: Math.min(4, queue.length) }, worker));
  return dir;
}
