// Labs for tests: each caller gets its own lab (scripts/lab.sh) under a fresh prefix and
// temp dir, so it never clashes with a user's `make lab-up` lab or another jest worker's.
// The caller must call down() (or labDown) in afterAll, passing or failing.
import { execFile, execFileSync } from "node:child_process";
import { randomBytes } from "node:crypto";
import { existsSync, mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import path from "node:path";
import type { LabInventory as SdkLabInventory, LabInventoryHost } from "../../sdk/lab";

export const LAB_SCRIPT = path.resolve(__dirname, "../../scripts/lab.sh");

/** One lab host as written to DIR/inventory.json by `scripts/lab.sh up` (the SDK reads the connection part). */
export interface LabHost extends LabInventoryHost {
  /** Absolute path of the file the host's mount namespace is bound on. */
  mountns: string;
}

export interface LabInventory extends SdkLabInventory {
  name: string;
  dir: string;
  hosts: LabHost[];
  management: { bridge: string; address: string; subnet: string };
  external: { netns: string; device: string; address: string; subnet: string };
  switch: { netns: string; bridge: string };
}

export interface Lab {
  dir: string;
  name: string;
  inventory: LabInventory;
  /** Milliseconds `scripts/lab.sh up` took. */
  upMs: number;
  /** Runs cmd inside the host's net+mount namespaces (not over SSH): a witness. */
  hostExec(host: string, cmd: string, args: string[]): string;
  down(): void;
}

// Link names are limited to 15 bytes and lab.sh adds "-mgmt": "hvt" + 4 hex keeps well inside.
export function uniqueLabName(): string {
  return `hvt${randomBytes(2).toString("hex")}`;
}

function runLab(args: string[]): Promise<void> {
  return new Promise((resolve, reject) => {
    execFile(LAB_SCRIPT, args, { encoding: "utf8", maxBuffer: 16 << 20 }, (err, _stdout, stderr) => {
      if (err) reject(new Error(`scripts/lab.sh ${args.join(" ")} failed: ${err.message}\n${stderr}`));
      else resolve();
    });
  });
}

export function readInventory(dir: string): LabInventory {
  return JSON.parse(readFileSync(path.join(dir, "inventory.json"), "utf8")) as LabInventory;
}

export async function labUp(opts: { hosts: number; name?: string }): Promise<Lab> {
  const name = opts.name ?? uniqueLabName();
  const dir = mkdtempSync(path.join(tmpdir(), `${name}-`));
  const started = process.hrtime.bigint();
  try {
    await runLab(["up", "--hosts", String(opts.hosts), "--name", name, "--dir", dir]);
  } catch (err) {
    // up removes a partial lab itself; down again makes sure nothing stays behind.
    labDown({ name, dir });
    throw err;
  }
  const upMs = Number(process.hrtime.bigint() - started) / 1e6;
  return {
    dir,
    name,
    inventory: readInventory(dir),
    upMs,
    hostExec: (host, cmd, args) =>
      execFileSync(LAB_SCRIPT, ["exec", "--name", name, "--dir", dir, host, "--", cmd, ...args], {
        encoding: "utf8",
        stdio: ["ignore", "pipe", "pipe"],
      }),
    down: () => labDown({ name, dir }),
  };
}

/** Removes the lab and its temp dir; safe to call again or after a half-made `up`. */
export function labDown(lab: { name: string; dir: string }): void {
  execFileSync(LAB_SCRIPT, ["down", "--name", lab.name, "--dir", lab.dir], {
    stdio: ["ignore", "pipe", "pipe"],
  });
  // lab.sh only deletes what it made and leaves DIR when a test put its own files there
  // (extra keys, known_hosts). The temp dir is ours, so it goes too, but never while
  // anything is still mounted below it.
  if (existsSync(lab.dir)) {
    const mounted = readFileSync("/proc/self/mountinfo", "utf8")
      .split("\n")
      .map((line) => line.split(" ")[4])
      .some((mp) => mp !== undefined && (mp === lab.dir || mp.startsWith(`${lab.dir}/`)));
    if (mounted) throw new Error(`lab ${lab.name}: mounts remain under ${lab.dir} after down`);
    rmSync(lab.dir, { recursive: true, force: true });
  }
}

/** ssh options that pin the host key from a known_hosts file and never prompt. */
export function labSshArgs(
  host: Pick<LabHost, "privateKeyPath" | "port" | "user" | "address">,
  knownHosts: string,
  connectTimeoutSeconds = 5,
): string[] {
  return [
    "-F", "/dev/null",
    "-i", host.privateKeyPath,
    "-o", "IdentitiesOnly=yes",
    "-o", "StrictHostKeyChecking=yes",
    "-o", `UserKnownHostsFile=${knownHosts}`,
    "-o", "GlobalKnownHostsFile=/dev/null",
    "-o", "BatchMode=yes",
    "-o", `ConnectTimeout=${connectTimeoutSeconds}`,
    "-p", String(host.port),
    `${host.user}@${host.address}`,
  ];
}

/** Runs a (test-constant) remote command over real SSH and returns its stdout. */
export function labSsh(lab: Lab, hostName: string, command: string, knownHosts?: string): string {
  const host = lab.inventory.hosts.find((h) => h.name === hostName);
  if (!host) throw new Error(`lab ${lab.name} has no host ${hostName}`);
  return execFileSync("ssh", [...labSshArgs(host, knownHosts ?? lab.inventory.knownHosts), command], {
    encoding: "utf8",
    stdio: ["ignore", "pipe", "pipe"],
  });
}
