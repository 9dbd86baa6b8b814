// BpfMap against the real kernel: element ops, batches (timed), dumps, a full map, per-CPU
// values, devmap entries carrying a devmap program, and pins. Witness: bpftool -j.
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { BpfObject } from "../../provider/helper/kernel/bpf/object";
import { BpfMap, BPF_EXIST, BPF_NOEXIST, possibleCpus } from "../../provider/helper/kernel/bpf/map";
import { decodeDevmapValue, encodeDevmapValue, encodeU32Key } from "../../provider/helper/kernel/bpf/devmap";
import { batchOpts, libbpf } from "../../provider/helper/kernel/bpf/internal/libbpf";
import { AttachType } from "../../provider/helper/kernel/bpf/internal/attr";
import { removePin } from "../../provider/helper/kernel/bpf/pin";
import { inNetns } from "../../provider/helper/kernel/netns";
import { KernelError } from "../../provider/helper/kernel/errors";
import { requireCommand, requireRoot } from "../support/require-root";
import { createScratchNetns, ScratchNetns } from "../support/scratch-netns";
import { buildFixture } from "../fixtures/bpf/build";
import { bpftoolJson, mountTestBpffs, TestBpffs, vethPair } from "../fixtures/bpf/support";
import { thrown } from "../support/thrown";


/** struct fdb_key { __u16 vlan; __u8 mac[6]; } of the fixture, for entry i. */
function fdbKey(i: number, vlan = 0): Buffer {
  const k = Buffer.alloc(8);
  k.writeUInt16LE(vlan, 0);
  k.writeUInt8(0x02, 2); // locally administered
  k.writeUIntBE(i, 3, 5);
  return k;
}
function u32(n: number): Buffer {
  return encodeU32Key(n);
}

