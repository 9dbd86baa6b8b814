// A lab host "rebooted" in place: everything a reboot of a hypervisor removes goes, inside
// that host's own net and mount namespaces. Its NIC (uplink0), management link, sshd and
// the deployed helper bundle under /var/lib/hvnet (a disk) stay, as they would.
import { execFileSync } from "node:child_process";
import { readdirSync, readFileSync, readlinkSync, statSync } from "node:fs";
import type { Lab } from "../../support/lab";
import { processRunning } from "../../support/processes";

/** Links a lab host has before hvnet runs: its loopback, management veth and NIC. */
export const HARDWARE_LINKS = ["lo", "mgmt0", "uplink0"];

const HELPER_ROOT = "/var/lib/hvnet/helper/";

interface IpLink {
  ifname: string;
  xdp?: { prog?: { id: number; name: string } };
}

function labHost(lab: Lab, host: string) {
  const h = lab.inventory.hosts.find((x) => x.name === host);
  if (!h) throw new Error(`lab ${lab.name} has no host ${host}`);
  return h;
}

/**
 * Pids of the hvnet helpers running in the host: processes in its network namespace whose
 * command line runs a bundle from the host's helper directory. Found by namespace identity
 * and command line, then killed by pid: never by name, never anything outside the host.
 */
export function helperPids(lab: Lab, host: string): number[] {
  const netns = `net:[${statSync(`/run/netns/${labHost(lab, host).netns}`).ino}]`;
  const pids: number[] = [];
  for (const entry of readdirSync("/proc")) {
    if (!/^\d+$/.test(entry)) continue;
    try {
      if (readlinkSync(`/proc/${entry}/ns/net`) !== netns) continue;
      const argv = readFileSync(`/proc/${entry}/cmdline`, "utf8").split("\0");
      if (argv.some((a) => a.startsWith(HELPER_ROOT))) pids.push(Number(entry));
    } catch {
      // exited while we looked
    }
  }
  return pids;
}

function waitFor(what: string, done: () => boolean, ms = 10_000): void {
  const deadline = Date.now() + ms;
  while (!done()) {
    if (Date.now() > deadline) throw new Error(`wipeHost: ${what} after ${ms} ms`);
    execFileSync("sleep", ["0.1"]);
  }
}

function ipLinks(lab: Lab, host: string): IpLink[] {
  return JSON.parse(lab.hostExec(host, "ip", ["-j", "link", "show"])) as IpLink[];
}

/**
 * Removes what a reboot removes from a lab host: running helpers (killed, as power loss
 * would), every bpffs pin (the host gets a fresh, empty bpffs, so the pinned XDP links and
 * maps are released and the programs leave the NIC), every tap and other software link,
 * and /run/hvnet (the helper's registry and locks live on the /run tmpfs).
 */
export function wipeHost(lab: Lab, host: string): void {
  for (const pid of helperPids(lab, host)) {
    try {
      process.kill(pid, "SIGKILL");
    } catch {
      // already gone
    }
  }
  waitFor(`the helpers on ${host} still run`, () => helperPids(lab, host).every((pid) => !processRunning(pid)));

  // A fresh bpffs, as a boot mounts one: the old superblock and its pins go with the
  // unmount (nothing else in the lab holds this host's mount namespace's bpffs).
  lab.hostExec(host, "umount", ["/sys/fs/bpf"]);
  lab.hostExec(host, "mount", ["-t", "bpf", "-o", "mode=0700", "bpf", "/sys/fs/bpf"]);

  for (const l of ipLinks(lab, host)) {
    if (HARDWARE_LINKS.includes(l.ifname)) continue;
    try {
      lab.hostExec(host, "ip", ["link", "del", "dev", l.ifname]);
    } catch (err) {
      // A veth pair's second end goes with the first; any other failure is real.
      if (ipLinks(lab, host).some((x) => x.ifname === l.ifname)) throw err;
    }
  }
  lab.hostExec(host, "rm", ["-rf", "--", "/run/hvnet"]);

  // The pinned links are released asynchronously once the last reference goes.
  waitFor(`${host} still has an XDP program or a non-hardware link`, () =>
    ipLinks(lab, host).every((l) => HARDWARE_LINKS.includes(l.ifname) && !l.xdp));
}

/** The fast path of a host as a reboot test compares it: names, not ids or ifindexes. */
export interface HostView {
  /** Non-hardware links with the XDP program each runs, plus uplink0's. */
  links: Array<{ name: string; xdp: string | null; mtu: number; txqueues: number }>;
  /** Every bpffs path (bpffs's own *.debug iterators left out). */
  pins: string[];
  /** Files of the helper's registry under /run/hvnet (locks come and go), kernel ids as <id>. */
  registry: string[];
}

export function hostView(lab: Lab, host: string): HostView {
  const raw = JSON.parse(lab.hostExec(host, "ip", ["-j", "-d", "link", "show"])) as Array<
    IpLink & { mtu: number; num_tx_queues: number }
  >;
  const links = raw
    .filter((l) => l.ifname === "uplink0" || !HARDWARE_LINKS.includes(l.ifname))
    .map((l) => ({ name: l.ifname, xdp: l.xdp?.prog?.name ?? null, mtu: l.mtu, txqueues: l.num_tx_queues }))
    .sort((a, b) => a.name.localeCompare(b.name));
  const find = (args: string[]) =>
    lab.hostExec(host, "find", args).split("\n").filter((p) => p !== "").sort();
  const pins = find(["/sys/fs/bpf", "-mindepth", "1", "-not", "-name", "*.debug"]);
  // Directories named by a kernel object id (a map's) get a new name with the new object.
  const registry = find(["/run", "-path", "/run/hvnet*", "-not", "-path", "/run/hvnet/locks*", "-type", "f"])
    .map((p) => p.replace(/\/\d+(?=\/)/g, "/<id>"));
  return { links, pins, registry };
}
