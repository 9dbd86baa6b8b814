// `hvnet` against a lab host with real traffic: l2fwd on the uplink, a VM tap with
// vm-egress (and an egress ACL), an FDB entry to it; frames sent through the lab switch
// and written into the tap. stats --json, metrics and doctor must report exactly what
// was sent and what the host lacks; stats --watch is read off a real terminal (tmux).
import { execFileSync } from "node:child_process";
import * as fs from "node:fs";
import * as path from "node:path";
import { HostPool } from "../../provider/transport/pool";
import { labUp, type Lab } from "../support/lab";
import { requireCommand, requireRoot } from "../support/require-root";
import * as P from "../datapath/support/packets";
import { statsHelperBundle } from "./support/stats-helper";
import { requireBuiltCli, runCli, CLI } from "./support/run-cli";
import { sendFromExternal, sendFromVm } from "./support/traffic";
import { connectionOf, createAs } from "../support/runtime";

const VM_MAC = "52:54:00:00:01:01";
const VM_IP = "10.9.0.11";
const EXT_MAC = "02:00:00:00:00:99";
const GATEWAY_MAC = "02:00:00:00:00:01";

let lab: Lab;
let pool: HostPool;
let bundle: { dir: string };
let env: Record<string, string>;
let inventory: string;

const known = P.eth(VM_MAC, EXT_MAC, P.ETH_P_IP, P.ipv4("10.9.0.1", VM_IP, P.IPPROTO_UDP, P.udp(5000, 53)));
const unknown = P.eth("52:54:00:99:99:99", EXT_MAC, P.ETH_P_IP, P.ipv4("10.9.0.1", "10.9.0.99", P.IPPROTO_UDP, P.udp(5000, 53)));
// The VM's ingress ACL (a devmap program on l2fwd's redirects to it) denies TCP.
const knownTcp = P.eth(VM_MAC, EXT_MAC, P.ETH_P_IP, P.ipv4("10.9.0.1", VM_IP, P.IPPROTO_TCP, P.tcp(5000, 22)));
const broadcast = P.eth(P.BROADCAST, EXT_MAC, P.ETH_P_ARP, P.arp(1, EXT_MAC, "10.9.0.1", "00:00:00:00:00:00", VM_IP));
const fromVm = (srcMac: string, srcIp: string) =>
  P.eth(GATEWAY_MAC, srcMac, P.ETH_P_IP, P.ipv4(srcIp, "10.9.0.1", P.IPPROTO_UDP, P.udp(4000, 53)));
// The VM's egress ACL denies TCP.
const tcpFromVm = P.eth(GATEWAY_MAC, VM_MAC, P.ETH_P_IP, P.ipv4(VM_IP, "10.9.0.1", P.IPPROTO_TCP, P.tcp(4000, 22)));

const create = (typeName: string, props: Record<string, unknown>) => createAs(pool, typeName, connectionOf(lab.inventory.hosts[0]), props);

async function statsJson(): Promise<any> {
  const r = await runCli(["stats", "--json", "--inventory", inventory], env);
  expect(r.stderr).toBe("");
  expect(r.code).toBe(0);
  return JSON.parse(r.stdout);
}

function attachment(report: any, host: string, device: string, kind: string): any {
  const h = report.hosts.find((x: any) => x.host === host);
  return h?.attachments.find((a: any) => a.device === device && a.kind === kind);
}

beforeAll(async () => {
  requireRoot();
  requireCommand("python3");
  requireCommand("tmux");
  requireBuiltCli();
  bundle = await statsHelperBundle();
  lab = await labUp({ hosts: 1 });
  inventory = path.join(lab.dir, "inventory.json");
  env = { HVNET_HELPER_DIR: bundle.dir };
  pool = new HostPool({ helperDir: bundle.dir });
  const xdp = await create("XdpProgram", { device: "uplink0", program: "l2fwd" });
  await create("VmInterface", {
    name: "vm1", vcpus: 1, mac: VM_MAC, addresses: [VM_IP], uplink: "uplink0",
    egress: { acl: { rules: [{ action: "deny", protocol: "tcp" }] } },
  });
  await create("FdbEntry", {
    table: (xdp.outs.maps as Record<string, string>).fdb, vlan: 0, mac: VM_MAC, device: "vm1",
    ingressAcl: { rules: [{ action: "deny", protocol: "tcp" }] },
  });
}, 180_000);

