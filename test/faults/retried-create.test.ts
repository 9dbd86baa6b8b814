// Fault: the SSH session dies after the helper made the object and before its answer
// arrived. The transport retries the request on a new connection and a new helper, with
// the same args (the same operation id); the retry must converge on what the first
// attempt made: one object, one owner record, the op of the request that made it.
//
// XdpProgram and VmInterface against a lab host through real sshd, with a TCP proxy in
// front of it that holds the server's bytes and then cuts the connection. RssContext and
// NetkitLower need a NIC and a kernel this machine lacks: their retries are shown
// against the test doubles of the ethtool ioctl and netlink.
import * as fs from "node:fs";
import * as path from "node:path";
import type { LabHost } from "../support/lab";
import { startTcpProxy, TcpProxy } from "./support/tcp-proxy";
import { HostSpec } from "../../provider/transport/host-spec";
import { KINDS } from "../../provider/kinds";
import { requireValidInputs } from "../../provider/runtime/check";
import { createResource, deleteResource } from "../../provider/runtime/operations";
import { HostRequester } from "../../provider/runtime/requester";
import { FakeEthtoolNic } from "../support/fake-ethtool";
import { privateStateDir } from "../support/private-state";
import { FakeNetlinkKernel } from "../support/fake-netlink";
import { NETLINK_GENERIC, NETLINK_ROUTE, NetlinkClient } from "../../provider/helper/kernel/netlink/socket";
import { RtNetlink } from "../../provider/helper/kernel/netlink/rtnetlink";
import { GenlClient } from "../../provider/helper/kernel/netlink/genetlink";
import { NETDEV_CMD, NetdevGenl } from "../../provider/helper/kernel/netlink/netdev-genl";
import { InputReader } from "../../provider/common/validate/reader";
import { readRssArgs } from "../../provider/common/args/rss";
import { readNetkitArgs } from "../../provider/common/args/netkit";
import { connectionOf, labWithPool } from "../support/runtime";

const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/;
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

