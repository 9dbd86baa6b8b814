// A hypervisor reboot, end to end: the quickstart applied with the real Pulumi CLI to a lab
// host, then everything a reboot removes is removed inside that host (helper killed, a
// fresh bpffs, taps deleted, /run/hvnet gone). Plain `pulumi up` compares inputs with the
// state only, so it reports nothing to do and repairs nothing: the documented trap. One
// command, `pulumi up --refresh --yes`, reads every object back, finds them gone and makes
// them again; on a fleet, only on the host that rebooted. Witnesses: ip -j, bpftool -j and
// find inside the hosts, never hvnet.
import path from "node:path";
import { type Lab } from "../support/lab";
import { fdbEntries, hvnetTimes, link, pinnedLink } from "../e2e/support/hosts";
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

async function upJson(project: ExampleProject, stack: string, extra: string[] = []) {
  const r = await project.pulumiOk(["up", "--yes", "--skip-preview", "--json", ...extra, "--stack", stack]);
  const events = parseEvents(r.stdout);
  return { ...r, ops: stepOps(events), changes: events.find((e) => e.summaryEvent)?.summaryEvent?.resourceChanges ?? {} };
}

/** The FDB as bpftool decodes it, each entry's target named by the link it points at. */
function fdbByName(lab: Lab, host: string): Array<{ vlan: number; mac: string; device: string | undefined }> {
  const names = new Map<number, string>();
  for (const name of ["tap-vm1", "tap-vm2", "uplink0"]) {
    const l = link(lab, host, name);
    if (l) names.set(l.ifindex, name);
  }
  return fdbEntries(lab, host, FDB).map((e) => ({ vlan: e.vlan, mac: e.mac, device: names.get(e.ifindex) }));
}

describe("quickstart on one host", () => {
  let lab: Lab;
  let project: ExampleProject;
  const { made } = exampleSuite("quickstart", 1, (l, p) => { lab = l; project = p; });

  test("after a reboot plain up repairs nothing, and one `pulumi up --refresh --yes` restores every object", async () => {
    const stack = "reboot";
    made.push(stack);
    await project.newStack(stack, { "hvnet:inventory": path.join(lab.dir, "inventory.json") });
    expect((await upJson(project, stack)).changes).toEqual({ create: 6 });
    const applied = hostView(lab, HV);
    const appliedFdb = fdbByName(lab, HV);
    expect(appliedFdb).toEqual([
      { vlan: 100, mac: "52:54:00:00:01:01", device: "tap-vm1" },
      { vlan: 100, mac: "52:54:00:00:01:02", device: "tap-vm2" },
    ]);
    expect(applied.links.map((l) => [l.name, l.xdp])).toEqual([["tap-vm1", "vm_egress"], ["tap-vm2", "vm_egress"], ["uplink0", "l2fwd"]]);
    expect(applied.registry.length).toBeGreaterThan(0);

    wipeHost(lab, HV);
    expect(hostView(lab, HV)).toEqual(WIPED);

    // The trap: without a refresh, up trusts the state and touches nothing.
    const plain = await upJson(project, stack);
    expect(plain.changes).toEqual({ same: 6 });
    expect(hostView(lab, HV)).toEqual(WIPED);

    // The one command an operator runs after a reboot (as examples/README.md says).
    const repair = await project.pulumi(["up", "--refresh", "--yes", "--stack", stack]);
    if (repair.code !== 0) throw new Error(`pulumi up --refresh --yes exited ${repair.code}:\n${repair.output}`);
    expect(hostView(lab, HV)).toEqual(applied);
    expect(fdbByName(lab, HV)).toEqual(appliedFdb);
    // The XDP program runs on the NIC through the pinned link, not some other attachment.
    const pinned = pinnedLink(lab, HV, LINK);
    expect(link(lab, HV, "uplink0")?.xdp?.prog?.id).toBe(pinned.prog_id);
    expect((await project.outputs(stack)).uplink.linkId).toBe(pinned.id);

    // Repaired for good: the next up has nothing to do, and nothing drifted.
    expect((await upJson(project, stack)).changes).toEqual({ same: 6 });
    expect((await upJson(project, stack, ["--refresh"])).changes).toEqual({ same: 6 });
    expect(hostView(lab, HV)).toEqual(applied);
});
});

describe("fleet on two hosts", () => {
  let lab: Lab;
  let project: ExampleProject;
  const { made } = exampleSuite("fleet", 2, (l, p) => { lab = l; project = p; });

  test("only the rebooted host is made again; the other is read, never written", async () => {
    const stack = "reboot-one";
    made.push(stack);
    await project.newStack(stack, { "hvnet:inventory": path.join(lab.dir, "inventory.json"), canary: "false" });
    expect((await upJson(project, stack)).changes).toEqual({ create: 7 }); // six objects and the stack
    const applied = { hv1: hostView(lab, "hv1"), hv2: hostView(lab, "hv2") };
    const appliedFdb = fdbByName(lab, "hv2");
    expect(appliedFdb).toHaveLength(1);
    const hv1Times = hvnetTimes(lab, "hv1");

    wipeHost(lab, "hv2");
    expect(hostView(lab, "hv2")).toEqual(WIPED);

    const repair = await upJson(project, stack, ["--refresh"]);
    // Refresh drops hv2's three objects from the state; the update makes exactly those again.
    expect(repair.ops).toEqual({
      "hv1-uplink": "same", "hv1-vm1": "same", "hv1-vm1-fdb": "same",
      "hv2-uplink": "create", "hv2-vm1": "create", "hv2-vm1-fdb": "create",
    });
    expect(hostView(lab, "hv2")).toEqual(applied.hv2);
    expect(fdbByName(lab, "hv2")).toEqual(appliedFdb);
    expect(hostView(lab, "hv1")).toEqual(applied.hv1);
    expect(hvnetTimes(lab, "hv1")).toEqual(hv1Times); // nothing on hv1 was rewritten
    expect((await upJson(project, stack)).changes).toEqual({ same: 7 });
});
});
