// The helper against a Linux 7.x lab host (a QEMU guest of the VM lab), through the real
// runtime over SSH: RssContext and NetkitLower judged by the kernel. The guest's NIC is
// netdevsim with our RSS/ntuple bookkeeping (scripts/vmlab/netdevsim): the ethtool core
// (context ids, tables, refusals) and the queue lease are the kernel's. Witnesses: ethtool,
// ip and the kernel's ynl over SSH. Software emulation (TCG): no timing here is performance.
import { execFileSync } from "node:child_process";
import * as fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import { HostPool } from "../../provider/transport/pool";
import { KINDS } from "../../provider/kinds";
import { requireValidInputs } from "../../provider/runtime/check";
import { createResource, readResource, updateResource, deleteResource } from "../../provider/runtime/operations";
import { requireCommand } from "../support/require-root";
import { safeName, vmLabUp, VmLab, VMLAB_UP_TIMEOUT_MS } from "./support/vm-lab";

jest.setTimeout(5 * 60_000);

const HELPER_DIR = path.resolve(__dirname, "..", "..", "dist", "helper");
const YNL_SPECS = "/usr/local/share/hvnet-vmlab/ynl/Documentation/netlink/specs";
let lab: VmLab;
let pool: HostPool;
let nic: string;

beforeAll(async () => {
  if (!fs.existsSync(path.join(HELPER_DIR, "helper.js"))) throw new Error("dist/helper is missing: run make build");
  lab = await vmLabUp(1);
  nic = safeName(lab.inventory.hosts[0].uplink);
  // Under TCG a fresh helper takes longer than the default 20 s to answer hello.
  pool = new HostPool({ helperDir: HELPER_DIR, helloTimeoutMs: 120_000 });
}, VMLAB_UP_TIMEOUT_MS);

afterAll(async () => {
  await pool?.close();
  await lab?.down();
}, 120_000);

async function create(typeName: string, props: Record<string, unknown>, owner = `hvt/vm/${typeName}/r1`) {
  const kind = KINDS[typeName];
  return createResource(pool, kind, { ...requireValidInputs(kind, { host: lab.spec(), ...props }), __owner: owner });
}

async function update(typeName: string, id: string, olds: Record<string, any>, props: Record<string, unknown>) {
  const kind = KINDS[typeName];
  const news = { ...requireValidInputs(kind, { host: lab.spec(), ...props }), __owner: olds.__owner };
  return (await updateResource(pool, kind, id, olds, news)) as { outs: Record<string, any> };
}

/** `ethtool -x` (a context's or the default one's) as its table entries. */
function tableOf(text: string): number[] {
  return [...text.matchAll(/^\s*\d+:\s+((?:\d+\s*)+)$/gm)].flatMap((r) => r[1].trim().split(/\s+/).map(Number));
}

function distinct(t: number[]): number[] {
  return [...new Set(t)].sort((a, b) => a - b);
}

/** ntuple rules as ethtool -n prints them: location → its text. */
function rulesOf(text: string): Map<number, string> {
  const out = new Map<number, string>();
  for (const block of text.split(/\n(?=Filter: )/)) {
    const m = /^Filter: (\d+)/m.exec(block);
    if (m) out.set(Number(m[1]), block);
  }
  return out;
}

