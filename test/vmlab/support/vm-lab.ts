// One VM lab per test file (scripts/vmlab/vmlab.sh): a Linux 7.x QEMU guest as a lab host,
// its inventory in the namespace lab's format, and SSH with the pinned host key as the
// independent witness of the guest's kernel state. The caller calls down() in afterAll.
//
// HVNET_VMLAB_DIR=<dir of a lab made by `vmlab.sh up`> reuses that lab (and leaves it up):
// for working on a test without resuming a guest per run. Software emulation (TCG).
import { execFile, spawnSync } from "node:child_process";
import { randomBytes } from "node:crypto";
import { mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import path from "node:path";
import type { LabInventoryHost } from "../../../sdk/lab";
import type { HostSpec } from "../../../provider/transport/host-spec";
import { requireCommand, requireRoot } from "../../support/require-root";
import { labSshArgs } from "../../support/lab";
import { connectionOf } from "../../support/runtime";

export const VMLAB = path.resolve(__dirname, "../../../scripts/vmlab/vmlab.sh");
/** A cold run builds the image and boots under TCG on a shared 2-core machine. */
export const VMLAB_UP_TIMEOUT_MS = 40 * 60_000;

export interface VmLabHost extends LabInventoryHost {
  kernel: string;
  pid: number;
}

export interface VmLabInventory {
  name: string;
  kind: string;
  dir: string;
  image: string;
  hosts: VmLabHost[];
  knownHosts: string;
}

export interface SshResult {
  status: number | null;
  stdout: string;
  stderr: string;
}

export interface VmLab {
  dir: string;
  inventory: VmLabInventory;
  upMs: number;
  /** One remote command over real SSH with the pinned key (a witness, not the product). */
  ssh(command: string, host?: number): SshResult;
  sshOk(command: string, host?: number): string;
  /** Copies a local file to the guest (over the same SSH) with the given mode. */
  copyTo(local: string, remote: string, mode?: string, host?: number): void;
  /** The connection the provider gets, as a stack would give it. */
  spec(host?: number): HostSpec;
  down(): Promise<void>;
}

/** Runs scripts/vmlab/vmlab.sh (niced: the machine is shared); its stderr and how long it took. */
export function runVmlab(args: string[]): Promise<{ stderr: string; ms: number }> {
  const started = process.hrtime.bigint();
  return new Promise((resolve, reject) => {
    execFile("nice", ["-n", "10", VMLAB, ...args], { encoding: "utf8", maxBuffer: 16 << 20, timeout: VMLAB_UP_TIMEOUT_MS }, (err, _out, stderr) => {
      if (err) reject(new Error(`scripts/vmlab/vmlab.sh ${args.join(" ")} failed: ${err.message}\n${stderr}`));
      else resolve({ stderr, ms: Number(process.hrtime.bigint() - started) / 1e6 });
    });
  });
}

/** A guest under software emulation can take a while to accept a connection. */
export function sshArgs(host: VmLabHost, knownHosts: string): string[] {
  return labSshArgs(host, knownHosts, 20);
}

/** A remote command on one guest of a VM lab, over real SSH with the pinned key. */
export function sshOn(inventory: VmLabInventory, command: string, host = 0): SshResult {
  const r = spawnSync("ssh", [...sshArgs(inventory.hosts[host], inventory.knownHosts), command], { encoding: "utf8", timeout: 180_000 });
  return { status: r.status, stdout: r.stdout ?? "", stderr: r.stderr ?? "" };
}

export async function vmLabUp(hosts = 1): Promise<VmLab> {
  requireRoot();
  for (const cmd of ["qemu-system-x86_64", "qemu-img", "ssh", "ssh-keygen"]) requireCommand(cmd);
  const reuse = process.env.HVNET_VMLAB_DIR;
  let dir: string;
  let name: string | undefined;
  let upMs = 0;
  if (reuse) {
    dir = reuse;
  } else {
    name = `hvv${randomBytes(2).toString("hex")}`;
    dir = mkdtempSync(path.join(tmpdir(), `${name}-`));
    try {
      const up = await runVmlab(["up", "--hosts", String(hosts), "--name", name, "--dir", dir]);
      upMs = up.ms;
      console.log(`vmlab up (${hosts} guest) took ${(up.ms / 1000).toFixed(1)} s (software emulation: not a performance number)`);
    } catch (err) {
      await runVmlab(["down", "--name", name, "--dir", dir]).catch(() => undefined);
      rmSync(dir, { recursive: true, force: true });
      throw err;
    }
  }
  const inventory = JSON.parse(readFileSync(path.join(dir, "inventory.json"), "utf8")) as VmLabInventory;
  if (inventory.hosts.length < hosts) throw new Error(`the VM lab in ${dir} has ${inventory.hosts.length} hosts, this test needs ${hosts}`);
  const ssh = (command: string, host = 0): SshResult => sshOn(inventory, command, host);
  return {
    dir,
    inventory,
    upMs,
    ssh,
    sshOk(command, host = 0) {
      const r = ssh(command, host);
      if (r.status !== 0) throw new Error(`'${command}' on VM lab host ${inventory.hosts[host].name} failed (${r.status}): ${r.stderr}`);
      return r.stdout;
    },
    copyTo(local, remote, mode = "755", host = 0) {
      const r = spawnSync("ssh", [...sshArgs(inventory.hosts[host], inventory.knownHosts), `cat > '${remote}' && chmod ${mode} '${remote}'`], {
        input: readFileSync(local),
        encoding: "utf8",
        timeout: 180_000,
      });
      if (r.status !== 0) throw new Error(`copying ${local} to ${remote} on VM lab host ${inventory.hosts[host].name} failed: ${r.stderr}`);
    },
    spec(host = 0) {
      return connectionOf(inventory.hosts[host]);
    },
    async down() {
      if (!name) return;
      try {
        await runVmlab(["down", "--name", name, "--dir", dir]);
      } finally {
        rmSync(dir, { recursive: true, force: true });
      }
    },
  };
}

/** The host's uplink name, checked before it is spliced into a remote command. */
export function safeName(s: string): string {
  if (!/^[A-Za-z0-9_.-]{1,15}$/.test(s)) throw new Error(`unexpected device name '${s}'`);
  return s;
}
