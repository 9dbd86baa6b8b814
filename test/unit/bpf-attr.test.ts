// Encodings of the bpf(2) attrs the BPF layer builds by hand, byte for byte against the
// layouts of include/uapi/linux/bpf.h, plus the decoders and the log trimming. The netkit
// attach runs against a test double of the bpf(2) syscall: this kernel has no netkit.
import koffi from "koffi";
import {
  AttachFlags,
  AttachType,
  BpfCmd,
  MapType,
  XdpFlags,
  encodeLinkCreate,
  encodeMapCreate,
  encodeLinkDetach,
  encodeLinkUpdate,
  encodeObjGetInfo,
} from "../../provider/helper/kernel/bpf/internal/attr";
import { decodeLinkInfo, decodeMapInfo, decodeProgInfo } from "../../provider/helper/kernel/bpf/internal/info";
import { ObjectOpenOpts, TestRunOpts } from "../../provider/helper/kernel/bpf/internal/libbpf";
import { trimLibbpfLog } from "../../provider/helper/kernel/bpf/internal/log";
import { bpfSyscallNumber, useBpfSyscall } from "../../provider/helper/kernel/bpf/internal/syscall";
import { BpfLink, mprogPlacement } from "../../provider/helper/kernel/bpf/link";
import type { BpfProgram } from "../../provider/helper/kernel/bpf/prog";
import { xdpMd } from "../../provider/helper/kernel/bpf/prog";
import { decodeDevmapValue, encodeDevmapValue } from "../../provider/helper/kernel/bpf/devmap";
import { KernelError } from "../../provider/helper/kernel/errors";

/** Little-endian u32 words → bytes, to write expected attrs the way bpf.h lays them out. */
function words(...ws: number[]): Buffer {
  const b = Buffer.alloc(ws.length * 4);
  ws.forEach((w, i) => b.writeUInt32LE(w >>> 0, i * 4));
  return b;
}

describe("BPF_LINK_CREATE attr (union bpf_attr.link_create, bpf.h:1515)", () => {
  test("XDP native: prog_fd@0, target_ifindex@4, attach_type=BPF_XDP(37)@8, flags=XDP_FLAGS_DRV_MODE(4)@12", () => {
    const attr = encodeLinkCreate({ progFd: 9, targetIfindex: 0x1234, attachType: AttachType.XDP, flags: XdpFlags.DRV_MODE });
    expect(attr.toString("hex")).toBe("09000000" + "34120000" + "25000000" + "04000000");
  });

  test("XDP skb mode carries XDP_FLAGS_SKB_MODE (2) (if_link.h:1287)", () => {
    const attr = encodeLinkCreate({ progFd: 3, targetIfindex: 2, attachType: 37, flags: XdpFlags.SKB_MODE });
    expect(attr).toEqual(words(3, 2, 37, 2));
  });

  test("netkit peer, after a program id: netkit.relative_id@16, expected_revision@24 (upstream bpf.h link_create.netkit)", () => {
    const { flags, relative } = mprogPlacement({ position: "after", anchor: { programId: 77 } });
    expect(flags).toBe(AttachFlags.AFTER | AttachFlags.ID);
    const attr = encodeLinkCreate({
      progFd: 5,
      targetIfindex: 42,
      attachType: AttachType.NETKIT_PEER,
      flags,
      mprog: { relative, expectedRevision: 0x0102030405060708n },
    });
    expect(attr.length).toBe(32);
    expect(attr.toString("hex")).toBe(
      "05000000" + // prog_fd
        "2a000000" + // target_ifindex 42
        "37000000" + // attach_type BPF_NETKIT_PEER = 55
        "30000000" + // flags BPF_F_AFTER (1<<4) | BPF_F_ID (1<<5)
        "4d000000" + // relative_id 77
        "00000000" + // padding: expected_revision is 8-aligned
        "0807060504030201", // expected_revision, little-endian u64
    );
  });

  test("netkit primary, before a link fd: BPF_F_BEFORE|BPF_F_LINK, attach_type 54", () => {
    const { flags, relative } = mprogPlacement({ position: "before", anchor: { linkFd: 11 } });
    const attr = encodeLinkCreate({ progFd: 6, targetIfindex: 3, attachType: AttachType.NETKIT_PRIMARY, flags, mprog: { relative } });
    expect(attr).toEqual(Buffer.concat([words(6, 3, 54, (1 << 3) | (1 << 13), 11, 0), Buffer.alloc(8)]));
  });

  test("mprog placement: link id sets ID|LINK, head of chain is BEFORE with relative 0, anchor without position is refused", () => {
    expect(mprogPlacement({ position: "after", anchor: { linkId: 4 } })).toEqual({
      flags: AttachFlags.AFTER | AttachFlags.ID | AttachFlags.LINK,
      relative: 4,
    });
    expect(mprogPlacement({ position: "before" })).toEqual({ flags: AttachFlags.BEFORE, relative: 0 });
    expect(mprogPlacement({})).toEqual({ flags: 0, relative: 0 });
    expect(mprogPlacement({ position: "before", anchor: { programFd: 8 } })).toEqual({ flags: AttachFlags.BEFORE, relative: 8 });
    expect(() => mprogPlacement({ anchor: { programFd: 8 } })).toThrow(/position/);
  });

  test("refuses values that do not fit a u32", () => {
    expect(() => encodeLinkCreate({ progFd: -1, targetIfindex: 1, attachType: 37 })).toThrow(RangeError);
    expect(() => encodeLinkCreate({ progFd: 1, targetIfindex: 2 ** 32, attachType: 37 })).toThrow(RangeError);
  });
});

