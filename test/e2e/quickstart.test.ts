// End to end: examples/quickstart through the real Pulumi CLI (local file backend) against
// its own 2-host lab. Every test makes a fresh stack and destroys it; what hvnet did is
// witnessed inside the host with ip, bpftool and find, never through hvnet.
import { readdirSync, readFileSync, statSync } from "node:fs";
import path from "node:path";
import { type Lab } from "../support/lab";
import {
  fdbEntries, helperDir, link, pinnedLink, snapshotAll, sshLogins, type HostSnapshot,
} from "./support/hosts";
import { exampleSuite } from "./support/suite";
import { ExampleProject, parseEvents, stepOps } from "./support/project";

jest.setTimeout(10 * 60_000);

const FDB = "/sys/fs/bpf/hvnet/xdp/root/uplink0/maps/fdb";
const LINK = "/sys/fs/bpf/hvnet/xdp/root/uplink0/link";
const VM1 = "52:54:00:00:01:01";
const VM2 = "52:54:00:00:01:02";
const HV = "hv1"; // the quickstart targets the first host

let lab: Lab;
let project: ExampleProject;
let pristine: Record<string, HostSnapshot>;
let counter = 0;

async function newStack(config: Record<string, string> = {}): Promise<string> {
  const stack = `t${++counter}`;
  made.push(stack);
  await project.newStack(stack, { "hvnet:inventory": path.join(lab.dir, "inventory.json"), ...config });
  return stack;
}

async function up(stack: string) {
  const r = await project.pulumiOk(["up", "--yes", "--skip-preview", "--json", "--stack", stack]);
  const events = parseEvents(r.stdout);
  return { ...r, ops: stepOps(events), changes: events.find((e) => e.summaryEvent)?.summaryEvent?.resourceChanges ?? {} };
}

const ifindexOf = (name: string) => {
  const l = link(lab, HV, name);
  if (!l) throw new Error(`${HV} has no link ${name}`);
  return l.ifindex;
};

const { made } = exampleSuite("quickstart", 2, (l, p) => { lab = l; project = p; pristine = snapshotAll(l); });

test("preview changes nothing on any host, before the first up and with changes pending", async () => {
  const stack = await newStack();
  const logins = lab.inventory.hosts.map((h) => sshLogins(lab, h.name));
  const before = snapshotAll(lab);

  const first = await project.pulumiOk(["preview", "--stack", stack]);
  expect(first.stdout).toMatch(/\+ 6 to create/);
  expect(snapshotAll(lab)).toEqual(before);
  // Preview never even connected: no helper deployed, no SSH login.
  expect(helperDir(lab, HV)).toBeNull();
  expect(lab.inventory.hosts.map((h) => sshLogins(lab, h.name))).toEqual(logins);

  await up(stack);
  await project.setConfig(stack, "program", "pass");
  await project.setConfig(stack, "vms", JSON.stringify([
    { name: "vm1", mac: VM1, addresses: ["10.100.0.11"], fdbTo: "vm2" },
    { name: "vm2", mac: VM2, addresses: ["10.100.0.12"] },
  ]));
  const applied = snapshotAll(lab);
  const loginsApplied = lab.inventory.hosts.map((h) => sshLogins(lab, h.name));
  const pending = await project.pulumiOk(["preview", "--diff", "--stack", stack]);
  expect(pending.stdout).toMatch(/~ program\s*: "l2fwd" => "pass"/);
  expect(snapshotAll(lab)).toEqual(applied);
  expect(lab.inventory.hosts.map((h) => sshLogins(lab, h.name))).toEqual(loginsApplied);
});

