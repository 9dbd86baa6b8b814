// BpfObject / BpfProgram against the real kernel: open and load a clang-built object,
// read program info and witness it with bpftool, carry the verifier's text on a failed
// load, reuse a map pinned by name under a private bpffs.
import { existsSync } from "node:fs";
import { join } from "node:path";
import { BpfObject } from "../../provider/helper/kernel/bpf/object";
import { BpfProgram } from "../../provider/helper/kernel/bpf/prog";
import { BpfMap } from "../../provider/helper/kernel/bpf/map";
import { AttachType, MapType, ProgType } from "../../provider/helper/kernel/bpf/internal/attr";
import { KernelError } from "../../provider/helper/kernel/errors";
import { requireCommand, requireRoot } from "../support/require-root";
import { buildFixture } from "../fixtures/bpf/build";
import { bpftoolHas, bpftoolJson, mountTestBpffs, mountsAt, TestBpffs } from "../fixtures/bpf/support";
import { ensureBpffs, isBpffs, isUnderBpffs } from "../../provider/helper/kernel/bpf/pin";
import { thrown } from "../support/thrown";


describe("BpfObject (real kernel)", () => {
  let obj: BpfObject | undefined;
  let fs: TestBpffs | undefined;
  const others: Array<{ close(): void }> = [];

  beforeAll(() => {
    requireRoot();
    requireCommand("bpftool");
    fs = mountTestBpffs();
  });
  afterEach(() => {
    for (const o of others.splice(0)) o.close();
    obj?.close();
    obj = undefined;
  });
  afterAll(() => fs?.cleanup());

  test("opens and loads the test object; programs and maps carry libbpf's view", () => {
    obj = BpfObject.open(buildFixture("xdp_test"));
    const names = obj.programs().map((p) => p.name).sort();
    expect(names).toEqual(["devmap_acl", "xdp_drop_count", "xdp_fwd", "xdp_pass_count", "xdp_swap_tx"]);
    // libbpf 1.1 derives expected_attach_type from the section: xdp/devmap → BPF_XDP_DEVMAP.
    expect(obj.program("devmap_acl").section).toBe("xdp/devmap");
    expect(obj.program("devmap_acl").expectedAttachType).toBe(AttachType.XDP_DEVMAP);
    expect(obj.program("xdp_pass_count").section).toBe("xdp");
    expect(obj.program("xdp_pass_count").expectedAttachType).toBe(AttachType.XDP);
    expect(obj.program("xdp_pass_count").type).toBe(ProgType.XDP);
    expect(() => obj!.program("xdp_pass_count").fd).toThrow(/not loaded/);

    obj.load();
    // libbpf refuses to retype a loaded program (EBUSY).
    expect(thrown(() => obj!.program("xdp_pass_count").setType(ProgType.SCHED_CLS))).toMatchObject({ code: "EBUSY" });
    const fdb = obj.map("fdb");
    expect([fdb.type, fdb.keySize, fdb.valueSize, fdb.maxEntries]).toEqual([MapType.HASH, 8, 4, 16384]);
    const ports = obj.map("ports");
    expect([ports.type, ports.keySize, ports.valueSize, ports.maxEntries]).toEqual([MapType.DEVMAP_HASH, 4, 8, 64]);
    expect(obj.maps().map((m) => m.name)).toEqual(expect.arrayContaining(["fdb", "ports", "counters", "tiny"]));
    expect(fdb.info()).toMatchObject({ name: "fdb", type: MapType.HASH, keySize: 8, valueSize: 4, maxEntries: 16384 });
  });

  test("program info matches bpftool (id, tag, type, name); different code has different tags", () => {
    obj = BpfObject.open(buildFixture("xdp_test"));
    obj.load();
    const pass = obj.program("xdp_pass_count").info();
    const drop = obj.program("xdp_drop_count").info();
    expect(pass.id).toBeGreaterThan(0);
    expect(pass.tag).toMatch(/^[0-9a-f]{16}$/);
    expect(pass.tag).not.toBe(drop.tag);
    const shown = bpftoolJson<{ id: number; tag: string; type: string; name: string }>("prog", "show", "id", String(pass.id));
    expect(shown).toMatchObject({ id: pass.id, tag: pass.tag, type: "xdp", name: "xdp_pass_count" });
    expect(pass).toEqual({ id: pass.id, tag: shown.tag, type: ProgType.XDP, name: "xdp_pass_count" });
  });

  test("program(name) of an unknown function names the available ones", () => {
    obj = BpfObject.open(buildFixture("xdp_test"));
    expect(() => obj!.program("xdp_nope")).toThrow(/has no program "xdp_nope"; it has: .*xdp_pass_count.*devmap_acl|devmap_acl.*xdp_pass_count/);
    expect(() => obj!.map("nope")).toThrow(/has no map "nope"; it has: .*fdb/);
  });

  test("a verifier rejection throws KernelError carrying the verifier's complaint", () => {
    obj = BpfObject.open(buildFixture("verifier_reject"));
    const err = thrown(() => obj!.load());
    expect(err).toBeInstanceOf(KernelError);
    const k = err as KernelError;
    expect(k.code).toBe("EACCES");
    expect(k.message).toContain("bpf_object__load");
    expect(k.kernelMessage).toContain("invalid access to packet");
    expect(k.kernelMessage).toContain("xdp_unchecked_read");
    expect(k.kernelMessage!.length).toBeLessThanOrEqual(4003);
    // Like cilium/ebpf's VerifierError: the message ends with the verifier's last lines
    // (the reason), the whole log is kept beside it.
    expect(k.message.trimEnd().endsWith(k.kernelMessage!.trimEnd())).toBe(true);
    expect(k.log).toContain("invalid access to packet");
    expect(k.log!.length).toBeGreaterThan(k.kernelMessage!.length);
  });

  test("opening a missing file is ENOENT with libbpf's words", () => {
    const err = thrown(() => BpfObject.open("/nonexistent/hvt-x.o"));
    expect(err).toBeInstanceOf(KernelError);
    expect((err as KernelError).code).toBe("ENOENT");
    expect((err as KernelError).kernelMessage).toMatch(/failed to open/);
  });

  test("fromId opens a loaded program; closing the object frees programs nobody else holds", () => {
    obj = BpfObject.open(buildFixture("xdp_test"));
    obj.load();
    const id = obj.program("xdp_drop_count").info().id;
    const byId = BpfProgram.fromId(id);
    expect(byId.info()).toEqual(obj.program("xdp_drop_count").info());
    expect(byId.name).toBe("xdp_drop_count");
    expect(byId.section).toBe("");
    const first = obj.program("xdp_drop_count");
    const fdbOf = obj.map("fdb");
    expect(fdbOf.keySize).toBe(8);
    obj.close();
    obj = undefined;
    // Handles of a closed object never touch libbpf's freed memory: names stay, the rest refuses.
    expect(() => first.fd).toThrow(/closed/);
    expect(() => first.type).toThrow(/closed/);
    expect(first.name).toBe("xdp_drop_count");
    expect(() => fdbOf.lookup(Buffer.alloc(8))).toThrow(/closed/);
    expect(() => fdbOf.keySize).not.toThrow(); // metadata cached at first use after load
    expect(fdbOf.name).toBe("fdb");
    expect(bpftoolHas("prog", id)).toBe(true); // byId still holds it
    byId.close();
    expect(bpftoolHas("prog", id)).toBe(false);
  });

  test("program pin and fromPin; the pin keeps the program after every fd is closed", () => {
    obj = BpfObject.open(buildFixture("xdp_test"));
    obj.load();
    const prog = obj.program("xdp_swap_tx");
    const id = prog.info().id;
    const pin = join(fs!.root, "progs", "nested", "swap");
    prog.pin(pin);
    obj.close();
    obj = undefined;
    expect(bpftoolHas("prog", id)).toBe(true);
    const again = BpfProgram.fromPin(pin);
    others.push(again);
    expect(again.info().id).toBe(id);
    expect(thrown(() => BpfMap.fromPin(pin))).toMatchObject({ code: "EINVAL" });
    expect(thrown(() => BpfProgram.fromPin(join(fs!.root, "progs", "missing")))).toMatchObject({ code: "ENOENT" });
  });

  test("pinRoot: a LIBBPF_PIN_BY_NAME map is pinned there and reused by the next load", () => {
    const pinRoot = join(fs!.root, "objpins");
    // libbpf creates the missing directory itself (make_parent_dir in libbpf 1.1).
    const a = BpfObject.open(buildFixture("pinned_map"), { pinRoot });
    others.push(a);
    a.load();
    expect(existsSync(join(pinRoot, "shared_fdb"))).toBe(true);
    const idA = a.map("shared_fdb").info().id;
    a.map("shared_fdb").update(Buffer.from([0, 0, 0, 0]), Buffer.from([7, 0, 0, 0]));
    const b = BpfObject.open(buildFixture("pinned_map"), { pinRoot });
    others.push(b);
    b.load();
    expect(b.map("shared_fdb").info().id).toBe(idA);
    expect(b.map("shared_fdb").lookup(Buffer.from([0, 0, 0, 0]))).toEqual(Buffer.from([7, 0, 0, 0]));
  });

  test("ensureBpffs mounts once; isUnderBpffs judges paths that do not exist yet by their ancestor", () => {
    expect(isBpffs(fs!.root)).toBe(true);
    expect(mountsAt(fs!.root)).toBe(1);
    ensureBpffs(fs!.root);
    expect(mountsAt(fs!.root)).toBe(1);
    expect(isUnderBpffs(join(fs!.root, "a", "b", "c"))).toBe(true);
    expect(isUnderBpffs("/tmp/hvt-not-bpffs/x")).toBe(false);
  });
});