describe("SSH dies with the create in flight (lab host, real sshd)", () => {
  const env = labWithPool(1);
  let host: LabHost;
  let proxy: TcpProxy;
  let spec: HostSpec;
  /** Every request the runtime sent, in order: the retry resends what was recorded here. */
  const sent: { op: string; args: any }[] = [];
  const recording: HostRequester = {
    request(h, op, args) {
      sent.push({ op, args });
      return env.pool.request(h, op, args);
    },
  };

  const hostJson = (...args: string[]): any => JSON.parse(env.lab.hostExec(host.name, args[0], args.slice(1)) || "[]");
  const hostFile = (p: string): string | undefined => {
    try {
      return env.lab.hostExec(host.name, "cat", [p]);
    } catch {
      return undefined;
    }
  };
  const registry = (kind: string, key: string) => `/run/hvnet/registry/${kind}/${encodeURIComponent(key)}.json`;

  async function until(what: string, check: () => boolean, ms = 20000): Promise<void> {
    const end = Date.now() + ms;
    while (!check()) {
      if (Date.now() > end) throw new Error(`timed out waiting until ${what}`);
      await sleep(50);
    }
  }

  /**
   * Starts `create`, lets the host make the object while its answer is held, then cuts
   * the connection: the first attempt's work is done, its answer lost.
   */
  async function createThroughCut<T>(create: () => Promise<T>, made: () => boolean): Promise<T> {
    await env.pool.request(spec, "hello", {}); // connection and helper up before the fault
    const before = env.pool.stats(spec)!;
    proxy.holdReplies();
    const pending = create();
    pending.catch(() => undefined); // awaited below; the cut must not surface it early
    await until("the host made the object", made);
    proxy.cutAll();
    const out = await pending;
    const after = env.pool.stats(spec)!;
    // It really went through the fault: one retry, on a new connection and a new helper.
    expect(after.retries - before.retries).toBe(1);
    expect(after.dials - before.dials).toBe(1);
    expect(after.helperStarts - before.helperStarts).toBe(1);
    return out;
  }

  beforeAll(async () => {
    host = env.lab.inventory.hosts[0];
    proxy = await startTcpProxy({ address: host.address, port: host.port });
    spec = connectionOf(host, { address: "127.0.0.1", port: proxy.port });
  });

  afterAll(() => proxy?.close());

  beforeEach(() => {
    sent.length = 0;
  });

  test("XdpProgram: the retry converges on the attachment the first attempt made", async () => {
    const owner = "hvt/retry/XdpProgram/uplink";
    const pinDir = "/sys/fs/bpf/hvnet/xdp/root/uplink0";
    const inputs = { ...requireValidInputs(KINDS.XdpProgram, { host: spec, device: "uplink0", program: "l2fwd" }), __owner: owner };
    const { id, outs } = await createThroughCut(
      () => createResource(recording, KINDS.XdpProgram, inputs),
      () => hostFile(registry("xdp", pinDir)) !== undefined,
    );
    // One request from the runtime; the transport resent it, so one op.
    expect(sent.map((s) => s.op)).toEqual(["xdp.apply"]);
    const op = sent[0].args.ownership.op;
    expect(op).toMatch(UUID);

    expect(id).toBe(`${host.name}/xdp//uplink0/`);
    const [link] = hostJson("ip", "-j", "-d", "link", "show", "dev", "uplink0");
    expect(link.xdp.prog.id).toBe(outs.programId);
    // bpf links are global (other labs' too): the host's own witness is its bpffs.
    expect(hostJson("bpftool", "-j", "link", "show", "pinned", `${pinDir}/link`).id).toBe(outs.linkId);
    const pins = env.lab.hostExec(host.name, "find", ["/sys/fs/bpf/hvnet", "-type", "f", "-name", "link"]).trim().split("\n");
    expect(pins).toEqual([`${pinDir}/link`]);
    expect(JSON.parse(hostFile(registry("owners/xdp", pinDir))!)).toEqual({ owner, op, since: expect.any(String) });
    expect(env.lab.hostExec(host.name, "ls", ["/run/hvnet/registry/owners/xdp"]).trim().split("\n")).toHaveLength(1);

    await deleteResource(env.pool, KINDS.XdpProgram, id, outs);
    expect(hostJson("ip", "-j", "-d", "link", "show", "dev", "uplink0")[0].xdp).toBeUndefined();
    expect(hostFile(registry("owners/xdp", pinDir))).toBeUndefined();
  });

  test("VmInterface: the retry converges on the tap the first attempt made", async () => {
    const owner = "hvt/retry/VmInterface/vm9";
    const inputs = {
      ...requireValidInputs(KINDS.VmInterface, { host: spec, name: "vm9", vcpus: 2, mac: "52:54:00:00:09:09", addresses: ["10.9.0.99"], owner: { uid: 4242, gid: 4242 } }),
      __owner: owner,
    };
    const { id, outs } = await createThroughCut(
      () => createResource(recording, KINDS.VmInterface, inputs),
      () => {
        // The last step of the apply: the tap is up.
        const links = hostJson("ip", "-j", "link", "show");
        return links.some((l: any) => l.ifname === "vm9" && l.flags.includes("UP"));
      },
    );
    expect(sent.map((s) => s.op)).toEqual(["vmif.apply"]);
    const op = sent[0].args.ownership.op;
    expect(op).toMatch(UUID);

    const taps = hostJson("ip", "-j", "-d", "link", "show", "type", "tun");
    expect(taps.map((t: any) => t.ifname)).toEqual(["vm9"]);
    expect(taps[0].ifindex).toBe(outs.ifindex);
    expect(taps[0].linkinfo.info_data).toMatchObject({ type: "tap", multi_queue: true, user: 4242 });
    expect(JSON.parse(hostFile(registry("owners/vmif", "/vm9"))!)).toEqual({ owner, op, since: expect.any(String) });

    await deleteResource(env.pool, KINDS.VmInterface, id, outs);
    expect(hostJson("ip", "-j", "link", "show").map((l: any) => l.ifname)).not.toContain("vm9");
    expect(hostFile(registry("owners/vmif", "/vm9"))).toBeUndefined();
  });
});