describe("BPF_LINK_UPDATE / LINK_DETACH / OBJ_GET_INFO_BY_FD attrs", () => {
  test("link_update without old program: flags 0 (bpf.h:1555-1562)", () => {
    expect(encodeLinkUpdate(12, 13)).toEqual(words(12, 13, 0, 0));
  });

  test("link_update with old program: BPF_F_REPLACE (4) and old_prog_fd@12", () => {
    expect(encodeLinkUpdate(12, 13, 14).toString("hex")).toBe("0c000000" + "0d000000" + "04000000" + "0e000000");
  });

  test("link_detach is the link fd alone (bpf.h:1565)", () => {
    expect(encodeLinkDetach(21)).toEqual(words(21));
  });

  test("obj_get_info_by_fd: bpf_fd@0, info_len@4, info pointer@8 (bpf.h:1467)", () => {
    const attr = encodeObjGetInfo(7, 232, 0x7f0011223344n);
    expect(attr.toString("hex")).toBe("07000000" + "e8000000" + "44332211007f0000");
  });

  test("command numbers follow enum bpf_cmd (bpf.h:882)", () => {
    expect(BpfCmd).toEqual({ MAP_CREATE: 0, OBJ_GET_INFO_BY_FD: 15, LINK_CREATE: 28, LINK_UPDATE: 29, LINK_DETACH: 34 });
  });
});

describe("info decoders", () => {
  test("bpf_prog_info: type@0 id@4 tag@8 name@64", () => {
    const b = Buffer.alloc(232);
    b.writeUInt32LE(6, 0);
    b.writeUInt32LE(991, 4);
    Buffer.from("0123456789abcdef", "hex").copy(b, 8);
    b.write("xdp_pass_count", 64);
    expect(decodeProgInfo(b)).toEqual({ type: 6, id: 991, tag: "0123456789abcdef", name: "xdp_pass_count" });
  });

  test("bpf_map_info: a 16-byte name without NUL is read whole", () => {
    const b = Buffer.alloc(88);
    [25, 3, 4, 8, 64, 0].forEach((v, i) => b.writeUInt32LE(v, i * 4));
    b.write("abcdefghijklmnop", 24);
    expect(decodeMapInfo(b)).toEqual({ type: 25, id: 3, keySize: 4, valueSize: 8, maxEntries: 64, flags: 0, name: "abcdefghijklmnop" });
  });

  test("bpf_link_info: xdp.ifindex and netkit {ifindex, attach_type} sit at offset 16", () => {
    const xdp = Buffer.alloc(48);
    [6, 10, 20, 0, 5].forEach((v, i) => xdp.writeUInt32LE(v, i * 4));
    expect(decodeLinkInfo(xdp)).toEqual({ type: 6, id: 10, progId: 20, xdp: { ifindex: 5 } });
    const nk = Buffer.alloc(48);
    [13, 11, 21, 0, 9, 55].forEach((v, i) => nk.writeUInt32LE(v, i * 4));
    expect(decodeLinkInfo(nk)).toEqual({ type: 13, id: 11, progId: 21, netkit: { ifindex: 9, attachType: 55 } });
  });
});

describe("small value encodings", () => {
  test("bpf_devmap_val: ifindex then program fd on write; id on read (bpf.h:6116)", () => {
    expect(encodeDevmapValue(7, 12)).toEqual(words(7, 12));
    expect(encodeDevmapValue(7)).toEqual(words(7, 0));
    expect(decodeDevmapValue(words(7, 345))).toEqual({ ifindex: 7, progId: 345 });
    expect(decodeDevmapValue(words(7, 0))).toEqual({ ifindex: 7 });
    expect(decodeDevmapValue(words(9))).toEqual({ ifindex: 9 });
  });

  test("xdp_md context: ingress_ifindex@12, rx_queue_index@16, 24 bytes", () => {
    expect(xdpMd(4, 2)).toEqual(words(0, 0, 0, 4, 2, 0));
  });

  test("libbpf 1.1 opts structs have the sizes libbpf checks in sz", () => {
    expect(koffi.sizeof(TestRunOpts)).toBe(80);
    expect(koffi.offsetof(TestRunOpts, "batch_size")).toBe(76);
    expect(koffi.sizeof(ObjectOpenOpts)).toBe(80);
    expect(koffi.offsetof(ObjectOpenOpts, "pin_root_path")).toBe(24);
    expect(koffi.offsetof(ObjectOpenOpts, "kernel_log_level")).toBe(72);
  });
});

