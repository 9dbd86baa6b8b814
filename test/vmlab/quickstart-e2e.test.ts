// End to end on a second kernel: examples/quickstart (XdpProgram l2fwd on the uplink,
// VmInterface taps with vm-egress, FdbEntry per VM) through the real Pulumi CLI against a
// Linux 7.x VM lab host, whose uplink is a netdevsim port (native XDP is the kernel's and
// netdevsim's). Preview changes nothing, up, refresh after a tap deleted by hand, up
// again, destroy leaves the host as it was. Witnesses over SSH: ip, bpftool.
// Software emulation (TCG): timings printed here are not performance numbers.
import path from "node:path";
import { vmExampleSuite } from "./support/vm-example";

jest.setTimeout(20 * 60_000);

const suite = vmExampleSuite("quickstart");
const stacks = suite.stacks;

/** Links (with any XDP program id left out: ids grow) and hvnet's pins. */
function hostState(): string {
  return suite.lab.sshOk(`ip -o link show | cut -d' ' -f2,3; ip -d link show ${suite.nic} | grep -c xdp; find /sys/fs/bpf/hvnet 2>/dev/null | sort; true`);
}

test("quickstart on Linux 7.x: preview, up, refresh after a hand-deleted tap, up again, destroy: the host ends as it was", async () => {
  const p = suite.project;
  const before = hostState();
  stacks.push("vm");
  await p.newStack("vm", { "hvnet:inventory": path.join(suite.lab.dir, "inventory.json") });
  const long = { timeoutMs: 15 * 60_000 };

  const preview = await p.pulumiOk(["preview", "--stack", "vm"], long);
  expect(hostState()).toBe(before);
  console.log(`quickstart on a VM lab host: preview ${preview.ms} ms`);

  const up = await p.pulumiOk(["up", "--yes", "--stack", "vm"], long);
  console.log(`quickstart on a VM lab host: up ${up.ms} ms`);
  const [uplink] = JSON.parse(suite.lab.sshOk(`ip -j -d link show dev ${suite.nic}`));
  expect(uplink.xdp?.prog?.id).toEqual(expect.any(Number));
  const taps = JSON.parse(suite.lab.sshOk("ip -j -d link show type tun")) as Array<{ ifname: string; xdp?: { prog?: { id: number } } }>;
  expect(taps.map((t) => t.ifname).sort()).toEqual(["tap-vm1", "tap-vm2"]);
  for (const t of taps) expect(t.xdp?.prog?.id).toEqual(expect.any(Number));
  const fdb = suite.lab.sshOk(`bpftool -j map dump pinned /sys/fs/bpf/hvnet/xdp/root/${suite.nic}/maps/fdb`);
  expect((JSON.parse(fdb) as unknown[]).length).toBe(2);

  suite.lab.sshOk("ip link del tap-vm2");
  await p.pulumiOk(["refresh", "--yes", "--stack", "vm"], long);
  await p.pulumiOk(["up", "--yes", "--stack", "vm"], long);
  expect(suite.lab.sshOk("ip -o link show tap-vm2")).toContain("tap-vm2");

  const destroy = await p.pulumiOk(["destroy", "--yes", "--stack", "vm"], long);
  console.log(`quickstart on a VM lab host: destroy ${destroy.ms} ms`);
  expect(hostState()).toBe(before);
});
