// FdbTable: a hypervisor's <vlan, mac> forwarding table as one resource, for the thousands
// of entries a host carries. `pulumi preview --diff` shows the entries added, changed and
// removed, one by one; `up` writes only those, in one batch; `refresh` finds an entry
// changed or deleted by hand. An FdbEntry and other stacks' entries share the table.
//
// Config (all optional):
//   count     entries in the table (default 1000; 0: no FdbTable): VLAN 100-103, MACs
//             52:54:01:xx:xx:xx, alternately to the taps fte-a and fte-b
//   move      comma-separated entry numbers sent to the other tap
//   drop      comma-separated entry numbers left out
//   attach    true (default): l2fwd on the uplink and the two taps; false: another stack's
//             (a second stack sharing the table, with entries of its own)
//   entryMac  the MAC of an FdbEntry beside the table, on VLAN 100 to fte-b (default
//             02:00:00:00:00:01; "none" for no FdbEntry)
import * as pulumi from "@pulumi/pulumi";
import * as hvnet from "@hvnet/pulumi";

const TAPS = ["fte-a", "fte-b"];

function numbers(text: string | undefined): Set<number> {
  return new Set((text ?? "").split(",").filter((s) => s.trim() !== "").map(Number));
}

function macOf(i: number): string {
  return `52:54:01:${[(i >> 16) & 0xff, (i >> 8) & 0xff, i & 0xff].map((b) => b.toString(16).padStart(2, "0")).join(":")}`;
}

export = async () => {
  const config = new pulumi.Config();
  const [target] = await hvnet.stackTargets();
  const count = config.getNumber("count") ?? 1000;
  const move = numbers(config.get("move"));
  const drop = numbers(config.get("drop"));
  const entryMac = config.get("entryMac") ?? "02:00:00:00:00:01";

  let table: pulumi.Input<string> = `/sys/fs/bpf/hvnet/xdp/root/${target.uplink}/maps/fdb`;
  const deps: pulumi.Resource[] = [];
  if (config.getBoolean("attach") ?? true) {
    const uplink = new hvnet.XdpProgram("uplink", { host: target.host, device: target.uplink, program: "l2fwd" });
    table = pulumi.interpolate`${uplink.pinDir}/maps/fdb`;
    TAPS.forEach((name, i) => deps.push(new hvnet.VmInterface(name, { host: target.host, name, vcpus: 1, mac: `52:54:02:00:00:0${i + 1}`, addresses: [`10.200.0.${i + 1}`] })));
  }

  const entries: hvnet.FdbTableEntryArgs[] = [];
  for (let i = 0; i < count; i++) {
    if (drop.has(i)) continue;
    entries.push({ vlan: 100 + (i % 4), mac: macOf(i), device: TAPS[(i + (move.has(i) ? 1 : 0)) % 2] });
  }
  const fdb = count > 0 ? new hvnet.FdbTable("fdb", { host: target.host, table, entries }, { dependsOn: deps }) : undefined;
  if (entryMac !== "none") {
    new hvnet.FdbEntry("entry", { host: target.host, table, vlan: 100, mac: entryMac, device: TAPS[1] }, { dependsOn: deps });
  }

  return { host: target.name, table, count: fdb?.count ?? 0 };
};