describe("BpfMap (real kernel)", () => {
  let obj: BpfObject;
  let fs: TestBpffs | undefined;
  let ns: ScratchNetns | undefined;
  const opened: Array<{ close(): void }> = [];

  beforeAll(() => {
    requireRoot();
    requireCommand("bpftool");
    fs = mountTestBpffs();
    obj = BpfObject.open(buildFixture("xdp_test"));
    obj.load();
  });
  afterEach(() => {
    for (const o of opened.splice(0)) o.close();
    ns?.remove();
    ns = undefined;
  });
  afterAll(() => {
    obj?.close();
    fs?.cleanup();
  });

  test("hash map: update / lookup / delete and the NOEXIST / EXIST flags", () => {
    const fdb = obj.map("fdb");
    expect(fdb.lookup(fdbKey(1))).toBeUndefined();
    fdb.update(fdbKey(1), u32(10));
    expect(fdb.lookup(fdbKey(1))).toEqual(u32(10));
    expect(thrown(() => fdb.update(fdbKey(1), u32(11), BPF_NOEXIST))).toMatchObject({ code: "EEXIST" });
    expect(thrown(() => fdb.update(fdbKey(2), u32(11), BPF_EXIST))).toMatchObject({ code: "ENOENT" });
    fdb.update(fdbKey(1), u32(12), BPF_EXIST);
    expect(fdb.lookup(fdbKey(1))).toEqual(u32(12));
    const dump = bpftoolJson<Array<{ key: string[]; value: string[] }>>("map", "dump", "id", String(fdb.info().id));
    expect(dump).toHaveLength(1);
    expect(fdb.delete(fdbKey(1))).toBe(true);
    expect(fdb.delete(fdbKey(1))).toBe(false);
    expect(fdb.lookup(fdbKey(1))).toBeUndefined();
    expect(() => fdb.update(Buffer.alloc(4), u32(1))).toThrow(RangeError);
  });

  test("10,000 entries in one update_batch, dumped by entries(), removed by delete_batch (timed)", () => {
    const fdb = obj.map("fdb");
    const n = 10000;
    const keys = Array.from({ length: n }, (_, i) => fdbKey(i + 100));
    const values = keys.map((_, i) => u32(i + 1));

    const t0 = process.hrtime.bigint();
    fdb.updateBatch(keys, values);
    const batchMs = Number(process.hrtime.bigint() - t0) / 1e6;

    // Again on the now-warm path (the first call pays for JIT and koffi warm-up): empty
    // the map, insert anew, then overwrite every entry one update at a time.
    fdb.deleteBatch(keys);
    const tw = process.hrtime.bigint();
    fdb.updateBatch(keys, values);
    const warmMs = Number(process.hrtime.bigint() - tw) / 1e6;

    const t1 = process.hrtime.bigint();
    for (let i = 0; i < n; i++) fdb.update(keys[i], values[i]);
    const singleSec = Number(process.hrtime.bigint() - t1) / 1e9;
    const rate = Math.round(n / singleSec);

    const entries = fdb.entries();
    expect(entries).toHaveLength(n);
    const seen = new Map(entries.map(([k, v]) => [k.toString("hex"), v.readUInt32LE(0)]));
    keys.forEach((k, i) => expect(seen.get(k.toString("hex"))).toBe(i + 1));
    const dumped = bpftoolJson<unknown[]>("map", "dump", "id", String(fdb.info().id));
    expect(dumped).toHaveLength(n);

    // Two absent keys in the middle: skipped, not fatal.
    const toDelete = [...keys.slice(0, 5000), fdbKey(999999), ...keys.slice(5000), fdbKey(999998)];
    expect(fdb.deleteBatch(toDelete)).toBe(n);
    expect(fdb.entries()).toHaveLength(0);

    console.log(
      `[bpf-map] update_batch of ${n} entries: ${batchMs.toFixed(2)} ms first call, ${warmMs.toFixed(2)} ms warm; ` +
        `single bpf_map_update_elem: ${rate} updates/s (${n} in ${(singleSec * 1000).toFixed(1)} ms)`,
    );
    expect(batchMs).toBeGreaterThan(0);
  });

  test("a full hash map refuses updates with E2BIG; a batch says how many went in", () => {
    const tiny = obj.map("tiny");
    for (let i = 0; i < 4; i++) tiny.update(u32(i), u32(i));
    const err = thrown(() => tiny.update(u32(4), u32(4)));
    expect(err).toBeInstanceOf(KernelError);
    expect((err as KernelError).code).toBe("E2BIG");
    tiny.deleteBatch([u32(0), u32(1), u32(2), u32(3)]);
    const batchErr = thrown(() => tiny.updateBatch([10, 11, 12, 13, 14, 15].map(u32), [10, 11, 12, 13, 14, 15].map(u32)));
    expect(batchErr).toMatchObject({ code: "E2BIG" });
    expect((batchErr as Error).message).toMatch(/4 of 6 applied/);
    expect(tiny.entries()).toHaveLength(4);
    expect(tiny.deleteBatch([10, 11, 12, 13].map(u32))).toBe(4);
  });

  test("per-CPU array: a value is possibleCpus() slots of roundup(8) bytes", () => {
    const counters = obj.map("counters");
    const possible = readFileSync("/sys/devices/system/cpu/possible", "utf8").trim();
    const expectCpus = possible
      .split(",")
      .map((r) => r.split("-").map(Number))
      .reduce((n, [a, b]) => n + (b === undefined ? 1 : b - a + 1), 0);
    expect(possibleCpus()).toBe(expectCpus);
    expect(counters.valueBufferSize).toBe(expectCpus * 8);
    const value = Buffer.alloc(expectCpus * 8);
    for (let c = 0; c < expectCpus; c++) value.writeBigUInt64LE(BigInt(1000 + c), c * 8);
    counters.update(u32(3), value);
    expect(counters.lookup(u32(3))).toEqual(value);
    const shown = bpftoolJson<{ formatted: { key: number; values: Array<{ cpu: number; value: number }> } }>(
      "map",
      "lookup",
      "id",
      String(counters.info().id),
      "key",
      "3",
      "0",
      "0",
      "0",
    );
    expect(shown.formatted.key).toBe(3);
    expect(shown.formatted.values).toEqual(Array.from({ length: expectCpus }, (_, c) => ({ cpu: c, value: 1000 + c })));
    const all = counters.entries(); // lookup_batch on an array: every slot, per-CPU sized
    expect(all.map(([k, v]) => [k.readUInt32LE(0), v.length])).toEqual([0, 1, 2, 3].map((i) => [i, expectCpus * 8]));
    expect(all[3][1]).toEqual(value);
    expect(() => counters.update(u32(0), Buffer.alloc(8 * expectCpus + 8))).toThrow(RangeError);
    counters.update(u32(3), Buffer.alloc(expectCpus * 8));
  });

  test("devmap entry with a devmap program: written with its fd, read back with its id", () => {
    ns = createScratchNetns("bpfmap");
    const idx = vethPair(ns, "dm0", "dm1");
    const ports = obj.map("ports");
    const acl = obj.program("devmap_acl");
    const aclId = acl.info().id;
    // Devmap entries resolve ifindexes in the writer's network namespace.
    inNetns(ns.name, () => {
      ports.update(u32(idx.a), encodeDevmapValue(idx.a, acl.fd));
      ports.update(u32(idx.b), encodeDevmapValue(idx.b));
    });
    expect(decodeDevmapValue(ports.lookup(u32(idx.a))!)).toEqual({ ifindex: idx.a, progId: aclId });
    expect(decodeDevmapValue(ports.lookup(u32(idx.b))!)).toEqual({ ifindex: idx.b });
    // bpftool prints devmap entries as raw bytes (no BTF formatting for devmaps).
    const dump = bpftoolJson<Array<{ key: string[]; value: string[] }>>("map", "dump", "id", String(ports.info().id));
    const bytes = (hex: string[]) => Buffer.from(hex.map((h) => parseInt(h, 16)));
    const byKey = new Map(dump.map((e) => [bytes(e.key).readUInt32LE(0), bytes(e.value)]));
    expect(byKey.size).toBe(2);
    expect([byKey.get(idx.a)!.readUInt32LE(0), byKey.get(idx.a)!.readUInt32LE(4)]).toEqual([idx.a, aclId]);
    expect([byKey.get(idx.b)!.readUInt32LE(0), byKey.get(idx.b)!.readUInt32LE(4)]).toEqual([idx.b, 0]);

    // A program loaded for the XDP hook (expected attach type BPF_XDP) is refused in a devmap.
    const plain = obj.program("xdp_pass_count");
    expect(thrown(() => inNetns(ns!.name, () => ports.update(u32(idx.a), encodeDevmapValue(idx.a, plain.fd))))).toMatchObject({
      code: "EINVAL",
    });
    // An ifindex that does not exist in the writer's namespace is refused too.
    expect(thrown(() => inNetns(ns!.name, () => ports.update(u32(idx.a), encodeDevmapValue(987654))))).toMatchObject({
      code: "EINVAL",
    });

    // Devmaps have no batch ops: the kernel says ENOTSUPP (524), and updateBatch falls back.
    const count = [1];
    const raw = libbpf.map_update_batch(ports.fd, u32(idx.a), encodeDevmapValue(idx.a), count, batchOpts(0)) as number;
    expect(raw).toBe(-524);
    inNetns(ns.name, () => ports.updateBatch([u32(idx.a), u32(idx.b)], [encodeDevmapValue(idx.a), encodeDevmapValue(idx.b, acl.fd)]));
    const entries = new Map(ports.entries().map(([k, v]) => [k.readUInt32LE(0), decodeDevmapValue(v)]));
    expect(entries.get(idx.a)).toEqual({ ifindex: idx.a });
    expect(entries.get(idx.b)).toEqual({ ifindex: idx.b, progId: aclId });
    expect(ports.deleteBatch([u32(idx.a), u32(idx.b), u32(999)])).toBe(2);
    expect(ports.entries()).toHaveLength(0);
  });

  test("setExpectedAttachType before load: an XDP-section program retargeted to BPF_XDP_DEVMAP is accepted in a devmap", () => {
    ns = createScratchNetns("bpfmap");
    const idx = vethPair(ns, "dx0", "dx1");
    const other = BpfObject.open(buildFixture("xdp_test"));
    opened.push(other);
    const prog = other.program("xdp_drop_count");
    expect(prog.expectedAttachType).toBe(AttachType.XDP);
    prog.setExpectedAttachType(AttachType.XDP_DEVMAP);
    expect(prog.expectedAttachType).toBe(AttachType.XDP_DEVMAP);
    other.load();
    const ports = other.map("ports");
    inNetns(ns.name, () => ports.update(u32(idx.a), encodeDevmapValue(idx.a, prog.fd)));
    expect(decodeDevmapValue(ports.lookup(u32(idx.a))!)).toEqual({ ifindex: idx.a, progId: prog.info().id });
    // Its sibling kept BPF_XDP and is refused as before.
    const sibling = other.program("xdp_pass_count");
    expect(thrown(() => inNetns(ns!.name, () => ports.update(u32(idx.b), encodeDevmapValue(idx.b, sibling.fd))))).toMatchObject({
      code: "EINVAL",
    });
  });

  test("pins: parent dirs created inside bpffs, fromPin/fromId see the same map, pins outside bpffs are refused", () => {
    const fdb = obj.map("fdb");
    const pin = join(fs!.root, "hvnet", "node1", "fdb");
    fdb.pin(pin);
    expect(thrown(() => fdb.pin(pin))).toMatchObject({ code: "EEXIST" });
    const viaPin = BpfMap.fromPin(pin);
    opened.push(viaPin);
    expect(viaPin.info()).toEqual(fdb.info());
    expect([viaPin.name, viaPin.type, viaPin.keySize, viaPin.valueSize, viaPin.maxEntries]).toEqual(["fdb", 1, 8, 4, 16384]);
    viaPin.update(fdbKey(7), u32(70));
    expect(fdb.lookup(fdbKey(7))).toEqual(u32(70));
    const viaId = BpfMap.fromId(fdb.info().id);
    opened.push(viaId);
    expect(viaId.lookup(fdbKey(7))).toEqual(u32(70));
    expect(viaId.delete(fdbKey(7))).toBe(true);

    const outside = thrown(() => fdb.pin("/tmp/hvt-not-bpffs/fdb"));
    expect(outside).toMatchObject({ code: "EPERM" });
    expect((outside as Error).message).toMatch(/not inside a bpffs/);
    expect(removePin(pin)).toBe(true);
    expect(removePin(pin)).toBe(false);
    expect(thrown(() => BpfMap.fromPin(pin))).toMatchObject({ code: "ENOENT" });
  });
});
