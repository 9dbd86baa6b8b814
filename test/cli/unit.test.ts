// The command's pure parts: how counters are grouped and the share computed, what the
// tables, the JSON and the Prometheus text say, how hosts are read, and what a wrong
// command line answers (one line, exit status 2, no host contacted).
import { execFileSync } from "node:child_process";
import * as fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import { COUNTERS, type CounterName } from "../../provider/common/counters";
import { summarize, rates, fromReply, type Attachment, type Counts } from "../../cli/counters";
import { statsJson, statsTables } from "../../cli/stats-view";
import { registryOf, parseListen } from "../../cli/commands/metrics";
import { reportOf, parseRequire, doctorText } from "../../cli/commands/doctor";
import { resolveTargets } from "../../cli/hosts";
import { UsageError } from "../../cli/errors";
import { thrown } from "../support/thrown";
import { CLI, requireBuiltCli, runCli } from "./support/run-cli";

function counts(values: Partial<Record<CounterName, number>>): Counts {
  const c = {} as Counts;
  for (const n of COUNTERS) c[n] = { packets: BigInt(values[n] ?? 0), bytes: BigInt((values[n] ?? 0) * 100) };
  return c;
}

const uplink = (v: Partial<Record<CounterName, number>>, host = "hv1"): Attachment => ({ host, kind: "uplink", device: "eth1", program: "l2fwd", attached: true, counts: counts(v) });
const vm = (v: Partial<Record<CounterName, number>>): Attachment => ({ host: "hv1", kind: "vm", device: "vm1", program: "vm_egress", attached: true, vm: { mac: "52:54:00:00:00:01" }, counts: counts(v) });

describe("counters", () => {
  test("the fast-path share is redirected / unicast (FDB hits and misses); broadcast and malformed frames are not unicast", () => {
    const s = summarize(uplink({ redirect: 90, pass_unknown: 9, drop_no_port: 1, pass_bcast_mcast: 500, drop_malformed: 7 }));
    expect(s.fastPathShare).toBeCloseTo(0.9, 12);
    expect(s).toMatchObject({ fastPath: 90n, toStack: 509n, dropped: 8n });
    expect(s.reasons).toMatchObject({ unknown: 9n, broadcastMulticast: 500n, malformed: 7n, other: 1n });
  });

  test("no unicast yet: no share (not 0%, which would read as a broken fast path)", () => {
    expect(summarize(uplink({ pass_bcast_mcast: 3 })).fastPathShare).toBeUndefined();
  });

  test("a VM's egress: allowed = redirected + broadcast let out; spoof drops sum every spoof reason", () => {
    const s = summarize(vm({ redirect: 20, pass_bcast_mcast: 2, drop_spoof_ip: 7, drop_spoof_mac: 3, drop_spoof_arp: 1, drop_spoof_nd: 1, drop_acl: 4 }));
    expect(s.egress).toEqual({ allowed: 22n, spoofDrops: 12n, aclDrops: 4n });
    expect(s.fastPathShare).toBeUndefined();
  });

  test("rates are per second between readings, and a counter that went backwards (re-attach) counts from zero", () => {
    const a = uplink({ redirect: 100, pass_unknown: 100 });
    const b = uplink({ redirect: 300, pass_unknown: 100 });
    const r = rates([a], [b], 2).get(b)!;
    expect(r.fastPath).toBe(100n);
    expect(r.fastPathShare).toBe(1); // this interval: only known unicast
    const reset = uplink({ redirect: 10 });
    expect(rates([b], [reset], 1).get(reset)!.fastPath).toBe(10n);
  });

  test("the helper's decimal strings become exact 64-bit counts", () => {
    const big = "18446744073709551615";
    const [a] = fromReply("hv1", { cpus: 2, attachments: [{ kind: "uplink", device: "eth1", pinDir: "/x", attached: true, counters: { redirect: { packets: big, bytes: "1" } } }] });
    expect(a.counts.redirect.packets).toBe(2n ** 64n - 1n);
    expect(a.counts.drop_acl.packets).toBe(0n);
  });
});

describe("stats output", () => {
  test("tables: one row per attachment with outcome, reasons and share; a VM table with egress, spoof and ACL drops", () => {
    const text = statsTables([uplink({ redirect: 1234567, pass_unknown: 1 }), vm({ redirect: 20, drop_spoof_ip: 7, drop_acl: 4 })], undefined, false);
    const row = text.split("\n").find((l) => l.includes("l2fwd"))!;
    expect(row.split("│").map((c) => c.trim()).filter(Boolean)).toEqual(["hv1", "eth1", "l2fwd", "1,234,567", "1", "0", "1", "0", "0", "0", "0", "0", "100.0%"]);
    const vmRow = text.split("\n").filter((l) => l.includes("vm1")).pop()!;
    expect(vmRow.split("│").map((c) => c.trim()).filter(Boolean)).toEqual(["hv1", "vm1", "52:54:00:00:00:01", "20", "7", "4"]);
  });

  test("JSON lists every host that answered, also with nothing attached, and the errors", () => {
    const j = statsJson(["hv1", "hv2"], [uplink({ redirect: 3, pass_unknown: 1 })], ["hv3: cannot connect"]);
    expect(j.hosts.map((h) => h.host)).toEqual(["hv1", "hv2"]);
    expect(j.hosts[1].attachments).toEqual([]);
    expect(j.hosts[0].attachments[0]).toMatchObject({ frames: { fastPath: 3, toStack: 1, dropped: 0 }, fastPathShare: 0.75, counters: { redirect: { packets: 3, bytes: 300 } } });
    expect(j.errors).toEqual(["hv3: cannot connect"]);
  });
});

