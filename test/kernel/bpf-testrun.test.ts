// BpfProgram.testRun against the real kernel: actions and output bytes of XDP programs on
// a 64-byte frame, the xdp_md context, and live-frames mode redirecting through a devmap
// (with a devmap program) to a veth whose peer drops in XDP. Witnesses: ethtool -S on the
// peer and the programs' own per-CPU counters.
import { BpfObject } from "../../provider/helper/kernel/bpf/object";
import { BPF_F_TEST_XDP_LIVE_FRAMES, xdpMd } from "../../provider/helper/kernel/bpf/prog";
import { BpfLink } from "../../provider/helper/kernel/bpf/link";
import { encodeDevmapValue, encodeU32Key } from "../../provider/helper/kernel/bpf/devmap";
import { inNetns } from "../../provider/helper/kernel/netns";
import { KernelError } from "../../provider/helper/kernel/errors";
import { requireCommand, requireRoot } from "../support/require-root";
import { createScratchNetns, ScratchNetns } from "../support/scratch-netns";
import { buildFixture } from "../fixtures/bpf/build";
import { ethtoolStats, vethPair } from "../fixtures/bpf/support";
import { thrown } from "../support/thrown";

const XDP_DROP = 1;
const XDP_PASS = 2;
const XDP_TX = 3;
const XDP_REDIRECT = 4;

const DST = Buffer.from("020000000001", "hex");
const SRC = Buffer.from("020000000002", "hex");

/** 64-byte untagged IPv4-typed frame with a recognisable payload. */
function frame(): Buffer {
  const f = Buffer.alloc(64);
  DST.copy(f, 0);
  SRC.copy(f, 6);
  f.writeUInt16BE(0x0800, 12);
  for (let i = 14; i < 64; i++) f[i] = i;
  return f;
}


