// What this host can do, against the real kernel (6.18: no netkit, no queue lease, no NIC
// with RSS contexts), in scratch namespaces:
//  - `probe` through the built helper (dist/helper/helper.js, `make build`), run the way
//    a host runs it, in its own mount namespace so it never touches the machine's own
//    /sys/fs/bpf. Witnesses: ethtool(8), /sys/module and modules.builtin.
//  - `netkit.apply` through the real kernel path fails with a capability error and
//    leaves nothing behind (witness: ip -j).
import { spawn, spawnSync, ChildProcessWithoutNullStreams, execFileSync } from "node:child_process";
import * as fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import { requireCommand, requireRoot } from "../support/require-root";
import { startHelperHost, HelperHost, HELPER_JS } from "../support/helper-host";
import { createScratchNetns, ScratchNetns } from "../support/scratch-netns";
import { privateStateDir } from "../support/private-state";
import { inNetns } from "../../provider/helper/kernel/netns";

const BPF_FS_MAGIC = 0xcafe4a11;

/** Mount lines for /sys/fs/bpf in the test's own mount namespace. */
function bpffsMountsHere(): string[] {
  return fs
    .readFileSync("/proc/self/mountinfo", "utf8")
    .split("\n")
    .filter((l) => l.split(" ")[4] === "/sys/fs/bpf");
}

/** What the module files say about netkit, read here and not through the helper. */
function netkitFromModuleFiles(): "loaded" | "module" | "absent" {
  if (fs.existsSync("/sys/module/netkit")) return "loaded";
  const dir = `/lib/modules/${os.release()}`;
  const mentions = (file: string) => {
    try {
      return fs.readFileSync(path.join(dir, file), "utf8").split("\n").some((l) => /(^|\/)netkit\.ko(\.[a-z]+)?(:|$)/.test(l));
    } catch {
      return false;
    }
  };
  if (mentions("modules.builtin")) return "loaded";
  if (mentions("modules.dep")) return "module";
  return "absent";
}

/** `ethtool -l` text → {"RX": n, "TX": n, "Combined": n} of the current settings. */
function ethtoolChannels(ns: ScratchNetns, dev: string): Record<string, number> {
  const out = ns.exec("ethtool", ["-l", dev]);
  const current = out.slice(out.indexOf("Current hardware settings:"));
  const values: Record<string, number> = {};
  for (const m of current.matchAll(/^(RX|TX|Other|Combined):\s+(\S+)/gm)) values[m[1]] = m[2] === "n/a" ? 0 : Number(m[2]);
  return values;
}

describe("probe through the built helper (real kernel)", () => {
  let host: HelperHost | undefined;
  const mountsBefore = bpffsMountsHere();

  beforeAll(async () => {
    requireRoot();
    requireCommand("ethtool");
    requireCommand("unshare");
    host = await startHelperHost("probe");
    host.ns.ip("link", "add", "nic0", "numtxqueues", "4", "numrxqueues", "4", "type", "veth", "peer", "name", "wire0");
  }, 30000);

  afterAll(async () => {
    await host?.stop();
  });

  test("reports the kernel, no queue lease, netkit as the module files say, and the veth with its channels", async () => {
    const out = await host!.request("probe");
    expect(out.kernel).toBe(os.release());
    expect(out.queueLease).toBe(false);
    expect(["absent", "module"]).toContain(out.netkit); // KERNEL.md: netkit is not built in here
    expect(out.netkit).toBe(netkitFromModuleFiles());
    expect(out.bpffs).toBe(true);

    const names = out.devices.map((d: any) => d.name).sort();
    const ipNames = host!.ns.ipJson("link", "show").map((l: any) => l.ifname).filter((n: string) => n !== "lo").sort();
    expect(names).toEqual(ipNames);

    const nic = out.devices.find((d: any) => d.name === "nic0");
    const [ipNic] = host!.ns.ipJson("link", "show", "dev", "nic0");
    expect(nic.ifindex).toBe(ipNic.ifindex);
    expect(nic.driver).toBe("veth");
    expect(host!.ns.exec("ethtool", ["-i", "nic0"])).toContain(`driver: ${nic.driver}`);
    const witness = ethtoolChannels(host!.ns, "nic0");
    expect(witness.RX).toBe(4);
    expect(nic.channels).toMatchObject({ rx: witness.RX, combined: witness.Combined });
    expect(nic.rssContexts).toBe(false);
    expect(nic.ntuple).toBe(false);
    expect(host!.ns.exec("ethtool", ["-k", "nic0"])).toMatch(/ntuple-filters: off \[fixed\]/);
    expect(nic.xdpFeatures).toEqual(expect.arrayContaining(["basic", "redirect"]));
  });

  test("the machine's own /sys/fs/bpf is untouched", () => {
    expect(bpffsMountsHere()).toEqual(mountsBefore);
  });
});

