// The provider runtime against lab hosts through real sshd: create, read, update in
// place and delete of each resource kind, drift made by hand seen by read, and three
// hosts served in parallel. RssContext and NetkitLower need hardware and a kernel the lab
// lacks: over SSH they must fail with a capability error and change nothing.
import type { LabHost } from "../support/lab";
import { HostPool } from "../../provider/transport/pool";
import { HostSpec } from "../../provider/transport/host-spec";
import { KINDS } from "../../provider/kinds";
import { forgetCheckedHosts, requireValidInputs } from "../../provider/runtime/check";
import { createResource, readResource, updateResource, deleteResource } from "../../provider/runtime/operations";
import { connectionOf, createAs, HELPER_DIR, labWithPool } from "../support/runtime";
import { barrierProxies } from "../support/tcp-barrier";

const env = labWithPool(3);

const spec = (h: LabHost): HostSpec => connectionOf(h);

function hostOf(i: number): LabHost {
  return env.lab.inventory.hosts[i];
}

/** As one stack's SDK would: each resource has its owner (see readOwnership). */
const create = (typeName: string, host: HostSpec, props: Record<string, unknown>, owner = `hvt/ssh/${typeName}/r1`) => createAs(env.pool, typeName, host, props, owner);

function hostJson(host: LabHost, ...args: string[]): any {
  return JSON.parse(env.lab.hostExec(host.name, args[0], args.slice(1)) || "[]");
}

describe("three hosts in parallel", () => {
  test("the pool dials every host before any of them answers", async () => {
    const hosts = env.lab.inventory.hosts;
    const proxies = await barrierProxies(hosts);
    const parallelPool = new HostPool({ helperDir: HELPER_DIR });
    try {
      const viaProxy = hosts.map((h, i) => ({ ...spec(h), address: "127.0.0.1", port: proxies.ports[i] }));
      const work = Promise.all(viaProxy.map((host) => createResource(parallelPool, KINDS.XdpProgram, requireValidInputs(KINDS.XdpProgram, { host, device: "uplink0", program: "pass" }))));
      const timeout = new Promise<never>((_, reject) => setTimeout(() => reject(new Error("the pool did not dial all three hosts at once")), 20000).unref());
      await Promise.race([proxies.reached, timeout]);
      const results = await work;
      expect(results.map((r) => r.id)).toEqual(hosts.map((h) => `${h.name}/xdp//uplink0/`));
      for (const [i, h] of hosts.entries()) {
        const [link] = hostJson(h, "ip", "-j", "-d", "link", "show", "dev", "uplink0");
        expect(link.xdp.prog.id).toBe(results[i].outs.programId);
      }
      await Promise.all(results.map((r, i) => deleteResource(parallelPool, KINDS.XdpProgram, r.id, { ...r.outs, host: viaProxy[i] })));
    } finally {
      await parallelPool.close();
      proxies.close();
      // The proxies gave the hosts' names other addresses: the tests below are another stack.
      forgetCheckedHosts();
    }
  });
});