test("up creates everything; a second up and preview --expect-no-changes report no changes", async () => {
  const stack = await newStack();
  const first = await up(stack);
  expect(first.changes).toEqual({ create: 6 });

  const uplink = link(lab, HV, "uplink0");
  expect(uplink?.xdp?.prog?.name).toBe("l2fwd");
  for (const tap of ["tap-vm1", "tap-vm2"]) expect(link(lab, HV, tap)?.xdp?.prog?.name).toBe("vm_egress");
  expect(fdbEntries(lab, HV, FDB).map(({ vlan, mac, ifindex }) => ({ vlan, mac, ifindex }))).toEqual([
    { vlan: 100, mac: VM1, ifindex: ifindexOf("tap-vm1") },
    { vlan: 100, mac: VM2, ifindex: ifindexOf("tap-vm2") },
  ]);
  // Nothing on the host the stack does not target.
  expect(snapshotAll(lab).hv2).toEqual(pristine.hv2);

  const out = await project.outputs(stack);
  expect(out.uplink).toMatchObject({ device: "uplink0", fdbTable: FDB, linkId: pinnedLink(lab, HV, LINK).id });
  expect(out.qemuArgs.vm1).toEqual([
    "-netdev", expect.stringMatching(/^tap,.*ifname=tap-vm1,.*vhost=on,queues=2$/),
    "-device", expect.stringMatching(/^virtio-net-pci,.*mac=52:54:00:00:01:01,mq=on,vectors=6/),
  ]);

  const second = await up(stack);
  expect(second.changes).toEqual({ same: 6 });
  const check = await project.pulumi(["preview", "--expect-no-changes", "--stack", stack]);
  expect(check.code).toBe(0);
  console.log(`quickstart: first up ${first.ms} ms, second up ${second.ms} ms, preview ${check.ms} ms`);
});

test("a new XDP program and a new FDB target are applied in place", async () => {
  const stack = await newStack();
  await up(stack);
  const before = pinnedLink(lab, HV, LINK);

  await project.setConfig(stack, "program", "pass");
  // The preview plans exactly the in-place swap: the FDB entries name their table by the
  // attachment's pin directory, which preview knows.
  const planned = JSON.parse((await project.pulumiOk(["preview", "--json", "--stack", stack])).stdout) as { steps: { op: string; urn: string }[] };
  const plannedOps: Record<string, string> = {};
  for (const step of planned.steps) {
    if (!step.urn.includes("pulumi:pulumi:Stack")) plannedOps[step.urn.split("::").pop()!] = step.op;
  }
  expect(plannedOps).toEqual({ uplink: "update" }); // preview lists only what changes
  const swap = await up(stack);
  expect(swap.ops).toEqual({ uplink: "update", vm1: "same", vm2: "same", "vm1-fdb": "same", "vm2-fdb": "same" });
  const after = pinnedLink(lab, HV, LINK);
  expect(after.id).toBe(before.id); // same bpf_link: BPF_LINK_UPDATE, no detach
  expect(after.prog_id).not.toBe(before.prog_id);
  expect(link(lab, HV, "uplink0")?.xdp?.prog).toMatchObject({ id: after.prog_id, name: "xdp_pass" });
  expect((await project.outputs(stack)).uplink).toMatchObject({ linkId: before.id, programId: after.prog_id });
  // The FDB table outlived the swap, entries and all.
  expect(fdbEntries(lab, HV, FDB)).toHaveLength(2);

  await project.setConfig(stack, "vms", JSON.stringify([
    { name: "vm1", mac: VM1, addresses: ["10.100.0.11"], fdbTo: "vm2" },
    { name: "vm2", mac: VM2, addresses: ["10.100.0.12"] },
  ]));
  const move = await up(stack);
  expect(move.ops).toEqual({ uplink: "same", vm1: "same", vm2: "same", "vm1-fdb": "update", "vm2-fdb": "same" });
  const vm2 = ifindexOf("tap-vm2");
  expect(fdbEntries(lab, HV, FDB).map((e) => [e.mac, e.ifindex])).toEqual([[VM1, vm2], [VM2, vm2]]);
  expect(link(lab, HV, "tap-vm1")).toBeDefined();
});

