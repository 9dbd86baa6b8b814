// Helper deployment: the local bundle directory (dist/helper) goes to
// /var/lib/hvnet/helper/<hash>/ on each host, once per bundle version.
//
// Round trips are the cost that matters (~146 ms per exec channel), so the "is it
// deployed, and can this host run it?" check is fused into the command that starts the
// helper (helperCommand): on a warm host, connecting costs one exec. When the bundle is
// missing, or Node/libbpf are not there, that same command prints one JSON probe line
// instead of starting the helper, and the caller deploys from it:
//   first deploy: 3 execs (start attempt, finalize, start) + 1 SFTP session
//   warm connect: 1 exec
//
// Every command sent to a host is a fixed script: the only variable parts are the bundle
// hash (checked to be 64 hex digits), random hex, and the SFTP home directory of a
// non-root user (checked against a strict path pattern). No user input reaches a shell.
import { createHash, randomBytes } from "node:crypto";
import * as path from "node:path";
import type { SFTPWrapper } from "ssh2";
import { bundleFiles, bundleManifest } from "../common/bundle-hash";
import type { SshConnection } from "./connection";
import { withSudo } from "./connection";
import { HostRequirementError, TransportError } from "./errors";

export const HELPER_ROOT = "/var/lib/hvnet/helper";
export const HELPER_ENTRY = "helper.js";
export const MIN_NODE_MAJOR = 20;

/** Where libbpf.so.1 lives on the distributions we expect; ldconfig is the fallback. */
const LIBBPF_PATHS = [
  "/usr/lib/x86_64-linux-gnu/libbpf.so.1",
  "/usr/lib/aarch64-linux-gnu/libbpf.so.1",
  "/usr/lib64/libbpf.so.1",
  "/usr/lib/libbpf.so.1",
  "/lib/x86_64-linux-gnu/libbpf.so.1",
  "/lib64/libbpf.so.1",
];

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

/** Wraps a POSIX script so it runs under sh whatever the login shell is (the script holds no single quote). */
function shScript(user: string, lines: string[]): string {
  const script = lines.join("\n");
  if (script.includes("'")) throw new Error("internal: host script must not contain a single quote");
  return withSudo(user, `sh -c '${script}'`);
}

/**
 * Starts the deployed helper when the host has the bundle, Node >= 20 and libbpf.so.1;
 * otherwise prints a probe line {"hvnetProbe":{node, nodePath, libbpf, deployed}} and exits 3.
 */
export function helperCommand(hash: string, user: string): string {
  return shScript(user, probeLines(checkHash(hash), true));
}

/** The probe alone (for ensureDeployed called without a probe from a start attempt). */
export function probeCommand(hash: string, user: string): string {
  return shScript(user, probeLines(checkHash(hash), false));
}

function probeLines(hash: string, launch: boolean): string[] {
  const dir = `${HELPER_ROOT}/${hash}`;
  return [
    `N=$(command -v node 2>/dev/null || true)`,
    `V=""; [ -n "$N" ] && V=$("$N" --version 2>/dev/null | tr -cd "A-Za-z0-9.")`,
    `M=\${V#v}; M=\${M%%.*}`,
    `L=none; for f in ${LIBBPF_PATHS.join(" ")}; do if [ -e "$f" ]; then L=$f; break; fi; done`,
    `if [ "$L" = none ] && { ldconfig -p 2>/dev/null || /sbin/ldconfig -p 2>/dev/null; } | grep -q "libbpf[.]so[.]1 "; then L=ldconfig; fi`,
    `D=false; [ -f ${dir}/${HELPER_ENTRY} ] && D=true`,
    ...(launch
      ? [`if [ $D = true ] && [ "$L" != none ] && [ "\${M:-0}" -ge ${MIN_NODE_MAJOR} ] 2>/dev/null; then exec "$N" ${dir}/${HELPER_ENTRY}; fi`]
      : []),
    `P=$(printf "%s" "$N" | tr -cd "A-Za-z0-9._/+-")`,
    `printf "{\\"hvnetProbe\\":{\\"node\\":\\"%s\\",\\"nodePath\\":\\"%s\\",\\"libbpf\\":\\"%s\\",\\"deployed\\":%s}}\\n" "$V" "$P" "$L" "$D"`,
    ...(launch ? ["exit 3"] : []),
  ];
}

export interface HostProbe {
  /** `node --version` output ("v20.11.1"), "" when node is not on PATH. */
  node: string;
  nodePath: string;
  /** Path of libbpf.so.1, "ldconfig" when found only through ldconfig, "none". */
  libbpf: string;
  deployed: boolean;
}

