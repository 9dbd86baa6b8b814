// The runtime's CRUD over a recording requester (no host): which helper ops it sends,
// the ids it forms, and the "initialization failed" path for partly created objects.
import { KINDS } from "../../provider/kinds";
import { createResource, readResource, updateResource, deleteResource, PartialCreateError, parseResourceId } from "../../provider/runtime/operations";

const HOST = { name: "hv1", address: "198.18.0.11", port: 22, user: "root", hostKey: "SHA256:x", privateKey: "k" };

function requester(handlers: Record<string, (args: any) => any>) {
  const sent: { op: string; args: any }[] = [];
  return {
    sent,
    async request(_host: unknown, op: string, args: any) {
      sent.push({ op, args });
      const h = handlers[op];
      if (!h) throw new Error(`unexpected op ${op}`);
      return h(args);
    },
  };
}

const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/;
const OWNER = "proj/dev/XdpProgram/uplink";

const VMIF = { host: HOST, name: "vm1", queues: 2, vcpus: 1, mac: "52:54:00:00:00:01", addresses: ["10.0.0.2"], offloads: false, adopt: false };

test("create sends the inputs without host and forms a self-describing id", async () => {
  const pool = requester({ "vmif.apply": () => ({ ifindex: 7, queues: 2, qemuArgs: [], libvirtXml: "" }) });
  const { id, outs } = await createResource(pool, KINDS.VmInterface, VMIF);
  expect(id).toBe("hv1/vmif//vm1");
  expect(pool.sent).toEqual([{ op: "vmif.apply", args: { name: "vm1", queues: 2, vcpus: 1, mac: "52:54:00:00:00:01", addresses: ["10.0.0.2"], offloads: false, adopt: false, ownership: { op: expect.stringMatching(UUID) } } }]);
  expect(outs).toMatchObject({ host: HOST, ifindex: 7 });
  expect(parseResourceId(id)).toEqual({ host: "hv1", kind: "vmif", key: "/vm1" });
});

test("a create that failed half way is recorded under its id (initialization failed)", async () => {
  const pool = requester({
    "vmif.apply": () => { throw Object.assign(new Error("uplink9 (the VM's uplink) does not exist"), { code: "ENODEV" }); },
    "vmif.show": () => ({ name: "vm1", ifindex: 9, queues: 2, qemuArgs: ["-netdev"], libvirtXml: "<interface/>" }),
  });
  const err = await createResource(pool, KINDS.VmInterface, VMIF).catch((e) => e);
  expect(err).toBeInstanceOf(PartialCreateError);
  expect(err.id).toBe("hv1/vmif//vm1");
  expect(err.properties).toMatchObject({ name: "vm1", ifindex: 9 });
  expect(err.reasons).toEqual(["uplink9 (the VM's uplink) does not exist"]);
  expect(pool.sent.map((s) => s.op)).toEqual(["vmif.apply", "vmif.show"]);
  expect(pool.sent[1].args).toEqual({ name: "vm1" });
});

test("a create that left nothing behind fails plainly; a refusal to take over is not probed", async () => {
  const nothing = requester({ "vmif.apply": () => { throw new Error("boom"); }, "vmif.show": () => null });
  await expect(createResource(nothing, KINDS.VmInterface, VMIF)).rejects.toThrow("boom");
  const exists = requester({ "vmif.apply": () => { throw Object.assign(new Error("tap vm1 already exists"), { code: "EEXIST" }); } });
  await expect(createResource(exists, KINDS.VmInterface, VMIF)).rejects.toThrow("already exists");
  expect(exists.sent.map((s) => s.op)).toEqual(["vmif.apply"]);
});

test("read with only the id (import) asks for the object the id names; gone reads as an empty id", async () => {
  const pool = requester({ "fdb.show": () => null });
  const id = "hv1/fdb/%2Fsys%2Ffs%2Fbpf%2Fhvnet%2Fxdp%2Froot%2Fuplink0%2Fmaps%2Ffdb/100/52%3A54%3A00%3A00%3A00%3A01";
  const r = await readResource(pool, KINDS.FdbEntry, id, { host: HOST });
  expect(pool.sent[0]).toEqual({ op: "fdb.show", args: { table: "/sys/fs/bpf/hvnet/xdp/root/uplink0/maps/fdb", vlan: 100, mac: "52:54:00:00:00:01" } });
  expect(r.id).toBe("");
});

test("update converges the same object (adopt) and carries the RSS context id", async () => {
  const pool = requester({ "rss.apply": (a) => ({ contextId: a.contextId, ruleIds: [], indirectionTable: [8, 9] }) });
  const olds = { host: HOST, device: "eth0", queues: { start: 8, count: 4 }, flows: [], shrinkDefault: true, adopt: false, contextId: 3, ruleIds: [], indirectionTable: [] };
  const news = { host: HOST, device: "eth0", queues: { start: 8, count: 2 }, flows: [], shrinkDefault: true, adopt: false };
  const { outs } = await updateResource(pool, KINDS.RssContext, "hv1/rss/eth0/3", olds, news);
  expect(pool.sent[0].args).toMatchObject({ contextId: 3, adopt: true, queues: { start: 8, count: 2 } });
  expect(outs.contextId).toBe(3);
});

