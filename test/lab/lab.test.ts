// The lab itself (scripts/lab.sh): every later SSH and end-to-end test trusts that each
// lab host looks like a separate machine and that `down` leaves nothing behind, so both
// are checked here against independent witnesses (ssh, ip -j, /proc, mountinfo).
import { execFileSync, spawnSync } from "node:child_process";
import { existsSync, mkdtempSync, readFileSync, readdirSync, readlinkSync, rmSync, statSync, unlinkSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import path from "node:path";
import { requireCommand, requireRoot } from "../support/require-root";
import { LAB_SCRIPT, Lab, LabHost, labDown, labSsh, labSshArgs, labUp, readInventory } from "../support/lab";
import { processRunning } from "../support/processes";

const HOSTS = 3;

interface IpLink {
  ifindex: number;
  ifname: string;
  address?: string;
  master?: string;
  link_index?: number;
  num_tx_queues?: number;
  num_rx_queues?: number;
}

function ipJson<T>(args: string[]): T {
  return JSON.parse(execFileSync("ip", ["-j", ...args], { encoding: "utf8" }) || "[]") as T;
}

function labNetns(prefix: string): string[] {
  return execFileSync("ip", ["netns", "list"], { encoding: "utf8" })
    .split("\n")
    .map((l) => l.split(" ")[0])
    .filter((n) => n.startsWith(`${prefix}-`));
}

function rootLinks(prefix: string): string[] {
  return readdirSync("/sys/class/net").filter((n) => n.startsWith(`${prefix}-`));
}

function mountsUnder(dir: string): string[] {
  return readFileSync("/proc/self/mountinfo", "utf8")
    .split("\n")
    .map((l) => l.split(" ")[4])
    .filter((mp): mp is string => mp !== undefined && (mp === dir || mp.startsWith(`${dir}/`)));
}

function sshdPids(lab: Lab): number[] {
  return lab.inventory.hosts.map((h) => Number(readFileSync(path.join(lab.dir, "hosts", h.name, "sshd.pid"), "utf8").trim()));
}

function keyscanFingerprint(host: LabHost): string {
  const scanned = execFileSync("ssh-keyscan", ["-t", "ed25519", "-p", String(host.port), host.address], {
    encoding: "utf8",
    stdio: ["ignore", "pipe", "pipe"],
  });
  const out = execFileSync("ssh-keygen", ["-l", "-f", "-"], { input: scanned, encoding: "utf8" });
  return out.split(" ")[1];
}

// Calls the script directly (not labDown, which also deletes the temp dir) so that the
// removal of DIR is lab.sh's own doing.
function scriptDown(lab: Lab): void {
  execFileSync(LAB_SCRIPT, ["down", "--name", lab.name, "--dir", lab.dir], { stdio: "pipe" });
}

function remoteLinks(lab: Lab, host: string): IpLink[] {
  return JSON.parse(labSsh(lab, host, "ip -j -d link show")) as IpLink[];
}

describe("lab: three hypervisors on this machine", () => {
  let lab: Lab | undefined;
  let downDone = false;

  beforeAll(async () => {
    requireRoot();
    for (const cmd of ["ip", "ssh", "ssh-keygen", "ssh-keyscan", "nsenter", "unshare", "bpftool", "ping"]) requireCommand(cmd);
    lab = await labUp({ hosts: HOSTS });
    // Reported by the lead in BENCHMARKS/notes: how long a 3-host lab takes to come up.
    console.log(`lab up with ${HOSTS} hosts took ${lab.upMs.toFixed(0)} ms`);
  }, 120_000);

  afterAll(() => {
    if (lab && !downDone) lab.down();
  });

  function theLab(): Lab {
    if (!lab) throw new Error("lab did not come up");
    return lab;
  }

  test("inventory lists every host with a host key that matches what sshd serves", () => {
    const l = theLab();
    const inv = l.inventory;
    expect(inv.hosts.map((h) => h.name)).toEqual(["hv1", "hv2", "hv3"]);
    expect(new Set(inv.hosts.map((h) => h.address)).size).toBe(HOSTS);
    for (const h of inv.hosts) {
      expect(h.address).toMatch(/^198\.1[89]\.\d+\.\d+$/);
      expect(h.netns).toBe(`${l.name}-${h.name}`);
      expect(path.isAbsolute(h.privateKeyPath)).toBe(true);
      expect(statSync(h.privateKeyPath).mode & 0o777).toBe(0o600);
      expect(h.hostKey).toMatch(/^SHA256:[A-Za-z0-9+/]{43}$/);
      expect(keyscanFingerprint(h)).toBe(h.hostKey);
    }
    const known = readFileSync(inv.knownHosts, "utf8");
    for (const h of inv.hosts) expect(known).toContain(`${h.address} ssh-ed25519 `);
    expect(labNetns(l.name).sort()).toEqual([`${l.name}-ext`, `${l.name}-hv1`, `${l.name}-hv2`, `${l.name}-hv3`, `${l.name}-sw`]);
  });

  test("ssh with the pinned host key and the lab key reaches every host", () => {
    const l = theLab();
    for (const h of l.inventory.hosts) {
      const r = spawnSync("ssh", [...labSshArgs(h, l.inventory.knownHosts), "true"], { encoding: "utf8" });
      expect({ host: h.name, status: r.status, stderr: r.stderr }).toEqual({ host: h.name, status: 0, stderr: "" });
    }
  });

  test("each host sees only lo, its mgmt link and its own 4-queue uplink0", () => {
    const l = theLab();
    const macs = new Set<string>();
    for (const h of l.inventory.hosts) {
      const links = remoteLinks(l, h.name);
      expect(links.map((k) => k.ifname).sort()).toEqual(["lo", "mgmt0", "uplink0"]);
      const uplink = links.find((k) => k.ifname === "uplink0")!;
      expect(uplink.num_tx_queues).toBe(4);
      expect(uplink.num_rx_queues).toBe(4);
      macs.add(uplink.address!);
      // sysfs is the host's own: /sys/class/net lists the same three links.
      expect(labSsh(l, h.name, "ls /sys/class/net").split("\n").filter(Boolean).sort()).toEqual(["lo", "mgmt0", "uplink0"]);
    }
    expect(macs.size).toBe(HOSTS);
  });

  test("/sys/fs/bpf is a bpffs of each host's own: a pin on one host is absent on the others", () => {
    const l = theLab();
    const marker = `/sys/fs/bpf/${l.name}-pin`;
    try {
      for (const h of l.inventory.hosts) expect(labSsh(l, h.name, "stat -f -c %T /sys/fs/bpf").trim()).toBe("bpf_fs");
      // A directory pin over ssh and a real map pin through the exec witness, both on hv1.
      labSsh(l, "hv1", `mkdir ${marker}`);
      l.hostExec("hv1", "bpftool", ["map", "create", `${marker}/m`, "type", "array", "key", "4", "value", "4", "entries", "1", "name", "hvtlab"]);
      const pinned = JSON.parse(l.hostExec("hv1", "bpftool", ["-j", "map", "show", "pinned", `${marker}/m`])) as { name: string };
      expect(pinned.name).toBe("hvtlab");
      expect(labSsh(l, "hv1", `ls ${marker}`).trim()).toBe("m");
      for (const other of ["hv2", "hv3"]) {
        const r = spawnSync("ssh", [...labSshArgs(l.inventory.hosts.find((h) => h.name === other)!, l.inventory.knownHosts), `test -e ${marker}`]);
        expect({ other, status: r.status }).toEqual({ other, status: 1 });
      }
      expect(existsSync(marker)).toBe(false); // not in the root namespace's /sys/fs/bpf either
    } finally {
      l.hostExec("hv1", "rm", ["-rf", marker]);
    }
  });

  test("/var/lib/hvnet and /run are each host's own", () => {
    const l = theLab();
    for (const h of l.inventory.hosts) {
      labSsh(l, h.name, `echo ${h.name} > /var/lib/hvnet/who && echo ${h.name} > /run/who`);
    }
    for (const h of l.inventory.hosts) {
      expect(labSsh(l, h.name, "cat /var/lib/hvnet/who /run/who")).toBe(`${h.name}\n${h.name}\n`);
      expect(labSsh(l, h.name, "stat -f -c %T /run; test -d /run/sshd && echo sshd-dir")).toBe("tmpfs\nsshd-dir\n");
      // The host's directory is the one under DIR, seen from the root namespace.
      expect(readFileSync(path.join(l.dir, "hosts", h.name, "var-lib-hvnet", "who"), "utf8")).toBe(`${h.name}\n`);
    }
    expect(existsSync("/run/who")).toBe(false);
    expect(existsSync("/var/lib/hvnet/who")).toBe(false);
  });

  test("uplinks and the external namespace share the lab switch", () => {
    const l = theLab();
    const sw = l.inventory.switch;
    const swLinks = ipJson<IpLink[]>(["-n", sw.netns, "link", "show"]);
    const bridge = swLinks.find((k) => k.ifname === sw.bridge);
    expect(bridge).toBeDefined();
    for (const h of l.inventory.hosts) {
      const uplink = remoteLinks(l, h.name).find((k) => k.ifname === "uplink0")!;
      // The veth peers name each other's ifindex; the switch side must be a bridge port.
      const port = swLinks.find((k) => k.ifindex === uplink.link_index);
      expect(port).toBeDefined();
      expect(port!.master).toBe(sw.bridge);
      expect(port!.link_index).toBe(uplink.ifindex);
    }
    const ext = ipJson<IpLink[]>(["-n", l.inventory.external.netns, "link", "show", l.inventory.external.device])[0];
    expect(swLinks.find((k) => k.ifindex === ext.link_index)?.master).toBe(sw.bridge);

    // Real frames: a temporary address on hv1's uplink (inside the lab's external /24) pings ext0.
    const base = l.inventory.external.subnet.replace(/\.0\/24$/, "");
    const tmpAddr = `${base}.201/24`;
    l.hostExec("hv1", "ip", ["addr", "add", tmpAddr, "dev", "uplink0"]);
    try {
      const out = l.hostExec("hv1", "ping", ["-c", "1", "-W", "2", l.inventory.external.address]);
      expect(out).toMatch(/1 received/);
    } finally {
      l.hostExec("hv1", "ip", ["addr", "del", tmpAddr, "dev", "uplink0"]);
    }
  });

  test("exec runs in the host's namespaces, like a login over ssh", () => {
    const l = theLab();
    const viaExec = (JSON.parse(l.hostExec("hv2", "ip", ["-j", "link", "show"])) as IpLink[]).map((k) => k.ifname).sort();
    expect(viaExec).toEqual(["lo", "mgmt0", "uplink0"]);
    expect(l.hostExec("hv2", "stat", ["-f", "-c", "%T", "/sys/fs/bpf"]).trim()).toBe("bpf_fs");
  });

  test("a known_hosts entry with another host's key is refused", () => {
    const l = theLab();
    const [hv1, hv2] = l.inventory.hosts;
    const hv2Key = readFileSync(path.join(l.dir, "hosts", "hv2", "ssh_host_ed25519_key.pub"), "utf8").split(" ");
    const scratch = mkdtempSync(path.join(tmpdir(), "hvt-known-"));
    const wrong = path.join(scratch, "known_hosts");
    try {
      writeFileSync(wrong, `${hv1.address} ${hv2Key[0]} ${hv2Key[1]}\n`);
      const r = spawnSync("ssh", [...labSshArgs(hv1, wrong), "true"], { encoding: "utf8" });
      expect(r.status).not.toBe(0);
      expect(r.stderr).toMatch(/REMOTE HOST IDENTIFICATION HAS CHANGED|Host key verification failed/);
      expect(hv2.hostKey).not.toBe(hv1.hostKey);
    } finally {
      rmSync(scratch, { recursive: true, force: true });
    }
  });

  test("up again leaves the running lab untouched", () => {
    const l = theLab();
    const pidsBefore = sshdPids(l);
    execFileSync(LAB_SCRIPT, ["up", "--hosts", String(HOSTS), "--name", l.name, "--dir", l.dir], { stdio: "pipe" });
    expect(readInventory(l.dir)).toEqual(l.inventory);
    expect(sshdPids(l)).toEqual(pidsBefore);
    for (const h of l.inventory.hosts) expect(labSsh(l, h.name, "echo ok")).toBe("ok\n");
  });

  test("up repairs a lab broken half way, keeping addresses and host keys", () => {
    const l = theLab();
    const [, hv2pid] = sshdPids(l);
    process.kill(hv2pid, "SIGKILL"); // a pid the lab recorded, as a crash would leave it
    execFileSync("ip", ["netns", "del", `${l.name}-hv3`]);
    execFileSync(LAB_SCRIPT, ["up", "--hosts", String(HOSTS), "--name", l.name, "--dir", l.dir], { stdio: "pipe" });
    expect(readInventory(l.dir)).toEqual(l.inventory);
    for (const h of l.inventory.hosts) {
      expect(labSsh(l, h.name, "ls /sys/class/net").split("\n").filter(Boolean).sort()).toEqual(["lo", "mgmt0", "uplink0"]);
    }
  }, 60_000);

  test("down removes namespaces, links, mounts, processes and files", () => {
    const l = theLab();
    const pids = sshdPids(l);
    expect(pids.every(processRunning)).toBe(true);
    expect(mountsUnder(l.dir).length).toBeGreaterThan(0);
    downDone = true;
    scriptDown(l);
    expect(labNetns(l.name)).toEqual([]);
    expect(rootLinks(l.name)).toEqual([]);
    expect(pids.filter(processRunning)).toEqual([]);
    expect(mountsUnder(l.dir)).toEqual([]);
    expect(existsSync(l.dir)).toBe(false);
    // Running it again on nothing is fine.
    l.down();
  });
});

describe("lab: down after a crash that lost the state files", () => {
  let lab: Lab | undefined;

  beforeAll(async () => {
    requireRoot();
    lab = await labUp({ hosts: 2 });
  }, 120_000);

  afterAll(() => {
    if (lab) labDown(lab);
  });

  test("namespaces and processes are found by prefix and namespace and removed", () => {
    const l = lab!;
    const pids = sshdPids(l);
    // A session's process that outlives its SSH connection, as a helper would.
    labSsh(l, "hv1", "nohup sleep 600 >/dev/null 2>&1 </dev/null &");
    for (const f of ["state", "inventory.json", "hosts/hv1/sshd.pid", "hosts/hv2/sshd.pid"]) unlinkSync(path.join(l.dir, f));
    const netnsInode = statSync(`/run/netns/${l.name}-hv1`).ino;
    const inHost = (): number[] =>
      readdirSync("/proc")
        .filter((p) => /^\d+$/.test(p))
        .filter((p) => {
          try {
            return readlinkSync(`/proc/${p}/ns/net`) === `net:[${netnsInode}]`;
          } catch {
            return false;
          }
        })
        .map(Number)
        .filter(processRunning);
    const before = inHost();
    expect(before.length).toBeGreaterThanOrEqual(2); // hv1's sshd and the sleep
    scriptDown(l);
    expect(labNetns(l.name)).toEqual([]);
    expect(rootLinks(l.name)).toEqual([]);
    expect([...pids, ...before].filter(processRunning)).toEqual([]);
    expect(mountsUnder(l.dir)).toEqual([]);
    expect(existsSync(l.dir)).toBe(false);
  }, 60_000);
});