/** Recognises the probe line; anything else is not a probe. */
export function parseProbe(line: string): HostProbe | undefined {
  if (!line.startsWith('{"hvnetProbe"')) return undefined;
  try {
    const p = JSON.parse(line).hvnetProbe;
    if (typeof p?.node === "string" && typeof p?.libbpf === "string" && typeof p?.deployed === "boolean") {
      return { node: p.node, nodePath: String(p.nodePath ?? ""), libbpf: p.libbpf, deployed: p.deployed };
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

/**
 * Moves an uploaded tree into place: into a root-owned staging directory, verified
 * against the manifest (file by file, and the manifest against the bundle hash), then
 * renamed atomically to the final name. A concurrent deploy of the same hash that won
 * the rename is fine: its tree is identical.
 */
export function finalizeCommand(hash: string, user: string, uploadDir: string, rand: string): string {
  checkHash(hash);
  if (!SAFE_ABS_PATH.test(uploadDir) || uploadDir.split("/").includes("..")) throw new Error(`upload directory ${JSON.stringify(uploadDir)} is not a plain absolute path`);
  if (!/^[0-9a-f]{8,32}$/.test(rand)) throw new Error("internal: bad random suffix");
  const staging = `${HELPER_ROOT}/.tmp-${hash}-${rand}`;
  const final = `${HELPER_ROOT}/${hash}`;
  return shScript(user, [
    "set -e",
    "umask 077",
    `mkdir -p ${HELPER_ROOT}`,
    `chmod 0700 ${HELPER_ROOT}`,
    `if [ ${uploadDir} != ${staging} ]; then mv ${uploadDir} ${staging}; fi`,
    `chown -R 0:0 ${staging}`,
    `chmod -R go-rwx ${staging}`,
    `cd ${staging}/bundle`,
    `sha256sum --quiet --strict -c ../manifest.sha256 >&2`,
    `h=$(sha256sum < ../manifest.sha256); h=\${h%% *}`,
    `if [ "$h" != ${hash} ]; then echo "manifest hash $h is not ${hash}" >&2; exit 4; fi`,
    "cd /",
    `mv -T ${staging}/bundle ${final} 2>/dev/null || [ -f ${final}/${HELPER_ENTRY} ]`,
    `rm -rf ${staging}`,
    // Staging left by a deploy that died half-way (connection lost): an hour is far
    // longer than any upload, so a concurrent deploy's staging is never touched.
    `find ${HELPER_ROOT} -mindepth 1 -maxdepth 1 -name ".tmp-*" -mmin +60 -exec rm -rf {} + 2>/dev/null || true`,
    "echo deployed",
  ]);
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
      throw new TransportError(conn.host, `host probe failed (exit ${r.code}): ${r.stderr.trim() || r.stdout.trim() || "no output"}`, "EPROBE");
    }
  }
  checkHostRequirements(conn.host, conn.user, probe);
  if (probe.deployed) return { uploaded: false, execs };

  const rand = randomBytes(6).toString("hex");
  const uploadDir = await conn.withSftp(async (sftp) => {
    let dir: string;
    if (conn.user === "root") {
      await mkdirIfMissing(sftp, "/var/lib/hvnet");
      await mkdirIfMissing(sftp, HELPER_ROOT);
      dir = `${HELPER_ROOT}/.tmp-${bundle.hash}-${rand}`;
    } else {
      // A non-root user cannot write under /var/lib: upload into its home (not /tmp, where
      // another user could pre-create the name), and let the finalize step move it with sudo.
      const home = await sftpCall<string>((cb) => sftp.realpath(".", cb));
      if (!SAFE_ABS_PATH.test(home) || home.split("/").includes("..")) throw new TransportError(conn.host, `home directory ${JSON.stringify(home)} of ${conn.user} is not a plain path`, "EDEPLOY");
      dir = `${home}/.hvnet-upload-${bundle.hash}-${rand}`;
    }
    await uploadTree(sftp, bundle, dir);
    return dir;
  });

  const r = await conn.exec(finalizeCommand(bundle.hash, conn.user, uploadDir, rand));
  execs++;
  if (r.code !== 0 || !r.stdout.includes("deployed")) {
    throw new TransportError(
      conn.host,
      `installing the helper bundle ${bundle.hash.slice(0, 12)} failed (exit ${r.code}): ${r.stderr.trim() || "no output"}`,
      "EDEPLOY",
    );
  }
  return { uploaded: true, execs };
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

async function uploadTree(sftp: SFTPWrapper, bundle: HelperBundle, dir: string): Promise<void> {
  await sftpCall((cb) => sftp.mkdir(dir, { mode: 0o700 }, cb));
  await sftpCall((cb) => sftp.mkdir(`${dir}/bundle`, { mode: 0o700 }, cb));
  const subdirs = new Set<string>();
  for (const f of bundle.files) {
    const parts = f.split("/");
    for (let i = 1; i < parts.length; i++) subdirs.add(parts.slice(0, i).join("/"));
  }
  // Parents before children: sorting by path puts "a" before "a/b".
  for (const d of [...subdirs].sort()) await sftpCall((cb) => sftp.mkdir(`${dir}/bundle/${d}`, { mode: 0o700 }, cb));
  await sftpCall((cb) => sftp.writeFile(`${dir}/manifest.sha256`, bundle.manifest, { mode: 0o600 }, cb));
  // SFTP requests pipeline over the one channel; a few files at a time keeps it busy.
  const queue = [...bundle.files];
  const worker = async () => {
    for (let f = queue.shift(); f !== undefined; f = queue.shift()) {
      const file = f;
      await sftpCall((cb) => sftp.fastPut(path.join(bundle.dir, file), `${dir}/bundle/${file}`, { mode: 0o600 }, cb));
    }
  };
  await Promise.all(Array.from({ length: Math.min(4, queue.length) }, worker));
}
