// End to end on Linux 7.x: examples/netkit-afxdp through the real Pulumi CLI against a VM
// lab host (netdevsim with our RSS/ntuple bookkeeping; the ethtool core and the queue lease
// are the kernel's). Preview changes nothing, up makes the RSS context, its rule and the
// netkit device with its leases, refresh finds a device deleted by hand, up makes it again,
// destroy leaves the host as it was. (On a namespace lab host the same program fails
// preview with the capability error: test/e2e/netkit-afxdp.test.ts.)
// Software emulation (TCG): timings printed here are not performance numbers.
import path from "node:path";
import { parseEvents, stepOps } from "../e2e/support/project";
import { vmExampleSuite } from "./support/vm-example";

jest.setTimeout(20 * 60_000);

const YNL_SPECS = "/usr/local/share/hvnet-vmlab/ynl/Documentation/netlink/specs";
const suite = vmExampleSuite("netkit-afxdp");
const stacks = suite.stacks;

/** What hvnet may touch on the host: RSS tables, ntuple rules, links, bpffs pins. */
function hostState(): string {
  return suite.lab.sshOk(
    `ethtool -x ${suite.nic} | grep -v '^RSS hash key' ; ethtool -n ${suite.nic}; ip -o link show | cut -d' ' -f2; find /sys/fs/bpf/hvnet/netkit 2>/dev/null; true`,
  );
}

test("preview, up, refresh after a hand-deleted netkit device, up again, destroy: the host ends as it was", async () => {
  const p = suite.project;
  const before = hostState();
  stacks.push("vm");
  await p.newStack("vm", { "hvnet:inventory": path.join(suite.lab.dir, "inventory.json") });
  const long = { timeoutMs: 15 * 60_000 };

  const preview = await p.pulumi(["preview", "--stack", "vm"], long);
  expect(preview.output).not.toMatch(/lacks what this program needs/);
  expect(preview.code).toBe(0);
  expect(hostState()).toBe(before);
  console.log(`netkit-afxdp on a VM lab host: preview ${preview.ms} ms`);

  const up = await p.pulumiOk(["up", "--yes", "--stack", "vm"], long);
  console.log(`netkit-afxdp on a VM lab host: up ${up.ms} ms`);
  const out = await p.outputs("vm");
  expect(out.host).toBe("hv1");
  expect(out.contextId).toBeGreaterThanOrEqual(1);
  expect(out.leases).toEqual([{ physicalQueue: 4, netkitQueue: 1 }, { physicalQueue: 5, netkitQueue: 2 }]);
  expect(out.qemuNetdev).toMatch(/^af-xdp,.*ifname=nk-vm1,.*queues=2,start-queue=1,inhibit=on,map-path=\/sys\/fs\/bpf\/hvnet\/netkit\/nk-vm1\/xsks_map$/);
  expect(suite.lab.sshOk(`ethtool -x ${suite.nic} context ${Number(out.contextId)}`)).toMatch(/^\s*0:\s+4\s+5\s+4\s+5/m);
  expect(suite.lab.sshOk(`ethtool -n ${suite.nic}`)).toMatch(/Dest IP addr: 10\.100\.0\.21[\s\S]*RSS Context (ID: )?\d+/);
  const nk = Number(suite.lab.sshOk("cat /sys/class/net/nk-vm1/ifindex").trim());
  const nicIndex = Number(suite.lab.sshOk(`cat /sys/class/net/${suite.nic}/ifindex`).trim());
  const q4 = JSON.parse(suite.lab.sshOk(`ynl --spec ${YNL_SPECS}/netdev.yaml --output-json --do queue-get --json '{"ifindex": ${nicIndex}, "id": 4, "type": "rx"}'`));
  expect(q4.lease).toMatchObject({ ifindex: nk, queue: { id: 1, type: "rx" } });

  // A second up changes nothing.
  const again = await p.pulumiOk(["up", "--yes", "--stack", "vm", "--json"], long);
  expect(Object.values(stepOps(parseEvents(again.stdout))).filter((op) => op !== "same")).toEqual([]);

  // Drift by hand: the netkit device is deleted (its leases end with it).
  suite.lab.sshOk("ip link del nk-vm1");
  const refresh = await p.pulumiOk(["refresh", "--yes", "--stack", "vm"], long);
  expect(refresh.output).toMatch(/vm1-netkit.*deleted|deleted.*vm1-netkit|- 1 deleted|1 deleted/);
  const state = await p.exportState("vm");
  expect(state.deployment.resources.some((r) => String(r.urn).endsWith("::vm1-netkit"))).toBe(false);
  await p.pulumiOk(["up", "--yes", "--stack", "vm"], long);
  const back = await p.outputs("vm");
  expect(back.leases).toEqual(out.leases);
  expect(suite.lab.sshOk("ip -o link show nk-vm1")).toContain("nk-vm1");

  const destroy = await p.pulumiOk(["destroy", "--yes", "--stack", "vm"], long);
  console.log(`netkit-afxdp on a VM lab host: destroy ${destroy.ms} ms`);
  expect(hostState()).toBe(before);
});