test("delete sends only the identity", async () => {
  const pool = requester({ "xdp.remove": () => ({ removed: true }) });
  await deleteResource(pool, KINDS.XdpProgram, "hv1/xdp//uplink0/", { host: HOST, device: "uplink0", program: "l2fwd", mode: "native", pinDir: "/sys/fs/bpf/hvnet/xdp/root/uplink0", adopt: false, programId: 4 });
  expect(pool.sent).toEqual([{ op: "xdp.remove", args: { device: "uplink0", pinDir: "/sys/fs/bpf/hvnet/xdp/root/uplink0" } }]);
});

describe("ownership: every apply and remove says who asks", () => {
  const XDP = { host: HOST, device: "uplink0", program: "l2fwd", mode: "native", pinDir: "/sys/fs/bpf/hvnet/xdp/root/uplink0", adopt: false, __owner: OWNER };
  const shown = { programId: 4, programTag: "t", linkId: 5, linkPin: "/sys/fs/bpf/hvnet/xdp/root/uplink0/link", maps: {}, attachMode: "native" };

  test("create sends the owner and a fresh operation id per create, nested under ownership as for every kind; host and __owner stay out of the args", async () => {
    const pool = requester({ "xdp.apply": () => shown });
    const { outs } = await createResource(pool, KINDS.XdpProgram, XDP);
    await createResource(pool, KINDS.XdpProgram, XDP);
    const [a, b] = pool.sent.map((s) => s.args);
    expect(a).toMatchObject({ device: "uplink0", ownership: { owner: OWNER, op: expect.stringMatching(UUID) } });
    expect(a.host).toBeUndefined();
    expect(a.__owner).toBeUndefined();
    expect(b.ownership.op).not.toBe(a.ownership.op);
    // The state keeps __owner (delete needs it) but no op: each request draws its own.
    expect(outs.__owner).toBe(OWNER);
    expect(outs.op).toBeUndefined();
  });

  test("VmInterface's owner is the tap's uid/gid: the resource's ownership travels beside it, as for every kind", async () => {
    const pool = requester({ "vmif.apply": () => ({ ifindex: 7, queues: 2, qemuArgs: [], libvirtXml: "" }), "vmif.remove": () => ({ removed: true }) });
    const tapOwner = { uid: 107, gid: 107 };
    const { id, outs } = await createResource(pool, KINDS.VmInterface, { ...VMIF, owner: tapOwner, __owner: "proj/dev/VmInterface/vm1" });
    expect(pool.sent[0].args.owner).toEqual(tapOwner);
    expect(pool.sent[0].args.ownership).toEqual({ owner: "proj/dev/VmInterface/vm1", op: expect.stringMatching(UUID) });
    await deleteResource(pool, KINDS.VmInterface, id, outs);
    expect(pool.sent[1]).toEqual({ op: "vmif.remove", args: { name: "vm1", ownership: { owner: "proj/dev/VmInterface/vm1" } } });
  });

  test("update of an owned resource converges without adopt, with the owner and a new op", async () => {
    const pool = requester({ "xdp.apply": () => shown });
    await updateResource(pool, KINDS.XdpProgram, "hv1/xdp//uplink0/", { ...XDP, ...shown, op: "00000000-0000-4000-8000-000000000000" }, { ...XDP, program: "pass" });
    expect(pool.sent[0].args).toMatchObject({ program: "pass", adopt: false, ownership: { owner: OWNER, op: expect.stringMatching(UUID) } });
    expect(pool.sent[0].args.ownership.op).not.toBe("00000000-0000-4000-8000-000000000000");
  });

  test("update of a renamed resource (alias: a new owner string) takes its object over and records the new name", async () => {
    const pool = requester({ "xdp.apply": () => shown });
    await updateResource(pool, KINDS.XdpProgram, "hv1/xdp//uplink0/", { ...XDP, ...shown }, { ...XDP, __owner: "proj/dev/XdpProgram/renamed" });
    expect(pool.sent[0].args).toMatchObject({ adopt: true, ownership: { owner: "proj/dev/XdpProgram/renamed" } });
  });

  test("update of a state from before owners were recorded takes the object over (adopt) and records the owner", async () => {
    const pool = requester({ "xdp.apply": () => shown });
    const { __owner: _, ...oldState } = XDP;
    await updateResource(pool, KINDS.XdpProgram, "hv1/xdp//uplink0/", { ...oldState, ...shown }, { ...XDP, program: "pass" });
    expect(pool.sent[0].args).toMatchObject({ adopt: true, ownership: { owner: OWNER } });
  });

  test("delete sends the owner; another owner's object is left and the delete says whose it is", async () => {
    const warn = jest.spyOn(console, "warn").mockImplementation(() => undefined);
    try {
      const pool = requester({ "xdp.remove": () => ({ removed: false, owner: "proj/prod/XdpProgram/uplink" }) });
      const r = await deleteResource(pool, KINDS.XdpProgram, "hv1/xdp//uplink0/", { ...XDP, ...shown });
      expect(pool.sent[0].args).toEqual({ device: "uplink0", pinDir: "/sys/fs/bpf/hvnet/xdp/root/uplink0", ownership: { owner: OWNER } });
      expect(r).toEqual({ keptFor: "proj/prod/XdpProgram/uplink" });
      expect(warn.mock.calls[0][0]).toContain("hv1/xdp//uplink0/ was left on the host: it is owned by proj/prod/XdpProgram/uplink");
    } finally {
      warn.mockRestore();
    }
  });
});
