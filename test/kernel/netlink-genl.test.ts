// Generic netlink (family lookup, the netdev family) against the real kernel, on a veth in
// a scratch namespace. Witnesses: `genl ctrl get`, /sys/class/net/*/queues.
import { execFileSync } from "node:child_process";
import { requireCommand, requireRoot } from "../support/require-root";
import { ScratchNetns, createScratchNetns } from "../support/scratch-netns";
import { RtNetlink } from "../../provider/helper/kernel/netlink/rtnetlink";
import { GenlClient } from "../../provider/helper/kernel/netlink/genetlink";
import { NETDEV_CMD, NetdevGenl, queueCreateAttrs } from "../../provider/helper/kernel/netlink/netdev-genl";
import { NetlinkError } from "../../provider/helper/kernel/netlink/codec";
import { KernelError } from "../../provider/helper/kernel/errors";

let ns: ScratchNetns | undefined;
let rt: RtNetlink | undefined;
let genl: GenlClient | undefined;
let ifindex = 0;

beforeAll(() => {
  requireRoot();
  requireCommand("ip");
  requireCommand("genl");
  ns = createScratchNetns("genl");
  rt = RtNetlink.open({ netns: ns.name });
  genl = GenlClient.open({ netns: ns.name });
  rt.createVeth({ name: "gv0", numRxQueues: 3, numTxQueues: 2, peer: { name: "gv1" } });
  ifindex = rt.getLink("gv0").ifindex;
});

afterAll(() => {
  genl?.close();
  rt?.close();
  ns?.remove();
});

/** `genl ctrl get name X`: the family id and the command ids it lists. */
function genlWitness(name: string): { id: number; ops: number[] } {
  const out = execFileSync("genl", ["ctrl", "get", "name", name], { encoding: "utf8" });
  const id = Number(/ID:\s*(0x[0-9a-f]+)/i.exec(out)![1]);
  const commands = out.split(/multicast groups:/)[0];
  const ops = [...commands.matchAll(/#\d+:\s+ID-(0x[0-9a-f]+)/gi)].map((m) => Number(m[1]));
  return { id, ops };
}

function caught(fn: () => unknown): KernelError {
  try {
    fn();
  } catch (e) {
    if (e instanceof KernelError) return e;
    throw e;
  }
  throw new Error("expected the kernel to refuse");
}

describe("generic netlink families (real kernel)", () => {
  test.each(["ethtool", "netdev"])("looks up %s like genl ctrl does", (name) => {
    const fam = genl!.family(name);
    const seen = genlWitness(name);
    expect(fam.name).toBe(name);
    expect(fam.id).toBe(seen.id);
    expect([...fam.ops.keys()].sort((x, y) => x - y)).toEqual(seen.ops.sort((x, y) => x - y));
    expect(fam.version).toBeGreaterThanOrEqual(1);
  });

  test("an unknown family is ENOENT; a name longer than GENL_NAMSIZ is EINVAL", () => {
    expect(caught(() => genl!.family("hvnet-nofam")).code).toBe("ENOENT");
    expect(() => execFileSync("genl", ["ctrl", "get", "name", "hvnet-nofam"], { stdio: "pipe" })).toThrow(/No such file/);
    expect(caught(() => genl!.family("hvnet-no-such-family")).code).toBe("EINVAL");
  });
});

describe("netdev family on a veth (real kernel)", () => {
  test("dev-get reports veth's XDP features", () => {
    const nd = new NetdevGenl(genl!);
    const dev = nd.devGet(ifindex);
    expect(dev.ifindex).toBe(ifindex);
    // drivers/net/veth.c: xdp_set_features_flag(dev, NETDEV_XDP_ACT_BASIC | REDIRECT | RX_SG)
    expect(dev.xdpFeatures).toEqual(expect.arrayContaining(["basic", "redirect", "rx-sg"]));
    expect(dev.xdpRxMetadataFeatures).toEqual(expect.arrayContaining(["timestamp", "hash"]));
    const dumped = nd.devDump().find((d) => d.ifindex === ifindex);
    expect(dumped?.xdpFeaturesRaw).toBe(dev.xdpFeaturesRaw);
  });

  test("queue-get: nothing while down, then the queues sysfs lists", () => {
    const nd = new NetdevGenl(genl!);
    expect(nd.queueDump(ifindex)).toEqual([]);
    expect(caught(() => nd.queueGet(ifindex, "rx", 0)).code).toBe("ENOENT");
    rt!.setUp("gv0");
    rt!.setUp("gv1");
    const queues = nd.queueDump(ifindex);
    const sys = ns!.exec("ls", ["/sys/class/net/gv0/queues"]).split(/\s+/).filter(Boolean);
    const fmt = (t: string, ids: number[]) => ids.map((i) => `${t}-${i}`);
    expect([
      ...fmt("rx", queues.filter((q) => q.type === "rx").map((q) => q.id)),
      ...fmt("tx", queues.filter((q) => q.type === "tx").map((q) => q.id)),
    ].sort()).toEqual(sys.sort());
    expect(queues.every((q) => q.ifindex === ifindex && q.lease === undefined)).toBe(true);
    expect(nd.queueGet(ifindex, "rx", 2)).toMatchObject({ id: 2, type: "rx", ifindex });
  });

  test("queue-create is absent from this kernel: the op list says so and the kernel refuses it", () => {
    const nd = new NetdevGenl(genl!);
    expect(nd.hasOp("queue-create")).toBe(genlWitness("netdev").ops.includes(NETDEV_CMD["queue-create"]));
    expect(nd.hasOp("queue-create")).toBe(false);
    const ours = caught(() => nd.queueCreate({ ifindex, type: "rx", lease: { ifindex: rt!.getLink("gv1").ifindex, queue: { id: 1, type: "rx" } } }));
    expect(ours.code).toBe("EOPNOTSUPP");
    expect(ours.kernelMessage).toMatch(/7\.1/);
    // Sent anyway, the kernel's generic netlink refuses the unknown command.
    const raw = caught(() =>
      genl!.request(nd.family, NETDEV_CMD["queue-create"], queueCreateAttrs({ ifindex, type: "rx", lease: { ifindex: 1, queue: { id: 0, type: "rx" } } }), {
        op: "netdev queue-create",
      }),
    );
    expect(raw).toBeInstanceOf(NetlinkError);
    expect(raw.code).toBe("EOPNOTSUPP");
  });
});
