// A lab host's SSH host key legitimately replaced, as an operator would: a new key, sshd
// restarted on it, the inventory (and known_hosts) updated. The sshd is restarted the way
// scripts/lab/sshd.sh starts it (same config and pid file), so `lab.sh down` stops it.
import { execFileSync } from "node:child_process";
import { readFileSync, readlinkSync, rmSync, writeFileSync } from "node:fs";
import net from "node:net";
import path from "node:path";
import { readInventory, type Lab } from "../../support/lab";
import { processRunning } from "../../support/processes";

const SSHD = "/usr/sbin/sshd";

/** The lab's sshd of this host (exe and config path checked: a recycled pid is never signalled). */
function sshdPid(hostDir: string): number {
  const pid = Number(readFileSync(path.join(hostDir, "sshd.pid"), "utf8").trim());
  const exe = readlinkSync(`/proc/${pid}/exe`);
  // sshd retitles its listener ("sshd: /usr/sbin/sshd -f CFG ... [listener] ..."), so
  // the config path is looked for as scripts/lab/sshd.sh does, in the joined command line.
  const cmdline = ` ${readFileSync(`/proc/${pid}/cmdline`, "utf8").split("\0").join(" ")} `;
  if (exe !== SSHD || !cmdline.includes(` -f ${path.join(hostDir, "sshd_config")} `)) throw new Error(`pid ${pid} is not the lab's sshd of ${hostDir}`);
  return pid;
}

async function until(what: string, ok: () => boolean | Promise<boolean>, ms = 10_000): Promise<void> {
  const end = Date.now() + ms;
  while (!(await ok())) {
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 100));
  }
}

function answers(address: string, port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const s = net.connect({ host: address, port, timeout: 1000 }, () => { s.destroy(); resolve(true); });
    s.on("error", () => resolve(false));
    s.on("timeout", () => { s.destroy(); resolve(false); });
  });
}

/** Replaces the host's key and restarts its sshd; returns the new "SHA256:..." fingerprint. */
export async function rotateHostKey(lab: Lab, hostName: string): Promise<string> {
  const host = lab.inventory.hosts.find((h) => h.name === hostName);
  if (!host) throw new Error(`lab ${lab.name} has no host ${hostName}`);
  const hostDir = path.join(lab.dir, "hosts", hostName);
  const key = path.join(hostDir, "ssh_host_ed25519_key");

  const pid = sshdPid(hostDir);
  rmSync(key, { force: true });
  rmSync(`${key}.pub`, { force: true });
  execFileSync("ssh-keygen", ["-q", "-t", "ed25519", "-N", "", "-C", `hvnet-lab-${lab.name}-${hostName}-rotated`, "-f", key]);

  process.kill(pid, "SIGTERM");
  await until(`the old sshd of ${hostName} (pid ${pid}) to exit`, () => !processRunning(pid));
  rmSync(path.join(hostDir, "sshd.pid"), { force: true });
  execFileSync("nsenter", [
    `--net=/run/netns/${host.netns}`, `--mount=${host.mountns}`, "--",
    SSHD, "-f", path.join(hostDir, "sshd_config"), "-o", `PidFile=${path.join(hostDir, "sshd.pid")}`, "-E", path.join(hostDir, "sshd.log"),
  ]);
  await until(`the new sshd of ${hostName} to answer`, () => answers(host.address, host.port));

  const fingerprint = execFileSync("ssh-keygen", ["-l", "-f", `${key}.pub`], { encoding: "utf8" }).split(" ")[1];
  if (!fingerprint?.startsWith("SHA256:")) throw new Error(`unexpected ssh-keygen -l output for ${key}.pub`);

  const file = path.join(lab.dir, "inventory.json");
  const inventory = JSON.parse(readFileSync(file, "utf8"));
  for (const h of inventory.hosts) if (h.name === hostName) h.hostKey = fingerprint;
  writeFileSync(file, `${JSON.stringify(inventory, null, 2)}\n`);
  const [type, pub] = readFileSync(`${key}.pub`, "utf8").split(" ");
  const known = readFileSync(lab.inventory.knownHosts, "utf8").split("\n")
    .map((l) => (l.startsWith(`${host.address} `) ? `${host.address} ${type} ${pub}` : l));
  writeFileSync(lab.inventory.knownHosts, known.join("\n"));
  lab.inventory = readInventory(lab.dir);
  return fingerprint;
}