test("drift made by hand is reported by refresh and repaired by the next up", async () => {
  const stack = await newStack();
  await up(stack);
  const vm1Entry = fdbEntries(lab, HV, FDB).find((e) => e.mac === VM1)!;
  lab.hostExec(HV, "bpftool", ["map", "delete", "pinned", FDB, "key", "hex", ...vm1Entry.keyHex]);
  lab.hostExec(HV, "ip", ["link", "del", "tap-vm2"]);
  expect(fdbEntries(lab, HV, FDB).map((e) => e.mac)).toEqual([VM2]);

  const refresh = await project.pulumiOk(["refresh", "--yes", "--skip-preview", "--json", "--stack", stack]);
  const ops = stepOps(parseEvents(refresh.stdout));
  // The deleted entry and tap are gone from the state; the entry pointing at the dead tap changed.
  expect(ops).toEqual({ uplink: "same", vm1: "same", vm2: "delete", "vm1-fdb": "delete", "vm2-fdb": "update" });
  const state = await project.exportState(stack);
  const names = state.deployment.resources.map((r) => String(r.urn).split("::").pop());
  expect(names).not.toContain("vm2");
  expect(names).not.toContain("vm1-fdb");
  const vm2Fdb = state.deployment.resources.find((r) => String(r.urn).endsWith("::vm2-fdb"))!;
  expect(vm2Fdb.outputs.device).not.toBe("tap-vm2");

  const repair = await up(stack);
  expect(repair.ops).toMatchObject({ vm2: "create", "vm1-fdb": "create", "vm2-fdb": "update" });
  expect(fdbEntries(lab, HV, FDB).map((e) => [e.mac, e.ifindex])).toEqual([
    [VM1, ifindexOf("tap-vm1")],
    [VM2, ifindexOf("tap-vm2")],
  ]);
  expect(link(lab, HV, "tap-vm2")?.xdp?.prog?.name).toBe("vm_egress");
  expect((await project.pulumi(["preview", "--expect-no-changes", "--stack", stack])).code).toBe(0);
});

test("destroy leaves every host exactly as it was before the stack", async () => {
  const stack = await newStack();
  await up(stack);
  expect(snapshotAll(lab).hv1).not.toEqual(pristine.hv1);
  const destroy = await project.pulumiOk(["destroy", "--yes", "--skip-preview", "--stack", stack]);
  expect(destroy.stdout).toMatch(/6 deleted/);
  expect(snapshotAll(lab)).toEqual(pristine);
});

test("the state holds a one-line provider and a host reference per resource, and no key material", async () => {
  const stack = await newStack();
  await up(stack);
  const { text, deployment } = await project.exportState(stack);
  const key = readFileSync(lab.inventory.hosts[0].privateKeyPath, "utf8");
  const keyBody = key.split("\n").filter((l) => l && !l.startsWith("-----"));
  expect(text).not.toContain("PRIVATE KEY");
  for (const line of keyBody) expect(text).not.toContain(line);

  const ours = deployment.resources.filter((r) => String(r.type).startsWith("pulumi-nodejs:dynamic/hvnet:"));
  expect(ours).toHaveLength(5);
  for (const r of ours) {
    // One line that loads the provider from the package, not a serialized closure.
    expect(String(r.inputs.__provider)).toMatch(/^exports\.handler=\(\)=>require\("@hvnet\/pulumi\/dist\/sdk\/shim"\)\.p\("\w+"\)$/);
    expect(r.outputs.__provider).toBe(r.inputs.__provider);
    // The quickstart's host comes from the lab inventory: the state keeps a reference
    // (nothing secret in it), and each run connects with the inventory's keys.
    expect(r.inputs.host).toBeUndefined();
    expect(r.outputs.host).toBeUndefined();
    expect(r.inputs.__host).toEqual({ name: HV, address: lab.inventory.hosts[0].address });
    expect(r.outputs.__host).toEqual(r.inputs.__host);
  }
  // The backend's files on disk, not only the export.
  const files: string[] = [];
  const walk = (d: string) => {
    for (const e of readdirSync(d)) {
      const p = path.join(d, e);
      if (statSync(p).isDirectory()) walk(p);
      else files.push(p);
    }
  };
  walk(project.stateDir);
  for (const f of files) expect(readFileSync(f).toString("latin1")).not.toContain("PRIVATE KEY");
  console.log(`state: __provider ${ours.map((r) => String(r.inputs.__provider).length).join("/")} bytes, resources ${ours.map((r) => JSON.stringify(r).length).join("/")} bytes (compact JSON), export ${text.length} bytes`);
});