describe("metrics", () => {
  test("Prometheus text: counters by outcome and reason with host/device/program/vm labels, the share, and which hosts answered", async () => {
    const text = await registryOf(
      { hosts: ["hv1"], attachments: [uplink({ redirect: 3, pass_unknown: 1 }), vm({ drop_spoof_ip: 7 })], errors: ["hv2: down"], at: 0 },
      [{ name: "hv1", spec: { address: "a" } }, { name: "hv2", spec: { address: "b" } }],
    ).metrics();
    expect(text).toContain("# TYPE hvnet_xdp_frames_total counter");
    expect(text).toContain('hvnet_xdp_frames_total{host="hv1",device="eth1",program="l2fwd",vm="",outcome="redirect",reason="fast_path"} 3');
    expect(text).toContain('hvnet_xdp_bytes_total{host="hv1",device="eth1",program="l2fwd",vm="",outcome="pass",reason="unknown"} 100');
    expect(text).toContain('hvnet_xdp_frames_total{host="hv1",device="vm1",program="vm_egress",vm="vm1",outcome="drop",reason="spoof_ip"} 7');
    expect(text).toContain('hvnet_fast_path_share{host="hv1",device="eth1"} 0.75');
    expect(text).toContain('hvnet_host_up{host="hv2"} 0');
    // Every counter of every attachment, zero or not: series do not come and go.
    expect(text.split("\n").filter((l) => l.startsWith("hvnet_xdp_frames_total{")).length).toBe(2 * COUNTERS.length);
  });

  test("--listen addresses", () => {
    expect(parseListen(":9100")).toEqual({ host: undefined, port: 9100 });
    expect(parseListen("127.0.0.1:9100")).toEqual({ host: "127.0.0.1", port: 9100 });
    expect(parseListen("[::1]:9100")).toEqual({ host: "::1", port: 9100 });
    expect(parseListen("127.0.0.1:0")).toEqual({ host: "127.0.0.1", port: 0 });
    for (const bad of ["9100", "host:", "host:70000", "a:b:9100"]) expect(parseListen(bad)).toBeUndefined();
  });
});

describe("doctor (probe replies as data, not a host)", () => {
  const probe = {
    kernel: "6.18.0",
    netkit: "loaded" as const,
    queueLease: false,
    bpffs: true,
    devices: [
      { name: "eth1", ifindex: 2, driver: "mlx5_core", channels: { combined: 8, rx: 0, maxCombined: 64 }, rss: true, rssContexts: true, ntuple: true, xdpFeatures: ["basic", "redirect", "ndo-xmit"] },
    ],
  };
  const hello = { version: "0.1.0", hash: "0123456789abcdef", capabilities: ["probe", "stats"] };

  test("names each resource the host cannot run with its reason, and what --require found missing", () => {
    const r = reportOf("hv1", hello, probe, parseRequire("netkit-lease,rss-contexts"));
    expect(r.resources.RssContext).toEqual({ ok: true });
    expect(r.resources.NetkitLower.ok).toBe(false);
    expect(r.resources.NetkitLower.reason).toMatch(/^netkit-lease: no netkit queue lease/);
    expect(r.missing).toHaveLength(1);
    expect(r.nics[0]).toMatchObject({ channels: "8 combined (max 64)", xdp: ["native", "skb", "redirect"] });
    expect(doctorText([r])).toMatch(/hv1\s+│ NetkitLower\s+│ no\s+│ netkit-lease: no netkit queue lease/);
  });

  test("a host without bpffs can run no XDP resource, and says how to fix it", () => {
    const r = reportOf("hv1", hello, { ...probe, bpffs: false }, []);
    expect(r.resources.XdpProgram).toEqual({ ok: false, reason: "no bpffs at /sys/fs/bpf (mount -t bpf bpf /sys/fs/bpf)" });
  });

  test("--require accepts only known capabilities", () => {
    expect(thrown(() => parseRequire("rss-contexts,warp-drive"))).toBeInstanceOf(UsageError);
    expect(parseRequire(undefined)).toEqual([]);
  });
});