describe("XdpProgram over SSH", () => {
  let id: string;
  let outs: Record<string, any>;

  test("create attaches l2fwd on the host's uplink, id is self-describing", async () => {
    const h = hostOf(0);
    ({ id, outs } = await create("XdpProgram", spec(h), { device: "uplink0", program: "l2fwd" }));
    expect(id).toBe(`${h.name}/xdp//uplink0/`);
    const [link] = hostJson(h, "ip", "-j", "-d", "link", "show", "dev", "uplink0");
    expect(link.xdp.prog.id).toBe(outs.programId);
    expect(outs.maps.fdb).toBe("/sys/fs/bpf/hvnet/xdp/root/uplink0/maps/fdb");
  });

  test("read from the id alone finds it", async () => {
    const r = await readResource(env.pool, KINDS.XdpProgram, id, { host: spec(hostOf(0)) });
    expect(r.id).toBe(id);
    expect(r.props.linkId).toBe(outs.linkId);
  });

  test("update in place swaps the program on the same link", async () => {
    const h = spec(hostOf(0));
    const news = { ...requireValidInputs(KINDS.XdpProgram, { host: h, device: "uplink0", program: "pass" }), __owner: outs.__owner };
    const { outs: after } = await updateResource(env.pool, KINDS.XdpProgram, id, outs, news);
    expect(after.linkId).toBe(outs.linkId);
    expect(after.programId).not.toBe(outs.programId);
    const back = { ...requireValidInputs(KINDS.XdpProgram, { host: h, device: "uplink0", program: "l2fwd" }), __owner: outs.__owner };
    outs = (await updateResource(env.pool, KINDS.XdpProgram, id, after, back)).outs;
  });

  test("a second resource's create of the same attachment is refused with a message saying so", async () => {
    await expect(create("XdpProgram", spec(hostOf(0)), { device: "uplink0", program: "l2fwd" }, "hvt/ssh/XdpProgram/r2")).rejects.toThrow(
      /attachment of uplink0 .* already exists and is owned by hvt\/ssh\/XdpProgram\/r1.*adopt/,
    );
  });

  test("the same resource's create again (a failed `up` run again) converges on its attachment", async () => {
    const again = await create("XdpProgram", spec(hostOf(0)), { device: "uplink0", program: "l2fwd" });
    expect(again.outs.linkId).toBe(outs.linkId);
  });

  let tapId: string;
  let tapOuts: Record<string, any>;
  test("VmInterface with vm-egress, and an FdbEntry to it", async () => {
    const h = spec(hostOf(0));
    ({ id: tapId, outs: tapOuts } = await create("VmInterface", h, {
      name: "vm1", vcpus: 1, mac: "52:54:00:00:01:01", addresses: ["10.9.0.11"], uplink: "uplink0", egress: true, owner: { uid: 4242, gid: 4242 },
    }));
    expect(tapId).toBe(`${hostOf(0).name}/vmif//vm1`);
    expect(tapOuts.qemuArgs).toContain("-netdev");
    const [tap] = hostJson(hostOf(0), "ip", "-j", "-d", "link", "show", "dev", "vm1");
    expect(tap.linkinfo.info_data).toMatchObject({ type: "tap", multi_queue: true, user: 4242 });

    const fdb = await create("FdbEntry", h, { table: outs.maps.fdb, vlan: 100, mac: "52:54:00:00:01:01", device: "vm1" });
    expect(fdb.outs.ifindex).toBe(tap.ifindex);
    const dump = JSON.parse(env.lab.hostExec(hostOf(0).name, "bpftool", ["-j", "map", "dump", "pinned", outs.maps.fdb]));
    expect(dump).toHaveLength(1);

    // Drift: the entry deleted by hand is seen as gone.
    env.lab.hostExec(hostOf(0).name, "bpftool", ["map", "delete", "pinned", outs.maps.fdb, "key", "hex", "64", "00", "52", "54", "00", "00", "01", "01"]);
    const r = await readResource(env.pool, KINDS.FdbEntry, fdb.id, fdb.outs);
    expect(r.id).toBe("");
    // ... and the next apply repairs it.
    await create("FdbEntry", h, { table: outs.maps.fdb, vlan: 100, mac: "52:54:00:00:01:01", device: "vm1" });
    expect(JSON.parse(env.lab.hostExec(hostOf(0).name, "bpftool", ["-j", "map", "dump", "pinned", outs.maps.fdb]))).toHaveLength(1);
    await deleteResource(env.pool, KINDS.FdbEntry, fdb.id, fdb.outs);
    expect(JSON.parse(env.lab.hostExec(hostOf(0).name, "bpftool", ["-j", "map", "dump", "pinned", outs.maps.fdb]))).toHaveLength(0);
  });

  test("VmInterface owner changes in place; a tap deleted by hand reads as gone", async () => {
    const h = spec(hostOf(0));
    const news = { ...requireValidInputs(KINDS.VmInterface, { host: h, name: "vm1", vcpus: 1, mac: "52:54:00:00:01:01", addresses: ["10.9.0.11"], uplink: "uplink0", egress: true, owner: { uid: 4343, gid: 4343 } }), __owner: tapOuts.__owner };
    const { outs: after } = await updateResource(env.pool, KINDS.VmInterface, tapId, tapOuts, news);
    expect(after.ifindex).toBe(tapOuts.ifindex);
    const r = await readResource(env.pool, KINDS.VmInterface, tapId, after);
    expect(r.props.owner).toEqual({ uid: 4343, gid: 4343 });
    env.lab.hostExec(hostOf(0).name, "ip", ["link", "del", "vm1"]);
    expect((await readResource(env.pool, KINDS.VmInterface, tapId, after)).id).toBe("");
    await deleteResource(env.pool, KINDS.VmInterface, tapId, after); // absent is success
  });

  test("delete detaches and unpins; the host is as before", async () => {
    await deleteResource(env.pool, KINDS.XdpProgram, id, outs);
    const [link] = hostJson(hostOf(0), "ip", "-j", "-d", "link", "show", "dev", "uplink0");
    expect(link.xdp).toBeUndefined();
    expect(env.lab.hostExec(hostOf(0).name, "find", ["/sys/fs/bpf", "-mindepth", "1", "-not", "-name", "*.debug"]).trim()).toBe("");
    expect((await readResource(env.pool, KINDS.XdpProgram, id, outs)).id).toBe("");
  });
});

describe("what the lab cannot do fails clearly and changes nothing", () => {
  test("RssContext on a veth names the driver", async () => {
    const h = hostOf(1);
    const before = env.lab.hostExec(h.name, "ip", ["-j", "-d", "link"]);
    await expect(create("RssContext", spec(h), { device: "uplink0", queues: { start: 2, count: 2 }, flows: [{ type: "udp4", dst: "10.9.0.11" }] })).rejects.toThrow(/veth/);
    expect(env.lab.hostExec(h.name, "ip", ["-j", "-d", "link"])).toBe(before);
  });

  test("NetkitLower names the kernel and what it lacks", async () => {
    const h = hostOf(1);
    await expect(create("NetkitLower", spec(h), { name: "nk0", lowerDevice: "uplink0", queues: { start: 3, count: 1 } })).rejects.toThrow(/lacks the netkit queue lease|no netkit/);
    expect(hostJson(h, "ip", "-j", "link").map((l: any) => l.ifname)).not.toContain("nk0");
  });
});