describe("a retried rss.apply and netkit.apply against a double (test double, not the kernel)", () => {
  // The resource modules are loaded once this describe's state directory is in place.
  const state = privateStateDir("retry");
  let rss: typeof import("../../provider/helper/resources/rss");
  let netkit: typeof import("../../provider/helper/resources/netkit");
  beforeAll(() => {
    rss = require("../../provider/helper/resources/rss");
    netkit = require("../../provider/helper/resources/netkit");
  });

  const rssRecord = () => JSON.parse(fs.readFileSync(path.join(state.dir, "registry", "rss", "eth0.json"), "utf8"));

  test("a retried rss.apply (same op) reuses the context the first attempt allocated, against a double", () => {
    const nic = new FakeEthtoolNic({ driver: "mlx5_core", combined: 16, maxCombined: 32, indirSize: 128, contexts: true, ntuple: "special", contextIds: [7, 3, 12] });
    const request = { device: "eth0", queues: { start: 8, count: 4 }, flows: [{ type: "udp4", dst: "10.0.0.5", dstPort: 4789 }], ownership: { owner: "hvt/a/RssContext/vm1", op: "7c4d3a8e-0b1f-4c2a-9d3e-5f6a7b8c9d0e" } };
    const first = rss.applyRssOn(nic, readRssArgs(InputReader.of(request)));
    // The answer is lost; the transport sends the very same args again.
    const retry = rss.applyRssOn(nic, readRssArgs(InputReader.of(request)));
    expect(retry.contextId).toBe(first.contextId);
    expect(retry.ruleIds).toEqual(first.ruleIds);
    expect([...nic.contexts.keys()].sort((a, b) => a - b)).toEqual([0, first.contextId]);
    expect(nic.rules.size).toBe(1);
    expect(Object.keys(rssRecord().contexts)).toEqual([String(first.contextId)]);
    expect(rssRecord().contexts[first.contextId]).toMatchObject(request.ownership);

    // The whole `up` failed and runs again: a new op, the same resource (owner) finds it too.
    const rerun = rss.applyRssOn(nic, readRssArgs(InputReader.of({ ...request, ownership: { ...request.ownership, op: "0d9c8b7a-6f5e-4d3c-8b2a-1f0e9d8c7b6a" } })));
    expect(rerun.contextId).toBe(first.contextId);
    expect(nic.contexts.size).toBe(2);

    // Another resource asking for the same queues is still refused: the finding is by owner or op only.
    expect(() => rss.applyRssOn(nic, readRssArgs(InputReader.of({ ...request, ownership: { owner: "hvt/b/RssContext/vm2", op: "1a2b3c4d-5e6f-4a1b-8c2d-3e4f5a6b7c8d" } })))).toThrow(/overlap RSS context/);
    expect(rss.removeRssOn(nic, "eth0", first.contextId, { owner: request.ownership.owner })).toEqual({ removed: true });
  });

  test("a retried netkit.apply (same op) converges on the device the first attempt made, against a double", () => {
    const fake = new FakeNetlinkKernel({});
    fake.addNic("eth0", { rxQueues: 16 });
    const rt = new RtNetlink(new NetlinkClient(fake.transport(NETLINK_ROUTE)));
    const netdev = new NetdevGenl(new GenlClient(new NetlinkClient(fake.transport(NETLINK_GENERIC))));
    const k = { rt, target: rt, netdev, kernelRelease: "7.1.0-hvt-double" };
    const request = { name: "nk0", lowerDevice: "eth0", queues: { start: 4, count: 2 }, ownership: { owner: "hvt/a/NetkitLower/vm1", op: "2b3c4d5e-6f7a-4b8c-9d0e-1f2a3b4c5d6e" } };
    const queueCreates = () => fake.requests.filter((r) => r.protocol === NETLINK_GENERIC && r.msg.payload.readUInt8(0) === NETDEV_CMD["queue-create"]).length;

    const first = netkit.applyNetkitOn(k, readNetkitArgs(InputReader.of(request)));
    const leased = queueCreates();
    const retry = netkit.applyNetkitOn(k, readNetkitArgs(InputReader.of(request)));
    expect(retry.ifindex).toBe(first.ifindex);
    expect(retry.leases).toEqual(first.leases);
    expect(queueCreates()).toBe(leased); // read back, not leased again
    expect(netkit.removeNetkitOn(k, { name: "nk0", who: { owner: request.ownership.owner } })).toEqual({ removed: true });
  });
});
