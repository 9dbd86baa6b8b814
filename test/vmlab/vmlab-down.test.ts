// `scripts/vmlab/vmlab.sh down` acts only on what its lab made: a guest is ended by the
// pid recorded when it started, and only while that pid is still the lab's QEMU (a pid
// recorded before a crash may belong to another process by now). No guest is booted
// here: the lab directory is laid out as a crashed lab leaves it.
import { ChildProcess, spawn, spawnSync } from "node:child_process";
import { randomBytes } from "node:crypto";
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import path from "node:path";
import { requireRoot } from "../support/require-root";
import { processRunning } from "../support/processes";

const VMLAB = path.resolve(__dirname, "../../scripts/vmlab/vmlab.sh");

function down(name: string, dir: string): { status: number | null; stderr: string } {
  const r = spawnSync(VMLAB, ["down", "--name", name, "--dir", dir], { encoding: "utf8", timeout: 60_000 });
  return { status: r.status, stderr: r.stderr };
}

/** The files a VM lab leaves in DIR after its `up` crashed, with hv1's pid recorded as PID. */
function crashedLab(name: string, dir: string, pid: number): void {
  const hv1 = path.join(dir, "vmhosts", "hv1");
  mkdirSync(hv1, { recursive: true });
  writeFileSync(path.join(hv1, "qemu.pid"), `${pid}\n`);
  for (const f of ["disk.qcow2", "console.log", "port", "ssh_host_ed25519_key", "ssh_host_ed25519_key.pub"]) {
    writeFileSync(path.join(hv1, f), "x");
  }
  writeFileSync(path.join(dir, "vmlab.state"), `prefix=${name}\nhosts=1\nimage=/nonexistent\n`);
  for (const f of ["inventory.json", "known_hosts", "id_ed25519", "id_ed25519.pub", "bootstrap_known_hosts"]) {
    writeFileSync(path.join(dir, f), "x");
  }
}

describe("VM lab down: only the lab's own processes and files", () => {
  let dir = "";
  let sleeper: ChildProcess | undefined;

  beforeEach(() => {
    requireRoot();
    dir = mkdtempSync(path.join(tmpdir(), "hvvdown-"));
  });

  afterEach(() => {
    // Ours: started by this test, ended by its pid.
    if (sleeper?.pid !== undefined && processRunning(sleeper.pid)) sleeper.kill("SIGKILL");
    sleeper = undefined;
    rmSync(dir, { recursive: true, force: true });
  });

  test("a recorded pid that is no longer the lab's QEMU is left running; the lab's files go, the user's stay", () => {
    const name = `hvv${randomBytes(2).toString("hex")}`;
    sleeper = spawn("sleep", ["300"], { stdio: "ignore" });
    const pid = sleeper.pid!;
    crashedLab(name, dir, pid);
    writeFileSync(path.join(dir, "notes.txt"), "mine");

    const r = down(name, dir);
    expect({ status: r.status, stderr: r.stderr }).toEqual({ status: 0, stderr: expect.stringContaining(`VM lab ${name} down`) });
    expect(processRunning(pid)).toBe(true);
    expect(existsSync(path.join(dir, "vmhosts"))).toBe(false);
    for (const f of ["inventory.json", "known_hosts", "id_ed25519", "id_ed25519.pub", "vmlab.state", "bootstrap_known_hosts"]) {
      expect({ f, exists: existsSync(path.join(dir, f)) }).toEqual({ f, exists: false });
    }
    expect(readFileSync(path.join(dir, "notes.txt"), "utf8")).toBe("mine");
  });

  test("down refuses a directory that holds a namespace lab, and touches nothing there", () => {
    writeFileSync(path.join(dir, "state"), "prefix=hvlab\nhosts=2\nsubnet=20\n");
    writeFileSync(path.join(dir, "inventory.json"), "{}");
    const r = down("hvvm", dir);
    expect(r.status).not.toBe(0);
    expect(r.stderr).toMatch(/holds a namespace lab: remove it first \('make lab-down'/);
    expect(existsSync(path.join(dir, "inventory.json"))).toBe(true);
  });

  test("down under another name refuses the VM lab in that directory", () => {
    sleeper = spawn("sleep", ["300"], { stdio: "ignore" });
    crashedLab("hvvown", dir, sleeper.pid!);
    const r = down("hvvother", dir);
    expect(r.status).not.toBe(0);
    expect(r.stderr).toMatch(/holds VM lab 'hvvown'; use --name hvvown/);
    expect(existsSync(path.join(dir, "vmhosts", "hv1", "disk.qcow2"))).toBe(true);
  });
});
