// A lab whose hosts are reached as a non-root user (scripts/lab.sh up --user-mode sudo):
// a per-lab account whose only sudo rule is the hvnet launcher, installed root-owned at its
// fixed path in each host. The launcher must be the one made for the helper bundle the
// test deploys: tests pass both from one installed package (see packageFiles), so a
// concurrent `make build` cannot make them disagree.
import { execFile, execFileSync } from "node:child_process";
import { existsSync, mkdtempSync } from "node:fs";
import { tmpdir } from "node:os";
import path from "node:path";
import type { HostSpec } from "../../../provider/transport/host-spec";
import { LAB_SCRIPT, labDown, readInventory, uniqueLabName, type Lab, type LabHost } from "../../support/lab";
import { connectionOf } from "../../support/runtime";

/** The helper bundle and its launcher inside an installed copy of the package (node_modules/@hvnet/pulumi). */
export function packageFiles(pkgDir: string): { helperDir: string; launcher: string } {
  return { helperDir: path.join(pkgDir, "dist", "helper"), launcher: path.join(pkgDir, "dist", "launcher", "hvnet-launch") };
}

function runLab(args: string[]): Promise<void> {
  return new Promise((resolve, reject) => {
    execFile(LAB_SCRIPT, args, { encoding: "utf8", maxBuffer: 16 << 20 }, (err, _stdout, stderr) => {
      if (err) reject(new Error(`scripts/lab.sh ${args.join(" ")} failed: ${err.message}\n${stderr}`));
      else resolve();
    });
  });
}

export async function nonRootLabUp(hosts: number, launcher: string): Promise<Lab> {
  if (!existsSync(launcher)) throw new Error(`${launcher} is missing: run make build`);
  const name = uniqueLabName();
  const dir = mkdtempSync(path.join(tmpdir(), `${name}-`));
  const started = process.hrtime.bigint();
  try {
    await runLab(["up", "--hosts", String(hosts), "--name", name, "--dir", dir, "--user-mode", "sudo", "--launcher", launcher]);
  } catch (err) {
    labDown({ name, dir });
    throw err;
  }
  return {
    dir,
    name,
    inventory: readInventory(dir),
    upMs: Number(process.hrtime.bigint() - started) / 1e6,
    hostExec: (host, cmd, args) =>
      execFileSync(LAB_SCRIPT, ["exec", "--name", name, "--dir", dir, host, "--", cmd, ...args], { encoding: "utf8", stdio: ["ignore", "pipe", "pipe"] }),
    down: () => labDown({ name, dir }),
  };
}

export function hostSpec(h: LabHost): HostSpec {
  return connectionOf(h);
}