describe("RssContext on Linux 7.x (netdevsim with our RSS/ntuple bookkeeping; the ethtool core and the queue lease are the kernel's)", () => {
  let id: string;
  let outs: Record<string, any>;
  const flows = [
    { type: "udp4", dst: "10.100.0.21" },
    { type: "tcp4", dst: "10.100.0.21", dstPort: 5201 },
  ];

  test("create: the kernel allocates the context, its table reads back, rules steer into it, the default context shrinks", async () => {
    ({ id, outs } = await create("RssContext", { device: nic, queues: { start: 4, count: 2 }, flows }));
    expect(outs.contextId).toBeGreaterThanOrEqual(1);
    expect(id).toBe(`hv1/rss/${nic}/${outs.contextId}`);
    const ctxTable = tableOf(lab.sshOk(`ethtool -x ${nic} context ${outs.contextId}`));
    expect(ctxTable).toHaveLength(128);
    expect(outs.indirectionTable).toEqual(ctxTable);
    expect(distinct(ctxTable)).toEqual([4, 5]);
    expect(distinct(tableOf(lab.sshOk(`ethtool -x ${nic}`)))).toEqual([0, 1, 2, 3, 6, 7]);
    const rules = rulesOf(lab.sshOk(`ethtool -n ${nic}`));
    expect([...rules.keys()].sort()).toEqual([...outs.ruleIds].sort());
    for (const text of rules.values()) {
      expect(text).toMatch(/Dest IP addr: 10\.100\.0\.21/);
      expect(text).toMatch(new RegExp(`RSS Context (ID: )?${outs.contextId}\\b`));
    }
    expect([...rules.values()].filter((t) => /TCP over IPv4/.test(t) && /Dest port: 5201/.test(t))).toHaveLength(1);
    expect([...rules.values()].filter((t) => /UDP over IPv4/.test(t))).toHaveLength(1);
  });

  test("read from the id alone finds the context, its queues and flows", async () => {
    const r = await readResource(pool, KINDS.RssContext, id, { host: lab.spec() });
    expect(r.id).toBe(id);
    expect(r.props).toMatchObject({ contextId: outs.contextId, queues: { start: 4, count: 2 }, ruleIds: outs.ruleIds });
    expect(r.props.flows).toEqual(expect.arrayContaining(flows.map((f) => expect.objectContaining(f))));
  });

  test("in place: other queues and flows rewrite the same context, keep the rule that stays, and spread the default over the rest", async () => {
    const kept = outs.ruleIds[flows.findIndex((f) => f.type === "udp4")];
    const next = [{ type: "udp4", dst: "10.100.0.21" }, { type: "udp4", dst: "10.100.0.22", dstPort: 4789 }];
    const { outs: after } = await update("RssContext", id, outs, { device: nic, queues: { start: 6, count: 2 }, flows: next });
    expect(after.contextId).toBe(outs.contextId);
    expect(after.ruleIds).toContain(kept);
    expect(distinct(tableOf(lab.sshOk(`ethtool -x ${nic} context ${after.contextId}`)))).toEqual([6, 7]);
    expect(distinct(after.indirectionTable)).toEqual([6, 7]);
    expect(distinct(tableOf(lab.sshOk(`ethtool -x ${nic}`)))).toEqual([0, 1, 2, 3, 4, 5]);
    const rules = rulesOf(lab.sshOk(`ethtool -n ${nic}`));
    expect([...rules.keys()].sort()).toEqual([...after.ruleIds].sort());
    expect([...rules.values()].some((t) => /TCP over IPv4/.test(t))).toBe(false);
    expect([...rules.values()].filter((t) => /Dest IP addr: 10\.100\.0\.22/.test(t) && /Dest port: 4789/.test(t))).toHaveLength(1);
    outs = after;
  });

  test("the kernel refuses to shrink the channels below the context's queues; hvnet refuses queues beyond the channel count, naming the field", async () => {
    const shrink = lab.ssh(`ethtool -L ${nic} combined 4`);
    expect(shrink.status).not.toBe(0);
    expect(shrink.stderr + shrink.stdout).toMatch(/Invalid argument|in use|busy/i);
    expect(lab.sshOk(`ethtool -l ${nic}`)).toMatch(/Current hardware settings:[\s\S]*Combined:\s+8/);
    await expect(
      update("RssContext", id, outs, { device: nic, queues: { start: 7, count: 2 }, flows: [] }),
    ).rejects.toThrow(/queues: 7-8 is beyond the 8 queues of eth1 \(driver netdevsim\)/);
    // Nothing changed by the refusal.
    expect(distinct(tableOf(lab.sshOk(`ethtool -x ${nic} context ${outs.contextId}`)))).toEqual([6, 7]);
  });

  test("the kernel refuses to delete a context a rule still steers into, with its text", async () => {
    // A rule the operator added by hand into hvnet's context: the ethtool core keeps the
    // context while it is used (EBUSY, since 6.13) — seen here through ethtool itself.
    const added = lab.sshOk(`ethtool -N ${nic} flow-type udp4 dst-ip 10.100.0.99 context ${outs.contextId}`);
    const rule = Number(/Added rule with ID (\d+)/.exec(added)?.[1]);
    expect(Number.isInteger(rule)).toBe(true);
    const refused = lab.ssh(`ethtool -X ${nic} context ${outs.contextId} delete`);
    expect(refused.status).not.toBe(0);
    expect(refused.stderr).toMatch(/Device or resource busy/);
    lab.sshOk(`ethtool -N ${nic} delete ${rule}`);
  });

  test("delete removes the rules and the context and restores the default spread", async () => {
    await deleteResource(pool, KINDS.RssContext, id, outs);
    expect(lab.ssh(`ethtool -x ${nic} context ${outs.contextId}`).status).not.toBe(0);
    expect(lab.sshOk(`ethtool -n ${nic}`)).toMatch(/Total 0 rules/);
    const table = tableOf(lab.sshOk(`ethtool -x ${nic}`));
    expect(table).toEqual(Array.from({ length: 128 }, (_, i) => i % 8));
    const r = await readResource(pool, KINDS.RssContext, id, { host: lab.spec() });
    expect(r.id).toBe("");
  });
});

