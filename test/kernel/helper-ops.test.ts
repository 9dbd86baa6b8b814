// The built helper against the real kernel, in a scratch namespace with its own bpffs:
// XdpProgram, FdbEntry and VmInterface ops, witnessed with ip -j and bpftool -j.
import { execFileSync } from "node:child_process";
import * as fs from "node:fs";
import { requireRoot, requireCommand } from "../support/require-root";
import { startHelperHost, HelperHost } from "../support/helper-host";

let host: HelperHost;
const UPLINK_PIN = "/sys/fs/bpf/hvnet/xdp/root/uplink0";
const TABLE = `${UPLINK_PIN}/maps/fdb`;
const OWNER_A = "hvt/a/XdpProgram/uplink";
const OWNER_B = "hvt/b/XdpProgram/uplink";

function xdpProgId(dev: string): number | undefined {
  const [link] = host.ns.ipJson("-d", "link", "show", "dev", dev);
  return link?.xdp?.prog?.id;
}

function bpftool(...args: string[]): any {
  return JSON.parse(host.hostExec("bpftool", ["-j", ...args]));
}

beforeAll(async () => {
  requireRoot();
  requireCommand("bpftool");
  host = await startHelperHost("ops");
  // The "NIC": a veth whose peer stays in the namespace.
  host.ns.ip("link", "add", "uplink0", "numtxqueues", "4", "numrxqueues", "4", "type", "veth", "peer", "name", "wire0");
  host.ns.ip("link", "set", "uplink0", "up");
  host.ns.ip("link", "set", "wire0", "up");
}, 30000);

afterAll(async () => {
  await host?.stop();
});

describe("XdpProgram through a pinned bpf_link", () => {
  test("attaches l2fwd natively and pins link and maps", async () => {
    const out = await host.request("xdp.apply", { device: "uplink0", program: "l2fwd", ownership: { owner: OWNER_A, op: "op-first-attach" } });
    expect(out.attachMode).toBe("native");
    expect(out.linkPin).toBe(`${UPLINK_PIN}/link`);
    expect(Object.keys(out.maps).sort()).toEqual(["fdb", "ports", "stats"]);
    expect(xdpProgId("uplink0")).toBe(out.programId);
    const links = bpftool("link", "show");
    expect(links.some((l: any) => l.id === out.linkId && l.prog_id === out.programId && l.type === "xdp")).toBe(true);
    expect(host.hostExec("ls", [`${UPLINK_PIN}/maps`]).split("\n").filter(Boolean).sort()).toEqual(["fdb", "ports", "stats"]);
  });

  test("another owner's create without adopt is refused, naming the pin and the owner", async () => {
    const r = await host.call("xdp.apply", { device: "uplink0", program: "l2fwd", ownership: { owner: OWNER_B, op: "op-second-owner" } });
    expect(r.ok).toBe(false);
    expect(r.error.code).toBe("EEXIST");
    expect(r.error.message).toContain(UPLINK_PIN);
    expect(r.error.message).toContain(`owned by ${OWNER_A}`);
    // A caller without an owner may not take it either: it is someone's.
    expect((await host.call("xdp.apply", { device: "uplink0", program: "l2fwd" })).error?.code).toBe("EEXIST");
  });

  test("the same request again (a retry, same op) converges on the same link", async () => {
    const a = await host.request("xdp.show", { device: "uplink0" });
    const b = await host.request("xdp.apply", { device: "uplink0", program: "l2fwd", ownership: { owner: OWNER_A, op: "op-first-attach" } });
    expect(b.linkId).toBe(a.linkId);
    expect(b.programId).toBe(a.programId);
  });

  test("another owner's remove leaves the attachment and names its owner", async () => {
    expect(await host.request("xdp.remove", { device: "uplink0", ownership: { owner: OWNER_B } })).toEqual({ removed: false, owner: OWNER_A });
    expect(xdpProgId("uplink0")).toBeDefined();
  });

  test("swapping the program keeps the link and the FDB map, changes the program", async () => {
    const before = await host.request("xdp.show", { device: "uplink0" });
    const fdbMapId = bpftool("map", "show", "pinned", `${UPLINK_PIN}/maps/fdb`).id;
    const after = await host.request("xdp.apply", { device: "uplink0", program: "pass", adopt: true });
    expect(after.linkId).toBe(before.linkId);
    expect(after.programId).not.toBe(before.programId);
    expect(xdpProgId("uplink0")).toBe(after.programId);
    const back = await host.request("xdp.apply", { device: "uplink0", program: "l2fwd", adopt: true });
    expect(back.linkId).toBe(before.linkId);
    expect(bpftool("map", "show", "pinned", `${UPLINK_PIN}/maps/fdb`).id).toBe(fdbMapId);
  });

  test("applying the same program again changes nothing", async () => {
    const a = await host.request("xdp.show", { device: "uplink0" });
    const b = await host.request("xdp.apply", { device: "uplink0", program: "l2fwd", adopt: true });
    expect(b.programId).toBe(a.programId);
  });
});

