// A hypervisor reboot, end to end: the quickstart applied with the real Pulumi CLI to a lab
// host, then everything a reboot removes is removed inside that host (helper killed, a
// fresh bpffs, taps deleted, /run/hvnet gone). Plain `pulumi up` compares inputs with the
// state only, so it reports nothing to do and repairs nothing: the documented trap. One
// command, `pulumi up --refresh --yes`, reads every object back, finds them gone and makes
// them again. Witnesses: ip -j and bpftool -j inside the host, never hvnet.
import path from "node:path";
import { type Lab } from "../support/lab";
import { fdbEntries, link, pinnedLink } from "../e2e/support/hosts";
import { exampleSuite } from "../e2e/support/suite";
import { ExampleProject, parseEvents, stepOps } from "../e2e/support/project";
import { hostView, wipeHost, type HostView } from "./support/reboot";

jest.setTimeout(10 * 60_000);

const HV = "hv1"; // the quickstart targets the first host
const FDB = "/sys/fs/bpf/hvnet/xdp/root/uplink0/maps/fdb";
const LINK = "/sys/fs/bpf/hvnet/xdp/root/uplink0/link";
const WIPED: HostView = {
  links: [{ name: "uplink0", xdp: null, mtu: 1500, txqueues: 4 }],
  pins: [],
  registry: [],
};

let lab: Lab;
let project: ExampleProject;

const { made } = exampleSuite("quickstart", 1, (l, p) => { lab = l; project = p; });

async function upJson(stack: string, extra: string[] = []) {
  const r = await project.pulumiOk(["up", "--yes", "--skip-preview", "--json", ...extra, "--stack", stack]);
  const events = parseEvents(r.stdout);
  return { ...r, ops: stepOps(events), changes: events.find((e) => e.summaryEvent)?.summaryEvent?.resourceChanges ?? {} };
}

/** The FDB as bpftool decodes it, each entry's target named by the link it points at. */
function fdbByName(): Array<{ vlan: number; mac: string; device: string | undefined }> {
  const names = new Map<number, string>();
  for (const name of ["tap-vm1", "tap-vm2", "uplink0"]) {
    const l = link(lab, HV, name);
    if (l) names.set(l.ifindex, name);
  }
  return fdbEntries(lab, HV, FDB).map((e) => ({ vlan: e.vlan, mac: e.mac, device: names.get(e.ifindex) }));
}

test("after a reboot plain up repairs nothing, and one `pulumi up --refresh --yes` restores every object", async () => {
  const stack = "reboot";
  made.push(stack);
  await project.newStack(stack, { "hvnet:inventory": path.join(lab.dir, "inventory.json") });
  expect((await upJson(stack)).changes).toEqual({ create: 6 });
  const applied = hostView(lab, HV);
  const appliedFdb = fdbByName();
  expect(appliedFdb).toEqual([
    { vlan: 100, mac: "52:54:00:00:01:01", device: "tap-vm1" },
    { vlan: 100, mac: "52:54:00:00:01:02", device: "tap-vm2" },
  ]);
  expect(applied.links.map((l) => [l.name, l.xdp])).toEqual([["tap-vm1", "vm_egress"], ["tap-vm2", "vm_egress"], ["uplink0", "l2fwd"]]);
  expect(applied.registry.length).toBeGreaterThan(0);

  wipeHost(lab, HV);
  expect(hostView(lab, HV)).toEqual(WIPED);

  // The trap: without a refresh, up trusts the state and touches nothing.
  const plain = await upJson(stack);
  expect(plain.changes).toEqual({ same: 6 });
  expect(hostView(lab, HV)).toEqual(WIPED);

  // The one command an operator runs after a reboot (as examples/README.md says).
  const repair = await project.pulumi(["up", "--refresh", "--yes", "--stack", stack]);
  if (repair.code !== 0) throw new Error(`pulumi up --refresh --yes exited ${repair.code}:\n${repair.output}`);
  expect(hostView(lab, HV)).toEqual(applied);
  expect(fdbByName()).toEqual(appliedFdb);
  // The XDP program runs on the NIC through the pinned link, not some other attachment.
  const pinned = pinnedLink(lab, HV, LINK);
  expect(link(lab, HV, "uplink0")?.xdp?.prog?.id).toBe(pinned.prog_id);
  expect((await project.outputs(stack)).uplink.linkId).toBe(pinned.id);

  // Repaired for good: the next up has nothing to do, and nothing drifted.
  expect((await upJson(stack)).changes).toEqual({ same: 6 });
  expect((await upJson(stack, ["--refresh"])).changes).toEqual({ same: 6 });
  expect(hostView(lab, HV)).toEqual(applied);
});