describe("libbpf log trimming", () => {
  const verifier = Array.from({ length: 100 }, (_, i) => `${i}: (b7) r0 = ${i}`).join("\n");
  const log =
    "libbpf: prog 'p': BPF program load failed: Permission denied\n" +
    `libbpf: prog 'p': -- BEGIN PROG LOAD LOG --\n${verifier}\ninvalid access to packet\n-- END PROG LOAD LOG --\n` +
    "libbpf: failed to load object 'x.o'\n";

  test("keeps libbpf's lines and the tail of the verifier log, says how much was cut", () => {
    const t = trimLibbpfLog(log, 5);
    expect(t).toContain("BPF program load failed: Permission denied");
    expect(t).toContain("invalid access to packet");
    expect(t).toContain("99: (b7) r0 = 99");
    expect(t).not.toContain("50: (b7) r0 = 50");
    expect(t).toContain("(96 earlier verifier lines)");
    expect(t.trimEnd().endsWith("failed to load object 'x.o'")).toBe(true);
  });

  test("caps the total length from the end", () => {
    const t = trimLibbpfLog(log, 1000, 200);
    expect(t.length).toBeLessThanOrEqual(203);
    expect(t).toContain("failed to load object 'x.o'");
    expect(t.startsWith("...")).toBe(true);
  });
});

describe("netkit attach through bpf(2) (test double, not the kernel)", () => {
  const prog = { fd: 17, name: "nk_prog" } as unknown as BpfProgram;

  test("attachNetkit sends BPF_LINK_CREATE with the netkit arm and wraps the returned fd", () => {
    const calls: Array<{ cmd: number; attr: string }> = [];
    const restore = useBpfSyscall((cmd, attr) => {
      calls.push({ cmd, attr: attr.toString("hex") });
      return 123;
    });
    try {
      const link = BpfLink.attachNetkit(prog, 8, false, { position: "before", expectedRevision: 3 });
      expect(link.fd).toBe(123);
      // Not closing: fd 123 belongs to no one here.
    } finally {
      restore();
    }
    expect(calls).toEqual([
      {
        cmd: 28,
        attr: "11000000" + "08000000" + "36000000" + "08000000" + "00000000" + "00000000" + "0300000000000000",
      },
    ]);
  });

  test("a refusal from the kernel becomes a KernelError naming the hook", () => {
    const restore = useBpfSyscall(() => -22);
    try {
      let err: unknown;
      try {
        BpfLink.attachNetkit(prog, 8, true);
      } catch (e) {
        err = e;
      }
      expect(err).toBeInstanceOf(KernelError);
      expect((err as KernelError).code).toBe("EINVAL");
      expect((err as KernelError).message).toMatch(/BPF_LINK_CREATE \(netkit peer on ifindex 8, program nk_prog\) failed: EINVAL/);
    } finally {
      restore();
    }
  });
});

describe("bpf(2) on the architectures the deploy check accepts", () => {
  test("the syscall number is the architecture's own: 321 on x86_64, 280 on arm64", () => {
    expect(bpfSyscallNumber("x64")).toBe(321);
    expect(bpfSyscallNumber("arm64")).toBe(280);
  });

  test("an architecture without a known number is refused by name, not sent as ENOSYS", () => {
    expect(() => bpfSyscallNumber("riscv64")).toThrow("bpf(2): architecture riscv64 is not supported");
  });

  test("map_create is laid out as union bpf_attr says (the same on both)", () => {
    const attr = encodeMapCreate({ type: MapType.XSKMAP, keySize: 4, valueSize: 4, maxEntries: 8, name: "hn_xsks" });
    expect(attr.length).toBe(64);
    expect([0, 4, 8, 12].map((o) => attr.readUInt32LE(o))).toEqual([17, 4, 4, 8]);
    expect(attr.subarray(16, 28).every((b) => b === 0)).toBe(true);
    expect(attr.subarray(28, 44).toString("latin1")).toBe("hn_xsks\0\0\0\0\0\0\0\0\0");
    expect(() => encodeMapCreate({ type: 17, keySize: 4, valueSize: 4, maxEntries: 1, name: "sixteen_chars_xx" })).toThrow("longer than 15");
  });
});