test("remove then apply at once (delete before replace) finds the hook free", async () => {
  const other = "/sys/fs/bpf/hvnet/xdp/root/wire0";
  await host.request("xdp.apply", { device: "wire0", program: "pass", mode: "skb" });
  for (let i = 0; i < 3; i++) {
    await host.request("xdp.remove", { device: "wire0" });
    const again = await host.request("xdp.apply", { device: "wire0", program: "pass", mode: "skb" });
    expect(again.linkPin).toBe(`${other}/link`);
  }
  await host.request("xdp.remove", { device: "wire0" });
  expect(xdpProgId("wire0")).toBeUndefined();
});

describe("VmInterface", () => {
  test("creates a persistent multiqueue tap with owner, vnet_hdr and MTU, offloads off", async () => {
    const out = await host.request("vmif.apply", {
      name: "tap0", vcpus: 2, mac: "52:54:00:00:00:01", addresses: ["10.1.0.2", "fd00::2"],
      owner: { uid: 1234, gid: 5678 }, mtu: 1400, uplink: "uplink0", egress: true,
    });
    expect(out.queues).toBe(4);
    expect(out.qemuArgs.join(" ")).toContain("queues=4");
    expect(out.qemuArgs.join(" ")).toContain("vectors=10");
    const [tap] = host.ns.ipJson("-d", "link", "show", "dev", "tap0");
    expect(tap.mtu).toBe(1400);
    expect(tap.linkinfo.info_kind).toBe("tun");
    expect(tap.linkinfo.info_data).toMatchObject({ type: "tap", multi_queue: true, vnet_hdr: true, user: 1234, group: 5678 });
    expect(tap.xdp?.prog?.id).toBeGreaterThan(0);
    const features = host.ns.exec("ethtool", ["-k", "tap0"]);
    expect(features).toMatch(/tcp-segmentation-offload: off/);
  });

  test("show reads the VM's addresses back from the egress config", async () => {
    const shown = await host.request("vmif.show", { name: "tap0" });
    expect(shown.addresses).toEqual(["10.1.0.2", "fd00::2"]);
    expect(shown.owner).toEqual({ uid: 1234, gid: 5678 });
    expect(shown.offloads).toBe(false);
  });

  test("owner and addresses change in place (same ifindex)", async () => {
    const before = await host.request("vmif.show", { name: "tap0" });
    const out = await host.request("vmif.apply", {
      name: "tap0", vcpus: 2, mac: "52:54:00:00:00:01", addresses: ["10.1.0.3"],
      owner: { uid: 1000, gid: 1000 }, uplink: "uplink0", egress: true, adopt: true,
    });
    expect(out.ifindex).toBe(before.ifindex);
    const shown = await host.request("vmif.show", { name: "tap0" });
    expect(shown.addresses).toEqual(["10.1.0.3"]);
    expect(shown.owner).toEqual({ uid: 1000, gid: 1000 });
  });
});

