// The runtime's CRUD over a recording requester (no host): which helper ops it sends,
// the ids it forms, and the "initialization failed" path for partly created objects.
import { KINDS } from "../../provider/resources";
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

const VMIF = { host: HOST, name: "vm1", queues: 2, vcpus: 1, mac: "52:54:00:00:00:01", addresses: ["10.0.0.2"], offloads: false, adopt: false };

test("create sends the inputs without host and forms a self-describing id", async () => {
  const pool = requester({ "vmif.apply": () => ({ ifindex: 7, queues: 2, qemuArgs: [], libvirtXml: "" }) });
  const { id, outs } = await createResource(pool, KINDS.VmInterface, VMIF);
  expect(id).toBe("hv1/vmif//vm1");
  expect(pool.sent).toEqual([{ op: "vmif.apply", args: { name: "vm1", queues: 2, vcpus: 1, mac: "52:54:00:00:00:01", addresses: ["10.0.0.2"], offloads: false, adopt: false } }]);
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