describe("probe mounts bpffs when absent, inside its own mount namespace only (real kernel)", () => {
  let ns: ScratchNetns | undefined;
  let child: ChildProcessWithoutNullStreams | undefined;
  let stateDir: string | undefined;

  afterAll(async () => {
    // Only the process we started, by its pid, if it has not exited.
    if (child?.pid && child.exitCode === null && child.signalCode === null) process.kill(child.pid, "SIGKILL");
    ns?.remove();
    if (stateDir) fs.rmSync(stateDir, { recursive: true, force: true });
  });

  test("bpffs is mounted in the helper's mount namespace and gone with it", async () => {
    requireRoot();
    if (!fs.existsSync(HELPER_JS)) throw new Error(`${HELPER_JS} is missing: run 'make build' first`);
    const before = bpffsMountsHere();
    ns = createScratchNetns("prb");
    stateDir = fs.mkdtempSync(path.join(os.tmpdir(), "hvt-state-"));
    // ip netns exec mounts a fresh /sys (no bpffs on it); unshare keeps whatever the
    // helper mounts in a mount namespace that dies with it.
    child = spawn("ip", ["netns", "exec", ns.name, "unshare", "--mount", "--propagation", "private", process.execPath, HELPER_JS], {
      env: { ...process.env, HVNET_STATE_DIR: stateDir },
    });
    let stderr = "";
    child.stderr.on("data", (d) => (stderr += d));
    const exited = new Promise<void>((resolve) => child!.on("exit", () => resolve()));
    const reply = new Promise<any>((resolve, reject) => {
      let buf = "";
      child!.stdout.setEncoding("utf8");
      child!.stdout.on("data", (d: string) => {
        buf += d;
        const nl = buf.indexOf("\n");
        if (nl >= 0) resolve(JSON.parse(buf.slice(0, nl)));
      });
      child!.on("exit", (code) => reject(new Error(`helper exited (${code}) before answering: ${stderr}`)));
    });
    child.stdin.write(JSON.stringify({ id: 1, op: "probe", args: {} }) + "\n");
    const r = await reply;
    expect(r).toMatchObject({ id: 1, ok: true });
    expect(r.result.bpffs).toBe(true);

    // ip and unshare exec the next program: the child's pid is the helper itself.
    const fstype = execFileSync("nsenter", ["-t", String(child.pid), "-m", "stat", "-f", "-c", "%t", "/sys/fs/bpf"], { encoding: "utf8" }).trim();
    expect(parseInt(fstype, 16)).toBe(BPF_FS_MAGIC);
    expect(bpffsMountsHere()).toEqual(before);

    child.stdin.end();
    await exited;
    expect(child.exitCode).toBe(0);
    expect(bpffsMountsHere()).toEqual(before);
    // Probe leaves no records or lock files behind in its state directory.
    expect(fs.existsSync(stateDir) ? fs.readdirSync(stateDir) : []).toEqual([]);
  }, 30000);
});

describe("netkit.apply on this kernel (real kernel)", () => {
  let ns: ScratchNetns | undefined;
  // The lock and registry directories live in this describe's own state directory.
  const state = privateStateDir("state");
  let netkit: typeof import("../../provider/helper/resources/netkit");

  beforeAll(() => {
    requireRoot();
    netkit = require("../../provider/helper/resources/netkit");
    ns = createScratchNetns("nk");
    ns.ip("link", "add", "nic0", "numtxqueues", "4", "numrxqueues", "4", "type", "veth", "peer", "name", "wire0");
    ns.ip("link", "set", "nic0", "up");
    ns.ip("link", "set", "wire0", "up");
  });

  afterAll(() => {
    ns?.remove();
  });

  test("fails with a capability error naming this kernel and the queue lease, and leaves nothing", () => {
    const linksBefore = ns!.ipJson("link", "show").map((l: any) => l.ifname).sort();
    let error: (Error & { code?: string }) | undefined;
    try {
      inNetns(ns!.name, () => netkit.applyNetkit({ name: "nkt0", lowerDevice: "nic0", queues: { start: 1, count: 2 } }));
    } catch (e) {
      error = e as Error & { code?: string };
    }
    expect(error).toBeDefined();
    expect(error!.code).toBe("EOPNOTSUPP");
    expect(error!.message).toContain(os.release());
    expect(error!.message).toContain("queue lease");
    expect(error!.message).toContain("7.1");

    expect(ns!.ipJson("link", "show").map((l: any) => l.ifname).sort()).toEqual(linksBefore);
    const kinds = ns!.ipJson("-d", "link", "show").map((l: any) => l.linkinfo?.info_kind);
    expect(kinds).not.toContain("netkit");
    // Nothing was made in the test's own namespace either.
    expect(() => execFileSync("ip", ["link", "show", "dev", "nkt0"], { stdio: "ignore" })).toThrow();
    // The lock is released and its file removed.
    expect(fs.existsSync(state.dir) ? fs.readdirSync(state.dir) : []).toEqual([]);
  });

  test("this kernel has no netkit at all: ip(8) is refused too (witness for the above)", () => {
    const r = spawnSync("ip", ["-n", ns!.name, "link", "add", "nkt1", "type", "netkit"], { encoding: "utf8" });
    expect(r.status).not.toBe(0);
    expect(r.stderr).toContain("Unknown device type"); // the kernel's extack for an unknown kind
    expect(ns!.ipJson("link", "show").some((l: any) => l.ifname === "nkt1")).toBe(false);
  });
});