describe("FdbEntry", () => {
  test("one entry, read back, witnessed by bpftool", async () => {
    const out = await host.request("fdb.apply", { table: TABLE, vlan: 100, mac: "52:54:00:00:00:01", device: "tap0" });
    const tapIndex = host.ns.ipJson("link", "show", "dev", "tap0")[0].ifindex;
    expect(out.ifindex).toBe(tapIndex);
    const shown = await host.request("fdb.show", { table: TABLE, vlan: 100, mac: "52:54:00:00:00:01" });
    expect(shown).toMatchObject({ device: "tap0", ifindex: tapIndex });
    const dump = bpftool("map", "dump", "pinned", TABLE);
    expect(dump.length).toBe(1);
    const ports = bpftool("map", "dump", "pinned", `${UPLINK_PIN}/maps/ports`);
    expect(ports.length).toBe(1);
  });

  test("an ingress ACL puts a devmap program on the port and reads back", async () => {
    const acl = { rules: [{ action: "deny", protocol: "tcp", dstPorts: { from: 22, to: 22 } }], defaultAction: "allow" };
    await host.request("fdb.apply", { table: TABLE, vlan: 100, mac: "52:54:00:00:00:01", device: "tap0", ingressAcl: { rules: [{ action: "deny", protocol: "tcp", dstPorts: "22" }] }, adopt: true });
    const shown = await host.request("fdb.show", { table: TABLE, vlan: 100, mac: "52:54:00:00:00:01" });
    expect(shown.ingressAcl).toEqual(acl);
  });

  test("1000 entries in one batch request, then removed", async () => {
    const requests = Array.from({ length: 1000 }, (_, i) => ({
      op: "fdb.apply",
      args: { table: TABLE, vlan: 200, mac: `02:00:00:00:${((i >> 8) & 0xff).toString(16).padStart(2, "0")}:${(i & 0xff).toString(16).padStart(2, "0")}`, device: "tap0" },
    }));
    const out = await host.request("batch", { requests });
    expect(out.results.every((r: any) => r.ok)).toBe(true);
    expect(bpftool("map", "dump", "pinned", TABLE).length).toBe(1001);
    for (const r of requests.slice(0, 10)) expect(await host.call("fdb.remove", { table: r.args.table, vlan: r.args.vlan, mac: r.args.mac })).toMatchObject({ ok: true });
    expect(bpftool("map", "dump", "pinned", TABLE).length).toBe(991);
    // The rest in one batch (as a destroy sends them): each gets its own answer.
    const removals = requests.slice(10).map((r) => ({ op: "fdb.remove", args: { table: r.args.table, vlan: r.args.vlan, mac: r.args.mac } }));
    removals.push({ op: "fdb.remove", args: { table: TABLE, vlan: 200, mac: "02:00:00:00:ff:ff" } }); // absent
    const gone = await host.request("batch", { requests: removals });
    expect(gone.results.slice(0, 990).every((r: any) => r.ok && r.result.removed)).toBe(true);
    expect(gone.results[990]).toEqual({ ok: true, result: { removed: false } });
    expect(bpftool("map", "dump", "pinned", TABLE).length).toBe(1);
  });

  test("a bad entry in a batch fails alone, naming its field", async () => {
    const out = await host.request("batch", { requests: [
      { op: "fdb.apply", args: { table: TABLE, vlan: 4095, mac: "02:00:00:00:10:01", device: "tap0" } },
      { op: "fdb.apply", args: { table: TABLE, vlan: 300, mac: "02:00:00:00:10:02", device: "tap0" } },
    ] });
    expect(out.results[0].ok).toBe(false);
    expect(out.results[0].error.message).toContain("vlan");
    expect(out.results[1].ok).toBe(true);
  });

  test("an entry for a missing device is refused", async () => {
    const r = await host.call("fdb.apply", { table: TABLE, vlan: 300, mac: "02:00:00:00:10:03", device: "nosuch0" });
    expect(r.ok).toBe(false);
    expect(r.error.code).toBe("ENODEV");
  });
});

describe("removal leaves nothing behind", () => {
  test("removing the tap, the entries and the program", async () => {
    await host.request("vmif.remove", { name: "tap0" });
    expect(host.ns.ipJson("link", "show").map((l: any) => l.ifname)).not.toContain("tap0");
    // The tap's deletion removed it from the ports devmap (the kernel does that).
    await host.request("xdp.remove", { device: "uplink0" });
    expect(xdpProgId("uplink0")).toBeUndefined();
    // progs.debug and maps.debug are bpffs's own (its preloaded iterators).
    expect(host.hostExec("find", ["/sys/fs/bpf", "-mindepth", "1", "-not", "-name", "*.debug"]).trim()).toBe("");
    // The helper's records (and their directory) are gone: nothing of hvnet's stays in /run.
    expect(fs.existsSync(host.stateDir) ? fs.readdirSync(host.stateDir) : []).toEqual([]);
    // Absent is success.
    expect((await host.call("xdp.remove", { device: "uplink0" })).ok).toBe(true);
    expect((await host.call("vmif.remove", { name: "tap0" })).ok).toBe(true);
    expect((await host.call("fdb.remove", { table: TABLE, vlan: 1, mac: "02:00:00:00:00:01" })).ok).toBe(true);
  });
});