afterAll(async () => {
  await pool?.close();
  lab?.down();
  if (bundle) fs.rmSync(bundle.dir, { recursive: true, force: true });
}, 60_000);

describe("hvnet stats and metrics against a lab host with real traffic", () => {
  let before: any;
  beforeAll(async () => {
    before = await statsJson();
    sendFromExternal(lab, [
      { frame: known, count: 30 },
      { frame: knownTcp, count: 6 },
      { frame: unknown, count: 10 },
      { frame: broadcast, count: 5 },
    ]);
    sendFromVm(lab, "hv1", "vm1", [
      { frame: fromVm(VM_MAC, VM_IP), count: 20 },
      { frame: fromVm(VM_MAC, "10.9.0.66"), count: 7 }, // spoofed source IP
      { frame: fromVm("52:54:00:00:00:66", VM_IP), count: 3 }, // spoofed source MAC
      { frame: tcpFromVm, count: 4 }, // the egress ACL denies it
    ]);
  }, 120_000);

  test("stats --json counts exactly the frames sent, by outcome and reason, with the fast-path share", async () => {
    const b = attachment(before, "hv1", "uplink0", "uplink");
    expect(b).toMatchObject({ kind: "uplink", program: "l2fwd", attached: true, fastPathShare: null });
    expect(b.frames.fastPath).toBe(0);
    const r = await statsJson();
    const up = attachment(r, "hv1", "uplink0", "uplink");
    expect(up.frames.fastPath).toBe(36);
    expect(up.reasons.unknown).toBe(10);
    // The switch may carry the odd multicast frame of its own; broadcasts are at least ours.
    expect(up.reasons.broadcastMulticast).toBeGreaterThanOrEqual(5);
    expect(up.frames.dropped).toBe(0);
    expect(up.fastPathShare).toBeCloseTo(36 / 46, 10);
    expect(up.counters.redirect.bytes).toBe(30 * known.length + 6 * knownTcp.length);

    // The VM's ingress ACL saw the redirected frames: UDP accepted, TCP denied.
    const acl = attachment(r, "hv1", "uplink0", "ingress-acl");
    expect(acl).toMatchObject({ program: "vm_ingress_acl", attached: true });
    expect(acl.counters.acl_accept.packets).toBe(30);
    expect(acl.counters.drop_acl.packets).toBe(6);
    expect(acl.reasons.acl).toBe(6);

    const vm = attachment(r, "hv1", "vm1", "vm");
    expect(vm).toMatchObject({ kind: "vm", program: "vm_egress", attached: true, vm: { mac: VM_MAC, addresses: [VM_IP] } });
    expect(vm.egress).toEqual({ allowed: 20, spoofDrops: 10, aclDrops: 4 });
    expect(vm.counters.drop_spoof_ip.packets).toBe(7);
    expect(vm.counters.drop_spoof_mac.packets).toBe(3);
    expect(vm.frames).toEqual({ fastPath: 20, toStack: 0, dropped: 14 });
    expect(vm.fastPathShare).toBeNull();
  });

  test("stats prints the same numbers as tables", async () => {
    const r = await runCli(["stats", "--inventory", inventory], env);
    expect(r.code).toBe(0);
    const row = r.stdout.split("\n").find((l) => /hv1.*uplink0.*l2fwd/.test(l))!;
    expect(row.split("│").map((c) => c.trim()).slice(1, 8)).toEqual(["hv1", "uplink0", "l2fwd", "36", expect.any(String), "0", "10"]);
    expect(row).toContain("78.3%");
    const vmRow = r.stdout.split("\n").reverse().find((l) => /hv1.*vm1.*52:54/.test(l))!;
    expect(vmRow.split("│").map((c) => c.trim()).slice(1, 7)).toEqual(["hv1", "vm1", VM_MAC, "20", "10", "4"]);
  });

  test("metrics prints the counters in the Prometheus text format with host, device and VM labels", async () => {
    const r = await runCli(["metrics", "--inventory", inventory], env);
    expect(r.code).toBe(0);
    const line = (labels: string) => r.stdout.split("\n").find((l) => l.startsWith(`hvnet_xdp_frames_total{${labels}}`));
    expect(line('host="hv1",device="uplink0",program="l2fwd",vm="",outcome="redirect",reason="fast_path"')).toMatch(/ 36$/);
    expect(line('host="hv1",device="uplink0",program="l2fwd",vm="",outcome="pass",reason="unknown"')).toMatch(/ 10$/);
    expect(line('host="hv1",device="vm1",program="vm_egress",vm="vm1",outcome="drop",reason="spoof_ip"')).toMatch(/ 7$/);
    expect(line('host="hv1",device="vm1",program="vm_egress",vm="vm1",outcome="drop",reason="acl"')).toMatch(/ 4$/);
    expect(r.stdout).toMatch(/^# TYPE hvnet_xdp_frames_total counter$/m);
    expect(line('host="hv1",device="uplink0",program="vm_ingress_acl",vm="",outcome="drop",reason="acl"')).toMatch(/ 6$/);
    expect(r.stdout).toMatch(/^hvnet_fast_path_share\{host="hv1",device="uplink0"\} 0\.78260869/m);
    expect(r.stdout).toMatch(/^hvnet_host_up\{host="hv1"\} 1$/m);
  });

  test("metrics --listen serves the same at /metrics", async () => {
    const child = require("node:child_process").spawn(process.execPath, [CLI, "metrics", "--inventory", inventory, "--listen", "127.0.0.1:0"], { env: { ...process.env, ...env }, stdio: ["ignore", "ignore", "pipe"] });
    try {
      let stderr = "";
      const port = await new Promise<number>((resolve, reject) => {
        child.stderr.on("data", (d: Buffer) => {
          stderr += d;
          const m = /serving \/metrics on 127\.0\.0\.1:(\d+)/.exec(stderr);
          if (m) resolve(Number(m[1]));
        });
        child.on("exit", () => reject(new Error(`hvnet metrics --listen exited: ${stderr}`)));
      });
      const res = await fetch(`http://127.0.0.1:${port}/metrics`);
      expect(res.status).toBe(200);
      expect(res.headers.get("content-type")).toMatch(/^text\/plain; version=0\.0\.4/);
      expect(await res.text()).toMatch(/^hvnet_xdp_frames_total\{host="hv1",device="uplink0",program="l2fwd",vm="",outcome="redirect",reason="fast_path"\} 36$/m);
      expect((await fetch(`http://127.0.0.1:${port}/other`)).status).toBe(404);
    } finally {
      const exited = new Promise((r) => child.on("exit", r));
      child.kill("SIGTERM");
      await exited;
    }
    expect(child.exitCode).toBe(0);
  });

  test("an attachment whose registry record is lost is still counted (found by its pins)", async () => {
    lab.hostExec("hv1", "rm", ["-r", "/run/hvnet/registry/xdp"]);
    const r = await statsJson();
    expect(attachment(r, "hv1", "uplink0", "uplink")).toMatchObject({ program: "l2fwd", attached: true, frames: { fastPath: 36 } });
    expect(attachment(r, "hv1", "vm1", "vm").egress).toEqual({ allowed: 20, spoofDrops: 10, aclDrops: 4 });
  });

  test("stats --watch redraws rates in place in a real terminal (tmux)", async () => {
    const session = `hvnet-watch-${process.pid}`;
    const cmd = [process.execPath, CLI, "stats", "--watch", "--interval", "1", "--inventory", inventory].map((a) => `'${a}'`).join(" ");
    execFileSync("tmux", ["new-session", "-d", "-s", session, "-x", "220", "-y", "40", `env HVNET_HELPER_DIR='${bundle.dir}' ${cmd}`]);
    const screen = () => execFileSync("tmux", ["capture-pane", "-p", "-t", session], { encoding: "utf8" });
    const waitFor = async (re: RegExp, ms = 30_000) => {
      const end = Date.now() + ms;
      for (;;) {
        const s = screen();
        if (re.test(s)) return s;
        if (Date.now() > end) throw new Error(`screen never matched ${re}:\n${s}`);
        await new Promise((r) => setTimeout(r, 200));
      }
    };
    try {
      const first = await waitFor(/totals since attach/);
      expect(first).toMatch(/hv1\s+│ uplink0\s+│ l2fwd\s+│ 36 /);
      await waitFor(/rates over the last/);
      // Keep frames flowing while the next screens are drawn: the rate must show them.
      const sending = setInterval(() => sendFromExternal(lab, [{ frame: known, count: 200 }]), 100);
      let s: string;
      try {
        s = await waitFor(/hv1\s+│ uplink0\s+│ l2fwd\s+│ [1-9][0-9,]* /);
      } finally {
        clearInterval(sending);
      }
      // Redrawn in place: one header on the screen, not a scroll of them.
      expect(s.match(/hvnet stats/g)).toHaveLength(1);
      expect(s).toMatch(/fast path \/s/);
      expect(s).toMatch(/100\.0%/); // only known unicast in this interval
      execFileSync("tmux", ["send-keys", "-t", session, "C-c"]);
    } finally {
      try {
        execFileSync("tmux", ["kill-session", "-t", session], { stdio: "ignore" });
      } catch {
        // ended with the command
      }
    }
  }, 90_000);
});

describe("hvnet doctor against a lab host", () => {
  test("names what the host lacks, and --require makes that the exit status", async () => {
    const r = await runCli(["doctor", "--inventory", inventory, "--require", "netkit-lease,rss-contexts"], env);
    expect(r.code).toBe(1);
    const lacks = r.stderr.trim().split("\n");
    expect(lacks).toHaveLength(2);
    expect(lacks[0]).toMatch(/^hvnet: hv1 lacks netkit-lease: /);
    // Every NIC the host has is named (the lab's management veth too).
    expect(lacks[1]).toMatch(/^hvnet: hv1 lacks rss-contexts: (.*, )?uplink0 \(driver veth\)(, .*)? has no additional RSS contexts$/);
    expect(r.stdout).toMatch(/hv1\s+│ uplink0\s+│ veth/);
    expect(r.stdout).toMatch(/hv1\s+│ NetkitLower\s+│ no\s+│ netkit-lease: /);
    expect(r.stdout).toMatch(/hv1\s+│ XdpProgram\s+│ yes/);
  });

  test("--json says the same to scripts; without --require the exit status is 0", async () => {
    const r = await runCli(["doctor", "--json", "--inventory", inventory], env);
    expect(r.code).toBe(0);
    const report = JSON.parse(r.stdout);
    const h = report.hosts[0];
    expect(h.host).toBe("hv1");
    expect(h.kernel).toBe(execFileSync("uname", ["-r"], { encoding: "utf8" }).trim());
    expect(h.bpffs).toBe(true);
    expect(h.helper.stats).toBe(true);
    expect(h.nics.find((n: any) => n.name === "uplink0")).toMatchObject({ driver: "veth", rssContexts: false, ntuple: false });
    expect(h.resources.RssContext.ok).toBe(false);
    expect(h.resources.RssContext.reason).toMatch(/uplink0 \(driver veth\)/);
    expect(h.resources.VmInterface).toEqual({ ok: true });
  });
});