interface QueueSeen {
  id: number;
  ifindex: number;
  type: string;
  lease?: { ifindex: number; queue: { id: number; type: string }; "netns-id"?: number };
}

/** queue-get of one queue through the kernel's ynl (in a netns when given). */
function queueGet(ifindex: number, id: number, netns?: string): QueueSeen {
  const inNs = netns ? `ip netns exec ${safeName(netns)} ` : "";
  const json = JSON.stringify({ ifindex, id, type: "rx" });
  return JSON.parse(lab.sshOk(`${inNs}ynl --spec ${YNL_SPECS}/netdev.yaml --output-json --do queue-get --json '${json}'`)) as QueueSeen;
}

/** A bpffs path from the helper's output, checked before it goes into a remote command. */
function safePath(p: string): string {
  if (!/^\/sys\/fs\/bpf\/[A-Za-z0-9_./-]+$/.test(p) || p.includes("..")) throw new Error(`unexpected pin path '${p}'`);
  return p;
}

function ifindexOf(dev: string, netns?: string): number {
  const inNs = netns ? `ip netns exec ${safeName(netns)} ` : "";
  return Number(lab.sshOk(`${inNs}cat /sys/class/net/${safeName(dev)}/ifindex`).trim());
}

describe("NetkitLower on Linux 7.x (netdevsim with our RSS/ntuple bookkeeping; the ethtool core and the queue lease are the kernel's)", () => {
  const ns = "hvt-vm1";
  let id: string;
  let outs: Record<string, any>;
  const props = { name: "nk-t1", lowerDevice: "", queues: { start: 6, count: 2 }, netns: ns };

  beforeAll(() => {
    props.lowerDevice = nic;
    lab.sshOk(`ip netns add ${ns}`);
  });

  afterAll(() => {
    lab.ssh(`ip netns del ${ns}; ip link del nk-t1 2>/dev/null; ip link del nk-t2 2>/dev/null; rm -rf /sys/fs/bpf/hvnet/netkit/nk-t1 /sys/fs/bpf/hvnet/netkit/nk-t2; rm -f /tmp/hvt-xsk-bind; true`);
  });

  test("create: a single device, its queues leased through queue-create, moved into the netns; queue-get sees the lease from both devices", async () => {
    ({ id, outs } = await create("NetkitLower", props));
    expect(id).toBe(`hv1/netkit/${ns}/nk-t1`);
    expect(outs.api).toBe("lease");
    expect(outs.leases).toEqual([{ physicalQueue: 6, netkitQueue: 1 }, { physicalQueue: 7, netkitQueue: 2 }]);
    const link = JSON.parse(lab.sshOk(`ip -n ${ns} -j -d link show nk-t1`))[0];
    expect(link.ifindex).toBe(outs.ifindex);
    expect(link.linkinfo.info_kind).toBe("netkit");
    expect(lab.sshOk("ip -o link show")).not.toContain("nk-t1");
    const nicIndex = ifindexOf(nic);
    for (const l of outs.leases) {
      // The NIC's side names the netkit device (in another netns: its netns-id) and queue.
      const fromNic = queueGet(nicIndex, l.physicalQueue);
      expect(fromNic.lease).toMatchObject({ ifindex: outs.ifindex, queue: { id: l.netkitQueue, type: "rx" } });
      expect(fromNic.lease!["netns-id"]).toEqual(expect.any(Number));
    }
    // The netkit's side: the leased queues are its rx queues 1..count (queue 0 is its own).
    // The kernel answers queue-get only for a device that is up, and reports the lease on
    // the NIC's side only.
    expect(link.num_rx_queues).toBe(3);
    lab.sshOk(`ip -n ${ns} link set nk-t1 up`);
    for (const l of outs.leases) {
      expect(queueGet(outs.ifindex, l.netkitQueue, ns)).toMatchObject({ id: l.netkitQueue, ifindex: outs.ifindex, type: "rx" });
    }
    lab.sshOk(`ip -n ${ns} link set nk-t1 down`);
    expect(outs.qemuNetdev).toBe(
      "af-xdp,id=hn-nk-t1,ifname=nk-t1,mode=native,queues=2,start-queue=1,inhibit=on,map-path=/sys/fs/bpf/hvnet/netkit/nk-t1/xsks_map",
    );
  });

  test("read from the id alone finds the device in its netns and its leases", async () => {
    const r = await readResource(pool, KINDS.NetkitLower, id, { host: lab.spec() });
    expect(r.id).toBe(id);
    expect(r.props).toMatchObject({ ifindex: outs.ifindex, leases: outs.leases, api: "lease" });
  });

  test("the af-xdp hand-off: as QEMU would with inhibit=on,map-path, an AF_XDP socket binds the leased queue in copy mode and goes into the pinned XSKMAP, unprivileged with CAP_NET_RAW once the pin is the user's", () => {
    // xsk-bind (test/vmlab/afxdp) does what QEMU's af-xdp netdev does for one queue; it runs
    // in the device's netns with the host's bpffs (nsenter, not `ip netns exec`, which
    // remounts /sys and hides it), as QEMU would.
    requireCommand("gcc");
    const local = path.join(fs.mkdtempSync(path.join(os.tmpdir(), "hvt-xsk-")), "xsk-bind");
    execFileSync("nice", ["-n", "10", "gcc", "-static", "-O2", "-Wall", "-o", local, path.join(__dirname, "afxdp", "xsk-bind.c")]);
    lab.copyTo(local, "/tmp/hvt-xsk-bind");
    fs.rmSync(path.dirname(local), { recursive: true, force: true });
    const opts = Object.fromEntries(outs.qemuNetdev.split(",").slice(1).map((kv: string) => kv.split("=")));
    expect(opts).toMatchObject({ ifname: "nk-t1", "start-queue": "1", queues: "2", inhibit: "on" });
    const pin = safePath(opts["map-path"]);
    expect(lab.sshOk(`bpftool -j map show pinned ${pin}`)).toMatch(/"type":"xskmap".*"max_entries":2/);
    const bind = (queue: number, key: number, mode: string, asUser: boolean, dev = "nk-t1", netns: string | null = ns) => {
      const inNs = netns ? `nsenter --net=/run/netns/${netns} ` : "";
      const user = asUser ? "setpriv --reuid=65534 --regid=65534 --clear-groups --inh-caps=-all,+net_raw --ambient-caps=-all,+net_raw " : "";
      return lab.ssh(`${inNs}${user}/tmp/hvt-xsk-bind ${dev} ${queue} ${pin} ${key} ${mode}`).stdout.trim();
    };
    const first = Number(opts["start-queue"]);
    // As root: copy mode binds each leased netkit queue; zero-copy is refused by netdevsim;
    // the NIC's leased queue itself is taken.
    expect(bind(first, 0, "copy", false)).toMatch(/^ok .*queue=1 mode=copy key=0 uid=0$/);
    expect(bind(first + 1, 1, "copy", false)).toMatch(/^ok .*queue=2 mode=copy key=1 uid=0$/);
    expect(bind(first, 0, "zerocopy", false)).toMatch(/^bind EOPNOTSUPP/);
    expect(bind(6, 0, "copy", false, nic, null)).toMatch(/^bind EBUSY/);
    // Unprivileged (uid 65534, CAP_NET_RAW only): the kernel lets it make and bind the
    // socket; the pin is root's, so opening the map is refused until it is the user's.
    expect(bind(first, 0, "copy", true)).toMatch(/^obj_get EACCES/);
    const dirs = ["/sys/fs/bpf", "/sys/fs/bpf/hvnet", "/sys/fs/bpf/hvnet/netkit"];
    const before = lab.sshOk(`stat -c '%a %u:%g' ${dirs.join(" ")} ${path.posix.dirname(pin)} ${pin}`);
    try {
      lab.sshOk(`chmod o+x ${dirs.join(" ")} && chown 65534:65534 ${path.posix.dirname(pin)} ${pin}`);
      expect(bind(first, 0, "copy", true)).toMatch(/^ok .*queue=1 mode=copy key=0 uid=65534$/);
      // Without CAP_NET_RAW no AF_XDP socket at all: the capability QEMU needs.
      const noCaps = lab.ssh(`nsenter --net=/run/netns/${ns} setpriv --reuid=65534 --regid=65534 --clear-groups --inh-caps=-all /tmp/hvt-xsk-bind nk-t1 1 ${pin} 0 copy`);
      expect(noCaps.stdout).toMatch(/^socket EPERM/);
    } finally {
      const modes = before.trim().split("\n").map((l) => l.split(" "));
      const paths = [...dirs, path.posix.dirname(pin), pin];
      lab.sshOk(paths.map((p, i) => `chmod ${modes[i][0]} ${p} && chown ${modes[i][1]} ${p}`).join(" && ") + " && rm -f /tmp/hvt-xsk-bind");
    }
  });

  test("policy: the kernel keeps a single device at pass and refuses a change (EOPNOTSUPP); hvnet refuses drop at check, naming the field", async () => {
    const json = JSON.stringify({ ifname: "nk-t1", linkinfo: { kind: "netkit", data: { policy: "blackhole" } } });
    const r = lab.ssh(`ip netns exec ${ns} ynl --spec ${YNL_SPECS}/rt-link.yaml --do newlink --json '${json}'`);
    expect(r.status).not.toBe(0);
    expect(r.stdout + r.stderr).toMatch(/Operation not supported/);
    expect(() => requireValidInputs(KINDS.NetkitLower, { host: lab.spec(), ...props, policy: "drop" })).toThrow(
      /policy.*"drop" cannot be set on a single netkit device/,
    );
    const link = JSON.parse(lab.sshOk(`ip -n ${ns} -j -d link show nk-t1`))[0];
    expect(link.ifindex).toBe(outs.ifindex);
    const back = await readResource(pool, KINDS.NetkitLower, id, { host: lab.spec(), ...outs });
    expect(back.props.policy).toBe("pass");
  });

  test("the kernel refuses a second lease of a leased queue, with its text, and nothing stays behind", async () => {
    await expect(
      create("NetkitLower", { name: "nk-t2", lowerDevice: nic, queues: { start: 7, count: 1 } }, "hvt/vm/NetkitLower/r2"),
    ).rejects.toThrow(/queues: a queue of eth1 in 7-7 is already leased.*queue leasing|busy/i);
    expect(lab.ssh("ip link show nk-t2").status).not.toBe(0);
    expect(queueGet(ifindexOf(nic), 7).lease).toMatchObject({ ifindex: outs.ifindex, queue: { id: 2 } });
  });

  test("the kernel refuses to shrink the NIC's channels below a leased queue", () => {
    const r = lab.ssh(`ethtool -L ${nic} combined 4`);
    expect(r.status).not.toBe(0);
    expect(r.stderr).toMatch(/queue leasing|busy/i);
    expect(lab.sshOk(`ethtool -l ${nic}`)).toMatch(/Current hardware settings:[\s\S]*Combined:\s+8/);
  });

  test("delete removes the device and ends its leases", async () => {
    await deleteResource(pool, KINDS.NetkitLower, id, outs);
    expect(lab.ssh(`ip -n ${ns} link show nk-t1`).status).not.toBe(0);
    const nicIndex = ifindexOf(nic);
    for (const q of [6, 7]) expect(queueGet(nicIndex, q).lease).toBeUndefined();
    expect(lab.ssh("ls /sys/fs/bpf/hvnet/netkit/nk-t1").status).not.toBe(0);
    lab.sshOk(`ethtool -L ${nic} combined 4 && ethtool -L ${nic} combined 8`);
    const r = await readResource(pool, KINDS.NetkitLower, id, { host: lab.spec() });
    expect(r.id).toBe("");
  });
});