describe("hosts", () => {
  let dir: string;
  beforeAll(() => {
    dir = fs.mkdtempSync(path.join(os.tmpdir(), "hvnet-cli-hosts-"));
    execFileSync("ssh-keygen", ["-q", "-t", "ed25519", "-N", "", "-C", "", "-f", path.join(dir, "key")]);
  });
  afterAll(() => fs.rmSync(dir, { recursive: true, force: true }));
  const FP = `SHA256:${"A".repeat(43)}`;

  test("a lab inventory: names, connections and the private key read from its path (relative to the file)", () => {
    const inv = path.join(dir, "inventory.json");
    fs.writeFileSync(inv, JSON.stringify({ hosts: [{ name: "hv1", address: "198.18.1.1", port: 22, user: "root", privateKeyPath: "key", hostKey: FP, netns: "x", uplink: "uplink0" }], knownHosts: "" }));
    const [t] = resolveTargets({ inventory: inv });
    expect(t.name).toBe("hv1");
    expect(t.spec).toMatchObject({ address: "198.18.1.1", hostKey: FP });
    expect(t.spec.privateKey).toBe(fs.readFileSync(path.join(dir, "key"), "utf8"));
  });

  test("a stack's hosts config (uplink ignored); --only picks hosts and names unknown ones", () => {
    const file = path.join(dir, "hosts.json");
    fs.writeFileSync(file, JSON.stringify([
      { name: "a", address: "10.0.0.1", hostKey: FP, privateKeyPath: "key", uplink: "eth1" },
      { name: "b", address: "10.0.0.2", hostKey: FP, privateKey: fs.readFileSync(path.join(dir, "key"), "utf8"), uplink: "eth1" },
    ]));
    expect(resolveTargets({ hostsFile: file }).map((t) => t.name)).toEqual(["a", "b"]);
    expect(resolveTargets({ hostsFile: file, only: "b" }).map((t) => t.name)).toEqual(["b"]);
    expect(thrown(() => resolveTargets({ hostsFile: file, only: "c" })).message).toBe("--only c: no such host (known: a, b)");
  });

  test("every mistake is a UsageError naming the file, index or flag, never the key", () => {
    const file = path.join(dir, "bad.json");
    fs.writeFileSync(file, JSON.stringify([{ address: "10.0.0.1", privateKey: "TOPSECRET" }]));
    // Both problems on one line: the key is not usable and the host key is missing, and the key's text is never shown.
    const e = thrown(() => resolveTargets({ hostsFile: file }));
    expect(e).toBeInstanceOf(UsageError);
    expect(e.message).toMatch(new RegExp(`^hosts file ${file} \\[0\\] \\(10\\.0\\.0\\.1\\): .*privateKey is not a usable private key.*; .*hostKey`));
    expect(e.message).not.toContain("TOPSECRET");
    expect(thrown(() => resolveTargets({ inventory: "/nonexistent.json" })).message).toBe("inventory /nonexistent.json: no such file");
    expect(thrown(() => resolveTargets({ host: "10.0.0.1", hostKey: FP, identity: path.join(dir, "key"), port: "99999" })).message).toBe('--port must be 1-65535, got "99999"');
    expect(thrown(() => resolveTargets({ port: "22" })).message).toBe("--port only goes with --host");
    expect(thrown(() => resolveTargets({ inventory: "x", host: "y" })).message).toBe("give one of --inventory, --hosts-file or --host, not --inventory and --host");
  });
});

describe("the command line (the built command, no host contacted)", () => {
  beforeAll(() => requireBuiltCli());
  const cases: Array<[string[], RegExp]> = [
    [["--bogus"], /^hvnet: unknown option '--bogus'$/],
    [["stats", "--watch", "--json", "--inventory", "x"], /^hvnet: option '--watch' cannot be used with option '--json'$/],
    [["stats", "--interval", "soon", "--inventory", "x"], /^hvnet: --interval must be a number of seconds >= 0.2, got "soon"$/],
    [["doctor", "--require", "warp", "--inventory", "x"], /^hvnet: --require warp: expected a comma-separated list of netkit-lease, rss-contexts, ntuple$/],
    [["metrics", "--listen", "nowhere", "--inventory", "x"], /^hvnet: --listen nowhere: expected HOST:PORT, \[IPv6\]:PORT or :PORT$/],
    [["stats", "--host", "10.0.0.1"], /^hvnet: --host 10.0.0.1: --host-key is required/],
    [["stats", "--inventory", "/nonexistent.json"], /^hvnet: inventory \/nonexistent.json: no such file$/],
    [["fleet"], /^hvnet: fleet needs a command: preview, up or destroy/],
  ];
  test.each(cases)("hvnet %j: one line, exit 2", async (args, re) => {
    const r = await runCli(args, { HVNET_LAB_INVENTORY: "/nonexistent" });
    expect(r.code).toBe(2);
    expect(r.stdout).toBe("");
    expect(r.stderr.trimEnd().split("\n")).toHaveLength(1);
    expect(r.stderr.trimEnd()).toMatch(re);
  });

  test("the package's bin is the built command, with a node shebang", () => {
    const pkg = JSON.parse(fs.readFileSync(path.resolve(__dirname, "../../package.json"), "utf8"));
    expect(path.resolve(__dirname, "../..", pkg.bin.hvnet)).toBe(CLI);
    expect(fs.readFileSync(CLI, "utf8").split("\n")[0]).toBe("#!/usr/bin/env node");
  });
});
