// The VM lab (scripts/vmlab/vmlab.sh): a lab host that is a QEMU guest running Debian
// stable with its backports kernel (Linux >= 7.1), reached over SSH with a pinned host
// key like the namespace lab hosts, with a netdevsim NIC that carries our RSS/ntuple
// bookkeeping while the ethtool core (context ids, checks, refusals) is the kernel's.
// Nothing is skipped: a machine that cannot run it fails with the reason.
// Software emulation (TCG): the timings printed here are not performance numbers.
import { execFileSync, spawnSync } from "node:child_process";
import { randomBytes } from "node:crypto";
import { existsSync, mkdtempSync, readFileSync, readdirSync, rmSync, statSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import path from "node:path";
import { requireCommand, requireRoot } from "../support/require-root";
import { VMLAB_UP_TIMEOUT_MS, runVmlab, sshArgs, sshOn, type SshResult, type VmLabInventory } from "./support/vm-lab";
import { processRunning } from "../support/processes";

// A cold run builds the image (debootstrap, backports kernel, netdevsim) and boots the
// first guest under TCG on a shared 2-core machine: allow for a slow one.
const UP_TIMEOUT_MS = VMLAB_UP_TIMEOUT_MS;

function ssh(inv: VmLabInventory, command: string): SshResult {
  return sshOn(inv, command);
}

function sshOk(inv: VmLabInventory, command: string): string {
  const r = ssh(inv, command);
  if (r.status !== 0) throw new Error(`'${command}' on the VM lab host failed (${r.status}): ${r.stderr}`);
  return r.stdout;
}

// Witness: which processes on this machine were started for this lab (read, never killed).
function labQemuPids(name: string): number[] {
  const marker = `hvnet-vmlab-${name}-`;
  return readdirSync("/proc")
    .filter((d) => /^\d+$/.test(d))
    .filter((d) => {
      try {
        return processRunning(Number(d)) && readFileSync(`/proc/${d}/cmdline`, "utf8").split("\0").some((a) => a.startsWith(marker));
      } catch {
        return false;
      }
    })
    .map(Number);
}

describe("VM lab: one Linux 7.x QEMU guest as a lab host", () => {
  const name = `hvv${randomBytes(2).toString("hex")}`;
  const dir = mkdtempSync(path.join(tmpdir(), `${name}-`));
  let inv: VmLabInventory | undefined;
  let downDone = false;

  beforeAll(async () => {
    requireRoot();
    for (const cmd of ["qemu-system-x86_64", "qemu-img", "debootstrap", "mkfs.ext4", "ssh", "ssh-keygen", "ssh-keyscan"]) {
      requireCommand(cmd);
    }
    const up = await runVmlab(["up", "--hosts", "1", "--name", name, "--dir", dir]);
    console.log(
      `vmlab up (1 guest) took ${(up.ms / 1000).toFixed(1)} s (software emulation: not a performance number)\n${up.stderr}`,
    );
    inv = JSON.parse(readFileSync(path.join(dir, "inventory.json"), "utf8")) as VmLabInventory;
  }, UP_TIMEOUT_MS);

  afterAll(async () => {
    try {
      if (!downDone) await runVmlab(["down", "--name", name, "--dir", dir]);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  }, 120_000);

  function theLab(): VmLabInventory {
    if (!inv) throw new Error("the VM lab did not come up");
    return inv;
  }

  function uplink(): string {
    const u = theLab().hosts[0].uplink;
    // It is interpolated into remote commands below.
    if (!/^[a-z0-9]+$/.test(u)) throw new Error(`unexpected uplink name '${u}'`);
    return u;
  }

  test("the inventory lists the guest in the namespace lab's format, with the host key sshd serves", () => {
    const l = theLab();
    expect(l.kind).toBe("vm");
    expect(l.hosts).toHaveLength(1);
    const h = l.hosts[0];
    expect(h).toMatchObject({ name: "hv1", address: "127.0.0.1", user: "root", netns: "" });
    expect(h.port).toBeGreaterThan(1024);
    expect(statSync(h.privateKeyPath).mode & 0o777).toBe(0o600);
    expect(h.hostKey).toMatch(/^SHA256:[A-Za-z0-9+/]{43}$/);
    const scanned = execFileSync("ssh-keyscan", ["-t", "ed25519", "-p", String(h.port), h.address], {
      encoding: "utf8",
      stdio: ["ignore", "pipe", "pipe"],
    });
    const served = execFileSync("ssh-keygen", ["-l", "-f", "-"], { input: scanned, encoding: "utf8" }).split(" ")[1];
    expect(served).toBe(h.hostKey);
    expect(readFileSync(l.knownHosts, "utf8")).toContain(`[127.0.0.1]:${h.port} ssh-ed25519 `);
  });

  test("SSH with the pinned host key works; a guest whose key differs is refused", () => {
    const l = theLab();
    expect(sshOk(l, "echo reached").trim()).toBe("reached");
    // Another lab's key pinned for this address: the connection must not be made.
    const other = path.join(dir, "other_host_key");
    execFileSync("ssh-keygen", ["-q", "-t", "ed25519", "-N", "", "-f", other]);
    const otherKnown = path.join(dir, "other_known_hosts");
    const pub = readFileSync(`${other}.pub`, "utf8").split(" ").slice(0, 2).join(" ");
    writeFileSync(otherKnown, `[127.0.0.1]:${l.hosts[0].port} ${pub}\n`);
    const r = spawnSync("ssh", [...sshArgs(l.hosts[0], otherKnown), "true"], { encoding: "utf8" });
    expect(r.status).not.toBe(0);
    expect(r.stderr).toMatch(/REMOTE HOST IDENTIFICATION HAS CHANGED|Host key verification failed/);
    rmSync(other);
    rmSync(`${other}.pub`);
    rmSync(otherKnown);
  });

  test("the guest runs Linux >= 7.1 and can make a netkit device", () => {
    const l = theLab();
    const release = sshOk(l, "uname -r").trim();
    const m = /^(\d+)\.(\d+)/.exec(release);
    expect(m).not.toBeNull();
    const [major, minor] = [Number(m![1]), Number(m![2])];
    expect(major > 7 || (major === 7 && minor >= 1)).toBe(true);
    expect(l.hosts[0].kernel).toBe(release);
    const links = JSON.parse(
      sshOk(l, "ip link add nkt0 type netkit peer name nkt1 && ip -j -d link show nkt0; ip link del nkt0"),
    ) as Array<{ ifname: string; linkinfo?: { info_kind?: string } }>;
    expect(links[0]).toMatchObject({ ifname: "nkt0", linkinfo: { info_kind: "netkit" } });
    expect(sshOk(l, "ip -o link show").includes("nkt0")).toBe(false);
  });

  test("the guest's uplink is a netdevsim port with its queues", () => {
    const dev = uplink();
    const driver = sshOk(theLab(), `ethtool -i ${dev}`);
    expect(driver).toMatch(/^driver: netdevsim$/m);
    const channels = sshOk(theLab(), `ethtool -l ${dev}`);
    expect(channels).toMatch(/Current hardware settings:[\s\S]*Combined:\s+8/);
    // Guests resume one snapshot: each gets its own name and NIC address after resuming.
    const [hostname, mac] = sshOk(theLab(), `hostname; cat /sys/class/net/${dev}/address`).trim().split("\n");
    expect(hostname).toBe("hv1");
    expect(mac).toMatch(/^02:68:76:[0-9a-f]{2}:00:01$/);
  });

  test("netdevsim with our RSS/ntuple bookkeeping; the ethtool core is the kernel's: ethtool -X context new creates an RSS context", () => {
    const l = theLab();
    const dev = uplink();
    const made = sshOk(l, `ethtool -X ${dev} context new equal 2`);
    const id = Number(/New RSS context is (\d+)/.exec(made)?.[1]);
    expect(id).toBeGreaterThanOrEqual(1);
    // The core keeps the context's table: read back through the kernel, not our module.
    const table = sshOk(l, `ethtool -x ${dev} context ${id}`);
    expect(table).toMatch(/RX flow hash indirection table for \S+ with 8 RX ring\(s\):/);
    const entries = [...table.matchAll(/^\s*\d+:\s+((?:\d+\s*)+)$/gm)].flatMap((r) => r[1].trim().split(/\s+/).map(Number));
    expect(entries.length).toBe(128);
    expect(new Set(entries)).toEqual(new Set([0, 1]));
    sshOk(l, `ethtool -X ${dev} context ${id} delete`);
    expect(ssh(l, `ethtool -x ${dev} context ${id}`).status).not.toBe(0);
  });

  test("netdevsim with our RSS/ntuple bookkeeping; the ethtool core is the kernel's: an ntuple rule into the context is accepted, deleting the context under it is refused", () => {
    const l = theLab();
    const dev = uplink();
    const id = Number(/New RSS context is (\d+)/.exec(sshOk(l, `ethtool -X ${dev} context new start 4 equal 4`))?.[1]);
    expect(id).toBeGreaterThanOrEqual(1);
    const added = sshOk(l, `ethtool -N ${dev} flow-type tcp4 dst-ip 192.0.2.10 dst-port 5201 context ${id}`);
    const rule = Number(/Added rule with ID (\d+)/.exec(added)?.[1]);
    expect(Number.isInteger(rule)).toBe(true);
    const listed = sshOk(l, `ethtool -n ${dev} rule ${rule}`);
    expect(listed).toMatch(/Dest IP addr: 192\.0\.2\.10/);
    expect(listed).toMatch(new RegExp(`RSS Context (ID: )?${id}`));

    // The core refuses: the rule still steers into the context (EBUSY).
    const refused = ssh(l, `ethtool -X ${dev} context ${id} delete`);
    expect(refused.status).not.toBe(0);
    expect(refused.stderr).toMatch(/Device or resource busy/);
    expect(ssh(l, `ethtool -x ${dev} context ${id}`).status).toBe(0);

    // The core refuses a rule into a context that does not exist (EINVAL).
    const missing = ssh(l, `ethtool -N ${dev} flow-type udp4 dst-port 4789 context 15`);
    expect(missing.status).not.toBe(0);
    expect(missing.stderr).toMatch(/Invalid argument/);

    sshOk(l, `ethtool -N ${dev} delete ${rule}`);
    sshOk(l, `ethtool -X ${dev} context ${id} delete`);
    expect(ssh(l, `ethtool -x ${dev} context ${id}`).status).not.toBe(0);
    expect(sshOk(l, `ethtool -n ${dev}`)).toMatch(/Total 0 rules/);
  });

  test("netdevsim's queue management is the kernel's: a single netkit device leases a netdevsim queue, and ethtool -L below the lease is refused", () => {
    const l = theLab();
    const dev = uplink();
    // One remote script (each SSH round trip costs seconds under TCG). ynl is the kernel's
    // own netlink CLI: iproute2 in Debian stable cannot make a single netkit device.
    const script = [
      "set -e",
      "S=/usr/local/share/hvnet-vmlab/ynl/Documentation/netlink/specs",
      `ynl --spec $S/rt-link.yaml --do newlink --create --json '{"ifname": "nkl0", "num-rx-queues": 2, "linkinfo": {"kind": "netkit", "data": {"pairing": "single"}}}' >/dev/null`,
      "NK=$(cat /sys/class/net/nkl0/ifindex)",
      `NIC=$(cat /sys/class/net/${dev}/ifindex)`,
      // JSON in single quotes with the ifindexes spliced in: no escaping through two shells.
      `echo "created $(ynl --spec $S/netdev.yaml --output-json --do queue-create --json '{"ifindex": '$NK', "type": "rx", "lease": {"ifindex": '$NIC', "queue": {"id": 7, "type": "rx"}}}')"`,
      `echo "nicqueue $(ynl --spec $S/netdev.yaml --output-json --do queue-get --json '{"ifindex": '$NIC', "id": 7, "type": "rx"}')"`,
      'echo "nk $NK"',
      `if ethtool -L ${dev} combined 4 2>/tmp/shrink.err; then echo shrink=ok; else echo "shrink=refused $(cat /tmp/shrink.err)"; fi`,
      "ip link del nkl0",
      `ethtool -L ${dev} combined 4 && ethtool -L ${dev} combined 8 && echo after=ok`,
    ].join("\n");
    const out = sshOk(l, script);
    const line = (key: string): string => out.split("\n").find((s) => s.startsWith(`${key} `) || s.startsWith(`${key}=`)) ?? "";
    const created = JSON.parse(line("created").slice("created ".length)) as { id: number };
    // Queue 0 is netkit's own: leases start at 1.
    expect(created.id).toBe(1);
    const nk = Number(line("nk").slice(3));
    const nicQueue = JSON.parse(line("nicqueue").slice("nicqueue ".length)) as {
      id: number;
      lease?: { ifindex: number; queue: { id: number; type: string } };
    };
    expect(nicQueue).toMatchObject({ id: 7, lease: { ifindex: nk, queue: { id: 1, type: "rx" } } });
    expect(line("shrink")).toMatch(/^shrink=refused .*(queue leasing|busy)/i);
    expect(line("after")).toBe("after=ok");
  });

  test("up again on a healthy lab changes nothing: same guest, same port, same host key", async () => {
    const before = theLab().hosts[0];
    await runVmlab(["up", "--hosts", "1", "--name", name, "--dir", dir]);
    inv = JSON.parse(readFileSync(path.join(dir, "inventory.json"), "utf8")) as VmLabInventory;
    expect(inv.hosts[0]).toEqual(before);
    expect(processRunning(before.pid)).toBe(true);
  }, UP_TIMEOUT_MS);

  test("a lab host whose QEMU died is brought back by up, with new keys pinned", async () => {
    const before = theLab().hosts[0];
    // Ours: the pid this lab recorded for its guest.
    process.kill(before.pid, "SIGKILL");
    for (let i = 0; i < 50 && processRunning(before.pid); i++) await new Promise((r) => setTimeout(r, 100));
    expect(processRunning(before.pid)).toBe(false);
    await runVmlab(["up", "--hosts", "1", "--name", name, "--dir", dir]);
    inv = JSON.parse(readFileSync(path.join(dir, "inventory.json"), "utf8")) as VmLabInventory;
    const after = inv.hosts[0];
    expect(after.pid).not.toBe(before.pid);
    expect(after.hostKey).not.toBe(before.hostKey);
    expect(labQemuPids(name)).toEqual([after.pid]);
    expect(sshOk(inv, "uname -r").trim()).toBe(after.kernel);
  }, UP_TIMEOUT_MS);

  test("down ends the guest by its recorded pid and leaves no process, overlay or file", async () => {
    const l = theLab();
    const pid = l.hosts[0].pid;
    expect(labQemuPids(name)).toEqual([pid]);
    const overlay = path.join(dir, "vmhosts", "hv1", "disk.qcow2");
    expect(existsSync(overlay)).toBe(true);
    const down = await runVmlab(["down", "--name", name, "--dir", dir]);
    downDone = true;
    console.log(`vmlab down took ${(down.ms / 1000).toFixed(1)} s`);
    expect(processRunning(pid)).toBe(false);
    expect(labQemuPids(name)).toEqual([]);
    expect(existsSync(dir)).toBe(false);
    // The image and its snapshot stay in the cache for the next lab.
    expect(existsSync(path.join(l.image, "base.img"))).toBe(true);
  });
});