describe("BpfProgram.testRun (real kernel)", () => {
  let obj: BpfObject;
  let ns: ScratchNetns | undefined;
  const links: BpfLink[] = [];

  /** Sum over CPUs of counters[idx] (the fixture's per-CPU u64 array). */
  function counter(idx: number): bigint {
    const v = obj.map("counters").lookup(encodeU32Key(idx))!;
    let sum = 0n;
    for (let off = 0; off < v.length; off += 8) sum += v.readBigUInt64LE(off);
    return sum;
  }

  beforeAll(() => {
    requireRoot();
    requireCommand("ethtool");
    obj = BpfObject.open(buildFixture("xdp_test"));
    obj.load();
  });
  afterEach(() => {
    for (const l of links.splice(0)) l.close();
    ns?.remove();
    ns = undefined;
  });
  afterAll(() => obj?.close());

  test("two programs, two actions; repeat runs the program that many times", () => {
    const before = counter(0);
    const pass = obj.program("xdp_pass_count").testRun({ data: frame(), repeat: 10 });
    expect(pass.retval).toBe(XDP_PASS);
    expect(pass.data).toEqual(frame());
    expect(counter(0) - before).toBe(10n);
    expect(pass.durationNs).toBeGreaterThanOrEqual(0);
    const drop = obj.program("xdp_drop_count").testRun({ data: frame() });
    expect(drop.retval).toBe(XDP_DROP);
  });

  test("the output bytes are the rewritten frame (MACs swapped, XDP_TX)", () => {
    const r = obj.program("xdp_swap_tx").testRun({ data: frame() });
    expect(r.retval).toBe(XDP_TX);
    const want = frame();
    SRC.copy(want, 0);
    DST.copy(want, 6);
    expect(r.data).toEqual(want);
    // The kernel refuses test frames shorter than an Ethernet header.
    expect(thrown(() => obj.program("xdp_swap_tx").testRun({ data: Buffer.alloc(13) }))).toMatchObject({ code: "EINVAL" });
  });

  test("FDB lookup: a miss passes, a hit on a port missing from the devmap drops", () => {
    const fwd = obj.program("xdp_fwd");
    const fdb = obj.map("fdb");
    const key = Buffer.concat([Buffer.alloc(2), DST]);
    expect(fwd.testRun({ data: frame() }).retval).toBe(XDP_PASS);
    fdb.update(key, encodeU32Key(4242));
    try {
      // bpf_redirect_map's fallback action (XDP_DROP) when the key is not in the devmap.
      expect(fwd.testRun({ data: frame() }).retval).toBe(XDP_DROP);
    } finally {
      fdb.delete(key);
    }
  });

  test("ctxIn xdp_md picks the ingress device; unknown devices and queues are refused", () => {
    ns = createScratchNetns("bpfrun");
    const idx = vethPair(ns, "ra", "rb");
    const pass = obj.program("xdp_pass_count");
    const r = inNetns(ns.name, () => pass.testRun({ data: frame(), ctxIn: xdpMd(idx.a, 0) }));
    expect(r.retval).toBe(XDP_PASS);
    const noDev = thrown(() => inNetns(ns!.name, () => pass.testRun({ data: frame(), ctxIn: xdpMd(987654, 0) })));
    expect(noDev).toBeInstanceOf(KernelError);
    expect((noDev as KernelError).code).toBe("ENODEV");
    const noQueue = thrown(() => inNetns(ns!.name, () => pass.testRun({ data: frame(), ctxIn: xdpMd(idx.a, 999) })));
    expect((noQueue as KernelError).code).toBe("EINVAL");
  });

  test("live frames: redirected through the devmap (and its program) to a veth whose peer drops them in XDP", () => {
    ns = createScratchNetns("bpflive");
    const idx = vethPair(ns, "la", "lb");
    const fwd = obj.program("xdp_fwd");
    const acl = obj.program("devmap_acl");
    const fdbKey = Buffer.concat([Buffer.alloc(2), DST]);
    const n = 20000;

    inNetns(ns.name, () => {
      // The peer needs an XDP program for redirected frames to be received at all.
      links.push(BpfLink.attachXdp(obj.program("xdp_drop_count"), idx.b, "native"));
      obj.map("ports").update(encodeU32Key(idx.a), encodeDevmapValue(idx.a, acl.fd));
    });
    obj.map("fdb").update(fdbKey, encodeU32Key(idx.a));
    // Without live frames the verdict comes back and nothing is sent.
    expect(fwd.testRun({ data: frame() }).retval).toBe(XDP_REDIRECT);
    const before = { stats: ethtoolStats(ns, "lb"), drop: counter(1), acl: counter(2), fwd: counter(3) };

    let r;
    try {
      r = inNetns(ns.name, () =>
        fwd.testRun({ data: frame(), repeat: n, flags: BPF_F_TEST_XDP_LIVE_FRAMES, batchSize: 64 }),
      );
    } finally {
      obj.map("fdb").delete(fdbKey);
      obj.map("ports").delete(encodeU32Key(idx.a));
    }
    expect(r.data).toHaveLength(0); // live mode has no data_out

    // Delivery is processed in softirq as each batch is flushed; give it a moment anyway.
    let stats = ethtoolStats(ns, "lb");
    const deadline = Date.now() + 2000;
    while (stats["rx_queue_0_xdp_drops"] - before.stats["rx_queue_0_xdp_drops"] < n && Date.now() < deadline) {
      stats = ethtoolStats(ns, "lb");
    }
    expect(stats["rx_queue_0_xdp_packets"] - before.stats["rx_queue_0_xdp_packets"]).toBe(n);
    expect(stats["rx_queue_0_xdp_drops"] - before.stats["rx_queue_0_xdp_drops"]).toBe(n);
    expect(counter(3) - before.fwd).toBe(BigInt(n)); // forwarded by xdp_fwd
    expect(counter(2) - before.acl).toBe(BigInt(n)); // the devmap program ran on each
    expect(counter(1) - before.drop).toBe(BigInt(n)); // and the peer's program dropped each

    const mpps = r.durationNs > 0 ? 1000 / r.durationNs : Infinity;
    console.log(`[bpf-testrun] live frames: ${n} frames, ${r.durationNs} ns/frame (~${mpps.toFixed(2)} Mpps), all delivered`);
  });
});
