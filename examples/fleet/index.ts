// Fleet: every hypervisor gets l2fwd on its uplink and one VM (tap with vm-egress, FDB
// entry), rolled out canary first, then in batches. Each batch waits for every resource
// of the batch before it, so a failure stops the rollout where it happened: the hosts of
// later batches are not touched.
//
// Config (all optional):
//   canary     true (default): the first host goes alone first; false: no canary
//   batchSize  hosts per batch after the canary (default 5)
//   vlan       the VMs' VLAN (default 100)
// `hosts` (secret JSON list of {name, address, port, user, privateKey, hostKey, uplink})
// targets real hosts; without it, every host of the lab.
//
// After any host reboots, run `pulumi up --refresh`: its taps, XDP programs and FDB
// entries are gone but still in the stack, so a plain `pulumi up` finds nothing to change.
// The refresh drops what is missing from the state and up makes it again, on that host only.
import * as pulumi from "@pulumi/pulumi";
import * as hvnet from "@hvnet/pulumi";

export = async () => {
  const config = new pulumi.Config();
  const hosts = await hvnet.stackTargets();
  const vlan = config.getNumber("vlan") ?? 100;
  const opts: hvnet.RolloutOptions = {
    canary: config.getBoolean("canary") === false ? [] : undefined,
    batchSize: config.getNumber("batchSize"),
  };

  const qemuArgs: Record<string, pulumi.Output<string[]>> = {};
  hvnet.rollout(hosts, ({ host: t, dependsOn }: hvnet.RolloutHost<hvnet.StackTarget>) => {
    const n = hosts.indexOf(t) + 1;
    const uplink = new hvnet.XdpProgram(`${t.name}-uplink`, { host: t.host, device: t.uplink, program: "l2fwd" }, { dependsOn });
    const mac = `52:54:00:10:${(n >> 8).toString(16).padStart(2, "0")}:${(n & 0xff).toString(16).padStart(2, "0")}`;
    const tap = new hvnet.VmInterface(`${t.name}-vm1`, {
      host: t.host,
      name: "tap-vm1",
      vcpus: 1,
      mac,
      vlan: vlan === 0 ? undefined : vlan,
      addresses: [`10.100.${n >> 8}.${n & 0xff}`],
      uplink: t.uplink,
      egress: true,
    }, { dependsOn });
    const fdb = new hvnet.FdbEntry(`${t.name}-vm1-fdb`, {
      host: t.host,
      table: pulumi.interpolate`${uplink.pinDir}/maps/fdb`,
      vlan,
      mac,
      device: tap.name,
    }, { dependsOn });
    qemuArgs[t.name] = tap.qemuArgs;
    return [uplink, tap, fdb];
  }, opts);

  return {
    batches: hvnet.planBatches(hosts.map((h) => h.name), opts),
    qemuArgs,
  };
};
